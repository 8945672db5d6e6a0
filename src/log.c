/*  log: one line per event, under the actor's own name.  */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void
log_init (log_t *log, const char *name, int fd, bool verbose)
{
    snprintf (log->name, sizeof log->name, "%s", name);
    log->fd = fd;
    log->file_fd = -1;
    log->verbose = verbose;
}

void
log_also (log_t *log, int file_fd)
{
    log->file_fd = file_fd;
}

static void
s_log_write (const log_t *log, const char *format, va_list args)
{
    char line [1024];
    time_t now = time (NULL);
    struct tm tm;
    localtime_r (&now, &tm);
    size_t len = strftime (line, sizeof line, "%Y-%m-%d %H:%M:%S ", &tm);
    len += snprintf (line + len, sizeof line - len, "%s ", log->name);
    if (len < sizeof line)
        vsnprintf (line + len, sizeof line - len, format, args);
    len = strnlen (line, sizeof line - 1);
    line [len++] = '\n';
    //  A log line that cannot be written is not worth stopping the server for.
    (void) !write (log->fd, line, len);
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
