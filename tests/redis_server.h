/* SPDX-License-Identifier: MIT */
/*  redis_server: a test's own redis-server, never the system's.

    redis_server_start makes a temporary directory, picks a free port on
    127.0.0.1 and starts `redis-server --port P --bind 127.0.0.1 --dir TMP
    --save '' --appendonly yes --appendfsync always`, then waits (at most
    REDIS_SERVER_WAIT_MS) until it answers PING. redis_server_stop stops
    it by its pid (SIGTERM, SIGKILL after 5 s) and keeps the directory,
    so redis_server_restart brings the same data back on the same port;
    redis_server_destroy stops it and removes the directory.

    No redis-server on PATH is a failure (NULL, and a line on stderr),
    never a skip: CI installs it (scripts/ensure-deps.sh).               */
#ifndef TCPCHAT_TESTS_REDIS_SERVER_H
#define TCPCHAT_TESTS_REDIS_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

#define REDIS_SERVER_WAIT_MS 10000

typedef struct redis_server_t redis_server_t;

/*  A running server, or NULL (why on stderr).                           */
redis_server_t *redis_server_start (void);
/*  Stops it by pid, keeping its directory; true once it has exited.     */
bool redis_server_stop (redis_server_t *self);
/*  Starts it again on the same port and directory; true once it answers. */
bool redis_server_restart (redis_server_t *self);
/*  Stops it if running, removes its directory, frees it.                */
void redis_server_destroy (redis_server_t **self_p);

int         redis_server_port (const redis_server_t *self);
pid_t       redis_server_pid (const redis_server_t *self); /* 0: not running */
const char *redis_server_dir (const redis_server_t *self);

#endif
