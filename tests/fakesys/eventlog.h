/* SPDX-License-Identifier: GPL-2.0-or-later */
/* eventlog.h - the emulator-only event log (fakesys.log at the mount
 * root): one line per event with a CLOCK_MONOTONIC timestamp, so tests
 * can prove that resets overlapped in time. */
#pragma once

#include <glib.h>

typedef struct FakesysEventLog FakesysEventLog;

FakesysEventLog *fakesys_event_log_new(void);
void fakesys_event_log_free(FakesysEventLog *log);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakesysEventLog, fakesys_event_log_free)

/* Also append every line to a real file, which outlives the mount. */
gboolean fakesys_event_log_mirror_to(FakesysEventLog *log, const char *path, GError **error);

/* Appends "<ns> <event> <subject>[ <details>]\n". */
void fakesys_event_log_add(FakesysEventLog *log, const char *event, const char *subject,
                           const char *details_fmt, ...) G_GNUC_PRINTF(4, 5);

/* Copies up to size bytes from offset; returns how many. */
gsize fakesys_event_log_read(FakesysEventLog *log, goffset offset, gsize size, char *out);
gsize fakesys_event_log_size(FakesysEventLog *log);
void fakesys_event_log_clear(FakesysEventLog *log);
