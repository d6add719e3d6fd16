/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tree.h - the sysfs namespace: which directories, attribute files and
 * symlinks exist under the emulated root, and which machine call each
 * attribute's show/store is. Paths are relative to the root, without a
 * leading slash ("" is the root itself). */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "machine.h"

typedef enum {
    FAKESYS_NODE_DIR,
    FAKESYS_NODE_FILE,
    FAKESYS_NODE_LINK,
} FakesysNodeType;

typedef enum {
    FAKESYS_DIR_ROOT,
    FAKESYS_DIR_BUS,
    FAKESYS_DIR_BUS_PCI,
    FAKESYS_DIR_PCI_DEVICES,
    FAKESYS_DIR_PCI_DRIVERS,
    FAKESYS_DIR_DRIVER,
    FAKESYS_DIR_DEVICES,
    FAKESYS_DIR_PCI_ROOT,
    FAKESYS_DIR_DEVICE,
    FAKESYS_DIR_SYSTEM,
    FAKESYS_DIR_NODE_ROOT,
    FAKESYS_DIR_NUMA_NODE,
    FAKESYS_DIR_HUGEPAGES,
    FAKESYS_DIR_HUGEPOOL,
    FAKESYS_DIR_KERNEL,
    FAKESYS_DIR_IOMMU_GROUPS,
    FAKESYS_DIR_IOMMU_GROUP,
    FAKESYS_DIR_GROUP_DEVICES,
    FAKESYS_DIR_BLOCK,     /* <BDF>/block */
    FAKESYS_DIR_BLOCK_DEV, /* <BDF>/block/<name> */
} FakesysDirKind;

typedef struct FakesysAttr FakesysAttr;

typedef struct {
    char *name;
    FakesysNodeType type;
    FakesysDirKind dir;      /* FAKESYS_NODE_DIR */
    const FakesysAttr *attr; /* FAKESYS_NODE_FILE */
    char *link_target;       /* FAKESYS_NODE_LINK, relative like sysfs */
    /* What the node belongs to; unused ones are NULL/-1. */
    FakesysDevice *dev;
    FakesysDriver *drv;
    FakesysNumaNode *node;
    FakesysHugepool *pool;
    const char *bus_dir;
    int group;
} FakesysNode;

void fakesys_node_clear(FakesysNode *n);

/* FALSE (ENOENT) when nothing is at path right now: a "driver" link
 * exists only while the device is bound. */
gboolean fakesys_tree_lookup(FakesysMachine *m, const char *path, FakesysNode *out);
/* The entries of a directory node, as FakesysNode (clear func set). */
GArray *fakesys_tree_list(FakesysMachine *m, const FakesysNode *dir);

mode_t fakesys_node_mode(const FakesysNode *n); /* with S_IFMT bits */
gboolean fakesys_node_has_show(const FakesysNode *n);
gboolean fakesys_node_has_store(const FakesysNode *n);
/* The emulator-only event log file, which is read by offset and can be
 * truncated, unlike attributes. */
gboolean fakesys_node_is_log(const FakesysNode *n);

/* Attribute ->show()/->store(); 0/count or -errno. Called without
 * machine->lock: both may block on the device lock. */
int fakesys_node_show(FakesysMachine *m, const FakesysNode *n, GString *out,
                      const FakesysCaller *caller);
gssize fakesys_node_store(FakesysMachine *m, const FakesysNode *n, const char *buf, gsize count,
                          const FakesysCaller *caller);
