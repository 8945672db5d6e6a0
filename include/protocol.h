/* SPDX-License-Identifier: MIT */
/*  protocol: every text a client sees, in one place.

    The net-cat texts are mandated byte for byte (docs/PROTOCOL.md); the
    rest is ours. Formatters append to a buf_t and return 0, or -1 on OOM. */
#ifndef TCPCHAT_PROTOCOL_H
#define TCPCHAT_PROTOCOL_H

#include <stddef.h>
#include <time.h>
#include "buf.h"

#define DEFAULT_PORT 8989

/*  The 17-line welcome (penguin included), each line ending in '\n'.    */
extern const char PROTOCOL_BANNER[];
#define PROTOCOL_NAME_PROMPT   "[ENTER YOUR NAME]: "
#define PROTOCOL_FULL          "Chat is full. Try again later.\n"
#define PROTOCOL_TOO_LONG      "Message too long (max 4096 bytes).\n"
#define PROTOCOL_USAGE         "[USAGE]: ./TCPChat $port\n"
/*  Ours. Both start with a newline: the client sits at a prompt.         */
#define PROTOCOL_SHUTDOWN      "\nServer is shutting down.\n"
#define PROTOCOL_NAME_TIMEOUT  "\nNo name given within %d s: closing the connection.\n"
/*  Refusals at connect, like PROTOCOL_FULL: a line, then the close.      */
#define PROTOCOL_TOO_FAST      "Too many new connections from your address. Try again later.\n"
#define PROTOCOL_TOO_MANY      "Too many connections from your address (max %d). Try again later.\n"

/*  "[YYYY-MM-DD HH:MM:SS]" in local time: 21 characters and a NUL.      */
#define STAMP_SIZE 22
void stamp_format (time_t t, char out[STAMP_SIZE]);

/*  A per-actor cache, so the stamp is formatted once per second.        */
typedef struct {
    time_t second;
    char   text[STAMP_SIZE];
} stamp_cache_t;
const char *stamp_now (stamp_cache_t *cache);   /* cache starts zeroed */

/*  "[ts][name]:text": a chat line as stored in history (no '\n').       */
int fmt_chat_line (buf_t *out, const char *stamp, const char *name,
                   const char *text, size_t len);
/*  "[ts][name]:": the prompt of a client in a room (no '\n').           */
int fmt_prompt    (buf_t *out, const char *stamp, const char *name);
/*  "\n[ts][from -> to]:text\n": a private message as the target sees it. */
int fmt_private   (buf_t *out, const char *stamp, const char *from,
                   const char *to, const char *text, size_t len);
/*  "\nNAME has joined our chat...\n"                                    */
int fmt_joined    (buf_t *out, const char *name);
/*  "\nNAME has left our chat...\n"                                      */
int fmt_left      (buf_t *out, const char *name);
/*  "\nOLD changed their name to NEW\n"                                  */
int fmt_renamed   (buf_t *out, const char *old_name, const char *new_name);

#endif
