/* SPDX-License-Identifier: MIT */
/*  protocol: every text a client sees, in one place. See protocol.h
    and docs/PROTOCOL.md.  */
#include "protocol.h"

#include <stdio.h>
#include <string.h>

/*  tests/data/banner.txt, byte for byte (a unit test compares them).    */
const char PROTOCOL_BANNER [] = "Welcome to TCP-Chat!\n"
                                "         _nnnn_\n"
                                "        dGGGGMMb\n"
                                "       @p~qp~~qMb\n"
                                "       M|@||@) M|\n"
                                "       @,----.JM|\n"
                                "      JS^\\__/  qKL\n"
                                "     dZP        qKRb\n"
                                "    dZP          qKKb\n"
                                "   fZP            SMMb\n"
                                "   HZM            MMMM\n"
                                "   FqM            MMMM\n"
                                " __| \".        |\\dS\"qML\n"
                                " |    `.       | `' \\Zq\n"
                                "_)      \\.___.,|     .'\n"
                                "\\____   )MMMMMP|   .'\n"
                                "     `-'       `--'\n";

void
stamp_format (time_t t, char out [STAMP_SIZE])
{
    struct tm tm;
    if (!localtime_r (&t, &tm) || strftime (out, STAMP_SIZE, "[%Y-%m-%d %H:%M:%S]", &tm) == 0)
        memcpy (out, "[0000-00-00 00:00:00]", STAMP_SIZE);
}

const char *
stamp_now (stamp_cache_t *cache)
{
    time_t now = time (NULL);
    if (now != cache->second || cache->text [0] == '\0') {
        stamp_format (now, cache->text);
        cache->second = now;
    }
    return cache->text;
}

/*  Every message is built from pieces: the bytes as given, one after
    another.                                                              */
typedef struct {
    const char *bytes;
    size_t      len;
} piece_t;

#define TEXT(s)                                                                                    \
    {                                                                                              \
        (s), strlen (s)                                                                            \
    }
#define COUNT(a)    (sizeof (a) / sizeof (a) [0])
//  A size_t in decimal (SIZE_MAX has 20 digits) and its NUL.
#define SIZE_DIGITS 21

static void
s_append_pieces (buf_t *out, const piece_t *pieces, size_t count)
{
    for (size_t i = 0; i < count; i++)
        buf_append (out, pieces [i].bytes, pieces [i].len);
}

void
fmt_chat_line (buf_t *out, const char *stamp, const char *name, const char *text, size_t len)
{
    piece_t pieces [] = {TEXT (stamp), TEXT ("["), TEXT (name), TEXT ("]:"), {text, len}};
    s_append_pieces (out, pieces, COUNT (pieces));
}

void
fmt_prompt (buf_t *out, const char *stamp, const char *name)
{
    piece_t pieces [] = {TEXT (stamp), TEXT ("["), TEXT (name), TEXT ("]:")};
    s_append_pieces (out, pieces, COUNT (pieces));
}

void
fmt_private (buf_t *out, const char *stamp, const char *from, const char *to, const char *text,
             size_t len)
{
    piece_t pieces [] = {TEXT ("\n"), TEXT (stamp), TEXT ("["),  TEXT (from), TEXT (" -> "),
                         TEXT (to),   TEXT ("]:"),  {text, len}, TEXT ("\n")};
    s_append_pieces (out, pieces, COUNT (pieces));
}

void
fmt_joined (buf_t *out, const char *name)
{
    piece_t pieces [] = {TEXT ("\n"), TEXT (name), TEXT (" has joined our chat...\n")};
    s_append_pieces (out, pieces, COUNT (pieces));
}

void
fmt_left (buf_t *out, const char *name)
{
    piece_t pieces [] = {TEXT ("\n"), TEXT (name), TEXT (" has left our chat...\n")};
    s_append_pieces (out, pieces, COUNT (pieces));
}

void
fmt_renamed (buf_t *out, const char *old_name, const char *new_name)
{
    piece_t pieces [] = {TEXT ("\n"), TEXT (old_name), TEXT (" changed their name to "),
                         TEXT (new_name), TEXT ("\n")};
    s_append_pieces (out, pieces, COUNT (pieces));
}

void
fmt_room_entry (buf_t *out, bool mine, const char *name, size_t members)
{
    char count [SIZE_DIGITS];
    snprintf (count, sizeof count, "%zu", members);
    piece_t pieces [] = {TEXT (mine ? "* " : "  "), TEXT (name), TEXT (" ("), TEXT (count),
                         TEXT (members == 1 ? " member)\n" : " members)\n")};
    s_append_pieces (out, pieces, COUNT (pieces));
}

void
fmt_users (buf_t *out, const char *room, char *const *names, size_t count)
{
    char members [SIZE_DIGITS];
    snprintf (members, sizeof members, "%zu", count);
    piece_t head [] = {TEXT ("Users in "), TEXT (room), TEXT (" ("), TEXT (members), TEXT ("): ")};
    s_append_pieces (out, head, COUNT (head));
    for (size_t i = 0; i < count; i++) {
        if (i)
            buf_append (out, ", ", 2);
        buf_append_str (out, names [i]);
    }
    buf_append (out, "\n", 1);
}
