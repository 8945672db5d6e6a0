/* SPDX-License-Identifier: MIT */
/*  hub: the one source of truth for names and rooms.

    Moving a client between rooms is the one delicate part. The old room
    may still have output for the mover in its pipe to the gateway, and
    the new room must not overtake it. So a move is a relay: the hub tells
    the old room LEAVE (moving), the old room sends RELEASE down its own
    pipe behind everything it already sent, the gateway passes RELEASED
    back to the hub, and only then does the hub send JOIN to the new room.
    While a client is in transit the hub defers its input and holds output
    meant for it, in order, and replays both once the new room has it.

    With --data-dir, every room that has a file there comes back as the
    hub starts; each room reads and writes its own file (room.c), the hub
    only lists the directory and looks at file sizes.

    Why every queue here has a cap, and what happens at it: the hub takes
    whatever the gateway hands it, so a client that pipelines faster than
    its moves or its room can go would grow the hub without bound. At a
    cap the hub tells the gateway PAUSE id, the gateway stops reading that
    client's socket, and TCP pushes back on the client; RESUME id once the
    queue has drained. What was already in flight when PAUSE lands is
    still taken, so the caps are soft by that bounded amount.

    Why the hub never sends to a room with a blocking send: a room stuck
    for any reason (its disk, its gateway pipe) would stop every login and
    every command with it. Messages for a room whose pipe is full wait in
    a queue of its own, and the hub polls that pipe for room to send.

    Why rooms stop when idle: a room with history used to live for ever,
    so one client could fill --max-rooms for good. An empty room stops
    after --room-idle seconds; with --data-dir its history comes back from
    its file when someone joins it again.                               */
#include "hub.h"
#include "actor.h"
#include "command.h"
#include "endpoints.h"
#include "event.h"
#include "log.h"
#include "mem.h"
#include "messages.h"
#include "metrics.h"
#include "names.h"
#include "protocol.h"
#include "room.h"
#include "store.h"
#include "text.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define GENERAL "general"

#define GATEWAY_BUDGET 256   /* gateway messages per pass, so rooms get their turn */
#define BEHIND_LOG_MS  10000 /* a room falling behind is logged once per this */
#define SHUTDOWN_MS    1000  /* at shutdown: for rooms to take what waits for them */

//  Why a client is paused: it is resumed when no reason is left.
#define PAUSED_DEFERRED 1 /* its own deferred input is at the cap */
#define PAUSED_ROOM     2 /* its room's queue is at the cap */
#define PAUSED_CLUSTER  4 /* the queue to the cluster is at the cap */

typedef struct room_t room_t;
typedef struct self_t self_t;

typedef struct {
    uint64_t id; /* the gateway's connection id */
    char    *name;
    room_t  *room; /* in transit: the room it is moving to */
    bool     in_transit;
    bool     closed;       /* in transit: CLOSED came, leave once there */
    zlist_t *deferred;     /* in transit: its input (input_t), to replay */
    zlist_t *held;         /* in transit: SAYs for it, to deliver */
    unsigned paused;       /* PAUSED_* reasons; PAUSE sent while any */
    int64_t  room_rate_at; /* new-room pacing: the earliest next start, less the burst */
    //  Cluster mode: the name is being claimed from the cluster (input
    //  deferred and output held as for a mover); a /name's new name
    //  being claimed; the /msg sent to other nodes, unanswered (private_t).
    bool     claiming;
    char    *renaming;
    zlist_t *privates;
} client_t;

//  A /msg to another node's client, until the cluster answers: what the
//  sender is told then.
typedef struct {
    char *target; /* as typed */
    char *event;  /* the sender's copy ("" without --http) */
} private_t;

struct room_t {
    char     name [ROOM_MAX_CHARS + 1];
    char     key [ROOM_MAX_CHARS + 1]; /* folded name */
    actor_t *actor;                    /* the room's actor (actor.h) */
    unsigned seq;                      /* its endpoint's (endpoint_room) */
    size_t   members;                  /* counted here as clients are sent in */
    bool     has_history;              /* lines in memory or on disk: keep it a while */
    self_t  *hub;                      /* the owner, for sends from any helper */
    zlist_t *queue;                    /* messages waiting for room in its pipe */
    bool     full;                     /* queue at the cap: its members are paused */
    bool     behind_logged;            /* this time it fell behind was logged */
    int64_t  behind_log_at;            /* mono ms of that log line */
    int64_t  empty_since;              /* members went to 0 at (mono ms); 0: has members */
};

//  A mover's input, kept as it came: the message and its parse, so it
//  is parsed once however long it waits.
typedef struct {
    zmsg_t    *msg;
    msg_view_t view;
} input_t;

//  A room told to stop: its thread ends once it has read its pipe, and
//  actor_destroy, which waits for that, is only called when it has.
typedef struct {
    actor_t *actor;
    bool     term_sent; /* $TERM is in its pipe */
} stopping_t;

struct self_t {
    zsock_t            *pipe;                        /* from main */
    zsock_t            *gateways [MSG_GATEWAYS_MAX]; /* PAIR to each gateway */
    unsigned            gateway_count;
    config_t            config;
    int                 shutdown_ms; /* rooms' time at shutdown (hub_args_t) */
    log_t               log;
    zhashx_t           *clients;        /* id -> client_t */
    zhashx_t           *names;          /* folded name -> client_t (not owned) */
    name_confusables_t *confusables;    /* this thread's ICU spoof checker */
    zhashx_t           *lookalikes [2]; /* confusable keys -> client_t (not owned) */
    zhashx_t           *rooms;          /* folded name -> room_t */
    unsigned            room_seq;       /* for unique room endpoints */
    room_t             *general;
    size_t              rooms_queued; /* rooms whose queue is not empty */
    zmq_pollitem_t     *items;        /* poll set: pipe, gateways, rooms with a queue */
    room_t            **polled;       /* the room of each item past those ... */
    stopping_t        **polled_stop;  /* ... then the stopping room of each */
    zlist_t            *stopping;     /* stopping_t: rooms told to stop, not yet ended */
    size_t              poll_size;
    int64_t             idle_check; /* next look for idle rooms (mono ms); 0: none empty */
    //  /metrics (metrics.h): the hub's counters (its gauges are read when
    //  asked), and each gateway's latest STATS.
    uint64_t figures [METRICS_HUB_FIGURES];
    uint64_t gateway_figures [MSG_GATEWAYS_MAX][METRICS_GW_FIGURES];
    int64_t  started_at; /* mono ms */
    //  Cluster mode (--cluster): the pipe with the cluster actor, and what
    //  waits for it to have room (never a blocking send). NULL alone.
    zsock_t *cluster;
    zlist_t *cluster_queue;
    bool     cluster_full; /* the queue reached its cap: senders paused */
    bool     link_up;      /* the cluster's last LINK, for /metrics */
    uint64_t link_held;
};

//  Client ids are 64-bit integers used directly as zhashx keys.
static size_t
s_id_hash (const void *key)
{
    uint64_t x = (uint64_t) (uintptr_t) key;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t) x;
}

static int
s_id_compare (const void *a, const void *b)
{
    return a < b ? -1 : a > b;
}

static void
s_client_destroy (void **item)
{
    client_t *client = (client_t *) *item;
    if (!client)
        return;
    input_t *input;
    if (client->deferred) {
        while ((input = (input_t *) zlist_pop (client->deferred))) {
            zmsg_destroy (&input->msg);
            free (input);
        }
        zlist_destroy (&client->deferred);
    }
    zmsg_t *msg;
    if (client->held) {
        while ((msg = (zmsg_t *) zlist_pop (client->held)))
            zmsg_destroy (&msg);
        zlist_destroy (&client->held);
    }
    private_t *private;
    if (client->privates) {
        while ((private = (private_t *) zlist_pop (client->privates))) {
            free (private->target);
            free (private->event);
            free (private);
        }
        zlist_destroy (&client->privates);
    }
    free (client->renaming);
    free (client->name);
    free (client);
    *item = NULL;
}

static void
s_room_destroy (void **item)
{
    room_t *room = (room_t *) *item;
    if (!room)
        return;
    //  A room waits at most ROOM_STORE_STOP_MS for its disk: one that does
    //  not end even then is left to end on its own.
    actor_stop (&room->actor, ROOM_STORE_STOP_MS + 1000);
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlist_pop (room->queue)))
        zmsg_destroy (&msg);
    zlist_destroy (&room->queue);
    free (room);
    *item = NULL;
}

static room_t *s_room_new (self_t *self, const char *name, bool restored);
static void    s_to_gateway (self_t *self, unsigned g, zmsg_t *msg);
static int64_t s_room_due (self_t *self, room_t *room);
static void    s_idle_schedule (self_t *self, int64_t at);

static void s_pause (self_t *self, client_t *client, unsigned reason, bool on);

//  Cluster mode: never a blocking send to the cluster actor (it never
//  blocks on us either); what its pipe cannot take now waits in order.
//  At the cap the client whose input sent msg (NULL: none) is paused, so
//  a client that pipelines /rooms or /msg cannot grow the hub for ever;
//  the message is still queued: nothing is lost, the cap is soft by what
//  was in flight.
static void
s_cluster_send (self_t *self, client_t *client, zmsg_t *msg)
{
    assert (self->cluster);
    if (zlist_size (self->cluster_queue) == 0 && (zsock_events (self->cluster) & ZMQ_POLLOUT)) {
        msg_send (&msg, self->cluster);
        return;
    }
    zlist_append (self->cluster_queue, msg);
    if (zlist_size (self->cluster_queue) < HUB_CLUSTER_QUEUE_MAX)
        return;
    if (!self->cluster_full)
        log_info (&self->log, "the cluster is %d messages behind: its senders are paused",
                  HUB_CLUSTER_QUEUE_MAX);
    self->cluster_full = true;
    //  A client whose name is being claimed sends nothing more meanwhile
    //  (its input is deferred), and one refused is forgotten: no RESUME
    //  would follow its PAUSE.
    if (client && !client->claiming)
        s_pause (self, client, PAUSED_CLUSTER, true);
}

//  Resumes those paused for it once half the cap is free, so they do not
//  flap at the edge.
static void
s_cluster_flush (self_t *self)
{
    while (zlist_size (self->cluster_queue) && (zsock_events (self->cluster) & ZMQ_POLLOUT)) {
        zmsg_t *msg = (zmsg_t *) zlist_pop (self->cluster_queue);
        msg_send (&msg, self->cluster);
    }
    if (!self->cluster_full || zlist_size (self->cluster_queue) > HUB_CLUSTER_QUEUE_MAX / 2)
        return;
    self->cluster_full = false;
    log_info (&self->log, "the cluster caught up: its senders are resumed");
    for (client_t *client = (client_t *) zhashx_first (self->clients); client;
         client = (client_t *) zhashx_next (self->clients))
        s_pause (self, client, PAUSED_CLUSTER, false);
}

//  Everything the hub owns but its pipe and rooms: it cannot fail, the
//  start can.
static self_t *
s_self_new (zsock_t *pipe, hub_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->config = args->config;
    self->shutdown_ms = args->shutdown_ms ? args->shutdown_ms : SHUTDOWN_MS;
    self->gateway_count = args->gateways ? args->gateways : 1;
    assert (self->gateway_count <= MSG_GATEWAYS_MAX);
    self->started_at = zclock_mono ();
    log_setup (&self->log, &self->config, "hub");
    self->clients = zhashx_new ();
    zhashx_set_key_hasher (self->clients, s_id_hash);
    zhashx_set_key_comparator (self->clients, s_id_compare);
    zhashx_set_key_duplicator (self->clients, NULL);
    zhashx_set_key_destructor (self->clients, NULL);
    zhashx_set_destructor (self->clients, s_client_destroy);
    self->names = zhashx_new ();
    self->confusables = name_confusables_new ();
    self->lookalikes [0] = zhashx_new ();
    self->lookalikes [1] = zhashx_new ();
    self->rooms = zhashx_new ();
    zhashx_set_destructor (self->rooms, s_room_destroy);
    self->stopping = zlist_new ();
    self->cluster_queue = zlist_new ();
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->names);
    zhashx_destroy (&self->lookalikes [0]);
    zhashx_destroy (&self->lookalikes [1]);
    name_confusables_destroy (&self->confusables);
    zhashx_destroy (&self->clients);
    //  Stopping the rooms sends each one's BYE to the gateway. All are
    //  told first, so their waits for the disk overlap: the whole stop
    //  takes one ROOM_STORE_STOP_MS at most, not one per room.
    if (self->rooms)
        for (room_t *room = (room_t *) zhashx_first (self->rooms); room;
             room = (room_t *) zhashx_next (self->rooms))
            actor_term (room->actor);
    zhashx_destroy (&self->rooms);
    stopping_t *stop;
    while ((stop = (stopping_t *) zlist_pop (self->stopping))) {
        actor_stop (&stop->actor, ROOM_STORE_STOP_MS + 1000);
        free (stop);
    }
    zlist_destroy (&self->stopping);
    for (unsigned g = 0; g < self->gateway_count; g++)
        zsock_destroy (&self->gateways [g]);
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlist_pop (self->cluster_queue)))
        zmsg_destroy (&msg);
    zlist_destroy (&self->cluster_queue);
    zsock_destroy (&self->cluster);
    free (self->items);
    free (self->polled);
    free (self->polled_stop);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Rooms

//  Starts a room's actor and registers it; s_room_announce tells the
//  gateway. NULL (logged) when the room cannot start.
static room_t *
s_room_start (self_t *self, const char *name)
{
    room_args_t *args = (room_args_t *) zmalloc (sizeof (room_args_t));
    args->config = self->config;
    snprintf (args->name, sizeof args->name, "%s", name);
    unsigned seq = ++self->room_seq;
    args->seq = seq;
    args->gateways = self->gateway_count;
    //  What one joiner's replay can cost: the gateway holds it whole.
    args->history_bytes = ROOM_REPLAY_MAX;

    //  Out of threads or descriptors, this is an answer, not a wait or
    //  an abort: the caller says "Cannot create that room now."
    actor_t *actor = actor_new (room_actor, args);
    if (!actor) {
        log_info (&self->log, "E: cannot start room %s: %s", name,
                  errno == ECHILD ? "it failed to start (see its log)" : strerror (errno));
        return NULL;
    }
    room_t *room = (room_t *) zmalloc (sizeof (room_t));
    snprintf (room->name, sizeof room->name, "%s", name);
    name_fold (name, strlen (name), room->key);
    room->actor = actor;
    room->seq = seq;
    room->hub = self;
    room->queue = zlist_new ();
    //  Its file holds lines the room has reloaded (or will show once
    //  --history allows): a room with a past is not stopped when empty.
    room->has_history = *self->config.data_dir && store_has_lines (self->config.data_dir, name);
    zhashx_insert (self->rooms, room->key, room);
    self->figures [METRICS_HUB_ROOMS_CREATED]++;
    //  The room has bound its cluster pipe before it signalled.
    if (self->cluster) {
        char endpoint [ENDPOINT_MAX];
        endpoint_room_cluster (&self->config, seq, endpoint);
        s_cluster_send (self, NULL, msg_new_follow (name, endpoint));
    }
    return room;
}

//  Each gateway connects to the room's pipe for it; from now on the room
//  is counted and may idle out. restored: brought back from its file at
//  start (said so in the log).
static void
s_room_announce (self_t *self, room_t *room, bool restored)
{
    for (unsigned g = 0; g < self->gateway_count; g++) {
        char endpoint [ENDPOINT_MAX];
        endpoint_room (&self->config, room->seq, g, endpoint);
        s_to_gateway (self, g, msg_new_attach (endpoint));
    }
    size_t rooms = zhashx_size (self->rooms);
    if (restored)
        log_info (&self->log, "room %s restored from %s (%zu room%s)", room->name,
                  self->config.data_dir, rooms, rooms == 1 ? "" : "s");
    else
        log_info (&self->log, "room %s created (%zu room%s)", room->name, rooms,
                  rooms == 1 ? "" : "s");
    //  Empty until someone is counted in: a room restored at start and
    //  never joined idles out like any other.
    room->empty_since = zclock_mono ();
    int64_t due = room->has_history ? s_room_due (self, room) : -1;
    if (due >= 0)
        s_idle_schedule (self, due);
}

static room_t *
s_room_new (self_t *self, const char *name, bool restored)
{
    room_t *room = s_room_start (self, name);
    if (room)
        s_room_announce (self, room, restored);
    return room;
}

//  $TERM goes only when the pipe has room for it: never a wait.
static void
s_stop_send_term (stopping_t *stop)
{
    zsock_t *sock = actor_sock (stop->actor);
    if (!stop->term_sent && (zsock_events (sock) & ZMQ_POLLOUT)) {
        zmsg_t *term = msg_new_term ();
        stop->term_sent = msg_send (&term, sock) == 0;
    }
}

//  The room's messages all went into its pipe, so stopping it cannot
//  lose one (its $TERM comes behind them). It leaves the registry now;
//  its thread is collected when it has ended (s_self_poll), since
//  actor_destroy would wait for it to read everything in its pipe.
static void
s_room_stop (self_t *self, room_t *room, const char *why)
{
    assert (zlist_size (room->queue) == 0);
    char name [sizeof room->name];
    strcpy (name, room->name);
    stopping_t *stop = (stopping_t *) zmalloc (sizeof (stopping_t));
    stop->actor = room->actor;
    room->actor = NULL;
    s_stop_send_term (stop);
    zlist_append (self->stopping, stop);
    zhashx_delete (self->rooms, room->key);
    log_info (&self->log, "room %s stopped%s (%zu room%s)", name, why, zhashx_size (self->rooms),
              zhashx_size (self->rooms) == 1 ? "" : "s");
}

//  When an empty room is due to stop (mono ms), or -1 for never: at once
//  with nothing to show, after --room-idle with history.
static int64_t
s_room_due (self_t *self, room_t *room)
{
    if (room == self->general || room->members > 0)
        return -1;
    if (!room->has_history)
        return room->empty_since;
    if (self->config.room_idle == 0)
        return -1;
    return room->empty_since + (int64_t) self->config.room_idle * 1000;
}

static void
s_idle_schedule (self_t *self, int64_t at)
{
    if (self->idle_check == 0 || at < self->idle_check)
        self->idle_check = at;
}

//  A room nobody is in: stopped now when it has nothing to show and
//  nothing waiting for its pipe, else looked at again by s_rooms_idle.
static void
s_room_release (self_t *self, room_t *room)
{
    if (room == self->general || room->members > 0)
        return;
    room->empty_since = zclock_mono ();
    if (!room->has_history && zlist_size (room->queue) == 0)
        s_room_stop (self, room, "");
    else {
        int64_t due = s_room_due (self, room);
        if (due >= 0)
            s_idle_schedule (self, due);
    }
}

//  Stops the empty rooms whose time has come. Checked when the earliest
//  is due, so it costs nothing while no room is empty.
static void
s_rooms_idle (self_t *self)
{
    int64_t now = zclock_mono ();
    if (self->idle_check == 0 || now < self->idle_check)
        return;
    self->idle_check = 0;
    zlist_t *due = zlist_new ();
    for (room_t *room = (room_t *) zhashx_first (self->rooms); room;
         room = (room_t *) zhashx_next (self->rooms)) {
        int64_t at = s_room_due (self, room);
        if (at < 0)
            continue;
        if (at <= now && zlist_size (room->queue) == 0)
            zlist_append (due, room);
        else
            //  A queue must reach the room before it stops: look again soon.
            s_idle_schedule (self, at > now ? at : now + 100);
    }
    char why [LOG_REASON_SIZE];
    snprintf (why, sizeof why, " after %d s without members", self->config.room_idle);
    for (room_t *room = (room_t *) zlist_first (due); room; room = (room_t *) zlist_next (due))
        s_room_stop (self, room, room->has_history ? why : "");
    zlist_destroy (&due);
}

//  ---------------------------------------------------------------------
//  Pausing a client's input at the gateway

static void
s_pause (self_t *self, client_t *client, unsigned reason, bool on)
{
    unsigned was = client->paused;
    client->paused = on ? was | reason : was & ~reason;
    if (!was && client->paused)
        s_to_gateway (self, msg_id_gateway (client->id), msg_new_pause (client->id));
    else if (was && !client->paused)
        s_to_gateway (self, msg_id_gateway (client->id), msg_new_resume (client->id));
}

//  Every client whose input goes to room (members, and movers on their
//  way in) is paused while its queue is full, and resumed after.
static void
s_room_set_full (self_t *self, room_t *room, bool full)
{
    room->full = full;
    for (client_t *client = (client_t *) zhashx_first (self->clients); client;
         client = (client_t *) zhashx_next (self->clients))
        if (client->room == room)
            s_pause (self, client, PAUSED_ROOM, full);
    //  A room at the edge under a flood flips often: the log says so once
    //  in a while, not every time.
    int64_t now = zclock_mono ();
    if (full && (room->behind_log_at == 0 || now - room->behind_log_at >= BEHIND_LOG_MS)) {
        log_info (&self->log, "room %s is %d messages behind: its members are paused", room->name,
                  HUB_ROOM_QUEUE_MAX);
        room->behind_log_at = now;
        room->behind_logged = true;
    } else if (!full && room->behind_logged) {
        log_info (&self->log, "room %s caught up: its members are resumed", room->name);
        room->behind_logged = false;
    }
}

//  Never blocks: what the pipe cannot take now waits, in order, behind
//  what waits already.
static void
s_room_send (room_t *room, zmsg_t **msg_p)
{
    self_t  *self = room->hub;
    zsock_t *sock = actor_sock (room->actor);
    size_t   waiting = zlist_size (room->queue);
    if (waiting == 0 && (zsock_events (sock) & ZMQ_POLLOUT)) {
        msg_send (msg_p, sock);
        return;
    }
    if (waiting == 0)
        self->rooms_queued++;
    zlist_append (room->queue, *msg_p);
    *msg_p = NULL;
    if (!room->full && waiting + 1 >= HUB_ROOM_QUEUE_MAX)
        s_room_set_full (self, room, true);
}

//  The room's pipe has room: send what waited. Resumes its members once
//  half the cap is free, so they do not flap at the edge.
static void
s_room_flush (self_t *self, room_t *room)
{
    zsock_t *sock = actor_sock (room->actor);
    while (zlist_size (room->queue) && (zsock_events (sock) & ZMQ_POLLOUT)) {
        zmsg_t *msg = (zmsg_t *) zlist_pop (room->queue);
        msg_send (&msg, sock);
    }
    if (zlist_size (room->queue) == 0)
        self->rooms_queued--;
    if (room->full && zlist_size (room->queue) <= HUB_ROOM_QUEUE_MAX / 2)
        s_room_set_full (self, room, false);
}

//  Names and rooms are both registered under their folded spelling.
static void *
s_lookup_folded (zhashx_t *registry, const char *name, size_t size)
{
    char key [NAME_MAX_BYTES + 1];
    if (size > NAME_MAX_BYTES)
        return NULL;
    name_fold (name, size, key);
    return zhashx_lookup (registry, key);
}

//  At start, with a data dir: one room per file with lines in it, in
//  order of name, as many as --max-rooms allows. general reloads its own
//  file. The rest is logged and left alone on disk.
static void
s_restore_rooms (self_t *self)
{
    const char *dir = self->config.data_dir;
    if (!*dir)
        return;
    zlist_t *names = store_list_refused (dir);
    for (const char *name = names ? (const char *) zlist_first (names) : NULL; name;
         name = (const char *) zlist_next (names)) {
        char path [PATH_MAX];
        if (store_path (dir, name, path, sizeof path))
            log_info (&self->log, "E: %s ignored: %s", path, store_strerror (STORE_NOT_REGULAR));
    }
    zlist_destroy (&names);
    names = store_list (dir);
    if (!names) {
        log_info (&self->log, "E: cannot list %s: %s (no room restored)", dir, strerror (errno));
        return;
    }
    for (const char *name = (const char *) zlist_first (names); name;
         name = (const char *) zlist_next (names)) {
        //  store_list gives room names only: nothing else is a room's file.
        char path [PATH_MAX];
        if (streq (name, GENERAL) || !store_path (dir, name, path, sizeof path) ||
            !store_has_lines (dir, name))
            continue;
        room_t *same = (room_t *) s_lookup_folded (self->rooms, name, strlen (name));
        if (same)
            log_info (&self->log, "%s ignored: room %s is already there", path, same->name);
        else if ((int) zhashx_size (self->rooms) >= self->config.max_rooms)
            log_info (&self->log, "room %s not restored: too many rooms (max %d)", name,
                      self->config.max_rooms);
        else
            s_room_new (self, name, true);
    }
    zlist_destroy (&names);
}

//  ---------------------------------------------------------------------
//  Talking to a client through its room, which orders its output

static void
s_to_room_of (client_t *client, zmsg_t **msg_p)
{
    if (client->in_transit || client->claiming) {
        if (!client->held)
            client->held = zlist_new ();
        zlist_append (client->held, *msg_p);
        *msg_p = NULL;
    } else
        s_room_send (client->room, msg_p);
}

//  Output from others (/msg) has a cap: what a mover holds, or its
//  room's queue. The sender is told, nothing is dropped unsaid.
static bool
s_can_take (const client_t *client)
{
    if (client->in_transit || client->claiming)
        return !client->held || zlist_size (client->held) < HUB_HELD_MAX;
    return !client->room->full;
}

//  Text for client, and the same as an event (event.h) when one is
//  built: a SAY carries both to its room.
static void
s_say_event (client_t *client, const char *text, size_t size, const buf_t *event)
{
    zmsg_t *msg = msg_new_say (client->id, text, size, buf_head (event), buf_size (event));
    s_to_room_of (client, &msg);
}

//  The event of a reply text: event_reply (information asked for) or
//  event_error (every other reply).
typedef void (event_text_fn) (buf_t *out, const char *text, size_t len);

//  A reply for client; its event is made only when a gateway takes
//  events (--http), so an nc-only server formats none.
static void
s_say (self_t *self, client_t *client, event_text_fn *make, const char *text)
{
    size_t size = strlen (text);
    buf_t  event;
    buf_init (&event);
    if (self->config.http_port)
        make (&event, text, size);
    s_say_event (client, text, size, &event);
    buf_free (&event);
}

static void s_sayf (self_t *self, client_t *client, event_text_fn *make, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
s_sayf (self_t *self, client_t *client, event_text_fn *make, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    //  Sized to fit: a reply may quote a whole 4096-byte line back.
    char *text = zsys_vprintf (format, args);
    va_end (args);
    if (text)
        s_say (self, client, make, text);
    free (text);
}

//  The caller has counted the client into room already.
static void
s_enter (client_t *client, room_t *room)
{
    client->room = room;
    zmsg_t *msg = msg_new_join (client->id, client->name);
    s_room_send (room, &msg);
}

//  ---------------------------------------------------------------------
//  Names

//  The reason a name cannot be taken by client (NULL: new client), or NULL.
static const char *
s_name_problem (self_t *self, client_t *client, const char *name, size_t size)
{
    const char *problem = name_problem (name, size);
    if (problem)
        return problem;
    client_t *owner = (client_t *) s_lookup_folded (self->names, name, size);
    if (owner && owner != client)
        return PROTOCOL_NAME_TAKEN;
    //  "аlice" (Cyrillic а) or "AIice" next to alice: UTS #39 skeletons.
    for (int which = 0; which < 2; which++) {
        char key [NAME_KEY_MAX];
        name_confusable_key (self->confusables, which, name, size, key);
        owner = (client_t *) zhashx_lookup (self->lookalikes [which], key);
        if (owner && owner != client)
            return PROTOCOL_NAME_LOOKALIKE;
    }
    return NULL;
}

static void
s_name_register (self_t *self, client_t *client)
{
    size_t size = strlen (client->name);
    char   key [NAME_KEY_MAX];
    name_fold (client->name, size, key);
    zhashx_insert (self->names, key, client);
    for (int which = 0; which < 2; which++) {
        name_confusable_key (self->confusables, which, client->name, size, key);
        zhashx_insert (self->lookalikes [which], key, client);
    }
}

static void
s_name_free (self_t *self, client_t *client)
{
    size_t size = strlen (client->name);
    char   key [NAME_KEY_MAX];
    name_fold (client->name, size, key);
    zhashx_delete (self->names, key);
    for (int which = 0; which < 2; which++) {
        name_confusable_key (self->confusables, which, client->name, size, key);
        //  Only its own: a key is never shared, as registering refuses it.
        if (zhashx_lookup (self->lookalikes [which], key) == client)
            zhashx_delete (self->lookalikes [which], key);
    }
}

//  Cluster mode: name (NUL-terminated) claimed cluster-wide under the
//  keys the tables above use; CLAIMED answers.
static void
s_claim (self_t *self, client_t *client, const char *name)
{
    size_t size = strlen (name);
    char   fold [NAME_KEY_MAX], key0 [NAME_KEY_MAX], key1 [NAME_KEY_MAX];
    name_fold (name, size, fold);
    name_confusable_key (self->confusables, 0, name, size, key0);
    name_confusable_key (self->confusables, 1, name, size, key1);
    s_cluster_send (self, client, msg_new_claim (client->id, name, key0, key1, fold));
}

//  ---------------------------------------------------------------------
//  Commands

static int
s_key_compare (const void *a, const void *b)
{
    return strcmp ((const char *) a, (const char *) b);
}

static void
s_cmd_rooms (self_t *self, client_t *client)
{
    //  Cluster mode: the cluster's list is the truth (s_handle_roomlist).
    if (self->cluster) {
        s_cluster_send (self, client, msg_new_rooms (client->id));
        return;
    }
    zlistx_t *keys = zhashx_keys (self->rooms);
    zlistx_set_comparator (keys, s_key_compare);
    zlistx_sort (keys);
    bool  events = self->config.http_port != 0;
    buf_t out, event;
    buf_init (&out);
    buf_init (&event);
    buf_append_str (&out, PROTOCOL_ROOMS);
    if (events)
        event_rooms_open (&event);
    for (const char *key = (const char *) zlistx_first (keys); key;
         key = (const char *) zlistx_next (keys)) {
        room_t *room = (room_t *) zhashx_lookup (self->rooms, key);
        fmt_room_entry (&out, room == client->room, room->name, room->members);
        if (events)
            event_rooms_entry (&event, room == client->room, room->name, room->members);
    }
    if (events)
        event_rooms_close (&event);
    s_say_event (client, buf_head (&out), buf_size (&out), &event);
    buf_free (&out);
    buf_free (&event);
    zlistx_destroy (&keys);
}

//  New rooms a client may start are paced as a cell rate: a burst of
//  HUB_ROOM_RATE_BURST, then one per HUB_ROOM_RATE_MS. One clock per client is
//  all it takes. The ms to wait before the next (0: it may now).
static int64_t
s_room_rate_wait (const client_t *client, int64_t now)
{
    int64_t tolerance = (int64_t) (HUB_ROOM_RATE_BURST - 1) * HUB_ROOM_RATE_MS;
    int64_t at = client->room_rate_at > now ? client->room_rate_at : now;
    return at - tolerance > now ? at - tolerance - now : 0;
}

static void
s_room_rate_take (client_t *client, int64_t now)
{
    int64_t at = client->room_rate_at > now ? client->room_rate_at : now;
    client->room_rate_at = at + HUB_ROOM_RATE_MS;
}

static void
s_cmd_join (self_t *self, client_t *client, const char *name, size_t size)
{
    if (size == 0) {
        s_say (self, client, event_error, PROTOCOL_JOIN_USAGE);
        return;
    }
    const char *problem = room_name_problem (name, size);
    if (problem) {
        s_sayf (self, client, event_error, "%s\n", problem);
        return;
    }
    room_t *target = (room_t *) s_lookup_folded (self->rooms, name, size);
    if (target == client->room) {
        s_sayf (self, client, event_error, PROTOCOL_JOIN_ALREADY, target->name);
        return;
    }
    if (!target) {
        int64_t now = zclock_mono ();
        int64_t wait = s_room_rate_wait (client, now);
        if (wait > 0) {
            s_sayf (self, client, event_error, PROTOCOL_JOIN_TOO_FAST, (int) ((wait + 999) / 1000));
            return;
        }
        if ((int) zhashx_size (self->rooms) >= self->config.max_rooms) {
            s_sayf (self, client, event_error, PROTOCOL_JOIN_TOO_MANY, self->config.max_rooms);
            return;
        }
        char display [ROOM_MAX_CHARS + 1];
        memcpy (display, name, size);
        display [size] = 0;
        target = s_room_new (self, display, false);
        if (!target) {
            s_say (self, client, event_error, PROTOCOL_JOIN_CANNOT);
            return;
        }
        s_room_rate_take (client, now);
    }
    room_t *old = client->room;
    zmsg_t *msg = msg_new_leave (client->id, true);
    s_room_send (old, &msg);
    old->members--;
    client->room = target;
    target->members++;
    client->in_transit = true;
    s_pause (self, client, PAUSED_ROOM, target->full);
    s_room_release (self, old);
}

static void s_rename (self_t *self, client_t *client, const char *name, size_t size);

static void
s_cmd_name (self_t *self, client_t *client, const char *name, size_t size)
{
    if (size == 0) {
        s_say (self, client, event_error, PROTOCOL_RENAME_USAGE);
        return;
    }
    if (strlen (client->name) == size && memcmp (client->name, name, size) == 0) {
        s_sayf (self, client, event_error, PROTOCOL_RENAME_ALREADY, client->name);
        return;
    }
    const char *problem = s_name_problem (self, client, name, size);
    if (problem) {
        s_sayf (self, client, event_error, "%s\n", problem);
        return;
    }
    //  Cluster mode: the new name is claimed first (its input waits);
    //  s_handle_claimed renames.
    if (self->cluster) {
        client->renaming = mem_check (strndup (name, size));
        s_claim (self, client, client->renaming);
        return;
    }
    s_rename (self, client, name, size);
}

static void
s_rename (self_t *self, client_t *client, const char *name, size_t size)
{
    s_name_free (self, client);
    free (client->name);
    client->name = mem_check (strndup (name, size));
    s_name_register (self, client);
    zmsg_t *msg = msg_new_rename (client->id, name, size);
    s_to_room_of (client, &msg);
}

//  Cluster mode: a /msg to a name not on this node goes to the cluster;
//  the sender is answered when it says where it went (s_handle_privated).
static void
s_private_send (self_t *self, client_t *client, const msg_part_t *target, const msg_part_t *text)
{
    stamp_cache_t stamp = {0};
    const char   *now = stamp_now (&stamp);
    private_t *private = (private_t *) zmalloc (sizeof (private_t));
    private->target = mem_check (strndup (target->data, target->size));
    buf_t event;
    buf_init (&event);
    if (self->config.http_port)
        event_private (&event, now, client->name, private->target, text->data, text->size);
    //  An empty buf has no head: "" then.
    private->event =
        mem_check (strndup (buf_size (&event) ? buf_head (&event) : "", buf_size (&event)));
    buf_free (&event);
    if (!client->privates)
        client->privates = zlist_new ();
    zlist_append (client->privates, private);
    s_cluster_send (
        self, client,
        msg_new_private (client->id, client->name, private->target, text->data, text->size, now));
}

static void
s_cmd_msg (self_t *self, client_t *client, const msg_view_t *view)
{
    const msg_part_t *target_name = &view->part [1];
    const msg_part_t *text = &view->part [2];
    if (target_name->size == 0 || text_is_blank (text->data, text->size)) {
        s_say (self, client, event_error, PROTOCOL_MSG_USAGE);
        return;
    }
    client_t *target =
        (client_t *) s_lookup_folded (self->names, target_name->data, target_name->size);
    if (!target && self->cluster && target_name->size <= NAME_MAX_BYTES) {
        s_private_send (self, client, target_name, text);
        return;
    }
    if (!target) {
        s_sayf (self, client, event_error, PROTOCOL_MSG_NO_USER, (int) target_name->size,
                target_name->data);
        return;
    }
    if (target == client) {
        s_say (self, client, event_error, PROTOCOL_MSG_SELF);
        return;
    }
    if (!s_can_take (target)) {
        s_sayf (self, client, event_error, PROTOCOL_MSG_BUSY, target->name);
        return;
    }
    stamp_cache_t stamp = {0};
    const char   *now = stamp_now (&stamp);
    buf_t         out, event;
    buf_init (&out);
    buf_init (&event);
    fmt_private (&out, now, client->name, target->name, text->data, text->size);
    if (self->config.http_port)
        event_private (&event, now, client->name, target->name, text->data, text->size);
    s_say_event (target, buf_head (&out), buf_size (&out), &event);
    //  The sender: a bare prompt on nc; on a page, its copy of what it
    //  sent (the one event of the /msg it gets).
    s_say_event (client, "", 0, &event);
    buf_free (&out);
    buf_free (&event);
}

static void
s_handle_cmd (self_t *self, client_t *client, const msg_view_t *view)
{
    char verb [COMMAND_NAME_SIZE];
    snprintf (verb, sizeof verb, "%.*s", (int) view->part [0].size, view->part [0].data);
    const msg_part_t *arg = &view->part [1];
    log_debug (&self->log, "%s: /%s%s%.*s", client->name, verb, arg->size ? " " : "",
               (int) arg->size, arg->data);
    switch (command_from_name (verb)) {
        case CMD_HELP:
            s_say (self, client, event_reply, PROTOCOL_HELP);
            break;
        case CMD_ROOMS:
            s_cmd_rooms (self, client);
            break;
        case CMD_JOIN:
            s_cmd_join (self, client, arg->data, arg->size);
            break;
        case CMD_USERS: {
            zmsg_t *msg = msg_new_users (client->id);
            s_to_room_of (client, &msg);
            break;
        }
        case CMD_NAME:
            s_cmd_name (self, client, arg->data, arg->size);
            break;
        case CMD_MSG:
            s_cmd_msg (self, client, view);
            break;
        default:
            //  The gateway sends what was typed, cleaned, as arg.
            s_sayf (self, client, event_error, PROTOCOL_UNKNOWN, (int) arg->size, arg->data);
            break;
    }
}

//  ---------------------------------------------------------------------
//  Messages from the gateway

//  g is a client's gateway (its id's, checked as its NAME came) or the
//  index of a pipe we bound: always one of ours.
static void
s_to_gateway (self_t *self, unsigned g, zmsg_t *msg)
{
    assert (g < self->gateway_count);
    msg_send (&msg, self->gateways [g]);
}

static void s_admit (self_t *self, client_t *client);

static void
s_handle_name (self_t *self, const msg_view_t *view)
{
    if (zhashx_lookup (self->clients, (void *) (uintptr_t) view->id))
        return;
    const char *name = view->part [0].data;
    size_t      size = view->part [0].size;
    const char *problem = s_name_problem (self, NULL, name, size);
    if (problem) {
        self->figures [METRICS_HUB_NAME_REFUSALS]++;
        s_to_gateway (self, msg_id_gateway (view->id), msg_new_refuse (view->id, problem));
        return;
    }
    client_t *client = (client_t *) zmalloc (sizeof (client_t));
    client->id = view->id;
    client->name = mem_check (strndup (name, size));
    zhashx_insert (self->clients, (void *) (uintptr_t) client->id, client);
    s_name_register (self, client);
    log_debug (&self->log, "%s registered (%zu named client%s)", client->name,
               zhashx_size (self->clients), zhashx_size (self->clients) == 1 ? "" : "s");
    //  Cluster mode: held here (local names refuse it meanwhile) until
    //  the cluster says whether it is ours (s_handle_claimed).
    if (self->cluster) {
        client->claiming = true;
        s_claim (self, client, client->name);
        return;
    }
    s_admit (self, client);
}

//  Into general: the name is the client's.
static void
s_admit (self_t *self, client_t *client)
{
    self->general->members++;
    s_pause (self, client, PAUSED_ROOM, self->general->full);
    s_enter (client, self->general);
}

//  A client that goes while moving still completes the move: what it
//  sent before it went reaches the room it moved to (s_handle_released).
static void
s_handle_closed (self_t *self, client_t *client)
{
    if (client->in_transit) {
        client->closed = true;
        return;
    }
    //  Cluster mode: its names go after any claim of them still on its way.
    if (self->cluster) {
        s_cluster_send (self, NULL, msg_new_unclaim (client->id, client->name));
        if (client->renaming)
            s_cluster_send (self, NULL, msg_new_unclaim (client->id, client->renaming));
    }
    if (client->claiming) {
        s_name_free (self, client);
        zhashx_delete (self->clients, (void *) (uintptr_t) client->id);
        return;
    }
    room_t *room = client->room;
    zmsg_t *msg = msg_new_leave (client->id, false);
    s_room_send (room, &msg);
    room->members--;
    s_name_free (self, client);
    log_debug (&self->log, "%s unregistered", client->name);
    zhashx_delete (self->clients, (void *) (uintptr_t) client->id);
    s_room_release (self, room);
}

static void s_handle_client_input (self_t *self, client_t *client, zmsg_t **msg_p,
                                   const msg_view_t *view);

//  Its input waits: a move, or (cluster mode) a claim of its name.
static bool
s_waiting (const client_t *client)
{
    return client->in_transit || client->claiming || client->renaming;
}

static void s_replay (self_t *self, client_t *client);

//  The old room has let go: enter the new one, then deliver what waited.
static void
s_handle_released (self_t *self, client_t *client)
{
    if (!client->in_transit)
        return;
    client->in_transit = false;
    s_enter (client, client->room);
    s_replay (self, client);
}

//  A client that waited (a move, a claim) has its room: what was held
//  for it goes there, then its own input is taken again, in order.
static void
s_replay (self_t *self, client_t *client)
{
    zmsg_t *msg;
    while (client->held && (msg = (zmsg_t *) zlist_pop (client->held)))
        s_room_send (client->room, &msg);
    //  Replaying may start another move or claim: the rest then waits.
    input_t *input;
    while (!s_waiting (client) && client->deferred &&
           (input = (input_t *) zlist_pop (client->deferred))) {
        s_handle_client_input (self, client, &input->msg, &input->view);
        free (input);
    }
    //  Half the cap free, so a client that pipelines moves does not flap.
    if (!client->deferred || zlist_size (client->deferred) <= HUB_DEFERRED_MAX / 2)
        s_pause (self, client, PAUSED_DEFERRED, false);
    if (!s_waiting (client) && client->closed)
        s_handle_closed (self, client);
}

//  LINE, CMD, NOTICE: input from a client in a room, handled in order.
//  A LINE goes on to the room as it came (*msg_p is then taken).
static void
s_handle_client_input (self_t *self, client_t *client, zmsg_t **msg_p, const msg_view_t *view)
{
    if (s_waiting (client)) {
        if (!client->deferred)
            client->deferred = zlist_new ();
        input_t *input = (input_t *) zmalloc (sizeof (input_t));
        input->msg = *msg_p;
        input->view = *view;
        zlist_append (client->deferred, input);
        *msg_p = NULL;
        //  Lines already on their way still come, and are taken: the
        //  gateway's queue and the pipe bound them.
        if (zlist_size (client->deferred) >= HUB_DEFERRED_MAX)
            s_pause (self, client, PAUSED_DEFERRED, true);
        return;
    }
    if (view->kind == MSG_LINE) {
        //  With a data dir the line is in the room's file even when
        //  --history is 0: keeping the room keeps one file per room name.
        if ((self->config.history > 0 || *self->config.data_dir) &&
            !text_is_blank (view->part [0].data, view->part [0].size))
            client->room->has_history = true;
        s_room_send (client->room, msg_p);
    } else if (view->kind == MSG_CMD)
        s_handle_cmd (self, client, view);
    else {
        assert (view->kind == MSG_NOTICE);
        buf_t event;
        buf_init (&event);
        if (self->config.http_port)
            event_error (&event, view->part [0].data, view->part [0].size);
        s_say_event (client, view->part [0].data, view->part [0].size, &event);
        buf_free (&event);
    }
    zmsg_destroy (msg_p);
}

//  ---------------------------------------------------------------------
//  Metrics: the gateways' figures and the hub's, for /metrics

//  A gateway's latest figures replace its last (g: the pipe they came
//  on, which the STATS's id must name too).
static void
s_handle_stats (self_t *self, unsigned g, const msg_view_t *view)
{
    if (view->id != g ||
        !metrics_gw_read (view->part [0].data, view->part [0].size, self->gateway_figures [g]))
        log_info (&self->log, "E: STATS from gateway %u dropped: id %" PRIu64 ", %zu bytes", g,
                  view->id, view->part [0].size);
}

//  The whole exposition, answered on the pipe the SCRAPE came on.
static void
s_handle_scrape (self_t *self, unsigned g, uint64_t tag)
{
    metrics_t metrics = {.version = config_version (),
                         .gateway = (const uint64_t (*) [METRICS_GW_FIGURES]) self->gateway_figures,
                         .gateways = self->gateway_count};
    memcpy (metrics.hub, self->figures, sizeof metrics.hub);
    metrics.hub [METRICS_HUB_ROOMS] = zhashx_size (self->rooms);
    metrics.hub [METRICS_HUB_MEMBERS] = zhashx_size (self->clients);
    metrics.hub [METRICS_HUB_UPTIME_SECONDS] =
        (uint64_t) (zclock_mono () - self->started_at) / 1000;
    metrics.cluster = self->cluster != NULL;
    metrics.cluster_up = self->link_up;
    metrics.cluster_held = self->link_held;
    buf_t out;
    buf_init (&out);
    metrics_render (&out, &metrics);
    s_to_gateway (self, g, msg_new_metrics (tag, buf_head (&out), buf_size (&out)));
    buf_free (&out);
}

static void
s_self_handle_gateway (self_t *self, unsigned g)
{
    zmsg_t *msg = msg_recv (self->gateways [g]);
    if (!msg)
        return;
    msg_view_t view;
    //  A gateway speaks only of its own clients: every reply about one
    //  then goes back on the pipe it came on. The id of STATS (a gateway
    //  index) and of SCRAPE (a tag) names no client.
    if (msg_parse (msg, &view) && view.id && view.kind != MSG_STATS && view.kind != MSG_SCRAPE &&
        msg_id_gateway (view.id) != g) {
        view.kind = MSG_KINDS;
        view.problem = "the id is another gateway's";
    }
    //  For a client gone already there is nothing to do. Id 0 is no
    //  client (STATS, a refused message) and no key zhashx takes.
    client_t *client =
        view.id ? (client_t *) zhashx_lookup (self->clients, (void *) (uintptr_t) view.id) : NULL;
    switch (view.kind) {
        case MSG_NAME:
            s_handle_name (self, &view);
            break;
        case MSG_LINE:
        case MSG_CMD:
        case MSG_NOTICE:
            if (client)
                s_handle_client_input (self, client, &msg, &view);
            break;
        case MSG_CLOSED:
            if (client)
                s_handle_closed (self, client);
            break;
        case MSG_RELEASED:
            if (client)
                s_handle_released (self, client);
            break;
        case MSG_STATS:
            s_handle_stats (self, g, &view);
            break;
        case MSG_SCRAPE:
            s_handle_scrape (self, g, view.id);
            break;
        //  Cluster mode's answers (include/cluster.h): not on a gateway's
        //  pipe.
        case MSG_CLAIMED:
        case MSG_ROOMLIST:
        case MSG_PRIVATED:
        case MSG_DELIVER:
        case MSG_LINK:
        case MSG_TERM:
        case MSG_STORED:
        MSG_NOT_FOR_HUB:
            msg_drop (&self->log, &view);
            break;
    }
    zmsg_destroy (&msg);
}

//  ---------------------------------------------------------------------
//  Cluster mode: the cluster actor's answers

static const char *
s_claim_refusal (const char *verdict)
{
    if (streq (verdict, "taken"))
        return PROTOCOL_NAME_TAKEN;
    if (streq (verdict, "lookalike"))
        return PROTOCOL_NAME_LOOKALIKE;
    return PROTOCOL_NAME_UNAVAILABLE;
}

static void
s_handle_claimed (self_t *self, client_t *client, const char *verdict)
{
    bool ours = *verdict == 0;
    if (client->claiming) {
        client->claiming = false;
        if (!ours) {
            self->figures [METRICS_HUB_NAME_REFUSALS]++;
            s_to_gateway (self, msg_id_gateway (client->id),
                          msg_new_refuse (client->id, s_claim_refusal (verdict)));
            s_name_free (self, client);
            zhashx_delete (self->clients, (void *) (uintptr_t) client->id);
            return;
        }
        s_admit (self, client);
    } else if (client->renaming) {
        char *name = client->renaming;
        client->renaming = NULL;
        if (ours) {
            s_cluster_send (self, client, msg_new_unclaim (client->id, client->name));
            s_rename (self, client, name, strlen (name));
        } else
            s_sayf (self, client, event_error, "%s\n", s_claim_refusal (verdict));
        free (name);
    } else
        return;
    //  A mover's held output and input wait for its new room's RELEASED.
    if (!client->in_transit)
        s_replay (self, client);
}

//  ROOMLIST: "ROOM\tCOUNT\n" lines, shown as /rooms shows local rooms.
typedef struct {
    char   key [ROOM_MAX_CHARS + 1];
    char   name [ROOM_MAX_CHARS + 1];
    size_t members;
} listed_t;

static int
s_listed_compare (const void *a, const void *b)
{
    return strcmp (((const listed_t *) a)->key, ((const listed_t *) b)->key);
}

static void
s_handle_roomlist (self_t *self, client_t *client, const msg_part_t *lines)
{
    size_t    count = 0, capacity = 16;
    listed_t *rooms = (listed_t *) mem_realloc (NULL, capacity * sizeof (listed_t));
    for (const char *line = lines->data, *end = lines->data + lines->size; line < end;) {
        const char *eol = (const char *) memchr (line, '\n', (size_t) (end - line));
        if (!eol)
            break;
        const char *tab = (const char *) memchr (line, '\t', (size_t) (eol - line));
        char        number [24];
        size_t      size = tab ? (size_t) (tab - line) : 0;
        size_t      digits = tab ? (size_t) (eol - tab - 1) : 0;
        if (tab && !room_name_problem (line, size) && digits > 0 && digits < sizeof number) {
            memcpy (number, tab + 1, digits);
            number [digits] = 0;
            char *stop;
            long  members = strtol (number, &stop, 10);
            if (*stop == 0 && members > 0) {
                if (count == capacity) {
                    capacity *= 2;
                    rooms = (listed_t *) mem_realloc (rooms, capacity * sizeof (listed_t));
                }
                memcpy (rooms [count].name, line, size);
                rooms [count].name [size] = 0;
                name_fold (line, size, rooms [count].key);
                rooms [count].members = (size_t) members;
                count++;
            }
        }
        line = eol + 1;
    }
    qsort (rooms, count, sizeof (listed_t), s_listed_compare);
    bool  events = self->config.http_port != 0;
    buf_t out, event;
    buf_init (&out);
    buf_init (&event);
    buf_append_str (&out, PROTOCOL_ROOMS);
    if (events)
        event_rooms_open (&event);
    for (size_t i = 0; i < count; i++) {
        bool mine = client->room && streq (rooms [i].key, client->room->key);
        fmt_room_entry (&out, mine, rooms [i].name, rooms [i].members);
        if (events)
            event_rooms_entry (&event, mine, rooms [i].name, rooms [i].members);
    }
    if (events)
        event_rooms_close (&event);
    s_say_event (client, buf_head (&out), buf_size (&out), &event);
    buf_free (&out);
    buf_free (&event);
    free (rooms);
}

static void
s_handle_privated (self_t *self, client_t *client, const char *verdict)
{
    private_t *private = client->privates ? (private_t *) zlist_pop (client->privates) : NULL;
    if (!private)
        return;
    if (*verdict == 0) {
        buf_t event;
        buf_init (&event);
        buf_append_str (&event, private->event);
        s_say_event (client, "", 0, &event);
        buf_free (&event);
    } else if (streq (verdict, "nouser"))
        s_sayf (self, client, event_error, PROTOCOL_MSG_NO_USER, (int) strlen (private->target),
                private->target);
    else
        s_say (self, client, event_error, PROTOCOL_NOT_DELIVERED);
    free (private->target);
    free (private->event);
    free (private);
}

//  A /msg from another node, sent as a local one is.
static void
s_handle_deliver (self_t *self, client_t *target, const msg_view_t *view)
{
    char *from = msg_strdup (view, 0), *stamp = msg_strdup (view, 2);
    if (!s_can_take (target))
        log_info (&self->log, "E: a /msg from %s to %s dropped: it cannot take more now", from,
                  target->name);
    else {
        const msg_part_t *text = &view->part [1];
        buf_t             out, event;
        buf_init (&out);
        buf_init (&event);
        fmt_private (&out, stamp, from, target->name, text->data, text->size);
        if (self->config.http_port)
            event_private (&event, stamp, from, target->name, text->data, text->size);
        s_say_event (target, buf_head (&out), buf_size (&out), &event);
        buf_free (&out);
        buf_free (&event);
    }
    free (from);
    free (stamp);
}

static void
s_self_handle_cluster (self_t *self)
{
    zmsg_t *msg = msg_recv (self->cluster);
    if (!msg)
        return;
    msg_view_t view;
    msg_parse (msg, &view);
    client_t *client =
        view.id ? (client_t *) zhashx_lookup (self->clients, (void *) (uintptr_t) view.id) : NULL;
    char *verdict = NULL;
    switch (view.kind) {
        case MSG_CLAIMED:
            verdict = msg_strdup (&view, 0);
            if (client)
                s_handle_claimed (self, client, verdict);
            break;
        case MSG_ROOMLIST:
            if (client)
                s_handle_roomlist (self, client, &view.part [0]);
            break;
        case MSG_PRIVATED:
            verdict = msg_strdup (&view, 0);
            if (client)
                s_handle_privated (self, client, verdict);
            break;
        case MSG_DELIVER:
            //  A claiming client holds it until it is in.
            if (client)
                s_handle_deliver (self, client, &view);
            break;
        case MSG_LINK:
            self->link_up = msg_bool (&view, 0);
            self->link_held = strtoull (view.part [1].data, NULL, 10);
            break;
        case MSG_NAME:
        case MSG_CMD:
        case MSG_NOTICE:
        case MSG_CLOSED:
        case MSG_RELEASED:
        case MSG_STATS:
        case MSG_SCRAPE:
        case MSG_TERM:
        case MSG_LINE:
        case MSG_STORED:
        MSG_NOT_FOR_HUB:
            msg_drop (&self->log, &view);
            break;
    }
    free (verdict);
    zmsg_destroy (&msg);
}

static bool
s_self_handle_pipe (self_t *self)
{
    zmsg_t *msg = msg_recv (self->pipe);
    if (!msg)
        return false;  //  Interrupted
    bool running = !msg_is_term (msg, &self->log);
    zmsg_destroy (&msg);
    return running;
}

//  At shutdown each room must get its $TERM, which actor_term sends
//  without waiting: a room whose pipe is full would be left running. The
//  gateway still reads the rooms, so they drain: give each what waits for
//  it, for up to SHUTDOWN_MS (or the args' shutdown_ms) in all, and say so
//  if one does not.
static void
s_rooms_drain (self_t *self)
{
    int64_t deadline = zclock_mono () + self->shutdown_ms;
    for (room_t *room = (room_t *) zhashx_first (self->rooms); room;
         room = (room_t *) zhashx_next (self->rooms)) {
        zsock_t *sock = actor_sock (room->actor);
        for (;;) {
            bool room_for_one = (zsock_events (sock) & ZMQ_POLLOUT) != 0;
            if (room_for_one && zlist_size (room->queue) == 0)
                break;
            if (room_for_one) {
                zmsg_t *msg = (zmsg_t *) zlist_pop (room->queue);
                msg_send (&msg, sock);
                continue;
            }
            int64_t left = deadline - zclock_mono ();
            if (left <= 0) {
                log_info (&self->log, "E: room %s is not reading: stopping it anyway", room->name);
                break;
            }
            zmq_pollitem_t item = {zsock_resolve (sock), 0, ZMQ_POLLOUT, 0};
            zmq_poll (&item, 1, (long) left);
        }
    }
    for (stopping_t *stop = (stopping_t *) zlist_first (self->stopping); stop;
         stop = (stopping_t *) zlist_next (self->stopping))
        while (!stop->term_sent && zclock_mono () < deadline) {
            zmq_pollitem_t item = {zsock_resolve (actor_sock (stop->actor)), 0, ZMQ_POLLOUT, 0};
            zmq_poll (&item, 1, (long) (deadline - zclock_mono ()));
            s_stop_send_term (stop);
        }
}

//  One pass: the pipe first, then rooms whose pipe has room again, then a
//  budget of gateway messages, then rooms due to stop. Rooms with a queue
//  are polled for POLLOUT, so a stuck room costs nothing but its queue.
static bool
s_self_poll (self_t *self)
{
    size_t first_room = 1 + self->gateway_count + (self->cluster ? 1 : 0);
    size_t wanted = first_room + self->rooms_queued + zlist_size (self->stopping);
    if (wanted > self->poll_size) {
        self->poll_size = wanted * 2;
        self->items =
            (zmq_pollitem_t *) mem_realloc (self->items, self->poll_size * sizeof (zmq_pollitem_t));
        self->polled = (room_t **) mem_realloc (self->polled, self->poll_size * sizeof (room_t *));
        self->polled_stop = (stopping_t **) mem_realloc (self->polled_stop,
                                                         self->poll_size * sizeof (stopping_t *));
    }
    zmq_pollitem_t *items = self->items;
    items [0] = (zmq_pollitem_t){zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0};
    for (unsigned g = 0; g < self->gateway_count; g++)
        items [1 + g] = (zmq_pollitem_t){zsock_resolve (self->gateways [g]), 0, ZMQ_POLLIN, 0};
    size_t at_cluster = 1 + self->gateway_count;
    if (self->cluster)
        items [at_cluster] = (zmq_pollitem_t){
            zsock_resolve (self->cluster), 0,
            (short) (ZMQ_POLLIN | (zlist_size (self->cluster_queue) ? ZMQ_POLLOUT : 0)), 0};
    size_t count = first_room;
    if (self->rooms_queued)
        for (room_t *room = (room_t *) zhashx_first (self->rooms); room && count < wanted;
             room = (room_t *) zhashx_next (self->rooms))
            if (zlist_size (room->queue)) {
                self->polled [count] = room;
                items [count++] =
                    (zmq_pollitem_t){zsock_resolve (actor_sock (room->actor)), 0, ZMQ_POLLOUT, 0};
            }
    //  Stopping rooms: room for their $TERM, then their end signal.
    size_t first_stop = count;
    for (stopping_t *stop = (stopping_t *) zlist_first (self->stopping); stop;
         stop = (stopping_t *) zlist_next (self->stopping)) {
        self->polled_stop [count] = stop;
        items [count++] = (zmq_pollitem_t){zsock_resolve (actor_sock (stop->actor)), 0,
                                           stop->term_sent ? ZMQ_POLLIN : ZMQ_POLLOUT, 0};
    }
    long timeout = -1;
    if (self->idle_check) {
        int64_t left = self->idle_check - zclock_mono ();
        timeout = left > 0 ? (long) left : 0;
    }
    if (zmq_poll (items, (int) count, timeout) < 0)
        return errno == EINTR;
    if ((items [0].revents & ZMQ_POLLIN) && !s_self_handle_pipe (self))
        return false;
    for (size_t i = first_room; i < first_stop; i++)
        if (items [i].revents & ZMQ_POLLOUT)
            s_room_flush (self, self->polled [i]);
    for (size_t i = first_stop; i < count; i++) {
        stopping_t *stop = self->polled_stop [i];
        if (items [i].revents & ZMQ_POLLOUT)
            s_stop_send_term (stop);
        else if (items [i].revents & ZMQ_POLLIN) {
            //  Its end signal is waiting: actor_destroy returns at once.
            zlist_remove (self->stopping, stop);
            actor_destroy (&stop->actor);
            free (stop);
        }
    }
    for (unsigned g = 0; g < self->gateway_count; g++)
        for (int budget = GATEWAY_BUDGET;
             budget > 0 && (zsock_events (self->gateways [g]) & ZMQ_POLLIN); budget--)
            s_self_handle_gateway (self, g);
    if (self->cluster) {
        for (int budget = GATEWAY_BUDGET; budget > 0 && (zsock_events (self->cluster) & ZMQ_POLLIN);
             budget--)
            s_self_handle_cluster (self);
        s_cluster_flush (self);
    }
    s_rooms_idle (self);
    return true;
}

//  Our sends to a gateway would block until it has connected, so wait
//  for every one here, watching our pipe too. false: $TERM came first
//  (main stops a hub whose gateway failed to start).
static bool
s_gateway_wait (self_t *self)
{
    for (unsigned g = 0; g < self->gateway_count; g++) {
        zmq_pollitem_t items [] = {{zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0},
                                   {zsock_resolve (self->gateways [g]), 0, ZMQ_POLLOUT, 0}};
        while (!(zsock_events (self->gateways [g]) & ZMQ_POLLOUT)) {
            if (zmq_poll (items, 2, -1) < 0 && errno != EINTR)
                return false;
            if ((items [0].revents & ZMQ_POLLIN) && !s_self_handle_pipe (self))
                return false;
        }
    }
    return true;
}

//  Not every gateway came, and none was told of general: its BYEs would
//  wait for readers for ever and hold up its stop, so the hub reads its
//  pipes instead while it stops.
static void
s_gateway_stand_in (self_t *self, zsock_t *stand_in [MSG_GATEWAYS_MAX])
{
    for (unsigned g = 0; g < self->gateway_count; g++) {
        char endpoint [ENDPOINT_MAX];
        endpoint_room (&self->config, self->general->seq, g, endpoint);
        stand_in [g] = msg_pipe_new (endpoint, false);
    }
}

//  false (logged) when the hub cannot start: a pipe to a gateway cannot
//  be bound, or room general cannot start. General starts before the hub
//  says it has, so a hub without it does not; it is announced once the
//  gateways, which main starts next, are there.
static bool
s_self_start (self_t *self)
{
    //  Bound before main starts the gateways, which connect to them.
    for (unsigned g = 0; g < self->gateway_count; g++) {
        char endpoint [ENDPOINT_MAX];
        endpoint_hub (&self->config, g, endpoint);
        self->gateways [g] = msg_pipe_new (endpoint, true);
        if (!self->gateways [g]) {
            log_info (&self->log, "E: cannot bind %s: %s", endpoint, strerror (errno));
            return false;
        }
    }
    //  Cluster mode: bound before main starts the cluster actor.
    if (*self->config.cluster) {
        char endpoint [ENDPOINT_MAX];
        endpoint_cluster (&self->config, endpoint);
        self->cluster = msg_pipe_new (endpoint, true);
        if (!self->cluster) {
            log_info (&self->log, "E: cannot bind %s: %s", endpoint, strerror (errno));
            return false;
        }
    }
    log_info (&self->log, "started");
    self->general = s_room_start (self, GENERAL);
    return self->general != NULL;
}

void
hub_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (hub_args_t *) args);
    free (args);
    if (!s_self_start (self)) {
        s_self_destroy (&self);
        zsock_signal (pipe, 1);
        return;
    }
    zsock_signal (pipe, 0);
    if (!s_gateway_wait (self)) {
        log_info (&self->log, "stopped before the gateway came");
        zsock_t *stand_in [MSG_GATEWAYS_MAX] = {NULL};
        s_gateway_stand_in (self, stand_in);
        unsigned count = self->gateway_count;
        s_self_destroy (&self);
        for (unsigned g = 0; g < count; g++)
            zsock_destroy (&stand_in [g]);
        return;
    }
    s_room_announce (self, self->general, false);
    s_restore_rooms (self);

    while (s_self_poll (self))
        ;
    s_rooms_drain (self);
    log_info (&self->log, "stopped (%zu client%s, %zu room%s)", zhashx_size (self->clients),
              zhashx_size (self->clients) == 1 ? "" : "s", zhashx_size (self->rooms),
              zhashx_size (self->rooms) == 1 ? "" : "s");
    s_self_destroy (&self);
}
