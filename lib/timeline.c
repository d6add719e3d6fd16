/* SPDX-License-Identifier: GPL-2.0-or-later */
#define _GNU_SOURCE
#include "timeline.h"

#include "error.h"
#include "safedir.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char *
file_name(const char *uuid, const char *name, const char *source)
{
    g_autofree char *key =
        uuid && g_uuid_string_is_valid(uuid)
            ? g_ascii_strdown(uuid, -1)
            : g_compute_checksum_for_string(G_CHECKSUM_SHA256, name ? name : "", -1);

    return g_strdup_printf("%s.%s.json", key, source);
}

char *
fp_timeline_path(const char *run_dir, const char *uuid, const char *name, const char *source)
{
    g_autofree char *file = file_name(uuid, name, source);

    return g_strdup_printf("%s/timeline/%s", run_dir, file);
}

/* $RUN_DIR/timeline, trusted: root makes it (0711); anyone else only opens root's. */
/* flock -w: LOCK_EX within FP_TIMELINE_LOCK_MS, by short non-blocking tries. */
static gboolean
lock_bounded(int fd)
{
    gint64 deadline = g_get_monotonic_time() + FP_TIMELINE_LOCK_MS * 1000;

    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if ((errno != EWOULDBLOCK && errno != EINTR) || g_get_monotonic_time() >= deadline)
            return FALSE;
        g_usleep(2000);
    }
    return TRUE;
}

static int
open_dir(const char *run_dir, gboolean *mine, GError **error)
{
    gboolean root = geteuid() == 0;
    g_autofree char *where = g_build_filename(run_dir, "timeline", NULL);
    int run = fp_safedir_open(run_dir, root, 0755, error), dfd;
    struct stat st;

    if (run < 0)
        return -1;
    if (root) {
        dfd = fp_safedir_sub(run, run_dir, "timeline", 0711, error);
        close(run);
        *mine = TRUE;
        return dfd;
    }
    dfd = openat(run, "timeline", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(run);
    if (dfd < 0 || fstat(dfd, &st) < 0 || (st.st_uid != 0 && st.st_uid != geteuid()) ||
        (st.st_mode & (S_IWGRP | S_IWOTH))) {
        g_set_error(error, FP_ERROR, FP_ERROR_REFUSED, "%s: %s", where,
                    dfd < 0 ? g_strerror(errno) : "not root's alone; refusing it");
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    *mine = st.st_uid == geteuid();
    return dfd;
}

gboolean
fp_timeline_give(const char *run_dir, const char *uuid, const char *name, const char *source,
                 uid_t uid, gid_t gid, GError **error)
{
    g_autofree char *file = file_name(uuid, name, source);
    gboolean mine = FALSE;
    int dfd = open_dir(run_dir, &mine, error), fd;

    if (dfd < 0)
        return FALSE;
    /* rm -f $FILE; install -m 0600 -o $UID -g $GID /dev/null $FILE   (a new inode each start:
     * nothing the previous QEMU kept open reaches it) */
    unlinkat(dfd, file, 0);
    fd = openat(dfd, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, 0600) < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot give %s/timeline/%s to uid %u: %s",
                    run_dir, file, (unsigned)uid, g_strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlinkat(dfd, file, 0);
        }
        close(dfd);
        return FALSE;
    }
    close(fd);
    close(dfd);
    return TRUE;
}

gboolean
fp_timeline_add(const char *run_dir, const char *uuid, const char *name, const char *source,
                const char *event, json_object *fields, gboolean fresh, GError **error)
{
    g_autofree char *file = file_name(uuid, name, source);
    g_autofree char *where = g_build_filename(run_dir, "timeline", NULL);
    g_autofree char *text = NULL;
    const char *out;
    json_object *root = NULL, *events;
    gboolean mine = FALSE, ok = FALSE;
    struct stat st;
    int dfd, fd = -1;
    gsize len = 0;

    if (!fields)
        fields = json_object_new_object();
    json_object_object_add(fields, "event", json_object_new_string(event));
    json_object_object_add(fields, "time_us", json_object_new_int64(g_get_real_time()));
    if ((dfd = open_dir(run_dir, &mine, error)) < 0) {
        json_object_put(fields);
        return FALSE;
    }
    /* The directory's owner starts a fresh file (a new inode) each start; anyone else writes
     * only into the file given to it, never creating, following or replacing anything. */
    if (mine && fresh)
        unlinkat(dfd, file, 0);
    fd = openat(dfd, file, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && mine)
        fd = openat(dfd, file, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot open %s/%s: %s", where, file,
                    errno == ELOOP ? "a symlink; not followed"
                    : errno == ENOENT
                        ? "no such file (the hook gives QEMU's user its file at prepare begin)"
                        : g_strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        g_set_error(error, FP_ERROR, FP_ERROR_REFUSED,
                    "%s/%s is not a regular file of uid %u; not written", where, file,
                    (unsigned)geteuid());
        goto out;
    }
    /* Hook and wrapper of one domain may overlap with a restart: one writer at a time. Another
     * process of QEMU's user may hold the lock for ever: after a short wait the event is dropped,
     * never the start held. */
    if (!lock_bounded(fd)) {
        g_set_error(error, FP_ERROR, FP_ERROR_TIMEOUT,
                    "%s/%s stayed locked by another process for %d ms; event dropped", where, file,
                    FP_TIMELINE_LOCK_MS);
        goto out;
    }
    if (!fresh && (text = fp_safedir_read_fd(fd, where, file, FP_TIMELINE_MAX_BYTES, &len, NULL)))
        root = json_tokener_parse(text);
    if (!root || !json_object_is_type(root, json_type_object) ||
        !json_object_is_type(json_object_object_get(root, "events"), json_type_array)) {
        json_object_put(root);
        root = json_object_new_object();
        json_object_object_add(root, "domain", json_object_new_string(name ? name : ""));
        json_object_object_add(root, "events", json_object_new_array());
    }
    events = json_object_object_get(root, "events");
    json_object_array_add(events, g_steal_pointer(&fields));
    out = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
    /* Ephemeral (the run directory is a tmpfs): no fsync on the VM's critical path. */
    if (ftruncate(fd, 0) < 0 || pwrite(fd, out, strlen(out), 0) != (ssize_t)strlen(out)) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot write %s/%s: %s", where, file,
                    g_strerror(errno));
        goto out;
    }
    ok = TRUE;
out:
    json_object_put(fields);
    json_object_put(root);
    if (fd >= 0)
        close(fd);
    close(dfd);
    return ok;
}

char *
fp_timeline_read(const char *run_dir, const char *uuid, const char *name, const char *source,
                 gsize *len, GError **error)
{
    g_autofree char *file = file_name(uuid, name, source);
    g_autofree char *where = g_build_filename(run_dir, "timeline", NULL);
    int run = fp_safedir_open(run_dir, FALSE, 0, error), dfd;
    char *text;

    if (run < 0)
        return NULL;
    dfd = openat(run, "timeline", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(run);
    if (dfd < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", where,
                    errno == ELOOP || errno == ENOTDIR ? "not a directory (a symlink?)"
                                                       : g_strerror(errno));
        return NULL;
    }
    text = fp_safedir_read(dfd, where, file, FP_TIMELINE_MAX_BYTES, len, error);
    close(dfd);
    return text;
}
