/* SPDX-License-Identifier: MIT */
/*  Unit tests for protocol.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "protocol.h"

#define TS "[2023-11-14 22:13:20]"

static void use_timezone (const char *tz)
{
    assert_int_equal (setenv ("TZ", tz, 1), 0);
    tzset ();
}

static void expect_buf (buf_t *b, const char *want)
{
    size_t len = strlen (want);
    if (buf_size (b) != len || memcmp (buf_head (b), want, len) != 0)
        fail_msg ("got \"%.*s\", want \"%s\"", (int) buf_size (b),
                  buf_head (b) ? buf_head (b) : "", want);
    buf_free (b);
}

/*  Reads $TCPCHAT_TEST_DATA/name into a NUL-terminated string.          */
static char *read_data_file (const char *name, size_t *len)
{
    const char *dir = getenv ("TCPCHAT_TEST_DATA");
    if (!dir)
        dir = "tests/data";
    char path [4096];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "rb");
    if (!file)
        fail_msg ("cannot open %s (set TCPCHAT_TEST_DATA)", path);
    char *data = malloc (65536);
    assert_non_null (data);
    *len = fread (data, 1, 65535, file);
    data [*len] = '\0';
    fclose (file);
    return data;
}

static void test_banner_matches_file (void **state)
{
    (void) state;
    size_t len;
    char *file = read_data_file ("banner.txt", &len);
    assert_int_equal (strlen (PROTOCOL_BANNER), len);
    assert_memory_equal (PROTOCOL_BANNER, file, len);
    free (file);
}

static void test_banner_shape (void **state)
{
    (void) state;
    size_t lines = 0;
    for (const char *p = PROTOCOL_BANNER; *p; p++)
        lines += *p == '\n';
    assert_int_equal (lines, 17);
    size_t len = strlen (PROTOCOL_BANNER);
    assert_int_equal (PROTOCOL_BANNER [len - 1], '\n');
    assert_memory_equal (PROTOCOL_BANNER, "Welcome to TCP-Chat!\n", 21);
    assert_null (strstr (PROTOCOL_BANNER, " \n"));
}

static void test_fixed_texts (void **state)
{
    (void) state;
    assert_string_equal (PROTOCOL_NAME_PROMPT, "[ENTER YOUR NAME]: ");
    assert_string_equal (PROTOCOL_FULL, "Chat is full. Try again later.\n");
    assert_string_equal (PROTOCOL_TOO_LONG, "Message too long (max 4096 bytes).\n");
    assert_string_equal (PROTOCOL_USAGE, "[USAGE]: ./TCPChat $port\n");
    assert_int_equal (DEFAULT_PORT, 8989);
}

static void test_stamp_format (void **state)
{
    (void) state;
    char out [STAMP_SIZE];
    use_timezone ("UTC");
    stamp_format (0, out);
    assert_string_equal (out, "[1970-01-01 00:00:00]");
    stamp_format (1700000000, out);
    assert_string_equal (out, TS);
    assert_int_equal (strlen (out), STAMP_SIZE - 1);
    stamp_format (951782399, out);
    assert_string_equal (out, "[2000-02-28 23:59:59]");
    stamp_format (951782400 + 86400, out);
    assert_string_equal (out, "[2000-03-01 00:00:00]");
}

static void test_stamp_uses_local_time (void **state)
{
    (void) state;
    char out [STAMP_SIZE];
    use_timezone ("XYZ-2");         /* two hours east of UTC, no DST */
    stamp_format (1700000000, out);
    use_timezone ("UTC");
    assert_string_equal (out, "[2023-11-15 00:13:20]");
}

/*  stamp_now against stamp_format (time (NULL)), retried in the rare
    case that the clock ticks over between the two.                     */
static void test_stamp_now_fresh_cache (void **state)
{
    (void) state;
    use_timezone ("UTC");
    for (int attempt = 0; attempt < 5; attempt++) {
        stamp_cache_t cache;
        memset (&cache, 0, sizeof cache);
        time_t before = time (NULL);
        const char *stamp = stamp_now (&cache);
        time_t after = time (NULL);
        if (before != after)
            continue;
        char want [STAMP_SIZE];
        stamp_format (before, want);
        assert_ptr_equal (stamp, cache.text);
        assert_string_equal (stamp, want);
        assert_int_equal (cache.second, before);
        return;
    }
    fail_msg ("the clock kept ticking");
}

static void test_stamp_now_reuses_same_second (void **state)
{
    (void) state;
    for (int attempt = 0; attempt < 5; attempt++) {
        stamp_cache_t cache;
        time_t now = time (NULL);
        cache.second = now;
        strcpy (cache.text, "[cached]");
        const char *stamp = stamp_now (&cache);
        if (time (NULL) != now)
            continue;
        assert_string_equal (stamp, "[cached]");
        return;
    }
    fail_msg ("the clock kept ticking");
}

static void test_stamp_now_refreshes_stale (void **state)
{
    (void) state;
    use_timezone ("UTC");
    for (int attempt = 0; attempt < 5; attempt++) {
        stamp_cache_t cache;
        time_t now = time (NULL);
        cache.second = now - 1;
        strcpy (cache.text, "[stale]");
        const char *stamp = stamp_now (&cache);
        if (time (NULL) != now)
            continue;
        char want [STAMP_SIZE];
        stamp_format (now, want);
        assert_string_equal (stamp, want);
        assert_int_equal (cache.second, now);
        return;
    }
    fail_msg ("the clock kept ticking");
}

static void test_fmt_chat_line (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    assert_int_equal (fmt_chat_line (&b, TS, "alice", "hello there", 5), 0);
    expect_buf (&b, TS "[alice]:hello");
    assert_int_equal (fmt_chat_line (&b, TS, "bob", "", 0), 0);
    expect_buf (&b, TS "[bob]:");
}

static void test_fmt_prompt (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    assert_int_equal (fmt_prompt (&b, TS, "alice"), 0);
    expect_buf (&b, TS "[alice]:");
}

static void test_fmt_private (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    assert_int_equal (fmt_private (&b, TS, "alice", "bob", "psst, hi!", 9), 0);
    expect_buf (&b, "\n" TS "[alice -> bob]:psst, hi!\n");
}

static void test_fmt_notices (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    assert_int_equal (fmt_joined (&b, "alice"), 0);
    expect_buf (&b, "\nalice has joined our chat...\n");
    assert_int_equal (fmt_left (&b, "bob"), 0);
    expect_buf (&b, "\nbob has left our chat...\n");
    assert_int_equal (fmt_renamed (&b, "bob", "Robert"), 0);
    expect_buf (&b, "\nbob changed their name to Robert\n");
}

/*  Formatters append: a broadcast is queued after what is pending.      */
static void test_fmt_appends (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    assert_int_equal (fmt_prompt (&b, TS, "carol"), 0);
    assert_int_equal (fmt_joined (&b, "dave"), 0);
    assert_int_equal (fmt_chat_line (&b, TS, "dave", "yo", 2), 0);
    expect_buf (&b, TS "[carol]:" "\ndave has joined our chat...\n" TS "[dave]:yo");
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_banner_matches_file),
        cmocka_unit_test (test_banner_shape),
        cmocka_unit_test (test_fixed_texts),
        cmocka_unit_test (test_stamp_format),
        cmocka_unit_test (test_stamp_uses_local_time),
        cmocka_unit_test (test_stamp_now_fresh_cache),
        cmocka_unit_test (test_stamp_now_reuses_same_second),
        cmocka_unit_test (test_stamp_now_refreshes_stale),
        cmocka_unit_test (test_fmt_chat_line),
        cmocka_unit_test (test_fmt_prompt),
        cmocka_unit_test (test_fmt_private),
        cmocka_unit_test (test_fmt_notices),
        cmocka_unit_test (test_fmt_appends),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
