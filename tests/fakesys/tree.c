/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tree.c - layout of the emulated /sys and the attribute tables.
 *
 * Devices live flat under devices/pci<DDDD:BB>/<BDF> rather than nested
 * under their bridges, so every relative link target has a fixed depth
 * (from a device directory: "../../../bus/pci/drivers/vfio-pci") while
 * keeping the kernel's shape. */
#include "tree.h"

#include "sysfs-util.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

typedef int (*ShowFn)(FakesysMachine *m, const FakesysNode *n, GString *out,
                      const FakesysCaller *caller);
typedef gssize (*StoreFn)(FakesysMachine *m, const FakesysNode *n, const char *buf, gsize count,
                          const FakesysCaller *caller);
typedef gboolean (*VisibleFn)(FakesysMachine *m, const FakesysNode *n);

struct FakesysAttr {
    const char *name;
    mode_t mode;
    ShowFn show;
    StoreFn store;
    VisibleFn visible; /* NULL: always there */
};

void
fakesys_node_clear(FakesysNode *n)
{
    g_clear_pointer(&n->name, g_free);
    g_clear_pointer(&n->link_target, g_free);
}

/* ---- device attributes ------------------------------------------------ */

static int
show_vendor(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    (void)m, (void)c;
    g_string_append_printf(out, "0x%04x\n", n->dev->vendor);
    return 0;
}

static int
show_device(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    (void)m, (void)c;
    g_string_append_printf(out, "0x%04x\n", n->dev->device);
    return 0;
}

static int
show_subsystem_vendor(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    (void)m, (void)c;
    g_string_append_printf(out, "0x%04x\n", n->dev->subsystem_vendor);
    return 0;
}

static int
show_subsystem_device(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    (void)m, (void)c;
    g_string_append_printf(out, "0x%04x\n", n->dev->subsystem_device);
    return 0;
}

static int
show_class(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    (void)m, (void)c;
    g_string_append_printf(out, "0x%06x\n", n->dev->class_code);
    return 0;
}

static int
show_revision(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    (void)m, (void)c;
    g_string_append_printf(out, "0x%02x\n", n->dev->revision);
    return 0;
}

static int
show_numa_node(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    (void)c;
    g_mutex_lock(&m->lock);
    g_string_append_printf(out, "%d\n", n->dev->numa_node);
    g_mutex_unlock(&m->lock);
    return 0;
}

static gssize
store_numa_node(FakesysMachine *m, const FakesysNode *n, const char *buf, gsize count,
                const FakesysCaller *c)
{
    (void)c;
    return fakesys_machine_store_numa_node(m, n->dev, buf, count);
}

static gboolean
have_nodes(FakesysMachine *m, const FakesysNode *n)
{
    (void)n;
    return m->nodes->len > 0;
}

/* Kernel local_cpulist: the CPUs of the device's node, or every CPU when
 * the device has none (numa_node -1). */
static int
show_local_cpulist(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    g_autoptr(GArray) cpus = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autofree char *text = NULL;
    FakesysNumaNode *node;

    (void)c;
    g_mutex_lock(&m->lock);
    node = fakesys_machine_find_node(m, n->dev->numa_node);
    g_mutex_unlock(&m->lock);
    if (node)
        g_array_append_vals(cpus, node->cpus->data, node->cpus->len);
    else {
        for (guint i = 0; i < m->nodes->len; i++) {
            FakesysNumaNode *each = m->nodes->pdata[i];
            g_array_append_vals(cpus, each->cpus->data, each->cpus->len);
        }
    }
    text = fakesys_cpulist_format(cpus);
    g_string_append_printf(out, "%s\n", text);
    return 0;
}

static int
show_driver_override(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    return fakesys_machine_show_driver_override(m, n->dev, out, c);
}

static gssize
store_driver_override(FakesysMachine *m, const FakesysNode *n, const char *buf, gsize count,
                      const FakesysCaller *c)
{
    return fakesys_machine_store_driver_override(m, n->dev, buf, count, c);
}

/* The kernel creates reset and reset_method only for a device with at
 * least one reset method; disabling them all later keeps the files. */
static gboolean
can_reset(FakesysMachine *m, const FakesysNode *n)
{
    (void)m;
    return n->dev->supported_resets[0] != 0;
}

static int
show_reset_method(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    (void)c;
    fakesys_machine_show_reset_method(m, n->dev, out);
    return 0;
}

static gssize
store_reset_method(FakesysMachine *m, const FakesysNode *n, const char *buf, gsize count,
                   const FakesysCaller *c)
{
    (void)c;
    return fakesys_machine_store_reset_method(m, n->dev, buf, count);
}

static gssize
store_reset(FakesysMachine *m, const FakesysNode *n, const char *buf, gsize count,
            const FakesysCaller *c)
{
    return fakesys_machine_reset(m, n->dev, buf, count, c);
}

static int
show_reset_count(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    (void)c;
    g_mutex_lock(&m->lock);
    g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n", n->dev->reset_count);
    g_mutex_unlock(&m->lock);
    return 0;
}

/* The disk's dev: the number the host's mount table names it by. */
static int
show_block_dev(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    (void)m, (void)c;
    g_string_append_printf(out, "%s\n", n->dev->block_dev);
    return 0;
}

static const FakesysAttr block_attrs[] = {
    {"dev", 0444, show_block_dev, NULL, NULL},
};

static const FakesysAttr device_attrs[] = {
    {"vendor", 0444, show_vendor, NULL, NULL},
    {"device", 0444, show_device, NULL, NULL},
    {"subsystem_vendor", 0444, show_subsystem_vendor, NULL, NULL},
    {"subsystem_device", 0444, show_subsystem_device, NULL, NULL},
    {"class", 0444, show_class, NULL, NULL},
    {"revision", 0444, show_revision, NULL, NULL},
    {"numa_node", 0644, show_numa_node, store_numa_node, NULL},
    {"local_cpulist", 0444, show_local_cpulist, NULL, have_nodes},
    {"driver_override", 0644, show_driver_override, store_driver_override, NULL},
    {"reset_method", 0644, show_reset_method, store_reset_method, can_reset},
    {"reset", 0200, NULL, store_reset, can_reset},
    /* Emulator only: resets started on this device, failed ones included. */
    {"fakesys_reset_count", 0444, show_reset_count, NULL, NULL},
};

/* ---- driver and bus attributes ----------------------------------------- */

static gssize
store_bind(FakesysMachine *m, const FakesysNode *n, const char *buf, gsize count,
           const FakesysCaller *c)
{
    return fakesys_machine_bind(m, n->drv, buf, count, c);
}

static gssize
store_unbind(FakesysMachine *m, const FakesysNode *n, const char *buf, gsize count,
             const FakesysCaller *c)
{
    return fakesys_machine_unbind(m, n->drv, buf, count, c);
}

static gssize
store_new_id(FakesysMachine *m, const FakesysNode *n, const char *buf, gsize count,
             const FakesysCaller *c)
{
    return fakesys_machine_new_id(m, n->drv, buf, count, c);
}

static gssize
store_remove_id(FakesysMachine *m, const FakesysNode *n, const char *buf, gsize count,
                const FakesysCaller *c)
{
    (void)c;
    return fakesys_machine_remove_id(m, n->drv, buf, count);
}

static const FakesysAttr driver_attrs[] = {
    {"bind", 0200, NULL, store_bind, NULL},
    {"unbind", 0200, NULL, store_unbind, NULL},
    {"new_id", 0200, NULL, store_new_id, NULL},
    {"remove_id", 0200, NULL, store_remove_id, NULL},
};

static gssize
store_drivers_probe(FakesysMachine *m, const FakesysNode *n, const char *buf, gsize count,
                    const FakesysCaller *c)
{
    (void)n;
    return fakesys_machine_drivers_probe(m, buf, count, c);
}

static const FakesysAttr bus_pci_attrs[] = {
    {"drivers_probe", 0200, NULL, store_drivers_probe, NULL},
};

/* Emulator only. Reads and truncation are special-cased by the FUSE layer
 * (fakesys_node_is_log); a write appends a "mark" line, handy to label
 * phases of a benchmark. */
static gssize
store_log_mark(FakesysMachine *m, const FakesysNode *n, const char *buf, gsize count,
               const FakesysCaller *c)
{
    g_autofree char *text = g_strndup(buf, strcspn(buf, "\n"));

    (void)n, (void)c;
    fakesys_event_log_add(m->log, "mark", "-", "%s", text);
    return (gssize)count;
}

static const FakesysAttr root_attrs[] = {
    {"fakesys.log", 0644, NULL, store_log_mark, NULL},
};

/* ---- NUMA nodes --------------------------------------------------------- */

static int
show_node_ids(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autofree char *text = NULL;

    (void)n, (void)c;
    for (guint i = 0; i < m->nodes->len; i++) {
        guint id = (guint)((FakesysNumaNode *)m->nodes->pdata[i])->id;
        g_array_append_val(ids, id);
    }
    text = fakesys_cpulist_format(ids);
    g_string_append_printf(out, "%s\n", text);
    return 0;
}

static const FakesysAttr node_root_attrs[] = {
    {"online", 0444, show_node_ids, NULL, NULL},
    {"possible", 0444, show_node_ids, NULL, NULL},
};

static int
show_node_cpulist(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    g_autofree char *text = fakesys_cpulist_format(n->node->cpus);

    (void)m, (void)c;
    g_string_append_printf(out, "%s\n", text);
    return 0;
}

/* The lines of the kernel's node meminfo that matter for hugepages;
 * HugePages_* describe the default (smallest) size, as in the kernel. */
static int
show_node_meminfo(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    const FakesysNumaNode *node = n->node;
    guint64 free_kb, total = 0;

    (void)c;
    g_mutex_lock(&m->lock);
    free_kb = fakesys_numa_node_free_kb(node);
    if (node->pools->len)
        total = ((FakesysHugepool *)node->pools->pdata[0])->nr;
    g_mutex_unlock(&m->lock);
    g_string_append_printf(out,
                           "Node %d MemTotal:       %8" G_GUINT64_FORMAT " kB\n"
                           "Node %d MemFree:        %8" G_GUINT64_FORMAT " kB\n"
                           "Node %d MemUsed:        %8" G_GUINT64_FORMAT " kB\n"
                           "Node %d HugePages_Total: %5" G_GUINT64_FORMAT "\n"
                           "Node %d HugePages_Free:  %5" G_GUINT64_FORMAT "\n"
                           "Node %d HugePages_Surp:  %5u\n",
                           node->id, node->memory_kb, node->id, free_kb, node->id,
                           node->memory_kb - free_kb, node->id, total, node->id, total, node->id,
                           0u);
    return 0;
}

static const FakesysAttr numa_node_attrs[] = {
    {"cpulist", 0444, show_node_cpulist, NULL, NULL},
    {"meminfo", 0444, show_node_meminfo, NULL, NULL},
};

static int
show_nr_hugepages(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    (void)c;
    g_mutex_lock(&m->lock);
    g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n", n->pool->nr);
    g_mutex_unlock(&m->lock);
    return 0;
}

static gssize
store_nr_hugepages(FakesysMachine *m, const FakesysNode *n, const char *buf, gsize count,
                   const FakesysCaller *c)
{
    (void)c;
    return fakesys_machine_store_nr_hugepages(m, n->node, n->pool, buf, count);
}

static int
show_zero(FakesysMachine *m, const FakesysNode *n, GString *out, const FakesysCaller *c)
{
    (void)m, (void)n, (void)c;
    g_string_append(out, "0\n");
    return 0;
}

/* Nothing consumes emulated hugepages, so all of them are free. */
static const FakesysAttr hugepool_attrs[] = {
    {"nr_hugepages", 0644, show_nr_hugepages, store_nr_hugepages, NULL},
    {"free_hugepages", 0444, show_nr_hugepages, NULL, NULL},
    {"surplus_hugepages", 0444, show_zero, NULL, NULL},
};

/* ---- directory listings ------------------------------------------------ */

static FakesysNode *
add_child(GArray *out, const FakesysNode *parent, FakesysNodeType type, char *name)
{
    FakesysNode child = *parent;

    child.name = name;
    child.type = type;
    child.attr = NULL;
    child.link_target = NULL;
    g_array_append_val(out, child);
    return &g_array_index(out, FakesysNode, out->len - 1);
}

static FakesysNode *
add_dir(GArray *out, const FakesysNode *parent, FakesysDirKind kind, char *name)
{
    FakesysNode *child = add_child(out, parent, FAKESYS_NODE_DIR, name);
    child->dir = kind;
    return child;
}

static void
add_link(GArray *out, const FakesysNode *parent, char *name, char *target)
{
    FakesysNode *child = add_child(out, parent, FAKESYS_NODE_LINK, name);
    child->link_target = target;
}

static void
add_attrs(FakesysMachine *m, GArray *out, const FakesysNode *parent, const FakesysAttr *attrs,
          gsize n_attrs)
{
    for (gsize i = 0; i < n_attrs; i++)
        if (!attrs[i].visible || attrs[i].visible(m, parent))
            add_child(out, parent, FAKESYS_NODE_FILE, g_strdup(attrs[i].name))->attr = &attrs[i];
}

static char *
device_path_from(const char *up, const FakesysDevice *dev)
{
    return g_strdup_printf("%sdevices/%s/%s", up, dev->bus_dir, dev->bdf);
}

/* machine->lock held: visibility depends on bindings. */
static void
list_children(FakesysMachine *m, const FakesysNode *dir, GArray *out)
{
    switch (dir->dir) {
    case FAKESYS_DIR_ROOT:
        add_dir(out, dir, FAKESYS_DIR_BUS, g_strdup("bus"));
        add_dir(out, dir, FAKESYS_DIR_DEVICES, g_strdup("devices"));
        add_dir(out, dir, FAKESYS_DIR_KERNEL, g_strdup("kernel"));
        add_attrs(m, out, dir, root_attrs, G_N_ELEMENTS(root_attrs));
        break;
    case FAKESYS_DIR_BUS:
        add_dir(out, dir, FAKESYS_DIR_BUS_PCI, g_strdup("pci"));
        break;
    case FAKESYS_DIR_BUS_PCI:
        add_dir(out, dir, FAKESYS_DIR_PCI_DEVICES, g_strdup("devices"));
        add_dir(out, dir, FAKESYS_DIR_PCI_DRIVERS, g_strdup("drivers"));
        add_attrs(m, out, dir, bus_pci_attrs, G_N_ELEMENTS(bus_pci_attrs));
        break;
    case FAKESYS_DIR_PCI_DEVICES:
        for (guint i = 0; i < m->devices->len; i++) {
            FakesysDevice *dev = m->devices->pdata[i];
            add_link(out, dir, g_strdup(dev->bdf), device_path_from("../../../", dev));
        }
        break;
    case FAKESYS_DIR_PCI_DRIVERS:
        for (guint i = 0; i < m->drivers->len; i++) {
            FakesysDriver *drv = m->drivers->pdata[i];
            add_dir(out, dir, FAKESYS_DIR_DRIVER, g_strdup(drv->name))->drv = drv;
        }
        break;
    case FAKESYS_DIR_DRIVER:
        add_attrs(m, out, dir, driver_attrs, G_N_ELEMENTS(driver_attrs));
        for (guint i = 0; i < m->devices->len; i++) {
            FakesysDevice *dev = m->devices->pdata[i];
            if (dev->driver == dir->drv)
                add_link(out, dir, g_strdup(dev->bdf), device_path_from("../../../../", dev));
        }
        break;
    case FAKESYS_DIR_DEVICES:
        for (guint i = 0; i < m->devices->len; i++) {
            FakesysDevice *dev = m->devices->pdata[i];
            gboolean seen = FALSE;

            for (guint j = 0; j < i && !seen; j++)
                seen = strcmp(((FakesysDevice *)m->devices->pdata[j])->bus_dir, dev->bus_dir) == 0;
            if (!seen)
                add_dir(out, dir, FAKESYS_DIR_PCI_ROOT, g_strdup(dev->bus_dir))->bus_dir =
                    dev->bus_dir;
        }
        add_dir(out, dir, FAKESYS_DIR_SYSTEM, g_strdup("system"));
        break;
    case FAKESYS_DIR_PCI_ROOT:
        for (guint i = 0; i < m->devices->len; i++) {
            FakesysDevice *dev = m->devices->pdata[i];
            if (strcmp(dev->bus_dir, dir->bus_dir) == 0)
                add_dir(out, dir, FAKESYS_DIR_DEVICE, g_strdup(dev->bdf))->dev = dev;
        }
        break;
    case FAKESYS_DIR_DEVICE:
        add_attrs(m, out, dir, device_attrs, G_N_ELEMENTS(device_attrs));
        if (dir->dev->driver)
            add_link(out, dir, g_strdup("driver"),
                     g_strdup_printf("../../../bus/pci/drivers/%s", dir->dev->driver->name));
        if (dir->dev->iommu_group >= 0)
            add_link(out, dir, g_strdup("iommu_group"),
                     g_strdup_printf("../../../kernel/iommu_groups/%d", dir->dev->iommu_group));
        add_link(out, dir, g_strdup("subsystem"), g_strdup("../../../bus/pci"));
        /* The disk exists while its driver has the controller, as in the kernel. */
        if (dir->dev->block_name && dir->dev->driver && dir->dev->driver == dir->dev->native)
            add_dir(out, dir, FAKESYS_DIR_BLOCK, g_strdup("block"));
        break;
    case FAKESYS_DIR_BLOCK:
        if (dir->dev->driver && dir->dev->driver == dir->dev->native)
            add_dir(out, dir, FAKESYS_DIR_BLOCK_DEV, g_strdup(dir->dev->block_name));
        break;
    case FAKESYS_DIR_BLOCK_DEV:
        add_attrs(m, out, dir, block_attrs, G_N_ELEMENTS(block_attrs));
        add_link(out, dir, g_strdup("subsystem"), g_strdup("../../../../../../class/block"));
        break;
    case FAKESYS_DIR_SYSTEM:
        if (m->nodes->len)
            add_dir(out, dir, FAKESYS_DIR_NODE_ROOT, g_strdup("node"));
        break;
    case FAKESYS_DIR_NODE_ROOT:
        add_attrs(m, out, dir, node_root_attrs, G_N_ELEMENTS(node_root_attrs));
        for (guint i = 0; i < m->nodes->len; i++) {
            FakesysNumaNode *node = m->nodes->pdata[i];
            add_dir(out, dir, FAKESYS_DIR_NUMA_NODE, g_strdup_printf("node%d", node->id))->node =
                node;
        }
        break;
    case FAKESYS_DIR_NUMA_NODE:
        add_attrs(m, out, dir, numa_node_attrs, G_N_ELEMENTS(numa_node_attrs));
        add_dir(out, dir, FAKESYS_DIR_HUGEPAGES, g_strdup("hugepages"));
        break;
    case FAKESYS_DIR_HUGEPAGES:
        for (guint i = 0; i < dir->node->pools->len; i++) {
            FakesysHugepool *pool = dir->node->pools->pdata[i];
            add_dir(out, dir, FAKESYS_DIR_HUGEPOOL,
                    g_strdup_printf("hugepages-%" G_GUINT64_FORMAT "kB", pool->size_kb))
                ->pool = pool;
        }
        break;
    case FAKESYS_DIR_HUGEPOOL:
        add_attrs(m, out, dir, hugepool_attrs, G_N_ELEMENTS(hugepool_attrs));
        break;
    case FAKESYS_DIR_KERNEL:
        add_dir(out, dir, FAKESYS_DIR_IOMMU_GROUPS, g_strdup("iommu_groups"));
        break;
    case FAKESYS_DIR_IOMMU_GROUPS:
        for (guint i = 0; i < m->groups->len; i++) {
            int group = g_array_index(m->groups, int, i);
            add_dir(out, dir, FAKESYS_DIR_IOMMU_GROUP, g_strdup_printf("%d", group))->group = group;
        }
        break;
    case FAKESYS_DIR_IOMMU_GROUP:
        add_dir(out, dir, FAKESYS_DIR_GROUP_DEVICES, g_strdup("devices"));
        break;
    case FAKESYS_DIR_GROUP_DEVICES:
        for (guint i = 0; i < m->devices->len; i++) {
            FakesysDevice *dev = m->devices->pdata[i];
            if (dev->iommu_group == dir->group)
                add_link(out, dir, g_strdup(dev->bdf), device_path_from("../../../../", dev));
        }
        break;
    }
}

static GArray *
new_node_array(void)
{
    GArray *a = g_array_new(FALSE, TRUE, sizeof(FakesysNode));
    g_array_set_clear_func(a, (GDestroyNotify)fakesys_node_clear);
    return a;
}

GArray *
fakesys_tree_list(FakesysMachine *m, const FakesysNode *dir)
{
    GArray *out = new_node_array();

    g_mutex_lock(&m->lock);
    list_children(m, dir, out);
    g_mutex_unlock(&m->lock);
    return out;
}

gboolean
fakesys_tree_lookup(FakesysMachine *m, const char *path, FakesysNode *out)
{
    g_auto(GStrv) parts = NULL;
    FakesysNode cur = {.type = FAKESYS_NODE_DIR, .dir = FAKESYS_DIR_ROOT, .group = -1};
    gboolean found = TRUE;

    cur.name = g_strdup("");
    if (*path)
        parts = g_strsplit(path, "/", -1);

    g_mutex_lock(&m->lock);
    for (int i = 0; found && parts && parts[i]; i++) {
        g_autoptr(GArray) children = NULL;

        /* Links are resolved by the kernel, never walked through here. */
        if (cur.type != FAKESYS_NODE_DIR) {
            found = FALSE;
            break;
        }
        children = new_node_array();
        list_children(m, &cur, children);
        found = FALSE;
        for (guint j = 0; j < children->len; j++) {
            FakesysNode *child = &g_array_index(children, FakesysNode, j);
            if (strcmp(child->name, parts[i]) == 0) {
                fakesys_node_clear(&cur);
                cur = *child;
                /* Ownership of the strings moved to cur. */
                child->name = NULL;
                child->link_target = NULL;
                found = TRUE;
                break;
            }
        }
    }
    g_mutex_unlock(&m->lock);

    if (!found) {
        fakesys_node_clear(&cur);
        return FALSE;
    }
    *out = cur;
    return TRUE;
}

mode_t
fakesys_node_mode(const FakesysNode *n)
{
    switch (n->type) {
    case FAKESYS_NODE_DIR:
        return S_IFDIR | 0755;
    case FAKESYS_NODE_LINK:
        return S_IFLNK | 0777;
    case FAKESYS_NODE_FILE:
    default:
        return S_IFREG | n->attr->mode;
    }
}

gboolean
fakesys_node_has_show(const FakesysNode *n)
{
    return n->type == FAKESYS_NODE_FILE && (n->attr->show || fakesys_node_is_log(n));
}

gboolean
fakesys_node_has_store(const FakesysNode *n)
{
    return n->type == FAKESYS_NODE_FILE && n->attr->store;
}

gboolean
fakesys_node_is_log(const FakesysNode *n)
{
    return n->type == FAKESYS_NODE_FILE && n->attr == &root_attrs[0];
}

int
fakesys_node_show(FakesysMachine *m, const FakesysNode *n, GString *out,
                  const FakesysCaller *caller)
{
    if (n->type != FAKESYS_NODE_FILE || !n->attr->show)
        return -EIO;
    return n->attr->show(m, n, out, caller);
}

gssize
fakesys_node_store(FakesysMachine *m, const FakesysNode *n, const char *buf, gsize count,
                   const FakesysCaller *caller)
{
    if (n->type != FAKESYS_NODE_FILE || !n->attr->store)
        return -EIO;
    return n->attr->store(m, n, buf, count, caller);
}
