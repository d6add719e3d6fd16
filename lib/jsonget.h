/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading json-c objects: the small lookups every JSON reader here needs. */
#pragma once

#include <json-c/json.h>

/* The string member KEY of O, or NULL when it is missing or not a string. */
const char *fp_json_str(json_object *o, const char *key);
