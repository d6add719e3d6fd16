/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Who holds a PCI device, and what fastpass must remember about it between a VM's start and
 * stop (different processes): a small JSON state file per device under the run directory,
 * guarded by an advisory lock so two starts never work on one device at once. */
#pragma once

#include <glib.h>

typedef enum {
    FP_CLAIM_PREPARED,  /* the device is where the owner wanted it (also: a free warm device) */
    FP_CLAIM_PREPARING, /* written before the first sysfs change: a run that holds no lock on it
                         * any more died or gave up half-way */
    FP_CLAIM_N_PHASES,
} FpClaimPhase;

typedef struct {
    char *owner;           /* domain holding the device; NULL when free */
    char *uuid;            /* that domain's UUID when known: a later domain of the same name is
                            * another owner */
    char *original_driver; /* the host driver before fastpass moved it; NULL when it was unbound */
    gboolean warm;         /* on vfio-pci and reset since its last release */
    FpClaimPhase phase;
    char *host_use; /* what the host used it for when it was taken (allowed by the
                     * configuration): never kept warm, always given back */
    gint64 pid;     /* the process that wrote it (for messages) */
    gboolean stuck; /* a kernel write on it never returned: only release and recover
                     * try again */
} FpClaimState;

const char *fp_claim_phase_name(FpClaimPhase phase);

typedef struct FpClaim FpClaim;

/* The run directory: OVERRIDE, else $FASTPASS_RUN_DIR, else /run/fastpass. */
const char *fp_claim_run_dir(const char *override);

/* Takes the device's lock, waiting at most TIMEOUT_MS (FP_ERROR_TIMEOUT, naming the holder
 * when its state says). Reads the state; *EXISTS says whether there was one. */
FpClaim *fp_claim_lock(const char *run_dir, const char *bdf, guint timeout_ms, FpClaimState *state,
                       gboolean *exists, GError **error);
gboolean fp_claim_save(FpClaim *claim, const FpClaimState *state, GError **error);
/* Removes the state and the lock file (the lock stays held until fp_claim_unlock). */
gboolean fp_claim_forget(FpClaim *claim, GError **error);
/* The addresses that have a state file under RUN_DIR (unlocked: lock each to read it), and with
 * LEFTOVERS also those with only a lock file or an unfinished state write (a run killed before
 * it saved anything): locking and unlocking one of those removes them. A missing devices
 * directory is an empty list. */
GPtrArray *fp_claim_list(const char *run_dir, gboolean leftovers, GError **error);
void fp_claim_unlock(FpClaim *claim);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpClaim, fp_claim_unlock)

void fp_claim_state_clear(FpClaimState *state);
