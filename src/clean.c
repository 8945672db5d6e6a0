/* SPDX-License-Identifier: MIT */
/*  clean: makes client text safe to show on other people's terminals.
    See clean.h for the rules.  */
#include "clean.h"

#include <string.h>

#define BEL 0x07
#define ESC 0x1B
#define DEL 0x7F

static const char REPLACEMENT [3] = "\xEF\xBF\xBD"; /* U+FFFD */

/*  How many leading bytes of p are printable ASCII (0x20..0x7E). Chat is
    mostly that, so whole 64-bit words are tested at once: a byte below
    0x20 borrows into its top bit when 0x20 is subtracted, a byte of 0x7F
    or more has its top bit set either as is or once 1 is added. Borrows
    and carries between bytes only start at a byte that is flagged itself. */
static size_t
s_printable_ascii_span (const unsigned char *p, size_t len)
{
    const uint64_t ones = 0x0101010101010101u;
    const uint64_t tops = ones * 0x80;
    size_t         i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy (&w, p + i, 8);
        uint64_t below = (w - ones * 0x20) & ~w & tops;
        uint64_t above = (w | (w + ones)) & tops;
        if (below | above)
            break;
    }
    while (i < len && p [i] >= 0x20 && p [i] < DEL)
        i++;
    return i;
}

/*  Well-formed UTF-8 byte sequences (Unicode, Table 3-7): the range of
    each lead byte's second byte. It rules out overlong forms (E0, F0),
    surrogates (ED) and code points past U+10FFFF (F4); every later byte
    is 80..BF.                                                            */
static const struct {
    unsigned char first, last; /* lead bytes */
    unsigned char low, high;   /* their second byte */
} s_utf8_leads [] = {
    {0xC2, 0xDF, 0x80, 0xBF}, {0xE0, 0xE0, 0xA0, 0xBF}, {0xE1, 0xEC, 0x80, 0xBF},
    {0xED, 0xED, 0x80, 0x9F}, {0xEE, 0xEF, 0x80, 0xBF}, {0xF0, 0xF0, 0x90, 0xBF},
    {0xF1, 0xF3, 0x80, 0xBF}, {0xF4, 0xF4, 0x80, 0x8F},
};

size_t
utf8_decode (const char *s, size_t len, int32_t *cp)
{
    const unsigned char *p = (const unsigned char *) s;
    unsigned char        lead = p [0];
    if (lead < 0x80) {
        *cp = lead;
        return 1;
    }
    size_t row = 0, rows = sizeof s_utf8_leads / sizeof s_utf8_leads [0];
    while (row < rows && lead > s_utf8_leads [row].last)
        row++;
    if (row == rows || lead < s_utf8_leads [row].first) {
        *cp = -1; /* continuation byte, C0, C1, F5..FF */
        return 1;
    }
    size_t        tail = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1;
    unsigned char low = s_utf8_leads [row].low, high = s_utf8_leads [row].high;
    int32_t       value = lead & (0x3F >> tail);
    /*  The maximal invalid subpart stops before the first byte that does
        not fit; that byte starts the next character.                     */
    size_t i;
    for (i = 1; i <= tail; i++) {
        if (i == len || p [i] < low || p [i] > high) {
            *cp = -1;
            return i;
        }
        value = (value << 6) | (p [i] & 0x3F);
        low = 0x80;
        high = 0xBF;
    }
    *cp = value;
    return i;
}

/*  OSC, DCS, SOS, PM and APC carry a string ended by BEL or ESC \ (ST).  */
static size_t
s_control_string_length (const unsigned char *p, size_t len)
{
    for (size_t i = 2; i < len; i++) {
        if (p [i] == BEL)
            return i + 1;
        if (p [i] == ESC && i + 1 < len && p [i + 1] == '\\')
            return i + 2;
    }
    return len;
}

/*  Bytes taken by the escape sequence at p (p [0] is ESC).              */
static size_t
s_escape_length (const unsigned char *p, size_t len)
{
    if (len < 2)
        return len;
    unsigned char kind = p [1];
    if (kind == '[') {
        for (size_t i = 2; i < len; i++)
            if (p [i] >= 0x40 && p [i] <= 0x7E)
                return i + 1;
        return len;
    }
    if (memchr ("]PX^_", kind, 5))
        return s_control_string_length (p, len);
    if (kind >= 0x20 && kind < DEL)
        return 2;
    return 1; /* ESC before a control or non-ASCII byte: ESC only */
}

//  Override (LRE RLE PDF LRO RLO) and isolate (LRI RLI FSI PDI) controls.
static bool
s_is_bidi_control (int32_t cp)
{
    return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

typedef struct {
    char  *out;
    size_t size;
    bool   replaced; /* the last thing written is our U+FFFD */
    bool   full;     /* the cut was made: stop */
} sink_t;

//  Appends one whole character (or a run of ASCII, cut at any byte),
//  unless it would pass CLEAN_MAX_BYTES.
static void
s_put (sink_t *sink, const void *p, size_t n, bool divisible)
{
    size_t room = CLEAN_MAX_BYTES - sink->size;
    if (n > room) {
        sink->full = true;
        if (!divisible)
            return;
        n = room;
    }
    memcpy (sink->out + sink->size, p, n);
    sink->size += n;
    sink->replaced = false;
}

static void
s_put_replacement (sink_t *sink)
{
    if (sink->replaced)
        return; /* one U+FFFD stands for the whole run */
    s_put (sink, REPLACEMENT, 3, false);
    sink->replaced = !sink->full;
}

size_t
clean_text (const char *in, size_t len, char *out)
{
    const unsigned char *p = (const unsigned char *) in;
    sink_t               sink = {out, 0, false, false};
    size_t               i = 0;
    while (i < len && !sink.full) {
        size_t run = s_printable_ascii_span (p + i, len - i);
        if (run) {
            s_put (&sink, p + i, run, true);
            i += run;
            continue;
        }
        unsigned char c = p [i];
        if (c == '\t') {
            s_put (&sink, "\t", 1, false);
            i++;
        } else if (c == ESC)
            i += s_escape_length (p + i, len - i);
        else if (c < 0x80)
            i++; /* other C0 controls and DEL */
        else {
            int32_t cp;
            size_t  n = utf8_decode (in + i, len - i, &cp);
            if (cp < 0)
                s_put_replacement (&sink);
            else if (cp > 0x9F && !s_is_bidi_control (cp))
                s_put (&sink, in + i, n, false);
            i += n; /* C1 and bidi controls are dropped */
        }
    }
    out [sink.size] = '\0';
    return sink.size;
}
