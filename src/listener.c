/* SPDX-License-Identifier: MIT */
/*  listener: opens the server's listening TCP socket.  */
#include "listener.h"
#include "log.h"

#include <czmq.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

//  A saved SYN: its IP and TCP headers, options included (60 + 60 bytes
//  at most over IPv4, 40 + 60 over IPv6).
#define SAVED_SYN_MAX 256
//  DSCP LE, "lower effort" (RFC 8622), in the IPv4 TOS / IPv6 traffic
//  class byte: a mark a health check may fairly carry.
#define PROBE_DSCP    1
#define PROBE_TOS     (PROBE_DSCP << 2)

//  A non-blocking TCP socket; -1 with the reason in error.
static int
s_socket (int family, char *error, size_t size)
{
    int fd = socket (family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        snprintf (error, size, "socket: %s", strerror (errno));
    return fd;
}

static int
s_listen_on (const struct sockaddr *addr, socklen_t addrlen, char *error, size_t size)
{
    int fd = s_socket (addr->sa_family, error, size);
    if (fd < 0)
        return LISTENER_FAILED;
    int on = 1, off = 0;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    //  Best effort: without it probes are merely treated as clients.
    setsockopt (fd, IPPROTO_TCP, TCP_SAVE_SYN, &on, sizeof on);
    if (addr->sa_family == AF_INET6)
        //  One socket for both families, whatever the system default is.
        setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    if (bind (fd, addr, addrlen) < 0 || listen (fd, LISTEN_BACKLOG) < 0) {
        int cause = errno;
        snprintf (error, size, "%s", strerror (cause));
        close (fd);
        errno = cause;
        return cause == EADDRINUSE      ? LISTENER_IN_USE
               : cause == EADDRNOTAVAIL ? LISTENER_BAD_ADDRESS
                                        : LISTENER_FAILED;
    }
    return fd;
}

//  "[::1]" -> "::1", as addresses are written in URLs. False if it does
//  not fit.
static bool
s_unbracket (const char *address, char *host, size_t size)
{
    size_t len = strlen (address);
    if (address [0] == '[' && len > 2 && address [len - 1] == ']') {
        if (len - 2 >= size)
            return false;
        memcpy (host, address + 1, len - 2);
        host [len - 2] = 0;
        return true;
    }
    return (size_t) snprintf (host, size, "%s", address) < size;
}

//  Only digits and dots, or a colon: meant as an IP literal. Never sent
//  to DNS, so "999.1.1.1" is refused at once instead of looked up.
static bool
s_looks_numeric (const char *host)
{
    if (strchr (host, ':'))
        return true;
    for (const char *p = host; *p; p++)
        if (*p != '.' && (*p < '0' || *p > '9'))
            return false;
    return true;
}

//  The addresses address stands for, IPv4 first; NULL with the reason.
static struct addrinfo *
s_resolve (const char *address, int port, bool passive, char *error, size_t size)
{
    char host [NI_MAXHOST];
    if (!s_unbracket (address, host, sizeof host) || !*host) {
        snprintf (error, size, "'%s' is not an IP address or host name", address);
        return NULL;
    }
    bool            numeric = s_looks_numeric (host);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) |
                                         (numeric ? AI_NUMERICHOST : 0)};
    char            service [NI_MAXSERV];
    snprintf (service, sizeof service, "%d", port);
    struct addrinfo *found = NULL;
    int              rc = getaddrinfo (host, service, &hints, &found);
    if (rc != 0) {
        if (numeric)
            snprintf (error, size, "'%s' is not an IP address", address);
        else
            snprintf (error, size, "'%s' does not resolve: %s", address, gai_strerror (rc));
        return NULL;
    }
    //  Stable partition: IPv4 entries first. Every nc, old or new, tries
    //  IPv4 for a name; not all of them go on to IPv6.
    struct addrinfo *v4 = NULL, **v4_tail = &v4, *rest = NULL, **rest_tail = &rest;
    for (struct addrinfo *ai = found, *next; ai; ai = next) {
        next = ai->ai_next;
        ai->ai_next = NULL;
        if (ai->ai_family == AF_INET) {
            *v4_tail = ai;
            v4_tail = &ai->ai_next;
        } else {
            *rest_tail = ai;
            rest_tail = &ai->ai_next;
        }
    }
    *v4_tail = rest;
    return v4;
}

int
listener_open (const char *address, int port, char *error, size_t size)
{
    if (!address || !*address) {
        struct sockaddr_in6 any6 = {
            .sin6_family = AF_INET6, .sin6_port = htons (port), .sin6_addr = IN6ADDR_ANY_INIT};
        int fd = s_listen_on ((struct sockaddr *) &any6, sizeof any6, error, size);
        if (fd >= 0 || (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL))
            return fd;
        struct sockaddr_in any4 = {
            .sin_family = AF_INET, .sin_port = htons (port), .sin_addr.s_addr = htonl (INADDR_ANY)};
        return s_listen_on ((struct sockaddr *) &any4, sizeof any4, error, size);
    }
    struct addrinfo *found = s_resolve (address, port, true, error, size);
    if (!found)
        return LISTENER_BAD_ADDRESS;
    //  The first address that takes the socket. A busy port is final: the
    //  next family would listen where the user did not ask.
    int fd = LISTENER_BAD_ADDRESS;
    for (struct addrinfo *ai = found; ai; ai = ai->ai_next) {
        fd = s_listen_on (ai->ai_addr, ai->ai_addrlen, error, size);
        if (fd >= 0 || fd == LISTENER_IN_USE)
            break;
    }
    freeaddrinfo (found);
    if (fd == LISTENER_BAD_ADDRESS) {
        char reason [LOG_REASON_SIZE];
        snprintf (reason, sizeof reason, "%s", error);
        snprintf (error, size, "'%s': %s", address, reason);
    }
    return fd;
}

int
listener_from_systemd (char *error, size_t size)
{
    int count = sd_listen_fds (1);
    if (count == 0)
        return 0;
    if (count < 0) {
        snprintf (error, size, "socket activation: %s", strerror (-count));
        return LISTENER_FAILED;
    }
    int fd = SD_LISTEN_FDS_START;
    if (count != 1) {
        snprintf (error, size, "socket activation: %d sockets passed, expected 1", count);
        return LISTENER_FAILED;
    }
    if (sd_is_socket (fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
        snprintf (error, size, "socket activation: fd %d is not a listening TCP socket", fd);
        return LISTENER_FAILED;
    }
    int       family = 0;
    socklen_t len = sizeof family;
    if (getsockopt (fd, SOL_SOCKET, SO_DOMAIN, &family, &len) != 0 ||
        (family != AF_INET && family != AF_INET6)) {
        snprintf (error, size, "socket activation: fd %d is not a TCP/IP socket", fd);
        return LISTENER_FAILED;
    }
    int flags = fcntl (fd, F_GETFL);
    fcntl (fd, F_SETFL, flags | O_NONBLOCK);
    fcntl (fd, F_SETFD, FD_CLOEXEC);
    int on = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_SAVE_SYN, &on, sizeof on);
    return fd;
}

int
listener_port (int fd)
{
    struct sockaddr_storage ss;
    socklen_t               len = sizeof ss;
    if (getsockname (fd, (struct sockaddr *) &ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs (((struct sockaddr_in *) &ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs (((struct sockaddr_in6 *) &ss)->sin6_port);
    return -1;
}

//  "127.0.0.1:5555" or "[::1]:5555" for either end of a socket.
static void
s_socket_name (int fd, int (*which) (int, struct sockaddr *, socklen_t *), char *out, size_t size)
{
    struct sockaddr_storage addr;
    socklen_t               len = sizeof addr;
    char                    host [INET6_ADDRSTRLEN] = "?";
    int                     port = 0;
    if (which (fd, (struct sockaddr *) &addr, &len) == 0) {
        if (addr.ss_family == AF_INET6) {
            struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) &addr;
            inet_ntop (AF_INET6, &a6->sin6_addr, host, sizeof host);
            port = ntohs (a6->sin6_port);
            //  Dual stack: show IPv4 clients as IPv4
            if (strncmp (host, "::ffff:", 7) == 0 && strchr (host + 7, '.'))
                memmove (host, host + 7, strlen (host + 7) + 1);
        } else if (addr.ss_family == AF_INET) {
            struct sockaddr_in *a4 = (struct sockaddr_in *) &addr;
            inet_ntop (AF_INET, &a4->sin_addr, host, sizeof host);
            port = ntohs (a4->sin_port);
        }
    }
    snprintf (out, size, strchr (host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

void
listener_peer_name (int fd, char *out, size_t size)
{
    s_socket_name (fd, getpeername, out, size);
}

void
listener_local_name (int fd, char *out, size_t size)
{
    s_socket_name (fd, getsockname, out, size);
}

static bool
s_is_loopback (const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl (((const struct sockaddr_in *) ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss->ss_family != AF_INET6)
        return false;
    const struct in6_addr *a = &((const struct sockaddr_in6 *) ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK (a) || (IN6_IS_ADDR_V4MAPPED (a) && a->s6_addr [12] == 127);
}

//  The peer is this machine: a loopback address, or the very address it
//  connected to (a probe to --bind 192.0.2.7 comes from 192.0.2.7). The
//  kernel drops packets from outside that claim a local source.
static bool
s_peer_is_local (int fd)
{
    struct sockaddr_storage peer, self;
    socklen_t               peer_len = sizeof peer, self_len = sizeof self;
    if (getpeername (fd, (struct sockaddr *) &peer, &peer_len) != 0 ||
        getsockname (fd, (struct sockaddr *) &self, &self_len) != 0)
        return false;
    if (s_is_loopback (&peer))
        return true;
    if (peer.ss_family != self.ss_family)
        return false;
    if (peer.ss_family == AF_INET)
        return ((struct sockaddr_in *) &peer)->sin_addr.s_addr ==
               ((struct sockaddr_in *) &self)->sin_addr.s_addr;
    return peer.ss_family == AF_INET6 &&
           !memcmp (&((struct sockaddr_in6 *) &peer)->sin6_addr,
                    &((struct sockaddr_in6 *) &self)->sin6_addr, sizeof (struct in6_addr));
}

bool
listener_is_probe (int fd)
{
    uint8_t   syn [SAVED_SYN_MAX];
    socklen_t len = sizeof syn;
    if (getsockopt (fd, IPPROTO_TCP, TCP_SAVED_SYN, syn, &len) != 0 || len < 2)
        return false;
    int traffic_class = (syn [0] >> 4) == 4   ? syn [1]
                        : (syn [0] >> 4) == 6 ? ((syn [0] & 0x0F) << 4) | (syn [1] >> 4)
                                              : -1;
    //  DSCP only: the two ECN bits are the network's to set.
    return traffic_class >= 0 && (traffic_class >> 2) == PROBE_DSCP && s_peer_is_local (fd);
}

//  Waits for events on fd until deadline; false on timeout or error.
static bool
s_wait (int fd, short events, int64_t deadline)
{
    for (int rounds = 0; rounds < 1000; rounds++) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = events};
        int           rc = poll (&p, 1, (int) left);
        if (rc > 0)
            return true;
        if (rc < 0 && errno != EINTR)
            return false;
    }
    return false;
}

//  The DSCP mark that tells the listener this SYN is a probe.
static void
s_mark_probe (int fd, int family)
{
    int tos = PROBE_TOS;
    if (family == AF_INET)
        setsockopt (fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    else
        setsockopt (fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
}

//  What a probe sends and the answer it waits for: the gateway's marked
//  connection sends nothing and wants PROBE_REPLY; the web gateway's
//  /healthz wants an HTTP 200 status line.
typedef struct {
    bool        marked;
    const char *request; /* NULL: send nothing */
    const char *reply;   /* the answer starts with it */
} probe_t;

static const probe_t s_tcp_probe = {true, NULL, LISTENER_PROBE_REPLY};
static const probe_t s_http_probe = {
    false, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    "HTTP/1.1 200 "};

//  Reads until want bytes came, the peer closed, or the deadline.
static size_t
s_read_reply (int fd, char *reply, size_t want, int64_t deadline, int *cause)
{
    size_t got = 0;
    while (got < want && s_wait (fd, POLLIN, deadline)) {
        ssize_t r = recv (fd, reply + got, want - got, 0);
        if (r <= 0) {
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            *cause = r < 0 ? errno : 0;
            break;
        }
        got += (size_t) r;
    }
    return got;
}

//  Once the connect is done, the request: a few dozen bytes fit any
//  fresh socket's send buffer. On failure, why in error.
static bool
s_send_request (int fd, const char *request, int64_t deadline, char *error, size_t size)
{
    int       cause = 0;
    socklen_t len = sizeof cause;
    if (!s_wait (fd, POLLOUT, deadline)) {
        snprintf (error, size, "no answer");
        return false;
    }
    if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &cause, &len) == 0 && cause != 0) {
        snprintf (error, size, "%s", strerror (cause));
        return false;
    }
    size_t want = strlen (request);
    if (send (fd, request, want, MSG_NOSIGNAL) != (ssize_t) want) {
        snprintf (error, size, "send: %s", strerror (errno));
        return false;
    }
    return true;
}

//  One connection to ai, and the reply read. True on the reply.
static bool
s_probe_one (const struct addrinfo *ai, const probe_t *probe, int64_t deadline, char *error,
             size_t size)
{
    int fd = s_socket (ai->ai_family, error, size);
    if (fd < 0)
        return false;
    if (probe->marked)
        s_mark_probe (fd, ai->ai_family);
    bool ok = false;
    if (connect (fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
        snprintf (error, size, "connect: %s", strerror (errno));
    else if (!probe->request || s_send_request (fd, probe->request, deadline, error, size)) {
        char   reply [32];
        size_t want = strlen (probe->reply);
        int    cause = 0;
        assert (want <= sizeof reply);
        size_t got = s_read_reply (fd, reply, want, deadline, &cause);
        ok = got == want && memcmp (reply, probe->reply, want) == 0;
        if (!ok) {
            if (cause)
                snprintf (error, size, "%s", strerror (cause));
            else if (got == 0)
                snprintf (error, size, "no answer");
            else
                snprintf (error, size, "unexpected answer (%s)",
                          probe->marked ? "not TCPChat's probe reply" : "not HTTP 200");
        }
    }
    close (fd);
    return ok;
}

//  The probe to address, or to both loopbacks for a wildcard address.
static bool
s_probe (const char *address, int port, const probe_t *probe, int timeout_ms, char *error,
         size_t size)
{
    bool wildcard = !address || !*address || !strcmp (address, "0.0.0.0") ||
                    !strcmp (address, "::") || !strcmp (address, "[::]");
    const char *targets [2] = {address, NULL};
    if (wildcard) {
        targets [0] = "127.0.0.1";
        targets [1] = "::1";
    }
    int64_t deadline = zclock_mono () + timeout_ms;
    for (size_t i = 0; i < 2 && targets [i]; i++) {
        struct addrinfo *found = s_resolve (targets [i], port, false, error, size);
        if (!found)
            continue;
        bool ok = s_probe_one (found, probe, deadline, error, size);
        freeaddrinfo (found);
        if (ok)
            return true;
    }
    return false;
}

bool
listener_probe (const char *address, int port, int timeout_ms, char *error, size_t size)
{
    return s_probe (address, port, &s_tcp_probe, timeout_ms, error, size);
}

bool
listener_http_probe (const char *address, int port, int timeout_ms, char *error, size_t size)
{
    return s_probe (address, port, &s_http_probe, timeout_ms, error, size);
}
