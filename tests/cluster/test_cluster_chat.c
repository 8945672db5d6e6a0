/* SPDX-License-Identifier: MIT */
/*  Cluster end to end: one room's order across three nodes (issue 10,
    "Rooms are cluster-wide ... in one order that is the same for every
    member on every node. No line is delivered twice").

    CLIENTS clients spread over the three nodes each send LINES lines to
    the room at once. Every client must receive every other client's
    lines exactly once (never its own), each sender's lines in the order
    sent, and any two clients must see the lines they share in the same
    order. The stream each client reads is parsed token by token: its
    prompt, chat lines, nothing else (a stray byte fails the test).      */
#include "cluster_e2e.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PER_NODE   10
#define CLIENTS    (CL_NODES * PER_NODE)
#define LINES      50
#define TOTAL      (CLIENTS * LINES)
/*  Everything delivered within this, from the last line sent: minutes,
    for valgrind; a plain build takes a second or two.                  */
#define DELIVER_MS 240000

typedef struct {
    e2e_client_t *c;
    const char   *prompt; /* "[TS][cNN]:" */
    size_t        prompt_len;
    int           seq [TOTAL]; /* line ids in the order received */
    int           count;
    int           last [CLIENTS]; /* last line number seen per sender */
    unsigned char seen [TOTAL];
} reader_t;

static reader_t s_readers [CLIENTS];

static const char *
s_name (int i)
{
    return e2e_fmt ("c%02d", i);
}

/*  One chat line "[TS][cNN]:cNN-LL" from client me's stream: checked and
    recorded. Fails on anything else.                                    */
static void
s_record (int me, const char *line, size_t n)
{
    reader_t   *r = &s_readers [me];
    int         from = -1, from2 = -1, k = -1, used = 0;
    const char *body = line + E2E_TS_LEN;
    /*  "[cNN]:cNN-LL" exactly: 12 bytes.                                */
    if (n != E2E_TS_LEN + 12 || !e2e_match (E2E_TS, line, E2E_TS_LEN) ||
        sscanf (body, "[c%2d]:c%2d-%2d%n", &from, &from2, &k, &used) != 3 || used != 12 ||
        from != from2 || from < 0 || from >= CLIENTS || k < 0 || k >= LINES ||
        memcmp (body, e2e_fmt ("[c%02d]:c%02d-%02d", from, from, k), 12) != 0)
        e2e_fail ("client %s received an unexpected line %s", s_name (me), e2e_escape (line, n));
    if (from == me)
        e2e_fail ("client %s received its own line %d", s_name (me), k);
    int id = from * LINES + k;
    if (r->seen [id])
        e2e_fail ("client %s received c%02d-%02d twice", s_name (me), from, k);
    if (k <= r->last [from])
        e2e_fail ("client %s received c%02d-%02d after c%02d-%02d", s_name (me), from, k, from,
                  r->last [from]);
    r->seen [id] = 1;
    r->last [from] = k;
    r->seq [r->count++] = id;
}

/*  Consumes every whole token buffered for client me: its prompt, or a
    "\n...\n" line that must be a chat line.                             */
static void
s_parse (int me)
{
    reader_t *r = &s_readers [me];
    for (;;) {
        size_t      len;
        const char *buf = e2e_buffered (r->c, &len);
        if (len == 0)
            return;
        if (buf [0] == '[') {
            if (len < r->prompt_len)
                return;
            if (!e2e_match (r->prompt, buf, r->prompt_len))
                e2e_fail ("client %s: expected its prompt, got %s", s_name (me),
                          e2e_escape (buf, len < 80 ? len : 80));
            e2e_consume (r->c, r->prompt_len);
        } else if (buf [0] == '\n') {
            const char *end = memchr (buf + 1, '\n', len - 1);
            if (!end)
                return;
            s_record (me, buf + 1, (size_t) (end - buf - 1));
            e2e_consume (r->c, (size_t) (end - buf) + 1);
        } else
            e2e_fail ("client %s: unexpected bytes %s", s_name (me),
                      e2e_escape (buf, len < 80 ? len : 80));
    }
}

/*  Reads what every client has without waiting (or up to wait_ms for
    the first byte anywhere), parsing as it goes.                         */
static void
s_drain (int wait_ms)
{
    struct pollfd pfd [CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        pfd [i] = (struct pollfd){.fd = e2e_fd (s_readers [i].c), .events = POLLIN};
    poll (pfd, CLIENTS, wait_ms);
    for (int i = 0; i < CLIENTS; i++) {
        ssize_t n;
        while ((n = e2e_fill (s_readers [i].c)) > 0)
            ;
        if (n == 0)
            e2e_fail ("client %s: the server closed the connection", s_name (i));
        s_parse (i);
    }
}

static bool
s_all_delivered (void)
{
    for (int i = 0; i < CLIENTS; i++)
        if (s_readers [i].count < TOTAL - LINES)
            return false;
    return true;
}

/*  a and b saw the lines both saw in the same order.                    */
static void
s_same_order (int a, int b, int *pos)
{
    for (int id = 0; id < TOTAL; id++)
        pos [id] = -1;
    for (int k = 0; k < s_readers [b].count; k++)
        pos [s_readers [b].seq [k]] = k;
    int last = -1, last_id = -1;
    for (int k = 0; k < s_readers [a].count; k++) {
        int id = s_readers [a].seq [k];
        if (pos [id] < 0)
            continue;
        if (pos [id] < last)
            e2e_fail ("%s saw c%02d-%02d after c%02d-%02d, %s the other way round", s_name (a),
                      id / LINES, id % LINES, last_id / LINES, last_id % LINES, s_name (b));
        last = pos [id];
        last_id = id;
    }
}

static void
test_one_order_for_thirty_clients (void **state)
{
    (void) state;
    for (int n = 1; n <= CL_NODES; n++)
        cl_start (n, "--history", "10");
    memset (s_readers, 0, sizeof s_readers);

    /*  Logins one by one, node after node: each earlier client reads the
        join, wherever it is.                                            */
    for (int i = 0; i < CLIENTS; i++) {
        reader_t *r = &s_readers [i];
        r->c = e2e_login (cl_node (1 + i % CL_NODES), s_name (i));
        r->prompt = e2e_fmt (E2E_TS "[%s]:", s_name (i));
        r->prompt_len = e2e_pattern_len (r->prompt);
        for (int j = 0; j < CLIENTS; j++)
            r->last [j] = -1;
        for (int j = 0; j < i; j++)
            e2e_expect_joined (s_readers [j].c, s_name (i));
    }

    /*  Round after round, each client one line: the nodes publish
        concurrently. Reading between rounds keeps every socket flowing. */
    for (int k = 0; k < LINES; k++) {
        for (int i = 0; i < CLIENTS; i++)
            e2e_send (s_readers [i].c, e2e_fmt ("%s-%02d\n", s_name (i), k));
        s_drain (0);
    }
    int64_t deadline = e2e_now_ms () + DELIVER_MS;
    while (!s_all_delivered () && e2e_now_ms () < deadline)
        s_drain (100);
    for (int i = 0; i < CLIENTS; i++)
        if (s_readers [i].count != TOTAL - LINES)
            e2e_fail ("client %s received %d lines of the others' %d within %d ms", s_name (i),
                      s_readers [i].count, TOTAL - LINES, DELIVER_MS);
    /*  Nothing more comes (no duplicate late), and the last prompts are
        all that was left.                                               */
    int64_t quiet_until = e2e_now_ms () + E2E_QUIET_MS;
    while (e2e_now_ms () < quiet_until)
        s_drain (50);
    for (int i = 0; i < CLIENTS; i++) {
        size_t len;
        e2e_buffered (s_readers [i].c, &len);
        if (len)
            e2e_fail ("client %s: %zu bytes left unread", s_name (i), len);
    }

    int *pos = e2e_calloc (TOTAL, sizeof *pos);
    for (int a = 0; a < CLIENTS; a++)
        for (int b = a + 1; b < CLIENTS; b++)
            s_same_order (a, b, pos);

    for (int n = 1; n <= CL_NODES; n++)
        cl_stop (n);
}

/*  The smallest case, readable when the big one fails: two nodes, one
    client each, a line each way, the join seen across.                  */
static void
test_two_nodes_chat (void **state)
{
    (void) state;
    e2e_server_t *n1 = cl_start (1, NULL);
    e2e_server_t *n2 = cl_start (2, NULL);
    e2e_client_t *alice = e2e_login (n1, "alice");
    e2e_client_t *bob = e2e_login (n2, "bob");
    e2e_expect_joined (alice, "bob");
    e2e_say (alice, "hello from n1");
    e2e_expect_said (bob, "alice", "hello from n1");
    e2e_say (bob, "hello from n2");
    e2e_expect_said (alice, "bob", "hello from n2");
    e2e_expect_silence (alice, E2E_QUIET_MS);
    e2e_expect_silence (bob, 0);
    e2e_close (bob);
    e2e_expect_left (alice, "bob");
    cl_stop (1);
    cl_stop (2);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        CL_TEST (test_two_nodes_chat),
        CL_TEST (test_one_order_for_thirty_clients),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
