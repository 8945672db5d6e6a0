/* SPDX-License-Identifier: MIT */
/*  Unit tests for sendq: the queue in front of a pipe, over a real
    inproc PAIR pair with small high-water marks so the pipe fills.     */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <unistd.h>
#include "messages.h"
#include "sendq.h"

#define HWM      4
#define MESSAGES 100 /* many times what the pipe holds */

static zsock_t *s_sender;
static zsock_t *s_receiver;

static int
setup (void **state)
{
    (void) state;
    static unsigned seq;
    char            endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://test-sendq-%d-%u", (int) getpid (), ++seq);
    s_receiver = zsock_new (ZMQ_PAIR);
    s_sender = zsock_new (ZMQ_PAIR);
    assert_non_null (s_receiver);
    assert_non_null (s_sender);
    zsock_set_sndhwm (s_sender, HWM);
    zsock_set_rcvhwm (s_receiver, HWM);
    zsock_set_rcvtimeo (s_receiver, 5000);
    assert_int_equal (zsock_bind (s_receiver, "%s", endpoint), 0);
    assert_int_equal (zsock_connect (s_sender, "%s", endpoint), 0);
    return 0;
}

static int
teardown (void **state)
{
    (void) state;
    zsock_destroy (&s_sender);
    zsock_destroy (&s_receiver);
    return 0;
}

static zmsg_t *
s_numbered (int n)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstrf (msg, "%d", n);
    zmsg_addstr (msg, "second frame");
    return msg;
}

/*  The next message on the receiver is number n, both frames.          */
static void
s_expect (int n)
{
    zmsg_t *msg = zmsg_recv (s_receiver);
    assert_non_null (msg);
    assert_int_equal (zmsg_size (msg), 2);
    char *first = zmsg_popstr (msg);
    char *second = zmsg_popstr (msg);
    char  expected [16];
    snprintf (expected, sizeof expected, "%d", n);
    assert_string_equal (first, expected);
    assert_string_equal (second, "second frame");
    zstr_free (&first);
    zstr_free (&second);
    zmsg_destroy (&msg);
}

/*  With room in the pipe a message goes straight out: nothing queued.   */
static void
test_sends_at_once (void **state)
{
    (void) state;
    sendq_t *queue = sendq_new ();
    zmsg_t  *msg = s_numbered (1);
    sendq_send (queue, &msg, s_sender);
    assert_null (msg);
    assert_int_equal (sendq_size (queue), 0);
    s_expect (1);
    sendq_destroy (&queue);
    assert_null (queue);
}

/*  A full pipe: the rest queue, none is lost or reordered, and flushing
    as the receiver reads sends them all; once something waits, a new
    message queues behind it even when the pipe has room.               */
static void
test_queues_when_full_and_keeps_order (void **state)
{
    (void) state;
    sendq_t *queue = sendq_new ();
    for (int i = 0; i < MESSAGES; i++) {
        zmsg_t *msg = s_numbered (i);
        sendq_send (queue, &msg, s_sender);
        assert_null (msg);
    }
    size_t waiting = sendq_size (queue);
    assert_true (waiting > 0);
    assert_true (waiting < MESSAGES);
    //  The pipe emptied: room now, but a new message queues behind the rest.
    int sent = MESSAGES - (int) waiting;
    for (int next = 0; next < sent; next++)
        s_expect (next);
    assert_true (zsock_events (s_sender) & ZMQ_POLLOUT);
    zmsg_t *msg = s_numbered (MESSAGES);
    sendq_send (queue, &msg, s_sender);
    assert_int_equal (sendq_size (queue), waiting + 1);
    //  The receiver takes one at a time; each flush refills the pipe.
    for (int next = sent; next <= MESSAGES; next++) {
        sendq_flush (queue, s_sender);
        s_expect (next);
    }
    assert_int_equal (sendq_size (queue), 0);
    sendq_destroy (&queue);
}

/*  Destroying a queue destroys what it still holds (the sanitizer and
    valgrind builds see a leak otherwise); NULL is fine.                 */
static void
test_destroy_frees_queued (void **state)
{
    (void) state;
    sendq_t *queue = sendq_new ();
    for (int i = 0; i < MESSAGES; i++) {
        zmsg_t *msg = s_numbered (i);
        sendq_send (queue, &msg, s_sender);
    }
    assert_true (sendq_size (queue) > 0);
    sendq_destroy (&queue);
    assert_null (queue);
    sendq_destroy (&queue);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_sends_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown (test_queues_when_full_and_keeps_order, setup, teardown),
        cmocka_unit_test_setup_teardown (test_destroy_frees_queued, setup, teardown),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    zsys_shutdown ();
    return rc;
}
