/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The creation-time profiler's data (DESIGN.md's definitions): the moments one start was seen
 * at, the phases between them, statistics over repeated starts, their JSON, and the pure parts
 * of measuring (timeline files, console scanning, trace counting). Measuring through libvirt is
 * in profile-virt.h (a separate library: the hook never links libvirt); running QEMU directly
 * in profile-direct.c; the chart in waterfall.h. */
#pragma once

#include "firmware.h"

#include <glib.h>
#include <json-c/json.h>
#include <libxml/tree.h>
#include <signal.h>

/* Moments of one start, in the order they happen. */
typedef enum {
    FP_PT_START_CALL,    /* the profiler asked for the start (virDomainCreate*, or fork) */
    FP_PT_HOOK_BEGIN,    /* the hook's prepare begin */
    FP_PT_DEVICES_BEGIN, /* the hook starts preparing devices */
    FP_PT_DEVICES_END,   /* ... and has prepared them all */
    FP_PT_HOOK_END,      /* the hook returns to libvirt (hugepages reserved) */
    FP_PT_QEMU_EXEC,     /* QEMU process exec: creation time starts here */
    FP_PT_REAL_EXEC,     /* the wrapper execs the real QEMU */
    FP_PT_QMP_READY,     /* QMP greeting under -S: machine built, guest memory allocated */
    FP_PT_INIT_END,      /* QEMU ready to run the guest: = vCPU start unless held paused */
    FP_PT_VCPU_START,    /* vCPUs start running: init time ends, BIOS time starts */
    FP_PT_KERNEL_LINE,   /* "Linux version" on the serial console: creation time ends */
    /* The stop that follows (the profiler's destroy, or one the timelines recorded): */
    FP_PT_STOP_CALL,             /* the stop was asked for (virDomainDestroy: SIGTERM to QEMU) */
    FP_PT_QEMU_SIGNALED,         /* QEMU's main loop took the signal ("terminating on signal") */
    FP_PT_QEMU_GONE,             /* QEMU's process has exited (its vfio devices closed) */
    FP_PT_RELEASE_BEGIN,         /* the hook's release end starts */
    FP_PT_RELEASE_DEVICES_BEGIN, /* the hook starts releasing devices */
    FP_PT_RELEASE_DEVICES_END,   /* ... and has released them all */
    FP_PT_RELEASE_END,           /* the hook returns to libvirt */
    FP_PT_STOP_RETURNED,         /* libvirt says the stop is done (virDomainDestroy returned) */
    FP_PT_COUNT
} FpPoint;

typedef struct {
    gint64 at[FP_PT_COUNT];    /* CLOCK_REALTIME microseconds; 0: not seen */
    char *source[FP_PT_COUNT]; /* how it was measured ("wrapper-timeline", "qmp-resume", ...) */
    char *kernel_line;         /* the guest's first kernel line, as printed */
    json_object *devices;      /* the hook's per-device report ("devices" array), or NULL */
    gboolean dma_visible;      /* VFIO DMA map/unmap counts below are real */
    gint64 dma_map, dma_unmap;
    gint64 dma_remap;       /* maps of an IOVA range this start had mapped before */
    gboolean dma_ioctl;     /* counted from QEMU's ioctl events, not its listener's */
    GPtrArray *notes;       /* char*: what could not be measured, and why */
    FpFirmware *firmware;   /* what this start booted; NULL: not known */
    GArray *firmware_marks; /* FpFirmwareMark, in time order: what the firmware asked QEMU for */
} FpProfileRun;

/* A moment of the firmware's boot seen from outside it (QEMU's fw_cfg trace): Debian's OVMF is
 * a release build whose debug port stays silent, so its phases are inferred from the fw_cfg
 * keys its modules read (lib/profile-firmware.c). */
typedef struct {
    const char *id, *label; /* static */
    gint64 at_us;           /* CLOCK_REALTIME microseconds, from QEMU's trace timestamps */
} FpFirmwareMark;

FpProfileRun *fp_profile_run_new(void);
void fp_profile_run_free(FpProfileRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpProfileRun, fp_profile_run_free)
void fp_profile_run_set(FpProfileRun *run, FpPoint pt, gint64 us, const char *source);
void fp_profile_run_note(FpProfileRun *run, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
const char *fp_profile_point_name(FpPoint pt);

/* Init, BIOS and creation time in microseconds. FALSE when a point they need is missing. A
 * pause the profiler held between INIT_END and VCPU_START (to attach a console) is in neither:
 * creation = init + BIOS always. */
gboolean fp_profile_run_times(const FpProfileRun *run, gint64 *init_us, gint64 *bios_us,
                              gint64 *creation_us);

/* Phases: consecutive intervals between the points a run has. */
typedef struct {
    const char *id;    /* "devices", "init", "bios", ... (static) */
    const char *label; /* for people (static) */
    gboolean creation; /* inside creation time (after QEMU exec) */
    gboolean stop;     /* part of the stop after the start (from FP_PT_STOP_CALL on) */
    gint64 start_us, end_us;
} FpPhase;

/* The phase catalogue, start phases then stop phases, each in time order; ids are stable (JSON,
 * chart colours). */
typedef struct {
    const char *id, *label;
    gboolean creation;
    gboolean stop;
} FpPhaseInfo;
const FpPhaseInfo *fp_profile_phase_catalogue(guint *n);
/* RUN's phases (FpPhase) in order; ones that do not end after they start are dropped. */
GArray *fp_profile_run_phases(const FpProfileRun *run);

/* Median, min and max. */
typedef struct {
    double median, min, max;
    guint n;
} FpStats;
/* FALSE (and zeros) when N is 0. The median of an even count is the mean of the middle two. */
gboolean fp_stats_compute(const double *values, guint n, FpStats *out);

/* A profile: one configuration started one or more times. */
typedef struct {
    char *label;     /* the configuration's name in charts */
    char *domain;    /* the domain's name */
    char *mode;      /* "libvirt" or "direct" */
    GPtrArray *runs; /* FpProfileRun* */
} FpProfile;

FpProfile *fp_profile_new(const char *label, const char *domain, const char *mode);
void fp_profile_free(FpProfile *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpProfile, fp_profile_free)

typedef struct {
    const char *id, *label;
    gboolean creation, stop;
    FpStats ms;
} FpPhaseStats;

typedef struct {
    FpStats init_ms, bios_ms, creation_ms, total_ms; /* total: start call -> kernel line */
    FpStats stop_ms;           /* the stop: stop call -> stop returned (with both points only) */
    GArray *phases;            /* FpPhaseStats, catalogue order, only phases some run has */
    gint64 dma_map, dma_unmap; /* medians over runs where visible; -1 when none is */
    gint64 dma_remap;          /* median of the redundant maps; -1 when not visible */
    gboolean dma_ioctl;        /* every visible run counted QEMU's ioctl events */
} FpProfileSummary;

FpProfileSummary *fp_profile_summarize(const FpProfile *p);
void fp_profile_summary_free(FpProfileSummary *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpProfileSummary, fp_profile_summary_free)

/* JSON: {"fastpass_profile": 1, "label", "domain", "mode", "runs": [...], "summary": {...}};
 * each run holds its points (absolute microseconds), sources, init/bios/creation ms and phases
 * (ms from the start call). Reading takes the points only and derives the rest again. */
json_object *fp_profile_to_json(const FpProfile *p);
FpProfile *fp_profile_from_json(json_object *j, const char *origin, GError **error);
FpProfile *fp_profile_load_file(const char *path, GError **error);

/* Human-readable report: one line per run, then median/min/max of each time and phase. */
char *fp_profile_format_text(const FpProfile *p);

/* --- timelines (lib/timeline.h's files) --- */

/* Fills the hook's points (and per-device report) and the wrapper's exec points of RUN from
 * $RUN_DIR/timeline/KEY.{hook,qemu}.json, taking only events at or after NOT_BEFORE_US (older
 * ones are from an earlier start). A missing, unreadable or stale file sets no point and adds
 * a note; it is not an error. */
void fp_profile_read_timelines(FpProfileRun *run, const char *run_dir, const char *uuid,
                               const char *name, gint64 not_before_us);
/* The hook's release points (FP_PT_RELEASE_*) of the stop at or after NOT_BEFORE_US, from the
 * hook's timeline: its "hook-release-begin" and "hook-release" events. A release that began and
 * has no end (the hook killed, or its deadline passed), or whose times are out of order, sets no
 * end point and adds one note saying which; never a figure made up. */
void fp_profile_read_release(FpProfileRun *run, const char *run_dir, const char *uuid,
                             const char *name, gint64 not_before_us);
/* The wrapper's exec points from the domain's log TEXT (this start's part) when it could not
 * write its timeline file (FP_TIMELINE_LOG_MARK lines). TRUE when one was found and taken. */
gboolean fp_profile_qemu_exec_from_log(FpProfileRun *run, const char *text, gsize len,
                                       gint64 not_before_us);

/* When QEMU's main loop took the stop's signal: the last "terminating on signal" line of the
 * domain's log TEXT (this start's part) with the timestamp libvirt's -msg timestamp=on puts in
 * front ("2026-12-03T18:40:01.123456Z qemu-system-x86_64: terminating on signal 15 from pid
 * ..."), as FP_PT_QEMU_SIGNALED when at or after NOT_BEFORE_US (the stop call). TRUE when taken. */
gboolean fp_profile_qemu_signal_from_log(FpProfileRun *run, const char *text, gsize len,
                                         gint64 not_before_us);

/* --- serial console --- */

#define FP_KERNEL_LINE_MARK "Linux version"

/* Finds a marker in a byte stream fed in arbitrary pieces (a read may end inside it). */
typedef struct FpConsoleScan FpConsoleScan;
FpConsoleScan *fp_console_scan_new(const char *marker);
void fp_console_scan_free(FpConsoleScan *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpConsoleScan, fp_console_scan_free)
/* TRUE from the call whose bytes complete the marker on. */
gboolean fp_console_scan_feed(FpConsoleScan *s, const char *buf, gsize len);
gboolean fp_console_scan_found(const FpConsoleScan *s);
/* The line from the marker on, as far as it has been fed (up to 200 bytes), or NULL. */
const char *fp_console_scan_line(const FpConsoleScan *s);
void fp_console_scan_reset(FpConsoleScan *s);

/* A console log file read as it is written. It may not exist yet, and QEMU may truncate or
 * replace it when it opens it: then reading starts again at its beginning. */
typedef struct FpConsoleFile FpConsoleFile;
FpConsoleFile *fp_console_file_new(const char *path);
void fp_console_file_free(FpConsoleFile *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpConsoleFile, fp_console_file_free)
/* Feeds what was written since the last call to SCAN (reset on truncation). */
void fp_console_file_poll(FpConsoleFile *f, FpConsoleScan *scan);
/* Polls every 2 ms until SCAN finds its marker (TRUE, *FOUND_US its CLOCK_REALTIME time),
 * DEADLINE_US (CLOCK_REALTIME) passes, *CANCEL becomes non-zero, or ALIVE (when non-NULL)
 * returns FALSE (the guest is gone). */
gboolean fp_console_file_wait(FpConsoleFile *f, FpConsoleScan *scan, gint64 deadline_us,
                              volatile sig_atomic_t *cancel, gboolean (*alive)(void *user),
                              void *user, gint64 *found_us);

/* --- a process's start time, when no wrapper recorded QEMU's exec --- */

/* Field 22 (starttime, clock ticks since boot) of a /proc/PID/stat text; the command name in
 * parentheses may hold spaces and ')'. */
gboolean fp_profile_parse_proc_starttime(const char *stat_text, guint64 *ticks);
/* The CLOCK_REALTIME microseconds PID started at, read from PROC_ROOT/PID/stat (resolution: a
 * clock tick, 10 ms). It is the fork, a little before the exec. */
gboolean fp_profile_proc_start_us(const char *proc_root, gint64 pid, gint64 *us, GError **error);

/* Where a domain's first serial console can be read. */
typedef enum {
    FP_CONSOLE_NONE,
    FP_CONSOLE_FILE, /* <serial type='file'><source path=.../>, or any serial's <log file=.../> */
    FP_CONSOLE_PTY,  /* a pty (or other stream) reachable only through virDomainOpenConsole */
} FpConsoleKind;
/* DOC is a parsed libvirt domain XML; *PATH the file for FP_CONSOLE_FILE. */
FpConsoleKind fp_profile_console_of(xmlDoc *doc, char **path);

/* --- VFIO DMA map/unmap from QEMU trace events ("log" backend) --- */

/* What to pass QEMU: "-trace" "enable=NAME" for each, NULL-terminated. fastpass's QEMU traces
 * each map and unmap ioctl (vfio_dma_map_ioctl, vfio_dma_unmap_ioctl; Debian's QEMU warns that
 * they do not exist and runs on). QEMU 7.2 has no such trace point: there each
 * vfio_listener_region_add_ram is one map of a RAM section, each vfio_listener_region_del one
 * unmap, each vfio_iommu_map_notify one map or unmap through a vIOMMU. vm_state_notify fires on
 * every start and proves the trace is visible. */
extern const char *const fp_profile_dma_trace_events[];
/* Counts trace lines in TEXT into RUN (sets dma_visible when the sentinel or an event shows);
 * a map of an IOVA range TEXT mapped before counts as redundant too (dma_remap). With any ioctl
 * event in TEXT only those are counted (dma_ioctl), else the listener's. */
void fp_profile_count_dma(FpProfileRun *run, const char *text, gsize len);

/* --- firmware milestones from QEMU's fw_cfg trace (-msg timestamp=on) --- */

/* What to trace: "fw_cfg_select" (each key the firmware reads) and "fw_cfg_add_file" (the
 * names of the file keys, written at machine build). NULL-terminated. */
extern const char *const fp_profile_firmware_trace_events[];
/* The catalogue of marks (id, label), in boot order. */
const FpFirmwareMark *fp_profile_firmware_mark_catalogue(guint *n);
/* Fills RUN->firmware_marks from timestamped trace TEXT: the first of each mark after the
 * vCPUs started (the trace's first "vm_state_notify running 1"). Lines without timestamps
 * say nothing and are skipped. */
void fp_profile_firmware_marks(FpProfileRun *run, const char *text, gsize len);

/* --- --direct: QEMU without libvirt --- */

typedef struct {
    const char *qemu;         /* the QEMU binary (NULL: qemu-system-x86_64) */
    const char *firmware_dir; /* QEMU firmware descriptors (NULL: FP_FIRMWARE_DESCRIPTOR_DIR) */
    xmlDoc *domain;           /* the QEMU command line is derived from this domain XML, or */
    char **argv;              /* this explicit command line (argv[0] the binary) is used */
    const char *console_path; /* with ARGV: the serial log file it writes; NULL: -serial is added */
    const char *work_dir;     /* console, trace and stderr files */
    guint timeout_s;          /* for the kernel line */
    volatile sig_atomic_t *cancel;
} FpDirectOptions;

/* The QEMU command line for a domain XML: machine, memory (hugepages, immediate allocation),
 * vCPUs, the firmware FW (fp_firmware_of_domain with FP_FIRMWARE_RUN: a UEFI image as read-only
 * pflash unit 0, VARS, a writable copy of its variables store, as unit 1; SMM and secure pflash
 * when it needs them), direct kernel boot, boot menu, PCI hostdevs as vfio-pci; serial to
 * CONSOLE. Refuses a domain without <kernel> (disks are not modelled). The profiler's
 * -S/-qmp/-trace are not in. */
char **fp_profile_direct_argv(xmlDoc *domain, const FpFirmware *fw, const char *qemu,
                              const char *console, const char *vars, GError **error);
/* Runs QEMU once with -S -qmp stdio and the DMA trace events, continues it, waits for the kernel
 * line, quits it. The returned run has the points it saw (notes say what it did not) and the
 * firmware it booted. A firmware it cannot boot as the domain names it fails with
 * FP_ERROR_INPUT before anything is started or written. A UEFI variables store is copied to
 * WORK_DIR/FP_DIRECT_VARS_FILE for the start (the domain's own nvram file is never written). */
#define FP_DIRECT_VARS_FILE "firmware-vars.fd"
FpProfileRun *fp_profile_direct_run(const FpDirectOptions *o, GError **error);

/* --- the waterfall chart (lib/waterfall.c) --- */

/* An SVG chart with one row per profile: its phases' medians stacked from the start call on,
 * a colour per phase with a legend, a time axis in seconds, the creation time bracketed and
 * written at the end of each row. The profiles' JSON is kept in the chart's <metadata>, so a
 * row can be added to it later (fp_waterfall_load). */
char *fp_waterfall_svg(FpProfile *const *profiles, guint n, const char *title);
/* The profiles (FpProfile*) kept in a chart fp_waterfall_svg wrote, and its title (NULL: none). */
GPtrArray *fp_waterfall_load(const char *path, char **title, GError **error);
