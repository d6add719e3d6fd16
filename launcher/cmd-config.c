/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fastpass config [--config FILE] [KEY]: the configuration the hook, the wrapper and the CLI
 * use, after defaults: every key (KEY = VALUE), or one value alone (for scripts, e.g. the
 * package's maintainer scripts). */
#include "cli.h"

#include <stdio.h>

int
fp_cmd_config(int argc, char **argv)
{
    g_autofree char *config_path = NULL;
    GOptionEntry entries[] = {
        {"config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
         "configuration file (default: $FASTPASS_CONFIG, else " FP_CONFIG_DEFAULT_PATH ")", "FILE"},
        {NULL},
    };
    g_autoptr(GOptionContext) octx =
        g_option_context_new("[KEY] - the configuration in effect, or the value of KEY");
    g_autoptr(GError) error = NULL;
    g_autoptr(FpConfig) config = NULL;

    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error) || argc > 2) {
        fp_cli_error("%s", error ? error->message : "give at most one KEY");
        return FP_EXIT_UNUSABLE;
    }
    if (!(config = fp_cli_config(config_path, &error))) {
        fp_cli_error("%s", error->message);
        return FP_EXIT_UNUSABLE;
    }
    if (argc == 2) {
        g_autofree char *v = fp_config_get(config, argv[1]);

        if (!v) {
            fp_cli_error("unknown key \"%s\"", argv[1]);
            return FP_EXIT_UNUSABLE;
        }
        printf("%s\n", v);
        return FP_EXIT_OK;
    }
    for (const char *const *k = fp_config_key_names(); *k; k++) {
        g_autofree char *v = fp_config_get(config, *k);

        printf("%s = %s\n", *k, v);
    }
    return FP_EXIT_OK;
}
