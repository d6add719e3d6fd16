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
    if (p->entries)
        g_ptr_array_unref(p->entries);
}

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

/* TRUE when NAME is gone. */
static gboolean
remove_entry(Pool *p, const char *name)
{
    /* rm $DIR/$NAME   (hugetlbfs frees the pages with the last reference; a directory someone
     * made under a slot's name goes too, if empty) */
    if (unlinkat(p->dfd, name, 0) == 0 || errno == ENOENT)
        return TRUE;
    return errno == EISDIR && unlinkat(p->dfd, name, AT_REMOVEDIR) == 0;
}

static guint
next_num(const Pool *p)
{
    guint max = 0;

    for (guint i = 0; i < p->entries->len; i++)
        max = MAX(max, ((const PoolEntry *)g_ptr_array_index(p->entries, i))->num);
    return max + 1;
}

/* A new file FILLING with every page allocated on NODE and zero: the only way memory becomes a
 * clean slot. *FOUND: the node the pages are on. Removed again on failure. */
static gboolean
make_pages(Pool *p, const char *filling, guint64 size, int node, int *found, GError **error)
{
    int fd;
    gboolean ok;

    *found = -1;
    /* touch $DIR/$SLOT.filling   (a new inode: no earlier tenant ever mapped it) */
    fd = openat(p->dfd, filling, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot create %s/%s: %s", p->dir, filling,
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
    if (!ok)
        remove_entry(p, filling);
    return ok;
}

gboolean
fp_pool_fill(const FpPoolOptions *o, int node, guint64 size, guint count, GError **error)
{
    Pool p;
    g_autoptr(GError) why = NULL;
    g_autofree char *human = fp_pool_size_text(size);
    FpPoolPages here;
    guint64 pages, page_kib = 0;
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
    if (!pool_begin(&p, o, TRUE, NULL, error)) {
        pool_close(&p);
        return FALSE;
    }
    pages = size / p.page_bytes;
    num = next_num(&p);
    for (; made < count; made++, num++) {
        g_autofree char *base = NULL, *filling = NULL, *clean = NULL;
        guint64 added = 0;
        int found;

        if (!pool_capacity_take(o, p.dfd, node, p.page_bytes / 1024, pages, &added, &why))
            break;
        base = pool_base_format(num, node, size, added);
        filling = g_strdup_printf("%s.filling", base);
        if (!make_pages(&p, filling, size, node, &found, &why)) {
            pool_capacity_give_back(o, node, p.page_bytes / 1024, added, NULL);
            break;
        }
        /* Unbound pages still went to some node: claims for that node can use them. */
        g_free(base);
        base = pool_base_format(num, node >= 0 ? node : found, size, added);
        clean = g_strdup_printf("%s.clean", base);
        if (!pool_rename(p.dfd, p.dir, filling, clean, TRUE, &why)) {
            remove_entry(&p, filling);
            pool_capacity_give_back(o, node, p.page_bytes / 1024, added, NULL);
            break;
        }
    }
    pool_close(&p);
    if (made < count) {
        g_autofree char *where = node >= 0 ? g_strdup_printf(" on node %d", node) : g_strdup("");

        g_set_error(error, FP_ERROR, why->domain == FP_ERROR ? why->code : FP_ERROR_IO,
                    "made %u of %u %s slots%s in %s, then stopped: %s", made, count, human, where,
                    p.dir, why->message);
        return FALSE;
    }
    return TRUE;
}

/* Rebuilds the slot of BASE from its dirty entries L: the old file's pages freed, a new file
 * allocated (zeroed by the kernel) and verified, the old file removed, the new one clean. A slot
 * that cannot be rebuilt is removed, and the hugepages the pool added for it given back. */
static gboolean
scrub_one(Pool *p, GPtrArray *l, GError **error)
{
    const PoolEntry *e = g_ptr_array_index(l, 0), *primary = e;
    g_autofree char *scrubbing = g_strdup_printf("%s.scrubbing", e->base);
    g_autofree char *base = NULL, *filling = NULL, *clean = NULL;
    g_autoptr(GError) why = NULL;
    guint64 page_kib = p->page_bytes / 1024, added = 0, give_back = e->grown;
    struct stat st;
    int fd, found;

    for (guint i = 0; i < l->len; i++) {
        const PoolEntry *x = g_ptr_array_index(l, i);

        if (x->nstate == POOL_NAME_SCRUBBING)
            primary = x;
    }
    /* mv $SLOT.dirty $SLOT.scrubbing   (a crash from here on leaves it to the next scrub) */
    if (primary->nstate != POOL_NAME_SCRUBBING &&
        !pool_rename(p->dfd, p->dir, primary->name, scrubbing, FALSE, &why))
        goto removed;
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
     * caller skips any slot another process maps or holds open, found in this procfs just
     * before (a process in a PID namespace this procfs does not show is the exception: scrub
     * from the host's namespace, as the systemd unit does). */
    if (!pool_mem_punch(fd, MAX((guint64)st.st_size, e->size), &why)) {
        close(fd);
        goto removed;
    }
    close(fd);
    if (!pool_capacity_take(p->o, p->dfd, e->node, page_kib, e->size / p->page_bytes, &added, &why))
        goto removed;
    give_back += added;
    base = pool_base_format(e->num, e->node, e->size, e->grown + added);
    filling = g_strdup_printf("%s.filling", base);
    remove_entry(p, filling);
    if (!make_pages(p, filling, e->size, e->node, &found, &why))
        goto removed;
    /* rm $SLOT.scrubbing   (the old inode leaves the pool; a crash now leaves .filling: redone) */
    remove_entry(p, scrubbing);
    g_free(base);
    base = pool_base_format(e->num, e->node >= 0 ? e->node : found, e->size, e->grown + added);
    clean = g_strdup_printf("%s.clean", base);
    /* mv $SLOT.filling $SLOT.clean */
    if (!pool_rename(p->dfd, p->dir, filling, clean, TRUE, &why))
        goto removed;
    return TRUE;

removed:
    for (guint i = 0; i < l->len; i++)
        remove_entry(p, ((PoolEntry *)g_ptr_array_index(l, i))->name);
    remove_entry(p, scrubbing);
    if (filling)
        remove_entry(p, filling);
    pool_capacity_give_back(p->o, e->node, page_kib, give_back, NULL);
    g_set_error(error, FP_ERROR, why->domain == FP_ERROR ? why->code : FP_ERROR_IO,
                "%s removed: %s", e->id, why->message);
    return FALSE;
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

/* Each entry KEEP accepts -> the pid of a process that maps or holds its file open, 0 when none:
 * one pass over procfs, and none at all when KEEP accepts nothing. */
static GHashTable *
entry_users(Pool *p, EntryFilter keep, gpointer data)
{
    GHashTable *users = g_hash_table_new(NULL, NULL);
    g_autoptr(GArray) st = g_array_new(FALSE, FALSE, sizeof(struct stat));
    g_autoptr(GPtrArray) asked = g_ptr_array_new();
    g_autofree int *user = NULL;

    for (guint i = 0; i < p->entries->len; i++) {
        PoolEntry *e = g_ptr_array_index(p->entries, i);
        struct stat one;

        if (fstatat(p->dfd, e->name, &one, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(one.st_mode) &&
            keep(e, &one, data)) {
            g_array_append_val(st, one);
            g_ptr_array_add(asked, e);
        }
    }
    user = g_new0(int, MAX(asked->len, 1));
    pool_file_users(pool_proc_root(p->o), (struct stat *)(void *)st->data, asked->len, user);
    for (guint i = 0; i < asked->len; i++)
        g_hash_table_insert(users, g_ptr_array_index(asked, i), GINT_TO_POINTER(user[i]));
    return users;
}

static gboolean
to_scrub(const PoolEntry *e, const struct stat *st, gpointer data)
{
    return e->nstate != POOL_NAME_CLEAN && e->nstate != POOL_NAME_CLAIMED;
}

/* TRUE when a process maps or holds open one of the slot's files L. */
static gboolean
slot_in_use(GHashTable *users, GPtrArray *l)
{
    for (guint i = 0; i < l->len; i++) {
        if (GPOINTER_TO_INT(g_hash_table_lookup(users, g_ptr_array_index(l, i))))
            return TRUE;
    }
    return FALSE;
}

gboolean
fp_pool_scrub(const FpPoolOptions *o, guint *scrubbed, guint *busy, GError **error)
{
    Pool p;
    g_autoptr(GPtrArray) groups = NULL;
    g_autoptr(GHashTable) users = NULL;
    g_autoptr(GString) failures = g_string_new(NULL);
    gboolean absent;
    guint done = 0, failed = 0, in_use = 0;

    if (scrubbed)
        *scrubbed = 0;
    if (busy)
        *busy = 0;
    if (!pool_begin(&p, o, FALSE, &absent, error)) {
        pool_close(&p);
        return absent;
    }
    /* Who uses the files that may be scrubbed: one pass over procfs. */
    users = entry_users(&p, to_scrub, NULL);
    groups = group_by_slot(&p);
    for (guint g = 0; g < groups->len; g++) {
        GPtrArray *l = g_ptr_array_index(groups, g);
        g_autoptr(GPtrArray) dirty = g_ptr_array_new();
        gboolean held = FALSE;

        for (guint i = 0; i < l->len; i++) {
            PoolEntry *e = g_ptr_array_index(l, i);
            g_autofree char *problem =
                e->nstate == POOL_NAME_CLEAN ? pool_entry_problem(p.dfd, e) : NULL;

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
        if (slot_in_use(users, dirty)) {
            in_use++;
            continue;
        }
        {
            g_autoptr(GError) e = NULL;

            if (scrub_one(&p, dirty, &e))
                done++;
            else
                note_failure(failures, &failed, e);
        }
    }
    pool_close(&p);
    if (scrubbed)
        *scrubbed = done;
    if (busy)
        *busy = in_use;
    if (failed) {
        g_set_error(error, FP_ERROR, FP_ERROR_HOST, "scrubbed %u slots; %u could not be: %s%s",
                    done, failed, failures->str, failed > 1 ? " (and more)" : "");
        return FALSE;
    }
    return TRUE;
}

gboolean
fp_pool_drain(const FpPoolOptions *o, GError **error)
{
    Pool p;
    g_autoptr(GPtrArray) groups = NULL;
    g_autoptr(GHashTable) back =
        g_hash_table_new(g_direct_hash, g_direct_equal); /* node+1 -> pages */
    g_autoptr(GString) failures = g_string_new(NULL);
    GHashTableIter it;
    gpointer key, value;
    gboolean absent;
    guint failed = 0;

    if (!pool_begin(&p, o, FALSE, &absent, error)) {
        pool_close(&p);
        return absent;
    }
    groups = group_by_slot(&p);
    for (guint g = 0; g < groups->len; g++) {
        GPtrArray *l = g_ptr_array_index(groups, g);
        const PoolEntry *first = g_ptr_array_index(l, 0);
        gboolean held = FALSE;

        for (guint i = 0; i < l->len; i++)
            held |= ((PoolEntry *)g_ptr_array_index(l, i))->nstate == POOL_NAME_CLAIMED;
        for (guint i = 0; i < l->len; i++) {
            const PoolEntry *e = g_ptr_array_index(l, i);

            if (e->nstate == POOL_NAME_CLAIMED)
                continue;
            if (!remove_entry(&p, e->name)) {
                g_autoptr(GError) err =
                    g_error_new(FP_ERROR, FP_ERROR_IO, "cannot remove %s/%s: %s", p.dir, e->name,
                                g_strerror(errno));

                note_failure(failures, &failed, err);
                held = TRUE;
            }
        }
        if (!held && first->grown) {
            gpointer k = GINT_TO_POINTER(first->node + 1);

            g_hash_table_insert(
                back, k,
                GSIZE_TO_POINTER(GPOINTER_TO_SIZE(g_hash_table_lookup(back, k)) + first->grown));
        }
    }
    g_hash_table_iter_init(&it, back);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_autoptr(GError) err = NULL;

        if (!pool_capacity_give_back(o, GPOINTER_TO_INT(key) - 1, p.page_bytes / 1024,
                                     GPOINTER_TO_SIZE(value), &err))
            note_failure(failures, &failed, err);
    }
    pool_close(&p);
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
    Pool p;
    g_autoptr(GHashTable) users = NULL;
    gboolean absent;
    gint64 before = g_get_real_time() / G_USEC_PER_SEC - (gint64)after_s;
    guint n = 0;

    if (reclaimed)
        *reclaimed = 0;
    if (!pool_begin(&p, o, FALSE, &absent, error)) {
        pool_close(&p);
        return absent;
    }
    /* Claims old enough, each with the process using it (0: none). */
    users = entry_users(&p, claimed_before, &before);
    for (guint i = 0; i < p.entries->len; i++) {
        const PoolEntry *e = g_ptr_array_index(p.entries, i);
        g_autofree char *to = NULL;
        gpointer user;

        if (!g_hash_table_lookup_extended(users, e, NULL, &user) || GPOINTER_TO_INT(user))
            continue;
        /* mv $SLOT.claimed.$UUID $SLOT.dirty   (a release racing us renames it first: fine) */
        to = g_strdup_printf("%s.dirty", e->base);
        if (pool_rename(p.dfd, p.dir, e->name, to, FALSE, NULL))
            n++;
    }
    g_ptr_array_unref(p.entries);
    p.entries = pool_scan(p.dfd, p.dir, NULL);
    if (p.entries)
        remove_stale_claim_names(&p);
    pool_close(&p);
    if (reclaimed)
        *reclaimed = n;
    return TRUE;
}
