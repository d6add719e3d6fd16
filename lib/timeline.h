/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Creation-time events of one domain (hook phases, QEMU exec), in a JSON file under the run
 * directory that the profiler reads: {"domain": NAME, "events": [{"event", "time_us", ...}]}. */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <sys/types.h>

/* A timeline is a handful of events; root reads nothing bigger. */
#define FP_TIMELINE_MAX_BYTES (1024 * 1024)
/* Longest wait for another writer of the same file; then the event is dropped. */
#define FP_TIMELINE_LOCK_MS 200
/* What the wrapper writes to stderr (the domain's log) before its event's JSON, on one line, when
 * it cannot write its timeline file. */
#define FP_TIMELINE_LOG_MARK "fastpass-qemu: timeline event: "

/* One file per writer (SOURCE: "hook", "qemu"), since the hook runs as root and the wrapper as
 * QEMU's user: $RUN_DIR/timeline/KEY.SOURCE.json, KEY the domain's UUID when valid, else a
 * digest of its name. The directory is root's, mode 0711: nobody else adds, renames or lists
 * files there. The wrapper's file is made by the hook at prepare and given to QEMU's user
 * (fp_timeline_give), so QEMU can write its own file's contents and nothing else. */
char *fp_timeline_path(const char *run_dir, const char *uuid, const char *name, const char *source);
/* Root, before QEMU starts: a fresh empty file for SOURCE, owned by UID:GID, mode 0600. */
gboolean fp_timeline_give(const char *run_dir, const char *uuid, const char *name,
                          const char *source, uid_t uid, gid_t gid, GError **error);
/* Appends EVENT (takes ownership of FIELDS; "event" and "time_us" (CLOCK_REALTIME) are added to
 * it first, also when the append then fails).
 * FRESH starts the file anew (the first event of a start). A caller that does not own the
 * timeline directory writes only a file already given to it. A file another process keeps
 * locked for FP_TIMELINE_LOCK_MS: FP_ERROR_TIMEOUT, the event dropped (a start never waits). */
gboolean fp_timeline_add(const char *run_dir, const char *uuid, const char *name,
                         const char *source, const char *event, json_object *fields, gboolean fresh,
                         GError **error);
/* The text of SOURCE's file: never through a symlink, at most FP_TIMELINE_MAX_BYTES. NULL with
 * G_FILE_ERROR_NOENT when there is none; FP_ERROR saying what is wrong with a planted file. */
char *fp_timeline_read(const char *run_dir, const char *uuid, const char *name, const char *source,
                       gsize *len, GError **error);
