/* SPDX-License-Identifier: MIT */
/*  room: one actor per chat room. It owns the room's members, its history
    and the formatting of its broadcasts, and it is the one that orders all
    output to its members (hub replies for a member come through it).

    Commands on its pipe (from the hub; the table in src/messages.c):
        JOIN id name      LEAVE id moving    LINE id text
        SAY id text       USERS id           RENAME id name
        $TERM             send BYE to every gateway, log stats, end
    It writes to each gateway over a PAIR of its own (msg_pipe_new),
    bound at endpoint_room (config, seq, g) before the actor signals that
    it is ready. A message about one client goes to that client's gateway
    (msg_id_gateway); an OUT goes to each gateway with recipients in it,
    listing only that gateway's ids.

    With a data dir, the room owns its file there (store.h): it reloads
    its history from it as it starts, and hands every chat line to its
    writer thread (writer.h), waiting for it to be written before the
    broadcast while the disk answers within ROOM_STORE_WAIT_MS, and no
    longer once it does not. Without one it touches no file.

    Cluster mode (config.cluster set; include/cluster.h): the room also
    binds endpoint_room_cluster (config, seq) before it signals. It
    PUBLISHes its members' joins, lines, renames and leaves and shows them
    only as they come back in ENTRIES, in the stream's order, after the
    STATE it gets first (members of other nodes, history); a joiner gets
    ENTER when its join comes back, and what the hub sends for it before
    that waits behind it. A LEAVE releases the member at once. UNSENT
    tells the sender its line was not delivered. BYE is its last message
    there.
    A room that cannot start (no descriptor for its socket, its endpoint
    taken) logs why and signals failure (status 1): actor_new returns
    NULL.                                                                 */
#ifndef TCPCHAT_ROOM_H
#define TCPCHAT_ROOM_H

#include <czmq.h>
#include <stdbool.h>
#include "config.h"
#include "endpoints.h"
#include "names.h"

typedef struct {
    config_t config;                    /* the server's: history, data_dir, log, verbose */
    char     name [ROOM_MAX_CHARS + 1]; /* as first spelled */
    unsigned seq;                       /* its endpoints' (endpoint_room) */
    unsigned gateways;                  /* one output pipe per gateway (0: 1) */
    size_t   history_bytes;             /* at most this much history replayed to a joiner;
                                 0: ROOM_REPLAY_MAX */
} room_args_t;

/*  How long a line waits for the disk before it is broadcast anyway; from
    then on lines do not wait until the writer has caught up.            */
#define ROOM_STORE_WAIT_MS     500
/*  How long a stopping room waits for its writer to finish; what it has
    not written by then is logged as not written.                         */
#define ROOM_STORE_STOP_MS     2000
/*  History replayed to a joiner, at most (the newest lines that fit).   */
#define ROOM_REPLAY_MAX        (256 * 1024)
/*  Cluster mode: messages waiting for the cluster pipe; at the cap the
    room stops reading the hub's pipe until half of them are sent, and
    the hub's cap for the room (HUB_ROOM_QUEUE_MAX) pauses its members. */
#define ROOM_CLUSTER_QUEUE_MAX 1024

/*  actor_new (room_actor, args) (actor.h): args is a heap room_args_t
    the actor takes ownership of.                                        */
void room_actor (zsock_t *pipe, void *args);

#endif
