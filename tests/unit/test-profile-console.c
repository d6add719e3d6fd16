/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The first kernel line on the serial console: found however the reads split it, and in a log
 * file read while it is written, truncated or replaced. */
#include "profile.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <string.h>
#include <unistd.h>

static const char boot[] =
    "SeaBIOS (version 1.16.2)\r\nBooting from ROM..\r\n"
    "[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP\r\n"
    "[    0.000000] Command line: console=ttyS0\r\n";
#define LINE "Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP"

/* Every split of BOOT into two reads, and into reads of every fixed size. */
static void
test_every_split(void)
{
    gsize len = strlen(boot), at = strstr(boot, "Linux") - boot;

    for (gsize cut = 0; cut <= len; cut++) {
        g_autoptr(FpConsoleScan) s = fp_console_scan_new(FP_KERNEL_LINE_MARK);
        gboolean first = fp_console_scan_feed(s, boot, cut);

        /* Found exactly when the first read holds the whole marker. */
        g_assert_cmpint(first, ==, cut >= at + strlen(FP_KERNEL_LINE_MARK));
        g_assert_true(fp_console_scan_feed(s, boot + cut, len - cut));
        g_assert_cmpstr(fp_console_scan_line(s), ==, LINE);
    }
    for (gsize size = 1; size <= 16; size++) {
        g_autoptr(FpConsoleScan) s = fp_console_scan_new(FP_KERNEL_LINE_MARK);

        for (gsize off = 0; off < len; off += size)
            fp_console_scan_feed(s, boot + off, MIN(size, len - off));
        g_assert_cmpstr(fp_console_scan_line(s), ==, LINE);
    }
}

typedef struct {
    const char *name;
    const char *pieces[4];
    gsize lens[4]; /* 0: strlen */
    gboolean found;
    const char *line;
} ScanCase;

static const ScanCase scan_cases[] = {
    {"completed-by-the-last-byte",
     {"Booting from ROM..\r\n", "Linux versio", "n"},
     {0},
     TRUE,
     "Linux version"},
    {"absent", {"Booting from ROM..\r\n", "Linux versio", "\n"}, {0}, FALSE, NULL},
    {"split-three-ways", {"...Lin", "ux ver", "sion 6.1\n"}, {0}, TRUE, "Linux version 6.1"},
    {"nul-bytes-before", {"a\0b\0Linux version 6.1\n"}, {22}, TRUE, "Linux version 6.1"},
    {"partial-marker-then-real", {"Linux vers", "Linux version X\n"}, {0}, TRUE, "Linux version X"},
    {"control-characters-dropped",
     {"Linux version \x1b[0m6.1\r\n"},
     {0},
     TRUE,
     "Linux version [0m6.1"},
};

static void
test_scan(gconstpointer data)
{
    const ScanCase *c = data;
    g_autoptr(FpConsoleScan) s = fp_console_scan_new(FP_KERNEL_LINE_MARK);

    for (guint i = 0; i < G_N_ELEMENTS(c->pieces) && c->pieces[i]; i++)
        fp_console_scan_feed(s, c->pieces[i], c->lens[i] ? c->lens[i] : strlen(c->pieces[i]));
    g_assert_cmpint(fp_console_scan_found(s), ==, c->found);
    g_assert_cmpstr(fp_console_scan_line(s), ==, c->line);
}

static void
test_long_line_capped(void)
{
    g_autoptr(FpConsoleScan) s = fp_console_scan_new(FP_KERNEL_LINE_MARK);
    g_autofree char *tail = g_strnfill(1000, 'x');

    fp_console_scan_feed(s, "Linux version ", 14);
    fp_console_scan_feed(s, tail, 1000);
    g_assert_cmpuint(strlen(fp_console_scan_line(s)), ==, 200);
}

static void
append(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, text, strlen(text)), ==, (ssize_t)strlen(text));
    close(fd);
}

/* The file as QEMU treats it: absent, then written in pieces, truncated at the next start,
 * replaced by a new file. */
static void
test_file(void)
{
    g_autofree char *dir = g_dir_make_tmp("fp-console-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "console.log", NULL);
    g_autofree char *other = g_build_filename(dir, "new.log", NULL);
    g_autoptr(FpConsoleFile) f = fp_console_file_new(path);
    g_autoptr(FpConsoleScan) s = fp_console_scan_new(FP_KERNEL_LINE_MARK);
    gint64 found = 0;

    fp_console_file_poll(f, s); /* not there yet */
    g_assert_false(fp_console_scan_found(s));
    append(path, "old start: Linux vers");
    fp_console_file_poll(f, s);
    g_assert_false(fp_console_scan_found(s));
    /* Truncated by QEMU at its start: what was read before must not join what follows. */
    g_assert_cmpint(truncate(path, 0), ==, 0);
    append(path, "ion 1\n");
    fp_console_file_poll(f, s);
    g_assert_false(fp_console_scan_found(s));
    append(path, "Linux ");
    fp_console_file_poll(f, s);
    append(path, "version 2\n");
    g_assert_true(
        fp_console_file_wait(f, s, g_get_real_time() + G_USEC_PER_SEC, NULL, NULL, NULL, &found));
    g_assert_cmpstr(fp_console_scan_line(s), ==, "Linux version 2");
    g_assert_cmpint(found, >, 0);

    /* Replaced (a new inode): read from its start. */
    fp_console_scan_reset(s);
    append(other, "Linux version 3\n");
    g_assert_cmpint(g_rename(other, path), ==, 0);
    fp_console_file_poll(f, s);
    g_assert_cmpstr(fp_console_scan_line(s), ==, "Linux version 3");
    g_unlink(path);
    g_rmdir(dir);
}

static gboolean
dead(void *user)
{
    return FALSE;
}

static void
test_wait_gives_up(void)
{
    g_autoptr(FpConsoleFile) f = fp_console_file_new("/nonexistent/console.log");
    g_autoptr(FpConsoleScan) s = fp_console_scan_new(FP_KERNEL_LINE_MARK);
    volatile sig_atomic_t cancel = 1;
    gint64 found = 0, t0 = g_get_real_time();

    g_assert_false(fp_console_file_wait(f, s, t0 + 50000, NULL, NULL, NULL, &found));
    g_assert_cmpint(g_get_real_time() - t0, >=, 50000);
    g_assert_false(
        fp_console_file_wait(f, s, t0 + 10 * G_USEC_PER_SEC, &cancel, NULL, NULL, &found));
    g_assert_false(fp_console_file_wait(f, s, g_get_real_time() + 10 * G_USEC_PER_SEC, NULL, dead,
                                        NULL, &found));
    g_assert_cmpint(g_get_real_time() - t0, <, 5 * G_USEC_PER_SEC);
    g_assert_cmpint(found, ==, 0);
}

typedef struct {
    const char *name;
    const char *devices;
    FpConsoleKind kind;
    const char *path;
} ConsoleOfCase;

static const ConsoleOfCase console_of_cases[] = {
    {"serial-file",
     "<serial type='file'><source path='/var/log/c.log'/><target port='0'/></serial>",
     FP_CONSOLE_FILE, "/var/log/c.log"},
    {"pty-with-log-file", "<serial type='pty'><log file='/var/log/p.log' append='off'/></serial>",
     FP_CONSOLE_FILE, "/var/log/p.log"},
    {"pty", "<serial type='pty'><target port='0'/></serial>", FP_CONSOLE_PTY, NULL},
    {"console-only", "<console type='pty'/>", FP_CONSOLE_PTY, NULL},
    {"none", "<memballoon model='none'/>", FP_CONSOLE_NONE, NULL},
    {"file-without-path", "<serial type='file'/>", FP_CONSOLE_NONE, NULL},
    {"tcp-not-readable",
     "<serial type='tcp'><source mode='bind' host='::' service='4555'/></serial>", FP_CONSOLE_NONE,
     NULL},
};

static void
test_console_of(gconstpointer data)
{
    const ConsoleOfCase *c = data;
    g_autofree char *xml = g_strdup_printf(
        "<domain type='qemu'><name>x</name><devices>%s</devices></domain>", c->devices);
    xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "x.xml", NULL, XML_PARSE_NONET);
    g_autofree char *path = NULL;

    g_assert_nonnull(doc);
    g_assert_cmpint(fp_profile_console_of(doc, &path), ==, c->kind);
    g_assert_cmpstr(path, ==, c->path);
    xmlFreeDoc(doc);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/profile/console/every-split", test_every_split);
    for (gsize i = 0; i < G_N_ELEMENTS(scan_cases); i++) {
        g_autofree char *path = g_strdup_printf("/profile/console/scan/%s", scan_cases[i].name);

        g_test_add_data_func(path, &scan_cases[i], test_scan);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(console_of_cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/profile/console/of-domain/%s", console_of_cases[i].name);

        g_test_add_data_func(path, &console_of_cases[i], test_console_of);
    }
    g_test_add_func("/profile/console/long-line-capped", test_long_line_capped);
    g_test_add_func("/profile/console/file-truncated-and-replaced", test_file);
    g_test_add_func("/profile/console/wait-gives-up", test_wait_gives_up);
    return g_test_run();
}
