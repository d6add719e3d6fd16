/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the profiler reads besides the console: the hook's and the wrapper's timelines, a
 * process's start time, QEMU's trace output; and its JSON, read back. */
#include "profile.h"

#include "timeline.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define UUID "0f4a3c2e-8b1d-4e6f-9a7b-5c3d2e1f0a9b"
#define T0 G_GINT64_CONSTANT(1700000000000000)

static const char hook_with_devices[] =
    "{\"domain\": \"vm\", \"events\": [{\"begin_us\": 1700000000010000, "
    "\"devices_begin_us\": 1700000000030000, \"devices_end_us\": 1700000001030000, "
    "\"devices\": {\"action\": \"prepare\", \"ok\": true, \"total_ms\": 1000.0, \"devices\": "
    "[{\"bdf\": \"0000:41:00.0\", "
    "\"status\": \"done\", \"steps\": [{\"step\": \"reset\", \"start_ms\": 1.0, \"ms\": 998.0}]}]},"
    " \"ok\": true, \"event\": \"hook-prepare\", \"time_us\": 1700000001100000}]}";
static const char hook_without_devices[] =
    "{\"domain\": \"vm\", \"events\": ["
    "{\"begin_us\": 1700000000010000, \"ok\": true, \"event\": \"hook-prepare\", \"time_us\": "
    "1700000000030000}]}";
static const char hook_stale[] = "{\"domain\": \"vm\", \"events\": ["
                                 "{\"begin_us\": 1699999990000000, \"ok\": true, \"event\": "
                                 "\"hook-prepare\", \"time_us\": 1699999990030000}]}";
static const char hook_no_end[] = "{\"domain\": \"vm\", \"events\": [{\"begin_us\": "
                                  "1700000000010000, \"event\": \"hook-prepare\"}]}";
static const char qemu_fresh[] =
    "{\"domain\": \"vm\", \"events\": [{\"qemu\": \"/usr/bin/qemu-system-x86_64\", "
    "\"wrapper_start_us\": 1700000001150000, \"changes\": [], \"event\": \"qemu-exec\", "
    "\"time_us\": 1700000001160000}]}";
static const char qemu_stale[] = "{\"domain\": \"vm\", \"events\": [{\"wrapper_start_us\": "
                                 "1699999990000000, \"event\": \"qemu-exec\", "
                                 "\"time_us\": 1699999990001000}]}";

typedef struct {
    const char *name;
    const char *hook, *qemu; /* file contents; NULL: no file */
    gint64 hook_begin, devices_begin, devices_end, hook_end, exec,
        real_exec; /* offsets from T0; -1: unset */
    gboolean devices;
    guint notes;
} TimelineCase;

static const TimelineCase timeline_cases[] = {
    {"hook-with-devices-and-wrapper", hook_with_devices, qemu_fresh, 10000, 30000, 1030000, 1100000,
     1150000, 1160000, TRUE, 0},
    {"hook-without-devices", hook_without_devices, qemu_fresh, 10000, -1, -1, 30000, 1150000,
     1160000, FALSE, 0},
    {"missing-files", NULL, NULL, -1, -1, -1, -1, -1, -1, FALSE, 2},
    {"stale-files-from-an-earlier-start", hook_stale, qemu_stale, -1, -1, -1, -1, -1, -1, FALSE, 2},
    {"garbage", "{\"events\": [tru", "\x01\x02not json", -1, -1, -1, -1, -1, -1, FALSE, 2},
    {"events-not-an-array", "{\"events\": {\"a\": 1}}", "[1, 2]", -1, -1, -1, -1, -1, -1, FALSE, 2},
    {"empty-files", "", "", -1, -1, -1, -1, -1, -1, FALSE, 2},
    {"hook-without-end", hook_no_end, NULL, 10000, -1, -1, -1, -1, -1, FALSE, 2},
};

static void
write_file(const char *path, const char *text)
{
    g_autofree char *dir = g_path_get_dirname(path);

    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static void
expect_point(const FpProfileRun *run, FpPoint pt, gint64 offset)
{
    if (offset < 0) {
        g_assert_cmpint(run->at[pt], ==, 0);
    } else {
        g_assert_cmpint(run->at[pt], ==, T0 + offset);
        g_assert_nonnull(run->source[pt]);
    }
}

static void
test_timeline(gconstpointer data)
{
    const TimelineCase *c = data;
    g_autofree char *dir = g_dir_make_tmp("fp-profile-XXXXXX", NULL);
    g_autofree char *hook = fp_timeline_path(dir, UUID, "vm", "hook");
    g_autofree char *qemu = fp_timeline_path(dir, UUID, "vm", "qemu");
    g_autofree char *tdir = g_path_get_dirname(hook);
    g_autoptr(FpProfileRun) run = fp_profile_run_new();

    g_assert_nonnull(dir);
    if (c->hook)
        write_file(hook, c->hook);
    if (c->qemu)
        write_file(qemu, c->qemu);
    fp_profile_read_timelines(run, dir, UUID, "vm", T0);
    expect_point(run, FP_PT_HOOK_BEGIN, c->hook_begin);
    expect_point(run, FP_PT_DEVICES_BEGIN, c->devices_begin);
    expect_point(run, FP_PT_DEVICES_END, c->devices_end);
    expect_point(run, FP_PT_HOOK_END, c->hook_end);
    expect_point(run, FP_PT_QEMU_EXEC, c->exec);
    expect_point(run, FP_PT_REAL_EXEC, c->real_exec);
    g_assert_cmpint(run->devices != NULL, ==, c->devices);
    g_assert_cmpuint(run->notes->len, ==, c->notes);
    g_unlink(hook);
    g_unlink(qemu);
    g_rmdir(tdir);
    g_rmdir(dir);
}

/* The hook's release at a stop: "hook-release-begin" when release end starts, "hook-release"
 * when it is done. T0 + 100 s is the stop call. */
#define PREPARE_EV                                                                                 \
    "{\"begin_us\": 1700000000010000, \"ok\": true, \"event\": \"hook-prepare\", "                 \
    "\"time_us\": 1700000000030000}"
#define BEGIN_EV(b) "{\"begin_us\": " b ", \"event\": \"hook-release-begin\", \"time_us\": " b "}"
#define HOOK_FILE(events) "{\"domain\": \"vm\", \"events\": [" PREPARE_EV events "]}"

typedef struct {
    const char *name;
    const char *hook;                              /* NULL: no file */
    gint64 begin, devices_begin, devices_end, end; /* offsets from T0; -1: unset */
    const char *note;                              /* in the one note expected, or NULL: none */
} ReleaseCase;

static const ReleaseCase release_cases[] = {
    {"with-devices",
     HOOK_FILE(", " BEGIN_EV("1700000100000000") ", {\"begin_us\": 1700000100000000, "
                                                 "\"devices_begin_us\": 1700000100002000, "
                                                 "\"devices_end_us\": 1700000100125000, "
                                                 "\"ok\": true, \"event\": \"hook-release\", "
                                                 "\"time_us\": 1700000100127000}"),
     100000000, 100002000, 100125000, 100127000, NULL},
    {"without-devices",
     HOOK_FILE(", " BEGIN_EV(
         "1700000100000000") ", {\"begin_us\": 1700000100000000, \"ok\": "
                             "true, \"event\": \"hook-release\", \"time_us\": 1700000100003000}"),
     100000000, -1, -1, 100003000, NULL},
    /* The begin could not be written (its lock was held): the end says it all. */
    {"end-without-begin-event",
     HOOK_FILE(", {\"begin_us\": 1700000100000000, \"ok\": true, \"event\": \"hook-release\", "
               "\"time_us\": 1700000100003000}"),
     100000000, -1, -1, 100003000, NULL},
    {"begin-without-end", HOOK_FILE(", " BEGIN_EV("1700000100000000")), 100000000, -1, -1, -1,
     "began and has no end"},
    /* A complete release of an earlier stop, then this stop's begin with no end. */
    {"later-begin-without-end",
     HOOK_FILE(
         ", " BEGIN_EV("1700000100000000") ", {\"begin_us\": 1700000100000000, \"ok\": "
                                           "true, \"event\": \"hook-release\", \"time_us\": "
                                           "1700000100003000}, " BEGIN_EV("1700000200000000")),
     200000000, -1, -1, -1, "began and has no end"},
    {"end-before-begin",
     HOOK_FILE(", " BEGIN_EV(
         "1700000100000000") ", {\"begin_us\": 1700000100000000, \"ok\": "
                             "true, \"event\": \"hook-release\", \"time_us\": 1700000099000000}"),
     -1, -1, -1, -1, "out of order"},
    {"devices-end-before-their-begin",
     HOOK_FILE(", " BEGIN_EV("1700000100000000") ", {\"begin_us\": 1700000100000000, "
                                                 "\"devices_begin_us\": 1700000100125000, "
                                                 "\"devices_end_us\": 1700000100002000, "
                                                 "\"ok\": true, \"event\": \"hook-release\", "
                                                 "\"time_us\": 1700000100127000}"),
     -1, -1, -1, -1, "out of order"},
    {"devices-begin-without-end",
     HOOK_FILE(", " BEGIN_EV(
         "1700000100000000") ", {\"begin_us\": 1700000100000000, "
                             "\"devices_begin_us\": 1700000100002000, \"ok\": true, \"event\": "
                             "\"hook-release\", \"time_us\": 1700000100127000}"),
     -1, -1, -1, -1, "out of order"},
    {"times-not-integers",
     HOOK_FILE(", {\"begin_us\": \"soon\", \"event\": \"hook-release-begin\"}, {\"begin_us\": "
               "\"soon\", \"event\": \"hook-release\", \"time_us\": 1700000100003000}"),
     -1, -1, -1, -1, "no release for this stop"},
    /* Before the stop call: an earlier stop's release, not this one's. */
    {"earlier-stop",
     HOOK_FILE(", " BEGIN_EV(
         "1700000050000000") ", {\"begin_us\": 1700000050000000, \"ok\": "
                             "true, \"event\": \"hook-release\", \"time_us\": 1700000050003000}"),
     -1, -1, -1, -1, "no release for this stop"},
    {"no-file", NULL, -1, -1, -1, -1, "no hook timeline"},
    {"not-json", "{\"events\": [tru", -1, -1, -1, -1, "is not JSON"},
};

static void
test_release(gconstpointer data)
{
    const ReleaseCase *c = data;
    g_autofree char *dir = g_dir_make_tmp("fp-profile-XXXXXX", NULL);
    g_autofree char *hook = fp_timeline_path(dir, UUID, "vm", "hook");
    g_autofree char *tdir = g_path_get_dirname(hook);
    g_autoptr(FpProfileRun) run = fp_profile_run_new();

    g_assert_nonnull(dir);
    g_assert_cmpint(g_mkdir_with_parents(tdir, 0711), ==, 0);
    if (c->hook)
        write_file(hook, c->hook);
    fp_profile_read_release(run, dir, UUID, "vm", T0 + 100000000);
    expect_point(run, FP_PT_RELEASE_BEGIN, c->begin);
    expect_point(run, FP_PT_RELEASE_DEVICES_BEGIN, c->devices_begin);
    expect_point(run, FP_PT_RELEASE_DEVICES_END, c->devices_end);
    expect_point(run, FP_PT_RELEASE_END, c->end);
    g_assert_cmpuint(run->notes->len, ==, c->note ? 1 : 0);
    if (c->note && !strstr(g_ptr_array_index(run->notes, 0), c->note))
        g_error("note \"%s\" lacks \"%s\"", (const char *)g_ptr_array_index(run->notes, 0),
                c->note);
    /* Only whole stops make phases: never one from a begin to nothing. */
    {
        g_autoptr(GArray) phases = fp_profile_run_phases(run);

        for (guint i = 0; i < phases->len; i++)
            g_assert_true(g_array_index(phases, FpPhase, i).stop == (c->end >= 0));
        g_assert_cmpuint(phases->len, ==, c->end < 0 ? 0 : c->devices_begin < 0 ? 1 : 3);
    }
    g_unlink(hook);
    g_rmdir(tdir);
    g_rmdir(dir);
}

/* The wrapper's event in the domain log, where its timeline file was refused (AppArmor). */
typedef struct {
    const char *name;
    const char *log;
    gboolean found;
    gint64 exec, real_exec; /* offsets from T0; -1: unset */
    guint notes;
} LogCase;

#define MARK FP_TIMELINE_LOG_MARK
static const LogCase log_cases[] = {
    {"event",
     "2026-12-01 18:00:00.000+0000: starting up\nfastpass-qemu: cannot record the timeline: "
     "Permission denied\n" MARK "{\"qemu\":\"/usr/bin/qemu-system-x86_64\","
     "\"wrapper_start_us\":1700000001150000,\"changes\":[],\"event\":\"qemu-exec\","
     "\"time_us\":1700000001160000}\nqemu-system-x86_64: some warning\n",
     TRUE, 1150000, 1160000, 0},
    {"last-line-wins",
     MARK
     "{\"wrapper_start_us\":1700000000100000,\"event\":\"qemu-exec\",\"time_us\":1700000000200000}"
     "\n" MARK
     "{\"wrapper_start_us\":1700000000300000,\"event\":\"qemu-exec\",\"time_us\":1700000000400000}",
     TRUE, 300000, 400000, 0},
    {"no-event", "2026-12-01 18:00:00.000+0000: starting up\nqemu-system-x86_64: ready\n", FALSE,
     -1, -1, 0},
    {"earlier-start",
     MARK "{\"wrapper_start_us\":1699999990000000,\"event\":\"qemu-exec\",\"time_us\":"
          "1699999990001000}\n",
     TRUE, -1, -1, 1},
    {"not-json", MARK "{\"wrapper_start_us\": 17000\n", FALSE, -1, -1, 1},
    {"another-event", MARK "{\"wrapper_start_us\":1700000001150000,\"event\":\"hook-prepare\"}\n",
     FALSE, -1, -1, 1},
    {"strings-for-times",
     MARK "{\"wrapper_start_us\":\"1700000001150000\",\"event\":\"qemu-exec\"}\n", TRUE, -1, -1, 1},
};

static void
test_log(gconstpointer data)
{
    const LogCase *c = data;
    g_autoptr(FpProfileRun) run = fp_profile_run_new();

    g_assert_cmpint(fp_profile_qemu_exec_from_log(run, c->log, strlen(c->log), T0), ==, c->found);
    expect_point(run, FP_PT_QEMU_EXEC, c->exec);
    expect_point(run, FP_PT_REAL_EXEC, c->real_exec);
    g_assert_cmpuint(run->notes->len, ==, c->notes);
}

/* QEMU's "terminating on signal" line (libvirt runs it with -msg timestamp=on): when it took the
 * stop's signal. T0 is 2023-11-14T22:13:20Z; the stop call is T0 + 1 s. */
typedef struct {
    const char *name;
    const char *log;
    gint64 signaled; /* offset from T0; -1: not taken */
} SignalCase;

#define TERM " qemu-system-x86_64: terminating on signal 15 from pid 42 (/usr/sbin/libvirtd)\n"
static const SignalCase signal_cases[] = {
    {"timestamped",
     "2023-11-14 22:13:19.000+0000: starting up\n2023-11-14T22:13:21.500000Z" TERM
     "2023-11-14 22:13:21.900+0000: shutting down, reason=destroyed\n",
     1500000},
    {"last-of-two", "2023-11-14T22:13:21.100000Z" TERM "2023-11-14T22:13:21.250000Z" TERM, 1250000},
    {"no-timestamp", "qemu-system-x86_64: terminating on signal 15 from pid 42 (libvirtd)\n", -1},
    {"not-a-time", "yesterday" TERM, -1},
    {"before-the-stop", "2023-11-14T22:13:20.500000Z" TERM, -1},
    {"no-such-line", "2023-11-14T22:13:21.500000Z qemu-system-x86_64: warning: x\n", -1},
    {"empty", "", -1},
};

static void
test_signal(gconstpointer data)
{
    const SignalCase *c = data;
    g_autoptr(FpProfileRun) run = fp_profile_run_new();

    g_assert_cmpint(fp_profile_qemu_signal_from_log(run, c->log, strlen(c->log), T0 + 1000000), ==,
                    c->signaled >= 0);
    expect_point(run, FP_PT_QEMU_SIGNALED, c->signaled);
}

typedef struct {
    const char *name;
    const char *stat;
    gboolean ok;
    guint64 ticks;
} ProcCase;

static const ProcCase proc_cases[] = {
    {"plain",
     "1234 (qemu-system-x86) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 3 0 98765 1000 200 "
     "18446744073709551615\n",
     TRUE, 98765},
    {"name-with-spaces-and-parens",
     "77 (a) b (c) R 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 4242 0 0\n", TRUE, 4242},
    {"truncated", "77 (qemu) S 1 2 3\n", FALSE, 0},
    {"no-parens", "garbage", FALSE, 0},
    {"not-a-number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 abc 0 0\n", FALSE, 0},
};

static void
test_proc(gconstpointer data)
{
    const ProcCase *c = data;
    guint64 ticks = 0;

    g_assert_cmpint(fp_profile_parse_proc_starttime(c->stat, &ticks), ==, c->ok);
    if (c->ok)
        g_assert_cmpuint(ticks, ==, c->ticks);
}

static void
test_proc_self(void)
{
    gint64 us, now = g_get_real_time();
    g_autoptr(GError) error = NULL;

    /* This test started a moment ago, within a clock tick or two. */
    g_assert_true(fp_profile_proc_start_us(NULL, getpid(), &us, &error));
    g_assert_no_error(error);
    g_assert_cmpint(us, <=, now + 20000);
    g_assert_cmpint(us, >, now - 600 * G_USEC_PER_SEC);
    g_assert_false(fp_profile_proc_start_us("/nonexistent-proc", 1, &us, &error));
}

typedef struct {
    const char *name;
    const char *text;
    gboolean visible;
    gint64 map, unmap, remap;
    gboolean ioctl; /* counted from the ioctl events */
} DmaCase;

static const DmaCase dma_cases[] = {
    {"nothing", "char device redirected to /dev/pts/3\n", FALSE, 0, 0, 0, FALSE},
    {"sentinel-only-is-visible-zero",
     "1234@1700000000.000001:vm_state_notify running 1 reason 9 (running)\n", TRUE, 0, 0, 0, FALSE},
    {"timestamped-lines",
     "1@1.5:vfio_listener_region_add_ram region_add [ram] 0x0 - 0x9ffff [0x7f00]\n"
     "1@1.6:vfio_listener_region_add_ram region_add [ram] 0xc0000 - 0xbfffffff [0x7f01]\n"
     "1@1.7:vfio_listener_region_del region_del 0xc0000 - 0xdffff\n",
     TRUE, 2, 1, 0, FALSE},
    {"plain-lines-and-viommu",
     "vfio_iommu_map_notify iommu MAP @ 0x1000 - 0x1fff\n"
     "vfio_iommu_map_notify iommu UNMAP @ 0x1000 - 0x1fff\n"
     "vfio_iommu_map_notify iommu MAP @ 0x2000 - 0x2fff",
     TRUE, 2, 1, 0, FALSE},
    {"the-same-iova-mapped-again-is-redundant",
     "1@1.5:vfio_listener_region_add_ram region_add [ram] 0x0 - 0x9ffff [0x7f00]\n"
     "1@1.6:vfio_listener_region_del region_del 0x0 - 0x9ffff\n"
     "1@1.7:vfio_listener_region_add_ram region_add [ram] 0x0 - 0x9ffff [0x7f00]\n"
     "1@1.8:vfio_listener_region_add_ram region_add [ram] 0x0 - 0x7ffff [0x7f00]\n"
     "vfio_iommu_map_notify iommu MAP @ 0x1000 - 0x1fff\n"
     "vfio_iommu_map_notify iommu UNMAP @ 0x1000 - 0x1fff\n"
     "vfio_iommu_map_notify iommu MAP @ 0x1000 - 0x1fff\n",
     TRUE, 5, 2, 2, FALSE},
    {"command-line-naming-events-not-counted",
     "LC_ALL=C /usr/bin/qemu-system-x86_64 -trace enable=vfio_listener_region_add_ram -trace "
     "enable=vm_state_notify\nvfio_listener_region_add_ram_suffix x\n",
     FALSE, 0, 0, 0, FALSE},
    /* fastpass's QEMU: the listener asked to map 0xc0000-0xbfffffff again, the kernel was asked
     * only for the piece that was gone; the ioctls are what is counted. */
    {"ioctl-events-win-over-the-listener",
     "1@1.5:vfio_listener_region_add_ram region_add [ram] 0x0 - 0x9ffff [0x7f00]\n"
     "1@1.5:vfio_dma_map_ioctl VFIO_IOMMU_MAP_DMA 0x0 - 0x9ffff [0x7f00] readonly 0\n"
     "1@1.6:vfio_listener_region_add_ram region_add [ram] 0xc0000 - 0xbfffffff [0x7f01]\n"
     "1@1.6:vfio_dma_map_ioctl VFIO_IOMMU_MAP_DMA 0xc0000 - 0xfffff [0x7f01] readonly 0\n"
     "1@1.6:vfio_dma_map_ioctl VFIO_IOMMU_MAP_DMA 0x100000 - 0xbfffffff [0x7f02] readonly 0\n"
     "1@1.7:vfio_listener_region_del region_del 0xc0000 - 0xbfffffff\n"
     "1@1.7:vfio_listener_region_add_ram region_add [ram] 0xc0000 - 0xbfffffff [0x7f01]\n"
     "1@1.8:vfio_listener_region_del region_del 0xc0000 - 0xdffff\n"
     "1@1.8:vfio_dma_unmap_ioctl VFIO_IOMMU_UNMAP_DMA 0xc0000 - 0xfffff\n"
     "1@1.8:vfio_dma_map_ioctl VFIO_IOMMU_MAP_DMA 0xc0000 - 0xfffff [0x7f01] readonly 0\n",
     TRUE, 4, 1, 1, TRUE},
    {"an-ioctl-unmap-alone-counts-ioctls",
     "vfio_dma_unmap_ioctl VFIO_IOMMU_UNMAP_DMA 0x0 - 0xfff\n"
     "vfio_listener_region_add_ram region_add [ram] 0x0 - 0xfff [0x7f00]\n",
     TRUE, 0, 1, 0, TRUE},
};

static void
test_dma(gconstpointer data)
{
    const DmaCase *c = data;
    g_autoptr(FpProfileRun) run = fp_profile_run_new();

    fp_profile_count_dma(run, c->text, strlen(c->text));
    g_assert_cmpint(run->dma_visible, ==, c->visible);
    g_assert_cmpint(run->dma_map, ==, c->map);
    g_assert_cmpint(run->dma_unmap, ==, c->unmap);
    g_assert_cmpint(run->dma_remap, ==, c->remap);
    g_assert_cmpint(run->dma_ioctl, ==, c->ioctl);
}

static void
test_json_round_trip(void)
{
    g_autoptr(FpProfile) p = fp_profile_new("fast <&> \"cfg\"", "vm", "libvirt");
    g_autoptr(FpProfile) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("fp-profile-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "p.json", NULL);
    FpProfileRun *run = fp_profile_run_new();
    const FpProfileRun *r;
    json_object *j;

    for (guint i = 0; i < FP_PT_COUNT; i++)
        fp_profile_run_set(run, i, T0 + 1000 * (i + 1), fp_profile_point_name(i));
    run->kernel_line = g_strdup("Linux version 6.1");
    run->dma_visible = TRUE;
    run->dma_map = 5;
    run->dma_unmap = 2;
    run->dma_remap = 1;
    run->devices = json_tokener_parse("[{\"bdf\": \"0000:41:00.0\"}]");
    fp_profile_run_note(run, "a note");
    g_ptr_array_add(p->runs, run);

    j = fp_profile_to_json(p);
    g_assert_true(g_file_set_contents(path, json_object_to_json_string(j), -1, NULL));
    json_object_put(j);
    back = fp_profile_load_file(path, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(back->label, ==, p->label);
    g_assert_cmpuint(back->runs->len, ==, 1);
    r = g_ptr_array_index(back->runs, 0);
    for (guint i = 0; i < FP_PT_COUNT; i++) {
        g_assert_cmpint(r->at[i], ==, run->at[i]);
        g_assert_cmpstr(r->source[i], ==, run->source[i]);
    }
    g_assert_cmpstr(r->kernel_line, ==, "Linux version 6.1");
    g_assert_true(r->dma_visible);
    g_assert_cmpint(r->dma_map, ==, 5);
    g_assert_cmpint(r->dma_unmap, ==, 2);
    g_assert_cmpint(r->dma_remap, ==, 1);
    g_assert_nonnull(r->devices);
    g_assert_cmpuint(r->notes->len, ==, 1);
    g_unlink(path);
    g_rmdir(dir);
}

typedef struct {
    const char *name;
    const char *text;
    const char *message; /* a part of the error */
} BadJsonCase;

static const BadJsonCase bad_json_cases[] = {
    {"not-json", "{\"fastpass_profile\": 1, ", "not JSON"},
    {"not-a-profile", "{\"runs\": []}", "not a fastpass profile"},
    {"newer-format", "{\"fastpass_profile\": 99, \"runs\": []}", "format 99"},
    {"runs-not-array", "{\"fastpass_profile\": 1, \"runs\": 3}", "not an array"},
    {"point-not-integer",
     "{\"fastpass_profile\": 1, \"runs\": [{\"points_us\": {\"kernel_line\": \"x\"}}]}",
     "not a positive integer"},
    {"run-without-points", "{\"fastpass_profile\": 1, \"runs\": [{}]}", "no \"points_us\""},
};

static void
test_bad_json(gconstpointer data)
{
    const BadJsonCase *c = data;
    g_autofree char *dir = g_dir_make_tmp("fp-profile-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "p.json", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(FpProfile) p = NULL;

    g_assert_true(g_file_set_contents(path, c->text, -1, NULL));
    p = fp_profile_load_file(path, &error);
    g_assert_null(p);
    g_assert_nonnull(error);
    if (!strstr(error->message, c->message))
        g_error("error \"%s\" lacks \"%s\"", error->message, c->message);
    g_unlink(path);
    g_rmdir(dir);
}

#define ADD_CASES(prefix, cases, fn)                                                               \
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {                                              \
        g_autofree char *path = g_strdup_printf("%s/%s", prefix, cases[i].name);                   \
        g_test_add_data_func(path, &cases[i], fn);                                                 \
    }

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD_CASES("/profile/timeline", timeline_cases, test_timeline);
    ADD_CASES("/profile/release", release_cases, test_release);
    ADD_CASES("/profile/domain-log", log_cases, test_log);
    ADD_CASES("/profile/qemu-signal", signal_cases, test_signal);
    ADD_CASES("/profile/proc-stat", proc_cases, test_proc);
    ADD_CASES("/profile/dma", dma_cases, test_dma);
    ADD_CASES("/profile/json/refused", bad_json_cases, test_bad_json);
    g_test_add_func("/profile/proc-stat/this-process", test_proc_self);
    g_test_add_func("/profile/json/round-trip", test_json_round_trip);
    return g_test_run();
}
