/* SPDX-License-Identifier: MIT */
/*  Unit tests for messages: every kind of the table built by its builder,
    sent through a real inproc PAIR pair and parsed back; and what
    msg_parse refuses (a part missing or one too many, an unknown type, a
    bad id, a boolean that is not "1" or "0").                           */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include "log.h"
#include "messages.h"
#include "../msg_raw.h"

#define WAIT_MS 5000 /* every receive is bounded */
#define ID      0x0102030405060708ULL

static zsock_t *s_bound;     /* "@inproc://..." */
static zsock_t *s_connected; /* ">inproc://..." */

static int
pair_setup (void **state)
{
    (void) state;
    static unsigned seq;
    char            endpoint [96];
    snprintf (endpoint, sizeof endpoint, "@inproc://test-messages-%d-%u", (int) getpid (), ++seq);
    s_bound = zsock_new_pair (endpoint);
    endpoint [0] = '>';
    s_connected = zsock_new_pair (endpoint);
    if (!s_bound || !s_connected)
        return -1;
    zsock_set_rcvtimeo (s_bound, WAIT_MS);
    zsock_set_rcvtimeo (s_connected, WAIT_MS);
    zsock_set_sndtimeo (s_bound, WAIT_MS);
    zsock_set_sndtimeo (s_connected, WAIT_MS);
    return 0;
}

static int
pair_teardown (void **state)
{
    (void) state;
    zsock_destroy (&s_bound);
    zsock_destroy (&s_connected);
    return 0;
}

/*  Sends msg one way and returns what arrived (failing on timeout).     */
static zmsg_t *
pass (zmsg_t *msg)
{
    assert_int_equal (msg_send (&msg, s_bound), 0);
    assert_null (msg);
    zmsg_t *got = msg_recv (s_connected);
    if (!got)
        fail_msg ("no message within %d ms", WAIT_MS);
    return got;
}

static void
assert_part (const msg_view_t *view, size_t i, const void *data, size_t size)
{
    assert_true (i < view->parts);
    assert_int_equal (view->part [i].size, size);
    if (size)
        assert_memory_equal (view->part [i].data, data, size);
}

static void
assert_frame (zframe_t *frame, const void *data, size_t size)
{
    assert_non_null (frame);
    assert_int_equal (zframe_size (frame), size);
    if (size)
        assert_memory_equal (zframe_data (frame), data, size);
}

/* ------------------------------------------------------------------ */
/*  One sample of each kind                                            */

static const uint64_t s_ids [3] = {0x100000002ULL, 0xFFFFFFFFFFFFFFFFULL, 7};
static const char     s_binary [] = {'a', 0, 'b', (char) 0xFF}; /* a NUL inside */
static char           s_long [5000];                            /* crosses by reference */
static char           s_packed [256];                           /* ENTRIES' part, packed by hand */
static size_t         s_packed_size;

static void
pack_by_hand (const void *data, uint32_t size)
{
    memcpy (s_packed + s_packed_size, &size, sizeof size);
    memcpy (s_packed + s_packed_size + sizeof size, data, size);
    s_packed_size += sizeof size + size;
}

/*  One entry with msg_entries_add, and the bytes it must make.          */
static zmsg_t *
s_new_entries (void)
{
    msg_entry_t entry = {{"line", 4}, {"a/1", 3}, {"al", 2}, {"hi", 2}, {"[x]", 3}, {"1-0", 3}, 7};
    zchunk_t   *batch = zchunk_new (NULL, 0);
    msg_entries_add (batch, &entry);
    zmsg_t *msg = msg_new_entries (batch);
    zchunk_destroy (&batch);
    s_packed_size = 0;
    const char *fields [] = {"line", "a/1", "al", "hi", "[x]", "1-0"};
    for (size_t i = 0; i < 6; i++)
        pack_by_hand (fields [i], (uint32_t) strlen (fields [i]));
    uint64_t local = 7;
    pack_by_hand (&local, sizeof local);
    return msg;
}

/*  A message of kind built by its builder, and the parts it must parse
    into (want [i], sizes [i]) with its id. No default: a kind added to
    the table without a sample here is a compiler warning.               */
static zmsg_t *
sample (msg_kind_t kind, uint64_t *id, const void *want [], size_t sizes [])
{
    *id = ID;
#define WANT(i, data, size) (want [i] = (data), sizes [i] = (size))
    switch (kind) {
        case MSG_TERM:
            *id = 0;
            return msg_new_term ();
        case MSG_NAME:
            WANT (0, "alice", 5);
            return msg_new_name (ID, "alice!", 5);
        case MSG_LINE:
            WANT (0, s_binary, sizeof s_binary);
            return msg_new_line (ID, s_binary, sizeof s_binary);
        case MSG_CMD:
            WANT (0, "msg", 3), WANT (1, "bob", 3), WANT (2, "", 0);
            return msg_new_cmd (ID, "msg", "bob", 3, "", 0);
        case MSG_NOTICE:
            WANT (0, "Line too long", 13);
            return msg_new_notice (ID, "Line too long");
        case MSG_CLOSED:
            return msg_new_closed (ID);
        case MSG_RELEASED:
            return msg_new_released (ID);
        case MSG_JOIN:
            WANT (0, "carol", 5);
            return msg_new_join (ID, "carol");
        case MSG_LEAVE:
            WANT (0, "1", 1);
            return msg_new_leave (ID, true);
        case MSG_SAY:
            WANT (0, s_long, sizeof s_long), WANT (1, "{\"type\":\"reply\"}", 16);
            return msg_new_say (ID, s_long, sizeof s_long, "{\"type\":\"reply\"}", 16);
        case MSG_USERS:
            return msg_new_users (ID);
        case MSG_RENAME:
            WANT (0, "dave", 4);
            return msg_new_rename (ID, "dave and more", 4);
        case MSG_OUT:
            WANT (0, "hi\n", 3), WANT (1, s_ids, sizeof s_ids), WANT (2, "1", 1), WANT (3, "{}", 2);
            return msg_new_out (ID, "hi\n", 3, s_ids, 3, true, "{}", 2);
        case MSG_ENTER:
            WANT (0, "erin", 4), WANT (1, "[2024-01-01 00:00:00][bob]:hi\n", 30), WANT (2, "", 0);
            return msg_new_enter (ID, "erin", "[2024-01-01 00:00:00][bob]:hi\n", 30, NULL, 0);
        case MSG_REFUSE:
            WANT (0, "Name is already taken.", 22);
            return msg_new_refuse (ID, "Name is already taken.");
        case MSG_RELEASE:
            WANT (0, "0", 1);
            return msg_new_release (ID, false);
        case MSG_LABEL:
            WANT (0, "frank", 5);
            return msg_new_label (ID, "frank");
        case MSG_ATTACH:
            *id = 0;
            WANT (0, "inproc://x/room-1", 17);
            return msg_new_attach ("inproc://x/room-1");
        case MSG_BYE:
            *id = 0;
            return msg_new_bye ();
        case MSG_PAUSE:
            return msg_new_pause (ID);
        case MSG_RESUME:
            return msg_new_resume (ID);
        case MSG_STORE:
            *id = 0;
            WANT (0, "[2024-01-01 00:00:00][bob]:hi", 29);
            return msg_new_store ("[2024-01-01 00:00:00][bob]:hi", 29);
        case MSG_STORED:
            *id = 12345;
            return msg_new_stored (12345);
        case MSG_STATS:
            *id = 1;
            WANT (0, s_ids, sizeof s_ids);
            return msg_new_stats (1, s_ids, 3);
        case MSG_SCRAPE:
            return msg_new_scrape (ID);
        case MSG_METRICS:
            WANT (0, "tcpchat_rooms 1\n", 16);
            return msg_new_metrics (ID, "tcpchat_rooms 1\n", 16);
        case MSG_CLAIM:
            WANT (0, "Bob", 3), WANT (1, "bob0", 4), WANT (2, "bob1", 4), WANT (3, "bob", 3);
            return msg_new_claim (ID, "Bob", "bob0", "bob1", "bob");
        case MSG_CLAIMED:
            WANT (0, "taken", 5);
            return msg_new_claimed (ID, "taken");
        case MSG_UNCLAIM:
            WANT (0, "Bob", 3);
            return msg_new_unclaim (ID, "Bob");
        case MSG_ROOMS:
            return msg_new_rooms (ID);
        case MSG_ROOMLIST:
            WANT (0, "dev\t2\n", 6);
            return msg_new_roomlist (ID, "dev\t2\n", 6);
        case MSG_PRIVATE:
            WANT (0, "al", 2), WANT (1, "bo", 2), WANT (2, s_binary, sizeof s_binary);
            WANT (3, "[2024-01-01 00:00:00]", 21);
            return msg_new_private (ID, "al", "bo", s_binary, sizeof s_binary,
                                    "[2024-01-01 00:00:00]");
        case MSG_PRIVATED:
            WANT (0, "nouser", 6);
            return msg_new_privated (ID, "nouser");
        case MSG_DELIVER:
            WANT (0, "al", 2), WANT (1, "hi", 2), WANT (2, "[2024-01-01 00:00:00]", 21);
            return msg_new_deliver (ID, "al", "hi there", 2, "[2024-01-01 00:00:00]");
        case MSG_LINK:
            *id = 0;
            WANT (0, "1", 1), WANT (1, "42", 2);
            return msg_new_link (true, 42);
        case MSG_FOLLOW:
            *id = 0;
            WANT (0, "dev", 3), WANT (1, "inproc://x/rc-1", 15);
            return msg_new_follow ("dev", "inproc://x/rc-1");
        case MSG_PUBLISH:
            WANT (0, "line", 4), WANT (1, "al", 2), WANT (2, "hi", 2);
            WANT (3, "[2024-01-01 00:00:00]", 21);
            return msg_new_publish (ID, "line", "al", "hi!", 2, "[2024-01-01 00:00:00]");
        case MSG_UNSENT:
            WANT (0, "line", 4);
            return msg_new_unsent (ID, "line");
        case MSG_ENTRIES:
            *id = 0;
            {
                zmsg_t *msg = s_new_entries ();
                WANT (0, s_packed, s_packed_size);
                return msg;
            }
        case MSG_STATE:
            *id = 0;
            WANT (0, "a/1\tal\n", 8), WANT (1, "", 0), WANT (2, "1-0", 3);
            return msg_new_state ("a/1\tal\n", 8, "", 0, "1-0");
        case MSG_KINDS:
            break;
    }
#undef WANT
    fail_msg ("no sample for kind %d", (int) kind);
    return NULL;
}

/* ------------------------------------------------------------------ */

/*  The table itself: every kind has a row that a view can hold.         */
static void
test_table_rows (void **state)
{
    (void) state;
    for (int kind = 0; kind < MSG_KINDS; kind++) {
        const msg_spec_t *spec = msg_spec ((msg_kind_t) kind);
        assert_non_null (spec->type);
        assert_in_range (strlen (spec->type), 1, sizeof ((msg_view_t *) 0)->type - 1);
        assert_true (spec->parts <= MSG_MAX_PARTS);
        assert_true (spec->bools >> spec->parts == 0); /* bools are parts */
        assert_non_null (spec->route);
        assert_true (strstr (spec->route, "->") != NULL);
        assert_non_null (spec->payload);
        for (int other = 0; other < kind; other++)
            assert_string_not_equal (spec->type, msg_spec ((msg_kind_t) other)->type);
    }
}

/*  Who receives kind, by the MSG_FOR_* groups the actors' switches use. */
static const char *
receiver (msg_kind_t kind)
{
    switch (kind) {
    MSG_FOR_HUB:
        return "hub";
    MSG_FOR_ROOM:
    case MSG_LINE:   /* by way of the hub */
    case MSG_STORED: /* from its writer */
        return "room";
    MSG_FOR_GATEWAY:
        return "gateway";
    MSG_FOR_WRITER:
        return "writer";
    MSG_FOR_WEB:
        return "web";
    MSG_FOR_CLUSTER:
        return "cluster";
        case MSG_TERM:
            return "actor";
        case MSG_KINDS:
            break;
    }
    return "nobody";
}

/*  The groups agree with the table: each kind's route ends at the actor
    whose group holds it.                                                */
static void
test_groups_match_routes (void **state)
{
    (void) state;
    for (int kind = 0; kind <= MSG_KINDS; kind++) {
        const char *route = msg_spec ((msg_kind_t) kind)->route;
        const char *last = strrchr (route, ' ');
        assert_string_equal (last ? last + 1 : route, receiver ((msg_kind_t) kind));
    }
}

/*  Every kind: builder -> pipe -> msg_parse gives back kind, id, parts. */
static void
test_every_kind_round_trips (void **state)
{
    (void) state;
    memset (s_long, 'x', sizeof s_long);
    for (int kind = 0; kind < MSG_KINDS; kind++) {
        const void       *want [MSG_MAX_PARTS];
        size_t            sizes [MSG_MAX_PARTS];
        uint64_t          id;
        zmsg_t           *got = pass (sample ((msg_kind_t) kind, &id, want, sizes));
        const msg_spec_t *spec = msg_spec ((msg_kind_t) kind);
        msg_view_t        view;
        memset (&view, 0x5A, sizeof view); /* parse must reset everything */
        if (!msg_parse (got, &view))
            fail_msg ("%s refused: %s", spec->type, view.problem);
        assert_int_equal (view.kind, kind);
        assert_string_equal (view.type, spec->type);
        assert_null (view.problem);
        assert_true (view.id == id);
        assert_int_equal (view.parts, spec->parts);
        for (size_t i = 0; i < view.parts; i++)
            assert_part (&view, i, want [i], sizes [i]);
        zmsg_destroy (&got);
    }
}

/*  The payload accessors, per kind that has booleans or ids.           */
/*  Client ids: gateway, generation and slot come back as made, each in
    its own bits; a generation past 24 bits wraps rather than spilling
    into the gateway's.                                                  */
static void
test_client_ids (void **state)
{
    (void) state;
    uint64_t id = msg_id_make (1, 0x123456, 0x89abcdef);
    assert_true (id == 0x0112345689abcdefULL);
    assert_int_equal (msg_id_gateway (id), 1);
    assert_int_equal (msg_id_gen (id), 0x123456);
    assert_int_equal (msg_id_slot (id), 0x89abcdef);
    id = msg_id_make (MSG_GATEWAYS_MAX - 1, MSG_ID_GEN_MASK + 2, 0xffffffffu);
    assert_int_equal (msg_id_gateway (id), MSG_GATEWAYS_MAX - 1);
    assert_int_equal (msg_id_gen (id), 1);
    assert_int_equal (msg_id_slot (id), 0xffffffffu);
    assert_true (msg_id_make (0, 1, 0) != 0);
    assert_true (msg_id_make (0, 1, 3) != msg_id_make (1, 1, 3));
}

static void
test_accessors (void **state)
{
    (void) state;
    for (int moving = 0; moving < 2; moving++) {
        zmsg_t    *got = pass (msg_new_leave (ID, moving));
        msg_view_t view;
        assert_true (msg_parse (got, &view));
        assert_int_equal (msg_bool (&view, 0), moving);
        zmsg_destroy (&got);
        got = pass (msg_new_release (ID, moving));
        assert_true (msg_parse (got, &view));
        assert_int_equal (msg_bool (&view, 0), moving);
        zmsg_destroy (&got);
    }
    for (int prompt_skip = 0; prompt_skip < 2; prompt_skip++) {
        zmsg_t    *got = pass (msg_new_out (s_ids [0], "t", 1, s_ids, 3, prompt_skip, "", 0));
        msg_view_t view;
        assert_true (msg_parse (got, &view));
        assert_true (view.id == s_ids [0]);
        assert_int_equal (msg_bool (&view, 2), prompt_skip);
        assert_int_equal (msg_id_count (&view, 1), 3);
        for (size_t n = 0; n < 3; n++)
            assert_true (msg_id_at (&view, 1, n) == s_ids [n]);
        zmsg_destroy (&got);
    }
    //  No ids at all: an OUT to nobody.
    zmsg_t    *got = pass (msg_new_out (0, "", 0, NULL, 0, false, NULL, 0));
    msg_view_t view;
    assert_true (msg_parse (got, &view));
    assert_int_equal (msg_id_count (&view, 1), 0);
    assert_false (msg_bool (&view, 2));
    //  A part that is not there reads as false, no ids, "".
    assert_false (msg_bool (&view, 7));
    assert_int_equal (msg_id_count (&view, 7), 0);
    zmsg_destroy (&got);
    //  STORED: the count is the id.
    got = pass (msg_new_stored (UINT64_MAX));
    assert_true (msg_parse (got, &view));
    assert_true (view.id == UINT64_MAX);
    zmsg_destroy (&got);
}

/*  The wire form: [type][8-byte id][payload...], nothing more; $TERM is
    its type frame alone, as CZMQ sends it.                              */
static void
test_wire_format (void **state)
{
    (void) state;
    zmsg_t *got = pass (msg_new_line (ID, "hello", 5));
    assert_int_equal (zmsg_size (got), 3);
    uint64_t id = ID;
    assert_frame (zmsg_first (got), "LINE", 4);
    assert_frame (zmsg_next (got), &id, sizeof id);
    assert_frame (zmsg_next (got), "hello", 5);
    zmsg_destroy (&got);

    got = pass (msg_new_out (0, "x", 1, &id, 1, true, "{}", 2));
    assert_int_equal (zmsg_size (got), 6);
    uint64_t zero = 0;
    assert_frame (zmsg_first (got), "OUT", 3);
    assert_frame (zmsg_next (got), &zero, sizeof zero);
    assert_frame (zmsg_next (got), "x", 1);
    assert_frame (zmsg_next (got), &id, sizeof id);
    assert_frame (zmsg_next (got), "1", 1);
    assert_frame (zmsg_next (got), "{}", 2);
    zmsg_destroy (&got);

    got = pass (msg_new_term ());
    assert_int_equal (zmsg_size (got), 1);
    assert_frame (zmsg_first (got), "$TERM", 5);
    zmsg_destroy (&got);
    //  CZMQ's own $TERM (zactor_destroy) is the same message.
    assert_int_equal (zstr_send (s_bound, "$TERM"), 0);
    got = msg_recv (s_connected);
    assert_non_null (got);
    msg_view_t view;
    assert_true (msg_parse (got, &view));
    assert_int_equal (view.kind, MSG_TERM);
    assert_true (view.id == 0);
    assert_int_equal (view.parts, 0);
    zmsg_destroy (&got);
}

/*  Parses msg (taken), which must be refused.                           */
static void
assert_refused (zmsg_t *msg, const char *what)
{
    msg_view_t view;
    zmsg_t    *got = pass (msg);
    if (msg_parse (got, &view))
        fail_msg ("%s was accepted", what);
    assert_non_null (view.problem);
    assert_int_equal (view.kind, MSG_KINDS);
    zmsg_destroy (&got);
}

/*  Every kind with one part fewer and one part more is refused.         */
static void
test_wrong_part_counts (void **state)
{
    (void) state;
    for (int kind = 0; kind < MSG_KINDS; kind++) {
        const char *type = msg_spec ((msg_kind_t) kind)->type;
        const void *want [MSG_MAX_PARTS];
        size_t      sizes [MSG_MAX_PARTS];
        uint64_t    id;
        char        what [64];
        zmsg_t     *msg = sample ((msg_kind_t) kind, &id, want, sizes);
        //  $TERM has no id to lose; the id is the last frame of the rest.
        if (zmsg_size (msg) > 1) {
            zframe_t *last = zmsg_last (msg);
            zmsg_remove (msg, last);
            zframe_destroy (&last);
            snprintf (what, sizeof what, "%s with a part missing", type);
            assert_refused (msg, what);
        } else
            zmsg_destroy (&msg);
        msg = sample ((msg_kind_t) kind, &id, want, sizes);
        zmsg_addstr (msg, "extra");
        snprintf (what, sizeof what, "%s with a part too many", type);
        assert_refused (msg, what);
    }
}

static void
test_unknown_types (void **state)
{
    (void) state;
    const char *types [] = {"BOGUS", "OU", "OUTS", "out", "", "MUCHTOOLONGTYPE", "$TERMS"};
    for (size_t i = 0; i < sizeof types / sizeof types [0]; i++) {
        zmsg_t *msg = msg_new_type (types [i], ID);
        msg_add_str (msg, "x");
        assert_refused (msg, types [i]);
        assert_refused (msg_new_type (types [i], ID), types [i]);
    }
    //  No frames at all (never sent: a message must have one frame).
    zmsg_t    *empty = zmsg_new ();
    msg_view_t view;
    assert_false (msg_parse (empty, &view));
    zmsg_destroy (&empty);
}

/*  An id frame of the wrong size, shorter, longer, empty, or none.      */
static void
test_bad_ids (void **state)
{
    (void) state;
    const size_t sizes [] = {4, 9, 0, 7};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes [0]; i++) {
        char    id [16] = {0};
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, "LINE");
        zmsg_addmem (msg, id, sizes [i]);
        zmsg_addstr (msg, "text");
        assert_refused (msg, "an id of the wrong size");
    }
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "BYE");
    assert_refused (msg, "a BYE without its id");
}

/*  A boolean is one byte, "1" or "0": nothing else.                     */
static void
test_bad_booleans (void **state)
{
    (void) state;
    const char  *bad [] = {"", "2", "10", "true", "\001", "\000"};
    const size_t sizes [] = {0, 1, 2, 4, 1, 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        zmsg_t *msg = msg_new (MSG_LEAVE, ID);
        msg_add (msg, bad [i], sizes [i]);
        assert_refused (msg, "a LEAVE with a bad boolean");
        uint64_t id = ID;
        msg = msg_new (MSG_OUT, ID);
        msg_add_str (msg, "text");
        msg_add (msg, &id, sizeof id);
        msg_add (msg, bad [i], sizes [i]);
        msg_add_str (msg, "");
        assert_refused (msg, "an OUT with a bad prompt_skip");
    }
}

/*  What log reads from its pipe so far (non-blocking), into out.       */
static void
read_log (int fd, char *out, size_t size)
{
    ssize_t got = read (fd, out, size - 1);
    out [got > 0 ? got : 0] = 0;
}

/*  A pipe whose one command is $TERM: it says so for $TERM only, and
    logs anything else once, refused or unexpected, by its type.         */
static void
test_term_and_drops (void **state)
{
    (void) state;
    int fds [2];
    assert_int_equal (pipe2 (fds, O_NONBLOCK), 0);
    log_t log;
    log_init (&log, "test", fds [1], false);
    char text [4096];

    zmsg_t *got = pass (msg_new_term ());
    assert_true (msg_is_term (got, &log));
    zmsg_destroy (&got);
    read_log (fds [0], text, sizeof text);
    assert_string_equal (text, "");

    got = pass (msg_new_line (ID, "hi", 2));
    assert_false (msg_is_term (got, &log));
    zmsg_destroy (&got);
    read_log (fds [0], text, sizeof text);
    assert_non_null (strstr (text, "test E: unexpected LINE (gateway -> hub -> room) dropped\n"));

    got = pass (msg_new_type ("BOGUS", ID));
    assert_false (msg_is_term (got, &log));
    zmsg_destroy (&got);
    read_log (fds [0], text, sizeof text);
    assert_non_null (strstr (text, "test E: malformed BOGUS message dropped: unknown type\n"));
    assert_null (strchr (strchr (text, '\n') + 1, '\n')); /* once */
    close (fds [0]);
    close (fds [1]);
}

/*  ENTRIES read back entry by entry, and a cut batch stops the reader.  */
static void
test_entries (void **state)
{
    (void) state;
    zchunk_t   *batch = zchunk_new (NULL, 0);
    msg_entry_t one = {{"join", 4}, {"n/2", 3}, {"bo", 2}, {"", 0}, {"[t]", 3}, {"5-1", 3}, 0};
    msg_entry_t two = {{"line", 4}, {"n/2", 3}, {"bo", 2}, {s_binary, sizeof s_binary},
                       {"[t]", 3},  {"6-0", 3}, ID};
    msg_entries_add (batch, &one);
    msg_entries_add (batch, &two);
    zmsg_t    *got = pass (msg_new_entries (batch));
    msg_view_t view;
    assert_true (msg_parse (got, &view));
    size_t      offset = 0;
    msg_entry_t entry;
    assert_true (msg_entries_next (&view, &offset, &entry));
    assert_int_equal (entry.kind.size, 4);
    assert_memory_equal (entry.kind.data, "join", 4);
    assert_int_equal (entry.local, 0);
    assert_true (msg_entries_next (&view, &offset, &entry));
    assert_int_equal (entry.text.size, sizeof s_binary);
    assert_memory_equal (entry.text.data, s_binary, sizeof s_binary);
    assert_memory_equal (entry.stream.data, "6-0", 3);
    assert_true (entry.local == ID);
    assert_false (msg_entries_next (&view, &offset, &entry));
    //  The same batch one byte short: the first entry reads, not the cut one.
    view.part [0].size--;
    offset = 0;
    assert_true (msg_entries_next (&view, &offset, &entry));
    assert_false (msg_entries_next (&view, &offset, &entry));
    zmsg_destroy (&got);
    zchunk_destroy (&batch);
}

static void
test_strdup (void **state)
{
    (void) state;
    zmsg_t    *got = pass (msg_new_cmd (77, "msg", "", 0, "hello world, not NUL terminated", 11));
    msg_view_t view;
    assert_true (msg_parse (got, &view));
    char *s = msg_strdup (&view, 0);
    assert_string_equal (s, "msg");
    free (s);
    s = msg_strdup (&view, 1);
    assert_string_equal (s, "");
    free (s);
    s = msg_strdup (&view, 2);
    assert_string_equal (s, "hello world");
    free (s);
    //  A part that is not there is an empty string, not NULL.
    s = msg_strdup (&view, 3);
    assert_non_null (s);
    assert_string_equal (s, "");
    free (s);
    zmsg_destroy (&got);
}

/*  Sending where no peer will ever take it: -1, and the message is gone
    (the sanitizer build checks that nothing leaks).                     */
static void
test_send_failure_destroys (void **state)
{
    (void) state;
    static unsigned seq;
    char            endpoint [96];
    snprintf (endpoint, sizeof endpoint, "@inproc://test-messages-lonely-%d-%u", (int) getpid (),
              ++seq);
    zsock_t *lonely = zsock_new_pair (endpoint);
    assert_non_null (lonely);
    zsock_set_sndtimeo (lonely, 0);
    zmsg_t *msg = msg_new_line (9, "nobody hears this", 17);
    assert_int_equal (msg_send (&msg, lonely), -1);
    assert_null (msg);
    msg = msg_new_term ();
    assert_int_equal (msg_send (&msg, lonely), -1);
    assert_null (msg);
    zsock_destroy (&lonely);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_table_rows),
        cmocka_unit_test (test_groups_match_routes),
        cmocka_unit_test_setup_teardown (test_every_kind_round_trips, pair_setup, pair_teardown),
        cmocka_unit_test (test_client_ids),
        cmocka_unit_test_setup_teardown (test_accessors, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown (test_wire_format, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown (test_wrong_part_counts, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown (test_unknown_types, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown (test_bad_ids, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown (test_bad_booleans, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown (test_term_and_drops, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown (test_strdup, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown (test_entries, pair_setup, pair_teardown),
        cmocka_unit_test (test_send_failure_destroys),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
