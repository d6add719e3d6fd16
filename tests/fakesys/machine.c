/* SPDX-License-Identifier: GPL-2.0-or-later */
/* machine.c - kernel semantics of the PCI sysfs attributes. Each store
 * function names the kernel function it follows, so a difference from the
 * real kernel is a bug here, not a design choice. */
#include "machine.h"

#include "sysfs-util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* How often a wait re-checks shutdown and FUSE interrupts. Nobody signals
 * the condition for those, so waits are sliced instead. */
#define WAIT_SLICE_US (20 * 1000)

/* The kernel's pci_reset_fn_methods[] order; index 0 means "end". */
static const char *const reset_method_names[] = {
    NULL, "device_specific", "acpi", "flr", "af_flr", "pm", "bus", "cxl_bus",
};

int
fakesys_reset_method_from_name(const char *name)
{
    for (gsize i = 1; i < G_N_ELEMENTS(reset_method_names); i++)
        if (strcmp(name, reset_method_names[i]) == 0)
            return (int)i;
    return 0;
}

const char *
fakesys_reset_method_name(int method)
{
    if (method <= 0 || (gsize)method >= G_N_ELEMENTS(reset_method_names))
        return "?";
    return reset_method_names[method];
}

static void
driver_free(FakesysDriver *drv)
{
    g_free(drv->name);
    g_array_unref(drv->dynids);
    g_free(drv);
}

void
fakesys_device_free(FakesysDevice *dev)
{
    if (!dev)
        return;
    g_free(dev->bdf);
    g_free(dev->bus_dir);
    g_free(dev->driver_override);
    g_free(dev->block_name);
    g_free(dev->block_dev);
    g_ptr_array_unref(dev->bind_fail);
    g_free(dev);
}

void
fakesys_numa_node_free(FakesysNumaNode *node)
{
    if (!node)
        return;
    if (node->cpus)
        g_array_unref(node->cpus);
    g_ptr_array_unref(node->pools);
    g_free(node);
}

FakesysMachine *
fakesys_machine_new(void)
{
    FakesysMachine *m = g_new0(FakesysMachine, 1);

    g_mutex_init(&m->lock);
    g_cond_init(&m->cond);
    m->devices = g_ptr_array_new_with_free_func((GDestroyNotify)fakesys_device_free);
    m->drivers = g_ptr_array_new_with_free_func((GDestroyNotify)driver_free);
    m->nodes = g_ptr_array_new_with_free_func((GDestroyNotify)fakesys_numa_node_free);
    m->groups = g_array_new(FALSE, FALSE, sizeof(int));
    m->log = fakesys_event_log_new();
    atomic_init(&m->stopping, 0);
    return m;
}

void
fakesys_machine_free(FakesysMachine *m)
{
    if (!m)
        return;
    g_ptr_array_unref(m->devices);
    g_ptr_array_unref(m->drivers);
    g_ptr_array_unref(m->nodes);
    g_array_unref(m->groups);
    fakesys_event_log_free(m->log);
    g_cond_clear(&m->cond);
    g_mutex_clear(&m->lock);
    g_free(m);
}

FakesysDriver *
fakesys_machine_find_driver(FakesysMachine *m, const char *name)
{
    for (guint i = 0; i < m->drivers->len; i++) {
        FakesysDriver *drv = m->drivers->pdata[i];
        if (strcmp(drv->name, name) == 0)
            return drv;
    }
    return NULL;
}

FakesysDriver *
fakesys_machine_add_driver(FakesysMachine *m, const char *name)
{
    FakesysDriver *drv = fakesys_machine_find_driver(m, name);

    if (drv)
        return drv;
    drv = g_new0(FakesysDriver, 1);
    drv->name = g_strdup(name);
    drv->dynids = g_array_new(FALSE, FALSE, sizeof(FakesysPciId));
    g_ptr_array_add(m->drivers, drv);
    return drv;
}

FakesysDevice *
fakesys_machine_find_device(FakesysMachine *m, const char *bdf)
{
    for (guint i = 0; i < m->devices->len; i++) {
        FakesysDevice *dev = m->devices->pdata[i];
        if (strcmp(dev->bdf, bdf) == 0)
            return dev;
    }
    return NULL;
}

/* Kernel bus_find_device_by_name(): what userspace writes to bind, unbind
 * and drivers_probe, compared with sysfs_streq(). */
static FakesysDevice *
find_device_by_name(FakesysMachine *m, const char *buf)
{
    for (guint i = 0; i < m->devices->len; i++) {
        FakesysDevice *dev = m->devices->pdata[i];
        if (fakesys_sysfs_streq(dev->bdf, buf))
            return dev;
    }
    return NULL;
}

FakesysNumaNode *
fakesys_machine_find_node(FakesysMachine *m, int id)
{
    for (guint i = 0; i < m->nodes->len; i++) {
        FakesysNumaNode *node = m->nodes->pdata[i];
        if (node->id == id)
            return node;
    }
    return NULL;
}

void
fakesys_machine_stop(FakesysMachine *m)
{
    atomic_store(&m->stopping, 1);
}

gboolean
fakesys_machine_stopping(FakesysMachine *m)
{
    return atomic_load(&m->stopping) != 0;
}

static gboolean
caller_interrupted(const FakesysCaller *caller)
{
    return caller && caller->interrupted && caller->interrupted(caller->data);
}

/* Kernel device_lock(), with m->lock held. The wait has no deadline (the
 * holder may be a hung reset), so it also ends on shutdown or when the
 * writer is signalled; the real kernel would leave it in D state. */
static int
device_lock(FakesysMachine *m, FakesysDevice *dev, const FakesysCaller *caller)
{
    while (dev->locked) {
        if (fakesys_machine_stopping(m))
            return -ENODEV;
        if (caller_interrupted(caller))
            return -EINTR;
        g_cond_wait_until(&m->cond, &m->lock, g_get_monotonic_time() + WAIT_SLICE_US);
    }
    dev->locked = TRUE;
    return 0;
}

static void
device_unlock(FakesysMachine *m, FakesysDevice *dev)
{
    dev->locked = FALSE;
    g_cond_broadcast(&m->cond);
}

/* Emulated hardware time, spent with m->lock released so other devices
 * proceed meanwhile. A finite delay is uninterruptible like the kernel's,
 * except by shutdown; a hang (forever) also ends when the writer is
 * signalled, so a test can always clean up. */
static int
spend_time(FakesysMachine *m, gint64 us, gboolean forever, const FakesysCaller *caller)
{
    gint64 deadline = g_get_monotonic_time() + us;
    int r = 0;

    if (!forever && us <= 0)
        return 0;
    g_mutex_unlock(&m->lock);
    for (;;) {
        gint64 now;

        if (fakesys_machine_stopping(m)) {
            r = -ENODEV;
            break;
        }
        if (forever && caller_interrupted(caller)) {
            r = -EINTR;
            break;
        }
        now = g_get_monotonic_time();
        if (!forever && now >= deadline)
            break;
        g_usleep(forever ? WAIT_SLICE_US : MIN(deadline - now, WAIT_SLICE_US));
    }
    g_mutex_lock(&m->lock);
    return r;
}

static const char *
result_name(int r, char **to_free)
{
    if (r == 0)
        return "ok";
    *to_free = fakesys_errno_to_name(r);
    return *to_free;
}

static gboolean
id_matches(const FakesysPciId *id, guint32 vendor, guint32 device, guint32 subvendor,
           guint32 subdevice, guint32 class_code)
{
    /* Kernel pci_match_one_device(). */
    return (id->vendor == FAKESYS_PCI_ANY_ID || id->vendor == vendor) &&
           (id->device == FAKESYS_PCI_ANY_ID || id->device == device) &&
           (id->subvendor == FAKESYS_PCI_ANY_ID || id->subvendor == subvendor) &&
           (id->subdevice == FAKESYS_PCI_ANY_ID || id->subdevice == subdevice) &&
           !((id->class_code ^ class_code) & id->class_mask);
}

/* The native driver's static id table, emulated as "the ids of every
 * device in the topology whose native driver it is". */
static gboolean
static_table_matches(FakesysMachine *m, FakesysDriver *drv, guint32 vendor, guint32 device)
{
    for (guint i = 0; i < m->devices->len; i++) {
        FakesysDevice *d = m->devices->pdata[i];
        if (d->native == drv && d->vendor == vendor && d->device == device)
            return TRUE;
    }
    return FALSE;
}

static gboolean
dynids_match(FakesysDriver *drv, guint32 vendor, guint32 device, guint32 subvendor,
             guint32 subdevice, guint32 class_code)
{
    for (guint i = 0; i < drv->dynids->len; i++)
        if (id_matches(&g_array_index(drv->dynids, FakesysPciId, i), vendor, device, subvendor,
                       subdevice, class_code))
            return TRUE;
    return FALSE;
}

/* Kernel pci_match_device(): driver_override, when set, is the only
 * driver that matches; otherwise dynamic ids, then the static table. */
static gboolean
driver_matches(FakesysDriver *drv, FakesysDevice *dev)
{
    if (dev->driver_override)
        return strcmp(dev->driver_override, drv->name) == 0;
    if (dynids_match(drv, dev->vendor, dev->device, dev->subsystem_vendor, dev->subsystem_device,
                     dev->class_code))
        return TRUE;
    return dev->native == drv;
}

/* The driver's probe(). Device lock held, device unbound. vfio-pci's real
 * probe refuses non-endpoint functions and devices without an IOMMU group
 * (vfio_pci_probe, vfio_iommu_group_get); the rest is fault injection. */
static int
probe(FakesysMachine *m, FakesysDevice *dev, FakesysDriver *drv, const FakesysCaller *caller)
{
    g_autofree char *to_free = NULL;
    int r = 0, delay_r;

    if (strcmp(drv->name, "vfio-pci") == 0 && (dev->bridge || dev->iommu_group < 0))
        r = -EINVAL;
    else if (g_ptr_array_find(dev->bind_fail, drv, NULL))
        r = -dev->bind_fail_err;

    delay_r = spend_time(m, dev->bind_us, FALSE, caller);
    if (delay_r < 0)
        r = delay_r;
    if (r == 0)
        dev->driver = drv;
    fakesys_event_log_add(m->log, "bind", dev->bdf, "driver=%s result=%s", drv->name,
                          result_name(r, &to_free));
    return r;
}

/* Kernel device_release_driver(). Device lock held. */
static int
release(FakesysMachine *m, FakesysDevice *dev, const FakesysCaller *caller)
{
    g_autofree char *to_free = NULL;
    FakesysDriver *drv = dev->driver;
    int r;

    if (dev->unbind_fault.kind == FAKESYS_FAULT_HANG)
        r = spend_time(m, 0, TRUE, caller);
    else
        r = spend_time(m, dev->unbind_us, FALSE, caller);
    if (r == 0)
        dev->driver = NULL;
    fakesys_event_log_add(m->log, "unbind", dev->bdf, "driver=%s result=%s", drv->name,
                          result_name(r, &to_free));
    return r;
}

/* Kernel bind_store() + device_driver_attach(). */
gssize
fakesys_machine_bind(FakesysMachine *m, FakesysDriver *drv, const char *buf, gsize count,
                     const FakesysCaller *caller)
{
    FakesysDevice *dev;
    int r;

    g_mutex_lock(&m->lock);
    dev = find_device_by_name(m, buf);
    if (!dev || !driver_matches(drv, dev)) {
        r = -ENODEV;
        goto out;
    }
    r = device_lock(m, dev, caller);
    if (r < 0)
        goto out;
    if (dev->driver)
        r = -EBUSY;
    else
        r = probe(m, dev, drv, caller);
    device_unlock(m, dev);
out:
    g_mutex_unlock(&m->lock);
    return r < 0 ? r : (gssize)count;
}

/* Kernel unbind_store(): only the driver the device is bound to can
 * unbind it. */
gssize
fakesys_machine_unbind(FakesysMachine *m, FakesysDriver *drv, const char *buf, gsize count,
                       const FakesysCaller *caller)
{
    FakesysDevice *dev;
    int r;

    g_mutex_lock(&m->lock);
    dev = find_device_by_name(m, buf);
    if (!dev || dev->driver != drv) {
        r = -ENODEV;
        goto out;
    }
    r = device_lock(m, dev, caller);
    if (r < 0)
        goto out;
    /* Someone may have unbound it while we waited; that is success. */
    if (dev->driver == drv)
        r = release(m, dev, caller);
    device_unlock(m, dev);
out:
    g_mutex_unlock(&m->lock);
    return r < 0 ? r : (gssize)count;
}

/* Kernel device_attach() on an unbound device: try every matching driver
 * in registration order. Probe errors are not returned, so the next
 * driver gets its chance (__device_attach_driver). Device lock held.
 * Returns the last probe error, or a wait error that aborted the walk. */
static int
attach_first_matching(FakesysMachine *m, FakesysDevice *dev, const FakesysCaller *caller,
                      int *last_probe_err)
{
    for (guint i = 0; i < m->drivers->len && !dev->driver; i++) {
        FakesysDriver *drv = m->drivers->pdata[i];
        int r;

        if (!driver_matches(drv, dev))
            continue;
        r = probe(m, dev, drv, caller);
        if (fakesys_machine_stopping(m))
            return -ENODEV;
        if (r < 0)
            *last_probe_err = r;
    }
    return 0;
}

/* Kernel drivers_probe_store() -> bus_rescan_devices_helper(): a bound
 * device is left alone; a failed probe still returns success unless the
 * topology asks for drivers_probe_errors. */
gssize
fakesys_machine_drivers_probe(FakesysMachine *m, const char *buf, gsize count,
                              const FakesysCaller *caller)
{
    FakesysDevice *dev;
    int r, probe_err = 0;

    g_mutex_lock(&m->lock);
    dev = find_device_by_name(m, buf);
    if (!dev) {
        r = -ENODEV;
        goto out;
    }
    r = device_lock(m, dev, caller);
    if (r < 0)
        goto out;
    if (!dev->driver)
        r = attach_first_matching(m, dev, caller, &probe_err);
    if (r == 0 && !dev->driver && probe_err < 0 && m->drivers_probe_reports_errors)
        r = probe_err;
    device_unlock(m, dev);
out:
    g_mutex_unlock(&m->lock);
    return r < 0 ? r : (gssize)count;
}

/* new_id/remove_id take "vendor device [subvendor subdevice class
 * class_mask [driver_data]]" in hex, like the kernel's sscanf. */
static int
parse_pci_id(const char *buf, FakesysPciId *id, unsigned long *driver_data)
{
    unsigned int f[6] = {0, 0, FAKESYS_PCI_ANY_ID, FAKESYS_PCI_ANY_ID, 0, 0};
    int fields;

    *driver_data = 0;
    fields =
        sscanf(buf, "%x %x %x %x %x %x %lx", &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], driver_data);
    if (fields < 2)
        return -EINVAL;
    *id = (FakesysPciId){f[0], f[1], f[2], f[3], f[4], f[5]};
    return fields;
}

/* Kernel new_id_store() -> pci_add_dynid() -> driver_attach(). */
gssize
fakesys_machine_new_id(FakesysMachine *m, FakesysDriver *drv, const char *buf, gsize count,
                       const FakesysCaller *caller)
{
    FakesysPciId id;
    unsigned long driver_data;
    int fields = parse_pci_id(buf, &id, &driver_data);
    int r = 0;

    if (fields < 0)
        return fields;
    /* The emulated drivers have no driver_data in their tables. */
    if (fields == 7 && driver_data != 0)
        return -EINVAL;

    g_mutex_lock(&m->lock);
    if (fields != 7 &&
        (dynids_match(drv, id.vendor, id.device, id.subvendor, id.subdevice, id.class_code) ||
         static_table_matches(m, drv, id.vendor, id.device))) {
        r = -EEXIST;
        goto out;
    }
    g_array_append_val(drv->dynids, id);
    fakesys_event_log_add(m->log, "new_id", drv->name, "id=%04x:%04x", id.vendor, id.device);

    for (guint i = 0; i < m->devices->len && r == 0; i++) {
        FakesysDevice *dev = m->devices->pdata[i];

        if (dev->driver || !driver_matches(drv, dev))
            continue;
        r = device_lock(m, dev, caller);
        if (r < 0)
            break;
        if (!dev->driver && driver_matches(drv, dev)) {
            /* __driver_attach() ignores probe errors. */
            (void)probe(m, dev, drv, caller);
            if (fakesys_machine_stopping(m))
                r = -ENODEV;
        }
        device_unlock(m, dev);
    }
out:
    g_mutex_unlock(&m->lock);
    return r < 0 ? r : (gssize)count;
}

/* Kernel remove_id_store(): removes the exact id; does not unbind. */
gssize
fakesys_machine_remove_id(FakesysMachine *m, FakesysDriver *drv, const char *buf, gsize count)
{
    FakesysPciId id;
    unsigned long driver_data;
    int fields = parse_pci_id(buf, &id, &driver_data);
    int r = -ENODEV;

    if (fields < 0)
        return fields;
    g_mutex_lock(&m->lock);
    for (guint i = 0; i < drv->dynids->len; i++) {
        FakesysPciId *have = &g_array_index(drv->dynids, FakesysPciId, i);
        if (have->vendor == id.vendor && have->device == id.device &&
            have->subvendor == id.subvendor && have->subdevice == id.subdevice &&
            have->class_code == id.class_code && have->class_mask == id.class_mask) {
            g_array_remove_index(drv->dynids, i);
            r = 0;
            break;
        }
    }
    g_mutex_unlock(&m->lock);
    return r < 0 ? r : (gssize)count;
}

/* Kernel driver_override_store() -> driver_set_override(): the value ends
 * at the first newline; "" or "\n" clears it. */
gssize
fakesys_machine_store_driver_override(FakesysMachine *m, FakesysDevice *dev, const char *buf,
                                      gsize count, const FakesysCaller *caller)
{
    g_autofree char *value = NULL;
    gsize len;
    const char *nl;
    int r;

    if (count >= 4096 - 1)
        return -EINVAL;
    /* Userspace may send a run of NULs (Python does); strlen is the length. */
    len = strlen(buf);
    nl = memchr(buf, '\n', len);
    if (nl)
        len = (gsize)(nl - buf);
    if (len > 0)
        value = g_strndup(buf, len);

    g_mutex_lock(&m->lock);
    r = device_lock(m, dev, caller);
    if (r == 0) {
        g_free(dev->driver_override);
        dev->driver_override = g_steal_pointer(&value);
        fakesys_event_log_add(m->log, "driver_override", dev->bdf, "value=%s",
                              dev->driver_override ? dev->driver_override : "(null)");
        device_unlock(m, dev);
    }
    g_mutex_unlock(&m->lock);
    return r < 0 ? r : (gssize)count;
}

int
fakesys_machine_show_driver_override(FakesysMachine *m, FakesysDevice *dev, GString *out,
                                     const FakesysCaller *caller)
{
    int r;

    /* The kernel's show takes device_lock() too, so it waits for a reset. */
    g_mutex_lock(&m->lock);
    r = device_lock(m, dev, caller);
    if (r == 0) {
        g_string_append_printf(out, "%s\n", dev->driver_override ? dev->driver_override : "(null)");
        device_unlock(m, dev);
    }
    g_mutex_unlock(&m->lock);
    return r;
}

static gboolean
method_supported(const FakesysDevice *dev, int method)
{
    for (int i = 0; i < FAKESYS_MAX_RESET_METHODS && dev->supported_resets[i]; i++)
        if (dev->supported_resets[i] == method)
            return TRUE;
    return FALSE;
}

/* Kernel reset_method_store(): "" disables every method, "default"
 * restores the probed list, otherwise a space-separated subset in the
 * order to try; one unknown or unsupported name rejects the whole write. */
gssize
fakesys_machine_store_reset_method(FakesysMachine *m, FakesysDevice *dev, const char *buf,
                                   gsize count)
{
    guint8 methods[FAKESYS_MAX_RESET_METHODS] = {0};
    g_auto(GStrv) names = NULL;
    int n = 0;

    if (fakesys_sysfs_streq(buf, "")) {
        g_mutex_lock(&m->lock);
        memset(dev->reset_methods, 0, sizeof dev->reset_methods);
        g_mutex_unlock(&m->lock);
        return (gssize)count;
    }
    if (fakesys_sysfs_streq(buf, "default")) {
        g_mutex_lock(&m->lock);
        memcpy(dev->reset_methods, dev->supported_resets, sizeof dev->reset_methods);
        g_mutex_unlock(&m->lock);
        return (gssize)count;
    }

    names = g_strsplit(buf, " ", -1);
    for (int i = 0; names[i]; i++) {
        char *name = g_strstrip(names[i]);
        int method;

        if (!*name)
            continue;
        method = fakesys_reset_method_from_name(name);
        if (!method || !method_supported(dev, method) || n == FAKESYS_MAX_RESET_METHODS - 1)
            return -EINVAL;
        methods[n++] = (guint8)method;
    }
    g_mutex_lock(&m->lock);
    memcpy(dev->reset_methods, methods, sizeof dev->reset_methods);
    g_mutex_unlock(&m->lock);
    return (gssize)count;
}

void
fakesys_machine_show_reset_method(FakesysMachine *m, FakesysDevice *dev, GString *out)
{
    gsize start = out->len;

    g_mutex_lock(&m->lock);
    for (int i = 0; i < FAKESYS_MAX_RESET_METHODS && dev->reset_methods[i]; i++)
        g_string_append_printf(out, "%s%s", out->len > start ? " " : "",
                               fakesys_reset_method_name(dev->reset_methods[i]));
    g_mutex_unlock(&m->lock);
    /* The kernel prints nothing at all, not even a newline, when empty. */
    if (out->len > start)
        g_string_append_c(out, '\n');
}

/* Kernel reset_store() -> pci_reset_function(): only "1" is accepted;
 * ENOTTY when every method is disabled; the device lock is held for the
 * whole reset, so the same device's bind/unbind/driver_override wait. */
gssize
fakesys_machine_reset(FakesysMachine *m, FakesysDevice *dev, const char *buf, gsize count,
                      const FakesysCaller *caller)
{
    g_autofree char *to_free = NULL;
    unsigned long val;
    FakesysFault fault = {FAKESYS_FAULT_NONE, 0};
    int r;

    if (fakesys_kstrtoul(buf, 0, &val) < 0 || val != 1)
        return -EINVAL;

    g_mutex_lock(&m->lock);
    if (!dev->reset_methods[0]) {
        r = -ENOTTY;
        goto out;
    }
    r = device_lock(m, dev, caller);
    if (r < 0)
        goto out;
    dev->reset_count++;
    if (dev->reset_count > dev->reset_fault_after)
        fault = dev->reset_fault;
    fakesys_event_log_add(m->log, "reset-start", dev->bdf, "method=%s",
                          fakesys_reset_method_name(dev->reset_methods[0]));
    if (fault.kind == FAKESYS_FAULT_HANG)
        r = spend_time(m, 0, TRUE, caller);
    else {
        r = spend_time(m, dev->reset_us, FALSE, caller);
        if (r == 0 && fault.kind == FAKESYS_FAULT_ERRNO)
            r = -fault.err;
    }
    fakesys_event_log_add(m->log, "reset-end", dev->bdf, "result=%s", result_name(r, &to_free));
    device_unlock(m, dev);
out:
    g_mutex_unlock(&m->lock);
    return r < 0 ? r : (gssize)count;
}

/* Kernel numa_node_store(): -1 or an online node. Without a nodes section
 * the machine is not NUMA and only node 0 is online. */
gssize
fakesys_machine_store_numa_node(FakesysMachine *m, FakesysDevice *dev, const char *buf, gsize count)
{
    int node, r;

    r = fakesys_kstrtoint(buf, 0, &node);
    if (r < 0)
        return r;
    if (node < -1)
        return -EINVAL;
    if (node != -1 && (m->nodes->len ? !fakesys_machine_find_node(m, node) : node != 0))
        return -EINVAL;
    g_mutex_lock(&m->lock);
    dev->numa_node = node;
    g_mutex_unlock(&m->lock);
    return (gssize)count;
}

guint64
fakesys_numa_node_free_kb(const FakesysNumaNode *node)
{
    guint64 used = 0;

    for (guint i = 0; i < node->pools->len; i++) {
        const FakesysHugepool *pool = node->pools->pdata[i];
        used += pool->nr * pool->size_kb;
    }
    return used >= node->memory_kb ? 0 : node->memory_kb - used;
}

/* Kernel __nr_hugepages_store_common(): decimal only; asking for more than
 * fits is not an error, the pool just stops growing (read it back). */
gssize
fakesys_machine_store_nr_hugepages(FakesysMachine *m, FakesysNumaNode *node, FakesysHugepool *pool,
                                   const char *buf, gsize count)
{
    g_autofree char *subject = g_strdup_printf("node%d", node->id);
    unsigned long want;
    guint64 fits;

    if (fakesys_kstrtoul(buf, 10, &want) < 0)
        return -EINVAL;
    g_mutex_lock(&m->lock);
    fits = pool->nr + fakesys_numa_node_free_kb(node) / pool->size_kb;
    pool->nr = MIN((guint64)want, fits);
    fakesys_event_log_add(m->log, "nr_hugepages", subject,
                          "size_kb=%" G_GUINT64_FORMAT " want=%lu got=%" G_GUINT64_FORMAT,
                          pool->size_kb, want, pool->nr);
    g_mutex_unlock(&m->lock);
    return (gssize)count;
}
