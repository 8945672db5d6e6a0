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
} self_t;

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
    return true;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->members; i++)
        free (self->names [i]);
    free (self->names);
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
    }
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
    const char *event = buf_head (&self->event);
    size_t      event_size = buf_size (&self->event);
    if (self->gateway_count == 1) {
        zmsg_t *msg = msg_new_out (skip, text, size, self->ids, self->members, prompt_skip, event,
                                   event_size);
        msg_send (&msg, self->gateways [0]);
    } else
        for (unsigned g = 0; g < self->gateway_count; g++) {
            size_t count = 0;
            for (size_t i = 0; i < self->members; i++)
                if (msg_id_gateway (self->ids [i]) == g)
                    self->split [count++] = self->ids [i];
            if (count == 0)
                continue;
            uint64_t gskip = skip && msg_id_gateway (skip) == g ? skip : 0;
            zmsg_t  *msg =
                msg_new_out (gskip, text, size, self->split, count, prompt_skip, event, event_size);
            msg_send (&msg, self->gateways [g]);
        }
    buf_clear (&self->event);
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

static void
s_handle_join (self_t *self, msg_view_t *view)
{
    char  *name = msg_strdup (view, 0);
    buf_t *out = &self->scratch;
    fmt_joined (out, name);
    if (self->events)
        event_joined (&self->event, self->name, name);
    s_broadcast (self, buf_head (out), buf_size (out), 0, false);
    buf_clear (out);

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
    ssize_t index = s_member_index (self, view->id);
    if (index < 0)
        return;
    char *name = mem_check (strdup (self->names [index]));
    s_member_remove (self, (size_t) index);
    buf_t *out = &self->scratch;
    fmt_left (out, name);
    if (self->events)
        event_left (&self->event, self->name, name);
    s_broadcast (self, buf_head (out), buf_size (out), 0, false);
    buf_clear (out);
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
    if (s_member_index (self, view->id) < 0)
        return;
    //  The hub built the event, or left it "".
    const msg_part_t *event = &view->part [1];
    s_to_gateway (self, view->id,
                  msg_new_out (0, view->part [0].data, view->part [0].size, &view->id, 1, false,
                               event->data, event->size));
}

static void
s_handle_users (self_t *self, msg_view_t *view)
{
    if (s_member_index (self, view->id) < 0)
        return;
    buf_t *out = &self->scratch;
    fmt_users (out, self->name, self->names, self->members);
    if (self->events)
        event_users (&self->event, self->name, self->names, self->members);
    s_send_to_one (self, view->id, buf_head (out), buf_size (out));
    buf_clear (out);
}

static void
s_handle_rename (self_t *self, msg_view_t *view)
{
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
