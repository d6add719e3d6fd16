/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host topology: NUMA nodes, their CPUs, hugepage sizes, and which node each PCI device is on.
 * Read from sysfs (under a redirectable root), from `virsh capabilities` XML, or from a
 * device-topology JSON file, so machines without the hardware (CI) can still plan placement. */
#pragma once

#include "pciaddr.h"

#include <glib.h>

typedef struct {
    guint id;
    GArray *cpus; /* guint, sorted */
} FpNumaNode;

typedef struct {
    char *sysfs_root;
    GPtrArray *nodes;         /* FpNumaNode*, sorted by id; empty when unknown */
    GArray *page_sizes_kib;   /* guint64 hugepage sizes; empty when unknown */
    GHashTable *device_nodes; /* "DDDD:BB:DD.F" -> GINT_TO_POINTER(node + 1), from a file */
} FpHost;

/* The sysfs root: OVERRIDE, else $FASTPASS_SYSFS_ROOT, else "/sys". */
const char *fp_host_sysfs_root(const char *override);

FpHost *fp_host_new(const char *sysfs_root);
void fp_host_free(FpHost *host);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpHost, fp_host_free)

/* Nodes, CPUs and page sizes from sysfs; what sysfs lacks stays unknown (not an error). */
void fp_host_load_sysfs(FpHost *host);
/* Nodes, CPUs and page sizes from the XML of `virsh capabilities`; replaces sysfs data. */
gboolean fp_host_load_caps(FpHost *host, const char *path, GError **error);
/* {"0000:41:00.0": 0, ...}: device address -> NUMA node; consulted before sysfs. */
gboolean fp_host_load_device_topology(FpHost *host, const char *path, GError **error);

const FpNumaNode *fp_host_node(const FpHost *host, guint id);
gboolean fp_host_has_page_size(const FpHost *host, guint64 kib);
/* The NUMA node of a device, or -1 when neither the topology file nor sysfs knows it. */
int fp_host_device_node(const FpHost *host, const FpPciAddr *addr);
/* The sum of a device's 64-bit memory BARs in bytes (what the firmware must fit in its 64-bit
 * MMIO window), from sysfs; FALSE when sysfs does not list the device. */
gboolean fp_host_device_mmio64(const FpHost *host, const FpPciAddr *addr, guint64 *bytes);
