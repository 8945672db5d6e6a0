/* SPDX-License-Identifier: MIT */
/*  End-to-end: a session from connect to leave (docs/PROTOCOL.md,
    "Connecting", "Choosing a name", "In a room").                       */
#include "e2e.h"

#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/*  Connecting and naming                                             */

static void
test_banner_then_name_prompt (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *c = e2e_at_name_prompt (srv);
    /*  The prompt has no newline and nothing follows it.                */
    e2e_expect_silence (c, E2E_QUIET_MS);
    e2e_stop (srv);
}

typedef struct {
    const char *typed; /* the line sent at the name prompt, no "\n" */
    const char *reply; /* the refusal line, no "\n" */
} refusal_t;

#define EMPTY    "Name cannot be empty."
#define TOO_LONG "Name is too long (max 32 characters)."
#define PRINT    "Name can only contain printable characters."
#define SPACES   "Name cannot contain spaces."
#define SLASH    "Name cannot start with '/'."
#define TAKEN    "Name is already taken."

/*  "é" (2 bytes) n times: names are counted in code points, not bytes. */
static char *
e_acute (size_t n)
{
    char *s = e2e_repeat ('x', 2 * n);
    for (size_t i = 0; i < n; i++)
        memcpy (s + 2 * i, "\xc3\xa9", 2);
    return s;
}

static void
expect_refusal (e2e_client_t *c, const char *typed, const char *reply)
{
    e2e_send (c, e2e_fmt ("%s\n", typed));
    e2e_expect (c, e2e_fmt ("%s\n" E2E_NAME_PROMPT, reply));
}

/*  Every refusal on one connection: each gets its line and the name
    prompt again, and the connection stays usable for a good name.      */
static void
test_name_refusals_keep_the_connection (void **state)
{
    (void) state;
    const refusal_t cases [] = {
        {"", EMPTY},
        {" \t  ", EMPTY},
        {"\r", EMPTY},
        {e2e_repeat ('a', 33), TOO_LONG},
        {e_acute (33), TOO_LONG},
        {"this name has spaces and is far too long", TOO_LONG}, /* first wins */
        {"bo\x01"
         "b",
         PRINT},
        {"bob\x7f", PRINT},
        {"bo\xc2\x85"
         "b",
         PRINT}, /* C1 control U+0085 */
        {"a\xfe"
         "b",
         PRINT},                /* invalid UTF-8 (0xFF is telnet's) */
        {"\xc3", PRINT},        /* truncated UTF-8 */
        {"\x1b[31mred", PRINT}, /* refused, never cleaned */
        {"bo b", SPACES},
        {"bo\xc2\xa0"
         "b",
         SPACES},         /* U+00A0 no-break space */
        {"/b b", SPACES}, /* first one wins */
        {"/bob", SLASH},
    };
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *c = e2e_at_name_prompt (srv);
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++)
        expect_refusal (c, cases [i].typed, cases [i].reply);
    e2e_send (c, "bob\n");
    e2e_set_name (c, "bob");
    e2e_expect_prompt (c);
    e2e_stop (srv);
}

static void
test_name_limits_are_code_points (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_login (srv, e2e_repeat ('a', 32));
    e2e_login (srv, e_acute (32));     /* 64 bytes, 32 characters */
    e2e_login (srv, "\xe2\x9c\x93ok"); /* printable non-ASCII */
    e2e_stop (srv);
}

/*  The name is judged as typed: a control byte refuses it, it is not
    stripped into "bob" (which then stays free).                         */
static void
test_control_byte_name_refused_not_cleaned (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *c = e2e_at_name_prompt (srv);
    expect_refusal (c,
                    "bo\x01"
                    "b",
                    PRINT);
    e2e_client_t *bob = e2e_login (srv, "bob");
    e2e_send (c, "bob\n");
    e2e_expect (c, TAKEN "\n" E2E_NAME_PROMPT);
    e2e_expect_silence (bob, E2E_QUIET_MS);
    e2e_stop (srv);
}

static void
test_taken_name_ignores_case (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_client_t *c = e2e_at_name_prompt (srv);
    expect_refusal (c, "alice", TAKEN);
    expect_refusal (c, "ALICE", TAKEN);
    expect_refusal (c, "  aLiCe ", TAKEN);
    e2e_send (c, "alice2\n");
    e2e_set_name (c, "alice2");
    e2e_expect_prompt (c);
    e2e_expect_joined (alice, "alice2");
    e2e_stop (srv);
}

/*  Blanks around the name and a trailing \r (nc -C) are not part of it. */
static void
test_name_trimmed_and_crlf (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_client_t *bob = e2e_at_name_prompt (srv);
    e2e_send (bob, " \t bob  \r\n");
    e2e_set_name (bob, "bob");
    e2e_expect_prompt (bob);
    e2e_expect_joined (alice, "bob");
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  In a room                                                         */

static void
test_join_notice_to_others_only (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob, *carol;
    e2e_server_t *srv = e2e_start_three (&alice, &bob, &carol);
    e2e_expect_silence (carol, E2E_QUIET_MS); /* no notice of its own join */
    e2e_expect_silence (alice, 0);
    e2e_expect_silence (bob, 0);
    e2e_stop (srv);
}

static void
test_chat_line_to_others_no_echo (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob, *carol;
    e2e_server_t *srv = e2e_start_three (&alice, &bob, &carol);

    e2e_send (alice, "hello, world!\n");
    e2e_expect (alice, E2E_TS "[alice]:"); /* a fresh prompt only */
    e2e_expect_said (bob, "alice", "hello, world!");
    e2e_expect_said (carol, "alice", "hello, world!");
    e2e_expect_silence (alice, E2E_QUIET_MS); /* and never an echo */

    e2e_say (bob, "hi alice");
    e2e_expect_said (alice, "bob", "hi alice");
    e2e_expect_said (carol, "bob", "hi alice");
    e2e_expect_silence (bob, E2E_QUIET_MS);
    e2e_stop (srv);
}

/*  The stamp of a chat line is the time it was sent: check that it is
    today's clock, not only well shaped.                                 */
static void
test_chat_stamp_is_local_time (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    time_t        before = time (NULL);
    e2e_say (alice, "tick");
    const char *got = e2e_peek (bob, 1 + E2E_TS_LEN, E2E_TIMEOUT_MS);
    time_t      after = time (NULL);
    struct tm   tm;
    memset (&tm, 0, sizeof tm);
    char stamp [E2E_TS_LEN + 1];
    memcpy (stamp, got + 1, E2E_TS_LEN);
    stamp [E2E_TS_LEN] = '\0';
    if (!strptime (stamp, "[%Y-%m-%d %H:%M:%S]", &tm))
        e2e_fail ("not a stamp: %s", stamp);
    tm.tm_isdst = -1;
    time_t t = mktime (&tm);
    if (t < before - 2 || t > after + 2)
        e2e_fail ("stamp %s is not the local time now", stamp);
    e2e_expect_said (bob, "alice", "tick");
    e2e_stop (srv);
}

static void
test_history_for_newcomers (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_say (alice, "one");
    e2e_client_t *carol = e2e_login_history (srv, "carol", E2E_TS "[alice]:one\n");
    e2e_expect_joined (alice, "carol");
    e2e_say (carol, "two");
    e2e_expect_said (alice, "carol", "two");
    e2e_say (alice, "three");
    e2e_expect_said (carol, "alice", "three");
    e2e_send (carol, "/quit\n");
    e2e_expect_eof (carol);
    e2e_expect_left (alice, "carol");

    /*  Oldest first, chat lines only: no join or leave notices.         */
    e2e_client_t *bob = e2e_login_history (
        srv, "bob", E2E_TS "[alice]:one\n" E2E_TS "[carol]:two\n" E2E_TS "[alice]:three\n");
    e2e_expect_joined (alice, "bob");
    e2e_expect_silence (bob, E2E_QUIET_MS);
    e2e_stop (srv);
}

static void
test_history_keeps_the_last_n (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start ("--history", "2");
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_say (alice, "one");
    e2e_say (alice, "two");
    e2e_say (alice, "three");
    e2e_login_history (srv, "bob", E2E_TS "[alice]:two\n" E2E_TS "[alice]:three\n");
    e2e_expect_joined (alice, "bob");
    e2e_stop (srv);
}

static void
test_history_zero_keeps_nothing (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start ("--history", "0");
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_say (alice, "one");
    e2e_client_t *bob = e2e_login_seen (srv, "bob", alice);
    e2e_expect_silence (bob, E2E_QUIET_MS);
    e2e_stop (srv);
}

/*  Empty and blank lines: a fresh prompt for the sender, nothing for the
    others, nothing in history.                                          */
static void
test_empty_lines_are_dropped (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    const char   *blanks [] = {"", " ", "   ", "\t", " \t \t", "\r"};
    for (size_t i = 0; i < sizeof blanks / sizeof blanks [0]; i++) {
        e2e_send (alice, e2e_fmt ("%s\n", blanks [i]));
        e2e_expect_prompt (alice);
    }
    e2e_say (alice, "end"); /* a sync point: all handled */
    e2e_expect_said (bob, "alice", "end");
    e2e_client_t *carol = e2e_login_history (srv, "carol", E2E_TS "[alice]:end\n");
    e2e_expect_silence (carol, E2E_QUIET_MS);
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  Leaving                                                           */

/*  The ways a client goes: end of file; a reset; /quit (no reply bytes,
    just the close); a half-written line, then end of file (the fragment
    is not broadcast).                                                   */
typedef enum { LEAVE_EOF, LEAVE_RESET, LEAVE_QUIT, LEAVE_PARTIAL_LINE } leave_way_t;

static void
leave (e2e_client_t *c, leave_way_t way)
{
    switch (way) {
        case LEAVE_EOF:
            e2e_close (c);
            break;
        case LEAVE_RESET:
            e2e_reset (c);
            break;
        case LEAVE_QUIT:
            e2e_send (c, "/quit\n");
            e2e_expect_eof (c);
            break;
        case LEAVE_PARTIAL_LINE:
            e2e_send (c, "no newline here");
            e2e_sleep_ms (100);
            e2e_close (c);
            break;
    }
}

/*  However bob goes, alice is told once, and nothing more.             */
static void
test_leave_notice_however_one_leaves (void **state)
{
    (void) state;
    for (leave_way_t way = LEAVE_EOF; way <= LEAVE_PARTIAL_LINE; way++) {
        e2e_client_t *alice, *bob;
        e2e_server_t *srv = e2e_start_two (&alice, &bob);
        leave (bob, way);
        e2e_expect_left (alice, "bob");
        e2e_expect_silence (alice, E2E_QUIET_MS);
        e2e_stop (srv);
    }
}

/*  Complete lines sent just before leaving still reach the room, before
    the leave notice: the close does not overtake them.                 */
static void
test_lines_before_eof_delivered_first (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    e2e_send (bob, "last words\nreally last\n");
    e2e_close (bob);
    e2e_expect_said (alice, "bob", "last words");
    e2e_expect_said (alice, "bob", "really last");
    e2e_expect_left (alice, "bob");
    e2e_client_t *carol = e2e_at_name_prompt (srv);
    e2e_send (carol, "carol\nbye\n"); /* name and line at once */
    e2e_set_name (carol, "carol");
    e2e_expect (carol, E2E_TS "[bob]:last words\n" E2E_TS "[bob]:really last\n");
    e2e_expect_prompt (carol);
    e2e_expect_prompt (carol);               /* for "bye" */
    e2e_send (carol, "/quit\nnever seen\n"); /* nothing after /quit counts */
    e2e_expect_eof (carol);
    e2e_expect_joined (alice, "carol");
    e2e_expect_said (alice, "carol", "bye");
    e2e_expect_left (alice, "carol");
    e2e_expect_silence (alice, E2E_QUIET_MS);
    e2e_stop (srv);
}

static void
test_quit_at_name_prompt_closes_silently (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_client_t *c = e2e_at_name_prompt (srv);
    e2e_send (c, "/quit\n");
    e2e_expect_eof (c);
    e2e_expect_silence (alice, E2E_QUIET_MS);
    e2e_stop (srv);
}

static void
test_leaving_at_name_prompt_causes_no_notice (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_client_t *quiet = e2e_at_name_prompt (srv);
    e2e_close (quiet);
    e2e_client_t *refused = e2e_at_name_prompt (srv);
    expect_refusal (refused, "bo b", SPACES);
    e2e_reset (refused);
    e2e_client_t *typing = e2e_at_name_prompt (srv);
    e2e_send (typing, "half a na");
    e2e_close (typing);
    e2e_expect_silence (alice, E2E_QUIET_MS);
    /*  The server is still fine: a newcomer is announced as usual.      */
    e2e_login (srv, "bob");
    e2e_expect_joined (alice, "bob");
    e2e_stop (srv);
}

/*  A client at the name prompt is in no room: it sees no chat.          */
static void
test_name_prompt_client_sees_no_chat (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    e2e_client_t *waiting = e2e_at_name_prompt (srv);
    e2e_say (alice, "secret");
    e2e_expect_said (bob, "alice", "secret");
    e2e_close (bob);
    e2e_expect_left (alice, "bob");
    e2e_expect_silence (waiting, E2E_QUIET_MS);
    /*  When it enters, the line is history, not a live message.         */
    e2e_enter (waiting, "carol", E2E_TS "[alice]:secret\n");
    e2e_expect_joined (alice, "carol");
    e2e_stop (srv);
}

static void
test_name_free_after_leave (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    e2e_close (bob);
    e2e_expect_left (alice, "bob");
    bob = e2e_login (srv, "BOB");
    e2e_expect_joined (alice, "BOB");
    e2e_send (bob, "/quit\n");
    e2e_expect_eof (bob);
    e2e_expect_left (alice, "BOB");
    e2e_login (srv, "bob");
    e2e_expect_joined (alice, "bob");
    e2e_stop (srv);
}

/*  The server shuts down cleanly with clients in every state.           */
static void
test_stop_with_clients_connected (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_at_name_prompt (srv); /* one waiting at the prompt */
    e2e_send (alice, "half a line");
    e2e_stop (srv);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        E2E_TEST (test_banner_then_name_prompt),
        E2E_TEST (test_name_refusals_keep_the_connection),
        E2E_TEST (test_name_limits_are_code_points),
        E2E_TEST (test_control_byte_name_refused_not_cleaned),
        E2E_TEST (test_taken_name_ignores_case),
        E2E_TEST (test_name_trimmed_and_crlf),
        E2E_TEST (test_join_notice_to_others_only),
        E2E_TEST (test_chat_line_to_others_no_echo),
        E2E_TEST (test_chat_stamp_is_local_time),
        E2E_TEST (test_history_for_newcomers),
        E2E_TEST (test_history_keeps_the_last_n),
        E2E_TEST (test_history_zero_keeps_nothing),
        E2E_TEST (test_empty_lines_are_dropped),
        E2E_TEST (test_leave_notice_however_one_leaves),
        E2E_TEST (test_lines_before_eof_delivered_first),
        E2E_TEST (test_quit_at_name_prompt_closes_silently),
        E2E_TEST (test_leaving_at_name_prompt_causes_no_notice),
        E2E_TEST (test_name_prompt_client_sees_no_chat),
        E2E_TEST (test_name_free_after_leave),
        E2E_TEST (test_stop_with_clients_connected),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
