/* SPDX-License-Identifier: MIT */
/*  input: what a client's line becomes for the hub, the same for every
    gateway: the step of the input path after framing (framer.h), which
    the TCP gateway and the web gateway share instead of each spelling it.

    At the name prompt a line, blanks trimmed, is a NAME (the hub's name
    rules refuse, nothing is cleaned here), or /quit. In a room a line is
    a command (command.h) or chat: chat is cleaned (clean.h) into a LINE;
    a command is a CMD whose verb is command_name (), "?" for an unknown
    one (whose name as typed, cleaned, is then its arg); /msg's target
    and text are cleaned, /name's and /join's argument goes as typed (its
    rules refuse, not clean); /quit is the caller's to act on.           */
#ifndef TCPCHAT_INPUT_H
#define TCPCHAT_INPUT_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

/*  Scratch for the cleaned texts of one line: two buffers of
    CLEAN_MAX_OUT (LINE_MAX_BYTES + 1) bytes, the caller's, reused.       */
typedef struct {
    char *a, *b;
} input_scratch_t;

void input_scratch_init (input_scratch_t *self);
void input_scratch_free (input_scratch_t *self);

/*  A line typed at the name prompt: the NAME message for client id, or
    NULL for /quit (any case).                                           */
zmsg_t *input_name (uint64_t id, const char *line, size_t size);

/*  A line typed in a room: the LINE or CMD message for client id, or
    NULL for /quit.                                                      */
zmsg_t *input_chat (uint64_t id, const char *line, size_t size, input_scratch_t *scratch);

#endif
