#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Real TCP clients for tests/docker/run.sh: they talk to 127.0.0.1 only.

    client.py session PORT BANNER_FILE   banner bytes, two clients exchange lines,
                                         a room comes and goes; prints READY, then
                                         waits for the server to close both (EOF)
    client.py history PORT NAME TEXT     a new client finds TEXT in its room history

Prints one `PASS: ...` or `FAIL: ...` line per check (run.sh counts them) and
exits 1 on the first failure. Every read has a deadline: nothing here can hang.
"""
import re
import socket
import sys
import time

HOST = "127.0.0.1"
TS = rb"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
NAME_PROMPT = b"[ENTER YOUR NAME]: "


def say(status, text):
    print(f"{status}: {text}", flush=True)


def fail(text):
    say("FAIL", text)
    sys.exit(1)


def prompt(name):
    return rb"\[" + TS + rb"\]\[" + re.escape(name.encode()) + rb"\]:"


class Client:
    def __init__(self, port, label):
        self.label = label
        self.buf = b""
        try:
            self.sock = socket.create_connection((HOST, port), timeout=5)
        except OSError as e:
            fail(f"{label}: connect to {HOST}:{port}: {e}")

    def send(self, data):
        self.sock.sendall(data)

    def read_until(self, pattern, seconds=5.0, what=None):
        """Reads until the regex `pattern` matches the unread bytes; returns
        (bytes before the match, match bytes) and keeps what follows."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + seconds
        while True:
            found = regex.search(self.buf)
            if found:
                before, got = self.buf[: found.start()], found.group(0)
                self.buf = self.buf[found.end():]
                return before, got
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"{self.label}: no {what or pattern!r} within {seconds:g} s; "
                     f"unread: {self.buf[-300:]!r}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError as e:
                fail(f"{self.label}: waiting for {what or pattern!r}: {e}")
            if not chunk:
                fail(f"{self.label}: EOF while waiting for {what or pattern!r}; "
                     f"unread: {self.buf[-300:]!r}")
            self.buf += chunk

    def wait_eof(self, seconds):
        """True when the server closes the connection within `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, self.buf
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return True, self.buf
            if not chunk:
                return True, self.buf
            self.buf += chunk

    def login(self, name, banner):
        before, _ = self.read_until(re.escape(NAME_PROMPT), what="the name prompt")
        if banner is not None:
            if before != banner:
                fail(f"{self.label}: banner differs from tests/data/banner.txt: {before[:200]!r}")
            say("PASS", f"{self.label} got the {len(banner)}-byte banner and the name prompt")
        self.send(name.encode() + b"\n")
        history, _ = self.read_until(prompt(name), what=f"{name}'s prompt")
        return history


def session(port, banner_file):
    with open(banner_file, "rb") as f:
        banner = f.read()
    alice = Client(port, "alice")
    alice.login("alice", banner)
    bob = Client(port, "bob")
    bob.login("bob", banner)
    alice.read_until(rb"\nbob has joined our chat\.\.\.\n" + prompt("alice"), what="bob's join")
    say("PASS", "alice saw bob join")

    alice.send(b"hello from alice\n")
    bob.read_until(rb"\n\[" + TS + rb"\]\[alice\]:hello from alice\n" + prompt("bob"),
                   what="alice's line")
    say("PASS", "bob received alice's line")
    bob.send(b"hi alice\n")
    alice.read_until(rb"\n\[" + TS + rb"\]\[bob\]:hi alice\n" + prompt("alice"),
                     what="bob's line")
    say("PASS", "alice received bob's line")

    # A room comes and goes: alice creates dev, then returns to general.
    alice.send(b"/join dev\n")
    alice.read_until(prompt("alice"), what="the prompt in dev")
    alice.send(b"/join general\n")
    alice.read_until(prompt("alice"), what="the prompt back in general")
    bob.read_until(rb"alice has joined our chat\.\.\.\n" + prompt("bob"),
                   what="alice's return")
    say("PASS", "alice went to room dev and back")

    for c in (alice, bob):
        c.buf = b""                     # report only what comes after READY
    print("READY", flush=True)          # run.sh now stops the container
    for c in (alice, bob):
        closed, rest = c.wait_eof(10)
        if closed:
            say("PASS", f"{c.label} got EOF when the server stopped "
                        f"(after {rest[-80:]!r})")
        else:
            fail(f"{c.label}: no EOF within 10 s of READY")


def history(port, name, text):
    carol = Client(port, name)
    got = carol.login(name, None)
    if text.encode() in got:
        say("PASS", f"{name} found {text!r} in the history after down/up")
    else:
        fail(f"{name}: history lacks {text!r}: {got[-300:]!r}")
    carol.send(b"/quit\n")


def main(argv):
    if len(argv) == 4 and argv[1] == "session":
        session(int(argv[2]), argv[3])
    elif len(argv) == 5 and argv[1] == "history":
        history(int(argv[2]), argv[3], argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
