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
#include <time.h>
#include <unistd.h>
#include "log.h"

#define STAMP_LEN 19            /* "YYYY-MM-DD HH:MM:SS" */

static int s_pipe [2] = { -1, -1 };

static int pipe_setup (void **state)
{
    (void) state;
    if (pipe2 (s_pipe, O_CLOEXEC) != 0)
        return -1;
    //  Reads never wait: whatever log_* wrote is already in the pipe.
    return fcntl (s_pipe [0], F_SETFL, O_NONBLOCK) == 0? 0: -1;
}

static int pipe_teardown (void **state)
{
    (void) state;
    close (s_pipe [0]);
    close (s_pipe [1]);
    s_pipe [0] = s_pipe [1] = -1;
    return 0;
}

/*  Everything in the pipe now, NUL terminated (caller frees); *len set. */
static char *drain (size_t *len)
{
    size_t cap = 8192, n = 0;
    char *data = malloc (cap + 1);
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

static void format_stamp (time_t t, char out [STAMP_LEN + 1])
{
    struct tm tm;
    localtime_r (&t, &tm);
    assert_int_equal (strftime (out, STAMP_LEN + 1, "%Y-%m-%d %H:%M:%S", &tm), STAMP_LEN);
}

/*  line holds a "YYYY-MM-DD HH:MM:SS" of a second in [from, to].         */
static void assert_stamp_between (const char *line, time_t from, time_t to)
{
    for (int i = 0; i < STAMP_LEN; i++) {
        char c = line [i];
        bool ok = (i == 4 || i == 7)? c == '-'
                : i == 10?            c == ' '
                : (i == 13 || i == 16)? c == ':'
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
static void assert_one_line (time_t from, time_t to, const char *expected)
{
    size_t len;
    char *data = drain (&len);
    size_t want = STAMP_LEN + 1 + strlen (expected) + 1;
    if (len != want || data [len - 1] != '\n' || memchr (data, '\n', len) != data + len - 1
        || data [STAMP_LEN] != ' ' || memcmp (data + STAMP_LEN + 1, expected, strlen (expected)))
        fail_msg ("expected \"<stamp> %s\\n\", got \"%s\"", expected, data);
    assert_stamp_between (data, from, to);
    free (data);
}

static void assert_pipe_empty (void)
{
    size_t len;
    char *data = drain (&len);
    if (len)
        fail_msg ("expected nothing, got \"%s\"", data);
    free (data);
}

/* ------------------------------------------------------------------ */

static void test_info_writes_one_line (void **state)
{
    (void) state;
    log_t log;
    log_init (&log, "room[general]", s_pipe [1], false);
    time_t from = time (NULL);
    log_info (&log, "%s joined (%d members)", "alice", 2);
    time_t to = time (NULL);
    assert_one_line (from, to, "room[general] alice joined (2 members)");

    from = time (NULL);
    log_info (&log, "started");
    to = time (NULL);
    assert_one_line (from, to, "room[general] started");
}

static void test_info_with_verbose (void **state)
{
    (void) state;
    log_t log;
    log_init (&log, "hub", s_pipe [1], true);
    time_t from = time (NULL);
    log_info (&log, "room %s created (%zu rooms)", "dev", (size_t) 2);
    time_t to = time (NULL);
    assert_one_line (from, to, "hub room dev created (2 rooms)");
}

static void test_debug_only_when_verbose (void **state)
{
    (void) state;
    log_t quiet, loud;
    log_init (&quiet, "gateway", s_pipe [1], false);
    log_init (&loud, "gateway", s_pipe [1], true);

    log_debug (&quiet, "line from %s (%d bytes)", "bob", 5);
    assert_pipe_empty ();

    time_t from = time (NULL);
    log_debug (&loud, "line from %s (%d bytes)", "bob", 5);
    time_t to = time (NULL);
    assert_one_line (from, to, "gateway line from bob (5 bytes)");

    log_debug (&quiet, "still nothing");
    assert_pipe_empty ();
}

static void test_lines_are_separate (void **state)
{
    (void) state;
    log_t log;
    log_init (&log, "gateway", s_pipe [1], true);
    log_info (&log, "one");
    log_debug (&log, "two");
    log_info (&log, "three");
    size_t len;
    char *data = drain (&len);
    //  "<stamp> gateway one\n<stamp> gateway two\n<stamp> gateway three\n"
    const char *words [] = { "one", "two", "three" };
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
static void test_long_message_stays_one_line (void **state)
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
    char *data = drain (&len);
    assert_true (len > STAMP_LEN + 20);
    assert_int_equal (data [len - 1], '\n');
    assert_true (memchr (data, '\n', len) == data + len - 1);
    assert_memory_equal (data + STAMP_LEN, " room[general] xxxx", 19);
    free (data);
}

/*  A name too long for the log keeps a prefix, never overflows.         */
static void test_long_name_is_cut (void **state)
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
    char *data = drain (&len);
    assert_int_equal (data [len - 1], '\n');
    assert_true (memchr (data, '\n', len) == data + len - 1);
    assert_memory_equal (data + len - 4, " ok\n", 4);
    free (data);
}

/*  A log that cannot be written is not an error (nothing to assert but
    that it returns).                                                   */
static void test_unwritable_fd (void **state)
{
    (void) state;
    log_t log;
    log_init (&log, "hub", -1, true);
    log_info (&log, "into the void");
    log_debug (&log, "also");
    int fds [2];
    assert_int_equal (pipe (fds), 0);
    close (fds [1]);
    log_init (&log, "hub", fds [0], true);     /* read end: write fails */
    log_info (&log, "nope");
    close (fds [0]);
}

/*  --log-file: each line goes to stdout and the file alike, appended;
    debug lines follow --verbose in both.                                 */
static void test_also_writes_to_a_file (void **state)
{
    (void) state;
    char path [] = "/tmp/test_log_XXXXXX";
    int file = mkstemp (path);
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
    char *out = drain (&len);
    char text [512] = "";
    FILE *in = fopen (path, "r");
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

int main (void)
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
        cmocka_unit_test_setup_teardown (test_long_message_stays_one_line, pipe_setup, pipe_teardown),
        cmocka_unit_test_setup_teardown (test_long_name_is_cut, pipe_setup, pipe_teardown),
        cmocka_unit_test (test_unwritable_fd),
        cmocka_unit_test_setup_teardown (test_also_writes_to_a_file, pipe_setup, pipe_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
