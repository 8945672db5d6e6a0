/* SPDX-License-Identifier: MIT */
/*  Unit tests for framer.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include "framer.h"

static void
feed_str (framer_t *f, const char *s)
{
    framer_feed (f, s, strlen (s));
}

static void
feed_repeat (framer_t *f, char c, size_t n)
{
    char *block = malloc (n);
    assert_non_null (block);
    memset (block, c, n);
    framer_feed (f, block, n);
    free (block);
}

static void
expect_line (framer_t *f, const char *want, size_t want_len)
{
    const char *line;
    size_t      len;
    assert_int_equal (framer_next (f, &line, &len), FRAME_LINE);
    assert_int_equal (len, want_len);
    if (want_len)
        assert_memory_equal (line, want, want_len);
}

static void
expect_line_str (framer_t *f, const char *want)
{
    expect_line (f, want, strlen (want));
}

/*  A line of n copies of c.                                             */
static void
expect_line_of (framer_t *f, char c, size_t n)
{
    const char *line;
    size_t      len;
    assert_int_equal (framer_next (f, &line, &len), FRAME_LINE);
    assert_int_equal (len, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal (line [i], c);
}

static void
expect_result (framer_t *f, frame_result_t want)
{
    const char *line;
    size_t      len;
    assert_int_equal (framer_next (f, &line, &len), want);
}

/*  Every test gets a fresh framer in *state.                            */
static int
framer_setup (void **state)
{
    framer_t *f = malloc (sizeof *f);
    assert_non_null (f);
    framer_init (f);
    *state = f;
    return 0;
}

static int
framer_teardown (void **state)
{
    framer_free (*state);
    free (*state);
    return 0;
}

static void
test_empty_framer_has_nothing (void **state)
{
    framer_t *f = *state;
    expect_result (f, FRAME_NONE);
    assert_int_equal (framer_buffered (f), 0);
    framer_feed (f, NULL, 0);
    expect_result (f, FRAME_NONE);
}

static void
test_byte_by_byte (void **state)
{
    framer_t   *f = *state;
    const char *stream = "hello\nwide world\r\n\nlast";
    const char *want [] = {"hello", "wide world", ""};
    size_t      got = 0;
    for (const char *p = stream; *p; p++) {
        framer_feed (f, p, 1);
        const char    *line;
        size_t         len;
        frame_result_t r;
        while ((r = framer_next (f, &line, &len)) == FRAME_LINE) {
            assert_true (got < 3);
            assert_int_equal (len, strlen (want [got]));
            assert_memory_equal (line, want [got], len);
            got++;
        }
        assert_int_equal (r, FRAME_NONE);
    }
    assert_int_equal (got, 3);
    assert_int_equal (framer_buffered (f), 4);
    feed_str (f, "\n");
    expect_line_str (f, "last");
    expect_result (f, FRAME_NONE);
}

static void
test_many_lines_in_one_feed (void **state)
{
    framer_t *f = *state;
    feed_str (f, "one\ntwo\r\nthree\nfour");
    expect_line_str (f, "one");
    expect_line_str (f, "two");
    expect_line_str (f, "three");
    expect_result (f, FRAME_NONE);
    feed_str (f, " more\nfive\n");
    expect_line_str (f, "four more");
    expect_line_str (f, "five");
    expect_result (f, FRAME_NONE);
}

static void
test_crlf (void **state)
{
    framer_t *f = *state;
    feed_str (f, "crlf\r\n"
                 "mid\rdle\n"
                 "two\r\r\n"
                 "\r\n"
                 "lone\r");
    expect_line_str (f, "crlf");
    expect_line_str (f, "mid\rdle");
    expect_line_str (f, "two\r");
    expect_line_str (f, "");
    expect_result (f, FRAME_NONE);
    feed_str (f, "x\n");
    expect_line_str (f, "lone\rx");
}

static void
test_empty_lines (void **state)
{
    framer_t *f = *state;
    feed_str (f, "\n\r\n\n");
    for (int i = 0; i < 3; i++) {
        const char *line = NULL;
        size_t      len = 99;
        assert_int_equal (framer_next (f, &line, &len), FRAME_LINE);
        assert_int_equal (len, 0);
        assert_non_null (line);
    }
    expect_result (f, FRAME_NONE);
}

static void
test_exact_limit_accepted (void **state)
{
    framer_t *f = *state;
    feed_repeat (f, 'a', LINE_MAX_BYTES);
    expect_result (f, FRAME_NONE);
    feed_str (f, "\n");
    expect_line_of (f, 'a', LINE_MAX_BYTES);

    /*  4096 bytes and "\r\n", the '\r' arriving alone.                   */
    feed_repeat (f, 'b', LINE_MAX_BYTES);
    feed_str (f, "\r");
    expect_result (f, FRAME_NONE);
    assert_int_equal (framer_buffered (f), LINE_MAX_BYTES + 1);
    feed_str (f, "\n");
    expect_line_of (f, 'b', LINE_MAX_BYTES);

    /*  Both in one feed.  */
    feed_repeat (f, 'c', LINE_MAX_BYTES);
    feed_str (f, "\r\nnext\n");
    expect_line_of (f, 'c', LINE_MAX_BYTES);
    expect_line_str (f, "next");
    expect_result (f, FRAME_NONE);
}

/*  4097 bytes: reported once, as soon as the 4097th byte arrives; the
    rest of the line is dropped over several feeds; the next line is whole. */
static void
test_over_limit_rejected_once (void **state)
{
    framer_t *f = *state;
    feed_str (f, "before\n");
    feed_repeat (f, 'x', 3000);
    expect_line_str (f, "before");
    expect_result (f, FRAME_NONE);
    feed_repeat (f, 'x', LINE_MAX_BYTES + 1 - 3000);
    expect_result (f, FRAME_TOO_LONG);
    assert_int_equal (framer_buffered (f), 0);
    expect_result (f, FRAME_NONE);
    for (int i = 0; i < 5; i++) {
        feed_repeat (f, 'y', 1000);
        assert_int_equal (framer_buffered (f), 0);
        expect_result (f, FRAME_NONE);
    }
    feed_str (f, "tail of the long line\r\nnext line\nhalf");
    expect_line_str (f, "next line");
    expect_result (f, FRAME_NONE);
    assert_int_equal (framer_buffered (f), 4);
}

/*  4096 bytes then '\r' may still be a line; a byte other than '\n'
    after that '\r' makes it one byte too long.                           */
static void
test_cr_then_more_is_too_long (void **state)
{
    framer_t *f = *state;
    feed_repeat (f, 'a', LINE_MAX_BYTES);
    feed_str (f, "\r");
    expect_result (f, FRAME_NONE);
    feed_str (f, "\r");
    expect_result (f, FRAME_TOO_LONG);
    expect_result (f, FRAME_NONE);
    feed_str (f, "\nok\n");
    expect_line_str (f, "ok");
    expect_result (f, FRAME_NONE);
}

/*  A whole over-long line inside one feed, between two good lines.      */
static void
test_over_limit_within_one_feed (void **state)
{
    framer_t *f = *state;
    size_t    n = 2 + LINE_MAX_BYTES + 1;
    char     *block = malloc (n + 4);
    assert_non_null (block);
    memcpy (block, "a\n", 2);
    memset (block + 2, 'z', LINE_MAX_BYTES + 1);
    memcpy (block + n, "\r\nb\n", 4);
    framer_feed (f, block, n + 4);
    expect_line_str (f, "a");
    expect_result (f, FRAME_TOO_LONG);
    expect_line_str (f, "b");
    expect_result (f, FRAME_NONE);
    /*  Exactly 4097 bytes and its '\n' in one piece.  */
    memset (block, 'z', LINE_MAX_BYTES + 1);
    block [LINE_MAX_BYTES + 1] = '\n';
    framer_feed (f, block, LINE_MAX_BYTES + 2);
    expect_result (f, FRAME_TOO_LONG);
    expect_result (f, FRAME_NONE);
    free (block);
}

static void
test_buffered_counts_unreturned_bytes (void **state)
{
    framer_t *f = *state;
    assert_int_equal (framer_buffered (f), 0);
    feed_str (f, "abc\ndefg");
    assert_int_equal (framer_buffered (f), 8);
    expect_line_str (f, "abc");
    assert_int_equal (framer_buffered (f), 4);
    expect_result (f, FRAME_NONE);
    assert_int_equal (framer_buffered (f), 4);
    feed_str (f, "\n");
    expect_line_str (f, "defg");
    assert_int_equal (framer_buffered (f), 0);
}

/*  The last line returned stays readable until the next call, which then
    releases the storage of an idle connection.                          */
static void
test_line_valid_until_next_call (void **state)
{
    framer_t *f = *state;
    feed_str (f, "only line\n");
    const char *line;
    size_t      len;
    assert_int_equal (framer_next (f, &line, &len), FRAME_LINE);
    assert_int_equal (len, 9);
    assert_memory_equal (line, "only line", 9);
    expect_result (f, FRAME_NONE);
    assert_null (f->pending.data);
}

static void
test_feed_after_line_keeps_order (void **state)
{
    framer_t *f = *state;
    feed_str (f, "first\n");
    expect_line_str (f, "first");
    feed_str (f, "second\n");
    expect_line_str (f, "second");
    expect_result (f, FRAME_NONE);
}

int
main (void)
{
#define FRAMER_TEST(f) cmocka_unit_test_setup_teardown (f, framer_setup, framer_teardown)
    const struct CMUnitTest tests [] = {
        FRAMER_TEST (test_empty_framer_has_nothing),
        FRAMER_TEST (test_byte_by_byte),
        FRAMER_TEST (test_many_lines_in_one_feed),
        FRAMER_TEST (test_crlf),
        FRAMER_TEST (test_empty_lines),
        FRAMER_TEST (test_exact_limit_accepted),
        FRAMER_TEST (test_over_limit_rejected_once),
        FRAMER_TEST (test_cr_then_more_is_too_long),
        FRAMER_TEST (test_over_limit_within_one_feed),
        FRAMER_TEST (test_buffered_counts_unreturned_bytes),
        FRAMER_TEST (test_line_valid_until_next_call),
        FRAMER_TEST (test_feed_after_line_keeps_order),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
