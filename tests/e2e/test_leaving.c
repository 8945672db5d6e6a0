/* SPDX-License-Identifier: MIT */
/*  End-to-end: what a client sent before it left is delivered, and the
    replies to it reach it before the close (docs/OPERATIONS.md,
    "Leaving"). A packet that moves a client, says two lines and leaves
    (by /quit, a half-close or a reset) must reach the room it moved to,
    in order; replies to commands before /quit must arrive before EOF.
    Each test fails on a server that closes at /quit or EOF at once, or
    that drops the input of a client that leaves while it moves.         */
#include "e2e.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/*  A client already in room dev, to watch who comes and goes there.     */
static e2e_client_t *
watcher_in_dev (e2e_server_t *srv)
{
    e2e_client_t *watcher = e2e_login (srv, "watcher");
    e2e_send (watcher, "/join dev\n");
    e2e_expect_prompt (watcher); /* dev is new: no history */
    return watcher;
}

/*  dev sees mover join, say line1 and line2, and leave, in that order,
    and nothing else.                                                    */
static void
expect_dev_sees_it_all (e2e_client_t *watcher)
{
    e2e_expect_joined (watcher, "mover");
    e2e_expect_said (watcher, "mover", "line1");
    e2e_expect_said (watcher, "mover", "line2");
    e2e_expect_left (watcher, "mover");
    e2e_expect_silence (watcher, E2E_QUIET_MS);
}

/*  The mover's own view of the move: dev's (empty) history and prompt,
    then a fresh prompt for each of its lines.                           */
static void
expect_moved_and_said_two (e2e_client_t *mover)
{
    e2e_expect_prompt (mover);
    e2e_expect_prompt (mover);
    e2e_expect_prompt (mover);
}

/*  /join dev, two lines and the end in one packet, the end being /quit
    or a half-close: dev sees it all; the mover still reads its replies,
    then the close.                                                      */
static void
packet_reaches_the_room_it_moved_to (bool half_close)
{
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *watcher = watcher_in_dev (srv);
    e2e_client_t *mover = e2e_login (srv, "mover");
    e2e_send (mover, half_close ? "/join dev\nline1\nline2\n" : "/join dev\nline1\nline2\n/quit\n");
    if (half_close && shutdown (e2e_fd (mover), SHUT_WR) != 0)
        e2e_fail ("shutdown: %s", strerror (errno));
    expect_dev_sees_it_all (watcher);
    expect_moved_and_said_two (mover);
    e2e_expect_eof (mover);
    e2e_stop (srv);
}

static void
test_quit_packet_reaches_the_room_it_moved_to (void **state)
{
    (void) state;
    packet_reaches_the_room_it_moved_to (false);
}

static void
test_half_close_packet_reaches_the_room_it_moved_to (void **state)
{
    (void) state;
    packet_reaches_the_room_it_moved_to (true);
}

/*  A reset after the server has read the lines: with --rate 1 they still
    wait in the server (the name and /join took the burst), so the reset
    lands while line1 and line2 are read but not yet handed on.          */
static void
test_reset_after_the_read_still_delivers (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start ("--rate", "1");
    e2e_client_t *watcher = watcher_in_dev (srv);
    e2e_client_t *mover = e2e_login (srv, "mover");
    e2e_send (mover, "/join dev\nline1\nline2\n");
    /*  Its prompt in dev: the packet, read at once, has been taken in.  */
    e2e_expect_prompt (mover);
    e2e_reset (mover);
    expect_dev_sees_it_all (watcher);
    e2e_stop (srv);
}

/*  The same packet as the first test, /quit included, then a reset a
    moment later: nothing it sent is lost to the reset.                  */
static void
test_reset_after_quit_still_delivers (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *watcher = watcher_in_dev (srv);
    e2e_client_t *mover = e2e_login (srv, "mover");
    e2e_send (mover, "/join dev\nline1\nline2\n/quit\n");
    e2e_sleep_ms (100);
    e2e_reset (mover);
    expect_dev_sees_it_all (watcher);
    e2e_stop (srv);
}

/*  Commands before /quit in one packet: every reply, then EOF; the room
    hears the leave after the replies.                                  */
static void
test_replies_before_quit_arrive_before_the_close (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    e2e_send (bob, "/rooms\n/users\n/help\n/quit\n");
    e2e_expect_reply (bob, "Rooms:\n* general (2 members)");
    e2e_expect_reply (bob, "Users in general (2): alice, bob");
    e2e_expect (bob, E2E_HELP);
    e2e_expect_prompt (bob);
    e2e_expect_eof (bob);
    e2e_expect_left (alice, "bob");
    e2e_expect_silence (alice, E2E_QUIET_MS);
    e2e_stop (srv);
}

/*  The same at EOF: a client that sends commands and half-closes.       */
static void
test_replies_before_eof_arrive_before_the_close (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_send (alice, "/users\nbye\n");
    if (shutdown (e2e_fd (alice), SHUT_WR) != 0)
        e2e_fail ("shutdown: %s", strerror (errno));
    e2e_expect_reply (alice, "Users in general (1): alice");
    e2e_expect_prompt (alice);
    e2e_expect_eof (alice);
    e2e_client_t *bob = e2e_login_history (srv, "bob", E2E_TS "[alice]:bye\n");
    (void) bob;
    e2e_stop (srv);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        E2E_TEST (test_quit_packet_reaches_the_room_it_moved_to),
        E2E_TEST (test_half_close_packet_reaches_the_room_it_moved_to),
        E2E_TEST (test_reset_after_the_read_still_delivers),
        E2E_TEST (test_reset_after_quit_still_delivers),
        E2E_TEST (test_replies_before_quit_arrive_before_the_close),
        E2E_TEST (test_replies_before_eof_arrive_before_the_close),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
