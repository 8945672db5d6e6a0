/*  listener: opens the server's listening TCP socket.

    With no address: one dual-stack socket on [::] (IPv4 and IPv6), or
    0.0.0.0 where the system has no IPv6. SO_REUSEADDR so a restart can
    listen at once; a deep backlog so bursts of connects are not dropped. */
#ifndef TCPCHAT_LISTENER_H
#define TCPCHAT_LISTENER_H

#include <stddef.h>

#define LISTEN_BACKLOG 4096

/*  A non-blocking listening socket, or -1 with the reason in error.     */
int listener_open (const char *address, int port, char *error, size_t size);

#endif
