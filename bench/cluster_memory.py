#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Redis memory of the cluster's key layout (docs/CLUSTER.md, "Memory").

    python3 bench/cluster_memory.py        (needs redis-server; < 30 s)

Starts its own redis-server on a free 127.0.0.1 port in a temporary directory
(no persistence: memory only), writes what the cluster writes for 10,000
clients in 100 rooms on 3 nodes, a room's history list and its stream, and
prints Redis' used_memory growth per client, per history line and per stream
entry. The keys and values are shaped as design10 (and include/cluster.h)
lay them out, written directly: no TCPChat runs. Stops Redis by pid.
"""
import shutil
import signal
import socket
import subprocess
import tempfile
import time

CLIENTS, ROOMS, NODES = 10000, 100, 3
TS = "[2026-11-30 23:00:00]"


class Redis:
    """Just enough RESP for pipelined commands, no client library."""

    def __init__(self, port):
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile("rb")

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def reply(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:].strip()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2]
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        return int(rest) if kind == b":" else rest

    def pipe(self, commands):
        for i in range(0, len(commands), 1000):
            chunk = commands[i:i + 1000]
            self.sock.sendall(b"".join(self.encode(c) for c in chunk))
            replies = [self.reply() for _ in chunk]
        return replies

    def used(self):
        self.pipe([("MEMORY", "PURGE")])
        info = self.pipe([("INFO", "memory")])[0].decode()
        return int(next(l for l in info.split("\r\n") if l.startswith("used_memory:")).split(":")[1])


def members():
    commands = []
    for i in range(CLIENTS):
        node, room = "node%d" % (i % NODES + 1), "room%03d" % (i % ROOMS)
        key, name = "%s/%016x" % (node, i), "user%04d" % i
        commands += [("HSET", "tcpchat:room:%s:members" % room, key, name),
                     ("HSET", "tcpchat:node:%s:members" % node, key, "%s\t%s" % (room, name)),
                     ("HINCRBY", "tcpchat:rooms", room, 1)]
        # A name's three keys (the fold and two confusable skeletons).
        for k in ("%s" % name, "%s#0" % name, "%s#1" % name):
            commands.append(("SET", "tcpchat:name:%s" % k, "%s %s" % (key, name)))
    return commands


def entry(text):
    return ("XADD", "tcpchat:room:r:log", "MAXLEN", "~", "10000", "*", "k", "line",
            "m", "node1/%016x" % 42, "n", "user0042", "t", text, "ts", TS)


def main():
    work = tempfile.mkdtemp(prefix="tcpchat-cluster-memory.")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                               "--dir", work, "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL)
    try:
        r = Redis(port)
        version = r.pipe([("INFO", "server")])[0].decode().split("redis_version:")[1].split()[0]
        print(f"redis-server {version}, used_memory growth:")
        before = r.used()
        r.pipe(members())
        print(f"  per client (its room's and its node's member hashes, 3 name keys, "
              f"the room count): {(r.used() - before) / CLIENTS:.0f} bytes "
              f"({CLIENTS} clients, {ROOMS} rooms, {NODES} nodes)")
        for size in (60, 1000):
            text = "x" * size
            before = r.used()
            r.pipe([("RPUSH", "tcpchat:room:r:hist", f"{TS}[user0042]:{text}")] * 1000)
            hist = (r.used() - before) / 1000
            before = r.used()
            r.pipe([entry(text)] * 10000)
            stream = (r.used() - before) / 10000
            r.pipe([("DEL", "tcpchat:room:r:hist", "tcpchat:room:r:log")])
            print(f"  {size}-byte chat lines: {hist:.0f} bytes per history line, "
                  f"{stream:.0f} bytes per stream entry")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
