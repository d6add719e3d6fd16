/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tune.h"

#include "cpuset.h"
#include "error.h"
#include "firmware.h"
#include "units.h"
#include "xml.h"

#include <string.h>

#define KIB_2M (2ULL * 1024)
#define KIB_1G (1024ULL * 1024)

/* libvirt's formatting order of the elements the rules insert, so new elements land where
 * `virsh dumpxml` would put them. */
static const char *const domain_order[] = {"name",
                                           "uuid",
                                           "genid",
                                           "title",
                                           "description",
                                           "metadata",
                                           "maxMemory",
                                           "memory",
                                           "currentMemory",
                                           "blkiotune",
                                           "memtune",
                                           "memoryBacking",
                                           "vcpu",
                                           "vcpus",
                                           "iothreads",
                                           "iothreadids",
                                           "defaultiothread",
                                           "cputune",
                                           "numatune",
                                           "resource",
                                           "sysinfo",
                                           "bootloader",
                                           "bootloader_args",
                                           "os",
                                           "idmap",
                                           "features",
                                           "cpu",
                                           "clock",
                                           "on_poweroff",
                                           "on_reboot",
                                           "on_crash",
                                           "on_lockfailure",
                                           "pm",
                                           "perf",
                                           "devices",
                                           "seclabel",
                                           "keywrap",
                                           "launchSecurity",
                                           NULL};
static const char *const membacking_order[] = {"hugepages", "nosharepages", "locked",  "source",
                                               "access",    "allocation",   "discard", NULL};
static const char *const cputune_order[] = {"shares",         "period",          "quota",
                                            "global_period",  "global_quota",    "emulator_period",
                                            "emulator_quota", "iothread_period", "iothread_quota",
                                            "vcpupin",        "emulatorpin",     "iothreadpin",
                                            "vcpusched",      "iothreadsched",   "emulatorsched",
                                            "cachetune",      "memorytune",      NULL};
static const char *const numatune_order[] = {"memory", "memnode", NULL};
static const char *const os_order[] = {
    "type",     "firmware",  "loader", "nvram",    "kernel",  "initrd",  "cmdline",
    "shim",     "dtb",       "acpi",   "boot",     "initarg", "initenv", "initdir",
    "inituser", "initgroup", "init",   "bootmenu", "smbios",  "bios",    NULL};
static const char *const devices_order[] = {
    "emulator", "disk",       "controller", "lease",   "filesystem", "interface",   "smartcard",
    "serial",   "parallel",   "console",    "channel", "input",      "tpm",         "graphics",
    "sound",    "audio",      "video",      "hostdev", "redirdev",   "redirfilter", "hub",
    "watchdog", "memballoon", "rng",        "panic",   "shmem",      "memory",      "iommu",
    "vsock",    "crypto",     NULL};
static const char *const hostdev_order[] = {"rom", "address", "acpi", "teaming", NULL};

typedef struct {
    FpDomain *dom;
    xmlNode *root;
    const FpHost *host;
    const FpTuneOptions *opts;
    gboolean apply;
    FpTuneResult *res;
    const char *rule;
    gboolean uefi;        /* the domain boots UEFI (OVMF): the UEFI rules apply */
    int node;             /* NUMA node of the domain's PCI devices; -1 unknown or none */
    char *placement_note; /* a warning about that choice, given when the numa rule acts */
} RuleCtx;

static void G_GNUC_PRINTF(4, 5)
    finding(RuleCtx *ctx, xmlNode *where, const char *fix, const char *fmt, ...)
{
    FpFinding *f = g_new0(FpFinding, 1);
    va_list ap;

    va_start(ap, fmt);
    f->rule = ctx->rule;
    f->path = fp_xml_path(where);
    f->message = g_strdup_vprintf(fmt, ap);
    f->fix = g_strdup(fix);
    va_end(ap);
    g_ptr_array_add(ctx->res->findings, f);
}

static void G_GNUC_PRINTF(2, 3) warn(RuleCtx *ctx, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_ptr_array_add(ctx->res->warnings, g_strdup_printf("%s: %s", ctx->rule, msg));
}

static void
set_prop(xmlNode *node, const char *name, const char *value)
{
    xmlSetProp(node, BAD_CAST name, BAD_CAST value);
}

/* --- rule: bootmenu ------------------------------------------------------------------------ */

static gboolean
rule_bootmenu(RuleCtx *ctx, GError **error)
{
    xmlNode *os = fp_xml_child(ctx->root, "os");
    xmlNode *bm = fp_xml_child(os, "bootmenu");

    if (!os || fp_xml_prop_is(bm, "enable", "no"))
        return TRUE;
    /* OVMF skips its boot manager's countdown for -kernel; a disk or network boot waits. */
    const char *on = ctx->uefi ? "boot menu is on: OVMF counts down its boot timeout before "
                                 "booting a disk (+3.3 s measured, TCG)"
                               : "boot menu is on: SeaBIOS waits for a key press (2.5 s by "
                                 "default) on every start";
    const char *unset = ctx->uefi ? "boot menu is not turned off explicitly: OVMF counts down a "
                                    "boot timeout when it is on (+3.3 s measured, TCG)"
                                  : "boot menu is not turned off explicitly: SeaBIOS may wait "
                                    "for a key press (2.5 s)";

    finding(ctx, bm ? bm : os, "<os><bootmenu enable='no'/></os>", "%s",
            bm && fp_xml_prop_is(bm, "enable", "yes") ? on : unset);
    if (!ctx->apply)
        return TRUE;
    if (!bm)
        bm = fp_xml_insert(os, "bootmenu", os_order);
    set_prop(bm, "enable", "no");
    xmlUnsetProp(bm, BAD_CAST "timeout");
    return TRUE;
}

/* --- rule: hugepages ----------------------------------------------------------------------- */

/* Every size that must be a whole number of pages: guest memory, guest NUMA cells, DIMMs. */
static gboolean
memory_sizes(RuleCtx *ctx, GArray *sizes, GError **error)
{
    guint64 kib;
    xmlNode *numa = fp_xml_child(fp_xml_child(ctx->root, "cpu"), "numa");

    if (!fp_domain_memory_kib(ctx->dom, &kib, error))
        return FALSE;
    g_array_append_val(sizes, kib);
    fp_xml_foreach_child (cell, numa, "cell") {
        g_autofree char *mem = fp_xml_prop(cell, "memory"), *unit = fp_xml_prop(cell, "unit");

        if (mem) {
            if (!fp_units_to_kib(mem, unit, &kib, error))
                return FALSE;
            g_array_append_val(sizes, kib);
        }
    }
    fp_xml_foreach_child (dimm, fp_xml_child(ctx->root, "devices"), "memory") {
        xmlNode *size = fp_xml_child(fp_xml_child(dimm, "target"), "size");
        g_autofree char *text = fp_xml_text(size), *unit = fp_xml_prop(size, "unit");

        if (size) {
            if (!fp_units_to_kib(text, unit, &kib, error))
                return FALSE;
            g_array_append_val(sizes, kib);
        }
    }
    return TRUE;
}

static gboolean
all_multiples(GArray *sizes, guint64 page)
{
    for (guint i = 0; i < sizes->len; i++) {
        if (g_array_index(sizes, guint64, i) % page)
            return FALSE;
    }
    return TRUE;
}

static gboolean
rule_hugepages(RuleCtx *ctx, GError **error)
{
    xmlNode *mb = fp_xml_child(ctx->root, "memoryBacking");
    g_autoptr(GArray) sizes = g_array_new(FALSE, FALSE, sizeof(guint64));
    gboolean pages_known = ctx->host->page_sizes_kib->len > 0;
    guint64 page = 0;
    xmlNode *hp, *pg;
    char fix[128];

    if (fp_xml_child(mb, "hugepages"))
        return TRUE; /* an explicit choice, whatever it is */
    if (!fp_xml_child(ctx->root, "memory"))
        return TRUE;
    if (!memory_sizes(ctx, sizes, error))
        return FALSE;
    if (all_multiples(sizes, KIB_1G) && fp_host_has_page_size(ctx->host, KIB_1G))
        page = KIB_1G;
    else if (all_multiples(sizes, KIB_2M) &&
             (!pages_known || fp_host_has_page_size(ctx->host, KIB_2M)))
        page = KIB_2M;

    if (page)
        g_snprintf(fix, sizeof(fix),
                   "<memoryBacking><hugepages><page size='%" G_GUINT64_FORMAT
                   "' unit='KiB'/></hugepages>",
                   page);
    else
        g_snprintf(fix, sizeof(fix),
                   "make guest memory a multiple of 2 MiB and add <memoryBacking><hugepages/>");
    finding(ctx, mb ? mb : fp_xml_child(ctx->root, "memory"), fix,
            "guest memory is backed by 4 KiB pages: VFIO faults and zeroes %" G_GUINT64_FORMAT
            " pages one by one at start",
            g_array_index(sizes, guint64, 0) / 4);
    if (!ctx->apply)
        return TRUE;
    if (!page) {
        if (pages_known && !fp_host_has_page_size(ctx->host, KIB_2M))
            warn(ctx, "the host offers no 2 MiB or 1 GiB hugepages; left unchanged");
        else
            warn(
                ctx,
                "guest memory (or a NUMA cell or DIMM) is not a multiple of 2 MiB; left unchanged");
        return TRUE;
    }
    if (!pages_known)
        warn(ctx,
             "host hugepage sizes unknown (no sysfs entry, no --host-caps); chose 2 MiB pages");
    mb = fp_xml_ensure(ctx->root, "memoryBacking", domain_order);
    hp = fp_xml_insert(mb, "hugepages", membacking_order);
    pg = fp_xml_insert(hp, "page", NULL);
    {
        g_autofree char *size = g_strdup_printf("%" G_GUINT64_FORMAT, page);
        set_prop(pg, "size", size);
        set_prop(pg, "unit", "KiB");
    }
    return TRUE;
}

/* --- rule: allocation ---------------------------------------------------------------------- */

/* Prealloc threads: the CPUs of the node the memory will come from (all nodes when unplaced). */
static guint
prealloc_threads(RuleCtx *ctx)
{
    guint n = 0;

    for (guint i = 0; i < ctx->host->nodes->len; i++) {
        const FpNumaNode *node = g_ptr_array_index(ctx->host->nodes, i);

        if (ctx->node < 0 || (guint)ctx->node == node->id)
            n += node->cpus->len;
    }
    return n;
}

static gboolean
rule_allocation(RuleCtx *ctx, GError **error)
{
    xmlNode *mb = fp_xml_child(ctx->root, "memoryBacking");
    xmlNode *alloc = fp_xml_child(mb, "allocation");
    g_autofree char *mode = fp_xml_prop(alloc, "mode");
    guint threads = prealloc_threads(ctx);
    g_autofree char *fix =
        threads
            ? g_strdup_printf("<memoryBacking><allocation mode='immediate' threads='%u'/>", threads)
            : g_strdup("<memoryBacking><allocation mode='immediate' threads='N'/> (N: CPUs of the "
                       "NUMA node)");

    if (g_strcmp0(mode, "ondemand") == 0)
        return TRUE; /* an explicit choice */
    if (alloc && g_strcmp0(mode, "immediate") == 0 && xmlHasProp(alloc, BAD_CAST "threads"))
        return TRUE;
    if (alloc && g_strcmp0(mode, "immediate") == 0 && !threads)
        return TRUE; /* nothing more to add without knowing the host's CPUs */
    finding(ctx, alloc ? alloc : (mb ? mb : ctx->root), fix,
            alloc ? "guest memory is allocated up front by a single thread"
                  : "guest memory is allocated on demand by one thread; VFIO then faults it all in "
                    "at start");
    if (!ctx->apply)
        return TRUE;
    if (!alloc) {
        mb = fp_xml_ensure(ctx->root, "memoryBacking", domain_order);
        alloc = fp_xml_insert(mb, "allocation", membacking_order);
    }
    set_prop(alloc, "mode", "immediate");
    if (threads) {
        g_autofree char *t = g_strdup_printf("%u", threads);
        set_prop(alloc, "threads", t);
    } else {
        warn(ctx, "host CPUs unknown (no sysfs entry, no --host-caps); threads not set");
    }
    return TRUE;
}

/* --- rule: numa ---------------------------------------------------------------------------- */

/* The node most of the domain's PCI devices sit on (ties: the lowest id). Says in
 * placement_note why that is not the whole story (a device of unknown node, a split). */
static void
plan_placement(RuleCtx *ctx)
{
    g_autoptr(GHashTable) votes = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GString) seen = g_string_new(NULL);
    guint best_votes = 0;

    ctx->node = -1;
    for (guint i = 0; i < ctx->dom->hostdevs->len; i++) {
        const FpHostdev *hd = &g_array_index(ctx->dom->hostdevs, FpHostdev, i);
        int node = fp_host_device_node(ctx->host, &hd->addr);
        guint v;

        if (node < 0) {
            ctx->node = -1;
            ctx->placement_note =
                g_strdup_printf("NUMA node of %s unknown (not in sysfs or the device "
                                "topology file); placement skipped",
                                hd->bdf);
            return;
        }
        v = GPOINTER_TO_UINT(g_hash_table_lookup(votes, GINT_TO_POINTER(node + 1))) + 1;
        if (v == 1)
            g_string_append_printf(seen, "%s%d", seen->len ? "," : "", node);
        g_hash_table_insert(votes, GINT_TO_POINTER(node + 1), GUINT_TO_POINTER(v));
        if (v > best_votes || (v == best_votes && node < ctx->node)) {
            best_votes = v;
            ctx->node = node;
        }
    }
    if (g_hash_table_size(votes) > 1)
        ctx->placement_note = g_strdup_printf("PCI devices span NUMA nodes %s; placing on node %d, "
                                              "which holds most of them",
                                              seen->str, ctx->node);
}

static gboolean
vcpu_pinned(xmlNode *cputune, guint id)
{
    fp_xml_foreach_child (pin, cputune, "vcpupin") {
        g_autofree char *text = fp_xml_prop(pin, "vcpu");
        guint64 v;

        if (g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT, &v, NULL) && v == id)
            return TRUE;
    }
    return FALSE;
}

static gboolean
rule_numa(RuleCtx *ctx, GError **error)
{
    xmlNode *vcpu = fp_xml_child(ctx->root, "vcpu");
    xmlNode *cputune = fp_xml_child(ctx->root, "cputune");
    xmlNode *numatune = fp_xml_child(ctx->root, "numatune");
    xmlNode *memory = fp_xml_child(numatune, "memory");
    /* <vcpu placement='auto'> or cpuset=: the operator (or numad) already chose the CPUs. */
    gboolean cpus_chosen =
        fp_xml_prop_is(vcpu, "placement", "auto") || xmlHasProp(vcpu, BAD_CAST "cpuset");
    guint nvcpus = fp_domain_vcpus(ctx->dom);
    g_autoptr(GArray) missing_pins = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autoptr(GPtrArray) missing = g_ptr_array_new();
    const FpNumaNode *node;
    g_autofree char *cpus = NULL, *nodeset = NULL, *fix = NULL, *what = NULL;

    if (ctx->dom->hostdevs->len == 0 || fp_xml_prop_is(memory, "placement", "auto"))
        return TRUE;
    for (guint i = 0; !cpus_chosen && i < nvcpus; i++) {
        if (!vcpu_pinned(cputune, i))
            g_array_append_val(missing_pins, i);
    }
    if (missing_pins->len)
        g_ptr_array_add(missing, "vCPUs");
    if (!cpus_chosen && !fp_xml_child(cputune, "emulatorpin"))
        g_ptr_array_add(missing, "emulator");
    if (!memory)
        g_ptr_array_add(missing, "memory");
    if (!missing->len)
        return TRUE;
    g_ptr_array_add(missing, NULL);
    what = g_strjoinv(", ", (char **)missing->pdata);

    node = ctx->node >= 0 ? fp_host_node(ctx->host, ctx->node) : NULL;
    cpus = node ? fp_cpuset_format(node->cpus) : g_strdup("CPUS-OF-NODE");
    nodeset = ctx->node >= 0 ? g_strdup_printf("%d", ctx->node) : g_strdup("NODE");
    fix = g_strdup_printf(
        "<cputune><vcpupin vcpu='I' cpuset='%s'/>...<emulatorpin cpuset='%s'/></cputune>"
        "<numatune><memory mode='strict' nodeset='%s'/></numatune>",
        cpus, cpus, nodeset);
    finding(ctx, memory ? cputune : (numatune ? numatune : ctx->root), fix,
            "%s not pinned to the NUMA node of the domain's PCI devices (node %s)", what, nodeset);
    if (ctx->placement_note)
        warn(ctx, "%s", ctx->placement_note);
    if (!ctx->apply || ctx->node < 0)
        return TRUE;
    if (!node) {
        warn(ctx,
             "the devices are on NUMA node %d, which the host topology does not list; left "
             "unchanged",
             ctx->node);
        return TRUE;
    }
    if (missing_pins->len || (!cpus_chosen && !fp_xml_child(cputune, "emulatorpin")))
        cputune = fp_xml_ensure(ctx->root, "cputune", domain_order);
    for (guint i = 0; i < missing_pins->len; i++) {
        xmlNode *pin = fp_xml_insert(cputune, "vcpupin", cputune_order);
        g_autofree char *id = g_strdup_printf("%u", g_array_index(missing_pins, guint, i));

        set_prop(pin, "vcpu", id);
        set_prop(pin, "cpuset", cpus);
    }
    if (!cpus_chosen && !fp_xml_child(cputune, "emulatorpin"))
        set_prop(fp_xml_insert(cputune, "emulatorpin", cputune_order), "cpuset", cpus);
    if (!memory) {
        numatune = fp_xml_ensure(ctx->root, "numatune", domain_order);
        memory = fp_xml_insert(numatune, "memory", numatune_order);
        set_prop(memory, "mode", "strict");
        set_prop(memory, "nodeset", nodeset);
    }
    return TRUE;
}

/* --- rule: memballoon ---------------------------------------------------------------------- */

static gboolean
rule_memballoon(RuleCtx *ctx, GError **error)
{
    xmlNode *devices = fp_xml_child(ctx->root, "devices");
    xmlNode *balloon = fp_xml_child(devices, "memballoon");

    if (!devices || ctx->dom->hostdevs->len == 0 || fp_xml_prop_is(balloon, "model", "none"))
        return TRUE;
    finding(ctx, balloon ? balloon : devices, "<memballoon model='none'/>",
            balloon
                ? "a memory balloon cannot reclaim memory that VFIO has pinned for the PCI devices"
                : "without <memballoon>, libvirt adds a virtio balloon, which cannot work with "
                  "memory VFIO has pinned");
    if (!ctx->apply)
        return TRUE;
    if (!balloon) {
        balloon = fp_xml_insert(devices, "memballoon", devices_order);
    } else {
        /* model='none' takes no address, stats or driver. */
        while (balloon->properties)
            xmlRemoveProp(balloon->properties);
        while (balloon->children) {
            xmlNode *c = balloon->children;
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        }
    }
    set_prop(balloon, "model", "none");
    return TRUE;
}

/* --- rule: rom ----------------------------------------------------------------------------- */

static gboolean
is_boot_display(RuleCtx *ctx, const FpHostdev *hd)
{
    for (guint i = 0; ctx->opts->boot_display && i < ctx->opts->boot_display->len; i++) {
        if (g_strcmp0(g_ptr_array_index(ctx->opts->boot_display, i), hd->bdf) == 0)
            return TRUE;
    }
    return FALSE;
}

static gboolean
rule_rom(RuleCtx *ctx, GError **error)
{
    for (guint i = 0; i < ctx->dom->hostdevs->len; i++) {
        const FpHostdev *hd = &g_array_index(ctx->dom->hostdevs, FpHostdev, i);

        /* An explicit <rom>, a device the guest boots from, or the boot display keeps its ROM. */
        if (fp_xml_child(hd->elem, "rom") || fp_xml_child(hd->elem, "boot") ||
            is_boot_display(ctx, hd))
            continue;
        finding(ctx, hd->elem, "<rom bar='off'/>",
                "SeaBIOS runs the option ROM of %s, which the guest does not boot from", hd->bdf);
        if (ctx->apply)
            set_prop(fp_xml_insert(hd->elem, "rom", hostdev_order), "bar", "off");
    }
    return TRUE;
}

/* --- rule: mmio64 (UEFI) ------------------------------------------------------------------- */

#define MMIO64_ENTRY "opt/ovmf/X-PciMmio64Mb"
#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"
/* Debian 12's OVMF (2022.11) puts its 64-bit PCI MMIO window at the top of the guest's physical
 * address space, an eighth of it: 128 GiB with the 40 bits QEMU gives TCG and its named CPU
 * models. Measured (TCG, ivshmem-plain as a stand-in for a large BAR): a 128 GiB BAR was mapped
 * by the firmware, a 256 GiB one left unassigned; with opt/ovmf/X-PciMmio64Mb=262144 the same
 * BAR was mapped. A guest with the host's physical address bits (host-phys-bits, <maxphysaddr
 * mode='passthrough'/>) gets a larger window; not measured here. */
#define OVMF_MMIO64_DEFAULT_MIB (128ULL * 1024)

/* <qemu:commandline>, the only way libvirt 9 passes this entry: it refuses opt/ovmf/ names in
 * <sysinfo type='fwcfg'> ("That firmware name is reserved"). */
static xmlNode *
qemu_commandline(RuleCtx *ctx, gboolean create)
{
    xmlNs *ns;
    xmlNode *cl;

    fp_xml_foreach_child (c, ctx->root, "commandline") {
        if (c->ns && g_strcmp0((const char *)c->ns->href, QEMU_NS) == 0)
            return c;
    }
    if (!create)
        return NULL;
    if (!(ns = xmlSearchNsByHref(ctx->root->doc, ctx->root, BAD_CAST QEMU_NS)))
        ns = xmlNewNs(ctx->root, BAD_CAST QEMU_NS, BAD_CAST "qemu");
    cl = fp_xml_insert(ctx->root, "commandline", NULL);
    xmlSetNs(cl, ns);
    return cl;
}

/* The operator already sized the window. */
static gboolean
mmio64_chosen(RuleCtx *ctx)
{
    fp_xml_foreach_child (arg, qemu_commandline(ctx, FALSE), "arg") {
        g_autofree char *value = fp_xml_prop(arg, "value");

        if (value && strstr(value, MMIO64_ENTRY))
            return TRUE;
    }
    return FALSE;
}

static void
add_arg(xmlNode *cl, const char *value)
{
    xmlNode *arg = fp_xml_insert(cl, "arg", NULL);

    xmlSetNs(arg, cl->ns);
    set_prop(arg, "value", value);
}

static gboolean
rule_mmio64(RuleCtx *ctx, GError **error)
{
    guint64 total = 0, mib = 1;
    g_autofree char *value = NULL, *fix = NULL;
    xmlNode *cl;

    if (!ctx->uefi || ctx->dom->hostdevs->len == 0 || mmio64_chosen(ctx))
        return TRUE;
    for (guint i = 0; i < ctx->dom->hostdevs->len; i++) {
        const FpHostdev *hd = &g_array_index(ctx->dom->hostdevs, FpHostdev, i);
        guint64 bytes;

        if (!fp_host_device_mmio64(ctx->host, &hd->addr, &bytes)) {
            warn(ctx, "64-bit BARs of %s unknown (not in sysfs); OVMF's MMIO window not sized",
                 hd->bdf);
            return TRUE;
        }
        total += bytes;
    }
    /* A power of two: OVMF aligns the window, and each BAR within it, to its size. */
    while (mib * 1024 * 1024 < total)
        mib <<= 1;
    if (mib <= OVMF_MMIO64_DEFAULT_MIB)
        return TRUE;
    value = g_strdup_printf("name=" MMIO64_ENTRY ",string=%" G_GUINT64_FORMAT, mib);
    fix = g_strdup_printf("<qemu:commandline><qemu:arg value='-fw_cfg'/><qemu:arg value='%s'/>"
                          "</qemu:commandline>",
                          value);
    finding(ctx, g_array_index(ctx->dom->hostdevs, FpHostdev, 0).elem, fix,
            "the PCI devices' 64-bit BARs (%" G_GUINT64_FORMAT " MiB) do not fit OVMF's "
            "128 GiB 64-bit MMIO window (at 40 physical address bits): the firmware leaves them "
            "unassigned (measured: a 256 GiB BAR unassigned without the entry, mapped with it)",
            total >> 20);
    if (!ctx->apply)
        return TRUE;
    cl = qemu_commandline(ctx, TRUE);
    add_arg(cl, "-fw_cfg");
    add_arg(cl, value);
    return TRUE;
}

/* --- the table ----------------------------------------------------------------------------- */

typedef gboolean (*RuleFunc)(RuleCtx *ctx, GError **error);

static const struct {
    FpRuleInfo info;
    RuleFunc run;
} rules[] = {
    {{"bootmenu", "boot menu off: SeaBIOS otherwise waits 2.5 s for a key, OVMF counts down"},
     rule_bootmenu},
    {{"hugepages", "back guest memory with 1 GiB or 2 MiB hugepages"}, rule_hugepages},
    {{"allocation", "allocate guest memory up front with one thread per CPU of the node"},
     rule_allocation},
    {{"numa", "pin vCPUs, emulator and memory to the NUMA node of the PCI devices"}, rule_numa},
    {{"memballoon", "no memory balloon when PCI devices pin guest memory"}, rule_memballoon},
    {{"rom", "skip option ROMs of PCI devices that are not the boot display"}, rule_rom},
    {{"mmio64", "UEFI: a 64-bit MMIO window that fits the PCI devices' BARs"}, rule_mmio64},
};

const FpRuleInfo *
fp_tune_rules(guint *count)
{
    static FpRuleInfo infos[G_N_ELEMENTS(rules)];

    for (gsize i = 0; i < G_N_ELEMENTS(rules); i++)
        infos[i] = rules[i].info;
    *count = G_N_ELEMENTS(rules);
    return infos;
}

int
fp_tune_rule_index(const char *id)
{
    for (gsize i = 0; i < G_N_ELEMENTS(rules); i++) {
        if (g_strcmp0(rules[i].info.id, id) == 0)
            return (int)i;
    }
    return -1;
}

static void
finding_free(gpointer p)
{
    FpFinding *f = p;

    g_free(f->path);
    g_free(f->message);
    g_free(f->fix);
    g_free(f);
}

void
fp_tune_result_free(FpTuneResult *res)
{
    if (!res)
        return;
    g_ptr_array_unref(res->findings);
    g_ptr_array_unref(res->warnings);
    g_free(res);
}

FpTuneResult *
fp_tune_run(FpDomain *dom, const FpHost *host, const FpTuneOptions *opts, gboolean apply,
            GError **error)
{
    static const FpTuneOptions no_opts = {0};
    g_autoptr(FpTuneResult) res = g_new0(FpTuneResult, 1);
    RuleCtx ctx = {
        .dom = dom,
        .root = fp_domain_root(dom),
        .host = host,
        .opts = opts ? opts : &no_opts,
        .apply = apply,
        .node = -1,
    };

    res->findings = g_ptr_array_new_with_free_func(finding_free);
    res->warnings = g_ptr_array_new_with_free_func(g_free);
    ctx.res = res;
    {
        g_autoptr(FpFirmware) fw =
            fp_firmware_of_domain(ctx.root->doc, NULL, FP_FIRMWARE_DESCRIBE, NULL);

        ctx.uefi = fw && fw->type == FP_FW_UEFI;
    }
    if (dom->hostdevs->len && !(ctx.opts->disabled & (1u << fp_tune_rule_index("numa"))))
        plan_placement(&ctx);
    for (gsize i = 0; i < G_N_ELEMENTS(rules); i++) {
        if (ctx.opts->disabled & (1u << i))
            continue;
        ctx.rule = rules[i].info.id;
        if (!rules[i].run(&ctx, error)) {
            g_prefix_error(error, "%s: ", dom->origin);
            g_free(ctx.placement_note);
            return NULL;
        }
    }
    g_free(ctx.placement_note);
    return g_steal_pointer(&res);
}
