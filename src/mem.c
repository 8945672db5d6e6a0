/* SPDX-License-Identifier: MIT */
/*  mem: memory, or the process stops. See mem.h.  */
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>

//  The one place TCPChat runs out of memory: the process stops here,
//  loudly, as CZMQ's zmalloc does.
static _Noreturn void
s_out_of_memory (void)
{
    fputs ("TCPChat: out of memory\n", stderr);
    fflush (stderr);
    abort ();
}

void *
mem_alloc (size_t size)
{
    void *p = malloc (size ? size : 1);
    if (!p)
        s_out_of_memory ();
    return p;
}

void *
mem_zalloc (size_t count, size_t size)
{
    void *p = calloc (count ? count : 1, size ? size : 1);
    if (!p)
        s_out_of_memory ();
    return p;
}

void *
mem_realloc (void *p, size_t size)
{
    void *grown = realloc (p, size ? size : 1);
    if (!grown)
        s_out_of_memory ();
    return grown;
}

void *
mem_check (void *p)
{
    if (!p)
        s_out_of_memory ();
    return p;
}
