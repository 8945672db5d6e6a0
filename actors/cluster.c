/* SPDX-License-Identifier: MIT */
/*  cluster: the node's link to Redis. See cluster.h, docs/CLUSTER.md.

    Two hiredis async contexts, driven from our own zmq_poll: hiredis
    tells us through its event hooks (ev.addRead ...) which of POLLIN and
    POLLOUT it wants on each descriptor, and we call its handlers when
    zmq_poll says so. So nothing here waits on Redis: a slow or dead
    server only leaves replies pending, and a watchdog (no answer within
    CLUSTER_STALL_MS) treats that as a lost connection.

    Every command carries a req_t, and one callback (s_on_reply) switches
    on its kind. hiredis calls it with a NULL reply for every command
    still pending when a context goes: each kind then answers what it
    owes ("unavailable") or leaves its work held for the next connection.
    Contexts are only ever freed from the loop (s_link_break), never from
    inside a hiredis callback.                                           */
#include "cluster.h"
#include "endpoints.h"
#include "framer.h"
#include "log.h"
#include "mem.h"
#include "messages.h"
#include "names.h"
#include "protocol.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define BACKOFF_MIN_MS  100
#define BACKOFF_MAX_MS  5000
#define CONNECT_MAX_MS  2000 /* a connection not up by then is given up */
#define STALL_MS        5000 /* a reply owed longer than this: connection lost */
#define XREAD_BLOCK_MS  1000 /* a pending XREAD is cut short when its streams change */
#define XREAD_COUNT     "256"
#define BATCH_MAX       64                    /* messages read from one pipe per pass */
#define STOP_FLUSH_MS   1000                  /* at $TERM, for held publishes */
#define ENTRY_VALUE_MAX (LINE_MAX_BYTES + 64) /* a bigger field is a bad entry */
#define SCRIPT_ARGS_MAX 14

//  ---------------------------------------------------------------------
//  The scripts. Keys are built inside from the prefix: one Redis, not
//  Redis Cluster. Each runs atomically, so a stream entry and the state
//  it implies are never seen apart.

//  PUBLISH. ARGV: node seq room kind member name text stamp history
//  maxlen. Returns 1 if appended, 0 if not (already applied, or the
//  member is not (or already) in the room: a late publish for a member
//  a survivor reaped).
static const char *s_publish_lua =
    "local p = 'tcpchat:'\n"
    "local node, room, kind, m, n, t, ts = ARGV[1], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], "
    "ARGV[8]\n"
    "local pub = p .. 'node:' .. node .. ':pub'\n"
    "if tonumber(ARGV[2]) <= tonumber(redis.call('GET', pub) or '0') then return 0 end\n"
    "redis.call('SET', pub, ARGV[2])\n"
    "local r = p .. 'room:' .. room\n"
    "local nm = p .. 'node:' .. node .. ':members'\n"
    "local f = room .. '\\t' .. m\n"
    "local here = redis.call('HEXISTS', r .. ':members', m) == 1\n"
    "if kind == 'join' then\n"
    "  if here then return 0 end\n"
    "  redis.call('HSET', r .. ':members', m, n)\n"
    "  redis.call('HINCRBY', p .. 'rooms', room, 1)\n"
    "  redis.call('HSET', nm, f, n)\n"
    "elseif kind == 'leave' then\n"
    "  if not here then return 0 end\n"
    "  redis.call('HDEL', r .. ':members', m)\n"
    "  if redis.call('HINCRBY', p .. 'rooms', room, -1) <= 0 then\n"
    "    redis.call('HDEL', p .. 'rooms', room) end\n"
    "  redis.call('HDEL', nm, f)\n"
    "elseif kind == 'rename' then\n"
    "  if not here then return 0 end\n"
    "  redis.call('HSET', r .. ':members', m, t)\n"
    "  redis.call('HSET', nm, f, t)\n"
    "elseif kind == 'line' then\n"
    "  if not here then return 0 end\n"
    "  local h = tonumber(ARGV[9])\n"
    "  if h > 0 then\n"
    "    redis.call('RPUSH', r .. ':hist', ts .. '[' .. n .. ']:' .. t)\n"
    "    redis.call('LTRIM', r .. ':hist', -h, -1)\n"
    "  end\n"
    "else return 0 end\n"
    "redis.call('XADD', r .. ':log', 'MAXLEN', '~', ARGV[10], '*', 'k', kind, 'm', m, 'n', n, "
    "'t', t, 'ts', ts)\n"
    "return 1\n";

//  CLAIM. ARGV: node member name fold key0 key1. The three keys in
//  their own namespaces, as the hub's three tables: all free (or this
//  member's own) and taken at once, or none. "taken" when the fold key
//  is another's (every holder holds its fold key), else "lookalike".
static const char *s_claim_lua =
    "local p = 'tcpchat:'\n"
    "local mine = ARGV[2] .. ' '\n"
    "local h = mine .. ARGV[3]\n"
    "local keys = { p .. 'name:f:' .. ARGV[4], p .. 'name:0:' .. ARGV[5], p .. 'name:1:' .. "
    "ARGV[6] }\n"
    "for i = 1, 3 do\n"
    "  local v = redis.call('GET', keys[i])\n"
    "  if v and string.sub(v, 1, #mine) ~= mine then\n"
    "    if i == 1 then return 'taken' end\n"
    "    return 'lookalike'\n"
    "  end\n"
    "end\n"
    "for i = 1, 3 do redis.call('SET', keys[i], h) end\n"
    "redis.call('HSET', p .. 'node:' .. ARGV[1] .. ':names', h, cjson.encode(keys))\n"
    "return ''\n";

//  UNCLAIM. ARGV: node holder ("MEMBER NAME"). Deletes only the keys
//  still held under that name (a rename to a name with the same keys
//  holds them under the new one).
static const char *s_unclaim_lua =
    "local names = 'tcpchat:node:' .. ARGV[1] .. ':names'\n"
    "local ks = redis.call('HGET', names, ARGV[2])\n"
    "if not ks then return 0 end\n"
    "for _, k in ipairs(cjson.decode(ks)) do\n"
    "  if redis.call('GET', k) == ARGV[2] then redis.call('DEL', k) end\n"
    "end\n"
    "redis.call('HDEL', names, ARGV[2])\n"
    "return 1\n";

//  PRIVATE. ARGV: fold from text stamp maxlen. Into the target's node's
//  inbox, or "nouser".
static const char *s_private_lua =
    "local p = 'tcpchat:'\n"
    "local v = redis.call('GET', p .. 'name:f:' .. ARGV[1])\n"
    "if not v then return 'nouser' end\n"
    "local node, id = string.match(v, '^(.*)/(%x+) [^ ]*$')\n"
    "if not node then return 'nouser' end\n"
    "redis.call('XADD', p .. 'node:' .. node .. ':inbox', 'MAXLEN', '~', ARGV[5], '*', 'to', id, "
    "'from', ARGV[2], 'text', ARGV[3], 'ts', ARGV[4])\n"
    "return ''\n";

//  STATE. ARGV: room. Members, history, and the stream id they are as of.
static const char *s_state_lua =
    "local r = 'tcpchat:room:' .. ARGV[1]\n"
    "local last = redis.call('XREVRANGE', r .. ':log', '+', '-', 'COUNT', 1)\n"
    "local id = '0-0'\n"
    "if #last > 0 then id = last[1][1] end\n"
    "return { redis.call('HGETALL', r .. ':members'), redis.call('LRANGE', r .. ':hist', 0, -1), "
    "id }\n";

//  REGISTER (the heartbeat). ARGV: node lease_ms.
static const char *s_register_lua =
    "redis.call('SET', 'tcpchat:node:' .. ARGV[1], 'alive', 'PX', ARGV[2])\n"
    "redis.call('SADD', 'tcpchat:nodes', ARGV[1])\n"
    "return 1\n";

//  REAP. ARGV: me stamp maxlen self. self "1": reap this node's own
//  leftovers (at start); else every node of `nodes` whose lease is gone.
//  Each member leaves its room through the room's stream like any
//  leave; names are released; the node's keys go. One script: two
//  survivors reaping at once cannot both do it. Returns {node, left}...
static const char *s_reap_lua =
    "local p = 'tcpchat:'\n"
    "local function reap(node)\n"
    "  local nm = p .. 'node:' .. node .. ':members'\n"
    "  local mem = redis.call('HGETALL', nm)\n"
    "  local left = 0\n"
    "  for i = 1, #mem, 2 do\n"
    "    local room, m = string.match(mem[i], '^([^\\t]*)\\t(.*)$')\n"
    "    if room then\n"
    "      local r = p .. 'room:' .. room\n"
    "      if redis.call('HDEL', r .. ':members', m) == 1 then\n"
    "        if redis.call('HINCRBY', p .. 'rooms', room, -1) <= 0 then\n"
    "          redis.call('HDEL', p .. 'rooms', room) end\n"
    "        redis.call('XADD', r .. ':log', 'MAXLEN', '~', ARGV[3], '*', 'k', 'leave', 'm', m, "
    "'n', mem[i + 1], 't', '', 'ts', ARGV[2])\n"
    "        left = left + 1\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  local names = p .. 'node:' .. node .. ':names'\n"
    "  local held = redis.call('HGETALL', names)\n"
    "  for i = 1, #held, 2 do\n"
    "    for _, k in ipairs(cjson.decode(held[i + 1])) do\n"
    "      if redis.call('GET', k) == held[i] then redis.call('DEL', k) end\n"
    "    end\n"
    "  end\n"
    "  redis.call('SREM', p .. 'nodes', node)\n"
    "  redis.call('DEL', nm, names, p .. 'node:' .. node .. ':inbox', p .. 'node:' .. node .. "
    "':pub')\n"
    "  return left\n"
    "end\n"
    "local out = {}\n"
    "if ARGV[4] == '1' then\n"
    "  table.insert(out, ARGV[1]); table.insert(out, reap(ARGV[1]))\n"
    "else\n"
    "  for _, node in ipairs(redis.call('SMEMBERS', p .. 'nodes')) do\n"
    "    if node ~= ARGV[1] and redis.call('EXISTS', p .. 'node:' .. node) == 0 then\n"
    "      table.insert(out, node); table.insert(out, reap(node))\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

//  ---------------------------------------------------------------------
//  State

typedef enum { LINK_DOWN, LINK_CONNECTING, LINK_UP } link_state_t;

typedef enum {
    ROOM_NEED_STATE,  //  STATE not asked yet (Redis away)
    ROOM_STATE_ASKED,
    ROOM_LIVE,    //  STATE sent: its stream is read
    ROOM_RETIRED  //  a newer room of that name follows it: read its pipe only
} room_state_t;

typedef struct {
    uint64_t     uid;  //  ours, for replies that come after it is gone
    char         name [ROOM_MAX_CHARS + 1];
    char         stream [ROOM_MAX_CHARS + 32];  //  its stream's key
    zsock_t     *pipe;
    zlist_t     *queue;  //  zmsg_t owed to it, sent while POLLOUT
    room_state_t state;
    char         last [64];  //  stream id delivered up to
} room_t;

//  Work Redis must do even if the connection drops: held in order until
//  a reply says it was done (publishes are idempotent by sequence
//  number, unclaims by nature).
typedef struct {
    int    argc;
    char  *argv [SCRIPT_ARGS_MAX];
    size_t len [SCRIPT_ARGS_MAX];
    bool   publish;
} op_t;

typedef enum {
    REQ_SELECT,
    REQ_PING,
    REQ_CLIENT_ID,
    REQ_OP,
    REQ_CLAIM,
    REQ_ROOMS,
    REQ_PRIVATE,
    REQ_STATE,
    REQ_REGISTER,
    REQ_REAP,
    REQ_XREAD,
    REQ_UNBLOCK
} req_kind_t;

typedef struct _self_t self_t;

typedef struct {
    self_t    *self;
    req_kind_t kind;
    uint64_t   id;          //  the client (claim, rooms, private), or the room's uid
    char      *arg;         //  the claimed holder, for an unclaim if the answer is lost
    unsigned   generation;  //  the link it was sent on
} req_t;

struct _self_t {
    zsock_t *pipe;
    zsock_t *hub;
    log_t    log;
    int      history;
    char     host [CLUSTER_HOST_SIZE];
    int      port;
    int      db;
    char     node [CLUSTER_NODE_SIZE];
    int      lease_ms;
    int      block_ms;  //  XREAD BLOCK

    redisAsyncContext *cmd;                    //  commands, pipelined
    redisAsyncContext *rd;                     //  XREAD BLOCK
    short              cmd_events, rd_events;  //  what hiredis wants on each fd
    link_state_t       link;
    unsigned           generation;  //  bumped each connection
    bool               cmd_ready, rd_ready;
    bool               broken;
    char               why [LOG_REASON_SIZE];
    long long          rd_client;
    bool               ever_up, registered, lost;
    int64_t            lost_at, attempt_at, retry_at, backoff;
    int64_t            owed_since;  //  oldest reply owed on cmd (0: none)
    size_t             owed;
    int64_t            heartbeat_at, reap_at;

    zlistx_t *ops;  //  op_t, in order; the first ops_sent are on the wire
    size_t    ops_sent;
    size_t    held;  //  publishes in ops
    //  What the hub was last told of the link (LINK, for /metrics).
    int      reported_up;  //  -1: nothing yet
    size_t   reported_held;
    int64_t  report_at;  //  the next report of a changed held count
    uint64_t seq;        //  publishes numbered, for exactly-once

    zlist_t  *hub_queue;  //  zmsg_t owed to the hub
    zlistx_t *rooms;      //  room_t
    uint64_t  room_uids;
    char      inbox [CLUSTER_NODE_SIZE + 32];
    char      inbox_last [64];
    bool      xread_out;    //  an XREAD is pending
    bool      xread_stale;  //  its set of streams changed: unblock it
    bool      unblock_sent;
    int64_t   xread_at;
    bool      running;
    bool      stopping;  //  at $TERM: the link goes quietly
};

void
cluster_member_key (const char *node, uint64_t id, char out [CLUSTER_MEMBER_SIZE])
{
    snprintf (out, CLUSTER_MEMBER_SIZE, "%s/%016" PRIx64, node, id);
}

//  ---------------------------------------------------------------------
//  Queues

static void
s_room_destroy (room_t **room_p)
{
    room_t *room = *room_p;
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlist_pop (room->queue)))
        zmsg_destroy (&msg);
    zlist_destroy (&room->queue);
    zsock_destroy (&room->pipe);
    free (room);
    *room_p = NULL;
}

static void
s_op_destroy (op_t **op_p)
{
    op_t *op = *op_p;
    for (int i = 0; i < op->argc; i++)
        free (op->argv [i]);
    free (op);
    *op_p = NULL;
}

static void
s_hub_send (self_t *self, zmsg_t *msg)
{
    zlist_append (self->hub_queue, msg);
}

static void
s_room_send (room_t *room, zmsg_t *msg)
{
    zlist_append (room->queue, msg);
}

//  Sends what the peer can take now; true when the queue is empty.
static bool
s_flush (zlist_t *queue, zsock_t *sock)
{
    while (zlist_size (queue) && (zsock_events (sock) & ZMQ_POLLOUT)) {
        zmsg_t *msg = (zmsg_t *) zlist_pop (queue);
        msg_send (&msg, sock);
    }
    return zlist_size (queue) == 0;
}

static room_t *
s_room_by_uid (self_t *self, uint64_t uid)
{
    for (room_t *room = (room_t *) zlistx_first (self->rooms); room;
         room = (room_t *) zlistx_next (self->rooms))
        if (room->uid == uid)
            return room;
    return NULL;
}

//  The room whose stream this is and that reads it (not retired).
static room_t *
s_room_by_stream (self_t *self, const char *stream, size_t size)
{
    for (room_t *room = (room_t *) zlistx_first (self->rooms); room;
         room = (room_t *) zlistx_next (self->rooms))
        if (room->state == ROOM_LIVE && strlen (room->stream) == size &&
            memcmp (room->stream, stream, size) == 0)
            return room;
    return NULL;
}

//  ---------------------------------------------------------------------
//  Redis: commands

static void s_on_reply (redisAsyncContext *ac, void *reply, void *privdata);

static bool
s_command (self_t *self, redisAsyncContext *ac, req_kind_t kind, uint64_t id, const char *arg,
           int argc, const char **argv, const size_t *len)
{
    if (!ac || self->broken)
        return false;
    req_t *req = (req_t *) zmalloc (sizeof *req);
    req->self = self;
    req->kind = kind;
    req->id = id;
    req->arg = arg ? mem_check (strdup (arg)) : NULL;
    req->generation = self->generation;
    if (redisAsyncCommandArgv (ac, s_on_reply, req, argc, argv, len) != REDIS_OK) {
        free (req->arg);
        free (req);
        return false;
    }
    if (ac == self->cmd) {
        if (self->owed++ == 0)
            self->owed_since = zclock_mono ();
    }
    return true;
}

//  EVAL script 0 args... on the command connection.
static bool
s_eval (self_t *self, req_kind_t kind, uint64_t id, const char *arg, const char *script, int argc,
        const char **args, const size_t *lens)
{
    const char *argv [SCRIPT_ARGS_MAX + 3] = {"EVAL", script, "0"};
    size_t      len [SCRIPT_ARGS_MAX + 3] = {4, strlen (script), 1};
    assert (argc <= SCRIPT_ARGS_MAX);
    for (int i = 0; i < argc; i++) {
        argv [3 + i] = args [i];
        len [3 + i] = lens ? lens [i] : strlen (args [i]);
    }
    return s_command (self, self->cmd, kind, id, arg, argc + 3, argv, len);
}

static op_t *
s_op_new (bool publish, const char *script, int argc, const char **args, const size_t *lens)
{
    op_t *op = (op_t *) zmalloc (sizeof *op);
    op->publish = publish;
    op->argc = argc + 3;
    const char *head [3] = {"EVAL", script, "0"};
    for (int i = 0; i < op->argc; i++) {
        const char *text = i < 3 ? head [i] : args [i - 3];
        size_t      size = i < 3 || !lens ? strlen (text) : lens [i - 3];
        op->argv [i] = (char *) zmalloc (size + 1);
        memcpy (op->argv [i], text, size);
        op->len [i] = size;
    }
    return op;
}

//  Sends the held work not on the wire yet, in order.
static void
s_ops_pump (self_t *self)
{
    if (self->link != LINK_UP)
        return;
    size_t at = 0;
    for (op_t *op = (op_t *) zlistx_first (self->ops); op; op = (op_t *) zlistx_next (self->ops)) {
        if (at++ < self->ops_sent)
            continue;
        if (!s_command (self, self->cmd, REQ_OP, 0, NULL, op->argc, (const char **) op->argv,
                        op->len))
            break;
        self->ops_sent++;
    }
}

static void
s_op_hold (self_t *self, op_t *op)
{
    zlistx_add_end (self->ops, op);
    if (op->publish)
        self->held++;
    s_ops_pump (self);
}

static void
s_unclaim (self_t *self, const char *holder)
{
    const char *args [] = {self->node, holder};
    s_op_hold (self, s_op_new (false, s_unclaim_lua, 2, args, NULL));
}

static void
s_stamp (char out [STAMP_SIZE])
{
    stamp_format (time (NULL), out);
}

//  ---------------------------------------------------------------------
//  Redis: the link (both connections, up or down together)

static void
s_break (self_t *self, const char *why)
{
    if (!self->broken)
        snprintf (self->why, sizeof self->why, "%s", why);
    self->broken = true;
}

static void
s_ev_add_read (void *data)
{
    *(short *) data |= ZMQ_POLLIN;
}

static void
s_ev_del_read (void *data)
{
    *(short *) data &= (short) ~ZMQ_POLLIN;
}

static void
s_ev_add_write (void *data)
{
    *(short *) data |= ZMQ_POLLOUT;
}

static void
s_ev_del_write (void *data)
{
    *(short *) data &= (short) ~ZMQ_POLLOUT;
}

static void
s_ev_cleanup (void *data)
{
    *(short *) data = 0;
}

//  hiredis frees the context after these: forget it, the loop does the rest.
static void
s_on_connect (const redisAsyncContext *ac, int status)
{
    self_t *self = (self_t *) ac->data;
    if (status == REDIS_OK)
        return;
    if (ac == self->cmd)
        self->cmd = NULL;
    if (ac == self->rd)
        self->rd = NULL;
    s_break (self, ac->errstr [0] ? ac->errstr : "cannot connect");
}

static void
s_on_disconnect (const redisAsyncContext *ac, int status)
{
    (void) status;
    self_t *self = (self_t *) ac->data;
    if (ac != self->cmd && ac != self->rd)
        return;  //  One we are freeing ourselves
    if (ac == self->cmd)
        self->cmd = NULL;
    else
        self->rd = NULL;
    s_break (self, ac->err && ac->errstr [0] ? ac->errstr : "connection closed");
}

static redisAsyncContext *
s_connect (self_t *self, short *events)
{
    redisAsyncContext *ac = redisAsyncConnect (self->host, self->port);
    if (!ac)
        return NULL;
    if (ac->err) {
        s_break (self, ac->errstr);
        redisAsyncFree (ac);
        return NULL;
    }
    ac->data = self;
    *events = 0;
    ac->ev.data = events;
    ac->ev.addRead = s_ev_add_read;
    ac->ev.delRead = s_ev_del_read;
    ac->ev.addWrite = s_ev_add_write;
    ac->ev.delWrite = s_ev_del_write;
    ac->ev.cleanup = s_ev_cleanup;
    //  hiredis 0.14 waits for the first POLLOUT to see the connection
    //  made: this also asks for it.
    redisAsyncSetConnectCallback (ac, s_on_connect);
    redisAsyncSetDisconnectCallback (ac, s_on_disconnect);
    if (self->db) {
        char        db [16];
        const char *argv [] = {"SELECT", db};
        snprintf (db, sizeof db, "%d", self->db);
        size_t len [] = {6, strlen (db)};
        s_command (self, ac, REQ_SELECT, 0, NULL, 2, argv, len);
    }
    return ac;
}

static void
s_link_connect (self_t *self)
{
    self->generation++;
    self->broken = false;
    self->cmd_ready = self->rd_ready = false;
    self->owed = 0;
    self->xread_out = self->unblock_sent = false;
    self->link = LINK_CONNECTING;
    self->attempt_at = zclock_mono ();
    self->cmd = s_connect (self, &self->cmd_events);
    self->rd = self->cmd ? s_connect (self, &self->rd_events) : NULL;
    if (!self->cmd || !self->rd) {
        s_break (self, "cannot connect");
        return;
    }
    const char *ping [] = {"PING"};
    size_t      ping_len [] = {4};
    s_command (self, self->cmd, REQ_PING, 0, NULL, 1, ping, ping_len);
    const char *client [] = {"CLIENT", "ID"};
    size_t      client_len [] = {6, 2};
    s_command (self, self->rd, REQ_CLIENT_ID, 0, NULL, 2, client, client_len);
}

//  Frees both contexts (their pending commands get NULL replies now) and
//  schedules the next attempt.
static void
s_link_break (self_t *self)
{
    redisAsyncContext *cmd = self->cmd, *rd = self->rd;
    link_state_t       was = self->link;
    self->cmd = self->rd = NULL;
    self->link = LINK_DOWN;
    self->xread_out = false;
    self->ops_sent = 0;
    self->owed = 0;
    if (cmd)
        redisAsyncFree (cmd);
    if (rd)
        redisAsyncFree (rd);
    self->broken = false;
    int64_t now = zclock_mono ();
    if (self->stopping)
        return;
    if (was == LINK_UP) {
        log_info (&self->log, "redis lost (%s), retrying; %zu publishes held", self->why,
                  self->held);
        self->lost = true;
        self->lost_at = now;
        self->backoff = BACKOFF_MIN_MS;
    } else if (!self->ever_up && !self->lost) {
        log_info (&self->log,
                  "redis unavailable at %s:%d (%s): retrying; logins are refused until it "
                  "answers",
                  self->host, self->port, self->why);
        self->lost = true;
        self->lost_at = now;
    }
    self->retry_at = now + self->backoff;
    self->backoff = self->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : self->backoff * 2;
    //  A room that asked for its state asks again once back.
    for (room_t *room = (room_t *) zlistx_first (self->rooms); room;
         room = (room_t *) zlistx_next (self->rooms))
        if (room->state == ROOM_STATE_ASKED)
            room->state = ROOM_NEED_STATE;
}

static void
s_register (self_t *self)
{
    char        lease [16];
    const char *args [] = {self->node, lease};
    snprintf (lease, sizeof lease, "%d", self->lease_ms);
    s_eval (self, REQ_REGISTER, 0, NULL, s_register_lua, 2, args, NULL);
    self->heartbeat_at = zclock_mono () + self->lease_ms / 3;
}

static void
s_reap (self_t *self, bool own)
{
    char        stamp [STAMP_SIZE], maxlen [16];
    const char *args [] = {self->node, stamp, maxlen, own ? "1" : "0"};
    s_stamp (stamp);
    snprintf (maxlen, sizeof maxlen, "%d", CLUSTER_STREAM_MAX);
    s_eval (self, REQ_REAP, own, NULL, s_reap_lua, 4, args, NULL);
    self->reap_at = zclock_mono () + self->lease_ms / 2;
}

static void
s_ask_state (self_t *self, room_t *room)
{
    const char *args [] = {room->name};
    if (s_eval (self, REQ_STATE, room->uid, NULL, s_state_lua, 1, args, NULL))
        room->state = ROOM_STATE_ASKED;
}

static void
s_link_up (self_t *self)
{
    self->link = LINK_UP;
    self->backoff = BACKOFF_MIN_MS;
    int64_t away = (zclock_mono () - self->lost_at + 500) / 1000;
    if (self->lost && self->ever_up)
        log_info (&self->log, "redis regained after %" PRId64 " s, replaying %zu held publishes",
                  away, self->held);
    else if (self->lost)
        log_info (&self->log, "redis connected at %s:%d as node %s after %" PRId64 " s", self->host,
                  self->port, self->node, away);
    else
        log_info (&self->log, "redis connected at %s:%d as node %s", self->host, self->port,
                  self->node);
    self->lost = false;
    //  Before anything of ours: what a previous run under our name left
    //  (its clients are gone), then the lease.
    if (!self->registered)
        s_reap (self, true);
    s_register (self);
    //  Back after an outage, the other nodes may not have renewed their
    //  leases yet (Redis was away for them too): they get one lease to
    //  do so before we reap anyone.
    if (self->ever_up)
        self->reap_at = zclock_mono () + self->lease_ms;
    else
        s_reap (self, false);
    self->ever_up = true;
    //  A room's state before its held publishes: its own join must come
    //  after the stream id its STATE is as of, or it would never see it.
    for (room_t *room = (room_t *) zlistx_first (self->rooms); room;
         room = (room_t *) zlistx_next (self->rooms))
        if (room->state == ROOM_NEED_STATE)
            s_ask_state (self, room);
    s_ops_pump (self);
}

//  ---------------------------------------------------------------------
//  Redis: reading the streams

//  A field of a stream entry's flat field list, or NULL.
static redisReply *
s_field (redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        redisReply *key = fields->element [i];
        if (key->type == REDIS_REPLY_STRING && strcmp (key->str, name) == 0 &&
            fields->element [i + 1]->type == REDIS_REPLY_STRING)
            return fields->element [i + 1];
    }
    return NULL;
}

static msg_part_t
s_part (redisReply *reply)
{
    msg_part_t part = {reply->str, reply->len};
    return part;
}

static bool
s_known_kind (const char *kind)
{
    return strcmp (kind, "line") == 0 || strcmp (kind, "join") == 0 ||
           strcmp (kind, "leave") == 0 || strcmp (kind, "rename") == 0;
}

//  The local id of member "NODE/ID" if NODE is us, else 0.
static uint64_t
s_local_id (self_t *self, const char *member, size_t size)
{
    size_t node = strlen (self->node);
    if (size != node + 17 || memcmp (member, self->node, node) != 0 || member [node] != '/')
        return 0;
    char hex [17];
    memcpy (hex, member + node + 1, 16);
    hex [16] = 0;
    char    *end;
    uint64_t id = strtoull (hex, &end, 16);
    return *end ? 0 : id;
}

static void
s_room_entries (self_t *self, room_t *room, redisReply *entries)
{
    zchunk_t *batch = zchunk_new (NULL, 0);
    for (size_t i = 0; i < entries->elements; i++) {
        redisReply *entry = entries->element [i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
            entry->element [0]->type != REDIS_REPLY_STRING)
            continue;
        redisReply *id = entry->element [0], *fields = entry->element [1];
        snprintf (room->last, sizeof room->last, "%s", id->str);
        redisReply *k = NULL, *m = NULL, *n = NULL, *t = NULL, *ts = NULL;
        if (fields->type == REDIS_REPLY_ARRAY) {
            k = s_field (fields, "k"), m = s_field (fields, "m"), n = s_field (fields, "n");
            t = s_field (fields, "t"), ts = s_field (fields, "ts");
        }
        if (!k || !m || !n || !t || !ts || !s_known_kind (k->str) || m->len > ENTRY_VALUE_MAX ||
            n->len > ENTRY_VALUE_MAX || t->len > ENTRY_VALUE_MAX || ts->len > ENTRY_VALUE_MAX) {
            log_info (&self->log, "E: bad entry %s in %s skipped", id->str, room->stream);
            continue;
        }
        msg_entry_t out = {s_part (k),
                           s_part (m),
                           s_part (n),
                           s_part (t),
                           s_part (ts),
                           s_part (id),
                           s_local_id (self, m->str, m->len)};
        msg_entries_add (batch, &out);
    }
    if (zchunk_size (batch))
        s_room_send (room, msg_new_entries (batch));
    zchunk_destroy (&batch);
}

static void
s_inbox_entries (self_t *self, redisReply *entries)
{
    for (size_t i = 0; i < entries->elements; i++) {
        redisReply *entry = entries->element [i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
            entry->element [0]->type != REDIS_REPLY_STRING)
            continue;
        redisReply *id = entry->element [0], *fields = entry->element [1];
        snprintf (self->inbox_last, sizeof self->inbox_last, "%s", id->str);
        redisReply *to = NULL, *from = NULL, *text = NULL, *ts = NULL;
        if (fields->type == REDIS_REPLY_ARRAY) {
            to = s_field (fields, "to"), from = s_field (fields, "from");
            text = s_field (fields, "text"), ts = s_field (fields, "ts");
        }
        char    *end = NULL;
        uint64_t target = to ? strtoull (to->str, &end, 16) : 0;
        if (!to || !from || !text || !ts || *end || !target || from->len > NAME_MAX_BYTES ||
            text->len > ENTRY_VALUE_MAX || ts->len >= STAMP_SIZE) {
            log_info (&self->log, "E: bad entry %s in %s skipped", id->str, self->inbox);
            continue;
        }
        s_hub_send (self, msg_new_deliver (target, from->str, text->str, text->len, ts->str));
    }
}

static void
s_on_xread (self_t *self, redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY)
        return;  //  nil: timed out or unblocked
    for (size_t i = 0; i < reply->elements; i++) {
        redisReply *stream = reply->element [i];
        if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 ||
            stream->element [0]->type != REDIS_REPLY_STRING ||
            stream->element [1]->type != REDIS_REPLY_ARRAY)
            continue;
        redisReply *key = stream->element [0];
        if (strcmp (key->str, self->inbox) == 0)
            s_inbox_entries (self, stream->element [1]);
        else {
            room_t *room = s_room_by_stream (self, key->str, key->len);
            if (room)  //  Else stopped since: its entries are no one's
                s_room_entries (self, room, stream->element [1]);
        }
    }
}

//  XREAD the streams whose readers can take more: every live room with
//  an empty queue, and the inbox while the hub's queue is empty.
static void
s_xread (self_t *self)
{
    if (self->link != LINK_UP || self->xread_out || self->broken || !self->rd || !self->registered)
        return;
    size_t       rooms = zlistx_size (self->rooms);
    const char **argv = (const char **) zmalloc ((6 + 2 * (rooms + 1)) * sizeof *argv);
    size_t      *len = (size_t *) zmalloc ((6 + 2 * (rooms + 1)) * sizeof *len);
    char         block [16];
    snprintf (block, sizeof block, "%d", self->block_ms);
    const char *head [] = {"XREAD", "COUNT", XREAD_COUNT, "BLOCK", block, "STREAMS"};
    int         argc = 6;
    memcpy (argv, head, sizeof head);
    const char *ids [rooms + 1];
    size_t      streams = 0;
    if (zlist_size (self->hub_queue) == 0) {
        argv [argc++] = self->inbox;
        ids [streams++] = self->inbox_last;
    }
    for (room_t *room = (room_t *) zlistx_first (self->rooms); room;
         room = (room_t *) zlistx_next (self->rooms))
        if (room->state == ROOM_LIVE && zlist_size (room->queue) == 0) {
            argv [argc++] = room->stream;
            ids [streams++] = room->last;
        }
    for (size_t i = 0; i < streams; i++)
        argv [argc++] = ids [i];
    for (int i = 0; i < argc; i++)
        len [i] = strlen (argv [i]);
    if (streams && s_command (self, self->rd, REQ_XREAD, 0, NULL, argc, argv, len)) {
        self->xread_out = true;
        self->xread_stale = false;
        self->xread_at = zclock_mono ();
    }
    free (argv);
    free (len);
}

//  The set of streams to read changed: an XREAD pending returns at once.
static void
s_xread_refresh (self_t *self)
{
    if (!self->xread_out) {
        s_xread (self);
        return;
    }
    self->xread_stale = true;
    if (self->link == LINK_UP && !self->unblock_sent && self->rd_client > 0) {
        char        id [32];
        const char *argv [] = {"CLIENT", "UNBLOCK", id};
        snprintf (id, sizeof id, "%lld", self->rd_client);
        size_t len [] = {6, 7, strlen (id)};
        if (s_command (self, self->cmd, REQ_UNBLOCK, 0, NULL, 3, argv, len))
            self->unblock_sent = true;
    }
}

//  ---------------------------------------------------------------------
//  Redis: replies

static void
s_on_state (self_t *self, room_t *room, redisReply *reply)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element [0]->type != REDIS_REPLY_ARRAY ||
        reply->element [1]->type != REDIS_REPLY_ARRAY ||
        reply->element [2]->type != REDIS_REPLY_STRING) {
        if (reply)
            log_info (&self->log, "E: no state for room %s: %s", room->name,
                      reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
        room->state = ROOM_NEED_STATE;
        return;
    }
    zchunk_t   *members = zchunk_new (NULL, 0), *history = zchunk_new (NULL, 0);
    redisReply *flat = reply->element [0], *lines = reply->element [1];
    for (size_t i = 0; i + 1 < flat->elements; i += 2) {
        redisReply *key = flat->element [i], *name = flat->element [i + 1];
        if (key->type != REDIS_REPLY_STRING || name->type != REDIS_REPLY_STRING ||
            memchr (key->str, '\t', key->len) || memchr (key->str, '\n', key->len) ||
            memchr (name->str, '\n', name->len))
            continue;
        zchunk_extend (members, key->str, key->len);
        zchunk_extend (members, "\t", 1);
        zchunk_extend (members, name->str, name->len);
        zchunk_extend (members, "\n", 1);
    }
    for (size_t i = 0; i < lines->elements; i++) {
        redisReply *line = lines->element [i];
        if (line->type != REDIS_REPLY_STRING || memchr (line->str, '\n', line->len))
            continue;
        zchunk_extend (history, line->str, line->len);
        zchunk_extend (history, "\n", 1);
    }
    snprintf (room->last, sizeof room->last, "%s", reply->element [2]->str);
    s_room_send (room, msg_new_state ((const char *) zchunk_data (members), zchunk_size (members),
                                      (const char *) zchunk_data (history), zchunk_size (history),
                                      room->last));
    zchunk_destroy (&members);
    zchunk_destroy (&history);
    room->state = ROOM_LIVE;
    s_xread_refresh (self);
}

static void
s_on_roomlist (self_t *self, uint64_t id, redisReply *reply)
{
    zchunk_t *lines = zchunk_new (NULL, 0);
    if (reply && reply->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i + 1 < reply->elements; i += 2) {
            redisReply *room = reply->element [i], *count = reply->element [i + 1];
            if (room->type != REDIS_REPLY_STRING || count->type != REDIS_REPLY_STRING ||
                room_name_problem (room->str, room->len))
                continue;
            zchunk_extend (lines, room->str, room->len);
            zchunk_extend (lines, "\t", 1);
            zchunk_extend (lines, count->str, count->len);
            zchunk_extend (lines, "\n", 1);
        }
    s_hub_send (self,
                msg_new_roomlist (id, (const char *) zchunk_data (lines), zchunk_size (lines)));
    zchunk_destroy (&lines);
}

static void
s_on_reaped (self_t *self, bool own, redisReply *reply)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        redisReply *node = reply->element [i], *left = reply->element [i + 1];
        if (node->type != REDIS_REPLY_STRING || left->type != REDIS_REPLY_INTEGER)
            continue;
        if (own && left->integer == 0)
            continue;
        log_info (&self->log, "reaped %s node %s: %lld member%s left",
                  own ? "our previous" : "dead", node->str, left->integer,
                  left->integer == 1 ? "" : "s");
    }
}

//  A string verdict ("" included), or NULL for anything else.
static const char *
s_verdict (redisReply *reply)
{
    return reply && reply->type == REDIS_REPLY_STRING ? reply->str : NULL;
}

static void
s_log_error (self_t *self, const char *what, redisReply *reply)
{
    if (reply && reply->type == REDIS_REPLY_ERROR)
        log_info (&self->log, "E: redis refused %s: %s", what, reply->str);
}

static void
s_handle_reply (self_t *self, req_t *req, redisReply *reply, bool current)
{
    switch (req->kind) {
        case REQ_SELECT:
        case REQ_REGISTER:
            s_log_error (self, "a command", reply);
            break;
        case REQ_UNBLOCK:
            s_log_error (self, "a command", reply);
            //  0: the reader was not blocked yet. Our XREAD and this went
            //  on two connections, so it can come first; ask again until
            //  that XREAD blocks (then 1) or answers.
            if (reply && current && reply->type == REDIS_REPLY_INTEGER && reply->integer == 0 &&
                self->xread_out && self->xread_stale) {
                self->unblock_sent = false;
                s_xread_refresh (self);
            }
            break;
        case REQ_PING:
            if (reply && current && reply->type == REDIS_REPLY_STATUS)
                self->cmd_ready = true;
            break;
        case REQ_CLIENT_ID:
            if (reply && current && reply->type == REDIS_REPLY_INTEGER) {
                self->rd_client = reply->integer;
                self->rd_ready = true;
                //  A room that went live before we knew this id could not
                //  cut the XREAD short: do it now, or it waits its block.
                if (self->xread_out && self->xread_stale)
                    s_xread_refresh (self);
            }
            break;
        case REQ_OP:
            //  No reply: the op stays held for the next connection.
            if (reply && current) {
                s_log_error (self, "a held publish", reply);
                op_t *op = (op_t *) zlistx_first (self->ops);
                assert (op && self->ops_sent > 0);
                zlistx_delete (self->ops, zlistx_cursor (self->ops));
                if (op->publish)
                    self->held--;
                s_op_destroy (&op);
                self->ops_sent--;
            }
            break;
        case REQ_CLAIM: {
            const char *verdict = s_verdict (reply);
            if (!verdict) {
                s_log_error (self, "a claim", reply);
                //  It may have been done: release it, after anything held.
                if (!reply)
                    s_unclaim (self, req->arg);
                verdict = "unavailable";
            }
            s_hub_send (self, msg_new_claimed (req->id, verdict));
            break;
        }
        case REQ_ROOMS:
            s_log_error (self, "a room list", reply);
            s_on_roomlist (self, req->id, reply);
            break;
        case REQ_PRIVATE: {
            const char *verdict = s_verdict (reply);
            if (!verdict)
                s_log_error (self, "a private message", reply);
            s_hub_send (self, msg_new_privated (req->id, verdict ? verdict : "unavailable"));
            break;
        }
        case REQ_STATE: {
            room_t *room = s_room_by_uid (self, req->id);
            if (room && room->state == ROOM_STATE_ASKED)
                s_on_state (self, room, current ? reply : NULL);
            break;
        }
        case REQ_REAP:
            s_log_error (self, "a reap", reply);
            //  Our inbox is read once our old one is gone: its messages
            //  were for clients whose ids this run may give again.
            if (current && req->id && reply->type == REDIS_REPLY_ARRAY)
                self->registered = true;
            s_on_reaped (self, req->id != 0, reply);
            break;
        case REQ_XREAD:
            if (!current)
                break;
            self->xread_out = false;
            self->unblock_sent = false;
            if (reply)
                s_on_xread (self, reply);
            break;
    }
}

static void
s_on_reply (redisAsyncContext *ac, void *reply, void *privdata)
{
    req_t  *req = (req_t *) privdata;
    self_t *self = req->self;
    bool    current = req->generation == self->generation;
    if (ac == self->cmd && current && self->owed) {
        self->owed--;
        self->owed_since = self->owed ? zclock_mono () : 0;
    }
    if (!reply && current)
        s_break (self, "connection closed");
    s_handle_reply (self, req, (redisReply *) reply, current && reply);
    free (req->arg);
    free (req);
}

//  ---------------------------------------------------------------------
//  The hub's and the rooms' messages

static void
s_handle_claim (self_t *self, const msg_view_t *view)
{
    char *name = msg_strdup (view, 0), *key0 = msg_strdup (view, 1);
    char *key1 = msg_strdup (view, 2), *fold = msg_strdup (view, 3);
    char  member [CLUSTER_MEMBER_SIZE], holder [CLUSTER_MEMBER_SIZE + NAME_MAX_BYTES + 2];
    cluster_member_key (self->node, view->id, member);
    snprintf (holder, sizeof holder, "%s %s", member, name);
    const char *args [] = {self->node, member, name, fold, key0, key1};
    if (self->link != LINK_UP ||
        !s_eval (self, REQ_CLAIM, view->id, holder, s_claim_lua, 6, args, NULL))
        s_hub_send (self, msg_new_claimed (view->id, "unavailable"));
    free (name), free (key0), free (key1), free (fold);
}

static void
s_handle_unclaim (self_t *self, const msg_view_t *view)
{
    char *name = msg_strdup (view, 0);
    char  member [CLUSTER_MEMBER_SIZE], holder [CLUSTER_MEMBER_SIZE + NAME_MAX_BYTES + 2];
    cluster_member_key (self->node, view->id, member);
    snprintf (holder, sizeof holder, "%s %s", member, name);
    s_unclaim (self, holder);
    free (name);
}

static void
s_handle_rooms (self_t *self, const msg_view_t *view)
{
    const char *argv [] = {"HGETALL", "tcpchat:rooms"};
    size_t      len [] = {7, 13};
    if (self->link != LINK_UP ||
        !s_command (self, self->cmd, REQ_ROOMS, view->id, NULL, 2, argv, len))
        s_on_roomlist (self, view->id, NULL);
}

static void
s_handle_private (self_t *self, const msg_view_t *view)
{
    char fold [NAME_MAX_BYTES + 1], maxlen [16];
    if (view->part [1].size > NAME_MAX_BYTES) {
        s_hub_send (self, msg_new_privated (view->id, "nouser"));
        return;
    }
    name_fold (view->part [1].data, view->part [1].size, fold);
    snprintf (maxlen, sizeof maxlen, "%d", CLUSTER_STREAM_MAX);
    const char *args [] = {fold, view->part [0].data, view->part [2].data, view->part [3].data,
                           maxlen};
    size_t lens [] = {strlen (fold), view->part [0].size, view->part [2].size, view->part [3].size,
                      strlen (maxlen)};
    if (self->link != LINK_UP ||
        !s_eval (self, REQ_PRIVATE, view->id, NULL, s_private_lua, 5, args, lens))
        s_hub_send (self, msg_new_privated (view->id, "unavailable"));
}

static void
s_handle_follow (self_t *self, const msg_view_t *view)
{
    char *name = msg_strdup (view, 0), *endpoint = msg_strdup (view, 1);
    if (room_name_problem (name, strlen (name))) {
        log_info (&self->log, "E: FOLLOW of a bad room name dropped");
        free (name), free (endpoint);
        return;
    }
    zsock_t *pipe = msg_pipe_new (endpoint, false);
    if (!pipe)
        log_info (&self->log, "E: cannot connect to room %s at %s: %s", name, endpoint,
                  strerror (errno));
    else {
        //  A room of that name still stopping reads nothing from now on.
        for (room_t *old = (room_t *) zlistx_first (self->rooms); old;
             old = (room_t *) zlistx_next (self->rooms))
            if (strcmp (old->name, name) == 0)
                old->state = ROOM_RETIRED;
        room_t *room = (room_t *) zmalloc (sizeof *room);
        room->uid = ++self->room_uids;
        snprintf (room->name, sizeof room->name, "%s", name);
        snprintf (room->stream, sizeof room->stream, "tcpchat:room:%s:log", name);
        room->pipe = pipe;
        room->queue = zlist_new ();
        room->state = ROOM_NEED_STATE;
        zlistx_add_end (self->rooms, room);
        if (self->link == LINK_UP)
            s_ask_state (self, room);
    }
    free (name), free (endpoint);
}

static void
s_handle_publish (self_t *self, room_t *room, const msg_view_t *view)
{
    char kind [16];
    snprintf (kind, sizeof kind, "%.*s", (int) view->part [0].size, view->part [0].data);
    if (!s_known_kind (kind) || view->part [3].size >= STAMP_SIZE) {
        log_info (&self->log, "E: bad PUBLISH from room %s dropped", room->name);
        return;
    }
    if (self->held >= CLUSTER_HELD_MAX) {
        s_room_send (room, msg_new_unsent (view->id, kind));
        return;
    }
    char member [CLUSTER_MEMBER_SIZE], seq [24], history [16], maxlen [16];
    cluster_member_key (self->node, view->id, member);
    snprintf (seq, sizeof seq, "%" PRIu64, ++self->seq);
    snprintf (history, sizeof history, "%d", self->history);
    snprintf (maxlen, sizeof maxlen, "%d", CLUSTER_STREAM_MAX);
    const char *args [] = {self->node,
                           seq,
                           room->name,
                           kind,
                           member,
                           view->part [1].data,
                           view->part [2].data,
                           view->part [3].data,
                           history,
                           maxlen};
    size_t      lens [] = {strlen (self->node), strlen (seq),        strlen (room->name),
                           strlen (kind),       strlen (member),     view->part [1].size,
                           view->part [2].size, view->part [3].size, strlen (history),
                           strlen (maxlen)};
    s_op_hold (self, s_op_new (true, s_publish_lua, 10, args, lens));
}

static void
s_handle_hub (self_t *self)
{
    for (int n = 0; n < BATCH_MAX && (zsock_events (self->hub) & ZMQ_POLLIN); n++) {
        zmsg_t *msg = msg_recv (self->hub);
        if (!msg)
            return;
        msg_view_t view;
        msg_parse (msg, &view);
        switch (view.kind) {
            case MSG_CLAIM:
                s_handle_claim (self, &view);
                break;
            case MSG_UNCLAIM:
                s_handle_unclaim (self, &view);
                break;
            case MSG_ROOMS:
                s_handle_rooms (self, &view);
                break;
            case MSG_PRIVATE:
                s_handle_private (self, &view);
                break;
            case MSG_FOLLOW:
                s_handle_follow (self, &view);
                break;
            case MSG_PUBLISH:  //  On a room's pipe only
            case MSG_BYE:
            case MSG_TERM:
            case MSG_LINE:
            case MSG_STORED:
            MSG_NOT_FOR_CLUSTER:
                msg_drop (&self->log, &view);
                break;
        }
        zmsg_destroy (&msg);
    }
}

//  A room's messages; false once it said BYE.
static bool
s_handle_room (self_t *self, room_t *room)
{
    for (int n = 0; n < BATCH_MAX && (zsock_events (room->pipe) & ZMQ_POLLIN); n++) {
        zmsg_t *msg = msg_recv (room->pipe);
        if (!msg)
            return true;
        msg_view_t view;
        msg_parse (msg, &view);
        bool bye = false;
        switch (view.kind) {
            case MSG_PUBLISH:
                s_handle_publish (self, room, &view);
                break;
            case MSG_BYE:
                bye = true;
                break;
            case MSG_CLAIM:
            case MSG_UNCLAIM:
            case MSG_ROOMS:
            case MSG_PRIVATE:
            case MSG_FOLLOW:
            case MSG_TERM:
            case MSG_LINE:
            case MSG_STORED:
            MSG_NOT_FOR_CLUSTER:
                msg_drop (&self->log, &view);
                break;
        }
        zmsg_destroy (&msg);
        if (bye)
            return false;
    }
    return true;
}

//  ---------------------------------------------------------------------
//  The actor

static self_t *
s_self_new (zsock_t *pipe, cluster_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    log_setup (&self->log, &args->config, "cluster");
    self->history = args->config.history;
    snprintf (self->host, sizeof self->host, "%s", args->host);
    self->port = args->port;
    self->db = args->db;
    snprintf (self->node, sizeof self->node, "%s", args->node);
    self->lease_ms = args->lease_ms > 0 ? args->lease_ms : 10000;
    self->reported_up = -1;
    self->block_ms = args->block_ms > 0 ? args->block_ms : XREAD_BLOCK_MS;
    snprintf (self->inbox, sizeof self->inbox, "tcpchat:node:%s:inbox", self->node);
    snprintf (self->inbox_last, sizeof self->inbox_last, "0-0");
    self->backoff = BACKOFF_MIN_MS;
    self->ops = zlistx_new ();
    self->rooms = zlistx_new ();
    self->hub_queue = zlist_new ();
    char endpoint [ENDPOINT_MAX];
    endpoint_cluster (&args->config, endpoint);
    self->hub = msg_pipe_new (endpoint, false);
    if (!self->hub) {
        log_info (&self->log, "E: cannot connect to the hub at %s: %s", endpoint, strerror (errno));
        zlistx_destroy (&self->ops);
        zlistx_destroy (&self->rooms);
        zlist_destroy (&self->hub_queue);
        free (self);
        return NULL;
    }
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    self->stopping = true;
    s_link_break (self);  //  Pending commands see NULL replies while self is whole
    op_t *op;
    while ((op = (op_t *) zlistx_detach (self->ops, NULL)))
        s_op_destroy (&op);
    zlistx_destroy (&self->ops);
    room_t *room;
    while ((room = (room_t *) zlistx_detach (self->rooms, NULL)))
        s_room_destroy (&room);
    zlistx_destroy (&self->rooms);
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlist_pop (self->hub_queue)))
        zmsg_destroy (&msg);
    zlist_destroy (&self->hub_queue);
    zsock_destroy (&self->hub);
    free (self);
    *self_p = NULL;
}

static void
s_handle_pipe (self_t *self)
{
    zmsg_t *msg = msg_recv (self->pipe);
    if (!msg || msg_is_term (msg, &self->log))
        self->running = false;
    zmsg_destroy (&msg);
}

//  Feeds hiredis what zmq_poll saw on a context's descriptor.
static void
s_redis_io (self_t *self, redisAsyncContext **ac_p, short revents)
{
    if (*ac_p && (revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
        redisAsyncHandleRead (*ac_p);
    if (*ac_p && (revents & (ZMQ_POLLOUT | ZMQ_POLLERR)))
        redisAsyncHandleWrite (*ac_p);
    (void) self;
}

//  Tells the hub the link's state for /metrics: at once when it goes up
//  or down, a changed held count at most once a second.
static void
s_link_report (self_t *self, int64_t now)
{
    int up = self->link == LINK_UP;
    if (up == self->reported_up && (self->held == self->reported_held || now < self->report_at))
        return;
    self->reported_up = up;
    self->reported_held = self->held;
    self->report_at = now + 1000;
    s_hub_send (self, msg_new_link (up, self->held));
}

//  Timers and the link's state; the poll timeout until the next one.
static long
s_tick (self_t *self)
{
    int64_t now = zclock_mono ();
    if (self->link == LINK_CONNECTING && !self->broken) {
        if (self->cmd_ready && self->rd_ready)
            s_link_up (self);
        else if (now - self->attempt_at > CONNECT_MAX_MS)
            s_break (self, "no answer");
    }
    if (self->link == LINK_UP && !self->broken) {
        if (self->owed && now - self->owed_since > STALL_MS)
            s_break (self, "no answer within 5 s");
        if (self->xread_out && now - self->xread_at > self->block_ms + STALL_MS)
            s_break (self, "no answer within 5 s");
    }
    if (self->broken)
        s_link_break (self);
    if (self->link == LINK_DOWN && now >= self->retry_at)
        s_link_connect (self);
    if (self->broken)  //  Could not even start connecting
        s_link_break (self);
    int64_t next = now + 1000;
    if (self->link == LINK_UP) {
        if (now >= self->heartbeat_at)
            s_register (self);
        if (now >= self->reap_at)
            s_reap (self, false);
        next = self->heartbeat_at < next ? self->heartbeat_at : next;
        next = self->reap_at < next ? self->reap_at : next;
    } else if (self->link == LINK_DOWN)
        next = self->retry_at < next ? self->retry_at : next;
    else
        next = now + 50;  //  Connecting: look again soon
    s_link_report (self, now);
    return next > now ? (long) (next - now) : 0;
}

//  Flushes the queues; a room or the inbox that drained is read again.
static void
s_flush_all (self_t *self)
{
    bool was = zlist_size (self->hub_queue) > 0;
    bool drained = s_flush (self->hub_queue, self->hub) && was;
    for (room_t *room = (room_t *) zlistx_first (self->rooms); room;
         room = (room_t *) zlistx_next (self->rooms)) {
        was = zlist_size (room->queue) > 0;
        if (s_flush (room->queue, room->pipe) && was && room->state == ROOM_LIVE)
            drained = true;
    }
    if (drained)
        s_xread_refresh (self);
    else
        s_xread (self);
}

static void
s_run (self_t *self)
{
    self->running = true;
    long timeout = 0;
    while (self->running) {
        size_t         rooms = zlistx_size (self->rooms);
        zmq_pollitem_t items [4 + rooms];
        room_t        *polled [rooms + 1];
        int            n = 0;
        items [n++] = (zmq_pollitem_t){zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0};
        items [n++] = (zmq_pollitem_t){
            zsock_resolve (self->hub), 0,
            (short) (ZMQ_POLLIN | (zlist_size (self->hub_queue) ? ZMQ_POLLOUT : 0)), 0};
        int cmd_at = -1, rd_at = -1;
        if (self->cmd) {
            cmd_at = n;
            items [n++] = (zmq_pollitem_t){NULL, self->cmd->c.fd, self->cmd_events, 0};
        }
        if (self->rd) {
            rd_at = n;
            items [n++] = (zmq_pollitem_t){NULL, self->rd->c.fd, self->rd_events, 0};
        }
        int first_room = n;
        for (room_t *room = (room_t *) zlistx_first (self->rooms); room;
             room = (room_t *) zlistx_next (self->rooms)) {
            polled [n - first_room] = room;
            items [n++] = (zmq_pollitem_t){
                zsock_resolve (room->pipe), 0,
                (short) (ZMQ_POLLIN | (zlist_size (room->queue) ? ZMQ_POLLOUT : 0)), 0};
        }
        if (zmq_poll (items, n, timeout) < 0 && errno != EINTR)
            break;
        if (items [0].revents & ZMQ_POLLIN) {
            s_handle_pipe (self);
            if (!self->running)
                break;
        }
        if (cmd_at >= 0)
            s_redis_io (self, &self->cmd, items [cmd_at].revents);
        if (rd_at >= 0)
            s_redis_io (self, &self->rd, items [rd_at].revents);
        s_handle_hub (self);
        for (int i = first_room; i < n; i++) {
            room_t *room = polled [i - first_room];
            if (!s_handle_room (self, room)) {
                void *handle = zlistx_find (self->rooms, room);
                if (handle)
                    zlistx_delete (self->rooms, handle);
                s_room_destroy (&room);
            }
        }
        timeout = s_tick (self);
        s_flush_all (self);
    }
}

//  At $TERM: what is held goes out if Redis lets it within a bound.
static void
s_drain (self_t *self)
{
    int64_t deadline = zclock_mono () + STOP_FLUSH_MS;
    while (zlistx_size (self->ops) && self->link == LINK_UP && zclock_mono () < deadline) {
        zmq_pollitem_t items [1];
        if (!self->cmd)
            break;
        items [0] = (zmq_pollitem_t){NULL, self->cmd->c.fd, self->cmd_events, 0};
        if (zmq_poll (items, 1, 50) < 0 && errno != EINTR)
            break;
        s_redis_io (self, &self->cmd, items [0].revents);
        if (self->broken)
            break;
    }
    if (zlistx_size (self->ops))
        log_info (&self->log, "E: %zu publishes and releases not sent to redis",
                  zlistx_size (self->ops));
}

void
cluster_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (cluster_args_t *) args);
    free (args);
    if (!self) {
        zsock_signal (pipe, 1);
        return;
    }
    zsock_signal (pipe, 0);
    s_run (self);
    //  main stops us after the hub, whose rooms have had their last say:
    //  what they published is in their pipes, and goes out with the rest.
    for (room_t *room = (room_t *) zlistx_first (self->rooms); room;
         room = (room_t *) zlistx_next (self->rooms))
        while ((zsock_events (room->pipe) & ZMQ_POLLIN) && s_handle_room (self, room))
            ;
    s_ops_pump (self);
    s_drain (self);
    s_self_destroy (&self);
}
