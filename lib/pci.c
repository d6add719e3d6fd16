/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "pci.h"

#include "error.h"
#include "sysfs.h"

#include <string.h>

void
fp_pci_device_free(FpPciDevice *dev)
{
    if (!dev)
        return;
    g_free(dev->root);
    g_free(dev->dir);
    g_free(dev->vendor);
    g_free(dev->device);
    g_free(dev->klass);
    g_free(dev->driver);
    g_free(dev->reset_method);
    g_free(dev);
}

static char *
attr_path(const FpPciDevice *dev, const char *name)
{
    return g_build_filename(dev->dir, name, NULL);
}

static char *
read_attr(const FpPciDevice *dev, const char *name)
{
    g_autofree char *path = attr_path(dev, name);

    return fp_sysfs_read(path, NULL);
}

static int
read_int_attr(const FpPciDevice *dev, const char *name)
{
    g_autofree char *text = read_attr(dev, name);
    gint64 v;

    if (!text || !g_ascii_string_to_signed(text, 10, -1, G_MAXINT, &v, NULL))
        return -1;
    return (int)v;
}

const char *
fp_pci_device_refresh_driver(FpPciDevice *dev)
{
    g_autofree char *link = attr_path(dev, "driver");

    g_free(dev->driver);
    /* readlink /sys/bus/pci/devices/$BDF/driver */
    dev->driver = fp_sysfs_link_name(link);
    return dev->driver;
}

FpPciDevice *
fp_pci_device_open(const char *root, const FpPciAddr *addr, GError **error)
{
    g_autoptr(FpPciDevice) dev = g_new0(FpPciDevice, 1);
    g_autofree char *group_link = NULL, *group = NULL;
    gint64 g;

    dev->root = g_strdup(root);
    dev->addr = *addr;
    fp_pci_addr_format(addr, dev->bdf);
    dev->dir = g_build_filename(root, "bus/pci/devices", dev->bdf, NULL);
    if (!g_file_test(dev->dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s: no such PCI device (%s does not exist)",
                    dev->bdf, dev->dir);
        return NULL;
    }
    dev->vendor = read_attr(dev, "vendor");
    dev->device = read_attr(dev, "device");
    dev->klass = read_attr(dev, "class");
    dev->numa_node = read_int_attr(dev, "numa_node");
    dev->reset_method = read_attr(dev, "reset_method");
    group_link = attr_path(dev, "iommu_group");
    group = fp_sysfs_link_name(group_link);
    dev->iommu_group =
        group && g_ascii_string_to_signed(group, 10, 0, G_MAXINT, &g, NULL) ? (int)g : -1;
    fp_pci_device_refresh_driver(dev);
    return g_steal_pointer(&dev);
}

gboolean
fp_pci_is_bridge(const char *klass)
{
    return klass && g_str_has_prefix(klass, "0x0604");
}

gboolean
fp_pci_check_group(FpPciDevice *dev, GHashTable *also_listed, GError **error)
{
    g_autofree char *gdir = NULL;
    g_autoptr(GDir) d = NULL;
    const char *name;

    if (dev->iommu_group < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_REFUSED,
                    "%s has no IOMMU group: is the IOMMU on (intel_iommu=on / amd_iommu=on)?",
                    dev->bdf);
        return FALSE;
    }
    /* ls /sys/kernel/iommu_groups/$GROUP/devices */
    gdir = g_strdup_printf("%s/kernel/iommu_groups/%d/devices", dev->root, dev->iommu_group);
    d = g_dir_open(gdir, 0, error);
    if (!d) {
        g_prefix_error(error, "%s: cannot list IOMMU group %d: ", dev->bdf, dev->iommu_group);
        return FALSE;
    }
    while ((name = g_dir_read_name(d))) {
        FpPciAddr maddr;
        g_autoptr(FpPciDevice) member = NULL;

        if (strcmp(name, dev->bdf) == 0 ||
            (also_listed && g_hash_table_contains(also_listed, name)))
            continue;
        if (!fp_pci_addr_parse(name, &maddr, NULL))
            continue;
        member = fp_pci_device_open(dev->root, &maddr, NULL);
        if (!member || !member->driver || fp_pci_is_bridge(member->klass) ||
            strcmp(member->driver, FP_VFIO_DRIVER) == 0 || strcmp(member->driver, "pci-stub") == 0)
            continue;
        g_set_error(
            error, FP_ERROR, FP_ERROR_REFUSED,
            "%s: IOMMU group %d is not viable: %s is held by host driver %s and not listed for "
            "passthrough",
            dev->bdf, dev->iommu_group, member->bdf, member->driver);
        return FALSE;
    }
    return TRUE;
}

static gboolean
write_bus(const FpPciDevice *dev, const char *rel, const char *value, guint timeout_ms,
          GError **error)
{
    g_autofree char *path = g_build_filename(dev->root, rel, NULL);

    return fp_sysfs_write(path, value, timeout_ms, error);
}

static gboolean
write_attr(const FpPciDevice *dev, const char *name, const char *value, guint timeout_ms,
           GError **error)
{
    g_autofree char *path = attr_path(dev, name);

    return fp_sysfs_write(path, value, timeout_ms, error);
}

static gboolean
unbind(FpPciDevice *dev, guint timeout_ms, GError **error)
{
    g_autofree char *rel = NULL;

    /* Read again: the write before waited for the device lock, and whatever held it (a probe a
     * killed run left behind) may have bound the device since. */
    if (!fp_pci_device_refresh_driver(dev))
        return TRUE;
    /* echo $BDF > /sys/bus/pci/drivers/$DRIVER/unbind */
    rel = g_strdup_printf("bus/pci/drivers/%s/unbind", dev->driver);
    if (!write_bus(dev, rel, dev->bdf, timeout_ms, error))
        return FALSE;
    fp_pci_device_refresh_driver(dev);
    return TRUE;
}

gboolean
fp_pci_bind_vfio(FpPciDevice *dev, guint timeout_ms, GError **error)
{
    if (g_strcmp0(dev->driver, FP_VFIO_DRIVER) == 0)
        return TRUE;
    /* echo vfio-pci > /sys/bus/pci/devices/$BDF/driver_override */
    if (!write_attr(dev, "driver_override", FP_VFIO_DRIVER, timeout_ms, error))
        return FALSE;
    if (!unbind(dev, timeout_ms, error))
        return FALSE;
    /* echo $BDF > /sys/bus/pci/drivers_probe */
    if (!write_bus(dev, "bus/pci/drivers_probe", dev->bdf, timeout_ms, error))
        return FALSE;
    if (g_strcmp0(fp_pci_device_refresh_driver(dev), FP_VFIO_DRIVER) != 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "%s did not bind to vfio-pci (driver now: %s)",
                    dev->bdf, dev->driver ? dev->driver : "none");
        return FALSE;
    }
    return TRUE;
}

gboolean
fp_pci_bind_driver(FpPciDevice *dev, const char *driver, guint timeout_ms, GError **error)
{
    /* Cleared even when the device is on DRIVER already: a run killed after its override write
     * leaves it set, and the unbind it had started may still be under way. (Reading it would
     * take the device lock in this process, unbounded.)
     * echo > /sys/bus/pci/devices/$BDF/driver_override */
    if (!write_attr(dev, "driver_override", "\n", timeout_ms, error))
        return FALSE;
    /* After the device lock that write waited for: where it is now. */
    if (driver && g_strcmp0(fp_pci_device_refresh_driver(dev), driver) == 0)
        return TRUE;
    if (!unbind(dev, timeout_ms, error))
        return FALSE;
    if (!driver)
        return TRUE;
    /* echo $BDF > /sys/bus/pci/drivers_probe   (the kernel picks the native driver) */
    if (!write_bus(dev, "bus/pci/drivers_probe", dev->bdf, timeout_ms, error))
        return FALSE;
    if (g_strcmp0(fp_pci_device_refresh_driver(dev), driver) != 0) {
        /* echo $BDF > /sys/bus/pci/drivers/$DRIVER/bind   (when probing chose another) */
        g_autofree char *rel = g_strdup_printf("bus/pci/drivers/%s/bind", driver);
        g_autoptr(GError) bind_error = NULL;

        if (!dev->driver)
            write_bus(dev, rel, dev->bdf, timeout_ms, &bind_error);
        if (g_strcmp0(fp_pci_device_refresh_driver(dev), driver) != 0) {
            g_set_error(error, FP_ERROR, FP_ERROR_IO,
                        "%s did not bind back to %s (driver now: %s)%s%s", dev->bdf, driver,
                        dev->driver ? dev->driver : "none", bind_error ? ": " : "",
                        bind_error ? bind_error->message : "");
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
fp_pci_can_reset(const FpPciDevice *dev)
{
    g_autofree char *reset = attr_path(dev, "reset");

    /* The kernel hides `reset` (and reset_method) when it knows no way to reset the device. */
    return !(dev->reset_method && !*dev->reset_method) && g_file_test(reset, G_FILE_TEST_EXISTS);
}

gboolean
fp_pci_reset_method_emptied(const FpPciDevice *dev)
{
    return dev->reset_method && !*dev->reset_method;
}

gboolean
fp_pci_reset(FpPciDevice *dev, guint timeout_ms, GError **error)
{
    if (!fp_pci_can_reset(dev)) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "%s has no reset method", dev->bdf);
        return FALSE;
    }
    /* echo 1 > /sys/bus/pci/devices/$BDF/reset   (the kernel tries reset_method in order) */
    return write_attr(dev, "reset", "1", timeout_ms, error);
}
