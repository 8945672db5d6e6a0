/* SPDX-License-Identifier: MIT */
/*  messages: every message the actors exchange, defined in one place.

    A message is [type][id][payload...]: type a short string frame, id the
    8-byte client id the gateway gave the connection (0 when the message
    is not about one client), then exactly the payload parts its kind
    has. The table in src/messages.c is the schema: for each kind its type
    string, its parts, who sends it to whom and what it means. Nothing
    else lists them.

    Sending: one builder per kind (msg_new_out, msg_new_leave, ...) makes
    the frames, msg_send sends them (or a queue holds them first); no
    caller builds frames by hand. Booleans travel as one byte, "1" or "0".

    Receiving: msg_recv, then msg_parse checks the message against the
    table once (known type, exact part count, 8-byte id, booleans "1" or
    "0") and sets view->kind, MSG_KINDS for a message it refuses. Each
    actor switches on view->kind with no default, so the compiler
    (-Wswitch) checks that every kind is handled where it is received:
    an actor lists its own kinds one by one, the others' by the MSG_FOR_*
    groups below, and those with MSG_KINDS go to msg_drop, which logs
    the message once as unexpected or refused.

    How to add a message: docs/ARCHITECTURE.md, "How to add a message". */
#ifndef TCPCHAT_MESSAGES_H
#define TCPCHAT_MESSAGES_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "log.h"

typedef enum {
    MSG_TERM, /* CZMQ's "$TERM": a type frame alone */
    MSG_NAME,
    MSG_LINE,
    MSG_CMD,
    MSG_NOTICE,
    MSG_CLOSED,
    MSG_RELEASED,
    MSG_JOIN,
    MSG_LEAVE,
    MSG_SAY,
    MSG_USERS,
    MSG_RENAME,
    MSG_OUT,
    MSG_ENTER,
    MSG_REFUSE,
    MSG_RELEASE,
    MSG_LABEL,
    MSG_ATTACH,
    MSG_BYE,
    MSG_PAUSE,
    MSG_RESUME,
    MSG_STORE,
    MSG_STORED,
    MSG_STATS,
    MSG_SCRAPE,
    MSG_METRICS,
    MSG_CLAIM,
    MSG_CLAIMED,
    MSG_UNCLAIM,
    MSG_ROOMS,
    MSG_ROOMLIST,
    MSG_PRIVATE,
    MSG_PRIVATED,
    MSG_DELIVER,
    MSG_FOLLOW,
    MSG_PUBLISH,
    MSG_UNSENT,
    MSG_ENTRIES,
    MSG_STATE,
    MSG_LINK,
    MSG_KINDS /* how many; a view's kind when unknown */
} msg_kind_t;

/*  Case labels of the kinds each actor receives, for the switches of the
    others (each of these goes to one actor only; LINE goes to the hub
    and then its room, $TERM to every actor, STORED to a room from its
    writer). A new kind joins its receiver's group: -Wswitch then asks
    the receiver alone to handle it.                                     */
#define MSG_FOR_HUB                                                                                \
    case MSG_NAME:                                                                                 \
    case MSG_CMD:                                                                                  \
    case MSG_NOTICE:                                                                               \
    case MSG_CLOSED:                                                                               \
    case MSG_RELEASED:                                                                             \
    case MSG_STATS:                                                                                \
    case MSG_SCRAPE:                                                                               \
    case MSG_CLAIMED:                                                                              \
    case MSG_ROOMLIST:                                                                             \
    case MSG_PRIVATED:                                                                             \
    case MSG_DELIVER:                                                                              \
    case MSG_LINK
#define MSG_FOR_ROOM                                                                               \
    case MSG_JOIN:                                                                                 \
    case MSG_LEAVE:                                                                                \
    case MSG_SAY:                                                                                  \
    case MSG_USERS:                                                                                \
    case MSG_RENAME:                                                                               \
    case MSG_UNSENT:                                                                               \
    case MSG_ENTRIES:                                                                              \
    case MSG_STATE
#define MSG_FOR_GATEWAY                                                                            \
    case MSG_OUT:                                                                                  \
    case MSG_ENTER:                                                                                \
    case MSG_REFUSE:                                                                               \
    case MSG_RELEASE:                                                                              \
    case MSG_LABEL:                                                                                \
    case MSG_ATTACH:                                                                               \
    case MSG_BYE:                                                                                  \
    case MSG_PAUSE:                                                                                \
    case MSG_RESUME
#define MSG_FOR_WRITER case MSG_STORE
/*  The cluster actor's (include/cluster.h): from the hub and the rooms.
    It also takes BYE, a room's last word on its cluster pipe, by hand. */
#define MSG_FOR_CLUSTER                                                                            \
    case MSG_CLAIM:                                                                                \
    case MSG_UNCLAIM:                                                                              \
    case MSG_ROOMS:                                                                                \
    case MSG_PRIVATE:                                                                              \
    case MSG_FOLLOW:                                                                               \
    case MSG_PUBLISH
/*  The web gateway's own kinds, besides every MSG_FOR_GATEWAY kind (its
    switch lists those one by one, as the TCP gateway's does).           */
#define MSG_FOR_WEB case MSG_METRICS
/*  The kinds an actor never receives, MSG_KINDS (refused) included: the
    label of its switch's case that goes to msg_drop.                    */
// clang-format off
#define MSG_NOT_FOR_HUB     MSG_FOR_ROOM: MSG_FOR_GATEWAY: MSG_FOR_WRITER: MSG_FOR_WEB: MSG_FOR_CLUSTER: case MSG_KINDS
#define MSG_NOT_FOR_ROOM    MSG_FOR_HUB: MSG_FOR_GATEWAY: MSG_FOR_WRITER: MSG_FOR_WEB: MSG_FOR_CLUSTER: case MSG_KINDS
#define MSG_NOT_FOR_GATEWAY MSG_FOR_HUB: MSG_FOR_ROOM: MSG_FOR_WRITER: MSG_FOR_WEB: MSG_FOR_CLUSTER: case MSG_KINDS
#define MSG_NOT_FOR_WRITER  MSG_FOR_HUB: MSG_FOR_ROOM: MSG_FOR_GATEWAY: MSG_FOR_WEB: MSG_FOR_CLUSTER: case MSG_KINDS
/*  The web gateway lists MSG_FOR_GATEWAY's kinds and MSG_FOR_WEB.       */
#define MSG_NOT_FOR_WEB     MSG_FOR_HUB: MSG_FOR_ROOM: MSG_FOR_WRITER: MSG_FOR_CLUSTER: case MSG_KINDS
/*  The cluster lists BYE by hand: the gateways' other kinds are here.   */
#define MSG_NOT_FOR_CLUSTER MSG_FOR_HUB: MSG_FOR_ROOM: MSG_FOR_WRITER: MSG_FOR_WEB: case MSG_KINDS: \
    case MSG_OUT: case MSG_ENTER: case MSG_REFUSE: case MSG_RELEASE: case MSG_LABEL: \
    case MSG_ATTACH: case MSG_PAUSE: case MSG_RESUME
/*  For a pipe that carries none of the groups' kinds ($TERM, STORED).  */
#define MSG_ANY_GROUP       MSG_FOR_HUB: MSG_NOT_FOR_HUB
// clang-format on

/*  One row of the table.                                                */
typedef struct {
    const char *type;    /* the type frame */
    size_t      parts;   /* payload parts after [type][id], exactly */
    unsigned    bools;   /* bit i set: part i is a boolean */
    const char *route;   /* who sends it to whom: "gateway -> hub" */
    const char *payload; /* the parts' names, in order */
} msg_spec_t;

/*  The row of kind; MSG_KINDS has a row too, route "nobody".            */
const msg_spec_t *msg_spec (msg_kind_t kind);

/*  Client ids. Each gateway (0 = TCP, 1 = web, ...) makes the ids of its
    own connections: bits 56..63 its index, 32..55 a generation the slot
    bumps each time it is reused (so a late message for a slot's previous
    client never reaches the next), 0..31 the slot. Whoever routes a
    message about a client (hub, rooms) finds its gateway in its id. Id 0
    is "no client": gateway 0 never uses generation 0.                    */
#define MSG_GATEWAYS_MAX 8
#define MSG_ID_GEN_MASK  0xffffffu /* 24 bits */

static inline uint64_t
msg_id_make (unsigned gateway, uint32_t gen, uint32_t slot)
{
    return ((uint64_t) (gateway & 0xffu) << 56) | ((uint64_t) (gen & MSG_ID_GEN_MASK) << 32) |
           (uint64_t) slot;
}

static inline unsigned
msg_id_gateway (uint64_t id)
{
    return (unsigned) (id >> 56);
}

static inline uint32_t
msg_id_gen (uint64_t id)
{
    return (uint32_t) (id >> 32) & MSG_ID_GEN_MASK;
}

static inline uint32_t
msg_id_slot (uint64_t id)
{
    return (uint32_t) id;
}

/*  Messages each end of a data pipe holds before its sender waits: deep
    enough for bursts, shallow enough to bound memory (x 4 KiB lines).  */
#define MSG_PIPE_HWM  10000
#define MSG_MAX_PARTS 4 /* the most parts any kind has */

typedef struct {
    const char *data;
    size_t      size;
} msg_part_t;

/*  A received message, read in place: the pointers live as long as the
    zmsg_t they were parsed from.                                         */
typedef struct {
    msg_kind_t  kind;      /* MSG_KINDS when the type is unknown */
    char        type [12]; /* the type frame as received, for the log */
    const char *problem;   /* why msg_parse refused it, or NULL */
    uint64_t    id;
    size_t      parts;
    msg_part_t  part [MSG_MAX_PARTS];
} msg_view_t;

/*  Builders, one per kind: the payload, in the table's order. Text is
    copied; ids are uint64_t, sent as they are in memory. An event part
    (event.h) may be NULL, 0: it goes as "".                             */
zmsg_t *msg_new_term (void);
zmsg_t *msg_new_name (uint64_t id, const char *name, size_t size);
zmsg_t *msg_new_line (uint64_t id, const char *text, size_t size);
zmsg_t *msg_new_cmd (uint64_t id, const char *verb, const char *arg, size_t arg_size,
                     const char *text, size_t text_size);
zmsg_t *msg_new_notice (uint64_t id, const char *text);
zmsg_t *msg_new_closed (uint64_t id);
zmsg_t *msg_new_released (uint64_t id);
zmsg_t *msg_new_join (uint64_t id, const char *name);
zmsg_t *msg_new_leave (uint64_t id, bool moving);
zmsg_t *msg_new_say (uint64_t id, const char *text, size_t size, const char *event,
                     size_t event_size);
zmsg_t *msg_new_users (uint64_t id);
zmsg_t *msg_new_rename (uint64_t id, const char *name, size_t size);
zmsg_t *msg_new_out (uint64_t skip, const char *text, size_t size, const uint64_t *ids,
                     size_t count, bool prompt_skip, const char *event, size_t event_size);
zmsg_t *msg_new_enter (uint64_t id, const char *name, const char *history, size_t size,
                       const char *event, size_t event_size);
zmsg_t *msg_new_refuse (uint64_t id, const char *reason);
zmsg_t *msg_new_release (uint64_t id, bool moving);
zmsg_t *msg_new_label (uint64_t id, const char *name);
zmsg_t *msg_new_attach (const char *endpoint);
zmsg_t *msg_new_bye (void);
zmsg_t *msg_new_pause (uint64_t id);
zmsg_t *msg_new_resume (uint64_t id);
zmsg_t *msg_new_store (const char *line, size_t size);
zmsg_t *msg_new_stored (uint64_t done);
/*  STATS: gateway is the sender's index, values its figures (count of
    them, in metrics.h's order). SCRAPE and METRICS: tag is the web
    gateway's, to match the answer to its request.                       */
zmsg_t *msg_new_stats (uint64_t gateway, const uint64_t *values, size_t count);
zmsg_t *msg_new_scrape (uint64_t tag);
zmsg_t *msg_new_metrics (uint64_t tag, const char *text, size_t size);
/*  Cluster mode (include/cluster.h has the whole contract). Ids are the
    hub's client ids; a room's PUBLISH and UNSENT name the member by its
    local id. Strings are NUL-terminated unless a size is given.          */
zmsg_t *msg_new_claim (uint64_t id, const char *name, const char *key0, const char *key1,
                       const char *fold);
zmsg_t *msg_new_claimed (uint64_t id, const char *verdict);
zmsg_t *msg_new_unclaim (uint64_t id, const char *name);
zmsg_t *msg_new_rooms (uint64_t id);
zmsg_t *msg_new_roomlist (uint64_t id, const char *lines, size_t size);
zmsg_t *msg_new_private (uint64_t id, const char *from, const char *target, const char *text,
                         size_t size, const char *stamp);
zmsg_t *msg_new_privated (uint64_t id, const char *verdict);
zmsg_t *msg_new_deliver (uint64_t id, const char *from, const char *text, size_t size,
                         const char *stamp);
zmsg_t *msg_new_link (bool up, uint64_t held);
zmsg_t *msg_new_follow (const char *room, const char *endpoint);
zmsg_t *msg_new_publish (uint64_t id, const char *kind, const char *name, const char *text,
                         size_t size, const char *stamp);
zmsg_t *msg_new_unsent (uint64_t id, const char *kind);
zmsg_t *msg_new_state (const char *members, size_t members_size, const char *history,
                       size_t history_size, const char *last);

/*  ENTRIES: a batch of a room's stream entries, in the stream's order,
    packed in one part (each field a 4-byte length then its bytes). The
    parts of an entry point into the batch (not NUL-terminated).         */
typedef struct {
    msg_part_t kind;   /* "line", "join", "leave", "rename" */
    msg_part_t member; /* the member key, "NODE/ID" (ID: 16 hex digits) */
    msg_part_t name;
    msg_part_t text;   /* the line, or the new name; "" for join, leave */
    msg_part_t stamp;  /* "[YYYY-MM-DD HH:MM:SS]" from the publishing node */
    msg_part_t stream; /* the entry's stream id, "MS-SEQ" */
    uint64_t   local;  /* the member's client id if it is this node's, else 0 */
} msg_entry_t;

/*  Appends entry to batch (a zchunk grown as needed).                   */
void    msg_entries_add (zchunk_t *batch, const msg_entry_t *entry);
zmsg_t *msg_new_entries (const zchunk_t *batch);
/*  Reads the entry at *offset of a parsed ENTRIES and moves *offset past
    it: false at the end of the batch, or if the rest is malformed.      */
bool msg_entries_next (const msg_view_t *view, size_t *offset, msg_entry_t *entry);

/*  Sends and destroys; -1 (message destroyed too) if the peer is gone or
    the pipe is full past the socket's send timeout.                     */
int msg_send (zmsg_t **msg_p, zsock_t *dest);
/*  Receives a message (NULL if interrupted or timed out).              */
zmsg_t *msg_recv (zsock_t *source);

/*  Checks msg against the table and reads it into view: false, with
    view->kind MSG_KINDS and view->problem set, when it is not a message
    the table describes.                                                 */
bool msg_parse (zmsg_t *msg, msg_view_t *view);
/*  Logs, once, a message the actor drops: refused by msg_parse (its type
    and why), or of a kind it does not take (its type and route).        */
void msg_drop (const log_t *log, const msg_view_t *view);
/*  For a pipe whose one command is $TERM: true if msg is $TERM; anything
    else is dropped with msg_drop.                                       */
bool msg_is_term (zmsg_t *msg, const log_t *log);
/*  The parts of a parsed message.                                       */
bool     msg_bool (const msg_view_t *view, size_t i);
size_t   msg_id_count (const msg_view_t *view, size_t i);
uint64_t msg_id_at (const msg_view_t *view, size_t i, size_t n);
/*  Copies part i into a new NUL-terminated string (caller frees); ""
    for a part that is not there.                                        */
char *msg_strdup (const msg_view_t *view, size_t i);

/*  A data pipe between two actors (not an actor's own pipe: actor.h): a
    PAIR bound (bind true) or connected to endpoint, with the same options
    at every end: MSG_PIPE_HWM messages queued each way, and
    MSG_PIPE_LINGER_MS for what is still queued when it closes, so a last
    message (a room's BYE) reaches a peer that is still reading. Binds
    before its peer connects (endpoints.h names them). NULL, with errno,
    when the socket cannot be made or the endpoint is taken or invalid.  */
#define MSG_PIPE_LINGER_MS 2000
zsock_t *msg_pipe_new (const char *endpoint, bool bind);

#endif
