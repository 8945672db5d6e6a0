/* SPDX-License-Identifier: MIT */
/*  Unit tests for store: room files' names, appending, reading
    the tail of a room's file back, listing a data dir, preparing it.

    Every test works in a fresh directory made with mkdtemp under /tmp and
    removed by the teardown, whatever happened.                          */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "history.h"
#include "names.h"
#include "store.h"
#include "../remove_tree.h"

static char s_dir [64]; /* this test's directory, or "" */

/* ------------------------------------------------------------------ */
/*  The temporary directory                                            */

static int
dir_setup (void **state)
{
    (void) state;
    snprintf (s_dir, sizeof s_dir, "/tmp/tcpchat-store-XXXXXX");
    if (!mkdtemp (s_dir)) {
        s_dir [0] = 0;
        return -1;
    }
    return 0;
}

static int
dir_teardown (void **state)
{
    (void) state;
    if (*s_dir)
        remove_tree (s_dir);
    s_dir [0] = 0;
    return 0;
}

static char *
path_in (const char *name)
{
    static char path [1024];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    return path;
}

static void
write_file (const char *name, const char *bytes, size_t size)
{
    int fd = open (path_in (name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, bytes, size), (ssize_t) size);
    close (fd);
}

static void
write_str (const char *name, const char *text)
{
    write_file (name, text, strlen (text));
}

/*  The whole file, NUL terminated; *size its length.                   */
static char *
read_all (const char *name, size_t *size)
{
    FILE *file = fopen (path_in (name), "rb");
    assert_non_null (file);
    fseek (file, 0, SEEK_END);
    long length = ftell (file);
    fseek (file, 0, SEEK_SET);
    char *bytes = (char *) malloc ((size_t) length + 1);
    assert_non_null (bytes);
    assert_int_equal (fread (bytes, 1, (size_t) length, file), (size_t) length);
    bytes [length] = 0;
    fclose (file);
    if (size)
        *size = (size_t) length;
    return bytes;
}

static void
expect_file (const char *name, const char *want)
{
    size_t size;
    char  *got = read_all (name, &size);
    if (size != strlen (want) || memcmp (got, want, size) != 0) {
        print_error ("%s: got \"%s\", want \"%s\"\n", name, got, want);
        free (got);
        fail ();
    }
    free (got);
}

static void
expect_line (const history_t *history, size_t i, const char *want)
{
    size_t      len = 0;
    const char *line = history_line (history, i, &len);
    assert_non_null (line);
    if (len != strlen (want) || memcmp (line, want, len) != 0) {
        print_error ("history line %zu: got \"%.*s\", want \"%s\"\n", i, (int) len, line, want);
        fail ();
    }
}

/*  Loading at most max lines of room's file gives exactly these lines,
    oldest first (NULL terminated).                                      */
static void
expect_loaded_at (const char *room, size_t max, const char *const *lines)
{
    size_t count = 0;
    while (lines [count])
        count++;
    history_t *history = history_new (max);
    assert_int_equal (store_load (s_dir, room, max, history), count);
    assert_int_equal (history_count (history), count);
    for (size_t i = 0; i < count; i++)
        expect_line (history, i, lines [i]);
    history_destroy (&history);
}
#define expect_loaded(room, max, ...)                                                              \
    expect_loaded_at ((room), (max), (const char *const []){__VA_ARGS__, NULL})

/* ------------------------------------------------------------------ */
/*  Names                                                              */

/*  A room's file is its name and ".log", nothing escaped.              */
static void
test_path (void **state)
{
    (void) state;
    char path [64];
    assert_true (store_path ("/data", "general", path, sizeof path));
    assert_string_equal (path, "/data/general.log");
    assert_true (store_path ("/data", "Dev_Room-2", path, sizeof path));
    assert_string_equal (path, "/data/Dev_Room-2.log");
    assert_true (store_path ("/data", "-", path, sizeof path));
    assert_string_equal (path, "/data/-.log");
    char longest [ROOM_MAX_CHARS + 1];
    memset (longest, 'x', ROOM_MAX_CHARS);
    longest [ROOM_MAX_CHARS] = 0;
    assert_true (store_path ("/data", longest, path, sizeof path));
    assert_string_equal (path, "/data/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.log");
    //  "/data/ab.log" is 12 bytes and its NUL.
    errno = 0;
    assert_false (store_path ("/data", "ab", path, 12));
    assert_int_equal (errno, ENAMETOOLONG);
    assert_true (store_path ("/data", "ab", path, 13));
}

/*  A name that is no room's has no file: no path leads outside, to a
    hidden file, or into a subdirectory.                                 */
static void
test_path_refuses_non_room_names (void **state)
{
    (void) state;
    char longer [ROOM_MAX_CHARS + 2];
    memset (longer, 'x', ROOM_MAX_CHARS + 1);
    longer [ROOM_MAX_CHARS + 1] = 0;
    const char *bad [] = {"",      ".",   "..",  "../x",        "a/b",  "/etc/passwd", ".hidden",
                          "x.log", "a b", "%2F", "caf\xc3\xa9", "\x01", longer};
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char path [256] = "untouched";
        errno = 0;
        if (store_path ("/data", bad [i], path, sizeof path) || errno != EINVAL) {
            print_error ("store_path took \"%s\" as \"%s\"\n", bad [i], path);
            fail ();
        }
    }
}

/* ------------------------------------------------------------------ */
/*  Appending                                                          */

static void
test_append_one_line_each (void **state)
{
    (void) state;
    int fd = store_open (s_dir, "dev");
    assert_true (fd >= 0);
    assert_int_equal (store_append (fd, "[ts][a]:one", 11), 0);
    const char *two = "[ts][b]:two\tand caf\xc3\xa9";
    assert_int_equal (store_append (fd, two, strlen (two)), 0);
    //  Only len bytes: not up to a NUL, not beyond.
    assert_int_equal (store_append (fd, "three and more", 5), 0);
    close (fd);
    expect_file ("dev.log", "[ts][a]:one\n[ts][b]:two\tand caf\xc3\xa9\nthree\n");
    struct stat info;
    assert_int_equal (stat (path_in ("dev.log"), &info), 0);
    assert_int_equal (info.st_mode & 0777, 0640);
    //  Reopening appends.
    fd = store_open (s_dir, "dev");
    assert_true (fd >= 0);
    assert_int_equal (store_append (fd, "four", 4), 0);
    close (fd);
    expect_file ("dev.log", "[ts][a]:one\n[ts][b]:two\tand caf\xc3\xa9\nthree\nfour\n");
}

/*  The descriptor is not inherited by anything the server might exec.  */
static void
test_open_cloexec (void **state)
{
    (void) state;
    int fd = store_open (s_dir, "dev");
    assert_true (fd >= 0);
    assert_true (fcntl (fd, F_GETFD) & FD_CLOEXEC);
    close (fd);
}

/*  A file cut in the middle of a line (kill -9 during a write): opening
    ends that line, so the next one is not glued to it.                  */
/*  A torn last line is cut off, never ended: ended, it would read back
    later as a whole line nobody ever saw.                               */
static void
test_open_cuts_a_torn_line (void **state)
{
    (void) state;
    write_str ("dev.log", "[ts][a]:one\n[ts][a]:tw");
    int fd = store_open (s_dir, "dev");
    assert_true (fd >= 0);
    assert_int_equal (store_append (fd, "[ts][b]:three", 13), 0);
    close (fd);
    expect_file ("dev.log", "[ts][a]:one\n[ts][b]:three\n");
    //  Nothing whole at all: the file starts again.
    write_str ("torn.log", "[ts][a]:no newline");
    fd = store_open (s_dir, "torn");
    assert_true (fd >= 0);
    close (fd);
    expect_file ("torn.log", "");
    //  An empty file, or a whole one, is left as it is.
    write_str ("e.log", "");
    fd = store_open (s_dir, "e");
    assert_true (fd >= 0);
    close (fd);
    expect_file ("e.log", "");
    fd = store_open (s_dir, "dev");
    assert_true (fd >= 0);
    close (fd);
    expect_file ("dev.log", "[ts][a]:one\n[ts][b]:three\n");
}

/*  A hostile name opens nothing, creates nothing, inside or out.     */
static void
test_open_stays_inside (void **state)
{
    (void) state;
    errno = 0;
    assert_int_equal (store_open (s_dir, "../escaped"), -1);
    assert_int_equal (errno, EINVAL);
    char outside [128];
    snprintf (outside, sizeof outside, "%s/../escaped.log", s_dir);
    assert_int_equal (access (outside, F_OK), -1);
    assert_int_equal (store_open (s_dir, "a/b"), -1);
    history_t *history = history_new (10);
    assert_int_equal (store_load (s_dir, "..", 10, history), -1);
    assert_int_equal (errno, EINVAL);
    history_destroy (&history);
    assert_false (store_has_lines (s_dir, ".."));
    assert_int_equal (count_entries (s_dir), 0);
}

static void
test_open_fails (void **state)
{
    (void) state;
    char missing [128];
    snprintf (missing, sizeof missing, "%s/no/such/dir", s_dir);
    errno = 0;
    assert_int_equal (store_open (missing, "dev"), -1);
    assert_int_equal (errno, ENOENT);
    assert_int_equal (store_open (s_dir, ""), -1);
    //  A directory where the file should be.
    assert_int_equal (mkdir (path_in ("sub.log"), 0700), 0);
    assert_int_equal (store_open (s_dir, "sub"), -1);
}

static void
test_append_fails (void **state)
{
    (void) state;
    int fd = open ("/dev/full", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        errno = 0;
        assert_int_equal (store_append (fd, "line", 4), -1);
        assert_int_equal (errno, ENOSPC);
        close (fd);
    }
    int pipe_fds [2];
    assert_int_equal (pipe (pipe_fds), 0);
    close (pipe_fds [1]);
    assert_int_equal (store_append (pipe_fds [1], "line", 4), -1);
    close (pipe_fds [0]);
}

static volatile sig_atomic_t s_alarms;

/*  A bounded number of interruptions: under valgrind, signals this
    frequent could otherwise starve the write altogether.                */
static void
s_on_alarm (int sig)
{
    (void) sig;
    if (++s_alarms == 500) {
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer (ITIMER_REAL, &off, NULL);
    }
}

/*  A line far bigger than a pipe's buffer, written while a timer keeps
    interrupting the write (no SA_RESTART): each interruption after some
    bytes went through is a short write, and the line must still arrive
    whole, once, with its newline.                                       */
static void
test_append_short_writes (void **state)
{
    (void) state;
    int pipe_fds [2];
    assert_int_equal (pipe (pipe_fds), 0);
    fcntl (pipe_fds [1], F_SETPIPE_SZ, 4096);
    size_t size = 1 << 20;
    char  *line = (char *) malloc (size);
    assert_non_null (line);
    for (size_t i = 0; i < size; i++)
        line [i] = (char) ('a' + i % 26);
    fflush (NULL);
    pid_t child = fork ();
    assert_true (child >= 0);
    if (child == 0) {
        close (pipe_fds [0]);
        struct sigaction action;
        memset (&action, 0, sizeof action);
        action.sa_handler = s_on_alarm;  //  No SA_RESTART
        sigaction (SIGALRM, &action, NULL);
        struct itimerval every = {{0, 500}, {0, 500}};
        setitimer (ITIMER_REAL, &every, NULL);
        _exit (store_append (pipe_fds [1], line, size) == 0 ? 0 : 1);
    }
    close (pipe_fds [1]);
    char *got = (char *) malloc (size + 2);
    assert_non_null (got);
    size_t  have = 0;
    ssize_t n;
    size_t  room = size + 2;
    while (have < room &&
           (n = read (pipe_fds [0], got + have, room - have < 4096 ? room - have : 4096)) > 0) {
        have += (size_t) n;
        if (have % (16 * 4096) == 0)
            usleep (1000);  //  Let the writer block
    }
    close (pipe_fds [0]);
    int status = 0;
    assert_int_equal (waitpid (child, &status, 0), child);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    assert_int_equal (have, size + 1);
    assert_memory_equal (got, line, size);
    assert_int_equal (got [size], '\n');
    free (got);
    free (line);
}

/*  A write the file system cuts short and then refuses (here the file
    size limit; a full disk does the same): -1, and the partial line it
    left is ended by the next store_open, so later lines stay whole.     */
static void
test_append_cut_short (void **state)
{
    (void) state;
    //  The verdict comes back through a pipe, not the exit status: the
    //  limit also cuts whatever a wrapper (valgrind) writes to a file.
    int verdict [2];
    assert_int_equal (pipe (verdict), 0);
    fflush (NULL);
    pid_t child = fork ();
    assert_true (child >= 0);
    if (child == 0) {
        close (verdict [0]);
        signal (SIGXFSZ, SIG_IGN);
        struct rlimit limit = {10, 10};
        setrlimit (RLIMIT_FSIZE, &limit);
        int  fd = store_open (s_dir, "dev");
        int  rc = store_append (fd, "0123456789abcdef", 16);
        char ok = fd >= 0 && rc == -1 && errno == EFBIG ? 'y' : 'n';
        if (write (verdict [1], &ok, 1) != 1)
            _exit (2);
        _exit (0);
    }
    close (verdict [1]);
    char ok = 0;
    assert_int_equal (read (verdict [0], &ok, 1), 1);
    close (verdict [0]);
    assert_int_equal (waitpid (child, NULL, 0), child);
    assert_int_equal (ok, 'y');
    expect_file ("dev.log", "0123456789");
    int fd = store_open (s_dir, "dev");
    assert_true (fd >= 0);
    assert_int_equal (store_append (fd, "next", 4), 0);
    close (fd);
    expect_file ("dev.log", "next\n");
}

/* ------------------------------------------------------------------ */
/*  Loading                                                            */

static void
test_load_all_when_few (void **state)
{
    (void) state;
    write_str ("dev.log", "[ts][a]:one\n[ts][b]:two\n[ts][a]:three\n");
    expect_loaded ("dev", 10, "[ts][a]:one", "[ts][b]:two", "[ts][a]:three");
}

static void
test_load_the_tail (void **state)
{
    (void) state;
    char text [2000] = "";
    for (int i = 1; i <= 50; i++) {
        char line [32];
        snprintf (line, sizeof line, "line %d\n", i);
        strcat (text, line);
    }
    write_str ("dev.log", text);
    history_t *history = history_new (5);
    assert_int_equal (store_load (s_dir, "dev", 5, history), 5);
    assert_int_equal (history_count (history), 5);
    for (int i = 0; i < 5; i++) {
        char want [32];
        snprintf (want, sizeof want, "line %d", 46 + i);
        expect_line (history, (size_t) i, want);
    }
    history_destroy (&history);
    //  Exactly as many lines as asked for: all of them, the first too.
    history = history_new (50);
    assert_int_equal (store_load (s_dir, "dev", 50, history), 50);
    expect_line (history, 0, "line 1");
    expect_line (history, 49, "line 50");
    history_destroy (&history);
}

static void
test_load_capacity_zero (void **state)
{
    (void) state;
    write_str ("dev.log", "one\ntwo\n");
    expect_loaded ("dev", 0, NULL);
}

static void
test_load_missing_file (void **state)
{
    (void) state;
    history_t *history = history_new (10);
    assert_int_equal (store_load (s_dir, "nobody", 10, history), 0);
    char missing [128];
    snprintf (missing, sizeof missing, "%s/no/such/dir", s_dir);
    assert_int_equal (store_load (missing, "dev", 10, history), 0);
    assert_int_equal (history_count (history), 0);
    //  An empty file.
    write_str ("empty.log", "");
    assert_int_equal (store_load (s_dir, "empty", 10, history), 0);
    assert_int_equal (history_count (history), 0);
    history_destroy (&history);
}

/*  The last line lost its '\n' (killed mid-write): it is kept.          */
/*  A last line without its newline was torn (killed mid-write, disk
    full): it is never shown, and does not take a place in the tail.     */
static void
test_load_drops_torn_last_line (void **state)
{
    (void) state;
    write_str ("dev.log", "one\ntwo\nthr");
    expect_loaded ("dev", 10, "one", "two");
    expect_loaded ("dev", 2, "one", "two");
    expect_loaded ("dev", 1, "two");
    //  No newline at all.
    write_str ("one.log", "alone");
    expect_loaded ("one", 2, NULL);
}

/*  Lines from disk are cleaned as typed lines are: a file written by
    anyone cannot put escapes or control bytes on a joiner's terminal.   */
static void
test_load_cleans_lines (void **state)
{
    (void) state;
    write_str ("dev.log", "[ts][a]:\033[2J\033]0;owned\007wiped\n"
                          "[ts][b]:bell\007\r\bok\n"
                          "[ts][c]:bad \xff byte\n"
                          "\033[H\n");
    expect_loaded ("dev", 10, "[ts][a]:wiped", "[ts][b]:bellok", "[ts][c]:bad \xef\xbf\xbd byte");
    //  A long line (past the length a typed line is cut at) stays whole,
    //  a character across a piece boundary included.
    char *long_line = malloc (12001);
    assert_non_null (long_line);
    memset (long_line, 'a', 12000);
    memcpy (long_line + 1023, "\xc3\xa9", 2);
    memcpy (long_line + 5000, "\033[31m", 5);
    long_line [12000] = 0;
    char *file = malloc (12002);
    assert_non_null (file);
    snprintf (file, 12002, "%s\n", long_line);
    write_str ("long.log", file);
    history_t *history = history_new (10);
    assert_int_equal (store_load (s_dir, "long", 10, history), 1);
    size_t      len = 0;
    const char *got = history_line (history, 0, &len);
    assert_int_equal (len, 12000 - 5);
    assert_memory_equal (got + 1023, "\xc3\xa9", 2);
    assert_null (memchr (got, '\033', len));
    history_destroy (&history);
    free (long_line);
    free (file);
}

/*  A symlink named like a room's file is refused, for reading and for
    writing: following it would show clients a file from outside the
    directory, and append to it.                                         */
static void
test_symlink_refused (void **state)
{
    (void) state;
    write_str ("outside.txt", "secret\n");
    char target [1024];
    snprintf (target, sizeof target, "%s", path_in ("outside.txt"));
    assert_int_equal (symlink (target, path_in ("dev.log")), 0);
    history_t *history = history_new (10);
    errno = 0;
    assert_int_equal (store_load (s_dir, "dev", 10, history), -1);
    assert_int_equal (errno, STORE_NOT_REGULAR);
    assert_int_equal (history_count (history), 0);
    history_destroy (&history);
    errno = 0;
    assert_int_equal (store_open (s_dir, "dev"), -1);
    assert_int_equal (errno, STORE_NOT_REGULAR);
    assert_false (store_has_lines (s_dir, "dev"));
    expect_file ("outside.txt", "secret\n");
    assert_string_equal (store_strerror (STORE_NOT_REGULAR),
                         "not a regular file (a symlink, FIFO or device): refused");
}

/*  A FIFO named like a room's file: refused at once, never waited on
    (the test would hang here on the old code: an alarm fails it).       */
static void
test_fifo_refused (void **state)
{
    (void) state;
    assert_int_equal (mkfifo (path_in ("dev.log"), 0600), 0);
    signal (SIGALRM, SIG_DFL);
    alarm (10);
    history_t *history = history_new (10);
    errno = 0;
    assert_int_equal (store_load (s_dir, "dev", 10, history), -1);
    assert_int_equal (errno, STORE_NOT_REGULAR);
    history_destroy (&history);
    errno = 0;
    assert_int_equal (store_open (s_dir, "dev"), -1);
    assert_int_equal (errno, STORE_NOT_REGULAR);
    assert_false (store_has_lines (s_dir, "dev"));
    zlist_t *rooms = store_list (s_dir);
    assert_non_null (rooms);
    assert_int_equal (zlist_size (rooms), 0);
    zlist_destroy (&rooms);
    rooms = store_list_refused (s_dir);
    assert_non_null (rooms);
    assert_int_equal (zlist_size (rooms), 1);
    assert_string_equal ((const char *) zlist_first (rooms), "dev");
    zlist_destroy (&rooms);
    alarm (0);
}

static void
test_load_skips_empty_lines (void **state)
{
    (void) state;
    write_str ("dev.log", "\n\none\n\n\ntwo\n\n\n");
    expect_loaded ("dev", 10, "one", "two");
    //  Empty lines do not count towards the lines asked for.
    expect_loaded ("dev", 2, "one", "two");
    write_str ("blank.log", "\n\n\n");
    expect_loaded ("blank", 2, NULL);
}

/*  Lines too long to be ours are skipped, wherever they are; long lines
    that are not too long survive being split between reads.            */
static void
test_load_long_lines (void **state)
{
    (void) state;
    size_t longest = STORE_LINE_MAX;
    size_t size = 5 * (STORE_LINE_MAX + 2) + 100;
    char  *text = (char *) malloc (size);
    assert_non_null (text);
    size_t n = 0;
    n += (size_t) sprintf (text + n, "first\n");
    memset (text + n, 'x', longest + 1); /* too long */
    n += longest + 1;
    text [n++] = '\n';
    memset (text + n, 'y', longest); /* just fits */
    n += longest;
    text [n++] = '\n';
    n += (size_t) sprintf (text + n, "middle\n");
    memset (text + n, 'z', 40000); /* crosses a read boundary */
    n += 40000;
    text [n++] = '\n';
    memset (text + n, 'w', longest + 10); /* too long, and last, no '\n' */
    n += longest + 10;
    write_file ("dev.log", text, n);

    history_t *history = history_new (100);
    assert_int_equal (store_load (s_dir, "dev", 100, history), 4);
    expect_line (history, 0, "first");
    size_t      len;
    const char *line = history_line (history, 1, &len);
    assert_int_equal (len, longest);
    assert_true (line [0] == 'y' && line [len - 1] == 'y');
    expect_line (history, 2, "middle");
    line = history_line (history, 3, &len);
    assert_int_equal (len, 40000);
    assert_true (line [0] == 'z' && line [len - 1] == 'z');
    history_destroy (&history);

    //  Asked for 2: the two last that count.
    history = history_new (2);
    assert_int_equal (store_load (s_dir, "dev", 2, history), 2);
    expect_line (history, 0, "middle");
    line = history_line (history, 1, &len);
    assert_int_equal (len, 40000);
    history_destroy (&history);

    //  One huge line and nothing else.
    memset (text, 'q', size);
    write_file ("huge.log", text, size);
    expect_loaded ("huge", 10, NULL);
    free (text);
}

static void
test_load_100k_lines (void **state)
{
    (void) state;
    enum { LINES = 100000 };
    FILE *file = fopen (path_in ("big.log"), "w");
    assert_non_null (file);
    for (int i = 0; i < LINES; i++)
        fprintf (file, "[2024-01-01 10:00:00][user%d]:message number %d\n", i % 7, i);
    fclose (file);
    history_t *history = history_new (1000);
    assert_int_equal (store_load (s_dir, "big", 1000, history), 1000);
    assert_int_equal (history_count (history), 1000);
    for (int i = 0; i < 1000; i += 111) {
        int  number = LINES - 1000 + i;
        char want [80];
        snprintf (want, sizeof want, "[2024-01-01 10:00:00][user%d]:message number %d", number % 7,
                  number);
        expect_line (history, (size_t) i, want);
    }
    expect_line (history, 999, "[2024-01-01 10:00:00][user4]:message number 99999");
    history_destroy (&history);
    //  All of it, when asked.
    history = history_new (LINES);
    assert_int_equal (store_load (s_dir, "big", LINES, history), LINES);
    expect_line (history, 0, "[2024-01-01 10:00:00][user0]:message number 0");
    history_destroy (&history);
}

/*  Only the tail is read: 8 GiB of hole before the last lines would take
    minutes to read through, and costs nothing when skipped.            */
static void
test_load_reads_only_the_tail (void **state)
{
    (void) state;
    int fd = open (path_in ("sparse.log"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true (fd >= 0);
    off_t hole = (off_t) 8 << 30;
    if (ftruncate (fd, hole) != 0) {
        close (fd);
        skip ();  //  No sparse files here
    }
    const char *tail = "\nfour\nfive\nsix\n";
    assert_int_equal (pwrite (fd, tail, strlen (tail), hole), (ssize_t) strlen (tail));
    close (fd);
    struct timespec start, end;
    clock_gettime (CLOCK_MONOTONIC, &start);
    history_t *history = history_new (3);
    assert_int_equal (store_load (s_dir, "sparse", 3, history), 3);
    clock_gettime (CLOCK_MONOTONIC, &end);
    expect_line (history, 0, "four");
    expect_line (history, 2, "six");
    history_destroy (&history);
    double seconds = (double) (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    assert_true (seconds < 2.0);
}

static void
test_load_read_error (void **state)
{
    (void) state;
    assert_int_equal (mkdir (path_in ("sub.log"), 0700), 0);
    history_t *history = history_new (10);
    assert_int_equal (store_load (s_dir, "sub", 10, history), -1);
    assert_int_equal (history_count (history), 0);
    history_destroy (&history);
}

/*  What store_append writes, store_load reads back, byte for byte.     */
static void
test_append_then_load (void **state)
{
    (void) state;
    const char *lines [] = {
        "[2024-01-01 10:00:00][alice]:hello",
        "[2024-01-01 10:00:01][b\xc3\xb6"
        "b]:tab\there, 100%s %n",
        "[2024-01-01 10:00:02][carol]:   spaced   ",
    };
    int fd = store_open (s_dir, "Dev_Room-2");
    assert_true (fd >= 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal (store_append (fd, lines [i], strlen (lines [i])), 0);
    close (fd);
    history_t *history = history_new (10);
    assert_int_equal (store_load (s_dir, "Dev_Room-2", 10, history), 3);
    for (size_t i = 0; i < 3; i++)
        expect_line (history, i, lines [i]);
    history_destroy (&history);
}

static void
test_has_lines (void **state)
{
    (void) state;
    assert_false (store_has_lines (s_dir, "dev"));
    write_str ("dev.log", "");
    assert_false (store_has_lines (s_dir, "dev"));
    write_str ("dev.log", "x\n");
    assert_true (store_has_lines (s_dir, "dev"));
    assert_int_equal (mkdir (path_in ("sub.log"), 0700), 0);
    assert_false (store_has_lines (s_dir, "sub"));
}

/* ------------------------------------------------------------------ */
/*  Listing                                                            */

static void
test_list_rooms_sorted (void **state)
{
    (void) state;
    write_str ("dev.log", "x\n");
    write_str ("Zoo.log", "x\n");
    write_str ("general.log", "");
    write_str ("Dev_Room-2.log", "x\n");
    write_str ("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.log", "x\n");
    //  Junk: not ours, or named for no valid room.
    write_str (".tcpchat-probe-123", "");
    write_str ("notes.txt", "x\n");
    write_str ("dev.log.bak", "x\n");
    write_str ("dev.LOG", "x\n");
    write_str ("a%2Fb.log", "x\n");
    write_str ("%2E%2E.log", "x\n");
    write_str ("a.b.log", "x\n");
    write_str ("a b.log", "x\n");
    write_str ("caf\xc3\xa9.log", "x\n");
    write_str ("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.log", "x\n"); /* 33 */
    write_str (".log", "x\n");
    write_str ("..log", "x\n");
    assert_int_equal (mkdir (path_in ("sub.log"), 0700), 0);
    assert_int_equal (mkdir (path_in ("a.b.log.d"), 0700), 0);
    assert_int_equal (symlink ("dev.log", path_in ("link.log")), 0);
    assert_int_equal (symlink ("dev.log", path_in ("a%2Fb-link.log")), 0);

    zlist_t *rooms = store_list (s_dir);
    assert_non_null (rooms);
    const char *want [] = {"Dev_Room-2", "Zoo", "dev", "general",
                           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
    assert_int_equal (zlist_size (rooms), 5);
    size_t i = 0;
    for (const char *room = (const char *) zlist_first (rooms); room;
         room = (const char *) zlist_next (rooms))
        assert_string_equal (room, want [i++]);
    zlist_destroy (&rooms);
    //  The link and the directory are refused, for the log; what is named
    //  for no room is not even that.
    rooms = store_list_refused (s_dir);
    assert_non_null (rooms);
    assert_int_equal (zlist_size (rooms), 2);
    assert_string_equal ((const char *) zlist_first (rooms), "link");
    assert_string_equal ((const char *) zlist_next (rooms), "sub");
    zlist_destroy (&rooms);
}

static void
test_list_empty_and_missing (void **state)
{
    (void) state;
    zlist_t *rooms = store_list (s_dir);
    assert_non_null (rooms);
    assert_int_equal (zlist_size (rooms), 0);
    zlist_destroy (&rooms);
    errno = 0;
    assert_null (store_list (path_in ("missing")));
    assert_int_equal (errno, ENOENT);
}

/*  The probe store_prepare_dir leaves behind if killed is not a room.  */
static void
test_list_skips_the_probe (void **state)
{
    (void) state;
    char error [256];
    assert_true (store_prepare_dir (s_dir, error, sizeof error));
    char probe [64];
    snprintf (probe, sizeof probe, ".tcpchat-probe-%ld", (long) getpid ());
    write_str (probe, "");
    zlist_t *rooms = store_list (s_dir);
    assert_non_null (rooms);
    assert_int_equal (zlist_size (rooms), 0);
    zlist_destroy (&rooms);
}

/* ------------------------------------------------------------------ */
/*  Preparing the directory                                            */

static void
test_prepare_fresh_dir (void **state)
{
    (void) state;
    char  error [256] = "";
    char *fresh = path_in ("fresh");
    assert_true (store_prepare_dir (fresh, error, sizeof error));
    struct stat info;
    assert_int_equal (stat (fresh, &info), 0);
    assert_true (S_ISDIR (info.st_mode));
    assert_int_equal (count_entries (fresh), 0); /* no probe left */
}

static void
test_prepare_existing_dir (void **state)
{
    (void) state;
    write_str ("dev.log", "kept\n");
    char error [256] = "";
    assert_true (store_prepare_dir (s_dir, error, sizeof error));
    assert_int_equal (count_entries (s_dir), 1);
    expect_file ("dev.log", "kept\n");
}

static void
test_prepare_refuses (void **state)
{
    (void) state;
    char error [256] = "";
    write_str ("file", "x");
    assert_false (store_prepare_dir (path_in ("file"), error, sizeof error));
    assert_string_equal (error, "not a directory");

    assert_false (store_prepare_dir ("/proc/self/x", error, sizeof error));
    assert_true (strncmp (error, "cannot create it: ", 18) == 0);

    char deep [128];
    snprintf (deep, sizeof deep, "%s/no/such", s_dir);
    assert_false (store_prepare_dir (deep, error, sizeof error));
    assert_string_equal (error, "cannot create it: No such file or directory");

    //  Read-only for everyone but root, who may write anywhere.
    if (geteuid () != 0) {
        char locked [128];
        snprintf (locked, sizeof locked, "%s/locked", s_dir);
        assert_int_equal (mkdir (locked, 0500), 0);
        assert_false (store_prepare_dir (locked, error, sizeof error));
        assert_true (strncmp (error, "not writable: ", 14) == 0);
        chmod (locked, 0700);
    }
}

int
main (void)
{
#define STORE_TEST(f) cmocka_unit_test_setup_teardown (f, dir_setup, dir_teardown)
    const struct CMUnitTest tests [] = {
        STORE_TEST (test_path),
        STORE_TEST (test_path_refuses_non_room_names),
        STORE_TEST (test_append_one_line_each),
        STORE_TEST (test_open_cloexec),
        STORE_TEST (test_open_cuts_a_torn_line),
        STORE_TEST (test_open_stays_inside),
        STORE_TEST (test_open_fails),
        STORE_TEST (test_append_fails),
        STORE_TEST (test_append_short_writes),
        STORE_TEST (test_append_cut_short),
        STORE_TEST (test_load_all_when_few),
        STORE_TEST (test_load_the_tail),
        STORE_TEST (test_load_capacity_zero),
        STORE_TEST (test_load_missing_file),
        STORE_TEST (test_load_drops_torn_last_line),
        STORE_TEST (test_load_cleans_lines),
        STORE_TEST (test_symlink_refused),
        STORE_TEST (test_fifo_refused),
        STORE_TEST (test_load_skips_empty_lines),
        STORE_TEST (test_load_long_lines),
        STORE_TEST (test_load_100k_lines),
        STORE_TEST (test_load_reads_only_the_tail),
        STORE_TEST (test_load_read_error),
        STORE_TEST (test_append_then_load),
        STORE_TEST (test_has_lines),
        STORE_TEST (test_list_rooms_sorted),
        STORE_TEST (test_list_empty_and_missing),
        STORE_TEST (test_list_skips_the_probe),
        STORE_TEST (test_prepare_fresh_dir),
        STORE_TEST (test_prepare_existing_dir),
        STORE_TEST (test_prepare_refuses),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
