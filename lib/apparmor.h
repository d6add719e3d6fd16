/* One extra file in one domain's AppArmor profile, the way libvirt adds a domain's own hugepage
 * directory or disk images: libvirt's virt-aa-helper appends a rule to that domain's
 * /etc/apparmor.d/libvirt/libvirt-UUID.files and reloads that profile alone. No rule goes
 * anywhere every domain's profile includes (abstractions/libvirt-qemu, the TEMPLATE). libvirt
 * regenerates the profile at each start and deletes it at stop: the rule lives exactly as long
 * as the domain runs. */
#pragma once

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
