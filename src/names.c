/* SPDX-License-Identifier: MIT */
/*  names: the rules for user names and room names. See names.h.  */
#include "names.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include "clean.h"
#include "mem.h"
#include "protocol.h"

/*  Invalid UTF-8 (cp < 0) is not printable either.  */
static bool
s_is_printable (int32_t cp)
{
    if (cp < 0)
        return false;
    if (cp < 0x20)
        return cp == '\t'; /* a blank: refused as a space instead */
    return cp < 0x7F || cp > 0x9F;
}

static bool
s_is_space (int32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

//  Characters that show as nothing, or change how their neighbours show.
static bool
s_is_invisible (int32_t cp)
{
    return u_charType (cp) == U_FORMAT_CHAR ||
           u_hasBinaryProperty (cp, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) ||
           u_hasBinaryProperty (cp, UCHAR_BIDI_CONTROL) ||
           cp == 0x2800; /* braille blank: So, yet blank */
}

const char *
name_problem (const char *s, size_t len)
{
    if (len == 0)
        return PROTOCOL_NAME_EMPTY;
    size_t chars = 0;
    bool   unprintable = false, spaced = false, invisible = false;
    for (size_t i = 0; i < len; chars++) {
        if (chars == NAME_MAX_CHARS)
            return PROTOCOL_NAME_TOO_LONG;
        int32_t cp;
        i += utf8_decode (s + i, len - i, &cp);
        if (!s_is_printable (cp))
            unprintable = true;
        else if (s_is_space (cp))
            spaced = true;
        else if (s_is_invisible (cp))
            invisible = true;
    }
    if (unprintable)
        return PROTOCOL_NAME_UNPRINTABLE;
    if (spaced)
        return PROTOCOL_NAME_SPACES;
    if (invisible)
        return PROTOCOL_NAME_INVISIBLE;
    if (s [0] == '/')
        return PROTOCOL_NAME_SLASH;
    return NULL;
}

static bool
s_is_room_char (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

const char *
room_name_problem (const char *s, size_t len)
{
    if (len == 0)
        return PROTOCOL_ROOM_EMPTY;
    if (len > ROOM_MAX_CHARS)
        return PROTOCOL_ROOM_TOO_LONG;
    for (size_t i = 0; i < len; i++)
        if (!s_is_room_char (s [i]))
            return PROTOCOL_ROOM_CHARS;
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

struct name_confusables_t {
    USpoofChecker *checker;
};

name_confusables_t *
name_confusables_new (void)
{
    name_confusables_t *self = (name_confusables_t *) mem_zalloc (1, sizeof (name_confusables_t));
    UErrorCode          status = U_ZERO_ERROR;
    self->checker = uspoof_open (&status);
    if (U_FAILURE (status)) {
        uspoof_close (self->checker);
        self->checker = NULL;  //  keys fall back to name_fold
    }
    return self;
}

void
name_confusables_destroy (name_confusables_t **self_p)
{
    if (*self_p)
        uspoof_close ((*self_p)->checker);
    MEM_FREE (*self_p);
}

#define KEY_UNITS (NAME_KEY_MAX / 2)

static int32_t
s_fold (const UChar *in, int32_t len, UChar *out, UErrorCode *status)
{
    return u_strFoldCase (out, KEY_UNITS, in, len, U_FOLD_CASE_DEFAULT, status);
}

static int32_t
s_skeleton (name_confusables_t *self, const UChar *in, int32_t len, UChar *out, UErrorCode *status)
{
    return uspoof_getSkeleton (self->checker, 0, in, len, out, KEY_UNITS, status);
}

void
name_confusable_key (name_confusables_t *self, int which, const char *s, size_t len,
                     char out [NAME_KEY_MAX])
{
    UErrorCode status = U_ZERO_ERROR;
    UChar      name [KEY_UNITS], step [KEY_UNITS], key [KEY_UNITS];
    int32_t    n = 0;
    if (!self || !self->checker || len > NAME_MAX_BYTES)
        status = U_UNSUPPORTED_ERROR;
    else {
        u_strFromUTF8 (name, KEY_UNITS, &n, s, (int32_t) len, &status);
        if (which == 0) {
            n = s_fold (name, n, step, &status);
            n = s_skeleton (self, step, n, key, &status);
        } else {
            n = s_skeleton (self, name, n, step, &status);
            n = s_fold (step, n, key, &status);
        }
        if (U_SUCCESS (status))
            u_strToUTF8 (out, NAME_KEY_MAX, NULL, key, n, &status);
    }
    if (U_FAILURE (status) || status == U_STRING_NOT_TERMINATED_WARNING) {
        size_t keep = len < NAME_KEY_MAX ? len : NAME_KEY_MAX - 1;
        name_fold (s, keep, out);
    }
}
