/* SPDX-License-Identifier: MIT */
/*  text: the byte-level tests on client text that several modules make.

    A blank is an ASCII space or a TAB, nothing else: the blanks a command
    is split on and a name or argument is trimmed of. Other whitespace
    (a newline, U+00A0, ...) is no blank: the name rules refuse it, the
    cleaner keeps or drops it (clean.h), but nothing trims it.           */
#ifndef TCPCHAT_TEXT_H
#define TCPCHAT_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*  True for ' ' and '\t'.                                                */
bool text_is_blank_char (char c);

/*  True when s holds only blanks (or nothing).                           */
bool text_is_blank (const char *s, size_t len);

/*  Strips blanks at both ends: adjusts *s, returns the new length.       */
size_t text_trim_blanks (const char **s, size_t len);

#endif
