/* SPDX-License-Identifier: MIT */
/*  room: one actor per chat room.

    Why the room and not the hub sequences a member's output: a member's
    chat lines, the prompts they earn, and every broadcast they receive all
    leave through this one pipe, so they reach the gateway in the order
    the room produced them. Hub replies (SAY) ride the same pipe.

    Why the room and not the hub owns the room's file: the room makes the
    line, so it can have it on disk before anyone can receive it. The
    write itself happens in the room's writer thread (writer.c), because
    a write to a sick disk can block for as long as the disk likes: the
    room waits for it at most ROOM_STORE_WAIT_MS, then broadcasts anyway
    and stops waiting until the writer has caught up.                   */
#include "room.h"
#include "actor.h"
#include "cluster.h"
#include "endpoints.h"
#include "event.h"
#include "history.h"
#include "log.h"
#include "mem.h"
#include "messages.h"
#include "protocol.h"
#include "store.h"
#include "text.h"
#include "writer.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    zsock_t      *pipe;                        /* from the hub */
    zsock_t      *gateways [MSG_GATEWAYS_MAX]; /* our output pipe to each gateway */
    unsigned      gateway_count;
    uint64_t     *split; /* scratch: one gateway's ids of an OUT */
    log_t         log;
    config_t      config; /* the server's; its writer gets a copy */
    char          name [ROOM_MAX_CHARS + 1];
    history_t    *history;
    uint64_t     *ids;   /* members' ids, in order of entry: */
    char        **names; /*   sent as is in every OUT */
    size_t        members, capacity;
    size_t        peak;
    uint64_t      lines; /* chat lines broadcast */
    stamp_cache_t stamp;
    buf_t         scratch;
    buf_t         event;           /* scratch for the events of an output */
    bool          events;          /* a gateway takes them (--http): build them */
    size_t        history_size;    /* lines history keeps */
    size_t        history_bytes;   /* replayed at most */
    char          path [PATH_MAX]; /* our file in it, for the log */
    actor_t      *writer;          /* started at the first line, or NULL */
    uint64_t      handed;          /* lines handed to the writer */
    uint64_t      done;            /* of which it said it is done with */
    uint64_t      unwritten;       /* lines never handed to it */
    bool          behind;          /* it kept a line waiting: do not wait */
    bool          dropping;        /* its queue is full (logged once) */
    //  Cluster mode (--cluster): members are local (ids [i] their id) or
    //  on other nodes (ids [i] 0), each with its member key; the pipe with
    //  the cluster actor and what waits for it; local joiners whose join
    //  has not come back from the room's stream yet (pending_t).
    bool      cluster;
    zsock_t  *cluster_pipe;
    zlist_t  *cluster_queue;
    bool      cluster_full; /* its queue reached the cap: the hub's pipe is not read */
    char    **keys;
    uint64_t *local; /* scratch: the local members' ids of an OUT */
    zlist_t  *pending;
    size_t    remote; /* members on other nodes */
} self_t;

//  A local joiner until its join comes back: what it is owed meanwhile
//  (OUT replies) waits, and goes behind its ENTER.
typedef struct {
    uint64_t id;
    char    *name;
    zlist_t *held;
} pending_t;

//  Everything the room owns but its output pipe: it cannot fail, the
//  start can.
static self_t *
s_self_new (zsock_t *pipe, room_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->config = args->config;
    self->gateway_count = args->gateways ? args->gateways : 1;
    assert (self->gateway_count <= MSG_GATEWAYS_MAX);
    snprintf (self->name, sizeof self->name, "%s", args->name);
    log_setup (&self->log, &self->config, "room[%s]", args->name);
    self->history_size = (size_t) self->config.history;
    self->history = history_new (self->history_size);
    self->history_bytes = args->history_bytes ? args->history_bytes : ROOM_REPLAY_MAX;
    const char *data_dir = self->config.data_dir;
    if (*data_dir && !store_path (data_dir, self->name, self->path, sizeof self->path))
        snprintf (self->path, sizeof self->path, "%s/?", data_dir);
    buf_init (&self->scratch);
    buf_init (&self->event);
    //  Without a gateway that takes events, every event part is "": an
    //  nc-only server formats nothing more than it did.
    self->events = self->config.http_port != 0;
    self->cluster = *self->config.cluster != 0;
    if (self->cluster) {
        self->cluster_queue = zlist_new ();
        self->pending = zlist_new ();
    }
    return self;
}

//  false (logged) when the room cannot start: an output pipe cannot be
//  bound. Our BYEs must reach the gateways even though we close right
//  after them: the pipes' linger (messages.h) sees to that.
static bool
s_self_start (self_t *self, unsigned seq)
{
    for (unsigned g = 0; g < self->gateway_count; g++) {
        char endpoint [ENDPOINT_MAX];
        endpoint_room (&self->config, seq, g, endpoint);
        self->gateways [g] = msg_pipe_new (endpoint, true);
        if (!self->gateways [g]) {
            log_info (&self->log, "E: cannot bind %s: %s", endpoint, strerror (errno));
            return false;
        }
    }
    if (self->cluster) {
        char endpoint [ENDPOINT_MAX];
        endpoint_room_cluster (&self->config, seq, endpoint);
        self->cluster_pipe = msg_pipe_new (endpoint, true);
        if (!self->cluster_pipe) {
            log_info (&self->log, "E: cannot bind %s: %s", endpoint, strerror (errno));
            return false;
        }
    }
    return true;
}

static void
s_pending_destroy (pending_t **pending_p)
{
    pending_t *pending = *pending_p;
    zmsg_t    *msg;
    while ((msg = (zmsg_t *) zlist_pop (pending->held)))
        zmsg_destroy (&msg);
    zlist_destroy (&pending->held);
    free (pending->name);
    free (pending);
    *pending_p = NULL;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->members; i++) {
        free (self->names [i]);
        if (self->keys)
            free (self->keys [i]);
    }
    free (self->names);
    free (self->keys);
    free (self->local);
    if (self->pending) {
        pending_t *pending;
        while ((pending = (pending_t *) zlist_pop (self->pending)))
            s_pending_destroy (&pending);
        zlist_destroy (&self->pending);
    }
    if (self->cluster_queue) {
        zmsg_t *msg;
        while ((msg = (zmsg_t *) zlist_pop (self->cluster_queue)))
            zmsg_destroy (&msg);
        zlist_destroy (&self->cluster_queue);
    }
    zsock_destroy (&self->cluster_pipe);
    free (self->ids);
    free (self->split);
    history_destroy (&self->history);
    buf_free (&self->scratch);
    buf_free (&self->event);
    assert (!self->writer);
    for (unsigned g = 0; g < self->gateway_count; g++)
        zsock_destroy (&self->gateways [g]);
    free (self);
    *self_p = NULL;
}

//  At start: the last lines of our file become our history.
static void
s_load_history (self_t *self)
{
    if (!*self->config.data_dir)
        return;
    int lines = store_load (self->config.data_dir, self->name, self->history_size, self->history);
    if (lines < 0)
        log_info (&self->log, "E: cannot read %s: %s (starting without history)", self->path,
                  store_strerror (errno));
    else if (lines > 0)
        log_info (&self->log, "reloaded %d line%s from %s", lines, lines == 1 ? "" : "s",
                  self->path);
}

//  The one place a writer's answer is read: STORED n says it is done
//  with every line up to the n-th it was handed.
static void
s_writer_take (self_t *self, zmsg_t **msg_p)
{
    msg_view_t view;
    msg_parse (*msg_p, &view);
    switch (view.kind) {
        case MSG_STORED:
            if (view.id > self->done)
                self->done = view.id;
            break;
        case MSG_TERM:
        case MSG_LINE:
        MSG_ANY_GROUP:
            msg_drop (&self->log, &view);
            break;
    }
    zmsg_destroy (msg_p);
}

//  What the writer has said it is done with, without waiting.
static void
s_writer_drain (self_t *self)
{
    zsock_t *pipe = actor_sock (self->writer);
    zmsg_t  *msg;
    while ((zsock_events (pipe) & ZMQ_POLLIN) && (msg = msg_recv (pipe)))
        s_writer_take (self, &msg);
}

//  Waits at most ms for the writer to be done with every line handed.
static void
s_writer_wait (self_t *self, int ms)
{
    zsock_t *pipe = actor_sock (self->writer);
    int64_t  deadline = zclock_mono () + ms;
    while (self->done < self->handed) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        zsock_set_rcvtimeo (pipe, (int) left);
        zmsg_t *msg = msg_recv (pipe);
        if (!msg)
            break;  //  Timed out
        s_writer_take (self, &msg);
    }
    zsock_set_rcvtimeo (pipe, -1);
}

static bool
s_writer_start (self_t *self)
{
    writer_args_t *args = (writer_args_t *) zmalloc (sizeof (writer_args_t));
    args->config = self->config;
    snprintf (args->name, sizeof args->name, "%s", self->name);
    self->writer = actor_new_capped (writer_actor, args, WRITER_QUEUE);
    if (!self->writer)
        return false;
    //  Handing a line over never waits: a full queue is an answer.
    zsock_set_sndtimeo (actor_sock (self->writer), 0);
    return true;
}

//  A chat line goes to our file before anyone receives it while the disk
//  answers within ROOM_STORE_WAIT_MS. Once it has not, lines are handed
//  over without waiting (broadcast first) until the writer has caught
//  up; once its queue is full they are not handed over at all: kept in
//  memory history only, counted, and logged once.
static void
s_store_line (self_t *self, const char *line, size_t size)
{
    if (!*self->config.data_dir)
        return;
    if (!self->writer && !s_writer_start (self)) {
        if (!self->dropping)
            log_info (&self->log,
                      "E: cannot start a writer for %s: %s (lines kept in memory "
                      "only until one starts)",
                      self->path, strerror (errno));
        self->dropping = true;
        self->unwritten++;
        return;
    }
    s_writer_drain (self);
    if (self->behind && self->done == self->handed) {
        log_info (&self->log, "%s answers again: every line handed to it is done", self->path);
        self->behind = false;
        self->dropping = false;
    }
    zmsg_t *msg = msg_new_store (line, size);
    if (msg_send (&msg, actor_sock (self->writer)) != 0) {
        if (!self->dropping)
            log_info (&self->log,
                      "E: %s is not keeping up (%" PRIu64 " lines waiting): lines "
                      "kept in memory only until it does",
                      self->path, self->handed - self->done);
        self->dropping = true;
        self->unwritten++;
        return;
    }
    self->handed++;
    if (self->behind)
        return;
    s_writer_wait (self, ROOM_STORE_WAIT_MS);
    if (self->done < self->handed) {
        log_info (&self->log,
                  "E: %s did not answer within %d ms: lines are broadcast "
                  "without waiting for it until it does",
                  self->path, ROOM_STORE_WAIT_MS);
        self->behind = true;
    }
}

//  The writer gets ROOM_STORE_STOP_MS to finish; a writer stuck in the
//  kernel is left behind (detached), and what it had not done is said.
static void
s_writer_stop (self_t *self)
{
    uint64_t lost = self->unwritten;
    if (self->writer) {
        s_writer_drain (self);
        uint64_t pending = self->handed - self->done;
        if (!actor_stop (&self->writer, ROOM_STORE_STOP_MS))
            lost += pending;
    }
    if (lost)
        log_info (&self->log, "E: %" PRIu64 " line%s not written to %s", lost, lost == 1 ? "" : "s",
                  self->path);
}

static ssize_t
s_member_index (self_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->members; i++)
        if (self->ids [i] == id)
            return (ssize_t) i;
    return -1;
}

static void
s_member_add (self_t *self, uint64_t id, char *name)
{
    if (self->members == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2 : 8;
        self->ids = (uint64_t *) mem_realloc (self->ids, self->capacity * sizeof (uint64_t));
        self->names = (char **) mem_realloc (self->names, self->capacity * sizeof (char *));
        if (self->gateway_count > 1)
            self->split =
                (uint64_t *) mem_realloc (self->split, self->capacity * sizeof (uint64_t));
        if (self->cluster) {
            self->keys = (char **) mem_realloc (self->keys, self->capacity * sizeof (char *));
            self->local =
                (uint64_t *) mem_realloc (self->local, self->capacity * sizeof (uint64_t));
        }
    }
    if (self->cluster)
        self->keys [self->members] = NULL;  //  The caller sets it
    self->ids [self->members] = id;
    self->names [self->members] = name;
    self->members++;
    if (self->members > self->peak)
        self->peak = self->members;
}

//  Keeps the order of entry, which /users shows.
static void
s_member_remove (self_t *self, size_t index)
{
    free (self->names [index]);
    size_t tail = self->members - index - 1;
    memmove (self->ids + index, self->ids + index + 1, tail * sizeof (uint64_t));
    memmove (self->names + index, self->names + index + 1, tail * sizeof (char *));
    if (self->cluster) {
        free (self->keys [index]);
        memmove (self->keys + index, self->keys + index + 1, tail * sizeof (char *));
    }
    self->members--;
}

//  A message about one client goes to its gateway. Members' ids come
//  from the hub, which takes a client only from the gateway its id names.
static void
s_to_gateway (self_t *self, uint64_t id, zmsg_t *msg)
{
    unsigned g = msg_id_gateway (id);
    assert (g < self->gateway_count);
    msg_send (&msg, self->gateways [g]);
}

//  Text plus a prompt to every member but skip; skip gets a bare prompt
//  when prompt_skip is set. Each gateway gets its own members' ids only,
//  and only a gateway with members gets the OUT at all. The event
//  (self->event, built by the caller when self->events) goes with it to
//  each, and is cleared.
static void
s_broadcast (self_t *self, const char *text, size_t size, uint64_t skip, bool prompt_skip)
{
    const char     *event = buf_head (&self->event);
    size_t          event_size = buf_size (&self->event);
    const uint64_t *ids = self->ids;
    size_t          members = self->members;
    //  Cluster mode: to the local members only (other nodes' rooms send
    //  to theirs).
    if (self->cluster) {
        members = 0;
        for (size_t i = 0; i < self->members; i++)
            if (self->ids [i])
                self->local [members++] = self->ids [i];
        ids = self->local;
    }
    if (self->gateway_count == 1) {
        zmsg_t *msg = msg_new_out (skip, text, size, ids, members, prompt_skip, event, event_size);
        msg_send (&msg, self->gateways [0]);
    } else
        for (unsigned g = 0; g < self->gateway_count; g++) {
            size_t count = 0;
            for (size_t i = 0; i < members; i++)
                if (msg_id_gateway (ids [i]) == g)
                    self->split [count++] = ids [i];
            if (count == 0)
                continue;
            uint64_t gskip = skip && msg_id_gateway (skip) == g ? skip : 0;
            zmsg_t  *msg =
                msg_new_out (gskip, text, size, self->split, count, prompt_skip, event, event_size);
            msg_send (&msg, self->gateways [g]);
        }
    buf_clear (&self->event);
}

//  "NAME has joined our chat..." (or left) to every member, with its
//  event: the notices of a single room and of a cluster's entries alike.
static void
s_announce (self_t *self, const char *name, bool joined)
{
    buf_t *out = &self->scratch;
    if (joined)
        fmt_joined (out, name);
    else
        fmt_left (out, name);
    if (self->events && joined)
        event_joined (&self->event, self->name, name);
    else if (self->events)
        event_left (&self->event, self->name, name);
    s_broadcast (self, buf_head (out), buf_size (out), 0, false);
    buf_clear (out);
}

//  Text and its event (self->event, then cleared) for one member.
static void
s_send_to_one (self_t *self, uint64_t id, const char *text, size_t size)
{
    buf_t *event = &self->event;
    s_to_gateway (self, id,
                  msg_new_out (0, text, size, &id, 1, false, buf_head (event), buf_size (event)));
    buf_clear (event);
}

//  Cluster mode's (below).
static void       s_cluster_join (self_t *self, msg_view_t *view);
static void       s_cluster_leave (self_t *self, msg_view_t *view);
static void       s_cluster_line (self_t *self, msg_view_t *view);
static void       s_cluster_rename (self_t *self, msg_view_t *view);
static void       s_cluster_to_one (self_t *self, uint64_t id, const char *text, size_t size);
static pending_t *s_pending_find (self_t *self, uint64_t id);

//  Cluster mode: a member, or a joiner whose output waits for its ENTER.
static bool
s_is_member (self_t *self, uint64_t id)
{
    return s_member_index (self, id) >= 0 || (self->cluster && s_pending_find (self, id));
}

static void
s_handle_join (self_t *self, msg_view_t *view)
{
    if (self->cluster) {
        s_cluster_join (self, view);
        return;
    }
    char *name = msg_strdup (view, 0);
    s_announce (self, name, true);

    buf_t *out = &self->scratch;
    s_member_add (self, view->id, name);
    history_render_newest (self->history, self->history_bytes, out);
    buf_t *event = &self->event;
    if (self->events)
        event_entered (event, self->name, name, buf_head (out), buf_size (out));
    s_to_gateway (self, view->id,
                  msg_new_enter (view->id, name, buf_head (out), buf_size (out), buf_head (event),
                                 buf_size (event)));
    buf_clear (out);
    buf_clear (event);
    log_info (&self->log, "%s joined (%zu member%s)", name, self->members,
              self->members == 1 ? "" : "s");
}

static void
s_handle_leave (self_t *self, msg_view_t *view)
{
    if (self->cluster) {
        s_cluster_leave (self, view);
        return;
    }
    ssize_t index = s_member_index (self, view->id);
    if (index < 0)
        return;
    char *name = mem_check (strdup (self->names [index]));
    s_member_remove (self, (size_t) index);
    s_announce (self, name, false);
    bool moving = msg_bool (view, 0);
    //  Behind all we sent it: a mover's next room may speak now, and a
    //  client that left may be closed, its last line written.
    s_to_gateway (self, view->id, msg_new_release (view->id, moving));
    log_info (&self->log, "%s left%s (%zu member%s)", name, moving ? " for another room" : "",
              self->members, self->members == 1 ? "" : "s");
    free (name);
}

static void
s_handle_line (self_t *self, msg_view_t *view)
{
    if (self->cluster) {
        s_cluster_line (self, view);
        return;
    }
    ssize_t index = s_member_index (self, view->id);
    if (index < 0)
        return;
    const char *text = view->part [0].data;
    size_t      size = view->part [0].size;
    if (text_is_blank (text, size)) {
        s_send_to_one (self, view->id, "", 0);
        return;
    }
    buf_t      *out = &self->scratch;
    const char *stamp = stamp_now (&self->stamp);
    buf_append (out, "\n", 1);
    fmt_chat_line (out, stamp, self->names [index], text, size);
    if (self->events)
        event_line (&self->event, self->name, stamp, self->names [index], text, size);
    //  History keeps the line without the newlines that frame it on screen.
    history_add (self->history, buf_head (out) + 1, buf_size (out) - 1);
    s_store_line (self, buf_head (out) + 1, buf_size (out) - 1);
    buf_append (out, "\n", 1);
    s_broadcast (self, buf_head (out), buf_size (out), view->id, true);
    buf_clear (out);
    self->lines++;
    log_debug (&self->log, "line from %s (%zu bytes)", self->names [index], size);
}

static void
s_handle_say (self_t *self, msg_view_t *view)
{
    if (!s_is_member (self, view->id))
        return;
    //  The hub built the event, or left it "".
    const msg_part_t *event = &view->part [1];
    if (self->cluster) {
        buf_append (&self->event, event->data, event->size);
        s_cluster_to_one (self, view->id, view->part [0].data, view->part [0].size);
        return;
    }
    s_to_gateway (self, view->id,
                  msg_new_out (0, view->part [0].data, view->part [0].size, &view->id, 1, false,
                               event->data, event->size));
}

static void
s_handle_users (self_t *self, msg_view_t *view)
{
    if (!s_is_member (self, view->id))
        return;
    buf_t *out = &self->scratch;
    fmt_users (out, self->name, self->names, self->members);
    if (self->events)
        event_users (&self->event, self->name, self->names, self->members);
    if (self->cluster)
        s_cluster_to_one (self, view->id, buf_head (out), buf_size (out));
    else
        s_send_to_one (self, view->id, buf_head (out), buf_size (out));
    buf_clear (out);
}

static void
s_handle_rename (self_t *self, msg_view_t *view)
{
    if (self->cluster) {
        s_cluster_rename (self, view);
        return;
    }
    ssize_t index = s_member_index (self, view->id);
    if (index < 0)
        return;
    char  *old_name = self->names [index];
    char  *new_name = msg_strdup (view, 0);
    buf_t *out = &self->scratch;
    fmt_renamed (out, old_name, new_name);
    //  Skipped without prompt_skip, the renamer gets the event but once:
    //  in its own OUT below.
    if (self->events)
        event_renamed (&self->event, self->name, old_name, new_name);
    s_broadcast (self, buf_head (out), buf_size (out), view->id, false);
    s_to_gateway (self, view->id, msg_new_label (view->id, new_name));
    //  The renamer sees the same notice as a reply: without the leading
    //  newline, since its cursor is already at the start of a line.
    if (self->events)
        event_renamed (&self->event, self->name, old_name, new_name);
    s_send_to_one (self, view->id, buf_head (out) + 1, buf_size (out) - 1);
    buf_clear (out);
    log_info (&self->log, "%s is now %s", old_name, new_name);
    free (old_name);
    self->names [index] = new_name;
}

//  ---------------------------------------------------------------------
//  Cluster mode: the room publishes what its members do, and acts on the
//  room's stream as the cluster actor reads it back, so every node's
//  room shows one order. Nothing here runs without --cluster.

//  Never a blocking send to the cluster actor (it never blocks on us).
//  At ROOM_CLUSTER_QUEUE_MAX the room stops reading the hub's pipe
//  (s_cluster_run): that pipe fills, then the hub's queue for the room,
//  and the hub pauses the room's members at its cap as for any room that
//  does not read. No message for it: the pipes carry the pressure.
static void
s_cluster_send (self_t *self, zmsg_t *msg)
{
    if (zlist_size (self->cluster_queue) == 0 &&
        (zsock_events (self->cluster_pipe) & ZMQ_POLLOUT)) {
        msg_send (&msg, self->cluster_pipe);
        return;
    }
    zlist_append (self->cluster_queue, msg);
    if (!self->cluster_full && zlist_size (self->cluster_queue) >= ROOM_CLUSTER_QUEUE_MAX) {
        log_info (&self->log, "the cluster is %d messages behind: the hub's pipe waits",
                  ROOM_CLUSTER_QUEUE_MAX);
        self->cluster_full = true;
    }
}

//  The hub's pipe is read again once half the cap is free, so the room
//  does not flap at the edge.
static void
s_cluster_flush (self_t *self)
{
    while (zlist_size (self->cluster_queue) && (zsock_events (self->cluster_pipe) & ZMQ_POLLOUT)) {
        zmsg_t *msg = (zmsg_t *) zlist_pop (self->cluster_queue);
        msg_send (&msg, self->cluster_pipe);
    }
    if (self->cluster_full && zlist_size (self->cluster_queue) <= ROOM_CLUSTER_QUEUE_MAX / 2) {
        log_info (&self->log, "the cluster caught up: the hub's pipe is read again");
        self->cluster_full = false;
    }
}

static void
s_publish (self_t *self, uint64_t id, const char *kind, const char *name, const char *text,
           size_t size)
{
    const char *stamp = stamp_now (&self->stamp);
    s_cluster_send (self, msg_new_publish (id, kind, name, text, size, stamp));
}

static pending_t *
s_pending_find (self_t *self, uint64_t id)
{
    for (pending_t *pending = (pending_t *) zlist_first (self->pending); pending;
         pending = (pending_t *) zlist_next (self->pending))
        if (pending->id == id)
            return pending;
    return NULL;
}

//  The name id publishes under: a member's, or a pending joiner's.
static char **
s_publisher_name (self_t *self, uint64_t id)
{
    ssize_t index = s_member_index (self, id);
    if (index >= 0)
        return &self->names [index];
    pending_t *pending = s_pending_find (self, id);
    return pending ? &pending->name : NULL;
}

static ssize_t
s_key_index (self_t *self, const char *key, size_t size)
{
    for (size_t i = 0; i < self->members; i++)
        if (strlen (self->keys [i]) == size && memcmp (self->keys [i], key, size) == 0)
            return (ssize_t) i;
    return -1;
}

//  An OUT for one local client: to its gateway, or held behind its ENTER
//  while its join has not come back.
static void
s_cluster_to_one (self_t *self, uint64_t id, const char *text, size_t size)
{
    buf_t     *event = &self->event;
    zmsg_t    *msg = msg_new_out (0, text, size, &id, 1, false, buf_head (event), buf_size (event));
    pending_t *pending = s_member_index (self, id) < 0 ? s_pending_find (self, id) : NULL;
    buf_clear (event);
    if (pending)
        zlist_append (pending->held, msg);
    else
        s_to_gateway (self, id, msg);
}

static void
s_cluster_join (self_t *self, msg_view_t *view)
{
    pending_t *pending = (pending_t *) zmalloc (sizeof (pending_t));
    pending->id = view->id;
    pending->name = msg_strdup (view, 0);
    pending->held = zlist_new ();
    zlist_append (self->pending, pending);
    s_publish (self, view->id, "join", pending->name, "", 0);
}

//  Gone from here at once (its gateway may close it, or move it on);
//  the others hear of it when the leave comes back.
static void
s_cluster_leave (self_t *self, msg_view_t *view)
{
    char   *name = NULL;
    ssize_t index = s_member_index (self, view->id);
    if (index >= 0) {
        name = mem_check (strdup (self->names [index]));
        s_member_remove (self, (size_t) index);
    } else {
        pending_t *pending = s_pending_find (self, view->id);
        if (!pending)
            return;
        zlist_remove (self->pending, pending);
        name = mem_check (strdup (pending->name));
        s_pending_destroy (&pending);
    }
    s_publish (self, view->id, "leave", name, "", 0);
    bool moving = msg_bool (view, 0);
    s_to_gateway (self, view->id, msg_new_release (view->id, moving));
    log_info (&self->log, "%s left%s", name, moving ? " for another room" : "");
    free (name);
}

static void
s_cluster_line (self_t *self, msg_view_t *view)
{
    char **name = s_publisher_name (self, view->id);
    if (!name)
        return;
    const char *text = view->part [0].data;
    size_t      size = view->part [0].size;
    if (text_is_blank (text, size)) {
        s_cluster_to_one (self, view->id, "", 0);
        return;
    }
    s_publish (self, view->id, "line", *name, text, size);
}

//  The new name is the one this room publishes under from now on; the
//  notice and the gateway's label wait for the rename to come back.
static void
s_cluster_rename (self_t *self, msg_view_t *view)
{
    char **name = s_publisher_name (self, view->id);
    if (!name)
        return;
    s_publish (self, view->id, "rename", *name, view->part [0].data, view->part [0].size);
    free (*name);
    *name = msg_strdup (view, 0);
}

//  A part of an entry as a string (entries' parts are not terminated).
static char *
s_entry_str (const msg_part_t *part)
{
    return mem_check (strndup (part->data, part->size));
}

static bool
s_entry_is (const msg_entry_t *entry, const char *kind)
{
    return entry->kind.size == strlen (kind) &&
           memcmp (entry->kind.data, kind, entry->kind.size) == 0;
}

//  The node part of a member key "NODE/ID", as a %.*s length.
static int
s_key_node (const msg_part_t *key)
{
    const char *slash = (const char *) memrchr (key->data, '/', key->size);
    return (int) (slash ? (size_t) (slash - key->data) : key->size);
}

static void
s_entry_join (self_t *self, const msg_entry_t *entry)
{
    char *name = s_entry_str (&entry->name);
    s_announce (self, name, true);
    buf_t     *out = &self->scratch;
    pending_t *pending = entry->local ? s_pending_find (self, entry->local) : NULL;
    if (pending) {
        //  Our joiner: in, with the history as of this point in the order.
        zlist_remove (self->pending, pending);
        s_member_add (self, pending->id, mem_check (strdup (pending->name)));
        self->keys [self->members - 1] = s_entry_str (&entry->member);
        history_render_newest (self->history, self->history_bytes, out);
        buf_t *event = &self->event;
        if (self->events)
            event_entered (event, self->name, pending->name, buf_head (out), buf_size (out));
        s_to_gateway (self, pending->id,
                      msg_new_enter (pending->id, pending->name, buf_head (out), buf_size (out),
                                     buf_head (event), buf_size (event)));
        buf_clear (out);
        buf_clear (event);
        zmsg_t *msg;
        while ((msg = (zmsg_t *) zlist_pop (pending->held)))
            s_to_gateway (self, pending->id, msg);
        log_info (&self->log, "%s joined (%zu member%s)", name, self->members,
                  self->members == 1 ? "" : "s");
        s_pending_destroy (&pending);
    } else if (!entry->local && s_key_index (self, entry->member.data, entry->member.size) < 0) {
        s_member_add (self, 0, mem_check (strdup (name)));
        self->keys [self->members - 1] = s_entry_str (&entry->member);
        self->remote++;
        log_info (&self->log, "%s joined from node %.*s (%zu member%s)", name,
                  s_key_node (&entry->member), entry->member.data, self->members,
                  self->members == 1 ? "" : "s");
    }
    free (name);
}

static void
s_entry_leave (self_t *self, const msg_entry_t *entry)
{
    if (!entry->local) {
        ssize_t index = s_key_index (self, entry->member.data, entry->member.size);
        if (index < 0)
            return;  //  Never seen here: nobody here saw it join
        s_member_remove (self, (size_t) index);
        self->remote--;
    }
    char *name = s_entry_str (&entry->name);
    s_announce (self, name, false);
    if (!entry->local)
        log_info (&self->log, "%s left from node %.*s (%zu member%s)", name,
                  s_key_node (&entry->member), entry->member.data, self->members,
                  self->members == 1 ? "" : "s");
    free (name);
}

static void
s_entry_line (self_t *self, const msg_entry_t *entry)
{
    char   stamp [STAMP_SIZE];
    size_t stamp_size = entry->stamp.size < STAMP_SIZE ? entry->stamp.size : STAMP_SIZE - 1;
    memcpy (stamp, entry->stamp.data, stamp_size);
    stamp [stamp_size] = 0;
    char   *name = s_entry_str (&entry->name);
    ssize_t author = entry->local ? s_member_index (self, entry->local) : -1;
    buf_t  *out = &self->scratch;
    buf_append (out, "\n", 1);
    fmt_chat_line (out, stamp, name, entry->text.data, entry->text.size);
    if (self->events)
        event_line (&self->event, self->name, stamp, name, entry->text.data, entry->text.size);
    history_add (self->history, buf_head (out) + 1, buf_size (out) - 1);
    buf_append (out, "\n", 1);
    s_broadcast (self, buf_head (out), buf_size (out), author >= 0 ? entry->local : 0, true);
    buf_clear (out);
    self->lines++;
    free (name);
}

static void
s_entry_rename (self_t *self, const msg_entry_t *entry)
{
    char   *old_name = s_entry_str (&entry->name);
    char   *new_name = s_entry_str (&entry->text);
    ssize_t index = entry->local ? s_member_index (self, entry->local)
                                 : s_key_index (self, entry->member.data, entry->member.size);
    buf_t  *out = &self->scratch;
    fmt_renamed (out, old_name, new_name);
    if (self->events)
        event_renamed (&self->event, self->name, old_name, new_name);
    uint64_t renamer = index >= 0 && entry->local ? entry->local : 0;
    s_broadcast (self, buf_head (out), buf_size (out), renamer, false);
    if (renamer) {
        s_to_gateway (self, renamer, msg_new_label (renamer, new_name));
        if (self->events)
            event_renamed (&self->event, self->name, old_name, new_name);
        s_send_to_one (self, renamer, buf_head (out) + 1, buf_size (out) - 1);
    } else if (index >= 0) {
        free (self->names [index]);
        self->names [index] = mem_check (strdup (new_name));
    }
    buf_clear (out);
    log_info (&self->log, "%s is now %s", old_name, new_name);
    free (old_name);
    free (new_name);
}

static void
s_cluster_entries (self_t *self, msg_view_t *view)
{
    size_t      offset = 0;
    msg_entry_t entry;
    while (msg_entries_next (view, &offset, &entry)) {
        if (s_entry_is (&entry, "line"))
            s_entry_line (self, &entry);
        else if (s_entry_is (&entry, "join"))
            s_entry_join (self, &entry);
        else if (s_entry_is (&entry, "leave"))
            s_entry_leave (self, &entry);
        else if (s_entry_is (&entry, "rename"))
            s_entry_rename (self, &entry);
    }
}

//  Before any entry: the members of other nodes (ours are all joining
//  still), the history, as of the stream id the entries follow.
static void
s_cluster_state (self_t *self, msg_view_t *view)
{
    char prefix [CLUSTER_MEMBER_SIZE];
    snprintf (prefix, sizeof prefix, "%s/", self->config.node);
    const msg_part_t *members = &view->part [0], *lines = &view->part [1];
    for (const char *line = members->data, *end = line + members->size; line < end;) {
        const char *eol = (const char *) memchr (line, '\n', (size_t) (end - line));
        if (!eol)
            break;
        const char *tab = (const char *) memchr (line, '\t', (size_t) (eol - line));
        if (tab && strncmp (line, prefix, strlen (prefix)) != 0 &&
            s_key_index (self, line, (size_t) (tab - line)) < 0) {
            s_member_add (self, 0, mem_check (strndup (tab + 1, (size_t) (eol - tab - 1))));
            self->keys [self->members - 1] = mem_check (strndup (line, (size_t) (tab - line)));
            self->remote++;
        }
        line = eol + 1;
    }
    for (const char *line = lines->data, *end = line + lines->size; line < end;) {
        const char *eol = (const char *) memchr (line, '\n', (size_t) (end - line));
        if (!eol)
            break;
        history_add (self->history, line, (size_t) (eol - line));
        line = eol + 1;
    }
    log_info (&self->log, "following the cluster: %zu member%s on other nodes", self->remote,
              self->remote == 1 ? "" : "s");
}

//  Redis is away and this node holds all it may: what id did is lost,
//  and it is told so. A joiner comes in without its join in the order
//  rather than wait for ever.
static void
s_cluster_unsent (self_t *self, msg_view_t *view)
{
    char *kind = msg_strdup (view, 0);
    log_info (&self->log, "E: a %s was not published: the cluster holds too much", kind);
    pending_t *pending = s_pending_find (self, view->id);
    if (streq (kind, "join") && pending) {
        msg_entry_t entry = {.kind = {"join", 4},
                             .member = {"", 0},
                             .name = {pending->name, strlen (pending->name)},
                             .local = pending->id};
        char        key [CLUSTER_MEMBER_SIZE];
        cluster_member_key (self->config.node, pending->id, key);
        entry.member = (msg_part_t){key, strlen (key)};
        s_entry_join (self, &entry);
    } else if (streq (kind, "line") || streq (kind, "rename")) {
        if (self->events)
            event_error (&self->event, PROTOCOL_NOT_DELIVERED, strlen (PROTOCOL_NOT_DELIVERED));
        s_cluster_to_one (self, view->id, PROTOCOL_NOT_DELIVERED, strlen (PROTOCOL_NOT_DELIVERED));
    }
    free (kind);
}

static void
s_self_handle_cluster (self_t *self)
{
    zmsg_t *msg = msg_recv (self->cluster_pipe);
    if (!msg)
        return;
    msg_view_t view;
    msg_parse (msg, &view);
    switch (view.kind) {
        case MSG_ENTRIES:
            s_cluster_entries (self, &view);
            break;
        case MSG_STATE:
            s_cluster_state (self, &view);
            break;
        case MSG_UNSENT:
            if (s_member_index (self, view.id) >= 0 || s_pending_find (self, view.id))
                s_cluster_unsent (self, &view);
            break;
        case MSG_JOIN:
        case MSG_LEAVE:
        case MSG_SAY:
        case MSG_USERS:
        case MSG_RENAME:
        case MSG_TERM:
        case MSG_LINE:
        case MSG_STORED:
        MSG_NOT_FOR_ROOM:
            msg_drop (&self->log, &view);
            break;
    }
    zmsg_destroy (&msg);
}

static bool
s_self_handle_pipe (self_t *self)
{
    zmsg_t *msg = msg_recv (self->pipe);
    if (!msg)
        return false;  //  Interrupted
    bool       running = true;
    msg_view_t view;
    msg_parse (msg, &view);
    switch (view.kind) {
        case MSG_LINE:
            s_handle_line (self, &view);
            break;
        case MSG_JOIN:
            s_handle_join (self, &view);
            break;
        case MSG_LEAVE:
            s_handle_leave (self, &view);
            break;
        case MSG_SAY:
            s_handle_say (self, &view);
            break;
        case MSG_USERS:
            s_handle_users (self, &view);
            break;
        case MSG_RENAME:
            s_handle_rename (self, &view);
            break;
        case MSG_TERM:
            running = false;
            break;
        //  Cluster mode's (include/cluster.h): not on the hub's pipe.
        case MSG_UNSENT:
        case MSG_ENTRIES:
        case MSG_STATE:
        case MSG_STORED:
        MSG_NOT_FOR_ROOM:
            msg_drop (&self->log, &view);
            break;
    }
    zmsg_destroy (&msg);
    return running;
}

//  Cluster mode: the hub's pipe and the cluster's. At the end, what
//  waits for the cluster gets ROOM_CLUSTER_STOP_MS, then BYE, our last
//  word there (the pipe's linger carries it).
#define ROOM_CLUSTER_STOP_MS 1000

static void
s_cluster_run (self_t *self)
{
    bool running = true;
    while (running) {
        zmq_pollitem_t items [] = {
            {zsock_resolve (self->pipe), 0, (short) (self->cluster_full ? 0 : ZMQ_POLLIN), 0},
            {zsock_resolve (self->cluster_pipe), 0,
             (short) (ZMQ_POLLIN | (zlist_size (self->cluster_queue) ? ZMQ_POLLOUT : 0)), 0}};
        if (zmq_poll (items, 2, -1) < 0 && errno != EINTR)
            break;
        if (items [1].revents & ZMQ_POLLIN)
            s_self_handle_cluster (self);
        if (items [0].revents & ZMQ_POLLIN)
            running = s_self_handle_pipe (self);
        s_cluster_flush (self);
    }
    zlist_append (self->cluster_queue, msg_new_bye ());
    int64_t deadline = zclock_mono () + ROOM_CLUSTER_STOP_MS;
    while (zlist_size (self->cluster_queue) && zclock_mono () < deadline) {
        zmq_pollitem_t item = {zsock_resolve (self->cluster_pipe), 0, ZMQ_POLLOUT, 0};
        zmq_poll (&item, 1, 100);
        s_cluster_flush (self);
    }
    if (zlist_size (self->cluster_queue))
        log_info (&self->log, "E: %zu messages not sent to the cluster",
                  zlist_size (self->cluster_queue));
}

void
room_actor (zsock_t *pipe, void *args)
{
    room_args_t *room_args = (room_args_t *) args;
    self_t      *self = s_self_new (pipe, room_args);
    bool         started = s_self_start (self, room_args->seq);
    free (args);
    if (!started) {
        s_self_destroy (&self);
        zsock_signal (pipe, 1);
        return;
    }
    log_info (&self->log, "started");
    zsock_signal (pipe, 0);
    //  After the signal, so the hub does not wait for our disk; whatever
    //  it sends us meanwhile waits in the pipe until history is in place.
    s_load_history (self);

    if (self->cluster)
        s_cluster_run (self);
    else
        //  The hub is our only input, so a blocking receive is our poll loop.
        while (s_self_handle_pipe (self))
            ;
    s_writer_stop (self);
    for (unsigned g = 0; g < self->gateway_count; g++) {
        zmsg_t *bye = msg_new_bye ();
        msg_send (&bye, self->gateways [g]);
    }
    log_info (&self->log, "stopped (%" PRIu64 " line%s, peak %zu member%s)", self->lines,
              self->lines == 1 ? "" : "s", self->peak, self->peak == 1 ? "" : "s");
    s_self_destroy (&self);
}
