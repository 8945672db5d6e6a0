/* SPDX-License-Identifier: MIT */
/*  End-to-end: the command line and the environment (docs/PROTOCOL.md,
    "Command line").                                                     */
#include "e2e.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARGS(...) ((const char *const []){__VA_ARGS__, NULL})

static const char *
status_text (int status)
{
    if (WIFEXITED (status))
        return e2e_fmt ("exit %d", WEXITSTATUS (status));
    if (WIFSIGNALED (status))
        return e2e_fmt ("signal %d", WTERMSIG (status));
    return "?";
}

static void
expect_exit (const e2e_run_t *r, int code, const char *what)
{
    if (!WIFEXITED (r->status) || WEXITSTATUS (r->status) != code)
        e2e_fail ("%s: %s, want exit %d; stdout %s stderr %s", what, status_text (r->status), code,
                  e2e_escape (r->out, strlen (r->out)), e2e_escape (r->err, strlen (r->err)));
}

/*  args with "--bind 127.0.0.1" in front: should a broken server start
    listening anyway, it does so on the loopback only.                  */
static const char *const *
on_loopback (const char *const *args)
{
    size_t n = 0;
    while (args [n])
        n++;
    const char **all = e2e_calloc (n + 3, sizeof *all);
    all [0] = "--bind";
    all [1] = "127.0.0.1";
    for (size_t i = 0; i <= n; i++)
        all [i + 2] = args [i];
    return all;
}

/* ------------------------------------------------------------------ */
/*  Usage errors                                                      */

/*  Exactly the net-cat usage line on stdout, exit 1, never listening.  */
static void
expect_usage (const char *const *args, const char *what)
{
    e2e_run_t r;
    e2e_run (&r, on_loopback (args), NULL);
    expect_exit (&r, 1, what);
    if (strcmp (r.out, E2E_USAGE) != 0)
        e2e_fail ("%s: stdout %s, want %s", what, e2e_escape (r.out, strlen (r.out)),
                  e2e_escape (E2E_USAGE, strlen (E2E_USAGE)));
    e2e_run_free (&r);
}

static void
test_usage_on_two_ports (void **state)
{
    (void) state;
    char *p1 = e2e_fmt ("%d", e2e_free_port ());
    char *p2 = e2e_fmt ("%d", e2e_free_port ());
    expect_usage (ARGS (p1, p2), "two ports");
    expect_usage (ARGS (p1, p2, "extra"), "three positionals");
    /*  It did not listen on either before giving up.                    */
    int fd = e2e_try_connect (atoi (p1), false);
    if (fd >= 0) {
        close (fd);
        e2e_fail ("something listens on port %s", p1);
    }
}

static void
test_usage_on_bad_port (void **state)
{
    (void) state;
    const char *bad [] = {"abc", "0", "65536", "70000", "12ab", "1.5", "", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        expect_usage (ARGS (bad [i]), e2e_fmt ("port %s", e2e_escape (bad [i], strlen (bad [i]))));
}

/*  Exit 2, one "TCPChat: ..." line on stderr, nothing on stdout.       */
static void
expect_bad_option (const char *const *args, const char *what)
{
    e2e_run_t r;
    e2e_run (&r, on_loopback (args), NULL);
    expect_exit (&r, 2, what);
    size_t n = strlen (r.err);
    bool   one_line = n > 0 && r.err [n - 1] == '\n' && strchr (r.err, '\n') == r.err + n - 1;
    if (strncmp (r.err, "TCPChat: ", 9) != 0 || !one_line || r.out [0] != '\0')
        e2e_fail ("%s: stderr %s stdout %s, want one line \"TCPChat: ...\" on stderr only", what,
                  e2e_escape (r.err, n), e2e_escape (r.out, strlen (r.out)));
    e2e_run_free (&r);
}

static void
test_bad_option_values (void **state)
{
    (void) state;
    char *port = e2e_fmt ("%d", e2e_free_port ());
    expect_bad_option (ARGS ("--max-clients", "abc", port), "--max-clients abc");
    expect_bad_option (ARGS ("--max-clients", "-3", port), "--max-clients -3");
    expect_bad_option (ARGS ("--history", "-1", port), "--history -1");
    expect_bad_option (ARGS ("--max-rooms", "lots", port), "--max-rooms lots");
    expect_bad_option (ARGS (port, "--max-clients"), "--max-clients without a value");
    expect_bad_option (ARGS (port, "--bind"), "--bind without a value");
}

static void
test_unknown_option (void **state)
{
    (void) state;
    char *port = e2e_fmt ("%d", e2e_free_port ());
    expect_bad_option (ARGS ("--bogus", port), "--bogus");
    expect_bad_option (ARGS ("--max-client", "3", port), "--max-client (a typo)");
}

static void
test_version_and_help (void **state)
{
    (void) state;
    e2e_run_t r;
    e2e_run (&r, ARGS ("--version"), NULL);
    expect_exit (&r, 0, "--version");
    size_t n = strlen (r.out);
    if (strncmp (r.out, "TCPChat ", 8) != 0 || n < 10 || r.out [n - 1] != '\n' ||
        strchr (r.out, '\n') != r.out + n - 1)
        e2e_fail ("--version printed %s, want \"TCPChat VERSION\\n\"", e2e_escape (r.out, n));
    e2e_run_free (&r);

    e2e_run (&r, ARGS ("--help"), NULL);
    expect_exit (&r, 0, "--help");
    if (r.out [0] == '\0' || !strstr (r.out, "TCPChat"))
        e2e_fail ("--help printed %s on stdout", e2e_escape (r.out, strlen (r.out)));
    e2e_run_free (&r);
}

/* ------------------------------------------------------------------ */
/*  The listening line                                                */

/*  Reads the pipe until `line` is one of its lines, bounded in time and
    size. Returns what was read (NUL terminated); *closed tells whether
    the process closed its stdout first (it exited: port taken, say).   */
static char *
read_until_line (int fd, const char *line, bool *closed)
{
    const size_t max = 65536;
    char        *got = e2e_repeat ('\0', max);
    size_t       len = 0;
    *closed = false;
    int64_t deadline = e2e_now_ms () + E2E_START_MS;
    while (!e2e_has_line (got, line) && len < max - 1 && e2e_now_ms () < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll (&p, 1, 50) <= 0)
            continue;
        ssize_t r = read (fd, got + len, max - 1 - len);
        if (r <= 0) {
            *closed = true;
            break;
        }
        len += (size_t) r;
    }
    return got;
}

/*  "Listening on the port :PORT" is a line of stdout, and it arrives
    while the server runs although stdout is a pipe (line buffered, not
    held until exit); by then the port accepts clients.                 */
static void
test_listening_line_on_stdout (void **state)
{
    (void) state;
    for (int attempt = 0; attempt < 5; attempt++) {
        int        port = e2e_free_port ();
        char      *line = e2e_fmt ("Listening on the port :%d\n", port);
        e2e_proc_t proc;
        e2e_spawn (&proc, ARGS ("--bind", "127.0.0.1", e2e_fmt ("%d", port)), NULL);
        bool  closed;
        char *got = read_until_line (proc.out_fd, line, &closed);
        if (closed && !e2e_has_line (got, line)) { /* port taken meanwhile */
            e2e_proc_stop (&proc);
            continue;
        }
        if (!e2e_has_line (got, line))
            e2e_fail ("no line %s on stdout within %d ms; stdout so far: %s",
                      e2e_escape (line, strlen (line)), E2E_START_MS,
                      e2e_escape (got, strlen (got)));
        int fd = e2e_try_connect (port, false);
        if (fd < 0)
            e2e_fail ("said it listens on %d, but connect: %s", port, strerror (errno));
        close (fd);
        int status = e2e_proc_stop (&proc);
        if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
            e2e_fail ("after SIGTERM: %s, want exit 0", status_text (status));
        return;
    }
    e2e_fail ("could not start on a free port in 5 attempts");
}

/* ------------------------------------------------------------------ */
/*  Environment                                                       */

/*  A server started with opts takes n clients, then turns the next
    away; then it stops.                                                 */
static void
expect_capacity (const e2e_opts_t *opts, int n)
{
    e2e_server_t *srv = e2e_start_opts (opts);
    for (int i = 0; i < n; i++)
        e2e_expect_banner (e2e_connect (srv));
    e2e_client_t *c = e2e_connect (srv);
    e2e_expect (c, E2E_FULL);
    e2e_expect_eof (c);
    e2e_stop (srv);
}

static void
test_env_max_clients (void **state)
{
    (void) state;
    expect_capacity (&(e2e_opts_t){.env = ARGS ("TCPCHAT_MAX_CLIENTS=2")}, 2);
}

static void
test_flag_beats_env_max_clients (void **state)
{
    (void) state;
    expect_capacity (
        &(e2e_opts_t){.env = ARGS ("TCPCHAT_MAX_CLIENTS=2"), .args = ARGS ("--max-clients", "3")},
        3);
}

static void
test_env_port (void **state)
{
    (void) state;
    e2e_opts_t    opts = {.port_in_env = true};
    e2e_server_t *srv = e2e_start_opts (&opts); /* waits for its line */
    e2e_login (srv, "alice");
    e2e_stop (srv);
}

static void
test_argument_beats_env_port (void **state)
{
    (void) state;
    int           env_port_number = e2e_free_port ();
    e2e_opts_t    opts = {.env = ARGS (e2e_fmt ("TCPCHAT_PORT=%d", env_port_number))};
    e2e_server_t *srv = e2e_start_opts (&opts); /* waits for the argument's port */
    e2e_login (srv, "alice");
    int fd = e2e_try_connect (env_port_number, false);
    if (fd >= 0) {
        close (fd);
        e2e_fail ("the server also listens on TCPCHAT_PORT %d", env_port_number);
    }
    e2e_stop (srv);
}

static void
test_env_history_and_flag (void **state)
{
    (void) state;
    e2e_opts_t    opts = {.env = ARGS ("TCPCHAT_HISTORY=1")};
    e2e_server_t *srv = e2e_start_opts (&opts);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_say (alice, "one");
    e2e_say (alice, "two");
    e2e_login_history (srv, "bob", E2E_TS "[alice]:two\n");
    e2e_stop (srv);
    e2e_teardown (NULL);

    opts.args = ARGS ("--history", "2");
    srv = e2e_start_opts (&opts);
    alice = e2e_login (srv, "alice");
    e2e_say (alice, "one");
    e2e_say (alice, "two");
    e2e_say (alice, "three");
    e2e_login_history (srv, "bob", E2E_TS "[alice]:two\n" E2E_TS "[alice]:three\n");
    e2e_stop (srv);
}

static void
test_env_max_rooms (void **state)
{
    (void) state;
    e2e_opts_t    opts = {.env = ARGS ("TCPCHAT_MAX_ROOMS=1")};
    e2e_server_t *srv = e2e_start_opts (&opts);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_send (alice, "/join beta\n");
    e2e_expect_reply (alice, "Too many rooms (max 1). Join an existing one.");
    e2e_stop (srv);
}

static void
test_verbose_runs (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start ("--verbose");
    e2e_client_t *alice, *bob;
    e2e_login_two (srv, &alice, &bob);
    e2e_say (alice, "logged");
    e2e_expect_said (bob, "alice", "logged");
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  Addresses                                                         */

static void
expect_refused (int port, bool ipv6)
{
    int fd = e2e_try_connect (port, ipv6);
    if (fd >= 0) {
        close (fd);
        e2e_fail ("connect to %s port %d worked, want it refused", ipv6 ? "[::1]" : "127.0.0.1",
                  port);
    }
}

/*  Also the session over IPv6: the banner, the prompt, a login.        */
static void
test_bind_ipv6_loopback (void **state)
{
    (void) state;
    if (!e2e_have_ipv6 ())
        skip ();
    e2e_opts_t    opts = {.bind = "::1"};
    e2e_server_t *srv = e2e_start_opts (&opts);
    e2e_client_t *c = e2e_connect6 (srv);
    e2e_expect_banner (c);
    e2e_enter (c, "alice", "");
    expect_refused (e2e_port (srv), false);
    e2e_stop (srv);
}

static void
test_bind_from_env (void **state)
{
    (void) state;
    if (!e2e_have_ipv6 ())
        skip ();
    e2e_opts_t    opts = {.bind = "", .env = ARGS ("TCPCHAT_BIND=::1")};
    e2e_server_t *srv = e2e_start_opts (&opts);
    e2e_expect_banner (e2e_connect6 (srv));
    expect_refused (e2e_port (srv), false);
    e2e_stop (srv);
}

static void
test_bind_ipv4_loopback_only (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL); /* --bind 127.0.0.1 */
    e2e_expect_banner (e2e_connect (srv));
    if (e2e_have_ipv6 ())
        expect_refused (e2e_port (srv), true);
    e2e_stop (srv);
}

/*  Without --bind: dual stack, both loopbacks reach the same chat.      */
static void
test_default_bind_dual_stack (void **state)
{
    (void) state;
    if (!e2e_have_ipv6 ())
        skip ();
    e2e_opts_t    opts = {.bind = ""};
    e2e_server_t *srv = e2e_start_opts (&opts);
    e2e_client_t *four = e2e_at_name_prompt (srv);
    e2e_enter (four, "four", "");
    e2e_client_t *six = e2e_connect6 (srv);
    e2e_expect_banner (six);
    e2e_enter (six, "six", "");
    e2e_expect_joined (four, "six");
    e2e_say (six, "over v6");
    e2e_expect_said (four, "six", "over v6");
    e2e_stop (srv);
}


/*  Issue 12: `TCPCHAT_RATE=fast ./TCPChat --help` exited 2 with no help.
    --help and --version answer whatever the environment holds.         */
static void
test_help_and_version_despite_environment (void **state)
{
    (void) state;
    const char *const *envs [] = {
        ARGS ("TCPCHAT_RATE=fast"),
        ARGS ("TCPCHAT_PORT=abc"),
        ARGS ("TCPCHAT_MAX_CLIENTS=0", "TCPCHAT_HISTORY=-1"),
    };
    for (size_t i = 0; i < sizeof envs / sizeof envs [0]; i++) {
        e2e_run_t r;
        e2e_run (&r, ARGS ("--help"), envs [i]);
        expect_exit (&r, 0, e2e_fmt ("%s --help", envs [i][0]));
        if (!strstr (r.out, "Usage: ./TCPChat") || r.err [0])
            e2e_fail ("%s --help: stdout %s stderr %s", envs [i][0],
                      e2e_escape (r.out, strlen (r.out)), e2e_escape (r.err, strlen (r.err)));
        e2e_run_free (&r);
        e2e_run (&r, ARGS ("--version"), envs [i]);
        expect_exit (&r, 0, e2e_fmt ("%s --version", envs [i][0]));
        if (strncmp (r.out, "TCPChat ", 8) != 0 || r.err [0])
            e2e_fail ("%s --version: stdout %s", envs [i][0], e2e_escape (r.out, strlen (r.out)));
        e2e_run_free (&r);
    }
}

/*  A flag wins over its variable, even an invalid one: the server runs
    with the flag's value.                                               */
static void
test_flag_beats_invalid_env (void **state)
{
    (void) state;
    expect_capacity (&(e2e_opts_t){.env = ARGS ("TCPCHAT_MAX_CLIENTS=lots"),
                                   .args = ARGS ("--max-clients", "1")},
                     1);
}

/*  The version is the build's (git describe or VERSION), the same that
    the Makefile's scripts/version.sh prints, when the test knows it.    */
static void
test_version_is_the_builds (void **state)
{
    (void) state;
    const char *want = getenv ("TCPCHAT_EXPECT_VERSION");
    if (!want || !*want)
        skip ();
    e2e_run_t r;
    e2e_run (&r, ARGS ("--version"), NULL);
    if (strcmp (r.out, e2e_fmt ("TCPChat %s\n", want)) != 0)
        e2e_fail ("--version printed %s, want \"TCPChat %s\\n\"",
                  e2e_escape (r.out, strlen (r.out)), want);
    e2e_run_free (&r);
}

/* ------------------------------------------------------------------ */
/*  Exit codes (issue 9 #11, issue 12)                                 */

/*  Exit `code` with one "TCPChat: ..." line on stderr, and no listening
    line on stdout.                                                      */
static void
expect_start_failure (const char *const *args, int code, const char *what)
{
    e2e_run_t r;
    e2e_run (&r, args, NULL);
    expect_exit (&r, code, what);
    size_t n = strlen (r.err);
    bool   one_line = n > 0 && r.err [n - 1] == '\n' && strchr (r.err, '\n') == r.err + n - 1;
    if (strncmp (r.err, "TCPChat: ", 9) != 0 || !one_line || strstr (r.out, "Listening"))
        e2e_fail ("%s: stderr %s stdout %s, want one line \"TCPChat: ...\" on stderr", what,
                  e2e_escape (r.err, n), e2e_escape (r.out, strlen (r.out)));
    e2e_run_free (&r);
}

/*  A --bind value that is no address of this machine is a bad option
    value: exit 2, as PROTOCOL.md says (it was 1).                       */
static void
test_bad_bind_exits_2 (void **state)
{
    (void) state;
    char *port = e2e_fmt ("%d", e2e_free_port ());
    expect_start_failure (ARGS ("--bind", "999.1.1.1", port), 2, "--bind 999.1.1.1");
    expect_start_failure (ARGS ("--bind", "1.2.3", "--max-clients", "2", port), 2, "--bind 1.2.3");
    expect_start_failure (ARGS ("--bind", "no-such-host.invalid", port), 2,
                          "--bind no-such-host.invalid");
    /*  TEST-NET-1: a fine address, but not this machine's.             */
    expect_start_failure (ARGS ("--bind", "192.0.2.1", port), 2, "--bind 192.0.2.1");
}

/*  A busy port has its own status, 3.                                  */
static void
test_busy_port_exits_3 (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    char         *port = e2e_fmt ("%d", e2e_port (srv));
    expect_start_failure (ARGS ("--bind", "127.0.0.1", port), 3, "a second server on the port");
    expect_start_failure (ARGS (port), 3, "every interface, port taken on 127.0.0.1");
    expect_start_failure (ARGS ("--bind", "localhost", port), 3, "localhost, port taken");
    e2e_login (srv, "alice"); /* the first server is unharmed */
    e2e_stop (srv);
}

/*  Issue 9 #11: --bind localhost resolves (to 127.0.0.1).              */
static void
test_bind_localhost (void **state)
{
    (void) state;
    e2e_opts_t    opts = {.bind = "localhost"};
    e2e_server_t *srv = e2e_start_opts (&opts);
    e2e_login (srv, "alice");
    e2e_stop (srv);

    opts.bind = "";
    opts.env = ARGS ("TCPCHAT_BIND=localhost");
    srv = e2e_start_opts (&opts);
    e2e_login (srv, "bob");
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  The health probe (Docker's HEALTHCHECK)                            */

static void
expect_healthy (int port, const char *what)
{
    e2e_run_t r;
    e2e_run (&r, ARGS ("--health", "--bind", "127.0.0.1", e2e_fmt ("%d", port)), NULL);
    expect_exit (&r, 0, what);
    char *want = e2e_fmt ("TCPChat on port %d: OK\n", port);
    if (strcmp (r.out, want) != 0)
        e2e_fail ("%s: stdout %s, want %s", what, e2e_escape (r.out, strlen (r.out)),
                  e2e_escape (want, strlen (want)));
    e2e_run_free (&r);
}

/*  The probe gets its answer without a log line and without a client
    slot: it answers even when the chat is full (and its address at its
    --max-per-address), and the client holding the only slot sees
    nothing of it.                                                       */
static void
test_health_probe_is_quiet (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start ("--max-clients", "1", "--max-per-address", "1");
    for (int i = 0; i < 3; i++)
        expect_healthy (e2e_port (srv), "--health on a running server");
    e2e_client_t *alice = e2e_login (srv, "alice"); /* now full */
    expect_healthy (e2e_port (srv), "--health on a full server");
    e2e_expect_silence (alice, E2E_QUIET_MS);
    e2e_say (alice, "still here");
    /*  An ordinary newcomer is turned away: the limits hold for clients. */
    e2e_client_t *late = e2e_connect (srv);
    e2e_expect (late, "Too many connections from your address (max 1). Try again later.\n");
    e2e_expect_eof (late);
    e2e_close (alice);
    /*  Exactly one opened line: alice's. The probes left none.          */
    FILE *f = fopen (e2e_log_path (srv), "r");
    int   opened = 0;
    char  line [1024];
    for (int i = 0; f && i < 100000 && fgets (line, sizeof line, f); i++)
        opened += strstr (line, "connection opened") != NULL;
    if (f)
        fclose (f);
    if (opened != 1)
        e2e_fail ("%d \"connection opened\" lines in the log, want 1 (alice's only)", opened);
    e2e_stop (srv);
}

/*  No server: exit 1 and the reason, within the probe's 3 s.            */
static void
test_health_probe_without_server (void **state)
{
    (void) state;
    int       port = e2e_free_port ();
    e2e_run_t r;
    int64_t   t0 = e2e_now_ms ();
    e2e_run (&r, ARGS ("--health", "--bind", "127.0.0.1", e2e_fmt ("%d", port)), NULL);
    expect_exit (&r, 1, "--health with nothing listening");
    if (strncmp (r.out, e2e_fmt ("TCPChat on port %d: ", port), 20) != 0)
        e2e_fail ("--health: stdout %s", e2e_escape (r.out, strlen (r.out)));
    if (e2e_now_ms () - t0 > 8000)
        e2e_fail ("--health took %lld ms", (long long) (e2e_now_ms () - t0));
    e2e_run_free (&r);
}

/*  With --http the probe checks the web gateway's /healthz too: OK only
    when both answer, and the probe leaves no line in the log.          */
static void
test_health_probe_checks_the_web_gateway (void **state)
{
    (void) state;
    int           http = e2e_free_port ();
    e2e_server_t *srv = e2e_start ("--http", e2e_fmt ("%d", http));
    int           port = e2e_port (srv);
    e2e_run_t     r;
    e2e_run (&r,
             ARGS ("--health", "--bind", "127.0.0.1", "--http", e2e_fmt ("%d", http),
                   e2e_fmt ("%d", port)),
             NULL);
    expect_exit (&r, 0, "--health --http on a server with --http");
    char *want = e2e_fmt ("TCPChat on port %d and /healthz on port %d: OK\n", port, http);
    if (strcmp (r.out, want) != 0)
        e2e_fail ("--health --http: stdout %s, want %s", e2e_escape (r.out, strlen (r.out)),
                  e2e_escape (want, strlen (want)));
    e2e_run_free (&r);
    /*  The gateway answers, but nothing serves this --http port.       */
    int nothing = e2e_free_port ();
    e2e_run (&r,
             ARGS ("--health", "--bind", "127.0.0.1", "--http", e2e_fmt ("%d", nothing),
                   e2e_fmt ("%d", port)),
             NULL);
    expect_exit (&r, 1, "--health --http with nothing on the http port");
    want = e2e_fmt ("TCPChat web gateway on port %d: /healthz: ", nothing);
    if (strncmp (r.out, want, strlen (want)) != 0)
        e2e_fail ("--health --http: stdout %s", e2e_escape (r.out, strlen (r.out)));
    e2e_run_free (&r);
    FILE *f = fopen (e2e_log_path (srv), "r");
    int   lines = 0;
    char  line [1024];
    for (int i = 0; f && i < 100000 && fgets (line, sizeof line, f); i++)
        lines += strstr (line, "connection opened") || strstr (line, "connection closed");
    if (f)
        fclose (f);
    if (lines != 0)
        e2e_fail ("%d connection opened/closed lines in the log after the probes, want 0", lines);
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  systemd: sd_notify and socket activation                           */

/*  A unix datagram socket standing in for systemd's NOTIFY_SOCKET.      */
static int
notify_socket (char *path, size_t size)
{
    const char *dir = getenv ("TMPDIR");
    snprintf (path, size, "%s/tcpchat-notify-%ld-%lld", dir && *dir ? dir : "/tmp",
              (long) getpid (), (long long) e2e_now_ms ());
    int                fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf (addr.sun_path, sizeof addr.sun_path, "%s", path);
    if (fd < 0 || bind (fd, (struct sockaddr *) &addr, sizeof addr) != 0)
        e2e_fail ("notify socket %s: %s", path, strerror (errno));
    return fd;
}

/*  The next datagram, or "" after timeout_ms.                           */
static char *
next_notification (int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char         *text = e2e_calloc (1, 4096);
    if (poll (&p, 1, timeout_ms) == 1) {
        ssize_t n = recv (fd, text, 4095, 0);
        if (n > 0)
            text [n] = '\0';
    }
    return text;
}

static bool
has_field (const char *text, const char *field)
{
    size_t n = strlen (field);
    for (const char *p = text; (p = strstr (p, field)); p += n)
        if ((p == text || p [-1] == '\n') && (p [n] == '\n' || p [n] == '\0'))
            return true;
    return false;
}

/*  Type=notify: READY=1 once clients are taken, STOPPING=1 at SIGTERM.  */
static void
test_systemd_notify (void **state)
{
    (void) state;
    char          path [sizeof ((struct sockaddr_un *) 0)->sun_path];
    int           fd = notify_socket (path, sizeof path);
    e2e_opts_t    opts = {.env = ARGS (e2e_fmt ("NOTIFY_SOCKET=%s", path))};
    e2e_server_t *srv = e2e_start_opts (&opts);
    char         *ready = next_notification (fd, E2E_START_MS);
    if (!has_field (ready, "READY=1"))
        e2e_fail ("notification %s, want READY=1", e2e_escape (ready, strlen (ready)));
    e2e_login (srv, "alice"); /* ready meant ready */
    pid_t pid = e2e_pid (srv);
    kill (pid, SIGTERM);
    char *stopping = next_notification (fd, E2E_START_MS);
    if (!has_field (stopping, "STOPPING=1"))
        e2e_fail ("notification %s after SIGTERM, want STOPPING=1",
                  e2e_escape (stopping, strlen (stopping)));
    int status = 0;
    for (int i = 0; i < E2E_START_MS / 10 && waitpid (pid, &status, WNOHANG) != pid; i++)
        e2e_sleep_ms (10);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        e2e_fail ("after SIGTERM: %s, want exit 0", status_text (status));
    e2e_forget (srv);
    close (fd);
    unlink (path);
}

/*  A listening socket on 127.0.0.1, port chosen by the kernel.          */
static int
loopback_listener (void)
{
    int                fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    if (fd < 0 || bind (fd, (struct sockaddr *) &a, sizeof a) != 0 || listen (fd, 16) != 0)
        e2e_fail ("listener: %s", strerror (errno));
    return fd;
}

/*  Socket activation: the server takes the socket it was given (fd 3,
    LISTEN_FDS=1, LISTEN_PID=its pid). It never binds its own: the test
    keeps the port, so a server that tried would find it busy and exit. */
static void
test_systemd_socket_activation (void **state)
{
    (void) state;
    int           fd = loopback_listener ();
    e2e_opts_t    opts = {.listen_fd = fd};
    e2e_server_t *srv = e2e_start_opts (&opts);
    close (fd);
    size_t      len = 0;
    const char *log = NULL;
    FILE       *f = fopen (e2e_log_path (srv), "r");
    char       *text = e2e_calloc (1, 65536);
    if (f) {
        len = fread (text, 1, 65535, f);
        fclose (f);
        log = text;
    }
    if (!log || !strstr (log, "main serving on the socket systemd passed"))
        e2e_fail ("no \"serving on the socket systemd passed\" line in the log: %s",
                  e2e_escape (text, len));
    e2e_client_t *alice, *bob;
    e2e_login_two (srv, &alice, &bob);
    e2e_say (bob, "activated");
    e2e_expect_said (alice, "bob", "activated");
    e2e_stop (srv);
}

/*  Given something that is not a listening TCP socket: exit 4, a reason. */
static void
test_systemd_socket_not_listening (void **state)
{
    (void) state;
    /*  No "Listening" line will come: started by hand, not e2e_start. */
    int   fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    pid_t pid = fork ();
    if (pid < 0)
        e2e_fail ("fork: %s", strerror (errno));
    if (pid == 0) {
        int null_fd = open ("/dev/null", O_WRONLY);
        dup2 (null_fd, 1);
        dup2 (null_fd, 2);
        if (fd != 3)
            dup2 (fd, 3);
        fcntl (3, F_SETFD, 0);
        char pid_text [32];
        snprintf (pid_text, sizeof pid_text, "%ld", (long) getpid ());
        setenv ("LISTEN_PID", pid_text, 1);
        setenv ("LISTEN_FDS", "1", 1);
        unsetenv ("NOTIFY_SOCKET");
        execl (getenv ("TCPCHAT_BIN"), "TCPChat", "--bind", "127.0.0.1",
               e2e_fmt ("%d", e2e_free_port ()), (char *) NULL);
        _exit (127);
    }
    close (fd);
    int     status = 0;
    int64_t deadline = e2e_now_ms () + E2E_START_MS;
    while (waitpid (pid, &status, WNOHANG) != pid) {
        if (e2e_now_ms () > deadline) {
            kill (pid, SIGKILL);
            waitpid (pid, &status, 0);
            e2e_fail ("the server ran with a socket that does not listen");
        }
        e2e_sleep_ms (10);
    }
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 4)
        e2e_fail ("with a socket that does not listen: %s, want exit 4", status_text (status));
}

/*  A start that fails is one line on stderr and exit 5 (an abort or a
    server listening with no hub behind it before): here a descriptor
    limit that lets the server listen but not start its actors (between
    ZeroMQ's own threads, taken first, and the gateway's pipes).         */
static void
test_failed_start_exits_5 (void **state)
{
    (void) state;
    //  valgrind keeps descriptors of its own under the limit it emulates.
    if (getenv ("TCPCHAT_VALGRIND_TARGET")) {
        print_message ("skipped under valgrind: it emulates RLIMIT_NOFILE\n");
        skip ();
    }
    e2e_opts_t    opts = {.nofile = 17};
    e2e_server_t *srv = e2e_start_opts (&opts);
    pid_t         pid = e2e_pid (srv);
    int           status = 0;
    int64_t       deadline = e2e_now_ms () + E2E_START_MS;
    while (waitpid (pid, &status, WNOHANG) != pid) {
        if (e2e_now_ms () > deadline) {
            kill (pid, SIGKILL);
            waitpid (pid, &status, 0);
            e2e_forget (srv);
            e2e_fail ("a server that cannot start its actors still runs");
        }
        e2e_sleep_ms (10);
    }
    char  *log = e2e_calloc (1, 65536);
    FILE  *f = fopen (e2e_log_path (srv), "r");
    size_t len = f ? fread (log, 1, 65535, f) : 0;
    if (f)
        fclose (f);
    e2e_forget (srv);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 5)
        e2e_fail ("actors that cannot start: %s, want exit 5; log %s", status_text (status),
                  e2e_escape (log, len));
    /*  Exactly one "TCPChat: " line, and it names what did not start.   */
    int errors = 0;
    for (const char *p = log; (p = strstr (p, "TCPChat: ")); p++)
        errors += p == log || p [-1] == '\n';
    if (errors != 1 || (!strstr (log, "TCPChat: cannot start the ") &&
                        !strstr (log, "TCPChat: the hub did not start")))
        e2e_fail ("want one \"TCPChat: cannot start the ...\" line; log %s", e2e_escape (log, len));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        E2E_TEST (test_usage_on_two_ports),
        E2E_TEST (test_usage_on_bad_port),
        E2E_TEST (test_bad_option_values),
        E2E_TEST (test_unknown_option),
        E2E_TEST (test_version_and_help),
        E2E_TEST (test_listening_line_on_stdout),
        E2E_TEST (test_env_max_clients),
        E2E_TEST (test_flag_beats_env_max_clients),
        E2E_TEST (test_env_port),
        E2E_TEST (test_argument_beats_env_port),
        E2E_TEST (test_env_history_and_flag),
        E2E_TEST (test_env_max_rooms),
        E2E_TEST (test_verbose_runs),
        E2E_TEST (test_bind_ipv6_loopback),
        E2E_TEST (test_bind_from_env),
        E2E_TEST (test_bind_ipv4_loopback_only),
        E2E_TEST (test_default_bind_dual_stack),
        E2E_TEST (test_help_and_version_despite_environment),
        E2E_TEST (test_flag_beats_invalid_env),
        E2E_TEST (test_version_is_the_builds),
        E2E_TEST (test_bad_bind_exits_2),
        E2E_TEST (test_busy_port_exits_3),
        E2E_TEST (test_bind_localhost),
        E2E_TEST (test_health_probe_is_quiet),
        E2E_TEST (test_health_probe_without_server),
        E2E_TEST (test_health_probe_checks_the_web_gateway),
        E2E_TEST (test_systemd_notify),
        E2E_TEST (test_systemd_socket_activation),
        E2E_TEST (test_systemd_socket_not_listening),
        E2E_TEST (test_failed_start_exits_5),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
