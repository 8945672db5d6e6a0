/* SPDX-License-Identifier: MIT */
/*  framer: splits a TCP byte stream into lines.

    A line ends at '\n'; one trailing '\r' is removed (telnet, nc -C).
    Bytes arrive in arbitrary chunks: a chunk may hold part of a line or
    many lines. A line longer than LINE_MAX_BYTES (not counting "\r\n")
    is reported once as FRAME_TOO_LONG as soon as it is known to be too
    long, and everything up to and including its '\n' is discarded, so the
    framer never holds more than LINE_MAX_BYTES + 1 bytes of one line.   */
#ifndef TCPCHAT_FRAMER_H
#define TCPCHAT_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"

#define LINE_MAX_BYTES 4096

typedef enum {
    FRAME_NONE,    /* no complete line buffered */
    FRAME_LINE,    /* *line / *len hold the next line */
    FRAME_TOO_LONG /* a line over LINE_MAX_BYTES was dropped */
} frame_result_t;

typedef struct {
    buf_t pending;    /* bytes not yet returned as lines */
    bool  discarding; /* inside an over-long line: drop up to the next '\n' */
} framer_t;

void framer_init (framer_t *f);
void framer_free (framer_t *f);

/*  Append received bytes. While discarding, the bytes of the over-long
    line are dropped here rather than stored.                             */
void framer_feed (framer_t *f, const char *data, size_t len);

/*  Take the next line. For FRAME_LINE, *line points into the framer (no
    '\n', no trailing '\r', not NUL-terminated) and stays valid until the
    next call on f.                                                       */
frame_result_t framer_next (framer_t *f, const char **line, size_t *len);

/*  Drops the unfinished line at the end (what follows the last '\n'):
    a telnet user interrupted it. Complete lines stay; an over-long line
    being discarded ends here, so the next byte starts a new line.        */
void framer_drop_partial (framer_t *f);

/*  Bytes buffered and not yet returned (for flow control decisions).     */
size_t framer_buffered (const framer_t *f);

#endif
