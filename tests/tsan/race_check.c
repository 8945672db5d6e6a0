/* SPDX-License-Identifier: MIT */
/*  race_check: can ThreadSanitizer still see a race between two actors?

    libzmq's pipes are invisible to TSan, so src/messages.c tells it that
    a message is handed over: the sender releases on the message, the
    receiver acquires on it. Told too broadly (one address for every
    message, as it once was), a receive orders its thread after EVERY
    earlier send in the process, and a real race between two actors that
    merely straddles some unrelated message goes unseen. Two runs:

      racy    A writes s_shared, then sends a message to B, which never
              reads it. D waits until A has sent (told by a relaxed
              atomic, which orders nothing for TSan), then sends C a
              message; C receives it and reads s_shared. Nothing orders
              A's write before C's read: TSan must report the race.
      handed  A writes s_shared, then sends C a message; C receives it
              and reads s_shared. The message hands s_shared over: TSan
              must report nothing (and, without the annotation, would).

    Built with -fsanitize=thread by `make check-tsan-race`, which passes
    only if both runs come out that way (tests/tsan/race_check.sh).      */
#include <czmq.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include "messages.h"

#define WAIT_MS 5000 /* every wait is bounded */

static int        s_shared; /* the plain variable two actors touch */
static atomic_int s_a_sent; /* relaxed only: real order, no TSan order */

//  A: writes s_shared, then sends one message on its socket.
static void *
s_actor_a (void *arg)
{
    zsock_t *out = (zsock_t *) arg;
    s_shared = 42;
    zmsg_t *msg = msg_new_line (1, "from A", 6);
    if (msg_send (&msg, out) != 0)
        fprintf (stderr, "race_check: A could not send\n");
    atomic_store_explicit (&s_a_sent, 1, memory_order_relaxed);
    return NULL;
}

//  Until A has sent, in real time only: TSan sees no order in it.
static void
s_wait_for_a (void)
{
    for (int waited = 0; !atomic_load_explicit (&s_a_sent, memory_order_relaxed); waited++) {
        if (waited == WAIT_MS) {
            fprintf (stderr, "race_check: A never sent\n");
            return;
        }
        zclock_sleep (1);
    }
}

//  D: once A has sent, sends C a message that has nothing to do with it.
static void *
s_actor_d (void *arg)
{
    zsock_t *out = (zsock_t *) arg;
    s_wait_for_a ();
    zmsg_t *msg = msg_new_line (2, "from D", 6);
    if (msg_send (&msg, out) != 0)
        fprintf (stderr, "race_check: D could not send\n");
    return NULL;
}

//  A PAIR pair on endpoint: *out bound, *in connected.
static void
s_pair (const char *name, zsock_t **out, zsock_t **in)
{
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "@inproc://race-check-%s", name);
    *out = zsock_new_pair (endpoint);
    endpoint [0] = '>';
    *in = zsock_new_pair (endpoint);
    assert (*out && *in);
    zsock_set_sndtimeo (*out, WAIT_MS);
    zsock_set_rcvtimeo (*in, WAIT_MS);
}

int
main (int argc, char *argv [])
{
    bool racy = argc == 2 && streq (argv [1], "racy");
    if (argc != 2 || (!racy && !streq (argv [1], "handed"))) {
        fprintf (stderr, "usage: race_check racy|handed\n");
        return 2;
    }
    zsock_t *a_out, *b_in, *d_out, *c_in;
    s_pair ("b", &a_out, &b_in);
    s_pair ("c", &d_out, &c_in);
    pthread_t a, d;
    //  Racy: A talks to B, D to C. Handed: A talks to C itself.
    pthread_create (&a, NULL, s_actor_a, racy ? a_out : d_out);
    //  Handed: C receives only once A's message is in the pipe, so C
    //  never sleeps in libzmq. A receiver that sleeps is woken through a
    //  descriptor, which TSan sees as an order of its own: without that
    //  wait, a hand-off with no annotation at all would pass unreported.
    if (racy)
        pthread_create (&d, NULL, s_actor_d, d_out);
    else
        s_wait_for_a ();
    zmsg_t *msg = msg_recv (c_in);
    if (!msg) {
        fprintf (stderr, "race_check: C got nothing within %d ms\n", WAIT_MS);
        return 1;
    }
    int seen = s_shared;
    zmsg_destroy (&msg);
    pthread_join (a, NULL);
    if (racy)
        pthread_join (d, NULL);
    printf ("race_check %s: C read %d\n", argv [1], seen);
    zsock_destroy (&a_out);
    zsock_destroy (&b_in);
    zsock_destroy (&d_out);
    zsock_destroy (&c_in);
    return 0;
}
