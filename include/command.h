/* SPDX-License-Identifier: MIT */
/*  command: parses a chat line that starts with '/'.

    The verb is the text after '/' up to the first space or TAB, matched
    ignoring ASCII case. For /join and /name the argument is the rest of
    the line with blanks trimmed at both ends (it may contain inner
    blanks: the caller's name rules refuse them). For /msg the argument is
    the first word after the verb and the text is everything after the
    blanks that follow that word (kept as typed, not trimmed at the end).
    /help /rooms /users /quit ignore anything after the verb.
    Pointers in the result point into the parsed line.                   */
#ifndef TCPCHAT_COMMAND_H
#define TCPCHAT_COMMAND_H

#include <stddef.h>

typedef enum {
    CMD_NONE, /* not a command: the line does not start with '/' */
    CMD_HELP,
    CMD_ROOMS,
    CMD_JOIN,
    CMD_USERS,
    CMD_NAME,
    CMD_MSG,
    CMD_QUIT,
    CMD_UNKNOWN /* verb holds what was typed, "/" included */
} command_kind_t;

typedef struct {
    command_kind_t kind;
    const char    *verb;
    size_t         verb_len; /* "/join" as typed, '/' included */
    const char    *arg;
    size_t         arg_len; /* JOIN, NAME: the argument; MSG: target */
    const char    *text;
    size_t         text_len; /* MSG: the message */
} command_t;

command_kind_t command_parse (const char *line, size_t len, command_t *cmd);

/*  "help", "rooms", ... for a kind (lower case, no '/'); "" for CMD_NONE.
    COMMAND_NAME_SIZE holds any of them and its NUL.                      */
#define COMMAND_NAME_SIZE 16
const char *command_name (command_kind_t kind);
/*  The inverse of command_name, exact match; CMD_UNKNOWN when no match.  */
command_kind_t command_from_name (const char *name);

#endif
