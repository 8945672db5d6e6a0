/* SPDX-License-Identifier: MIT */
/*  Unit tests for the telnet filter (src/telnet.c).  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "framer.h"
#include "telnet.h"
#include "../telnet_bytes.h"

#define S(lit) (lit), sizeof (lit) - 1

typedef struct {
    telnet_filter_t *filter;
    telnet_result_t  result;
} fixture_t;

static int
setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof *fx);
    assert_non_null (fx);
    fx->filter = telnet_filter_new ();
    assert_non_null (fx->filter);
    *state = fx;
    return 0;
}

static int
teardown (void **state)
{
    fixture_t *fx = *state;
    telnet_filter_destroy (&fx->filter);
    assert_null (fx->filter);
    buf_free (&fx->result.data);
    buf_free (&fx->result.reply);
    free (fx);
    return 0;
}

static telnet_result_t *
feed (fixture_t *fx, const char *data, size_t size)
{
    telnet_filter_feed (fx->filter, data, size, &fx->result);
    return &fx->result;
}

static void
expect_buf (const buf_t *b, const char *want, size_t want_len)
{
    if (buf_size (b) != want_len || (want_len && memcmp (buf_head (b), want, want_len))) {
        print_error ("expected %zu bytes, got %zu:", want_len, buf_size (b));
        for (size_t i = 0; i < buf_size (b) && i < 64; i++)
            print_error (" %02x", (unsigned char) buf_head (b) [i]);
        print_error ("\n");
        fail ();
    }
}

#define expect_data(fx, lit)  expect_buf (&(fx)->result.data, S (lit))
#define expect_reply(fx, lit) expect_buf (&(fx)->result.reply, S (lit))

/* ------------------------------------------------------------------ */
/*  Data                                                              */

static void
test_plain_text_passes_unchanged (void **state)
{
    fixture_t *fx = *state;
    feed (fx, S ("hello \xc3\xa9t\xc3\xa9\r\nsecond\tline\n"));
    expect_data (fx, "hello \xc3\xa9t\xc3\xa9\r\nsecond\tline\n");
    expect_reply (fx, "");
    assert_false (fx->result.drop_partial);
    assert_false (fx->result.fatal);
}

static void
test_iac_iac_is_the_data_byte_ff (void **state)
{
    fixture_t *fx = *state;
    feed (fx, S ("a" IAC IAC "b\n"));
    expect_data (fx, "a\xff"
                     "b\n");
    expect_reply (fx, "");
}

static void
test_cr_nul_ends_a_line (void **state)
{
    fixture_t *fx = *state;
    feed (fx, S ("one\r\0two\r\nthree\0four\r"));
    expect_data (fx, "one\r\ntwo\r\nthree\0four\r");
    //  The NUL of CR NUL in the next read still makes an end of line.
    feed (fx, S ("\0"
                 "five\0"));
    expect_data (fx, "\n"
                     "five\0");
}

static void
test_empty_feed_produces_nothing (void **state)
{
    fixture_t *fx = *state;
    feed (fx, "", 0);
    expect_data (fx, "");
    expect_reply (fx, "");
    assert_false (fx->result.drop_partial);
}

/* ------------------------------------------------------------------ */
/*  Negotiation                                                       */

static void
test_will_is_refused_once (void **state)
{
    fixture_t *fx = *state;
    feed (fx, S (IAC WILL "\x18"
                          "x"));
    expect_reply (fx, IAC DONT "\x18");
    expect_data (fx, "x");
    feed (fx, S (IAC WILL "\x18"));
    expect_reply (fx, "");
    feed (fx, S (IAC WILL "\x1f"));
    expect_reply (fx, IAC DONT "\x1f");
}

static void
test_do_is_refused_once (void **state)
{
    fixture_t *fx = *state;
    feed (fx, S (IAC DO "\x01" IAC DO "\x03" IAC DO "\x01"));
    expect_reply (fx, IAC WONT "\x01" IAC WONT "\x03");
    feed (fx, S (IAC DO "\x03"));
    expect_reply (fx, "");
    //  Refusing DO x is not refusing WILL x: the two directions differ.
    feed (fx, S (IAC WILL "\x03"));
    expect_reply (fx, IAC DONT "\x03");
}

static void
test_wont_and_dont_get_no_answer (void **state)
{
    fixture_t *fx = *state;
    feed (fx, S (IAC WONT "\x01" IAC DONT "\x01" IAC WONT TM IAC DONT TM "ok"));
    expect_reply (fx, "");
    expect_data (fx, "ok");
}

static void
test_every_option_byte_is_refused (void **state)
{
    fixture_t *fx = *state;
    char       in [256 * 6], want [256 * 6];
    size_t     in_len = 0, want_len = 0;
    for (int option = 0; option < 256; option++) {
        char will [3] = {'\xff', '\xfb', (char) option};
        char dont [3] = {'\xff', '\xfe', (char) option};
        memcpy (in + in_len, will, 3);
        memcpy (want + want_len, dont, 3);
        in_len += 3;
        want_len += 3;
        if (option == 6)
            continue;  //  DO TIMING-MARK is answered WILL
        char do_ [3] = {'\xff', '\xfd', (char) option};
        char wont [3] = {'\xff', '\xfc', (char) option};
        memcpy (in + in_len, do_, 3);
        memcpy (want + want_len, wont, 3);
        in_len += 3;
        want_len += 3;
    }
    feed (fx, in, in_len);
    expect_buf (&fx->result.reply, want, want_len);
    expect_data (fx, "");
    //  All of it again: nothing more.
    feed (fx, in, in_len);
    expect_reply (fx, "");
}

static void
test_timing_mark_is_answered_every_time (void **state)
{
    fixture_t *fx = *state;
    feed (fx, S (IAC DO TM));
    expect_reply (fx, IAC WILL TM);
    feed (fx, S (IAC DO TM IAC DO TM));
    expect_reply (fx, IAC WILL TM IAC WILL TM);
}

static void
test_inetutils_negotiation_is_refused (void **state)
{
    fixture_t *fx = *state;
    feed (fx, S (INETUTILS_HELLO "bob\r\n"));
    expect_reply (fx, INETUTILS_REFUSED);
    expect_data (fx, "bob\r\n");
}

/* ------------------------------------------------------------------ */
/*  Commands                                                          */

static void
test_ctrl_c_leaves_a_clean_line (void **state)
{
    fixture_t *fx = *state;
    //  The case: what came after Ctrl-C was sent with 0xFF bytes.
    feed (fx, S (CTRL_C "after ctrl-c\r\n"));
    expect_data (fx, "after ctrl-c\r\n");
    expect_reply (fx, IAC WILL TM);
    assert_true (fx->result.drop_partial);
}

static void
test_interrupt_drops_the_unfinished_line (void **state)
{
    fixture_t *fx = *state;
    feed (fx, S ("done\nhalf" IAC IP "next\n"));
    expect_data (fx, "done\nnext\n");
    assert_false (fx->result.drop_partial);
    feed (fx, S ("typed" IAC BRK "a\r\nb" IAC EL "c\n"));
    expect_data (fx, "a\r\nc\n");
    assert_true (fx->result.drop_partial);
    //  A CR before the interrupt no longer pairs with a NUL after it.
    feed (fx, S ("x\r" IAC IP "\0y\n"));
    expect_data (fx, "\0y\n");
}

static void
test_are_you_there_is_answered (void **state)
{
    fixture_t *fx = *state;
    feed (fx, S ("a" IAC AYT "b"));
    expect_data (fx, "ab");
    expect_reply (fx, TELNET_AYT_ANSWER);
    feed (fx, S (IAC AYT IAC AYT));
    expect_reply (fx, TELNET_AYT_ANSWER TELNET_AYT_ANSWER);
}

static void
test_other_commands_are_ignored (void **state)
{
    fixture_t *fx = *state;
    feed (fx, S ("a" IAC AO "b" IAC EC "c" IAC NOP "d" IAC DM "e" IAC GA "f" IAC "\xef" IAC
                 "\xee" IAC "\xed" IAC "\xec" IAC "\x41" IAC          SE "g\n"));
    expect_data (fx, "abcdefg\n");
    expect_reply (fx, "");
    assert_false (fx->result.drop_partial);
}

/* ------------------------------------------------------------------ */
/*  Subnegotiation                                                    */

static void
test_subnegotiation_is_dropped (void **state)
{
    fixture_t *fx = *state;
    //  TERMINAL-TYPE IS xterm, NAWS 80x24 with an escaped 0xFF, ENVIRON.
    feed (fx, S ("a" IAC SB "\x18\x00xterm" IAC SE "b" IAC SB "\x1f\x00\x50" IAC IAC "\x18" IAC SE
                 "c" IAC SB "\x27\x00\x00USER\x01root" IAC SE "d\n"));
    expect_data (fx, "abcd\n");
    expect_reply (fx, "");
}

static void
test_subnegotiation_split_across_feeds (void **state)
{
    fixture_t *fx = *state;
    feed (fx, S ("a" IAC SB "\x18\x00xt"));
    expect_data (fx, "a");
    feed (fx, S ("erm" IAC));
    expect_data (fx, "");
    feed (fx, S (SE "b\n"));
    expect_data (fx, "b\n");
}

static void
test_bad_byte_in_subnegotiation_ends_it (void **state)
{
    fixture_t *fx = *state;
    //  IAC followed by neither SE nor IAC inside SB: libtelnet ends the SB
    //  there and takes the byte as a command.
    feed (fx, S (IAC SB "\x18junk" IAC DO "\x01"
                        "after\n"));
    expect_reply (fx, IAC WONT "\x01");
    expect_data (fx, "after\n");
}

static void
test_overlong_subnegotiation_never_becomes_text (void **state)
{
    fixture_t *fx = *state;
    size_t     junk = 40000;
    char      *in = malloc (junk + 16);
    assert_non_null (in);
    memcpy (in, IAC SB "\x18", 3);
    memset (in + 3, 'j', junk);
    memcpy (in + 3 + junk, IAC SE "ok\n", 5);
    feed (fx, in, junk + 8);
    expect_data (fx, "ok\n");
    free (in);
}

static void
test_client_compression_is_fatal (void **state)
{
    fixture_t *fx = *state;
    //  COMPRESS2 (86) from the client, then a zlib stream of "hi\n".
    feed (fx, S ("before\n" IAC SB "\x56" IAC SE "\x78\x9c\xcb\xc8\xe4\x02\x00\x02\x17\x00\xdc"));
    assert_true (fx->result.fatal);
    expect_data (fx, "before\n");
    feed (fx, S ("more\n" IAC DO "\x01"));
    assert_true (fx->result.fatal);
    expect_data (fx, "");
    expect_reply (fx, "");
}

/* ------------------------------------------------------------------ */
/*  Output                                                            */

static void
test_send_doubles_iac (void **state)
{
    fixture_t *fx = *state;
    buf_t      out;
    buf_init (&out);
    telnet_filter_send (fx->filter,
                        S ("a\xff"
                           "b\xff\xff"),
                        &out);
    expect_buf (&out, S ("a" IAC IAC "b" IAC IAC IAC IAC));
    buf_clear (&out);
    telnet_filter_send (fx->filter, S ("plain\n"), &out);
    expect_buf (&out, S ("plain\n"));
    buf_free (&out);
}

/* ------------------------------------------------------------------ */
/*  Split anywhere: the same stream in any chunks gives the same text  */

/*  The text a framer would hold and the replies sent, after feeding the
    stream in the given chunks.                                           */
typedef struct {
    buf_t text;
    buf_t replies;
    bool  fatal;
} outcome_t;

static void
outcome_free (outcome_t *o)
{
    buf_free (&o->text);
    buf_free (&o->replies);
}

static void
run_chunks (const char *in, size_t size, const size_t *cuts, size_t ncuts, outcome_t *o)
{
    telnet_filter_t *filter = telnet_filter_new ();
    assert_non_null (filter);
    telnet_result_t result = {0};
    buf_init (&o->text);
    buf_init (&o->replies);
    o->fatal = false;
    size_t from = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts [i] : size;
        telnet_filter_feed (filter, in + from, to - from, &result);
        if (result.drop_partial)  //  As framer_drop_partial does
            buf_drop_partial_line (&o->text);
        buf_append (&o->text, buf_head (&result.data), buf_size (&result.data));
        buf_append (&o->replies, buf_head (&result.reply), buf_size (&result.reply));
        o->fatal |= result.fatal;
        from = to;
    }
    buf_free (&result.data);
    buf_free (&result.reply);
    telnet_filter_destroy (&filter);
}

static bool
same_buf (const buf_t *a, const buf_t *b)
{
    return buf_size (a) == buf_size (b) &&
           (buf_size (a) == 0 || memcmp (buf_head (a), buf_head (b), buf_size (a)) == 0);
}

static void
expect_same (const outcome_t *a, const outcome_t *b, const char *how)
{
    if (!same_buf (&a->text, &b->text) || !same_buf (&a->replies, &b->replies) ||
        a->fatal != b->fatal) {
        print_error ("fed %s, the outcome differs from one feed\n", how);
        fail ();
    }
}

static const char           transcript [] =
    INETUTILS_HELLO "b" IAC NOP "ob\r\n"
                    "hi " IAC IAC " there\r\n" CTRL_C "after ctrl-c\r\n"
                    "half" IAC IP IAC DO TM "whole\r\0" IAC SB "\x18\x00xterm" IAC IAC IAC SE
                    "x" IAC AYT "y\r\n" IAC WILL "\x18" IAC DO "\x01" IAC WONT "\x01"
                    "end\r\n";

static void
test_split_at_every_byte_boundary (void **state)
{
    (void) state;
    size_t    size = sizeof transcript - 1;
    outcome_t whole;
    run_chunks (transcript, size, NULL, 0, &whole);
    expect_buf (&whole.text, S ("bob\r\nhi \xff there\r\nafter ctrl-c\r\nwhole\r\nxy\r\nend\r\n"));
    expect_buf (&whole.replies,
                S (INETUTILS_REFUSED IAC WILL TM IAC WILL TM TELNET_AYT_ANSWER IAC WONT "\x01"));
    for (size_t cut = 1; cut < size; cut++) {
        outcome_t two;
        run_chunks (transcript, size, &cut, 1, &two);
        char how [64];
        snprintf (how, sizeof how, "cut at byte %zu", cut);
        expect_same (&whole, &two, how);
        outcome_free (&two);
    }
    size_t *cuts = malloc (size * sizeof *cuts);
    assert_non_null (cuts);
    for (size_t i = 0; i + 1 < size; i++)
        cuts [i] = i + 1;
    outcome_t bytes;
    run_chunks (transcript, size, cuts, size - 1, &bytes);
    expect_same (&whole, &bytes, "a byte at a time");
    outcome_free (&bytes);
    free (cuts);
    outcome_free (&whole);
}

/*  Random bytes rich in IAC, in random chunks: never a crash, never more
    text than came in, answers only of the forms we send, and the same
    outcome however the stream is cut.                                    */
static void
test_garbage_is_survived (void **state)
{
    (void) state;
    uint32_t seed = 12345;
    for (int round = 0; round < 300; round++) {
        char   in [2048];
        size_t size = 0;
        while (size < sizeof in) {
            seed = seed * 1103515245 + 12345;
            uint8_t r = (uint8_t) (seed >> 16);
            in [size++] = (char) (r < 60 ? 0xffu : r < 120 ? 0xecu + r % 20 : (seed >> 8) & 0xff);
        }
        size_t cuts [16];
        for (size_t i = 0; i < 16; i++) {
            seed = seed * 1103515245 + 12345;
            cuts [i] = (i ? cuts [i - 1] : 0) + (seed >> 16) % 128;
        }
        outcome_t whole, cut;
        run_chunks (in, size, NULL, 0, &whole);
        run_chunks (in, size, cuts, 16, &cut);
        expect_same (&whole, &cut, "in random chunks");
        assert_true (buf_size (&whole.text) <= size);
        //  Every answer is a refusal, WILL TIMING-MARK or the AYT text.
        const char *r = buf_head (&whole.replies);
        size_t      left = buf_size (&whole.replies);
        while (left) {
            size_t ayt = strlen (TELNET_AYT_ANSWER);
            if (left >= ayt && memcmp (r, TELNET_AYT_ANSWER, ayt) == 0) {
                r += ayt;
                left -= ayt;
                continue;
            }
            assert_true (left >= 3);
            assert_int_equal ((unsigned char) r [0], 0xff);
            unsigned char verb = (unsigned char) r [1];
            assert_true (verb == 0xfe || verb == 0xfc || (verb == 0xfb && r [2] == 6));
            r += 3;
            left -= 3;
        }
        outcome_free (&whole);
        outcome_free (&cut);
    }
}

/* ------------------------------------------------------------------ */
/*  framer_drop_partial, which the gateway calls on drop_partial       */

static void
test_framer_drop_partial (void **state)
{
    (void) state;
    framer_t f;
    framer_init (&f);
    framer_feed (&f, S ("one\ntwo\nunfini"));
    framer_drop_partial (&f);
    framer_feed (&f, S ("three\n"));
    const char *line;
    size_t      len;
    const char *want [] = {"one", "two", "three"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal (framer_next (&f, &line, &len), FRAME_LINE);
        assert_int_equal (len, strlen (want [i]));
        assert_memory_equal (line, want [i], len);
    }
    assert_int_equal (framer_next (&f, &line, &len), FRAME_NONE);
    //  Nothing but a partial line: all of it goes.
    framer_feed (&f, S ("partial"));
    framer_drop_partial (&f);
    assert_int_equal (framer_buffered (&f), 0);
    //  Inside an over-long line: the drop ends it, the next line counts.
    char *big = malloc (LINE_MAX_BYTES + 10);
    assert_non_null (big);
    memset (big, 'x', LINE_MAX_BYTES + 10);
    framer_feed (&f, big, LINE_MAX_BYTES + 10);
    assert_int_equal (framer_next (&f, &line, &len), FRAME_TOO_LONG);
    framer_drop_partial (&f);
    framer_feed (&f, S ("fresh\n"));
    assert_int_equal (framer_next (&f, &line, &len), FRAME_LINE);
    assert_int_equal (len, 5);
    assert_memory_equal (line, "fresh", 5);
    free (big);
    framer_free (&f);
}

#define T(f) cmocka_unit_test_setup_teardown (f, setup, teardown)

int
main (void)
{
    const struct CMUnitTest tests [] = {
        T (test_plain_text_passes_unchanged),
        T (test_iac_iac_is_the_data_byte_ff),
        T (test_cr_nul_ends_a_line),
        T (test_empty_feed_produces_nothing),
        T (test_will_is_refused_once),
        T (test_do_is_refused_once),
        T (test_wont_and_dont_get_no_answer),
        T (test_every_option_byte_is_refused),
        T (test_timing_mark_is_answered_every_time),
        T (test_inetutils_negotiation_is_refused),
        T (test_ctrl_c_leaves_a_clean_line),
        T (test_interrupt_drops_the_unfinished_line),
        T (test_are_you_there_is_answered),
        T (test_other_commands_are_ignored),
        T (test_subnegotiation_is_dropped),
        T (test_subnegotiation_split_across_feeds),
        T (test_bad_byte_in_subnegotiation_ends_it),
        T (test_overlong_subnegotiation_never_becomes_text),
        T (test_client_compression_is_fatal),
        T (test_send_doubles_iac),
        cmocka_unit_test (test_split_at_every_byte_boundary),
        cmocka_unit_test (test_garbage_is_survived),
        cmocka_unit_test (test_framer_drop_partial),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
