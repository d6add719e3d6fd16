/* SPDX-License-Identifier: GPL-2.0-or-later */
#define _GNU_SOURCE
#include "sysfs.h"

#include "error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

char *
fp_sysfs_read(const char *path, GError **error)
{
    g_autofree char *s = NULL;

    if (!g_file_get_contents(path, &s, NULL, error))
        return NULL;
    g_strchomp(s);
    return g_steal_pointer(&s);
}

gboolean
fp_sysfs_read_count(const char *path, guint64 *out, GError **error)
{
    g_autofree char *text = fp_sysfs_read(path, error);

    if (!text)
        return FALSE;
    if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT64, out, NULL)) {
        g_set_error(error, FP_ERROR, FP_ERROR_HOST, "%s holds '%s', not a count", path, text);
        return FALSE;
    }
    return TRUE;
}

char *
fp_sysfs_link_name(const char *path)
{
    g_autofree char *target = g_file_read_link(path, NULL);

    return target ? g_path_get_basename(target) : NULL;
}

/* Closes every descriptor from 3 up, in the child between fork() and _exit(): async-signal-safe
 * calls only. close_range() first; where it fails (ENOSYS before Linux 5.9, or a seccomp filter
 * around libvirtd) the descriptors listed in /proc/self/fd (getdents64, no allocation), and
 * where even that fails every number up to the descriptor limit. */
static void
close_from_3(void)
{
    char buf[4096];
    struct rlimit rl;
    long n, max;
    int dfd;

    if (close_range(3, ~0U, 0) == 0)
        return;
    /* Our own descriptor table, not a path under a configurable root. */
    dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        /* Closing while listing can skip entries: list again until a pass closes nothing. */
        for (gboolean closed = TRUE; closed;) {
            closed = FALSE;
            lseek(dfd, 0, SEEK_SET);
            while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
                for (long off = 0; off < n;) {
                    struct dirent64 *e = (struct dirent64 *)(void *)(buf + off);
                    long fd = 0;

                    off += e->d_reclen;
                    for (const char *p = e->d_name; *p >= '0' && *p <= '9'; p++)
                        fd = fd * 10 + (*p - '0');
                    if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && fd >= 3 && fd != dfd) {
                        close((int)fd);
                        closed = TRUE;
                    }
                }
            }
            if (n < 0)
                break;
        }
        close(dfd);
        if (n == 0)
            return;
    }
    max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur
                                                                             : 65536;
    for (long fd = 3; fd < MIN(max, 1L << 20); fd++)
        close((int)fd);
}

/* Runs in the child between fork() and _exit(): async-signal-safe calls only. */
static G_GNUC_NORETURN void
child_write(const char *path, const char *value, size_t len)
{
    int null = open("/dev/null", O_RDWR);
    int fd;
    ssize_t n;

    /* Hold none of the parent's descriptors: libvirt waits for EOF on the pipes it gave us, and
     * a claim's lock must not outlive a killed parent in a writer stuck in the kernel. */
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
    }
    close_from_3();
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        _exit(errno & 0xff);
    n = write(fd, value, len);
    if (n < 0)
        _exit(errno & 0xff);
    _exit(0);
}

gboolean
fp_sysfs_write(const char *path, const char *value, guint timeout_ms, GError **error)
{
    size_t len = strlen(value);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    guint sleep_us = 200;
    int status;
    pid_t pid;

    pid = fork();
    if (pid < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot fork to write %s: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    if (pid == 0)
        child_write(path, value, len);

    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot wait for the writer of %s: %s", path,
                        g_strerror(errno));
            return FALSE;
        }
        if (g_get_monotonic_time() >= deadline) {
            /* Killed but not reaped: a writer stuck in the kernel cannot be; init reaps it. */
            kill(pid, SIGKILL);
            waitpid(pid, &status, WNOHANG);
            g_set_error(error, FP_ERROR, FP_ERROR_TIMEOUT, "writing %s did not finish within %u ms",
                        path, timeout_ms);
            return FALSE;
        }
        g_usleep(sleep_us);
        sleep_us = MIN(sleep_us * 2, 10000);
    }
    if (!WIFEXITED(status)) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "the writer of %s died", path);
        return FALSE;
    }
    if (WEXITSTATUS(status) != 0) {
        g_autofree char *shown = g_strchomp(g_strdup(value));

        g_set_error(error, FP_ERROR, FP_ERROR_IO, "echo %s > %s: %s", shown, path,
                    g_strerror(WEXITSTATUS(status)));
        return FALSE;
    }
    return TRUE;
}
