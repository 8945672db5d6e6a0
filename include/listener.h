/* SPDX-License-Identifier: MIT */
/*  listener: opens the server's listening TCP socket.

    With no address: one dual-stack socket on [::] (IPv4 and IPv6), or
    0.0.0.0 where the system has no IPv6. An address may be an IP literal
    ([::1] bracketed or not) or a host name: a name listens on its first
    IPv4 address, else its first IPv6 one (one socket; `localhost` is
    127.0.0.1, which every nc finds). SO_REUSEADDR so a restart can
    listen at once; a deep backlog so bursts of connects are not dropped.

    It also takes a socket from systemd (socket activation), and carries
    the health probe (`TCPChat --health`): a connection from this machine
    whose SYN is marked DSCP LE (RFC 8622). The listening socket keeps each SYN
    (TCP_SAVE_SYN), so the gateway knows a probe the moment it accepts
    it: answered with one line, never logged, never given a client slot.  */
#ifndef TCPCHAT_LISTENER_H
#define TCPCHAT_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include "protocol.h"

#define LISTEN_BACKLOG 4096

/*  listener_open's failures (the return value when it is negative).     */
#define LISTENER_FAILED -1 /* anything else: permission, resources */
#define LISTENER_BAD_ADDRESS                                                                       \
    -2                     /* not an IP address, a name that does not resolve,
                                       an address this machine does not have */
#define LISTENER_IN_USE -3 /* another socket holds the port */

/*  What the gateway sends a probe, and the probe waits for.             */
#define LISTENER_PROBE_REPLY PROTOCOL_PROBE_REPLY

/*  A non-blocking listening socket, or a LISTENER_* code with the reason
    in error.                                                            */
int listener_open (const char *address, int port, char *error, size_t size);

/*  Socket activation: 0 when systemd passed no socket (LISTEN_FDS unset
    or for another process), the passed socket (fd 3, made non-blocking)
    when it passed exactly one listening TCP socket, else LISTENER_FAILED
    with the reason. Clears LISTEN_* from the environment.               */
int listener_from_systemd (char *error, size_t size);

/*  The port a listening socket is bound to, or -1.                      */
int listener_port (int fd);

/*  The far end (peer) or near end (local) of a socket as "127.0.0.1:5555"
    or "[::1]:5555"; an IPv4 client of a dual-stack socket (::ffff:a.b.c.d)
    reads as IPv4. "?:0" when the socket has no such address. Truncated
    to size, always terminated.                                          */
void listener_peer_name (int fd, char *out, size_t size);
void listener_local_name (int fd, char *out, size_t size);

/*  For a socket accept() just returned: true when it is a health probe
    (marked SYN from this machine). Reading the saved SYN also
    frees it, so call it once for every accepted socket.                 */
bool listener_is_probe (int fd);

/*  The probe: connects to address (NULL, "", "0.0.0.0", "::": the
    loopback) on port, marked, and waits up to timeout_ms for
    LISTENER_PROBE_REPLY. True when it came; else false, reason in error. */
bool listener_probe (const char *address, int port, int timeout_ms, char *error, size_t size);

/*  The same for the web gateway (--http): GET /healthz on port, true when
    the answer is HTTP 200 within timeout_ms. Unmarked: the web gateway
    logs no request, so a probe leaves no log line either.               */
bool listener_http_probe (const char *address, int port, int timeout_ms, char *error, size_t size);

#endif
