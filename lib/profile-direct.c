/* SPDX-License-Identifier: GPL-2.0-or-later */
/* --direct: QEMU run by the profiler itself, no libvirt. QEMU starts with -S and QMP on its
 * stdin/stdout: the QMP greeting says the machine is built (guest memory allocated), `cont`
 * starts the vCPUs and QEMU's own RESUME event stamps that moment. */
#include "profile.h"

#include "domain.h"
#include "error.h"
#include "xml.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void
add(GPtrArray *argv, const char *arg)
{
    g_ptr_array_add(argv, g_strdup(arg));
}

static void G_GNUC_PRINTF(2, 3) addf(GPtrArray *argv, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_ptr_array_add(argv, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

/* QEMU's option values separate with ','; a literal comma is doubled. */
static char *
opt_escape(const char *value)
{
    g_auto(GStrv) parts = g_strsplit(value, ",", -1);

    return g_strjoinv(",,", parts);
}

/* The firmware as libvirt gives it to QEMU 7.2 (qemuBuildDomainLoaderPflashCommandLine). */
static void
add_firmware(GPtrArray *argv, const FpFirmware *fw, const char *vars)
{
    g_autofree char *code = NULL, *copy = NULL;

    if (fw->type == FP_FW_SEABIOS)
        return;
    code = opt_escape(fw->code);
    if (!fw->pflash) {
        add(argv, "-bios");
        add(argv, fw->code);
        return;
    }
    if (fw->smm) {
        /* Only SMM may write the variables of a secure-boot image. */
        add(argv, "-global");
        add(argv, "driver=cfi.pflash01,property=secure,value=on");
    }
    add(argv, "-drive");
    addf(argv, "if=pflash,format=raw,unit=0,file=%s,readonly=on", code);
    if (vars) {
        copy = opt_escape(vars);
        add(argv, "-drive");
        addf(argv, "if=pflash,format=raw,unit=1,file=%s", copy);
    }
}

char **
fp_profile_direct_argv(xmlDoc *doc, const FpFirmware *fw, const char *qemu, const char *console,
                       const char *vars, GError **error)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *xml = NULL, *name = NULL, *machine = NULL, *kernel = NULL, *initrd = NULL;
    g_autofree char *cmdline = NULL, *ctext = NULL;
    g_autoptr(FpDomain) dom = NULL;
    xmlNode *root, *os, *backing;
    guint64 kib, page;
    gsize len;
    guint vcpus;

    /* Without FW the domain's firmware would silently become QEMU's default SeaBIOS. */
    g_return_val_if_fail(fw != NULL, NULL);
    xml = fp_xml_format(doc, NULL, &len);
    if (!(dom = fp_domain_load_memory(xml, len, "domain", error)))
        return NULL;
    root = fp_domain_root(dom);
    os = fp_xml_child(root, "os");
    backing = fp_xml_child(root, "memoryBacking");
    kernel = fp_xml_text(fp_xml_child(os, "kernel"));
    if (!kernel || !*kernel) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "--direct models direct kernel boot only: the domain has no <os><kernel> "
                    "(give a QEMU command line after -- instead)");
        return NULL;
    }
    if (!fp_domain_memory_kib(dom, &kib, error))
        return NULL;
    if (fw->pflash && fw->vars && !vars) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "%s: no writable copy of its variables store given", fw->code);
        return NULL;
    }
    name = fp_domain_name(dom);
    machine = fp_xml_prop(fp_xml_child(os, "type"), "machine");
    initrd = fp_xml_text(fp_xml_child(os, "initrd"));
    cmdline = fp_xml_text(fp_xml_child(os, "cmdline"));
    vcpus = fp_domain_vcpus(dom);
    page = fp_domain_hugepage_kib(dom);

    add(argv, qemu ? qemu : "qemu-system-x86_64");
    add(argv, "-name");
    ctext = opt_escape(name ? name : "fastpass-profile");
    addf(argv, "guest=%s", ctext);
    add(argv, "-no-user-config");
    add(argv, "-nodefaults");
    add(argv, "-display");
    add(argv, "none");
    add(argv, "-machine");
    addf(argv, "%s,accel=%s,memory-backend=pc.ram%s", machine ? machine : "pc",
         fp_xml_prop_is(root, "type", "kvm") ? "kvm" : "tcg", fw->smm ? ",smm=on" : "");
    add(argv, "-m");
    addf(argv, "%" G_GUINT64_FORMAT "k", kib);
    add(argv, "-object");
    if (page)
        /* What libvirt gives a hugepage domain: a file on hugetlbfs, populated at start. */
        addf(argv,
             "memory-backend-file,id=pc.ram,size=%" G_GUINT64_FORMAT
             "k,mem-path=/dev/hugepages,prealloc=on",
             kib);
    else
        /* VFIO pins all guest memory anyway: preallocating is what such a guest costs. */
        addf(argv, "memory-backend-ram,id=pc.ram,size=%" G_GUINT64_FORMAT "k%s", kib,
             fp_xml_prop_is(fp_xml_child(backing, "allocation"), "mode", "immediate") ||
                     dom->hostdevs->len
                 ? ",prealloc=on"
                 : "");
    if (vcpus) {
        add(argv, "-smp");
        addf(argv, "%u", vcpus);
    }
    add_firmware(argv, fw, vars);
    add(argv, "-kernel");
    add(argv, kernel);
    if (initrd && *initrd) {
        add(argv, "-initrd");
        add(argv, initrd);
    }
    if (cmdline) {
        add(argv, "-append");
        add(argv, cmdline);
    }
    if (fp_xml_prop_is(fp_xml_child(os, "bootmenu"), "enable", "yes")) {
        g_autofree char *timeout = fp_xml_prop(fp_xml_child(os, "bootmenu"), "timeout");

        add(argv, "-boot");
        if (timeout)
            addf(argv, "menu=on,splash-time=%s", timeout);
        else
            add(argv, "menu=on");
    }
    for (guint i = 0; i < dom->hostdevs->len; i++) {
        const FpHostdev *hd = &g_array_index(dom->hostdevs, FpHostdev, i);
        gboolean rom_off = fp_xml_prop_is(fp_xml_child(hd->elem, "rom"), "bar", "off");

        add(argv, "-device");
        addf(argv, "vfio-pci,host=%s%s", hd->bdf, rom_off ? ",rombar=0" : "");
    }
    add(argv, "-serial");
    g_free(ctext);
    ctext = opt_escape(console);
    addf(argv, "file:%s", ctext);
    g_ptr_array_add(argv, NULL);
    return (char **)g_ptr_array_steal(argv, NULL);
}

/* QMP over the child's stdin/stdout: one end of a socket pair, so a write to a QEMU that has
 * exited fails (MSG_NOSIGNAL) instead of raising SIGPIPE in the caller. */
typedef struct {
    int in, out; /* the same socket: we write to IN, read from OUT */
    GString *buf;
} Qmp;

/* The next line QEMU writes, or FALSE at EOF, error or DEADLINE_US (CLOCK_REALTIME). */
static gboolean
qmp_line(Qmp *q, GString *line, gint64 deadline_us, volatile sig_atomic_t *cancel)
{
    for (;;) {
        const char *nl = memchr(q->buf->str, '\n', q->buf->len);
        struct pollfd pfd = {.fd = q->out, .events = POLLIN};
        char chunk[4096];
        ssize_t n;
        gint64 left;

        if (nl) {
            g_string_truncate(line, 0);
            g_string_append_len(line, q->buf->str, nl - q->buf->str);
            g_string_erase(q->buf, 0, nl - q->buf->str + 1);
            return TRUE;
        }
        left = (deadline_us - g_get_real_time()) / 1000;
        if (left <= 0 || (cancel && *cancel))
            return FALSE;
        if (poll(&pfd, 1, (int)MIN(left, 100)) < 0 && errno != EINTR)
            return FALSE;
        if (!(pfd.revents & (POLLIN | POLLHUP)))
            continue;
        n = read(q->out, chunk, sizeof(chunk));
        if (n <= 0)
            return FALSE;
        g_string_append_len(q->buf, chunk, n);
    }
}

static gboolean
qmp_send(Qmp *q, const char *cmd)
{
    gsize len = strlen(cmd), done = 0;

    while (done < len) {
        ssize_t n = send(q->in, cmd + done, len - done, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        done += (gsize)n;
    }
    return send(q->in, "\n", 1, MSG_NOSIGNAL) == 1;
}

/* Reads lines until one is the command's reply; *RESUME_US set from a RESUME event on the
 * way (QEMU's own timestamp). */
static gboolean
qmp_reply(Qmp *q, GString *line, gint64 deadline_us, volatile sig_atomic_t *cancel,
          gint64 *resume_us, GError **error)
{
    while (qmp_line(q, line, deadline_us, cancel)) {
        json_object *j = json_tokener_parse(line->str);
        const char *ev = json_object_get_string(json_object_object_get(j, "event"));
        gboolean reply = json_object_object_get(j, "return") != NULL;
        json_object *err = json_object_object_get(j, "error");

        if (ev && !strcmp(ev, "RESUME") && resume_us) {
            json_object *ts = json_object_object_get(j, "timestamp");

            *resume_us =
                json_object_get_int64(json_object_object_get(ts, "seconds")) * G_USEC_PER_SEC +
                json_object_get_int64(json_object_object_get(ts, "microseconds"));
        }
        if (err) {
            g_set_error(error, FP_ERROR, FP_ERROR_HOST, "QMP: %s",
                        json_object_get_string(json_object_object_get(err, "desc")));
            json_object_put(j);
            return FALSE;
        }
        json_object_put(j);
        if (reply)
            return TRUE;
    }
    g_set_error(error, FP_ERROR, FP_ERROR_TIMEOUT, "QMP: QEMU did not answer");
    return FALSE;
}

typedef struct {
    pid_t pid;
    int status;
    gboolean exited;
} Child;

static gboolean
child_alive(void *user)
{
    Child *c = user;

    if (!c->exited && waitpid(c->pid, &c->status, WNOHANG) == c->pid)
        c->exited = TRUE;
    return !c->exited;
}

/* Asks QEMU to quit, then kills it; reaps it either way. */
static void
child_stop(Child *c, Qmp *q)
{
    if (!c->exited && q->in >= 0)
        qmp_send(q, "{\"execute\":\"quit\"}");
    for (int i = 0; i < 250 && child_alive(c); i++)
        g_usleep(20000);
    if (!c->exited) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, &c->status, 0);
        c->exited = TRUE;
    }
}

/* The first lines of QEMU's stderr, for an error message. */
static char *
stderr_excerpt(const char *path)
{
    g_autofree char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL) || !*text)
        return g_strdup("no message");
    if (strlen(text) > 400)
        text[400] = '\0';
    return g_strdup(g_strstrip(text));
}

/* The guest writes its UEFI variables: into a copy of SOURCE made for this start, so that each
 * start boots the same store and the domain's own file is never touched. */
static gboolean
copy_vars(const char *source, const char *copy, GError **error)
{
    g_autofree char *data = NULL;
    gsize len;

    if (!g_file_get_contents(source, &data, &len, error) ||
        !g_file_set_contents_full(copy, data, (gssize)len, G_FILE_SET_CONTENTS_NONE, 0600, error)) {
        g_prefix_error(error, "copying the variables store %s: ", source);
        return FALSE;
    }
    return TRUE;
}

FpProfileRun *
fp_profile_direct_run(const FpDirectOptions *o, GError **error)
{
    g_autoptr(FpProfileRun) run = fp_profile_run_new();
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *console = g_build_filename(o->work_dir, "console.log", NULL);
    g_autofree char *trace = g_build_filename(o->work_dir, "qemu-trace.log", NULL);
    g_autofree char *errpath = g_build_filename(o->work_dir, "qemu-stderr.log", NULL);
    g_autofree char *vars = g_build_filename(o->work_dir, FP_DIRECT_VARS_FILE, NULL);
    g_autofree char *trace_text = NULL;
    g_autoptr(GString) line = g_string_new(NULL);
    g_autoptr(FpConsoleScan) scan = fp_console_scan_new(FP_KERNEL_LINE_MARK);
    g_autoptr(FpConsoleFile) cf = NULL;
    g_auto(GStrv) base = NULL;
    Qmp q = {-1, -1, g_string_new(NULL)};
    Child child = {0};
    int sv[2] = {-1, -1}, errfd = -1;
    gint64 deadline, resume = 0, found;
    gsize tlen;
    gboolean ok = FALSE;

    if (o->argv) {
        for (char **a = o->argv; *a; a++)
            add(argv, *a);
        if (!o->console_path) {
            add(argv, "-serial");
            addf(argv, "file:%s", console);
        }
        run->firmware = fp_firmware_of_argv(o->argv);
    } else {
        /* Everything checked before anything is written or started. */
        if (!(run->firmware =
                  fp_firmware_of_domain(o->domain, o->firmware_dir, FP_FIRMWARE_RUN, error)) ||
            !(base = fp_profile_direct_argv(o->domain, run->firmware, o->qemu, console,
                                            run->firmware->vars ? vars : NULL, error)))
            goto out;
        for (char **a = base; *a; a++)
            add(argv, *a);
        if (run->firmware->vars && !copy_vars(run->firmware->vars, vars, error))
            goto out;
    }
    if (o->console_path) {
        g_free(console);
        console = g_strdup(o->console_path);
    }
    add(argv, "-S");
    add(argv, "-qmp");
    add(argv, "stdio");
    add(argv, "-D");
    add(argv, trace);
    for (guint i = 0; fp_profile_dma_trace_events[i]; i++) {
        add(argv, "-trace");
        addf(argv, "enable=%s", fp_profile_dma_trace_events[i]);
    }
    /* The firmware's fw_cfg reads, timestamped as libvirt has QEMU do it. */
    add(argv, "-msg");
    add(argv, "timestamp=on");
    for (guint i = 0; fp_profile_firmware_trace_events[i]; i++) {
        add(argv, "-trace");
        addf(argv, "enable=%s", fp_profile_firmware_trace_events[i]);
    }
    g_ptr_array_add(argv, NULL);
    /* Old output must not count as this start's. */
    g_unlink(trace);
    if (truncate(console, 0) < 0 && errno != ENOENT) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot empty the console file %s: %s", console,
                    g_strerror(errno));
        goto out;
    }
    cf = fp_console_file_new(console);

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        (errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot set up QEMU's monitor socket: %s",
                    g_strerror(errno));
        goto out;
    }
    fp_profile_run_set(run, FP_PT_START_CALL, g_get_real_time(), "spawn");
    fp_profile_run_set(run, FP_PT_QEMU_EXEC, run->at[FP_PT_START_CALL], "spawn");
    child.pid = fork();
    if (child.pid < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "fork: %s", g_strerror(errno));
        goto out;
    }
    if (child.pid == 0) {
        /* Only async-signal-safe calls between fork and exec. */
        dup2(sv[1], 0);
        dup2(sv[1], 1);
        dup2(errfd, 2);
        execvp(g_ptr_array_index(argv, 0), (char **)argv->pdata);
        _exit(127);
    }
    close(sv[1]);
    close(errfd);
    sv[1] = errfd = -1;
    q.in = q.out = sv[0];

    deadline = g_get_real_time() + (gint64)o->timeout_s * G_USEC_PER_SEC;
    if (!qmp_line(&q, line, deadline, o->cancel) || !strstr(line->str, "\"QMP\"")) {
        g_autofree char *why = NULL;

        child_stop(&child, &q);
        why = WIFEXITED(child.status) && WEXITSTATUS(child.status) == 127
                  ? g_strdup_printf("cannot run %s", (const char *)g_ptr_array_index(argv, 0))
                  : stderr_excerpt(errpath);
        g_set_error(error, FP_ERROR, FP_ERROR_HOST, "QEMU did not start: %s", why);
        goto out;
    }
    fp_profile_run_set(run, FP_PT_QMP_READY, g_get_real_time(), "qmp-greeting");
    if (!qmp_send(&q, "{\"execute\":\"qmp_capabilities\"}") ||
        !qmp_reply(&q, line, deadline, o->cancel, NULL, error))
        goto stop;
    if (!qmp_send(&q, "{\"execute\":\"cont\"}") ||
        !qmp_reply(&q, line, deadline, o->cancel, &resume, error))
        goto stop;
    /* RESUME may follow cont's reply. */
    while (!resume &&
           qmp_line(&q, line, MIN(deadline, g_get_real_time() + G_USEC_PER_SEC), o->cancel)) {
        json_object *j = json_tokener_parse(line->str);
        const char *ev = json_object_get_string(json_object_object_get(j, "event"));
        json_object *ts = json_object_object_get(j, "timestamp");

        if (ev && !strcmp(ev, "RESUME"))
            resume = json_object_get_int64(json_object_object_get(ts, "seconds")) * G_USEC_PER_SEC +
                     json_object_get_int64(json_object_object_get(ts, "microseconds"));
        json_object_put(j);
    }
    if (!resume) {
        g_set_error(error, FP_ERROR, FP_ERROR_HOST, "QEMU sent no RESUME event after cont");
        goto stop;
    }
    fp_profile_run_set(run, FP_PT_INIT_END, resume, "qmp-resume");
    fp_profile_run_set(run, FP_PT_VCPU_START, resume, "qmp-resume");

    if (fp_console_file_wait(cf, scan, deadline, o->cancel, child_alive, &child, &found)) {
        fp_profile_run_set(run, FP_PT_KERNEL_LINE, found, "console-file");
        run->kernel_line = g_strdup(fp_console_scan_line(scan));
    } else if (o->cancel && *o->cancel) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "interrupted");
        goto stop;
    } else {
        fp_profile_run_note(run, "no \"%s\" on the console %s %s", FP_KERNEL_LINE_MARK, console,
                            child.exited ? "before QEMU exited" : "within the timeout");
    }
    ok = TRUE;

stop:
    child_stop(&child, &q);
    if (g_file_get_contents(trace, &trace_text, &tlen, NULL)) {
        fp_profile_count_dma(run, trace_text, tlen);
        fp_profile_firmware_marks(run, trace_text, tlen);
    }
    if (!run->dma_visible)
        fp_profile_run_note(run, "VFIO DMA calls not visible: QEMU wrote no trace output");
out:
    for (guint i = 0; i < 2; i++) {
        if (sv[i] >= 0)
            close(sv[i]);
    }
    if (errfd >= 0)
        close(errfd);
    g_string_free(q.buf, TRUE);
    return ok ? g_steal_pointer(&run) : NULL;
}
