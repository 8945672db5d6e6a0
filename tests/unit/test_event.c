/* SPDX-License-Identifier: MIT */
/*  Unit tests for event: each builder's exact bytes, and the escaping.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "event.h"
#include "protocol.h"

//  What out holds, as a NUL-terminated string (caller frees); out is
//  freed.
static char *
s_take (buf_t *out)
{
    size_t size = buf_size (out);
    char  *text = (char *) malloc (size + 1);
    assert_non_null (text);
    if (size)
        memcpy (text, buf_head (out), size);
    text [size] = 0;
    buf_free (out);
    return text;
}

static void
expect_json_string (const char *in, size_t len, const char *want)
{
    buf_t out;
    buf_init (&out);
    event_string (&out, in, len);
    char *got = s_take (&out);
    assert_string_equal (got, want);
    free (got);
}

#define EXPECT_STRING(in, want) expect_json_string ((in), sizeof (in) - 1, (want))

static void
test_event_string_plain (void **state)
{
    (void) state;
    EXPECT_STRING ("", "\"\"");
    EXPECT_STRING ("hi there", "\"hi there\"");
    EXPECT_STRING ("[ts][a]:b", "\"[ts][a]:b\"");
    EXPECT_STRING ("/ < > & ' `", "\"/ < > & ' `\""); /* JSON needs none */
}

static void
test_event_string_escapes (void **state)
{
    (void) state;
    EXPECT_STRING ("say \"hi\"", "\"say \\\"hi\\\"\"");
    EXPECT_STRING ("a\\b", "\"a\\\\b\"");
    EXPECT_STRING ("\\\"", "\"\\\\\\\"\"");
    EXPECT_STRING ("l1\nl2", "\"l1\\nl2\"");
    EXPECT_STRING ("\r\t\b\f", "\"\\r\\t\\b\\f\"");
    EXPECT_STRING ("\x01\x1b[31m\x1f", "\"\\u0001\\u001b[31m\\u001f\"");
    EXPECT_STRING ("del\x7f", "\"del\\u007f\"");
    EXPECT_STRING ("a\0b", "\"a\\u0000b\""); /* a NUL inside: len counts */
    expect_json_string ("abc", 2, "\"ab\""); /* only len bytes */
}

static void
test_event_string_utf8 (void **state)
{
    (void) state;
    //  Valid UTF-8 passes as is: é, €, 😀, a C1 control (valid, JSON-safe).
    EXPECT_STRING ("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\x85",
                   "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\x85\"");
    //  Invalid bytes: one U+FFFD per maximal invalid run (clean.h).
    EXPECT_STRING ("a\xff"
                   "b",
                   "\"a\xef\xbf\xbd"
                   "b\"");
    EXPECT_STRING ("\xc3", "\"\xef\xbf\xbd\"");                                   /* truncated */
    EXPECT_STRING ("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"");                   /* overlong */
    EXPECT_STRING ("\xed\xa0\x80!", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!\""); /* surrogate */
}

//  Runs a builder into a fresh buffer and compares its whole output.
#define EXPECT_EVENT(want, call)                                                                   \
    do {                                                                                           \
        buf_t out;                                                                                 \
        buf_init (&out);                                                                           \
        call;                                                                                      \
        char *got = s_take (&out);                                                                 \
        assert_string_equal (got, want);                                                           \
        free (got);                                                                                \
    } while (0)

static void
test_event_welcome (void **state)
{
    (void) state;
    buf_t want;
    buf_init (&want);
    buf_append_str (&want, "{\"type\":\"welcome\",\"banner\":");
    //  The banner without its last '\n', each inner one escaped.
    event_string (&want, PROTOCOL_BANNER, strlen (PROTOCOL_BANNER) - 1);
    buf_append_str (&want, ",\"prompt\":\"[ENTER YOUR NAME]: \"}");
    char *expected = s_take (&want);
    assert_non_null (strstr (expected, "\"banner\":\"Welcome to TCP-Chat!\\n         _nnnn_\\n"));
    assert_non_null (strstr (expected, "`-'       `--'\",\"prompt\""));
    assert_non_null (strstr (expected, "JS^\\\\__/")); /* the penguin's backslash */
    EXPECT_EVENT (expected, event_welcome (&out));
    free (expected);
}

static void
test_event_refused_closed (void **state)
{
    (void) state;
    EXPECT_EVENT ("{\"type\":\"refused\",\"reason\":\"Name is already taken.\"}",
                  event_refused (&out, PROTOCOL_NAME_TAKEN));
    EXPECT_EVENT ("{\"type\":\"closed\",\"reason\":\"Server is shutting down.\"}",
                  event_closed (&out, PROTOCOL_SHUTDOWN));
    EXPECT_EVENT ("{\"type\":\"closed\",\"reason\":\"Chat is full. Try again later.\"}",
                  event_closed (&out, PROTOCOL_FULL));
}

static void
test_event_line (void **state)
{
    (void) state;
    EXPECT_EVENT ("{\"type\":\"line\",\"room\":\"general\",\"time\":\"2026-11-30 22:50:15\","
                  "\"name\":\"alice\",\"text\":\"hi \\\"you\\\"\"}",
                  event_line (&out, "general", "[2026-11-30 22:50:15]", "alice", "hi \"you\"x", 8));
    //  Only len bytes of text: the caller's line is not NUL-terminated.
    EXPECT_EVENT ("{\"type\":\"line\",\"room\":\"dev\",\"time\":\"2026-01-02 03:04:05\","
                  "\"name\":\"b\",\"text\":\"\"}",
                  event_line (&out, "dev", "[2026-01-02 03:04:05]", "b", "zzz", 0));
}

static void
test_event_members (void **state)
{
    (void) state;
    EXPECT_EVENT ("{\"type\":\"joined\",\"room\":\"general\",\"name\":\"carol\"}",
                  event_joined (&out, "general", "carol"));
    EXPECT_EVENT ("{\"type\":\"left\",\"room\":\"general\",\"name\":\"carol\"}",
                  event_left (&out, "general", "carol"));
    EXPECT_EVENT ("{\"type\":\"renamed\",\"room\":\"dev\",\"old\":\"bob\",\"new\":\"robert\"}",
                  event_renamed (&out, "dev", "bob", "robert"));
    EXPECT_EVENT ("{\"type\":\"joined\",\"room\":\"general\",\"name\":\"a\\\"b\\\\\"}",
                  event_joined (&out, "general", "a\"b\\"));
}

static void
test_event_private (void **state)
{
    (void) state;
    EXPECT_EVENT ("{\"type\":\"private\",\"time\":\"2026-11-30 22:50:15\",\"from\":\"alice\","
                  "\"to\":\"bob\",\"text\":\"psst\"}",
                  event_private (&out, "[2026-11-30 22:50:15]", "alice", "bob", "psst!", 4));
}

static void
test_event_users (void **state)
{
    (void) state;
    char *names [] = {"alice", "bob", "c\"d"};
    EXPECT_EVENT ("{\"type\":\"users\",\"room\":\"general\",\"names\":[\"alice\",\"bob\","
                  "\"c\\\"d\"]}",
                  event_users (&out, "general", names, 3));
    EXPECT_EVENT ("{\"type\":\"users\",\"room\":\"general\",\"names\":[\"alice\"]}",
                  event_users (&out, "general", names, 1));
    EXPECT_EVENT ("{\"type\":\"users\",\"room\":\"x\",\"names\":[]}",
                  event_users (&out, "x", names, 0));
}

static void
test_event_rooms (void **state)
{
    (void) state;
    EXPECT_EVENT ("{\"type\":\"rooms\",\"rooms\":[{\"name\":\"dev\",\"members\":1,"
                  "\"mine\":false},{\"name\":\"general\",\"members\":2,\"mine\":true},"
                  "{\"name\":\"z\",\"members\":0,\"mine\":false}]}",
                  {
                      event_rooms_open (&out);
                      event_rooms_entry (&out, false, "dev", 1);
                      event_rooms_entry (&out, true, "general", 2);
                      event_rooms_entry (&out, false, "z", 0);
                      event_rooms_close (&out);
                  });
    EXPECT_EVENT ("{\"type\":\"rooms\",\"rooms\":[{\"name\":\"general\",\"members\":1,"
                  "\"mine\":true}]}",
                  {
                      event_rooms_open (&out);
                      event_rooms_entry (&out, true, "general", 1);
                      event_rooms_close (&out);
                  });
    EXPECT_EVENT ("{\"type\":\"rooms\",\"rooms\":[]}", {
        event_rooms_open (&out);
        event_rooms_close (&out);
    });
}

static void
test_event_reply_error (void **state)
{
    (void) state;
    EXPECT_EVENT ("{\"type\":\"reply\",\"text\":\"Commands:\\n  /help            show this "
                  "list\\n  /rooms           list the rooms and how many are in each\\n  /join "
                  "ROOM       move to ROOM, creating it if needed\\n  /users           list the "
                  "users in your room\\n  /name NEW        change your name\\n  /msg NAME TEXT   "
                  "send TEXT to NAME only\\n  /quit            leave the chat\"}",
                  event_reply (&out, PROTOCOL_HELP, strlen (PROTOCOL_HELP)));
    EXPECT_EVENT ("{\"type\":\"error\",\"text\":\"Message too long (max 4096 bytes).\"}",
                  event_error (&out, PROTOCOL_TOO_LONG, strlen (PROTOCOL_TOO_LONG)));
    EXPECT_EVENT ("{\"type\":\"error\",\"text\":\"Usage: /join ROOM\"}",
                  event_error (&out, PROTOCOL_JOIN_USAGE, strlen (PROTOCOL_JOIN_USAGE)));
    //  Only the framing newlines go; a lone "\n" leaves "".
    EXPECT_EVENT ("{\"type\":\"error\",\"text\":\"a\\nb\"}", event_error (&out, "\n\na\nb\n\n", 7));
    EXPECT_EVENT ("{\"type\":\"error\",\"text\":\"\"}", event_error (&out, "\n", 1));
}

#define ENTERED_HEAD "{\"type\":\"entered\",\"room\":\"general\",\"name\":\"bob\",\"history\":"

static void
test_event_entered (void **state)
{
    (void) state;
    EXPECT_EVENT (ENTERED_HEAD "[]}", event_entered (&out, "general", "bob", "", 0));
    const char *two = "[2026-11-30 22:50:15][alice]:hi\n"
                      "[2026-11-30 22:50:16][carol]:a \"b\" [c]:d\n";
    EXPECT_EVENT (ENTERED_HEAD "[{\"time\":\"2026-11-30 22:50:15\",\"name\":\"alice\","
                               "\"text\":\"hi\"},{\"time\":\"2026-11-30 22:50:16\","
                               "\"name\":\"carol\",\"text\":\"a \\\"b\\\" [c]:d\"}]}",
                  event_entered (&out, "general", "bob", two, strlen (two)));
    //  Empty text, and the last line without its '\n'.
    const char *bare = "[2026-11-30 22:50:15][alice]:";
    EXPECT_EVENT (ENTERED_HEAD "[{\"time\":\"2026-11-30 22:50:15\",\"name\":\"alice\","
                               "\"text\":\"\"}]}",
                  event_entered (&out, "general", "bob", bare, strlen (bare)));
}

//  A name may hold "]:" (names.c allows it): its lines split at the
//  first one on replay, as event.h says. Pinned, so a change is seen.
static void
test_event_entered_name_with_mark (void **state)
{
    (void) state;
    const char *line = "[2026-11-30 22:50:15][a]:b]:hi\n";
    EXPECT_EVENT (ENTERED_HEAD "[{\"time\":\"2026-11-30 22:50:15\",\"name\":\"a\","
                               "\"text\":\"b]:hi\"}]}",
                  event_entered (&out, "general", "bob", line, strlen (line)));
}

//  A line without the "[ts][" head, or with no "]:" (a hand-edited
//  file), is all text.
static void
test_event_entered_odd_lines (void **state)
{
    (void) state;
    const char *odd = "just text\n"
                      "[2026-11-30 22:50:15][nomark\n"
                      "[2026-11-30 22:50:15]x[a]:b\n"
                      "\n"
                      "\x1b[2J\xff\n";
    EXPECT_EVENT (ENTERED_HEAD
                  "[{\"time\":\"\",\"name\":\"\",\"text\":\"just text\"},"
                  "{\"time\":\"\",\"name\":\"\",\"text\":\"[2026-11-30 22:50:15]"
                  "[nomark\"},"
                  "{\"time\":\"\",\"name\":\"\",\"text\":\"[2026-11-30 22:50:15]"
                  "x[a]:b\"},"
                  "{\"time\":\"\",\"name\":\"\",\"text\":\"\"},"
                  "{\"time\":\"\",\"name\":\"\",\"text\":\"\\u001b[2J\xef\xbf\xbd\"}]}",
                  event_entered (&out, "general", "bob", odd, strlen (odd)));
}

//  Builders append: what out held stays in front.
static void
test_event_appends (void **state)
{
    (void) state;
    EXPECT_EVENT ("x{\"type\":\"left\",\"room\":\"r\",\"name\":\"n\"}", {
        buf_append_str (&out, "x");
        event_left (&out, "r", "n");
    });
    EXPECT_EVENT ("[{\"type\":\"left\",\"room\":\"r\",\"name\":\"n\"}", {
        buf_append_str (&out, "[");
        event_left (&out, "r", "n");
    });
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_event_string_plain),
        cmocka_unit_test (test_event_string_escapes),
        cmocka_unit_test (test_event_string_utf8),
        cmocka_unit_test (test_event_welcome),
        cmocka_unit_test (test_event_refused_closed),
        cmocka_unit_test (test_event_line),
        cmocka_unit_test (test_event_members),
        cmocka_unit_test (test_event_private),
        cmocka_unit_test (test_event_users),
        cmocka_unit_test (test_event_rooms),
        cmocka_unit_test (test_event_reply_error),
        cmocka_unit_test (test_event_entered),
        cmocka_unit_test (test_event_entered_name_with_mark),
        cmocka_unit_test (test_event_entered_odd_lines),
        cmocka_unit_test (test_event_appends),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
