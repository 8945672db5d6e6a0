/* SPDX-License-Identifier: MIT */
/*  Unit tests for actor: zactor's pipe protocol with every failure checked.

    - an actor starts, answers on its pipe and stops on $TERM;
    - an actor that signals failure is NULL (errno ECHILD), args not leaked;
    - out of descriptors, actor_new is NULL with EMFILE (zactor_new aborts
      on its assert); run in a child process, whose limit is lowered;
    - actor_stop gives up on an actor that does not end in time, and that
      actor can still end on its own later without harm.                 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "actor.h"

/*  Echoes every string back until $TERM. args: a heap int it frees.     */
static void
s_echo (zsock_t *pipe, void *args)
{
    free (args);
    zsock_signal (pipe, 0);
    char *text;
    while ((text = zstr_recv (pipe))) {
        bool term = streq (text, "$TERM");
        if (!term)
            zstr_send (pipe, text);
        free (text);
        if (term)
            break;
    }
}

static void
s_refuse (zsock_t *pipe, void *args)
{
    free (args);
    zsock_signal (pipe, 1);
}

/*  Ignores $TERM for 1 s, as a thread stuck in the kernel would.        */
static void
s_stuck (zsock_t *pipe, void *args)
{
    free (args);
    zsock_signal (pipe, 0);
    zclock_sleep (1000);
}

static int
s_open_fds (void)
{
    int  count = 0;
    DIR *dir = opendir ("/proc/self/fd");
    if (!dir)
        return -1;
    while (readdir (dir))
        count++;
    closedir (dir);
    return count - 2; /* . and .. (the DIR's own fd counts: a margin) */
}

/*  First, in a child that has not touched ZeroMQ's threads: descriptors
    exhausted make actor_new answer NULL/EMFILE, and with the limit back
    it works again.                                                      */
static void
test_out_of_descriptors (void **state)
{
    (void) state;
    //  valgrind keeps descriptors of its own and emulates the limit.
    const char *preload = getenv ("LD_PRELOAD");
    if (preload && strstr (preload, "vgpreload")) {
        print_message ("skipped under valgrind: it emulates RLIMIT_NOFILE\n");
        skip ();
    }
    fflush (NULL);
    pid_t child = fork ();
    assert_true (child >= 0);
    if (child == 0) {
        actor_t *first = actor_new (s_echo, malloc (1)); /* ZeroMQ's own fds */
        if (!first)
            _exit (10);
        struct rlimit old, low;
        getrlimit (RLIMIT_NOFILE, &old);
        int used = s_open_fds ();
        low.rlim_cur = (rlim_t) used;
        low.rlim_max = old.rlim_max;
        if (used < 0 || setrlimit (RLIMIT_NOFILE, &low) != 0)
            _exit (11);
        errno = 0;
        actor_t *none = actor_new (s_echo, malloc (1));
        if (none || errno != EMFILE)
            _exit (12);
        actor_destroy (&first);
        if (setrlimit (RLIMIT_NOFILE, &old) != 0)
            _exit (14);
        actor_t *again = actor_new (s_echo, malloc (1));
        if (!again) {
            fprintf (stderr, "again: %s %d\n", strerror (errno), s_open_fds ());
            _exit (13);
        }
        actor_destroy (&again);
        _exit (0);
    }
    int status = 0;
    assert_int_equal (waitpid (child, &status, 0), child);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        fail_msg ("child status 0x%x (exit 12: no EMFILE; a signal: the old abort)", status);
}

static void
test_start_answer_stop (void **state)
{
    (void) state;
    actor_t *actor = actor_new (s_echo, malloc (1));
    assert_non_null (actor);
    zsock_set_rcvtimeo (actor_sock (actor), 5000);
    zstr_send (actor_sock (actor), "ping");
    char *reply = zstr_recv (actor_sock (actor));
    assert_non_null (reply);
    assert_string_equal (reply, "ping");
    free (reply);
    actor_destroy (&actor);
    assert_null (actor);
    actor_destroy (&actor); /* NULL: nothing */
}

static void
test_failed_start_is_null (void **state)
{
    (void) state;
    errno = 0;
    actor_t *actor = actor_new (s_refuse, malloc (1));
    assert_null (actor);
    assert_int_equal (errno, ECHILD);
}

static void
test_stop_is_bounded (void **state)
{
    (void) state;
    actor_t *actor = actor_new (s_stuck, malloc (1));
    assert_non_null (actor);
    int64_t start = zclock_mono ();
    assert_false (actor_stop (&actor, 100));
    assert_null (actor);
    assert_true (zclock_mono () - start < 900);
    /*  It ends on its own, its last signal going nowhere.                */
    zclock_sleep (1500);
    /*  A quick one ends in time.                                        */
    actor = actor_new (s_echo, malloc (1));
    assert_non_null (actor);
    actor_term (actor);
    actor_term (actor); /* once is enough */
    assert_true (actor_stop (&actor, 5000));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_out_of_descriptors),
        cmocka_unit_test (test_start_answer_stop),
        cmocka_unit_test (test_failed_start_is_null),
        cmocka_unit_test (test_stop_is_bounded),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
