/* SPDX-License-Identifier: MIT */
/*  Unit tests for origin: the /ws handshake's Origin check.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "origin.h"

static void
test_no_origin_is_not_a_browser (void **state)
{
    (void) state;
    assert_true (origin_allowed (NULL, "127.0.0.1:8080", ""));
    assert_true (origin_allowed (NULL, NULL, ""));
}

static void
test_the_serving_host_either_scheme (void **state)
{
    (void) state;
    assert_true (origin_allowed ("http://127.0.0.1:8080", "127.0.0.1:8080", ""));
    assert_true (origin_allowed ("https://chat.example.org", "chat.example.org", ""));
    assert_true (origin_allowed ("HTTP://Chat.Example.org", "chat.example.ORG", ""));
    assert_true (origin_allowed ("http://[::1]:8080", "[::1]:8080", ""));
}

static void
test_another_site_is_refused (void **state)
{
    (void) state;
    assert_false (origin_allowed ("http://evil.example", "127.0.0.1:8080", ""));
    //  Same host, another port: another origin.
    assert_false (origin_allowed ("http://127.0.0.1:9090", "127.0.0.1:8080", ""));
    //  A prefix or a suffix of the host is not the host.
    assert_false (origin_allowed ("http://127.0.0.1:80800", "127.0.0.1:8080", ""));
    assert_false (origin_allowed ("http://127.0.0.1:808", "127.0.0.1:8080", ""));
    assert_false (origin_allowed ("ws://127.0.0.1:8080", "127.0.0.1:8080", ""));
    assert_false (origin_allowed ("http:/127.0.0.1:8080", "127.0.0.1:8080", ""));
    assert_false (origin_allowed ("null", "127.0.0.1:8080", ""));
    assert_false (origin_allowed ("", "127.0.0.1:8080", ""));
    //  Without a Host only the list counts.
    assert_false (origin_allowed ("http://127.0.0.1:8080", NULL, ""));
    assert_false (origin_allowed ("http://", "", ""));
}

static void
test_listed_origins (void **state)
{
    (void) state;
    const char *list = "https://chat.example.org, http://localhost:3000 ,https://b.example/";
    assert_true (origin_allowed ("https://chat.example.org", "10.0.0.1:8080", list));
    assert_true (origin_allowed ("http://localhost:3000", "10.0.0.1:8080", list));
    assert_true (origin_allowed ("https://b.example", "10.0.0.1:8080", list));
    assert_false (origin_allowed ("http://chat.example.org", "10.0.0.1:8080", list));
    assert_false (origin_allowed ("https://chat.example", "10.0.0.1:8080", list));
    assert_false (origin_allowed ("https://chat.example.org.evil", "10.0.0.1:8080", list));
    //  Empty entries match nothing.
    assert_false (origin_allowed ("", "10.0.0.1:8080", ",,"));
    assert_false (origin_allowed (" ", "10.0.0.1:8080", " , "));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_no_origin_is_not_a_browser),
        cmocka_unit_test (test_the_serving_host_either_scheme),
        cmocka_unit_test (test_another_site_is_refused),
        cmocka_unit_test (test_listed_origins),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
