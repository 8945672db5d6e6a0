/* SPDX-License-Identifier: MIT */
/*  log: one line per event, under the actor's own name. See log.h.  */
#include "log.h"
#include "clean.h"
#include "config.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

//  Room at the start of a line for the stamp and the actor's name
//  (LOG_NAME_SIZE): ~70 bytes.
#define PREFIX_MAX  256
//  A message as formatted, before escaping: escapes may lengthen it, and
//  the line (LOG_LINE_MAX) cuts what does not fit.
#define MESSAGE_MAX 1024
//  "N log lines dropped\n".
#define DROPPED_MAX 64
//  "\xNN" and its NUL.
#define HEX_SIZE    5

void
log_init (log_t *log, const char *name, int fd, bool verbose)
{
    snprintf (log->name, sizeof log->name, "%s", name);
    log->fd = fd;
    log->file_fd = -1;
    log->verbose = verbose;
    log->dropped = 0;
}

void
log_also (log_t *log, int file_fd)
{
    log->file_fd = file_fd;
}

void
log_setup (log_t *log, const config_t *config, const char *format, ...)
{
    char    name [sizeof log->name];
    va_list args;
    va_start (args, format);
    vsnprintf (name, sizeof name, format, args);
    va_end (args);
    log_init (log, name, STDOUT_FILENO, config->verbose);
    log_also (log, config->log_fd);
}

//  Characters that reorder or break what a terminal or a log viewer shows.
static bool
s_escaped_char (int32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
           cp == 0x2028 || cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

//  The escape for one ASCII byte, or NULL when it stands for itself.
static const char *
s_ascii_escape (unsigned char c, char hex [HEX_SIZE])
{
    if (c == '\\')
        return "\\\\";
    if (c == '\t')
        return "\\t";
    if (c == '\r')
        return "\\r";
    if (c == '\n')
        return "\\n";
    if (c < 0x20 || c == 0x7F) {
        snprintf (hex, HEX_SIZE, "\\x%02x", c);
        return hex;
    }
    return NULL;
}

size_t
log_escape (const char *in, size_t len, char *out, size_t cap)
{
    size_t i = 0, o = 0;
    while (i < len) {
        unsigned char c = (unsigned char) in [i];
        char          hex [HEX_SIZE];
        const char   *unit = NULL;
        size_t        n = 1;
        int32_t       cp = c;
        if (c < 0x80)
            unit = s_ascii_escape (c, hex);
        else
            n = utf8_decode (in + i, len - i, &cp);
        if (cp < 0 || s_escaped_char (cp)) {
            //  Every byte of it as \xNN
            if (o + 4 * n >= cap)
                break;
            for (size_t k = 0; k < n; k++, o += 4)
                snprintf (out + o, HEX_SIZE, "\\x%02x", (unsigned char) in [i + k]);
        } else {
            size_t unit_len = unit ? strlen (unit) : n;
            if (o + unit_len >= cap)
                break;
            memcpy (out + o, unit ? unit : in + i, unit_len);
            o += unit_len;
        }
        i += n;
    }
    out [o] = '\0';
    return o;
}

static size_t
s_prefix (const log_t *log, char *line, size_t size)
{
    time_t    now = time (NULL);
    struct tm tm;
    localtime_r (&now, &tm);
    size_t len = strftime (line, size, "%Y-%m-%d %H:%M:%S ", &tm);
    int    n = snprintf (line + len, size - len, "%s ", log->name);
    return len + (n > 0 ? (size_t) n : 0);
}

static void
s_log_write (const log_t *log, const char *format, va_list args)
{
    //  Callers hold their log_t as const; the drop count is bookkeeping
    //  of the one thread that owns this log_t, so it is kept here.
    log_t *self = (log_t *) log;
    char   raw [MESSAGE_MAX];
    int    raw_len = vsnprintf (raw, sizeof raw, format, args);
    if (raw_len < 0)
        raw_len = 0;
    if ((size_t) raw_len >= sizeof raw)
        raw_len = sizeof raw - 1;

    char   line [LOG_LINE_MAX];
    size_t len = 0;
    if (self->dropped) {
        len = s_prefix (log, line, PREFIX_MAX);
        len += snprintf (line + len, DROPPED_MAX, "%lu log line%s dropped\n", self->dropped,
                         self->dropped == 1 ? "" : "s");
    }
    len += s_prefix (log, line + len, PREFIX_MAX);
    len += log_escape (raw, (size_t) raw_len, line + len, sizeof line - len - 1);
    line [len++] = '\n';
    //  One write(2) under PIPE_BUF: the whole line gets in, or nothing.
    //  A line that cannot be written is counted, never waited for.
    if (write (log->fd, line, len) == (ssize_t) len)
        self->dropped = 0;
    else
        self->dropped++;
    if (log->file_fd >= 0)
        (void) !write (log->file_fd, line, len);
}

void
log_info (const log_t *log, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_log_write (log, format, args);
    va_end (args);
}

void
log_debug (const log_t *log, const char *format, ...)
{
    if (!log->verbose)
        return;
    va_list args;
    va_start (args, format);
    s_log_write (log, format, args);
    va_end (args);
}

//  ---------------------------------------------------------------------
//  --log-file

static const char *
s_file_kind (mode_t mode)
{
    return S_ISDIR (mode)    ? "a directory"
           : S_ISFIFO (mode) ? "a FIFO"
           : S_ISCHR (mode)  ? "a character device"
           : S_ISBLK (mode)  ? "a block device"
           : S_ISSOCK (mode) ? "a socket"
                             : "not a regular file";
}

int
log_open_file (const char *path, char *error, size_t size)
{
    //  Checked before opening too, as opening a FIFO or a device can
    //  have effects of its own; O_NONBLOCK covers the race in between.
    struct stat st;
    if (stat (path, &st) == 0 && !S_ISREG (st.st_mode)) {
        snprintf (error, size, "%s, not a regular file", s_file_kind (st.st_mode));
        return -1;
    }
    int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0640);
    if (fd < 0) {
        snprintf (error, size, "%s", strerror (errno));
        return -1;
    }
    if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
        snprintf (error, size, "%s, not a regular file", s_file_kind (st.st_mode));
        close (fd);
        return -1;
    }
    return fd;
}

//  ---------------------------------------------------------------------
//  The sink: one writer thread. It shares no memory with main: it owns
//  writer_t, and main only holds the thread and the write end of the
//  control pipe.

#define SINK_PIPE_BYTES (1024 * 1024)
#define SINK_CHUNK      65536

struct log_sink_t {
    pthread_t thread;
    int       control; /* write end: 'R' reopen, 'S' report */
};

typedef struct {
    int      in;                      /* read end of descriptor 1's pipe */
    int      control;                 /* read end of the control pipe */
    int      out;                     /* the real stdout, or -1 */
    int      file;                    /* --log-file, or -1 */
    char     path [CONFIG_PATH_SIZE]; /* --log-file */
    log_t    log;                     /* the sink's own lines go to out and file directly */
    uint64_t lines, bytes;
    char     carry [SINK_CHUNK]; /* bytes read after the last '\n' */
    size_t   carried;
} writer_t;

//  Writes it all, waiting as long as the sink does: this thread is the
//  one place where waiting on a stuck sink is harmless.
static void
s_write_all (int fd, const char *p, size_t n)
{
    while (fd >= 0 && n > 0) {
        ssize_t done = write (fd, p, n);
        if (done < 0 && errno == EINTR)
            continue;
        if (done < 0 && errno == EAGAIN) {
            struct pollfd wait = {.fd = fd, .events = POLLOUT};
            poll (&wait, 1, 1000);
            continue;
        }
        if (done <= 0)
            return;
        p += done;
        n -= (size_t) done;
    }
}

static void
s_writer_put (writer_t *self, const char *p, size_t n)
{
    s_write_all (self->out, p, n);
    s_write_all (self->file, p, n);
    self->bytes += n;
    for (size_t i = 0; i < n; i++)
        self->lines += p [i] == '\n';
}

//  The sink's own line, in the same format as everyone's.
static void s_writer_say (writer_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
static void
s_writer_say (writer_t *self, const char *format, ...)
{
    char    text [MESSAGE_MAX];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    char   line [LOG_LINE_MAX];
    size_t len = s_prefix (&self->log, line, PREFIX_MAX);
    len += log_escape (text, strlen (text), line + len, sizeof line - len - 1);
    line [len++] = '\n';
    s_writer_put (self, line, len);
}

static void
s_writer_reopen (writer_t *self)
{
    if (!*self->path)
        return; /* no --log-file: nothing to reopen */
    char error [LOG_REASON_SIZE];
    int  fd = log_open_file (self->path, error, sizeof error);
    if (fd < 0) {
        s_writer_say (self, "E: cannot reopen --log-file %s: %s (still writing the old file)",
                      self->path, error);
        return;
    }
    close (self->file);
    self->file = fd;
    s_writer_say (self, "--log-file %s reopened", self->path);
}

//  Whole lines go out; a line's start waits in carry for its end, so
//  that a reopen never splits a line between two files.
static bool
s_writer_drain (writer_t *self)
{
    char    chunk [SINK_CHUNK];
    ssize_t n = read (self->in, chunk, sizeof chunk);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN;
    if (n == 0)
        return false;
    size_t      got = (size_t) n;
    const char *last = memrchr (chunk, '\n', got);
    if (!last || self->carried + got > sizeof self->carry) {
        //  No end of line yet: keep it, unless the carry would overflow
        //  (nobody writes lines that long: pass it on as it is).
        if (self->carried + got <= sizeof self->carry) {
            memcpy (self->carry + self->carried, chunk, got);
            self->carried += got;
            return true;
        }
        s_writer_put (self, self->carry, self->carried);
        s_writer_put (self, chunk, got);
        self->carried = 0;
        return true;
    }
    size_t head = (size_t) (last - chunk) + 1;
    s_writer_put (self, self->carry, self->carried);
    s_writer_put (self, chunk, head);
    self->carried = got - head;
    memcpy (self->carry, chunk + head, self->carried);
    return true;
}

static void *
s_writer_run (void *arg)
{
    writer_t *self = (writer_t *) arg;
    bool      open = true;
    while (open) {
        struct pollfd fds [2] = {{.fd = self->in, .events = POLLIN},
                                 {.fd = self->control, .events = POLLIN}};
        if (poll (fds, 2, -1) < 0)
            continue;
        //  Lines first: main logs why before it asks for a reopen.
        if (fds [0].revents)
            open = s_writer_drain (self);
        if (fds [1].revents) {
            char request;
            if (read (self->control, &request, 1) == 1) {
                if (request == 'R')
                    s_writer_reopen (self);
                else
                    s_writer_say (self, "%" PRIu64 " lines (%" PRIu64 " bytes) written",
                                  self->lines, self->bytes);
            }
        }
    }
    s_write_all (self->out, self->carry, self->carried);
    s_write_all (self->file, self->carry, self->carried);
    close (self->in);
    close (self->control);
    if (self->out >= 0)
        close (self->out);
    if (self->file >= 0)
        close (self->file);
    free (self);
    return NULL;
}

log_sink_t *
log_sink_start (const char *path, int file)
{
    int data [2], control [2];
    if (pipe2 (data, O_CLOEXEC) != 0)
        return NULL;
    if (pipe2 (control, O_CLOEXEC) != 0) {
        close (data [0]);
        close (data [1]);
        return NULL;
    }
    //  A bigger pipe rides out a slow reader; the cap is the kernel's
    //  pipe-max-size, so a failure here only means the default 64 KiB.
    (void) fcntl (data [1], F_SETPIPE_SZ, SINK_PIPE_BYTES);
    //  The non-blocking flag is set on our own pipe, not on the file
    //  description behind stdout, which other processes may share.
    fcntl (data [1], F_SETFL, O_NONBLOCK);
    fcntl (control [1], F_SETFL, O_NONBLOCK);

    writer_t   *writer = (writer_t *) mem_zalloc (1, sizeof (writer_t));
    log_sink_t *sink = (log_sink_t *) mem_zalloc (1, sizeof (log_sink_t));
    writer->in = data [0];
    writer->control = control [0];
    writer->out = fcntl (STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    writer->file = file;
    snprintf (writer->path, sizeof writer->path, "%s", path ? path : "");
    log_init (&writer->log, "log", -1, false);
    sink->control = control [1];

    fflush (stdout);
    dup2 (data [1], STDOUT_FILENO);
    close (data [1]);
    //  The writer thread takes no signal: main's sigwait does.
    sigset_t all, old;
    sigfillset (&all);
    pthread_sigmask (SIG_BLOCK, &all, &old);
    int rc = pthread_create (&sink->thread, NULL, s_writer_run, writer);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        //  Without a writer, stdout goes back to what it was.
        dup2 (writer->out, STDOUT_FILENO);
        close (writer->out);
        close (writer->in);
        close (writer->control);
        close (sink->control);
        free (writer);
        free (sink);
        return NULL;
    }
    return sink;
}

void
log_sink_reopen (log_sink_t *sink)
{
    if (sink)
        (void) !write (sink->control, "R", 1);
}

void
log_sink_report (log_sink_t *sink)
{
    if (sink)
        (void) !write (sink->control, "S", 1);
}

void
log_sink_stop (log_sink_t **sink_p, int timeout_ms)
{
    log_sink_t *sink = *sink_p;
    if (!sink)
        return;
    *sink_p = NULL;
    //  Descriptor 1 stays open (on /dev/null), so that no later open()
    //  lands on it; the pipe's last write end goes, and the writer sees
    //  the end of its input once it has written what was before it.
    fflush (stdout);
    int null = open ("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2 (null, STDOUT_FILENO);
        close (null);
    }
    struct timespec deadline;
    clock_gettime (CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    if (pthread_timedjoin_np (sink->thread, NULL, &deadline) == 0)
        close (sink->control);
    else
        pthread_detach (sink->thread);
    free (sink);
}
