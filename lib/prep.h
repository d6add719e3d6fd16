/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prepare a set of PCI devices for a VM (bind to vfio-pci, reset) and release them again, all
 * devices at once in worker threads, every kernel write bounded by a per-device deadline.
 * Prepare is all or nothing: when one device fails, every device it moved goes back. */
#pragma once

#include "pciaddr.h"

#include <glib.h>
#include <json-c/json.h>

/* A warm release resets each device although vfio-pci may have reset it when QEMU closed it:
 * the kernel keeps whether that reset ran and worked to itself (vfio_pci_core_disable() records
 * it in a field nothing exports; a failed try is silent), so fastpass cannot know it and never
 * guesses it. The reasoning, with the kernel's code: docs/security.md, "Reset at release". */
#define FP_PREP_RELEASE_RESET_WHY                                                                  \
    "reset again: the kernel does not report whether its reset at QEMU's close ran or worked"

typedef enum {
    FP_RELEASE_WARM,    /* stay on vfio-pci, reset now for the next start */
    FP_RELEASE_RESTORE, /* back to the driver the device had before */
} FpReleaseMode;

typedef struct {
    const char *sysfs_root;
    const char *run_dir;
    const char *owner;      /* the domain the devices are for */
    const char *owner_uuid; /* its UUID when known: claims name both */
    guint timeout_ms;       /* per device, for all of its steps together */
    guint max_workers;      /* 1: one device after another, as without fastpass */
    FpReleaseMode mode;     /* release only */
    /* Who else uses a device (lib/devuse.h): NULL proc_root/dev_root mean /proc and /dev;
     * NULL status_dir: running libvirt domains are not looked at. */
    const char *proc_root;
    const char *dev_root;
    const char *status_dir;
    const char *const *host_allowed; /* BDFs the host uses that may be taken anyway */
} FpPrepOptions;

typedef enum {
    FP_DEV_DONE,
    FP_DEV_REFUSED, /* unsafe: group not viable, held by another domain, never prepared */
    FP_DEV_FAILED,
    FP_DEV_TIMED_OUT,
    FP_DEV_ROLLED_BACK, /* was fine, put back because another device failed */
    FP_DEV_NOT_STARTED, /* untouched because another device was refused */
    FP_DEV_LEFT,        /* recover: nothing to undo (a free warm device, a running owner) */
    FP_DEV_N_STATUS,
} FpDevStatus;

typedef struct {
    const char *name;
    gint64 start_us, end_us; /* from the start of the run */
    char *note;
} FpPrepStep;

typedef struct FpPrepDevice FpPrepDevice;

typedef struct {
    const char *action; /* "prepare" or "release" */
    GPtrArray *devices; /* FpPrepDevice*, in the order given */
    gint64 total_us;
    gboolean ok;
} FpPrepReport;

FpPrepReport *fp_prep_prepare(const FpPciAddr *addrs, guint n, const FpPrepOptions *opts);
FpPrepReport *fp_prep_release(const FpPciAddr *addrs, guint n, const FpPrepOptions *opts);
/* Every claim whose owner is not running (libvirt's status directory) and that is not a free
 * warm device, or (ONLY_PREPARING) every claim a dead run left half-way: back to its original
 * driver, driver_override cleared, claim forgotten. Devices someone holds are left alone. */
FpPrepReport *fp_prep_recover(const FpPrepOptions *opts, gboolean only_preparing);
/* The devices claimed by the domain with UUID (canonical BDF strings). */
GPtrArray *fp_prep_claimed_by(const char *run_dir, const char *uuid, GError **error);
void fp_prep_report_free(FpPrepReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpPrepReport, fp_prep_report_free)

/* One device of a report (report->devices holds them, in the order given). */
const char *fp_prep_device_bdf(const FpPrepDevice *d);
FpDevStatus fp_prep_device_status(const FpPrepDevice *d);
/* Its first error (domain and code kept), or NULL. */
const GError *fp_prep_device_error(const FpPrepDevice *d);
/* FpPrepStep, in the order done; times from the start of the run. */
const GArray *fp_prep_device_steps(const FpPrepDevice *d);

/* The first failure as one line ("0000:41:00.0: IOMMU group 7 is not viable: ..."), or NULL. */
const char *fp_prep_report_error(const FpPrepReport *report);
json_object *fp_prep_report_json(const FpPrepReport *report);
/* One line per device: address, status, drivers, step times. */
char *fp_prep_report_text(const FpPrepReport *report);
const char *fp_prep_status_name(FpDevStatus status);
