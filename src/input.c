/* SPDX-License-Identifier: MIT */
/*  input: a client's line as a message for the hub. See input.h.  */
#include "input.h"
#include "clean.h"
#include "command.h"
#include "framer.h"
#include "mem.h"
#include "messages.h"
#include "text.h"

#include <string.h>
#include <strings.h>

void
input_scratch_init (input_scratch_t *self)
{
    self->a = (char *) mem_alloc (CLEAN_MAX_OUT (LINE_MAX_BYTES + 1));
    self->b = (char *) mem_alloc (CLEAN_MAX_OUT (LINE_MAX_BYTES + 1));
}

void
input_scratch_free (input_scratch_t *self)
{
    free (self->a);
    free (self->b);
    self->a = self->b = NULL;
}

zmsg_t *
input_name (uint64_t id, const char *line, size_t size)
{
    size = text_trim_blanks (&line, size);
    if (size == 5 && strncasecmp (line, "/quit", 5) == 0)
        return NULL;
    return msg_new_name (id, line, size);
}

static zmsg_t *
s_command (uint64_t id, const command_t *cmd, input_scratch_t *scratch)
{
    const char *arg = cmd->arg, *text = cmd->text;
    size_t      arg_len = cmd->arg_len, text_len = cmd->text_len;
    const char *verb = command_name (cmd->kind);
    if (cmd->kind == CMD_UNKNOWN) {
        //  Shown back to its sender: cleaned all the same.
        verb = "?";
        arg_len = clean_text (cmd->verb, cmd->verb_len, scratch->a);
        arg = scratch->a;
    } else if (cmd->kind == CMD_MSG) {
        arg_len = clean_text (arg, arg_len, scratch->a);
        arg = scratch->a;
        text_len = clean_text (text, text_len, scratch->b);
        text = scratch->b;
    }
    //  /name and /join arguments go as typed: their rules refuse, not clean.
    return msg_new_cmd (id, verb, arg ? arg : "", arg ? arg_len : 0, text ? text : "",
                        text ? text_len : 0);
}

zmsg_t *
input_chat (uint64_t id, const char *line, size_t size, input_scratch_t *scratch)
{
    command_t      cmd;
    command_kind_t kind = command_parse (line, size, &cmd);
    if (kind == CMD_QUIT)
        return NULL;
    if (kind != CMD_NONE)
        return s_command (id, &cmd, scratch);
    size_t clean_len = clean_text (line, size, scratch->a);
    return msg_new_line (id, scratch->a, clean_len);
}
