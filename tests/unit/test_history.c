/* SPDX-License-Identifier: MIT */
/*  Unit tests for history.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "history.h"

static void
add_str (history_t *h, const char *line)
{
    history_add (h, line, strlen (line));
}

static void
expect_line (const history_t *h, size_t i, const char *want)
{
    size_t      len = 12345;
    const char *line = history_line (h, i, &len);
    assert_non_null (line);
    assert_int_equal (len, strlen (want));
    assert_memory_equal (line, want, len);
    assert_int_equal (line [len], '\0');
}

/*  The history holds exactly these lines, oldest first.  */
static void
expect_lines (const history_t *h, const char *const *want, size_t count)
{
    assert_int_equal (history_count (h), count);
    for (size_t i = 0; i < count; i++)
        expect_line (h, i, want [i]);
    assert_null (history_line (h, count, NULL));
}

static void
test_capacity_zero_keeps_nothing (void **state)
{
    (void) state;
    history_t *h = history_new (0);
    assert_non_null (h);
    add_str (h, "[ts][a]:hello");
    add_str (h, "[ts][a]:again");
    assert_int_equal (history_count (h), 0);
    assert_null (history_line (h, 0, NULL));
    buf_t out;
    buf_init (&out);
    history_render (h, &out);
    assert_int_equal (buf_size (&out), 0);
    assert_null (out.data);
    history_destroy (&h);
    assert_null (h);
}

static void
test_below_capacity_in_order (void **state)
{
    (void) state;
    history_t *h = history_new (5);
    assert_int_equal (history_count (h), 0);
    assert_null (history_line (h, 0, NULL));
    add_str (h, "one");
    add_str (h, "two");
    add_str (h, "three");
    expect_lines (h, (const char *[]){"one", "two", "three"}, 3);
    history_destroy (&h);
}

static void
test_wrap_keeps_last_oldest_first (void **state)
{
    (void) state;
    history_t *h = history_new (3);
    char       line [16];
    for (int i = 1; i <= 7; i++) {
        snprintf (line, sizeof line, "line %d", i);
        add_str (h, line);
        assert_int_equal (history_count (h), i < 3 ? (size_t) i : 3);
    }
    expect_lines (h, (const char *[]){"line 5", "line 6", "line 7"}, 3);
    history_destroy (&h);
}

static void
test_capacity_one (void **state)
{
    (void) state;
    history_t *h = history_new (1);
    add_str (h, "a");
    add_str (h, "b");
    assert_int_equal (history_count (h), 1);
    expect_line (h, 0, "b");
    history_destroy (&h);
}

/*  Many wraps of a ring large enough to grow its slots several times.   */
static void
test_many_wraps (void **state)
{
    (void) state;
    const size_t cap = 100;
    history_t   *h = history_new (cap);
    char         line [32];
    for (size_t i = 0; i < 1037; i++) {
        snprintf (line, sizeof line, "[ts][n]:%zu", i);
        add_str (h, line);
        size_t count = history_count (h);
        assert_int_equal (count, i + 1 < cap ? i + 1 : cap);
        snprintf (line, sizeof line, "[ts][n]:%zu", i + 1 - count);
        expect_line (h, 0, line);
        snprintf (line, sizeof line, "[ts][n]:%zu", i);
        expect_line (h, count - 1, line);
    }
    for (size_t i = 0; i < cap; i++) {
        snprintf (line, sizeof line, "[ts][n]:%zu", 1037 - cap + i);
        expect_line (h, i, line);
    }
    history_destroy (&h);
}

static void
test_render_exact (void **state)
{
    (void) state;
    history_t *h = history_new (3);
    buf_t      out;
    buf_init (&out);
    history_render (h, &out);
    assert_int_equal (buf_size (&out), 0);
    add_str (h, "[2024-01-01 10:00:00][alice]:hi");
    add_str (h, "[2024-01-01 10:00:01][bob]:");
    add_str (h, "[2024-01-01 10:00:02][alice]:x");
    add_str (h, "[2024-01-01 10:00:03][bob]:last");
    buf_append_str (&out, "before|");
    history_render (h, &out);
    const char *want = "before|"
                       "[2024-01-01 10:00:01][bob]:\n"
                       "[2024-01-01 10:00:02][alice]:x\n"
                       "[2024-01-01 10:00:03][bob]:last\n";
    assert_int_equal (buf_size (&out), strlen (want));
    assert_memory_equal (buf_head (&out), want, strlen (want));
    buf_free (&out);
    history_destroy (&h);
}

static void
test_long_lines (void **state)
{
    (void) state;
    size_t n = 100000;
    char  *big = malloc (n);
    assert_non_null (big);
    for (size_t i = 0; i < n; i++)
        big [i] = (char) ('a' + i % 26);
    history_t *h = history_new (2);
    history_add (h, big, n);
    history_add (h, big, 4096);
    history_add (h, big, n - 1);
    size_t      len;
    const char *line = history_line (h, 0, &len);
    assert_int_equal (len, 4096);
    assert_memory_equal (line, big, 4096);
    line = history_line (h, 1, &len);
    assert_int_equal (len, n - 1);
    assert_memory_equal (line, big, n - 1);
    buf_t out;
    buf_init (&out);
    history_render (h, &out);
    assert_int_equal (buf_size (&out), 4096 + 1 + n - 1 + 1);
    assert_int_equal (buf_head (&out) [4096], '\n');
    assert_memory_equal (buf_head (&out) + 4097, big, n - 1);
    assert_int_equal (buf_head (&out) [buf_size (&out) - 1], '\n');
    buf_free (&out);
    history_destroy (&h);
    free (big);
}

static void
test_add_copies (void **state)
{
    (void) state;
    char       line [] = "mutable";
    history_t *h = history_new (4);
    add_str (h, line);
    line [0] = 'X';
    expect_line (h, 0, "mutable");
    history_add (h, "", 0);
    expect_line (h, 1, "");
    history_destroy (&h);
}

/*  A byte budget keeps the newest lines that fit whole, oldest first;
    a newest line bigger than the budget leaves nothing.                 */
static void
test_render_newest_in_bytes (void **state)
{
    (void) state;
    history_t *h = history_new (4);
    add_str (h, "one");       /* 4 bytes rendered */
    add_str (h, "three");     /* 6 */
    add_str (h, "fiftyfive"); /* 10 */
    add_str (h, "x");         /* 2 */
    add_str (h, "last");      /* 5; "one" is gone */
    buf_t out;
    buf_init (&out);
    size_t      budgets [] = {0, 4, 5, 6, 16, 17, 23, 1000};
    const char *wants [] = {"",
                            "",
                            "last\n",
                            "last\n",
                            "x\nlast\n",
                            "fiftyfive\nx\nlast\n",
                            "three\nfiftyfive\nx\nlast\n",
                            "three\nfiftyfive\nx\nlast\n"};
    for (size_t i = 0; i < sizeof budgets / sizeof budgets [0]; i++) {
        buf_clear (&out);
        history_render_newest (h, budgets [i], &out);
        assert_int_equal (buf_size (&out), strlen (wants [i]));
        assert_memory_equal (buf_head (&out), wants [i], buf_size (&out));
    }
    buf_free (&out);
    history_destroy (&h);
}

static void
test_destroy_null (void **state)
{
    (void) state;
    history_t *h = NULL;
    history_destroy (&h);
    assert_null (h);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_capacity_zero_keeps_nothing),
        cmocka_unit_test (test_below_capacity_in_order),
        cmocka_unit_test (test_wrap_keeps_last_oldest_first),
        cmocka_unit_test (test_capacity_one),
        cmocka_unit_test (test_many_wraps),
        cmocka_unit_test (test_render_exact),
        cmocka_unit_test (test_long_lines),
        cmocka_unit_test (test_add_copies),
        cmocka_unit_test (test_render_newest_in_bytes),
        cmocka_unit_test (test_destroy_null),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
