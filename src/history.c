/* SPDX-License-Identifier: MIT */
/*  history: a room's last N chat lines, oldest first. See history.h.

    The slot array grows geometrically up to the capacity, so that a
    quiet room does not pay for --history slots up front. Once full it is
    a ring: the newest line replaces the oldest.                          */
#include "history.h"
#include "mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char  *text; /* NUL terminated copy */
    size_t len;
} entry_t;

struct history_t {
    entry_t *entries;
    size_t   allocated; /* slots in entries, at most capacity */
    size_t   capacity;
    size_t   count;
    size_t   oldest; /* slot of line 0 */
};

history_t *
history_new (size_t capacity)
{
    history_t *self = mem_zalloc (1, sizeof *self);
    self->capacity = capacity;
    return self;
}

void
history_destroy (history_t **self_p)
{
    history_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        free (self->entries [i].text);
    free (self->entries);
    free (self);
    *self_p = NULL;
}

static void
s_grow (history_t *self)
{
    size_t allocated = self->allocated ? self->allocated * 2 : 16;
    if (allocated > self->capacity || allocated < self->allocated)
        allocated = self->capacity;
    //  Past SIZE_MAX bytes no memory is enough: ask for all, and stop.
    size_t bytes =
        allocated > SIZE_MAX / sizeof (entry_t) ? SIZE_MAX : allocated * sizeof (entry_t);
    self->entries = mem_realloc (self->entries, bytes);
    self->allocated = allocated;
}

void
history_add (history_t *self, const char *line, size_t len)
{
    if (self->capacity == 0)
        return;
    if (self->count == self->allocated && self->count < self->capacity)
        s_grow (self);
    char *text = mem_alloc (len + 1);
    memcpy (text, line, len);
    text [len] = '\0';

    if (self->count < self->capacity)
        self->entries [self->count++] = (entry_t){text, len};
    else {
        free (self->entries [self->oldest].text);
        self->entries [self->oldest] = (entry_t){text, len};
        self->oldest = (self->oldest + 1) % self->capacity;
    }
}

size_t
history_count (const history_t *self)
{
    return self->count;
}

const char *
history_line (const history_t *self, size_t i, size_t *len)
{
    if (i >= self->count)
        return NULL;
    size_t slot = self->oldest + i;
    if (slot >= self->capacity)
        slot -= self->capacity;
    if (len)
        *len = self->entries [slot].len;
    return self->entries [slot].text;
}

void
history_render (const history_t *self, buf_t *out)
{
    history_render_newest (self, SIZE_MAX, out);
}

/*  Counting back from the newest line finds the first line that fits.   */
void
history_render_newest (const history_t *self, size_t max_bytes, buf_t *out)
{
    size_t total = 0;
    size_t first = self->count;
    while (first > 0) {
        size_t len = 0;
        history_line (self, first - 1, &len);
        if (len + 1 > max_bytes - total)
            break;
        total += len + 1;
        first--;
    }
    for (size_t i = first; i < self->count; i++) {
        size_t      len;
        const char *line = history_line (self, i, &len);
        buf_append (out, line, len);
        buf_append (out, "\n", 1);
    }
}
