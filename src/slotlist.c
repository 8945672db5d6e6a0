/* SPDX-License-Identifier: MIT */
/*  slotlist: a set of connection slots in order of joining. See slotlist.h.

    Every member's entry index is kept in where[], so add, remove and has
    cost O(1); a removed member's entry goes stale in place (an entry is
    current only while where[] points back at it), so a pass in progress
    never sees its array shift under it except through s_compact, which
    moves its cursor with the entries.                                    */
#include "slotlist.h"
#include "mem.h"

#include <assert.h>
#include <stdlib.h>

#define SLOT_NONE UINT32_MAX

void
slotlist_init (slotlist_t *list, size_t capacity)
{
    *list = (slotlist_t){0};
    assert (capacity < SLOT_NONE);
    list->entries = (uint32_t *) mem_alloc (capacity * sizeof (uint32_t));
    list->where = (uint32_t *) mem_alloc (capacity * sizeof (uint32_t));
    for (size_t slot = 0; slot < capacity; slot++)
        list->where [slot] = SLOT_NONE;
    list->capacity = capacity;
}

void
slotlist_free (slotlist_t *list)
{
    free (list->entries);
    free (list->where);
    *list = (slotlist_t){0};
}

bool
slotlist_has (const slotlist_t *list, uint32_t slot)
{
    return slot < list->capacity && list->where [slot] != SLOT_NONE;
}

size_t
slotlist_size (const slotlist_t *list)
{
    return list->size;
}

//  Drops the stale entries, members keeping their order. A pass in
//  progress keeps its place: its cursor and end count the members that
//  were before them.
static void
s_compact (slotlist_t *list)
{
    size_t kept = 0, cursor = 0, pass_end = 0;
    for (size_t i = 0; i < list->count; i++) {
        if (i == list->cursor)
            cursor = kept;
        if (i == list->pass_end)
            pass_end = kept;
        uint32_t slot = list->entries [i];
        if (list->where [slot] != i)
            continue;
        list->entries [kept] = slot;
        list->where [slot] = (uint32_t) kept;
        kept++;
    }
    if (list->cursor >= list->count)
        cursor = kept;
    if (list->pass_end >= list->count)
        pass_end = kept;
    list->count = kept;
    list->cursor = list->in_pass ? cursor : 0;
    list->pass_end = list->in_pass ? pass_end : 0;
    assert (list->count == list->size);
}

bool
slotlist_add (slotlist_t *list, uint32_t slot)
{
    assert (slot < list->capacity);
    if (list->where [slot] != SLOT_NONE)
        return false;
    //  Not a member, so at most capacity - 1 are: compacting makes room.
    if (list->count == list->capacity)
        s_compact (list);
    assert (list->count < list->capacity);
    list->entries [list->count] = slot;
    list->where [slot] = (uint32_t) list->count;
    list->count++;
    list->size++;
    return true;
}

bool
slotlist_remove (slotlist_t *list, uint32_t slot)
{
    if (!slotlist_has (list, slot))
        return false;
    list->where [slot] = SLOT_NONE;
    list->size--;
    if (list->size == 0 && !list->in_pass)
        list->count = 0;
    return true;
}

void
slotlist_begin (slotlist_t *list)
{
    assert (!list->in_pass);
    list->in_pass = true;
    list->cursor = 0;
    list->pass_end = list->count;
}

bool
slotlist_next (slotlist_t *list, uint32_t *slot)
{
    assert (list->in_pass);
    while (list->cursor < list->pass_end) {
        size_t   i = list->cursor++;
        uint32_t candidate = list->entries [i];
        if (list->where [candidate] == i) {
            *slot = candidate;
            return true;
        }
    }
    return false;
}

void
slotlist_end (slotlist_t *list)
{
    assert (list->in_pass);
    list->in_pass = false;
    if (list->count > list->size)
        s_compact (list);
    list->cursor = list->pass_end = 0;
}
