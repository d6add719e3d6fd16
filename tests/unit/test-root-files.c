/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Files root keeps where QEMU's user or anyone else could plant something: the run directory,
 * the timelines, the device claims, a log file. A planted symlink, an oversize file, hostile JSON
 * and a FIFO at each place: root follows nothing, overwrites nothing but its own files, and
 * reports the bad file instead of trusting it. The wrapper's side runs as the real QEMU user
 * (libvirt-qemu) in a child process; skipped where that user or root is missing. */
#define _GNU_SOURCE
#include "claim.h"
#include "error.h"
#include "profile.h"
#include "safedir.h"
#include "timeline.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#define UUID "0f4a3c2e-8b1d-4e6f-9a7b-5c3d2e1f0a9b"
#define SECRET "root's file: must stay as it is\n"

typedef struct {
    char *top;    /* a private temporary directory */
    char *run;    /* top/run: the run directory */
    char *victim; /* top/victim: what a planted symlink points at */
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
    (void)data;
    f->top = g_dir_make_tmp("fp-root-files-XXXXXX", NULL);
    g_assert_nonnull(f->top);
    /* Searchable by QEMU's user, as /run is: what it may do is up to the run directory. */
    g_assert_cmpint(chmod(f->top, 0711), ==, 0);
    f->run = g_build_filename(f->top, "run", NULL);
    f->victim = g_build_filename(f->top, "victim", NULL);
    g_assert_cmpint(g_mkdir(f->run, 0755), ==, 0);
    g_assert_cmpint(chmod(f->run, 0755), ==, 0);
    g_assert_true(g_file_set_contents(f->victim, SECRET, -1, NULL));
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->top);

    (void)data;
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(f->top);
    g_free(f->run);
    g_free(f->victim);
}

static void
victim_intact(const Fixture *f)
{
    g_autofree char *text = NULL;
    struct stat st;

    g_assert_true(g_file_get_contents(f->victim, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, SECRET);
    g_assert_cmpint(lstat(f->victim, &st), ==, 0);
    g_assert_cmpuint(st.st_uid, ==, 0);
}

static gboolean
need_root_and_qemu(struct passwd **pw)
{
    if (geteuid() != 0) {
        g_test_skip("needs root");
        return FALSE;
    }
    if (pw && !(*pw = getpwnam("libvirt-qemu"))) {
        g_test_skip("needs the libvirt-qemu user (libvirt-daemon-system)");
        return FALSE;
    }
    return TRUE;
}

/* FN(DATA) in a child running as UID:GID; its exit code (0..255) is what FN returned. */
static int
as_user(uid_t uid, gid_t gid, int (*fn)(gconstpointer), gconstpointer data)
{
    int status;
    pid_t pid = fork();

    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
            _exit(250);
        _exit(fn(data));
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* ---- the run directory itself ---- */

typedef struct {
    const char *name;
    const char *setup; /* shell, in the fixture's top directory; "run" is the run directory */
    gboolean ok;
    const char *error; /* a fragment of the refusal */
} RunDirCase;

static const RunDirCase run_dir_cases[] = {
    {"root-0755", "true", TRUE, NULL},
    {"writable-by-all", "chmod 0777 run", FALSE, "may be written by others (mode 0777)"},
    {"sticky-writable-by-all", "chmod 1777 run", FALSE, "may be written by others (mode 1777)"},
    {"group-writable", "chmod 0775 run", FALSE, "may be written by others (mode 0775)"},
    {"owned-by-qemu-user", "chown libvirt-qemu run", FALSE, "is owned by uid 64055, not root"},
    {"symlink-to-elsewhere", "mkdir other && rmdir run && ln -s other run", FALSE,
     "not a directory (a symlink?)"},
    {"in-a-directory-others-write", "mkdir -m 0777 open && chmod 0777 open && mv run open/run",
     FALSE, "in a directory others may write"},
};

static void
test_run_dir(Fixture *f, gconstpointer data)
{
    const RunDirCase *c = data;
    g_autofree char *cmd = g_strdup_printf("cd '%s' && %s", f->top, c->setup);
    g_autofree char *path = strstr(c->setup, "open/run")
                                ? g_build_filename(f->top, "open", "run", NULL)
                                : g_strdup(f->run);
    g_autoptr(GError) error = NULL;
    int fd;

    if (!need_root_and_qemu(NULL) ||
        (strstr(c->setup, "libvirt-qemu") && !getpwnam("libvirt-qemu"))) {
        if (!g_test_failed())
            g_test_skip("needs root and libvirt-qemu");
        return;
    }
    g_assert_cmpint(system(cmd), ==, 0);
    fd = fp_safedir_open(path, FALSE, 0755, &error);
    g_test_message("%s: %s", c->name, error ? error->message : "accepted");
    if (c->ok) {
        g_assert_no_error(error);
        g_assert_cmpint(fd, >=, 0);
        close(fd);
    } else {
        g_assert_cmpint(fd, ==, -1);
        g_assert_nonnull(error);
        g_assert_nonnull(strstr(error->message, c->error));
    }
}

/* ---- timelines ---- */

static char *
timeline_file(const Fixture *f, const char *source)
{
    return fp_timeline_path(f->run, UUID, "vm", source);
}

static void
test_timeline_hook_symlink(Fixture *f, gconstpointer data)
{
    g_autofree char *hook = timeline_file(f, "hook");
    g_autofree char *tdir = g_path_get_dirname(hook);
    g_autoptr(GError) error = NULL;
    struct stat st;

    (void)data;
    if (!need_root_and_qemu(NULL))
        return;
    /* What a QEMU user could do while the directory was 1733: plant root's name as a link. */
    g_assert_cmpint(g_mkdir(tdir, 01733), ==, 0);
    g_assert_cmpint(chmod(tdir, 01733), ==, 0);
    g_assert_cmpint(symlink(f->victim, hook), ==, 0);

    /* Appending (not fresh) opens the existing name: refused, not followed. */
    g_assert_false(fp_timeline_add(f->run, UUID, "vm", "hook", "x", NULL, FALSE, &error));
    g_test_message("append through a planted symlink: %s", error->message);
    g_assert_nonnull(strstr(error->message, "a symlink; not followed"));
    victim_intact(f);
    g_clear_error(&error);

    /* A fresh start replaces the name with root's own file. */
    g_assert_true(fp_timeline_add(f->run, UUID, "vm", "hook", "hook-prepare", NULL, TRUE, &error));
    g_assert_no_error(error);
    victim_intact(f);
    g_assert_cmpint(lstat(hook, &st), ==, 0);
    g_assert_true(S_ISREG(st.st_mode));
    g_assert_cmpuint(st.st_uid, ==, 0);
    g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
    /* The old open directory is closed. */
    g_assert_cmpint(stat(tdir, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 07777, ==, 0711);
}

static void
test_timeline_hook_hostile(Fixture *f, gconstpointer data)
{
    g_autofree char *hook = timeline_file(f, "hook");
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;

    (void)data;
    if (!need_root_and_qemu(NULL))
        return;
    g_assert_true(fp_timeline_add(f->run, UUID, "vm", "hook", "a", NULL, TRUE, &error));
    /* Root's own file, spoiled: appending starts a valid timeline again. */
    g_assert_true(g_file_set_contents(hook, "{\"events\": 7, \"domain\": [1]}", -1, NULL));
    g_assert_true(fp_timeline_add(f->run, UUID, "vm", "hook", "b", NULL, FALSE, &error));
    g_assert_true(g_file_get_contents(hook, &text, NULL, NULL));
    g_assert_nonnull(strstr(text, "\"event\":\"b\""));
    g_assert_null(strstr(text, "\"event\":\"a\""));
}

static int
qemu_write_timeline(gconstpointer data)
{
    const Fixture *f = data;
    json_object *ev = json_object_new_object();
    g_autoptr(GError) error = NULL;

    json_object_object_add(ev, "wrapper_start_us", json_object_new_int64(1));
    if (!fp_timeline_add(f->run, UUID, "vm", "qemu", "qemu-exec", ev, TRUE, &error)) {
        g_printerr("as libvirt-qemu: %s\n", error->message);
        return 1;
    }
    return 0;
}

/* What else QEMU's user can do in the timeline directory: 0 when refused with EACCES. */
static int
qemu_try_others(gconstpointer data)
{
    const Fixture *f = data;
    g_autofree char *tdir = g_build_filename(f->run, "timeline", NULL);
    g_autofree char *other = g_build_filename(tdir, "planted.json", NULL);
    g_autofree char *hook = timeline_file(f, "hook");
    g_autofree char *link = g_build_filename(tdir, UUID ".hook.json.new", NULL);
    int fails = 0;

    if (open(other, O_WRONLY | O_CREAT, 0644) >= 0 || errno != EACCES) {
        g_printerr("as libvirt-qemu: creating %s was not refused\n", other);
        fails++;
    } else {
        g_printerr("as libvirt-qemu: create %s: %s (refused)\n", other, g_strerror(errno));
    }
    if (open(hook, O_RDONLY) >= 0 || errno != EACCES) {
        g_printerr("as libvirt-qemu: reading the hook's timeline was not refused\n");
        fails++;
    } else {
        g_printerr("as libvirt-qemu: read %s: %s (refused)\n", hook, g_strerror(errno));
    }
    if (symlink("/etc/shadow", link) == 0 || errno != EACCES) {
        g_printerr("as libvirt-qemu: planting a symlink was not refused\n");
        fails++;
    } else {
        g_printerr("as libvirt-qemu: symlink %s: %s (refused)\n", link, g_strerror(errno));
    }
    if (opendir(tdir) != NULL || errno != EACCES) {
        g_printerr("as libvirt-qemu: listing %s was not refused\n", tdir);
        fails++;
    } else {
        g_printerr("as libvirt-qemu: list %s: %s (refused)\n", tdir, g_strerror(errno));
    }
    return fails;
}

static void
test_timeline_wrapper_as_qemu_user(Fixture *f, gconstpointer data)
{
    g_autofree char *qemu = timeline_file(f, "qemu");
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    struct passwd *pw = NULL;
    struct stat st;

    (void)data;
    if (!need_root_and_qemu(&pw))
        return;
    /* The hook's own write makes the directory; the wrapper's file is not given yet. */
    g_assert_true(fp_timeline_add(f->run, UUID, "vm", "hook", "hook-prepare", NULL, TRUE, &error));
    g_assert_cmpint(as_user(pw->pw_uid, pw->pw_gid, qemu_write_timeline, f), ==, 1);
    g_assert_cmpint(lstat(qemu, &st), ==, -1);
    g_assert_cmpint(as_user(pw->pw_uid, pw->pw_gid, qemu_try_others, f), ==, 0);

    g_assert_true(fp_timeline_give(f->run, UUID, "vm", "qemu", pw->pw_uid, pw->pw_gid, &error));
    g_assert_no_error(error);
    g_assert_cmpint(as_user(pw->pw_uid, pw->pw_gid, qemu_write_timeline, f), ==, 0);
    g_assert_cmpint(lstat(qemu, &st), ==, 0);
    g_assert_cmpuint(st.st_uid, ==, pw->pw_uid);
    g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
    g_assert_true(g_file_get_contents(qemu, &text, NULL, NULL));
    g_assert_nonnull(strstr(text, "qemu-exec"));
}

typedef struct {
    const char *name;
    const char *plant; /* "symlink", "big", "fifo", "dir" or JSON text */
    const char *note;  /* what the profiler says about the wrapper's file */
} PlantCase;

static const PlantCase plant_cases[] = {
    {"symlink", "symlink", "is a symlink; not followed"},
    {"oversize", "big", "more than the 1048576 it may be"},
    {"fifo", "fifo", "is not a regular file"},
    {"directory", "dir", "is not a regular file"},
    {"events-not-array", "{\"events\": \"x\"}", "has no events"},
    {"not-an-object", "[{\"events\": []}]", "has no events"},
    {"nul-inside", "{\"events\": []}\0{", "is not JSON"},
    /* The file the hook gave, never written: QEMU was not started through the wrapper. */
    {"empty", "", "is empty: fastpass-qemu is not in use"},
    {"wrong-types",
     "{\"events\": [{\"event\": \"qemu-exec\", \"wrapper_start_us\": \"9\", \"time_us\": []}]}",
     "from an earlier start"},
};

static void
test_profiler_planted(Fixture *f, gconstpointer data)
{
    const PlantCase *c = data;
    g_autofree char *qemu = timeline_file(f, "qemu");
    g_autoptr(FpProfileRun) run = fp_profile_run_new();
    g_autoptr(GError) error = NULL;
    gboolean found = FALSE;

    if (!need_root_and_qemu(NULL))
        return;
    g_assert_true(fp_timeline_add(f->run, UUID, "vm", "hook", "hook-prepare", NULL, TRUE, &error));
    if (!strcmp(c->plant, "symlink")) {
        g_assert_cmpint(symlink(f->victim, qemu), ==, 0);
    } else if (!strcmp(c->plant, "big")) {
        g_autofree char *big = g_strnfill(2 * 1024 * 1024, ' ');

        g_assert_true(g_file_set_contents(qemu, big, -1, NULL));
    } else if (!strcmp(c->plant, "fifo")) {
        g_assert_cmpint(mkfifo(qemu, 0600), ==, 0);
    } else if (!strcmp(c->plant, "dir")) {
        g_assert_cmpint(g_mkdir(qemu, 0700), ==, 0);
    } else {
        /* The NUL case: the length of the literal, not strlen. */
        gsize len =
            !strcmp(c->name, "nul-inside") ? sizeof("{\"events\": []}\0{") - 1 : strlen(c->plant);

        g_assert_true(g_file_set_contents(qemu, c->plant, (gssize)len, NULL));
    }
    fp_profile_read_timelines(run, f->run, UUID, "vm", 1);
    for (guint i = 0; i < run->notes->len; i++) {
        const char *note = g_ptr_array_index(run->notes, i);

        g_test_message("profiler note: %s", note);
        found |= strstr(note, c->note) != NULL;
    }
    g_assert_true(found);
    g_assert_cmpint(run->at[FP_PT_QEMU_EXEC], ==, 0);
    victim_intact(f);
}

/* ---- device claims ---- */

#define BDF "0000:41:00.0"

static void
test_claim_planted(Fixture *f, gconstpointer data)
{
    const char *plant = data;
    g_autofree char *devdir = g_build_filename(f->run, "devices", NULL);
    g_autofree char *state_path = g_build_filename(devdir, BDF ".json", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(FpClaim) claim = NULL;
    FpClaimState state = {0}, mine = {.owner = (char *)"vm-a"};
    gboolean exists = FALSE;
    struct stat st;

    if (!need_root_and_qemu(NULL))
        return;
    g_assert_cmpint(g_mkdir(devdir, 0700), ==, 0);
    if (!strcmp(plant, "symlink")) {
        g_assert_cmpint(symlink(f->victim, state_path), ==, 0);
    } else if (!strcmp(plant, "big")) {
        g_autofree char *big = g_strnfill(64 * 1024, 'x');

        g_assert_true(g_file_set_contents(state_path, big, -1, NULL));
    } else if (!strcmp(plant, "lock-symlink")) {
        g_autofree char *lock = g_build_filename(devdir, BDF ".lock", NULL);

        g_assert_cmpint(symlink(f->victim, lock), ==, 0);
        g_assert_null(fp_claim_lock(f->run, BDF, 100, &state, &exists, &error));
        g_test_message("lock through a planted symlink: %s", error->message);
        g_assert_nonnull(strstr(error->message, "a symlink; not followed"));
        victim_intact(f);
        return;
    } else {
        g_assert_true(g_file_set_contents(state_path, plant, -1, NULL));
    }
    claim = fp_claim_lock(f->run, BDF, 100, &state, &exists, &error);
    g_assert_no_error(error);
    /* A state that cannot be read is a device held by someone unknown: refused, not reused. */
    g_assert_true(exists);
    g_assert_cmpstr(state.owner, ==, "(unreadable state file)");
    fp_claim_state_clear(&state);
    g_assert_true(fp_claim_save(claim, &mine, &error));
    victim_intact(f);
    g_assert_cmpint(lstat(state_path, &st), ==, 0);
    g_assert_true(S_ISREG(st.st_mode));
    g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
}

/* ---- a log file in a directory others write ---- */

static void
test_log_append(Fixture *f, gconstpointer data)
{
    g_autofree char *log = g_build_filename(f->top, "hook.log", NULL);
    g_autofree char *linked = g_build_filename(f->top, "linked.log", NULL);
    g_autoptr(GError) error = NULL;
    int fd;

    (void)data;
    if (!need_root_and_qemu(NULL))
        return;
    g_assert_cmpint(symlink(f->victim, log), ==, 0);
    g_assert_cmpint(fp_safedir_open_append(log, 0640, &error), ==, -1);
    g_test_message("log through a planted symlink: %s", error->message);
    g_clear_error(&error);
    g_assert_cmpint(link(f->victim, linked), ==, 0);
    g_assert_cmpint(fp_safedir_open_append(linked, 0640, &error), ==, -1);
    g_test_message("log hard-linked to another file: %s", error->message);
    g_clear_error(&error);
    victim_intact(f);
    g_unlink(log);
    fd = fp_safedir_open_append(log, 0640, &error);
    g_assert_no_error(error);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(run_dir_cases); i++) {
        g_autofree char *path = g_strdup_printf("/root-files/run-dir/%s", run_dir_cases[i].name);

        g_test_add(path, Fixture, &run_dir_cases[i], fixture_set_up, test_run_dir,
                   fixture_tear_down);
    }
    g_test_add("/root-files/timeline/hook-through-planted-symlink", Fixture, NULL, fixture_set_up,
               test_timeline_hook_symlink, fixture_tear_down);
    g_test_add("/root-files/timeline/hook-file-spoiled", Fixture, NULL, fixture_set_up,
               test_timeline_hook_hostile, fixture_tear_down);
    g_test_add("/root-files/timeline/wrapper-as-libvirt-qemu", Fixture, NULL, fixture_set_up,
               test_timeline_wrapper_as_qemu_user, fixture_tear_down);
    for (gsize i = 0; i < G_N_ELEMENTS(plant_cases); i++) {
        g_autofree char *path = g_strdup_printf("/root-files/profiler/%s", plant_cases[i].name);

        g_test_add(path, Fixture, &plant_cases[i], fixture_set_up, test_profiler_planted,
                   fixture_tear_down);
    }
    g_test_add("/root-files/claim/state-symlink", Fixture, "symlink", fixture_set_up,
               test_claim_planted, fixture_tear_down);
    g_test_add("/root-files/claim/state-oversize", Fixture, "big", fixture_set_up,
               test_claim_planted, fixture_tear_down);
    g_test_add("/root-files/claim/state-hostile-json", Fixture, "[\"owner\", {\"warm\": 1}]",
               fixture_set_up, test_claim_planted, fixture_tear_down);
    g_test_add("/root-files/claim/lock-symlink", Fixture, "lock-symlink", fixture_set_up,
               test_claim_planted, fixture_tear_down);
    g_test_add("/root-files/log/planted", Fixture, NULL, fixture_set_up, test_log_append,
               fixture_tear_down);
    return g_test_run();
}
