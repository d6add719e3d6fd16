/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Inside the pool (lib/pool*.c only): slot names, the pool directory, hugepage capacity and the
 * memory work on hugetlbfs files. */
#pragma once

#include "pool.h"

#include <dirent.h>
#include <sys/stat.h>

/* What a name says, before the file is looked at. */
typedef enum {
    POOL_NAME_CLEAN,
    POOL_NAME_CLAIMED, /* with a valid owner */
    POOL_NAME_ORPHAN,  /* ".claimed" with no (valid) owner: a claim that never completed */
    POOL_NAME_DIRTY,
    POOL_NAME_SCRUBBING,
    POOL_NAME_FILLING,
    POOL_NAME_ODD, /* "slot-..." that this code never writes */
} PoolNameState;

typedef struct {
    char *name; /* the directory entry */
    char *base; /* "slot-0003.n0.s1073741824.g512"; NULL when the name does not parse */
    char *id;   /* "slot-0003", or the name up to its first '.' */
    guint num;  /* 3; 0 when the id does not parse */
    int node;
    guint64 size;
    guint64 grown; /* hugepages added to the host for this slot */
    PoolNameState nstate;
    char *owner;
} PoolEntry;

/* NULL for names that are not the pool's ("slot-" prefix); never fails otherwise. */
PoolEntry *pool_entry_parse(const char *name);
void pool_entry_free(PoolEntry *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PoolEntry, pool_entry_free)
char *pool_base_format(guint num, int node, guint64 size, guint64 grown);
/* PoolEntry* of DFD, sorted by number then name. */
GPtrArray *pool_scan(int dfd, const char *dir, GError **error);
/* NAME under DFD (AT_FDCWD: as a path) for readdir, on a descriptor of its own (readdir moves the
 * offset of the one it reads); NULL with errno set when it cannot be. */
DIR *pool_opendir(int dfd, const char *name);

/* Opens the pool directory (O_DIRECTORY|O_CLOEXEC), checked to be on hugetlbfs; *PAGE_BYTES is
 * its page size. An absent directory: created when CREATE (parent must be hugetlbfs), else -1
 * with *ABSENT set and no error. */
int pool_open_dir(const FpPoolOptions *o, gboolean create, guint64 *page_bytes, gboolean *absent,
                  GError **error);
/* Serialises fill, scrub and drain on one pool (flock on the directory). */
gboolean pool_lock(int dfd, const char *dir, GError **error);
/* TRUE when no fill/scrub/drain holds the pool now. */
gboolean pool_lock_free(int dfd);
/* "claim-UUID": the second name under which the hook gives a claimed slot to QEMU's user. */
char *pool_claim_link_name(const char *owner);
/* TRUE when E (claimed, stat ST) is what its owner's claim name points at. */
gboolean pool_claim_link_is(int dfd, const PoolEntry *e, const struct stat *st);
/* A claimed slot taken back from QEMU (root's, mode 0000) whose rename to dirty never came. */
gboolean pool_taken_back(const PoolEntry *e, const struct stat *st);
/* Claimed E taken back from QEMU's user: root's, mode 0000 (set on the file, never through a
 * symlink), then its claim-UUID name removed. FP_ERROR_REFUSED: renamed meanwhile. */
gboolean pool_take_back(int dfd, const char *dir, const PoolEntry *e, GError **error);
/* NULL when NAME in DFD is a regular file of SIZE bytes, all allocated, with one link; else why. */
char *pool_entry_problem(int dfd, const PoolEntry *e);
gboolean pool_rename(int dfd, const char *dir, const char *from, const char *to, gboolean noreplace,
                     GError **error);

const char *pool_dir_name(const FpPoolOptions *o);
const char *pool_sysfs_root(const FpPoolOptions *o);
const char *pool_proc_root(const FpPoolOptions *o);

/* What making PAGES hugepages of PAGE_KIB available for the pool on NODE takes. */
typedef struct {
    int node;
    guint64 page_kib;
    guint64 shortfall; /* pages nr_hugepages must rise by; 0: the free ones do */
    guint64 need_free; /* free pages NODE must hold then */
} PoolGrow;
/* Plans PAGES hugepages for the pool on NODE without going below the reserve: *GROW says by how
 * many nr_hugepages must rise (refused when no_grow). DFD: the mount, whose size= limit is
 * checked first. Changes nothing: the caller records the shortfall in a slot's name first. */
gboolean pool_capacity_plan(const FpPoolOptions *o, int dfd, int node, guint64 page_kib,
                            guint64 pages, PoolGrow *grow, GError **error);
/* Raises nr_hugepages as GROW plans; *ADDED: by how many it did (0 on failure: what the kernel
 * supplied of a short raise is given back). */
gboolean pool_capacity_grow(const FpPoolOptions *o, const PoolGrow *grow, guint64 *added,
                            GError **error);
/* Lowers nr_hugepages of NODE by COUNT (pages the pool added and no longer uses). */
gboolean pool_capacity_give_back(const FpPoolOptions *o, int node, guint64 page_kib, guint64 count,
                                 GError **error);

/* Allocates every page of FD (SIZE bytes, PAGE_BYTES pages) on NODE (-1: unbound); the kernel
 * zeroes them. THREADS (0: CPUs, up to 16) fault ranges of a mapping bound (MPOL_BIND) to NODE
 * in at once (MADV_POPULATE_WRITE); THREADS 1, or a kernel without it, gets one fallocate in a
 * thread bound to NODE. The caller's memory policy is untouched. */
gboolean pool_mem_allocate(int fd, guint64 size, guint64 page_bytes, int node, guint threads,
                           GError **error);
/* Frees every page of FD (punch a hole over LEN bytes, keeping the size). */
gboolean pool_mem_punch(int fd, guint64 len, GError **error);
/* Maps FD and checks that a sample of its pages (first, last, random) reads all zeros; *NODE is
 * the NUMA node of its first and last pages (-1 when they differ or it cannot tell). */
gboolean pool_mem_verify_zero(int fd, guint64 size, guint64 page_bytes, int *node, GError **error);
/* What procfs (and the kernel) say about one file. */
typedef struct {
    int pid;         /* a process (not this one) that maps it or holds it open; 0: none found */
    char *why;       /* PID 0 and in use all the same: why (NULL: not in use) */
    gboolean untold; /* WHY says what could not be read: it counts as in use for that alone */
} PoolUse;
/* For each of the N files NAMES[] under DFD (stat ST[]), who uses it, from PROC_ROOT: USE[i],
 * one pass over the processes. Fails closed (pool-users.c): what cannot be read sets USE[i].why
 * (pool_use_clear frees them). */
void pool_file_users(const char *proc_root, int dfd, const char *const *names,
                     const struct stat *st, guint n, PoolUse *use);
void pool_use_clear(PoolUse *use, guint n);
/* One line of /proc/PID/maps, LEN bytes with its '\n': the device and inode it maps; FALSE for
 * a line without them, without its '\n' (cut short) or mapping nothing (inode 0). */
gboolean pool_maps_line(const char *line, gsize len, unsigned int *maj, unsigned int *min,
                        unsigned long long *ino);
/* "ext4", "tmpfs", ... for a statfs f_type; "an unknown filesystem" otherwise. */
const char *pool_fs_name(long f_type);
