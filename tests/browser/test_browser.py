#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The chat page in a real browser: headless Chromium driven by Selenium,
against the real server (TCPChat --http), beside an nc user on a plain
TCP socket.

One scenario, step by step (each step needs the ones before it):
two browser users (alice, bob) and one nc user (carol) chat in general;
the nc user's `<img src=x onerror=alert(1)>` shows as those characters
and runs nothing; the page's commands (/help, /users, Up for the last
line); bob goes to a new room and back and sees general's history,
including what was said while he was away; alice's connection drops
(cut in the page by the test) and, once back, her page shows what she
missed and nothing twice; the server is stopped and started again on the
same ports: the pages say they are reconnecting, log in again under the
same names and chat on; at phone width nothing scrolls sideways.

Usage: tests/browser/test_browser.py [SERVER_BINARY]  (default
$TCPCHAT_BIN, else build/plain/TCPChat). Screenshots go to
$TCPCHAT_SHOTS (default build/browser/). Exit status 0 when every step
passed. Everything Chromium needs is Debian's (chromium, chromium-driver,
python3-selenium): nothing is downloaded, nothing leaves 127.0.0.1.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException, TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    sys.exit('test_browser: no selenium for %s (apt-get install python3-selenium)' % sys.executable)

HOST = '127.0.0.1'
WAIT = 20  # seconds for anything to show: generous, the machine is shared
XSS = '<img src=x onerror=alert(1)>'
CHROMIUM = os.environ.get('TCPCHAT_CHROMIUM', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('TCPCHAT_CHROMEDRIVER', '/usr/bin/chromedriver')
# As tests/run.sh reads a sanitizer build's output.
SANITIZER_REPORT = r'ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:'
# A developer's own TCPCHAT_* settings never change the server under test
# (as in tests/e2e/e2e.c); tests/run.sh's sanitizer settings, unless the
# caller gives its own.
SERVER_ENV = {k: v for k, v in os.environ.items() if not k.startswith('TCPCHAT_')}
SERVER_ENV.setdefault('ASAN_OPTIONS', 'detect_leaks=1:abort_on_error=0:exitcode=23')
SERVER_ENV.setdefault('UBSAN_OPTIONS', 'print_stacktrace=1:halt_on_error=1')
SERVER_ENV.setdefault('TSAN_OPTIONS', 'halt_on_error=0:exitcode=66:second_deadlock_stack=1:'
                      'ignore_noninstrumented_modules=1')
# Straight to 127.0.0.1, whatever proxy the environment names.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """The real binary on two loopback ports, stopped by its pid."""

    def __init__(self, binary, port, http_port, logdir):
        self.binary, self.port, self.http_port = binary, port, http_port
        self.logdir, self.proc, self.runs = logdir, None, 0

    def start(self):
        self.runs += 1
        log = open(os.path.join(self.logdir, 'server-%d.log' % self.runs), 'wb')
        self.proc = subprocess.Popen(
            [self.binary, '--bind', HOST, '--http', str(self.http_port),
             '--data-dir', os.path.join(self.logdir, 'data'), str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, env=SERVER_ENV)
        log.close()
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError('server exited at start: %d' % self.proc.returncode)
            try:
                with DIRECT.open('http://%s:%d/healthz' % (HOST, self.http_port),
                                 timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError('server did not answer /healthz within %d s' % WAIT)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=WAIT)
            raise AssertionError('server did not stop within %d s of SIGTERM' % WAIT)
        if rc != 0:
            raise AssertionError('server exited %d after SIGTERM' % rc)

    def sanitizer_reports(self):
        """What a sanitizer build said in the server's output, if anything."""
        found = []
        for f in sorted(os.listdir(self.logdir)):
            if f.startswith('server-'):
                with open(os.path.join(self.logdir, f), errors='replace') as log:
                    found += [f + ': ' + line.strip() for line in log
                              if re.search(SANITIZER_REPORT, line)]
        return found

    def url(self):
        return 'http://%s:%d/' % (HOST, self.http_port)


class Nc:
    """An nc user: a plain TCP socket, bytes in and out as nc shows them."""

    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=WAIT)
        self.sock.settimeout(0.2)
        self.data = b''

    def expect(self, text, timeout=WAIT):
        """Reads until `text` has arrived; what came before it is dropped."""
        want = text.encode()
        deadline = time.monotonic() + timeout
        while want not in self.data:
            if time.monotonic() > deadline:
                raise AssertionError('nc: no %r within %d s; got %r' % (text, timeout, self.data[-400:]))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError('nc: closed before %r; got %r' % (text, self.data[-400:]))
            self.data += chunk
        self.data = self.data[self.data.index(want) + len(want):]

    def send(self, line):
        self.sock.sendall(line.encode() + b'\n')

    def close(self):
        self.sock.close()


class Page:
    """One browser user: its own Chromium, its own empty profile."""

    def __init__(self, name, tmp, width=1100, height=720):
        self.name = name
        o = webdriver.ChromeOptions()
        for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
                  '--no-first-run', '--disable-background-networking', '--no-proxy-server',
                  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
                  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
                  '--disable-backgrounding-occluded-windows',
                  '--window-size=%d,%d' % (width, height),
                  '--user-data-dir=' + tempfile.mkdtemp(prefix='chromium-', dir=tmp)):
            o.add_argument(a)
        o.binary_location = CHROMIUM
        o.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        self.d = webdriver.Chrome(service=Service(CHROMEDRIVER, log_path=os.devnull), options=o)
        self.d.set_page_load_timeout(WAIT)
        self.console = []
        # The test's hand on the page's WebSocket, put in by Chromium before
        # any script of the page runs (the page itself has no test hooks):
        # `__tcpchatCut()` drops the connection as a network would, and
        # while `__tcpchatOffline` is set every new one fails at once.
        self.d.execute_cdp_cmd('Page.addScriptToEvaluateOnNewDocument', {'source': """
            (() => {
                const Real = window.WebSocket, open = [];
                window.__tcpchatOffline = false;
                window.__tcpchatCut = () => open.splice(0).forEach((s) => s.close());
                window.WebSocket = function (url, protocols) {
                    const s = new Real(window.__tcpchatOffline ? 'ws://127.0.0.1:1/' : url, protocols);
                    open.push(s);
                    return s;
                };
                window.WebSocket.prototype = Real.prototype;
                Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
            })();"""})

    def until(self, what, check, timeout=WAIT):
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.1).until(lambda d: check())
        except TimeoutException:
            raise AssertionError('%s: %s not seen within %d s' % (self.name, what, timeout))

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def status(self):
        return self.js("const s = document.getElementById('status');"
                       "return [s.dataset.state, s.textContent];")

    def login(self, url):
        self.d.get(url)
        box = self.d.find_element(By.ID, 'login-name')
        self.until('the name prompt enabled',
                   lambda: self.js("return !document.getElementById('login-go').disabled;"))
        box.send_keys(self.name + Keys.ENTER)
        self.until('the chat after login', lambda: self.js(
            "return !document.getElementById('chat').hidden &&"
            " document.getElementById('me').textContent === arguments[0];", self.name))

    def say(self, text):
        box = self.d.find_element(By.ID, 'input')
        box.send_keys(text + Keys.ENTER)
        self.until('the input emptied after sending',
                   lambda: box.get_attribute('value') == '')

    def lines(self, history=None):
        """[(name, text, own)] of the chat lines in the pane, in order."""
        return self.js(
            "return Array.from(document.querySelectorAll('#log li.line'))"
            ".filter(li => arguments[0] === null || li.classList.contains('history') === arguments[0])"
            ".map(li => [(li.querySelector('.name') || {}).textContent || '',"
            " li.querySelector('.text').textContent, li.classList.contains('own')]);",
            history)

    def sees_line(self, name, text, history=None):
        self.until('line %s: %r' % (name, text),
                   lambda: any(n == name and t == text for n, t, _ in self.lines(history)))

    def sees(self, css, text):
        """An element matching css whose whole text is `text`."""
        self.until('%s %r' % (css, text), lambda: self.js(
            "return Array.from(document.querySelectorAll(arguments[0]))"
            ".some(e => e.textContent === arguments[1]);", css, text))

    def users(self):
        return self.js("return Array.from(document.querySelectorAll('#users li'), li => li.textContent);")

    def rooms(self):
        return self.js("return Array.from(document.querySelectorAll('#rooms li'), li =>"
                       " [li.querySelector('.room-name').textContent,"
                       " li.querySelector('.count').textContent, li.classList.contains('mine')]);")

    def shot(self, shots, name):
        path = os.path.join(shots, name + '.png')
        self.d.save_screenshot(path)
        return path

    def no_alert(self):
        try:
            text = self.d.switch_to.alert.text
        except NoAlertPresentException:
            return
        raise AssertionError('%s: an alert is open: %r' % (self.name, text))

    def problems(self):
        """Console errors that say the page broke: a script error, something
        the CSP blocked. Not the page's: /favicon.ico's 404, and Chromium's
        own line for each WebSocket that fails while the server is down."""
        self.console += self.d.get_log('browser')
        return [m['message'] for m in self.console
                if m['level'] == 'SEVERE' and 'favicon.ico' not in m['message']
                and 'WebSocket connection to' not in m['message']]

    def quit(self):
        try:
            self.d.quit()
        except Exception:
            pass


def scenario(server, tmp, shots):
    server.start()
    alice = Page('alice', tmp)
    bob = Page('bob', tmp)
    pages = [alice, bob]
    try:
        run(server, alice, bob, tmp, shots)
    except BaseException:
        for p in pages:
            try:
                p.shot(shots, 'failed-' + p.name)
            except Exception:
                pass
        raise
    finally:
        for p in pages:
            p.quit()


def step(text):
    print('  step: ' + text, flush=True)


def run(server, alice, bob, tmp, shots):
    step('alice and bob log in from the page')
    alice.login(server.url())
    bob.login(server.url())
    assert alice.status()[0] == 'connected', alice.status()
    step('a taken name is refused inline, the prompt stays')
    eve = Page('eve', tmp, 420, 760)
    try:
        eve.d.get(server.url())
        eve.until('the name prompt enabled',
                  lambda: eve.js("return !document.getElementById('login-go').disabled;"))
        eve.d.find_element(By.ID, 'login-name').send_keys('alice' + Keys.ENTER)
        eve.sees('#login-error', 'Name is already taken.')
        assert eve.js("return document.getElementById('chat').hidden;")
        eve.shot(shots, '01-name-refused')
    finally:
        eve.quit()

    step('carol logs in with nc')
    carol = Nc(server.port)
    carol.expect('[ENTER YOUR NAME]: ')
    carol.send('carol')
    carol.expect('[carol]:')
    alice.sees('#log li.notice', 'carol has joined general.')

    step('browser to browser and nc, own line shown as own')
    alice.say('hello from alice')
    bob.sees_line('alice', 'hello from alice')
    carol.expect('[alice]:hello from alice\n')
    alice.sees_line('alice', 'hello from alice')
    assert ['alice', 'hello from alice', True] in alice.lines(), alice.lines()
    assert ['alice', 'hello from alice', False] in bob.lines(), bob.lines()

    step('nc to both browsers')
    carol.send('hi from nc')
    alice.sees_line('carol', 'hi from nc')
    bob.sees_line('carol', 'hi from nc')
    bob.say('bob here')
    alice.sees_line('bob', 'bob here')
    carol.expect('[bob]:bob here\n')

    step('the user list and the room list are live')
    alice.until('users alice, bob, carol', lambda: alice.users() == ['alice', 'bob', 'carol'])
    alice.until('general with 3 members', lambda: ['general', '3', True] in alice.rooms())

    step('the XSS line from nc shows as text and runs nothing')
    carol.send(XSS)
    for p in (alice, bob):
        p.sees('#log li.line .text', XSS)
        assert p.js("return document.querySelectorAll('#log img').length;") == 0
    time.sleep(1)  # an onerror would have fired by now
    for p in (alice, bob):
        p.no_alert()
        assert p.js("return document.querySelectorAll('img').length;") == 0

    step('commands from the page: /help, /users shown when typed, /msg from nc')
    alice.say('/help')
    alice.until('the /help reply', lambda: alice.js(
        "const r = document.querySelector('#log li.reply pre');"
        "return r !== null && r.textContent.includes('/join ROOM');"))
    alice.say('/users')
    alice.sees('#log li.list pre', 'Users in general (3): alice, bob, carol')
    carol.send('/msg alice psst')
    alice.until('the private message', lambda: alice.js(
        "return Array.from(document.querySelectorAll('#log li.private')).some(li =>"
        " li.querySelector('.name').textContent === 'carol → alice' &&"
        " li.querySelector('.text').textContent === 'psst');"))
    step('Up brings back the last line sent')
    box = alice.d.find_element(By.ID, 'input')
    box.send_keys(Keys.ARROW_UP)
    assert box.get_attribute('value') == '/users', box.get_attribute('value')
    box.send_keys(Keys.ARROW_UP)
    assert box.get_attribute('value') == '/help', box.get_attribute('value')
    box.send_keys(Keys.ARROW_DOWN, Keys.ARROW_DOWN)
    assert box.get_attribute('value') == '', box.get_attribute('value')
    alice.shot(shots, '02-chat-alice')

    step('bob goes to a new room and back, and sees what he missed')
    bob.say('/join dev')
    bob.until('the room dev', lambda: bob.js(
        "return document.getElementById('room-title').textContent === 'dev';"))
    bob.until('dev in the room list as his', lambda: ['dev', '1', True] in bob.rooms())
    alice.sees('#log li.notice', 'bob has left general.')
    bob.say('alone in dev')
    bob.sees_line('bob', 'alone in dev')
    alice.say('while bob was away')
    carol.expect('[alice]:while bob was away\n')
    bob.say('/join general')
    bob.until('general again', lambda: bob.js(
        "return document.getElementById('room-title').textContent === 'general';"))
    bob.sees_line('alice', 'while bob was away', history=True)
    bob.sees_line('alice', 'hello from alice', history=True)
    bob.sees_line('carol', XSS, history=True)
    assert not any(t == 'alone in dev' for _, t, _ in bob.lines()), bob.lines()
    alice.sees('#log li.notice', 'bob has joined general.')
    bob.shot(shots, '03-history-bob')

    step('auto-scroll follows at the bottom and stops while reading back')
    for i in range(30):
        carol.send('filler %02d' % i)
    alice.sees_line('carol', 'filler 29')
    assert alice.js("const l = document.getElementById('log');"
                    "return l.scrollHeight > l.clientHeight &&"
                    " l.scrollHeight - l.scrollTop - l.clientHeight < 40;")
    alice.js("document.getElementById('log').scrollTop = 0;")
    carol.send('while alice reads back')
    alice.sees_line('carol', 'while alice reads back')
    assert alice.js("return document.getElementById('log').scrollTop;") == 0
    alice.until('the jump button', lambda: alice.js(
        "return !document.getElementById('jump').hidden;"))
    alice.d.find_element(By.ID, 'jump').click()
    alice.until('the bottom after the jump', lambda: alice.js(
        "const l = document.getElementById('log');"
        "return l.scrollHeight - l.scrollTop - l.clientHeight < 40;"))

    step('alice loses her connection: once back she sees what she missed')
    alice.js("window.__tcpchatOffline = true; window.__tcpchatCut();")
    alice.until('the reconnecting state', lambda: alice.status()[0] == 'reconnecting')
    bob.sees('#log li.notice', 'alice has left general.')
    carol.send('said while alice was away')
    bob.sees_line('carol', 'said while alice was away')
    assert not any(t == 'said while alice was away' for _, t, _ in alice.lines())
    alice.js("window.__tcpchatOffline = false;")
    alice.until('connected again', lambda: alice.status()[0] == 'connected', timeout=2 * WAIT)
    alice.sees('#log li.divider', 'Reconnected. What you missed in general:')
    alice.sees_line('carol', 'said while alice was away', history=True)
    said = [t for _, t, _ in alice.lines()]
    assert said.count('hello from alice') == 1 and said.count('filler 29') == 1, said
    bob.sees('#log li.notice', 'alice has joined general.')
    alice.shot(shots, '04-missed')

    for p in (alice, bob):
        assert p.problems() == [], p.problems()

    step('the server stops: the pages say they are reconnecting')
    carol.close()
    server.stop()
    for p in (alice, bob):
        p.until('the reconnecting state', lambda p=p: p.status()[0] == 'reconnecting'
                and 'Reconnecting' in p.status()[1])
    alice.shot(shots, '05-reconnecting')
    time.sleep(1)

    step('the server is back on the same ports: the pages log in again')
    server.start()
    for p in (alice, bob):
        p.until('connected again', lambda p=p: p.status()[0] == 'connected', timeout=2 * WAIT)
        p.until('logged in again as ' + p.name, lambda p=p: p.js(
            "return !document.getElementById('chat').hidden &&"
            " document.getElementById('me').textContent === arguments[0] &&"
            " Array.from(document.querySelectorAll('#users li'), li => li.textContent)"
            ".includes(arguments[0]);", p.name))
    step('the history came back with the server (--data-dir): nothing shown twice')
    for p in (alice, bob):
        p.sees('#log li.divider', 'Reconnected to general.')
        said = [t for _, t, _ in p.lines()]
        assert said.count('hello from alice') == 1, said
    carol = Nc(server.port)
    carol.expect('[ENTER YOUR NAME]: ')
    carol.send('carol')
    carol.expect('[carol]:')
    alice.say('back again')
    bob.sees_line('alice', 'back again')
    carol.expect('[alice]:back again\n')
    carol.send('welcome back')
    alice.sees_line('carol', 'welcome back')
    alice.shot(shots, '06-reconnected')

    step('at phone width nothing scrolls sideways')
    alice.d.set_window_size(390, 800)
    alice.until('no sideways scroll', lambda: alice.js(
        "return document.documentElement.scrollWidth <= window.innerWidth;"))
    assert alice.js("const r = document.getElementById('input').getBoundingClientRect();"
                    "return r.right <= window.innerWidth && r.bottom <= window.innerHeight;")
    alice.shot(shots, '07-phone')
    for p in (alice, bob):
        p.no_alert()
        assert p.problems() == [], p.problems()
    carol.close()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    binary = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        'TCPCHAT_BIN', os.path.join(root, 'build/plain/TCPChat'))
    shots = os.environ.get('TCPCHAT_SHOTS', os.path.join(root, 'build/browser'))
    os.makedirs(shots, exist_ok=True)
    for f in (binary, CHROMIUM, CHROMEDRIVER):
        if not os.access(f, os.X_OK):
            print('test_browser: %s is missing (make; apt-get install chromium chromium-driver)' % f)
            return 1
    tmp = tempfile.mkdtemp(prefix='tcpchat-browser-')
    server = Server(os.path.abspath(binary), free_port(), free_port(), tmp)
    print('test_browser: %s, nc port %d, http port %d' % (binary, server.port, server.http_port))
    ok = False
    try:
        scenario(server, tmp, shots)
        server.stop()
        reports = server.sanitizer_reports()
        assert not reports, 'sanitizer reports:\n' + '\n'.join(reports)
        ok = True
    except Exception:
        traceback.print_exc()
    finally:
        try:
            server.stop()
        except AssertionError as e:
            print('test_browser: %s' % e)
    if ok:
        shutil.rmtree(tmp, ignore_errors=True)
        print('test_browser: passed (screenshots in %s)' % shots)
        return 0
    for f in sorted(os.listdir(tmp)):
        if f.startswith('server-'):
            print('--- %s' % f)
            with open(os.path.join(tmp, f), errors='replace') as log:
                print(log.read()[-4000:])
    print('test_browser: FAILED (screenshots in %s, logs in %s)' % (shots, tmp))
    return 1


if __name__ == '__main__':
    sys.exit(main())
