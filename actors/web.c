/* SPDX-License-Identifier: MIT */
/*  web: the web gateway. See web.h, and docs/ARCHITECTURE.md, "The web
    gateway", for how its loop is built.

    libwebsockets (Debian's 4.1, built without external poll) owns the
    thread: lws_service is the loop. What the TCP gateway puts in its
    epoll set joins lws's poll set as a raw descriptor instead: the actor
    pipe, the hub pipe and each room pipe (a dup of their ZMQ_FD, which
    lws closes itself when the wsi goes), and our listening socket, whose
    connections we accept and hand to lws (lws_adopt_socket_vhost). As
    in the gateway, ZMQ_FD is edge-like: each wakeup, and each send on a
    pipe, is followed by a drain while ZMQ_EVENTS says POLLIN, with a
    budget per pass; a pipe left busy is drained again from a timer due
    at once (lws_sul_schedule), so no pipe starves the rest.

    Each browser is a client with the TCP gateway's states and relay
    messages; its output is a queue of events (event.h), one text frame
    each, written when lws says the socket takes more.                  */
#include "web.h"
#include "bucket.h"
#include "endpoints.h"
#include "event.h"
#include "framer.h"
#include "input.h"
#include "listener.h"
#include "log.h"
#include "mem.h"
#include "messages.h"
#include "metrics.h"
#include "origin.h"
#include "protocol.h"
#include "sendq.h"
#include "slotlist.h"
#include "text.h"
#include "web_assets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define ZMQ_BUDGET        256   /* messages per pipe per pass */
#define ACCEPT_BUDGET     64    /* connections accepted per wakeup */
#define HTTP_SPARE        64    /* sockets beyond the WebSocket clients: page loads, scrapes */
#define INPUT_CAP         65536 /* stop reading a client holding this much */
#define HUB_QUEUE_MAX     4096  /* stop taking input while the hub is this far behind */
#define TICK_MS           1000  /* name prompts and leavers: their clocks' precision */
#define LEAVE_WAIT_MS     5000  /* a leaver's room has this long to say RELEASE */
#define CLOSE_WAIT_S      2     /* a client told it is closed has this long to take it */
#define SHUTDOWN_ROOMS_MS 500   /* at shutdown: for the rooms' last output */
#define SHUTDOWN_FLUSH_MS 1000  /* at shutdown: for clients to take theirs */
#define ACCEPT_PAUSE_MS   100   /* out of descriptors: accepting pauses this long */
#define FRAMES_PER_WRITE  64    /* frames written per writeable callback */
#define HEADERS_SIZE      1024  /* a response's headers */
#define BODY_CHUNK        16384 /* HTTP body bytes per write */
#define ORIGIN_SIZE       512   /* Origin and Host headers, NUL included */
#define ORIGIN_LOG_MS     60000 /* refused origins: one log line a minute at most */
#define PEER_SIZE         (INET6_ADDRSTRLEN + 8)
#define NOTICE_SIZE       128
#define FRAME_BLOCK       0x80000000u /* frame header bit: the entered block */
#define SCRAPES_MAX       8           /* /metrics requests waiting for the hub at once */
#define SCRAPE_WAIT_S     5           /* a /metrics request waits this long for the hub */

typedef enum {
    CLIENT_FREE,
    CLIENT_NAMING,  /* at the name prompt */
    CLIENT_WAITING, /* a name went to the hub: wait for its verdict */
    CLIENT_CHAT,    /* in a room */
    CLIENT_LEAVING, /* gone from the hub: written to until RELEASE "0" */
    CLIENT_CLOSING  /* closes once its queue is written */
} client_state_t;

typedef struct {
    struct lws *wsi;
    uint32_t    gen; /* with the slot, makes the client id */
    uint8_t     state;
    bool        reading;    /* lws reads its socket (rx flow control) */
    bool        paused;     /* the hub said PAUSE: hand on nothing until RESUME */
    bool        told_hub;   /* the hub may know it: CLOSED must follow */
    uint16_t    close_code; /* CLIENT_CLOSING: the close frame's */
    const char *closing;    /* CLIENT_LEAVING, CLIENT_CLOSING: why, for the log */
    int64_t     opened_at;  /* ms clock */
    int64_t     leave_by;   /* CLIENT_LEAVING: closed then, RELEASE or not */
    int64_t     resume_at;  /* throttled: when a line's worth is back */
    bucket_t    bucket;     /* --rate */
    framer_t    in;
    buf_t       out;   /* frames: [uint32_t size | FRAME_BLOCK][text] */
    size_t      owed;  /* bytes of frames queued, the entered block left out */
    char       *label; /* the name it has in its room */
    char        peer [PEER_SIZE];
} client_t;

typedef enum { PIPE_ACTOR, PIPE_HUB, PIPE_ROOM, PIPE_LISTENER } pipe_kind_t;

//  A descriptor joined to lws's loop.
typedef struct {
    pipe_kind_t kind;
    zsock_t    *sock; /* NULL for the listener, and a room's after BYE */
    struct lws *wsi;  /* NULL once lws closed it */
    bool        busy; /* stopped on its budget: drain again */
} pipe_t;

//  lws's per-connection data, HTTP or WebSocket.
typedef struct {
    client_t            *client;  /* WebSocket: its client, NULL when refused */
    bool                 refused; /* WebSocket: full, told so, then closed */
    const unsigned char *body;    /* HTTP: the response body */
    size_t               size, sent;
    char                *metrics;      /* /metrics: the hub's answer, ours to free */
    size_t               metrics_size; /*   and its size */
} session_t;

typedef struct {
    zsock_t               *pipe;
    config_t               config;
    unsigned               index;
    log_t                  log;
    int                    listener;  /* until lws takes it */
    int                    listen_fd; /* lws's from then on */
    struct lws_context    *context;
    struct lws_vhost      *vhost;
    pipe_t                *actor_pipe, *hub_pipe, *listen_pipe;
    zsock_t               *hub;
    pipe_t               **rooms; /* rooms' output pipes; NULL holes are reused */
    size_t                 room_slots;
    sendq_t               *hub_queue; /* messages waiting for room in the hub pipe */
    client_t              *clients;   /* max_clients slots */
    uint32_t              *free_slots;
    size_t                 free_count;
    size_t                 open_count;    /* WebSocket clients */
    size_t                 sockets;       /* every accepted socket still open */
    size_t                 slots_used;    /* slots below this have been used */
    size_t                 leaving_count; /* clients in CLIENT_LEAVING */
    slotlist_t             stalled;       /* input waits for the hub queue to shrink */
    slotlist_t             throttled;     /* over --rate: read again at resume_at */
    lws_sorted_usec_list_t drain_sul;     /* busy pipes, at once */
    lws_sorted_usec_list_t tick_sul;      /* clocks: name prompts, leavers, --rate */
    lws_sorted_usec_list_t accept_sul;    /* accepting again after EMFILE */
    int64_t                tick_due;      /* ms clock of the tick scheduled, INT64_MAX: none */
    int64_t                origin_logged_at;
    uint64_t               origins_refused; /* since the last log line */
    input_scratch_t        input;           /* cleaned texts of the line at hand */
    unsigned char         *scratch;         /* LWS_PRE + the biggest frame */
    size_t                 scratch_size;
    uint64_t               refused; /* at the door, for any reason */
    //  /metrics (metrics.h): counted as things happen, the gauges read
    //  when a report is due; the reporter: when, and the last STATS.
    uint64_t           figures [METRICS_GW_FIGURES];
    metrics_reporter_t reporter;
    uint64_t           scrape_tag;                /* the last SCRAPE's */
    uint64_t           scrape_tags [SCRAPES_MAX]; /* 0: a free entry */
    struct lws        *scrapes [SCRAPES_MAX];     /* each waits for its METRICS */
    bool               terminated;
} self_t;

static void s_client_process (self_t *self, client_t *client);
static void s_drain_soon (self_t *self);
static void s_tick_schedule (self_t *self);

static int64_t
s_now_ms (void)
{
    return zclock_mono ();
}

//  ---------------------------------------------------------------------
//  The hub pipe: never block on it (as the gateway)

static void
s_hub_flush (self_t *self)
{
    sendq_flush (self->hub_queue, self->hub);
    //  Looking at the pipe may have consumed the wakeup of a message the
    //  hub just sent us: poll would not report it again.
    if (zsock_events (self->hub) & ZMQ_POLLIN) {
        self->hub_pipe->busy = true;
        s_drain_soon (self);
    }
}

//  Takes msg.
static void
s_to_hub (self_t *self, zmsg_t *msg)
{
    sendq_send (self->hub_queue, &msg, self->hub);
    self->hub_pipe->busy = true;
    s_drain_soon (self);
}

static bool
s_hub_is_behind (self_t *self)
{
    return sendq_size (self->hub_queue) >= HUB_QUEUE_MAX;
}

//  ---------------------------------------------------------------------
//  Clients: ids and output

static uint32_t
s_client_slot (self_t *self, client_t *client)
{
    return (uint32_t) (client - self->clients);
}

static uint64_t
s_client_id (self_t *self, client_t *client)
{
    return msg_id_make (self->index, client->gen, s_client_slot (self, client));
}

static client_t *
s_client_lookup (self_t *self, uint64_t id)
{
    uint32_t slot = msg_id_slot (id);
    if (msg_id_gateway (id) != self->index || slot >= (uint32_t) self->config.max_clients)
        return NULL;
    client_t *client = &self->clients [slot];
    if (client->state == CLIENT_FREE || client->gen != msg_id_gen (id))
        return NULL;
    return client;
}

static void
s_client_set_reading (client_t *client, bool reading)
{
    if (client->reading == reading)
        return;
    client->reading = reading;
    lws_rx_flow_control (client->wsi, reading ? 1 : 0);
}

//  Past --max-backlog: it does not take what it is sent, and we would
//  hold its share for ever. Nothing more can reach it, so no closed
//  event: the socket is closed (1008 if the frame can still go).
static void
s_client_cut (self_t *self, client_t *client)
{
    log_info (&self->log, "%s is too slow: %zu bytes unsent, over --max-backlog %d", client->peer,
              client->owed, self->config.max_backlog);
    self->figures [METRICS_GW_SLOW_CUT]++;
    if (client->state == CLIENT_LEAVING)
        self->leaving_count--;
    client->state = CLIENT_CLOSING;
    client->closing = "too slow";
    buf_clear (&client->out);
    client->owed = 0;
    lws_close_reason (client->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *) "too slow",
                      8);
    lws_set_timeout (client->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

//  One event, one text frame, written when the socket takes it. What a
//  client has not taken while its socket takes no more is what it owes
//  (as in the TCP gateway: after a write); past --max-backlog it is cut.
//  Only then is the socket asked (lws_send_pipe_choked polls it): a
//  burst queued in one pass to a client that reads is written, not cut.
//  A block (the entered event, with the room's history) is not counted:
//  that much we chose to send at once.
static void
s_client_queue (self_t *self, client_t *client, const char *data, size_t size, bool block)
{
    if (size == 0 || client->state == CLIENT_FREE || client->state == CLIENT_CLOSING)
        return;
    uint32_t header = (uint32_t) size | (block ? FRAME_BLOCK : 0);
    buf_append (&client->out, &header, sizeof header);
    buf_append (&client->out, data, size);
    if (!block)
        client->owed += size;
    if (client->owed > (size_t) self->config.max_backlog && lws_send_pipe_choked (client->wsi)) {
        s_client_cut (self, client);
        return;
    }
    lws_callback_on_writable (client->wsi);
}

static void
s_client_queue_buf (self_t *self, client_t *client, buf_t *event)
{
    s_client_queue (self, client, buf_head (event), buf_size (event), false);
    buf_free (event);
}

//  A protocol.h text as an event's: without its leading and trailing
//  newlines (a terminal needs them, a page does not).
static size_t
s_bare_text (const char **text)
{
    size_t size = strlen (*text);
    while (size && **text == '\n') {
        (*text)++;
        size--;
    }
    while (size && (*text) [size - 1] == '\n')
        size--;
    return size;
}

static void
s_client_error (self_t *self, client_t *client, const char *text)
{
    buf_t  event;
    size_t size = s_bare_text (&text);
    buf_init (&event);
    event_error (&event, text, size);
    s_client_queue_buf (self, client, &event);
}

//  Stops reading; once its queue is written it is closed with code. A
//  client that takes nothing is closed CLOSE_WAIT_S later all the same.
static void
s_client_finish (self_t *self, client_t *client, const char *reason, uint16_t code)
{
    if (client->state == CLIENT_CLOSING)
        return;
    if (client->state == CLIENT_LEAVING)
        self->leaving_count--;
    client->state = CLIENT_CLOSING;
    client->closing = reason;
    client->close_code = code;
    s_client_set_reading (client, false);
    lws_callback_on_writable (client->wsi);
    lws_set_timeout (client->wsi, PENDING_TIMEOUT_USER_OK, CLOSE_WAIT_S);
}

//  The closed event, then the close.
static void
s_client_close_with (self_t *self, client_t *client, const char *text, const char *reason)
{
    buf_t event;
    buf_init (&event);
    char   bare [NOTICE_SIZE];
    size_t size = s_bare_text (&text);
    snprintf (bare, sizeof bare, "%.*s", (int) size, text);
    event_closed (&event, bare);
    s_client_queue_buf (self, client, &event);
    s_client_finish (self, client, reason, LWS_CLOSE_STATUS_NORMAL);
}

//  The hub knows it, so it is told at once; the client is still written
//  to, reading nothing, until its room's RELEASE "0" (or LEAVE_WAIT_MS).
static void
s_client_leave (self_t *self, client_t *client, const char *reason)
{
    s_to_hub (self, msg_new_closed (s_client_id (self, client)));
    client->told_hub = false;
    client->state = CLIENT_LEAVING;
    client->closing = reason;
    client->leave_by = s_now_ms () + LEAVE_WAIT_MS;
    self->leaving_count++;
    s_client_set_reading (client, false);
}

//  Writes queued frames while the socket takes them. -1: close now.
static int
s_client_write (self_t *self, client_t *client)
{
    for (int frames = 0; frames < FRAMES_PER_WRITE && buf_size (&client->out); frames++) {
        if (lws_send_pipe_choked (client->wsi))
            break;
        uint32_t header;
        memcpy (&header, buf_head (&client->out), sizeof header);
        size_t size = header & ~FRAME_BLOCK;
        if (self->scratch_size < LWS_PRE + size) {
            self->scratch_size = LWS_PRE + size;
            self->scratch = (unsigned char *) mem_realloc (self->scratch, self->scratch_size);
        }
        memcpy (self->scratch + LWS_PRE, buf_head (&client->out) + sizeof header, size);
        buf_consume (&client->out, sizeof header + size);
        if (!(header & FRAME_BLOCK))
            client->owed -= size;
        if (lws_write (client->wsi, self->scratch + LWS_PRE, size, LWS_WRITE_TEXT) < (int) size) {
            client->closing = "write error";
            return -1;
        }
    }
    if (client->owed > (size_t) self->config.max_backlog && lws_send_pipe_choked (client->wsi)) {
        s_client_cut (self, client);
        return -1;
    }
    if (buf_size (&client->out)) {
        lws_callback_on_writable (client->wsi);
        return 0;
    }
    if (client->state == CLIENT_CLOSING) {
        lws_close_reason (client->wsi, (enum lws_close_status) client->close_code, NULL, 0);
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Clients: open and close

//  A new WebSocket: a slot, its welcome, and the name prompt's clock.
//  Over --max-clients it is told the chat is full and closed.
static void
s_client_open (self_t *self, struct lws *wsi, session_t *session)
{
    char peer [PEER_SIZE];
    listener_peer_name (lws_get_socket_fd (wsi), peer, sizeof peer);
    if (self->free_count == 0) {
        session->refused = true;
        self->refused++;
        self->figures [METRICS_GW_REFUSED_FULL]++;
        lws_callback_on_writable (wsi);
        lws_set_timeout (wsi, PENDING_TIMEOUT_USER_OK, CLOSE_WAIT_S);
        log_info (&self->log, "connection from %s refused: chat is full (%zu client%s)", peer,
                  self->open_count, self->open_count == 1 ? "" : "s");
        s_tick_schedule (self);  //  The figures moved
        return;
    }
    uint32_t  slot = self->free_slots [--self->free_count];
    client_t *client = &self->clients [slot];
    if (slot >= self->slots_used)
        self->slots_used = slot + 1;
    uint32_t gen = (client->gen + 1) & MSG_ID_GEN_MASK;
    memset (client, 0, sizeof *client);
    client->gen = gen ? gen : 1;
    client->wsi = wsi;
    client->state = CLIENT_NAMING;
    client->reading = true;
    client->opened_at = s_now_ms ();
    bucket_init (&client->bucket, self->config.rate, client->opened_at);
    framer_init (&client->in);
    buf_init (&client->out);
    snprintf (client->peer, sizeof client->peer, "%s", peer);
    session->client = client;
    self->open_count++;
    self->figures [METRICS_GW_CONNECTIONS]++;
    buf_t event;
    buf_init (&event);
    event_welcome (&event);
    s_client_queue_buf (self, client, &event);
    s_tick_schedule (self);
    log_info (&self->log, "connection opened from %s (%zu client%s)", client->peer,
              self->open_count, self->open_count == 1 ? "" : "s");
}

//  The socket is gone (lws closed it, or the peer did).
static void
s_client_gone (self_t *self, session_t *session)
{
    client_t *client = session->client;
    session->client = NULL;
    if (!client || client->state == CLIENT_FREE)
        return;
    if (client->state == CLIENT_LEAVING)
        self->leaving_count--;
    if (client->told_hub)
        s_to_hub (self, msg_new_closed (s_client_id (self, client)));
    const char *reason = client->closing ? client->closing : "left";
    framer_free (&client->in);
    buf_free (&client->out);
    free (client->label);
    client->label = NULL;
    client->state = CLIENT_FREE;
    client->wsi = NULL;
    uint32_t slot = s_client_slot (self, client);
    slotlist_remove (&self->stalled, slot);
    slotlist_remove (&self->throttled, slot);
    self->free_slots [self->free_count++] = slot;
    self->open_count--;
    log_info (&self->log, "connection closed from %s (%s) (%zu client%s)", client->peer, reason,
              self->open_count, self->open_count == 1 ? "" : "s");
    s_tick_schedule (self);  //  The figures moved
}

//  ---------------------------------------------------------------------
//  Input: one text frame is one line, as an nc user types it

static void
s_client_name_line (self_t *self, client_t *client, const char *line, size_t size)
{
    zmsg_t *name = input_name (s_client_id (self, client), line, size);
    if (!name) {
        s_client_finish (self, client, "quit", LWS_CLOSE_STATUS_NORMAL);
        return;
    }
    s_to_hub (self, name);
    client->state = CLIENT_WAITING;
    client->told_hub = true;
}

//  At the name prompt nobody else writes to the client, so we answer
//  ourselves; in a room the room orders its output, so the notice goes
//  round through the hub (as the gateway's).
static void
s_client_notice (self_t *self, client_t *client, const char *text)
{
    if (client->state == CLIENT_NAMING)
        s_client_error (self, client, text);
    else
        s_to_hub (self, msg_new_notice (s_client_id (self, client), text));
}

static void
s_client_chat_line (self_t *self, client_t *client, const char *line, size_t size)
{
    self->figures [METRICS_GW_LINES_IN]++;
    zmsg_t *msg = input_chat (s_client_id (self, client), line, size, &self->input);
    if (msg)
        s_to_hub (self, msg);
    else
        s_client_leave (self, client, "quit");
}

//  Hands on every complete line, as far as its state, --rate and the hub
//  queue allow, then decides whether lws reads its socket.
static void
s_client_process (self_t *self, client_t *client)
{
    uint32_t slot = s_client_slot (self, client);
    while (client->state == CLIENT_NAMING || client->state == CLIENT_CHAT) {
        if (client->paused)
            break;
        if (s_hub_is_behind (self)) {
            slotlist_add (&self->stalled, slot);
            break;
        }
        if (!bucket_ready (&client->bucket, self->config.rate, s_now_ms (), &client->resume_at)) {
            //  Counted when input waits, not when the bucket is merely
            //  empty (as the TCP gateway counts it).
            if (!slotlist_has (&self->throttled, slot) && framer_buffered (&client->in))
                self->figures [METRICS_GW_THROTTLED]++;
            slotlist_add (&self->throttled, slot);
            s_tick_schedule (self);
            break;
        }
        const char    *line;
        size_t         size;
        frame_result_t result = framer_next (&client->in, &line, &size);
        if (result == FRAME_NONE)
            break;
        bucket_spend (&client->bucket, self->config.rate);
        if (result == FRAME_TOO_LONG)
            s_client_notice (self, client, PROTOCOL_TOO_LONG);
        else if (client->state == CLIENT_NAMING)
            s_client_name_line (self, client, line, size);
        else
            s_client_chat_line (self, client, line, size);
    }
    if (client->state != CLIENT_NAMING && client->state != CLIENT_WAITING &&
        client->state != CLIENT_CHAT)
        return;
    bool waiting = slotlist_has (&self->stalled, slot) || slotlist_has (&self->throttled, slot) ||
                   client->paused;
    s_client_set_reading (client, !waiting && framer_buffered (&client->in) < INPUT_CAP);
}

//  A piece of a frame. The framer sees the frame's text and a newline at
//  its end: the very limits, splitting and '\r' trimming of an nc line.
static int
s_client_receive (self_t *self, struct lws *wsi, client_t *client, const void *data, size_t size)
{
    if (lws_frame_is_binary (wsi)) {
        client->closing = "binary frame";
        lws_close_reason (wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
                          (unsigned char *) "text frames only", 16);
        return -1;
    }
    if (client->state != CLIENT_NAMING && client->state != CLIENT_WAITING &&
        client->state != CLIENT_CHAT)
        return 0;
    framer_feed (&client->in, (const char *) data, size);
    if (lws_is_final_fragment (wsi))
        framer_feed (&client->in, "\n", 1);
    s_client_process (self, client);
    return 0;
}

//  ---------------------------------------------------------------------
//  Messages from the hub and the rooms

//  The event to every id listed, the author's only with prompt_skip: for
//  a structured gateway prompt_skip means "the author gets it too".
//  A message's event part (OUT's 4th, ENTER's 3rd), or NULL when it
//  has none.
static const msg_part_t *
s_event_part (const msg_view_t *view, size_t index)
{
    return index < view->parts && index < MSG_MAX_PARTS ? &view->part [index] : NULL;
}

static void
s_handle_out (self_t *self, const msg_view_t *view)
{
    const msg_part_t *event = s_event_part (view, 3);
    self->figures [METRICS_GW_LINES_OUT]++;
    if (!event)
        return;
    size_t count = msg_id_count (view, 1);
    bool   prompt_skip = msg_bool (view, 2);
    for (size_t i = 0; i < count; i++) {
        uint64_t  id = msg_id_at (view, 1, i);
        client_t *client = s_client_lookup (self, id);
        if (!client || (client->state != CLIENT_CHAT && client->state != CLIENT_LEAVING))
            continue;
        if (id == view->id && !prompt_skip)
            continue;
        self->figures [METRICS_GW_DELIVERIES]++;
        s_client_queue (self, client, event->data, event->size, false);
    }
}

static void
s_handle_enter (self_t *self, const msg_view_t *view)
{
    client_t *client = s_client_lookup (self, view->id);
    if (!client || (client->state != CLIENT_WAITING && client->state != CLIENT_CHAT &&
                    client->state != CLIENT_LEAVING))
        return;
    free (client->label);
    client->label = msg_strdup (view, 0);
    if (client->state != CLIENT_LEAVING)
        client->state = CLIENT_CHAT;
    const msg_part_t *event = s_event_part (view, 2);
    if (event)
        s_client_queue (self, client, event->data, event->size, true);
    s_client_process (self, client);
}

static void
s_handle_refuse (self_t *self, const msg_view_t *view)
{
    client_t *client = s_client_lookup (self, view->id);
    if (!client || client->state != CLIENT_WAITING)
        return;
    client->state = CLIENT_NAMING;
    char *reason = msg_strdup (view, 0);
    buf_t event;
    buf_init (&event);
    event_refused (&event, reason);
    free (reason);
    s_client_queue_buf (self, client, &event);
    s_client_process (self, client);
}

static void
s_handle_release (self_t *self, const msg_view_t *view)
{
    if (msg_bool (view, 0)) {
        s_to_hub (self, msg_new_released (view->id));
        return;
    }
    client_t *client = s_client_lookup (self, view->id);
    if (client && client->state == CLIENT_LEAVING)
        s_client_finish (self, client, client->closing, LWS_CLOSE_STATUS_NORMAL);
}

//  PAUSE: a hub queue for this client is full: lws stops reading it
//  until RESUME.
static void
s_handle_pause (self_t *self, const msg_view_t *view, bool paused)
{
    client_t *client = s_client_lookup (self, view->id);
    if (!client || client->paused == paused)
        return;
    client->paused = paused;
    s_client_process (self, client);
}

static void
s_handle_label (self_t *self, const msg_view_t *view)
{
    client_t *client = s_client_lookup (self, view->id);
    if (!client)
        return;
    free (client->label);
    client->label = msg_strdup (view, 0);
}

//  The hub's answer to a SCRAPE: the /metrics request waiting for it is
//  answered when lws says it can be (one that went is forgotten).
static void
s_handle_metrics (self_t *self, const msg_view_t *view)
{
    for (size_t i = 0; i < SCRAPES_MAX; i++) {
        if (self->scrape_tags [i] != view->id || view->id == 0)
            continue;
        struct lws *wsi = self->scrapes [i];
        session_t  *session = (session_t *) lws_wsi_user (wsi);
        self->scrape_tags [i] = 0;
        self->scrapes [i] = NULL;
        free (session->metrics);
        session->metrics = msg_strdup (view, 0);
        session->metrics_size = view->part [0].size;
        lws_set_timeout (wsi, NO_PENDING_TIMEOUT, 0);
        lws_callback_on_writable (wsi);
        return;
    }
}

//  A zmq socket joins lws's loop through a copy of its ZMQ_FD: lws
//  closes the descriptors it adopts, and ZeroMQ's own must stay ZeroMQ's.
static pipe_t *
s_pipe_adopt (self_t *self, pipe_kind_t kind, zsock_t *sock, int fd)
{
    pipe_t *pipe = (pipe_t *) mem_zalloc (1, sizeof (pipe_t));
    pipe->kind = kind;
    pipe->sock = sock;
    lws_sock_file_fd_type desc;
    desc.filefd = sock ? dup (zsock_fd (sock)) : fd;
    if (desc.filefd >= 0)
        pipe->wsi = lws_adopt_descriptor_vhost (self->vhost, LWS_ADOPT_RAW_FILE_DESC, desc,
                                                "tcpchat-pipe", NULL);
    if (!pipe->wsi) {
        free (pipe);
        return NULL;
    }
    lws_set_opaque_user_data (pipe->wsi, pipe);
    pipe->busy = true;  //  It may hold messages already
    s_drain_soon (self);
    return pipe;
}

static void
s_handle_attach (self_t *self, const msg_view_t *view)
{
    char    *endpoint = msg_strdup (view, 0);
    zsock_t *room = msg_pipe_new (endpoint, false);
    if (!room) {
        log_info (&self->log, "E: cannot connect to %s", endpoint);
        free (endpoint);
        return;
    }
    free (endpoint);
    pipe_t *pipe = s_pipe_adopt (self, PIPE_ROOM, room, -1);
    if (!pipe) {
        log_info (&self->log, "E: cannot poll a room's pipe: %s", strerror (errno));
        zsock_destroy (&room);
        return;
    }
    size_t slot = 0;
    while (slot < self->room_slots && self->rooms [slot])
        slot++;
    if (slot == self->room_slots) {
        self->room_slots = self->room_slots ? self->room_slots * 2 : 16;
        self->rooms = (pipe_t **) mem_realloc (self->rooms, self->room_slots * sizeof (pipe_t *));
        for (size_t i = slot; i < self->room_slots; i++)
            self->rooms [i] = NULL;
    }
    self->rooms [slot] = pipe;
}

//  BYE: the room is gone. Its socket goes now; the pipe_t when lws has
//  closed the descriptor (s_pipe_callback).
static void
s_room_detach (self_t *self, pipe_t *pipe)
{
    zsock_destroy (&pipe->sock);
    pipe->busy = false;
    for (size_t slot = 0; slot < self->room_slots; slot++)
        if (self->rooms [slot] == pipe)
            self->rooms [slot] = NULL;
    if (pipe->wsi)
        lws_set_timeout (pipe->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    else
        free (pipe);
}

static void
s_handle_message (self_t *self, zmsg_t *msg, pipe_t *pipe)
{
    msg_view_t view;
    msg_parse (msg, &view);
    switch (view.kind) {
        case MSG_OUT:
            s_handle_out (self, &view);
            break;
        case MSG_ENTER:
            s_handle_enter (self, &view);
            break;
        case MSG_REFUSE:
            s_handle_refuse (self, &view);
            break;
        case MSG_RELEASE:
            s_handle_release (self, &view);
            break;
        case MSG_LABEL:
            s_handle_label (self, &view);
            break;
        case MSG_PAUSE:
        case MSG_RESUME:
            s_handle_pause (self, &view, view.kind == MSG_PAUSE);
            break;
        case MSG_ATTACH:
            s_handle_attach (self, &view);
            break;
        case MSG_BYE:
            if (pipe->kind == PIPE_ROOM)
                s_room_detach (self, pipe);
            break;
        case MSG_METRICS:
            s_handle_metrics (self, &view);
            break;
        case MSG_TERM:
        case MSG_LINE:
        case MSG_STORED:
        MSG_NOT_FOR_WEB:
            msg_drop (&self->log, &view);
            break;
    }
}

//  Reads a pipe until it is empty or the budget is spent; true if it may
//  hold more (its descriptor will not say so again).
static bool
s_drain (self_t *self, pipe_t *pipe)
{
    for (int budget = ZMQ_BUDGET; budget > 0; budget--) {
        if (!pipe->sock || !(zsock_events (pipe->sock) & ZMQ_POLLIN))
            return false;
        zmsg_t *msg = msg_recv (pipe->sock);
        if (!msg)
            return false;
        s_handle_message (self, msg, pipe);
        zmsg_destroy (&msg);
    }
    return pipe->sock != NULL;
}

static void
s_self_handle_pipe (self_t *self)
{
    while (zsock_events (self->pipe) & ZMQ_POLLIN) {
        zmsg_t *msg = msg_recv (self->pipe);
        if (!msg)
            break;
        if (msg_is_term (msg, &self->log))
            self->terminated = true;
        zmsg_destroy (&msg);
    }
}

static void
s_resume_stalled (self_t *self)
{
    if (slotlist_size (&self->stalled) == 0)
        return;
    uint32_t slot;
    slotlist_begin (&self->stalled);
    while (!s_hub_is_behind (self) && slotlist_next (&self->stalled, &slot)) {
        slotlist_remove (&self->stalled, slot);
        s_client_process (self, &self->clients [slot]);
    }
    slotlist_end (&self->stalled);
}

//  Every pipe that stopped on its budget, or whose wakeup a send may
//  have taken, is read again; then what waits for the hub goes on.
static void
s_on_drain (lws_sorted_usec_list_t *sul)
{
    self_t *self = lws_container_of (sul, self_t, drain_sul);
    bool    busy = false;
    //  The actor pipe too: ZMQ_FD says nothing of a message that came
    //  before anyone found the pipe empty (its first $TERM may be one).
    s_self_handle_pipe (self);
    if (self->hub_pipe->busy)
        busy |= self->hub_pipe->busy = s_drain (self, self->hub_pipe);
    for (size_t slot = 0; slot < self->room_slots; slot++) {
        pipe_t *room = self->rooms [slot];
        if (room && room->busy)
            busy |= room->busy = s_drain (self, room);
    }
    s_hub_flush (self);
    s_resume_stalled (self);
    if (busy)
        s_drain_soon (self);
}

static void
s_drain_soon (self_t *self)
{
    lws_sul_schedule (self->context, 0, &self->drain_sul, s_on_drain, 1);
}

//  ---------------------------------------------------------------------
//  Clocks: the name prompts, leavers, --rate

static void
s_resume_throttled (self_t *self, int64_t now)
{
    uint32_t slot;
    slotlist_begin (&self->throttled);
    while (slotlist_next (&self->throttled, &slot)) {
        client_t *client = &self->clients [slot];
        if (client->resume_at > now)
            continue;
        slotlist_remove (&self->throttled, slot);
        s_client_process (self, client);
    }
    slotlist_end (&self->throttled);
}

static void
s_expire (self_t *self, int64_t now)
{
    int64_t opened_before = now - (int64_t) self->config.name_timeout * 1000;
    for (size_t i = 0; i < self->slots_used; i++) {
        client_t *client = &self->clients [i];
        if (client->state == CLIENT_LEAVING && client->leave_by <= now) {
            s_client_finish (self, client, client->closing, LWS_CLOSE_STATUS_NORMAL);
            continue;
        }
        if (self->config.name_timeout == 0 || client->state != CLIENT_NAMING ||
            client->opened_at > opened_before)
            continue;
        char text [NOTICE_SIZE];
        snprintf (text, sizeof text, PROTOCOL_NAME_TIMEOUT, self->config.name_timeout);
        self->figures [METRICS_GW_NAME_TIMEOUTS]++;
        s_client_close_with (self, client, text, "no name in time");
    }
}

//  What browsers have not taken yet, over them all (the entered blocks
//  left out): read when a report is due, not kept on every write.
static void
s_stats_read_gauges (self_t *self)
{
    uint64_t bytes = 0;
    for (size_t i = 0; self->open_count && i < self->slots_used; i++)
        bytes += self->clients [i].owed;
    self->figures [METRICS_GW_CLIENTS] = self->open_count;
    self->figures [METRICS_GW_BACKLOG_BYTES] = bytes;
}

//  A report may have news: with clients the gauges move at any time, so
//  they are looked at once a second; with none, only a count can have
//  moved, and an idle server sleeps once it has reported (as the TCP
//  gateway does).
static bool
s_stats_pending (self_t *self)
{
    if (self->open_count)
        return true;
    s_stats_read_gauges (self);
    return metrics_reporter_changed (&self->reporter, self->figures);
}

//  The figures to the hub, which keeps the last for /metrics: once a
//  second at most, and only when one changed.
static void
s_report_stats (self_t *self, int64_t now)
{
    if (!metrics_reporter_due (&self->reporter, now))
        return;
    s_stats_read_gauges (self);
    if (metrics_reporter_take (&self->reporter, self->figures))
        s_to_hub (self, msg_new_stats (self->index, self->figures, METRICS_GW_FIGURES));
}

static void
s_on_tick (lws_sorted_usec_list_t *sul)
{
    self_t *self = lws_container_of (sul, self_t, tick_sul);
    int64_t now = s_now_ms ();
    self->tick_due = INT64_MAX;
    s_report_stats (self, now);
    s_resume_throttled (self, now);
    s_expire (self, now);
    s_tick_schedule (self);
}

//  Due at the first throttled client's turn, or a TICK_MS from now while
//  a clock runs (name prompts, leavers); not at all when none does.
static void
s_tick_schedule (self_t *self)
{
    int64_t  due = INT64_MAX;
    uint32_t slot;
    slotlist_begin (&self->throttled);
    while (slotlist_next (&self->throttled, &slot))
        if (self->clients [slot].resume_at < due)
            due = self->clients [slot].resume_at;
    slotlist_end (&self->throttled);
    int64_t now = s_now_ms ();
    if ((self->config.name_timeout && self->open_count) || self->leaving_count)
        due = due < now + TICK_MS ? due : now + TICK_MS;
    if (s_stats_pending (self)) {
        int64_t stats_due = self->reporter.next_ms > now ? self->reporter.next_ms : now;
        due = due < stats_due ? due : stats_due;
    }
    //  A tick already due earlier stays: moving it on at every call would
    //  let a busy server put the name prompts' clock off for ever.
    if (due == INT64_MAX || due >= self->tick_due)
        return;
    self->tick_due = due;
    lws_usec_t wait = due > now ? (lws_usec_t) (due - now) * 1000 : 1;
    lws_sul_schedule (self->context, 0, &self->tick_sul, s_on_tick, wait);
}

//  ---------------------------------------------------------------------
//  Accepting: our listening socket, its connections handed to lws

static void
s_on_accept_again (lws_sorted_usec_list_t *sul)
{
    self_t *self = lws_container_of (sul, self_t, accept_sul);
    lws_rx_flow_control (self->listen_pipe->wsi, 1);
}

static void
s_accept (self_t *self)
{
    for (int budget = ACCEPT_BUDGET; budget > 0; budget--) {
        int fd = accept4 (self->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                log_info (&self->log, "E: accept: %s: pausing accepts for %d ms", strerror (errno),
                          ACCEPT_PAUSE_MS);
                lws_rx_flow_control (self->listen_pipe->wsi, 0);
                lws_sul_schedule (self->context, 0, &self->accept_sul, s_on_accept_again,
                                  ACCEPT_PAUSE_MS * LWS_US_PER_MS);
            }
            return;
        }
        //  WebSocket clients are capped when they open (the full
        //  notice); this caps the sockets, for the descriptor budget.
        if (self->sockets >= (size_t) self->config.max_clients + HTTP_SPARE) {
            close (fd);
            self->refused++;
            continue;
        }
        if (lws_adopt_socket_vhost (self->vhost, fd))
            self->sockets++;
    }
}

//  ---------------------------------------------------------------------
//  HTTP

static bool
s_add_header (struct lws *wsi, const char *name, const char *value, unsigned char **p,
              unsigned char *end)
{
    return lws_add_http_header_by_name (wsi, (const unsigned char *) name,
                                        (const unsigned char *) value, (int) strlen (value), p,
                                        end) == 0;
}

//  Every response: its status, type and length, the security headers,
//  and no cookie. The body follows from the writeable callback.
static int
s_http_respond (struct lws *wsi, session_t *session, unsigned status, const char *type,
                const unsigned char *body, size_t size)
{
    unsigned char  buf [LWS_PRE + HEADERS_SIZE];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    if (lws_add_http_common_headers (wsi, status, type, size, &p, end) ||
        !s_add_header (wsi, "content-security-policy:",
                       "default-src 'self'; connect-src 'self'; frame-ancestors 'none'", &p, end) ||
        !s_add_header (wsi, "x-content-type-options:", "nosniff", &p, end) ||
        !s_add_header (wsi, "referrer-policy:", "no-referrer", &p, end) ||
        !s_add_header (wsi, "cache-control:", "no-store", &p, end))
        return -1;
    //  Refusing an upgrade, lws has not yet read the request's version
    //  and writes "HTTP/1.0": a WebSocket handshake is HTTP/1.1 (RFC
    //  6455), and clients reject a 1.0 answer as no answer at all.
    if (memcmp (start, "HTTP/1.0 ", 9) == 0 && lws_hdr_total_length (wsi, WSI_TOKEN_UPGRADE) > 0)
        start [7] = '1';
    if (lws_finalize_write_http_header (wsi, start, &p, end))
        return -1;
    //  Only a refused upgrade has no body (nor a session yet): lws ends
    //  that transaction itself when the callback returns 1.
    if (size == 0)
        return 0;
    session->body = body;
    session->size = size;
    session->sent = 0;
    lws_callback_on_writable (wsi);
    return 0;
}

//  /metrics: the hub renders them (it has every gateway's figures): a
//  SCRAPE with a tag of ours, and the request waits for the METRICS with
//  that tag, SCRAPE_WAIT_S at most.
static int
s_scrape (self_t *self, struct lws *wsi, session_t *session)
{
    static const char busy [] = "Too many /metrics requests at once.\n";
    for (size_t i = 0; i < SCRAPES_MAX; i++) {
        if (self->scrape_tags [i])
            continue;
        self->scrape_tags [i] = ++self->scrape_tag ? self->scrape_tag : ++self->scrape_tag;
        self->scrapes [i] = wsi;
        lws_set_timeout (wsi, PENDING_TIMEOUT_USER_OK, SCRAPE_WAIT_S);
        s_to_hub (self, msg_new_scrape (self->scrape_tags [i]));
        return 0;
    }
    return s_http_respond (wsi, session, HTTP_STATUS_SERVICE_UNAVAILABLE,
                           "text/plain; charset=utf-8", (const unsigned char *) busy,
                           sizeof busy - 1);
}

//  A request that goes before its answer is forgotten.
static void
s_scrape_gone (self_t *self, struct lws *wsi, session_t *session)
{
    for (size_t i = 0; i < SCRAPES_MAX; i++)
        if (self->scrapes [i] == wsi) {
            self->scrapes [i] = NULL;
            self->scrape_tags [i] = 0;
        }
    if (session) {
        free (session->metrics);
        session->metrics = NULL;
    }
}

static int
s_http_request (self_t *self, struct lws *wsi, session_t *session, const char *path)
{
    static const char ok [] = "ok\n", not_found [] = "Not found.\n";
    if (strcmp (path, "/metrics") == 0)
        return s_scrape (self, wsi, session);
    if (strcmp (path, "/healthz") == 0)
        return s_http_respond (wsi, session, HTTP_STATUS_OK, "text/plain; charset=utf-8",
                               (const unsigned char *) ok, sizeof ok - 1);
    for (const web_asset_t *asset = web_assets; asset->path; asset++)
        if (strcmp (path, asset->path) == 0)
            return s_http_respond (wsi, session, HTTP_STATUS_OK, asset->type, asset->data,
                                   asset->size);
    return s_http_respond (wsi, session, HTTP_STATUS_NOT_FOUND, "text/plain; charset=utf-8",
                           (const unsigned char *) not_found, sizeof not_found - 1);
}

static int
s_http_write (self_t *self, struct lws *wsi, session_t *session)
{
    while (session->sent < session->size && !lws_send_pipe_choked (wsi)) {
        size_t size = session->size - session->sent;
        size = size < BODY_CHUNK ? size : BODY_CHUNK;
        if (self->scratch_size < LWS_PRE + size) {
            self->scratch_size = LWS_PRE + size;
            self->scratch = (unsigned char *) mem_realloc (self->scratch, self->scratch_size);
        }
        memcpy (self->scratch + LWS_PRE, session->body + session->sent, size);
        session->sent += size;
        bool final = session->sent == session->size;
        if (lws_write (wsi, self->scratch + LWS_PRE, size,
                       final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int) size)
            return -1;
    }
    if (session->sent < session->size) {
        lws_callback_on_writable (wsi);
        return 0;
    }
    //  Written: a keep-alive connection's next request starts afresh.
    free (session->metrics);
    session->metrics = NULL;
    session->body = NULL;
    session->size = session->sent = 0;
    return lws_http_transaction_completed (wsi) ? -1 : 0;
}

//  A header's value, or NULL when the request has none.
static const char *
s_header (struct lws *wsi, enum lws_token_indexes token, char *buf, size_t size)
{
    int length = lws_hdr_total_length (wsi, token);
    if (length <= 0)
        return NULL;
    if ((size_t) length >= size || lws_hdr_copy (wsi, buf, (int) size, token) < 0)
        return "";  //  Too long to be one we allow
    return buf;
}

//  /ws only, and only from an allowed origin (origin.h). A refusal is
//  logged once, then once a minute at most with the count, so a page
//  that keeps retrying cannot flood the log.
static int
s_confirm_upgrade (self_t *self, struct lws *wsi, session_t *session)
{
    char path [64] = "";
    if (lws_hdr_copy (wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0 || strcmp (path, "/ws") != 0)
        return s_http_respond (wsi, session, HTTP_STATUS_NOT_FOUND, "text/plain", NULL, 0) ? -1 : 1;
    char        origin_buf [ORIGIN_SIZE], host_buf [ORIGIN_SIZE];
    const char *origin = s_header (wsi, WSI_TOKEN_ORIGIN, origin_buf, sizeof origin_buf);
    const char *host = s_header (wsi, WSI_TOKEN_HOST, host_buf, sizeof host_buf);
    if (origin_allowed (origin, host, self->config.http_origin))
        return 0;
    self->origins_refused++;
    int64_t now = s_now_ms ();
    if (self->origin_logged_at == 0 || now - self->origin_logged_at >= ORIGIN_LOG_MS) {
        char peer [PEER_SIZE];
        listener_peer_name (lws_get_socket_fd (wsi), peer, sizeof peer);
        log_info (&self->log,
                  "%" PRIu64 " WebSocket handshake%s refused: Origin not allowed (last: %.80s "
                  "from %s, Host %.80s); next report in %d s at most",
                  self->origins_refused, self->origins_refused == 1 ? "" : "s", origin, peer,
                  host ? host : "none", ORIGIN_LOG_MS / 1000);
        self->origin_logged_at = now;
        self->origins_refused = 0;
    }
    return s_http_respond (wsi, session, HTTP_STATUS_FORBIDDEN, "text/plain", NULL, 0) ? -1 : 1;
}

//  The closed event for a newcomer over --max-clients, then the close.
static int
s_refused_write (struct lws *wsi)
{
    buf_t       event;
    const char *text = PROTOCOL_FULL;
    char        bare [NOTICE_SIZE];
    size_t      size = s_bare_text (&text);
    snprintf (bare, sizeof bare, "%.*s", (int) size, text);
    buf_init (&event);
    event_closed (&event, bare);
    unsigned char frame [LWS_PRE + NOTICE_SIZE * 2];
    size = buf_size (&event);
    assert (size <= NOTICE_SIZE * 2);  //  Our own text, escaped
    memcpy (frame + LWS_PRE, buf_head (&event), size);
    buf_free (&event);
    lws_write (wsi, frame + LWS_PRE, size, LWS_WRITE_TEXT);
    lws_close_reason (wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
    return -1;
}

static int
s_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    self_t    *self = (self_t *) lws_context_user (lws_get_context (wsi));
    session_t *session = (session_t *) user;
    switch (reason) {
        case LWS_CALLBACK_HTTP:
            return s_http_request (self, wsi, session, (const char *) in);
        case LWS_CALLBACK_HTTP_WRITEABLE:
            //  The hub's /metrics came: now the response.
            if (session->metrics && !session->body)
                return s_http_respond (wsi, session, HTTP_STATUS_OK, METRICS_CONTENT_TYPE,
                                       (const unsigned char *) session->metrics,
                                       session->metrics_size);
            return s_http_write (self, wsi, session);
        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            return s_confirm_upgrade (self, wsi, session);
        case LWS_CALLBACK_ESTABLISHED:
            s_client_open (self, wsi, session);
            return 0;
        case LWS_CALLBACK_RECEIVE:
            return session->client ? s_client_receive (self, wsi, session->client, in, len) : 0;
        case LWS_CALLBACK_SERVER_WRITEABLE:
            if (session->refused)
                return s_refused_write (wsi);
            return session->client ? s_client_write (self, session->client) : 0;
        case LWS_CALLBACK_CLOSED:
            s_client_gone (self, session);
            return 0;
        case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
            //  lws frees the session now (keep-alive: between requests).
            s_scrape_gone (self, wsi, session);
            return 0;
        case LWS_CALLBACK_WSI_DESTROY:
            //  Every accepted socket ends here, HTTP or WebSocket.
            if (session)
                s_client_gone (self, session);
            s_scrape_gone (self, wsi, session);
            if (self->sockets)
                self->sockets--;
            return 0;
        default:
            return lws_callback_http_dummy (wsi, reason, user, in, len);
    }
}

//  The adopted descriptors: the actor pipe, the hub, the rooms, the
//  listener.
static int
s_pipe_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
    (void) user, (void) in, (void) len;
    self_t *self = (self_t *) lws_context_user (lws_get_context (wsi));
    pipe_t *pipe = (pipe_t *) lws_get_opaque_user_data (wsi);
    if (!pipe)
        return 0;
    if (reason == LWS_CALLBACK_RAW_RX_FILE) {
        if (pipe->kind == PIPE_ACTOR)
            s_self_handle_pipe (self);
        else if (pipe->kind == PIPE_LISTENER)
            s_accept (self);
        else {
            pipe->busy = s_drain (self, pipe);
            if (pipe->busy)
                s_drain_soon (self);
            s_hub_flush (self);
            s_resume_stalled (self);
        }
        if (self->terminated)
            lws_cancel_service (self->context);
    } else if (reason == LWS_CALLBACK_RAW_CLOSE_FILE) {
        pipe->wsi = NULL;
        lws_set_opaque_user_data (wsi, NULL);
        //  A room's pipe after its BYE is ours to free now; the others
        //  are freed with the actor.
        if (pipe->kind == PIPE_ROOM && !pipe->sock)
            free (pipe);
    }
    return 0;
}

static const struct lws_protocols s_protocols [] = {
    {"tcpchat", s_callback, sizeof (session_t), 4096, 0, NULL, 0},
    {"tcpchat-pipe", s_pipe_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

//  ---------------------------------------------------------------------
//  Setup, shutdown, teardown

static self_t *
s_self_new (zsock_t *pipe, web_args_t *args)
{
    self_t *self = (self_t *) mem_zalloc (1, sizeof (self_t));
    self->pipe = pipe;
    self->config = args->config;
    self->index = args->index;
    self->listener = args->listener;
    self->tick_due = INT64_MAX;
    log_setup (&self->log, &self->config, "web");
    size_t slots = (size_t) self->config.max_clients;
    self->clients = (client_t *) mem_zalloc (slots, sizeof (client_t));
    self->free_slots = (uint32_t *) mem_alloc (slots * sizeof (uint32_t));
    for (size_t i = 0; i < slots; i++)
        self->free_slots [i] = (uint32_t) (slots - 1 - i);
    self->free_count = slots;
    slotlist_init (&self->stalled, slots);
    slotlist_init (&self->throttled, slots);
    self->hub_queue = sendq_new ();
    input_scratch_init (&self->input);
    return self;
}

//  false (logged) when it cannot start.
static bool
s_self_start (self_t *self)
{
    lws_set_log_level (LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = s_protocols;
    info.user = self;
    info.gid = (gid_t) -1;
    info.uid = (uid_t) -1;
    info.vhost_name = "tcpchat";
    //  A browser that vanished without a FIN is found as an nc one is.
    info.ka_time = 60;
    info.ka_probes = 6;
    info.ka_interval = 10;
    self->context = lws_create_context (&info);
    if (!self->context) {
        log_info (&self->log, "E: cannot start: lws_create_context failed");
        return false;
    }
    self->vhost = lws_get_vhost_by_name (self->context, "tcpchat");
    char endpoint [ENDPOINT_MAX];
    endpoint_hub (&self->config, self->index, endpoint);
    self->hub = msg_pipe_new (endpoint, false);
    if (!self->vhost || !self->hub) {
        log_info (&self->log, "E: cannot connect to %s: %s", endpoint, strerror (errno));
        return false;
    }
    zsock_set_sndtimeo (self->hub, 0);
    self->actor_pipe = s_pipe_adopt (self, PIPE_ACTOR, self->pipe, -1);
    self->hub_pipe = s_pipe_adopt (self, PIPE_HUB, self->hub, -1);
    //  lws owns the listener from here on, and closes it (even when the
    //  adoption fails).
    self->listen_pipe = s_pipe_adopt (self, PIPE_LISTENER, NULL, self->listener);
    self->listen_fd = self->listener;
    self->listener = -1;
    if (!self->actor_pipe || !self->hub_pipe || !self->listen_pipe) {
        log_info (&self->log, "E: cannot start: cannot poll its pipes: %s", strerror (errno));
        return false;
    }
    return true;
}

static bool
s_rooms_attached (self_t *self)
{
    for (size_t slot = 0; slot < self->room_slots; slot++)
        if (self->rooms [slot] && self->rooms [slot]->sock)
            return true;
    return false;
}

//  Main has stopped the hub and the rooms: their last output first (up
//  to their BYE), then every browser is told and closed, and gets
//  SHUTDOWN_FLUSH_MS to take what it is owed.
static void
s_shutdown (self_t *self)
{
    int64_t deadline = s_now_ms () + SHUTDOWN_ROOMS_MS;
    while (s_rooms_attached (self) && s_now_ms () < deadline) {
        for (size_t slot = 0; slot < self->room_slots; slot++)
            if (self->rooms [slot] && self->rooms [slot]->sock)
                s_drain (self, self->rooms [slot]);
        if (s_rooms_attached (self))
            zclock_sleep (1);
    }
    for (size_t i = 0; i < self->slots_used; i++) {
        client_t *client = &self->clients [i];
        if (client->state == CLIENT_FREE || client->state == CLIENT_CLOSING)
            continue;
        client->told_hub = false;  //  The hub is gone
        s_client_close_with (self, client, PROTOCOL_SHUTDOWN, "server stopping");
        client->close_code = LWS_CLOSE_STATUS_GOINGAWAY;
    }
    deadline = s_now_ms () + SHUTDOWN_FLUSH_MS;
    while (self->open_count && s_now_ms () < deadline)
        if (lws_service (self->context, 0) < 0)
            break;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->slots_used; i++)
        self->clients [i].told_hub = false;  //  The hub is gone
    //  Closes every connection and adopted descriptor (callbacks run).
    if (self->context)
        lws_context_destroy (self->context);
    if (self->listener >= 0)
        close (self->listener);
    for (size_t slot = 0; slot < self->room_slots; slot++)
        if (self->rooms [slot]) {
            zsock_destroy (&self->rooms [slot]->sock);
            free (self->rooms [slot]);
        }
    free (self->rooms);
    free (self->actor_pipe);
    free (self->hub_pipe);
    free (self->listen_pipe);
    sendq_destroy (&self->hub_queue);
    zsock_destroy (&self->hub);
    for (size_t i = 0; i < self->slots_used; i++) {
        framer_free (&self->clients [i].in);
        buf_free (&self->clients [i].out);
        free (self->clients [i].label);
    }
    free (self->clients);
    free (self->free_slots);
    slotlist_free (&self->stalled);
    slotlist_free (&self->throttled);
    input_scratch_free (&self->input);
    free (self->scratch);
    free (self);
    *self_p = NULL;
}

void
web_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (web_args_t *) args);
    free (args);
    if (!s_self_start (self)) {
        s_self_destroy (&self);
        zsock_signal (pipe, 1);
        return;
    }
    char                    address [PEER_SIZE + 8] = "?";
    struct sockaddr_storage addr;
    socklen_t               len = sizeof addr;
    if (getsockname (self->listen_fd, (struct sockaddr *) &addr, &len) == 0)
        snprintf (address, sizeof address, "port %d",
                  ntohs (addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &addr)->sin6_port
                                                    : ((struct sockaddr_in *) &addr)->sin_port));
    log_info (&self->log, "listening for HTTP on %s (%d WebSocket client%s at most)", address,
              self->config.max_clients, self->config.max_clients == 1 ? "" : "s");
    zsock_signal (pipe, 0);
    while (!self->terminated)
        if (lws_service (self->context, 0) < 0)
            break;
    s_shutdown (self);
    log_info (&self->log,
              "stopped (%" PRIu64 " accepted, %" PRIu64 " refused, %" PRIu64 " line%s in, %" PRIu64
              " cut for being too slow, %" PRIu64 " timed out at the name prompt)",
              self->figures [METRICS_GW_CONNECTIONS], self->refused,
              self->figures [METRICS_GW_LINES_IN],
              self->figures [METRICS_GW_LINES_IN] == 1 ? "" : "s",
              self->figures [METRICS_GW_SLOW_CUT], self->figures [METRICS_GW_NAME_TIMEOUTS]);
    s_self_destroy (&self);
}
