/* fastpass recover: give back every device whose claim no running domain stands behind: a
 * prepare killed half-way, a release that never ran, a domain that is gone. Each goes back to
 * its original driver with driver_override cleared, and its claim is forgotten. Free warm
 * devices and devices of running domains are left as they are. */
#include "cli.h"

#include "error.h"
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
    if (json) {
        json_object *j = fp_prep_report_json(report);

        printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(j);
    } else {
        g_autofree char *text = fp_prep_report_text(report);

        fputs(text, stdout);
    }
    fflush(stdout);
    if (!report->ok)
        fp_cli_error("%s", fp_prep_report_error(report) ? fp_prep_report_error(report)
                                                        : "not every device was recovered");
    return report->ok ? FP_EXIT_OK : FP_EXIT_FINDINGS;
}
