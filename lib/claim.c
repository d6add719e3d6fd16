#include "claim.h"

#include "error.h"
#include "jsonget.h"
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
};

/* A state is three short strings. */
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
    g_clear_pointer(&state->original_driver, g_free);
    state->warm = FALSE;
}

/* A state file that cannot be read is treated as a device held by an unknown owner: refusing is
 * safe, handing it out is not. */
static void
read_state(int dfd, const char *dir, const char *name, FpClaimState *state, gboolean *exists)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    json_object *obj = NULL, *warm;

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
    state->owner = g_strdup(fp_json_str(obj, "owner"));
    state->original_driver = g_strdup(fp_json_str(obj, "original_driver"));
    state->warm = json_object_object_get_ex(obj, "warm", &warm) && json_object_get_boolean(warm);
    json_object_put(obj);
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
    int fd, run, dfd;

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
            g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot lock %s: %s", lock_path, g_strerror(errno));
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
    claim = g_new0(FpClaim, 1);
    claim->fd = fd;
    claim->dfd = dfd;
    claim->dir = g_steal_pointer(&dir);
    claim->state_name = g_steal_pointer(&state_name);
    read_state(dfd, claim->dir, claim->state_name, state, exists);
    return claim;
}

gboolean
fp_claim_save(FpClaim *claim, const FpClaimState *state, GError **error)
{
    json_object *obj = json_object_new_object();
    gboolean ok;

    json_object_object_add(obj, "owner", state->owner ? json_object_new_string(state->owner) : NULL);
    json_object_object_add(obj, "original_driver",
                           state->original_driver ? json_object_new_string(state->original_driver) : NULL);
    json_object_object_add(obj, "warm", json_object_new_boolean(state->warm));
    json_object_object_add(obj, "updated", json_object_new_int64(g_get_real_time() / G_USEC_PER_SEC));
    ok =
        fp_safedir_write(claim->dfd, claim->dir, claim->state_name, json_object_to_json_string(obj),
                         strlen(json_object_to_json_string(obj)), 0600, error);
    json_object_put(obj);
    return ok;
}

gboolean
fp_claim_forget(FpClaim *claim, GError **error)
{
    if (unlinkat(claim->dfd, claim->state_name, 0) < 0 && errno != ENOENT) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot remove %s/%s: %s", claim->dir,
                    claim->state_name, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

void
fp_claim_unlock(FpClaim *claim)
{
    if (!claim)
        return;
    /* The lock file stays: removing it would race with a waiter that already opened it. */
    close(claim->fd);
    close(claim->dfd);
    g_free(claim->dir);
    g_free(claim->state_name);
    g_free(claim);
}
