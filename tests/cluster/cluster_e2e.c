/* SPDX-License-Identifier: MIT */
/*  cluster_e2e: Redis and nodes for the cluster tests. See cluster_e2e.h. */
#include "cluster_e2e.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static redis_server_t *s_redis;
static e2e_server_t   *s_nodes [CL_NODES + 1];
static int             s_ports [CL_NODES + 1]; /* 0: never started */

int
cl_setup (void **state)
{
    return e2e_setup (state);
}

int
cl_teardown (void **state)
{
    /*  The nodes first, so none logs Redis going away as a fault.       */
    e2e_teardown (state);
    redis_server_destroy (&s_redis);
    memset (s_nodes, 0, sizeof s_nodes);
    memset (s_ports, 0, sizeof s_ports);
    return 0;
}

redis_server_t *
cl_redis (void)
{
    if (!s_redis) {
        s_redis = redis_server_start ();
        if (!s_redis)
            e2e_fail ("no redis-server could be started (is the redis-server package installed?)");
    }
    return s_redis;
}

void
cl_redis_stop (void)
{
    if (!redis_server_stop (cl_redis ()))
        e2e_fail ("redis-server did not stop");
}

void
cl_redis_restart (void)
{
    if (!redis_server_restart (cl_redis ()))
        e2e_fail ("redis-server did not come back on port %d", redis_server_port (s_redis));
}

static char *
s_read_log (const char *path)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char  *text = malloc (cap);
    size_t n;
    while (text && (n = fread (text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            text = realloc (text, cap);
        }
    }
    fclose (f);
    if (text)
        text [len] = '\0';
    return text;
}

void
cl_wait_log_at (int i, const char *text, int timeout_ms, const char *file, int line)
{
    if (!s_nodes [i])
        e2e_fail_at (file, line, "node n%d is not running", i);
    int64_t deadline = e2e_now_ms () + timeout_ms;
    for (;;) {
        char *log = s_read_log (e2e_log_path (s_nodes [i]));
        bool  found = log && strstr (log, text);
        free (log);
        if (found)
            return;
        if (e2e_now_ms () >= deadline)
            e2e_fail_at (file, line, "node n%d: no \"%s\" in its log (%s) within %d ms", i, text,
                         e2e_log_path (s_nodes [i]), timeout_ms);
        e2e_sleep_ms (50);
    }
}

e2e_server_t *
cl_start_at (int i, const char *const *extra, const char *file, int line)
{
    if (i < 1 || i > CL_NODES || s_nodes [i])
        e2e_fail_at (file, line, "node n%d cannot be started", i);
    const char *args [40];
    size_t      n = 0;
    args [n++] = "--cluster";
    args [n++] = e2e_fmt ("redis://127.0.0.1:%d", redis_server_port (cl_redis ()));
    args [n++] = "--node";
    args [n++] = e2e_fmt ("n%d", i);
    args [n++] = "--cluster-lease";
    args [n++] = e2e_fmt ("%d", CL_LEASE_S);
    args [n++] = "--max-clients";
    args [n++] = e2e_fmt ("%d", CL_MAX_CLIENTS);
    args [n++] = "--rate";
    args [n++] = "0";
    args [n++] = "--connect-rate";
    args [n++] = "0";
    for (size_t k = 0; extra && extra [k] && n < 39; k++)
        args [n++] = extra [k];
    args [n] = NULL;
    e2e_opts_t opts = {.args = args};
    s_nodes [i] = s_ports [i] ? e2e_start_on_at (&opts, s_ports [i], file, line)
                              : e2e_start_at (&opts, file, line);
    s_ports [i] = e2e_port (s_nodes [i]);
    cl_wait_log_at (i, "redis connected at ", CL_UP_MS, file, line);
    return s_nodes [i];
}

e2e_server_t *
cl_node (int i)
{
    return i >= 1 && i <= CL_NODES ? s_nodes [i] : NULL;
}

void
cl_stop_at (int i, const char *file, int line)
{
    e2e_server_t *s = cl_node (i);
    if (!s)
        e2e_fail_at (file, line, "node n%d is not running", i);
    s_nodes [i] = NULL;
    e2e_stop_at (s, file, line);
}

void
cl_kill9_at (int i, const char *file, int line)
{
    e2e_server_t *s = cl_node (i);
    if (!s)
        e2e_fail_at (file, line, "node n%d is not running", i);
    s_nodes [i] = NULL;
    e2e_kill9_at (s, file, line);
}

void
cl_command_at (e2e_client_t *c, const char *cmd, const char *reply, const char *file, int line)
{
    char *msg = e2e_fmt ("%s\n", cmd);
    e2e_send_at (c, msg, strlen (msg), file, line);
    e2e_expect_reply_at (c, reply, file, line);
}

/*  Waits for one reply (bytes up to and with the prompt that ends it):
    its length without the prompt, and the prompt's length.              */
static size_t
s_next_reply (e2e_client_t *c, size_t *prompt_len, int timeout_ms, const char *file, int line)
{
    const char *prompt = e2e_fmt (E2E_TS "[%s]:", e2e_name (c));
    size_t      plen = e2e_pattern_len (prompt);
    int64_t     deadline = e2e_now_ms () + timeout_ms;
    size_t      need = plen;
    for (;;) {
        e2e_peek_at (c, need, (int) (deadline - e2e_now_ms () > 0 ? deadline - e2e_now_ms () : 1),
                     file, line);
        size_t      len;
        const char *buf = e2e_buffered (c, &len);
        for (size_t p = 0; p + plen <= len; p++)
            if ((p == 0 || buf [p - 1] == '\n') && e2e_match (prompt, buf + p, plen)) {
                *prompt_len = plen;
                return p;
            }
        need = len + 1;
    }
}

void
cl_command_until_at (e2e_client_t *c, const char *cmd, const char *reply, int timeout_ms,
                     const char *file, int line)
{
    const char *want = e2e_fmt ("%s\n", reply);
    char       *msg = e2e_fmt ("%s\n", cmd);
    int64_t     deadline = e2e_now_ms () + timeout_ms;
    for (int tries = 1;; tries++) {
        e2e_send_at (c, msg, strlen (msg), file, line);
        size_t      plen, n = s_next_reply (c, &plen, E2E_TIMEOUT_MS, file, line);
        size_t      len;
        const char *buf = e2e_buffered (c, &len);
        bool        ok = e2e_match (want, buf, n);
        char       *got = e2e_escape (buf, n);
        e2e_consume (c, n + plen);
        if (ok)
            return;
        if (e2e_now_ms () >= deadline)
            e2e_fail_at (file, line, "%s: after %d tries over %d ms the reply is still %s", cmd,
                         tries, timeout_ms, got);
        e2e_sleep_ms (200);
    }
}

const char *
cl_reply_at (e2e_client_t *c, const char *cmd, const char *file, int line)
{
    char *msg = e2e_fmt ("%s\n", cmd);
    e2e_send_at (c, msg, strlen (msg), file, line);
    size_t      plen, n = s_next_reply (c, &plen, E2E_TIMEOUT_MS, file, line);
    size_t      len;
    const char *buf = e2e_buffered (c, &len);
    char       *text = e2e_fmt ("%.*s", (int) n, buf);
    e2e_consume (c, n + plen);
    return text;
}

const char *
cl_next_line_at (e2e_client_t *c, int timeout_ms, const char *file, int line)
{
    size_t      plen, n = s_next_reply (c, &plen, timeout_ms, file, line);
    size_t      len;
    const char *buf = e2e_buffered (c, &len);
    if (n < 2 || buf [0] != '\n' || buf [n - 1] != '\n' || memchr (buf + 1, '\n', n - 2))
        e2e_fail_at (file, line, "%s: expected one \"\\nTEXT\\n\" and the prompt, got %s",
                     e2e_name (c), e2e_escape (buf, n + plen));
    char *text = e2e_fmt ("%.*s", (int) n - 2, buf + 1);
    e2e_consume (c, n + plen);
    return text;
}

static int
s_compare (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

const char *
cl_sorted_lines (const char *text)
{
    char  *copy = e2e_fmt ("%s", text);
    char  *lines [256];
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r (copy, "\n", &save); tok && n < 256;
         tok = strtok_r (NULL, "\n", &save))
        lines [n++] = tok;
    qsort (lines, n, sizeof lines [0], s_compare);
    char *out = e2e_fmt ("%s", "");
    for (size_t i = 0; i < n; i++)
        out = e2e_fmt ("%s%s%s", out, i ? "\n" : "", lines [i]);
    return out;
}

int
cl_collect_at (e2e_client_t *c, const char **out, int count, int timeout_ms, const char *file,
               int line)
{
    int         prompts = 0;
    const char *prompt = e2e_fmt (E2E_TS "[%s]:", e2e_name (c));
    size_t      plen = e2e_pattern_len (prompt);
    int64_t     deadline = e2e_now_ms () + timeout_ms;
    int         got = 0;
    while (got < count) {
        size_t      len;
        const char *buf = e2e_buffered (c, &len);
        if (len > 0 && buf [0] == '[' && len >= plen) {
            if (!e2e_match (prompt, buf, plen))
                e2e_fail_at (file, line, "%s: expected its prompt, got %s", e2e_name (c),
                             e2e_escape (buf, len < 80 ? len : 80));
            e2e_consume (c, plen);
            prompts++;
            continue;
        }
        const char *end = len > 1 && buf [0] == '\n' ? memchr (buf + 1, '\n', len - 1) : NULL;
        if (end) {
            size_t      n = (size_t) (end - buf) - 1;
            const char *text = buf + 1;
            const char *from = text + E2E_TS_LEN + 1;
            const char *close = n > E2E_TS_LEN + 1 ? memchr (from, ']', n - E2E_TS_LEN - 1) : NULL;
            if (!close || !e2e_match (E2E_TS "[", text, E2E_TS_LEN + 1) || close + 1 >= text + n ||
                close [1] != ':')
                e2e_fail_at (file, line, "%s: expected a chat line, got %s", e2e_name (c),
                             e2e_escape (buf, (size_t) (end - buf) + 1));
            out [got++] = e2e_fmt ("%.*s:%.*s", (int) (close - from), from,
                                   (int) (text + n - close - 2), close + 2);
            e2e_consume (c, n + 2);
            continue;
        }
        if (len > 0 && buf [0] != '[' && buf [0] != '\n')
            e2e_fail_at (file, line, "%s: unexpected bytes %s", e2e_name (c),
                         e2e_escape (buf, len < 80 ? len : 80));
        int64_t left = deadline - e2e_now_ms ();
        if (left <= 0)
            e2e_fail_at (file, line, "%s: %d of %d chat lines within %d ms", e2e_name (c), got,
                         count, timeout_ms);
        struct pollfd pfd = {.fd = e2e_fd (c), .events = POLLIN};
        poll (&pfd, 1, left < 100 ? (int) left : 100);
        if (e2e_fill (c) == 0)
            e2e_fail_at (file, line, "%s: the server closed the connection after %d of %d lines",
                         e2e_name (c), got, count);
    }
    return prompts;
}

int
cl_prompts_at (e2e_client_t *c, int quiet_ms, const char *file, int line)
{
    const char *prompt = e2e_fmt (E2E_TS "[%s]:", e2e_name (c));
    size_t      plen = e2e_pattern_len (prompt);
    int         prompts = 0;
    int64_t     quiet_until = e2e_now_ms () + quiet_ms;
    for (;;) {
        size_t      len;
        const char *buf = e2e_buffered (c, &len);
        if (len > 0 &&
            check_mismatch (prompt, buf, len < plen ? len : plen) < (len < plen ? len : plen))
            e2e_fail_at (file, line, "%s: expected only its prompt, got %s", e2e_name (c),
                         e2e_escape (buf, len < 80 ? len : 80));
        if (len >= plen) {
            e2e_consume (c, plen);
            prompts++;
            quiet_until = e2e_now_ms () + quiet_ms;
            continue;
        }
        if (e2e_now_ms () >= quiet_until) {
            if (len > 0)
                e2e_fail_at (file, line, "%s: a cut prompt %s", e2e_name (c),
                             e2e_escape (buf, len));
            return prompts;
        }
        ssize_t r = e2e_fill (c);
        if (r == 0)
            e2e_fail_at (file, line, "%s: the server closed the connection", e2e_name (c));
        if (r < 0)
            e2e_sleep_ms (10);
    }
}
