/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sysfs-util.c - kernel-compatible parsing of sysfs input. */
#include "sysfs-util.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>

G_DEFINE_QUARK(fakesys - error - quark, fakesys_error)

gboolean
fakesys_sysfs_streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    if (*a == *b)
        return TRUE;
    if (!*a && *b == '\n' && !b[1])
        return TRUE;
    if (*a == '\n' && !a[1] && !*b)
        return TRUE;
    return FALSE;
}

static int
digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = g_ascii_tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return 99;
}

/* Mirrors lib/kstrtox.c: _parse_integer_fixup_radix + _kstrtoull. */
static int
kstrtoull(const char *s, unsigned int base, unsigned long long *out)
{
    unsigned long long v = 0;
    gboolean any = FALSE;

    if (base == 0) {
        if (s[0] == '0' && g_ascii_tolower(s[1]) == 'x' && g_ascii_isxdigit(s[2])) {
            base = 16;
            s += 2;
        } else if (s[0] == '0')
            base = 8;
        else
            base = 10;
    } else if (base == 16 && s[0] == '0' && g_ascii_tolower(s[1]) == 'x')
        s += 2;

    for (; *s; s++) {
        int d = digit_value(*s);
        if (d >= (int)base)
            break;
        if (v > (ULLONG_MAX - (unsigned)d) / base)
            return -ERANGE;
        v = v * base + (unsigned)d;
        any = TRUE;
    }
    if (!any)
        return -EINVAL;
    if (*s == '\n')
        s++;
    if (*s)
        return -EINVAL;
    *out = v;
    return 0;
}

int
fakesys_kstrtoul(const char *s, unsigned int base, unsigned long *out)
{
    unsigned long long v;
    int r;

    if (s[0] == '+')
        s++;
    r = kstrtoull(s, base, &v);
    if (r < 0)
        return r;
    if (v > ULONG_MAX)
        return -ERANGE;
    *out = (unsigned long)v;
    return 0;
}

int
fakesys_kstrtoint(const char *s, unsigned int base, int *out)
{
    unsigned long long v;
    gboolean negative = FALSE;
    int r;

    if (s[0] == '-') {
        negative = TRUE;
        s++;
    } else if (s[0] == '+')
        s++;
    r = kstrtoull(s, base, &v);
    if (r < 0)
        return r;
    if (negative) {
        if (v > (unsigned long long)INT_MAX + 1)
            return -ERANGE;
        *out = (int)-(long long)v;
    } else {
        if (v > INT_MAX)
            return -ERANGE;
        *out = (int)v;
    }
    return 0;
}

static gboolean
lower_hex(const char *s, gsize n)
{
    for (gsize i = 0; i < n; i++)
        if (!g_ascii_isdigit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return FALSE;
    return TRUE;
}

gboolean
fakesys_bdf_is_valid(const char *s)
{
    if (strlen(s) != 12)
        return FALSE;
    if (!lower_hex(s, 4) || s[4] != ':' || !lower_hex(s + 5, 2) || s[7] != ':' ||
        !lower_hex(s + 8, 2) || s[10] != '.' || s[11] < '0' || s[11] > '7')
        return FALSE;
    /* The slot has 5 bits. */
    return digit_value(s[8]) <= 1;
}

static const struct {
    const char *name;
    int err;
} errno_names[] = {
    {"EIO", EIO},       {"EINVAL", EINVAL},       {"ENODEV", ENODEV}, {"EBUSY", EBUSY},
    {"ENOTTY", ENOTTY}, {"ETIMEDOUT", ETIMEDOUT}, {"ENOMEM", ENOMEM}, {"EAGAIN", EAGAIN},
    {"ENXIO", ENXIO},   {"EPERM", EPERM},         {"EACCES", EACCES}, {"EEXIST", EEXIST},
    {"EINTR", EINTR},   {"ENOENT", ENOENT},       {"E2BIG", E2BIG},   {"ERANGE", ERANGE},
};

int
fakesys_errno_from_name(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(errno_names); i++)
        if (g_ascii_strcasecmp(name, errno_names[i].name) == 0)
            return errno_names[i].err;
    return 0;
}

char *
fakesys_errno_to_name(int err)
{
    if (err < 0)
        err = -err;
    for (gsize i = 0; i < G_N_ELEMENTS(errno_names); i++)
        if (errno_names[i].err == err)
            return g_strdup(errno_names[i].name);
    return g_strdup_printf("E%d", err);
}

guint64
fakesys_monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (guint64)ts.tv_sec * G_GUINT64_CONSTANT(1000000000) + (guint64)ts.tv_nsec;
}

static gint
compare_uint(gconstpointer a, gconstpointer b)
{
    guint x = *(const guint *)a, y = *(const guint *)b;
    return x < y ? -1 : x > y;
}

/* The kernel caps CPU numbers at NR_CPUS; 8192 is Debian's. */
#define FAKESYS_MAX_CPUS 8192

static gboolean
parse_cpu(const char **p, guint *out)
{
    guint v = 0;

    if (!g_ascii_isdigit(**p))
        return FALSE;
    while (g_ascii_isdigit(**p)) {
        v = v * 10 + (guint)(**p - '0');
        if (v >= FAKESYS_MAX_CPUS)
            return FALSE;
        (*p)++;
    }
    *out = v;
    return TRUE;
}

GArray *
fakesys_cpulist_parse(const char *s, GError **error)
{
    g_autoptr(GArray) cpus = g_array_new(FALSE, FALSE, sizeof(guint));
    const char *p = s;

    /* An empty list is legal: a memory-only NUMA node has no CPUs. */
    while (*p && *p != '\n') {
        guint first, last;

        if (!parse_cpu(&p, &first))
            goto bad;
        last = first;
        if (*p == '-') {
            p++;
            if (!parse_cpu(&p, &last) || last < first)
                goto bad;
        }
        for (guint c = first; c <= last; c++)
            g_array_append_val(cpus, c);
        if (*p == ',') {
            p++;
            if (!*p || *p == '\n')
                goto bad;
        } else if (*p && *p != '\n')
            goto bad;
    }
    g_array_sort(cpus, compare_uint);
    for (guint i = 1; i < cpus->len;) {
        if (g_array_index(cpus, guint, i) == g_array_index(cpus, guint, i - 1))
            g_array_remove_index(cpus, i);
        else
            i++;
    }
    return g_steal_pointer(&cpus);

bad:
    g_set_error(error, FAKESYS_ERROR, FAKESYS_ERROR_CPULIST,
                "malformed cpulist \"%s\" (want e.g. \"0-3,8\")", s);
    return NULL;
}

char *
fakesys_cpulist_format(const GArray *unsorted)
{
    g_autoptr(GArray) cpus = g_array_copy((GArray *)unsorted);
    GString *out = g_string_new(NULL);

    g_array_sort(cpus, compare_uint);

    for (guint i = 0; i < cpus->len;) {
        guint first = g_array_index(cpus, guint, i), last = first;
        guint j = i + 1;

        /* <= last + 1 also swallows duplicates. */
        for (; j < cpus->len && g_array_index(cpus, guint, j) <= last + 1; j++)
            last = MAX(last, g_array_index(cpus, guint, j));
        if (out->len)
            g_string_append_c(out, ',');
        if (last == first)
            g_string_append_printf(out, "%u", first);
        else
            g_string_append_printf(out, "%u-%u", first, last);
        i = j;
    }
    return g_string_free(out, FALSE);
}
