/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading and writing sysfs attributes, with writes that cannot hang the caller. */
#pragma once

#include <glib.h>

/* The attribute's content with trailing whitespace removed, or NULL (errno-style error). */
char *fp_sysfs_read(const char *path, GError **error);
/* An attribute holding one unsigned decimal count (nr_hugepages, free_hugepages, ...). */
gboolean fp_sysfs_read_count(const char *path, guint64 *out, GError **error);
/* The last component of a symlink's target ("vfio-pci" for .../drivers/vfio-pci), or NULL. */
char *fp_sysfs_link_name(const char *path);

/* Writes VALUE to PATH in a short-lived child process and waits at most TIMEOUT_MS for it.
 * A kernel write can block forever (a reset that never completes); the child holds nothing but
 * the attribute, so abandoning it leaves no fd of ours (or of libvirt's) behind.
 * Errors: FP_ERROR_IO with the kernel's errno text, FP_ERROR_TIMEOUT when abandoned. */
gboolean fp_sysfs_write(const char *path, const char *value, guint timeout_ms, GError **error);
