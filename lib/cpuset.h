/* SPDX-License-Identifier: GPL-2.0-or-later */
/* CPU and NUMA-node lists in the kernel's and libvirt's text form ("0-3,8,10-11"). */
#pragma once

#include <glib.h>

/* Returns a sorted, de-duplicated array of guint; ids above 65535 are refused. */
GArray *fp_cpuset_parse(const char *text, GError **error);
/* Sorts IDS and drops duplicates. */
void fp_cpuset_normalize(GArray *ids);
/* Formats sorted ids with ranges: {0,1,2,3,8} -> "0-3,8". */
char *fp_cpuset_format(const GArray *ids);
