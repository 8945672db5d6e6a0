/* SPDX-License-Identifier: MIT */
/*  Unit tests for text.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>
#include "text.h"

static void
test_text_is_blank_char (void **state)
{
    (void) state;
    assert_true (text_is_blank_char (' '));
    assert_true (text_is_blank_char ('\t'));
    assert_false (text_is_blank_char ('\n'));
    assert_false (text_is_blank_char ('\r'));
    assert_false (text_is_blank_char ('\v'));
    assert_false (text_is_blank_char ('\0'));
    assert_false (text_is_blank_char ('\xa0')); /* half of U+00A0 */
    assert_false (text_is_blank_char ('x'));
}

static void
test_text_is_blank (void **state)
{
    (void) state;
    assert_true (text_is_blank ("", 0));
    assert_true (text_is_blank (NULL, 0));
    assert_true (text_is_blank (" ", 1));
    assert_true (text_is_blank (" \t  \t", 5));
    assert_false (text_is_blank (" a ", 3));
    assert_false (text_is_blank ("\n", 1));
    assert_false (text_is_blank ("  \xc2\xa0", 4));
    assert_false (text_is_blank ("\0", 1));
    assert_true (text_is_blank ("  x", 2)); /* only len bytes count */
}

static void
expect_trim (const char *in, const char *want)
{
    const char *s = in;
    size_t      len = text_trim_blanks (&s, strlen (in));
    assert_int_equal (len, strlen (want));
    assert_memory_equal (s, want, len);
    assert_true (s >= in && s + len <= in + strlen (in));
}

static void
test_text_trim_blanks (void **state)
{
    (void) state;
    expect_trim ("  \t alice \t ", "alice");
    expect_trim ("a b", "a b");
    expect_trim (" \t a\tb \t", "a\tb");
    expect_trim ("bob", "bob");
    expect_trim ("   ", "");
    expect_trim ("", "");
    expect_trim ("\nbob\r", "\nbob\r"); /* only spaces and tabs */
    const char *s = "  x  ";
    assert_int_equal (text_trim_blanks (&s, 3), 1); /* only len bytes */
    assert_int_equal (*s, 'x');
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_text_is_blank_char),
        cmocka_unit_test (test_text_is_blank),
        cmocka_unit_test (test_text_trim_blanks),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
