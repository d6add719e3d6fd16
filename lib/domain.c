/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "domain.h"

#include "error.h"
#include "units.h"
#include "xml.h"

#include <string.h>

void
fp_domain_free(FpDomain *dom)
{
    if (!dom)
        return;
    g_free(dom->origin);
    if (dom->doc)
        xmlFreeDoc(dom->doc);
    g_free(dom->decl);
    if (dom->hostdevs)
        g_array_unref(dom->hostdevs);
    if (dom->declared)
        g_array_unref(dom->declared);
    g_free(dom);
}

/* <source><address domain= bus= slot= function=/></source>, strictly hex. */
static gboolean
add_hostdev(FpDomain *dom, xmlNode *elem, guint ordinal, GError **error)
{
    xmlNode *addr = fp_xml_child(fp_xml_child(elem, "source"), "address");
    g_autofree char *d = fp_xml_prop(addr, "domain"), *b = fp_xml_prop(addr, "bus"),
                    *s = fp_xml_prop(addr, "slot"), *f = fp_xml_prop(addr, "function");
    FpHostdev hd = {.elem = elem, .managed = fp_xml_prop_is(elem, "managed", "yes")};

    if (!addr) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "PCI <%s> #%u has no <source><address>",
                    (const char *)elem->name, ordinal);
        return FALSE;
    }
    /* libvirt lets the domain default to 0. */
    if (!fp_pci_addr_from_parts(d ? d : "0", b, s, f, &hd.addr, error)) {
        g_prefix_error(error, "PCI <%s> #%u: ", (const char *)elem->name, ordinal);
        return FALSE;
    }
    fp_pci_addr_format(&hd.addr, hd.bdf);
    g_array_append_val(dom->hostdevs, hd);
    return TRUE;
}

static gboolean
collect_hostdevs(FpDomain *dom, GError **error)
{
    xmlNode *devices = fp_xml_child(fp_domain_root(dom), "devices");
    guint ordinal = 0;

    fp_xml_foreach_child (dev, devices, NULL) {
        g_autofree char *mode = fp_xml_prop(dev, "mode");
        gboolean pci_hostdev = xmlStrEqual(dev->name, BAD_CAST "hostdev") &&
                               fp_xml_prop_is(dev, "type", "pci") &&
                               (!mode || strcmp(mode, "subsystem") == 0);
        gboolean vf_interface =
            xmlStrEqual(dev->name, BAD_CAST "interface") && fp_xml_prop_is(dev, "type", "hostdev");

        if (!pci_hostdev && !vf_interface)
            continue;
        ordinal++;
        if (!add_hostdev(dom, dev, ordinal, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean
collect_declared(FpDomain *dom, GError **error)
{
    fp_xml_foreach_child (group, fp_xml_child(fp_domain_root(dom), "metadata"), "prepare") {
        if (!group->ns || !xmlStrEqual(group->ns->href, BAD_CAST FP_METADATA_NS))
            continue;
        fp_xml_foreach_child (dev, group, "device") {
            g_autofree char *text = fp_xml_prop(dev, "address");
            FpPciAddr addr;

            if (!fp_pci_addr_parse(text, &addr, error)) {
                g_prefix_error(error, "<fastpass:device address>: ");
                return FALSE;
            }
            g_array_append_val(dom->declared, addr);
        }
    }
    return TRUE;
}

FpDomain *
fp_domain_load_memory(const char *buf, gsize len, const char *origin, GError **error)
{
    g_autoptr(FpDomain) dom = g_new0(FpDomain, 1);
    xmlNode *root;

    dom->origin = g_strdup(origin ? origin : "(memory)");
    dom->hostdevs = g_array_new(FALSE, FALSE, sizeof(FpHostdev));
    dom->declared = g_array_new(FALSE, FALSE, sizeof(FpPciAddr));
    if (!(dom->doc = fp_xml_parse(buf, len, error)))
        goto fail;
    root = xmlDocGetRootElement(dom->doc);
    if (!xmlStrEqual(root->name, BAD_CAST "domain") || root->ns) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "root element is <%s>, not a libvirt <domain>",
                    (const char *)root->name);
        goto fail;
    }
    if (!collect_hostdevs(dom, error) || !collect_declared(dom, error))
        goto fail;
    dom->decl = fp_xml_declaration(buf, len);
    return g_steal_pointer(&dom);

fail:
    g_prefix_error(error, "%s: ", dom->origin);
    return NULL;
}

FpDomain *
fp_domain_load_file(const char *path, GError **error)
{
    g_autofree char *buf = NULL;
    gsize len;

    if (!(buf = fp_xml_read_file(path, &len, error)))
        return NULL;
    return fp_domain_load_memory(buf, len, path, error);
}

char *
fp_domain_format(const FpDomain *dom, gsize *len)
{
    return fp_xml_format(dom->doc, dom->decl, len);
}

xmlNode *
fp_domain_root(const FpDomain *dom)
{
    return xmlDocGetRootElement(dom->doc);
}

char *
fp_domain_name(const FpDomain *dom)
{
    return fp_xml_text(fp_xml_child(fp_domain_root(dom), "name"));
}

gboolean
fp_domain_memory_kib(const FpDomain *dom, guint64 *kib, GError **error)
{
    xmlNode *mem = fp_xml_child(fp_domain_root(dom), "memory");
    g_autofree char *text = fp_xml_text(mem);
    g_autofree char *unit = fp_xml_prop(mem, "unit");

    if (!mem) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "domain has no <memory>");
        return FALSE;
    }
    return fp_units_to_kib(text, unit, kib, error);
}

guint
fp_domain_vcpus(const FpDomain *dom)
{
    g_autofree char *text = fp_xml_text(fp_xml_child(fp_domain_root(dom), "vcpu"));
    guint64 n;

    if (!text || !g_ascii_string_to_unsigned(text, 10, 1, 16384, &n, NULL))
        return 0;
    return n;
}

char *
fp_domain_uuid(const FpDomain *dom)
{
    g_autofree char *text = fp_xml_text(fp_xml_child(fp_domain_root(dom), "uuid"));

    return text && g_uuid_string_is_valid(text) ? g_steal_pointer(&text) : NULL;
}

guint64
fp_domain_hugepage_kib(const FpDomain *dom)
{
    xmlNode *hp = fp_xml_child(fp_xml_child(fp_domain_root(dom), "memoryBacking"), "hugepages");
    xmlNode *page = fp_xml_child(hp, "page");
    g_autofree char *size = fp_xml_prop(page, "size"), *unit = fp_xml_prop(page, "unit");
    guint64 kib;

    if (!hp)
        return 0;
    if (!page || !fp_units_to_kib(size, unit, &kib, NULL))
        return 2048;
    return kib;
}

int
fp_domain_memory_node(const FpDomain *dom)
{
    xmlNode *mem = fp_xml_child(fp_xml_child(fp_domain_root(dom), "numatune"), "memory");
    g_autofree char *nodeset = fp_xml_prop(mem, "nodeset");
    guint64 node;

    if (!nodeset || !g_ascii_string_to_unsigned(nodeset, 10, 0, 65535, &node, NULL))
        return -1;
    return (int)node;
}

guint
fp_domain_numa_cells(const FpDomain *dom)
{
    xmlNode *numa = fp_xml_child(fp_xml_child(fp_domain_root(dom), "cpu"), "numa");
    guint n = 0;

    fp_xml_foreach_child (cell, numa, "cell")
        n++;
    return n;
}
