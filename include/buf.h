/* SPDX-License-Identifier: MIT */
/*  buf: a growable byte buffer with a read offset.

    Used for every per-client byte queue (pending input, pending output).
    Bytes live in data[off .. len). The storage is freed as soon as the
    buffer becomes empty, so that an idle client costs no buffer memory.
    Appends cannot fail: out of memory, the process stops (mem.h).       */
#ifndef TCPCHAT_BUF_H
#define TCPCHAT_BUF_H

#include <stddef.h>

typedef struct {
    char  *data;
    size_t off; /* first unread byte */
    size_t len; /* one past the last byte */
    size_t cap; /* allocated size of data */
} buf_t;

void        buf_init (buf_t *b);
void        buf_free (buf_t *b); /* frees storage, leaves b empty */
void        buf_append (buf_t *b, const void *p, size_t n);
void        buf_append_str (buf_t *b, const char *s);
size_t      buf_size (const buf_t *b);        /* unread bytes: len - off */
const char *buf_head (const buf_t *b);        /* first unread byte (NULL if none) */
void        buf_consume (buf_t *b, size_t n); /* drop n unread bytes; frees when empty */
/*  Drops every unread byte but keeps the storage: for a scratch buffer
    refilled at once, so it is not freed and allocated again each time.  */
void buf_clear (buf_t *b);
/*  Drops the unread bytes after the last '\n' (every one, and the
    storage, if there is none): what is left is whole lines only.        */
void buf_drop_partial_line (buf_t *b);

#endif
