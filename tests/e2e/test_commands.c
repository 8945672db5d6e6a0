/* SPDX-License-Identifier: MIT */
/*  End-to-end: commands and rooms (docs/PROTOCOL.md, "Commands"), and the
    ordering promises around entering and moving between rooms.         */
#include "e2e.h"

#include <ctype.h>
#include <string.h>

#define ROOM_CHARS "Room name can only contain letters, digits, '_' and '-'."
#define ROOM_LONG  "Room name is too long (max 32 characters)."

/*  Sends a command line and expects `reply` (a pattern, "\n" added) and
    the caller's prompt.                                                 */
static void
command (e2e_client_t *c, const char *line, const char *reply)
{
    e2e_send (c, e2e_fmt ("%s\n", line));
    e2e_expect_reply (c, reply);
}

/*  /join ROOM for c, whose room so far has `others` (told it left);
    `history` is what c should receive from ROOM (a pattern).           */
static void
move (e2e_client_t *c, const char *room, const char *history, e2e_client_t **old_members,
      e2e_client_t **new_members)
{
    e2e_send (c, e2e_fmt ("/join %s\n", room));
    e2e_expect (c, history);
    e2e_expect_prompt (c);
    for (size_t i = 0; old_members && old_members [i]; i++)
        e2e_expect_left (old_members [i], e2e_name (c));
    for (size_t i = 0; new_members && new_members [i]; i++)
        e2e_expect_joined (new_members [i], e2e_name (c));
}

/*  A command line and its reply (a pattern, as for command()).          */
typedef struct {
    const char *line;
    const char *reply;
} exchange_t;

/*  c sends each line of ex (up to { NULL }) and gets its reply; quiet,
    in the same room, hears nothing of it: replies are private.          */
static void
private_replies (e2e_client_t *c, e2e_client_t *quiet, const exchange_t *ex)
{
    for (; ex->line; ex++)
        command (c, ex->line, ex->reply);
    e2e_expect_silence (quiet, E2E_QUIET_MS);
}

#define MEMBERS(...) ((e2e_client_t *[]){__VA_ARGS__, NULL})

/* ------------------------------------------------------------------ */
/*  /help, unknown commands, verbs                                    */

static void
test_help_text (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    e2e_send (alice, "/help\n");
    e2e_expect (alice, E2E_HELP);
    e2e_expect_prompt (alice);
    e2e_send (alice, "/HeLp\n"); /* verbs ignore case */
    e2e_expect (alice, E2E_HELP);
    e2e_expect_prompt (alice);
    e2e_expect_silence (bob, E2E_QUIET_MS); /* replies are private */
    e2e_stop (srv);
}

static void
test_unknown_command (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    private_replies (
        alice, bob,
        (exchange_t []){{"/foo bar", "Unknown command: /foo. Type /help for the list."},
                        {"/FoO", "Unknown command: /FoO. Type /help for the list."},
                        {"/f\x01o\x1b[31mo", "Unknown command: /foo. Type /help for the list."},
                        {"/", "Unknown command: /. Type /help for the list."},
                        {"/helpme", "Unknown command: /helpme. Type /help for the list."},
                        {NULL, NULL}});
    e2e_stop (srv);
}

/*  Commands are never broadcast nor stored in history.                 */
static void
test_commands_not_broadcast_nor_stored (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    e2e_send (alice, "/help\n");
    e2e_expect (alice, E2E_HELP);
    e2e_expect_prompt (alice);
    command (alice, "/rooms", "Rooms:\n* general (2 members)");
    command (alice, "/users", "Users in general (2): alice, bob");
    command (alice, "/nope", "Unknown command: /nope. Type /help for the list.");
    command (alice, "/msg", "Usage: /msg NAME TEXT");
    command (alice, "/join", "Usage: /join ROOM");
    e2e_say (alice, "visible");
    e2e_expect_said (bob, "alice", "visible");
    e2e_expect_silence (bob, E2E_QUIET_MS);
    e2e_login_history (srv, "carol", E2E_TS "[alice]:visible\n");
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  /rooms and /users                                                 */

static void
test_rooms_single (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_send (alice, "/rooms\n");
    e2e_expect_reply (alice, "Rooms:\n* general (1 member)");
    e2e_client_t *bob = e2e_login_seen (srv, "bob", alice);
    e2e_send (bob, "/ROOMS\n");
    e2e_expect_reply (bob, "Rooms:\n* general (2 members)");
    e2e_stop (srv);
}

/*  Sorted by name, the caller's room marked, counts right.              */
static void
test_rooms_sorted_marked_counted (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    move (bob, "zulu", "", MEMBERS (alice), NULL);
    e2e_client_t *carol = e2e_login_seen (srv, "carol", alice);
    move (carol, "beta", "", MEMBERS (alice), NULL);
    e2e_client_t *dave = e2e_login_seen (srv, "dave", alice);
    move (dave, "beta", "", MEMBERS (alice), MEMBERS (carol));
    e2e_client_t *erin = e2e_login_seen (srv, "erin", alice);
    move (erin, "alpha", "", MEMBERS (alice), NULL);

    e2e_send (alice, "/rooms\n");
    e2e_expect_reply (alice, "Rooms:\n"
                             "  alpha (1 member)\n"
                             "  beta (2 members)\n"
                             "* general (1 member)\n"
                             "  zulu (1 member)");
    e2e_send (dave, "/rooms\n");
    e2e_expect_reply (dave, "Rooms:\n"
                            "  alpha (1 member)\n"
                            "* beta (2 members)\n"
                            "  general (1 member)\n"
                            "  zulu (1 member)");
    e2e_expect_silence (bob, 0);
    e2e_stop (srv);
}

static void
test_users_in_entry_order (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *carol = e2e_login (srv, "carol");
    e2e_client_t *alice = e2e_login_seen (srv, "alice", carol);
    e2e_client_t *bob = e2e_login_seen (srv, "bob", carol, alice);
    command (alice, "/users", "Users in general (3): carol, alice, bob");

    /*  Leaving and coming back puts one at the end.                     */
    move (carol, "side", "", MEMBERS (alice, bob), NULL);
    command (carol, "/users", "Users in side (1): carol");
    move (carol, "general", "", NULL, MEMBERS (alice, bob));
    command (bob, "/USERS", "Users in general (3): alice, bob, carol");
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  /join                                                             */

static void
test_join_creates_and_moves (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob, *carol;
    e2e_server_t *srv = e2e_start_three (&alice, &bob, &carol);

    move (bob, "beta", "", MEMBERS (alice, carol), NULL);
    move (carol, "beta", "", MEMBERS (alice), MEMBERS (bob));
    e2e_expect_silence (bob, E2E_QUIET_MS); /* the mover is not told of itself */
    e2e_expect_silence (carol, 0);
    command (carol, "/users", "Users in beta (2): bob, carol");
    command (alice, "/users", "Users in general (1): alice");
    e2e_stop (srv);
}

/*  Lines stay in their room.                                            */
static void
test_rooms_are_isolated (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob, *carol;
    e2e_server_t *srv = e2e_start_three (&alice, &bob, &carol);
    move (carol, "beta", "", MEMBERS (alice, bob), NULL);

    e2e_say (alice, "in general");
    e2e_expect_said (bob, "alice", "in general");
    e2e_say (carol, "in beta");
    e2e_expect_silence (alice, E2E_QUIET_MS);
    e2e_expect_silence (bob, 0);
    e2e_expect_silence (carol, 0);
    /*  Each room's history holds its own lines only.                    */
    e2e_client_t *dave = e2e_login_history (srv, "dave", E2E_TS "[alice]:in general\n");
    e2e_expect_joined (alice, "dave");
    e2e_expect_joined (bob, "dave");
    move (dave, "beta", E2E_TS "[carol]:in beta\n", MEMBERS (alice, bob), MEMBERS (carol));
    e2e_stop (srv);
}

static void
test_join_receives_room_history (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *alice = e2e_login (srv, "alice");
    e2e_say (alice, "in general");
    e2e_client_t *bob = e2e_login_history (srv, "bob", E2E_TS "[alice]:in general\n");
    e2e_expect_joined (alice, "bob");
    move (bob, "beta", "", MEMBERS (alice), NULL);
    e2e_say (bob, "b1");
    e2e_say (bob, "b2");
    move (alice, "beta", E2E_TS "[bob]:b1\n" E2E_TS "[bob]:b2\n", NULL, MEMBERS (bob));
    /*  And back: general kept its history while empty.                  */
    move (alice, "general", E2E_TS "[alice]:in general\n", MEMBERS (bob), NULL);
    e2e_stop (srv);
}

/*  Room names: first spelling shown, compared ignoring case.            */
static void
test_room_names_ignore_case (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob, *carol;
    e2e_server_t *srv = e2e_start_three (&alice, &bob, &carol);
    move (bob, "my_Room-1", "", MEMBERS (alice, carol), NULL);
    move (carol, "MY_ROOM-1", "", MEMBERS (alice), MEMBERS (bob));
    command (carol, "/users", "Users in my_Room-1 (2): bob, carol");
    command (alice, "/rooms",
             "Rooms:\n"
             "* general (1 member)\n"
             "  my_Room-1 (2 members)");
    command (bob, "/join my_Room-1", "You are already in my_Room-1.");
    e2e_stop (srv);
}

static void
test_join_errors (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    private_replies (alice, bob,
                     (exchange_t []){{"/join", "Usage: /join ROOM"},
                                     {"/join bad!name", ROOM_CHARS},
                                     {"/join two words", ROOM_CHARS},
                                     {"/join caf\xc3\xa9", ROOM_CHARS},
                                     {"/join room.1", ROOM_CHARS},
                                     {e2e_fmt ("/join %s", e2e_repeat ('r', 33)), ROOM_LONG},
                                     {"/join general", "You are already in general."},
                                     {NULL, NULL}});
    command (alice, "/rooms", "Rooms:\n* general (2 members)");
    /*  32 characters are fine.                                          */
    move (alice, e2e_repeat ('r', 32), "", MEMBERS (bob), NULL);
    e2e_stop (srv);
}

static void
test_join_max_rooms (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start ("--max-rooms", "2");
    e2e_client_t *alice, *bob;
    e2e_login_two (srv, &alice, &bob);
    e2e_client_t *carol = e2e_login_seen (srv, "carol", alice, bob);
    move (bob, "beta", "", MEMBERS (alice, carol), NULL);
    command (carol, "/join gamma", "Too many rooms (max 2). Join an existing one.");
    e2e_expect_silence (alice, E2E_QUIET_MS); /* carol did not move */
    move (carol, "beta", "", MEMBERS (alice), MEMBERS (bob));
    /*  An emptied room without history is gone, making room again.     */
    move (bob, "general", "", MEMBERS (carol), MEMBERS (alice));
    move (carol, "general", "", NULL, MEMBERS (alice, bob));
    move (carol, "gamma", "", MEMBERS (alice, bob), NULL);
    e2e_stop (srv);
}

/*  general always exists; an empty room without history disappears,
    one with history stays (0 members).                                  */
static void
test_empty_rooms_listing (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    move (alice, "tmp", "", MEMBERS (bob), NULL);
    command (bob, "/rooms", "Rooms:\n* general (1 member)\n  tmp (1 member)");
    move (alice, "general", "", NULL, MEMBERS (bob));
    command (bob, "/rooms", "Rooms:\n* general (2 members)");

    move (alice, "keep", "", MEMBERS (bob), NULL);
    e2e_say (alice, "kept");
    move (alice, "general", "", NULL, MEMBERS (bob));
    command (bob, "/rooms", "Rooms:\n* general (2 members)\n  keep (0 members)");

    /*  general stays even when everyone is elsewhere.                   */
    move (alice, "keep", E2E_TS "[alice]:kept\n", MEMBERS (bob), NULL);
    move (bob, "tmp", "", NULL, NULL);
    command (bob, "/rooms", "Rooms:\n  general (0 members)\n  keep (1 member)\n* tmp (1 member)");
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  /name                                                             */


#define TAKEN    "Name is already taken."
#define SPACES   "Name cannot contain spaces."
#define SLASH    "Name cannot start with '/'."
#define TOO_LONG "Name is too long (max 32 characters)."
#define PRINT    "Name can only contain printable characters."

static void
test_name_change (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob, *carol;
    e2e_server_t *srv = e2e_start_three (&alice, &bob, &carol);
    move (carol, "beta", "", MEMBERS (alice, bob), NULL);

    e2e_send (alice, "/name alicia\n");
    e2e_expect (alice, "alice changed their name to alicia\n");
    e2e_set_name (alice, "alicia");
    e2e_expect_prompt (alice);
    e2e_expect (bob, "\nalice changed their name to alicia\n");
    e2e_expect_prompt (bob);
    e2e_expect_silence (carol, E2E_QUIET_MS); /* another room */

    /*  The old name is free at once, the new one is taken.             */
    e2e_client_t *newcomer = e2e_login_seen (srv, "alice", alice, bob);
    e2e_client_t *late = e2e_at_name_prompt (srv);
    e2e_send (late, "ALICIA\n");
    e2e_expect (late, TAKEN "\n" E2E_NAME_PROMPT);

    /*  The others now see the new name.                                 */
    e2e_say (alice, "renamed");
    e2e_expect_said (bob, "alicia", "renamed");
    e2e_expect_said (newcomer, "alicia", "renamed");
    command (bob, "/users", "Users in general (3): alicia, bob, alice");
    e2e_stop (srv);
}

static void
test_name_change_errors (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    private_replies (alice, bob,
                     (exchange_t []){{"/name", "Usage: /name NEW"},
                                     {"/name alice", "You are already alice."},
                                     {"/name bob", TAKEN},
                                     {"/name BOB", TAKEN},
                                     {"/name bo b", SPACES},
                                     {"/name /x", SLASH},
                                     {e2e_fmt ("/name %s", e2e_repeat ('n', 33)), TOO_LONG},
                                     {"/name bo\x01"
                                      "b",
                                      PRINT},                /* refused, not cleaned */
                                     {"/name a\xfe", PRINT}, /* 0xFF would start telnet */
                                     {NULL, NULL}});
    command (bob, "/users", "Users in general (2): alice, bob");

    /*  A change of case only is allowed.                                */
    e2e_send (alice, "/name ALICE\n");
    e2e_expect (alice, "alice changed their name to ALICE\n");
    e2e_set_name (alice, "ALICE");
    e2e_expect_prompt (alice);
    e2e_expect (bob, "\nalice changed their name to ALICE\n");
    e2e_expect_prompt (bob);
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  /msg                                                              */

static void
test_msg_reaches_any_room (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob, *carol;
    e2e_server_t *srv = e2e_start_three (&alice, &bob, &carol);
    move (bob, "beta", "", MEMBERS (alice, carol), NULL);

    e2e_send (alice, "/msg bob hi there\n");
    e2e_expect_prompt (alice); /* a fresh prompt only */
    e2e_expect (bob, "\n" E2E_TS "[alice -> bob]:hi there\n");
    e2e_expect_prompt (bob);
    e2e_send (bob, "/msg carol \x1b[1mbold\x01!\n"); /* TEXT is cleaned */
    e2e_expect_prompt (bob);
    e2e_expect (carol, "\n" E2E_TS "[bob -> carol]:bold!\n");
    e2e_expect_prompt (carol);
    e2e_expect_silence (alice, E2E_QUIET_MS);

    /*  Private messages are not stored.                                 */
    e2e_client_t *dave = e2e_login_seen (srv, "dave", alice, carol);
    move (dave, "beta", "", MEMBERS (alice, carol), MEMBERS (bob));
    e2e_stop (srv);
}

/*  NAME is matched ignoring case; the stamp and text are as usual.
    Which spelling the target sees is not specified: accept either.      */
static void
test_msg_name_ignores_case (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    e2e_send (alice, "/msg BOB psst\n");
    e2e_expect_prompt (alice);
    const char *pattern = "\n" E2E_TS "[alice -> bob]:psst\n";
    size_t      n = e2e_pattern_len (pattern);
    char       *got = e2e_fmt ("%.*s", (int) n, e2e_peek (bob, n, E2E_TIMEOUT_MS));
    for (size_t i = 0; i < n; i++)
        got [i] = (char) tolower ((unsigned char) got [i]);
    if (!e2e_match (pattern, got, n))
        e2e_fail ("bob got %s, want %s (any case)", e2e_escape (got, n),
                  e2e_escape (pattern, strlen (pattern)));
    e2e_consume (bob, n);
    e2e_expect_prompt (bob);
    e2e_stop (srv);
}

static void
test_msg_errors (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob;
    e2e_server_t *srv = e2e_start_two (&alice, &bob);
    private_replies (alice, bob,
                     (exchange_t []){{"/msg", "Usage: /msg NAME TEXT"},
                                     {"/msg bob", "Usage: /msg NAME TEXT"},
                                     {"/msg nobody hello", "No such user: nobody."},
                                     {"/msg alice hello", "You cannot message yourself."},
                                     {"/msg ALICE hello", "You cannot message yourself."},
                                     {NULL, NULL}});
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  /quit                                                             */

static void
test_quit_closes_and_tells_the_room (void **state)
{
    (void) state;
    e2e_client_t *alice, *bob, *carol;
    e2e_server_t *srv = e2e_start_three (&alice, &bob, &carol);
    move (carol, "beta", "", MEMBERS (alice, bob), NULL);

    e2e_send (bob, "/QUIT\n");
    e2e_expect_eof (bob);
    e2e_expect_left (alice, "bob");
    e2e_expect_silence (carol, E2E_QUIET_MS); /* only bob's room is told */
    command (alice, "/users", "Users in general (1): alice");
    e2e_stop (srv);
}

/* ------------------------------------------------------------------ */
/*  Ordering                                                          */

#define BURST_LINES 300

/*  "L1\nL2\n...": many lines in one write.                             */
static char *
burst (int lines)
{
    char *s = e2e_fmt ("%s", "");
    for (int i = 1; i <= lines; i++)
        s = e2e_fmt ("%sL%d\n", s, i);
    return s;
}

/*  The byte at which the name of a "[TS][name]..." line starts.         */
static char
name_initial (e2e_client_t *c)
{
    return e2e_peek (c, E2E_TS_LEN + 2, E2E_TIMEOUT_MS) [E2E_TS_LEN + 1];
}

/*  Reads `prompts` prompts with, somewhere among them, the one `notice`
    ("\n...\n" followed by its own prompt): what a talker sees while
    another client comes or goes.                                        */
static void
expect_prompts_and_notice (e2e_client_t *c, int prompts, const char *notice)
{
    int  plain = 0;
    bool seen = false;
    for (int guard = 0; guard <= prompts && (plain < prompts || !seen); guard++) {
        if (e2e_peek (c, 1, E2E_TIMEOUT_MS) [0] == '\n') {
            if (seen)
                e2e_fail ("%s: a second notice", e2e_name (c));
            e2e_expect (c, notice);
            seen = true;
        } else
            plain++;
        e2e_expect_prompt (c);
    }
    if (!seen || plain != prompts)
        e2e_fail ("%s: %d prompts and %s notice, want %d and one", e2e_name (c), plain,
                  seen ? "a" : "no", prompts);
}

/*  While one client talks, another logs in: it gets the lines stored
    before it entered as history, then its prompt, then every later line
    live: in order, none lost, none twice.                               */
static void
test_joiner_history_then_live_seamless (void **state)
{
    (void) state;
    e2e_server_t *srv = e2e_start (NULL);
    e2e_client_t *talker = e2e_login (srv, "talker");
    e2e_client_t *joiner = e2e_at_name_prompt (srv);
    e2e_send (talker, burst (BURST_LINES));
    e2e_send (joiner, "joiner\n");
    e2e_set_name (joiner, "joiner");

    int next = 1;
    while (next <= BURST_LINES && name_initial (joiner) == 't')
        e2e_expect (joiner, e2e_fmt (E2E_TS "[talker]:L%d\n", next++));
    e2e_expect_prompt (joiner);
    while (next <= BURST_LINES)
        e2e_expect_said (joiner, "talker", e2e_fmt ("L%d", next++));

    expect_prompts_and_notice (talker, BURST_LINES, "\njoiner has joined our chat...\n");
    e2e_expect_silence (joiner, E2E_QUIET_MS);
    e2e_expect_silence (talker, 0);
    e2e_stop (srv);
}

/*  While one client talks in general, another moves to beta: it gets
    some first lines of general (in order, none skipped), then beta's
    history and its prompt, and never a general line after that.        */
static void
test_mover_old_room_then_new_history (void **state)
{
    (void) state;
    for (int round = 0; round < 3; round++) {
        e2e_server_t *srv = e2e_start (NULL);
        e2e_client_t *keeper = e2e_login (srv, "keeper");
        move (keeper, "beta", "", NULL, NULL);
        e2e_say (keeper, "h1");
        e2e_say (keeper, "h2");
        e2e_client_t *talker = e2e_login (srv, "talker");
        e2e_client_t *mover = e2e_login (srv, "mover");
        e2e_expect_joined (talker, "mover");

        e2e_send (talker, burst (BURST_LINES));
        e2e_send (mover, "/join beta\n");

        int next = 1;
        while (next <= BURST_LINES && e2e_peek (mover, 1, E2E_TIMEOUT_MS) [0] == '\n')
            e2e_expect_said (mover, "talker", e2e_fmt ("L%d", next++));
        e2e_expect (mover, E2E_TS "[keeper]:h1\n" E2E_TS "[keeper]:h2\n");
        e2e_expect_prompt (mover);

        expect_prompts_and_notice (talker, BURST_LINES, "\nmover has left our chat...\n");
        e2e_expect_joined (keeper, "mover");
        e2e_expect_silence (mover, E2E_QUIET_MS);
        e2e_stop (srv);
        e2e_teardown (NULL); /* free this round's clients */
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        E2E_TEST (test_help_text),
        E2E_TEST (test_unknown_command),
        E2E_TEST (test_commands_not_broadcast_nor_stored),
        E2E_TEST (test_rooms_single),
        E2E_TEST (test_rooms_sorted_marked_counted),
        E2E_TEST (test_users_in_entry_order),
        E2E_TEST (test_join_creates_and_moves),
        E2E_TEST (test_rooms_are_isolated),
        E2E_TEST (test_join_receives_room_history),
        E2E_TEST (test_room_names_ignore_case),
        E2E_TEST (test_join_errors),
        E2E_TEST (test_join_max_rooms),
        E2E_TEST (test_empty_rooms_listing),
        E2E_TEST (test_name_change),
        E2E_TEST (test_name_change_errors),
        E2E_TEST (test_msg_reaches_any_room),
        E2E_TEST (test_msg_name_ignores_case),
        E2E_TEST (test_msg_errors),
        E2E_TEST (test_quit_closes_and_tells_the_room),
        E2E_TEST (test_joiner_history_then_live_seamless),
        E2E_TEST (test_mover_old_room_then_new_history),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
