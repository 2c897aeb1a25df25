#!/usr/bin/env python3
"""Userspace latency proxy for FTP over loopback (python3 stdlib only).

Listens on LISTEN:port for every port given (the server's control port and
its whole passive range) and forwards each connection to TARGET:port, the
same port number, holding every chunk back for a fixed one-way delay in each
direction: --delay-ms 10 gives a 20 ms round-trip time. A client that opens
data connections to the control connection's peer address (EPSV replies
carry only a port) goes through the proxy for data as well.

  delayproxy.py --listen 127.0.0.2 --target 127.0.0.1 \
                --ports 2461,30600-30649 --delay-ms 10 [--seconds N]

Prints "ready" once every port listens, then "conn PORT" for every
connection it accepts (so a caller can check that data connections, not
only the control connection, went through it), and "stats PORT CONNECTIONS
BYTES_UP BYTES_DOWN" per port when it stops (SIGTERM, SIGINT, --seconds).
"""
import argparse
import asyncio
import signal
import sys
import time

CHUNK = 65536
QUEUE = 64  # chunks in flight per direction before the reader waits


def parse_ports(spec):
    ports = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            ports.extend(range(int(lo), int(hi) + 1))
        else:
            ports.append(int(part))
    return ports


class Stats:
    def __init__(self):
        self.conns = {}
        self.up = {}
        self.down = {}

    def add(self, table, port, n):
        table[port] = table.get(port, 0) + n


async def pump(reader, writer, delay, count):
    """Copies reader to writer, each chunk delivered `delay` s after it came."""
    queue = asyncio.Queue(QUEUE)

    async def deliver():
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                break
            writer.write(data)
            await writer.drain()
            count(len(data))
        if writer.can_write_eof():
            writer.write_eof()

    sender = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            await queue.put((time.monotonic() + delay, data))
        await queue.put((time.monotonic() + delay, None))
        await sender
    except (ConnectionError, OSError, asyncio.CancelledError):
        sender.cancel()
        raise


async def handle(client_r, client_w, target, port, delay, stats):
    stats.add(stats.conns, port, 1)
    print("conn %d" % port, flush=True)
    try:
        server_r, server_w = await asyncio.open_connection(target, port)
    except OSError:
        client_w.close()
        return
    up = asyncio.ensure_future(
        pump(client_r, server_w, delay, lambda n: stats.add(stats.up, port, n)))
    down = asyncio.ensure_future(
        pump(server_r, client_w, delay, lambda n: stats.add(stats.down, port, n)))
    # When one direction fails (a reset), tear down both.
    done, pending = await asyncio.wait({up, down}, return_when=asyncio.FIRST_EXCEPTION)
    for task in pending:
        task.cancel()
    for task in done | pending:
        try:
            await task
        except BaseException:  # noqa: BLE001 - connection teardown
            pass
    for w in (client_w, server_w):
        w.close()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.2")
    ap.add_argument("--target", default="127.0.0.1")
    ap.add_argument("--ports", required=True, help="e.g. 2461,30600-30649")
    ap.add_argument("--delay-ms", type=float, default=10.0, help="one-way delay")
    ap.add_argument("--seconds", type=float, default=7200.0, help="lifetime bound")
    args = ap.parse_args()
    delay = args.delay_ms / 1000.0
    stats = Stats()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    servers = []
    for port in parse_ports(args.ports):
        servers.append(await asyncio.start_server(
            lambda r, w, p=port: handle(r, w, args.target, p, delay, stats),
            args.listen, port, reuse_address=True))
    print("ready", flush=True)
    try:
        await asyncio.wait_for(stop.wait(), args.seconds)
    except asyncio.TimeoutError:
        pass
    for s in servers:
        s.close()
    for port in sorted(stats.conns):
        print("stats %d %d %d %d" % (port, stats.conns[port],
                                     stats.up.get(port, 0), stats.down.get(port, 0)), flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
