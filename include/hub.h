/*  hub: the one source of truth for names and rooms.

    It registers and frees names, creates, finds and stops room actors,
    moves clients between rooms, and routes each client's lines to its
    room. It binds its PAIR to the gateway at CONFIG.endpoint "/hub".

    Commands on its pipe (from main):
        $TERM             stop every room, then end
    Messages from the gateway: NAME LINE CMD CLOSED RELEASED (messages.h). */
#ifndef TCPCHAT_HUB_H
#define TCPCHAT_HUB_H

#include <czmq.h>
#include "config.h"

/*  zactor_new (hub_actor, config): config is a heap copy of config_t the
    actor takes ownership of.                                            */
void hub_actor (zsock_t *pipe, void *config);

/*  The endpoint the hub binds for the gateway: CONFIG.endpoint "/hub".  */
void hub_endpoint (const config_t *config, char *out, size_t size);

#endif
