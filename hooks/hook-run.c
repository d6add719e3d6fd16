/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The libvirt hook's work, loaded by the hook binary (fastpass-hook.c) only for the operations
 * that have any: prepare begin, start begin (a pool slot into the domain's AppArmor profile),
 * release end, migrate/restore begin. Thin: it reads its inputs, sets up logging and a deadline,
 * and calls lib/hook.c. */
#include "config.h"
#include "domain.h"
#include "error.h"
#include "hook.h"
#include "hook-run.h"
#include "safedir.h"
#include "xml.h"

#include <fcntl.h>
#include <libxml/parser.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const unsigned fp_hook_abi = FP_HOOK_ABI;

typedef struct {
    const char *domain;
    GLogLevelFlags min_level;
    GPtrArray *held; /* lines for stderr, written only when the hook succeeds */
    FILE *file;
    gboolean journal;
} Logger;

static void
log_line(GLogLevelFlags level, const char *message, gpointer user)
{
    Logger *lg = user;
    g_autofree char *line = NULL;

    if (level > lg->min_level)
        return;
    line = g_strdup_printf("fastpass[%s]: %s", lg->domain, message);
    g_strdelimit(line, "\n", ' ');
    if (lg->file) {
        g_autoptr(GDateTime) now = g_date_time_new_now_local();
        g_autofree char *ts = g_date_time_format(now, "%F %T.%f");

        fprintf(lg->file, "%.23s %s\n", ts, line);
        fflush(lg->file);
    }
    if (lg->journal) {
        const GLogField fields[] = {
            {"MESSAGE", line, -1},
            {"PRIORITY", level <= G_LOG_LEVEL_WARNING ? "4" : "6", -1},
            {"SYSLOG_IDENTIFIER", "fastpass-hook", -1},
            {"FASTPASS_DOMAIN", lg->domain, -1},
        };
        if (g_log_writer_journald(level, fields, G_N_ELEMENTS(fields), NULL) ==
            G_LOG_WRITER_HANDLED)
            return;
    }
    /* libvirt shows a failing hook's stderr to the user: hold lines back until we know. */
    g_ptr_array_add(lg->held, g_steal_pointer(&line));
}

static void
on_deadline(int sig)
{
    static const char msg[] =
        "fastpass: hook deadline exceeded; refusing rather than holding libvirtd\n";

    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(1);
}

static int
finish(Logger *lg, int rc, const char *error)
{
    if (rc == 0) {
        for (guint i = 0; i < lg->held->len; i++)
            fprintf(stderr, "%s\n", (const char *)g_ptr_array_index(lg->held, i));
    } else if (error) {
        fprintf(stderr, "fastpass: %s\n", error);
    }
    g_ptr_array_unref(lg->held);
    if (lg->file)
        fclose(lg->file);
    return rc;
}

int
fp_hook_run(FpHookOp op, int argc, char **argv)
{
    gboolean prepare = op == FP_HOOK_PREPARE, release = op == FP_HOOK_RELEASE,
             rewrite = op == FP_HOOK_REWRITE;
    gboolean start = op == FP_HOOK_START;
    const char *config_path =
        g_getenv("FASTPASS_CONFIG") ? g_getenv("FASTPASS_CONFIG") : FP_CONFIG_DEFAULT_PATH;
    g_autoptr(FpConfig) config = fp_config_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(FpDomain) dom = NULL;
    g_autofree char *xml = NULL;
    Logger lg = {.domain = argc > 1 ? argv[1] : "?", .min_level = G_LOG_LEVEL_INFO};
    FpHookCtx ctx = {.config = config, .config_ok = TRUE, .log = log_line, .log_user = &lg};
    gboolean exists;
    gsize len;

    if (!prepare && !release && !rewrite && !start)
        return 0;

    lg.held = g_ptr_array_new_with_free_func(g_free);
    lg.journal = g_file_test("/run/systemd/journal/socket", G_FILE_TEST_EXISTS);
    if (!fp_config_load(config, config_path, &exists, &error)) {
        ctx.config_ok = FALSE;
        log_line(G_LOG_LEVEL_WARNING, error->message, &lg);
        log_line(G_LOG_LEVEL_WARNING, "using built-in defaults; optional speed-ups off", &lg);
        g_clear_error(&error);
    }
    if (!g_strcmp0(config->log_level, "debug"))
        lg.min_level = G_LOG_LEVEL_DEBUG;
    else if (!g_strcmp0(config->log_level, "warning"))
        lg.min_level = G_LOG_LEVEL_WARNING;
    if (config->log_file) {
        /* Never through a symlink or into someone else's file: the log may sit where others write.
         */
        int fd = fp_safedir_open_append(config->log_file, 0640, &error);

        lg.file = fd >= 0 ? fdopen(fd, "a") : NULL;
        if (fd < 0) {
            log_line(G_LOG_LEVEL_WARNING, error->message, &lg);
            g_clear_error(&error);
        }
    }
    ctx.deadline = g_get_monotonic_time() + (gint64)config->hook_deadline_ms * 1000;
    /* A safety net behind the per-device deadlines: never hold libvirtd past the deadline. */
    signal(SIGALRM, on_deadline);
    alarm(config->hook_deadline_ms / 1000 + 2);

    xml = fp_xml_read_file("-", &len, &error);
    if (!xml) {
        log_line(G_LOG_LEVEL_WARNING, error->message, &lg);
        return finish(&lg, 0, NULL);
    }
    xmlInitParser();
    if (rewrite) {
        gsize out_len;
        g_autofree char *out = fp_hook_rewrite_xml(&ctx, xml, len, &out_len);

        /* libvirt reads stdout as the domain XML here. */
        fwrite(out, 1, out_len, stdout);
        fflush(stdout);
        return finish(&lg, 0, NULL);
    }
    if (!(dom = fp_domain_load_memory(xml, len, "domain XML", &error))) {
        if (prepare && g_error_matches(error, FP_ERROR, FP_ERROR_INPUT) &&
            strstr(error->message, "fastpass:device"))
            return finish(&lg, 1, error->message);
        log_line(G_LOG_LEVEL_WARNING, error->message, &lg);
        return finish(&lg, 0, NULL);
    }
    if (prepare && !fp_hook_prepare(&ctx, dom, &error))
        return finish(&lg, 1, error->message);
    if (start)
        fp_hook_start(&ctx, dom, xml, len);
    if (release && !fp_hook_release(&ctx, dom, &error))
        log_line(G_LOG_LEVEL_WARNING, error->message, &lg);
    return finish(&lg, 0, NULL);
}
