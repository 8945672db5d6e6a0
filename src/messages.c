/* SPDX-License-Identifier: MIT */
/*  messages: the actors' message table, its builders and its parser.  */
#include "messages.h"
#include "mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define BOOL(i) (1u << (i)) /* msg_spec_t.bools: part i */

//  The schema: every message any actor sends, and the one place a kind
//  is defined. A row's comment is what the message means; its handler is
//  the case for it in the switch of the actor it goes to.
// clang-format off
static const msg_spec_t s_specs [MSG_KINDS + 1] = {
    //  CZMQ's stop command on an actor pipe: a type frame alone, no id.
    [MSG_TERM]     = { "$TERM",    0, 0,       "parent -> actor", "" },
    //  A line typed at the name prompt, trimmed, not cleaned.
    [MSG_NAME]     = { "NAME",     1, 0,       "gateway -> hub", "name" },
    //  A cleaned chat line. The hub forwards the same message to the
    //  client's room as is.
    [MSG_LINE]     = { "LINE",     1, 0,       "gateway -> hub -> room", "text" },
    //  A parsed command: verb is command_name (), or "?" for an unknown
    //  command, whose name as typed (cleaned) is then arg. /msg arg and
    //  text are cleaned, /name and /join args go as typed; "" when absent.
    [MSG_CMD]      = { "CMD",      3, 0,       "gateway -> hub", "verb arg text" },
    //  A gateway notice (line too long) for a client in a room: the hub
    //  sends it on as a SAY, so it takes its place in the room's output.
    [MSG_NOTICE]   = { "NOTICE",   1, 0,       "gateway -> hub", "text" },
    //  The client is leaving (EOF, reset, /quit, evicted). After /quit or
    //  EOF the gateway keeps writing to it until its room's RELEASE
    //  (moving "0") says all its output is out.
    [MSG_CLOSED]   = { "CLOSED",   0, 0,       "gateway -> hub", "" },
    //  The old room's last output for a mover is out: the move can finish.
    [MSG_RELEASED] = { "RELEASED", 0, 0,       "gateway -> hub", "" },
    //  A member enters under name.
    [MSG_JOIN]     = { "JOIN",     1, 0,       "hub -> room", "name" },
    //  A member leaves; moving: to another room.
    [MSG_LEAVE]    = { "LEAVE",    1, BOOL(0), "hub -> room", "moving" },
    //  Text for one member, then its prompt: hub replies, /msg delivery.
    //  event: the same as a JSON event (event.h), or "" when the server
    //  has no gateway that takes events (--http off) or it is a bare
    //  prompt; the room sends it on in its OUT.
    [MSG_SAY]      = { "SAY",      2, 0,       "hub -> room", "text event" },
    //  List the members to this member.
    [MSG_USERS]    = { "USERS",    0, 0,       "hub -> room", "" },
    //  A member's new name.
    [MSG_RENAME]   = { "RENAME",   1, 0,       "hub -> room", "name" },
    //  Text plus a prompt to every id in ids (packed uint64_t) but the one
    //  in the id frame, the author; with prompt_skip the author gets a
    //  bare prompt. Id 0: nobody is skipped. event: the same output as
    //  one JSON event (event.h) for a gateway that sends events instead
    //  of text (the web's): every id gets it once, the author too when
    //  prompt_skip is set (its own chat line), not when it is skipped
    //  without (it gets its own OUT: /name); "" (--http off, a bare
    //  prompt): nothing to send. A text gateway ignores it.
    [MSG_OUT]      = { "OUT",      4, BOOL(2), "room -> gateway", "text ids prompt_skip event" },
    //  The client is now in a room under name: history, then its prompt,
    //  and its input flows again. event: "entered" (event.h), or "" with
    //  --http off.
    [MSG_ENTER]    = { "ENTER",    3, 0,       "room -> gateway", "name history event" },
    //  The name was refused: reason, then the name prompt again.
    [MSG_REFUSE]   = { "REFUSE",   1, 0,       "hub -> gateway", "reason" },
    //  A room's last word for id, behind all it sent it. moving: the
    //  gateway passes RELEASED to the hub; else the client left, and a
    //  leaving connection can close now.
    [MSG_RELEASE]  = { "RELEASE",  1, BOOL(0), "room -> gateway", "moving" },
    //  The name shown in this client's prompts from now on.
    [MSG_LABEL]    = { "LABEL",    1, 0,       "room -> gateway", "name" },
    //  A new room's output pipe to connect to and poll (id 0).
    [MSG_ATTACH]   = { "ATTACH",   1, 0,       "hub -> gateway", "endpoint" },
    //  A room's last message on its pipe: close it (id 0).
    [MSG_BYE]      = { "BYE",      0, 0,       "room -> gateway", "" },
    //  A hub queue for this client is full: hand on none of its input
    //  (stop reading its socket) until RESUME.
    [MSG_PAUSE]    = { "PAUSE",    0, 0,       "hub -> gateway", "" },
    //  Hand its input on again.
    [MSG_RESUME]   = { "RESUME",   0, 0,       "hub -> gateway", "" },
    //  Append this chat line to the room's file (id 0).
    [MSG_STORE]    = { "STORE",    1, 0,       "room -> writer", "line" },
    //  The lines handled so far, written or not, in the id frame:
    //  cumulative, so a lost answer costs nothing.
    [MSG_STORED]   = { "STORED",   0, 0,       "writer -> room", "" },
    //  A gateway's figures (metrics.h), in the id frame its index: sent
    //  at most once a second, when one changed. The hub keeps the latest.
    [MSG_STATS]    = { "STATS",    1, 0,       "gateway -> hub", "values" },
    //  /metrics was asked for: answer METRICS with the same id (a tag).
    [MSG_SCRAPE]   = { "SCRAPE",   0, 0,       "web -> hub", "" },
    //  The whole /metrics body, rendered by the hub from its figures and
    //  every gateway's latest STATS; the id is the SCRAPE's tag.
    [MSG_METRICS]  = { "METRICS",  1, 0,       "hub -> web", "text" },
    //  Cluster mode (include/cluster.h). Claim name (checked locally
    //  first) cluster-wide under its three keys (names.h: name_fold, the
    //  two confusable keys), for client id.
    [MSG_CLAIM]    = { "CLAIM",    4, 0,       "hub -> cluster", "name key0 key1 fold" },
    //  The claim's verdict: "" (the name is the client's), "taken",
    //  "lookalike" or "unavailable" (Redis is down).
    [MSG_CLAIMED]  = { "CLAIMED",  1, 0,       "cluster -> hub", "verdict" },
    //  Release a name id claimed (it left, or renamed away from it).
    [MSG_UNCLAIM]  = { "UNCLAIM",  1, 0,       "hub -> cluster", "name" },
    //  List the cluster's rooms to id.
    [MSG_ROOMS]    = { "ROOMS",    0, 0,       "hub -> cluster", "" },
    //  "ROOM\tCOUNT\n" for every room with members in the cluster ("" when
    //  Redis is down).
    [MSG_ROOMLIST] = { "ROOMLIST", 1, 0,       "cluster -> hub", "lines" },
    //  /msg from id (named from) to a name that is not on this node.
    [MSG_PRIVATE]  = { "PRIVATE",  4, 0,       "hub -> cluster", "from target text stamp" },
    //  "" (on its way to the target's node), "nouser" or "unavailable".
    [MSG_PRIVATED] = { "PRIVATED", 1, 0,       "cluster -> hub", "verdict" },
    //  A /msg from another node for this node's client id.
    [MSG_DELIVER]  = { "DELIVER",  3, 0,       "cluster -> hub", "from text stamp" },
    //  This node now runs room: connect to its cluster pipe at endpoint
    //  (id 0). The room's BYE on that pipe ends it.
    [MSG_FOLLOW]   = { "FOLLOW",   2, 0,       "hub -> cluster", "room endpoint" },
    //  Append to the room's stream (kind "line", "join", "leave",
    //  "rename"; text: the line or the new name) for local member id.
    [MSG_PUBLISH]  = { "PUBLISH",  4, 0,       "room -> cluster", "kind name text stamp" },
    //  A PUBLISH for id was not taken (Redis down and 10,000 held).
    [MSG_UNSENT]   = { "UNSENT",   1, 0,       "cluster -> room", "kind" },
    //  The room's stream entries, in order (msg_entry_t; id 0).
    [MSG_ENTRIES]  = { "ENTRIES",  1, 0,       "cluster -> room", "entries" },
    //  At FOLLOW, before any ENTRIES: members "KEY\tNAME\n"..., history
    //  lines "[ts][name]:text\n"..., the stream id they are as of (id 0).
    [MSG_STATE]    = { "STATE",    3, 0,       "cluster -> room", "members history last" },
    //  Not a kind: what msg_spec says of a type it does not know.
    //  The cluster's Redis link changed (up or down), or the publishes it
    //  holds while down did (at most once a second): for /metrics.
    [MSG_LINK]     = { "LINK",     2, BOOL(0), "cluster -> hub", "up held" },
    [MSG_KINDS]    = { "?",        0, 0,       "nobody", "" },
};
// clang-format on

//  ThreadSanitizer cannot see inside libzmq, so it cannot see that a
//  message built by one actor is handed over, not shared, when another
//  receives it. Each message tells it so on its own: the sender releases
//  on the message's first frame data and the receiver acquires on it.
//  That must be the SAME address on both sides, and libzmq copies frames
//  of up to 33 bytes: so in TSan builds the first frame goes zero-copy,
//  from a buffer of its own that crosses the pipe as it is. A receive is
//  then ordered after its own message's send only, never after every
//  send in the process, so a race between two actors that merely
//  straddles some message is still seen (make check-tsan-race).
#if defined(__SANITIZE_THREAD__)
#    define MSG_TSAN 1
#elif defined(__has_feature)
#    if __has_feature(thread_sanitizer)
#        define MSG_TSAN 1
#    endif
#endif

#if defined(MSG_TSAN)
void __tsan_acquire (void *addr);
void __tsan_release (void *addr);

static void
s_free_frame (void *data, void *hint)
{
    (void) hint;
    free (data);
}

//  Sends the first frame zero-copy, releasing on the buffer that crosses,
//  then the rest as usual (a multipart message goes as a whole).
static int
s_send (zmsg_t **msg_p, zsock_t *dest)
{
    zframe_t *first = zmsg_pop (*msg_p);
    size_t    size = zframe_size (first);
    void     *copy = malloc (size ? size : 1);
    assert (copy);
    memcpy (copy, zframe_data (first), size);
    zframe_destroy (&first);
    zmq_msg_t part;
    zmq_msg_init_data (&part, copy, size, s_free_frame, NULL);
    __tsan_release (copy);
    int more = zmsg_size (*msg_p) ? ZMQ_SNDMORE : 0;
    if (zmq_msg_send (&part, zsock_resolve (dest), more) < 0) {
        zmq_msg_close (&part);
        return -1;
    }
    if (!more) {
        zmsg_destroy (msg_p);
        return 0;
    }
    return zmsg_send (msg_p, dest);
}

static void
s_received (zmsg_t *msg)
{
    __tsan_acquire (zframe_data (zmsg_first (msg)));
}
#else
static int
s_send (zmsg_t **msg_p, zsock_t *dest)
{
    return zmsg_send (msg_p, dest);
}

static void
s_received (zmsg_t *msg)
{
    (void) msg;
}
#endif

const msg_spec_t *
msg_spec (msg_kind_t kind)
{
    assert (kind <= MSG_KINDS);
    return &s_specs [kind];
}

//  ---------------------------------------------------------------------
//  Builders

static zmsg_t *
s_new (msg_kind_t kind, uint64_t id)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, s_specs [kind].type);
    zmsg_addmem (msg, &id, sizeof id);
    return msg;
}

static zmsg_t *
s_new_text (msg_kind_t kind, uint64_t id, const char *text, size_t size)
{
    zmsg_t *msg = s_new (kind, id);
    zmsg_addmem (msg, text, size);
    return msg;
}

static zmsg_t *
s_new_bool (msg_kind_t kind, uint64_t id, bool value)
{
    return s_new_text (kind, id, value ? "1" : "0", 1);
}

zmsg_t *
msg_new_term (void)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, s_specs [MSG_TERM].type);
    return msg;
}

zmsg_t *
msg_new_name (uint64_t id, const char *name, size_t size)
{
    return s_new_text (MSG_NAME, id, name, size);
}

zmsg_t *
msg_new_line (uint64_t id, const char *text, size_t size)
{
    return s_new_text (MSG_LINE, id, text, size);
}

zmsg_t *
msg_new_cmd (uint64_t id, const char *verb, const char *arg, size_t arg_size, const char *text,
             size_t text_size)
{
    zmsg_t *msg = s_new_text (MSG_CMD, id, verb, strlen (verb));
    zmsg_addmem (msg, arg, arg_size);
    zmsg_addmem (msg, text, text_size);
    return msg;
}

zmsg_t *
msg_new_notice (uint64_t id, const char *text)
{
    return s_new_text (MSG_NOTICE, id, text, strlen (text));
}

zmsg_t *
msg_new_closed (uint64_t id)
{
    return s_new (MSG_CLOSED, id);
}

zmsg_t *
msg_new_released (uint64_t id)
{
    return s_new (MSG_RELEASED, id);
}

zmsg_t *
msg_new_join (uint64_t id, const char *name)
{
    return s_new_text (MSG_JOIN, id, name, strlen (name));
}

zmsg_t *
msg_new_leave (uint64_t id, bool moving)
{
    return s_new_bool (MSG_LEAVE, id, moving);
}

zmsg_t *
msg_new_say (uint64_t id, const char *text, size_t size, const char *event, size_t event_size)
{
    zmsg_t *msg = s_new_text (MSG_SAY, id, text, size);
    zmsg_addmem (msg, event, event_size);
    return msg;
}

zmsg_t *
msg_new_users (uint64_t id)
{
    return s_new (MSG_USERS, id);
}

zmsg_t *
msg_new_rename (uint64_t id, const char *name, size_t size)
{
    return s_new_text (MSG_RENAME, id, name, size);
}

zmsg_t *
msg_new_out (uint64_t skip, const char *text, size_t size, const uint64_t *ids, size_t count,
             bool prompt_skip, const char *event, size_t event_size)
{
    zmsg_t *msg = s_new_text (MSG_OUT, skip, text, size);
    zmsg_addmem (msg, ids, count * sizeof (uint64_t));
    zmsg_addmem (msg, prompt_skip ? "1" : "0", 1);
    zmsg_addmem (msg, event, event_size);
    return msg;
}

zmsg_t *
msg_new_enter (uint64_t id, const char *name, const char *history, size_t size, const char *event,
               size_t event_size)
{
    zmsg_t *msg = s_new_text (MSG_ENTER, id, name, strlen (name));
    zmsg_addmem (msg, history, size);
    zmsg_addmem (msg, event, event_size);
    return msg;
}

zmsg_t *
msg_new_refuse (uint64_t id, const char *reason)
{
    return s_new_text (MSG_REFUSE, id, reason, strlen (reason));
}

zmsg_t *
msg_new_release (uint64_t id, bool moving)
{
    return s_new_bool (MSG_RELEASE, id, moving);
}

zmsg_t *
msg_new_label (uint64_t id, const char *name)
{
    return s_new_text (MSG_LABEL, id, name, strlen (name));
}

zmsg_t *
msg_new_attach (const char *endpoint)
{
    return s_new_text (MSG_ATTACH, 0, endpoint, strlen (endpoint));
}

zmsg_t *
msg_new_bye (void)
{
    return s_new (MSG_BYE, 0);
}

zmsg_t *
msg_new_pause (uint64_t id)
{
    return s_new (MSG_PAUSE, id);
}

zmsg_t *
msg_new_resume (uint64_t id)
{
    return s_new (MSG_RESUME, id);
}

zmsg_t *
msg_new_store (const char *line, size_t size)
{
    return s_new_text (MSG_STORE, 0, line, size);
}

zmsg_t *
msg_new_stored (uint64_t done)
{
    return s_new (MSG_STORED, done);
}

zmsg_t *
msg_new_stats (uint64_t gateway, const uint64_t *values, size_t count)
{
    return s_new_text (MSG_STATS, gateway, (const char *) values, count * sizeof (uint64_t));
}

zmsg_t *
msg_new_scrape (uint64_t tag)
{
    return s_new (MSG_SCRAPE, tag);
}

zmsg_t *
msg_new_metrics (uint64_t tag, const char *text, size_t size)
{
    return s_new_text (MSG_METRICS, tag, text, size);
}

static zmsg_t *
s_add (zmsg_t *msg, const char *text)
{
    zmsg_addmem (msg, text, strlen (text));
    return msg;
}

zmsg_t *
msg_new_claim (uint64_t id, const char *name, const char *key0, const char *key1, const char *fold)
{
    zmsg_t *msg = s_new_text (MSG_CLAIM, id, name, strlen (name));
    s_add (msg, key0);
    s_add (msg, key1);
    return s_add (msg, fold);
}

zmsg_t *
msg_new_claimed (uint64_t id, const char *verdict)
{
    return s_new_text (MSG_CLAIMED, id, verdict, strlen (verdict));
}

zmsg_t *
msg_new_unclaim (uint64_t id, const char *name)
{
    return s_new_text (MSG_UNCLAIM, id, name, strlen (name));
}

zmsg_t *
msg_new_rooms (uint64_t id)
{
    return s_new (MSG_ROOMS, id);
}

zmsg_t *
msg_new_roomlist (uint64_t id, const char *lines, size_t size)
{
    return s_new_text (MSG_ROOMLIST, id, lines, size);
}

zmsg_t *
msg_new_private (uint64_t id, const char *from, const char *target, const char *text, size_t size,
                 const char *stamp)
{
    zmsg_t *msg = s_new_text (MSG_PRIVATE, id, from, strlen (from));
    s_add (msg, target);
    zmsg_addmem (msg, text, size);
    return s_add (msg, stamp);
}

zmsg_t *
msg_new_privated (uint64_t id, const char *verdict)
{
    return s_new_text (MSG_PRIVATED, id, verdict, strlen (verdict));
}

zmsg_t *
msg_new_deliver (uint64_t id, const char *from, const char *text, size_t size, const char *stamp)
{
    zmsg_t *msg = s_new_text (MSG_DELIVER, id, from, strlen (from));
    zmsg_addmem (msg, text, size);
    return s_add (msg, stamp);
}

zmsg_t *
msg_new_link (bool up, uint64_t held)
{
    char number [24];
    snprintf (number, sizeof number, "%" PRIu64, held);
    zmsg_t *msg = s_new_bool (MSG_LINK, 0, up);
    zmsg_addstr (msg, number);
    return msg;
}

zmsg_t *
msg_new_follow (const char *room, const char *endpoint)
{
    return s_add (s_new_text (MSG_FOLLOW, 0, room, strlen (room)), endpoint);
}

zmsg_t *
msg_new_publish (uint64_t id, const char *kind, const char *name, const char *text, size_t size,
                 const char *stamp)
{
    zmsg_t *msg = s_add (s_new_text (MSG_PUBLISH, id, kind, strlen (kind)), name);
    zmsg_addmem (msg, text, size);
    return s_add (msg, stamp);
}

zmsg_t *
msg_new_unsent (uint64_t id, const char *kind)
{
    return s_new_text (MSG_UNSENT, id, kind, strlen (kind));
}

zmsg_t *
msg_new_state (const char *members, size_t members_size, const char *history, size_t history_size,
               const char *last)
{
    zmsg_t *msg = s_new_text (MSG_STATE, 0, members, members_size);
    zmsg_addmem (msg, history, history_size);
    return s_add (msg, last);
}

//  An entry's fields in the order they are packed.
#define ENTRY_FIELDS 7

static void
s_entry_fields (msg_entry_t *entry, msg_part_t *fields [ENTRY_FIELDS - 1])
{
    fields [0] = &entry->kind;
    fields [1] = &entry->member;
    fields [2] = &entry->name;
    fields [3] = &entry->text;
    fields [4] = &entry->stamp;
    fields [5] = &entry->stream;
}

static void
s_pack (zchunk_t *batch, const void *data, size_t size)
{
    assert (size <= UINT32_MAX);
    uint32_t length = (uint32_t) size;
    zchunk_extend (batch, &length, sizeof length);
    zchunk_extend (batch, data, size);
}

void
msg_entries_add (zchunk_t *batch, const msg_entry_t *entry)
{
    msg_entry_t copy = *entry;
    msg_part_t *fields [ENTRY_FIELDS - 1];
    s_entry_fields (&copy, fields);
    for (int i = 0; i < ENTRY_FIELDS - 1; i++)
        s_pack (batch, fields [i]->data, fields [i]->size);
    s_pack (batch, &entry->local, sizeof entry->local);
}

zmsg_t *
msg_new_entries (const zchunk_t *batch)
{
    zchunk_t *chunk = (zchunk_t *) batch;  //  zchunk's getters are not const
    return s_new_text (MSG_ENTRIES, 0, (const char *) zchunk_data (chunk), zchunk_size (chunk));
}

//  The field at *offset, moved past; false when it runs off the end.
static bool
s_unpack (const msg_part_t *part, size_t *offset, msg_part_t *field)
{
    uint32_t length;
    if (part->size - *offset < sizeof length)
        return false;
    memcpy (&length, part->data + *offset, sizeof length);
    *offset += sizeof length;
    if (part->size - *offset < length)
        return false;
    field->data = part->data + *offset;
    field->size = length;
    *offset += length;
    return true;
}

bool
msg_entries_next (const msg_view_t *view, size_t *offset, msg_entry_t *entry)
{
    if (view->kind != MSG_ENTRIES || *offset >= view->part [0].size)
        return false;
    size_t      at = *offset;
    msg_part_t *fields [ENTRY_FIELDS - 1];
    msg_part_t  local;
    s_entry_fields (entry, fields);
    for (int i = 0; i < ENTRY_FIELDS - 1; i++)
        if (!s_unpack (&view->part [0], &at, fields [i]))
            return false;
    if (!s_unpack (&view->part [0], &at, &local) || local.size != sizeof entry->local)
        return false;
    memcpy (&entry->local, local.data, sizeof entry->local);
    *offset = at;
    return true;
}

//  ---------------------------------------------------------------------
//  Sending and receiving

int
msg_send (zmsg_t **msg_p, zsock_t *dest)
{
    int rc = s_send (msg_p, dest);
    if (rc != 0)
        zmsg_destroy (msg_p);
    return rc;
}

zmsg_t *
msg_recv (zsock_t *source)
{
    zmsg_t *msg = zmsg_recv (source);
    if (msg)
        s_received (msg);
    return msg;
}

//  ---------------------------------------------------------------------
//  Parsing

//  The first byte rules out all but one or two rows: this runs for every
//  message every actor receives.
static msg_kind_t
s_kind_of (zframe_t *frame)
{
    const char *data = (const char *) zframe_data (frame);
    size_t      size = zframe_size (frame);
    for (int kind = 0; kind < MSG_KINDS && size; kind++) {
        const char *type = s_specs [kind].type;
        assert (type);  //  Every kind has its row
        if (type [0] == data [0] && strlen (type) == size && memcmp (type, data, size) == 0)
            return (msg_kind_t) kind;
    }
    return MSG_KINDS;
}

static bool
s_refuse (msg_view_t *view, const char *problem)
{
    view->problem = problem;
    return false;
}

//  The payload parts, each checked against its row.
static bool
s_parse_parts (zmsg_t *msg, msg_view_t *view, const msg_spec_t *spec)
{
    assert (spec->parts <= MSG_MAX_PARTS);
    zframe_t *frame;
    while ((frame = zmsg_next (msg))) {
        if (view->parts == spec->parts)
            return s_refuse (view, "too many parts");
        msg_part_t *part = &view->part [view->parts];
        part->data = (const char *) zframe_data (frame);
        part->size = zframe_size (frame);
        if ((spec->bools & BOOL (view->parts)) &&
            (part->size != 1 || (part->data [0] != '0' && part->data [0] != '1')))
            return s_refuse (view, "a boolean that is not \"1\" or \"0\"");
        view->parts++;
    }
    if (view->parts < spec->parts)
        return s_refuse (view, "too few parts");
    return true;
}

bool
msg_parse (zmsg_t *msg, msg_view_t *view)
{
    memset (view, 0, sizeof *view);
    view->kind = MSG_KINDS;
    zframe_t *frame = zmsg_first (msg);
    if (!frame)
        return s_refuse (view, "no frames");
    size_t size = zframe_size (frame);
    if (size >= sizeof view->type)
        size = sizeof view->type - 1;
    memcpy (view->type, zframe_data (frame), size);
    msg_kind_t kind = s_kind_of (frame);
    if (kind == MSG_KINDS)
        return s_refuse (view, "unknown type");
    frame = zmsg_next (msg);
    if (kind == MSG_TERM) {
        if (frame)
            return s_refuse (view, "$TERM with more frames");
        view->kind = kind;
        return true;
    }
    if (!frame || zframe_size (frame) != sizeof view->id)
        return s_refuse (view, "no 8-byte id");
    memcpy (&view->id, zframe_data (frame), sizeof view->id);
    if (!s_parse_parts (msg, view, &s_specs [kind]))
        return false;
    view->kind = kind;
    return true;
}

void
msg_drop (const log_t *log, const msg_view_t *view)
{
    if (view->kind == MSG_KINDS)
        log_info (log, "E: malformed %s message dropped: %s", view->type, view->problem);
    else
        log_info (log, "E: unexpected %s (%s) dropped", view->type, s_specs [view->kind].route);
}

bool
msg_is_term (zmsg_t *msg, const log_t *log)
{
    msg_view_t view;
    msg_parse (msg, &view);
    switch (view.kind) {
        case MSG_TERM:
            return true;
        case MSG_LINE:
        case MSG_STORED:
        MSG_ANY_GROUP:
            msg_drop (log, &view);
            break;
    }
    return false;
}

bool
msg_bool (const msg_view_t *view, size_t i)
{
    return i < view->parts && view->part [i].size == 1 && view->part [i].data [0] == '1';
}

size_t
msg_id_count (const msg_view_t *view, size_t i)
{
    return i < view->parts ? view->part [i].size / sizeof (uint64_t) : 0;
}

uint64_t
msg_id_at (const msg_view_t *view, size_t i, size_t n)
{
    assert (n < msg_id_count (view, i));
    uint64_t id;
    memcpy (&id, view->part [i].data + n * sizeof id, sizeof id);
    return id;
}

char *
msg_strdup (const msg_view_t *view, size_t i)
{
    if (i >= view->parts)
        return mem_check (strdup (""));
    return mem_check (strndup (view->part [i].data, view->part [i].size));
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
    int rc = bind ? zsock_bind (sock, "%s", endpoint) : zsock_connect (sock, "%s", endpoint);
    if (rc != 0) {
        int error = zmq_errno ();
        zsock_destroy (&sock);
        errno = error;
        return NULL;
    }
    return sock;
}
