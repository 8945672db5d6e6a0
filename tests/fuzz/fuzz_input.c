/*  libFuzzer target for the input path: line framing, cleaning, command
    parsing and the name rules, fed the way a client's bytes arrive (in
    chunks of any size). Besides crashes and sanitizer reports it checks
    the promises the rest of the server relies on, and aborts if one is
    broken: lines within the limit, cleaned text valid UTF-8 with no
    control byte but TAB, no ESC and no bidi override or isolate, never
    longer than the line limit, command parts inside their line.   */
#include "clean.h"
#include "command.h"
#include "framer.h"
#include "names.h"

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
        size_t n = utf8_decode (text + i, len - i, &cp);
        s_check (n > 0 && cp >= 0);             //  valid UTF-8
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
    char *cleaned = (char *) malloc (CLEAN_MAX_OUT (len));
    size_t cleaned_len = clean_text (line, len, cleaned);
    s_check (cleaned_len < CLEAN_MAX_OUT (len));
    s_check (cleaned_len <= CLEAN_MAX_BYTES && cleaned_len <= LINE_MAX_BYTES);
    s_check_cleaned (cleaned, cleaned_len);
    (void) text_is_blank (cleaned, cleaned_len);
    free (cleaned);

    command_t cmd;
    command_kind_t kind = command_parse (line, len, &cmd);
    s_check ((kind == CMD_NONE) == (len == 0 || line [0] != '/'));
    s_check_part (line, len, cmd.verb, cmd.verb_len);
    s_check_part (line, len, cmd.arg, cmd.arg_len);
    s_check_part (line, len, cmd.text, cmd.text_len);
    if (kind == CMD_NAME || kind == CMD_JOIN)
        (void) (kind == CMD_NAME? name_problem (cmd.arg, cmd.arg_len)
                                : room_name_problem (cmd.arg, cmd.arg_len));

    const char *name = line;
    size_t name_len = trim_blanks (&name, len);
    s_check_part (line, len, name, name_len);
    if (!name_problem (name, name_len)) {
        char key [NAME_MAX_BYTES + 1];
        s_check (name_len <= NAME_MAX_BYTES);
        name_fold (name, name_len, key);
        s_check (strlen (key) == name_len);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    //  The first byte picks the chunk size, as reads split a stream.
    size_t chunk = size? (size_t) data [0] * 37 + 1: 1;
    framer_t framer;
    framer_init (&framer);
    for (size_t offset = 1; offset < size; offset += chunk) {
        size_t len = size - offset < chunk? size - offset: chunk;
        s_check (framer_feed (&framer, (const char *) data + offset, len) == 0);
        const char *line;
        size_t line_len;
        frame_result_t result;
        while ((result = framer_next (&framer, &line, &line_len)) != FRAME_NONE)
            if (result == FRAME_LINE)
                s_line (line, line_len);
        s_check (framer_buffered (&framer) <= LINE_MAX_BYTES + 1);
    }
    framer_free (&framer);
    return 0;
}
