#!/usr/bin/env python3
"""The pieces of scripts/bench-latency (see there). Subcommands:

    bench_latency.py model    PORT_FILE LOG_FILE                 instant OpenAI-compatible model server
    bench_latency.py seed     PORT USER PASSWORD N RUN           N threads: our first message, in Sent
    bench_latency.py baseline PORT USER PASSWORD N RUN OUT_JSON  the floor: own APPEND seen in INBOX
    bench_latency.py replies  PORT USER PASSWORD N RUN OUT_JSON TIMEOUT GAP
                                                                 buyer reply APPENDed -> draft seen
    bench_latency.py table    PORT USER PASSWORD N BASELINE_JSON REPLIES_JSON MODEL_LOG POLL GAP
                                                                 counts drafts, prints the result table

One measuring client, two connections: one APPENDs, the other polls (NOOP, then UID SEARCH HEADER,
every POLL_EVERY seconds) until the message it waits for is there. The baseline and tend's figures
use the same client and the same polling, so the baseline is the floor of the method itself.
"""
import email.utils
import imaplib
import json
import os
import random
import re
import socket
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OURS = "Alice Seller <alice@acme.test>"
COLLEAGUE = "Carol Colleague <carol@acme.test>"
POLL_EVERY = 0.005
ANSWER = {"needs_reply": True, "reason": "asked a question", "body": "Thanks, here is the answer."}
TOKEN = re.compile(r"bench-reply-(\d+)")


def buyer(i):
    return f"Buyer {i:02d} <buyer{i:02d}@buyer{i:02d}.example>"


def sent_id(i, run):
    return f"sent.{i}.{run}@acme.test"


def reply_id(i, run):
    return f"reply.{i}.{run}@buyer{i:02d}.example"


def message(mid, sender, to, subject, date, body, parent=None):
    head = [
        f"Message-ID: <{mid}>",
        f"Date: {email.utils.format_datetime(date)}",
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if parent:
        head += [f"In-Reply-To: <{parent}>", f"References: <{parent}>"]
    return ("\r\n".join(head) + "\r\n\r\n" + body + "\r\n").encode()


def connect(port, user, password):
    c = imaplib.IMAP4("127.0.0.1", int(port))
    c.login(user, password)
    return c


def ok(typ, data, what):
    if typ != "OK":
        sys.exit(f"bench-latency: {what}: {typ} {data}")
    return data


def append(c, folder, raw, when=None):
    date = imaplib.Time2Internaldate(when.timestamp()) if when else None
    ok(*c.append(folder, "(\\Seen)" if folder != "INBOX" else None, date, raw), f"APPEND to {folder}")


def wait_for(poller, header, mid, timeout):
    """Poll the selected folder until a message whose `header` contains <mid> is there; returns
    (perf_counter when seen, UIDs found) or None after `timeout` seconds."""
    deadline = time.perf_counter() + timeout
    while True:
        ok(*poller.noop(), "NOOP")
        data = ok(*poller.uid("SEARCH", "HEADER", header, f'"<{mid}>"'), "UID SEARCH")
        if data and data[0]:
            return time.perf_counter(), data[0].split()
        if time.perf_counter() > deadline:
            return None
        time.sleep(POLL_EVERY)


# --- the model server -----------------------------------------------------------------------

def model(port_file, log_file):
    lock = threading.Lock()
    log = open(log_file, "a", buffering=1)
    content = json.dumps(ANSWER)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real local server would

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
            t = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.endswith("/chat/completions"):
                return self.reply(404, {"error": {"message": "not found"}})
            m = TOKEN.search(body.decode(errors="replace"))
            with lock:
                log.write(json.dumps({"t": t, "reply": int(m.group(1)) if m else None}) + "\n")
            self.reply(200, {
                "id": "chatcmpl-bench", "object": "chat.completion", "created": int(t), "model": "instant",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            })

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = port_file + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(str(server.server_address[1]))
    os.rename(tmp, port_file)
    server.serve_forever()


# --- the mail -------------------------------------------------------------------------------

def seed(port, user, password, n, run):
    c = connect(port, user, password)
    now = datetime.now(timezone.utc)
    for i in range(int(n)):
        when = now - timedelta(days=3, minutes=7 * i)
        raw = message(sent_id(i, run), OURS, buyer(i), f"Acme Analytics for Buyer {i:02d}", when,
                      f"Hi Buyer {i:02d},\n\ngreat to meet you. Here is our proposal.\n\nAlice")
        append(c, "Sent", raw, when)
    c.logout()
    print(f"seeded Sent with {n} threads")


class IdleClient:
    """Just enough IMAP to wait in IDLE on INBOX (imaplib has no IDLE before Python 3.14)."""

    def __init__(self, port, user, password):
        self.sock = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")
        self.line()  # the greeting
        self.command(f'LOGIN "{user}" "{password}"')
        self.command("SELECT INBOX")

    def line(self):
        raw = self.file.readline()
        if not raw:
            sys.exit("bench-latency: the IDLE connection was closed")
        return raw.decode(errors="replace")

    def until(self, prefix):
        while True:
            line = self.line()
            if line.startswith(prefix):
                return line

    def command(self, cmd):
        self.sock.sendall(f"t {cmd}\r\n".encode())
        line = self.until("t ")
        if not line.startswith("t OK"):
            sys.exit(f"bench-latency: {cmd.split()[0]}: {line.strip()}")

    def idle(self):
        self.sock.sendall(b"i IDLE\r\n")
        self.until("+")

    def wait_exists(self, timeout):
        """perf_counter when the server announces a new message, or None after `timeout`."""
        self.sock.settimeout(timeout)
        try:
            while not re.match(r"\* \d+ EXISTS", self.line()):
                pass
            return time.perf_counter()
        except socket.timeout:
            return None
        finally:
            self.sock.settimeout(10)

    def done(self):
        self.sock.sendall(b"DONE\r\n")
        self.until("i ")


def note(mid, i):
    """A colleague's note: no buyer, nothing for tend to draft."""
    return message(mid, COLLEAGUE, OURS, f"Note {i}", datetime.now(timezone.utc),
                   "Lunch is at noon. No need to answer.")


def baseline(port, user, password, n, run, out):
    """Two floors, before tend starts: (1) the measuring client sees its own note in INBOX by
    the polling it uses on Drafts; (2) an IDLE on INBOX announces it (any IDLE client's floor:
    Dovecot delays IDLE notifications, 500 ms in 2.3's lib-storage/mailbox-watch.c)."""
    appender = connect(port, user, password)
    poller = connect(port, user, password)
    ok(*poller.select("INBOX"), "SELECT INBOX")
    polled = []
    for i in range(int(n)):
        mid = f"baseline.{i}.{run}@acme.test"
        append(appender, "INBOX", note(mid, i))
        t0 = time.perf_counter()
        seen = wait_for(poller, "Message-ID", mid, 10)
        if seen is None:
            sys.exit(f"bench-latency: baseline note {i} not seen in INBOX after 10 s")
        polled.append(seen[0] - t0)
    poller.logout()
    idler = IdleClient(port, user, password)
    idled = []
    for i in range(int(n)):
        idler.idle()
        append(appender, "INBOX", note(f"baseline.idle.{i}.{run}@acme.test", i))
        t0 = time.perf_counter()
        t1 = idler.wait_exists(10)
        if t1 is None:
            sys.exit(f"bench-latency: IDLE announced no new message {i} in INBOX in 10 s")
        idled.append(t1 - t0)
        idler.done()
    idler.command("LOGOUT")
    appender.logout()
    json.dump({"seconds": polled, "idle_seconds": idled}, open(out, "w"))


def replies(port, user, password, n, run, out, timeout, gap):
    """Before each reply a random pause of up to `gap` seconds (the same sequence every run): a
    reply sent the instant the previous draft appears would always find a polling daemon just
    after its pass, at the start of its sleep, and measure the whole poll interval every time."""
    appender = connect(port, user, password)
    poller = connect(port, user, password)
    ok(*poller.select("Drafts"), "SELECT Drafts")
    pauses = random.Random(1)
    rows = []
    for i in range(int(n)):
        time.sleep(pauses.uniform(0, gap))
        mid = reply_id(i, run)
        raw = message(mid, buyer(i), OURS, f"Re: Acme Analytics for Buyer {i:02d}", datetime.now(timezone.utc),
                      f"Hi Alice,\n\nwhat does the 50-seat plan cost per year? (bench-reply-{i})\n\nBuyer {i:02d}",
                      parent=sent_id(i, run))
        t_append = time.perf_counter()
        append(appender, "INBOX", raw)
        t0 = time.perf_counter()
        wall0 = time.time()
        seen = wait_for(poller, "In-Reply-To", mid, timeout)
        if seen is None:
            json.dump({"rows": rows, "failed": i}, open(out, "w"))
            sys.exit(f"bench-latency: reply {i + 1} of {n} (<{mid}>): no draft in Drafts after {timeout:g} s; "
                     f"{len(rows)} drafts appeared before it")
        rows.append({"i": i, "append_s": t0 - t_append, "seconds": seen[0] - t0, "wall0": wall0,
                     "uids": [u.decode() for u in seen[1]]})
        if (i + 1) % 10 == 0 or i + 1 == int(n):
            last = " ".join(f"{r['seconds'] * 1000:.0f}" for r in rows[-10:])
            print(f"{i + 1}/{n} drafts seen; the last ones took (ms): {last}", flush=True)
    appender.logout()
    poller.logout()
    json.dump({"rows": rows}, open(out, "w"))


# --- the table ------------------------------------------------------------------------------

def pct(xs, p):
    """The p-th percentile, nearest rank (of 50 values: p95 is the 48th smallest)."""
    s = sorted(xs)
    k = max(1, -(-len(s) * p // 100))
    return s[int(k) - 1]


def ms(x):
    return f"{x * 1000:8.1f}" if x < 10 else f"{x * 1000:8.0f}"


def table(port, user, password, n, baseline_json, replies_json, model_log, poll, gap):
    n = int(n)
    floors = json.load(open(baseline_json))
    base, base_idle = floors["seconds"], floors["idle_seconds"]
    rows = json.load(open(replies_json))["rows"]
    lat = [r["seconds"] for r in rows]
    requests = [json.loads(line) for line in open(model_log) if line.strip()]
    first_request = {}
    for q in requests:
        if q["reply"] is not None:
            first_request.setdefault(q["reply"], q["t"])
    # Split tend's time at the model request: noticing the reply and drafting it, then the rest
    # (model answer, composing, APPEND to Drafts, our poller seeing it).
    detect = [first_request[r["i"]] - r["wall0"] for r in rows if r["i"] in first_request]
    rest = [r["seconds"] - (first_request[r["i"]] - r["wall0"]) for r in rows if r["i"] in first_request]

    c = connect(port, user, password)
    drafts = int(ok(*c.select("Drafts", readonly=True), "SELECT Drafts")[0])
    in_reply_to = set()
    if drafts:
        data = ok(*c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (IN-REPLY-TO)])"), "FETCH Drafts")
        for item in data:
            if isinstance(item, tuple):
                in_reply_to.add(item[1].decode(errors="replace").split(":", 1)[-1].strip())
    c.logout()

    mode = f"tend's poll_interval_seconds = {poll} (POLL={poll})"
    if int(poll) >= 600:
        mode += ": only IDLE can explain fast drafts"
    print(f"{len(rows)} buyer replies, one at a time after a random pause of up to {gap} s; instant local model;\n"
          f"{mode}\n")
    print(f"{'':46} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    lines = [("baseline: own APPEND seen in INBOX (polling)", base),
             ("baseline: own APPEND announced by IDLE", base_idle),
             ("tend: reply APPENDed -> draft seen", lat),
             ("  reply APPENDed -> model request", detect),
             ("  model request -> draft seen", rest)]
    for name, xs in lines:
        if xs:
            print(f"{name:46} {ms(pct(xs, 50))} {ms(pct(xs, 95))} {ms(max(xs))}")
    print(f"{'ratio tend / polling baseline (p50)':46} {pct(lat, 50) / pct(base, 50):7.0f}x")
    print(f"{'ratio tend / IDLE baseline (p50)':46} {pct(lat, 50) / pct(base_idle, 50):7.2f}x")
    print(f"\nbaselines: {len(base)} + {len(base_idle)} colleague notes; polling as on Drafts (NOOP + "
          f"UID SEARCH HEADER every {POLL_EVERY * 1000:.0f} ms), IDLE on a third connection")
    print(f"model requests: {len(requests)} (expected {n}); for {len(first_request)} distinct replies")
    print(f"drafts in Drafts: {drafts} (expected {n}); {len(in_reply_to)} distinct In-Reply-To")
    verdict = "met" if pct(lat, 50) < 1 else "NOT met"
    print(f"aim p50 < 1 s: {verdict} (p50 {pct(lat, 50) * 1000:.0f} ms)")
    if len(requests) != n or drafts != n or len(in_reply_to) != n:
        print("bench-latency: counts differ from the replies sent (duplicates or missing drafts)", file=sys.stderr)
        return 1
    return 0


def main():
    a = sys.argv[1:]
    cmd = a[0] if a else ""
    if cmd == "model" and len(a) == 3:
        model(a[1], a[2])
    elif cmd == "seed" and len(a) == 6:
        seed(*a[1:])
    elif cmd == "baseline" and len(a) == 7:
        baseline(*a[1:])
    elif cmd == "replies" and len(a) == 9:
        replies(*a[1:7], timeout=float(a[7]), gap=float(a[8]))
    elif cmd == "table" and len(a) == 10:
        return table(*a[1:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
