/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cpuset.h"

#include "error.h"

#define FP_CPUSET_MAX_ID 65535

static int
cmp_uint(gconstpointer a, gconstpointer b)
{
    guint x = *(const guint *)a, y = *(const guint *)b;

    return x < y ? -1 : x > y;
}

static gboolean
parse_id(const char *s, guint *out)
{
    guint64 v;

    if (!g_ascii_string_to_unsigned(s, 10, 0, FP_CPUSET_MAX_ID, &v, NULL))
        return FALSE;
    *out = v;
    return TRUE;
}

GArray *
fp_cpuset_parse(const char *text, GError **error)
{
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autofree char *copy = g_strstrip(g_strdup(text ? text : ""));
    g_auto(GStrv) parts = NULL;

    if (*copy == '\0')
        return g_steal_pointer(&ids);
    parts = g_strsplit(copy, ",", -1);
    for (char **p = parts; *p; p++) {
        g_auto(GStrv) range = g_strsplit(*p, "-", 3);
        guint lo, hi;

        if (!range[0] || !parse_id(range[0], &lo) ||
            (range[1] && (!parse_id(range[1], &hi) || range[2] || hi < lo))) {
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "'%s' is not a CPU list", text);
            return NULL;
        }
        if (!range[1])
            hi = lo;
        for (guint i = lo; i <= hi; i++)
            g_array_append_val(ids, i);
    }
    fp_cpuset_normalize(ids);
    return g_steal_pointer(&ids);
}

void
fp_cpuset_normalize(GArray *ids)
{
    g_array_sort(ids, cmp_uint);
    for (guint i = 1; i < ids->len;) {
        if (g_array_index(ids, guint, i) == g_array_index(ids, guint, i - 1))
            g_array_remove_index(ids, i);
        else
            i++;
    }
}

char *
fp_cpuset_format(const GArray *ids)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < ids->len;) {
        guint lo = g_array_index(ids, guint, i), j = i;

        while (j + 1 < ids->len &&
               g_array_index(ids, guint, j + 1) == g_array_index(ids, guint, j) + 1)
            j++;
        if (s->len)
            g_string_append_c(s, ',');
        if (j == i)
            g_string_append_printf(s, "%u", lo);
        else
            g_string_append_printf(s, "%u-%u", lo, g_array_index(ids, guint, j));
        i = j + 1;
    }
    return g_string_free(s, FALSE);
}
