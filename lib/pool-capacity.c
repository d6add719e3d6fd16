/* SPDX-License-Identifier: GPL-2.0-or-later */
/* How many hugepages the pool may take, and raising/lowering nr_hugepages for it. */
#include "pool-private.h"

#include "error.h"
#include "host.h"
#include "hugepages.h"
#include "sysfs.h"

#include <sys/vfs.h>

/* Raising nr_hugepages by many pages can take seconds (the kernel finds and clears memory). */
#define POOL_SYSFS_TIMEOUT_MS 120000

const char *
pool_sysfs_root(const FpPoolOptions *o)
{
    return fp_host_sysfs_root(o->sysfs_root);
}

const char *
pool_proc_root(const FpPoolOptions *o)
{
    return o->proc_root && *o->proc_root ? o->proc_root : "/proc";
}

static gboolean
read_count(const char *dir, const char *name, guint64 *out, GError **error)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    return fp_sysfs_read_count(path, out, error);
}

gboolean
fp_pool_host_pages(const FpPoolOptions *o, int node, guint64 page_kib, FpPoolPages *out,
                   GError **error)
{
    g_autofree char *dir = fp_hugepages_dir(pool_sysfs_root(o), node, page_kib);

    *out = (FpPoolPages){0};
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        if (node < 0)
            g_set_error(error, FP_ERROR, FP_ERROR_HOST,
                        "the host has no %" G_GUINT64_FORMAT " KiB hugepages (%s is missing)",
                        page_kib, dir);
        else
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                        "NUMA node %d has no %" G_GUINT64_FORMAT
                        " KiB hugepages (%s is missing: no such node?)",
                        node, page_kib, dir);
        return FALSE;
    }
    /* cat $DIR/nr_hugepages $DIR/free_hugepages [$DIR/resv_hugepages] */
    if (!read_count(dir, "nr_hugepages", &out->nr, error) ||
        !read_count(dir, "free_hugepages", &out->free, error))
        return FALSE;
    /* Pages promised to mappings but not faulted yet count as free and are not: host-wide only. */
    if (node < 0 && !read_count(dir, "resv_hugepages", &out->resv, error))
        return FALSE;
    return TRUE;
}

gboolean
pool_capacity_plan(const FpPoolOptions *o, int dfd, int node, guint64 page_kib, guint64 pages,
                   PoolGrow *grow, GError **error)
{
    FpPoolPages host, here;
    struct statfs sf;
    guint64 avail, above, shortfall = 0;

    *grow = (PoolGrow){.node = node, .page_kib = page_kib};
    /* df $DIR   (a size= limit on the mount caps the pool whatever the host has) */
    if (fstatfs(dfd, &sf) == 0 && sf.f_blocks > 0 && (guint64)sf.f_bavail < pages) {
        g_set_error(error, FP_ERROR, FP_ERROR_HOST,
                    "the hugetlbfs mount has room for %" G_GUINT64_FORMAT
                    " more pages (its size= limit), a slot "
                    "needs %" G_GUINT64_FORMAT,
                    (guint64)sf.f_bavail, pages);
        return FALSE;
    }
    if (!fp_pool_host_pages(o, -1, page_kib, &host, error))
        return FALSE;
    /* Only pages above the reserve are the pool's to take; a host already below it is not
     * topped up by the pool, just not made worse. */
    avail = host.free > host.resv ? host.free - host.resv : 0;
    above = avail > o->reserve_pages ? avail - o->reserve_pages : 0;
    if (above < pages)
        shortfall = pages - above;
    here = host;
    if (node >= 0) {
        if (!fp_pool_host_pages(o, node, page_kib, &here, error))
            return FALSE;
        if (here.free < pages)
            shortfall = MAX(shortfall, pages - here.free);
    }
    if (!shortfall)
        return TRUE;
    if (o->no_grow) {
        g_set_error(error, FP_ERROR, FP_ERROR_HOST,
                    "%" G_GUINT64_FORMAT " free %" G_GUINT64_FORMAT
                    " KiB hugepages (%" G_GUINT64_FORMAT
                    " of them promised to others, %" G_GUINT64_FORMAT
                    " kept in reserve) are %" G_GUINT64_FORMAT " short of a %" G_GUINT64_FORMAT
                    "-page slot, and raising nr_hugepages is off",
                    host.free, page_kib, host.resv, o->reserve_pages, shortfall, pages);
        return FALSE;
    }
    grow->shortfall = shortfall;
    grow->need_free = here.free + shortfall;
    return TRUE;
}

gboolean
pool_capacity_grow(const FpPoolOptions *o, const PoolGrow *grow, guint64 *added, GError **error)
{
    *added = 0;
    if (!grow->shortfall)
        return TRUE;
    /* echo $((NR + SHORTFALL)) > .../hugepages-${PAGE}kB/nr_hugepages   (per node when NODE >= 0;
     * the kernel may supply fewer: those it did are given back) */
    if (!fp_hugepages_reserve(pool_sysfs_root(o), pool_proc_root(o), grow->node, grow->page_kib,
                              grow->need_free, grow->page_kib >= 1024 * 1024, POOL_SYSFS_TIMEOUT_MS,
                              added, error)) {
        g_prefix_error(error, "cannot raise nr_hugepages by %" G_GUINT64_FORMAT ": ",
                       grow->shortfall);
        return FALSE;
    }
    return TRUE;
}

gboolean
pool_capacity_give_back(const FpPoolOptions *o, int node, guint64 page_kib, guint64 count,
                        GError **error)
{
    if (!count)
        return TRUE;
    /* echo $((NR - COUNT)) > .../hugepages-${PAGE}kB/nr_hugepages */
    return fp_hugepages_release(pool_sysfs_root(o), node, page_kib, count, POOL_SYSFS_TIMEOUT_MS,
                                error);
}
