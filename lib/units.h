/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libvirt's scaled integers: <memory unit='GiB'>48</memory> and friends. */
#pragma once

#include <glib.h>

/* Converts value+unit (unit NULL means libvirt's default, KiB) to KiB. Values that are not
 * whole KiB, or overflow, are an error. */
gboolean fp_units_to_kib(const char *value, const char *unit, guint64 *kib, GError **error);
