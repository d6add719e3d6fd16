/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The timeline's writers (the hook as root, the wrapper as QEMU's user) lock their file: a lock
 * another process keeps must not hold a domain's start. The write gives up within its bound and
 * drops the event, leaving the file as it was. */
#include "error.h"
#include "timeline.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define UUID "0a0a0a0a-0000-4000-8000-00000000000a"

static void
held_lock_child(void)
{
    g_autofree char *run = g_dir_make_tmp("fp-timeline-XXXXXX", NULL);
    g_autofree char *dir = g_build_filename(run, "timeline", NULL);
    g_autofree char *path = NULL, *before = NULL, *after = NULL;
    g_autoptr(GError) error = NULL;
    int fd;

    g_assert_nonnull(run);
    g_assert_cmpint(g_mkdir(dir, 0711), ==, 0);
    g_assert_true(fp_timeline_add(run, UUID, "vm", "qemu", "first", NULL, TRUE, &error));
    g_assert_no_error(error);
    path = fp_timeline_path(run, UUID, "vm", "qemu");
    g_assert_true(g_file_get_contents(path, &before, NULL, NULL));
    /* Another writer (another open file description) holds the lock and never lets go. */
    fd = open(path, O_RDWR | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(flock(fd, LOCK_EX), ==, 0);
    g_assert_false(fp_timeline_add(run, UUID, "vm", "qemu", "second", NULL, FALSE, &error));
    g_assert_error(error, FP_ERROR, FP_ERROR_TIMEOUT);
    g_assert_nonnull(strstr(error->message, "event dropped"));
    g_test_message("%s", error->message);
    g_assert_true(g_file_get_contents(path, &after, NULL, NULL));
    g_assert_cmpstr(after, ==, before);
    close(fd);
    /* Let go: the next event is written. */
    g_clear_error(&error);
    g_assert_true(fp_timeline_add(run, UUID, "vm", "qemu", "third", NULL, FALSE, &error));
    g_clear_pointer(&after, g_free);
    g_assert_true(g_file_get_contents(path, &after, NULL, NULL) && strstr(after, "third"));
    {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", run);

        g_assert_cmpint(system(cmd), ==, 0);
    }
}

/* Run in a subprocess with a bound far above the lock's: without one, it would wait forever. */
static void
test_held_lock(void)
{
    if (g_test_subprocess()) {
        held_lock_child();
        return;
    }
    g_test_trap_subprocess(NULL, 10 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed();
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/timeline/held-lock-drops-the-event", test_held_lock);
    return g_test_run();
}
