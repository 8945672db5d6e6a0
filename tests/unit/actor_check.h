/* SPDX-License-Identifier: MIT */
/*  actor_check: expectations on the messages an actor sends to its
    (fake) gateway, for test_room.c and test_hub.c.

    Each expect_* receives the next message on a PAIR socket (bounded by
    the socket's receive timeout, set with check_socket_new), checks it
    exactly, prints what was expected and what arrived on a mismatch and
    fails the test at the caller's line.

    OUT messages addressed to nobody (an empty ids frame) produce no
    output at the gateway, so receiving skips them: a room may or may not
    send "X has joined" to an empty room.

    Text patterns are client_check's (tests/client_check.h): CHECK_TS
    stands for one "YYYY-MM-DD HH:MM:SS"; so is the watchdog.

    Include after <cmocka.h>.                                            */
#ifndef TCPCHAT_TEST_ACTOR_CHECK_H
#define TCPCHAT_TEST_ACTOR_CHECK_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <czmq.h>
#include "messages.h"
#include "../client_check.h"
#include "../msg_raw.h"

/*  A PAIR socket for the test's side: connected (">...") or bound
    ("@..."), with bounded receives and sends.                           */
static inline zsock_t *
check_socket_new (const char *endpoint)
{
    zsock_t *sock = zsock_new_pair (endpoint);
    if (sock) {
        zsock_set_rcvtimeo (sock, CHECK_WAIT_MS);
        zsock_set_sndtimeo (sock, CHECK_WAIT_MS);
    }
    return sock;
}

/* ------------------------------------------------------------------ */
/*  Printing                                                           */

/*  Prints bytes as a C string literal, for failure messages.            */
static inline void
check_print_bytes (const char *s, size_t n)
{
    print_error ("\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s [i];
        if (c == '\n')
            print_error ("\\n");
        else if (c == '\033')
            print_error ("<ESC>");
        else if (c == '"' || c == '\\')
            print_error ("\\%c", c);
        else if (c < 0x20 || c >= 0x7F) /* output stays ASCII */
            print_error ("\\x%02x", c);
        else
            print_error ("%c", c);
    }
    print_error ("\"");
}

static inline void
check_print_pattern (const char *pattern)
{
    print_error ("\"");
    for (const char *p = pattern; *p; p++) {
        if (strncmp (p, CHECK_TS, strlen (CHECK_TS)) == 0) {
            print_error ("<TS>");
            p += strlen (CHECK_TS) - 1;
        } else if (*p == '\n')
            print_error ("\\n");
        else
            print_error ("%c", *p);
    }
    print_error ("\"");
}

/*  Prints a received message: type, id, parts.                          */
static inline void
check_print_msg (const msg_view_t *v)
{
    print_error ("%s id=0x%llx", v->type, (unsigned long long) v->id);
    for (size_t i = 0; i < v->parts; i++) {
        print_error (" ");
        if (msg_is (v, MSG_OUT) && i == 1 && v->part [i].size % 8 == 0) {
            print_error ("[");
            for (size_t k = 0; k < v->part [i].size / 8; k++) {
                uint64_t id;
                memcpy (&id, v->part [i].data + k * 8, 8);
                print_error ("%s0x%llx", k ? "," : "", (unsigned long long) id);
            }
            print_error ("]");
        } else if (msg_is (v, MSG_OUT) && i == 2)
            print_error ("prompt_skip=%d", msg_bool (v, 2));
        else
            check_print_bytes (v->part [i].data, v->part [i].size);
    }
    print_error ("\n");
}

/* ------------------------------------------------------------------ */
/*  Receiving                                                          */

typedef struct {
    zmsg_t    *msg;
    msg_view_t v;
} check_msg_t;

/*  An OUT that writes nothing to anyone: no recipient (every id listed
    is the skip id) and no bare prompt.                                  */
static inline bool
check_is_empty_out (const msg_view_t *v)
{
    if (!msg_is (v, MSG_OUT) || v->parts != 4 || v->part [1].size % 8 || v->part [2].size != 1)
        return false;
    bool skip_listed = false;
    for (size_t k = 0; k < v->part [1].size / 8; k++) {
        uint64_t id;
        memcpy (&id, v->part [1].data + k * 8, 8);
        if (id != v->id)
            return false;
        skip_listed = true;
    }
    return !(skip_listed && msg_bool (v, 2));
}

/*  The next message that produces output (OUTs to nobody skipped).
    what: the expectation, for the timeout message.                      */
static inline void
check_recv_at (const char *file, int line, zsock_t *sock, check_msg_t *got, const char *what)
{
    for (;;) {
        got->msg = msg_recv (sock);
        if (!got->msg)
            check_fail_at (file, line, "expected %s: nothing arrived within %d ms", what,
                           CHECK_WAIT_MS);
        if (!msg_parse (got->msg, &got->v))
            check_fail_at (file, line, "expected %s: got a malformed message", what);
        if (!check_is_empty_out (&got->v))
            return;
        zmsg_destroy (&got->msg);
    }
}

static inline void
check_msg_free (check_msg_t *got)
{
    zmsg_destroy (&got->msg);
}

static inline bool
check_part_is (const msg_view_t *v, size_t i, const char *text)
{
    return i < v->parts && v->part [i].size == strlen (text) &&
           memcmp (v->part [i].data, text, v->part [i].size) == 0;
}

/* ------------------------------------------------------------------ */
/*  OUT                                                                */

/*  An OUT that writes text (a pattern) plus a prompt to exactly the ids
    in to[0..n) (in any order), and a bare prompt to bare (0: nobody),
    with event (a pattern) as its event part. Recipients are ids minus
    the skip id in the header; the skip id gets a bare prompt when it is
    in ids and prompt_skip is set.                                       */
static inline bool
check_out_event_ok (const msg_view_t *v, const char *pattern, const char *event, const uint64_t *to,
                    size_t n, uint64_t bare)
{
    if (!msg_is (v, MSG_OUT) || v->parts != 4)
        return false;
    if (!check_match (pattern, v->part [0].data, v->part [0].size))
        return false;
    if (!check_match (event, v->part [3].data, v->part [3].size))
        return false;
    if (v->part [1].size % 8 != 0 || v->part [2].size != 1)
        return false;
    size_t   count = v->part [1].size / 8;
    uint64_t skip = v->id;
    bool     skip_listed = false;
    size_t   recipients = 0;
    for (size_t k = 0; k < count; k++) {
        uint64_t id;
        memcpy (&id, v->part [1].data + k * 8, 8);
        for (size_t j = 0; j < k; j++) { /* no duplicates */
            uint64_t other;
            memcpy (&other, v->part [1].data + j * 8, 8);
            if (other == id)
                return false;
        }
        if (id == skip) {
            skip_listed = true;
            continue;
        }
        bool wanted = false;
        for (size_t j = 0; j < n; j++)
            wanted |= to [j] == id;
        if (!wanted)
            return false;
        recipients++;
    }
    if (recipients != n)
        return false;
    bool bare_prompt = skip_listed && msg_bool (v, 2);
    if (bare)
        return bare_prompt && skip == bare;
    return !bare_prompt;
}

/*  The same with no event (""): what every OUT carries when the server
    has no gateway that takes events (config.http_port 0).               */
static inline bool
check_out_ok (const msg_view_t *v, const char *pattern, const uint64_t *to, size_t n, uint64_t bare)
{
    return check_out_event_ok (v, pattern, "", to, n, bare);
}

static inline void
check_out_event_at (const char *file, int line, check_msg_t *got, const char *pattern,
                    const char *event, uint64_t bare, const uint64_t *to, size_t n)
{
    if (check_out_event_ok (&got->v, pattern, event, to, n, bare))
        return;
    print_error ("%s:%d: expected OUT ", file, line);
    check_print_pattern (pattern);
    print_error (" event ");
    check_print_pattern (event);
    print_error (" to [");
    for (size_t j = 0; j < n; j++)
        print_error ("%s0x%llx", j ? "," : "", (unsigned long long) to [j]);
    print_error ("]");
    if (bare)
        print_error (", bare prompt to 0x%llx", (unsigned long long) bare);
    print_error ("\n    got ");
    check_print_msg (&got->v);
    zmsg_destroy (&got->msg);
    _fail (file, line);
}

static inline void
check_out_at (const char *file, int line, check_msg_t *got, const char *pattern, uint64_t bare,
              const uint64_t *to, size_t n)
{
    check_out_event_at (file, line, got, pattern, "", bare, to, n);
}

static inline void
expect_out_event_at (const char *file, int line, zsock_t *sock, const char *pattern,
                     const char *event, uint64_t bare, const uint64_t *to, size_t n)
{
    check_msg_t got;
    check_recv_at (file, line, sock, &got, "an OUT");
    check_out_event_at (file, line, &got, pattern, event, bare, to, n);
    check_msg_free (&got);
}

static inline void
expect_out_at (const char *file, int line, zsock_t *sock, const char *pattern, uint64_t bare,
               const uint64_t *to, size_t n)
{
    expect_out_event_at (file, line, sock, pattern, "", bare, to, n);
}

#define CHECK_IDS(...)                                                                             \
    ((const uint64_t []){__VA_ARGS__}),                                                            \
        (sizeof ((const uint64_t []){__VA_ARGS__}) / sizeof (uint64_t))

/*  expect_out (sock, pattern, bare, id, id...): text and a prompt to
    each listed id (in any order), a bare prompt to bare (0: nobody).   */
#define expect_out(sock, pattern, bare, ...)                                                       \
    expect_out_at (__FILE__, __LINE__, (sock), (pattern), (bare), CHECK_IDS (__VA_ARGS__))

/*  expect_out_event (sock, pattern, event, bare, id, id...): the same,
    with event (a pattern) as its event part.                            */
#define expect_out_event(sock, pattern, event, bare, ...)                                          \
    expect_out_event_at (__FILE__, __LINE__, (sock), (pattern), (event), (bare),                   \
                         CHECK_IDS (__VA_ARGS__))
/*  A reply to one client and its event.                                 */
#define expect_reply_event(sock, pattern, event, id)                                               \
    expect_out_event ((sock), (pattern), (event), 0, (id))

/*  A reply to one client: text then its prompt, to nobody else.         */
#define expect_reply(sock, pattern, id) expect_out ((sock), (pattern), 0, (id))

/*  An OUT whose only effect is a bare prompt for bare (no recipients).  */
#define expect_out_alone(sock, pattern, bare)                                                      \
    expect_out_at (__FILE__, __LINE__, (sock), (pattern), (bare), NULL, 0)

/*  A fresh prompt for id and nothing else: OUT "" to [id], or a bare
    prompt to id; both put the same bytes on the wire.                   */
static inline void
expect_prompt_at (const char *file, int line, zsock_t *sock, uint64_t id)
{
    check_msg_t got;
    check_recv_at (file, line, sock, &got, "an OUT with a fresh prompt");
    if (!check_out_ok (&got.v, "", NULL, 0, id))
        check_out_at (file, line, &got, "", 0, &id, 1);
    check_msg_free (&got);
}
#define expect_prompt(sock, id) expect_prompt_at (__FILE__, __LINE__, (sock), (id))

/* ------------------------------------------------------------------ */
/*  Other messages                                                     */

/*  A message of kind for id whose parts match the given patterns
    (NULL-terminated list; none: no parts).                              */
static inline void
expect_msg_at (const char *file, int line, zsock_t *sock, msg_kind_t kind, uint64_t id,
               const char *const *parts)
{
    check_msg_t got;
    const char *type = msg_spec (kind)->type;
    check_recv_at (file, line, sock, &got, type);
    bool   ok = msg_is (&got.v, kind) && got.v.id == id;
    size_t n = 0;
    while (parts && parts [n])
        n++;
    ok = ok && got.v.parts == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = check_match (parts [i], got.v.part [i].data, got.v.part [i].size);
    if (!ok) {
        print_error ("%s:%d: expected %s id=0x%llx", file, line, type, (unsigned long long) id);
        for (size_t i = 0; i < n; i++) {
            print_error (" ");
            check_print_pattern (parts [i]);
        }
        print_error ("\n    got ");
        check_print_msg (&got.v);
        check_msg_free (&got);
        _fail (file, line);
    }
    check_msg_free (&got);
}

#define expect_msg(sock, type, id, ...)                                                            \
    expect_msg_at (__FILE__, __LINE__, (sock), (type), (id),                                       \
                   (const char *const []){__VA_ARGS__, NULL})
#define expect_bare(sock, type, id) expect_msg_at (__FILE__, __LINE__, (sock), (type), (id), NULL)

/*  ENTER id name history (history a pattern, "" for none), no event.   */
#define expect_enter(sock, id, name, history)                                                      \
    expect_msg ((sock), MSG_ENTER, (id), (name), (history), "")
/*  ENTER id name history event (patterns).                              */
#define expect_enter_event(sock, id, name, history, event)                                         \
    expect_msg ((sock), MSG_ENTER, (id), (name), (history), (event))

/*  A JOIN's effects, in either order: ENTER to the joiner and, when
    there are others, their "NAME has joined our chat..." notice.        */
static inline void
expect_join_at (const char *file, int line, zsock_t *sock, uint64_t id, const char *name,
                const char *history, const uint64_t *others, size_t n)
{
    char notice [256];
    snprintf (notice, sizeof notice, "\n%s has joined our chat...\n", name);
    bool entered = false, noticed = n == 0;
    while (!entered || !noticed) {
        check_msg_t got;
        check_recv_at (file, line, sock, &got, entered ? "a joined notice" : "an ENTER");
        if (!entered && msg_is (&got.v, MSG_ENTER)) {
            if (got.v.id != id || got.v.parts != 3 || !check_part_is (&got.v, 0, name) ||
                !check_match (history, got.v.part [1].data, got.v.part [1].size) ||
                got.v.part [2].size != 0) {
                print_error ("%s:%d: expected ENTER id=0x%llx \"%s\" ", file, line,
                             (unsigned long long) id, name);
                check_print_pattern (history);
                print_error ("\n    got ");
                check_print_msg (&got.v);
                check_msg_free (&got);
                _fail (file, line);
            }
            entered = true;
        } else if (!noticed) {
            check_out_at (file, line, &got, notice, 0, others, n);
            noticed = true;
        } else {
            print_error ("%s:%d: expected ENTER id=0x%llx \"%s\"\n    got ", file, line,
                         (unsigned long long) id, name);
            check_print_msg (&got.v);
            check_msg_free (&got);
            _fail (file, line);
        }
        check_msg_free (&got);
    }
}

/*  expect_join (sock, id, name, history, other, other...)               */
#define expect_join(sock, id, name, history, ...)                                                  \
    expect_join_at (__FILE__, __LINE__, (sock), (id), (name), (history), CHECK_IDS (__VA_ARGS__))
/*  The first member: ENTER only.                                         */
#define expect_join_alone(sock, id, name, history)                                                 \
    expect_join_at (__FILE__, __LINE__, (sock), (id), (name), (history), NULL, 0)

/*  RELEASE id moving: the room is done with id ("1": it moves on, "0":
    it left, its connection may close).                                  */
#define expect_release(sock, id, moving)                                                           \
    expect_msg ((sock), MSG_RELEASE, (id), (moving) ? "1" : "0")

/*  A LEAVE's effects, in order: "\nNAME has left our chat...\n" to the
    others (no notice when there are none), then RELEASE id moving.      */
static inline void
expect_leave_at (const char *file, int line, zsock_t *sock, uint64_t id, const char *name,
                 bool moving, const uint64_t *others, size_t n)
{
    if (n) {
        char notice [256];
        snprintf (notice, sizeof notice, "\n%s has left our chat...\n", name);
        expect_out_at (file, line, sock, notice, 0, others, n);
    }
    const char *const parts [] = {moving ? "1" : "0", NULL};
    expect_msg_at (file, line, sock, MSG_RELEASE, id, parts);
}
/*  expect_leave (sock, id, name, moving, other, other...)               */
#define expect_leave(sock, id, name, moving, ...)                                                  \
    expect_leave_at (__FILE__, __LINE__, (sock), (id), (name), (moving), CHECK_IDS (__VA_ARGS__))
#define expect_leave_alone(sock, id, name, moving)                                                 \
    expect_leave_at (__FILE__, __LINE__, (sock), (id), (name), (moving), NULL, 0)

/*  A RENAME's effects: "\nOLD changed their name to NEW\n" to the others,
    LABEL id NEW, then "OLD changed their name to NEW\n" to the renamer
    (the LABEL first, so that its prompt shows the new name). The notice
    to the others may come at any point.                                 */
static inline void
expect_rename_at (const char *file, int line, zsock_t *sock, uint64_t id, const char *old_name,
                  const char *new_name, const uint64_t *others, size_t n)
{
    char notice [256], reply [256];
    snprintf (notice, sizeof notice, "\n%s changed their name to %s\n", old_name, new_name);
    snprintf (reply, sizeof reply, "%s changed their name to %s\n", old_name, new_name);
    bool labelled = false, replied = false, noticed = n == 0;
    while (!labelled || !replied || !noticed) {
        check_msg_t got;
        check_recv_at (file, line, sock, &got, "a rename's LABEL, reply or notice");
        if (!labelled && msg_is (&got.v, MSG_LABEL)) {
            if (got.v.id != id || got.v.parts != 1 || !check_part_is (&got.v, 0, new_name)) {
                print_error ("%s:%d: expected LABEL id=0x%llx \"%s\"\n    got ", file, line,
                             (unsigned long long) id, new_name);
                check_print_msg (&got.v);
                check_msg_free (&got);
                _fail (file, line);
            }
            labelled = true;
        } else if (!noticed && !check_out_ok (&got.v, reply, &id, 1, 0)) {
            check_out_at (file, line, &got, notice, 0, others, n);
            noticed = true;
        } else if (labelled && !replied) {
            check_out_at (file, line, &got, reply, 0, &id, 1);
            replied = true;
        } else {
            print_error ("%s:%d: expected LABEL id=0x%llx \"%s\" before the renamer's reply"
                         "\n    got ",
                         file, line, (unsigned long long) id, new_name);
            check_print_msg (&got.v);
            check_msg_free (&got);
            _fail (file, line);
        }
        check_msg_free (&got);
    }
}
#define expect_rename(sock, id, old_name, new_name, ...)                                           \
    expect_rename_at (__FILE__, __LINE__, (sock), (id), (old_name), (new_name),                    \
                      CHECK_IDS (__VA_ARGS__))
#define expect_rename_alone(sock, id, old_name, new_name)                                          \
    expect_rename_at (__FILE__, __LINE__, (sock), (id), (old_name), (new_name), NULL, 0)

/*  Fails the test at file:line, showing the message that was not wanted. */
static inline void
check_fail_unexpected (const char *file, int line, const char *wanted, zmsg_t *msg)
{
    msg_view_t v;
    print_error ("%s:%d: expected %s, got ", file, line, wanted);
    if (msg_parse (msg, &v))
        check_print_msg (&v);
    else
        print_error ("a malformed message\n");
    zmsg_destroy (&msg);
    _fail (file, line);
}

/*  Nothing is waiting on sock right now (messages that produce no output
    aside). Only meaningful once the sender has finished sending.        */
static inline void
expect_nothing_queued_at (const char *file, int line, zsock_t *sock)
{
    int timeout = zsock_rcvtimeo (sock);
    zsock_set_rcvtimeo (sock, 0);
    for (;;) {
        zmsg_t *msg = msg_recv (sock);
        if (!msg) {
            zsock_set_rcvtimeo (sock, timeout);
            return;
        }
        msg_view_t v;
        if (msg_parse (msg, &v) && check_is_empty_out (&v)) {
            zmsg_destroy (&msg);
            continue;
        }
        check_fail_unexpected (file, line, "nothing more", msg);
    }
}
#define expect_nothing_queued(sock) expect_nothing_queued_at (__FILE__, __LINE__, (sock))

#endif
