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

/* A record is three small numbers. */
#define HUGEPAGE_RECORD_MAX 4096

static void
reserve_hugepages(FpHookCtx *ctx, const FpDomain *dom)
{
    guint64 page = fp_domain_hugepage_kib(dom), mem, added = 0;
    int node = fp_domain_memory_node(dom), dfd;
    g_autoptr(GError) error = NULL;
    g_autofree char *record = NULL, *where = NULL;
    json_object *j;

    if (!page || !ctx->config->reserve_hugepages || !ctx->config_ok)
        return;
    if (!fp_domain_memory_kib(dom, &mem, NULL) || mem % page) {
        say(ctx, G_LOG_LEVEL_WARNING,
            "hugepages: guest memory is not a whole number of %" G_GUINT64_FORMAT
            " KiB pages; not reserving",
            page);
        return;
    }
    if (!fp_hugepages_reserve(ctx->config->sysfs_root, ctx->config->proc_root, node, page,
                              mem / page, ctx->config->compact_memory, left_ms(ctx), &added,
                              &error)) {
        /* Optional: libvirt may still find the pages elsewhere, or report the shortage itself. */
        say(ctx, G_LOG_LEVEL_WARNING, "hugepages: %s", error->message);
        return;
    }
    if (!added)
        return;
    say(ctx, G_LOG_LEVEL_INFO,
        "hugepages: added %" G_GUINT64_FORMAT " pages of %" G_GUINT64_FORMAT " KiB on %s%d", added,
        page, node < 0 ? "the host pool" : "node ", node < 0 ? 0 : node);
    record = hugepage_record_name(dom);
    if ((dfd = hugepage_record_dir(ctx, &where, &error)) < 0) {
        say(ctx, G_LOG_LEVEL_WARNING, "hugepages: cannot record what was added: %s",
            error->message);
        return;
    }
    j = json_object_new_object();
    json_object_object_add(j, "node", json_object_new_int(node));
    json_object_object_add(j, "page_kib", json_object_new_int64((gint64)page));
    json_object_object_add(j, "added", json_object_new_int64((gint64)added));
    if (!fp_safedir_write(dfd, where, record, json_object_to_json_string(j),
                          strlen(json_object_to_json_string(j)), 0600, &error))
        say(ctx, G_LOG_LEVEL_WARNING, "hugepages: cannot record what was added: %s",
            error->message);
    json_object_put(j);
    close(dfd);
}

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

static void
return_hugepages(FpHookCtx *ctx, const FpDomain *dom)
{
    g_autofree char *record = hugepage_record_name(dom), *where = NULL, *text = NULL;
    g_autoptr(GError) error = NULL;
    gint64 node, page_kib, added;
    json_object *j = NULL;
    int dfd = hugepage_record_dir(ctx, &where, &error);

    if (dfd < 0) {
        say(ctx, G_LOG_LEVEL_WARNING, "hugepages: %s", error->message);
        return;
    }
    if (!(text = fp_safedir_read(dfd, where, record, HUGEPAGE_RECORD_MAX, NULL, &error))) {
        if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            say(ctx, G_LOG_LEVEL_WARNING, "hugepages: %s; removed, nothing given back",
                error->message);
    } else if (!(j = json_tokener_parse(text)) || !record_int(j, "node", -1, 1023, &node) ||
               !record_int(j, "page_kib", 1, G_MAXINT64, &page_kib) ||
               !record_int(j, "added", 1, G_MAXINT32, &added)) {
        say(ctx, G_LOG_LEVEL_WARNING,
            "hugepages: %s/%s is not a record of added pages; removed, nothing given back", where,
            record);
    } else if (fp_hugepages_release(ctx->config->sysfs_root, (int)node, (guint64)page_kib,
                                    (guint64)added, left_ms(ctx), &error)) {
        say(ctx, G_LOG_LEVEL_INFO,
            "hugepages: gave back the %" G_GINT64_FORMAT " pages added at start", added);
    } else {
        say(ctx, G_LOG_LEVEL_WARNING, "hugepages: cannot give back pages: %s", error->message);
    }
    json_object_put(j);
    /* rm $RUN_DIR/hugepages/$KEY.json   (whatever it was: the name, never a target) */
    if (text || (error && !g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT)))
        unlinkat(dfd, record, 0);
    close(dfd);
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
 * node. QEMU's user gets the file; the wrapper finds it by the domain's UUID. */
static gboolean
claim_slot(FpHookCtx *ctx, FpDomain *dom)
{
    FpPoolOptions o = pool_options(ctx);
    guint64 page = fp_domain_hugepage_kib(dom), pool_page = 0, kib;
    g_autofree char *uuid = fp_domain_uuid(dom);
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
    /* One slot holds one RAM backend; QEMU gets one per guest NUMA cell. Without a claim the
     * hook reserves the hugepages QEMU will need instead. */
    if (fp_domain_numa_cells(dom) > 1) {
        say(ctx, G_LOG_LEVEL_DEBUG, "pool: not used (%u guest NUMA cells)",
            fp_domain_numa_cells(dom));
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
    /* Clean slots are root's: only the claimed one becomes QEMU's user's. Without that user
     * QEMU could not open it: give it back, and QEMU allocates itself. */
    if (!fp_config_qemu_ids(ctx->config, &uid, &gid) || !fp_pool_give(&o, slot, uid, gid, &error)) {
        say(ctx, G_LOG_LEVEL_WARNING,
            "pool: cannot give %s to %s: %s; QEMU allocates guest memory itself", slot->path,
            ctx->config->qemu_user, error ? error->message : "no such user");
        g_clear_error(&error);
        if (!fp_pool_release(&o, uuid, &error))
            say(ctx, G_LOG_LEVEL_WARNING, "pool: %s", error->message);
        return FALSE;
    }
    say(ctx, G_LOG_LEVEL_INFO, "pool: claimed %s for guest memory", slot->path);
    return TRUE;
}

gboolean
fp_hook_prepare(FpHookCtx *ctx, FpDomain *dom, GError **error)
{
    g_autoptr(GArray) all = device_list(dom, FALSE);
    g_autoptr(GArray) managed = device_list(dom, TRUE);
    g_autofree char *name = fp_domain_name(dom);
    FpQemuCaps caps;
    json_object *ev = json_object_new_object();
    gboolean ok = TRUE;

    /* One timeline write per start, at the end: it is on the VM's critical path. */
    json_object_object_add(ev, "begin_us", json_object_new_int64(g_get_real_time()));
    give_wrapper_timeline(ctx, dom);
    /* Probed here, as root, so the wrapper (running as QEMU's user) finds the answer cached. */
    if (ctx->config_ok)
        fp_qemu_caps_probe(ctx->config->qemu_binary, ctx->config->run_dir, MIN(5000, left_ms(ctx)),
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
 * claimed for it goes into that profile alone, never into a rule that every domain shares. One
 * grant only: each is a virt-aa-helper run that recompiles the profile on the start path (the
 * wrapper's timeline event goes to the domain's log instead of a file the profile would name). */
void
fp_hook_start(FpHookCtx *ctx, FpDomain *dom, const char *xml, gsize len)
{
    FpPoolOptions o = pool_options(ctx);
    g_autofree char *uuid = fp_domain_uuid(dom), *label = NULL, *slot = NULL;
    g_autoptr(GError) error = NULL;

    if (!ctx->config_ok || !ctx->config->use_pool || !uuid ||
        !(label = fp_apparmor_domain_label(fp_domain_root(dom))) ||
        !(slot = fp_pool_claimed_path(&o, uuid, 0)))
        return;
    if (fp_apparmor_allow(ctx->config->apparmor_helper, label, xml, len, slot, FALSE,
                          MIN(10000, left_ms(ctx)), NULL, &error))
        say(ctx, G_LOG_LEVEL_INFO, "pool: %s may open %s (AppArmor, its own profile)", label, slot);
    else
        say(ctx, G_LOG_LEVEL_WARNING,
            "pool: %s; the wrapper will let QEMU allocate guest memory itself", error->message);
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

    for (gsize i = 0; i < G_N_ELEMENTS(sets); i++) {
        FpPrepOptions o = prep_options(ctx, name, sets[i].mode);
        g_autoptr(FpPrepReport) report = NULL;

        if (!sets[i].addrs->len)
            continue;
        o.owner_uuid = dom_uuid;
        o.proc_root = ctx->config->proc_root;
        o.dev_root = ctx->config->dev_root;
        o.status_dir = ctx->config->libvirt_status_dir;
        report = fp_prep_release((FpPciAddr *)sets[i].addrs->data, sets[i].addrs->len, &o);
        log_report(ctx, report);
        if (!report->ok && ok) {
            g_set_error(error, FP_ERROR, FP_ERROR_IO, "%s", fp_prep_report_error(report));
            ok = FALSE;
        }
    }
    return_hugepages(ctx, dom);
    {
        /* Hands the slot back for scrubbing and returns at once: `fastpass pool serve` zeroes it.
         */
        FpPoolOptions o = pool_options(ctx);
        g_autofree char *uuid = fp_domain_uuid(dom);
        g_autoptr(GError) perr = NULL;

        if (uuid && ctx->config->use_pool && !fp_pool_release(&o, uuid, &perr))
            say(ctx, G_LOG_LEVEL_WARNING, "pool: %s", perr->message);
    }
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
