/* SPDX-License-Identifier: MIT */
/*  Unit tests for the hub actor, driven directly.

    The test plays the gateway. It connects a PAIR to the hub's endpoint
    before starting the hub (the hub announces room general with ATTACH as
    it starts), then connects one more PAIR to every room endpoint the hub
    ATTACHes, and reads each room's output there. It sends the hub what the
    gateway would: NAME, LINE, CMD, NOTICE, CLOSED, RELEASED.

    hub_finish() stops the hub: every room still running must say BYE as
    its next message, and nothing unexpected may be left on any pipe.     */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "actor.h"
#include "actor_check.h"
#include "command.h"
#include "config.h"
#include "endpoints.h"
#include "hub.h"
#include "messages.h"
#include "metrics.h"
#include "room.h"
#include "../remove_tree.h"

#define TS CHECK_TS

static const uint64_t A = 0x100000001ULL;
static const uint64_t B = 0x100000002ULL;
static const uint64_t C = 0x200000003ULL;
static const uint64_t D = 0x300000004ULL;
static const uint64_t E = 0x400000005ULL;

#define MAX_PIPES 64

//  The fake gateway connects before the hub binds, so libzmq hands the
//  pipe to our socket from the hub's thread, through lock-free queues
//  ThreadSanitizer cannot see. messages.c gives it one happens-before
//  edge per message (release on send, acquire on receive), but our first
//  receive reads that pipe before its own acquire. The hub has sent ATTACH
//  (releasing) before it signals ready, so acquiring once zactor_new has
//  returned is the truth, said early enough.
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire (void *addr);
#    define HANDOFF_SEEN() __tsan_acquire (zsys_init ())
#else
#    define HANDOFF_SEEN()
#endif

typedef struct {
    zsock_t *sock;
    char     endpoint [160];
} room_pipe_t;

static struct {
    zactor_t   *actor;
    zsock_t    *hub;               /* the fake gateway's PAIR to the hub */
    zsock_t    *web;               /* gateway 1's, when the hub has two */
    room_pipe_t rooms [MAX_PIPES]; /* in order of ATTACH */
    size_t      nrooms;
} s_hub;

/*  Cluster mode: the fake cluster's end of the hub's pipe, and its end
    of general's cluster pipe.                                           */
static zsock_t *s_cluster;
static zsock_t *s_room_cluster;

static const char s_help [] = "Commands:\n"
                              "  /help            show this list\n"
                              "  /rooms           list the rooms and how many are in each\n"
                              "  /join ROOM       move to ROOM, creating it if needed\n"
                              "  /users           list the users in your room\n"
                              "  /name NEW        change your name\n"
                              "  /msg NAME TEXT   send TEXT to NAME only\n"
                              "  /quit            leave the chat\n";

/* ------------------------------------------------------------------ */
/*  The fake gateway                                                   */

/*  Connects to a room's endpoint; returns its pipe.                     */
static zsock_t *
attach_room (const char *endpoint, size_t size)
{
    assert_true (s_hub.nrooms < MAX_PIPES);
    assert_true (size > 0 && size < sizeof s_hub.rooms [0].endpoint);
    room_pipe_t *room = &s_hub.rooms [s_hub.nrooms];
    memcpy (room->endpoint, endpoint, size);
    room->endpoint [size] = 0;
    //  Every room gets an endpoint of its own.
    for (size_t i = 0; i < s_hub.nrooms; i++)
        if (strcmp (s_hub.rooms [i].endpoint, room->endpoint) == 0)
            fail_msg ("ATTACH %s: endpoint given twice", room->endpoint);
    char connect [sizeof room->endpoint + 1];
    snprintf (connect, sizeof connect, ">%s", room->endpoint);
    room->sock = check_socket_new (connect);
    assert_non_null (room->sock);
    s_hub.nrooms++;
    return room->sock;
}

/*  The next message from the hub itself on gateway pipe gw must be
    ATTACH: connects to the new room and returns its pipe.               */
static zsock_t *
expect_attach_on_at (const char *file, int line, zsock_t *gw)
{
    check_msg_t got;
    check_recv_at (file, line, gw, &got, "ATTACH");
    if (!msg_is (&got.v, MSG_ATTACH) || got.v.id != 0 || got.v.parts != 1 ||
        got.v.part [0].size == 0) {
        print_error ("%s:%d: expected ATTACH 0 endpoint\n    got ", file, line);
        check_print_msg (&got.v);
        check_msg_free (&got);
        _fail (file, line);
    }
    zsock_t *sock = attach_room (got.v.part [0].data, got.v.part [0].size);
    check_msg_free (&got);
    return sock;
}
#define expect_attach()      expect_attach_on_at (__FILE__, __LINE__, s_hub.hub)
#define expect_attach_on(gw) expect_attach_on_at (__FILE__, __LINE__, (gw))

/*  A room stopped: BYE is its next message, and the test (as the
    gateway) closes the pipe.                                            */
static void
expect_bye_at (const char *file, int line, zsock_t *sock)
{
    expect_msg_at (file, line, sock, MSG_BYE, 0, NULL);
    expect_nothing_queued_at (file, line, sock);
    for (size_t i = 0; i < s_hub.nrooms; i++)
        if (s_hub.rooms [i].sock == sock)
            zsock_destroy (&s_hub.rooms [i].sock);
}
#define expect_bye(sock) expect_bye_at (__FILE__, __LINE__, (sock))

#define expect_refuse(id, reason) expect_msg (s_hub.hub, MSG_REFUSE, (id), (reason))

/*  The next hub's time for rooms at shutdown (0: its default).          */
static int s_next_shutdown_ms;
/*  The next hub's gateways (0: one). With two, gateway 1 (s_hub.web)
    connects only once the hub has started, and the hub must wait for it
    before it announces general.                                         */
static unsigned s_next_gateways;
/*  The next hub's --http port (0: none, every event part "").           */
static int s_next_http_port;

/*  Starts a hub with the defaults but history, max_rooms, data_dir ("" for
    none) and room_idle; returns the pipe of room general.               */
static zsock_t *
hub_start_idle (int history, int max_rooms, const char *data_dir, int room_idle)
{
    static unsigned seq;
    memset (&s_hub, 0, sizeof s_hub);
    config_t config;
    config_defaults (&config);
    config.history = history;
    config.max_rooms = max_rooms;
    snprintf (config.data_dir, sizeof config.data_dir, "%s", data_dir);
    config.room_idle = room_idle;
    config.http_port = s_next_http_port;
    s_next_http_port = 0;
    snprintf (config.endpoint, sizeof config.endpoint, "inproc://test-hub-%d-%u", (int) getpid (),
              ++seq);
    char endpoint [ENDPOINT_MAX + 1] = ">";
    endpoint_hub (&config, 0, endpoint + 1);
    assert_true (strlen (endpoint) > strlen (config.endpoint));
    s_hub.hub = check_socket_new (endpoint);
    assert_non_null (s_hub.hub);

    hub_args_t *args = (hub_args_t *) calloc (1, sizeof *args);
    assert_non_null (args);
    args->config = config;
    args->shutdown_ms = s_next_shutdown_ms;
    s_next_shutdown_ms = 0;
    args->gateways = s_next_gateways;
    s_next_gateways = 0;
    bool two = args->gateways == 2;
    s_hub.actor = zactor_new (hub_actor, args); /* takes args */
    assert_non_null (s_hub.actor);
    HANDOFF_SEEN ();
    if (two) {
        //  Gateway 1 is not there yet: general is not announced.
        zsock_set_rcvtimeo (s_hub.hub, 200);
        zmsg_t *early = msg_recv (s_hub.hub);
        zsock_set_rcvtimeo (s_hub.hub, CHECK_WAIT_MS);
        if (early)
            check_fail_unexpected (__FILE__, __LINE__, "nothing before gateway 1 connects", early);
        endpoint [0] = '>';
        endpoint_hub (&config, 1, endpoint + 1);
        s_hub.web = check_socket_new (endpoint);
        assert_non_null (s_hub.web);
    }
    return expect_attach ();
}

static zsock_t *
hub_start_in (int history, int max_rooms, const char *data_dir)
{
    config_t defaults;
    config_defaults (&defaults);
    return hub_start_idle (history, max_rooms, data_dir, defaults.room_idle);
}

static zsock_t *
hub_start (int history, int max_rooms)
{
    return hub_start_in (history, max_rooms, "");
}

/*  Stops the hub: each room still running says BYE, nothing else is
    left on any pipe.                                                    */
static void
hub_finish (void)
{
    zactor_destroy (&s_hub.actor);
    for (size_t i = 0; i < s_hub.nrooms; i++)
        if (s_hub.rooms [i].sock) {
            expect_msg (s_hub.rooms [i].sock, MSG_BYE, 0, NULL);
            expect_nothing_queued (s_hub.rooms [i].sock);
            zsock_destroy (&s_hub.rooms [i].sock);
        }
    expect_nothing_queued (s_hub.hub);
    zsock_destroy (&s_hub.hub);
    if (s_hub.web) {
        expect_nothing_queued (s_hub.web);
        zsock_destroy (&s_hub.web);
    }
}

/*  A test's data dir (mkdtemp under /tmp), removed by the teardown.     */
static char s_dir [64];

static const char *
data_dir_make (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/tcpchat-hub-XXXXXX");
    assert_non_null (mkdtemp (s_dir));
    return s_dir;
}

static void
data_dir_remove (void)
{
    if (!*s_dir)
        return;
    remove_tree (s_dir);
    s_dir [0] = 0;
}

static void
data_file (const char *name, const char *text)
{
    char path [1024];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
}

/*  After a failure: connect to any room still announced (a room blocks
    sending BYE to an endpoint nobody ever connected), stop the hub and
    close everything, checking nothing.                                  */
static int
hub_teardown (void **state)
{
    (void) state;
    zsock_t *gateways [] = {s_hub.hub, s_hub.web};
    for (size_t g = 0; g < 2 && s_hub.actor; g++) {
        if (!gateways [g])
            continue;
        zsock_set_rcvtimeo (gateways [g], 500);
        zmsg_t *msg;
        while ((msg = msg_recv (gateways [g]))) {
            msg_view_t v;
            if (msg_parse (msg, &v) && msg_is (&v, MSG_ATTACH) && v.parts == 1 &&
                s_hub.nrooms < MAX_PIPES && v.part [0].size < sizeof s_hub.rooms [0].endpoint) {
                room_pipe_t *room = &s_hub.rooms [s_hub.nrooms++];
                memcpy (room->endpoint, v.part [0].data, v.part [0].size);
                room->endpoint [v.part [0].size] = 0;
                char connect [sizeof room->endpoint + 1];
                snprintf (connect, sizeof connect, ">%s", room->endpoint);
                room->sock = zsock_new_pair (connect);
            }
            zmsg_destroy (&msg);
        }
    }
    zactor_destroy (&s_hub.actor);
    for (size_t i = 0; i < s_hub.nrooms; i++)
        zsock_destroy (&s_hub.rooms [i].sock);
    zsock_destroy (&s_hub.hub);
    zsock_destroy (&s_hub.web);
    zsock_destroy (&s_room_cluster);
    zsock_destroy (&s_cluster);
    data_dir_remove ();
    check_watchdog_stop ();
    return 0;
}

/*  What the gateway sends.                                              */
static void
send_to_hub (zmsg_t *msg)
{
    assert_int_equal (msg_send (&msg, s_hub.hub), 0);
}

static void
send_name (uint64_t id, const char *name)
{
    send_to_hub (msg_new_name (id, name, strlen (name)));
}
static void
send_line (uint64_t id, const char *text)
{
    send_to_hub (msg_new_line (id, text, strlen (text)));
}
static void
send_notice (uint64_t id, const char *text)
{
    send_to_hub (msg_new_notice (id, text));
}
static void
send_closed (uint64_t id)
{
    send_to_hub (msg_new_closed (id));
}
static void
send_released (uint64_t id)
{
    send_to_hub (msg_new_released (id));
}

/*  What gateway 1 sends.                                                */
static void
send_web (zmsg_t *msg)
{
    assert_int_equal (msg_send (&msg, s_hub.web), 0);
}

/*  CMD id verb arg text, verb as the gateway names it.                  */
static void
send_cmd (uint64_t id, command_kind_t kind, const char *arg, const char *text)
{
    arg = arg ? arg : "";
    text = text ? text : "";
    send_to_hub (msg_new_cmd (id, command_name (kind), arg, strlen (arg), text, strlen (text)));
}

/*  An unknown verb: the gateway sends "?" and what was typed as arg.    */
static void
send_unknown_cmd (uint64_t id, const char *typed)
{
    send_to_hub (msg_new_cmd (id, "?", typed, strlen (typed), "", 0));
}

/*  id logs in as name: room takes it in (no history) and tells the
    others (none: _alone).                                               */
#define logs_in(room, id, name, ...)                                                               \
    (send_name ((id), (name)), expect_join ((room), (id), (name), "", __VA_ARGS__))
#define logs_in_alone(room, id, name)                                                              \
    (send_name ((id), (name)), expect_join_alone ((room), (id), (name), ""))
/*  id sends a command (no text); its room answers it `reply`.           */
#define answers(room, id, kind, arg, reply)                                                        \
    (send_cmd ((id), (kind), (arg), NULL), expect_reply ((room), (reply), (id)))

/*  The usual hub, with alice (A), or alice and bob (B), logged in to
    general; returns general's pipe.                                     */
static zsock_t *
hub_start_one (void)
{
    zsock_t *general = hub_start (1000, 64);
    logs_in_alone (general, A, "alice");
    return general;
}

static zsock_t *
hub_start_two (void)
{
    zsock_t *general = hub_start_one ();
    logs_in (general, B, "bob", A);
    return general;
}

/*  id, in room `from` and alone there after it leaves unless told, moves
    to a room that exists (to) or is created (to == NULL: returns its new
    pipe). others_left: members of `from` told of the departure.         */
/*  The first half of a move: /join, up to the old room's RELEASE; the
    test (the gateway) has not sent RELEASED yet, so id is in transit.   */
static zsock_t *
move_begin_at (const char *file, int line, uint64_t id, const char *name, const char *room,
               zsock_t *from, zsock_t *to, const uint64_t *others_left, size_t n_left)
{
    send_cmd (id, CMD_JOIN, room, NULL);
    if (!to)
        to = expect_attach_on_at (file, line, s_hub.hub);
    expect_leave_at (file, line, from, id, name, true, others_left, n_left);
    return to;
}
#define move_begin(id, name, room, from, to)                                                       \
    move_begin_at (__FILE__, __LINE__, (id), (name), (room), (from), (to), NULL, 0)

static zsock_t *
move_at (const char *file, int line, uint64_t id, const char *name, const char *room, zsock_t *from,
         zsock_t *to, const uint64_t *others_left, size_t n_left, const char *history,
         const uint64_t *others_there, size_t n_there)
{
    to = move_begin_at (file, line, id, name, room, from, to, others_left, n_left);
    send_released (id);
    expect_join_at (file, line, to, id, name, history, others_there, n_there);
    return to;
}

/*  To a new room, the others in `from` told: the whole move, or up to
    the old room's RELEASE.                                              */
#define move_from(id, name, room, from, ...)                                                       \
    move_at (__FILE__, __LINE__, (id), (name), (room), (from), NULL, CHECK_IDS (__VA_ARGS__), "",  \
             NULL, 0)
#define move_begin_from(id, name, room, from, ...)                                                 \
    move_begin_at (__FILE__, __LINE__, (id), (name), (room), (from), NULL, CHECK_IDS (__VA_ARGS__))

/*  The common cases: nobody left behind, nobody there, no history.      */
#define move_new(id, name, room, from)                                                             \
    move_at (__FILE__, __LINE__, (id), (name), (room), (from), NULL, NULL, 0, "", NULL, 0)
#define move_to(id, name, room, from, to)                                                          \
    move_at (__FILE__, __LINE__, (id), (name), (room), (from), (to), NULL, 0, "", NULL, 0)

/* ------------------------------------------------------------------ */
/*  Starting                                                           */

/*  A config on an endpoint prefix of its own, as a heap hub_args_t.     */
static hub_args_t *
start_args (void)
{
    static unsigned seq;
    hub_args_t     *args = (hub_args_t *) calloc (1, sizeof *args);
    assert_non_null (args);
    config_defaults (&args->config);
    snprintf (args->config.endpoint, sizeof args->config.endpoint, "inproc://test-hub-start-%d-%u",
              (int) getpid (), ++seq);
    return args;
}

/*  Its endpoint taken: the hub says it did not start (it used to signal
    success and leave the gateway talking to nobody).                   */
static void
test_start_fails_on_a_taken_endpoint (void **state)
{
    (void) state;
    hub_args_t *args = start_args ();
    char        endpoint [ENDPOINT_MAX + 1] = "@";
    endpoint_hub (&args->config, 0, endpoint + 1);
    zsock_t *squatter = zsock_new_pair (endpoint);
    assert_non_null (squatter);
    errno = 0;
    actor_t *hub = actor_new (hub_actor, args); /* takes args */
    assert_null (hub);
    assert_int_equal (errno, ECHILD);
    zsock_destroy (&squatter);
}

/*  Room general cannot start (its endpoint taken): no hub either.       */
static void
test_start_fails_without_general (void **state)
{
    (void) state;
    hub_args_t *args = start_args ();
    char        endpoint [ENDPOINT_MAX + 1] = "@";
    endpoint_room (&args->config, 1, 0, endpoint + 1); /* the first room's */
    zsock_t *squatter = zsock_new_pair (endpoint);
    assert_non_null (squatter);
    errno = 0;
    actor_t *hub = actor_new (hub_actor, args);
    assert_null (hub);
    assert_int_equal (errno, ECHILD);
    zsock_destroy (&squatter);
}

/*  Started, but no gateway ever comes (main could not start it): $TERM
    still stops the hub and general (it used to block for ever sending
    ATTACH to nobody, and general its BYE).                              */
static void
test_stops_when_no_gateway_came (void **state)
{
    (void) state;
    actor_t *hub = actor_new (hub_actor, start_args ());
    assert_non_null (hub);
    //  In milliseconds normally; a general stuck on its BYE would hold
    //  the hub ROOM_STORE_STOP_MS + 1 s, a hub stuck on ATTACH for ever.
    assert_true (actor_stop (&hub, ROOM_STORE_STOP_MS));
}

/* ------------------------------------------------------------------ */
/*  Names                                                              */

static void
test_start_announces_general (void **state)
{
    (void) state;
    zsock_t *general = hub_start_one ();
    answers (general, A, CMD_ROOMS, NULL, "Rooms:\n* general (1 member)\n");
    hub_finish ();
}

static void
test_name_accepted (void **state)
{
    (void) state;
    zsock_t *general = hub_start_two ();
    //  32 characters of two bytes each: long in bytes, fine in characters.
    char wide [80] = "";
    for (int i = 0; i < 32; i++)
        strcat (wide, "\xc3\xa9");
    logs_in (general, C, wide, A, B);
    send_cmd (B, CMD_USERS, NULL, NULL);
    char users [160];
    snprintf (users, sizeof users, "Users in general (3): alice, bob, %s\n", wide);
    expect_reply (general, users, B);
    answers (general, C, CMD_ROOMS, NULL, "Rooms:\n* general (3 members)\n");
    hub_finish ();
}

static void
test_name_refused (void **state)
{
    (void) state;
    zsock_t *general = hub_start_one ();
    char     too_long [40];
    memset (too_long, 'b', 33);
    too_long [33] = 0;
    struct {
        const char *name, *reason;
    } cases [] = {
        {"", "Name cannot be empty."},
        {too_long, "Name is too long (max 32 characters)."},
        {"a\x01z", "Name can only contain printable characters."},
        {"a\x7fz", "Name can only contain printable characters."},
        {"bad\xff", "Name can only contain printable characters."},
        {"a b", "Name cannot contain spaces."},
        {"a\tb", "Name cannot contain spaces."},
        {"/alice", "Name cannot start with '/'."},
        {"alice", "Name is already taken."},
        {"ALICE", "Name is already taken."},
        {"aLiCe", "Name is already taken."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        send_name (B, cases [i].name);
        expect_refuse (B, cases [i].reason);
    }
    //  A refused client is not registered: it may try again.
    logs_in (general, B, "bob", A);
    send_name (C, "BOB");
    expect_refuse (C, "Name is already taken.");
    //  A second NAME for a registered client changes nothing.
    send_name (A, "other");
    answers (general, A, CMD_USERS, NULL, "Users in general (2): alice, bob\n");
    logs_in (general, C, "other", A, B);
    hub_finish ();
}

/*  Names that pass for a connected user's: UTS #39 skeletons, either
    way round with case; free again once that user leaves. Invisible and
    format characters are refused outright.                              */
static void
test_name_lookalikes (void **state)
{
    (void) state;
    const char *similar = "Name is too similar to a user's name already here.";
    zsock_t    *general = hub_start (1000, 64);
    logs_in_alone (general, A, "alice");
    const char *lookalikes [] = {
        "\xd0\xb0lice",     /* Cyrillic а */
        "\xd0\x90LICE",     /* Cyrillic А, upper case */
        "AIice",            /* capital I for l */
        "a1ice",            /* digit 1 for l */
        "\xef\xbd\x81lice", /* fullwidth a */
    };
    for (size_t i = 0; i < sizeof lookalikes / sizeof lookalikes [0]; i++) {
        send_name (B, lookalikes [i]);
        expect_refuse (B, similar);
    }
    const char *hidden [] = {
        "ali\xe2\x80\x8b"
        "ce",
        "alice\xef\xbb\xbf",
        "\xe2\x80\xae"
        "ecila",
        "al\xc2\xad"
        "ice",
        "\xe2\x81\xa0",
        "alice\xe2\x80\x8d",
    };
    for (size_t i = 0; i < sizeof hidden / sizeof hidden [0]; i++) {
        send_name (B, hidden [i]);
        expect_refuse (B, "Name cannot contain invisible or formatting characters.");
    }
    logs_in (general, B, "bob", A);
    //  /name goes through the same check, both ways.
    answers (general, B, CMD_NAME, "\xd0\xb0lice",
             "Name is too similar to a user's name already here.\n");
    answers (general, B, CMD_NAME, "b\xe2\x80\x8cob",
             "Name cannot contain invisible or formatting characters.\n");
    //  A lookalike of one's own name is no impersonation.
    send_cmd (A, CMD_NAME, "AIice", NULL);
    expect_rename (general, A, "alice", "AIice", B);
    send_cmd (A, CMD_NAME, "alice", NULL);
    expect_rename (general, A, "AIice", "alice", B);
    //  Once alice has left, the name looks like nobody's.
    send_closed (A);
    expect_leave (general, A, "alice", false, B);
    logs_in (general, C, "\xd0\xb0lice", B);
    //  ... and now plain alice is the one refused.
    send_name (D, "alice");
    expect_refuse (D, similar);
    hub_finish ();
}

/* ------------------------------------------------------------------ */
/*  Lines and commands in a room                                       */

static void
test_lines_reach_the_room (void **state)
{
    (void) state;
    zsock_t *general = hub_start_two ();
    send_line (A, "hi bob");
    expect_out (general, "\n[" TS "][alice]:hi bob\n", A, B);
    send_line (B, "");
    expect_prompt (general, B);
    send_line (B, "hi alice");
    expect_out (general, "\n[" TS "][bob]:hi alice\n", B, A);
    //  Input from a client the hub does not know goes nowhere.
    send_line (E, "who am I");
    send_cmd (E, CMD_HELP, NULL, NULL);
    send_closed (E);
    send_released (E);
    answers (general, A, CMD_USERS, NULL, "Users in general (2): alice, bob\n");
    hub_finish ();
}

static void
test_help_and_unknown (void **state)
{
    (void) state;
    zsock_t *general = hub_start_one ();
    answers (general, A, CMD_HELP, NULL, s_help);
    send_cmd (A, CMD_HELP, "ignored", "too");
    expect_reply (general, s_help, A);
    send_unknown_cmd (A, "/frob");
    expect_reply (general, "Unknown command: /frob. Type /help for the list.\n", A);
    send_unknown_cmd (A, "/");
    expect_reply (general, "Unknown command: /. Type /help for the list.\n", A);
    hub_finish ();
}

/*  A gateway notice (line too long) is said to the client in its room.  */
static void
test_notice (void **state)
{
    (void) state;
    zsock_t *general = hub_start_two ();
    send_line (B, "first");
    send_notice (B, "Message too long (max 4096 bytes).\n");
    send_line (B, "after");
    expect_out (general, "\n[" TS "][bob]:first\n", B, A);
    expect_reply (general, "Message too long (max 4096 bytes).\n", B);
    expect_out (general, "\n[" TS "][bob]:after\n", B, A);
    hub_finish ();
}

static void
test_users (void **state)
{
    (void) state;
    zsock_t *general = hub_start_one ();
    answers (general, A, CMD_USERS, NULL, "Users in general (1): alice\n");
    logs_in (general, B, "bob", A);
    logs_in (general, C, "carol", A, B);
    answers (general, C, CMD_USERS, NULL, "Users in general (3): alice, bob, carol\n");
    //  Users of another room are not listed.
    zsock_t *dev = move_from (B, "bob", "dev", general, A, C);
    answers (general, A, CMD_USERS, NULL, "Users in general (2): alice, carol\n");
    answers (dev, B, CMD_USERS, NULL, "Users in dev (1): bob\n");
    hub_finish ();
}

/* ------------------------------------------------------------------ */
/*  /join                                                              */

static void
test_join_moves_the_client (void **state)
{
    (void) state;
    zsock_t *general = hub_start_two ();

    //  A new room: ATTACH, then the old room lets go, then (RELEASED) the
    //  new room takes the mover in.
    zsock_t *lobby = move_from (A, "alice", "lobby", general, B);
    answers (lobby, A, CMD_ROOMS, NULL, "Rooms:\n  general (1 member)\n* lobby (1 member)\n");
    send_line (A, "in the lobby");
    expect_out_alone (lobby, "\n[" TS "][alice]:in the lobby\n", A);

    //  An existing room, named in another case: no new room.
    send_cmd (B, CMD_JOIN, "LOBBY", NULL);
    expect_release (general, B, true);
    send_released (B);
    expect_join (lobby, B, "bob", "[" TS "][alice]:in the lobby\n", A);
    answers (lobby, B, CMD_ROOMS, NULL, "Rooms:\n  general (0 members)\n* lobby (2 members)\n");
    answers (lobby, A, CMD_USERS, NULL, "Users in lobby (2): alice, bob\n");

    //  Back to general, which exists even when empty.
    send_cmd (A, CMD_JOIN, "General", NULL);
    expect_leave (lobby, A, "alice", true, B);
    send_released (A);
    expect_join_alone (general, A, "alice", "");
    hub_finish ();
}

static void
test_join_refusals (void **state)
{
    (void) state;
    zsock_t *general = hub_start_one ();
    answers (general, A, CMD_JOIN, NULL, "Usage: /join ROOM\n");
    answers (general, A, CMD_JOIN, "bad!room",
             "Room name can only contain letters, digits, '_' and '-'.\n");
    answers (general, A, CMD_JOIN, "two words",
             "Room name can only contain letters, digits, '_' and '-'.\n");
    send_cmd (A, CMD_JOIN, "abcdefghijklmnopqrstuvwxyz0123456", NULL); /* 33 */
    expect_reply (general, "Room name is too long (max 32 characters).\n", A);
    answers (general, A, CMD_JOIN, "general", "You are already in general.\n");
    answers (general, A, CMD_JOIN, "GENERAL", "You are already in general.\n");
    //  The longest room name is fine; shown as first spelled.
    zsock_t *room = move_new (A, "alice", "Ab_-0123456789abcdefghijklmnopqr", general);
    answers (room, A, CMD_JOIN, "aB_-0123456789ABCDEFGHIJKLMNOPQR",
             "You are already in Ab_-0123456789abcdefghijklmnopqr.\n");
    hub_finish ();
}

/*  A room that cannot start (its endpoint taken): the joiner is told and
    stays where it was, and the hub carries on: the next try works.      */
static void
test_join_a_room_that_cannot_start (void **state)
{
    (void) state;
    zsock_t *general = hub_start_one ();
    //  General's endpoint is the hub's first room's: take its second.
    const char *first = s_hub.rooms [0].endpoint;
    size_t      prefix = strlen (first) - strlen ("/room-1-0");
    assert_string_equal (first + prefix, "/room-1-0");
    char taken [sizeof s_hub.rooms [0].endpoint + 1];
    snprintf (taken, sizeof taken, "@%.*s/room-2-0", (int) prefix, first);
    zsock_t *squatter = zsock_new_pair (taken);
    assert_non_null (squatter);
    answers (general, A, CMD_JOIN, "dev", "Cannot create that room now.\n");
    answers (general, A, CMD_ROOMS, NULL, "Rooms:\n* general (1 member)\n");
    move_new (A, "alice", "dev", general);
    zsock_destroy (&squatter);
    hub_finish ();
}

/*  While a client moves (between RELEASE and RELEASED) its input waits,
    and reaches the new room in order, after its ENTER.                  */
static void
test_input_in_transit_waits (void **state)
{
    (void) state;
    zsock_t *general = hub_start_one ();
    logs_in (general, C, "carol", A);
    zsock_t *lobby = move_from (C, "carol", "lobby", general, A);

    send_cmd (A, CMD_JOIN, "lobby", NULL);
    send_line (A, "early");
    send_cmd (A, CMD_USERS, NULL, NULL);
    send_notice (A, "Message too long (max 4096 bytes).\n");
    send_line (A, "   ");
    send_cmd (A, CMD_HELP, NULL, NULL);
    expect_release (general, A, true);
    //  Nothing of alice's reached the lobby yet.
    answers (lobby, C, CMD_USERS, NULL, "Users in lobby (1): carol\n");

    send_released (A);
    expect_join (lobby, A, "alice", "", C);
    expect_out (lobby, "\n[" TS "][alice]:early\n", A, C);
    expect_reply (lobby, "Users in lobby (2): carol, alice\n", A);
    expect_reply (lobby, "Message too long (max 4096 bytes).\n", A);
    expect_prompt (lobby, A);
    expect_reply (lobby, s_help, A);
    //  Nothing went to the room alice left.
    logs_in_alone (general, B, "bob");
    hub_finish ();
}

/*  Input waiting behind a move may hold another move: the rest of it
    waits for that one in turn.                                          */
static void
test_move_within_move (void **state)
{
    (void) state;
    zsock_t *general = hub_start_two ();

    send_cmd (A, CMD_JOIN, "one", NULL);
    send_cmd (A, CMD_JOIN, "two", NULL);
    send_line (A, "where am I");
    zsock_t *one = expect_attach ();
    expect_leave (general, A, "alice", true, B);
    send_released (A);
    expect_join_alone (one, A, "alice", "");
    //  The waiting /join two runs now: "one" is left, empty: it stops.
    zsock_t *two = expect_attach ();
    expect_release (one, A, true);
    expect_bye (one);
    send_released (A);
    expect_join_alone (two, A, "alice", "");
    expect_out_alone (two, "\n[" TS "][alice]:where am I\n", A);
    answers (general, B, CMD_ROOMS, NULL, "Rooms:\n* general (1 member)\n  two (1 member)\n");
    hub_finish ();
}

/*  A /msg for a client in transit is held and delivered after its ENTER. */
static void
test_private_message_in_transit_is_held (void **state)
{
    (void) state;
    zsock_t *general = hub_start_two ();
    zsock_t *lobby = move_begin_from (A, "alice", "lobby", general, B);
    send_cmd (B, CMD_MSG, "ALICE", "psst");
    expect_prompt (general, B);
    send_released (A);
    expect_join_alone (lobby, A, "alice", "");
    expect_reply (lobby, "\n[" TS "][bob -> alice]:psst\n", A);
    hub_finish ();
}

/* ------------------------------------------------------------------ */
/*  /name                                                              */

static void
test_name_command (void **state)
{
    (void) state;
    zsock_t *general = hub_start_two ();

    send_cmd (A, CMD_NAME, "alicia", NULL);
    expect_rename (general, A, "alice", "alicia", B);
    //  The old name is free at once, the new one taken.
    logs_in (general, C, "Alice", A, B);
    send_name (D, "ALICIA");
    expect_refuse (D, "Name is already taken.");

    answers (general, A, CMD_NAME, NULL, "Usage: /name NEW\n");
    answers (general, A, CMD_NAME, "alicia", "You are already alicia.\n");
    answers (general, A, CMD_NAME, "BOB", "Name is already taken.\n");
    answers (general, A, CMD_NAME, "a b", "Name cannot contain spaces.\n");
    answers (general, A, CMD_NAME, "/x", "Name cannot start with '/'.\n");
    answers (general, A, CMD_NAME, "abcdefghijklmnopqrstuvwxyz0123456",
             "Name is too long (max 32 characters).\n");
    //  A change of case only is allowed.
    send_cmd (A, CMD_NAME, "ALICIA", NULL);
    expect_rename (general, A, "alicia", "ALICIA", B, C);
    answers (general, B, CMD_USERS, NULL, "Users in general (3): ALICIA, bob, Alice\n");
    send_line (A, "new me");
    expect_out (general, "\n[" TS "][ALICIA]:new me\n", A, B, C);
    //  /msg finds the new name, not the old one.
    send_cmd (B, CMD_MSG, "alicia", "found you");
    expect_reply (general, "\n[" TS "][bob -> ALICIA]:found you\n", A);
    expect_prompt (general, B);
    hub_finish ();
}

/* ------------------------------------------------------------------ */
/*  /msg                                                               */

static void
test_msg_command (void **state)
{
    (void) state;
    zsock_t *general = hub_start_two ();
    zsock_t *lobby = move_from (B, "bob", "lobby", general, A);

    //  Across rooms, the name matched ignoring case, shown as registered.
    send_cmd (A, CMD_MSG, "BOB", "hello there");
    expect_reply (lobby, "\n[" TS "][alice -> bob]:hello there\n", B);
    expect_prompt (general, A);
    send_cmd (B, CMD_MSG, "alice", "  spaced  out ");
    expect_reply (general, "\n[" TS "][bob -> alice]:  spaced  out \n", A);
    expect_prompt (lobby, B);

    answers (general, A, CMD_MSG, NULL, "Usage: /msg NAME TEXT\n");
    answers (general, A, CMD_MSG, "bob", "Usage: /msg NAME TEXT\n");
    send_cmd (A, CMD_MSG, "bob", " \t ");
    expect_reply (general, "Usage: /msg NAME TEXT\n", A);
    send_cmd (A, CMD_MSG, "nobody", "hi");
    expect_reply (general, "No such user: nobody.\n", A);
    send_cmd (A, CMD_MSG, "Alice", "hi me");
    expect_reply (general, "You cannot message yourself.\n", A);
    //  Private messages are not history.
    logs_in (general, C, "carol", A);
    hub_finish ();
}

/*  The reply names the unknown user in full, then ends its line: a long
    name (the gateway allows lines of 4096 bytes) must not cut it.       */
static void
test_msg_unknown_long_name (void **state)
{
    (void) state;
    zsock_t *general = hub_start_one ();
    char     name [601];
    memset (name, 'x', 600);
    name [600] = 0;
    send_cmd (A, CMD_MSG, name, "hi");
    char reply [700];
    snprintf (reply, sizeof reply, "No such user: %s.\n", name);
    expect_reply (general, reply, A);
    hub_finish ();
}

/*  An unknown command is echoed back; whatever its length, the reply
    stays valid UTF-8 (the gateway cleaned it) and ends its line.        */
static void
test_unknown_long_command_stays_utf8 (void **state)
{
    (void) state;
    zsock_t *general = hub_start_one ();
    char     typed [128] = "/";
    for (int i = 0; i < 40; i++)
        strcat (typed, "\xc3\xa9"); /* é: 2 bytes */
    send_unknown_cmd (A, typed);
    check_msg_t got;
    check_recv_at (__FILE__, __LINE__, general, &got, "the unknown command's reply");
    assert_true (msg_is (&got.v, MSG_OUT) && got.v.parts == 4);
    const char *text = got.v.part [0].data;
    size_t      size = got.v.part [0].size;
    const char *prefix = "Unknown command: /", *suffix = ". Type /help for the list.\n";
    bool        framed = size >= strlen (prefix) + strlen (suffix) &&
                  memcmp (text, prefix, strlen (prefix)) == 0 &&
                  memcmp (text + size - strlen (suffix), suffix, strlen (suffix)) == 0;
    //  Valid UTF-8: here, only ASCII and whole "\xc3\xa9" pairs.
    size_t bad = size;
    for (size_t i = 0; i < size && bad == size; i++) {
        unsigned char c = (unsigned char) text [i];
        if (c == 0xc3 && i + 1 < size && (unsigned char) text [i + 1] == 0xa9)
            i++;
        else if (c >= 0x80)
            bad = i;
    }
    if (!framed || bad < size) {
        print_error ("%s:%d: reply ", __FILE__, __LINE__);
        check_print_bytes (text, size);
        if (bad < size)
            print_error (": invalid UTF-8 at byte %zu\n", bad);
        else
            print_error (": not \"%s...%s\"\n", prefix, ". Type /help for the list.\\n");
        check_msg_free (&got);
        fail ();
    }
    check_msg_free (&got);
    hub_finish ();
}

/* ------------------------------------------------------------------ */
/*  Leaving                                                            */

static void
test_closed_frees_the_name (void **state)
{
    (void) state;
    zsock_t *general = hub_start_two ();
    send_closed (A);
    //  Not moving: RELEASE "0" (its connection may close); the name is free.
    expect_leave (general, A, "alice", false, B);
    logs_in (general, C, "ALICE", B);
    //  The closed client is forgotten.
    send_line (A, "ghost");
    send_closed (A);
    answers (general, B, CMD_USERS, NULL, "Users in general (2): bob, ALICE\n");
    send_cmd (B, CMD_MSG, "alice", "are you there");
    expect_reply (general, "\n[" TS "][bob -> ALICE]:are you there\n", C);
    expect_prompt (general, B);
    hub_finish ();
}

/*  A client that goes while moving (`/join tmp`, a line and `/quit` in
    one packet): the move completes, what it sent reaches the room it
    moved to, in order, and then it leaves that room; only then is its
    name free.                                                           */
static void
test_closed_in_transit (void **state)
{
    (void) state;
    zsock_t *general = hub_start_one ();
    logs_in (general, D, "dave", A);
    zsock_t *tmp = move_from (A, "alice", "tmp", general, D);
    send_cmd (D, CMD_JOIN, "tmp", NULL);
    expect_leave_alone (general, D, "dave", true);
    send_line (D, "said on the way");
    send_cmd (D, CMD_USERS, NULL, NULL);
    send_closed (D);
    //  Not free yet: dave is still on his way.
    send_name (E, "DAVE");
    expect_refuse (E, "Name is already taken.");
    send_released (D);
    expect_join (tmp, D, "dave", "", A);
    expect_out (tmp, "\n[" TS "][dave]:said on the way\n", D, A);
    expect_reply (tmp, "Users in tmp (2): alice, dave\n", D);
    expect_leave (tmp, D, "dave", false, A);
    logs_in_alone (general, E, "DAVE");
    answers (tmp, A, CMD_ROOMS, NULL, "Rooms:\n  general (1 member)\n* tmp (1 member)\n");
    //  Into a new room, saying nothing: it leaves, and the room, empty
    //  and without history, stops.
    send_cmd (E, CMD_JOIN, "brief", NULL);
    zsock_t *brief = expect_attach ();
    expect_leave_alone (general, E, "DAVE", true);
    send_closed (E);
    send_released (E);
    expect_join_alone (brief, E, "DAVE", "");
    expect_leave_alone (brief, E, "DAVE", false);
    expect_bye (brief);
    //  A move within the move (a /join waiting behind the first) also
    //  completes before the leave.
    logs_in_alone (general, B, "bob");
    send_cmd (B, CMD_JOIN, "one", NULL);
    send_cmd (B, CMD_JOIN, "tmp", NULL);
    send_line (B, "in tmp");
    send_closed (B);
    zsock_t *one = expect_attach ();
    expect_leave_alone (general, B, "bob", true);
    send_released (B);
    expect_join_alone (one, B, "bob", "");
    expect_leave_alone (one, B, "bob", true);
    expect_bye (one);
    send_released (B);
    expect_join (tmp, B, "bob", "[" TS "][dave]:said on the way\n", A);
    expect_out (tmp, "\n[" TS "][bob]:in tmp\n", B, A);
    expect_leave (tmp, B, "bob", false, A);
    //  A late RELEASED for a client gone is ignored.
    send_released (B);
    answers (tmp, A, CMD_USERS, NULL, "Users in tmp (1): alice\n");
    hub_finish ();
}

/* ------------------------------------------------------------------ */
/*  The rooms registry                                                 */

static void
test_max_rooms (void **state)
{
    (void) state;
    zsock_t *general = hub_start (1000, 2);
    logs_in_alone (general, A, "alice");
    logs_in (general, B, "bob", A);
    zsock_t *first = move_from (A, "alice", "first", general, B);
    answers (general, B, CMD_JOIN, "second", "Too many rooms (max 2). Join an existing one.\n");
    //  An existing room can still be joined.
    move_at (__FILE__, __LINE__, B, "bob", "FIRST", general, first, NULL, 0, "", CHECK_IDS (A));
    answers (first, B, CMD_ROOMS, NULL, "Rooms:\n* first (2 members)\n  general (0 members)\n");
    //  Once a room is gone, another may be made.
    move_at (__FILE__, __LINE__, A, "alice", "general", first, general, CHECK_IDS (B), "", NULL, 0);
    move_at (__FILE__, __LINE__, B, "bob", "general", first, general, NULL, 0, "", CHECK_IDS (A));
    expect_bye (first);
    move_from (A, "alice", "second", general, B);
    hub_finish ();
}

static void
test_max_rooms_one (void **state)
{
    (void) state;
    zsock_t *general = hub_start (1000, 1);
    logs_in_alone (general, A, "alice");
    answers (general, A, CMD_JOIN, "elsewhere", "Too many rooms (max 1). Join an existing one.\n");
    answers (general, A, CMD_JOIN, "general", "You are already in general.\n");
    hub_finish ();
}

/*  A room left with neither members nor history is stopped (BYE on its
    pipe, gone from /rooms); joining that name again makes a new room.   */
static void
test_empty_room_is_stopped (void **state)
{
    (void) state;
    zsock_t *general = hub_start_one ();
    zsock_t *tmp = move_new (A, "alice", "tmp", general);
    //  The room's RELEASE comes before its BYE.
    move_to (A, "alice", "general", tmp, general);
    expect_bye (tmp);
    answers (general, A, CMD_ROOMS, NULL, "Rooms:\n* general (1 member)\n");

    //  Blank lines are not history.
    tmp = move_new (A, "alice", "TMP", general);
    send_line (A, "  ");
    expect_prompt (tmp, A);
    move_to (A, "alice", "general", tmp, general);
    expect_bye (tmp);

    //  Closing the last connection stops it too.
    tmp = move_new (A, "alice", "tmp", general);
    send_closed (A);
    expect_leave_alone (tmp, A, "alice", false);
    expect_bye (tmp);
    logs_in_alone (general, B, "bob");
    answers (general, B, CMD_ROOMS, NULL, "Rooms:\n* general (1 member)\n");
    hub_finish ();
}

/*  A room with history stays, listed with 0 members; its history waits
    for the next to join.                                                */
static void
test_room_with_history_stays (void **state)
{
    (void) state;
    zsock_t *general = hub_start_one ();
    zsock_t *keep = move_new (A, "alice", "Keep", general);
    send_line (A, "hi");
    expect_out_alone (keep, "\n[" TS "][alice]:hi\n", A);
    move_to (A, "alice", "general", keep, general);
    answers (general, A, CMD_ROOMS, NULL, "Rooms:\n* general (1 member)\n  Keep (0 members)\n");
    logs_in (general, B, "bob", A);
    move_at (__FILE__, __LINE__, B, "bob", "keep", general, keep, CHECK_IDS (A),
             "[" TS "][alice]:hi\n", NULL, 0);
    hub_finish ();
}

/*  --history 0: lines are kept nowhere, so they do not keep a room.     */
static void
test_history_zero_room_is_stopped (void **state)
{
    (void) state;
    zsock_t *general = hub_start (0, 64);
    logs_in_alone (general, A, "alice");
    zsock_t *tmp = move_new (A, "alice", "tmp", general);
    send_line (A, "hi");
    expect_out_alone (tmp, "\n[" TS "][alice]:hi\n", A);
    move_to (A, "alice", "general", tmp, general);
    expect_bye (tmp);
    hub_finish ();
}

/*  general is never stopped, empty and without history as it may be.   */
static void
test_general_is_never_stopped (void **state)
{
    (void) state;
    zsock_t *general = hub_start_one ();
    send_closed (A);
    expect_leave_alone (general, A, "alice", false);
    logs_in_alone (general, B, "bob");
    zsock_t *x = move_new (B, "bob", "x", general);
    answers (x, B, CMD_ROOMS, NULL, "Rooms:\n  general (0 members)\n* x (1 member)\n");
    move_to (B, "bob", "general", x, general);
    expect_bye (x);
    hub_finish ();
}

/*  /rooms: sorted by name ignoring case, shown as first spelled.        */
static void
test_rooms_sorted (void **state)
{
    (void) state;
    zsock_t *general = hub_start_two ();
    zsock_t *zoo = move_from (A, "alice", "Zoo", general, B);
    send_line (A, "z");
    expect_out_alone (zoo, "\n[" TS "][alice]:z\n", A);
    zsock_t *apple = move_new (A, "alice", "apple", zoo);
    send_line (A, "a");
    expect_out_alone (apple, "\n[" TS "][alice]:a\n", A);
    move_new (A, "alice", "Mid", apple);
    send_cmd (B, CMD_ROOMS, NULL, NULL);
    expect_reply (general,
                  "Rooms:\n  apple (0 members)\n* general (1 member)\n"
                  "  Mid (1 member)\n  Zoo (0 members)\n",
                  B);
    hub_finish ();
}


/* ------------------------------------------------------------------ */
/*  With a data dir                                                    */

#define L1 "[2024-01-01 10:00:00][alice]:one\n"
#define L2 "[2024-01-01 10:00:01][bob]:two\n"
#define L3 "[2024-01-01 10:00:02][carol]:three\n"

/*  Every file with lines comes back as a room, after general, in order
    of name; general reloads its own. Files that are not rooms' files,
    that name no valid room, that are empty, or that name a room already
    there under another case, are left alone.                            */
static void
test_rooms_come_back_from_files (void **state)
{
    (void) state;
    data_dir_make ();
    data_file ("dev.log", L1 L2);
    data_file ("Zoo.log", L3);
    data_file ("general.log", L2);
    data_file ("GENERAL.log", L3); /* general is there already */
    data_file ("ZOO.log", L3);     /* sorts first: Zoo.log loses */
    data_file ("a%2Fb.log", L1);   /* not a room name */
    data_file ("%2E%2E.log", L1);
    data_file ("empty.log", ""); /* nothing to bring back */
    data_file ("notes.txt", L1);
    data_file ("dev.log.bak", L1);
    data_file (".tcpchat-probe-1", "");
    zsock_t *general = hub_start_in (1000, 64, s_dir);
    zsock_t *zoo = expect_attach (); /* ZOO */
    zsock_t *dev = expect_attach ();
    send_name (A, "alice");
    expect_join_alone (general, A, "alice", L2);
    send_cmd (A, CMD_ROOMS, NULL, NULL);
    expect_reply (general,
                  "Rooms:\n  dev (0 members)\n* general (1 member)\n"
                  "  ZOO (0 members)\n",
                  A);
    move_at (__FILE__, __LINE__, A, "alice", "DEV", general, dev, NULL, 0, L1 L2, NULL, 0);
    //  Empty, a restored room is not stopped: it has a past.
    move_at (__FILE__, __LINE__, A, "alice", "zoo", dev, zoo, NULL, 0, L3, NULL, 0);
    move_at (__FILE__, __LINE__, A, "alice", "general", zoo, general, NULL, 0, L2, NULL, 0);
    //  A room with an empty file is made as any new room, and stopped
    //  as any room without history.
    zsock_t *empty = move_new (A, "alice", "empty", general);
    move_at (__FILE__, __LINE__, A, "alice", "general", empty, general, NULL, 0, L2, NULL, 0);
    expect_bye (empty);
    send_cmd (A, CMD_ROOMS, NULL, NULL);
    expect_reply (general,
                  "Rooms:\n  dev (0 members)\n* general (1 member)\n"
                  "  ZOO (0 members)\n",
                  A);
    hub_finish ();
}

/*  No more rooms than --max-rooms come back, general included.         */
static void
test_restore_respects_max_rooms (void **state)
{
    (void) state;
    data_dir_make ();
    data_file ("a.log", L1);
    data_file ("b.log", L2);
    data_file ("c.log", L3);
    zsock_t *general = hub_start_in (1000, 3, s_dir);
    expect_attach ();
    expect_attach ();
    logs_in_alone (general, A, "alice");
    answers (general, A, CMD_ROOMS, NULL,
             "Rooms:\n  a (0 members)\n  b (0 members)\n* general (1 member)\n");
    answers (general, A, CMD_JOIN, "c", "Too many rooms (max 3). Join an existing one.\n");
    hub_finish ();
}

/*  A directory with no files: only general, as without a data dir.     */
static void
test_empty_data_dir (void **state)
{
    (void) state;
    data_dir_make ();
    zsock_t *general = hub_start_in (1000, 64, s_dir);
    logs_in_alone (general, A, "alice");
    answers (general, A, CMD_ROOMS, NULL, "Rooms:\n* general (1 member)\n");
    hub_finish ();
}

/*  With a data dir a line is kept in the room's file even with
    --history 0, so the room stays (one file per room name).            */
static void
test_data_dir_history_zero_room_stays (void **state)
{
    (void) state;
    data_dir_make ();
    zsock_t *general = hub_start_in (0, 64, s_dir);
    logs_in_alone (general, A, "alice");
    zsock_t *tmp = move_new (A, "alice", "Tmp", general);
    send_line (A, "hi");
    expect_out_alone (tmp, "\n[" TS "][alice]:hi\n", A);
    move_to (A, "alice", "general", tmp, general);
    answers (general, A, CMD_ROOMS, NULL, "Rooms:\n* general (1 member)\n  Tmp (0 members)\n");
    //  Blank lines still do not count.
    zsock_t *blank = move_new (A, "alice", "blank", general);
    send_line (A, " ");
    expect_prompt (blank, A);
    move_to (A, "alice", "general", blank, general);
    expect_bye (blank);
    hub_finish ();
    char path [1024];
    snprintf (path, sizeof path, "%s/Tmp.log", s_dir);
    assert_int_equal (access (path, F_OK), 0);
    snprintf (path, sizeof path, "%s/blank.log", s_dir);
    assert_int_equal (access (path, F_OK), -1);
}

/*  A data dir that cannot be listed (gone): general only, still served. */
static void
test_data_dir_unreadable (void **state)
{
    (void) state;
    data_dir_make ();
    char gone [128];
    snprintf (gone, sizeof gone, "%s/gone", s_dir);
    zsock_t *general = hub_start_in (1000, 64, gone);
    logs_in_alone (general, A, "alice");
    send_line (A, "lost");
    expect_out_alone (general, "\n[" TS "][alice]:lost\n", A);
    send_name (B, "bob");
    expect_join (general, B, "bob", "[" TS "][alice]:lost\n", A);
    hub_finish ();
}

/* ------------------------------------------------------------------ */
/*  Caps, PAUSE and RESUME, a stuck room, idle rooms, new-room pacing   */

/*  The next message from the hub itself, if one comes within ms: true
    when it is `type` for id; any other message fails the test.          */
static bool
hub_got (msg_kind_t kind, uint64_t id, int ms)
{
    zsock_set_rcvtimeo (s_hub.hub, ms);
    zmsg_t *msg = msg_recv (s_hub.hub);
    zsock_set_rcvtimeo (s_hub.hub, CHECK_WAIT_MS);
    if (!msg)
        return false;
    msg_view_t v;
    if (!msg_parse (msg, &v) || !msg_is (&v, kind) || v.id != id || v.parts != 0)
        check_fail_unexpected (__FILE__, __LINE__, msg_spec (kind)->type, msg);
    zmsg_destroy (&msg);
    return true;
}

/*  Two gateways: the hub reads both, waits for both before it announces
    general (hub_start_idle), ATTACHes each room to each on its own
    endpoint, and answers a client on its id's gateway: REFUSE, PAUSE and
    RESUME to gateway 1 for a gateway-1 id. A NAME whose id names another
    gateway than the pipe it came on is dropped.                         */
static void
test_two_gateways_route_by_id (void **state)
{
    (void) state;
    const uint64_t W = msg_id_make (1, 1, 1); /* A's gen and slot, gateway 1 */
    const uint64_t V = msg_id_make (1, 1, 2);
    s_next_gateways = 2;
    zsock_t    *general = hub_start (1000, 64);
    zsock_t    *general_web = expect_attach_on (s_hub.web);
    const char *e0 = s_hub.rooms [0].endpoint, *e1 = s_hub.rooms [1].endpoint;
    assert_string_equal (e0 + strlen (e0) - 2, "-0");
    assert_string_equal (e1 + strlen (e1) - 2, "-1");
    logs_in_alone (general, A, "alice");

    send_web (msg_new_name (W, "wendy", 5));
    expect_join_alone (general_web, W, "wendy", "");
    expect_out (general, "\nwendy has joined our chat...\n", 0, A);
    send_web (msg_new_name (V, "alice", 5));
    expect_msg (s_hub.web, MSG_REFUSE, V, "Name is already taken.");
    send_name (V, "victor"); /* on gateway 0's pipe: not its own */
    answers (general, A, CMD_USERS, NULL, "Users in general (2): alice, wendy\n");
    send_web (msg_new_line (W, "hi", 2));
    expect_out (general, "\n[" TS "][wendy]:hi\n", 0, A);
    expect_out_alone (general_web, "\n[" TS "][wendy]:hi\n", W);

    //  wendy moves and pipelines past the cap: PAUSE and RESUME for her
    //  go to gateway 1.
    send_web (msg_new_cmd (W, command_name (CMD_JOIN), "dev", 3, "", 0));
    zsock_t *dev = expect_attach ();
    zsock_t *dev_web = expect_attach_on (s_hub.web);
    expect_out (general, "\nwendy has left our chat...\n", 0, A);
    expect_release (general_web, W, true);
    for (int i = 0; i < HUB_DEFERRED_MAX; i++)
        send_web (msg_new_line (W, "later", 5));
    expect_bare (s_hub.web, MSG_PAUSE, W);
    send_web (msg_new_released (W));
    expect_join_alone (dev_web, W, "wendy", "");
    for (int i = 0; i < HUB_DEFERRED_MAX; i++)
        expect_out_alone (dev_web, "\n[" TS "][wendy]:later\n", W);
    expect_bare (s_hub.web, MSG_RESUME, W);
    expect_nothing_queued (s_hub.hub);
    expect_nothing_queued (general_web);
    expect_nothing_queued (dev);
    hub_finish ();
}

/*  A mover's deferred input reaches its cap: PAUSE, once. Lines in flight
    after it are still taken; the move replays all of them, in order,
    then RESUME.                                                          */
static void
test_deferred_input_pauses (void **state)
{
    (void) state;
    zsock_t *general = hub_start_two ();
    zsock_t *dev =
        move_begin_at (__FILE__, __LINE__, A, "alice", "dev", general, NULL, CHECK_IDS (B));
    const int lines = HUB_DEFERRED_MAX + 20;
    char      text [32];
    for (int i = 0; i < lines; i++) {
        snprintf (text, sizeof text, "line %d", i);
        send_line (A, text);
        if (i == HUB_DEFERRED_MAX - 2)
            //  One short of the cap: not yet.
            assert_false (hub_got (MSG_PAUSE, A, 200));
    }
    expect_bare (s_hub.hub, MSG_PAUSE, A);
    //  The hub has taken everything (bob's reply comes after), and paused
    //  alice once only.
    answers (general, B, CMD_USERS, NULL, "Users in general (1): bob\n");
    expect_nothing_queued (s_hub.hub);
    send_released (A);
    expect_join_alone (dev, A, "alice", "");
    for (int i = 0; i < lines; i++) {
        char pattern [64];
        snprintf (pattern, sizeof pattern, "\n[" TS "][alice]:line %d\n", i);
        expect_out_alone (dev, pattern, A);
    }
    expect_bare (s_hub.hub, MSG_RESUME, A);
    hub_finish ();
}

/*  /msg for a mover is held up to a cap; past it the sender is told so,
    and nothing is dropped unsaid. The held ones arrive after the move.  */
static void
test_held_output_has_a_cap (void **state)
{
    (void) state;
    zsock_t *general = hub_start_two ();
    zsock_t *dev =
        move_begin_at (__FILE__, __LINE__, A, "alice", "dev", general, NULL, CHECK_IDS (B));
    for (int i = 0; i < HUB_HELD_MAX; i++) {
        char text [32];
        snprintf (text, sizeof text, "psst %d", i);
        send_cmd (B, CMD_MSG, "alice", text);
        expect_prompt (general, B);
    }
    send_cmd (B, CMD_MSG, "ALICE", "one too many");
    expect_reply (general, "alice cannot receive messages right now. Try again later.\n", B);
    send_released (A);
    expect_join_alone (dev, A, "alice", "");
    for (int i = 0; i < HUB_HELD_MAX; i++) {
        char pattern [64];
        snprintf (pattern, sizeof pattern, "\n[" TS "][bob -> alice]:psst %d\n", i);
        expect_reply (dev, pattern, A);
    }
    //  Moved in, alice takes messages again.
    send_cmd (B, CMD_MSG, "alice", "welcome");
    expect_prompt (general, B);
    expect_reply (dev, "\n[" TS "][bob -> alice]:welcome\n", A);
    expect_nothing_queued (s_hub.hub);
    hub_finish ();
}

/*  id, alone in a room whose output pipe the test does not read, sends
    lines "l0", "l1"... until that room is stuck: the room's output pipe,
    its input pipe and the hub's queue for it are full. Sent as a gateway
    would, nothing while id is paused; the room may catch up (RESUME)
    before it is stuck, and stuck, id stays paused. Returns the count.  */
static int
fill_until_stuck (uint64_t id)
{
    const int most = 60000;
    int       sent = 0;
    bool      paused = false, stuck = false;
    while (!stuck && sent < most) {
        if (!paused) {
            for (int i = 0; i < 100; i++) {
                char text [32];
                snprintf (text, sizeof text, "l%d", sent++);
                send_line (id, text);
            }
            paused = hub_got (MSG_PAUSE, id, 0);
        } else if (hub_got (MSG_RESUME, id, 1000))
            paused = false;
        else
            stuck = true;
    }
    if (!stuck)
        fail_msg ("not paused for good after %d lines to a stuck room", sent);
    return sent;
}

/*  Reads a stuck room's pipe again: every line fill_until_stuck sent, in
    order, while watching the hub for RESUME id (*resumed); until_bye: then
    the room's BYE too. Bounded in time. Returns the lines read.         */
static int
drain_lines (zsock_t *room, uint64_t id, const char *name, int sent, bool *resumed, bool until_bye)
{
    int     got = 0;
    bool    bye = false;
    int64_t deadline = zclock_mono () + 60000;
    zsock_set_rcvtimeo (room, 10);
    while ((got < sent || (!until_bye && !*resumed) || (until_bye && !bye)) &&
           zclock_mono () < deadline) {
        zmsg_t *msg = msg_recv (room);
        if (msg) {
            msg_view_t v;
            char       want [64];
            snprintf (want, sizeof want, "\n[" TS "][%s]:l%d\n", name, got);
            if (until_bye && got == sent && msg_parse (msg, &v) && msg_is (&v, MSG_BYE))
                bye = true;
            else {
                if (!msg_parse (msg, &v) || !check_out_ok (&v, want, NULL, 0, id))
                    check_fail_unexpected (__FILE__, __LINE__, want, msg);
                got++;
            }
            zmsg_destroy (&msg);
        }
        if (!until_bye && !*resumed)
            *resumed = hub_got (MSG_RESUME, id, 0);
    }
    zsock_set_rcvtimeo (room, CHECK_WAIT_MS);
    if (until_bye && !bye)
        fail_msg ("%d of %d lines, and no BYE", got, sent);
    return got;
}

/*  A room that stops reading (here: its output pipe, which the test does
    not drain, fills up and the room blocks on it) does not block the hub:
    its members are paused once its queue is full, everyone else is
    served (commands, logins, new rooms), and when it reads again it gets
    every line in order and its members are resumed.                      */
static void
test_stuck_room_does_not_block_the_hub (void **state)
{
    (void) state;
    zsock_t *general = hub_start_two ();
    zsock_t *dev = move_from (A, "alice", "dev", general, B);
    int      sent = fill_until_stuck (A);
    //  The hub serves the others: a command, a login, a new room.
    answers (general, B, CMD_ROOMS, NULL, "Rooms:\n  dev (1 member)\n* general (1 member)\n");
    logs_in (general, C, "carol", B);
    zsock_t *ops = move_from (C, "carol", "ops", general, B);
    send_line (C, "still here");
    expect_out_alone (ops, "\n[" TS "][carol]:still here\n", C);
    //  /msg to a member of the stuck room: the sender is told.
    send_cmd (B, CMD_MSG, "alice", "hello?");
    expect_reply (general, "alice cannot receive messages right now. Try again later.\n", B);
    //  The room reads again: every line, in order, then RESUME.
    bool resumed = false;
    int  got = drain_lines (dev, A, "alice", sent, &resumed, false);
    if (got != sent || !resumed)
        fail_msg ("after the room read again: %d of %d lines, %s", got, sent,
                  resumed ? "resumed" : "no RESUME");
    send_line (A, "back");
    expect_out_alone (dev, "\n[" TS "][alice]:back\n", A);
    expect_nothing_queued (s_hub.hub);
    hub_finish ();
}

/*  The hub stops while a room's pipe is full: the room still gets every
    line and then its $TERM (zactor_destroy would not wait for room in the
    pipe, and the room would be left running), and says BYE.            */
static void
test_stuck_room_is_stopped_at_shutdown (void **state)
{
    (void) state;
    //  Every line must reach the room before its $TERM: a minute, not the
    //  hub's one second, so a room slowed by valgrind on a busy machine
    //  still takes them all (a room that does not read is the test above).
    s_next_shutdown_ms = 60000;
    zsock_t *general = hub_start_one ();
    zsock_t *dev = move_new (A, "alice", "dev", general);
    int      sent = fill_until_stuck (A);
    //  Stop the hub without waiting, and read the room meanwhile.
    assert_int_equal (zstr_send (s_hub.actor, "$TERM"), 0);
    bool resumed = false;
    drain_lines (dev, A, "alice", sent, &resumed, true);
    for (size_t i = 0; i < s_hub.nrooms; i++)
        if (s_hub.rooms [i].sock == dev)
            zsock_destroy (&s_hub.rooms [i].sock);
    //  The hub has ended: its exit signal waits in the pipe for this.
    hub_finish ();
}

/*  A room that is behind stops (its last member left, it has no history)
    without the hub waiting for it: zactor_destroy would wait until the
    room has read its whole pipe, and the room waits for its output to be
    read. The hub answers others all along, and the room still gets every
    message, then $TERM, and says BYE.                                   */
static void
test_stopping_a_room_that_is_behind_does_not_block (void **state)
{
    (void) state;
    zsock_t *general = hub_start (0, 64);  //  No history: dev stops when left
    logs_in_alone (general, A, "alice");
    logs_in (general, B, "bob", A);
    zsock_t *dev = move_from (A, "alice", "dev", general, B);
    int      sent = fill_until_stuck (A);
    //  Leaving empties dev: its LEAVE waits behind the rest. Out of that
    //  room's queue, alice is resumed.
    send_cmd (A, CMD_JOIN, "general", NULL);
    expect_bare (s_hub.hub, MSG_RESUME, A);
    int     got = 0;
    bool    released = false, bye = false;
    int64_t deadline = zclock_mono () + 60000;
    zsock_set_rcvtimeo (dev, 10);
    while (!bye && zclock_mono () < deadline) {
        for (int i = 0; i < 20 && !bye; i++) {
            zmsg_t *msg = msg_recv (dev);
            if (!msg)
                break;
            msg_view_t v;
            char       want [32];
            snprintf (want, sizeof want, "\n[" TS "][alice]:l%d\n", got);
            if (!msg_parse (msg, &v))
                check_fail_unexpected (__FILE__, __LINE__, "a message", msg);
            if (check_is_empty_out (&v))
                ;
            else if (got < sent && check_out_ok (&v, want, NULL, 0, A))
                got++;
            else if (got == sent && !released && msg_is (&v, MSG_RELEASE) && v.id == A)
                released = true;
            else if (released && msg_is (&v, MSG_BYE))
                bye = true;
            else
                check_fail_unexpected (__FILE__, __LINE__, want, msg);
            zmsg_destroy (&msg);
        }
        //  Whatever dev is doing, the hub answers.
        answers (general, B, CMD_USERS, NULL, "Users in general (1): bob\n");
    }
    zsock_set_rcvtimeo (dev, CHECK_WAIT_MS);
    if (!bye)
        fail_msg ("dev: %d of %d lines, %s, no BYE", got, sent,
                  released ? "released" : "not released");
    expect_nothing_queued (dev);
    for (size_t i = 0; i < s_hub.nrooms; i++)
        if (s_hub.rooms [i].sock == dev)
            zsock_destroy (&s_hub.rooms [i].sock);
    hub_finish ();
}

/*  alice, alone in general, moves to a new room dev and says text there
    (so dev has history); returns dev's pipe.                            */
static zsock_t *
alice_says_in_dev (zsock_t *general, const char *text)
{
    logs_in_alone (general, A, "alice");
    zsock_t *dev = move_new (A, "alice", "dev", general);
    send_line (A, text);
    char want [64];
    snprintf (want, sizeof want, "\n[" TS "][alice]:%s\n", text);
    expect_out_alone (dev, want, A);
    return dev;
}

/*  An empty room with history stops after --room-idle; without a data
    dir its history goes with it. general never stops.                   */
static void
test_idle_room_stops (void **state)
{
    (void) state;
    zsock_t *general = hub_start_idle (1000, 64, "", 1);
    zsock_t *dev = alice_says_in_dev (general, "hello");
    move_to (A, "alice", "general", dev, general);
    //  Still there right away (it has history) ...
    answers (general, A, CMD_ROOMS, NULL, "Rooms:\n  dev (0 members)\n* general (1 member)\n");
    //  ... gone after the idle time.
    expect_bye (dev);
    answers (general, A, CMD_ROOMS, NULL, "Rooms:\n* general (1 member)\n");
    //  Joined again: a new room, its history gone with the old one.
    dev = move_new (A, "alice", "dev", general);
    send_line (A, "again");
    expect_out_alone (dev, "\n[" TS "][alice]:again\n", A);
    hub_finish ();
}

/*  A member keeps a room alive however long; it idles out once left.    */
static void
test_room_with_members_does_not_idle (void **state)
{
    (void) state;
    zsock_t *general = hub_start_idle (1000, 64, "", 1);
    zsock_t *dev = alice_says_in_dev (general, "hello");
    //  Well past the idle time, the room still answers.
    zclock_sleep (1500);
    answers (dev, A, CMD_USERS, NULL, "Users in dev (1): alice\n");
    move_to (A, "alice", "general", dev, general);
    expect_bye (dev);
    hub_finish ();
}

/*  With a data dir, a stopped room's history comes back when it is
    joined again; rooms restored at start idle out like any other.       */
static void
test_idle_room_comes_back_from_its_file (void **state)
{
    (void) state;
    data_dir_make ();
    data_file ("old.log", "[2026-01-02 03:04:05][zed]:from before\n");
    zsock_t *general = hub_start_idle (1000, 64, s_dir, 1);
    zsock_t *old = expect_attach ();
    expect_bye (old);
    zsock_t *dev = alice_says_in_dev (general, "kept");
    move_to (A, "alice", "general", dev, general);
    expect_bye (dev);
    dev = move_at (__FILE__, __LINE__, A, "alice", "dev", general, NULL, NULL, 0,
                   "[" TS "][alice]:kept\n", NULL, 0);
    move_at (__FILE__, __LINE__, A, "alice", "old", dev, NULL, NULL, 0,
             "[2026-01-02 03:04:05][zed]:from before\n", NULL, 0);
    expect_bye (dev);
    hub_finish ();
}

/*  --room-idle 0: a room with history never stops (the old behaviour).  */
static void
test_room_idle_zero_keeps_rooms (void **state)
{
    (void) state;
    zsock_t *general = hub_start_idle (1000, 64, "", 0);
    zsock_t *dev = alice_says_in_dev (general, "hello");
    move_to (A, "alice", "general", dev, general);
    zclock_sleep (1500);
    expect_nothing_queued (dev);
    answers (general, A, CMD_ROOMS, NULL, "Rooms:\n  dev (0 members)\n* general (1 member)\n");
    hub_finish ();
}

/*  One client starts a burst of new rooms, then is told to wait; joining
    rooms that exist is not limited, and other clients have their own.  */
static void
test_room_creation_is_paced (void **state)
{
    (void) state;
    zsock_t *general = hub_start_two ();
    zsock_t *from = general;
    for (int i = 0; i < HUB_ROOM_RATE_BURST; i++) {
        char name [16];
        snprintf (name, sizeof name, "r%d", i);
        zsock_t *to;
        if (from == general)
            to = move_at (__FILE__, __LINE__, A, "alice", name, from, NULL, CHECK_IDS (B), "", NULL,
                          0);
        else {
            to = move_new (A, "alice", name, from);
            expect_bye (from);  //  Empty and without history
        }
        from = to;
    }
    send_cmd (A, CMD_JOIN, "one-more", NULL);
    check_msg_t got;
    check_recv_at (__FILE__, __LINE__, from, &got, "the too-fast reply");
    const char *head = "You are creating rooms too fast. Try again in ";
    char        text [128] = "";
    if (msg_is (&got.v, MSG_OUT) && got.v.parts == 4 && got.v.part [0].size < sizeof text)
        memcpy (text, got.v.part [0].data, got.v.part [0].size);
    int  seconds = 0;
    char tail [8] = "";
    if (strncmp (text, head, strlen (head)) != 0 ||
        sscanf (text + strlen (head), "%d%7s", &seconds, tail) != 2 || seconds < 1 ||
        seconds > HUB_ROOM_RATE_MS / 1000 || strcmp (tail, "s.") != 0 ||
        text [strlen (text) - 1] != '\n') {
        check_print_msg (&got.v);
        check_msg_free (&got);
        fail_msg ("expected \"%s<1..%d> s.\\n\"", head, HUB_ROOM_RATE_MS / 1000);
    }
    check_msg_free (&got);
    //  Rooms that exist: fine. Bob: his own burst.
    move_at (__FILE__, __LINE__, A, "alice", "general", from, general, NULL, 0, "", CHECK_IDS (B));
    expect_bye (from);
    move_from (B, "bob", "bobs", general, A);
    hub_finish ();
}

/* ------------------------------------------------------------------ */
/*  Metrics                                                            */

/*  SCRAPE tag on gateway pipe gw: the hub answers METRICS tag there,
    the whole exposition (returned, NUL-terminated; the caller frees).   */
static char *
scrape_on_at (const char *file, int line, zsock_t *gw, uint64_t tag)
{
    zmsg_t *msg = msg_new_scrape (tag);
    assert_int_equal (msg_send (&msg, gw), 0);
    check_msg_t got;
    check_recv_at (file, line, gw, &got, "METRICS");
    if (!msg_is (&got.v, MSG_METRICS) || got.v.id != tag) {
        print_error ("%s:%d: expected METRICS id=0x%llx\n    got ", file, line,
                     (unsigned long long) tag);
        check_print_msg (&got.v);
        check_msg_free (&got);
        _fail (file, line);
    }
    char *text = strndup (got.v.part [0].data, got.v.part [0].size);
    assert_non_null (text);
    check_msg_free (&got);
    return text;
}
#define scrape(tag)        scrape_on_at (__FILE__, __LINE__, s_hub.hub, (tag))
#define scrape_on(gw, tag) scrape_on_at (__FILE__, __LINE__, (gw), (tag))

/*  The exposition holds this whole line.                                */
static void
expect_sample_at (const char *file, int line, const char *text, const char *sample)
{
    char whole [256];
    snprintf (whole, sizeof whole, "\n%s\n", sample);
    if (!strstr (text, whole))
        check_fail_at (file, line, "no line \"%s\" in the exposition:\n%s", sample, text);
}
#define expect_sample(text, sample) expect_sample_at (__FILE__, __LINE__, (text), (sample))

static void
send_stats (uint64_t gateway, const uint64_t *figures, size_t count)
{
    send_to_hub (msg_new_stats (gateway, figures, count));
}

/*  /metrics: the hub's own figures, read when asked, and the gateway's
    latest STATS (zeros before its first); a STATS that is not one
    gateway's whole set is dropped and the last one kept.                */
static void
test_scrape_shows_the_hub_and_the_gateways (void **state)
{
    (void) state;
    zsock_t *general = hub_start_two ();
    send_name (C, "Alice");
    expect_refuse (C, "Name is already taken.");
    char *text = scrape (0x77);
    //  No cluster, no link families.
    assert_null (strstr (text, "tcpchat_cluster"));
    expect_sample (text, "tcpchat_rooms 1");
    expect_sample (text, "tcpchat_members 2");
    expect_sample (text, "tcpchat_name_refusals_total 1");
    expect_sample (text, "tcpchat_rooms_created_total 1");
    expect_sample (text, "tcpchat_clients{transport=\"tcp\"} 0");
    expect_sample (text, "tcpchat_deliveries_total{transport=\"tcp\"} 0");
    assert_null (strstr (text, "transport=\"web\""));
    char build [128];
    snprintf (build, sizeof build, "tcpchat_build_info{version=\"%s\"} 1", config_version ());
    expect_sample (text, build);
    //  Just started: no test machine is this slow.
    char *uptime = strstr (text, "\ntcpchat_uptime_seconds ");
    assert_non_null (uptime);
    assert_true (strtoull (uptime + strlen ("\ntcpchat_uptime_seconds "), NULL, 10) < 60);
    free (text);

    uint64_t figures [METRICS_GW_FIGURES] = {0};
    figures [METRICS_GW_CLIENTS] = 3;
    figures [METRICS_GW_CONNECTIONS] = 5;
    figures [METRICS_GW_DELIVERIES] = 42;
    send_stats (0, figures, METRICS_GW_FIGURES);
    uint64_t wrong [METRICS_GW_FIGURES + 1];
    for (size_t i = 0; i <= METRICS_GW_FIGURES; i++)
        wrong [i] = 999;
    send_stats (0, wrong, METRICS_GW_FIGURES - 1);
    send_stats (0, wrong, METRICS_GW_FIGURES + 1);
    send_stats (5, wrong, METRICS_GW_FIGURES); /* another gateway's id on this pipe */
    zsock_t *dev = move_from (B, "bob", "dev", general, A);
    text = scrape (0x78);
    expect_sample (text, "tcpchat_clients{transport=\"tcp\"} 3");
    expect_sample (text, "tcpchat_connections_total{transport=\"tcp\"} 5");
    expect_sample (text, "tcpchat_deliveries_total{transport=\"tcp\"} 42");
    expect_sample (text, "tcpchat_lines_in_total{transport=\"tcp\"} 0");
    expect_sample (text, "tcpchat_rooms 2");
    expect_sample (text, "tcpchat_members 2");
    expect_sample (text, "tcpchat_rooms_created_total 2");
    assert_null (strstr (text, " 999\n"));
    free (text);
    (void) dev;
    hub_finish ();
}

/*  With the web gateway (1) too: its STATS, id 1 on its own pipe, is
    shown as transport="web" beside tcp's, and a SCRAPE on its pipe is
    answered there. A STATS naming the other gateway is dropped.         */
static void
test_scrape_with_two_gateways (void **state)
{
    (void) state;
    s_next_gateways = 2;
    zsock_t *general = hub_start (1000, 64);
    zsock_t *general_web = expect_attach_on (s_hub.web);
    uint64_t tcp [METRICS_GW_FIGURES] = {0}, web [METRICS_GW_FIGURES] = {0};
    uint64_t wrong [METRICS_GW_FIGURES];
    for (size_t i = 0; i < METRICS_GW_FIGURES; i++)
        wrong [i] = 999;
    tcp [METRICS_GW_CLIENTS] = 4;
    web [METRICS_GW_CLIENTS] = 2;
    web [METRICS_GW_LINES_IN] = 9;
    send_stats (0, tcp, METRICS_GW_FIGURES);
    send_stats (1, wrong, METRICS_GW_FIGURES); /* gateway 1's id on gateway 0's pipe */
    //  A round trip on gateway 0's pipe: the hub has read what came before.
    free (scrape (1));
    send_web (msg_new_stats (1, web, METRICS_GW_FIGURES));
    send_web (msg_new_stats (0, wrong, METRICS_GW_FIGURES));
    char *text = scrape_on (s_hub.web, 0xABCDEF);
    expect_sample (text, "tcpchat_clients{transport=\"tcp\"} 4");
    expect_sample (text, "tcpchat_clients{transport=\"web\"} 2");
    expect_sample (text, "tcpchat_lines_in_total{transport=\"tcp\"} 0");
    expect_sample (text, "tcpchat_lines_in_total{transport=\"web\"} 9");
    assert_null (strstr (text, " 999\n"));
    free (text);
    expect_nothing_queued (s_hub.hub);
    expect_nothing_queued (s_hub.web);
    (void) general;
    (void) general_web;
    hub_finish ();
}

/* ------------------------------------------------------------------ */
/*  Events (--http): the hub's replies carry theirs in the SAY, which the
    room sends on in its OUT; without --http every one is "" (the tests
    above, through actor_check).                                          */

#define EV_ERROR(text) "{\"type\":\"error\",\"text\":\"" text "\"}"

static void
test_events (void **state)
{
    (void) state;
    s_next_http_port = 8080;
    zsock_t *general = hub_start (1000, 64);
    send_name (A, "alice");
    expect_enter_event (general, A, "alice", "",
                        "{\"type\":\"entered\",\"room\":\"general\",\"name\":\"alice\","
                        "\"history\":[]}");
    send_name (B, "bob");
    expect_out_event (general, "\nbob has joined our chat...\n",
                      "{\"type\":\"joined\",\"room\":\"general\",\"name\":\"bob\"}", 0, A);
    expect_enter_event (general, B, "bob", "",
                        "{\"type\":\"entered\",\"room\":\"general\",\"name\":\"bob\","
                        "\"history\":[]}");
    //  A name refused: REFUSE carries the reason; the web gateway makes
    //  the event itself.
    send_name (C, "ALICE");
    expect_refuse (C, "Name is already taken.");

    send_line (A, "hi");
    expect_out_event (general, "\n[" TS "][alice]:hi\n",
                      "{\"type\":\"line\",\"room\":\"general\",\"time\":\"" TS
                      "\",\"name\":\"alice\",\"text\":\"hi\"}",
                      A, B);

    send_cmd (A, CMD_HELP, NULL, NULL);
    expect_reply_event (general, s_help,
                        "{\"type\":\"reply\",\"text\":\"Commands:\\n  /help            show "
                        "this list\\n  /rooms           list the rooms and how many are in "
                        "each\\n  /join ROOM       move to ROOM, creating it if needed\\n  /users "
                        "          list the users in your room\\n  /name NEW        change your "
                        "name\\n  /msg NAME TEXT   send TEXT to NAME only\\n  /quit            "
                        "leave the chat\"}",
                        A);
    send_unknown_cmd (A, "/frob");
    expect_reply_event (general, "Unknown command: /frob. Type /help for the list.\n",
                        EV_ERROR ("Unknown command: /frob. Type /help for the list."), A);
    send_cmd (A, CMD_JOIN, NULL, NULL);
    expect_reply_event (general, "Usage: /join ROOM\n", EV_ERROR ("Usage: /join ROOM"), A);
    send_cmd (A, CMD_JOIN, "General", NULL);
    expect_reply_event (general, "You are already in general.\n",
                        EV_ERROR ("You are already in general."), A);
    send_cmd (A, CMD_NAME, "Bob", NULL);
    expect_reply_event (general, "Name is already taken.\n", EV_ERROR ("Name is already taken."),
                        A);
    send_notice (B, "Message too long (max 4096 bytes).\n");
    expect_reply_event (general, "Message too long (max 4096 bytes).\n",
                        EV_ERROR ("Message too long (max 4096 bytes)."), B);
    send_cmd (B, CMD_USERS, NULL, NULL);
    expect_reply_event (general, "Users in general (2): alice, bob\n",
                        "{\"type\":\"users\",\"room\":\"general\",\"names\":[\"alice\",\"bob\"]}",
                        B);

    //  /msg: the target gets it, the sender its copy with a bare prompt.
    const char *private = "{\"type\":\"private\",\"time\":\"" TS "\",\"from\":\"alice\","
                          "\"to\":\"bob\",\"text\":\"psst \\\"x\\\"\"}";
    send_cmd (A, CMD_MSG, "bob", "psst \"x\"");
    expect_reply_event (general, "\n[" TS "][alice -> bob]:psst \"x\"\n", private, B);
    expect_reply_event (general, "", private, A);
    send_cmd (A, CMD_MSG, "nobody", "hi");
    expect_reply_event (general, "No such user: nobody.\n", EV_ERROR ("No such user: nobody."), A);

    //  A move: left to those who stay, entered in the new room.
    send_cmd (B, CMD_JOIN, "dev", NULL);
    zsock_t *dev = expect_attach ();
    expect_out_event (general, "\nbob has left our chat...\n",
                      "{\"type\":\"left\",\"room\":\"general\",\"name\":\"bob\"}", 0, A);
    expect_release (general, B, true);
    send_released (B);
    expect_enter_event (dev, B, "bob", "",
                        "{\"type\":\"entered\",\"room\":\"dev\",\"name\":\"bob\","
                        "\"history\":[]}");
    //  /rooms, sorted by name, the caller's marked.
    send_cmd (B, CMD_ROOMS, NULL, NULL);
    expect_reply_event (dev, "Rooms:\n* dev (1 member)\n  general (1 member)\n",
                        "{\"type\":\"rooms\",\"rooms\":[{\"name\":\"dev\",\"members\":1,"
                        "\"mine\":true},{\"name\":\"general\",\"members\":1,\"mine\":false}]}",
                        B);
    //  /name: the renamer's reply carries renamed (alone: no notice).
    send_cmd (B, CMD_NAME, "robert", NULL);
    expect_msg (dev, MSG_LABEL, B, "robert");
    expect_reply_event (dev, "bob changed their name to robert\n",
                        "{\"type\":\"renamed\",\"room\":\"dev\",\"old\":\"bob\","
                        "\"new\":\"robert\"}",
                        B);
    hub_finish ();
}

/* ------------------------------------------------------------------ */
/*  Cluster mode: the test plays the cluster actor too                  */

#define STAMP "[2026-01-02 03:04:05]"


static void
cluster_send (zsock_t *sock, zmsg_t *msg)
{
    assert_int_equal (msg_send (&msg, sock), 0);
}

/*  The next message on sock is kind for id, its part 0 equal to first
    (the rest is not looked at).                                          */
static void
expect_first_at (const char *file, int line, zsock_t *sock, msg_kind_t kind, uint64_t id,
                 const char *first)
{
    check_msg_t got;
    check_recv_at (file, line, sock, &got, msg_spec (kind)->type);
    if (!msg_is (&got.v, kind) || got.v.id != id || (first && !check_part_is (&got.v, 0, first))) {
        print_error ("%s:%d: expected %s id=0x%llx \"%s\"...\n    got ", file, line,
                     msg_spec (kind)->type, (unsigned long long) id, first ? first : "");
        check_print_msg (&got.v);
        check_msg_free (&got);
        _fail (file, line);
    }
    check_msg_free (&got);
}
#define expect_first(sock, kind, id, first)                                                        \
    expect_first_at (__FILE__, __LINE__, (sock), (kind), (id), (first))

static void
entry_send (const char *kind, const char *member, uint64_t local, const char *name)
{
    zchunk_t   *batch = zchunk_new (NULL, 0);
    msg_entry_t entry = {{kind, strlen (kind)},
                         {member, strlen (member)},
                         {name, strlen (name)},
                         {"", 0},
                         {STAMP, strlen (STAMP)},
                         {"1-1", 3},
                         local};
    msg_entries_add (batch, &entry);
    zmsg_t *msg = msg_new_entries (batch);
    zchunk_destroy (&batch);
    cluster_send (s_room_cluster, msg);
}

/*  A hub of node n1 with the fake cluster; general followed, its STATE
    empty. Returns general's gateway pipe.                               */
static zsock_t *
hub_start_cluster (void)
{
    static unsigned seq;
    memset (&s_hub, 0, sizeof s_hub);
    config_t config;
    config_defaults (&config);
    snprintf (config.cluster, sizeof config.cluster, "redis://127.0.0.1:1");
    snprintf (config.node, sizeof config.node, "n1");
    snprintf (config.endpoint, sizeof config.endpoint, "inproc://test-hubc-%d-%u", (int) getpid (),
              ++seq);
    char endpoint [ENDPOINT_MAX + 1] = ">";
    endpoint_hub (&config, 0, endpoint + 1);
    s_hub.hub = check_socket_new (endpoint);
    endpoint_cluster (&config, endpoint + 1);
    s_cluster = check_socket_new (endpoint);
    assert_non_null (s_hub.hub);
    assert_non_null (s_cluster);
    hub_args_t *args = (hub_args_t *) calloc (1, sizeof *args);
    assert_non_null (args);
    args->config = config;
    s_hub.actor = zactor_new (hub_actor, args);
    assert_non_null (s_hub.actor);
    HANDOFF_SEEN ();
    zsock_t *general = expect_attach ();
    //  FOLLOW general: the cluster connects to its pipe, and sends STATE.
    check_msg_t got;
    check_recv_at (__FILE__, __LINE__, s_cluster, &got, "FOLLOW");
    assert_true (msg_is (&got.v, MSG_FOLLOW) && check_part_is (&got.v, 0, "general"));
    endpoint [0] = '>';
    snprintf (endpoint + 1, ENDPOINT_MAX, "%.*s", (int) got.v.part [1].size, got.v.part [1].data);
    check_msg_free (&got);
    s_room_cluster = check_socket_new (endpoint);
    assert_non_null (s_room_cluster);
    cluster_send (s_room_cluster, msg_new_state ("", 0, "", 0, "0-0"));
    return general;
}

/*  Scrapes until the exposition holds want (the HELP/TYPE lines of the
    second family stripped), 200 tries 10 ms apart at most.             */
static void
expect_scrape_shows (const char *want)
{
    for (int i = 0; i < 200; i++) {
        char *text = scrape (0x60 + (uint64_t) i);
        //  Only the samples: drop the comment lines.
        char *samples = (char *) calloc (1, strlen (text) + 2);
        assert_non_null (samples);
        samples [0] = '\n';
        size_t n = 1;
        for (char *line = text; *line;) {
            char  *end = strchr (line, '\n');
            size_t len = end ? (size_t) (end - line + 1) : strlen (line);
            if (*line != '#') {
                memcpy (samples + n, line, len);
                n += len;
            }
            line += len;
        }
        bool found = strstr (samples, want) != NULL;
        free (samples);
        free (text);
        if (found)
            return;
        zclock_sleep (10);
    }
    fail_msg ("/metrics never showed %s", want);
}

static void
test_cluster_names_rooms_and_private (void **state)
{
    (void) state;
    zsock_t *general = hub_start_cluster ();

    //  alice is claimed; her input waits for the verdict, then follows her
    //  join through the room's stream.
    send_name (A, "alice");
    expect_first (s_cluster, MSG_CLAIM, A, "alice");
    send_line (A, "first");
    expect_nothing_queued (s_room_cluster);
    cluster_send (s_cluster, msg_new_claimed (A, ""));
    expect_msg (s_room_cluster, MSG_PUBLISH, A, "join", "alice", "", "[" TS "]");
    expect_msg (s_room_cluster, MSG_PUBLISH, A, "line", "alice", "first", "[" TS "]");
    entry_send ("join", "n1/0000000100000001", A, "alice");
    expect_join_alone (general, A, "alice", "");

    //  The cluster's verdicts are the refusals' texts.
    send_name (B, "Alice2");
    expect_first (s_cluster, MSG_CLAIM, B, "Alice2");
    cluster_send (s_cluster, msg_new_claimed (B, "taken"));
    expect_refuse (B, "Name is already taken.");
    send_name (C, "carol");
    expect_first (s_cluster, MSG_CLAIM, C, "carol");
    cluster_send (s_cluster, msg_new_claimed (C, "unavailable"));
    expect_refuse (C, "The chat is unavailable right now. Try again later.");
    //  alice's name stays hers locally: refused without asking.
    send_name (D, "ALICE");
    expect_refuse (D, "Name is already taken.");

    //  /rooms is the cluster's list, shown as ever.
    send_cmd (A, CMD_ROOMS, NULL, NULL);
    expect_first (s_cluster, MSG_ROOMS, A, NULL);
    const char *list = "general\t3\ndev\t1\n";
    cluster_send (s_cluster, msg_new_roomlist (A, list, strlen (list)));
    expect_reply (general, "Rooms:\n  dev (1 member)\n* general (3 members)\n", A);

    //  /msg to a name not here: the cluster's verdict, or its delivery.
    send_cmd (A, CMD_MSG, "zed", "hi");
    expect_msg (s_cluster, MSG_PRIVATE, A, "alice", "zed", "hi", "[" TS "]");
    cluster_send (s_cluster, msg_new_privated (A, "nouser"));
    expect_reply (general, "No such user: zed.\n", A);
    send_cmd (A, CMD_MSG, "yan", "hi");
    expect_msg (s_cluster, MSG_PRIVATE, A, "alice", "yan", "hi", "[" TS "]");
    cluster_send (s_cluster, msg_new_privated (A, ""));
    expect_prompt (general, A);
    cluster_send (s_cluster, msg_new_deliver (A, "yan", "psst", 4, STAMP));
    expect_reply (general, "\n" STAMP "[yan -> alice]:psst\n", A);

    //  /name claims the new name first, then lets the old one go.
    send_cmd (A, CMD_NAME, "alicia", NULL);
    expect_first (s_cluster, MSG_CLAIM, A, "alicia");
    cluster_send (s_cluster, msg_new_claimed (A, ""));
    expect_msg (s_cluster, MSG_UNCLAIM, A, "alice");
    expect_msg (s_room_cluster, MSG_PUBLISH, A, "rename", "alice", "alicia", "[" TS "]");

    //  /metrics shows the link as the cluster last reported it (LINK and
    //  SCRAPE come on two pipes: ask until it shows, a bounded while).
    char *text = scrape (0x55);
    assert_non_null (strstr (text, "\ntcpchat_cluster_link_up 0\n"));
    free (text);
    cluster_send (s_cluster, msg_new_link (true, 0));
    cluster_send (s_cluster, msg_new_link (false, 17));
    expect_scrape_shows ("\ntcpchat_cluster_link_up 0\ntcpchat_cluster_held_publishes 17\n");
    cluster_send (s_cluster, msg_new_link (true, 0));
    expect_scrape_shows ("\ntcpchat_cluster_link_up 1\ntcpchat_cluster_held_publishes 0\n");

    //  Gone: its name released, its leave published.
    send_closed (A);
    expect_msg (s_cluster, MSG_UNCLAIM, A, "alicia");
    expect_msg (s_room_cluster, MSG_PUBLISH, A, "leave", "alicia", "", "[" TS "]");
    expect_release (general, A, false);

    hub_finish ();
    expect_bare (s_room_cluster, MSG_BYE, 0);
    zsock_destroy (&s_room_cluster);
    zsock_destroy (&s_cluster);
}

/*  The hub's queue to the cluster is capped: a client pipelining /rooms
    to a cluster that does not read is paused (PAUSE) at the cap, others
    are served meanwhile; when the cluster reads again every ROOMS comes,
    in order, and the client is resumed. Sent as a gateway would,
    nothing while paused.                                                */
static void
test_cluster_queue_pauses_its_sender (void **state)
{
    (void) state;
    zsock_t *general = hub_start_cluster ();
    send_name (A, "alice");
    expect_first (s_cluster, MSG_CLAIM, A, "alice");
    cluster_send (s_cluster, msg_new_claimed (A, ""));
    expect_msg (s_room_cluster, MSG_PUBLISH, A, "join", "alice", "", "[" TS "]");
    entry_send ("join", "n1/0000000100000001", A, "alice");
    expect_join_alone (general, A, "alice", "");

    //  The cluster's pipe, then the hub's queue, fill: PAUSE, once.
    const int most = 60000;
    int       sent = 0;
    while (sent < most && !hub_got (MSG_PAUSE, A, 0))
        for (int i = 0; i < 100; i++, sent++)
            send_cmd (A, CMD_ROOMS, NULL, NULL);
    if (sent >= most)
        fail_msg ("not paused after %d /rooms to a cluster that does not read", sent);
    assert_false (hub_got (MSG_PAUSE, A, 200));
    //  A line goes to the room as ever: only the cluster's queue is full.
    send_line (A, "still here");
    expect_msg (s_room_cluster, MSG_PUBLISH, A, "line", "alice", "still here", "[" TS "]");

    //  The cluster reads again: every ROOMS, then RESUME.
    bool    resumed = false;
    int     got = 0;
    int64_t deadline = zclock_mono () + 60000;
    zsock_set_rcvtimeo (s_cluster, 10);
    while ((got < sent || !resumed) && zclock_mono () < deadline) {
        zmsg_t *msg = msg_recv (s_cluster);
        if (msg) {
            msg_view_t v;
            if (!msg_parse (msg, &v) || !msg_is (&v, MSG_ROOMS) || v.id != A)
                check_fail_unexpected (__FILE__, __LINE__, "ROOMS", msg);
            got++;
            zmsg_destroy (&msg);
        }
        if (!resumed)
            resumed = hub_got (MSG_RESUME, A, 0);
    }
    zsock_set_rcvtimeo (s_cluster, CHECK_WAIT_MS);
    if (got != sent || !resumed)
        fail_msg ("after the cluster read again: %d of %d ROOMS, %s", got, sent,
                  resumed ? "resumed" : "no RESUME");
    send_cmd (A, CMD_ROOMS, NULL, NULL);
    expect_first (s_cluster, MSG_ROOMS, A, NULL);
    expect_nothing_queued (s_cluster);

    send_closed (A);
    expect_msg (s_cluster, MSG_UNCLAIM, A, "alice");
    expect_msg (s_room_cluster, MSG_PUBLISH, A, "leave", "alice", "", "[" TS "]");
    expect_release (general, A, false);
    hub_finish ();
    expect_bare (s_room_cluster, MSG_BYE, 0);
    zsock_destroy (&s_room_cluster);
    zsock_destroy (&s_cluster);
}

/*  A room's queue to the cluster is capped too: with a room cluster pipe
    that is not read, the room stops taking the hub's pipe at its cap,
    the hub's queue for the room fills and its member is paused; when the
    cluster reads again every line is published, in order, and she is
    resumed.                                                             */
static void
test_room_cluster_queue_pauses_its_members (void **state)
{
    (void) state;
    zsock_t *general = hub_start_cluster ();
    send_name (A, "alice");
    expect_first (s_cluster, MSG_CLAIM, A, "alice");
    cluster_send (s_cluster, msg_new_claimed (A, ""));
    expect_msg (s_room_cluster, MSG_PUBLISH, A, "join", "alice", "", "[" TS "]");
    entry_send ("join", "n1/0000000100000001", A, "alice");
    expect_join_alone (general, A, "alice", "");

    int sent = fill_until_stuck (A);

    bool    resumed = false;
    int     got = 0;
    int64_t deadline = zclock_mono () + 60000;
    zsock_set_rcvtimeo (s_room_cluster, 10);
    while ((got < sent || !resumed) && zclock_mono () < deadline) {
        zmsg_t *msg = msg_recv (s_room_cluster);
        if (msg) {
            msg_view_t v;
            char       want [32];
            snprintf (want, sizeof want, "l%d", got);
            if (!msg_parse (msg, &v) || !msg_is (&v, MSG_PUBLISH) || v.id != A ||
                !check_part_is (&v, 2, want))
                check_fail_unexpected (__FILE__, __LINE__, want, msg);
            got++;
            zmsg_destroy (&msg);
        }
        if (!resumed)
            resumed = hub_got (MSG_RESUME, A, 0);
    }
    zsock_set_rcvtimeo (s_room_cluster, CHECK_WAIT_MS);
    if (got != sent || !resumed)
        fail_msg ("after the cluster read again: %d of %d lines, %s", got, sent,
                  resumed ? "resumed" : "no RESUME");

    send_closed (A);
    expect_msg (s_cluster, MSG_UNCLAIM, A, "alice");
    expect_msg (s_room_cluster, MSG_PUBLISH, A, "leave", "alice", "", "[" TS "]");
    expect_release (general, A, false);
    hub_finish ();
    expect_bare (s_room_cluster, MSG_BYE, 0);
    zsock_destroy (&s_room_cluster);
    zsock_destroy (&s_cluster);
}

int
main (void)
{
#define HUB_TEST(f) cmocka_unit_test_setup_teardown (f, check_watchdog_setup, hub_teardown)
    const struct CMUnitTest tests [] = {
        HUB_TEST (test_start_fails_on_a_taken_endpoint),
        HUB_TEST (test_start_fails_without_general),
        HUB_TEST (test_stops_when_no_gateway_came),
        HUB_TEST (test_start_announces_general),
        HUB_TEST (test_cluster_names_rooms_and_private),
        HUB_TEST (test_cluster_queue_pauses_its_sender),
        HUB_TEST (test_room_cluster_queue_pauses_its_members),
        HUB_TEST (test_name_accepted),
        HUB_TEST (test_name_refused),
        HUB_TEST (test_name_lookalikes),
        HUB_TEST (test_lines_reach_the_room),
        HUB_TEST (test_help_and_unknown),
        HUB_TEST (test_notice),
        HUB_TEST (test_users),
        HUB_TEST (test_join_moves_the_client),
        HUB_TEST (test_join_refusals),
        HUB_TEST (test_join_a_room_that_cannot_start),
        HUB_TEST (test_input_in_transit_waits),
        HUB_TEST (test_two_gateways_route_by_id),
        HUB_TEST (test_move_within_move),
        HUB_TEST (test_private_message_in_transit_is_held),
        HUB_TEST (test_name_command),
        HUB_TEST (test_msg_command),
        HUB_TEST (test_msg_unknown_long_name),
        HUB_TEST (test_unknown_long_command_stays_utf8),
        HUB_TEST (test_closed_frees_the_name),
        HUB_TEST (test_closed_in_transit),
        HUB_TEST (test_max_rooms),
        HUB_TEST (test_max_rooms_one),
        HUB_TEST (test_empty_room_is_stopped),
        HUB_TEST (test_room_with_history_stays),
        HUB_TEST (test_history_zero_room_is_stopped),
        HUB_TEST (test_general_is_never_stopped),
        HUB_TEST (test_rooms_sorted),
        HUB_TEST (test_rooms_come_back_from_files),
        HUB_TEST (test_restore_respects_max_rooms),
        HUB_TEST (test_empty_data_dir),
        HUB_TEST (test_data_dir_history_zero_room_stays),
        HUB_TEST (test_data_dir_unreadable),
        HUB_TEST (test_deferred_input_pauses),
        HUB_TEST (test_held_output_has_a_cap),
        HUB_TEST (test_stuck_room_does_not_block_the_hub),
        HUB_TEST (test_stuck_room_is_stopped_at_shutdown),
        HUB_TEST (test_stopping_a_room_that_is_behind_does_not_block),
        HUB_TEST (test_idle_room_stops),
        HUB_TEST (test_room_with_members_does_not_idle),
        HUB_TEST (test_idle_room_comes_back_from_its_file),
        HUB_TEST (test_room_idle_zero_keeps_rooms),
        HUB_TEST (test_room_creation_is_paced),
        HUB_TEST (test_scrape_shows_the_hub_and_the_gateways),
        HUB_TEST (test_scrape_with_two_gateways),
        HUB_TEST (test_events),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
