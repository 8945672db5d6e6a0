/* SPDX-License-Identifier: MIT */
/*  actor: zactor with every failure checked. See actor.h.

    The pipe is made exactly as zsys_create_pipe makes it (two PAIRs over
    a unique inproc endpoint, linger 0), but each step is checked, and
    pthread_create's result is too: a failed start is an answer the
    caller can pass on ("Cannot create that room now."), not a wait or
    an abort. The thread is detached, as zactor's, and says it ended with
    a last signal on its pipe, so a stop can be bounded by a receive
    timeout instead of a join.                                           */
#include "actor.h"
#include "endpoints.h"
#include "mem.h"

#include <errno.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdlib.h>

//  Checked free before a start: the pipe's two sockets, two sockets of
//  the actor's own (a room's output pipe and the gateway's end of it).
#define ACTOR_FDS 4

struct actor_t {
    zsock_t *pipe; /* our end */
    bool     term_sent;
};

typedef struct {
    zsock_t   *pipe; /* the actor's end */
    zactor_fn *fn;
    void      *args;
} shim_t;

static void *
s_thread (void *arg)
{
    shim_t *shim = (shim_t *) arg;
    shim->fn (shim->pipe, shim->args);
    //  Whoever started us may have stopped waiting: never block on it.
    zsock_set_sndtimeo (shim->pipe, 0);
    zsock_signal (shim->pipe, 0);
    zsock_destroy (&shim->pipe);
    free (shim);
    return NULL;
}

//  CZMQ 4.2.1's zsock_new asserts that it got a socket, and each ZeroMQ
//  socket takes a descriptor (its mailbox's eventfd). So first check that
//  count descriptors are there: an eventfd each, closed at once (close is
//  synchronous; a ZeroMQ socket's is not). Another thread can still take
//  them between this check and the sockets; the server's descriptor
//  budget (main.c) is what keeps that from happening.
static bool
s_descriptors_free (int count)
{
    int fds [ACTOR_FDS];
    int made = 0;
    while (made < count && (fds [made] = eventfd (0, EFD_CLOEXEC)) >= 0)
        made++;
    int error = errno;
    for (int i = 0; i < made; i++)
        close (fds [i]);
    if (made < count) {
        errno = error;
        return false;
    }
    return true;
}

//  Both ends, or neither (errno set).
static bool
s_pipe_new (zsock_t **ours, zsock_t **theirs, int hwm)
{
    static atomic_uint seq;
    char               endpoint [ENDPOINT_MAX];
    snprintf (endpoint, sizeof endpoint, "inproc://actor-%p-%u", (void *) ours,
              atomic_fetch_add (&seq, 1));
    *ours = zsock_new (ZMQ_PAIR);
    *theirs = *ours ? zsock_new (ZMQ_PAIR) : NULL;
    if (*theirs) {
        zsock_set_linger (*ours, 0);
        zsock_set_linger (*theirs, 0);
        if (hwm > 0) {
            zsock_set_sndhwm (*ours, hwm);
            zsock_set_rcvhwm (*ours, hwm);
            zsock_set_sndhwm (*theirs, hwm);
            zsock_set_rcvhwm (*theirs, hwm);
        }
        if (zsock_bind (*ours, "%s", endpoint) == 0 && zsock_connect (*theirs, "%s", endpoint) == 0)
            return true;
    }
    int error = zmq_errno () ? zmq_errno () : EMFILE;
    zsock_destroy (ours);
    zsock_destroy (theirs);
    errno = error;
    return false;
}

actor_t *
actor_new (zactor_fn fn, void *args)
{
    return actor_new_capped (fn, args, 0);
}

actor_t *
actor_new_capped (zactor_fn fn, void *args, int hwm)
{
    zsock_t *ours, *theirs;
    if (!s_descriptors_free (ACTOR_FDS) || !s_pipe_new (&ours, &theirs, hwm)) {
        free (args);
        return NULL;
    }
    shim_t  *shim = (shim_t *) mem_zalloc (1, sizeof (shim_t));
    actor_t *self = (actor_t *) mem_zalloc (1, sizeof (actor_t));
    shim->pipe = theirs;
    shim->fn = fn;
    shim->args = args;
    pthread_attr_t attr;
    pthread_t      thread;
    int            rc = pthread_attr_init (&attr);
    if (rc == 0) {
        pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
        rc = pthread_create (&thread, &attr, s_thread, shim);
        pthread_attr_destroy (&attr);
    }
    if (rc != 0) {
        free (shim);
        free (self);
        free (args);
        zsock_destroy (&ours);
        zsock_destroy (&theirs);
        errno = rc;
        return NULL;
    }
    self->pipe = ours;
    //  The thread has started: it will signal, whatever happens to it.
    if (zsock_wait (self->pipe) != 0) {
        //  It gave up: collect its last signal so it has let go of args.
        zsock_wait (self->pipe);
        zsock_destroy (&self->pipe);
        free (self);
        errno = ECHILD;
        return NULL;
    }
    return self;
}

void
actor_term (actor_t *self)
{
    if (self->term_sent)
        return;
    zsock_set_sndtimeo (self->pipe, 0);
    self->term_sent = zstr_send (self->pipe, "$TERM") == 0;
}

bool
actor_stop (actor_t **self_p, int timeout_ms)
{
    actor_t *self = *self_p;
    if (!self)
        return true;
    actor_term (self);
    zsock_set_rcvtimeo (self->pipe, timeout_ms);
    bool ended = zsock_wait (self->pipe) == 0;
    zsock_destroy (&self->pipe);
    free (self);
    *self_p = NULL;
    return ended;
}

void
actor_destroy (actor_t **self_p)
{
    actor_stop (self_p, -1);
}

zsock_t *
actor_sock (actor_t *self)
{
    return self->pipe;
}
