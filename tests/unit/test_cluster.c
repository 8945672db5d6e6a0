/* SPDX-License-Identifier: MIT */
/*  Unit tests for the cluster actor (actors/cluster.c) against a real
    redis-server of the test's own (tests/redis_server.c): each test
    starts one or two cluster actors ("nodes") on one Redis, plays the
    hub through a PAIR bound at endpoint_cluster and the rooms through
    PAIRs bound at endpoint_room_cluster, and checks what comes back and
    what Redis holds.

    Order (two nodes see one order), name claims (races, taken vs
    lookalike, a rename's own keys), /msg across nodes and /rooms, lease
    expiry (a node's actor gone without cleanup is reaped by the other),
    a Redis restart (held publishes replayed in order, logged once each),
    STATE at attach, and a bad stream entry skipped.                     */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "actor.h"
#include "cluster.h"
#include "endpoints.h"
#include "messages.h"
#include "../client_check.h"
#include "../redis_server.h"

#define WAIT_MS  10000 /* every wait: generous, never about speed */
#define STAMP    "[2026-01-01 00:00:00]"
#define ROOM_SEQ 7

static redis_server_t *s_redis;

typedef struct {
    actor_t *actor;
    zsock_t *hub; /* the fake hub's end */
    config_t config;
    char     name [32];
    char     log_path [64];
    int      log_fd;
} node_t;

static node_t *s_nodes [4]; /* running, for a failed test's teardown */
static void    node_stop (node_t *node);

typedef struct {
    zsock_t *pipe; /* the fake room's end */
    char     last [64];
} room_t;

/* ------------------------------------------------------------------ */
/*  Redis, directly                                                    */

static redisReply *
redis (const char *format, ...)
{
    struct timeval timeout = {5, 0};
    redisContext  *context =
        redisConnectWithTimeout ("127.0.0.1", redis_server_port (s_redis), timeout);
    assert_non_null (context);
    assert_int_equal (context->err, 0);
    va_list args;
    va_start (args, format);
    redisReply *reply = (redisReply *) redisvCommand (context, format, args);
    va_end (args);
    redisFree (context);
    assert_non_null (reply);
    return reply;
}

static int
setup (void **state)
{
    check_watchdog_setup (state);
    s_redis = redis_server_start ();
    return s_redis ? 0 : -1;
}

static int
teardown (void **state)
{
    (void) state;
    for (size_t i = 0; i < 4; i++)
        if (s_nodes [i])
            node_stop (s_nodes [i]);
    redis_server_destroy (&s_redis);
    return 0;
}

/* ------------------------------------------------------------------ */
/*  Nodes and rooms                                                    */

static void node_start_blocking (node_t *node, const char *name, int lease_ms, int block_ms);

static void
node_start (node_t *node, const char *name, int lease_ms)
{
    node_start_blocking (node, name, lease_ms, 0);
}

/*  block_ms: the XREAD BLOCK (0: the actor's default).                  */
static void
node_start_blocking (node_t *node, const char *name, int lease_ms, int block_ms)
{
    static unsigned seq;
    memset (node, 0, sizeof *node);
    snprintf (node->name, sizeof node->name, "%s", name);
    config_defaults (&node->config);
    snprintf (node->config.endpoint, sizeof node->config.endpoint, "inproc://test-cluster-%d-%u",
              (int) getpid (), ++seq);
    node->config.history = 3;
    snprintf (node->log_path, sizeof node->log_path, "/tmp/tcpchat-cluster-log-XXXXXX");
    node->log_fd = mkstemp (node->log_path);
    assert_true (node->log_fd >= 0);
    node->config.log_fd = node->log_fd;
    char endpoint [ENDPOINT_MAX + 1] = "@";
    endpoint_cluster (&node->config, endpoint + 1);
    node->hub = zsock_new_pair (endpoint);
    assert_non_null (node->hub);
    zsock_set_rcvtimeo (node->hub, WAIT_MS);
    zsock_set_sndtimeo (node->hub, WAIT_MS);

    cluster_args_t *args = (cluster_args_t *) calloc (1, sizeof *args);
    assert_non_null (args);
    args->config = node->config;
    snprintf (args->host, sizeof args->host, "127.0.0.1");
    args->port = redis_server_port (s_redis);
    snprintf (args->node, sizeof args->node, "%s", name);
    args->lease_ms = lease_ms;
    args->block_ms = block_ms;
    node->actor = actor_new (cluster_actor, args);
    assert_non_null (node->actor);
    for (size_t i = 0; i < 4; i++)
        if (!s_nodes [i]) {
            s_nodes [i] = node;
            break;
        }
}

/*  How many lines of the node's log hold text.                          */
static int
log_count (const node_t *node, const char *text)
{
    FILE *file = fopen (node->log_path, "r");
    assert_non_null (file);
    char line [LOG_LINE_MAX + 2];
    int  count = 0;
    while (fgets (line, sizeof line, file))
        if (strstr (line, text))
            count++;
    fclose (file);
    return count;
}

/*  Waits until the log holds text (count times at least).               */
static void
log_wait (const node_t *node, const char *text, int count)
{
    for (int waited = 0; log_count (node, text) < count; waited += 20) {
        if (waited > WAIT_MS)
            fail_msg ("%s: no \"%s\" in the log within %d ms", node->name, text, WAIT_MS);
        usleep (20000);
    }
}

static void
node_up (node_t *node, const char *name, int lease_ms)
{
    node_start (node, name, lease_ms);
    log_wait (node, "redis connected", 1);
}

static void
node_stop (node_t *node)
{
    if (node->actor)
        actor_destroy (&node->actor);
    zsock_destroy (&node->hub);
    close (node->log_fd);
    unlink (node->log_path);
    for (size_t i = 0; i < 4; i++)
        if (s_nodes [i] == node)
            s_nodes [i] = NULL;
}

/*  The next message on sock, of kind, parsed into view (msg kept in
    *msg_p for the view's pointers).                                    */
static void
expect_kind (zsock_t *sock, msg_kind_t kind, zmsg_t **msg_p, msg_view_t *view)
{
    zmsg_t *msg = msg_recv (sock);
    //  The link's reports (LINK, for /metrics) come whenever it changes:
    //  test_link_reports reads them; here they are passed over.
    for (int i = 0; i < 100 && msg && kind != MSG_LINK; i++) {
        msg_parse (msg, view);
        if (view->kind != MSG_LINK)
            break;
        zmsg_destroy (&msg);
        msg = msg_recv (sock);
    }
    if (!msg)
        fail_msg ("no %s within %d ms", msg_spec (kind)->type, WAIT_MS);
    msg_parse (msg, view);
    if (view->kind != kind)
        fail_msg ("%s instead of %s", view->type, msg_spec (kind)->type);
    *msg_p = msg;
}

static void
assert_part_is (const msg_view_t *view, size_t i, const char *text)
{
    assert_true (i < view->parts);
    char *got = msg_strdup (view, i);
    if (strcmp (got, text) != 0)
        fail_msg ("%s part %zu: \"%s\", not \"%s\"", view->type, i, got, text);
    free (got);
}

static void
expect_text (zsock_t *sock, msg_kind_t kind, uint64_t id, const char *text)
{
    zmsg_t    *msg;
    msg_view_t view;
    expect_kind (sock, kind, &msg, &view);
    assert_true (view.id == id);
    assert_part_is (&view, 0, text);
    zmsg_destroy (&msg);
}

static void
send_msg (zsock_t *sock, zmsg_t *msg)
{
    assert_int_equal (msg_send (&msg, sock), 0);
}

/*  A room of node's, followed by it: the STATE it gets is returned.     */
static void
room_follow (node_t *node, room_t *room, const char *name, unsigned seq, char *members,
             char *history)
{
    char endpoint [ENDPOINT_MAX + 1] = "@";
    endpoint_room_cluster (&node->config, seq, endpoint + 1);
    room->pipe = zsock_new_pair (endpoint);
    assert_non_null (room->pipe);
    zsock_set_rcvtimeo (room->pipe, WAIT_MS);
    zsock_set_sndtimeo (room->pipe, WAIT_MS);
    send_msg (node->hub, msg_new_follow (name, endpoint + 1));
    zmsg_t    *msg;
    msg_view_t view;
    expect_kind (room->pipe, MSG_STATE, &msg, &view);
    char *got = msg_strdup (&view, 0);
    if (members)
        strcpy (members, got);
    free (got);
    got = msg_strdup (&view, 1);
    if (history)
        strcpy (history, got);
    free (got);
    snprintf (room->last, sizeof room->last, "%.*s", (int) view.part [2].size, view.part [2].data);
    zmsg_destroy (&msg);
}

static void
room_leave (room_t *room)
{
    send_msg (room->pipe, msg_new_bye ());
    zsock_destroy (&room->pipe);
}

static void
publish (room_t *room, uint64_t id, const char *kind, const char *name, const char *text)
{
    send_msg (room->pipe, msg_new_publish (id, kind, name, text, strlen (text), STAMP));
}

/*  Entries, one "kind member name text local" line each, until count
    came; the stream ids too (ids: count x 64 bytes, or NULL).          */
static void
expect_entries (room_t *room, int count, char lines [][256], char ids [][64])
{
    int got = 0;
    while (got < count) {
        zmsg_t    *msg;
        msg_view_t view;
        expect_kind (room->pipe, MSG_ENTRIES, &msg, &view);
        size_t      offset = 0;
        msg_entry_t entry;
        while (msg_entries_next (&view, &offset, &entry)) {
            assert_true (got < count);
            snprintf (lines [got], 256, "%.*s %.*s %.*s %.*s %" PRIu64, (int) entry.kind.size,
                      entry.kind.data, (int) entry.member.size, entry.member.data,
                      (int) entry.name.size, entry.name.data, (int) entry.text.size,
                      entry.text.data, entry.local);
            if (ids)
                snprintf (ids [got], 64, "%.*s", (int) entry.stream.size, entry.stream.data);
            assert_int_equal (entry.stamp.size, strlen (STAMP));
            got++;
        }
        assert_int_equal (offset, view.part [0].size);
        zmsg_destroy (&msg);
    }
}

static void
expect_entry (room_t *room, const char *line)
{
    char lines [1][256];
    expect_entries (room, 1, lines, NULL);
    assert_string_equal (lines [0], line);
}

static const char *
claim (node_t *node, uint64_t id, const char *name, const char *fold, const char *key0,
       const char *key1, char verdict [32])
{
    send_msg (node->hub, msg_new_claim (id, name, key0, key1, fold));
    zmsg_t    *msg;
    msg_view_t view;
    expect_kind (node->hub, MSG_CLAIMED, &msg, &view);
    assert_true (view.id == id);
    snprintf (verdict, 32, "%.*s", (int) view.part [0].size, view.part [0].data);
    zmsg_destroy (&msg);
    return verdict;
}

/*  A plain ASCII name: every key is the name lowered.                   */
static const char *
claim_plain (node_t *node, uint64_t id, const char *name, char verdict [32])
{
    char fold [64];
    snprintf (fold, sizeof fold, "%s", name);
    for (char *c = fold; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char) (*c - 'A' + 'a');
    return claim (node, id, name, fold, fold, fold, verdict);
}

/* ------------------------------------------------------------------ */
/*  Tests                                                              */

/*  A room attached late sees the members, the history and the id the
    stream was at; its entries follow from there.                        */
static void
test_state_at_attach (void **state)
{
    (void) state;
    static node_t a;
    node_up (&a, "a", 10000);
    room_t dev;
    char   members [512], history [512];
    room_follow (&a, &dev, "dev", ROOM_SEQ, members, history);
    assert_string_equal (members, "");
    assert_string_equal (history, "");
    assert_string_equal (dev.last, "0-0");

    publish (&dev, 1, "join", "alice", "");
    expect_entry (&dev, "join a/0000000000000001 alice  1");
    for (int i = 0; i < 4; i++) {
        char text [16];
        snprintf (text, sizeof text, "hi %d", i);
        publish (&dev, 1, "line", "alice", text);
    }
    char lines [4][256], ids [4][64];
    expect_entries (&dev, 4, lines, ids);
    assert_string_equal (lines [3], "line a/0000000000000001 alice hi 3 1");

    //  Another room of the same name (a second node's, here ours again).
    room_t again;
    room_follow (&a, &again, "dev", ROOM_SEQ + 1, members, history);
    assert_string_equal (members, "a/0000000000000001\talice\n");
    //  --history 3: the last three lines.
    assert_string_equal (history,
                         STAMP "[alice]:hi 1\n" STAMP "[alice]:hi 2\n" STAMP "[alice]:hi 3\n");
    assert_string_equal (again.last, ids [3]);
    publish (&dev, 1, "rename", "alice", "alicia");
    expect_entry (&again, "rename a/0000000000000001 alice alicia 1");
    room_leave (&dev);
    room_leave (&again);
    node_stop (&a);
}

/*  Two nodes, one room each on one stream, publishing at once: both see
    the same entries in the same order, and each node's in its order.   */
/*  A room followed as the node starts (as general is) is read at once,
    not when the XREAD issued before it went live ends its block: the
    CLIENT UNBLOCK that cuts it short may reach Redis before that XREAD
    blocks, and must then be sent again. The block is 60 s here, so a
    missed cut fails the 10 s wait instead of costing a second.         */
static void
test_room_followed_at_start_is_read_at_once (void **state)
{
    (void) state;
    for (int round = 0; round < 5; round++) {
        static node_t a;
        node_start_blocking (&a, "a", 10000, 60000);
        room_t general;
        room_follow (&a, &general, "general", ROOM_SEQ, NULL, NULL);
        publish (&general, 1, "join", "alice", "");
        expect_entry (&general, "join a/0000000000000001 alice  1");
        room_leave (&general);
        node_stop (&a);
    }
}

static void
test_order_two_nodes (void **state)
{
    (void) state;
    enum { LINES = 60 };
    static node_t a, b;
    node_up (&a, "a", 10000);
    node_up (&b, "b", 10000);
    room_t ra, rb;
    room_follow (&a, &ra, "dev", ROOM_SEQ, NULL, NULL);
    room_follow (&b, &rb, "dev", ROOM_SEQ, NULL, NULL);
    publish (&ra, 1, "join", "al", "");
    publish (&rb, 2, "join", "bo", "");
    for (int i = 0; i < LINES; i++) {
        char text [16];
        snprintf (text, sizeof text, "%d", i);
        publish (&ra, 1, "line", "al", text);
        publish (&rb, 2, "line", "bo", text);
    }
    static char la [2 * LINES + 2][256], lb [2 * LINES + 2][256];
    static char ia [2 * LINES + 2][64], ib [2 * LINES + 2][64];
    expect_entries (&ra, 2 * LINES + 2, la, ia);
    expect_entries (&rb, 2 * LINES + 2, lb, ib);
    int next_a = 0, next_b = 0;
    for (int i = 0; i < 2 * LINES + 2; i++) {
        assert_string_equal (ia [i], ib [i]);
        //  The same entry, seen as local by its own node only.
        char *space_a = strrchr (la [i], ' '), *space_b = strrchr (lb [i], ' ');
        assert_int_equal (space_a - la [i], space_b - lb [i]);
        assert_memory_equal (la [i], lb [i], (size_t) (space_a - la [i]));
        char want [64];
        if (strncmp (la [i], "line a/", 7) == 0) {
            snprintf (want, sizeof want, "line a/0000000000000001 al %d 1", next_a++);
            assert_string_equal (la [i], want);
            assert_string_equal (space_b, " 0");
        } else if (strncmp (la [i], "line b/", 7) == 0) {
            snprintf (want, sizeof want, "line b/0000000000000002 bo %d 0", next_b++);
            assert_string_equal (la [i], want);
            assert_string_equal (space_b, " 2");
        }
    }
    assert_int_equal (next_a, LINES);
    assert_int_equal (next_b, LINES);
    room_leave (&ra);
    room_leave (&rb);
    node_stop (&a);
    node_stop (&b);
}

/*  Two nodes claim the same name at once, 50 times: exactly one wins
    each round and the other hears "taken".                              */
static void
test_claim_races (void **state)
{
    (void) state;
    static node_t a, b;
    node_up (&a, "a", 10000);
    node_up (&b, "b", 10000);
    for (int round = 0; round < 50; round++) {
        char name [16];
        snprintf (name, sizeof name, "n%d", round);
        send_msg (a.hub, msg_new_claim (1 + (uint64_t) round, name, name, name, name));
        send_msg (b.hub, msg_new_claim (100 + (uint64_t) round, name, name, name, name));
        char     verdicts [2][32];
        zsock_t *hubs [2] = {a.hub, b.hub};
        for (int i = 0; i < 2; i++) {
            zmsg_t    *msg;
            msg_view_t view;
            expect_kind (hubs [i], MSG_CLAIMED, &msg, &view);
            snprintf (verdicts [i], 32, "%.*s", (int) view.part [0].size, view.part [0].data);
            zmsg_destroy (&msg);
        }
        int wins = !strcmp (verdicts [0], "") + !strcmp (verdicts [1], "");
        int taken = !strcmp (verdicts [0], "taken") + !strcmp (verdicts [1], "taken");
        assert_int_equal (wins, 1);
        assert_int_equal (taken, 1);
    }
    node_stop (&a);
    node_stop (&b);
}

/*  "taken" when the folded name is held, "lookalike" when only a
    confusable key is; a rename to a name of the same keys keeps them;
    an unclaim frees only the keys still held under that name.           */
static void
test_claim_verdicts (void **state)
{
    (void) state;
    static node_t a, b;
    node_up (&a, "a", 10000);
    node_up (&b, "b", 10000);
    char verdict [32];
    assert_string_equal (claim (&a, 1, "bob", "bob", "b0b", "bob1", verdict), "");
    assert_string_equal (claim (&b, 2, "BOB", "bob", "b0b", "bob1", verdict), "taken");
    assert_string_equal (claim (&b, 2, "b0b", "b0b", "b0b", "x", verdict), "lookalike");
    assert_string_equal (claim (&b, 2, "bo8", "bo8", "y", "bob1", verdict), "lookalike");
    //  The holder renames itself to BOB (same keys), then lets bob go.
    assert_string_equal (claim (&a, 1, "BOB", "bob", "b0b", "bob1", verdict), "");
    send_msg (a.hub, msg_new_unclaim (1, "bob"));
    assert_string_equal (claim (&b, 2, "bob", "bob", "b0b", "bob1", verdict), "taken");
    send_msg (a.hub, msg_new_unclaim (1, "BOB"));
    //  a's work goes to Redis in order: a's next answer comes after it.
    assert_string_equal (claim_plain (&a, 3, "barrier", verdict), "");
    assert_string_equal (claim (&b, 2, "bob", "bob", "b0b", "bob1", verdict), "");
    //  Only the barrier's claim is left of a's.
    redisReply *reply = redis ("HKEYS tcpchat:node:a:names");
    assert_int_equal (reply->elements, 1);
    assert_string_equal (reply->element [0]->str, "a/0000000000000003 barrier");
    freeReplyObject (reply);
    node_stop (&a);
    node_stop (&b);
}

/*  /msg to a name on another node reaches that node's hub; /rooms lists
    the cluster's rooms.                                                 */
static void
test_private_and_rooms (void **state)
{
    (void) state;
    static node_t a, b;
    node_up (&a, "a", 10000);
    node_up (&b, "b", 10000);
    char verdict [32];
    assert_string_equal (claim_plain (&a, 1, "Alice", verdict), "");
    send_msg (b.hub, msg_new_private (9, "bob", "ALICE", "psst", 4, STAMP));
    expect_text (b.hub, MSG_PRIVATED, 9, "");
    zmsg_t    *msg;
    msg_view_t view;
    expect_kind (a.hub, MSG_DELIVER, &msg, &view);
    assert_true (view.id == 1);
    assert_part_is (&view, 0, "bob");
    assert_part_is (&view, 1, "psst");
    assert_part_is (&view, 2, STAMP);
    zmsg_destroy (&msg);
    send_msg (b.hub, msg_new_private (9, "bob", "nobody", "psst", 4, STAMP));
    expect_text (b.hub, MSG_PRIVATED, 9, "nouser");

    room_t dev;
    room_follow (&a, &dev, "dev", ROOM_SEQ, NULL, NULL);
    publish (&dev, 1, "join", "Alice", "");
    expect_entry (&dev, "join a/0000000000000001 Alice  1");
    send_msg (b.hub, msg_new_rooms (9));
    expect_text (b.hub, MSG_ROOMLIST, 9, "dev\t1\n");
    room_leave (&dev);
    node_stop (&a);
    node_stop (&b);
}

/*  Node a's actor ends without a word (as a crash would leave it): once
    its lease is over, b reaps it: a's member leaves the room through the
    stream, and its name is free again.                                  */
static void
test_lease_expiry (void **state)
{
    (void) state;
    static node_t a, b;
    node_up (&a, "a", 2000);
    node_up (&b, "b", 2000);
    char verdict [32];
    assert_string_equal (claim_plain (&a, 1, "alice", verdict), "");
    room_t ra, rb;
    room_follow (&a, &ra, "dev", ROOM_SEQ, NULL, NULL);
    room_follow (&b, &rb, "dev", ROOM_SEQ, NULL, NULL);
    publish (&ra, 1, "join", "alice", "");
    expect_entry (&ra, "join a/0000000000000001 alice  1");
    expect_entry (&rb, "join a/0000000000000001 alice  0");
    zsock_destroy (&ra.pipe);
    actor_destroy (&a.actor);
    assert_string_equal (claim_plain (&b, 2, "alice", verdict), "taken");
    //  Within the lease and a reaping period (bounded by WAIT_MS).
    expect_entry (&rb, "leave a/0000000000000001 alice  0");
    log_wait (&b, "reaped dead node a: 1 member left", 1);
    assert_string_equal (claim_plain (&b, 2, "alice", verdict), "");
    redisReply *reply = redis ("SISMEMBER tcpchat:nodes a");
    assert_int_equal (reply->integer, 0);
    freeReplyObject (reply);
    reply = redis ("HGET tcpchat:rooms dev");
    assert_int_equal (reply->type, REDIS_REPLY_NIL);
    freeReplyObject (reply);
    room_leave (&rb);
    node_stop (&a);
    node_stop (&b);
}

/*  A node restarted under its name reaps what its previous run left at
    once, without waiting for the old lease: its members leave, its names
    are free.                                                            */
static void
test_own_leftovers (void **state)
{
    (void) state;
    static node_t a, b, again;
    node_up (&a, "a", 10000);
    node_up (&b, "b", 10000);
    char verdict [32];
    assert_string_equal (claim_plain (&a, 1, "alice", verdict), "");
    room_t ra, rb;
    room_follow (&a, &ra, "dev", ROOM_SEQ, NULL, NULL);
    room_follow (&b, &rb, "dev", ROOM_SEQ, NULL, NULL);
    publish (&ra, 1, "join", "alice", "");
    expect_entry (&rb, "join a/0000000000000001 alice  0");
    zsock_destroy (&ra.pipe);
    actor_destroy (&a.actor);
    node_up (&again, "a", 10000);
    expect_entry (&rb, "leave a/0000000000000001 alice  0");
    log_wait (&again, "reaped our previous node a: 1 member left", 1);
    assert_string_equal (claim_plain (&b, 2, "alice", verdict), "");
    room_leave (&rb);
    node_stop (&a);
    node_stop (&b);
    node_stop (&again);
}

/*  Redis stops: the node says so once, claims are "unavailable", the
    lines published meanwhile are held; Redis comes back on its port with
    its data: the held lines go out in order, once, and it says so once. */
static void
test_reconnection (void **state)
{
    (void) state;
    static node_t a;
    node_up (&a, "a", 10000);
    room_t dev;
    room_follow (&a, &dev, "dev", ROOM_SEQ, NULL, NULL);
    publish (&dev, 1, "join", "al", "");
    expect_entry (&dev, "join a/0000000000000001 al  1");

    assert_true (redis_server_stop (s_redis));
    log_wait (&a, "redis lost (", 1);
    char verdict [32];
    assert_string_equal (claim_plain (&a, 2, "bo", verdict), "unavailable");
    for (int i = 0; i < 5; i++) {
        char text [16];
        snprintf (text, sizeof text, "held %d", i);
        publish (&dev, 1, "line", "al", text);
    }
    //  Held: on the pipe's far side before the restart.
    usleep (300000);
    assert_true (redis_server_restart (s_redis));
    char lines [5][256];
    expect_entries (&dev, 5, lines, NULL);
    for (int i = 0; i < 5; i++) {
        char want [64];
        snprintf (want, sizeof want, "line a/0000000000000001 al held %d 1", i);
        assert_string_equal (lines [i], want);
    }
    log_wait (&a, "redis regained after ", 1);
    assert_int_equal (log_count (&a, "replaying 5 held publishes"), 1);
    assert_int_equal (log_count (&a, "redis lost ("), 1);
    assert_string_equal (claim_plain (&a, 2, "bo", verdict), "");
    //  Once each in Redis too: join and five lines.
    redisReply *reply = redis ("XLEN tcpchat:room:dev:log");
    assert_int_equal (reply->integer, 6);
    freeReplyObject (reply);
    room_leave (&dev);
    node_stop (&a);
}

/*  An entry written by someone else without our fields is logged and
    skipped; the next good one comes.                                    */
static void
test_bad_entry_skipped (void **state)
{
    (void) state;
    static node_t a;
    node_up (&a, "a", 10000);
    room_t dev;
    room_follow (&a, &dev, "dev", ROOM_SEQ, NULL, NULL);
    publish (&dev, 1, "join", "al", "");
    expect_entry (&dev, "join a/0000000000000001 al  1");
    freeReplyObject (redis ("XADD tcpchat:room:dev:log * k line m x/1"));
    freeReplyObject (redis ("XADD tcpchat:room:dev:log * k shout m x/1 n x t y ts z"));
    publish (&dev, 1, "line", "al", "after");
    expect_entry (&dev, "line a/0000000000000001 al after 1");
    assert_int_equal (log_count (&a, "bad entry"), 2);
    room_leave (&dev);
    node_stop (&a);
}

/*  No Redis at start: the node starts anyway, says it retries, refuses
    claims as "unavailable", and connects once Redis is there.           */
static void
test_start_without_redis (void **state)
{
    (void) state;
    static node_t a;
    assert_true (redis_server_stop (s_redis));
    node_start (&a, "a", 10000);
    log_wait (&a, "redis unavailable at 127.0.0.1:", 1);
    char verdict [32];
    assert_string_equal (claim_plain (&a, 1, "al", verdict), "unavailable");
    assert_true (redis_server_restart (s_redis));
    log_wait (&a, "redis connected at 127.0.0.1:", 1);
    assert_string_equal (claim_plain (&a, 1, "al", verdict), "");
    assert_int_equal (log_count (&a, "redis unavailable"), 1);
    node_stop (&a);
}

/*  The hub hears of the link for /metrics: LINK "0" while Redis is
    away, "1" once linked, "0" again when it goes, each change once.      */
static void
expect_link (node_t *node, bool up)
{
    for (int i = 0; i < 10; i++) {
        zmsg_t    *msg;
        msg_view_t view;
        expect_kind (node->hub, MSG_LINK, &msg, &view);
        bool got = msg_bool (&view, 0);
        zmsg_destroy (&msg);
        if (got == up)
            return;
    }
    fail_msg ("no LINK %d among ten", up);
}

static void
test_link_reports (void **state)
{
    (void) state;
    static node_t a;
    assert_true (redis_server_stop (s_redis));
    node_start (&a, "a", 10000);
    expect_link (&a, false);
    assert_true (redis_server_restart (s_redis));
    expect_link (&a, true);
    assert_true (redis_server_stop (s_redis));
    expect_link (&a, false);
    assert_true (redis_server_restart (s_redis));
    expect_link (&a, true);
    node_stop (&a);
}

/*  A room followed while Redis is away, its member joining meanwhile:
    once back, its STATE comes first and is as of before the join, so
    the join comes back to it as an entry (its joiner would wait forever
    otherwise).                                                          */
static void
test_follow_while_down (void **state)
{
    (void) state;
    static node_t a;
    node_up (&a, "a", 10000);
    assert_true (redis_server_stop (s_redis));
    log_wait (&a, "redis lost (", 1);
    room_t dev;
    char   endpoint [ENDPOINT_MAX + 1] = "@";
    endpoint_room_cluster (&a.config, ROOM_SEQ, endpoint + 1);
    dev.pipe = zsock_new_pair (endpoint);
    assert_non_null (dev.pipe);
    zsock_set_rcvtimeo (dev.pipe, WAIT_MS);
    zsock_set_sndtimeo (dev.pipe, WAIT_MS);
    send_msg (a.hub, msg_new_follow ("dev", endpoint + 1));
    publish (&dev, 1, "join", "al", "");
    usleep (300000);
    assert_true (redis_server_restart (s_redis));
    zmsg_t    *msg;
    msg_view_t view;
    expect_kind (dev.pipe, MSG_STATE, &msg, &view);
    assert_part_is (&view, 0, "");
    zmsg_destroy (&msg);
    expect_entry (&dev, "join a/0000000000000001 al  1");
    room_leave (&dev);
    node_stop (&a);
}

/*  Connections cut again and again while lines are published: publishes
    on the wire when a connection dies are sent again, and each applies
    once (the script skips a sequence number it has seen): every line
    arrives once, in order.                                              */
static void
test_cut_connections (void **state)
{
    (void) state;
    enum { LINES = 400 };
    static node_t a;
    node_up (&a, "a", 10000);
    room_t dev;
    room_follow (&a, &dev, "dev", ROOM_SEQ, NULL, NULL);
    publish (&dev, 1, "join", "al", "");
    expect_entry (&dev, "join a/0000000000000001 al  1");
    //  Each round while connected: lines on their way, then the cut.
    for (int i = 0; i < LINES; i++) {
        char text [16];
        snprintf (text, sizeof text, "%d", i);
        publish (&dev, 1, "line", "al", text);
        if (i % 40 == 39) {
            usleep ((useconds_t) (i % 3) * 300);
            freeReplyObject (redis ("CLIENT KILL TYPE normal SKIPME yes"));
            log_wait (&a, "redis regained after ", (i + 1) / 40);
        }
    }
    static char lines [LINES][256];
    expect_entries (&dev, LINES, lines, NULL);
    for (int i = 0; i < LINES; i++) {
        char want [64];
        snprintf (want, sizeof want, "line a/0000000000000001 al %d 1", i);
        assert_string_equal (lines [i], want);
    }
    redisReply *reply = redis ("XLEN tcpchat:room:dev:log");
    assert_int_equal (reply->integer, LINES + 1);
    freeReplyObject (reply);
    assert_true (log_count (&a, "redis lost (") >= 1);
    room_leave (&dev);
    node_stop (&a);
}

/*  Redis away and CLUSTER_HELD_MAX publishes held: the next is not
    taken (UNSENT to its room, for its member); the held ones all go out
    in order once Redis is back.                                         */
static void
test_held_cap (void **state)
{
    (void) state;
    static node_t a;
    node_up (&a, "a", 10000);
    room_t dev;
    room_follow (&a, &dev, "dev", ROOM_SEQ, NULL, NULL);
    publish (&dev, 1, "join", "al", "");
    expect_entry (&dev, "join a/0000000000000001 al  1");
    assert_true (redis_server_stop (s_redis));
    log_wait (&a, "redis lost (", 1);
    for (int i = 0; i <= CLUSTER_HELD_MAX; i++) {
        char text [16];
        snprintf (text, sizeof text, "%d", i);
        publish (&dev, 1, "line", "al", text);
    }
    expect_text (dev.pipe, MSG_UNSENT, 1, "line");
    assert_true (redis_server_restart (s_redis));
    static char lines [CLUSTER_HELD_MAX][256];
    expect_entries (&dev, CLUSTER_HELD_MAX, lines, NULL);
    for (int i = 0; i < CLUSTER_HELD_MAX; i++) {
        char want [64];
        snprintf (want, sizeof want, "line a/0000000000000001 al %d 1", i);
        assert_string_equal (lines [i], want);
    }
    log_wait (&a, "replaying 10000 held publishes", 1);
    room_leave (&dev);
    node_stop (&a);
}

/*  More entries than one XREAD brings (and than one batch holds): all
    come, in order, none twice.                                          */
static void
test_many_entries (void **state)
{
    (void) state;
    enum { LINES = 700 };
    static node_t a;
    node_up (&a, "a", 10000);
    room_t dev;
    room_follow (&a, &dev, "dev", ROOM_SEQ, NULL, NULL);
    publish (&dev, 1, "join", "al", "");
    for (int i = 0; i < LINES; i++) {
        char text [16];
        snprintf (text, sizeof text, "%d", i);
        publish (&dev, 1, "line", "al", text);
    }
    static char lines [LINES + 1][256];
    expect_entries (&dev, LINES + 1, lines, NULL);
    for (int i = 0; i < LINES; i++) {
        char want [64];
        snprintf (want, sizeof want, "line a/0000000000000001 al %d 1", i);
        assert_string_equal (lines [i + 1], want);
    }
    room_leave (&dev);
    node_stop (&a);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_state_at_attach, setup, teardown),
        cmocka_unit_test_setup_teardown (test_room_followed_at_start_is_read_at_once, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_order_two_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown (test_claim_races, setup, teardown),
        cmocka_unit_test_setup_teardown (test_claim_verdicts, setup, teardown),
        cmocka_unit_test_setup_teardown (test_private_and_rooms, setup, teardown),
        cmocka_unit_test_setup_teardown (test_lease_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown (test_own_leftovers, setup, teardown),
        cmocka_unit_test_setup_teardown (test_reconnection, setup, teardown),
        cmocka_unit_test_setup_teardown (test_bad_entry_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown (test_start_without_redis, setup, teardown),
        cmocka_unit_test_setup_teardown (test_link_reports, setup, teardown),
        cmocka_unit_test_setup_teardown (test_many_entries, setup, teardown),
        cmocka_unit_test_setup_teardown (test_follow_while_down, setup, teardown),
        cmocka_unit_test_setup_teardown (test_cut_connections, setup, teardown),
        cmocka_unit_test_setup_teardown (test_held_cap, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
