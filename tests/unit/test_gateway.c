/* SPDX-License-Identifier: MIT */
/*  Unit tests for the gateway actor, driven directly.

    The test plays the hub and the rooms. It binds a PAIR at the hub's
    endpoint before starting the gateway (which connects to it), opens the
    listening socket the gateway takes over (127.0.0.1, a port the kernel
    picks), and talks to the gateway through real TCP clients on the one
    side and ZeroMQ messages on the other:

      - every message the gateway sends the hub (NAME LINE CMD NOTICE
        CLOSED RELEASED) is checked exactly, in order;
      - a room is a PAIR the test binds at an endpoint of its own, which it
        announces with ATTACH from the fake hub; the room then sends OUT,
        ENTER, RELEASE, LABEL and BYE on it;
      - every byte a client receives is checked exactly (timestamps as a
        pattern, CHECK_TS).

    A client id is learnt from the first NAME the gateway sends for it.
    "Nothing arrives" is checked either with a marker sent afterwards on
    the same path (exact, no waiting) or by watching for QUIET_MS.

    Every wait is bounded (WAIT_MS for what must arrive); a watchdog ends
    the binary should a test ever hang.                                   */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "actor.h"
#include "actor_check.h"
#include "config.h"
#include "endpoints.h"
#include "framer.h"
#include "gateway.h"
#include "listener.h"
#include "messages.h"
#include "metrics.h"
#include "protocol.h"

#define TS        CHECK_TS
#define WAIT_MS   5000 /* for bytes and messages we expect */
#define QUIET_MS  300  /* how long "nothing arrives" is watched */
#define MAX_ROOMS 32

#define PROMPT(name) "[" TS "][" name "]:"
#define NAME_PROMPT  PROTOCOL_NAME_PROMPT

typedef struct {
    int      fd;
    uint64_t id;
} client_t;

static struct {
    zactor_t *actor;
    zsock_t  *hub;               /* the fake hub's PAIR */
    zsock_t  *rooms [MAX_ROOMS]; /* the fake rooms' PAIRs */
    int       port;
    config_t  config;
    unsigned  room_seq;
    bool      writer_running; /* test_hub_backlog_loses_nothing */
    pthread_t writer;
    int       writer_fd;
} s_gw;

/* ------------------------------------------------------------------ */
/*  The gateway and the fake hub                                       */

/*  Sets up the defaults but max_clients, with no --rate limit (the tests
    that want one set it), for gw_launch; tests may change s_gw.config
    in between.                                                          */
static void
gw_prepare (int max_clients)
{
    static unsigned seq;
    check_watchdog_arm (CHECK_WATCHDOG_S);
    memset (&s_gw, 0, sizeof s_gw);
    config_defaults (&s_gw.config);
    s_gw.config.max_clients = max_clients;
    s_gw.config.rate = 0;
    snprintf (s_gw.config.endpoint, sizeof s_gw.config.endpoint, "inproc://test-gw-%d-%u",
              (int) getpid (), ++seq);
}

/*  Starts the gateway on s_gw.config, the fake hub bound first.         */
static void
gw_launch (void)
{
    char endpoint [ENDPOINT_MAX + 1] = "@";
    endpoint_hub (&s_gw.config, 0, endpoint + 1);
    assert_true (strlen (endpoint) > strlen (s_gw.config.endpoint));
    s_gw.hub = check_socket_new (endpoint);
    assert_non_null (s_gw.hub);

    //  Port 0: the kernel picks a free port, so no other process can
    //  take it between our choice and the bind.
    char error [256] = "";
    int  listener = listener_open ("127.0.0.1", 0, error, sizeof error);
    if (listener < 0)
        fail_msg ("listener_open: %s", error);
    struct sockaddr_in addr;
    socklen_t          len = sizeof addr;
    assert_int_equal (getsockname (listener, (struct sockaddr *) &addr, &len), 0);
    assert_int_equal (addr.sin_family, AF_INET);
    s_gw.port = ntohs (addr.sin_port);
    assert_true (s_gw.port > 0);

    gateway_args_t *args = (gateway_args_t *) zmalloc (sizeof *args);
    assert_non_null (args);
    args->config = s_gw.config;
    args->listener = listener;
    s_gw.actor = zactor_new (gateway_actor, args); /* takes args */
    assert_non_null (s_gw.actor);
}

static void
gw_start (int max_clients)
{
    gw_prepare (max_clients);
    gw_launch ();
}

/*  Closes everything, checking nothing: also after a failure.           */
static int
gw_teardown (void **state)
{
    (void) state;
    if (s_gw.writer_running) {
        //  A writer thread left behind by a failure: unblock it, wait.
        shutdown (s_gw.writer_fd, SHUT_RDWR);
        pthread_join (s_gw.writer, NULL);
        s_gw.writer_running = false;
    }
    //  As when the server stops: the rooms say BYE, then the gateway goes.
    //  Closed clients spare it waiting to flush what they are owed.
    for (size_t i = 0; i < MAX_ROOMS; i++)
        if (s_gw.rooms [i])
            msg_send_id (s_gw.rooms [i], MSG_BYE, 0);
    tcp_close_all ();
    zactor_destroy (&s_gw.actor);
    for (size_t i = 0; i < MAX_ROOMS; i++)
        zsock_destroy (&s_gw.rooms [i]);
    zsock_destroy (&s_gw.hub);
    check_watchdog_stop ();
    return 0;
}

/*  A new room: a PAIR bound at a fresh endpoint, announced to the
    gateway with ATTACH from the fake hub.                               */
static zsock_t *
room_new (void)
{
    size_t slot = 0;
    while (slot < MAX_ROOMS && s_gw.rooms [slot])
        slot++;
    assert_true (slot < MAX_ROOMS);
    char endpoint [200];
    snprintf (endpoint, sizeof endpoint, "%s/room-%u", s_gw.config.endpoint, ++s_gw.room_seq);
    char bind [sizeof endpoint + 1];
    snprintf (bind, sizeof bind, "@%s", endpoint);
    zsock_t *room = check_socket_new (bind);
    assert_non_null (room);
    s_gw.rooms [slot] = room;
    assert_int_equal (msg_send_text (s_gw.hub, MSG_ATTACH, 0, endpoint, strlen (endpoint)), 0);
    return room;
}

/*  The usual gateway (10 clients) and one room: the room's PAIR.       */
static zsock_t *
gw_start_room (void)
{
    gw_start (10);
    return room_new ();
}

/*  Closes a room's PAIR (after its BYE).                                */
static void
room_close (zsock_t *room)
{
    for (size_t i = 0; i < MAX_ROOMS; i++)
        if (s_gw.rooms [i] == room)
            zsock_destroy (&s_gw.rooms [i]);
}

/*  The room's last message: BYE. Then, until the gateway has left the
    pipe, more OUTs to watch (for whom): none of them may ever be read.
    Finally the test closes its end.                                     */
static void
room_bye_at (const char *file, int line, zsock_t *room, uint64_t watch)
{
    if (msg_send_id (room, MSG_BYE, 0) != 0)
        check_fail_at (file, line, "cannot send BYE");
    zsock_set_sndtimeo (room, 0);
    int64_t deadline = check_now_ms () + WAIT_MS;
    for (;;) {
        zmsg_t *msg = msg_new_out (0, "after bye\n", 10, &watch, 1, false, "", 0);
        if (msg_send (&msg, room) != 0)
            break;  //  Nobody at the other end any more
        if (check_now_ms () > deadline)
            check_fail_at (file, line, "the gateway still holds the pipe %d ms after BYE", WAIT_MS);
        zclock_sleep (1);
    }
    room_close (room);
}
#define room_bye(room, watch) room_bye_at (__FILE__, __LINE__, (room), (watch))

/* ------------------------------------------------------------------ */
/*  Sending as the hub and the rooms                                   */

static void
send_id (zsock_t *sock, msg_kind_t kind, uint64_t id)
{
    assert_int_equal (msg_send_id (sock, kind, id), 0);
}

static void
send_text (zsock_t *sock, msg_kind_t kind, uint64_t id, const char *text)
{
    assert_int_equal (msg_send_text (sock, kind, id, text, strlen (text)), 0);
}

static void
send_enter (zsock_t *room, uint64_t id, const char *name, const char *history)
{
    zmsg_t *msg = msg_new_enter (id, name, history, strlen (history), "", 0);
    assert_int_equal (msg_send (&msg, room), 0);
}

static void
send_out_ids (zsock_t *sock, uint64_t skip, const char *text, const uint64_t *ids, size_t n,
              bool prompt_skip)
{
    zmsg_t *msg = msg_new_out (skip, text, strlen (text), ids, n, prompt_skip, "", 0);
    assert_int_equal (msg_send (&msg, sock), 0);
}

/*  send_out (sock, skip, text, prompt_skip, id, id...)                  */
#define send_out(sock, skip, text, prompt_skip, ...)                                               \
    send_out_ids ((sock), (skip), (text), CHECK_IDS (__VA_ARGS__), (prompt_skip))

#define send_refuse(id, reason) send_text (s_gw.hub, MSG_REFUSE, (id), (reason))

/*  A room's last word for id: "1" it moves on, "0" it left.             */
static void
send_release (zsock_t *room, uint64_t id, bool moving)
{
    zmsg_t *msg = msg_new_release (id, moving);
    assert_int_equal (msg_send (&msg, room), 0);
}

/* ------------------------------------------------------------------ */
/*  Clients                                                            */

/*  The clients are client_check's (tests/client_check.h); a test here
    keeps the descriptor as a client's handle.                            */
static tcp_client_t *
client_of (int fd)
{
    tcp_client_t *c = tcp_by_fd (fd);
    if (!c)
        fail_msg ("fd %d is no open client", fd);
    return c;
}

static void
client_close (int fd)
{
    tcp_close (client_of (fd));
}

/*  A TCP connection to the gateway (nothing read yet), blocking with
    bounded sends and receives, as the raw calls some tests make expect.
    rcvbuf > 0: the socket's receive buffer, set before connecting so the
    window is small from the start (the kernel then holds little of what
    the gateway sends it).                                               */
static int
client_connect_rcvbuf (int rcvbuf)
{
    int fd = tcp_fd (tcp_connect_at (s_gw.port, false, rcvbuf, __FILE__, __LINE__));
    fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
    struct timeval tv = {.tv_sec = WAIT_MS / 1000, .tv_usec = 0};
    setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int on = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    return fd;
}

static int
client_connect (void)
{
    return client_connect_rcvbuf (0);
}

/*  The next byte within timeout_ms: the byte, -1 at EOF, -2 when none
    came (or the connection broke).                                      */
static int
next_byte (int fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    unsigned char byte;
    if (poll (&pfd, 1, timeout_ms) != 1)
        return -2;
    ssize_t r = recv (fd, &byte, 1, MSG_DONTWAIT);
    return r == 1 ? byte : r == 0 ? -1 : -2;
}

#define send_bytes_at(file, line, fd, data, len)                                                   \
    tcp_send_at (client_of (fd), (data), (len), (file), (line))
#define send_bytes(fd, data, len) send_bytes_at (__FILE__, __LINE__, (fd), (data), (len))
#define send_str(fd, text)        send_bytes_at (__FILE__, __LINE__, (fd), (text), strlen (text))

/*  The next bytes the client receives match pattern (CHECK_TS for a
    stamp), are exactly data[0..len), are nothing but EOF, or nothing
    at all for QUIET_MS.                                                 */
#define expect_recv_at(file, line, fd, pattern)                                                    \
    tcp_expect_at (client_of (fd), (pattern), (file), (line))
#define expect_bytes_at(file, line, fd, data, len)                                                 \
    tcp_expect_n_at (client_of (fd), (data), (len), (file), (line))
#define expect_recv(fd, pattern)    expect_recv_at (__FILE__, __LINE__, (fd), (pattern))
#define expect_bytes(fd, data, len) expect_bytes_at (__FILE__, __LINE__, (fd), (data), (len))
#define expect_eof(fd)              tcp_expect_eof (client_of (fd))
#define expect_quiet(fd)            tcp_expect_silence (client_of (fd), QUIET_MS)

/*  A client's prompt in a room, for a name known at run time.           */
static void
expect_client_prompt_at (const char *file, int line, int fd, const char *name)
{
    char pattern [256];
    snprintf (pattern, sizeof pattern, "%s%s%s", "[" TS "][", name, "]:");
    expect_recv_at (file, line, fd, pattern);
}
#define expect_client_prompt(fd, name) expect_client_prompt_at (__FILE__, __LINE__, (fd), (name))

/* ------------------------------------------------------------------ */
/*  The fake hub's side                                                */

#define expect_hub(type, id, ...)       expect_msg (s_gw.hub, (type), (id), __VA_ARGS__)
#define expect_hub_bare(type, id)       expect_bare (s_gw.hub, (type), (id))
#define expect_closed(id)               expect_hub_bare (MSG_CLOSED, (id))
#define expect_line(id, text)           expect_hub (MSG_LINE, (id), (text))
#define expect_cmd(id, verb, arg, text) expect_hub (MSG_CMD, (id), (verb), (arg), (text))
/*  Client c types `typed`: the hub gets LINE c.id want, or CMD c.id verb
    arg text.                                                            */
#define types_line(c, typed, want)      (send_str ((c).fd, (typed)), expect_line ((c).id, (want)))
#define types_cmd(c, typed, verb, arg, text)                                                       \
    (send_str ((c).fd, (typed)), expect_cmd ((c).id, (verb), (arg), (text)))

/*  NAME for a client whose id we do not know yet: returns the id.       */
static uint64_t
expect_name_at (const char *file, int line, const char *name, size_t len)
{
    check_msg_t got;
    check_recv_at (file, line, s_gw.hub, &got, "NAME");
    if (!msg_is (&got.v, MSG_NAME) || got.v.parts != 1 || got.v.part [0].size != len ||
        memcmp (got.v.part [0].data, name, len) != 0 || got.v.id == 0) {
        print_error ("%s:%d: expected NAME id=? ", file, line);
        check_print_bytes (name, len);
        print_error ("\n    got ");
        check_print_msg (&got.v);
        check_msg_free (&got);
        _fail (file, line);
    }
    uint64_t id = got.v.id;
    check_msg_free (&got);
    return id;
}
#define expect_name(name) expect_name_at (__FILE__, __LINE__, (name), strlen (name))

/*  A one-part message of exactly these bytes (NULs allowed).            */
static void
expect_hub_bytes_at (const char *file, int line, msg_kind_t kind, uint64_t id, const char *data,
                     size_t len)
{
    check_msg_t got;
    const char *type = msg_spec (kind)->type;
    check_recv_at (file, line, s_gw.hub, &got, type);
    if (!msg_is (&got.v, kind) || got.v.id != id || got.v.parts != 1 ||
        got.v.part [0].size != len || memcmp (got.v.part [0].data, data, len) != 0) {
        print_error ("%s:%d: expected %s id=0x%llx ", file, line, type, (unsigned long long) id);
        check_print_bytes (data, len < 200 ? len : 200);
        print_error (" (%zu bytes)\n    got ", len);
        check_print_msg (&got.v);
        check_msg_free (&got);
        _fail (file, line);
    }
    check_msg_free (&got);
}
#define expect_hub_bytes(type, id, data, len)                                                      \
    expect_hub_bytes_at (__FILE__, __LINE__, (type), (id), (data), (len))

/*  The gateway sends the hub nothing for QUIET_MS.                      */
static void
expect_hub_quiet_at (const char *file, int line)
{
    zsock_set_rcvtimeo (s_gw.hub, QUIET_MS);
    zmsg_t *msg = msg_recv (s_gw.hub);
    zsock_set_rcvtimeo (s_gw.hub, CHECK_WAIT_MS);
    if (msg)
        check_fail_unexpected (file, line, "nothing for the hub", msg);
}
#define expect_hub_quiet() expect_hub_quiet_at (__FILE__, __LINE__)

/* ------------------------------------------------------------------ */
/*  Whole steps                                                        */

/*  Connects and reads the welcome: banner, then the name prompt.        */
static int
client_new_at (const char *file, int line)
{
    int    fd = client_connect ();
    size_t banner = strlen (PROTOCOL_BANNER), prompt = strlen (NAME_PROMPT);
    char  *welcome = (char *) malloc (banner + prompt);
    assert_non_null (welcome);
    memcpy (welcome, PROTOCOL_BANNER, banner);
    memcpy (welcome + banner, NAME_PROMPT, prompt);
    expect_bytes_at (file, line, fd, welcome, banner + prompt);
    free (welcome);
    return fd;
}
#define client_new() client_new_at (__FILE__, __LINE__)

/*  Types a name; returns the id the gateway's NAME carries.             */
static uint64_t
client_name_at (const char *file, int line, int fd, const char *name)
{
    char text [256];
    snprintf (text, sizeof text, "%s\n", name);
    send_bytes_at (file, line, fd, text, strlen (text));
    return expect_name_at (file, line, name, strlen (name));
}

/*  The room lets it in: history, then its prompt.                       */
static void
client_enter_at (const char *file, int line, zsock_t *room, const client_t *c, const char *name,
                 const char *history)
{
    send_enter (room, c->id, name, history);
    expect_bytes_at (file, line, c->fd, history, strlen (history));
    expect_client_prompt_at (file, line, c->fd, name);
}

/*  A client in room: connected, named, entered (no history).            */
static client_t
client_login_at (const char *file, int line, zsock_t *room, const char *name)
{
    client_t c;
    c.fd = client_new_at (file, line);
    c.id = client_name_at (file, line, c.fd, name);
    client_enter_at (file, line, room, &c, name, "");
    return c;
}
#define client_login(room, name) client_login_at (__FILE__, __LINE__, (room), (name))

/*  A marker through room to c alone: the very next bytes c receives.
    Proves nothing else was written to c before it.                      */
static void
expect_only_marker_at (const char *file, int line, zsock_t *room, const client_t *c,
                       const char *name)
{
    static unsigned seq;
    char            text [64];
    snprintf (text, sizeof text, "marker %u\n", ++seq);
    send_out (room, 0, text, 0, c->id);
    expect_bytes_at (file, line, c->fd, text, strlen (text));
    expect_client_prompt_at (file, line, c->fd, name);
}
#define expect_nothing_before_marker(room, c, name)                                                \
    expect_only_marker_at (__FILE__, __LINE__, (room), &(c), (name))

/*  A line from another client reaches the hub next: proves nothing
    else was sent to the hub before it.                                   */
static void
expect_hub_next_is_line_at (const char *file, int line, const client_t *c)
{
    static unsigned seq;
    char            text [64];
    snprintf (text, sizeof text, "hub marker %u\n", ++seq);
    send_bytes_at (file, line, c->fd, text, strlen (text));
    expect_hub_bytes_at (file, line, MSG_LINE, c->id, text, strlen (text) - 1);
}
#define expect_hub_nothing_before_line(c) expect_hub_next_is_line_at (__FILE__, __LINE__, &(c))

/* ------------------------------------------------------------------ */
/*  Connecting and naming                                              */

static void
test_welcome_is_banner_then_prompt (void **state)
{
    (void) state;
    gw_start (10);
    int fd = client_connect ();
    expect_bytes (fd, PROTOCOL_BANNER, strlen (PROTOCOL_BANNER));
    expect_bytes (fd, NAME_PROMPT, strlen (NAME_PROMPT));
    expect_quiet (fd);
    //  A connection alone tells the hub nothing.
    expect_hub_quiet ();
}

static void
test_name_is_trimmed_and_waits_for_the_verdict (void **state)
{
    (void) state;
    gw_start (10);
    int fd = client_new ();
    send_str (fd, "  bob \r\n");
    send_str (fd, "alice\n");
    uint64_t id = expect_name ("bob");
    //  The second name waits for the hub's verdict on the first.
    expect_hub_quiet ();
    send_refuse (id, "Name is already taken.");
    expect_recv (fd, "Name is already taken.\n" NAME_PROMPT);
    expect_hub (MSG_NAME, id, "alice");
    //  And again: a refusal with nothing pending leaves it at the prompt.
    send_refuse (id, "Name is already taken.");
    expect_recv (fd, "Name is already taken.\n" NAME_PROMPT);
    expect_hub_quiet ();
    expect_quiet (fd);
    //  Tabs and spaces trimmed, the name otherwise as typed (not cleaned).
    send_str (fd, "\t c\x1b[31mx y \t\r\n");
    expect_hub (MSG_NAME, id, "c\x1b[31mx y");
    send_refuse (id, "Name can only contain printable characters.");
    expect_recv (fd, "Name can only contain printable characters.\n" NAME_PROMPT);
    //  NUL bytes too.
    send_bytes (fd, "a\0b\n", 4);
    expect_hub_bytes (MSG_NAME, id, "a\0b", 3);
    send_refuse (id, "Name can only contain printable characters.");
    expect_recv (fd, "Name can only contain printable characters.\n" NAME_PROMPT);
    //  An empty line is a name too (the hub refuses it).
    send_str (fd, " \r\n");
    expect_hub (MSG_NAME, id, "");
    send_refuse (id, "Name cannot be empty.");
    expect_recv (fd, "Name cannot be empty.\n" NAME_PROMPT);
    //  Commands other than /quit are names for the hub to judge.
    send_str (fd, "/help\n");
    expect_hub (MSG_NAME, id, "/help");
}

static void
test_pipelined_names_one_at_a_time (void **state)
{
    (void) state;
    gw_start (10);
    int fd = client_new ();
    send_str (fd, "ann\nbea\ncid\n");
    uint64_t id = expect_name ("ann");
    expect_hub_quiet ();
    send_refuse (id, "Name is already taken.");
    expect_recv (fd, "Name is already taken.\n" NAME_PROMPT);
    expect_hub (MSG_NAME, id, "bea");
    expect_hub_quiet ();
    send_refuse (id, "Name is already taken.");
    expect_recv (fd, "Name is already taken.\n" NAME_PROMPT);
    expect_hub (MSG_NAME, id, "cid");
    //  The verdict for a good name is the room's ENTER.
    zsock_t *room = room_new ();
    client_t c = {fd, id};
    client_enter_at (__FILE__, __LINE__, room, &c, "cid", "");
    expect_quiet (fd);
}

static void
test_ids_are_distinct (void **state)
{
    (void) state;
    gw_start (10);
    uint64_t ids [5];
    int      fds [5];
    for (int i = 0; i < 5; i++) {
        fds [i] = client_new ();
        char name [16];
        snprintf (name, sizeof name, "u%d", i);
        ids [i] = client_name_at (__FILE__, __LINE__, fds [i], name);
        assert_true (ids [i] != 0);
        assert_true ((ids [i] & 0xffffffffULL) < 10); /* the slot */
        for (int j = 0; j < i; j++)
            assert_true (ids [i] != ids [j]);
    }
}

/*  What is typed before the verdict is read in the state the verdict
    leaves: chat lines once in a room.                                    */
static void
test_lines_typed_before_the_verdict (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t bob;
    bob.fd = client_new ();
    send_str (bob.fd, "bob\nhello\n/join dev\n");
    bob.id = expect_name ("bob");
    expect_hub_quiet ();
    client_enter_at (__FILE__, __LINE__, room, &bob, "bob", "");
    expect_line (bob.id, "hello");
    expect_cmd (bob.id, "join", "dev", "");
    //  /quit typed ahead: closed once in the room.
    client_t cid;
    cid.fd = client_new ();
    send_str (cid.fd, "cid\n/quit\n");
    cid.id = expect_name ("cid");
    send_enter (room, cid.id, "cid", "");
    expect_closed (cid.id);
    expect_recv (cid.fd, PROMPT ("cid"));
    send_release (room, cid.id, false);
    expect_eof (cid.fd);
    expect_hub_nothing_before_line (bob);
}

/* ------------------------------------------------------------------ */
/*  In a room                                                          */

static void
test_enter_writes_history_then_prompt (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t bob;
    bob.fd = client_new ();
    bob.id = client_name_at (__FILE__, __LINE__, bob.fd, "bob");
    send_enter (room, bob.id, "bob", "[2020-01-02 03:04:05][x]:old\n");
    expect_recv (bob.fd, "[2020-01-02 03:04:05][x]:old\n" PROMPT ("bob"));
    expect_quiet (bob.fd);
    //  Its input flows: to the hub as LINE.
    types_line (bob, "hello\n", "hello");
}

static void
test_chat_lines_are_cleaned (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t bob = client_login (room, "bob");
    types_line (bob, "hi\x1b[2Jthere\x07\n", "hithere");
    //  A blank line goes on as it is: the room decides it is blank.
    types_line (bob, "   \n", "   ");
    types_line (bob, "\n", "");
    //  One trailing CR removed; other control bytes, NUL included, too.
    send_bytes (bob.fd, "a\rb\0c\x7f\td\r\n", 10);
    expect_line (bob.id, "abc\td");
    //  OSC, C1 control, invalid UTF-8 (0xFE: a 0xFF would start telnet).
    send_str (bob.fd, "x\x1b]0;title\x07y\xc2\x85z\xfew\n");
    expect_line (bob.id, "xyz\xef\xbf\xbdw");
    //  Valid UTF-8 is kept.
    types_line (bob, "caf\xc3\xa9 \xe2\x82\xac\n", "caf\xc3\xa9 \xe2\x82\xac");
    //  Not a command: the first byte is not '/' (it is cleaned afterwards).
    types_line (bob, "\x1b[1m/join x\n", "/join x");
    types_line (bob, " /join x\n", " /join x");
    //  Nothing was written to bob meanwhile.
    expect_nothing_before_marker (room, bob, "bob");
}

static void
test_commands_are_parsed (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t bob = client_login (room, "bob");
    //  /msg: target and text cleaned, the text kept as typed otherwise.
    types_cmd (bob, "/msg Bob hey \x1b[31m you\n", "msg", "Bob", "hey  you");
    types_cmd (bob,
               "/MSG  B\x1b[1mo\x07"
               "b \t hi there  \r\n",
               "msg", "Bob", "hi there  ");
    types_cmd (bob, "/msg\n", "msg", "", "");
    types_cmd (bob, "/msg ann\n", "msg", "ann", "");
    //  /join and /name: the argument trimmed, as typed (never cleaned).
    types_cmd (bob, "/join dev\n", "join", "dev", "");
    types_cmd (bob, "/Join \t d\x1b[31mev  \n", "join", "d\x1b[31mev", "");
    types_cmd (bob, "/join\n", "join", "", "");
    types_cmd (bob, "/name  New Name \n", "name", "New Name", "");
    //  The others ignore what follows the verb.
    types_cmd (bob, "/help me\n", "help", "", "");
    types_cmd (bob, "/ROOMS\n", "rooms", "", "");
    types_cmd (bob, "/users\tall\n", "users", "", "");
    //  Unknown: verb "?", what was typed (cleaned) as the argument.
    types_cmd (bob, "/bogus\n", "?", "/bogus", "");
    types_cmd (bob, "/bo\x1b[1mgus\x07 with args\n", "?", "/bogus", "");
    types_cmd (bob, "/\n", "?", "/", "");
    types_cmd (bob, "/helpme\n", "?", "/helpme", "");
    expect_nothing_before_marker (room, bob, "bob");
}

static void
test_out_to_members (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t a = client_login (room, "A");
    client_t b = client_login (room, "B");
    client_t c = client_login (room, "C");
    //  The author gets a bare prompt, the others the text and their own prompt.
    send_out (room, a.id, "\n[2020-01-02 03:04:05][A]:hi\n", true, a.id, b.id, c.id);
    expect_recv (a.fd, PROMPT ("A"));
    expect_recv (b.fd, "\n[2020-01-02 03:04:05][A]:hi\n" PROMPT ("B"));
    expect_recv (c.fd, "\n[2020-01-02 03:04:05][A]:hi\n" PROMPT ("C"));
    expect_nothing_before_marker (room, a, "A");
    //  Without the flag the author gets nothing at all.
    send_out (room, a.id, "\n[2020-01-02 03:04:05][A]:again\n", 0, a.id, b.id, c.id);
    expect_recv (b.fd, "\n[2020-01-02 03:04:05][A]:again\n" PROMPT ("B"));
    expect_recv (c.fd, "\n[2020-01-02 03:04:05][A]:again\n" PROMPT ("C"));
    expect_nothing_before_marker (room, a, "A");
    //  Only the ids listed: the author need not be one of them.
    send_out (room, a.id, "to C\n", true, c.id);
    expect_recv (c.fd, "to C\n" PROMPT ("C"));
    expect_nothing_before_marker (room, a, "A");
    expect_nothing_before_marker (room, b, "B");
    //  No ids: nothing to anyone.
    send_out_ids (room, 0, "nobody\n", NULL, 0, 0);
    //  Empty text: a fresh prompt.
    send_out (room, 0, "", 0, b.id);
    expect_recv (b.fd, PROMPT ("B"));
    //  Many OUTs in a row arrive in order.
    for (int i = 0; i < 50; i++) {
        char text [32];
        snprintf (text, sizeof text, "line %d\n", i);
        send_out (room, 0, text, 0, a.id, b.id);
    }
    for (int i = 0; i < 50; i++) {
        char pattern [64];
        snprintf (pattern, sizeof pattern, "line %d\n" PROMPT ("A"), i);
        expect_recv (a.fd, pattern);
        snprintf (pattern, sizeof pattern, "line %d\n" PROMPT ("B"), i);
        expect_recv (b.fd, pattern);
    }
    expect_nothing_before_marker (room, a, "A");
    expect_nothing_before_marker (room, b, "B");
    expect_nothing_before_marker (room, c, "C");
}

/*  OUT and ENTER also come from the hub's pipe; OUT skips clients that
    are not in a room.                                                    */
static void
test_out_skips_clients_not_in_a_room (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t a = client_login (room, "A");
    client_t w;
    w.fd = client_new ();
    w.id = client_name_at (__FILE__, __LINE__, w.fd, "w");
    send_out (room, 0, "to both\n", 0, a.id, w.id);
    expect_recv (a.fd, "to both\n" PROMPT ("A"));
    send_out (s_gw.hub, 0, "from the hub\n", 0, a.id, w.id);
    expect_recv (a.fd, "from the hub\n" PROMPT ("A"));
    //  w, waiting for its verdict, got none of it.
    send_refuse (w.id, "Name is already taken.");
    expect_recv (w.fd, "Name is already taken.\n" NAME_PROMPT);
    send_out (room, 0, "still not\n", 0, w.id);
    //  An ENTER for a client not waiting for a verdict is ignored too.
    send_enter (room, w.id, "w", "history\n");
    send_out (room, 0, "after\n", 0, a.id);
    expect_recv (a.fd, "after\n" PROMPT ("A"));
    expect_quiet (w.fd);
    send_str (w.fd, "w2\n");
    expect_hub (MSG_NAME, w.id, "w2");
    //  A REFUSE for a client in a room is ignored.
    send_refuse (a.id, "Name is already taken.");
    expect_nothing_before_marker (room, a, "A");
    types_line (a, "still chatting\n", "still chatting");
}

static void
test_enter_again_moves_the_client (void **state)
{
    (void) state;
    gw_start (10);
    zsock_t *general = room_new ();
    zsock_t *dev = room_new ();
    client_t bob = client_login (general, "bob");
    types_cmd (bob, "/join dev\n", "join", "dev", "");
    send_out (general, 0, "last from general\n", 0, bob.id);
    expect_recv (bob.fd, "last from general\n" PROMPT ("bob"));
    send_release (general, bob.id, true);
    expect_hub_bare (MSG_RELEASED, bob.id);
    send_enter (dev, bob.id, "bob",
                "[2020-01-02 03:04:05][x]:dev1\n[2020-01-02 03:04:06][y]:dev2\n");
    expect_recv (bob.fd,
                 "[2020-01-02 03:04:05][x]:dev1\n[2020-01-02 03:04:06][y]:dev2\n" PROMPT ("bob"));
    types_line (bob, "in dev\n", "in dev");
    expect_nothing_before_marker (dev, bob, "bob");
}

static void
test_release_becomes_released (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t bob = client_login (room, "bob");
    send_release (room, bob.id, true);
    expect_hub_bare (MSG_RELEASED, bob.id);
    //  Passed on even for an id that is gone: the hub sorts that out.
    uint64_t gone = 0x7700000005ULL;
    send_release (room, gone, true);
    expect_hub_bare (MSG_RELEASED, gone);
    //  "0" for a client in a room (not leaving), or no flag at all:
    //  nothing happens.
    send_release (room, bob.id, false);
    send_id (room, MSG_RELEASE, bob.id);
    expect_nothing_before_marker (room, bob, "bob");
    expect_hub_quiet ();
}

static void
test_label_changes_the_prompt (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t bob = client_login (room, "bob");
    client_t ann = client_login (room, "ann");
    send_text (room, MSG_LABEL, bob.id, "robert");
    send_out (room, 0, "bob changed their name to robert\n", 0, bob.id);
    expect_recv (bob.fd, "bob changed their name to robert\n" PROMPT ("robert"));
    send_out (room, ann.id, "\n[2020-01-02 03:04:05][ann]:hi\n", true, ann.id, bob.id);
    expect_recv (bob.fd, "\n[2020-01-02 03:04:05][ann]:hi\n" PROMPT ("robert"));
    expect_recv (ann.fd, PROMPT ("ann"));
    //  A 32-character name of 4-byte characters, the longest there is.
    char longest [32 * 4 + 1] = "";
    for (int i = 0; i < 32; i++)
        strcat (longest, "\xf0\x9f\x98\x80");
    send_text (room, MSG_LABEL, bob.id, longest);
    send_out (room, 0, "", 0, bob.id);
    expect_client_prompt (bob.fd, longest);
    expect_nothing_before_marker (room, ann, "ann");
}

/* ------------------------------------------------------------------ */
/*  Framing                                                            */

static void
test_lines_split_across_writes (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t carol;
    carol.fd = client_new ();
    //  Byte by byte at the name prompt, a pause now and then so that the
    //  gateway really reads the pieces apart.
    const char *name = "  carol \r\n";
    for (const char *p = name; *p; p++) {
        send_bytes (carol.fd, p, 1);
        zclock_sleep (2);
    }
    carol.id = expect_name ("carol");
    client_enter_at (__FILE__, __LINE__, room, &carol, "carol", "");
    //  And in a room.
    const char *line = "/msg bob hi \x1b[1mthere\r\nhello\n";
    for (const char *p = line; *p; p++) {
        send_bytes (carol.fd, p, 1);
        zclock_sleep (2);
    }
    expect_cmd (carol.id, "msg", "bob", "hi there");
    expect_line (carol.id, "hello");
    //  Line ends anywhere in a write.
    send_str (carol.fd, "hel");
    zclock_sleep (20);
    send_str (carol.fd, "lo\nwor");
    zclock_sleep (20);
    send_str (carol.fd, "ld\r");
    zclock_sleep (20);
    types_line (carol, "\n", "hello");
    expect_line (carol.id, "world");
    expect_nothing_before_marker (room, carol, "carol");
}

static void
test_many_lines_in_one_write (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t dan = client_login (room, "dan");
    types_line (dan, "one\ntwo\r\n\nthree\n/users\nfour\n/join x\nfive\n", "one");
    expect_line (dan.id, "two");
    expect_line (dan.id, "");
    expect_line (dan.id, "three");
    expect_cmd (dan.id, "users", "", "");
    expect_line (dan.id, "four");
    expect_cmd (dan.id, "join", "x", "");
    expect_line (dan.id, "five");
    //  A thousand lines in one write, in order.
    size_t size = 1000 * 8;
    char  *block = (char *) malloc (size + 1);
    assert_non_null (block);
    char *p = block;
    for (int i = 0; i < 1000; i++)
        p += sprintf (p, "n%05d\n", i);
    send_bytes (dan.fd, block, (size_t) (p - block));
    free (block);
    for (int i = 0; i < 1000; i++) {
        char text [16];
        snprintf (text, sizeof text, "n%05d", i);
        expect_line (dan.id, text);
    }
    expect_nothing_before_marker (room, dan, "dan");
}

/*  n copies of c, then tail: a heap string.                             */
static char *
repeat (char c, size_t n, const char *tail)
{
    char *s = (char *) malloc (n + strlen (tail) + 1);
    assert_non_null (s);
    memset (s, c, n);
    strcpy (s + n, tail);
    return s;
}

static void
test_too_long_at_the_name_prompt (void **state)
{
    (void) state;
    gw_start (10);
    int   fd = client_new ();
    char *line = repeat ('x', 5000, "\n");
    send_str (fd, line);
    free (line);
    expect_recv (fd, PROTOCOL_TOO_LONG NAME_PROMPT);
    expect_quiet (fd);
    expect_hub_quiet ();
    //  The rest of that line was dropped; the next one is a name.
    send_str (fd, "bob\n");
    uint64_t id = expect_name ("bob");
    send_refuse (id, "Name is already taken.");
    expect_recv (fd, "Name is already taken.\n" NAME_PROMPT);
    //  4096 bytes (CR LF not counted) is not too long.
    line = repeat ('y', LINE_MAX_BYTES, "\r\n");
    send_str (fd, line);
    line [LINE_MAX_BYTES] = 0;
    expect_hub (MSG_NAME, id, line);
    free (line);
    send_refuse (id, "Name is too long (max 32 characters).");
    expect_recv (fd, "Name is too long (max 32 characters).\n" NAME_PROMPT);
    //  4097 is.
    line = repeat ('z', LINE_MAX_BYTES + 1, "\n");
    send_str (fd, line);
    free (line);
    expect_recv (fd, PROTOCOL_TOO_LONG NAME_PROMPT);
    send_str (fd, "ann\n");
    expect_hub (MSG_NAME, id, "ann");
}

static void
test_too_long_in_a_room_goes_to_the_hub (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t eve = client_login (room, "eve");
    char    *line = repeat ('x', 10000, "\nafter\n");
    send_str (eve.fd, line);
    free (line);
    expect_hub (MSG_NOTICE, eve.id, PROTOCOL_TOO_LONG);
    expect_line (eve.id, "after");
    //  Not written to eve directly: the room orders its output.
    expect_nothing_before_marker (room, eve, "eve");
    //  The edge: 4096 bytes pass, 4097 do not.
    line = repeat ('y', LINE_MAX_BYTES, "\r\n");
    send_str (eve.fd, line);
    line [LINE_MAX_BYTES] = 0;
    expect_line (eve.id, line);
    free (line);
    line = repeat ('z', LINE_MAX_BYTES + 1, "\n");
    send_str (eve.fd, line);
    free (line);
    expect_hub (MSG_NOTICE, eve.id, PROTOCOL_TOO_LONG);
    //  A too-long command is too long as well.
    line = repeat ('w', 6000, "\n");
    memcpy (line, "/msg bob ", 9);
    send_str (eve.fd, line);
    free (line);
    expect_hub (MSG_NOTICE, eve.id, PROTOCOL_TOO_LONG);
    types_line (eve, "ok\n", "ok");
    expect_nothing_before_marker (room, eve, "eve");
}

/* ------------------------------------------------------------------ */
/*  Leaving                                                            */

static void
test_eof_of_a_named_client_is_closed (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t bob = client_login (room, "bob");
    shutdown (bob.fd, SHUT_WR);
    expect_closed (bob.id);
    //  It may still read: its room's last output reaches it, and the
    //  room's RELEASE "0" behind it closes the connection.
    send_out (room, 0, "last words\n", 0, bob.id);
    expect_recv (bob.fd, "last words\n" PROMPT ("bob"));
    send_release (room, bob.id, false);
    expect_eof (bob.fd);
    //  Messages for it now go nowhere.
    client_t ann = client_login (room, "ann");
    send_out (room, 0, "late\n", 0, bob.id);
    send_enter (room, bob.id, "bob", "");
    send_text (room, MSG_LABEL, bob.id, "x");
    send_refuse (bob.id, "x");
    expect_nothing_before_marker (room, ann, "ann");
    expect_hub_quiet ();
}

static void
test_partial_last_line_is_dropped (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t bob = client_login (room, "bob");
    send_str (bob.fd, "hi\nunfinished");
    shutdown (bob.fd, SHUT_WR);
    expect_line (bob.id, "hi");
    expect_closed (bob.id);
    send_release (room, bob.id, false);
    expect_eof (bob.fd);
}

static void
test_eof_at_the_name_prompt_is_silent (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t ann = client_login (room, "ann");
    int      fd = client_new ();
    send_str (fd, "half a na");
    shutdown (fd, SHUT_WR);
    expect_eof (fd);
    expect_hub_quiet ();
    expect_hub_nothing_before_line (ann);
}

static void
test_quit (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t ann = client_login (room, "ann");
    client_t bob = client_login (room, "bob");
    types_line (bob, "bye\n/quit\n", "bye");
    expect_closed (bob.id);
    send_release (room, bob.id, false);
    expect_eof (bob.fd);
    //  Case and what follows the verb do not matter.
    client_t cid = client_login (room, "cid");
    send_str (cid.fd, "/QUIT now\n");
    expect_closed (cid.id);
    send_release (room, cid.id, false);
    expect_eof (cid.fd);
    //  At the name prompt: closed, and the hub never knew it.
    int fd = client_new ();
    send_str (fd, "  /Quit \r\n");
    expect_eof (fd);
    expect_hub_quiet ();
    expect_hub_nothing_before_line (ann);
}

static void
test_eof_while_waiting_for_the_verdict (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    //  Refused: it gets the reason and is closed, and the hub told.
    int fd = client_new ();
    send_str (fd, "bob\nalice\n");
    shutdown (fd, SHUT_WR);
    uint64_t id = expect_name ("bob");
    send_refuse (id, "Name is already taken.");
    expect_hub (MSG_NAME, id, "alice");
    send_refuse (id, "Name is already taken.");
    expect_closed (id);
    expect_recv (fd, "Name is already taken.\n" NAME_PROMPT "Name is already taken.\n" NAME_PROMPT);
    expect_eof (fd);
    //  Accepted: it gets the history and its prompt, then it is closed.
    client_t cid;
    cid.fd = client_new ();
    send_str (cid.fd, "cid\n");
    shutdown (cid.fd, SHUT_WR);
    cid.id = expect_name ("cid");
    send_enter (room, cid.id, "cid", "[2020-01-02 03:04:05][x]:old\n");
    expect_closed (cid.id);
    expect_recv (cid.fd, "[2020-01-02 03:04:05][x]:old\n" PROMPT ("cid"));
    send_release (room, cid.id, false);
    expect_eof (cid.fd);
}

static void
test_reset_is_closed (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t bob = client_login (room, "bob");
    //  SO_LINGER 0: close() sends RST.
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt (bob.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    client_close (bob.fd);
    expect_closed (bob.id);
    client_t ann = client_login (room, "ann");
    expect_hub_nothing_before_line (ann);
}

/*  /quit: the hub is told at once, but the connection stays open for
    the replies to what came before it, and what follows it is not
    read; the room's RELEASE "0", behind its last output, closes it.     */
static void
test_quit_keeps_writing_until_release (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t ann = client_login (room, "ann");
    client_t bob = client_login (room, "bob");
    types_cmd (bob, "/users\n/quit\nafter the quit\n", "users", "", "");
    expect_closed (bob.id);
    send_str (bob.fd, "still typing\n");
    //  The replies come, the connection open all along.
    send_out (room, 0, "Users in general (2): ann, bob\n", 0, bob.id);
    send_out (room, 0, "\nbob has left our chat...\n", 0, ann.id);
    expect_recv (bob.fd, "Users in general (2): ann, bob\n" PROMPT ("bob"));
    expect_recv (ann.fd, "\nbob has left our chat...\n" PROMPT ("ann"));
    expect_quiet (bob.fd);
    //  A RELEASE "1" is not its end: it is passed on as ever.
    send_release (room, bob.id, true);
    expect_hub_bare (MSG_RELEASED, bob.id);
    send_release (room, bob.id, false);
    expect_eof (bob.fd);
    //  Nothing it typed after /quit reached the hub.
    expect_hub_nothing_before_line (ann);
}

/*  A leaver whose room never says RELEASE "0" is closed all the same,
    after a few seconds (LEAVE_WAIT_MS, 5 s).                            */
static void
test_leaving_without_release_is_closed_in_time (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t bob = client_login (room, "bob");
    send_str (bob.fd, "/quit\n");
    expect_closed (bob.id);
    int64_t start = check_now_ms ();
    int     got = next_byte (bob.fd, 20000);
    int64_t took = check_now_ms () - start;
    if (got != -1)
        fail_msg ("expected EOF alone within 20 s, got %s", got == -2 ? "nothing" : "bytes");
    if (took < 2000)
        fail_msg ("closed %lld ms after /quit, without waiting for its room", (long long) took);
    expect_hub_quiet ();
}

/*  A reset closes the socket, but the lines already read from it still
    go to the hub (here paced by --rate), then CLOSED.                    */
static void
test_reset_still_hands_on_what_was_read (void **state)
{
    (void) state;
    gw_prepare (10);
    s_gw.config.rate = 2;
    gw_launch ();
    zsock_t *room = room_new ();
    client_t bob = client_login (room, "bob");  //  The name took a token
    types_line (bob, "a\nb\nc\nd\ne\n", "a");
    expect_line (bob.id, "b");
    expect_line (bob.id, "c");
    //  d and e are read (one packet, one read) but wait for tokens.
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt (bob.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    client_close (bob.fd);
    expect_line (bob.id, "d");
    expect_line (bob.id, "e");
    expect_closed (bob.id);
}

/*  A leaver that resets is closed at once: its slot is free for the
    next client, and the hub, told already, hears nothing more.          */
static void
test_leaving_reset_closes_at_once (void **state)
{
    (void) state;
    gw_start (1);
    zsock_t *room = room_new ();
    client_t bob = client_login (room, "bob");
    send_str (bob.fd, "/quit\n");
    expect_closed (bob.id);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt (bob.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    client_close (bob.fd);
    //  Well before LEAVE_WAIT_MS, the one slot takes a newcomer.
    int64_t deadline = check_now_ms () + 2000;
    bool    welcomed = false;
    while (!welcomed && check_now_ms () < deadline) {
        int fd = client_connect ();
        welcomed = tcp_first_byte (fd, WAIT_MS) == PROTOCOL_BANNER [0];
        client_close (fd);
        if (!welcomed)
            zclock_sleep (50);
    }
    if (!welcomed)
        fail_msg ("the slot of a leaver that reset was still taken after 2 s");
    expect_hub_quiet ();
}

/*  /join, a line and /quit in one packet: the hub completes the move, so
    the new room's ENTER and output still reach the leaver, which reads
    nothing more; RELEASE "0" from the new room closes it.                */
static void
test_leaving_on_the_way_gets_the_new_room (void **state)
{
    (void) state;
    gw_start (10);
    zsock_t *general = room_new ();
    zsock_t *dev = room_new ();
    client_t bob = client_login (general, "bob");
    types_cmd (bob, "/join dev\nline\n/quit\n", "join", "dev", "");
    expect_line (bob.id, "line");
    expect_closed (bob.id);
    send_release (general, bob.id, true);
    expect_hub_bare (MSG_RELEASED, bob.id);
    send_enter (dev, bob.id, "bob", "[2020-01-02 03:04:05][x]:old\n");
    send_out (dev, bob.id, "\n[2020-01-02 03:04:05][bob]:line\n", true, bob.id);
    expect_recv (bob.fd, "[2020-01-02 03:04:05][x]:old\n" PROMPT ("bob") PROMPT ("bob"));
    send_release (dev, bob.id, false);
    expect_eof (bob.fd);
    expect_hub_quiet ();
}

/*  The gateway's end of client fd (the gateway runs in this process).   */
static int
server_end_of (int fd)
{
    struct sockaddr_in mine;
    socklen_t          len = sizeof mine;
    assert_int_equal (getsockname (fd, (struct sockaddr *) &mine, &len), 0);
    for (int other = 0; other < 4096; other++) {
        struct sockaddr_in peer;
        socklen_t          peer_len = sizeof peer;
        if (other != fd && getpeername (other, (struct sockaddr *) &peer, &peer_len) == 0 &&
            peer.sin_family == AF_INET && peer.sin_port == mine.sin_port)
            return other;
    }
    fail_msg ("no server end for client fd %d", fd);
    return -1;
}

/*  Waits (bounded) until fd's receive queue holds want unread bytes.    */
static void
expect_unread_at (const char *file, int line, int fd, int want)
{
    int     bytes = -1;
    int64_t deadline = check_now_ms () + WAIT_MS;
    do {
        assert_int_equal (ioctl (fd, FIONREAD, &bytes), 0);
        if (bytes != want)
            zclock_sleep (5);
    } while (bytes != want && check_now_ms () < deadline);
    if (bytes != want)
        check_fail_at (file, line, "%d bytes unread by the gateway, want %d", bytes, want);
}
#define expect_unread(fd, want) expect_unread_at (__FILE__, __LINE__, (fd), (want))

/*  A message from the hub, then an OUT behind it on the same pipe: once
    the client has the OUT, the gateway has handled the message.         */
static void
hub_says_at (const char *file, int line, msg_kind_t kind, const client_t *c, const char *name)
{
    static unsigned seq;
    send_id (s_gw.hub, kind, c->id);
    char text [64];
    snprintf (text, sizeof text, "after %s %u\n", msg_spec (kind)->type, ++seq);
    send_out (s_gw.hub, 0, text, 0, c->id);
    expect_bytes_at (file, line, c->fd, text, strlen (text));
    expect_client_prompt_at (file, line, c->fd, name);
}
#define hub_says(type, c, name) hub_says_at (__FILE__, __LINE__, (type), &(c), (name))

/*  PAUSE: none of the client's lines are handed on and its socket is not
    read (its bytes wait in the kernel, so TCP pushes back), while its
    output, and everyone else, go on. RESUME: all of it, in order.       */
static void
test_pause_holds_input_until_resume (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t ann = client_login (room, "ann");
    client_t bob = client_login (room, "bob");
    int      bob_end = server_end_of (bob.fd);
    hub_says (MSG_PAUSE, bob, "bob");
    send_str (bob.fd, "one\ntwo\n");
    expect_unread (bob_end, 8);
    expect_hub_nothing_before_line (ann);
    expect_hub_quiet ();
    expect_unread (bob_end, 8);
    //  Still written to while paused.
    send_out (room, ann.id, "\n[2020-01-02 03:04:05][ann]:hi\n", true, ann.id, bob.id);
    expect_recv (bob.fd, "\n[2020-01-02 03:04:05][ann]:hi\n" PROMPT ("bob"));
    expect_recv (ann.fd, PROMPT ("ann"));
    send_id (s_gw.hub, MSG_RESUME, bob.id);
    expect_line (bob.id, "one");
    expect_line (bob.id, "two");
    expect_unread (bob_end, 0);
    //  A pause outlasts the client's EOF: it leaves once resumed.
    send_id (s_gw.hub, MSG_PAUSE, bob.id);
    hub_says (MSG_PAUSE, bob, "bob");  //  Twice is once
    send_str (bob.fd, "three\n");
    shutdown (bob.fd, SHUT_WR);
    expect_unread (bob_end, 6);
    expect_hub_nothing_before_line (ann);
    send_id (s_gw.hub, MSG_RESUME, bob.id);
    expect_line (bob.id, "three");
    expect_closed (bob.id);
    send_release (room, bob.id, false);
    expect_eof (bob.fd);
    //  For ids that are gone, or never were: nothing.
    send_id (s_gw.hub, MSG_PAUSE, bob.id);
    send_id (s_gw.hub, MSG_RESUME, 0x7700000005ULL);
    expect_hub_nothing_before_line (ann);
}

/* ------------------------------------------------------------------ */
/*  Limits                                                             */

static void
test_full (void **state)
{
    (void) state;
    gw_start (2);
    zsock_t *room = room_new ();
    client_t ann = client_login (room, "ann");
    int      waiting = client_new (); /* those at the name prompt count */
    int      third = client_connect ();
    expect_bytes (third, PROTOCOL_FULL, strlen (PROTOCOL_FULL));
    expect_eof (third);
    expect_hub_quiet ();
    //  A slot freed is a slot for the next one.
    shutdown (waiting, SHUT_WR);
    expect_eof (waiting);
    client_t bob = client_login (room, "bob");
    int      fourth = client_connect ();
    expect_bytes (fourth, PROTOCOL_FULL, strlen (PROTOCOL_FULL));
    expect_eof (fourth);
    expect_nothing_before_marker (room, ann, "ann");
    expect_nothing_before_marker (room, bob, "bob");
    expect_hub_nothing_before_line (bob);
}

/*  A slot reused gets a new id: late messages for the old one never
    reach the new client.                                                */
static void
test_reused_slot_has_a_new_id (void **state)
{
    (void) state;
    gw_start (1);
    zsock_t *room = room_new ();
    client_t old = client_login (room, "old");
    shutdown (old.fd, SHUT_WR);
    expect_closed (old.id);
    send_release (room, old.id, false);
    expect_eof (old.fd);
    client_t fresh = client_login (room, "new");
    assert_true (fresh.id != old.id);
    assert_true ((fresh.id & 0xffffffffULL) == (old.id & 0xffffffffULL));
    assert_int_equal (msg_id_gateway (fresh.id), 0);
    send_out (room, 0, "for the old one\n", 0, old.id);
    //  Its slot and generation on another gateway: not this client.
    send_out (room, 0, "for gateway 1\n", 0,
              msg_id_make (1, msg_id_gen (fresh.id), msg_id_slot (fresh.id)));
    send_text (room, MSG_LABEL, old.id, "old");
    send_enter (room, old.id, "old", "old history\n");
    expect_nothing_before_marker (room, fresh, "new");
}

/*  Clients that do not read: their output waits in the gateway while the
    others are served, and none of it is lost or reordered.               */
static void
test_slow_reader_gets_everything (void **state)
{
    (void) state;
    gw_prepare (10);
    s_gw.config.max_backlog = 8 * 1024 * 1024;
    gw_launch ();
    zsock_t *room = room_new ();
    client_t slow = client_login (room, "slow");
    client_t quick = client_login (room, "quick");
    size_t   size = 4 * 1024 * 1024;
    char    *big = (char *) malloc (size + 1);
    assert_non_null (big);
    for (size_t i = 0; i < size; i++)
        big [i] = (char) ('a' + i % 26);
    big [size - 1] = '\n';
    big [size] = 0;
    send_out (room, 0, big, 0, slow.id);
    send_out (room, 0, "small\n", 0, slow.id);
    //  Meanwhile the others are served, and slow's input still flows.
    send_out (room, 0, "meanwhile\n", 0, quick.id);
    expect_recv (quick.fd, "meanwhile\n" PROMPT ("quick"));
    types_line (slow, "still here\n", "still here");
    expect_bytes (slow.fd, big, size);
    free (big);
    expect_recv (slow.fd, PROMPT ("slow") "small\n" PROMPT ("slow"));
    expect_nothing_before_marker (room, slow, "slow");
}

/*  The hub falls far behind (it reads nothing): the gateway queues, then
    stops taking input; once the hub reads, everything arrives, in order. */
#define FLOOD_LINES 120000

typedef struct {
    int fd;
    int error; /* errno of a failed send, else 0 */
    int done;  /* atomic */
} writer_t;

static void *
s_writer (void *arg)
{
    writer_t *writer = (writer_t *) arg;
    size_t    size = (size_t) FLOOD_LINES * 8;
    char     *block = (char *) malloc (size + 1);
    size_t    len = 0;
    if (!block)
        writer->error = ENOMEM;
    for (int i = 0; block && i < FLOOD_LINES; i++)
        len += (size_t) sprintf (block + len, "f%06d\n", i);
    //  The gateway may stop reading for a while: wait long for it.
    struct timeval tv = {.tv_sec = 60, .tv_usec = 0};
    setsockopt (writer->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    for (size_t done = 0; block && done < len && !writer->error;) {
        ssize_t sent = send (writer->fd, block + done, len - done, MSG_NOSIGNAL);
        if (sent > 0)
            done += (size_t) sent;
        else if (sent < 0 && errno == EINTR)
            continue;
        else
            writer->error = sent < 0 ? errno : EPIPE;
    }
    free (block);
    __atomic_store_n (&writer->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void
test_hub_backlog_loses_nothing (void **state)
{
    (void) state;
    gw_start (10);
    zsock_t        *room = room_new ();
    client_t        flood = client_login (room, "flood");
    client_t        other = client_login (room, "other");
    static writer_t writer;
    writer = (writer_t){flood.fd, 0, 0};
    s_gw.writer_fd = flood.fd;
    assert_int_equal (pthread_create (&s_gw.writer, NULL, s_writer, &writer), 0);
    s_gw.writer_running = true;
    //  Let the gateway fill the hub's pipe and its own queue: the writer
    //  finishes, or stops once the gateway stops reading. How far it got
    //  does not matter, only that nothing is lost.
    int64_t until = check_now_ms () + 3000;
    while (!__atomic_load_n (&writer.done, __ATOMIC_ACQUIRE) && check_now_ms () < until)
        zclock_sleep (10);
    zclock_sleep (200);
    send_str (other.fd, "me too\n");
    //  Output still flows while the hub is behind.
    send_out (room, 0, "out\n", 0, flood.id, other.id);
    expect_recv (flood.fd, "out\n" PROMPT ("flood"));
    expect_recv (other.fd, "out\n" PROMPT ("other"));
    int  next = 0;
    bool other_seen = false;
    while (next < FLOOD_LINES || !other_seen) {
        check_msg_t got;
        check_recv_at (__FILE__, __LINE__, s_gw.hub, &got, "a LINE");
        char text [16];
        snprintf (text, sizeof text, "f%06d", next);
        if (!other_seen && got.v.id == other.id && msg_is (&got.v, MSG_LINE) &&
            check_part_is (&got.v, 0, "me too"))
            other_seen = true;
        else if (next < FLOOD_LINES && got.v.id == flood.id && msg_is (&got.v, MSG_LINE) &&
                 check_part_is (&got.v, 0, text))
            next++;
        else {
            print_error ("expected LINE id=0x%llx \"%s\" or the other's line\n    got ",
                         (unsigned long long) flood.id, text);
            check_print_msg (&got.v);
            check_msg_free (&got);
            fail ();
        }
        check_msg_free (&got);
    }
    pthread_join (s_gw.writer, NULL);
    s_gw.writer_running = false;
    assert_int_equal (writer.error, 0);
    expect_hub_nothing_before_line (other);
    expect_hub_nothing_before_line (flood);
}

#define FULL_PIPE_LINES 102000 /* the hub's pipe holds 100000 + 1000 */

/*  Waits (bounded) until this process stops using CPU: the gateway has
    handed on everything it was given. If it never settles, carry on:
    the test then checks less, it never fails for that.                  */
static void
wait_until_idle (void)
{
    int64_t         deadline = check_now_ms () + 30000;
    struct timespec ts;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
    int64_t before = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    while (check_now_ms () < deadline) {
        zclock_sleep (200);
        clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
        int64_t after = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (after - before < 20)
            return;
        before = after;
    }
}

/*  The hub is behind (its pipe full, the gateway holding a queue for
    it) and speaks while a room keeps the gateway busy: every message it
    sends must still be read. The gateway joins the hub's pipe through
    ZMQ_FD, which signals once: any zsock_events() or send on that socket
    (as when the gateway tries to flush its queue) may consume the wakeup
    of a message that has just arrived, so the gateway must then look at
    ZMQ_EVENTS again or the message waits until something else wakes it. */
static void
test_hub_is_heard_while_it_is_behind (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t flood = client_login (room, "flood");
    client_t w = client_login (room, "w");
    client_t x;
    x.fd = client_new ();
    x.id = client_name_at (__FILE__, __LINE__, x.fd, "x");
    //  Fill the hub's pipe (the fake hub reads nothing from now on), so
    //  that the gateway holds a queue for it.
    char *block = (char *) malloc ((size_t) FULL_PIPE_LINES * 8 + 1);
    assert_non_null (block);
    size_t len = 0;
    for (int i = 0; i < FULL_PIPE_LINES; i++)
        len += (size_t) sprintf (block + len, "f%06d\n", i);
    send_bytes (flood.fd, block, len);
    free (block);
    wait_until_idle ();
    //  Room traffic that writes nothing (OUTs to nobody), with the hub's
    //  messages in between: a REFUSE, then OUTs of its own.
    for (int k = 0; k <= 20; k++) {
        for (int j = 0; j < 1000; j++)
            send_out_ids (room, 0, "", NULL, 0, 0);
        char text [32];
        snprintf (text, sizeof text, "hub %d\n", k);
        if (k == 0)
            send_refuse (x.id, "Name is already taken.");
        else
            send_out (s_gw.hub, 0, text, 0, w.id);
    }
    expect_recv (x.fd, "Name is already taken.\n" NAME_PROMPT);
    for (int k = 1; k <= 20; k++) {
        char pattern [64];
        snprintf (pattern, sizeof pattern, "hub %d\n" PROMPT ("w"), k);
        expect_recv (w.fd, pattern);
    }
}

/* ------------------------------------------------------------------ */
/*  Room pipes                                                         */

static void
test_bye_then_attach_again (void **state)
{
    (void) state;
    gw_start (10);
    zsock_t *first = room_new ();
    client_t bob = client_login (first, "bob");
    room_bye (first, bob.id);
    zsock_t *second = room_new ();
    send_out (second, 0, "from the second\n", 0, bob.id);
    expect_recv (bob.fd, "from the second\n" PROMPT ("bob"));
    //  More rooms than the gateway's first table holds, each one working.
    zsock_t *rooms [20];
    for (int i = 0; i < 20; i++) {
        rooms [i] = room_new ();
        char text [32];
        snprintf (text, sizeof text, "room %d\n", i);
        send_out (rooms [i], 0, text, 0, bob.id);
        char pattern [64];
        snprintf (pattern, sizeof pattern, "room %d\n" PROMPT ("bob"), i);
        expect_recv (bob.fd, pattern);
    }
    //  Half of them stop; what they sent before BYE is handled.
    for (int i = 0; i < 20; i += 2) {
        send_release (rooms [i], bob.id, true);
        room_bye (rooms [i], bob.id);
        expect_hub_bare (MSG_RELEASED, bob.id);
    }
    for (int i = 1; i < 20; i += 2)
        expect_nothing_before_marker (rooms [i], bob, "bob");
    //  Freed slots are reused.
    for (int i = 0; i < 5; i++) {
        zsock_t *room = room_new ();
        expect_nothing_before_marker (room, bob, "bob");
    }
    expect_nothing_before_marker (second, bob, "bob");
    types_line (bob, "still here\n", "still here");
    expect_quiet (bob.fd);
}

/*  Messages the gateway cannot use are dropped; it carries on.          */
static void
test_malformed_messages_are_ignored (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t bob = client_login (room, "bob");
    //  An id frame of the wrong size.
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "OUT");
    zmsg_addmem (msg, &bob.id, 4);
    zmsg_addstr (msg, "bad\n");
    assert_int_equal (msg_send (&msg, room), 0);
    //  A type frame too long, an unknown type, parts missing.
    msg = zmsg_new ();
    zmsg_addstr (msg, "A-VERY-LONG-TYPE");
    zmsg_addmem (msg, &bob.id, 8);
    assert_int_equal (msg_send (&msg, room), 0);
    msg = msg_new_type ("BOGUS", bob.id);
    msg_add_str (msg, "x");
    assert_int_equal (msg_send (&msg, room), 0);
    send_id (room, MSG_OUT, bob.id);
    send_text (room, MSG_ENTER, bob.id, "bob");
    send_id (s_gw.hub, MSG_REFUSE, bob.id);
    send_id (s_gw.hub, MSG_LINE, bob.id);
    //  An ATTACH to an endpoint nobody binds does no harm.
    char nowhere [200];
    snprintf (nowhere, sizeof nowhere, "%s/nobody-binds-this", s_gw.config.endpoint);
    send_text (s_gw.hub, MSG_ATTACH, 0, nowhere);
    //  ids of a size that is not a multiple of 8: the whole ids are used.
    msg = msg_new (MSG_OUT, 0);
    msg_add_str (msg, "partial ids\n");
    char ids [12] = {0};
    memcpy (ids, &bob.id, 8);
    msg_add (msg, ids, sizeof ids);
    msg_add (msg, "0", 1);
    msg_add (msg, "", 0);
    assert_int_equal (msg_send (&msg, room), 0);
    expect_recv (bob.fd, "partial ids\n" PROMPT ("bob"));
    //  Ids of slots that do not exist.
    send_out (room, 0, "nobody\n", 0, 0, 0xffffffffULL, 0x100000009ULL);
    send_text (room, MSG_LABEL, 0x1000000ffULL, "x");
    expect_nothing_before_marker (room, bob, "bob");
    types_line (bob, "fine\n", "fine");
}

/* ------------------------------------------------------------------ */
/*  Limits: --max-backlog, --rate, --name-timeout                      */

/*  Every client socket has TCP keepalive on (60 s idle, every 10 s, 6
    probes), so a peer that vanished without a FIN is found. The gateway
    runs in this process: find its end of the connection by address.    */
static void
test_keepalive_finds_vanished_peers (void **state)
{
    (void) state;
    gw_start (10);
    int                fd = client_new ();
    struct sockaddr_in mine;
    socklen_t          len = sizeof mine;
    assert_int_equal (getsockname (fd, (struct sockaddr *) &mine, &len), 0);
    int found = 0;
    for (int other = 0; other < 4096; other++) {
        struct sockaddr_in peer;
        socklen_t          peer_len = sizeof peer;
        if (other == fd || getpeername (other, (struct sockaddr *) &peer, &peer_len) != 0 ||
            peer.sin_family != AF_INET || peer.sin_port != mine.sin_port)
            continue;
        int       on = 0, idle = 0, interval = 0, count = 0;
        socklen_t size = sizeof (int);
        getsockopt (other, SOL_SOCKET, SO_KEEPALIVE, &on, &size);
        getsockopt (other, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &size);
        getsockopt (other, IPPROTO_TCP, TCP_KEEPINTVL, &interval, &size);
        getsockopt (other, IPPROTO_TCP, TCP_KEEPCNT, &count, &size);
        assert_true (on);
        assert_int_equal (idle, 60);
        assert_int_equal (interval, 10);
        assert_int_equal (count, 6);
        found++;
    }
    assert_int_equal (found, 1);
}

/*  Reads fd until it is at most 16 lines (16 KiB) behind lines_sent, so
    a reader never comes near a 64 KiB --max-backlog, however long this
    thread is descheduled while the gateway runs on.                     */
static void
s_keep_up (int fd, size_t lines_sent, size_t *lines_read)
{
    int64_t until = check_now_ms () + WAIT_MS;
    char    sink [65536];
    while (check_now_ms () < until) {
        ssize_t got = recv (fd, sink, sizeof sink, MSG_DONTWAIT);
        for (ssize_t i = 0; i < got; i++)
            *lines_read += sink [i] == '\n';
        if (*lines_read + 16 >= lines_sent || got == 0)
            return;
        if (got < 0) {
            struct pollfd readable = {.fd = fd, .events = POLLIN};
            poll (&readable, 1, 10);
        }
    }
}

/*  A client that does not read is cut once it is owed more than
    --max-backlog; the hub hears CLOSED (so its room says it left), and
    the others are served all along.                                     */
static void
test_backlog_cap_cuts_a_silent_client (void **state)
{
    (void) state;
    gw_prepare (10);
    s_gw.config.max_backlog = 64 * 1024;
    gw_launch ();
    zsock_t *room = room_new ();
    client_t silent = client_login (room, "silent");
    //  A small receive window, so the kernel holds little for it.
    int small = 4096;
    setsockopt (silent.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    client_t quick = client_login (room, "quick");
    char    *line = repeat ('x', 999, "\n");
    //  Far more than the kernel's buffers and the cap together.
    size_t lines_sent = 0, lines_read = 0;
    for (int i = 0; i < 20000; i++) {
        send_out (room, 0, line, 0, silent.id, quick.id);
        lines_sent++;
        if (i % 1000 == 0) {
            char marker [32];
            snprintf (marker, sizeof marker, "marker %d\n", i);
            send_out (room, 0, marker, 0, quick.id);
            lines_sent++;
        }
        s_keep_up (quick.fd, lines_sent, &lines_read);
    }
    expect_closed (silent.id);
    free (line);
    //  Its slot is free again and the rest goes on.
    send_out (room, 0, "after\n", 0, quick.id);
    char    sink [65536];
    int64_t until = check_now_ms () + WAIT_MS;
    bool    seen = false;
    char    tail [16] = "";
    while (!seen && check_now_ms () < until) {
        ssize_t got = recv (quick.fd, sink, sizeof sink, MSG_DONTWAIT);
        if (got > 0) {
            //  "after\n" then the prompt: look for it across reads.
            char   joined [16 + 65536];
            size_t keep = strlen (tail);
            memcpy (joined, tail, keep);
            memcpy (joined + keep, sink, (size_t) got);
            joined [keep + (size_t) got] = 0;
            seen = memmem (joined, keep + (size_t) got, "after\n", 6) != NULL;
            size_t total = keep + (size_t) got, t = total < 15 ? total : 15;
            memcpy (tail, joined + total - t, t);
            tail [t] = 0;
        } else
            zclock_sleep (5);
    }
    assert_true (seen);
    client_t next = client_login (room, "next");
    types_line (next, "hello\n", "hello");
}

/*  --rate 2: a burst of 4 lines goes at once, the rest at 2 a second;
    nothing is lost or reordered.                                        */
/*  A newcomer given a room's history far over --max-backlog at ENTER,
    more than the kernel's buffers take (the send buffer grows to 4 MiB
    here): the history block is an allowance, not a backlog, so a client
    that reads it is not cut, gets all of it and its prompt, and chats
    on. (The old rule cut it at once: 8 MiB queued, 4 KiB allowed.)     */
static void
s_login_with_history (zsock_t *room, client_t *c, const char *name, const char *history)
{
    int    fd = client_connect_rcvbuf (4096);
    size_t banner = strlen (PROTOCOL_BANNER), prompt = strlen (NAME_PROMPT);
    char  *welcome = (char *) malloc (banner + prompt);
    assert_non_null (welcome);
    memcpy (welcome, PROTOCOL_BANNER, banner);
    memcpy (welcome + banner, NAME_PROMPT, prompt);
    expect_bytes (fd, welcome, banner + prompt);
    free (welcome);
    c->fd = fd;
    c->id = client_name_at (__FILE__, __LINE__, fd, name);
    send_enter (room, c->id, name, history);
}

static char *
s_history (size_t size)
{
    char *history = (char *) malloc (size + 1);
    assert_non_null (history);
    for (size_t i = 0; i < size; i++)
        history [i] = (i + 1) % 100 == 0 ? '\n' : (char) ('a' + i % 26);
    history [size - 1] = '\n';
    history [size] = 0;
    return history;
}

static void
test_history_block_is_not_held_against_a_reader (void **state)
{
    (void) state;
    gw_prepare (10);
    s_gw.config.max_backlog = 4096;
    gw_launch ();
    zsock_t *room = room_new ();
    size_t   size = 8 * 1024 * 1024;
    char    *history = s_history (size);
    client_t reader;
    s_login_with_history (room, &reader, "reader", history);
    //  8 MiB take seconds under valgrind: a deadline of its own.
    tcp_client_t *c = client_of (reader.fd);
    assert_memory_equal (tcp_peek (c, size, 60000), history, size);
    tcp_consume (c, size);
    expect_client_prompt (reader.fd, "reader");
    free (history);
    types_line (reader, "read it all\n", "read it all");
    send_out (room, 0, "and more\n", 0, reader.id);
    expect_recv (reader.fd, "and more\n" PROMPT ("reader"));
}

/*  The same block to a client that never reads: not cut for the block,
    but cut as soon as what else it is owed passes --max-backlog. Its
    prompt (34 bytes) and three 1,000-byte lines with theirs stay under
    4,096; the fourth goes over.                                         */
static void
test_history_block_then_a_silent_client_is_cut (void **state)
{
    (void) state;
    gw_prepare (10);
    s_gw.config.max_backlog = 4096;
    gw_launch ();
    zsock_t *room = room_new ();
    char    *history = s_history (8 * 1024 * 1024);
    client_t silent;
    s_login_with_history (room, &silent, "silent", history);
    free (history);
    char *line = repeat ('x', 999, "\n");
    for (int i = 0; i < 3; i++)
        send_out (room, 0, line, 0, silent.id);
    expect_hub_quiet ();
    send_out (room, 0, line, 0, silent.id);
    expect_closed (silent.id);
    free (line);
}

static void
test_rate_paces_a_flood_without_loss (void **state)
{
    (void) state;
    gw_prepare (10);
    s_gw.config.rate = 2;
    gw_launch ();
    zsock_t *room = room_new ();
    client_t bob = client_login (room, "bob");  //  The name took one token
    char     text [256] = "";
    for (int i = 0; i < 8; i++)
        snprintf (text + strlen (text), sizeof text - strlen (text), "l%d\n", i);
    int64_t start = check_now_ms ();
    send_str (bob.fd, text);
    for (int i = 0; i < 8; i++) {
        char want [8];
        snprintf (want, sizeof want, "l%d", i);
        expect_line (bob.id, want);
        //  A slower machine is only later: this bound cannot flake.
        if (i == 5 && check_now_ms () - start < 400)
            fail_msg ("6 lines passed in %lld ms at --rate 2 (burst 4)",
                      (long long) (check_now_ms () - start));
    }
    //  An idle client earns its burst back, and no more.
    zclock_sleep (2500);
    start = check_now_ms ();
    types_line (bob, "a\nb\nc\nd\ne\n", "a");
    expect_line (bob.id, "b");
    expect_line (bob.id, "c");
    expect_line (bob.id, "d");
    expect_line (bob.id, "e");
    if (check_now_ms () - start < 300)
        fail_msg ("5 lines passed in %lld ms after a rest (burst 4)",
                  (long long) (check_now_ms () - start));
}

/*  --name-timeout 1: a client still at the prompt is told and closed;
    named clients stay.                                                  */
static void
test_name_timeout_closes_idle_prompts (void **state)
{
    (void) state;
    gw_prepare (10);
    s_gw.config.name_timeout = 1;
    gw_launch ();
    zsock_t *room = room_new ();
    client_t bob = client_login (room, "bob");
    int      idle = client_new ();
    int64_t  start = check_now_ms ();
    char     want [128];
    snprintf (want, sizeof want, PROTOCOL_NAME_TIMEOUT, 1);
    expect_recv (idle, want);
    expect_eof (idle);
    int64_t took = check_now_ms () - start;
    if (took < 900)
        fail_msg ("closed after %lld ms, before the 1 s timeout", (long long) took);
    //  It never named itself: the hub never knew it.
    expect_hub_quiet ();
    zclock_sleep (1200);
    types_line (bob, "still here\n", "still here");
}

/* ------------------------------------------------------------------ */
/*  Stopping                                                           */

/*  main stops the hub before the gateway. A client that leaves in
    between makes the gateway tell a hub that is gone: that must neither
    block the gateway (the peer of a PAIR may be gone while ZMQ_EVENTS
    still says POLLOUT) nor keep it from stopping.                       */
static void
test_client_leaves_after_the_hub_is_gone (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t bob = client_login (room, "bob");
    client_t ann = client_login (room, "ann");
    zsock_destroy (&s_gw.hub);
    struct linger reset = {1, 0};
    setsockopt (bob.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    client_close (bob.fd);
    send_str (ann.fd, "anyone?\n");
    //  The gateway still serves: output reaches ann.
    send_out (room, 0, "still here\n", 0, ann.id);
    expect_recv (ann.fd, "still here\n" PROMPT ("ann"));
    assert_int_equal (msg_send_id (room, MSG_BYE, 0), 0);
    int64_t start = check_now_ms ();
    zactor_destroy (&s_gw.actor);
    if (check_now_ms () - start > 10000)
        fail_msg ("the gateway took %lld ms to stop", (long long) (check_now_ms () - start));
    expect_recv (ann.fd, PROTOCOL_SHUTDOWN);
    expect_eof (ann.fd);
}

static void
test_destroy_closes_every_client (void **state)
{
    (void) state;
    zsock_t *room = gw_start_room ();
    client_t bob = client_login (room, "bob");
    client_t ann = client_login (room, "ann");
    int      naming = client_new ();
    int      waiting = client_new ();
    uint64_t waiting_id = client_name_at (__FILE__, __LINE__, waiting, "wait");
    (void) waiting_id;
    types_line (bob, "last\n", "last");
    //  As main stops the hub before us: the room's last words, then its
    //  BYE, are in the pipe when the gateway is told to stop.
    send_out (room, 0, "last words\n", 0, bob.id, ann.id);
    assert_int_equal (msg_send_id (room, MSG_BYE, 0), 0);
    int64_t start = check_now_ms ();
    zactor_destroy (&s_gw.actor);
    int64_t took = check_now_ms () - start;
    expect_recv (bob.fd, "last words\n" PROMPT ("bob") PROTOCOL_SHUTDOWN);
    expect_recv (ann.fd, "last words\n" PROMPT ("ann") PROTOCOL_SHUTDOWN);
    expect_recv (naming, PROTOCOL_SHUTDOWN);
    expect_recv (waiting, PROTOCOL_SHUTDOWN);
    expect_eof (bob.fd);
    expect_eof (ann.fd);
    expect_eof (naming);
    expect_eof (waiting);
    //  The hub is stopped first: it is told nothing.
    expect_hub_quiet ();
    //  A hang check, not a speed test.
    if (took > 10000)
        fail_msg ("zactor_destroy took %lld ms", (long long) took);
    //  The listening socket is closed.
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons ((uint16_t) s_gw.port)};
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int rc = connect (fd, (struct sockaddr *) &addr, sizeof addr);
    int error = errno;
    close (fd);
    assert_int_equal (rc, -1);
    assert_int_equal (error, ECONNREFUSED);
}

/*  It cannot reach the hub (an endpoint ZeroMQ refuses): the gateway
    says it did not start, and closes the listener it was handed.        */
static void
test_start_fails_without_the_hub (void **state)
{
    (void) state;
    gw_prepare (4);
    snprintf (s_gw.config.endpoint, sizeof s_gw.config.endpoint, "no-such-transport");
    char error [256] = "";
    int  listener = listener_open ("127.0.0.1", 0, error, sizeof error);
    if (listener < 0)
        fail_msg ("listener_open: %s", error);
    struct sockaddr_in addr;
    socklen_t          len = sizeof addr;
    assert_int_equal (getsockname (listener, (struct sockaddr *) &addr, &len), 0);
    gateway_args_t *args = (gateway_args_t *) zmalloc (sizeof *args);
    args->config = s_gw.config;
    args->listener = listener;
    errno = 0;
    actor_t *gateway = actor_new (gateway_actor, args); /* takes args */
    assert_null (gateway);
    assert_int_equal (errno, ECHILD);
    //  Nothing listens on its port any more.
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (fd >= 0);
    assert_int_equal (connect (fd, (struct sockaddr *) &addr, len), -1);
    assert_int_equal (errno, ECONNREFUSED);
    close (fd);
}

/* ------------------------------------------------------------------ */
/*  Metrics                                                            */

/*  The next message for the hub that is not a STATS (those are
    skipped): a whole step's worth of what the gateway sends.            */
static void
recv_skipping_stats_at (const char *file, int line, check_msg_t *got, const char *what)
{
    for (;;) {
        check_recv_at (file, line, s_gw.hub, got, what);
        if (!msg_is (&got->v, MSG_STATS))
            return;
        check_msg_free (got);
    }
}

/*  NAME for a client whose id we do not know yet, STATS skipped.        */
static uint64_t
expect_name_skipping_stats_at (const char *file, int line, const char *name)
{
    check_msg_t got;
    recv_skipping_stats_at (file, line, &got, "NAME");
    if (!msg_is (&got.v, MSG_NAME) || !check_part_is (&got.v, 0, name))
        check_fail_unexpected (file, line, "NAME", got.msg);
    uint64_t id = got.v.id;
    check_msg_free (&got);
    return id;
}

/*  The next message for the hub but STATS is kind, for id.              */
static void
expect_skipping_stats_at (const char *file, int line, msg_kind_t kind, uint64_t id)
{
    check_msg_t got;
    recv_skipping_stats_at (file, line, &got, msg_spec (kind)->type);
    if (!msg_is (&got.v, kind) || got.v.id != id)
        check_fail_unexpected (file, line, msg_spec (kind)->type, got.msg);
    check_msg_free (&got);
}
#define expect_skipping_stats(kind, id) expect_skipping_stats_at (__FILE__, __LINE__, (kind), (id))

/*  Waits for the STATS that says want (every figure): the gateway
    reports each change within a second, so the one for a state that
    holds comes. Earlier STATS are skipped; anything else fails.        */
static void
expect_stats_at (const char *file, int line, const uint64_t want [METRICS_GW_FIGURES])
{
    int64_t  deadline = check_now_ms () + WAIT_MS;
    uint64_t got [METRICS_GW_FIGURES] = {0};
    int64_t  left;
    while ((left = deadline - check_now_ms ()) > 0) {
        zsock_set_rcvtimeo (s_gw.hub, (int) left);
        zmsg_t *msg = msg_recv (s_gw.hub);
        zsock_set_rcvtimeo (s_gw.hub, CHECK_WAIT_MS);
        if (!msg)
            break;
        msg_view_t v;
        if (!msg_parse (msg, &v) || !msg_is (&v, MSG_STATS) || v.id != 0 ||
            !metrics_gw_read (v.part [0].data, v.part [0].size, got))
            check_fail_unexpected (file, line, "STATS 0 with every figure", msg);
        zmsg_destroy (&msg);
        if (memcmp (got, want, sizeof got) == 0)
            return;
    }
    print_error ("%s:%d: no STATS with the figures wanted in %d ms; the last said", file, line,
                 WAIT_MS);
    for (size_t i = 0; i < METRICS_GW_FIGURES; i++)
        print_error (" %" PRIu64 "%s", got [i], got [i] == want [i] ? "" : "(!)");
    print_error ("\n");
    _fail (file, line);
}
#define expect_stats(want) expect_stats_at (__FILE__, __LINE__, (want))

/*  With /metrics served (--http), the gateway reports its figures to the
    hub: the connection counts, the lines and commands from clients in a
    room, the rooms' outputs and their deliveries (a bare prompt is none),
    a chat full, a client over --rate; the gauges go down again.         */
static void
test_stats_report_the_figures (void **state)
{
    (void) state;
    gw_prepare (2);
    s_gw.config.http_port = 8080; /* never bound: the web gateway would */
    s_gw.config.rate = 1;         /* a burst of two lines */
    gw_launch ();
    zsock_t *room = room_new ();
    uint64_t want [METRICS_GW_FIGURES] = {0};
    client_t ann;
    ann.fd = client_new ();
    want [METRICS_GW_CLIENTS] = 1;
    want [METRICS_GW_CONNECTIONS] = 1;
    expect_stats (want);

    //  The name takes one of the two lines of the burst, "hi" the other:
    //  "/users" and "third" each wait a second for --rate.
    send_str (ann.fd, "ann\nhi\n/users\nthird\n");
    ann.id = expect_name_skipping_stats_at (__FILE__, __LINE__, "ann");
    client_enter_at (__FILE__, __LINE__, room, &ann, "ann", "");
    expect_skipping_stats (MSG_LINE, ann.id);
    expect_skipping_stats (MSG_CMD, ann.id);
    expect_skipping_stats (MSG_LINE, ann.id);
    send_out (room, 0, "x\n", false, ann.id);
    expect_recv (ann.fd, "x\n" PROMPT ("ann"));
    send_out (room, ann.id, "y\n", true, ann.id);
    expect_recv (ann.fd, PROMPT ("ann"));
    int waiting = client_new ();
    int third = client_connect ();
    expect_bytes (third, PROTOCOL_FULL, strlen (PROTOCOL_FULL));
    expect_eof (third);
    want [METRICS_GW_CLIENTS] = 2;
    want [METRICS_GW_CONNECTIONS] = 2;
    want [METRICS_GW_LINES_IN] = 3;
    want [METRICS_GW_LINES_OUT] = 2;
    want [METRICS_GW_DELIVERIES] = 1;
    want [METRICS_GW_THROTTLED] = 2;
    want [METRICS_GW_REFUSED_FULL] = 1;
    expect_stats (want);

    shutdown (waiting, SHUT_WR);
    expect_eof (waiting);
    want [METRICS_GW_CLIENTS] = 1;
    expect_stats (want);
    //  Nothing changes: nothing is sent.
    expect_hub_quiet ();
}

int
main (void)
{
    signal (SIGPIPE, SIG_IGN);
#define GW_TEST(f) cmocka_unit_test_teardown (f, gw_teardown)
    const struct CMUnitTest tests [] = {
        GW_TEST (test_start_fails_without_the_hub),
        GW_TEST (test_welcome_is_banner_then_prompt),
        GW_TEST (test_name_is_trimmed_and_waits_for_the_verdict),
        GW_TEST (test_pipelined_names_one_at_a_time),
        GW_TEST (test_lines_typed_before_the_verdict),
        GW_TEST (test_ids_are_distinct),
        GW_TEST (test_enter_writes_history_then_prompt),
        GW_TEST (test_chat_lines_are_cleaned),
        GW_TEST (test_commands_are_parsed),
        GW_TEST (test_out_to_members),
        GW_TEST (test_out_skips_clients_not_in_a_room),
        GW_TEST (test_enter_again_moves_the_client),
        GW_TEST (test_release_becomes_released),
        GW_TEST (test_label_changes_the_prompt),
        GW_TEST (test_lines_split_across_writes),
        GW_TEST (test_many_lines_in_one_write),
        GW_TEST (test_too_long_at_the_name_prompt),
        GW_TEST (test_too_long_in_a_room_goes_to_the_hub),
        GW_TEST (test_eof_of_a_named_client_is_closed),
        GW_TEST (test_partial_last_line_is_dropped),
        GW_TEST (test_eof_at_the_name_prompt_is_silent),
        GW_TEST (test_quit),
        GW_TEST (test_eof_while_waiting_for_the_verdict),
        GW_TEST (test_reset_is_closed),
        GW_TEST (test_quit_keeps_writing_until_release),
        GW_TEST (test_leaving_without_release_is_closed_in_time),
        GW_TEST (test_leaving_reset_closes_at_once),
        GW_TEST (test_reset_still_hands_on_what_was_read),
        GW_TEST (test_leaving_on_the_way_gets_the_new_room),
        GW_TEST (test_pause_holds_input_until_resume),
        GW_TEST (test_full),
        GW_TEST (test_reused_slot_has_a_new_id),
        GW_TEST (test_slow_reader_gets_everything),
        GW_TEST (test_hub_backlog_loses_nothing),
        GW_TEST (test_hub_is_heard_while_it_is_behind),
        GW_TEST (test_bye_then_attach_again),
        GW_TEST (test_malformed_messages_are_ignored),
        GW_TEST (test_keepalive_finds_vanished_peers),
        GW_TEST (test_backlog_cap_cuts_a_silent_client),
        GW_TEST (test_history_block_is_not_held_against_a_reader),
        GW_TEST (test_history_block_then_a_silent_client_is_cut),
        GW_TEST (test_rate_paces_a_flood_without_loss),
        GW_TEST (test_name_timeout_closes_idle_prompts),
        GW_TEST (test_destroy_closes_every_client),
        GW_TEST (test_client_leaves_after_the_hub_is_gone),
        GW_TEST (test_stats_report_the_figures),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
