/* SPDX-License-Identifier: MIT */
/*  Cluster end to end: history kept in Redis, and Redis going away
    (issue 10: "History for a joiner is the room's last --history lines
    cluster-wide, kept in Redis (so it survives the restart of any node,
    and with Redis persistence a Redis restart)"; "Redis goes away ... A
    chat line typed during the outage is held ... and published in order
    when Redis is back ... A login during the outage is told plainly that
    the chat is unavailable").                                           */
#include "cluster_e2e.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUTAGE_S 5
/*  Lines each of two clients types while Redis is away: one a second.  */
#define TYPED    OUTAGE_S

/* ------------------------------------------------------------------ */
/*  History                                                           */

/*  n2 runs general from the start but nobody there speaks; n3 starts
    only after the lines were said. Both joiners get the room's last
    --history lines, said on n1.                                         */
static void
test_history_where_nobody_spoke (void **state)
{
    (void) state;
    cl_start (1, "--history", "3");
    cl_start (2, "--history", "3");
    e2e_client_t *alice = e2e_login (cl_node (1), "alice");
    for (int k = 1; k <= 4; k++)
        e2e_say (alice, e2e_fmt ("line %d", k));
    const char *last3 =
        E2E_TS "[alice]:line 2\n" E2E_TS "[alice]:line 3\n" E2E_TS "[alice]:line 4\n";
    e2e_client_t *bob = e2e_login_history (cl_node (2), "bob", last3);
    e2e_expect_joined (alice, "bob");
    cl_start (3, "--history", "3");
    e2e_login_history (cl_node (3), "carol", last3);
    e2e_expect_joined (alice, "carol");
    e2e_expect_joined (bob, "carol");
    for (int n = 1; n <= CL_NODES; n++)
        cl_stop (n);
}

/*  Every node stops, every node starts again (same names, same ports):
    the history is Redis', and the names of the clients the old runs had
    are free again (each node reaps its own previous run at start).      */
static void
test_history_after_every_node_restarts (void **state)
{
    (void) state;
    for (int n = 1; n <= CL_NODES; n++)
        cl_start (n, NULL);
    e2e_client_t *alice = e2e_login (cl_node (1), "alice");
    e2e_client_t *bob = e2e_login (cl_node (2), "bob");
    e2e_expect_joined (alice, "bob");
    e2e_say (alice, "before the restarts");
    e2e_expect_said (bob, "alice", "before the restarts");
    e2e_say (bob, "me too");
    e2e_expect_said (alice, "bob", "me too");
    for (int n = 1; n <= CL_NODES; n++)
        cl_stop (n);
    for (int n = 1; n <= CL_NODES; n++)
        cl_start (n, NULL);
    const char   *history = E2E_TS "[alice]:before the restarts\n" E2E_TS "[bob]:me too\n";
    e2e_client_t *carol = e2e_login_history (cl_node (3), "carol", history);
    e2e_client_t *alice2 = e2e_login_history (cl_node (2), "alice", history);
    e2e_expect_joined (carol, "alice");
    cl_command (carol, "/users", "Users in general (2): carol, alice");
    e2e_say (alice2, "after");
    e2e_expect_said (carol, "alice", "after");
    for (int n = 1; n <= CL_NODES; n++)
        cl_stop (n);
}

/*  Redis stops and starts again from its append-only file: every line a
    client saw before is in the history after, for a joiner on a node
    started after it (which has nothing but Redis to go by).             */
static void
test_history_after_redis_restart (void **state)
{
    (void) state;
    cl_start (1, NULL);
    cl_start (2, NULL);
    e2e_client_t *alice = e2e_login (cl_node (1), "alice");
    e2e_client_t *bob = e2e_login (cl_node (2), "bob");
    e2e_expect_joined (alice, "bob");
    for (int k = 1; k <= 3; k++) {
        e2e_say (alice, e2e_fmt ("kept %d", k));
        e2e_expect_said (bob, "alice", e2e_fmt ("kept %d", k));
    }
    cl_redis_stop ();
    cl_wait_log (1, "redis lost (", CL_UP_MS);
    cl_redis_restart ();
    cl_wait_log (1, "redis regained after ", CL_UP_MS);
    cl_wait_log (2, "redis regained after ", CL_UP_MS);
    const char *history =
        E2E_TS "[alice]:kept 1\n" E2E_TS "[alice]:kept 2\n" E2E_TS "[alice]:kept 3\n";
    /*  n3 starts only now: it can have the lines from Redis alone.     */
    cl_start (3, NULL);
    e2e_client_t *carol = e2e_login_history (cl_node (3), "carol", history);
    e2e_expect_joined (alice, "carol");
    e2e_expect_joined (bob, "carol");
    /*  alice and bob stayed through it, and still hold their names.    */
    cl_command (carol, "/users", "Users in general (3): alice, bob, carol");
    e2e_client_t *late = e2e_at_name_prompt (cl_node (3));
    e2e_send (late, "ALICE\n");
    e2e_expect (late, PROTOCOL_NAME_TAKEN "\n" E2E_NAME_PROMPT);
    for (int n = 1; n <= CL_NODES; n++)
        cl_stop (n);
}

/* ------------------------------------------------------------------ */
/*  Redis away                                                        */

static int
s_count (const char *path, const char *text)
{
    FILE *f = fopen (path, "r");
    if (!f)
        e2e_fail ("cannot read %s", path);
    char line [1024];
    int  n = 0;
    while (fgets (line, sizeof line, f))
        n += strstr (line, text) != NULL;
    fclose (f);
    return n;
}

/*  The lines of `from` in got[0..n), in order, are exactly from's lines
    k = 1..TYPED ("FROM:FROM k").                                         */
static void
s_in_order (const char *who, const char **got, int n, const char *from)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (strncmp (got [i], from, strlen (from)) == 0 && got [i][strlen (from)] == ':') {
            k++;
            const char *want = e2e_fmt ("%s:%s %d", from, from, k);
            if (strcmp (got [i], want) != 0)
                e2e_fail ("%s: line %d from %s is %s, expected %s", who, i, from, got [i], want);
        }
    if (k != TYPED)
        e2e_fail ("%s got %d lines from %s, expected %d", who, k, from, TYPED);
}

/*  Redis is stopped for OUTAGE_S seconds while alice (n1) and bob (n2)
    type a line a second: once it is back every line arrives, once, in
    the order typed, to each other and to carol (n1), and nothing else
    (no one reaped for the lease that lapsed meanwhile). A login during
    the outage is told the chat is unavailable, on either node; once back
    logins work. Each node logs the outage once and the recovery once.   */
static void
test_redis_outage (void **state)
{
    (void) state;
    cl_start (1, "--history", "1");
    cl_start (2, "--history", "1");
    e2e_client_t *alice = e2e_login (cl_node (1), "alice");
    e2e_client_t *bob = e2e_login (cl_node (2), "bob");
    e2e_expect_joined (alice, "bob");
    e2e_client_t *carol = e2e_login (cl_node (1), "carol");
    e2e_expect_joined (alice, "carol");
    e2e_expect_joined (bob, "carol");

    cl_redis_stop ();
    int64_t stopped = e2e_now_ms ();
    cl_wait_log (1, "redis lost (", CL_UP_MS);
    cl_wait_log (2, "redis lost (", CL_UP_MS);
    for (int k = 1; k <= TYPED; k++) {
        e2e_send (alice, e2e_fmt ("alice %d\n", k));
        e2e_send (bob, e2e_fmt ("bob %d\n", k));
        if (k == 2)
            for (int n = 1; n <= 2; n++) {
                /*  Nobody can be sure a name is free: refused, plainly. */
                e2e_client_t *dave = e2e_at_name_prompt (cl_node (n));
                e2e_send (dave, "dave\n");
                e2e_expect (dave, PROTOCOL_NAME_UNAVAILABLE "\n" E2E_NAME_PROMPT);
                e2e_close (dave);
            }
        e2e_sleep_ms (1000);
    }
    while (e2e_now_ms () < stopped + OUTAGE_S * 1000)
        e2e_sleep_ms (50);
    cl_redis_restart ();

    /*  Held, then published in order: each reads the other's lines.    */
    const char *got_alice [TYPED], *got_bob [TYPED], *got_carol [2 * TYPED];
    int         prompts_alice = cl_collect (alice, got_alice, TYPED, CL_UP_MS);
    int         prompts_bob = cl_collect (bob, got_bob, TYPED, CL_UP_MS);
    int         prompts_carol = cl_collect (carol, got_carol, 2 * TYPED, CL_UP_MS);
    /*  A prompt after each line read, and one for each line typed.     */
    prompts_alice += cl_prompts (alice, E2E_QUIET_MS);
    prompts_bob += cl_prompts (bob, E2E_QUIET_MS);
    prompts_carol += cl_prompts (carol, E2E_QUIET_MS);
    if (prompts_alice != 2 * TYPED || prompts_bob != 2 * TYPED || prompts_carol != 2 * TYPED)
        e2e_fail ("prompts: alice %d, bob %d, carol %d; expected %d each", prompts_alice,
                  prompts_bob, prompts_carol, 2 * TYPED);
    s_in_order ("alice", got_alice, TYPED, "bob");
    s_in_order ("bob", got_bob, TYPED, "alice");
    s_in_order ("carol", got_carol, 2 * TYPED, "alice");
    s_in_order ("carol", got_carol, 2 * TYPED, "bob");

    /*  Once back, logins work again; the last line is the history.     */
    cl_wait_log (1, "redis regained after ", CL_UP_MS);
    cl_wait_log (2, "redis regained after ", CL_UP_MS);
    e2e_say (alice, "back");
    e2e_expect_said (bob, "alice", "back");
    e2e_expect_said (carol, "alice", "back");
    e2e_client_t *dave = e2e_login_history (cl_node (2), "dave", E2E_TS "[alice]:back\n");
    e2e_expect_joined (alice, "dave");
    e2e_expect_joined (bob, "dave");
    e2e_expect_joined (carol, "dave");
    cl_command (dave, "/users", "Users in general (4): alice, bob, carol, dave");
    for (int n = 1; n <= 2; n++) {
        const char *log = e2e_log_path (cl_node (n));
        if (s_count (log, "redis lost (") != 1 || s_count (log, "redis regained after ") != 1)
            e2e_fail ("node n%d logged the outage %d times and the recovery %d times, not once", n,
                      s_count (log, "redis lost ("), s_count (log, "redis regained after "));
    }
    for (int n = 1; n <= 2; n++)
        cl_stop (n);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        CL_TEST (test_history_where_nobody_spoke),
        CL_TEST (test_history_after_every_node_restarts),
        CL_TEST (test_history_after_redis_restart),
        CL_TEST (test_redis_outage),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
