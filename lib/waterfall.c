/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The creation-time waterfall: one row per configuration, phases stacked in time order. */
#include "profile.h"

#include "error.h"
#include "xml.h"

#include <string.h>

#define FP_CHART_NS "https://fastpass.dev/xmlns/profile/1"

/* Geometry, in SVG pixels. */
enum {
    WIDTH = 1200,
    LABEL_MIN_W = 150, /* row labels left of the bars: as wide as the longest needs, */
    LABEL_MAX_W = 330, /* longer ones wrap onto a second line */
    TOTAL_W = 250,     /* room right of the longest bar for its totals */
    ROW_H = 64,
    BAR_H = 24,
    TOP = 66, /* below the title and the definitions */
    LEGEND_ROW_H = 20,
    STOP_GAP = 14, /* between a row's start phases and its stop phases (the guest ran there) */
};

/* Phase colours: the slow causes in warm colours, the guest's own boot in blue. */
static const struct {
    const char *id, *colour;
} colours[] = {
    {"before-hook", "#c7c7c7"},
    {"hook-setup", "#9edae5"},
    {"devices", "#d62728"},
    {"hugepages", "#ff9896"},
    {"hook", "#17becf"},
    {"before-exec", "#8c8c8c"},
    {"wrapper", "#bcbd22"},
    {"qemu-setup", "#ffbb78"},
    {"init", "#ff7f0e"},
    {"bios", "#1f77b4"},
    {"qemu-signal", "#dbdb8d"},
    {"qemu-exit", "#e7969c"},
    {"after-exit", "#d9d9d9"},
    {"before-release", "#b5b5b5"},
    {"release-setup", "#c5dbef"},
    {"release-devices", "#ad494a"},
    {"release-hugepages", "#f7b6d2"},
    {"release", "#6baed6"},
    {"after-release", "#d9d9d9"},
};

static const char *
colour_of(const char *id)
{
    static const char *const spare[] = {"#9467bd", "#8c564b", "#e377c2", "#2ca02c"};

    for (guint i = 0; i < G_N_ELEMENTS(colours); i++)
        if (!strcmp(colours[i].id, id))
            return colours[i].colour;
    return spare[g_str_hash(id) % G_N_ELEMENTS(spare)];
}

/* Text inside a bar: dark on light colours, white on dark ones. */
static const char *
text_colour_on(const char *rgb)
{
    guint64 v = g_ascii_strtoull(rgb + 1, NULL, 16);
    double lum = 0.299 * ((v >> 16) & 0xff) + 0.587 * ((v >> 8) & 0xff) + 0.114 * (v & 0xff);

    return lum > 150 ? "#222" : "white";
}

/* A step giving at most 10 ticks over MAX_S seconds. */
static double
tick_step(double max_s)
{
    static const double steps[] = {0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1,   2,
                                   5,    10,   15,   30,  60,  120,  300, 600, 1800};

    for (guint i = 0; i < G_N_ELEMENTS(steps); i++)
        if (max_s / steps[i] <= 10)
            return steps[i];
    return 3600;
}

static char *
seconds_text(double s, double step)
{
    if (step >= 1)
        return g_strdup_printf("%.0f s", s);
    if (step >= 0.1)
        return g_strdup_printf("%.1f s", s);
    return g_strdup_printf("%.2f s", s);
}

static void G_GNUC_PRINTF(5, 6)
    text(GString *svg, double x, double y, const char *attrs, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *raw = NULL, *esc = NULL;

    va_start(ap, fmt);
    raw = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    esc = g_markup_escape_text(raw, -1);
    g_string_append_printf(svg, "  <text x='%.1f' y='%.1f' %s>%s</text>\n", x, y, attrs, esc);
}

/* A bracket under a bar from X0 to X1 at height Y: the span of a total (creation, stop). */
static void
bracket(GString *svg, double x0, double x1, double y, const char *cls)
{
    g_string_append_printf(svg,
                           "    <path d='M %.1f %.1f v 5 H %.1f v -5' fill='none' stroke='#333' "
                           "class='%s'/>\n",
                           x0, y, x1, cls);
}

/* Bold 13 px text: about 8 px a character (DejaVu Sans, the widest of the fonts asked for). */
#define CHAR_W 7.5

/* LABEL in at most two lines of MAX characters, cut at word boundaries where it can be. */
static void
wrap_label(const char *label, guint max, char **line1, char **line2)
{
    g_auto(GStrv) words = g_strsplit(label && *label ? label : "(no label)", " ", -1);
    GString *lines[2] = {g_string_new(NULL), g_string_new(NULL)};
    guint l = 0;

    for (char **w = words; *w; w++) {
        glong wl = g_utf8_strlen(*w, -1), cur = g_utf8_strlen(lines[l]->str, -1);

        if (cur && cur + 1 + wl > (glong)max && l == 0) {
            l = 1;
            cur = 0;
        }
        if (cur)
            g_string_append_c(lines[l], ' ');
        g_string_append(lines[l], *w);
    }
    for (guint i = 0; i < 2; i++) {
        if (g_utf8_strlen(lines[i]->str, -1) > (glong)max) {
            g_autofree char *cut = g_utf8_substring(lines[i]->str, 0, max - 1);

            g_string_assign(lines[i], cut);
            g_string_append(lines[i], "\u2026");
        }
    }
    *line1 = g_string_free(lines[0], FALSE);
    *line2 = g_string_free(lines[1], FALSE);
}

char *
fp_waterfall_svg(FpProfile *const *profiles, guint n, const char *title)
{
    GString *svg = g_string_new(NULL);
    g_autoptr(GPtrArray) sums =
        g_ptr_array_new_with_free_func((GDestroyNotify)fp_profile_summary_free);
    g_autoptr(GPtrArray) legend = g_ptr_array_new(); /* FpPhaseStats* of ids first seen */
    json_object *meta = json_object_new_array();
    double max_ms = 0, step, scale, axis_max;
    gboolean any_stop = FALSE;
    double label_w = LABEL_MIN_W, chart_w;
    guint legend_rows, per_row = 4, height;
    double legend_y, rows_y, axis_y;

    for (guint i = 0; i < n; i++) {
        FpProfileSummary *s = fp_profile_summarize(profiles[i]);
        double row = 0;
        glong chars;

        g_ptr_array_add(sums, s);
        for (guint k = 0; k < s->phases->len; k++) {
            FpPhaseStats *ps = &g_array_index(s->phases, FpPhaseStats, k);
            gboolean seen = FALSE;

            row += ps->ms.median;
            any_stop |= ps->stop;
            for (guint l = 0; l < legend->len && !seen; l++)
                seen = !strcmp(((FpPhaseStats *)g_ptr_array_index(legend, l))->id, ps->id);
            if (!seen)
                g_ptr_array_add(legend, ps);
        }
        max_ms = MAX(max_ms, row);
        chars = profiles[i]->label ? g_utf8_strlen(profiles[i]->label, -1) : 0;
        label_w = MAX(label_w, MIN(LABEL_MAX_W, 30 + CHAR_W * chars));
        json_object_array_add(meta, fp_profile_to_json(profiles[i]));
    }
    /* Legend in catalogue order, whatever order the rows showed the phases in. */
    {
        guint nc;
        const FpPhaseInfo *cat = fp_profile_phase_catalogue(&nc);
        g_autoptr(GPtrArray) ordered = g_ptr_array_new();

        for (guint c = 0; c < nc; c++)
            for (guint l = 0; l < legend->len; l++)
                if (!strcmp(((FpPhaseStats *)g_ptr_array_index(legend, l))->id, cat[c].id))
                    g_ptr_array_add(ordered, g_ptr_array_index(legend, l));
        g_ptr_array_set_size(legend, 0);
        for (guint l = 0; l < ordered->len; l++)
            g_ptr_array_add(legend, g_ptr_array_index(ordered, l));
    }

    chart_w = WIDTH - label_w - TOTAL_W - 20 - (any_stop ? STOP_GAP : 0);
    step = tick_step(MAX(max_ms, 1) / 1000.0);
    axis_max = step * (double)(gint64)(MAX(max_ms, 1) / 1000.0 / step + 0.999999);
    scale = chart_w / (axis_max * 1000.0); /* px per ms */
    legend_rows = (legend->len + per_row - 1) / per_row;
    legend_y = TOP;
    rows_y = legend_y + legend_rows * LEGEND_ROW_H + 20;
    axis_y = rows_y + MAX(n, 1) * ROW_H + 6;
    height = (guint)(axis_y + 60);

    g_string_append_printf(
        svg,
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%u' viewBox='0 0 %d %u' "
        "font-family='DejaVu Sans, Liberation Sans, Arial, sans-serif' font-size='13'>\n",
        WIDTH, height, WIDTH, height);
    {
        g_autofree char *json =
            g_strdup(json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN));
        g_autofree char *esc = g_markup_escape_text(json, -1);

        /* The data behind the chart, so `fastpass profile --svg FILE --append` can add a row. */
        g_autofree char *etitle = g_markup_escape_text(title ? title : "", -1);

        g_string_append_printf(
            svg,
            "  <metadata><fastpass:profiles xmlns:fastpass='%s' title='%s'>%s</fastpass:profiles>"
            "</metadata>\n",
            FP_CHART_NS, etitle, esc);
    }
    json_object_put(meta);
    g_string_append_printf(svg, "  <rect x='0' y='0' width='%d' height='%u' fill='white'/>\n",
                           WIDTH, height);
    text(svg, 16, 28, "font-size='18' font-weight='bold'", "%s",
         title ? title : "VM creation time");
    text(svg, 16, 48, "font-size='12' fill='#555'", "%s",
         "creation time = QEMU exec \u2192 first guest kernel line (\"Linux version\") = init "
         "(exec \u2192 vCPUs "
         "run) + BIOS (vCPUs run \u2192 kernel line)");

    /* Legend. */
    for (guint l = 0; l < legend->len; l++) {
        const FpPhaseStats *ps = g_ptr_array_index(legend, l);
        double x = 16 + (l % per_row) * ((WIDTH - 32) / (double)per_row);
        double y = legend_y + (l / per_row) * LEGEND_ROW_H;

        g_string_append_printf(
            svg,
            "  <rect x='%.1f' y='%.1f' width='14' height='14' fill='%s' class='legend' "
            "data-phase='%s'/>\n",
            x, y, colour_of(ps->id), ps->id);
        text(svg, x + 20, y + 12, "", "%s", ps->label);
    }

    /* Grid and axis. */
    for (double t = 0; t <= axis_max + step / 2; t += step) {
        double x = label_w + t * 1000.0 * scale;
        g_autofree char *label = seconds_text(t, step);

        g_string_append_printf(
            svg, "  <line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#e3e3e3'/>\n", x,
            rows_y - 6, x, axis_y);
        g_string_append_printf(svg,
                               "  <line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#333'/>\n",
                               x, axis_y, x, axis_y + 5);
        text(svg, x, axis_y + 19, "text-anchor='middle' class='tick'", "%s", label);
    }
    g_string_append_printf(svg, "  <line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#333'/>\n",
                           label_w, axis_y, label_w + chart_w, axis_y);
    text(svg, label_w + chart_w / 2, axis_y + 40, "text-anchor='middle' fill='#555'", "%s",
         any_stop ? "time since the start was requested; after the gap, the stop (medians of "
                    "each phase)"
                  : "time since the start was requested (medians of each phase)");

    /* Rows. */
    for (guint i = 0; i < n; i++) {
        const FpProfile *p = profiles[i];
        const FpProfileSummary *s = g_ptr_array_index(sums, i);
        double y = rows_y + i * ROW_H, x = label_w, exec_x = -1, creation_end = -1, stop_x = -1;
        double sub_y;
        g_autofree char *line1 = NULL, *line2 = NULL;

        g_autofree char *esc = g_markup_escape_text(p->label ? p->label : "", -1);

        g_string_append_printf(svg, "  <g class='row' data-label='%s'>\n", esc);
        wrap_label(p->label, (guint)((label_w - 30) / CHAR_W), &line1, &line2);
        text(svg, 16, y + 13, "font-weight='bold' class='row-label'", "%s", line1);
        if (*line2)
            text(svg, 16, y + 29, "font-weight='bold' class='row-label'", "%s", line2);
        sub_y = *line2 ? y + 44 : y + 29;
        text(svg, 16, sub_y, "font-size='11' fill='#555'", "%s, %u start%s", p->mode ? p->mode : "",
             p->runs->len, p->runs->len == 1 ? "" : "s");
        if (s->dma_map >= 0)
            text(svg, 16, sub_y + 13, "font-size='11' fill='#555'",
                 "VFIO DMA: %" G_GINT64_FORMAT " map, %" G_GINT64_FORMAT " unmap", s->dma_map,
                 s->dma_unmap);
        for (guint k = 0; k < s->phases->len; k++) {
            const FpPhaseStats *ps = &g_array_index(s->phases, FpPhaseStats, k);
            double w = ps->ms.median * scale;
            g_autofree char *tip = g_markup_escape_text(ps->label, -1);

            if (ps->stop && stop_x < 0) {
                /* The guest's run between start and stop is not drawn: a gap and a dashed line. */
                x += STOP_GAP;
                stop_x = x;
                g_string_append_printf(svg,
                                       "    <line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' "
                                       "stroke='#555' stroke-dasharray='3,3' class='stop-gap'/>\n",
                                       x - STOP_GAP / 2.0, y - 4, x - STOP_GAP / 2.0,
                                       y + BAR_H + 4);
            }
            if (ps->creation && exec_x < 0)
                exec_x = x;
            g_string_append_printf(
                svg,
                "    <rect x='%.2f' y='%.1f' width='%.2f' height='%d' fill='%s' class='phase' "
                "data-phase='%s' data-ms='%.3f'><title>%s: %.3f s</title></rect>\n",
                x, y, w, BAR_H, colour_of(ps->id), ps->id, ps->ms.median, tip,
                ps->ms.median / 1000);
            /* Long enough to hold it: the phase's seconds inside the bar. */
            if (w > 46) {
                g_autofree char *attrs =
                    g_strdup_printf("text-anchor='middle' font-size='11' fill='%s' class='in-bar'",
                                    text_colour_on(colour_of(ps->id)));

                text(svg, x + w / 2, y + 16, attrs, "%.2f s", ps->ms.median / 1000);
            }
            x += w;
            if (ps->creation)
                creation_end = x;
        }
        /* The creation-time bracket under the bar. */
        if (exec_x >= 0 && creation_end > exec_x) {
            bracket(svg, exec_x, creation_end, y + BAR_H + 5, "creation-bracket");
            text(svg, (exec_x + creation_end) / 2, y + BAR_H + 22,
                 "text-anchor='middle' font-size='11' fill='#333'", "%s", "creation time");
        }
        /* The stop's bracket: from the stop call on, as far as it was measured. */
        if (stop_x >= 0 && x > stop_x) {
            g_autofree char *label = s->stop_ms.n
                                         ? g_strdup_printf("stop %.2f s", s->stop_ms.median / 1000)
                                         : g_strdup("stop");

            bracket(svg, stop_x, x, y + BAR_H + 5, "stop-bracket");
            text(svg, (stop_x + x) / 2, y + BAR_H + 22,
                 "text-anchor='middle' font-size='11' fill='#333' class='stop-total'", "%s", label);
        }
        if (s->creation_ms.n) {
            text(svg, x + 8, y + 12, "font-weight='bold' class='total'", "creation %.2f s",
                 s->creation_ms.median / 1000);
            text(svg, x + 8, y + 27, "font-size='11' fill='#555'", "init %.2f s + BIOS %.2f s%s",
                 s->init_ms.median / 1000, s->bios_ms.median / 1000,
                 p->runs->len > 1 ? " (medians)" : "");
            if (s->creation_ms.n > 1)
                text(svg, x + 8, y + 41, "font-size='11' fill='#555'",
                     "range %.2f\u2013%.2f s, n=%u", s->creation_ms.min / 1000,
                     s->creation_ms.max / 1000, s->creation_ms.n);
        } else {
            text(svg, x + 8, y + 16, "font-weight='bold' class='total'", "%s",
                 "creation time not measured");
        }
        g_string_append(svg, "  </g>\n");
    }
    if (!n)
        text(svg, label_w, rows_y + 16, "fill='#555'", "%s", "no profiles");
    g_string_append(svg, "</svg>\n");
    return g_string_free(svg, FALSE);
}

GPtrArray *
fp_waterfall_load(const char *path, char **title, GError **error)
{
    g_autofree char *buf = NULL, *json = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)fp_profile_free);
    xmlNode *profiles = NULL;
    json_object *arr;
    gsize len;

    if (!(buf = fp_xml_read_file(path, &len, error)) || !(doc = fp_xml_parse(buf, len, error)))
        return NULL;
    fp_xml_foreach_child (meta, xmlDocGetRootElement(doc), "metadata") {
        fp_xml_foreach_child (x, meta, "profiles") {
            if (x->ns && xmlStrEqual(x->ns->href, BAD_CAST FP_CHART_NS))
                profiles = x;
        }
    }
    if (!profiles) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s: not a chart written by fastpass profile",
                    path);
        return NULL;
    }
    if (title) {
        g_autofree char *t = fp_xml_prop(profiles, "title");

        *title = t && *t ? g_steal_pointer(&t) : NULL;
    }
    json = fp_xml_text(profiles);
    arr = json ? json_tokener_parse(json) : NULL;
    if (!json_object_is_type(arr, json_type_array)) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s: the chart's profile data is damaged",
                    path);
        json_object_put(arr);
        return NULL;
    }
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        FpProfile *p = fp_profile_from_json(json_object_array_get_idx(arr, i), path, error);

        if (!p) {
            json_object_put(arr);
            return NULL;
        }
        g_ptr_array_add(out, p);
    }
    json_object_put(arr);
    return g_steal_pointer(&out);
}
