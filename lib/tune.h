/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The rewrite rules for fast creation, as one table. `tune` applies them; `lint` runs the same
 * code without applying, so a finding is exactly what tune would change. */
#pragma once

#include "domain.h"
#include "host.h"

#include <glib.h>

typedef struct {
    const char *id;      /* "bootmenu", "hugepages", ... (command-line name) */
    const char *summary; /* one line: what the rule does and why */
} FpRuleInfo;

typedef struct {
    const char *rule; /* FpRuleInfo.id */
    char *path;       /* element path, e.g. "/domain/os/bootmenu" */
    char *message;    /* what is slow */
    char *fix;        /* the XML that fixes it */
} FpFinding;

typedef struct {
    guint disabled;          /* bit i set: rule i of fp_tune_rules() is off */
    GPtrArray *boot_display; /* "DDDD:BB:DD.F" of hostdevs whose option ROM must run */
} FpTuneOptions;

typedef struct {
    GPtrArray *findings; /* FpFinding* */
    GPtrArray *warnings; /* char*: a rule could not run (missing host facts) */
} FpTuneResult;

const FpRuleInfo *fp_tune_rules(guint *count);
/* Index of rule ID, or -1. */
int fp_tune_rule_index(const char *id);

/* Runs every enabled rule against DOM; with APPLY, rewrites DOM. Fails only on unusable input. */
FpTuneResult *fp_tune_run(FpDomain *dom, const FpHost *host, const FpTuneOptions *opts,
                          gboolean apply, GError **error);
void fp_tune_result_free(FpTuneResult *res);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpTuneResult, fp_tune_result_free)
