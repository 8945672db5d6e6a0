/* SPDX-License-Identifier: MIT */
/*  Unit tests for input: a client's line as a message for the hub.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include "input.h"
#include "messages.h"

//  msg holds kind, id and exactly the parts given (NULL ends them).
static void
s_expect (zmsg_t *msg, msg_kind_t kind, uint64_t id, ...)
{
    assert_non_null (msg);
    msg_view_t view;
    assert_true (msg_parse (msg, &view));
    assert_int_equal (view.kind, kind);
    assert_true (view.id == id);
    va_list parts;
    va_start (parts, id);
    size_t count = 0;
    for (const char *part; (part = va_arg (parts, const char *)); count++) {
        assert_true (count < view.parts);
        assert_int_equal (view.part [count].size, strlen (part));
        assert_memory_equal (view.part [count].data, part, strlen (part));
    }
    va_end (parts);
    assert_int_equal (count, view.parts);
    zmsg_destroy (&msg);
}

static zmsg_t *
s_chat (const char *line)
{
    input_scratch_t scratch;
    input_scratch_init (&scratch);
    zmsg_t *msg = input_chat (7, line, strlen (line), &scratch);
    input_scratch_free (&scratch);
    return msg;
}

static void
test_name_trimmed_not_cleaned (void **state)
{
    (void) state;
    s_expect (input_name (7, "  bob \t", 7), MSG_NAME, 7, "bob", NULL);
    //  The hub's rules refuse what is wrong in a name: it goes as typed.
    s_expect (input_name (7, "b\x01o b", 5), MSG_NAME, 7, "b\x01o b", NULL);
    s_expect (input_name (7, "", 0), MSG_NAME, 7, "", NULL);
}

static void
test_quit_at_the_name_prompt (void **state)
{
    (void) state;
    assert_null (input_name (7, "/quit", 5));
    assert_null (input_name (7, " /QUIT ", 7));
    s_expect (input_name (7, "/quitter", 8), MSG_NAME, 7, "/quitter", NULL);
}

static void
test_chat_line_cleaned (void **state)
{
    (void) state;
    s_expect (s_chat ("hello"), MSG_LINE, 7, "hello", NULL);
    //  A control character never reaches the others (clean.h).
    zmsg_t    *msg = s_chat ("a\x1b[2Jb");
    msg_view_t view;
    assert_true (msg_parse (msg, &view));
    assert_int_equal (view.kind, MSG_LINE);
    assert_null (memchr (view.part [0].data, 0x1b, view.part [0].size));
    zmsg_destroy (&msg);
}

static void
test_commands (void **state)
{
    (void) state;
    s_expect (s_chat ("/users"), MSG_CMD, 7, "users", "", "", NULL);
    s_expect (s_chat ("/join  dev "), MSG_CMD, 7, "join", "dev", "", NULL);
    //  /name goes as typed: its rules refuse.
    s_expect (s_chat ("/name a b"), MSG_CMD, 7, "name", "a b", "", NULL);
    s_expect (s_chat ("/msg bob psst there"), MSG_CMD, 7, "msg", "bob", "psst there", NULL);
    s_expect (s_chat ("/dance now"), MSG_CMD, 7, "?", "/dance", "", NULL);
    assert_null (s_chat ("/quit"));
    assert_null (s_chat ("/QUIT and more"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_name_trimmed_not_cleaned),
        cmocka_unit_test (test_quit_at_the_name_prompt),
        cmocka_unit_test (test_chat_line_cleaned),
        cmocka_unit_test (test_commands),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
