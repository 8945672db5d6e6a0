/* SPDX-License-Identifier: MIT */
/*  Unit tests for log: one line per event, "YYYY-MM-DD HH:MM:SS NAME text\n",
    in a single write. The tests log into a pipe and read what arrived.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "log.h"

#define STAMP_LEN 19 /* "YYYY-MM-DD HH:MM:SS" */

static int s_pipe [2] = {-1, -1};

static int
pipe_setup (void **state)
{
    (void) state;
    if (pipe2 (s_pipe, O_CLOEXEC) != 0)
        return -1;
    //  Reads never wait: whatever log_* wrote is already in the pipe.
    return fcntl (s_pipe [0], F_SETFL, O_NONBLOCK) == 0 ? 0 : -1;
}

static int
pipe_teardown (void **state)
{
    (void) state;
    close (s_pipe [0]);
    close (s_pipe [1]);
    s_pipe [0] = s_pipe [1] = -1;
    return 0;
}

/*  Everything in the pipe now, NUL terminated (caller frees); *len set. */
static char *
drain (size_t *len)
{
    size_t cap = 8192, n = 0;
    char  *data = malloc (cap + 1);
    assert_non_null (data);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            data = realloc (data, cap + 1);
            assert_non_null (data);
        }
        ssize_t got = read (s_pipe [0], data + n, cap - n);
        if (got > 0)
            n += (size_t) got;
        else {
            assert_true (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
            break;
        }
    }
    data [n] = 0;
    *len = n;
    return data;
}

static void
format_stamp (time_t t, char out [STAMP_LEN + 1])
{
    struct tm tm;
    localtime_r (&t, &tm);
    assert_int_equal (strftime (out, STAMP_LEN + 1, "%Y-%m-%d %H:%M:%S", &tm), STAMP_LEN);
}

/*  line holds a "YYYY-MM-DD HH:MM:SS" of a second in [from, to].         */
static void
assert_stamp_between (const char *line, time_t from, time_t to)
{
    for (int i = 0; i < STAMP_LEN; i++) {
        char c = line [i];
        bool ok = (i == 4 || i == 7)     ? c == '-'
                  : i == 10              ? c == ' '
                  : (i == 13 || i == 16) ? c == ':'
                                         : c >= '0' && c <= '9';
        if (!ok)
            fail_msg ("bad timestamp at byte %d in \"%s\"", i, line);
    }
    char stamp [STAMP_LEN + 1];
    for (time_t t = from; t <= to; t++) {
        format_stamp (t, stamp);
        if (memcmp (line, stamp, STAMP_LEN) == 0)
            return;
    }
    format_stamp (from, stamp);
    fail_msg ("timestamp \"%.19s\" is not the local time (expected about %s)", line, stamp);
}

/*  The pipe holds exactly one line: a stamp of now, then expected.      */
static void
assert_one_line (time_t from, time_t to, const char *expected)
{
    size_t len;
    char  *data = drain (&len);
    size_t want = STAMP_LEN + 1 + strlen (expected) + 1;
    if (len != want || data [len - 1] != '\n' || memchr (data, '\n', len) != data + len - 1 ||
        data [STAMP_LEN] != ' ' || memcmp (data + STAMP_LEN + 1, expected, strlen (expected)))
        fail_msg ("expected \"<stamp> %s\\n\", got \"%s\"", expected, data);
    assert_stamp_between (data, from, to);
    free (data);
}

/*  The log call writes exactly the line want, stamped within the
    seconds it ran in.                                                   */
#define expect_logged(call, want)                                                                  \
    do {                                                                                           \
        time_t from_ = time (NULL);                                                                \
        call;                                                                                      \
        assert_one_line (from_, time (NULL), (want));                                              \
    } while (0)

static void
assert_pipe_empty (void)
{
    size_t len;
    char  *data = drain (&len);
    if (len)
        fail_msg ("expected nothing, got \"%s\"", data);
    free (data);
}

/* ------------------------------------------------------------------ */

static void
test_info_writes_one_line (void **state)
{
    (void) state;
    log_t log;
    log_init (&log, "room[general]", s_pipe [1], false);
    expect_logged (log_info (&log, "%s joined (%d members)", "alice", 2),
                   "room[general] alice joined (2 members)");

    expect_logged (log_info (&log, "started"), "room[general] started");
}

static void
test_info_with_verbose (void **state)
{
    (void) state;
    log_t log;
    log_init (&log, "hub", s_pipe [1], true);
    expect_logged (log_info (&log, "room %s created (%zu rooms)", "dev", (size_t) 2),
                   "hub room dev created (2 rooms)");
}

static void
test_debug_only_when_verbose (void **state)
{
    (void) state;
    log_t quiet, loud;
    log_init (&quiet, "gateway", s_pipe [1], false);
    log_init (&loud, "gateway", s_pipe [1], true);

    log_debug (&quiet, "line from %s (%d bytes)", "bob", 5);
    assert_pipe_empty ();

    expect_logged (log_debug (&loud, "line from %s (%d bytes)", "bob", 5),
                   "gateway line from bob (5 bytes)");

    log_debug (&quiet, "still nothing");
    assert_pipe_empty ();
}

static void
test_lines_are_separate (void **state)
{
    (void) state;
    log_t log;
    log_init (&log, "gateway", s_pipe [1], true);
    log_info (&log, "one");
    log_debug (&log, "two");
    log_info (&log, "three");
    size_t len;
    char  *data = drain (&len);
    //  "<stamp> gateway one\n<stamp> gateway two\n<stamp> gateway three\n"
    const char *words [] = {"one", "two", "three"};
    const char *p = data;
    for (size_t i = 0; i < 3; i++) {
        const char *nl = strchr (p, '\n');
        assert_non_null (nl);
        char want [64];
        snprintf (want, sizeof want, " gateway %s", words [i]);
        assert_int_equal ((size_t) (nl - p), STAMP_LEN + strlen (want));
        assert_memory_equal (p + STAMP_LEN, want, strlen (want));
        p = nl + 1;
    }
    assert_int_equal ((size_t) (p - data), len);
    free (data);
}

/*  A message longer than the line buffer is cut, still as one line.     */
static void
test_long_message_stays_one_line (void **state)
{
    (void) state;
    log_t log;
    log_init (&log, "room[general]", s_pipe [1], false);
    char *text = malloc (5001);
    assert_non_null (text);
    memset (text, 'x', 5000);
    text [5000] = 0;
    log_info (&log, "%s", text);
    free (text);
    size_t len;
    char  *data = drain (&len);
    assert_true (len > STAMP_LEN + 20);
    assert_int_equal (data [len - 1], '\n');
    assert_true (memchr (data, '\n', len) == data + len - 1);
    assert_memory_equal (data + STAMP_LEN, " room[general] xxxx", 19);
    free (data);
}

/*  A name too long for the log keeps a prefix, never overflows.         */
static void
test_long_name_is_cut (void **state)
{
    (void) state;
    char name [200];
    memset (name, 'n', sizeof name - 1);
    name [sizeof name - 1] = 0;
    log_t log;
    log_init (&log, name, s_pipe [1], false);
    assert_true (strlen (log.name) < sizeof log.name);
    assert_true (strlen (log.name) > 0);
    assert_memory_equal (log.name, name, strlen (log.name));
    log_info (&log, "ok");
    size_t len;
    char  *data = drain (&len);
    assert_int_equal (data [len - 1], '\n');
    assert_true (memchr (data, '\n', len) == data + len - 1);
    assert_memory_equal (data + len - 4, " ok\n", 4);
    free (data);
}

/*  A log that cannot be written is not an error (nothing to assert but
    that it returns).                                                   */
static void
test_unwritable_fd (void **state)
{
    (void) state;
    log_t log;
    log_init (&log, "hub", -1, true);
    log_info (&log, "into the void");
    log_debug (&log, "also");
    int fds [2];
    assert_int_equal (pipe (fds), 0);
    close (fds [1]);
    log_init (&log, "hub", fds [0], true); /* read end: write fails */
    log_info (&log, "nope");
    close (fds [0]);
}

/*  --log-file: each line goes to stdout and the file alike, appended;
    debug lines follow --verbose in both.                                 */
static void
test_also_writes_to_a_file (void **state)
{
    (void) state;
    char path [] = "/tmp/test_log_XXXXXX";
    int  file = mkstemp (path);
    assert_true (file >= 0);
    assert_int_equal (write (file, "earlier\n", 8), 8);
    close (file);
    file = open (path, O_WRONLY | O_APPEND | O_CLOEXEC);
    assert_true (file >= 0);
    log_t log;
    log_init (&log, "gateway", s_pipe [1], false);
    assert_int_equal (log.file_fd, -1);
    log_also (&log, file);
    log_info (&log, "connection opened from %s", "127.0.0.1:5000");
    log_debug (&log, "not shown");
    close (file);

    size_t len;
    char  *out = drain (&len);
    char   text [512] = "";
    FILE  *in = fopen (path, "r");
    assert_non_null (in);
    size_t got = fread (text, 1, sizeof text - 1, in);
    fclose (in);
    unlink (path);
    text [got] = 0;
    //  The file holds what it had, then exactly what stdout got.
    assert_true (len > 0);
    assert_true (got == 8 + len);
    assert_memory_equal (text, "earlier\n", 8);
    assert_memory_equal (text + 8, out, len);
    assert_non_null (strstr (out, " gateway connection opened from 127.0.0.1:5000\n"));
    assert_null (strstr (out, "not shown"));
    free (out);
}

/* ------------------------------------------------------------------ */
/*  Escaping: nothing a client typed reaches the log raw.              */

static void
expect_escape (const char *in, size_t len, const char *want)
{
    char   out [256];
    size_t n = log_escape (in, len, out, sizeof out);
    if (n != strlen (want) || strcmp (out, want))
        fail_msg ("escaping gave \"%s\", want \"%s\"", out, want);
}
#define expect_esc(lit, want) expect_escape ((lit), sizeof (lit) - 1, (want))

static void
test_escape_controls (void **state)
{
    (void) state;
    expect_esc ("plain text, caf\xc3\xa9 \xf0\x9f\x98\x80",
                "plain text, caf\xc3\xa9 \xf0\x9f\x98\x80");
    expect_esc ("a\x1b[2Jb", "a\\x1b[2Jb");
    expect_esc ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07");
    expect_esc ("x\r\n2026-01-01 00:00:00 main fake", "x\\r\\n2026-01-01 00:00:00 main fake");
    expect_esc ("\t\\", "\\t\\\\");
    expect_esc ("\x00\x01\x7f", "\\x00\\x01\\x7f");
    expect_esc ("\xc2\x9b"
                "31m",
                "\\xc2\\x9b31m"); /* C1 CSI */
    expect_esc ("\xe2\x80\xae"
                "abc",
                "\\xe2\\x80\\xaeabc"); /* U+202E */
    expect_esc ("\xe2\x81\xa6\xe2\x80\x8f", "\\xe2\\x81\\xa6\\xe2\\x80\\x8f");
    expect_esc ("\xe2\x80\xa8", "\\xe2\\x80\\xa8"); /* U+2028 */
    expect_esc ("\xff\xc3", "\\xff\\xc3");          /* invalid */
    expect_esc ("\xc2\xa0", "\xc2\xa0");            /* U+00A0 kept */
}

/*  Cut before an escape that would not fit, NUL terminated.            */
static void
test_escape_cut (void **state)
{
    (void) state;
    char out [8];
    assert_int_equal (log_escape ("abcdef\x1b", 7, out, sizeof out), 6);
    assert_string_equal (out, "abcdef");
    assert_int_equal (log_escape ("ab\xe2\x80\xae", 5, out, sizeof out), 2);
    assert_string_equal (out, "ab");
    assert_int_equal (log_escape ("abcd\xf0\x9f\x98\x80", 8, out, sizeof out), 4);
}

/*  Whatever the format, client text in a log line is escaped: one line,
    no raw control byte.                                                */
static void
test_lines_are_escaped (void **state)
{
    (void) state;
    log_t log;
    log_init (&log, "hub", s_pipe [1], true);
    log_debug (&log, "%s: /join %s", "mallory\x1b]0;owned\x07",
               "x\r\n2026-11-29 18:00:00 main fake line\x1b[2J");
    size_t len;
    char  *data = drain (&len);
    assert_int_equal (data [len - 1], '\n');
    assert_true (memchr (data, '\n', len) == data + len - 1);
    for (size_t i = 0; i + 1 < len; i++)
        assert_true ((unsigned char) data [i] >= 0x20 && data [i] != 0x7f);
    assert_non_null (strstr (data, " hub mallory\\x1b]0;owned\\x07: /join x\\r\\n2026-11-29 "
                                   "18:00:00 main fake line\\x1b[2J\n"));
    free (data);
}

/*  A long escaped message stays one line within LOG_LINE_MAX.          */
static void
test_escaped_line_is_bounded (void **state)
{
    (void) state;
    log_t log;
    log_init (&log, "gateway", s_pipe [1], false);
    char text [1500];
    memset (text, 0x1b, sizeof text - 1);
    text [sizeof text - 1] = 0;
    log_info (&log, "%s", text);
    size_t len;
    char  *data = drain (&len);
    assert_true (len <= LOG_LINE_MAX);
    assert_int_equal (data [len - 1], '\n');
    assert_true (memchr (data, '\n', len) == data + len - 1);
    assert_memory_equal (data + len - 5, "\\x1b\n", 5);
    free (data);
}

/* ------------------------------------------------------------------ */
/*  Never blocking: a full pipe drops lines and says how many.         */

static void
test_full_pipe_drops_and_counts (void **state)
{
    (void) state;
    int fds [2];
    assert_int_equal (pipe2 (fds, O_CLOEXEC | O_NONBLOCK), 0);
    log_t log;
    log_init (&log, "room[dev]", fds [1], false);
    //  Fill the pipe: lines stop getting in, and each one is counted.
    unsigned long sent = 0;
    while (log.dropped == 0 && sent < 100000) {
        log_info (&log, "filler line %lu", sent);
        sent++;
    }
    assert_int_equal (log.dropped, 1);
    log_info (&log, "lost too");
    log_info (&log, "and this");
    assert_int_equal (log.dropped, 3);
    //  Once it moves again, the next line says what was lost first.
    char sink [4096];
    while (read (fds [0], sink, sizeof sink) > 0)
        ;
    log_info (&log, "back");
    assert_int_equal (log.dropped, 0);
    ssize_t n = read (fds [0], sink, sizeof sink - 1);
    assert_true (n > 0);
    sink [n] = 0;
    const char *first = sink + STAMP_LEN;
    assert_memory_equal (first, " room[dev] 3 log lines dropped\n", 31);
    assert_non_null (strstr (sink, " room[dev] back\n"));
    assert_int_equal (sink [n - 1], '\n');
    close (fds [0]);
    close (fds [1]);
}

/* ------------------------------------------------------------------ */
/*  --log-file                                                         */

static void
test_open_file_regular_only (void **state)
{
    (void) state;
    char dir [] = "/tmp/test_log_dir_XXXXXX";
    assert_non_null (mkdtemp (dir));
    char path [256], error [256];

    snprintf (path, sizeof path, "%s/fifo", dir);
    assert_int_equal (mkfifo (path, 0600), 0);
    assert_int_equal (log_open_file (path, error, sizeof error), -1);
    assert_string_equal (error, "a FIFO, not a regular file");
    unlink (path);

    assert_int_equal (log_open_file (dir, error, sizeof error), -1);
    assert_string_equal (error, "a directory, not a regular file");

    assert_int_equal (log_open_file ("/dev/null", error, sizeof error), -1);
    assert_string_equal (error, "a character device, not a regular file");

    snprintf (path, sizeof path, "%s/missing/x.log", dir);
    assert_int_equal (log_open_file (path, error, sizeof error), -1);
    assert_string_equal (error, "No such file or directory");

    //  A new file is created, an existing one appended to, and a symlink
    //  to a regular file is followed.
    snprintf (path, sizeof path, "%s/chat.log", dir);
    int fd = log_open_file (path, error, sizeof error);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, "one\n", 4), 4);
    close (fd);
    char link [256];
    snprintf (link, sizeof link, "%s/link.log", dir);
    assert_int_equal (symlink (path, link), 0);
    fd = log_open_file (link, error, sizeof error);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, "two\n", 4), 4);
    close (fd);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_size, 8);
    assert_int_equal (st.st_mode & 0777, 0640);
    unlink (link);
    unlink (path);
    rmdir (dir);
}

/* ------------------------------------------------------------------ */
/*  The sink                                                           */

/*  Reads fd until want shows up or ms pass; returns what arrived.      */
static char *
read_until (int fd, const char *want, int ms)
{
    size_t cap = 1 << 16, n = 0;
    char  *data = calloc (1, cap + 1);
    assert_non_null (data);
    struct timespec start;
    clock_gettime (CLOCK_MONOTONIC, &start);
    while (!strstr (data, want) && n < cap) {
        struct timespec now;
        clock_gettime (CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (spent >= ms)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll (&p, 1, 50) <= 0)
            continue;
        ssize_t got = read (fd, data + n, cap - n);
        if (got <= 0)
            break;
        n += (size_t) got;
    }
    return data;
}

static long
elapsed_ms (const struct timespec *from)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (now.tv_sec - from->tv_sec) * 1000 + (now.tv_nsec - from->tv_nsec) / 1000000;
}

/*  Points stdout at a new pipe: stdout's old descriptor, for
    stdout_restore; *read_end the pipe's end to read.                    */
static int
stdout_to_pipe (int *read_end)
{
    fflush (stdout);
    int saved = dup (STDOUT_FILENO);
    int fds [2];
    assert_int_equal (pipe2 (fds, O_CLOEXEC), 0);
    dup2 (fds [1], STDOUT_FILENO);
    close (fds [1]);
    *read_end = fds [0];
    return saved;
}

static void
stdout_restore (int saved)
{
    dup2 (saved, STDOUT_FILENO);
    close (saved);
}

/*  Lines written to descriptor 1 reach the old stdout and the file;
    a reopen after a rename starts a new file at the old path.          */
static void
test_sink_copies_and_reopens (void **state)
{
    (void) state;
    char dir [] = "/tmp/test_log_sink_XXXXXX";
    assert_non_null (mkdtemp (dir));
    char path [256], moved [256], error [256];
    snprintf (path, sizeof path, "%s/chat.log", dir);
    snprintf (moved, sizeof moved, "%s/chat.log.1", dir);
    int file = log_open_file (path, error, sizeof error);
    assert_true (file >= 0);

    int         out;
    int         saved = stdout_to_pipe (&out);
    log_sink_t *sink = log_sink_start (path, file);
    assert_non_null (sink);
    log_t log;
    log_init (&log, "hub", STDOUT_FILENO, false);
    log_info (&log, "before the rotation");
    assert_int_equal (rename (path, moved), 0);
    log_sink_reopen (sink);
    //  The reopen is the writer's business, done when it says so.
    char *seen = read_until (out, " reopened\n", 5000);
    assert_non_null (strstr (seen, " hub before the rotation\n"));
    assert_non_null (strstr (seen, " log --log-file "));
    free (seen);
    log_info (&log, "after the rotation");
    log_sink_stop (&sink, 5000);
    stdout_restore (saved);
    assert_null (sink);
    seen = read_until (out, "after the rotation", 5000);
    close (out);
    assert_non_null (strstr (seen, " hub after the rotation\n"));
    free (seen);

    char  old_text [4096] = "", new_text [4096] = "";
    FILE *f = fopen (moved, "r");
    assert_non_null (f);
    old_text [fread (old_text, 1, sizeof old_text - 1, f)] = 0;
    fclose (f);
    f = fopen (path, "r");
    assert_non_null (f);
    new_text [fread (new_text, 1, sizeof new_text - 1, f)] = 0;
    fclose (f);
    assert_non_null (strstr (old_text, " hub before the rotation\n"));
    assert_null (strstr (old_text, "after the rotation"));
    assert_non_null (strstr (new_text, " reopened\n"));
    assert_non_null (strstr (new_text, " hub after the rotation\n"));
    unlink (path);
    unlink (moved);
    rmdir (dir);
}

/*  stdout a pipe nobody reads: writers never wait, lines are dropped
    and counted, and stopping the sink waits no longer than its bound.  */
static void
test_stuck_sink_never_blocks (void **state)
{
    (void) state;
    signal (SIGPIPE, SIG_IGN);
    int         stuck;
    int         saved = stdout_to_pipe (&stuck);
    log_sink_t *sink = log_sink_start (NULL, -1);
    assert_non_null (sink);
    log_t log;
    log_init (&log, "gateway", STDOUT_FILENO, false);
    struct timespec start;
    clock_gettime (CLOCK_MONOTONIC, &start);
    //  Enough for the kernel pipes (ours up to 1 MiB, the stuck one 64 KiB).
    unsigned long lines = 0;
    while (log.dropped < 1000 && lines < 200000) {
        log_info (&log, "connection opened from 127.0.0.1:%lu (some clients)", lines);
        lines++;
    }
    long spent = elapsed_ms (&start);
    assert_true (log.dropped >= 1000);
    clock_gettime (CLOCK_MONOTONIC, &start);
    log_sink_stop (&sink, 300);
    long stop_ms = elapsed_ms (&start);
    stdout_restore (saved);
    //  Generous: the point is "not forever".
    assert_true (spent < 30000);
    assert_true (stop_ms >= 250 && stop_ms < 10000);
    //  The stuck writer gets EPIPE from here on and ends on its own.
    close (stuck);
}

int
main (void)
{
    //  A zone far from UTC (no tzdata needed), so that a stamp in UTC
    //  instead of local time shows.
    setenv ("TZ", "XST-5:30", 1);
    tzset ();
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_info_writes_one_line, pipe_setup, pipe_teardown),
        cmocka_unit_test_setup_teardown (test_info_with_verbose, pipe_setup, pipe_teardown),
        cmocka_unit_test_setup_teardown (test_debug_only_when_verbose, pipe_setup, pipe_teardown),
        cmocka_unit_test_setup_teardown (test_lines_are_separate, pipe_setup, pipe_teardown),
        cmocka_unit_test_setup_teardown (test_long_message_stays_one_line, pipe_setup,
                                         pipe_teardown),
        cmocka_unit_test_setup_teardown (test_long_name_is_cut, pipe_setup, pipe_teardown),
        cmocka_unit_test (test_unwritable_fd),
        cmocka_unit_test_setup_teardown (test_also_writes_to_a_file, pipe_setup, pipe_teardown),
        cmocka_unit_test (test_escape_controls),
        cmocka_unit_test (test_escape_cut),
        cmocka_unit_test_setup_teardown (test_lines_are_escaped, pipe_setup, pipe_teardown),
        cmocka_unit_test_setup_teardown (test_escaped_line_is_bounded, pipe_setup, pipe_teardown),
        cmocka_unit_test (test_full_pipe_drops_and_counts),
        cmocka_unit_test (test_open_file_regular_only),
        cmocka_unit_test (test_sink_copies_and_reopens),
        cmocka_unit_test (test_stuck_sink_never_blocks),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
