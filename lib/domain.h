/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A libvirt domain XML document and the typed queries the tuner, linter and hook need. */
#pragma once

#include "pciaddr.h"

#include <glib.h>
#include <libxml/tree.h>

typedef struct {
    xmlNode *elem; /* <hostdev type='pci'> or <interface type='hostdev'> */
    FpPciAddr addr;
    char bdf[FP_PCI_ADDR_STRLEN];
    gboolean managed; /* libvirt detaches and reattaches it itself */
} FpHostdev;

/* Devices an operator asks fastpass to prepare beyond the domain's hostdevs (for example ones
 * QEMU does not see yet), in the domain's <metadata>:
 *   <fastpass:prepare xmlns:fastpass='https://fastpass.dev/xmlns/prepare/1'>
 *     <fastpass:device address='0000:41:00.0'/>
 *   </fastpass:prepare> */
#define FP_METADATA_NS "https://fastpass.dev/xmlns/prepare/1"

typedef struct {
    char *origin; /* where it came from, for messages */
    xmlDoc *doc;
    char *decl;       /* the input's XML declaration, kept verbatim */
    GArray *hostdevs; /* FpHostdev: PCI devices passed through with VFIO */
    GArray *declared; /* FpPciAddr: devices named in the fastpass <metadata> */
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
/* The <uuid> when it is a well-formed UUID, else NULL. */
char *fp_domain_uuid(const FpDomain *dom);
/* The hugepage size the domain asks for in KiB (2048 when <hugepages/> names none); 0 when it
 * asks for none. */
guint64 fp_domain_hugepage_kib(const FpDomain *dom);
/* The single NUMA node <numatune><memory nodeset=...> names, else -1. */
int fp_domain_memory_node(const FpDomain *dom);
/* Guest NUMA cells (<cpu><numa><cell>): 0 without any. QEMU gets one RAM backend per cell. */
guint fp_domain_numa_cells(const FpDomain *dom);
