/*  log: one line per event, under the actor's own name.

    "2026-11-29 18:03:36 room[general] alice joined (2 members)"
    Each line goes out in a single write(2), so lines from different
    actors never interleave and nothing sits in a stdio buffer: the line
    shows in `docker compose logs` the moment it happens.                 */
#ifndef TCPCHAT_LOG_H
#define TCPCHAT_LOG_H

#include <stdbool.h>

typedef struct {
    char name [48];           /* "gateway", "hub", "room[general]" */
    int  fd;                  /* normally 1 (stdout) */
    int  file_fd;             /* --log-file, or -1 */
    bool verbose;             /* log_debug lines too */
} log_t;

void log_init  (log_t *log, const char *name, int fd, bool verbose);
/*  Every line also goes to file_fd (an O_APPEND file; -1: none).        */
void log_also  (log_t *log, int file_fd);
void log_info  (const log_t *log, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
/*  Per-message detail, only with --verbose.                             */
void log_debug (const log_t *log, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

#endif
