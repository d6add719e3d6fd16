/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fastpass lint: the tune rules as checks, for CI of domain templates. */
#include "cli.h"

#include "domain.h"
#include "error.h"
#include "lint.h"

#include <stdio.h>

int
fp_cmd_lint(int argc, char **argv)
{
    FpRuleArgs args = {0};
    FpTuneOptions opts = {0};
    g_autofree char *format = NULL;
    GOptionEntry entries[] = {
        {"format", 0, 0, G_OPTION_ARG_STRING, &format, "Output format: text (default) or json",
         "FORMAT"},
        {NULL},
    };
    g_autoptr(GOptionContext) octx =
        g_option_context_new("FILES... - report every fast-creation rule a domain breaks");
    g_autoptr(GError) error = NULL;
    g_autoptr(FpHost) host = NULL;
    json_object *jfiles = NULL;
    gboolean json, unusable = FALSE, findings = FALSE;

    g_option_context_add_main_entries(octx, entries, NULL);
    fp_cli_add_rule_options(octx, &args);
    if (!g_option_context_parse(octx, &argc, &argv, &error))
        goto fail;
    if (format && g_strcmp0(format, "text") && g_strcmp0(format, "json")) {
        g_set_error(&error, FP_ERROR, FP_ERROR_INPUT, "--format must be text or json, not '%s'",
                    format);
        goto fail;
    }
    if (argc < 2) {
        g_set_error(&error, FP_ERROR, FP_ERROR_INPUT, "lint needs at least one domain XML file");
        goto fail;
    }
    if (!fp_cli_rule_setup(&args, &host, &opts, &error))
        goto fail;
    json = g_strcmp0(format, "json") == 0;
    jfiles = json_object_new_array();

    for (int i = 1; i < argc; i++) {
        g_autoptr(GError) ferr = NULL;
        g_autoptr(FpDomain) dom = fp_domain_load_file(argv[i], &ferr);
        g_autoptr(FpTuneResult) res = dom ? fp_tune_run(dom, host, &opts, FALSE, &ferr) : NULL;

        if (!res) {
            unusable = TRUE;
            fp_cli_error("%s", ferr->message);
            if (json) {
                json_object *jf = json_object_new_object();
                json_object_object_add(jf, "file", json_object_new_string(argv[i]));
                json_object_object_add(jf, "error", json_object_new_string(ferr->message));
                json_object_array_add(jfiles, jf);
            }
            continue;
        }
        findings |= res->findings->len > 0;
        fp_cli_print_warnings(argv[i], res);
        if (json) {
            json_object_array_add(jfiles, fp_lint_to_json(argv[i], res));
        } else {
            g_autofree char *text = fp_lint_format_text(argv[i], res);
            fputs(text, stdout);
        }
    }
    if (json)
        printf("%s\n", json_object_to_json_string_ext(jfiles, JSON_C_TO_STRING_PRETTY |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(jfiles);
    fp_cli_rule_args_clear(&args, &opts);
    return unusable ? FP_EXIT_UNUSABLE : findings ? FP_EXIT_FINDINGS : FP_EXIT_OK;

fail:
    fp_cli_error("%s", error->message);
    fp_cli_rule_args_clear(&args, &opts);
    return FP_EXIT_UNUSABLE;
}
