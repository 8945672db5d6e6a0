/* SPDX-License-Identifier: MIT */
/*  Unit tests for mem.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "mem.h"

static void
test_memory_is_there (void **state)
{
    (void) state;
    char *p = mem_alloc (0);
    assert_non_null (p);
    free (p);
    unsigned char *zeroed = mem_zalloc (100, 3);
    for (size_t i = 0; i < 300; i++)
        assert_int_equal (zeroed [i], 0);
    memcpy (zeroed, "kept", 4);
    zeroed = mem_realloc (zeroed, 100000);
    assert_memory_equal (zeroed, "kept", 4);
    free (zeroed);
    char *grown = mem_realloc (NULL, 16);
    assert_ptr_equal (mem_check (grown), grown);
    free (grown);
}

typedef enum { ASK_ALLOC, ASK_ZALLOC, ASK_REALLOC, ASK_CHECK } ask_t;

//  In a child, so the abort ends only it. Its stderr goes nowhere: a
//  sanitizer's own report of the huge request is expected there.
static int
s_child_status (ask_t ask)
{
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        int null = open ("/dev/null", O_WRONLY);
        dup2 (null, STDERR_FILENO);
        //  No machine has it, yet no allocator takes it for a negative
        //  size (valgrind would say "fishy" for SIZE_MAX).
        volatile size_t huge = SIZE_MAX / 4;
        if (ask == ASK_ALLOC)
            mem_alloc (huge);
        else if (ask == ASK_ZALLOC)
            mem_zalloc (huge, 1);
        else if (ask == ASK_REALLOC)
            mem_realloc (NULL, huge);
        else
            mem_check (NULL);
        _exit (0);  //  It came back: the test fails
    }
    int status = 0;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    return status;
}

static void
test_out_of_memory_stops_the_process (void **state)
{
    (void) state;
    //  mem_check sees NULL itself: plainly abort()'s signal.
    int status = s_child_status (ASK_CHECK);
    assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGABRT);
    //  A request no allocator can meet: abort(), or a sanitizer stops
    //  the process first. Either way nothing returns.
    ask_t asks [] = {ASK_ALLOC, ASK_ZALLOC, ASK_REALLOC};
    for (size_t i = 0; i < sizeof asks / sizeof asks [0]; i++) {
        status = s_child_status (asks [i]);
        assert_false (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_memory_is_there),
        cmocka_unit_test (test_out_of_memory_stops_the_process),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
