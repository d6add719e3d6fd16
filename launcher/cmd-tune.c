/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fastpass tune: rewrite a domain for fast creation. */
#include "cli.h"

#include "domain.h"
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

/* Writing to the input itself would break the promise that IN is never modified. */
static gboolean
same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int
fp_cmd_tune(int argc, char **argv)
{
    FpRuleArgs args = {0};
    FpTuneOptions opts = {0};
    g_autofree char *out_path = NULL;
    gboolean verbose = FALSE;
    GOptionEntry entries[] = {
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out_path,
         "Write the tuned domain to OUT (atomically) instead of stdout", "OUT"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Say on stderr what each rule changed",
         NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) octx =
        g_option_context_new("IN.xml - rewrite a libvirt domain for fast creation");
    g_autoptr(GError) error = NULL;
    g_autoptr(FpHost) host = NULL;
    g_autoptr(FpDomain) dom = NULL;
    g_autoptr(FpTuneResult) res = NULL;
    g_autofree char *xml = NULL;
    gsize len;
    int rc = FP_EXIT_UNUSABLE;

    g_option_context_add_main_entries(octx, entries, NULL);
    fp_cli_add_rule_options(octx, &args);
    if (!g_option_context_parse(octx, &argc, &argv, &error))
        goto out;
    if (argc != 2) {
        g_set_error(&error, FP_ERROR, FP_ERROR_INPUT, "tune takes exactly one IN.xml (got %d)",
                    argc - 1);
        goto out;
    }
    if (out_path && same_file(argv[1], out_path)) {
        g_set_error(&error, FP_ERROR, FP_ERROR_INPUT,
                    "-o %s is the input file; IN is never modified", out_path);
        goto out;
    }
    if (!fp_cli_rule_setup(&args, &host, &opts, &error))
        goto out;
    if (!(dom = fp_domain_load_file(argv[1], &error)))
        goto out;
    if (!(res = fp_tune_run(dom, host, &opts, TRUE, &error)))
        goto out;
    fp_cli_print_warnings(argv[1], res);
    if (verbose) {
        for (guint i = 0; i < res->findings->len; i++) {
            const FpFinding *f = g_ptr_array_index(res->findings, i);
            fprintf(stderr, "fastpass: %s: %s at %s: %s\n", argv[1], f->rule, f->path, f->message);
        }
    }
    xml = fp_domain_format(dom, &len);
    if (out_path) {
        if (!g_file_set_contents_full(out_path, xml, len, G_FILE_SET_CONTENTS_CONSISTENT, 0644,
                                      &error))
            goto out;
    } else if (fwrite(xml, 1, len, stdout) != len || fflush(stdout) != 0) {
        g_set_error(&error, FP_ERROR, FP_ERROR_IO, "cannot write to stdout: %s", g_strerror(errno));
        goto out;
    }
    rc = FP_EXIT_OK;

out:
    if (error)
        fp_cli_error("%s", error->message);
    fp_cli_rule_args_clear(&args, &opts);
    return rc;
}
