/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fastpass pool: the pre-zeroed guest-memory pool (lib/pool.h) from the command line, and the
 * long-running `serve` that keeps it scrubbed and topped up. */
#define _GNU_SOURCE
#include "cli.h"

#include "error.h"
#include "hook.h"
#include "pool.h"
#include "units.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <pwd.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *dir, *sysfs_root, *proc_root, *size_text, *owner, *config, *user;
    gint64 reserve_pages;
    gint count, keep, node, interval, stale_after, threads;
    gboolean json, no_grow;
    guint64 size;
} PoolArgs;

static const struct {
    const char *name;
    const char *summary;
} subcommands[] = {
    {"status", "list the slots and the host's hugepages (--json)"},
    {"fill", "add --count clean slots of --size bytes [--node K]"},
    {"scrub", "zero every returned (dirty) slot and mark it clean"},
    {"drain", "remove every slot not claimed, giving its hugepages back"},
    {"serve", "keep --keep clean slots of --size, scrubbing returned ones, until SIGTERM"},
    {"claim",
     "claim a clean slot of --size for --owner UUID and print its path (what the hook does)"},
    {"release", "hand back the slots of --owner UUID as dirty (what the hook does)"},
    {"reclaim", "turn claims no process uses, older than --stale-after, dirty (serve does it too)"},
};

static void
usage(FILE *out)
{
    fprintf(out, "usage: fastpass pool SUBCOMMAND [OPTIONS...]\n\nsubcommands:\n");
    for (gsize i = 0; i < G_N_ELEMENTS(subcommands); i++)
        fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out, "\n`fastpass pool SUBCOMMAND --help` for its options.\n");
}

static void G_GNUC_PRINTF(1, 2) info(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "fastpass: pool: %s\n", msg);
    fflush(stderr);
}

/* "1G", "512MiB", "2048k", or bytes. */
static gboolean
parse_size(const char *text, guint64 *bytes, GError **error)
{
    g_autofree char *number = NULL;
    const char *unit = text;
    guint64 kib;

    while (g_ascii_isdigit(*unit))
        unit++;
    number = g_strndup(text, unit - text);
    if (!*number || !fp_units_to_kib(number, *unit ? unit : "b", &kib, NULL) || !kib ||
        kib > G_MAXUINT64 / 1024) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "--size '%s' is not a size (e.g. 1G, 512M, or bytes)", text);
        return FALSE;
    }
    *bytes = kib * 1024;
    return TRUE;
}

static int
exit_code(const GError *error)
{
    return g_error_matches(error, FP_ERROR, FP_ERROR_INPUT) || error->domain == G_OPTION_ERROR
               ? FP_EXIT_UNUSABLE
               : FP_EXIT_FINDINGS;
}

static FpPoolOptions
options(const PoolArgs *a)
{
    FpPoolOptions o = {
        .dir = a->dir,
        .sysfs_root = a->sysfs_root,
        .proc_root = a->proc_root,
        .reserve_pages = (guint64)a->reserve_pages,
        .no_grow = a->no_grow,
        .alloc_threads = (guint)a->threads,
    };
    return o;
}

static int
run_status(const PoolArgs *a, const FpConfig *config)
{
    FpPoolOptions o = options(a);
    g_autoptr(GError) error = NULL;
    g_autoptr(FpPoolStatus) st = fp_pool_status(&o, &error);

    if (!st) {
        fp_cli_error("%s", error->message);
        return exit_code(error);
    }
    /* What the hook decides at each start, from the same configuration. */
    st->refused = fp_hook_slots_refused(config);
    if (a->json) {
        g_autofree char *json = fp_pool_status_json(st);

        printf("%s\n", json);
        return FP_EXIT_OK;
    }
    {
        g_autofree char *human = fp_pool_size_text(st->total);

        printf("pool %s: %" G_GUINT64_FORMAT
               " KiB pages; %u clean, %u claimed, %u dirty, %u scrubbing (%u slots, %s)\n",
               st->dir, st->page_kib, st->counts[FP_SLOT_CLEAN], st->counts[FP_SLOT_CLAIMED],
               st->counts[FP_SLOT_DIRTY], st->counts[FP_SLOT_SCRUBBING], st->slots->len, human);
    }
    if (st->refused)
        printf("slots to domains: none: %s; QEMU allocates guest memory itself\n", st->refused);
    else
        printf("slots to domains: given to each domain its own AppArmor profile confines\n");
    if (st->have_pages)
        printf("host %" G_GUINT64_FORMAT " KiB hugepages: %" G_GUINT64_FORMAT
               " total, %" G_GUINT64_FORMAT " free, %" G_GUINT64_FORMAT
               " promised to mappings; reserve %" G_GUINT64_FORMAT "\n",
               st->page_kib, st->pages.nr, st->pages.free, st->pages.resv, st->reserve_pages);
    for (guint i = 0; i < st->slots->len; i++) {
        const FpSlot *s = g_ptr_array_index(st->slots, i);
        g_autofree char *human = fp_pool_size_text(s->size);
        g_autofree char *node =
            s->node >= 0 ? g_strdup_printf("node %d", s->node) : g_strdup("node ?");
        g_autofree char *user = fp_slot_use_text(s);
        g_autoptr(GPtrArray) parts = g_ptr_array_new_null_terminated(3, NULL, TRUE);
        g_autofree char *notes = NULL, *line = NULL;

        if (s->owner)
            g_ptr_array_add(parts, s->owner);
        if (user)
            g_ptr_array_add(parts, user);
        if (s->problem)
            g_ptr_array_add(parts, s->problem);
        notes = g_strjoinv("; ", (char **)parts->pdata);
        line = g_strdup_printf("  %-10s %-8s %10s  %-9s %s", s->id, node, human,
                               fp_slot_state_name(s->state), notes);
        printf("%s\n", g_strchomp(line));
    }
    return FP_EXIT_OK;
}

static int
run_fill(const PoolArgs *a)
{
    FpPoolOptions o = options(a);
    g_autoptr(GError) error = NULL;
    g_autofree char *human = fp_pool_size_text(a->size);

    if (!fp_pool_fill(&o, a->node, a->size, (guint)a->count, &error)) {
        fp_cli_error("%s", error->message);
        return exit_code(error);
    }
    printf("made %d %s slot%s in %s\n", a->count, human, a->count == 1 ? "" : "s", o.dir);
    return FP_EXIT_OK;
}

static int
run_scrub(const PoolArgs *a)
{
    FpPoolOptions o = options(a);
    g_autoptr(GError) error = NULL;
    guint n = 0, busy = 0;

    if (!fp_pool_scrub(&o, &n, &busy, &error)) {
        fp_cli_error("%s", error->message);
        return exit_code(error);
    }
    printf("scrubbed %u slot%s\n", n, n == 1 ? "" : "s");
    if (busy)
        printf("left %u dirty slot%s: still mapped or open by a process (scrubbed once free)\n",
               busy, busy == 1 ? "" : "s");
    return FP_EXIT_OK;
}

static int
run_reclaim(const PoolArgs *a)
{
    FpPoolOptions o = options(a);
    g_autoptr(GError) error = NULL;
    guint n = 0;

    if (!fp_pool_reclaim_stale(&o, (guint)a->stale_after, &n, &error)) {
        fp_cli_error("%s", error->message);
        return exit_code(error);
    }
    printf("reclaimed %u slot%s\n", n, n == 1 ? "" : "s");
    return FP_EXIT_OK;
}

static int
run_drain(const PoolArgs *a)
{
    FpPoolOptions o = options(a);
    g_autoptr(GError) error = NULL;

    if (!fp_pool_drain(&o, &error)) {
        fp_cli_error("%s", error->message);
        return exit_code(error);
    }
    printf("drained %s\n", o.dir);
    return FP_EXIT_OK;
}

static int
run_claim(const PoolArgs *a)
{
    FpPoolOptions o = options(a);
    g_autoptr(GError) error = NULL;
    g_autoptr(FpSlot) s = fp_pool_claim(&o, a->node, a->size, a->owner, &error);
    struct passwd *pw = NULL;

    if (!s) {
        fp_cli_error("%s", error->message);
        return exit_code(error);
    }
    if (a->user &&
        (!(pw = getpwnam(a->user)) || !fp_pool_give(&o, s, pw->pw_uid, pw->pw_gid, &error))) {
        g_autoptr(GError) back = NULL;

        fp_cli_error("cannot give %s to %s: %s", s->path, a->user,
                     error ? error->message : "no such user");
        fp_pool_release(&o, a->owner, &back); /* nothing half-done: the claim goes back dirty */
        return error ? exit_code(error) : FP_EXIT_UNUSABLE;
    }
    printf("%s\n", s->path);
    return FP_EXIT_OK;
}

static int
run_release(const PoolArgs *a)
{
    FpPoolOptions o = options(a);
    g_autoptr(GError) error = NULL;

    if (!fp_pool_release(&o, a->owner, &error)) {
        fp_cli_error("%s", error->message);
        return exit_code(error);
    }
    return FP_EXIT_OK;
}

static gboolean
stop_pending(gpointer data)
{
    sigset_t pending;

    return sigpending(&pending) == 0 &&
           (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1);
}

/* Logs a failure when it differs from the last one: a pool that cannot fill says so once, not
 * every few seconds. */
static void
warn_once(char **last, const char *msg)
{
    if (g_strcmp0(*last, msg) != 0)
        fp_cli_warning("%s", msg);
    g_free(*last);
    *last = g_strdup(msg);
}

static int
run_serve(const PoolArgs *a)
{
    FpPoolOptions o = options(a);
    g_autofree char *human = fp_pool_size_text(a->size);
    g_autofree char *where = a->node >= 0 ? g_strdup_printf(" on node %d", a->node) : g_strdup("");
    g_autofree char *last_fill = NULL, *last_scrub = NULL;
    g_autoptr(GError) error = NULL;
    guint64 page_kib;
    sigset_t stop;
    gint64 next_reclaim = 0;
    int sig;

    /* Taken synchronously between steps: a step (one slot's fallocate) is never cut in half. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    if (!fp_pool_page_kib(&o, &page_kib, &error)) {
        fp_cli_error("%s", error->message);
        return exit_code(error);
    }
    info("serving %s: keeping %d clean %s slots%s, every %d s", o.dir, a->keep, human, where,
         a->interval);
    for (;;) {
        struct timespec wait = {.tv_sec = a->interval};
        FpPoolServe serve = {.node = a->node,
                             .size = a->size,
                             .keep = (guint)a->keep,
                             .stale_after = (guint)a->stale_after,
                             .stop = stop_pending,
                             .stop_data = &stop};
        FpPoolRound r;

        /* A pass over every process's maps: a few times per --stale-after, not every round. */
        if (g_get_monotonic_time() >= next_reclaim) {
            next_reclaim = g_get_monotonic_time() +
                           (gint64)MAX(a->interval, a->stale_after / 4) * G_USEC_PER_SEC;
            serve.reclaim = TRUE;
        }
        fp_pool_serve_round(&o, &serve, &r);
        if (r.reclaim_error)
            warn_once(&last_scrub, r.reclaim_error->message);
        if (r.reclaimed)
            info("reclaimed %u claimed slot%s no process used for %d s", r.reclaimed,
                 r.reclaimed == 1 ? "" : "s", a->stale_after);
        if (r.scrub_error)
            warn_once(&last_scrub, r.scrub_error->message);
        else if (!r.reclaim_error)
            g_clear_pointer(&last_scrub, g_free);
        if (r.scrubbed)
            info("scrubbed %u slot%s", r.scrubbed, r.scrubbed == 1 ? "" : "s");
        if (r.busy)
            info("%u dirty slot%s still mapped or open by a process: scrubbed once free", r.busy,
                 r.busy == 1 ? "" : "s");
        if (r.fill_error)
            warn_once(&last_fill, r.fill_error->message);
        if (r.made)
            info("made %u slot%s; %u clean %s slots%s now", r.made, r.made == 1 ? "" : "s", r.clean,
                 human, where);
        if (r.clean != G_MAXUINT && r.clean >= (guint)a->keep)
            g_clear_pointer(&last_fill, g_free);
        fp_pool_round_clear(&r);
        sig = sigtimedwait(&stop, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT) {
            info("stopping on signal %d", sig);
            return FP_EXIT_OK;
        }
    }
}

static int
run_sub(const char *sub, int argc, char **argv)
{
    PoolArgs a = {.node = -1, .interval = 5, .count = -1, .keep = -1, .stale_after = 600};
    /* Which subcommands take which option ("*": all), so each one's --help shows its own. */
    const struct {
        const char *subs;
        GOptionEntry e;
    } opts[] = {
        {"*",
         {"dir", 0, 0, G_OPTION_ARG_FILENAME, &a.dir,
          "The pool: a directory on hugetlbfs (default: the configuration's pool_dir)", "DIR"}},
        {"*",
         {"config", 0, 0, G_OPTION_ARG_FILENAME, &a.config,
          "Defaults from this configuration (default $FASTPASS_CONFIG, else " FP_CONFIG_DEFAULT_PATH
          ")",
          "FILE"}},
        {"fill serve scrub",
         {"reserve-pages", 0, 0, G_OPTION_ARG_INT64, &a.reserve_pages,
          "Never take the host's free hugepages below N (default 0)", "N"}},
        {"status",
         {"reserve-pages", 0, 0, G_OPTION_ARG_INT64, &a.reserve_pages,
          "The reserve, to show with the counts", "N"}},
        {"fill serve claim",
         {"size", 0, 0, G_OPTION_ARG_STRING, &a.size_text,
          "Slot size: 1G, 512M, ... or bytes (a whole number of pages)", "SIZE"}},
        {"fill serve claim",
         {"node", 0, 0, G_OPTION_ARG_INT, &a.node, "NUMA node of the slots' memory (default: any)",
          "K"}},
        {"fill", {"count", 0, 0, G_OPTION_ARG_INT, &a.count, "Slots to add", "N"}},
        {"serve", {"keep", 0, 0, G_OPTION_ARG_INT, &a.keep, "Clean slots to keep", "N"}},
        {"serve",
         {"interval", 0, 0, G_OPTION_ARG_INT, &a.interval, "Seconds between rounds (default 5)",
          "SECONDS"}},
        {"serve reclaim",
         {"stale-after", 0, 0, G_OPTION_ARG_INT, &a.stale_after,
          "A claim no process maps or holds open is stale after this many seconds (default 600)",
          "SECONDS"}},
        {"fill serve scrub",
         {"threads", 0, 0, G_OPTION_ARG_INT, &a.threads,
          "Threads faulting a slot's pages in (default: the CPUs, up to 16; 1: one fallocate)",
          "N"}},
        {"fill serve",
         {"no-grow", 0, 0, G_OPTION_ARG_NONE, &a.no_grow,
          "Use free hugepages only, never raise nr_hugepages", NULL}},
        {"claim release",
         {"owner", 0, 0, G_OPTION_ARG_STRING, &a.owner, "The domain UUID", "UUID"}},
        {"claim",
         {"user", 0, 0, G_OPTION_ARG_STRING, &a.user,
          "Give the claimed slot to USER, as the hook gives it to qemu_user", "USER"}},
        {"status", {"json", 0, 0, G_OPTION_ARG_NONE, &a.json, "JSON on stdout", NULL}},
        {"fill serve scrub drain status",
         {"sysfs-root", 0, 0, G_OPTION_ARG_FILENAME, &a.sysfs_root,
          "sysfs under DIR (default $FASTPASS_SYSFS_ROOT or /sys)", "DIR"}},
        {"fill serve scrub drain reclaim status",
         {"proc-root", 0, 0, G_OPTION_ARG_FILENAME, &a.proc_root,
          "procfs under DIR (default /proc)", "DIR"}},
    };
    g_autoptr(GArray) entries = g_array_new(TRUE, TRUE, sizeof(GOptionEntry));
    g_autofree char *summary = NULL;
    g_autoptr(GOptionContext) octx = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(FpConfig) config = NULL;
    gboolean wants_size = !strcmp(sub, "fill") || !strcmp(sub, "serve") || !strcmp(sub, "claim");
    int rc = FP_EXIT_UNUSABLE;

    for (gsize i = 0; i < G_N_ELEMENTS(subcommands); i++) {
        if (!strcmp(sub, subcommands[i].name))
            summary = g_strdup_printf("fastpass pool %s: %s", sub, subcommands[i].summary);
    }
    if (!summary) {
        fp_cli_error("unknown pool subcommand '%s' (try `fastpass pool --help`)", sub);
        return FP_EXIT_UNUSABLE;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(opts); i++) {
        g_auto(GStrv) subs = g_strsplit(opts[i].subs, " ", -1);

        if (!strcmp(opts[i].subs, "*") || g_strv_contains((const char *const *)subs, sub))
            g_array_append_val(entries, opts[i].e);
    }
    octx = g_option_context_new(NULL);
    g_option_context_set_summary(octx, summary);
    g_option_context_add_main_entries(octx, (GOptionEntry *)entries->data, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error))
        goto out;
    if (argc > 1) {
        g_set_error(&error, FP_ERROR, FP_ERROR_INPUT, "unexpected argument '%s'", argv[1]);
        goto out;
    }
    /* The hook and the wrapper find the pool through the configuration: so does the CLI. */
    if (!(config = fp_cli_config(a.config, &error)))
        goto out;
    if (!a.dir)
        a.dir = g_strdup(config->pool_dir);
    if (!a.sysfs_root)
        a.sysfs_root = g_strdup(fp_cli_pick(NULL, "FASTPASS_SYSFS_ROOT", config->sysfs_root));
    if (!a.proc_root)
        a.proc_root = g_strdup(config->proc_root);
    if (a.reserve_pages < 0 || a.node < -1 || a.node > 1023) {
        g_set_error(&error, FP_ERROR, FP_ERROR_INPUT,
                    "--reserve-pages must be >= 0 and --node 0..1023");
        goto out;
    }
    if (wants_size && !a.size_text) {
        g_set_error(&error, FP_ERROR, FP_ERROR_INPUT, "%s needs --size", sub);
        goto out;
    }
    if (a.size_text && !parse_size(a.size_text, &a.size, &error))
        goto out;
    if (!strcmp(sub, "fill") && (a.count < 1 || a.count > 100000)) {
        g_set_error(&error, FP_ERROR, FP_ERROR_INPUT, "fill needs --count 1..100000");
        goto out;
    }
    if (!strcmp(sub, "serve") &&
        (a.keep < 0 || a.keep > 100000 || a.interval < 1 || a.interval > 86400)) {
        g_set_error(&error, FP_ERROR, FP_ERROR_INPUT,
                    "serve needs --keep 0..100000 and --interval 1..86400");
        goto out;
    }
    if (a.threads < 0 || a.threads > 1024) {
        g_set_error(&error, FP_ERROR, FP_ERROR_INPUT, "--threads must be 0..1024");
        goto out;
    }
    if (a.stale_after < 0) {
        g_set_error(&error, FP_ERROR, FP_ERROR_INPUT, "--stale-after must be >= 0 seconds");
        goto out;
    }
    if ((!strcmp(sub, "claim") || !strcmp(sub, "release")) && !fp_pool_owner_valid(a.owner)) {
        g_set_error(&error, FP_ERROR, FP_ERROR_INPUT, "%s needs --owner UUID (got '%s')", sub,
                    a.owner ? a.owner : "");
        goto out;
    }
    if (!strcmp(sub, "status"))
        rc = run_status(&a, config);
    else if (!strcmp(sub, "fill"))
        rc = run_fill(&a);
    else if (!strcmp(sub, "scrub"))
        rc = run_scrub(&a);
    else if (!strcmp(sub, "drain"))
        rc = run_drain(&a);
    else if (!strcmp(sub, "serve"))
        rc = run_serve(&a);
    else if (!strcmp(sub, "claim"))
        rc = run_claim(&a);
    else if (!strcmp(sub, "reclaim"))
        rc = run_reclaim(&a);
    else
        rc = run_release(&a);

out:
    if (error)
        fp_cli_error("%s", error->message);
    g_free(a.dir);
    g_free(a.sysfs_root);
    g_free(a.proc_root);
    g_free(a.size_text);
    g_free(a.owner);
    g_free(a.config);
    g_free(a.user);
    return rc;
}

int
fp_cmd_pool(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return FP_EXIT_UNUSABLE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return FP_EXIT_OK;
    }
    return run_sub(argv[1], argc - 1, argv + 1);
}
