/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fastpass: the command-line front end. Each subcommand is a thin layer over lib/. */
#include "cli.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"tune", fp_cmd_tune, "rewrite a domain XML for fast creation"},
    {"lint", fp_cmd_lint, "report what makes a domain XML slow to create"},
    {"prepare", fp_cmd_prepare,
     "bind a domain's PCI devices to vfio-pci and reset them, in parallel"},
    {"release", fp_cmd_release, "give prepared PCI devices back (warm, or to their driver)"},
    {"recover", fp_cmd_recover, "give back devices no running domain holds (after a crash)"},
    {"profile", fp_cmd_profile,
     "start a domain and measure its creation time (init, BIOS, phases)"},
    {"profile-chart", fp_cmd_profile_chart,
     "waterfall SVG of profiles saved with `profile --json`"},
    {"pool", fp_cmd_pool,
     "pre-zeroed guest-memory slots on hugetlbfs: status, fill, scrub, drain, serve"},
    {"config", fp_cmd_config, "the configuration in effect (all keys, or one value)"},
};

static void
usage(FILE *out)
{
    fprintf(out, "usage: fastpass COMMAND [OPTIONS...]\n\ncommands:\n");
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`fastpass COMMAND --help` for a command's options.\n");
}

int
main(int argc, char **argv)
{
    int rc;

    if (argc < 2) {
        usage(stderr);
        return FP_EXIT_UNUSABLE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            g_autofree char *prgname = g_strdup_printf("fastpass %s", commands[i].name);

            g_set_prgname(prgname);
            xmlInitParser();
            rc = commands[i].run(argc - 1, argv + 1);
            xmlCleanupParser();
            return rc;
        }
    }
    fp_cli_error("unknown command '%s' (try `fastpass --help`)", argv[1]);
    return FP_EXIT_UNUSABLE;
}
