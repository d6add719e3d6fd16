/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Per-node hugepage reservation: make sure a domain's pages exist on the right NUMA node before
 * QEMU asks for them, and give back exactly what was added when it stops.
 *
 * nr_hugepages is the host's, shared by every hook and by the pool: each read-modify-write of it
 * runs under one host-wide lock (fp_hugepages_lock), so two writers never lose each other's
 * update. */
#pragma once

#include <glib.h>

/* The sysfs directory of NODE's pool of PAGE_KIB pages (-1: the host-wide pool). */
char *fp_hugepages_dir(const char *sysfs_root, int node, guint64 page_kib);

/* The host-wide lock around every read-modify-write of nr_hugepages: flock on the directory
 * $SYSFS_ROOT/kernel/mm/hugepages (on a sysfs without it, e.g. an emulated one, $SYSFS_ROOT
 * itself), so every caller reaches the same lock with no configuration, and tests redirect it
 * with the sysfs root. Waits at most TIMEOUT_MS (FP_ERROR_TIMEOUT after that: never hangs).
 * Returns the locked fd (closing it unlocks), or -1. */
int fp_hugepages_lock(const char *sysfs_root, guint timeout_ms, GError **error);

/* Called with the lock held, after nr_hugepages was read (BEFORE) and before it is raised by
 * ADDING: the place to record the intent. FALSE (with the error set) stops the reservation
 * before anything changes. */
typedef gboolean (*FpHugepagesIntent)(guint64 before, guint64 adding, gpointer user,
                                      GError **error);

/* Makes NODE (-1: the host-wide pool) hold at least NEED free pages of PAGE_KIB, raising
 * nr_hugepages (after compacting memory when COMPACT, for at most 2 s) by what is missing.
 * *ADDED says how many pages it added; when the kernel could not supply them all, those it did
 * are given back and the error says how many were missing. Refused, with nothing changed, when
 * the memory the host has available ($PROC_ROOT/meminfo MemAvailable, and the node's MemFree for
 * a node) does not cover the missing pages with a margin: raising the count past that sets off
 * a host-wide reclaim. Takes the lock (waiting at most TIMEOUT_MS). */
gboolean fp_hugepages_reserve(const char *sysfs_root, const char *proc_root, int node,
                              guint64 page_kib, guint64 need, gboolean compact, guint timeout_ms,
                              guint64 *added, GError **error);
/* The same with the lock already held by the caller; INTENT (may be NULL) is called before the
 * write. */
gboolean fp_hugepages_reserve_locked(const char *sysfs_root, const char *proc_root, int node,
                                     guint64 page_kib, guint64 need, gboolean compact,
                                     guint timeout_ms, FpHugepagesIntent intent, gpointer user,
                                     guint64 *added, GError **error);
/* Lowers nr_hugepages of NODE by COUNT (the kernel frees only pages not in use). Takes the lock. */
gboolean fp_hugepages_release(const char *sysfs_root, int node, guint64 page_kib, guint64 count,
                              guint timeout_ms, GError **error);
/* The same with the lock already held. */
gboolean fp_hugepages_release_locked(const char *sysfs_root, int node, guint64 page_kib,
                                     guint64 count, guint timeout_ms, GError **error);
/* nr_hugepages of NODE's pool of PAGE_KIB pages. */
gboolean fp_hugepages_count(const char *sysfs_root, int node, guint64 page_kib, guint64 *nr,
                            GError **error);
