/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the fastpass subcommands share: logging and the host/rule options of tune and lint. */
#pragma once

#include "config.h"
#include "host.h"
#include "tune.h"

#include <glib.h>

/* Exit statuses: lint's 1 means findings; prepare/release's 1 means refused or failed. */
enum { FP_EXIT_OK = 0, FP_EXIT_FINDINGS = 1, FP_EXIT_UNUSABLE = 2 };

void fp_cli_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void fp_cli_warning(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* The configuration the hook and the wrapper read: PATH, else $FASTPASS_CONFIG, else
 * FP_CONFIG_DEFAULT_PATH (missing: the defaults). The CLI takes its defaults from it, so that
 * `fastpass release` or `fastpass pool` by hand sees what the hook did. NULL on a bad file. */
FpConfig *fp_cli_config(const char *path, GError **error);
/* OPTION when given, else $ENV_NAME when set, else CONFIGURED. */
const char *fp_cli_pick(const char *option, const char *env_name, const char *configured);

typedef struct {
    char *host_caps;
    char *sysfs_root;
    char *device_topology;
    char **skip; /* rule ids, repeatable or comma-separated */
    char **only;
    char **boot_display; /* PCI addresses */
} FpRuleArgs;

/* Adds --host-caps, --sysfs-root, --device-topology, --skip, --only, --boot-display. */
void fp_cli_add_rule_options(GOptionContext *ctx, FpRuleArgs *args);
/* Turns parsed options into host facts and tune options; fails on a bad file or rule id. */
gboolean fp_cli_rule_setup(FpRuleArgs *args, FpHost **host, FpTuneOptions *opts, GError **error);
void fp_cli_rule_args_clear(FpRuleArgs *args, FpTuneOptions *opts);
/* One line per warning, naming FILE. */
void fp_cli_print_warnings(const char *file, const FpTuneResult *res);

int fp_cmd_tune(int argc, char **argv);
int fp_cmd_lint(int argc, char **argv);
int fp_cmd_prepare(int argc, char **argv);
int fp_cmd_release(int argc, char **argv);
int fp_cmd_recover(int argc, char **argv);
int fp_cmd_pool(int argc, char **argv);
int fp_cmd_profile(int argc, char **argv);
int fp_cmd_profile_chart(int argc, char **argv);
int fp_cmd_config(int argc, char **argv);
