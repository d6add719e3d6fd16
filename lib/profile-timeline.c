/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hook's and the wrapper's timelines (timeline.h) as points of a profiled start. */
#include "profile.h"

#include "timeline.h"

#include <string.h>

/* The "events" array of SOURCE's timeline, or NULL (with a note on RUN). The file may have been
 * written by QEMU's user: it is read without following a symlink, up to a bound, and reported,
 * never trusted, when it is anything but a timeline. */
static json_object *
load_events(FpProfileRun *run, const char *run_dir, const char *uuid, const char *name,
            const char *source, const char *what)
{
    g_autofree char *path = fp_timeline_path(run_dir, uuid, name, source);
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    gsize len;
    json_object *root, *events;

    if (!(text = fp_timeline_read(run_dir, uuid, name, source, &len, &error))) {
        g_autofree char *dir = g_path_get_dirname(path);

        if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            fp_profile_run_note(
                run, "no %s timeline in %s: %s is not in use, or writes under another run_dir",
                what, dir, strcmp(what, "hook") ? "fastpass-qemu" : "the fastpass hook");
        else
            fp_profile_run_note(run, "%s timeline unreadable: %s", what, error->message);
        return NULL;
    }
    /* The hook gives QEMU's user an empty file at prepare begin: still empty, no wrapper wrote. */
    if (!len) {
        fp_profile_run_note(run, "%s timeline %s is empty: fastpass-qemu is not in use", what,
                            path);
        return NULL;
    }
    if (strlen(text) != len || !(root = json_tokener_parse(text))) {
        fp_profile_run_note(run, "%s timeline %s is not JSON; ignored", what, path);
        return NULL;
    }
    events = json_object_object_get(root, "events");
    if (!json_object_is_type(root, json_type_object) ||
        !json_object_is_type(events, json_type_array)) {
        fp_profile_run_note(run, "%s timeline %s has no events; ignored", what, path);
        json_object_put(root);
        return NULL;
    }
    json_object_get(events);
    json_object_put(root);
    return events;
}

static gint64
int_member(json_object *j, const char *key)
{
    json_object *v = json_object_object_get(j, key);

    return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
}

static json_object *
find_event(json_object *events, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(events); i++) {
        json_object *ev = json_object_array_get_idx(events, i);
        const char *n = json_object_get_string(json_object_object_get(ev, "event"));

        if (json_object_is_type(ev, json_type_object) && n && !strcmp(n, name))
            return ev;
    }
    return NULL;
}

/* The hook writes one "hook-prepare" event per start (begin_us, devices_begin_us,
 * devices_end_us, the device report in "devices", and time_us at its end). */
static void
read_hook(FpProfileRun *run, const char *run_dir, const char *uuid, const char *name,
          gint64 not_before_us)
{
    json_object *events = load_events(run, run_dir, uuid, name, "hook", "hook");
    json_object *ev;
    gint64 t;

    if (!events)
        return;
    ev = find_event(events, "hook-prepare");
    t = int_member(ev, "begin_us");
    if (!t || t < not_before_us) {
        fp_profile_run_note(
            run, "hook timeline is from an earlier start: the hook did not run for this one");
        json_object_put(events);
        return;
    }
    fp_profile_run_set(run, FP_PT_HOOK_BEGIN, t, "hook-timeline");
    if ((t = int_member(ev, "devices_begin_us")) >= run->at[FP_PT_HOOK_BEGIN] && t) {
        json_object *report = json_object_object_get(ev, "devices");
        json_object *list = json_object_object_get(report, "devices");

        fp_profile_run_set(run, FP_PT_DEVICES_BEGIN, t, "hook-timeline");
        if ((t = int_member(ev, "devices_end_us")) >= run->at[FP_PT_DEVICES_BEGIN])
            fp_profile_run_set(run, FP_PT_DEVICES_END, t, "hook-timeline");
        if (json_object_is_type(list, json_type_array)) {
            json_object_put(run->devices);
            run->devices = json_object_get(list);
        }
    }
    if ((t = int_member(ev, "time_us")) && t >= run->at[FP_PT_HOOK_BEGIN])
        fp_profile_run_set(run, FP_PT_HOOK_END, t, "hook-timeline");
    else
        fp_profile_run_note(run, "hook timeline has no prepare end");
    json_object_put(events);
}

/* The wrapper's qemu-exec event EV, from SOURCE, as RUN's exec points. */
static void
apply_qemu_exec(FpProfileRun *run, json_object *ev, gint64 not_before_us, const char *source)
{
    gint64 start = int_member(ev, "wrapper_start_us"), exec = int_member(ev, "time_us");

    if (!start || start < not_before_us) {
        fp_profile_run_note(
            run,
            "wrapper timeline is from an earlier start: QEMU did not run through fastpass-qemu");
    } else {
        fp_profile_run_set(run, FP_PT_QEMU_EXEC, start, source);
        if (exec >= start)
            fp_profile_run_set(run, FP_PT_REAL_EXEC, exec, source);
    }
}

static void
read_qemu(FpProfileRun *run, const char *run_dir, const char *uuid, const char *name,
          gint64 not_before_us)
{
    json_object *events = load_events(run, run_dir, uuid, name, "qemu", "wrapper");

    if (!events)
        return;
    apply_qemu_exec(run, find_event(events, "qemu-exec"), not_before_us, "wrapper-timeline");
    json_object_put(events);
}

gboolean
fp_profile_qemu_exec_from_log(FpProfileRun *run, const char *text, gsize len, gint64 not_before_us)
{
    const char *at = NULL, *p = text, *end = text + len, *nl;
    g_autofree char *line = NULL;
    json_object *ev;

    /* The last such line of this start's part of the log. QEMU's user wrote it: one line,
     * bounded, parsed, trusted for nothing but the two times. */
    while (p < end && (p = g_strstr_len(p, end - p, FP_TIMELINE_LOG_MARK)))
        p = at = p + strlen(FP_TIMELINE_LOG_MARK);
    if (!at)
        return FALSE;
    nl = memchr(at, '\n', end - at);
    line = g_strndup(at, MIN((gsize)((nl ? nl : end) - at), 64 * 1024));
    if (!(ev = json_tokener_parse(line)) || !json_object_is_type(ev, json_type_object) ||
        g_strcmp0(json_object_get_string(json_object_object_get(ev, "event")), "qemu-exec")) {
        fp_profile_run_note(run, "the wrapper's event in the domain log is not one; ignored");
        json_object_put(ev);
        return FALSE;
    }
    apply_qemu_exec(run, ev, not_before_us, "wrapper-log");
    json_object_put(ev);
    return TRUE;
}

gboolean
fp_profile_qemu_signal_from_log(FpProfileRun *run, const char *text, gsize len,
                                gint64 not_before_us)
{
    const char *p = text, *end = text + len;
    gint64 at = 0;

    /* QEMU writes the line (its user's file): one timestamp, parsed, trusted for nothing else. */
    while (p < end && (p = g_strstr_len(p, end - p, ": terminating on signal "))) {
        const char *bol = p, *sp;
        g_autofree char *stamp = NULL;
        g_autoptr(GDateTime) dt = NULL;

        while (bol > text && bol[-1] != '\n')
            bol--;
        p++;
        if (!(sp = memchr(bol, ' ', (gsize)(p - bol))) || sp - bol > 40)
            continue;
        stamp = g_strndup(bol, (gsize)(sp - bol));
        if ((dt = g_date_time_new_from_iso8601(stamp, NULL)))
            at = g_date_time_to_unix(dt) * G_USEC_PER_SEC + g_date_time_get_microsecond(dt);
    }
    if (!at || at < not_before_us)
        return FALSE;
    fp_profile_run_set(run, FP_PT_QEMU_SIGNALED, at, "qemu-log");
    return TRUE;
}

void
fp_profile_read_timelines(FpProfileRun *run, const char *run_dir, const char *uuid,
                          const char *name, gint64 not_before_us)
{
    read_hook(run, run_dir, uuid, name, not_before_us);
    read_qemu(run, run_dir, uuid, name, not_before_us);
}

/* The last event named NAME whose KEY is at or after NOT_BEFORE_US (the hook appends one pair per
 * stop; a file can hold the stops of several starts only when prepare did not run in between). */
static json_object *
last_event_since(json_object *events, const char *name, const char *key, gint64 not_before_us)
{
    json_object *found = NULL;

    for (size_t i = 0; i < json_object_array_length(events); i++) {
        json_object *ev = json_object_array_get_idx(events, i);
        const char *n = json_object_get_string(json_object_object_get(ev, "event"));

        if (json_object_is_type(ev, json_type_object) && n && !strcmp(n, name) &&
            int_member(ev, key) >= not_before_us && int_member(ev, key) > 0)
            found = ev;
    }
    return found;
}

/* The hook writes "hook-release-begin" (begin_us) when release end starts and "hook-release"
 * (the same begin_us, devices_begin_us and devices_end_us when it released devices, time_us at
 * its end) when it is done. Each point is taken only when the whole sequence is in order;
 * otherwise one note says what is wrong. */
void
fp_profile_read_release(FpProfileRun *run, const char *run_dir, const char *uuid, const char *name,
                        gint64 not_before_us)
{
    json_object *events = load_events(run, run_dir, uuid, name, "hook", "hook");
    json_object *begin_ev, *end_ev;
    gint64 begin, b, dbegin, dend, end;

    if (!events)
        return;
    begin_ev = last_event_since(events, "hook-release-begin", "begin_us", not_before_us);
    end_ev = last_event_since(events, "hook-release", "begin_us", not_before_us);
    begin = int_member(begin_ev, "begin_us");
    b = int_member(end_ev, "begin_us");
    /* The end must be the last begin's: a begin without one is a release that never ended. */
    if (begin_ev && b != begin) {
        fp_profile_run_set(run, FP_PT_RELEASE_BEGIN, begin, "hook-timeline");
        fp_profile_run_note(run, "hook timeline: the release began and has no end (the hook was "
                                 "killed or ran out of time): no release time");
        goto out;
    }
    if (!end_ev) {
        fp_profile_run_note(run, "hook timeline: no release for this stop (the hook did not run)");
        goto out;
    }
    dbegin = int_member(end_ev, "devices_begin_us");
    dend = int_member(end_ev, "devices_end_us");
    end = int_member(end_ev, "time_us");
    if (!b || end < b || (dbegin && (dbegin < b || dend < dbegin || end < dend)) ||
        (!dbegin != !dend)) {
        fp_profile_run_note(run, "hook timeline: the release's times are out of order; ignored");
        goto out;
    }
    fp_profile_run_set(run, FP_PT_RELEASE_BEGIN, b, "hook-timeline");
    if (dbegin) {
        fp_profile_run_set(run, FP_PT_RELEASE_DEVICES_BEGIN, dbegin, "hook-timeline");
        fp_profile_run_set(run, FP_PT_RELEASE_DEVICES_END, dend, "hook-timeline");
    }
    fp_profile_run_set(run, FP_PT_RELEASE_END, end, "hook-timeline");
out:
    json_object_put(events);
}
