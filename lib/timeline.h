/* Creation-time events of one domain (hook phases, QEMU exec), in a JSON file under the run
 * directory that the profiler reads: {"domain": NAME, "events": [{"event", "time_us", ...}]}. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

/* One file per writer (SOURCE: "hook", "qemu"), since the hook runs as root and the wrapper as
 * QEMU's user: $RUN_DIR/timeline/KEY.SOURCE.json, KEY the domain's UUID when valid, else a
 * digest of its name. The directory is 1733 (anyone may add a file, only owners remove). */
char *fp_timeline_path(const char *run_dir, const char *uuid, const char *name, const char *source);
/* Appends EVENT (takes ownership of FIELDS; "event" and "time_us" (CLOCK_REALTIME) are added).
 * FRESH starts the file anew (the first event of a start). */
gboolean fp_timeline_add(const char *run_dir, const char *uuid, const char *name, const char *source,
                         const char *event, json_object *fields, gboolean fresh, GError **error);
