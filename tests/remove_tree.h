/* SPDX-License-Identifier: MIT */
/*  remove_tree: removes a test's temporary directory and all it holds
    (any depth; symlinks are removed, never followed); count_entries: how
    many entries a directory holds. Shared by the unit and end-to-end
    tests that make data directories.                                     */
#ifndef TCPCHAT_TESTS_REMOVE_TREE_H
#define TCPCHAT_TESTS_REMOVE_TREE_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
remove_tree (const char *path)
{
    DIR *dir = opendir (path);
    if (!dir) {
        unlink (path);
        return;
    }
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
            continue;
        char child [1024];
        snprintf (child, sizeof child, "%s/%s", path, entry->d_name);
        struct stat info;
        if (lstat (child, &info) == 0 && S_ISDIR (info.st_mode))
            remove_tree (child);
        else
            unlink (child);
    }
    closedir (dir);
    rmdir (path);
}

/*  The entries in path but "." and ".."; SIZE_MAX if it cannot be read,
    which no test expects. Inline: not every includer counts.            */
static inline size_t
count_entries (const char *path)
{
    DIR *dir = opendir (path);
    if (!dir)
        return SIZE_MAX;
    size_t         n = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)))
        if (strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0)
            n++;
    closedir (dir);
    return n;
}

#endif
