/* SPDX-License-Identifier: GPL-2.0-or-later */
/* machine.h - the emulated kernel: PCI devices, PCI drivers, NUMA nodes
 * and the sysfs store/show semantics that act on them. Nothing here knows
 * about FUSE; tree.c maps paths onto these calls.
 *
 * Locking: machine->lock guards every mutable field. A device also has a
 * "device lock" (dev->locked) like the kernel's device_lock(): reset,
 * bind, unbind and driver_override hold it, possibly for a long time,
 * without holding machine->lock, so one slow device never blocks another. */
#pragma once

#include <glib.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "eventlog.h"

#define FAKESYS_PCI_ANY_ID 0xffffffffu
#define FAKESYS_MAX_RESET_METHODS 8

typedef struct {
    guint32 vendor, device, subvendor, subdevice, class_code, class_mask;
} FakesysPciId;

typedef struct {
    char *name;
    GArray *dynids; /* FakesysPciId added through new_id */
} FakesysDriver;

typedef enum {
    FAKESYS_FAULT_NONE,
    FAKESYS_FAULT_ERRNO, /* fails with .err after the normal delay */
    FAKESYS_FAULT_HANG,  /* never completes; ends only at shutdown or when
                            the writer is signalled */
} FakesysFaultKind;

typedef struct {
    FakesysFaultKind kind;
    int err;
} FakesysFault;

typedef struct {
    /* Fixed by the topology. */
    char *bdf;
    char *bus_dir; /* "pci0000:41": the parent directory under devices/ */
    guint16 vendor, device, subsystem_vendor, subsystem_device;
    guint32 class_code;
    guint8 revision;
    int iommu_group; /* -1: no IOMMU group, hence no iommu_group link */
    gboolean bridge;
    FakesysDriver *native; /* what drivers_probe binds without an override */
    guint8 supported_resets[FAKESYS_MAX_RESET_METHODS]; /* 0-terminated */
    gint64 reset_us, bind_us, unbind_us;
    FakesysFault reset_fault;
    guint reset_fault_after; /* this many resets succeed before the fault */
    GPtrArray *bind_fail;    /* FakesysDriver* whose probe fails */
    int bind_fail_err;
    FakesysFault unbind_fault; /* only HANG is meaningful */
    char *block_name;          /* a disk below it (block/<name>/dev), shown while the native */
    char *block_dev;           /* driver has it: "MAJ:MIN" */

    /* Mutable, under machine->lock. */
    int numa_node;
    FakesysDriver *driver;
    char *driver_override;
    guint8 reset_methods[FAKESYS_MAX_RESET_METHODS];
    gboolean locked;
    guint64 reset_count;
} FakesysDevice;

typedef struct {
    guint64 size_kb;
    guint64 nr; /* under machine->lock */
} FakesysHugepool;

typedef struct {
    int id;
    GArray *cpus; /* guint, sorted */
    guint64 memory_kb;
    GPtrArray *pools; /* FakesysHugepool*, ascending size */
} FakesysNumaNode;

typedef struct {
    GMutex lock;
    GCond cond;         /* broadcast whenever a device lock is released */
    GPtrArray *devices; /* FakesysDevice*, topology order */
    GPtrArray *drivers; /* FakesysDriver*, probe order */
    GPtrArray *nodes;   /* FakesysNumaNode*, ascending id */
    GArray *groups;     /* int, sorted unique IOMMU group numbers */
    gboolean drivers_probe_reports_errors;
    FakesysEventLog *log;
    atomic_int stopping; /* set once on unmount/SIGTERM; ends every wait */
} FakesysMachine;

/* Who is waiting: lets a hang end when the writing process is signalled. */
typedef struct {
    gboolean (*interrupted)(gpointer data);
    gpointer data;
} FakesysCaller;

FakesysMachine *fakesys_machine_new(void);
void fakesys_machine_free(FakesysMachine *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakesysMachine, fakesys_machine_free)

FakesysDriver *fakesys_machine_add_driver(FakesysMachine *m, const char *name);
FakesysDriver *fakesys_machine_find_driver(FakesysMachine *m, const char *name);
FakesysDevice *fakesys_machine_find_device(FakesysMachine *m, const char *bdf);
FakesysNumaNode *fakesys_machine_find_node(FakesysMachine *m, int id);
void fakesys_device_free(FakesysDevice *dev);
void fakesys_numa_node_free(FakesysNumaNode *node);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakesysDevice, fakesys_device_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakesysNumaNode, fakesys_numa_node_free)

/* Reset method names in the kernel's table order; 0 is "none". */
int fakesys_reset_method_from_name(const char *name);
const char *fakesys_reset_method_name(int method);

void fakesys_machine_stop(FakesysMachine *m);
gboolean fakesys_machine_stopping(FakesysMachine *m);

/* The ->store() of each writable attribute: buf is NUL-terminated, count
 * is what was written. Returns count or -errno, as the kernel does. */
gssize fakesys_machine_bind(FakesysMachine *m, FakesysDriver *drv, const char *buf, gsize count,
                            const FakesysCaller *caller);
gssize fakesys_machine_unbind(FakesysMachine *m, FakesysDriver *drv, const char *buf, gsize count,
                              const FakesysCaller *caller);
gssize fakesys_machine_new_id(FakesysMachine *m, FakesysDriver *drv, const char *buf, gsize count,
                              const FakesysCaller *caller);
gssize fakesys_machine_remove_id(FakesysMachine *m, FakesysDriver *drv, const char *buf,
                                 gsize count);
gssize fakesys_machine_drivers_probe(FakesysMachine *m, const char *buf, gsize count,
                                     const FakesysCaller *caller);
gssize fakesys_machine_store_driver_override(FakesysMachine *m, FakesysDevice *dev, const char *buf,
                                             gsize count, const FakesysCaller *caller);
gssize fakesys_machine_store_reset_method(FakesysMachine *m, FakesysDevice *dev, const char *buf,
                                          gsize count);
gssize fakesys_machine_reset(FakesysMachine *m, FakesysDevice *dev, const char *buf, gsize count,
                             const FakesysCaller *caller);
gssize fakesys_machine_store_numa_node(FakesysMachine *m, FakesysDevice *dev, const char *buf,
                                       gsize count);
gssize fakesys_machine_store_nr_hugepages(FakesysMachine *m, FakesysNumaNode *node,
                                          FakesysHugepool *pool, const char *buf, gsize count);

/* ->show() of attributes whose value changes at run time. */
int fakesys_machine_show_driver_override(FakesysMachine *m, FakesysDevice *dev, GString *out,
                                         const FakesysCaller *caller);
void fakesys_machine_show_reset_method(FakesysMachine *m, FakesysDevice *dev, GString *out);

/* Free memory of a node in kB once its hugepage pools are subtracted
 * (machine->lock held). */
guint64 fakesys_numa_node_free_kb(const FakesysNumaNode *node);
