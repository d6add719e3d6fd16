/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One extra file in one domain's AppArmor profile, the way libvirt adds a domain's own hugepage
 * directory or disk images: libvirt's virt-aa-helper appends a rule to that domain's
 * /etc/apparmor.d/libvirt/libvirt-UUID.files and reloads that profile alone. No rule goes
 * anywhere every domain's profile includes (abstractions/libvirt-qemu, the TEMPLATE). libvirt
 * regenerates the profile at each start and deletes it at stop: the rule lives exactly as long
 * as the domain runs. */
#pragma once

#include "config.h"

#include <glib.h>
#include <libxml/tree.h>

#define FP_APPARMOR_HELPER "/usr/lib/libvirt/virt-aa-helper"

/* The AppArmor profile libvirt gave the domain (<seclabel model='apparmor'><label>, e.g.
 * "libvirt-UUID"), from the live XML libvirt passes to the hook after labelling; NULL when the
 * domain is not confined by AppArmor. */
char *fp_apparmor_domain_label(xmlNode *domain_root);
/* `HELPER [-d] -r -u LABEL -F PATH < XML`: read-write (and lock) access to PATH for the
 * profile LABEL alone. DRY_RUN (-d) changes nothing. *OUTPUT: what the helper said (its stderr;
 * with DRY_RUN, the rules it would write).
 * Killed after TIMEOUT_MS. PATH must be absolute, without quotes, globs or newlines. */
gboolean fp_apparmor_allow(const char *helper, const char *label, const char *xml, gsize len,
                           const char *path, gboolean dry_run, guint timeout_ms, char **output,
                           GError **error);

/* Whether libvirt confines each domain's QEMU with a profile of its own on this host: the kernel
 * has AppArmor ($SYSFS_ROOT/kernel/security/apparmor) and libvirt's qemu.conf does not turn it
 * off (security_driver without "apparmor", e.g. "none"; security_default_confined = 0). FALSE
 * with *WHY (one line) otherwise: pool slots, which every QEMU's user could open by name, then go
 * to no domain. */
gboolean fp_apparmor_confines_domains(const FpConfig *config, char **why);
/* Whether the live XML (ROOT, as libvirt passes it at start begin) confines the domain UUID with
 * its own AppArmor profile: an apparmor <seclabel> whose label is libvirt-UUID, and no SELinux
 * one. *LABEL gets the profile; FALSE with *WHY otherwise (no label, <seclabel type='none'/>, an
 * SELinux label, a profile named for another domain). */
gboolean fp_apparmor_domain_confined(xmlNode *domain_root, const char *uuid, char **label,
                                     char **why);
