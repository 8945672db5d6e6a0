/* SPDX-License-Identifier: MIT */
/*  redis_server: a test's own redis-server. See redis_server.h.  */
#include "redis_server.h"
#include "remove_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct redis_server_t {
    pid_t pid;
    int   port;
    char  dir [PATH_MAX];
};

static long long
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  A port nobody listens on right now: the kernel's pick for port 0.
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    socklen_t          size = sizeof addr;
    int                port = -1;
    if (bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0 &&
        getsockname (fd, (struct sockaddr *) &addr, &size) == 0)
        port = ntohs (addr.sin_port);
    close (fd);
    return port;
}

static bool
s_pings (int port)
{
    struct timeval timeout = {0, 200000};
    redisContext  *redis = redisConnectWithTimeout ("127.0.0.1", port, timeout);
    bool           pong = false;
    if (redis && !redis->err) {
        redisSetTimeout (redis, timeout);
        redisReply *reply = (redisReply *) redisCommand (redis, "PING");
        pong = reply && reply->type == REDIS_REPLY_STATUS && strcmp (reply->str, "PONG") == 0;
        if (reply)
            freeReplyObject (reply);
    }
    if (redis)
        redisFree (redis);
    return pong;
}

//  Waits for pid with a bound; true once it is reaped.
static bool
s_reaped (pid_t pid, int timeout_ms)
{
    long long deadline = s_now_ms () + timeout_ms;
    while (s_now_ms () < deadline) {
        if (waitpid (pid, NULL, WNOHANG) == pid)
            return true;
        usleep (10000);
    }
    return false;
}

static bool
s_spawn (redis_server_t *self)
{
    char port [16];
    snprintf (port, sizeof port, "%d", self->port);
    pid_t pid = fork ();
    if (pid < 0)
        return false;
    if (pid == 0) {
        //  Its log would mix with the test's output.
        int null = open ("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2 (null, 1);
            close (null);
        }
        execlp ("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir",
                self->dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                (char *) NULL);
        fprintf (stderr, "redis_server: cannot run redis-server: %s\n", strerror (errno));
        _exit (127);
    }
    self->pid = pid;
    long long deadline = s_now_ms () + REDIS_SERVER_WAIT_MS;
    while (s_now_ms () < deadline) {
        if (s_pings (self->port))
            return true;
        if (waitpid (pid, NULL, WNOHANG) == pid) {
            self->pid = 0;  //  Exited: no redis-server, or the port was taken
            return false;
        }
        usleep (20000);
    }
    redis_server_stop (self);
    return false;
}

redis_server_t *
redis_server_start (void)
{
    redis_server_t *self = (redis_server_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    snprintf (self->dir, sizeof self->dir, "/tmp/tcpchat-redis-XXXXXX");
    if (!mkdtemp (self->dir)) {
        free (self);
        return NULL;
    }
    //  Another process may take the free port between our look and the
    //  server's bind: a few tries.
    for (int attempt = 0; attempt < 5; attempt++) {
        self->port = s_free_port ();
        if (self->port > 0 && s_spawn (self))
            return self;
    }
    fprintf (stderr, "redis_server: no redis-server answered (is it installed?)\n");
    redis_server_destroy (&self);
    return NULL;
}

bool
redis_server_stop (redis_server_t *self)
{
    if (!self->pid)
        return true;
    kill (self->pid, SIGTERM);
    if (!s_reaped (self->pid, 5000)) {
        kill (self->pid, SIGKILL);
        if (!s_reaped (self->pid, 5000))
            return false;
    }
    self->pid = 0;
    return true;
}

bool
redis_server_restart (redis_server_t *self)
{
    if (self->pid)
        return true;
    //  The port was ours a moment ago; in TIME_WAIT it still binds
    //  (redis-server sets SO_REUSEADDR). Retry a while in case.
    for (int attempt = 0; attempt < 20; attempt++) {
        if (s_spawn (self))
            return true;
        usleep (100000);
    }
    return false;
}

void
redis_server_destroy (redis_server_t **self_p)
{
    redis_server_t *self = *self_p;
    if (!self)
        return;
    redis_server_stop (self);
    remove_tree (self->dir);
    free (self);
    *self_p = NULL;
}

int
redis_server_port (const redis_server_t *self)
{
    return self->port;
}

pid_t
redis_server_pid (const redis_server_t *self)
{
    return self->pid;
}

const char *
redis_server_dir (const redis_server_t *self)
{
    return self->dir;
}
