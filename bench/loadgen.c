/* SPDX-License-Identifier: MIT */
/*  bench/loadgen.c: one-process, epoll-driven load generator for TCPChat and
    for IRC servers (ngircd, InspIRCd), so that both run the same scenario.

    Phases of one run:
      1. connect + login, at most --connect-inflight connections in progress
         at once; each client ends up in its room (TCPChat: name accepted,
         then `/join` confirmed by `/users`; IRC: 001, JOIN, 366). The time
         from connect() to "in the room" is the client's setup time.
      2. probe: in every room one member sends a probe line; we wait until
         every other member has it, so everyone is known to be in.
      3. send: every client sends --lines lines at --rate lines/s, open loop,
         each with a random phase. A line carries the sender's index and a
         sequence number; one in --stamp-every also a CLOCK_MONOTONIC stamp.
      4. drain: wait until every expected delivery has arrived, at most
         --drain-ms after the last line was sent. Lost = expected - received.
    The server's CPU time (utime+stime, all threads) is read from
    /proc/PID/stat around phases 3+4, its VmRSS before phase 1 and after
    phase 2.

    A cluster (`--port P1,P2,P3 --server-pid A,B,C`): client i connects to
    the (i mod N)th port; CPU and RSS are the nodes' sums; a stamped line
    whose sender sits on another node than its receiver is also a
    cross-node latency sample. `--redis-pid` and `--redis-port` add Redis'
    CPU time and its used_memory (INFO) before phase 1, after phase 2 and
    after phase 4 (per client, per line sent).

    Output: one human-readable row on stdout and, with --json FILE, one JSON
    object per line appended to FILE. Exit status: 0 when the run completed
    (a lossy run included: loss is a figure), 2 on a usage error, 3 when the
    setup (connect, login, join, probe) failed.
*/

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE   2
#define EXIT_SETUP   3
#define READ_CHUNK   (256 * 1024)
#define MAX_EVENTS   1024
#define MARK_LINE    "@@B "     /* payload marker of a chat line */
#define MARK_PROBE   "@@P "     /* payload marker of a probe line */

enum { PROTO_TCPCHAT, PROTO_IRC };

enum state {
    ST_IDLE,            /* not started */
    ST_CONNECTING,      /* connect() in progress */
    ST_BANNER,          /* TCPChat: waiting for the name prompt */
    ST_NAMING,          /* name (or NICK/USER) sent, waiting for acceptance */
    ST_JOINING,         /* join sent, waiting for its confirmation */
    ST_READY,           /* in its room */
    ST_CLOSED           /* connection gone */
};

typedef struct {
    int      fd;
    int      idx;
    int      room;
    int      pos;               /* position among its room's members */
    enum state st;
    int64_t  t_connect;         /* ns, when connect() was called */
    char     name [16];
    /* input: the unterminated tail of what was received */
    char    *in;
    size_t   in_len, in_cap;
    /* output: bytes not yet accepted by the kernel */
    char    *out;
    size_t   out_off, out_len, out_cap;
    bool     want_out;          /* EPOLLOUT in the interest set */
    bool     probed;            /* has received its room's probe */
    /* per sender (by room position): seen bitmap and highest seq + 1 */
    uint8_t  *seen;
    uint32_t *high;
} client_t;

typedef struct {
    int  count;
    int *members;               /* client indexes */
    char name [40];
} room_t;

typedef struct {
    int64_t *v;
    size_t   n, cap;
} samples_t;

static struct {
    int         proto;
    const char *host;
    int         redis_pid;
    int         redis_port;
    int         clients;
    int         rooms;
    double      rate;
    int         lines;
    int         stamp_every;
    int         inflight;
    int         drain_ms;
    int         setup_timeout_ms;
    int         probe_timeout_ms;
    int         pad;
    unsigned    seed;
    const char *json;
    const char *label;
    const char *scenario;
    bool        quiet;
} opt = {
    .proto = PROTO_TCPCHAT, .host = "127.0.0.1",
    .clients = 50, .rooms = 1, .rate = 10, .lines = 100, .stamp_every = 10,
    .inflight = 64, .drain_ms = 3000, .setup_timeout_ms = 120000,
    .probe_timeout_ms = 30000, .pad = 0, .seed = 0,
    .json = NULL, .label = "server", .scenario = "custom", .quiet = false,
};

static client_t *clients;
static room_t   *rooms;
static int       epfd = -1;
static char     *readbuf;
static char      padding [1024];

/* counters */
static int       n_ready, n_inflight, n_started;
static int       setup_failed;
static char      setup_error [256];
static int64_t   probe_expected, probe_got;
static bool      sending;               /* chat lines are being counted */
static uint64_t  expected, received, unique, dups, reordered, bogus;
static int       disconnects;
static int64_t   t_last_recv, t_first_send;
static bool      counted_any;           /* a chat line was counted in this read */
static samples_t latency, setup_time, xlatency;

#define MAX_NODES 16
static int       ports [MAX_NODES], nports;
static int       pids [MAX_NODES], npids;
static struct sockaddr_in addrs [MAX_NODES];

/* ---------------------------------------------------------------- helpers */

static int64_t
now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
note (const char *fmt, ...)
{
    if (opt.quiet)
        return;
    va_list args;
    va_start (args, fmt);
    fprintf (stderr, "loadgen[%s/%s]: ", opt.label, opt.scenario);
    vfprintf (stderr, fmt, args);
    fputc ('\n', stderr);
    va_end (args);
}

static void
usage_error (const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    fputs ("loadgen: ", stderr);
    vfprintf (stderr, fmt, args);
    fputs (" (see --help)\n", stderr);
    va_end (args);
    exit (EXIT_USAGE);
}

static void *
xmalloc (size_t size)
{
    void *p = calloc (1, size? size: 1);
    if (!p) {
        fprintf (stderr, "loadgen: out of memory (%zu bytes)\n", size);
        exit (EXIT_SETUP);
    }
    return p;
}

static void
ensure (char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t size = *cap? *cap: 256;
    while (size < need)
        size *= 2;
    char *p = realloc (*buf, size);
    if (!p) {
        fprintf (stderr, "loadgen: out of memory (%zu bytes)\n", size);
        exit (EXIT_SETUP);
    }
    *buf = p;
    *cap = size;
}

static void
sample_add (samples_t *s, int64_t value)
{
    if (s->n == s->cap) {
        s->cap = s->cap? s->cap * 2: 4096;
        int64_t *p = realloc (s->v, s->cap * sizeof *p);
        if (!p) {
            fprintf (stderr, "loadgen: out of memory for samples\n");
            exit (EXIT_SETUP);
        }
        s->v = p;
    }
    s->v [s->n++] = value;
}

static int
cmp_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

typedef struct {
    int64_t phase;
    int     idx;
} pair_t;

static int
cmp_pair (const void *a, const void *b)
{
    const pair_t *x = a, *y = b;
    if (x->phase != y->phase)
        return (x->phase > y->phase) - (x->phase < y->phase);
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Nearest-rank percentile in ms of sorted samples (ns); -1 when empty. */
static double
pct_ms (const samples_t *s, double p)
{
    if (s->n == 0)
        return -1;
    size_t rank = (size_t) (p * (double) s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return (double) s->v [rank - 1] / 1e6;
}

static bool
ends_with (const char *s, size_t len, const char *suffix)
{
    size_t n = strlen (suffix);
    return len >= n && memcmp (s + len - n, suffix, n) == 0;
}

static bool
starts_with (const char *s, size_t len, const char *prefix)
{
    size_t n = strlen (prefix);
    return len >= n && memcmp (s, prefix, n) == 0;
}

static bool
contains (const char *s, size_t len, const char *needle)
{
    return memmem (s, len, needle, strlen (needle)) != NULL;
}

/* xorshift64*, seeded per run: phases only need to be spread, not secret */
static uint64_t rng_state;
static double
rng_unit (void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double) ((rng_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* ------------------------------------------------------------ /proc/PID */

/* Reads /proc/PID/WHAT into text (NUL-terminated); false if unknown. */
static bool
proc_read (int pid, const char *what, char *text, size_t size)
{
    if (pid <= 0)
        return false;
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/%s", pid, what);
    FILE *f = fopen (path, "r");
    if (!f)
        return false;
    size_t n = fread (text, 1, size - 1, f);
    fclose (f);
    text [n] = 0;
    return true;
}

static long
proc_rss_kib (int pid)
{
    char text [4096];
    if (!proc_read (pid, "status", text, sizeof text))
        return -1;
    const char *line = strstr (text, "\nVmRSS:");
    return line? strtol (line + 7, NULL, 10): -1;
}

/* utime + stime of every thread of the process, in seconds; -1 if unknown */
static double
proc_cpu_s (int pid)
{
    char text [1024];
    if (!proc_read (pid, "stat", text, sizeof text))
        return -1;
    char *p = strrchr (text, ')');      /* the command name may hold spaces */
    if (!p)
        return -1;
    p += 2;                             /* field 3, state */
    unsigned long long utime = 0, stime = 0;
    /* fields 3..13 skipped, 14 utime, 15 stime */
    if (sscanf (p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                &utime, &stime) != 2)
        return -1;
    return (double) (utime + stime) / (double) sysconf (_SC_CLK_TCK);
}

/* Busy time of the whole machine (all CPUs, every process), in seconds. */
static double
machine_busy_s (void)
{
    FILE *f = fopen ("/proc/stat", "r");
    if (!f)
        return -1;
    unsigned long long v [8] = { 0 };
    int n = fscanf (f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
                    &v [0], &v [1], &v [2], &v [3], &v [4], &v [5], &v [6], &v [7]);
    fclose (f);
    if (n < 4)
        return -1;
    /* user nice system [idle iowait] irq softirq steal: with tick-based
       accounting, a tick in (soft)irq context is also charged to the
       interrupted task's stime, as utime+stime of server and loadgen are */
    unsigned long long busy = v [0] + v [1] + v [2] + v [5] + v [6] + v [7];
    return (double) busy / (double) sysconf (_SC_CLK_TCK);
}

/* Sums over the server's processes (the nodes of a cluster). */
static long
servers_rss_kib (void)
{
    long sum = 0;
    for (int i = 0; i < npids; i++) {
        long v = proc_rss_kib (pids [i]);
        if (v < 0)
            return -1;
        sum += v;
    }
    return npids? sum: -1;
}

static double
servers_cpu_s (void)
{
    double sum = 0;
    for (int i = 0; i < npids; i++) {
        double v = proc_cpu_s (pids [i]);
        if (v < 0)
            return -1;
        sum += v;
    }
    return npids? sum: -1;
}

/* Redis' used_memory in bytes (INFO memory over a blocking socket: three
   reads a run, outside the measured phases); -1 if unknown. */
static long
redis_used_memory (void)
{
    if (opt.redis_port <= 0)
        return -1;
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = { .tv_sec = 5 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = addrs [0];
    a.sin_port = htons ((uint16_t) opt.redis_port);
    long used = -1;
    char buf [8192];
    size_t len = 0;
    if (connect (fd, (struct sockaddr *) &a, sizeof a) == 0
    &&  send (fd, "INFO memory\r\n", 13, MSG_NOSIGNAL) == 13) {
        for (int tries = 0; tries < 50 && len + 1 < sizeof buf; tries++) {
            ssize_t n = recv (fd, buf + len, sizeof buf - 1 - len, 0);
            if (n <= 0)
                break;
            len += (size_t) n;
            buf [len] = 0;
            const char *p = strstr (buf, "\r\nused_memory:");
            if (p && strchr (p + 15, '\r')) {
                used = strtol (p + 15, NULL, 10);
                break;
            }
        }
    }
    close (fd);
    return used;
}

static double
self_cpu_s (void)
{
    struct rusage ru;
    getrusage (RUSAGE_SELF, &ru);
    return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
         + (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------- sockets */

static void
set_events (client_t *c)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t) c->idx };
    if (c->want_out)
        ev.events |= EPOLLOUT;
    epoll_ctl (epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
fail_setup (client_t *c, const char *fmt, ...)
{
    if (setup_failed)
        return;
    setup_failed = 1;
    char msg [200];
    va_list args;
    va_start (args, fmt);
    vsnprintf (msg, sizeof msg, fmt, args);
    va_end (args);
    if (c)
        snprintf (setup_error, sizeof setup_error, "client %s: %s", c->name, msg);
    else
        snprintf (setup_error, sizeof setup_error, "%s", msg);
}

static void
client_close (client_t *c, const char *why)
{
    if (c->st == ST_CLOSED || c->fd < 0)
        return;
    bool was_ready = c->st == ST_READY;
    epoll_ctl (epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close (c->fd);
    c->fd = -1;
    c->st = ST_CLOSED;
    if (was_ready) {
        disconnects++;
        if (disconnects <= 5)
            note ("%s disconnected: %s", c->name, why);
    }
    else
        fail_setup (c, "connection lost during setup: %s", why);
}

/* Write what the kernel takes; keep the rest and ask for EPOLLOUT. */
static void
client_flush (client_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send (c->fd, c->out + c->out_off, c->out_len - c->out_off,
                          MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_off += (size_t) n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_out) {
                c->want_out = true;
                set_events (c);
            }
            return;
        }
        client_close (c, n < 0? strerror (errno): "send returned 0");
        return;
    }
    c->out_off = c->out_len = 0;
    if (c->want_out) {
        c->want_out = false;
        set_events (c);
    }
}

static void
client_send (client_t *c, const char *data, size_t len)
{
    if (c->st == ST_CLOSED)
        return;
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    ensure (&c->out, &c->out_cap, c->out_len + len);
    memcpy (c->out + c->out_len, data, len);
    c->out_len += len;
    if (!c->want_out)
        client_flush (c);
}

static void
client_sendf (client_t *c, const char *fmt, ...)
{
    char buf [600];
    va_list args;
    va_start (args, fmt);
    int n = vsnprintf (buf, sizeof buf, fmt, args);
    va_end (args);
    if (n > 0)
        client_send (c, buf, (size_t) n < sizeof buf? (size_t) n: sizeof buf - 1);
}

static void
start_connect (client_t *c)
{
    c->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fail_setup (c, "socket: %s", strerror (errno));
        return;
    }
    int one = 1;
    setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->t_connect = now_ns ();
    c->st = ST_CONNECTING;
    n_inflight++;
    n_started++;
    const struct sockaddr_in *to = &addrs [c->idx % nports];
    int rc = connect (c->fd, (const struct sockaddr *) to, sizeof *to);
    if (rc != 0 && errno != EINPROGRESS) {
        fail_setup (c, "connect: %s", strerror (errno));
        close (c->fd);
        c->fd = -1;
        c->st = ST_CLOSED;
        return;
    }
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t) c->idx };
    c->want_out = true;
    epoll_ctl (epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void
become_ready (client_t *c)
{
    c->st = ST_READY;
    sample_add (&setup_time, now_ns () - c->t_connect);
    n_ready++;
    n_inflight--;
}

static void
on_connected (client_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        fail_setup (c, "connect: %s", strerror (err));
        client_close (c, strerror (err));
        return;
    }
    c->want_out = false;
    set_events (c);
    if (opt.proto == PROTO_IRC) {
        client_sendf (c, "NICK %s\r\nUSER %s 0 * :bench client\r\n", c->name, c->name);
        c->st = ST_NAMING;
    }
    else
        c->st = ST_BANNER;
}

/* ------------------------------------------------------------ receiving */

/* Reads an unsigned decimal at *p (after spaces); false if there is none. */
static bool
parse_u64 (const char **p, const char *end, uint64_t *value)
{
    const char *s = *p;
    while (s < end && *s == ' ')
        s++;
    const char *start = s;
    uint64_t v = 0;
    while (s < end && *s >= '0' && *s <= '9' && s - start < 19)
        v = v * 10 + (uint64_t) (*s++ - '0');
    if (s == start)
        return false;
    *p = s;
    *value = v;
    return true;
}

static void
count_chat (client_t *c, const char *p, const char *end)
{
    /* p points after the marker: "<sender> <seq> <stamp>" */
    uint64_t sender, seq, stamp;
    if (!parse_u64 (&p, end, &sender) || !parse_u64 (&p, end, &seq)
    ||  !parse_u64 (&p, end, &stamp))
        goto bad;
    if (sender >= (uint64_t) opt.clients || sender == (uint64_t) c->idx
    ||  clients [sender].room != c->room || seq >= (uint64_t) opt.lines)
        goto bad;
    if (stamp > 0) {
        sample_add (&latency, now_ns () - (int64_t) stamp);
        if ((int) sender % nports != c->idx % nports)
            sample_add (&xlatency, now_ns () - (int64_t) stamp);
    }
    received++;
    int pos = clients [sender].pos;
    size_t bit = (size_t) pos * (size_t) opt.lines + seq;
    if (c->seen [bit >> 3] & (1u << (bit & 7))) {
        dups++;
        return;
    }
    c->seen [bit >> 3] |= (uint8_t) (1u << (bit & 7));
    unique++;
    if (seq + 1 < c->high [pos])
        reordered++;
    else
        c->high [pos] = (uint32_t) seq + 1;
    return;
bad:
    bogus++;
}

static void
count_probe (client_t *c, const char *p)
{
    long room = strtol (p, NULL, 10);
    if (room == c->room && !c->probed) {
        c->probed = true;
        probe_got++;
    }
}

/* One complete line (without its newline; IRC's \r removed). */
static void
handle_line (client_t *c, const char *line, size_t len)
{
    if (c->st == ST_READY) {
        const char *end = line + len;
        const char *m = line;
        while ((m = memchr (m, '@', (size_t) (end - m))) != NULL) {
            if (m + 4 <= end && m [1] == '@' && m [3] == ' ') {
                if (m [2] == 'B' && sending) {
                    count_chat (c, m + 4, end);
                    counted_any = true;
                }
                else
                if (m [2] == 'P')
                    count_probe (c, m + 4);
                return;
            }
            m++;
        }
    }
    if (opt.proto == PROTO_IRC) {
        if (starts_with (line, len, "PING ")) {
            client_sendf (c, "PONG %.*s\r\n", (int) (len - 5 > 400? 400: len - 5), line + 5);
            return;
        }
        if (starts_with (line, len, "ERROR")) {
            if (c->st != ST_READY)
                fail_setup (c, "%.*s", (int) (len > 150? 150: len), line);
            return;
        }
        if (c->st == ST_READY || len == 0 || line [0] != ':')
            return;
        /* ":server NNN target ..." */
        const char *sp = memchr (line, ' ', len);
        if (!sp || (size_t) (line + len - sp) < 5)
            return;
        char code [4] = { sp [1], sp [2], sp [3], 0 };
        if (sp [4] != ' ')
            return;
        if (c->st == ST_NAMING && strcmp (code, "001") == 0) {
            client_sendf (c, "JOIN %s\r\n", rooms [c->room].name);
            c->st = ST_JOINING;
        }
        else
        if (c->st == ST_JOINING && strcmp (code, "366") == 0)
            become_ready (c);
        else
        if (code [0] == '4' || code [0] == '5')
            fail_setup (c, "server replied %.*s", (int) (len > 150? 150: len), line);
        return;
    }
    /* TCPChat: a reply may follow a prompt on the same line */
    if (c->st == ST_NAMING) {
        if (contains (line, len, "Name ") || contains (line, len, "Chat is full"))
            fail_setup (c, "name refused: %.*s", (int) (len > 150? 150: len), line);
    }
    else
    if (c->st == ST_JOINING) {
        char want [64];
        snprintf (want, sizeof want, "Users in %s (", rooms [c->room].name);
        if (contains (line, len, want))
            become_ready (c);
        else
        if (contains (line, len, "Too many rooms")
        ||  contains (line, len, "Room name")
        ||  contains (line, len, "Unknown command"))
            fail_setup (c, "join refused: %.*s", (int) (len > 150? 150: len), line);
    }
    else
    if (c->st == ST_BANNER && contains (line, len, "Chat is full"))
        fail_setup (c, "server full: %.*s", (int) (len > 150? 150: len), line);
}

/* TCPChat prompts end without a newline: look at the unterminated tail. */
static void
handle_tail (client_t *c)
{
    if (opt.proto != PROTO_TCPCHAT)
        return;
    if (c->st == ST_BANNER && ends_with (c->in, c->in_len, "[ENTER YOUR NAME]: ")) {
        c->in_len = 0;
        client_sendf (c, "%s\n", c->name);
        c->st = ST_NAMING;
    }
    else
    if (c->st == ST_NAMING) {
        char prompt [32];
        snprintf (prompt, sizeof prompt, "][%s]:", c->name);
        if (ends_with (c->in, c->in_len, prompt)) {
            c->in_len = 0;
            if (opt.rooms > 1) {
                client_sendf (c, "/join %s\n/users\n", rooms [c->room].name);
                c->st = ST_JOINING;
            }
            else
                become_ready (c);
        }
    }
    else
    if (c->in_len > (1 << 20)
    &&  !memmem (c->in, c->in_len, "@@", 2))
        c->in_len = 0;          /* only prompts: TCPChat re-prints them */
}

static void
process_input (client_t *c, const char *data, size_t len)
{
    const char *end = data + len;
    const char *p = data;
    if (c->in_len > 0) {
        const char *nl = memchr (p, '\n', len);
        if (!nl) {
            ensure (&c->in, &c->in_cap, c->in_len + len);
            memcpy (c->in + c->in_len, p, len);
            c->in_len += len;
            handle_tail (c);
            return;
        }
        size_t part = (size_t) (nl - p);
        ensure (&c->in, &c->in_cap, c->in_len + part);
        memcpy (c->in + c->in_len, p, part);
        size_t n = c->in_len + part;
        c->in_len = 0;
        if (n > 0 && c->in [n - 1] == '\r')
            n--;
        handle_line (c, c->in, n);
        p = nl + 1;
    }
    while (p < end && c->st != ST_CLOSED) {
        const char *nl = memchr (p, '\n', (size_t) (end - p));
        if (!nl)
            break;
        size_t n = (size_t) (nl - p);
        if (n > 0 && p [n - 1] == '\r')
            n--;
        handle_line (c, p, n);
        p = nl + 1;
    }
    if (p < end && c->st != ST_CLOSED) {
        size_t rest = (size_t) (end - p);
        ensure (&c->in, &c->in_cap, c->in_len + rest);
        memcpy (c->in + c->in_len, p, rest);
        c->in_len += rest;
    }
    handle_tail (c);
}

static void
on_readable (client_t *c)
{
    ssize_t n = recv (c->fd, readbuf, READ_CHUNK, MSG_DONTWAIT);
    if (n > 0) {
        counted_any = false;
        process_input (c, readbuf, (size_t) n);
        if (counted_any)
            t_last_recv = now_ns ();
    }
    else
    if (n == 0)
        client_close (c, "closed by server");
    else
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        client_close (c, strerror (errno));
}

/* Wait up to timeout_ns for events and handle them. */
static void
poll_once (int64_t timeout_ns)
{
    static struct epoll_event events [MAX_EVENTS];
    if (timeout_ns < 0)
        timeout_ns = 0;
    struct timespec ts = {
        .tv_sec = (time_t) (timeout_ns / 1000000000),
        .tv_nsec = (long) (timeout_ns % 1000000000)
    };
    int count = epoll_pwait2 (epfd, events, MAX_EVENTS, &ts, NULL);
    if (count < 0 && errno == ENOSYS)
        count = epoll_wait (epfd, events, MAX_EVENTS, (int) ((timeout_ns + 999999) / 1000000));
    for (int i = 0; i < count; i++) {
        client_t *c = &clients [events [i].data.u32];
        if (c->st == ST_CLOSED)
            continue;
        uint32_t ev = events [i].events;
        if (c->st == ST_CONNECTING) {
            if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                on_connected (c);
            if (c->st == ST_CLOSED)
                continue;
        }
        else
        if (ev & EPOLLOUT)
            client_flush (c);
        if (c->st != ST_CLOSED && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
            on_readable (c);
    }
}

/* ------------------------------------------------------------ the run */

static void
send_chat (client_t *c, int seq)
{
    if (c->st != ST_READY)
        return;
    /* spread the stamped lines over senders and time */
    bool stamp = opt.stamp_every > 0 && (seq + c->idx) % opt.stamp_every == 0;
    int64_t now = now_ns ();
    if (t_first_send == 0)
        t_first_send = now;
    long long ts = stamp? (long long) now: 0;
    if (opt.proto == PROTO_IRC)
        client_sendf (c, "PRIVMSG %s :" MARK_LINE "%d %d %lld %s\r\n",
                      rooms [c->room].name, c->idx, seq, ts, padding);
    else
        client_sendf (c, MARK_LINE "%d %d %lld %s\n", c->idx, seq, ts, padding);
}

static void
print_help (void)
{
    puts (
"Usage: loadgen [OPTIONS]\n"
"  --proto tcpchat|irc     protocol spoken (tcpchat)\n"
"  --host ADDR --port P    server address (127.0.0.1:8989), IPv4 only; a cluster:\n"
"                          P1,P2,.. (client i connects to the (i mod N)th)\n"
"  --clients C             connections (50)\n"
"  --rooms N               spread clients over N rooms (1: TCPChat general, IRC #r0)\n"
"  --rate R                lines per second per client, may be fractional (10)\n"
"  --lines M               lines each client sends (100)\n"
"  --stamp-every K         one line in K carries a send timestamp (10)\n"
"  --pad B                 extra payload bytes per line (0)\n"
"  --connect-inflight N    connects+logins in progress at once (64)\n"
"  --drain-ms D            wait at most D ms after the last send (3000)\n"
"  --setup-timeout-ms T    connect+login+join phase limit (120000)\n"
"  --probe-timeout-ms T    probe phase limit (30000)\n"
"  --server-pid PID        read the server's CPU time and VmRSS from /proc\n"
"                          (PID1,PID2,..: a cluster's nodes, summed)\n"
"  --redis-pid PID         read Redis' CPU time too (a cluster)\n"
"  --redis-port P          read Redis' used_memory (INFO) at 127.0.0.1:P\n"
"  --json FILE             append one JSON line per run to FILE\n"
"  --label NAME            server label in the output (server)\n"
"  --scenario NAME         scenario label in the output (custom)\n"
"  --seed S                random phase seed (from the clock)\n"
"  --quiet                 no progress notes on stderr\n"
"  --header                print the column header of the row and exit\n"
"Exit: 0 run completed (loss is a figure), 2 usage, 3 setup failed.");
}

static const char *HEADER =
    "server    scenario    clients rooms   deliv/s   lost  p50_ms  p99_ms p99.9_ms setup99_ms cpu_s  Mdeliv/cpu-s rss_KiB/cl";

static long
parse_long (const char *arg, const char *name, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol (arg, &end, 10);
    if (errno || *end || end == arg || v < lo || v > hi)
        usage_error ("%s: expected an integer in %ld..%ld, got '%s'", name, lo, hi, arg);
    return v;
}

/* "A,B,C" into values (at most MAX_NODES); returns the count. */
static int
parse_list (const char *arg, const char *name, long hi, int *values)
{
    char copy [256];
    snprintf (copy, sizeof copy, "%s", arg);
    int n = 0;
    for (char *save, *item = strtok_r (copy, ",", &save); item;
         item = strtok_r (NULL, ",", &save)) {
        if (n == MAX_NODES)
            usage_error ("%s: at most %d values", name, MAX_NODES);
        values [n++] = (int) parse_long (item, name, 1, hi);
    }
    if (n == 0)
        usage_error ("%s: expected a value", name);
    return n;
}

static void
parse_args (int argc, char **argv)
{
    enum { O_PROTO = 256, O_HOST, O_PORT, O_CLIENTS, O_ROOMS, O_RATE, O_LINES,
           O_STAMP, O_PAD, O_INFLIGHT, O_DRAIN, O_SETUP_TO, O_PROBE_TO, O_PID,
           O_JSON, O_LABEL, O_SCEN, O_SEED, O_QUIET, O_HEADER, O_HELP,
           O_RPID, O_RPORT };
    static const struct option longopts [] = {
        { "proto", 1, 0, O_PROTO }, { "host", 1, 0, O_HOST }, { "port", 1, 0, O_PORT },
        { "clients", 1, 0, O_CLIENTS }, { "rooms", 1, 0, O_ROOMS },
        { "rate", 1, 0, O_RATE }, { "lines", 1, 0, O_LINES },
        { "stamp-every", 1, 0, O_STAMP }, { "pad", 1, 0, O_PAD },
        { "connect-inflight", 1, 0, O_INFLIGHT }, { "drain-ms", 1, 0, O_DRAIN },
        { "setup-timeout-ms", 1, 0, O_SETUP_TO }, { "probe-timeout-ms", 1, 0, O_PROBE_TO },
        { "server-pid", 1, 0, O_PID }, { "json", 1, 0, O_JSON },
        { "redis-pid", 1, 0, O_RPID }, { "redis-port", 1, 0, O_RPORT },
        { "label", 1, 0, O_LABEL }, { "scenario", 1, 0, O_SCEN },
        { "seed", 1, 0, O_SEED }, { "quiet", 0, 0, O_QUIET },
        { "header", 0, 0, O_HEADER }, { "help", 0, 0, O_HELP }, { 0, 0, 0, 0 }
    };
    int ch;
    while ((ch = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
            case O_PROTO:
                if (strcmp (optarg, "tcpchat") == 0) opt.proto = PROTO_TCPCHAT;
                else if (strcmp (optarg, "irc") == 0) opt.proto = PROTO_IRC;
                else usage_error ("--proto: tcpchat or irc, not '%s'", optarg);
                break;
            case O_HOST: opt.host = optarg; break;
            case O_PORT: nports = parse_list (optarg, "--port", 65535, ports); break;
            case O_CLIENTS: opt.clients = (int) parse_long (optarg, "--clients", 1, 1000000); break;
            case O_ROOMS: opt.rooms = (int) parse_long (optarg, "--rooms", 1, 100000); break;
            case O_RATE: {
                char *end;
                opt.rate = strtod (optarg, &end);
                if (*end || end == optarg || !(opt.rate > 0) || opt.rate > 1e6)
                    usage_error ("--rate: expected lines/s > 0, got '%s'", optarg);
                break;
            }
            case O_LINES: opt.lines = (int) parse_long (optarg, "--lines", 0, 10000000); break;
            case O_STAMP: opt.stamp_every = (int) parse_long (optarg, "--stamp-every", 0, 1000000); break;
            case O_PAD: opt.pad = (int) parse_long (optarg, "--pad", 0, (long) sizeof padding - 1); break;
            case O_INFLIGHT: opt.inflight = (int) parse_long (optarg, "--connect-inflight", 1, 100000); break;
            case O_DRAIN: opt.drain_ms = (int) parse_long (optarg, "--drain-ms", 0, 3600000); break;
            case O_SETUP_TO: opt.setup_timeout_ms = (int) parse_long (optarg, "--setup-timeout-ms", 1, 3600000); break;
            case O_PROBE_TO: opt.probe_timeout_ms = (int) parse_long (optarg, "--probe-timeout-ms", 1, 3600000); break;
            case O_PID: npids = parse_list (optarg, "--server-pid", 1L << 30, pids); break;
            case O_RPID: opt.redis_pid = (int) parse_long (optarg, "--redis-pid", 1, 1L << 30); break;
            case O_RPORT: opt.redis_port = (int) parse_long (optarg, "--redis-port", 1, 65535); break;
            case O_JSON: opt.json = optarg; break;
            case O_LABEL: opt.label = optarg; break;
            case O_SCEN: opt.scenario = optarg; break;
            case O_SEED: opt.seed = (unsigned) parse_long (optarg, "--seed", 0, 4294967295L); break;
            case O_QUIET: opt.quiet = true; break;
            case O_HEADER: puts (HEADER); exit (0);
            case O_HELP: print_help (); exit (0);
            default: usage_error ("unknown option");
        }
    }
    if (optind < argc)
        usage_error ("unexpected argument '%s'", argv [optind]);
    if (opt.rooms > opt.clients)
        usage_error ("--rooms %d > --clients %d", opt.rooms, opt.clients);
    if (nports == 0)
        ports [nports++] = 8989;
    for (int i = 0; i < nports; i++) {
        memset (&addrs [i], 0, sizeof addrs [i]);
        addrs [i].sin_family = AF_INET;
        addrs [i].sin_port = htons ((uint16_t) ports [i]);
        if (inet_pton (AF_INET, opt.host, &addrs [i].sin_addr) != 1)
            usage_error ("--host: an IPv4 address, not '%s'", opt.host);
    }
}

static void
raise_fd_limit (void)
{
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t need = (rlim_t) opt.clients + 64;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit (RLIMIT_NOFILE, &rl);
        getrlimit (RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < need) {
        fprintf (stderr, "loadgen: %d clients need %lu descriptors, the limit is %lu"
                 " (raise `ulimit -Hn`)\n", opt.clients, (unsigned long) need,
                 (unsigned long) rl.rlim_cur);
        exit (EXIT_SETUP);
    }
}

static void
json_string (FILE *f, const char *key, const char *value)
{
    fprintf (f, "\"%s\":\"", key);
    for (const char *p = value; *p; p++) {
        unsigned char ch = (unsigned char) *p;
        if (ch == '"' || ch == '\\')
            fprintf (f, "\\%c", ch);
        else
        if (ch < 0x20)
            fprintf (f, "\\u%04x", ch);
        else
            fputc (ch, f);
    }
    fputs ("\",", f);
}

typedef struct {
    double deliveries_per_s, elapsed_s, cpu_s, deliveries_per_cpu_s, lg_cpu_s;
    double p50, p99, p999, pmax, setup_p50, setup_p99, setup_max, setup_s;
    long   rss_before, rss_after;
    double rss_per_client_kib;
    double offered;
    double window_s, other_cpu_s;
    double xp50, xp99, redis_cpu_s;
    long   redis_mem [3];           /* before setup, after probe, after drain */
} result_t;

static void
write_json (const result_t *r, bool ok)
{
    if (!opt.json)
        return;
    FILE *f = fopen (opt.json, "a");
    if (!f) {
        fprintf (stderr, "loadgen: cannot append to %s: %s\n", opt.json, strerror (errno));
        return;
    }
    fputc ('{', f);
    json_string (f, "server", opt.label);
    json_string (f, "scenario", opt.scenario);
    json_string (f, "proto", opt.proto == PROTO_IRC? "irc": "tcpchat");
    json_string (f, "error", ok? "": setup_error);
    fprintf (f, "\"ok\":%s,\"clients\":%d,\"rooms\":%d,\"rate\":%g,\"lines\":%d,"
             "\"stamp_every\":%d,\"pad\":%d,\"offered_dps\":%.1f,"
             "\"expected\":%" PRIu64 ",\"received\":%" PRIu64 ",\"unique\":%" PRIu64 ","
             "\"lost\":%" PRId64 ",\"dups\":%" PRIu64 ",\"reordered\":%" PRIu64 ","
             "\"bogus\":%" PRIu64 ",\"disconnects\":%d,"
             "\"deliveries_per_s\":%.1f,\"elapsed_s\":%.4f,"
             "\"lat_p50_ms\":%.4f,\"lat_p99_ms\":%.4f,\"lat_p999_ms\":%.4f,"
             "\"lat_max_ms\":%.4f,\"lat_samples\":%zu,"
             "\"setup_p50_ms\":%.4f,\"setup_p99_ms\":%.4f,\"setup_max_ms\":%.4f,"
             "\"setup_s\":%.3f,\"server_cpu_s\":%.3f,\"deliveries_per_cpu_s\":%.1f,"
             "\"rss_before_kib\":%ld,\"rss_after_kib\":%ld,\"rss_per_client_kib\":%.3f,"
             "\"loadgen_cpu_s\":%.3f,\"window_s\":%.3f,\"other_cpu_s\":%.3f,"
             "\"nodes\":%d,\"xlat_p50_ms\":%.4f,\"xlat_p99_ms\":%.4f,\"xlat_samples\":%zu,"
             "\"redis_cpu_s\":%.3f,\"redis_mem_before\":%ld,\"redis_mem_setup\":%ld,"
             "\"redis_mem_after\":%ld,"
             "\"time\":%lld}\n",
             ok? "true": "false", opt.clients, opt.rooms, opt.rate, opt.lines,
             opt.stamp_every, opt.pad, r->offered,
             expected, received, unique, (int64_t) (expected - unique), dups, reordered,
             bogus, disconnects,
             r->deliveries_per_s, r->elapsed_s,
             r->p50, r->p99, r->p999, r->pmax, latency.n,
             r->setup_p50, r->setup_p99, r->setup_max,
             r->setup_s, r->cpu_s, r->deliveries_per_cpu_s,
             r->rss_before, r->rss_after, r->rss_per_client_kib,
             r->lg_cpu_s, r->window_s, r->other_cpu_s,
             nports, r->xp50, r->xp99, xlatency.n,
             r->redis_cpu_s, r->redis_mem [0], r->redis_mem [1], r->redis_mem [2],
             (long long) time (NULL));
    fclose (f);
}

static void
close_all (void)
{
    /* abortive close: no TIME_WAIT left behind on our side */
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    for (int i = 0; i < opt.clients; i++)
        if (clients [i].fd >= 0) {
            setsockopt (clients [i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close (clients [i].fd);
            clients [i].fd = -1;
        }
}

static int
setup_failure (result_t *r)
{
    fprintf (stderr, "loadgen[%s/%s]: SETUP FAILED: %s\n", opt.label, opt.scenario, setup_error);
    write_json (r, false);
    close_all ();
    return EXIT_SETUP;
}

int
main (int argc, char **argv)
{
    parse_args (argc, argv);
    signal (SIGPIPE, SIG_IGN);
    raise_fd_limit ();
    memset (padding, 'x', (size_t) opt.pad);
    padding [opt.pad] = 0;
    rng_state = opt.seed? opt.seed: (uint64_t) now_ns () ^ (uint64_t) getpid () << 32;
    if (!rng_state)
        rng_state = 88172645463325252ULL;

    readbuf = xmalloc (READ_CHUNK);
    epfd = epoll_create1 (EPOLL_CLOEXEC);
    if (epfd < 0) {
        perror ("loadgen: epoll_create1");
        return EXIT_SETUP;
    }

    /* rooms and clients: client i is in room i % rooms */
    rooms = xmalloc (sizeof *rooms * (size_t) opt.rooms);
    clients = xmalloc (sizeof *clients * (size_t) opt.clients);
    for (int r = 0; r < opt.rooms; r++) {
        rooms [r].count = opt.clients / opt.rooms + (r < opt.clients % opt.rooms);
        rooms [r].members = xmalloc (sizeof (int) * (size_t) rooms [r].count);
        if (opt.proto == PROTO_IRC)
            snprintf (rooms [r].name, sizeof rooms [r].name, "#r%d", r);
        else
        if (opt.rooms == 1)
            snprintf (rooms [r].name, sizeof rooms [r].name, "general");
        else
            snprintf (rooms [r].name, sizeof rooms [r].name, "r%03d", r);
    }
    for (int i = 0; i < opt.clients; i++) {
        client_t *c = &clients [i];
        c->fd = -1;
        c->idx = i;
        c->room = i % opt.rooms;
        c->pos = i / opt.rooms;
        rooms [c->room].members [c->pos] = i;
        snprintf (c->name, sizeof c->name, opt.clients <= 99999? "c%05d": "c%07d", i);
    }
    /* per receiver: a seen bit per (sender in room, seq) and a high mark */
    uint64_t bits = 0;
    for (int r = 0; r < opt.rooms; r++)
        bits += (uint64_t) rooms [r].count * (uint64_t) rooms [r].count * (uint64_t) opt.lines;
    if (bits / 8 > (uint64_t) 2 << 30)
        usage_error ("clients x room size x lines too large to track (%" PRIu64 " MiB)", bits / 8 >> 20);
    for (int i = 0; i < opt.clients; i++) {
        client_t *c = &clients [i];
        size_t n = (size_t) rooms [c->room].count;
        c->seen = xmalloc ((n * (size_t) opt.lines + 7) / 8);
        c->high = xmalloc (n * sizeof (uint32_t));
    }
    for (int r = 0; r < opt.rooms; r++)
        expected += (uint64_t) rooms [r].count * (uint64_t) (rooms [r].count - 1) * (uint64_t) opt.lines;

    result_t res = { 0 };
    res.offered = 0;
    for (int r = 0; r < opt.rooms; r++)
        res.offered += (double) rooms [r].count * (rooms [r].count - 1) * opt.rate;

    /* 1. connect and log in */
    res.rss_before = servers_rss_kib ();
    res.redis_mem [0] = redis_used_memory ();
    int64_t t_setup = now_ns ();
    int64_t deadline = t_setup + (int64_t) opt.setup_timeout_ms * 1000000;
    int next = 0;
    int64_t last_note = t_setup;
    while (n_ready < opt.clients && !setup_failed) {
        while (next < opt.clients && n_inflight < opt.inflight && !setup_failed)
            start_connect (&clients [next++]);
        poll_once (10000000);
        int64_t now = now_ns ();
        if (now > deadline)
            fail_setup (NULL, "setup timed out after %d ms: %d of %d clients in their rooms",
                        opt.setup_timeout_ms, n_ready, opt.clients);
        if (now - last_note > 5000000000LL) {
            note ("setup: %d of %d clients in", n_ready, opt.clients);
            last_note = now;
        }
    }
    if (setup_failed)
        return setup_failure (&res);
    res.setup_s = (double) (now_ns () - t_setup) / 1e9;

    /* 2. probe every room */
    for (int r = 0; r < opt.rooms; r++) {
        if (rooms [r].count < 2)
            continue;
        client_t *c = &clients [rooms [r].members [0]];
        probe_expected += rooms [r].count - 1;
        if (opt.proto == PROTO_IRC)
            client_sendf (c, "PRIVMSG %s :" MARK_PROBE "%d\r\n", rooms [r].name, r);
        else
            client_sendf (c, MARK_PROBE "%d\n", r);
    }
    deadline = now_ns () + (int64_t) opt.probe_timeout_ms * 1000000;
    while (probe_got < probe_expected && !setup_failed) {
        poll_once (10000000);
        if (disconnects)
            fail_setup (NULL, "%d clients disconnected before the probe completed", disconnects);
        if (now_ns () > deadline)
            fail_setup (NULL, "probe timed out after %d ms: %" PRId64 " of %" PRId64 " members got it",
                        opt.probe_timeout_ms, probe_got, probe_expected);
    }
    if (setup_failed)
        return setup_failure (&res);
    res.rss_after = servers_rss_kib ();
    res.redis_mem [1] = redis_used_memory ();
    note ("%d clients in %d room(s) after %.2f s; sending", opt.clients, opt.rooms, res.setup_s);

    /* 3. send, open loop: client order[k % C] sends its line k / C at
       t0 + phase + (k / C) * period; phases sorted, so times only grow */
    int64_t period = (int64_t) (1e9 / opt.rate);
    int64_t *phase = xmalloc (sizeof *phase * (size_t) opt.clients);
    int *order = xmalloc (sizeof *order * (size_t) opt.clients);
    for (int i = 0; i < opt.clients; i++)
        phase [i] = (int64_t) (rng_unit () * (double) period);
    {
        pair_t *pairs = xmalloc (sizeof *pairs * (size_t) opt.clients);
        for (int i = 0; i < opt.clients; i++)
            pairs [i] = (pair_t) { phase [i], i };
        qsort (pairs, (size_t) opt.clients, sizeof *pairs, cmp_pair);
        for (int i = 0; i < opt.clients; i++)
            order [i] = pairs [i].idx;
        free (pairs);
    }
    uint64_t total = (uint64_t) opt.clients * (uint64_t) opt.lines;
    uint64_t cursor = 0;
    double cpu0 = servers_cpu_s ();
    double rcpu0 = opt.redis_pid? proc_cpu_s (opt.redis_pid): -1;
    double lg0 = self_cpu_s ();
    double busy0 = machine_busy_s ();
    int64_t w0 = now_ns ();
    int64_t t0 = now_ns () + 20000000;
    int64_t t_last_send = 0;
    sending = true;
    while (true) {
        int64_t now = now_ns ();
        while (cursor < total) {
            int who = order [cursor % (uint64_t) opt.clients];
            int64_t due = t0 + phase [who] + (int64_t) (cursor / (uint64_t) opt.clients) * period;
            if (due > now)
                break;
            send_chat (&clients [who], (int) (cursor / (uint64_t) opt.clients));
            cursor++;
        }
        if (cursor == total && t_last_send == 0)
            t_last_send = now_ns ();
        int64_t wait;
        if (cursor < total) {
            int who = order [cursor % (uint64_t) opt.clients];
            wait = t0 + phase [who] + (int64_t) (cursor / (uint64_t) opt.clients) * period - now;
        }
        else {
            /* 4. drain */
            if (unique >= expected)
                break;
            int64_t left = t_last_send + (int64_t) opt.drain_ms * 1000000 - now;
            if (left <= 0)
                break;
            wait = left < 50000000? left: 50000000;
        }
        poll_once (wait);
    }
    double cpu1 = servers_cpu_s ();
    double rcpu1 = opt.redis_pid? proc_cpu_s (opt.redis_pid): -1;
    res.lg_cpu_s = self_cpu_s () - lg0;
    double busy1 = machine_busy_s ();
    res.window_s = (double) (now_ns () - w0) / 1e9;
    sending = false;

    /* figures */
    if (t_first_send == 0)
        t_first_send = t0;
    if (t_last_recv < t_first_send)
        t_last_recv = t_first_send;
    res.elapsed_s = (double) (t_last_recv - t_first_send) / 1e9;
    res.deliveries_per_s = res.elapsed_s > 0? (double) unique / res.elapsed_s: 0;
    res.cpu_s = (cpu0 >= 0 && cpu1 >= 0)? cpu1 - cpu0: -1;
    res.redis_cpu_s = (rcpu0 >= 0 && rcpu1 >= 0)? rcpu1 - rcpu0: -1;
    res.deliveries_per_cpu_s = res.cpu_s > 0? (double) unique / res.cpu_s: -1;
    /* CPU time the rest of the machine took meanwhile: other processes
       (a noisy neighbour skews every figure) and interrupt work */
    res.other_cpu_s = (busy0 >= 0 && busy1 >= 0 && res.cpu_s >= 0)
        ? busy1 - busy0 - res.cpu_s - res.lg_cpu_s
          - (res.redis_cpu_s > 0? res.redis_cpu_s: 0): -1;
    if (res.other_cpu_s < 0 && res.cpu_s >= 0 && busy0 >= 0)
        res.other_cpu_s = 0;            /* tick rounding */
    qsort (latency.v, latency.n, sizeof (int64_t), cmp_i64);
    qsort (setup_time.v, setup_time.n, sizeof (int64_t), cmp_i64);
    qsort (xlatency.v, xlatency.n, sizeof (int64_t), cmp_i64);
    res.xp50 = pct_ms (&xlatency, 0.50);
    res.xp99 = pct_ms (&xlatency, 0.99);
    res.redis_mem [2] = redis_used_memory ();
    res.p50 = pct_ms (&latency, 0.50);
    res.p99 = pct_ms (&latency, 0.99);
    res.p999 = pct_ms (&latency, 0.999);
    res.pmax = pct_ms (&latency, 1.0);
    res.setup_p50 = pct_ms (&setup_time, 0.50);
    res.setup_p99 = pct_ms (&setup_time, 0.99);
    res.setup_max = pct_ms (&setup_time, 1.0);
    res.rss_per_client_kib = (res.rss_before >= 0 && res.rss_after >= 0)
        ? (double) (res.rss_after - res.rss_before) / opt.clients: -1;

    int64_t lost = (int64_t) (expected - unique);
    if (lost || dups || reordered || bogus || disconnects)
        note ("lost %" PRId64 ", duplicates %" PRIu64 ", reordered %" PRIu64
              ", unparsable %" PRIu64 ", disconnects %d",
              lost, dups, reordered, bogus, disconnects);
    note ("server cpu %.2f s, loadgen cpu %.2f s, rest of the machine %.2f s over %.2f s",
          res.cpu_s, res.lg_cpu_s, res.other_cpu_s, res.window_s);
    printf ("%-9s %-11s %7d %5d %9.0f %6" PRId64 " %7.3f %7.3f %8.3f %10.3f %6.2f %13.3f %10.2f\n",
            opt.label, opt.scenario, opt.clients, opt.rooms, res.deliveries_per_s, lost,
            res.p50, res.p99, res.p999, res.setup_p99, res.cpu_s,
            res.deliveries_per_cpu_s / 1e6, res.rss_per_client_kib);
    fflush (stdout);
    write_json (&res, true);
    close_all ();
    return 0;
}
