/* SPDX-License-Identifier: MIT */
/*  addrs: what each remote address may still open. See addrs.h.  */
#include "addrs.h"
#include "mem.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAYS     8    /* entries per set: where a key may live */
#define COST     1000 /* one connection, in tokens (1 per ms per conn/s) */
#define KEY_SIZE 16   /* an IPv6 address: IPv4 ones are mapped into it */

typedef struct {
    uint8_t  key [KEY_SIZE]; /* IPv4 as ::ffff:a.b.c.d, IPv6 its /64 */
    bool     used;
    uint32_t open; /* connections open now: pins the entry */
    int64_t  tokens;
    int64_t  refilled_at; /* ms */
    int64_t  seen_at;     /* ms: the least recently seen goes first */
    uint32_t refused;     /* since the last log line */
    int64_t  logged_at;   /* ms of the last log line; 0: never */
} entry_t;

struct addrs_t {
    int      rate;
    int      max_open;
    int64_t  burst; /* tokens */
    uint64_t seed;
    size_t   sets;    /* a power of two */
    entry_t *entries; /* sets * WAYS */
};

addrs_t *
addrs_new (int rate, int max_open, size_t clients, uint64_t seed)
{
    addrs_t *self = (addrs_t *) mem_zalloc (1, sizeof (addrs_t));
    self->rate = rate;
    self->max_open = max_open;
    self->burst = (int64_t) ADDRS_BURST_SECONDS * rate * COST;
    self->seed = seed;
    if (!addrs_enabled (self))
        return self;
    //  Room for every open connection's address twice over, and for as
    //  many again that come and go: idle ones are forgotten first.
    size_t wanted = (2 * clients + 1024) / WAYS;
    self->sets = 1;
    while (self->sets < wanted)
        self->sets *= 2;
    self->entries = (entry_t *) mem_zalloc (self->sets * WAYS, sizeof (entry_t));
    return self;
}

void
addrs_destroy (addrs_t **self_p)
{
    if (*self_p)
        free ((*self_p)->entries);
    MEM_FREE (*self_p);
}

bool
addrs_enabled (const addrs_t *self)
{
    return self->rate > 0 || self->max_open > 0;
}

static void
s_key (const struct sockaddr *addr, uint8_t key [KEY_SIZE])
{
    memset (key, 0, 16);
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *) addr;
        key [10] = key [11] = 0xff;
        memcpy (key + 12, &a4->sin_addr, 4);
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *) addr;
        if (IN6_IS_ADDR_V4MAPPED (&a6->sin6_addr))
            memcpy (key, &a6->sin6_addr, 16);  //  A dual-stack IPv4 client
        else
            memcpy (key, &a6->sin6_addr, 8);  //  Its /64
    }
}

//  splitmix64's finaliser over both halves, keyed by the seed.
static uint64_t
s_mix (uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static size_t
s_set_of (addrs_t *self, const uint8_t key [KEY_SIZE])
{
    uint64_t high, low;
    memcpy (&high, key, 8);
    memcpy (&low, key + 8, 8);
    return (size_t) (s_mix (s_mix (high ^ self->seed) ^ low) & (self->sets - 1));
}

static void
s_refill (addrs_t *self, entry_t *entry, int64_t now)
{
    if (now > entry->refilled_at) {
        entry->tokens += (now - entry->refilled_at) * self->rate;
        entry->refilled_at = now;
    }
    if (entry->tokens > self->burst)
        entry->tokens = self->burst;
}

//  An entry that holds nothing a fresh one would not: forget it first.
static bool
s_idle (addrs_t *self, entry_t *entry, int64_t now)
{
    s_refill (self, entry, now);
    return entry->open == 0 && entry->tokens >= self->burst && entry->refused == 0;
}

//  The entry for key: found, or made in its set in place of an empty
//  way, else an idle one, else the least recently seen that has no
//  connection open (-1: every way has one).
static int32_t
s_lookup (addrs_t *self, const uint8_t key [KEY_SIZE], int64_t now)
{
    entry_t *set = self->entries + s_set_of (self, key) * WAYS;
    entry_t *victim = NULL;
    bool     victim_idle = false;
    for (size_t way = 0; way < WAYS; way++) {
        entry_t *entry = &set [way];
        if (entry->used && memcmp (entry->key, key, 16) == 0)
            return (int32_t) (entry - self->entries);
        if (victim && !victim->used)
            continue;  //  An empty way beats any other
        if (!entry->used) {
            victim = entry;
            continue;
        }
        if (entry->open)
            continue;
        bool idle = s_idle (self, entry, now);
        if (!victim || (idle && !victim_idle) ||
            (idle == victim_idle && entry->seen_at < victim->seen_at)) {
            victim = entry;
            victim_idle = idle;
        }
    }
    if (!victim)
        return -1;
    memset (victim, 0, sizeof *victim);
    memcpy (victim->key, key, 16);
    victim->used = true;
    victim->tokens = self->burst;
    victim->refilled_at = now;
    return (int32_t) (victim - self->entries);
}

addrs_verdict_t
addrs_admit (addrs_t *self, const struct sockaddr *addr, int64_t now_ms, int32_t *handle)
{
    *handle = -1;
    //  Only IP peers have an address to budget (a test may use AF_UNIX).
    if (!addrs_enabled (self) || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
        return ADDRS_OK;
    uint8_t key [KEY_SIZE];
    s_key (addr, key);
    *handle = s_lookup (self, key, now_ms);
    if (*handle < 0)
        return ADDRS_OK;  //  Cannot happen while sets have room
    entry_t *entry = &self->entries [*handle];
    entry->seen_at = now_ms;
    if (self->rate > 0) {
        s_refill (self, entry, now_ms);
        if (entry->tokens < COST)
            return ADDRS_TOO_FAST;
        entry->tokens -= COST;
    }
    if (self->max_open > 0 && entry->open >= (uint32_t) self->max_open)
        return ADDRS_TOO_MANY;
    entry->open++;
    return ADDRS_OK;
}

void
addrs_release (addrs_t *self, int32_t handle)
{
    if (handle < 0)
        return;
    entry_t *entry = &self->entries [handle];
    assert (entry->used && entry->open > 0);
    entry->open--;
}

bool
addrs_log_refusal (addrs_t *self, int32_t handle, int64_t now_ms, uint32_t *count)
{
    if (handle < 0) {
        *count = 1;
        return true;
    }
    entry_t *entry = &self->entries [handle];
    entry->refused++;
    if (entry->logged_at && now_ms - entry->logged_at < ADDRS_LOG_EVERY_MS)
        return false;
    *count = entry->refused;
    entry->refused = 0;
    entry->logged_at = now_ms ? now_ms : 1;
    return true;
}

void
addrs_format (const struct sockaddr *addr, char *out, size_t size)
{
    char    host [INET6_ADDRSTRLEN] = "?";
    uint8_t key [KEY_SIZE];
    s_key (addr, key);
    bool v4 = addr->sa_family == AF_INET ||
              (addr->sa_family == AF_INET6 &&
               IN6_IS_ADDR_V4MAPPED (&((const struct sockaddr_in6 *) addr)->sin6_addr));
    if (v4)
        inet_ntop (AF_INET, key + 12, host, sizeof host);
    else if (addr->sa_family == AF_INET6)
        inet_ntop (AF_INET6, key, host, sizeof host);
    snprintf (out, size, v4 || addr->sa_family != AF_INET6 ? "%s" : "%s/64", host);
}
