/* SPDX-License-Identifier: MIT */
/*  sendq: a queue of messages in front of a pipe. See sendq.h.         */
#include "sendq.h"
#include "messages.h"
#include "mem.h"

struct _sendq_t {
    zlist_t *msgs; /* zmsg_t, oldest first */
};

sendq_t *
sendq_new (void)
{
    sendq_t *self = (sendq_t *) mem_zalloc (1, sizeof (sendq_t));
    self->msgs = zlist_new ();
    return self;
}

void
sendq_destroy (sendq_t **self_p)
{
    sendq_t *self = *self_p;
    if (!self)
        return;
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlist_pop (self->msgs)))
        zmsg_destroy (&msg);
    zlist_destroy (&self->msgs);
    free (self);
    *self_p = NULL;
}

void
sendq_send (sendq_t *self, zmsg_t **msg_p, zsock_t *dest)
{
    if (zlist_size (self->msgs) == 0 && (zsock_events (dest) & ZMQ_POLLOUT))
        msg_send (msg_p, dest);
    else {
        zlist_append (self->msgs, *msg_p);
        *msg_p = NULL;
    }
}

void
sendq_flush (sendq_t *self, zsock_t *dest)
{
    while (zlist_size (self->msgs) && (zsock_events (dest) & ZMQ_POLLOUT)) {
        zmsg_t *msg = (zmsg_t *) zlist_pop (self->msgs);
        msg_send (&msg, dest);
    }
}

size_t
sendq_size (sendq_t *self)
{
    return zlist_size (self->msgs);
}
