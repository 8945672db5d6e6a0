/* SPDX-License-Identifier: MIT */
/*  addrs: what each remote address may still open, for the gateway.

    Two budgets per address: new connections (--connect-rate N: N a
    second, in bursts of a minute's worth, 60 N), and connections open at
    once (--max-per-address M). Either is off at 0.

    An address is an IPv4 address, or an IPv6 /64: a host picks new IPv6
    addresses within its /64 at will, so counting them one by one would
    budget nothing. A LAN behind one /64, like a classroom behind one
    IPv4 NAT, shares one budget: the burst is sized for that.

    The table has a fixed size. An address with a connection open keeps
    its entry; when the table is full an idle one (its budget back in
    full) is forgotten first, else the one seen least recently, which
    only ever gives that address a fresh budget, never a smaller one. So
    spraying many addresses costs no memory and locks nobody out.

    Owned by the gateway's thread; nothing in it is shared.              */
#ifndef TCPCHAT_ADDRS_H
#define TCPCHAT_ADDRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDRS_BURST_SECONDS 60    /* the burst: this many seconds' worth */
#define ADDRS_LOG_EVERY_MS  60000 /* refusals of one address logged this often */

typedef struct addrs_t addrs_t;

typedef enum {
    ADDRS_OK,       /* admitted: addrs_release() when it closes */
    ADDRS_TOO_FAST, /* over --connect-rate */
    ADDRS_TOO_MANY  /* --max-per-address open already */
} addrs_verdict_t;

/*  rate: new connections a second (0: no limit); max_open: at once (0: no
    limit); clients: the most connections open at once (sizes the table);
    seed: random, so nobody can aim addresses at one corner of it.        */
addrs_t *addrs_new (int rate, int max_open, size_t clients, uint64_t seed);
void     addrs_destroy (addrs_t **self_p);
/*  False when both budgets are off: then nothing need be called.         */
bool addrs_enabled (const addrs_t *self);

/*  A new connection from addr at now_ms (a monotonic clock). *handle is
    set for every verdict (-1: not tracked); on ADDRS_OK the connection
    counts as open until addrs_release (self, *handle). A refused attempt
    spends a connection's worth too, so retrying at once does not help. */
addrs_verdict_t addrs_admit (addrs_t *self, const struct sockaddr *addr, int64_t now_ms,
                             int32_t *handle);
void            addrs_release (addrs_t *self, int32_t handle);

/*  Counts one refusal of handle's address; true when it is time to log
    it (its first, then at most every ADDRS_LOG_EVERY_MS): *count is then
    the refusals since the last line, this one included.                  */
bool addrs_log_refusal (addrs_t *self, int32_t handle, int64_t now_ms, uint32_t *count);

/*  The address as budgeted: "192.0.2.7", "2001:db8:1:2::/64".            */
void addrs_format (const struct sockaddr *addr, char *out, size_t size);

#endif
