/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pool's slow work, off every VM's critical path and one at a time per pool (the directory
 * lock): fill (new slots), scrub (dirty -> clean) and drain (remove what is not claimed). */
#define _GNU_SOURCE
#include "pool-private.h"

#include "error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Holds the pool directory open and locked for one maintenance call. */
typedef struct {
    const FpPoolOptions *o;
    const char *dir;
    int dfd;
    guint64 page_bytes;
    GPtrArray *entries;
} Pool;

static void
pool_close(Pool *p)
{
    if (p->dfd >= 0)
        close(p->dfd);
    p->dfd = -1;
    g_clear_pointer(&p->entries, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Pool, pool_close)

/* FALSE with *ABSENT: nothing to do (the directory does not exist and CREATE was not asked). */
static gboolean
pool_begin(Pool *p, const FpPoolOptions *o, gboolean create, gboolean *absent, GError **error)
{
    gboolean none = FALSE;

    *p = (Pool){.o = o, .dir = pool_dir_name(o), .dfd = -1};
    p->dfd = pool_open_dir(o, create, &p->page_bytes, &none, error);
    if (absent)
        *absent = none;
    if (p->dfd < 0)
        return FALSE;
    if (!pool_lock(p->dfd, p->dir, error))
        return FALSE;
    /* Read under the lock: a .scrubbing or .filling seen now was left by a run that died. */
    p->entries = pool_scan(p->dfd, p->dir, error);
    return p->entries != NULL;
}

/* TRUE when NAME is gone, whoever removed it. For leftovers that record no hugepages. */
static gboolean
remove_entry(Pool *p, const char *name)
{
    /* rm $DIR/$NAME   (hugetlbfs frees the pages with the last reference; a directory someone
     * made under a slot's name goes too, if empty) */
    if (unlinkat(p->dfd, name, 0) == 0 || errno == ENOENT)
        return TRUE;
    return errno == EISDIR && unlinkat(p->dfd, name, AT_REMOVEDIR) == 0;
}

/* NAME, the record of GROWN hugepages the pool added on NODE, removed by this call, then those
 * pages given back: never while a name still counts them, and never for a name someone else
 * renamed away (a claim: ENOENT). */
static gboolean
drop_record(Pool *p, const char *name, int node, guint64 grown, GError **error)
{
    /* rm $DIR/$NAME   (rmdir for a directory someone made under a slot's name) */
    if (unlinkat(p->dfd, name, 0) < 0 &&
        (errno != EISDIR || unlinkat(p->dfd, name, AT_REMOVEDIR) < 0)) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot remove %s/%s: %s", p->dir, name,
                    g_strerror(errno));
        return FALSE;
    }
    return pool_capacity_give_back(p->o, node, p->page_bytes / 1024, grown, error);
}

static guint
next_num(const Pool *p)
{
    guint max = 0;

    for (guint i = 0; i < p->entries->len; i++)
        max = MAX(max, ((const PoolEntry *)g_ptr_array_index(p->entries, i))->num);
    return max + 1;
}

/* A slot's name, NUM NODE SIZE GROWN, in state SUFFIX. */
static char *
slot_name(guint num, int node, guint64 size, guint64 grown, const char *suffix)
{
    g_autofree char *base = pool_base_format(num, node, size, grown);

    return g_strdup_printf("%s.%s", base, suffix);
}

/* Makes the host hold the pages of slot NUM (NODE, SIZE), whose record *NAME (state SUFFIX)
 * counts *GROWN pages the pool added for it. Write-ahead: the pages the host lacks are added to
 * the name before nr_hugepages is raised, so a crash at any point leaves a name that counts
 * every page raised for it (at worst, one raise that never happened); then the name says what
 * the kernel supplied. *NAME and *GROWN follow. */
static gboolean
grow_slot(Pool *p, guint num, int node, guint64 size, const char *suffix, char **name,
          guint64 *grown, GError **error)
{
    PoolGrow plan;
    guint64 added = 0;
    g_autofree char *intent = NULL;
    gboolean ok;

    if (!pool_capacity_plan(p->o, p->dfd, node, p->page_bytes / 1024, size / p->page_bytes, &plan,
                            error))
        return FALSE;
    if (!plan.shortfall)
        return TRUE;
    /* mv $SLOT.g$GROWN.$SUFFIX $SLOT.g$((GROWN + SHORTFALL)).$SUFFIX   (intent first) */
    intent = slot_name(num, node, size, *grown + plan.shortfall, suffix);
    if (!pool_rename(p->dfd, p->dir, *name, intent, TRUE, error))
        return FALSE;
    g_free(*name);
    *name = g_steal_pointer(&intent);
    ok = pool_capacity_grow(p->o, &plan, &added, error);
    if (added != plan.shortfall) {
        /* mv ... $SLOT.g$((GROWN + ADDED)).$SUFFIX   (the kernel gave fewer, or none) */
        g_autofree char *actual = slot_name(num, node, size, *grown + added, suffix);

        if (!pool_rename(p->dfd, p->dir, *name, actual, TRUE, ok ? error : NULL)) {
            *grown += plan.shortfall; /* what the name still says */
            return FALSE;
        }
        g_free(*name);
        *name = g_steal_pointer(&actual);
    }
    *grown += added;
    return ok;
}

/* An empty new file NAME: the record of a slot being made, before any page is raised for it. */
static gboolean
create_name(Pool *p, const char *name, GError **error)
{
    /* touch $DIR/$SLOT.filling   (a new inode: no earlier tenant ever mapped it) */
    int fd = openat(p->dfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot create %s/%s: %s", p->dir, name,
                    g_strerror(errno));
        return FALSE;
    }
    close(fd);
    return TRUE;
}

/* The new file FILLING (from create_name) with every page allocated on NODE and zero: the only
 * way memory becomes a clean slot. *FOUND: the node the pages are on. The caller removes it on
 * failure. */
static gboolean
make_pages(Pool *p, const char *filling, guint64 size, int node, int *found, GError **error)
{
    int fd;
    gboolean ok;

    *found = -1;
    fd = openat(p->dfd, filling, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot open %s/%s: %s", p->dir, filling,
                    g_strerror(errno));
        return FALSE;
    }
    ok = pool_mem_allocate(fd, size, p->page_bytes, node, p->o->alloc_threads, error) &&
         pool_mem_verify_zero(fd, size, p->page_bytes, found, error);
    if (ok && node >= 0 && *found >= 0 && *found != node) {
        g_set_error(error, FP_ERROR, FP_ERROR_HOST, "its pages landed on node %d, not %d", *found,
                    node);
        ok = FALSE;
    }
    close(fd);
    return ok;
}

gboolean
fp_pool_fill(const FpPoolOptions *o, int node, guint64 size, guint count, GError **error)
{
    g_auto(Pool) p = {.dfd = -1};
    g_autoptr(GError) why = NULL;
    g_autofree char *human = fp_pool_size_text(size);
    FpPoolPages here;
    guint64 page_kib = 0;
    guint made = 0, num;

    if (node < -1 || node > 1023 || !size) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "fill needs a size and a node of -1..1023");
        return FALSE;
    }
    /* Input checked before the directory is made: bad input leaves nothing behind. */
    if (!fp_pool_page_kib(o, &page_kib, error))
        return FALSE;
    if (size % (page_kib * 1024)) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "%" G_GUINT64_FORMAT " bytes is not a whole number of the %" G_GUINT64_FORMAT
                    " KiB pages of %s",
                    size, page_kib, pool_dir_name(o));
        return FALSE;
    }
    if (node >= 0 && !fp_pool_host_pages(o, node, page_kib, &here, error))
        return FALSE;
    if (!pool_begin(&p, o, TRUE, NULL, error))
        return FALSE;
    num = next_num(&p);
    for (; made < count; made++, num++) {
        g_autofree char *filling = slot_name(num, node, size, 0, "filling"), *clean = NULL;
        guint64 grown = 0;
        int found;

        /* The name first, then the pages it counts, then the memory: a kill -9 at any step
         * leaves a .filling name that the next scrub rebuilds or removes, pages and all. */
        if (!create_name(&p, filling, &why))
            break;
        if (!grow_slot(&p, num, node, size, "filling", &filling, &grown, &why) ||
            !make_pages(&p, filling, size, node, &found, &why)) {
            drop_record(&p, filling, node, grown, NULL);
            break;
        }
        /* Unbound pages still went to some node: claims for that node can use them. */
        clean = slot_name(num, node >= 0 ? node : found, size, grown, "clean");
        /* mv $SLOT.filling $SLOT.clean */
        if (!pool_rename(p.dfd, p.dir, filling, clean, TRUE, &why)) {
            drop_record(&p, filling, node, grown, NULL);
            break;
        }
    }
    if (made < count) {
        g_autofree char *where = node >= 0 ? g_strdup_printf(" on node %d", node) : g_strdup("");

        g_set_error(error, FP_ERROR, why->domain == FP_ERROR ? why->code : FP_ERROR_IO,
                    "made %u of %u %s slots%s in %s, then stopped: %s", made, count, human, where,
                    p.dir, why->message);
        return FALSE;
    }
    return TRUE;
}

typedef enum {
    SCRUB_DONE,
    SCRUB_SKIPPED, /* a name of the listing is gone: claimed since, not the scrub's any more */
    SCRUB_FAILED,
} ScrubResult;

/* Rebuilds the slot of BASE from its dirty entries L: the old file's pages freed, a new file
 * allocated (zeroed by the kernel) and verified, the old file removed, the new one clean. A slot
 * that cannot be rebuilt is removed, and the hugepages the pool added for it given back once no
 * name counts them. */
static ScrubResult
scrub_one(Pool *p, GPtrArray *l, GError **error)
{
    const PoolEntry *e = g_ptr_array_index(l, 0), *primary = e;
    g_autofree char *scrubbing = g_strdup_printf("%s.scrubbing", e->base);
    g_autofree char *filling = NULL, *clean = NULL;
    g_autoptr(GError) why = NULL;
    guint64 page_kib = p->page_bytes / 1024, grown = e->grown;
    struct stat st;
    int fd, found;

    for (guint i = 0; i < l->len; i++) {
        const PoolEntry *x = g_ptr_array_index(l, i);

        if (x->nstate == POOL_NAME_SCRUBBING)
            primary = x;
    }
    /* mv $SLOT.dirty $SLOT.scrubbing   (a crash from here on leaves it to the next scrub) */
    if (primary->nstate != POOL_NAME_SCRUBBING &&
        !pool_rename(p->dfd, p->dir, primary->name, scrubbing, FALSE, &why)) {
        /* A .clean of the listing claimed since (ENOENT): the claimer's now, not ours. */
        if (g_error_matches(why, FP_ERROR, FP_ERROR_REFUSED))
            return SCRUB_SKIPPED;
        g_propagate_prefixed_error(error, g_steal_pointer(&why), "%s left dirty: ", e->id);
        return SCRUB_FAILED;
    }
    for (guint i = 0; i < l->len; i++) {
        const PoolEntry *x = g_ptr_array_index(l, i);

        if (x != primary)
            remove_entry(p, x->name);
    }
    if (e->size % p->page_bytes) {
        g_set_error(&why, FP_ERROR, FP_ERROR_HOST,
                    "its size is not a whole number of %" G_GUINT64_FORMAT " KiB pages", page_kib);
        goto removed;
    }
    fd = openat(p->dfd, scrubbing, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        g_set_error(&why, FP_ERROR, FP_ERROR_IO, "cannot open it: %s",
                    fd < 0 ? g_strerror(errno) : "not a file");
        if (fd >= 0)
            close(fd);
        goto removed;
    }
    /* The old pages go back first, so the rebuild needs no more hugepages than the slot had.
     * What a mapping of the old file would see after this: each page it touches faults a new,
     * zeroed page into the old inode (from the host's free hugepages, SIGBUS when none is free),
     * never the next tenant's memory, which goes into a new file. No guest meets that: the
     * caller skips any slot another process maps or holds open, and every slot at all when
     * procfs cannot show it every process of the host (pool-users.c). */
    if (!pool_mem_punch(fd, MAX((guint64)st.st_size, e->size), &why)) {
        close(fd);
        goto removed;
    }
    close(fd);
    if (!grow_slot(p, e->num, e->node, e->size, "scrubbing", &scrubbing, &grown, &why))
        goto removed;
    filling = slot_name(e->num, e->node, e->size, grown, "filling");
    remove_entry(p, filling);
    if (!create_name(p, filling, &why) || !make_pages(p, filling, e->size, e->node, &found, &why))
        goto removed;
    /* rm $SLOT.scrubbing   (the old inode leaves the pool; a crash now leaves .filling: redone) */
    remove_entry(p, scrubbing);
    clean = slot_name(e->num, e->node >= 0 ? e->node : found, e->size, grown, "clean");
    /* mv $SLOT.filling $SLOT.clean */
    if (!pool_rename(p->dfd, p->dir, filling, clean, TRUE, &why)) {
        g_clear_pointer(&scrubbing, g_free);
        goto removed;
    }
    return SCRUB_DONE;

removed:
    /* Every name of the slot but one goes; the last one's removal gives its pages back. */
    for (guint i = 0; i < l->len; i++)
        remove_entry(p, ((PoolEntry *)g_ptr_array_index(l, i))->name);
    if (filling && scrubbing)
        remove_entry(p, filling);
    {
        g_autoptr(GError) lost = NULL;

        if (!drop_record(p, scrubbing ? scrubbing : filling, e->node, grown, &lost)) {
            g_set_error(error, FP_ERROR, FP_ERROR_IO,
                        "%s could not be rebuilt (%s), nor removed: %s", e->id, why->message,
                        lost->message);
            return SCRUB_FAILED;
        }
    }
    g_set_error(error, FP_ERROR, why->domain == FP_ERROR ? why->code : FP_ERROR_IO,
                "%s removed: %s", e->id, why->message);
    return SCRUB_FAILED;
}

/* The pool's entries grouped by slot (base), in id order. A name this code never writes says
 * nothing about what it should be, so it is removed on the way. */
static GPtrArray *
group_by_slot(Pool *p)
{
    GPtrArray *groups = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
    g_autoptr(GHashTable) by_base = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < p->entries->len; i++) {
        PoolEntry *e = g_ptr_array_index(p->entries, i);
        GPtrArray *l;

        if (!e->base) {
            remove_entry(p, e->name);
            continue;
        }
        l = g_hash_table_lookup(by_base, e->base);
        if (!l) {
            l = g_ptr_array_new();
            g_hash_table_insert(by_base, e->base, l);
            g_ptr_array_add(groups, l);
        }
        g_ptr_array_add(l, e);
    }
    return groups;
}

static void
note_failure(GString *failures, guint *failed, const GError *e)
{
    if ((*failed)++ == 0)
        g_string_append(failures, e->message);
}

typedef gboolean (*EntryFilter)(const PoolEntry *e, const struct stat *st, gpointer data);

static void
use_free(gpointer data)
{
    PoolUse *u = data;

    pool_use_clear(u, 1);
    g_free(u);
}

/* Each entry KEEP accepts -> its PoolUse (a process that maps or holds its file open, or why
 * procfs could not tell): one pass over procfs, and none at all when KEEP accepts nothing. */
static GHashTable *
entry_users(Pool *p, EntryFilter keep, gpointer data)
{
    GHashTable *users = g_hash_table_new_full(NULL, NULL, NULL, use_free);
    g_autoptr(GArray) st = g_array_new(FALSE, FALSE, sizeof(struct stat));
    g_autoptr(GPtrArray) asked = g_ptr_array_new();
    g_autoptr(GPtrArray) names = NULL;
    g_autofree PoolUse *use = NULL;

    for (guint i = 0; i < p->entries->len; i++) {
        PoolEntry *e = g_ptr_array_index(p->entries, i);
        struct stat one;

        if (fstatat(p->dfd, e->name, &one, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(one.st_mode) &&
            keep(e, &one, data)) {
            g_array_append_val(st, one);
            g_ptr_array_add(asked, e);
        }
    }
    use = g_new0(PoolUse, MAX(asked->len, 1));
    names = g_ptr_array_sized_new(MAX(asked->len, 1));
    g_ptr_array_set_size(names, asked->len);
    for (guint i = 0; i < asked->len; i++)
        g_ptr_array_index(names, i) = ((PoolEntry *)g_ptr_array_index(asked, i))->name;
    pool_file_users(pool_proc_root(p->o), p->dfd, (const char *const *)names->pdata,
                    (struct stat *)(void *)st->data, asked->len, use);
    for (guint i = 0; i < asked->len; i++)
        g_hash_table_insert(users, g_ptr_array_index(asked, i), g_memdup2(&use[i], sizeof *use));
    return users;
}

static gboolean
to_scrub(const PoolEntry *e, const struct stat *st, gpointer data)
{
    return e->nstate != POOL_NAME_CLEAN && e->nstate != POOL_NAME_CLAIMED;
}

/* How one of the slot's files L is used (a named process first), NULL when none is. */
static const PoolUse *
slot_in_use(GHashTable *users, GPtrArray *l)
{
    const PoolUse *other = NULL;

    for (guint i = 0; i < l->len; i++) {
        const PoolUse *u = g_hash_table_lookup(users, g_ptr_array_index(l, i));

        if (u && u->pid)
            return u;
        if (u && u->why && (!other || (other->untold && !u->untold)))
            other = u;
    }
    return other;
}

/* Cannot tell whether a process uses it: counted and, the first time, said why. */
static void
note_unknown(GString *unknown, guint *n, const char *id, const char *why)
{
    if ((*n)++ == 0)
        g_string_append_printf(unknown, "%s (%s)", id, why);
}

gboolean
fp_pool_scrub(const FpPoolOptions *o, guint *scrubbed, guint *busy, GError **error)
{
    g_auto(Pool) p = {.dfd = -1};
    g_autoptr(GPtrArray) groups = NULL;
    g_autoptr(GHashTable) users = NULL;
    g_autoptr(GString) failures = g_string_new(NULL), unknown = g_string_new(NULL);
    gboolean absent;
    guint done = 0, failed = 0, in_use = 0, untold = 0;

    if (scrubbed)
        *scrubbed = 0;
    if (busy)
        *busy = 0;
    if (!pool_begin(&p, o, FALSE, &absent, error))
        return absent;
    /* Who uses the files that may be scrubbed: one pass over procfs. */
    users = entry_users(&p, to_scrub, NULL);
    groups = group_by_slot(&p);
    for (guint g = 0; g < groups->len; g++) {
        GPtrArray *l = g_ptr_array_index(groups, g);
        g_autoptr(GPtrArray) dirty = g_ptr_array_new();
        gboolean held = FALSE;
        const PoolUse *use;

        for (guint i = 0; i < l->len; i++) {
            PoolEntry *e = g_ptr_array_index(l, i);
            g_autofree char *problem = NULL;
            struct stat st;

            if (e->nstate == POOL_NAME_CLEAN &&
                fstatat(p.dfd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
                /* Clean when listed, gone now: claimed since. The claimer's, not the scrub's. */
                held = TRUE;
                continue;
            }
            problem = e->nstate == POOL_NAME_CLEAN ? pool_entry_problem(p.dfd, e) : NULL;
            if (e->nstate == POOL_NAME_CLAIMED || (e->nstate == POOL_NAME_CLEAN && !problem))
                held = TRUE;
            else
                g_ptr_array_add(dirty, e);
        }
        if (!dirty->len)
            continue;
        if (held) {
            /* Leftovers of a slot that is clean or claimed under its proper name. */
            for (guint i = 0; i < dirty->len; i++)
                remove_entry(&p, ((PoolEntry *)g_ptr_array_index(dirty, i))->name);
            continue;
        }
        if ((use = slot_in_use(users, dirty))) {
            if (!use->untold)
                in_use++;
            else
                note_unknown(unknown, &untold, ((PoolEntry *)g_ptr_array_index(dirty, 0))->id,
                             use->why);
            continue;
        }
        {
            g_autoptr(GError) e = NULL;

            switch (scrub_one(&p, dirty, &e)) {
            case SCRUB_DONE:
                done++;
                break;
            case SCRUB_SKIPPED:
                break;
            case SCRUB_FAILED:
                note_failure(failures, &failed, e);
                break;
            }
        }
    }
    if (scrubbed)
        *scrubbed = done;
    if (busy)
        *busy = in_use;
    if (failed || untold) {
        g_autoptr(GString) msg = g_string_new(NULL);

        g_string_printf(msg, "scrubbed %u slots", done);
        if (failed)
            g_string_append_printf(msg, "; %u could not be: %s%s", failed, failures->str,
                                   failed > 1 ? " (and more)" : "");
        if (untold)
            g_string_append_printf(msg,
                                   "; left %u dirty, as in use: cannot tell whether a process "
                                   "maps %s%s",
                                   untold, unknown->str, untold > 1 ? " (and more)" : "");
        g_set_error(error, FP_ERROR, FP_ERROR_HOST, "%s", msg->str);
        return FALSE;
    }
    return TRUE;
}

gboolean
fp_pool_drain(const FpPoolOptions *o, GError **error)
{
    g_auto(Pool) p = {.dfd = -1};
    g_autoptr(GPtrArray) groups = NULL;
    g_autoptr(GString) failures = g_string_new(NULL);
    gboolean absent;
    guint failed = 0;

    if (!pool_begin(&p, o, FALSE, &absent, error))
        return absent;
    groups = group_by_slot(&p);
    for (guint g = 0; g < groups->len; g++) {
        GPtrArray *l = g_ptr_array_index(groups, g);
        const PoolEntry *first = g_ptr_array_index(l, 0);
        gboolean held = FALSE;
        g_autoptr(GError) err = NULL;

        for (guint i = 0; i < l->len; i++)
            held |= ((PoolEntry *)g_ptr_array_index(l, i))->nstate == POOL_NAME_CLAIMED;
        for (guint i = 0; i < l->len; i++) {
            const PoolEntry *e = g_ptr_array_index(l, i);

            if (e->nstate == POOL_NAME_CLAIMED)
                continue;
            /* rm $DIR/$SLOT */
            if (unlinkat(p.dfd, e->name, 0) == 0 ||
                (errno == EISDIR && unlinkat(p.dfd, e->name, AT_REMOVEDIR) == 0))
                continue;
            /* ENOENT: a clean one claimed since the listing, its pages now its claimer's. */
            if (errno != ENOENT && !err)
                err = g_error_new(FP_ERROR, FP_ERROR_IO, "cannot remove %s/%s: %s", p.dir, e->name,
                                  g_strerror(errno));
            held = TRUE;
        }
        /* Its pages go back as soon as no name counts them: a kill -9 of the drain loses at
         * most the slot being removed. */
        if (!held && first->grown)
            pool_capacity_give_back(o, first->node, p.page_bytes / 1024, first->grown, &err);
        if (err)
            note_failure(failures, &failed, err);
    }
    if (failed) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "drain: %s%s", failures->str,
                    failed > 1 ? " (and more)" : "");
        return FALSE;
    }
    return TRUE;
}

static gboolean
claimed_before(const PoolEntry *e, const struct stat *st, gpointer data)
{
    /* The claim's rename (and its chown) set ctime: the age of the claim. */
    return e->nstate == POOL_NAME_CLAIMED &&
           ((gint64)st->st_ctime <= *(gint64 *)data || pool_taken_back(e, st));
}

/* claim-UUID names left by a release or scrub that did not finish: each is removed unless it is
 * the second name of a slot its UUID holds now. */
static void
remove_stale_claim_names(Pool *p)
{
    DIR *d = pool_opendir(p->dfd, ".");
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        gboolean current = FALSE;
        struct stat st;

        if (!g_str_has_prefix(de->d_name, "claim-"))
            continue;
        for (guint i = 0; i < p->entries->len && !current; i++) {
            const PoolEntry *e = g_ptr_array_index(p->entries, i);

            current = e->nstate == POOL_NAME_CLAIMED && !strcmp(de->d_name + 6, e->owner) &&
                      fstatat(p->dfd, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                      !pool_taken_back(e, &st) && pool_claim_link_is(p->dfd, e, &st);
        }
        /* rm $DIR/claim-$UUID */
        if (!current)
            unlinkat(p->dfd, de->d_name, 0);
    }
    closedir(d);
}

gboolean
fp_pool_reclaim_stale(const FpPoolOptions *o, guint after_s, guint *reclaimed, GError **error)
{
    g_auto(Pool) p = {.dfd = -1};
    g_autoptr(GHashTable) users = NULL;
    g_autoptr(GString) unknown = g_string_new(NULL), failures = g_string_new(NULL);
    gboolean absent;
    gint64 before = g_get_real_time() / G_USEC_PER_SEC - (gint64)after_s;
    guint n = 0, untold = 0, failed = 0;

    if (reclaimed)
        *reclaimed = 0;
    if (!pool_begin(&p, o, FALSE, &absent, error))
        return absent;
    /* Claims old enough, each with the process using it (0: none). */
    users = entry_users(&p, claimed_before, &before);
    for (guint i = 0; i < p.entries->len; i++) {
        const PoolEntry *e = g_ptr_array_index(p.entries, i);
        const PoolUse *use = g_hash_table_lookup(users, e);
        g_autofree char *to = NULL;
        g_autoptr(GError) err = NULL;

        if (!use || use->pid || (use->why && !use->untold))
            continue;
        if (use->why) {
            note_unknown(unknown, &untold, e->id, use->why);
            continue;
        }
        /* The departed tenant's memory is root's before it is dirty, as in a release:
         * chown root:root $SLOT; chmod 0000 $SLOT; rm $DIR/claim-$UUID */
        if (!pool_take_back(p.dfd, p.dir, e, &err)) {
            if (!g_error_matches(err, FP_ERROR, FP_ERROR_REFUSED))
                note_failure(failures, &failed, err);
            continue;
        }
        /* mv $SLOT.claimed.$UUID $SLOT.dirty   (a release racing us renames it first: fine) */
        to = g_strdup_printf("%s.dirty", e->base);
        if (pool_rename(p.dfd, p.dir, e->name, to, FALSE, NULL))
            n++;
    }
    g_ptr_array_unref(p.entries);
    p.entries = pool_scan(p.dfd, p.dir, NULL);
    if (p.entries)
        remove_stale_claim_names(&p);
    if (reclaimed)
        *reclaimed = n;
    if (untold || failed) {
        g_autoptr(GString) msg = g_string_new(NULL);

        g_string_printf(msg, "reclaimed %u slots", n);
        if (failed)
            g_string_append_printf(msg, "; %u could not be taken back: %s%s", failed, failures->str,
                                   failed > 1 ? " (and more)" : "");
        if (untold)
            g_string_append_printf(msg,
                                   "; kept %u stale claims, as in use: cannot tell whether a "
                                   "process maps %s%s",
                                   untold, unknown->str, untold > 1 ? " (and more)" : "");
        g_set_error(error, FP_ERROR, FP_ERROR_HOST, "%s", msg->str);
        return FALSE;
    }
    return TRUE;
}
