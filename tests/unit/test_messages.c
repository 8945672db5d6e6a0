/* SPDX-License-Identifier: MIT */
/*  Unit tests for messages: building, sending and reading [type][id][...]
    messages through a real inproc PAIR pair.                            */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "messages.h"

#define WAIT_MS 5000            /* every receive is bounded */

static zsock_t *s_bound;        /* "@inproc://..." */
static zsock_t *s_connected;    /* ">inproc://..." */

static int pair_setup (void **state)
{
    (void) state;
    static unsigned seq;
    char endpoint [96];
    snprintf (endpoint, sizeof endpoint, "@inproc://test-messages-%d-%u", (int) getpid (), ++seq);
    s_bound = zsock_new_pair (endpoint);
    endpoint [0] = '>';
    s_connected = zsock_new_pair (endpoint);
    if (!s_bound || !s_connected)
        return -1;
    zsock_set_rcvtimeo (s_bound, WAIT_MS);
    zsock_set_rcvtimeo (s_connected, WAIT_MS);
    zsock_set_sndtimeo (s_bound, WAIT_MS);
    zsock_set_sndtimeo (s_connected, WAIT_MS);
    return 0;
}

static int pair_teardown (void **state)
{
    (void) state;
    zsock_destroy (&s_bound);
    zsock_destroy (&s_connected);
    return 0;
}

/*  Receives one message (failing on timeout).                           */
static zmsg_t *recv_or_fail (zsock_t *sock)
{
    zmsg_t *msg = msg_recv (sock);
    if (!msg)
        fail_msg ("no message within %d ms", WAIT_MS);
    return msg;
}

static void assert_part (const msg_view_t *view, size_t i, const void *data, size_t size)
{
    assert_true (i < view->parts);
    assert_int_equal (view->part [i].size, size);
    if (size)
        assert_memory_equal (view->part [i].data, data, size);
}

static void assert_frame (zframe_t *frame, const void *data, size_t size)
{
    assert_non_null (frame);
    assert_int_equal (zframe_size (frame), size);
    if (size)
        assert_memory_equal (zframe_data (frame), data, size);
}

/* ------------------------------------------------------------------ */

static void test_round_trip (void **state)
{
    (void) state;
    const uint64_t id = 0x100000001ULL;
    const char binary [] = { 'a', 0, 'b', (char) 0xFF, 0 };      /* NULs inside */
    uint64_t ids [2] = { 0x100000002ULL, 0xFFFFFFFFFFFFFFFFULL };

    zmsg_t *msg = msg_new (MSG_OUT, id);
    assert_non_null (msg);
    msg_add (msg, binary, sizeof binary);
    msg_add (msg, ids, sizeof ids);
    msg_add_str (msg, "");
    assert_int_equal (msg_send (&msg, s_bound), 0);
    assert_null (msg);

    zmsg_t *got = recv_or_fail (s_connected);
    msg_view_t view;
    assert_true (msg_parse (got, &view));
    assert_string_equal (view.type, "OUT");
    assert_true (msg_is (&view, MSG_OUT));
    assert_false (msg_is (&view, MSG_ENTER));
    assert_false (msg_is (&view, "OU"));
    assert_true (view.id == id);
    assert_int_equal (view.parts, 3);
    assert_part (&view, 0, binary, sizeof binary);
    assert_part (&view, 1, ids, sizeof ids);
    assert_part (&view, 2, "", 0);
    zmsg_destroy (&got);

    //  The other way, with a text part and the largest id.
    msg = msg_new (MSG_ENTER, UINT64_MAX);
    msg_add_str (msg, "alice");
    msg_add_str (msg, "[2024-01-01 00:00:00][bob]:hi\n");
    assert_int_equal (msg_send (&msg, s_connected), 0);
    got = recv_or_fail (s_bound);
    assert_true (msg_parse (got, &view));
    assert_true (msg_is (&view, MSG_ENTER));
    assert_true (view.id == UINT64_MAX);
    assert_int_equal (view.parts, 2);
    assert_part (&view, 0, "alice", 5);
    assert_part (&view, 1, "[2024-01-01 00:00:00][bob]:hi\n", 30);
    zmsg_destroy (&got);
}

/*  The wire form: [type][8-byte id][payload...], nothing more.          */
static void test_wire_format (void **state)
{
    (void) state;
    const uint64_t id = 0x0102030405060708ULL;
    zmsg_t *msg = msg_new (MSG_LINE, id);
    msg_add_str (msg, "hello");
    assert_int_equal (msg_send (&msg, s_bound), 0);
    zmsg_t *got = recv_or_fail (s_connected);
    assert_int_equal (zmsg_size (got), 3);
    assert_frame (zmsg_first (got), "LINE", 4);
    assert_frame (zmsg_next (got), &id, sizeof id);
    assert_frame (zmsg_next (got), "hello", 5);
    zmsg_destroy (&got);
}

static void test_every_type_name_fits (void **state)
{
    (void) state;
    const char *types [] = {
        MSG_NAME, MSG_LINE, MSG_CMD, MSG_CLOSED, MSG_RELEASED, MSG_JOIN, MSG_LEAVE,
        MSG_SAY, MSG_USERS, MSG_RENAME, MSG_OUT, MSG_ENTER, MSG_REFUSE, MSG_RELEASE,
        MSG_LABEL, MSG_NOTICE, MSG_ATTACH, MSG_BYE,
    };
    for (size_t i = 0; i < sizeof types / sizeof types [0]; i++) {
        zmsg_t *msg = msg_new (types [i], i + 1);
        assert_int_equal (msg_send (&msg, s_bound), 0);
        zmsg_t *got = recv_or_fail (s_connected);
        msg_view_t view;
        assert_true (msg_parse (got, &view));
        assert_string_equal (view.type, types [i]);
        assert_true (msg_is (&view, types [i]));
        assert_true (view.id == i + 1);
        assert_int_equal (view.parts, 0);
        zmsg_destroy (&got);
    }
}

static void test_term_parses_with_id_zero (void **state)
{
    (void) state;
    assert_int_equal (zstr_send (s_bound, "$TERM"), 0);
    zmsg_t *got = recv_or_fail (s_connected);
    msg_view_t view;
    memset (&view, 0x5A, sizeof view);      /* parse must reset everything */
    assert_true (msg_parse (got, &view));
    assert_true (msg_is (&view, "$TERM"));
    assert_true (view.id == 0);
    assert_int_equal (view.parts, 0);
    zmsg_destroy (&got);
}

static void test_malformed_messages (void **state)
{
    (void) state;
    msg_view_t view;
    //  An id frame of the wrong size, shorter and longer, and empty.
    const size_t sizes [] = { 4, 9, 0, 7 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes [0]; i++) {
        char id [16] = { 0 };
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, MSG_LINE);
        zmsg_addmem (msg, id, sizes [i]);
        zmsg_addstr (msg, "text");
        assert_int_equal (zmsg_send (&msg, s_bound), 0);
        zmsg_t *got = recv_or_fail (s_connected);
        if (msg_parse (got, &view))
            fail_msg ("an id frame of %zu bytes was accepted", sizes [i]);
        zmsg_destroy (&got);
    }
    //  A type that does not fit the view.
    zmsg_t *msg = msg_new ("MUCHTOOLONGTYPE", 1);
    assert_int_equal (msg_send (&msg, s_bound), 0);
    zmsg_t *got = recv_or_fail (s_connected);
    assert_false (msg_parse (got, &view));
    zmsg_destroy (&got);

    //  No frames at all (never sent: a message must have one frame).
    zmsg_t *empty = zmsg_new ();
    assert_false (msg_parse (empty, &view));
    zmsg_destroy (&empty);
}

/*  A view holds MSG_MAX_PARTS parts: more never overflow it.            */
static void test_extra_parts_do_not_overflow (void **state)
{
    (void) state;
    zmsg_t *msg = msg_new (MSG_CMD, 5);
    char part [32];
    for (int i = 0; i < MSG_MAX_PARTS + 3; i++) {
        snprintf (part, sizeof part, "p%d", i);
        msg_add_str (msg, part);
    }
    assert_int_equal (msg_send (&msg, s_bound), 0);
    zmsg_t *got = recv_or_fail (s_connected);
    msg_view_t view;
    if (msg_parse (got, &view)) {
        assert_true (view.parts <= MSG_MAX_PARTS);
        for (size_t i = 0; i < view.parts; i++) {
            snprintf (part, sizeof part, "p%zu", i);
            assert_part (&view, i, part, strlen (part));
        }
    }
    zmsg_destroy (&got);
}

static void test_strdup (void **state)
{
    (void) state;
    zmsg_t *msg = msg_new (MSG_CMD, 77);
    msg_add_str (msg, "msg");
    msg_add_str (msg, "");
    msg_add (msg, "hello world, not NUL terminated", 11);
    assert_int_equal (msg_send (&msg, s_bound), 0);
    zmsg_t *got = recv_or_fail (s_connected);
    msg_view_t view;
    assert_true (msg_parse (got, &view));
    assert_int_equal (view.parts, 3);

    char *s = msg_strdup (&view, 0);
    assert_string_equal (s, "msg");
    free (s);
    s = msg_strdup (&view, 1);
    assert_string_equal (s, "");
    free (s);
    s = msg_strdup (&view, 2);
    assert_string_equal (s, "hello world");
    free (s);
    //  A part that is not there is an empty string, not NULL.
    s = msg_strdup (&view, 3);
    assert_non_null (s);
    assert_string_equal (s, "");
    free (s);
    s = msg_strdup (&view, 100);
    assert_non_null (s);
    assert_string_equal (s, "");
    free (s);
    zmsg_destroy (&got);
}

static void test_send_text_and_id (void **state)
{
    (void) state;
    const uint64_t id = 0x100000003ULL;
    assert_int_equal (msg_send_text (s_bound, MSG_SAY, id, "hi there\nand more", 8), 0);
    assert_int_equal (msg_send_id (s_bound, MSG_RELEASE, id + 1), 0);
    assert_int_equal (msg_send_text (s_bound, MSG_OUT, 0, "", 0), 0);

    zmsg_t *got = recv_or_fail (s_connected);
    assert_int_equal (zmsg_size (got), 3);
    msg_view_t view;
    assert_true (msg_parse (got, &view));
    assert_true (msg_is (&view, MSG_SAY));
    assert_true (view.id == id);
    assert_int_equal (view.parts, 1);
    assert_part (&view, 0, "hi there", 8);
    zmsg_destroy (&got);

    got = recv_or_fail (s_connected);
    assert_int_equal (zmsg_size (got), 2);
    assert_true (msg_parse (got, &view));
    assert_true (msg_is (&view, MSG_RELEASE));
    assert_true (view.id == id + 1);
    assert_int_equal (view.parts, 0);
    zmsg_destroy (&got);

    got = recv_or_fail (s_connected);
    assert_int_equal (zmsg_size (got), 3);
    assert_true (msg_parse (got, &view));
    assert_true (msg_is (&view, MSG_OUT));
    assert_true (view.id == 0);
    assert_int_equal (view.parts, 1);
    assert_int_equal (view.part [0].size, 0);
    zmsg_destroy (&got);
}

/*  Sending where no peer will ever take it: -1, and the message is gone
    (the sanitizer build checks that nothing leaks).                     */
static void test_send_failure_destroys (void **state)
{
    (void) state;
    static unsigned seq;
    char endpoint [96];
    snprintf (endpoint, sizeof endpoint, "@inproc://test-messages-lonely-%d-%u",
              (int) getpid (), ++seq);
    zsock_t *lonely = zsock_new_pair (endpoint);
    assert_non_null (lonely);
    zsock_set_sndtimeo (lonely, 0);
    zmsg_t *msg = msg_new (MSG_LINE, 9);
    msg_add_str (msg, "nobody hears this");
    msg_add_str (msg, "nor this");
    assert_int_equal (msg_send (&msg, lonely), -1);
    assert_null (msg);
    assert_int_equal (msg_send_text (lonely, MSG_SAY, 9, "x", 1), -1);
    assert_int_equal (msg_send_id (lonely, MSG_BYE, 0), -1);
    zsock_destroy (&lonely);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_round_trip, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown (test_wire_format, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown (test_every_type_name_fits, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown (test_term_parses_with_id_zero, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown (test_malformed_messages, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown (test_extra_parts_do_not_overflow, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown (test_strdup, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown (test_send_text_and_id, pair_setup, pair_teardown),
        cmocka_unit_test (test_send_failure_destroys),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
