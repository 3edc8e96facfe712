#!/usr/bin/env python3
"""The measurements behind scripts/bench (see there). Subcommands:

    bench_measure.py warm    PORT USER PASSWORD MAILDIR    SELECT each folder once, read the files once
    bench_measure.py full    PORT USER PASSWORD            imaplib, one connection, UID FETCH 1:* BODY.PEEK[]
    bench_measure.py chunked PORT USER PASSWORD [CHUNK]    the same in UID ranges of CHUNK (1,000)
    bench_measure.py run     OUT_JSON -- CMD...            wall time, CPU time and peak RSS of one command
    bench_measure.py startup OUT_JSON TIMEOUT -- CMD...    `tend run` until its log says it idles, then
                                                           its RSS while idling; then SIGTERM
    bench_measure.py median  OUT_JSON IN_JSON...          copy the IN of median wall time to OUT
    bench_measure.py table   RESULTS_DIR                   the result tables and the goals of issue 9

`full` and `chunked` print one JSON object; `run` and `startup` write theirs to OUT_JSON. The
fetches keep no body: each message is counted and dropped as it arrives (see `Counting`).
"""
import imaplib
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time

FOLDERS = ["INBOX", "Sent"]


class Counting(imaplib.IMAP4):
    """imaplib that counts the FETCH literals (message bodies) as they arrive and drops them,
    so neither fetch holds the mailbox: its memory stays flat like mbsync's and tend's."""

    messages = 0
    bytes = 0

    def _append_untagged(self, typ, dat):
        if typ == "FETCH":
            if isinstance(dat, tuple):
                self.messages += 1
                self.bytes += len(dat[1])
            return
        super()._append_untagged(typ, dat)


def login(port, user, password):
    c = Counting("127.0.0.1", int(port))
    c.login(user, password)
    return c


def select(c, folder):
    typ, data = c.select(folder, readonly=True)
    if typ != "OK":
        sys.exit(f"SELECT {folder}: {data}")
    return int(data[0])


def warm(port, user, password, maildir):
    t0 = time.perf_counter()
    c = login(port, user, password)
    counts = {f: select(c, f) for f in FOLDERS}
    c.logout()
    # Same page cache for every side: read every message file once.
    for dirpath, _, files in os.walk(maildir):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as fh:
                while fh.read(1 << 20):
                    pass
    print(json.dumps({"counts": counts, "seconds": time.perf_counter() - t0}))


def fetch(port, user, password, chunk):
    t0 = time.perf_counter()
    c = login(port, user, password)
    for f in FOLDERS:
        exists = select(c, f)
        if not exists:
            continue
        typ, data = c.uid("SEARCH", None, "ALL") if chunk else ("OK", None)
        if chunk:
            uids = [int(u) for u in data[0].split()]
            ranges = [(uids[i], uids[min(i + chunk, len(uids)) - 1]) for i in range(0, len(uids), chunk)]
        else:
            ranges = [("1", "*")]
        for lo, hi in ranges:
            typ, data = c.uid("FETCH", f"{lo}:{hi}", "(BODY.PEEK[])")
            if typ != "OK":
                sys.exit(f"FETCH {f}: {data}")
    messages, nbytes = c.messages, c.bytes
    c.logout()
    secs = time.perf_counter() - t0
    print(json.dumps({"messages": messages, "bytes": nbytes, "seconds": secs,
                      "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


GNU_TIME = "/usr/bin/time"


def run(out, cmd):
    # Peak RSS: GNU time's %M. RUSAGE_CHILDREN alone is floored at this Python's own RSS
    # (~16 MB): Linux records the pre-exec memory's high-water mark in the child's maxrss.
    rss_file = out + ".rss"
    wrapped = [GNU_TIME, "-f", "%M %U %S", "-o", rss_file] + cmd if os.access(GNU_TIME, os.X_OK) else cmd
    t0 = time.perf_counter()
    p = subprocess.run(wrapped, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    secs = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    max_rss, cpu = usage.ru_maxrss, None
    if wrapped is not cmd:
        try:
            rss, user, system = open(rss_file).read().strip().splitlines()[-1].split()
            max_rss, cpu = int(rss), float(user) + float(system)
        except (OSError, ValueError, IndexError):
            pass
    stdout = p.stdout.decode(errors="replace")
    res = {"rc": p.returncode, "seconds": secs, "max_rss_kib": max_rss, "cpu_seconds": cpu,
           # `tend once --dry-run` prints each draft it would write.
           "drafts": stdout.count("--- draft for "),
           "stdout_tail": stdout[-2000:], "stderr_tail": p.stderr.decode(errors="replace")[-2000:]}
    with open(out, "w") as fh:
        json.dump(res, fh)
    if p.returncode != 0:
        sys.stderr.write(res["stdout_tail"] + res["stderr_tail"])
        sys.exit(f"command failed with exit {p.returncode}: {' '.join(cmd)}")


IDLE_LINE = "waiting on IDLE"


def status_kib(pid, field):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def startup(out, timeout, cmd):
    """Start `tend run` (RUST_LOG must let daemon::mailbox's debug line through), time until
    its log says it waits on IDLE, let it idle 3 s, read its RSS, stop it."""
    env = dict(os.environ)
    env["RUST_LOG"] = "info,tend::daemon=debug"
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    idle_at = None
    tail = []
    deadline = t0 + float(timeout)
    os.set_blocking(p.stderr.fileno(), True)
    # A reader thread keeps the pipe drained after the idle line too.
    import threading
    seen = threading.Event()

    def reader():
        nonlocal idle_at
        for raw in p.stderr:
            line = raw.decode(errors="replace")
            tail.append(line)
            del tail[:-40]
            if idle_at is None and IDLE_LINE in line:
                idle_at = time.perf_counter()
                seen.set()

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    while not seen.wait(0.05):
        if p.poll() is not None or time.perf_counter() > deadline:
            break
    res = {"seconds": None if idle_at is None else idle_at - t0, "idle_rss_kib": None, "peak_rss_kib": None}
    if idle_at is not None:
        time.sleep(3)
        res["idle_rss_kib"] = status_kib(p.pid, "VmRSS")
        res["peak_rss_kib"] = status_kib(p.pid, "VmHWM")
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    th.join(5)
    res["rc"] = p.returncode
    res["log_tail"] = "".join(tail)[-3000:]
    res["timeout"] = float(timeout)
    with open(out, "w") as fh:
        json.dump(res, fh)
    if idle_at is None:
        # Recorded as "not within TIMEOUT" in the table; the rest of the suite still runs.
        sys.stderr.write(res["log_tail"][-1500:])
        print(f"tend run never said {IDLE_LINE!r} within {timeout} s", file=sys.stderr)


def median(out, paths):
    """The round of median wall time (the lower middle of an even count), with every round's
    wall time beside it, so the table can say how much the rounds spread."""
    runs = []
    for p in paths:
        with open(p) as fh:
            runs.append(json.load(fh))
    runs.sort(key=lambda r: r["seconds"])
    pick = dict(runs[(len(runs) - 1) // 2])
    pick["rounds"] = [r["seconds"] for r in runs]
    with open(out, "w") as fh:
        json.dump(pick, fh)


# --- the tables -------------------------------------------------------------------------------

def load(d, name):
    try:
        with open(os.path.join(d, name + ".json")) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def mb(kib):
    return f"{kib / 1024:.0f} MB" if kib is not None else "-"


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def table(results):
    sizes = sorted((int(s) for s in os.listdir(results) if s.isdigit()))
    rows = {}
    for n in sizes:
        d = os.path.join(results, str(n))
        r = {k: load(d, k) for k in ("mailbox", "full", "chunked", "mbsync", "first", "store", "dryrun",
                                     "startup", "restart", "link_chunked", "link_first", "report",
                                     "report_check")}
        r["repeats"] = [x for x in (load(d, f"repeat{i}") for i in range(1, 10)) if x]
        rows[n] = r

    def rate(r, key):
        x = r.get(key)
        return r["mailbox"]["messages"] / x["seconds"] if x and r.get("mailbox") else None

    print("First sync from empty, loopback Dovecot (INBOX + Sent); x = tend's speed / the other's;")
    print("CPU = user + system seconds of the process (steadier than wall time on a busy machine)")
    head = (f"{'messages':>9} {'MB':>6} | {'raw full':>8} {'chunked':>8} {'mbsync':>8} {'tend':>8} | "
            f"{'tend msg/s':>10} {'vs mbsync':>9} {'vs full':>8} {'vs chunk':>8} | {'CPU tend':>8} {'mbsync':>7} | "
            f"{'tend RSS':>8} {'mbsync':>7} {'store/mail':>14}")
    print(head)
    print("-" * len(head))
    for n, r in rows.items():
        m = r["mailbox"] or {}
        sec = lambda k: f"{r[k]['seconds']:7.2f}s" if r.get(k) else f"{'-':>8}"
        cpu = lambda k: f"{r[k]['cpu_seconds']:.2f}s" if r.get(k) and r[k].get("cpu_seconds") is not None else "-"
        store = r.get("store")
        pct = f"{store['kib'] / 1024:.0f} MB {100 * store['kib'] * 1024 / m['bytes']:.0f}%" if store and m else "-"
        print(f"{n:9,} {m.get('bytes', 0) / 1e6:6.0f} | {sec('full')} {sec('chunked')} {sec('mbsync')} {sec('first')} | "
              f"{(rate(r, 'first') or 0):10,.0f} {ratio(rate(r, 'first'), rate(r, 'mbsync')):>9} "
              f"{ratio(rate(r, 'first'), rate(r, 'full')):>8} {ratio(rate(r, 'first'), rate(r, 'chunked')):>8} | "
              f"{cpu('first'):>8} {cpu('mbsync'):>7} | "
              f"{mb(r['first']['max_rss_kib'] if r.get('first') else None):>8} "
              f"{mb(r['mbsync']['max_rss_kib'] if r.get('mbsync') else None):>7} {pct:>14}")

    spread = [(n, k, r[k]["rounds"]) for n, r in rows.items() for k in ("full", "chunked", "mbsync", "first")
              if r.get(k) and len(r[k].get("rounds", [])) > 1]
    if spread:
        print("Each figure above is the median round; the rounds' wall times ranged:")
        for n, k, times in spread:
            print(f"  {n:9,} {k:8} {min(times):7.2f}-{max(times):.2f} s over {len(times)}")

    print("\nThrough a link with 20 ms of added round trip (bench_proxy.py, 10 ms each way, no bandwidth limit)")
    print(f"{'messages':>9} | {'raw chunked':>11} {'tend sync':>10} {'tend vs raw':>11}")
    for n, r in rows.items():
        a, b = r.get("link_chunked"), r.get("link_first")
        print(f"{n:9,} | {(a['seconds'] if a else 0):10.2f}s {(b['seconds'] if b else 0):9.2f}s "
              f"{ratio(a and a['seconds'], b and b['seconds']):>11}")

    print("\nPasses over the synced store (instant model: bench_model.py). tend/draft: wall less the model's")
    print("serving time, over the drafts; CPU: tend's user + system time of the whole pass")
    print(f"{'messages':>9} | {'no-change pass (median of 5)':>28} | {'once --dry-run':>14} {'drafts':>6} {'tend/draft':>10} "
          f"{'CPU':>23} | {'start to IDLE':>13} {'idle RSS':>8} | {'restart':>10} {'idle RSS':>8}")
    nochange = {}
    for n, r in rows.items():
        reps = r["repeats"]
        if reps:
            times = [x["seconds"] * 1000 for x in reps]
            nochange[n] = statistics.median(times)
            nc = f"{nochange[n]:6.0f} ms ({min(times):.0f}-{max(times):.0f})"
        else:
            nc = "-"
        dr = r.get("dryrun")
        per = None
        if dr and dr["drafts"]:
            per = (dr["seconds"] - dr.get("model_seconds", 0)) / dr["drafts"] * 1000
        st = r.get("startup")
        cpu = f"{dr['cpu_seconds']:.2f}s" if dr and dr.get("cpu_seconds") is not None else "-"
        if dr and dr.get("cpu_seconds") is not None and dr["drafts"]:
            cpu += f" ({dr['cpu_seconds'] / dr['drafts'] * 1000:.1f} ms/draft)"
        per_s = f"{per:.1f} ms" if per is not None else "-"
        start = "-"
        if st and st.get("seconds") is not None:
            start = f"{st['seconds']:.2f} s"
        elif st:
            start = f"> {st.get('timeout', 0):.0f} s"
        wall = f"{dr['seconds']:.2f}s" if dr else "-"
        rs = r.get("restart")
        restart = "-"
        if rs and rs.get("seconds") is not None:
            restart = f"{rs['seconds']:.2f} s"
        elif rs:
            restart = f"> {rs.get('timeout', 0):.0f} s"
        print(f"{n:9,} | {nc:>28} | {wall:>14} {(dr['drafts'] if dr else '-'):>6} "
              f"{per_s:>10} {cpu:>23} | {start:>13} {mb(st.get('idle_rss_kib') if st else None):>8} "
              f"| {restart:>10} {mb(rs.get('idle_rss_kib') if rs else None):>8}")
        if dr:
            r["per_draft_ms"] = per

    print("\n`tend report --json --since 800d` over the synced store; its p50 of our response latency beside")
    print("the same figure computed from the raw Maildir by scripts/report_check.py (not tend's code)")
    print(f"{'messages':>9} | {'report':>8} {'CPU':>7} {'peak RSS':>8} {'vs raw full':>11} | "
          f"{'answered':>8} {'p50 tend':>9} {'p50 apart':>9} {'p90 tend':>9} {'p90 apart':>9}")
    for n, r in rows.items():
        rp, ck = r.get("report"), r.get("report_check") or {}
        t, a = ck.get("tend", {}), ck.get("independent", {})
        fmt = lambda v: "-" if v is None else f"{v / 3600:.1f} h"
        print(f"{n:9,} | {(rp['seconds'] if rp else 0):7.2f}s "
              f"{(rp.get('cpu_seconds') or 0 if rp else 0):6.2f}s {mb(rp['max_rss_kib'] if rp else None):>8} "
              f"{ratio(r.get('full') and r['full']['seconds'], rp and rp['seconds']):>11} | "
              f"{str(t.get('answered', '-')) + '/' + str(a.get('answered', '-')):>8} "
              f"{fmt(t.get('p50_seconds')):>9} {fmt(a.get('p50_seconds')):>9} "
              f"{fmt(t.get('p90_seconds')):>9} {fmt(a.get('p90_seconds')):>9}")

    # --- goals of issue 9 -------------------------------------------------------------------
    print("\nGoals of issue 9 (each judged on this run; 'not run' where its size was not in SIZES)")
    goals = []

    def goal(text, ok, detail):
        mark = {None: "not run", "open": "unknown", True: "met", False: "NOT met"}[ok]
        goals.append((mark, text, detail))

    for n in (50000, 200000):
        r = rows.get(n)
        if not r or not r.get("first"):
            goal(f"first sync {n:,}: >= 2x mbsync and >= 1.0x raw full fetch", None, "")
            continue
        vm = rate(r, "first") / rate(r, "mbsync") if r.get("mbsync") else None
        vf = rate(r, "first") / rate(r, "full") if r.get("full") else None
        goal(f"first sync {n:,}: >= 2x mbsync and >= 1.0x raw full fetch",
             vm is not None and vf is not None and vm >= 2 and vf >= 1,
             f"{vm or 0:.2f}x mbsync, {vf or 0:.2f}x raw full")
    for n in (10000, 50000, 200000):
        r = rows.get(n)
        f = r and r.get("first")
        goal(f"peak RSS of the first sync {n:,} <= 64 MB", None if not f else f["max_rss_kib"] <= 64 * 1024,
             mb(f["max_rss_kib"]) if f else "")
    st = rows.get(200000, {}).get("startup")
    goal("tend run idling on a synced 200,000 <= 32 MB",
         None if not st or st.get("idle_rss_kib") is None else st["idle_rss_kib"] <= 32 * 1024,
         mb(st.get("idle_rss_kib")) if st else "")
    for n in sizes:
        r = rows[n]
        if r.get("store") and r.get("mailbox"):
            pct = 100 * r["store"]["kib"] * 1024 / r["mailbox"]["bytes"]
            goal(f"store {n:,} <= 15% of the mailbox's bytes", pct <= 15, f"{pct:.0f}%")
    small = min(nochange) if nochange else None
    if 200000 in nochange and small is not None and small < 200000:
        q = nochange[200000] / nochange[small]
        goal(f"no-change pass 200,000 <= 1.5x one over {small:,}", q <= 1.5,
             f"{q:.2f}x ({nochange[200000]:.0f} vs {nochange[small]:.0f} ms)")
    else:
        goal("no-change pass 200,000 <= 1.5x one over the smallest size", None, "")
    dr = rows.get(200000, {}).get("dryrun")
    goal("decision sweep over every thread of 200,000 < 1 s of CPU (bound: CPU of all of `once --dry-run`)",
         None if not dr or dr.get("cpu_seconds") is None else (True if dr["cpu_seconds"] < 1 else "open"),
         f"{dr['cpu_seconds']:.2f} s CPU for the whole pass" if dr and dr.get("cpu_seconds") is not None else "")
    r50 = rows.get(50000, {})
    per = r50.get("per_draft_ms")
    goal("`tend once --dry-run` over 50,000: tend's own time <= 5 ms per draft",
         None if per is None else per <= 5, f"{per:.1f} ms" if per is not None else "")
    st = rows.get(200000, {}).get("restart") or rows.get(200000, {}).get("startup")
    goal("start-up of a synced 200,000 to its first IDLE < 1 s (a restart: nothing left to draft)",
         None if not st else st.get("seconds") is not None and st["seconds"] < 1,
         "" if not st else f"{st['seconds']:.2f} s" if st.get("seconds") is not None
         else f"not idle within {st.get('timeout', 0):.0f} s")
    for n in sizes:
        a, b = rows[n].get("link_chunked"), rows[n].get("link_first")
        if a and b:
            q = a["seconds"] / b["seconds"]
            goal(f"through the 20 ms link, {n:,}: tend's first sync >= 0.8x the raw chunked fetch", q >= 0.8, f"{q:.2f}x")
    for mark, text, detail in goals:
        print(f"  [{mark:^7}] {text}{': ' + detail if detail else ''}")
    print("  ('unknown': the sweep is timed only as part of the whole pass; over 1 s of CPU there does not")
    print(f"  show the sweep alone over it.) Sizes run: {', '.join(f'{n:,}' for n in sizes)}")


def main():
    a = sys.argv[1:]
    cmd = a[0] if a else ""
    if cmd == "warm" and len(a) == 5:
        warm(*a[1:])
    elif cmd in ("full", "baseline") and len(a) == 4:
        fetch(*a[1:], chunk=0)
    elif cmd == "chunked" and len(a) in (4, 5):
        fetch(*a[1:4], chunk=int(a[4]) if len(a) == 5 else 1000)
    elif cmd == "run" and len(a) > 3 and a[2] == "--":
        run(a[1], a[3:])
    elif cmd == "startup" and len(a) > 4 and a[3] == "--":
        startup(a[1], a[2], a[4:])
    elif cmd == "median" and len(a) >= 3:
        median(a[1], a[2:])
    elif cmd == "table" and len(a) == 2:
        table(a[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
