#include "qemucaps.h"

#include "error.h"

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *
run_bounded(const char *qemu, guint timeout_ms, GError **error)
{
    const char *argv[] = {qemu, "-object", "memory-backend-ram,help", NULL};
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    GPid pid;
    int out_fd, status = 0;
    g_autoptr(GString) out = g_string_new(NULL);
    char buf[4096];

    if (!g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
                                  NULL, NULL, &pid, NULL, &out_fd, NULL, error))
        return NULL;
    for (;;) {
        ssize_t n = read(out_fd, buf, sizeof(buf));

        if (n > 0) {
            g_string_append_len(out, buf, n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    close(out_fd);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (g_get_monotonic_time() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            g_set_error(error, FP_ERROR, FP_ERROR_TIMEOUT, "%s did not answer its help probe in %u ms", qemu, timeout_ms);
            return NULL;
        }
        g_usleep(2000);
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

gboolean
fp_qemu_caps_probe(const char *qemu, const char *cache_dir, guint timeout_ms, FpQemuCaps *caps, GError **error)
{
    struct stat st;
    g_autofree char *key = NULL, *digest = NULL, *cache = NULL, *text = NULL, *help = NULL;
    json_object *j;

    if (stat(qemu, &st) < 0 || !S_ISREG(st.st_mode) || access(qemu, X_OK) < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_HOST, "QEMU binary %s is missing or not executable", qemu);
        return FALSE;
    }
    key = g_strdup_printf("%s:%lld:%lld", qemu, (long long)st.st_size, (long long)st.st_mtime);
    digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key, -1);
    cache = g_strdup_printf("%s/qemu-caps-%.16s.json", cache_dir, digest);
    if (g_file_get_contents(cache, &text, NULL, NULL) && (j = json_tokener_parse(text))) {
        const char *k = json_object_get_string(json_object_object_get(j, "binary"));
        gboolean hit = g_strcmp0(k, key) == 0;

        caps->prealloc_threads = json_object_get_boolean(json_object_object_get(j, "prealloc_threads"));
        json_object_put(j);
        if (hit)
            return TRUE;
    }
    if (!(help = run_bounded(qemu, timeout_ms, error)))
        return FALSE;
    caps->prealloc_threads = strstr(help, "prealloc-threads=") != NULL;
    j = json_object_new_object();
    json_object_object_add(j, "binary", json_object_new_string(key));
    json_object_object_add(j, "prealloc_threads", json_object_new_boolean(caps->prealloc_threads));
    /* Written by root only (the hook, at prepare begin): QEMU's user reads it, never writes it.
     * A cache that cannot be written only costs the next start another probe. */
    if (geteuid() != 0) {
        json_object_put(j);
        return TRUE;
    }
    g_mkdir_with_parents(cache_dir, 0755);
    g_file_set_contents(cache, json_object_to_json_string(j), -1, NULL);
    json_object_put(j);
    return TRUE;
}
