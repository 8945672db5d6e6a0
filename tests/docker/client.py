#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Real TCP clients for tests/docker/run.sh: they talk to 127.0.0.1 only.

    client.py session PORT BANNER_FILE   banner bytes, two clients exchange lines,
                                         a room comes and goes; prints READY, then
                                         waits for the server to close both (EOF)
    client.py history PORT NAME TEXT     a new client finds TEXT in its room history
    client.py web PORT HTTP_PORT         the web gateway through the container: the
                                         page and its headers, a browser's WebSocket
                                         chatting with an nc client, /metrics

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


def http_get(port, path):
    """One GET on 127.0.0.1: (status line, headers dict lowercased, body)."""
    with socket.create_connection((HOST, port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                     "Connection: close\r\n\r\n".encode())
        data, deadline = b"", time.monotonic() + 5
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return lines[0], headers, body


def web(port, http_port):
    try:
        import asyncio
        import json
        import websockets
    except ImportError:
        fail("python3-websockets is needed for the web gateway's checks (apt-get install python3-websockets)")
    status, headers, body = http_get(http_port, "/")
    if not status.startswith("HTTP/1.1 200") or b"<html" not in body.lower():
        fail(f"GET /: {status}, {body[:120]!r}")
    csp = headers.get("content-security-policy", "")
    if "default-src 'self'" not in csp or headers.get("x-content-type-options") != "nosniff":
        fail(f"GET /: security headers missing: {headers}")
    say("PASS", f"GET / through the container: 200, {len(body)} bytes, CSP and nosniff")

    def clients(body):
        """tcpchat_clients per transport, from a /metrics body."""
        found = re.findall(rb'^tcpchat_clients\{transport="(\w+)"\} (\d+)$', body, re.M)
        return {k.decode(): int(v) for k, v in found}

    # Gateways report at most once a second: past that, the figure is current.
    time.sleep(1.5)
    tcp_before = clients(http_get(http_port, "/metrics")[2]).get("tcp", 0)

    async def chat():
        nc = Client(port, "nc")
        nc.login("ncuser", None)
        url = f"ws://{HOST}:{http_port}/ws"
        async with websockets.connect(url, origin=f"http://{HOST}:{http_port}",
                                      open_timeout=5) as ws:
            async def event(want):
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    got = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    if got.get("type") == want:
                        return got
                fail(f"web: no {want} event within 5 s")
            await event("welcome")
            await ws.send("webuser")
            entered = await event("entered")
            if entered.get("room") != "general" or entered.get("name") != "webuser":
                fail(f"web: entered {entered}")
            nc.send(b"hello from nc\n")
            line = await event("line")
            if (line.get("name"), line.get("text")) != ("ncuser", "hello from nc"):
                fail(f"web: line {line}")
            await ws.send("hello from the browser")
            nc.read_until(rb"\[webuser\]:hello from the browser\n", what="the browser's line")
            say("PASS", "a WebSocket client and an nc client chat through the container")
            # The session's two nc clients may still be connected: ours is one more.
            want = {"web": 1, "tcp": tcp_before + 1}
            deadline = time.monotonic() + 5
            while True:
                status, headers, body = http_get(http_port, "/metrics")
                got = clients(body)
                if got == want or time.monotonic() > deadline:
                    break
                time.sleep(0.3)   # each gateway reports once a second
            if got != want:
                fail(f"/metrics: clients {got}, want {want}: {body[:400]!r}")
            if not status.startswith("HTTP/1.1 200") or "text/plain" not in headers.get("content-type", ""):
                fail(f"/metrics: {status} {headers}")
            say("PASS", f"/metrics through the container counts the clients: {got}")
        nc.sock.close()

    asyncio.run(chat())
    status, _, body = http_get(http_port, "/healthz")
    if not status.startswith("HTTP/1.1 200"):
        fail(f"/healthz: {status} {body!r}")
    say("PASS", "/healthz answers 200")


def main(argv):
    if len(argv) == 4 and argv[1] == "session":
        session(int(argv[2]), argv[3])
    elif len(argv) == 5 and argv[1] == "history":
        history(int(argv[2]), argv[3], argv[4])
    elif len(argv) == 4 and argv[1] == "web":
        web(int(argv[2]), int(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
