/* SPDX-License-Identifier: MIT */
/*  Unit tests for the room actor, driven directly.

    Each test starts one room (zactor_new (room_actor, args)) on a unique
    inproc endpoint, connects a PAIR to that endpoint as the fake gateway,
    plays the hub by sending JOIN/LEAVE/LINE/SAY/USERS/RENAME on the
    actor's pipe, and checks every message the room sends the gateway, in
    order. room_finish() stops the room: its last message must be BYE,
    with nothing unexpected before it.                                   */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "actor.h"
#include "actor_check.h"
#include "endpoints.h"
#include "messages.h"
#include "room.h"
#include "../remove_tree.h"

#define TS CHECK_TS

static const uint64_t A = 0x100000001ULL;
static const uint64_t B = 0x100000002ULL;
static const uint64_t C = 0x200000003ULL;
static const uint64_t X = 0x900000009ULL; /* never a member */

static struct {
    zactor_t *actor;
    zsock_t  *gateway; /* the fake gateway 0's end of the room's pipe */
    zsock_t  *web;     /* gateway 1's, when the room has two (room_start_two) */
    int       log_fd;
} s_room = {NULL, NULL, NULL, -1};

static zsock_t *s_cluster; /* cluster mode: the fake cluster actor's end */

/*  Gateways the next room has (0: the default, one).                  */
static unsigned s_next_gateways;

/*  The next room's --http port (0: none, its events are all "").        */
static int s_next_http_port;

/*  A room keeping its file in data_dir ("" for none), logging to
    log_path (NULL: /dev/null).                                          */
static void
room_start_in (const char *name, size_t history, const char *data_dir, const char *log_path)
{
    static unsigned seq;
    room_args_t    *args = (room_args_t *) calloc (1, sizeof (room_args_t));
    assert_non_null (args);
    config_defaults (&args->config);
    snprintf (args->name, sizeof args->name, "%s", name);
    snprintf (args->config.endpoint, sizeof args->config.endpoint, "inproc://test-room-%d",
              (int) getpid ());
    args->seq = ++seq;
    args->gateways = s_next_gateways;
    s_next_gateways = 0;
    args->config.history = (int) history;
    args->config.http_port = s_next_http_port;
    s_next_http_port = 0;
    snprintf (args->config.data_dir, sizeof args->config.data_dir, "%s", data_dir);
    s_room.log_fd = log_path ? open (log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)
                             : open ("/dev/null", O_WRONLY | O_CLOEXEC);
    assert_true (s_room.log_fd >= 0);
    //  The room logs to stdout and to this, as to --log-file.
    args->config.log_fd = s_room.log_fd;
    args->config.verbose = true;

    char endpoint [ENDPOINT_MAX + 1] = ">";
    endpoint_room (&args->config, args->seq, 0, endpoint + 1);
    char web [ENDPOINT_MAX + 1] = ">";
    endpoint_room (&args->config, args->seq, 1, web + 1);
    bool two = args->gateways == 2;
    s_room.actor = zactor_new (room_actor, args); /* takes args */
    assert_non_null (s_room.actor);
    s_room.gateway = check_socket_new (endpoint);
    assert_non_null (s_room.gateway);
    if (two) {
        s_room.web = check_socket_new (web);
        assert_non_null (s_room.web);
    }
}

static void
room_start (const char *name, size_t history)
{
    room_start_in (name, history, "", NULL);
}

/*  Stops the room: BYE must be the next and last message.               */
static void
room_finish (void)
{
    zactor_destroy (&s_room.actor);
    expect_bare (s_room.gateway, MSG_BYE, 0);
    expect_nothing_queued (s_room.gateway);
    zsock_destroy (&s_room.gateway);
    if (s_room.web) {
        expect_bare (s_room.web, MSG_BYE, 0);
        expect_nothing_queued (s_room.web);
        zsock_destroy (&s_room.web);
    }
    close (s_room.log_fd);
    s_room.log_fd = -1;
}

static char s_dir [64]; /* a test's data dir, or "" */

/*  After a failure: stop what is left, checking nothing.                 */
static int
room_teardown (void **state)
{
    (void) state;
    zactor_destroy (&s_room.actor);
    zsock_destroy (&s_room.gateway);
    zsock_destroy (&s_room.web);
    zsock_destroy (&s_cluster);
    if (s_room.log_fd >= 0)
        close (s_room.log_fd);
    s_room.log_fd = -1;
    if (*s_dir)
        remove_tree (s_dir);
    s_dir [0] = 0;
    check_watchdog_stop ();
    return 0;
}

/* ------------------------------------------------------------------ */
/*  Playing the hub                                                    */

static void
send_to_room (zmsg_t *msg)
{
    assert_int_equal (msg_send (&msg, zactor_sock (s_room.actor)), 0);
}

static void
send_join (uint64_t id, const char *name)
{
    send_to_room (msg_new_join (id, name));
}
static void
send_line (uint64_t id, const char *text)
{
    send_to_room (msg_new_line (id, text, strlen (text)));
}
static void
send_say (uint64_t id, const char *text)
{
    send_to_room (msg_new_say (id, text, strlen (text), "", 0));
}
static void
send_users (uint64_t id)
{
    send_to_room (msg_new_users (id));
}
static void
send_rename (uint64_t id, const char *name)
{
    send_to_room (msg_new_rename (id, name, strlen (name)));
}
static void
send_leave (uint64_t id, bool moving)
{
    send_to_room (msg_new_leave (id, moving));
}

/*  id joins as name: its ENTER (with history), the others told; id
    leaves: the others told, its RELEASE.                                */
#define joins(id, name, history, ...)                                                              \
    (send_join ((id), (name)), expect_join (s_room.gateway, (id), (name), (history), __VA_ARGS__))
#define joins_alone(id, name, history)                                                             \
    (send_join ((id), (name)), expect_join_alone (s_room.gateway, (id), (name), (history)))
#define leaves(id, name, moving, ...)                                                              \
    (send_leave ((id), (moving)),                                                                  \
     expect_leave (s_room.gateway, (id), (name), (moving), __VA_ARGS__))
#define leaves_alone(id, name, moving)                                                             \
    (send_leave ((id), (moving)), expect_leave_alone (s_room.gateway, (id), (name), (moving)))

/*  alice (A), then bob (B), then carol (C), each checked.               */
static void
join_three (void)
{
    joins_alone (A, "alice", "");
    joins (B, "bob", "", A);
    joins (C, "carol", "", A, B);
}

/* ------------------------------------------------------------------ */

static void
test_join_alone (void **state)
{
    (void) state;
    room_start ("lobby", 10);
    joins_alone (A, "alice", "");
    room_finish ();
}

static void
test_join_tells_the_others (void **state)
{
    (void) state;
    room_start ("lobby", 10);
    join_three ();
    room_finish ();
}

static void
test_line_goes_to_everyone_else (void **state)
{
    (void) state;
    room_start ("lobby", 10);
    join_three ();
    send_line (B, "hello world");
    expect_out (s_room.gateway, "\n[" TS "][bob]:hello world\n", B, A, C);
    send_line (A, "second");
    expect_out (s_room.gateway, "\n[" TS "][alice]:second\n", A, B, C);
    room_finish ();
}

/*  Text is data, never a format; tabs and UTF-8 pass as they are.       */
static void
test_line_text_is_kept (void **state)
{
    (void) state;
    room_start ("lobby", 10);
    joins_alone (A, "100%s", "");
    joins (B, "bob", "", A);
    send_line (A, "%s %n %d\tcaf\xc3\xa9 \xe2\x82\xac");
    expect_out (s_room.gateway, "\n[" TS "][100%s]:%s %n %d\tcaf\xc3\xa9 \xe2\x82\xac\n", A, B);
    send_users (B);
    expect_reply (s_room.gateway, "Users in lobby (2): 100%s, bob\n", B);
    room_finish ();
}

/*  The only member speaking: nobody to tell, a fresh prompt for it.     */
static void
test_line_alone (void **state)
{
    (void) state;
    room_start ("lobby", 10);
    joins_alone (A, "alice", "");
    send_line (A, "anyone?");
    expect_out_alone (s_room.gateway, "\n[" TS "][alice]:anyone?\n", A);
    room_finish ();
}

/*  The copy of a line in history is the line as broadcast, without the
    newlines that frame it on screen: same stamp, same text.            */
static void
test_history_is_what_was_said (void **state)
{
    (void) state;
    room_start ("lobby", 10);
    joins_alone (A, "alice", "");
    send_line (A, "remember me");
    check_msg_t got;
    check_recv_at (__FILE__, __LINE__, s_room.gateway, &got, "the broadcast");
    check_out_at (__FILE__, __LINE__, &got, "\n[" TS "][alice]:remember me\n", A, NULL, 0);
    char said [128];
    assert_true (got.v.part [0].size < sizeof said);
    memcpy (said, got.v.part [0].data + 1, got.v.part [0].size - 1); /* without the first \n */
    said [got.v.part [0].size - 1] = 0;
    check_msg_free (&got);

    joins (B, "bob", said, A);
    room_finish ();
}

static void
test_history_oldest_first_and_capped (void **state)
{
    (void) state;
    room_start ("lobby", 3);
    joins_alone (A, "alice", "");
    const char *lines [] = {"one", "two", "three", "four"};
    for (size_t i = 0; i < 4; i++) {
        send_line (A, lines [i]);
        char pattern [64];
        snprintf (pattern, sizeof pattern, "\n[" TS "][alice]:%s\n", lines [i]);
        expect_out_alone (s_room.gateway, pattern, A);
    }
    send_join (B, "bob");
    expect_join (s_room.gateway, B, "bob",
                 "[" TS "][alice]:two\n[" TS "][alice]:three\n[" TS "][alice]:four\n", A);
    send_line (B, "five");
    expect_out (s_room.gateway, "\n[" TS "][bob]:five\n", B, A);
    send_join (C, "carol");
    expect_join (s_room.gateway, C, "carol",
                 "[" TS "][alice]:three\n[" TS "][alice]:four\n[" TS "][bob]:five\n", A, B);
    //  Leaving does not touch history; nor does the one who spoke leaving.
    leaves (A, "alice", false, B, C);
    send_join (A, "alice");
    expect_join (s_room.gateway, A, "alice",
                 "[" TS "][alice]:three\n[" TS "][alice]:four\n[" TS "][bob]:five\n", B, C);
    room_finish ();
}

static void
test_history_zero_keeps_nothing (void **state)
{
    (void) state;
    room_start ("lobby", 0);
    joins_alone (A, "alice", "");
    send_line (A, "gone at once");
    expect_out_alone (s_room.gateway, "\n[" TS "][alice]:gone at once\n", A);
    joins (B, "bob", "", A);
    room_finish ();
}

/*  A blank line: a fresh prompt for its author, nothing to anyone else,
    nothing in history.                                                 */
static void
test_blank_line (void **state)
{
    (void) state;
    room_start ("lobby", 10);
    joins_alone (A, "alice", "");
    joins (B, "bob", "", A);
    send_line (A, "");
    expect_prompt (s_room.gateway, A);
    send_line (A, "  \t ");
    expect_prompt (s_room.gateway, A);
    send_line (B, "\t");
    expect_prompt (s_room.gateway, B);
    joins (C, "carol", "", A, B);
    room_finish ();
}

static void
test_say_goes_to_one (void **state)
{
    (void) state;
    room_start ("lobby", 10);
    join_three ();
    send_say (B, "Usage: /join ROOM\n");
    expect_reply (s_room.gateway, "Usage: /join ROOM\n", B);
    send_say (C, "\n[2024-01-01 10:00:00][alice -> carol]:psst\n");
    expect_reply (s_room.gateway, "\n[2024-01-01 10:00:00][alice -> carol]:psst\n", C);
    send_say (A, "");
    expect_prompt (s_room.gateway, A);
    //  SAY is not chat: nothing of it is kept.
    leaves (C, "carol", false, A, B);
    joins (C, "carol", "", A, B);
    room_finish ();
}

static void
test_users_in_order_of_entry (void **state)
{
    (void) state;
    room_start ("Dev_Room-2", 10);
    joins_alone (A, "alice", "");
    send_users (A);
    expect_reply (s_room.gateway, "Users in Dev_Room-2 (1): alice\n", A);
    joins (B, "bob", "", A);
    joins (C, "carol", "", A, B);
    send_users (B);
    expect_reply (s_room.gateway, "Users in Dev_Room-2 (3): alice, bob, carol\n", B);
    leaves (B, "bob", false, A, C);
    send_users (C);
    expect_reply (s_room.gateway, "Users in Dev_Room-2 (2): alice, carol\n", C);
    joins (B, "bob", "", A, C);
    send_users (A);
    expect_reply (s_room.gateway, "Users in Dev_Room-2 (3): alice, carol, bob\n", A);
    room_finish ();
}

/*  More members than any small initial capacity.                         */
static void
test_many_members (void **state)
{
    (void) state;
    enum { N = 40 };
    room_start ("big", 10);
    uint64_t ids [N];
    char     names [N][16];
    char     users [N * 18 + 64];
    snprintf (users, sizeof users, "Users in big (%d): ", N);
    for (size_t i = 0; i < N; i++) {
        ids [i] = 0x500000000ULL + i;
        snprintf (names [i], sizeof names [i], "user%02zu", i);
        send_join (ids [i], names [i]);
        expect_join_at (__FILE__, __LINE__, s_room.gateway, ids [i], names [i], "", ids, i);
        if (i)
            strcat (users, ", ");
        strcat (users, names [i]);
    }
    strcat (users, "\n");
    send_users (ids [7]);
    expect_reply (s_room.gateway, users, ids [7]);
    //  A line from the middle reaches the 39 others.
    send_line (ids [20], "hi all");
    uint64_t others [N - 1];
    for (size_t i = 0, k = 0; i < N; i++)
        if (i != 20)
            others [k++] = ids [i];
    expect_out_at (__FILE__, __LINE__, s_room.gateway, "\n[" TS "][user20]:hi all\n", ids [20],
                   others, N - 1);
    //  Everyone but the first leaves, from the middle outwards.
    send_leave (ids [N / 2], false);
    for (size_t i = N / 2 - 1; i > 0; i--) {
        send_leave (ids [i], false);
        send_leave (ids [N - i], false);
    }
    //  Each leaver: a left notice to the rest, then its RELEASE "0".
    for (size_t i = 1; i < N; i++) {
        check_msg_t got;
        check_recv_at (__FILE__, __LINE__, s_room.gateway, &got, "a left notice");
        assert_true (msg_is (&got.v, MSG_OUT));
        check_msg_free (&got);
        check_recv_at (__FILE__, __LINE__, s_room.gateway, &got, "a RELEASE");
        assert_true (msg_is (&got.v, MSG_RELEASE) && check_part_is (&got.v, 0, "0"));
        check_msg_free (&got);
    }
    send_users (ids [0]);
    expect_reply (s_room.gateway, "Users in big (1): user00\n", ids [0]);
    room_finish ();
}

static void
test_rename (void **state)
{
    (void) state;
    room_start ("lobby", 10);
    join_three ();
    send_rename (A, "alicia");
    expect_rename (s_room.gateway, A, "alice", "alicia", B, C);
    //  The new name is used from now on.
    send_line (A, "it is me");
    expect_out (s_room.gateway, "\n[" TS "][alicia]:it is me\n", A, B, C);
    send_users (B);
    expect_reply (s_room.gateway, "Users in lobby (3): alicia, bob, carol\n", B);
    leaves (A, "alicia", false, B, C);
    //  Alone, a rename tells nobody else.
    leaves (B, "bob", false, C);
    send_rename (C, "Carol");
    expect_rename_alone (s_room.gateway, C, "carol", "Carol");
    send_users (C);
    expect_reply (s_room.gateway, "Users in lobby (1): Carol\n", C);
    room_finish ();
}

/*  Moving out: the others are told, then RELEASE passes the mover on,
    behind everything the room sent before it.                          */
static void
test_leave_moving_releases (void **state)
{
    (void) state;
    room_start ("lobby", 10);
    join_three ();
    send_say (A, "last words for alice\n");
    send_leave (A, true);
    expect_reply (s_room.gateway, "last words for alice\n", A);
    expect_leave (s_room.gateway, A, "alice", true, B, C);
    //  Gone: not listed, nothing more for it.
    send_users (B);
    expect_reply (s_room.gateway, "Users in lobby (2): bob, carol\n", B);
    send_line (A, "ghost");
    send_say (A, "ghost");
    send_line (C, "still here");
    expect_out (s_room.gateway, "\n[" TS "][carol]:still here\n", C, B);
    //  The last member moving out: RELEASE all the same.
    leaves (B, "bob", false, C);
    leaves_alone (C, "carol", true);
    room_finish ();
}

static void
test_leave_not_moving (void **state)
{
    (void) state;
    room_start ("lobby", 10);
    join_three ();
    //  RELEASE "0" comes behind all the room sent the leaver: then the
    //  gateway may close its connection.
    send_say (B, "last words for bob\n");
    send_leave (B, false);
    expect_reply (s_room.gateway, "last words for bob\n", B);
    expect_leave (s_room.gateway, B, "bob", false, A, C);
    send_say (A, "barrier\n");
    expect_reply (s_room.gateway, "barrier\n", A);
    leaves (A, "alice", false, C);
    leaves_alone (C, "carol", false);
    room_finish ();
}

static void
test_non_members_are_ignored (void **state)
{
    (void) state;
    room_start ("lobby", 10);
    joins_alone (A, "alice", "");
    send_line (X, "intruder");
    send_say (X, "intruder");
    send_users (X);
    send_rename (X, "mallory");
    send_leave (X, true);
    send_leave (X, false);
    send_say (A, "barrier\n");
    expect_reply (s_room.gateway, "barrier\n", A);
    send_users (A);
    expect_reply (s_room.gateway, "Users in lobby (1): alice\n", A);
    //  Nothing the intruder said was kept.
    joins (B, "bob", "", A);
    room_finish ();
}

/*  Messages the room does not understand change nothing.                */
static void
test_malformed_and_unknown_ignored (void **state)
{
    (void) state;
    room_start ("lobby", 10);
    joins_alone (A, "alice", "");
    zsock_t *pipe = zactor_sock (s_room.actor);
    //  An id frame of the wrong size.
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "LINE");
    zmsg_addmem (msg, &A, 4);
    zmsg_addstr (msg, "bad");
    assert_int_equal (msg_send (&msg, pipe), 0);
    //  An unknown type, and a LINE without its text.
    msg = msg_new_type ("BOGUS", A);
    msg_add_str (msg, "x");
    assert_int_equal (msg_send (&msg, pipe), 0);
    send_to_room (msg_new (MSG_LINE, A));
    send_say (A, "barrier\n");
    expect_reply (s_room.gateway, "barrier\n", A);
    room_finish ();
}

/*  $TERM (zactor_destroy) with members present: BYE and nothing else.   */
static void
test_term_says_bye (void **state)
{
    (void) state;
    room_start ("lobby", 10);
    join_three ();
    send_line (A, "bye all");
    expect_out (s_room.gateway, "\n[" TS "][alice]:bye all\n", A, B, C);
    room_finish ();
}


/* ------------------------------------------------------------------ */
/*  With a data dir                                                    */

static const char *
make_dir (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/tcpchat-room-XXXXXX");
    assert_non_null (mkdtemp (s_dir));
    return s_dir;
}

static char *
path_in (const char *name)
{
    static char path [1024];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    return path;
}

/*  The whole file as a string (NULL if there is none): the caller frees. */
static char *
read_text (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    char  *text = NULL;
    size_t size = 0;
    FILE  *out = open_memstream (&text, &size);
    assert_non_null (out);
    int c;
    while ((c = fgetc (file)) != EOF)
        fputc (c, out);
    fclose (out);
    fclose (file);
    return text;
}

/*  Receives a broadcast and returns the line as history keeps it (the
    text without its framing newlines): the caller frees.                */
static char *
recv_said (const char *pattern, uint64_t author, const uint64_t *ids, size_t n)
{
    check_msg_t got;
    check_recv_at (__FILE__, __LINE__, s_room.gateway, &got, "a broadcast");
    check_out_at (__FILE__, __LINE__, &got, pattern, author, ids, n);
    size_t size = got.v.part [0].size;
    char  *line = strndup (got.v.part [0].data + 1, size - 2);
    check_msg_free (&got);
    return line;
}

/*  Every chat line reaches the file as history keeps it, byte for byte,
    and before its broadcast: when the broadcast arrives it is there.
    Blank lines, notices, replies and renames are not chat.              */
static void
test_data_dir_appends_each_line (void **state)
{
    (void) state;
    room_start_in ("dev", 10, make_dir (), NULL);
    joins_alone (A, "alice", "");
    send_join (B, "b\xc3\xb6"
                  "b");
    expect_join (s_room.gateway, B,
                 "b\xc3\xb6"
                 "b",
                 "", A);
    //  Nothing said yet: no file.
    assert_int_equal (count_entries (s_dir), 0);

    const char *texts [] = {"hello", "100%s %n\tcaf\xc3\xa9", "   spaced   "};
    char        expected [1024] = "";
    for (size_t i = 0; i < 3; i++) {
        send_line (i == 1 ? B : A, texts [i]);
        char pattern [128];
        snprintf (pattern, sizeof pattern, "\n[" TS "][%s]:%s\n",
                  i == 1 ? "b\xc3\xb6"
                           "b"
                         : "alice",
                  texts [i]);
        uint64_t author = i == 1 ? B : A, other = i == 1 ? A : B;
        char    *said = recv_said (pattern, author, &other, 1);
        strcat (expected, said);
        strcat (expected, "\n");
        free (said);
        char *file = read_text (path_in ("dev.log"));
        assert_non_null (file);
        assert_string_equal (file, expected);
        free (file);
    }
    send_line (A, "  \t ");
    expect_prompt (s_room.gateway, A);
    send_say (A, "a reply\n");
    expect_reply (s_room.gateway, "a reply\n", A);
    send_rename (B, "bob");
    expect_rename (s_room.gateway, B,
                   "b\xc3\xb6"
                   "b",
                   "bob", A);
    leaves (B, "bob", false, A);
    room_finish ();
    char *file = read_text (path_in ("dev.log"));
    assert_non_null (file);
    assert_string_equal (file, expected);
    free (file);
    assert_int_equal (count_entries (s_dir), 1);
}

/*  At start the room takes its last lines back from its file (as many
    as history keeps), says so in its log, and goes on appending.       */
static void
test_data_dir_reloads_at_start (void **state)
{
    (void) state;
    make_dir ();
    FILE *file = fopen (path_in ("Dev_1.log"), "w");
    assert_non_null (file);
    fputs ("[2024-01-01 10:00:00][alice]:one\n[2024-01-01 10:00:01][bob]:two\n"
           "[2024-01-01 10:00:02][alice]:three\n[2024-01-01 10:00:03][bob]:four\n",
           file);
    fclose (file);
    char log_path [1024];
    snprintf (log_path, sizeof log_path, "%s/room.txt", s_dir);
    room_start_in ("Dev_1", 3, s_dir, log_path);
    send_join (A, "carol");
    expect_join_alone (s_room.gateway, A, "carol",
                       "[2024-01-01 10:00:01][bob]:two\n[2024-01-01 10:00:02][alice]:three\n"
                       "[2024-01-01 10:00:03][bob]:four\n");
    send_line (A, "five");
    char *said = recv_said ("\n[" TS "][carol]:five\n", A, NULL, 0);
    room_finish ();

    char *text = read_text (path_in ("Dev_1.log"));
    char *want = NULL;
    assert_true (asprintf (&want,
                           "[2024-01-01 10:00:00][alice]:one\n[2024-01-01 10:00:01][bob]:two\n"
                           "[2024-01-01 10:00:02][alice]:three\n[2024-01-01 10:00:03][bob]:four\n"
                           "%s\n",
                           said) > 0);
    assert_string_equal (text, want);
    free (text);
    free (want);
    free (said);

    char *log = read_text (log_path);
    assert_non_null (log);
    char line [1200];
    snprintf (line, sizeof line, " room[Dev_1] reloaded 3 lines from %s/Dev_1.log\n", s_dir);
    if (!strstr (log, line)) {
        print_error ("log has no \"%s\":\n%s", line, log);
        free (log);
        fail ();
    }
    free (log);
}

/*  --history 0 keeps nothing in memory, but the file still gets every
    line, and nothing is reloaded from it.                               */
static void
test_data_dir_history_zero (void **state)
{
    (void) state;
    make_dir ();
    FILE *file = fopen (path_in ("dev.log"), "w");
    assert_non_null (file);
    fputs ("[2024-01-01 10:00:00][alice]:old\n", file);
    fclose (file);
    room_start_in ("dev", 0, s_dir, NULL);
    joins_alone (A, "alice", "");
    send_line (A, "new");
    char *said = recv_said ("\n[" TS "][alice]:new\n", A, NULL, 0);
    room_finish ();
    char *text = read_text (path_in ("dev.log"));
    char *want = NULL;
    assert_true (asprintf (&want, "[2024-01-01 10:00:00][alice]:old\n%s\n", said) > 0);
    assert_string_equal (text, want);
    free (text);
    free (want);
    free (said);
}

/*  No data dir: the room opens no file at all, not even relative to the
    working directory.                                                   */
static void
test_no_data_dir_no_file (void **state)
{
    (void) state;
    make_dir ();
    char cwd [1024];
    assert_non_null (getcwd (cwd, sizeof cwd));
    assert_int_equal (chdir (s_dir), 0);
    room_start ("dev", 10);
    joins_alone (A, "alice", "");
    send_line (A, "not on disk");
    expect_out_alone (s_room.gateway, "\n[" TS "][alice]:not on disk\n", A);
    room_finish ();
    assert_int_equal (chdir (cwd), 0);
    assert_int_equal (count_entries (s_dir), 0);
}

/*  A file the room cannot write: one log line about it, not one per
    chat line, and the room keeps serving with history in memory.       */
static void
test_data_dir_write_error_logged_once (void **state)
{
    (void) state;
    make_dir ();
    //  A directory where the room's file should be: open fails.
    assert_int_equal (mkdir (path_in ("dev.log"), 0700), 0);
    char log_path [1024];
    snprintf (log_path, sizeof log_path, "%s/room.txt", s_dir);
    room_start_in ("dev", 10, s_dir, log_path);
    send_join (A, "alice");
    //  Reading a directory fails too: the room starts without history.
    expect_join_alone (s_room.gateway, A, "alice", "");
    joins (B, "bob", "", A);
    for (int i = 0; i < 3; i++) {
        send_line (A, "still served");
        expect_out (s_room.gateway, "\n[" TS "][alice]:still served\n", A, B);
    }
    send_join (C, "carol");
    expect_join (s_room.gateway, C, "carol",
                 "[" TS "][alice]:still served\n[" TS "][alice]:still served\n"
                 "[" TS "][alice]:still served\n",
                 A, B);
    room_finish ();
    char *log = read_text (log_path);
    assert_non_null (log);
    size_t errors = 0;
    for (const char *p = log; (p = strstr (p, "E: cannot write ")); p++)
        errors++;
    if (errors != 1 || !strstr (log, "E: cannot read ")) {
        print_error ("want one \"E: cannot write\" and one \"E: cannot read\" line, log:\n%s", log);
        free (log);
        fail ();
    }
    free (log);
}

/*  A room's name never leads its file out of the directory.            */
static void
test_data_dir_name_stays_inside (void **state)
{
    (void) state;
    make_dir ();
    room_start_in ("../up", 10, s_dir, NULL);
    joins_alone (A, "alice", "");
    send_line (A, "x");
    expect_out_alone (s_room.gateway, "\n[" TS "][alice]:x\n", A);
    room_finish ();
    //  No room name, no file: nothing is written, inside or out.
    assert_int_equal (count_entries (s_dir), 0);
    char outside [256];
    snprintf (outside, sizeof outside, "%s/../up.log", s_dir);
    assert_int_equal (access (outside, F_OK), -1);
}

/*  Two gateways: each member's output goes to its own gateway's pipe,
    an OUT to each gateway with members in it listing only its ids (the
    author's bare prompt only where the author is), ENTER, RELEASE and
    LABEL to the client's gateway, BYE to both (room_finish).            */
static void
test_two_gateways_each_get_their_own (void **state)
{
    (void) state;
    const uint64_t W1 = msg_id_make (1, 1, 1); /* same gen and slot as A */
    const uint64_t W2 = msg_id_make (1, 1, 2);
    s_next_gateways = 2;
    room_start ("lobby", 10);
    joins_alone (A, "alice", "");
    expect_nothing_queued (s_room.web);

    send_join (W1, "wendy");
    expect_out (s_room.gateway, "\nwendy has joined our chat...\n", 0, A);
    expect_join_alone (s_room.web, W1, "wendy", "");
    send_join (W2, "walt");
    expect_out (s_room.gateway, "\nwalt has joined our chat...\n", 0, A);
    expect_join (s_room.web, W2, "walt", "", W1);

    send_line (W1, "hi");
    expect_out (s_room.gateway, "\n[" TS "][wendy]:hi\n", 0, A);
    expect_out (s_room.web, "\n[" TS "][wendy]:hi\n", W1, W2);
    send_line (A, "hello");
    expect_out_alone (s_room.gateway, "\n[" TS "][alice]:hello\n", A);
    expect_out (s_room.web, "\n[" TS "][alice]:hello\n", 0, W1, W2);

    send_rename (W2, "walter");
    expect_out (s_room.gateway, "\nwalt changed their name to walter\n", 0, A);
    expect_rename (s_room.web, W2, "walt", "walter", W1);
    send_say (W1, "psst\n");
    expect_reply (s_room.web, "psst\n", W1);

    leaves_alone (A, "alice", false);
    expect_out (s_room.web, "\nalice has left our chat...\n", 0, W1, W2);
    send_leave (W1, true);
    expect_leave (s_room.web, W1, "wendy", true, W2);
    expect_nothing_queued (s_room.gateway);
    expect_nothing_queued (s_room.web);
    room_finish ();
}

/*  Its endpoint taken: the room says it did not start, and actor_new is
    NULL (the hub then answers "Cannot create that room now.").         */
static void
test_start_fails_on_a_taken_endpoint (void **state)
{
    (void) state;
    room_args_t *args = (room_args_t *) calloc (1, sizeof (room_args_t));
    assert_non_null (args);
    config_defaults (&args->config);
    snprintf (args->name, sizeof args->name, "dev");
    snprintf (args->config.endpoint, sizeof args->config.endpoint, "inproc://test-room-taken-%d",
              (int) getpid ());
    args->seq = 1;
    char bind [ENDPOINT_MAX + 1] = "@";
    endpoint_room (&args->config, args->seq, 0, bind + 1);
    zsock_t *squatter = zsock_new_pair (bind);
    assert_non_null (squatter);
    errno = 0;
    actor_t *room = actor_new (room_actor, args); /* takes args */
    assert_null (room);
    assert_int_equal (errno, ECHILD);
    zsock_destroy (&squatter);
}

/* ------------------------------------------------------------------ */
/*  Events: with a gateway that takes them (--http), each output carries
    its JSON (event.h) for the web gateway; without, "" (every test above
    checks that, through actor_check's expect_*).                        */

#define EV_ENTERED(room, name, history)                                                            \
    "{\"type\":\"entered\",\"room\":\"" room "\",\"name\":\"" name "\",\"history\":[" history "]}"
#define EV_LINE(room, name, text)                                                                  \
    "{\"type\":\"line\",\"room\":\"" room "\",\"time\":\"" TS "\",\"name\":\"" name                \
    "\",\"text\":\"" text "\"}"

/*  Each event once to each member: a line to all, its author too (the
    skip id with prompt_skip); joined to the others, entered to the
    joiner with the history; left to those who stay; renamed to the
    others in the broadcast and to the renamer in its own reply; users to
    the one asking; a blank line and a bare prompt carry none; a SAY's
    event goes on as the hub built it.                                   */
static void
test_events (void **state)
{
    (void) state;
    s_next_http_port = 8080;
    room_start ("lobby", 10);
    send_join (A, "alice");
    expect_enter_event (s_room.gateway, A, "alice", "", EV_ENTERED ("lobby", "alice", ""));
    send_join (B, "bob");
    expect_out_event (s_room.gateway, "\nbob has joined our chat...\n",
                      "{\"type\":\"joined\",\"room\":\"lobby\",\"name\":\"bob\"}", 0, A);
    expect_enter_event (s_room.gateway, B, "bob", "", EV_ENTERED ("lobby", "bob", ""));

    send_line (A, "say \"hi\"\t\\o/");
    expect_out_event (s_room.gateway, "\n[" TS "][alice]:say \"hi\"\t\\o/\n",
                      EV_LINE ("lobby", "alice", "say \\\"hi\\\"\\t\\\\o/"), A, B);
    send_line (B, " \t ");
    expect_out_event (s_room.gateway, "", "", 0, B);

    send_users (B);
    expect_reply_event (s_room.gateway, "Users in lobby (2): alice, bob\n",
                        "{\"type\":\"users\",\"room\":\"lobby\",\"names\":[\"alice\",\"bob\"]}", B);
    send_to_room (msg_new_say (A, "Usage: /join ROOM\n", 18, "{\"type\":\"error\"}", 16));
    expect_reply_event (s_room.gateway, "Usage: /join ROOM\n", "{\"type\":\"error\"}", A);

    const char *renamed = "{\"type\":\"renamed\",\"room\":\"lobby\",\"old\":\"bob\","
                          "\"new\":\"robert\"}";
    send_rename (B, "robert");
    //  To the others (bob skipped, no prompt_skip), LABEL, bob's reply.
    check_msg_t got;
    check_recv_at (__FILE__, __LINE__, s_room.gateway, &got, "the rename notice");
    check_out_event_at (__FILE__, __LINE__, &got, "\nbob changed their name to robert\n", renamed,
                        0, CHECK_IDS (A));
    assert_true (got.v.id == B && !msg_bool (&got.v, 2));
    check_msg_free (&got);
    expect_msg (s_room.gateway, MSG_LABEL, B, "robert");
    expect_reply_event (s_room.gateway, "bob changed their name to robert\n", renamed, B);

    //  History comes back in entered, line by line.
    send_join (C, "carol");
    expect_out_event (s_room.gateway, "\ncarol has joined our chat...\n",
                      "{\"type\":\"joined\",\"room\":\"lobby\",\"name\":\"carol\"}", 0, A, B);
    expect_enter_event (s_room.gateway, C, "carol", "[" TS "][alice]:say \"hi\"\t\\o/\n",
                        EV_ENTERED ("lobby", "carol",
                                    "{\"time\":\"" TS "\",\"name\":\"alice\",\"text\":\"say "
                                    "\\\"hi\\\"\\t\\\\o/\"}"));

    send_leave (A, false);
    expect_out_event (s_room.gateway, "\nalice has left our chat...\n",
                      "{\"type\":\"left\",\"room\":\"lobby\",\"name\":\"alice\"}", 0, B, C);
    expect_release (s_room.gateway, A, false);
    room_finish ();
}

/*  Two gateways: each gets the event with its own members' OUT; on the
    web gateway's pipe the author of a line is the skip id with
    prompt_skip (it gets the event too), on the other it is not listed.  */
static void
test_events_two_gateways (void **state)
{
    (void) state;
    const uint64_t W = msg_id_make (1, 1, 1);
    s_next_gateways = 2;
    s_next_http_port = 8080;
    room_start ("lobby", 10);
    send_join (A, "alice");
    expect_enter_event (s_room.gateway, A, "alice", "", EV_ENTERED ("lobby", "alice", ""));
    send_join (W, "wendy");
    expect_out_event (s_room.gateway, "\nwendy has joined our chat...\n",
                      "{\"type\":\"joined\",\"room\":\"lobby\",\"name\":\"wendy\"}", 0, A);
    expect_enter_event (s_room.web, W, "wendy", "", EV_ENTERED ("lobby", "wendy", ""));

    send_line (W, "hi");
    expect_out_event (s_room.gateway, "\n[" TS "][wendy]:hi\n", EV_LINE ("lobby", "wendy", "hi"), 0,
                      A);
    expect_out_event_at (__FILE__, __LINE__, s_room.web, "\n[" TS "][wendy]:hi\n",
                         EV_LINE ("lobby", "wendy", "hi"), W, NULL, 0);
    send_line (A, "yo");
    expect_out_event_at (__FILE__, __LINE__, s_room.gateway, "\n[" TS "][alice]:yo\n",
                         EV_LINE ("lobby", "alice", "yo"), A, NULL, 0);
    expect_out_event (s_room.web, "\n[" TS "][alice]:yo\n", EV_LINE ("lobby", "alice", "yo"), 0, W);
    room_finish ();
}

/* ------------------------------------------------------------------ */
/*  Cluster mode: the room publishes, and acts on ENTRIES as they come  */

#define STAMP "[2026-01-02 03:04:05]"


/*  A cluster-mode room as node n1, with the fake cluster connected.     */
static void
room_start_cluster (const char *name)
{
    static unsigned seq = 1000;
    room_args_t    *args = (room_args_t *) calloc (1, sizeof (room_args_t));
    assert_non_null (args);
    config_defaults (&args->config);
    snprintf (args->name, sizeof args->name, "%s", name);
    snprintf (args->config.endpoint, sizeof args->config.endpoint, "inproc://test-room-%d",
              (int) getpid ());
    snprintf (args->config.cluster, sizeof args->config.cluster, "redis://127.0.0.1:1");
    snprintf (args->config.node, sizeof args->config.node, "n1");
    args->seq = ++seq;
    args->config.history = 10;
    s_room.log_fd = open ("/dev/null", O_WRONLY | O_CLOEXEC);
    args->config.log_fd = s_room.log_fd;
    char endpoint [ENDPOINT_MAX + 1] = ">", cluster [ENDPOINT_MAX + 1] = ">";
    endpoint_room (&args->config, args->seq, 0, endpoint + 1);
    endpoint_room_cluster (&args->config, args->seq, cluster + 1);
    s_room.actor = zactor_new (room_actor, args);
    assert_non_null (s_room.actor);
    s_room.gateway = check_socket_new (endpoint);
    s_cluster = check_socket_new (cluster);
    assert_non_null (s_room.gateway);
    assert_non_null (s_cluster);
}

static void
send_entry (const char *kind, const char *member, uint64_t local, const char *name,
            const char *text)
{
    zchunk_t   *batch = zchunk_new (NULL, 0);
    msg_entry_t entry = {{kind, strlen (kind)},
                         {member, strlen (member)},
                         {name, strlen (name)},
                         {text, strlen (text)},
                         {STAMP, strlen (STAMP)},
                         {"1-1", 3},
                         local};
    msg_entries_add (batch, &entry);
    zmsg_t *msg = msg_new_entries (batch);
    zchunk_destroy (&batch);
    assert_int_equal (msg_send (&msg, s_cluster), 0);
}

static void
test_cluster_order_is_the_stream_s (void **state)
{
    (void) state;
    room_start_cluster ("general");
    //  zed is on node n2, with a line of history.
    const char *members = "n2/0000000000000005\tzed\n";
    const char *history = STAMP "[zed]:before\n";
    zmsg_t     *msg = msg_new_state (members, strlen (members), history, strlen (history), "1-0");
    assert_int_equal (msg_send (&msg, s_cluster), 0);

    //  alice's join is published; she enters when it comes back, with the
    //  history as of then, and the room had nothing to say before that.
    send_join (A, "alice");
    expect_msg (s_cluster, MSG_PUBLISH, A, "join", "alice", "", "[" TS "]");
    send_say (A, "held");    //  Held behind her ENTER
    send_line (A, "early");  //  Published once the SAY was taken: a sync
    expect_msg (s_cluster, MSG_PUBLISH, A, "line", "alice", "early", "[" TS "]");
    expect_nothing_queued (s_room.gateway);
    send_entry ("join", "n1/0000000100000001", A, "alice", "");
    expect_enter (s_room.gateway, A, "alice", STAMP "[zed]:before\n");
    expect_reply (s_room.gateway, "held", A);
    send_users (A);
    expect_reply (s_room.gateway, "Users in general (2): zed, alice\n", A);

    //  A remote line reaches her; hers is published, and shown (author
    //  skipped with a prompt) only when it comes back.
    send_entry ("line", "n2/0000000000000005", 0, "zed", "hi alice");
    expect_out (s_room.gateway, "\n" STAMP "[zed]:hi alice\n", 0, A);
    send_line (A, "hi zed");
    expect_msg (s_cluster, MSG_PUBLISH, A, "line", "alice", "hi zed", "[" TS "]");
    send_entry ("line", "n1/0000000100000001", A, "alice", "hi zed");
    expect_out_alone (s_room.gateway, "\n" STAMP "[alice]:hi zed\n", A);

    //  bob on n3 joins, then leaves: notices to alice, in that order.
    send_entry ("join", "n3/0000000000000007", 0, "bob", "");
    expect_out (s_room.gateway, "\nbob has joined our chat...\n", 0, A);
    send_entry ("leave", "n3/0000000000000007", 0, "bob", "");
    expect_out (s_room.gateway, "\nbob has left our chat...\n", 0, A);

    //  Renames: hers is shown (label, reply) when it comes back; zed's
    //  to her, and /users has both new names. A rename entry has the old
    //  name and the new one as its text.
    send_rename (A, "alicia");
    expect_msg (s_cluster, MSG_PUBLISH, A, "rename", "alice", "alicia", "[" TS "]");
    send_entry ("rename", "n1/0000000100000001", A, "alice", "alicia");
    expect_rename_alone (s_room.gateway, A, "alice", "alicia");
    send_entry ("rename", "n2/0000000000000005", 0, "zed", "zedd");
    expect_out (s_room.gateway, "\nzed changed their name to zedd\n", 0, A);
    send_users (A);
    expect_reply (s_room.gateway, "Users in general (2): zedd, alicia\n", A);

    //  A line the cluster could not take: alice is told.
    assert_int_equal (msg_send (&(zmsg_t *){msg_new_unsent (A, "line")}, s_cluster), 0);
    expect_reply (s_room.gateway,
                  "Your message was not delivered: the chat is unavailable. Try again later.\n", A);

    //  She leaves: released at once, the leave published.
    send_leave (A, false);
    expect_release (s_room.gateway, A, false);
    expect_msg (s_cluster, MSG_PUBLISH, A, "leave", "alicia", "", "[" TS "]");

    zactor_destroy (&s_room.actor);
    expect_bare (s_cluster, MSG_BYE, 0);
    expect_bare (s_room.gateway, MSG_BYE, 0);
    zsock_destroy (&s_cluster);
    zsock_destroy (&s_room.gateway);
    close (s_room.log_fd);
    s_room.log_fd = -1;
}

/*  The room's queue to the cluster is capped: with a cluster that does
    not read, the room stops reading the hub's pipe once ROOM_CLUSTER_
    QUEUE_MAX publishes wait (so the hub's queue for it fills, and the
    hub pauses its members, test_hub's stuck room). The test, as the hub,
    sends lines without blocking until the pipe stays full; the count is
    bounded by the pipes and the cap. Then the cluster reads again: every
    line, in order, and the room reads the hub's pipe again.            */
static void
test_cluster_queue_stops_the_hub_s_pipe (void **state)
{
    (void) state;
    room_start_cluster ("general");
    zmsg_t *msg = msg_new_state ("", 0, "", 0, "1-0");
    assert_int_equal (msg_send (&msg, s_cluster), 0);
    send_join (A, "alice");
    expect_msg (s_cluster, MSG_PUBLISH, A, "join", "alice", "", "[" TS "]");

    //  Full for good: no send taken for 1.5 s. A room without the cap
    //  reads on and queues them all: past `most`.
    zsock_t  *hub = zactor_sock (s_room.actor);
    const int most = 100000;
    int       sent = 0;
    int64_t   full_since = 0;
    zsock_set_sndtimeo (hub, 0);
    while (sent < most) {
        char text [32];
        snprintf (text, sizeof text, "l%d", sent);
        zmsg_t *line = msg_new_line (A, text, strlen (text));
        if (msg_send (&line, hub) == 0) {
            sent++;
            full_since = 0;
            continue;
        }
        zmsg_destroy (&line);
        int64_t now = zclock_mono ();
        if (!full_since)
            full_since = now;
        else if (now - full_since >= 1500)
            break;
        zclock_sleep (10);
    }
    zsock_set_sndtimeo (hub, -1);
    if (sent >= 3 * MSG_PIPE_HWM)
        fail_msg ("%d lines taken from the hub with a cluster that does not read", sent);

    //  The cluster reads again: every line, in order, then the room takes
    //  the hub's pipe again.
    for (int i = 0; i < sent; i++) {
        char text [32];
        snprintf (text, sizeof text, "l%d", i);
        expect_msg (s_cluster, MSG_PUBLISH, A, "line", "alice", text, "[" TS "]");
    }
    send_line (A, "after");
    expect_msg (s_cluster, MSG_PUBLISH, A, "line", "alice", "after", "[" TS "]");

    zactor_destroy (&s_room.actor);
    expect_bare (s_cluster, MSG_BYE, 0);
    expect_bare (s_room.gateway, MSG_BYE, 0);
    zsock_destroy (&s_cluster);
    zsock_destroy (&s_room.gateway);
    close (s_room.log_fd);
    s_room.log_fd = -1;
}

int
main (void)
{
#define ROOM_TEST(f) cmocka_unit_test_setup_teardown (f, check_watchdog_setup, room_teardown)
    const struct CMUnitTest tests [] = {
        ROOM_TEST (test_two_gateways_each_get_their_own),
        ROOM_TEST (test_start_fails_on_a_taken_endpoint),
        ROOM_TEST (test_join_alone),
        ROOM_TEST (test_cluster_order_is_the_stream_s),
        ROOM_TEST (test_cluster_queue_stops_the_hub_s_pipe),
        ROOM_TEST (test_join_tells_the_others),
        ROOM_TEST (test_line_goes_to_everyone_else),
        ROOM_TEST (test_line_text_is_kept),
        ROOM_TEST (test_line_alone),
        ROOM_TEST (test_history_is_what_was_said),
        ROOM_TEST (test_history_oldest_first_and_capped),
        ROOM_TEST (test_history_zero_keeps_nothing),
        ROOM_TEST (test_blank_line),
        ROOM_TEST (test_say_goes_to_one),
        ROOM_TEST (test_users_in_order_of_entry),
        ROOM_TEST (test_many_members),
        ROOM_TEST (test_rename),
        ROOM_TEST (test_leave_moving_releases),
        ROOM_TEST (test_leave_not_moving),
        ROOM_TEST (test_non_members_are_ignored),
        ROOM_TEST (test_malformed_and_unknown_ignored),
        ROOM_TEST (test_term_says_bye),
        ROOM_TEST (test_data_dir_appends_each_line),
        ROOM_TEST (test_data_dir_reloads_at_start),
        ROOM_TEST (test_data_dir_history_zero),
        ROOM_TEST (test_no_data_dir_no_file),
        ROOM_TEST (test_data_dir_write_error_logged_once),
        ROOM_TEST (test_data_dir_name_stays_inside),
        ROOM_TEST (test_events),
        ROOM_TEST (test_events_two_gateways),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
