/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PCI addresses: the text form is DDDD:BB:DD.F in hex and nothing else; libvirt's attribute
 * form (domain= bus= slot= function=) is read as libvirt reads it, base 0. */
#pragma once

#include <glib.h>

typedef struct {
    guint16 domain;
    guint8 bus;
    guint8 slot;     /* 0..0x1f */
    guint8 function; /* 0..7 */
} FpPciAddr;

/* Canonical text form, e.g. "0000:41:00.0"; 13 bytes with the NUL. */
#define FP_PCI_ADDR_STRLEN 13

gboolean fp_pci_addr_parse(const char *text, FpPciAddr *out, GError **error);
gboolean fp_pci_addr_from_parts(const char *domain, const char *bus, const char *slot,
                                const char *function, FpPciAddr *out, GError **error);
void fp_pci_addr_format(const FpPciAddr *addr, char buf[FP_PCI_ADDR_STRLEN]);
gboolean fp_pci_addr_equal(const FpPciAddr *a, const FpPciAddr *b);
