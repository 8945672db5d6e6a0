/* SPDX-License-Identifier: MIT */
/*  store: each room's chat lines on disk, one file per room. See store.h.

    The file of a room is the history it would have kept with no limit:
    one "[ts][name]:text" line per chat line, appended as broadcast.
    Reading it back starts from the end, because only the last --history
    lines matter and a busy room's file only grows.                      */
#include "store.h"
#include "clean.h"
#include "mem.h"
#include "names.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SUFFIX     ".log"
#define SUFFIX_LEN 4
#define CHUNK      65536 /* bytes read at a time when loading */
#define TAIL_CHUNK 4096  /* read back from the end for a torn line */

const char *
store_strerror (int error)
{
    if (error == STORE_NOT_REGULAR)
        return "not a regular file (a symlink, FIFO or device): refused";
    return strerror (error);
}

//  Opens DIR/<room>.log with flags, never following a symlink and never
//  waiting for a FIFO's other end, and keeps it only if it is a regular
//  file: a link would let the room read and append to a file outside the
//  directory, a FIFO would hang whoever opens or reads it.
static int
s_open_regular (const char *dir, const char *room, int flags)
{
    char path [PATH_MAX];
    if (!store_path (dir, room, path, sizeof path))
        return -1;
    int fd = open (path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0640);
    if (fd < 0) {
        //  O_NOFOLLOW on a symlink; ENXIO: a FIFO nobody reads (O_WRONLY)
        if (errno == ELOOP || errno == ENXIO)
            errno = STORE_NOT_REGULAR;
        return -1;
    }
    struct stat info;
    int error = fstat (fd, &info) != 0 ? errno : !S_ISREG (info.st_mode) ? STORE_NOT_REGULAR : 0;
    if (error) {
        close (fd);
        errno = error;
        return -1;
    }
    //  Regular files ignore O_NONBLOCK, but say what we mean.
    int status = fcntl (fd, F_GETFL);
    if (status >= 0)
        fcntl (fd, F_SETFL, status & ~O_NONBLOCK);
    return fd;
}

bool
store_prepare_dir (const char *dir, char *error, size_t size)
{
    if (mkdir (dir, 0750) != 0 && errno != EEXIST) {
        snprintf (error, size, "cannot create it: %s", strerror (errno));
        return false;
    }
    struct stat info;
    if (stat (dir, &info) != 0 || !S_ISDIR (info.st_mode)) {
        snprintf (error, size, "not a directory");
        return false;
    }
    //  access(2) says yes to root even on a read-only mount: really try.
    char probe [PATH_MAX];
    snprintf (probe, sizeof probe, "%s/.tcpchat-probe-%ld", dir, (long) getpid ());
    int fd = open (probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf (error, size, "not writable: %s", strerror (errno));
        return false;
    }
    close (fd);
    unlink (probe);
    return true;
}

//  ---------------------------------------------------------------------
//  Names

bool
store_path (const char *dir, const char *room, char *out, size_t size)
{
    //  A room name is [A-Za-z0-9_-]{1,32}: a file name as it is, with no
    //  '.' or '/' to reach outside the directory. Anything else is no
    //  room's, and has no file.
    if (room_name_problem (room, strlen (room))) {
        errno = EINVAL;
        return false;
    }
    int n = snprintf (out, size, "%s/%s" SUFFIX, dir, room);
    if (n < 0 || (size_t) n >= size) {
        errno = ENAMETOOLONG;
        return false;
    }
    return true;
}

//  The room whose file name is file ("<room>.log"), into room; false for
//  anything else in the directory: the probe, a backup, "..".
static bool
s_room_of (const char *file, char room [ROOM_MAX_CHARS + 1])
{
    size_t len = strlen (file);
    if (len <= SUFFIX_LEN || strcmp (file + len - SUFFIX_LEN, SUFFIX) != 0)
        return false;
    len -= SUFFIX_LEN;
    if (room_name_problem (file, len))
        return false;
    memcpy (room, file, len);
    room [len] = 0;
    return true;
}

//  ---------------------------------------------------------------------
//  Writing

//  Where the last '\n' of the file's first size bytes ends (0: none),
//  or -1 on a read error.
static off_t
s_whole_lines_end (int fd, off_t size)
{
    char  chunk [TAIL_CHUNK];
    off_t offset = size;
    while (offset > 0) {
        size_t piece = offset > (off_t) sizeof chunk ? sizeof chunk : (size_t) offset;
        offset -= (off_t) piece;
        ssize_t got = pread (fd, chunk, piece, offset);
        if (got != (ssize_t) piece) {
            if (got >= 0)
                errno = EIO;
            return -1;
        }
        for (size_t i = piece; i-- > 0;)
            if (chunk [i] == '\n')
                return offset + (off_t) i + 1;
    }
    return 0;
}

int
store_open (const char *dir, const char *room)
{
    //  Read and write: the tail is checked below. O_APPEND puts every
    //  write at the end whatever else happens.
    int fd = s_open_regular (dir, room, O_RDWR | O_APPEND | O_CREAT);
    if (fd < 0)
        return -1;
    struct stat info;
    off_t       whole = 0;
    if (fstat (fd, &info) != 0 ||
        (info.st_size > 0 && (whole = s_whole_lines_end (fd, info.st_size)) < 0)) {
        int saved = errno;
        close (fd);
        errno = saved;
        return -1;
    }
    //  A torn last line (killed mid-write, disk full): cut it off. Ended
    //  with a '\n' instead it would read back as a whole line later.
    if (whole < info.st_size && ftruncate (fd, whole) != 0) {
        int saved = errno;
        close (fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int
store_append (int fd, const char *line, size_t len)
{
    //  One writev: the line and its newline reach the file together, so
    //  a kill can only cut a line if the kernel itself splits the write.
    struct iovec  parts [2] = {{(void *) line, len}, {(void *) "\n", 1}};
    struct iovec *part = parts;
    int           count = 2;
    while (count > 0) {
        ssize_t written = writev (fd, part, count);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (written == 0) {
            errno = EIO;
            return -1;
        }
        //  A short write (a full disk, a signal): go on from where it
        //  stopped, and let the next write say why if it fails.
        size_t done = (size_t) written;
        while (count > 0 && done >= part->iov_len) {
            done -= part->iov_len;
            part++;
            count--;
        }
        if (count > 0) {
            part->iov_base = (char *) part->iov_base + done;
            part->iov_len -= done;
        }
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Reading

//  pread that reads all of [offset, offset + size) or fails (-1).
static int
s_read_at (int fd, char *into, size_t size, off_t offset)
{
    while (size > 0) {
        ssize_t got = pread (fd, into, size, offset);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got == 0)
                errno = EIO;  //  Shrunk under us
            return -1;
        }
        into += got;
        size -= (size_t) got;
        offset += got;
    }
    return 0;
}

static bool
s_line_counts (size_t len)
{
    return len > 0 && len <= STORE_LINE_MAX;
}

//  Where in the file the last max_lines lines start: reads backwards from
//  end (just past the last '\n'), a chunk at a time, counting the lines
//  store_load would keep. -1 on a read error.
static off_t
s_tail_start (int fd, off_t end, size_t max_lines, char *chunk)
{
    size_t lines = 0;
    size_t line_len = 0;  //  Of the line being scanned, so far
    off_t  offset = end;
    while (offset > 0) {
        size_t size = offset > CHUNK ? CHUNK : (size_t) offset;
        offset -= (off_t) size;
        if (s_read_at (fd, chunk, size, offset))
            return -1;
        for (size_t i = size; i-- > 0;) {
            if (chunk [i] != '\n') {
                line_len++;
                continue;
            }
            if (s_line_counts (line_len) && ++lines == max_lines)
                return offset + (off_t) i + 1;
            line_len = 0;
        }
    }
    return 0;  //  The whole file, first line included
}

//  clean_text caps what it returns at a typed line's length, and a stored
//  line is longer (its stamp and name come first): clean it a piece at a
//  time, each cut at a character's start. An escape sequence cut in two
//  leaves some of its bytes as plain text, never a control byte. out is
//  CLEAN_STORED_MAX bytes.
#define CLEAN_PIECE      1024
#define CLEAN_STORED_MAX (STORE_LINE_MAX * 3 + 1)

static size_t
s_clean_line (const char *in, size_t len, char *out)
{
    size_t size = 0;
    while (len > 0) {
        size_t piece = len;
        if (piece > CLEAN_PIECE) {
            piece = CLEAN_PIECE;
            for (int back = 0; back < 3 && ((unsigned char) in [piece] & 0xC0) == 0x80; back++)
                piece--;
        }
        size += clean_text (in, piece, out + size);
        in += piece;
        len -= piece;
    }
    out [size] = 0;
    return size;
}

//  A line from disk is shown like a line typed now: cleaned the same
//  way, so a file edited by hand (or by anyone who can write there)
//  cannot put escapes on a joiner's terminal.
static void
s_keep_line (history_t *history, const char *line, size_t len, char *clean, int *added)
{
    if (!s_line_counts (len))
        return;
    size_t size = s_clean_line (line, len, clean);
    if (size == 0)
        return;
    history_add (history, clean, size);
    (*added)++;
}

int
store_load (const char *dir, const char *room, size_t max_lines, history_t *history)
{
    if (max_lines == 0)
        return 0;
    int fd = s_open_regular (dir, room, O_RDONLY);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct stat info;
    if (fstat (fd, &info) != 0) {
        int saved = errno;
        close (fd);
        errno = saved;
        return -1;
    }
    //  The chunk, room for one whole line carried over from it, and room
    //  for that line cleaned.
    char *chunk = (char *) mem_alloc (CHUNK + STORE_LINE_MAX + CLEAN_STORED_MAX);
    char *line = chunk + CHUNK;
    char *clean = line + STORE_LINE_MAX;
    //  Only whole lines count: a last line without its '\n' was torn
    //  (the server killed mid-write, the disk full) and is never shown.
    off_t end = s_whole_lines_end (fd, info.st_size);
    off_t offset = end < 0 ? -1 : s_tail_start (fd, end, max_lines, chunk);

    //  Forwards from there, line by line: a line split between chunks is
    //  gathered in `line`; one too long to be ours is skipped to its end.
    int    added = 0;
    size_t line_len = 0;
    bool   too_long = false;
    while (offset >= 0 && offset < end) {
        size_t size = end - offset > CHUNK ? CHUNK : (size_t) (end - offset);
        if (s_read_at (fd, chunk, size, offset)) {
            offset = -1;
            break;
        }
        offset += (off_t) size;
        size_t start = 0;
        while (start < size) {
            char  *newline = (char *) memchr (chunk + start, '\n', size - start);
            size_t stop = newline ? (size_t) (newline - chunk) : size;
            size_t piece = stop - start;
            if (too_long || line_len + piece > STORE_LINE_MAX)
                too_long = true;
            else {
                memcpy (line + line_len, chunk + start, piece);
                line_len += piece;
            }
            if (!newline)
                break;
            if (!too_long)
                s_keep_line (history, line, line_len, clean, &added);
            line_len = 0;
            too_long = false;
            start = stop + 1;
        }
    }
    int saved = errno;
    free (chunk);
    close (fd);
    if (offset < 0) {
        errno = saved;
        return -1;
    }
    return added;
}

bool
store_has_lines (const char *dir, const char *room)
{
    char        path [PATH_MAX];
    struct stat info;
    //  lstat: a symlink or FIFO is no room's file, and stat never waits.
    return store_path (dir, room, path, sizeof path) && lstat (path, &info) == 0 &&
           S_ISREG (info.st_mode) && info.st_size > 0;
}

static int
s_compare_names (void *a, void *b)
{
    return strcmp ((const char *) a, (const char *) b);
}

//  The rooms named by the *.log entries of dir that are regular files
//  (regular true) or that are not (false).
static zlist_t *
s_list (const char *dir, bool regular)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return NULL;
    zlist_t *rooms = zlist_new ();
    zlist_autofree (rooms);
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        char room [ROOM_MAX_CHARS + 1];
        if (!s_room_of (entry->d_name, room))
            continue;
        //  d_type is not known on every file system: ask when it says so,
        //  never following a link (lstat does not wait on a FIFO either).
        struct stat info;
        bool        is_regular = entry->d_type == DT_REG || (entry->d_type == DT_UNKNOWN &&
                                                      fstatat (dirfd (handle), entry->d_name, &info,
                                                                      AT_SYMLINK_NOFOLLOW) == 0 &&
                                                      S_ISREG (info.st_mode));
        if (is_regular == regular)
            zlist_append (rooms, room);
    }
    closedir (handle);
    zlist_sort (rooms, s_compare_names);
    return rooms;
}

zlist_t *
store_list (const char *dir)
{
    return s_list (dir, true);
}

zlist_t *
store_list_refused (const char *dir)
{
    return s_list (dir, false);
}
