#!/usr/bin/env python3
"""The measurements behind scripts/bench (see there). Subcommands:

    bench_measure.py warm     PORT USER PASSWORD MAILDIR   SELECT each folder once, read the files once
    bench_measure.py baseline PORT USER PASSWORD           imaplib, one connection, UID FETCH 1:* BODY.PEEK[]
    bench_measure.py run      OUT_JSON -- CMD...           wall time and peak RSS of one command
    bench_measure.py table    BASELINE_JSON FIRST_JSON REPEAT_JSON...   print the result table

Every subcommand but `table` prints one JSON object (or writes it to OUT_JSON).
"""
import imaplib
import json
import os
import resource
import statistics
import subprocess
import sys
import time

FOLDERS = ["INBOX", "Sent"]


def warm(port, user, password, maildir):
    t0 = time.perf_counter()
    c = imaplib.IMAP4("127.0.0.1", int(port))
    c.login(user, password)
    counts = {}
    for f in FOLDERS:
        typ, data = c.select(f, readonly=True)
        if typ != "OK":
            sys.exit(f"SELECT {f}: {data}")
        counts[f] = int(data[0])
    c.logout()
    # Same page cache for both sides: read every message file once.
    for dirpath, _, files in os.walk(maildir):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as fh:
                while fh.read(1 << 20):
                    pass
    print(json.dumps({"counts": counts, "seconds": time.perf_counter() - t0}))


def baseline(port, user, password):
    t0 = time.perf_counter()
    c = imaplib.IMAP4("127.0.0.1", int(port))
    c.login(user, password)
    messages = 0
    nbytes = 0
    for f in FOLDERS:
        typ, data = c.select(f, readonly=True)
        if typ != "OK":
            sys.exit(f"SELECT {f}: {data}")
        typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
        if typ != "OK":
            sys.exit(f"FETCH {f}: {data}")
        for item in data:
            if isinstance(item, tuple):
                messages += 1
                nbytes += len(item[1])
    c.logout()
    secs = time.perf_counter() - t0
    print(json.dumps({"messages": messages, "bytes": nbytes, "seconds": secs,
                      "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


GNU_TIME = "/usr/bin/time"


def run(out, cmd):
    # Peak RSS: GNU time's %M when present. RUSAGE_CHILDREN alone is floored at this Python's own
    # RSS (~16 MB): Linux records the pre-exec memory's high-water mark in the child's maxrss.
    rss_file = out + ".rss"
    wrapped = [GNU_TIME, "-f", "%M", "-o", rss_file] + cmd if os.access(GNU_TIME, os.X_OK) else cmd
    t0 = time.perf_counter()
    p = subprocess.run(wrapped, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    secs = time.perf_counter() - t0
    max_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if wrapped is not cmd:
        try:
            max_rss = int(open(rss_file).read().strip().splitlines()[-1])
        except (OSError, ValueError, IndexError):
            pass
    res = {"rc": p.returncode, "seconds": secs, "max_rss_kib": max_rss,
           "stdout_tail": p.stdout.decode(errors="replace")[-2000:],
           "stderr_tail": p.stderr.decode(errors="replace")[-2000:]}
    with open(out, "w") as fh:
        json.dump(res, fh)
    if p.returncode != 0:
        sys.stderr.write(res["stdout_tail"] + res["stderr_tail"])
        sys.exit(f"command failed with exit {p.returncode}: {' '.join(cmd)}")


def table(baseline_path, first_path, repeat_paths):
    b = json.load(open(baseline_path))
    f = json.load(open(first_path))
    reps = [json.load(open(p)) for p in repeat_paths]
    n = b["messages"]
    rows = [
        ("baseline: imaplib UID FETCH 1:* BODY.PEEK[]", b["seconds"], n / b["seconds"], b["max_rss_kib"]),
        ("tend sync, empty state (release)", f["seconds"], n / f["seconds"], f["max_rss_kib"]),
    ]
    print(f"{n} messages, {b['bytes'] / 1e6:.1f} MB in INBOX + Sent\n")
    print(f"{'':46} {'wall s':>8} {'msg/s':>8} {'peak RSS':>10}")
    for name, s, rate, rss in rows:
        print(f"{name:46} {s:8.2f} {rate:8.0f} {rss / 1024:7.1f} MB")
    print(f"{'ratio tend / baseline (wall time)':46} {f['seconds'] / b['seconds']:8.2f}x")
    times = [r["seconds"] * 1000 for r in reps]
    print(f"\ntend sync, nothing new: median {statistics.median(times):.0f} ms of {len(times)} "
          f"(min {min(times):.0f}, max {max(times):.0f}); peak RSS {max(r['max_rss_kib'] for r in reps) / 1024:.1f} MB")


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "warm" and len(sys.argv) == 6:
        warm(*sys.argv[2:])
    elif cmd == "baseline" and len(sys.argv) == 5:
        baseline(*sys.argv[2:])
    elif cmd == "run" and len(sys.argv) > 4 and sys.argv[3] == "--":
        run(sys.argv[2], sys.argv[4:])
    elif cmd == "table" and len(sys.argv) >= 5:
        table(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
