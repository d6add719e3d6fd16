#include "prep.h"

#include "claim.h"
#include "error.h"
#include "pci.h"

#include <string.h>

struct FpPrepDevice {
    char bdf[FP_PCI_ADDR_STRLEN];
    FpPciAddr addr;
    FpDevStatus status;
    char *error;
    char *driver_before, *driver_after;
    GArray *steps; /* FpPrepStep */

    FpPciDevice *dev;
    FpClaim *claim;
    FpClaimState state;
    gboolean state_exists;
    gboolean moved; /* fastpass changed its driver in this run */
};

typedef struct {
    const FpPrepOptions *opts;
    GHashTable *listed; /* BDF -> device, everything in this run */
    gint64 t0;
    gboolean rollback; /* workers undo instead of do */
} Run;

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
    g_free(d->error);
    g_free(d->driver_before);
    g_free(d->driver_after);
    fp_pci_device_free(d->dev);
    fp_claim_unlock(d->claim);
    fp_claim_state_clear(&d->state);
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

const char *
fp_prep_status_name(FpDevStatus status)
{
    static const char *const names[] = {"done", "refused", "failed", "timed-out", "rolled-back", "not-started"};

    return names[status];
}

static void
set_failure(FpPrepDevice *d, GError *error)
{
    if (d->error)
        return;
    d->status = g_error_matches(error, FP_ERROR, FP_ERROR_TIMEOUT)   ? FP_DEV_TIMED_OUT
                : g_error_matches(error, FP_ERROR, FP_ERROR_REFUSED) ? FP_DEV_REFUSED
                                                                     : FP_DEV_FAILED;
    d->error = g_strdup(error->message);
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
    FpPrepStep s = {.name = name, .start_us = now_us(run), .end_us = now_us(run), .note = g_strdup(note)};

    g_array_append_val(d->steps, s);
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

/* The reset after binding; a device the kernel cannot reset is noted, not failed: VFIO could not
 * reset it either. */
static gboolean
reset_step(Run *run, FpPrepDevice *d, gint64 deadline, GError **error)
{
    if (!fp_pci_can_reset(d->dev)) {
        note_step(run, d, "reset", "no reset method");
        return TRUE;
    }
    return step(run, d, "reset", do_reset, deadline, error);
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
        FpPrepStep s = {.name = "restore", .start_us = now_us(run)};

        if (!fp_pci_bind_driver(d->dev, orig, run->opts->timeout_ms, &error))
            s.note = g_strdup(error->message);
        s.end_us = now_us(run);
        g_array_append_val(d->steps, s);
        if (d->status == FP_DEV_DONE)
            d->status = FP_DEV_ROLLED_BACK;
        if (error) {
            g_autofree char *old = d->error;
            d->error = g_strdup_printf("%s%scould not put it back on %s: %s", old ? old : "", old ? "; " : "",
                                       orig ? orig : "no driver", error->message);
            d->status = FP_DEV_FAILED;
        }
        return;
    }

    if (g_strcmp0(d->dev->driver, FP_VFIO_DRIVER) != 0) {
        /* Remember where it came from unless an earlier run already did. */
        if (!d->state_exists) {
            g_free(d->state.original_driver);
            d->state.original_driver = g_strdup(d->dev->driver);
        }
        d->state.warm = FALSE;
        d->moved = TRUE;
        if (!step(run, d, "bind", do_bind_vfio, deadline, &error)) {
            set_failure(d, error);
            return;
        }
    } else if (!d->state_exists) {
        /* Bound to vfio-pci by someone else: release gives it back to vfio-pci. */
        d->state.original_driver = g_strdup(FP_VFIO_DRIVER);
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

    if (run->opts->mode == FP_RELEASE_RESTORE) {
        FpPrepStep s = {.name = "restore", .start_us = now_us(run)};
        gboolean ok = fp_pci_bind_driver(d->dev, d->state.original_driver, budget_ms(run, deadline), &error);

        s.end_us = now_us(run);
        if (!ok)
            s.note = g_strdup(error->message);
        g_array_append_val(d->steps, s);
        if (!ok)
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
    d->state.warm = fp_pci_can_reset(d->dev);
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
 * its override set): the kernel still holds it, and another write would hang as well. */
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

/* Sets up one entry per distinct address; locks them in address order so that two runs
 * sharing devices cannot deadlock; opens each in sysfs. Returns FALSE if any was refused. */
static gboolean
admit(Run *run, FpPrepReport *report, const FpPciAddr *addrs, guint n, gboolean preparing)
{
    g_autoptr(GPtrArray) sorted = g_ptr_array_new();
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

        d->claim = fp_claim_lock(run->opts->run_dir, d->bdf, run->opts->timeout_ms, &d->state,
                                 &d->state_exists, &error);
        if (!d->claim) {
            set_failure(d, error);
            d->status = FP_DEV_REFUSED;
            ok = FALSE;
            continue;
        }
        if (preparing && d->state.owner && g_strcmp0(d->state.owner, run->opts->owner) != 0) {
            d->status = FP_DEV_REFUSED;
            d->error = g_strdup_printf("%s is in use by domain %s", d->bdf, d->state.owner);
            ok = FALSE;
            continue;
        }
        if (!preparing && !d->state_exists) {
            d->status = FP_DEV_REFUSED;
            d->error = g_strdup_printf("%s was not prepared by fastpass (nothing to release)", d->bdf);
            ok = FALSE;
            continue;
        }
        if (!preparing && run->opts->owner && d->state.owner && g_strcmp0(d->state.owner, run->opts->owner) != 0) {
            d->status = FP_DEV_REFUSED;
            d->error = g_strdup_printf("%s is held by domain %s, not %s", d->bdf, d->state.owner, run->opts->owner);
            ok = FALSE;
            continue;
        }
        if (!(d->dev = fp_pci_device_open(run->opts->sysfs_root, &d->addr, &error))) {
            set_failure(d, error);
            ok = FALSE;
            continue;
        }
        d->driver_before = g_strdup(d->dev->driver);
    }
    return ok;
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
        report->ok &= d->status == FP_DEV_DONE;
        g_clear_pointer(&d->claim, fp_claim_unlock);
    }
    report->total_us = now_us(run);
    g_hash_table_unref(run->listed);
}

FpPrepReport *
fp_prep_prepare(const FpPciAddr *addrs, guint n, const FpPrepOptions *opts)
{
    Run run = {0};
    FpPrepReport *report = new_report("prepare", &run, opts);
    gboolean ok = admit(&run, report, addrs, n, TRUE);

    /* Every group is checked before anything changes, so a refusal leaves all as it was. */
    for (guint i = 0; ok && i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);
        g_autoptr(GError) error = NULL;

        if (!fp_pci_check_group(d->dev, run.listed, &error)) {
            set_failure(d, error);
            ok = FALSE;
        }
    }
    if (ok) {
        run_pool(&run, report, prepare_worker, want_all);
        for (guint i = 0; i < report->devices->len; i++)
            ok &= ((FpPrepDevice *)g_ptr_array_index(report->devices, i))->status == FP_DEV_DONE;
        if (!ok) {
            run.rollback = TRUE;
            run_pool(&run, report, prepare_worker, want_moved);
        }
    }
    for (guint i = 0; i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);
        g_autoptr(GError) error = NULL;

        /* Saved: every prepared device, and a timed-out one so that a later release can still
         * give it back to its original driver. */
        if (!(ok || (d->status == FP_DEV_TIMED_OUT && d->moved)))
            continue;
        g_free(d->state.owner);
        d->state.owner = g_strdup(opts->owner);
        d->state.warm = FALSE;
        if (!fp_claim_save(d->claim, &d->state, &error))
            set_failure(d, error);
        if (d->status == FP_DEV_TIMED_OUT) {
            g_autofree char *old = d->error;
            d->error = g_strdup_printf("%s; left on %s until the kernel finishes (release it later)", old,
                                       d->dev->driver ? d->dev->driver : "no driver");
        }
    }
    finish(&run, report);
    return report;
}

FpPrepReport *
fp_prep_release(const FpPciAddr *addrs, guint n, const FpPrepOptions *opts)
{
    Run run = {0};
    FpPrepReport *report = new_report("release", &run, opts);

    admit(&run, report, addrs, n, FALSE);
    /* Release is per device: one that cannot be released does not hold back the others. */
    run_pool(&run, report, release_worker, want_all);
    for (guint i = 0; i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);
        g_autoptr(GError) error = NULL;

        if (d->status != FP_DEV_DONE || !d->claim)
            continue;
        if (opts->mode != FP_RELEASE_WARM) {
            if (!fp_claim_forget(d->claim, &error))
                set_failure(d, error);
        } else {
            g_clear_pointer(&d->state.owner, g_free);
            if (!fp_claim_save(d->claim, &d->state, &error))
                set_failure(d, error);
        }
    }
    finish(&run, report);
    return report;
}

const char *
fp_prep_report_error(const FpPrepReport *report)
{
    /* A refusal or failure explains more than the rollbacks it caused. */
    for (guint i = 0; i < report->devices->len; i++) {
        FpPrepDevice *d = g_ptr_array_index(report->devices, i);

        if (d->error && d->status != FP_DEV_ROLLED_BACK)
            return d->error;
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
        json_object_object_add(jd, "status", json_object_new_string(fp_prep_status_name(d->status)));
        json_object_object_add(jd, "error", d->error ? json_object_new_string(d->error) : NULL);
        json_object_object_add(jd, "driver_before", d->driver_before ? json_object_new_string(d->driver_before) : NULL);
        json_object_object_add(jd, "driver_after", d->driver_after ? json_object_new_string(d->driver_after) : NULL);
        json_object_object_add(jd, "original_driver",
                               d->state.original_driver ? json_object_new_string(d->state.original_driver) : NULL);
        for (guint s = 0; s < d->steps->len; s++) {
            const FpPrepStep *st = &g_array_index(d->steps, FpPrepStep, s);
            json_object *js = json_object_new_object();

            json_object_object_add(js, "step", json_object_new_string(st->name));
            json_object_object_add(js, "start_ms", json_object_new_double(st->start_us / 1000.0));
            json_object_object_add(js, "ms", json_object_new_double((st->end_us - st->start_us) / 1000.0));
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

            g_string_append_printf(out, "%s %s %.0f ms", s ? "," : " ", st->name, (st->end_us - st->start_us) / 1000.0);
            if (st->note && !d->error)
                g_string_append_printf(out, " (%s)", st->note);
        }
        if (d->error)
            g_string_append_printf(out, "  error: %s", d->error);
        g_string_append_c(out, '\n');
    }
    g_string_append_printf(out, "%s of %u devices: %s in %.0f ms\n", report->action, report->devices->len,
                           report->ok ? "done" : "FAILED", report->total_us / 1000.0);
    return g_string_free(out, FALSE);
}
