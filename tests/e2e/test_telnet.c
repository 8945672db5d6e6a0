/* SPDX-License-Identifier: MIT */
/*  End-to-end: telnet clients (docs/PROTOCOL.md, "Telnet clients").

    Two kinds of test. Scripted transcripts send, over a plain socket,
    the bytes inetutils telnet sends (captured from it), and check every
    byte of the answers: they run everywhere. The real-telnet tests drive
    /usr/bin/telnet through a pseudo-terminal, as a user would (login in
    negotiating mode, chat both ways with an nc client, Ctrl-C, a line);
    they are skipped, saying so, where telnet is not installed.          */
#include "e2e.h"
#include "../telnet_bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/*  String literals that may hold NUL bytes.                             */
#define send_bytes(c, lit)   e2e_send_n ((c), (lit), sizeof (lit) - 1)
#define expect_bytes(c, lit) e2e_expect_n ((c), (lit), sizeof (lit) - 1)

/*  The answer to Ctrl-C's DO TIMING-MARK.                               */
#define TM_ANSWER  IAC WILL TM
#define AYT_ANSWER "\n[Yes]\n"
#define FFFD       "\xef\xbf\xbd"

static pid_t s_telnet = -1; /* a telnet the test started */

static int
telnet_teardown (void **state)
{
    if (s_telnet > 0) {
        kill (s_telnet, SIGKILL);
        waitpid (s_telnet, NULL, 0);
        s_telnet = -1;
    }
    e2e_teardown (state);
    return 0;
}

#define TELNET_TEST(f) cmocka_unit_test_setup_teardown (f, e2e_setup, telnet_teardown)

/*  A whole file, NUL terminated (freed at teardown); *size its length.  */
static char *
read_all (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        e2e_fail ("cannot open %s: %s", path, strerror (errno));
    char *text = e2e_calloc (1, 65536);
    *size = fread (text, 1, 65535, file);
    fclose (file);
    return text;
}

/*  Connects, reads the banner, sends what telnet sends on connecting in
    negotiating mode and the name, and expects every refusal, then the
    prompt: the name arrived clean.                                       */
static e2e_client_t *
telnet_login (e2e_server_t *srv, const char *name)
{
    e2e_client_t *c = e2e_at_name_prompt (srv);
    char         *hello = e2e_fmt ("%s%s\r\n", INETUTILS_HELLO, name);
    e2e_send (c, hello);
    e2e_set_name (c, name);
    expect_bytes (c, INETUTILS_REFUSED);
    e2e_expect_prompt (c);
    return c;
}

/*  A server (with --data-dir dir unless NULL), alice by nc and bob by
    telnet in general, alice told that bob joined.                        */
static e2e_server_t *
start_with_telnet_bob (const char *dir, e2e_client_t **alice, e2e_client_t **bob)
{
    e2e_server_t *srv = dir ? e2e_start ("--data-dir", dir) : e2e_start (NULL);
    *alice = e2e_login (srv, "alice");
    *bob = telnet_login (srv, "bob");
    e2e_expect_joined (*alice, "bob");
    return srv;
}

/* ------------------------------------------------------------------ */
/*  Scripted transcripts                                              */

/*  The issue: in negotiating mode the first name was "too long".        */
static void
test_negotiation_is_refused_and_the_name_is_clean (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = start_with_telnet_bob (NULL, &alice, &bob);
    (void) bob;
    e2e_send (alice, "/users\n");
    e2e_expect_reply (alice, "Users in general (2): alice, bob");
    e2e_stop (srv);
}

/*  The same bytes one at a time: the same answers.                       */
static void
test_negotiation_split_byte_by_byte (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *bob = e2e_at_name_prompt (srv);
    const char hello [] = INETUTILS_HELLO "b" IAC NOP "ob\r\n";
    e2e_send_split (bob, hello, sizeof hello - 1, 1, 5);
    e2e_set_name (bob, "bob");
    expect_bytes (bob, INETUTILS_REFUSED);
    e2e_expect_prompt (bob);
    //  Asked again: already answered, so nothing (no loop).
    e2e_send (bob, IAC WILL "\x18" IAC DO "\x03" IAC WONT "\x18" IAC DONT "\x03");
    e2e_expect_silence (bob, E2E_QUIET_MS);
    e2e_stop (srv);
}

/*  The issue: after Ctrl-C the next line went out as
    "[bob]:\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdafter ctrl-c", into
    history and the file, and telnet showed nothing more, waiting for the
    TIMING-MARK answer.                                                   */
static void
test_ctrl_c_then_a_clean_line (void **state)
{
    (void) state;
    const char   *dir = e2e_fmt ("%s/data", e2e_root ());
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = start_with_telnet_bob (dir, &alice, &bob);

    e2e_send (bob, CTRL_C);
    expect_bytes (bob, TM_ANSWER);
    e2e_send (bob, "after ctrl-c\r\n");
    e2e_expect_prompt (bob);
    e2e_expect_said (alice, "bob", "after ctrl-c");
    //  Ctrl-C again: answered again.
    e2e_send (bob, CTRL_C);
    expect_bytes (bob, TM_ANSWER);
    e2e_say (alice, "still there?");
    e2e_expect_said (bob, "alice", "still there?");

    //  History and the file hold the clean line.
    e2e_client_t *carol = e2e_login_history (
        srv, "carol", E2E_TS "[bob]:after ctrl-c\n" E2E_TS "[alice]:still there?\n");
    (void) carol;
    size_t size;
    char  *file = read_all (e2e_fmt ("%s/general.log", dir), &size);
    if (memchr (file, 0xff, size) || strstr (file, FFFD))
        e2e_fail ("the room's file holds telnet bytes: %s", e2e_escape (file, size));
    const char *want = E2E_TS "[bob]:after ctrl-c\n";
    if (size < e2e_pattern_len (want) || !e2e_match (want, file, e2e_pattern_len (want)))
        e2e_fail ("the room's file: %s", e2e_escape (file, size));
    e2e_stop (srv);
}

/*  IP drops what was typed on the line so far (character mode sends it
    as typed); AYT is answered; commands inside a line vanish; IAC IAC is
    the byte 0xFF, which is not UTF-8: U+FFFD like any such byte.         */
static void
test_commands_inside_lines (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = start_with_telnet_bob (NULL, &alice, &bob);

    e2e_send (bob, "half a li");
    e2e_sleep_ms (100);
    e2e_send (bob, "ne" CTRL_C "whole\r\n");
    expect_bytes (bob, TM_ANSWER);
    e2e_expect_prompt (bob);
    e2e_expect_said (alice, "bob", "whole");

    e2e_send (bob, IAC AYT);
    expect_bytes (bob, AYT_ANSWER);

    send_bytes (bob, "he" IAC NOP "llo" IAC SB "\x18\x00xterm" IAC SE " caf" IAC IAC "\r\n");
    e2e_expect_prompt (bob);
    e2e_expect_said (alice, "bob", "hello caf" FFFD);
    e2e_expect_silence (bob, E2E_QUIET_MS);
    e2e_expect_silence (alice, 0);
    e2e_stop (srv);
}

/*  CR NUL, telnet's Enter in character mode, ends a line for a telnet
    client; an nc client's bytes are never read as telnet: its CR and NUL
    are control bytes, cleaned out of the one line.                      */
static void
test_cr_nul_for_telnet_only (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = start_with_telnet_bob (NULL, &alice, &bob);
    send_bytes (bob, "one\r\0two\r\0");
    e2e_expect_prompt (bob);
    e2e_expect_prompt (bob);
    e2e_expect_said (alice, "bob", "one");
    e2e_expect_said (alice, "bob", "two");

    send_bytes (alice, "one\r\0two\n");
    e2e_expect_prompt (alice);
    e2e_expect_said (bob, "alice", "onetwo");
    e2e_expect_silence (alice, E2E_QUIET_MS);
    e2e_stop (srv);
}

/*  A history file may hold a 0xFF: a telnet client must not take it for a
    command, so it gets it doubled (or cleaned); nc gets what is stored.  */
static void
test_output_never_holds_a_bare_iac (void **state)
{
    (void) state;
    const char *dir = e2e_fmt ("%s/data", e2e_root ());
    if (mkdir (dir, 0700) != 0)
        e2e_fail ("mkdir %s: %s", dir, strerror (errno));
    FILE *file = fopen (e2e_fmt ("%s/general.log", dir), "wb");
    if (!file)
        e2e_fail ("cannot write the history file: %s", strerror (errno));
    fputs ("[2026-01-01 00:00:00][old]:caf\xff\n", file);
    fclose (file);
    e2e_server_t *srv = e2e_start ("--data-dir", dir);

    e2e_client_t *bob = e2e_at_name_prompt (srv);
    e2e_send (bob, IAC NOP "bob\r\n");
    e2e_set_name (bob, "bob");
    const char *line = e2e_peek (bob, 30, E2E_TIMEOUT_MS);
    if (!e2e_match ("[2026-01-01 00:00:00][old]:caf", line, 30))
        e2e_fail ("history: %s", e2e_escape (line, 30));
    e2e_consume (bob, 30);
    line = e2e_peek (bob, 3, E2E_TIMEOUT_MS);
    if (memcmp (line, "\xff\xff\n", 3) == 0)
        e2e_consume (bob, 3);
    else {
        expect_bytes (bob, FFFD "\n");
    }
    e2e_expect_prompt (bob);
    e2e_stop (srv);
}

/*  A client may not compress what it sends (libtelnet would inflate it):
    it is disconnected, and its room told.                               */
static void
test_client_compression_is_refused (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = start_with_telnet_bob (NULL, &alice, &bob);
    send_bytes (bob, IAC SB "\x56" IAC SE "\x78\x9c\xcb\xc8\xe4\x02\x00\x02\x17\x00\xdc");
    e2e_expect_eof (bob);
    e2e_expect_left (alice, "bob");
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  The real telnet, through a pseudo-terminal                         */

#define TELNET_PATH "/usr/bin/telnet"

typedef struct {
    int    fd;           /* the pty's master side */
    char   seen [65536]; /* what telnet showed, not yet matched */
    size_t len;
    char   home [64];
} term_t;

static void
term_start (term_t *t, int port, bool negotiate)
{
    snprintf (t->home, sizeof t->home, "%s", e2e_root ());
    char port_arg [16];
    snprintf (port_arg, sizeof port_arg, negotiate ? "-%d" : "%d", port);
    struct winsize size = {.ws_row = 24, .ws_col = 200};
    fflush (NULL);
    s_telnet = forkpty (&t->fd, NULL, NULL, &size);
    if (s_telnet < 0)
        e2e_fail ("forkpty: %s", strerror (errno));
    if (s_telnet == 0) {
        //  No ~/.telnetrc of whoever runs the tests.
        setenv ("HOME", t->home, 1);
        setenv ("TERM", "dumb", 1);
        if (negotiate)
            execl (TELNET_PATH, "telnet", "--", "127.0.0.1", port_arg, (char *) NULL);
        else
            execl (TELNET_PATH, "telnet", "127.0.0.1", port_arg, (char *) NULL);
        _exit (127);
    }
    fcntl (t->fd, F_SETFL, fcntl (t->fd, F_GETFL) | O_NONBLOCK);
    t->len = 0;
}

/*  What the user types.                                                 */
static void
term_type (term_t *t, const char *keys)
{
    size_t len = strlen (keys);
    if (write (t->fd, keys, len) != (ssize_t) len)
        e2e_fail ("writing to telnet's terminal: %s", strerror (errno));
}

/*  Waits (bounded) until telnet has shown needle, and forgets what it
    showed up to there.                                                  */
static void
term_expect (term_t *t, const char *needle)
{
    int64_t deadline = e2e_now_ms () + 2 * E2E_TIMEOUT_MS;
    for (;;) {
        t->seen [t->len] = '\0';
        char *found = memmem (t->seen, t->len, needle, strlen (needle));
        if (found) {
            size_t used = (size_t) (found - t->seen) + strlen (needle);
            memmove (t->seen, t->seen + used, t->len - used);
            t->len -= used;
            return;
        }
        int left = (int) (deadline - e2e_now_ms ());
        if (left <= 0 || t->len + 1 >= sizeof t->seen)
            e2e_fail ("telnet did not show %s; it showed %s", e2e_escape (needle, strlen (needle)),
                      e2e_escape (t->seen, t->len));
        struct pollfd p = {.fd = t->fd, .events = POLLIN};
        if (poll (&p, 1, left) <= 0)
            continue;
        ssize_t got = read (t->fd, t->seen + t->len, sizeof t->seen - 1 - t->len);
        if (got > 0)
            t->len += (size_t) got;
        else if (got == 0 || (errno != EAGAIN && errno != EINTR))
            e2e_fail ("telnet exited before showing %s; it showed %s",
                      e2e_escape (needle, strlen (needle)), e2e_escape (t->seen, t->len));
    }
}

/*  Telnet leaves when the server closes the connection: reaped, bounded. */
static void
term_expect_exit (term_t *t)
{
    term_expect (t, "Connection closed by foreign host.");
    int64_t deadline = e2e_now_ms () + E2E_TIMEOUT_MS;
    while (e2e_now_ms () < deadline) {
        if (waitpid (s_telnet, NULL, WNOHANG) == s_telnet) {
            s_telnet = -1;
            close (t->fd);
            return;
        }
        e2e_sleep_ms (20);
    }
    e2e_fail ("telnet did not exit within %d ms of the connection closing", E2E_TIMEOUT_MS);
}

static bool
have_telnet (void)
{
    if (access (TELNET_PATH, X_OK) == 0)
        return true;
    print_message ("skipped: %s is not installed (Debian: apt-get install inetutils-telnet)\n",
                   TELNET_PATH);
    return false;
}

/*  Login, chat both ways with an nc client, Ctrl-C, a line, more output. */
static void
real_telnet_session (bool negotiate)
{
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *alice = e2e_login (srv, "alice");
    term_t       *t = e2e_calloc (1, sizeof (term_t));
    term_start (t, e2e_port (srv), negotiate);
    term_expect (t, "[ENTER YOUR NAME]: ");
    term_type (t, "bob\r");
    term_expect (t, "][bob]:");
    e2e_expect_joined (alice, "bob");

    term_type (t, "hello alice\r");
    e2e_expect_said (alice, "bob", "hello alice");
    e2e_say (alice, "hi bob");
    term_expect (t, "][alice]:hi bob\r\n");

    //  Ctrl-C: telnet sends IP and DO TIMING-MARK, then shows nothing
    //  until it has the answer.
    term_type (t, "\003");
    e2e_sleep_ms (200);
    term_type (t, "after ctrl-c\r");
    e2e_expect_said (alice, "bob", "after ctrl-c");
    e2e_say (alice, "can you see this?");
    term_expect (t, "][alice]:can you see this?\r\n");

    term_type (t, "/quit\r");
    e2e_expect_left (alice, "bob");
    term_expect_exit (t);
    e2e_expect_silence (alice, E2E_QUIET_MS);
    e2e_stop (srv);
}

static void
test_real_telnet_negotiating (void **state)
{
    (void) state;
    if (!have_telnet ())
        skip ();
    real_telnet_session (true);
}

static void
test_real_telnet_line_mode (void **state)
{
    (void) state;
    if (!have_telnet ())
        skip ();
    real_telnet_session (false);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        TELNET_TEST (test_negotiation_is_refused_and_the_name_is_clean),
        TELNET_TEST (test_negotiation_split_byte_by_byte),
        TELNET_TEST (test_ctrl_c_then_a_clean_line),
        TELNET_TEST (test_commands_inside_lines),
        TELNET_TEST (test_cr_nul_for_telnet_only),
        TELNET_TEST (test_output_never_holds_a_bare_iac),
        TELNET_TEST (test_client_compression_is_refused),
        TELNET_TEST (test_real_telnet_negotiating),
        TELNET_TEST (test_real_telnet_line_mode),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
