/* A libvirt domain XML document and the typed queries the tuner, linter and hook need. */
#pragma once

#include "pciaddr.h"

#include <glib.h>
#include <libxml/tree.h>

typedef struct {
    xmlNode *elem; /* <hostdev type='pci'> or <interface type='hostdev'> */
    FpPciAddr addr;
    char bdf[FP_PCI_ADDR_STRLEN];
} FpHostdev;

typedef struct {
    char *origin; /* where it came from, for messages */
    xmlDoc *doc;
    char *decl;         /* the input's XML declaration, kept verbatim */
    GArray *hostdevs;   /* FpHostdev: PCI devices passed through with VFIO */
} FpDomain;

FpDomain *fp_domain_load_file(const char *path, GError **error);
FpDomain *fp_domain_load_memory(const char *buf, gsize len, const char *origin, GError **error);
void fp_domain_free(FpDomain *dom);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpDomain, fp_domain_free)

char *fp_domain_format(const FpDomain *dom, gsize *len);
xmlNode *fp_domain_root(const FpDomain *dom);
/* The <name>, or NULL. */
char *fp_domain_name(const FpDomain *dom);
/* Guest memory from <memory>, in KiB. */
gboolean fp_domain_memory_kib(const FpDomain *dom, guint64 *kib, GError **error);
/* Maximum vCPU count from <vcpu>; 0 when missing or unreadable. */
guint fp_domain_vcpus(const FpDomain *dom);
