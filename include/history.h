/* SPDX-License-Identifier: MIT */
/*  history: a room's last N chat lines, oldest first (a ring).

    Lines are stored as given (the "[ts][name]:text" form, no '\n').
    A capacity of 0 keeps nothing. Out of memory, the process stops
    (mem.h): nothing here fails.                                          */
#ifndef TCPCHAT_HISTORY_H
#define TCPCHAT_HISTORY_H

#include <stddef.h>
#include "buf.h"

typedef struct history_t history_t;

history_t *history_new (size_t capacity);
void       history_destroy (history_t **self_p);
void       history_add (history_t *self, const char *line, size_t len); /* copies */
size_t     history_count (const history_t *self);
/*  Line i, 0 being the oldest kept; NULL if i >= count.                 */
const char *history_line (const history_t *self, size_t i, size_t *len);
/*  Appends every line, oldest first, each followed by '\n'.             */
void history_render (const history_t *self, buf_t *out);
/*  The same for the newest lines whose rendering (each line and its '\n')
    fits in max_bytes, oldest of them first.                              */
void history_render_newest (const history_t *self, size_t max_bytes, buf_t *out);

#endif
