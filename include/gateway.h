/* SPDX-License-Identifier: MIT */
/*  gateway: owns every TCP connection.

    It accepts clients, frames and cleans their input, parses commands,
    and writes every byte a client receives: output queued by the hub and
    the rooms, and the prompts that follow it. One epoll loop serves the
    listening socket, every client socket and every ZeroMQ pipe (joined
    through ZMQ_FD), so one thread moves all bytes.

    Starting (actor_new, actor.h): it connects to the hub's endpoint
    for its index (endpoints.h; the hub has bound it) and signals 0, or logs why it
    cannot (no descriptor for epoll, the endpoint invalid) and signals 1.

    Commands on its pipe (from main):
        $TERM             close every connection, then end
    Messages from the hub and rooms: OUT ENTER REFUSE RELEASE LABEL ATTACH
    BYE PAUSE RESUME (the table in src/messages.c).                      */
#ifndef TCPCHAT_GATEWAY_H
#define TCPCHAT_GATEWAY_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "config.h"

typedef struct {
    config_t config;
    unsigned index;          /* its gateway index in client ids and endpoints
                                (messages.h); main's TCP gateway is 0 */
    int      listener;       /* listening socket, handed over to the actor */
    int64_t (*clock) (void); /* monotonic clock in us; NULL: CLOCK_MONOTONIC */
} gateway_args_t;

/*  actor_new (gateway_actor, args) (actor.h): args is a heap
    gateway_args_t the actor takes ownership of, listening socket
    included (closed by the actor, even when it fails to start).         */
void gateway_actor (zsock_t *pipe, void *args);

/*  The actor's loop one pass at a time, on the caller's thread: what
    gateway_actor runs, and what tests/fuzz/fuzz_gateway.c steps over a
    clock of its own to drive the real connection state machine.
    gateway_new takes args (as gateway_actor does) and is NULL when the
    gateway cannot start (logged, listener closed); gateway_pass waits up
    to timeout_ms for events (-1: until its next timed duty), handles them
    and returns false once $TERM came on the pipe; gateway_destroy tells
    every client the server is stopping, flushes and closes.             */
typedef struct _gateway_t gateway_t;
gateway_t                *gateway_new (zsock_t *pipe, gateway_args_t *args);
bool                      gateway_pass (gateway_t *self, int timeout_ms);
void                      gateway_destroy (gateway_t **self_p);

#endif
