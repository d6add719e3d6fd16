/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One profiled start: its points, the phases between them, and summaries over several starts. */
#include "profile.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const point_names[] = {
    [FP_PT_START_CALL] = "start_call",
    [FP_PT_HOOK_BEGIN] = "hook_begin",
    [FP_PT_DEVICES_BEGIN] = "devices_begin",
    [FP_PT_DEVICES_END] = "devices_end",
    [FP_PT_HOOK_END] = "hook_end",
    [FP_PT_QEMU_EXEC] = "qemu_exec",
    [FP_PT_REAL_EXEC] = "real_qemu_exec",
    [FP_PT_QMP_READY] = "qmp_ready",
    [FP_PT_INIT_END] = "init_end",
    [FP_PT_VCPU_START] = "vcpu_start",
    [FP_PT_KERNEL_LINE] = "kernel_line",
    [FP_PT_STOP_CALL] = "stop_call",
    [FP_PT_QEMU_SIGNALED] = "qemu_signaled",
    [FP_PT_QEMU_GONE] = "qemu_gone",
    [FP_PT_RELEASE_BEGIN] = "release_begin",
    [FP_PT_RELEASE_DEVICES_BEGIN] = "release_devices_begin",
    [FP_PT_RELEASE_DEVICES_END] = "release_devices_end",
    [FP_PT_RELEASE_END] = "release_end",
    [FP_PT_STOP_RETURNED] = "stop_returned",
};
G_STATIC_ASSERT(G_N_ELEMENTS(point_names) == FP_PT_COUNT);

const char *
fp_profile_point_name(FpPoint pt)
{
    return pt < FP_PT_COUNT ? point_names[pt] : NULL;
}

FpProfileRun *
fp_profile_run_new(void)
{
    FpProfileRun *run = g_new0(FpProfileRun, 1);

    run->notes = g_ptr_array_new_with_free_func(g_free);
    return run;
}

void
fp_profile_run_free(FpProfileRun *run)
{
    if (!run)
        return;
    for (guint i = 0; i < FP_PT_COUNT; i++)
        g_free(run->source[i]);
    g_free(run->kernel_line);
    json_object_put(run->devices);
    g_ptr_array_unref(run->notes);
    fp_firmware_free(run->firmware);
    if (run->firmware_marks)
        g_array_unref(run->firmware_marks);
    g_free(run);
}

void
fp_profile_run_set(FpProfileRun *run, FpPoint pt, gint64 us, const char *source)
{
    g_return_if_fail(pt < FP_PT_COUNT);
    run->at[pt] = us;
    g_free(run->source[pt]);
    run->source[pt] = g_strdup(source);
}

void
fp_profile_run_note(FpProfileRun *run, const char *fmt, ...)
{
    va_list ap;

    char *note;

    va_start(ap, fmt);
    note = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* Start and stop read the same files: a problem with one is said once. */
    for (guint i = 0; i < run->notes->len; i++) {
        if (!strcmp(g_ptr_array_index(run->notes, i), note)) {
            g_free(note);
            return;
        }
    }
    g_ptr_array_add(run->notes, note);
}

gboolean
fp_profile_run_times(const FpProfileRun *run, gint64 *init_us, gint64 *bios_us, gint64 *creation_us)
{
    gint64 exec = run->at[FP_PT_QEMU_EXEC], vcpu = run->at[FP_PT_VCPU_START];
    gint64 ready = run->at[FP_PT_INIT_END] ? run->at[FP_PT_INIT_END] : vcpu;
    gint64 line = run->at[FP_PT_KERNEL_LINE];
    gint64 init, bios;

    if (!exec || !vcpu || !line || ready < exec || line < vcpu)
        return FALSE;
    init = ready - exec;
    bios = line - vcpu;
    if (init_us)
        *init_us = init;
    if (bios_us)
        *bios_us = bios;
    if (creation_us)
        *creation_us = init + bios;
    return TRUE;
}

/* A phase runs from the first of FROM that the run has to TO; skipped when the run has UNLESS. */
static const struct {
    FpPhaseInfo info;
    FpPoint from[3];
    guint n_from;
    FpPoint to;
    FpPoint unless; /* FP_PT_COUNT: none */
} phase_table[] = {
    {{"before-hook", "libvirt, before the hook", FALSE, FALSE},
     {FP_PT_START_CALL},
     1,
     FP_PT_HOOK_BEGIN,
     FP_PT_COUNT},
    {{"hook-setup", "hook: setup and QEMU probe", FALSE, FALSE},
     {FP_PT_HOOK_BEGIN},
     1,
     FP_PT_DEVICES_BEGIN,
     FP_PT_COUNT},
    {{"devices", "hook: device preparation", FALSE, FALSE},
     {FP_PT_DEVICES_BEGIN},
     1,
     FP_PT_DEVICES_END,
     FP_PT_COUNT},
    {{"hugepages", "hook: hugepage reservation", FALSE, FALSE},
     {FP_PT_DEVICES_END},
     1,
     FP_PT_HOOK_END,
     FP_PT_COUNT},
    {{"hook", "hook: probe and hugepages", FALSE, FALSE},
     {FP_PT_HOOK_BEGIN},
     1,
     FP_PT_HOOK_END,
     FP_PT_DEVICES_END},
    {{"before-exec", "libvirt, until QEMU exec", FALSE, FALSE},
     {FP_PT_HOOK_END, FP_PT_START_CALL},
     2,
     FP_PT_QEMU_EXEC,
     FP_PT_COUNT},
    {{"wrapper", "init: fastpass-qemu wrapper", TRUE, FALSE},
     {FP_PT_QEMU_EXEC},
     1,
     FP_PT_REAL_EXEC,
     FP_PT_COUNT},
    {{"qemu-setup", "init: QEMU builds the machine", TRUE, FALSE},
     {FP_PT_REAL_EXEC, FP_PT_QEMU_EXEC},
     2,
     FP_PT_QMP_READY,
     FP_PT_COUNT},
    {{"init", "init: until the vCPUs run", TRUE, FALSE},
     {FP_PT_QMP_READY, FP_PT_REAL_EXEC, FP_PT_QEMU_EXEC},
     3,
     FP_PT_INIT_END,
     FP_PT_COUNT},
    {{"bios", "BIOS: until \"Linux version\"", TRUE, FALSE},
     {FP_PT_VCPU_START},
     1,
     FP_PT_KERNEL_LINE,
     FP_PT_COUNT},
    /* The stop. QEMU's exit includes the kernel's reset of each vfio device at close: the
     * process is gone only once its files are released (docs/security.md, "Reset at release"). */
    {{"qemu-signal", "stop: until QEMU takes SIGTERM", FALSE, TRUE},
     {FP_PT_STOP_CALL},
     1,
     FP_PT_QEMU_SIGNALED,
     FP_PT_COUNT},
    {{"qemu-exit", "stop: QEMU exits, close resets", FALSE, TRUE},
     {FP_PT_QEMU_SIGNALED, FP_PT_STOP_CALL},
     2,
     FP_PT_QEMU_GONE,
     FP_PT_COUNT},
    {{"after-exit", "stop: libvirt, after QEMU exits", FALSE, TRUE},
     {FP_PT_QEMU_GONE},
     1,
     FP_PT_STOP_RETURNED,
     FP_PT_RELEASE_BEGIN},
    {{"before-release", "stop: libvirt, until the hook", FALSE, TRUE},
     {FP_PT_QEMU_GONE},
     1,
     FP_PT_RELEASE_BEGIN,
     FP_PT_COUNT},
    {{"release-setup", "stop: hook: pool slot back", FALSE, TRUE},
     {FP_PT_RELEASE_BEGIN},
     1,
     FP_PT_RELEASE_DEVICES_BEGIN,
     FP_PT_COUNT},
    {{"release-devices", "stop: hook: device release", FALSE, TRUE},
     {FP_PT_RELEASE_DEVICES_BEGIN},
     1,
     FP_PT_RELEASE_DEVICES_END,
     FP_PT_COUNT},
    {{"release-hugepages", "stop: hook: hugepages back", FALSE, TRUE},
     {FP_PT_RELEASE_DEVICES_END},
     1,
     FP_PT_RELEASE_END,
     FP_PT_COUNT},
    {{"release", "stop: hook release", FALSE, TRUE},
     {FP_PT_RELEASE_BEGIN},
     1,
     FP_PT_RELEASE_END,
     FP_PT_RELEASE_DEVICES_END},
    {{"after-release", "stop: libvirt, after the hook", FALSE, TRUE},
     {FP_PT_RELEASE_END},
     1,
     FP_PT_STOP_RETURNED,
     FP_PT_COUNT},
};

const FpPhaseInfo *
fp_profile_phase_catalogue(guint *n)
{
    static FpPhaseInfo infos[G_N_ELEMENTS(phase_table)];

    for (guint i = 0; i < G_N_ELEMENTS(phase_table); i++)
        infos[i] = phase_table[i].info;
    *n = G_N_ELEMENTS(phase_table);
    return infos;
}

GArray *
fp_profile_run_phases(const FpProfileRun *run)
{
    GArray *phases = g_array_new(FALSE, TRUE, sizeof(FpPhase));
    gint64 at[FP_PT_COUNT];

    memcpy(at, run->at, sizeof(at));
    if (!at[FP_PT_INIT_END])
        at[FP_PT_INIT_END] = at[FP_PT_VCPU_START];
    for (guint i = 0; i < G_N_ELEMENTS(phase_table); i++) {
        gint64 from = 0, to = at[phase_table[i].to];
        FpPhase ph;

        if (phase_table[i].unless < FP_PT_COUNT && at[phase_table[i].unless])
            continue;
        for (guint f = 0; f < phase_table[i].n_from && !from; f++)
            from = at[phase_table[i].from[f]];
        /* A phase of no length (two names for one moment) says nothing. */
        if (!from || !to || to <= from)
            continue;
        ph.id = phase_table[i].info.id;
        ph.label = phase_table[i].info.label;
        ph.creation = phase_table[i].info.creation;
        ph.stop = phase_table[i].info.stop;
        ph.start_us = from;
        ph.end_us = to;
        g_array_append_val(phases, ph);
    }
    return phases;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

gboolean
fp_stats_compute(const double *values, guint n, FpStats *out)
{
    g_autofree double *v = NULL;

    memset(out, 0, sizeof(*out));
    if (!n)
        return FALSE;
    v = g_memdup2(values, n * sizeof(double));
    qsort(v, n, sizeof(double), cmp_double);
    out->n = n;
    out->min = v[0];
    out->max = v[n - 1];
    out->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return TRUE;
}

FpProfile *
fp_profile_new(const char *label, const char *domain, const char *mode)
{
    FpProfile *p = g_new0(FpProfile, 1);

    p->label = g_strdup(label);
    p->domain = g_strdup(domain);
    p->mode = g_strdup(mode);
    p->runs = g_ptr_array_new_with_free_func((GDestroyNotify)fp_profile_run_free);
    return p;
}

void
fp_profile_free(FpProfile *p)
{
    if (!p)
        return;
    g_free(p->label);
    g_free(p->domain);
    g_free(p->mode);
    g_ptr_array_unref(p->runs);
    g_free(p);
}

/* Start call to kernel line, less a pause the profiler held. */
static gboolean
run_total_us(const FpProfileRun *run, gint64 *total)
{
    gint64 pause = 0;

    if (!run->at[FP_PT_START_CALL] || !run->at[FP_PT_KERNEL_LINE])
        return FALSE;
    if (run->at[FP_PT_INIT_END] && run->at[FP_PT_VCPU_START] > run->at[FP_PT_INIT_END])
        pause = run->at[FP_PT_VCPU_START] - run->at[FP_PT_INIT_END];
    *total = run->at[FP_PT_KERNEL_LINE] - run->at[FP_PT_START_CALL] - pause;
    return *total >= 0;
}

FpProfileSummary *
fp_profile_summarize(const FpProfile *p)
{
    FpProfileSummary *s = g_new0(FpProfileSummary, 1);
    guint n = p->runs->len, n_init = 0, n_total = 0, n_dma = 0, n_ioctl = 0;
    g_autofree double *init = g_new0(double, n + 1), *bios = g_new0(double, n + 1);
    g_autofree double *creation = g_new0(double, n + 1), *total = g_new0(double, n + 1);
    g_autofree double *ph = g_new0(double, n + 1), *maps = g_new0(double, n + 1);
    g_autofree double *unmaps = g_new0(double, n + 1), *remaps = g_new0(double, n + 1);
    g_autofree double *stops = g_new0(double, n + 1);
    guint n_stop = 0;
    FpStats st;

    s->phases = g_array_new(FALSE, TRUE, sizeof(FpPhaseStats));
    for (guint r = 0; r < n; r++) {
        const FpProfileRun *run = g_ptr_array_index(p->runs, r);
        gint64 i, b, c, t;

        if (fp_profile_run_times(run, &i, &b, &c)) {
            init[n_init] = i / 1000.0;
            bios[n_init] = b / 1000.0;
            creation[n_init++] = c / 1000.0;
        }
        if (run_total_us(run, &t))
            total[n_total++] = t / 1000.0;
        if (run->at[FP_PT_STOP_CALL] && run->at[FP_PT_STOP_RETURNED] >= run->at[FP_PT_STOP_CALL])
            stops[n_stop++] = (run->at[FP_PT_STOP_RETURNED] - run->at[FP_PT_STOP_CALL]) / 1000.0;
        if (run->dma_visible) {
            maps[n_dma] = (double)run->dma_map;
            unmaps[n_dma] = (double)run->dma_unmap;
            remaps[n_dma++] = (double)run->dma_remap;
            n_ioctl += run->dma_ioctl ? 1 : 0;
        }
    }
    fp_stats_compute(init, n_init, &s->init_ms);
    fp_stats_compute(bios, n_init, &s->bios_ms);
    fp_stats_compute(creation, n_init, &s->creation_ms);
    fp_stats_compute(total, n_total, &s->total_ms);
    fp_stats_compute(stops, n_stop, &s->stop_ms);
    s->dma_map = s->dma_unmap = s->dma_remap = -1;
    s->dma_ioctl = n_dma > 0 && n_ioctl == n_dma;
    if (fp_stats_compute(maps, n_dma, &st))
        s->dma_map = (gint64)st.median;
    if (fp_stats_compute(unmaps, n_dma, &st))
        s->dma_unmap = (gint64)st.median;
    if (fp_stats_compute(remaps, n_dma, &st))
        s->dma_remap = (gint64)st.median;

    for (guint k = 0; k < G_N_ELEMENTS(phase_table); k++) {
        guint m = 0;
        FpPhaseStats ps = {.id = phase_table[k].info.id,
                           .label = phase_table[k].info.label,
                           .creation = phase_table[k].info.creation,
                           .stop = phase_table[k].info.stop};

        for (guint r = 0; r < n; r++) {
            g_autoptr(GArray) phases = fp_profile_run_phases(g_ptr_array_index(p->runs, r));

            for (guint j = 0; j < phases->len; j++) {
                const FpPhase *x = &g_array_index(phases, FpPhase, j);

                if (!strcmp(x->id, ps.id))
                    ph[m++] = (x->end_us - x->start_us) / 1000.0;
            }
        }
        if (fp_stats_compute(ph, m, &ps.ms))
            g_array_append_val(s->phases, ps);
    }
    return s;
}

void
fp_profile_summary_free(FpProfileSummary *s)
{
    if (!s)
        return;
    g_array_unref(s->phases);
    g_free(s);
}
