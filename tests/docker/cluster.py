#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Real TCP clients for tests/docker/cluster.sh, through HAProxy on 127.0.0.1.

    cluster.py PORT WORKDIR LEASE

alice and bob log in through HAProxy (leastconn: two nodes), chat, and see each
other in /users; then it prints READY and waits (bounded) for WORKDIR/killed,
which cluster.sh writes once it has killed bob's node. Then alice must be told
that bob left, within the lease and a margin, /users must list alice alone,
and a new client must get the name bob through HAProxy (a live node).

Prints one `PASS: ...` or `FAIL: ...` line per check and exits 1 on the first
failure. Every read has a deadline: nothing here can hang.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client import TS, Client, fail, prompt, say  # noqa: E402


def line_from(name, text):
    return rb"\[" + TS + rb"\]\[" + re.escape(name.encode()) + rb"\]:" + re.escape(text.encode())


def users(client, name, names):
    """/users in general lists exactly `names`, in any order."""
    client.send(b"/users\n")
    _, got = client.read_until(rb"Users in general \((\d+)\): ([^\n]*)\n", what="the /users reply")
    listed = re.match(rb"Users in general \((\d+)\): ([^\n]*)\n", got)
    have = sorted(listed.group(2).decode().split(", "))
    if int(listed.group(1)) != len(names) or have != sorted(names):
        fail(f"{name}: /users says {got!r}, want {sorted(names)}")
    client.read_until(prompt(name), what=f"{name}'s prompt after /users")
    say("PASS", f"{name}'s /users lists {', '.join(sorted(names))}")


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    port, work, lease = int(argv[1]), argv[2], int(argv[3])
    alice = Client(port, "alice")
    alice.login("alice", None)
    bob = Client(port, "bob")
    bob.login("bob", None)
    say("PASS", "alice and bob logged in through HAProxy")
    alice.read_until(rb"bob has joined our chat\.\.\.\n" + prompt("alice"), seconds=10,
                     what="bob's join")
    say("PASS", "alice saw bob join")

    alice.send(b"hello from alice\n")
    bob.read_until(line_from("alice", "hello from alice") + rb"\n", seconds=10, what="alice's line")
    say("PASS", "bob received alice's line")
    bob.send(b"hi alice\n")
    alice.read_until(line_from("bob", "hi alice") + rb"\n", seconds=10, what="bob's line")
    say("PASS", "alice received bob's line")
    users(alice, "alice", ["alice", "bob"])
    users(bob, "bob", ["alice", "bob"])

    print("READY", flush=True)          # cluster.sh finds their nodes, kills bob's
    killed = os.path.join(work, "killed")
    deadline = time.monotonic() + 60
    while not os.path.exists(killed):
        if time.monotonic() > deadline:
            fail("cluster.sh did not kill bob's node within 60 s")
        time.sleep(0.1)
    t0 = time.monotonic()
    # The lease lapses, a survivor reaps the dead node: its clients leave.
    alice.read_until(rb"bob has left our chat\.\.\.\n", seconds=lease * 2 + 15,
                     what="bob's leave after his node died")
    say("PASS", f"alice was told bob left, {time.monotonic() - t0:.1f} s after his node was "
                f"killed (lease {lease} s)")
    alice.read_until(prompt("alice"), what="alice's prompt after the leave")
    users(alice, "alice", ["alice"])

    # HAProxy sends the newcomer to a live node, and the name is free again.
    bob2 = Client(port, "bob (again)")
    bob2.login("bob", None)
    alice.read_until(rb"bob has joined our chat\.\.\.\n", seconds=10, what="the new bob's join")
    say("PASS", "a new client took the name bob through HAProxy, alice saw him join")
    bob2.send(b"back again\n")
    alice.read_until(line_from("bob", "back again") + rb"\n", seconds=10, what="the new bob's line")
    say("PASS", "alice received the new bob's line")
    for c in (alice, bob2):
        c.send(b"/quit\n")


if __name__ == "__main__":
    main(sys.argv)
