/* SPDX-License-Identifier: MIT */
/*  Unit tests for buf.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include "buf.h"

static void
assert_holds (const buf_t *b, const char *want, size_t len)
{
    assert_int_equal (buf_size (b), len);
    assert_non_null (buf_head (b));
    assert_memory_equal (buf_head (b), want, len);
}

/*  Holds nothing and owns no memory, as after buf_init.               */
static void
assert_empty_freed (const buf_t *b)
{
    assert_int_equal (buf_size (b), 0);
    assert_null (buf_head (b));
    assert_null (b->data);
    assert_int_equal (b->cap, 0);
    assert_int_equal (b->off, 0);
    assert_int_equal (b->len, 0);
}

static void
test_init_is_empty (void **state)
{
    (void) state;
    buf_t b;
    memset (&b, 0x5A, sizeof b);
    buf_init (&b);
    assert_empty_freed (&b);
}

static void
test_append_then_consume (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    buf_append (&b, "hello", 5);
    assert_holds (&b, "hello", 5);
    buf_append (&b, " world", 6);
    assert_holds (&b, "hello world", 11);
    buf_consume (&b, 6);
    assert_holds (&b, "world", 5);
    buf_consume (&b, 0);
    assert_holds (&b, "world", 5);
    buf_free (&b);
}

/*  Consuming all that is held frees the storage, in steps or with a
    count past the end, and the buffer is usable again.                  */
static void
test_consume_to_empty_frees (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    buf_append (&b, "abc", 3);
    buf_consume (&b, 1);
    assert_non_null (b.data);
    buf_consume (&b, 2);
    assert_empty_freed (&b);
    buf_append (&b, "abc", 3);
    buf_consume (&b, 100);
    assert_empty_freed (&b);
    buf_append (&b, "x", 1);
    assert_holds (&b, "x", 1);
    buf_free (&b);
}

static void
test_append_nothing_allocates_nothing (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    buf_append (&b, NULL, 0);
    buf_append_str (&b, "");
    assert_empty_freed (&b);
}

static void
test_append_str (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    buf_append_str (&b, "[ENTER YOUR NAME]: ");
    buf_append_str (&b, "again");
    assert_holds (&b, "[ENTER YOUR NAME]: again", 24);
    buf_free (&b);
    assert_empty_freed (&b);
}

static void
fill_pattern (char *p, size_t n, size_t from)
{
    for (size_t i = 0; i < n; i++)
        p [i] = (char) ((from + i) * 7 % 251);
}

static void
test_large_append (void **state)
{
    (void) state;
    size_t n = 3 * 1024 * 1024 + 17;
    char  *big = malloc (n);
    assert_non_null (big);
    fill_pattern (big, n, 0);
    buf_t b;
    buf_init (&b);
    buf_append (&b, "x", 1);
    buf_append (&b, big, n);
    assert_int_equal (buf_size (&b), n + 1);
    assert_memory_equal (buf_head (&b) + 1, big, n);
    buf_consume (&b, 1);
    assert_memory_equal (buf_head (&b), big, n);
    buf_free (&b);
    free (big);
}

/*  Interleaved appends and consumes of many sizes, checked against the
    byte stream that went in: exercises sliding and growing.             */
static void
test_stream_integrity (void **state)
{
    (void) state;
    char  chunk [5000];
    buf_t b;
    buf_init (&b);
    size_t written = 0, read = 0;
    for (size_t round = 0; round < 3000; round++) {
        size_t n = (round * 37) % sizeof chunk;
        fill_pattern (chunk, n, written);
        buf_append (&b, chunk, n);
        written += n;
        size_t take = (round * 53) % (buf_size (&b) + 1);
        char   want [sizeof chunk * 2];
        if (take > sizeof want)
            take = sizeof want;
        fill_pattern (want, take, read);
        if (take)
            assert_memory_equal (buf_head (&b), want, take);
        buf_consume (&b, take);
        read += take;
        assert_int_equal (buf_size (&b), written - read);
    }
    buf_free (&b);
}

static void
test_growth_is_geometric (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    size_t      moves = 0;
    const char *last = NULL;
    for (size_t i = 0; i < 1000000; i++) {
        buf_append (&b, "z", 1);
        if (b.data != last)
            moves++;
        last = b.data;
    }
    assert_int_equal (buf_size (&b), 1000000);
    assert_in_range (moves, 1, 20);
    assert_true (b.cap < 2 * 1000000 + 64);
    buf_free (&b);
}

/*  A fresh buffer holding size 'a's, as block does.                    */
static void
init_with_block (buf_t *b, char *block, size_t size)
{
    buf_init (b);
    memset (block, 'a', size);
    buf_append (b, block, size);
}

/*  A steady stream through a queue of constant size settles at a fixed
    capacity instead of growing.                                         */
static void
test_steady_stream_stays_bounded (void **state)
{
    (void) state;
    buf_t b;
    char  block [1000];
    init_with_block (&b, block, sizeof block);
    for (int i = 0; i < 10000; i++) {
        buf_consume (&b, 100);
        memset (block, 'b' + i % 20, 100);
        buf_append (&b, block, 100);
        assert_int_equal (buf_size (&b), 1000);
        assert_true (b.cap <= 2048);
    }
    assert_memory_equal (buf_head (&b) + 900, block, 100);
    buf_free (&b);
}

/*  When most of the storage is consumed, the unread bytes slide to the
    front rather than the storage growing.                               */
static void
test_reuses_consumed_space (void **state)
{
    (void) state;
    buf_t b;
    char  block [1000];
    init_with_block (&b, block, sizeof block);
    size_t      cap = b.cap;
    const char *data = b.data;
    buf_consume (&b, 900);
    memset (block, 'b', 200);
    buf_append (&b, block, 200);
    assert_int_equal (b.cap, cap);
    assert_ptr_equal (b.data, data);
    assert_int_equal (b.off, 0);
    assert_int_equal (buf_size (&b), 300);
    assert_memory_equal (buf_head (&b), "aaaa", 4);
    assert_memory_equal (buf_head (&b) + 100, block, 200);
    buf_free (&b);
}

/*  buf_clear empties but keeps the storage, which the next appends reuse. */
static void
test_clear_keeps_storage (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    buf_append_str (&b, "hello, world");
    char  *storage = b.data;
    size_t cap = b.cap;
    buf_consume (&b, 5);
    buf_clear (&b);
    assert_int_equal (buf_size (&b), 0);
    assert_ptr_equal (b.data, storage);
    assert_int_equal (b.cap, cap);
    buf_append_str (&b, "again");
    assert_ptr_equal (b.data, storage);
    assert_memory_equal (buf_head (&b), "again", 5);
    buf_free (&b);
    assert_empty_freed (&b);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_init_is_empty),
        cmocka_unit_test (test_append_then_consume),
        cmocka_unit_test (test_consume_to_empty_frees),
        cmocka_unit_test (test_append_nothing_allocates_nothing),
        cmocka_unit_test (test_append_str),
        cmocka_unit_test (test_large_append),
        cmocka_unit_test (test_stream_integrity),
        cmocka_unit_test (test_growth_is_geometric),
        cmocka_unit_test (test_steady_stream_stays_bounded),
        cmocka_unit_test (test_reuses_consumed_space),
        cmocka_unit_test (test_clear_keeps_storage),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
