/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "host.h"

#include "cpuset.h"
#include "error.h"
#include "sysfs.h"
#include "units.h"
#include "xml.h"

#include <json-c/json.h>

#define SWAP(a, b)                                                                                 \
    do {                                                                                           \
        __typeof__(a) tmp_ = (a);                                                                  \
        (a) = (b);                                                                                 \
        (b) = tmp_;                                                                                \
    } while (0)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
fp_host_sysfs_root(const char *override)
{
    const char *env = g_getenv("FASTPASS_SYSFS_ROOT");

    if (override && *override)
        return override;
    return env && *env ? env : "/sys";
}

static void
node_free(gpointer p)
{
    FpNumaNode *n = p;

    g_array_unref(n->cpus);
    g_free(n);
}

FpHost *
fp_host_new(const char *sysfs_root)
{
    FpHost *h = g_new0(FpHost, 1);

    h->sysfs_root = g_strdup(fp_host_sysfs_root(sysfs_root));
    h->nodes = g_ptr_array_new_with_free_func(node_free);
    h->page_sizes_kib = g_array_new(FALSE, FALSE, sizeof(guint64));
    h->device_nodes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return h;
}

void
fp_host_free(FpHost *host)
{
    if (!host)
        return;
    g_free(host->sysfs_root);
    g_ptr_array_unref(host->nodes);
    g_array_unref(host->page_sizes_kib);
    g_hash_table_unref(host->device_nodes);
    g_free(host);
}

static int
cmp_node(gconstpointer a, gconstpointer b)
{
    const FpNumaNode *x = *(FpNumaNode *const *)a, *y = *(FpNumaNode *const *)b;

    return x->id < y->id ? -1 : x->id > y->id;
}

static void
add_node(FpHost *host, guint id, GArray *cpus)
{
    FpNumaNode *n = g_new0(FpNumaNode, 1);

    n->id = id;
    n->cpus = cpus;
    g_ptr_array_add(host->nodes, n);
}

static void
add_page_size(FpHost *host, guint64 kib)
{
    /* 4 KiB is the base page, not a hugepage size. */
    if (kib <= 4 || fp_host_has_page_size(host, kib))
        return;
    g_array_append_val(host->page_sizes_kib, kib);
}

/* Hugepage sizes from the names of DIR's "hugepages-2048kB" entries. */
static void
load_page_sizes(FpHost *host, const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        guint64 kib;
        g_autofree char *num = NULL;

        if (!g_str_has_prefix(name, "hugepages-") || !g_str_has_suffix(name, "kB"))
            continue;
        num = g_strndup(name + strlen("hugepages-"), strlen(name) - strlen("hugepages-") - 2);
        if (g_ascii_string_to_unsigned(num, 10, 1, G_MAXUINT64, &kib, NULL))
            add_page_size(host, kib);
    }
}

void
fp_host_load_sysfs(FpHost *host)
{
    g_autofree char *nodedir = g_build_filename(host->sysfs_root, "devices/system/node", NULL);
    g_autofree char *mmdir = g_build_filename(host->sysfs_root, "kernel/mm/hugepages", NULL);
    g_autoptr(GDir) d = g_dir_open(nodedir, 0, NULL);
    const char *name;

    g_ptr_array_set_size(host->nodes, 0);
    /* cat /sys/devices/system/node/node0/cpulist */
    while (d && (name = g_dir_read_name(d))) {
        guint64 id;
        g_autofree char *path = NULL, *list = NULL;
        GArray *cpus;

        if (!g_str_has_prefix(name, "node") ||
            !g_ascii_string_to_unsigned(name + 4, 10, 0, 65535, &id, NULL))
            continue;
        path = g_build_filename(nodedir, name, "cpulist", NULL);
        list = fp_sysfs_read(path, NULL);
        if (!list || !(cpus = fp_cpuset_parse(list, NULL)))
            continue;
        add_node(host, id, cpus);
    }
    /* A kernel without NUMA support has no node directory: one node holding every online CPU. */
    if (host->nodes->len == 0) {
        g_autofree char *path =
            g_build_filename(host->sysfs_root, "devices/system/cpu/online", NULL);
        g_autofree char *list = fp_sysfs_read(path, NULL);
        GArray *cpus = list ? fp_cpuset_parse(list, NULL) : NULL;

        if (cpus)
            add_node(host, 0, cpus);
    }
    g_ptr_array_sort(host->nodes, cmp_node);
    /* ls /sys/kernel/mm/hugepages */
    g_array_set_size(host->page_sizes_kib, 0);
    load_page_sizes(host, mmdir);
}

static gboolean
caps_page_size(xmlNode *pages, guint64 *kib)
{
    g_autofree char *size = fp_xml_prop(pages, "size");
    g_autofree char *unit = fp_xml_prop(pages, "unit");

    return fp_units_to_kib(size, unit, kib, NULL);
}

gboolean
fp_host_load_caps(FpHost *host, const char *path, GError **error)
{
    g_autofree char *buf = NULL;
    gsize len;
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(FpHost) fresh = NULL;
    xmlNode *root, *hostel, *cells;

    if (!(buf = fp_xml_read_file(path, &len, error)))
        return FALSE;
    if (!(doc = fp_xml_parse(buf, len, error))) {
        g_prefix_error(error, "%s: ", path);
        return FALSE;
    }
    root = xmlDocGetRootElement(doc);
    hostel = xmlStrEqual(root->name, BAD_CAST "capabilities") ? fp_xml_child(root, "host") : NULL;
    if (!hostel) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "%s: not the output of `virsh capabilities` (no <capabilities><host>)", path);
        return FALSE;
    }
    /* Parsed aside and swapped in at the end, so a bad file leaves HOST as it was. */
    fresh = fp_host_new(host->sysfs_root);
    fp_xml_foreach_child (pages, fp_xml_child(hostel, "cpu"), "pages") {
        guint64 kib;

        if (caps_page_size(pages, &kib))
            add_page_size(fresh, kib);
    }
    cells = fp_xml_child(fp_xml_child(hostel, "topology"), "cells");
    fp_xml_foreach_child (cell, cells, "cell") {
        g_autofree char *idtext = fp_xml_prop(cell, "id");
        guint64 id;
        GArray *cpus = g_array_new(FALSE, FALSE, sizeof(guint));

        if (!idtext || !g_ascii_string_to_unsigned(idtext, 10, 0, 65535, &id, NULL)) {
            g_array_unref(cpus);
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s: NUMA cell without a valid id", path);
            return FALSE;
        }
        fp_xml_foreach_child (cpu, fp_xml_child(cell, "cpus"), "cpu") {
            g_autofree char *cid = fp_xml_prop(cpu, "id");
            guint64 c;

            if (cid && g_ascii_string_to_unsigned(cid, 10, 0, 65535, &c, NULL)) {
                guint v = c;
                g_array_append_val(cpus, v);
            }
        }
        fp_xml_foreach_child (pages, cell, "pages") {
            guint64 kib;

            if (caps_page_size(pages, &kib))
                add_page_size(fresh, kib);
        }
        fp_cpuset_normalize(cpus);
        add_node(fresh, id, cpus);
    }
    g_ptr_array_sort(fresh->nodes, cmp_node);
    SWAP(host->nodes, fresh->nodes);
    SWAP(host->page_sizes_kib, fresh->page_sizes_kib);
    return TRUE;
}

gboolean
fp_host_load_device_topology(FpHost *host, const char *path, GError **error)
{
    g_autofree char *buf = NULL;
    gsize len;
    json_object *root;
    json_tokener *tok;
    gboolean ok = TRUE;
    g_autoptr(GHashTable) fresh = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    if (!(buf = fp_xml_read_file(path, &len, error)))
        return FALSE;
    tok = json_tokener_new();
    root = json_tokener_parse_ex(tok, buf, (int)len);
    /* json-c stops after the first value; anything but whitespace after it is an error. */
    if (root) {
        for (gsize i = json_tokener_get_parse_end(tok); i < len; i++) {
            if (!g_ascii_isspace(buf[i])) {
                json_object_put(root);
                root = NULL;
                break;
            }
        }
    }
    if (!root || json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(root, json_type_object)) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "%s: not a JSON object mapping PCI addresses to NUMA nodes", path);
        ok = FALSE;
    }
    json_tokener_free(tok);
    if (ok) {
        json_object_object_foreach(root, key, val)
        {
            FpPciAddr addr;
            char bdf[FP_PCI_ADDR_STRLEN];
            int node;

            if (!fp_pci_addr_parse(key, &addr, error)) {
                g_prefix_error(error, "%s: ", path);
                ok = FALSE;
                break;
            }
            if (!json_object_is_type(val, json_type_int) || (node = json_object_get_int(val)) < 0 ||
                node > 65535) {
                g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                            "%s: NUMA node of %s is not a number 0..65535", path, key);
                ok = FALSE;
                break;
            }
            fp_pci_addr_format(&addr, bdf);
            g_hash_table_replace(fresh, g_strdup(bdf), GINT_TO_POINTER(node + 1));
        }
    }
    if (ok) {
        GHashTableIter it;
        gpointer k, v;

        g_hash_table_iter_init(&it, fresh);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            g_hash_table_iter_steal(&it);
            g_hash_table_replace(host->device_nodes, k, v);
        }
    }
    json_object_put(root);
    return ok;
}

const FpNumaNode *
fp_host_node(const FpHost *host, guint id)
{
    for (guint i = 0; i < host->nodes->len; i++) {
        const FpNumaNode *n = g_ptr_array_index(host->nodes, i);

        if (n->id == id)
            return n;
    }
    return NULL;
}

gboolean
fp_host_has_page_size(const FpHost *host, guint64 kib)
{
    for (guint i = 0; i < host->page_sizes_kib->len; i++) {
        if (g_array_index(host->page_sizes_kib, guint64, i) == kib)
            return TRUE;
    }
    return FALSE;
}

int
fp_host_device_node(const FpHost *host, const FpPciAddr *addr)
{
    char bdf[FP_PCI_ADDR_STRLEN];
    gpointer v;
    g_autofree char *path = NULL, *text = NULL;
    gint64 node;

    fp_pci_addr_format(addr, bdf);
    if (g_hash_table_lookup_extended(host->device_nodes, bdf, NULL, &v))
        return GPOINTER_TO_INT(v) - 1;
    /* cat /sys/bus/pci/devices/$BDF/numa_node   (-1: the platform does not say) */
    path = g_build_filename(host->sysfs_root, "bus/pci/devices", bdf, "numa_node", NULL);
    text = fp_sysfs_read(path, NULL);
    if (!text || !g_ascii_string_to_signed(text, 10, -1, 65535, &node, NULL))
        return -1;
    /* -1 on a host with one node means the device has no affinity: that one node is local. */
    if (node < 0 && host->nodes->len == 1)
        return ((FpNumaNode *)g_ptr_array_index(host->nodes, 0))->id;
    return (int)node;
}

/* IORESOURCE_MEM_64 in the flags column of sysfs's resource file (include/linux/ioport.h). */
#define IORESOURCE_MEM_64 0x00100000ULL

gboolean
fp_host_device_mmio64(const FpHost *host, const FpPciAddr *addr, guint64 *bytes)
{
    char bdf[FP_PCI_ADDR_STRLEN];
    g_autofree char *path = NULL, *text = NULL;
    g_auto(GStrv) lines = NULL;

    fp_pci_addr_format(addr, bdf);
    /* cat /sys/bus/pci/devices/$BDF/resource   (a "start end flags" line per BAR 0-5, then the
     * ROM and the bridge windows) */
    path = g_build_filename(host->sysfs_root, "bus/pci/devices", bdf, "resource", NULL);
    if (!(text = fp_sysfs_read(path, NULL)))
        return FALSE;
    *bytes = 0;
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; i < 6 && lines[i]; i++) {
        guint64 start, end, flags;

        if (sscanf(lines[i],
                   "%" G_GINT64_MODIFIER "x %" G_GINT64_MODIFIER "x %" G_GINT64_MODIFIER "x",
                   &start, &end, &flags) == 3 &&
            (flags & IORESOURCE_MEM_64) && end > start)
            *bytes += end - start + 1;
    }
    return TRUE;
}
