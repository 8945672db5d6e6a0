/* SPDX-License-Identifier: MIT */
/*  writer: a room's file, written in a thread that may block. See writer.h.

    Nothing but this thread ever waits for the room's file. It holds no
    other socket than its pipe, and sends on it with a zero timeout, so
    even stuck in write(2) forever it holds up nobody: its room stops
    waiting for it after a bound and says how many lines are not on
    disk.                                                                */
#include "writer.h"
#include "log.h"
#include "messages.h"
#include "store.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    zsock_t *pipe;
    log_t    log;
    char     name [ROOM_MAX_CHARS + 1];
    char     data_dir [CONFIG_PATH_SIZE];
    char     path [PATH_MAX]; /* for the log */
    int      file;            /* open once a line came, or -1 */
    bool     failing;         /* the last line failed (logged once) */
    uint64_t done;            /* lines handled */
    uint64_t failed;          /* of which not written */
} self_t;

static self_t *
s_self_new (zsock_t *pipe, writer_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    snprintf (self->name, sizeof self->name, "%s", args->name);
    snprintf (self->data_dir, sizeof self->data_dir, "%s", args->config.data_dir);
    log_setup (&self->log, &args->config, "room[%s]", args->name);
    if (!store_path (self->data_dir, self->name, self->path, sizeof self->path))
        snprintf (self->path, sizeof self->path, "%s/?", self->data_dir);
    self->file = -1;
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (self->file >= 0)
        close (self->file);
    free (self);
    *self_p = NULL;
}

//  The file is opened at the first line, so a room nobody spoke in
//  leaves no file. A failure is logged once, and every next line tries
//  again: reopening cuts any partial line the failure left.
static void
s_store (self_t *self, const char *line, size_t size)
{
    if (self->file < 0)
        self->file = store_open (self->data_dir, self->name);
    if (self->file >= 0 && store_append (self->file, line, size) == 0) {
        if (self->failing)
            log_info (&self->log, "writing %s again", self->path);
        self->failing = false;
        return;
    }
    int error = errno;
    self->failed++;
    if (!self->failing)
        log_info (&self->log, "E: cannot write %s: %s (lines kept in memory only until it works)",
                  self->path, store_strerror (error));
    self->failing = true;
    if (self->file >= 0)
        close (self->file);
    self->file = -1;
}

//  One message from the room; false on $TERM.
static bool
s_self_handle_pipe (self_t *self)
{
    zmsg_t *msg = msg_recv (self->pipe);
    if (!msg)
        return false;  //  Interrupted
    msg_view_t view;
    msg_parse (msg, &view);
    bool running = view.kind != MSG_TERM;
    switch (view.kind) {
        case MSG_STORE: {
            s_store (self, view.part [0].data, view.part [0].size);
            self->done++;
            zmsg_t *stored = msg_new_stored (self->done);
            msg_send (&stored, self->pipe);
            break;
        }
        case MSG_LINE:
        case MSG_STORED:
        MSG_NOT_FOR_WRITER:
            msg_drop (&self->log, &view);
            break;
        case MSG_TERM:
            break;
    }
    zmsg_destroy (&msg);
    return running;
}

void
writer_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (writer_args_t *) args);
    free (args);
    //  Nothing above can fail: the file is opened, and its failures
    //  logged, at the first line (s_store).
    zsock_signal (pipe, 0);
    //  Answers are cumulative: when the room's end is full, skip one.
    zsock_set_sndtimeo (pipe, 0);
    while (s_self_handle_pipe (self))
        ;
    if (self->failed)
        log_info (&self->log, "E: %" PRIu64 " line%s could not be written to %s", self->failed,
                  self->failed == 1 ? "" : "s", self->path);
    s_self_destroy (&self);
}
