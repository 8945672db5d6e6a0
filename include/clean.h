/*  clean: makes client text safe to show on other people's terminals.

    Removed: C0 control bytes except TAB (so NUL, BEL, BS, CR, ...), DEL,
    C1 controls (U+0080..U+009F), and escape sequences: CSI (ESC [ ...
    final byte 0x40-0x7E), OSC/DCS/SOS/PM/APC (ESC ] P X ^ _ ... up to BEL
    or ESC \ or the end of the text) and two-byte ESC sequences (ESC + one
    byte 0x20-0x7E). An escape sequence cut off by the end of the text is
    removed up to that end.
    Invalid UTF-8 (bad lead or continuation bytes, overlong forms,
    surrogates, > U+10FFFF, truncated sequences) becomes U+FFFD, one per
    maximal invalid subpart, as the WHATWG decoder does.                  */
#ifndef TCPCHAT_CLEAN_H
#define TCPCHAT_CLEAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  Output can grow: one invalid byte becomes 3 bytes of U+FFFD.          */
#define CLEAN_MAX_OUT(len) ((len) * 3 + 1)

/*  Writes the cleaned text to out (capacity CLEAN_MAX_OUT(len)), adds a
    terminating NUL, and returns its length (without the NUL).            */
size_t clean_text (const char *in, size_t len, char *out);

/*  True when s holds only spaces and tabs (or nothing).                  */
bool   text_is_blank (const char *s, size_t len);

/*  Decodes the character at s (len > 0) and returns how many bytes it
    spans. *cp is its code point, or -1 when those bytes are one maximal
    invalid subpart (the span of one U+FFFD). Shared with names.c.        */
size_t utf8_decode (const char *s, size_t len, int32_t *cp);

#endif
