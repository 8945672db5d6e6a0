/* SPDX-License-Identifier: MIT */
/*  cluster: cluster mode's one link to Redis (--cluster). Started by the
    hub only with --cluster; without it nothing here runs.

    Owns: every Redis connection (two, hiredis async contexts driven from
    this actor's own zmq_poll: one for commands, pipelined; one for XREAD
    BLOCK), the node's lease and registration, the reaping of dead nodes
    (and of this node's own leftovers when it starts), the Lua scripts
    that keep each change atomic with the room's stream, the publishes
    held while Redis is away, and one pipe per room this node runs.
    Redis holds the cluster's truth; the key layout is in docs/CLUSTER.md.

    Pipes (src/messages.c has each message's row):
      its actor pipe      $TERM: send what is held for up to 1 s, then end
                          (no deregistration: the node's lease runs out
                          and a survivor, or this node restarted, reaps
                          it).
      hub, one PAIR       endpoint_cluster: the hub binds, we connect.
        hub -> cluster    CLAIM id name key0 key1 fold    (names.h keys)
                          UNCLAIM id name                 (held if down)
                          ROOMS id
                          PRIVATE id from target text stamp
                          FOLLOW room endpoint            (id 0)
        cluster -> hub    CLAIMED id verdict  "" | taken | lookalike |
                                              unavailable
                          ROOMLIST id "ROOM\tCOUNT\n"...  ("" if down)
                          PRIVATED id verdict "" | nouser | unavailable
                          DELIVER id from text stamp   (a /msg for id)
                          LINK up held  (id 0: the link went up or down,
                                         or held changed; for /metrics)
      room, one PAIR each endpoint_room_cluster: the room binds, we
                          connect on the hub's FOLLOW.
        room -> cluster   PUBLISH id kind name text stamp
                          (kind line | join | leave | rename; id the
                          local member; for rename, text is the new
                          name); BYE, the room's last message: we close
                          the pipe.
        cluster -> room   STATE members history last   (once, first)
                          ENTRIES batch                 (msg_entry_t)
                          UNSENT id kind  (not taken: 10,000 held)

    Order: every change to a room is one script that appends its entry to
    the room's stream (tcpchat:room:R:log) and updates members, history
    and counts at once; the rooms of every node read the same stream, so
    all see one order. A room sends nothing to its clients on its own
    PUBLISH: it acts when the entry comes back in ENTRIES. STATE is read
    atomically with the stream id it is as of; ENTRIES follow from there,
    each batch in order, none skipped (bad entries are logged and left
    out). Publishes of this node apply exactly once, in the order
    received: each carries the node's sequence number, and the script
    ignores one it has applied already (so a resend after a lost
    connection never duplicates).

    Never blocks: sends to the hub and rooms only while ZMQ says POLLOUT,
    else queues; a room with a queue is not XREAD until it drains (the
    stream keeps the rest). Redis calls are non-blocking but for the name
    lookup of the Redis host at each connection attempt.

    Outage: "redis lost (why)" once; reconnects with backoff (100 ms
    doubling to 5 s); publishes and unclaims are held in order (10,000
    publishes at most: past that UNSENT); claims, /msg answer
    "unavailable", ROOMLIST is empty; "redis regained after N s,
    replaying M held publishes" once back. Starting without Redis is no
    error: the node starts and retries.                                  */
#ifndef TCPCHAT_CLUSTER_H
#define TCPCHAT_CLUSTER_H

#include <czmq.h>
#include "config.h"

#define CLUSTER_HOST_SIZE  256
#define CLUSTER_NODE_SIZE  128
/*  Publishes held while Redis is away (or slow), before UNSENT.         */
#define CLUSTER_HELD_MAX   10000
/*  Entries each stream keeps (XADD MAXLEN ~): a node that stays behind
    longer than this many entries misses the oldest.                     */
#define CLUSTER_STREAM_MAX 10000

typedef struct {
    config_t config;                   /* the server's: endpoint, history, log */
    char     host [CLUSTER_HOST_SIZE]; /* Redis */
    int      port;
    int      db;
    char     node [CLUSTER_NODE_SIZE]; /* this node's name, unique in the cluster */
    int      lease_ms;                 /* the node's lease (--cluster-lease) */
    int      block_ms;                 /* XREAD BLOCK; 0: 1000 (tests set more) */
} cluster_args_t;

/*  actor_new (cluster_actor, args): args is a heap cluster_args_t the
    actor takes. Fails (signals 1) only if it cannot connect its hub pipe. */
void cluster_actor (zsock_t *pipe, void *args);

/*  "NODE/ID" (ID: 16 lowercase hex digits): a member's key cluster-wide.  */
#define CLUSTER_MEMBER_SIZE (CLUSTER_NODE_SIZE + 18)
void cluster_member_key (const char *node, uint64_t id, char out [CLUSTER_MEMBER_SIZE]);

#endif
