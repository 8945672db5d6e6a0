/* SPDX-License-Identifier: MIT */
/*  Cluster end to end: names, commands and a dead node across nodes
    (issue 10: "Names are unique across the cluster", "/rooms counts
    members on every node; /users lists them; /msg reaches a user on any
    node; /name renames cluster-wide; /join of a room that exists only on
    another node joins it", "A node dies").

    The texts are the single node's (docs/PROTOCOL.md): a client cannot
    tell which node the others are on.                                   */
#include "cluster_e2e.h"

#include <string.h>

#define TAKEN  "Name is already taken."
#define ROUNDS 50

/* ------------------------------------------------------------------ */
/*  Names                                                             */

/*  After c sent a name at the prompt: true when it got in (its prompt),
    false when refused as taken (and back at the name prompt). Anything
    else fails.                                                          */
static bool
s_entered (e2e_client_t *c, const char *name)
{
    const char *first = e2e_peek (c, 1, E2E_TIMEOUT_MS);
    if (first [0] == '[') {
        e2e_set_name (c, name);
        e2e_expect_prompt (c);
        return true;
    }
    e2e_expect (c, TAKEN "\n" E2E_NAME_PROMPT);
    return false;
}

/*  Two clients on two nodes type the same free name at the same moment:
    exactly one gets it, ROUNDS times; the loser, told it is taken, is
    still at the prompt and gets in under another name. A judge in the
    room sees both join and both leave before the next round (the leaves
    of a round may otherwise reach the stream after the next joins: two
    nodes have no order between them).                                   */
static void
test_name_race (void **state)
{
    (void) state;
    e2e_server_t *n1 = cl_start (1, NULL);
    e2e_server_t *n2 = cl_start (2, NULL);
    e2e_client_t *judge = e2e_login (n1, "judge");
    int           wins [2] = {0, 0};
    for (int round = 0; round < ROUNDS; round++) {
        e2e_client_t *a = e2e_at_name_prompt (n1);
        e2e_client_t *b = e2e_at_name_prompt (n2);
        /*  Case differs on purpose: the cluster folds names as one node
            does. Each node first half the time.                        */
        const char   *name_a = e2e_fmt ("racer%02d", round);
        const char   *name_b = e2e_fmt ("RACER%02d", round);
        e2e_client_t *first = round % 2 ? b : a, *second = round % 2 ? a : b;
        e2e_send (first, e2e_fmt ("%s\n", round % 2 ? name_b : name_a));
        e2e_send (second, e2e_fmt ("%s\n", round % 2 ? name_a : name_b));
        bool a_in = s_entered (a, name_a);
        bool b_in = s_entered (b, name_b);
        if (a_in == b_in)
            e2e_fail ("round %d: %s", round, a_in ? "both got the name" : "nobody got the name");
        wins [a_in ? 0 : 1]++;
        e2e_client_t *winner = a_in ? a : b, *loser = a_in ? b : a;
        e2e_expect_joined (judge, e2e_name (winner));
        /*  The loser sees the winner join once it gets in itself.      */
        e2e_enter (loser, e2e_fmt ("other%02d", round), "");
        e2e_expect_joined (winner, e2e_name (loser));
        e2e_expect_joined (judge, e2e_name (loser));
        const char *left =
            cl_sorted_lines (e2e_fmt ("%s has left our chat...\n%s has left our chat...",
                                      e2e_name (winner), e2e_name (loser)));
        e2e_close (a);
        e2e_close (b);
        const char *one = cl_next_line (judge, E2E_TIMEOUT_MS);
        const char *two = cl_next_line (judge, E2E_TIMEOUT_MS);
        const char *got = cl_sorted_lines (e2e_fmt ("%s\n%s", one, two));
        if (strcmp (got, left) != 0)
            e2e_fail ("round %d: the judge read %s, expected the lines %s", round,
                      e2e_escape (got, strlen (got)), e2e_escape (left, strlen (left)));
    }
    print_message ("name race: n1 won %d rounds, n2 %d\n", wins [0], wins [1]);
    cl_stop (1);
    cl_stop (2);
}

/* ------------------------------------------------------------------ */
/*  Commands                                                          */

/*  alice (n1), bob (n2) and carol (n3) in general, in that order.       */
static void
s_three (e2e_client_t **alice, e2e_client_t **bob, e2e_client_t **carol)
{
    for (int n = 1; n <= CL_NODES; n++)
        cl_start (n, NULL);
    *alice = e2e_login (cl_node (1), "alice");
    *bob = e2e_login (cl_node (2), "bob");
    e2e_expect_joined (*alice, "bob");
    *carol = e2e_login (cl_node (3), "carol");
    e2e_expect_joined (*alice, "carol");
    e2e_expect_joined (*bob, "carol");
}

static void
test_users_and_rooms (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob, *carol;
    s_three (&alice, &bob, &carol);
    cl_command (alice, "/users", "Users in general (3): alice, bob, carol");
    cl_command (bob, "/users", "Users in general (3): alice, bob, carol");
    cl_command (carol, "/users", "Users in general (3): alice, bob, carol");
    cl_command (carol, "/rooms", "Rooms:\n* general (3 members)");

    /*  bob moves to a room only n2 runs: every node counts it.          */
    e2e_send (bob, "/join side\n");
    e2e_expect_prompt (bob);
    e2e_expect_left (alice, "bob");
    e2e_expect_left (carol, "bob");
    cl_command (bob, "/users", "Users in side (1): bob");
    cl_command (alice, "/users", "Users in general (2): alice, carol");
    const char *want = cl_sorted_lines ("Rooms:\n  general (2 members)\n* side (1 member)\n");
    const char *got = cl_sorted_lines (cl_reply (bob, "/rooms"));
    if (strcmp (got, want) != 0)
        e2e_fail ("bob's /rooms: %s, expected the lines %s", e2e_escape (got, strlen (got)),
                  e2e_escape (want, strlen (want)));
    want = cl_sorted_lines ("Rooms:\n* general (2 members)\n  side (1 member)\n");
    got = cl_sorted_lines (cl_reply (carol, "/rooms"));
    if (strcmp (got, want) != 0)
        e2e_fail ("carol's /rooms: %s, expected the lines %s", e2e_escape (got, strlen (got)),
                  e2e_escape (want, strlen (want)));
    e2e_expect_silence (alice, E2E_QUIET_MS);
    for (int n = 1; n <= CL_NODES; n++)
        cl_stop (n);
}

/*  /join of a room that exists only on another node: carol (n3) joins
    bob's room on n2, with its history; they chat there, and general
    (alice) hears none of it.                                             */
static void
test_join_across (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob, *carol;
    s_three (&alice, &bob, &carol);
    e2e_send (bob, "/join side\n");
    e2e_expect_prompt (bob);
    e2e_expect_left (alice, "bob");
    e2e_expect_left (carol, "bob");
    e2e_say (bob, "only in side");

    e2e_send (carol, "/join side\n");
    e2e_expect (carol, E2E_TS "[bob]:only in side\n");
    e2e_expect_prompt (carol);
    e2e_expect_left (alice, "carol");
    e2e_expect_joined (bob, "carol");
    e2e_say (carol, "hi bob");
    e2e_expect_said (bob, "carol", "hi bob");
    cl_command (bob, "/users", "Users in side (2): bob, carol");
    cl_command (carol, "/join side", "You are already in side.");

    /*  Back to general on n3: its history is general's, cluster-wide.   */
    e2e_say (alice, "general again");
    e2e_send (carol, "/join general\n");
    e2e_expect (carol, E2E_TS "[alice]:general again\n");
    e2e_expect_prompt (carol);
    e2e_expect_left (bob, "carol");
    e2e_expect_joined (alice, "carol");
    cl_command (alice, "/users", "Users in general (2): alice, carol");
    e2e_expect_silence (bob, E2E_QUIET_MS);
    for (int n = 1; n <= CL_NODES; n++)
        cl_stop (n);
}

/*  /msg reaches a user on another node, only them; names fold as on one
    node; an unknown name is refused.                                    */
static void
test_msg_across (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob, *carol;
    s_three (&alice, &bob, &carol);
    e2e_send (alice, "/msg bob hi there\n");
    e2e_expect_prompt (alice); /* a fresh prompt only */
    e2e_expect (bob, "\n" E2E_TS "[alice -> bob]:hi there\n");
    e2e_expect_prompt (bob);
    e2e_send (carol, "/msg ALICE psst\n");
    e2e_expect_prompt (carol);
    e2e_expect (alice, "\n" E2E_TS "[carol -> alice]:psst\n");
    e2e_expect_prompt (alice);
    cl_command (bob, "/msg nobody hello", "No such user: nobody.");
    cl_command (bob, "/msg bob hello", "You cannot message yourself.");
    /*  In another room, on another node: still reached.                 */
    e2e_send (carol, "/join side\n");
    e2e_expect_prompt (carol);
    e2e_expect_left (alice, "carol");
    e2e_expect_left (bob, "carol");
    e2e_send (bob, "/msg carol in side?\n");
    e2e_expect_prompt (bob);
    e2e_expect (carol, "\n" E2E_TS "[bob -> carol]:in side?\n");
    e2e_expect_prompt (carol);
    e2e_expect_silence (alice, E2E_QUIET_MS);
    for (int n = 1; n <= CL_NODES; n++)
        cl_stop (n);
}

/*  /name renames cluster-wide: every node's members see it, the new name
    is taken everywhere, the old one free again.                         */
static void
test_name_across (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob, *carol;
    s_three (&alice, &bob, &carol);
    e2e_send (alice, "/name alicia\n");
    e2e_expect (alice, "alice changed their name to alicia\n");
    e2e_set_name (alice, "alicia");
    e2e_expect_prompt (alice);
    e2e_expect (bob, "\nalice changed their name to alicia\n");
    e2e_expect_prompt (bob);
    e2e_expect (carol, "\nalice changed their name to alicia\n");
    e2e_expect_prompt (carol);
    cl_command (carol, "/users", "Users in general (3): alicia, bob, carol");
    cl_command (bob, "/name ALICIA", TAKEN);
    cl_command (bob, "/name Carol", TAKEN);

    /*  The new name is taken on every node.                             */
    e2e_client_t *late = e2e_at_name_prompt (cl_node (3));
    e2e_send (late, "Alicia\n");
    e2e_expect (late, TAKEN "\n" E2E_NAME_PROMPT);
    /*  The old one is free: the release follows the rename, so a node
        may answer "taken" for a moment after the notice; not for long. */
    int64_t deadline = e2e_now_ms () + E2E_TIMEOUT_MS;
    for (;;) {
        e2e_send (late, "alice\n");
        if (s_entered (late, "alice"))
            break;
        if (e2e_now_ms () >= deadline)
            e2e_fail ("the name alice is still taken %d ms after the rename", E2E_TIMEOUT_MS);
        e2e_sleep_ms (100);
    }
    e2e_expect_joined (alice, "alice");
    e2e_expect_joined (bob, "alice");
    e2e_expect_joined (carol, "alice");
    e2e_say (alice, "renamed");
    e2e_expect_said (bob, "alicia", "renamed");
    e2e_expect_said (late, "alicia", "renamed");
    e2e_expect_said (carol, "alicia", "renamed");
    cl_command (bob, "/users", "Users in general (4): alicia, bob, carol, alice");
    for (int n = 1; n <= CL_NODES; n++)
        cl_stop (n);
}

/* ------------------------------------------------------------------ */
/*  A node dies                                                       */

/*  kill -9 of n1 with alice and dave on it: within the lease the others
    read that both left (in either order), /users and /rooms drop them,
    and both names are free again.                                       */
static void
test_kill9_node (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob, *carol;
    s_three (&alice, &bob, &carol);
    e2e_client_t *dave = e2e_login (cl_node (1), "dave");
    e2e_expect_joined (alice, "dave");
    e2e_expect_joined (bob, "dave");
    e2e_expect_joined (carol, "dave");
    (void) dave;

    int64_t killed = e2e_now_ms ();
    cl_kill9 (1);
    const char *want = cl_sorted_lines ("alice has left our chat...\ndave has left our chat...");
    for (int k = 0; k < 2; k++) {
        e2e_client_t *c = k ? carol : bob;
        const char   *one = cl_next_line (c, CL_REAP_MS);
        const char   *two = cl_next_line (c, CL_REAP_MS);
        const char   *got = cl_sorted_lines (e2e_fmt ("%s\n%s", one, two));
        if (strcmp (got, want) != 0)
            e2e_fail ("%s read %s, expected the lines %s", e2e_name (c),
                      e2e_escape (got, strlen (got)), e2e_escape (want, strlen (want)));
    }
    print_message ("kill -9 of n1: both leaves read %lld ms later (lease %d s)\n",
                   (long long) (e2e_now_ms () - killed), CL_LEASE_S);
    cl_command (bob, "/users", "Users in general (2): bob, carol");
    cl_command (carol, "/rooms", "Rooms:\n* general (2 members)");

    /*  Their names are free: each logs in again on a live node.        */
    e2e_client_t *alice2 = e2e_login (cl_node (2), "ALICE");
    e2e_expect_joined (bob, "ALICE");
    e2e_expect_joined (carol, "ALICE");
    e2e_login (cl_node (3), "dave");
    e2e_expect_joined (bob, "dave");
    e2e_expect_joined (carol, "dave");
    e2e_expect_joined (alice2, "dave");
    cl_command (carol, "/users", "Users in general (4): bob, carol, ALICE, dave");
    e2e_expect_silence (bob, E2E_QUIET_MS);
    cl_stop (2);
    cl_stop (3);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        CL_TEST (test_users_and_rooms), CL_TEST (test_join_across), CL_TEST (test_msg_across),
        CL_TEST (test_name_across),     CL_TEST (test_name_race),   CL_TEST (test_kill9_node),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
