/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tune rules, one table row per behaviour: input domain, host, expected end state. */
#include "domain.h"
#include "error.h"
#include "host.h"
#include "lint.h"
#include "tune.h"

#include <glib/gstdio.h>
#include <unistd.h>
#include <string.h>

#define CAPS FP_TEMPLATES "/host/caps.xml" /* 2 nodes: CPUs 0-23 and 24-47; 2M and 1G pages */

typedef enum { HOST_CAPS, HOST_CAPS_NO_1G, HOST_UNKNOWN } HostKind;

typedef struct {
    const char *name;
    HostKind host;
    const char *topology; /* JSON, or NULL */
    const char *skip;     /* rule id, or NULL */
    const char *boot_display;
    const char *body; /* the domain's children after <name> */
    const char *expect[6];
    const char *absent[4];
    const char *warning; /* substring of one warning, or NULL for "no warnings" */
    gboolean lint_clean; /* lint of the tuned output finds nothing */
} Case;

/* A case whose host has a sysfs with one device, 0000:41:00.0, and its BARs. */
typedef struct {
    Case c;
    const char *resource; /* the device's sysfs resource file; NULL: not in sysfs */
} BarCase;

#define GPU(bus)                                                                                   \
    "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"                                    \
    "      <source>\n"                                                                             \
    "        <address domain='0x0000' bus='" bus "' slot='0x00' function='0x0'/>\n"                \
    "      </source>\n"                                                                            \
    "    </hostdev>\n"
#define OS "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n"
#define UEFI_OS(boot)                                                                              \
    "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n"                                   \
    "    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>\n"          \
    "    <nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'/>\n" boot                               \
    "    <bootmenu enable='no'/>\n  </os>\n"
#define OS_UEFI UEFI_OS("")
/* sysfs's resource lines: BAR 0 32-bit 16 MiB, BAR 1 64-bit prefetchable 256 GiB, BAR 3 64-bit
 * 32 MiB, as a data-center GPU with a large BAR1 shows them. */
#define BARS_256G                                                                                  \
    "0x00000000fd000000 0x00000000fdffffff 0x0000000000040200\n"                                   \
    "0x0000004000000000 0x0000007fffffffff 0x000000000014220c\n"                                   \
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"                                   \
    "0x0000008000000000 0x0000008001ffffff 0x000000000014220c\n"                                   \
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"                                   \
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
#define BARS_128G                                                                                  \
    "0x00000000fd000000 0x00000000fdffffff 0x0000000000040200\n"                                   \
    "0x0000004000000000 0x0000005fffffffff 0x000000000014220c\n"
/* An operator's own window: kept. */
#define WINDOW_64G                                                                                 \
    "  <qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"               \
    "    <qemu:arg value='-fw_cfg'/>\n"                                                            \
    "    <qemu:arg value='name=opt/ovmf/X-PciMmio64Mb,string=65536'/>\n  </qemu:commandline>\n"
#define MEM(kib) "  <memory unit='KiB'>" kib "</memory>\n  <vcpu placement='static'>2</vcpu>\n"

static const Case cases[] = {
    {"bootmenu/added-when-absent",
     HOST_CAPS,
     NULL,
     NULL,
     NULL,
     MEM("1048576") OS "  <devices/>\n",
     {"    <type arch='x86_64' machine='q35'>hvm</type>\n    <bootmenu enable='no'/>\n  </os>"},
     {NULL},
     NULL,
     TRUE},
    {"bootmenu/on-turned-off",
     HOST_CAPS,
     NULL,
     NULL,
     NULL,
     MEM("1048576") "  <os>\n    <type>hvm</type>\n    <bootmenu enable='yes' timeout='3000'/>\n  "
                    "</os>\n",
     {"<bootmenu enable='no'/>"},
     {"timeout", "enable='yes'"},
     NULL,
     TRUE},
    {"hugepages/1g-when-aligned-and-host-has-1g",
     HOST_CAPS,
     NULL,
     NULL,
     NULL,
     MEM("4194304") OS,
     {"  <memoryBacking>\n    <hugepages>\n      <page size='1048576' unit='KiB'/>\n    "
      "</hugepages>\n"},
     {NULL},
     NULL,
     TRUE},
    {"hugepages/2m-when-not-a-gib-multiple",
     HOST_CAPS,
     NULL,
     NULL,
     NULL,
     MEM("1572864") OS,
     {"<page size='2048' unit='KiB'/>"},
     {"1048576' unit"},
     NULL,
     TRUE},
    {"hugepages/2m-when-host-has-no-1g",
     HOST_CAPS_NO_1G,
     NULL,
     NULL,
     NULL,
     MEM("4194304") OS,
     {"<page size='2048' unit='KiB'/>"},
     {NULL},
     NULL,
     TRUE},
    {"hugepages/2m-and-warning-when-host-unknown",
     HOST_UNKNOWN,
     NULL,
     NULL,
     NULL,
     MEM("4194304") OS,
     {"<page size='2048' unit='KiB'/>", "<allocation mode='immediate'/>"},
     {"threads="},
     "hugepage sizes unknown",
     TRUE},
    {"hugepages/explicit-choice-kept",
     HOST_CAPS,
     NULL,
     NULL,
     NULL,
     MEM("4194304") "  <memoryBacking>\n    <hugepages>\n      <page size='2048' unit='KiB'/>\n"
                    "    </hugepages>\n  </memoryBacking>\n" OS,
     {"<page size='2048' unit='KiB'/>"},
     {"1048576' unit"},
     NULL,
     TRUE},
    {"hugepages/unaligned-memory-skipped-with-warning",
     HOST_CAPS,
     NULL,
     NULL,
     NULL,
     MEM("219100") OS,
     {"<allocation mode='immediate' threads='48'/>"},
     {"<hugepages"},
     "not a multiple of 2 MiB",
     FALSE},
    {"hugepages/numa-cell-must-align-too",
     HOST_CAPS,
     NULL,
     NULL,
     NULL,
     MEM("2097152") OS
     "  <cpu>\n    <numa>\n      <cell id='0' cpus='0' memory='1048576' unit='KiB'/>\n"
     "      <cell id='1' cpus='1' memory='1048576' unit='KiB'/>\n    </numa>\n  </cpu>\n",
     {"<page size='1048576' unit='KiB'/>"},
     {NULL},
     NULL,
     TRUE},
    {"allocation/threads-are-cpus-of-the-devices-node",
     HOST_CAPS,
     "{\"0000:c1:00.0\": 1}",
     NULL,
     NULL,
     MEM("4194304") OS "  <devices>\n" GPU("0xc1") "  </devices>\n",
     {"<allocation mode='immediate' threads='24'/>", "<vcpupin vcpu='0' cpuset='24-47'/>",
      "<vcpupin vcpu='1' cpuset='24-47'/>", "<emulatorpin cpuset='24-47'/>",
      "<numatune>\n    <memory mode='strict' nodeset='1'/>\n  </numatune>"},
     {NULL},
     NULL,
     TRUE},
    {"allocation/ondemand-choice-kept",
     HOST_CAPS,
     NULL,
     NULL,
     NULL,
     MEM("4194304") "  <memoryBacking>\n    <allocation mode='ondemand'/>\n  </memoryBacking>\n" OS,
     {"<allocation mode='ondemand'/>"},
     {"immediate"},
     NULL,
     TRUE},
    {"allocation/threads-added-to-immediate",
     HOST_CAPS,
     NULL,
     NULL,
     NULL,
     MEM("4194304") "  <memoryBacking>\n    <allocation mode='immediate'/>\n  "
                    "</memoryBacking>\n" OS,
     {"<allocation mode='immediate' threads='48'/>"},
     {NULL},
     NULL,
     TRUE},
    {"numa/majority-node-wins-with-warning",
     HOST_CAPS,
     "{\"0000:41:00.0\": 0, \"0000:c1:00.0\": 1, \"0000:c2:00.0\": 1}",
     NULL,
     NULL,
     MEM("4194304") OS "  <devices>\n" GPU("0x41") GPU("0xc1") GPU("0xc2") "  </devices>\n",
     {"nodeset='1'", "<emulatorpin cpuset='24-47'/>"},
     {"nodeset='0'"},
     "span NUMA nodes 0,1",
     TRUE},
    {"numa/unknown-device-node-skipped",
     HOST_CAPS,
     NULL,
     NULL,
     NULL,
     MEM("4194304") OS "  <devices>\n" GPU("0x41") "  </devices>\n",
     {"<memballoon model='none'/>", "<rom bar='off'/>"},
     {"<numatune", "<vcpupin"},
     "NUMA node of 0000:41:00.0 unknown",
     FALSE},
    {"numa/existing-pins-kept",
     HOST_CAPS,
     "{\"0000:41:00.0\": 0}",
     NULL,
     NULL,
     MEM("4194304") "  <cputune>\n    <vcpupin vcpu='0' cpuset='5'/>\n  </cputune>\n" OS
                    "  <devices>\n" GPU("0x41") "  </devices>\n",
     {"    <vcpupin vcpu='0' cpuset='5'/>\n    <vcpupin vcpu='1' cpuset='0-23'/>\n    <emulatorpin "
      "cpuset='0-23'/>\n"},
     {"<vcpupin vcpu='0' cpuset='0-23'/>"},
     NULL,
     TRUE},
    {"numa/numad-placement-respected",
     HOST_CAPS,
     "{\"0000:41:00.0\": 0}",
     NULL,
     NULL,
     "  <memory unit='KiB'>4194304</memory>\n  <vcpu placement='auto'>2</vcpu>\n"
     "  <numatune>\n    <memory mode='strict' placement='auto'/>\n  </numatune>\n" OS
     "  <devices>\n" GPU("0x41") "  </devices>\n",
     {"placement='auto'/>"},
     {"<vcpupin", "<emulatorpin", "nodeset="},
     NULL,
     TRUE},
    {"numa/no-hostdev-no-pinning",
     HOST_CAPS,
     NULL,
     NULL,
     NULL,
     MEM("4194304") OS "  <devices/>\n",
     {"threads='48'"},
     {"<cputune", "<numatune", "<memballoon"},
     NULL,
     TRUE},
    {"memballoon/added-with-hostdev",
     HOST_CAPS,
     "{\"0000:41:00.0\": 0}",
     NULL,
     NULL,
     MEM("4194304") OS "  <devices>\n" GPU("0x41") "  </devices>\n",
     {"    </hostdev>\n    <memballoon model='none'/>\n  </devices>"},
     {NULL},
     NULL,
     TRUE},
    {"memballoon/virtio-replaced-and-emptied",
     HOST_CAPS,
     "{\"0000:41:00.0\": 0}",
     NULL,
     NULL,
     MEM("4194304") OS "  <devices>\n" GPU(
         "0x41") "    <memballoon model='virtio' autodeflate='on'>\n      <stats period='10'/>\n"
                 "      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' "
                 "function='0x0'/>\n"
                 "    </memballoon>\n  </devices>\n",
     {"    <memballoon model='none'/>\n  </devices>"},
     {"virtio", "stats", "autodeflate", "slot='0x05'"},
     NULL,
     TRUE},
    {"memballoon/kept-without-hostdev",
     HOST_CAPS,
     NULL,
     NULL,
     NULL,
     MEM("4194304") OS "  <devices>\n    <memballoon model='virtio'/>\n  </devices>\n",
     {"<memballoon model='virtio'/>"},
     {"model='none'"},
     NULL,
     TRUE},
    {"rom/off-on-every-plain-hostdev",
     HOST_CAPS,
     "{\"0000:41:00.0\": 0, \"0000:42:00.0\": 0}",
     NULL,
     NULL,
     MEM("4194304") OS "  <devices>\n" GPU("0x41") GPU("0x42") "  </devices>\n",
     {"      </source>\n      <rom bar='off'/>\n    </hostdev>\n    <hostdev"},
     {NULL},
     NULL,
     TRUE},
    {"rom/kept-for-boot-device",
     HOST_CAPS,
     "{\"0000:41:00.0\": 0}",
     NULL,
     NULL,
     MEM("4194304") OS
     "  <devices>\n    <hostdev mode='subsystem' type='pci' managed='yes'>\n      <source>\n"
     "        <address domain='0x0000' bus='0x41' slot='0x00' function='0x0'/>\n      </source>\n"
     "      <boot order='1'/>\n    </hostdev>\n  </devices>\n",
     {"<boot order='1'/>"},
     {"<rom"},
     NULL,
     TRUE},
    {"rom/kept-for-boot-display",
     HOST_CAPS,
     "{\"0000:41:00.0\": 0, \"0000:42:00.0\": 0}",
     NULL,
     "0000:41:00.0",
     MEM("4194304") OS "  <devices>\n" GPU("0x41") GPU("0x42") "  </devices>\n",
     {"bus='0x41' slot='0x00' function='0x0'/>\n      </source>\n    </hostdev>",
      "bus='0x42' slot='0x00' function='0x0'/>\n      </source>\n      <rom bar='off'/>"},
     {NULL},
     NULL,
     TRUE},
    {"rom/explicit-rom-file-kept",
     HOST_CAPS,
     "{\"0000:41:00.0\": 0}",
     NULL,
     NULL,
     MEM("4194304") OS
     "  <devices>\n    <hostdev mode='subsystem' type='pci' managed='yes'>\n      <source>\n"
     "        <address domain='0x0000' bus='0x41' slot='0x00' function='0x0'/>\n      </source>\n"
     "      <rom file='/usr/share/vgabios/gpu.rom'/>\n    </hostdev>\n  </devices>\n",
     {"<rom file='/usr/share/vgabios/gpu.rom'/>"},
     {"bar='off'"},
     NULL,
     TRUE},
    {"rules/skipped-rule-changes-nothing",
     HOST_CAPS,
     NULL,
     "bootmenu",
     NULL,
     MEM("1048576") OS,
     {"<page size='1048576'"},
     {"<bootmenu"},
     NULL,
     TRUE},
};

static const BarCase bar_cases[] = {
    {{"mmio64/window-sized-for-a-256g-bar",
      HOST_CAPS,
      "{\"0000:41:00.0\": 0}",
      NULL,
      NULL,
      MEM("4194304") OS_UEFI "  <devices>\n" GPU("0x41") "  </devices>\n",
      {"<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>",
       "  </devices>\n  <qemu:commandline>\n    <qemu:arg value='-fw_cfg'/>\n"
       "    <qemu:arg value='name=opt/ovmf/X-PciMmio64Mb,string=524288'/>\n  "
       "</qemu:commandline>\n</domain>"},
      {NULL},
      NULL,
      TRUE},
     BARS_256G},
    {{"mmio64/seabios-left-alone",
      HOST_CAPS,
      "{\"0000:41:00.0\": 0}",
      NULL,
      NULL,
      MEM("4194304") OS "  <devices>\n" GPU("0x41") "  </devices>\n",
      {"<hostdev"},
      {"commandline"},
      NULL,
      TRUE},
     BARS_256G},
    {{"mmio64/bars-within-ovmfs-default-window",
      HOST_CAPS,
      "{\"0000:41:00.0\": 0}",
      NULL,
      NULL,
      MEM("4194304") OS_UEFI "  <devices>\n" GPU("0x41") "  </devices>\n",
      {"<hostdev"},
      {"commandline"},
      NULL,
      TRUE},
     BARS_128G},
    {{"mmio64/explicit-window-kept",
      HOST_CAPS,
      "{\"0000:41:00.0\": 0}",
      NULL,
      NULL,
      MEM("4194304") OS_UEFI "  <devices>\n" GPU("0x41") "  </devices>\n" WINDOW_64G,
      {"string=65536'/>"},
      {"string=524288"},
      NULL,
      TRUE},
     BARS_256G},
    {{"mmio64/unknown-bars-said",
      HOST_CAPS,
      "{\"0000:41:00.0\": 0}",
      NULL,
      NULL,
      MEM("4194304") OS_UEFI "  <devices>\n" GPU("0x41") "  </devices>\n",
      {"<hostdev"},
      {"commandline"},
      "64-bit BARs of 0000:41:00.0 unknown",
      TRUE},
     NULL},
};

static FpHost *
make_host(const Case *c, const char *sysfs)
{
    g_autoptr(GError) error = NULL;
    /* A sysfs root without devices, so only the caps and topology file speak (or SYSFS). */
    FpHost *host = fp_host_new(sysfs ? sysfs : "/nonexistent-sysfs");

    if (c->host != HOST_UNKNOWN)
        g_assert_true(fp_host_load_caps(host, CAPS, &error));
    if (c->host == HOST_CAPS_NO_1G) {
        for (guint i = 0; i < host->page_sizes_kib->len; i++) {
            if (g_array_index(host->page_sizes_kib, guint64, i) == 1048576)
                g_array_remove_index(host->page_sizes_kib, i--);
        }
    }
    if (c->topology) {
        g_autofree char *path = NULL;
        int fd = g_file_open_tmp("fp-topology-XXXXXX.json", &path, &error);

        g_assert_no_error(error);
        g_assert_true(g_file_set_contents(path, c->topology, -1, &error));
        g_assert_true(fp_host_load_device_topology(host, path, &error));
        g_assert_no_error(error);
        close(fd);
        g_unlink(path);
    }
    return host;
}

static char *
run(const char *xml, FpHost *host, const FpTuneOptions *opts, gboolean apply,
    FpTuneResult **res_out)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FpDomain) dom = fp_domain_load_memory(xml, strlen(xml), "case", &error);
    FpTuneResult *res;

    g_assert_no_error(error);
    res = fp_tune_run(dom, host, opts, apply, &error);
    g_assert_no_error(error);
    g_assert_nonnull(res);
    *res_out = res;
    return fp_domain_format(dom, NULL);
}

/* C against a host whose sysfs is SYSFS (NULL: none). */
static void
check_case(const Case *c, const char *sysfs)
{
    g_autoptr(FpHost) host = make_host(c, sysfs);
    g_autoptr(GPtrArray) display = g_ptr_array_new();
    FpTuneOptions opts = {.boot_display = display};
    g_autofree char *in =
        g_strdup_printf("<domain type='qemu'>\n  <name>t</name>\n%s</domain>\n", c->body);
    g_autoptr(FpTuneResult) res = NULL, res2 = NULL, lint = NULL;
    g_autofree char *out = NULL, *out2 = NULL, *linted = NULL;
    gboolean warned = FALSE;

    if (c->skip)
        opts.disabled = 1u << fp_tune_rule_index(c->skip);
    if (c->boot_display)
        g_ptr_array_add(display, (gpointer)c->boot_display);

    out = run(in, host, &opts, TRUE, &res);
    for (guint i = 0; i < G_N_ELEMENTS(c->expect) && c->expect[i]; i++) {
        if (!strstr(out, c->expect[i]))
            g_error("expected\n%s\nin\n%s", c->expect[i], out);
    }
    for (guint i = 0; i < G_N_ELEMENTS(c->absent) && c->absent[i]; i++) {
        if (strstr(out, c->absent[i]))
            g_error("did not expect\n%s\nin\n%s", c->absent[i], out);
    }
    for (guint i = 0; i < res->warnings->len; i++) {
        const char *w = g_ptr_array_index(res->warnings, i);
        if (!c->warning)
            g_error("unexpected warning: %s", w);
        warned |= strstr(w, c->warning) != NULL;
    }
    if (c->warning && !warned)
        g_error("expected a warning containing '%s'", c->warning);

    /* Idempotent: tuning the output again changes nothing, byte for byte. */
    out2 = run(out, host, &opts, TRUE, &res2);
    g_assert_cmpstr(out2, ==, out);
    /* Linting is the same code without applying: it never changes the document... */
    linted = run(out, host, &opts, FALSE, &lint);
    g_assert_cmpstr(linted, ==, out);
    /* ...and finds nothing in what tune could fully fix. */
    if (c->lint_clean)
        g_assert_cmpuint(lint->findings->len, ==, 0);
    else
        g_assert_cmpuint(lint->findings->len, >, 0);
}

static void
test_case(gconstpointer data)
{
    check_case(data, NULL);
}

static void
test_bar_case(gconstpointer data)
{
    const BarCase *b = data;
    g_autofree char *sysfs = g_dir_make_tmp("fp-sysfs-XXXXXX", NULL);
    g_autofree char *dev = g_build_filename(sysfs, "bus/pci/devices/0000:41:00.0", NULL);
    g_autofree char *resource = g_build_filename(dev, "resource", NULL);

    if (b->resource) {
        g_assert_cmpint(g_mkdir_with_parents(dev, 0755), ==, 0);
        g_assert_true(g_file_set_contents(resource, b->resource, -1, NULL));
    }
    check_case(&b->c, sysfs);
    g_unlink(resource);
    for (char *d = dev; strlen(d) > strlen(sysfs); *strrchr(d, '/') = '\0')
        g_rmdir(d);
    g_rmdir(sysfs);
}

/* Lint on the untuned input reports one finding per rule that tune then applied. */
static void
test_lint_matches_tune(void)
{
    static const Case c = {
        "", HOST_CAPS, "{\"0000:41:00.0\": 0}", NULL, NULL, NULL, {NULL}, {NULL}, NULL, TRUE};
    const char *in = "<domain type='kvm'>\n  <name>slow</name>\n" MEM(
        "4194304") "  <os>\n    <type>hvm</type>\n    <bootmenu enable='yes'/>\n  </os>\n"
                   "  <devices>\n" GPU(
                       "0x41") "    <memballoon model='virtio'/>\n  </devices>\n</domain>\n";
    g_autoptr(FpHost) host = make_host(&c, NULL);
    g_autoptr(FpTuneResult) res = NULL;
    g_autofree char *out = run(in, host, NULL, FALSE, &res);
    const char *want[] = {"bootmenu", "hugepages", "allocation", "numa", "memballoon", "rom"};
    g_autofree char *text = NULL;

    g_assert_cmpstr(out, ==, in);
    g_assert_cmpuint(res->findings->len, ==, G_N_ELEMENTS(want));
    for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
        const FpFinding *f = g_ptr_array_index(res->findings, i);
        g_assert_cmpstr(f->rule, ==, want[i]);
    }
    g_assert_cmpstr(((FpFinding *)g_ptr_array_index(res->findings, 0))->path, ==,
                    "/domain/os/bootmenu");
    g_assert_cmpstr(((FpFinding *)g_ptr_array_index(res->findings, 4))->path, ==,
                    "/domain/devices/memballoon");
    text = fp_lint_format_text("slow.xml", res);
    g_assert_nonnull(strstr(text, "slow.xml: bootmenu at /domain/os/bootmenu: boot menu is on"));
}

/* bootmenu gives the figure of the firmware the domain boots: OVMF's countdown, SeaBIOS's wait. */
static void
test_bootmenu_names_the_firmware(void)
{
    static const Case c = {"", HOST_CAPS, NULL, NULL, NULL, NULL, {NULL}, {NULL}, NULL, TRUE};
    const char *os[] = {
        "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n"
        "    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>\n"
        "    <bootmenu enable='yes'/>\n  </os>\n",
        "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n    <bootmenu enable='yes'/>\n  "
        "</os>\n"};
    const char *want[] = {
        "boot menu is on: OVMF counts down its boot timeout before booting a disk "
        "(+3.3 s measured",
        "boot menu is on: SeaBIOS waits for a key press (2.5 s by default)"};
    g_autoptr(FpHost) host = make_host(&c, NULL);
    FpTuneOptions opts = {.disabled = ~(1u << fp_tune_rule_index("bootmenu"))};

    for (guint i = 0; i < G_N_ELEMENTS(os); i++) {
        g_autofree char *in =
            g_strdup_printf("<domain type='kvm'>\n  <name>m</name>\n%s</domain>\n", os[i]);
        g_autoptr(FpTuneResult) res = NULL;
        g_autofree char *out = run(in, host, &opts, FALSE, &res);

        g_assert_cmpuint(res->findings->len, ==, 1);
        g_assert_nonnull(
            strstr(((FpFinding *)g_ptr_array_index(res->findings, 0))->message, want[i]));
    }
}

/* Bad hostdev addresses never reach a path: loading the domain fails. */
static void
test_bad_hostdev_address(void)
{
    const char *bad[] = {"../", "0x1g", "0x100", ""};

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *xml = g_strdup_printf(
            "<domain type='kvm'><name>x</name><devices><hostdev mode='subsystem' "
            "type='pci'><source>"
            "<address domain='0x0000' bus='%s' slot='0x00' function='0x0'/></source></hostdev>"
            "</devices></domain>",
            bad[i]);
        g_autoptr(FpDomain) dom = fp_domain_load_memory(xml, strlen(xml), "bad.xml", &error);

        g_assert_null(dom);
        g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
        g_assert_nonnull(strstr(error->message, "bad.xml: PCI <hostdev> #1: PCI address bus"));
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/tune/%s", cases[i].name);
        g_test_add_data_func(path, &cases[i], test_case);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(bar_cases); i++) {
        g_autofree char *path = g_strdup_printf("/tune/%s", bar_cases[i].c.name);
        g_test_add_data_func(path, &bar_cases[i], test_bar_case);
    }
    g_test_add_func("/tune/lint-reports-every-rule-tune-applies", test_lint_matches_tune);
    g_test_add_func("/tune/bad-hostdev-address-refused", test_bad_hostdev_address);
    g_test_add_func("/tune/bootmenu-names-the-firmware", test_bootmenu_names_the_firmware);
    return g_test_run();
}
