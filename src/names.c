/*  names: the rules for user names and room names. See names.h.  */
#include "names.h"

#include <stdbool.h>
#include "clean.h"

/*  Invalid UTF-8 (cp < 0) is not printable either.  */
static bool
s_is_printable (int32_t cp)
{
    if (cp < 0)
        return false;
    if (cp < 0x20)
        return cp == '\t';          /* a blank: refused as a space instead */
    return cp < 0x7F || cp > 0x9F;
}

static bool
s_is_space (int32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == 0xA0 || cp == 0x1680
        || (cp >= 0x2000 && cp <= 0x200A)
        || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F
        || cp == 0x3000;
}

const char *
name_problem (const char *s, size_t len)
{
    if (len == 0)
        return "Name cannot be empty.";
    size_t chars = 0;
    bool unprintable = false, spaced = false;
    for (size_t i = 0; i < len; chars++) {
        if (chars == NAME_MAX_CHARS)
            return "Name is too long (max 32 characters).";
        int32_t cp;
        i += utf8_decode (s + i, len - i, &cp);
        if (!s_is_printable (cp))
            unprintable = true;
        else
        if (s_is_space (cp))
            spaced = true;
    }
    if (unprintable)
        return "Name can only contain printable characters.";
    if (spaced)
        return "Name cannot contain spaces.";
    if (s [0] == '/')
        return "Name cannot start with '/'.";
    return NULL;
}

static bool
s_is_room_char (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

const char *
room_name_problem (const char *s, size_t len)
{
    if (len == 0)
        return "Room name cannot be empty.";
    if (len > ROOM_MAX_CHARS)
        return "Room name is too long (max 32 characters).";
    for (size_t i = 0; i < len; i++)
        if (!s_is_room_char (s [i]))
            return "Room name can only contain letters, digits, '_' and '-'.";
    return NULL;
}

void
name_fold (const char *s, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        char c = s [i];
        out [i] = c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
    }
    out [len] = '\0';
}

static bool
s_is_blank (char c)
{
    return c == ' ' || c == '\t';
}

size_t
trim_blanks (const char **s, size_t len)
{
    while (len > 0 && s_is_blank ((*s) [0])) {
        (*s)++;
        len--;
    }
    while (len > 0 && s_is_blank ((*s) [len - 1]))
        len--;
    return len;
}
