/* SPDX-License-Identifier: MIT */
/*  Unit tests for config: the command line and TCPCHAT_* variables.

    config_parse writes to two FILE *s: each test hands it memory streams
    (open_memstream) and checks their exact contents afterwards. The
    environment is a fake getenv over a small NULL-terminated table.    */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"

/* ------------------------------------------------------------------ */
/*  A fake environment                                                 */

static const char *const *s_env; /* "NAME", "VALUE", ..., NULL */
static int                s_env_calls;

static char *
fake_getenv (const char *name)
{
    s_env_calls++;
    for (size_t i = 0; s_env && s_env [i]; i += 2)
        if (strcmp (s_env [i], name) == 0)
            return (char *) s_env [i + 1];
    return NULL;
}

/* ------------------------------------------------------------------ */
/*  Running config_parse                                              */

typedef struct {
    config_result_t result;
    config_t        cfg;
    char           *out; /* what was written to out, NUL terminated */
    char           *err; /* what was written to err */
} run_t;

/*  Parses "TCPChat" + args (NULL terminated) under env (NULL terminated
    pairs, or NULL), starting from the defaults.                         */
static void
run_env (run_t *r, const char *const *env, const char *const *args)
{
    char *argv [32];
    int   argc = 0;
    argv [argc++] = (char *) "./TCPChat";
    for (size_t i = 0; args && args [i]; i++) {
        assert_true (argc < 31);
        argv [argc++] = (char *) args [i];
    }
    argv [argc] = NULL;

    size_t out_len = 0, err_len = 0;
    r->out = NULL;
    r->err = NULL;
    FILE *out = open_memstream (&r->out, &out_len);
    FILE *err = open_memstream (&r->err, &err_len);
    assert_non_null (out);
    assert_non_null (err);
    s_env = env;
    config_defaults (&r->cfg);
    r->result = config_parse (&r->cfg, argc, argv, fake_getenv, out, err);
    s_env = NULL;
    assert_int_equal (fclose (out), 0);
    assert_int_equal (fclose (err), 0);
    assert_non_null (r->out);
    assert_non_null (r->err);
}

static void
run_free (run_t *r)
{
    free (r->out);
    free (r->err);
    r->out = r->err = NULL;
}

#define ARGS(...) ((const char *const []){__VA_ARGS__, NULL})
#define ENV(...)  ((const char *const []){__VA_ARGS__, NULL})
#define NO_ARGS   ((const char *const *) NULL)
#define NO_ENV    ((const char *const *) NULL)

/*  Exactly one line, "TCPChat: ..." ending in '\n', on err, and nothing
    on out.                                                              */
static void
assert_one_error_line (const run_t *r)
{
    const char *err = r->err;
    size_t      len = strlen (err);
    if (len == 0 || err [len - 1] != '\n' || strchr (err, '\n') != err + len - 1 ||
        strncmp (err, "TCPChat: ", 9) != 0 || len <= 10)
        fail_msg ("expected one line \"TCPChat: ...\\n\" on err, got \"%s\"", err);
    assert_string_equal (r->out, "");
}

#define USAGE "[USAGE]: ./TCPChat $port\n"

/*  The run ended with the net-cat usage line and nothing else.          */
static void
assert_usage (const run_t *r)
{
    assert_int_equal (r->result, CONFIG_EXIT_USAGE);
    assert_string_equal (r->out, USAGE);
    assert_string_equal (r->err, "");
}

/*  Nothing printed on out or err.                                        */
static void
assert_silent (const run_t *r)
{
    assert_string_equal (r->out, "");
    assert_string_equal (r->err, "");
}

/*  The settings the environment tests give: port, bind, max_clients,
    history, max_rooms, verbose.                                         */
static void
assert_main_settings (const config_t *cfg, int port, const char *bind, int max_clients, int history,
                      int max_rooms, bool verbose)
{
    assert_int_equal (cfg->port, port);
    assert_string_equal (cfg->bind, bind);
    assert_int_equal (cfg->max_clients, max_clients);
    assert_int_equal (cfg->history, history);
    assert_int_equal (cfg->max_rooms, max_rooms);
    assert_true (cfg->verbose == verbose);
}

static void
assert_defaults_except_port (const config_t *cfg)
{
    assert_string_equal (cfg->bind, "");
    assert_int_equal (cfg->max_clients, 10);
    assert_int_equal (cfg->history, 1000);
    assert_int_equal (cfg->max_rooms, 64);
    assert_int_equal (cfg->max_backlog, 1048576);
    assert_int_equal (cfg->rate, 20);
    assert_int_equal (cfg->name_timeout, 60);
    assert_int_equal (cfg->room_idle, 300);
    assert_int_equal (cfg->connect_rate, 1);
    assert_int_equal (cfg->max_per_address, 0);
    assert_string_equal (cfg->data_dir, "");
    assert_string_equal (cfg->log_file, "");
    assert_int_equal (cfg->log_fd, -1);
    assert_false (cfg->verbose);
    assert_string_equal (cfg->cluster, "");
    assert_string_equal (cfg->node, "");
}

/* ------------------------------------------------------------------ */
/*  Defaults and the positional port                                   */

static void
test_defaults (void **state)
{
    (void) state;
    config_t cfg;
    memset (&cfg, 0xA5, sizeof cfg);
    config_defaults (&cfg);
    assert_int_equal (cfg.port, 8989);
    assert_int_equal (cfg.max_clients, 10);
    assert_int_equal (cfg.history, 1000);
    assert_int_equal (cfg.max_rooms, 64);
    assert_int_equal (cfg.max_backlog, 1048576);
    assert_int_equal (cfg.rate, 20);
    assert_int_equal (cfg.name_timeout, 60);
    assert_int_equal (cfg.room_idle, 300);
    assert_int_equal (cfg.connect_rate, 1);
    assert_int_equal (cfg.max_per_address, 0);
    assert_string_equal (cfg.data_dir, "");
    assert_string_equal (cfg.log_file, "");
    assert_int_equal (cfg.log_fd, -1);
    assert_false (cfg.verbose);
    assert_string_equal (cfg.bind, "");
    assert_string_equal (cfg.endpoint, "");
    assert_int_equal (cfg.http_port, 0);
    assert_string_equal (cfg.http_origin, "");
    assert_string_equal (cfg.cluster, "");
    assert_string_equal (cfg.cluster_host, "");
    assert_int_equal (cfg.cluster_port, 0);
    assert_int_equal (cfg.cluster_db, 0);
    assert_string_equal (cfg.node, "");
    assert_int_equal (cfg.cluster_lease, 10);
}

static void
test_no_arguments_runs_with_defaults (void **state)
{
    (void) state;
    run_t r;
    run_env (&r, NO_ENV, NO_ARGS);
    assert_int_equal (r.result, CONFIG_RUN);
    assert_int_equal (r.cfg.port, 8989);
    assert_defaults_except_port (&r.cfg);
    assert_silent (&r);
    assert_true (s_env_calls > 0); /* the environment was consulted */
    run_free (&r);
}

static void
test_positional_port (void **state)
{
    (void) state;
    struct {
        const char *arg;
        int         port;
    } cases [] = {
        {"2525", 2525},
        {"1", 1},
        {"65535", 65535},
        {"8989", 8989},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        run_t r;
        run_env (&r, NO_ENV, ARGS (cases [i].arg));
        assert_int_equal (r.result, CONFIG_RUN);
        assert_int_equal (r.cfg.port, cases [i].port);
        assert_defaults_except_port (&r.cfg);
        assert_silent (&r);
        run_free (&r);
    }
}

static void
test_two_positionals_print_usage (void **state)
{
    (void) state;
    run_t r;
    run_env (&r, NO_ENV, ARGS ("2525", "2526"));
    assert_usage (&r);
    run_free (&r);

    run_env (&r, NO_ENV, ARGS ("2525", "localhost", "2526"));
    assert_usage (&r);
    run_free (&r);

    //  With options around them: still two positionals.
    run_env (&r, NO_ENV, ARGS ("--verbose", "2525", "--history", "5", "2526"));
    assert_usage (&r);
    run_free (&r);
}

static void
test_bad_ports_print_usage (void **state)
{
    (void) state;
    const char *bad [] = {
        "abc",   "0",
        "65536", "-5",
        "+80",   "",
        " 80",   "80 ",
        "8o",    "0x50",
        "1e3",   "99999999999999999999",
        "-",     "4294967377" /* 2^32 + 81 */,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        run_t r;
        run_env (&r, NO_ENV, ARGS (bad [i]));
        if (r.result != CONFIG_EXIT_USAGE || strcmp (r.out, USAGE) != 0 || *r.err)
            fail_msg ("port \"%s\": result %d, out \"%s\", err \"%s\"", bad [i], (int) r.result,
                      r.out, r.err);
        run_free (&r);
    }
}

/* ------------------------------------------------------------------ */
/*  Options                                                            */

static void
test_bind_option (void **state)
{
    (void) state;
    run_t r;
    run_env (&r, NO_ENV, ARGS ("--bind", "127.0.0.1"));
    assert_int_equal (r.result, CONFIG_RUN);
    assert_string_equal (r.cfg.bind, "127.0.0.1");
    assert_int_equal (r.cfg.port, 8989);
    run_free (&r);

    run_env (&r, NO_ENV, ARGS ("--bind=::1", "7000"));
    assert_int_equal (r.result, CONFIG_RUN);
    assert_string_equal (r.cfg.bind, "::1");
    assert_int_equal (r.cfg.port, 7000);
    assert_silent (&r);
    run_free (&r);

    //  The longest address or host name that fits (255 bytes).
    char longest [256];
    memset (longest, 'h', 255);
    longest [255] = 0;
    run_env (&r, NO_ENV, ARGS ("--bind", longest));
    assert_int_equal (r.result, CONFIG_RUN);
    assert_string_equal (r.cfg.bind, longest);
    run_free (&r);
}

static void
test_int_options (void **state)
{
    (void) state;
    struct {
        const char *flag;
        size_t      offset;
    } opts [] = {
        {"--max-clients", offsetof (config_t, max_clients)},
        {"--history", offsetof (config_t, history)},
        {"--max-rooms", offsetof (config_t, max_rooms)},
    };
    for (size_t i = 0; i < 3; i++) {
        run_t r;
        run_env (&r, NO_ENV, ARGS (opts [i].flag, "37"));
        assert_int_equal (r.result, CONFIG_RUN);
        assert_int_equal (*(int *) ((char *) &r.cfg + opts [i].offset), 37);
        assert_silent (&r);
        run_free (&r);

        char joined [48];
        snprintf (joined, sizeof joined, "%s=4242", opts [i].flag);
        run_env (&r, NO_ENV, ARGS ("1234", joined));
        assert_int_equal (r.result, CONFIG_RUN);
        assert_int_equal (*(int *) ((char *) &r.cfg + opts [i].offset), 4242);
        assert_int_equal (r.cfg.port, 1234);
        assert_silent (&r);
        run_free (&r);
    }
}

/*  The limits of issue 3: each by flag, by flag=value and by variable,
    at both ends of its range; 0 switches --rate and --name-timeout off. */
static void
test_limit_options (void **state)
{
    (void) state;
    struct {
        const char *flag, *env;
        size_t      offset;
        const char *low, *high;
    } opts [] = {
        {"--max-backlog", "TCPCHAT_MAX_BACKLOG", offsetof (config_t, max_backlog), "4096",
         "1000000000"},
        {"--rate", "TCPCHAT_RATE", offsetof (config_t, rate), "0", "1000000"},
        {"--name-timeout", "TCPCHAT_NAME_TIMEOUT", offsetof (config_t, name_timeout), "0", "86400"},
        {"--room-idle", "TCPCHAT_ROOM_IDLE", offsetof (config_t, room_idle), "0", "86400"},
        {"--connect-rate", "TCPCHAT_CONNECT_RATE", offsetof (config_t, connect_rate), "0",
         "1000000"},
        {"--max-per-address", "TCPCHAT_MAX_PER_ADDRESS", offsetof (config_t, max_per_address), "0",
         "1000000"},
    };
    for (size_t i = 0; i < sizeof opts / sizeof opts [0]; i++) {
        run_t r;
        run_env (&r, NO_ENV, ARGS (opts [i].flag, opts [i].low));
        assert_int_equal (r.result, CONFIG_RUN);
        assert_int_equal (*(int *) ((char *) &r.cfg + opts [i].offset), atoi (opts [i].low));
        assert_string_equal (r.err, "");
        run_free (&r);

        char joined [64];
        snprintf (joined, sizeof joined, "%s=%s", opts [i].flag, opts [i].high);
        run_env (&r, NO_ENV, ARGS (joined));
        assert_int_equal (r.result, CONFIG_RUN);
        assert_int_equal (*(int *) ((char *) &r.cfg + opts [i].offset), atoi (opts [i].high));
        run_free (&r);

        run_env (&r, ENV (opts [i].env, "5000"), NO_ARGS);
        assert_int_equal (r.result, CONFIG_RUN);
        assert_int_equal (*(int *) ((char *) &r.cfg + opts [i].offset), 5000);
        run_free (&r);
    }
    const char *const bad [][2] = {
        {"--max-backlog", "4095"}, /* below one line's worth */
        {"--max-backlog", "1000000001"}, {"--max-backlog", "1MB"}, {"--rate", "-1"},
        {"--rate", "1000001"},           {"--rate", "fast"},       {"--name-timeout", "86401"},
        {"--name-timeout", "1.5"},       {"--room-idle", "86401"}, {"--room-idle", "-5"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        run_t r;
        run_env (&r, NO_ENV, ARGS (bad [i][0], bad [i][1]));
        if (r.result != CONFIG_EXIT_BAD)
            fail_msg ("%s '%s': result %d", bad [i][0], bad [i][1], (int) r.result);
        assert_one_error_line (&r);
        run_free (&r);
    }
}

/*  --data-dir and --log-file: kept as given, flag over variable; empty
    or too long for the field is an error, never a cut path.             */
static void
test_path_options (void **state)
{
    (void) state;
    run_t r;
    run_env (&r, NO_ENV, ARGS ("--data-dir", "/var/lib/tcpchat", "--log-file=chat log.txt"));
    assert_int_equal (r.result, CONFIG_RUN);
    assert_string_equal (r.cfg.data_dir, "/var/lib/tcpchat");
    assert_string_equal (r.cfg.log_file, "chat log.txt");
    assert_int_equal (r.cfg.log_fd, -1);
    assert_string_equal (r.err, "");
    run_free (&r);

    run_env (&r, ENV ("TCPCHAT_DATA_DIR", "/data", "TCPCHAT_LOG_FILE", "/data/log"), NO_ARGS);
    assert_int_equal (r.result, CONFIG_RUN);
    assert_string_equal (r.cfg.data_dir, "/data");
    assert_string_equal (r.cfg.log_file, "/data/log");
    run_free (&r);

    run_env (&r, ENV ("TCPCHAT_DATA_DIR", "/env", "TCPCHAT_LOG_FILE", ""),
             ARGS ("--data-dir=/flag"));
    assert_int_equal (r.result, CONFIG_RUN);
    assert_string_equal (r.cfg.data_dir, "/flag");
    assert_string_equal (r.cfg.log_file, ""); /* empty: unset */
    run_free (&r);

    char too_long [600];
    memset (too_long, 'd', 512);
    too_long [512] = 0;
    const char *const bad [][2] = {
        {"--data-dir", ""},
        {"--log-file", ""},
        {"--data-dir", too_long},
        {"--log-file", too_long},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        run_env (&r, NO_ENV, ARGS (bad [i][0], bad [i][1]));
        if (r.result != CONFIG_EXIT_BAD)
            fail_msg ("%s (%zu bytes): result %d", bad [i][0], strlen (bad [i][1]), (int) r.result);
        assert_one_error_line (&r);
        run_free (&r);
    }
    run_env (&r, ENV ("TCPCHAT_DATA_DIR", too_long), NO_ARGS);
    assert_int_equal (r.result, CONFIG_EXIT_BAD);
    assert_one_error_line (&r);
    run_free (&r);
    //  The longest path that fits is taken whole.
    too_long [511] = 0;
    run_env (&r, NO_ENV, ARGS ("--log-file", too_long));
    assert_int_equal (r.result, CONFIG_RUN);
    assert_string_equal (r.cfg.log_file, too_long);
    run_free (&r);
}

static void
test_all_options_together (void **state)
{
    (void) state;
    run_t r;
    run_env (&r, NO_ENV,
             ARGS ("--max-clients", "3", "--history=0", "--verbose", "--max-rooms=2", "--bind",
                   "0.0.0.0", "4000"));
    assert_int_equal (r.result, CONFIG_RUN);
    assert_int_equal (r.cfg.port, 4000);
    assert_int_equal (r.cfg.max_clients, 3);
    assert_int_equal (r.cfg.history, 0);
    assert_int_equal (r.cfg.max_rooms, 2);
    assert_true (r.cfg.verbose);
    assert_string_equal (r.cfg.bind, "0.0.0.0");
    assert_silent (&r);
    run_free (&r);
}

static void
test_verbose_flag (void **state)
{
    (void) state;
    run_t r;
    run_env (&r, NO_ENV, ARGS ("--verbose"));
    assert_int_equal (r.result, CONFIG_RUN);
    assert_true (r.cfg.verbose);
    assert_int_equal (r.cfg.port, 8989);
    run_free (&r);
}

/*  --http PORT (0: off) and --http-origin, a comma-separated list of
    scheme://host[:port] origins, each with its variable.                */
static void
test_http_options (void **state)
{
    (void) state;
    run_t r;
    run_env (&r, NO_ENV,
             ARGS ("--http", "8080", "--http-origin",
                   "https://chat.example.org,http://[::1]:8080,http://localhost"));
    assert_int_equal (r.result, CONFIG_RUN);
    assert_int_equal (r.cfg.http_port, 8080);
    assert_string_equal (r.cfg.http_origin,
                         "https://chat.example.org,http://[::1]:8080,http://localhost");
    assert_silent (&r);
    run_free (&r);

    run_env (&r, ENV ("TCPCHAT_HTTP", "8081", "TCPCHAT_HTTP_ORIGIN", "https://a.example"),
             ARGS ("--http=0"));
    assert_int_equal (r.result, CONFIG_RUN);
    assert_int_equal (r.cfg.http_port, 0); /* the flag wins: off */
    assert_string_equal (r.cfg.http_origin, "https://a.example");
    run_free (&r);

    const char *const bad [][2] = {
        {"--http", "65536"},
        {"--http", "-1"},
        {"--http", "web"},
        {"--http-origin", ""},
        {"--http-origin", "chat.example.org"},
        {"--http-origin", "https://"},
        {"--http-origin", "https://a.example/"},
        {"--http-origin", "https://a.example,"},
        {"--http-origin", ",https://a.example"},
        {"--http-origin", "https://a.example, https://b.example"},
        {"--http-origin", "ftp://a.example"},
        {"--http-origin", "*"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        run_env (&r, NO_ENV, ARGS (bad [i][0], bad [i][1]));
        if (r.result != CONFIG_EXIT_BAD)
            fail_msg ("%s '%s': result %d", bad [i][0], bad [i][1], (int) r.result);
        assert_one_error_line (&r);
        run_free (&r);
    }
    //  A list that cannot fit the field is refused, not cut.
    char too_long [600] = "https://";
    memset (too_long + 8, 'a', 510);
    too_long [518] = 0;
    run_env (&r, NO_ENV, ARGS ("--http-origin", too_long));
    assert_int_equal (r.result, CONFIG_EXIT_BAD);
    assert_one_error_line (&r);
    run_free (&r);
    run_env (&r, ENV ("TCPCHAT_HTTP_ORIGIN", "nope"), NO_ARGS);
    assert_int_equal (r.result, CONFIG_EXIT_BAD);
    assert_one_error_line (&r);
    run_free (&r);
}

/*  --cluster redis://HOST[:PORT][/DB], split into host, port and db.   */
static void
test_cluster_url (void **state)
{
    (void) state;
    const struct {
        const char *url, *host;
        int         port, db;
    } good [] = {
        {"redis://redis:6379", "redis", 6379, 0},
        {"redis://redis", "redis", 6379, 0},
        {"redis://127.0.0.1:7000/3", "127.0.0.1", 7000, 3},
        {"redis://[::1]:6380", "::1", 6380, 0},
        {"redis://[fe80::1]/15", "fe80::1", 6379, 15},
        {"redis://cache-1.example.org:1/0", "cache-1.example.org", 1, 0},
        {"redis://my_redis:65535/1000000", "my_redis", 65535, 1000000},
    };
    for (size_t i = 0; i < sizeof good / sizeof good [0]; i++) {
        run_t r;
        run_env (&r, NO_ENV, ARGS ("--cluster", good [i].url));
        if (r.result != CONFIG_RUN)
            fail_msg ("--cluster %s: result %d, err \"%s\"", good [i].url, (int) r.result, r.err);
        assert_string_equal (r.cfg.cluster, good [i].url);
        assert_string_equal (r.cfg.cluster_host, good [i].host);
        assert_int_equal (r.cfg.cluster_port, good [i].port);
        assert_int_equal (r.cfg.cluster_db, good [i].db);
        assert_int_equal (r.cfg.cluster_lease, 10);
        assert_silent (&r);
        run_free (&r);
    }
    const char *bad [] = {
        "",
        "redis",
        "redis://",
        "redis://:6379",
        "http://redis:6379",
        "rediss://redis:6379",
        "REDIS://redis",
        "redis://redis:",
        "redis://redis:0",
        "redis://redis:65536",
        "redis://redis:+80",
        "redis://redis:6379/",
        "redis://redis:6379/-1",
        "redis://redis:6379/1000001",
        "redis://redis:6379/0/1",
        "redis://redis:6379?db=1",
        "redis://user:secret@redis:6379",
        "redis://:secret@redis",
        "redis://re dis",
        "redis://[::1",
        "redis://[]:6379",
        "redis://[::1]x",
        "redis://[1.2.3.4]",
        "redis://::1:6379",
        "redis://redis:6379 ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        run_t r;
        run_env (&r, NO_ENV, ARGS ("--cluster", bad [i]));
        if (r.result != CONFIG_EXIT_BAD)
            fail_msg ("--cluster '%s': result %d", bad [i], (int) r.result);
        assert_one_error_line (&r);
        assert_non_null (strstr (r.err, "redis://HOST[:PORT][/DB]"));
        run_free (&r);
    }
    //  A host name longer than the field is refused, not cut.
    char url [CONFIG_PATH_SIZE] = "redis://";
    memset (url + 8, 'a', CONFIG_BIND_SIZE);
    url [8 + CONFIG_BIND_SIZE] = 0;
    run_t r;
    run_env (&r, NO_ENV, ARGS ("--cluster", url));
    assert_int_equal (r.result, CONFIG_EXIT_BAD);
    assert_one_error_line (&r);
    run_free (&r);
}

/*  --node, --cluster-lease and their variables; the defaults a cluster
    node gets.                                                           */
static void
test_cluster_node_and_lease (void **state)
{
    (void) state;
    run_t r;
    run_env (&r,
             ENV ("TCPCHAT_CLUSTER", "redis://10.0.0.5:6379/2", "TCPCHAT_NODE", "node1",
                  "TCPCHAT_CLUSTER_LEASE", "30"),
             NO_ARGS);
    assert_int_equal (r.result, CONFIG_RUN);
    assert_string_equal (r.cfg.cluster_host, "10.0.0.5");
    assert_int_equal (r.cfg.cluster_db, 2);
    assert_string_equal (r.cfg.node, "node1");
    assert_int_equal (r.cfg.cluster_lease, 30);
    assert_silent (&r);
    run_free (&r);

    //  Flags win over their variables, the URL's parts included.
    run_env (&r,
             ENV ("TCPCHAT_CLUSTER", "redis://10.0.0.5:6379/2", "TCPCHAT_NODE", "node1",
                  "TCPCHAT_CLUSTER_LEASE", "30"),
             ARGS ("--cluster=redis://redis", "--node", "b:9000", "--cluster-lease", "3600"));
    assert_int_equal (r.result, CONFIG_RUN);
    assert_string_equal (r.cfg.cluster_host, "redis");
    assert_int_equal (r.cfg.cluster_port, 6379);
    assert_int_equal (r.cfg.cluster_db, 0);
    assert_string_equal (r.cfg.node, "b:9000");
    assert_int_equal (r.cfg.cluster_lease, 3600);
    run_free (&r);

    //  Without --node: HOSTNAME:PORT, the port the node listens on.
    char host [256] = "";
    assert_int_equal (gethostname (host, sizeof host), 0);
    host [sizeof host - 1] = 0;
    char want [CONFIG_NODE_SIZE + 300];
    snprintf (want, sizeof want, "%s:2525", host);
    run_env (&r, NO_ENV, ARGS ("--cluster", "redis://redis", "2525"));
    assert_int_equal (r.result, CONFIG_RUN);
    if (strlen (want) < CONFIG_NODE_SIZE &&
        strspn (host, "abcdefghijklmnopqrstuvwxyz"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == strlen (host))
        assert_string_equal (r.cfg.node, want);
    assert_non_null (strstr (r.cfg.node, ":2525"));
    run_free (&r);

    const char *const bad [][2] = {
        {"--node", ""},
        {"--node", "a/b"},
        {"--node", "node 1"},
        {"--node", "node\t1"},
        {"--node", "n\xc3\xa9"},
        {"--cluster-lease", "1"},
        {"--cluster-lease", "3601"},
        {"--cluster-lease", "ten"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        run_env (&r, NO_ENV, ARGS ("--cluster", "redis://redis", bad [i][0], bad [i][1]));
        if (r.result != CONFIG_EXIT_BAD)
            fail_msg ("%s '%s': result %d", bad [i][0], bad [i][1], (int) r.result);
        assert_one_error_line (&r);
        run_free (&r);
    }
    char long_node [CONFIG_NODE_SIZE + 1];
    memset (long_node, 'n', CONFIG_NODE_SIZE);
    long_node [CONFIG_NODE_SIZE] = 0;
    run_env (&r, NO_ENV, ARGS ("--cluster", "redis://redis", "--node", long_node));
    assert_int_equal (r.result, CONFIG_EXIT_BAD);
    assert_one_error_line (&r);
    run_free (&r);
    long_node [CONFIG_NODE_SIZE - 1] = 0; /* the longest that fits */
    run_env (&r, NO_ENV, ARGS ("--cluster", "redis://redis", "--node", long_node));
    assert_int_equal (r.result, CONFIG_RUN);
    assert_string_equal (r.cfg.node, long_node);
    run_free (&r);
}

/*  The cluster's options only together: --node or --cluster-lease (flag
    or variable) without a cluster, and --data-dir with one, are refused
    with the option named.                                               */
static void
test_cluster_options_together (void **state)
{
    (void) state;
    const struct {
        const char *const *env, *const *args;
        const char *named;
    } cases [] = {
        {NO_ENV, ARGS ("--node", "node1"), "TCPChat: --node needs --cluster"},
        {ENV ("TCPCHAT_NODE", "node1"), NO_ARGS, "TCPChat: TCPCHAT_NODE needs --cluster"},
        {NO_ENV, ARGS ("--cluster-lease", "5"), "TCPChat: --cluster-lease needs --cluster"},
        {ENV ("TCPCHAT_CLUSTER_LEASE", "5"), NO_ARGS,
         "TCPChat: TCPCHAT_CLUSTER_LEASE needs --cluster"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        run_t r;
        run_env (&r, cases [i].env, cases [i].args);
        assert_int_equal (r.result, CONFIG_EXIT_BAD);
        assert_one_error_line (&r);
        if (strncmp (r.err, cases [i].named, strlen (cases [i].named)) != 0)
            fail_msg ("case %zu: \"%s\"", i, r.err);
        run_free (&r);
    }
    const char *const data_dir =
        "TCPChat: --data-dir and --cluster cannot be used together: in cluster mode the history "
        "lives in Redis\n";
    run_t r;
    run_env (&r, NO_ENV, ARGS ("--cluster", "redis://redis", "--data-dir", "/var/lib/tcpchat"));
    assert_int_equal (r.result, CONFIG_EXIT_BAD);
    assert_string_equal (r.err, data_dir);
    assert_string_equal (r.out, "");
    run_free (&r);
    run_env (&r, ENV ("TCPCHAT_DATA_DIR", "/data", "TCPCHAT_CLUSTER", "redis://redis:6379"),
             NO_ARGS);
    assert_int_equal (r.result, CONFIG_EXIT_BAD);
    assert_string_equal (r.err, data_dir);
    run_free (&r);
    //  --health too: a probe must not call healthy what cannot start.
    run_env (&r, NO_ENV, ARGS ("--cluster", "redis://redis", "--data-dir", "/d", "--health"));
    assert_int_equal (r.result, CONFIG_EXIT_BAD);
    run_free (&r);
    //  --help still answers.
    run_env (&r, NO_ENV, ARGS ("--node", "x", "--help"));
    assert_int_equal (r.result, CONFIG_EXIT_OK);
    assert_non_null (strstr (r.out, "--cluster URL"));
    run_free (&r);
}

static void
test_bad_option_values (void **state)
{
    (void) state;
    const char *const cases [][2] = {
        {"--max-clients", "abc"}, {"--max-clients", "0"}, /* below 1 */
        {"--max-clients", "-3"},  {"--history", "-1"},    {"--history", "1.5"},
        {"--history", "+5"},      {"--history", ""},      {"--history", "99999999999"},
        {"--max-rooms", "0"},     {"--max-rooms", "ten"}, {"--max-rooms", " 5"},
        {"--bind", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        run_t r;
        run_env (&r, NO_ENV, ARGS (cases [i][0], cases [i][1]));
        if (r.result != CONFIG_EXIT_BAD)
            fail_msg ("%s '%s': result %d", cases [i][0], cases [i][1], (int) r.result);
        assert_one_error_line (&r);
        run_free (&r);

        char joined [64];
        snprintf (joined, sizeof joined, "%s=%s", cases [i][0], cases [i][1]);
        run_env (&r, NO_ENV, ARGS (joined));
        if (r.result != CONFIG_EXIT_BAD)
            fail_msg ("%s: result %d", joined, (int) r.result);
        assert_one_error_line (&r);
        run_free (&r);
    }
    //  An address that cannot fit the 256-byte field is refused, not cut.
    char too_long [300];
    memset (too_long, '1', 256);
    too_long [256] = 0;
    run_t r;
    run_env (&r, NO_ENV, ARGS ("--bind", too_long));
    assert_int_equal (r.result, CONFIG_EXIT_BAD);
    assert_one_error_line (&r);
    run_free (&r);
}

static void
test_missing_value (void **state)
{
    (void) state;
    const char *flags [] = {"--max-clients", "--history", "--max-rooms", "--bind"};
    for (size_t i = 0; i < 4; i++) {
        run_t r;
        run_env (&r, NO_ENV, ARGS ("2525", flags [i]));
        if (r.result != CONFIG_EXIT_BAD)
            fail_msg ("%s without a value: result %d", flags [i], (int) r.result);
        assert_one_error_line (&r);
        run_free (&r);
    }
}

static void
test_unknown_option (void **state)
{
    (void) state;
    const char *unknown [] = {"--bogus", "-x", "--port=80", "--verbose=1", "--HELP", "--"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown [0]; i++) {
        run_t r;
        run_env (&r, NO_ENV, ARGS (unknown [i]));
        if (r.result != CONFIG_EXIT_BAD)
            fail_msg ("%s: result %d", unknown [i], (int) r.result);
        assert_one_error_line (&r);
        run_free (&r);
    }
}

static void
test_help_and_version (void **state)
{
    (void) state;
    run_t r;
    run_env (&r, NO_ENV, ARGS ("--help"));
    assert_int_equal (r.result, CONFIG_EXIT_OK);
    assert_true (strlen (r.out) > 0);
    assert_non_null (strstr (r.out, "--max-clients"));
    assert_non_null (strstr (r.out, "--bind"));
    assert_non_null (strstr (r.out, "--history"));
    assert_non_null (strstr (r.out, "--max-rooms"));
    assert_non_null (strstr (r.out, "--verbose"));
    assert_int_equal (r.out [strlen (r.out) - 1], '\n');
    assert_string_equal (r.err, "");
    run_free (&r);

    //  --help wins over whatever else is on the line.
    run_env (&r, NO_ENV, ARGS ("1234", "--help"));
    assert_int_equal (r.result, CONFIG_EXIT_OK);
    assert_true (strlen (r.out) > 0);
    assert_string_equal (r.err, "");
    run_free (&r);

    run_env (&r, NO_ENV, ARGS ("--version"));
    assert_int_equal (r.result, CONFIG_EXIT_OK);
    char want [128];
    snprintf (want, sizeof want, "TCPChat %s\n", config_version ());
    assert_string_equal (r.out, want);
    assert_true (strlen (config_version ()) > 0);
    assert_string_equal (r.err, "");
    run_free (&r);
}


/*  Issue 12: --help and --version answer whatever the environment holds
    (each bad variable in turn), and whatever else is on the line.       */
static void
test_help_and_version_despite_bad_environment (void **state)
{
    (void) state;
    char too_long [600];
    memset (too_long, 'd', 599);
    too_long [599] = 0;
    const char *const bad_env [][2] = {
        {"TCPCHAT_RATE", "fast"},   {"TCPCHAT_PORT", "abc"},        {"TCPCHAT_MAX_CLIENTS", "0"},
        {"TCPCHAT_BIND", too_long}, {"TCPCHAT_DATA_DIR", too_long}, {"TCPCHAT_NAME_TIMEOUT", "-1"},
    };
    for (size_t i = 0; i < sizeof bad_env / sizeof bad_env [0]; i++) {
        run_t r;
        run_env (&r, ENV (bad_env [i][0], bad_env [i][1]), ARGS ("--help"));
        if (r.result != CONFIG_EXIT_OK || !strstr (r.out, "Usage: ./TCPChat") || *r.err)
            fail_msg ("%s with --help: result %d, err \"%s\"", bad_env [i][0], (int) r.result,
                      r.err);
        run_free (&r);

        run_env (&r, ENV (bad_env [i][0], bad_env [i][1]), ARGS ("--version"));
        if (r.result != CONFIG_EXIT_OK || strncmp (r.out, "TCPChat ", 8) != 0 || *r.err)
            fail_msg ("%s with --version: result %d, err \"%s\"", bad_env [i][0], (int) r.result,
                      r.err);
        run_free (&r);
    }
    //  Before a bad value or an unknown option on the line, or after it.
    const char *const *lines [] = {
        ARGS ("--rate", "fast", "--help"),
        ARGS ("--bogus", "--help"),
        ARGS ("1", "2", "3", "--help"),
        ARGS ("--version", "--max-clients", "x"),
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines [0]; i++) {
        run_t r;
        run_env (&r, NO_ENV, lines [i]);
        if (r.result != CONFIG_EXIT_OK || *r.err || !*r.out)
            fail_msg ("line %zu: result %d, err \"%s\"", i, (int) r.result, r.err);
        run_free (&r);
    }
    //  A value is a value: --data-dir --help names a directory.
    run_t r;
    run_env (&r, NO_ENV, ARGS ("--data-dir", "--help"));
    assert_int_equal (r.result, CONFIG_RUN);
    assert_string_equal (r.cfg.data_dir, "--help");
    assert_string_equal (r.out, "");
    run_free (&r);
}

/*  Issue 12: a flag wins over its variable even when the variable would
    be an error (TCPCHAT_RATE=fast ./TCPChat --rate 5 runs).             */
static void
test_flag_wins_over_invalid_environment (void **state)
{
    (void) state;
    char too_long [600];
    memset (too_long, 'd', 599);
    too_long [599] = 0;
    run_t r;
    run_env (&r,
             ENV ("TCPCHAT_RATE", "fast", "TCPCHAT_PORT", "abc", "TCPCHAT_MAX_CLIENTS", "0",
                  "TCPCHAT_DATA_DIR", too_long, "TCPCHAT_BIND", too_long),
             ARGS ("--rate", "5", "--max-clients=3", "--data-dir", "/d", "--bind", "::1", "2525"));
    assert_int_equal (r.result, CONFIG_RUN);
    assert_int_equal (r.cfg.rate, 5);
    assert_int_equal (r.cfg.max_clients, 3);
    assert_int_equal (r.cfg.port, 2525);
    assert_string_equal (r.cfg.data_dir, "/d");
    assert_string_equal (r.cfg.bind, "::1");
    assert_string_equal (r.err, "");
    run_free (&r);

    //  Without the flag the bad variable is still an error.
    run_env (&r, ENV ("TCPCHAT_RATE", "fast"), ARGS ("--max-clients", "3"));
    assert_int_equal (r.result, CONFIG_EXIT_BAD);
    assert_one_error_line (&r);
    run_free (&r);
    //  A flag's value that looks like the port is not the port.
    run_env (&r, ENV ("TCPCHAT_PORT", "abc"), ARGS ("--history", "5"));
    assert_int_equal (r.result, CONFIG_EXIT_BAD);
    assert_one_error_line (&r);
    run_free (&r);
}

/*  --health: the probe, on the port and address the server would use.  */
static void
test_health_option (void **state)
{
    (void) state;
    run_t r;
    run_env (&r, ENV ("TCPCHAT_PORT", "2600"), ARGS ("--health"));
    assert_int_equal (r.result, CONFIG_HEALTH);
    assert_int_equal (r.cfg.port, 2600);
    assert_silent (&r);
    run_free (&r);

    run_env (&r, NO_ENV, ARGS ("--bind", "localhost", "--health", "7000"));
    assert_int_equal (r.result, CONFIG_HEALTH);
    assert_int_equal (r.cfg.port, 7000);
    assert_string_equal (r.cfg.bind, "localhost");
    run_free (&r);

    run_env (&r, NO_ENV, ARGS ("--health", "--history", "x"));
    assert_int_equal (r.result, CONFIG_EXIT_BAD);
    run_free (&r);
}

/* ------------------------------------------------------------------ */
/*  Environment                                                        */

static void
test_environment_is_honoured (void **state)
{
    (void) state;
    run_t r;
    run_env (&r,
             ENV ("TCPCHAT_PORT", "2600", "TCPCHAT_BIND", "::1", "TCPCHAT_MAX_CLIENTS", "7",
                  "TCPCHAT_HISTORY", "12", "TCPCHAT_MAX_ROOMS", "3", "TCPCHAT_VERBOSE", "1"),
             NO_ARGS);
    assert_int_equal (r.result, CONFIG_RUN);
    assert_main_settings (&r.cfg, 2600, "::1", 7, 12, 3, true);
    assert_silent (&r);
    run_free (&r);
}

static void
test_environment_each_variable (void **state)
{
    (void) state;
    run_t r;
    run_env (&r, ENV ("TCPCHAT_PORT", "65535"), NO_ARGS);
    assert_int_equal (r.result, CONFIG_RUN);
    assert_int_equal (r.cfg.port, 65535);
    assert_defaults_except_port (&r.cfg);
    run_free (&r);

    run_env (&r, ENV ("TCPCHAT_HISTORY", "0"), NO_ARGS);
    assert_int_equal (r.result, CONFIG_RUN);
    assert_int_equal (r.cfg.history, 0);
    assert_int_equal (r.cfg.port, 8989);
    run_free (&r);

    run_env (&r, ENV ("TCPCHAT_VERBOSE", "0"), NO_ARGS);
    assert_int_equal (r.result, CONFIG_RUN);
    assert_false (r.cfg.verbose);
    run_free (&r);

    //  An empty TCPCHAT_BIND means "not set".
    run_env (&r, ENV ("TCPCHAT_BIND", ""), NO_ARGS);
    assert_int_equal (r.result, CONFIG_RUN);
    assert_string_equal (r.cfg.bind, "");
    run_free (&r);
}

static void
test_flags_win_over_environment (void **state)
{
    (void) state;
    run_t r;
    run_env (&r,
             ENV ("TCPCHAT_PORT", "2600", "TCPCHAT_BIND", "::1", "TCPCHAT_MAX_CLIENTS", "7",
                  "TCPCHAT_HISTORY", "12", "TCPCHAT_MAX_ROOMS", "3", "TCPCHAT_VERBOSE", "0"),
             ARGS ("--bind", "127.0.0.1", "--max-clients=8", "--history", "13", "--max-rooms", "4",
                   "--verbose", "2700"));
    assert_int_equal (r.result, CONFIG_RUN);
    assert_main_settings (&r.cfg, 2700, "127.0.0.1", 8, 13, 4, true);
    assert_silent (&r);
    run_free (&r);
}

static void
test_bad_environment_values (void **state)
{
    (void) state;
    const char *const cases [][2] = {
        {"TCPCHAT_PORT", "abc"},      {"TCPCHAT_PORT", "0"},           {"TCPCHAT_PORT", "65536"},
        {"TCPCHAT_MAX_CLIENTS", "0"}, {"TCPCHAT_MAX_CLIENTS", "many"}, {"TCPCHAT_HISTORY", "-1"},
        {"TCPCHAT_MAX_ROOMS", "0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        run_t r;
        run_env (&r, ENV (cases [i][0], cases [i][1]), NO_ARGS);
        if (r.result != CONFIG_EXIT_BAD)
            fail_msg ("%s='%s': result %d", cases [i][0], cases [i][1], (int) r.result);
        assert_one_error_line (&r);
        run_free (&r);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_defaults),
        cmocka_unit_test (test_no_arguments_runs_with_defaults),
        cmocka_unit_test (test_positional_port),
        cmocka_unit_test (test_two_positionals_print_usage),
        cmocka_unit_test (test_bad_ports_print_usage),
        cmocka_unit_test (test_bind_option),
        cmocka_unit_test (test_int_options),
        cmocka_unit_test (test_limit_options),
        cmocka_unit_test (test_path_options),
        cmocka_unit_test (test_all_options_together),
        cmocka_unit_test (test_verbose_flag),
        cmocka_unit_test (test_http_options),
        cmocka_unit_test (test_cluster_url),
        cmocka_unit_test (test_cluster_node_and_lease),
        cmocka_unit_test (test_cluster_options_together),
        cmocka_unit_test (test_bad_option_values),
        cmocka_unit_test (test_missing_value),
        cmocka_unit_test (test_unknown_option),
        cmocka_unit_test (test_help_and_version),
        cmocka_unit_test (test_help_and_version_despite_bad_environment),
        cmocka_unit_test (test_flag_wins_over_invalid_environment),
        cmocka_unit_test (test_health_option),
        cmocka_unit_test (test_environment_is_honoured),
        cmocka_unit_test (test_environment_each_variable),
        cmocka_unit_test (test_flags_win_over_environment),
        cmocka_unit_test (test_bad_environment_values),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
