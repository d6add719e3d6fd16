/* SPDX-License-Identifier: GPL-2.0-or-later */
/* How long does tune take on a domain with 1,000 PCI devices? Compared in the same run against
 * the baseline of parsing and writing the same document without any rule, so the figure is
 * what the rules add. Prints a table and the ratio; asserts nothing about time. */
#include "domain.h"
#include "host.h"
#include "tune.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
make_domain(guint ndev)
{
    GString *s =
        g_string_new("<domain type='kvm'>\n  <name>big</name>\n"
                     "  <memory unit='GiB'>192</memory>\n  <vcpu placement='static'>48</vcpu>\n"
                     "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n"
                     "  <devices>\n");

    for (guint i = 0; i < ndev; i++)
        g_string_append_printf(
            s,
            "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
            "      <source>\n"
            "        <address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n"
            "      </source>\n"
            "    </hostdev>\n",
            i / 8192, (i / 256) % 256 ? (i / 256) % 256 : 0x41, (i / 8) % 32, i % 8);
    g_string_append(s, "    <memballoon model='virtio'/>\n  </devices>\n</domain>\n");
    return g_string_free(s, FALSE);
}

static FpHost *
make_host(void)
{
    FpHost *host = fp_host_new("/nonexistent-sysfs");
    guint64 pages[] = {2048, 1048576};

    for (guint n = 0; n < 2; n++) {
        FpNumaNode *node = g_new0(FpNumaNode, 1);
        node->id = n;
        node->cpus = g_array_new(FALSE, FALSE, sizeof(guint));
        for (guint c = 0; c < 24; c++) {
            guint id = n * 24 + c;
            g_array_append_val(node->cpus, id);
        }
        g_ptr_array_add(host->nodes, node);
    }
    g_array_append_vals(host->page_sizes_kib, pages, G_N_ELEMENTS(pages));
    return host;
}

/* Seconds per run of parse (+ tune) + write, best of REPS. */
static double
time_runs(const char *xml, gsize len, FpHost *host, gboolean tune, guint reps, gsize *outlen)
{
    double best = 1e9;

    for (guint r = 0; r < reps; r++) {
        gint64 t0 = g_get_monotonic_time();
        g_autoptr(FpDomain) dom = fp_domain_load_memory(xml, len, "bench", NULL);
        g_autoptr(FpTuneResult) res = NULL;
        g_autofree char *out = NULL;

        if (!dom) {
            fprintf(stderr, "bench: generated domain did not parse\n");
            exit(1);
        }
        if (tune && !(res = fp_tune_run(dom, host, NULL, TRUE, NULL))) {
            fprintf(stderr, "bench: tune failed\n");
            exit(1);
        }
        out = fp_domain_format(dom, outlen);
        best = MIN(best, (g_get_monotonic_time() - t0) / 1e6);
    }
    return best;
}

int
main(int argc, char **argv)
{
    guint sizes[] = {10, 100, 1000};
    guint reps = argc > 1 ? (guint)atoi(argv[1]) : 5;
    g_autoptr(FpHost) host = make_host();

    xmlInitParser();
    printf("tune of a domain with N PCI hostdevs (best of %u runs; baseline = parse + write, no "
           "rules)\n",
           reps);
    printf("%8s %10s %14s %14s %8s\n", "devices", "input KiB", "baseline ms", "tune ms", "ratio");
    for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autofree char *xml = make_domain(sizes[i]);
        gsize len = strlen(xml), outlen = 0;
        double base = time_runs(xml, len, host, FALSE, reps, &outlen);
        double tuned = time_runs(xml, len, host, TRUE, reps, &outlen);

        printf("%8u %10.1f %14.2f %14.2f %7.2fx\n", sizes[i], len / 1024.0, base * 1e3, tuned * 1e3,
               tuned / base);
    }
    return 0;
}
