/* SPDX-License-Identifier: MIT */
/*  End-to-end: the hub's limits (docs/OPERATIONS.md, "Queues and
    pausing", "Rooms that stop when idle", "New rooms per client").

    - Clients that pipeline /join and chat lines with --rate 0 do not grow
      the server's memory: its RSS, read from /proc/PID/status, stays
      under a bound while they try, and it answers others meanwhile.
    - One client cannot hold every --max-rooms slot for good: empty rooms
      stop after --room-idle, and the slot is free again.
    - New rooms are paced per client, with a clear reply.                 */
#include "e2e.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/*  The server's resident memory in KiB, or -1.                         */
static long
rss_kib (pid_t pid)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    char line [256];
    long kib = -1;
    while (fgets (line, sizeof line, file))
        if (sscanf (line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose (file);
    return kib;
}

/*  Sends what the socket takes now (the server may have stopped reading
    it: that is the point). Returns bytes sent; -1 when the server has
    closed the connection.                                               */
static ssize_t
send_some (e2e_client_t *c, const char *p, size_t n)
{
    ssize_t sent = send (e2e_fd (c), p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    return sent;
}

/*  Reads and forgets whatever output waits, so the server never cuts
    the client as a slow reader.                                         */
static void
drain (e2e_client_t *c)
{
    for (int i = 0; i < 64 && e2e_fill (c) > 0; i++) {
        size_t len;
        e2e_buffered (c, &len);
        e2e_consume (c, len);
    }
}

#define FLOODERS   4
#define FLOOD_MS   4000
#define RSS_GROWTH (150L * 1024) /* KiB: generous; the caps keep it far lower */

/*  Issue 2: four clients pipeline "/join a", lines, "/join b", lines...
    as fast as the socket takes them, with --rate 0, for a few seconds.
    Before the caps the hub's deferred input grew by gigabytes in seconds;
    now each client is paused at its cap and TCP pushes back.             */
static void
test_pipelined_moves_keep_memory_bounded (void **state)
{
    (void) state;
    //  No history: each move would replay it, and that is not what is
    //  measured. Under AddressSanitizer freed memory waits in a quarantine
    //  (256 MB by default) before reuse: kept small, RSS shows what the
    //  server holds.
    const char *asan = getenv ("ASAN_OPTIONS");
    e2e_opts_t  opts = {
         .args = (const char *const []){"--rate", "0", "--history", "0", NULL},
         .env = (const char *const []){e2e_fmt ("ASAN_OPTIONS=%s%squarantine_size_mb=8",
                                               asan ? asan : "", asan && *asan ? ":" : ""),
                                       NULL},
    };
    e2e_server_t *srv = e2e_start_opts (&opts);
    pid_t         pid = e2e_pid (srv);
    e2e_client_t *watcher = e2e_login (srv, "watcher");
    e2e_client_t *flood [FLOODERS];
    for (int i = 0; i < FLOODERS; i++)
        flood [i] = e2e_login (srv, e2e_fmt ("flood%d", i));
    drain (watcher);
    long base = rss_kib (pid);
    if (base < 0)
        e2e_fail ("cannot read /proc/%d/status", (int) pid);

    //  One burst: a move, 64 lines of 1000 bytes, another move, 64 more.
    char line [1002];
    memset (line, 'x', 1000);
    line [1000] = '\n';
    line [1001] = 0;
    size_t burst_cap = 2 * (16 + 64 * 1001);
    char  *burst = e2e_calloc (1, burst_cap + 1);
    size_t burst_len = 0;
    for (int half = 0; half < 2; half++) {
        burst_len += (size_t) sprintf (burst + burst_len, "/join %s\n", half ? "b" : "a");
        for (int i = 0; i < 64; i++) {
            memcpy (burst + burst_len, line, 1001);
            burst_len += 1001;
        }
    }
    size_t   offset [FLOODERS] = {0};
    long     peak = base;
    uint64_t total = 0;
    int64_t  start = e2e_now_ms (), next_sample = start;
    while (e2e_now_ms () - start < FLOOD_MS) {
        for (int i = 0; i < FLOODERS; i++) {
            if (!flood [i])
                continue;
            //  A few bursts' worth per turn, then the next client.
            for (int round = 0; round < 8; round++) {
                ssize_t sent = send_some (flood [i], burst + offset [i], burst_len - offset [i]);
                if (sent < 0)
                    e2e_fail ("flood%d was disconnected: %s", i, strerror (errno));
                if (sent == 0)
                    break;
                total += (uint64_t) sent;
                offset [i] = (offset [i] + (size_t) sent) % burst_len;
            }
            drain (flood [i]);
        }
        drain (watcher);
        if (e2e_now_ms () >= next_sample) {
            long now = rss_kib (pid);
            if (now > peak)
                peak = now;
            next_sample = e2e_now_ms () + 50;
        }
    }
    long after = rss_kib (pid);
    if (after > peak)
        peak = after;
    print_message ("flood: %llu bytes sent by %d clients in %d ms; server RSS %ld KiB at"
                   " start, peak %ld KiB\n",
                   (unsigned long long) total, FLOODERS, FLOOD_MS, base, peak);
    if (peak - base > RSS_GROWTH)
        e2e_fail ("server RSS grew by %ld KiB (from %ld to %ld), over %ld KiB", peak - base, base,
                  peak, RSS_GROWTH);
    //  Still serving: a newcomer logs in and is answered.
    for (int i = 0; i < FLOODERS; i++)
        e2e_close (flood [i]);
    e2e_client_t *late = e2e_login (srv, "late");
    e2e_send (late, "/users\n");
    e2e_expect_reply (late, "Users in general (2): watcher, late");
    e2e_stop (srv);
}

/*  Issue 5: a client fills every --max-rooms slot with rooms that have
    history, and leaves. Before, those rooms lived for ever and nobody
    could create a room again; now they stop after --room-idle.          */
static void
test_idle_rooms_free_their_slots (void **state)
{
    (void) state;
    //  By its variable (the flag is the same option).
    e2e_opts_t opts = {
        .args = (const char *const []){"--max-rooms", "3", NULL},
        .env = (const char *const []){"TCPCHAT_ROOM_IDLE=1", NULL},
    };
    e2e_server_t *srv = e2e_start_opts (&opts);
    e2e_client_t *alice = e2e_login (srv, "alice");
    for (int i = 0; i < 2; i++) {
        e2e_send (alice, e2e_fmt ("/join hold%d\n", i));
        e2e_expect_prompt (alice);
        e2e_say (alice, "mine");
    }
    e2e_client_t *bob = e2e_login (srv, "bob");
    e2e_send (bob, "/join other\n");
    e2e_expect_reply (bob, "Too many rooms (max 3). Join an existing one.");
    e2e_close (alice);
    //  The rooms stop about a second after alice left: bounded tries.
    int64_t deadline = e2e_now_ms () + 15000;
    for (;;) {
        e2e_send (bob, "/join other\n");
        if (e2e_peek (bob, 1, E2E_TIMEOUT_MS) [0] == '[') {
            e2e_expect_prompt (bob);
            break;
        }
        e2e_expect_reply (bob, "Too many rooms (max 3). Join an existing one.");
        if (e2e_now_ms () > deadline)
            e2e_fail ("no room slot free 15 s after alice left");
        e2e_sleep_ms (200);
    }
    e2e_say (bob, "mine now");
    e2e_stop (srv);
}

/*  New rooms per client: a burst of five, then the exact reply.        */
static void
test_new_rooms_are_paced (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *alice = e2e_login (srv, "alice");
    for (int i = 0; i < 5; i++) {
        e2e_send (alice, e2e_fmt ("/join r%d\n", i));
        e2e_expect_prompt (alice);
    }
    e2e_send (alice, "/join r5\n");
    //  "Try again in 12 s." unless this machine took over a second.
    const char *head = "You are creating rooms too fast. Try again in ";
    e2e_expect (alice, head);
    const char *digits = e2e_peek (alice, 6, E2E_TIMEOUT_MS);
    int         seconds = atoi (digits);
    size_t      width = seconds >= 10 ? 2 : 1;
    if (seconds < 1 || seconds > 12 || !(digits [0] >= '1' && digits [0] <= '9'))
        e2e_fail ("expected 1..12 seconds, got %s", e2e_escape (digits, 6));
    e2e_consume (alice, width);
    e2e_expect (alice, " s.\n");
    e2e_expect_prompt (alice);
    //  Rooms that exist: any time.
    e2e_send (alice, "/join general\n");
    e2e_expect_prompt (alice);
    e2e_stop (srv);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        E2E_TEST (test_pipelined_moves_keep_memory_bounded),
        E2E_TEST (test_idle_rooms_free_their_slots),
        E2E_TEST (test_new_rooms_are_paced),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
