/* SPDX-License-Identifier: MIT */
/*  slotlist: a set of connection slots kept in the order they joined it.

    The gateway keeps three: the clients to flush at the end of the pass,
    those whose input waits for the hub queue, and those over --rate.
    Each slot is in a list at most once (a second add is a no-op), so a
    list never holds more than its capacity: the number of slots.

    A pass walks the members that were in the list when it began, while
    the handler it calls may remove any slot (a close) and add any slot,
    the one just visited included: a slot added during a pass goes to the
    end and waits for the next pass. Removing leaves a stale entry behind
    that the walk skips; stale entries are dropped (the order of members
    kept) at the end of each pass and whenever the array is full.         */
#ifndef TCPCHAT_SLOTLIST_H
#define TCPCHAT_SLOTLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t *entries;  /* slots in order of joining; some stale */
    uint32_t *where;    /* per slot: its index in entries, or UINT32_MAX */
    size_t    capacity; /* slots 0 .. capacity - 1 */
    size_t    count;    /* entries in use, members and stale */
    size_t    size;     /* members */
    size_t    cursor;   /* in a pass: the next entry to look at */
    size_t    pass_end; /* in a pass: the entries it covers */
    bool      in_pass;
} slotlist_t;

void slotlist_init (slotlist_t *list, size_t capacity);
void slotlist_free (slotlist_t *list);
/*  Adds slot at the end; false (and nothing changes) if already in.     */
bool slotlist_add (slotlist_t *list, uint32_t slot);
/*  Takes slot out; false if it was not in.                              */
bool   slotlist_remove (slotlist_t *list, uint32_t slot);
bool   slotlist_has (const slotlist_t *list, uint32_t slot);
size_t slotlist_size (const slotlist_t *list);

/*  A pass: slotlist_begin, then slotlist_next until it returns false (or
    stop early), then slotlist_end. Next gives each slot that was in the
    list at begin and still is, in order; it stays in unless the caller
    removes it. Passes do not nest.                                      */
void slotlist_begin (slotlist_t *list);
bool slotlist_next (slotlist_t *list, uint32_t *slot);
void slotlist_end (slotlist_t *list);

#endif
