/* SPDX-License-Identifier: MIT */
/*  bench/report.c: turns the JSON lines that loadgen appends (one per run)
    into Markdown tables: per scenario, one row per server with the median
    of its runs and their min-max, then one row per peer with the ratio
    TCPChat/peer of the medians. With --targets, also checks TCPChat's
    figures against the targets of issue 5.

    Usage: report [--targets] FILE.jsonl...
*/

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS    4096
#define MAX_NAMES   64
#define MAX_VALUES  64

enum {
    F_DPS, F_LOST, F_P50, F_P99, F_P999, F_SETUP99, F_CPU, F_DPCPU, F_RSS,
    F_OTHER, F_COUNT
};

static const struct {
    const char *key;        /* JSON key */
    const char *title;      /* column title */
    int         kind;       /* formatting, see fmt_value */
    bool        ratio;      /* a TCPChat/peer ratio means something */
} figures [F_COUNT] = {
    { "deliveries_per_s",     "deliveries/s",       0, true  },
    { "lost",                 "lost",               1, false },
    { "lat_p50_ms",           "p50 ms",             2, true  },
    { "lat_p99_ms",           "p99 ms",             2, true  },
    { "lat_p999_ms",          "p99.9 ms",           2, true  },
    { "setup_p99_ms",         "setup p99 ms",       2, true  },
    { "server_cpu_s",         "server CPU s",       3, true  },
    { "deliveries_per_cpu_s", "deliveries/CPU-s",   4, true  },
    { "rss_per_client_kib",   "RSS KiB/client",     3, true  },
    { "other_cpu_s",          "other load",         3, false },   /* / window_s */
};

typedef struct {
    char   server [32];
    char   scenario [32];
    char   error [256];
    bool   ok;
    int    clients, rooms, lines;
    double rate, offered;
    double fig [F_COUNT];
    double disconnects, dups, reordered;
} run_t;

static run_t runs [MAX_RUNS];
static int   nruns;

/* ------------------------------------------------------ tiny JSON reader */

static const char *
find_key (const char *line, const char *key)
{
    char pattern [64];
    snprintf (pattern, sizeof pattern, "\"%s\":", key);
    const char *p = strstr (line, pattern);
    return p? p + strlen (pattern): NULL;
}

static bool
get_num (const char *line, const char *key, double *out)
{
    const char *p = find_key (line, key);
    if (!p)
        return false;
    char *end;
    double v = strtod (p, &end);
    if (end == p)
        return false;
    *out = v;
    return true;
}

static void
get_str (const char *line, const char *key, char *out, size_t size)
{
    out [0] = 0;
    const char *p = find_key (line, key);
    if (!p || *p != '"')
        return;
    p++;
    size_t n = 0;
    while (*p && *p != '"' && n + 1 < size) {
        if (*p == '\\' && p [1])
            p++;
        out [n++] = *p++;
    }
    out [n] = 0;
}

static void
load (const char *path)
{
    FILE *f = fopen (path, "r");
    if (!f) {
        fprintf (stderr, "report: cannot read %s\n", path);
        exit (2);
    }
    char line [8192];
    while (fgets (line, sizeof line, f) && nruns < MAX_RUNS) {
        if (line [0] != '{')
            continue;
        run_t *r = &runs [nruns];
        memset (r, 0, sizeof *r);
        get_str (line, "server", r->server, sizeof r->server);
        get_str (line, "scenario", r->scenario, sizeof r->scenario);
        get_str (line, "error", r->error, sizeof r->error);
        if (!r->server [0] || !r->scenario [0])
            continue;
        r->ok = strstr (line, "\"ok\":true") != NULL;
        double v;
        r->clients = get_num (line, "clients", &v)? (int) v: 0;
        r->rooms = get_num (line, "rooms", &v)? (int) v: 0;
        r->lines = get_num (line, "lines", &v)? (int) v: 0;
        r->rate = get_num (line, "rate", &v)? v: 0;
        r->offered = get_num (line, "offered_dps", &v)? v: 0;
        r->disconnects = get_num (line, "disconnects", &v)? v: 0;
        r->dups = get_num (line, "dups", &v)? v: 0;
        r->reordered = get_num (line, "reordered", &v)? v: 0;
        for (int i = 0; i < F_COUNT; i++)
            r->fig [i] = get_num (line, figures [i].key, &v)? v: -1;
        /* other load: CPUs busy with anything but server and loadgen */
        double window;
        if (r->fig [F_OTHER] >= 0 && get_num (line, "window_s", &window) && window > 0)
            r->fig [F_OTHER] /= window;
        else
            r->fig [F_OTHER] = -1;
        nruns++;
    }
    fclose (f);
}

/* ------------------------------------------------------------- figures */

static int
cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

typedef struct {
    int    n;               /* values known */
    double median, min, max;
} stat_t;

static stat_t
stat_of (const char *server, const char *scenario, int fig)
{
    double v [MAX_VALUES];
    int n = 0;
    for (int i = 0; i < nruns && n < MAX_VALUES; i++) {
        const run_t *r = &runs [i];
        if (r->ok && strcmp (r->server, server) == 0 && strcmp (r->scenario, scenario) == 0
        &&  r->fig [fig] >= 0)
            v [n++] = r->fig [fig];
    }
    stat_t s = { n, 0, 0, 0 };
    if (n == 0)
        return s;
    qsort (v, (size_t) n, sizeof *v, cmp_double);
    s.min = v [0];
    s.max = v [n - 1];
    s.median = n % 2? v [n / 2]: (v [n / 2 - 1] + v [n / 2]) / 2;
    return s;
}

static void
fmt_value (char *out, size_t size, int kind, double v)
{
    switch (kind) {
        case 0:     /* a rate: k or M */
            if (v >= 1e6) snprintf (out, size, "%.2f M", v / 1e6);
            else          snprintf (out, size, "%.1f k", v / 1e3);
            break;
        case 1:     snprintf (out, size, "%.0f", v); break;
        case 2:     /* ms */
            if (v >= 100)     snprintf (out, size, "%.0f", v);
            else if (v >= 10) snprintf (out, size, "%.1f", v);
            else              snprintf (out, size, "%.2f", v);
            break;
        case 3:     snprintf (out, size, "%.2f", v); break;
        case 4:     snprintf (out, size, "%.2f M", v / 1e6); break;
    }
}

static void
fmt_stat (char *out, size_t size, int kind, stat_t s)
{
    if (s.n == 0) {
        snprintf (out, size, "–");
        return;
    }
    char a [32], b [32], c [32];
    fmt_value (a, sizeof a, kind, s.median);
    if (s.n == 1) {
        snprintf (out, size, "%s", a);
        return;
    }
    fmt_value (b, sizeof b, kind, s.min);
    fmt_value (c, sizeof c, kind, s.max);
    snprintf (out, size, "%s (%s–%s)", a, b, c);
}

static const char *
display (const char *server)
{
    if (strcmp (server, "tcpchat") == 0) return "TCPChat";
    if (strcmp (server, "ngircd") == 0) return "ngircd";
    if (strcmp (server, "inspircd") == 0) return "InspIRCd";
    return server;
}

/* distinct values of a field, in order of first appearance */
static int
distinct (char names [][32], bool scenarios)
{
    int n = 0;
    for (int i = 0; i < nruns; i++) {
        const char *v = scenarios? runs [i].scenario: runs [i].server;
        bool seen = false;
        for (int j = 0; j < n; j++)
            if (strcmp (names [j], v) == 0)
                seen = true;
        if (!seen && n < MAX_NAMES)
            snprintf (names [n++], 32, "%s", v);
    }
    return n;
}

static char servers [MAX_NAMES][32], scenarios [MAX_NAMES][32];
static int  nservers, nscenarios;

static void
print_scenario (const char *scen)
{
    const run_t *any = NULL;
    for (int i = 0; i < nruns; i++)
        if (strcmp (runs [i].scenario, scen) == 0) {
            any = &runs [i];
            break;
        }
    char offered [32];
    fmt_value (offered, sizeof offered, 0, any->offered);
    printf ("### %s: %d client%s in %d room%s, %g lines/s each, %d line%s each"
            " (offered %s deliveries/s)\n\n", scen, any->clients, any->clients == 1? "": "s",
            any->rooms, any->rooms == 1? "": "s", any->rate, any->lines,
            any->lines == 1? "": "s", offered);
    printf ("| server | runs |");
    for (int f = 0; f < F_COUNT; f++)
        printf (" %s |", figures [f].title);
    printf ("\n|---|---|");
    for (int f = 0; f < F_COUNT; f++)
        printf ("---|");
    printf ("\n");
    bool have_tcpchat = false;
    char notes [16][400];
    int nnotes = 0;
    for (int s = 0; s < nservers; s++) {
        int total = 0, ok = 0;
        const char *error = "";
        double disc = 0, dups = 0, reord = 0;
        for (int i = 0; i < nruns; i++)
            if (strcmp (runs [i].server, servers [s]) == 0
            &&  strcmp (runs [i].scenario, scen) == 0) {
                total++;
                if (runs [i].ok) {
                    ok++;
                    disc += runs [i].disconnects;
                    dups += runs [i].dups;
                    reord += runs [i].reordered;
                }
                else
                    error = runs [i].error;
            }
        if (total == 0)
            continue;
        if (strcmp (servers [s], "tcpchat") == 0 && ok > 0)
            have_tcpchat = true;
        printf ("| %s | %d/%d |", display (servers [s]), ok, total);
        for (int f = 0; f < F_COUNT; f++) {
            char cell [128];
            fmt_stat (cell, sizeof cell, figures [f].kind, stat_of (servers [s], scen, f));
            printf (" %s |", cell);
        }
        printf ("\n");
        if (ok < total && nnotes < 16)
            snprintf (notes [nnotes++], sizeof notes [0], "%s: %d of %d runs failed setup (%s)",
                      display (servers [s]), total - ok, total, error);
        if ((disc > 0 || dups > 0 || reord > 0) && nnotes < 16)
            snprintf (notes [nnotes++], sizeof notes [0],
                      "%s: over its runs %.0f clients disconnected, %.0f lines duplicated, %.0f out of order",
                      display (servers [s]), disc, dups, reord);
    }
    if (have_tcpchat)
        for (int s = 0; s < nservers; s++) {
            if (strcmp (servers [s], "tcpchat") == 0)
                continue;
            bool present = false;
            for (int i = 0; i < nruns; i++)
                if (strcmp (runs [i].server, servers [s]) == 0
                &&  strcmp (runs [i].scenario, scen) == 0)
                    present = true;
            if (!present)
                continue;
            printf ("| TCPChat/%s | |", display (servers [s]));
            for (int f = 0; f < F_COUNT; f++) {
                stat_t a = stat_of ("tcpchat", scen, f);
                stat_t b = stat_of (servers [s], scen, f);
                if (figures [f].ratio && a.n && b.n && b.median > 0)
                    printf (" %.2f |", a.median / b.median);
                else
                    printf (" – |");
            }
            printf ("\n");
        }
    printf ("\n");
    for (int i = 0; i < nnotes; i++)
        printf ("- %s\n", notes [i]);
    if (nnotes)
        printf ("\n");
}

/* ------------------------------------------------------------- targets */

static int checks, passed;

static void
check (bool known, bool ok, const char *what, const char *fmt, double value)
{
    char v [64];
    if (known)
        snprintf (v, sizeof v, fmt, value);
    else
        snprintf (v, sizeof v, "not measured");
    printf ("| %s | %s | %s |\n", what, v, !known? "–": ok? "met": "**missed**");
    if (known) {
        checks++;
        passed += ok;
    }
}

static bool
have (const char *scen)
{
    for (int i = 0; i < nruns; i++)
        if (strcmp (runs [i].scenario, scen) == 0 && strcmp (runs [i].server, "tcpchat") == 0)
            return true;
    return false;
}

static void
print_targets (void)
{
    printf ("### Issue 5 targets (TCPChat, medians)\n\n");
    printf ("| target | measured | |\n|---|---|---|\n");
    /* no line lost, and every run set up */
    double lost_max = 0;
    int failed = 0, tcpchat_runs = 0;
    for (int i = 0; i < nruns; i++)
        if (strcmp (runs [i].server, "tcpchat") == 0) {
            tcpchat_runs++;
            if (!runs [i].ok)
                failed++;
            else
            if (runs [i].fig [F_LOST] > lost_max)
                lost_max = runs [i].fig [F_LOST];
        }
    check (tcpchat_runs > 0, lost_max == 0 && failed == 0,
           "no line lost in any scenario (worst run)", "%.0f lost", lost_max);
    if (failed)
        printf ("| (%d TCPChat run(s) failed setup) | | **missed** |\n", failed);
    const char *hotter [] = { "hot", "wide-hot" };
    for (int k = 0; k < 2; k++) {
        stat_t a = stat_of ("tcpchat", hotter [k], F_DPCPU);
        stat_t b = stat_of ("inspircd", hotter [k], F_DPCPU);
        char what [96];
        snprintf (what, sizeof what, "%s: deliveries/CPU-s >= 1.2x InspIRCd's", hotter [k]);
        check (a.n && b.n && b.median > 0, a.n && b.n && a.median >= 1.2 * b.median,
               what, "%.2fx", b.median > 0? a.median / b.median: 0);
    }
    stat_t s = stat_of ("tcpchat", "light", F_P50);
    check (s.n, s.median < 1.0, "light: p50 < 1 ms", "%.2f ms", s.median);
    s = stat_of ("tcpchat", "light", F_P99);
    check (s.n, s.median < 5.0, "light: p99 < 5 ms", "%.2f ms", s.median);
    s = stat_of ("tcpchat", "wide-hot", F_P99);
    check (s.n, s.median < 50.0, "wide-hot: p99 < 50 ms", "%.1f ms", s.median);
    const char *five [] = { "wide", "wide-hot" };
    for (int k = 0; k < 2; k++) {
        char what [96];
        snprintf (what, sizeof what, "%s (500 clients): setup p99 < 20 ms", five [k]);
        s = stat_of ("tcpchat", five [k], F_SETUP99);
        check (s.n, s.median < 20.0, what, "%.1f ms", s.median);
    }
    const char *idle [] = { "wide", "c10k" };
    for (int k = 0; k < 2; k++) {
        char what [96];
        snprintf (what, sizeof what, "%s: RSS per connected client <= 3 KiB", idle [k]);
        s = stat_of ("tcpchat", idle [k], F_RSS);
        check (s.n, s.median <= 3.0, what, "%.2f KiB", s.median);
    }
    if (have ("c10k")) {
        int ok = 0, total = 0;
        double lost = 0;
        for (int i = 0; i < nruns; i++)
            if (strcmp (runs [i].server, "tcpchat") == 0 && strcmp (runs [i].scenario, "c10k") == 0) {
                total++;
                if (runs [i].ok) {
                    ok++;
                    lost += runs [i].fig [F_LOST] + runs [i].disconnects;
                }
            }
        check (true, ok == total && lost == 0, "c10k: 10,000 clients held, no loss",
               "%.0f lost or disconnected", lost + (total - ok) * 10000.0);
    }
    printf ("\n%d of %d measured targets met.\n\n", passed, checks);
}

int
main (int argc, char **argv)
{
    bool targets = false;
    int files = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv [i], "--targets") == 0)
            targets = true;
        else
        if (strcmp (argv [i], "--help") == 0) {
            puts ("Usage: report [--targets] FILE.jsonl...");
            return 0;
        }
        else {
            load (argv [i]);
            files++;
        }
    }
    if (!files) {
        fputs ("report: no input file (usage: report [--targets] FILE.jsonl...)\n", stderr);
        return 2;
    }
    if (!nruns) {
        fputs ("report: no runs in the input\n", stderr);
        return 1;
    }
    nservers = distinct (servers, false);
    nscenarios = distinct (scenarios, true);
    for (int s = 0; s < nscenarios; s++)
        print_scenario (scenarios [s]);
    if (targets)
        print_targets ();
    return 0;
}
