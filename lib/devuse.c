/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "devuse.h"

#include "error.h"
#include "sysfs.h"
#include "xml.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* ---- running domains (libvirt's status XML) ------------------------------------------------ */

static void
running_free(gpointer p)
{
    FpRunningDomain *d = p;

    g_free(d->name);
    g_free(d->uuid);
    if (d->bdfs)
        g_ptr_array_unref(d->bdfs);
    g_free(d);
}

/* <address domain= bus= slot= function=/> of a PCI hostdev, as libvirt parses it (base 0). */
static void
add_hostdev_bdf(FpRunningDomain *d, xmlNode *dev)
{
    xmlNode *addr = fp_xml_child(fp_xml_child(dev, "source"), "address");
    g_autofree char *dom = fp_xml_prop(addr, "domain"), *bus = fp_xml_prop(addr, "bus"),
                    *slot = fp_xml_prop(addr, "slot"), *fn = fp_xml_prop(addr, "function");
    FpPciAddr a;
    char bdf[FP_PCI_ADDR_STRLEN];

    if (addr && fp_pci_addr_from_parts(dom ? dom : "0", bus, slot, fn, &a, NULL)) {
        fp_pci_addr_format(&a, bdf);
        g_ptr_array_add(d->bdfs, g_strdup(bdf));
    }
}

static FpRunningDomain *
parse_status(const char *path, GError **error)
{
    g_autofree char *buf = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(GError) local = NULL;
    g_autofree char *pid = NULL;
    FpRunningDomain *d;
    xmlNode *root, *dom;
    gsize len;

    if (!(buf = fp_xml_read_file(path, &len, &local)) || !(doc = fp_xml_parse(buf, len, &local))) {
        g_propagate_prefixed_error(error, g_steal_pointer(&local),
                                   "cannot read libvirt's status of a running domain (%s): ", path);
        return NULL;
    }
    root = xmlDocGetRootElement(doc);
    dom = xmlStrEqual(root->name, BAD_CAST "domstatus") ? fp_xml_child(root, "domain") : NULL;
    if (!dom) {
        g_set_error(error, FP_ERROR, FP_ERROR_HOST,
                    "%s: not libvirt's status of a running domain (no <domstatus><domain>)", path);
        return NULL;
    }
    d = g_new0(FpRunningDomain, 1);
    d->bdfs = g_ptr_array_new_with_free_func(g_free);
    d->name = fp_xml_text(fp_xml_child(dom, "name"));
    d->uuid = fp_xml_text(fp_xml_child(dom, "uuid"));
    if ((pid = fp_xml_prop(root, "pid")))
        d->pid = g_ascii_strtoll(pid, NULL, 10);
    fp_xml_foreach_child (dev, fp_xml_child(dom, "devices"), NULL) {
        if ((xmlStrEqual(dev->name, BAD_CAST "hostdev") && fp_xml_prop_is(dev, "type", "pci")) ||
            (xmlStrEqual(dev->name, BAD_CAST "interface") &&
             fp_xml_prop_is(dev, "type", "hostdev")))
            add_hostdev_bdf(d, dev);
    }
    return d;
}

GPtrArray *
fp_running_domains(const char *dir, GError **error)
{
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(running_free);
    g_autoptr(GError) local = NULL;
    g_autoptr(GDir) d = NULL;
    const char *name;

    /* ls /run/libvirt/qemu/NAME.xml */
    if (!(d = g_dir_open(dir, 0, &local))) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return g_steal_pointer(&list);
        g_propagate_prefixed_error(error, g_steal_pointer(&local),
                                   "cannot list libvirt's running domains: ");
        return NULL;
    }
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = NULL;
        FpRunningDomain *rd;

        if (!g_str_has_suffix(name, ".xml"))
            continue;
        path = g_build_filename(dir, name, NULL);
        if (!g_file_test(path, G_FILE_TEST_IS_REGULAR))
            continue;
        if (!(rd = parse_status(path, error)))
            return NULL;
        g_ptr_array_add(list, rd);
    }
    return g_steal_pointer(&list);
}

const FpRunningDomain *
fp_running_find(GPtrArray *domains, const char *uuid, const char *name)
{
    for (guint i = 0; domains && i < domains->len; i++) {
        const FpRunningDomain *d = g_ptr_array_index(domains, i);

        if (uuid ? d->uuid && g_ascii_strcasecmp(d->uuid, uuid) == 0
                 : g_strcmp0(d->name, name) == 0)
            return d;
    }
    return NULL;
}

/* ---- processes holding VFIO files open ----------------------------------------------------- */

typedef struct {
    const char *bdf;
    char *path;
    struct stat st;
} Target;

static void
target_clear(gpointer p)
{
    g_free(((Target *)p)->path);
}

static void
add_target(GArray *targets, const char *bdf, char *path)
{
    Target t = {.bdf = bdf, .path = path};

    /* A file that does not exist is open nowhere (under this name). */
    if (stat(path, &t.st) == 0)
        g_array_append_val(targets, t);
    else
        g_free(path);
}

/* The group file and, where the kernel has it (vfio cdev), the device's own file. */
static void
device_targets(const FpDevUseOptions *o, const FpPciDevice *dev, GArray *targets)
{
    g_autofree char *vdir = g_build_filename(dev->dir, "vfio-dev", NULL);
    g_autoptr(GDir) d = NULL;
    const char *name;

    if (dev->iommu_group >= 0)
        add_target(targets, dev->bdf, g_strdup_printf("%s/vfio/%d", o->dev_root, dev->iommu_group));
    /* ls /sys/bus/pci/devices/$BDF/vfio-dev   -> vfioN, /dev/vfio/devices/vfioN */
    if ((d = g_dir_open(vdir, 0, NULL))) {
        while ((name = g_dir_read_name(d))) {
            if (g_str_has_prefix(name, "vfio"))
                add_target(targets, dev->bdf,
                           g_build_filename(o->dev_root, "vfio/devices", name, NULL));
        }
    }
}

static gboolean
same_file(const struct stat *a, const struct stat *b)
{
    /* A character device is the same one whatever node reaches it: QEMU under libvirt opens
     * its own copy of /dev/vfio/N in a private /dev. */
    if (S_ISCHR(a->st_mode) && S_ISCHR(b->st_mode))
        return a->st_rdev == b->st_rdev;
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static char *
proc_comm(const char *proc_root, const char *pid)
{
    g_autofree char *path = g_build_filename(proc_root, pid, "comm", NULL);
    char *comm = fp_sysfs_read(path, NULL);

    return comm ? comm : g_strdup("?");
}

/* ls -l /proc/$PID/fd: a target among them is recorded in REFUSALS. */
static gboolean
scan_pid(const FpDevUseOptions *o, const char *pid, GArray *targets, GPtrArray *domains,
         GHashTable *refusals, GError **error)
{
    g_autofree char *fddir = g_build_filename(o->proc_root, pid, "fd", NULL);
    g_autoptr(GDir) d = NULL;
    g_autoptr(GError) local = NULL;
    const char *fd;

    if (!(d = g_dir_open(fddir, 0, &local))) {
        /* Gone since the listing: holds nothing. Anything else: it may hold them. */
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return TRUE;
        g_propagate_prefixed_error(
            error, g_steal_pointer(&local),
            "cannot tell who holds the devices' VFIO files (so none counts as free): ");
        return FALSE;
    }
    while ((fd = g_dir_read_name(d))) {
        g_autofree char *link = g_build_filename(fddir, fd, NULL);
        g_autofree char *text = NULL;
        struct stat st;
        gboolean have_st = stat(link, &st) == 0;

        if (!have_st && !(text = g_file_read_link(link, NULL)))
            continue; /* closed since the listing */
        for (guint i = 0; i < targets->len; i++) {
            Target *t = &g_array_index(targets, Target, i);
            const FpRunningDomain *rd = NULL;
            g_autofree char *comm = NULL;
            gint64 p = g_ascii_strtoll(pid, NULL, 10);

            if (!(have_st ? same_file(&st, &t->st) : g_strcmp0(text, t->path) == 0) ||
                g_hash_table_contains(refusals, t->bdf))
                continue;
            for (guint k = 0; domains && k < domains->len && !rd; k++) {
                const FpRunningDomain *c = g_ptr_array_index(domains, k);

                if (c->pid == p)
                    rd = c;
            }
            comm = proc_comm(o->proc_root, pid);
            g_hash_table_insert(refusals, g_strdup(t->bdf),
                                g_strdup_printf("%s is in use by pid %s (%s)%s%s: it holds %s open",
                                                t->bdf, pid, comm, rd ? ", domain " : "",
                                                rd ? rd->name : "", t->path));
        }
    }
    return TRUE;
}

static gboolean
is_self(const FpDevUseOptions *o, const FpRunningDomain *rd)
{
    if (o->self_uuid && rd->uuid)
        return g_ascii_strcasecmp(o->self_uuid, rd->uuid) == 0;
    return o->self_name && g_strcmp0(o->self_name, rd->name) == 0;
}

gboolean
fp_devuse_others(const FpDevUseOptions *o, FpPciDevice *const *devs, guint n, GHashTable *refusals,
                 GError **error)
{
    g_autoptr(GArray) targets = g_array_new(FALSE, FALSE, sizeof(Target));
    g_autoptr(GPtrArray) domains = NULL;
    g_autoptr(GDir) proc = NULL;
    g_autoptr(GError) local = NULL;
    const char *pid;

    g_array_set_clear_func(targets, target_clear);
    if (o->status_dir && !(domains = fp_running_domains(o->status_dir, error)))
        return FALSE;
    for (guint i = 0; i < n; i++)
        device_targets(o, devs[i], targets);
    if (targets->len) {
        /* ls /proc */
        if (!(proc = g_dir_open(o->proc_root, 0, &local))) {
            g_propagate_prefixed_error(
                error, g_steal_pointer(&local),
                "cannot tell who holds the devices' VFIO files (so none counts as free): ");
            return FALSE;
        }
        while ((pid = g_dir_read_name(proc))) {
            if (!g_ascii_isdigit(pid[0]))
                continue;
            if (!scan_pid(o, pid, targets, domains, refusals, error))
                return FALSE;
        }
    }
    /* Named by a running domain that is not the one this run is for. */
    for (guint i = 0; domains && i < domains->len; i++) {
        const FpRunningDomain *rd = g_ptr_array_index(domains, i);

        if (is_self(o, rd))
            continue;
        for (guint k = 0; k < n; k++) {
            const char *bdf = devs[k]->bdf;
            g_autofree char *pidtext = g_strdup_printf("%" G_GINT64_FORMAT, rd->pid);
            g_autofree char *comm = NULL;

            if (g_hash_table_contains(refusals, bdf) ||
                !g_ptr_array_find_with_equal_func(rd->bdfs, bdf, g_str_equal, NULL))
                continue;
            if (rd->pid > 0) {
                comm = proc_comm(o->proc_root, pidtext);
                g_hash_table_insert(refusals, g_strdup(bdf),
                                    g_strdup_printf("%s is in use by pid %s (%s), domain %s: its "
                                                    "live XML passes it through",
                                                    bdf, pidtext, comm, rd->name));
            } else {
                g_hash_table_insert(refusals, g_strdup(bdf),
                                    g_strdup_printf("%s is in use by domain %s: its live XML "
                                                    "passes it through",
                                                    bdf, rd->name));
            }
        }
    }
    return TRUE;
}

/* ---- the host's own use -------------------------------------------------------------------- */

typedef struct {
    GPtrArray *blocks; /* "name" with dev numbers in devs, same index */
    GArray *devs;      /* dev_t */
    GPtrArray *nets;   /* interface names */
    GPtrArray *fbs;    /* framebuffer names */
} Children;

static char *
subsystem_of(const char *dir)
{
    g_autofree char *link = g_build_filename(dir, "subsystem", NULL);

    return fp_sysfs_link_name(link);
}

static gboolean
read_devnum(const char *dir, dev_t *out)
{
    g_autofree char *path = g_build_filename(dir, "dev", NULL);
    g_autofree char *text = fp_sysfs_read(path, NULL);
    unsigned ma, mi;

    if (!text || sscanf(text, "%u:%u", &ma, &mi) != 2)
        return FALSE;
    *out = makedev(ma, mi);
    return TRUE;
}

static void
add_block(Children *c, const char *dir, const char *name, int depth)
{
    g_autofree char *holders = g_build_filename(dir, "holders", NULL);
    g_autoptr(GDir) h = NULL;
    const char *hn;
    dev_t dv;

    if (read_devnum(dir, &dv)) {
        g_ptr_array_add(c->blocks, g_strdup(name));
        g_array_append_val(c->devs, dv);
    }
    /* A device-mapper or md device built on it (LVM, LUKS, RAID): mounted under its own number. */
    if (depth > 0 && (h = g_dir_open(holders, 0, NULL))) {
        while ((hn = g_dir_read_name(h))) {
            g_autofree char *hdir = g_build_filename(holders, hn, NULL);
            g_autofree char *label = g_strdup_printf("%s on %s", hn, name);

            add_block(c, hdir, label, depth - 1);
        }
    }
}

/* Every block device, network interface and framebuffer below DIR in sysfs (not following
 * links, DEPTH levels at most: a SATA disk's partition sits 7 below its controller). */
static void
walk(Children *c, const char *dir, int depth)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    if (!d || depth < 0)
        return;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *child = g_build_filename(dir, name, NULL);
        g_autofree char *subsystem = NULL;
        struct stat st;

        if (lstat(child, &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        subsystem = subsystem_of(child);
        if (g_strcmp0(subsystem, "block") == 0)
            add_block(c, child, name, 3);
        else if (g_strcmp0(subsystem, "net") == 0)
            g_ptr_array_add(c->nets, g_strdup(child));
        else if (g_strcmp0(subsystem, "graphics") == 0 && g_str_has_prefix(name, "fb"))
            g_ptr_array_add(c->fbs, g_strdup(name));
        walk(c, child, depth - 1);
    }
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *
unescape_mount(const char *s)
{
    GString *out = g_string_new(NULL);

    for (const char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] && p[3]) {
            g_string_append_c(out, (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0')));
            p += 3;
        } else {
            g_string_append_c(out, *p);
        }
    }
    return g_string_free(out, FALSE);
}

static int
find_dev(const Children *c, dev_t dv)
{
    for (guint i = 0; i < c->devs->len; i++) {
        if (g_array_index(c->devs, dev_t, i) == dv)
            return (int)i;
    }
    return -1;
}

/* A block device node named in a mount or swap table, by number. */
static int
find_node(const Children *c, const char *path)
{
    struct stat st;

    if (!path || path[0] != '/' || stat(path, &st) < 0 || !S_ISBLK(st.st_mode))
        return -1;
    return find_dev(c, st.st_rdev);
}

static gboolean
mounted(const Children *c, const char *proc_root, char **use, GError **error)
{
    g_autofree char *path = g_build_filename(proc_root, "self/mountinfo", NULL);
    g_autofree char *text = NULL, *swaps_path = g_build_filename(proc_root, "swaps", NULL);
    g_autofree char *swaps = NULL;
    g_auto(GStrv) lines = NULL;

    /* cat /proc/self/mountinfo   (field 3 major:minor, field 5 the mount point) */
    if (!g_file_get_contents(path, &text, NULL, error)) {
        g_prefix_error(error, "cannot tell whether the host has a filesystem mounted on it: ");
        return FALSE;
    }
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l && !*use; l++) {
        g_auto(GStrv) f = g_strsplit(*l, " ", -1);
        unsigned ma, mi;
        int i = -1;

        if (g_strv_length(f) < 5 || sscanf(f[2], "%u:%u", &ma, &mi) != 2)
            continue;
        i = find_dev(c, makedev(ma, mi));
        /* btrfs and friends show an anonymous 0:N: the source after " - TYPE " names the disk. */
        for (guint k = 5; i < 0 && ma == 0 && f[k]; k++) {
            if (strcmp(f[k], "-") == 0 && f[k + 1] && f[k + 2]) {
                g_autofree char *src = unescape_mount(f[k + 2]);

                i = find_node(c, src);
                break;
            }
        }
        if (i >= 0) {
            g_autofree char *where = unescape_mount(f[4]);

            *use = g_strdup_printf("mounted filesystem %s (%s)", where,
                                   (const char *)g_ptr_array_index(c->blocks, i));
        }
    }
    /* cat /proc/swaps: cheap to add, and swapping to a device the guest then owns is as bad */
    if (!*use && g_file_get_contents(swaps_path, &swaps, NULL, NULL)) {
        g_auto(GStrv) sl = g_strsplit(swaps, "\n", -1);

        for (char **l = sl; *l && !*use; l++) {
            g_auto(GStrv) f = g_strsplit_set(*l, " \t", 2);
            int i = find_node(c, f[0]);

            if (i >= 0)
                *use = g_strdup_printf("swap %s (%s)", f[0],
                                       (const char *)g_ptr_array_index(c->blocks, i));
        }
    }
    return TRUE;
}

/* An interface that is up (IFF_UP in flags) with an IPv4 or IPv6 address in this network
 * namespace. */
static gboolean
net_in_use(const FpPciDevice *dev, const Children *c, char **use, GError **error)
{
    struct ifaddrs *ifa = NULL;

    for (guint i = 0; i < c->nets->len && !*use; i++) {
        const char *ifdir = g_ptr_array_index(c->nets, i);
        g_autofree char *ifname = g_path_get_basename(ifdir);
        g_autofree char *flags_path = g_build_filename(ifdir, "flags", NULL), *flags = NULL;
        guint64 fl = 0;

        /* cat /sys/bus/pci/devices/$BDF/net/$IF/flags   (IFF_UP is 0x1) */
        flags = fp_sysfs_read(flags_path, NULL);
        if (flags)
            g_ascii_string_to_unsigned(flags + (g_str_has_prefix(flags, "0x") ? 2 : 0), 16, 0,
                                       G_MAXUINT64, &fl, NULL);
        else
            fl = IFF_UP; /* unknown: find out from its addresses */
        if (!(fl & IFF_UP))
            continue;
        if (!ifa && getifaddrs(&ifa) < 0) {
            g_set_error(error, FP_ERROR, FP_ERROR_HOST,
                        "cannot tell whether %s's interface %s has an address: %s", dev->bdf,
                        ifname, g_strerror(errno));
            return FALSE;
        }
        for (struct ifaddrs *a = ifa; a && !*use; a = a->ifa_next) {
            char text[INET6_ADDRSTRLEN] = "";

            if (!a->ifa_addr || g_strcmp0(a->ifa_name, ifname) != 0)
                continue;
            if (a->ifa_addr->sa_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)a->ifa_addr)->sin_addr, text,
                          sizeof(text));
            else if (a->ifa_addr->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)a->ifa_addr)->sin6_addr, text,
                          sizeof(text));
            else
                continue;
            *use = g_strdup_printf("network interface %s (up, address %s)", ifname, text);
        }
    }
    if (ifa)
        freeifaddrs(ifa);
    return TRUE;
}

gboolean
fp_devuse_host(const FpPciDevice *dev, const char *proc_root, char **use, GError **error)
{
    Children c = {
        .blocks = g_ptr_array_new_with_free_func(g_free),
        .devs = g_array_new(FALSE, FALSE, sizeof(dev_t)),
        .nets = g_ptr_array_new_with_free_func(g_free),
        .fbs = g_ptr_array_new_with_free_func(g_free),
    };
    g_autofree char *boot_vga_path = g_build_filename(dev->dir, "boot_vga", NULL);
    g_autofree char *boot_vga = NULL;
    gboolean ok = TRUE;

    *use = NULL;
    walk(&c, dev->dir, 8);
    if (c.blocks->len)
        ok = mounted(&c, proc_root, use, error);
    if (ok && !*use)
        ok = net_in_use(dev, &c, use, error);
    /* cat /sys/bus/pci/devices/$BDF/boot_vga: the firmware's console, while a driver drives it */
    if (ok && !*use && dev->driver && strcmp(dev->driver, FP_VFIO_DRIVER) != 0 &&
        strcmp(dev->driver, "pci-stub") != 0) {
        boot_vga = fp_sysfs_read(boot_vga_path, NULL);
        if (g_strcmp0(boot_vga, "1") == 0)
            *use = g_strdup_printf("console (the boot display, driven by %s)", dev->driver);
        else if (c.fbs->len)
            *use = g_strdup_printf("console framebuffer %s",
                                   (const char *)g_ptr_array_index(c.fbs, 0));
    }
    g_ptr_array_unref(c.blocks);
    g_array_unref(c.devs);
    g_ptr_array_unref(c.nets);
    g_ptr_array_unref(c.fbs);
    if (!ok)
        g_clear_pointer(use, g_free);
    return ok;
}
