/* SPDX-License-Identifier: MIT */
/*  Unit tests for the test harness tests/redis_server.c: a server of our
    own answers on its port, keeps what it was given across a stop and a
    restart on the same port (AOF, fsync always), and leaves nothing
    behind.                                                               */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include "../redis_server.h"

static redisReply *
command (int port, const char *format, ...)
{
    struct timeval timeout = {2, 0};
    redisContext  *redis = redisConnectWithTimeout ("127.0.0.1", port, timeout);
    if (!redis || redis->err) {
        if (redis)
            redisFree (redis);
        return NULL;
    }
    va_list args;
    va_start (args, format);
    redisReply *reply = (redisReply *) redisvCommand (redis, format, args);
    va_end (args);
    redisFree (redis);
    return reply;
}

static void
test_start_stop_restart (void **state)
{
    (void) state;
    redis_server_t *server = redis_server_start ();
    assert_non_null (server);
    int   port = redis_server_port (server);
    pid_t pid = redis_server_pid (server);
    assert_true (port > 0);
    assert_true (pid > 0);
    char dir [256];
    snprintf (dir, sizeof dir, "%s", redis_server_dir (server));

    redisReply *reply = command (port, "SET k %s", "kept");
    assert_non_null (reply);
    freeReplyObject (reply);

    assert_true (redis_server_stop (server));
    assert_int_equal (redis_server_pid (server), 0);
    assert_int_equal (kill (pid, 0), -1);  //  Gone, and reaped
    assert_null (command (port, "PING"));

    assert_true (redis_server_restart (server));
    assert_int_equal (redis_server_port (server), port);
    reply = command (port, "GET k");
    assert_non_null (reply);
    assert_int_equal (reply->type, REDIS_REPLY_STRING);
    assert_string_equal (reply->str, "kept");
    freeReplyObject (reply);

    redis_server_destroy (&server);
    assert_null (server);
    struct stat info;
    assert_int_equal (stat (dir, &info), -1);
}

/*  Two at once never share a port or a directory.                       */
static void
test_two_servers (void **state)
{
    (void) state;
    redis_server_t *one = redis_server_start ();
    redis_server_t *two = redis_server_start ();
    assert_non_null (one);
    assert_non_null (two);
    assert_int_not_equal (redis_server_port (one), redis_server_port (two));
    assert_string_not_equal (redis_server_dir (one), redis_server_dir (two));
    redis_server_destroy (&one);
    redis_server_destroy (&two);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_start_stop_restart),
        cmocka_unit_test (test_two_servers),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
