/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fastpass profile: start a domain (through libvirt, or QEMU directly) and measure its creation
 * time as DESIGN.md defines it; fastpass profile-chart: a waterfall of saved profiles. */
#include "cli.h"

#include "config.h"
#include "error.h"
#include "profile-virt.h"
#include "profile.h"
#include "xml.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
    interrupted = 1;
}

static void
catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static void
progress(const char *msg, void *user)
{
    fprintf(stderr, "fastpass profile: %s\n", msg);
}

static gboolean
write_text(const char *path, const char *text, GError **error)
{
    if (!strcmp(path, "-")) {
        fputs(text, stdout);
        return TRUE;
    }
    return g_file_set_contents(path, text, -1, error);
}

/* Writes the chart of PROFILES to PATH; with APPEND, after the rows already in PATH (a row of
 * the same label is replaced). */
static gboolean
write_chart(const char *path, gboolean append, const char *title, FpProfile *const *profiles,
            guint n, GError **error)
{
    g_autoptr(GPtrArray) rows = NULL;
    g_autofree char *svg = NULL, *old_title = NULL;

    if (append && g_file_test(path, G_FILE_TEST_EXISTS)) {
        if (!(rows = fp_waterfall_load(path, &old_title, error)))
            return FALSE;
    } else {
        rows = g_ptr_array_new_with_free_func((GDestroyNotify)fp_profile_free);
    }
    for (guint i = 0; i < n; i++) {
        for (guint r = 0; r < rows->len; r++) {
            if (!g_strcmp0(((FpProfile *)g_ptr_array_index(rows, r))->label, profiles[i]->label)) {
                g_ptr_array_remove_index(rows, r);
                break;
            }
        }
    }
    /* The caller's profiles are borrowed: added after the owned rows, without a free func. */
    {
        g_autoptr(GPtrArray) all = g_ptr_array_new();

        for (guint r = 0; r < rows->len; r++)
            g_ptr_array_add(all, g_ptr_array_index(rows, r));
        for (guint i = 0; i < n; i++)
            g_ptr_array_add(all, profiles[i]);
        svg = fp_waterfall_svg((FpProfile *const *)all->pdata, all->len, title ? title : old_title);
    }
    return write_text(path, svg, error);
}

/* QEMU run directly, REPEAT times, each in a fresh work directory. */
static FpProfile *
profile_direct(const char *target, char **qemu_argv, const char *qemu, const char *console,
               guint repeat, guint timeout_s, const char *label, GError **error)
{
    g_autoptr(FpProfile) p = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(FpFirmware) fw = NULL;
    g_autofree char *name = NULL;

    if (target) {
        g_autofree char *xml = NULL;
        gsize len;

        if (!(xml = fp_xml_read_file(target, &len, error)) ||
            !(doc = fp_xml_parse(xml, len, error)))
            return NULL;
        name = fp_xml_text(fp_xml_child(xmlDocGetRootElement(doc), "name"));
        /* A firmware it cannot boot as the domain names it is refused before any start: a
         * profile of another firmware would be a wrong measurement given as a right one. */
        if (!(fw = fp_firmware_of_domain(doc, NULL, FP_FIRMWARE_RUN, error)))
            return NULL;
    } else {
        name = g_path_get_basename(qemu_argv[0]);
    }
    p = fp_profile_new(label ? label : name, name, "direct");
    for (guint i = 0; i < repeat; i++) {
        g_autofree char *work = g_dir_make_tmp("fastpass-profile-XXXXXX", error);
        FpDirectOptions o = {
            .qemu = qemu,
            .domain = doc,
            .argv = qemu_argv,
            .console_path = console,
            .work_dir = work,
            .timeout_s = timeout_s,
            .cancel = &interrupted,
        };
        FpProfileRun *run;
        gint64 c;

        if (!work)
            return NULL;
        fprintf(stderr, "fastpass profile: start %u/%u of %s (QEMU directly)\n", i + 1, repeat,
                name);
        run = fp_profile_direct_run(&o, error);
        for (const char *f = "console.log\0qemu-trace.log\0qemu-stderr.log\0" FP_DIRECT_VARS_FILE
                             "\0";
             *f; f += strlen(f) + 1) {
            g_autofree char *path = g_build_filename(work, f, NULL);

            g_unlink(path);
        }
        g_rmdir(work);
        if (!run)
            return NULL;
        g_ptr_array_add(p->runs, run);
        if (fp_profile_run_times(run, NULL, NULL, &c))
            fprintf(stderr, "fastpass profile: start %u/%u: creation %.3f s\n", i + 1, repeat,
                    c / 1e6);
    }
    return g_steal_pointer(&p);
}

/* What the hook and the wrapper recorded of DOMAIN's last start and stop under RUN_DIR, nothing
 * started: DOMAIN is the timeline's key, the domain's UUID (every libvirt domain has one), or a
 * name for a domain without one. */
static FpProfile *
profile_recorded(const char *domain, const char *run_dir, const char *label)
{
    gboolean is_uuid = g_uuid_string_is_valid(domain);
    FpProfile *p = fp_profile_new(label ? label : domain, domain, "recorded");
    FpProfileRun *run = fp_profile_run_new();

    fp_profile_read_timelines(run, run_dir, is_uuid ? domain : NULL, is_uuid ? NULL : domain, 0);
    /* The stop after that start: a release older than the start's prepare was another's. */
    fp_profile_read_release(run, run_dir, is_uuid ? domain : NULL, is_uuid ? NULL : domain,
                            run->at[FP_PT_HOOK_BEGIN]);
    g_ptr_array_add(p->runs, run);
    return p;
}

/* A named domain, or a file holding domain XML. */
static gboolean
looks_like_file(const char *arg)
{
    return g_file_test(arg, G_FILE_TEST_IS_REGULAR) || g_str_has_suffix(arg, ".xml") ||
           strchr(arg, '/');
}

/* --between: a failing command stops the profile (its starts would not compare). */
static gboolean
run_between(void *user, GError **error)
{
    const char *argv[] = {"/bin/sh", "-c", user, NULL};
    int status;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL, NULL,
                      NULL, &status, error))
        return FALSE;
    if (!g_spawn_check_wait_status(status, error)) {
        g_prefix_error(error, "--between '%s': ", (const char *)user);
        return FALSE;
    }
    return TRUE;
}

int
fp_cmd_profile(int argc, char **argv)
{
    gint repeat = 1, timeout_s = 120;
    gboolean json = FALSE, direct = FALSE, append = FALSE, trace_dma = FALSE, trace_fw = FALSE,
             recorded = FALSE;
    g_autofree char *svg = NULL, *label = NULL, *uri = NULL, *config_path = NULL, *run_dir = NULL;
    g_autofree char *qemu = NULL, *console = NULL, *title = NULL, *json_file = NULL,
                    *between = NULL;
    GOptionEntry entries[] = {
        {"between", 0, 0, G_OPTION_ARG_STRING, &between,
         "Run this shell command between two starts (e.g. \"fastpass pool scrub\")", "CMD"},
        {"repeat", 'r', 0, G_OPTION_ARG_INT, &repeat,
         "Start the domain N times (destroyed after each); report median, min, max", "N"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json,
         "Print every point and phase as JSON on stdout (progress stays on stderr)", NULL},
        {"json-file", 0, 0, G_OPTION_ARG_FILENAME, &json_file, "Also write the JSON to FILE",
         "FILE"},
        {"svg", 0, 0, G_OPTION_ARG_FILENAME, &svg, "Write a waterfall chart of the phases to FILE",
         "FILE"},
        {"append", 0, 0, G_OPTION_ARG_NONE, &append,
         "With --svg: add a row to the chart in FILE (same label: replaced)", NULL},
        {"title", 0, 0, G_OPTION_ARG_STRING, &title, "The chart's title", "TEXT"},
        {"label", 'l', 0, G_OPTION_ARG_STRING, &label,
         "Name of this configuration in charts and JSON (default: the domain's name)", "TEXT"},
        {"connect", 'c', 0, G_OPTION_ARG_STRING, &uri, "libvirt URI (default qemu:///system)",
         "URI"},
        {"timeout", 't', 0, G_OPTION_ARG_INT, &timeout_s,
         "Seconds to wait for each start's first kernel line (default 120)", "S"},
        {"config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
         "fastpass configuration naming run_dir (default $FASTPASS_CONFIG, "
         "else " FP_CONFIG_DEFAULT_PATH ")",
         "FILE"},
        {"run-dir", 0, 0, G_OPTION_ARG_FILENAME, &run_dir,
         "Read the hook's and wrapper's timelines under DIR (overrides the configuration)", "DIR"},
        {"trace-dma", 0, 0, G_OPTION_ARG_NONE, &trace_dma,
         "Count VFIO DMA map/unmap: start the domain with QEMU trace events (<qemu:commandline>, "
         "transient)",
         NULL},
        {"trace-firmware", 0, 0, G_OPTION_ARG_NONE, &trace_fw,
         "The firmware's milestones: start the domain with QEMU's fw_cfg trace events "
         "(<qemu:commandline>, transient; always on with --direct)",
         NULL},
        {"recorded", 0, 0, G_OPTION_ARG_NONE, &recorded,
         "Start nothing: report DOMAIN's last start and stop as the hook and the wrapper "
         "recorded them (DOMAIN: its UUID, the timelines' key)",
         NULL},
        {"direct", 0, 0, G_OPTION_ARG_NONE, &direct,
         "Run QEMU directly, without libvirt, from the domain XML (or from the command line after "
         "--)",
         NULL},
        {"qemu", 0, 0, G_OPTION_ARG_FILENAME, &qemu,
         "With --direct: the QEMU binary (default qemu-system-x86_64)", "PATH"},
        {"console", 0, 0, G_OPTION_ARG_FILENAME, &console,
         "With --direct -- CMD: the serial log file CMD writes (default: -serial is added)",
         "FILE"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("DOMAIN-OR-XML  |  --direct [DOMAIN.xml | -- QEMU ARGS...]");
    g_autoptr(GError) error = NULL;
    g_autoptr(FpProfile) p = NULL;
    g_autoptr(FpConfig) config = NULL;
    g_autofree char *text = NULL;
    char **qemu_argv = NULL;
    int dashdash = -1, rc = FP_EXIT_OK;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(
        ctx, "Start a domain and measure its creation time: QEMU exec -> first guest kernel\n"
             "line (\"Linux version\" on the serial console) = init time (exec -> vCPUs run)\n"
             "+ BIOS time (vCPUs run -> kernel line).");
    g_option_context_set_description(
        ctx,
        "A DOMAIN-OR-XML naming a file is started transient (virDomainCreateXML); a name starts\n"
        "that defined domain. It must not be running; it is destroyed after each start and on "
        "Ctrl-C.\n"
        "Charts: `--svg FILE --append --label L` adds a row per configuration; `fastpass "
        "profile-chart`\n"
        "draws one from saved --json outputs.\n");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            dashdash = i;
            break;
        }
    }
    if (dashdash > 0) {
        qemu_argv = argv + dashdash + 1;
        argc = dashdash;
    }
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fp_cli_error("%s", error->message);
        return FP_EXIT_UNUSABLE;
    }
    if (repeat < 1 || repeat > 1000 || timeout_s < 1) {
        fp_cli_error("--repeat must be 1..1000 and --timeout positive");
        return FP_EXIT_UNUSABLE;
    }
    if ((argc != 2 && !qemu_argv) || (qemu_argv && (argc != 1 || !direct || !*qemu_argv))) {
        fp_cli_error("give one DOMAIN-OR-XML (or --direct -- QEMU ARGS...); see --help");
        return FP_EXIT_UNUSABLE;
    }
    if (recorded && (direct || qemu_argv || trace_dma || repeat != 1 || between)) {
        fp_cli_error("--recorded starts nothing: it takes no --direct, --trace-dma, --repeat or "
                     "--between");
        return FP_EXIT_UNUSABLE;
    }
    if (append && !svg) {
        fp_cli_error("--append needs --svg FILE");
        return FP_EXIT_UNUSABLE;
    }
    if (!(config = fp_cli_config(config_path, &error))) {
        fp_cli_error("%s", error->message);
        return FP_EXIT_UNUSABLE;
    }
    catch_signals();

    if (recorded) {
        p = profile_recorded(argv[1], run_dir ? run_dir : config->run_dir, label);
    } else if (direct) {
        if (!qemu_argv && !looks_like_file(argv[1])) {
            fp_cli_error("--direct needs a domain XML file or a QEMU command line after --");
            return FP_EXIT_UNUSABLE;
        }
        p = profile_direct(qemu_argv ? NULL : argv[1], qemu_argv, qemu, console, (guint)repeat,
                           (guint)timeout_s, label, &error);
    } else {
        FpVirtProfileOptions o = {
            .uri = uri,
            .target = argv[1],
            .is_xml = looks_like_file(argv[1]),
            .repeat = (guint)repeat,
            .timeout_s = (guint)timeout_s,
            .run_dir = run_dir ? run_dir : config->run_dir,
            .proc_root = config->proc_root,
            .trace_dma = trace_dma,
            .trace_firmware = trace_fw,
            .cancel = &interrupted,
            .progress = progress,
            .between = between ? run_between : NULL,
            .user = between,
        };

        p = fp_virt_profile(&o, label, &error);
    }
    if (!p) {
        fp_cli_error("%s", error->message);
        return interrupted ? 130 : FP_EXIT_UNUSABLE;
    }
    for (guint i = 0; i < p->runs->len; i++) {
        const FpProfileRun *run = g_ptr_array_index(p->runs, i);

        /* A recorded start has no kernel line (nobody read the console): what counts there is
         * whether its timelines told everything they should. */
        if (recorded ? run->notes->len > 0 : !fp_profile_run_times(run, NULL, NULL, NULL))
            rc = FP_EXIT_FINDINGS;
    }
    if (json || json_file) {
        json_object *j = fp_profile_to_json(p);
        g_autofree char *out =
            g_strconcat(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY), "\n", NULL);

        json_object_put(j);
        if (json)
            fputs(out, stdout);
        if (json_file && !write_text(json_file, out, &error)) {
            fp_cli_error("%s", error->message);
            return FP_EXIT_UNUSABLE;
        }
    }
    text = fp_profile_format_text(p);
    fputs(text, json ? stderr : stdout);
    if (svg) {
        if (!write_chart(svg, append, title, &p, 1, &error)) {
            fp_cli_error("%s", error->message);
            return FP_EXIT_UNUSABLE;
        }
        fprintf(stderr, "fastpass profile: chart written to %s\n", svg);
    }
    if (rc != FP_EXIT_OK && recorded) {
        const FpProfileRun *run = g_ptr_array_index(p->runs, 0);

        for (guint i = 0; i < run->notes->len; i++)
            fp_cli_warning("%s", (const char *)g_ptr_array_index(run->notes, i));
    } else if (rc != FP_EXIT_OK) {
        fp_cli_warning("some starts have no creation time (see the notes)");
    }
    return rc;
}

int
fp_cmd_profile_chart(int argc, char **argv)
{
    g_autofree char *out = NULL, *title = NULL;
    GOptionEntry entries[] = {
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Write the SVG to FILE (default: stdout)",
         "FILE"},
        {"title", 0, 0, G_OPTION_ARG_STRING, &title, "The chart's title", "TEXT"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("PROFILE.json|CHART.svg...");
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func((GDestroyNotify)fp_profile_free);

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(
        ctx, "A waterfall chart of profiles saved with `fastpass profile --json`, one row each,\n"
             "in the order given (rows of a chart written by fastpass are taken over).");
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fp_cli_error("%s", error->message);
        return FP_EXIT_UNUSABLE;
    }
    if (argc < 2) {
        fp_cli_error("give at least one profile (see --help)");
        return FP_EXIT_UNUSABLE;
    }
    for (int i = 1; i < argc; i++) {
        if (g_str_has_suffix(argv[i], ".svg")) {
            g_autoptr(GPtrArray) rows = fp_waterfall_load(argv[i], NULL, &error);

            if (!rows) {
                fp_cli_error("%s", error->message);
                return FP_EXIT_UNUSABLE;
            }
            while (rows->len)
                g_ptr_array_add(all, g_ptr_array_steal_index(rows, 0));
        } else {
            FpProfile *p = fp_profile_load_file(argv[i], &error);

            if (!p) {
                fp_cli_error("%s", error->message);
                return FP_EXIT_UNUSABLE;
            }
            g_ptr_array_add(all, p);
        }
    }
    {
        g_autofree char *svg = fp_waterfall_svg((FpProfile *const *)all->pdata, all->len, title);

        if (!write_text(out ? out : "-", svg, &error)) {
            fp_cli_error("%s", error->message);
            return FP_EXIT_UNUSABLE;
        }
    }
    return FP_EXIT_OK;
}
