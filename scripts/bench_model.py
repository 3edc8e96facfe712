#!/usr/bin/env python3
"""An instant OpenAI-compatible model server for scripts/bench (`tend once --dry-run` and
`tend run` need a model; this one answers every chat completion at once with a fixed draft):

    bench_model.py PORT_FILE STATS_FILE

Listens on 127.0.0.1 (an ephemeral port, written to PORT_FILE once listening). After every
request it rewrites STATS_FILE with {"requests": N, "seconds": S}, S being the time spent
serving them, so the bench can subtract the model's share from tend's wall time. Runs until
SIGTERM.
"""
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = json.dumps({"needs_reply": True, "reason": "asked a question",
                     "body": "Thanks for your message, here is the answer you asked for."})


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    port_file, stats_file = sys.argv[1:]
    lock = threading.Lock()
    stats = {"requests": 0, "seconds": 0.0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real local server would
        # The headers and the body go out in two writes; with Nagle on, the body waits for the
        # client's delayed ACK of the headers: 40 ms a request, which tend's time per draft
        # measured as its own (60 ms a draft at 1k-200k, against 10-16 ms of CPU).
        disable_nagle_algorithm = True

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
            t0 = time.perf_counter()
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.endswith("/chat/completions"):
                return self.reply(404, {"error": {"message": "not found"}})
            self.reply(200, {
                "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
                "model": "instant",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            })
            with lock:
                stats["requests"] += 1
                stats["seconds"] += time.perf_counter() - t0
                with open(stats_file + ".tmp", "w") as fh:
                    json.dump(stats, fh)
                os.rename(stats_file + ".tmp", stats_file)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(port_file + ".tmp", "w") as fh:
        fh.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


if __name__ == "__main__":
    main()
