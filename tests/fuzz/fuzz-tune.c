/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness for parse -> tune -> write. Beyond "no crash", it checks the tuner's
 * promises on every input it accepts: tuning the output again changes nothing, and lint of the
 * output agrees. Built without libFuzzer, main() replays files and folders, so saved crashers
 * become regression tests (ctest runs it over seeds/). */
#include "domain.h"
#include "host.h"
#include "tune.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

static FpHost *
fuzz_host(void)
{
    static FpHost *host;

    if (!host) {
        /* Two nodes of four CPUs with both hugepage sizes; a few devices placed. */
        guint64 pages[] = {2048, 1048576};

        host = fp_host_new("/nonexistent-sysfs");
        for (guint n = 0; n < 2; n++) {
            FpNumaNode *node = g_new0(FpNumaNode, 1);
            node->id = n;
            node->cpus = g_array_new(FALSE, FALSE, sizeof(guint));
            for (guint c = 0; c < 4; c++) {
                guint id = n * 4 + c;
                g_array_append_val(node->cpus, id);
            }
            g_ptr_array_add(host->nodes, node);
        }
        g_array_append_vals(host->page_sizes_kib, pages, G_N_ELEMENTS(pages));
        g_hash_table_insert(host->device_nodes, g_strdup("0000:41:00.0"), GINT_TO_POINTER(1));
        g_hash_table_insert(host->device_nodes, g_strdup("0000:42:00.0"), GINT_TO_POINTER(2));
        g_hash_table_insert(host->device_nodes, g_strdup("0000:06:12.1"), GINT_TO_POINTER(1));
    }
    return host;
}

static char *
tune_once(const char *buf, gsize len, guint *findings, guint *warnings)
{
    g_autoptr(FpDomain) dom = fp_domain_load_memory(buf, len, "fuzz", NULL);
    g_autoptr(FpTuneResult) res = NULL;

    if (!dom || !(res = fp_tune_run(dom, fuzz_host(), NULL, TRUE, NULL)))
        return NULL;
    *findings = res->findings->len;
    *warnings = res->warnings->len;
    return fp_domain_format(dom, NULL);
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    guint n1 = 0, n2 = 0, w1 = 0, w2 = 0;
    gsize len;
    g_autofree char *out = tune_once((const char *)data, size, &n1, &w1);
    g_autofree char *again = NULL;

    if (!out)
        return 0;
    len = strlen(out);
    again = tune_once(out, len, &n2, &w2);
    if (!again) {
        fprintf(stderr, "fuzz-tune: tune rejected its own output\n");
        abort();
    }
    if (strcmp(out, again) != 0) {
        fprintf(stderr, "fuzz-tune: tune is not idempotent on this input\n");
        abort();
    }
    /* What tune left for lint to find, it must have warned about. */
    if (n2 != 0 && w1 == 0) {
        fprintf(stderr, "fuzz-tune: %u findings remain after a tune that gave no warning\n", n2);
        abort();
    }
    return 0;
}

#ifndef FASTPASS_LIBFUZZER
static int
replay_file(const char *path)
{
    g_autofree char *buf = NULL;
    gsize len;
    g_autoptr(GError) error = NULL;

    if (!g_file_get_contents(path, &buf, &len, &error)) {
        fprintf(stderr, "fuzz-tune: %s\n", error->message);
        return 1;
    }
    LLVMFuzzerTestOneInput((const guint8 *)buf, len);
    return 0;
}

int
main(int argc, char **argv)
{
    int failed = 0, replayed = 0;

    xmlInitParser();
    for (int i = 1; i < argc; i++) {
        if (g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
            g_autoptr(GDir) d = g_dir_open(argv[i], 0, NULL);
            const char *name;

            while (d && (name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename(argv[i], name, NULL);
                failed |= replay_file(p);
                replayed++;
            }
        } else {
            failed |= replay_file(argv[i]);
            replayed++;
        }
    }
    printf("fuzz-tune: replayed %d inputs\n", replayed);
    return failed || replayed == 0;
}
#endif
