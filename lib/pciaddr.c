/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "pciaddr.h"

#include "error.h"

#include <stdio.h>
#include <string.h>

/* One field of libvirt's <address domain= bus= slot= function=/>, read as libvirt reads it
 * (virPCIDeviceAddressParseXML: strtoul base 0): "0x10" is hex, "010" octal, "16" decimal. No
 * sign, no spaces, nothing after the number. */
static gboolean
parse_field(const char *text, guint64 max, guint64 *out)
{
    const char *p = text;
    guint base = 10;
    guint64 v = 0;

    if (!text || !*text)
        return FALSE;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
        if (!*p)
            return FALSE;
    } else if (p[0] == '0' && p[1]) {
        base = 8;
        p++;
    }
    for (; *p; p++) {
        int digit = g_ascii_xdigit_value(*p);

        if (digit < 0 || (guint)digit >= base)
            return FALSE;
        v = v * base + (guint)digit;
        if (v > max)
            return FALSE;
    }
    *out = v;
    return TRUE;
}

gboolean
fp_pci_addr_from_parts(const char *domain, const char *bus, const char *slot, const char *function,
                       FpPciAddr *out, GError **error)
{
    struct {
        const char *name;
        const char *text;
        guint64 max;
        guint64 value;
    } f[] = {
        {"domain", domain, 0xffff, 0},
        {"bus", bus, 0xff, 0},
        {"slot", slot, 0x1f, 0},
        {"function", function, 0x7, 0},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(f); i++) {
        if (!f[i].text) {
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "PCI address has no %s", f[i].name);
            return FALSE;
        }
        if (!parse_field(f[i].text, f[i].max, &f[i].value)) {
            g_autofree char *shown = g_strescape(f[i].text, NULL);
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                        "PCI address %s '%s' is not a number from 0 to 0x%" G_GINT64_MODIFIER
                        "x (0x hex, 0 octal, else decimal, as libvirt reads it)",
                        f[i].name, shown, f[i].max);
            return FALSE;
        }
    }
    out->domain = f[0].value;
    out->bus = f[1].value;
    out->slot = f[2].value;
    out->function = f[3].value;
    return TRUE;
}

gboolean
fp_pci_addr_parse(const char *text, FpPciAddr *out, GError **error)
{
    /* Exactly DDDD:BB:DD.F, so the text can go into a sysfs path unescaped. */
    static const char shape[] = "xxxx:xx:xx.x";
    guint64 s;

    if (!text || strlen(text) != sizeof(shape) - 1)
        goto bad;
    for (gsize i = 0; shape[i]; i++) {
        if (shape[i] == 'x' ? !g_ascii_isxdigit(text[i]) : text[i] != shape[i])
            goto bad;
    }
    out->domain = g_ascii_strtoull(text, NULL, 16);
    out->bus = g_ascii_strtoull(text + 5, NULL, 16);
    s = g_ascii_strtoull(text + 8, NULL, 16);
    if (s > 0x1f || g_ascii_xdigit_value(text[11]) > 7)
        goto bad;
    out->slot = s;
    out->function = g_ascii_xdigit_value(text[11]);
    return TRUE;

bad:;
    g_autofree char *shown = g_strescape(text ? text : "(null)", NULL);
    g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                "'%s' is not a PCI address of the form DDDD:BB:DD.F (hex)", shown);
    return FALSE;
}

void
fp_pci_addr_format(const FpPciAddr *addr, char buf[FP_PCI_ADDR_STRLEN])
{
    snprintf(buf, FP_PCI_ADDR_STRLEN, "%04x:%02x:%02x.%x", (unsigned)addr->domain & 0xffff,
             (unsigned)addr->bus & 0xff, (unsigned)addr->slot & 0x1f, (unsigned)addr->function & 7);
}

gboolean
fp_pci_addr_equal(const FpPciAddr *a, const FpPciAddr *b)
{
    return a->domain == b->domain && a->bus == b->bus && a->slot == b->slot &&
           a->function == b->function;
}
