/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The waterfall chart: well-formed SVG, one row per configuration, phases in time order with
 * widths proportional to their durations, a legend entry per phase, the data kept for adding
 * rows later. */
#include "profile.h"

#include "error.h"

#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <stdlib.h>
#include <string.h>

#define T0 G_GINT64_CONSTANT(1700000000000000)

/* A configuration whose starts have these point offsets (ms), each start SPREAD ms slower. */
static FpProfile *
profile_with(const char *label, const FpPoint *pts, const double *ms, guint n, guint starts,
             double spread)
{
    FpProfile *p = fp_profile_new(label, "vm", "libvirt");

    for (guint s = 0; s < starts; s++) {
        FpProfileRun *run = fp_profile_run_new();

        for (guint i = 0; i < n; i++)
            fp_profile_run_set(run, pts[i], T0 + (gint64)((ms[i] + (i ? spread * s : 0)) * 1000),
                               "test");
        g_ptr_array_add(p->runs, run);
    }
    return p;
}

static const FpPoint stock_pts[] = {FP_PT_START_CALL,  FP_PT_HOOK_BEGIN, FP_PT_DEVICES_BEGIN,
                                    FP_PT_DEVICES_END, FP_PT_HOOK_END,   FP_PT_QEMU_EXEC,
                                    FP_PT_VCPU_START,  FP_PT_KERNEL_LINE};
static const double stock_ms[] = {0, 20, 30, 4030, 4100, 4300, 16300, 20300};
static const FpPoint fast_pts[] = {FP_PT_START_CALL, FP_PT_HOOK_BEGIN, FP_PT_HOOK_END,
                                   FP_PT_QEMU_EXEC,  FP_PT_REAL_EXEC,  FP_PT_VCPU_START,
                                   FP_PT_KERNEL_LINE};
static const double fast_ms[] = {0, 20, 40, 100, 110, 400, 3300};
static const FpPoint floor_pts[] = {FP_PT_START_CALL, FP_PT_QEMU_EXEC, FP_PT_VCPU_START,
                                    FP_PT_KERNEL_LINE};
static const double floor_ms[] = {0, 60, 300, 3100};

static xmlXPathObject *
xpath(xmlXPathContext *ctx, const char *expr)
{
    xmlXPathObject *o = xmlXPathEvalExpression(BAD_CAST expr, ctx);

    g_assert_nonnull(o);
    return o;
}

static double
num_prop(xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    double d;

    g_assert_nonnull(v);
    d = g_ascii_strtod((const char *)v, NULL);
    xmlFree(v);
    return d;
}

static char *
str_prop(xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    char *s = g_strdup((const char *)v);

    xmlFree(v);
    return s;
}

typedef struct {
    const char *name;
    guint rows;
    const char *row_phases[3]; /* phase ids of each row, comma-separated, in order */
} ChartCase;

static const ChartCase chart_cases[] = {
    {"no-rows", 0, {NULL}},
    {"one-row", 1, {"before-hook,hook-setup,devices,hugepages,before-exec,init,bios"}},
    {"three-rows",
     3,
     {"before-hook,hook-setup,devices,hugepages,before-exec,init,bios",
      "before-hook,hook,before-exec,wrapper,init,bios", "before-exec,init,bios"}},
};

static void
test_chart(gconstpointer data)
{
    const ChartCase *c = data;
    FpProfile *profiles[3] = {
        profile_with("stock <&> 'quoted'", stock_pts, stock_ms, G_N_ELEMENTS(stock_pts), 3, 100),
        profile_with("fastpass", fast_pts, fast_ms, G_N_ELEMENTS(fast_pts), 5, 10),
        profile_with("CPU VM floor", floor_pts, floor_ms, G_N_ELEMENTS(floor_pts), 1, 0),
    };
    g_autofree char *svg = fp_waterfall_svg(profiles, c->rows, "Creation time");
    xmlDoc *doc = xmlReadMemory(svg, (int)strlen(svg), "chart.svg", NULL, XML_PARSE_NONET);
    xmlXPathContext *ctx;
    xmlXPathObject *rows, *legend;
    double px_per_ms = -1;
    g_autoptr(GHashTable) legend_ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    g_assert_nonnull(doc); /* well-formed */
    ctx = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctx, BAD_CAST "s", BAD_CAST "http://www.w3.org/2000/svg");
    rows = xpath(ctx, "/s:svg/s:g[@class='row']");
    g_assert_cmpint(xmlXPathNodeSetGetLength(rows->nodesetval), ==, (int)c->rows);
    legend = xpath(ctx, "//s:rect[@class='legend']");
    for (int l = 0; l < xmlXPathNodeSetGetLength(legend->nodesetval); l++)
        g_hash_table_add(legend_ids, str_prop(legend->nodesetval->nodeTab[l], "data-phase"));

    for (guint r = 0; r < c->rows; r++) {
        xmlNode *row = rows->nodesetval->nodeTab[r];
        g_autofree char *label = str_prop(row, "data-label");
        g_autoptr(GString) ids = g_string_new(NULL);
        double x_end = -1;

        g_assert_cmpstr(label, ==, profiles[r]->label);
        for (xmlNode *n = row->children; n; n = n->next) {
            g_autofree char *cls = n->type == XML_ELEMENT_NODE ? str_prop(n, "class") : NULL;
            g_autofree char *id = NULL;
            double x, w, ms;

            if (g_strcmp0(cls, "phase"))
                continue;
            id = str_prop(n, "data-phase");
            x = num_prop(n, "x");
            w = num_prop(n, "width");
            ms = num_prop(n, "data-ms");
            g_string_append_printf(ids, "%s%s", ids->len ? "," : "", id);
            /* One scale for all rows: width / duration is the same everywhere. */
            if (px_per_ms < 0)
                px_per_ms = w / ms;
            g_assert_cmpfloat_with_epsilon(w / ms, px_per_ms, px_per_ms * 0.01 + 0.01 / ms);
            /* Stacked: each phase starts where the previous one ended. */
            if (x_end >= 0)
                g_assert_cmpfloat_with_epsilon(x, x_end, 0.02);
            x_end = x + w;
            g_assert_true(g_hash_table_contains(legend_ids, id));
        }
        g_assert_cmpstr(ids->str, ==, c->row_phases[r]);
    }
    /* Medians: stock's BIOS phase over 3 starts 100 ms apart is its middle one. */
    if (c->rows) {
        xmlXPathObject *bios = xpath(ctx, "/s:svg/s:g[@class='row'][1]/s:rect[@data-phase='bios']");

        g_assert_cmpint(xmlXPathNodeSetGetLength(bios->nodesetval), ==, 1);
        g_assert_cmpfloat_with_epsilon(num_prop(bios->nodesetval->nodeTab[0], "data-ms"), 4000,
                                       1e-6);
        xmlXPathFreeObject(bios);
    }
    /* A time axis with ticks in seconds. */
    {
        xmlXPathObject *ticks = xpath(ctx, "//s:text[@class='tick']");

        g_assert_cmpint(xmlXPathNodeSetGetLength(ticks->nodesetval), >=, 2);
        for (int t = 0; t < xmlXPathNodeSetGetLength(ticks->nodesetval); t++) {
            xmlChar *txt = xmlNodeGetContent(ticks->nodesetval->nodeTab[t]);

            g_assert_true(g_str_has_suffix((const char *)txt, " s"));
            xmlFree(txt);
        }
        xmlXPathFreeObject(ticks);
    }
    xmlXPathFreeObject(rows);
    xmlXPathFreeObject(legend);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    for (guint i = 0; i < G_N_ELEMENTS(profiles); i++)
        fp_profile_free(profiles[i]);
}

/* Totals at the end of each row: the creation time's median. */
static void
test_totals(void)
{
    g_autoptr(FpProfile) p =
        profile_with("fastpass", fast_pts, fast_ms, G_N_ELEMENTS(fast_pts), 1, 0);
    FpProfile *list[] = {p};
    g_autofree char *svg = fp_waterfall_svg(list, 1, NULL);

    /* exec at 100 ms, kernel line at 3300 ms. */
    g_assert_nonnull(strstr(svg, ">creation 3.20 s<"));
    g_assert_nonnull(strstr(svg, ">init 0.30 s + BIOS 2.90 s<"));
}

/* A start and its stop: the stop's phases follow the start's after a gap, under a bracket of
 * their own with the stop's total; the creation bracket ends where the start's last phase does. */
static const FpPoint stop_pts[] = {
    FP_PT_START_CALL,          FP_PT_QEMU_EXEC,   FP_PT_VCPU_START,    FP_PT_KERNEL_LINE,
    FP_PT_STOP_CALL,           FP_PT_QEMU_GONE,   FP_PT_RELEASE_BEGIN, FP_PT_RELEASE_DEVICES_BEGIN,
    FP_PT_RELEASE_DEVICES_END, FP_PT_RELEASE_END, FP_PT_STOP_RETURNED};
static const double stop_ms[] = {0, 60, 300, 3100, 60000, 60800, 60900, 60910, 61910, 61930, 61950};

static void
test_stop(void)
{
    g_autoptr(FpProfile) p = profile_with("stop", stop_pts, stop_ms, G_N_ELEMENTS(stop_pts), 1, 0);
    FpProfile *list[] = {p};
    g_autofree char *svg = fp_waterfall_svg(list, 1, NULL);
    xmlDoc *doc = xmlReadMemory(svg, (int)strlen(svg), "chart.svg", NULL, XML_PARSE_NONET);
    xmlXPathContext *ctx;
    xmlXPathObject *bars, *brackets;
    g_autoptr(GString) ids = g_string_new(NULL);
    double bios_end = -1, first_stop = -1, creation_to = -1;

    g_assert_nonnull(doc);
    ctx = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctx, BAD_CAST "s", BAD_CAST "http://www.w3.org/2000/svg");
    bars = xpath(ctx, "//s:rect[@class='phase']");
    for (int i = 0; i < xmlXPathNodeSetGetLength(bars->nodesetval); i++) {
        xmlNode *n = bars->nodesetval->nodeTab[i];
        g_autofree char *id = str_prop(n, "data-phase");

        g_string_append_printf(ids, "%s%s", ids->len ? "," : "", id);
        if (!strcmp(id, "bios"))
            bios_end = num_prop(n, "x") + num_prop(n, "width");
        if (!strcmp(id, "qemu-exit"))
            first_stop = num_prop(n, "x");
    }
    g_assert_cmpstr(ids->str, ==,
                    "before-exec,init,bios,qemu-exit,before-release,release-setup,release-devices,"
                    "release-hugepages,after-release");
    /* After a gap, not stacked onto the BIOS phase. */
    g_assert_cmpfloat(first_stop, >, bios_end + 10);
    brackets = xpath(ctx, "//s:path[@class='creation-bracket']");
    g_assert_cmpint(xmlXPathNodeSetGetLength(brackets->nodesetval), ==, 1);
    {
        g_autofree char *d = str_prop(brackets->nodesetval->nodeTab[0], "d");
        const char *h = strstr(d, " H ");

        g_assert_nonnull(h);
        creation_to = g_ascii_strtod(h + 3, NULL);
    }
    g_assert_cmpfloat_with_epsilon(creation_to, bios_end, 0.1);
    xmlXPathFreeObject(brackets);
    brackets = xpath(ctx, "//s:path[@class='stop-bracket']");
    g_assert_cmpint(xmlXPathNodeSetGetLength(brackets->nodesetval), ==, 1);
    /* Stop call at 60 s, returned at 61.95 s. */
    g_assert_nonnull(strstr(svg, ">stop 1.95 s<"));
    xmlXPathFreeObject(brackets);
    xmlXPathFreeObject(bars);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
}

/* The chart keeps its data: loading it gives the same profiles back, so rows can be added. */
static void
test_reload(void)
{
    FpProfile *list[] = {
        profile_with("stock <&>", stock_pts, stock_ms, G_N_ELEMENTS(stock_pts), 2, 50),
        profile_with("fastpass", fast_pts, fast_ms, G_N_ELEMENTS(fast_pts), 1, 0),
    };
    g_autofree char *svg = fp_waterfall_svg(list, 2, "Two <configs>");
    g_autofree char *title = NULL;
    g_autofree char *dir = g_dir_make_tmp("fp-chart-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "chart.svg", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) back = NULL;

    g_assert_true(g_file_set_contents(path, svg, -1, NULL));
    back = fp_waterfall_load(path, &title, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(title, ==, "Two <configs>");
    g_assert_cmpuint(back->len, ==, 2);
    for (guint i = 0; i < 2; i++) {
        const FpProfile *b = g_ptr_array_index(back, i);

        g_assert_cmpstr(b->label, ==, list[i]->label);
        g_assert_cmpuint(b->runs->len, ==, list[i]->runs->len);
        for (guint r = 0; r < b->runs->len; r++)
            g_assert_cmpmem(((FpProfileRun *)g_ptr_array_index(b->runs, r))->at,
                            sizeof(gint64) * FP_PT_COUNT,
                            ((FpProfileRun *)g_ptr_array_index(list[i]->runs, r))->at,
                            sizeof(gint64) * FP_PT_COUNT);
    }
    /* Not a fastpass chart. */
    g_assert_true(g_file_set_contents(path, "<svg xmlns='http://www.w3.org/2000/svg'/>", -1, NULL));
    g_clear_pointer(&back, g_ptr_array_unref);
    back = fp_waterfall_load(path, NULL, &error);
    g_assert_null(back);
    g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
    g_unlink(path);
    g_rmdir(dir);
    for (guint i = 0; i < G_N_ELEMENTS(list); i++)
        fp_profile_free(list[i]);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(chart_cases); i++) {
        g_autofree char *path = g_strdup_printf("/profile/chart/%s", chart_cases[i].name);

        g_test_add_data_func(path, &chart_cases[i], test_chart);
    }
    g_test_add_func("/profile/chart/totals-at-row-end", test_totals);
    g_test_add_func("/profile/chart/reload-keeps-the-data", test_reload);
    g_test_add_func("/profile/chart/stop-after-a-gap", test_stop);
    return g_test_run();
}
