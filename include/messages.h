/* SPDX-License-Identifier: MIT */
/*  messages: every message the actors exchange, defined in one place.

    Each message is [type][id][payload...]: type a short string frame, id
    the 8-byte client id the gateway gave the connection (0 when the
    message is not about one client), then the payload frames listed here.
    Every type has exactly one handler, in the actor it is sent to.

    gateway -> hub
      NAME     id  name          a line typed at the name prompt (trimmed, as typed)
      LINE     id  text          a chat line, cleaned (the hub forwards it to the room as is)
      CMD      id  verb arg text a command: verb is command_name(), arg/text cleaned as needed
      NOTICE   id  text          a gateway notice (line too long) for a client in a
                                 room: the hub sends it on as a SAY, so it takes its
                                 place among the room's output
      CLOSED   id                the client is leaving (EOF, reset, /quit, evicted): after a
                                 /quit or EOF the gateway keeps writing to it until its
                                 room's RELEASE id "0" says all its output is out
      RELEASED id                the old room's last output is out: the move can finish
    hub -> room
      JOIN     id  name          a member enters
      LEAVE    id  moving        a member leaves ("1": moving to another room)
      LINE     id  text          a chat line from a member
      SAY      id  text          text for one member, then its prompt (hub replies, /msg)
      USERS    id                list the members to this member
      RENAME   id  name          a member's new name
    hub, room -> gateway
      OUT      skip text ids flags  text plus a prompt to every id in ids (packed
                                 uint64) except skip; flags & MSG_PROMPT_SKIP:
                                 skip gets a bare prompt
      ENTER    id  name history  the client is now in a room under name: history,
                                 then its prompt, and its input flows again
      REFUSE   id  reason        the name was refused: reason, then the name prompt
      RELEASE  id  moving        from a room, behind all it sent for id: moving "1":
                                 pass RELEASED to the hub (see docs); "0": the client
                                 left, a leaving connection can close now
    hub -> gateway
      PAUSE    id                a hub queue for this client is full: hand on none of
                                 its input (stop reading its socket) until RESUME
      RESUME   id                hand its input on again
      LABEL    id  name          the name shown in this client's prompts from now on
      ATTACH   0   endpoint      hub: a new room's output pipe to connect to
      BYE      0                 room: last message on this pipe, close it     */
#ifndef TCPCHAT_MESSAGES_H
#define TCPCHAT_MESSAGES_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define MSG_NAME      "NAME"
#define MSG_LINE      "LINE"
#define MSG_CMD       "CMD"
#define MSG_NOTICE    "NOTICE"
#define MSG_CLOSED    "CLOSED"
#define MSG_RELEASED  "RELEASED"
#define MSG_JOIN      "JOIN"
#define MSG_LEAVE     "LEAVE"
#define MSG_SAY       "SAY"
#define MSG_USERS     "USERS"
#define MSG_RENAME    "RENAME"
#define MSG_OUT       "OUT"
#define MSG_ENTER     "ENTER"
#define MSG_REFUSE    "REFUSE"
#define MSG_RELEASE   "RELEASE"
#define MSG_LABEL     "LABEL"
#define MSG_ATTACH    "ATTACH"
#define MSG_BYE       "BYE"
#define MSG_PAUSE     "PAUSE"
#define MSG_RESUME    "RESUME"

#define MSG_PROMPT_SKIP 1     /* OUT flag */
/*  Messages each end of a data pipe holds before its sender waits: deep
    enough for bursts, shallow enough to bound memory (x 4 KiB lines).  */
#define MSG_PIPE_HWM    10000
#define MSG_MAX_PARTS   4

typedef struct {
    const char *data;
    size_t      size;
} msg_part_t;

/*  A received message, read in place: the pointers live as long as the
    zmsg_t they were parsed from.                                         */
typedef struct {
    char       type [12];
    uint64_t   id;
    size_t     parts;
    msg_part_t part [MSG_MAX_PARTS];
} msg_view_t;

zmsg_t *msg_new       (const char *type, uint64_t id);
void    msg_add       (zmsg_t *msg, const void *data, size_t size);
void    msg_add_str   (zmsg_t *msg, const char *text);
/*  Sends and destroys; -1 (message destroyed too) if the peer is gone.  */
int     msg_send      (zmsg_t **msg_p, zsock_t *dest);
/*  Receives a message (NULL if interrupted).                           */
zmsg_t *msg_recv      (zsock_t *source);
/*  Shorthand for [type][id][text] and [type][id].                       */
int     msg_send_text (zsock_t *dest, const char *type, uint64_t id,
                       const char *text, size_t size);
int     msg_send_id   (zsock_t *dest, const char *type, uint64_t id);
/*  false when the message is not of our [type][id][...] form. A message
    of a type frame alone (CZMQ's "$TERM") parses with id 0.             */
bool    msg_parse     (zmsg_t *msg, msg_view_t *view);
bool    msg_is        (const msg_view_t *view, const char *type);
/*  Copies part i into a new NUL-terminated string (caller frees).       */
char   *msg_strdup    (const msg_view_t *view, size_t i);

/*  A data pipe between two actors (not an actor's own pipe: actor.h): a
    PAIR bound (bind true) or connected to endpoint, with the same options
    at every end: MSG_PIPE_HWM messages queued each way, and
    MSG_PIPE_LINGER_MS for what is still queued when it closes, so a last
    message (a room's BYE) reaches a peer that is still reading. Binds
    before its peer connects (endpoints.h names them). NULL, with errno,
    when the socket cannot be made or the endpoint is taken or invalid.  */
#define MSG_PIPE_LINGER_MS  2000
zsock_t *msg_pipe_new (const char *endpoint, bool bind);

#endif
