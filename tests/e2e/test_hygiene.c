/* SPDX-License-Identifier: MIT */
/*  End-to-end: input hygiene (docs/PROTOCOL.md, "Input hygiene"): the
    byte stream is framed into lines whatever the chunking, over-long
    lines are refused, and text is cleaned before anyone else sees it.  */
#include "e2e.h"

#include <string.h>

#define MAX_LINE 4096

/*  A server with alice and bob in general, the join notice consumed.   */
typedef struct {
    e2e_server_t *srv;
    e2e_client_t *alice, *bob;
} pair_t;

static pair_t
start_pair (void)
{
    pair_t p;
    p.srv = e2e_start (NULL);
    p.alice = e2e_login (p.srv, "alice");
    p.bob = e2e_login (p.srv, "bob");
    e2e_expect_joined (p.alice, "bob");
    return p;
}

/* ------------------------------------------------------------------ */
/*  Framing                                                           */

static void
test_crlf_lines (void **state)
{
    (void) state;
    pair_t p = start_pair ();
    e2e_send (p.alice, "hello\r\n"); /* nc -C */
    e2e_expect_prompt (p.alice);
    e2e_expect_said (p.bob, "alice", "hello");
    e2e_send (p.alice, "two\r\nlines\r\n");
    e2e_expect_prompt (p.alice);
    e2e_expect_prompt (p.alice);
    e2e_expect_said (p.bob, "alice", "two");
    e2e_expect_said (p.bob, "alice", "lines");
    e2e_expect_silence (p.alice, E2E_QUIET_MS);
    e2e_stop (p.srv);
}

static void
test_line_split_byte_by_byte (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_client_t *bob = e2e_at_name_prompt (srv);
    const char   *name = "bob\r\n";
    e2e_send_split (bob, name, strlen (name), 1, 20);
    e2e_set_name (bob, "bob");
    e2e_expect_prompt (bob);
    e2e_expect_joined (alice, "bob");

    const char *line = "split into many writes\r\n";
    e2e_send_split (alice, line, strlen (line), 1, 10);
    e2e_expect_prompt (alice);
    e2e_expect_said (bob, "alice", "split into many writes");
    e2e_expect_silence (alice, E2E_QUIET_MS);
    e2e_expect_silence (bob, 0);
    e2e_stop (srv);
}

/*  A write may end in the middle of a line, or of a "\r\n".             */
static void
test_lines_across_writes (void **state)
{
    (void) state;
    pair_t p = start_pair ();
    e2e_send (p.alice, "one\ntw");
    e2e_expect_prompt (p.alice);
    e2e_expect_said (p.bob, "alice", "one");
    e2e_expect_silence (p.bob, 200); /* "tw" is not a line yet */
    e2e_send (p.alice, "o\r");
    e2e_sleep_ms (100);
    e2e_send (p.alice, "\nthree\n");
    e2e_expect_prompt (p.alice);
    e2e_expect_prompt (p.alice);
    e2e_expect_said (p.bob, "alice", "two");
    e2e_expect_said (p.bob, "alice", "three");
    e2e_stop (p.srv);
}

static void
test_many_lines_in_one_write (void **state)
{
    (void) state;
    pair_t p = start_pair ();
    e2e_send (p.alice, "a\nbb\n\nccc\r\n \nd\n");
    for (int i = 0; i < 6; i++) /* one prompt per line */
        e2e_expect_prompt (p.alice);
    e2e_expect_said (p.bob, "alice", "a");
    e2e_expect_said (p.bob, "alice", "bb");
    e2e_expect_said (p.bob, "alice", "ccc");
    e2e_expect_said (p.bob, "alice", "d");
    e2e_expect_silence (p.bob, E2E_QUIET_MS);
    e2e_expect_silence (p.alice, 0);
    e2e_stop (p.srv);
}

/* ------------------------------------------------------------------ */
/*  Line length                                                       */

static void
test_too_long_line_refused (void **state)
{
    (void) state;
    pair_t p = start_pair ();
    char  *line = e2e_fmt ("%s\n", e2e_repeat ('x', 5000));
    e2e_send (p.alice, line);
    e2e_expect (p.alice, E2E_TOO_LONG);
    e2e_expect_prompt (p.alice);
    e2e_say (p.alice, "still here");                /* the connection stays */
    e2e_expect_said (p.bob, "alice", "still here"); /* and nothing else came */
    e2e_expect_silence (p.bob, E2E_QUIET_MS);
    e2e_expect_silence (p.alice, 0);
    e2e_stop (p.srv);
}

/*  The over-long line is dropped up to its newline, even when that
    newline comes several writes later; only one error is sent.        */
static void
test_too_long_remainder_discarded_across_writes (void **state)
{
    (void) state;
    pair_t p = start_pair ();
    e2e_send (p.alice, e2e_repeat ('x', MAX_LINE + 1));
    e2e_sleep_ms (200);
    e2e_send (p.alice, e2e_repeat ('y', 3000));
    e2e_sleep_ms (200);
    e2e_send (p.alice, e2e_repeat ('z', 9000));
    e2e_sleep_ms (200);
    e2e_send (p.alice, "tail of it\nafter\n");
    e2e_expect (p.alice, E2E_TOO_LONG);
    e2e_expect_prompt (p.alice);
    e2e_expect_prompt (p.alice); /* for "after" */
    e2e_expect_said (p.bob, "alice", "after");
    e2e_expect_silence (p.bob, E2E_QUIET_MS);
    e2e_expect_silence (p.alice, 0);
    /*  Nothing of it went into history either.                          */
    e2e_login_history (p.srv, "carol", E2E_TS "[alice]:after\n");
    e2e_stop (p.srv);
}

static void
test_exactly_max_bytes_accepted (void **state)
{
    (void) state;
    pair_t p = start_pair ();
    char  *full = e2e_repeat ('a', MAX_LINE);
    e2e_send (p.alice, e2e_fmt ("%s\n", full));
    e2e_expect_prompt (p.alice);
    e2e_expect_said (p.bob, "alice", full);
    /*  "\r\n" is not counted.                                           */
    e2e_send (p.alice, e2e_fmt ("%s\r\n", full));
    e2e_expect_prompt (p.alice);
    e2e_expect_said (p.bob, "alice", full);
    /*  One more byte is too long.                                       */
    e2e_send (p.alice, e2e_fmt ("%sa\n", full));
    e2e_expect (p.alice, E2E_TOO_LONG);
    e2e_expect_prompt (p.alice);
    e2e_expect_silence (p.bob, E2E_QUIET_MS);
    e2e_stop (p.srv);
}

/* ------------------------------------------------------------------ */
/*  Cleaning                                                          */

typedef struct {
    const char *sent;     /* without "\n" */
    size_t      sent_len; /* 0: strlen (sent) */
    const char *seen;     /* what the others get */
} cleaning_t;

static const cleaning_t control_cases [] = {
    {"a\x01"
     "b\x02"
     "c\x7f"
     "d",
     0, "abcd"},
    {"bell\x07 back\bspace", 0, "bell backspace"},
    {"carriage\rreturn", 0, "carriagereturn"},
    {"nul\0byte", 8, "nulbyte"},
    {"tab\tkept", 0, "tab\tkept"},
    {"c1\xc2\x85"
     "gone",
     0, "c1gone"},                                /* U+0085 */
    {"\x1b[31mred\x1b[0m plain", 0, "red plain"}, /* CSI */
    {"\x1b[1;32;40mX\x1b[K\x1b[2J", 0, "X"},
    {"\x1b]0;title\x07"
     "after",
     0, "after"},                                            /* OSC, BEL */
    {"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", 0, "link"}, /* OSC, ST */
    {"\x1bPdcs data\x1b\\ok", 0, "ok"},                      /* DCS */
    {"a\x1b"
     "cb",
     0, "ab"}, /* ESC c */
    {"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80", 0, "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80"},
};

static const cleaning_t utf8_cases [] = {
    {"a\xfe"
     "b",
     0,
     "a\xef\xbf\xbd"
     "b"}, /* 0xFF is telnet's */
    {"\x80"
     "x",
     0,
     "\xef\xbf\xbd"
     "x"},                         /* lone continuation */
    {"\xc3(", 0, "\xef\xbf\xbd("}, /* bad continuation */
    {"a\xfe\xc0"
     "b",
     0,
     "a\xef\xbf\xbd"
     "b"},                             /* one per run */
    {"end\xc3", 0, "end\xef\xbf\xbd"}, /* truncated at the end */
};

/*  Sends every case, checks what bob sees, then what a newcomer finds in
    history: the cleaned text in both places.                            */
static void
check_cleaning (const cleaning_t *cases, size_t n)
{
    pair_t p = start_pair ();
    char  *history = e2e_fmt ("%s", "");
    for (size_t i = 0; i < n; i++) {
        size_t len = cases [i].sent_len ? cases [i].sent_len : strlen (cases [i].sent);
        e2e_send_n (p.alice, cases [i].sent, len);
        e2e_send (p.alice, "\n");
        e2e_expect_prompt (p.alice);
        e2e_expect_said (p.bob, "alice", cases [i].seen);
        history = e2e_fmt ("%s" E2E_TS "[alice]:%s\n", history, cases [i].seen);
    }
    e2e_login_history (p.srv, "carol", history);
    e2e_stop (p.srv);
}

static void
test_control_bytes_and_escapes_removed (void **state)
{
    (void) state;
    check_cleaning (control_cases, sizeof control_cases / sizeof control_cases [0]);
}

static void
test_invalid_utf8_replaced (void **state)
{
    (void) state;
    check_cleaning (utf8_cases, sizeof utf8_cases / sizeof utf8_cases [0]);
}

/*  A line that is empty once cleaned is an empty line: not broadcast,
    not stored, the sender gets a fresh prompt.                         */
static void
test_only_control_bytes_is_empty (void **state)
{
    (void) state;
    pair_t      p = start_pair ();
    const char *lines [] = {"\x01\x02\x7f", "\x1b[0m", "\x1b]0;title\x07", " \x01 \t", "\xc2\x85"};
    for (size_t i = 0; i < sizeof lines / sizeof lines [0]; i++) {
        e2e_send (p.alice, e2e_fmt ("%s\n", lines [i]));
        e2e_expect_prompt (p.alice);
    }
    e2e_say (p.alice, "last");
    e2e_expect_said (p.bob, "alice", "last");
    e2e_expect_silence (p.bob, E2E_QUIET_MS);
    e2e_login_history (p.srv, "carol", E2E_TS "[alice]:last\n");
    e2e_stop (p.srv);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        E2E_TEST (test_crlf_lines),
        E2E_TEST (test_line_split_byte_by_byte),
        E2E_TEST (test_lines_across_writes),
        E2E_TEST (test_many_lines_in_one_write),
        E2E_TEST (test_too_long_line_refused),
        E2E_TEST (test_too_long_remainder_discarded_across_writes),
        E2E_TEST (test_exactly_max_bytes_accepted),
        E2E_TEST (test_control_bytes_and_escapes_removed),
        E2E_TEST (test_invalid_utf8_replaced),
        E2E_TEST (test_only_control_bytes_is_empty),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
