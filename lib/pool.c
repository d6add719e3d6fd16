/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pool's slots as names in a directory: parsing them, listing, claim and release (the calls
 * the hook and the QEMU wrapper make: each one rename, no lock, returns at once). */
#define _GNU_SOURCE
#include "pool-private.h"

#include "error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define HUGETLBFS_MAGIC 0x958458f6

static const char *const state_suffix[] = {
    [POOL_NAME_CLEAN] = "clean",         [POOL_NAME_CLAIMED] = "claimed",
    [POOL_NAME_ORPHAN] = "claimed",      [POOL_NAME_DIRTY] = "dirty",
    [POOL_NAME_SCRUBBING] = "scrubbing", [POOL_NAME_FILLING] = "filling",
};

const char *
fp_slot_state_name(FpSlotState state)
{
    switch (state) {
    case FP_SLOT_CLEAN:
        return "clean";
    case FP_SLOT_CLAIMED:
        return "claimed";
    case FP_SLOT_DIRTY:
        return "dirty";
    case FP_SLOT_SCRUBBING:
        return "scrubbing";
    }
    return "unknown";
}

char *
fp_pool_size_text(guint64 size)
{
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    guint u = 0;

    while (u + 1 < G_N_ELEMENTS(unit) && size && size % 1024 == 0) {
        size /= 1024;
        u++;
    }
    return g_strdup_printf("%" G_GUINT64_FORMAT " %s", size, unit[u]);
}

gboolean
fp_pool_owner_valid(const char *owner)
{
    static const int group_len[] = {8, 4, 4, 4, 12};
    const char *p = owner;

    if (!owner || strlen(owner) != 36)
        return FALSE;
    for (gsize g = 0; g < G_N_ELEMENTS(group_len); g++) {
        for (int i = 0; i < group_len[g]; i++, p++) {
            if (!g_ascii_isxdigit(*p))
                return FALSE;
        }
        if (g + 1 < G_N_ELEMENTS(group_len) && *p++ != '-')
            return FALSE;
    }
    return *p == '\0';
}

char *
pool_base_format(guint num, int node, guint64 size, guint64 grown)
{
    g_autofree char *n = node >= 0 ? g_strdup_printf("%d", node) : g_strdup("any");

    return g_strdup_printf("slot-%04u.n%s.s%" G_GUINT64_FORMAT ".g%" G_GUINT64_FORMAT, num, n, size,
                           grown);
}

void
pool_entry_free(PoolEntry *e)
{
    if (!e)
        return;
    g_free(e->name);
    g_free(e->base);
    g_free(e->id);
    g_free(e->owner);
    g_free(e);
}

static gboolean
parse_u64(const char *s, char prefix, guint64 max, guint64 *out)
{
    return s[0] == prefix && g_ascii_string_to_unsigned(s + 1, 10, 0, max, out, NULL);
}

PoolEntry *
pool_entry_parse(const char *name)
{
    g_auto(GStrv) part = NULL;
    g_autoptr(PoolEntry) e = NULL;
    guint64 num, node = 0, size, grown;
    guint n;

    if (!g_str_has_prefix(name, "slot-"))
        return NULL;
    e = g_new0(PoolEntry, 1);
    e->name = g_strdup(name);
    e->node = -1;
    e->nstate = POOL_NAME_ODD;
    part = g_strsplit(name, ".", 7);
    n = g_strv_length(part);
    e->id = g_strdup(part[0]);
    if (!g_ascii_string_to_unsigned(part[0] + 5, 10, 1, 999999999, &num, NULL))
        return g_steal_pointer(&e);
    e->num = (guint)num;
    if (n < 5 || n > 6 || !parse_u64(part[2], 's', G_MAXINT64, &size) || !size ||
        !parse_u64(part[3], 'g', G_MAXUINT32, &grown) ||
        (strcmp(part[1], "nany") != 0 && !parse_u64(part[1], 'n', 1023, &node)))
        return g_steal_pointer(&e);
    e->node = strcmp(part[1], "nany") == 0 ? -1 : (int)node;
    e->size = size;
    e->grown = grown;
    e->base = pool_base_format(e->num, e->node, size, grown);
    /* Only the spelling this code writes: "slot-3", "s01" or "n+0" are someone else's files. */
    if (!g_str_has_prefix(name, e->base) || name[strlen(e->base)] != '.') {
        g_clear_pointer(&e->base, g_free);
        e->node = -1;
        return g_steal_pointer(&e);
    }
    if (n == 6) {
        if (strcmp(part[4], "claimed") == 0)
            e->nstate = fp_pool_owner_valid(part[5]) ? POOL_NAME_CLAIMED : POOL_NAME_ORPHAN;
        if (e->nstate == POOL_NAME_CLAIMED)
            e->owner = g_ascii_strdown(part[5], -1);
        return g_steal_pointer(&e);
    }
    for (gsize s = 0; s < G_N_ELEMENTS(state_suffix); s++) {
        if (state_suffix[s] && strcmp(part[4], state_suffix[s]) == 0)
            e->nstate = s == POOL_NAME_CLAIMED ? POOL_NAME_ORPHAN : (PoolNameState)s;
    }
    return g_steal_pointer(&e);
}

static gint
entry_cmp(gconstpointer a, gconstpointer b)
{
    const PoolEntry *x = *(PoolEntry *const *)a, *y = *(PoolEntry *const *)b;

    /* Names that do not parse (num 0) after the pool's own. */
    guint xn = x->num ? x->num : G_MAXUINT, yn = y->num ? y->num : G_MAXUINT;

    if (xn != yn)
        return xn < yn ? -1 : 1;
    return strcmp(x->name, y->name);
}

DIR *
pool_opendir(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

    if (!d && fd >= 0) {
        int e = errno;

        close(fd);
        errno = e;
    }
    return d;
}

GPtrArray *
pool_scan(int dfd, const char *dir, GError **error)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)pool_entry_free);
    DIR *d;
    struct dirent *de;

    /* ls $DIR */
    if (!(d = pool_opendir(dfd, "."))) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot list %s: %s", dir, g_strerror(errno));
        return NULL;
    }
    while ((errno = 0, de = readdir(d))) {
        PoolEntry *e = pool_entry_parse(de->d_name);

        if (e)
            g_ptr_array_add(out, e);
    }
    if (errno) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot list %s: %s", dir, g_strerror(errno));
        closedir(d);
        return NULL;
    }
    closedir(d);
    g_ptr_array_sort(out, entry_cmp);
    return g_steal_pointer(&out);
}

static void
not_hugetlbfs(const char *path, const struct statfs *sf, GError **error)
{
    g_set_error(
        error, FP_ERROR, FP_ERROR_HOST,
        "%s is not on hugetlbfs (it is on %s): mount one first, e.g. `mount -t hugetlbfs none %s`",
        path, pool_fs_name((long)sf->f_type), path);
}

/* The pool holds every tenant's memory: root's directory, written by root alone, listed by
 * nobody else (0711: QEMU's user reaches its own slot by name). An older 0755 one is closed. */
static gboolean
pool_dir_trusted(int dfd, const char *dir, GError **error)
{
    struct stat st;

    if (fstat(dfd, &st) < 0 || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        g_set_error(error, FP_ERROR, FP_ERROR_REFUSED,
                    "pool directory %s is not root's alone (uid %u, mode %04o): refusing it", dir,
                    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return FALSE;
    }
    /* chmod 0711 $DIR */
    if (geteuid() == 0 && (st.st_mode & 07777) != 0711 && fchmod(dfd, 0711) < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot chmod 0711 %s: %s", dir,
                    g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

int
pool_open_dir(const FpPoolOptions *o, gboolean create, guint64 *page_bytes, gboolean *absent,
              GError **error)
{
    const char *dir = o->dir && *o->dir ? o->dir : FP_POOL_DEFAULT_DIR;
    struct statfs sf;
    int dfd;

    *absent = FALSE;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0 && errno == ENOENT) {
        g_autofree char *parent = g_path_get_dirname(dir);

        /* stat -f -c %T $(dirname $DIR)   (an absent pool is fine where one can be made) */
        if (statfs(parent, &sf) < 0) {
            g_set_error(error, FP_ERROR, FP_ERROR_HOST,
                        "pool directory %s does not exist, nor does %s (%s)", dir, parent,
                        g_strerror(errno));
            return -1;
        }
        if (sf.f_type != HUGETLBFS_MAGIC) {
            not_hugetlbfs(parent, &sf, error);
            g_prefix_error(error, "pool directory %s does not exist and ", dir);
            return -1;
        }
        *page_bytes = (guint64)sf.f_bsize;
        if (!create) {
            *absent = TRUE;
            return -1;
        }
        /* mkdir -m 0711 $DIR   (QEMU's user may reach its own slot by name, never list others) */
        if (mkdir(dir, 0711) < 0 && errno != EEXIST) {
            g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot create pool directory %s: %s", dir,
                        g_strerror(errno));
            return -1;
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (dfd < 0 && geteuid() != 0 && errno == EACCES)
        dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC); /* QEMU's user: 0711 */
    if (dfd < 0) {
        g_set_error(error, FP_ERROR, errno == ENOTDIR ? FP_ERROR_INPUT : FP_ERROR_IO,
                    "pool directory %s: %s", dir, g_strerror(errno));
        return -1;
    }
    /* stat -f -c %T $DIR   (hugetlbfs, or QEMU's prealloc would fault in ordinary pages) */
    if (fstatfs(dfd, &sf) < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "pool directory %s: %s", dir, g_strerror(errno));
        close(dfd);
        return -1;
    }
    if (sf.f_type != HUGETLBFS_MAGIC) {
        not_hugetlbfs(dir, &sf, error);
        close(dfd);
        return -1;
    }
    if (!pool_dir_trusted(dfd, dir, error)) {
        close(dfd);
        return -1;
    }
    *page_bytes = (guint64)sf.f_bsize;
    return dfd;
}

gboolean
pool_lock(int dfd, const char *dir, GError **error)
{
    /* flock $DIR   (fill, scrub and drain, one at a time; claim and release need no lock) */
    while (flock(dfd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot lock pool %s: %s", dir,
                        g_strerror(errno));
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
pool_lock_free(int dfd)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    gboolean free_now;

    if (fd < 0)
        return FALSE;
    free_now = flock(fd, LOCK_SH | LOCK_NB) == 0;
    close(fd);
    return free_now;
}

char *
pool_claim_link_name(const char *owner)
{
    return g_strdup_printf("claim-%s", owner);
}

gboolean
pool_claim_link_is(int dfd, const PoolEntry *e, const struct stat *st)
{
    g_autofree char *link = NULL;
    struct stat lst;

    if (e->nstate != POOL_NAME_CLAIMED)
        return FALSE;
    link = pool_claim_link_name(e->owner);
    return fstatat(dfd, link, &lst, AT_SYMLINK_NOFOLLOW) == 0 && lst.st_dev == st->st_dev &&
           lst.st_ino == st->st_ino;
}

gboolean
pool_taken_back(const PoolEntry *e, const struct stat *st)
{
    return e->nstate == POOL_NAME_CLAIMED && st->st_uid == 0 && (st->st_mode & 07777) == 0;
}

char *
pool_entry_problem(int dfd, const PoolEntry *e)
{
    struct stat st;

    if (fstatat(dfd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return g_strdup_printf("cannot be examined: %s", g_strerror(errno));
    if (!S_ISREG(st.st_mode))
        return g_strdup("not a regular file");
    if (!e->base)
        return g_strdup("a name the pool did not write");
    if ((guint64)st.st_size != e->size)
        return g_strdup_printf("truncated under the pool: %" G_GUINT64_FORMAT
                               " of %" G_GUINT64_FORMAT " bytes",
                               (guint64)st.st_size, e->size);
    /* st_blocks counts the hugepages present: a hole would be faulted in, slowly, by QEMU. */
    if ((guint64)st.st_blocks * 512 < e->size)
        return g_strdup_printf("only %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                               " bytes allocated (punched?)",
                               (guint64)st.st_blocks * 512, e->size);
    if (st.st_nlink != 1 && !(st.st_nlink == 2 && pool_claim_link_is(dfd, e, &st)))
        return g_strdup_printf("has %lu links", (unsigned long)st.st_nlink);
    if (pool_taken_back(e, &st))
        return g_strdup("taken back from QEMU by a release that did not finish; counts as dirty");
    return NULL;
}

gboolean
pool_rename(int dfd, const char *dir, const char *from, const char *to, gboolean noreplace,
            GError **error)
{
    /* mv [--no-clobber] $DIR/$FROM $DIR/$TO   (atomic: the one record of a slot's state) */
    if (renameat2(dfd, from, dfd, to, noreplace ? RENAME_NOREPLACE : 0) < 0) {
        g_set_error(error, FP_ERROR,
                    errno == ENOENT || errno == EEXIST ? FP_ERROR_REFUSED : FP_ERROR_IO,
                    "cannot rename %s/%s to %s: %s", dir, from, to, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

void
fp_slot_free(FpSlot *s)
{
    if (!s)
        return;
    g_free(s->id);
    g_free(s->path);
    g_free(s->owner);
    g_free(s->problem);
    g_free(s->user_unknown);
    g_free(s);
}

static FpSlot *
slot_new(const char *dir, const PoolEntry *e, guint64 page_bytes)
{
    FpSlot *s = g_new0(FpSlot, 1);

    s->id = g_strdup(e->id);
    s->path = g_build_filename(dir, e->name, NULL);
    s->node = e->node;
    s->page_kib = page_bytes / 1024;
    s->size = e->size;
    s->owner = g_strdup(e->owner);
    return s;
}

const char *
pool_dir_name(const FpPoolOptions *o)
{
    return o->dir && *o->dir ? o->dir : FP_POOL_DEFAULT_DIR;
}

GPtrArray *
fp_pool_list(const FpPoolOptions *o, GError **error)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)fp_slot_free);
    g_autoptr(GPtrArray) entries = NULL;
    guint64 page_bytes = 0;
    gboolean absent, idle;
    int dfd = pool_open_dir(o, FALSE, &page_bytes, &absent, error);

    if (dfd < 0)
        return absent ? g_steal_pointer(&out) : NULL;
    entries = pool_scan(dfd, pool_dir_name(o), error);
    if (!entries) {
        close(dfd);
        return NULL;
    }
    idle = pool_lock_free(dfd);
    for (guint i = 0; i < entries->len; i++) {
        const PoolEntry *e = g_ptr_array_index(entries, i);
        FpSlot *s = slot_new(pool_dir_name(o), e, page_bytes);
        g_autofree char *problem = pool_entry_problem(dfd, e);

        if (!e->base) {
            struct stat st;

            if (fstatat(dfd, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                s->size = (guint64)st.st_size;
        }
        switch (e->nstate) {
        case POOL_NAME_CLEAN:
            s->state = problem ? FP_SLOT_DIRTY : FP_SLOT_CLEAN;
            s->problem = g_steal_pointer(&problem);
            break;
        case POOL_NAME_CLAIMED: {
            struct stat st;

            s->state =
                fstatat(dfd, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && pool_taken_back(e, &st)
                    ? FP_SLOT_DIRTY
                    : FP_SLOT_CLAIMED;
            s->problem = g_steal_pointer(&problem);
            break;
        }
        case POOL_NAME_ORPHAN:
            s->state = FP_SLOT_DIRTY;
            s->problem = g_strdup(
                "claimed without an owner (a claim that never completed); counts as dirty");
            break;
        case POOL_NAME_DIRTY:
            s->state = FP_SLOT_DIRTY;
            break;
        case POOL_NAME_SCRUBBING:
        case POOL_NAME_FILLING:
            s->state = FP_SLOT_SCRUBBING;
            if (idle)
                s->problem = g_strdup_printf("%s interrupted; counts as dirty until the next scrub",
                                             e->nstate == POOL_NAME_FILLING ? "fill" : "scrub");
            break;
        case POOL_NAME_ODD:
            s->state = FP_SLOT_DIRTY;
            s->problem = g_strdup(e->base ? "unknown state; counts as dirty"
                                          : "a name the pool did not write; "
                                            "scrub removes it");
            break;
        }
        g_ptr_array_add(out, s);
    }
    close(dfd);
    return g_steal_pointer(&out);
}

FpSlot *
fp_pool_claim(const FpPoolOptions *o, int node, guint64 size, const char *owner, GError **error)
{
    g_autoptr(GPtrArray) entries = NULL;
    g_autofree char *who = NULL;
    guint64 page_bytes = 0;
    guint clean = 0, dirty = 0, claimed = 0, broken = 0;
    gboolean absent;
    int dfd;

    if (!fp_pool_owner_valid(owner)) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "owner '%s' is not a domain UUID",
                    owner ? owner : "(null)");
        return NULL;
    }
    if (node < -1 || node > 1023 || !size) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "a claim needs a size and a node of -1..1023");
        return NULL;
    }
    who = g_ascii_strdown(owner, -1);
    dfd = pool_open_dir(o, FALSE, &page_bytes, &absent, error);
    if (dfd < 0) {
        if (absent)
            g_set_error(error, FP_ERROR, FP_ERROR_HOST,
                        "no clean slot: the pool %s has not been filled", pool_dir_name(o));
        return NULL;
    }
    entries = pool_scan(dfd, pool_dir_name(o), error);
    for (guint i = 0; entries && i < entries->len; i++) {
        const PoolEntry *e = g_ptr_array_index(entries, i);
        g_autofree char *to = NULL, *problem = NULL, *dirty_name = NULL;
        g_autoptr(GError) lost = NULL;
        FpSlot *s;

        if (e->nstate == POOL_NAME_CLAIMED)
            claimed++;
        else if (e->nstate != POOL_NAME_CLEAN)
            dirty++;
        if (e->nstate != POOL_NAME_CLEAN || e->size != size || (node >= 0 && e->node != node))
            continue;
        clean++;
        /* The claim itself: of two claimers only one rename finds the clean name. */
        to = g_strdup_printf("%s.claimed.%s", e->base, who);
        if (!pool_rename(dfd, pool_dir_name(o), e->name, to, TRUE, &lost)) {
            if (g_error_matches(lost, FP_ERROR, FP_ERROR_REFUSED))
                continue;
            g_propagate_error(error, g_steal_pointer(&lost));
            close(dfd);
            return NULL;
        }
        {
            PoolEntry mine = *e;

            mine.name = to;
            problem = pool_entry_problem(dfd, &mine);
        }
        if (problem) {
            /* Ours now, and no use: dirty, so the next scrub rebuilds it. */
            dirty_name = g_strdup_printf("%s.dirty", e->base);
            pool_rename(dfd, pool_dir_name(o), to, dirty_name, FALSE, NULL);
            broken++;
            continue;
        }
        s = slot_new(pool_dir_name(o), e, page_bytes);
        g_free(s->path);
        s->path = g_build_filename(pool_dir_name(o), to, NULL);
        s->state = FP_SLOT_CLAIMED;
        s->owner = g_strdup(who);
        close(dfd);
        return s;
    }
    close(dfd);
    if (!entries)
        return NULL;
    {
        g_autofree char *where = node >= 0 ? g_strdup_printf(" on node %d", node) : g_strdup("");
        g_autofree char *human = fp_pool_size_text(size);

        g_set_error(error, FP_ERROR, FP_ERROR_HOST,
                    "no clean %s slot%s in %s (%u claimed, %u dirty or being scrubbed%s)", human,
                    where, pool_dir_name(o), claimed, dirty,
                    broken ? "; a clean one was found broken and turned dirty" : "");
    }
    return NULL;
}

char *
fp_pool_claimed_path(const FpPoolOptions *o, const char *owner, guint64 size)
{
    return fp_pool_usable_claim(o, owner, size, NULL);
}

char *
fp_pool_usable_claim(const FpPoolOptions *o, const char *owner, guint64 size, GError **error)
{
    g_autoptr(GPtrArray) entries = NULL;
    g_autofree char *who = NULL;
    guint64 page_bytes;
    gboolean absent;
    int dfd;

    if (!fp_pool_owner_valid(owner))
        return NULL;
    who = g_ascii_strdown(owner, -1);
    dfd = pool_open_dir(o, FALSE, &page_bytes, &absent, NULL);
    if (dfd < 0)
        return NULL;
    {
        /* stat $DIR/claim-$UUID   (QEMU's user cannot list the pool: the hook gave it the slot
         * under this second name, which it can reach without knowing the slot's) */
        g_autofree char *link = pool_claim_link_name(who);
        const char *why = NULL;
        struct stat st;
        int fd = -1;

        if (fstatat(dfd, link, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (!S_ISREG(st.st_mode))
                why = "not a regular file";
            else if (size && (guint64)st.st_size != size)
                why = "not the guest's RAM size";
            else if ((guint64)st.st_blocks * 512 < (guint64)st.st_size)
                why = "not fully allocated";
            else if ((st.st_mode & 07777) == 0)
                why = "taken back by a release";
            else if (geteuid() != 0 && (st.st_uid != geteuid() || (st.st_mode & 0600) != 0600))
                why = "not given to this user";
            /* QEMU will open it as this process: a confinement (AppArmor) that refuses it must
             * be found now, while QEMU can still allocate its memory itself. */
            else if ((fd = openat(dfd, link, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0)
                why = g_strerror(errno);
            if (why) {
                g_set_error(error, FP_ERROR, FP_ERROR_REFUSED, "cannot use the slot %s/%s: %s",
                            pool_dir_name(o), link, why);
                close(dfd);
                return NULL;
            }
            close(fd);
            close(dfd);
            return g_build_filename(pool_dir_name(o), link, NULL);
        }
    }
    entries = pool_scan(dfd, pool_dir_name(o), NULL);
    for (guint i = 0; entries && i < entries->len; i++) {
        const PoolEntry *e = g_ptr_array_index(entries, i);
        g_autofree char *problem = NULL;

        if (e->nstate != POOL_NAME_CLAIMED || strcmp(e->owner, who) || (size && e->size != size))
            continue;
        problem = pool_entry_problem(dfd, e);
        if (problem)
            continue;
        close(dfd);
        return g_build_filename(pool_dir_name(o), e->name, NULL);
    }
    close(dfd);
    return NULL;
}

/* chown UID:GID NAME; chmod MODE NAME, on the file itself: opened without following a symlink
 * (hugetlbfs has them) and checked to be a regular file, so neither call can reach anything
 * but the slot, whoever made the name. ENOENT: FP_ERROR_REFUSED (renamed meanwhile). */
static gboolean
set_owner(int dfd, const char *dir, const char *name, uid_t uid, gid_t gid, mode_t mode,
          GError **error)
{
    struct stat st;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    int err;

    if (fd < 0) {
        err = errno;
        g_set_error(error, FP_ERROR, err == ENOENT ? FP_ERROR_REFUSED : FP_ERROR_IO,
                    "cannot open %s/%s: %s", dir, name, g_strerror(err));
        return FALSE;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "%s/%s is not a regular file", dir, name);
        close(fd);
        return FALSE;
    }
    if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0) {
        err = errno;
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot chown %u:%u / chmod %04o %s/%s: %s",
                    (unsigned)uid, (unsigned)gid, (unsigned)mode, dir, name, g_strerror(err));
        close(fd);
        return FALSE;
    }
    close(fd);
    return TRUE;
}

gboolean
pool_take_back(int dfd, const char *dir, const PoolEntry *e, GError **error)
{
    g_autofree char *link = NULL;
    struct stat st;

    /* chown root:root $SLOT; chmod 0000 $SLOT   (before the rename: a dirty slot is never
     * QEMU's for a moment; mode 0000 marks a release that a crash cut short as dirty) */
    if (!set_owner(dfd, dir, e->name, 0, 0, 0, error)) {
        g_prefix_error(error, "cannot take %s back: ", e->id);
        return FALSE;
    }
    /* rm $DIR/claim-$UUID   (QEMU's way to the slot, when it is this slot's second name) */
    link = pool_claim_link_name(e->owner);
    if (fstatat(dfd, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && pool_claim_link_is(dfd, e, &st))
        unlinkat(dfd, link, 0);
    return TRUE;
}

gboolean
fp_pool_release(const FpPoolOptions *o, const char *owner, GError **error)
{
    g_autoptr(GPtrArray) entries = NULL;
    g_autofree char *who = NULL;
    guint64 page_bytes;
    gboolean absent, ok = TRUE;
    int dfd;

    if (!fp_pool_owner_valid(owner)) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "owner '%s' is not a domain UUID",
                    owner ? owner : "(null)");
        return FALSE;
    }
    who = g_ascii_strdown(owner, -1);
    dfd = pool_open_dir(o, FALSE, &page_bytes, &absent, error);
    if (dfd < 0)
        return absent;
    entries = pool_scan(dfd, pool_dir_name(o), error);
    if (!entries) {
        close(dfd);
        return FALSE;
    }
    for (guint i = 0; i < entries->len; i++) {
        const PoolEntry *e = g_ptr_array_index(entries, i);
        g_autofree char *to = NULL;
        g_autoptr(GError) failed = NULL;

        if (e->nstate != POOL_NAME_CLAIMED || strcmp(e->owner, who))
            continue;
        if (!pool_take_back(dfd, pool_dir_name(o), e, &failed)) {
            if (!g_error_matches(failed, FP_ERROR, FP_ERROR_REFUSED) && ok) {
                g_propagate_error(error, g_steal_pointer(&failed));
                ok = FALSE;
            }
            continue;
        }
        /* rm $DIR/claim-$UUID   (whatever it names now: this owner's claims all go) */
        {
            g_autofree char *link = pool_claim_link_name(who);

            unlinkat(dfd, link, 0);
        }
        /* Replacing a leftover .dirty of the same slot is fine: both are dirty. */
        to = g_strdup_printf("%s.dirty", e->base);
        if (!pool_rename(dfd, pool_dir_name(o), e->name, to, FALSE, &failed) &&
            !g_error_matches(failed, FP_ERROR, FP_ERROR_REFUSED) && ok) {
            g_propagate_error(error, g_steal_pointer(&failed));
            ok = FALSE;
        }
    }
    close(dfd);
    return ok;
}

gboolean
fp_pool_give(const FpPoolOptions *o, const FpSlot *slot, uid_t uid, gid_t gid, GError **error)
{
    g_autofree char *name = g_path_get_basename(slot->path);
    g_autofree char *link = NULL;
    g_autoptr(PoolEntry) e = pool_entry_parse(name);
    guint64 page_bytes;
    gboolean absent;
    int dfd;

    if (!e || e->nstate != POOL_NAME_CLAIMED) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s is not a claimed slot", slot->path);
        return FALSE;
    }
    if ((dfd = pool_open_dir(o, FALSE, &page_bytes, &absent, error)) < 0) {
        if (absent)
            g_set_error(error, FP_ERROR, FP_ERROR_HOST, "pool %s is gone", pool_dir_name(o));
        return FALSE;
    }
    link = pool_claim_link_name(e->owner);
    /* chown $UID:$GID $SLOT; chmod 0600 $SLOT   (on the file itself, never through a symlink) */
    if (!set_owner(dfd, pool_dir_name(o), name, uid, gid, 0600, error)) {
        g_prefix_error(error, "cannot give %s to uid %u: ", slot->path, (unsigned)uid);
        close(dfd);
        return FALSE;
    }
    /* ln -f $SLOT $DIR/claim-$UUID   (a second name QEMU's user can open by the UUID alone, a
     * hard link: QEMU's AppArmor rule names this path, and a symlink would be resolved to the
     * slot's own name, which the rule does not name) */
    if ((unlinkat(dfd, link, 0) < 0 && errno != ENOENT) || linkat(dfd, name, dfd, link, 0) < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot give %s to uid %u: %s", slot->path,
                    (unsigned)uid, g_strerror(errno));
        close(dfd);
        return FALSE;
    }
    close(dfd);
    return TRUE;
}

gboolean
fp_pool_page_kib(const FpPoolOptions *o, guint64 *page_kib, GError **error)
{
    guint64 page_bytes = 0;
    gboolean absent;
    int dfd = pool_open_dir(o, FALSE, &page_bytes, &absent, error);

    if (dfd < 0 && !absent)
        return FALSE;
    if (dfd >= 0)
        close(dfd);
    *page_kib = page_bytes / 1024;
    return TRUE;
}
