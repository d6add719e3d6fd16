/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hook.h"

#include "apparmor.h"
#include "error.h"
#include "host.h"
#include "hugepages.h"
#include "pool.h"
#include "prep.h"
#include "qemucaps.h"
#include "safedir.h"
#include "timeline.h"
#include "tune.h"

#include <glib/gstdio.h>
#include <unistd.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <string.h>

static void G_GNUC_PRINTF(3, 4) say(FpHookCtx *ctx, GLogLevelFlags level, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    if (!ctx->log)
        return;
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    ctx->log(level, msg, ctx->log_user);
}

/* Milliseconds left before the deadline, at least 1. */
static guint
left_ms(const FpHookCtx *ctx)
{
    gint64 left = (ctx->deadline - g_get_monotonic_time()) / 1000;

    return left < 1 ? 1 : (guint)left;
}

static FpPrepOptions
prep_options(FpHookCtx *ctx, const char *owner, FpReleaseMode mode)
{
    FpPrepOptions o = {
        .sysfs_root = ctx->config->sysfs_root,
        .run_dir = ctx->config->run_dir,
        .owner = owner,
        .timeout_ms = MIN(ctx->config->device_timeout_ms, left_ms(ctx)),
        .max_workers = ctx->config->max_workers,
        .mode = mode,
    };
    return o;
}

static void
log_report(FpHookCtx *ctx, const FpPrepReport *report)
{
    for (guint i = 0; i < report->devices->len; i++) {
        const FpPrepDevice *d = g_ptr_array_index(report->devices, i);
        const GArray *steps = fp_prep_device_steps(d);
        const GError *err = fp_prep_device_error(d);
        g_autoptr(GString) line = g_string_new(NULL);

        g_string_append_printf(line, "%s %s: %s", report->action, fp_prep_device_bdf(d),
                               fp_prep_status_name(fp_prep_device_status(d)));
        for (guint s = 0; steps && s < steps->len; s++) {
            const FpPrepStep *st = &g_array_index(steps, FpPrepStep, s);

            /* Start and end from the hook's start, so overlapping resets show as overlapping. */
            g_string_append_printf(line, ", %s +%.0f..+%.0f ms", st->name, st->start_us / 1000.0,
                                   st->end_us / 1000.0);
        }
        if (err)
            g_string_append_printf(line, " (%s)", err->message);
        say(ctx, report->ok ? G_LOG_LEVEL_INFO : G_LOG_LEVEL_WARNING, "%s", line->str);
    }
}

/* Devices the hook looks after: the PCI hostdevs (MANAGED selects libvirt-managed or not) and,
 * with the unmanaged ones, those named in the fastpass metadata. */
static GArray *
device_list(const FpDomain *dom, gboolean managed)
{
    GArray *addrs = g_array_new(FALSE, FALSE, sizeof(FpPciAddr));

    for (guint i = 0; i < dom->hostdevs->len; i++) {
        const FpHostdev *hd = &g_array_index(dom->hostdevs, FpHostdev, i);

        if (hd->managed == managed)
            g_array_append_val(addrs, hd->addr);
    }
    if (!managed)
        g_array_append_vals(addrs, dom->declared->data, dom->declared->len);
    return addrs;
}

static gboolean
listed_in(const GArray *addrs, const FpPciAddr *a)
{
    for (guint i = 0; i < addrs->len; i++) {
        if (fp_pci_addr_equal(&g_array_index(addrs, FpPciAddr, i), a))
            return TRUE;
    }
    return FALSE;
}

/* Devices the domain with UUID claims that its live XML no longer names (hot-unplugged). */
static GArray *
unplugged_claims(FpHookCtx *ctx, const char *uuid, const GArray *unmanaged, const GArray *managed)
{
    GArray *addrs = g_array_new(FALSE, FALSE, sizeof(FpPciAddr));
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) mine = NULL;

    if (!uuid)
        return addrs;
    if (!(mine = fp_prep_claimed_by(ctx->config->run_dir, uuid, &error))) {
        say(ctx, G_LOG_LEVEL_WARNING, "release: %s", error->message);
        return addrs;
    }
    for (guint i = 0; i < mine->len; i++) {
        FpPciAddr a;

        if (fp_pci_addr_parse(g_ptr_array_index(mine, i), &a, NULL) && !listed_in(unmanaged, &a) &&
            !listed_in(managed, &a))
            g_array_append_val(addrs, a);
    }
    return addrs;
}

/* The name of the file recording hugepages added for a domain: its UUID, or a digest of its
 * name (names are not safe in paths). */
static char *
hugepage_record_name(const FpDomain *dom)
{
    g_autofree char *uuid = fp_domain_uuid(dom);
    g_autofree char *name = fp_domain_name(dom);
    g_autofree char *key =
        uuid && g_uuid_string_is_valid(uuid)
            ? g_ascii_strdown(uuid, -1)
            : g_compute_checksum_for_string(G_CHECKSUM_SHA256, name ? name : "", -1);

    return g_strdup_printf("%s.json", key);
}

/* $RUN_DIR/hugepages: root's alone (0700), reached without following anything. */
static int
hugepage_record_dir(FpHookCtx *ctx, char **where, GError **error)
{
    int run = fp_safedir_open(ctx->config->run_dir, TRUE, 0755, error), dfd;

    if (run < 0)
        return -1;
    *where = g_build_filename(ctx->config->run_dir, "hugepages", NULL);
    dfd = fp_safedir_sub(run, ctx->config->run_dir, "hugepages", 0700, error);
    close(run);
    return dfd;
}

/* A record is a few small numbers. */
#define HUGEPAGE_RECORD_MAX 4096
/* Longest wait for the host-wide nr_hugepages lock (the pool may hold it while it grows). */
#define HUGEPAGE_LOCK_MS 5000

/* $RUN_DIR/hugepages/KEY.json: the pages the hook added for one domain, written ahead of every
 * change of nr_hugepages (write-ahead), so a hook killed at any step (kill -9, its own deadline)
 * leaves enough to give back exactly what it added:
 *   {"node": N, "page_kib": P, "added": A}                      A pages added and held
 *   ... "pending": "add", "before": B, "count": K               raising nr_hugepages B -> B+K
 *   ... "pending": "give", "before": B, "count": K              lowering it B -> B-K
 * Every change happens under the host-wide nr_hugepages lock, so whoever holds it next sees
 * nr_hugepages as the writer left it and can tell whether a pending write happened. */
typedef struct {
    gint64 node, page_kib, added;
    enum { PENDING_NONE, PENDING_ADD, PENDING_GIVE } pending;
    gint64 before, count;
} HugeRecord;

/* A member of a record that must be an integer in MIN..MAX. */
static gboolean
record_int(json_object *j, const char *key, gint64 min, gint64 max, gint64 *out)
{
    json_object *v = json_object_object_get(j, key);

    if (!json_object_is_type(v, json_type_int))
        return FALSE;
    *out = json_object_get_int64(v);
    return *out >= min && *out <= max;
}

/* 1: read into *R; 0: there is none; -1: unreadable or not a record (the error says which). */
static int
record_read(int dfd, const char *where, const char *name, HugeRecord *r, GError **error)
{
    g_autofree char *text = NULL;
    json_object *j, *p;
    int found = -1;

    *r = (HugeRecord){0};
    if (!(text = fp_safedir_read(dfd, where, name, HUGEPAGE_RECORD_MAX, NULL, error)))
        return g_error_matches(*error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? 0 : -1;
    if ((j = json_tokener_parse(text)) && record_int(j, "node", -1, 1023, &r->node) &&
        record_int(j, "page_kib", 1, G_MAXINT64, &r->page_kib) &&
        record_int(j, "added", 0, G_MAXINT32, &r->added)) {
        found = 1;
        p = json_object_object_get(j, "pending");
        if (p && (!json_object_is_type(p, json_type_string) ||
                  !record_int(j, "before", 0, G_MAXINT64, &r->before) ||
                  !record_int(j, "count", 0, G_MAXINT32, &r->count)))
            found = -1;
        else if (p && !g_strcmp0(json_object_get_string(p), "add"))
            r->pending = PENDING_ADD;
        else if (p && !g_strcmp0(json_object_get_string(p), "give"))
            r->pending = PENDING_GIVE;
        else if (p)
            found = -1;
    }
    json_object_put(j);
    if (found < 0)
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s/%s is not a record of added pages", where,
                    name);
    return found;
}

/* Writes R over NAME (atomically: a new file renamed over it); a record of nothing is removed. */
static gboolean
record_write(int dfd, const char *where, const char *name, const HugeRecord *r, GError **error)
{
    json_object *j;
    gboolean ok;

    if (!r->added && r->pending == PENDING_NONE) {
        /* rm $RUN_DIR/hugepages/$KEY.json   (the name, never a target) */
        if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT) {
            int e = errno;

            g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot remove %s/%s: %s", where, name,
                        g_strerror(e));
            return FALSE;
        }
        return TRUE;
    }
    j = json_object_new_object();
    json_object_object_add(j, "node", json_object_new_int((int)r->node));
    json_object_object_add(j, "page_kib", json_object_new_int64(r->page_kib));
    json_object_object_add(j, "added", json_object_new_int64(r->added));
    if (r->pending != PENDING_NONE) {
        json_object_object_add(j, "pending",
                               json_object_new_string(r->pending == PENDING_ADD ? "add" : "give"));
        json_object_object_add(j, "before", json_object_new_int64(r->before));
        json_object_object_add(j, "count", json_object_new_int64(r->count));
    }
    ok = fp_safedir_write(dfd, where, name, json_object_to_json_string(j),
                          strlen(json_object_to_json_string(j)), 0600, error);
    json_object_put(j);
    return ok;
}

/* With the lock held: settles a write that was pending when its writer stopped (killed, or
 * done), from nr_hugepages as it is now, and saves the result. */
static gboolean
record_settle(const char *sysfs_root, int dfd, const char *where, const char *name, HugeRecord *r,
              GError **error)
{
    guint64 nr;

    if (r->pending == PENDING_NONE)
        return TRUE;
    if (!fp_hugepages_count(sysfs_root, (int)r->node, (guint64)r->page_kib, &nr, error))
        return FALSE;
    if (r->pending == PENDING_ADD && (gint64)nr > r->before)
        r->added += MIN((gint64)nr - r->before, r->count);
    else if (r->pending == PENDING_GIVE && (gint64)nr < r->before)
        r->added = 0; /* written: it gave back what the kernel could */
    r->pending = PENDING_NONE;
    return record_write(dfd, where, name, r, error);
}

/* With the lock held: gives back the pages R holds, writing the intent first. */
static gboolean
record_give_back(const char *sysfs_root, int dfd, const char *where, const char *name,
                 HugeRecord *r, guint timeout_ms, GError **error)
{
    guint64 nr;
    gboolean ok;

    if (!record_settle(sysfs_root, dfd, where, name, r, error))
        return FALSE;
    if (!r->added)
        return TRUE;
    if (!fp_hugepages_count(sysfs_root, (int)r->node, (guint64)r->page_kib, &nr, error))
        return FALSE;
    r->pending = PENDING_GIVE;
    r->before = (gint64)nr;
    r->count = r->added;
    if (!record_write(dfd, where, name, r, error))
        return FALSE;
    ok = fp_hugepages_release_locked(sysfs_root, (int)r->node, (guint64)r->page_kib,
                                     (guint64)r->added, timeout_ms, error);
    if (ok) {
        r->added = 0;
        r->pending = PENDING_NONE;
        return record_write(dfd, where, name, r, error);
    }
    record_settle(sysfs_root, dfd, where, name, r, NULL);
    return FALSE;
}

typedef struct {
    int dfd;
    const char *where, *name;
    HugeRecord *r;
} IntentArgs;

static gboolean
record_intent(guint64 before, guint64 adding, gpointer user, GError **error)
{
    IntentArgs *a = user;

    a->r->pending = PENDING_ADD;
    a->r->before = (gint64)before;
    a->r->count = (gint64)adding;
    if (!record_write(a->dfd, a->where, a->name, a->r, error)) {
        g_prefix_error(error, "cannot record the pages about to be added: ");
        a->r->pending = PENDING_NONE;
        return FALSE;
    }
    return TRUE;
}

static void
reserve_hugepages(FpHookCtx *ctx, const FpDomain *dom)
{
    const char *sysfs = ctx->config->sysfs_root;
    guint64 page = fp_domain_hugepage_kib(dom), mem, added = 0;
    int node = fp_domain_memory_node(dom), dfd, lock;
    g_autoptr(GError) error = NULL;
    g_autofree char *record = NULL, *where = NULL;
    HugeRecord r;
    IntentArgs args;
    gboolean ok;

    if (!page || !ctx->config->reserve_hugepages || !ctx->config_ok)
        return;
    if (!fp_domain_memory_kib(dom, &mem, NULL) || mem % page) {
        say(ctx, G_LOG_LEVEL_WARNING,
            "hugepages: guest memory is not a whole number of %" G_GUINT64_FORMAT
            " KiB pages; not reserving",
            page);
        return;
    }
    record = hugepage_record_name(dom);
    /* Nothing is added that is not recorded first. */
    if ((dfd = hugepage_record_dir(ctx, &where, &error)) < 0) {
        say(ctx, G_LOG_LEVEL_WARNING, "hugepages: not reserving: %s", error->message);
        return;
    }
    if ((lock = fp_hugepages_lock(sysfs, MIN(HUGEPAGE_LOCK_MS, left_ms(ctx)), &error)) < 0) {
        say(ctx, G_LOG_LEVEL_WARNING, "hugepages: not reserving: %s", error->message);
        close(dfd);
        return;
    }
    /* What an earlier start of this domain left (its release never ran): kept and added to when
     * it is the same pool, given back first when not. */
    if (record_read(dfd, where, record, &r, &error) < 0) {
        say(ctx, G_LOG_LEVEL_WARNING, "hugepages: %s; removed, nothing given back", error->message);
        g_clear_error(&error);
        unlinkat(dfd, record, 0);
        r = (HugeRecord){0};
    } else if (r.page_kib && (r.node != node || r.page_kib != (gint64)page) &&
               !record_give_back(sysfs, dfd, where, record, &r, left_ms(ctx), &error)) {
        say(ctx, G_LOG_LEVEL_WARNING, "hugepages: not reserving: %s", error->message);
        goto out;
    }
    g_clear_error(&error);
    if (!record_settle(sysfs, dfd, where, record, &r, &error)) {
        say(ctx, G_LOG_LEVEL_WARNING, "hugepages: not reserving: %s", error->message);
        goto out;
    }
    r.node = node;
    r.page_kib = (gint64)page;
    args = (IntentArgs){dfd, where, record, &r};
    ok = fp_hugepages_reserve_locked(sysfs, ctx->config->proc_root, node, page, mem / page,
                                     ctx->config->compact_memory, left_ms(ctx), record_intent,
                                     &args, &added, &error);
    if (!ok)
        /* Optional: libvirt may still find the pages elsewhere, or report the shortage itself. */
        say(ctx, G_LOG_LEVEL_WARNING, "hugepages: %s", error->message);
    else if (added)
        say(ctx, G_LOG_LEVEL_INFO,
            "hugepages: added %" G_GUINT64_FORMAT " pages of %" G_GUINT64_FORMAT " KiB on %s%d",
            added, page, node < 0 ? "the host pool" : "node ", node < 0 ? 0 : node);
    g_clear_error(&error);
    /* The intent, settled from what nr_hugepages says now (the write happened or not). */
    if (!record_settle(sysfs, dfd, where, record, &r, &error))
        say(ctx, G_LOG_LEVEL_WARNING, "hugepages: cannot record what was added: %s",
            error->message);
out:
    close(lock);
    close(dfd);
}

/* Gives back the pages of record NAME: settles a pending write, lowers nr_hugepages, removes
 * the record. FALSE when it could not (the record stays for a later try). */
static gboolean
give_back_record(const FpConfig *config, int dfd, const char *where, const char *name,
                 guint timeout_ms, gint64 *given, GError **error)
{
    HugeRecord r;
    int lock, found;
    gboolean ok;

    *given = 0;
    if ((found = record_read(dfd, where, name, &r, error)) <= 0) {
        if (found == 0)
            g_clear_error(error);
        else {
            /* rm $RUN_DIR/hugepages/$KEY.json   (whatever it was: the name, never a target) */
            unlinkat(dfd, name, 0);
            g_prefix_error(error, "removed, nothing given back: ");
        }
        return found == 0;
    }
    if ((lock = fp_hugepages_lock(config->sysfs_root, MIN(HUGEPAGE_LOCK_MS, timeout_ms), error)) <
        0)
        return FALSE;
    ok = record_settle(config->sysfs_root, dfd, where, name, &r, error);
    *given = r.added;
    ok = ok && record_give_back(config->sysfs_root, dfd, where, name, &r, timeout_ms, error);
    if (!ok)
        *given = 0;
    close(lock);
    return ok;
}

static void
return_hugepages(FpHookCtx *ctx, const FpDomain *dom)
{
    g_autofree char *record = hugepage_record_name(dom), *where = NULL;
    g_autoptr(GError) error = NULL;
    gint64 given;
    int dfd = hugepage_record_dir(ctx, &where, &error);

    if (dfd < 0) {
        say(ctx, G_LOG_LEVEL_WARNING, "hugepages: %s", error->message);
        return;
    }
    if (!give_back_record(ctx->config, dfd, where, record, left_ms(ctx), &given, &error))
        say(ctx, G_LOG_LEVEL_WARNING, "hugepages: cannot give back pages: %s", error->message);
    else if (given)
        say(ctx, G_LOG_LEVEL_INFO,
            "hugepages: gave back the %" G_GINT64_FORMAT " pages added at start", given);
    close(dfd);
}

/* The UUIDs (lower case) of the QEMU processes that run: every "-uuid UUID" on a command line
 * under PROC_ROOT. NULL when the process table cannot be read (then nothing may be taken from
 * anyone). */
static GHashTable *
running_uuids(const char *proc_root, GError **error)
{
    g_autoptr(GDir) proc = g_dir_open(proc_root, 0, error);
    g_autoptr(GHashTable) found = NULL;
    const char *pid;

    if (!proc) {
        g_prefix_error(error, "cannot tell which domains run: ");
        return NULL;
    }
    found = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    while ((pid = g_dir_read_name(proc))) {
        g_autofree char *path = NULL, *cmd = NULL;
        gsize len;

        if (!g_ascii_isdigit(pid[0]))
            continue;
        path = g_build_filename(proc_root, pid, "cmdline", NULL);
        /* tr '\0' ' ' < /proc/$PID/cmdline | grep -o -- "-uuid [^ ]*" */
        if (!g_file_get_contents(path, &cmd, &len, NULL))
            continue; /* gone meanwhile */
        for (gsize i = 0; i < len;) {
            gsize n = strnlen(cmd + i, len - i);

            if (!strcmp(cmd + i, "-uuid") && i + n + 1 < len)
                g_hash_table_add(
                    found, g_ascii_strdown(cmd + i + n + 1,
                                           (gssize)strnlen(cmd + i + n + 1, len - i - n - 1)));
            i += n + 1;
        }
    }
    return g_steal_pointer(&found);
}

gboolean
fp_hook_recover_hugepages(const FpConfig *config, GPtrArray *notes, GError **error)
{
    g_autofree char *where = g_build_filename(config->run_dir, "hugepages", NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GHashTable) running = NULL;
    int run, dfd;
    gboolean ok = TRUE;
    const char *name;

    if (!g_file_test(where, G_FILE_TEST_IS_DIR))
        return TRUE; /* no hook ever recorded anything */
    if ((run = fp_safedir_open(config->run_dir, FALSE, 0755, error)) < 0)
        return FALSE;
    dfd = fp_safedir_sub(run, config->run_dir, "hugepages", 0700, error);
    close(run);
    if (dfd < 0)
        return FALSE;
    if (!(dir = g_dir_open(where, 0, error))) {
        close(dfd);
        return FALSE;
    }
    if (!(running = running_uuids(config->proc_root, error))) {
        close(dfd);
        return FALSE;
    }
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *key = NULL;
        gint64 given;

        if (name[0] == '.' || !g_str_has_suffix(name, ".json"))
            continue;
        key = g_ascii_strdown(name, (gssize)strlen(name) - 5);
        /* Records of running domains are theirs; one without a UUID (a name's digest) cannot
         * be matched to a process and is given back. */
        if (g_hash_table_contains(running, key)) {
            g_ptr_array_add(notes, g_strdup_printf("hugepages: %s runs; its record stays", key));
            continue;
        }
        if (!give_back_record(config, dfd, where, name, config->hook_deadline_ms, &given, &err)) {
            g_ptr_array_add(notes, g_strdup_printf("hugepages: %s: %s", name, err->message));
            g_clear_error(&err);
            ok = FALSE;
            continue;
        }
        g_ptr_array_add(notes, g_strdup_printf("hugepages: gave back %" G_GINT64_FORMAT
                                               " pages recorded in %s/%s",
                                               given, where, name));
    }
    close(dfd);
    if (!ok)
        g_set_error(error, FP_ERROR, FP_ERROR_IO,
                    "some hugepage records could not be given back (see the notes)");
    return ok;
}

static void
timeline(FpHookCtx *ctx, FpDomain *dom, const char *event, json_object *fields, gboolean fresh)
{
    g_autofree char *uuid = fp_domain_uuid(dom), *name = fp_domain_name(dom);
    g_autoptr(GError) error = NULL;

    if (!fp_timeline_add(ctx->config->run_dir, uuid, name, "hook", event, fields, fresh, &error))
        say(ctx, G_LOG_LEVEL_DEBUG, "timeline: %s", error->message);
}

/* The wrapper runs as QEMU's user and may not create files in root's timeline directory: it gets
 * its own file, fresh, before QEMU starts. */
static void
give_wrapper_timeline(FpHookCtx *ctx, FpDomain *dom)
{
    g_autofree char *uuid = fp_domain_uuid(dom), *name = fp_domain_name(dom);
    g_autoptr(GError) error = NULL;
    uid_t uid;
    gid_t gid;

    if (!fp_config_qemu_ids(ctx->config, &uid, &gid))
        say(ctx, G_LOG_LEVEL_DEBUG, "timeline: no user %s for the wrapper's file",
            ctx->config->qemu_user);
    else if (!fp_timeline_give(ctx->config->run_dir, uuid, name, "qemu", uid, gid, &error))
        say(ctx, G_LOG_LEVEL_DEBUG, "timeline: %s", error->message);
}

static FpPoolOptions
pool_options(const FpHookCtx *ctx)
{
    FpPoolOptions o = {
        .dir = ctx->config->pool_dir,
        .sysfs_root = ctx->config->sysfs_root,
        .proc_root = ctx->config->proc_root,
    };
    return o;
}

/* A pre-zeroed slot for guest RAM, when the pool has one of the domain's size, page size and
 * node, and libvirt confines each domain on this host with a profile of its own. Claimed here,
 * still root's: only at start begin, once the live XML shows the domain's own AppArmor profile,
 * does QEMU's user get it (fp_hook_start). Where start begin never comes, QEMU cannot open it. */
static gboolean
claim_slot(FpHookCtx *ctx, FpDomain *dom)
{
    FpPoolOptions o = pool_options(ctx);
    guint64 page = fp_domain_hugepage_kib(dom), pool_page = 0, kib;
    g_autofree char *uuid = fp_domain_uuid(dom), *why = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(FpSlot) slot = NULL;
    uid_t uid;
    gid_t gid;

    if (!ctx->config_ok || !ctx->config->use_pool || !page || !uuid ||
        !fp_domain_memory_kib(dom, &kib, NULL))
        return FALSE;
    if (!fp_pool_page_kib(&o, &pool_page, &error) || pool_page != page) {
        say(ctx, G_LOG_LEVEL_DEBUG, "pool: not used (%s)",
            error ? error->message : "other page size");
        return FALSE;
    }
    if ((why = fp_hook_slots_refused(ctx->config))) {
        say(ctx, G_LOG_LEVEL_INFO, "pool: not used: %s; QEMU allocates guest memory itself", why);
        return FALSE;
    }
    /* One slot holds one RAM backend; QEMU gets one per guest NUMA cell. Without a claim the
     * hook reserves the hugepages QEMU will need instead. */
    if (fp_domain_numa_cells(dom) > 1) {
        say(ctx, G_LOG_LEVEL_DEBUG, "pool: not used (%u guest NUMA cells)",
            fp_domain_numa_cells(dom));
        return FALSE;
    }
    /* Without QEMU's user, QEMU could not open a slot: QEMU allocates itself. */
    if (!fp_config_qemu_ids(ctx->config, &uid, &gid)) {
        say(ctx, G_LOG_LEVEL_WARNING, "pool: no user %s; QEMU allocates guest memory itself",
            ctx->config->qemu_user);
        return FALSE;
    }
    /* A slot this domain still holds is stale (a start that died after its claim): it goes
     * to scrubbing like any returned one, and the domain gets a clean one. */
    if (!fp_pool_release(&o, uuid, &error)) {
        say(ctx, G_LOG_LEVEL_WARNING, "pool: %s", error->message);
        g_clear_error(&error);
    }
    if (!(slot = fp_pool_claim(&o, fp_domain_memory_node(dom), kib * 1024, uuid, &error))) {
        say(ctx, G_LOG_LEVEL_INFO, "pool: %s; QEMU allocates guest memory itself", error->message);
        return FALSE;
    }
    say(ctx, G_LOG_LEVEL_INFO, "pool: claimed %s for guest memory", slot->path);
    return TRUE;
}

char *
fp_hook_slots_refused(const FpConfig *config)
{
    char *why = NULL;

    if (!config->use_pool)
        return g_strdup("use_pool is false");
    /* Every QEMU runs as one user: without a profile per domain, any of them could open
     * another guest's slot by name. */
    if (!fp_apparmor_confines_domains(config, &why))
        return why;
    return NULL;
}

/* The slot OWNER claimed (not yet given), or NULL. */
static FpSlot *
claimed_slot(const FpPoolOptions *o, const char *owner)
{
    g_autoptr(GPtrArray) slots = fp_pool_list(o, NULL);

    for (guint i = 0; slots && i < slots->len; i++) {
        FpSlot *s = g_ptr_array_index(slots, i);

        if (s->state == FP_SLOT_CLAIMED && !s->problem && !g_ascii_strcasecmp(s->owner, owner))
            return g_ptr_array_steal_index(slots, i);
    }
    return NULL;
}

/* Every slot the domain holds -> root's, dirty: first thing at release end, whatever use_pool
 * says now, so a departed tenant's memory is root's at once. */
static void
release_slot(FpHookCtx *ctx, FpDomain *dom)
{
    FpPoolOptions o = pool_options(ctx);
    g_autofree char *uuid = fp_domain_uuid(dom);
    g_autoptr(GError) error = NULL;

    if (uuid && fp_pool_owner_valid(uuid) && !fp_pool_release(&o, uuid, &error))
        say(ctx, G_LOG_LEVEL_WARNING, "pool: %s", error->message);
}

gboolean
fp_hook_prepare(FpHookCtx *ctx, FpDomain *dom, GError **error)
{
    g_autoptr(GArray) all = device_list(dom, FALSE);
    g_autoptr(GArray) managed = device_list(dom, TRUE);
    g_autofree char *name = fp_domain_name(dom);
    FpQemuCaps caps;
    uid_t qemu_uid;
    gid_t qemu_gid;
    json_object *ev = json_object_new_object();
    gboolean ok = TRUE;

    /* One timeline write per start, at the end: it is on the VM's critical path. */
    json_object_object_add(ev, "begin_us", json_object_new_int64(g_get_real_time()));
    give_wrapper_timeline(ctx, dom);
    /* Probed here, so the wrapper (running as QEMU's user) finds the answer cached: QEMU runs
     * as that user, root only writes the answer. */
    if (ctx->config_ok && fp_config_qemu_ids(ctx->config, &qemu_uid, &qemu_gid))
        fp_qemu_caps_probe_as(ctx->config->qemu_binary, ctx->config->run_dir,
                              MIN(5000, left_ms(ctx)), ctx->config->qemu_user, qemu_uid, qemu_gid,
                              &caps, NULL);

    /* Managed devices too: bound in parallel now, libvirt's one-by-one detach finds them done. */
    g_array_append_vals(all, managed->data, managed->len);
    if (all->len) {
        g_autofree char *uuid = fp_domain_uuid(dom);
        FpPrepOptions o = prep_options(ctx, name, FP_RELEASE_WARM);
        gint64 devices_begin = g_get_real_time();
        g_autoptr(FpPrepReport) report = NULL;

        /* Who else uses a device: looked at here, before libvirt's own check, which comes
         * after this hook; the domain's own status file is not "someone else". */
        o.owner_uuid = uuid;
        o.proc_root = ctx->config->proc_root;
        o.dev_root = ctx->config->dev_root;
        o.status_dir = ctx->config->libvirt_status_dir;
        o.host_allowed = (const char *const *)ctx->config->host_devices_allowed;
        report = fp_prep_prepare((FpPciAddr *)all->data, all->len, &o);

        json_object_object_add(ev, "devices_begin_us", json_object_new_int64(devices_begin));
        json_object_object_add(ev, "devices_end_us", json_object_new_int64(g_get_real_time()));
        log_report(ctx, report);
        json_object_object_add(ev, "devices", fp_prep_report_json(report));
        if (!report->ok) {
            g_set_error(error, FP_ERROR, FP_ERROR_REFUSED, "%s", fp_prep_report_error(report));
            ok = FALSE;
        } else {
            say(ctx, G_LOG_LEVEL_INFO, "prepared %u devices in %.0f ms", all->len,
                report->total_us / 1000.0);
        }
    }
    /* A claimed slot already holds every page the guest needs. */
    if (ok && !claim_slot(ctx, dom))
        reserve_hugepages(ctx, dom);
    json_object_object_add(ev, "ok", json_object_new_boolean(ok));
    timeline(ctx, dom, "hook-prepare", ev, TRUE);
    return ok;
}

/* libvirt's per-domain AppArmor profile names only what libvirt gave the domain: the pool slot
 * claimed for it goes to QEMU's user, and into that profile alone, only when the live XML shows
 * that profile; never into a rule that every domain shares. One grant only: each is a
 * virt-aa-helper run that recompiles the profile on the start path (the wrapper's timeline event
 * goes to the domain's log instead of a file the profile would name). A domain without its own
 * profile gets no slot: the claim is taken back and its hugepages reserved instead. */
void
fp_hook_start(FpHookCtx *ctx, FpDomain *dom, const char *xml, gsize len)
{
    FpPoolOptions o = pool_options(ctx);
    g_autofree char *uuid = fp_domain_uuid(dom), *label = NULL, *path = NULL, *why = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(FpSlot) slot = NULL;
    uid_t uid;
    gid_t gid;

    if (!uuid || !fp_pool_owner_valid(uuid) || !(slot = claimed_slot(&o, uuid)))
        return;
    if (!ctx->config_ok || !ctx->config->use_pool)
        why = g_strdup("the pool is off");
    else if (fp_apparmor_confines_domains(ctx->config, &why))
        fp_apparmor_domain_confined(fp_domain_root(dom), uuid, &label, &why);
    if (!why && !fp_config_qemu_ids(ctx->config, &uid, &gid))
        why = g_strdup_printf("no user %s", ctx->config->qemu_user);
    if (!why && !fp_pool_give(&o, slot, uid, gid, &error))
        why = g_strdup(error->message);
    if (!why && !(path = fp_pool_claimed_path(&o, uuid, 0)))
        why = g_strdup("the slot given is not usable");
    if (!why && !fp_apparmor_allow(ctx->config->apparmor_helper, label, xml, len, path, FALSE,
                                   MIN(10000, left_ms(ctx)), NULL, &error))
        why = g_strdup(error->message);
    if (!why) {
        say(ctx, G_LOG_LEVEL_INFO, "pool: %s may open %s (AppArmor, its own profile)", label, path);
        return;
    }
    say(ctx, G_LOG_LEVEL_INFO, "pool: slot taken back: %s; QEMU allocates guest memory itself",
        why);
    g_clear_error(&error);
    if (!fp_pool_release(&o, uuid, &error))
        say(ctx, G_LOG_LEVEL_WARNING, "pool: %s", error->message);
    reserve_hugepages(ctx, dom);
}

/* One line per set of devices released: what was done to them and why (docs/security.md,
 * "Reset at release"). A device of a warm set can still go back to its driver (the host's own, or
 * one the kernel cannot reset): the steps it took say which. */
static void
say_release_why(FpHookCtx *ctx, const FpPrepReport *report)
{
    guint reset = 0, restored = 0;

    for (guint i = 0; i < report->devices->len; i++) {
        const FpPrepDevice *d = g_ptr_array_index(report->devices, i);
        const GArray *steps = fp_prep_device_steps(d);
        gboolean back = FALSE, again = FALSE;

        if (fp_prep_device_status(d) != FP_DEV_DONE)
            continue;
        for (guint s = 0; steps && s < steps->len; s++) {
            const FpPrepStep *st = &g_array_index(steps, FpPrepStep, s);

            back |= !strcmp(st->name, "restore");
            again |= !strcmp(st->name, "reset") && !g_strcmp0(st->note, FP_PREP_RELEASE_RESET_WHY);
        }
        reset += again && !back;
        restored += back;
    }
    if (reset)
        say(ctx, G_LOG_LEVEL_INFO,
            "release: %u device%s kept on vfio-pci and reset again for the next tenant: the "
            "kernel does not report whether its reset at QEMU's close ran or worked",
            reset, reset == 1 ? "" : "s");
    if (restored)
        say(ctx, G_LOG_LEVEL_INFO,
            "release: %u device%s back on the host's driver, not reset by fastpass: a later "
            "prepare binds and resets %s before a tenant gets %s",
            restored, restored == 1 ? "" : "s", restored == 1 ? "it" : "them",
            restored == 1 ? "it" : "them");
}

gboolean
fp_hook_release(FpHookCtx *ctx, FpDomain *dom, GError **error)
{
    g_autoptr(GArray) unmanaged = device_list(dom, FALSE);
    g_autoptr(GArray) managed = device_list(dom, TRUE);
    g_autofree char *name = fp_domain_name(dom);
    g_autofree char *dom_uuid = fp_domain_uuid(dom);
    g_autoptr(GArray) unplugged = unplugged_claims(ctx, dom_uuid, unmanaged, managed);
    gboolean ok = TRUE;
    json_object *ev = json_object_new_object(), *reports = json_object_new_array();
    json_object *begin_ev = json_object_new_object();
    gint64 begin = g_get_real_time(), devices_begin = 0;
    struct {
        GArray *addrs;
        FpReleaseMode mode;
    } sets[] = {{unmanaged, ctx->config->release_mode},
                /* managed='yes' means back to the host driver at stop. libvirt does that only for
                 * a device it moved to vfio-pci itself; this hook moved it first, so libvirt left
                 * it there: the hook gives it back (nothing to do where libvirt already did). */
                {managed, FP_RELEASE_RESTORE},
                /* Claimed at start, hot-unplugged since (gone from the live XML): back to the
                 * host driver, so that no claim outlives its domain. */
                {unplugged, FP_RELEASE_RESTORE}};

    /* The stop's timeline: a begin now, so that a release killed half-way (its deadline, a hung
     * reset) shows as begun and unfinished, not as missing; the rest in one write at the end. */
    json_object_object_add(begin_ev, "begin_us", json_object_new_int64(begin));
    json_object_object_add(ev, "begin_us", json_object_new_int64(begin));
    timeline(ctx, dom, "hook-release-begin", begin_ev, FALSE);
    /* Before the devices, whose resets can take until the deadline. */
    release_slot(ctx, dom);
    for (gsize i = 0; i < G_N_ELEMENTS(sets); i++) {
        FpPrepOptions o = prep_options(ctx, name, sets[i].mode);
        g_autoptr(FpPrepReport) report = NULL;

        if (!sets[i].addrs->len)
            continue;
        o.owner_uuid = dom_uuid;
        o.proc_root = ctx->config->proc_root;
        o.dev_root = ctx->config->dev_root;
        o.status_dir = ctx->config->libvirt_status_dir;
        if (!devices_begin)
            devices_begin = g_get_real_time();
        report = fp_prep_release((FpPciAddr *)sets[i].addrs->data, sets[i].addrs->len, &o);
        log_report(ctx, report);
        say_release_why(ctx, report);
        json_object_array_add(reports, fp_prep_report_json(report));
        if (!report->ok && ok) {
            g_set_error(error, FP_ERROR, FP_ERROR_IO, "%s", fp_prep_report_error(report));
            ok = FALSE;
        }
    }
    if (devices_begin) {
        json_object_object_add(ev, "devices_begin_us", json_object_new_int64(devices_begin));
        json_object_object_add(ev, "devices_end_us", json_object_new_int64(g_get_real_time()));
    }
    json_object_object_add(ev, "devices", reports);
    return_hugepages(ctx, dom);
    json_object_object_add(ev, "ok", json_object_new_boolean(ok));
    timeline(ctx, dom, "hook-release", ev, FALSE);
    return ok;
}

char *
fp_hook_rewrite_xml(FpHookCtx *ctx, const char *xml, gsize len, gsize *out_len)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FpDomain) dom = NULL;
    g_autoptr(FpHost) host = NULL;
    g_autoptr(FpTuneResult) res = NULL;

    /* The incoming guest's device model must not change: no rule that adds or removes a
     * device or its ROM, only host-side ones (pages, allocation, pinning). */
    FpTuneOptions opts = {
        .disabled = (1u << fp_tune_rule_index("memballoon")) | (1u << fp_tune_rule_index("rom")),
    };

    if (ctx->config_ok && ctx->config->tune_on_restore &&
        (dom = fp_domain_load_memory(xml, len, "domain", &error))) {
        host = fp_host_new(ctx->config->sysfs_root);
        fp_host_load_sysfs(host);
        res = fp_tune_run(dom, host, &opts, TRUE, &error);
    }
    if (res) {
        for (guint i = 0; i < res->warnings->len; i++)
            say(ctx, G_LOG_LEVEL_INFO, "tune: %s",
                (const char *)g_ptr_array_index(res->warnings, i));
        say(ctx, G_LOG_LEVEL_INFO, "tune: %u changes", res->findings->len);
        return fp_domain_format(dom, out_len);
    }
    if (error)
        say(ctx, G_LOG_LEVEL_WARNING, "tune: %s; passing the XML on unchanged", error->message);
    *out_len = len;
    return g_memdup2(xml, len);
}
