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

    if (job->node >= 0) {
        unsigned long mask[POOL_MAX_NODES / POOL_BITS_PER_LONG] = {0};

        mask[job->node / POOL_BITS_PER_LONG] |= 1UL << (job->node % POOL_BITS_PER_LONG);
        /* numactl --membind=$NODE ...   (for this thread only; it ends right after) */
        if (syscall(SYS_set_mempolicy, MPOL_BIND, mask, (unsigned long)POOL_MAX_NODES) < 0) {
            job->err = errno;
            job->step = "set_mempolicy(MPOL_BIND)";
            return NULL;
        }
    }
    /* fallocate -l $SIZE $SLOT   (hugetlbfs: allocates every page and zeroes it) */
    if (fallocate(job->fd, 0, 0, (off_t)job->size) < 0) {
        job->err = errno;
        job->step = "fallocate";
    }
    return NULL;
}

gboolean
pool_mem_allocate(int fd, guint64 size, int node, GError **error)
{
    AllocJob job = {.fd = fd, .size = size, .node = node};
    g_autofree char *where = node >= 0 ? g_strdup_printf(" on node %d", node) : g_strdup("");
    g_autofree char *human = fp_pool_size_text(size);
    GThread *t;

    if (node >= POOL_MAX_NODES) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "NUMA node %d is out of range", node);
        return FALSE;
    }
    /* A thread of its own: the memory policy is per thread, and the caller's (the hook's, the
     * daemon's) must stay what it was whatever happens here. */
    t = g_thread_try_new("fp-pool-alloc", alloc_thread, &job, error);
    if (!t)
        return FALSE;
    g_thread_join(t);
    if (job.err) {
        g_set_error(error, FP_ERROR,
                    job.err == ENOSPC || job.err == ENOMEM ? FP_ERROR_HOST : FP_ERROR_IO,
                    "%s of %s%s: %s", job.step, human, where, g_strerror(job.err));
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
