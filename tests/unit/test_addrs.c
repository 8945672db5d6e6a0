/* SPDX-License-Identifier: MIT */
/*  Unit tests for addrs: the per-address budgets (--connect-rate,
    --max-per-address). The clock is passed in, so nothing here waits.   */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include "addrs.h"

static struct sockaddr_storage s_addr;

/*  "192.0.2.1", "2001:db8::1" or "::ffff:192.0.2.1" as a peer address.  */
static const struct sockaddr *
addr (const char *text)
{
    memset (&s_addr, 0, sizeof s_addr);
    struct sockaddr_in  *a4 = (struct sockaddr_in *) &s_addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) &s_addr;
    if (inet_pton (AF_INET, text, &a4->sin_addr) == 1)
        a4->sin_family = AF_INET;
    else {
        assert_int_equal (inet_pton (AF_INET6, text, &a6->sin6_addr), 1);
        a6->sin6_family = AF_INET6;
    }
    return (const struct sockaddr *) &s_addr;
}

static addrs_verdict_t
admit (addrs_t *addrs, const char *text, int64_t now, int32_t *handle)
{
    int32_t ignored;
    return addrs_admit (addrs, addr (text), now, handle ? handle : &ignored);
}

/*  --connect-rate 1: a burst of 60 at once, then one a second.          */
static void
test_rate_burst_then_steady (void **state)
{
    (void) state;
    addrs_t *addrs = addrs_new (1, 0, 10, 42);
    assert_true (addrs_enabled (addrs));
    int64_t now = 1000;
    for (int i = 0; i < 60; i++)
        assert_int_equal (admit (addrs, "192.0.2.1", now, NULL), ADDRS_OK);
    assert_int_equal (admit (addrs, "192.0.2.1", now, NULL), ADDRS_TOO_FAST);
    //  Another address has its own budget.
    assert_int_equal (admit (addrs, "192.0.2.2", now, NULL), ADDRS_OK);
    //  Refused attempts spend nothing they do not have: a second later,
    //  one more, and only one.
    assert_int_equal (admit (addrs, "192.0.2.1", now + 999, NULL), ADDRS_TOO_FAST);
    assert_int_equal (admit (addrs, "192.0.2.1", now + 1000, NULL), ADDRS_OK);
    assert_int_equal (admit (addrs, "192.0.2.1", now + 1000, NULL), ADDRS_TOO_FAST);
    //  A minute of quiet brings the whole burst back, and no more.
    now += 1000 + 600000;
    for (int i = 0; i < 60; i++)
        assert_int_equal (admit (addrs, "192.0.2.1", now, NULL), ADDRS_OK);
    assert_int_equal (admit (addrs, "192.0.2.1", now, NULL), ADDRS_TOO_FAST);
    addrs_destroy (&addrs);
    assert_null (addrs);
}

/*  --max-per-address 2: open connections, counted until released.      */
static void
test_max_open (void **state)
{
    (void) state;
    addrs_t *addrs = addrs_new (0, 2, 10, 42);
    int32_t  a, b, c;
    assert_int_equal (admit (addrs, "192.0.2.1", 0, &a), ADDRS_OK);
    assert_int_equal (admit (addrs, "192.0.2.1", 0, &b), ADDRS_OK);
    assert_int_equal (admit (addrs, "192.0.2.1", 0, &c), ADDRS_TOO_MANY);
    assert_int_equal (admit (addrs, "198.51.100.1", 0, NULL), ADDRS_OK);
    addrs_release (addrs, a);
    assert_int_equal (admit (addrs, "192.0.2.1", 0, &c), ADDRS_OK);
    assert_int_equal (admit (addrs, "192.0.2.1", 0, NULL), ADDRS_TOO_MANY);
    //  No rate: any number of attempts.
    for (int i = 0; i < 1000; i++)
        assert_int_equal (admit (addrs, "192.0.2.1", 0, NULL), ADDRS_TOO_MANY);
    addrs_release (addrs, b);
    addrs_release (addrs, c);
    addrs_release (addrs, -1); /* untracked: nothing */
    assert_int_equal (admit (addrs, "192.0.2.1", 0, NULL), ADDRS_OK);
    addrs_destroy (&addrs);
}

/*  Both off: nothing is tracked, everything admitted.                   */
static void
test_off (void **state)
{
    (void) state;
    addrs_t *addrs = addrs_new (0, 0, 10, 42);
    assert_false (addrs_enabled (addrs));
    int32_t handle = 7;
    for (int i = 0; i < 10000; i++)
        assert_int_equal (admit (addrs, "192.0.2.1", 0, &handle), ADDRS_OK);
    assert_int_equal (handle, -1);
    addrs_destroy (&addrs);
}

/*  Peers that are not IP (a test's AF_UNIX socket) are not budgeted.    */
static void
test_non_ip_is_not_tracked (void **state)
{
    (void) state;
    addrs_t        *addrs = addrs_new (1, 1, 10, 42);
    struct sockaddr unix_peer = {.sa_family = AF_UNIX};
    for (int i = 0; i < 1000; i++) {
        int32_t handle = 7;
        assert_int_equal (addrs_admit (addrs, &unix_peer, 0, &handle), ADDRS_OK);
        assert_int_equal (handle, -1);
    }
    addrs_destroy (&addrs);
}

/*  An IPv6 /64 is one address; the next /64 is another; an IPv4 client
    of a dual-stack socket (::ffff:a.b.c.d) is its IPv4 address.          */
static void
test_ipv6_counts_by_64 (void **state)
{
    (void) state;
    addrs_t *addrs = addrs_new (0, 2, 10, 42);
    assert_int_equal (admit (addrs, "2001:db8:1:2::1", 0, NULL), ADDRS_OK);
    assert_int_equal (admit (addrs, "2001:db8:1:2:ffff:ffff:ffff:ffff", 0, NULL), ADDRS_OK);
    assert_int_equal (admit (addrs, "2001:db8:1:2:abcd::9", 0, NULL), ADDRS_TOO_MANY);
    assert_int_equal (admit (addrs, "2001:db8:1:3::1", 0, NULL), ADDRS_OK);
    assert_int_equal (admit (addrs, "192.0.2.1", 0, NULL), ADDRS_OK);
    assert_int_equal (admit (addrs, "::ffff:192.0.2.1", 0, NULL), ADDRS_OK);
    assert_int_equal (admit (addrs, "192.0.2.1", 0, NULL), ADDRS_TOO_MANY);
    //  IPv4 addresses are not grouped: the neighbour is another.
    assert_int_equal (admit (addrs, "192.0.2.2", 0, NULL), ADDRS_OK);
    addrs_destroy (&addrs);
}

static void
test_format (void **state)
{
    (void) state;
    char out [64];
    addrs_format (addr ("192.0.2.7"), out, sizeof out);
    assert_string_equal (out, "192.0.2.7");
    addrs_format (addr ("::ffff:192.0.2.7"), out, sizeof out);
    assert_string_equal (out, "192.0.2.7");
    addrs_format (addr ("2001:db8:1:2:3:4:5:6"), out, sizeof out);
    assert_string_equal (out, "2001:db8:1:2::/64");
    addrs_format (addr ("::1"), out, sizeof out);
    assert_string_equal (out, "::/64");
}

/*  A sprayer of a million addresses: the table stays its size, every
    address with a connection open keeps its count, and a steady client
    keeps its budget (or, forgotten, gets a fresh one: never less).      */
static void
test_spraying_is_bounded (void **state)
{
    (void) state;
    addrs_t *addrs = addrs_new (1, 2, 10, 42);
    int32_t  pinned [10];
    char     text [64];
    for (int i = 0; i < 10; i++) {
        snprintf (text, sizeof text, "198.51.100.%d", i);
        assert_int_equal (admit (addrs, text, 0, &pinned [i]), ADDRS_OK);
        assert_int_equal (admit (addrs, text, 0, NULL), ADDRS_OK);
        assert_int_equal (admit (addrs, text, 0, NULL), ADDRS_TOO_MANY);
    }
    for (int i = 0; i < 1000000; i++) {
        snprintf (text, sizeof text, "2001:db8:%x:%x::1", i >> 16, i & 0xffff);
        int32_t handle;
        assert_int_equal (admit (addrs, text, i / 1000, &handle), ADDRS_OK);
        addrs_release (addrs, handle);
    }
    //  The ten still count their two connections each.
    for (int i = 0; i < 10; i++) {
        snprintf (text, sizeof text, "198.51.100.%d", i);
        assert_int_equal (admit (addrs, text, 1000, NULL), ADDRS_TOO_MANY);
        addrs_release (addrs, pinned [i]);
        assert_int_equal (admit (addrs, text, 1000, NULL), ADDRS_OK);
    }
    addrs_destroy (&addrs);
}

/*  Refusals are logged the first time, then once a minute with a count. */
static void
test_refusal_log_is_throttled (void **state)
{
    (void) state;
    addrs_t *addrs = addrs_new (1, 0, 10, 42);
    int32_t  handle;
    for (int i = 0; i < 60; i++)
        admit (addrs, "192.0.2.1", 1000, NULL);
    assert_int_equal (admit (addrs, "192.0.2.1", 1000, &handle), ADDRS_TOO_FAST);
    uint32_t count = 0;
    assert_true (addrs_log_refusal (addrs, handle, 1000, &count));
    assert_int_equal (count, 1);
    int      logged = 0;
    uint32_t total = 0;
    //  A reconnect loop, a hundred attempts a second for 150 s.
    for (int64_t now = 1000; now < 151000; now += 10) {
        if (admit (addrs, "192.0.2.1", now, &handle) != ADDRS_TOO_FAST)
            continue;
        if (addrs_log_refusal (addrs, handle, now, &count)) {
            logged++;
            total += count;
        }
    }
    assert_int_equal (logged, 2); /* at 61 s and 121 s */
    assert_true (total > 10000);
    addrs_destroy (&addrs);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_rate_burst_then_steady),
        cmocka_unit_test (test_max_open),
        cmocka_unit_test (test_off),
        cmocka_unit_test (test_non_ip_is_not_tracked),
        cmocka_unit_test (test_ipv6_counts_by_64),
        cmocka_unit_test (test_format),
        cmocka_unit_test (test_spraying_is_bounded),
        cmocka_unit_test (test_refusal_log_is_throttled),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
