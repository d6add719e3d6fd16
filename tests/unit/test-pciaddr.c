/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PCI addresses: the one text form that may reach a sysfs path, and libvirt's attribute form. */
#include "error.h"
#include "pciaddr.h"

#include <string.h>

typedef struct {
    const char *name;
    const char *text;
    gboolean ok;
    FpPciAddr expect;
    const char *canonical; /* fp_pci_addr_format of the result */
} ParseCase;

static const ParseCase parse_cases[] = {
    {"accepts-lowercase", "0000:41:00.0", TRUE, {0x0000, 0x41, 0x00, 0}, "0000:41:00.0"},
    {"accepts-all-maxima", "ffff:ff:1f.7", TRUE, {0xffff, 0xff, 0x1f, 7}, "ffff:ff:1f.7"},
    {"accepts-uppercase", "ABCD:EF:1A.3", TRUE, {0xabcd, 0xef, 0x1a, 3}, "abcd:ef:1a.3"},
    {"accepts-mixed-case", "00aB:0c:1F.6", TRUE, {0x00ab, 0x0c, 0x1f, 6}, "00ab:0c:1f.6"},
    {"rejects-dotdot-prefix", "../41:00.0", FALSE, {0}, NULL},
    {"rejects-path-suffix", "0000:41:00.0/../x", FALSE, {0}, NULL},
    {"rejects-function-8", "0000:41:00.8", FALSE, {0}, NULL},
    {"rejects-function-f", "0000:41:00.f", FALSE, {0}, NULL},
    {"rejects-slot-20", "0000:41:20.0", FALSE, {0}, NULL},
    {"rejects-slot-ff", "0000:41:ff.0", FALSE, {0}, NULL},
    {"rejects-short-domain", "000:41:00.0", FALSE, {0}, NULL},
    {"rejects-no-domain", "41:00.0", FALSE, {0}, NULL},
    {"rejects-two-digit-function", "0000:41:00.00", FALSE, {0}, NULL},
    {"rejects-empty", "", FALSE, {0}, NULL},
    {"rejects-null", NULL, FALSE, {0}, NULL},
    {"rejects-dashes", "0000-41-00.0", FALSE, {0}, NULL},
    {"rejects-trailing-newline", "0000:41:00.0\n", FALSE, {0}, NULL},
    {"rejects-leading-space", " 000:41:00.0", FALSE, {0}, NULL},
    {"rejects-embedded-nul",
     "0000:41\0:00.0" /* the C string a NUL cuts short */,
     FALSE,
     {0},
     NULL},
    {"rejects-non-hex-digit", "g000:41:00.0", FALSE, {0}, NULL},
    {"rejects-0x-prefix", "0x00:41:00.0", FALSE, {0}, NULL},
    {"rejects-sign", "+000:41:00.0", FALSE, {0}, NULL},
};

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

static void
assert_input_error(GError *error, const char *text)
{
    g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
    if (text && *text) {
        g_autofree char *shown = g_strescape(text, NULL);

        /* The message names the bad text (escaped, so a newline cannot forge a log line). */
        assert_contains(MSG(error), shown);
        g_assert_false(error && strchr(error->message, '\n'));
    }
}

static void
test_parse(gconstpointer data)
{
    const ParseCase *c = data;
    g_autoptr(GError) error = NULL;
    FpPciAddr addr = {0x1234, 0x56, 0x07, 1}; /* must be overwritten on success */
    char buf[FP_PCI_ADDR_STRLEN];
    gboolean ok = fp_pci_addr_parse(c->text, &addr, &error);

    g_assert_cmpint(ok, ==, c->ok);
    if (!c->ok) {
        assert_input_error(error, c->text);
        return;
    }
    g_assert_no_error(error);
    g_assert_cmphex(addr.domain, ==, c->expect.domain);
    g_assert_cmphex(addr.bus, ==, c->expect.bus);
    g_assert_cmphex(addr.slot, ==, c->expect.slot);
    g_assert_cmphex(addr.function, ==, c->expect.function);
    g_assert_true(fp_pci_addr_equal(&addr, &c->expect));
    fp_pci_addr_format(&addr, buf);
    g_assert_cmpstr(buf, ==, c->canonical);
}

typedef struct {
    const char *name;
    const char *domain, *bus, *slot, *function;
    gboolean ok;
    FpPciAddr expect;
    const char *bad; /* text the error message must name; NULL when a field is missing */
} PartsCase;

static const PartsCase parts_cases[] = {
    {"accepts-libvirt-form", "0x0000", "0x41", "0x00", "0x0", TRUE, {0, 0x41, 0, 0}, NULL},
    {"accepts-libvirt-maxima",
     "0xffff",
     "0xff",
     "0x1f",
     "0x7",
     TRUE,
     {0xffff, 0xff, 0x1f, 7},
     NULL},
    /* As libvirt reads them (strtoul base 0): bus='16' is bus 0x10, a different device from
     * bus='0x16'; a leading 0 means octal. */
    {"reads-bus-16-as-decimal", "0", "16", "0", "0", TRUE, {0, 0x10, 0, 0}, NULL},
    {"reads-bus-0x16-as-hex", "0", "0x16", "0", "0", TRUE, {0, 0x16, 0, 0}, NULL},
    {"reads-bus-020-as-octal", "0", "020", "0", "0", TRUE, {0, 0x10, 0, 0}, NULL},
    {"reads-decimal-maxima", "65535", "255", "31", "7", TRUE, {0xffff, 0xff, 0x1f, 7}, NULL},
    {"accepts-short-fields", "0", "1", "2", "3", TRUE, {0, 1, 2, 3}, NULL},
    {"accepts-uppercase", "0X00AB", "0xEF", "0x1A", "0x6", TRUE, {0xab, 0xef, 0x1a, 6}, NULL},
    {"accepts-zero-padded-hex", "0x0000", "0x041", "0x00", "0x00", TRUE, {0, 0x41, 0, 0}, NULL},
    {"rejects-hex-digits-without-0x", "0000", "41", "1f", "7", FALSE, {0}, "1f"},
    {"rejects-bad-octal", "0", "08", "0", "0", FALSE, {0}, "08"},
    {"rejects-decimal-bus-256", "0", "256", "0", "0", FALSE, {0}, "256"},
    {"rejects-dotdot-domain", "../", "0x41", "0x00", "0x0", FALSE, {0}, "../"},
    {"rejects-dotdot-bus", "0x0000", "..", "0x00", "0x0", FALSE, {0}, ".."},
    {"rejects-bus-0x100", "0x0000", "0x100", "0x00", "0x0", FALSE, {0}, "0x100"},
    {"rejects-slot-0x20", "0x0000", "0x41", "0x20", "0x0", FALSE, {0}, "0x20"},
    {"rejects-function-8", "0x0000", "0x41", "0x00", "8", FALSE, {0}, "8"},
    {"rejects-function-0x8", "0x0000", "0x41", "0x00", "0x8", FALSE, {0}, "0x8"},
    {"rejects-domain-0x10000", "0x10000", "0x41", "0x00", "0x0", FALSE, {0}, "0x10000"},
    {"rejects-empty-slot", "0x0000", "0x41", "", "0x0", FALSE, {0}, NULL},
    {"rejects-bare-0x", "0x0000", "0x", "0x00", "0x0", FALSE, {0}, "0x"},
    {"rejects-negative", "0x0000", "-1", "0x00", "0x0", FALSE, {0}, "-1"},
    {"rejects-leading-space", "0x0000", " 0x1", "0x00", "0x0", FALSE, {0}, " 0x1"},
    {"rejects-trailing-newline", "0x0000", "0x41\n", "0x00", "0x0", FALSE, {0}, "0x41\\n"},
    {"rejects-decimal-slot-32", "0x0000", "0x41", "32", "0x0", FALSE, {0}, "32"},
    {"rejects-null-function", "0x0000", "0x41", "0x00", NULL, FALSE, {0}, "function"},
};

static void
test_parts(gconstpointer data)
{
    const PartsCase *c = data;
    g_autoptr(GError) error = NULL;
    FpPciAddr addr = {0x1234, 0x56, 0x07, 1};
    gboolean ok = fp_pci_addr_from_parts(c->domain, c->bus, c->slot, c->function, &addr, &error);

    g_assert_cmpint(ok, ==, c->ok);
    if (!c->ok) {
        g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
        if (c->bad)
            assert_contains(MSG(error), c->bad);
        /* A failed parse leaves the output alone. */
        g_assert_cmphex(addr.domain, ==, 0x1234);
        return;
    }
    g_assert_no_error(error);
    g_assert_true(fp_pci_addr_equal(&addr, &c->expect));
}

/* parse -> format gives the canonical text back for every canonical address. */
static const char *const roundtrip_cases[] = {
    "0000:00:00.0", "0000:41:00.0", "0001:02:03.4", "ffff:ff:1f.7", "00ab:cd:1e.5",
};

static void
test_roundtrip(gconstpointer data)
{
    const char *text = data;
    g_autoptr(GError) error = NULL;
    FpPciAddr addr, again;
    char buf[FP_PCI_ADDR_STRLEN];

    g_assert_true(fp_pci_addr_parse(text, &addr, &error));
    g_assert_no_error(error);
    fp_pci_addr_format(&addr, buf);
    g_assert_cmpstr(buf, ==, text);
    g_assert_true(fp_pci_addr_parse(buf, &again, &error));
    g_assert_true(fp_pci_addr_equal(&addr, &again));
}

/* libvirt's attribute form and the sysfs form of one device are the same address. */
static void
test_parts_equal_parse(void)
{
    g_autoptr(GError) error = NULL;
    FpPciAddr a, b;
    char buf[FP_PCI_ADDR_STRLEN];

    g_assert_true(fp_pci_addr_from_parts("0x0000", "0x41", "0x1f", "0x7", &a, &error));
    g_assert_true(fp_pci_addr_parse("0000:41:1f.7", &b, &error));
    g_assert_no_error(error);
    g_assert_true(fp_pci_addr_equal(&a, &b));
    fp_pci_addr_format(&a, buf);
    g_assert_cmpstr(buf, ==, "0000:41:1f.7");
    b.function = 6;
    g_assert_false(fp_pci_addr_equal(&a, &b));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_set_nonfatal_assertions();
    for (gsize i = 0; i < G_N_ELEMENTS(parse_cases); i++) {
        g_autofree char *path = g_strdup_printf("/pciaddr/parse/%s", parse_cases[i].name);
        g_test_add_data_func(path, &parse_cases[i], test_parse);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(parts_cases); i++) {
        g_autofree char *path = g_strdup_printf("/pciaddr/from-parts/%s", parts_cases[i].name);
        g_test_add_data_func(path, &parts_cases[i], test_parts);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(roundtrip_cases); i++) {
        g_autofree char *path = g_strdup_printf("/pciaddr/roundtrip/%s", roundtrip_cases[i]);
        g_test_add_data_func(path, roundtrip_cases[i], test_roundtrip);
    }
    g_test_add_func("/pciaddr/from-parts/equals-parse", test_parts_equal_parse);
    return g_test_run();
}
