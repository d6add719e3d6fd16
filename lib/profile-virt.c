/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Profiling starts through libvirt: the start call, libvirt's lifecycle events and QEMU's RESUME
 * (forwarded by libvirt with QEMU's own timestamp) for the vCPU start, the serial console read
 * as the guest writes it, the hook's and the wrapper's timelines, and the domain log for QEMU
 * trace output; then the stop: the destroy call, QEMU's exit (a pidfd) and the hook's release. */
#include "profile-virt.h"
#include "safedir.h"

#include "error.h"
#include "xml.h"

#include <glib-unix.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <errno.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

/* What the event loop thread saw of the watched domain (CLOCK_REALTIME microseconds). */
typedef struct {
    GMutex lock;
    char *name;
    gint64 started, resumed, stopped, qmp_resume;
} Watch;

typedef struct {
    virConnectPtr conn;
    GThread *loop;
    gint quit;
    int timer, lifecycle_id, monitor_id;
    Watch watch;
} Virt;

static void
quiet_errors(void *user, virErrorPtr err)
{
    /* The library never prints: errors reach the caller through GError. */
}

static void
set_virt_error(GError **error, const char *what)
{
    const char *msg = virGetLastErrorMessage();

    g_set_error(error, FP_ERROR, FP_ERROR_HOST, "%s: %s", what,
                msg ? msg : "unknown libvirt error");
}

static gpointer
loop_thread(gpointer data)
{
    Virt *v = data;

    while (!g_atomic_int_get(&v->quit))
        if (virEventRunDefaultImpl() < 0)
            break;
    return NULL;
}

static void
loop_tick(int timer, void *opaque)
{
    /* Only wakes the loop so it sees quit. */
}

static gboolean
watching(Watch *w, virDomainPtr dom)
{
    const char *name = virDomainGetName(dom);

    return w->name && name && !strcmp(w->name, name);
}

static int
on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    Watch *w = opaque;
    gint64 now = g_get_real_time();

    g_mutex_lock(&w->lock);
    if (watching(w, dom)) {
        if (event == VIR_DOMAIN_EVENT_STARTED && !w->started)
            w->started = now;
        else if (event == VIR_DOMAIN_EVENT_RESUMED && !w->resumed)
            w->resumed = now;
        else if (event == VIR_DOMAIN_EVENT_STOPPED && w->started)
            /* Before this start's STARTED it can only be the last start's late event. */
            w->stopped = now;
    }
    g_mutex_unlock(&w->lock);
    return 0;
}

static void
on_monitor(virConnectPtr conn, virDomainPtr dom, const char *event, long long seconds,
           unsigned int micros, const char *details, void *opaque)
{
    Watch *w = opaque;

    g_mutex_lock(&w->lock);
    if (watching(w, dom) && seconds > 0 && !strcmp(event, "RESUME") && !w->qmp_resume)
        w->qmp_resume = seconds * G_USEC_PER_SEC + micros;
    g_mutex_unlock(&w->lock);
}

static void
watch_reset(Watch *w, const char *name)
{
    g_mutex_lock(&w->lock);
    g_free(w->name);
    w->name = g_strdup(name);
    w->started = w->resumed = w->stopped = w->qmp_resume = 0;
    g_mutex_unlock(&w->lock);
}

static gint64
watch_get(Watch *w, gint64 *field)
{
    gint64 v;

    g_mutex_lock(&w->lock);
    v = *field;
    g_mutex_unlock(&w->lock);
    return v;
}

static gboolean
virt_open(Virt *v, const char *uri, GError **error)
{
    static gsize once;

    if (g_once_init_enter(&once)) {
        virSetErrorFunc(NULL, quiet_errors);
        virEventRegisterDefaultImpl();
        g_once_init_leave(&once, 1);
    }
    g_mutex_init(&v->watch.lock);
    v->timer = v->lifecycle_id = v->monitor_id = -1;
    if (!(v->conn = virConnectOpen(uri ? uri : "qemu:///system"))) {
        set_virt_error(error, "cannot connect to libvirt");
        return FALSE;
    }
    v->timer = virEventAddTimeout(100, loop_tick, NULL, NULL);
    v->loop = g_thread_new("libvirt-events", loop_thread, v);
    v->lifecycle_id =
        virConnectDomainEventRegisterAny(v->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), &v->watch, NULL);
    if (v->lifecycle_id < 0) {
        set_virt_error(error, "cannot watch lifecycle events");
        return FALSE;
    }
    /* Optional: a driver without QEMU monitor events leaves libvirt's own events. */
    v->monitor_id = virConnectDomainQemuMonitorEventRegister(v->conn, NULL, "RESUME", on_monitor,
                                                             &v->watch, NULL, 0);
    return TRUE;
}

static void
virt_close(Virt *v)
{
    if (v->conn) {
        if (v->lifecycle_id >= 0)
            virConnectDomainEventDeregisterAny(v->conn, v->lifecycle_id);
        if (v->monitor_id >= 0)
            virConnectDomainQemuMonitorEventDeregister(v->conn, v->monitor_id);
    }
    if (v->loop) {
        g_atomic_int_set(&v->quit, 1);
        virEventUpdateTimeout(v->timer, 0);
        g_thread_join(v->loop);
    }
    if (v->timer >= 0)
        virEventRemoveTimeout(v->timer);
    if (v->conn)
        virConnectClose(v->conn);
    g_free(v->watch.name);
    g_mutex_clear(&v->watch.lock);
}

/* <qemu:commandline> with -trace enable=EVENT for each DMA trace event (DMA) and each fw_cfg one
 * (FIRMWARE), every event once. */
static void
add_trace_args(xmlDoc *doc, gboolean dma, gboolean firmware)
{
    xmlNode *root = xmlDocGetRootElement(doc);
    xmlNs *ns = xmlSearchNsByHref(doc, root, BAD_CAST QEMU_NS);
    const char *const *lists[] = {dma ? fp_profile_dma_trace_events : NULL,
                                  firmware ? fp_profile_firmware_trace_events : NULL};
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    xmlNode *cl;

    if (!ns)
        ns = xmlNewNs(root, BAD_CAST QEMU_NS, BAD_CAST "fpqemu");
    cl = xmlNewChild(root, ns, BAD_CAST "commandline", NULL);
    for (guint l = 0; l < G_N_ELEMENTS(lists); l++) {
        for (guint i = 0; lists[l] && lists[l][i]; i++) {
            g_autofree char *val = NULL;

            if (!g_hash_table_add(seen, (gpointer)lists[l][i]))
                continue;
            val = g_strdup_printf("enable=%s", lists[l][i]);
            xmlNewProp(xmlNewChild(cl, ns, BAD_CAST "arg", NULL), BAD_CAST "value",
                       BAD_CAST "-trace");
            xmlNewProp(xmlNewChild(cl, ns, BAD_CAST "arg", NULL), BAD_CAST "value", BAD_CAST val);
        }
    }
}

static goffset
file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* The domain log from OFFSET on (what this start's QEMU wrote to stderr): VFIO DMA calls, and the
 * wrapper's exec when its timeline file could not take it. */
static void
read_domain_log(FpProfileRun *run, const char *log, goffset offset, gint64 not_before_us,
                const FpVirtProfileOptions *o)
{
    g_autofree char *text = NULL;
    gsize len;

    /* QEMU writes this log (through virtlogd, which rotates it at 2 MiB by default): bounded. */
    if ((text = fp_safedir_read_path(log, 64 * 1024 * 1024, &len, NULL)) && (gsize)offset <= len) {
        if (!run->at[FP_PT_QEMU_EXEC])
            fp_profile_qemu_exec_from_log(run, text + offset, len - (gsize)offset, not_before_us);
        /* --trace-firmware alone turns on the sentinel event but no DMA event: no count. */
        if (o->trace_dma || !o->trace_firmware)
            fp_profile_count_dma(run, text + offset, len - (gsize)offset);
        if (o->trace_firmware)
            fp_profile_firmware_marks(run, text + offset, len - (gsize)offset);
    }
    if (!run->dma_visible)
        fp_profile_run_note(
            run, "VFIO DMA calls not visible (no QEMU trace output in %s; try --trace-dma)", log);
    if (o->trace_firmware && (!run->firmware_marks || !run->firmware_marks->len))
        fp_profile_run_note(run, "firmware milestones not visible (no fw_cfg trace output in %s)",
                            log);
}

/* QEMU's process as a pidfd, taken while it is known to be this start's QEMU (just after the
 * start), so that its exit can be timed without a pid that could be reused. -1 when the kernel
 * has no pidfd_open (before 5.3) or the process is gone. */
static int
qemu_pidfd(gint64 pid)
{
    return pid > 0 ? (int)syscall(SYS_pidfd_open, (pid_t)pid, 0) : -1;
}

static void
qemu_exec_from_proc(FpProfileRun *run, const FpVirtProfileOptions *o, const char *name,
                    gint64 *exec_us, int *pidfd)
{
    g_autofree char *pidfile =
        g_strdup_printf("%s/%s.pid", o->pid_dir ? o->pid_dir : "/run/libvirt/qemu", name);
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    guint64 pid;

    *exec_us = 0;
    if (!(text = fp_safedir_read_path(pidfile, 64, NULL, &error)) ||
        !g_ascii_string_to_unsigned(g_strstrip(text), 10, 1, G_MAXINT, &pid, NULL)) {
        fp_profile_run_note(run, "no QEMU pid from %s", pidfile);
        return;
    }
    if (!fp_profile_proc_start_us(o->proc_root, (gint64)pid, exec_us, &error))
        fp_profile_run_note(run, "QEMU start time: %s", error->message);
    /* A pid read under another proc_root (tests) is not a process of this kernel. */
    if ((!o->proc_root || !strcmp(o->proc_root, "/proc")) && (*pidfd = qemu_pidfd((gint64)pid)) < 0)
        fp_profile_run_note(run, "QEMU's exit not timed: pidfd_open(%" G_GUINT64_FORMAT "): %s",
                            pid, g_strerror(errno));
}

static gboolean
still_running(void *user)
{
    Watch *w = user;

    return watch_get(w, &w->stopped) == 0;
}

/* The kernel line through a console stream (pty consoles). */
static gboolean
stream_wait(virStreamPtr st, FpConsoleScan *scan, gint64 deadline, volatile sig_atomic_t *cancel,
            Watch *w, gint64 *found)
{
    char buf[4096];

    while (g_get_real_time() < deadline && !(cancel && *cancel) && still_running(w)) {
        int n = virStreamRecv(st, buf, sizeof(buf));

        if (n > 0 && fp_console_scan_feed(scan, buf, (gsize)n)) {
            *found = g_get_real_time();
            for (int i = 0; i < 50 && (n = virStreamRecv(st, buf, sizeof(buf))) != 0 && n != -1;
                 i++) {
                if (n > 0)
                    fp_console_scan_feed(scan, buf, (gsize)n);
                else
                    g_usleep(2000);
            }
            return TRUE;
        }
        if (n == 0 || n == -1)
            return FALSE;
        if (n == -2)
            g_usleep(2000);
    }
    return FALSE;
}

typedef struct {
    int pidfd;
    int wake[2]; /* written to when no exit will come (the stop failed) */
    gint64 gone; /* CLOCK_REALTIME microseconds; 0: not seen */
} ExitWatch;

/* A pidfd polls readable once the process has exited: after its files were released (each vfio
 * device closed, and so reset by the kernel), before its parent reaps it. */
static gpointer
exit_thread(gpointer data)
{
    ExitWatch *e = data;
    struct pollfd pfd[2] = {{.fd = e->pidfd, .events = POLLIN},
                            {.fd = e->wake[0], .events = POLLIN}};
    int r;

    do
        r = poll(pfd, 2, 120 * 1000);
    while (r < 0 && errno == EINTR);
    if (r > 0 && (pfd[0].revents & POLLIN))
        e->gone = g_get_real_time();
    return NULL;
}

/* QEMU's "terminating on signal" line in the domain log since OFFSET: the moment it took the
 * stop's signal, between the stop call and its exit, or nothing. */
static void
qemu_signaled_from_log(FpProfileRun *run, const char *log, goffset offset)
{
    g_autofree char *text = NULL;
    gsize len;
    gint64 gone = run->at[FP_PT_QEMU_GONE];

    if (!(text = fp_safedir_read_path(log, 64 * 1024 * 1024, &len, NULL)) || (gsize)offset > len ||
        !fp_profile_qemu_signal_from_log(run, text + offset, len - (gsize)offset,
                                         run->at[FP_PT_STOP_CALL]))
        return;
    if (gone && run->at[FP_PT_QEMU_SIGNALED] > gone) {
        fp_profile_run_note(run, "QEMU's log says it took the signal after it was gone; ignored");
        run->at[FP_PT_QEMU_SIGNALED] = 0;
    }
}

/* Destroys the domain, timing its stop into RUN (when not NULL): the call, QEMU's exit (through
 * PIDFD, when there is one), the call's return, when QEMU took the signal (its LOG from
 * LOG_OFFSET); then the hook's release from its timeline. */
static void
destroy_timed(virDomainPtr dom, FpProfileRun *run, int pidfd, const char *run_dir, const char *uuid,
              const char *name, const char *log, goffset log_offset)
{
    ExitWatch e = {.pidfd = pidfd, .wake = {-1, -1}};
    g_auto(FpFd) wake_r = -1, wake_w = -1;
    GThread *t = NULL;
    gint64 call, returned;
    int rc;

    if (virDomainIsActive(dom) != 1)
        return;
    if (run && pidfd >= 0 && g_unix_open_pipe(e.wake, FD_CLOEXEC, NULL)) {
        wake_r = e.wake[0];
        wake_w = e.wake[1];
        t = g_thread_new("qemu-exit", exit_thread, &e);
    }
    call = g_get_real_time();
    rc = virDomainDestroy(dom);
    returned = g_get_real_time();
    if (t) {
        /* A failed stop brings no exit: the watcher is woken instead of waiting for one (were
         * the write to fail, its poll's bound would end it). */
        if (rc < 0 && write(wake_w, "x", 1) != 1)
            fp_profile_run_note(run, "the watcher of QEMU's exit waits out its bound");
        g_thread_join(t);
    }
    if (!run)
        return;
    if (rc < 0) {
        fp_profile_run_note(run, "the stop was not timed: virDomainDestroy failed");
        return;
    }
    fp_profile_run_set(run, FP_PT_STOP_CALL, call, "virDomainDestroy");
    fp_profile_run_set(run, FP_PT_STOP_RETURNED, returned, "virDomainDestroy-returned");
    if (e.gone >= call)
        fp_profile_run_set(run, FP_PT_QEMU_GONE, e.gone, "pidfd");
    else if (t)
        fp_profile_run_note(run, "QEMU's exit not seen within 120 s of the stop");
    qemu_signaled_from_log(run, log, log_offset);
    fp_profile_read_release(run, run_dir, uuid, name, call);
}

static void
destroy(virDomainPtr dom, Watch *w)
{
    if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0)
        return;
    /* A transient domain is gone (-1), a defined one inactive (0); and the STOPPED event is
     * taken here, so that it cannot reach the next start's watch. */
    for (int i = 0; i < 500 && (virDomainIsActive(dom) == 1 ||
                                (watch_get(w, &w->started) && !watch_get(w, &w->stopped)));
         i++)
        g_usleep(10000);
}

static void say(const FpVirtProfileOptions *o, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void
say(const FpVirtProfileOptions *o, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    if (!o->progress)
        return;
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    o->progress(msg, o->user);
}

/* What libvirt booted: its live XML names the image it resolved for firmware='efi' and the
 * nvram file it made; read after the kernel line, so as not to run beside the boot. A domain
 * already gone leaves the XML it was started from. */
static void
firmware_of_start(FpProfileRun *run, virDomainPtr dom, xmlDoc *started)
{
    g_autofree char *live = virDomainIsActive(dom) == 1 ? virDomainGetXMLDesc(dom, 0) : NULL;
    g_autoptr(xmlDoc) doc = live ? fp_xml_parse(live, strlen(live), NULL) : NULL;
    g_autoptr(GError) error = NULL;

    if (!doc)
        fp_profile_run_note(run, "firmware from the domain's XML as started (no live XML)");
    if (!(run->firmware =
              fp_firmware_of_domain(doc ? doc : started, NULL, FP_FIRMWARE_DESCRIBE, &error)))
        fp_profile_run_note(run, "firmware not known: %s", error->message);
}

/* One start, measured; the domain is destroyed before it returns. */
static FpProfileRun *
profile_once(Virt *v, const FpVirtProfileOptions *o, const char *xml, const char *name,
             GError **error)
{
    g_autoptr(FpProfileRun) run = fp_profile_run_new();
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(FpConsoleScan) scan = fp_console_scan_new(FP_KERNEL_LINE_MARK);
    g_autoptr(FpConsoleFile) cf = NULL;
    g_autofree char *console = NULL;
    g_autofree char *log =
        g_strdup_printf("%s/%s.log", o->log_dir ? o->log_dir : "/var/log/libvirt/qemu", name);
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    virDomainPtr dom = NULL;
    virStreamPtr st = NULL;
    FpConsoleKind kind;
    unsigned int flags;
    gint64 t0, proc_exec, vcpu, deadline, found = 0;
    g_auto(FpFd) pidfd = -1;
    goffset log_offset;
    gboolean ok = FALSE, seen;

    if (!(doc = fp_xml_parse(xml, strlen(xml), error)))
        return NULL;
    kind = fp_profile_console_of(doc, &console);
    if (kind == FP_CONSOLE_NONE)
        fp_profile_run_note(
            run, "the domain has no serial console: no kernel line, no BIOS or creation time");
    /* A pty drops what the guest writes before anyone reads it: start paused, attach, resume;
     * the pause is left out of init and BIOS time. */
    flags = kind == FP_CONSOLE_PTY ? VIR_DOMAIN_START_PAUSED : 0;
    if (kind == FP_CONSOLE_FILE) {
        /* Last start's output must not count: empty the file (QEMU appends when told to). */
        if (truncate(console, 0) < 0 && errno != ENOENT)
            fp_profile_run_note(run, "cannot empty %s: %s", console, g_strerror(errno));
        cf = fp_console_file_new(console);
    }
    log_offset = file_size(log);
    watch_reset(&v->watch, name);

    t0 = g_get_real_time();
    fp_profile_run_set(run, FP_PT_START_CALL, t0,
                       o->is_xml ? "virDomainCreateXML" : "virDomainCreateWithFlags");
    if (o->is_xml || o->trace_dma || o->trace_firmware) {
        dom = virDomainCreateXML(v->conn, xml, flags);
    } else if ((dom = virDomainLookupByName(v->conn, o->target)) &&
               virDomainCreateWithFlags(dom, flags) < 0) {
        virDomainFree(dom);
        dom = NULL;
    }
    if (!dom) {
        set_virt_error(error, "cannot start the domain");
        return NULL;
    }
    qemu_exec_from_proc(run, o, name, &proc_exec, &pidfd);
    virDomainGetUUIDString(dom, uuid);
    deadline = t0 + (gint64)o->timeout_s * G_USEC_PER_SEC;

    if (kind == FP_CONSOLE_PTY) {
        gint64 started = watch_get(&v->watch, &v->watch.started);

        fp_profile_run_set(run, FP_PT_INIT_END, started ? started : g_get_real_time(),
                           started ? "libvirt-started-event" : "create-returned");
        st = virStreamNew(v->conn, VIR_STREAM_NONBLOCK);
        if (!st || virDomainOpenConsole(dom, NULL, st, VIR_DOMAIN_CONSOLE_FORCE) < 0) {
            set_virt_error(error, "cannot open the domain's console");
            goto out;
        }
        if (virDomainResume(dom) < 0) {
            set_virt_error(error, "cannot resume the domain");
            goto out;
        }
    }
    if (kind == FP_CONSOLE_FILE)
        seen =
            fp_console_file_wait(cf, scan, deadline, o->cancel, still_running, &v->watch, &found);
    else if (kind == FP_CONSOLE_PTY)
        seen = stream_wait(st, scan, deadline, o->cancel, &v->watch, &found);
    else
        seen = FALSE;
    if (seen) {
        fp_profile_run_set(run, FP_PT_KERNEL_LINE, found,
                           kind == FP_CONSOLE_FILE ? "console-file" : "console-stream");
        run->kernel_line = g_strdup(fp_console_scan_line(scan));
    } else if (o->cancel && *o->cancel) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "interrupted");
        goto out;
    } else if (kind != FP_CONSOLE_NONE) {
        fp_profile_run_note(run, "no \"%s\" on the console %s", FP_KERNEL_LINE_MARK,
                            still_running(&v->watch) ? "within the timeout"
                                                     : "before the domain stopped");
    }

    /* The events come through the loop thread: read them now, the console could not wait. */
    for (int i = 0;
         i < 200 && !watch_get(&v->watch, &v->watch.qmp_resume) &&
         !watch_get(&v->watch, kind == FP_CONSOLE_PTY ? &v->watch.resumed : &v->watch.started);
         i++)
        g_usleep(5000);
    if ((vcpu = watch_get(&v->watch, &v->watch.qmp_resume)) >= t0)
        fp_profile_run_set(run, FP_PT_VCPU_START, vcpu, "qmp-resume");
    else if ((vcpu = watch_get(&v->watch, &v->watch.resumed)) >= t0 && vcpu)
        fp_profile_run_set(run, FP_PT_VCPU_START, vcpu, "libvirt-resumed-event");
    else if (kind != FP_CONSOLE_PTY && (vcpu = watch_get(&v->watch, &v->watch.started)))
        fp_profile_run_set(run, FP_PT_VCPU_START, vcpu, "libvirt-started-event");
    else
        fp_profile_run_note(run, "no event told when the vCPUs started");
    if (kind != FP_CONSOLE_PTY && run->at[FP_PT_VCPU_START])
        fp_profile_run_set(run, FP_PT_INIT_END, run->at[FP_PT_VCPU_START],
                           run->source[FP_PT_VCPU_START]);
    firmware_of_start(run, dom, doc);
    fp_profile_read_timelines(run, o->run_dir, uuid, name, t0);
    read_domain_log(run, log, log_offset, t0, o);
    /* /proc start times come in clock ticks (10 ms): one tick before the start call is still
     * this start's QEMU. */
    if (!run->at[FP_PT_QEMU_EXEC] && proc_exec && proc_exec >= t0 - 2 * G_USEC_PER_SEC / 100)
        fp_profile_run_set(run, FP_PT_QEMU_EXEC, MAX(proc_exec, t0), "proc-stat");
    else if (!run->at[FP_PT_QEMU_EXEC] && proc_exec)
        fp_profile_run_note(
            run, "QEMU's process started %.0f ms before this start call: not this start's",
            (t0 - proc_exec) / 1000.0);
    ok = TRUE;

out:
    if (st) {
        virStreamAbort(st);
        virStreamFree(st);
    }
    destroy_timed(dom, ok ? run : NULL, pidfd, o->run_dir, uuid, name, log, log_offset);
    destroy(dom, &v->watch);
    virDomainFree(dom);
    return ok ? g_steal_pointer(&run) : NULL;
}

FpProfile *
fp_virt_profile(const FpVirtProfileOptions *o, const char *label, GError **error)
{
    Virt v = {0};
    g_autoptr(FpProfile) p = NULL;
    g_autofree char *xml = NULL, *name = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    gsize len;
    FpProfile *ret = NULL;

    if (o->is_xml) {
        if (!(xml = fp_xml_read_file(o->target, &len, error)))
            return NULL;
    }
    if (!virt_open(&v, o->uri, error))
        goto out;
    if (!o->is_xml) {
        virDomainPtr dom = virDomainLookupByName(v.conn, o->target);

        if (!dom) {
            set_virt_error(error, "no such domain");
            goto out;
        }
        xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
        virDomainFree(dom);
        if (!xml) {
            set_virt_error(error, "cannot read the domain's XML");
            goto out;
        }
    }
    if (!(doc = fp_xml_parse(xml, strlen(xml), error)))
        goto out;
    name = fp_xml_text(fp_xml_child(xmlDocGetRootElement(doc), "name"));
    if (!name || !*name) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "%s: the domain has no <name>", o->target);
        goto out;
    }
    {
        virDomainPtr running = virDomainLookupByName(v.conn, name);
        int active = running ? virDomainIsActive(running) : 0;

        if (running)
            virDomainFree(running);
        if (active == 1) {
            g_set_error(error, FP_ERROR, FP_ERROR_REFUSED,
                        "domain %s is running: profiling starts it, so shut it down first", name);
            goto out;
        }
    }
    if (o->trace_dma || o->trace_firmware) {
        add_trace_args(doc, o->trace_dma, o->trace_firmware);
        g_free(xml);
        xml = fp_xml_format(doc, NULL, &len);
    }
    p = fp_profile_new(label ? label : name, name, "libvirt");
    for (guint i = 0; i < MAX(o->repeat, 1); i++) {
        FpProfileRun *run;
        gint64 c;

        if (o->cancel && *o->cancel) {
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "interrupted");
            goto out;
        }
        if (i > 0 && o->between && !o->between(o->user, error))
            goto out;
        say(o, "start %u/%u of %s", i + 1, MAX(o->repeat, 1), name);
        if (!(run = profile_once(&v, o, xml, name, error)))
            goto out;
        g_ptr_array_add(p->runs, run);
        if (fp_profile_run_times(run, NULL, NULL, &c))
            say(o, "start %u/%u: creation %.3f s", i + 1, MAX(o->repeat, 1), c / 1e6);
        else
            say(o, "start %u/%u: creation time not measured", i + 1, MAX(o->repeat, 1));
    }
    ret = g_steal_pointer(&p);
out:
    virt_close(&v);
    return ret;
}
