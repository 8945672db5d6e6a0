/* SPDX-License-Identifier: MIT */
/*  Unit tests for command.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include "command.h"

static command_t
parse (const char *line, command_kind_t want)
{
    command_t cmd;
    size_t    len = strlen (line);
    assert_int_equal (command_parse (line, len, &cmd), want);
    assert_int_equal (cmd.kind, want);
    if (want != CMD_NONE) {
        assert_ptr_equal (cmd.verb, line);
        assert_true (cmd.arg_len == 0 || (cmd.arg >= line && cmd.arg + cmd.arg_len <= line + len));
        assert_true (cmd.text_len == 0 ||
                     (cmd.text >= line && cmd.text + cmd.text_len <= line + len));
    }
    return cmd;
}

static void
expect_span (const char *got, size_t got_len, const char *want)
{
    if (got_len != strlen (want) || (got_len && memcmp (got, want, got_len)))
        fail_msg ("got \"%.*s\", want \"%s\"", (int) got_len, got ? got : "", want);
}

static void
test_not_a_command (void **state)
{
    (void) state;
    parse ("hello", CMD_NONE);
    parse (" /help", CMD_NONE);
    parse ("\t/help", CMD_NONE);
    parse ("", CMD_NONE);
    parse ("help/", CMD_NONE);
    command_t cmd;
    assert_int_equal (command_parse (NULL, 0, &cmd), CMD_NONE);
    assert_int_equal (cmd.verb_len, 0);
}

static void
test_each_verb (void **state)
{
    (void) state;
    struct {
        const char    *line;
        command_kind_t kind;
        size_t         verb_len;
    } cases [] = {
        {"/help", CMD_HELP, 5},   {"/rooms", CMD_ROOMS, 6},   {"/join x", CMD_JOIN, 5},
        {"/users", CMD_USERS, 6}, {"/name bob", CMD_NAME, 5}, {"/msg a b", CMD_MSG, 4},
        {"/quit", CMD_QUIT, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        command_t cmd = parse (cases [i].line, cases [i].kind);
        assert_int_equal (cmd.verb_len, cases [i].verb_len);
    }
}

static void
test_verbs_ignore_case (void **state)
{
    (void) state;
    command_t cmd = parse ("/HELP", CMD_HELP);
    expect_span (cmd.verb, cmd.verb_len, "/HELP");
    parse ("/Rooms", CMD_ROOMS);
    parse ("/jOiN x", CMD_JOIN);
    parse ("/USERS", CMD_USERS);
    parse ("/NAME x", CMD_NAME);
    parse ("/Msg a b", CMD_MSG);
    parse ("/QuIt", CMD_QUIT);
}

static void
test_trailing_words_ignored (void **state)
{
    (void) state;
    command_t cmd = parse ("/help me please", CMD_HELP);
    assert_int_equal (cmd.arg_len, 0);
    assert_int_equal (cmd.text_len, 0);
    expect_span (cmd.verb, cmd.verb_len, "/help");
    parse ("/quit\tnow", CMD_QUIT);
    parse ("/rooms ", CMD_ROOMS);
    parse ("/users all", CMD_USERS);
}

static void
test_join (void **state)
{
    (void) state;
    command_t cmd = parse ("/join lobby", CMD_JOIN);
    expect_span (cmd.arg, cmd.arg_len, "lobby");
    cmd = parse ("/join", CMD_JOIN);
    assert_int_equal (cmd.arg_len, 0);
    cmd = parse ("/join    ", CMD_JOIN);
    assert_int_equal (cmd.arg_len, 0);
    cmd = parse ("/join  \t lobby \t ", CMD_JOIN);
    expect_span (cmd.arg, cmd.arg_len, "lobby");
    cmd = parse ("/join\tlobby", CMD_JOIN);
    expect_span (cmd.arg, cmd.arg_len, "lobby");
    cmd = parse ("/join two  words ", CMD_JOIN);
    expect_span (cmd.arg, cmd.arg_len, "two  words");
}

static void
test_name (void **state)
{
    (void) state;
    command_t cmd = parse ("/name  Alice ", CMD_NAME);
    expect_span (cmd.arg, cmd.arg_len, "Alice");
    cmd = parse ("/name", CMD_NAME);
    assert_int_equal (cmd.arg_len, 0);
    cmd = parse ("/name a b", CMD_NAME);
    expect_span (cmd.arg, cmd.arg_len, "a b");
}

static void
test_msg (void **state)
{
    (void) state;
    command_t cmd = parse ("/msg bob hello there", CMD_MSG);
    expect_span (cmd.arg, cmd.arg_len, "bob");
    expect_span (cmd.text, cmd.text_len, "hello there");

    cmd = parse ("/msg   bob    hi  there  ", CMD_MSG);
    expect_span (cmd.arg, cmd.arg_len, "bob");
    expect_span (cmd.text, cmd.text_len, "hi  there  ");

    cmd = parse ("/msg\tbob\t\t\thi\t", CMD_MSG);
    expect_span (cmd.arg, cmd.arg_len, "bob");
    expect_span (cmd.text, cmd.text_len, "hi\t");

    cmd = parse ("/msg bob x", CMD_MSG);
    expect_span (cmd.text, cmd.text_len, "x");
}

static void
test_msg_missing_parts (void **state)
{
    (void) state;
    command_t cmd = parse ("/msg bob", CMD_MSG);
    expect_span (cmd.arg, cmd.arg_len, "bob");
    assert_int_equal (cmd.text_len, 0);

    cmd = parse ("/msg bob  \t ", CMD_MSG);
    expect_span (cmd.arg, cmd.arg_len, "bob");
    assert_int_equal (cmd.text_len, 0);

    cmd = parse ("/msg", CMD_MSG);
    assert_int_equal (cmd.arg_len, 0);
    assert_int_equal (cmd.text_len, 0);

    cmd = parse ("/msg   ", CMD_MSG);
    assert_int_equal (cmd.arg_len, 0);
    assert_int_equal (cmd.text_len, 0);
}

static void
test_unknown (void **state)
{
    (void) state;
    command_t cmd = parse ("/", CMD_UNKNOWN);
    expect_span (cmd.verb, cmd.verb_len, "/");
    cmd = parse ("/ help", CMD_UNKNOWN);
    expect_span (cmd.verb, cmd.verb_len, "/");
    cmd = parse ("/xyz some args", CMD_UNKNOWN);
    expect_span (cmd.verb, cmd.verb_len, "/xyz");
    cmd = parse ("/helpme", CMD_UNKNOWN);
    expect_span (cmd.verb, cmd.verb_len, "/helpme");
    parse ("/hel", CMD_UNKNOWN);
    parse ("/msgbob hi", CMD_UNKNOWN);
    parse ("//help", CMD_UNKNOWN);
    parse ("/unknown", CMD_UNKNOWN);
    parse ("/none", CMD_UNKNOWN);
    cmd = parse ("/join\x01x", CMD_UNKNOWN);
    assert_int_equal (cmd.verb_len, 7);
    assert_int_equal (cmd.arg_len, 0);
}

static void
test_only_len_bytes_parsed (void **state)
{
    (void) state;
    command_t cmd;
    assert_int_equal (command_parse ("/helpful", 5, &cmd), CMD_HELP);
    assert_int_equal (command_parse ("/join room", 7, &cmd), CMD_JOIN);
    expect_span (cmd.arg, cmd.arg_len, "r");
    assert_int_equal (command_parse ("/msg a bc", 8, &cmd), CMD_MSG);
    expect_span (cmd.text, cmd.text_len, "b");
}

static void
test_names_round_trip (void **state)
{
    (void) state;
    assert_string_equal (command_name (CMD_NONE), "");
    assert_string_equal (command_name (CMD_HELP), "help");
    assert_string_equal (command_name (CMD_ROOMS), "rooms");
    assert_string_equal (command_name (CMD_JOIN), "join");
    assert_string_equal (command_name (CMD_USERS), "users");
    assert_string_equal (command_name (CMD_NAME), "name");
    assert_string_equal (command_name (CMD_MSG), "msg");
    assert_string_equal (command_name (CMD_QUIT), "quit");
    for (command_kind_t kind = CMD_NONE; kind <= CMD_UNKNOWN; kind++)
        assert_int_equal (command_from_name (command_name (kind)), kind);
    assert_int_equal (command_from_name ("HELP"), CMD_UNKNOWN);
    assert_int_equal (command_from_name ("/help"), CMD_UNKNOWN);
    assert_int_equal (command_from_name ("hel"), CMD_UNKNOWN);
    assert_int_equal (command_from_name (NULL), CMD_UNKNOWN);
    assert_string_equal (command_name ((command_kind_t) 99), "");
}

/*  A NUL inside the verb: found by the fuzzer, which read past the end of
    the verb table when "/quit" was followed by a NUL.                  */
static void
test_nul_in_verb (void **state)
{
    (void) state;
    command_t  cmd;
    const char line [] = "/quit\0\0x";
    assert_int_equal (command_parse (line, sizeof line - 1, &cmd), CMD_UNKNOWN);
    const char msg [] = "/msg\0";
    assert_int_equal (command_parse (msg, sizeof msg - 1, &cmd), CMD_UNKNOWN);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_not_a_command),
        cmocka_unit_test (test_each_verb),
        cmocka_unit_test (test_verbs_ignore_case),
        cmocka_unit_test (test_trailing_words_ignored),
        cmocka_unit_test (test_join),
        cmocka_unit_test (test_name),
        cmocka_unit_test (test_msg),
        cmocka_unit_test (test_msg_missing_parts),
        cmocka_unit_test (test_unknown),
        cmocka_unit_test (test_only_len_bytes_parsed),
        cmocka_unit_test (test_names_round_trip),
        cmocka_unit_test (test_nul_in_verb),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
