/* SPDX-License-Identifier: MIT */
/*  actor: a zactor started and stopped with every failure checked.

    CZMQ 4.2.1's zactor_new ignores pthread_create's result and asserts
    that its pipe's sockets were made (zsock_new itself asserts), so at
    the thread limit it waits forever for a signal that never comes, and
    out of descriptors it aborts. actor_new first checks that a few
    descriptors are free (EMFILE if not), then keeps zactor's pipe
    protocol (the actor function
    gets a PAIR pipe, signals when ready, ends on "$TERM"; a last signal
    follows when it returns) and reports each failure instead:

        actor_t *actor = actor_new (room_actor, args);
        if (!actor)                 //  errno: EAGAIN, EMFILE, ECHILD...
            ...
        zsock_send / zsock_recv on actor_sock (actor)
        actor_destroy (&actor);     //  $TERM, then waits for the end

    An actor that signals a non-zero status as its first signal did not
    start: actor_new returns NULL (errno ECHILD) once the actor has
    returned. actor_stop bounds the wait: an actor stuck in the kernel
    (a write to a frozen disk) is left to finish on its own.             */
#ifndef TCPCHAT_ACTOR_H
#define TCPCHAT_ACTOR_H

#include <czmq.h>
#include <stdbool.h>

typedef struct actor_t actor_t;

/*  Starts fn (pipe, args) in a thread of its own and waits for its first
    signal. args passes to the actor, which owns it from then on; if the
    thread cannot be started, actor_new frees args with free(). NULL with
    errno set when the pipe, the thread or the actor itself failed.      */
actor_t *actor_new (zactor_fn fn, void *args);

/*  The same with hwm messages at most queued at each end of the pipe
    (0: ZeroMQ's default, 1000), for a pipe that is a bounded queue.     */
actor_t *actor_new_capped (zactor_fn fn, void *args, int hwm);

/*  Sends $TERM and waits for the actor's last signal, as zactor_destroy. */
void actor_destroy (actor_t **self_p);

/*  Sends $TERM and waits at most timeout_ms for the actor's last signal.
    true: it ended. false: it did not, and runs on detached: it owns its
    end of the pipe and frees it when it returns. Either way *self_p is
    freed and set to NULL.                                               */
bool actor_stop (actor_t **self_p, int timeout_ms);

/*  Sends $TERM now, without waiting (to stop many actors at once): then
    actor_stop or actor_destroy collect them.                            */
void actor_term (actor_t *self);

/*  Our end of the pipe.                                                 */
zsock_t *actor_sock (actor_t *self);

#endif
