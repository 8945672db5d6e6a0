/* SPDX-License-Identifier: MIT */
/*  gateway: owns every TCP connection.

    Why our own epoll loop and not a ZMQ_STREAM socket: with our own
    buffers we know each client's backlog to the byte, get an exact
    slow-client signal (send() returns EAGAIN), can close any client
    cleanly and pace accepts, and the loop scales with the number of
    ready sockets, not the number of open ones (docs/ARCHITECTURE.md has
    the measurements).

    Output is appended to each client's buffer and every client that got
    something is flushed once per loop pass, so one send() carries all the
    lines a pass produced for it.

    The gateway never blocks: messages for the hub wait in a queue while
    the hub's pipe is full, and clients' input waits in their sockets
    (TCP pushes back on them) while that queue is long.                  */
#include "gateway.h"
#include "addrs.h"
#include "bucket.h"
#include "endpoints.h"
#include "framer.h"
#include "input.h"
#include "listener.h"
#include "log.h"
#include "mem.h"
#include "messages.h"
#include "metrics.h"
#include "names.h"
#include "protocol.h"
#include "sendq.h"
#include "slotlist.h"
#include "telnet.h"
#include "text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

//  What an epoll event is about: the top bits say what, the rest which.
#define SOURCE_CONN     (0ULL << 32)
#define SOURCE_LISTENER (1ULL << 32)
#define SOURCE_PIPE     (2ULL << 32)
#define SOURCE_HUB      (3ULL << 32)
#define SOURCE_ROOM     (4ULL << 32)
#define SOURCE_KIND(u)  ((u) & ~0xffffffffULL)
#define SOURCE_INDEX(u) ((uint32_t) ((u) &0xffffffffULL))

#define READ_CHUNK        65536 /* bytes per read() */
#define INPUT_CAP         65536 /* stop reading a client holding this much */
#define HUB_QUEUE_MAX     4096  /* stop taking input while the hub is this far behind */
#define ZMQ_BUDGET        256   /* messages per pipe per pass, so no pipe starves the rest */
#define ACCEPT_BUDGET     64    /* connections accepted per pass */
#define EPOLL_EVENTS      256
#define NAME_CHECK_MS     1000                   /* how often the name prompt's clock is read */
#define KEEPALIVE_IDLE    60                     /* s of silence before TCP probes a client */
#define KEEPALIVE_INTVL   10                     /* s between probes */
#define KEEPALIVE_CNT     6                      /* unanswered probes before it is closed */
#define FLUSH_DELAY_US    1000                   /* busy, output waits this long for more */
#define BATCH_DELAY_US    8000                   /* heavy, output waits this long in any case */
#define BATCH_ABOVE       100000                 /* deliveries per second that make it heavy */
#define LOAD_WINDOW_MS    100                    /* over which the delivery rate is counted */
#define SHUTDOWN_ROOMS_MS 500                    /* at shutdown: for the rooms' last output */
#define SHUTDOWN_FLUSH_MS 1000                   /* at shutdown: for clients to take theirs */
#define LEAVE_WAIT_MS     5000                   /* a leaver's room has this long to say RELEASE */
#define CLOSE_DRAIN_READS 4                      /* unread input dropped at close, at most */
#define SOCKET_NAME_SIZE  (INET6_ADDRSTRLEN + 8) /* "[host]:port" and a NUL */
#define NOTICE_SIZE       128                    /* a client notice with a number in it */

typedef enum {
    CONN_FREE,
    CONN_NAMING,  /* at the name prompt */
    CONN_WAITING, /* a name went to the hub: wait for its verdict */
    CONN_CHAT,    /* in a room */
    CONN_LEAVING, /* gone from the hub: written to until RELEASE "0" */
    CONN_CLOSING  /* closes after this pass's flush */
} conn_state_t;

typedef struct {
    int              fd;
    uint32_t         gen; /* with the slot, makes the client id */
    uint8_t          state;
    bool             reading;    /* EPOLLIN is in the interest set */
    bool             writing;    /* EPOLLOUT is in the interest set */
    bool             paused;     /* the hub said PAUSE: hand on nothing until RESUME */
    bool             eof;        /* the peer is done sending */
    bool             told_hub;   /* the hub may know it: CLOSED must follow */
    bool             hung_up;    /* out of the epoll set: the peer is gone */
    const char      *gone;       /* hung_up: why, for the log */
    const char      *closing;    /* CONN_LEAVING, CONN_CLOSING: why, for the log */
    char            *label;      /* the name its prompts show */
    int64_t          opened_at;  /* ms clock */
    bucket_t         bucket;     /* --rate */
    int64_t          resume_at;  /* throttled: when a line's worth is back */
    uint64_t         sent;       /* bytes written to it so far */
    uint64_t         block_from; /* the history block ENTER pushed at once: */
    uint64_t         block_to;   /*   its place in the output stream */
    int64_t          leave_by;   /* CONN_LEAVING: closed then, RELEASE or not */
    int32_t          addr;       /* its address's entry in self->addrs, or -1 */
    framer_t         in;
    buf_t            out;
    telnet_filter_t *telnet; /* from its first IAC byte on (telnet.h) */
    char             peer [SOCKET_NAME_SIZE];
} conn_t;

struct _gateway_t {
    zsock_t  *pipe; /* from main */
    zsock_t  *hub;  /* PAIR to the hub */
    config_t  config;
    log_t     log;
    unsigned  index; /* ours in client ids (msg_id_make) and endpoints */
    int       epoll;
    int       listener;
    bool      accepting;     /* listener is in the epoll set */
    int64_t   accept_resume; /* ms clock: retry accept() after running out of fds */
    conn_t   *conns;         /* max_clients slots */
    uint32_t *free_slots;
    size_t    free_count;
    size_t    open_count;
    size_t    slots_used; /* slots below this have been used */
    //  Each connection is on each list at most once, and leaves all three
    //  when it closes, so a reused slot starts on none (slotlist.h).
    slotlist_t      dirty;           /* to flush at the end of the pass */
    int64_t         dirty_since;     /* us clock of the first output not flushed */
    bool            batching;        /* heavy load: flush every BATCH_DELAY_US */
    uint64_t        deliveries;      /* queued in the current load window */
    int64_t         window_start;    /* ms clock */
    slotlist_t      stalled;         /* input waits for the hub queue to shrink */
    slotlist_t      throttled;       /* over --rate: read again at resume_at */
    int64_t         next_name_check; /* ms clock: name prompts and leavers */
    size_t          leaving_count;   /* connections in CONN_LEAVING */
    sendq_t        *hub_queue;       /* messages waiting for room in the hub pipe */
    zsock_t       **rooms;           /* rooms' output pipes; NULL holes are reused */
    bool           *room_busy;       /* stopped on budget: read again next pass */
    size_t          room_slots;
    bool            hub_busy;
    stamp_cache_t   stamp;
    addrs_t        *addrs;      /* --connect-rate, --max-per-address */
    char           *chunk;      /* READ_CHUNK bytes */
    input_scratch_t input;      /* cleaned texts of the line at hand */
    telnet_result_t telnet_out; /* scratch for telnet_filter_feed */
    uint64_t        refused;    /* at the door, for any reason */
    //  /metrics (metrics.h): counted as things happen, the gauges read
    //  when a report is due; the reporter: when, and the last STATS.
    bool               stats; /* something serves them: the web gateway (--http) */
    uint64_t           figures [METRICS_GW_FIGURES];
    metrics_reporter_t reporter;
    bool               terminated;
    int64_t (*clock) (void); /* monotonic us */
    int64_t now_us;          /* the clock, read once per loop pass */
};
typedef gateway_t self_t;

static void s_conn_close (self_t *self, conn_t *conn, const char *reason);
static void s_conn_process (self_t *self, conn_t *conn);

//  The one place a pass reads the clock (once, after epoll_wait; the
//  shutdown waits read it once a turn): every decision in a pass sees the
//  same instant, and a test can run the gateway on a clock of its own.
static void
s_clock_read (self_t *self)
{
    self->now_us = self->clock ();
}

//  The time of this loop pass.
static int64_t
s_now_ms (self_t *self)
{
    return self->now_us / 1000;
}

//  ---------------------------------------------------------------------
//  Setup and teardown

static void
s_epoll_add (self_t *self, int fd, uint32_t events, uint64_t source)
{
    struct epoll_event event = {.events = events, .data.u64 = source};
    if (epoll_ctl (self->epoll, EPOLL_CTL_ADD, fd, &event) != 0)
        log_info (&self->log, "E: epoll_ctl add: %s", strerror (errno));
}

//  Everything the gateway owns but its descriptors: it cannot fail (out
//  of memory the process stops), s_self_start can.
static self_t *
s_self_new (zsock_t *pipe, gateway_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->config = args->config;
    self->index = args->index;
    assert (self->index < MSG_GATEWAYS_MAX);
    self->listener = args->listener;
    //  Only a web gateway serves /metrics: without one, nobody would read
    //  the figures, so they are not sent.
    self->stats = self->config.http_port > 0;
    self->clock = args->clock ? args->clock : zclock_usecs;
    s_clock_read (self);
    log_setup (&self->log, &self->config, "gateway");
    size_t slots = (size_t) self->config.max_clients;
    self->conns = (conn_t *) mem_zalloc (slots, sizeof (conn_t));
    self->free_slots = (uint32_t *) mem_alloc (slots * sizeof (uint32_t));
    slotlist_init (&self->dirty, slots);
    slotlist_init (&self->stalled, slots);
    slotlist_init (&self->throttled, slots);
    //  Lowest slots first, so a small server touches little memory.
    for (size_t i = 0; i < slots; i++)
        self->free_slots [i] = (uint32_t) (slots - 1 - i);
    self->free_count = slots;
    self->hub_queue = sendq_new ();
    uint64_t seed = 0;
    if (getrandom (&seed, sizeof seed, GRND_NONBLOCK) != sizeof seed)
        seed = (uint64_t) zclock_usecs () ^ ((uint64_t) getpid () << 32);
    self->addrs = addrs_new (self->config.connect_rate, self->config.max_per_address, slots, seed);
    self->chunk = (char *) mem_alloc (READ_CHUNK);
    input_scratch_init (&self->input);
    self->epoll = -1;
    return self;
}

//  false (logged) when the gateway cannot start: no descriptor for epoll,
//  or the hub's endpoint cannot be connected to.
static bool
s_self_start (self_t *self)
{
    self->epoll = epoll_create1 (EPOLL_CLOEXEC);
    if (self->epoll < 0) {
        log_info (&self->log, "E: cannot start: epoll_create1: %s", strerror (errno));
        return false;
    }
    char endpoint [ENDPOINT_MAX];
    endpoint_hub (&self->config, self->index, endpoint);
    self->hub = msg_pipe_new (endpoint, false);
    if (!self->hub) {
        log_info (&self->log, "E: cannot connect to %s: %s", endpoint, strerror (errno));
        return false;
    }
    //  We send only when ZMQ_EVENTS says POLLOUT, but at shutdown the hub
    //  may go between that look and the send, and a PAIR without a peer
    //  blocks the sender for ever. The gateway must never block: such a
    //  send fails instead (the hub that would have read it is gone).
    zsock_set_sndtimeo (self->hub, 0);
    s_epoll_add (self, zsock_fd (self->pipe), EPOLLIN, SOURCE_PIPE);
    s_epoll_add (self, zsock_fd (self->hub), EPOLLIN, SOURCE_HUB);
    s_epoll_add (self, self->listener, EPOLLIN, SOURCE_LISTENER);
    self->accepting = true;
    return true;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->slots_used; i++)
        if (self->conns [i].state != CONN_FREE) {
            self->conns [i].told_hub = false;  //  The hub is gone
            s_conn_close (self, &self->conns [i], "server stopping");
        }
    for (size_t i = 0; i < self->room_slots; i++)
        zsock_destroy (&self->rooms [i]);
    sendq_destroy (&self->hub_queue);
    addrs_destroy (&self->addrs);
    zsock_destroy (&self->hub);
    close (self->listener);
    if (self->epoll >= 0)
        close (self->epoll);
    free (self->rooms);
    free (self->room_busy);
    free (self->conns);
    free (self->free_slots);
    slotlist_free (&self->dirty);
    slotlist_free (&self->stalled);
    slotlist_free (&self->throttled);
    free (self->chunk);
    input_scratch_free (&self->input);
    buf_free (&self->telnet_out.data);
    buf_free (&self->telnet_out.reply);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  The hub pipe: never block on it

static void
s_hub_flush (self_t *self)
{
    if (sendq_size (self->hub_queue) == 0)
        return;
    sendq_flush (self->hub_queue, self->hub);
    //  Looking at the pipe may have consumed the wakeup of a message the
    //  hub just sent us; epoll would not report it again, so note it.
    if (zsock_events (self->hub) & ZMQ_POLLIN)
        self->hub_busy = true;
}

//  Takes msg.
static void
s_to_hub (self_t *self, zmsg_t *msg)
{
    sendq_send (self->hub_queue, &msg, self->hub);
    //  Sending may have consumed the pipe's wakeup: look again this pass.
    self->hub_busy = true;
}

static bool
s_hub_is_behind (self_t *self)
{
    return sendq_size (self->hub_queue) >= HUB_QUEUE_MAX;
}

//  ---------------------------------------------------------------------
//  Connections: ids, output, interest

static uint64_t
s_conn_id (self_t *self, conn_t *conn)
{
    return msg_id_make (self->index, conn->gen, (uint32_t) (conn - self->conns));
}

static conn_t *
s_conn_lookup (self_t *self, uint64_t id)
{
    uint32_t slot = msg_id_slot (id);
    if (msg_id_gateway (id) != self->index || slot >= (uint32_t) self->config.max_clients)
        return NULL;
    conn_t *conn = &self->conns [slot];
    if (conn->state == CONN_FREE || conn->gen != msg_id_gen (id))
        return NULL;
    return conn;
}

static void
s_conn_set_interest (self_t *self, conn_t *conn, bool reading, bool writing)
{
    if ((conn->reading == reading && conn->writing == writing) || conn->hung_up)
        return;
    conn->reading = reading;
    conn->writing = writing;
    struct epoll_event event = {.events = (reading ? EPOLLIN : 0) | (writing ? EPOLLOUT : 0),
                                .data.u64 = SOURCE_CONN | (uint64_t) (conn - self->conns)};
    epoll_ctl (self->epoll, EPOLL_CTL_MOD, conn->fd, &event);
}

static uint32_t
s_conn_slot (self_t *self, conn_t *conn)
{
    return (uint32_t) (conn - self->conns);
}

static bool
s_conn_stalled (self_t *self, conn_t *conn)
{
    return slotlist_has (&self->stalled, s_conn_slot (self, conn));
}

static bool
s_conn_throttled (self_t *self, conn_t *conn)
{
    return slotlist_has (&self->throttled, s_conn_slot (self, conn));
}

static void
s_conn_mark_dirty (self_t *self, conn_t *conn)
{
    if (slotlist_size (&self->dirty) == 0)
        self->dirty_since = self->now_us;
    slotlist_add (&self->dirty, s_conn_slot (self, conn));
}

//  Stops reading; the end of this pass flushes what it is owed and closes.
static void
s_conn_finish (self_t *self, conn_t *conn, const char *reason)
{
    if (conn->state == CONN_LEAVING)
        self->leaving_count--;
    conn->state = CONN_CLOSING;
    conn->closing = reason;
    s_conn_set_interest (self, conn, false, conn->writing);
    s_conn_mark_dirty (self, conn);
}

//  The hub knows it, so it is told at once; the connection stays open,
//  reading nothing, while the replies to what it sent before it left
//  come through its room. The room's RELEASE "0", behind the last of
//  them, closes it (s_handle_release), or LEAVE_WAIT_MS if none comes.
static void
s_conn_leave (self_t *self, conn_t *conn, const char *reason)
{
    s_to_hub (self, msg_new_closed (s_conn_id (self, conn)));
    conn->told_hub = false;
    conn->state = CONN_LEAVING;
    conn->closing = reason;
    conn->leave_by = s_now_ms (self) + LEAVE_WAIT_MS;
    self->leaving_count++;
    s_conn_set_interest (self, conn, false, conn->writing);
}

//  Output for one client, written at the end of the pass.
static void
s_conn_queue (self_t *self, conn_t *conn, const char *data, size_t size)
{
    if (size == 0 || conn->state == CONN_CLOSING || conn->hung_up)
        return;
    //  To telnet a 0xFF is a command: sent as data it is doubled. Our text
    //  is UTF-8, which has none, but a history file may hold anything.
    if (conn->telnet && memchr (data, TELNET_IAC_BYTE, size))
        telnet_filter_send (conn->telnet, data, size, &conn->out);
    else
        buf_append (&conn->out, data, size);
    s_conn_mark_dirty (self, conn);
}

static void
s_conn_queue_str (self_t *self, conn_t *conn, const char *text)
{
    s_conn_queue (self, conn, text, strlen (text));
}

static void
s_conn_prompt (self_t *self, conn_t *conn)
{
    if (conn->state != CONN_CHAT && conn->state != CONN_LEAVING) {
        s_conn_queue_str (self, conn, PROTOCOL_NAME_PROMPT);
        return;
    }
    //  "[ts][name]:" built in place: this runs once per delivery.
    char        prompt [STAMP_SIZE + NAME_MAX_BYTES + 4];
    const char *stamp = stamp_now (&self->stamp);
    size_t      stamp_len = STAMP_SIZE - 1;
    //  The hub allows no longer name; never trust that with our stack.
    size_t label_len = strnlen (conn->label, NAME_MAX_BYTES);
    memcpy (prompt, stamp, stamp_len);
    prompt [stamp_len] = '[';
    memcpy (prompt + stamp_len + 1, conn->label, label_len);
    memcpy (prompt + stamp_len + 1 + label_len, "]:", 2);
    s_conn_queue (self, conn, prompt, stamp_len + label_len + 3);
}

//  What is left unsent of the history block: an allowance that shrinks as
//  the client reads the block.
static size_t
s_conn_block_unsent (conn_t *conn)
{
    uint64_t from = conn->sent > conn->block_from ? conn->sent : conn->block_from;
    size_t   unsent = conn->block_to > from ? (size_t) (conn->block_to - from) : 0;
    //  Never more than the buffer holds (dropped when the peer went).
    return unsent < buf_size (&conn->out) ? unsent : buf_size (&conn->out);
}

//  Writes what the client is owed. Returns false if the connection closed.
static bool
s_conn_flush (self_t *self, conn_t *conn)
{
    while (buf_size (&conn->out)) {
        ssize_t sent = send (conn->fd, buf_head (&conn->out), buf_size (&conn->out),
                             MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) {
            buf_consume (&conn->out, (size_t) sent);
            conn->sent += (uint64_t) sent;
        } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        else if (sent < 0 && errno == EINTR)
            continue;
        else {
            s_conn_close (self, conn, "write error");
            return false;
        }
    }
    //  A client on its way out gets this one flush, not a wait: one that
    //  does not read would otherwise hold its slot for ever.
    if (conn->state == CONN_CLOSING) {
        s_conn_close (self, conn, conn->closing);
        return false;
    }
    //  What it has not taken after a write is what it owes: a client that
    //  does not read while others talk would make us hold its share for
    //  ever. Past --max-backlog it is cut, and its room hears it left.
    //  The history block is not counted: that much we chose to send at
    //  once, and a client reading it is not slow.
    size_t owed = buf_size (&conn->out) - s_conn_block_unsent (conn);
    if (owed > (size_t) self->config.max_backlog) {
        log_info (&self->log, "%s is too slow: %zu bytes unsent, over --max-backlog %d", conn->peer,
                  owed, self->config.max_backlog);
        self->figures [METRICS_GW_SLOW_CUT]++;
        s_conn_close (self, conn, "too slow");
        return false;
    }
    bool pending = buf_size (&conn->out) > 0;
    s_conn_set_interest (self, conn, conn->reading, pending);
    return true;
}

//  ---------------------------------------------------------------------
//  Connections: open and close

static void
s_conn_open (self_t *self, int fd, int32_t addr)
{
    uint32_t slot = self->free_slots [--self->free_count];
    conn_t  *conn = &self->conns [slot];
    if (slot >= self->slots_used)
        self->slots_used = slot + 1;
    uint32_t gen = (conn->gen + 1) & MSG_ID_GEN_MASK;
    memset (conn, 0, sizeof *conn);
    conn->gen = gen ? gen : 1;  //  Ids are never 0
    conn->fd = fd;
    conn->addr = addr;
    conn->state = CONN_NAMING;
    conn->reading = true;
    conn->opened_at = s_now_ms (self);
    bucket_init (&conn->bucket, self->config.rate, conn->opened_at);
    framer_init (&conn->in);
    buf_init (&conn->out);
    listener_peer_name (fd, conn->peer, sizeof conn->peer);
    //  We already coalesce each pass's output into one send(); Nagle
    //  would only hold the next one back until the client's delayed ACK.
    int on = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    //  A peer that vanished without a FIN would hold its slot for ever:
    //  keepalive finds it within KEEPALIVE_IDLE + CNT * INTVL seconds.
    int idle = KEEPALIVE_IDLE, interval = KEEPALIVE_INTVL, count = KEEPALIVE_CNT;
    setsockopt (fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    setsockopt (fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt (fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    setsockopt (fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
    self->open_count++;
    self->figures [METRICS_GW_CONNECTIONS]++;
    s_epoll_add (self, fd, EPOLLIN, SOURCE_CONN | slot);
    s_conn_queue_str (self, conn, PROTOCOL_BANNER);
    s_conn_prompt (self, conn);
    log_info (&self->log, "connection opened from %s (%zu client%s)", conn->peer, self->open_count,
              self->open_count == 1 ? "" : "s");
}

static void
s_conn_close (self_t *self, conn_t *conn, const char *reason)
{
    if (conn->state == CONN_FREE)
        return;
    if (conn->state == CONN_LEAVING)
        self->leaving_count--;
    if (conn->told_hub)
        s_to_hub (self, msg_new_closed (s_conn_id (self, conn)));
    addrs_release (self->addrs, conn->addr);
    conn->addr = -1;
    //  One last try to deliver what it is owed, without waiting: if that
    //  fails, it is going anyway.
    if (buf_size (&conn->out))
        (void) !send (conn->fd, buf_head (&conn->out), buf_size (&conn->out),
                      MSG_NOSIGNAL | MSG_DONTWAIT);
    //  Input we never read would make close() send a reset, which can
    //  destroy the last output before the peer reads it: drop it first.
    for (int reads = 0; reads < CLOSE_DRAIN_READS; reads++)
        if (recv (conn->fd, self->chunk, READ_CHUNK, MSG_DONTWAIT) <= 0)
            break;
    close (conn->fd);
    framer_free (&conn->in);
    buf_free (&conn->out);
    telnet_filter_destroy (&conn->telnet);
    free (conn->label);
    conn->label = NULL;
    conn->state = CONN_FREE;
    conn->fd = -1;
    //  Off every list, even in the middle of a pass over it: the slot
    //  may be reused before that pass ends.
    uint32_t slot = s_conn_slot (self, conn);
    slotlist_remove (&self->dirty, slot);
    slotlist_remove (&self->stalled, slot);
    slotlist_remove (&self->throttled, slot);
    self->free_slots [self->free_count++] = slot;
    self->open_count--;
    log_info (&self->log, "connection closed from %s (%s) (%zu client%s)", conn->peer, reason,
              self->open_count, self->open_count == 1 ? "" : "s");
}

//  A refused newcomer gets its one line and is closed at once; whether
//  or not the text gets through, it is refused either way.
static void
s_refuse (self_t *self, int fd, const char *text)
{
    (void) !send (fd, text, strlen (text), MSG_NOSIGNAL | MSG_DONTWAIT);
    close (fd);
    self->refused++;
}

//  Over an address's budget: one log line for the first refusal, then at
//  most one a minute with the count, so a reconnect loop cannot flood
//  the log either.
static void
s_refuse_address (self_t *self, int fd, const struct sockaddr *addr, int32_t handle,
                  addrs_verdict_t verdict)
{
    char text [NOTICE_SIZE];
    if (verdict == ADDRS_TOO_MANY)
        snprintf (text, sizeof text, PROTOCOL_TOO_MANY, self->config.max_per_address);
    else
        snprintf (text, sizeof text, "%s", PROTOCOL_TOO_FAST);
    s_refuse (self, fd, text);
    uint32_t count;
    if (!addrs_log_refusal (self->addrs, handle, s_now_ms (self), &count))
        return;
    char who [SOCKET_NAME_SIZE];
    addrs_format (addr, who, sizeof who);
    char why [LOG_REASON_SIZE];
    if (verdict == ADDRS_TOO_MANY)
        snprintf (why, sizeof why, "%d open, --max-per-address", self->config.max_per_address);
    else
        snprintf (why, sizeof why, "over --connect-rate %d, bursts of %d",
                  self->config.connect_rate, self->config.connect_rate * ADDRS_BURST_SECONDS);
    log_info (&self->log,
              "%" PRIu32 " connection%s from %s refused (%s); next report in %d s at most", count,
              count == 1 ? "" : "s", who, why, ADDRS_LOG_EVERY_MS / 1000);
}

static void
s_accept (self_t *self)
{
    for (int budget = ACCEPT_BUDGET; budget > 0; budget--) {
        struct sockaddr_storage addr;
        socklen_t               addr_len = sizeof addr;
        int                     fd = accept4 (self->listener, (struct sockaddr *) &addr, &addr_len,
                                              SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                //  Out of descriptors: the backlog holds the newcomers until
                //  some close. Pause instead of spinning on the ready listener.
                log_info (&self->log, "E: accept: %s: pausing accepts for 100 ms",
                          strerror (errno));
                epoll_ctl (self->epoll, EPOLL_CTL_DEL, self->listener, NULL);
                self->accepting = false;
                self->accept_resume = s_now_ms (self) + 100;
            }
            return;
        }
        if (listener_is_probe (fd)) {
            //  The health probe (TCPChat --health): answered even when
            //  full, never a slot, never the address's budget, never a
            //  log line every 30 s.
            (void) !send (fd, LISTENER_PROBE_REPLY, strlen (LISTENER_PROBE_REPLY),
                          MSG_NOSIGNAL | MSG_DONTWAIT);
            close (fd);
            continue;
        }
        //  The address's budget first: a reconnect loop is turned away
        //  (and logged) by it before it can fill the slots or the log.
        int32_t         handle = -1;
        addrs_verdict_t verdict =
            addrs_admit (self->addrs, (struct sockaddr *) &addr, s_now_ms (self), &handle);
        if (verdict != ADDRS_OK) {
            s_refuse_address (self, fd, (struct sockaddr *) &addr, handle, verdict);
            continue;
        }
        if (self->free_count == 0) {
            addrs_release (self->addrs, handle);
            char peer [SOCKET_NAME_SIZE];
            listener_peer_name (fd, peer, sizeof peer);
            s_refuse (self, fd, PROTOCOL_FULL);
            self->figures [METRICS_GW_REFUSED_FULL]++;
            log_info (&self->log, "connection from %s refused: chat is full (%zu client%s)", peer,
                      self->open_count, self->open_count == 1 ? "" : "s");
            continue;
        }
        s_conn_open (self, fd, handle);
    }
}

//  ---------------------------------------------------------------------
//  Input: lines from a client

static void
s_conn_stall (self_t *self, conn_t *conn)
{
    slotlist_add (&self->stalled, s_conn_slot (self, conn));
}

//  --rate: a token bucket per client, refilled by the clock. A client
//  past its share is not read until a line's worth is back, so TCP makes
//  it wait: nothing it sent is lost, and the others' lines go first.
static bool
s_conn_may_send (self_t *self, conn_t *conn)
{
    if (bucket_ready (&conn->bucket, self->config.rate, s_now_ms (self), &conn->resume_at))
        return true;
    slotlist_add (&self->throttled, s_conn_slot (self, conn));
    //  Counted when input waits, not when the bucket is merely empty.
    if (framer_buffered (&conn->in))
        self->figures [METRICS_GW_THROTTLED]++;
    return false;
}

static void
s_conn_name_line (self_t *self, conn_t *conn, const char *line, size_t size)
{
    zmsg_t *name = input_name (s_conn_id (self, conn), line, size);
    if (!name) {
        s_conn_finish (self, conn, "quit");
        return;
    }
    s_to_hub (self, name);
    conn->state = CONN_WAITING;
    conn->told_hub = true;
}

//  At the name prompt nobody else writes to the client, so the gateway
//  answers itself; in a room the room orders its output, so the notice
//  goes round through the hub.
static void
s_conn_notice (self_t *self, conn_t *conn, const char *text)
{
    if (conn->state == CONN_NAMING) {
        s_conn_queue_str (self, conn, text);
        s_conn_prompt (self, conn);
        return;
    }
    s_to_hub (self, msg_new_notice (s_conn_id (self, conn), text));
}

static void
s_conn_chat_line (self_t *self, conn_t *conn, const char *line, size_t size)
{
    self->figures [METRICS_GW_LINES_IN]++;
    zmsg_t *msg = input_chat (s_conn_id (self, conn), line, size, &self->input);
    if (msg)
        s_to_hub (self, msg);
    else
        s_conn_leave (self, conn, "quit");
}

//  Hands on every complete line the client has sent, as far as its state
//  and the hub queue allow, then decides whether to read more.
static void
s_conn_process (self_t *self, conn_t *conn)
{
    while (conn->state == CONN_NAMING || conn->state == CONN_CHAT) {
        if (conn->paused)
            break;
        if (s_hub_is_behind (self)) {
            s_conn_stall (self, conn);
            break;
        }
        if (!s_conn_may_send (self, conn))
            break;
        const char    *line;
        size_t         size;
        frame_result_t result = framer_next (&conn->in, &line, &size);
        if (result == FRAME_NONE)
            break;
        bucket_spend (&conn->bucket, self->config.rate);
        if (result == FRAME_TOO_LONG)
            s_conn_notice (self, conn, PROTOCOL_TOO_LONG);
        else if (conn->state == CONN_NAMING)
            s_conn_name_line (self, conn, line, size);
        else
            s_conn_chat_line (self, conn, line, size);
    }
    if (conn->state == CONN_CLOSING || conn->state == CONN_LEAVING)
        return;
    bool waiting = s_conn_stalled (self, conn) || s_conn_throttled (self, conn) || conn->paused;
    if (conn->eof && conn->state != CONN_WAITING && !waiting) {
        //  All it sent before leaving is handed on: a partial last line,
        //  with no newline, is dropped as the peer never finished it.
        //  A peer that only half-closed still reads: it gets the replies.
        if (conn->state == CONN_CHAT && !conn->hung_up)
            s_conn_leave (self, conn, "left");
        else
            s_conn_close (self, conn, conn->gone ? conn->gone : "left");
        return;
    }
    bool reading = !conn->eof && !waiting && framer_buffered (&conn->in) < INPUT_CAP;
    s_conn_set_interest (self, conn, reading, conn->writing);
}

//  Received bytes go to the framer; from a client's first IAC byte on,
//  through its telnet filter, whose answers join its output.
static void
s_conn_feed (self_t *self, conn_t *conn, const char *data, size_t size)
{
    if (!conn->telnet) {
        const char *iac = (const char *) memchr (data, TELNET_IAC_BYTE, size);
        if (!iac) {
            framer_feed (&conn->in, data, size);
            return;
        }
        framer_feed (&conn->in, data, (size_t) (iac - data));
        size -= (size_t) (iac - data);
        data = iac;
        conn->telnet = telnet_filter_new ();
    }
    telnet_result_t *out = &self->telnet_out;
    telnet_filter_feed (conn->telnet, data, size, out);
    if (out->drop_partial)
        framer_drop_partial (&conn->in);
    framer_feed (&conn->in, buf_head (&out->data), buf_size (&out->data));
    if (buf_size (&out->reply) && conn->state != CONN_CLOSING && !conn->hung_up) {
        buf_append (&conn->out, buf_head (&out->reply), buf_size (&out->reply));
        s_conn_mark_dirty (self, conn);
    }
    if (out->fatal)
        s_conn_finish (self, conn, "telnet protocol error");
}

//  The peer is gone (a reset, or shut both ways): nothing more can be
//  written to it, and epoll would report it on every pass, so it leaves
//  the set. The lines it sent before still go to the hub, as its state
//  and --rate allow (s_conn_process), then it is closed; a leaver, with
//  nothing left to hand on, at once.
static void
s_conn_gone (self_t *self, conn_t *conn, const char *reason)
{
    if (conn->state == CONN_LEAVING || conn->state == CONN_CLOSING) {
        s_conn_close (self, conn, conn->closing);
        return;
    }
    epoll_ctl (self->epoll, EPOLL_CTL_DEL, conn->fd, NULL);
    conn->hung_up = true;
    conn->gone = reason;
    conn->reading = conn->writing = false;
    buf_clear (&conn->out);
    conn->eof = true;
    s_conn_process (self, conn);
}

static void
s_conn_read (self_t *self, conn_t *conn)
{
    ssize_t got = recv (conn->fd, self->chunk, READ_CHUNK, MSG_DONTWAIT);
    if (got > 0) {
        s_conn_feed (self, conn, self->chunk, (size_t) got);
        s_conn_process (self, conn);
    } else if (got == 0) {
        conn->eof = true;
        s_conn_process (self, conn);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        s_conn_gone (self, conn, errno == ECONNRESET ? "reset" : strerror (errno));
}

//  The peer is gone both ways. epoll would report that on every pass, so
//  take what it sent and leave the set; its lines still go to the hub.
static void
s_conn_hang_up (self_t *self, conn_t *conn)
{
    bool reading = conn->state != CONN_LEAVING && conn->state != CONN_CLOSING;
    for (int reads = 0; reading && reads < 64 && !conn->eof; reads++) {
        s_conn_read (self, conn);
        if (conn->state == CONN_FREE)
            return;
    }
    if (!conn->hung_up)
        s_conn_gone (self, conn, "left");
}

//  Clients that waited for the hub queue to shrink get their turn, in
//  the order they stalled; one that stalls again goes to the back.
static void
s_resume_stalled (self_t *self)
{
    if (slotlist_size (&self->stalled) == 0)
        return;
    uint32_t slot;
    slotlist_begin (&self->stalled);
    while (!s_hub_is_behind (self) && slotlist_next (&self->stalled, &slot)) {
        slotlist_remove (&self->stalled, slot);
        s_conn_process (self, &self->conns [slot]);
    }
    slotlist_end (&self->stalled);
}

//  Throttled clients whose tokens are back are read again. One still
//  over its rate is listed again: the list takes that in its stride.
static void
s_resume_throttled (self_t *self)
{
    if (slotlist_size (&self->throttled) == 0)
        return;
    int64_t  now = s_now_ms (self);
    uint32_t slot;
    slotlist_begin (&self->throttled);
    while (slotlist_next (&self->throttled, &slot)) {
        conn_t *conn = &self->conns [slot];
        if (conn->resume_at > now)
            continue;
        slotlist_remove (&self->throttled, slot);
        s_conn_process (self, conn);
    }
    slotlist_end (&self->throttled);
}

//  The ms clock at which the first throttled client may go on.
static int64_t
s_throttled_due (self_t *self)
{
    int64_t  due = INT64_MAX;
    uint32_t slot;
    slotlist_begin (&self->throttled);
    while (slotlist_next (&self->throttled, &slot))
        if (self->conns [slot].resume_at < due)
            due = self->conns [slot].resume_at;
    slotlist_end (&self->throttled);
    return due;
}

//  ---------------------------------------------------------------------
//  Messages from the hub and the rooms

static void
s_handle_out (self_t *self, const msg_view_t *view)
{
    const msg_part_t *text = &view->part [0];
    size_t            count = msg_id_count (view, 1);
    bool              prompt_skip = msg_bool (view, 2);
    uint64_t          delivered = 0;
    for (size_t i = 0; i < count; i++) {
        uint64_t id = msg_id_at (view, 1, i);
        conn_t  *conn = s_conn_lookup (self, id);
        if (!conn || (conn->state != CONN_CHAT && conn->state != CONN_LEAVING))
            continue;
        self->deliveries++;
        if (id != view->id) {
            s_conn_queue (self, conn, text->data, text->size);
            delivered++;
        } else if (!prompt_skip)
            continue;
        s_conn_prompt (self, conn);
    }
    self->figures [METRICS_GW_LINES_OUT]++;
    self->figures [METRICS_GW_DELIVERIES] += delivered;
}

static void
s_handle_enter (self_t *self, const msg_view_t *view)
{
    conn_t *conn = s_conn_lookup (self, view->id);
    if (!conn ||
        (conn->state != CONN_WAITING && conn->state != CONN_CHAT && conn->state != CONN_LEAVING))
        return;
    free (conn->label);
    conn->label = msg_strdup (view, 0);
    //  A leaver too may enter: it left on its way to this room, the move
    //  completes and its last words reach it here, but it reads no more.
    if (conn->state != CONN_LEAVING)
        conn->state = CONN_CHAT;
    //  The room's history goes out in one block, as big as the room made
    //  it: the backlog cap leaves it out. One block at a time: whatever
    //  is left of an earlier one (a client hopping between rooms without
    //  reading) counts against the cap from now on.
    //  Measured in the buffer: a telnet client's block grows (IAC doubled).
    conn->block_from = conn->sent + buf_size (&conn->out);
    s_conn_queue (self, conn, view->part [1].data, view->part [1].size);
    conn->block_to = conn->sent + buf_size (&conn->out);
    s_conn_prompt (self, conn);
    s_conn_process (self, conn);  //  Nothing for a leaver
}

static void
s_handle_refuse (self_t *self, const msg_view_t *view)
{
    conn_t *conn = s_conn_lookup (self, view->id);
    if (!conn || conn->state != CONN_WAITING)
        return;
    conn->state = CONN_NAMING;
    s_conn_queue (self, conn, view->part [0].data, view->part [0].size);
    s_conn_queue (self, conn, "\n", 1);
    s_conn_prompt (self, conn);
    s_conn_process (self, conn);
}

//  RELEASE id moving, a room's last word for id. Moving: the mover's old
//  room is done, so the hub may let it in the next one (passed on even
//  if the client has gone: the hub sorts that out). Else it left, and
//  all its room had for it is queued: a leaving connection can close.
static void
s_handle_release (self_t *self, const msg_view_t *view)
{
    if (msg_bool (view, 0)) {
        s_to_hub (self, msg_new_released (view->id));
        return;
    }
    conn_t *conn = s_conn_lookup (self, view->id);
    if (conn && conn->state == CONN_LEAVING)
        s_conn_finish (self, conn, conn->closing);
}

//  PAUSE: a hub queue for this client is full. Its lines wait in its
//  socket, so TCP pushes back on it, until RESUME. Output, the backlog
//  cap and leaving go on as usual.
static void
s_handle_pause (self_t *self, const msg_view_t *view, bool paused)
{
    conn_t *conn = s_conn_lookup (self, view->id);
    if (!conn || conn->paused == paused)
        return;
    conn->paused = paused;
    s_conn_process (self, conn);
}

static void
s_handle_label (self_t *self, const msg_view_t *view)
{
    conn_t *conn = s_conn_lookup (self, view->id);
    if (!conn)
        return;
    free (conn->label);
    conn->label = msg_strdup (view, 0);
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
    size_t slot = 0;
    while (slot < self->room_slots && self->rooms [slot])
        slot++;
    if (slot == self->room_slots) {
        self->room_slots = self->room_slots ? self->room_slots * 2 : 16;
        self->rooms = (zsock_t **) mem_realloc (self->rooms, self->room_slots * sizeof (zsock_t *));
        self->room_busy = (bool *) mem_realloc (self->room_busy, self->room_slots * sizeof (bool));
        for (size_t i = slot; i < self->room_slots; i++) {
            self->rooms [i] = NULL;
            self->room_busy [i] = false;
        }
    }
    self->rooms [slot] = room;
    self->room_busy [slot] = true;  //  It may have spoken already
    s_epoll_add (self, zsock_fd (room), EPOLLIN, SOURCE_ROOM | slot);
}

static void
s_room_detach (self_t *self, size_t slot)
{
    epoll_ctl (self->epoll, EPOLL_CTL_DEL, zsock_fd (self->rooms [slot]), NULL);
    zsock_destroy (&self->rooms [slot]);
    self->room_busy [slot] = false;
}

//  One message from the hub or a room (room_slot is -1 for the hub).
//  What was meant for a connection that is gone goes too.
static void
s_handle_message (self_t *self, zmsg_t *msg, ssize_t room_slot)
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
            if (room_slot >= 0)
                s_room_detach (self, (size_t) room_slot);
            break;
        case MSG_TERM:
        case MSG_LINE:
        case MSG_STORED:
        MSG_NOT_FOR_GATEWAY:
            msg_drop (&self->log, &view);
            break;
    }
}

//  Reads a pipe until it is empty or the budget is spent; true if it may
//  hold more (ZMQ_FD will not wake us for those, so we must come back).
static bool
s_drain (self_t *self, zsock_t *sock, ssize_t room_slot)
{
    for (int budget = ZMQ_BUDGET; budget > 0; budget--) {
        if (!(zsock_events (sock) & ZMQ_POLLIN))
            return false;
        zmsg_t *msg = msg_recv (sock);
        if (!msg)
            return false;
        s_handle_message (self, msg, room_slot);
        zmsg_destroy (&msg);
        if (room_slot >= 0 && !self->rooms [room_slot])
            return false;  //  That was its BYE
    }
    return true;
}

//  $TERM, the one command on the pipe.
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

//  ---------------------------------------------------------------------
//  The loop: each pass reads the clock once, then takes three steps,
//  s_handle_events, s_before_sleep and s_next_deadline (gateway_pass).

//  Step 1: what woke us.

static void
s_handle_event (self_t *self, struct epoll_event *event)
{
    uint64_t source = event->data.u64;
    uint32_t index = SOURCE_INDEX (source);
    switch (SOURCE_KIND (source)) {
        case SOURCE_CONN: {
            conn_t *conn = &self->conns [index];
            if (conn->state == CONN_FREE)
                break;
            if ((event->events & EPOLLOUT) && !s_conn_flush (self, conn))
                break;
            if (event->events & (EPOLLHUP | EPOLLERR))
                s_conn_hang_up (self, conn);
            else if (event->events & EPOLLIN)
                s_conn_read (self, conn);
            break;
        }
        case SOURCE_LISTENER:
            s_accept (self);
            break;
        case SOURCE_PIPE:
            s_self_handle_pipe (self);
            break;
        case SOURCE_HUB:
            self->hub_busy = true;
            break;
        case SOURCE_ROOM:
            if (index < self->room_slots && self->rooms [index])
                self->room_busy [index] = true;
            break;
    }
}

static void
s_drain_pipes (self_t *self)
{
    if (self->hub_busy)
        self->hub_busy = s_drain (self, self->hub, -1);
    for (size_t slot = 0; slot < self->room_slots; slot++)
        if (self->room_busy [slot] && self->rooms [slot])
            self->room_busy [slot] = s_drain (self, self->rooms [slot], (ssize_t) slot);
}

//  The pipe first: $TERM wins over everything else. Then each event, and
//  last the ZeroMQ pipes that events (or a spent budget) marked busy:
//  ZMQ_FD only says "look", the messages are read here.
static void
s_handle_events (self_t *self, struct epoll_event *events, int count)
{
    s_self_handle_pipe (self);
    for (int i = 0; i < count; i++)
        s_handle_event (self, &events [i]);
    s_drain_pipes (self);
}

//  Step 2: the work that waits for every event of the pass.

static void
s_flush_dirty (self_t *self)
{
    //  A flush may close the connection, which takes it off every list.
    uint32_t slot;
    slotlist_begin (&self->dirty);
    while (slotlist_next (&self->dirty, &slot)) {
        slotlist_remove (&self->dirty, slot);
        s_conn_flush (self, &self->conns [slot]);
    }
    slotlist_end (&self->dirty);
}

static bool
s_pipes_busy (self_t *self)
{
    if (self->hub_busy)
        return true;
    for (size_t slot = 0; slot < self->room_slots; slot++)
        if (self->room_busy [slot])
            return true;
    return false;
}

//  When to write what clients are owed. Light load: as soon as the loop
//  goes idle, so a line goes out at once (or FLUSH_DELAY_US after it was
//  queued, while work keeps coming). Heavy load (over BATCH_ABOVE
//  deliveries a second): every BATCH_DELAY_US, idle or not. Then each
//  send() carries every line a client got over those milliseconds, not
//  one: a loopback send costs the kernel's work per segment, not per
//  byte, and at that rate sends are what the server spends its time on.
static void
s_measure_load (self_t *self)
{
    int64_t now = s_now_ms (self);
    if (now - self->window_start < LOAD_WINDOW_MS)
        return;
    uint64_t per_second = self->deliveries * 1000 / (uint64_t) (now - self->window_start);
    bool     batching = per_second >= BATCH_ABOVE;
    if (batching != self->batching)
        log_debug (&self->log, "%s batching output (%" PRIu64 " deliveries/s)",
                   batching ? "started" : "stopped", per_second);
    self->batching = batching;
    self->deliveries = 0;
    self->window_start = now;
}

static int64_t
s_flush_delay_us (self_t *self)
{
    return self->batching ? BATCH_DELAY_US : FLUSH_DELAY_US;
}

static bool
s_flush_due (self_t *self, int events)
{
    if (slotlist_size (&self->dirty) == 0)
        return false;
    if (events == 0 && !s_pipes_busy (self) && !self->batching)
        return true;
    return self->now_us - self->dirty_since >= s_flush_delay_us (self);
}

//  Clients at the name prompt for longer than --name-timeout are told
//  and closed, so idle sockets cannot hold the slots. A second's
//  precision is plenty for a limit counted in seconds.
//  Leavers whose room never said RELEASE "0" (it stopped, or the hub
//  lost them) are closed too, LEAVE_WAIT_MS after they left.
static void
s_expire_name_prompts (self_t *self)
{
    int64_t now = s_now_ms (self);
    if ((self->config.name_timeout == 0 && self->leaving_count == 0) || now < self->next_name_check)
        return;
    self->next_name_check = now + NAME_CHECK_MS;
    int64_t opened_before = now - (int64_t) self->config.name_timeout * 1000;
    for (size_t i = 0; i < self->slots_used; i++) {
        conn_t *conn = &self->conns [i];
        if (conn->state == CONN_LEAVING && conn->leave_by <= now) {
            s_conn_finish (self, conn, conn->closing);
            continue;
        }
        if (self->config.name_timeout == 0 || conn->state != CONN_NAMING ||
            conn->opened_at > opened_before)
            continue;
        char text [NOTICE_SIZE];
        snprintf (text, sizeof text, PROTOCOL_NAME_TIMEOUT, self->config.name_timeout);
        s_conn_queue_str (self, conn, text);
        self->figures [METRICS_GW_NAME_TIMEOUTS]++;
        s_conn_finish (self, conn, "no name in time");
    }
}

//  What clients have not taken yet, over them all: read when a report
//  is due, not kept on every write.
static uint64_t
s_backlog_bytes (self_t *self)
{
    uint64_t bytes = 0;
    for (size_t i = 0; self->open_count && i < self->slots_used; i++)
        bytes += buf_size (&self->conns [i].out);
    return bytes;
}

static void
s_stats_read_gauges (self_t *self)
{
    self->figures [METRICS_GW_CLIENTS] = self->open_count;
    self->figures [METRICS_GW_BACKLOG_BYTES] = s_backlog_bytes (self);
}

//  A report may have news: with clients the gauges move at any time, so
//  they are looked at once a second; with none, only a count can have
//  moved, and a server without clients sleeps once it has reported.
static bool
s_stats_pending (self_t *self)
{
    if (!self->stats || self->open_count)
        return self->stats;
    s_stats_read_gauges (self);  //  Both 0 at once: no client
    return metrics_reporter_changed (&self->reporter, self->figures);
}

//  The figures to the hub, which keeps the last for /metrics: once a
//  second at most, and only when one changed.
static void
s_report_stats (self_t *self)
{
    int64_t now = s_now_ms (self);
    if (!self->stats || !metrics_reporter_due (&self->reporter, now))
        return;
    s_stats_read_gauges (self);
    if (metrics_reporter_take (&self->reporter, self->figures))
        s_to_hub (self, msg_new_stats (self->index, self->figures, METRICS_GW_FIGURES));
}

static void
s_resume_accepting (self_t *self)
{
    if (self->accepting || s_now_ms (self) < self->accept_resume)
        return;
    s_epoll_add (self, self->listener, EPOLLIN, SOURCE_LISTENER);
    self->accepting = true;
}

//  In this order, each for the reason given; count is the pass's events.
static void
s_before_sleep (self_t *self, int count)
{
    //  The events queued messages for the hub: send what its pipe takes.
    s_hub_flush (self);
    //  After that flush, as the hub queue is shortest: stalled input goes on.
    s_resume_stalled (self);
    //  Time refills rate buckets: those a line's worth again are read.
    s_resume_throttled (self);
    //  Out of descriptors, accepting paused; the clock ends the pause.
    s_resume_accepting (self);
    //  After the events, so a name or RELEASE that came this pass counts.
    s_expire_name_prompts (self);
    //  The pass's deliveries are counted before the flush asks the rate.
    s_measure_load (self);
    //  The last of the client work, so each one's send() carries all the
    //  pass gave it.
    if (s_flush_due (self, count))
        s_flush_dirty (self);
    //  After the flush: the backlog it reports is what clients left.
    s_report_stats (self);
}

//  Step 3: how long the next epoll_wait may sleep.

static int64_t
s_earliest (int64_t due, int64_t other)
{
    return other < due ? other : due;
}

//  0 while work waits (a pipe stopped on its budget, output to write,
//  stalled input the hub queue can take now); else until the first timed
//  duty, measured from the pass's clock: a throttled client's turn,
//  accepting again, the name prompts' and leavers' clock, a held flush;
//  -1 when there is none. A new timer adds its deadline here, and its
//  work to s_before_sleep.
static int
s_next_deadline (self_t *self)
{
    bool dirty = slotlist_size (&self->dirty) > 0;
    if (s_pipes_busy (self) || (dirty && !self->batching) ||
        (slotlist_size (&self->stalled) && !s_hub_is_behind (self)))
        return 0;
    int64_t due = s_throttled_due (self);
    if (!self->accepting)
        due = s_earliest (due, self->accept_resume);
    if ((self->config.name_timeout && self->open_count) || self->leaving_count)
        due = s_earliest (due, self->next_name_check);
    if (dirty)
        due = s_earliest (due, (self->dirty_since + s_flush_delay_us (self) + 999) / 1000);
    if (s_stats_pending (self))
        due = s_earliest (due, self->reporter.next_ms);
    if (due == INT64_MAX)
        return -1;
    int64_t wait = due - s_now_ms (self);
    return wait <= 0 ? 0 : wait > NAME_CHECK_MS ? NAME_CHECK_MS : (int) wait;
}

//  ---------------------------------------------------------------------
//  Shutdown: main has stopped the hub and the rooms before telling us

static bool
s_rooms_attached (self_t *self)
{
    for (size_t slot = 0; slot < self->room_slots; slot++)
        if (self->rooms [slot])
            return true;
    return false;
}

static bool
s_clients_owed (self_t *self)
{
    for (size_t i = 0; i < self->slots_used; i++)
        if (self->conns [i].state != CONN_FREE && buf_size (&self->conns [i].out))
            return true;
    return false;
}

//  Every client hears why the line goes quiet and gets all it is owed:
//  the rooms' last output first (up to their BYE), then our notice,
//  written out for as long as SHUTDOWN_FLUSH_MS allows.
static void
s_shutdown (self_t *self)
{
    s_clock_read (self);
    int64_t deadline = s_now_ms (self) + SHUTDOWN_ROOMS_MS;
    while (s_rooms_attached (self) && s_now_ms (self) < deadline) {
        for (size_t slot = 0; slot < self->room_slots; slot++)
            if (self->rooms [slot])
                s_drain (self, self->rooms [slot], (ssize_t) slot);
        if (s_rooms_attached (self))
            zclock_sleep (1);
        s_clock_read (self);
    }
    for (size_t i = 0; i < self->slots_used; i++) {
        conn_t *conn = &self->conns [i];
        if (conn->state == CONN_FREE)
            continue;
        conn->told_hub = false;  //  The hub is gone
        s_conn_set_interest (self, conn, false, conn->writing);
        s_conn_queue_str (self, conn, PROTOCOL_SHUTDOWN);
    }
    s_flush_dirty (self);
    s_clock_read (self);
    deadline = s_now_ms (self) + SHUTDOWN_FLUSH_MS;
    struct epoll_event events [EPOLL_EVENTS];
    while (s_clients_owed (self) && s_now_ms (self) < deadline) {
        int count = epoll_wait (self->epoll, events, EPOLL_EVENTS, 10);
        s_clock_read (self);
        for (int i = 0; i < count; i++) {
            if (SOURCE_KIND (events [i].data.u64) != SOURCE_CONN)
                continue;
            conn_t *conn = &self->conns [SOURCE_INDEX (events [i].data.u64)];
            if (conn->state != CONN_FREE && (events [i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
                s_conn_flush (self, conn);
        }
    }
    for (size_t i = 0; i < self->slots_used; i++)
        s_conn_close (self, &self->conns [i], "server stopping");
}

gateway_t *
gateway_new (zsock_t *pipe, gateway_args_t *args)
{
    self_t *self = s_self_new (pipe, args);
    free (args);
    if (!s_self_start (self)) {
        s_self_destroy (&self);
        return NULL;
    }
    char address [SOCKET_NAME_SIZE];
    listener_local_name (self->listener, address, sizeof address);
    log_info (&self->log, "listening on %s (%d connection%s at most)", address,
              self->config.max_clients, self->config.max_clients == 1 ? "" : "s");
    self->hub_busy = true;
    return self;
}

//  Sleep until an event or the next deadline, read the clock, handle the
//  events, then the work that waits for them.
bool
gateway_pass (gateway_t *self, int timeout_ms)
{
    struct epoll_event events [EPOLL_EVENTS];
    int                timeout = timeout_ms < 0 ? s_next_deadline (self) : timeout_ms;
    int                count = epoll_wait (self->epoll, events, EPOLL_EVENTS, timeout);
    if (count < 0 && errno != EINTR) {
        log_info (&self->log, "E: epoll_wait: %s", strerror (errno));
        return false;
    }
    if (count < 0)
        count = 0;
    s_clock_read (self);
    s_handle_events (self, events, count);
    s_before_sleep (self, count);
    return !self->terminated;
}

void
gateway_destroy (gateway_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    s_shutdown (self);
    log_info (&self->log,
              "stopped (%" PRIu64 " accepted, %" PRIu64 " refused, %" PRIu64 " line%s in, %" PRIu64
              " cut for being too slow, %" PRIu64 " timed out at the name prompt)",
              self->figures [METRICS_GW_CONNECTIONS], self->refused,
              self->figures [METRICS_GW_LINES_IN],
              self->figures [METRICS_GW_LINES_IN] == 1 ? "" : "s",
              self->figures [METRICS_GW_SLOW_CUT], self->figures [METRICS_GW_NAME_TIMEOUTS]);
    s_self_destroy (self_p);
}

void
gateway_actor (zsock_t *pipe, void *args)
{
    gateway_t *self = gateway_new (pipe, (gateway_args_t *) args);
    zsock_signal (pipe, self ? 0 : 1);
    if (!self)
        return;
    while (gateway_pass (self, -1))
        ;
    gateway_destroy (&self);
}
