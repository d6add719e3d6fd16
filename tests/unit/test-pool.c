/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The memory pool on a real hugetlbfs mount (made here, under /tmp): states through a whole
 * cycle, one tenant's memory never visible to the next, faults under the pool, racing claimers,
 * capacity and reserve. Needs root and a few dozen free 2 MiB hugepages; skips otherwise. */
#define _GNU_SOURCE
#include "error.h"
#include "hugepages.h"
#include "pool.h"
#include "pool-private.h"
#include "sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MIB (1024ULL * 1024)
#define PAGE_KIB 2048ULL
#define GLOBAL_DIR "/sys/kernel/mm/hugepages/hugepages-2048kB"

static const char *const owner[] = {
    "0f8fad5b-d9cb-469f-a165-70867728950e", "1c4a3a3e-7b6b-4d0f-9d39-0e2b1c0c6a01",
    "2b0d8f4e-51a9-4c8e-8a53-3f6a2d7e9b12", "3e9f1a2b-6c7d-4e8f-9a0b-1c2d3e4f5a6b",
    "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d", "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c",
    "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d", "7d6c5b4a-3f2e-4d1c-9b0a-8f7e6d5c4b3a",
    "8e9f0a1b-2c3d-4e5f-8a6b-7c8d9e0f1a2b", "9b8a7f6e-5d4c-4b3a-9f2e-1d0c9b8a7f6e",
};

#define MSG(e) ((e) ? (e)->message : "(no error)")

/* What the rest of a test depends on: fails it and returns, instead of aborting the program
 * (the other cases still run, and the mount and nr_hugepages are put back). */
#define REQUIRE_OR(cond, ret)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            g_test_message("line %d: required: %s", __LINE__, #cond);                              \
            g_test_fail();                                                                         \
            return ret;                                                                            \
        }                                                                                          \
    } while (0)
#define REQUIRE(cond) REQUIRE_OR(cond, )

static void
assert_contains(const char *haystack, const char *needle)
{
    if (!haystack || !strstr(haystack, needle)) {
        g_test_message("'%s' does not contain '%s'", haystack ? haystack : "(null)", needle);
        g_test_fail();
    }
}

/* ---- the environment: one hugetlbfs mount for the whole program ---- */

static struct {
    char *why_not; /* NULL: usable */
    char *top;     /* a temp dir on the ordinary filesystem */
    char *mnt;     /* TOP/huge: hugetlbfs, 2 MiB pages */
    guint64 nr0;   /* global nr_hugepages before any test */
    guint next;
} env;

static guint64
global_count(const char *name)
{
    g_autofree char *path = g_build_filename(GLOBAL_DIR, name, NULL);
    g_autofree char *text = fp_sysfs_read(path, NULL);

    return text ? g_ascii_strtoull(text, NULL, 10) : 0;
}

/* Free pages nobody has a claim on. */
static guint64
available(void)
{
    guint64 free_pages = global_count("free_hugepages"), resv = global_count("resv_hugepages");

    return free_pages > resv ? free_pages - resv : 0;
}

static void
env_setup(void)
{
    g_autoptr(GError) error = NULL;
    guint64 added = 0;

    if (geteuid() != 0) {
        env.why_not = g_strdup("needs root (mounts hugetlbfs, raises nr_hugepages)");
        return;
    }
    if (!g_file_test(GLOBAL_DIR, G_FILE_TEST_IS_DIR)) {
        env.why_not = g_strdup("no 2 MiB hugepages on this kernel");
        return;
    }
    /* unshare --mount --propagation private: the mounts below live and die with this program,
     * so a killed run leaves no hugetlbfs behind for libvirt to pick as its hugepage mount. */
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        env.why_not =
            g_strdup_printf("cannot make a private mount namespace: %s", g_strerror(errno));
        return;
    }
    env.top = g_dir_make_tmp("fp-test-pool-XXXXXX", &error);
    g_assert_no_error(error);
    env.mnt = g_build_filename(env.top, "huge", NULL);
    g_assert_cmpint(g_mkdir(env.mnt, 0755), ==, 0);
    /* mount -t hugetlbfs -o pagesize=2M none $MNT */
    if (mount("none", env.mnt, "hugetlbfs", 0, "pagesize=2M") < 0) {
        env.why_not = g_strdup_printf("cannot mount hugetlbfs: %s", g_strerror(errno));
        return;
    }
    env.nr0 = global_count("nr_hugepages");
    /* Can this host give hugepages at all? Raise by 16, then give them back. */
    if (!fp_hugepages_reserve("/sys", "/proc", -1, PAGE_KIB, global_count("free_hugepages") + 16,
                              FALSE, 60000, &added, &error)) {
        env.why_not = g_strdup_printf("cannot reserve hugepages: %s", error->message);
        return;
    }
    fp_hugepages_release("/sys", -1, PAGE_KIB, added, 60000, NULL);
}

static void
rm_rf(const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
            g_autofree char *child = g_build_filename(path, name, NULL);

            rm_rf(child);
        }
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

static void
env_teardown(void)
{
    guint64 nr;

    if (env.mnt)
        umount2(env.mnt, MNT_DETACH);
    if (env.top) {
        g_autofree char *small = g_build_filename(env.top, "small", NULL);
        g_autofree char *tmpfs = g_build_filename(env.top, "tmpfs", NULL);

        umount2(small, MNT_DETACH);
        umount2(tmpfs, MNT_DETACH);
        rm_rf(env.top);
    }
    /* Every test gives back what its pool added; should one have failed midway, do it here. */
    nr = global_count("nr_hugepages");
    if (!env.why_not && nr > env.nr0) {
        g_autofree char *v = g_strdup_printf("%" G_GUINT64_FORMAT, env.nr0);

        g_printerr("# test-pool: nr_hugepages %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT "\n", nr,
                   env.nr0);
        fp_sysfs_write(GLOBAL_DIR "/nr_hugepages", v, 60000, NULL);
    }
}

/* ---- a pool per test, under the mount ---- */

typedef struct {
    char *dir;
    FpPoolOptions o;
    guint64 spare;      /* pages this test added for what it faults itself, given back at the end */
    guint64 nr_before;  /* host-wide nr_hugepages when the test began */
    gboolean slot_lost; /* the test deleted a slot file: what the pool grew for it is unknown */
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_strdup_printf("%s/pool%u", env.mnt, env.next++);
    f->o = (FpPoolOptions){.dir = f->dir, .sysfs_root = "/sys", .proc_root = "/proc"};
    f->nr_before = global_count("nr_hugepages");
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) slots = NULL;
    guint64 nr;

    if (!f->dir)
        return;
    slots = fp_pool_list(&f->o, NULL);
    for (guint i = 0; slots && i < slots->len; i++) {
        const FpSlot *s = g_ptr_array_index(slots, i);

        if (s->owner)
            fp_pool_release(&f->o, s->owner, NULL);
    }
    fp_pool_drain(&f->o, NULL);
    rm_rf(f->dir);
    g_assert_false(g_file_test(f->dir, G_FILE_TEST_EXISTS));
    g_free(f->dir);
    if (f->spare)
        g_assert_true(fp_hugepages_release("/sys", -1, PAGE_KIB, f->spare, 60000, NULL));
    /* Drain gives back every page the pool raised; a slot deleted under the pool took its record
     * (the name's g<N>) with it, so only the test knows to give those back. */
    nr = global_count("nr_hugepages");
    if (nr > f->nr_before) {
        if (!f->slot_lost) {
            g_test_message("nr_hugepages %" G_GUINT64_FORMAT " after the test, %" G_GUINT64_FORMAT
                           " before: the pool kept pages",
                           nr, f->nr_before);
            g_test_fail();
        }
        fp_hugepages_release("/sys", -1, PAGE_KIB, nr - f->nr_before, 60000, NULL);
    }
}

/* Hugepages for what the test faults itself (files it makes, a mapping that outlives a scrub),
 * beside the pool: raised here from whatever the host has free (a fresh host: none), kept from
 * the pool by its reserve_pages, given back by the teardown. */
static gboolean
spare_pages(Fixture *f, guint64 pages)
{
    g_autoptr(GError) error = NULL;
    guint64 added = 0;
    gboolean ok = fp_hugepages_reserve("/sys", "/proc", -1, PAGE_KIB, available() + pages, FALSE,
                                       60000, &added, &error);

    f->spare += added;
    if (!ok)
        g_test_message("cannot reserve %" G_GUINT64_FORMAT " spare hugepages: %s", pages,
                       error->message);
    f->o.reserve_pages += pages;
    return ok;
}

/* "slot-0001 clean, slot-0002 claimed": the pool's state, as a test asserts it. */
static char *
states(const FpPoolOptions *o)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) slots = fp_pool_list(o, &error);
    GString *s = g_string_new(NULL);

    g_assert_no_error(error);
    for (guint i = 0; slots && i < slots->len; i++) {
        const FpSlot *slot = g_ptr_array_index(slots, i);

        g_string_append_printf(s, "%s%s %s", i ? ", " : "", slot->id,
                               fp_slot_state_name(slot->state));
    }
    return g_string_free(s, FALSE);
}

/* The first problem status reports, or NULL. */
static char *
first_problem(const FpPoolOptions *o)
{
    g_autoptr(GPtrArray) slots = fp_pool_list(o, NULL);

    for (guint i = 0; slots && i < slots->len; i++) {
        const FpSlot *s = g_ptr_array_index(slots, i);

        if (s->problem)
            return g_strdup(s->problem);
    }
    return NULL;
}

static guint
files_in(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    guint n = 0;

    while (d && g_dir_read_name(d))
        n++;
    return n;
}

/* Maps PATH as QEMU does (MAP_SHARED) and writes BYTE over all of it. */
static void
write_pattern(const char *path, guint64 size, guint8 byte)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    void *m;

    REQUIRE(fd >= 0);
    m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    REQUIRE(m != MAP_FAILED);
    memset(m, byte, size);
    munmap(m, size);
}

/* Offset of the first byte of PATH that is not zero, reading every byte; -1 when all are zero. */
static gint64
first_nonzero(const char *path, guint64 size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    const guint8 *m;
    gint64 at = -1;

    REQUIRE_OR(fd >= 0, -2);
    m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        close(fd);
    REQUIRE_OR(m != MAP_FAILED, -2);
    for (guint64 i = 0; i < size && at < 0; i++) {
        if (m[i])
            at = (gint64)i;
    }
    munmap((void *)m, size);
    close(fd);
    return at;
}

static gboolean
fully_allocated(const char *path, guint64 size)
{
    struct stat st;

    return stat(path, &st) == 0 && (guint64)st.st_size == size &&
           (guint64)st.st_blocks * 512 == size;
}

static void
fill_ok(Fixture *f, int node, guint64 size, guint count)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(fp_pool_fill(&f->o, node, size, count, &error));
    g_assert_no_error(error);
}

/* ---- the cycle ---- */

static void
test_cycle(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FpSlot) a = NULL;
    g_autofree char *st = NULL, *path = NULL, *wrong_size = NULL;
    guint scrubbed = 99;

    st = states(&f->o);
    g_assert_cmpstr(st, ==, "");
    fill_ok(f, -1, 4 * MIB, 2);
    g_free(st), st = states(&f->o);
    g_assert_cmpstr(st, ==, "slot-0001 clean, slot-0002 clean");

    a = fp_pool_claim(&f->o, -1, 4 * MIB, owner[0], &error);
    g_assert_no_error(error);
    REQUIRE(a);
    g_assert_cmpstr(a->id, ==, "slot-0001");
    g_assert_cmpint(a->state, ==, FP_SLOT_CLAIMED);
    g_assert_cmpstr(a->owner, ==, owner[0]);
    g_assert_cmpuint(a->page_kib, ==, PAGE_KIB);
    g_assert_true(fully_allocated(a->path, 4 * MIB));
    g_free(st), st = states(&f->o);
    g_assert_cmpstr(st, ==, "slot-0001 claimed, slot-0002 clean");
    /* What the QEMU wrapper asks: by owner and size. */
    path = fp_pool_claimed_path(&f->o, owner[0], 4 * MIB);
    g_assert_cmpstr(path, ==, a->path);
    wrong_size = fp_pool_claimed_path(&f->o, owner[0], 8 * MIB);
    g_assert_null(wrong_size);
    g_assert_null(fp_pool_claimed_path(&f->o, owner[1], 4 * MIB));

    g_assert_true(fp_pool_release(&f->o, owner[0], &error));
    g_assert_no_error(error);
    g_free(st), st = states(&f->o);
    g_assert_cmpstr(st, ==, "slot-0001 dirty, slot-0002 clean");
    g_assert_null(fp_pool_claimed_path(&f->o, owner[0], 4 * MIB));
    /* Releasing what one does not hold is fine (the hook releases every domain). */
    g_assert_true(fp_pool_release(&f->o, owner[0], &error));

    g_assert_true(fp_pool_scrub(&f->o, &scrubbed, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(scrubbed, ==, 1);
    g_free(st), st = states(&f->o);
    g_assert_cmpstr(st, ==, "slot-0001 clean, slot-0002 clean");
    g_assert_true(fp_pool_scrub(&f->o, &scrubbed, NULL, &error));
    g_assert_cmpuint(scrubbed, ==, 0);
    g_assert_cmpuint(files_in(f->dir), ==, 2);
}

/* ---- security: one tenant's memory is never visible to the next ---- */

static void
test_pattern_then_zeros(Fixture *f, gconstpointer data)
{
    const guint64 size = 16 * MIB, stale_pages = size / (PAGE_KIB * 1024);
    g_autoptr(GError) error = NULL;
    g_autoptr(FpSlot) a = NULL, b = NULL, c = NULL;
    g_autoptr(FpSlot) none = NULL;
    g_autofree char *st = NULL;
    struct stat a_st, c_st;
    guint scrubbed = 0;
    guint8 *stale;
    int fd;

    guint busy = 0;

    /* The stale mapping below is this process's own, which the procfs scan skips (as it would
     * miss a process in another PID namespace): the kernel still knows the file is open, and
     * scrub leaves it. Its pages stay spare beside the pool. */
    REQUIRE(spare_pages(f, stale_pages));
    fill_ok(f, -1, size, 2);
    a = fp_pool_claim(&f->o, -1, size, owner[0], &error);
    REQUIRE(a);
    g_assert_cmpint(first_nonzero(a->path, size), ==, -1);
    write_pattern(a->path, size, 0xA5);
    g_assert_cmpint(first_nonzero(a->path, size), ==, 0);
    g_assert_cmpint(stat(a->path, &a_st), ==, 0);
    /* A VM that outlives its release (or kept an fd): its mapping stays through the scrub. */
    fd = open(a->path, O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    stale = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    REQUIRE(stale != MAP_FAILED);
    g_assert_true(fp_pool_release(&f->o, owner[0], &error));

    /* Before the scrub the dirty slot is never handed out: B gets the other one, C nothing. */
    b = fp_pool_claim(&f->o, -1, size, owner[1], &error);
    g_assert_no_error(error);
    REQUIRE(b);
    g_assert_cmpstr(b->id, ==, "slot-0002");
    none = fp_pool_claim(&f->o, -1, size, owner[2], &error);
    g_assert_null(none);
    g_assert_error(error, FP_ERROR, FP_ERROR_HOST);
    assert_contains(MSG(error), "no clean");
    g_clear_error(&error);
    g_assert_null(fp_pool_claimed_path(&f->o, owner[2], size));
    st = states(&f->o);
    g_assert_cmpstr(st, ==, "slot-0001 dirty, slot-0002 claimed");

    /* Mapped by a process procfs does not name: left dirty, the tenant's bytes untouched. */
    g_assert_true(fp_pool_scrub(&f->o, &scrubbed, &busy, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(scrubbed, ==, 0);
    g_assert_cmpuint(busy, ==, 1);
    for (guint64 i = 0; i < size; i += 4096) {
        if (stale[i] != 0xA5) {
            g_test_message("the mapped slot was punched under it at %" G_GUINT64_FORMAT, i);
            g_test_fail();
            break;
        }
    }
    munmap(stale, size);

    g_assert_true(fp_pool_scrub(&f->o, &scrubbed, &busy, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(scrubbed, ==, 1);
    g_assert_cmpuint(busy, ==, 0);
    c = fp_pool_claim(&f->o, -1, size, owner[2], &error);
    g_assert_no_error(error);
    REQUIRE(c);
    g_assert_cmpstr(c->id, ==, "slot-0001");
    /* Every byte of the next tenant's slot is zero, and it is a different file. */
    g_assert_cmpint(first_nonzero(c->path, size), ==, -1);
    g_assert_cmpint(stat(c->path, &c_st), ==, 0);
    g_assert_cmpuint(c_st.st_ino, !=, a_st.st_ino);
}

/* ---- faults under the pool: table ---- */

typedef struct {
    const char *name;
    gboolean used; /* claimed, written and released (dirty) before the fault */
    void (*fault)(const char *dir, const char *file); /* FILE: slot-0001's current name */
    const char *want_states;
    const char *want_problem; /* in status, or NULL for none */
    gboolean claim_ok;        /* a claim right after the fault succeeds */
    const char *scrub_error;  /* substring, or NULL when scrub succeeds */
    guint want_scrubbed;
    const char *want_after; /* states after claim (+release) and scrub */
} FaultCase;

static char *
at(const char *dir, const char *name)
{
    return g_build_filename(dir, name, NULL);
}

static void
fault_delete(const char *dir, const char *file)
{
    g_autofree char *p = at(dir, file);

    g_assert_cmpint(g_unlink(p), ==, 0);
}

static void
fault_truncate_zero(const char *dir, const char *file)
{
    g_autofree char *p = at(dir, file);

    g_assert_cmpint(truncate(p, 0), ==, 0);
}

static void
fault_truncate_half(const char *dir, const char *file)
{
    g_autofree char *p = at(dir, file);

    g_assert_cmpint(truncate(p, 2 * MIB), ==, 0);
}

static void
fault_punch(const char *dir, const char *file)
{
    g_autofree char *p = at(dir, file);
    int fd = open(p, O_RDWR | O_CLOEXEC);

    REQUIRE(fd >= 0);
    g_assert_cmpint(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 2 * MIB), ==, 0);
    close(fd);
}

static void
fault_directory(const char *dir, const char *file)
{
    g_autofree char *p = at(dir, file);

    g_assert_cmpint(g_unlink(p), ==, 0);
    g_assert_cmpint(g_mkdir(p, 0755), ==, 0);
}

/* "slot-0001....clean" -> "slot-0001....SUFFIX" */
static void
rename_state(const char *dir, const char *file, const char *suffix)
{
    g_autofree char *from = at(dir, file);
    g_autofree char *base = g_strndup(file, strrchr(file, '.') - file);
    g_autofree char *name = g_strdup_printf("%s.%s", base, suffix);
    g_autofree char *to = at(dir, name);

    g_assert_cmpint(rename(from, to), ==, 0);
}

static void
fault_claim_no_owner(const char *dir, const char *file)
{
    rename_state(dir, file, "claimed");
}

static void
fault_claim_bad_owner(const char *dir, const char *file)
{
    rename_state(dir, file, "claimed.not-a-uuid");
}

static void
fault_claimed_deleted(const char *dir, const char *file)
{
    FpPoolOptions o = {.dir = dir};
    g_autoptr(FpSlot) s = fp_pool_claim(&o, -1, 4 * MIB, owner[5], NULL);

    REQUIRE(s);
    g_assert_cmpint(g_unlink(s->path), ==, 0);
    g_assert_null(fp_pool_claimed_path(&o, owner[5], 0));
    g_assert_true(fp_pool_release(&o, owner[5], NULL));
}

static void
fault_scrub_interrupted(const char *dir, const char *file)
{
    rename_state(dir, file, "scrubbing");
}

/* Interrupted after the new file was made: the old one punched, the new one half there. */
static void
fault_scrub_interrupted_late(const char *dir, const char *file)
{
    g_autofree char *base = g_strndup(file, strrchr(file, '.') - file);
    g_autofree char *filling = g_strdup_printf("%s/%s.filling", dir, base);
    int fd;

    rename_state(dir, file, "scrubbing");
    fd = open(filling, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    g_assert_cmpint(fallocate(fd, 0, 0, 2 * MIB), ==, 0);
    close(fd);
    write_pattern(filling, 2 * MIB, 0xEE);
}

static void
fault_fill_interrupted(const char *dir, const char *file)
{
    rename_state(dir, file, "filling");
}

static void
fault_foreign_name(const char *dir, const char *file)
{
    g_autofree char *junk = at(dir, "slot-junk");
    int fd = open(junk, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    REQUIRE(fd >= 0);
    g_assert_cmpint(fallocate(fd, 0, 0, 2 * MIB), ==, 0);
    close(fd);
}

static void
fault_unknown_state(const char *dir, const char *file)
{
    rename_state(dir, file, "ready");
}

static const FaultCase fault_cases[] = {
    {"clean-deleted", FALSE, fault_delete, "", NULL, FALSE, NULL, 0, ""},
    {"clean-truncated-to-zero", FALSE, fault_truncate_zero, "slot-0001 dirty",
     "truncated under the pool: 0 of 4194304", FALSE, NULL, 1, "slot-0001 clean"},
    {"clean-truncated-to-half", FALSE, fault_truncate_half, "slot-0001 dirty",
     "truncated under the pool: 2097152 of 4194304", FALSE, NULL, 1, "slot-0001 clean"},
    {"clean-punched", FALSE, fault_punch, "slot-0001 dirty",
     "only 2097152 of 4194304 bytes allocated", FALSE, NULL, 1, "slot-0001 clean"},
    {"clean-replaced-by-directory", FALSE, fault_directory, "slot-0001 dirty", "not a regular file",
     FALSE, "slot-0001 removed", 0, ""},
    {"crash-between-claim-and-start", FALSE, fault_claim_no_owner, "slot-0001 dirty",
     "claimed without an owner", FALSE, NULL, 1, "slot-0001 clean"},
    {"claimed-with-bad-owner", FALSE, fault_claim_bad_owner, "slot-0001 dirty",
     "claimed without an owner", FALSE, NULL, 1, "slot-0001 clean"},
    {"claimed-slot-deleted", FALSE, fault_claimed_deleted, "", NULL, FALSE, NULL, 0, ""},
    {"scrub-interrupted", TRUE, fault_scrub_interrupted, "slot-0001 scrubbing", "scrub interrupted",
     FALSE, NULL, 1, "slot-0001 clean"},
    {"scrub-interrupted-after-new-file", TRUE, fault_scrub_interrupted_late,
     "slot-0001 scrubbing, slot-0001 scrubbing", "interrupted", FALSE, NULL, 1, "slot-0001 clean"},
    {"fill-interrupted", FALSE, fault_fill_interrupted, "slot-0001 scrubbing", "fill interrupted",
     FALSE, NULL, 1, "slot-0001 clean"},
    {"unknown-state", TRUE, fault_unknown_state, "slot-0001 dirty", "unknown state", FALSE, NULL, 1,
     "slot-0001 clean"},
    {"foreign-file-beside-a-clean-slot", FALSE, fault_foreign_name,
     "slot-0001 clean, slot-junk dirty", "a name the pool did not write", TRUE, NULL, 1,
     "slot-0001 clean"},
};

static char *
only_file(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name = d ? g_dir_read_name(d) : NULL;

    return g_strdup(name);
}

static void
test_fault(Fixture *f, gconstpointer data)
{
    const FaultCase *c = data;
    const guint64 size = 4 * MIB;
    g_autoptr(GError) error = NULL;
    g_autoptr(FpSlot) s = NULL, after = NULL;
    g_autofree char *file = NULL, *st = NULL, *problem = NULL;
    guint scrubbed = 0;

    REQUIRE(spare_pages(f, 1)); /* a fault may add a file of one page */
    fill_ok(f, -1, size, 1);
    if (c->used) {
        g_autoptr(FpSlot) u = fp_pool_claim(&f->o, -1, size, owner[0], NULL);

        REQUIRE(u);
        write_pattern(u->path, size, 0xA5);
        g_assert_true(fp_pool_release(&f->o, owner[0], NULL));
    }
    file = only_file(f->dir);
    REQUIRE(file);
    c->fault(f->dir, file);
    f->slot_lost = c->fault == fault_delete || c->fault == fault_claimed_deleted;

    st = states(&f->o);
    g_assert_cmpstr(st, ==, c->want_states);
    problem = first_problem(&f->o);
    if (c->want_problem)
        assert_contains(problem, c->want_problem);
    else
        g_assert_null(problem);

    s = fp_pool_claim(&f->o, -1, size, owner[1], &error);
    if (c->claim_ok) {
        g_assert_no_error(error);
        REQUIRE(s);
        g_assert_cmpint(first_nonzero(s->path, size), ==, -1);
        write_pattern(s->path, size, 0x77);
        g_assert_true(fp_pool_release(&f->o, owner[1], NULL));
    } else {
        g_assert_null(s);
        g_assert_error(error, FP_ERROR, FP_ERROR_HOST);
        g_clear_error(&error);
    }
    g_assert_null(fp_pool_claimed_path(&f->o, owner[1], 0));

    if (c->scrub_error) {
        g_assert_false(fp_pool_scrub(&f->o, &scrubbed, NULL, &error));
        assert_contains(MSG(error), c->scrub_error);
        g_clear_error(&error);
    } else {
        g_assert_true(fp_pool_scrub(&f->o, &scrubbed, NULL, &error));
        g_assert_no_error(error);
    }
    g_assert_cmpuint(scrubbed, ==, c->want_scrubbed);
    g_free(st), st = states(&f->o);
    g_assert_cmpstr(st, ==, c->want_after);
    g_free(problem), problem = first_problem(&f->o);
    g_assert_null(problem);
    /* One file per slot left, nothing else, and a clean slot is whole and zero. */
    g_assert_cmpuint(files_in(f->dir), ==, *c->want_after ? 1 : 0);
    after = fp_pool_claim(&f->o, -1, size, owner[2], &error);
    if (*c->want_after) {
        g_assert_no_error(error);
        REQUIRE(after);
        g_assert_true(fully_allocated(after->path, size));
        g_assert_cmpint(first_nonzero(after->path, size), ==, -1);
    } else {
        g_assert_null(after);
        g_clear_error(&error);
    }
}

/* ---- racing claimers ---- */

typedef struct {
    Fixture *f;
    const char *owner;
    gint *go;
    FpSlot *got;
    GError *error;
} Claimer;

static gpointer
claimer(gpointer data)
{
    Claimer *c = data;

    while (!g_atomic_int_get(c->go))
        ;
    c->got = fp_pool_claim(&c->f->o, -1, 4 * MIB, c->owner, &c->error);
    return NULL;
}

static void
test_race(Fixture *f, gconstpointer data)
{
    enum { SLOTS = 4, CLAIMERS = 10 };
    Claimer c[CLAIMERS] = {0};
    GThread *t[CLAIMERS];
    g_autoptr(GHashTable) ids = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GPtrArray) slots = NULL;
    gint go = 0;
    guint won = 0, lost = 0;

    fill_ok(f, -1, 4 * MIB, SLOTS);
    for (int i = 0; i < CLAIMERS; i++) {
        c[i] = (Claimer){.f = f, .owner = owner[i], .go = &go};
        t[i] = g_thread_new("claimer", claimer, &c[i]);
    }
    g_atomic_int_set(&go, 1);
    for (int i = 0; i < CLAIMERS; i++)
        g_thread_join(t[i]);
    for (int i = 0; i < CLAIMERS; i++) {
        if (c[i].got) {
            won++;
            g_assert_false(g_hash_table_contains(ids, c[i].got->id));
            g_hash_table_add(ids, c[i].got->id);
            g_assert_cmpstr(c[i].got->owner, ==, owner[i]);
        } else {
            lost++;
            g_assert_error(c[i].error, FP_ERROR, FP_ERROR_HOST);
            assert_contains(MSG(c[i].error), "no clean");
        }
    }
    g_assert_cmpuint(won, ==, SLOTS);
    g_assert_cmpuint(lost, ==, CLAIMERS - SLOTS);
    /* The end state agrees: each slot claimed once, by the claimer that was told it won. */
    slots = fp_pool_list(&f->o, NULL);
    REQUIRE(slots);
    g_assert_cmpuint(slots->len, ==, SLOTS);
    for (guint i = 0; i < slots->len; i++) {
        const FpSlot *s = g_ptr_array_index(slots, i);
        g_autofree char *path = NULL;

        g_assert_cmpint(s->state, ==, FP_SLOT_CLAIMED);
        path = fp_pool_claimed_path(&f->o, s->owner, 4 * MIB);
        g_assert_cmpstr(path, ==, s->path);
    }
    for (int i = 0; i < CLAIMERS; i++) {
        fp_slot_free(c[i].got);
        g_clear_error(&c[i].error);
    }
}

/* ---- a directory that is not on hugetlbfs ---- */

typedef struct {
    const char *name;
    const char *sub;  /* under env.top */
    gboolean make;    /* create it */
    const char *want; /* in every error */
} NotHugeCase;

static const NotHugeCase not_huge_cases[] = {
    {"plain-directory", "plain", TRUE, "is not on hugetlbfs (it is on "},
    {"tmpfs", "tmpfs", TRUE, "is not on hugetlbfs (it is on tmpfs)"},
    {"absent-under-plain-directory", "plain2/pool", FALSE, "does not exist and "},
    {"absent-parent", "nothing/pool", FALSE, "does not exist, nor does"},
};

static void
test_not_hugetlbfs(Fixture *f, gconstpointer data)
{
    const NotHugeCase *c = data;
    g_autofree char *dir = NULL;
    g_autoptr(GError) error = NULL;
    FpPoolOptions o = {0};
    guint n;

    dir = g_build_filename(env.top, c->sub, NULL);
    o.dir = dir;
    if (!strcmp(c->name, "tmpfs")) {
        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        /* mount -t tmpfs none $DIR */
        g_assert_cmpint(mount("none", dir, "tmpfs", 0, "size=16m"), ==, 0);
    } else if (c->make) {
        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    } else if (g_str_has_prefix(c->sub, "plain2")) {
        g_autofree char *parent = g_path_get_dirname(dir);

        g_assert_cmpint(g_mkdir_with_parents(parent, 0755), ==, 0);
    }

#define EXPECT_FAIL(call)                                                                          \
    do {                                                                                           \
        g_assert_false(call);                                                                      \
        g_assert_nonnull(error);                                                                   \
        assert_contains(MSG(error), c->want);                                                      \
        assert_contains(MSG(error), c->make ? dir : c->sub);                                       \
        g_clear_error(&error);                                                                     \
    } while (0)
    EXPECT_FAIL(fp_pool_fill(&o, -1, 4 * MIB, 1, &error));
    EXPECT_FAIL(fp_pool_claim(&o, -1, 4 * MIB, owner[0], &error) != NULL);
    EXPECT_FAIL(fp_pool_list(&o, &error) != NULL);
    EXPECT_FAIL(fp_pool_scrub(&o, &n, NULL, &error));
    EXPECT_FAIL(fp_pool_drain(&o, &error));
    EXPECT_FAIL(fp_pool_release(&o, owner[0], &error));
#undef EXPECT_FAIL
    g_assert_null(fp_pool_claimed_path(&o, owner[0], 0));
    /* Nothing made there: no slot in a plain directory, no directory where there was none. */
    if (c->make)
        g_assert_cmpuint(files_in(dir), ==, 0);
    else
        g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
    if (!strcmp(c->name, "tmpfs"))
        g_assert_cmpint(umount(dir), ==, 0);
}

/* ---- bad input ---- */

typedef struct {
    const char *name;
    int node;
    guint64 size;
    const char *owner;
    gboolean fill; /* fill (else claim) */
    const char *want;
} InputCase;

static const InputCase input_cases[] = {
    {"owner-not-uuid", -1, 4 * MIB, "web-1", FALSE, "not a domain UUID"},
    {"owner-with-path", -1, 4 * MIB, "../../../../etc/passwd", FALSE, "not a domain UUID"},
    {"owner-with-state-suffix", -1, 4 * MIB, "0f8fad5b-d9cb-469f-a165-70867728950e.clean", FALSE,
     "not a domain UUID"},
    {"owner-uuid-with-newline", -1, 4 * MIB, "0f8fad5b-d9cb-469f-a165-70867728950\n", FALSE,
     "not a domain UUID"},
    {"owner-empty", -1, 4 * MIB, "", FALSE, "not a domain UUID"},
    {"claim-size-zero", -1, 0, "0f8fad5b-d9cb-469f-a165-70867728950e", FALSE, "needs a size"},
    {"claim-node-too-big", 5000, 4 * MIB, "0f8fad5b-d9cb-469f-a165-70867728950e", FALSE,
     "node of -1..1023"},
    {"fill-size-not-whole-pages", -1, 3 * MIB, NULL, TRUE,
     "not a whole number of the 2048 KiB pages"},
    {"fill-size-zero", -1, 0, NULL, TRUE, "needs a size"},
    {"fill-node-negative", -2, 4 * MIB, NULL, TRUE, "node of -1..1023"},
    {"fill-node-absent", 1000, 4 * MIB, NULL, TRUE, "NUMA node 1000 has no 2048 KiB hugepages"},
};

static void
test_input(Fixture *f, gconstpointer data)
{
    const InputCase *c = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *st = NULL;
    gboolean ok;

    fill_ok(f, -1, 4 * MIB, 1);
    if (c->fill) {
        ok = fp_pool_fill(&f->o, c->node, c->size, 1, &error);
    } else {
        g_autoptr(FpSlot) s = fp_pool_claim(&f->o, c->node, c->size, c->owner, &error);

        ok = s != NULL;
    }
    g_assert_false(ok);
    g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
    assert_contains(MSG(error), c->want);
    st = states(&f->o);
    g_assert_cmpstr(st, ==, "slot-0001 clean");
    g_assert_cmpuint(files_in(f->dir), ==, 1);
    if (!c->fill && !fp_pool_owner_valid(c->owner)) {
        g_clear_error(&error);
        g_assert_false(fp_pool_release(&f->o, c->owner, &error));
        g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
        g_assert_null(fp_pool_claimed_path(&f->o, c->owner, 0));
    }
}

/* ---- nodes, drain, absent pool ---- */

static void
test_node(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FpSlot) s = NULL, none = NULL;
    g_autoptr(GPtrArray) slots = NULL;

    fill_ok(f, 0, 4 * MIB, 1);
    slots = fp_pool_list(&f->o, NULL);
    REQUIRE(slots && slots->len == 1);
    g_assert_cmpint(((FpSlot *)g_ptr_array_index(slots, 0))->node, ==, 0);
    none = fp_pool_claim(&f->o, 1, 4 * MIB, owner[0], &error);
    g_assert_null(none);
    assert_contains(MSG(error), "on node 1");
    g_clear_error(&error);
    s = fp_pool_claim(&f->o, 0, 4 * MIB, owner[0], &error);
    g_assert_no_error(error);
    REQUIRE(s);
    g_assert_cmpint(s->node, ==, 0);
}

static void
test_absent_pool(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) slots = NULL;
    g_autoptr(FpSlot) s = NULL;
    guint n = 9;

    slots = fp_pool_list(&f->o, &error);
    g_assert_no_error(error);
    REQUIRE(slots);
    g_assert_cmpuint(slots->len, ==, 0);
    s = fp_pool_claim(&f->o, -1, 4 * MIB, owner[0], &error);
    g_assert_null(s);
    assert_contains(MSG(error), "has not been filled");
    g_clear_error(&error);
    g_assert_true(fp_pool_scrub(&f->o, &n, NULL, &error));
    g_assert_cmpuint(n, ==, 0);
    g_assert_true(fp_pool_drain(&f->o, &error));
    g_assert_true(fp_pool_release(&f->o, owner[0], &error));
    g_assert_no_error(error);
    g_assert_false(g_file_test(f->dir, G_FILE_TEST_EXISTS));
}

static void
test_drain(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FpSlot) s = NULL;
    g_autofree char *st = NULL, *path = NULL;

    fill_ok(f, -1, 4 * MIB, 3);
    s = fp_pool_claim(&f->o, -1, 4 * MIB, owner[0], &error);
    REQUIRE(s);
    {
        g_autoptr(FpSlot) t = fp_pool_claim(&f->o, -1, 4 * MIB, owner[1], &error);

        REQUIRE(t);
        g_assert_true(fp_pool_release(&f->o, owner[1], &error));
    }
    g_assert_true(fp_pool_drain(&f->o, &error));
    g_assert_no_error(error);
    /* The claimed slot stays, untouched: its VM runs on it. */
    st = states(&f->o);
    g_assert_cmpstr(st, ==, "slot-0001 claimed");
    path = fp_pool_claimed_path(&f->o, owner[0], 4 * MIB);
    g_assert_cmpstr(path, ==, s->path);
    g_assert_true(fully_allocated(path, 4 * MIB));
    g_assert_cmpuint(files_in(f->dir), ==, 1);
}

/* ---- capacity ---- */

/* Sum of the g<N> fields: hugepages the pool says it added. */
static guint64
grown_total(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    guint64 total = 0;

    while (d && (name = g_dir_read_name(d))) {
        const char *g = strstr(name, ".g");

        if (g)
            total += g_ascii_strtoull(g + 2, NULL, 10);
    }
    return total;
}

/* A mount with a size= limit of 8 MiB: 3 slots of 4 MiB cannot fit. */
static void
test_capacity_mount_limit(Fixture *f, gconstpointer data)
{
    g_autofree char *small = g_build_filename(env.top, "small", NULL);
    g_autofree char *dir = NULL, *st = NULL;
    g_autoptr(GError) error = NULL;
    FpPoolOptions o = {0};
    guint64 nr_before, grown;

    g_assert_cmpint(g_mkdir_with_parents(small, 0755), ==, 0);
    /* mount -t hugetlbfs -o pagesize=2M,size=8M none $SMALL */
    g_assert_cmpint(mount("none", small, "hugetlbfs", 0, "pagesize=2M,size=8M"), ==, 0);
    dir = g_build_filename(small, "pool", NULL);
    o.dir = dir;
    /* Every page the pool uses must be one it adds: then what it gives back is visible. */
    o.reserve_pages = available();
    nr_before = global_count("nr_hugepages");
    g_assert_false(fp_pool_fill(&o, -1, 4 * MIB, 3, &error));
    g_assert_error(error, FP_ERROR, FP_ERROR_HOST);
    assert_contains(MSG(error), "made 2 of 3 4 MiB slots");
    assert_contains(MSG(error), "size= limit");
    g_clear_error(&error);
    st = states(&o);
    g_assert_cmpstr(st, ==, "slot-0001 clean, slot-0002 clean");
    grown = grown_total(dir);
    g_assert_cmpuint(grown, ==, 4);
    g_assert_cmpuint(global_count("nr_hugepages"), ==, nr_before + grown);
    g_assert_true(fp_pool_drain(&o, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(global_count("nr_hugepages"), ==, nr_before);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
    g_assert_cmpint(umount(small), ==, 0);
}

/* With growing off, the pool takes free pages only down to the reserve. */
static void
test_capacity_reserve_no_grow(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *st = NULL;
    guint64 added = 0, nr_before;

    /* Room for exactly one 2-page slot above the reserve. */
    g_assert_true(fp_hugepages_reserve("/sys", "/proc", -1, PAGE_KIB,
                                       global_count("free_hugepages") +
                                           (available() < 8 ? 8 - available() : 0),
                                       FALSE, 60000, &added, &error));
    f->o.no_grow = TRUE;
    f->o.reserve_pages = available() - 3;
    nr_before = global_count("nr_hugepages");
    g_assert_false(fp_pool_fill(&f->o, -1, 4 * MIB, 2, &error));
    g_assert_error(error, FP_ERROR, FP_ERROR_HOST);
    assert_contains(MSG(error), "made 1 of 2");
    assert_contains(MSG(error), "raising nr_hugepages is off");
    g_clear_error(&error);
    st = states(&f->o);
    g_assert_cmpstr(st, ==, "slot-0001 clean");
    g_assert_cmpuint(available(), >=, f->o.reserve_pages);
    g_assert_cmpuint(global_count("nr_hugepages"), ==, nr_before);
    g_assert_cmpuint(grown_total(f->dir), ==, 0);
    fp_hugepages_release("/sys", -1, PAGE_KIB, added, 60000, NULL);
}

/* Growing: the pool adds what the slot needs instead of eating into the reserve, and drain gives
 * exactly that back. */
static void
test_capacity_reserve_grow(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    guint64 nr_before, avail_before;

    avail_before = available();
    f->o.reserve_pages = avail_before + 4;
    nr_before = global_count("nr_hugepages");
    fill_ok(f, -1, 4 * MIB, 2);
    g_assert_cmpuint(grown_total(f->dir), ==, 4);
    g_assert_cmpuint(global_count("nr_hugepages"), ==, nr_before + 4);
    g_assert_cmpuint(available(), >=, avail_before);
    g_assert_true(fp_pool_drain(&f->o, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(global_count("nr_hugepages"), ==, nr_before);
}

/* A test that aborts (a GLib critical is fatal under GTest) still leaves the host as it was. */
static void
on_abort(int sig)
{
    env_teardown();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* A returned slot that cannot get its pages back (the host needs them now) is removed, with the
 * hugepages the pool added for it, and scrub says so. */
static void
test_capacity_scrub_cannot_refill(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FpSlot) s = NULL;
    g_autofree char *st = NULL;
    guint64 nr_before;
    guint scrubbed = 9;

    nr_before = global_count("nr_hugepages");
    f->o.reserve_pages = available();
    fill_ok(f, -1, 4 * MIB, 2);
    g_assert_cmpuint(grown_total(f->dir), ==, 4);
    s = fp_pool_claim(&f->o, -1, 4 * MIB, owner[0], &error);
    REQUIRE(s);
    write_pattern(s->path, 4 * MIB, 0xA5);
    g_assert_true(fp_pool_release(&f->o, owner[0], &error));
    /* Now the host wants more in reserve than is free, and the pool may not grow. */
    f->o.no_grow = TRUE;
    f->o.reserve_pages = available() + 100;
    g_assert_false(fp_pool_scrub(&f->o, &scrubbed, NULL, &error));
    g_assert_error(error, FP_ERROR, FP_ERROR_HOST);
    assert_contains(MSG(error), "scrubbed 0 slots; 1 could not be: slot-0001 removed: ");
    assert_contains(MSG(error), "raising nr_hugepages is off");
    g_clear_error(&error);
    g_assert_cmpuint(scrubbed, ==, 0);
    st = states(&f->o);
    g_assert_cmpstr(st, ==, "slot-0002 clean");
    g_assert_cmpuint(files_in(f->dir), ==, 1);
    g_assert_cmpuint(global_count("nr_hugepages"), ==, nr_before + 2);
    g_assert_true(fp_pool_drain(&f->o, &error));
    g_assert_cmpuint(global_count("nr_hugepages"), ==, nr_before);
}

/* ---- the zero check scrub and fill rely on: it must catch what it samples ---- */

typedef struct {
    const char *name;
    gint64 dirty_at; /* offset of the one non-zero byte; -1 none; -2 every page */
    gboolean want_ok;
} VerifyCase;

static const VerifyCase verify_cases[] = {
    {"all-zero", -1, TRUE},
    {"first-byte", 0, FALSE},
    {"end-of-first-page", 2 * MIB - 1, FALSE},
    {"last-byte", 16 * MIB - 1, FALSE},
    {"start-of-last-page", 14 * MIB, FALSE},
    {"every-page", -2, FALSE},
};

static void
test_verify(Fixture *f, gconstpointer data)
{
    const VerifyCase *c = data;
    const guint64 size = 16 * MIB;
    g_autofree char *path = NULL;
    g_autoptr(GError) error = NULL;
    guint8 *m;
    int fd, node = -7;

    REQUIRE(spare_pages(f, size / (PAGE_KIB * 1024)));
    g_assert_cmpint(g_mkdir(f->dir, 0755), ==, 0);
    path = g_build_filename(f->dir, "verify", NULL);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    g_assert_cmpint(fallocate(fd, 0, 0, size), ==, 0);
    m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m != MAP_FAILED) {
        for (guint64 off = 0; c->dirty_at == -2 && off < size; off += 2 * MIB)
            m[off + 4096] = 1;
        if (c->dirty_at >= 0)
            m[c->dirty_at] = 0x80;
        munmap(m, size);
    }
    g_assert_cmpint(pool_mem_verify_zero(fd, size, 2 * MIB, &node, &error), ==, c->want_ok);
    if (c->want_ok) {
        g_assert_no_error(error);
        /* One node here: its pages can only be there. Elsewhere, some node or "mixed" (-1). */
        if (!g_file_test("/sys/devices/system/node/node1", G_FILE_TEST_EXISTS))
            g_assert_cmpint(node, ==, 0);
    } else {
        assert_contains(MSG(error), "is not zero");
    }
    close(fd);
}

/* pool_mem_allocate, each way: every page there, zero, on the node asked for; and a pool too
 * small says so (no SIGBUS, whatever the number of threads). */
typedef struct {
    const char *name;
    guint threads; /* 0: CPUs; 1: one fallocate */
    int node;
    gboolean small_mount; /* on a 4 MiB mount, 10 MiB cannot be had */
} AllocCase;

static const AllocCase alloc_cases[] = {
    {"cpus", 0, -1, FALSE},           {"fallocate", 1, -1, FALSE},
    {"2-threads-node0", 2, 0, FALSE}, {"more-threads-than-pages", 9, -1, FALSE},
    {"short/fallocate", 1, -1, TRUE}, {"short/2-threads", 2, -1, TRUE},
};

static void
test_allocate(Fixture *f, gconstpointer data)
{
    const AllocCase *c = data;
    const guint64 size = 10 * MIB; /* 5 pages: the threads' ranges differ in length */
    g_autofree char *small = g_build_filename(env.top, "small-alloc", NULL);
    g_autofree char *path = NULL;
    g_autoptr(GError) error = NULL;
    struct stat st;
    int fd, node = -7;
    gboolean ok;

    REQUIRE(spare_pages(f, 5));
    if (c->small_mount) {
        g_assert_cmpint(g_mkdir_with_parents(small, 0755), ==, 0);
        /* mount -t hugetlbfs -o pagesize=2M,size=4M none $SMALL */
        REQUIRE(mount("none", small, "hugetlbfs", 0, "pagesize=2M,size=4M") == 0);
        path = g_build_filename(small, "slot", NULL);
    } else {
        g_assert_cmpint(g_mkdir(f->dir, 0755), ==, 0);
        path = g_build_filename(f->dir, "slot", NULL);
    }
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    ok = pool_mem_allocate(fd, size, 2 * MIB, c->node, c->threads, &error);
    g_assert_cmpint(fstat(fd, &st), ==, 0);
    if (c->small_mount) {
        g_assert_false(ok);
        g_assert_error(error, FP_ERROR, FP_ERROR_HOST);
        assert_contains(MSG(error), "of 10 MiB");
    } else {
        g_assert_true(ok);
        g_assert_no_error(error);
        g_assert_cmpuint((guint64)st.st_size, ==, size);
        g_assert_cmpuint((guint64)st.st_blocks * 512, ==, size);
        g_assert_true(pool_mem_verify_zero(fd, size, 2 * MIB, &node, &error));
        g_assert_no_error(error);
        if (c->node >= 0 || !g_file_test("/sys/devices/system/node/node1", G_FILE_TEST_EXISTS))
            g_assert_cmpint(node, ==, 0);
    }
    close(fd);
    g_assert_cmpint(unlink(path), ==, 0);
    if (c->small_mount)
        g_assert_cmpint(umount(small), ==, 0);
}

/* ---- who uses a slot, from a procfs made here (no hugepages needed) ---- */

typedef struct {
    const char *name;
    const char *pid_ns; /* self/ns/pid's target; NULL: no self at all */
    const char *maps;   /* 4242/maps; NULL: a directory there (unreadable); "LONG": see below */
    int want_pid;       /* the user found */
    gboolean want_untold;
    const char *want_why; /* substring, or NULL for none */
} UsersCase;

#define INIT_NS "pid:[4026531836]"
static const UsersCase users_cases[] = {
    /* A 4 KB mapped path whose tail reads as a record: read whole, it is one line. */
    {"long-path-line", INIT_NS, "LONG", 0, FALSE, NULL},
    {"line-cut-short", INIT_NS, "7f0000000000-7f0000200000 rw-s 00000000 00:2f 4242 /x", 0, FALSE,
     NULL},
    {"mapped", INIT_NS, "7f0000000000-7f0000200000 rw-s 00000000 00:2f 4242 /pool/slot-1\n", 4242,
     FALSE, NULL},
    {"maps-unreadable", INIT_NS, NULL, 0, TRUE, "/4242/maps: Is a directory"},
    {"other-pid-namespace", "pid:[4026532999]", "", 0, TRUE, "not the host's PID namespace"},
    {"empty-directory", NULL, "", 0, TRUE, "/self/ns/pid: No such file or directory"},
};

static void
put_file(const char *path, const char *text)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(g_file_set_contents(path, text, -1, &error));
    g_assert_no_error(error);
}

static void
test_users(Fixture *f, gconstpointer data)
{
    const UsersCase *c = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *proc = g_dir_make_tmp("fp-test-proc-XXXXXX", &error);
    g_autofree char *pid = g_build_filename(proc, "4242", NULL);
    g_autofree char *maps = g_build_filename(pid, "maps", NULL);
    g_autofree char *fd = g_build_filename(pid, "fd", NULL);
    g_autofree char *absent = g_build_filename(proc, "no-such-slot", NULL);
    const char *names[] = {absent};
    struct stat st = {.st_dev = makedev(0, 0x2f), .st_ino = 4242};
    PoolUse use;

    g_assert_no_error(error);
    g_assert_cmpint(g_mkdir(pid, 0755), ==, 0);
    g_assert_cmpint(g_mkdir(fd, 0755), ==, 0);
    if (c->pid_ns) {
        g_autofree char *ns = g_build_filename(proc, "self", "ns", NULL);
        g_autofree char *link = g_build_filename(ns, "pid", NULL);

        g_assert_cmpint(g_mkdir_with_parents(ns, 0755), ==, 0);
        g_assert_cmpint(symlink(c->pid_ns, link), ==, 0);
    }
    if (!c->maps) {
        g_assert_cmpint(g_mkdir(maps, 0755), ==, 0);
    } else if (!strcmp(c->maps, "LONG")) {
        /* A 4096-byte fgets() would stop 4095 bytes in and read the rest as the next line:
         * "X Y Z 0:2f 4242", i.e. device 0:2f, inode 4242. */
        const char *head = "7f0000000000-7f0000200000 r--s 00000000 00:05 123 /tmp/";
        g_autoptr(GString) line = g_string_new(head);

        while (line->len < 4095)
            g_string_append_c(line, 'a');
        g_string_append(line, "X Y Z 0:2f 4242\n");
        put_file(maps, line->str);
    } else {
        put_file(maps, c->maps);
    }

    pool_file_users(proc, AT_FDCWD, names, &st, 1, &use);
    g_assert_cmpint(use.pid, ==, c->want_pid);
    g_assert_cmpint(use.untold, ==, c->want_untold);
    if (c->want_why)
        assert_contains(use.why, c->want_why);
    else
        g_assert_null(use.why);
    pool_use_clear(&use, 1);
    rm_rf(proc);
}

/* This process's own mapping of a pool file is found by the kernel's answer (the procfs scan
 * skips this process, as it would miss one in another PID namespace). */
static void
test_users_open_elsewhere(Fixture *f, gconstpointer data)
{
    const guint64 size = 2 * MIB;
    g_autoptr(GError) error = NULL;
    g_autoptr(FpSlot) a = NULL;
    g_autoptr(FpPoolStatus) st = NULL;
    const FpSlot *s;
    void *m;
    int fd;

    fill_ok(f, -1, size, 1);
    a = fp_pool_claim(&f->o, -1, size, owner[0], &error);
    REQUIRE(a);
    fd = open(a->path, O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    REQUIRE(m != MAP_FAILED);
    st = fp_pool_status(&f->o, &error);
    g_assert_no_error(error);
    REQUIRE(st && st->slots->len == 1);
    s = g_ptr_array_index(st->slots, 0);
    g_assert_cmpint(s->user, ==, 0);
    assert_contains(s->user_unknown, "open in a process procfs does not name");
    munmap(m, size);
    g_clear_pointer(&st, fp_pool_status_free);
    st = fp_pool_status(&f->o, &error);
    REQUIRE(st && st->slots->len == 1);
    s = g_ptr_array_index(st->slots, 0);
    g_assert_null(s->user_unknown);
}

int
main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    g_test_set_nonfatal_assertions();
    env_setup();
    signal(SIGABRT, on_abort);
    signal(SIGSEGV, on_abort);
    signal(SIGBUS, on_abort);

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
#define ADD_TABLE(prefix, table, fn)                                                               \
    for (gsize i = 0; i < G_N_ELEMENTS(table); i++) {                                              \
        g_autofree char *path = g_strdup_printf(prefix "/%s", table[i].name);                      \
        g_test_add(path, Fixture, &table[i], fixture_setup, fn, fixture_teardown);                 \
    }
    ADD("/pool/cycle", test_cycle);
    ADD("/pool/security/pattern-then-zeros", test_pattern_then_zeros);
    ADD_TABLE("/pool/fault", fault_cases, test_fault);
    ADD("/pool/race/claimers", test_race);
    ADD_TABLE("/pool/not-hugetlbfs", not_huge_cases, test_not_hugetlbfs);
    ADD_TABLE("/pool/input", input_cases, test_input);
    ADD("/pool/node", test_node);
    ADD("/pool/absent", test_absent_pool);
    ADD("/pool/drain", test_drain);
    ADD("/pool/capacity/mount-limit", test_capacity_mount_limit);
    ADD("/pool/capacity/reserve-no-grow", test_capacity_reserve_no_grow);
    ADD("/pool/capacity/reserve-grow", test_capacity_reserve_grow);
    ADD("/pool/capacity/scrub-cannot-refill", test_capacity_scrub_cannot_refill);
    ADD_TABLE("/pool/verify", verify_cases, test_verify);
    ADD_TABLE("/pool/allocate", alloc_cases, test_allocate);
    ADD_TABLE("/pool/users", users_cases, test_users);
    ADD("/pool/users/open-elsewhere", test_users_open_elsewhere);
#undef ADD
#undef ADD_TABLE
    if (env.why_not) {
        /* The whole program, not case by case: ctest then shows it as skipped, with the reason. */
        g_print("SKIP: %s\n", env.why_not);
        env_teardown();
        return 77;
    }
    rc = g_test_run();
    env_teardown();
    return rc;
}
