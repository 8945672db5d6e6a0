/* SPDX-License-Identifier: MIT */
/*  log: one line per event, under the actor's own name.

    "2026-11-29 18:03:36 room[general] alice joined (2 members)"
    Each line goes out in a single write(2) of at most LOG_LINE_MAX bytes
    (under PIPE_BUF), so lines from different actors never interleave and
    nothing sits in a stdio buffer.

    Nothing a client typed reaches the log raw: every formatted message is
    escaped as it is written (see log_escape), so no call site can forget
    and no client can forge a line or drive the operator's terminal.

    Logging never blocks the server: main starts a log sink (below) that
    turns stdout into a non-blocking pipe of our own, drained by one
    writer thread. When that pipe is full (the reader of stdout or the
    disk under --log-file is stuck) a line is dropped and counted, and the
    next line that gets through is preceded by "N log lines dropped".     */
#ifndef TCPCHAT_LOG_H
#define TCPCHAT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"

#define LOG_LINE_MAX    2048
/*  An actor's name: "room[" a room name "]" takes 39 bytes at most.      */
#define LOG_NAME_SIZE   48
/*  A reason to log or print: an error (strerror, a path or two), why a
    connection was refused, why a room stops.                            */
#define LOG_REASON_SIZE 256

typedef struct {
    char          name [LOG_NAME_SIZE]; /* "gateway", "hub", "room[general]" */
    int           fd;                   /* normally 1 (stdout) */
    int           file_fd;              /* --log-file, or -1 */
    bool          verbose;              /* log_debug lines too */
    unsigned long dropped;              /* lines not written since the last that was */
} log_t;

/*  An actor's log, the one way every actor sets it up: named from format
    ("room[%s]"), on stdout (the log sink's pipe, once main started it)
    and on config->log_fd when main left one to the actors (-1: none),
    with config->verbose.                                                */
void log_setup (log_t *log, const config_t *config, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

/*  The parts log_setup is made of, for main's own log and the tests.    */
void log_init (log_t *log, const char *name, int fd, bool verbose);
/*  Every line also goes to file_fd (an O_APPEND file; -1: none).        */
void log_also (log_t *log, int file_fd);
void log_info (const log_t *log, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
/*  Per-message detail, only with --verbose.                             */
void log_debug (const log_t *log, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

/*  Writes in [0, len) to out (capacity cap > 0) escaped, NUL terminated,
    and returns the length. Kept: printable ASCII and valid UTF-8 from
    U+00A0 on. Escaped: '\' as "\\", TAB CR LF as "\t" "\r" "\n", every
    other C0 byte, DEL, each byte of a C1 control, of U+2028/U+2029, of a
    bidi control (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069)
    and each invalid UTF-8 byte as "\xNN". Cut before an escape or a
    character that would not fit.                                         */
size_t log_escape (const char *in, size_t len, char *out, size_t cap);

/*  --log-file: opens path for appending (created 0640 if missing) without
    waiting on a FIFO, and refuses whatever is not a regular file once
    symlinks are followed. The descriptor, or -1 with a reason in error. */
int log_open_file (const char *path, char *error, size_t size);

/*  The log sink, main's alone. log_sink_start redirects descriptor 1 to a
    pipe of ours (non-blocking, 1 MiB at most) and starts the thread that
    copies it to the real stdout and to file (or -1), whole lines at a
    time. path is what SIGHUP reopens.                                    */
typedef struct log_sink_t log_sink_t;
log_sink_t               *log_sink_start (const char *path, int file);
/*  Asks the writer to reopen path (logrotate's SIGHUP).                 */
void log_sink_reopen (log_sink_t *sink);
/*  Asks the writer to log what it has written so far (SIGUSR1).         */
void log_sink_report (log_sink_t *sink);
/*  Ends descriptor 1's pipe, lets the writer drain it and waits at most
    timeout_ms for that. A writer stuck on its sink is left behind (the
    process exit ends it), never waited for.                            */
void log_sink_stop (log_sink_t **sink_p, int timeout_ms);

#endif
