/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One PCI device in sysfs: what it is, which driver holds it, its IOMMU group, and the steps
 * that move it to vfio-pci, reset it, and give it back. Paths are built from a sysfs root. */
#pragma once

#include "pciaddr.h"

#include <glib.h>

#define FP_VFIO_DRIVER "vfio-pci"

typedef struct {
    char *root; /* sysfs root */
    FpPciAddr addr;
    char bdf[FP_PCI_ADDR_STRLEN];
    char *dir; /* $root/bus/pci/devices/$BDF */

    /* read by fp_pci_device_open() */
    char *vendor, *device, *klass;
    int numa_node;      /* -1 unknown */
    int iommu_group;    /* -1 none */
    char *driver;       /* NULL when unbound */
    char *reset_method; /* NULL when the kernel has no such file; "" when no method */
} FpPciDevice;

/* Fails with FP_ERROR_INPUT when no such device exists under ROOT. */
FpPciDevice *fp_pci_device_open(const char *root, const FpPciAddr *addr, GError **error);
void fp_pci_device_free(FpPciDevice *dev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpPciDevice, fp_pci_device_free)

/* Re-reads the driver link. */
const char *fp_pci_device_refresh_driver(FpPciDevice *dev);
/* A PCI-to-PCI bridge or PCIe port (class 0x0604xx). */
gboolean fp_pci_is_bridge(const char *klass);

/* Checks the device's IOMMU group can go to a guest: every other member is on vfio-pci or
 * pci-stub, unbound, a bridge/port, or in ALSO_LISTED (BDF strings being prepared together).
 * FP_ERROR_REFUSED names the member and its driver. */
gboolean fp_pci_check_group(FpPciDevice *dev, GHashTable *also_listed, GError **error);

/* The moves, each bounded by TIMEOUT_MS. */
gboolean fp_pci_bind_vfio(FpPciDevice *dev, guint timeout_ms, GError **error);
/* Back to DRIVER (NULL: leave unbound after clearing the override). */
gboolean fp_pci_bind_driver(FpPciDevice *dev, const char *driver, guint timeout_ms, GError **error);
/* Whether the kernel can reset it: a `reset` file exists and reset_method is not empty. */
gboolean fp_pci_can_reset(const FpPciDevice *dev);
/* reset_method exists and is empty: someone disabled every reset method, and `echo 1 > reset`
 * does nothing. Refused at prepare; never kept warm. (No reset_method file at all is a device the
 * kernel knows no reset for: VFIO cannot reset it either, prepared with a note.) */
gboolean fp_pci_reset_method_emptied(const FpPciDevice *dev);
/* echo 1 > reset. FALSE with FP_ERROR_IO when the device has no reset method. */
gboolean fp_pci_reset(FpPciDevice *dev, guint timeout_ms, GError **error);
