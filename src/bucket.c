/* SPDX-License-Identifier: MIT */
/*  bucket: the --rate token bucket. See bucket.h.  */
#include "bucket.h"

static int64_t
s_burst (int rate)
{
    return (int64_t) BUCKET_BURST_LINES * rate * BUCKET_LINE_COST;
}

void
bucket_init (bucket_t *self, int rate, int64_t now_ms)
{
    self->tokens = s_burst (rate);
    self->refilled_at = now_ms;
}

bool
bucket_ready (bucket_t *self, int rate, int64_t now_ms, int64_t *resume_at)
{
    if (rate == 0)
        return true;
    self->tokens += (now_ms - self->refilled_at) * rate;
    self->refilled_at = now_ms;
    if (self->tokens > s_burst (rate))
        self->tokens = s_burst (rate);
    if (self->tokens >= BUCKET_LINE_COST)
        return true;
    *resume_at = now_ms + (BUCKET_LINE_COST - self->tokens + rate - 1) / rate;
    return false;
}

void
bucket_spend (bucket_t *self, int rate)
{
    if (rate)
        self->tokens -= BUCKET_LINE_COST;
}
