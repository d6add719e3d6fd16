/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "claim.h"

#include "error.h"
#include "jsonget.h"
#include "pciaddr.h"
#include "safedir.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct FpClaim {
    int fd;
    int dfd;          /* $RUN_DIR/devices, root's alone */
    char *dir;        /* its path, for messages */
    char *state_name; /* BDF.json */
    char *lock_name;  /* BDF.lock */
};

static const char *const phase_names[] = {"prepared", "preparing"};
G_STATIC_ASSERT(G_N_ELEMENTS(phase_names) == FP_CLAIM_N_PHASES);

const char *
fp_claim_phase_name(FpClaimPhase phase)
{
    return phase < FP_CLAIM_N_PHASES ? phase_names[phase] : "unknown";
}

static int
cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A state is a few short strings. */
#define STATE_MAX_BYTES 4096

const char *
fp_claim_run_dir(const char *override)
{
    const char *env = g_getenv("FASTPASS_RUN_DIR");

    if (override && *override)
        return override;
    return env && *env ? env : "/run/fastpass";
}

void
fp_claim_state_clear(FpClaimState *state)
{
    g_clear_pointer(&state->owner, g_free);
    g_clear_pointer(&state->uuid, g_free);
    g_clear_pointer(&state->original_driver, g_free);
    g_clear_pointer(&state->host_use, g_free);
    state->warm = FALSE;
    state->phase = FP_CLAIM_PREPARED;
    state->pid = 0;
    state->stuck = FALSE;
}

/* A driver name goes into bus/pci/drivers/NAME/bind: one path component, nothing else. */
static gboolean
driver_name_ok(const char *name)
{
    return name && *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

/* A state file that cannot be read is treated as a device held by an unknown owner: refusing is
 * safe, handing it out is not. */
static void
read_state(int dfd, const char *dir, const char *name, FpClaimState *state, gboolean *exists)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    json_object *obj = NULL, *warm, *pid;
    const char *phase, *orig;

    text = fp_safedir_read(dfd, dir, name, STATE_MAX_BYTES, NULL, &error);
    *exists = text || !g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    if (!*exists)
        return;
    if (text)
        obj = json_tokener_parse(text);
    if (!obj || !json_object_is_type(obj, json_type_object)) {
        state->owner = g_strdup("(unreadable state file)");
        json_object_put(obj);
        return;
    }
    orig = fp_json_str(obj, "original_driver");
    phase = fp_json_str(obj, "phase");
    if ((orig && !driver_name_ok(orig)) ||
        (phase && strcmp(phase, "prepared") && strcmp(phase, "preparing"))) {
        state->owner = g_strdup("(unreadable state file)");
        json_object_put(obj);
        return;
    }
    state->owner = g_strdup(fp_json_str(obj, "owner"));
    state->uuid = g_strdup(fp_json_str(obj, "uuid"));
    state->original_driver = g_strdup(orig);
    state->host_use = g_strdup(fp_json_str(obj, "host_use"));
    state->warm = json_object_object_get_ex(obj, "warm", &warm) && json_object_get_boolean(warm);
    state->phase = g_strcmp0(phase, "preparing") == 0 ? FP_CLAIM_PREPARING : FP_CLAIM_PREPARED;
    state->pid = json_object_object_get_ex(obj, "pid", &pid) ? json_object_get_int64(pid) : 0;
    state->stuck = json_object_object_get_ex(obj, "stuck", &warm) && json_object_get_boolean(warm);
    json_object_put(obj);
}

/* Whether FD is still the file NAME in DFD: a holder that forgot its state unlinks the lock
 * before closing it, and whoever was waiting on that old inode must open the new one. */
static gboolean
lock_still_linked(int dfd, const char *name, int fd)
{
    struct stat a, b;

    return fstat(fd, &a) == 0 && a.st_nlink > 0 &&
           fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

FpClaim *
fp_claim_lock(const char *run_dir, const char *bdf, guint timeout_ms, FpClaimState *state,
              gboolean *exists, GError **error)
{
    g_autofree char *dir = g_build_filename(run_dir, "devices", NULL);
    g_autofree char *lock_path = NULL, *lock_name = NULL, *state_name = NULL;
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    FpClaim *claim;
    struct stat st;
    int fd, run, dfd, reopened = 0;

    /* The run directory is readable by QEMU's user (timelines, caps); claims are root's alone. */
    if ((run = fp_safedir_open(run_dir, TRUE, 0755, error)) < 0)
        return NULL;
    dfd = fp_safedir_sub(run, run_dir, "devices", 0700, error);
    close(run);
    if (dfd < 0)
        return NULL;
    lock_name = g_strdup_printf("%s.lock", bdf);
    state_name = g_strdup_printf("%s.json", bdf);
    lock_path = g_build_filename(dir, lock_name, NULL);
reopen:
    fd = openat(dfd, lock_name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot open %s: %s", lock_path,
                    fd >= 0          ? "not a regular file"
                    : errno == ELOOP ? "a symlink; not followed"
                                     : g_strerror(errno));
        if (fd >= 0)
            close(fd);
        close(dfd);
        return NULL;
    }
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot lock %s: %s", lock_path,
                        g_strerror(errno));
            close(fd);
            close(dfd);
            return NULL;
        }
        if (g_get_monotonic_time() >= deadline) {
            FpClaimState other = {0};
            gboolean other_exists;

            read_state(dfd, dir, state_name, &other, &other_exists);
            g_set_error(error, FP_ERROR, FP_ERROR_TIMEOUT, "%s is being prepared or released by %s",
                        bdf, other.owner ? other.owner : "another fastpass run");
            fp_claim_state_clear(&other);
            close(fd);
            close(dfd);
            return NULL;
        }
        g_usleep(2000);
    }
    if (!lock_still_linked(dfd, lock_name, fd)) {
        /* The previous holder removed it after we opened it: lock the one that is there now. */
        close(fd);
        if (++reopened < 1000)
            goto reopen;
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot lock %s: it keeps being replaced",
                    lock_path);
        close(dfd);
        return NULL;
    }
    claim = g_new0(FpClaim, 1);
    claim->fd = fd;
    claim->dfd = dfd;
    claim->dir = g_steal_pointer(&dir);
    claim->state_name = g_steal_pointer(&state_name);
    claim->lock_name = g_steal_pointer(&lock_name);
    read_state(dfd, claim->dir, claim->state_name, state, exists);
    return claim;
}

gboolean
fp_claim_save(FpClaim *claim, const FpClaimState *state, GError **error)
{
    json_object *obj = json_object_new_object();
    gboolean ok;

    json_object_object_add(obj, "owner",
                           state->owner ? json_object_new_string(state->owner) : NULL);
    if (state->uuid)
        json_object_object_add(obj, "uuid", json_object_new_string(state->uuid));
    json_object_object_add(obj, "original_driver",
                           state->original_driver ? json_object_new_string(state->original_driver)
                                                  : NULL);
    json_object_object_add(obj, "warm", json_object_new_boolean(state->warm));
    json_object_object_add(obj, "phase", json_object_new_string(fp_claim_phase_name(state->phase)));
    if (state->host_use)
        json_object_object_add(obj, "host_use", json_object_new_string(state->host_use));
    json_object_object_add(obj, "pid", json_object_new_int64(getpid()));
    if (state->stuck)
        json_object_object_add(obj, "stuck", json_object_new_boolean(TRUE));
    json_object_object_add(obj, "updated",
                           json_object_new_int64(g_get_real_time() / G_USEC_PER_SEC));
    ok =
        fp_safedir_write(claim->dfd, claim->dir, claim->state_name, json_object_to_json_string(obj),
                         strlen(json_object_to_json_string(obj)), 0600, error);
    json_object_put(obj);
    return ok;
}

/* Unfinished writes of the state (.BDF.json.XXXXXXXX, fp_safedir_write's temporary name) of a
 * run that died mid-save. Only under the lock: then nobody is writing one. */
static void
remove_unfinished(FpClaim *claim)
{
    g_autofree char *prefix = g_strdup_printf(".%s.", claim->state_name);
    g_autoptr(GDir) d = g_dir_open(claim->dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        if (g_str_has_prefix(name, prefix))
            unlinkat(claim->dfd, name, 0);
    }
}

gboolean
fp_claim_forget(FpClaim *claim, GError **error)
{
    remove_unfinished(claim);
    if (unlinkat(claim->dfd, claim->state_name, 0) < 0 && errno != ENOENT) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot remove %s/%s: %s", claim->dir,
                    claim->state_name, g_strerror(errno));
        return FALSE;
    }
    /* Still locked: a waiter that opened this inode finds it unlinked after its flock and
     * opens the new one (lock_still_linked). */
    if (unlinkat(claim->dfd, claim->lock_name, 0) < 0 && errno != ENOENT) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot remove %s/%s: %s", claim->dir,
                    claim->lock_name, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

void
fp_claim_unlock(FpClaim *claim)
{
    struct stat st;

    if (!claim)
        return;
    /* No state: a lock of a free device, removed before it is closed (a waiter that opened it
     * finds it unlinked after its flock and opens a new one). */
    if (fstatat(claim->dfd, claim->state_name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
        remove_unfinished(claim);
        unlinkat(claim->dfd, claim->lock_name, 0);
    }
    close(claim->fd);
    close(claim->dfd);
    g_free(claim->dir);
    g_free(claim->state_name);
    g_free(claim->lock_name);
    g_free(claim);
}

GPtrArray *
fp_claim_list(const char *run_dir, gboolean leftovers, GError **error)
{
    g_autofree char *dir = g_build_filename(run_dir, "devices", NULL);
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = NULL;
    g_autoptr(GError) local = NULL;
    const char *name;

    /* ls $RUN_DIR/devices/BDF.json */
    if (!(d = g_dir_open(dir, 0, &local))) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return g_steal_pointer(&list);
        g_propagate_prefixed_error(error, g_steal_pointer(&local), "cannot list claims: ");
        return NULL;
    }
    while ((name = g_dir_read_name(d))) {
        g_autofree char *bdf = NULL;
        FpPciAddr addr;

        if (g_str_has_suffix(name, ".json"))
            bdf = g_strndup(name, strlen(name) - 5);
        else if (leftovers && g_str_has_suffix(name, ".lock"))
            bdf = g_strndup(name, strlen(name) - 5);
        else if (leftovers && name[0] == '.' && strstr(name, ".json."))
            bdf = g_strndup(name + 1, strstr(name, ".json.") - name - 1);
        if (bdf && fp_pci_addr_parse(bdf, &addr, NULL) &&
            !g_ptr_array_find_with_equal_func(list, bdf, g_str_equal, NULL))
            g_ptr_array_add(list, g_steal_pointer(&bdf));
    }
    g_ptr_array_sort(list, cmp_str);
    return g_steal_pointer(&list);
}
