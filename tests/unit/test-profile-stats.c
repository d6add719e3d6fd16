/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Profiler statistics and the times and phases derived from a start's points. */
#include "profile.h"

#include <string.h>

typedef struct {
    const char *name;
    double values[8];
    guint n;
    gboolean ok;
    double median, min, max;
} StatsCase;

static const StatsCase stats_cases[] = {
    {"empty-is-no-stats", {0}, 0, FALSE, 0, 0, 0},
    {"one-value", {4.5}, 1, TRUE, 4.5, 4.5, 4.5},
    {"odd-count-unsorted", {5, 1, 3}, 3, TRUE, 3, 1, 5},
    {"even-count-mean-of-middle-two", {4, 1, 3, 10}, 4, TRUE, 3.5, 1, 10},
    {"two-values", {2, 8}, 2, TRUE, 5, 2, 8},
    {"duplicates", {7, 7, 7, 1, 9}, 5, TRUE, 7, 1, 9},
    {"negative-and-fractions", {-1.5, 0.25, 0.75, -0.5, 2, 3}, 6, TRUE, 0.5, -1.5, 3},
};

static void
test_stats(gconstpointer data)
{
    const StatsCase *c = data;
    double copy[8];
    FpStats st;

    memcpy(copy, c->values, sizeof(copy));
    g_assert_cmpint(fp_stats_compute(c->values, c->n, &st), ==, c->ok);
    g_assert_cmpuint(st.n, ==, c->n);
    g_assert_cmpfloat_with_epsilon(st.median, c->median, 1e-9);
    g_assert_cmpfloat_with_epsilon(st.min, c->min, 1e-9);
    g_assert_cmpfloat_with_epsilon(st.max, c->max, 1e-9);
    /* The caller's values stay in their order. */
    g_assert_cmpmem(copy, sizeof(copy), c->values, sizeof(c->values));
}

/* A start with the given points, microseconds from T0. */
typedef struct {
    FpPoint pt;
    gint64 offset_us;
} At;

#define T0 G_GINT64_CONSTANT(1700000000000000)

static FpProfileRun *
run_with(const At *points, guint n)
{
    FpProfileRun *run = fp_profile_run_new();

    for (guint i = 0; i < n; i++)
        fp_profile_run_set(run, points[i].pt, T0 + points[i].offset_us, "test");
    return run;
}

typedef struct {
    const char *name;
    At points[FP_PT_COUNT];
    guint n;
    gboolean measured;
    gint64 init_us, bios_us;
    const char *phases; /* ids, comma-separated, in order */
} RunCase;

static const RunCase run_cases[] = {
    {"libvirt-without-hook",
     {{FP_PT_START_CALL, 0},
      {FP_PT_QEMU_EXEC, 50000},
      {FP_PT_VCPU_START, 400000},
      {FP_PT_KERNEL_LINE, 4400000}},
     4,
     TRUE,
     350000,
     4000000,
     "before-exec,init,bios"},
    {"hook-with-devices-and-wrapper",
     {{FP_PT_START_CALL, 0},
      {FP_PT_HOOK_BEGIN, 10000},
      {FP_PT_DEVICES_BEGIN, 20000},
      {FP_PT_DEVICES_END, 1020000},
      {FP_PT_HOOK_END, 1100000},
      {FP_PT_QEMU_EXEC, 1150000},
      {FP_PT_REAL_EXEC, 1160000},
      {FP_PT_VCPU_START, 1500000},
      {FP_PT_KERNEL_LINE, 5500000}},
     9,
     TRUE,
     350000,
     4000000,
     "before-hook,hook-setup,devices,hugepages,before-exec,wrapper,init,bios"},
    {"hook-without-devices-is-one-phase",
     {{FP_PT_START_CALL, 0},
      {FP_PT_HOOK_BEGIN, 10000},
      {FP_PT_HOOK_END, 30000},
      {FP_PT_QEMU_EXEC, 40000},
      {FP_PT_VCPU_START, 90000},
      {FP_PT_KERNEL_LINE, 190000}},
     6,
     TRUE,
     50000,
     100000,
     "before-hook,hook,before-exec,init,bios"},
    {"direct-qmp-greeting-splits-init",
     {{FP_PT_START_CALL, 0},
      {FP_PT_QEMU_EXEC, 0},
      {FP_PT_QMP_READY, 30000},
      {FP_PT_VCPU_START, 50000},
      {FP_PT_KERNEL_LINE, 4050000}},
     5,
     TRUE,
     50000,
     4000000,
     "qemu-setup,init,bios"},
    {"pause-held-by-profiler-left-out",
     {{FP_PT_START_CALL, 0},
      {FP_PT_QEMU_EXEC, 10000},
      {FP_PT_INIT_END, 300000},
      {FP_PT_VCPU_START, 800000},
      {FP_PT_KERNEL_LINE, 2800000}},
     5,
     TRUE,
     290000,
     2000000,
     "before-exec,init,bios"},
    {"no-kernel-line-no-creation-time",
     {{FP_PT_START_CALL, 0}, {FP_PT_QEMU_EXEC, 50000}, {FP_PT_VCPU_START, 400000}},
     3,
     FALSE,
     0,
     0,
     "before-exec,init"},
    {"no-exec-no-creation-time",
     {{FP_PT_START_CALL, 0}, {FP_PT_VCPU_START, 400000}, {FP_PT_KERNEL_LINE, 900000}},
     3,
     FALSE,
     0,
     0,
     "bios"},
    {"points-out-of-order-dropped",
     {{FP_PT_START_CALL, 0},
      {FP_PT_QEMU_EXEC, 500000},
      {FP_PT_VCPU_START, 400000},
      {FP_PT_KERNEL_LINE, 900000}},
     4,
     FALSE,
     0,
     0,
     "before-exec,bios"},
};

static void
test_run(gconstpointer data)
{
    const RunCase *c = data;
    g_autoptr(FpProfileRun) run = run_with(c->points, c->n);
    g_autoptr(GArray) phases = fp_profile_run_phases(run);
    g_autoptr(GString) ids = g_string_new(NULL);
    gint64 init = -1, bios = -1, creation = -1;

    g_assert_cmpint(fp_profile_run_times(run, &init, &bios, &creation), ==, c->measured);
    if (c->measured) {
        g_assert_cmpint(init, ==, c->init_us);
        g_assert_cmpint(bios, ==, c->bios_us);
        g_assert_cmpint(creation, ==, init + bios);
    }
    for (guint i = 0; i < phases->len; i++) {
        const FpPhase *ph = &g_array_index(phases, FpPhase, i);

        g_string_append_printf(ids, "%s%s", i ? "," : "", ph->id);
        g_assert_cmpint(ph->end_us, >, ph->start_us);
        if (!c->measured)
            continue;
        /* Consecutive: each phase starts where the one before it ended, or later. */
        if (i)
            g_assert_cmpint(ph->start_us, >=, g_array_index(phases, FpPhase, i - 1).end_us);
        /* Creation-time phases are exactly those after QEMU's exec. */
        g_assert_cmpint(ph->creation, ==, ph->start_us >= run->at[FP_PT_QEMU_EXEC]);
    }
    g_assert_cmpstr(ids->str, ==, c->phases);
}

static void
test_summary(void)
{
    g_autoptr(FpProfile) p = fp_profile_new("cfg", "dom", "libvirt");
    g_autoptr(FpProfileSummary) s = NULL;
    const gint64 bios[] = {4000000, 3000000, 5000000, 3500000};

    for (guint i = 0; i < G_N_ELEMENTS(bios); i++) {
        At pts[] = {{FP_PT_START_CALL, 0},
                    {FP_PT_QEMU_EXEC, 100000},
                    {FP_PT_VCPU_START, 100000 + 200000 * (i + 1)},
                    {FP_PT_KERNEL_LINE, 100000 + 200000 * (i + 1) + bios[i]}};
        FpProfileRun *run = run_with(pts, G_N_ELEMENTS(pts));

        if (i == 1) {
            run->dma_visible = TRUE;
            run->dma_map = 12;
            run->dma_unmap = 3;
            run->dma_remap = 2;
        }
        g_ptr_array_add(p->runs, run);
    }
    g_ptr_array_add(p->runs, fp_profile_run_new()); /* a start that measured nothing */
    s = fp_profile_summarize(p);
    g_assert_cmpuint(s->creation_ms.n, ==, 4);
    g_assert_cmpfloat_with_epsilon(s->bios_ms.median, 3750, 1e-6);
    g_assert_cmpfloat_with_epsilon(s->bios_ms.min, 3000, 1e-6);
    g_assert_cmpfloat_with_epsilon(s->bios_ms.max, 5000, 1e-6);
    g_assert_cmpfloat_with_epsilon(s->init_ms.median, 500, 1e-6);
    /* Each start's creation is its init + BIOS; the medians need not add up. */
    g_assert_cmpfloat_with_epsilon(s->creation_ms.min, 400 + 3000, 1e-6);
    g_assert_cmpint(s->dma_map, ==, 12);
    g_assert_cmpint(s->dma_unmap, ==, 3);
    g_assert_cmpint(s->dma_remap, ==, 2);
    g_assert_cmpuint(s->phases->len, ==, 3);
    g_assert_cmpstr(g_array_index(s->phases, FpPhaseStats, 0).id, ==, "before-exec");
    g_assert_cmpstr(g_array_index(s->phases, FpPhaseStats, 2).id, ==, "bios");
}

static void
test_summary_dma_not_visible(void)
{
    g_autoptr(FpProfile) p = fp_profile_new("cfg", "dom", "libvirt");
    g_autoptr(FpProfileSummary) s = NULL;

    g_ptr_array_add(p->runs, fp_profile_run_new());
    s = fp_profile_summarize(p);
    g_assert_cmpint(s->dma_map, ==, -1);
    g_assert_cmpint(s->dma_remap, ==, -1);
    g_assert_cmpuint(s->creation_ms.n, ==, 0);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(stats_cases); i++) {
        g_autofree char *path = g_strdup_printf("/profile/stats/%s", stats_cases[i].name);

        g_test_add_data_func(path, &stats_cases[i], test_stats);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(run_cases); i++) {
        g_autofree char *path = g_strdup_printf("/profile/run/%s", run_cases[i].name);

        g_test_add_data_func(path, &run_cases[i], test_run);
    }
    g_test_add_func("/profile/summary/medians-over-measured-starts", test_summary);
    g_test_add_func("/profile/summary/dma-not-visible", test_summary_dma_not_visible);
    return g_test_run();
}
