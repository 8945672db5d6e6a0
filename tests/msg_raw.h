/* SPDX-License-Identifier: MIT */
/*  msg_raw: messages built frame by frame, for tests only.

    Actors build every message with its builder (messages.h). Tests also
    need the frames no builder makes: a part missing or one too many, a
    boolean that is neither "1" nor "0", an unknown type. These helpers
    send what they are given, unchecked; the parts are the caller's.     */
#ifndef TCPCHAT_TEST_MSG_RAW_H
#define TCPCHAT_TEST_MSG_RAW_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "messages.h"

/*  [type][id], type as given.                                           */
static inline zmsg_t *
msg_new_type (const char *type, uint64_t id)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, type);
    zmsg_addmem (msg, &id, sizeof id);
    return msg;
}

/*  [type][id], the type of kind.                                        */
static inline zmsg_t *
msg_new (msg_kind_t kind, uint64_t id)
{
    return msg_new_type (msg_spec (kind)->type, id);
}

static inline void
msg_add (zmsg_t *msg, const void *data, size_t size)
{
    zmsg_addmem (msg, data, size);
}

static inline void
msg_add_str (zmsg_t *msg, const char *text)
{
    zmsg_addmem (msg, text, strlen (text));
}

/*  [type][id][text] and [type][id].                                     */
static inline int
msg_send_text (zsock_t *dest, msg_kind_t kind, uint64_t id, const char *text, size_t size)
{
    zmsg_t *msg = msg_new (kind, id);
    msg_add (msg, text, size);
    return msg_send (&msg, dest);
}

static inline int
msg_send_id (zsock_t *dest, msg_kind_t kind, uint64_t id)
{
    zmsg_t *msg = msg_new (kind, id);
    return msg_send (&msg, dest);
}

static inline bool
msg_is (const msg_view_t *view, msg_kind_t kind)
{
    return view->kind == kind;
}

#endif
