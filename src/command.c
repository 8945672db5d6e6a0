/* SPDX-License-Identifier: MIT */
/*  command: parses a chat line that starts with '/'. See command.h.  */
#include "command.h"

#include <stdbool.h>
#include <string.h>
#include "text.h"

static const char *const NAMES [] = {
    [CMD_NONE] = "",     [CMD_HELP] = "help",   [CMD_ROOMS] = "rooms",
    [CMD_JOIN] = "join", [CMD_USERS] = "users", [CMD_NAME] = "name",
    [CMD_MSG] = "msg",   [CMD_QUIT] = "quit",   [CMD_UNKNOWN] = "unknown"};
#define KINDS (sizeof NAMES / sizeof NAMES [0])

const char *
command_name (command_kind_t kind)
{
    return (size_t) kind < KINDS ? NAMES [kind] : "";
}

command_kind_t
command_from_name (const char *name)
{
    for (size_t kind = 0; name && kind < KINDS; kind++)
        if (strcmp (name, NAMES [kind]) == 0)
            return (command_kind_t) kind;
    return CMD_UNKNOWN;
}

/*  Compares s (n bytes) with a lower-case name, ignoring ASCII case only:
    tolower() would depend on the locale.                                 */
static bool
s_matches_name (const char *s, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        char c = s [i];
        if (c >= 'A' && c <= 'Z')
            c = (char) (c - 'A' + 'a');
        //  A NUL typed by the client must not match the end of name.
        if (name [i] == '\0' || c != name [i])
            return false;
    }
    return name [n] == '\0';
}

static command_kind_t
s_verb_kind (const char *s, size_t n)
{
    for (command_kind_t kind = CMD_HELP; kind <= CMD_QUIT; kind++)
        if (s_matches_name (s, n, NAMES [kind]))
            return kind;
    return CMD_UNKNOWN;
}

/*  "/msg NAME TEXT": NAME is one word, TEXT starts at the next non-blank
    and is kept as typed to the end of the line.                          */
static void
s_split_message (command_t *cmd, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && text_is_blank_char (s [i]))
        i++;
    cmd->arg = s + i;
    while (i < len && !text_is_blank_char (s [i]))
        i++;
    cmd->arg_len = (size_t) (s + i - cmd->arg);
    while (i < len && text_is_blank_char (s [i]))
        i++;
    cmd->text = s + i;
    cmd->text_len = len - i;
}

command_kind_t
command_parse (const char *line, size_t len, command_t *cmd)
{
    *cmd = (command_t){.kind = CMD_NONE};
    if (len == 0 || line [0] != '/')
        return CMD_NONE;
    size_t verb_len = 1;
    while (verb_len < len && !text_is_blank_char (line [verb_len]))
        verb_len++;
    cmd->verb = line;
    cmd->verb_len = verb_len;
    cmd->kind = s_verb_kind (line + 1, verb_len - 1);

    const char *rest = line + verb_len;
    size_t      rest_len = len - verb_len;
    if (cmd->kind == CMD_JOIN || cmd->kind == CMD_NAME) {
        cmd->arg = rest;
        cmd->arg_len = text_trim_blanks (&cmd->arg, rest_len);
    } else if (cmd->kind == CMD_MSG)
        s_split_message (cmd, rest, rest_len);
    return cmd->kind;
}
