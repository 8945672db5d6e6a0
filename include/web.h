/* SPDX-License-Identifier: MIT */
/*  web: the web gateway (gateway 1): the chat page over HTTP, and each
    browser over a WebSocket at /ws, in the same rooms as nc users.

    A second gateway in the sense of messages.h: it makes its clients' ids
    with its own index (msg_id_make), talks to the hub over its own pipe
    (endpoint_hub) and reads its own output pipe of every room, with the
    same relay messages as the TCP gateway: NAME LINE CMD NOTICE CLOSED
    RELEASED up; REFUSE ENTER OUT LABEL RELEASE PAUSE RESUME ATTACH BYE
    down. Where the TCP gateway writes a message's nc text, it sends the
    message's event (event.h) as one text frame; docs/PROTOCOL.md, "The
    WebSocket protocol (/ws)", is the contract with the page.

    libwebsockets runs the thread: its service loop, with the actor pipe,
    the hub pipe and each room pipe adopted into it as raw descriptors
    (their ZMQ_FD): docs/ARCHITECTURE.md, "The web gateway".

    HTTP: / /app.js /app.css (web/, embedded: web_assets.h), /healthz,
    /metrics (SCRAPE to the hub, answered by its METRICS); everything
    else 404; security headers on every response, no cookie.
    /ws: the Origin check of origin.h; the limits --max-clients (counted
    for this gateway alone), --rate, --max-backlog, --name-timeout.

    Starting (actor_new, actor.h): it takes the listening socket main
    opened, connects to the hub's endpoint for its index and signals 0,
    or logs why it cannot and signals 1.

    To the hub, besides the relay messages: STATS (its figures,
    metrics.h) once a second at most when one moved, SCRAPE per /metrics.

    Commands on its pipe (from main):
        $TERM             tell every browser (closed), close, then end   */
#ifndef TCPCHAT_WEB_H
#define TCPCHAT_WEB_H

#include <czmq.h>
#include "config.h"

typedef struct {
    config_t config;
    unsigned index;    /* its gateway index (messages.h): main's is 1 */
    int      listener; /* listening socket, handed over to the actor */
} web_args_t;

/*  actor_new (web_actor, args): args is a heap web_args_t the actor
    takes, listening socket included (closed even when it fails).        */
void web_actor (zsock_t *pipe, void *args);

#endif
