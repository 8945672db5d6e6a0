/* SPDX-License-Identifier: MIT */
/*  framer: splits a TCP byte stream into lines. See framer.h.

    Lines are found in framer_next, which is where an over-long line is
    noticed, reported and dropped; framer_feed only drops what remains of
    a line already reported. A returned line is skipped by moving the read
    offset instead of buf_consume, so that its bytes survive until the next
    call even when they were the last ones buffered; the storage is then
    released by the framer_next call that finds nothing left.             */
#include "framer.h"

#include <string.h>

void
framer_init (framer_t *f)
{
    buf_init (&f->pending);
    f->discarding = false;
}

void
framer_free (framer_t *f)
{
    buf_free (&f->pending);
    f->discarding = false;
}

void
framer_feed (framer_t *f, const char *data, size_t len)
{
    if (len == 0)
        return;
    if (f->discarding) {
        const char *newline = memchr (data, '\n', len);
        if (!newline)
            return;
        f->discarding = false;
        len -= (size_t) (newline + 1 - data);
        data = newline + 1;
    }
    buf_append (&f->pending, data, len);
}

/*  An unfinished line is known to be too long when it cannot end in
    "\r\n" within the limit: LINE_MAX_BYTES + 1 bytes are fine only if
    the last one may be the '\r' of the line's end.                      */
static bool
s_unfinished_too_long (const char *line, size_t len)
{
    return len > LINE_MAX_BYTES + 1 || (len == LINE_MAX_BYTES + 1 && line [len - 1] != '\r');
}

frame_result_t
framer_next (framer_t *f, const char **line, size_t *len)
{
    *line = NULL;
    *len = 0;
    size_t size = buf_size (&f->pending);
    if (size == 0) {
        buf_free (&f->pending); /* may still hold the last line returned */
        return FRAME_NONE;
    }
    const char *head = buf_head (&f->pending);
    const char *newline = memchr (head, '\n', size);
    if (!newline) {
        if (!s_unfinished_too_long (head, size))
            return FRAME_NONE;
        buf_free (&f->pending);
        f->discarding = true;
        return FRAME_TOO_LONG;
    }
    size_t n = (size_t) (newline - head);
    f->pending.off += n + 1;
    if (n > 0 && head [n - 1] == '\r')
        n--;
    if (n > LINE_MAX_BYTES)
        return FRAME_TOO_LONG;
    *line = head;
    *len = n;
    return FRAME_LINE;
}

void
framer_drop_partial (framer_t *f)
{
    f->discarding = false;
    buf_drop_partial_line (&f->pending);
}

size_t
framer_buffered (const framer_t *f)
{
    return buf_size (&f->pending);
}
