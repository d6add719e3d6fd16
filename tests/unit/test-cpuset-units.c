/* SPDX-License-Identifier: GPL-2.0-or-later */
/* CPU lists ("0-3,8") and libvirt's scaled memory sizes (<memory unit='GiB'>48</memory>). */
#include "cpuset.h"
#include "error.h"
#include "units.h"

#include <string.h>

#define END G_MAXUINT /* terminates an expected id list */

/* Assertions do not abort (g_test_set_nonfatal_assertions in main), so one failing case
 * does not hide the results of the others; this check follows suit. */
static void
assert_contains(const char *haystack, const char *needle)
{
    if (!haystack || !strstr(haystack, needle)) {
        g_test_message("'%s' does not contain '%s'", haystack ? haystack : "(null)", needle);
        g_test_fail();
    }
}

#define MSG(e) ((e) ? (e)->message : NULL)

typedef struct {
    const char *name;
    const char *text;
    gboolean ok;
    guint expect[16];      /* ids, END-terminated */
    const char *formatted; /* fp_cpuset_format of the result */
} CpusetCase;

static const CpusetCase cpuset_cases[] = {
    {"ranges-and-singles", "0-3,8,10-11", TRUE, {0, 1, 2, 3, 8, 10, 11, END}, "0-3,8,10-11"},
    {"empty-is-empty-set", "", TRUE, {END}, ""},
    {"null-is-empty-set", NULL, TRUE, {END}, ""},
    {"blank-is-empty-set", " \n", TRUE, {END}, ""},
    {"surrounding-whitespace", " 5 \n", TRUE, {5, END}, "5"},
    {"sysfs-trailing-newline", "0-7\n", TRUE, {0, 1, 2, 3, 4, 5, 6, 7, END}, "0-7"},
    {"unsorted-duplicates", "3,1,1-2", TRUE, {1, 2, 3, END}, "1-3"},
    {"overlapping-ranges", "4-6,0-1,5-8", TRUE, {0, 1, 4, 5, 6, 7, 8, END}, "0-1,4-8"},
    {"one-element-range", "7-7", TRUE, {7, END}, "7"},
    {"max-id", "65535", TRUE, {65535, END}, "65535"},
    {"rejects-reversed-range", "3-1", FALSE, {END}, NULL},
    {"rejects-letter", "a", FALSE, {END}, NULL},
    {"rejects-open-range", "1-", FALSE, {END}, NULL},
    {"rejects-double-dash", "1--2", FALSE, {END}, NULL},
    {"rejects-negative", "-1", FALSE, {END}, NULL},
    {"rejects-over-65535", "70000", FALSE, {END}, NULL},
    {"rejects-empty-element", "1,,2", FALSE, {END}, NULL},
    {"rejects-trailing-comma", "1,", FALSE, {END}, NULL},
    {"rejects-hex", "0x3", FALSE, {END}, NULL},
    {"rejects-three-part-range", "1-2-3", FALSE, {END}, NULL},
    {"rejects-range-end-over-65535", "0-65536", FALSE, {END}, NULL},
};

static void
test_cpuset_parse(gconstpointer data)
{
    const CpusetCase *c = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) ids = fp_cpuset_parse(c->text, &error);
    g_autofree char *formatted = NULL;
    guint n = 0;

    if (!c->ok) {
        g_assert_null(ids);
        g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
        assert_contains(MSG(error), c->text);
        return;
    }
    g_assert_no_error(error);
    if (!ids) {
        g_assert_nonnull(ids);
        return;
    }
    while (c->expect[n] != END)
        n++;
    g_assert_cmpuint(ids->len, ==, n);
    for (guint i = 0; i < n; i++)
        g_assert_cmpuint(g_array_index(ids, guint, i), ==, c->expect[i]);
    formatted = fp_cpuset_format(ids);
    g_assert_cmpstr(formatted, ==, c->formatted);
}

typedef struct {
    const char *name;
    guint ids[16]; /* END-terminated, sorted */
    const char *expect;
} FormatCase;

static const FormatCase format_cases[] = {
    {"empty", {END}, ""},
    {"single", {4, END}, "4"},
    {"pair-is-a-range", {4, 5, END}, "4-5"},
    {"gaps", {0, 2, 4, END}, "0,2,4"},
    {"ranges-and-singles", {0, 1, 2, 3, 8, 10, 11, END}, "0-3,8,10-11"},
    {"range-at-end", {1, 24, 25, 26, 27, END}, "1,24-27"},
    {"large-ids", {65533, 65534, 65535, END}, "65533-65535"},
};

static void
test_cpuset_format(gconstpointer data)
{
    const FormatCase *c = data;
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autofree char *text = NULL;
    g_autoptr(GArray) back = NULL;

    for (guint i = 0; c->ids[i] != END; i++)
        g_array_append_val(ids, c->ids[i]);
    text = fp_cpuset_format(ids);
    g_assert_cmpstr(text, ==, c->expect);
    /* And the text parses back to the same set. */
    back = fp_cpuset_parse(text, NULL);
    g_assert_nonnull(back);
    if (back)
        g_assert_cmpmem(back->data, back->len * sizeof(guint), ids->data, ids->len * sizeof(guint));
}

typedef struct {
    const char *name;
    const char *value;
    const char *unit;
    gboolean ok;
    guint64 kib;
    const char *message; /* substring of the error message */
} UnitsCase;

static const UnitsCase units_cases[] = {
    {"null-unit-is-kib", "1048576", NULL, TRUE, 1048576, NULL},
    {"gib", "48", "GiB", TRUE, 48ULL << 20, NULL},
    {"g", "2", "G", TRUE, 2ULL << 20, NULL},
    {"lowercase-g", "3", "g", TRUE, 3ULL << 20, NULL},
    {"mib", "512", "MiB", TRUE, 512ULL << 10, NULL},
    {"m", "2", "M", TRUE, 2048, NULL},
    {"kib", "7", "KiB", TRUE, 7, NULL},
    {"k", "9", "k", TRUE, 9, NULL},
    {"b", "2048", "b", TRUE, 2, NULL},
    {"bytes", "4096", "bytes", TRUE, 4, NULL},
    {"kb-is-1000", "2048", "KB", TRUE, 2000, NULL},
    {"mb-is-1000000", "1024", "MB", TRUE, 1000000, NULL},
    {"gb-is-10-to-9", "2", "GB", TRUE, 1953125, NULL}, /* 2 * 10^9 bytes = 1953125 KiB */
    {"t", "1", "T", TRUE, 1ULL << 30, NULL},
    {"tib", "2", "TiB", TRUE, 2ULL << 30, NULL},
    {"pib", "1", "PiB", TRUE, 1ULL << 40, NULL},
    {"zero", "0", "GiB", TRUE, 0, NULL},
    {"surrounding-whitespace", " 48\n", "GiB", TRUE, 48ULL << 20, NULL},
    {"largest-kib", "18014398509481983", NULL, TRUE, G_MAXUINT64 / 1024,
     NULL}, /* 2^64 - 1024 bytes */
    {"largest-tib", "16777215", "TiB", TRUE, 16777215ULL << 30, NULL},
    {"rejects-gb-not-whole-kib", "1", "GB", FALSE, 0,
     "not a whole KiB"}, /* 10^9 / 1024 = 976562.5 */
    {"rejects-word", "lots", "GiB", FALSE, 0, "'lots' is not a number"},
    {"rejects-number-with-suffix", "12abc", "KiB", FALSE, 0, "'12abc' is not a number"},
    {"rejects-empty", "", "KiB", FALSE, 0, "is not a number"},
    {"rejects-null-value", NULL, "KiB", FALSE, 0, "is not a number"},
    {"rejects-negative", "-1", "KiB", FALSE, 0, "'-1' is not a number"},
    {"rejects-fraction", "1.5", "GiB", FALSE, 0, "'1.5' is not a number"},
    {"rejects-hex", "0x10", "KiB", FALSE, 0, "'0x10' is not a number"},
    {"rejects-unknown-unit", "1", "furlong", FALSE, 0, "unknown memory unit 'furlong'"},
    {"rejects-empty-unit", "1", "", FALSE, 0, "unknown memory unit ''"},
    {"rejects-non-whole-kib", "1000", "b", FALSE, 0, "not a whole KiB"},
    {"rejects-non-whole-kib-kb", "1", "KB", FALSE, 0, "not a whole KiB"},
    {"rejects-overflow", "99999999999999999", "PiB", FALSE, 0, "too large"},
    {"rejects-overflow-by-one", "16777216", "TiB", FALSE, 0,
     "too large"}, /* 2^24 TiB = 2^64 bytes */
};

static void
test_units(gconstpointer data)
{
    const UnitsCase *c = data;
    g_autoptr(GError) error = NULL;
    guint64 kib = 12345;
    gboolean ok = fp_units_to_kib(c->value, c->unit, &kib, &error);

    g_assert_cmpint(ok, ==, c->ok);
    if (!c->ok) {
        g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
        assert_contains(MSG(error), c->message);
        g_assert_cmpuint(kib, ==, 12345);
        return;
    }
    g_assert_no_error(error);
    g_assert_cmpuint(kib, ==, c->kib);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_set_nonfatal_assertions();
    for (gsize i = 0; i < G_N_ELEMENTS(cpuset_cases); i++) {
        g_autofree char *path = g_strdup_printf("/cpuset/parse/%s", cpuset_cases[i].name);
        g_test_add_data_func(path, &cpuset_cases[i], test_cpuset_parse);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(format_cases); i++) {
        g_autofree char *path = g_strdup_printf("/cpuset/format/%s", format_cases[i].name);
        g_test_add_data_func(path, &format_cases[i], test_cpuset_format);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(units_cases); i++) {
        g_autofree char *path = g_strdup_printf("/units/to-kib/%s", units_cases[i].name);
        g_test_add_data_func(path, &units_cases[i], test_units);
    }
    return g_test_run();
}
