/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "apparmor.h"
#include "error.h"
#include "xml.h"

#include <json-c/json.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef FP_FASTPASS_QEMU_DEFAULT
#define FP_FASTPASS_QEMU_DEFAULT "/usr/local/libexec/fastpass/qemu-system-x86_64"
#endif

FpConfig *
fp_config_new(void)
{
    FpConfig *c = g_new0(FpConfig, 1);

    c->sysfs_root = g_strdup("/sys");
    c->proc_root = g_strdup("/proc");
    c->dev_root = g_strdup("/dev");
    c->libvirt_status_dir = g_strdup("/run/libvirt/qemu");
    c->host_devices_allowed = g_new0(char *, 1);
    c->run_dir = g_strdup("/run/fastpass");
    c->device_timeout_ms = 10000;
    c->hook_deadline_ms = 30000;
    c->max_workers = 16;
    c->release_mode = FP_RELEASE_WARM;
    c->reserve_hugepages = TRUE;
    c->compact_memory = TRUE;
    c->tune_on_restore = TRUE;
    c->log_level = g_strdup("info");
    c->qemu_binary = g_strdup("/usr/bin/qemu-system-x86_64");
    c->fastpass_qemu = g_strdup(FP_FASTPASS_QEMU_DEFAULT);
    c->pool_dir = g_strdup("/dev/hugepages/fastpass");
    c->use_pool = TRUE;
    c->qemu_user = g_strdup("libvirt-qemu");
    c->apparmor_helper = g_strdup(FP_APPARMOR_HELPER);
    c->libvirt_qemu_conf = g_strdup("/etc/libvirt/qemu.conf");
    return c;
}

void
fp_config_free(FpConfig *config)
{
    if (!config)
        return;
    g_free(config->sysfs_root);
    g_free(config->proc_root);
    g_free(config->dev_root);
    g_free(config->libvirt_status_dir);
    g_strfreev(config->host_devices_allowed);
    g_free(config->run_dir);
    g_free(config->log_level);
    g_free(config->log_file);
    g_free(config->qemu_binary);
    g_free(config->fastpass_qemu);
    g_free(config->pool_dir);
    g_free(config->qemu_user);
    g_free(config->apparmor_helper);
    g_free(config->libvirt_qemu_conf);
    g_free(config);
}

typedef enum { KEY_PATH, KEY_NAME, KEY_MS, KEY_COUNT, KEY_BOOL, KEY_CHOICE, KEY_BDF_LIST } KeyKind;

typedef struct {
    const char *name;
    KeyKind kind;
    gsize offset;
    const char *const *choices;
} Key;

static const char *const release_modes[] = {"warm", "restore", NULL};
static const char *const log_levels[] = {"debug", "info", "warning", NULL};

static const Key keys[] = {
    {"sysfs_root", KEY_PATH, G_STRUCT_OFFSET(FpConfig, sysfs_root), NULL},
    {"proc_root", KEY_PATH, G_STRUCT_OFFSET(FpConfig, proc_root), NULL},
    {"dev_root", KEY_PATH, G_STRUCT_OFFSET(FpConfig, dev_root), NULL},
    {"libvirt_status_dir", KEY_PATH, G_STRUCT_OFFSET(FpConfig, libvirt_status_dir), NULL},
    {"host_devices_allowed", KEY_BDF_LIST, G_STRUCT_OFFSET(FpConfig, host_devices_allowed), NULL},
    {"run_dir", KEY_PATH, G_STRUCT_OFFSET(FpConfig, run_dir), NULL},
    {"device_timeout_ms", KEY_MS, G_STRUCT_OFFSET(FpConfig, device_timeout_ms), NULL},
    {"hook_deadline_ms", KEY_MS, G_STRUCT_OFFSET(FpConfig, hook_deadline_ms), NULL},
    {"max_workers", KEY_COUNT, G_STRUCT_OFFSET(FpConfig, max_workers), NULL},
    {"release_mode", KEY_CHOICE, G_STRUCT_OFFSET(FpConfig, release_mode), release_modes},
    {"reserve_hugepages", KEY_BOOL, G_STRUCT_OFFSET(FpConfig, reserve_hugepages), NULL},
    {"compact_memory", KEY_BOOL, G_STRUCT_OFFSET(FpConfig, compact_memory), NULL},
    {"tune_on_restore", KEY_BOOL, G_STRUCT_OFFSET(FpConfig, tune_on_restore), NULL},
    {"log_level", KEY_CHOICE, G_STRUCT_OFFSET(FpConfig, log_level), log_levels},
    {"log_file", KEY_PATH, G_STRUCT_OFFSET(FpConfig, log_file), NULL},
    {"qemu_binary", KEY_PATH, G_STRUCT_OFFSET(FpConfig, qemu_binary), NULL},
    {"fastpass_qemu", KEY_PATH, G_STRUCT_OFFSET(FpConfig, fastpass_qemu), NULL},
    {"pool_dir", KEY_PATH, G_STRUCT_OFFSET(FpConfig, pool_dir), NULL},
    {"use_pool", KEY_BOOL, G_STRUCT_OFFSET(FpConfig, use_pool), NULL},
    {"qemu_user", KEY_NAME, G_STRUCT_OFFSET(FpConfig, qemu_user), NULL},
    {"apparmor_helper", KEY_PATH, G_STRUCT_OFFSET(FpConfig, apparmor_helper), NULL},
    {"libvirt_qemu_conf", KEY_PATH, G_STRUCT_OFFSET(FpConfig, libvirt_qemu_conf), NULL},
};

/* A JSON array of PCI addresses, each checked and kept in canonical form. */
static gboolean
set_bdf_list(char ***field, const char *name, json_object *v, const char *path, GError **error)
{
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);

    if (!json_object_is_type(v, json_type_array)) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "%s: \"%s\" must be a list of PCI addresses (DDDD:BB:DD.F)", path, name);
        return FALSE;
    }
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *item = json_object_array_get_idx(v, i);
        FpPciAddr addr;
        char bdf[FP_PCI_ADDR_STRLEN];

        if (!json_object_is_type(item, json_type_string) ||
            !fp_pci_addr_parse(json_object_get_string(item), &addr, NULL)) {
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                        "%s: \"%s\" item %zu is not a PCI address (DDDD:BB:DD.F)", path, name,
                        i + 1);
            return FALSE;
        }
        fp_pci_addr_format(&addr, bdf);
        g_ptr_array_add(list, g_strdup(bdf));
    }
    g_ptr_array_add(list, NULL);
    g_strfreev(*field);
    *field = (char **)g_ptr_array_steal(list, NULL);
    return TRUE;
}

static gboolean
set_key(FpConfig *c, const Key *k, json_object *v, const char *path, GError **error)
{
    gpointer field = G_STRUCT_MEMBER_P(c, k->offset);
    gint64 n;

    switch (k->kind) {
    case KEY_PATH:
        if (!json_object_is_type(v, json_type_string) || json_object_get_string(v)[0] != '/') {
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s: \"%s\" must be an absolute path",
                        path, k->name);
            return FALSE;
        }
        g_free(*(char **)field);
        *(char **)field = g_strdup(json_object_get_string(v));
        return TRUE;
    case KEY_NAME:
        /* A user name: what useradd accepts, nothing that could become a path. */
        if (!json_object_is_type(v, json_type_string) ||
            !g_regex_match_simple("^[a-z_][a-z0-9_.-]{0,31}$", json_object_get_string(v), 0, 0)) {
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s: \"%s\" must be a user name", path,
                        k->name);
            return FALSE;
        }
        g_free(*(char **)field);
        *(char **)field = g_strdup(json_object_get_string(v));
        return TRUE;
    case KEY_MS:
    case KEY_COUNT:
        n = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        if (n < 1 || n > (k->kind == KEY_MS ? 3600 * 1000 : 1024)) {
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                        "%s: \"%s\" must be a whole number from 1 to %d", path, k->name,
                        k->kind == KEY_MS ? 3600 * 1000 : 1024);
            return FALSE;
        }
        *(guint *)field = (guint)n;
        return TRUE;
    case KEY_BOOL:
        if (!json_object_is_type(v, json_type_boolean)) {
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s: \"%s\" must be true or false", path,
                        k->name);
            return FALSE;
        }
        *(gboolean *)field = json_object_get_boolean(v);
        return TRUE;
    case KEY_CHOICE:
        for (guint i = 0; json_object_is_type(v, json_type_string) && k->choices[i]; i++) {
            if (strcmp(json_object_get_string(v), k->choices[i]) == 0) {
                if (k->choices == release_modes) {
                    *(FpReleaseMode *)field = i == 0 ? FP_RELEASE_WARM : FP_RELEASE_RESTORE;
                } else {
                    g_free(*(char **)field);
                    *(char **)field = g_strdup(k->choices[i]);
                }
                return TRUE;
            }
        }
        {
            g_autofree char *list = g_strjoinv(", ", (char **)k->choices);
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s: \"%s\" must be one of %s", path,
                        k->name, list);
        }
        return FALSE;
    case KEY_BDF_LIST:
        return set_bdf_list((char ***)field, k->name, v, path, error);
    }
    return FALSE;
}

/* Which QEMU the wrapper runs and the hook probes, decided here alone: qemu_binary when the file
 * sets it (SET), else fastpass's QEMU where it is installed, else Debian's. Where
 * fastpass-wrap-qemu diverted that binary (dpkg-divert to QEMU.distrib) the wrapper holds its
 * name, so the diverted one runs. */
static void
resolve_qemu(FpConfig *config, gboolean set)
{
    g_autofree char *diverted = NULL;

    if (!set && access(config->fastpass_qemu, X_OK) == 0) {
        g_free(config->qemu_binary);
        config->qemu_binary = g_strdup(config->fastpass_qemu);
    }
    diverted = g_strconcat(config->qemu_binary, ".distrib", NULL);
    if (g_file_test(diverted, G_FILE_TEST_IS_REGULAR | G_FILE_TEST_IS_EXECUTABLE)) {
        g_free(config->qemu_binary);
        config->qemu_binary = g_steal_pointer(&diverted);
    }
}

gboolean
fp_config_load(FpConfig *config, const char *path, gboolean *exists, GError **error)
{
    g_autofree char *buf = NULL;
    g_autoptr(FpConfig) fresh = fp_config_new();
    json_tokener *tok;
    json_object *root;
    gsize len;
    gboolean ok = TRUE;

    *exists = g_file_test(path, G_FILE_TEST_EXISTS);
    if (!*exists) {
        resolve_qemu(config, FALSE);
        return TRUE;
    }
    if (!(buf = fp_xml_read_file(path, &len, error)))
        return FALSE;
    tok = json_tokener_new();
    root = json_tokener_parse_ex(tok, buf, (int)len);
    if (!root || json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(root, json_type_object)) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s: not a JSON object (%s)", path,
                    json_tokener_error_desc(json_tokener_get_error(tok)));
        json_tokener_free(tok);
        json_object_put(root);
        return FALSE;
    }
    json_tokener_free(tok);
    json_object_object_foreach(root, name, value)
    {
        const Key *k = NULL;

        for (gsize i = 0; i < G_N_ELEMENTS(keys) && !k; i++) {
            if (strcmp(keys[i].name, name) == 0)
                k = &keys[i];
        }
        if (!k) {
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s: unknown key \"%s\"", path, name);
            ok = FALSE;
            break;
        }
        if (!set_key(fresh, k, value, path, error)) {
            ok = FALSE;
            break;
        }
    }
    if (ok)
        resolve_qemu(fresh, json_object_object_get_ex(root, "qemu_binary", NULL));
    json_object_put(root);
    if (ok) {
        FpConfig tmp = *config;
        *config = *fresh;
        *fresh = tmp;
    } else {
        /* A bad file names no QEMU to trust: the one CONFIG holds, but never the wrapper that
         * took a diverted QEMU's place. */
        resolve_qemu(config, TRUE);
    }
    return ok;
}

const char *const *
fp_config_key_names(void)
{
    static const char *names[G_N_ELEMENTS(keys) + 1];

    for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
        names[i] = keys[i].name;
    return names;
}

char *
fp_config_get(const FpConfig *config, const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
        const Key *k = &keys[i];
        gconstpointer field = G_STRUCT_MEMBER_P(config, k->offset);

        if (strcmp(k->name, name) != 0)
            continue;
        switch (k->kind) {
        case KEY_PATH:
        case KEY_NAME:
            return g_strdup(*(char *const *)field ? *(char *const *)field : "");
        case KEY_MS:
        case KEY_COUNT:
            return g_strdup_printf("%u", *(const guint *)field);
        case KEY_BOOL:
            return g_strdup(*(const gboolean *)field ? "true" : "false");
        case KEY_CHOICE:
            if (k->choices == release_modes)
                return g_strdup(*(const FpReleaseMode *)field == FP_RELEASE_RESTORE ? "restore"
                                                                                    : "warm");
            return g_strdup(*(char *const *)field);
        case KEY_BDF_LIST:
            return g_strjoinv(",", *(char **const *)field);
        }
    }
    return NULL;
}

gboolean
fp_config_qemu_ids(const FpConfig *config, uid_t *uid, gid_t *gid)
{
    FILE *f = fopen("/etc/passwd", "re");
    struct passwd *pw = NULL;

    while (f && (pw = fgetpwent(f)) && g_strcmp0(pw->pw_name, config->qemu_user))
        ;
    if (f)
        fclose(f);
    if (!pw)
        pw = getpwnam(config->qemu_user);
    if (!pw)
        return FALSE;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return TRUE;
}
