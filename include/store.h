/* SPDX-License-Identifier: MIT */
/*  store: each room's chat lines on disk, one file per room in --data-dir.

    A room appends every chat line it broadcasts ("[ts][name]:text\n", the
    form history keeps) with one write(2) before anyone can have received
    it, so the line survives the server being killed. At start the hub
    brings back one room per file, and each room reloads its last lines
    as history. A room's file is "<room>.log": a room name (names.h) is
    only letters, digits, '_' and '-', so it is a file name as it is and
    cannot reach outside the directory; a name that is not a room name
    has no file.

    The functions touch only the paths they are given and keep no state:
    each room actor calls them for its own file.                         */
#ifndef TCPCHAT_STORE_H
#define TCPCHAT_STORE_H

#include <czmq.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include "history.h"

/*  Longer lines in a file cannot be ours (a chat line is at most ~12 KB):
    store_load skips them.                                               */
#define STORE_LINE_MAX 65536

/*  errno when a room's file is a symlink, FIFO, device or directory: it
    is refused, never opened for reading or writing.                     */
#define STORE_NOT_REGULAR EMEDIUMTYPE

/*  strerror, with a text for STORE_NOT_REGULAR.                         */
const char *store_strerror (int error);

/*  Creates dir if missing (one level) and proves it can be written to by
    creating and removing a probe file. false: why, in error.            */
bool store_prepare_dir (const char *dir, char *error, size_t size);

/*  "DIR/<room>.log" into out. false, errno set, when room is not a room
    name (EINVAL) or the path does not fit in size bytes (ENAMETOOLONG). */
bool store_path (const char *dir, const char *room, char *out, size_t size);

/*  Opens room's file for appending (created 0640 if missing): the fd, or
    -1 with errno set (EINVAL for a name that is no room's, STORE_NOT_REGULAR for anything but a regular file:
    never follows a symlink, never waits on a FIFO). If the file ends in
    a partial line (the server was killed in the middle of a write, the
    disk filled up), that partial line is cut off, so it can never later
    read back as a whole line. May block on a sick disk: writer.c only.  */
int store_open (const char *dir, const char *room);

/*  Appends line and a '\n' in one write(2). 0, or -1 with errno set.     */
int store_append (int fd, const char *line, size_t len);

/*  Adds the last max_lines lines of room's file to history, oldest first,
    each cleaned as a typed line is (clean.h). Only the tail of the file is
    read, so a long file costs little. Empty lines and lines over
    STORE_LINE_MAX are skipped; a last line without its '\n' (torn) is
    dropped. Returns the lines added: 0 when there is no file, -1 on a read
    error or when the file is not a regular file (errno set,
    STORE_NOT_REGULAR for a symlink, FIFO or device).                    */
int store_load (const char *dir, const char *room, size_t max_lines, history_t *history);

/*  True when room has a regular file with something in it (a symlink is
    not followed).                                                       */
bool store_has_lines (const char *dir, const char *room);

/*  The names of the rooms with a file in dir, sorted (strcmp): a zlist_t
    of strings the caller destroys. Only regular files named "<room>.log"
    for a valid room name count: anything else is left out. NULL (errno
    set) if dir cannot be read.                                          */
zlist_t *store_list (const char *dir);

/*  The names of the rooms whose file in dir is there but is not a regular
    file (a symlink, FIFO, device or directory): refused, for the log.
    As store_list otherwise.                                             */
zlist_t *store_list_refused (const char *dir);

#endif
