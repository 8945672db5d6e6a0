/* SPDX-License-Identifier: MIT */
/*  libFuzzer target for the gateway's connection state machine: the real
    actors/gateway.c, stepped pass by pass (gateway_pass) on a clock the
    fuzzer moves, with the fuzzer playing every client, the hub and the
    rooms.

    Each input is a script. Four bytes pick the options (--max-clients 1
    to 4, --rate 0 to 20, --max-backlog, --name-timeout); then each byte
    is an operation, some followed by argument bytes:

      clients   connect, send raw bytes (partial lines included), send a
                burst of lines, send an over-long line, read what it is
                owed, half-close, close, close unread (a reset)
      hub       answer the oldest name with ENTER (from a room) or REFUSE,
                move a member (ENTER again), LABEL, PAUSE or RESUME one
                client's input, stop or start reading
                the gateway's messages (so its queue fills and clients
                stall)
      rooms     OUT to members (stale and unknown ids mixed in, the author
                skipped or given a bare prompt), a flood of OUT to one
                member (its backlog), RELEASE "1" or "0" (a leaver's
                end), ATTACH a room, BYE
      gateway   one loop pass; the clock moves forward

    Clients are AF_UNIX stream sockets accepted from an AF_UNIX listener:
    the same code paths as TCP (accept4, recv, send, EPOLLHUP), but every
    byte arrives the moment it is sent, so a script replays exactly.

    Besides sanitizer reports it checks what the gateway tells the hub,
    and aborts when a promise is broken:
      - ids name a slot below --max-clients, generation not 0;
      - nothing about a client after its CLOSED, and one CLOSED per id;
      - one name at a time: no NAME while the last one awaits its verdict;
      - LINE, CMD and NOTICE only from a client the hub let into a room;
      - --rate: no client hands on more lines than its bucket allows
        (the burst, plus the rate times the time elapsed).             */
#include "gateway.h"
#include "endpoints.h"
#include "messages.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MAX_CLIENTS 8 /* sockets the script plays at once */
#define MAX_ROOMS   3
#define MAX_IDS     256 /* ids the hub tracks per run */
#define MAX_OPS     200 /* operations per input */
#define BURST_LINE  "l\n"

typedef enum {
    ID_NAMING,  /* a NAME awaits its verdict */
    ID_REFUSED, /* back at the name prompt */
    ID_MEMBER,  /* in a room */
    ID_CLOSED   /* CLOSED came */
} id_state_t;

typedef struct {
    uint64_t   id;
    id_state_t state;
    int        lines; /* NAME LINE CMD NOTICE handed on */
} tracked_t;

typedef struct {
    gateway_t     *gateway;
    zsock_t       *pipe;    /* main's end of the gateway's pipe */
    zsock_t       *backend; /* the gateway's end */
    zsock_t       *hub;
    zsock_t       *rooms [MAX_ROOMS];
    int            clients [MAX_CLIENTS];
    tracked_t      ids [MAX_IDS];
    size_t         id_count;
    bool           hub_deaf; /* not reading the gateway's messages */
    config_t       config;
    const uint8_t *data;
    size_t         size, at;
    unsigned       seq;
} fuzz_t;

static int64_t  s_now_us;
static bool     s_stopping;
static unsigned s_run;
static bool     s_trace; /* FUZZ_TRACE=1: print the hub's traffic */

//  Aborts, saying which promise broke.
#define s_check(condition)                                                                         \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            fprintf (stderr, "fuzz_gateway: broken: %s (line %d)\n", #condition, __LINE__);        \
            abort ();                                                                              \
        }                                                                                          \
    } while (0)

//  The gateway's clock. While it stops it waits on clock deadlines:
//  there time moves by itself, so no run can spin.
static int64_t
s_clock (void)
{
    if (s_stopping)
        s_now_us += 100000;
    return s_now_us;
}

static uint8_t
s_byte (fuzz_t *self)
{
    return self->at < self->size ? self->data [self->at++] : 0;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    //  The gateway logs every connection on stdout; libFuzzer talks on
    //  stderr. CZMQ must leave SIGINT to libFuzzer.
    int null = open ("/dev/null", O_WRONLY);
    if (null >= 0) {
        dup2 (null, 1);
        close (null);
    }
    s_trace = getenv ("FUZZ_TRACE") != NULL;
    zsys_handler_set (NULL);
    zsys_init ();
    zsys_set_max_sockets (0);
    return 0;
}

/* ------------------------------------------------------------------ */
/*  The hub's view: ids and what the gateway says about them           */

static tracked_t *
s_id (fuzz_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->id_count; i++)
        if (self->ids [i].id == id)
            return &self->ids [i];
    return NULL;
}

static tracked_t *
s_id_new (fuzz_t *self, uint64_t id)
{
    if (self->id_count == MAX_IDS)
        return NULL;
    tracked_t *entry = &self->ids [self->id_count++];
    *entry = (tracked_t){.id = id, .state = ID_REFUSED};
    return entry;
}

//  The bucket's promise: the burst, then --rate lines a second.
static void
s_check_rate (fuzz_t *self, tracked_t *entry)
{
    entry->lines++;
    if (self->config.rate == 0)
        return;
    int64_t allowed = 2 * (int64_t) self->config.rate +
                      (int64_t) self->config.rate * (s_now_us / 1000) / 1000 + 1;
    s_check (entry->lines <= allowed);
}

//  Sends msg (taken) as the hub or a room would.
static void
s_post (zsock_t *sock, zmsg_t *msg)
{
    msg_send (&msg, sock);
}

static void
s_hub_message (fuzz_t *self, zmsg_t *msg)
{
    msg_view_t view;
    s_check (msg_parse (msg, &view));
    if (view.kind == MSG_RELEASED)
        return;  //  Our own RELEASE's id, passed on
    if (s_trace)
        fprintf (stderr, "hub <- %s %llx\n", view.type, (unsigned long long) view.id);
    uint32_t slot = (uint32_t) (view.id & 0xffffffffULL);
    s_check (slot < (uint32_t) self->config.max_clients);
    s_check ((view.id >> 32) != 0);
    tracked_t *entry = s_id (self, view.id);
    if (!entry)
        entry = s_id_new (self, view.id);
    if (!entry)
        return;  //  Out of room to track: skip
    s_check (entry->state != ID_CLOSED);
    if (view.kind == MSG_NAME) {
        s_check (entry->state == ID_REFUSED);
        entry->state = ID_NAMING;
        s_check_rate (self, entry);
    } else if (view.kind == MSG_LINE || view.kind == MSG_CMD || view.kind == MSG_NOTICE) {
        s_check (entry->state == ID_MEMBER);
        s_check_rate (self, entry);
    } else if (view.kind == MSG_CLOSED)
        entry->state = ID_CLOSED;
    else
        s_check (0);  //  No other type goes to the hub
}

static void
s_hub_read (fuzz_t *self)
{
    while (!self->hub_deaf && (zsock_events (self->hub) & ZMQ_POLLIN)) {
        zmsg_t *msg = msg_recv (self->hub);
        if (!msg)
            break;
        s_hub_message (self, msg);
        zmsg_destroy (&msg);
    }
}

/* ------------------------------------------------------------------ */
/*  Setup and teardown                                                 */

//  rcvhwm > 0: a shallower pipe than the default, set before binding.
static zsock_t *
s_pair (const char *endpoint, int rcvhwm)
{
    zsock_t *sock = zsock_new (ZMQ_PAIR);
    s_check (sock != NULL);
    //  The fuzzer must never block: a send that would is dropped.
    zsock_set_sndtimeo (sock, 0);
    if (rcvhwm > 0)
        zsock_set_rcvhwm (sock, rcvhwm);
    s_check (zsock_attach (sock, endpoint, true) == 0);
    return sock;
}

static void
s_room_attach (fuzz_t *self)
{
    size_t slot = 0;
    while (slot < MAX_ROOMS && self->rooms [slot])
        slot++;
    if (slot == MAX_ROOMS)
        return;
    char endpoint [160], bind [168];
    snprintf (endpoint, sizeof endpoint, "%s/room-%u", self->config.endpoint, ++self->seq);
    snprintf (bind, sizeof bind, "@%s", endpoint);
    self->rooms [slot] = s_pair (bind, 0);
    s_post (self->hub, msg_new_attach (endpoint));
}

static void
s_setup (fuzz_t *self, const uint8_t *data, size_t size)
{
    memset (self, 0, sizeof *self);
    self->data = data;
    self->size = size;
    for (size_t i = 0; i < MAX_CLIENTS; i++)
        self->clients [i] = -1;
    config_defaults (&self->config);
    static const int rates [] = {0, 1, 2, 20};
    static const int backlogs [] = {4096, 65536, 1048576};
    static const int timeouts [] = {0, 1, 60};
    self->config.max_clients = 1 + s_byte (self) % 4;
    self->config.rate = rates [s_byte (self) % 4];
    self->config.max_backlog = backlogs [s_byte (self) % 3];
    self->config.name_timeout = timeouts [s_byte (self) % 3];
    snprintf (self->config.endpoint, sizeof self->config.endpoint, "inproc://fuzz-gw-%d-%u",
              (int) getpid (), ++s_run);
    s_now_us = 1000000;
    s_stopping = false;

    char endpoint [ENDPOINT_MAX + 1] = "@";
    endpoint_hub (&self->config, 0, endpoint + 1);
    //  A shallow pipe: a deaf hub backs the gateway up sooner.
    self->hub = s_pair (endpoint, 1);

    int listener = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    s_check (listener >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    //  Abstract (leading NUL): nothing on disk to clean up.
    int len = snprintf (addr.sun_path + 1, sizeof addr.sun_path - 1, "%s", self->config.endpoint);
    s_check (bind (listener, (struct sockaddr *) &addr,
                   (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + (size_t) len)) == 0);
    s_check (listen (listener, 64) == 0);

    self->pipe = zsys_create_pipe (&self->backend);
    s_check (self->pipe != NULL);
    gateway_args_t *args = (gateway_args_t *) zmalloc (sizeof *args);
    args->config = self->config;
    args->listener = listener;
    args->clock = s_clock;
    self->gateway = gateway_new (self->backend, args);
    s_check (self->gateway != NULL);
    s_room_attach (self);
}

static void
s_teardown (fuzz_t *self)
{
    //  As when the server stops: the rooms say BYE and go. The clients
    //  go first, so the gateway's last writes fail at once.
    for (size_t i = 0; i < MAX_CLIENTS; i++)
        if (self->clients [i] >= 0)
            close (self->clients [i]);
    for (size_t i = 0; i < MAX_ROOMS; i++)
        if (self->rooms [i])
            s_post (self->rooms [i], msg_new_bye ());
    gateway_pass (self->gateway, 0);
    self->hub_deaf = false;
    s_hub_read (self);
    s_stopping = true;
    gateway_destroy (&self->gateway);
    for (size_t i = 0; i < MAX_ROOMS; i++)
        zsock_destroy (&self->rooms [i]);
    zsock_destroy (&self->hub);
    zsock_destroy (&self->pipe);
    zsock_destroy (&self->backend);
}

/* ------------------------------------------------------------------ */
/*  Clients                                                            */

static int *
s_client (fuzz_t *self)
{
    int *fd = &self->clients [s_byte (self) % MAX_CLIENTS];
    return *fd >= 0 ? fd : NULL;
}

static void
s_connect (fuzz_t *self)
{
    int *fd = &self->clients [s_byte (self) % MAX_CLIENTS];
    if (*fd >= 0)
        return;
    int sock = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    s_check (sock >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int len = snprintf (addr.sun_path + 1, sizeof addr.sun_path - 1, "%s", self->config.endpoint);
    if (connect (sock, (struct sockaddr *) &addr,
                 (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + (size_t) len)) != 0) {
        close (sock);  //  Listen queue full: try later
        return;
    }
    *fd = sock;
}

static void
s_send (int fd, const void *data, size_t size)
{
    (void) !send (fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void
s_drain (int fd)
{
    char sink [65536];
    for (int reads = 0; reads < 64; reads++)
        if (recv (fd, sink, sizeof sink, MSG_DONTWAIT) <= 0)
            break;
}

static void
s_client_op (fuzz_t *self, uint8_t op)
{
    int *fd = s_client (self);
    if (!fd)
        return;
    switch (op) {
        case 1: {  //  Raw bytes: partial lines, commands
            size_t size = s_byte (self) % 64;
            char   text [64];
            for (size_t i = 0; i < size; i++)
                text [i] = (char) s_byte (self);
            s_send (*fd, text, size);
            break;
        }
        case 2: {  //  A burst of lines, over any --rate
            //  Up to 64 lines, or (from 192) up to 32,768: enough to fill
            //  the hub pipe and the gateway's queue behind it.
            uint8_t count = s_byte (self);
            size_t  lines = count < 192 ? (size_t) (1 + count % 64) : (size_t) (count - 191) * 512;
            static char text [2 * 64 * 512];
            for (size_t i = 0; i < lines; i++)
                memcpy (text + 2 * i, BURST_LINE, 2);
            s_send (*fd, text, 2 * lines);
            break;
        }
        case 3: {  //  A line over the limit
            static char longline [5000];
            memset (longline, 'x', sizeof longline);
            s_send (*fd, longline, sizeof longline);
            break;
        }
        case 4:
            s_drain (*fd);
            break;
        case 5:
            shutdown (*fd, SHUT_WR);
            break;
        case 6:  //  Close after reading: a FIN
            s_drain (*fd);
            close (*fd);
            *fd = -1;
            break;
        default:  //  Close with output unread: a reset
            close (*fd);
            *fd = -1;
            break;
    }
}

/* ------------------------------------------------------------------ */
/*  Hub and rooms                                                      */

static zsock_t *
s_room (fuzz_t *self)
{
    return self->rooms [s_byte (self) % MAX_ROOMS];
}

//  An id the script refers to: a known one (closed ones included), or
//  one nobody was ever given: a slot in or out of range, with a
//  generation no run reaches.
static uint64_t
s_some_id (fuzz_t *self)
{
    uint8_t pick = s_byte (self);
    if (self->id_count && pick < 240)
        return self->ids [pick % self->id_count].id;
    return ((uint64_t) (0x10000 + (pick & 7)) << 32) | (uint64_t) (pick % 5);
}

//  A client in a room (the hub moves no other), or NULL.
static tracked_t *
s_some_member (fuzz_t *self)
{
    uint8_t pick = s_byte (self);
    for (size_t i = 0; i < self->id_count; i++) {
        tracked_t *entry = &self->ids [(pick + i) % self->id_count];
        if (entry->state == ID_MEMBER)
            return entry;
    }
    return NULL;
}

//  A name's verdict or a move: the client is in a room from now on (the
//  gateway ignores it for a client at the name prompt or gone).
static void
s_enter (fuzz_t *self, zsock_t *room, uint64_t id)
{
    tracked_t *entry = s_id (self, id);
    if (entry && entry->state == ID_NAMING)
        entry->state = ID_MEMBER;
    char name [16], history [64];
    snprintf (name, sizeof name, "u%u", (unsigned) (id & 0xffff));
    size_t size = s_byte (self) % 48;
    memset (history, 'h', size);
    if (size)
        history [size - 1] = '\n';
    if (s_trace)
        fprintf (stderr, "ENTER -> %llx\n", (unsigned long long) id);
    s_post (room, msg_new_enter (id, name, history, size, "", 0));
}

//  The verdict on the oldest name waiting for one.
static void
s_verdict (fuzz_t *self)
{
    bool     enter = s_byte (self) & 1;
    zsock_t *room = s_room (self);
    for (size_t i = 0; i < self->id_count; i++) {
        tracked_t *entry = &self->ids [i];
        if (entry->state != ID_NAMING)
            continue;
        if (enter && room)
            s_enter (self, room, entry->id);
        else {
            if (s_trace)
                fprintf (stderr, "REFUSE -> %llx\n", (unsigned long long) entry->id);
            s_post (self->hub, msg_new_refuse (entry->id, "taken"));
            entry->state = ID_REFUSED;
        }
        return;
    }
}

static void
s_out (fuzz_t *self, size_t size)
{
    zsock_t *room = s_room (self);
    if (!room)
        return;
    uint64_t ids [6];
    size_t   count = s_byte (self) % 6;
    for (size_t i = 0; i < count; i++)
        ids [i] = s_some_id (self);
    uint64_t skip = count && (s_byte (self) & 1) ? ids [0] : 0;
    bool     prompt_skip = s_byte (self) & 1;
    char    *text = (char *) malloc (size + 1);
    memset (text, 'o', size);
    if (size)
        text [size - 1] = '\n';
    s_post (room, msg_new_out (skip, text, size, ids, count, prompt_skip, "", 0));
    free (text);
}

static void
s_flood (fuzz_t *self)
{
    zsock_t *room = s_room (self);
    uint64_t id = s_some_id (self);
    if (!room)
        return;
    static char text [4096];
    memset (text, 'f', sizeof text - 1);
    text [sizeof text - 1] = '\n';
    for (int i = 0; i < 64; i++) {
        s_post (room, msg_new_out (0, text, sizeof text, &id, 1, false, "", 0));
    }
}

static void
s_room_bye (fuzz_t *self)
{
    size_t slot = s_byte (self) % MAX_ROOMS;
    if (!self->rooms [slot])
        return;
    s_post (self->rooms [slot], msg_new_bye ());
    //  The gateway must read the BYE before the pipe goes (as a room
    //  actor's pipe outlives its last message).
    gateway_pass (self->gateway, 0);
    zsock_destroy (&self->rooms [slot]);
}

/* ------------------------------------------------------------------ */
/*  The script                                                         */

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_t fuzz, *self = &fuzz;
    s_setup (self, data, size);
    for (int ops = 0; ops < MAX_OPS && self->at < self->size; ops++) {
        uint8_t op = s_byte (self) % 20;
        switch (op) {
            case 0:
                s_connect (self);
                break;
            case 1:
            case 2:
            case 3:
            case 4:
            case 5:
            case 6:
            case 7:
                s_client_op (self, op);
                break;
            case 8:
            case 9:  //  Loop passes: the common case
                gateway_pass (self->gateway, 0);
                s_hub_read (self);
                break;
            case 10:  //  Time passes, then a pass
                s_now_us += (int64_t) (1 + s_byte (self)) * 8000;
                gateway_pass (self->gateway, 0);
                s_hub_read (self);
                break;
            case 11:
                s_verdict (self);
                break;
            case 12:
                s_out (self, s_byte (self) % 200);
                break;
            case 13:
                s_flood (self);
                break;
            case 14: {  //  A move: the new room's ENTER
                zsock_t   *room = s_room (self);
                tracked_t *member = s_some_member (self);
                if (room && member)
                    s_enter (self, room, member->id);
                break;
            }
            case 15: {  //  A room's last word: moving on, or left
                zsock_t *room = s_room (self);
                bool     moving = s_byte (self) & 1;
                if (room)
                    s_post (room, msg_new_release (s_some_id (self), moving));
                break;
            }
            case 16: {
                uint8_t which = s_byte (self) % 3;
                if (which == 0)
                    s_post (self->hub, msg_new_label (s_some_id (self), "renamed"));
                else if (which == 1)
                    s_post (self->hub, msg_new_pause (s_some_id (self)));
                else
                    s_post (self->hub, msg_new_resume (s_some_id (self)));
                break;
            }
            case 17:
                self->hub_deaf = !self->hub_deaf;
                s_hub_read (self);
                break;
            case 18:
                s_room_attach (self);
                break;
            default:
                s_room_bye (self);
                break;
        }
    }
    //  Let what is due happen, then stop as the server does.
    for (int passes = 0; passes < 4; passes++) {
        s_now_us += 100000;
        gateway_pass (self->gateway, 0);
        s_hub_read (self);
    }
    s_teardown (self);
    return 0;
}
