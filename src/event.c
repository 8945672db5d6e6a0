/* SPDX-License-Identifier: MIT */
/*  event: the JSON events of the web gateway. See event.h and
    docs/PROTOCOL.md, "The WebSocket protocol (/ws)".  */
#include "event.h"
#include "clean.h"
#include "protocol.h"

#include <stdio.h>
#include <string.h>

//  U+FFFD, what an invalid byte run becomes (clean.h).
#define EVENT_REPLACEMENT "\xef\xbf\xbd"

//  JSON's two-character escapes: each byte, then the letter after '\'.
static const char s_short_escapes [] = "\"\"\\\\\nn\rr\tt\bb\ff";

//  Writes the escape of byte c to out and returns its length, or 0 when
//  c needs none (the common case, tested first).
static size_t
s_escape (unsigned char c, char out [7])
{
    if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\')
        return 0;
    for (const char *p = s_short_escapes; *p; p += 2)
        if ((unsigned char) *p == c) {
            out [0] = '\\';
            out [1] = p [1];
            return 2;
        }
    snprintf (out, 7, "\\u%04x", c);
    return 6;
}

//  Runs of bytes that need nothing go out in one append: most text is
//  plain ASCII, and this runs for every chat line of a web-served room.
void
event_string (buf_t *out, const char *s, size_t len)
{
    buf_append (out, "\"", 1);
    size_t run = 0;  //  start of the bytes not yet appended
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char) s [i];
        if (c >= 0x80) {
            int32_t cp;
            size_t  span = utf8_decode (s + i, len - i, &cp);
            if (cp < 0) {
                buf_append (out, s + run, i - run);
                buf_append (out, EVENT_REPLACEMENT, strlen (EVENT_REPLACEMENT));
                run = i + span;
            }
            i += span;
            continue;
        }
        char   escape [7];
        size_t escape_len = s_escape (c, escape);
        if (escape_len) {
            buf_append (out, s + run, i - run);
            buf_append (out, escape, escape_len);
            run = i + 1;
        }
        i++;
    }
    buf_append (out, s + run, len - run);
    buf_append (out, "\"", 1);
}

static void
s_string (buf_t *out, const char *s)
{
    event_string (out, s, strlen (s));
}

//  A protocol.h text without the newlines that frame it on a terminal.
static void
s_text (buf_t *out, const char *text, size_t len)
{
    while (len > 0 && text [0] == '\n') {
        text++;
        len--;
    }
    while (len > 0 && text [len - 1] == '\n')
        len--;
    event_string (out, text, len);
}

//  "[YYYY-MM-DD HH:MM:SS]" as "YYYY-MM-DD HH:MM:SS".
static void
s_stamp (buf_t *out, const char *stamp)
{
    size_t len = strlen (stamp);
    if (len >= 2 && stamp [0] == '[' && stamp [len - 1] == ']')
        event_string (out, stamp + 1, len - 2);
    else
        event_string (out, stamp, len);
}

//  A key: the comma before it unless it is the first, its quotes, ':'.
static void
s_key (buf_t *out, const char *key)
{
    const char *head = buf_head (out);
    char        last = head ? head [buf_size (out) - 1] : '{';
    if (last != '{' && last != '[')
        buf_append (out, ",", 1);
    buf_append (out, "\"", 1);
    buf_append_str (out, key);
    buf_append (out, "\":", 2);
}

//  Opens an object with its "type" (the caller closes it).
static void
s_open (buf_t *out, const char *type)
{
    buf_append (out, "{\"type\":\"", 9);
    buf_append_str (out, type);
    buf_append (out, "\"", 1);
}

static void
s_close (buf_t *out)
{
    buf_append (out, "}", 1);
}

void
event_welcome (buf_t *out)
{
    s_open (out, "welcome");
    s_key (out, "banner");
    s_text (out, PROTOCOL_BANNER, strlen (PROTOCOL_BANNER));
    s_key (out, "prompt");
    s_string (out, PROTOCOL_NAME_PROMPT);
    s_close (out);
}

void
event_refused (buf_t *out, const char *reason)
{
    s_open (out, "refused");
    s_key (out, "reason");
    s_text (out, reason, strlen (reason));
    s_close (out);
}

//  Length of the fixed "[YYYY-MM-DD HH:MM:SS]" head of a history line.
#define EVENT_STAMP_LEN (STAMP_SIZE - 1)

//  One "[ts][name]:text" line as {"time":..,"name":..,"text":..}.
static void
s_history_line (buf_t *out, const char *line, size_t len)
{
    const char *name = line + EVENT_STAMP_LEN + 1;
    const char *end = line + len;
    const char *mark = NULL;
    if (len > EVENT_STAMP_LEN + 1 && line [0] == '[' && line [EVENT_STAMP_LEN - 1] == ']' &&
        line [EVENT_STAMP_LEN] == '[')
        for (const char *p = name; p + 1 < end && !mark; p++)
            if (p [0] == ']' && p [1] == ':')
                mark = p;
    buf_append (out, "{", 1);
    s_key (out, "time");
    event_string (out, line + 1, mark ? EVENT_STAMP_LEN - 2 : 0);
    s_key (out, "name");
    event_string (out, name, mark ? (size_t) (mark - name) : 0);
    s_key (out, "text");
    if (mark)
        event_string (out, mark + 2, (size_t) (end - mark - 2));
    else
        event_string (out, line, len);
    s_close (out);
}

void
event_entered (buf_t *out, const char *room, const char *name, const char *history, size_t size)
{
    s_open (out, "entered");
    s_key (out, "room");
    s_string (out, room);
    s_key (out, "name");
    s_string (out, name);
    s_key (out, "history");
    buf_append (out, "[", 1);
    const char *end = history + size;
    for (const char *line = history; line < end;) {
        const char *newline = (const char *) memchr (line, '\n', (size_t) (end - line));
        const char *stop = newline ? newline : end;
        if (line > history)
            buf_append (out, ",", 1);
        s_history_line (out, line, (size_t) (stop - line));
        line = stop + 1;
    }
    buf_append (out, "]", 1);
    s_close (out);
}

void
event_line (buf_t *out, const char *room, const char *stamp, const char *name, const char *text,
            size_t len)
{
    s_open (out, "line");
    s_key (out, "room");
    s_string (out, room);
    s_key (out, "time");
    s_stamp (out, stamp);
    s_key (out, "name");
    s_string (out, name);
    s_key (out, "text");
    event_string (out, text, len);
    s_close (out);
}

//  joined, left: a room and a name.
static void
s_member_event (buf_t *out, const char *type, const char *room, const char *name)
{
    s_open (out, type);
    s_key (out, "room");
    s_string (out, room);
    s_key (out, "name");
    s_string (out, name);
    s_close (out);
}

void
event_joined (buf_t *out, const char *room, const char *name)
{
    s_member_event (out, "joined", room, name);
}

void
event_left (buf_t *out, const char *room, const char *name)
{
    s_member_event (out, "left", room, name);
}

void
event_renamed (buf_t *out, const char *room, const char *old_name, const char *new_name)
{
    s_open (out, "renamed");
    s_key (out, "room");
    s_string (out, room);
    s_key (out, "old");
    s_string (out, old_name);
    s_key (out, "new");
    s_string (out, new_name);
    s_close (out);
}

void
event_private (buf_t *out, const char *stamp, const char *from, const char *to, const char *text,
               size_t len)
{
    s_open (out, "private");
    s_key (out, "time");
    s_stamp (out, stamp);
    s_key (out, "from");
    s_string (out, from);
    s_key (out, "to");
    s_string (out, to);
    s_key (out, "text");
    event_string (out, text, len);
    s_close (out);
}

void
event_users (buf_t *out, const char *room, char *const *names, size_t count)
{
    s_open (out, "users");
    s_key (out, "room");
    s_string (out, room);
    s_key (out, "names");
    buf_append (out, "[", 1);
    for (size_t i = 0; i < count; i++) {
        if (i)
            buf_append (out, ",", 1);
        s_string (out, names [i]);
    }
    buf_append (out, "]", 1);
    s_close (out);
}

void
event_rooms_open (buf_t *out)
{
    s_open (out, "rooms");
    s_key (out, "rooms");
    buf_append (out, "[", 1);
}

void
event_rooms_entry (buf_t *out, bool mine, const char *name, size_t members)
{
    const char *head = buf_head (out);
    if (head && head [buf_size (out) - 1] == '}')
        buf_append (out, ",", 1);
    buf_append (out, "{", 1);
    s_key (out, "name");
    s_string (out, name);
    s_key (out, "members");
    char count [24];
    snprintf (count, sizeof count, "%zu", members);
    buf_append_str (out, count);
    s_key (out, "mine");
    buf_append_str (out, mine ? "true" : "false");
    s_close (out);
}

void
event_rooms_close (buf_t *out)
{
    buf_append (out, "]", 1);
    s_close (out);
}

//  reply, error, closed: one protocol.h text.
static void
s_text_event (buf_t *out, const char *type, const char *key, const char *text, size_t len)
{
    s_open (out, type);
    s_key (out, key);
    s_text (out, text, len);
    s_close (out);
}

void
event_reply (buf_t *out, const char *text, size_t len)
{
    s_text_event (out, "reply", "text", text, len);
}

void
event_error (buf_t *out, const char *text, size_t len)
{
    s_text_event (out, "error", "text", text, len);
}

void
event_closed (buf_t *out, const char *reason)
{
    s_text_event (out, "closed", "reason", reason, strlen (reason));
}
