#!/usr/bin/env python3
"""The instant model and the scoring for scripts/bench-drafts.

    bench_drafts_measure.py model PORT_FILE LOG_FILE
        An OpenAI-compatible server on 127.0.0.1 (port written to PORT_FILE once listening). Every
        chat request gets a valid draft answer at once: {"needs_reply": true, "reason": "r",
        "body": "... Reference <request number in letters>."} (letters: tend's answer checks turn
        a figure that is not in the thread into a placeholder). Each request is logged to LOG_FILE
        as one JSON line: its number; the prompt size (characters of system + user, tokens
        estimated as characters / 4); the kind the prompt asks for ("Draft the reply to", or
        "Draft the follow-up to" with "Write follow-up number N"); the thread (the first
        "RFQ nnnnn" inside <thread>); and the trigger's date as the prompt names it ("the
        message from ... dated Tue 2026-11-24 14:02 UTC"); the characters of its parts (system
        prompt, <related> conversations, <thread>, the user's voice section). The largest prompt is kept whole in
        LOG_FILE.largest.txt, for a look at what fills it.
    bench_drafts_measure.py score THREADS_JSON TRUTH_JSON LOG_FILE DRY_RUN_STDOUT [SAMPLE_FILE]
        Reads the drafts `tend once --dry-run` printed (their body names the request), resolves
        each to (thread, kind, trigger Message-ID) through the request log and the generator's
        dates, compares with the truth and prints the table. SAMPLE_FILE gets the Message-IDs of
        a few missed and extra threads (for `tend explain`).
"""
import json
import re
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import os

BODY = "Thank you for your message. I will come back to you on this shortly. Reference {ref}."
RFQ = re.compile(r"RFQ (\d+)")
NUDGE = re.compile(r"Write follow-up number (\d+)")
TARGET = re.compile(r"Draft the (reply|follow-up) to .*? dated (\w{3} \d{4}-\d\d-\d\d \d\d:\d\d \S+?)\. Remember")
REF = re.compile(r"Reference ([a-j]+)\.")


def letters(n):
    return "".join("abcdefghij"[int(d)] for d in str(n))


def number(s):
    return int("".join(str("abcdefghij".index(c)) for c in s))


def section(text, start, end):
    """Characters from `start` to the `end` after it (0 when absent)."""
    a = text.find(start)
    b = text.find(end, a + 1) if a >= 0 else -1
    return b + len(end) - a if b >= 0 else 0


def model(port_file, log_file):
    lock = threading.Lock()
    log = open(log_file, "a", buffering=1)
    count, largest = [0], [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/").endswith("/models"):
                self.reply(200, {"object": "list", "data": [{"id": "instant", "object": "model"}]})
            else:
                self.reply(404, {"error": {"message": "not found"}})

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.endswith("/chat/completions"):
                return self.reply(404, {"error": {"message": "not found"}})
            req = json.loads(raw)
            text = {m.get("role"): m.get("content") or "" for m in req.get("messages", [])}
            system, user = text.get("system", ""), text.get("user", "")
            chars = len(system) + len(user)
            thread = user.split("<thread>", 1)[-1]
            rfq = RFQ.search(thread)
            target = TARGET.search(user)
            nudge = NUDGE.search(system)
            kind = None
            if target:
                kind = "reply" if target.group(1) == "reply" else f"followup {nudge.group(1) if nudge else '?'}"
            parts = {"system": len(system), "related": section(user, "<related>\n", "</related>\n"),
                     "thread": section(user, "<thread>\n", "</thread>\n"),
                     "voice": section(user, "The user's voice", "Draft the ")}
            with lock:
                count[0] += 1
                n = count[0]
                log.write(json.dumps({
                    "n": n, "chars": chars, "tokens": round(chars / 4), "parts": parts,
                    "thread": f"RFQ {rfq.group(1)}" if rfq else None,
                    "kind": kind,
                    "dated": target.group(2) if target else None}) + "\n")
                if chars > largest[0]:  # the largest prompt, whole, for a look at what fills it
                    largest[0] = chars
                    with open(log_file + ".largest.txt", "w") as f:
                        f.write(f"=== system\n{system}\n=== user\n{user}\n")
            content = json.dumps({"needs_reply": True, "reason": "r", "body": BODY.format(ref=letters(n))})
            self.reply(200, {
                "id": f"chatcmpl-{n}", "object": "chat.completion", "created": int(time.time()),
                "model": "instant",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": round(chars / 4), "completion_tokens": 20,
                          "total_tokens": round(chars / 4) + 20},
            })

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(port_file + ".tmp", "w") as fh:
        fh.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else 0


def score(threads_json, truth_json, log_file, stdout_file, sample_file=None):
    threads = json.load(open(threads_json))["threads"]
    everything = json.load(open(truth_json))
    truth = everything["drafts"]
    reqs = {}
    for line in open(log_file):
        r = json.loads(line)
        reqs[r["n"]] = r
    # (thread, prompt date) -> Message-ID, from the generator's record.
    by_date = {}
    for t in threads:
        for m in t["messages"]:
            d = datetime.fromtimestamp(m["date"], timezone.utc).strftime("%a %Y-%m-%d %H:%M UTC")
            by_date[(t["thread"], d)] = m["id"]
    proposed, unresolved, odd = {}, 0, 0
    for block in open(stdout_file).read().split("--- draft for ")[1:]:
        ref = REF.search(block)
        r = reqs.get(number(ref.group(1))) if ref else None
        trigger = r and by_date.get((r["thread"], r["dated"]))
        if not trigger:
            unresolved += 1
            continue
        subject = re.search(r"^Subject: .*?(RFQ \d+)", block, re.M)
        if not subject or subject.group(1) != r["thread"]:
            odd += 1  # the draft's subject names another thread than its prompt did
        proposed[r["thread"]] = {"kind": r["kind"], "trigger": trigger}
    rows = []
    samples = []
    for kind, label in (("reply", "reply drafts"), ("followup", "follow-up drafts")):
        # A follow-up matches only with the right number ("follow-up 2" after one already sent).
        want = {t: (v["trigger"], v["kind"]) for t, v in truth.items() if v["kind"].startswith(kind)}
        got = {t: (v["trigger"], v["kind"]) for t, v in proposed.items() if (v["kind"] or "").startswith(kind)}
        hit = sum(1 for t, v in got.items() if want.get(t) == v)
        rows.append((label, len(want), len(got), hit,
                     hit / len(want) if want else 1.0, hit / len(got) if got else 1.0))
        for t in sorted(want):
            if got.get(t) != want[t]:
                samples.append(("missed", want[t][1], t, want[t][0]))
        for t in sorted(got):
            if want.get(t) != got[t]:
                samples.append(("extra", got[t][1], t, got[t][0]))
    print(f"{'':18} {'truth':>6} {'proposed':>9} {'matched':>8} {'recall':>7} {'precision':>10}")
    for label, n, m, k, rec, prec in rows:
        print(f"{label:18} {n:6d} {m:9d} {k:8d} {rec:7.1%} {prec:10.1%}")
    if unresolved:
        print(f"({unresolved} printed drafts could not be traced to a request: counted nowhere)")
    if odd:
        print(f"({odd} drafts carry another thread's subject than their prompt's thread)")
    print("\nthe truth, thread by thread:")
    for category, n in sorted(everything["why"].items()):
        print(f"  {n:5d}  {category}")
    chars = [r["chars"] for r in reqs.values()]
    tokens = [r["tokens"] for r in reqs.values()]
    print(f"\nprompt size over {len(chars)} model requests (system + user; tokens = characters / 4):")
    print(f"{'':18} {'p50':>8} {'p95':>8} {'max':>8}")
    print(f"{'characters':18} {pct(chars, 50):8d} {pct(chars, 95):8d} {max(chars, default=0):8d}")
    print(f"{'tokens (est.)':18} {pct(tokens, 50):8d} {pct(tokens, 95):8d} {max(tokens, default=0):8d}")
    print("of which (characters):")
    for part in ("system", "related", "thread", "voice"):
        v = [r["parts"][part] for r in reqs.values()]
        print(f"  {part:16} {pct(v, 50):8d} {pct(v, 95):8d} {max(v, default=0):8d}")
    if sample_file:
        with open(sample_file, "w") as f:
            for s in samples:
                f.write("\t".join(s) + "\n")
    return 0


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "model":
        return model(sys.argv[2], sys.argv[3])
    if len(sys.argv) >= 6 and sys.argv[1] == "score":
        return score(*sys.argv[2:7])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
