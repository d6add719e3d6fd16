/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One domain's AppArmor profile gets one pool slot: the label read from the live XML libvirt
 * passes the hook, and libvirt's own virt-aa-helper (dry run: nothing loaded) writing the rule
 * into that domain's rules file alone. Skipped where libvirt's helper is not installed. */
#include "apparmor.h"
#include "domain.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UUID "0a0a0a0a-0000-4000-8000-00000000000a"

typedef struct {
    const char *name;
    const char *seclabels;
    const char *label; /* NULL: not confined by AppArmor */
} LabelCase;

static const LabelCase label_cases[] = {
    {"apparmor",
     "<seclabel type='dynamic' model='apparmor' relabel='yes'><label>libvirt-" UUID
     "</label><imagelabel>libvirt-" UUID "</imagelabel></seclabel>",
     "libvirt-" UUID},
    {"dac-then-apparmor",
     "<seclabel type='dynamic' model='dac' relabel='yes'><label>+64055:+107</label></seclabel>"
     "<seclabel type='dynamic' model='apparmor' relabel='yes'><label>libvirt-" UUID
     "</label></seclabel>",
     "libvirt-" UUID},
    {"dac-only",
     "<seclabel type='dynamic' model='dac' relabel='yes'><label>+64055:+107</label></seclabel>",
     NULL},
    {"none", "", NULL},
    {"apparmor-without-label", "<seclabel type='none' model='apparmor'/>", NULL},
    {"apparmor-other-profile",
     "<seclabel type='static' model='apparmor'><label>unconfined</label></seclabel>", NULL},
    {"apparmor-path-in-label",
     "<seclabel type='static' model='apparmor'><label>libvirt-../../x</label></seclabel>", NULL},
};

static char *
domain_xml(const char *seclabels)
{
    return g_strdup_printf(
        "<domain type='qemu'><name>vm</name><uuid>%s</uuid><memory unit='MiB'>2</memory>"
        "<memoryBacking><hugepages/></memoryBacking><os><type arch='x86_64'>hvm</type></os>"
        "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>%s</domain>",
        UUID, seclabels);
}

static void
test_label(gconstpointer data)
{
    const LabelCase *c = data;
    g_autofree char *xml = domain_xml(c->seclabels);
    g_autoptr(GError) error = NULL;
    g_autoptr(FpDomain) dom = fp_domain_load_memory(xml, strlen(xml), "test", &error);
    g_autofree char *label = NULL;

    g_assert_no_error(error);
    label = fp_apparmor_domain_label(fp_domain_root(dom));
    g_assert_cmpstr(label, ==, c->label);
}

static void
test_allow_dry_run(void)
{
    g_autofree char *xml = domain_xml(label_cases[0].seclabels);
    g_autofree char *out = NULL;
    g_autoptr(GError) error = NULL;
    const char *slot = "/dev/hugepages/fastpass/claim-" UUID;

    if (access(FP_APPARMOR_HELPER, X_OK) < 0) {
        g_test_skip("needs libvirt's " FP_APPARMOR_HELPER);
        return;
    }
    g_assert_true(fp_apparmor_allow(FP_APPARMOR_HELPER, "libvirt-" UUID, xml, strlen(xml), slot,
                                    TRUE, 10000, &out, &error));
    g_assert_no_error(error);
    g_test_message("virt-aa-helper -d says:\n%s", out);
    /* Written to this domain's own rules file, and nowhere else. */
    g_assert_nonnull(strstr(out, "/etc/apparmor.d/libvirt/libvirt-" UUID ".files"));
    g_assert_nonnull(strstr(out, "\"/dev/hugepages/fastpass/claim-" UUID "\" rwk,"));
    g_assert_null(strstr(out, "abstractions"));
}

static void
test_allow_refuses(void)
{
    static const char *const bad[][2] = {
        {"libvirt-" UUID, "relative/path"},
        {"libvirt-" UUID, "/dev/hugepages/fastpass/**"},
        {"libvirt-" UUID, "/dev/hugepages/fastpass/x\" rw,\n/etc/shadow"},
        {"libvirt-" UUID, "/dev/hugepages/../../etc/shadow"},
        {"unconfined", "/dev/hugepages/fastpass/claim-" UUID},
        {"libvirt-../x", "/dev/hugepages/fastpass/claim-" UUID},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;

        g_assert_false(fp_apparmor_allow(FP_APPARMOR_HELPER, bad[i][0], "", 0, bad[i][1], TRUE,
                                         1000, NULL, &error));
        g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
        g_test_message("%s", error->message);
    }
}

static void
test_allow_helper_fails(void)
{
    g_autoptr(GError) error = NULL;
    /* More than a pipe holds: the helper is gone before the XML is all written (EPIPE). */
    g_autofree char *big = g_strnfill(1024 * 1024, ' ');

    /* A helper that exits non-zero (here: false(1)) is an error naming it: no hang, and no
     * SIGPIPE killing the hook. */
    g_assert_false(fp_apparmor_allow("/bin/false", "libvirt-" UUID, big, strlen(big),
                                     "/dev/hugepages/fastpass/claim-" UUID, FALSE, 5000, NULL,
                                     &error));
    g_assert_error(error, FP_ERROR, FP_ERROR_HOST);
    g_test_message("%s", error->message);
}

/* Whether libvirt confines each domain on the host: the kernel's AppArmor directory under the
 * sysfs root, and qemu.conf's security_driver and security_default_confined. */
typedef struct {
    const char *name;
    gboolean apparmor; /* the kernel has AppArmor */
    const char *conf;  /* qemu.conf; NULL: none */
    gboolean confines;
    const char *why; /* a part of the reason, when it does not */
} HostCase;

static const HostCase host_cases[] = {
    {"no-apparmor", FALSE, NULL, FALSE, "the kernel has no AppArmor"},
    {"apparmor-no-conf", TRUE, NULL, TRUE, NULL},
    {"apparmor-default-conf", TRUE, "#security_driver = \"selinux\"\nuser = \"libvirt-qemu\"\n",
     TRUE, NULL},
    {"driver-none", TRUE, "security_driver = \"none\"\n", FALSE,
     "security_driver to \"none\", not AppArmor"},
    {"driver-selinux", TRUE, "  security_driver=\"selinux\"\n", FALSE, "\"selinux\""},
    {"driver-list", TRUE, "security_driver = [ \"selinux\",\n  \"apparmor\" ]\n", TRUE, NULL},
    {"driver-list-without", TRUE, "security_driver = [ \"selinux\" ]\n", FALSE, "\"selinux\""},
    {"default-unconfined", TRUE, "security_default_confined = 0\n", FALSE,
     "security_default_confined = 0"},
    {"default-confined", TRUE, "security_default_confined = 1\n", TRUE, NULL},
};

static void
test_host(gconstpointer data)
{
    const HostCase *c = data;
    g_autofree char *root = g_dir_make_tmp("fp-aa-XXXXXX", NULL);
    g_autofree char *aa = g_build_filename(root, "sys/kernel/security/apparmor", NULL);
    g_autofree char *conf = g_build_filename(root, "qemu.conf", NULL);
    g_autoptr(FpConfig) config = fp_config_new();
    g_autofree char *why = NULL, *cmd = NULL;

    g_assert_nonnull(root);
    if (c->apparmor)
        g_assert_cmpint(g_mkdir_with_parents(aa, 0755), ==, 0);
    if (c->conf)
        g_assert_true(g_file_set_contents(conf, c->conf, -1, NULL));
    g_free(config->sysfs_root), config->sysfs_root = g_build_filename(root, "sys", NULL);
    g_free(config->libvirt_qemu_conf), config->libvirt_qemu_conf = g_strdup(conf);
    g_assert_cmpint(fp_apparmor_confines_domains(config, &why), ==, c->confines);
    if (c->why) {
        g_assert_nonnull(why);
        g_assert_nonnull(strstr(why, c->why));
    } else {
        g_assert_null(why);
    }
    cmd = g_strdup_printf("rm -rf '%s'", root);
    g_assert_cmpint(system(cmd), ==, 0);
}

/* The live XML at start begin: only the domain's own AppArmor profile, and no SELinux label. */
typedef struct {
    const char *name;
    const char *seclabels;
    gboolean confined;
} DomainCase;

static const DomainCase domain_cases[] = {
    {"own-profile",
     "<seclabel type='dynamic' model='apparmor' relabel='yes'><label>libvirt-" UUID
     "</label></seclabel>",
     TRUE},
    {"no-label", "", FALSE},
    {"type-none", "<seclabel type='none'/>", FALSE},
    {"selinux",
     "<seclabel type='dynamic' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:"
     "s0:c1,c2</label></seclabel>",
     FALSE},
    {"selinux-and-apparmor",
     "<seclabel type='dynamic' model='selinux'><label>x</label></seclabel>"
     "<seclabel type='dynamic' model='apparmor'><label>libvirt-" UUID "</label></seclabel>",
     FALSE},
    {"another-domains-profile",
     "<seclabel type='static' model='apparmor'><label>"
     "libvirt-0b0b0b0b-0000-4000-8000-00000000000b</label></seclabel>",
     FALSE},
};

static void
test_domain_confined(gconstpointer data)
{
    const DomainCase *c = data;
    g_autofree char *xml = domain_xml(c->seclabels);
    g_autoptr(GError) error = NULL;
    g_autoptr(FpDomain) dom = fp_domain_load_memory(xml, strlen(xml), "test", &error);
    g_autofree char *label = NULL, *why = NULL;

    g_assert_no_error(error);
    g_assert_cmpint(fp_apparmor_domain_confined(fp_domain_root(dom), UUID, &label, &why), ==,
                    c->confined);
    if (c->confined) {
        g_assert_cmpstr(label, ==, "libvirt-" UUID);
        g_assert_null(why);
    } else {
        g_assert_null(label);
        g_assert_nonnull(why);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(label_cases); i++) {
        g_autofree char *path = g_strdup_printf("/apparmor/label/%s", label_cases[i].name);

        g_test_add_data_func(path, &label_cases[i], test_label);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(host_cases); i++) {
        g_autofree char *path = g_strdup_printf("/apparmor/host/%s", host_cases[i].name);

        g_test_add_data_func(path, &host_cases[i], test_host);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(domain_cases); i++) {
        g_autofree char *path = g_strdup_printf("/apparmor/domain/%s", domain_cases[i].name);

        g_test_add_data_func(path, &domain_cases[i], test_domain_confined);
    }
    g_test_add_func("/apparmor/allow/dry-run-with-virt-aa-helper", test_allow_dry_run);
    g_test_add_func("/apparmor/allow/refuses-bad-input", test_allow_refuses);
    g_test_add_func("/apparmor/allow/helper-fails", test_allow_helper_fails);
    return g_test_run();
}
