/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fp_hook_recover_hugepages (for `fastpass recover` and boot): the hugepages a hook recorded for
 * a domain that no longer runs go back exactly, also when the hook was killed between raising
 * nr_hugepages and saying so (its write-ahead intent), and the records go; a running domain's
 * record stays; an unreadable process table gives nothing back. sysfs and /proc are plain
 * directories here (the counts keep their width, so plain files take the writes). */
#include "config.h"
#include "hook.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UUID_A "0a0a0a0a-0000-4000-8000-00000000000a" /* stopped; its hook killed mid-write */
#define UUID_B "0b0b0b0b-0000-4000-8000-00000000000b" /* runs */
#define UUID_C "0c0c0c0c-0000-4000-8000-00000000000c" /* stopped; killed after giving back */
#define COUNTS "devices/system/node/node0/hugepages/hugepages-2048kB"

typedef struct {
    char *root;
    FpConfig *config;
} Fixture;

static void
put(const char *root, const char *rel, const char *text, gssize len)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);

    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_assert_true(g_file_set_contents(path, text, len, NULL));
}

static char *
get(const char *root, const char *rel)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);
    char *text = NULL;

    g_file_get_contents(path, &text, NULL, NULL);
    return text;
}

static void
setup(Fixture *f, gconstpointer data)
{
    static const char cmdline[] = "/usr/bin/qemu-system-x86_64\0-name\0guest=b\0-uuid\0" UUID_B;
    g_autofree char *run = NULL;

    (void)data;
    f->root = g_dir_make_tmp("fp-recover-XXXXXX", NULL);
    g_assert_nonnull(f->root);
    g_assert_cmpint(chmod(f->root, 0755), ==, 0);
    f->config = fp_config_new();
    g_free(f->config->sysfs_root), f->config->sysfs_root = g_build_filename(f->root, "sys", NULL);
    g_free(f->config->proc_root), f->config->proc_root = g_build_filename(f->root, "proc", NULL);
    g_free(f->config->run_dir), f->config->run_dir = g_build_filename(f->root, "run", NULL);
    /* The operator's 10 pages, 22 added by A's hook (killed before its record said so), 5 by
     * B's, which runs. C's hook had given its 7 back when it was killed. */
    put(f->root, "sys/" COUNTS "/nr_hugepages", "37\n", 3);
    put(f->root, "sys/" COUNTS "/free_hugepages", "37\n", 3);
    put(f->root, "proc/4242/cmdline", cmdline, sizeof cmdline);
    put(f->root, "proc/1/cmdline", "/sbin/init", 10);
    put(f->root, "run/hugepages/" UUID_A ".json",
        "{\"node\": 0, \"page_kib\": 2048, \"added\": 0, \"pending\": \"add\", \"before\": 15, "
        "\"count\": 22}",
        -1);
    put(f->root, "run/hugepages/" UUID_B ".json", "{\"node\": 0, \"page_kib\": 2048, \"added\": 5}",
        -1);
    put(f->root, "run/hugepages/" UUID_C ".json",
        "{\"node\": 0, \"page_kib\": 2048, \"added\": 7, \"pending\": \"give\", \"before\": 44, "
        "\"count\": 7}",
        -1);
    run = g_build_filename(f->root, "run/hugepages", NULL);
    g_assert_cmpint(chmod(run, 0700), ==, 0);
}

static void
teardown(Fixture *f, gconstpointer data)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->root);

    (void)data;
    g_assert_cmpint(system(cmd), ==, 0);
    fp_config_free(f->config);
    g_free(f->root);
}

static void
test_recover(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    g_autofree char *nr = NULL, *a = NULL, *b = NULL, *c = NULL;

    (void)data;
    g_assert_true(fp_hook_recover_hugepages(f->config, notes, &error));
    g_assert_no_error(error);
    for (guint i = 0; i < notes->len; i++)
        g_test_message("%s", (const char *)g_ptr_array_index(notes, i));
    nr = get(f->root, "sys/" COUNTS "/nr_hugepages");
    /* 37 - A's 22: B's 5 stay with B, C's were given back already. */
    g_assert_cmpstr(nr, ==, "15\n");
    a = get(f->root, "run/hugepages/" UUID_A ".json");
    b = get(f->root, "run/hugepages/" UUID_B ".json");
    c = get(f->root, "run/hugepages/" UUID_C ".json");
    g_assert_null(a);
    g_assert_nonnull(b);
    g_assert_null(c);
    g_assert_cmpuint(notes->len, ==, 3);
}

static void
test_no_proc(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    g_autofree char *nr = NULL, *b = NULL;

    (void)data;
    /* Which domains run cannot be told: B's record is not taken from it. */
    g_free(f->config->proc_root);
    f->config->proc_root = g_build_filename(f->root, "no-proc", NULL);
    g_assert_false(fp_hook_recover_hugepages(f->config, notes, &error));
    g_assert_nonnull(error);
    g_test_message("%s", error->message);
    b = get(f->root, "run/hugepages/" UUID_B ".json");
    g_assert_nonnull(b);
    nr = get(f->root, "sys/" COUNTS "/nr_hugepages");
    g_assert_cmpint(atoi(nr), >=, 15 + 5);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (geteuid() != 0) {
        g_test_skip("the run directory must be root's");
        return 77;
    }
    g_test_add("/hook/recover/hugepages", Fixture, NULL, setup, test_recover, teardown);
    g_test_add("/hook/recover/no-process-table", Fixture, NULL, setup, test_no_proc, teardown);
    return g_test_run();
}
