/* SPDX-License-Identifier: MIT */
/*  hub: the one source of truth for names and rooms.

    It registers and frees names, creates, finds and stops room actors,
    moves clients between rooms, and routes each client's lines to its
    room. It binds one PAIR per gateway (gateway g at endpoint_hub (config,
    g): endpoints.h) and reads them all; a client's gateway is the one in
    its id (msg_id_gateway), and a NAME must come on the pipe its id names.

    Starting (actor_new, actor.h): the hub binds its pipe and starts room
    general, then signals 0; if either fails it logs why and signals 1.
    It then waits for every gateway to connect (or for $TERM: main stops
    a hub whose gateway failed to start) before it announces general with
    ATTACH, to each gateway, and restores the rooms of --data-dir.

    Commands on its pipe (from main):
        $TERM             stop every room, then end
    Messages from the gateways: NAME LINE CMD NOTICE CLOSED RELEASED (the
    table in src/messages.c).
    To the client's gateway: REFUSE; PAUSE id when one of its queues for
    that client is full, RESUME id once it has drained. To every gateway:
    ATTACH, each with the room's endpoint for that gateway.
    Cluster mode (config.cluster set; include/cluster.h): the hub also
    binds endpoint_cluster before it signals, and never waits on it. A
    name free here is CLAIMed before the client enters (its input waits
    meanwhile); CLAIMED's verdict is the client's, a refusal its REFUSE.
    /name claims the new name, renames, then UNCLAIMs the old; a client
    that goes is UNCLAIMed. /rooms is ROOMS' ROOMLIST; /msg to a name not
    here is PRIVATE, answered by PRIVATED; DELIVER is a /msg from another
    node. Each room it starts is FOLLOWed (the room's cluster pipe).              */
#ifndef TCPCHAT_HUB_H
#define TCPCHAT_HUB_H

#include <czmq.h>
#include "config.h"

/*  The hub's caps, in messages (each at most one 4 KiB line and its
    frames). Past them the client is paused at the gateway; what was in
    flight when PAUSE went out is still taken.                           */
#define HUB_DEFERRED_MAX      256  /* a mover's input, replayed after the move */
#define HUB_HELD_MAX          256  /* /msg for a mover; past it the sender is told */
#define HUB_ROOM_QUEUE_MAX    1024 /* for a room whose pipe is full: its members pause */
#define HUB_CLUSTER_QUEUE_MAX 1024 /* --cluster: to the cluster; a client adding past it pauses */
/*  New rooms one client may start: a burst, then one per interval.      */
#define HUB_ROOM_RATE_BURST   5
#define HUB_ROOM_RATE_MS      12000

typedef struct {
    config_t config;      /* the server's */
    unsigned gateways;    /* gateway pipes, 0 .. gateways - 1, at most
                             MSG_GATEWAYS_MAX (0: 1, the TCP gateway) */
    int      shutdown_ms; /* at shutdown, how long rooms get to take what
                             waits for them (0: 1000 ms); a test on a slow
                             machine (valgrind) gives them more */
} hub_args_t;

/*  actor_new (hub_actor, args) (actor.h): args is a heap hub_args_t the
    actor takes ownership of.                                            */
void hub_actor (zsock_t *pipe, void *args);

#endif
