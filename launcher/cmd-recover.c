/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fastpass recover: give back every device whose claim no running domain stands behind: a
 * prepare killed half-way, a release that never ran, a domain that is gone. Each goes back to
 * its original driver with driver_override cleared, and its claim is forgotten. Free warm
 * devices and devices of running domains are left as they are. Then the hugepages the hook
 * recorded for domains that do not run are given back. */
#include "cli.h"

#include "error.h"
#include "hook.h"
#include "prep.h"

#include <stdio.h>

int
fp_cmd_recover(int argc, char **argv)
{
    g_autofree char *config_path = NULL, *sysfs_root = NULL, *run_dir = NULL;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        {"config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
         "Defaults from this configuration (default $FASTPASS_CONFIG, else " FP_CONFIG_DEFAULT_PATH
         ")",
         "FILE"},
        {"sysfs-root", 0, 0, G_OPTION_ARG_FILENAME, &sysfs_root,
         "Use sysfs under DIR (default $FASTPASS_SYSFS_ROOT, else the configuration's sysfs_root)",
         "DIR"},
        {"run-dir", 0, 0, G_OPTION_ARG_FILENAME, &run_dir,
         "Device claims under DIR (default $FASTPASS_RUN_DIR, else the configuration's run_dir)",
         "DIR"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Report as JSON on stdout", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) octx = g_option_context_new(
        "- give every device no running domain holds back to its original driver");
    g_autoptr(GError) error = NULL;
    g_autoptr(FpConfig) config = NULL;
    g_autoptr(FpPrepReport) report = NULL;
    FpPrepOptions opts = {0};
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) pages_error = NULL;
    gboolean pages_ok;

    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error) ||
        !(config = fp_cli_config(config_path, &error))) {
        fp_cli_error("%s", error->message);
        return FP_EXIT_UNUSABLE;
    }
    if (argc > 1) {
        fp_cli_error("unexpected argument '%s' (recover takes every claim)", argv[1]);
        return FP_EXIT_UNUSABLE;
    }
    opts.sysfs_root = fp_cli_pick(sysfs_root, "FASTPASS_SYSFS_ROOT", config->sysfs_root);
    opts.run_dir = fp_cli_pick(run_dir, "FASTPASS_RUN_DIR", config->run_dir);
    opts.timeout_ms = config->device_timeout_ms;
    opts.max_workers = config->max_workers;
    opts.mode = FP_RELEASE_RESTORE;
    opts.proc_root = config->proc_root;
    opts.dev_root = config->dev_root;
    opts.status_dir = config->libvirt_status_dir;
    report = fp_prep_recover(&opts, FALSE);
    /* The hook's records live under the same run directory as the claims. */
    if (g_strcmp0(config->run_dir, opts.run_dir)) {
        g_autofree char *old = config->run_dir;

        config->run_dir = g_strdup(opts.run_dir);
    }
    pages_ok = fp_hook_recover_hugepages(config, notes, &pages_error);
    if (json) {
        json_object *j = fp_prep_report_json(report), *pages = json_object_new_array();

        for (guint i = 0; i < notes->len; i++)
            json_object_array_add(pages, json_object_new_string(g_ptr_array_index(notes, i)));
        json_object_object_add(j, "hugepages", pages);
        json_object_object_add(j, "hugepages_ok", json_object_new_boolean(pages_ok));

        printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(j);
    } else {
        g_autofree char *text = fp_prep_report_text(report);

        fputs(text, stdout);
        for (guint i = 0; i < notes->len; i++)
            printf("%s\n", (char *)g_ptr_array_index(notes, i));
    }
    fflush(stdout);
    if (!report->ok)
        fp_cli_error("%s", fp_prep_report_error(report) ? fp_prep_report_error(report)
                                                        : "not every device was recovered");
    if (!pages_ok)
        fp_cli_error("hugepages: %s",
                     pages_error ? pages_error->message : "not every record was given back");
    return report->ok && pages_ok ? FP_EXIT_OK : FP_EXIT_FINDINGS;
}
