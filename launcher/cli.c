/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cli.h"

#include "error.h"

#include <stdio.h>

void
fp_cli_error(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* One line, always: callers (CI, libvirt) show only the first. */
    g_strdelimit(msg, "\n", ' ');
    fprintf(stderr, "fastpass: error: %s\n", msg);
}

void
fp_cli_warning(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_strdelimit(msg, "\n", ' ');
    fprintf(stderr, "fastpass: warning: %s\n", msg);
}

FpConfig *
fp_cli_config(const char *path, GError **error)
{
    g_autoptr(FpConfig) config = fp_config_new();
    const char *env = g_getenv("FASTPASS_CONFIG");
    gboolean exists;

    if (!path)
        path = env && *env ? env : FP_CONFIG_DEFAULT_PATH;
    if (!fp_config_load(config, path, &exists, error))
        return NULL;
    return g_steal_pointer(&config);
}

const char *
fp_cli_pick(const char *option, const char *env_name, const char *configured)
{
    const char *env = env_name ? g_getenv(env_name) : NULL;

    return option ? option : env && *env ? env : configured;
}

void
fp_cli_add_rule_options(GOptionContext *ctx, FpRuleArgs *args)
{
    GOptionEntry entries[] = {
        {"host-caps", 0, 0, G_OPTION_ARG_FILENAME, &args->host_caps,
         "Host topology from the XML of `virsh capabilities` instead of sysfs", "FILE"},
        {"sysfs-root", 0, 0, G_OPTION_ARG_FILENAME, &args->sysfs_root,
         "Read sysfs under DIR (default $FASTPASS_SYSFS_ROOT or /sys)", "DIR"},
        {"device-topology", 0, 0, G_OPTION_ARG_FILENAME, &args->device_topology,
         "JSON object mapping PCI addresses to NUMA nodes, consulted before sysfs", "FILE"},
        {"skip", 0, 0, G_OPTION_ARG_STRING_ARRAY, &args->skip,
         "Do not run RULE (repeatable, or comma-separated)", "RULE"},
        {"only", 0, 0, G_OPTION_ARG_STRING_ARRAY, &args->only,
         "Run only RULE (repeatable, or comma-separated)", "RULE"},
        {"boot-display", 0, 0, G_OPTION_ARG_STRING_ARRAY, &args->boot_display,
         "The PCI device at BDF is the boot display: keep its option ROM", "BDF"},
        {NULL},
    };
    guint n;
    const FpRuleInfo *rules = fp_tune_rules(&n);
    GString *desc = g_string_new("Rules:\n");

    for (guint i = 0; i < n; i++)
        g_string_append_printf(desc, "  %-11s %s\n", rules[i].id, rules[i].summary);
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx, desc->str);
    g_string_free(desc, TRUE);
}

/* Sets the bit of every rule named in LIST ("a,b" items allowed). */
static gboolean
rule_mask(char **list, guint *mask, GError **error)
{
    for (char **item = list; item && *item; item++) {
        g_auto(GStrv) ids = g_strsplit(*item, ",", -1);

        for (char **id = ids; *id; id++) {
            int idx = fp_tune_rule_index(g_strstrip(*id));

            if (idx < 0) {
                g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "unknown rule '%s' (see --help)", *id);
                return FALSE;
            }
            *mask |= 1u << idx;
        }
    }
    return TRUE;
}

gboolean
fp_cli_rule_setup(FpRuleArgs *args, FpHost **host_out, FpTuneOptions *opts, GError **error)
{
    g_autoptr(FpHost) host = fp_host_new(args->sysfs_root);
    guint skip = 0, only = 0, n;

    fp_tune_rules(&n);
    if (!rule_mask(args->skip, &skip, error) || !rule_mask(args->only, &only, error))
        return FALSE;
    opts->disabled = skip | (args->only ? ~only & ((1u << n) - 1) : 0);
    opts->boot_display = g_ptr_array_new_with_free_func(g_free);
    for (char **b = args->boot_display; b && *b; b++) {
        FpPciAddr addr;
        char bdf[FP_PCI_ADDR_STRLEN];

        if (!fp_pci_addr_parse(*b, &addr, error)) {
            g_prefix_error(error, "--boot-display: ");
            return FALSE;
        }
        fp_pci_addr_format(&addr, bdf);
        g_ptr_array_add(opts->boot_display, g_strdup(bdf));
    }
    if (args->host_caps) {
        if (!fp_host_load_caps(host, args->host_caps, error))
            return FALSE;
    } else {
        fp_host_load_sysfs(host);
    }
    if (args->device_topology && !fp_host_load_device_topology(host, args->device_topology, error))
        return FALSE;
    *host_out = g_steal_pointer(&host);
    return TRUE;
}

void
fp_cli_rule_args_clear(FpRuleArgs *args, FpTuneOptions *opts)
{
    g_free(args->host_caps);
    g_free(args->sysfs_root);
    g_free(args->device_topology);
    g_strfreev(args->skip);
    g_strfreev(args->only);
    g_strfreev(args->boot_display);
    if (opts->boot_display)
        g_ptr_array_unref(opts->boot_display);
}

void
fp_cli_print_warnings(const char *file, const FpTuneResult *res)
{
    for (guint i = 0; i < res->warnings->len; i++)
        fp_cli_warning("%s: %s", file, (const char *)g_ptr_array_index(res->warnings, i));
}
