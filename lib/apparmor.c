#include "apparmor.h"

#include "error.h"
#include "pool.h"
#include "xml.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *
fp_apparmor_domain_label(xmlNode *root)
{
    fp_xml_foreach_child(sec, root, "seclabel")
    {
        g_autofree char *model = fp_xml_prop(sec, "model");
        g_autofree char *label = NULL;

        if (g_strcmp0(model, "apparmor"))
            continue;
        label = fp_xml_text(fp_xml_child(sec, "label"));
        /* libvirt names each domain's profile libvirt-UUID: anything else is not one. */
        if (label && g_str_has_prefix(label, "libvirt-") && fp_pool_owner_valid(label + 8))
            return g_steal_pointer(&label);
    }
    return NULL;
}

static gboolean
path_ok(const char *path)
{
    return path && path[0] == '/' && !strpbrk(path, "\"\n\r*?[]{}^,") && !strstr(path, "/../");
}

gboolean
fp_apparmor_allow(const char *helper, const char *label, const char *xml, gsize len,
                  const char *path, gboolean dry_run, guint timeout_ms, char **output,
                  GError **error)
{
    const char *argv[] = {helper, "-r", "-u", label, "-F", path, NULL, NULL};
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    g_autoptr(GString) out = g_string_new(NULL);
    gsize written = 0;
    int in_fd = -1, out_fd = -1, status = 0;
    gboolean out_open = TRUE, pipe_was_pending;
    sigset_t pipe_set, pending, old_mask;
    GPid pid;

    if (!label || !g_str_has_prefix(label, "libvirt-") || !fp_pool_owner_valid(label + 8) ||
        !path_ok(path)) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "AppArmor: refusing profile '%s', path '%s'",
                    label ? label : "(null)", path ? path : "(null)");
        return FALSE;
    }
    if (dry_run) {
        memmove(argv + 2, argv + 1, 5 * sizeof(*argv));
        argv[1] = "-d";
    }
    /* virt-aa-helper -r -u libvirt-$UUID -F $PATH < domain.xml */
    if (!g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                                  G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                                  NULL, &pid, &in_fd, NULL, &out_fd, error))
        return FALSE;
    fcntl(in_fd, F_SETFL, O_NONBLOCK);
    /* A helper that exits before reading all of the XML must not kill the hook with SIGPIPE:
     * blocked here, and a SIGPIPE it raised taken back below (EPIPE says enough). */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    pipe_was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
    /* Feed the XML and read the answer together, never past the deadline: a helper that hangs
     * must not hang the VM's start. */
    while ((in_fd >= 0 || out_open) && g_get_monotonic_time() < deadline) {
        struct pollfd p[2] = {{.fd = in_fd, .events = POLLOUT},
                              {.fd = out_open ? out_fd : -1, .events = POLLIN}};
        gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000 + 1;
        char buf[4096];
        ssize_t n;

        if (poll(p, 2, (int)MIN(left_ms, 1000)) <= 0)
            continue;
        if (in_fd >= 0 && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
            n = write(in_fd, xml + written, len - written);
            if (n > 0)
                written += (gsize)n;
            if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == len) {
                close(in_fd);
                in_fd = -1;
            }
        }
        if (out_open && (p[1].revents & (POLLIN | POLLERR | POLLHUP))) {
            n = read(out_fd, buf, sizeof(buf));
            if (n > 0 && out->len < 65536)
                g_string_append_len(out, buf, n);
            else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
                out_open = FALSE;
        }
    }
    if (in_fd >= 0)
        close(in_fd);
    close(out_fd);
    if (!pipe_was_pending) {
        struct timespec zero = {0, 0};

        while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (g_get_monotonic_time() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            g_set_error(error, FP_ERROR, FP_ERROR_TIMEOUT, "AppArmor: %s did not finish in %u ms",
                        helper, timeout_ms);
            return FALSE;
        }
        g_usleep(2000);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_auto(GStrv) lines = g_strsplit(g_strstrip(out->str), "\n", 2);

        g_set_error(error, FP_ERROR, FP_ERROR_HOST,
                    "AppArmor: %s -r -u %s -F %s failed (exit status %d: %s)", helper, label, path,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                    lines[0] && *lines[0] ? lines[0] : "no message");
        return FALSE;
    }
    if (output)
        *output = g_string_free(g_steal_pointer(&out), FALSE);
    return TRUE;
}
