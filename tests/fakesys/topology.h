/* SPDX-License-Identifier: GPL-2.0-or-later */
/* topology.h - builds the emulated machine from a JSON topology file
 * (format in README.md). Strict: unknown keys and bad values are errors,
 * so a typo in a test fixture fails loudly instead of emulating less. */
#pragma once

#include <glib.h>

#include "machine.h"

FakesysMachine *fakesys_topology_load(const char *path, GError **error);
FakesysMachine *fakesys_topology_parse(const char *json_text, const char *origin, GError **error);
