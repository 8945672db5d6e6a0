/* SPDX-License-Identifier: MIT */
/*  Unit tests for clean.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clean.h"

#define FFFD "\xEF\xBF\xBD"

/*  The output buffer is exactly CLEAN_MAX_OUT(len) bytes, so that the
    sanitizer catches any overrun.                                       */
static void
expect_clean_n (const char *in, size_t len, const char *want)
{
    char *out = malloc (CLEAN_MAX_OUT (len));
    assert_non_null (out);
    size_t n = clean_text (in, len, out);
    if (n != strlen (want) || memcmp (out, want, n) != 0)
        fail_msg ("cleaning %zu bytes gave \"%s\" (%zu bytes), want \"%s\"", len, out, n, want);
    assert_int_equal (out [n], '\0');
    free (out);
}

/*  For literals, which may hold NUL bytes.  */
#define expect_clean(lit, want) expect_clean_n ((lit), sizeof (lit) - 1, (want))

static void
test_empty_text (void **state)
{
    (void) state;
    expect_clean_n (NULL, 0, "");
    expect_clean ("", "");
}

static void
test_printable_ascii_kept (void **state)
{
    (void) state;
    char all [0x7F - 0x20 + 1];
    for (int c = 0x20; c < 0x7F; c++)
        all [c - 0x20] = (char) c;
    all [sizeof all - 1] = '\0';
    expect_clean_n (all, sizeof all - 1, all);
    expect_clean ("hello, world", "hello, world");
}

static void
test_c0_removed_except_tab (void **state)
{
    (void) state;
    for (int c = 0; c < 0x20; c++) {
        if (c == '\t' || c == 0x1B)
            continue; /* kept; starts an escape sequence */
        char in [] = {'a', (char) c, 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'};
        expect_clean_n (in, sizeof in, "abcdefghi");
        char at_end [] = {'a', (char) c};
        expect_clean_n (at_end, sizeof at_end, "a");
    }
}

static void
test_tab_kept (void **state)
{
    (void) state;
    expect_clean ("\ta\tb\t", "\ta\tb\t");
    expect_clean ("col1\tcol2\tcol3 and some more text", "col1\tcol2\tcol3 and some more text");
}

static void
test_nul_and_del_removed (void **state)
{
    (void) state;
    expect_clean ("a\0b", "ab");
    expect_clean ("\0\0\0", "");
    expect_clean ("a\x7f"
                  "b",
                  "ab");
    expect_clean ("abcdefgh\x7fijklmnop", "abcdefghijklmnop");
}

static void
test_c1_removed (void **state)
{
    (void) state;
    for (int c = 0x80; c <= 0x9F; c++) {
        char in [] = {'a', (char) 0xC2, (char) c, 'b'};
        expect_clean_n (in, sizeof in, "ab");
    }
    expect_clean ("a\xc2\xa0"
                  "b",
                  "a\xc2\xa0"
                  "b"); /* U+00A0 is not C1 */
}

/*  The 8-byte fast path must notice a bad byte at any position.         */
static void
test_bad_byte_at_every_offset (void **state)
{
    (void) state;
    const unsigned char bad [] = {0x00, 0x01, 0x1F, 0x7F, 0x80, 0xFF};
    for (size_t b = 0; b < sizeof bad; b++)
        for (size_t at = 0; at < 24; at++) {
            char in [24], want [24 + 3];
            memset (in, 'k', sizeof in);
            in [at] = (char) bad [b];
            size_t w = 0;
            for (size_t i = 0; i < sizeof in; i++)
                if (i != at)
                    want [w++] = 'k';
                else if (bad [b] >= 0x80) {
                    memcpy (want + w, FFFD, 3);
                    w += 3;
                }
            want [w] = '\0';
            expect_clean_n (in, sizeof in, want);
        }
    /*  Boundary bytes of the printable range are kept everywhere.        */
    for (size_t at = 0; at < 24; at++) {
        char in [25];
        memset (in, 0x20, 24);
        in [at] = 0x7E;
        in [24] = '\0';
        expect_clean_n (in, 24, in);
    }
}

static void
test_csi_removed (void **state)
{
    (void) state;
    expect_clean ("\x1b[2Jhi", "hi");
    expect_clean ("a\x1b[31;1mred\x1b[0m b", "ared b");
    expect_clean ("\x1b[?25lhidden cursor\x1b[?25h", "hidden cursor");
    expect_clean ("x\x1b[H", "x");
    expect_clean ("x\x1b[1;2 @y", "xy"); /* intermediate byte, final '@' */
    expect_clean ("x\x1b[~y", "xy");     /* final '~', no parameters */
}

static void
test_csi_unterminated (void **state)
{
    (void) state;
    expect_clean ("abc\x1b[12;", "abc");
    expect_clean ("abc\x1b[", "abc");
}

static void
test_osc_removed (void **state)
{
    (void) state;
    expect_clean ("a\x1b]0;evil title\x07"
                  "b",
                  "ab");
    expect_clean ("a\x1b]8;;http://x.test/\x1b\\link\x1b]8;;\x1b\\"
                  "b",
                  "alinkb");
    expect_clean ("a\x1b]52;c;AAAA\x1b[31m\x07"
                  "b",
                  "ab"); /* ESC other than ST inside */
}

static void
test_osc_unterminated (void **state)
{
    (void) state;
    expect_clean ("keep\x1b]0;title to the end", "keep");
    expect_clean ("keep\x1b]", "keep");
    expect_clean ("keep\x1b]0;ends in ESC\x1b", "keep");
}

static void
test_other_control_strings_removed (void **state)
{
    (void) state;
    expect_clean ("a\x1bPq#0;2;0;0;0\x1b\\"
                  "b",
                  "ab"); /* DCS */
    expect_clean ("a\x1bXsos\x07"
                  "b",
                  "ab"); /* SOS */
    expect_clean ("a\x1b^pm\x1b\\"
                  "b",
                  "ab"); /* PM */
    expect_clean ("a\x1b_apc\x07"
                  "b",
                  "ab"); /* APC */
    expect_clean ("a\x1bPno end", "a");
}

static void
test_two_byte_escape_removed (void **state)
{
    (void) state;
    expect_clean ("a\x1b"
                  "cb",
                  "ab"); /* RIS: full reset */
    expect_clean ("\x1b"
                  "7saved\x1b"
                  "8",
                  "saved");
    expect_clean ("a\x1b(B", "aB"); /* only ESC and one byte */
    expect_clean ("a\x1b b", "ab");
}

static void
test_lone_escape (void **state)
{
    (void) state;
    expect_clean ("abc\x1b", "abc");
    expect_clean ("\x1b", "");
    expect_clean ("a\x1b\x01"
                  "b",
                  "ab");                         /* ESC before a control */
    expect_clean ("a\x1b\xc3\xa9", "a\xc3\xa9"); /* ESC before é */
    expect_clean ("a\x1b\x1b[1mb", "ab");        /* ESC ESC [ ... */
    expect_clean ("a\x1b\x7f"
                  "b",
                  "ab"); /* ESC DEL */
}

static void
test_valid_utf8_kept (void **state)
{
    (void) state;
    expect_clean ("caf\xc3\xa9", "caf\xc3\xa9");             /* é */
    expect_clean ("\xe2\x82\xac 5", "\xe2\x82\xac 5");       /* € */
    expect_clean ("\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!"); /* 😀 */
    expect_clean ("\xe3\x80\x80\xe6\x97\xa5", "\xe3\x80\x80\xe6\x97\xa5");
    expect_clean ("\xe0\xa0\x80", "\xe0\xa0\x80");         /* U+0800 */
    expect_clean ("\xed\x9f\xbf", "\xed\x9f\xbf");         /* U+D7FF */
    expect_clean ("\xee\x80\x80", "\xee\x80\x80");         /* U+E000 */
    expect_clean ("\xef\xbf\xbd", FFFD);                   /* U+FFFD */
    expect_clean ("\xf0\x90\x80\x80", "\xf0\x90\x80\x80"); /* U+10000 */
    expect_clean ("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
}

static void
test_lone_continuation (void **state)
{
    (void) state;
    expect_clean ("a\x80"
                  "b",
                  "a" FFFD "b");
    expect_clean ("\xbf", FFFD);
    expect_clean ("\x80\x80\x80", FFFD);
    expect_clean ("\xc3\xa9\xa9", "\xc3\xa9" FFFD);
}

static void
test_bad_lead_bytes (void **state)
{
    (void) state;
    expect_clean ("\xc0\x80", FFFD);
    expect_clean ("\xc1\xbf", FFFD);
    expect_clean ("a\xc0"
                  "b",
                  "a" FFFD "b");
    for (int c = 0xF5; c <= 0xFF; c++) {
        char in [] = {(char) c, 'x'};
        expect_clean_n (in, sizeof in, FFFD "x");
        char seq [] = {(char) c, (char) 0x80, (char) 0x80, (char) 0x80};
        expect_clean_n (seq, sizeof seq, FFFD);
    }
}

static void
test_overlong_forms (void **state)
{
    (void) state;
    expect_clean ("\xe0\x80\x80", FFFD);
    expect_clean ("\xe0\x9f\xbf", FFFD);
    expect_clean ("\xf0\x80\x80\x80", FFFD);
    expect_clean ("\xf0\x8f\xbf\xbf", FFFD);
}

static void
test_surrogates (void **state)
{
    (void) state;
    expect_clean ("\xed\xa0\x80", FFFD);
    expect_clean ("\xed\xbf\xbf", FFFD);
    expect_clean ("\xed\xa0\x80\xed\xb0\x80", FFFD);
}

static void
test_beyond_unicode (void **state)
{
    (void) state;
    expect_clean ("\xf4\x90\x80\x80", FFFD);
    expect_clean ("\xf4\xbf\xbf\xbf", FFFD);
}

static void
test_truncated_sequences (void **state)
{
    (void) state;
    /*  At the end: one U+FFFD for the whole valid prefix.               */
    expect_clean ("a\xc3", "a" FFFD);
    expect_clean ("a\xe2\x82", "a" FFFD);
    expect_clean ("a\xf0\x9f\x98", "a" FFFD);
    expect_clean ("\xf0\x9f", FFFD);
    /*  Mid-text: the interrupting byte starts afresh.                  */
    expect_clean ("\xe2\x82x", FFFD "x");
    expect_clean ("\xf0\x9f\x98\xc3\xa9", FFFD "\xc3\xa9");
    expect_clean ("\xe2\x82\xe2\x82\xac", FFFD "\xe2\x82\xac");
    expect_clean ("\xf0\x9f\x98 \xf0\x9f\x98\x80", FFFD " \xf0\x9f\x98\x80");
    expect_clean ("\xc3\x1b[1mb", FFFD "b");
    expect_clean ("\xe1\x80\xc0\x80", FFFD);
}

/*  A run of invalid bytes is one U+FFFD, however long, and bytes that
    are removed inside the run (controls, escapes) do not split it.      */
static void
test_invalid_run_is_one_replacement (void **state)
{
    (void) state;
    char in [100];
    memset (in, 0xFF, sizeof in);
    expect_clean_n (in, sizeof in, FFFD);
    expect_clean ("a\xff\x80\xc0\xf5"
                  "b\xfe\xfe",
                  "a" FFFD "b" FFFD);
    expect_clean ("\xff\x07\xff\x1b[0m\xff", FFFD);
    expect_clean ("\xff\xe2\x80\xae\xff", FFFD);       /* U+202E removed */
    expect_clean ("\xff" FFFD "\xff", FFFD FFFD FFFD); /* a typed U+FFFD is text */
    expect_clean ("\xff \xff", FFFD " " FFFD);
}

/*  Bidi override and isolate controls are removed; the marks and other
    format characters are left to the terminal.                          */
static void
test_bidi_controls_removed (void **state)
{
    (void) state;
    expect_clean ("a\xe2\x80\xaa"
                  "b",
                  "ab"); /* U+202A LRE */
    expect_clean ("a\xe2\x80\xab"
                  "b",
                  "ab"); /* U+202B RLE */
    expect_clean ("a\xe2\x80\xac"
                  "b",
                  "ab"); /* U+202C PDF */
    expect_clean ("a\xe2\x80\xad"
                  "b",
                  "ab"); /* U+202D LRO */
    expect_clean ("evil\xe2\x80\xae"
                  "txt.exe",
                  "eviltxt.exe"); /* U+202E RLO */
    expect_clean ("a\xe2\x81\xa6"
                  "b",
                  "ab"); /* U+2066 LRI */
    expect_clean ("a\xe2\x81\xa7"
                  "b",
                  "ab"); /* U+2067 RLI */
    expect_clean ("a\xe2\x81\xa8"
                  "b",
                  "ab"); /* U+2068 FSI */
    expect_clean ("a\xe2\x81\xa9"
                  "b",
                  "ab"); /* U+2069 PDI */
    expect_clean ("\xe2\x80\xae\xe2\x81\xa6", "");
    /*  Neighbours stay: U+2029, U+202F, U+2065 (unassigned), U+206A.    */
    expect_clean ("\xe2\x80\xa9\xe2\x80\xaf", "\xe2\x80\xa9\xe2\x80\xaf");
    expect_clean ("\xe2\x81\xa5\xe2\x81\xaa", "\xe2\x81\xa5\xe2\x81\xaa");
}

/*  The worst growth at the line limit: whatever the input, the output
    stays within CLEAN_MAX_BYTES, ends on a whole character and is a
    prefix of what the uncut cleaning would give.                       */
static void
expect_capped (const char *in, size_t len, const char *unit, size_t unit_len)
{
    char *out = malloc (CLEAN_MAX_OUT (len));
    assert_non_null (out);
    size_t n = clean_text (in, len, out);
    assert_true (n <= CLEAN_MAX_BYTES);
    assert_true (n > CLEAN_MAX_BYTES - unit_len);
    assert_int_equal (n % unit_len == 0 || unit_len == 0, 1);
    for (size_t i = 0; i + unit_len <= n; i += unit_len)
        assert_memory_equal (out + i, unit, unit_len);
    assert_int_equal (out [n], '\0');
    free (out);
}

static void
test_worst_case_growth (void **state)
{
    (void) state;
    char in [LINE_MAX_BYTES];
    /*  Alternating ASCII and invalid bytes: "a" + U+FFFD per 2 bytes.   */
    for (size_t i = 0; i < sizeof in; i++)
        in [i] = i % 2 ? (char) 0xFF : 'a';
    expect_capped (in, sizeof in, "a" FFFD, 4);
    /*  ... and with a stray continuation byte.                          */
    for (size_t i = 0; i < sizeof in; i++)
        in [i] = i % 2 ? (char) 0x80 : 'z';
    expect_capped (in, sizeof in, "z" FFFD, 4);
    /*  Two-byte characters and invalid bytes: 3 bytes in, 5 out, cut
        before a character that would not fit whole.                     */
    for (size_t i = 0; i + 3 <= sizeof in; i += 3)
        memcpy (in + i, "\xc3\xa9\xff", 3);
    expect_capped (in, sizeof in - sizeof in % 3, "\xc3\xa9" FFFD, 5);
    /*  Tabs and invalid bytes.                                          */
    for (size_t i = 0; i < sizeof in; i++)
        in [i] = i % 2 ? (char) 0xC0 : '\t';
    expect_capped (in, sizeof in, "\t" FFFD, 4);
    /*  Plain ASCII at the limit is untouched; one byte more is cut.     */
    char *big = malloc (LINE_MAX_BYTES + 2);
    assert_non_null (big);
    memset (big, 'x', LINE_MAX_BYTES + 1);
    big [LINE_MAX_BYTES + 1] = '\0';
    char *out = malloc (CLEAN_MAX_OUT (LINE_MAX_BYTES + 1));
    assert_non_null (out);
    assert_int_equal (clean_text (big, LINE_MAX_BYTES, out), LINE_MAX_BYTES);
    assert_int_equal (clean_text (big, LINE_MAX_BYTES + 1, out), LINE_MAX_BYTES);
    /*  A 4-byte character that would cross the limit is left out whole. */
    memcpy (big + LINE_MAX_BYTES - 2, "\xf0\x9f\x98\x80", 4);
    assert_int_equal (clean_text (big, LINE_MAX_BYTES + 2, out), LINE_MAX_BYTES - 2);
    free (out);
    free (big);
}

/*  A long mixed line: ASCII runs, escapes and UTF-8 interleaved.       */
static void
test_long_mixed_text (void **state)
{
    (void) state;
    char        in [8000], want [8000];
    size_t      n = 0, w = 0;
    const char *piece [][2] = {
        {"plain ascii text ", "plain ascii text "},
        {"\x1b[1;32m", ""},
        {"caf\xc3\xa9\t", "caf\xc3\xa9\t"},
        {"\x07\x08\r", ""},
        {"\xff", FFFD},
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
    };
    for (int round = 0; round < 150; round++) {
        const char **p = piece [round % 6];
        memcpy (in + n, p [0], strlen (p [0]));
        n += strlen (p [0]);
        memcpy (want + w, p [1], strlen (p [1]));
        w += strlen (p [1]);
    }
    want [w] = '\0';
    expect_clean_n (in, n, want);
}

static void
test_utf8_decode (void **state)
{
    (void) state;
    int32_t cp;
    assert_int_equal (utf8_decode ("A", 1, &cp), 1);
    assert_int_equal (cp, 'A');
    assert_int_equal (utf8_decode ("\xc3\xa9", 2, &cp), 2);
    assert_int_equal (cp, 0xE9);
    assert_int_equal (utf8_decode ("\xe2\x82\xac", 3, &cp), 3);
    assert_int_equal (cp, 0x20AC);
    assert_int_equal (utf8_decode ("\xf0\x9f\x98\x80", 4, &cp), 4);
    assert_int_equal (cp, 0x1F600);
    assert_int_equal (utf8_decode ("\xf0\x9f\x98", 3, &cp), 3);
    assert_int_equal (cp, -1);
    assert_int_equal (utf8_decode ("\xe0\x80\x80", 3, &cp), 1);
    assert_int_equal (cp, -1);
    assert_int_equal (utf8_decode ("\xc2\x85", 2, &cp), 2);
    assert_int_equal (cp, 0x85);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_empty_text),
        cmocka_unit_test (test_printable_ascii_kept),
        cmocka_unit_test (test_c0_removed_except_tab),
        cmocka_unit_test (test_tab_kept),
        cmocka_unit_test (test_nul_and_del_removed),
        cmocka_unit_test (test_c1_removed),
        cmocka_unit_test (test_bad_byte_at_every_offset),
        cmocka_unit_test (test_csi_removed),
        cmocka_unit_test (test_csi_unterminated),
        cmocka_unit_test (test_osc_removed),
        cmocka_unit_test (test_osc_unterminated),
        cmocka_unit_test (test_other_control_strings_removed),
        cmocka_unit_test (test_two_byte_escape_removed),
        cmocka_unit_test (test_lone_escape),
        cmocka_unit_test (test_valid_utf8_kept),
        cmocka_unit_test (test_lone_continuation),
        cmocka_unit_test (test_bad_lead_bytes),
        cmocka_unit_test (test_overlong_forms),
        cmocka_unit_test (test_surrogates),
        cmocka_unit_test (test_beyond_unicode),
        cmocka_unit_test (test_truncated_sequences),
        cmocka_unit_test (test_invalid_run_is_one_replacement),
        cmocka_unit_test (test_bidi_controls_removed),
        cmocka_unit_test (test_worst_case_growth),
        cmocka_unit_test (test_long_mixed_text),
        cmocka_unit_test (test_utf8_decode),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
