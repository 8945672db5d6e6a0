/* SPDX-License-Identifier: MIT */
/*  cluster_e2e: end-to-end tests of cluster mode (issue 10), on top of
    the e2e harness (tests/e2e/e2e.h).

    One real redis-server per test (tests/redis_server.h: its own port and
    directory, AOF on) and up to CL_NODES real TCPChat nodes, node i
    started as `--cluster redis://127.0.0.1:P --node nI --cluster-lease
    CL_LEASE_S` on a free port of 127.0.0.1, with no rate limits (the
    tests send fast on purpose) and room for CL_MAX_CLIENTS clients.

    A node is "up" once its log says it reached Redis: only then can a
    login be judged, so cl_start returns only then. Register tests with
    CL_TEST(): the teardown closes the clients, kills the nodes and then
    stops Redis and removes its directory, also after a failure.         */
#ifndef TCPCHAT_CLUSTER_E2E_H
#define TCPCHAT_CLUSTER_E2E_H

#include "e2e.h"
#include "../redis_server.h"

#define CL_NODES       3
#define CL_LEASE_S     2
#define CL_MAX_CLIENTS 64
/*  A node's clients are reaped within one lease and a half
    (docs/CLUSTER.md); this is how long a test waits for it: generous,
    for the sanitizer and valgrind builds.                               */
#define CL_REAP_MS     30000
/*  How long a test waits for a node to reach Redis (start, regain).      */
#define CL_UP_MS       20000

#define CL_TEST(f) cmocka_unit_test_setup_teardown (f, cl_setup, cl_teardown)
int cl_setup (void **state);
int cl_teardown (void **state);

/*  This test's Redis, started on the first call.                        */
redis_server_t *cl_redis (void);
/*  Stops Redis (its data stays), starts it again on the same port.     */
void cl_redis_stop (void);
void cl_redis_restart (void);

/*  Starts node i (1..CL_NODES) with extra arguments (NULL terminated, or
    NULL), on a free port the first time and on the same port after
    cl_stop or cl_kill9; returns once it is up.                          */
#define cl_start(i, ...)                                                                           \
    cl_start_at ((i), (const char *const []){__VA_ARGS__, NULL}, __FILE__, __LINE__)
e2e_server_t *cl_start_at (int i, const char *const *extra, const char *file, int line);
/*  Node i as started last (NULL when stopped).                          */
e2e_server_t *cl_node (int i);
/*  SIGTERM (clean exit checked) or SIGKILL.                             */
#define cl_stop(i)  cl_stop_at ((i), __FILE__, __LINE__)
#define cl_kill9(i) cl_kill9_at ((i), __FILE__, __LINE__)
void cl_stop_at (int i, const char *file, int line);
void cl_kill9_at (int i, const char *file, int line);

/*  Waits (at most timeout_ms) until node i's log holds text; fails.     */
#define cl_wait_log(i, text, ms) cl_wait_log_at ((i), (text), (ms), __FILE__, __LINE__)
void cl_wait_log_at (int i, const char *text, int timeout_ms, const char *file, int line);

/*  Sends a command line and expects `reply` (a pattern, "\n" added) and
    the caller's prompt.                                                 */
#define cl_command(c, cmd, reply) cl_command_at ((c), (cmd), (reply), __FILE__, __LINE__)
void cl_command_at (e2e_client_t *c, const char *cmd, const char *reply, const char *file,
                    int line);

/*  Polls c for up to timeout_ms, sending cmd every poll_ms until the reply
    matches `reply` (a pattern): for what becomes true only after the
    cluster has caught up (a reap, a lease). Every reply in between must
    be a well formed one (a line and the prompt).                        */
#define cl_command_until(c, cmd, reply, ms)                                                        \
    cl_command_until_at ((c), (cmd), (reply), (ms), __FILE__, __LINE__)
void cl_command_until_at (e2e_client_t *c, const char *cmd, const char *reply, int timeout_ms,
                          const char *file, int line);

/*  Sends cmd and returns its reply without the prompt that ends it (in
    memory freed at teardown): for replies whose line order the cluster
    does not fix (/rooms).                                               */
#define cl_reply(c, cmd) cl_reply_at ((c), (cmd), __FILE__, __LINE__)
const char *cl_reply_at (e2e_client_t *c, const char *cmd, const char *file, int line);

/*  Waits (at most timeout_ms) for one "\nTEXT\n" and c's prompt after it:
    TEXT (freed at teardown).                                            */
#define cl_next_line(c, ms) cl_next_line_at ((c), (ms), __FILE__, __LINE__)
const char *cl_next_line_at (e2e_client_t *c, int timeout_ms, const char *file, int line);

/*  Reads c's stream until it holds `count` chat lines from others
    ("\n[TS][FROM]:TEXT\n"), its own prompts skipped wherever they come;
    anything else (a notice, a stray byte) fails, and so does a timeout.
    Fills out[0..count) with "FROM:TEXT" (freed at teardown), in the order
    received. Returns how many prompts it skipped.                       */
#define cl_collect(c, out, count, ms) cl_collect_at ((c), (out), (count), (ms), __FILE__, __LINE__)
int cl_collect_at (e2e_client_t *c, const char **out, int count, int timeout_ms, const char *file,
                   int line);

/*  Reads c's own prompts until none comes for quiet_ms: how many. Any
    other byte fails.                                                    */
#define cl_prompts(c, quiet_ms) cl_prompts_at ((c), (quiet_ms), __FILE__, __LINE__)
int cl_prompts_at (e2e_client_t *c, int quiet_ms, const char *file, int line);

/*  The lines of text, sorted, joined by '\n' (freed at teardown): to
    compare replies whose lines may come in any order.                   */
const char *cl_sorted_lines (const char *text);

#endif
