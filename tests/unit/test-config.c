/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The configuration file: the one the packages ship (every key, with a comment each) loads and
 * says exactly the built-in defaults; bad files are refused naming the key, changing nothing. */
#include "config.h"
#include "error.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define SHIPPED FP_SOURCE_DIR "/launcher/fastpass.json"

static void
assert_same(const FpConfig *a, const FpConfig *b)
{
    g_assert_cmpstr(a->sysfs_root, ==, b->sysfs_root);
    g_assert_cmpstr(a->proc_root, ==, b->proc_root);
    g_assert_cmpstr(a->run_dir, ==, b->run_dir);
    g_assert_cmpuint(a->device_timeout_ms, ==, b->device_timeout_ms);
    g_assert_cmpuint(a->hook_deadline_ms, ==, b->hook_deadline_ms);
    g_assert_cmpuint(a->max_workers, ==, b->max_workers);
    g_assert_cmpint(a->release_mode, ==, b->release_mode);
    g_assert_cmpint(a->reserve_hugepages, ==, b->reserve_hugepages);
    g_assert_cmpint(a->compact_memory, ==, b->compact_memory);
    g_assert_cmpint(a->tune_on_restore, ==, b->tune_on_restore);
    g_assert_cmpstr(a->log_level, ==, b->log_level);
    g_assert_cmpstr(a->log_file, ==, b->log_file);
    g_assert_cmpstr(a->qemu_binary, ==, b->qemu_binary);
    g_assert_cmpstr(a->pool_dir, ==, b->pool_dir);
    g_assert_cmpint(a->use_pool, ==, b->use_pool);
    g_assert_cmpstr(a->qemu_user, ==, b->qemu_user);
    g_assert_cmpstr(a->apparmor_helper, ==, b->apparmor_helper);
    g_assert_cmpstr(a->libvirt_qemu_conf, ==, b->libvirt_qemu_conf);
}

static void
test_shipped_is_defaults(void)
{
    g_autoptr(FpConfig) loaded = fp_config_new(), defaults = fp_config_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    gboolean exists = FALSE;

    /* Loaded over values that differ from every default, so a key the file lacks shows. */
    g_free(loaded->run_dir), loaded->run_dir = g_strdup("/elsewhere");
    g_assert_true(fp_config_load(loaded, SHIPPED, &exists, &error));
    g_assert_no_error(error);
    g_assert_true(exists);
    assert_same(loaded, defaults);
    /* Every key is written out under a comment (log_file, qemu_binary and fastpass_qemu
     * commented out: their defaults depend on the host and the install). */
    g_assert_true(g_file_get_contents(SHIPPED, &text, NULL, NULL));
    for (const char *const *k =
             (const char *const[]){"sysfs_root", "proc_root", "run_dir", "device_timeout_ms",
                                   "hook_deadline_ms", "max_workers", "release_mode",
                                   "reserve_hugepages", "compact_memory", "tune_on_restore",
                                   "log_level", "qemu_binary", "fastpass_qemu", "pool_dir",
                                   "use_pool", "qemu_user", "apparmor_helper", NULL};
         *k; k++) {
        g_autofree char *quoted = g_strdup_printf("\"%s\":", *k);

        if (!strstr(text, quoted)) {
            g_test_message("%s is not written out in %s", *k, SHIPPED);
            g_test_fail();
        }
    }
    g_assert_nonnull(strstr(text, "log_file"));
}

/* What `fastpass config KEY` prints, for scripts. */
static void
test_get(void)
{
    g_autoptr(FpConfig) c = fp_config_new();
    const char *want[][2] = {
        {"run_dir", "/run/fastpass"}, {"max_workers", "16"}, {"release_mode", "warm"},
        {"use_pool", "true"},         {"log_file", ""},      {"qemu_user", "libvirt-qemu"}};
    guint n = 0;

    for (gsize i = 0; i < G_N_ELEMENTS(want); i++) {
        g_autofree char *v = fp_config_get(c, want[i][0]);

        g_assert_cmpstr(v, ==, want[i][1]);
    }
    c->release_mode = FP_RELEASE_RESTORE;
    c->use_pool = FALSE;
    {
        g_autofree char *mode = fp_config_get(c, "release_mode"),
                        *pool = fp_config_get(c, "use_pool");

        g_assert_cmpstr(mode, ==, "restore");
        g_assert_cmpstr(pool, ==, "false");
    }
    g_assert_null(fp_config_get(c, "no_such_key"));
    for (const char *const *k = fp_config_key_names(); *k; k++, n++) {
        g_autofree char *v = fp_config_get(c, *k);

        g_assert_nonnull(v);
    }
    g_assert_cmpuint(n, ==, 22);
}

typedef struct {
    const char *name;
    const char *text;
    const char *want_error; /* NULL: loads */
} BadCase;

static const BadCase cases[] = {
    {"comments-allowed", "// a comment\n{ /* here too */ \"max_workers\": 4 }\n", NULL},
    {"unknown-key", "{\"max_worker\": 4}", "unknown key \"max_worker\""},
    {"relative-path", "{\"pool_dir\": \"pool\"}", "\"pool_dir\" must be an absolute path"},
    {"not-an-object", "[1, 2]", "not a JSON object"},
    {"unterminated-comment", "{ /* \"max_workers\": 4 }", "not a JSON object"},
    {"bad-choice", "{\"release_mode\": \"cold\"}", "\"release_mode\" must be one of warm, restore"},
    {"allowed-not-a-list", "{\"host_devices_allowed\": \"0000:00:17.0\"}",
     "\"host_devices_allowed\" must be a list of PCI addresses"},
    {"allowed-bad-address", "{\"host_devices_allowed\": [\"0000:00:17.0\", \"../17.0\"]}",
     "\"host_devices_allowed\" item 2 is not a PCI address"},
};

static void
test_bad(gconstpointer data)
{
    const BadCase *c = data;
    g_autoptr(FpConfig) config = fp_config_new(), defaults = fp_config_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;
    gboolean exists;
    int fd = g_file_open_tmp("fp-config-XXXXXX.json", &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    g_assert_true(g_file_set_contents(path, c->text, -1, NULL));
    if (!c->want_error) {
        g_assert_true(fp_config_load(config, path, &exists, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(config->max_workers, ==, 4);
    } else {
        g_assert_false(fp_config_load(config, path, &exists, &error));
        g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
        if (!strstr(error->message, c->want_error)) {
            g_test_message("'%s' does not contain '%s'", error->message, c->want_error);
            g_test_fail();
        }
        assert_same(config, defaults); /* nothing taken from a bad file */
    }
    g_unlink(path);
}

/* Which QEMU runs: qemu_binary as set, else fastpass's QEMU where installed (executable), else
 * Debian's; each under its diverted name where fastpass-wrap-qemu diverted it. */
typedef struct {
    const char *name;
    gboolean set;      /* the file sets qemu_binary to DIR/set-qemu */
    gboolean fastpass; /* DIR/fastpass-qemu is there, executable */
    gboolean diverted; /* DIR/set-qemu.distrib is there, executable */
    const char *want;  /* a name in DIR; NULL: Debian's */
} QemuCase;

static const QemuCase qemu_cases[] = {
    {"set-wins", TRUE, TRUE, FALSE, "set-qemu"},
    {"set-diverted", TRUE, TRUE, TRUE, "set-qemu.distrib"},
    {"fastpass-installed", FALSE, TRUE, FALSE, "fastpass-qemu"},
    {"fastpass-not-installed", FALSE, FALSE, FALSE, NULL},
};

static void
put_exe(const char *dir, const char *name, int mode)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    g_assert_true(g_file_set_contents(path, "#!/bin/sh\n", -1, NULL));
    g_assert_cmpint(g_chmod(path, mode), ==, 0);
}

static void
test_qemu(gconstpointer data)
{
    const QemuCase *c = data;
    g_autoptr(FpConfig) config = fp_config_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("fp-config-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "fastpass.json", NULL);
    g_autofree char *want = NULL;
    g_autofree char *text = NULL;
    gboolean exists;

    g_assert_nonnull(dir);
    put_exe(dir, "set-qemu", 0755);
    put_exe(dir, "fastpass-qemu", c->fastpass ? 0755 : 0644); /* not executable: not installed */
    if (c->diverted)
        put_exe(dir, "set-qemu.distrib", 0755);
    text = g_strdup_printf("{\"fastpass_qemu\": \"%s/fastpass-qemu\"%s%s%s}", dir,
                           c->set ? ", \"qemu_binary\": \"" : "", c->set ? dir : "",
                           c->set ? "/set-qemu\"" : "");
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    g_assert_true(fp_config_load(config, path, &exists, &error));
    g_assert_no_error(error);
    if (c->want) {
        want = g_build_filename(dir, c->want, NULL);
    } else {
        want = g_strdup("/usr/bin/qemu-system-x86_64.distrib");
        if (!g_file_test(want, G_FILE_TEST_IS_EXECUTABLE)) /* this host's own QEMU diverted? */
            want[strlen(want) - strlen(".distrib")] = '\0';
    }
    g_assert_cmpstr(config->qemu_binary, ==, want);
    for (const char *const *f = (const char *const[]){"fastpass.json", "set-qemu", "fastpass-qemu",
                                                      "set-qemu.distrib", NULL};
         *f; f++) {
        g_autofree char *p = g_build_filename(dir, *f, NULL);

        g_unlink(p);
    }
    g_rmdir(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/config/shipped-is-defaults", test_shipped_is_defaults);
    g_test_add_func("/config/get", test_get);
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/config/file/%s", cases[i].name);

        g_test_add_data_func(path, &cases[i], test_bad);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(qemu_cases); i++) {
        g_autofree char *path = g_strdup_printf("/config/qemu/%s", qemu_cases[i].name);

        g_test_add_data_func(path, &qemu_cases[i], test_qemu);
    }
    return g_test_run();
}
