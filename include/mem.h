/* SPDX-License-Identifier: MIT */
/*  mem: memory, or the process stops.

    Out of memory, CZMQ aborts (zmalloc, and every zsock_new, zmsg_new,
    zstr_recv) and so does libzmq, on any actor's next message: no actor
    can carry on without memory. Our own allocations do the same, so no
    helper returns an error that no caller can act on, and no caller has a
    failure path that nothing ever runs. These never return NULL: on
    failure they write one line to stderr and abort().                   */
#ifndef TCPCHAT_MEM_H
#define TCPCHAT_MEM_H

#include <stddef.h>
#include <stdlib.h>

/*  malloc: size bytes, not zeroed (size 0 gives a unique pointer).       */
void *mem_alloc (size_t size);
/*  calloc: count * size bytes, zeroed; aborts on overflow too.           */
void *mem_zalloc (size_t count, size_t size);
/*  realloc: p (NULL or from these) resized to size bytes.                */
void *mem_realloc (void *p, size_t size);
/*  Another library's allocation (libtelnet's telnet_init, strdup):
    returns p, or aborts when it is NULL. Only for calls that return NULL
    for want of memory and nothing else.                                  */
void *mem_check (void *p);

/*  Frees p and sets it to NULL: the end of every destructor, so a
    destroyed object's pointer is never left dangling.                    */
#define MEM_FREE(p)                                                                                \
    do {                                                                                           \
        free (p);                                                                                  \
        (p) = NULL;                                                                                \
    } while (0)

#endif
