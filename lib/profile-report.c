/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A profile as JSON (for the benchmark and for charts made later) and as text (for people). */
#include "profile.h"

#include "error.h"
#include "jsonget.h"

#include <string.h>

#define FP_PROFILE_FORMAT 1

/* Milliseconds to the microsecond, written as such (not 6465.641500000001). */
static json_object *
ms_json(double ms)
{
    char text[64];

    g_ascii_formatd(text, sizeof(text), "%.3f", ms);
    return json_object_new_double_s(g_ascii_strtod(text, NULL), text);
}

static json_object *
stats_json(const FpStats *st)
{
    json_object *j = json_object_new_object();

    json_object_object_add(j, "median", ms_json(st->median));
    json_object_object_add(j, "min", ms_json(st->min));
    json_object_object_add(j, "max", ms_json(st->max));
    json_object_object_add(j, "n", json_object_new_int((int)st->n));
    return j;
}

/* [{"id", "label", "at_us", "ms_after_vcpu"}] */
static json_object *
marks_json(const FpProfileRun *run)
{
    json_object *arr = json_object_new_array();

    for (guint i = 0; i < run->firmware_marks->len; i++) {
        const FpFirmwareMark *m = &g_array_index(run->firmware_marks, FpFirmwareMark, i);
        json_object *jm = json_object_new_object();

        json_object_object_add(jm, "id", json_object_new_string(m->id));
        json_object_object_add(jm, "label", json_object_new_string(m->label));
        json_object_object_add(jm, "at_us", json_object_new_int64(m->at_us));
        if (run->at[FP_PT_VCPU_START])
            json_object_object_add(jm, "ms_after_vcpu",
                                   ms_json((m->at_us - run->at[FP_PT_VCPU_START]) / 1000.0));
        json_object_array_add(arr, jm);
    }
    return arr;
}

/* Marks as written by marks_json; ids this fastpass does not know are skipped. */
static void
marks_from_json(FpProfileRun *run, json_object *arr)
{
    guint n;
    const FpFirmwareMark *cat = fp_profile_firmware_mark_catalogue(&n);

    for (size_t i = 0;
         json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr); i++) {
        json_object *jm = json_object_array_get_idx(arr, i);
        const char *id = fp_json_str(jm, "id");
        gint64 at = json_object_get_int64(json_object_object_get(jm, "at_us"));

        for (guint k = 0; id && at > 0 && k < n; k++) {
            if (!strcmp(cat[k].id, id)) {
                FpFirmwareMark m = cat[k];

                m.at_us = at;
                if (!run->firmware_marks)
                    run->firmware_marks = g_array_new(FALSE, TRUE, sizeof(FpFirmwareMark));
                g_array_append_val(run->firmware_marks, m);
            }
        }
    }
}

static json_object *
run_json(const FpProfileRun *run)
{
    json_object *j = json_object_new_object(), *points = json_object_new_object();
    json_object *sources = json_object_new_object(), *jphases = json_object_new_array();
    json_object *dma = json_object_new_object(), *notes = json_object_new_array();
    g_autoptr(GArray) phases = fp_profile_run_phases(run);
    gint64 init, bios, creation, t0 = run->at[FP_PT_START_CALL];

    for (guint i = 0; i < FP_PT_COUNT; i++) {
        if (!run->at[i])
            continue;
        json_object_object_add(points, fp_profile_point_name(i), json_object_new_int64(run->at[i]));
        if (run->source[i])
            json_object_object_add(sources, fp_profile_point_name(i),
                                   json_object_new_string(run->source[i]));
    }
    json_object_object_add(j, "points_us", points);
    json_object_object_add(j, "sources", sources);
    if (fp_profile_run_times(run, &init, &bios, &creation)) {
        json_object_object_add(j, "init_ms", ms_json(init / 1000.0));
        json_object_object_add(j, "bios_ms", ms_json(bios / 1000.0));
        json_object_object_add(j, "creation_ms", ms_json(creation / 1000.0));
    }
    for (guint i = 0; i < phases->len; i++) {
        const FpPhase *ph = &g_array_index(phases, FpPhase, i);
        json_object *jp = json_object_new_object();

        json_object_object_add(jp, "id", json_object_new_string(ph->id));
        json_object_object_add(jp, "label", json_object_new_string(ph->label));
        json_object_object_add(jp, "creation", json_object_new_boolean(ph->creation));
        json_object_object_add(jp, "stop", json_object_new_boolean(ph->stop));
        if (t0)
            json_object_object_add(jp, "start_ms", ms_json((ph->start_us - t0) / 1000.0));
        json_object_object_add(jp, "ms", ms_json((ph->end_us - ph->start_us) / 1000.0));
        json_object_array_add(jphases, jp);
    }
    json_object_object_add(j, "phases", jphases);
    json_object_object_add(j, "kernel_line",
                           run->kernel_line ? json_object_new_string(run->kernel_line) : NULL);
    json_object_object_add(j, "firmware",
                           run->firmware ? fp_firmware_to_json(run->firmware) : NULL);
    if (run->firmware_marks && run->firmware_marks->len)
        json_object_object_add(j, "firmware_marks", marks_json(run));
    if (run->devices)
        json_object_object_add(j, "devices", json_object_get(run->devices));
    json_object_object_add(dma, "visible", json_object_new_boolean(run->dma_visible));
    if (run->dma_visible) {
        json_object_object_add(dma, "map", json_object_new_int64(run->dma_map));
        json_object_object_add(dma, "unmap", json_object_new_int64(run->dma_unmap));
        json_object_object_add(dma, "remap", json_object_new_int64(run->dma_remap));
        json_object_object_add(dma, "counted",
                               json_object_new_string(run->dma_ioctl ? "ioctl" : "listener"));
    }
    json_object_object_add(j, "vfio_dma", dma);
    for (guint i = 0; i < run->notes->len; i++)
        json_object_array_add(notes, json_object_new_string(g_ptr_array_index(run->notes, i)));
    json_object_object_add(j, "notes", notes);
    return j;
}

json_object *
fp_profile_to_json(const FpProfile *p)
{
    json_object *j = json_object_new_object(), *runs = json_object_new_array();
    json_object *sum = json_object_new_object(), *phases = json_object_new_array();
    g_autoptr(FpProfileSummary) s = fp_profile_summarize(p);

    json_object_object_add(j, "fastpass_profile", json_object_new_int(FP_PROFILE_FORMAT));
    json_object_object_add(j, "label", json_object_new_string(p->label ? p->label : ""));
    json_object_object_add(j, "domain", json_object_new_string(p->domain ? p->domain : ""));
    json_object_object_add(j, "mode", json_object_new_string(p->mode ? p->mode : ""));
    for (guint i = 0; i < p->runs->len; i++)
        json_object_array_add(runs, run_json(g_ptr_array_index(p->runs, i)));
    json_object_object_add(j, "runs", runs);
    if (s->creation_ms.n) {
        json_object_object_add(sum, "init_ms", stats_json(&s->init_ms));
        json_object_object_add(sum, "bios_ms", stats_json(&s->bios_ms));
        json_object_object_add(sum, "creation_ms", stats_json(&s->creation_ms));
    }
    if (s->total_ms.n)
        json_object_object_add(sum, "start_to_kernel_ms", stats_json(&s->total_ms));
    if (s->stop_ms.n)
        json_object_object_add(sum, "stop_ms", stats_json(&s->stop_ms));
    for (guint i = 0; i < s->phases->len; i++) {
        const FpPhaseStats *ps = &g_array_index(s->phases, FpPhaseStats, i);
        json_object *jp = stats_json(&ps->ms);

        json_object_object_add(jp, "id", json_object_new_string(ps->id));
        json_object_object_add(jp, "label", json_object_new_string(ps->label));
        json_object_object_add(jp, "creation", json_object_new_boolean(ps->creation));
        json_object_object_add(jp, "stop", json_object_new_boolean(ps->stop));
        json_object_array_add(phases, jp);
    }
    json_object_object_add(sum, "phases_ms", phases);
    json_object_object_add(sum, "vfio_dma_map",
                           s->dma_map >= 0 ? json_object_new_int64(s->dma_map) : NULL);
    json_object_object_add(sum, "vfio_dma_unmap",
                           s->dma_unmap >= 0 ? json_object_new_int64(s->dma_unmap) : NULL);
    json_object_object_add(sum, "vfio_dma_remap",
                           s->dma_remap >= 0 ? json_object_new_int64(s->dma_remap) : NULL);
    json_object_object_add(sum, "runs", json_object_new_int((int)p->runs->len));
    json_object_object_add(j, "summary", sum);
    return j;
}

static FpProfileRun *
run_from_json(json_object *j, guint idx, const char *origin, GError **error)
{
    g_autoptr(FpProfileRun) run = fp_profile_run_new();
    json_object *points = json_object_object_get(j, "points_us");
    json_object *sources = json_object_object_get(j, "sources");
    json_object *dma = json_object_object_get(j, "vfio_dma");
    json_object *notes = json_object_object_get(j, "notes");
    json_object *devices = json_object_object_get(j, "devices");

    if (!json_object_is_type(j, json_type_object) ||
        !json_object_is_type(points, json_type_object)) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s: run %u has no \"points_us\" object",
                    origin, idx + 1);
        return NULL;
    }
    for (guint i = 0; i < FP_PT_COUNT; i++) {
        json_object *v = json_object_object_get(points, fp_profile_point_name(i));

        if (!v)
            continue;
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) <= 0) {
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                        "%s: run %u: point \"%s\" is not a positive integer", origin, idx + 1,
                        fp_profile_point_name(i));
            return NULL;
        }
        fp_profile_run_set(run, i, json_object_get_int64(v),
                           json_object_is_type(sources, json_type_object)
                               ? fp_json_str(sources, fp_profile_point_name(i))
                               : NULL);
    }
    run->kernel_line = g_strdup(fp_json_str(j, "kernel_line"));
    run->firmware = fp_firmware_from_json(json_object_object_get(j, "firmware"));
    marks_from_json(run, json_object_object_get(j, "firmware_marks"));
    if (json_object_is_type(devices, json_type_array))
        run->devices = json_object_get(devices);
    if (json_object_is_type(dma, json_type_object)) {
        run->dma_visible = json_object_get_boolean(json_object_object_get(dma, "visible"));
        run->dma_map = json_object_get_int64(json_object_object_get(dma, "map"));
        run->dma_unmap = json_object_get_int64(json_object_object_get(dma, "unmap"));
        run->dma_remap = json_object_get_int64(json_object_object_get(dma, "remap"));
        run->dma_ioctl = g_strcmp0(fp_json_str(dma, "counted"), "ioctl") == 0;
    }
    for (size_t i = 0;
         json_object_is_type(notes, json_type_array) && i < json_object_array_length(notes); i++) {
        const char *n = json_object_get_string(json_object_array_get_idx(notes, i));

        if (n)
            g_ptr_array_add(run->notes, g_strdup(n));
    }
    return g_steal_pointer(&run);
}

FpProfile *
fp_profile_from_json(json_object *j, const char *origin, GError **error)
{
    g_autoptr(FpProfile) p = NULL;
    json_object *runs = json_object_object_get(j, "runs");
    json_object *fmt = json_object_object_get(j, "fastpass_profile");

    if (!json_object_is_type(j, json_type_object) || !json_object_is_type(fmt, json_type_int)) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "%s: not a fastpass profile (no \"fastpass_profile\")", origin);
        return NULL;
    }
    if (json_object_get_int(fmt) != FP_PROFILE_FORMAT) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "%s: profile format %d, this fastpass reads %d", origin,
                    json_object_get_int(fmt), FP_PROFILE_FORMAT);
        return NULL;
    }
    if (!json_object_is_type(runs, json_type_array)) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s: \"runs\" is not an array", origin);
        return NULL;
    }
    p = fp_profile_new(fp_json_str(j, "label"), fp_json_str(j, "domain"), fp_json_str(j, "mode"));
    for (size_t i = 0; i < json_object_array_length(runs); i++) {
        FpProfileRun *run =
            run_from_json(json_object_array_get_idx(runs, i), (guint)i, origin, error);

        if (!run)
            return NULL;
        g_ptr_array_add(p->runs, run);
    }
    return g_steal_pointer(&p);
}

FpProfile *
fp_profile_load_file(const char *path, GError **error)
{
    g_autofree char *text = NULL;
    gsize len;
    json_tokener *tok;
    json_object *j;
    FpProfile *p;

    if (!g_file_get_contents(path, &text, &len, error))
        return NULL;
    tok = json_tokener_new();
    j = json_tokener_parse_ex(tok, text, (int)MIN(len, (gsize)G_MAXINT));
    if (!j || json_tokener_get_error(tok) != json_tokener_success) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s: not JSON: %s", path,
                    json_tokener_error_desc(json_tokener_get_error(tok)));
        json_tokener_free(tok);
        json_object_put(j);
        return NULL;
    }
    json_tokener_free(tok);
    p = fp_profile_from_json(j, path, error);
    json_object_put(j);
    return p;
}

/* Totals in seconds, phases (often a few ms) in milliseconds. */
static void
append_stats(GString *out, const char *name, const FpStats *st, gboolean many, gboolean ms)
{
    if (!st->n) {
        g_string_append_printf(out, "  %-32s not measured\n", name);
        return;
    }
    if (ms)
        g_string_append_printf(out, "  %-32s %9.1f ms", name, st->median);
    else
        g_string_append_printf(out, "  %-32s %9.3f s ", name, st->median / 1000);
    if (many && ms)
        g_string_append_printf(out, "   (min %.1f, max %.1f, n=%u)", st->min, st->max, st->n);
    else if (many)
        g_string_append_printf(out, "   (min %.3f, max %.3f, n=%u)", st->min / 1000, st->max / 1000,
                               st->n);
    g_string_append_c(out, '\n');
}

static void
append_devices(GString *out, json_object *devices)
{
    for (size_t i = 0; i < json_object_array_length(devices); i++) {
        json_object *d = json_object_array_get_idx(devices, i),
                    *steps = json_object_object_get(d, "steps");

        g_string_append_printf(out,
                               "      %s %s:", fp_json_str(d, "bdf") ? fp_json_str(d, "bdf") : "?",
                               fp_json_str(d, "status") ? fp_json_str(d, "status") : "?");
        for (size_t s = 0;
             json_object_is_type(steps, json_type_array) && s < json_object_array_length(steps);
             s++) {
            json_object *st = json_object_array_get_idx(steps, s);
            double start = json_object_get_double(json_object_object_get(st, "start_ms"));
            double ms = json_object_get_double(json_object_object_get(st, "ms"));

            g_string_append_printf(out, "%s %s %.0f ms (+%.0f)", s ? "," : "",
                                   fp_json_str(st, "step"), ms, start);
        }
        g_string_append_c(out, '\n');
    }
}

static void
free_gstring(gpointer s)
{
    g_string_free(s, TRUE);
}

/* Each note once, with the starts it is about. */
static void
append_notes(GString *out, const FpProfile *p)
{
    g_autoptr(GPtrArray) texts = g_ptr_array_new();
    g_autoptr(GPtrArray) starts = g_ptr_array_new_with_free_func(free_gstring);

    for (guint r = 0; r < p->runs->len; r++) {
        const FpProfileRun *run = g_ptr_array_index(p->runs, r);

        for (guint k = 0; k < run->notes->len; k++) {
            const char *note = g_ptr_array_index(run->notes, k);
            guint idx;

            if (!g_ptr_array_find_with_equal_func(texts, note, g_str_equal, &idx)) {
                g_ptr_array_add(texts, (gpointer)note);
                g_ptr_array_add(starts, g_string_new(NULL));
                idx = texts->len - 1;
            }
            g_string_append_printf(g_ptr_array_index(starts, idx), "%s%u",
                                   ((GString *)g_ptr_array_index(starts, idx))->len ? ", " : "",
                                   r + 1);
        }
    }
    for (guint i = 0; i < texts->len; i++) {
        GString *which = g_ptr_array_index(starts, i);
        guint count = 1;

        for (const char *c = which->str; *c; c++)
            count += *c == ',';
        if (p->runs->len > 1)
            g_string_append_printf(out, "  note (%s%s): %s\n",
                                   count == p->runs->len ? "all starts"
                                   : count > 1           ? "starts "
                                                         : "start ",
                                   count == p->runs->len ? "" : which->str,
                                   (const char *)g_ptr_array_index(texts, i));
        else
            g_string_append_printf(out, "  note: %s\n", (const char *)g_ptr_array_index(texts, i));
    }
}

/* The firmware the starts booted: a profile's times mean nothing without it. */
static void
append_firmware(GString *out, const FpProfile *p)
{
    g_autofree char *first = NULL;
    gboolean same = TRUE;

    for (guint r = 0; r < p->runs->len; r++) {
        const FpProfileRun *run = g_ptr_array_index(p->runs, r);
        g_autofree char *text =
            run->firmware ? fp_firmware_describe(run->firmware) : g_strdup("not known");

        if (!first)
            first = g_steal_pointer(&text);
        else if (strcmp(first, text))
            same = FALSE;
    }
    if (!first)
        return;
    if (same) {
        g_string_append_printf(out, "  firmware: %s\n", first);
        return;
    }
    for (guint r = 0; r < p->runs->len; r++) {
        const FpProfileRun *run = g_ptr_array_index(p->runs, r);
        g_autofree char *text =
            run->firmware ? fp_firmware_describe(run->firmware) : g_strdup("not known");

        g_string_append_printf(out, "  firmware (start %u): %s\n", r + 1, text);
    }
}

/* The last start's firmware milestones, from the vCPU start on. */
static void
append_marks(GString *out, const FpProfile *p)
{
    const FpProfileRun *last = p->runs->len ? g_ptr_array_index(p->runs, p->runs->len - 1) : NULL;

    if (!last || !last->firmware_marks || !last->firmware_marks->len || !last->at[FP_PT_VCPU_START])
        return;
    g_string_append_printf(out,
                           "firmware milestones%s, after the vCPUs start (QEMU's fw_cfg trace):\n",
                           p->runs->len > 1 ? " of the last start" : "");
    for (guint i = 0; i < last->firmware_marks->len; i++) {
        const FpFirmwareMark *m = &g_array_index(last->firmware_marks, FpFirmwareMark, i);

        g_string_append_printf(out, "  %-40s %9.3f s\n", m->label,
                               (m->at_us - last->at[FP_PT_VCPU_START]) / 1e6);
    }
}

char *
fp_profile_format_text(const FpProfile *p)
{
    GString *out = g_string_new(NULL);
    g_autoptr(FpProfileSummary) s = fp_profile_summarize(p);
    gboolean many = p->runs->len > 1;

    g_string_append_printf(out, "%s (%s, %s): %u start%s\n", p->label ? p->label : "",
                           p->domain ? p->domain : "", p->mode ? p->mode : "", p->runs->len,
                           p->runs->len == 1 ? "" : "s");
    for (guint r = 0; r < p->runs->len; r++) {
        const FpProfileRun *run = g_ptr_array_index(p->runs, r);
        gint64 i, b, c;

        g_string_append_printf(out, "  run %u:", r + 1);
        if (fp_profile_run_times(run, &i, &b, &c))
            g_string_append_printf(out, " creation %.3f s = init %.3f s + BIOS %.3f s", c / 1e6,
                                   i / 1e6, b / 1e6);
        else
            g_string_append(out, " creation time not measured");
        g_string_append_printf(
            out, "  [exec: %s, vCPU start: %s]\n",
            run->source[FP_PT_QEMU_EXEC] ? run->source[FP_PT_QEMU_EXEC] : "not seen",
            run->source[FP_PT_VCPU_START] ? run->source[FP_PT_VCPU_START] : "not seen");
    }
    append_firmware(out, p);
    append_notes(out, p);
    g_string_append_printf(out, "%s\n", many ? "median over the starts:" : "times:");
    append_stats(out, "init time (exec -> vCPUs run)", &s->init_ms, many, FALSE);
    append_stats(out, "BIOS time (vCPUs -> Linux)", &s->bios_ms, many, FALSE);
    append_stats(out, "creation time (exec -> Linux)", &s->creation_ms, many, FALSE);
    append_stats(out, "start call -> Linux", &s->total_ms, many, FALSE);
    if (s->stop_ms.n)
        append_stats(out, "stop (stop call -> stopped)", &s->stop_ms, many, FALSE);
    g_string_append(out, "phases:\n");
    for (guint k = 0; k < s->phases->len; k++) {
        const FpPhaseStats *ps = &g_array_index(s->phases, FpPhaseStats, k);

        append_stats(out, ps->label, &ps->ms, many, TRUE);
        if (!strcmp(ps->id, "devices") && p->runs->len) {
            const FpProfileRun *last = g_ptr_array_index(p->runs, p->runs->len - 1);

            if (last->devices)
                append_devices(out, last->devices);
        }
    }
    if (s->dma_map >= 0)
        g_string_append_printf(out,
                               "  %-32s %" G_GINT64_FORMAT " map, %" G_GINT64_FORMAT
                               " unmap, %" G_GINT64_FORMAT
                               " map of an IOVA range mapped before (redundant), %s\n",
                               "VFIO DMA calls", s->dma_map, s->dma_unmap, s->dma_remap,
                               s->dma_ioctl ? "QEMU's ioctls" : "QEMU's memory-listener events");
    else
        g_string_append_printf(out, "  %-32s not visible\n", "VFIO DMA calls");
    append_marks(out, p);
    if (p->runs->len) {
        const FpProfileRun *last = g_ptr_array_index(p->runs, p->runs->len - 1);

        if (last->kernel_line)
            g_string_append_printf(out, "guest: %s\n", last->kernel_line);
    }
    return g_string_free(out, FALSE);
}
