/* SPDX-License-Identifier: MIT */
/*  messages: building and reading the actors' messages.  */
#include "messages.h"

#include <string.h>

//  ThreadSanitizer cannot see inside libzmq, so it cannot see that a
//  frame built by one actor is handed over, not shared, when another
//  actor receives it. Tell it: every send releases and every receive
//  acquires on one process-wide address (CZMQ's context).
#if defined (__SANITIZE_THREAD__)
void __tsan_acquire (void *addr);
void __tsan_release (void *addr);
#   define HANDOFF_SEND()    __tsan_release (zsys_init ())
#   define HANDOFF_RECEIVE() __tsan_acquire (zsys_init ())
#else
#   define HANDOFF_SEND()
#   define HANDOFF_RECEIVE()
#endif

zmsg_t *
msg_new (const char *type, uint64_t id)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, type);
    zmsg_addmem (msg, &id, sizeof id);
    return msg;
}

void
msg_add (zmsg_t *msg, const void *data, size_t size)
{
    zmsg_addmem (msg, data, size);
}

void
msg_add_str (zmsg_t *msg, const char *text)
{
    zmsg_addmem (msg, text, strlen (text));
}

int
msg_send (zmsg_t **msg_p, zsock_t *dest)
{
    HANDOFF_SEND ();
    int rc = zmsg_send (msg_p, dest);
    if (rc != 0)
        zmsg_destroy (msg_p);
    return rc;
}

zmsg_t *
msg_recv (zsock_t *source)
{
    zmsg_t *msg = zmsg_recv (source);
    HANDOFF_RECEIVE ();
    return msg;
}

int
msg_send_text (zsock_t *dest, const char *type, uint64_t id,
               const char *text, size_t size)
{
    zmsg_t *msg = msg_new (type, id);
    msg_add (msg, text, size);
    return msg_send (&msg, dest);
}

int
msg_send_id (zsock_t *dest, const char *type, uint64_t id)
{
    zmsg_t *msg = msg_new (type, id);
    return msg_send (&msg, dest);
}

bool
msg_parse (zmsg_t *msg, msg_view_t *view)
{
    memset (view, 0, sizeof *view);
    zframe_t *frame = zmsg_first (msg);
    if (!frame || zframe_size (frame) >= sizeof view->type)
        return false;
    memcpy (view->type, zframe_data (frame), zframe_size (frame));
    frame = zmsg_next (msg);
    if (!frame)
        return true;                    //  A bare command such as $TERM
    if (zframe_size (frame) != sizeof view->id)
        return false;
    memcpy (&view->id, zframe_data (frame), sizeof view->id);
    while ((frame = zmsg_next (msg)) && view->parts < MSG_MAX_PARTS) {
        view->part [view->parts].data = (const char *) zframe_data (frame);
        view->part [view->parts].size = zframe_size (frame);
        view->parts++;
    }
    return true;
}

bool
msg_is (const msg_view_t *view, const char *type)
{
    return strcmp (view->type, type) == 0;
}

char *
msg_strdup (const msg_view_t *view, size_t i)
{
    if (i >= view->parts)
        return strdup ("");
    return strndup (view->part [i].data, view->part [i].size);
}

zsock_t *
msg_pipe_new (const char *endpoint, bool bind)
{
    zsock_t *sock = zsock_new (ZMQ_PAIR);
    if (!sock) {
        errno = EMFILE;
        return NULL;
    }
    zsock_set_sndhwm (sock, MSG_PIPE_HWM);
    zsock_set_rcvhwm (sock, MSG_PIPE_HWM);
    zsock_set_linger (sock, MSG_PIPE_LINGER_MS);
    int rc = bind? zsock_bind (sock, "%s", endpoint): zsock_connect (sock, "%s", endpoint);
    if (rc != 0) {
        int error = zmq_errno ();
        zsock_destroy (&sock);
        errno = error;
        return NULL;
    }
    return sock;
}
