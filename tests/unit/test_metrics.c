/* SPDX-License-Identifier: MIT */
/*  Unit tests for metrics: the exposition's exact text (each family's
    HELP and TYPE once, its samples together, one per gateway with its
    transport label), every figure under its own family, the escaping of
    the version label, and the reading of a STATS's values.              */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"

/*  The exposition of metrics, NUL-terminated (caller frees).            */
static char *
render (const metrics_t *metrics)
{
    buf_t out;
    buf_init (&out);
    metrics_render (&out, metrics);
    buf_append (&out, "", 1);
    char *text = strdup (buf_head (&out));
    assert_non_null (text);
    buf_free (&out);
    return text;
}

/*  Every figure distinct: gateway g's figure i is 100 * (g + 1) + i, the
    hub's 1000 + i. So a family showing another's figure is seen.        */
static uint64_t s_gateway [2][METRICS_GW_FIGURES];

static metrics_t
sample (size_t gateways, const char *version)
{
    metrics_t metrics = {.version = version, .gateway = s_gateway, .gateways = gateways};
    for (size_t g = 0; g < 2; g++)
        for (size_t i = 0; i < METRICS_GW_FIGURES; i++)
            s_gateway [g][i] = 100 * (g + 1) + i;
    for (size_t i = 0; i < METRICS_HUB_FIGURES; i++)
        metrics.hub [i] = 1000 + i;
    return metrics;
}

//  The whole exposition, byte for byte, for a TCP and a web gateway.
static const char s_two_gateways [] =
    "# HELP tcpchat_clients Connections open now, at the name prompt or in a room.\n"
    "# TYPE tcpchat_clients gauge\n"
    "tcpchat_clients{transport=\"tcp\"} 100\n"
    "tcpchat_clients{transport=\"web\"} 200\n"
    "# HELP tcpchat_connections_total Connections accepted.\n"
    "# TYPE tcpchat_connections_total counter\n"
    "tcpchat_connections_total{transport=\"tcp\"} 101\n"
    "tcpchat_connections_total{transport=\"web\"} 201\n"
    "# HELP tcpchat_lines_in_total Chat lines and commands received from clients in a room.\n"
    "# TYPE tcpchat_lines_in_total counter\n"
    "tcpchat_lines_in_total{transport=\"tcp\"} 102\n"
    "tcpchat_lines_in_total{transport=\"web\"} 202\n"
    "# HELP tcpchat_lines_out_total Outputs (a line, a notice, a reply) received from rooms.\n"
    "# TYPE tcpchat_lines_out_total counter\n"
    "tcpchat_lines_out_total{transport=\"tcp\"} 103\n"
    "tcpchat_lines_out_total{transport=\"web\"} 203\n"
    "# HELP tcpchat_deliveries_total Room outputs queued to a client: one per recipient of each "
    "output.\n"
    "# TYPE tcpchat_deliveries_total counter\n"
    "tcpchat_deliveries_total{transport=\"tcp\"} 104\n"
    "tcpchat_deliveries_total{transport=\"web\"} 204\n"
    "# HELP tcpchat_slow_clients_cut_total Clients cut for owing more than --max-backlog bytes.\n"
    "# TYPE tcpchat_slow_clients_cut_total counter\n"
    "tcpchat_slow_clients_cut_total{transport=\"tcp\"} 105\n"
    "tcpchat_slow_clients_cut_total{transport=\"web\"} 205\n"
    "# HELP tcpchat_throttled_total Times a client sent faster than --rate and was made to wait.\n"
    "# TYPE tcpchat_throttled_total counter\n"
    "tcpchat_throttled_total{transport=\"tcp\"} 106\n"
    "tcpchat_throttled_total{transport=\"web\"} 206\n"
    "# HELP tcpchat_output_backlog_bytes Bytes queued for clients that they have not taken yet.\n"
    "# TYPE tcpchat_output_backlog_bytes gauge\n"
    "tcpchat_output_backlog_bytes{transport=\"tcp\"} 107\n"
    "tcpchat_output_backlog_bytes{transport=\"web\"} 207\n"
    "# HELP tcpchat_refused_full_total Connections refused because --max-clients were "
    "connected.\n"
    "# TYPE tcpchat_refused_full_total counter\n"
    "tcpchat_refused_full_total{transport=\"tcp\"} 108\n"
    "tcpchat_refused_full_total{transport=\"web\"} 208\n"
    "# HELP tcpchat_name_timeouts_total Connections closed for giving no name within "
    "--name-timeout.\n"
    "# TYPE tcpchat_name_timeouts_total counter\n"
    "tcpchat_name_timeouts_total{transport=\"tcp\"} 109\n"
    "tcpchat_name_timeouts_total{transport=\"web\"} 209\n"
    "# HELP tcpchat_rooms Rooms running now, general included.\n"
    "# TYPE tcpchat_rooms gauge\n"
    "tcpchat_rooms 1000\n"
    "# HELP tcpchat_members Clients with a name now, each in a room.\n"
    "# TYPE tcpchat_members gauge\n"
    "tcpchat_members 1001\n"
    "# HELP tcpchat_name_refusals_total Names refused at the name prompt (taken, look-alike or "
    "not allowed).\n"
    "# TYPE tcpchat_name_refusals_total counter\n"
    "tcpchat_name_refusals_total 1002\n"
    "# HELP tcpchat_rooms_created_total Rooms started: general, rooms restored from --data-dir, "
    "and /join.\n"
    "# TYPE tcpchat_rooms_created_total counter\n"
    "tcpchat_rooms_created_total 1003\n"
    "# HELP tcpchat_uptime_seconds Seconds since the server started.\n"
    "# TYPE tcpchat_uptime_seconds gauge\n"
    "tcpchat_uptime_seconds 1004\n"
    "# HELP tcpchat_build_info The server's version, in the label version; always 1.\n"
    "# TYPE tcpchat_build_info gauge\n"
    "tcpchat_build_info{version=\"1.2.3-4-gabcdef\"} 1\n";

static void
test_exposition_is_exact (void **state)
{
    (void) state;
    metrics_t metrics = sample (2, "1.2.3-4-gabcdef");
    char     *text = render (&metrics);
    assert_string_equal (text, s_two_gateways);
    free (text);
}

/*  Counts the lines of text that start with prefix.                     */
static size_t
lines_starting (const char *text, const char *prefix)
{
    size_t count = 0;
    for (const char *line = text; *line; line = strchr (line, '\n') + 1) {
        assert_non_null (strchr (line, '\n')); /* every line ends in \n */
        count += strncmp (line, prefix, strlen (prefix)) == 0;
    }
    return count;
}

/*  The format's rules, whatever the families: each family's HELP and
    TYPE once, TYPE before its samples, and a family's samples together
    (no sample of a family after another family's header).               */
static void
test_families_are_grouped (void **state)
{
    (void) state;
    metrics_t metrics = sample (2, "v");
    char     *text = render (&metrics);
    char      family [128] = "";
    size_t    families = 0;
    for (char *line = text; *line; line = strchr (line, '\n') + 1) {
        size_t size = (size_t) (strchr (line, '\n') - line);
        if (strncmp (line, "# HELP ", 7) == 0) {
            size_t name = strcspn (line + 7, " ");
            assert_true (name < sizeof family);
            //  A new family: never one seen before.
            char prefix [160];
            snprintf (prefix, sizeof prefix, "# HELP %.*s ", (int) name, line + 7);
            assert_int_equal (lines_starting (text, prefix), 1);
            snprintf (family, sizeof family, "%.*s", (int) name, line + 7);
            families++;
            //  Its TYPE comes next.
            char type [160];
            snprintf (type, sizeof type, "# TYPE %s ", family);
            char *next = strchr (line, '\n') + 1;
            assert_int_equal (strncmp (next, type, strlen (type)), 0);
            assert_int_equal (lines_starting (text, type), 1);
            continue;
        }
        if (strncmp (line, "# TYPE ", 7) == 0)
            continue;
        //  A sample: of the family whose header came last.
        assert_true (*family);
        assert_int_equal (strncmp (line, family, strlen (family)), 0);
        char after = line [strlen (family)];
        assert_true (after == ' ' || after == '{');
        assert_true (size > strlen (family) + 1);
    }
    assert_int_equal (families, METRICS_GW_FIGURES + METRICS_HUB_FIGURES + 1);
    free (text);
}

/*  With the TCP gateway alone, each gateway family has one sample; with
    none, none (the headers stay: the families exist).                   */
static void
test_one_sample_per_gateway (void **state)
{
    (void) state;
    metrics_t metrics = sample (1, "v");
    char     *text = render (&metrics);
    assert_int_equal (lines_starting (text, "tcpchat_clients{"), 1);
    assert_non_null (strstr (text, "\ntcpchat_clients{transport=\"tcp\"} 100\n"));
    assert_null (strstr (text, "transport=\"web\""));
    free (text);
    metrics = sample (0, "v");
    text = render (&metrics);
    assert_int_equal (lines_starting (text, "tcpchat_clients"), 0);
    assert_int_equal (lines_starting (text, "# TYPE tcpchat_clients gauge"), 1);
    assert_non_null (strstr (text, "\ntcpchat_rooms 1000\n"));
    free (text);
}

/*  The transports: 0 tcp, 1 web, and a name of its own for any other,
    so two gateways never share a series.                                */
static void
test_transport_names (void **state)
{
    (void) state;
    char name [METRICS_TRANSPORT_SIZE];
    metrics_transport (0, name);
    assert_string_equal (name, "tcp");
    metrics_transport (1, name);
    assert_string_equal (name, "web");
    metrics_transport (7, name);
    assert_string_equal (name, "gateway7");
}

/*  The version comes from git describe or a VERSION file: whatever it
    holds, the label stays one valid quoted string.                      */
static void
test_version_label_is_escaped (void **state)
{
    (void) state;
    metrics_t metrics = sample (1, "1.0\"x\\y\nz ü");
    char     *text = render (&metrics);
    assert_non_null (strstr (text, "\ntcpchat_build_info{version=\"1.0\\\"x\\\\y\\nz ü\"} 1\n"));
    free (text);
    metrics = sample (1, "");
    text = render (&metrics);
    assert_non_null (strstr (text, "\ntcpchat_build_info{version=\"\"} 1\n"));
    free (text);
}

/*  Figures print in full: a counter's 64 bits, no exponent.             */
static void
test_large_figures (void **state)
{
    (void) state;
    metrics_t metrics = sample (1, "v");
    s_gateway [0][METRICS_GW_DELIVERIES] = UINT64_MAX;
    metrics.hub [METRICS_HUB_UPTIME_SECONDS] = 0;
    char *text = render (&metrics);
    assert_non_null (
        strstr (text, "\ntcpchat_deliveries_total{transport=\"tcp\"} 18446744073709551615\n"));
    assert_non_null (strstr (text, "\ntcpchat_uptime_seconds 0\n"));
    free (text);
}

/*  Appends to what the buffer holds already.                            */
static void
test_render_appends (void **state)
{
    (void) state;
    metrics_t metrics = sample (2, "1.2.3-4-gabcdef");
    buf_t     out;
    buf_init (&out);
    buf_append_str (&out, "before\n");
    metrics_render (&out, &metrics);
    assert_int_equal (buf_size (&out), strlen ("before\n") + strlen (s_two_gateways));
    assert_memory_equal (buf_head (&out), "before\n", 7);
    assert_memory_equal (buf_head (&out) + 7, s_two_gateways, strlen (s_two_gateways));
    buf_free (&out);
}

/*  Cluster mode adds the link's two families after the rest, in the
    same format; without it they are not there at all.                   */
static void
test_cluster_link_families (void **state)
{
    (void) state;
    metrics_t metrics = sample (2, "1.2.3-4-gabcdef");
    metrics.cluster = true;
    metrics.cluster_up = 1;
    metrics.cluster_held = 42;
    buf_t out;
    buf_init (&out);
    metrics_render (&out, &metrics);
    const char *tail =
        "# HELP tcpchat_cluster_link_up Cluster mode: 1 while the node's Redis link is up, "
        "else 0.\n"
        "# TYPE tcpchat_cluster_link_up gauge\n"
        "tcpchat_cluster_link_up 1\n"
        "# HELP tcpchat_cluster_held_publishes Cluster mode: publishes held while Redis is "
        "away (10,000 at most).\n"
        "# TYPE tcpchat_cluster_held_publishes gauge\n"
        "tcpchat_cluster_held_publishes 42\n";
    assert_int_equal (buf_size (&out), strlen (s_two_gateways) + strlen (tail));
    assert_memory_equal (buf_head (&out), s_two_gateways, strlen (s_two_gateways));
    assert_memory_equal (buf_head (&out) + strlen (s_two_gateways), tail, strlen (tail));
    buf_free (&out);
}

/*  STATS values: exactly METRICS_GW_FIGURES of them, else refused and
    the figures kept.                                                    */
static void
test_gw_read (void **state)
{
    (void) state;
    uint64_t sent [METRICS_GW_FIGURES + 1];
    for (size_t i = 0; i <= METRICS_GW_FIGURES; i++)
        sent [i] = 7 * i + 1;
    uint64_t figures [METRICS_GW_FIGURES] = {0};
    assert_true (metrics_gw_read (sent, METRICS_GW_FIGURES * sizeof (uint64_t), figures));
    assert_memory_equal (figures, sent, sizeof figures);
    uint64_t kept [METRICS_GW_FIGURES];
    memcpy (kept, figures, sizeof kept);
    const size_t bad [] = {0, 8, (METRICS_GW_FIGURES - 1) * 8, (METRICS_GW_FIGURES + 1) * 8,
                           METRICS_GW_FIGURES * 8 - 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        memset (sent, 0xEE, sizeof sent);
        assert_false (metrics_gw_read (sent, bad [i], figures));
        assert_memory_equal (figures, kept, sizeof kept);
    }
}

/*  The reporter: due at once when zeroed, then a METRICS_REPORT_EVERY_MS
    after each look (not after each report); a report taken only when a
    figure changed, and taking it makes it the last.                     */
static void
test_reporter (void **state)
{
    (void) state;
    metrics_reporter_t reporter = {0};
    uint64_t           figures [METRICS_GW_FIGURES] = {0};
    assert_true (metrics_reporter_due (&reporter, 5000));
    assert_false (metrics_reporter_changed (&reporter, figures));
    assert_false (metrics_reporter_take (&reporter, figures)); /* all zeros: nothing new */
    assert_false (metrics_reporter_due (&reporter, 5000));
    assert_false (metrics_reporter_due (&reporter, 5000 + METRICS_REPORT_EVERY_MS - 1));
    figures [METRICS_GW_NAME_TIMEOUTS] = 1; /* the last figure counts too */
    assert_true (metrics_reporter_changed (&reporter, figures));
    assert_true (metrics_reporter_due (&reporter, 5000 + METRICS_REPORT_EVERY_MS));
    assert_true (metrics_reporter_take (&reporter, figures));
    assert_memory_equal (reporter.reported, figures, sizeof figures);
    assert_false (metrics_reporter_changed (&reporter, figures));
    assert_false (metrics_reporter_take (&reporter, figures));
    //  A late look: the next is a second after it, not after the last due.
    assert_true (metrics_reporter_due (&reporter, 9000));
    assert_int_equal (reporter.next_ms, 9000 + METRICS_REPORT_EVERY_MS);
    figures [METRICS_GW_CLIENTS] = 3;
    assert_true (metrics_reporter_take (&reporter, figures));
    assert_int_equal (reporter.reported [METRICS_GW_CLIENTS], 3);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_exposition_is_exact),
        cmocka_unit_test (test_families_are_grouped),
        cmocka_unit_test (test_one_sample_per_gateway),
        cmocka_unit_test (test_transport_names),
        cmocka_unit_test (test_version_label_is_escaped),
        cmocka_unit_test (test_large_figures),
        cmocka_unit_test (test_render_appends),
        cmocka_unit_test (test_cluster_link_families),
        cmocka_unit_test (test_gw_read),
        cmocka_unit_test (test_reporter),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
