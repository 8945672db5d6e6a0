/* SPDX-License-Identifier: MIT */
/*  event: the structured form of what a client sees, one JSON object each.

    Gateways that do not render nc text (the web gateway) send these as
    they are, one WebSocket text frame per event; docs/PROTOCOL.md, "The
    WebSocket protocol (/ws)", lists each with its exact keys, and this is
    the only place that writes JSON. Keys come in the documented order.

    Texts are protocol.h's without their leading and trailing '\n' (a
    terminal needs those, a page does not). Stamps are given as
    stamp_format writes them, "[YYYY-MM-DD HH:MM:SS]", and appear without
    their brackets. Every builder appends one whole object to out; pure,
    no state, nothing fails (out of memory stops the process, mem.h).

    Strings are escaped whatever their source: the gateway has cleaned a
    client's text already, but history reloaded from a file has not been
    through any gateway. '"', '\\' and every control byte (< 0x20, 0x7f)
    are escaped; valid UTF-8 passes through; an invalid byte run becomes
    U+FFFD (as clean.c does), since a browser drops a connection whose text
    frame is not UTF-8.                                                   */
#ifndef TCPCHAT_EVENT_H
#define TCPCHAT_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"

/*  len bytes of s as a JSON string, its quotes included.                */
void event_string (buf_t *out, const char *s, size_t len);

/*  {"type":"welcome","banner":BANNER,"prompt":"[ENTER YOUR NAME]: "}    */
void event_welcome (buf_t *out);
/*  {"type":"refused","reason":REASON}                                   */
void event_refused (buf_t *out, const char *reason);
/*  {"type":"entered","room":R,"name":N,"history":[{"time":T,"name":N,
    "text":X},...]}: history is what ENTER carries, "[ts][name]:text"
    lines each ending in '\n' (history_render_newest). A line's name runs
    up to its first "]:", so the line of a name that itself holds "]:"
    splits there ("a]:b" saying "hi" replays as "a" saying "b]:hi"); a
    line without the "[ts][" head (a hand-edited file) is all text, with
    time and name "".                                                     */
void event_entered (buf_t *out, const char *room, const char *name, const char *history,
                    size_t size);
/*  {"type":"line","room":R,"time":T,"name":N,"text":X}                  */
void event_line (buf_t *out, const char *room, const char *stamp, const char *name,
                 const char *text, size_t len);
/*  {"type":"joined","room":R,"name":N}                                  */
void event_joined (buf_t *out, const char *room, const char *name);
/*  {"type":"left","room":R,"name":N}                                    */
void event_left (buf_t *out, const char *room, const char *name);
/*  {"type":"renamed","room":R,"old":O,"new":N}                          */
void event_renamed (buf_t *out, const char *room, const char *old_name, const char *new_name);
/*  {"type":"private","time":T,"from":F,"to":T,"text":X}                 */
void event_private (buf_t *out, const char *stamp, const char *from, const char *to,
                    const char *text, size_t len);
/*  {"type":"users","room":R,"names":[N,...]}, names in order of entry.  */
void event_users (buf_t *out, const char *room, char *const *names, size_t count);
/*  {"type":"rooms","rooms":[{"name":N,"members":M,"mine":B},...]}, in
    three steps: open, one entry per room, close.                        */
void event_rooms_open (buf_t *out);
void event_rooms_entry (buf_t *out, bool mine, const char *name, size_t members);
void event_rooms_close (buf_t *out);
/*  {"type":"reply","text":X}: information asked for (/help).           */
void event_reply (buf_t *out, const char *text, size_t len);
/*  {"type":"error","text":X}: a usage line, a refusal, an unknown
    command, a line too long.                                            */
void event_error (buf_t *out, const char *text, size_t len);
/*  {"type":"closed","reason":X}: the server closes this connection.    */
void event_closed (buf_t *out, const char *reason);

#endif
