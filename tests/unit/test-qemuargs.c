/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The wrapper's command-line rewrite: what it changes, and everything it must leave alone. */
#include "qemuargs.h"

#include <string.h>

static const FpQemuCaps caps_yes = {.prealloc_threads = TRUE, .prealloc_context = TRUE};
static const FpQemuCaps caps_no = {.prealloc_threads = FALSE, .prealloc_context = FALSE};
/* fastpass's QEMU: vfio-pci's fast-boot properties */
static const FpQemuCaps caps_fastpass = {.vfio_skip_first_reset = TRUE,
                                         .vfio_parallel_open = TRUE,
                                         .vfio_keep_dma_maps = TRUE,
                                         .vfio_parallel_close = TRUE};
/* series 3: without x-parallel-close */
static const FpQemuCaps caps_fastpass_series3 = {
    .vfio_skip_first_reset = TRUE, .vfio_parallel_open = TRUE, .vfio_keep_dma_maps = TRUE};
static const FpQemuCaps caps_fastpass_reset_only = {.vfio_skip_first_reset = TRUE};

#define VFIO_JSON "{\"driver\":\"vfio-pci\",\"host\":\"0000:01:00.0\",\"id\":\"hostdev0\"}"

#define RAM(json) "-object", json

typedef struct {
    const char *name;
    const char *argv[16];
    FpQemuRewrite rw;
    const char *expect_arg; /* an argument the result must hold verbatim, or NULL */
    const char *absent;     /* a substring no argument may hold, or NULL */
    guint changes;
    gboolean refused;
    guint added_args; /* arguments the rewrite adds (a thread-context: 2) */
} Case;

static const Case cases[] = {
    {"threads-added-to-preallocating-backend",
     {"qemu", "-name", "guest=vm1,debug-threads=on",
      RAM("{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"prealloc\":true,\"size\":"
          "1073741824}"),
      NULL},
     {.caps = &caps_yes, .prealloc_threads = 8, .slot_path = NULL, .slot_size = 0},
     "{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"prealloc\":true,\"size\":1073741824,"
     "\"prealloc-threads\":8}",
     NULL,
     1,
     FALSE,
     0},
    {"threads-left-when-already-set",
     {"qemu", "-name", "guest=vm1",
      RAM("{\"qom-type\":\"memory-backend-file\",\"id\":\"pc.ram\",\"prealloc\":true,\"prealloc-"
          "threads\":2,\"size\":1073741824}"),
      NULL},
     {.caps = &caps_yes, .prealloc_threads = 8, .slot_path = NULL, .slot_size = 0},
     "{\"qom-type\":\"memory-backend-file\",\"id\":\"pc.ram\",\"prealloc\":true,\"prealloc-"
     "threads\":2,\"size\":1073741824}",
     NULL,
     0,
     FALSE,
     0},
    {"threads-left-when-not-preallocating",
     {"qemu", "-name", "guest=vm1",
      RAM("{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"size\":1073741824}"), NULL},
     {.caps = &caps_yes, .prealloc_threads = 8, .slot_path = NULL, .slot_size = 0},
     NULL,
     "prealloc-threads",
     0,
     FALSE,
     0},
    {"threads-left-when-qemu-lacks-them",
     {"qemu", "-name", "guest=vm1",
      RAM("{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"prealloc\":true,\"size\":"
          "1073741824}"),
      NULL},
     {.caps = &caps_no, .prealloc_threads = 8, .slot_path = NULL, .slot_size = 0},
     NULL,
     "prealloc-threads",
     0,
     FALSE,
     0},
    {"other-objects-byte-identical",
     {"qemu", "-name", "guest=vm1",
      RAM("{\"qom-type\":\"secret\",\"id\":\"masterKey0\",\"format\":\"raw\",\"file\":\"/var/lib/x/"
          "master-key.aes\"}"),
      "-unknown-option", "x,y=z", NULL},
     {.caps = &caps_yes, .prealloc_threads = 8, .slot_path = NULL, .slot_size = 0},
     "{\"qom-type\":\"secret\",\"id\":\"masterKey0\",\"format\":\"raw\",\"file\":\"/var/lib/x/"
     "master-key.aes\"}",
     NULL,
     0,
     FALSE,
     0},
    {"pool-slot-replaces-memfd-backend",
     {"qemu", "-name", "guest=vm1",
      RAM("{\"qom-type\":\"memory-backend-memfd\",\"id\":\"pc.ram\",\"hugetlb\":true,"
          "\"hugetlbsize\":2097152,\"prealloc\":true,\"size\":1073741824,\"host-nodes\":[0],"
          "\"policy\":\"bind\"}"),
      NULL},
     {.caps = &caps_yes,
      .prealloc_threads = 1,
      .slot_path = "/dev/hugepages/fastpass/slot-0001.claimed",
      .slot_size = 1073741824},
     "{\"qom-type\":\"memory-backend-file\",\"id\":\"pc.ram\",\"size\":1073741824,\"host-nodes\":["
     "0],\"policy\":\"bind\",\"mem-path\":\"/dev/hugepages/fastpass/"
     "slot-0001.claimed\",\"share\":true,\"prealloc\":true,\"prealloc-context\":\"fp-tc-pc.ram\"}",
     "hugetlb",
     2, /* the slot, and a thread-context on node 0 */
     FALSE,
     2},
    {"pool-slot-of-other-size-unused",
     {"qemu", "-name", "guest=vm1",
      RAM("{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"size\":1073741824}"), NULL},
     {.caps = &caps_yes,
      .prealloc_threads = 1,
      .slot_path = "/dev/hugepages/fastpass/slot-0001.claimed",
      .slot_size = 2147483648},
     NULL,
     "mem-path",
     1,
     FALSE,
     0},
    {"pool-slot-for-the-one-numa-cell",
     {"qemu", "-name", "guest=vm1",
      RAM("{\"qom-type\":\"memory-backend-file\",\"id\":\"ram-node0\",\"mem-path\":"
          "\"/dev/hugepages/libvirt/qemu/1-vm1\",\"prealloc\":true,\"size\":1073741824,"
          "\"host-nodes\":[0],\"policy\":\"bind\"}"),
      NULL},
     {.caps = &caps_no,
      .prealloc_threads = 1,
      .slot_path = "/dev/hugepages/fastpass/claim-x",
      .slot_size = 1073741824,
      .ram_id = "ram-node0"},
     "{\"qom-type\":\"memory-backend-file\",\"id\":\"ram-node0\",\"size\":1073741824,"
     "\"host-nodes\":[0],\"policy\":\"bind\",\"mem-path\":\"/dev/hugepages/fastpass/claim-x\","
     "\"share\":true,\"prealloc\":true}",
     "libvirt/qemu",
     1,
     FALSE,
     0},
    {"dotted-backend-syntax-refused",
     {"qemu", "-name", "guest=vm1", "-object", "memory-backend-ram,id=pc.ram,size=1G", NULL},
     {.caps = &caps_yes, .prealloc_threads = 8, .slot_path = NULL, .slot_size = 0},
     NULL,
     NULL,
     0,
     TRUE,
     0},
    /* The boot menu: off unless the domain asked for it. */
    {"boot-menu-off-added",
     {"qemu", "-name", "guest=vm1", "-boot", "strict=on", NULL},
     {.caps = &caps_yes},
     "strict=on,menu=off",
     NULL,
     1,
     FALSE,
     0},
    {"boot-menu-on-kept",
     {"qemu", "-name", "guest=vm1", "-boot", "menu=on,strict=on", NULL},
     {.caps = &caps_yes},
     "menu=on,strict=on",
     NULL,
     0,
     FALSE,
     0},
    {"boot-menu-off-kept",
     {"qemu", "-name", "guest=vm1", "-boot", "menu=off", NULL},
     {.caps = &caps_yes},
     "menu=off",
     NULL,
     0,
     FALSE,
     0},
    {"boot-legacy-order",
     {"qemu", "-name", "guest=vm1", "-boot", "c", NULL},
     {.caps = &caps_yes},
     "c,menu=off",
     NULL,
     1,
     FALSE,
     0},
    /* A thread-context for prealloc, on the CPUs of the backend's node (node 0: CPUs 0 and 1). */
    {"thread-context-for-bound-backend",
     {"qemu", "-name", "guest=vm1",
      RAM("{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"prealloc\":true,\"size\":"
          "1073741824,\"host-nodes\":[0],\"policy\":\"bind\"}"),
      NULL},
     {.caps = &caps_yes, .prealloc_threads = 2},
     "{\"qom-type\":\"thread-context\",\"id\":\"fp-tc-pc.ram\",\"cpu-affinity\":[0,1]}",
     NULL,
     2,
     FALSE,
     2},
    {"thread-context-named-by-backend",
     {"qemu", "-name", "guest=vm1",
      RAM("{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"prealloc\":true,\"size\":"
          "1073741824,\"host-nodes\":[0],\"policy\":\"bind\"}"),
      NULL},
     {.caps = &caps_yes, .prealloc_threads = 1},
     "{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"prealloc\":true,\"size\":1073741824,"
     "\"host-nodes\":[0],\"policy\":\"bind\",\"prealloc-context\":\"fp-tc-pc.ram\"}",
     NULL,
     1,
     FALSE,
     2},
    {"no-thread-context-without-node",
     {"qemu", "-name", "guest=vm1",
      RAM("{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"prealloc\":true,\"size\":"
          "1073741824}"),
      NULL},
     {.caps = &caps_yes, .prealloc_threads = 1},
     NULL,
     "thread-context",
     0,
     FALSE,
     0},
    {"no-thread-context-on-a-node-without-usable-cpus",
     {"qemu", "-name", "guest=vm1",
      RAM("{\"qom-type\":\"memory-backend-ram\",\"id\":\"m1\",\"prealloc\":true,\"size\":"
          "1073741824,\"host-nodes\":[1],\"policy\":\"bind\"}"),
      NULL},
     {.caps = &caps_yes, .prealloc_threads = 1},
     NULL,
     "thread-context",
     0,
     FALSE,
     0},
    {"no-thread-context-on-an-unknown-node",
     {"qemu", "-name", "guest=vm1",
      RAM("{\"qom-type\":\"memory-backend-ram\",\"id\":\"m3\",\"prealloc\":true,\"size\":"
          "1073741824,\"host-nodes\":[3],\"policy\":\"bind\"}"),
      NULL},
     {.caps = &caps_yes, .prealloc_threads = 1},
     NULL,
     "thread-context",
     0,
     FALSE,
     0},
    {"libvirts-own-context-kept",
     {"qemu", "-name", "guest=vm1", "-object",
      "{\"qom-type\":\"thread-context\",\"id\":\"tc-pc.ram\",\"node-affinity\":[0]}",
      RAM("{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"prealloc\":true,\"size\":"
          "1073741824,\"host-nodes\":[0],\"policy\":\"bind\",\"prealloc-context\":\"tc-pc.ram\"}"),
      NULL},
     {.caps = &caps_yes, .prealloc_threads = 1},
     NULL,
     "fp-tc-",
     0,
     FALSE,
     0},
    {"no-thread-context-when-qemu-lacks-it",
     {"qemu", "-name", "guest=vm1",
      RAM("{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"prealloc\":true,\"size\":"
          "1073741824,\"host-nodes\":[0],\"policy\":\"bind\"}"),
      NULL},
     {.caps = &caps_no, .prealloc_threads = 1},
     NULL,
     "thread-context",
     0,
     FALSE,
     0},
    {"vfio-fast-boot-properties-on-for-fastpass-qemu",
     {"qemu", "-name", "guest=vm1", "-device", VFIO_JSON, NULL},
     {.caps = &caps_fastpass},
     "vfio-pci.x-parallel-open=on",
     NULL,
     4,
     FALSE,
     8},
    {"vfio-parallel-close-on-for-fastpass-qemu",
     {"qemu", "-name", "guest=vm1", "-device", VFIO_JSON, NULL},
     {.caps = &caps_fastpass},
     "vfio-pci.x-parallel-close=on",
     NULL,
     4,
     FALSE,
     8},
    {"vfio-no-parallel-close-for-a-series-without-it",
     {"qemu", "-name", "guest=vm1", "-device", VFIO_JSON, NULL},
     {.caps = &caps_fastpass_series3},
     "vfio-pci.x-keep-dma-maps=on",
     "x-parallel-close",
     3,
     FALSE,
     6},
    {"vfio-only-the-properties-the-binary-has",
     {"qemu", "-name", "guest=vm1", "-device", "vfio-pci,host=0000:01:00.0,id=hostdev0", NULL},
     {.caps = &caps_fastpass_reset_only},
     "vfio-pci.x-skip-first-reset=on",
     "x-parallel-open",
     1,
     FALSE,
     2},
    {"vfio-stock-qemu-gets-nothing",
     {"qemu", "-name", "guest=vm1", "-device", VFIO_JSON, NULL},
     {.caps = &caps_yes},
     VFIO_JSON,
     "vfio-pci.",
     0,
     FALSE,
     0},
    {"vfio-properties-only-with-vfio-devices",
     {"qemu", "-name", "guest=vm1", "-device",
      "{\"driver\":\"e1000e\",\"id\":\"net0\",\"vfio-pci\":1}", NULL},
     {.caps = &caps_fastpass},
     NULL,
     "vfio-pci.",
     0,
     FALSE,
     0},
};

static void
test_case(gconstpointer data)
{
    const Case *c = data;
    g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) node_cpus = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    g_autofree char *why = NULL;
    g_auto(GStrv) out = NULL;
    FpQemuRewrite rw = c->rw;
    gboolean found = c->expect_arg == NULL;
    guint cpus0[] = {0, 1};

    /* The host: node 0 with CPUs 0-1 usable, node 1 with none usable (pinned elsewhere). */
    g_ptr_array_add(node_cpus, g_array_new(FALSE, FALSE, sizeof(guint)));
    g_array_append_vals(g_ptr_array_index(node_cpus, 0), cpus0, 2);
    g_ptr_array_add(node_cpus, g_array_new(FALSE, FALSE, sizeof(guint)));
    rw.node_cpus = node_cpus;
    out = fp_qemu_rewrite((char **)c->argv, &rw, changes, &why);

    if (c->refused) {
        g_assert_null(out);
        g_assert_nonnull(why);
        return;
    }
    g_assert_nonnull(out);
    g_assert_cmpuint(g_strv_length(out), ==, g_strv_length((char **)c->argv) + c->added_args);
    for (guint i = 0; out[i]; i++) {
        found |= g_strcmp0(out[i], c->expect_arg) == 0;
        if (c->absent)
            g_assert_null(strstr(out[i], c->absent));
    }
    if (!found)
        g_error("no argument equals %s", c->expect_arg);
    g_assert_cmpuint(changes->len, ==, c->changes);
}

static void
test_guest_read(void)
{
    const char *probe[] = {"qemu",
                           "-S",
                           "-no-user-config",
                           "-nodefaults",
                           "-nographic",
                           "-machine",
                           "none,accel=tcg",
                           "-qmp",
                           "unix:/x,server=on,wait=off",
                           NULL};
    const char *start[] = {"qemu",
                           "-name",
                           "guest=a,,b,debug-threads=on",
                           "-uuid",
                           "5a6b7c8d-1111-2222-3333-444455556666",
                           RAM("{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"size\":"
                               "268435456,\"host-nodes\":[1]}"),
                           NULL};
    FpQemuGuest g;

    fp_qemu_guest_read((char **)probe, &g);
    g_assert_null(g.name);
    fp_qemu_guest_clear(&g);
    fp_qemu_guest_read((char **)start, &g);
    g_assert_cmpstr(g.name, ==, "a,b");
    g_assert_cmpstr(g.uuid, ==, "5a6b7c8d-1111-2222-3333-444455556666");
    g_assert_cmpuint(g.ram_size, ==, 268435456);
    g_assert_cmpint(g.ram_node, ==, 1);
    g_assert_cmpstr(g.ram_id, ==, "pc.ram");
    fp_qemu_guest_clear(&g);

    /* One guest NUMA cell (Nova's hw:numa_nodes=1): ram-node0 holds all RAM. Two: no one does. */
    {
        const char *one[] = {"qemu", "-name", "guest=n",
                             RAM("{\"qom-type\":\"memory-backend-file\",\"id\":\"ram-node0\","
                                 "\"size\":67108864,\"host-nodes\":[0]}"),
                             NULL};
        const char *two[] = {"qemu",
                             "-name",
                             "guest=n",
                             RAM("{\"qom-type\":\"memory-backend-ram\",\"id\":\"ram-node0\","
                                 "\"size\":67108864}"),
                             RAM("{\"qom-type\":\"memory-backend-ram\",\"id\":\"ram-node1\","
                                 "\"size\":67108864}"),
                             NULL};

        fp_qemu_guest_read((char **)one, &g);
        g_assert_cmpstr(g.ram_id, ==, "ram-node0");
        g_assert_cmpuint(g.ram_size, ==, 67108864);
        g_assert_cmpint(g.ram_node, ==, 0);
        fp_qemu_guest_clear(&g);
        fp_qemu_guest_read((char **)two, &g);
        g_assert_null(g.ram_id);
        g_assert_cmpuint(g.ram_size, ==, 0);
        fp_qemu_guest_clear(&g);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/qemuargs/%s", cases[i].name);
        g_test_add_data_func(path, &cases[i], test_case);
    }
    g_test_add_func("/qemuargs/guest-read", test_guest_read);
    return g_test_run();
}
