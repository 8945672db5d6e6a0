/* SPDX-License-Identifier: MIT */
/*  config: the command line and its TCPCHAT_* environment variables.

    Parsed once by main; each actor then gets its own copy (config_t holds
    no pointers), so no thread ever reads another thread's memory. The one
    descriptor in it, log_fd, is main's: it hands the file to the log sink
    (log.h) and actors get -1; they write whole lines to stdout only.    */
#ifndef TCPCHAT_CONFIG_H
#define TCPCHAT_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

//  The Makefile passes the version from `git describe` (or the VERSION
//  file of a release tarball).
#ifndef TCPCHAT_VERSION
#    define TCPCHAT_VERSION "unknown"
#endif

//  Exit statuses (docs/PROTOCOL.md, "Command line"; docs/TCPChat.1).
#define TCPCHAT_EXIT_USAGE      1 /* net-cat usage line; --health: no answer */
#define TCPCHAT_EXIT_BAD_OPTION 2 /* a bad option value, --bind that does not resolve */
#define TCPCHAT_EXIT_PORT_BUSY  3 /* another socket holds the port */
#define TCPCHAT_EXIT_NO_LISTEN  4 /* cannot listen otherwise (permission, socket activation) */
#define TCPCHAT_EXIT_START      5 /* the hub or the gateway did not start */

//  Text options' sizes, NUL included. A host name has 253 characters at
//  most (RFC 1035); a path 511, so DIR/<room>.log always fits PATH_MAX.
#define CONFIG_BIND_SIZE     256
#define CONFIG_PATH_SIZE     512
//  A node's name goes into every member key it writes to Redis
//  ("NODE/ID"), so it is kept short: the default, HOSTNAME:PORT, fits.
#define CONFIG_NODE_SIZE     96
//  The server's inproc prefix: "inproc://tcpchat-" and a UUID, 50 bytes.
#define CONFIG_ENDPOINT_SIZE 96

typedef struct {
    int  port;
    char bind [CONFIG_BIND_SIZE]; /* "" = every interface, dual stack; IP or host name */
    int  max_clients;
    int  history; /* chat lines kept per room */
    int  max_rooms;
    int  max_backlog;     /* bytes owed to one client before it is cut */
    int  rate;            /* lines per second per client; 0 = no limit */
    int  name_timeout;    /* seconds at the name prompt; 0 = no limit */
    int  room_idle;       /* seconds an empty room with history lives; 0 = for ever */
    int  connect_rate;    /* new connections a second per address; 0 = no limit */
    int  max_per_address; /* connections open per address; 0 = no limit */
    bool verbose;
    char data_dir [CONFIG_PATH_SIZE];     /* "" = keep history in memory only */
    char log_file [CONFIG_PATH_SIZE];     /* "" = log to stdout only */
    int  log_fd;                          /* log_file opened by main for the sink; -1 in actors */
    char endpoint [CONFIG_ENDPOINT_SIZE]; /* inproc:// prefix unique to this server */
    int  http_port;                       /* the web gateway's; 0 = no web gateway */
    char http_origin [CONFIG_BIND_SIZE * 2]; /* extra origins allowed on /ws, comma-separated */
    //  Cluster mode (docs/CLUSTER.md): all "" / 0 when the node runs alone.
    //  config_parse has checked them together: with `cluster` set, node is
    //  never "" and data_dir always is.
    char cluster [CONFIG_PATH_SIZE];      /* redis://HOST[:PORT][/DB] as given */
    char cluster_host [CONFIG_BIND_SIZE]; /* from it: a host name or an IP (IPv6 unbracketed) */
    int  cluster_port;                    /* from it; 6379 when it names none */
    int  cluster_db;                      /* from it; 0 when it names none */
    char node [CONFIG_NODE_SIZE];         /* printable ASCII, no space nor '/' */
    int  cluster_lease;                   /* seconds a silent node stays a member (10) */
} config_t;

typedef enum {
    CONFIG_RUN,        /* start the server */
    CONFIG_EXIT_OK,    /* --help / --version printed: exit 0 */
    CONFIG_HEALTH,     /* --health: probe a running server */
    CONFIG_EXIT_USAGE, /* net-cat usage line printed: exit 1 */
    CONFIG_EXIT_BAD    /* bad option value explained: exit 2 */
} config_result_t;

void config_defaults (config_t *cfg);

/*  The version --version prints.                                        */
const char *config_version (void);

/*  Reads the environment (through getenv_fn, normally getenv) and then
    argv; a flag wins over its variable, even an invalid one, and --help
    and --version answer whatever else is wrong. Messages go to out
    (usage, help) and err (errors).                                      */
config_result_t config_parse (config_t *cfg, int argc, char **argv,
                              char *(*getenv_fn) (const char *), FILE *out, FILE *err);

#endif
