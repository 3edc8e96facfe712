#!/usr/bin/env python3
"""A TCP proxy that delays every chunk by a fixed time each way, for scripts/bench's
delayed-link case (like tests/support/proxy.rs):

    bench_proxy.py LISTEN_PORT_FILE TARGET_PORT [--delay-ms 10]

Listens on 127.0.0.1 (an ephemeral port, written to LISTEN_PORT_FILE once listening) and
forwards each connection to 127.0.0.1:TARGET_PORT. Each chunk read from one side is written to
the other --delay-ms after it was read, in order. Reading never waits for the delay, so the
link adds latency (2 x delay of round trip) without limiting bandwidth: a client that keeps
several commands in flight pays the delay once, one that waits for each answer pays it each
time. Runs until SIGTERM.
"""
import argparse
import asyncio
import os
import signal
import time

CHUNK = 1 << 18


async def pump(reader, writer, delay):
    """Copy reader -> writer, each chunk delay seconds after it arrived, order kept."""
    queue = asyncio.Queue()

    async def read_side():
        try:
            while True:
                data = await reader.read(CHUNK)
                queue.put_nowait((time.monotonic() + delay, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            queue.put_nowait((time.monotonic() + delay, b""))

    async def write_side():
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.close()
            except (ConnectionError, OSError):
                pass

    await asyncio.gather(read_side(), write_side())


async def main_async(port_file, target, delay):
    async def handle(client_r, client_w):
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pump(client_r, server_w, delay), pump(server_r, client_w, delay))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    tmp = port_file + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(str(port))
    os.rename(tmp, port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port_file")
    ap.add_argument("target", type=int)
    ap.add_argument("--delay-ms", type=float, default=10.0)
    args = ap.parse_args()
    asyncio.run(main_async(args.port_file, args.target, args.delay_ms / 1000))


if __name__ == "__main__":
    main()
