/* SPDX-License-Identifier: MIT */
/*  sendq: a queue of messages in front of a pipe, so an actor never
    blocks on a full pipe (the gateways' queue to the hub).

    A message goes straight out (msg_send) when nothing waits and the
    pipe takes it (ZMQ_POLLOUT); else it joins the queue, and
    sendq_flush sends the queue, in order, while the pipe takes more.
    The queue has no bound of its own: the caller looks at sendq_size
    and stops taking work while it is too long.

    Looking at a pipe's events (zsock_events) may consume its wakeup for
    a message that came in: the caller that polls the pipe looks for
    ZMQ_POLLIN itself after calling either function.

    One owner: the actor that owns the pipe.                            */
#ifndef TCPCHAT_SENDQ_H
#define TCPCHAT_SENDQ_H

#include <czmq.h>

typedef struct _sendq_t sendq_t;

sendq_t *sendq_new (void);

/*  Destroys the messages still queued, then the queue; NULLs *self_p.  */
void sendq_destroy (sendq_t **self_p);

/*  Takes *msg_p: sends it to dest at once when the queue is empty and
    dest takes it without blocking, else queues it.                      */
void sendq_send (sendq_t *self, zmsg_t **msg_p, zsock_t *dest);

/*  Sends the queued messages to dest, oldest first, while dest takes
    them without blocking.                                               */
void sendq_flush (sendq_t *self, zsock_t *dest);

/*  The messages waiting.                                                */
size_t sendq_size (sendq_t *self);

#endif
