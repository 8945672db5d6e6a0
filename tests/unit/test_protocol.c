/* SPDX-License-Identifier: MIT */
/*  Unit tests for protocol.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "protocol.h"

#define TS "[2023-11-14 22:13:20]"

static void
use_timezone (const char *tz)
{
    assert_int_equal (setenv ("TZ", tz, 1), 0);
    tzset ();
}

static void
expect_buf (buf_t *b, const char *want)
{
    size_t len = strlen (want);
    if (buf_size (b) != len || memcmp (buf_head (b), want, len) != 0)
        fail_msg ("got \"%.*s\", want \"%s\"", (int) buf_size (b), buf_head (b) ? buf_head (b) : "",
                  want);
    buf_free (b);
}

/*  Reads dir/name (up to 1 MiB) into a NUL-terminated string; `env`
    names the variable that sets dir, for the failure message.           */
static char *
read_whole_file (const char *dir, const char *name, const char *env, size_t *len)
{
    char path [4096];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "rb");
    if (!file)
        fail_msg ("cannot open %s (set %s)", path, env);
    char *data = malloc (1 << 20);
    assert_non_null (data);
    size_t got = fread (data, 1, (1 << 20) - 1, file);
    data [got] = '\0';
    fclose (file);
    if (len)
        *len = got;
    return data;
}

/*  Reads $TCPCHAT_TEST_DATA/name.                                       */
static char *
read_data_file (const char *name, size_t *len)
{
    const char *dir = getenv ("TCPCHAT_TEST_DATA");
    return read_whole_file (dir ? dir : "tests/data", name, "TCPCHAT_TEST_DATA", len);
}

static void
test_banner_matches_file (void **state)
{
    (void) state;
    size_t len;
    char  *file = read_data_file ("banner.txt", &len);
    assert_int_equal (strlen (PROTOCOL_BANNER), len);
    assert_memory_equal (PROTOCOL_BANNER, file, len);
    free (file);
}

static void
test_banner_shape (void **state)
{
    (void) state;
    size_t lines = 0;
    for (const char *p = PROTOCOL_BANNER; *p; p++)
        lines += *p == '\n';
    assert_int_equal (lines, 17);
    size_t len = strlen (PROTOCOL_BANNER);
    assert_int_equal (PROTOCOL_BANNER [len - 1], '\n');
    assert_memory_equal (PROTOCOL_BANNER, "Welcome to TCP-Chat!\n", 21);
    assert_null (strstr (PROTOCOL_BANNER, " \n"));
}

static void
test_fixed_texts (void **state)
{
    (void) state;
    assert_string_equal (PROTOCOL_NAME_PROMPT, "[ENTER YOUR NAME]: ");
    assert_string_equal (PROTOCOL_FULL, "Chat is full. Try again later.\n");
    assert_string_equal (PROTOCOL_TOO_LONG, "Message too long (max 4096 bytes).\n");
    assert_string_equal (PROTOCOL_USAGE, "[USAGE]: ./TCPChat $port\n");
    assert_int_equal (DEFAULT_PORT, 8989);
}

static void
test_stamp_format (void **state)
{
    (void) state;
    char out [STAMP_SIZE];
    use_timezone ("UTC");
    stamp_format (0, out);
    assert_string_equal (out, "[1970-01-01 00:00:00]");
    stamp_format (1700000000, out);
    assert_string_equal (out, TS);
    assert_int_equal (strlen (out), STAMP_SIZE - 1);
    stamp_format (951782399, out);
    assert_string_equal (out, "[2000-02-28 23:59:59]");
    stamp_format (951782400 + 86400, out);
    assert_string_equal (out, "[2000-03-01 00:00:00]");
}

static void
test_stamp_uses_local_time (void **state)
{
    (void) state;
    char out [STAMP_SIZE];
    use_timezone ("XYZ-2"); /* two hours east of UTC, no DST */
    stamp_format (1700000000, out);
    use_timezone ("UTC");
    assert_string_equal (out, "[2023-11-15 00:13:20]");
}

/*  stamp_now against stamp_format (time (NULL)), retried in the rare
    case that the clock ticks over between the two.                     */
/*  stamp_now on a cache that is zeroed (cached NULL) or holds `cached`
    for the second `age` seconds ago; checked on a pass where the clock
    stayed within one second. The cache then holds that second and the
    stamp: `cached` when reused, else that second's stamp.                */
static void
expect_stamp_now (const char *cached, int age, bool reused)
{
    use_timezone ("UTC");
    for (int attempt = 0; attempt < 5; attempt++) {
        stamp_cache_t cache;
        memset (&cache, 0, sizeof cache);
        time_t now = time (NULL);
        if (cached) {
            cache.second = now - age;
            strcpy (cache.text, cached);
        }
        const char *stamp = stamp_now (&cache);
        if (time (NULL) != now)
            continue;
        char want [STAMP_SIZE];
        stamp_format (now, want);
        assert_ptr_equal (stamp, cache.text);
        assert_string_equal (stamp, reused ? cached : want);
        assert_int_equal (cache.second, now);
        return;
    }
    fail_msg ("the clock kept ticking");
}

static void
test_stamp_now_fresh_cache (void **state)
{
    (void) state;
    expect_stamp_now (NULL, 0, false);
}

static void
test_stamp_now_reuses_same_second (void **state)
{
    (void) state;
    expect_stamp_now ("[cached]", 0, true);
}

static void
test_stamp_now_refreshes_stale (void **state)
{
    (void) state;
    expect_stamp_now ("[stale]", 1, false);
}

static void
test_fmt_chat_line (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    fmt_chat_line (&b, TS, "alice", "hello there", 5);
    expect_buf (&b, TS "[alice]:hello");
    fmt_chat_line (&b, TS, "bob", "", 0);
    expect_buf (&b, TS "[bob]:");
}

static void
test_fmt_prompt (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    fmt_prompt (&b, TS, "alice");
    expect_buf (&b, TS "[alice]:");
}

static void
test_fmt_private (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    fmt_private (&b, TS, "alice", "bob", "psst, hi!", 9);
    expect_buf (&b, "\n" TS "[alice -> bob]:psst, hi!\n");
}

static void
test_fmt_notices (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    fmt_joined (&b, "alice");
    expect_buf (&b, "\nalice has joined our chat...\n");
    fmt_left (&b, "bob");
    expect_buf (&b, "\nbob has left our chat...\n");
    fmt_renamed (&b, "bob", "Robert");
    expect_buf (&b, "\nbob changed their name to Robert\n");
}

/*  Formatters append: a broadcast is queued after what is pending.      */
static void
test_fmt_appends (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    fmt_prompt (&b, TS, "carol");
    fmt_joined (&b, "dave");
    fmt_chat_line (&b, TS, "dave", "yo", 2);
    expect_buf (&b, TS "[carol]:"
                       "\ndave has joined our chat...\n" TS "[dave]:yo");
}

/* ------------------------------------------------------------------ */
/*  docs/PROTOCOL.md against the texts: the doc says every byte a client
    sees, so each text of protocol.h must be written there as it is sent,
    with the doc's placeholders (NAME, ROOM, N, S, ...) for what varies;
    and each reason in the doc's "reply line" tables must be one of them.
    Every PROTOCOL_* text and fmt_* formatter protocol.h declares must be
    checked here, so a new text cannot skip the doc either.              */

/*  Numbers that stand for the doc's placeholders while rendering.       */
#define AS_N    1000001
#define AS_S    1000002
#define AS_PORT 1000003

#define CHECKED_MAX 64
typedef struct {
    char       *doc;                   /* docs/PROTOCOL.md */
    const char *checked [CHECKED_MAX]; /* names of the texts checked */
    size_t      checked_count;
    char       *lines [CHECKED_MAX * 2]; /* every text as a reply line */
    size_t      line_count;
} doc_check_t;

/*  Where the tree is: TCPCHAT_TREE in the environment, else the Makefile's. */
static char *
read_tree_file (const char *name)
{
    const char *tree = getenv ("TCPCHAT_TREE");
#ifdef TCPCHAT_TREE
    if (!tree)
        tree = TCPCHAT_TREE;
#endif
    return read_whole_file (tree ? tree : ".", name, "TCPCHAT_TREE", NULL);
}

static char *
replace_all (const char *text, const char *from, const char *to)
{
    size_t from_len = strlen (from);
    char  *out = malloc (strlen (text) * (strlen (to) + 1) + 1);
    assert_non_null (out);
    if (from_len == 0)
        return strcpy (out, text);
    char *o = out;
    for (const char *p = text; *p;) {
        if (strncmp (p, from, from_len) == 0) {
            o = stpcpy (o, to);
            p += from_len;
        } else
            *o++ = *p++;
    }
    *o = '\0';
    return out;
}

static bool
doc_has (const doc_check_t *ctx, const char *a, const char *b, const char *c)
{
    size_t len = strlen (a) + strlen (b) + strlen (c) + 1;
    char  *want = malloc (len);
    assert_non_null (want);
    snprintf (want, len, "%s%s%s", a, b, c);
    bool found = strstr (ctx->doc, want) != NULL;
    free (want);
    return found;
}

/*  The forms a sent text takes in the doc: `A\nB\n` with the newlines
    written out, or in a code block; a one-line text ending in '\n' also
    as a reply line, `A` (the doc's tables say the newline once).        */
static void
expect_in_doc (doc_check_t *ctx, const char *name, const char *text)
{
    char       *escaped = replace_all (text, "\n", "\\n");
    size_t      len = strlen (text);
    const char *newline = strchr (text, '\n');
    char       *line = strndup (text, newline && newline == text + len - 1 ? len - 1 : len);
    bool        one_line = strchr (line, '\n') == NULL;
    bool found = doc_has (ctx, "`", escaped, "`") || doc_has (ctx, "```\n", escaped, "\n```") ||
                 doc_has (ctx, "```\n", text, "```") || (one_line && doc_has (ctx, "`", line, "`"));
    if (!found)
        fail_msg ("%s is not in docs/PROTOCOL.md as sent: `%s`", name, escaped);
    assert_true (ctx->line_count < CHECKED_MAX * 2);
    ctx->lines [ctx->line_count++] = line;
    free (escaped);
}

static void
record (doc_check_t *ctx, const char *name)
{
    assert_true (ctx->checked_count < CHECKED_MAX);
    ctx->checked [ctx->checked_count++] = name;
}

/*  A text, rendered with placeholders for its conversions.             */
static void check_text (doc_check_t *ctx, const char *name, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
check_text (doc_check_t *ctx, const char *name, const char *format, ...)
{
    char    rendered [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (rendered, sizeof rendered, format, args);
    va_end (args);
    char  number [16];
    char *text = strdup (rendered);
    const struct {
        int         value;
        const char *as;
    } holders [] = {{AS_N, "N"}, {AS_S, "S"}, {AS_PORT, "PORT"}};
    for (size_t i = 0; i < sizeof holders / sizeof holders [0]; i++) {
        snprintf (number, sizeof number, "%d", holders [i].value);
        char *next = replace_all (text, number, holders [i].as);
        free (text);
        text = next;
    }
    record (ctx, name);
    expect_in_doc (ctx, name, text);
    free (text);
}

#define CHECK_TEXT(ctx, name, ...) check_text (ctx, #name, name, ##__VA_ARGS__)

static bool
was_checked (const doc_check_t *ctx, const char *name, size_t len)
{
    for (size_t i = 0; i < ctx->checked_count; i++)
        if (strlen (ctx->checked [i]) == len && memcmp (ctx->checked [i], name, len) == 0)
            return true;
    return false;
}

/*  A formatter's output, taken from b (which is emptied), with `from`
    standing for the doc's placeholder `to`.                             */
static void
check_buf (doc_check_t *ctx, const char *name, buf_t *b, const char *from, const char *to)
{
    char *sent = strndup (buf_head (b), buf_size (b));
    buf_free (b);
    char *text = replace_all (sent, from, to);
    expect_in_doc (ctx, name, text);
    free (text);
    free (sent);
    if (!was_checked (ctx, name, strlen (name)))
        record (ctx, name);
}

static void
check_constant_texts (doc_check_t *ctx)
{
    CHECK_TEXT (ctx, PROTOCOL_NAME_PROMPT);
    CHECK_TEXT (ctx, PROTOCOL_FULL);
    CHECK_TEXT (ctx, PROTOCOL_TOO_LONG);
    CHECK_TEXT (ctx, PROTOCOL_USAGE);
    CHECK_TEXT (ctx, PROTOCOL_LISTENING, AS_PORT);
    CHECK_TEXT (ctx, PROTOCOL_SHUTDOWN);
    CHECK_TEXT (ctx, PROTOCOL_NAME_TIMEOUT, AS_S);
    CHECK_TEXT (ctx, PROTOCOL_TOO_FAST);
    CHECK_TEXT (ctx, PROTOCOL_TOO_MANY, AS_N);
    CHECK_TEXT (ctx, PROTOCOL_PROBE_REPLY);
    CHECK_TEXT (ctx, PROTOCOL_AYT_ANSWER);
    CHECK_TEXT (ctx, PROTOCOL_NAME_EMPTY);
    CHECK_TEXT (ctx, PROTOCOL_NAME_TOO_LONG);
    CHECK_TEXT (ctx, PROTOCOL_NAME_UNPRINTABLE);
    CHECK_TEXT (ctx, PROTOCOL_NAME_SPACES);
    CHECK_TEXT (ctx, PROTOCOL_NAME_INVISIBLE);
    CHECK_TEXT (ctx, PROTOCOL_NAME_SLASH);
    CHECK_TEXT (ctx, PROTOCOL_NAME_TAKEN);
    CHECK_TEXT (ctx, PROTOCOL_NAME_LOOKALIKE);
    CHECK_TEXT (ctx, PROTOCOL_NAME_UNAVAILABLE);
    //  Never sent (protocol.h says why), so not in the doc.
    record (ctx, "PROTOCOL_ROOM_EMPTY");
    CHECK_TEXT (ctx, PROTOCOL_ROOM_TOO_LONG);
    CHECK_TEXT (ctx, PROTOCOL_ROOM_CHARS);
    CHECK_TEXT (ctx, PROTOCOL_HELP);
    CHECK_TEXT (ctx, PROTOCOL_ROOMS);
    CHECK_TEXT (ctx, PROTOCOL_JOIN_USAGE);
    CHECK_TEXT (ctx, PROTOCOL_JOIN_ALREADY, "ROOM");
    CHECK_TEXT (ctx, PROTOCOL_JOIN_TOO_FAST, AS_S);
    CHECK_TEXT (ctx, PROTOCOL_JOIN_TOO_MANY, AS_N);
    CHECK_TEXT (ctx, PROTOCOL_JOIN_CANNOT);
    CHECK_TEXT (ctx, PROTOCOL_RENAME_USAGE);
    CHECK_TEXT (ctx, PROTOCOL_RENAME_ALREADY, "NEW");
    CHECK_TEXT (ctx, PROTOCOL_MSG_USAGE);
    CHECK_TEXT (ctx, PROTOCOL_MSG_NO_USER, 4, "NAME");
    CHECK_TEXT (ctx, PROTOCOL_MSG_SELF);
    CHECK_TEXT (ctx, PROTOCOL_MSG_BUSY, "NAME");
    CHECK_TEXT (ctx, PROTOCOL_UNKNOWN, 2, "/x");
    CHECK_TEXT (ctx, PROTOCOL_NOT_DELIVERED);
}

static void
check_formatters (doc_check_t *ctx)
{
    buf_t b;
    buf_init (&b);
    fmt_chat_line (&b, "[TS]", "alice", "text", 4);
    check_buf (ctx, "fmt_chat_line", &b, "", "");
    fmt_prompt (&b, "[TS]", "name");
    check_buf (ctx, "fmt_prompt", &b, "", "");
    fmt_private (&b, "[TS]", "alice", "bob", "TEXT", 4);
    check_buf (ctx, "fmt_private", &b, "", "");
    fmt_joined (&b, "NAME");
    check_buf (ctx, "fmt_joined", &b, "", "");
    fmt_left (&b, "NAME");
    check_buf (ctx, "fmt_left", &b, "", "");
    fmt_renamed (&b, "OLD", "NEW");
    check_buf (ctx, "fmt_renamed", &b, "", "");
    fmt_renamed (&b, "OLD", "NEW");
    buf_consume (&b, 1); /* as the renamer gets it */
    check_buf (ctx, "fmt_renamed", &b, "", "");
    fmt_room_entry (&b, true, "NAME", AS_N);
    check_buf (ctx, "fmt_room_entry", &b, "1000001", "N");
    fmt_room_entry (&b, false, "NAME", AS_N);
    check_buf (ctx, "fmt_room_entry", &b, "1000001", "N");
    assert_non_null (strstr (ctx->doc, "`1 member`"));
    char *abc [] = {"a", "b", "c"};
    fmt_users (&b, "ROOM", abc, 3);
    check_buf (ctx, "fmt_users", &b, "(3)", "(N)");
}

static size_t
identifier_length (const char *s)
{
    size_t len = 0;
    while ((s [len] >= 'A' && s [len] <= 'Z') || (s [len] >= 'a' && s [len] <= 'z') ||
           (s [len] >= '0' && s [len] <= '9') || s [len] == '_')
        len++;
    return len;
}

/*  Every "#define PROTOCOL_X" and "fmt_x (" of protocol.h was checked.   */
static void
expect_all_checked (const doc_check_t *ctx)
{
    char  *header = read_tree_file ("include/protocol.h");
    size_t seen = 0;
    for (const char *p = header; (p = strstr (p, "#define PROTOCOL_")); p++) {
        const char *name = p + strlen ("#define ");
        size_t      len = identifier_length (name);
        if (name [len] == '(') /* PROTOCOL_STR (x): a macro, no text */
            continue;
        if (!was_checked (ctx, name, len))
            fail_msg ("%.*s is not checked against docs/PROTOCOL.md", (int) len, name);
        seen++;
    }
    //  A declaration starts a line with its return type.
    for (const char *p = header; (p = strstr (p, " fmt_")); p++) {
        const char *start = p;
        while (start > header && start [-1] != '\n')
            start--;
        if (start [0] < 'a' || start [0] > 'z') /* a comment, not code */
            continue;
        const char *name = p + 1;
        size_t      len = identifier_length (name);
        if (!was_checked (ctx, name, len))
            fail_msg ("%.*s is not checked against docs/PROTOCOL.md", (int) len, name);
        seen++;
    }
    assert_true (seen >= 40); /* the scan itself still works */
    free (header);
}

/*  Every reason in a "reply line" table of the doc is one of the texts. */
static void
expect_doc_reasons_known (const doc_check_t *ctx)
{
    size_t tables = 0, reasons = 0;
    bool   in_table = false;
    for (const char *line = ctx->doc; *line;) {
        const char *end = strchr (line, '\n');
        size_t      len = end ? (size_t) (end - line) : strlen (line);
        if (len == 0 || line [0] != '|')
            in_table = false;
        else if (!in_table && memmem (line, len, "| reply line", 12)) {
            in_table = true;
            tables++;
        } else if (in_table && line [1] != '-') {
            const char *cell = line + len - 1; /* the last cell */
            while (cell > line && cell [-1] != '|')
                cell--;
            for (const char *q = cell; (q = memchr (q, '`', (size_t) (line + len - q)));) {
                const char *close = memchr (q + 1, '`', (size_t) (line + len - q - 1));
                assert_non_null (close);
                bool known = false;
                for (size_t i = 0; i < ctx->line_count && !known; i++)
                    known = strlen (ctx->lines [i]) == (size_t) (close - q - 1) &&
                            memcmp (ctx->lines [i], q + 1, (size_t) (close - q - 1)) == 0;
                if (!known)
                    fail_msg ("docs/PROTOCOL.md says %.*s, which no text sends",
                              (int) (close - q + 1), q);
                reasons++;
                q = close + 1;
            }
        }
        line += len + (end != NULL);
    }
    assert_int_equal (tables, 3);
    assert_true (reasons >= 15); /* the scan itself still works */
}

static void
test_texts_match_the_doc (void **state)
{
    (void) state;
    doc_check_t ctx = {.doc = read_tree_file ("docs/PROTOCOL.md")};
    check_constant_texts (&ctx);
    check_formatters (&ctx);
    expect_all_checked (&ctx);
    expect_doc_reasons_known (&ctx);
    for (size_t i = 0; i < ctx.line_count; i++)
        free (ctx.lines [i]);
    free (ctx.doc);
}

/*  A limit in a text is the constant the code checks.                  */
static void
test_limits_from_constants (void **state)
{
    (void) state;
    char want [64];
    snprintf (want, sizeof want, "(max %d characters)", NAME_MAX_CHARS);
    assert_non_null (strstr (PROTOCOL_NAME_TOO_LONG, want));
    snprintf (want, sizeof want, "(max %d characters)", ROOM_MAX_CHARS);
    assert_non_null (strstr (PROTOCOL_ROOM_TOO_LONG, want));
    snprintf (want, sizeof want, "(max %d bytes)", LINE_MAX_BYTES);
    assert_non_null (strstr (PROTOCOL_TOO_LONG, want));
}

static void
test_fmt_room_entry (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    fmt_room_entry (&b, true, "dev", 2);
    expect_buf (&b, "* dev (2 members)\n");
    fmt_room_entry (&b, false, "general", 1);
    expect_buf (&b, "  general (1 member)\n");
    fmt_room_entry (&b, false, "x", 0);
    expect_buf (&b, "  x (0 members)\n");
}

static void
test_fmt_users (void **state)
{
    (void) state;
    buf_t b;
    buf_init (&b);
    char *names [] = {"alice", "bob", "carol"};
    fmt_users (&b, "general", names, 3);
    expect_buf (&b, "Users in general (3): alice, bob, carol\n");
    fmt_users (&b, "dev", names + 1, 1);
    expect_buf (&b, "Users in dev (1): bob\n");
    fmt_users (&b, "empty", names, 0);
    expect_buf (&b, "Users in empty (0): \n");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_banner_matches_file),
        cmocka_unit_test (test_banner_shape),
        cmocka_unit_test (test_fixed_texts),
        cmocka_unit_test (test_stamp_format),
        cmocka_unit_test (test_stamp_uses_local_time),
        cmocka_unit_test (test_stamp_now_fresh_cache),
        cmocka_unit_test (test_stamp_now_reuses_same_second),
        cmocka_unit_test (test_stamp_now_refreshes_stale),
        cmocka_unit_test (test_fmt_chat_line),
        cmocka_unit_test (test_fmt_prompt),
        cmocka_unit_test (test_fmt_private),
        cmocka_unit_test (test_fmt_notices),
        cmocka_unit_test (test_fmt_appends),
        cmocka_unit_test (test_fmt_room_entry),
        cmocka_unit_test (test_fmt_users),
        cmocka_unit_test (test_limits_from_constants),
        cmocka_unit_test (test_texts_match_the_doc),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
