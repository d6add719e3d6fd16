/* SPDX-License-Identifier: GPL-2.0-or-later */
/* topology.c - JSON topology -> FakesysMachine (json-c). */
#include "topology.h"

#include "sysfs-util.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static const char *const default_drivers[] = {"nvidia", "e1000e", "pci-stub", "vfio-pci"};

/* The "comment" key is allowed everywhere: JSON has no comments. */
static gboolean
check_keys(json_object *obj, const char *const *allowed, const char *where, GError **error)
{
    json_object_object_foreach(obj, key, value)
    {
        gboolean ok = strcmp(key, "comment") == 0;

        (void)value;
        for (int i = 0; !ok && allowed[i]; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            g_set_error(error, FAKESYS_ERROR, FAKESYS_ERROR_TOPOLOGY, "%s: unknown key \"%s\"",
                        where, key);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
bad(GError **error, const char *where, const char *key, const char *what)
{
    g_set_error(error, FAKESYS_ERROR, FAKESYS_ERROR_TOPOLOGY, "%s: \"%s\" %s", where, key, what);
    return FALSE;
}

static gboolean
get_int(json_object *obj, const char *key, gint64 fallback, gint64 min, gint64 max,
        const char *where, gint64 *out, GError **error)
{
    json_object *v;

    if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
        *out = fallback;
        return TRUE;
    }
    if (!json_object_is_type(v, json_type_int))
        return bad(error, where, key, "must be an integer");
    *out = json_object_get_int64(v);
    if (*out < min || *out > max) {
        g_set_error(error, FAKESYS_ERROR, FAKESYS_ERROR_TOPOLOGY,
                    "%s: \"%s\" must be between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT, where,
                    key, min, max);
        return FALSE;
    }
    return TRUE;
}

/* PCI ids are written "0x10de" in sysfs; accept that string, a bare hex
 * string, or a JSON integer. */
static gboolean
get_hex(json_object *obj, const char *key, guint32 fallback, guint32 max, const char *where,
        guint32 *out, GError **error)
{
    json_object *v;
    guint64 value;

    if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
        *out = fallback;
        return TRUE;
    }
    if (json_object_is_type(v, json_type_int)) {
        gint64 i = json_object_get_int64(v);
        if (i < 0)
            return bad(error, where, key, "must not be negative");
        value = (guint64)i;
    } else if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end;

        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
            s += 2;
        if (!g_ascii_isxdigit(*s))
            return bad(error, where, key, "must be a hex number such as \"0x10de\"");
        value = g_ascii_strtoull(s, &end, 16);
        if (*end)
            return bad(error, where, key, "must be a hex number such as \"0x10de\"");
    } else
        return bad(error, where, key, "must be a hex string or an integer");
    if (value > max)
        return bad(error, where, key, "is out of range");
    *out = (guint32)value;
    return TRUE;
}

/* Returns FALSE on a type error; *out is NULL when absent or null. */
static gboolean
get_string(json_object *obj, const char *key, const char *where, const char **out, GError **error)
{
    json_object *v;

    *out = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
        return TRUE;
    if (!json_object_is_type(v, json_type_string))
        return bad(error, where, key, "must be a string");
    *out = json_object_get_string(v);
    return TRUE;
}

static gboolean
get_bool(json_object *obj, const char *key, const char *where, gboolean *out, GError **error)
{
    json_object *v;

    *out = FALSE;
    if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
        return TRUE;
    if (!json_object_is_type(v, json_type_boolean))
        return bad(error, where, key, "must be true or false");
    *out = json_object_get_boolean(v);
    return TRUE;
}

static gboolean
driver_name_is_valid(const char *name)
{
    if (!*name || strlen(name) > 64 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return FALSE;
    for (const char *p = name; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
            return FALSE;
    return TRUE;
}

static FakesysDriver *
named_driver(FakesysMachine *m, const char *name, gboolean create, const char *where,
             const char *key, GError **error)
{
    FakesysDriver *drv;

    if (!driver_name_is_valid(name)) {
        g_set_error(error, FAKESYS_ERROR, FAKESYS_ERROR_TOPOLOGY,
                    "%s: \"%s\": \"%s\" is not a driver name", where, key, name);
        return NULL;
    }
    drv = create ? fakesys_machine_add_driver(m, name) : fakesys_machine_find_driver(m, name);
    if (!drv)
        g_set_error(error, FAKESYS_ERROR, FAKESYS_ERROR_TOPOLOGY,
                    "%s: \"%s\": no driver \"%s\" in this topology", where, key, name);
    return drv;
}

static gboolean
parse_reset_methods(const char *text, guint8 *methods, const char *where, GError **error)
{
    g_auto(GStrv) names = g_strsplit(text, " ", -1);
    int n = 0;

    memset(methods, 0, FAKESYS_MAX_RESET_METHODS);
    for (int i = 0; names[i]; i++) {
        int method;

        if (!*names[i])
            continue;
        method = fakesys_reset_method_from_name(names[i]);
        if (!method) {
            g_set_error(error, FAKESYS_ERROR, FAKESYS_ERROR_TOPOLOGY,
                        "%s: unknown reset method \"%s\" (kernel names: device_specific acpi "
                        "flr af_flr pm bus cxl_bus)",
                        where, names[i]);
            return FALSE;
        }
        for (int j = 0; j < n; j++)
            if (methods[j] == method)
                return bad(error, where, "reset_method", "lists a method twice");
        if (n == FAKESYS_MAX_RESET_METHODS - 1)
            return bad(error, where, "reset_method", "lists too many methods");
        methods[n++] = (guint8)method;
    }
    return TRUE;
}

static gboolean
parse_fault(const char *text, gboolean allow_errno, FakesysFault *fault, const char *where,
            const char *key, GError **error)
{
    int err;

    if (strcmp(text, "hang") == 0) {
        *fault = (FakesysFault){FAKESYS_FAULT_HANG, 0};
        return TRUE;
    }
    err = allow_errno ? fakesys_errno_from_name(text) : 0;
    if (!err)
        return bad(error, where, key,
                   allow_errno ? "must be \"hang\" or an errno name such as \"eio\""
                               : "must be \"hang\"");
    *fault = (FakesysFault){FAKESYS_FAULT_ERRNO, err};
    return TRUE;
}

typedef struct {
    gint64 reset_ms, bind_ms, unbind_ms;
} Defaults;

static gboolean
parse_fail(FakesysMachine *m, FakesysDevice *dev, json_object *fail, const char *where,
           GError **error)
{
    static const char *const keys[] = {"reset",      "reset_after", "bind",
                                       "bind_error", "unbind",      NULL};
    g_autofree char *fwhere = g_strdup_printf("%s fail", where);
    const char *text;
    json_object *bind;
    gint64 after;

    if (!json_object_is_type(fail, json_type_object))
        return bad(error, where, "fail", "must be an object");
    if (!check_keys(fail, keys, fwhere, error))
        return FALSE;

    if (!get_string(fail, "reset", fwhere, &text, error))
        return FALSE;
    if (text && !parse_fault(text, TRUE, &dev->reset_fault, fwhere, "reset", error))
        return FALSE;
    if (!get_int(fail, "reset_after", 0, 0, G_MAXUINT, fwhere, &after, error))
        return FALSE;
    dev->reset_fault_after = (guint)after;

    if (!get_string(fail, "unbind", fwhere, &text, error))
        return FALSE;
    if (text && !parse_fault(text, FALSE, &dev->unbind_fault, fwhere, "unbind", error))
        return FALSE;

    if (!get_string(fail, "bind_error", fwhere, &text, error))
        return FALSE;
    if (text && !(dev->bind_fail_err = fakesys_errno_from_name(text)))
        return bad(error, fwhere, "bind_error", "must be an errno name such as \"eio\"");

    if (json_object_object_get_ex(fail, "bind", &bind) &&
        !json_object_is_type(bind, json_type_null)) {
        if (json_object_is_type(bind, json_type_string)) {
            FakesysDriver *drv =
                named_driver(m, json_object_get_string(bind), FALSE, fwhere, "bind", error);
            if (!drv)
                return FALSE;
            g_ptr_array_add(dev->bind_fail, drv);
        } else if (json_object_is_type(bind, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(bind); i++) {
                json_object *item = json_object_array_get_idx(bind, i);
                FakesysDriver *drv;

                if (!json_object_is_type(item, json_type_string))
                    return bad(error, fwhere, "bind", "must list driver names");
                drv = named_driver(m, json_object_get_string(item), FALSE, fwhere, "bind", error);
                if (!drv)
                    return FALSE;
                g_ptr_array_add(dev->bind_fail, drv);
            }
        } else
            return bad(error, fwhere, "bind", "must be a driver name or a list of them");
    }
    return TRUE;
}

static FakesysDevice *
parse_device(FakesysMachine *m, json_object *obj, guint index, const Defaults *defaults,
             GError **error)
{
    static const char *const keys[] = {
        "bdf",
        "vendor",
        "device",
        "subsystem_vendor",
        "subsystem_device",
        "revision",
        "class",
        "numa_node",
        "iommu_group",
        "driver",
        "native_driver",
        "driver_override",
        "reset_method",
        "reset_ms",
        "bind_ms",
        "unbind_ms",
        "bridge",
        "block",
        "fail",
        NULL,
    };
    g_autoptr(FakesysDevice) dev = g_new0(FakesysDevice, 1);
    g_autofree char *where = NULL;
    const char *bdf, *text;
    guint32 v;
    gint64 i;
    json_object *fail;

    dev->bind_fail = g_ptr_array_new();
    dev->bind_fail_err = EIO;

    if (!json_object_is_type(obj, json_type_object)) {
        g_set_error(error, FAKESYS_ERROR, FAKESYS_ERROR_TOPOLOGY, "devices[%u] must be an object",
                    index);
        return NULL;
    }
    where = g_strdup_printf("devices[%u]", index);
    if (!get_string(obj, "bdf", where, &bdf, error))
        return NULL;
    if (!bdf || !fakesys_bdf_is_valid(bdf)) {
        g_set_error(error, FAKESYS_ERROR, FAKESYS_ERROR_TOPOLOGY,
                    "%s: \"bdf\" must be a PCI address like \"0000:41:00.0\" (lower-case hex)",
                    where);
        return NULL;
    }
    if (fakesys_machine_find_device(m, bdf)) {
        g_set_error(error, FAKESYS_ERROR, FAKESYS_ERROR_TOPOLOGY, "%s: duplicate bdf %s", where,
                    bdf);
        return NULL;
    }
    g_free(where);
    where = g_strdup_printf("device %s", bdf);
    if (!check_keys(obj, keys, where, error))
        return NULL;
    dev->bdf = g_strdup(bdf);
    dev->bus_dir = g_strdup_printf("pci%.7s", bdf);

    if (!get_bool(obj, "bridge", where, &dev->bridge, error))
        return NULL;
    if (!get_hex(obj, "vendor", 0, 0xffff, where, &v, error))
        return NULL;
    dev->vendor = (guint16)v;
    if (!get_hex(obj, "device", 0, 0xffff, where, &v, error))
        return NULL;
    dev->device = (guint16)v;
    if (!get_hex(obj, "subsystem_vendor", dev->vendor, 0xffff, where, &v, error))
        return NULL;
    dev->subsystem_vendor = (guint16)v;
    if (!get_hex(obj, "subsystem_device", 0, 0xffff, where, &v, error))
        return NULL;
    dev->subsystem_device = (guint16)v;
    if (!get_hex(obj, "revision", 0, 0xff, where, &v, error))
        return NULL;
    dev->revision = (guint8)v;
    if (!get_hex(obj, "class", dev->bridge ? 0x060400 : 0, 0xffffff, where, &dev->class_code,
                 error))
        return NULL;

    if (!get_int(obj, "numa_node", -1, -1, 1023, where, &i, error))
        return NULL;
    dev->numa_node = (int)i;
    if (m->nodes->len && dev->numa_node >= 0 && !fakesys_machine_find_node(m, dev->numa_node)) {
        g_set_error(error, FAKESYS_ERROR, FAKESYS_ERROR_TOPOLOGY,
                    "%s: numa_node %d is not in \"nodes\"", where, dev->numa_node);
        return NULL;
    }
    if (!get_int(obj, "iommu_group", -1, 0, G_MAXINT, where, &i, error))
        return NULL;
    dev->iommu_group = (int)i;

    if (!get_int(obj, "reset_ms", defaults->reset_ms, 0, G_MAXINT, where, &i, error))
        return NULL;
    dev->reset_us = i * 1000;
    if (!get_int(obj, "bind_ms", defaults->bind_ms, 0, G_MAXINT, where, &i, error))
        return NULL;
    dev->bind_us = i * 1000;
    if (!get_int(obj, "unbind_ms", defaults->unbind_ms, 0, G_MAXINT, where, &i, error))
        return NULL;
    dev->unbind_us = i * 1000;

    if (!get_string(obj, "reset_method", where, &text, error))
        return NULL;
    if (!parse_reset_methods(text ? text : "flr bus", dev->supported_resets, where, error))
        return NULL;
    memcpy(dev->reset_methods, dev->supported_resets, sizeof dev->reset_methods);

    if (!get_string(obj, "driver", where, &text, error))
        return NULL;
    if (text && !(dev->driver = named_driver(m, text, TRUE, where, "driver", error)))
        return NULL;
    dev->native = dev->driver;
    if (json_object_object_get_ex(obj, "native_driver", NULL)) {
        if (!get_string(obj, "native_driver", where, &text, error))
            return NULL;
        dev->native = NULL;
        if (text && !(dev->native = named_driver(m, text, TRUE, where, "native_driver", error)))
            return NULL;
    }
    if (!get_string(obj, "driver_override", where, &text, error))
        return NULL;
    if (text && *text)
        dev->driver_override = g_strdup(text);

    if (!get_string(obj, "block", where, &text, error))
        return NULL;
    if (text) {
        g_auto(GStrv) parts = g_strsplit(text, " ", -1);
        unsigned ma, mi;
        char end;

        if (g_strv_length(parts) != 2 ||
            !g_regex_match_simple("^[a-z][a-z0-9]*$", parts[0], 0, 0) ||
            sscanf(parts[1], "%u:%u%c", &ma, &mi, &end) != 2) {
            bad(error, where, "block", "must be \"NAME MAJ:MIN\", e.g. \"sda 8:0\"");
            return NULL;
        }
        dev->block_name = g_strdup(parts[0]);
        dev->block_dev = g_strdup(parts[1]);
    }

    if (json_object_object_get_ex(obj, "fail", &fail) &&
        !json_object_is_type(fail, json_type_null) && !parse_fail(m, dev, fail, where, error))
        return NULL;
    return g_steal_pointer(&dev);
}

static gint
compare_pool(gconstpointer a, gconstpointer b)
{
    const FakesysHugepool *x = *(FakesysHugepool *const *)a, *y = *(FakesysHugepool *const *)b;
    return x->size_kb < y->size_kb ? -1 : x->size_kb > y->size_kb;
}

static FakesysNumaNode *
parse_node(FakesysMachine *m, json_object *obj, guint index, GError **error)
{
    static const char *const keys[] = {"id", "cpulist", "memory_mb", "hugepages", NULL};
    g_autoptr(FakesysNumaNode) node = g_new0(FakesysNumaNode, 1);
    g_autofree char *where = g_strdup_printf("nodes[%u]", index);
    const char *cpulist;
    json_object *pools;
    gint64 i;

    node->pools = g_ptr_array_new_with_free_func(g_free);
    if (!json_object_is_type(obj, json_type_object)) {
        g_set_error(error, FAKESYS_ERROR, FAKESYS_ERROR_TOPOLOGY, "%s must be an object", where);
        return NULL;
    }
    if (!check_keys(obj, keys, where, error))
        return NULL;
    if (!json_object_object_get_ex(obj, "id", NULL)) {
        bad(error, where, "id", "is required");
        return NULL;
    }
    if (!get_int(obj, "id", 0, 0, 1023, where, &i, error))
        return NULL;
    node->id = (int)i;
    if (fakesys_machine_find_node(m, node->id)) {
        g_set_error(error, FAKESYS_ERROR, FAKESYS_ERROR_TOPOLOGY, "%s: duplicate node id %d", where,
                    node->id);
        return NULL;
    }
    if (!get_string(obj, "cpulist", where, &cpulist, error))
        return NULL;
    node->cpus = fakesys_cpulist_parse(cpulist ? cpulist : "", error);
    if (!node->cpus) {
        g_prefix_error(error, "%s: ", where);
        return NULL;
    }
    if (!get_int(obj, "memory_mb", 16384, 0, G_MAXINT32, where, &i, error))
        return NULL;
    node->memory_kb = (guint64)i * 1024;

    if (json_object_object_get_ex(obj, "hugepages", &pools) &&
        !json_object_is_type(pools, json_type_null)) {
        if (!json_object_is_type(pools, json_type_object)) {
            bad(error, where, "hugepages", "must be an object like {\"2048kB\": 16}");
            return NULL;
        }
        json_object_object_foreach(pools, key, value)
        {
            FakesysHugepool *pool = g_new0(FakesysHugepool, 1);
            char *end;

            g_ptr_array_add(node->pools, pool);
            pool->size_kb = g_ascii_strtoull(key, &end, 10);
            if (!g_ascii_isdigit(key[0]) || strcmp(end, "kB") != 0 || pool->size_kb == 0) {
                bad(error, where, key, "is not a hugepage size like \"2048kB\"");
                return NULL;
            }
            if (!json_object_is_type(value, json_type_int) || json_object_get_int64(value) < 0) {
                bad(error, where, key, "must be a page count");
                return NULL;
            }
            pool->nr = (guint64)json_object_get_int64(value);
        }
    } else {
        static const guint64 sizes[] = {2048, 1048576};
        for (gsize s = 0; s < G_N_ELEMENTS(sizes); s++) {
            FakesysHugepool *pool = g_new0(FakesysHugepool, 1);
            pool->size_kb = sizes[s];
            g_ptr_array_add(node->pools, pool);
        }
    }
    g_ptr_array_sort(node->pools, compare_pool);
    {
        guint64 reserved = 0;
        for (guint p = 0; p < node->pools->len; p++) {
            FakesysHugepool *pool = node->pools->pdata[p];
            reserved += pool->nr * pool->size_kb;
        }
        if (reserved > node->memory_kb) {
            bad(error, where, "hugepages", "reserve more than memory_mb");
            return NULL;
        }
    }
    return g_steal_pointer(&node);
}

static gint
compare_node(gconstpointer a, gconstpointer b)
{
    const FakesysNumaNode *x = *(FakesysNumaNode *const *)a, *y = *(FakesysNumaNode *const *)b;
    return x->id - y->id;
}

static gint
compare_int(gconstpointer a, gconstpointer b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

static gboolean
parse_root(FakesysMachine *m, json_object *root, GError **error)
{
    static const char *const keys[] = {
        "reset_ms", "bind_ms", "unbind_ms", "drivers", "drivers_probe_errors",
        "devices",  "nodes",   NULL};
    json_object *drivers, *devices, *nodes;
    Defaults defaults;

    if (!json_object_is_type(root, json_type_object)) {
        g_set_error(error, FAKESYS_ERROR, FAKESYS_ERROR_TOPOLOGY,
                    "the topology must be a JSON object");
        return FALSE;
    }
    if (!check_keys(root, keys, "topology", error))
        return FALSE;
    if (!get_int(root, "reset_ms", 1000, 0, G_MAXINT, "topology", &defaults.reset_ms, error) ||
        !get_int(root, "bind_ms", 0, 0, G_MAXINT, "topology", &defaults.bind_ms, error) ||
        !get_int(root, "unbind_ms", 0, 0, G_MAXINT, "topology", &defaults.unbind_ms, error) ||
        !get_bool(root, "drivers_probe_errors", "topology", &m->drivers_probe_reports_errors,
                  error))
        return FALSE;

    if (json_object_object_get_ex(root, "drivers", &drivers)) {
        if (!json_object_is_type(drivers, json_type_array))
            return bad(error, "topology", "drivers", "must be a list of driver names");
        for (size_t i = 0; i < json_object_array_length(drivers); i++) {
            json_object *item = json_object_array_get_idx(drivers, i);
            if (!json_object_is_type(item, json_type_string))
                return bad(error, "topology", "drivers", "must be a list of driver names");
            if (!named_driver(m, json_object_get_string(item), TRUE, "topology", "drivers", error))
                return FALSE;
        }
    } else
        for (gsize i = 0; i < G_N_ELEMENTS(default_drivers); i++)
            fakesys_machine_add_driver(m, default_drivers[i]);

    /* Nodes first: devices refer to them. */
    if (json_object_object_get_ex(root, "nodes", &nodes) &&
        !json_object_is_type(nodes, json_type_null)) {
        if (!json_object_is_type(nodes, json_type_array))
            return bad(error, "topology", "nodes", "must be a list");
        for (size_t i = 0; i < json_object_array_length(nodes); i++) {
            FakesysNumaNode *node =
                parse_node(m, json_object_array_get_idx(nodes, i), (guint)i, error);
            if (!node)
                return FALSE;
            g_ptr_array_add(m->nodes, node);
        }
        g_ptr_array_sort(m->nodes, compare_node);
    }

    if (!json_object_object_get_ex(root, "devices", &devices) ||
        !json_object_is_type(devices, json_type_array))
        return bad(error, "topology", "devices", "must be a list of devices");
    for (size_t i = 0; i < json_object_array_length(devices); i++) {
        FakesysDevice *dev =
            parse_device(m, json_object_array_get_idx(devices, i), (guint)i, &defaults, error);
        if (!dev)
            return FALSE;
        g_ptr_array_add(m->devices, dev);
        if (dev->iommu_group >= 0 &&
            !g_array_binary_search(m->groups, &dev->iommu_group, compare_int, NULL)) {
            g_array_append_val(m->groups, dev->iommu_group);
            g_array_sort(m->groups, compare_int);
        }
    }
    return TRUE;
}

FakesysMachine *
fakesys_topology_parse(const char *json_text, const char *origin, GError **error)
{
    g_autoptr(FakesysMachine) m = fakesys_machine_new();
    json_tokener *tok = json_tokener_new();
    gsize len = strlen(json_text);
    json_object *root = json_tokener_parse_ex(tok, json_text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    gsize end = json_tokener_get_parse_end(tok);
    gboolean ok;

    while (end < len && g_ascii_isspace(json_text[end]))
        end++;
    if (!root || jerr != json_tokener_success || end != len) {
        g_set_error(error, FAKESYS_ERROR, FAKESYS_ERROR_TOPOLOGY,
                    "%s: invalid JSON near byte %zu: %s", origin, end,
                    jerr == json_tokener_success    ? "trailing text"
                    : jerr == json_tokener_continue ? "unexpected end of file"
                                                    : json_tokener_error_desc(jerr));
        json_object_put(root);
        json_tokener_free(tok);
        return NULL;
    }
    json_tokener_free(tok);
    ok = parse_root(m, root, error);
    json_object_put(root);
    if (!ok) {
        g_prefix_error(error, "%s: ", origin);
        return NULL;
    }
    return g_steal_pointer(&m);
}

FakesysMachine *
fakesys_topology_load(const char *path, GError **error)
{
    g_autofree char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, error))
        return NULL;
    return fakesys_topology_parse(text, path, error);
}
