/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fakesys - an emulated kernel PCI sysfs over FUSE, for tests and
 * benchmarks of code that binds devices to vfio-pci and resets them.
 *
 *   fakesys --topology FILE.json MOUNTPOINT [-f]
 *
 * Without -f it detaches only once the mount is live, so a script can
 * use MOUNTPOINT as soon as the command returns. It stops on unmount
 * (fusermount3 -u, or -u -z while a hung reset keeps it busy) and on
 * SIGTERM/SIGINT/SIGHUP; every pending emulated operation then fails with
 * ENODEV so no writer stays stuck. */
#define _GNU_SOURCE /* pipe2, dup3 */
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuse-ops.h"
#include "machine.h"
#include "topology.h"

/* Read by the signal handler, which may only touch these two. */
static FakesysMachine *signal_machine;
static struct fuse_session *signal_session;

static void
on_stop_signal(int sig)
{
    (void)sig;
    if (signal_machine)
        fakesys_machine_stop(signal_machine);
    if (signal_session)
        fuse_session_exit(signal_session);
}

/* No SA_RESTART: the FUSE loop's main thread must see EINTR to notice the
 * session ended. libfuse's own handlers would not end our hung resets. */
static gboolean
install_signal_handlers(GError **error)
{
    struct sigaction sa;
    const int stops[] = {SIGTERM, SIGINT, SIGHUP};

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal;
    for (gsize i = 0; i < G_N_ELEMENTS(stops); i++)
        if (sigaction(stops[i], &sa, NULL) < 0)
            goto fail;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        goto fail;
    return TRUE;
fail : {
    int saved = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "sigaction: %s",
                g_strerror(saved));
}
    return FALSE;
}

/* /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *
unescape_mountinfo(const char *s)
{
    GString *out = g_string_new(NULL);

    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            g_string_append_c(out, (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0')));
            s += 3;
        } else
            g_string_append_c(out, *s);
    }
    return g_string_free(out, FALSE);
}

/* The "major:minor" of the newest fakesys mount at mountpoint, or NULL.
 * With want_dev set, only that very mount counts: after a lazy unmount a
 * new fakesys may already be mounted on the same path. */
static char *
find_fakesys_mount(const char *mountpoint, const char *want_dev)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    char *found = NULL;

    if (!g_file_get_contents("/proc/self/mountinfo", &text, NULL, NULL))
        return NULL;
    lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        g_auto(GStrv) fields = g_strsplit(lines[i], " ", -1);
        g_autofree char *mnt = NULL;
        int f;

        if (g_strv_length(fields) < 5)
            continue;
        for (f = 5; fields[f] && strcmp(fields[f], "-") != 0; f++)
            ;
        if (!fields[f] || !fields[f + 1] || strcmp(fields[f + 1], "fuse.fakesys") != 0)
            continue;
        mnt = unescape_mountinfo(fields[4]);
        if (strcmp(mnt, mountpoint) != 0 || (want_dev && strcmp(fields[2], want_dev) != 0))
            continue;
        g_free(found);
        found = g_strdup(fields[2]);
    }
    return found;
}

typedef struct {
    char *path;
    char *dev; /* NULL if mountinfo was unreadable: then assume mounted */
} MountId;

static gboolean
still_mounted(const MountId *mount)
{
    g_autofree char *dev = NULL;

    if (!mount->dev)
        return TRUE;
    dev = find_fakesys_mount(mount->path, mount->dev);
    return dev != NULL;
}

/* Our mount is gone already. libfuse frees its copy of the mount point
 * only in fuse_session_unmount(), which also umount2()s the path unless
 * the device fd polls POLLERR ("connection severed"). The path may hold
 * someone else's new mount by now, so hand it an fd that polls POLLERR:
 * a pipe without readers. */
static void
release_unmounted_session(struct fuse_session *se)
{
    int fds[2];

    if (pipe2(fds, O_CLOEXEC) < 0)
        return; /* leak a few bytes rather than risk unmounting a stranger */
    close(fds[0]);
    if (dup3(fds[1], fuse_session_fd(se), O_CLOEXEC) >= 0)
        fuse_session_unmount(se);
    close(fds[1]);
}

typedef struct {
    const MountId *mount;
    FakesysMachine *machine;
    struct fuse_session *session;
    pthread_t loop_thread;
} Watchdog;

/* Notices a lazy unmount (fusermount3 -u -z), which is the only way to
 * unmount while a hung reset keeps a file open: the writer waits for us,
 * and the kernel waits for the writer before it would tell us. */
static gpointer
watchdog_main(gpointer data)
{
    Watchdog *w = data;

    while (!fakesys_machine_stopping(w->machine)) {
        g_usleep(100 * 1000);
        if (!still_mounted(w->mount)) {
            fakesys_machine_stop(w->machine);
            fuse_session_exit(w->session);
            /* Wake the loop's main thread out of sem_wait(). */
            pthread_kill(w->loop_thread, SIGTERM);
            break;
        }
    }
    return NULL;
}

/* Stop signals must land on the FUSE loop thread, so other threads block
 * them (libfuse does the same for its workers). */
static GThread *
start_watchdog(Watchdog *w)
{
    sigset_t block, old;
    GThread *thread;

    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    thread = g_thread_new("fakesys-watchdog", watchdog_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return thread;
}

static gboolean
write_pidfile(const char *path, GError **error)
{
    g_autofree char *text = g_strdup_printf("%ld\n", (long)getpid());

    return g_file_set_contents(path, text, -1, error);
}

int
main(int argc, char **argv)
{
    g_autofree char *topology = NULL, *pidfile = NULL, *event_log = NULL, *fuse_opts = NULL;
    gboolean foreground = FALSE, debug = FALSE;
    gint reset_ms = -1, max_threads = 256;
    GOptionEntry entries[] = {
        {"topology", 't', 0, G_OPTION_ARG_FILENAME, &topology, "Topology JSON file (required)",
         "FILE"},
        {"foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground,
         "Stay in the foreground (default: detach once mounted)", NULL},
        {"debug", 'd', 0, G_OPTION_ARG_NONE, &debug, "Trace FUSE requests to stderr (implies -f)",
         NULL},
        {"reset-ms", 0, 0, G_OPTION_ARG_INT, &reset_ms, "Override every device's reset time", "MS"},
        {"max-threads", 0, 0, G_OPTION_ARG_INT, &max_threads,
         "FUSE worker threads, i.e. operations in flight at once (default 256)", "N"},
        {"pidfile", 0, 0, G_OPTION_ARG_FILENAME, &pidfile, "Write the daemon's pid here", "FILE"},
        {"event-log", 0, 0, G_OPTION_ARG_FILENAME, &event_log,
         "Also append fakesys.log events to FILE (kept after unmount)", "FILE"},
        {"options", 'o', 0, G_OPTION_ARG_STRING, &fuse_opts, "Extra FUSE mount options", "OPTS"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) context = g_option_context_new("MOUNTPOINT");
    g_autoptr(GError) error = NULL;
    g_autoptr(FakesysMachine) machine = NULL;
    g_autoptr(FakesysFs) fs = NULL;
    g_autofree char *mount_opts = NULL;
    char mountpoint[PATH_MAX];
    MountId mount;
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    struct fuse_session *se;
    struct fuse_loop_config *loop_config;
    Watchdog watchdog;
    GThread *watchdog_thread;
    int ret;

    g_option_context_set_summary(context,
                                 "Emulates the PCI part of Linux sysfs at MOUNTPOINT: devices, "
                                 "drivers, IOMMU groups,\nresets that take time, and injected "
                                 "faults, as described by the topology file.");
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        g_printerr("fakesys: %s\n", error->message);
        return 2;
    }
    if (argc != 2 || !topology) {
        g_printerr("usage: fakesys --topology FILE.json MOUNTPOINT [-f]\n");
        return 2;
    }
    if (max_threads < 1) {
        g_printerr("fakesys: --max-threads must be at least 1\n");
        return 2;
    }
    if (!realpath(argv[1], mountpoint) || !g_file_test(mountpoint, G_FILE_TEST_IS_DIR)) {
        g_printerr("fakesys: mount point %s is not a directory\n", argv[1]);
        return 2;
    }
    if (debug)
        foreground = TRUE;

    machine = fakesys_topology_load(topology, &error);
    if (!machine) {
        g_printerr("fakesys: %s\n", error->message);
        return 2;
    }
    if (reset_ms >= 0)
        for (guint i = 0; i < machine->devices->len; i++)
            ((FakesysDevice *)machine->devices->pdata[i])->reset_us = (gint64)reset_ms * 1000;
    /* Before fuse_daemonize(), which changes directory to /. */
    if (pidfile && !g_path_is_absolute(pidfile)) {
        g_autofree char *rel = g_steal_pointer(&pidfile);
        pidfile = g_canonicalize_filename(rel, NULL);
    }
    if (event_log && !fakesys_event_log_mirror_to(machine->log, event_log, &error)) {
        g_printerr("fakesys: %s\n", error->message);
        return 2;
    }

    fs = fakesys_fs_new(machine);
    mount_opts = g_strdup_printf("fsname=fakesys,subtype=fakesys%s%s%s",
                                 geteuid() == 0 ? ",allow_other" : "", fuse_opts ? "," : "",
                                 fuse_opts ? fuse_opts : "");
    fuse_opt_add_arg(&args, "fakesys");
    if (debug)
        fuse_opt_add_arg(&args, "-d");
    fuse_opt_add_arg(&args, "-o");
    fuse_opt_add_arg(&args, mount_opts);
    se = fuse_session_new(&args, fakesys_fs_ops(), sizeof(struct fuse_lowlevel_ops), fs);
    fuse_opt_free_args(&args);
    if (!se)
        return 1;

    signal_machine = machine;
    signal_session = se;
    if (!install_signal_handlers(&error)) {
        g_printerr("fakesys: %s\n", error->message);
        fuse_session_destroy(se);
        return 1;
    }
    if (fuse_session_mount(se, mountpoint) != 0) {
        fuse_session_destroy(se);
        return 1;
    }
    mount = (MountId){mountpoint, find_fakesys_mount(mountpoint, NULL)};
    /* The parent exits only after this point, so the mount is live when
     * the command returns. */
    fuse_daemonize(foreground);
    if (pidfile && !write_pidfile(pidfile, &error))
        g_printerr("fakesys: %s\n", error->message);
    if (foreground)
        g_printerr("fakesys: serving %u devices at %s\n", machine->devices->len, mountpoint);

    watchdog = (Watchdog){&mount, machine, se, pthread_self()};
    watchdog_thread = start_watchdog(&watchdog);

    /* One thread per operation in flight: a reset sleeps in its worker
     * thread for reset_ms, and libfuse's default of 10 would serialise the
     * eleventh. */
    loop_config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(loop_config, (unsigned)max_threads);
    ret = fuse_session_loop_mt(se, loop_config);
    fuse_loop_cfg_destroy(loop_config);

    fakesys_machine_stop(machine);
    g_thread_join(watchdog_thread);
    if (still_mounted(&mount))
        fuse_session_unmount(se);
    else
        release_unmounted_session(se);
    g_free(mount.dev);
    signal_session = NULL;
    signal_machine = NULL;
    fuse_session_destroy(se);
    if (pidfile)
        g_unlink(pidfile);
    return ret == 0 ? 0 : 1;
}
