#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/transport_cost.py: what a browser (WebSocket) client costs the server
against an nc client, at the same load (`make bench-transport`).

For each transport: a fresh server (--http on, 127.0.0.1, free ports, pinned
to CPU 0 when taskset exists), CLIENTS clients of that transport logged into
general, each sending LINES lines at RATE lines/s (a wide-hot shape scaled to
what one Python process can read: every client reads every line). Measured:
the server's resident memory per client once all are seated (RSS, /proc),
and its CPU time (utime+stime, /proc/PID/stat) over the chat only, so
deliveries per CPU-second. Lost deliveries must be 0. Prints a Markdown table.

    bench/transport_cost.py [BIN] [--clients N] [--rate R] [--lines L]
"""
import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import websockets

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


class Server:
    def __init__(self, binary, clients):
        self.port, self.http = free_port(), free_port()
        argv = [binary, "--bind", "127.0.0.1", "--http", str(self.http),
                "--max-clients", str(clients + 10), "--rate", "0",
                "--max-per-address", "0", "--connect-rate", "0", str(self.port)]
        if shutil.which("taskset"):
            argv = ["taskset", "-c", "0", *argv]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TCPCHAT_")}
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=env)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.http), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("the server did not start")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


class NcClient:
    def __init__(self, server, name):
        self.name = name.encode()

    async def open(self, server):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", server.port)
        await self.reader.readuntil(b"[ENTER YOUR NAME]: ")
        self.writer.write(self.name + b"\n")
        await self.reader.readuntil(b"][" + self.name + b"]:")

    async def send(self, text):
        self.writer.write(text.encode() + b"\n")
        await self.writer.drain()

    async def count_lines(self, want, deadline):
        """Reads other clients' chat lines until want arrived or the deadline."""
        got, tail = 0, b""
        marker = b"]:bench "
        while got < want and time.monotonic() < deadline:
            try:
                chunk = await asyncio.wait_for(self.reader.read(1 << 16), deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
            if not chunk:
                break
            data = tail + chunk
            got += data.count(marker)
            tail = data[-(len(marker) - 1):]
        return got

    async def close(self):
        self.writer.close()


class WsClient:
    def __init__(self, server, name):
        self.name = name

    async def open(self, server):
        self.ws = await websockets.connect(f"ws://127.0.0.1:{server.http}/ws",
                                           origin=f"http://127.0.0.1:{server.http}",
                                           max_queue=None)
        await self.ws.recv()  # welcome
        await self.ws.send(self.name)
        while '"entered"' not in await self.ws.recv():
            pass

    async def send(self, text):
        await self.ws.send(text)

    async def count_lines(self, want, deadline):
        got = 0
        while got < want and time.monotonic() < deadline:
            try:
                event = await asyncio.wait_for(self.ws.recv(), deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
            if '"type":"line"' in event and '"text":"bench ' in event:
                got += 1
        return got

    async def close(self):
        await self.ws.close()


async def run(kind, args):
    server = Server(args.binary, args.clients)
    try:
        base_rss = rss_bytes(server.proc.pid)
        make = NcClient if kind == "nc" else WsClient
        clients = [make(server, f"u{i}") for i in range(args.clients)]
        for i in range(0, len(clients), 50):
            await asyncio.gather(*(c.open(server) for c in clients[i:i + 50]))
        await asyncio.sleep(1)
        per_client = (rss_bytes(server.proc.pid) - base_rss) / args.clients
        # Every client gets every line, its own included for WebSocket (the
        # page shows the reader's own lines); an nc author gets a bare prompt.
        own = 1 if kind == "ws" else 0
        want = args.lines * (args.clients - 1 + own)
        cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()

        async def talk(c, i):
            await asyncio.sleep(i / args.clients / args.rate)  # spread the senders
            for n in range(args.lines):
                await c.send(f"bench {i} {n}")
                await asyncio.sleep(1 / args.rate)

        deadline = t0 + args.lines / args.rate + 30
        counts = await asyncio.gather(*(c.count_lines(want, deadline) for c in clients),
                                      *(talk(c, i) for i, c in enumerate(clients)))
        got = sum(counts[:args.clients])
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(server.proc.pid) - cpu0
        for c in clients:
            await c.close()
        return {"kind": kind, "rss": per_client, "deliveries": got,
                "lost": want * args.clients - got, "cpu": cpu, "elapsed": elapsed}
    finally:
        server.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary", nargs="?", default="build/plain/TCPChat")
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--rate", type=float, default=1.0)
    p.add_argument("--lines", type=int, default=10)
    args = p.parse_args()
    rows = [asyncio.run(run(kind, args)) for kind in ("nc", "ws")]
    print(f"{args.clients} clients in one room, each sending {args.lines} lines at "
          f"{args.rate:g}/s; every client reads every line\n")
    print("| transport | server memory per client | deliveries | lost | server CPU | deliveries per CPU-s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['kind']} | {r['rss'] / 1024:.1f} KiB | {r['deliveries']} | {r['lost']} "
              f"| {r['cpu']:.2f} s | {r['deliveries'] / max(r['cpu'], 1e-9):,.0f} |")
    return 0 if all(r["lost"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
