/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "prep.h"

#include "claim.h"
#include "devuse.h"
#include "error.h"
#include "pci.h"

#include <string.h>
#include <unistd.h>

struct FpPrepDevice {
    char bdf[FP_PCI_ADDR_STRLEN];
    FpPciAddr addr;
    FpDevStatus status;
    GError *error;
    char *driver_before, *driver_after;
    GArray *steps; /* FpPrepStep */

    FpPciDevice *dev;
    FpClaim *claim;
    FpClaimState state;
    gboolean state_exists;
    FpClaimState old; /* the state before this run wrote its intent ahead (prepare) */
    gboolean old_exists;
    gboolean ahead;   /* this run saved its "preparing" claim */
    gboolean moved;   /* fastpass changed its driver in this run */
    gboolean restore; /* release: back to the original driver whatever the mode */
};

typedef struct {
    const FpPrepOptions *opts;
    GHashTable *listed; /* BDF -> device, everything in this run */
    gint64 t0;
    gboolean rollback; /* workers undo instead of do */
} Run;

typedef enum { ADMIT_PREPARE, ADMIT_RELEASE, ADMIT_RECOVER } AdmitFor;

static gint64
now_us(const Run *run)
{
    return g_get_monotonic_time() - run->t0;
}

static void
device_free(gpointer p)
{
    FpPrepDevice *d = p;

    for (guint i = 0; d->steps && i < d->steps->len; i++)
        g_free(g_array_index(d->steps, FpPrepStep, i).note);
    if (d->steps)
        g_array_unref(d->steps);
    g_clear_error(&d->error);
    g_free(d->driver_before);
    g_free(d->driver_after);
    fp_pci_device_free(d->dev);
    fp_claim_unlock(d->claim);
    fp_claim_state_clear(&d->state);
    fp_claim_state_clear(&d->old);
    g_free(d);
}

void
fp_prep_report_free(FpPrepReport *report)
{
    if (!report)
        return;
    g_ptr_array_unref(report->devices);
    g_free(report);
}

static const char *const status_names[] = {"done",        "refused",     "failed", "timed-out",
                                           "rolled-back", "not-started", "left"};
G_STATIC_ASSERT(G_N_ELEMENTS(status_names) == FP_DEV_N_STATUS);

const char *
fp_prep_status_name(FpDevStatus status)
{
    return status < FP_DEV_N_STATUS ? status_names[status] : "unknown";
}

/* The device's first error is kept (domain, code and message); later ones do not replace it. */
static void
set_failure(FpPrepDevice *d, const GError *error)
{
    if (d->error)
        return;
    d->status = g_error_matches(error, FP_ERROR, FP_ERROR_TIMEOUT)   ? FP_DEV_TIMED_OUT
                : g_error_matches(error, FP_ERROR, FP_ERROR_REFUSED) ? FP_DEV_REFUSED
                                                                     : FP_DEV_FAILED;
    d->error = g_error_copy(error);
}

static void G_GNUC_PRINTF(2, 3) refuse(FpPrepDevice *d, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_clear_error(&d->error);
    d->error = g_error_new_literal(FP_ERROR, FP_ERROR_REFUSED, msg);
    d->status = FP_DEV_REFUSED;
}

/* Time left of the device's budget; at least 1 ms so the last step still gets tried. */
static guint
budget_ms(const Run *run, gint64 deadline)
{
    gint64 left = (deadline - now_us(run)) / 1000;

    return left < 1 ? 1 : (guint)left;
}

typedef gboolean (*StepFunc)(FpPciDevice *dev, guint timeout_ms, GError **error);

static gboolean
step(Run *run, FpPrepDevice *d, const char *name, StepFunc fn, gint64 deadline, GError **error)
{
    FpPrepStep s = {.name = name, .start_us = now_us(run)};
    gboolean ok = fn(d->dev, budget_ms(run, deadline), error);

    s.end_us = now_us(run);
    if (!ok)
        s.note = g_strdup((*error)->message);
    g_array_append_val(d->steps, s);
    return ok;
}

static void
note_step(Run *run, FpPrepDevice *d, const char *name, const char *note)
{
    FpPrepStep s = {
        .name = name, .start_us = now_us(run), .end_us = now_us(run), .note = g_strdup(note)};

    g_array_append_val(d->steps, s);
}

/* Says why the step just done was done, unless it already says something. */
static void
note_last_step(FpPrepDevice *d, const char *why)
{
    FpPrepStep *s = d->steps->len ? &g_array_index(d->steps, FpPrepStep, d->steps->len - 1) : NULL;

    if (s && !s->note)
        s->note = g_strdup(why);
}

static gboolean
do_reset(FpPciDevice *dev, guint timeout_ms, GError **error)
{
    return fp_pci_reset(dev, timeout_ms, error);
}

static gboolean
do_bind_vfio(FpPciDevice *dev, guint timeout_ms, GError **error)
{
    return fp_pci_bind_vfio(dev, timeout_ms, error);
}

/* The reset after binding; a device the kernel offers no reset for (no `reset` file) is noted,
 * not failed: VFIO could not reset it either. An emptied reset_method never gets here. */
static gboolean
reset_step(Run *run, FpPrepDevice *d, gint64 deadline, GError **error)
{
    if (!fp_pci_can_reset(d->dev)) {
        note_step(run, d, "reset", "no reset method");
        return TRUE;
    }
    return step(run, d, "reset", do_reset, deadline, error);
}

/* Back to the original driver; the claim's original_driver is what it goes back to. */
static gboolean
restore_step(Run *run, FpPrepDevice *d, guint timeout_ms, GError **error)
{
    FpPrepStep s = {.name = "restore", .start_us = now_us(run)};
    gboolean ok = fp_pci_bind_driver(d->dev, d->state.original_driver, timeout_ms, error);

    s.end_us = now_us(run);
    if (!ok)
        s.note = g_strdup((*error)->message);
    g_array_append_val(d->steps, s);
    return ok;
}

/* Adds a suffix to the device's error, keeping its domain and code. */
static void G_GNUC_PRINTF(2, 3) append_error(FpPrepDevice *d, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *more = NULL;

    va_start(ap, fmt);
    more = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (!d->error) {
        d->error = g_error_new_literal(FP_ERROR, FP_ERROR_IO, more);
    } else {
        char *msg = g_strdup_printf("%s; %s", d->error->message, more);

        g_free(d->error->message);
        d->error->message = msg;
    }
}

static void
prepare_worker(gpointer data, gpointer user)
{
    FpPrepDevice *d = data;
    Run *run = user;
    gint64 deadline = now_us(run) + (gint64)run->opts->timeout_ms * 1000;
    g_autoptr(GError) error = NULL;

    if (run->rollback) {
        const char *orig = d->state.original_driver;

        if (d->status == FP_DEV_DONE)
            d->status = FP_DEV_ROLLED_BACK;
        if (!restore_step(run, d, run->opts->timeout_ms, &error)) {
            append_error(d, "could not put it back on %s: %s", orig ? orig : "no driver",
                         error->message);
            d->status = FP_DEV_FAILED;
        } else {
            d->moved = FALSE; /* back where it was: its claim can go */
        }
        return;
    }

    if (g_strcmp0(d->dev->driver, FP_VFIO_DRIVER) != 0) {
        d->state.warm = FALSE;
        d->moved = TRUE;
        if (!step(run, d, "bind", do_bind_vfio, deadline, &error)) {
            set_failure(d, error);
            return;
        }
    }
    if (d->state.warm) {
        note_step(run, d, "reset", "skipped: reset at its last release and unused since");
    } else if (!reset_step(run, d, deadline, &error)) {
        set_failure(d, error);
        return;
    }
    d->status = FP_DEV_DONE;
}

static void
release_worker(gpointer data, gpointer user)
{
    FpPrepDevice *d = data;
    Run *run = user;
    gint64 deadline = now_us(run) + (gint64)run->opts->timeout_ms * 1000;
    g_autoptr(GError) error = NULL;

    if (run->opts->mode == FP_RELEASE_RESTORE || d->restore) {
        if (!restore_step(run, d, budget_ms(run, deadline), &error))
            set_failure(d, error);
        else
            d->status = FP_DEV_DONE;
        return;
    }
    /* Warm: stay on vfio-pci (back onto it if someone moved it) and reset for the next tenant. */
    if (g_strcmp0(d->dev->driver, FP_VFIO_DRIVER) != 0 &&
        !step(run, d, "bind", do_bind_vfio, deadline, &error)) {
        set_failure(d, error);
        return;
    }
    d->state.warm = FALSE;
    if (!reset_step(run, d, deadline, &error)) {
        set_failure(d, error);
        return;
    }
    /* Not warm when the kernel did not reset it (no reset file, or an emptied reset_method). */
    d->state.warm = fp_pci_can_reset(d->dev);
    if (d->state.warm)
        note_last_step(d, FP_PREP_RELEASE_RESET_WHY);
    d->status = FP_DEV_DONE;
}

static void
run_pool(Run *run, FpPrepReport *report, GFunc worker, gboolean (*want)(FpPrepDevice *d))
{
    guint workers = run->opts->max_workers ? run->opts->max_workers : 16;
    GThreadPool *pool = g_thread_pool_new(worker, run, (gint)workers, FALSE, NULL);

    for (guint i = 0; i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);

        if (want(d))
            g_thread_pool_push(pool, d, NULL);
    }
    /* Waits for every queued device; each is bounded by its deadline. */
    g_thread_pool_free(pool, FALSE, TRUE);
}

static gboolean
want_all(FpPrepDevice *d)
{
    return d->dev != NULL && d->status == FP_DEV_NOT_STARTED;
}

/* A device whose kernel write never returned is left where it is (on vfio-pci, or unbound with
 * its override set): the kernel still holds it, and another write would hang as well. Its
 * "preparing" claim stays, so a later release or recover gives it back. */
static gboolean
want_moved(FpPrepDevice *d)
{
    return d->moved && d->status != FP_DEV_TIMED_OUT;
}

static int
cmp_bdf(gconstpointer a, gconstpointer b)
{
    return strcmp((*(FpPrepDevice *const *)a)->bdf, (*(FpPrepDevice *const *)b)->bdf);
}

/* Whether the claim's owner is the domain of this run: by UUID where both are known (a later
 * domain of the same name is someone else), else by name. */
static gboolean
same_owner(const FpClaimState *state, const FpPrepOptions *opts)
{
    if (state->uuid && opts->owner_uuid)
        return g_ascii_strcasecmp(state->uuid, opts->owner_uuid) == 0;
    return g_strcmp0(state->owner, opts->owner) == 0;
}

/* The claim names a domain of this name that is not this one (another UUID): a domain that was
 * undefined and defined again, whose claim must not be taken over silently. */
static gboolean
state_owner_named(const FpPrepDevice *d, const FpPrepOptions *opts)
{
    return d->state.uuid && opts->owner_uuid && g_strcmp0(d->state.owner, opts->owner) == 0;
}

static void
refuse_other_owner(FpPrepDevice *d, const FpPrepOptions *opts, gboolean preparing)
{
    if (state_owner_named(d, opts))
        refuse(d,
               "%s is claimed by an earlier domain named %s (uuid %s), not this one (uuid %s): "
               "run `fastpass recover` once that domain is gone",
               d->bdf, d->state.owner, d->state.uuid, opts->owner_uuid);
    else if (preparing)
        refuse(d, "%s is in use by domain %s", d->bdf, d->state.owner);
    else
        refuse(d, "%s is held by domain %s, not %s", d->bdf, d->state.owner, opts->owner);
}

/* Sets up one entry per distinct address; locks them in address order so that two runs
 * sharing devices cannot deadlock; opens each in sysfs. Returns FALSE if any was refused. */
static gboolean
admit(Run *run, FpPrepReport *report, const FpPciAddr *addrs, guint n, AdmitFor what)
{
    g_autoptr(GPtrArray) sorted = g_ptr_array_new();
    const FpPrepOptions *opts = run->opts;
    gboolean ok = TRUE;

    for (guint i = 0; i < n; i++) {
        FpPrepDevice *d = g_new0(FpPrepDevice, 1);

        d->addr = addrs[i];
        fp_pci_addr_format(&addrs[i], d->bdf);
        if (g_hash_table_contains(run->listed, d->bdf)) {
            g_free(d);
            continue;
        }
        d->status = FP_DEV_NOT_STARTED;
        d->steps = g_array_new(FALSE, FALSE, sizeof(FpPrepStep));
        g_hash_table_insert(run->listed, d->bdf, d);
        g_ptr_array_add(report->devices, d);
        g_ptr_array_add(sorted, d);
    }
    g_ptr_array_sort(sorted, cmp_bdf);
    for (guint i = 0; i < sorted->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(sorted, i);
        g_autoptr(GError) error = NULL;
        /* A "preparing" claim found under the lock was left by a run that died half-way. */
        gboolean abandoned;

        d->claim =
            fp_claim_lock(opts->run_dir, d->bdf, what == ADMIT_RECOVER ? 0 : opts->timeout_ms,
                          &d->state, &d->state_exists, &error);
        if (!d->claim) {
            set_failure(d, error);
            d->status = FP_DEV_REFUSED;
            ok = FALSE;
            continue;
        }
        abandoned = d->state_exists && d->state.phase == FP_CLAIM_PREPARING;
        if (what == ADMIT_PREPARE && d->state.owner && !abandoned && !same_owner(&d->state, opts)) {
            refuse_other_owner(d, opts, TRUE);
            ok = FALSE;
            continue;
        }
        if (what == ADMIT_RECOVER && !d->state_exists) {
            /* Only a lock file or an unfinished write: removed when it is unlocked. */
            d->status = FP_DEV_LEFT;
            note_step(run, d, "left", "no claim: leftover lock or unfinished write removed");
            continue;
        }
        if (what != ADMIT_PREPARE && !d->state_exists) {
            refuse(d, "%s was not prepared by fastpass (nothing to release)", d->bdf);
            ok = FALSE;
            continue;
        }
        if (what == ADMIT_RELEASE && opts->owner && !d->state.owner) {
            /* Free (warm): this domain never got it, e.g. its start was refused. */
            d->status = FP_DEV_LEFT;
            note_step(run, d, "left", "free: not held by this domain");
            continue;
        }
        if (what == ADMIT_RELEASE && opts->owner && d->state.owner &&
            !same_owner(&d->state, opts)) {
            refuse_other_owner(d, opts, FALSE);
            ok = FALSE;
            continue;
        }
        if (!(d->dev = fp_pci_device_open(opts->sysfs_root, &d->addr, &error))) {
            set_failure(d, error);
            ok = FALSE;
            continue;
        }
        d->driver_before = g_strdup(d->dev->driver);
    }
    return ok;
}

/* Refuses every device that another process or domain holds; fails closed (every device
 * refused) when the scan cannot read what it needs. */
static gboolean
check_others(Run *run, FpPrepReport *report)
{
    const FpPrepOptions *opts = run->opts;
    FpDevUseOptions uo = {
        .proc_root = opts->proc_root ? opts->proc_root : "/proc",
        .dev_root = opts->dev_root ? opts->dev_root : "/dev",
        .status_dir = opts->status_dir,
        .self_uuid = opts->owner_uuid,
        .self_name = opts->owner,
    };
    g_autoptr(GPtrArray) devs = g_ptr_array_new();
    g_autoptr(GHashTable) refusals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GError) error = NULL;
    gboolean ok = TRUE;

    for (guint i = 0; i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);

        if (d->dev && d->status == FP_DEV_NOT_STARTED)
            g_ptr_array_add(devs, d->dev);
    }
    if (!devs->len)
        return TRUE;
    if (!fp_devuse_others(&uo, (FpPciDevice *const *)devs->pdata, devs->len, refusals, &error)) {
        for (guint i = 0; i < report->devices->len; i++) {
            FpPrepDevice *d = g_ptr_array_index(report->devices, i);

            if (d->dev && d->status == FP_DEV_NOT_STARTED)
                refuse(d, "%s: %s", d->bdf, error->message);
        }
        return FALSE;
    }
    for (guint i = 0; i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);
        const char *why = g_hash_table_lookup(refusals, d->bdf);

        if (why && d->status == FP_DEV_NOT_STARTED) {
            refuse(d, "%s", why);
            ok = FALSE;
        }
    }
    return ok;
}

static gboolean
host_allowed(const FpPrepOptions *opts, const char *bdf)
{
    return opts->host_allowed && g_strv_contains(opts->host_allowed, bdf);
}

/* What only prepare refuses: an emptied reset_method, a device the host uses. */
static gboolean
check_prepare(Run *run, FpPrepDevice *d)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *use = NULL;

    if (fp_pci_reset_method_emptied(d->dev)) {
        refuse(d,
               "%s: its reset_method is empty: the kernel would not reset it between tenants "
               "(echo default > %s/reset_method)",
               d->bdf, d->dev->dir);
        return FALSE;
    }
    /* Only a host driver can be using it for the host. */
    if (!d->dev->driver || !strcmp(d->dev->driver, FP_VFIO_DRIVER) ||
        !strcmp(d->dev->driver, "pci-stub"))
        return TRUE;
    if (!fp_devuse_host(d->dev, run->opts->proc_root ? run->opts->proc_root : "/proc", &use,
                        &error)) {
        refuse(d, "%s: %s", d->bdf, error->message);
        return FALSE;
    }
    if (use && !host_allowed(run->opts, d->bdf)) {
        refuse(d,
               "%s holds the host's %s: refusing to unbind it; allow it with host_devices_allowed",
               d->bdf, use);
        return FALSE;
    }
    g_free(d->state.host_use);
    d->state.host_use = g_steal_pointer(&use);
    return TRUE;
}

static FpPrepReport *
new_report(const char *action, Run *run, const FpPrepOptions *opts)
{
    FpPrepReport *report = g_new0(FpPrepReport, 1);

    report->action = action;
    report->devices = g_ptr_array_new_with_free_func(device_free);
    run->opts = opts;
    run->listed = g_hash_table_new(g_str_hash, g_str_equal);
    run->t0 = g_get_monotonic_time();
    return report;
}

static void
finish(Run *run, FpPrepReport *report)
{
    report->ok = TRUE;
    for (guint i = 0; i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);

        if (d->dev)
            d->driver_after = g_strdup(fp_pci_device_refresh_driver(d->dev));
        report->ok &= d->status == FP_DEV_DONE || d->status == FP_DEV_LEFT;
        g_clear_pointer(&d->claim, fp_claim_unlock);
    }
    report->total_us = now_us(run);
    g_hash_table_unref(run->listed);
}

static void
copy_state(FpClaimState *to, const FpClaimState *from)
{
    fp_claim_state_clear(to);
    to->owner = g_strdup(from->owner);
    to->uuid = g_strdup(from->uuid);
    to->original_driver = g_strdup(from->original_driver);
    to->host_use = g_strdup(from->host_use);
    to->warm = from->warm;
    to->phase = from->phase;
    to->stuck = from->stuck;
}

/* Write-ahead: the claim names the owner and the original driver before the first sysfs
 * write, so a crash at any later step leaves what `release`, the next `prepare` and
 * `fastpass recover` need to give the device back. */
static gboolean
save_intent(Run *run, FpPrepDevice *d, GError **error)
{
    const FpPrepOptions *opts = run->opts;

    copy_state(&d->old, &d->state);
    /* An abandoned "preparing" claim is kept too: it may be all that knows the driver. */
    d->old_exists = d->state_exists;
    /* Where it came from, unless an earlier run already knew it: a device on vfio-pci without
     * a claim (nobody holds it: checked) goes back to vfio-pci. */
    if (!d->state_exists) {
        g_free(d->state.original_driver);
        d->state.original_driver = g_strdup(d->dev->driver);
    }
    if (d->state_exists && d->state.phase == FP_CLAIM_PREPARING)
        d->state.warm = FALSE; /* half-way: not known to be reset */
    g_free(d->state.owner);
    d->state.owner = g_strdup(opts->owner);
    g_free(d->state.uuid);
    d->state.uuid = g_strdup(opts->owner_uuid);
    d->state.phase = FP_CLAIM_PREPARING;
    d->state.stuck = FALSE;
    if (!fp_claim_save(d->claim, &d->state, error))
        return FALSE;
    d->ahead = TRUE;
    return TRUE;
}

/* After a prepare that did not go through: the claim goes back to what it was, unless the device
 * could not be put back (then the "preparing" claim stays for release or recover). */
static void
undo_intent(FpPrepDevice *d)
{
    g_autoptr(GError) error = NULL;

    if (!d->ahead || d->moved)
        return;
    if (d->old_exists ? !fp_claim_save(d->claim, &d->old, &error)
                      : !fp_claim_forget(d->claim, &error))
        append_error(d, "%s", error->message);
}

static FpPrepReport *recover(const FpPrepOptions *opts, gboolean only_preparing,
                             const FpPciAddr *exclude, guint n_exclude);

/* Claims a dead prepare left "preparing", except those in this run: undone first, so that no
 * device stays half-moved with its original driver known only to a file. */
static void
recover_abandoned(const FpPrepOptions *opts, const FpPciAddr *addrs, guint n)
{
    FpPrepReport *r = recover(opts, TRUE, addrs, n);

    fp_prep_report_free(r);
}

FpPrepReport *
fp_prep_prepare(const FpPciAddr *addrs, guint n, const FpPrepOptions *opts)
{
    Run run = {0};
    FpPrepReport *report;
    gboolean ok;

    recover_abandoned(opts, addrs, n);
    report = new_report("prepare", &run, opts);
    ok = admit(&run, report, addrs, n, ADMIT_PREPARE);
    /* Every check runs before anything changes, so a refusal leaves all as it was. */
    for (guint i = 0; ok && i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);
        g_autoptr(GError) error = NULL;

        if (!fp_pci_check_group(d->dev, run.listed, &error)) {
            set_failure(d, error);
            ok = FALSE;
        }
    }
    if (ok)
        ok = check_others(&run, report);
    for (guint i = 0; ok && i < report->devices->len; i++)
        ok = check_prepare(&run, g_ptr_array_index(report->devices, i));
    for (guint i = 0; ok && i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);
        g_autoptr(GError) error = NULL;

        if (!save_intent(&run, d, &error)) {
            g_prefix_error(&error, "%s: cannot record the claim before moving it: ", d->bdf);
            set_failure(d, error);
            ok = FALSE;
        }
    }
    if (ok) {
        run_pool(&run, report, prepare_worker, want_all);
        for (guint i = 0; i < report->devices->len; i++)
            ok &= ((FpPrepDevice *)g_ptr_array_index(report->devices, i))->status == FP_DEV_DONE;
        for (guint i = 0; ok && i < report->devices->len; i++) {
            FpPrepDevice *d = g_ptr_array_index(report->devices, i);
            g_autoptr(GError) error = NULL;

            d->state.phase = FP_CLAIM_PREPARED;
            d->state.warm = FALSE;
            if (!fp_claim_save(d->claim, &d->state, &error)) {
                set_failure(d, error);
                ok = FALSE;
            }
        }
        if (!ok) {
            run.rollback = TRUE;
            run_pool(&run, report, prepare_worker, want_moved);
        }
    }
    for (guint i = 0; !ok && i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);

        undo_intent(d);
        if (d->status == FP_DEV_TIMED_OUT && d->moved) {
            g_autoptr(GError) error = NULL;

            /* The next prepare's sweep leaves it alone (it would only wait on it again);
             * release and recover still give it back. */
            d->state.stuck = TRUE;
            if (!fp_claim_save(d->claim, &d->state, &error))
                append_error(d, "%s", error->message);
            append_error(d, "left on %s until the kernel finishes (release it later)",
                         d->dev->driver ? d->dev->driver : "no driver");
        }
    }
    finish(&run, report);
    return report;
}

static void
forget_or_free(FpPrepDevice *d, FpReleaseMode mode)
{
    g_autoptr(GError) error = NULL;

    if (mode != FP_RELEASE_WARM || d->restore) {
        if (!fp_claim_forget(d->claim, &error))
            set_failure(d, error);
        return;
    }
    g_clear_pointer(&d->state.owner, g_free);
    g_clear_pointer(&d->state.uuid, g_free);
    d->state.phase = FP_CLAIM_PREPARED;
    d->state.stuck = FALSE;
    if (!fp_claim_save(d->claim, &d->state, &error))
        set_failure(d, error);
}

FpPrepReport *
fp_prep_release(const FpPciAddr *addrs, guint n, const FpPrepOptions *opts)
{
    Run run = {0};
    FpPrepReport *report = new_report("release", &run, opts);

    admit(&run, report, addrs, n, ADMIT_RELEASE);
    /* Never a device someone else holds: not reset, not unbound. */
    check_others(&run, report);
    for (guint i = 0; i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);

        /* The host's own device goes back to it; one the kernel cannot reset is not kept. */
        if (d->dev && (d->state.host_use || fp_pci_reset_method_emptied(d->dev)))
            d->restore = TRUE;
    }
    /* Release is per device: one that cannot be released does not hold back the others. */
    run_pool(&run, report, release_worker, want_all);
    for (guint i = 0; i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);

        if (d->status == FP_DEV_DONE && d->claim)
            forget_or_free(d, opts->mode);
    }
    finish(&run, report);
    return report;
}

static gboolean
excluded(const char *bdf, const FpPciAddr *exclude, guint n)
{
    for (guint k = 0; k < n; k++) {
        char other[FP_PCI_ADDR_STRLEN];

        fp_pci_addr_format(&exclude[k], other);
        if (strcmp(other, bdf) == 0)
            return TRUE;
    }
    return FALSE;
}

FpPrepReport *
fp_prep_recover(const FpPrepOptions *opts, gboolean only_preparing)
{
    return recover(opts, only_preparing, NULL, 0);
}

static FpPrepReport *
recover(const FpPrepOptions *opts, gboolean only_preparing, const FpPciAddr *exclude,
        guint n_exclude)
{
    Run run = {0};
    FpPrepReport *report = new_report("recover", &run, opts);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) claims = fp_claim_list(opts->run_dir, TRUE, &error);
    g_autoptr(GPtrArray) running = NULL;
    g_autoptr(GArray) addrs = g_array_new(FALSE, FALSE, sizeof(FpPciAddr));
    FpPrepOptions o = *opts;

    o.mode = FP_RELEASE_RESTORE;
    o.owner = NULL;
    o.owner_uuid = NULL;
    run.opts = &o;
    if (claims && opts->status_dir)
        running = fp_running_domains(opts->status_dir, &error);
    if (!claims || (opts->status_dir && !running)) {
        FpPrepDevice *d = g_new0(FpPrepDevice, 1);

        /* Nothing known: nothing touched. */
        g_strlcpy(d->bdf, "-", sizeof(d->bdf));
        d->steps = g_array_new(FALSE, FALSE, sizeof(FpPrepStep));
        d->status = FP_DEV_FAILED;
        d->error = g_steal_pointer(&error);
        g_ptr_array_add(report->devices, d);
        finish(&run, report);
        return report;
    }
    for (guint i = 0; i < claims->len; i++) {
        FpPciAddr a;

        const char *bdf = g_ptr_array_index(claims, i);

        if (!excluded(bdf, exclude, n_exclude) && fp_pci_addr_parse(bdf, &a, NULL))
            g_array_append_val(addrs, a);
    }
    admit(&run, report, (FpPciAddr *)addrs->data, addrs->len, ADMIT_RECOVER);
    for (guint i = 0; i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);
        gboolean preparing = d->state.phase == FP_CLAIM_PREPARING;

        if (!d->claim || d->status != FP_DEV_NOT_STARTED)
            continue;
        if (only_preparing && (!preparing || d->state.stuck)) {
            d->status = FP_DEV_LEFT;
            note_step(&run, d, "left",
                      preparing ? "a kernel write on it never returned" : "in order");
        } else if (!preparing && !d->state.owner && d->state.warm) {
            d->status = FP_DEV_LEFT;
            note_step(&run, d, "left", "free and warm on vfio-pci");
        } else if (!preparing && d->state.owner &&
                   fp_running_find(running, d->state.uuid, d->state.owner)) {
            d->status = FP_DEV_LEFT;
            note_step(&run, d, "left", "its domain is running");
        }
    }
    check_others(&run, report);
    run_pool(&run, report, release_worker, want_all);
    for (guint i = 0; i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);

        if (d->status == FP_DEV_DONE && d->claim)
            forget_or_free(d, FP_RELEASE_RESTORE);
    }
    finish(&run, report);
    return report;
}

GPtrArray *
fp_prep_claimed_by(const char *run_dir, const char *uuid, GError **error)
{
    g_autoptr(GPtrArray) claims = fp_claim_list(run_dir, FALSE, error);
    g_autoptr(GPtrArray) mine = g_ptr_array_new_with_free_func(g_free);

    if (!claims)
        return NULL;
    for (guint i = 0; uuid && i < claims->len; i++) {
        const char *bdf = g_ptr_array_index(claims, i);
        FpClaimState st = {0};
        gboolean exists = FALSE;
        g_autoptr(FpClaim) claim = fp_claim_lock(run_dir, bdf, 1000, &st, &exists, NULL);

        if (claim && exists && st.uuid && g_ascii_strcasecmp(st.uuid, uuid) == 0)
            g_ptr_array_add(mine, g_strdup(bdf));
        fp_claim_state_clear(&st);
    }
    return g_steal_pointer(&mine);
}

const char *
fp_prep_device_bdf(const FpPrepDevice *d)
{
    return d->bdf;
}

FpDevStatus
fp_prep_device_status(const FpPrepDevice *d)
{
    return d->status;
}

const GError *
fp_prep_device_error(const FpPrepDevice *d)
{
    return d->error;
}

const GArray *
fp_prep_device_steps(const FpPrepDevice *d)
{
    return d->steps;
}

const char *
fp_prep_report_error(const FpPrepReport *report)
{
    /* A refusal or failure explains more than the rollbacks it caused. */
    for (guint i = 0; i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);

        if (d->error && d->status != FP_DEV_ROLLED_BACK)
            return d->error->message;
    }
    return NULL;
}

json_object *
fp_prep_report_json(const FpPrepReport *report)
{
    json_object *obj = json_object_new_object();
    json_object *devs = json_object_new_array();

    json_object_object_add(obj, "action", json_object_new_string(report->action));
    json_object_object_add(obj, "ok", json_object_new_boolean(report->ok));
    json_object_object_add(obj, "total_ms", json_object_new_double(report->total_us / 1000.0));
    for (guint i = 0; i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);
        json_object *jd = json_object_new_object();
        json_object *steps = json_object_new_array();

        json_object_object_add(jd, "bdf", json_object_new_string(d->bdf));
        json_object_object_add(jd, "status",
                               json_object_new_string(fp_prep_status_name(d->status)));
        json_object_object_add(jd, "error",
                               d->error ? json_object_new_string(d->error->message) : NULL);
        json_object_object_add(jd, "driver_before",
                               d->driver_before ? json_object_new_string(d->driver_before) : NULL);
        json_object_object_add(jd, "driver_after",
                               d->driver_after ? json_object_new_string(d->driver_after) : NULL);
        json_object_object_add(
            jd, "original_driver",
            d->state.original_driver ? json_object_new_string(d->state.original_driver) : NULL);
        for (guint s = 0; s < d->steps->len; s++) {
            const FpPrepStep *st = &g_array_index(d->steps, FpPrepStep, s);
            json_object *js = json_object_new_object();

            json_object_object_add(js, "step", json_object_new_string(st->name));
            json_object_object_add(js, "start_ms", json_object_new_double(st->start_us / 1000.0));
            json_object_object_add(js, "ms",
                                   json_object_new_double((st->end_us - st->start_us) / 1000.0));
            if (st->note)
                json_object_object_add(js, "note", json_object_new_string(st->note));
            json_object_array_add(steps, js);
        }
        json_object_object_add(jd, "steps", steps);
        json_object_array_add(devs, jd);
    }
    json_object_object_add(obj, "devices", devs);
    return obj;
}

char *
fp_prep_report_text(const FpPrepReport *report)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);

        g_string_append_printf(out, "%s  %-11s  %s -> %s", d->bdf, fp_prep_status_name(d->status),
                               d->driver_before ? d->driver_before : "none",
                               d->driver_after ? d->driver_after : "none");
        for (guint s = 0; s < d->steps->len; s++) {
            const FpPrepStep *st = &g_array_index(d->steps, FpPrepStep, s);

            g_string_append_printf(out, "%s %s %.0f ms", s ? "," : " ", st->name,
                                   (st->end_us - st->start_us) / 1000.0);
            if (st->note && !d->error)
                g_string_append_printf(out, " (%s)", st->note);
        }
        if (d->error)
            g_string_append_printf(out, "  error: %s", d->error->message);
        g_string_append_c(out, '\n');
    }
    g_string_append_printf(out, "%s of %u devices: %s in %.0f ms\n", report->action,
                           report->devices->len, report->ok ? "done" : "FAILED",
                           report->total_us / 1000.0);
    return g_string_free(out, FALSE);
}
