/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "qemuargs.h"

#include "jsonget.h"

#include <json-c/json.h>
#include <string.h>

void
fp_qemu_guest_clear(FpQemuGuest *guest)
{
    g_clear_pointer(&guest->name, g_free);
    g_clear_pointer(&guest->uuid, g_free);
    g_clear_pointer(&guest->ram_id, g_free);
    guest->ram_size = 0;
}

/* "guest=NAME,debug-threads=on" -> NAME; libvirt doubles commas inside the name. */
static char *
guest_name(const char *opt)
{
    GString *s;
    const char *p;

    if (!g_str_has_prefix(opt, "guest="))
        return NULL;
    s = g_string_new(NULL);
    for (p = opt + strlen("guest="); *p; p++) {
        if (*p == ',') {
            if (p[1] != ',')
                break;
            p++;
        }
        g_string_append_c(s, *p);
    }
    return g_string_free(s, FALSE);
}

static json_object *
parse_object(const char *arg)
{
    json_object *o;

    if (!arg || arg[0] != '{')
        return NULL;
    o = json_tokener_parse(arg);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static gboolean
is_memory_backend(json_object *o)
{
    const char *t = fp_json_str(o, "qom-type");

    return t && (!strcmp(t, "memory-backend-ram") || !strcmp(t, "memory-backend-file") ||
                 !strcmp(t, "memory-backend-memfd"));
}

/* Size and single host node of backend O into GUEST, as the guest's RAM backend ID. */
static void
take_ram_backend(json_object *o, const char *id, FpQemuGuest *guest)
{
    json_object *size, *nodes;

    g_free(guest->ram_id);
    guest->ram_id = g_strdup(id);
    guest->ram_size =
        json_object_object_get_ex(o, "size", &size) ? (guint64)json_object_get_int64(size) : 0;
    guest->ram_node = -1;
    if (json_object_object_get_ex(o, "host-nodes", &nodes) &&
        json_object_is_type(nodes, json_type_array) && json_object_array_length(nodes) == 1)
        guest->ram_node = json_object_get_int(json_object_array_get_idx(nodes, 0));
}

void
fp_qemu_guest_read(char **argv, FpQemuGuest *guest)
{
    guint cells = 0;
    gboolean pc_ram = FALSE;

    memset(guest, 0, sizeof(*guest));
    guest->ram_node = -1;
    for (int i = 1; argv[i] && argv[i + 1]; i++) {
        if (!strcmp(argv[i], "-name") && !guest->name) {
            guest->name = guest_name(argv[i + 1]);
        } else if (!strcmp(argv[i], "-uuid") && !guest->uuid) {
            guest->uuid = g_strdup(argv[i + 1]);
        } else if (!strcmp(argv[i], "-object")) {
            json_object *o = parse_object(argv[i + 1]);
            const char *id = o && is_memory_backend(o) ? fp_json_str(o, "id") : NULL;

            if (g_strcmp0(id, "pc.ram") == 0) {
                take_ram_backend(o, id, guest);
                pc_ram = TRUE;
            } else if (id && g_str_has_prefix(id, "ram-node")) {
                /* libvirt's backend of guest NUMA cell N; with one cell it holds all RAM. */
                if (cells++ == 0 && !pc_ram && !strcmp(id, "ram-node0"))
                    take_ram_backend(o, id, guest);
            }
            json_object_put(o);
        }
    }
    if (!pc_ram && cells > 1) {
        g_clear_pointer(&guest->ram_id, g_free);
        guest->ram_size = 0;
        guest->ram_node = -1;
    }
}

static gboolean
obj_true(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

/* Points a RAM backend at a pool slot: a shared mapping of the pre-faulted file, so
 * prealloc finds every page present and none is copied on write. */
static json_object *
to_slot_backend(json_object *o, const char *slot)
{
    json_object *n = json_object_new_object();
    /* memfd- and file-only properties that do not carry over. */
    static const char *const drop[] = {"qom-type", "mem-path",     "share",
                                       "hugetlb",  "hugetlbsize",  "seal",
                                       "prealloc", "discard-data", NULL};

    json_object_object_add(n, "qom-type", json_object_new_string("memory-backend-file"));
    json_object_object_foreach(o, key, val)
    {
        gboolean skip = FALSE;

        for (guint i = 0; drop[i]; i++)
            skip |= strcmp(key, drop[i]) == 0;
        if (!skip)
            json_object_object_add(n, key, json_object_get(val));
    }
    json_object_object_add(n, "mem-path", json_object_new_string(slot));
    json_object_object_add(n, "share", json_object_new_boolean(TRUE));
    json_object_object_add(n, "prealloc", json_object_new_boolean(TRUE));
    return n;
}

/* The one node of a backend's host-nodes, else -1. */
static int
single_node(json_object *o)
{
    json_object *nodes;

    if (!json_object_object_get_ex(o, "host-nodes", &nodes) ||
        !json_object_is_type(nodes, json_type_array) || json_object_array_length(nodes) != 1)
        return -1;
    return json_object_get_int(json_object_array_get_idx(nodes, 0));
}

/* "menu=" among the comma-separated keys of a -boot argument. */
static gboolean
boot_sets_menu(const char *arg)
{
    g_auto(GStrv) keys = g_strsplit(arg, ",", -1);

    for (guint i = 0; keys[i]; i++) {
        if (g_str_has_prefix(keys[i], "menu="))
            return TRUE;
    }
    return FALSE;
}

/* A thread-context object for backend ID on CPUS, named after it; NULL when CPUS is empty. */
static json_object *
thread_context(const char *id, const GArray *cpus)
{
    json_object *tc, *list;

    if (!cpus || !cpus->len)
        return NULL;
    tc = json_object_new_object();
    list = json_object_new_array();
    json_object_object_add(tc, "qom-type", json_object_new_string("thread-context"));
    json_object_object_add(tc, "id", json_object_new_string(id));
    for (guint i = 0; i < cpus->len; i++)
        json_object_array_add(list, json_object_new_int((int)g_array_index(cpus, guint, i)));
    json_object_object_add(tc, "cpu-affinity", list);
    return tc;
}

static char *
to_arg(json_object *o)
{
    return g_strdup(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* A -device argument for vfio-pci, in either syntax. */
static gboolean
is_vfio_pci_device(const char *arg)
{
    json_object *o = parse_object(arg);
    gboolean yes;

    if (!o)
        return g_str_has_prefix(arg, "vfio-pci,") || !strcmp(arg, "vfio-pci") ||
               g_str_has_prefix(arg, "driver=vfio-pci,");
    yes = g_strcmp0(fp_json_str(o, "driver"), "vfio-pci") == 0;
    json_object_put(o);
    return yes;
}

/* fastpass's QEMU: its vfio-pci fast-boot properties, for every device at once. */
static void
add_vfio_globals(char **argv, const FpQemuCaps *caps, GPtrArray *out, GPtrArray *changes)
{
    static const struct {
        gsize offset;
        const char *prop, *why;
    } props[] = {
        {G_STRUCT_OFFSET(FpQemuCaps, vfio_skip_first_reset), "x-skip-first-reset",
         "no second reset of devices the kernel reset at open"},
        {G_STRUCT_OFFSET(FpQemuCaps, vfio_parallel_open), "x-parallel-open",
         "all devices opened, and reset by the kernel, at once"},
        {G_STRUCT_OFFSET(FpQemuCaps, vfio_keep_dma_maps), "x-keep-dma-maps",
         "RAM mapped at the same address stays mapped"},
        {G_STRUCT_OFFSET(FpQemuCaps, vfio_parallel_close), "x-parallel-close",
         "all devices closed, and reset by the kernel, at once when QEMU exits"},
    };
    gboolean vfio = FALSE;

    for (int i = 1; argv[i] && argv[i + 1]; i++)
        vfio |= !strcmp(argv[i], "-device") && is_vfio_pci_device(argv[i + 1]);
    if (!vfio || !caps)
        return;
    for (guint i = 0; i < G_N_ELEMENTS(props); i++) {
        if (!G_STRUCT_MEMBER(gboolean, caps, props[i].offset))
            continue;
        g_ptr_array_add(out, g_strdup("-global"));
        g_ptr_array_add(out, g_strdup_printf("vfio-pci.%s=on", props[i].prop));
        g_ptr_array_add(changes,
                        g_strdup_printf("vfio-pci: %s=on (%s)", props[i].prop, props[i].why));
    }
}

char **
fp_qemu_rewrite(char **argv, const FpQemuRewrite *rw, GPtrArray *changes, char **why)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);

    *why = NULL;
    for (int i = 0; argv[i]; i++) {
        json_object *o, *n = NULL;

        g_ptr_array_add(out, g_strdup(argv[i]));
        if (!strcmp(argv[i], "-boot") && argv[i + 1]) {
            i++;
            if (boot_sets_menu(argv[i])) {
                g_ptr_array_add(out, g_strdup(argv[i])); /* the domain's own choice */
            } else {
                g_ptr_array_add(out, g_strdup_printf("%s%smenu=off", argv[i], *argv[i] ? "," : ""));
                g_ptr_array_add(changes, g_strdup("boot: menu=off (no boot menu was asked for)"));
            }
            continue;
        }
        if (strcmp(argv[i], "-object") || !argv[i + 1])
            continue;
        i++;
        o = parse_object(argv[i]);
        if (!o || !is_memory_backend(o)) {
            /* Dotted "-object memory-backend-ram,id=..." syntax: older libvirt; not ours to touch.
             */
            if (!o && g_str_has_prefix(argv[i], "memory-backend-")) {
                *why = g_strdup("memory backend given in the dotted -object syntax");
                json_object_put(o);
                return NULL;
            }
            g_ptr_array_add(out, g_strdup(argv[i]));
            json_object_put(o);
            continue;
        }
        if (rw->slot_path &&
            g_strcmp0(fp_json_str(o, "id"), rw->ram_id ? rw->ram_id : "pc.ram") == 0) {
            json_object *size;
            guint64 want = json_object_object_get_ex(o, "size", &size)
                               ? (guint64)json_object_get_int64(size)
                               : 0;

            if (want == rw->slot_size) {
                n = to_slot_backend(o, rw->slot_path);
                g_ptr_array_add(changes,
                                g_strdup_printf("%s: %s -> memory-backend-file on pool slot %s",
                                                fp_json_str(o, "id"), fp_json_str(o, "qom-type"),
                                                rw->slot_path));
            } else {
                g_ptr_array_add(changes,
                                g_strdup_printf("pool slot not used: its size %" G_GUINT64_FORMAT
                                                " differs from %s's %" G_GUINT64_FORMAT,
                                                rw->slot_size, fp_json_str(o, "id"), want));
            }
        }
        if (rw->caps && rw->caps->prealloc_threads && rw->prealloc_threads > 1 &&
            obj_true(n ? n : o, "prealloc") &&
            !json_object_object_get_ex(n ? n : o, "prealloc-threads", NULL)) {
            if (!n)
                n = json_object_get(o);
            json_object_object_add(n, "prealloc-threads",
                                   json_object_new_int((int)rw->prealloc_threads));
            g_ptr_array_add(changes, g_strdup_printf("%s: prealloc-threads=%u",
                                                     fp_json_str(o, "id"), rw->prealloc_threads));
        }
        {
            json_object *cur = n ? n : o;
            int node = single_node(cur);
            const GArray *cpus = node >= 0 && rw->node_cpus && (guint)node < rw->node_cpus->len
                                     ? g_ptr_array_index(rw->node_cpus, node)
                                     : NULL;
            g_autofree char *tc_id =
                g_strdup_printf("fp-tc-%s", fp_json_str(o, "id") ? fp_json_str(o, "id") : "mem");
            json_object *tc = NULL;

            if (rw->caps && rw->caps->prealloc_context && obj_true(cur, "prealloc") &&
                !json_object_object_get_ex(cur, "prealloc-context", NULL) &&
                (tc = thread_context(tc_id, cpus))) {
                /* -object THREAD-CONTEXT -object BACKEND: the context must exist first. */
                g_ptr_array_add(out, to_arg(tc));
                g_ptr_array_add(out, g_strdup("-object"));
                if (!n)
                    n = json_object_get(o);
                json_object_object_add(n, "prealloc-context", json_object_new_string(tc_id));
                g_ptr_array_add(changes,
                                g_strdup_printf("%s: prealloc-context %s on node %d's %u CPUs",
                                                fp_json_str(o, "id"), tc_id, node, cpus->len));
                json_object_put(tc);
            }
        }
        /* Untouched objects go through byte for byte. */
        g_ptr_array_add(out, n ? to_arg(n) : g_strdup(argv[i]));
        json_object_put(n);
        json_object_put(o);
    }
    add_vfio_globals(argv, rw->caps, out, changes);
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(g_steal_pointer(&out), FALSE);
}
