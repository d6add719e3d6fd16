/* SPDX-License-Identifier: GPL-2.0-or-later */
#define _GNU_SOURCE
#include "safedir.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static gboolean
owner_trusted(const struct stat *st)
{
    return st->st_uid == 0 || st->st_uid == geteuid();
}

int
fp_safedir_open(const char *path, gboolean create, mode_t mode, GError **error)
{
    g_auto(GStrv) parts = NULL;
    g_autoptr(GString) done = g_string_new("");
    struct stat up, st;
    int cur;

    if (!path || path[0] != '/') {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "directory '%s' is not an absolute path",
                    path ? path : "(null)");
        return -1;
    }
    cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0 || fstat(cur, &up) < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot open /: %s", g_strerror(errno));
        if (cur >= 0)
            close(cur);
        return -1;
    }
    parts = g_strsplit(path, "/", -1);
    for (char **p = parts; *p; p++) {
        int next;

        if (!**p || !strcmp(*p, "."))
            continue;
        g_string_append_printf(done, "/%s", *p);
        if (!strcmp(*p, "..")) {
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "directory %s: '..' is not allowed", path);
            close(cur);
            return -1;
        }
        /* A directory others may write: they could swap our component for theirs, unless the
         * sticky bit keeps them from renaming what is not theirs. */
        if ((up.st_mode & (S_IWGRP | S_IWOTH)) && !(up.st_mode & S_ISVTX)) {
            g_set_error(error, FP_ERROR, FP_ERROR_REFUSED,
                        "%s is in a directory others may write (mode %04o): refusing it", done->str,
                        (unsigned)(up.st_mode & 07777));
            close(cur);
            return -1;
        }
        next = openat(cur, *p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && create) {
            /* mkdir -m $MODE $COMPONENT   (the umask must not loosen or tighten it: fchmod) */
            if (mkdirat(cur, *p, mode) < 0 && errno != EEXIST) {
                g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot create %s: %s", done->str,
                            g_strerror(errno));
                close(cur);
                return -1;
            }
            next = openat(cur, *p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (next >= 0 && fstat(next, &st) == 0 && st.st_uid == geteuid())
                fchmodat(cur, *p, mode, 0);
        }
        if (next < 0) {
            int e = errno;

            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s: %s%s", done->str,
                        e == ELOOP || e == ENOTDIR ? "not a directory (a symlink?)" : g_strerror(e),
                        e == ELOOP || e == ENOTDIR ? "; refusing it" : "");
            close(cur);
            return -1;
        }
        close(cur);
        cur = next;
        if (fstat(cur, &up) < 0 || !owner_trusted(&up)) {
            g_set_error(error, FP_ERROR, FP_ERROR_REFUSED,
                        "%s is owned by uid %u, not root: refusing it", done->str,
                        (unsigned)up.st_uid);
            close(cur);
            return -1;
        }
    }
    if (up.st_mode & (S_IWGRP | S_IWOTH)) {
        g_set_error(error, FP_ERROR, FP_ERROR_REFUSED,
                    "%s may be written by others (mode %04o): refusing it", path,
                    (unsigned)(up.st_mode & 07777));
        close(cur);
        return -1;
    }
    return cur;
}

int
fp_safedir_sub(int dfd, const char *where, const char *name, mode_t mode, GError **error)
{
    struct stat st;
    int fd;

    if (mkdirat(dfd, name, mode) < 0 && errno != EEXIST) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot create %s/%s: %s", where, name,
                    g_strerror(errno));
        return -1;
    }
    fd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_REFUSED, "%s/%s: %s; refusing it", where, name,
                    errno == ELOOP || errno == ENOTDIR ? "not a directory (a symlink?)"
                                                       : g_strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || st.st_uid != geteuid()) {
        g_set_error(error, FP_ERROR, FP_ERROR_REFUSED, "%s/%s is owned by uid %u: refusing it",
                    where, name, (unsigned)st.st_uid);
        close(fd);
        return -1;
    }
    /* chmod $MODE   (also closes a directory an older version made writable by all) */
    if ((st.st_mode & 07777) != mode && fchmodat(dfd, name, mode, 0) < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot chmod %s/%s: %s", where, name,
                    g_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

char *
fp_safedir_read_fd(int fd, const char *where, const char *name, gsize max, gsize *len,
                   GError **error)
{
    struct stat st;
    g_autoptr(GString) buf = g_string_new(NULL);
    char chunk[16384];

    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        g_set_error(error, FP_ERROR, FP_ERROR_REFUSED, "%s/%s is not a regular file; ignored",
                    where, name);
        return NULL;
    }
    if ((guint64)st.st_size > max) {
        g_set_error(error, FP_ERROR, FP_ERROR_REFUSED,
                    "%s/%s is %" G_GUINT64_FORMAT " bytes, more than the %" G_GSIZE_FORMAT
                    " it may be; ignored",
                    where, name, (guint64)st.st_size, max);
        return NULL;
    }
    /* The size may grow under us (another writer): never read past MAX + 1. */
    while (buf->len <= max) {
        ssize_t n = read(fd, chunk, MIN(sizeof(chunk), max + 1 - buf->len));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot read %s/%s: %s", where, name,
                        g_strerror(errno));
            return NULL;
        }
        if (n == 0)
            break;
        g_string_append_len(buf, chunk, n);
    }
    if (buf->len > max) {
        g_set_error(error, FP_ERROR, FP_ERROR_REFUSED,
                    "%s/%s grew past the %" G_GSIZE_FORMAT " bytes it may be; ignored", where, name,
                    max);
        return NULL;
    }
    if (len)
        *len = buf->len;
    return g_string_free(g_steal_pointer(&buf), FALSE);
}

static void
open_failed(int e, const char *where, const char *name, GError **error)
{
    if (e == ELOOP)
        g_set_error(error, FP_ERROR, FP_ERROR_REFUSED, "%s/%s is a symlink; not followed", where,
                    name);
    else
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "cannot open %s/%s: %s", where,
                    name, g_strerror(e));
}

/* PATH opened below DFD (or AT_FDCWD), named WHERE/NAME in messages. */
static char *
read_at(int dfd, const char *path, const char *where, const char *name, gsize max, gsize *len,
        GError **error)
{
    int fd = openat(dfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    char *text;

    if (fd < 0) {
        open_failed(errno, where, name, error);
        return NULL;
    }
    text = fp_safedir_read_fd(fd, where, name, max, len, error);
    close(fd);
    return text;
}

char *
fp_safedir_read(int dfd, const char *where, const char *name, gsize max, gsize *len, GError **error)
{
    return read_at(dfd, name, where, name, max, len, error);
}

char *
fp_safedir_read_path(const char *path, gsize max, gsize *len, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path), *base = g_path_get_basename(path);

    return read_at(AT_FDCWD, path, dir, base, max, len, error);
}

gboolean
fp_safedir_write(int dfd, const char *where, const char *name, const char *data, gsize len,
                 mode_t mode, GError **error)
{
    g_autofree char *tmp = NULL;
    gsize off = 0;
    int fd = -1;

    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        g_free(tmp);
        tmp = g_strdup_printf(".%s.%08x", name, g_random_int());
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot create %s/%s: %s", where, tmp,
                    g_strerror(errno));
        return FALSE;
    }
    fchmod(fd, mode); /* the umask must not change what others may read */
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot write %s/%s: %s", where, tmp,
                        g_strerror(errno));
            close(fd);
            unlinkat(dfd, tmp, 0);
            return FALSE;
        }
        off += (gsize)n;
    }
    close(fd);
    /* mv .$NAME.XXXX $NAME   (replaces whatever NAME was, a planted symlink included) */
    if (renameat(dfd, tmp, dfd, name) < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot rename %s/%s to %s: %s", where, tmp, name,
                    g_strerror(errno));
        unlinkat(dfd, tmp, 0);
        return FALSE;
    }
    return TRUE;
}

int
fp_safedir_open_append(const char *path, mode_t mode, GError **error)
{
    int fd = open(
        path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode);
    struct stat st;

    if (fd < 0) {
        g_set_error(error, FP_ERROR, errno == ELOOP ? FP_ERROR_REFUSED : FP_ERROR_IO,
                    "cannot open %s: %s", path,
                    errno == ELOOP ? "a symlink; not followed" : g_strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1) {
        g_set_error(error, FP_ERROR, FP_ERROR_REFUSED,
                    "%s is not a regular file of ours with one link (uid %u, %lu links); refusing "
                    "it",
                    path, (unsigned)st.st_uid, (unsigned long)st.st_nlink);
        close(fd);
        return -1;
    }
    return fd;
}
