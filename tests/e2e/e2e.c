/* SPDX-License-Identifier: MIT */
/*  e2e: the end-to-end test harness (see e2e.h).  */
#include "e2e.h"
#include "../remove_tree.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SERVERS    8
#define MAX_PROCS      8
#define START_ATTEMPTS 5
#define LOG_TAIL_BYTES 8000

struct e2e_server {
    pid_t  pid;
    int    port;
    char   log_path [256];
    int    stuck_fd;          /* stdout_stuck: the pipe's read end, else -1 */
    char   stuck_seen [4096]; /* what was read of it before "Listening" */
    size_t stuck_len;
};

struct e2e_client {
    tcp_client_t *tcp;        /* the connection and what it received */
    char          name [512]; /* for the prompt: "[TS][name]:" */
};

/*  What a test opened, so that the teardown can clean up after a failure. */
static e2e_server_t *servers [MAX_SERVERS];
static pid_t         procs [MAX_PROCS];
static void        **scratch; /* freed at teardown */
static size_t        scratch_count, scratch_cap;

/* ------------------------------------------------------------------ */
/*  Small utilities                                                   */

/*  Straight to stderr: cmocka's print_error cuts messages at 1024 bytes,
    too short for a log tail or a mismatch report.                      */
__attribute__ ((format (printf, 1, 2))) static void
emit (const char *fmt, ...)
{
    va_list ap;
    fflush (stdout);
    va_start (ap, fmt);
    vfprintf (stderr, fmt, ap);
    va_end (ap);
    fflush (stderr);
}

static void *
keep (void *p)
{
    if (!p)
        abort ();
    if (scratch_count == scratch_cap) {
        scratch_cap = scratch_cap ? scratch_cap * 2 : 256;
        scratch = realloc (scratch, scratch_cap * sizeof *scratch);
        if (!scratch)
            abort ();
    }
    scratch [scratch_count++] = p;
    return p;
}

void *
e2e_calloc (size_t n, size_t size)
{
    return keep (calloc (n ? n : 1, size ? size : 1));
}

char *
e2e_repeat (char ch, size_t n)
{
    char *s = keep (malloc (n + 1));
    memset (s, ch, n);
    s [n] = '\0';
    return s;
}

char *
e2e_fmt (const char *fmt, ...)
{
    va_list ap;
    char   *s = NULL;
    va_start (ap, fmt);
    int rc = vasprintf (&s, fmt, ap);
    va_end (ap);
    if (rc < 0)
        abort ();
    return keep (s);
}

char *
e2e_escape (const char *p, size_t n)
{
    return keep (check_escape (p, n));
}

static char *
read_file (const char *path, size_t *len_out)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    char  *s = NULL;
    size_t len = 0, cap = 0;
    for (int rounds = 0; rounds < 100000; rounds++) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            s = realloc (s, cap + 1);
            if (!s)
                abort ();
        }
        size_t got = fread (s + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose (f);
    if (!s && !(s = malloc (1)))
        abort ();
    s [len] = '\0';
    if (len_out)
        *len_out = len;
    return s;
}

/* ------------------------------------------------------------------ */
/*  Server                                                            */

static const char *
server_binary (const char *file, int line)
{
    const char *bin = getenv ("TCPCHAT_BIN");
    if (!bin || !*bin)
        e2e_fail_at (file, line, "TCPCHAT_BIN is not set (run through tests/run.sh)");
    if (access (bin, X_OK) != 0)
        e2e_fail_at (file, line, "TCPCHAT_BIN=%s is not an executable: %s", bin, strerror (errno));
    return bin;
}

/*  Our environment, minus the server's own variables (so that whatever
    the developer exported cannot change a test), plus `extra`.          */
static void
child_environment (const char *const *extra)
{
    static const char *const own [] = {"TCPCHAT_PORT",
                                       "TCPCHAT_BIND",
                                       "TCPCHAT_MAX_CLIENTS",
                                       "TCPCHAT_HISTORY",
                                       "TCPCHAT_MAX_ROOMS",
                                       "TCPCHAT_VERBOSE",
                                       "TCPCHAT_MAX_BACKLOG",
                                       "TCPCHAT_RATE",
                                       "TCPCHAT_NAME_TIMEOUT",
                                       "TCPCHAT_DATA_DIR",
                                       "TCPCHAT_LOG_FILE",
                                       "TCPCHAT_CONNECT_RATE",
                                       "TCPCHAT_MAX_PER_ADDRESS",
                                       "TCPCHAT_ROOM_IDLE",
                                       "TCPCHAT_HTTP",
                                       "TCPCHAT_HTTP_ORIGIN",
                                       "TCPCHAT_CLUSTER",
                                       "TCPCHAT_NODE",
                                       "TCPCHAT_CLUSTER_LEASE",
                                       NULL};
    for (size_t i = 0; own [i]; i++)
        unsetenv (own [i]);
    /*  Nor may a systemd around the test runner reach the server.       */
    static const char *const systemd [] = {"NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID",
                                           "LISTEN_FDNAMES", NULL};
    for (size_t i = 0; systemd [i]; i++)
        unsetenv (systemd [i]);
    for (size_t i = 0; extra && extra [i]; i++)
        putenv ((char *) extra [i]);
}

/*  In the child: stdin from /dev/null, stdout and stderr as given, die
    with the test binary, exec the server. Never returns.               */
static void
exec_child (const char *bin, char *const *argv, const char *const *env, int out_fd, int err_fd)
{
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    int null_fd = open ("/dev/null", O_RDONLY);
    if (null_fd >= 0)
        dup2 (null_fd, 0);
    dup2 (out_fd, 1);
    dup2 (err_fd, 2);
    child_environment (env);
    signal (SIGPIPE, SIG_DFL);
    execv (bin, argv);
    dprintf (2, "e2e: cannot exec %s: %s\n", bin, strerror (errno));
    _exit (127);
}

/*  argv = bin, args..., [--bind ADDR], [PORT]: in a static-size array.  */
static void
build_argv (char **argv, size_t max, const char *bin, const e2e_opts_t *o, char *port_text)
{
    size_t n = 0;
    argv [n++] = (char *) bin;
    for (size_t i = 0; o->args && o->args [i] && n < max - 4; i++)
        argv [n++] = (char *) o->args [i];
    const char *bind = o->bind ? o->bind : "127.0.0.1";
    if (*bind) {
        argv [n++] = (char *) "--bind";
        argv [n++] = (char *) bind;
    }
    if (!o->port_in_env)
        argv [n++] = port_text;
    argv [n] = NULL;
}

static void
print_log_tail (const char *path, const char *why)
{
    size_t len = 0;
    char  *log = read_file (path, &len);
    emit ("---- %s; server log %s, last lines:\n", why, path);
    if (log) {
        size_t from = len > LOG_TAIL_BYTES ? len - LOG_TAIL_BYTES : 0;
        while (from > 0 && from < len && log [from - 1] != '\n')
            from++;
        emit ("%s%s", log + from, len && log [len - 1] != '\n' ? "\n" : "");
    }
    emit ("---- end of server log\n");
    free (log);
}

bool
e2e_has_line (const char *text, const char *line)
{
    size_t n = strlen (line);
    for (const char *p = text; (p = strstr (p, line)); p += n)
        if (p == text || p [-1] == '\n')
            return true;
    return false;
}

static bool
log_has_sanitizer_report (const char *log)
{
    return strstr (log, "Sanitizer") || strstr (log, "runtime error:");
}

/*  stdout_stuck: reads what the pipe holds (up to "Listening"), never
    waiting. True when want has arrived.                                 */
static bool
stuck_has (e2e_server_t *s, const char *want)
{
    size_t  room = sizeof s->stuck_seen - 1 - s->stuck_len;
    ssize_t n = room ? read (s->stuck_fd, s->stuck_seen + s->stuck_len, room) : 0;
    if (n > 0)
        s->stuck_len += (size_t) n;
    s->stuck_seen [s->stuck_len] = '\0';
    return e2e_has_line (s->stuck_seen, want);
}

/*  Once the server is gone: nobody reads the pipe any more.            */
static void
close_stuck (e2e_server_t *s)
{
    if (s->stuck_fd >= 0)
        close (s->stuck_fd);
    s->stuck_fd = -1;
}

static void
register_server (e2e_server_t *s)
{
    for (size_t i = 0; i < MAX_SERVERS; i++)
        if (!servers [i]) {
            servers [i] = s;
            return;
        }
    abort ();
}

static void
unregister_server (e2e_server_t *s)
{
    for (size_t i = 0; i < MAX_SERVERS; i++)
        if (servers [i] == s)
            servers [i] = NULL;
}

static int
make_log_file (char *path, size_t size)
{
    const char *dir = getenv ("TMPDIR");
    snprintf (path, size, "%s/tcpchat-e2e-XXXXXX.log", dir && *dir ? dir : "/tmp");
    return mkstemps (path, 4);
}

/*  Waits for "Listening on the port :PORT". 1: listening, 0: the server
    exited (*status set), -1: timeout.                                   */
static int
wait_listening (e2e_server_t *s, int *status)
{
    char want [64];
    snprintf (want, sizeof want, "Listening on the port :%d\n", s->port);
    int64_t deadline = e2e_now_ms () + E2E_START_MS;
    while (e2e_now_ms () < deadline) {
        bool ready;
        if (s->stuck_fd >= 0)
            ready = stuck_has (s, want);
        else {
            char *log = read_file (s->log_path, NULL);
            ready = log && e2e_has_line (log, want);
            free (log);
        }
        if (ready)
            return 1;
        if (waitpid (s->pid, status, WNOHANG) == s->pid)
            return 0;
        e2e_sleep_ms (20);
    }
    return -1;
}

static void
kill_and_reap (pid_t pid)
{
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
}

/*  One attempt to start the server on port. 1: listening, 0: exited
    before listening (*status set; its log kept for the caller).          */
static int
launch (e2e_server_t *s, const e2e_opts_t *opts, const char *bin, int port, int *status,
        const char *file, int line)
{
    if (opts->listen_fd > 0) {
        struct sockaddr_storage ss;
        socklen_t               len = sizeof ss;
        if (getsockname (opts->listen_fd, (struct sockaddr *) &ss, &len) == 0)
            port = ntohs (ss.ss_family == AF_INET ? ((struct sockaddr_in *) &ss)->sin_port
                                                  : ((struct sockaddr_in6 *) &ss)->sin6_port);
    }
    s->port = port;
    close_stuck (s);
    s->stuck_len = 0;
    int stuck [2] = {-1, -1};
    if (opts->stdout_stuck && pipe2 (stuck, O_CLOEXEC | O_NONBLOCK) != 0)
        e2e_fail_at (file, line, "pipe: %s", strerror (errno));
    int log_fd = make_log_file (s->log_path, sizeof s->log_path);
    if (s->port <= 0 || log_fd < 0)
        e2e_fail_at (file, line, "cannot get a free port or a log file: %s", strerror (errno));

    char port_text [16], env_port [32];
    snprintf (port_text, sizeof port_text, "%d", s->port);
    snprintf (env_port, sizeof env_port, "TCPCHAT_PORT=%d", s->port);
    char *argv [64];
    build_argv (argv, 64, bin, opts, port_text);
    const char *env [64];
    size_t      n = 0;
    for (size_t i = 0; opts->env && opts->env [i] && n < 60; i++)
        env [n++] = opts->env [i];
    if (opts->port_in_env)
        env [n++] = env_port;
    env [n] = NULL;

    fflush (NULL);
    s->pid = fork ();
    if (s->pid < 0)
        e2e_fail_at (file, line, "fork: %s", strerror (errno));
    if (s->pid == 0) {
        if (opts->nofile > 0) {
            struct rlimit limit = {(rlim_t) opts->nofile, (rlim_t) opts->nofile};
            setrlimit (RLIMIT_NOFILE, &limit);
        }
        char listen_pid [48];
        if (opts->listen_fd > 0) {
            /*  As systemd does: the socket as fd 3, for this pid only.  */
            if (opts->listen_fd != 3)
                dup2 (opts->listen_fd, 3);
            fcntl (3, F_SETFD, 0);
            snprintf (listen_pid, sizeof listen_pid, "LISTEN_PID=%ld", (long) getpid ());
            env [n++] = "LISTEN_FDS=1";
            env [n++] = listen_pid;
            env [n] = NULL;
        }
        if (opts->stdout_stuck)
            fcntl (stuck [1], F_SETFL, 0); /* the server's end blocks, as a pipe does */
        exec_child (bin, argv, env, opts->stdout_stuck ? stuck [1] : log_fd, log_fd);
    }
    close (log_fd);
    if (opts->stdout_stuck) {
        close (stuck [1]);
        s->stuck_fd = stuck [0];
    }
    register_server (s);

    int rc = wait_listening (s, status);
    if (rc == 1)
        return 1;
    unregister_server (s);
    if (rc < 0) {
        print_log_tail (s->log_path, "the server did not say it was listening");
        kill_and_reap (s->pid);
        e2e_fail_at (file, line,
                     "server on port %d: no \"Listening on the port :%d\" "
                     "within %d ms",
                     s->port, s->port, E2E_START_MS);
    }
    return 0;
}

e2e_server_t *
e2e_start_at (const e2e_opts_t *opts, const char *file, int line)
{
    signal (SIGPIPE, SIG_IGN);
    const char   *bin = server_binary (file, line);
    e2e_server_t *s = keep (calloc (1, sizeof *s));
    s->stuck_fd = -1;
    /*  The port was free when we looked; someone may take it before the
        server binds it. The server then exits: try another port.       */
    for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
        int status = 0;
        if (launch (s, opts, bin, e2e_free_port (), &status, file, line))
            return s;
        if (attempt == START_ATTEMPTS)
            print_log_tail (s->log_path, "the server exited before listening");
        else
            unlink (s->log_path);
    }
    e2e_fail_at (file, line, "the server exited before listening, %d times", START_ATTEMPTS);
}

int
e2e_port (const e2e_server_t *s)
{
    return s->port;
}

/*  Waits (bounded) for pid to exit. True when it did (*status set).     */
static bool
wait_exit (pid_t pid, int *status, int timeout_ms)
{
    int64_t deadline = e2e_now_ms () + timeout_ms;
    for (;;) {
        pid_t r = waitpid (pid, status, WNOHANG);
        if (r == pid)
            return true;
        if (r < 0 && errno != EINTR)
            return false;
        if (e2e_now_ms () >= deadline)
            return false;
        e2e_sleep_ms (10);
    }
}

static char *
describe_status (int status)
{
    if (WIFEXITED (status))
        return e2e_fmt ("exit status %d", WEXITSTATUS (status));
    if (WIFSIGNALED (status))
        return e2e_fmt ("killed by signal %d (%s)", WTERMSIG (status),
                        strsignal (WTERMSIG (status)));
    return e2e_fmt ("wait status 0x%x", status);
}

void
e2e_stop_at (e2e_server_t *s, const char *file, int line)
{
    unregister_server (s);
    int status = 0;
    kill (s->pid, SIGTERM);
    if (!wait_exit (s->pid, &status, E2E_START_MS)) {
        kill_and_reap (s->pid);
        close_stuck (s);
        print_log_tail (s->log_path, "no exit after SIGTERM");
        e2e_fail_at (file, line, "server did not exit within %d ms of SIGTERM (killed)",
                     E2E_START_MS);
    }
    close_stuck (s);
    char *log = read_file (s->log_path, NULL);
    bool  sanitizer = log && log_has_sanitizer_report (log);
    free (log);
    if (sanitizer || !WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        print_log_tail (s->log_path, "bad server exit");
        e2e_fail_at (file, line, "server stopped by SIGTERM: %s%s (want exit status 0, clean log)",
                     describe_status (status), sanitizer ? ", sanitizer report in its log" : "");
    }
    unlink (s->log_path);
}

/* ------------------------------------------------------------------ */
/*  Clients: the shared TCP client (client_check), plus a name        */

e2e_client_t *
e2e_connect_at (const e2e_server_t *s, bool ipv6, const char *file, int line)
{
    e2e_client_t *c = keep (calloc (1, sizeof *c));
    c->tcp = tcp_connect_at (s->port, ipv6, 0, file, line);
    return c;
}

void
e2e_set_name (e2e_client_t *c, const char *name)
{
    snprintf (c->name, sizeof c->name, "%s", name);
    tcp_set_label (c->tcp, e2e_fmt ("client '%.40s'", name));
}

const char *
e2e_name (const e2e_client_t *c)
{
    return c->name;
}

int
e2e_fd (const e2e_client_t *c)
{
    return tcp_fd (c->tcp);
}

void
e2e_close (e2e_client_t *c)
{
    tcp_close (c->tcp);
    c->tcp = NULL;
}

void
e2e_reset (e2e_client_t *c)
{
    tcp_reset (c->tcp);
    c->tcp = NULL;
}

void
e2e_send_at (e2e_client_t *c, const void *p, size_t n, const char *file, int line)
{
    tcp_send_at (c->tcp, p, n, file, line);
}

void
e2e_send_split_at (e2e_client_t *c, const void *p, size_t n, size_t chunk, int pause_ms,
                   const char *file, int line)
{
    const char *bytes = p;
    if (chunk == 0)
        chunk = 1;
    for (size_t off = 0; off < n; off += chunk) {
        if (off > 0)
            e2e_sleep_ms (pause_ms);
        e2e_send_at (c, bytes + off, n - off < chunk ? n - off : chunk, file, line);
    }
}

ssize_t
e2e_fill (e2e_client_t *c)
{
    return tcp_fill (c->tcp);
}

const char *
e2e_buffered (const e2e_client_t *c, size_t *len)
{
    return tcp_buffered (c->tcp, len);
}

void
e2e_consume (e2e_client_t *c, size_t n)
{
    tcp_consume (c->tcp, n);
}

const char *
e2e_peek_at (e2e_client_t *c, size_t n, int timeout_ms, const char *file, int line)
{
    return tcp_peek_at (c->tcp, n, timeout_ms, file, line);
}

void
e2e_expect_at (e2e_client_t *c, const char *pattern, const char *file, int line)
{
    tcp_expect_at (c->tcp, pattern, file, line);
}

void
e2e_expect_n_at (e2e_client_t *c, const void *p, size_t n, const char *file, int line)
{
    tcp_expect_n_at (c->tcp, p, n, file, line);
}

void
e2e_expect_silence_at (e2e_client_t *c, int ms, const char *file, int line)
{
    tcp_expect_silence_at (c->tcp, ms, file, line);
}

void
e2e_expect_eof_at (e2e_client_t *c, const char *file, int line)
{
    tcp_expect_eof_at (c->tcp, file, line);
}

/* ------------------------------------------------------------------ */
/*  The protocol's building blocks                                    */

void
e2e_expect_prompt_at (e2e_client_t *c, const char *file, int line)
{
    e2e_expect_at (c, e2e_fmt (E2E_TS "[%s]:", c->name), file, line);
}

void
e2e_expect_chat_at (e2e_client_t *c, const char *from, const char *text, bool prompt,
                    const char *file, int line)
{
    e2e_expect_at (c, e2e_fmt ("\n" E2E_TS "[%s]:%s\n", from, text), file, line);
    if (prompt)
        e2e_expect_prompt_at (c, file, line);
}

void
e2e_expect_notice_at (e2e_client_t *c, const char *who, const char *verb, const char *file,
                      int line)
{
    e2e_expect_at (c, e2e_fmt ("\n%s has %s our chat...\n", who, verb), file, line);
    e2e_expect_prompt_at (c, file, line);
}

void
e2e_expect_reply_at (e2e_client_t *c, const char *text, const char *file, int line)
{
    e2e_expect_at (c, e2e_fmt ("%s\n", text), file, line);
    e2e_expect_prompt_at (c, file, line);
}

static const char *
banner (const char *file, int line)
{
    static char *cached;
    if (cached)
        return cached;
    const char *dir = getenv ("TCPCHAT_TEST_DATA");
    if (!dir || !*dir)
        e2e_fail_at (file, line, "TCPCHAT_TEST_DATA is not set (run through tests/run.sh)");
    char path [1024];
    snprintf (path, sizeof path, "%s/banner.txt", dir);
    size_t len = 0;
    char  *text = read_file (path, &len);
    if (!text || len == 0 || strlen (text) != len)
        e2e_fail_at (file, line, "cannot read %s", path);
    cached = text;
    return cached;
}

void
e2e_expect_banner_at (e2e_client_t *c, const char *file, int line)
{
    const char *b = banner (file, line);
    e2e_expect_n_at (c, b, strlen (b), file, line);
    e2e_expect_at (c, E2E_NAME_PROMPT, file, line);
}

void
e2e_say_at (e2e_client_t *c, const char *text, const char *file, int line)
{
    char *msg = e2e_fmt ("%s\n", text);
    e2e_send_at (c, msg, strlen (msg), file, line);
    e2e_expect_prompt_at (c, file, line);
}

/* ------------------------------------------------------------------ */
/*  Login                                                             */

void
e2e_enter_at (e2e_client_t *c, const char *name, const char *history, const char *file, int line)
{
    char *msg = e2e_fmt ("%s\n", name);
    e2e_send_at (c, msg, strlen (msg), file, line);
    e2e_set_name (c, name);
    if (history && *history)
        e2e_expect_at (c, history, file, line);
    e2e_expect_prompt_at (c, file, line);
}

e2e_client_t *
e2e_at_name_prompt_at (const e2e_server_t *s, const char *file, int line)
{
    e2e_client_t *c = e2e_connect_at (s, false, file, line);
    e2e_expect_banner_at (c, file, line);
    return c;
}

e2e_client_t *
e2e_login_at (const e2e_server_t *s, const char *name, const char *history, const char *file,
              int line)
{
    e2e_client_t *c = e2e_at_name_prompt_at (s, file, line);
    e2e_enter_at (c, name, history, file, line);
    return c;
}

e2e_client_t *
e2e_login_seen_at (const e2e_server_t *s, const char *name, e2e_client_t *const *others,
                   const char *file, int line)
{
    e2e_client_t *c = e2e_login_at (s, name, "", file, line);
    for (size_t i = 0; others [i]; i++)
        e2e_expect_notice_at (others [i], name, "joined", file, line);
    return c;
}

void
e2e_login_two_at (const e2e_server_t *s, e2e_client_t **alice, e2e_client_t **bob, const char *file,
                  int line)
{
    *alice = e2e_login_at (s, "alice", "", file, line);
    *bob = e2e_login_at (s, "bob", "", file, line);
    e2e_expect_notice_at (*alice, "bob", "joined", file, line);
}

e2e_server_t *
e2e_start_two_at (e2e_client_t **alice, e2e_client_t **bob, const char *file, int line)
{
    e2e_server_t *s = e2e_start_at (&(e2e_opts_t){.args = NULL}, file, line);
    e2e_login_two_at (s, alice, bob, file, line);
    return s;
}

e2e_server_t *
e2e_start_three_at (e2e_client_t **alice, e2e_client_t **bob, e2e_client_t **carol,
                    const char *file, int line)
{
    e2e_server_t *s = e2e_start_two_at (alice, bob, file, line);
    *carol = e2e_login_seen_at (s, "carol", (e2e_client_t *[]){*alice, *bob, NULL}, file, line);
    return s;
}

/* ------------------------------------------------------------------ */
/*  Running the binary as a command                                   */

static void
register_proc (pid_t pid)
{
    for (size_t i = 0; i < MAX_PROCS; i++)
        if (!procs [i]) {
            procs [i] = pid;
            return;
        }
    abort ();
}

static void
unregister_proc (pid_t pid)
{
    for (size_t i = 0; i < MAX_PROCS; i++)
        if (procs [i] == pid)
            procs [i] = 0;
}

static char *const *
command_argv (const char *bin, const char *const *args)
{
    size_t n = 0;
    while (args && args [n])
        n++;
    char **argv = keep (calloc (n + 2, sizeof *argv));
    argv [0] = (char *) bin;
    for (size_t i = 0; i < n; i++)
        argv [i + 1] = (char *) args [i];
    return argv;
}

void
e2e_spawn_at (e2e_proc_t *proc, const char *const *args, const char *const *env, const char *file,
              int line)
{
    signal (SIGPIPE, SIG_IGN);
    const char  *bin = server_binary (file, line);
    char *const *argv = command_argv (bin, args);
    int          out [2], err [2];
    if (pipe2 (out, O_CLOEXEC) != 0 || pipe2 (err, O_CLOEXEC) != 0)
        e2e_fail_at (file, line, "pipe: %s", strerror (errno));
    fflush (NULL);
    proc->pid = fork ();
    if (proc->pid < 0)
        e2e_fail_at (file, line, "fork: %s", strerror (errno));
    if (proc->pid == 0)
        exec_child (bin, argv, env, out [1], err [1]);
    close (out [1]);
    close (err [1]);
    proc->out_fd = out [0];
    proc->err_fd = err [0];
    register_proc (proc->pid);
}

/*  Reads what fd has into *s (growing), without blocking. False at EOF. */
static bool
drain (int fd, char **s, size_t *len)
{
    char    chunk [4096];
    ssize_t r = read (fd, chunk, sizeof chunk);
    if (r == 0)
        return false;
    if (r < 0)
        return errno == EAGAIN || errno == EINTR;
    *s = realloc (*s, *len + (size_t) r + 1);
    if (!*s)
        abort ();
    memcpy (*s + *len, chunk, (size_t) r);
    *len += (size_t) r;
    (*s) [*len] = '\0';
    return true;
}

/*  Collects both pipes until both close, then reaps: bounded.          */
static bool
collect (e2e_proc_t *proc, char **out, char **err, int *status, int timeout_ms)
{
    size_t  out_len = 0, err_len = 0;
    bool    out_open = true, err_open = true;
    int64_t deadline = e2e_now_ms () + timeout_ms;
    while ((out_open || err_open) && e2e_now_ms () < deadline) {
        struct pollfd p [2] = {{.fd = out_open ? proc->out_fd : -1, .events = POLLIN},
                               {.fd = err_open ? proc->err_fd : -1, .events = POLLIN}};
        if (poll (p, 2, 50) <= 0)
            continue;
        if (p [0].revents && !drain (proc->out_fd, out, &out_len))
            out_open = false;
        if (p [1].revents && !drain (proc->err_fd, err, &err_len))
            err_open = false;
    }
    int left = (int) (deadline - e2e_now_ms ());
    return wait_exit (proc->pid, status, left > 0 ? left : 0);
}

void
e2e_run_at (e2e_run_t *res, const char *const *args, const char *const *env, const char *file,
            int line)
{
    e2e_proc_t proc;
    e2e_spawn_at (&proc, args, env, file, line);
    res->out = calloc (1, 1);
    res->err = calloc (1, 1);
    if (!res->out || !res->err)
        abort ();
    bool exited = collect (&proc, &res->out, &res->err, &res->status, E2E_START_MS);
    close (proc.out_fd);
    close (proc.err_fd);
    unregister_proc (proc.pid);
    if (!exited) {
        kill_and_reap (proc.pid);
        char *out = e2e_escape (res->out, strlen (res->out));
        char *err = e2e_escape (res->err, strlen (res->err));
        e2e_run_free (res);
        e2e_fail_at (file, line,
                     "the command did not exit within %d ms (killed); stdout %s stderr %s",
                     E2E_START_MS, out, err);
    }
}

void
e2e_run_free (e2e_run_t *res)
{
    free (res->out);
    free (res->err);
    res->out = res->err = NULL;
}

int
e2e_proc_stop_at (e2e_proc_t *proc, const char *file, int line)
{
    kill (proc->pid, SIGTERM);
    char *out = calloc (1, 1), *err = calloc (1, 1);
    int   status = 0;
    /*  Keep reading the pipes while it shuts down, so that it never
        blocks (or gets SIGPIPE) on a last log line.                    */
    bool exited = collect (proc, &out, &err, &status, E2E_START_MS);
    close (proc->out_fd);
    close (proc->err_fd);
    unregister_proc (proc->pid);
    if (!exited)
        kill_and_reap (proc->pid);
    char *shown = e2e_escape (err, strlen (err));
    bool  sanitizer = log_has_sanitizer_report (err) || log_has_sanitizer_report (out);
    free (out);
    free (err);
    if (!exited)
        e2e_fail_at (file, line, "the server did not exit within %d ms of SIGTERM (killed)",
                     E2E_START_MS);
    if (sanitizer)
        e2e_fail_at (file, line, "sanitizer report from the server: stderr %s", shown);
    return status;
}

/* ------------------------------------------------------------------ */
/*  Teardown                                                          */

int
e2e_setup (void **state)
{
    (void) state;
    check_watchdog_arm (E2E_WATCHDOG_S);
    return 0;
}

static char s_root [64]; /* this test's directory, or "" */

const char *
e2e_root (void)
{
    if (*s_root)
        return s_root;
    snprintf (s_root, sizeof s_root, "/tmp/tcpchat-e2e-XXXXXX");
    if (!mkdtemp (s_root)) {
        s_root [0] = '\0';
        e2e_fail ("mkdtemp: %s", strerror (errno));
    }
    return s_root;
}

void
e2e_kill_all (void)
{
    tcp_close_all ();
    for (size_t i = 0; i < MAX_SERVERS; i++) {
        e2e_server_t *s = servers [i];
        if (!s)
            continue;
        servers [i] = NULL;
        /*  Only a test that failed before e2e_stop() leaves one behind. */
        kill_and_reap (s->pid);
        close_stuck (s);
        print_log_tail (s->log_path, "test failed with the server running (killed it)");
    }
    for (size_t i = 0; i < MAX_PROCS; i++)
        if (procs [i]) {
            kill_and_reap (procs [i]);
            procs [i] = 0;
        }
}

int
e2e_teardown (void **state)
{
    (void) state;
    check_watchdog_stop ();
    e2e_kill_all ();
    if (*s_root)
        remove_tree (s_root);
    s_root [0] = '\0';
    for (size_t i = 0; i < scratch_count; i++)
        free (scratch [i]);
    free (scratch);
    scratch = NULL;
    scratch_count = scratch_cap = 0;
    return 0;
}

/* ------------------------------------------------------------------ */
/*  Restarts and hard kills (persistence)                             */

pid_t
e2e_pid (const e2e_server_t *s)
{
    return s->pid;
}

const char *
e2e_log_path (const e2e_server_t *s)
{
    return s->log_path;
}

e2e_server_t *
e2e_start_on_at (const e2e_opts_t *opts, int port, const char *file, int line)
{
    signal (SIGPIPE, SIG_IGN);
    const char   *bin = server_binary (file, line);
    e2e_server_t *s = keep (calloc (1, sizeof *s));
    s->stuck_fd = -1;
    /*  The port was just given up by the server before: it can only be
        busy if someone else took it meanwhile. Try again for a while.   */
    int64_t deadline = e2e_now_ms () + E2E_START_MS;
    for (;;) {
        int status = 0;
        if (launch (s, opts, bin, port, &status, file, line))
            return s;
        if (e2e_now_ms () >= deadline) {
            print_log_tail (s->log_path, "the server exited before listening");
            e2e_fail_at (file, line, "no server could listen on port %d again within %d ms (%s)",
                         port, E2E_START_MS, describe_status (status));
        }
        unlink (s->log_path);
        e2e_sleep_ms (100);
    }
}

void
e2e_kill9_at (e2e_server_t *s, const char *file, int line)
{
    unregister_server (s);
    int status = 0;
    kill (s->pid, SIGKILL);
    bool reaped = wait_exit (s->pid, &status, E2E_START_MS);
    close_stuck (s);
    if (!reaped) {
        print_log_tail (s->log_path, "no exit after SIGKILL");
        e2e_fail_at (file, line, "server not reaped within %d ms of SIGKILL", E2E_START_MS);
    }
    if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGKILL) {
        print_log_tail (s->log_path, "the server was gone before SIGKILL");
        e2e_fail_at (file, line, "server before SIGKILL: %s", describe_status (status));
    }
    unlink (s->log_path);
}

void
e2e_forget_at (e2e_server_t *s, const char *file, int line)
{
    unregister_server (s);
    close_stuck (s);
    char *log = read_file (s->log_path, NULL);
    bool  sanitizer = log && log_has_sanitizer_report (log);
    free (log);
    if (sanitizer) {
        print_log_tail (s->log_path, "sanitizer report");
        e2e_fail_at (file, line, "the server's log holds a sanitizer report");
    }
    unlink (s->log_path);
}
