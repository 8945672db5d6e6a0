// SPDX-License-Identifier: MIT
// TCPChat's chat page. It speaks /ws as docs/PROTOCOL.md writes it: each
// text frame it sends is one line as an nc user types it (the name, then
// chat text or a /command); each frame it gets is one JSON event.
// Every server text reaches the page through textContent, never as HTML:
// a line like <img src=x onerror=...> shows as those characters.
'use strict';

(function () {
    const RECONNECT_MIN_MS = 500;
    const RECONNECT_MAX_MS = 10000;
    const ROOMS_EVERY_MS = 10000;   // the room list's counts stay live
    const LISTS_DEBOUNCE_MS = 500;  // one /users and /rooms for a burst of joins:
                                    // they count against --rate like typed lines
    const SENT_KEPT = 100;          // Up/Down history of the lines sent
    const LOG_KEPT = 2000;          // lines kept in the pane
    const SEEN_KEPT = 4000;         // line keys kept to tell what was missed
    const NEAR_BOTTOM_PX = 40;

    const $ = (id) => document.getElementById(id);
    const ui = {
        status: $('status'), me: $('me'),
        login: $('login'), banner: $('banner'), loginForm: $('login-form'),
        loginTitle: $('login-title'), loginName: $('login-name'),
        loginGo: $('login-go'), loginError: $('login-error'),
        chat: $('chat'), rooms: $('rooms'), users: $('users'),
        usersTitle: $('users-title'), roomTitle: $('room-title'),
        log: $('log'), jump: $('jump'), sendForm: $('send-form'), input: $('input'),
    };

    // The whole state of the page. `name` and `room` survive a reconnect:
    // the page logs in again under that name and goes back to that room.
    const st = {
        ws: null,
        phase: 'connecting',  // connecting | name | waiting | chat | left
                              // (connecting again after a loss: the chat
                              // stays on screen, read-only in effect)
        name: '',             // our name once the server took it
        room: '',             // the room we are in
        wantRoom: '',         // after a reconnect: the room to go back to
        hopRoom: '',          // ... and the room we are in on the way there
        autoLogin: false,     // the name in flight was sent by the page
        attempt: 0,           // reconnect attempts since the last success
        retryTimer: 0,
        countdownTimer: 0,
        roomsTimer: 0,
        usersTimer: 0,
        quitting: false,      // the user typed /quit: do not reconnect
        stopped: false,       // closed at the name prompt: wait for the user
        pendingName: '',      // the name to send once connected again
        // One entry per /users or /rooms in flight, oldest first: true when
        // the user typed it (show the answer in the pane), false when the
        // page sent it to keep its lists live (only update the list).
        pendingUsers: [],
        pendingRooms: [],
        sent: [], sentAt: 0, draft: '',
        unread: 0,            // lines while the tab is hidden, in its title
        // "time|name|text" of each room line shown -> how many times: the
        // same words said twice in one second are two lines.
        seen: new Map(),
    };

    function wsUrl () {
        const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
        return scheme + location.host + '/ws';
    }

    // The pill in the header, and the lists greyed out while they may be
    // stale (the server is not there to keep them live).
    function setStatus (state, text) {
        ui.status.dataset.state = state;
        ui.status.textContent = text;
        ui.chat.classList.toggle('offline', state !== 'connected');
    }

    // ---- The connection -------------------------------------------------

    function connect () {
        clearTimeout(st.retryTimer);
        clearInterval(st.countdownTimer);
        setStatus(st.attempt ? 'reconnecting' : 'connecting',
                  st.attempt ? 'Reconnecting…' : 'Connecting…');
        let ws;
        try {
            ws = new WebSocket(wsUrl(), 'tcpchat');
        } catch (e) {
            scheduleReconnect();
            return;
        }
        st.ws = ws;
        ws.onopen = () => {
            if (st.ws !== ws) return;
            setStatus('connected', 'Connected');
        };
        ws.onmessage = (m) => {
            if (st.ws !== ws || typeof m.data !== 'string') return;
            let ev;
            try {
                ev = JSON.parse(m.data);
            } catch (e) {
                return;  // not ours to guess at
            }
            if (ev && typeof ev.type === 'string') handle(ev);
        };
        ws.onclose = () => {
            if (st.ws !== ws) return;
            st.ws = null;
            lost();
        };
        ws.onerror = () => {};  // onclose follows and does the work
    }

    function send (text) {
        if (!st.ws || st.ws.readyState !== WebSocket.OPEN) return false;
        st.ws.send(text);
        return true;
    }

    function lost () {
        clearInterval(st.roomsTimer);
        clearTimeout(st.usersTimer);
        st.pendingUsers = [];
        st.pendingRooms = [];
        if (st.stopped) {
            // Closed at the name prompt (no name in time, chat full, a
            // shutdown): a tab left open does not hold a seat by coming
            // back on its own. Join connects again.
            st.phase = 'stopped';
            setStatus('closed', 'Disconnected');
            ui.login.hidden = false;
            ui.chat.hidden = true;
            ui.loginGo.textContent = 'Connect and join';
            ui.loginGo.disabled = false;
            return;
        }
        if (st.quitting) {
            st.phase = 'left';
            setStatus('closed', 'Disconnected');
            notice('You left the chat. Reload the page to come back.', 'divider');
            ui.input.disabled = true;
            return;
        }
        if (st.phase === 'chat') {
            // Said once: the attempts that fail after it are not news.
            st.wantRoom = st.room;
            st.phase = 'connecting';
            notice('Connection lost. Reconnecting…', 'divider');
        }
        scheduleReconnect();
    }

    // Backoff doubles from 0.5 s up to 10 s, with jitter so a restarted
    // server is not met by every page at once. The status counts down.
    function scheduleReconnect () {
        const base = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * Math.pow(2, st.attempt));
        const wait = Math.round(base * (0.75 + Math.random() * 0.5));
        st.attempt += 1;
        const until = Date.now() + wait;
        const tick = () => {
            const s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
            setStatus('reconnecting', 'Reconnecting in ' + s + ' s…');
        };
        tick();
        clearInterval(st.countdownTimer);
        st.countdownTimer = setInterval(tick, 500);
        clearTimeout(st.retryTimer);
        st.retryTimer = setTimeout(connect, wait);
        if (st.phase === 'waiting' || st.phase === 'name') st.phase = 'connecting';
        ui.loginGo.disabled = true;
    }

    // ---- Events from the server ------------------------------------------

    const handlers = {
        welcome (ev) {
            clearInterval(st.countdownTimer);
            setStatus('connected', 'Connected');
            ui.banner.textContent = str(ev.banner).replace(/\n+$/, '');
            const prompt = str(ev.prompt).replace(/[\s:]+$/, '').replace(/^\[|\]$/g, '');
            if (prompt) ui.loginTitle.textContent = prompt;
            if (st.name) {
                // Back after a reconnect: the same name, without asking.
                sendName(st.name, true);
            } else if (st.pendingName) {
                const name = st.pendingName;
                st.pendingName = '';
                showLogin();
                sendName(name, false);
            } else {
                showLogin();
            }
        },
        refused (ev) {
            const reason = str(ev.reason);
            if (st.autoLogin) {
                // Our name went to someone else while we were away.
                ui.loginName.value = st.name;
                st.name = '';
                st.wantRoom = '';
            }
            showLogin();
            ui.loginError.textContent = reason;
        },
        entered (ev) {
            // The backoff starts over only once we are in: a server that
            // takes the connection and closes it (chat full) is not hammered.
            st.attempt = 0;
            const room = str(ev.room);
            st.name = str(ev.name);
            st.phase = 'chat';
            st.pendingUsers = [];
            st.pendingRooms = [];
            ui.me.textContent = st.name;
            ui.me.hidden = false;
            ui.login.hidden = true;
            ui.chat.hidden = false;
            ui.input.disabled = false;
            if (document.activeElement === ui.loginName || document.activeElement === ui.loginGo ||
                document.activeElement === document.body) {
                ui.input.focus();
            }
            const history = Array.isArray(ev.history) ? ev.history : [];
            const back = st.wantRoom;
            if (back && !sameRoom(back, room)) {
                // Logged in again after a reconnect, into general: go on
                // to the room we were in; the pane stays as it was.
                st.wantRoom = '';
                st.hopRoom = room;
                send('/join ' + back);
                return;
            }
            st.wantRoom = '';
            st.hopRoom = '';
            st.room = room;
            ui.roomTitle.textContent = room;
            ui.usersTitle.textContent = 'Users in ' + room;
            if (back) {
                // Back in the room we were in: show only what we missed.
                const left = new Map(st.seen);
                const missed = history.filter((h) => {
                    const n = left.get(key(h)) || 0;
                    left.set(key(h), n - 1);
                    return n <= 0;
                });
                notice(missed.length ? 'Reconnected. What you missed in ' + room + ':'
                                     : 'Reconnected to ' + room + '.',
                       'divider');
                missed.forEach((h) => chatLine(h, true));
            } else {
                clearLog();
                notice('You are in ' + room + ' as ' + st.name + '.', 'divider');
                history.forEach((h) => chatLine(h, true));
            }
            scrollToEnd();
            askUsers(false);
            askRooms(false);
            clearInterval(st.roomsTimer);
            st.roomsTimer = setInterval(() => askRooms(false), ROOMS_EVERY_MS);
        },
        line (ev) {
            if (elsewhere(ev)) return;
            chatLine(ev, false);
        },
        joined (ev) {
            if (elsewhere(ev)) return;
            notice(str(ev.name) + ' has joined ' + st.room + '.', 'notice');
            listsSoon();
        },
        left (ev) {
            if (elsewhere(ev)) return;
            notice(str(ev.name) + ' has left ' + st.room + '.', 'notice');
            listsSoon();
        },
        renamed (ev) {
            if (elsewhere(ev)) return;
            const was = str(ev.old), now = str(ev.new);
            if (was === st.name) {
                st.name = now;
                ui.me.textContent = now;
                notice('You are now ' + now + '.', 'notice');
            } else {
                notice(was + ' is now ' + now + '.', 'notice');
            }
            listsSoon();
        },
        private (ev) {
            const li = item('private');
            li.append(stamp(ev.time), tag('private'),
                      span('name', str(ev.from) + ' → ' + str(ev.to)),
                      span('text', str(ev.text)));
            if (str(ev.from) === st.name) li.classList.add('own');
            append(li);
        },
        users (ev) {
            const shown = st.pendingUsers.length ? st.pendingUsers.shift() : false;
            const names = Array.isArray(ev.names) ? ev.names.map(str) : [];
            if (!ev.room || str(ev.room) === st.room) renderUsers(names);
            if (shown) {
                listReply('Users in ' + str(ev.room) + ' (' + names.length + '): ' + names.join(', '));
            }
        },
        rooms (ev) {
            const shown = st.pendingRooms.length ? st.pendingRooms.shift() : false;
            const rooms = Array.isArray(ev.rooms) ? ev.rooms : [];
            renderRooms(rooms);
            if (shown) {
                listReply('Rooms:\n' + rooms.map((r) => (r.mine ? '* ' : '  ') + str(r.name) + ' (' +
                                                    count(r.members) + ')')
                                           .join('\n'));
            }
        },
        reply (ev) {
            const li = item('reply');
            const pre = document.createElement('pre');
            pre.textContent = str(ev.text).replace(/\n+$/, '');
            li.append(pre);
            append(li);
        },
        error (ev) {
            const text = str(ev.text).replace(/\n+$/, '');
            if (st.phase !== 'chat') {
                ui.loginError.textContent = text;
                showLogin();
                return;
            }
            if (st.hopRoom) {
                // The way back to our room is closed: stay where we are.
                const here = st.hopRoom;
                st.hopRoom = '';
                st.room = here;
                ui.roomTitle.textContent = here;
                ui.usersTitle.textContent = 'Users in ' + here;
                clearLog();
                notice('You are in ' + here + ' as ' + st.name + '.', 'divider');
                askUsers(false);
                askRooms(false);
            }
            notice(text, 'error');
        },
        closed (ev) {
            const reason = str(ev.reason).replace(/^\n+|\n+$/g, '');
            if (st.phase === 'name' || (st.phase === 'waiting' && !st.autoLogin)) st.stopped = true;
            if (st.phase === 'chat') {
                notice(reason, 'error');
            } else {
                ui.loginError.textContent = reason;
            }
        },
    };

    function handle (ev) {
        const h = Object.prototype.hasOwnProperty.call(handlers, ev.type) ? handlers[ev.type] : null;
        if (h) h(ev);
    }

    function str (v) {
        return typeof v === 'string' ? v : (v === undefined || v === null ? '' : String(v));
    }

    function count (n) {
        n = Number(n) || 0;
        return n + (n === 1 ? ' member' : ' members');
    }

    // An event of a room we are passing through (general, on the way
    // back to our room after a reconnect) is not shown in our room's pane.
    function elsewhere (ev) {
        return typeof ev.room === 'string' && ev.room !== st.room;
    }

    // Room names compare ignoring ASCII case, as the server compares them.
    function sameRoom (a, b) {
        return a.toLowerCase() === b.toLowerCase();
    }

    function key (h) {
        return str(h.time) + '|' + str(h.name) + '|' + str(h.text);
    }

    // ---- The name prompt -------------------------------------------------

    function showLogin () {
        st.phase = 'name';
        st.autoLogin = false;
        ui.loginGo.textContent = 'Join';
        ui.chat.hidden = true;
        ui.login.hidden = false;
        ui.loginGo.disabled = false;
        ui.loginName.disabled = false;
        ui.loginName.focus();
    }

    function sendName (name, auto) {
        if (!send(name)) return;
        st.phase = 'waiting';
        st.autoLogin = auto;
        ui.loginGo.disabled = true;
        ui.loginError.textContent = '';
    }

    ui.loginForm.addEventListener('submit', (e) => {
        e.preventDefault();
        if (st.phase !== 'name' && st.phase !== 'stopped') return;
        const name = ui.loginName.value;
        if (name === '') {
            ui.loginError.textContent = 'Type a name first.';
            return;
        }
        if (st.phase === 'stopped') {
            st.stopped = false;
            st.pendingName = name;
            st.attempt = 0;
            st.phase = 'connecting';
            ui.loginGo.disabled = true;
            ui.loginError.textContent = '';
            connect();
            return;
        }
        sendName(name, false);
    });

    // ---- The lists -------------------------------------------------------

    function askUsers (shown) {
        if (send('/users')) st.pendingUsers.push(shown);
    }

    function askRooms (shown) {
        if (send('/rooms')) st.pendingRooms.push(shown);
    }

    function listsSoon () {
        clearTimeout(st.usersTimer);
        st.usersTimer = setTimeout(() => {
            askUsers(false);
            askRooms(false);
        }, LISTS_DEBOUNCE_MS);
    }

    function renderUsers (names) {
        ui.users.replaceChildren(...names.map((n) => {
            const li = document.createElement('li');
            li.textContent = n;
            if (n === st.name) li.classList.add('self');
            return li;
        }));
    }

    function renderRooms (rooms) {
        ui.rooms.replaceChildren(...rooms.map((r) => {
            const li = document.createElement('li');
            const b = document.createElement('button');
            b.type = 'button';
            b.append(span('room-name', str(r.name)), span('count', String(Number(r.members) || 0)));
            b.title = str(r.name) + ': ' + count(r.members);
            if (r.mine) {
                li.classList.add('mine');
                b.setAttribute('aria-current', 'true');
            }
            b.addEventListener('click', () => {
                if (!r.mine) send('/join ' + str(r.name));
                ui.input.focus();
            });
            li.append(b);
            return li;
        }));
    }

    // ---- The chat pane ---------------------------------------------------

    function item (cls) {
        const li = document.createElement('li');
        li.className = cls;
        return li;
    }

    function span (cls, text) {
        const s = document.createElement('span');
        s.className = cls;
        s.textContent = text;
        return s;
    }

    function tag (text) {
        return span('tag', text);
    }

    // "YYYY-MM-DD HH:MM:SS": the clock time shows, the whole stamp on hover.
    function stamp (t) {
        const el = document.createElement('time');
        t = str(t);
        el.dateTime = t.replace(' ', 'T');
        el.title = t;
        el.textContent = t.length >= 19 ? t.slice(11, 19) : t;
        return el;
    }

    function chatLine (ev, old) {
        const li = item('line');
        if (old) li.classList.add('history');
        if (str(ev.name) === st.name) li.classList.add('own');
        // A history line the server could not split (a hand-edited file)
        // comes with no time and no name: its text alone.
        if (str(ev.time)) li.append(stamp(ev.time));
        if (str(ev.name)) li.append(span('name', str(ev.name)));
        li.append(span('text', str(ev.text)));
        st.seen.set(key(ev), (st.seen.get(key(ev)) || 0) + 1);
        // Older than any history a server keeps by default (1000 lines):
        // forgotten, oldest first, so a long session stays small.
        for (const k of st.seen.keys()) {
            if (st.seen.size <= SEEN_KEPT) break;
            st.seen.delete(k);
        }
        append(li);
        if (!old && document.hidden) {
            st.unread += 1;
            document.title = '(' + st.unread + ') TCPChat';
        }
    }

    function notice (text, cls) {
        const li = item(cls);
        li.textContent = text;
        append(li);
    }

    function listReply (text) {
        const li = item('list');
        const pre = document.createElement('pre');
        pre.textContent = text;
        li.append(pre);
        append(li);
    }

    function clearLog () {
        ui.log.replaceChildren();
        st.seen.clear();
        ui.jump.hidden = true;
    }

    function nearBottom () {
        const l = ui.log;
        return l.scrollHeight - l.scrollTop - l.clientHeight <= NEAR_BOTTOM_PX;
    }

    // Auto-scroll only when the reader is at the bottom: someone reading
    // back keeps their place and gets a button to jump down.
    function append (li) {
        const follow = nearBottom();
        ui.log.append(li);
        while (ui.log.childElementCount > LOG_KEPT) ui.log.firstElementChild.remove();
        if (follow) {
            scrollToEnd();
        } else {
            ui.jump.hidden = false;
        }
    }

    function scrollToEnd () {
        ui.log.scrollTop = ui.log.scrollHeight;
        ui.jump.hidden = true;
    }

    document.addEventListener('visibilitychange', () => {
        if (document.hidden) return;
        st.unread = 0;
        document.title = 'TCPChat';
    });

    ui.log.addEventListener('scroll', () => {
        if (nearBottom()) ui.jump.hidden = true;
    });
    ui.jump.addEventListener('click', () => {
        scrollToEnd();
        ui.input.focus();
    });

    // ---- The input -------------------------------------------------------

    ui.sendForm.addEventListener('submit', (e) => {
        e.preventDefault();
        const text = ui.input.value;
        if (text === '') return;
        if (!send(text)) {
            notice('Not connected: your line is kept, send it again once reconnected.', 'error');
            return;
        }
        if (/^\/users(\s|$)/i.test(text)) st.pendingUsers.push(true);
        if (/^\/rooms(\s|$)/i.test(text)) st.pendingRooms.push(true);
        if (/^\/quit(\s|$)/i.test(text)) st.quitting = true;
        if (st.sent[st.sent.length - 1] !== text) st.sent.push(text);
        if (st.sent.length > SENT_KEPT) st.sent.shift();
        st.sentAt = st.sent.length;
        st.draft = '';
        ui.input.value = '';
    });

    // Up/Down walk the lines sent, like a shell; the line being typed is
    // kept as the bottom of the list.
    ui.input.addEventListener('keydown', (e) => {
        if (e.key === 'Escape') {
            scrollToEnd();
            return;
        }
        if (e.key === 'PageUp' || e.key === 'PageDown') {
            // Reading back without leaving the input (keyboard only).
            e.preventDefault();
            const page = Math.max(40, ui.log.clientHeight - NEAR_BOTTOM_PX);
            ui.log.scrollBy(0, e.key === 'PageUp' ? -page : page);
            return;
        }
        if (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') return;
        if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
        if (st.sentAt === st.sent.length) st.draft = ui.input.value;
        const next = st.sentAt + (e.key === 'ArrowUp' ? -1 : 1);
        if (next < 0 || next > st.sent.length) return;
        e.preventDefault();
        st.sentAt = next;
        ui.input.value = next === st.sent.length ? st.draft : st.sent[next];
        const end = ui.input.value.length;
        ui.input.setSelectionRange(end, end);
    });

    ui.loginGo.disabled = true;
    connect();
}());
