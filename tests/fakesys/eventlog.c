/* SPDX-License-Identifier: GPL-2.0-or-later */
/* eventlog.c - bounded in-memory event log with an optional file mirror. */
#include "eventlog.h"

#include "sysfs-util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* A benchmark may reset thousands of times; keep the newest events and
 * drop the oldest half when the log outgrows this. */
#define LOG_MAX_BYTES (16 * 1024 * 1024)

struct FakesysEventLog {
    GMutex lock;
    GString *text;
    int mirror_fd;
};

FakesysEventLog *
fakesys_event_log_new(void)
{
    FakesysEventLog *log = g_new0(FakesysEventLog, 1);

    g_mutex_init(&log->lock);
    log->text = g_string_new(NULL);
    log->mirror_fd = -1;
    return log;
}

void
fakesys_event_log_free(FakesysEventLog *log)
{
    if (!log)
        return;
    if (log->mirror_fd >= 0)
        close(log->mirror_fd);
    g_string_free(log->text, TRUE);
    g_mutex_clear(&log->lock);
    g_free(log);
}

gboolean
fakesys_event_log_mirror_to(FakesysEventLog *log, const char *path, GError **error)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

    if (fd < 0) {
        int saved = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
                    "cannot open event log %s: %s", path, g_strerror(saved));
        return FALSE;
    }
    g_mutex_lock(&log->lock);
    if (log->mirror_fd >= 0)
        close(log->mirror_fd);
    log->mirror_fd = fd;
    g_mutex_unlock(&log->lock);
    return TRUE;
}

void
fakesys_event_log_add(FakesysEventLog *log, const char *event, const char *subject,
                      const char *details_fmt, ...)
{
    g_autofree char *details = NULL;
    g_autofree char *line = NULL;
    guint64 now = fakesys_monotonic_ns();

    if (details_fmt) {
        va_list ap;
        va_start(ap, details_fmt);
        details = g_strdup_vprintf(details_fmt, ap);
        va_end(ap);
    }
    line = g_strdup_printf("%" G_GUINT64_FORMAT " %s %s%s%s\n", now, event, subject,
                           details ? " " : "", details ? details : "");

    g_mutex_lock(&log->lock);
    if (log->text->len + strlen(line) > LOG_MAX_BYTES) {
        const char *cut = strchr(log->text->str + log->text->len / 2, '\n');
        g_string_erase(log->text, 0, cut ? cut + 1 - log->text->str : (gssize)log->text->len);
    }
    g_string_append(log->text, line);
    if (log->mirror_fd >= 0) {
        /* Best effort: a full disk must not fail the emulated kernel op. */
        gssize ignored G_GNUC_UNUSED = write(log->mirror_fd, line, strlen(line));
    }
    g_mutex_unlock(&log->lock);
}

gsize
fakesys_event_log_read(FakesysEventLog *log, goffset offset, gsize size, char *out)
{
    gsize n = 0;

    g_mutex_lock(&log->lock);
    if (offset >= 0 && (gsize)offset < log->text->len) {
        n = MIN(size, log->text->len - (gsize)offset);
        memcpy(out, log->text->str + offset, n);
    }
    g_mutex_unlock(&log->lock);
    return n;
}

gsize
fakesys_event_log_size(FakesysEventLog *log)
{
    gsize n;

    g_mutex_lock(&log->lock);
    n = log->text->len;
    g_mutex_unlock(&log->lock);
    return n;
}

void
fakesys_event_log_clear(FakesysEventLog *log)
{
    g_mutex_lock(&log->lock);
    g_string_truncate(log->text, 0);
    g_mutex_unlock(&log->lock);
}
