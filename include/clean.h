/* SPDX-License-Identifier: MIT */
/*  clean: makes client text safe to show on other people's terminals.

    Removed: C0 control bytes except TAB (so NUL, BEL, BS, CR, ...), DEL,
    C1 controls (U+0080..U+009F), and escape sequences: CSI (ESC [ ...
    final byte 0x40-0x7E), OSC/DCS/SOS/PM/APC (ESC ] P X ^ _ ... up to BEL
    or ESC \ or the end of the text) and two-byte ESC sequences (ESC + one
    byte 0x20-0x7E). An escape sequence cut off by the end of the text is
    removed up to that end.
    Bidi override and isolate controls (U+202A..U+202E, U+2066..U+2069)
    are removed: they reorder what other people's terminals show ("Trojan
    Source").
    Invalid UTF-8 (bad lead or continuation bytes, overlong forms,
    surrogates, > U+10FFFF, truncated sequences) becomes U+FFFD, one for a
    whole run of invalid bytes (bytes removed inside the run do not split
    it), so that a run of garbage cannot triple in size.
    The output never exceeds CLEAN_MAX_BYTES: past it the text is cut
    after the last whole character that fits (nothing marks the cut).
    Without the cut, alternating valid and invalid bytes would still
    double a line (one byte + U+FFFD for every two bytes).                */
#ifndef TCPCHAT_CLEAN_H
#define TCPCHAT_CLEAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "framer.h"

/*  A cleaned text is never longer than the longest line a client may
    send, so whatever is stored or broadcast fits the line limit too.     */
#define CLEAN_MAX_BYTES LINE_MAX_BYTES

/*  Output capacity for len input bytes: one invalid byte can become the
    3 bytes of U+FFFD, and the cut caps everything at CLEAN_MAX_BYTES.    */
#define CLEAN_MAX_OUT(len) ((len) *3 < CLEAN_MAX_BYTES ? (len) *3 + 1 : CLEAN_MAX_BYTES + 1)

/*  Writes the cleaned text to out (capacity CLEAN_MAX_OUT(len)), adds a
    terminating NUL, and returns its length (without the NUL), at most
    CLEAN_MAX_BYTES.                                                      */
size_t clean_text (const char *in, size_t len, char *out);

/*  Decodes the character at s (len > 0) and returns how many bytes it
    spans. *cp is its code point, or -1 when those bytes are one maximal
    invalid subpart (the span of one U+FFFD). Shared with names.c.        */
size_t utf8_decode (const char *s, size_t len, int32_t *cp);

#endif
