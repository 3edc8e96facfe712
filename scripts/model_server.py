#!/usr/bin/env python3
"""Serve a GGUF chat model over llama.cpp's OpenAI-compatible HTTP API (via xllamacpp).

Used by scripts/demo to give tend a real local model. Run with the demo venv's python:

    model_server.py --model SmolLM2-135M-Instruct.Q4_1.gguf --port 8123

Prints "listening http://127.0.0.1:PORT" once the model is loaded, then serves
/v1/chat/completions until SIGTERM/SIGINT.
"""
import argparse
import os
import signal
import sys
import threading

import xllamacpp as xlc


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--alias", default="smollm2-135m-instruct")
    args = ap.parse_args()

    params = xlc.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    try:
        params.model_alias = args.alias
    except Exception:  # attribute name differs between versions; the alias is cosmetic
        pass

    server = xlc.Server(params)  # loads the model and starts the HTTP thread
    print(f"listening {server.listening_address}", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
