/*  room: one actor per chat room. It owns the room's members, its history
    and the formatting of its broadcasts, and it is the one that orders all
    output to its members (hub replies for a member come through it).

    Commands on its pipe (from the hub, see messages.h):
        JOIN id name      LEAVE id moving    LINE id text
        SAY id text       USERS id           RENAME id name
        $TERM             send BYE to the gateway, log stats, end
    It writes to the gateway over its own PAIR, bound at args->endpoint
    before the actor signals that it is ready.

    With a data dir, the room owns its file there (store.h): it reloads
    its history from it as it starts, and appends every chat line to it
    before broadcasting the line. Without one it touches no file.        */
#ifndef TCPCHAT_ROOM_H
#define TCPCHAT_ROOM_H

#include <czmq.h>
#include <stdbool.h>

typedef struct {
    char   name [40];         /* as first spelled */
    char   endpoint [160];    /* inproc endpoint to bind for the gateway */
    size_t history;           /* lines kept */
    int    log_fd;
    int    log_file_fd;       /* --log-file, or -1 */
    bool   verbose;
    char   data_dir [512];    /* --data-dir; "" = keep nothing on disk */
} room_args_t;

/*  zactor_new (room_actor, args): args is a heap room_args_t the actor
    takes ownership of.                                                  */
void room_actor (zsock_t *pipe, void *args);

#endif
