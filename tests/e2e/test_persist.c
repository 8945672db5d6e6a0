/* SPDX-License-Identifier: MIT */
/*  End-to-end: --data-dir. Chat lines survive a restart (SIGTERM) and a
    crash (SIGKILL) once any client has received them; rooms with lines
    come back; --history bounds what is reloaded; a directory that cannot
    be used stops the server at start; room names cannot lead outside
    the directory; without --data-dir nothing is written.

    Each test works under its own directory, e2e_root() (the data
    dir is a subdirectory the server creates), removed by the teardown.  */
#include "e2e.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROOM_CHARS "Room name can only contain letters, digits, '_' and '-'."

/* ------------------------------------------------------------------ */
/*  Directories and files                                             */

static const char *
data_dir (void)
{
    return e2e_fmt ("%s/data", e2e_root ());
}

/*  The whole file (freed at teardown), or NULL if there is none.        */
static char *
read_text (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    char  *text = e2e_calloc (1, 1);
    size_t len = 0;
    char   chunk [4096];
    size_t got;
    while ((got = fread (chunk, 1, sizeof chunk, file)) > 0) {
        char *more = e2e_calloc (len + got + 1, 1);
        memcpy (more, text, len);
        memcpy (more + len, chunk, got);
        text = more;
        len += got;
    }
    fclose (file);
    return text;
}

static void
write_text (const char *path, const char *text)
{
    FILE *file = fopen (path, "wb");
    if (!file || fputs (text, file) < 0)
        e2e_fail ("cannot write %s: %s", path, strerror (errno));
    fclose (file);
}

/*  The names in a directory, sorted, each followed by ' ' ("" if none). */
static char *
listing (const char *path)
{
    DIR *dir = opendir (path);
    if (!dir)
        e2e_fail ("cannot list %s: %s", path, strerror (errno));
    char          *names [64];
    size_t         n = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)) && n < 64)
        if (strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0)
            names [n++] = e2e_fmt ("%s", entry->d_name);
    closedir (dir);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp (names [j - 1], names [j]) > 0; j--) {
            char *swap = names [j];
            names [j] = names [j - 1];
            names [j - 1] = swap;
        }
    char *text = e2e_fmt ("%s", "");
    for (size_t i = 0; i < n; i++)
        text = e2e_fmt ("%s%s ", text, names [i]);
    return text;
}

#define expect_listing(path, want)                                                                 \
    do {                                                                                           \
        char *got_ = listing (path);                                                               \
        if (strcmp (got_, (want)) != 0)                                                            \
            e2e_fail ("%s holds \"%s\", want \"%s\"", (path), got_, (want));                       \
    } while (0)

static void
expect_file (const char *path, const char *want)
{
    char *got = read_text (path);
    if (!got)
        e2e_fail ("%s: missing", path);
    if (strcmp (got, want) != 0)
        e2e_fail ("%s holds %s\n  want %s", path, e2e_escape (got, strlen (got)),
                  e2e_escape (want, strlen (want)));
}

/*  The server's log holds a line ending in `text`.                      */
static void
expect_logged (const e2e_server_t *s, const char *text)
{
    int64_t deadline = e2e_now_ms () + E2E_TIMEOUT_MS;
    for (;;) {
        char *log = read_text (e2e_log_path (s));
        if (log && strstr (log, e2e_fmt (" %s\n", text)))
            return;
        if (e2e_now_ms () >= deadline)
            e2e_fail ("the server's log has no line \"... %s\"; log:\n%s", text, log ? log : "");
        e2e_sleep_ms (20);
    }
}

/* ------------------------------------------------------------------ */
/*  Chat                                                              */

/*  c receives from's chat line `text` and its prompt. Returns the line
    as history shows it: "[ts][from]:text\n", the very bytes received.   */
static char *
receive_line (e2e_client_t *c, const char *from, const char *text)
{
    const char *pattern = e2e_fmt ("\n" E2E_TS "[%s]:%s\n", from, text);
    size_t      n = e2e_pattern_len (pattern);
    const char *got = e2e_peek (c, n, E2E_TIMEOUT_MS);
    if (!e2e_match (pattern, got, n))
        e2e_fail ("%s: expected %s, got %s", e2e_name (c), e2e_escape (pattern, strlen (pattern)),
                  e2e_escape (got, n));
    char *line = e2e_fmt ("%.*s", (int) n - 1, got + 1);
    e2e_consume (c, n);
    e2e_expect_prompt (c);
    return line;
}

/*  alice and bob log in; alice says three lines (tabs, UTF-8, '%'
    included) that bob receives. Returns them as history will show them,
    concatenated.                                                        */
static char *
three_lines_received (const e2e_server_t *srv, e2e_client_t **alice, e2e_client_t **bob)
{
    static const char *const texts [] = {"first", "caf\xc3\xa9 \t 100%s %n", "third, the last"};
    e2e_login_two (srv, alice, bob);
    char *history = e2e_fmt ("%s", "");
    for (size_t i = 0; i < 3; i++) {
        e2e_say (*alice, texts [i]);
        history = e2e_fmt ("%s%s", history, receive_line (*bob, "alice", texts [i]));
    }
    return history;
}

/*  A server on dir, three lines received, then the server ends (SIGTERM,
    or SIGKILL when kill9) and both clients close: the lines as history,
    and the port to restart on.                                          */
static char *
three_lines_then_end (const char *dir, bool kill9, int *port)
{
    e2e_server_t *srv = e2e_start ("--data-dir", dir);
    *port = e2e_port (srv);
    e2e_client_t *alice, *bob;
    char         *history = three_lines_received (srv, &alice, &bob);
    if (kill9)
        e2e_kill9 (srv);
    else
        e2e_stop (srv);
    e2e_close (alice);
    e2e_close (bob);
    return history;
}

static void
command (e2e_client_t *c, const char *line, const char *reply)
{
    e2e_send (c, e2e_fmt ("%s\n", line));
    e2e_expect_reply (c, reply);
}

/* ------------------------------------------------------------------ */
/*  Surviving a stop                                                  */

/*  3 lines, SIGTERM, a restart on the same directory and port: a new
    client gets the 3 lines as history, byte for byte.                  */
static void
test_sigterm_restart_keeps_lines (void **state)
{
    (void) state;
    const char *dir = data_dir ();
    int         port;
    char       *history = three_lines_then_end (dir, false, &port);
    expect_file (e2e_fmt ("%s/general.log", dir), history);

    e2e_server_t *srv = e2e_start_on (port, "--data-dir", dir);
    e2e_client_t *carol = e2e_login_history (srv, "carol", history);
    expect_logged (srv, e2e_fmt ("room[general] reloaded 3 lines from %s/general.log", dir));
    /*  And the next line goes after them.                              */
    e2e_client_t *dave = e2e_login_history (srv, "dave", history);
    e2e_expect_joined (carol, "dave");
    e2e_say (carol, "after the restart");
    char *more = receive_line (dave, "carol", "after the restart");
    e2e_stop (srv);
    expect_file (e2e_fmt ("%s/general.log", dir), e2e_fmt ("%s%s", history, more));
}

/*  The same with kill -9 right after another client received the lines:
    nothing of what anyone saw is lost.                                   */
static void
test_sigkill_after_receipt_keeps_lines (void **state)
{
    (void) state;
    const char *dir = data_dir ();
    int         port;
    char       *history = three_lines_then_end (dir, true, &port);

    e2e_server_t *srv = e2e_start_on (port, "--data-dir", dir);
    e2e_login_history (srv, "carol", history);
    e2e_stop (srv);
    expect_file (e2e_fmt ("%s/general.log", dir), history);
}

/*  Killed again and again, each time right after a line was received:
    every line is there, in order, once.                                 */
static void
test_repeated_kills_lose_nothing (void **state)
{
    (void) state;
    const char *dir = data_dir ();
    char       *history = e2e_fmt ("%s", "");
    int         port = 0;
    for (int round = 0; round < 4; round++) {
        e2e_server_t *srv =
            round == 0 ? e2e_start ("--data-dir", dir) : e2e_start_on (port, "--data-dir", dir);
        port = e2e_port (srv);
        e2e_client_t *alice = e2e_login_history (srv, "alice", history);
        e2e_client_t *bob = e2e_login_history (srv, "bob", history);
        e2e_expect_joined (alice, "bob");
        char *text = e2e_fmt ("round %d", round);
        e2e_say (alice, text);
        history = e2e_fmt ("%s%s", history, receive_line (bob, "alice", text));
        e2e_kill9 (srv);
        e2e_close (alice);
        e2e_close (bob);
    }
    expect_file (e2e_fmt ("%s/general.log", dir), history);
}

/*  A room with lines comes back: listed by /rooms with nobody in it,
    its history shown to whoever joins.                                  */
static void
test_rooms_come_back (void **state)
{
    (void) state;
    const char   *dir = data_dir ();
    e2e_server_t *srv = e2e_start ("--data-dir", dir);
    int           port = e2e_port (srv);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_send (alice, "/join dev\n");
    e2e_expect_prompt (alice);
    e2e_say (alice, "d1");
    e2e_say (alice, "d2");
    /*  A room nobody spoke in leaves nothing behind.                    */
    e2e_send (alice, "/join quiet\n");
    e2e_expect_prompt (alice);
    e2e_stop (srv);
    e2e_close (alice);
    expect_listing (dir, "dev.log ");

    srv = e2e_start_on (port, "--data-dir", dir);
    e2e_client_t *bob = e2e_login (srv, "bob");
    command (bob, "/rooms", "Rooms:\n  dev (0 members)\n* general (1 member)");
    e2e_send (bob, "/join DEV\n");
    e2e_expect (bob, E2E_TS "[alice]:d1\n" E2E_TS "[alice]:d2\n");
    e2e_expect_prompt (bob);
    command (bob, "/users", "Users in dev (1): bob");
    /*  Left empty, it stays: it has history.                            */
    e2e_send (bob, "/join general\n");
    e2e_expect_prompt (bob);
    command (bob, "/rooms", "Rooms:\n  dev (0 members)\n* general (1 member)");
    e2e_stop (srv);
}

/*  --history 2 with 5 lines on disk: the last 2 come back.              */
static void
test_history_bounds_what_is_reloaded (void **state)
{
    (void) state;
    const char *dir = data_dir ();
    if (mkdir (dir, 0750) != 0)
        e2e_fail ("mkdir %s: %s", dir, strerror (errno));
    const char *lines = "[2024-01-01 10:00:01][alice]:one\n"
                        "[2024-01-01 10:00:02][bob]:two\n"
                        "[2024-01-01 10:00:03][alice]:three\n"
                        "[2024-01-01 10:00:04][bob]:four\n"
                        "[2024-01-01 10:00:05][alice]:five\n";
    write_text (e2e_fmt ("%s/general.log", dir), lines);
    e2e_server_t *srv = e2e_start ("--data-dir", dir, "--history", "2");
    e2e_client_t *carol = e2e_login_history (
        srv, "carol", "[2024-01-01 10:00:04][bob]:four\n[2024-01-01 10:00:05][alice]:five\n");
    expect_logged (srv, e2e_fmt ("room[general] reloaded 2 lines from %s/general.log", dir));
    e2e_say (carol, "six");
    e2e_client_t *dave = e2e_login_history (
        srv, "dave", "[2024-01-01 10:00:05][alice]:five\n" E2E_TS "[carol]:six\n");
    e2e_expect_joined (carol, "dave");
    e2e_stop (srv);
    /*  The file keeps everything; only memory is bounded.              */
    char  *text = read_text (e2e_fmt ("%s/general.log", dir));
    size_t len = strlen (lines);
    if (!text || strncmp (text, lines, len) != 0 ||
        !e2e_match (E2E_TS "[carol]:six\n", text + len, strlen (text + len)))
        e2e_fail ("general.log: %s", text ? e2e_escape (text, strlen (text)) : "missing");
    (void) dave;
}

/*  TCPCHAT_DATA_DIR does what --data-dir does.                           */
static void
test_data_dir_from_environment (void **state)
{
    (void) state;
    const char   *env [] = {e2e_fmt ("TCPCHAT_DATA_DIR=%s", data_dir ()), NULL};
    e2e_opts_t    opts = {.env = env};
    e2e_server_t *srv = e2e_start_opts (&opts);
    int           port = e2e_port (srv);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_say (alice, "from the env");
    e2e_stop (srv);
    e2e_close (alice);
    srv = e2e_start_on_at (&opts, port, __FILE__, __LINE__);
    e2e_login_history (srv, "bob", E2E_TS "[alice]:from the env\n");
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  Refusals and safety                                               */

static void
expect_refused (const char *dir, const char *want_err)
{
    char       *port = e2e_fmt ("%d", e2e_free_port ());
    const char *args [] = {"--data-dir", dir, "--bind", "127.0.0.1", port, NULL};
    e2e_run_t   res;
    e2e_run (&res, args, NULL);
    char *out = e2e_fmt ("%s", res.out);
    char *err = e2e_fmt ("%s", res.err);
    int   status = res.status;
    e2e_run_free (&res);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 2)
        e2e_fail ("--data-dir %s: want exit status 2, got status 0x%x; stderr %s", dir, status,
                  e2e_escape (err, strlen (err)));
    if (*out)
        e2e_fail ("--data-dir %s: want nothing on stdout, got %s", dir,
                  e2e_escape (out, strlen (out)));
    size_t n = strlen (want_err);
    bool   one_line = strchr (err, '\n') == err + strlen (err) - 1;
    if (strncmp (err, want_err, n) != 0 || !one_line)
        e2e_fail ("--data-dir %s: want one stderr line starting %s, got %s", dir,
                  e2e_escape (want_err, n), e2e_escape (err, strlen (err)));
}

/*  A data dir that cannot be used: one clear line, exit 2, no server.   */
static void
test_data_dir_not_usable (void **state)
{
    (void) state;
    const char *file = e2e_fmt ("%s/a-file", e2e_root ());
    write_text (file, "not a directory\n");
    expect_refused (file, e2e_fmt ("TCPChat: --data-dir %s: not a directory\n", file));
    expect_refused ("/proc/self/nonexistent",
                    "TCPChat: --data-dir /proc/self/nonexistent: cannot create it: ");
    const char *deep = e2e_fmt ("%s/no/such", e2e_root ());
    expect_refused (deep, e2e_fmt ("TCPChat: --data-dir %s: cannot create it: "
                                   "No such file or directory\n",
                                   deep));
    /*  Root writes through any mode bits: only others can be refused.    */
    if (geteuid () != 0) {
        const char *locked = e2e_fmt ("%s/locked", e2e_root ());
        if (mkdir (locked, 0500) != 0)
            e2e_fail ("mkdir %s: %s", locked, strerror (errno));
        expect_refused (locked, e2e_fmt ("TCPChat: --data-dir %s: not writable: ", locked));
        chmod (locked, 0700);
    }
    expect_listing (e2e_root (), "a-file ");
}

/*  Room names that try to leave the directory are refused before they
    reach it; what is accepted is a plain file inside it.               */
static void
test_room_names_stay_inside (void **state)
{
    (void) state;
    const char   *dir = data_dir ();
    e2e_server_t *srv = e2e_start ("--data-dir", dir);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_say (alice, "in general");
    static const char *const hostile [] = {"..%2Fetc",    "../etc", "..",    ".",     "a/b",
                                           "/etc/passwd", "%2E%2E", "x.log", "dev\\x"};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile [0]; i++)
        command (alice, e2e_fmt ("/join %s", hostile [i]), ROOM_CHARS);
    e2e_send (alice, "/join x-y_Z\n");
    e2e_expect_prompt (alice);
    e2e_say (alice, "safe");
    e2e_stop (srv);
    expect_listing (dir, "general.log x-y_Z.log ");
    expect_listing (e2e_root (), "data ");
}

/*  Without --data-dir the server writes no file: none in its working
    directory or HOME, and no regular file open for writing but its own
    stdout and stderr.                                                   */
static void
test_no_data_dir_writes_nothing (void **state)
{
    (void) state;
    char cwd [1024];
    if (!getcwd (cwd, sizeof cwd) || chdir (e2e_root ()) != 0)
        e2e_fail ("cannot go to %s: %s", e2e_root (), strerror (errno));
    const char   *env [] = {e2e_fmt ("HOME=%s", e2e_root ()), NULL};
    e2e_opts_t    opts = {.env = env};
    e2e_server_t *srv = e2e_start_opts (&opts);
    if (chdir (cwd) != 0)
        e2e_fail ("cannot go back to %s: %s", cwd, strerror (errno));
    e2e_client_t *alice, *bob;
    three_lines_received (srv, &alice, &bob);
    e2e_send (alice, "/join dev\n");
    e2e_expect_prompt (alice);
    e2e_expect_left (bob, "alice");
    e2e_say (alice, "in dev");

    /*  Every descriptor of the server that is a regular file opened for
        writing must be its log (stdout, stderr).                        */
    pid_t pid = e2e_pid (srv);
    DIR  *fds = opendir (e2e_fmt ("/proc/%d/fd", (int) pid));
    if (!fds)
        e2e_fail ("cannot list /proc/%d/fd: %s", (int) pid, strerror (errno));
    struct stat log_info;
    if (stat (e2e_log_path (srv), &log_info) != 0)
        e2e_fail ("cannot stat the server's log: %s", strerror (errno));
    struct dirent *entry;
    while ((entry = readdir (fds))) {
        if (entry->d_name [0] == '.')
            continue;
        const char *link = e2e_fmt ("/proc/%d/fd/%s", (int) pid, entry->d_name);
        char        target [1024];
        ssize_t     n = readlink (link, target, sizeof target - 1);
        target [n > 0 ? n : 0] = '\0';
        /*  Sockets, pipes, eventfds, epoll: not files ("anon_inode:...",
            "socket:[...]"); then only regular files with a name count
            (valgrind, when the server runs under it, keeps deleted
            scratch files open).                                         */
        struct stat info;
        if (target [0] != '/' || stat (link, &info) != 0 || !S_ISREG (info.st_mode) ||
            info.st_nlink == 0 ||
            (info.st_dev == log_info.st_dev && info.st_ino == log_info.st_ino))
            continue;
        char         *fdinfo = read_text (e2e_fmt ("/proc/%d/fdinfo/%s", (int) pid, entry->d_name));
        const char   *flags = fdinfo ? strstr (fdinfo, "flags:") : NULL;
        unsigned long mode = flags ? strtoul (flags + 6, NULL, 8) : 0;
        if (mode & (O_WRONLY | O_RDWR)) {
            closedir (fds);
            e2e_fail ("without --data-dir the server has %s open for writing (fd %s)", target,
                      entry->d_name);
        }
    }
    closedir (fds);
    e2e_stop (srv);
    expect_listing (e2e_root (), "");
}

int
main (void)
{
    /*  The developer's own setting must not reach the servers under test. */
    unsetenv ("TCPCHAT_DATA_DIR");
    const struct CMUnitTest tests [] = {
        E2E_TEST (test_sigterm_restart_keeps_lines),
        E2E_TEST (test_sigkill_after_receipt_keeps_lines),
        E2E_TEST (test_repeated_kills_lose_nothing),
        E2E_TEST (test_rooms_come_back),
        E2E_TEST (test_history_bounds_what_is_reloaded),
        E2E_TEST (test_data_dir_from_environment),
        E2E_TEST (test_data_dir_not_usable),
        E2E_TEST (test_room_names_stay_inside),
        E2E_TEST (test_no_data_dir_writes_nothing),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
