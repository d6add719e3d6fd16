/* SPDX-License-Identifier: GPL-2.0-or-later */
/* When a process started, from /proc: the fallback for QEMU's exec time. */
#include "profile.h"

#include "error.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

gboolean
fp_profile_parse_proc_starttime(const char *stat_text, guint64 *ticks)
{
    const char *p = stat_text ? strrchr(stat_text, ')') : NULL;
    g_auto(GStrv) fields = NULL;

    if (!p)
        return FALSE;
    /* After "PID (COMM)": field 3 (state) is fields[0], so field 22 is fields[19]. */
    fields = g_strsplit_set(p + 1, " \n", -1);
    {
        guint k = 0;

        for (guint i = 0; fields[i]; i++) {
            if (!*fields[i])
                continue;
            if (k++ == 19)
                return g_ascii_string_to_unsigned(fields[i], 10, 0, G_MAXUINT64, ticks, NULL);
        }
    }
    return FALSE;
}

gboolean
fp_profile_proc_start_us(const char *proc_root, gint64 pid, gint64 *us, GError **error)
{
    g_autofree char *path =
        g_strdup_printf("%s/%" G_GINT64_FORMAT "/stat", proc_root ? proc_root : "/proc", pid);
    g_autofree char *text = NULL;
    struct timespec boot;
    guint64 ticks;
    long hz = sysconf(_SC_CLK_TCK);
    gint64 now = g_get_real_time(), since_start;

    if (!g_file_get_contents(path, &text, NULL, error))
        return FALSE;
    if (!fp_profile_parse_proc_starttime(text, &ticks) || hz <= 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_HOST, "%s: no start time in it", path);
        return FALSE;
    }
    /* starttime counts from boot on CLOCK_BOOTTIME; the realtime clock of that moment is now
     * less the boot-clock time elapsed since. */
    clock_gettime(CLOCK_BOOTTIME, &boot);
    since_start = (gint64)boot.tv_sec * G_USEC_PER_SEC + boot.tv_nsec / 1000 -
                  (gint64)(ticks * G_USEC_PER_SEC / (guint64)hz);
    *us = now - since_start;
    return TRUE;
}
