/* SPDX-License-Identifier: MIT */
/*  Unit tests for bucket: the --rate token bucket.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "bucket.h"

//  Sends lines at now_ms until the bucket says no; how many went.
static int
s_lines_until_refused (bucket_t *bucket, int rate, int64_t now_ms, int64_t *resume_at)
{
    int lines = 0;
    while (lines < 1000 && bucket_ready (bucket, rate, now_ms, resume_at)) {
        bucket_spend (bucket, rate);
        lines++;
    }
    return lines;
}

static void
test_no_rate_never_refuses (void **state)
{
    (void) state;
    bucket_t bucket;
    bucket_init (&bucket, 0, 0);
    int64_t resume_at = -1;
    assert_int_equal (s_lines_until_refused (&bucket, 0, 0, &resume_at), 1000);
    assert_int_equal (resume_at, -1);
}

static void
test_full_bucket_takes_a_burst_of_twice_the_rate (void **state)
{
    (void) state;
    bucket_t bucket;
    bucket_init (&bucket, 5, 1000);
    int64_t resume_at = 0;
    assert_int_equal (s_lines_until_refused (&bucket, 5, 1000, &resume_at), 10);
    //  Empty: one line's worth (1000 tokens) at 5 tokens a ms is 200 ms.
    assert_int_equal (resume_at, 1200);
}

static void
test_refills_with_the_clock (void **state)
{
    (void) state;
    bucket_t bucket;
    bucket_init (&bucket, 2, 0);
    int64_t resume_at = 0;
    assert_int_equal (s_lines_until_refused (&bucket, 2, 0, &resume_at), 4);
    assert_int_equal (resume_at, 500);
    assert_false (bucket_ready (&bucket, 2, 499, &resume_at));
    assert_int_equal (resume_at, 500);
    assert_int_equal (s_lines_until_refused (&bucket, 2, 500, &resume_at), 1);
    assert_int_equal (resume_at, 1000);
}

static void
test_never_fills_past_the_burst (void **state)
{
    (void) state;
    bucket_t bucket;
    bucket_init (&bucket, 3, 0);
    int64_t resume_at = 0;
    //  An hour idle still gives only the burst.
    assert_int_equal (s_lines_until_refused (&bucket, 3, 3600 * 1000, &resume_at), 6);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_no_rate_never_refuses),
        cmocka_unit_test (test_full_bucket_takes_a_burst_of_twice_the_rate),
        cmocka_unit_test (test_refills_with_the_clock),
        cmocka_unit_test (test_never_fills_past_the_burst),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
