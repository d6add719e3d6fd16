/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fastpass prepare / release: bind a VM's PCI devices to vfio-pci and reset them, all at once,
 * before QEMU starts; give them back (warm, or to their original driver) when it stops. */
#include "cli.h"

#include "domain.h"
#include "error.h"
#include "prep.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    char *sysfs_root, *run_dir, *owner, *uuid, *domain_xml, *mode, *config;
    gboolean json;
    gint timeout_ms, max_workers;
} PrepArgs;

static gboolean
collect_addresses(PrepArgs *a, int argc, char **argv, GArray *addrs, char **domain_name,
                  char **domain_uuid, GError **error)
{
    if (a->domain_xml && argc > 1) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "give either --domain FILE.xml or addresses, not both");
        return FALSE;
    }
    if (a->domain_xml) {
        g_autoptr(FpDomain) dom = fp_domain_load_file(a->domain_xml, error);

        if (!dom)
            return FALSE;
        for (guint i = 0; i < dom->hostdevs->len; i++)
            g_array_append_val(addrs, g_array_index(dom->hostdevs, FpHostdev, i).addr);
        *domain_name = fp_domain_name(dom);
        *domain_uuid = fp_domain_uuid(dom);
        return TRUE;
    }
    if (argc < 2) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "no devices: give PCI addresses (DDDD:BB:DD.F) or --domain FILE.xml");
        return FALSE;
    }
    for (int i = 1; i < argc; i++) {
        FpPciAddr addr;

        if (!fp_pci_addr_parse(argv[i], &addr, error))
            return FALSE;
        g_array_append_val(addrs, addr);
    }
    return TRUE;
}

static int
run_prep(int argc, char **argv, gboolean preparing)
{
    /* Unset numbers (G_MININT) and paths come from the configuration the hook reads. */
    PrepArgs a = {.timeout_ms = G_MININT, .max_workers = G_MININT};
    GOptionEntry entries[] = {
        {"config", 0, 0, G_OPTION_ARG_FILENAME, &a.config,
         "Defaults from this configuration (default $FASTPASS_CONFIG, else " FP_CONFIG_DEFAULT_PATH
         ")",
         "FILE"},
        {"sysfs-root", 0, 0, G_OPTION_ARG_FILENAME, &a.sysfs_root,
         "Use sysfs under DIR (default $FASTPASS_SYSFS_ROOT, else the configuration's sysfs_root)",
         "DIR"},
        {"run-dir", 0, 0, G_OPTION_ARG_FILENAME, &a.run_dir,
         "Device claims under DIR (default $FASTPASS_RUN_DIR, else the configuration's run_dir)",
         "DIR"},
        {"domain", 'd', 0, G_OPTION_ARG_FILENAME, &a.domain_xml,
         "Take the PCI hostdevs of this domain XML", "FILE.xml"},
        {"owner", 0, 0, G_OPTION_ARG_STRING, &a.owner,
         "The domain the devices are for (default: the domain's <name>, else 'cli')", "NAME"},
        {"uuid", 0, 0, G_OPTION_ARG_STRING, &a.uuid,
         "That domain's UUID (default: the domain's <uuid>)", "UUID"},
        {"timeout-ms", 0, 0, G_OPTION_ARG_INT, &a.timeout_ms,
         "Deadline per device for all its steps (default: the configuration's device_timeout_ms)",
         "MS"},
        {"max-workers", 0, 0, G_OPTION_ARG_INT, &a.max_workers,
         "Devices worked on at once (default: the configuration's max_workers; 1 = one after "
         "another)",
         "N"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &a.json, "Report as JSON on stdout", NULL},
        {"mode", 0, 0, G_OPTION_ARG_STRING, &a.mode,
         "release: warm (stay on vfio-pci, reset) or restore (default: the configuration's "
         "release_mode)",
         "MODE"},
        {NULL},
    };
    g_autoptr(GOptionContext) octx = g_option_context_new(
        preparing
            ? "(--domain FILE.xml | BDF...) - bind devices to vfio-pci and reset them, in parallel"
            : "(--domain FILE.xml | BDF...) - release prepared devices, in parallel");
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) addrs = g_array_new(FALSE, FALSE, sizeof(FpPciAddr));
    g_autofree char *domain_name = NULL, *domain_uuid = NULL;
    g_autoptr(FpPrepReport) report = NULL;
    g_autoptr(FpConfig) config = NULL;
    FpPrepOptions opts = {0};
    int rc = FP_EXIT_UNUSABLE;

    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error))
        goto out;
    if (!(config = fp_cli_config(a.config, &error)))
        goto out;
    if (a.timeout_ms == G_MININT)
        a.timeout_ms = (gint)config->device_timeout_ms;
    if (a.max_workers == G_MININT)
        a.max_workers = (gint)config->max_workers;
    if (a.timeout_ms <= 0 || a.max_workers <= 0 || a.max_workers > 1024) {
        g_set_error(&error, FP_ERROR, FP_ERROR_INPUT,
                    "--timeout-ms must be > 0 and --max-workers 1..1024");
        goto out;
    }
    if (a.mode && g_strcmp0(a.mode, "warm") && g_strcmp0(a.mode, "restore")) {
        g_set_error(&error, FP_ERROR, FP_ERROR_INPUT, "--mode must be warm or restore, not '%s'",
                    a.mode);
        goto out;
    }
    if (!collect_addresses(&a, argc, argv, addrs, &domain_name, &domain_uuid, &error))
        goto out;
    if (a.uuid && !g_uuid_string_is_valid(a.uuid)) {
        g_set_error(&error, FP_ERROR, FP_ERROR_INPUT, "--uuid '%s' is not a UUID", a.uuid);
        goto out;
    }
    opts.sysfs_root = fp_cli_pick(a.sysfs_root, "FASTPASS_SYSFS_ROOT", config->sysfs_root);
    opts.run_dir = fp_cli_pick(a.run_dir, "FASTPASS_RUN_DIR", config->run_dir);
    opts.owner = a.owner ? a.owner : domain_name ? domain_name : preparing ? "cli" : NULL;
    opts.owner_uuid = a.uuid ? a.uuid : domain_uuid;
    opts.proc_root = config->proc_root;
    opts.dev_root = config->dev_root;
    opts.status_dir = config->libvirt_status_dir;
    opts.host_allowed = (const char *const *)config->host_devices_allowed;
    opts.timeout_ms = a.timeout_ms;
    opts.max_workers = a.max_workers;
    opts.mode = !a.mode                      ? config->release_mode
                : !strcmp(a.mode, "restore") ? FP_RELEASE_RESTORE
                                             : FP_RELEASE_WARM;

    report = preparing ? fp_prep_prepare((FpPciAddr *)addrs->data, addrs->len, &opts)
                       : fp_prep_release((FpPciAddr *)addrs->data, addrs->len, &opts);
    if (a.json) {
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
        fp_cli_error("%s", fp_prep_report_error(report) ? fp_prep_report_error(report) : "failed");
    rc = report->ok ? FP_EXIT_OK : FP_EXIT_FINDINGS;

out:
    if (error)
        fp_cli_error("%s", error->message);
    g_free(a.sysfs_root);
    g_free(a.run_dir);
    g_free(a.owner);
    g_free(a.uuid);
    g_free(a.domain_xml);
    g_free(a.mode);
    g_free(a.config);
    return rc;
}

int
fp_cmd_prepare(int argc, char **argv)
{
    return run_prep(argc, argv, TRUE);
}

int
fp_cmd_release(int argc, char **argv)
{
    return run_prep(argc, argv, FALSE);
}
