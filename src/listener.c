/*  listener: opens the server's listening TCP socket.  */
#include "listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int
s_listen_on (const struct sockaddr *addr, socklen_t addrlen, char *error, size_t size)
{
    int fd = socket (addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf (error, size, "socket: %s", strerror (errno));
        return -1;
    }
    int on = 1, off = 0;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (addr->sa_family == AF_INET6)
        //  One socket for both families, whatever the system default is.
        setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    if (bind (fd, addr, addrlen) < 0 || listen (fd, LISTEN_BACKLOG) < 0) {
        snprintf (error, size, "%s", strerror (errno));
        close (fd);
        return -1;
    }
    return fd;
}

int
listener_open (const char *address, int port, char *error, size_t size)
{
    if (!address || !*address) {
        struct sockaddr_in6 any6 = { .sin6_family = AF_INET6, .sin6_port = htons (port),
                                     .sin6_addr = IN6ADDR_ANY_INIT };
        int fd = s_listen_on ((struct sockaddr *) &any6, sizeof any6, error, size);
        if (fd >= 0 || (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL))
            return fd;
        struct sockaddr_in any4 = { .sin_family = AF_INET, .sin_port = htons (port),
                                    .sin_addr.s_addr = htonl (INADDR_ANY) };
        return s_listen_on ((struct sockaddr *) &any4, sizeof any4, error, size);
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
    struct addrinfo *found;
    char service [8];
    snprintf (service, sizeof service, "%d", port);
    //  IPv6 literals may come bracketed, as in URLs: [::1]
    char host [64];
    size_t len = strlen (address);
    if (address [0] == '[' && len > 2 && address [len - 1] == ']' && len - 2 < sizeof host) {
        memcpy (host, address + 1, len - 2);
        host [len - 2] = 0;
    }
    else
        snprintf (host, sizeof host, "%s", address);
    int rc = getaddrinfo (host, service, &hints, &found);
    if (rc != 0) {
        snprintf (error, size, "'%s' is not an IP address", address);
        return -1;
    }
    int fd = s_listen_on (found->ai_addr, found->ai_addrlen, error, size);
    freeaddrinfo (found);
    return fd;
}
