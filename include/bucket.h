/* SPDX-License-Identifier: MIT */
/*  bucket: the --rate token bucket, one per client, for every gateway.

    Tokens are counted in thousandths of a line, so a rate of R lines a
    second refills R tokens a millisecond: no division on the hot path.
    A full bucket holds BUCKET_BURST_LINES lines' worth: a client may
    paste a few lines at once. Rate 0 means no limit: every call says
    yes and nothing is counted.

    Pure (no clock of its own: the caller passes its ms clock), so the
    TCP gateway and the web gateway share it and a test drives it.      */
#ifndef TCPCHAT_BUCKET_H
#define TCPCHAT_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

#define BUCKET_LINE_COST   1000 /* one line, in tokens */
#define BUCKET_BURST_LINES 2    /* a full bucket, in lines: twice the rate */

typedef struct {
    int64_t tokens;
    int64_t refilled_at; /* ms clock of the last refill */
} bucket_t;

/*  A full bucket at now_ms.                                              */
void bucket_init (bucket_t *self, int rate, int64_t now_ms);

/*  Refills by the clock; true if a line may go now. Else false, and
    *resume_at is the ms clock at which a line's worth is back.           */
bool bucket_ready (bucket_t *self, int rate, int64_t now_ms, int64_t *resume_at);

/*  One line went: its cost leaves the bucket (after bucket_ready said
    yes; nothing with rate 0).                                            */
void bucket_spend (bucket_t *self, int rate);

#endif
