/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fastpass-qemu: the emulator wrapper. Set as a domain's <emulator> (or installed in place of
 * the host's QEMU path); libvirt runs it exactly as it would run QEMU. Probes, -version, -help
 * and anything that is not a guest start go to the real QEMU unchanged. For a guest start it
 * gives memory backends prealloc threads and, when the hook claimed one, a pre-zeroed pool slot
 * for guest RAM; records the exec in the domain's timeline; then execs the real QEMU in place
 * (same pid, same fds: libvirt's monitor socket stays open). Any doubt: the unmodified command
 * line. A wrapper bug must never stop a VM from starting. */
#define _GNU_SOURCE
#include "config.h"
#include "host.h"
#include "pool.h"
#include "qemuargs.h"
#include "qemucaps.h"
#include "timeline.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
run_qemu(const char *qemu, char **argv)
{
    execv(qemu, argv);
    fprintf(stderr, "fastpass-qemu: cannot run QEMU %s: %s\n", qemu, g_strerror(errno));
    _exit(1);
}

/* Prealloc threads for a backend on NODE: the CPUs of that node (all CPUs when -1). */
static guint
threads_for(const FpHost *host, int node)
{
    guint n = 0;

    for (guint i = 0; i < host->nodes->len; i++) {
        const FpNumaNode *nn = g_ptr_array_index(host->nodes, i);

        if (node < 0 || (guint)node == nn->id)
            n += nn->cpus->len;
    }
    return n;
}

static void
free_cpus(gpointer cpus)
{
    if (cpus)
        g_array_unref(cpus);
}

/* [node] -> the node's CPUs this process may run on (the cgroup's and libvirt's pinning apply
 * to QEMU too): a thread-context on CPUs it may not use would fail QEMU's start. */
static GPtrArray *
usable_node_cpus(const FpHost *host)
{
    GPtrArray *by_node = g_ptr_array_new_with_free_func(free_cpus);
    cpu_set_t allowed;
    gboolean known = sched_getaffinity(0, sizeof allowed, &allowed) == 0;

    for (guint i = 0; i < host->nodes->len; i++) {
        const FpNumaNode *nn = g_ptr_array_index(host->nodes, i);
        GArray *cpus = g_array_new(FALSE, FALSE, sizeof(guint));

        for (guint c = 0; c < nn->cpus->len; c++) {
            guint cpu = g_array_index(nn->cpus, guint, c);

            if (known && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &allowed))
                g_array_append_val(cpus, cpu);
        }
        if (by_node->len <= nn->id)
            g_ptr_array_set_size(by_node, (gint)nn->id + 1);
        g_ptr_array_index(by_node, nn->id) = cpus;
    }
    return by_node;
}

static gboolean
is_self(const char *path)
{
    struct stat a, b;

    return stat(path, &a) == 0 && stat("/proc/self/exe", &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

int
main(int argc, char **argv)
{
    gint64 exec_us = g_get_real_time();
    const char *config_path =
        g_getenv("FASTPASS_CONFIG") ? g_getenv("FASTPASS_CONFIG") : FP_CONFIG_DEFAULT_PATH;
    g_autoptr(FpConfig) config = fp_config_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *why = NULL, *slot = NULL;
    char *qemu;
    FpQemuGuest guest;
    FpQemuCaps caps = {0};
    FpQemuRewrite rw = {.caps = &caps};
    gboolean exists;
    char **new_argv = NULL;
    json_object *ev, *jchanges;

    if (!fp_config_load(config, config_path, &exists, &error)) {
        why = g_strdup_printf("configuration: %s", error->message);
        g_clear_error(&error);
    }
    qemu = config->qemu_binary;
    if (is_self(qemu)) {
        fprintf(stderr,
                "fastpass-qemu: qemu_binary %s is this wrapper itself; set it to the real QEMU\n",
                qemu);
        return 1;
    }
    argv[0] = qemu;
    fp_qemu_guest_read(argv, &guest);
    if (!guest.name)
        run_qemu(qemu, argv); /* capability probe, -version, -help, ... */

    if (!fp_qemu_caps_probe(qemu, config->run_dir, 5000, &caps, &error)) {
        /* Missing or broken QEMU: say so plainly; exec would fail the same way. */
        fprintf(stderr, "fastpass-qemu: %s\n", error->message);
        fp_qemu_guest_clear(&guest);
        return 1;
    }
    if (!why && config->use_pool && guest.uuid && fp_pool_owner_valid(guest.uuid) &&
        guest.ram_size) {
        /* Only a slot claimed for this very domain (by its UUID) is ever used. */
        FpPoolOptions po = {.dir = config->pool_dir,
                            .sysfs_root = config->sysfs_root,
                            .proc_root = config->proc_root};

        slot = fp_pool_usable_claim(&po, guest.uuid, guest.ram_size, &error);
        if (error) {
            /* A slot the hook claimed but QEMU could not open: QEMU allocates, and says why. */
            fprintf(stderr, "fastpass-qemu: pool: %s; QEMU allocates guest memory itself\n",
                    error->message);
            g_clear_error(&error);
        }
        rw.slot_path = slot;
        rw.slot_size = guest.ram_size;
        rw.ram_id = guest.ram_id;
    }
    if (!why) {
        g_autoptr(FpHost) host = fp_host_new(config->sysfs_root);

        fp_host_load_sysfs(host);
        rw.prealloc_threads = threads_for(host, guest.ram_node);
        rw.node_cpus = usable_node_cpus(host);
        new_argv = fp_qemu_rewrite(argv, &rw, changes, &why);
        g_ptr_array_unref(rw.node_cpus);
    }
    ev = json_object_new_object();
    json_object_object_add(ev, "qemu", json_object_new_string(qemu));
    json_object_object_add(ev, "wrapper_start_us", json_object_new_int64(exec_us));
    jchanges = json_object_new_array();
    for (guint i = 0; i < changes->len; i++) {
        json_object_array_add(jchanges, json_object_new_string(g_ptr_array_index(changes, i)));
        fprintf(stderr, "fastpass-qemu: %s\n", (const char *)g_ptr_array_index(changes, i));
    }
    json_object_object_add(ev, "changes", jchanges);
    if (why) {
        json_object_object_add(ev, "unchanged_because", json_object_new_string(why));
        fprintf(stderr, "fastpass-qemu: command line left unchanged: %s\n", why);
    }
    /* Where the timeline file cannot be written (under AppArmor the domain's profile does not
     * name it: granting it would cost every start another profile compile), the same event (as
     * fp_timeline_add completed it) goes to the domain's log, where `fastpass profile` finds it. */
    json_object_get(ev);
    if (!fp_timeline_add(config->run_dir, guest.uuid, guest.name, "qemu", "qemu-exec", ev, TRUE,
                         &error))
        fprintf(stderr,
                "fastpass-qemu: cannot record the timeline: %s\n" FP_TIMELINE_LOG_MARK "%s\n",
                error->message, json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
    json_object_put(ev);
    fflush(stderr);
    run_qemu(qemu, new_argv ? new_argv : argv);
    return 1;
}
