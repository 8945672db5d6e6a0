/* SPDX-License-Identifier: MIT */
/*  protocol: every text a client sees, in one place.

    The net-cat texts are mandated byte for byte; the rest is ours. Each
    is written in docs/PROTOCOL.md exactly as sent, and test_protocol
    holds the two together: a text that changes here without the doc (or
    the other way round) fails it. Texts with a printf conversion are
    formats for the caller's printf; a text whose limit is one of our
    constants is built from it at compile time. Formatters append to a
    buf_t.                                                                */
#ifndef TCPCHAT_PROTOCOL_H
#define TCPCHAT_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "buf.h"
#include "framer.h"
#include "names.h"

/*  "32" for NAME_MAX_CHARS: a limit spelled into a constant text, so the
    text can never say another number than the code checks.              */
#define PROTOCOL_STR(x)    #x
#define PROTOCOL_NUMBER(x) PROTOCOL_STR (x)

#define DEFAULT_PORT 8989

/*  The 17-line welcome (penguin included), each line ending in '\n'.    */
extern const char PROTOCOL_BANNER [];
#define PROTOCOL_NAME_PROMPT  "[ENTER YOUR NAME]: "
#define PROTOCOL_FULL         "Chat is full. Try again later.\n"
#define PROTOCOL_TOO_LONG     "Message too long (max " PROTOCOL_NUMBER (LINE_MAX_BYTES) " bytes).\n"
/*  On stdout, not to a client: the net-cat usage line, and the line that
    says the server listens (a port).                                     */
#define PROTOCOL_USAGE        "[USAGE]: ./TCPChat $port\n"
#define PROTOCOL_LISTENING    "Listening on the port :%d\n"
/*  Ours. Both start with a newline: the client sits at a prompt.         */
#define PROTOCOL_SHUTDOWN     "\nServer is shutting down.\n"
#define PROTOCOL_NAME_TIMEOUT "\nNo name given within %d s: closing the connection.\n"
/*  Refusals at connect, like PROTOCOL_FULL: a line, then the close.      */
#define PROTOCOL_TOO_FAST     "Too many new connections from your address. Try again later.\n"
#define PROTOCOL_TOO_MANY     "Too many connections from your address (max %d). Try again later.\n"

/*  The answer to a --health probe (listener.c), then the close.         */
#define PROTOCOL_PROBE_REPLY "TCPChat OK\n"
/*  The answer to telnet's IAC AYT (telnet.c).                            */
#define PROTOCOL_AYT_ANSWER  "\n[Yes]\n"

/*  Why a name or a room name is refused: one line, no '\n' (the caller
    ends it). names.c judges the name itself, in this order; the hub
    judges the last two against the names in use.                        */
#define PROTOCOL_NAME_EMPTY "Name cannot be empty."
#define PROTOCOL_NAME_TOO_LONG                                                                     \
    "Name is too long (max " PROTOCOL_NUMBER (NAME_MAX_CHARS) " characters)."
#define PROTOCOL_NAME_UNPRINTABLE "Name can only contain printable characters."
#define PROTOCOL_NAME_SPACES      "Name cannot contain spaces."
#define PROTOCOL_NAME_INVISIBLE   "Name cannot contain invisible or formatting characters."
#define PROTOCOL_NAME_SLASH       "Name cannot start with '/'."
#define PROTOCOL_NAME_TAKEN       "Name is already taken."
#define PROTOCOL_NAME_LOOKALIKE   "Name is too similar to a user's name already here."
/*  Cluster mode: Redis, which decides who holds a name, cannot be asked. */
#define PROTOCOL_NAME_UNAVAILABLE "The chat is unavailable right now. Try again later."
/*  Never reaches a client: the hub answers an empty /join with its usage
    line. It keeps room_name_problem's contract whole (store.c asks too). */
#define PROTOCOL_ROOM_EMPTY       "Room name cannot be empty."
#define PROTOCOL_ROOM_TOO_LONG                                                                     \
    "Room name is too long (max " PROTOCOL_NUMBER (ROOM_MAX_CHARS) " characters)."
#define PROTOCOL_ROOM_CHARS "Room name can only contain letters, digits, '_' and '-'."

/*  The hub's replies to commands: each goes to the sender alone, and its
    prompt follows. A name refusal above is sent as "%s\n".               */
#define PROTOCOL_HELP                                                                              \
    "Commands:\n"                                                                                  \
    "  /help            show this list\n"                                                          \
    "  /rooms           list the rooms and how many are in each\n"                                 \
    "  /join ROOM       move to ROOM, creating it if needed\n"                                     \
    "  /users           list the users in your room\n"                                             \
    "  /name NEW        change your name\n"                                                        \
    "  /msg NAME TEXT   send TEXT to NAME only\n"                                                  \
    "  /quit            leave the chat\n"
#define PROTOCOL_ROOMS          "Rooms:\n" /* then fmt_room_entry for each */
#define PROTOCOL_JOIN_USAGE     "Usage: /join ROOM\n"
#define PROTOCOL_JOIN_ALREADY   "You are already in %s.\n"
#define PROTOCOL_JOIN_TOO_FAST  "You are creating rooms too fast. Try again in %d s.\n"
#define PROTOCOL_JOIN_TOO_MANY  "Too many rooms (max %d). Join an existing one.\n"
#define PROTOCOL_JOIN_CANNOT    "Cannot create that room now.\n"
#define PROTOCOL_RENAME_USAGE   "Usage: /name NEW\n"
#define PROTOCOL_RENAME_ALREADY "You are already %s.\n"
#define PROTOCOL_MSG_USAGE      "Usage: /msg NAME TEXT\n"
#define PROTOCOL_MSG_NO_USER    "No such user: %.*s.\n"
#define PROTOCOL_MSG_SELF       "You cannot message yourself.\n"
#define PROTOCOL_MSG_BUSY       "%s cannot receive messages right now. Try again later.\n"
#define PROTOCOL_UNKNOWN        "Unknown command: %.*s. Type /help for the list.\n"
/*  Cluster mode: a line, /name or /msg Redis could not take (away, and
    10,000 publishes held already).                                      */
#define PROTOCOL_NOT_DELIVERED                                                                     \
    "Your message was not delivered: the chat is unavailable. Try again later.\n"

/*  "[YYYY-MM-DD HH:MM:SS]" in local time: 21 characters and a NUL.      */
#define STAMP_SIZE 22
void stamp_format (time_t t, char out [STAMP_SIZE]);

/*  A per-actor cache, so the stamp is formatted once per second.        */
typedef struct {
    time_t second;
    char   text [STAMP_SIZE];
} stamp_cache_t;
const char *stamp_now (stamp_cache_t *cache); /* cache starts zeroed */

/*  "[ts][name]:text": a chat line as stored in history (no '\n').       */
void fmt_chat_line (buf_t *out, const char *stamp, const char *name, const char *text, size_t len);
/*  "[ts][name]:": the prompt of a client in a room (no '\n').           */
void fmt_prompt (buf_t *out, const char *stamp, const char *name);
/*  "\n[ts][from -> to]:text\n": a private message as the target sees it. */
void fmt_private (buf_t *out, const char *stamp, const char *from, const char *to, const char *text,
                  size_t len);
/*  "\nNAME has joined our chat...\n"                                    */
void fmt_joined (buf_t *out, const char *name);
/*  "\nNAME has left our chat...\n"                                      */
void fmt_left (buf_t *out, const char *name);
/*  "\nOLD changed their name to NEW\n". The renamer is sent the same
    bytes without the first '\n': its cursor is at the start of a line.  */
void fmt_renamed (buf_t *out, const char *old_name, const char *new_name);
/*  "* NAME (N members)\n" for the caller's room ("  " for another), a
    line of the /rooms reply; "(1 member)" for one.                       */
void fmt_room_entry (buf_t *out, bool mine, const char *name, size_t members);
/*  "Users in ROOM (N): a, b, c\n", the /users reply, names in order.     */
void fmt_users (buf_t *out, const char *room, char *const *names, size_t count);

#endif
