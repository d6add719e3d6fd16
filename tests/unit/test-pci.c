/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PCI devices without root: a plain directory tree stands for sysfs (and for /proc and /dev
 * where the in-use checks look), as virpcitest.c does with its mock. Covers the IOMMU group
 * check, reset_method (missing versus emptied), who else holds a device, the host's own use of
 * it, and the sysfs writer's child holding none of the caller's descriptors. */
#include "devuse.h"
#include "error.h"
#include "pci.h"
#include "sysfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <ifaddrs.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *root;
} Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
    (void)data;
    f->root = g_dir_make_tmp("fp-test-pci-XXXXXX", NULL);
    g_assert_nonnull(f->root);
}

static void
rm_rf(const char *path)
{
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *child = g_build_filename(path, name, NULL);

        if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
            rm_rf(child);
        else
            g_unlink(child);
    }
    g_rmdir(path);
}

static void
teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    rm_rf(f->root);
    g_free(f->root);
}

/* As test-host.c's put(): a file with CONTENT, or a directory when CONTENT is NULL. */
static char *
put(const char *root, const char *rel, const char *content)
{
    char *path = g_build_filename(root, rel, NULL);
    g_autofree char *dir = content ? g_path_get_dirname(path) : g_strdup(path);
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    if (content) {
        g_file_set_contents(path, content, -1, &error);
        g_assert_no_error(error);
    }
    return path;
}

static void
link_at(const char *root, const char *rel, const char *target)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);

    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_assert_cmpint(symlink(target, path), ==, 0);
}

/* A device in GROUP bound to DRIVER (NULL: unbound) of CLASS. */
static void
add_device(const char *root, const char *bdf, int group, const char *driver, const char *klass)
{
    g_autofree char *dir = g_strdup_printf("bus/pci/devices/%s", bdf);
    g_autofree char *p = NULL, *rel = NULL;

    g_free(put(root, dir, NULL));
    rel = g_strdup_printf("%s/class", dir);
    g_free(put(root, rel, klass));
    g_free(rel);
    rel = g_strdup_printf("%s/vendor", dir);
    g_free(put(root, rel, "0x10de"));
    if (driver) {
        g_autofree char *drel = g_strdup_printf("%s/driver", dir);
        g_autofree char *target = g_strdup_printf("../../../bus/pci/drivers/%s", driver);

        link_at(root, drel, target);
    }
    if (group >= 0) {
        g_autofree char *grel = g_strdup_printf("%s/iommu_group", dir);
        g_autofree char *target = g_strdup_printf("../../../kernel/iommu_groups/%d", group);
        g_autofree char *member = g_strdup_printf("kernel/iommu_groups/%d/devices/%s", group, bdf);

        link_at(root, grel, target);
        g_free(put(root, member, ""));
    }
}

static FpPciDevice *
open_dev(const char *root, const char *bdf)
{
    g_autoptr(GError) error = NULL;
    FpPciAddr addr;
    FpPciDevice *dev;

    g_assert_true(fp_pci_addr_parse(bdf, &addr, NULL));
    dev = fp_pci_device_open(root, &addr, &error);
    g_assert_no_error(error);
    g_assert_nonnull(dev);
    return dev;
}

/* ---- IOMMU group ---- */

static void
test_group(Fixture *f, gconstpointer data)
{
    g_autoptr(FpPciDevice) gpu = NULL;
    g_autoptr(GHashTable) listed = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GError) error = NULL;

    (void)data;
    add_device(f->root, "0000:41:00.0", 7, "nvidia", "0x030000");
    add_device(f->root, "0000:40:01.0", 7, "pcieport", "0x060400"); /* a bridge: fine */
    add_device(f->root, "0000:41:00.1", 7, "vfio-pci", "0x040300");
    add_device(f->root, "0000:41:00.2", 7, "pci-stub", "0x0c0330");
    add_device(f->root, "0000:41:00.3", 7, NULL, "0x0c8000"); /* unbound: fine */
    gpu = open_dev(f->root, "0000:41:00.0");
    g_assert_cmpint(gpu->iommu_group, ==, 7);
    g_assert_true(fp_pci_check_group(gpu, NULL, &error));
    g_assert_no_error(error);

    add_device(f->root, "0000:41:00.4", 7, "snd_hda_intel", "0x040300");
    g_assert_false(fp_pci_check_group(gpu, NULL, &error));
    g_assert_error(error, FP_ERROR, FP_ERROR_REFUSED);
    g_assert_nonnull(strstr(error->message, "IOMMU group 7 is not viable: 0000:41:00.4 is held by "
                                            "host driver snd_hda_intel"));
    g_clear_error(&error);
    /* Listed for passthrough with it: viable. */
    g_hash_table_add(listed, (gpointer) "0000:41:00.4");
    g_assert_true(fp_pci_check_group(gpu, listed, &error));
    g_assert_no_error(error);

    add_device(f->root, "0000:42:00.0", -1, "nvidia", "0x030000");
    {
        g_autoptr(FpPciDevice) lone = open_dev(f->root, "0000:42:00.0");

        g_assert_false(fp_pci_check_group(lone, NULL, &error));
        g_assert_error(error, FP_ERROR, FP_ERROR_REFUSED);
        g_assert_nonnull(strstr(error->message, "has no IOMMU group"));
    }
}

/* ---- reset_method: missing versus emptied ---- */

static void
test_reset(Fixture *f, gconstpointer data)
{
    (void)data;
    add_device(f->root, "0000:01:00.0", 1, "nvidia", "0x030000");
    add_device(f->root, "0000:02:00.0", 2, "nvidia", "0x030000");
    add_device(f->root, "0000:03:00.0", 3, "nvidia", "0x030000");
    g_free(put(f->root, "bus/pci/devices/0000:01:00.0/reset", ""));
    g_free(put(f->root, "bus/pci/devices/0000:01:00.0/reset_method", "flr bus\n"));
    /* Emptied: the file is there, with nothing in it (every method disabled). */
    g_free(put(f->root, "bus/pci/devices/0000:02:00.0/reset", ""));
    g_free(put(f->root, "bus/pci/devices/0000:02:00.0/reset_method", "\n"));
    /* 03: neither file: the kernel knows no reset for it. */
    {
        g_autoptr(FpPciDevice) ok = open_dev(f->root, "0000:01:00.0");
        g_autoptr(FpPciDevice) emptied = open_dev(f->root, "0000:02:00.0");
        g_autoptr(FpPciDevice) none = open_dev(f->root, "0000:03:00.0");

        g_assert_true(fp_pci_can_reset(ok));
        g_assert_false(fp_pci_reset_method_emptied(ok));
        g_assert_false(fp_pci_can_reset(emptied));
        g_assert_true(fp_pci_reset_method_emptied(emptied));
        g_assert_false(fp_pci_can_reset(none));
        g_assert_false(fp_pci_reset_method_emptied(none));
    }
}

/* ---- someone else holds it ---- */

typedef struct {
    char *sys, *proc, *dev, *status;
    FpDevUseOptions o;
} UseTree;

static void
use_tree(Fixture *f, UseTree *t)
{
    t->sys = g_build_filename(f->root, "sys", NULL);
    t->proc = g_build_filename(f->root, "proc", NULL);
    t->dev = g_build_filename(f->root, "dev", NULL);
    t->status = g_build_filename(f->root, "status", NULL);
    g_free(put(t->proc, "", NULL));
    g_free(put(t->status, "", NULL));
    g_free(put(t->dev, "vfio/7", ""));
    add_device(t->sys, "0000:41:00.0", 7, "vfio-pci", "0x030000");
    add_device(t->sys, "0000:42:00.0", 8, "vfio-pci", "0x030000");
    t->o = (FpDevUseOptions){.proc_root = t->proc, .dev_root = t->dev, .status_dir = t->status};
}

static void
use_tree_clear(UseTree *t)
{
    g_free(t->sys);
    g_free(t->proc);
    g_free(t->dev);
    g_free(t->status);
}

static const char *
held(UseTree *t, const char *bdf, GError **error)
{
    static char *msg;
    g_autoptr(FpPciDevice) dev = open_dev(t->sys, bdf);
    g_autoptr(GHashTable) refusals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    g_clear_pointer(&msg, g_free);
    if (!fp_devuse_others(&t->o, &dev, 1, refusals, error))
        return NULL;
    msg = g_strdup(g_hash_table_lookup(refusals, bdf));
    return msg;
}

static void
test_held(Fixture *f, gconstpointer data)
{
    UseTree t;
    g_autoptr(GError) error = NULL;
    g_autofree char *group = NULL, *expect = NULL, *junk = NULL, *cdev = NULL;
    const char *why;

    (void)data;
    use_tree(f, &t);
    g_assert_null(held(&t, "0000:41:00.0", &error));
    g_assert_no_error(error);

    /* A process with the group file open: named, with its comm. */
    group = g_build_filename(t.dev, "vfio/7", NULL);
    g_free(put(t.proc, "4242/comm", "qemu-system-x86\n"));
    g_free(put(t.proc, "4242/fd", NULL));
    link_at(t.proc, "4242/fd/3", "/dev/null");
    link_at(t.proc, "4242/fd/25", group);
    why = held(&t, "0000:41:00.0", &error);
    g_assert_no_error(error);
    expect = g_strdup_printf(
        "0000:41:00.0 is in use by pid 4242 (qemu-system-x86): it holds %s open", group);
    g_assert_cmpstr(why, ==, expect);
    g_assert_null(held(&t, "0000:42:00.0", &error)); /* group 8: nobody */

    /* Its VFIO device file (vfio cdev: vfio-dev/vfioN in sysfs, /dev/vfio/devices/vfioN). */
    g_free(put(t.sys, "bus/pci/devices/0000:42:00.0/vfio-dev/vfio3", NULL));
    cdev = put(t.dev, "vfio/devices/vfio3", "");
    g_free(put(t.proc, "4545/comm", "dpdk-testpmd\n"));
    link_at(t.proc, "4545/fd/9", cdev);
    why = held(&t, "0000:42:00.0", &error);
    g_assert_no_error(error);
    g_assert_true(why && g_str_has_prefix(why, "0000:42:00.0 is in use by pid 4545 (dpdk-testpmd): "
                                               "it holds "));
    g_assert_true(why && g_str_has_suffix(why, "vfio/devices/vfio3 open"));
    {
        g_autofree char *fd9 = g_build_filename(t.proc, "4545/fd/9", NULL);

        g_unlink(fd9);
    }

    /* ... and the domain, when libvirt's status names that pid. */
    g_free(put(t.status, "vmA.xml",
               "<domstatus state='running' pid='4242'><domain type='kvm'><name>vmA</name>"
               "<uuid>6f1b4c5e-0000-4000-8000-00000000000a</uuid><devices/></domain></domstatus>"));
    why = held(&t, "0000:41:00.0", &error);
    g_assert_nonnull(why);
    g_assert_true(g_str_has_prefix(why, "0000:41:00.0 is in use by pid 4242 (qemu-system-x86), "
                                        "domain vmA: "));

    /* Named by a running domain's live XML (base-0 fields, as libvirt writes them or not). */
    g_free(put(t.status, "vmB.xml",
               "<domstatus state='running' pid='4343'><domain type='kvm'><name>vmB</name>"
               "<uuid>6f1b4c5e-0000-4000-8000-00000000000b</uuid><devices>"
               "<hostdev mode='subsystem' type='pci' managed='yes'><source><address "
               "domain='0x0000' bus='66' slot='0' function='0'/></source></hostdev>"
               "</devices></domain></domstatus>"));
    why = held(&t, "0000:42:00.0", &error);
    g_assert_cmpstr(why, ==,
                    "0000:42:00.0 is in use by pid 4343 (?), domain vmB: its live XML passes it "
                    "through");
    /* Its own status file is not someone else's. */
    t.o.self_uuid = "6F1B4C5E-0000-4000-8000-00000000000B";
    g_assert_null(held(&t, "0000:42:00.0", &error));
    g_assert_no_error(error);
    t.o.self_uuid = NULL;

    /* Fails closed: a status file that is not one, a process whose fds cannot be listed. */
    g_free(put(t.status, "junk.xml", "junk"));
    g_assert_null(held(&t, "0000:42:00.0", &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "junk.xml"));
    g_clear_error(&error);
    junk = g_build_filename(t.status, "junk.xml", NULL);
    g_unlink(junk);
    g_free(put(t.proc, "4444/fd", "not a directory"));
    g_assert_null(held(&t, "0000:41:00.0", &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "cannot tell who holds"));
    g_clear_error(&error);
    t.o.proc_root = "/nonexistent-proc";
    g_assert_null(held(&t, "0000:41:00.0", &error));
    g_assert_nonnull(error);
    use_tree_clear(&t);
}

/* ---- the host's own use ---- */

static char *
host_use(const char *sys, const char *proc, const char *bdf, GError **error)
{
    g_autoptr(FpPciDevice) dev = open_dev(sys, bdf);
    char *use = NULL;

    if (!fp_devuse_host(dev, proc, &use, error))
        return NULL;
    return use;
}

static void
test_host_mount(Fixture *f, gconstpointer data)
{
    g_autofree char *sys = g_build_filename(f->root, "sys", NULL);
    g_autofree char *proc = g_build_filename(f->root, "proc", NULL);
    const char *disk = "bus/pci/devices/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda";
    g_autofree char *sda = g_strdup_printf("%s/dev", disk), *sda1 = NULL, *sub = NULL;
    g_autofree char *sub1 = NULL, *dm = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *use = NULL;

    (void)data;
    add_device(sys, "0000:00:17.0", 3, "ahci", "0x010601");
    g_free(put(sys, sda, "8:0\n"));
    sub = g_strdup_printf("%s/subsystem", disk);
    link_at(sys, sub, "../../../../../../../../../class/block");
    sda1 = g_strdup_printf("%s/sda1/dev", disk);
    g_free(put(sys, sda1, "8:1\n"));
    sub1 = g_strdup_printf("%s/sda1/subsystem", disk);
    link_at(sys, sub1, "../../../../../../../../../../class/block");
    dm = g_strdup_printf("%s/holders/dm-0/dev", disk);
    g_free(put(sys, dm, "254:0\n"));

    /* Missing mountinfo: fails closed. */
    g_assert_null(host_use(sys, proc, "0000:00:17.0", &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "mounted"));
    g_clear_error(&error);

    g_free(put(proc, "self/mountinfo",
               "22 1 0:21 / /proc rw - proc proc rw\n"
               "36 25 8:1 / /my\\040boot rw,relatime - ext4 /dev/sda1 rw\n"));
    use = host_use(sys, proc, "0000:00:17.0", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(use, ==, "mounted filesystem /my boot (sda1)");
    g_clear_pointer(&use, g_free);

    /* Through a device-mapper device built on it. */
    g_free(put(proc, "self/mountinfo", "36 25 254:0 / / rw - ext4 /dev/mapper/root rw\n"));
    use = host_use(sys, proc, "0000:00:17.0", &error);
    g_assert_cmpstr(use, ==, "mounted filesystem / (dm-0 on sda)");
    g_clear_pointer(&use, g_free);

    g_free(put(proc, "self/mountinfo", "36 25 8:17 / /other rw - ext4 /dev/sdb1 rw\n"));
    use = host_use(sys, proc, "0000:00:17.0", &error);
    g_assert_no_error(error);
    g_assert_null(use);
}

static void
test_host_net_console(Fixture *f, gconstpointer data)
{
    g_autofree char *sys = g_build_filename(f->root, "sys", NULL);
    g_autofree char *proc = g_build_filename(f->root, "proc", NULL);
    g_autoptr(GError) error = NULL;
    g_autofree char *use = NULL;
    struct ifaddrs *ifa = NULL;
    gboolean lo_has_address = FALSE;

    (void)data;
    g_free(put(proc, "self/mountinfo", ""));
    /* The host's loopback stands in for a NIC's interface: up, with an address, here. */
    g_assert_cmpint(getifaddrs(&ifa), ==, 0);
    for (struct ifaddrs *a = ifa; a; a = a->ifa_next)
        lo_has_address |= a->ifa_addr && !strcmp(a->ifa_name, "lo") &&
                          (a->ifa_addr->sa_family == AF_INET || a->ifa_addr->sa_family == AF_INET6);
    freeifaddrs(ifa);
    add_device(sys, "0000:03:00.0", 5, "e1000e", "0x020000");
    g_free(put(sys, "bus/pci/devices/0000:03:00.0/net/lo/flags", "0x1002\n")); /* down */
    link_at(sys, "bus/pci/devices/0000:03:00.0/net/lo/subsystem", "../../../../../class/net");
    use = host_use(sys, proc, "0000:03:00.0", &error);
    g_assert_no_error(error);
    g_assert_null(use);
    g_free(put(sys, "bus/pci/devices/0000:03:00.0/net/lo/flags", "0x9\n")); /* up */
    use = host_use(sys, proc, "0000:03:00.0", &error);
    g_assert_no_error(error);
    if (lo_has_address)
        g_assert_true(use && g_str_has_prefix(use, "network interface lo (up, address "));
    else
        g_test_message("lo has no address here: the up-with-address case is not checked");
    g_clear_pointer(&use, g_free);

    add_device(sys, "0000:00:02.0", 6, "i915", "0x030000");
    g_free(put(sys, "bus/pci/devices/0000:00:02.0/boot_vga", "0\n"));
    use = host_use(sys, proc, "0000:00:02.0", &error);
    g_assert_null(use);
    g_assert_no_error(error);
    g_free(put(sys, "bus/pci/devices/0000:00:02.0/boot_vga", "1\n"));
    use = host_use(sys, proc, "0000:00:02.0", &error);
    g_assert_cmpstr(use, ==, "console (the boot display, driven by i915)");
}

/* ---- the sysfs writer's child ---- */

typedef struct {
    char *fifo;
    GPtrArray *child_fds; /* what the child held while blocked opening the FIFO */
} Watch;

static pid_t
find_child(void)
{
    g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *path = g_strdup_printf("/proc/%s/stat", name), *text = NULL;
        const char *p;
        char state;
        int ppid;

        if (!g_ascii_isdigit(name[0]) || !g_file_get_contents(path, &text, NULL, NULL))
            continue;
        p = strrchr(text, ')');
        if (p && sscanf(p + 1, " %c %d", &state, &ppid) == 2 && ppid == getpid() && state == 'S')
            return (pid_t)atoi(name);
    }
    return 0;
}

static gpointer
watch_child(gpointer data)
{
    Watch *w = data;
    pid_t child = 0;
    int fd;

    /* The child sleeps only in open() of the FIFO, after it closed what it inherited. */
    for (int i = 0; i < 2000 && !(child = find_child()); i++)
        g_usleep(1000);
    if (child) {
        g_autofree char *dir = g_strdup_printf("/proc/%d/fd", child);
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d)))
            g_ptr_array_add(w->child_fds, g_strdup(name));
    }
    /* Let it go on: it opens the FIFO, writes, and exits. */
    fd = open(w->fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    g_usleep(200000);
    if (fd >= 0)
        close(fd);
    return GINT_TO_POINTER(child);
}

static int
cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_writer_fds(Fixture *f, gconstpointer data)
{
    Watch w = {.fifo = g_build_filename(f->root, "attr", NULL),
               .child_fds = g_ptr_array_new_with_free_func(g_free)};
    g_autoptr(GError) error = NULL;
    g_autofree char *listed = NULL;
    const char *mark = g_getenv("FP_CLOSE_RANGE_MARK");
    GThread *t;
    int leak, high;
    pid_t child;

    (void)data;
    g_assert_cmpint(mkfifo(w.fifo, 0600), ==, 0);
    /* Descriptors without O_CLOEXEC, as a caller (libvirt's pipes, a claim's lock) may hold. */
    leak = open("/dev/null", O_RDONLY);
    high = dup2(leak, 200);
    g_assert_cmpint(high, ==, 200);
    t = g_thread_new("watch", watch_child, &w);
    g_assert_true(fp_sysfs_write(w.fifo, "1", 5000, &error));
    g_assert_no_error(error);
    child = GPOINTER_TO_INT(g_thread_join(t));
    g_assert_cmpint(child, >, 0);
    g_ptr_array_sort(w.child_fds, cmp_str);
    g_ptr_array_add(w.child_fds, NULL);
    listed = g_strjoinv(",", (char **)w.child_fds->pdata);
    g_assert_cmpstr(listed, ==, "0,1,2");
    if (mark) /* run with tests/unit/no-close-range.c preloaded: the fallback closed them */
        g_assert_true(g_file_test(mark, G_FILE_TEST_EXISTS));
    close(leak);
    close(high);
    g_ptr_array_unref(w.child_fds);
    g_free(w.fifo);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/pci/group", Fixture, NULL, setup, test_group, teardown);
    g_test_add("/pci/reset-method-missing-vs-empty", Fixture, NULL, setup, test_reset, teardown);
    g_test_add("/devuse/held-by-process-or-domain", Fixture, NULL, setup, test_held, teardown);
    g_test_add("/devuse/host-mounted-filesystem", Fixture, NULL, setup, test_host_mount, teardown);
    g_test_add("/devuse/host-net-and-console", Fixture, NULL, setup, test_host_net_console,
               teardown);
    g_test_add("/sysfs/writer-child-holds-no-parent-fd", Fixture, NULL, setup, test_writer_fds,
               teardown);
    return g_test_run();
}
