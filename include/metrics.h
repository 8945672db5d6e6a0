/* SPDX-License-Identifier: MIT */
/*  metrics: the figures an operator scrapes from /metrics, and their
    Prometheus text exposition (format 0.0.4).

    Each figure has one owner that counts it: every gateway counts its own
    (clients, lines, deliveries, ...: metrics_gateway_figure_t) and the hub
    its own (rooms, members, ...: metrics_hub_figure_t). A gateway reports
    its figures to the hub in STATS, at most once a second and only when
    one changed; the hub keeps the latest of each gateway and, asked with
    SCRAPE, renders the whole body with metrics_render and answers METRICS
    (src/messages.c). No figure is shared between threads: each travels
    inside a message.

    The families (name, type, help) are one table in src/metrics.c;
    docs/OPERATIONS.md ("Metrics") says what each means. The families
    counted by gateways carry the label transport="tcp" (gateway 0) or
    "web" (gateway 1); the hub's carry none.

    Pure: no I/O, no allocation but the output buffer's.                */
#ifndef TCPCHAT_METRICS_H
#define TCPCHAT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/*  What each gateway counts, in the order of the values of its STATS.
    Counters only grow; the two gauges are what is true now.             */
typedef enum {
    METRICS_GW_CLIENTS,       /* gauge: connections open now */
    METRICS_GW_CONNECTIONS,   /* connections accepted */
    METRICS_GW_LINES_IN,      /* chat lines and commands from clients in a room */
    METRICS_GW_LINES_OUT,     /* OUT messages received from rooms */
    METRICS_GW_DELIVERIES,    /* an OUT's text queued to one client */
    METRICS_GW_SLOW_CUT,      /* clients cut over --max-backlog */
    METRICS_GW_THROTTLED,     /* times a client hit --rate */
    METRICS_GW_BACKLOG_BYTES, /* gauge: bytes queued that clients have not taken */
    METRICS_GW_REFUSED_FULL,  /* connections refused: chat full */
    METRICS_GW_NAME_TIMEOUTS, /* clients closed at the name prompt by --name-timeout */
    METRICS_GW_FIGURES        /* how many */
} metrics_gw_figure_t;

/*  What the hub counts.                                                 */
typedef enum {
    METRICS_HUB_ROOMS,          /* gauge: rooms running now */
    METRICS_HUB_MEMBERS,        /* gauge: named clients, each in a room */
    METRICS_HUB_NAME_REFUSALS,  /* names refused at the name prompt */
    METRICS_HUB_ROOMS_CREATED,  /* rooms started */
    METRICS_HUB_UPTIME_SECONDS, /* gauge: since the hub started */
    METRICS_HUB_FIGURES         /* how many */
} metrics_hub_figure_t;

/*  Everything one exposition shows. gateway [g] is gateway g's latest
    STATS (all zeros until its first: nothing had changed).              */
typedef struct {
    const char *version; /* tcpchat_build_info's label: config_version () */
    uint64_t    hub [METRICS_HUB_FIGURES];
    const uint64_t (*gateway) [METRICS_GW_FIGURES];
    size_t gateways; /* rows in gateway */
    //  Cluster mode only (--cluster): the Redis link, as the cluster
    //  actor last reported it. Without cluster, these families are absent.
    bool     cluster;
    uint64_t cluster_up;   /* 1 linked, 0 not (yet) */
    uint64_t cluster_held; /* publishes held while the link is down */
} metrics_t;

/*  The transport label of gateway g: "tcp" for 0, "web" for 1. A
    gateway past those (none today) is "gatewayN", so no two series of a
    family ever share their labels. out holds METRICS_TRANSPORT_SIZE.   */
#define METRICS_TRANSPORT_SIZE 32
void metrics_transport (size_t gateway, char out [METRICS_TRANSPORT_SIZE]);

/*  Appends the exposition of metrics to out: each family's # HELP and
    # TYPE lines once, then its samples together, one per gateway for the
    gateways' families; every line ends in '\n'. Label values and help
    texts are escaped as the format says (\\, \" and \n).                */
void metrics_render (buf_t *out, const metrics_t *metrics);

/*  Reads the values part of a STATS into figures: false, figures left as
    they were, when it does not hold exactly METRICS_GW_FIGURES values.  */
bool metrics_gw_read (const void *data, size_t size, uint64_t figures [METRICS_GW_FIGURES]);

/*  A gateway's STATS clock: it looks at its figures once a second at
    most (metrics_reporter_due), and reports them only when one changed
    since its last report (metrics_reporter_take). The gateway owns its
    figures and reads its gauges between the two calls; a zeroed
    reporter is due at once and has reported all zeros.                  */
#define METRICS_REPORT_EVERY_MS 1000
typedef struct {
    uint64_t reported [METRICS_GW_FIGURES]; /* as the last STATS said */
    int64_t  next_ms;                       /* ms clock: not due before */
} metrics_reporter_t;

/*  True when now_ms has reached the next look, which is then put a
    METRICS_REPORT_EVERY_MS on from now_ms.                              */
bool metrics_reporter_due (metrics_reporter_t *reporter, int64_t now_ms);

/*  True when figures differ from the last report.                       */
bool metrics_reporter_changed (const metrics_reporter_t *reporter,
                               const uint64_t            figures [METRICS_GW_FIGURES]);

/*  As metrics_reporter_changed, and when true figures become the last
    report: the caller sends them now.                                   */
bool metrics_reporter_take (metrics_reporter_t *reporter,
                            const uint64_t      figures [METRICS_GW_FIGURES]);

/*  The Content-Type of the exposition, for the web gateway's reply.     */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
