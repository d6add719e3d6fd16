/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Who else uses a PCI device. fastpass never binds, unbinds or resets a device that
 *  - a process holds open: its VFIO group file ($dev_root/vfio/<group>) or VFIO device file
 *    ($dev_root/vfio/devices/vfioN), found in $proc_root/PID/fd;
 *  - a running libvirt domain names (its status XML in libvirt's status directory);
 *  - the host itself uses: a mounted filesystem or swap on a disk below it, a network interface
 *    that is up with an address, the console.
 * Every check fails closed: what it cannot read counts as in use, and the error says what. */
#pragma once

#include "pci.h"

#include <glib.h>

typedef struct {
    const char *proc_root;
    const char *dev_root;
    const char *status_dir; /* libvirt's /run/libvirt/qemu; NULL: running domains not checked */
    const char *self_uuid;  /* the domain being started or stopped is not "someone else" */
    const char *self_name;  /* used when its UUID is not known */
} FpDevUseOptions;

/* A domain from libvirt's status directory. */
typedef struct {
    char *name, *uuid;
    gint64 pid;      /* its QEMU, 0 when not recorded */
    GPtrArray *bdfs; /* char*: the PCI devices its live XML passes through */
} FpRunningDomain;

/* Every domain libvirt's status directory (DIR) lists as running, FpRunningDomain*. A missing
 * directory is an empty list (no libvirt here); a file that cannot be read or parsed is an
 * error naming it. */
GPtrArray *fp_running_domains(const char *dir, GError **error);
/* The running domain with UUID (or, when UUID is NULL, NAME), or NULL. */
const FpRunningDomain *fp_running_find(GPtrArray *domains, const char *uuid, const char *name);

/* Looks for someone else holding each of DEVS (N of them). Sets REFUSALS[bdf] to one line
 * "<BDF> is in use by pid <PID> (<comm>)[, domain <NAME>]: ..." for each held device.
 * FALSE when the scan could not read what it needs (then nothing is known to be free). */
gboolean fp_devuse_others(const FpDevUseOptions *o, FpPciDevice *const *devs, guint n,
                          GHashTable *refusals, GError **error);

/* What the host uses DEV for ("mounted filesystem /boot (nvme0n1p1)"), in *USE, or NULL when
 * nothing. FALSE when something it needs cannot be read. */
gboolean fp_devuse_host(const FpPciDevice *dev, const char *proc_root, char **use, GError **error);
