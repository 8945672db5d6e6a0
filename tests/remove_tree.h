/* SPDX-License-Identifier: MIT */
/*  remove_tree: removes a test's temporary directory and all it holds
    (any depth; symlinks are removed, never followed). Shared by the unit
    and end-to-end tests that make data directories.                     */
#ifndef TCPCHAT_TESTS_REMOVE_TREE_H
#define TCPCHAT_TESTS_REMOVE_TREE_H

#include <dirent.h>
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

#endif
