/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Memory work on hugetlbfs files: allocate on a NUMA node, free, verify zeros. */
#define _GNU_SOURCE
#include "pool-private.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mempolicy.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Node masks for set_mempolicy: enough bits for MAX_NUMNODES of distribution kernels (1024). */
#define POOL_MAX_NODES 1024
#define POOL_BITS_PER_LONG (8 * sizeof(unsigned long))

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
static const char POOL_STEP_POPULATE[] = "faulting the pages in";
/* Threads that fault a slot's pages in at once (the kernel zeroes each as it allocates it). */
#define POOL_ALLOC_THREADS_MAX 16

static gboolean
node_mask(int node, unsigned long *mask)
{
    memset(mask, 0, POOL_MAX_NODES / 8);
    if (node < 0 || node >= POOL_MAX_NODES)
        return FALSE;
    mask[node / POOL_BITS_PER_LONG] |= 1UL << (node % POOL_BITS_PER_LONG);
    return TRUE;
}

/* The serial way, for kernels without MADV_POPULATE_WRITE. */
typedef struct {
    int fd;
    guint64 size;
    int node;
    int err;
    const char *step;
} AllocJob;

static gpointer
alloc_thread(gpointer data)
{
    AllocJob *job = data;
    unsigned long mask[POOL_MAX_NODES / POOL_BITS_PER_LONG];

    /* numactl --membind=$NODE ...   (for this thread only; it ends right after) */
    if (node_mask(job->node, mask) &&
        syscall(SYS_set_mempolicy, MPOL_BIND, mask, (unsigned long)POOL_MAX_NODES) < 0) {
        job->err = errno;
        job->step = "set_mempolicy(MPOL_BIND)";
        return NULL;
    }
    /* fallocate -l $SIZE $SLOT   (hugetlbfs: allocates every page and zeroes it) */
    if (fallocate(job->fd, 0, 0, (off_t)job->size) < 0) {
        job->err = errno;
        job->step = "fallocate";
    }
    return NULL;
}

static int
allocate_serially(int fd, guint64 size, int node, const char **step, GError **error)
{
    AllocJob job = {.fd = fd, .size = size, .node = node};
    /* A thread of its own: the memory policy is per thread, and the caller's (the hook's, the
     * daemon's) must stay what it was whatever happens here. */
    GThread *t = g_thread_try_new("fp-pool-alloc", alloc_thread, &job, error);

    if (!t)
        return -1;
    g_thread_join(t);
    *step = job.step;
    return job.err;
}

/* The threads start together: populating holds the mapping lock for reading, and a thread
 * created meanwhile waits for it (its stack is a new mapping), so it would start late. */
typedef struct {
    GMutex lock;
    GCond cond;
    guint ready;
    gboolean go;
} StartLine;

/* One range of the mapping, faulted in by one thread. */
typedef struct {
    StartLine *line;
    guint8 *start;
    gsize len;
    int err;
} PopulateJob;

static gpointer
populate_thread(gpointer data)
{
    PopulateJob *job = data;
    StartLine *line = job->line;

    g_mutex_lock(&line->lock);
    line->ready++;
    g_cond_broadcast(&line->cond);
    while (!line->go)
        g_cond_wait(&line->cond, &line->lock);
    g_mutex_unlock(&line->lock);
    /* As if each page were written, without writing: an error comes back instead of SIGBUS. */
    if (madvise(job->start, job->len, MADV_POPULATE_WRITE) < 0)
        job->err = errno;
    return NULL;
}

/* Maps the file, binds the mapping to NODE and faults its pages in from several threads, each
 * over its own range. 0, an errno (*STEP says of what), or -1 with ERROR set. EINVAL from
 * madvise: the kernel cannot populate (before 5.14); nothing was allocated. */
static int
allocate_in_parallel(int fd, guint64 size, guint64 page_bytes, int node, guint threads,
                     const char **step, GError **error)
{
    guint64 pages = size / page_bytes;
    guint n = (guint)MIN((guint64)threads, pages);
    g_autofree PopulateJob *jobs = g_new0(PopulateJob, MAX(n, 1));
    g_autofree GThread **workers = g_new0(GThread *, MAX(n, 1));
    unsigned long mask[POOL_MAX_NODES / POOL_BITS_PER_LONG];
    StartLine line = {0};
    guint started = 0;
    guint8 *m;
    int err = 0;

    /* truncate -s $SIZE $SLOT; then a shared mapping, its pages reserved now (ENOMEM if short) */
    if (ftruncate(fd, (off_t)size) < 0) {
        *step = "ftruncate";
        return errno;
    }
    m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        *step = "mmap";
        return errno;
    }
    if (node_mask(node, mask) && syscall(SYS_mbind, m, (unsigned long)size, MPOL_BIND, mask,
                                         (unsigned long)POOL_MAX_NODES, 0U) < 0) {
        err = errno;
        *step = "mbind(MPOL_BIND)";
        goto out;
    }
    g_mutex_init(&line.lock);
    g_cond_init(&line.cond);
    for (guint i = 0; i < n; i++) {
        guint64 from = pages * i / n, to = pages * (i + 1) / n;

        jobs[i] = (PopulateJob){
            .line = &line, .start = m + from * page_bytes, .len = (to - from) * page_bytes};
        workers[i] = g_thread_try_new("fp-pool-populate", populate_thread, &jobs[i], NULL);
        started += workers[i] != NULL;
    }
    g_mutex_lock(&line.lock);
    while (line.ready < started)
        g_cond_wait(&line.cond, &line.lock);
    line.go = TRUE;
    g_cond_broadcast(&line.cond);
    g_mutex_unlock(&line.lock);
    for (guint i = 0; i < n; i++) {
        if (!workers[i])
            populate_thread(&jobs[i]); /* no thread to be had: this one does its range */
        else
            g_thread_join(workers[i]);
        if (jobs[i].err && !err)
            err = jobs[i].err;
    }
    g_mutex_clear(&line.lock);
    g_cond_clear(&line.cond);
    *step = POOL_STEP_POPULATE;
out:
    munmap(m, size);
    return err;
}

gboolean
pool_mem_allocate(int fd, guint64 size, guint64 page_bytes, int node, guint threads, GError **error)
{
    g_autofree char *where = node >= 0 ? g_strdup_printf(" on node %d", node) : g_strdup("");
    g_autofree char *human = fp_pool_size_text(size);
    const char *step = NULL;
    gboolean serial = threads == 1;
    int err = 0;

    if (node >= POOL_MAX_NODES) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "NUMA node %d is out of range", node);
        return FALSE;
    }
    if (!page_bytes || size % page_bytes) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "%" G_GUINT64_FORMAT " bytes is not a whole number of pages", size);
        return FALSE;
    }
    if (!serial) {
        err = allocate_in_parallel(
            fd, size, page_bytes, node,
            threads ? threads : MIN(g_get_num_processors(), POOL_ALLOC_THREADS_MAX), &step, error);
        /* EINVAL from madvise: a kernel before 5.14 cannot populate; nothing was allocated. */
        if (err == EINVAL && step == POOL_STEP_POPULATE) {
            serial = TRUE;
            if (ftruncate(fd, 0) < 0) {
                step = "ftruncate";
                err = errno;
                serial = FALSE;
            }
        }
    }
    if (serial)
        err = allocate_serially(fd, size, node, &step, error);
    if (err < 0)
        return FALSE;
    if (err) {
        g_set_error(error, FP_ERROR,
                    err == ENOSPC || err == ENOMEM || err == EFAULT ? FP_ERROR_HOST : FP_ERROR_IO,
                    "%s of %s%s: %s", step, human, where, g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

gboolean
pool_mem_punch(int fd, guint64 len, GError **error)
{
    /* fallocate --punch-hole --offset 0 --length $LEN $SLOT   (the pages go back to the host) */
    if (len && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)len) < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "punching out the pages: %s", g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

static gboolean
all_zero(const guint8 *p, gsize len)
{
    const guint64 *w = (const guint64 *)p;
    guint64 acc = 0;

    /* len is a multiple of 4 KiB and p page aligned. */
    for (gsize i = 0; i < len / 8; i += 8)
        acc |= w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7];
    return acc == 0;
}

static int
node_of(void *addr)
{
    int node = -1;

    if (syscall(SYS_get_mempolicy, &node, NULL, 0UL, addr,
                (unsigned long)(MPOL_F_NODE | MPOL_F_ADDR)) < 0)
        return -1;
    return node;
}

/* Pages checked besides the first and the last. */
#define POOL_VERIFY_RANDOM 14
/* Bytes checked at each end of a sampled page (all of a 2 MiB page; the ends of a 1 GiB one). */
#define POOL_VERIFY_CHUNK (2u << 20)

gboolean
pool_mem_verify_zero(int fd, guint64 size, guint64 page_bytes, int *node, GError **error)
{
    guint64 pages = size / page_bytes, chunk = MIN(page_bytes, POOL_VERIFY_CHUNK);
    guint64 sample[2 + POOL_VERIFY_RANDOM];
    guint n = 0;
    guint8 *m;
    int first, last;

    *node = -1;
    if (!pages || size % page_bytes) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "%" G_GUINT64_FORMAT " bytes is not a whole number of pages", size);
        return FALSE;
    }
    /* MAP_NORESERVE: every page is already in the file; reading must not take a new reservation. */
    m = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (m == MAP_FAILED) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot map the slot to verify it: %s",
                    g_strerror(errno));
        return FALSE;
    }
    sample[n++] = 0;
    if (pages > 1)
        sample[n++] = pages - 1;
    for (guint i = 0; pages > 2 && i < POOL_VERIFY_RANDOM; i++)
        sample[n++] = 1 + (guint64)g_random_double_range(0, (double)(pages - 2));
    for (guint i = 0; i < n; i++) {
        guint8 *page = m + sample[i] * page_bytes;

        if (!all_zero(page, chunk) || !all_zero(page + page_bytes - chunk, chunk)) {
            g_set_error(error, FP_ERROR, FP_ERROR_HOST,
                        "page %" G_GUINT64_FORMAT " (offset %" G_GUINT64_FORMAT ") is not zero",
                        sample[i], sample[i] * page_bytes);
            munmap(m, size);
            return FALSE;
        }
    }
    first = node_of(m);
    last = node_of(m + size - page_bytes);
    *node = first == last ? first : -1;
    munmap(m, size);
    return TRUE;
}

const char *
pool_fs_name(long f_type)
{
    static const struct {
        unsigned long magic;
        const char *name;
    } fs[] = {
        {0x958458f6, "hugetlbfs"}, {0x01021994, "tmpfs"}, {0xEF53, "ext4"},
        {0x58465342, "xfs"},       {0x9123683E, "btrfs"}, {0x794c7630, "overlayfs"},
        {0x6969, "nfs"},           {0x858458f6, "ramfs"}, {0x65735546, "fuse"},
        {0x9fa0, "proc"},          {0x62656572, "sysfs"}, {0x2FC12FC1, "zfs"},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(fs); i++) {
        if ((unsigned long)f_type == fs[i].magic)
            return fs[i].name;
    }
    return "an unknown filesystem";
}
