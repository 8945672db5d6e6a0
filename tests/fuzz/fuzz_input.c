/* SPDX-License-Identifier: MIT */
/*  libFuzzer target for the input path: the telnet filter, line framing,
    cleaning, command parsing and the name rules, fed the way a client's
    bytes arrive (in chunks of any size) and the way the gateway takes
    them (through the telnet filter from the first 0xFF on). Besides
    crashes and sanitizer reports it checks the promises the rest of the
    server relies on, and aborts if one is broken: lines within the
    limit, cleaned text valid UTF-8 with no control byte but TAB, no ESC
    and no bidi override or isolate, never longer than the line limit,
    command parts inside their line; the telnet filter never gives more
    text than it got, answers only with refusals, WILL TIMING-MARK and
    the AYT text, at most 4 bytes per byte in, and gives the same lines
    and answers however the stream is cut.                              */
#include "clean.h"
#include "command.h"
#include "framer.h"
#include "names.h"
#include "telnet.h"
#include "text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_check (int condition)
{
    if (!condition)
        abort ();
}

static void
s_check_cleaned (const char *text, size_t len)
{
    s_check (text [len] == 0);
    for (size_t i = 0; i < len;) {
        int32_t cp;
        size_t  n = utf8_decode (text + i, len - i, &cp);
        s_check (n > 0 && cp >= 0);  //  valid UTF-8
        s_check (cp == '\t' || (cp >= 0x20 && cp != 0x7f && (cp < 0x80 || cp > 0x9f)));
        s_check (!(cp >= 0x202A && cp <= 0x202E) && !(cp >= 0x2066 && cp <= 0x2069));
        i += n;
    }
}

static void
s_check_part (const char *line, size_t len, const char *part, size_t part_len)
{
    if (!part)
        return;
    s_check (part >= line && part + part_len <= line + len);
}

static void
s_line (const char *line, size_t len)
{
    s_check (len <= LINE_MAX_BYTES);
    char  *cleaned = (char *) malloc (CLEAN_MAX_OUT (len));
    size_t cleaned_len = clean_text (line, len, cleaned);
    s_check (cleaned_len < CLEAN_MAX_OUT (len));
    s_check (cleaned_len <= CLEAN_MAX_BYTES && cleaned_len <= LINE_MAX_BYTES);
    s_check_cleaned (cleaned, cleaned_len);
    (void) text_is_blank (cleaned, cleaned_len);
    free (cleaned);

    command_t      cmd;
    command_kind_t kind = command_parse (line, len, &cmd);
    s_check ((kind == CMD_NONE) == (len == 0 || line [0] != '/'));
    s_check_part (line, len, cmd.verb, cmd.verb_len);
    s_check_part (line, len, cmd.arg, cmd.arg_len);
    s_check_part (line, len, cmd.text, cmd.text_len);
    if (kind == CMD_NAME || kind == CMD_JOIN)
        (void) (kind == CMD_NAME ? name_problem (cmd.arg, cmd.arg_len)
                                 : room_name_problem (cmd.arg, cmd.arg_len));

    const char *name = line;
    size_t      name_len = text_trim_blanks (&name, len);
    s_check_part (line, len, name, name_len);
    if (!name_problem (name, name_len)) {
        char key [NAME_MAX_BYTES + 1];
        s_check (name_len <= NAME_MAX_BYTES);
        name_fold (name, name_len, key);
        s_check (strlen (key) == name_len);
    }
}

//  One client's input path, as the gateway runs it.
typedef struct {
    framer_t         framer;
    telnet_filter_t *telnet;  //  from the first 0xFF on
    telnet_result_t  result;
    size_t           bytes_in;
    size_t           replied;
    bool             fatal;
    uint64_t         lines;    //  hash of the lines, in order
    uint64_t         replies;  //  hash of the answers, in order
} path_t;

//  FNV-1a over a stream, however it is cut.
static void
s_hash_bytes (uint64_t *hash, const char *data, size_t size)
{
    uint64_t h = *hash;
    for (size_t i = 0; i < size; i++)
        h = (h ^ (uint8_t) data [i]) * 1099511628211ULL;
    *hash = h;
}

//  FNV-1a, one separator byte first (so "ab" "c" differs from "a" "bc").
static void
s_hash (uint64_t *hash, const char *data, size_t size)
{
    uint64_t h = (*hash ^ 0x1f) * 1099511628211ULL;
    for (size_t i = 0; i < size; i++)
        h = (h ^ (uint8_t) data [i]) * 1099511628211ULL;
    *hash = h;
}

//  Each answer whole: IAC DONT x, IAC WONT x, IAC WILL TIMING-MARK, AYT.
static void
s_check_replies (const buf_t *reply)
{
    const char *r = buf_head (reply);
    size_t      left = buf_size (reply);
    size_t      ayt = strlen (TELNET_AYT_ANSWER);
    while (left) {
        if (left >= ayt && memcmp (r, TELNET_AYT_ANSWER, ayt) == 0) {
            r += ayt;
            left -= ayt;
            continue;
        }
        s_check (left >= 3 && (uint8_t) r [0] == 0xff);
        uint8_t verb = (uint8_t) r [1];
        s_check (verb == 0xfe || verb == 0xfc || (verb == 0xfb && r [2] == 6));
        r += 3;
        left -= 3;
    }
}

static void
s_path_lines (path_t *path, bool check)
{
    const char    *line;
    size_t         line_len;
    frame_result_t result;
    while ((result = framer_next (&path->framer, &line, &line_len)) != FRAME_NONE)
        if (result == FRAME_LINE) {
            if (check)
                s_line (line, line_len);
            s_hash (&path->lines, line, line_len);
        }
    s_check (framer_buffered (&path->framer) <= LINE_MAX_BYTES + 1);
}

static void
s_path_feed (path_t *path, const char *data, size_t len, bool check)
{
    if (path->fatal)
        return;
    path->bytes_in += len;
    if (!path->telnet) {
        const char *iac = (const char *) memchr (data, 0xff, len);
        size_t      plain = iac ? (size_t) (iac - data) : len;
        framer_feed (&path->framer, data, plain);
        if (!iac) {
            s_path_lines (path, check);
            return;
        }
        path->telnet = telnet_filter_new ();
        s_check (path->telnet != NULL);
        data += plain;
        len -= plain;
    }
    telnet_filter_feed (path->telnet, data, len, &path->result);
    s_check (buf_size (&path->result.data) <= len);
    s_check_replies (&path->result.reply);
    path->replied += buf_size (&path->result.reply);
    s_check (path->replied <= 4 * path->bytes_in);
    //  Answers are hashed as one stream: a feed's answers may be split
    //  between feeds when cut elsewhere, never reordered.
    if (buf_size (&path->result.reply))
        s_hash_bytes (&path->replies, buf_head (&path->result.reply),
                      buf_size (&path->result.reply));
    if (path->result.drop_partial)
        framer_drop_partial (&path->framer);
    framer_feed (&path->framer, buf_head (&path->result.data), buf_size (&path->result.data));
    path->fatal = path->result.fatal;
    s_path_lines (path, check);
}

//  The outcome: lines, answers and whether it ended fatally, hashed.
static uint64_t
s_path_run (const char *data, size_t size, size_t chunk, bool check)
{
    path_t path;
    memset (&path, 0, sizeof path);
    path.lines = path.replies = 14695981039346656037ULL;
    framer_init (&path.framer);
    for (size_t offset = 0; offset < size; offset += chunk)
        s_path_feed (&path, data + offset, size - offset < chunk ? size - offset : chunk, check);
    framer_free (&path.framer);
    telnet_filter_destroy (&path.telnet);
    buf_free (&path.result.data);
    buf_free (&path.result.reply);
    return (path.lines * 31 + path.replies) * 31 + path.fatal;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    //  The first byte picks the chunk size, as reads split a stream.
    size_t      chunk = (size_t) data [0] * 37 + 1;
    const char *stream = (const char *) data + 1;
    uint64_t    chunked = s_path_run (stream, size - 1, chunk, true);
    //  Cut anywhere else (here: not at all), the same lines and answers.
    s_check (s_path_run (stream, size - 1, size, false) == chunked);
    return 0;
}
