/*  End-to-end: the command line and the environment (docs/PROTOCOL.md,
    "Command line").                                                     */
#include "e2e.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const char *status_text (int status)
{
    if (WIFEXITED (status))
        return e2e_fmt ("exit %d", WEXITSTATUS (status));
    if (WIFSIGNALED (status))
        return e2e_fmt ("signal %d", WTERMSIG (status));
    return "?";
}

static void expect_exit (const e2e_run_t *r, int code, const char *what)
{
    if (!WIFEXITED (r->status) || WEXITSTATUS (r->status) != code)
        e2e_fail ("%s: %s, want exit %d; stdout %s stderr %s", what, status_text (r->status),
                  code, e2e_escape (r->out, strlen (r->out)), e2e_escape (r->err, strlen (r->err)));
}

/*  args with "--bind 127.0.0.1" in front: should a broken server start
    listening anyway, it does so on the loopback only.                  */
static const char *const *on_loopback (const char *const *args)
{
    size_t n = 0;
    while (args[n])
        n++;
    const char **all = e2e_calloc (n + 3, sizeof *all);
    all[0] = "--bind";
    all[1] = "127.0.0.1";
    for (size_t i = 0; i <= n; i++)
        all[i + 2] = args[i];
    return all;
}

/* ------------------------------------------------------------------ */
/*  Usage errors                                                      */

/*  Exactly the net-cat usage line on stdout, exit 1, never listening.  */
static void expect_usage (const char *const *args, const char *what)
{
    e2e_run_t r;
    e2e_run (&r, on_loopback (args), NULL);
    expect_exit (&r, 1, what);
    if (strcmp (r.out, E2E_USAGE) != 0)
        e2e_fail ("%s: stdout %s, want %s", what, e2e_escape (r.out, strlen (r.out)),
                  e2e_escape (E2E_USAGE, strlen (E2E_USAGE)));
    e2e_run_free (&r);
}

static void usage_on_two_ports (void **state)
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

static void usage_on_bad_port (void **state)
{
    (void) state;
    const char *bad[] = { "abc", "0", "65536", "70000", "12ab", "1.5", "", "99999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_usage (ARGS (bad[i]), e2e_fmt ("port %s", e2e_escape (bad[i], strlen (bad[i]))));
}

/*  Exit 2, one "TCPChat: ..." line on stderr, nothing on stdout.       */
static void expect_bad_option (const char *const *args, const char *what)
{
    e2e_run_t r;
    e2e_run (&r, on_loopback (args), NULL);
    expect_exit (&r, 2, what);
    size_t n = strlen (r.err);
    bool one_line = n > 0 && r.err[n - 1] == '\n' && strchr (r.err, '\n') == r.err + n - 1;
    if (strncmp (r.err, "TCPChat: ", 9) != 0 || !one_line || r.out[0] != '\0')
        e2e_fail ("%s: stderr %s stdout %s, want one line \"TCPChat: ...\" on stderr only",
                  what, e2e_escape (r.err, n), e2e_escape (r.out, strlen (r.out)));
    e2e_run_free (&r);
}

static void bad_option_values (void **state)
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

static void unknown_option (void **state)
{
    (void) state;
    char *port = e2e_fmt ("%d", e2e_free_port ());
    expect_bad_option (ARGS ("--bogus", port), "--bogus");
    expect_bad_option (ARGS ("--max-client", "3", port), "--max-client (a typo)");
}

static void version_and_help (void **state)
{
    (void) state;
    e2e_run_t r;
    e2e_run (&r, ARGS ("--version"), NULL);
    expect_exit (&r, 0, "--version");
    size_t n = strlen (r.out);
    if (strncmp (r.out, "TCPChat ", 8) != 0 || n < 10 || r.out[n - 1] != '\n'
    ||  strchr (r.out, '\n') != r.out + n - 1)
        e2e_fail ("--version printed %s, want \"TCPChat VERSION\\n\"", e2e_escape (r.out, n));
    e2e_run_free (&r);

    e2e_run (&r, ARGS ("--help"), NULL);
    expect_exit (&r, 0, "--help");
    if (r.out[0] == '\0' || !strstr (r.out, "TCPChat"))
        e2e_fail ("--help printed %s on stdout", e2e_escape (r.out, strlen (r.out)));
    e2e_run_free (&r);
}

/* ------------------------------------------------------------------ */
/*  The listening line                                                */

/*  True when text holds `line` (ending in "\n") as one of its lines.     */
static bool has_line (const char *text, const char *line)
{
    size_t n = strlen (line);
    for (const char *p = text; (p = strstr (p, line)); p += n)
        if (p == text || p[-1] == '\n')
            return true;
    return false;
}

/*  Reads the pipe until `line` is one of its lines, bounded in time and
    size. Returns what was read (NUL terminated); *closed tells whether
    the process closed its stdout first (it exited: port taken, say).   */
static char *read_until_line (int fd, const char *line, bool *closed)
{
    const size_t max = 65536;
    char *got = e2e_repeat ('\0', max);
    size_t len = 0;
    *closed = false;
    int64_t deadline = e2e_now_ms () + E2E_START_MS;
    while (!has_line (got, line) && len < max - 1 && e2e_now_ms () < deadline) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
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
static void listening_line_on_stdout (void **state)
{
    (void) state;
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = e2e_free_port ();
        char *line = e2e_fmt ("Listening on the port :%d\n", port);
        e2e_proc_t proc;
        e2e_spawn (&proc, ARGS ("--bind", "127.0.0.1", e2e_fmt ("%d", port)), NULL);
        bool closed;
        char *got = read_until_line (proc.out_fd, line, &closed);
        if (closed && !has_line (got, line)) {     /* port taken meanwhile */
            e2e_proc_stop (&proc);
            continue;
        }
        if (!has_line (got, line))
            e2e_fail ("no line %s on stdout within %d ms; stdout so far: %s",
                      e2e_escape (line, strlen (line)), E2E_START_MS, e2e_escape (got, strlen (got)));
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

static void fill_to (e2e_server_t *srv, int n)
{
    for (int i = 0; i < n; i++)
        e2e_expect_banner (e2e_connect (srv));
}

static void expect_full (e2e_server_t *srv)
{
    e2e_client_t *c = e2e_connect (srv);
    e2e_expect (c, E2E_FULL);
    e2e_expect_eof (c);
}

static void env_max_clients (void **state)
{
    (void) state;
    e2e_opts_t opts = { .env = ARGS ("TCPCHAT_MAX_CLIENTS=2") };
    e2e_server_t *srv = e2e_start_opts (&opts);
    fill_to (srv, 2);
    expect_full (srv);
    e2e_stop (srv);
}

static void flag_beats_env_max_clients (void **state)
{
    (void) state;
    e2e_opts_t opts = { .env = ARGS ("TCPCHAT_MAX_CLIENTS=2"), .args = ARGS ("--max-clients", "3") };
    e2e_server_t *srv = e2e_start_opts (&opts);
    fill_to (srv, 3);
    expect_full (srv);
    e2e_stop (srv);
}

static void env_port (void **state)
{
    (void) state;
    e2e_opts_t opts = { .port_in_env = true };
    e2e_server_t *srv = e2e_start_opts (&opts);   /* waits for its line */
    e2e_login (srv, "alice");
    e2e_stop (srv);
}

static void argument_beats_env_port (void **state)
{
    (void) state;
    int env_port_number = e2e_free_port ();
    e2e_opts_t opts = { .env = ARGS (e2e_fmt ("TCPCHAT_PORT=%d", env_port_number)) };
    e2e_server_t *srv = e2e_start_opts (&opts);   /* waits for the argument's port */
    e2e_login (srv, "alice");
    int fd = e2e_try_connect (env_port_number, false);
    if (fd >= 0) {
        close (fd);
        e2e_fail ("the server also listens on TCPCHAT_PORT %d", env_port_number);
    }
    e2e_stop (srv);
}

static void env_history_and_flag (void **state)
{
    (void) state;
    e2e_opts_t opts = { .env = ARGS ("TCPCHAT_HISTORY=1") };
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

static void env_max_rooms (void **state)
{
    (void) state;
    e2e_opts_t opts = { .env = ARGS ("TCPCHAT_MAX_ROOMS=1") };
    e2e_server_t *srv = e2e_start_opts (&opts);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_send (alice, "/join beta\n");
    e2e_expect_reply (alice, "Too many rooms (max 1). Join an existing one.");
    e2e_stop (srv);
}

static void verbose_runs (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start ("--verbose");
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_client_t *bob = e2e_login (srv, "bob");
    e2e_expect_joined (alice, "bob");
    e2e_say (alice, "logged");
    e2e_expect_said (bob, "alice", "logged");
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  Addresses                                                         */

static void expect_refused (int port, bool ipv6)
{
    int fd = e2e_try_connect (port, ipv6);
    if (fd >= 0) {
        close (fd);
        e2e_fail ("connect to %s port %d worked, want it refused", ipv6 ? "[::1]" : "127.0.0.1", port);
    }
}

static void bind_ipv6_loopback (void **state)
{
    (void) state;
    if (!e2e_have_ipv6 ())
        skip ();
    e2e_opts_t opts = { .bind = "::1" };
    e2e_server_t *srv = e2e_start_opts (&opts);
    e2e_client_t *c = e2e_connect6 (srv);
    e2e_expect_banner (c);
    e2e_enter (c, "alice", "");
    expect_refused (e2e_port (srv), false);
    e2e_stop (srv);
}

static void bind_from_env (void **state)
{
    (void) state;
    if (!e2e_have_ipv6 ())
        skip ();
    e2e_opts_t opts = { .bind = "", .env = ARGS ("TCPCHAT_BIND=::1") };
    e2e_server_t *srv = e2e_start_opts (&opts);
    e2e_expect_banner (e2e_connect6 (srv));
    expect_refused (e2e_port (srv), false);
    e2e_stop (srv);
}

static void bind_ipv4_loopback_only (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);           /* --bind 127.0.0.1 */
    e2e_expect_banner (e2e_connect (srv));
    if (e2e_have_ipv6 ())
        expect_refused (e2e_port (srv), true);
    e2e_stop (srv);
}

/*  Without --bind: dual stack, both loopbacks reach the same chat.      */
static void default_bind_dual_stack (void **state)
{
    (void) state;
    if (!e2e_have_ipv6 ())
        skip ();
    e2e_opts_t opts = { .bind = "" };
    e2e_server_t *srv = e2e_start_opts (&opts);
    e2e_client_t *four = e2e_connect (srv);
    e2e_expect_banner (four);
    e2e_enter (four, "four", "");
    e2e_client_t *six = e2e_connect6 (srv);
    e2e_expect_banner (six);
    e2e_enter (six, "six", "");
    e2e_expect_joined (four, "six");
    e2e_say (six, "over v6");
    e2e_expect_said (four, "six", "over v6");
    e2e_stop (srv);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST (usage_on_two_ports),
        E2E_TEST (usage_on_bad_port),
        E2E_TEST (bad_option_values),
        E2E_TEST (unknown_option),
        E2E_TEST (version_and_help),
        E2E_TEST (listening_line_on_stdout),
        E2E_TEST (env_max_clients),
        E2E_TEST (flag_beats_env_max_clients),
        E2E_TEST (env_port),
        E2E_TEST (argument_beats_env_port),
        E2E_TEST (env_history_and_flag),
        E2E_TEST (env_max_rooms),
        E2E_TEST (verbose_runs),
        E2E_TEST (bind_ipv6_loopback),
        E2E_TEST (bind_from_env),
        E2E_TEST (bind_ipv4_loopback_only),
        E2E_TEST (default_bind_dual_stack),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
