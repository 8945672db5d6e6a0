/* SPDX-License-Identifier: MIT */
/*  text: the byte-level tests on client text. See text.h.  */
#include "text.h"

bool
text_is_blank_char (char c)
{
    return c == ' ' || c == '\t';
}

bool
text_is_blank (const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!text_is_blank_char (s [i]))
            return false;
    return true;
}

size_t
text_trim_blanks (const char **s, size_t len)
{
    while (len > 0 && text_is_blank_char ((*s) [0])) {
        (*s)++;
        len--;
    }
    while (len > 0 && text_is_blank_char ((*s) [len - 1]))
        len--;
    return len;
}
