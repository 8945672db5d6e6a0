/* SPDX-License-Identifier: MIT */
/*  buf: a growable byte buffer with a read offset. See buf.h.  */
#include "buf.h"
#include "mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*  First allocation: most queues only ever hold a line or two.          */
#define BUF_MIN_CAP 64

void
buf_init (buf_t *b)
{
    *b = (buf_t){0};
}

void
buf_free (buf_t *b)
{
    free (b->data);
    buf_init (b);
}

size_t
buf_size (const buf_t *b)
{
    return b->len - b->off;
}

const char *
buf_head (const buf_t *b)
{
    return b->off < b->len ? b->data + b->off : NULL;
}

/*  At least double, so that n appends cost O(n) copying in all.        */
static size_t
s_grown_capacity (size_t cap, size_t need)
{
    size_t grown = cap ? cap : BUF_MIN_CAP / 2;
    do
        grown = grown > SIZE_MAX / 2 ? need : grown * 2;
    while (grown < need);
    return grown;
}

/*  Ensures n free bytes after len. Sliding the unread bytes to the front
    is only worth it when that frees at least half the storage: then each
    byte is moved O(1) times overall. Otherwise grow geometrically.      */
static void
s_make_room (buf_t *b, size_t n)
{
    size_t size = buf_size (b);
    if (size == 0)
        b->off = b->len = 0; /* storage kept by a caller: reuse it */
    if (n <= b->cap - b->len)
        return;
    size_t need = size + n;
    if (need < size)
        need = SIZE_MAX; /* no such memory: mem_alloc stops us */
    if (need <= b->cap / 2)
        memmove (b->data, b->data + b->off, size);
    else {
        size_t cap = s_grown_capacity (b->cap, need);
        char  *data = mem_alloc (cap);
        if (size)
            memcpy (data, b->data + b->off, size);
        free (b->data);
        b->data = data;
        b->cap = cap;
    }
    b->off = 0;
    b->len = size;
}

void
buf_clear (buf_t *b)
{
    b->off = b->len = 0;
}

void
buf_append (buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    s_make_room (b, n);
    memcpy (b->data + b->len, p, n);
    b->len += n;
}

void
buf_append_str (buf_t *b, const char *s)
{
    buf_append (b, s, strlen (s));
}

void
buf_consume (buf_t *b, size_t n)
{
    if (n >= buf_size (b))
        buf_free (b);
    else
        b->off += n;
}

void
buf_drop_partial_line (buf_t *b)
{
    const char *head = buf_head (b);
    const char *newline = head ? memrchr (head, '\n', buf_size (b)) : NULL;
    if (newline)
        b->len = (size_t) (newline + 1 - b->data);
    else
        buf_free (b);
}
