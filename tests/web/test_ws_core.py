#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The web gateway end to end: the real binary (TCPCHAT_BIN) with --http on
# free ports of 127.0.0.1, spoken to over HTTP, over WebSocket
# (python3-websockets) and with a plain TCP socket for the nc user.
# Exact bytes and exact JSON. Every wait is bounded (seconds, generous);
# nothing asserts speed. Prints cmocka's summary lines, so tests/run.sh
# counts it with the C suites.
import asyncio
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import websockets

BIN = os.environ.get("TCPCHAT_BIN", "build/plain/TCPChat")
WAIT = 10.0  # seconds: the bound of every wait
SANITIZER = re.compile(r"ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:")
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
HEADERS = {
    "content-security-policy": "default-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The server on two free ports, stopped by its pid."""

    def __init__(self, *args):
        self.log = tempfile.NamedTemporaryFile(prefix="tcpchat-web-", suffix=".log", delete=False)
        self.terminated = False
        env = {k: v for k, v in os.environ.items() if not k.startswith("TCPCHAT_")}
        for attempt in range(5):
            self.port, self.http = free_port(), free_port()
            argv = [BIN, "--bind", "127.0.0.1", "--http", str(self.http), *args, str(self.port)]
            self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)
            if self._wait_ready():
                return
            # A port taken between our look and its bind: try others.
            self.proc.wait(timeout=WAIT)
        raise AssertionError("the server did not start: " + self.text())

    def _wait_ready(self):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                status, _, _ = self.get("/healthz")
                if status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("no /healthz within %d s: %s" % (WAIT, self.text()))

    def get(self, path, method="GET"):
        conn = http.client.HTTPConnection("127.0.0.1", self.http, timeout=WAIT)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def url(self):
        return "ws://127.0.0.1:%d/ws" % self.http

    def text(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if re.search(pattern, self.text()):
                return
            time.sleep(0.05)
        raise AssertionError("no %r in the log within %d s:\n%s" % (pattern, WAIT, self.text()))

    def terminate(self):
        """SIGTERM, once: a second one ends the server at once."""
        if not self.terminated:
            self.terminated = True
            self.proc.send_signal(signal.SIGTERM)

    def stop(self):
        """SIGTERM; exit 0 with no sanitizer report, or the test fails."""
        if self.proc.poll() is None:
            self.terminate()
            try:
                self.proc.wait(timeout=WAIT * 3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("the server did not stop on SIGTERM: " + self.text())
        text = self.text()
        assert not SANITIZER.search(text), text
        assert self.proc.returncode == 0, "exit %s: %s" % (self.proc.returncode, text)
        os.unlink(self.log.name)


class Nc:
    """An nc user: a plain TCP socket, read line by line."""

    def __init__(self, server, name=None):
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
        self.seen = b""
        self.expect(b"[ENTER YOUR NAME]: ")
        if name:
            self.send(name)
            self.expect(("[%s]:" % name).encode())

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")

    def expect(self, want):
        """Reads until want has come; returns what came up to its end."""
        deadline = time.monotonic() + WAIT
        while want not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("nc: no %r; got %r" % (want, self.seen))
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("nc: closed before %r; got %r" % (want, self.seen))
            self.seen += chunk
        end = self.seen.index(want) + len(want)
        got, self.seen = self.seen[:end], self.seen[end:]
        return got

    def skip(self):
        """Reads what has come without waiting, keeping the last 64 KiB:
        a talker's own prompts must not fill its socket."""
        self.sock.setblocking(False)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.seen = (self.seen + chunk)[-65536:]
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)

    def close(self):
        self.sock.close()


async def recv_event(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), WAIT))


async def expect_event(ws, want_type):
    """The next event of that type; those of others before it are skipped
    (a page asks /users on its own: not these tests)."""
    deadline = time.monotonic() + WAIT
    while True:
        event = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
        event = json.loads(event)
        if event["type"] == want_type:
            return event


async def login(server, name, **kwargs):
    ws = await websockets.connect(server.url(), open_timeout=WAIT, **kwargs)
    welcome = await recv_event(ws)
    assert welcome["type"] == "welcome", welcome
    await ws.send(name)
    entered = await expect_event(ws, "entered")
    assert entered["name"] == name and entered["room"] == "general", entered
    return ws


async def expect_closed(ws, reason, code):
    event = await recv_event(ws)
    assert event == {"type": "closed", "reason": reason}, event
    await asyncio.wait_for(ws.wait_closed(), WAIT)
    assert ws.close_code == code, ws.close_code


# ---------------------------------------------------------------------------
# The tests: each gets a server of its own.


def test_page_and_headers(server):
    status, headers, body = server.get("/")
    assert status == 200, status
    assert headers["content-type"] == "text/html; charset=utf-8", headers
    assert b"<html" in body.lower() and b"/app.js" in body, body[:200]
    assert int(headers["content-length"]) == len(body)
    for path, kind in (("/app.js", "text/javascript"), ("/app.css", "text/css")):
        status, headers, body = server.get(path)
        assert status == 200 and headers["content-type"] == kind + "; charset=utf-8", headers
        assert len(body) > 0
    status, headers, body = server.get("/healthz")
    assert (status, body, headers["content-type"]) == (200, b"ok\n", "text/plain; charset=utf-8")
    for path in ("/nope", "/index.html", "/../etc/passwd", "/ws"):
        status, headers, body = server.get(path)
        assert status == 404, (path, status)
    # Every response, the 404s too: the security headers, and no cookie.
    for path in ("/", "/app.js", "/healthz", "/nope"):
        status, headers, body = server.get(path)
        for name, value in HEADERS.items():
            assert headers.get(name) == value, (path, name, headers)
        assert "set-cookie" not in headers, headers


def test_origin_check(server):
    async def run():
        # Another site's page: refused in the handshake.
        for origin in ("http://evil.example", "http://127.0.0.1:%d" % (server.http + 1), "null"):
            try:
                await websockets.connect(server.url(), origin=origin, open_timeout=WAIT)
                raise AssertionError("origin %s was let in" % origin)
            except websockets.exceptions.InvalidStatusCode as e:
                assert e.status_code == 403, e
        server.wait_log(r"web 1 WebSocket handshake refused: Origin not allowed \(last: "
                        r"http://evil\.example from 127\.0\.0\.1:\d+, Host 127\.0\.0\.1:%d\)"
                        % server.http)
        # Only the first refusal of the minute is logged.
        assert server.text().count("handshake refused") == 1, server.text()
        # The page we served, either scheme; a client with no Origin; a
        # listed one (--http-origin).
        for origin in ("http://127.0.0.1:%d" % server.http, "https://127.0.0.1:%d" % server.http,
                       None, "https://chat.example.org"):
            ws = await websockets.connect(server.url(), origin=origin, open_timeout=WAIT)
            assert (await recv_event(ws))["type"] == "welcome"
            await ws.close()
        # With the subprotocol the page asks for.
        ws = await websockets.connect(server.url(), subprotocols=["tcpchat"], open_timeout=WAIT)
        assert ws.subprotocol == "tcpchat"
        await ws.close()
    asyncio.run(run())


def test_login_refusal_and_chat_with_nc(server):
    async def run():
        alice = Nc(server, "alice")
        ws = await websockets.connect(server.url(), open_timeout=WAIT)
        welcome = await recv_event(ws)
        assert welcome["prompt"] == "[ENTER YOUR NAME]: " and "Welcome to TCP-Chat!" in welcome["banner"]
        # Names are unique across both transports.
        await ws.send("alice")
        assert await recv_event(ws) == {"type": "refused", "reason": "Name is already taken."}
        await ws.send("  ")
        assert await recv_event(ws) == {"type": "refused", "reason": "Name cannot be empty."}
        await ws.send("bob")
        entered = await recv_event(ws)
        assert entered == {"type": "entered", "room": "general", "name": "bob", "history": []}, entered
        alice.expect(b"\nbob has joined our chat...\n")
        # Browser -> nc, exactly as an nc user's line, and the author
        # gets its own line back.
        await ws.send("hello from the web")
        alice.expect(b"][bob]:hello from the web\n")
        line = await expect_event(ws, "line")
        assert re.fullmatch(STAMP, line.pop("time")), line
        assert line == {"type": "line", "room": "general", "name": "bob", "text": "hello from the web"}
        # nc -> browser, markup as text.
        alice.send("<img src=x onerror=alert(1)>")
        line = await expect_event(ws, "line")
        assert re.fullmatch(STAMP, line.pop("time")), line
        assert line == {"type": "line", "room": "general", "name": "alice",
                        "text": "<img src=x onerror=alert(1)>"}, line
        # A command, answered to the browser alone.
        await ws.send("/users")
        users = await expect_event(ws, "users")
        assert users == {"type": "users", "room": "general", "names": ["alice", "bob"]}, users
        # /quit: the browser is closed normally, nc hears it left.
        await ws.send("/quit")
        await asyncio.wait_for(ws.wait_closed(), WAIT)
        assert ws.close_code == 1000, ws.close_code
        alice.expect(b"\nbob has left our chat...\n")
        alice.close()
    asyncio.run(run())


def test_too_long_frame(server):
    async def run():
        ws = await websockets.connect(server.url(), open_timeout=WAIT)
        await recv_event(ws)
        too_long = {"type": "error", "text": "Message too long (max 4096 bytes)."}
        # At the name prompt: answered at once, still at the prompt.
        await ws.send("n" * 4097)
        assert await recv_event(ws) == too_long
        await ws.send("carol")
        assert (await recv_event(ws))["type"] == "entered"
        # In a room: the same text, in the room's order, and the line
        # never reaches the others.
        dave = Nc(server, "dave")
        await ws.send("x" * 5000)
        assert await expect_event(ws, "error") == too_long
        # 4096 bytes is not too long.
        await ws.send("y" * 4096)
        dave.expect(b"][carol]:" + b"y" * 4096 + b"\n")
        assert b"xxx" not in dave.seen
        await ws.close()
        dave.close()
    asyncio.run(run())


def test_binary_frame_closes_1003(server):
    async def run():
        ws = await websockets.connect(server.url(), open_timeout=WAIT)
        await recv_event(ws)
        await ws.send(b"\x00binary")
        await asyncio.wait_for(ws.wait_closed(), WAIT)
        assert ws.close_code == 1003, ws.close_code
        server.wait_log(r"web connection closed from 127\.0\.0\.1:\d+ \(binary frame\)")
    asyncio.run(run())


def raw_ws_login(server, name):
    """A WebSocket client by hand, that will never read again once in."""
    sock = socket.create_connection(("127.0.0.1", server.http), timeout=WAIT)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n" % server.http).encode())
    seen = b""
    deadline = time.monotonic() + WAIT
    while b"\r\n\r\n" not in seen and time.monotonic() < deadline:
        seen += sock.recv(4096)
    assert seen.startswith(b"HTTP/1.1 101"), seen
    payload = name.encode()
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)  # masked, key 0
    return sock


def test_a_browser_that_stops_reading_is_cut(server):
    async def run():
        sock = raw_ws_login(server, "sleepy")
        server.wait_log(r"room\[general\] sleepy joined")
        eve = Nc(server, "eve")
        # eve talks; sleepy reads nothing: over --max-backlog it is cut,
        # and its room hears it left. Bounded: 20,000 lines of 1 KiB.
        line = "z" * 1000
        deadline = time.monotonic() + WAIT * 3
        for i in range(20000):
            eve.send(line)
            if i % 200 == 199:
                eve.skip()
                if "is too slow" in server.text() or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
        server.wait_log(r"web 127\.0\.0\.1:\d+ is too slow: \d+ bytes unsent, over --max-backlog 65536")
        server.wait_log(r"web connection closed from 127\.0\.0\.1:\d+ \(too slow\)")
        eve.expect(b"\nsleepy has left our chat...\n")
        eve.close()
        sock.close()
    asyncio.run(run())


def test_max_clients_per_gateway(server):
    async def run():
        first = await login(server, "one")
        second = await login(server, "two")
        third = await websockets.connect(server.url(), open_timeout=WAIT)
        await expect_closed(third, "Chat is full. Try again later.", 1000)
        server.wait_log(r"web connection from 127\.0\.0\.1:\d+ refused: chat is full \(2 clients\)")
        # Each transport seats --max-clients: nc users still get in.
        a, b = Nc(server, "ncone"), Nc(server, "nctwo")
        # A seat freed is a seat taken again.
        await first.close()
        server.wait_log(r"one left")
        again = await login(server, "three")
        for ws in (second, again):
            await ws.close()
        a.close()
        b.close()
    asyncio.run(run())


def test_name_timeout(server):
    async def run():
        ws = await websockets.connect(server.url(), open_timeout=WAIT)
        assert (await recv_event(ws))["type"] == "welcome"
        await expect_closed(ws, "No name given within 1 s: closing the connection.", 1000)
        server.wait_log(r"web connection closed from 127\.0\.0\.1:\d+ \(no name in time\)")
    asyncio.run(run())


def test_shutdown_tells_every_browser(server):
    async def run():
        naming = await websockets.connect(server.url(), open_timeout=WAIT)
        await recv_event(naming)
        chatting = await login(server, "frank")
        server.terminate()
        for ws in (naming, chatting):
            await expect_closed(ws, "Server is shutting down.", 1001)
    asyncio.run(run())


def metric(server, name):
    """{labels: value} of one metric, scraped now."""
    status, headers, body = server.get("/metrics")
    assert status == 200, status
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8", headers
    samples = {}
    for line in body.decode().splitlines():
        m = re.fullmatch(r"%s(\{[^}]*\})? (\S+)" % re.escape(name), line)
        if m:
            samples[m.group(1) or ""] = float(m.group(2))
    return samples


def wait_metric(server, name, labels, want):
    """Figures reach the hub once a second at most: scraped until they show."""
    deadline = time.monotonic() + WAIT
    while True:
        got = metric(server, name).get(labels)
        if got == want:
            return
        if time.monotonic() > deadline:
            raise AssertionError("%s%s is %s, not %s" % (name, labels, got, want))
        time.sleep(0.1)


def test_metrics_move_as_clients_come_and_go(server):
    async def run():
        web, tcp = '{transport="web"}', '{transport="tcp"}'
        status, headers, body = server.get("/metrics")
        for name, value in HEADERS.items():
            assert headers.get(name) == value, (name, headers)
        assert b"# TYPE tcpchat_clients gauge\n" in body, body
        wait_metric(server, "tcpchat_clients", web, 0)
        ws = await login(server, "gina")
        nc = Nc(server, "hank")
        wait_metric(server, "tcpchat_clients", web, 1)
        wait_metric(server, "tcpchat_clients", tcp, 1)
        wait_metric(server, "tcpchat_connections_total", web, 1)
        await ws.send("one line")
        nc.expect(b"][gina]:one line\n")
        wait_metric(server, "tcpchat_lines_in_total", web, 1)
        wait_metric(server, "tcpchat_members", "", 2)
        await ws.close()
        nc.close()
        wait_metric(server, "tcpchat_clients", web, 0)
        wait_metric(server, "tcpchat_clients", tcp, 0)
        wait_metric(server, "tcpchat_connections_total", web, 1)
    asyncio.run(run())


TESTS = [
    (test_page_and_headers, []),
    (test_origin_check, ["--http-origin", "https://chat.example.org"]),
    (test_login_refusal_and_chat_with_nc, []),
    (test_too_long_frame, []),
    (test_binary_frame_closes_1003, []),
    (test_a_browser_that_stops_reading_is_cut, ["--max-backlog", "65536", "--rate", "0"]),
    (test_max_clients_per_gateway, ["--max-clients", "2"]),
    (test_name_timeout, ["--name-timeout", "1"]),
    (test_shutdown_tells_every_browser, []),
    (test_metrics_move_as_clients_come_and_go, []),
]


def main():
    only = sys.argv[1:]
    passed, failed = 0, []
    print("[==========] tests/web/test_ws_core.py", flush=True)
    for test, args in TESTS:
        if only and test.__name__ not in only:
            continue
        print("[ RUN      ] %s" % test.__name__, flush=True)
        server = None
        try:
            server = Server(*args)
            test(server)
            server.stop()
            print("[       OK ] %s" % test.__name__, flush=True)
            passed += 1
        except Exception:
            traceback.print_exc()
            if server:
                if server.proc.poll() is None:
                    server.proc.kill()
                    server.proc.wait()
                print("--- server log ---\n" + server.text(), flush=True)
            print("[  FAILED  ] %s" % test.__name__, flush=True)
            failed.append(test.__name__)
    print("[==========] %d test(s) run." % (passed + len(failed)))
    print("[  PASSED  ] %d test(s)." % passed)
    if failed:
        print("[  FAILED  ] %d test(s), listed below:" % len(failed))
        for name in failed:
            print("[  FAILED  ] %s" % name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
