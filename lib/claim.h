/* Who holds a PCI device, and what fastpass must remember about it between a VM's start and
 * stop (different processes): a small JSON state file per device under the run directory,
 * guarded by an advisory lock so two starts never work on one device at once. */
#pragma once

#include <glib.h>

typedef struct {
    char *owner;           /* domain holding the device; NULL when free */
    char *original_driver; /* the host driver before fastpass moved it; NULL when it was unbound */
    gboolean warm;         /* on vfio-pci and reset since its last release */
} FpClaimState;

typedef struct FpClaim FpClaim;

/* The run directory: OVERRIDE, else $FASTPASS_RUN_DIR, else /run/fastpass. */
const char *fp_claim_run_dir(const char *override);

/* Takes the device's lock, waiting at most TIMEOUT_MS (FP_ERROR_TIMEOUT, naming the holder
 * when its state says). Reads the state; *EXISTS says whether there was one. */
FpClaim *fp_claim_lock(const char *run_dir, const char *bdf, guint timeout_ms, FpClaimState *state,
                       gboolean *exists, GError **error);
gboolean fp_claim_save(FpClaim *claim, const FpClaimState *state, GError **error);
gboolean fp_claim_forget(FpClaim *claim, GError **error);
void fp_claim_unlock(FpClaim *claim);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpClaim, fp_claim_unlock)

void fp_claim_state_clear(FpClaimState *state);
