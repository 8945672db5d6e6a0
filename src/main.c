/* SPDX-License-Identifier: MIT */
/*  TCPChat: a net-cat compatible chat server, built as ZeroMQ actors.

    main parses the configuration, opens the listening socket, starts the
    hub (which starts the rooms) and the gateway, each of which says
    whether it started (a failed start is exit 5), and waits for SIGINT or
    SIGTERM. Signals are blocked in every thread and taken here with
    sigwait(), so no actor is ever interrupted and main decides the order
    in which they stop.                                                  */
#include "actor.h"
#include "cluster.h"
#include "config.h"
#include "gateway.h"
#include "hub.h"
#include "listener.h"
#include "log.h"
#include "protocol.h"
#include "store.h"
#include "web.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

//  Descriptors the server needs besides one per client: stdio, the log
//  file, the listener, epoll, ZeroMQ's own, and each room's pipes (its
//  actor pipe, its output pipe, its writer's pipe and its file).
#define FDS_FIXED            64
#define FDS_PER_ROOM         8
//  With the web gateway: its sockets beyond its clients (page loads,
//  scrapes: HTTP_SPARE in actors/web.c), and per room its output pipe to
//  the web gateway (both ends) and the copy of it lws polls.
#define FDS_WEB_FIXED        64
#define FDS_WEB_PER_ROOM     3
//  Cluster mode: the cluster actor's two Redis connections and its pipes
//  (fixed), and each room's pipe with it, both ends.
#define FDS_CLUSTER          8
#define FDS_CLUSTER_PER_ROOM 2
//  Rooms are lowered first, but not below this many (nor below what was
//  asked): a server must have somewhere to talk besides general.
#define ROOMS_KEPT           16

//  How long the exit waits for the log writer to write what is left.
#define LOG_SINK_STOP_MS 1000

//  Every connection and every ZeroMQ socket takes a descriptor. Raise the
//  soft limit as far as allowed, then keep max_rooms and max_clients
//  below it, so the server answers with "Too many rooms" or its "full"
//  text instead of running out (EMFILE). Rooms give way first: each
//  costs FDS_PER_ROOM descriptors (and FDS_WEB_PER_ROOM more with the web
//  gateway), a client one per gateway (--max-clients is per gateway).
//  But only down to what half the budget affords: a big --max-clients
//  must not squeeze the rooms down to a handful while most of the
//  descriptors sit unused.
static void
s_fit_fd_limit (config_t *config, const log_t *log)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
        return;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
            getrlimit (RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur == RLIM_INFINITY)
        return;
    bool web = config->http_port > 0;
    bool cluster = *config->cluster != 0;
    long fixed = FDS_FIXED + (web ? FDS_WEB_FIXED : 0) + (cluster ? FDS_CLUSTER : 0);
    long per_room =
        FDS_PER_ROOM + (web ? FDS_WEB_PER_ROOM : 0) + (cluster ? FDS_CLUSTER_PER_ROOM : 0);
    long gateways = web ? 2 : 1;
    long total = (long) limit.rlim_cur;
    long clients = gateways * config->max_clients;
    long spare = total - fixed - per_room * config->max_rooms - clients;
    if (spare < 0) {
        long budget = total - fixed;
        long floor = config->max_rooms < ROOMS_KEPT ? config->max_rooms : ROOMS_KEPT;
        long rooms = (budget - clients) / per_room;
        if (rooms < budget / 2 / per_room)
            rooms = budget / 2 / per_room;
        if (rooms < floor)
            rooms = floor;
        if (rooms < config->max_rooms) {
            log_info (log,
                      "max-rooms lowered from %d to %ld: the descriptor limit "
                      "(RLIMIT_NOFILE) is %ld",
                      config->max_rooms, rooms, total);
            config->max_rooms = (int) rooms;
        }
    }
    long room_for_clients = (total - fixed - per_room * config->max_rooms) / gateways;
    if (room_for_clients < 1)
        room_for_clients = 1;
    if (config->max_clients > room_for_clients) {
        log_info (log,
                  "max-clients lowered from %d to %ld: the descriptor limit "
                  "(RLIMIT_NOFILE) is %ld",
                  config->max_clients, room_for_clients, total);
        config->max_clients = (int) room_for_clients;
    }
}

//  --log-file: opened once here and handed to the log sink, which alone
//  writes it. Anything but a regular file is refused: a FIFO nobody reads
//  would hang the start, a device or a directory is a mistake.
static bool
s_open_log_file (config_t *config)
{
    if (!*config->log_file)
        return true;
    char error [LOG_REASON_SIZE];
    config->log_fd = log_open_file (config->log_file, error, sizeof error);
    if (config->log_fd < 0) {
        fprintf (stderr, "TCPChat: --log-file %s: %s\n", config->log_file, error);
        return false;
    }
    return true;
}

//  From here on every actor's stdout is the sink's non-blocking pipe, and
//  the file is the sink's alone: actors get no descriptor of it.
static log_sink_t *
s_start_log_sink (config_t *config)
{
    log_sink_t *sink = log_sink_start (config->log_file, config->log_fd);
    if (sink)
        config->log_fd = -1;
    else
        fprintf (stderr, "TCPChat: cannot start the log writer: logging straight to stdout\n");
    return sink;
}

static const char *
s_signal_name (int signal_number)
{
    return signal_number == SIGINT    ? "SIGINT"
           : signal_number == SIGTERM ? "SIGTERM"
           : signal_number == SIGQUIT ? "SIGQUIT"
           : signal_number == SIGHUP  ? "SIGHUP"
           : signal_number == SIGUSR1 ? "SIGUSR1"
                                      : "signal";
}

//  SIGHUP reopens --log-file (logrotate), SIGUSR1 has the log sink say
//  what it has written; SIGINT, SIGTERM and SIGQUIT stop the server, the
//  stop signal is returned.
static int
s_wait_for_stop (const sigset_t *signals, log_sink_t *sink, const log_t *log, const char *log_file)
{
    for (;;) {
        int signal_number = 0;
        if (sigwait (signals, &signal_number) != 0)
            continue;
        if (signal_number == SIGHUP) {
            log_info (log, "SIGHUP received: %s",
                      *log_file ? "reopening --log-file" : "no --log-file to reopen");
            log_sink_reopen (sink);
        } else if (signal_number == SIGUSR1) {
            log_info (log, "SIGUSR1 received: log statistics follow");
            log_sink_report (sink);
        } else
            return signal_number;
    }
}

//  --health: Docker's HEALTHCHECK. One marked connection the gateway
//  answers without logging it or giving it a client slot; with --http,
//  the web gateway's /healthz as well, so both front doors are checked.
static int
s_health (const config_t *config)
{
    char error [LOG_REASON_SIZE] = "";
    if (!listener_probe (config->bind, config->port, 3000, error, sizeof error)) {
        printf ("TCPChat on port %d: %s\n", config->port, error);
        return TCPCHAT_EXIT_USAGE;
    }
    if (config->http_port > 0 &&
        !listener_http_probe (config->bind, config->http_port, 3000, error, sizeof error)) {
        printf ("TCPChat web gateway on port %d: /healthz: %s\n", config->http_port, error);
        return TCPCHAT_EXIT_USAGE;
    }
    if (config->http_port > 0)
        printf ("TCPChat on port %d and /healthz on port %d: OK\n", config->port,
                config->http_port);
    else
        printf ("TCPChat on port %d: OK\n", config->port);
    return 0;
}

//  The socket systemd passed (socket activation), else our own. On
//  failure, says why and sets the documented exit status.
static int
s_open_listener (config_t *config, const log_t *log, int *exit_code)
{
    char error [LOG_REASON_SIZE] = "";
    int  fd = listener_from_systemd (error, sizeof error);
    if (fd > 0) {
        config->port = listener_port (fd);
        log_info (log,
                  "serving on the socket systemd passed (port %d): --bind and PORT "
                  "are not used",
                  config->port);
        return fd;
    }
    if (fd < 0) {
        fprintf (stderr, "TCPChat: %s\n", error);
        *exit_code = TCPCHAT_EXIT_NO_LISTEN;
        return -1;
    }
    fd = listener_open (config->bind, config->port, error, sizeof error);
    if (fd >= 0)
        return fd;
    fprintf (stderr, "TCPChat: cannot listen on %s:%d: %s\n", *config->bind ? config->bind : "*",
             config->port, error);
    *exit_code = fd == LISTENER_BAD_ADDRESS ? TCPCHAT_EXIT_BAD_OPTION
                 : fd == LISTENER_IN_USE    ? TCPCHAT_EXIT_PORT_BUSY
                                            : TCPCHAT_EXIT_NO_LISTEN;
    return -1;
}

//  --http: the web gateway's socket, on --bind as the TCP one, with the
//  same exit statuses when it cannot listen. -1 when there is none.
static int
s_open_http_listener (const config_t *config, int *exit_code)
{
    if (config->http_port <= 0)
        return -1;
    char error [LOG_REASON_SIZE] = "";
    int  fd = listener_open (config->bind, config->http_port, error, sizeof error);
    if (fd >= 0)
        return fd;
    fprintf (stderr, "TCPChat: cannot listen for HTTP on %s:%d: %s\n",
             *config->bind ? config->bind : "*", config->http_port, error);
    *exit_code = fd == LISTENER_BAD_ADDRESS ? TCPCHAT_EXIT_BAD_OPTION
                 : fd == LISTENER_IN_USE    ? TCPCHAT_EXIT_PORT_BUSY
                                            : TCPCHAT_EXIT_NO_LISTEN;
    return -1;
}

//  One line for a failed start: the actor's own log line says why when it
//  gave up itself (ECHILD), else what kept it from running.
static void
s_start_failed (const char *actor, int error)
{
    if (error == ECHILD)
        fprintf (stderr, "TCPChat: the %s did not start (its log says why)\n", actor);
    else
        fprintf (stderr, "TCPChat: cannot start the %s: %s\n", actor, strerror (error));
}

//  The hub first: it binds the endpoints the gateways connect to, and
//  starts room general. Both or neither: a failed start is one error and
//  TCPCHAT_EXIT_START, never a server that listens with nothing behind it.
//  With --cluster, the cluster actor next: it connects to the pipe the
//  hub has bound, and the hub never waits for it.
static bool
s_start_gateways (const config_t *config, int listener, actor_t **hub, actor_t **cluster,
                  actor_t **gateway)
{
    *cluster = NULL;
    //  libzmq starts its own threads, and takes their descriptors, at the
    //  first socket: take them here, where running out is an error, not
    //  inside an actor's first zsock_new, which would abort.
    void *first = zmq_socket (zsys_init (), ZMQ_PAIR);
    if (!first) {
        s_start_failed ("ZeroMQ context", zmq_errno ());
        close (listener);
        return false;
    }
    zmq_close (first);
    hub_args_t *hub_args = (hub_args_t *) zmalloc (sizeof (hub_args_t));
    hub_args->config = *config;
    //  The TCP gateway, and the web gateway with --http: the hub waits
    //  for each to connect.
    hub_args->gateways = 1 + (config->http_port > 0);
    *hub = actor_new (hub_actor, hub_args);
    if (!*hub) {
        s_start_failed ("hub", errno);
        close (listener);
        return false;
    }
    if (*config->cluster) {
        cluster_args_t *cluster_args = (cluster_args_t *) zmalloc (sizeof (cluster_args_t));
        cluster_args->config = *config;
        snprintf (cluster_args->host, sizeof cluster_args->host, "%s", config->cluster_host);
        cluster_args->port = config->cluster_port;
        cluster_args->db = config->cluster_db;
        snprintf (cluster_args->node, sizeof cluster_args->node, "%s", config->node);
        cluster_args->lease_ms = config->cluster_lease * 1000;
        *cluster = actor_new (cluster_actor, cluster_args);
        if (!*cluster) {
            s_start_failed ("cluster", errno);
            actor_destroy (hub);
            close (listener);
            return false;
        }
    }
    gateway_args_t *gateway_args = (gateway_args_t *) zmalloc (sizeof (gateway_args_t));
    gateway_args->config = *config;
    gateway_args->index = 0;
    gateway_args->listener = listener;
    *gateway = actor_new (gateway_actor, gateway_args);
    if (!*gateway) {
        s_start_failed ("gateway", errno);
        //  It waits for the gateway, watching its pipe: it stops at once.
        actor_destroy (hub);
        actor_destroy (cluster);
        return false;
    }
    return true;
}

//  Then, with --http, the web gateway (gateway 1) on the listener main
//  opened for it: all or none, as above.
static bool
s_start_actors (const config_t *config, int listener, int http_listener, actor_t **hub,
                actor_t **cluster, actor_t **gateway, actor_t **web)
{
    *web = NULL;
    if (!s_start_gateways (config, listener, hub, cluster, gateway))
        return false;
    if (http_listener < 0)
        return true;
    web_args_t *web_args = (web_args_t *) zmalloc (sizeof (web_args_t));
    web_args->config = *config;
    web_args->index = 1;
    web_args->listener = http_listener;
    *web = actor_new (web_actor, web_args);
    if (!*web) {
        s_start_failed ("web gateway", errno);
        actor_destroy (hub);
        actor_destroy (cluster);
        actor_destroy (gateway);
        return false;
    }
    return true;
}
static void
s_exit_now (int signal_number)
{
    _exit (128 + signal_number);
}

int
main (int argc, char **argv)
{
    setvbuf (stdout, NULL, _IOLBF, 0);
    config_t config;
    config_defaults (&config);
    switch (config_parse (&config, argc, argv, getenv, stdout, stderr)) {
        case CONFIG_RUN:
            break;
        case CONFIG_EXIT_OK:
            return 0;
        case CONFIG_HEALTH:
            return s_health (&config);
        case CONFIG_EXIT_USAGE:
            return TCPCHAT_EXIT_USAGE;
        case CONFIG_EXIT_BAD:
            return TCPCHAT_EXIT_BAD_OPTION;
    }
    if (!s_open_log_file (&config))
        return TCPCHAT_EXIT_BAD_OPTION;
    log_sink_t *sink = s_start_log_sink (&config);
    char        error [LOG_REASON_SIZE];
    if (*config.data_dir && !store_prepare_dir (config.data_dir, error, sizeof error)) {
        fprintf (stderr, "TCPChat: --data-dir %s: %s\n", config.data_dir, error);
        log_sink_stop (&sink, LOG_SINK_STOP_MS);
        return TCPCHAT_EXIT_BAD_OPTION;
    }
    log_t log;
    log_setup (&log, &config, "main");

    sigset_t stop_signals;
    sigemptyset (&stop_signals);
    sigaddset (&stop_signals, SIGINT);
    sigaddset (&stop_signals, SIGTERM);
    sigaddset (&stop_signals, SIGQUIT);
    sigaddset (&stop_signals, SIGHUP);
    sigaddset (&stop_signals, SIGUSR1);
    pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);  //  Inherited by every actor
    signal (SIGPIPE, SIG_IGN);
    s_fit_fd_limit (&config, &log);

    int exit_code = 0;
    int listener = s_open_listener (&config, &log, &exit_code);
    if (listener < 0) {
        log_sink_stop (&sink, LOG_SINK_STOP_MS);
        return exit_code;
    }
    int http_listener = s_open_http_listener (&config, &exit_code);
    if (exit_code) {
        close (listener);
        log_sink_stop (&sink, LOG_SINK_STOP_MS);
        return exit_code;
    }
    //  The socket listens from here on: connections wait in its backlog
    //  until the gateway takes them.
    printf (PROTOCOL_LISTENING, config.port);

    zsys_handler_set (NULL);   //  Our sigwait takes the signals
    zsys_set_max_sockets (0);  //  One room is one socket pair: no 1024 cap
    zsys_set_logstream (NULL);
    zuuid_t *uuid = zuuid_new ();
    snprintf (config.endpoint, sizeof config.endpoint, "inproc://tcpchat-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);

    actor_t *hub, *cluster, *gateway, *web;
    if (!s_start_actors (&config, listener, http_listener, &hub, &cluster, &gateway, &web)) {
        log_sink_stop (&sink, LOG_SINK_STOP_MS);
        return TCPCHAT_EXIT_START;
    }
    //  Under systemd (Type=notify): ready once the gateway takes clients.
    //  Without NOTIFY_SOCKET this does nothing.
    sd_notifyf (0, "READY=1\nSTATUS=Listening on port %d", config.port);

    int signal_number = s_wait_for_stop (&stop_signals, sink, &log, config.log_file);
    log_info (&log, "%s received: shutting down", s_signal_name (signal_number));
    sd_notify (0, "STOPPING=1");
    //  A second signal ends the process at once. A handler, not SIG_DFL:
    //  as PID 1 in a container the kernel drops default-action signals.
    signal (SIGINT, s_exit_now);
    signal (SIGTERM, s_exit_now);
    signal (SIGQUIT, s_exit_now);
    pthread_sigmask (SIG_UNBLOCK, &stop_signals, NULL);

    //  The hub first: stopping it stops the rooms, whose last words go
    //  to the gateways, which are still there to take them. Each gateway
    //  then tells every client, flushes what they are owed, and closes:
    //  the web one first, as it may be the slower to flush. The cluster
    //  after the hub: the rooms' last publishes are in its pipes, and it
    //  sends what it holds before it ends.
    actor_destroy (&hub);
    actor_destroy (&cluster);
    if (web)
        actor_destroy (&web);
    actor_destroy (&gateway);
    log_info (&log, "stopped");
    if (config.log_fd >= 0)
        close (config.log_fd);
    //  A stuck stdout reader or disk cannot hold the exit for longer.
    log_sink_stop (&sink, LOG_SINK_STOP_MS);
    return 0;
}
