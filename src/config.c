/* SPDX-License-Identifier: MIT */
/*  config: the command line and its TCPCHAT_* environment variables.  */
#include "config.h"
#include "protocol.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef enum {
    OPTION_INT,
    OPTION_PATH,
    OPTION_BIND,
    OPTION_ORIGINS,
    OPTION_CLUSTER,
    OPTION_NODE
} option_kind_t;

//  Every option that takes a value, with its variable: one table, so a
//  flag and its variable are read, checked and documented alike.
typedef struct {
    const char   *flag; /* "--max-clients" */
    const char   *env;  /* "TCPCHAT_MAX_CLIENTS" */
    option_kind_t kind;
    size_t        offset;   /* of the int or char array in config_t */
    long          min, max; /* an int's range; a path's size is max */
} option_t;

#define INT_OPTION(flag, env, field, min, max)                                                     \
    {                                                                                              \
        flag, env, OPTION_INT, offsetof (config_t, field), min, max                                \
    }
#define TEXT_OPTION(flag, env, kind, field)                                                        \
    {                                                                                              \
        flag, env, kind, offsetof (config_t, field), 1, sizeof ((config_t *) 0)->field             \
    }

static const option_t s_options [] = {
    INT_OPTION ("--max-clients", "TCPCHAT_MAX_CLIENTS", max_clients, 1, 1000000),
    INT_OPTION ("--history", "TCPCHAT_HISTORY", history, 0, 1000000),
    INT_OPTION ("--max-rooms", "TCPCHAT_MAX_ROOMS", max_rooms, 1, 100000),
    INT_OPTION ("--max-backlog", "TCPCHAT_MAX_BACKLOG", max_backlog, 4096, 1000000000),
    INT_OPTION ("--rate", "TCPCHAT_RATE", rate, 0, 1000000),
    INT_OPTION ("--name-timeout", "TCPCHAT_NAME_TIMEOUT", name_timeout, 0, 86400),
    INT_OPTION ("--room-idle", "TCPCHAT_ROOM_IDLE", room_idle, 0, 86400),
    INT_OPTION ("--connect-rate", "TCPCHAT_CONNECT_RATE", connect_rate, 0, 1000000),
    INT_OPTION ("--max-per-address", "TCPCHAT_MAX_PER_ADDRESS", max_per_address, 0, 1000000),
    TEXT_OPTION ("--data-dir", "TCPCHAT_DATA_DIR", OPTION_PATH, data_dir),
    TEXT_OPTION ("--log-file", "TCPCHAT_LOG_FILE", OPTION_PATH, log_file),
    TEXT_OPTION ("--bind", "TCPCHAT_BIND", OPTION_BIND, bind),
    INT_OPTION ("--http", "TCPCHAT_HTTP", http_port, 0, 65535),
    TEXT_OPTION ("--http-origin", "TCPCHAT_HTTP_ORIGIN", OPTION_ORIGINS, http_origin),
    TEXT_OPTION ("--cluster", "TCPCHAT_CLUSTER", OPTION_CLUSTER, cluster),
    TEXT_OPTION ("--node", "TCPCHAT_NODE", OPTION_NODE, node),
    INT_OPTION ("--cluster-lease", "TCPCHAT_CLUSTER_LEASE", cluster_lease, 2, 3600),
};
#define OPTIONS   (sizeof s_options / sizeof s_options [0])
//  Longer than any flag's name ("--max-per-address" is the longest), so
//  a longer word is no flag.
#define FLAG_SIZE 32

static const char s_help [] =
    "Usage: ./TCPChat [OPTIONS] [PORT]\n"
    "A net-cat compatible chat server: connect with `nc HOST PORT`.\n"
    "\n"
    "  PORT                TCP port (default 8989)              env TCPCHAT_PORT\n"
    "  --bind ADDR         listen on ADDR only: an IP address   env TCPCHAT_BIND\n"
    "                      or a host name (default: all)\n"
    "  --max-clients N     connections at once (default 10)     env TCPCHAT_MAX_CLIENTS\n"
    "  --history N         chat lines kept per room (1000)      env TCPCHAT_HISTORY\n"
    "  --max-rooms N       rooms at once (default 64)           env TCPCHAT_MAX_ROOMS\n"
    "  --max-backlog BYTES output owed to one client before it   env TCPCHAT_MAX_BACKLOG\n"
    "                      is disconnected (default 1048576)\n"
    "  --rate N            lines per second a client may send   env TCPCHAT_RATE\n"
    "                      (default 20, bursts of 2N; 0: no limit)\n"
    "  --name-timeout S    seconds allowed at the name prompt   env TCPCHAT_NAME_TIMEOUT\n"
    "                      (default 60; 0: no limit)\n"
    "  --room-idle S       seconds an empty room with history   env TCPCHAT_ROOM_IDLE\n"
    "                      runs before it stops (default 300;\n"
    "                      0: never)\n"
    "  --connect-rate N    new connections a second from one    env TCPCHAT_CONNECT_RATE\n"
    "                      address (an IPv6 /64), bursts of 60N\n"
    "                      (default 1; 0: no limit)\n"
    "  --max-per-address N connections open at once from one    env TCPCHAT_MAX_PER_ADDRESS\n"
    "                      address (default 0: no limit)\n"
    "  --data-dir DIR      keep each room's chat in DIR, and    env TCPCHAT_DATA_DIR\n"
    "                      reload it at start (default: none)\n"
    "  --log-file PATH     append the log to PATH too           env TCPCHAT_LOG_FILE\n"
    "  --http PORT         serve the web chat, /metrics and     env TCPCHAT_HTTP\n"
    "                      /healthz on PORT (default 0: off)\n"
    "  --http-origin LIST  origins a browser may open /ws from  env TCPCHAT_HTTP_ORIGIN\n"
    "                      besides the server's own, comma-\n"
    "                      separated: https://chat.example.org\n"
    "  --cluster URL       join a cluster of nodes sharing      env TCPCHAT_CLUSTER\n"
    "                      names, rooms and history through\n"
    "                      Redis: redis://HOST[:PORT][/DB]\n"
    "                      (default: none, this node alone)\n"
    "  --node NAME         this node's name in the cluster      env TCPCHAT_NODE\n"
    "                      (default HOSTNAME:PORT)\n"
    "  --cluster-lease S   seconds before the cluster reaps a   env TCPCHAT_CLUSTER_LEASE\n"
    "                      silent node's clients (default 10)\n"
    "  --verbose           log every message                    env TCPCHAT_VERBOSE=1\n"
    "  --health            probe the server on PORT (or --bind) and\n"
    "                      exit 0 if it answers, 1 if not (for\n"
    "                      Docker's HEALTHCHECK; never logged)\n"
    "  --help              show this help\n"
    "  --version           show the version\n";

const char *
config_version (void)
{
    return TCPCHAT_VERSION;
}

void
config_defaults (config_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->port = DEFAULT_PORT;
    cfg->max_clients = 10;
    cfg->history = 1000;
    cfg->max_rooms = 64;
    cfg->max_backlog = 1048576;
    cfg->rate = 20;
    cfg->name_timeout = 60;
    cfg->room_idle = 300;
    cfg->connect_rate = 1;
    cfg->cluster_lease = 10;
    cfg->log_fd = -1;
}

//  Plain decimal digits only: strtol would also take "+8", " 8" and "0x8".
static bool
s_parse_number (const char *text, long min, long max, long *value)
{
    if (!text || !*text || strlen (text) > 10)
        return false;
    for (const char *p = text; *p; p++)
        if (!isdigit ((unsigned char) *p))
            return false;
    long v = strtol (text, NULL, 10);
    if (v < min || v > max)
        return false;
    *value = v;
    return true;
}

static bool
s_set_int (config_t *cfg, const option_t *opt, const char *text, const char *source, FILE *err)
{
    long v;
    if (!s_parse_number (text, opt->min, opt->max, &v)) {
        fprintf (err, "TCPChat: %s: '%s' is not a number from %ld to %ld\n", source,
                 text ? text : "", opt->min, opt->max);
        return false;
    }
    *(int *) ((char *) cfg + opt->offset) = (int) v;
    return true;
}

//  scheme://host[:port] and nothing more: what a browser sends as Origin.
static bool
s_origin_valid (const char *origin, size_t size)
{
    size_t scheme = !strncmp (origin, "http://", 7) ? 7 : !strncmp (origin, "https://", 8) ? 8 : 0;
    if (!scheme || size == scheme)
        return false;
    for (size_t i = scheme; i < size; i++)
        if (!isalnum ((unsigned char) origin [i]) && !strchr ("-.:[]_", origin [i]))
            return false;
    return true;
}

//  A comma-separated list of origins, none empty.
static bool
s_origins_valid (const char *text)
{
    for (;;) {
        const char *comma = strchr (text, ',');
        size_t      size = comma ? (size_t) (comma - text) : strlen (text);
        if (!s_origin_valid (text, size))
            return false;
        if (!comma)
            return true;
        text = comma + 1;
    }
}

//  A number that is `size` bytes of text, not NUL-terminated.
static bool
s_parse_part (const char *text, size_t size, long min, long max, long *value)
{
    char number [16];
    if (size >= sizeof number)
        return false;
    memcpy (number, text, size);
    number [size] = 0;
    return s_parse_number (number, min, max, value);
}

//  redis://HOST[:PORT][/DB], HOST a name, an IPv4 address or an IPv6 one
//  in brackets, into cluster_host, cluster_port and cluster_db. Nothing
//  else: no user or password, no rediss:// (TLS), no ?options, which
//  hiredis would not be given, so they must not look accepted.
static bool
s_cluster_parse (config_t *cfg, const char *url)
{
    if (strncmp (url, "redis://", 8) != 0)
        return false;
    const char *host = url + 8;
    const char *end;
    size_t      size;
    if (*host == '[') {
        end = strchr (++host, ']');
        if (!end)
            return false;
        size = (size_t) (end++ - host);
        if (strspn (host, "0123456789abcdefABCDEF:.") < size || !memchr (host, ':', size))
            return false;
    } else {
        size = strcspn (host, ":/");
        end = host + size;
        for (size_t i = 0; i < size; i++)
            if (!isalnum ((unsigned char) host [i]) && !strchr ("-._", host [i]))
                return false;
    }
    long port = 6379, db = 0;
    if (size == 0 || size >= sizeof cfg->cluster_host)
        return false;
    if (*end == ':') {
        size_t digits = strcspn (++end, "/");
        if (!s_parse_part (end, digits, 1, 65535, &port))
            return false;
        end += digits;
    }
    if (*end == '/' ? !s_parse_number (end + 1, 0, 1000000, &db) : *end != 0)
        return false;
    memcpy (cfg->cluster_host, host, size);
    cfg->cluster_host [size] = 0;
    cfg->cluster_port = (int) port;
    cfg->cluster_db = (int) db;
    return true;
}

//  A node name goes into Redis keys and member keys ("NODE/ID") and into
//  log lines: printable ASCII, no space, no '/'.
static bool
s_node_char (char c)
{
    return (unsigned char) c > ' ' && (unsigned char) c < 127 && c != '/';
}

static bool
s_node_valid (const char *text)
{
    for (const char *p = text; *p; p++)
        if (!s_node_char (*p))
            return false;
    return true;
}

static bool
s_text_valid (config_t *cfg, const option_t *opt, const char *text)
{
    if (!text || !*text || strlen (text) >= (size_t) opt->max)
        return false;
    if (opt->kind == OPTION_ORIGINS)
        return s_origins_valid (text);
    if (opt->kind == OPTION_CLUSTER)
        return s_cluster_parse (cfg, text);
    if (opt->kind == OPTION_NODE)
        return s_node_valid (text);
    return true;
}

static bool
s_set_text (config_t *cfg, const option_t *opt, const char *text, const char *source, FILE *err)
{
    if (!s_text_valid (cfg, opt, text)) {
        if (opt->kind == OPTION_CLUSTER)
            fprintf (err,
                     "TCPChat: %s: expects redis://HOST[:PORT][/DB]: HOST a name or an IP "
                     "([::1] for IPv6), PORT 1 to 65535 (6379), DB 0 to 1000000 (0)\n",
                     source);
        else if (opt->kind == OPTION_NODE)
            fprintf (err,
                     "TCPChat: %s: expects a name of 1 to %ld printable ASCII characters, "
                     "no space and no '/'\n",
                     source, opt->max - 1);
        else if (opt->kind == OPTION_ORIGINS)
            fprintf (err,
                     "TCPChat: %s: expects origins like https://chat.example.org, "
                     "comma-separated, %ld bytes at most\n",
                     source, opt->max - 1);
        else if (opt->kind == OPTION_BIND)
            fprintf (err, "TCPChat: %s: expects an IP address or a host name\n", source);
        else
            fprintf (err, "TCPChat: %s: expects a path of 1 to %ld bytes\n", source, opt->max - 1);
        return false;
    }
    strcpy ((char *) cfg + opt->offset, text);
    return true;
}

static bool
s_set_option (config_t *cfg, const option_t *opt, const char *text, const char *source, FILE *err)
{
    return opt->kind == OPTION_INT ? s_set_int (cfg, opt, text, source, err)
                                   : s_set_text (cfg, opt, text, source, err);
}

static bool
s_truthy (const char *text)
{
    return text && (!strcmp (text, "1") || !strcasecmp (text, "true") ||
                    !strcasecmp (text, "yes") || !strcasecmp (text, "on"));
}

//  An empty variable counts as unset, as compose files tend to pass them.
static const char *
s_env (char *(*getenv_fn) (const char *), const char *name)
{
    const char *value = getenv_fn (name);
    return value && *value ? value : NULL;
}

//  "--flag=value" is split into flag and value; anything else is the
//  flag itself, value NULL.
static void
s_split (const char *arg, char *flag, size_t size, const char **value)
{
    const char *eq = strchr (arg, '=');
    *value = NULL;
    if (arg [0] == '-' && arg [1] == '-' && eq && (size_t) (eq - arg) < size) {
        memcpy (flag, arg, eq - arg);
        flag [eq - arg] = 0;
        *value = eq + 1;
    } else
        snprintf (flag, size, "%s", arg);
}

static const option_t *
s_find_option (const char *flag)
{
    for (size_t i = 0; i < OPTIONS; i++)
        if (!strcmp (flag, s_options [i].flag))
            return &s_options [i];
    return NULL;
}

static bool
s_is_option (const char *arg)
{
    return arg [0] == '-' && arg [1] != 0 && !isdigit ((unsigned char) arg [1]);
}

//  Whether argv sets `flag` ("" for the positional port), walking it as
//  config_parse does, so a value is never taken for a flag.
static bool
s_given (int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++) {
        char        name [FLAG_SIZE];
        const char *value;
        s_split (argv [i], name, sizeof name, &value);
        if (*flag ? !strcmp (name, flag) : !s_is_option (argv [i]))
            return true;
        if (s_find_option (name) && !value)
            i++;
    }
    return false;
}

//  The variable of each option the command line does not set: a flag
//  wins over its variable, even over one that would be an error.
static bool
s_read_environment (config_t *cfg, int argc, char **argv, char *(*getenv_fn) (const char *),
                    FILE *err)
{
    for (size_t i = 0; i < OPTIONS; i++) {
        const option_t *opt = &s_options [i];
        const char *value = s_given (argc, argv, opt->flag) ? NULL : s_env (getenv_fn, opt->env);
        if (value && !s_set_option (cfg, opt, value, opt->env, err))
            return false;
    }
    const char *port = s_given (argc, argv, "") ? NULL : s_env (getenv_fn, "TCPCHAT_PORT");
    long        v;
    if (port) {
        if (!s_parse_number (port, 1, 65535, &v)) {
            fprintf (err, "TCPChat: TCPCHAT_PORT: '%s' is not a port from 1 to 65535\n", port);
            return false;
        }
        cfg->port = (int) v;
    }
    cfg->verbose = s_truthy (s_env (getenv_fn, "TCPCHAT_VERBOSE"));
    return true;
}

//  --help and --version work whatever else the line or the environment
//  holds: the first one on the line answers, before anything is parsed.
static bool
s_answer_info (int argc, char **argv, FILE *out)
{
    for (int i = 1; i < argc; i++) {
        char        flag [FLAG_SIZE];
        const char *value;
        s_split (argv [i], flag, sizeof flag, &value);
        if (s_find_option (flag) && !value)
            i++;
        else if (!strcmp (argv [i], "--help") || !strcmp (argv [i], "-h")) {
            fputs (s_help, out);
            return true;
        } else if (!strcmp (argv [i], "--version")) {
            fprintf (out, "TCPChat %s\n", TCPCHAT_VERSION);
            return true;
        }
    }
    return false;
}

//  HOSTNAME:PORT, with whatever the host name holds that a node name may
//  not turned into '-'.
static void
s_default_node (config_t *cfg)
{
    char host [CONFIG_NODE_SIZE - sizeof ":65535"] = "";
    if (gethostname (host, sizeof host) != 0)
        host [0] = 0;
    host [sizeof host - 1] = 0; /* gethostname need not end a long name */
    for (char *p = host; *p; p++)
        if (!s_node_char (*p))
            *p = '-';
    snprintf (cfg->node, sizeof cfg->node, "%s:%d", *host ? host : "localhost", cfg->port);
}

//  The flag or the variable of `flag` that is set, or NULL.
static const char *
s_set_by (int argc, char **argv, char *(*getenv_fn) (const char *), const char *flag)
{
    const option_t *opt = s_find_option (flag);
    if (s_given (argc, argv, flag))
        return flag;
    return s_env (getenv_fn, opt->env) ? opt->env : NULL;
}

//  The cluster's options make sense together only: a node name or a
//  lease without a cluster is a mistake worth stopping for, and history
//  files beside Redis would be two truths about the same rooms.
static bool
s_check_cluster (config_t *cfg, int argc, char **argv, char *(*getenv_fn) (const char *), FILE *err)
{
    if (!*cfg->cluster) {
        const char *orphan = s_set_by (argc, argv, getenv_fn, "--node");
        if (!orphan)
            orphan = s_set_by (argc, argv, getenv_fn, "--cluster-lease");
        if (orphan) {
            fprintf (err,
                     "TCPChat: %s needs --cluster (TCPCHAT_CLUSTER): it only means "
                     "something in a cluster\n",
                     orphan);
            return false;
        }
        return true;
    }
    if (*cfg->data_dir) {
        fputs ("TCPChat: --data-dir and --cluster cannot be used together: in cluster mode the "
               "history lives in Redis\n",
               err);
        return false;
    }
    if (!*cfg->node)
        s_default_node (cfg);
    return true;
}

config_result_t
config_parse (config_t *cfg, int argc, char **argv, char *(*getenv_fn) (const char *), FILE *out,
              FILE *err)
{
    if (s_answer_info (argc, argv, out))
        return CONFIG_EXIT_OK;
    if (!s_read_environment (cfg, argc, argv, getenv_fn, err))
        return CONFIG_EXIT_BAD;

    const char *port = NULL;
    int         positional = 0;
    bool        health = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        //  "--flag=value" and "--flag value" are both accepted
        char        flag [FLAG_SIZE];
        const char *value;
        s_split (arg, flag, sizeof flag, &value);

        const option_t *opt = s_find_option (flag);
        if (opt) {
            if (!value && i + 1 < argc)
                value = argv [++i];
            if (!value) {
                fprintf (err, "TCPChat: %s needs a value\n", flag);
                return CONFIG_EXIT_BAD;
            }
            if (!s_set_option (cfg, opt, value, flag, err))
                return CONFIG_EXIT_BAD;
        } else if (!strcmp (arg, "--verbose"))
            cfg->verbose = true;
        else if (!strcmp (arg, "--health"))
            health = true;
        else if (s_is_option (arg)) {
            fprintf (err, "TCPChat: unknown option '%s' (see --help)\n", arg);
            return CONFIG_EXIT_BAD;
        } else {
            port = arg;
            positional++;
        }
    }
    long v;
    if (positional > 1 || (port && !s_parse_number (port, 1, 65535, &v))) {
        fputs (PROTOCOL_USAGE, out);
        return CONFIG_EXIT_USAGE;
    }
    if (port)
        cfg->port = (int) v;
    if (!s_check_cluster (cfg, argc, argv, getenv_fn, err))
        return CONFIG_EXIT_BAD;
    return health ? CONFIG_HEALTH : CONFIG_RUN;
}
