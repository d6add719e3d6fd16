/* SPDX-License-Identifier: GPL-2.0-or-later */
#define _GNU_SOURCE
#include "qemucaps.h"

#include "error.h"
#include "safedir.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Who the probe runs as: NULL in the child setup means as the caller. */
typedef struct {
    uid_t uid;
    gid_t gid;
    gid_t groups[64];
    int n_groups;
} ProbeUser;

/* In the child: its stderr into the same pipe as its stdout. Not /dev/null: the wrapper probes
 * inside libvirt's sandbox, whose private /dev may not have it (QEMU itself does not need it).
 * Then QEMU's user, as libvirt probes (setpriv --groups=... --regid=GID --reuid=UID): a child
 * that cannot drop root runs nothing. */
static void
child_setup(gpointer data)
{
    const ProbeUser *u = data;

    dup2(STDOUT_FILENO, STDERR_FILENO);
    if (u && (setgroups((size_t)u->n_groups, u->groups) < 0 || setgid(u->gid) < 0 ||
              setuid(u->uid) < 0 || setuid(0) == 0))
        _exit(127);
}

/* USER's primary group and every group of /etc/group that lists USER (read directly: no name
 * service socket on libvirt's start path). */
static void
probe_user_groups(const char *user, ProbeUser *u)
{
    FILE *f = fopen("/etc/group", "re");
    struct group *gr;

    u->groups[0] = u->gid;
    u->n_groups = 1;
    while (f && (gr = fgetgrent(f)) && u->n_groups < (int)G_N_ELEMENTS(u->groups)) {
        for (char **m = gr->gr_mem; m && *m; m++) {
            if (!strcmp(*m, user) && gr->gr_gid != u->gid) {
                u->groups[u->n_groups++] = gr->gr_gid;
                break;
            }
        }
    }
    if (f)
        fclose(f);
}

/* The answer is a few booleans and a key. */
#define CACHE_MAX_BYTES 4096

/* Each capability: its name in the cache, its field, and the property whose presence in one
 * of the two help probes (-object memory-backend-ram,help or -device vfio-pci,help) means it. */
typedef struct {
    const char *key;
    gsize offset;
    gboolean vfio;
    const char *property;
} Cap;

static const Cap caps_table[] = {
    {"prealloc_threads", G_STRUCT_OFFSET(FpQemuCaps, prealloc_threads), FALSE, "prealloc-threads="},
    {"prealloc_context", G_STRUCT_OFFSET(FpQemuCaps, prealloc_context), FALSE, "prealloc-context="},
    {"vfio_skip_first_reset", G_STRUCT_OFFSET(FpQemuCaps, vfio_skip_first_reset), TRUE,
     "x-skip-first-reset="},
    {"vfio_parallel_open", G_STRUCT_OFFSET(FpQemuCaps, vfio_parallel_open), TRUE,
     "x-parallel-open="},
    {"vfio_keep_dma_maps", G_STRUCT_OFFSET(FpQemuCaps, vfio_keep_dma_maps), TRUE,
     "x-keep-dma-maps="},
    {"vfio_parallel_close", G_STRUCT_OFFSET(FpQemuCaps, vfio_parallel_close), TRUE,
     "x-parallel-close="},
};

/* QEMU OPTION ARG (a help request), its stdout */
static char *
run_bounded(const char *qemu, const char *option, const char *arg, const ProbeUser *user,
            guint timeout_ms, GError **error)
{
    const char *argv[] = {qemu, option, arg, NULL};
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    GPid pid;
    int in_fd, out_fd, status = 0;
    g_autoptr(GString) out = g_string_new(NULL);
    char buf[4096];

    /* stdin a pipe closed at once (EOF), not /dev/null, for the same reason as stderr. */
    if (!g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, child_setup,
                                  (gpointer)user, &pid, &in_fd, &out_fd, NULL, error))
        return NULL;
    close(in_fd);
    /* Read until EOF, but never past the deadline: a QEMU that hangs with its stdout open must
     * not hang the VM's start (the wait below then kills it). */
    while (g_get_monotonic_time() < deadline) {
        struct pollfd p = {.fd = out_fd, .events = POLLIN};
        gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000 + 1;
        ssize_t n;

        if (poll(&p, 1, (int)MIN(left_ms, 1000)) <= 0)
            continue; /* timeout or EINTR: the loop checks the deadline */
        n = read(out_fd, buf, sizeof(buf));
        if (n > 0)
            g_string_append_len(out, buf, n);
        else if (n == 0 || errno != EINTR)
            break;
    }
    close(out_fd);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (g_get_monotonic_time() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            g_set_error(error, FP_ERROR, FP_ERROR_TIMEOUT,
                        "%s did not answer its help probe in %u ms", qemu, timeout_ms);
            return NULL;
        }
        g_usleep(2000);
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

static gboolean probe(const char *qemu, const char *cache_dir, guint timeout_ms,
                      const ProbeUser *user, FpQemuCaps *caps, GError **error);

gboolean
fp_qemu_caps_probe(const char *qemu, const char *cache_dir, guint timeout_ms, FpQemuCaps *caps,
                   GError **error)
{
    return probe(qemu, cache_dir, timeout_ms, NULL, caps, error);
}

gboolean
fp_qemu_caps_probe_as(const char *qemu, const char *cache_dir, guint timeout_ms, const char *user,
                      uid_t uid, gid_t gid, FpQemuCaps *caps, GError **error)
{
    ProbeUser u = {.uid = uid, .gid = gid};

    if (geteuid() != 0 || uid == 0)
        return probe(qemu, cache_dir, timeout_ms, NULL, caps, error);
    probe_user_groups(user, &u);
    return probe(qemu, cache_dir, timeout_ms, &u, caps, error);
}

static gboolean
probe(const char *qemu, const char *cache_dir, guint timeout_ms, const ProbeUser *user,
      FpQemuCaps *caps, GError **error)
{
    struct stat st;
    g_autofree char *key = NULL, *digest = NULL, *cache = NULL, *text = NULL, *help = NULL,
                    *vfio_help = NULL;
    gboolean root = geteuid() == 0;
    json_object *j;
    int dfd;

    if (stat(qemu, &st) < 0 || !S_ISREG(st.st_mode) || access(qemu, X_OK) < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_HOST, "QEMU binary %s is missing or not executable",
                    qemu);
        return FALSE;
    }
    /* v3: the answer also says which fast-boot properties vfio-pci has; v4: x-parallel-close
     * too (a v3 answer for the same binary would leave it off). */
    key = g_strdup_printf("v4:%s:%lld:%lld", qemu, (long long)st.st_size, (long long)st.st_mtime);
    digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key, -1);
    cache = g_strdup_printf("qemu-caps-%.16s.json", digest);
    /* Root reads and writes the cache only in a directory that is root's alone; QEMU's user
     * reads root's answer, and never writes. */
    dfd = root ? fp_safedir_open(cache_dir, TRUE, 0755, NULL)
               : open(cache_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0 && (text = fp_safedir_read(dfd, cache_dir, cache, CACHE_MAX_BYTES, NULL, NULL)) &&
        (j = json_tokener_parse(text))) {
        const char *k = json_object_get_string(json_object_object_get(j, "binary"));
        gboolean hit = g_strcmp0(k, key) == 0;

        for (gsize i = 0; i < G_N_ELEMENTS(caps_table); i++)
            G_STRUCT_MEMBER(gboolean, caps, caps_table[i].offset) =
                json_object_get_boolean(json_object_object_get(j, caps_table[i].key));
        json_object_put(j);
        if (hit) {
            close(dfd);
            return TRUE;
        }
    }
    if (!(help =
              run_bounded(qemu, "-object", "memory-backend-ram,help", user, timeout_ms, error))) {
        if (dfd >= 0)
            close(dfd);
        return FALSE;
    }
    /* A QEMU built without vfio-pci answers with an error and an empty stdout: no properties. */
    if (!(vfio_help = run_bounded(qemu, "-device", "vfio-pci,help", user, timeout_ms, error))) {
        if (dfd >= 0)
            close(dfd);
        return FALSE;
    }
    j = json_object_new_object();
    json_object_object_add(j, "binary", json_object_new_string(key));
    for (gsize i = 0; i < G_N_ELEMENTS(caps_table); i++) {
        const Cap *c = &caps_table[i];
        gboolean *field = &G_STRUCT_MEMBER(gboolean, caps, c->offset);

        *field = strstr(c->vfio ? vfio_help : help, c->property) != NULL;
        json_object_object_add(j, c->key, json_object_new_boolean(*field));
    }
    /* Written by root only (the hook, at prepare begin): QEMU's user reads it, never writes it.
     * A cache that cannot be written only costs the next start another probe. */
    if (root && dfd >= 0)
        fp_safedir_write(dfd, cache_dir, cache, json_object_to_json_string(j),
                         strlen(json_object_to_json_string(j)), 0644, NULL);
    json_object_put(j);
    if (dfd >= 0)
        close(dfd);
    return TRUE;
}
