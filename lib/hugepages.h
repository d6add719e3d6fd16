/* Per-node hugepage reservation: make sure a domain's pages exist on the right NUMA node before
 * QEMU asks for them, and give back exactly what was added when it stops. */
#pragma once

#include <glib.h>

/* The sysfs directory of NODE's pool of PAGE_KIB pages (-1: the host-wide pool). */
char *fp_hugepages_dir(const char *sysfs_root, int node, guint64 page_kib);

/* Makes NODE (-1: the host-wide pool) hold at least NEED free pages of PAGE_KIB, raising
 * nr_hugepages (after compacting memory when COMPACT) by what is missing. *ADDED says how many
 * pages it added; when the kernel could not supply them all, those it did are given back and
 * the error says how many were missing. */
gboolean fp_hugepages_reserve(const char *sysfs_root, const char *proc_root, int node, guint64 page_kib,
                              guint64 need, gboolean compact, guint timeout_ms, guint64 *added,
                              GError **error);
/* Lowers nr_hugepages of NODE by COUNT (the kernel frees only pages not in use). */
gboolean fp_hugepages_release(const char *sysfs_root, int node, guint64 page_kib, guint64 count,
                              guint timeout_ms, GError **error);
