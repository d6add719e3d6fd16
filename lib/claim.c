#include "claim.h"

#include "error.h"
#include "jsonget.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/file.h>
#include <unistd.h>

struct FpClaim {
    int fd;
    char *state_path;
};

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
read_state(const char *path, FpClaimState *state, gboolean *exists)
{
    g_autofree char *text = NULL;
    json_object *obj, *warm;

    *exists = g_file_get_contents(path, &text, NULL, NULL);
    if (!*exists)
        return;
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
    g_autofree char *lock_path = NULL;
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    FpClaim *claim;
    int fd;

    /* The run directory is readable by QEMU's user (timelines, caps); claims are root's alone. */
    if (g_mkdir_with_parents(run_dir, 0755) < 0 || g_mkdir_with_parents(dir, 0700) < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot create run directory %s: %s", dir, g_strerror(errno));
        return NULL;
    }
    lock_path = g_strdup_printf("%s/%s.lock", dir, bdf);
    fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot open %s: %s", lock_path, g_strerror(errno));
        return NULL;
    }
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot lock %s: %s", lock_path, g_strerror(errno));
            close(fd);
            return NULL;
        }
        if (g_get_monotonic_time() >= deadline) {
            FpClaimState other = {0};
            gboolean other_exists;
            g_autofree char *state_path = g_strdup_printf("%s/%s.json", dir, bdf);

            read_state(state_path, &other, &other_exists);
            g_set_error(error, FP_ERROR, FP_ERROR_TIMEOUT, "%s is being prepared or released by %s",
                        bdf, other.owner ? other.owner : "another fastpass run");
            fp_claim_state_clear(&other);
            close(fd);
            return NULL;
        }
        g_usleep(2000);
    }
    claim = g_new0(FpClaim, 1);
    claim->fd = fd;
    claim->state_path = g_strdup_printf("%s/%s.json", dir, bdf);
    read_state(claim->state_path, state, exists);
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
    ok = g_file_set_contents_full(claim->state_path, json_object_to_json_string(obj), -1,
                                  G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
    json_object_put(obj);
    return ok;
}

gboolean
fp_claim_forget(FpClaim *claim, GError **error)
{
    if (unlink(claim->state_path) < 0 && errno != ENOENT) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot remove %s: %s", claim->state_path, g_strerror(errno));
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
    g_free(claim->state_path);
    g_free(claim);
}
