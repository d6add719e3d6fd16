/* SPDX-License-Identifier: GPL-2.0-or-later */
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
    fp_xml_foreach_child (sec, root, "seclabel") {
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

/* The values of KEY in libvirt's qemu.conf (a string or a list of strings), or NULL when the
 * key is not set. Comments (#) are skipped; a list may span lines. */
static GPtrArray *
conf_strings(const char *text, const char *key)
{
    gsize klen = strlen(key);
    const char *p = text;

    while (p && *p) {
        const char *line = p, *v;
        GPtrArray *out;

        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
        while (*line == ' ' || *line == '\t')
            line++;
        if (strncmp(line, key, klen) ||
            (line[klen] != ' ' && line[klen] != '=' && line[klen] != '\t'))
            continue;
        v = line + klen;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v != '=')
            continue;
        v++;
        out = g_ptr_array_new_with_free_func(g_free);
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v == '"') {
            const char *end = strchr(v + 1, '"');

            if (end)
                g_ptr_array_add(out, g_strndup(v + 1, end - v - 1));
        } else if (*v == '[') {
            for (v++; *v && *v != ']'; v++) {
                if (*v == '#')
                    while (*v && *v != '\n')
                        v++;
                if (*v == '"') {
                    const char *end = strchr(v + 1, '"');

                    if (!end)
                        break;
                    g_ptr_array_add(out, g_strndup(v + 1, end - v - 1));
                    v = end;
                }
                if (!*v)
                    break;
            }
        } else {
            /* a number (security_default_confined = 0) */
            const char *end = v;

            while (g_ascii_isalnum(*end))
                end++;
            g_ptr_array_add(out, g_strndup(v, end - v));
        }
        return out;
    }
    return NULL;
}

gboolean
fp_apparmor_confines_domains(const FpConfig *config, char **why)
{
    g_autofree char *aa = g_build_filename(config->sysfs_root, "kernel/security/apparmor", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GPtrArray) drivers = NULL, confined = NULL;
    g_autoptr(GError) error = NULL;

    /* test -d /sys/kernel/security/apparmor */
    if (!g_file_test(aa, G_FILE_TEST_IS_DIR)) {
        *why = g_strdup_printf("the kernel has no AppArmor (%s is missing), so libvirt confines "
                               "no domain with a profile of its own",
                               aa);
        return FALSE;
    }
    /* grep -E '^\s*security_(driver|default_confined)' /etc/libvirt/qemu.conf */
    if (!g_file_get_contents(config->libvirt_qemu_conf, &text, NULL, &error)) {
        if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return TRUE; /* libvirt's defaults: AppArmor where the kernel has it */
        *why = g_strdup_printf("cannot tell how libvirt confines domains: %s", error->message);
        return FALSE;
    }
    drivers = conf_strings(text, "security_driver");
    if (drivers) {
        gboolean apparmor = FALSE;

        for (guint i = 0; i < drivers->len; i++)
            apparmor |= !g_strcmp0(g_ptr_array_index(drivers, i), "apparmor");
        if (!apparmor) {
            g_autofree char *list = NULL;

            g_ptr_array_add(drivers, NULL);
            list = g_strjoinv("\", \"", (char **)drivers->pdata);
            *why = g_strdup_printf("%s sets security_driver to \"%s\", not AppArmor",
                                   config->libvirt_qemu_conf, list);
            return FALSE;
        }
    }
    confined = conf_strings(text, "security_default_confined");
    if (confined && confined->len && !g_strcmp0(g_ptr_array_index(confined, 0), "0")) {
        *why = g_strdup_printf("%s sets security_default_confined = 0: domains run unconfined "
                               "unless they ask",
                               config->libvirt_qemu_conf);
        return FALSE;
    }
    return TRUE;
}

gboolean
fp_apparmor_domain_confined(xmlNode *root, const char *uuid, char **label, char **why)
{
    g_autofree char *own = NULL, *found = NULL;

    *label = NULL;
    fp_xml_foreach_child (sec, root, "seclabel") {
        g_autofree char *model = fp_xml_prop(sec, "model");

        if (!g_strcmp0(model, "selinux")) {
            *why = g_strdup("the domain has an SELinux label: its MCS categories do not cover "
                            "a pool slot");
            return FALSE;
        }
    }
    if (!uuid || !(found = fp_apparmor_domain_label(root))) {
        *why = g_strdup("libvirt gave the domain no AppArmor profile of its own (no apparmor "
                        "<seclabel>, or type='none')");
        return FALSE;
    }
    own = g_strdup_printf("libvirt-%s", uuid);
    if (g_ascii_strcasecmp(found, own)) {
        *why = g_strdup_printf("the domain's AppArmor profile %s is not its own (%s)", found, own);
        return FALSE;
    }
    *label = g_steal_pointer(&found);
    return TRUE;
}
