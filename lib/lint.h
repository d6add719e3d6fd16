/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reports of the tune rules' findings, as text lines or JSON, for CI of domain templates. */
#pragma once

#include "tune.h"

#include <json-c/json.h>

/* "FILE: RULE at PATH: MESSAGE; fix: FIX\n" per finding. */
char *fp_lint_format_text(const char *file, const FpTuneResult *res);
/* {"file":..., "findings":[{"rule","path","message","fix"}...], "warnings":[...]} */
json_object *fp_lint_to_json(const char *file, const FpTuneResult *res);
