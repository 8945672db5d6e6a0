/* SPDX-License-Identifier: MIT */
/*  metrics: the families and their Prometheus text exposition. See
    metrics.h; docs/OPERATIONS.md says what each figure means.           */
#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define PREFIX "tcpchat_"

typedef enum {
    FROM_GATEWAY, /* one sample per gateway, labelled with its transport */
    FROM_HUB,     /* one sample */
    FROM_BUILD,   /* tcpchat_build_info: 1, labelled with the version */
    FROM_CLUSTER  /* one sample, in cluster mode only: figure 0 up, 1 held */
} family_source_t;

typedef struct {
    const char     *name; /* after PREFIX */
    const char     *type; /* "counter" or "gauge" */
    family_source_t source;
    int             figure; /* index in the source's figures */
    const char     *help;
} family_t;

//  The families, in the order of the exposition. Counters end in _total,
//  as the format's conventions ask; gauges say what is true now.
// clang-format off
static const family_t s_families [] = {
    { "clients", "gauge", FROM_GATEWAY, METRICS_GW_CLIENTS,
      "Connections open now, at the name prompt or in a room." },
    { "connections_total", "counter", FROM_GATEWAY, METRICS_GW_CONNECTIONS,
      "Connections accepted." },
    { "lines_in_total", "counter", FROM_GATEWAY, METRICS_GW_LINES_IN,
      "Chat lines and commands received from clients in a room." },
    { "lines_out_total", "counter", FROM_GATEWAY, METRICS_GW_LINES_OUT,
      "Outputs (a line, a notice, a reply) received from rooms." },
    { "deliveries_total", "counter", FROM_GATEWAY, METRICS_GW_DELIVERIES,
      "Room outputs queued to a client: one per recipient of each output." },
    { "slow_clients_cut_total", "counter", FROM_GATEWAY, METRICS_GW_SLOW_CUT,
      "Clients cut for owing more than --max-backlog bytes." },
    { "throttled_total", "counter", FROM_GATEWAY, METRICS_GW_THROTTLED,
      "Times a client sent faster than --rate and was made to wait." },
    { "output_backlog_bytes", "gauge", FROM_GATEWAY, METRICS_GW_BACKLOG_BYTES,
      "Bytes queued for clients that they have not taken yet." },
    { "refused_full_total", "counter", FROM_GATEWAY, METRICS_GW_REFUSED_FULL,
      "Connections refused because --max-clients were connected." },
    { "name_timeouts_total", "counter", FROM_GATEWAY, METRICS_GW_NAME_TIMEOUTS,
      "Connections closed for giving no name within --name-timeout." },
    { "rooms", "gauge", FROM_HUB, METRICS_HUB_ROOMS,
      "Rooms running now, general included." },
    { "members", "gauge", FROM_HUB, METRICS_HUB_MEMBERS,
      "Clients with a name now, each in a room." },
    { "name_refusals_total", "counter", FROM_HUB, METRICS_HUB_NAME_REFUSALS,
      "Names refused at the name prompt (taken, look-alike or not allowed)." },
    { "rooms_created_total", "counter", FROM_HUB, METRICS_HUB_ROOMS_CREATED,
      "Rooms started: general, rooms restored from --data-dir, and /join." },
    { "uptime_seconds", "gauge", FROM_HUB, METRICS_HUB_UPTIME_SECONDS,
      "Seconds since the server started." },
    { "build_info", "gauge", FROM_BUILD, 0,
      "The server's version, in the label version; always 1." },
    { "cluster_link_up", "gauge", FROM_CLUSTER, 0,
      "Cluster mode: 1 while the node's Redis link is up, else 0." },
    { "cluster_held_publishes", "gauge", FROM_CLUSTER, 1,
      "Cluster mode: publishes held while Redis is away (10,000 at most)." },
};
// clang-format on

//  Every figure has its family (test_metrics reads each back from the
//  exposition, so none is shown twice or under another's name).
_Static_assert(sizeof s_families / sizeof s_families [0] ==
                   METRICS_GW_FIGURES + METRICS_HUB_FIGURES + 1 + 2,
               "one family per figure, build_info, and the cluster link's two");

void
metrics_transport (size_t gateway, char out [METRICS_TRANSPORT_SIZE])
{
    static const char *names [] = {"tcp", "web"};
    if (gateway < sizeof names / sizeof names [0])
        snprintf (out, METRICS_TRANSPORT_SIZE, "%s", names [gateway]);
    else
        snprintf (out, METRICS_TRANSPORT_SIZE, "gateway%zu", gateway);
}

//  The format's escapes: a backslash and a newline everywhere, a double
//  quote in label values (quoted) only. Anything else goes as it is:
//  the format is UTF-8.
static void
s_append_escaped (buf_t *out, const char *text, bool quoted)
{
    const char *run = text;
    for (const char *p = text; *p; p++) {
        const char *escape = *p == '\\'            ? "\\\\"
                             : *p == '\n'          ? "\\n"
                             : *p == '"' && quoted ? "\\\""
                                                   : NULL;
        if (!escape)
            continue;
        buf_append (out, run, (size_t) (p - run));
        buf_append_str (out, escape);
        run = p + 1;
    }
    buf_append_str (out, run);
}

static void
s_append_header (buf_t *out, const family_t *family)
{
    buf_append_str (out, "# HELP " PREFIX);
    buf_append_str (out, family->name);
    buf_append_str (out, " ");
    s_append_escaped (out, family->help, false);
    buf_append_str (out, "\n# TYPE " PREFIX);
    buf_append_str (out, family->name);
    buf_append_str (out, " ");
    buf_append_str (out, family->type);
    buf_append_str (out, "\n");
}

//  name{label="value"} figure, the label left out when label is NULL.
static void
s_append_sample (buf_t *out, const family_t *family, const char *label, const char *value,
                 uint64_t figure)
{
    buf_append_str (out, PREFIX);
    buf_append_str (out, family->name);
    if (label) {
        buf_append_str (out, "{");
        buf_append_str (out, label);
        buf_append_str (out, "=\"");
        s_append_escaped (out, value, true);
        buf_append_str (out, "\"}");
    }
    char number [24];
    snprintf (number, sizeof number, " %" PRIu64 "\n", figure);
    buf_append_str (out, number);
}

void
metrics_render (buf_t *out, const metrics_t *metrics)
{
    for (size_t i = 0; i < sizeof s_families / sizeof s_families [0]; i++) {
        const family_t *family = &s_families [i];
        if (family->source == FROM_CLUSTER && !metrics->cluster)
            continue;
        s_append_header (out, family);
        switch (family->source) {
            case FROM_GATEWAY:
                for (size_t g = 0; g < metrics->gateways; g++) {
                    char transport [METRICS_TRANSPORT_SIZE];
                    metrics_transport (g, transport);
                    s_append_sample (out, family, "transport", transport,
                                     metrics->gateway [g][family->figure]);
                }
                break;
            case FROM_HUB:
                s_append_sample (out, family, NULL, NULL, metrics->hub [family->figure]);
                break;
            case FROM_BUILD:
                s_append_sample (out, family, "version", metrics->version, 1);
                break;
            case FROM_CLUSTER:
                s_append_sample (out, family, NULL, NULL,
                                 family->figure == 0 ? metrics->cluster_up : metrics->cluster_held);
                break;
        }
    }
}

bool
metrics_gw_read (const void *data, size_t size, uint64_t figures [METRICS_GW_FIGURES])
{
    if (size != METRICS_GW_FIGURES * sizeof (uint64_t))
        return false;
    memcpy (figures, data, size);
    return true;
}

bool
metrics_reporter_due (metrics_reporter_t *reporter, int64_t now_ms)
{
    if (now_ms < reporter->next_ms)
        return false;
    reporter->next_ms = now_ms + METRICS_REPORT_EVERY_MS;
    return true;
}

bool
metrics_reporter_changed (const metrics_reporter_t *reporter,
                          const uint64_t            figures [METRICS_GW_FIGURES])
{
    return memcmp (figures, reporter->reported, sizeof reporter->reported) != 0;
}

bool
metrics_reporter_take (metrics_reporter_t *reporter, const uint64_t figures [METRICS_GW_FIGURES])
{
    if (!metrics_reporter_changed (reporter, figures))
        return false;
    memcpy (reporter->reported, figures, sizeof reporter->reported);
    return true;
}
