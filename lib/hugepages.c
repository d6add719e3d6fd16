/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hugepages.h"

#include "error.h"
#include "sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* Compaction helps 1 GiB pages but can run for long on a fragmented host: it gets this much at
 * most, whatever the caller's budget. */
#define COMPACT_MAX_MS 2000
/* Memory the host keeps beyond what a reservation takes: raising nr_hugepages up to the last
 * free page makes the kernel reclaim hard from everything else first. */
#define AVAILABLE_MARGIN_KIB (512 * 1024)

char *
fp_hugepages_dir(const char *sysfs_root, int node, guint64 page_kib)
{
    if (node < 0)
        return g_strdup_printf("%s/kernel/mm/hugepages/hugepages-%" G_GUINT64_FORMAT "kB",
                               sysfs_root, page_kib);
    return g_strdup_printf("%s/devices/system/node/node%d/hugepages/hugepages-%" G_GUINT64_FORMAT
                           "kB",
                           sysfs_root, node, page_kib);
}

int
fp_hugepages_lock(const char *sysfs_root, guint timeout_ms, GError **error)
{
    g_autofree char *path = g_build_filename(sysfs_root, "kernel/mm/hugepages", NULL);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 && errno == ENOENT) {
        g_free(path);
        path = g_strdup(sysfs_root);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;

        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot open %s to lock nr_hugepages: %s", path,
                    g_strerror(e));
        return -1;
    }
    /* flock -w $TIMEOUT /sys/kernel/mm/hugepages   (short retries: never an unbounded wait) */
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;

        if (e != EWOULDBLOCK && e != EINTR) {
            g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot lock %s: %s", path, g_strerror(e));
            close(fd);
            return -1;
        }
        if (g_get_monotonic_time() >= deadline) {
            g_set_error(error, FP_ERROR, FP_ERROR_TIMEOUT,
                        "another process held the nr_hugepages lock (%s) for %u ms", path,
                        timeout_ms);
            close(fd);
            return -1;
        }
        g_usleep(5000);
    }
    return fd;
}

static gboolean
read_count(const char *dir, const char *name, guint64 *out, GError **error)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    return fp_sysfs_read_count(path, out, error);
}

static gboolean
write_count(const char *dir, guint64 value, guint timeout_ms, GError **error)
{
    g_autofree char *path = g_build_filename(dir, "nr_hugepages", NULL);
    g_autofree char *text = g_strdup_printf("%" G_GUINT64_FORMAT, value);

    return fp_sysfs_write(path, text, timeout_ms, error);
}

gboolean
fp_hugepages_count(const char *sysfs_root, int node, guint64 page_kib, guint64 *nr, GError **error)
{
    g_autofree char *dir = fp_hugepages_dir(sysfs_root, node, page_kib);

    return read_count(dir, "nr_hugepages", nr, error);
}

/* The value of "KEY: N kB" in a meminfo file (node files prefix each line with "Node N "). */
static gboolean
meminfo_kib(const char *path, const char *key, guint64 *kib, GError **error)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    gsize klen = strlen(key);

    if (!g_file_get_contents(path, &text, NULL, error))
        return FALSE;
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        char *p = *l, *end;

        if (g_str_has_prefix(p, "Node ")) {
            p = strchr(p + 5, ' ');
            if (!p)
                continue;
            p++;
        }
        if (strncmp(p, key, klen) || p[klen] != ':')
            continue;
        errno = 0;
        *kib = g_ascii_strtoull(p + klen + 1, &end, 10);
        if (errno || end == p + klen + 1)
            break;
        return TRUE;
    }
    g_set_error(error, FP_ERROR, FP_ERROR_HOST, "%s has no %s line", path, key);
    return FALSE;
}

/* F16: MISSING more pages must come from memory the host has available now, with a margin, or
 * the kernel reclaims from everything else (page cache, other VMs) to make them. */
static gboolean
available_covers(const char *sysfs_root, const char *proc_root, int node, guint64 page_kib,
                 guint64 missing, GError **error)
{
    g_autofree char *meminfo = g_build_filename(proc_root, "meminfo", NULL);
    guint64 want = missing * page_kib, avail;

    if (missing > G_MAXUINT64 / page_kib)
        want = G_MAXUINT64 - AVAILABLE_MARGIN_KIB;
    /* grep MemAvailable /proc/meminfo */
    if (!meminfo_kib(meminfo, "MemAvailable", &avail, error)) {
        g_prefix_error(error, "cannot tell how much memory the host has available: ");
        return FALSE;
    }
    if (avail < AVAILABLE_MARGIN_KIB || want > avail - AVAILABLE_MARGIN_KIB) {
        g_set_error(error, FP_ERROR, FP_ERROR_HOST,
                    "%" G_GUINT64_FORMAT " more %" G_GUINT64_FORMAT
                    " KiB hugepages (%" G_GUINT64_FORMAT " MiB) exceed what the host has "
                    "available (%" G_GUINT64_FORMAT " MiB, %u MiB kept back); not raising "
                    "nr_hugepages",
                    missing, page_kib, want / 1024, avail / 1024, AVAILABLE_MARGIN_KIB / 1024);
        return FALSE;
    }
    if (node >= 0) {
        g_autofree char *path =
            g_strdup_printf("%s/devices/system/node/node%d/meminfo", sysfs_root, node);

        /* grep MemFree /sys/devices/system/node/node$NODE/meminfo */
        if (!meminfo_kib(path, "MemFree", &avail, error)) {
            g_prefix_error(error, "cannot tell how much memory node %d has free: ", node);
            return FALSE;
        }
        if (avail < AVAILABLE_MARGIN_KIB || want > avail - AVAILABLE_MARGIN_KIB) {
            g_set_error(error, FP_ERROR, FP_ERROR_HOST,
                        "%" G_GUINT64_FORMAT " more %" G_GUINT64_FORMAT
                        " KiB hugepages (%" G_GUINT64_FORMAT " MiB) exceed node %d's free memory "
                        "(%" G_GUINT64_FORMAT " MiB, %u MiB kept back); not raising nr_hugepages",
                        missing, page_kib, want / 1024, node, avail / 1024,
                        AVAILABLE_MARGIN_KIB / 1024);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
fp_hugepages_reserve_locked(const char *sysfs_root, const char *proc_root, int node,
                            guint64 page_kib, guint64 need, gboolean compact, guint timeout_ms,
                            FpHugepagesIntent intent, gpointer user, guint64 *added, GError **error)
{
    g_autofree char *dir = fp_hugepages_dir(sysfs_root, node, page_kib);
    guint64 free_pages, nr, now, missing;

    *added = 0;
    /* cat .../hugepages-${SIZE}kB/free_hugepages */
    if (!read_count(dir, "free_hugepages", &free_pages, error) ||
        !read_count(dir, "nr_hugepages", &nr, error))
        return FALSE;
    if (free_pages >= need)
        return TRUE;
    missing = need - free_pages;
    if (!available_covers(sysfs_root, proc_root, node, page_kib, missing, error))
        return FALSE;
    if (intent && !intent(nr, missing, user, error))
        return FALSE;
    if (compact) {
        /* echo 1 > /proc/sys/vm/compact_memory   (best effort: more contiguous memory) */
        g_autofree char *path = g_build_filename(proc_root, "sys/vm/compact_memory", NULL);
        fp_sysfs_write(path, "1", MIN(timeout_ms, COMPACT_MAX_MS), NULL);
    }
    /* echo $((NR + MISSING)) > .../nr_hugepages */
    if (!write_count(dir, nr + missing, timeout_ms, error) ||
        !read_count(dir, "nr_hugepages", &now, error))
        return FALSE;
    if (now < nr + missing) {
        g_autoptr(GError) undo = NULL;

        write_count(dir, nr, timeout_ms, &undo);
        g_set_error(error, FP_ERROR, FP_ERROR_HOST,
                    "node %d: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                    " KiB hugepages could not be allocated",
                    node, nr + missing - now, missing, page_kib);
        return FALSE;
    }
    *added = now - nr;
    return TRUE;
}

gboolean
fp_hugepages_reserve(const char *sysfs_root, const char *proc_root, int node, guint64 page_kib,
                     guint64 need, gboolean compact, guint timeout_ms, guint64 *added,
                     GError **error)
{
    int lock;
    gboolean ok;

    *added = 0;
    if ((lock = fp_hugepages_lock(sysfs_root, timeout_ms, error)) < 0)
        return FALSE;
    ok = fp_hugepages_reserve_locked(sysfs_root, proc_root, node, page_kib, need, compact,
                                     timeout_ms, NULL, NULL, added, error);
    close(lock);
    return ok;
}

gboolean
fp_hugepages_release_locked(const char *sysfs_root, int node, guint64 page_kib, guint64 count,
                            guint timeout_ms, GError **error)
{
    g_autofree char *dir = fp_hugepages_dir(sysfs_root, node, page_kib);
    guint64 nr;

    if (!read_count(dir, "nr_hugepages", &nr, error))
        return FALSE;
    /* echo $((NR - COUNT)) > .../nr_hugepages */
    return write_count(dir, nr > count ? nr - count : 0, timeout_ms, error);
}

gboolean
fp_hugepages_release(const char *sysfs_root, int node, guint64 page_kib, guint64 count,
                     guint timeout_ms, GError **error)
{
    int lock;
    gboolean ok;

    if ((lock = fp_hugepages_lock(sysfs_root, timeout_ms, error)) < 0)
        return FALSE;
    ok = fp_hugepages_release_locked(sysfs_root, node, page_kib, count, timeout_ms, error);
    close(lock);
    return ok;
}
