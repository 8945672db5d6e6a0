/* SPDX-License-Identifier: MIT */
/*  End-to-end: connection limits and a busy room (docs/PROTOCOL.md,
    "--max-clients", "Connecting").                                      */
#include "e2e.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  The newcomer over the limit: exactly the "full" line, then EOF.     */
static void
expect_turned_away (e2e_server_t *srv)
{
    e2e_client_t *c = e2e_connect (srv);
    e2e_expect (c, E2E_FULL);
    e2e_expect_eof (c);
    e2e_close (c);
}

/*  Connects until the server lets us in (a slot freed without any event
    we could wait for): bounded number of tries.                        */
static e2e_client_t *
connect_when_free (e2e_server_t *srv)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        e2e_client_t *c = e2e_connect (srv);
        if (e2e_peek (c, 1, E2E_TIMEOUT_MS) [0] != 'C') {
            e2e_expect_banner (c);
            return c;
        }
        e2e_expect (c, E2E_FULL);
        e2e_expect_eof (c);
        e2e_close (c);
        e2e_sleep_ms (100);
    }
    e2e_fail ("still full after 50 tries, 100 ms apart");
}

/*  The default limit is 10 open connections, those at the name prompt
    included; a named client leaving frees its slot.                    */
static void
test_default_limit_is_ten (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *named [6];
    for (int i = 0; i < 6; i++)
        named [i] = e2e_login (srv, e2e_fmt ("user%d", i));
    for (int i = 0; i < 4; i++)
        e2e_expect_banner (e2e_connect (srv));
    expect_turned_away (srv);
    expect_turned_away (srv);

    /*  Drain the join notices so that user0 can see user5 leave.      */
    for (int i = 1; i < 6; i++)
        e2e_expect_joined (named [0], e2e_fmt ("user%d", i));
    e2e_close (named [5]);
    e2e_expect_left (named [0], "user5");
    /*  The slot may be freed a moment after the notice: retry a little. */
    e2e_client_t *late = connect_when_free (srv);
    e2e_enter (late, "late", "");
    expect_turned_away (srv);
    e2e_stop (srv);
}

/*  --max-clients 3; the turned-away attempts tell nobody anything, and a
    client leaving at the name prompt frees its slot too.                */
static void
test_limit_three (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start ("--max-clients", "3");
    e2e_client_t *alice, *bob;
    e2e_login_two (srv, &alice, &bob);
    e2e_client_t *waiting = e2e_at_name_prompt (srv);
    expect_turned_away (srv);
    e2e_expect_silence (alice, E2E_QUIET_MS);
    e2e_expect_silence (bob, 0);

    e2e_close (waiting);
    e2e_client_t *carol = connect_when_free (srv);
    e2e_send (carol, "carol\n");
    e2e_set_name (carol, "carol");
    e2e_expect_prompt (carol);
    e2e_expect_joined (alice, "carol");
    expect_turned_away (srv);
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  Fifty clients talking at once                                     */

#define CROWD      50
#define LINES_EACH 6
#define CROWD_MS   60000 /* for everything to arrive: generous */

typedef struct {
    e2e_client_t *c;
    int           next [CROWD]; /* next line number expected from each sender */
    int           prompts;
    int           chats;
} member_t;

static const char *
crowd_name (int i)
{
    static char names [CROWD][8];
    snprintf (names [i], sizeof names [i], "u%02d", i);
    return names [i];
}

static bool
member_done (const member_t *m)
{
    return m->chats == (CROWD - 1) * LINES_EACH &&
           m->prompts == (CROWD - 1) * LINES_EACH + LINES_EACH;
}

/*  One chat line "\n[TS][uJJ]:mJJ-K\n" at the start of p[0..len): the
    sender J and line K, or false when it is not one.                    */
static bool
parse_chat (const char *p, size_t len, int *sender, int *k)
{
    const size_t head = 1 + E2E_TS_LEN;
    char         text [64];
    if (len < head + 6 || len - head >= sizeof text || p [0] != '\n' ||
        !e2e_match (E2E_TS, p + 1, E2E_TS_LEN))
        return false;
    memcpy (text, p + head, len - head); /* NUL terminated for sscanf */
    text [len - head] = '\0';
    int  j = -1, jj = -1, kk = -1, used = 0;
    char tail = 0;
    if (sscanf (text, "[u%2d]:m%2d-%d%c%n", &j, &jj, &kk, &tail, &used) != 4)
        return false;
    if (j != jj || tail != '\n' || j < 0 || j >= CROWD || (size_t) used != len - head)
        return false;
    *sender = j;
    *k = kk;
    return true;
}

/*  Consumes every complete token buffered for member i: chat lines from
    others (checked in per-sender order) and its own prompts.            */
static void
parse_member (member_t *m, int i)
{
    const char *prompt = e2e_fmt (E2E_TS "[%s]:", crowd_name (i));
    for (int guard = 0; guard < 100000; guard++) {
        size_t      len;
        const char *p = e2e_buffered (m->c, &len);
        if (len == 0)
            return;
        if (p [0] == '[') {
            size_t n = E2E_TS_LEN + 6; /* "[TS][uII]:" */
            if (len < n)
                return;
            if (!e2e_match (prompt, p, n))
                e2e_fail ("%s: bad prompt %s", crowd_name (i), e2e_escape (p, n));
            m->prompts++;
            e2e_consume (m->c, n);
            continue;
        }
        const char *end = len > 1 ? memchr (p + 1, '\n', len - 1) : NULL;
        if (!end)
            return; /* incomplete line */
        size_t n = (size_t) (end - p) + 1;
        int    j, k;
        if (!parse_chat (p, n, &j, &k) || j == i)
            e2e_fail ("%s: unexpected %s", crowd_name (i), e2e_escape (p, n));
        if (k != m->next [j])
            e2e_fail ("%s: from %s got line %d, want %d (lost, duplicated or reordered)",
                      crowd_name (i), crowd_name (j), k, m->next [j]);
        m->next [j]++;
        m->chats++;
        e2e_consume (m->c, n);
    }
}

/*  Reads every socket that has bytes, parses what came.                */
static void
pump (member_t *crowd, int timeout_ms)
{
    struct pollfd pf [CROWD];
    for (int i = 0; i < CROWD; i++)
        pf [i] = (struct pollfd){.fd = e2e_fd (crowd [i].c), .events = POLLIN};
    if (poll (pf, CROWD, timeout_ms) <= 0)
        return;
    for (int i = 0; i < CROWD; i++) {
        if (!pf [i].revents)
            continue;
        ssize_t r = e2e_fill (crowd [i].c);
        if (r == 0 || (r < 0 && errno != EAGAIN))
            e2e_fail ("%s: connection lost", crowd_name (i));
        parse_member (&crowd [i], i);
    }
}

static void
log_in_crowd (e2e_server_t *srv, member_t *crowd)
{
    for (int i = 0; i < CROWD; i++) {
        memset (&crowd [i], 0, sizeof crowd [i]);
        crowd [i].c = e2e_login (srv, crowd_name (i));
    }
    /*  Member i saw everyone after it join, in that order.             */
    for (int i = 0; i < CROWD; i++)
        for (int j = i + 1; j < CROWD; j++)
            e2e_expect_joined (crowd [i].c, crowd_name (j));
}

static void
test_fifty_clients_every_line_once_in_order (void **state)
{
    (void) state;
    e2e_server_t   *srv = e2e_start ("--max-clients", "60");
    static member_t crowd [CROWD];
    log_in_crowd (srv, crowd);

    /*  Everyone talks, line after line, reading as it goes.             */
    for (int k = 0; k < LINES_EACH; k++) {
        for (int i = 0; i < CROWD; i++)
            e2e_send (crowd [i].c, e2e_fmt ("m%02d-%d\n", i, k));
        pump (crowd, 0);
    }
    int64_t deadline = e2e_now_ms () + CROWD_MS;
    for (int done = 0; done < CROWD && e2e_now_ms () < deadline;) {
        pump (crowd, 100);
        done = 0;
        for (int i = 0; i < CROWD; i++)
            done += member_done (&crowd [i]);
    }
    for (int i = 0; i < CROWD; i++)
        if (!member_done (&crowd [i]))
            e2e_fail ("%s: after %d ms, %d of %d lines and %d of %d prompts", crowd_name (i),
                      CROWD_MS, crowd [i].chats, (CROWD - 1) * LINES_EACH, crowd [i].prompts,
                      CROWD * LINES_EACH);
    /*  And nothing more.                                                */
    e2e_expect_silence (crowd [0].c, E2E_QUIET_MS);
    for (int i = 1; i < CROWD; i++)
        e2e_expect_silence (crowd [i].c, 0);
    e2e_stop (srv);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        E2E_TEST (test_default_limit_is_ten),
        E2E_TEST (test_limit_three),
        E2E_TEST (test_fifty_clients_every_line_once_in_order),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
