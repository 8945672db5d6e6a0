/*  TCPChat: a net-cat compatible chat server, built as ZeroMQ actors.

    main parses the configuration, opens the listening socket, starts the
    gateway and the hub (which starts the rooms), and waits for SIGINT or
    SIGTERM. Signals are blocked in every thread and taken here with
    sigwait(), so no actor is ever interrupted and main decides the order
    in which they stop.                                                  */
#include "config.h"
#include "gateway.h"
#include "hub.h"
#include "listener.h"
#include "log.h"
#include "store.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

//  Descriptors the server needs besides one per client: stdio, the log
//  file, the listener, epoll, ZeroMQ's own, and each room's pipes.
#define FDS_FIXED     64
#define FDS_PER_ROOM  8

//  Every connection and every ZeroMQ socket takes a descriptor. Raise the
//  soft limit as far as allowed, then keep max_clients below it, so the
//  server refuses with its "full" text instead of running out (EMFILE).
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
    long reserve = FDS_FIXED + (long) FDS_PER_ROOM * config->max_rooms;
    long room_for_clients = (long) limit.rlim_cur - reserve;
    if (room_for_clients < 1)
        room_for_clients = 1;
    if (config->max_clients > room_for_clients) {
        log_info (log, "max-clients lowered from %d to %ld: the descriptor limit "
                  "(RLIMIT_NOFILE) is %ld", config->max_clients, room_for_clients,
                  (long) limit.rlim_cur);
        config->max_clients = (int) room_for_clients;
    }
}

//  --log-file: opened once here, appended to by every actor.
static bool
s_open_log_file (config_t *config)
{
    if (!*config->log_file)
        return true;
    config->log_fd = open (config->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (config->log_fd < 0) {
        fprintf (stderr, "TCPChat: --log-file %s: %s\n", config->log_file, strerror (errno));
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
        case CONFIG_RUN:        break;
        case CONFIG_EXIT_OK:    return 0;
        case CONFIG_EXIT_USAGE: return 1;
        case CONFIG_EXIT_BAD:   return 2;
    }
    if (!s_open_log_file (&config))
        return 2;
    char error [256];
    if (*config.data_dir && !store_prepare_dir (config.data_dir, error, sizeof error)) {
        fprintf (stderr, "TCPChat: --data-dir %s: %s\n", config.data_dir, error);
        return 2;
    }
    log_t log;
    log_init (&log, "main", STDOUT_FILENO, config.verbose);
    log_also (&log, config.log_fd);

    sigset_t stop_signals;
    sigemptyset (&stop_signals);
    sigaddset (&stop_signals, SIGINT);
    sigaddset (&stop_signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);   //  Inherited by every actor
    signal (SIGPIPE, SIG_IGN);
    s_fit_fd_limit (&config, &log);

    int listener = listener_open (config.bind, config.port, error, sizeof error);
    if (listener < 0) {
        fprintf (stderr, "TCPChat: cannot listen on %s:%d: %s\n",
                 *config.bind? config.bind: "*", config.port, error);
        return 1;
    }
    //  The socket listens from here on: connections wait in its backlog
    //  until the gateway takes them.
    printf ("Listening on the port :%d\n", config.port);

    zsys_handler_set (NULL);            //  Our sigwait takes the signals
    zsys_set_max_sockets (0);           //  One room is one socket pair: no 1024 cap
    zsys_set_logstream (NULL);
    zuuid_t *uuid = zuuid_new ();
    snprintf (config.endpoint, sizeof config.endpoint, "inproc://tcpchat-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);

    //  The hub first: it binds the endpoint the gateway connects to.
    config_t *hub_config = (config_t *) zmalloc (sizeof (config_t));
    *hub_config = config;
    zactor_t *hub = zactor_new (hub_actor, hub_config);
    gateway_args_t *gateway_args = (gateway_args_t *) zmalloc (sizeof (gateway_args_t));
    gateway_args->config = config;
    gateway_args->listener = listener;
    zactor_t *gateway = zactor_new (gateway_actor, gateway_args);

    int signal_number = 0;
    sigwait (&stop_signals, &signal_number);
    log_info (&log, "%s received: shutting down", signal_number == SIGINT? "SIGINT": "SIGTERM");
    //  A second signal ends the process at once. A handler, not SIG_DFL:
    //  as PID 1 in a container the kernel drops default-action signals.
    signal (SIGINT, s_exit_now);
    signal (SIGTERM, s_exit_now);
    pthread_sigmask (SIG_UNBLOCK, &stop_signals, NULL);

    //  The hub first: stopping it stops the rooms, whose last words go
    //  to the gateway, which is still there to take them. The gateway
    //  then tells every client, flushes what they are owed, and closes.
    zactor_destroy (&hub);
    zactor_destroy (&gateway);
    log_info (&log, "stopped");
    if (config.log_fd >= 0)
        close (config.log_fd);
    return 0;
}
