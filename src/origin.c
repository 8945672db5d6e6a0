/* SPDX-License-Identifier: MIT */
/*  origin: the /ws handshake's Origin check. See origin.h.  */
#include "origin.h"
#include "text.h"

#include <string.h>
#include <strings.h>

//  origin is scheme "://" host, exactly.
static bool
s_is_scheme_host (const char *origin, const char *scheme, const char *host)
{
    size_t scheme_len = strlen (scheme);
    return strncasecmp (origin, scheme, scheme_len) == 0 &&
           strncmp (origin + scheme_len, "://", 3) == 0 &&
           strcasecmp (origin + scheme_len + 3, host) == 0;
}

static bool
s_is_listed (const char *origin, const char *allowed)
{
    size_t origin_len = strlen (origin);
    while (*allowed) {
        const char *comma = strchr (allowed, ',');
        size_t      len = comma ? (size_t) (comma - allowed) : strlen (allowed);
        const char *entry = allowed;
        len = text_trim_blanks (&entry, len);
        //  A trailing '/' is a common slip when pasting an address.
        if (len > 1 && entry [len - 1] == '/')
            len--;
        if (len && len == origin_len && strncasecmp (entry, origin, len) == 0)
            return true;
        allowed += comma ? (size_t) (comma - allowed) + 1 : strlen (allowed);
    }
    return false;
}

bool
origin_allowed (const char *origin, const char *host, const char *allowed)
{
    if (!origin)
        return true;
    if (host && *host &&
        (s_is_scheme_host (origin, "http", host) || s_is_scheme_host (origin, "https", host)))
        return true;
    return s_is_listed (origin, allowed);
}
