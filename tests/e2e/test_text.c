/* SPDX-License-Identifier: MIT */
/*  End-to-end: text that cannot hurt. Cleaning never grows a line past
    the limit and strips bidi overrides; names that hide characters or
    pass for a connected user's are refused; the log never blocks the
    server, never carries a client's control bytes raw, and follows the
    operator's signals (docs/OPERATIONS.md, "Logs").                     */
#include "e2e.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FFFD      "\xEF\xBF\xBD"
#define SIMILAR   "Name is too similar to a user's name already here."
#define INVISIBLE "Name cannot contain invisible or formatting characters."
#define TAKEN     "Name is already taken."
#define ROOM_LONG "Room name is too long (max 32 characters)."
#define MAX_LINE  4096

/* ------------------------------------------------------------------ */
/*  Helpers                                                           */

static char *
read_whole (const char *path)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char  *data = e2e_calloc (1, cap + 1);
    for (size_t n; (n = fread (data + len, 1, cap - len, f)) > 0;) {
        len += n;
        if (len == cap) {
            char *bigger = e2e_calloc (1, 2 * cap + 1);
            memcpy (bigger, data, len);
            data = bigger;
            cap *= 2;
        }
    }
    fclose (f);
    data [len] = '\0';
    return data;
}

/*  Waits (bounded) until the file at path holds want; its text.        */
static char *
wait_for_text (const char *path, const char *want)
{
    int64_t deadline = e2e_now_ms () + E2E_TIMEOUT_MS;
    char   *text = NULL;
    while (e2e_now_ms () < deadline) {
        text = read_whole (path);
        if (text && strstr (text, want))
            return text;
        e2e_sleep_ms (20);
    }
    e2e_fail ("%s: no %s within %d ms; it holds %s", path, e2e_escape (want, strlen (want)),
              E2E_TIMEOUT_MS, text ? e2e_escape (text, strlen (text)) : "nothing (no file)");
}

/*  Exit status after pid ends (bounded), or -1.                        */
static int
wait_status (pid_t pid, int ms)
{
    int64_t deadline = e2e_now_ms () + ms;
    while (e2e_now_ms () < deadline) {
        int status;
        if (waitpid (pid, &status, WNOHANG) == pid)
            return status;
        e2e_sleep_ms (10);
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/*  Cleaning                                                          */

/*  4096 bytes of alternating ASCII and invalid bytes: cleaned, the text
    stays within the line limit, cut on a character boundary, for the
    room and for a newcomer's history.                                  */
static void
test_garbage_line_stays_within_the_limit (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    char         *line = e2e_calloc (1, MAX_LINE + 2);
    for (size_t i = 0; i < MAX_LINE; i++)
        line [i] = i % 2 ? (char) 0xFE : 'a'; /* 0xFF would start telnet */
    line [MAX_LINE] = '\n';
    e2e_send_n (alice, line, MAX_LINE + 1);
    e2e_expect_prompt (alice);
    //  2048 "a" + U+FFFD pairs would be 8192 bytes: 1024 of them fit.
    char *want = e2e_calloc (1, MAX_LINE + 1);
    for (size_t i = 0; i < MAX_LINE; i += 4)
        memcpy (want + i, "a" FFFD, 4);
    e2e_expect_said (bob, "alice", want);
    e2e_login_history (srv, "carol", e2e_fmt (E2E_TS "[alice]:%s\n", want));
    e2e_expect_joined (alice, "carol");
    e2e_expect_joined (bob, "carol");
    //  A whole run of invalid bytes is one U+FFFD.
    e2e_send (bob, "x\xfe\xc0\x80y\n");
    e2e_expect_prompt (bob);
    e2e_expect_chat (alice, "bob", "x" FFFD "y");
    e2e_stop (srv);
}

/*  Bidi override and isolate controls never reach the others.          */
static void
test_bidi_controls_stripped_from_chat (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    e2e_send (alice, "see evil\xe2\x80\xae"
                     "fdp.exe and \xe2\x81\xa6"
                     "x\xe2\x81\xa9 "
                     "\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad\xe2\x81\xa7\xe2\x81\xa8"
                     "end\n");
    e2e_expect_prompt (alice);
    e2e_expect_said (bob, "alice", "see evilfdp.exe and x end");
    //  In a private message too.
    e2e_send (bob, "/msg alice \xe2\x80\xae"
                   "olleh\n");
    e2e_expect_prompt (bob);
    e2e_expect_said (alice, "bob -> alice", "olleh");
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  Names                                                             */

static void
expect_refusal (e2e_client_t *c, const char *typed, const char *reply)
{
    e2e_send (c, e2e_fmt ("%s\n", typed));
    e2e_expect (c, e2e_fmt ("%s\n" E2E_NAME_PROMPT, reply));
}

static void
test_invisible_names_refused (void **state)
{
    (void) state;
    const char *names [] = {
        "ali\xe2\x80\x8b"
        "ce", /* U+200B zero width space */
        "ali\xe2\x80\x8c"
        "ce", /* U+200C ZWNJ */
        "ali\xe2\x80\x8d"
        "ce", /* U+200D ZWJ */
        "\xef\xbb\xbf"
        "alice", /* U+FEFF BOM */
        "al\xc2\xad"
        "ice", /* U+00AD soft hyphen */
        "ali\xe2\x81\xa0"
        "ce", /* U+2060 word joiner */
        "\xe2\x80\xae"
        "ecila",                    /* U+202E RLO */
        "alice\xe2\x81\xa6",        /* U+2066 LRI */
        "alice\xe2\x80\x8f",        /* U+200F RLM */
        "\xe2\x80\x8b\xe2\x80\x8b", /* nothing visible at all */
        "\xe3\x85\xa4",             /* U+3164 Hangul filler */
        "alice\xef\xb8\x8f",        /* U+FE0F variation selector */
    };
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *c = e2e_at_name_prompt (srv);
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++)
        expect_refusal (c, names [i], INVISIBLE);
    e2e_enter (c, "alice", "");
    e2e_stop (srv);
}

/*  "аlice" (Cyrillic а) and friends are refused while alice is here,
    and free once she has left (then plain alice is the one refused).  */
static void
test_lookalike_names_refused_while_connected (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    e2e_client_t *c = e2e_at_name_prompt (srv);
    expect_refusal (c, "\xd0\xb0lice", SIMILAR);     /* Cyrillic а */
    expect_refusal (c, "\xd0\x90LICE", SIMILAR);     /* Cyrillic А */
    expect_refusal (c, "AIice", SIMILAR);            /* capital I */
    expect_refusal (c, "\xef\xbd\x81lice", SIMILAR); /* fullwidth a */
    expect_refusal (c, "ALICE", TAKEN);              /* as before */
    //  /name runs the same check.
    e2e_send (bob, "/name \xd0\xb0lice\n");
    e2e_expect_reply (bob, SIMILAR);
    e2e_send (bob, "/name b\xe2\x80\x8bob\n");
    e2e_expect_reply (bob, INVISIBLE);
    e2e_close (alice);
    e2e_expect_left (bob, "alice");
    e2e_enter (c, "\xd0\xb0lice", "");
    e2e_expect_joined (bob, "\xd0\xb0lice");
    e2e_client_t *d = e2e_at_name_prompt (srv);
    expect_refusal (d, "alice", SIMILAR);
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  Log                                                               */

/*  --verbose: what clients typed reaches the log escaped, so no client
    can write a fake line or retitle the operator's terminal.           */
static void
test_verbose_log_is_escaped (void **state)
{
    (void) state;
    const char   *dir = e2e_root ();
    char         *path = e2e_fmt ("%s/chat.log", dir);
    e2e_server_t *srv = e2e_start ("--verbose", "--log-file", path);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_send (alice, "/join \x1b]0;pwned\x07"
                     "evil\n");
    e2e_expect_reply (alice, "Room name can only contain letters, digits, '_' and '-'.");
    e2e_send (alice, "/name x\rfake\x1b[2J\x07\x7f\xc2\x9b\n");
    e2e_expect_reply (alice, "Name can only contain printable characters.");
    e2e_send (alice, "/join a\xe2\x80\xae"
                     "b\\x\n");
    e2e_expect_reply (alice, "Room name can only contain letters, digits, '_' and '-'.");
    char *log = wait_for_text (path, "a\\xe2\\x80\\xaeb\\\\x\n");
    e2e_stop (srv);
    log = read_whole (path);
    if (!strstr (log, "alice: /join \\x1b]0;pwned\\x07evil\n"))
        e2e_fail ("/join not escaped: %s", e2e_escape (log, strlen (log)));
    if (!strstr (log, "alice: /name x\\rfake\\x1b[2J\\x07\\x7f\\xc2\\x9b\n"))
        e2e_fail ("/name not escaped: %s", e2e_escape (log, strlen (log)));
    for (const char *p = log; *p; p++)
        if (((unsigned char) *p < 0x20 && *p != '\n') || *p == 0x7f)
            e2e_fail ("raw control byte 0x%02x in the log: %s", (unsigned char) *p,
                      e2e_escape (log, strlen (log)));
}

/*  --log-file must be a regular file: a FIFO (which used to hang the
    start), a directory or a device is refused at once, exit 2.         */
static void
test_log_file_must_be_regular (void **state)
{
    (void) state;
    const char *dir = e2e_root ();
    char       *fifo = e2e_fmt ("%s/fifo", dir);
    if (mkfifo (fifo, 0600) != 0)
        e2e_fail ("mkfifo: %s", strerror (errno));
    struct {
        const char *path, *why;
    } cases [] = {
        {fifo, "a FIFO"},
        {dir, "a directory"},
        {"/dev/null", "a character device"},
    };
    for (size_t i = 0; i < 3; i++) {
        e2e_run_t run;
        int       port = e2e_free_port ();
        e2e_run (&run,
                 ((const char *[]){"--bind", "127.0.0.1", "--log-file", cases [i].path,
                                   e2e_fmt ("%d", port), NULL}),
                 NULL);
        char *want = e2e_fmt ("TCPChat: --log-file %s: %s, not a regular file\n", cases [i].path,
                              cases [i].why);
        if (!WIFEXITED (run.status) || WEXITSTATUS (run.status) != 2 || strcmp (run.err, want) ||
            *run.out)
            e2e_fail ("--log-file %s: status 0x%x, stderr %s, stdout %s; want exit 2 and %s",
                      cases [i].path, run.status, e2e_escape (run.err, strlen (run.err)),
                      e2e_escape (run.out, strlen (run.out)), want);
        e2e_run_free (&run);
    }
}

/*  SIGHUP: the file is reopened (logrotate's rename, then SIGHUP).     */
static void
test_sighup_reopens_the_log_file (void **state)
{
    (void) state;
    const char   *dir = e2e_root ();
    char         *path = e2e_fmt ("%s/chat.log", dir);
    char         *rotated = e2e_fmt ("%s/chat.log.1", dir);
    e2e_server_t *srv = e2e_start ("--log-file", path);
    e2e_login (srv, "alice");
    wait_for_text (path, " alice joined (1 member)\n");
    if (rename (path, rotated) != 0)
        e2e_fail ("rename: %s", strerror (errno));
    kill (e2e_pid (srv), SIGHUP);
    wait_for_text (path, " reopened\n");
    e2e_login (srv, "bob");
    char *fresh = wait_for_text (path, " bob joined (2 members)\n");
    char *old = read_whole (rotated);
    if (!old || !strstr (old, "alice joined") || strstr (old, "bob joined") ||
        strstr (fresh, "alice joined"))
        e2e_fail ("rotation mixed up: old %s, new %s", e2e_escape (old, strlen (old)),
                  e2e_escape (fresh, strlen (fresh)));
    e2e_stop (srv);
}

/*  SIGHUP without --log-file: said, and nothing else happens.          */
static void
test_sighup_without_log_file_is_harmless (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    kill (e2e_pid (srv), SIGHUP);
    char *log =
        wait_for_text (e2e_log_path (srv), " main SIGHUP received: no --log-file to reopen\n");
    if (strstr (log, "reopen --log-file"))
        e2e_fail ("a reopen was tried: %s", e2e_escape (log, strlen (log)));
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_say (alice, "fine");
    e2e_stop (srv);
}

/*  SIGUSR1: the log says what it has written, and the chat goes on.   */
static void
test_sigusr1_reports_and_serves_on (void **state)
{
    (void) state;
    const char   *dir = e2e_root ();
    char         *path = e2e_fmt ("%s/chat.log", dir);
    e2e_server_t *srv = e2e_start ("--log-file", path);
    e2e_client_t *alice = e2e_login (srv, "alice");
    kill (e2e_pid (srv), SIGUSR1);
    wait_for_text (path, " main SIGUSR1 received: log statistics follow\n");
    wait_for_text (path, " bytes) written\n");
    e2e_client_t *bob = e2e_login_seen (srv, "bob", alice);
    e2e_say (bob, "still here");
    e2e_expect_said (alice, "bob", "still here");
    e2e_stop (srv);
}

/*  SIGQUIT stops the server as SIGTERM does: notice, EOF, exit 0.      */
static void
test_sigquit_stops_gracefully (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *alice = e2e_login (srv, "alice");
    kill (e2e_pid (srv), SIGQUIT);
    e2e_expect (alice, "\nServer is shutting down.\n");
    e2e_expect_eof (alice);
    int status = wait_status (e2e_pid (srv), E2E_START_MS);
    if (status == -1 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
        e2e_fail ("after SIGQUIT: wait status 0x%x, want exit 0", status);
    char *log = read_whole (e2e_log_path (srv));
    if (!log || !strstr (log, " main SIGQUIT received: shutting down\n"))
        e2e_fail ("no SIGQUIT line in the log: %s",
                  log ? e2e_escape (log, strlen (log)) : "(none)");
    e2e_forget (srv);
}

/*  stdout a pipe nobody reads: the log fills (over 1 MB of it), yet
    commands are answered, 500 logins go through, chat works and
    SIGTERM ends the server within its bound.                           */
static void
test_stuck_stdout_never_blocks (void **state)
{
    (void) state;
    e2e_opts_t opts = {
        //  500 logins from 127.0.0.1 are over --connect-rate's burst of 60.
        .args = (const char *const []){"--verbose", "--rate", "0", "--connect-rate", "0", NULL},
        .stdout_stuck = true,
    };
    e2e_server_t *srv = e2e_start_opts (&opts);
    e2e_client_t *flood = e2e_login (srv, "flood");
    //  Each of these makes a log line of about 2 KB (its ESC bytes escaped).
    enum { COMMANDS = 800, ARG = 1000 };
    size_t one = 6 + ARG + 1;
    char  *data = e2e_calloc (COMMANDS, one);
    for (int i = 0; i < COMMANDS; i++) {
        char *p = data + (size_t) i * one;
        memcpy (p, "/join ", 6);
        memset (p + 6, 0x1b, ARG);
        p [6 + ARG] = '\n';
    }
    e2e_send_n (flood, data, (size_t) COMMANDS * one);
    for (int i = 0; i < COMMANDS; i++)
        e2e_expect_reply (flood, ROOM_LONG);
    e2e_close (flood);
    for (int i = 0; i < 500; i++) {
        e2e_client_t *c = e2e_login (srv, e2e_fmt ("user%d", i));
        e2e_close (c);
    }
    e2e_client_t *alice, *bob;
    e2e_login_two (srv, &alice, &bob);
    e2e_say (bob, "the chat goes on");
    e2e_expect_said (alice, "bob", "the chat goes on");
    int64_t start = e2e_now_ms ();
    e2e_stop (srv);
    printf ("stuck stdout: exit %lld ms after SIGTERM\n", (long long) (e2e_now_ms () - start));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        E2E_TEST (test_garbage_line_stays_within_the_limit),
        E2E_TEST (test_bidi_controls_stripped_from_chat),
        E2E_TEST (test_invisible_names_refused),
        E2E_TEST (test_lookalike_names_refused_while_connected),
        E2E_TEST (test_verbose_log_is_escaped),
        E2E_TEST (test_log_file_must_be_regular),
        E2E_TEST (test_sighup_reopens_the_log_file),
        E2E_TEST (test_sighup_without_log_file_is_harmless),
        E2E_TEST (test_sigusr1_reports_and_serves_on),
        E2E_TEST (test_sigquit_stops_gracefully),
        E2E_TEST (test_stuck_stdout_never_blocks),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
