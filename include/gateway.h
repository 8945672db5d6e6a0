/*  gateway: owns every TCP connection.

    It accepts clients, frames and cleans their input, parses commands,
    and writes every byte a client receives: output queued by the hub and
    the rooms, and the prompts that follow it. One epoll loop serves the
    listening socket, every client socket and every ZeroMQ pipe (joined
    through ZMQ_FD), so one thread moves all bytes.

    Commands on its pipe (from main):
        $TERM             close every connection, then end
    Messages from the hub and rooms: OUT ENTER REFUSE RELEASE LABEL ATTACH
    BYE (messages.h).                                             */
#ifndef TCPCHAT_GATEWAY_H
#define TCPCHAT_GATEWAY_H

#include <czmq.h>
#include "config.h"

typedef struct {
    config_t config;
    int      listener;        /* listening socket, handed over to the actor */
} gateway_args_t;

/*  zactor_new (gateway_actor, args): args is a heap gateway_args_t the
    actor takes ownership of, listening socket included.                 */
void gateway_actor (zsock_t *pipe, void *args);

#endif
