/* SPDX-License-Identifier: MIT */
/*  endpoints: every inproc endpoint an actor binds or connects, named in
    one place, so an actor learns where a peer listens from here and not
    from the peer's header.

    Each is CONFIG.endpoint (main makes it unique to this server, so two
    servers or two tests in one process never meet) plus a suffix. A
    buffer of ENDPOINT_MAX bytes always holds one.                        */
#ifndef TCPCHAT_ENDPOINTS_H
#define TCPCHAT_ENDPOINTS_H

#include "config.h"

#define ENDPOINT_MAX 160

/*  The hub's end of its pipe with gateway g (one pipe per gateway,
    g < MSG_GATEWAYS_MAX): the hub binds, the gateway connects.           */
void endpoint_hub (const config_t *config, unsigned g, char buf [ENDPOINT_MAX]);

/*  A room's output pipe to gateway g: the room binds one per gateway,
    gateway g connects when the hub sends it ATTACH. seq is the hub's
    count of rooms started: a room started again under the same name gets
    new endpoints, so it never meets the old one still stopping.          */
void endpoint_room (const config_t *config, unsigned seq, unsigned g, char buf [ENDPOINT_MAX]);

/*  Cluster mode: the hub's pipe with the cluster actor (the hub binds,
    the cluster connects), and room seq's pipe with it (the room binds,
    the cluster connects when the hub sends it FOLLOW).                   */
void endpoint_cluster (const config_t *config, char buf [ENDPOINT_MAX]);
void endpoint_room_cluster (const config_t *config, unsigned seq, char buf [ENDPOINT_MAX]);

#endif
