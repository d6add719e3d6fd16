/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a QEMU binary supports, probed once per binary (path, size, mtime) and cached. */
#pragma once

#include "qemuargs.h"

#include <glib.h>
#include <sys/types.h>

/* Runs `QEMU -object memory-backend-ram,help` (bounded by TIMEOUT_MS) unless CACHE_DIR holds
 * an answer for this very binary. Fails when the binary is missing or not executable. */
gboolean fp_qemu_caps_probe(const char *qemu, const char *cache_dir, guint timeout_ms,
                            FpQemuCaps *caps, GError **error);
/* The same, the probe run as USER (UID, GID and the groups /etc/group gives USER) when the
 * caller is root, as libvirt probes QEMU: QEMU never runs as root on fastpass's behalf. */
gboolean fp_qemu_caps_probe_as(const char *qemu, const char *cache_dir, guint timeout_ms,
                               const char *user, uid_t uid, gid_t gid, FpQemuCaps *caps,
                               GError **error);
