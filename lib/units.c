/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "units.h"

#include "error.h"

static const struct {
    const char *names[3];
    guint64 bytes;
} units[] = {
    {{"b", "bytes", "byte"}, 1},
    {{"KB", NULL, NULL}, 1000ULL},
    {{"k", "KiB", NULL}, 1ULL << 10},
    {{"MB", NULL, NULL}, 1000ULL * 1000},
    {{"M", "MiB", NULL}, 1ULL << 20},
    {{"GB", NULL, NULL}, 1000ULL * 1000 * 1000},
    {{"G", "GiB", NULL}, 1ULL << 30},
    {{"TB", NULL, NULL}, 1000ULL * 1000 * 1000 * 1000},
    {{"T", "TiB", NULL}, 1ULL << 40},
    {{"PB", NULL, NULL}, 1000ULL * 1000 * 1000 * 1000 * 1000},
    {{"P", "PiB", NULL}, 1ULL << 50},
    {{"EB", NULL, NULL}, 1000ULL * 1000 * 1000 * 1000 * 1000 * 1000},
    {{"E", "EiB", NULL}, 1ULL << 60},
};

gboolean
fp_units_to_kib(const char *value, const char *unit, guint64 *kib, GError **error)
{
    guint64 scale = 0, v, bytes;
    g_autofree char *trimmed = g_strstrip(g_strdup(value ? value : ""));

    if (!unit)
        unit = "KiB";
    for (gsize i = 0; i < G_N_ELEMENTS(units) && !scale; i++) {
        for (gsize n = 0; n < 3 && units[i].names[n]; n++) {
            /* libvirt reads unit suffixes case-insensitively: "k" and "KiB" are 1024, "KB" is 1000.
             */
            if (g_ascii_strcasecmp(unit, units[i].names[n]) == 0)
                scale = units[i].bytes;
        }
    }
    if (!scale) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "unknown memory unit '%s'", unit);
        return FALSE;
    }
    if (!g_ascii_string_to_unsigned(trimmed, 10, 0, G_MAXUINT64, &v, NULL)) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "memory size '%s' is not a number", trimmed);
        return FALSE;
    }
    if (v > G_MAXUINT64 / scale) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "memory size %s %s is too large", trimmed,
                    unit);
        return FALSE;
    }
    bytes = v * scale;
    if (bytes % 1024) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "memory size %s %s is not a whole KiB",
                    trimmed, unit);
        return FALSE;
    }
    *kib = bytes / 1024;
    return TRUE;
}
