/* SPDX-License-Identifier: MIT */
/*  writer: one thread per room that writes the room's chat lines to its
    file in --data-dir, so that the room itself never waits for the disk.

    A write(2) to a regular file blocks however the file was opened (a
    frozen or dying disk, a full NFS server): only a thread of its own
    can take that wait. The room hands each line over its pipe and, while
    the writer keeps up, waits for it to be written before broadcasting
    it (so a line anyone received is on disk); once the writer is slow it
    stops waiting and, when the pipe is full, stops handing lines over
    (they are broadcast and kept in memory history, counted as not
    written). See room.c.

    On its pipe (started with actor_new, see actor.h; the messages are
    in the table in src/messages.c):
        STORE line           append "line\n" to the file
        $TERM                log what failed, close the file, end
    Answers on its pipe (never blocking: the room drains them):
        STORED done          lines handled so far (written or failed)    */
#ifndef TCPCHAT_WRITER_H
#define TCPCHAT_WRITER_H

#include <czmq.h>
#include <stdbool.h>
#include "config.h"
#include "names.h"

/*  Lines that may wait for the writer (each end of its pipe holds this
    many): the memory a stuck disk can cost a room, x its line length.  */
#define WRITER_QUEUE 256

typedef struct {
    config_t config;                    /* the server's: data_dir, log, verbose */
    char     name [ROOM_MAX_CHARS + 1]; /* the room's */
} writer_args_t;

/*  actor_new (writer_actor, args): args is a heap writer_args_t the
    actor takes.                                                         */
void writer_actor (zsock_t *pipe, void *args);

#endif
