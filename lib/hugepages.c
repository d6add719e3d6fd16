#include "hugepages.h"

#include "error.h"
#include "sysfs.h"

char *
fp_hugepages_dir(const char *sysfs_root, int node, guint64 page_kib)
{
    if (node < 0)
        return g_strdup_printf("%s/kernel/mm/hugepages/hugepages-%" G_GUINT64_FORMAT "kB", sysfs_root, page_kib);
    return g_strdup_printf("%s/devices/system/node/node%d/hugepages/hugepages-%" G_GUINT64_FORMAT "kB", sysfs_root,
                           node, page_kib);
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
fp_hugepages_reserve(const char *sysfs_root, const char *proc_root, int node, guint64 page_kib, guint64 need,
                     gboolean compact, guint timeout_ms, guint64 *added, GError **error)
{
    g_autofree char *dir = fp_hugepages_dir(sysfs_root, node, page_kib);
    guint64 free_pages, nr, now;

    *added = 0;
    /* cat .../hugepages-${SIZE}kB/free_hugepages */
    if (!read_count(dir, "free_hugepages", &free_pages, error) || !read_count(dir, "nr_hugepages", &nr, error))
        return FALSE;
    if (free_pages >= need)
        return TRUE;
    if (compact) {
        /* echo 1 > /proc/sys/vm/compact_memory   (best effort: more contiguous memory) */
        g_autofree char *path = g_build_filename(proc_root, "sys/vm/compact_memory", NULL);
        fp_sysfs_write(path, "1", timeout_ms, NULL);
    }
    /* echo $((NR + MISSING)) > .../nr_hugepages */
    if (!write_count(dir, nr + (need - free_pages), timeout_ms, error) || !read_count(dir, "nr_hugepages", &now, error))
        return FALSE;
    if (now < nr + (need - free_pages)) {
        g_autoptr(GError) undo = NULL;

        write_count(dir, nr, timeout_ms, &undo);
        g_set_error(error, FP_ERROR, FP_ERROR_HOST,
                    "node %d: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                    " KiB hugepages could not be allocated",
                    node, nr + (need - free_pages) - now, need - free_pages, page_kib);
        return FALSE;
    }
    *added = now - nr;
    return TRUE;
}

gboolean
fp_hugepages_release(const char *sysfs_root, int node, guint64 page_kib, guint64 count, guint timeout_ms,
                     GError **error)
{
    g_autofree char *dir = fp_hugepages_dir(sysfs_root, node, page_kib);
    guint64 nr;

    if (!read_count(dir, "nr_hugepages", &nr, error))
        return FALSE;
    return write_count(dir, nr > count ? nr - count : 0, timeout_ms, error);
}
