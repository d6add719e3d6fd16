/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The firmware a domain boots, from its <os> element and QEMU's firmware descriptors. */
#include "firmware.h"

#include "error.h"
#include "jsonget.h"
#include "xml.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static const char *const type_names[] = {
    [FP_FW_SEABIOS] = "seabios",
    [FP_FW_UEFI] = "uefi",
    [FP_FW_OTHER] = "other",
};
G_STATIC_ASSERT(G_N_ELEMENTS(type_names) == FP_FW_N_TYPES);

const char *
fp_firmware_type_name(FpFirmwareType type)
{
    return type < FP_FW_N_TYPES ? type_names[type] : NULL;
}

void
fp_firmware_free(FpFirmware *fw)
{
    if (!fw)
        return;
    g_free(fw->code);
    g_free(fw->vars);
    g_free(fw->nvram);
    g_free(fw->descriptor);
    g_free(fw);
}

FpFirmware *
fp_firmware_copy(const FpFirmware *fw)
{
    FpFirmware *c;

    if (!fw)
        return NULL;
    c = g_memdup2(fw, sizeof(*fw));
    c->code = g_strdup(fw->code);
    c->vars = g_strdup(fw->vars);
    c->nvram = g_strdup(fw->nvram);
    c->descriptor = g_strdup(fw->descriptor);
    return c;
}

/* One QEMU firmware descriptor, as far as choosing and describing an x86_64 image goes. */
typedef struct {
    char *path;
    char *code, *vars_template;
    gboolean uefi, flash;
    GStrv machines; /* globs of the x86_64 target */
    GStrv features;
} Descriptor;

static void
descriptor_free(Descriptor *d)
{
    g_free(d->path);
    g_free(d->code);
    g_free(d->vars_template);
    g_strfreev(d->machines);
    g_strfreev(d->features);
    g_free(d);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Descriptor, descriptor_free)

static GStrv
json_strings(json_object *arr)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new();

    for (size_t i = 0;
         json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr); i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(arr, i));

        if (s)
            g_ptr_array_add(out, g_strdup(s));
    }
    g_ptr_array_add(out, NULL);
    return (GStrv)g_ptr_array_free(g_steal_pointer(&out), FALSE);
}

static Descriptor *
descriptor_load(const char *path)
{
    g_autoptr(Descriptor) d = g_new0(Descriptor, 1);
    json_object *j = json_object_from_file(path), *mapping, *targets;
    g_auto(GStrv) ifaces = NULL;

    if (!j)
        return NULL;
    d->path = g_strdup(path);
    mapping = json_object_object_get(j, "mapping");
    ifaces = json_strings(json_object_object_get(j, "interface-types"));
    d->uefi = g_strv_contains((const char *const *)ifaces, "uefi");
    d->flash = !g_strcmp0(fp_json_str(mapping, "device"), "flash");
    d->code = g_strdup(fp_json_str(json_object_object_get(mapping, "executable"), "filename"));
    d->vars_template =
        g_strdup(fp_json_str(json_object_object_get(mapping, "nvram-template"), "filename"));
    d->features = json_strings(json_object_object_get(j, "features"));
    targets = json_object_object_get(j, "targets");
    for (size_t i = 0;
         json_object_is_type(targets, json_type_array) && i < json_object_array_length(targets);
         i++) {
        json_object *t = json_object_array_get_idx(targets, i);

        if (!g_strcmp0(fp_json_str(t, "architecture"), "x86_64") && !d->machines)
            d->machines = json_strings(json_object_object_get(t, "machines"));
    }
    json_object_put(j);
    return d->code ? g_steal_pointer(&d) : NULL;
}

/* g_ptr_array_sort passes pointers to the elements. */
static int
cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every descriptor in DIR, in the order QEMU and libvirt give them priority: by file name. */
static GPtrArray *
descriptors_load(const char *dir)
{
    GPtrArray *all = g_ptr_array_new_with_free_func((GDestroyNotify)descriptor_free);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        if (g_str_has_suffix(name, ".json"))
            g_ptr_array_add(names, g_strdup(name));
    }
    g_ptr_array_sort(names, cmp_names);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path =
            g_build_filename(dir, (const char *)g_ptr_array_index(names, i), NULL);
        Descriptor *one = descriptor_load(path);

        if (one)
            g_ptr_array_add(all, one);
    }
    return all;
}

static gboolean
has_feature(const Descriptor *d, const char *feature)
{
    return g_strv_contains((const char *const *)d->features, feature);
}

/* QEMU's aliases "q35" and "pc" against descriptor globs such as "pc-q35-*". */
static gboolean
machine_matches(const Descriptor *d, const char *machine)
{
    const char *m = !machine || !strcmp(machine, "pc") ? "pc-i440fx-any"
                    : !strcmp(machine, "q35")          ? "pc-q35-any"
                                                       : machine;

    for (guint i = 0; d->machines && d->machines[i]; i++) {
        if (g_pattern_match_simple(d->machines[i], m))
            return TRUE;
    }
    return FALSE;
}

static gboolean
is_q35(const char *machine)
{
    return machine && (!strcmp(machine, "q35") || g_str_has_prefix(machine, "pc-q35-"));
}

/* A <firmware><feature name=NAME enabled=.../> request: 1 yes, 0 no, -1 none. */
static int
wants_feature(xmlNode *os, const char *name)
{
    fp_xml_foreach_child (f, fp_xml_child(os, "firmware"), "feature") {
        if (fp_xml_prop_is(f, "name", name))
            return fp_xml_prop_is(f, "enabled", "yes") ? 1 : 0;
    }
    return -1;
}

/* firmware='efi': the first descriptor, by priority, that fits, as libvirt chooses. */
static const Descriptor *
choose(GPtrArray *all, xmlNode *os, const char *machine, gboolean smm_off)
{
    int secure = wants_feature(os, "secure-boot"), keys = wants_feature(os, "enrolled-keys");

    if (fp_xml_prop_is(fp_xml_child(os, "loader"), "secure", "yes"))
        secure = 1;
    for (guint i = 0; i < all->len; i++) {
        const Descriptor *d = g_ptr_array_index(all, i);

        if (!d->uefi || !d->flash || !machine_matches(d, machine))
            continue;
        if ((secure >= 0 && has_feature(d, "secure-boot") != secure) ||
            (keys >= 0 && has_feature(d, "enrolled-keys") != keys) ||
            (smm_off && has_feature(d, "requires-smm")))
            continue;
        return d;
    }
    return NULL;
}

static const Descriptor *
describing(GPtrArray *all, const char *code)
{
    for (guint i = 0; code && i < all->len; i++) {
        const Descriptor *d = g_ptr_array_index(all, i);

        if (!strcmp(d->code, code))
            return d;
    }
    return NULL;
}

static gboolean
readable_file(const char *what, const char *path, GError **error)
{
    if (g_file_test(path, G_FILE_TEST_IS_REGULAR) && g_access(path, R_OK) == 0)
        return TRUE;
    g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s %s: %s", what, path,
                g_file_test(path, G_FILE_TEST_EXISTS) ? "not a readable file" : "no such file");
    return FALSE;
}

/* --direct's checks: every file there, and only what QEMU can be given. */
/* CHOSEN: the image was auto-selected (always read-only then, as libvirt gives it). */
static gboolean
check_runnable(const FpFirmware *fw, xmlNode *os, const char *machine, gboolean smm_off,
               gboolean chosen, GError **error)
{
    g_autofree char *type = fp_xml_prop(fp_xml_child(os, "loader"), "type");

    if (fw->type == FP_FW_SEABIOS)
        return TRUE;
    /* libvirt refuses to start such a domain: --direct must not measure one. */
    if (fw->type == FP_FW_UEFI &&
        !fp_xml_child(fp_xml_child(xmlDocGetRootElement(os->doc), "features"), "acpi")) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "UEFI firmware needs <features><acpi/></features> (libvirt refuses to start it "
                    "without)");
        return FALSE;
    }
    if (type && strcmp(type, "pflash") && strcmp(type, "rom")) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "<loader type='%s'>: --direct boots pflash and rom loaders only", type);
        return FALSE;
    }
    if (!readable_file("<loader>", fw->code, error))
        return FALSE;
    if (fw->pflash && !chosen && !fp_xml_prop_is(fp_xml_child(os, "loader"), "readonly", "yes")) {
        g_set_error(
            error, FP_ERROR, FP_ERROR_INPUT,
            "<loader type='pflash'> %s is not readonly='yes': the guest would write into it",
            fw->code);
        return FALSE;
    }
    if (fw->pflash && !fw->vars) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "<loader> %s: no variables store (no <nvram> file or template, no descriptor "
                    "naming one)",
                    fw->code);
        return FALSE;
    }
    if (fw->vars && !readable_file("<nvram> template", fw->vars, error))
        return FALSE;
    if (fw->smm && (!is_q35(machine) || smm_off)) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "%s needs SMM (secure boot), which %s cannot give", fw->code,
                    smm_off ? "<smm state='off'/>" : "a machine other than q35");
        return FALSE;
    }
    return TRUE;
}

FpFirmware *
fp_firmware_of_domain(xmlDoc *doc, const char *descriptor_dir, FpFirmwareMode mode, GError **error)
{
    g_autoptr(FpFirmware) fw = g_new0(FpFirmware, 1);
    g_autoptr(GPtrArray) all = NULL;
    xmlNode *root = xmlDocGetRootElement(doc), *os = fp_xml_child(root, "os");
    xmlNode *loader = fp_xml_child(os, "loader"), *nvram = fp_xml_child(os, "nvram");
    xmlNode *smm = fp_xml_child(fp_xml_child(root, "features"), "smm");
    g_autofree char *machine = fp_xml_prop(fp_xml_child(os, "type"), "machine");
    g_autofree char *template = fp_xml_prop(nvram, "template");
    gboolean efi = fp_xml_prop_is(os, "firmware", "efi"),
             smm_off = fp_xml_prop_is(smm, "state", "off");
    const char *dir = descriptor_dir ? descriptor_dir : FP_FIRMWARE_DESCRIPTOR_DIR;
    const Descriptor *d;
    gboolean chosen = FALSE;

    fw->code = fp_xml_text(loader);
    if (fw->code && !*fw->code)
        g_clear_pointer(&fw->code, g_free);
    fw->nvram = fp_xml_text(nvram);
    if (fw->nvram && !*fw->nvram)
        g_clear_pointer(&fw->nvram, g_free);
    if (!fw->code && !efi) {
        if (mode == FP_FIRMWARE_RUN && fp_xml_prop_is(loader, "secure", "yes")) {
            g_set_error(
                error, FP_ERROR, FP_ERROR_INPUT,
                "<loader secure='yes'> names no firmware image (and <os> has no firmware='efi')");
            return NULL;
        }
        fw->type = FP_FW_SEABIOS;
        return g_steal_pointer(&fw);
    }
    all = descriptors_load(dir);
    if (!fw->code) {
        /* firmware='efi' left to auto-selection: libvirt resolves it itself (its live XML then
         * names the image); --direct resolves it the same way or refuses. */
        fw->type = FP_FW_UEFI;
        fw->pflash = TRUE;
        if (mode == FP_FIRMWARE_DESCRIBE)
            return g_steal_pointer(&fw);
        if (!(d = choose(all, os, machine, smm_off))) {
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                        "<os firmware='efi'>: no firmware descriptor in %s fits (uefi, flash, "
                        "x86_64, machine %s, "
                        "the <firmware> features asked for)",
                        dir, machine ? machine : "pc");
            return NULL;
        }
        fw->code = g_strdup(d->code);
        chosen = TRUE;
    } else {
        d = describing(all, fw->code);
        fw->pflash = fp_xml_prop_is(loader, "type", "pflash");
        fw->type =
            (d && d->uefi) || fw->pflash || strstr(fw->code, "OVMF") ? FP_FW_UEFI : FP_FW_OTHER;
    }
    if (d)
        fw->descriptor = g_strdup(d->path);
    /* libvirt boots an nvram file that exists as it is and makes a missing one from the
     * template (the loader's descriptor names one when the domain does not). */
    if (fw->nvram &&
        (mode == FP_FIRMWARE_DESCRIBE || g_file_test(fw->nvram, G_FILE_TEST_IS_REGULAR)))
        fw->vars = g_strdup(fw->nvram);
    else if (template && *template)
        fw->vars = g_strdup(template);
    else if (fw->pflash && d && d->vars_template)
        fw->vars = g_strdup(d->vars_template);
    fw->secure_boot =
        fp_xml_prop_is(loader, "secure", "yes") || (d && has_feature(d, "secure-boot"));
    fw->smm = fp_xml_prop_is(smm, "state", "on") || fp_xml_prop_is(loader, "secure", "yes") ||
              (d && has_feature(d, "requires-smm"));
    if (mode == FP_FIRMWARE_RUN && !check_runnable(fw, os, machine, smm_off, chosen, error))
        return NULL;
    return g_steal_pointer(&fw);
}

/* "if=pflash,format=raw,unit=0,file=PATH,readonly=on" -> PATH (QEMU's ",," unescaped). */
static char *
drive_file(const char *value)
{
    g_autoptr(GString) out = g_string_new(NULL);
    const char *p = strstr(value, "file=");

    if (!p || (p != value && p[-1] != ','))
        return NULL;
    for (p += 5; *p; p++) {
        if (*p == ',' && p[1] == ',')
            p++;
        else if (*p == ',')
            break;
        g_string_append_c(out, *p);
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

FpFirmware *
fp_firmware_of_argv(char **argv)
{
    FpFirmware *fw = g_new0(FpFirmware, 1);
    guint pflash = 0;

    for (guint i = 1; argv[i] && argv[i + 1]; i++) {
        if (!strcmp(argv[i], "-bios") && !fw->code) {
            fw->code = g_strdup(argv[i + 1]);
            fw->type = strstr(fw->code, "OVMF") ? FP_FW_UEFI : FP_FW_OTHER;
        } else if (!strcmp(argv[i], "-drive") && strstr(argv[i + 1], "if=pflash")) {
            char *file = drive_file(argv[i + 1]);

            fw->type = FP_FW_UEFI;
            fw->pflash = TRUE;
            if (pflash++ == 0) {
                g_free(fw->code);
                fw->code = file;
            } else {
                g_free(fw->vars);
                fw->vars = file;
            }
        } else if (!strcmp(argv[i], "-global") && strstr(argv[i + 1], "cfi.pflash01") &&
                   strstr(argv[i + 1], "property=secure,value=on")) {
            fw->secure_boot = fw->smm = TRUE;
        }
    }
    return fw;
}

json_object *
fp_firmware_to_json(const FpFirmware *fw)
{
    json_object *j = json_object_new_object();

    json_object_object_add(j, "type", json_object_new_string(fp_firmware_type_name(fw->type)));
    json_object_object_add(j, "code", fw->code ? json_object_new_string(fw->code) : NULL);
    json_object_object_add(j, "vars", fw->vars ? json_object_new_string(fw->vars) : NULL);
    json_object_object_add(j, "nvram", fw->nvram ? json_object_new_string(fw->nvram) : NULL);
    json_object_object_add(j, "secure_boot", json_object_new_boolean(fw->secure_boot));
    json_object_object_add(j, "smm", json_object_new_boolean(fw->smm));
    return j;
}

FpFirmware *
fp_firmware_from_json(json_object *j)
{
    FpFirmware *fw;
    const char *type = fp_json_str(j, "type");
    guint t;

    if (!json_object_is_type(j, json_type_object) || !type)
        return NULL;
    for (t = 0; t < FP_FW_N_TYPES && strcmp(type_names[t], type); t++)
        ;
    if (t == FP_FW_N_TYPES)
        return NULL;
    fw = g_new0(FpFirmware, 1);
    fw->type = t;
    fw->code = g_strdup(fp_json_str(j, "code"));
    fw->vars = g_strdup(fp_json_str(j, "vars"));
    fw->nvram = g_strdup(fp_json_str(j, "nvram"));
    fw->pflash = fw->type == FP_FW_UEFI;
    fw->secure_boot = json_object_get_boolean(json_object_object_get(j, "secure_boot"));
    fw->smm = json_object_get_boolean(json_object_object_get(j, "smm"));
    return fw;
}

char *
fp_firmware_describe(const FpFirmware *fw)
{
    GString *out = g_string_new(fp_firmware_type_name(fw->type));

    if (fw->type == FP_FW_SEABIOS)
        g_string_append(out, " (QEMU's default)");
    if (fw->code)
        g_string_append_printf(out, ": %s", fw->code);
    if (fw->vars)
        g_string_append_printf(out, ", vars from %s", fw->vars);
    if (fw->type == FP_FW_UEFI)
        g_string_append_printf(out, ", secure boot %s%s", fw->secure_boot ? "on" : "off",
                               fw->smm ? ", SMM" : "");
    return g_string_free(out, FALSE);
}
