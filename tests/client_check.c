/* SPDX-License-Identifier: MIT */
/*  client_check: patterns, the TCP test client, the watchdog (see
    client_check.h).                                                    */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "client_check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 256
#define SHOW_BYTES  320 /* how much of a mismatch a message shows */
#define SHOW_SLOTS  3   /* check_show results alive at once */

struct tcp_client {
    int    fd;
    char   label [64]; /* for messages */
    char  *buf;        /* received, not yet consumed */
    size_t len, cap;
    bool   eof;
};

/*  Every open client, so that a teardown can close them after a failure. */
static tcp_client_t *s_clients [MAX_CLIENTS];
static int           s_serial;

/* ------------------------------------------------------------------ */
/*  Failing and showing bytes                                          */

void
check_fail_at (const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fflush (stdout);
    fprintf (stderr, "%s:%d: ", file, line);
    va_start (ap, fmt);
    vfprintf (stderr, fmt, ap);
    va_end (ap);
    fputc ('\n', stderr);
    fflush (stderr);
    _fail (file, line);
    abort (); /* _fail jumps out of the test */
}

static void
s_escape_into (FILE *f, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = p [i];
        if (ch == '\n')
            fputs ("\\n", f);
        else if (ch == '\r')
            fputs ("\\r", f);
        else if (ch == '\t')
            fputs ("\\t", f);
        else if (ch == '\\')
            fputs ("\\\\", f);
        else if (ch == '"')
            fputs ("\\\"", f);
        else if (ch >= 0x20 && ch < 0x7f)
            fputc (ch, f);
        else
            fprintf (f, "\\x%02x", ch);
    }
}

char *
check_escape (const char *p, size_t n)
{
    char  *s = NULL;
    size_t size = 0;
    FILE  *f = open_memstream (&s, &size);
    if (!f)
        abort ();
    fputc ('"', f);
    s_escape_into (f, (const unsigned char *) p, n);
    fputc ('"', f);
    fclose (f);
    return s;
}

const char *
check_show (const char *p, size_t n, size_t at)
{
    static char     slots [SHOW_SLOTS][SHOW_BYTES * 4 + 64];
    static unsigned next;
    char           *out = slots [next++ % SHOW_SLOTS];
    size_t          from = at > SHOW_BYTES / 2 ? at - SHOW_BYTES / 2 : 0;
    size_t          to = from + SHOW_BYTES < n ? from + SHOW_BYTES : n;
    char           *shown = check_escape (p + from, to - from);
    snprintf (out, sizeof slots [0], "%s%s%s (%zu bytes)", from > 0 ? "..." : "", shown,
              to < n ? "..." : "", n);
    free (shown);
    return out;
}

/* ------------------------------------------------------------------ */
/*  Patterns                                                           */

/*  "YYYY-MM-DD HH:MM:SS": 'd' is a digit, anything else itself.        */
static const char s_stamp_shape [] = "dddd-dd-dd dd:dd:dd";

static bool
s_stamp_char_ok (size_t i, char ch)
{
    if (s_stamp_shape [i] == 'd')
        return ch >= '0' && ch <= '9';
    return ch == s_stamp_shape [i];
}

static int
s_two_digits (const char *s)
{
    return (s [0] - '0') * 10 + (s [1] - '0');
}

bool
check_is_stamp (const char *s, size_t n)
{
    if (n < CHECK_TS_LEN)
        return false;
    for (size_t i = 0; i < CHECK_TS_LEN; i++)
        if (!s_stamp_char_ok (i, s [i]))
            return false;
    int month = s_two_digits (s + 5), day = s_two_digits (s + 8);
    int hour = s_two_digits (s + 11), min = s_two_digits (s + 14), sec = s_two_digits (s + 17);
    return month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && min <= 59 &&
           sec <= 60;
}

static bool
s_is_marker (const char *p)
{
    return strncmp (p, CHECK_TS, strlen (CHECK_TS)) == 0;
}

size_t
check_pattern_len (const char *pattern)
{
    size_t n = 0;
    for (const char *p = pattern; *p;) {
        if (s_is_marker (p)) {
            n += CHECK_TS_LEN;
            p += strlen (CHECK_TS);
        } else {
            n++;
            p++;
        }
    }
    return n;
}

size_t
check_mismatch (const char *pattern, const char *s, size_t n)
{
    size_t i = 0;
    for (const char *p = pattern; *p && i < n;) {
        if (!s_is_marker (p)) {
            if (s [i] != *p++)
                return i;
            i++;
            continue;
        }
        //  Shape byte by byte, then the values once the stamp is whole.
        size_t start = i;
        for (size_t k = 0; k < CHECK_TS_LEN && i < n; k++, i++)
            if (!s_stamp_char_ok (k, s [i]))
                return i;
        if (i - start == CHECK_TS_LEN && !check_is_stamp (s + start, CHECK_TS_LEN))
            return start;
        p += strlen (CHECK_TS);
    }
    return n;
}

bool
check_match (const char *pattern, const char *s, size_t n)
{
    return n == check_pattern_len (pattern) && check_mismatch (pattern, s, n) == n;
}

/*  The pattern as readable text: a stamp shows as dddd-dd-dd dd:dd:dd. */
static const char *
s_show_pattern (const char *pattern, size_t at)
{
    size_t len = check_pattern_len (pattern);
    char  *bytes = malloc (len + 1);
    if (!bytes)
        abort ();
    size_t n = 0;
    for (const char *p = pattern; *p;) {
        if (s_is_marker (p)) {
            memcpy (bytes + n, s_stamp_shape, CHECK_TS_LEN);
            n += CHECK_TS_LEN;
            p += strlen (CHECK_TS);
        } else
            bytes [n++] = *p++;
    }
    const char *shown = check_show (bytes, len, at);
    free (bytes);
    return shown;
}

/* ------------------------------------------------------------------ */
/*  Watchdog                                                           */

static void
s_watchdog_fired (int sig)
{
    (void) sig;
    static const char text [] = "\nwatchdog: a test ran far too long: the server or an"
                                " actor is stuck. Giving up.\n";
    if (write (2, text, sizeof text - 1) < 0)
        _exit (125);
    _exit (125);
}

void
check_watchdog_arm (unsigned seconds)
{
    signal (SIGALRM, s_watchdog_fired);
    alarm (seconds);
}

void
check_watchdog_stop (void)
{
    alarm (0);
}

int
check_watchdog_setup (void **state)
{
    (void) state;
    check_watchdog_arm (CHECK_WATCHDOG_S);
    return 0;
}

/* ------------------------------------------------------------------ */
/*  Time                                                               */

int64_t
check_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
check_sleep_ms (int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
    while (nanosleep (&ts, &ts) == -1 && errno == EINTR)
        ;
}

static int
s_left_ms (int64_t deadline)
{
    int64_t left = deadline - check_now_ms ();
    return left > 0 ? (int) left : 0;
}

/* ------------------------------------------------------------------ */
/*  Connecting and closing                                             */

static socklen_t
s_loopback (struct sockaddr_storage *ss, bool ipv6, int port)
{
    memset (ss, 0, sizeof *ss);
    if (ipv6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *) ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons ((uint16_t) port);
        return sizeof *a;
    }
    struct sockaddr_in *a = (struct sockaddr_in *) ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    a->sin_port = htons ((uint16_t) port);
    return sizeof *a;
}

int
tcp_free_port (bool ipv6)
{
    struct sockaddr_storage ss;
    socklen_t               len = s_loopback (&ss, ipv6, 0);
    int                     fd = socket (ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int port = -1;
    if (bind (fd, (struct sockaddr *) &ss, len) == 0 &&
        getsockname (fd, (struct sockaddr *) &ss, &len) == 0)
        port = ntohs (ipv6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                           : ((struct sockaddr_in *) &ss)->sin_port);
    close (fd);
    return port;
}

bool
tcp_have_ipv6 (void)
{
    return tcp_free_port (true) > 0;
}

int
tcp_try_connect (int port, bool ipv6, int rcvbuf)
{
    struct sockaddr_storage ss;
    socklen_t               len = s_loopback (&ss, ipv6, port);
    int fd = socket (ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (connect (fd, (struct sockaddr *) &ss, len) == 0)
        return fd;
    if (errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll (&p, 1, CHECK_WAIT_MS) == 1) {
            int       err = 0;
            socklen_t elen = sizeof err;
            getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &elen);
            if (err == 0)
                return fd;
            errno = err;
        } else
            errno = ETIMEDOUT;
    }
    int saved = errno;
    close (fd);
    errno = saved;
    return -1;
}

char
tcp_first_byte (int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll (&p, 1, timeout_ms) != 1)
        return 0;
    char c;
    return recv (fd, &c, 1, MSG_PEEK) == 1 ? c : 0;
}

tcp_client_t *
tcp_connect_at (int port, bool ipv6, int rcvbuf, const char *file, int line)
{
    signal (SIGPIPE, SIG_IGN);
    int fd = tcp_try_connect (port, ipv6, rcvbuf);
    if (fd < 0)
        check_fail_at (file, line, "connect to %s port %d: %s", ipv6 ? "[::1]" : "127.0.0.1", port,
                       strerror (errno));
    tcp_client_t *c = calloc (1, sizeof *c);
    if (!c)
        abort ();
    c->fd = fd;
    snprintf (c->label, sizeof c->label, "client #%d", ++s_serial);
    for (size_t i = 0; i < MAX_CLIENTS; i++)
        if (!s_clients [i]) {
            s_clients [i] = c;
            return c;
        }
    check_fail_at (file, line, "more than %d clients open at once", MAX_CLIENTS);
}

void
tcp_close (tcp_client_t *c)
{
    for (size_t i = 0; i < MAX_CLIENTS; i++)
        if (s_clients [i] == c)
            s_clients [i] = NULL;
    if (c->fd >= 0)
        close (c->fd);
    free (c->buf);
    free (c);
}

void
tcp_reset (tcp_client_t *c)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt (c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    tcp_close (c);
}

void
tcp_close_all (void)
{
    for (size_t i = 0; i < MAX_CLIENTS; i++)
        if (s_clients [i])
            tcp_close (s_clients [i]);
}

void
tcp_set_label (tcp_client_t *c, const char *label)
{
    snprintf (c->label, sizeof c->label, "%s", label);
}

const char *
tcp_label (const tcp_client_t *c)
{
    return c->label;
}

int
tcp_fd (const tcp_client_t *c)
{
    return c->fd;
}

tcp_client_t *
tcp_by_fd (int fd)
{
    for (size_t i = 0; i < MAX_CLIENTS; i++)
        if (s_clients [i] && s_clients [i]->fd == fd)
            return s_clients [i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/*  Sending                                                            */

void
tcp_send_at (tcp_client_t *c, const void *p, size_t n, const char *file, int line)
{
    const char *bytes = p;
    size_t      done = 0;
    int64_t     deadline = check_now_ms () + CHECK_WAIT_MS;
    while (done < n) {
        ssize_t w = send (c->fd, bytes + done, n - done, MSG_NOSIGNAL);
        if (w > 0) {
            done += (size_t) w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            check_fail_at (file, line, "%s: send: %s", c->label, strerror (errno));
        struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
        if (s_left_ms (deadline) == 0 || poll (&pf, 1, s_left_ms (deadline)) == 0)
            check_fail_at (file, line, "%s: send blocked for %d ms (%zu of %zu bytes sent)",
                           c->label, CHECK_WAIT_MS, done, n);
    }
}

/* ------------------------------------------------------------------ */
/*  Receiving                                                          */

/*  Reads what is there, at most `most` bytes: bytes read, 0 at EOF, -1
    if nothing (errno).                                                  */
static ssize_t
s_fill_upto (tcp_client_t *c, size_t most)
{
    if (c->eof)
        return 0;
    if (c->cap - c->len < most) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap - c->len < most)
            cap *= 2;
        c->buf = realloc (c->buf, cap);
        if (!c->buf)
            abort ();
        c->cap = cap;
    }
    ssize_t r = recv (c->fd, c->buf + c->len, most, MSG_DONTWAIT);
    if (r > 0)
        c->len += (size_t) r;
    else if (r == 0)
        c->eof = true;
    return r;
}

ssize_t
tcp_fill (tcp_client_t *c)
{
    return s_fill_upto (c, 65536);
}

/*  Waits up to timeout_ms for at most `most` more bytes. >0 read, 0 EOF,
    -1 timeout, -2 socket error (errno).                                 */
static ssize_t
s_receive (tcp_client_t *c, size_t most, int timeout_ms)
{
    int64_t deadline = check_now_ms () + timeout_ms;
    for (;;) {
        ssize_t r = s_fill_upto (c, most);
        if (r >= 0)
            return r;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -2;
        if (s_left_ms (deadline) == 0)
            return -1;
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        poll (&pf, 1, s_left_ms (deadline));
    }
}

const char *
tcp_buffered (const tcp_client_t *c, size_t *len)
{
    *len = c->len;
    return c->buf;
}

void
tcp_consume (tcp_client_t *c, size_t n)
{
    if (n > c->len)
        n = c->len;
    memmove (c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static const char *
s_why_short (ssize_t r)
{
    if (r == 0)
        return "the server closed the connection";
    if (r == -1)
        return "timed out";
    return strerror (errno);
}

const char *
tcp_peek_at (tcp_client_t *c, size_t n, int timeout_ms, const char *file, int line)
{
    int64_t deadline = check_now_ms () + timeout_ms;
    while (c->len < n) {
        ssize_t r = s_receive (c, n - c->len, s_left_ms (deadline));
        if (r <= 0)
            check_fail_at (file, line, "%s: waiting for %zu bytes: %s; got %s", c->label, n,
                           s_why_short (r), check_show (c->buf, c->len, 0));
    }
    return c->buf;
}

/*  What was expected, around byte at: the pattern or the raw bytes.    */
static const char *
s_show_expected (const char *pattern, const char *raw, size_t len, size_t at)
{
    return pattern ? s_show_pattern (pattern, at) : check_show (raw, len, at);
}

static size_t
s_mismatch (const char *pattern, const char *raw, const char *s, size_t n)
{
    if (pattern)
        return check_mismatch (pattern, s, n);
    size_t i = 0;
    while (i < n && s [i] == raw [i])
        i++;
    return i;
}

/*  Reads until the buffer holds len bytes (never more), failing as soon
    as what arrived cannot match: a wrong reply fails at once, not after
    the timeout. Expects the pattern, or raw[0..len) when it is NULL.
    Consumes the matched bytes.                                          */
static void
s_expect (tcp_client_t *c, size_t len, const char *pattern, const char *raw, const char *file,
          int line)
{
    int64_t deadline = check_now_ms () + CHECK_WAIT_MS;
    for (;;) {
        size_t have = c->len < len ? c->len : len;
        size_t bad = s_mismatch (pattern, raw, c->buf, have);
        if (bad < have)
            check_fail_at (
                file, line, "%s: wrong bytes at offset %zu\n  expected %s\n  got      %s", c->label,
                bad, s_show_expected (pattern, raw, len, bad), check_show (c->buf, c->len, bad));
        if (have == len)
            break;
        ssize_t r = s_receive (c, len - c->len, s_left_ms (deadline));
        if (r <= 0)
            check_fail_at (
                file, line, "%s: %s after %zu of %zu bytes\n  expected %s\n  got      %s", c->label,
                s_why_short (r), c->len, len, s_show_expected (pattern, raw, len, c->len),
                check_show (c->buf, c->len, c->len));
    }
    tcp_consume (c, len);
}

void
tcp_expect_at (tcp_client_t *c, const char *pattern, const char *file, int line)
{
    s_expect (c, check_pattern_len (pattern), pattern, NULL, file, line);
}

void
tcp_expect_n_at (tcp_client_t *c, const void *p, size_t n, const char *file, int line)
{
    s_expect (c, n, NULL, p, file, line);
}

void
tcp_expect_silence_at (tcp_client_t *c, int ms, const char *file, int line)
{
    if (c->len > 0)
        check_fail_at (file, line, "%s: expected nothing, but unread bytes are waiting: %s",
                       c->label, check_show (c->buf, c->len, 0));
    ssize_t r = s_receive (c, 65536, ms);
    if (r == 0)
        check_fail_at (file, line, "%s: expected nothing, but the server closed the connection",
                       c->label);
    if (r == -2)
        check_fail_at (file, line, "%s: expected nothing, got a socket error: %s", c->label,
                       strerror (errno));
    if (r > 0) {
        s_receive (c, 65536, 100); /* a little more, to show the whole message */
        check_fail_at (file, line, "%s: expected nothing for %d ms, got %s", c->label, ms,
                       check_show (c->buf, c->len, 0));
    }
}

void
tcp_expect_eof_at (tcp_client_t *c, const char *file, int line)
{
    if (c->len > 0)
        check_fail_at (file, line,
                       "%s: expected the connection to close, but unread bytes"
                       " are waiting: %s",
                       c->label, check_show (c->buf, c->len, 0));
    ssize_t r = s_receive (c, 65536, CHECK_WAIT_MS);
    if (r == -1)
        check_fail_at (file, line, "%s: the connection was not closed within %d ms", c->label,
                       CHECK_WAIT_MS);
    if (r == -2)
        check_fail_at (file, line, "%s: expected a clean close (EOF), got: %s", c->label,
                       strerror (errno));
    if (r > 0)
        check_fail_at (file, line, "%s: expected the connection to close, got %s", c->label,
                       check_show (c->buf, c->len, 0));
}
