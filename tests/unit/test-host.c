/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host topology from a fake sysfs tree, `virsh capabilities` XML and a device-topology file. */
#include "cpuset.h"
#include "error.h"
#include "host.h"

#include <glib/gstdio.h>
#include <string.h>

/* Assertions do not abort (g_test_set_nonfatal_assertions in main), so one failing case
 * does not hide the results of the others; this check follows suit. */
static void
assert_contains(const char *haystack, const char *needle)
{
    if (!haystack || !strstr(haystack, needle)) {
        g_test_message("'%s' does not contain '%s'", haystack ? haystack : "(null)", needle);
        g_test_fail();
    }
}

#define MSG(e) ((e) ? (e)->message : NULL)

/* ---- a temp root per test ---- */

typedef struct {
    char *root;
    gboolean borrowed; /* a subprocess's root: its parent made it and removes it */
} Fixture;

#define ROOT_ENV "FP_TEST_HOST_ROOT"

static void
rm_rf(const char *path)
{
    if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
        g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
            g_autofree char *child = g_build_filename(path, name, NULL);

            rm_rf(child);
        }
        g_assert_cmpint(g_rmdir(path), ==, 0);
    } else {
        g_assert_cmpint(g_unlink(path), ==, 0);
    }
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    if (g_test_subprocess() && g_getenv(ROOT_ENV)) {
        f->root = g_strdup(g_getenv(ROOT_ENV));
        f->borrowed = TRUE;
        return;
    }
    f->root = g_dir_make_tmp("fp-test-host-XXXXXX", &error);
    g_assert_no_error(error);
    g_assert_nonnull(f->root);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    if (!f->borrowed) {
        rm_rf(f->root);
        g_assert_false(g_file_test(f->root, G_FILE_TEST_EXISTS));
    }
    g_free(f->root);
}

/* Runs the current test again in a child, so a case that trips a GLib critical (fatal under
 * GTest) fails alone instead of ending the whole program. The child works in F's root, which
 * this process removes even when the child dies. TRUE: this is the child, go on. */
static gboolean
in_subprocess(Fixture *f)
{
    if (g_test_subprocess())
        return TRUE;
    g_setenv(ROOT_ENV, f->root, TRUE);
    g_test_trap_subprocess(NULL, 0,
                           G_TEST_SUBPROCESS_INHERIT_STDOUT | G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_unsetenv(ROOT_ENV);
    g_test_trap_assert_passed();
    return FALSE;
}

/* Writes ROOT/REL with CONTENT, or makes the directory ROOT/REL when CONTENT is NULL. */
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

/* "0:0-3;1:4-7": every node with its CPUs, in the host's order. */
static char *
nodes_text(const FpHost *h)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < h->nodes->len; i++) {
        const FpNumaNode *n = g_ptr_array_index(h->nodes, i);
        g_autofree char *cpus = fp_cpuset_format(n->cpus);

        g_string_append_printf(s, "%s%u:%s", i ? ";" : "", n->id, cpus);
    }
    return g_string_free(s, FALSE);
}

static int
cmp_u64(gconstpointer a, gconstpointer b)
{
    guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;

    return x < y ? -1 : x > y;
}

/* "2048,1048576": the page sizes, sorted; a duplicate would show twice. */
static char *
pages_text(const FpHost *h)
{
    g_autoptr(GArray) sorted = g_array_copy(h->page_sizes_kib);
    GString *s = g_string_new(NULL);

    g_array_sort(sorted, cmp_u64);
    for (guint i = 0; i < sorted->len; i++)
        g_string_append_printf(s, "%s%" G_GUINT64_FORMAT, i ? "," : "",
                               g_array_index(sorted, guint64, i));
    return g_string_free(s, FALSE);
}

static int
device_node(const FpHost *h, const char *bdf)
{
    FpPciAddr addr;
    g_autoptr(GError) error = NULL;

    g_assert_true(fp_pci_addr_parse(bdf, &addr, &error));
    g_assert_no_error(error);
    return fp_host_device_node(h, &addr);
}

/* ---- sysfs ---- */

typedef struct {
    const char *path;
    const char *content; /* NULL: a directory */
} File;

typedef struct {
    const char *bdf;
    int node;
} DeviceNode;

typedef struct {
    const char *name;
    File files[16];
    const char *nodes; /* nodes_text */
    const char *pages; /* pages_text */
    DeviceNode devices[6];
} SysfsCase;

#define NODE "devices/system/node/"
#define HP "kernel/mm/hugepages/"
#define PCI "bus/pci/devices/"
#define CPU_ONLINE "devices/system/cpu/online"

static const SysfsCase sysfs_cases[] = {
    {"two-nodes",
     {{NODE "node0/cpulist", "0-3\n"},
      {NODE "node1/cpulist", "4-7\n"},
      {NODE "possible", "0-1\n"},
      {NODE "online", "0-1\n"},
      {NODE "power", NULL},
      {CPU_ONLINE, "0-7\n"},
      {HP "hugepages-2048kB/nr_hugepages", "0\n"},
      {HP "hugepages-1048576kB", NULL},
      {PCI "0000:41:00.0/numa_node", "1\n"},
      {PCI "0000:01:00.0/numa_node", "-1\n"},
      {PCI "0000:02:00.0/numa_node", "0\n"}},
     "0:0-3;1:4-7",
     "2048,1048576",
     {{"0000:41:00.0", 1}, {"0000:01:00.0", -1}, {"0000:02:00.0", 0}, {"0000:99:00.0", -1}}},
    {"no-node-dirs-one-node-of-online-cpus",
     {{CPU_ONLINE, "0-1\n"},
      {HP "hugepages-2048kB", NULL},
      {PCI "0000:41:00.0/numa_node", "-1\n"},
      {PCI "0000:42:00.0/numa_node", "0\n"}},
     "0:0-1",
     "2048",
     /* -1 on a single-node host: the one node is local. */
     {{"0000:41:00.0", 0}, {"0000:42:00.0", 0}, {"0000:43:00.0", -1}}},
    {"node-dirs-win-over-online-cpus",
     {{CPU_ONLINE, "0-15\n"}, {NODE "node0/cpulist", "0-7\n"}, {NODE "node1/cpulist", "8-15\n"}},
     "0:0-7;1:8-15",
     "",
     {{NULL, 0}}},
    {"numeric-node-order",
     /* Enough of them that directory order is unlikely to be numeric order by chance. */
     {{NODE "node10/cpulist", "20-21\n"},
      {NODE "node2/cpulist", "4,6\n"},
      {NODE "node0/cpulist", "0\n"},
      {NODE "node7/cpulist", "14\n"},
      {NODE "node3/cpulist", "7\n"},
      {NODE "node1/cpulist", "2\n"},
      {NODE "node5/cpulist", "10\n"}},
     "0:0;1:2;2:4,6;3:7;5:10;7:14;10:20-21",
     "",
     {{NULL, 0}}},
    {"memory-only-node",
     {{NODE "node0/cpulist", "0-3\n"}, {NODE "node1/cpulist", "\n"}},
     "0:0-3;1:",
     "",
     {{NULL, 0}}},
    {"single-node-not-numbered-0",
     {{NODE "node1/cpulist", "2-3\n"}, {PCI "0000:41:00.0/numa_node", "-1\n"}},
     "1:2-3",
     "",
     {{"0000:41:00.0", 1}}},
    {"ignores-non-node-entries",
     {{NODE "node0/cpulist", "0-1\n"},
      {NODE "nodeX/cpulist", "2\n"},
      {NODE "node1a/cpulist", "3\n"},
      {NODE "node/cpulist", "4\n"},
      {NODE "node-1/cpulist", "5\n"},
      {NODE "has_cpu", "0\n"},
      {NODE "node3", NULL}}, /* no cpulist: not a usable node */
     "0:0-1",
     "",
     {{NULL, 0}}},
    {"unparsable-cpulist-skipped",
     {{NODE "node0/cpulist", "zero-three\n"}, {NODE "node1/cpulist", "4-7\n"}},
     "1:4-7",
     "",
     {{NULL, 0}}},
    {"page-size-names",
     {{CPU_ONLINE, "0\n"},
      {HP "hugepages-2048kB", NULL},
      {HP "hugepages-64kB", NULL},
      {HP "hugepages-4kB", NULL}, /* the base page */
      {HP "hugepages-kB", NULL},
      {HP "hugepages-2MB", NULL},
      {HP "hugepages-x2048kB", NULL},
      {HP "hugepages-2048kBx", NULL},
      {HP "hugepages-1048576kB", NULL},
      {HP "other", NULL}},
     "0:0",
     "64,2048,1048576",
     {{NULL, 0}}},
    {"bad-numa-node-files",
     {{NODE "node0/cpulist", "0\n"},
      {NODE "node1/cpulist", "1\n"},
      {PCI "0000:41:00.0/numa_node", "one\n"},
      {PCI "0000:42:00.0/numa_node", "\n"},
      {PCI "0000:43:00.0/numa_node", "70000\n"},
      {PCI "0000:44:00.0/numa_node", "-2\n"},
      {PCI "0000:45:00.0/numa_node", "1\n"}},
     "0:0;1:1",
     "",
     {{"0000:41:00.0", -1},
      {"0000:42:00.0", -1},
      {"0000:43:00.0", -1},
      {"0000:44:00.0", -1},
      {"0000:45:00.0", 1}}},
    {"empty-root", {{NULL, NULL}}, "", "", {{"0000:41:00.0", -1}}},
};

static void
build_tree(const char *root, const File *files, gsize n)
{
    for (gsize i = 0; i < n && files[i].path; i++) {
        g_autofree char *p = put(root, files[i].path, files[i].content);
    }
}

static void
test_sysfs(Fixture *f, gconstpointer data)
{
    const SysfsCase *c = data;
    g_autoptr(FpHost) h = NULL;
    g_autofree char *nodes = NULL, *pages = NULL, *nodes2 = NULL, *pages2 = NULL;

    build_tree(f->root, c->files, G_N_ELEMENTS(c->files));
    h = fp_host_new(f->root);
    g_assert_cmpstr(h->sysfs_root, ==, f->root);
    fp_host_load_sysfs(h);
    nodes = nodes_text(h);
    pages = pages_text(h);
    g_assert_cmpstr(nodes, ==, c->nodes);
    g_assert_cmpstr(pages, ==, c->pages);
    for (gsize i = 0; i < G_N_ELEMENTS(c->devices) && c->devices[i].bdf; i++) {
        int node = device_node(h, c->devices[i].bdf);

        if (node != c->devices[i].node)
            g_test_message("device %s", c->devices[i].bdf);
        g_assert_cmpint(node, ==, c->devices[i].node);
    }
    /* Loading again replaces, never appends. */
    fp_host_load_sysfs(h);
    nodes2 = nodes_text(h);
    pages2 = pages_text(h);
    g_assert_cmpstr(nodes2, ==, c->nodes);
    g_assert_cmpstr(pages2, ==, c->pages);
}

/* fp_host_node and fp_host_has_page_size on the two-node tree. */
static void
test_sysfs_lookups(Fixture *f, gconstpointer data)
{
    g_autoptr(FpHost) h = NULL;
    const FpNumaNode *n1;

    build_tree(f->root, sysfs_cases[0].files, G_N_ELEMENTS(sysfs_cases[0].files));
    h = fp_host_new(f->root);
    fp_host_load_sysfs(h);
    n1 = fp_host_node(h, 1);
    g_assert_nonnull(n1);
    if (n1) {
        g_assert_cmpuint(n1->id, ==, 1);
        g_assert_cmpuint(n1->cpus->len, ==, 4);
        g_assert_cmpuint(g_array_index(n1->cpus, guint, 0), ==, 4);
        g_assert_cmpuint(g_array_index(n1->cpus, guint, 3), ==, 7);
    }
    g_assert_null(fp_host_node(h, 2));
    g_assert_true(fp_host_has_page_size(h, 2048));
    g_assert_true(fp_host_has_page_size(h, 1048576));
    g_assert_false(fp_host_has_page_size(h, 4));
    g_assert_false(fp_host_has_page_size(h, 1024));
}

/* ---- virsh capabilities ---- */

#define CAPS_HEAD                                                                                  \
    "<capabilities>\n  <host>\n    <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\n"
#define CAPS_CPU                                                                                   \
    "    <cpu>\n      <arch>x86_64</arch>\n      <model>Skylake-Server-IBRS</model>\n"             \
    "      <topology sockets='1' dies='1' cores='2' threads='2'/>\n"                               \
    "      <pages unit='KiB' size='4'/>\n      <pages unit='KiB' size='2048'/>\n    </cpu>\n"
#define CELL(id, cpus, pages)                                                                      \
    "        <cell id='" id "'>\n          <memory unit='KiB'>8388608</memory>\n" pages            \
    "          <distances>\n            <sibling id='0' value='10'/>\n          </distances>\n"    \
    "          <cpus num='4'>\n" cpus "          </cpus>\n        </cell>\n"
#define CELL_CPU(id)                                                                               \
    "            <cpu id='" id "' socket_id='0' die_id='0' core_id='" id "' siblings='" id "'/>\n"
#define CAPS(cells)                                                                                \
    CAPS_HEAD CAPS_CPU                                                                             \
        "    <topology>\n      <cells num='2'>\n" cells "      </cells>\n    </topology>\n"        \
        "  </host>\n  <guest>\n    <os_type>hvm</os_type>\n  </guest>\n</capabilities>\n"

static const char caps_two_cells[] =
    CAPS(CELL("0", CELL_CPU("0") CELL_CPU("1") CELL_CPU("2") CELL_CPU("3"),
              "          <pages unit='KiB' size='4'>2048</pages>\n"
              "          <pages unit='KiB' size='2048'>0</pages>\n")
             CELL("1", CELL_CPU("4") CELL_CPU("5") CELL_CPU("6") CELL_CPU("7"),
                  "          <pages unit='KiB' size='4'>2048</pages>\n"
                  "          <pages unit='GiB' size='1'>4</pages>\n"));

typedef struct {
    const char *name;
    const char *xml;
    const char *nodes;
    const char *pages;
} CapsCase;

static const CapsCase caps_cases[] = {
    /* 2 MiB from host/cpu, 1 GiB only from cell 1 (written in GiB), 4 KiB is no hugepage. */
    {"two-cells", caps_two_cells, "0:0-3;1:4-7", "2048,1048576"},
    {"no-topology",
     "<capabilities><host><cpu><pages unit='KiB' size='2048'/></cpu></host></capabilities>", "",
     "2048"},
    {"bad-pages-ignored",
     "<capabilities><host><cpu><pages unit='furlong' size='2'/><pages size='x'/><pages unit='KiB'/>"
     "<pages size='1048576'/></cpu></host></capabilities>",
     "", "1048576"},
    {"cell-without-cpus",
     "<capabilities><host><topology><cells><cell id='3'/></cells></topology></host></capabilities>",
     "3:", ""},
    /* FpNumaNode.cpus is documented as sorted; a hand-written file need not list them so. */
    {"unsorted-cpus-sorted",
     "<capabilities><host><topology><cells><cell id='0'><cpus>"
     "<cpu id='2'/><cpu id='3'/><cpu id='0'/><cpu "
     "id='1'/></cpus></cell></cells></topology></host></capabilities>",
     "0:0-3", ""},
    {"cpu-without-id-ignored",
     "<capabilities><host><topology><cells><cell id='0'><cpus>"
     "<cpu id='0'/><cpu/><cpu id='x'/><cpu "
     "id='1'/></cpus></cell></cells></topology></host></capabilities>",
     "0:0-1", ""},
    {"cells-sorted-by-id",
     "<capabilities><host><topology><cells>"
     "<cell id='1'><cpus><cpu id='1'/></cpus></cell><cell id='0'><cpus><cpu id='0'/></cpus></cell>"
     "</cells></topology></host></capabilities>",
     "0:0;1:1", ""},
};

static void
test_caps(Fixture *f, gconstpointer data)
{
    const CapsCase *c = data;
    g_autofree char *path = put(f->root, "caps.xml", c->xml);
    g_autofree char *sysroot = g_build_filename(f->root, "sys", NULL);
    g_autoptr(FpHost) h = fp_host_new(sysroot);
    g_autoptr(GError) error = NULL;
    g_autofree char *nodes = NULL, *pages = NULL;
    g_autofree char *p1 = put(sysroot, NODE "node5/cpulist", "0-63\n");
    g_autofree char *p2 = put(sysroot, HP "hugepages-64kB", NULL);

    if (!in_subprocess(f))
        return;
    /* What sysfs said first is replaced, not merged. */
    fp_host_load_sysfs(h);
    g_assert_cmpuint(h->nodes->len, ==, 1);
    g_assert_true(fp_host_load_caps(h, path, &error));
    g_assert_no_error(error);
    nodes = nodes_text(h);
    pages = pages_text(h);
    g_assert_cmpstr(nodes, ==, c->nodes);
    g_assert_cmpstr(pages, ==, c->pages);
}

typedef struct {
    const char *name;
    const char *xml; /* NULL: no file at all */
    gint code;
    const char *message;
} CapsErrorCase;

static const CapsErrorCase caps_error_cases[] = {
    {"root-not-capabilities", "<domain type='kvm'><host/></domain>", FP_ERROR_INPUT,
     "virsh capabilities"},
    {"no-host", "<capabilities><guest/></capabilities>", FP_ERROR_INPUT, "no <capabilities><host>"},
    {"malformed", "<capabilities>\n<host>\n</capabilities>\n", FP_ERROR_INPUT, "line"},
    {"doctype",
     "<!DOCTYPE c [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><capabilities>&x;</capabilities>",
     FP_ERROR_INPUT, "DOCTYPE"},
    {"cell-without-id",
     "<capabilities><host><topology><cells><cell/></cells></topology></host></capabilities>",
     FP_ERROR_INPUT, "NUMA cell without a valid id"},
    {"cell-id-not-a-number",
     "<capabilities><host><topology><cells><cell "
     "id='-1'/></cells></topology></host></capabilities>",
     FP_ERROR_INPUT, "NUMA cell without a valid id"},
    {"empty-file", "", FP_ERROR_INPUT, "empty"},
    {"missing-file", NULL, FP_ERROR_IO, "cannot open"},
};

static void
test_caps_error(Fixture *f, gconstpointer data)
{
    const CapsErrorCase *c = data;
    g_autofree char *path =
        c->xml ? put(f->root, "caps.xml", c->xml) : g_build_filename(f->root, "caps.xml", NULL);
    g_autoptr(FpHost) h = fp_host_new(f->root);
    g_autoptr(GError) error = NULL;

    if (!in_subprocess(f))
        return;
    g_assert_false(fp_host_load_caps(h, path, &error));
    g_assert_error(error, FP_ERROR, c->code);
    assert_contains(MSG(error), path);
    assert_contains(MSG(error), c->message);
}

/* ---- device topology file ---- */

static void
test_topology(Fixture *f, gconstpointer data)
{
    g_autofree char *path =
        put(f->root, "topology.json",
            "{\"0000:41:00.0\": 1, \"0000:4A:00.1\": 0, \"0000:43:00.0\": 3}\n");
    g_autofree char *sys = g_build_filename(f->root, "sys", NULL);
    g_autoptr(FpHost) h = fp_host_new(sys);
    g_autoptr(GError) error = NULL;

    build_tree(sys,
               (const File[]){{NODE "node0/cpulist", "0-3\n"},
                              {NODE "node1/cpulist", "4-7\n"},
                              {PCI "0000:41:00.0/numa_node", "0\n"},
                              {PCI "0000:42:00.0/numa_node", "1\n"},
                              {PCI "0000:43:00.0/numa_node", "-1\n"}},
               5);
    fp_host_load_sysfs(h);
    g_assert_cmpint(device_node(h, "0000:41:00.0"), ==, 0); /* sysfs alone */
    g_assert_true(fp_host_load_device_topology(h, path, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(g_hash_table_size(h->device_nodes), ==, 3);
    g_assert_cmpint(device_node(h, "0000:41:00.0"), ==, 1); /* the file wins over sysfs */
    g_assert_cmpint(device_node(h, "0000:4a:00.1"), ==, 0); /* keys are normalised */
    g_assert_cmpint(device_node(h, "0000:43:00.0"), ==, 3); /* even over sysfs's -1 */
    g_assert_cmpint(device_node(h, "0000:42:00.0"), ==, 1); /* not in the file: sysfs */
    g_assert_cmpint(device_node(h, "0000:44:00.0"), ==, -1);
}

static void
test_topology_without_sysfs(Fixture *f, gconstpointer data)
{
    g_autofree char *path = put(f->root, "topology.json", "{}");
    g_autofree char *path2 = put(f->root, "topology2.json", "{\"0000:41:00.0\": 65535}");
    g_autofree char *sys = g_build_filename(f->root, "no-sys", NULL);
    g_autoptr(FpHost) h = fp_host_new(sys);
    g_autoptr(GError) error = NULL;

    g_assert_true(fp_host_load_device_topology(h, path, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(g_hash_table_size(h->device_nodes), ==, 0);
    g_assert_true(fp_host_load_device_topology(h, path2, &error));
    g_assert_no_error(error);
    g_assert_cmpint(device_node(h, "0000:41:00.0"), ==, 65535);
}

typedef struct {
    const char *name;
    const char *json; /* NULL: no file */
    gint code;
    const char *message;
} TopologyErrorCase;

static const TopologyErrorCase topology_error_cases[] = {
    {"dotdot-key", "{\"../x\": 0}", FP_ERROR_INPUT, "'../x' is not a PCI address"},
    {"path-in-key", "{\"0000:41:00.0/../../x\": 0}", FP_ERROR_INPUT, "is not a PCI address"},
    {"function-8-key", "{\"0000:41:00.8\": 0}", FP_ERROR_INPUT, "'0000:41:00.8'"},
    {"negative-node", "{\"0000:41:00.0\": -1}", FP_ERROR_INPUT, "NUMA node of 0000:41:00.0"},
    {"node-over-65535", "{\"0000:41:00.0\": 65536}", FP_ERROR_INPUT, "NUMA node of 0000:41:00.0"},
    {"huge-node", "{\"0000:41:00.0\": 99999999999}", FP_ERROR_INPUT, "NUMA node of 0000:41:00.0"},
    {"string-node", "{\"0000:41:00.0\": \"1\"}", FP_ERROR_INPUT, "NUMA node of 0000:41:00.0"},
    {"fraction-node", "{\"0000:41:00.0\": 1.5}", FP_ERROR_INPUT, "NUMA node of 0000:41:00.0"},
    {"null-node", "{\"0000:41:00.0\": null}", FP_ERROR_INPUT, "NUMA node of 0000:41:00.0"},
    {"object-node", "{\"0000:41:00.0\": {\"node\": 1}}", FP_ERROR_INPUT,
     "NUMA node of 0000:41:00.0"},
    {"array", "[{\"0000:41:00.0\": 1}]", FP_ERROR_INPUT, "not a JSON object"},
    {"number", "1", FP_ERROR_INPUT, "not a JSON object"},
    {"string", "\"0000:41:00.0\"", FP_ERROR_INPUT, "not a JSON object"},
    {"truncated", "{\"0000:41:00.0\": ", FP_ERROR_INPUT, "not a JSON object"},
    {"missing-comma", "{\"0000:41:00.0\": 1 \"0000:42:00.0\": 1}", FP_ERROR_INPUT,
     "not a JSON object"},
    {"trailing-garbage", "{\"0000:41:00.0\": 1} trailing", FP_ERROR_INPUT, "not a JSON object"},
    {"two-objects", "{\"0000:41:00.0\": 1}{\"0000:42:00.0\": 1}", FP_ERROR_INPUT,
     "not a JSON object"},
    {"empty-file", "", FP_ERROR_INPUT, "not a JSON object"},
    {"missing-file", NULL, FP_ERROR_IO, "cannot open"},
};

static void
test_topology_error(Fixture *f, gconstpointer data)
{
    const TopologyErrorCase *c = data;
    g_autofree char *path = c->json ? put(f->root, "topology.json", c->json)
                                    : g_build_filename(f->root, "topology.json", NULL);
    g_autoptr(FpHost) h = fp_host_new(f->root);
    g_autoptr(GError) error = NULL;

    g_assert_false(fp_host_load_device_topology(h, path, &error));
    g_assert_error(error, FP_ERROR, c->code);
    assert_contains(MSG(error), path);
    assert_contains(MSG(error), c->message);
}

/* ---- FASTPASS_SYSFS_ROOT ---- */

typedef struct {
    const char *name;
    const char *env; /* NULL: unset */
    const char *override;
    const char *expect;
} RootCase;

static const RootCase root_cases[] = {
    {"default", NULL, NULL, "/sys"},
    {"env", "/tmp/fake-sys", NULL, "/tmp/fake-sys"},
    {"empty-env-is-default", "", NULL, "/sys"},
    {"override-beats-env", "/tmp/fake-sys", "/srv/other", "/srv/other"},
    {"empty-override-is-no-override", "/tmp/fake-sys", "", "/tmp/fake-sys"},
    {"override-without-env", NULL, "/srv/other", "/srv/other"},
};

static void
test_sysfs_root(gconstpointer data)
{
    const RootCase *c = data;
    g_autofree char *saved = g_strdup(g_getenv("FASTPASS_SYSFS_ROOT"));
    g_autoptr(FpHost) h = NULL;

    if (c->env)
        g_setenv("FASTPASS_SYSFS_ROOT", c->env, TRUE);
    else
        g_unsetenv("FASTPASS_SYSFS_ROOT");
    g_assert_cmpstr(fp_host_sysfs_root(c->override), ==, c->expect);
    h = fp_host_new(c->override);
    g_assert_cmpstr(h->sysfs_root, ==, c->expect);
    if (saved)
        g_setenv("FASTPASS_SYSFS_ROOT", saved, TRUE);
    else
        g_unsetenv("FASTPASS_SYSFS_ROOT");
}

/* fp_host_new(NULL) with the variable set reads the tree it names. */
static void
test_sysfs_root_env_tree(Fixture *f, gconstpointer data)
{
    g_autofree char *saved = g_strdup(g_getenv("FASTPASS_SYSFS_ROOT"));
    g_autofree char *p = put(f->root, NODE "node0/cpulist", "0-5\n");
    g_autoptr(FpHost) h = NULL;
    g_autofree char *nodes = NULL;

    g_setenv("FASTPASS_SYSFS_ROOT", f->root, TRUE);
    h = fp_host_new(NULL);
    fp_host_load_sysfs(h);
    nodes = nodes_text(h);
    g_assert_cmpstr(nodes, ==, "0:0-5");
    if (saved)
        g_setenv("FASTPASS_SYSFS_ROOT", saved, TRUE);
    else
        g_unsetenv("FASTPASS_SYSFS_ROOT");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_set_nonfatal_assertions();

#define ADD_FIXTURE_TABLE(prefix, table, fn)                                                       \
    for (gsize i = 0; i < G_N_ELEMENTS(table); i++) {                                              \
        g_autofree char *path = g_strdup_printf(prefix "/%s", table[i].name);                      \
        g_test_add(path, Fixture, &table[i], fixture_setup, fn, fixture_teardown);                 \
    }
    ADD_FIXTURE_TABLE("/host/sysfs", sysfs_cases, test_sysfs);
    g_test_add("/host/sysfs/node-and-page-lookups", Fixture, NULL, fixture_setup,
               test_sysfs_lookups, fixture_teardown);
    ADD_FIXTURE_TABLE("/host/caps", caps_cases, test_caps);
    ADD_FIXTURE_TABLE("/host/caps/rejects", caps_error_cases, test_caps_error);
    g_test_add("/host/topology/precedes-sysfs", Fixture, NULL, fixture_setup, test_topology,
               fixture_teardown);
    g_test_add("/host/topology/without-sysfs", Fixture, NULL, fixture_setup,
               test_topology_without_sysfs, fixture_teardown);
    ADD_FIXTURE_TABLE("/host/topology/rejects", topology_error_cases, test_topology_error);
    for (gsize i = 0; i < G_N_ELEMENTS(root_cases); i++) {
        g_autofree char *path = g_strdup_printf("/host/sysfs-root/%s", root_cases[i].name);
        g_test_add_data_func(path, &root_cases[i], test_sysfs_root);
    }
    g_test_add("/host/sysfs-root/env-tree-is-read", Fixture, NULL, fixture_setup,
               test_sysfs_root_env_tree, fixture_teardown);
#undef ADD_FIXTURE_TABLE
    return g_test_run();
}
