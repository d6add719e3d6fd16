/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the libvirt hook does at each point of a domain's life. Runs inside libvirtd's start
 * path: never calls back into libvirt, bounded by a deadline, and says through LOG (never by
 * printing) what it did. */
#pragma once

#include "config.h"
#include "domain.h"

#include <glib.h>

typedef void (*FpHookLog)(GLogLevelFlags level, const char *message, gpointer user);

typedef struct {
    const FpConfig *config;
    gboolean config_ok; /* FALSE: the file was bad; only what is needed and safe is done */
    gint64 deadline;    /* g_get_monotonic_time() by which the hook must be done */
    FpHookLog log;
    gpointer log_user;
} FpHookCtx;

/* Why this host hands no pool slot to any domain (the pool off; no AppArmor profile per
 * domain: any QEMU could open another guest's slot); NULL: slots go to domains confined by
 * their own profile. What `fastpass pool status` says. */
char *fp_hook_slots_refused(const FpConfig *config);

/* prepare begin: prepares the domain's PCI devices (all at once) and reserves its hugepages.
 * FALSE means the start must be refused; the error is one line for libvirt to show. */
gboolean fp_hook_prepare(FpHookCtx *ctx, FpDomain *dom, GError **error);
/* start begin (libvirt has labelled everything; QEMU has not run yet): when libvirt confines the
 * domain with AppArmor and the hook gave it a pool slot, that domain's own profile gets the slot
 * (libvirt's per-domain rules file, through virt-aa-helper). XML/LEN: what libvirt passed, with
 * the live <seclabel>. Never refuses the start: a slot QEMU cannot open makes the wrapper fall
 * back to QEMU's own allocation, saying why. */
void fp_hook_start(FpHookCtx *ctx, FpDomain *dom, const char *xml, gsize len);
/* release end: releases the devices as configured and gives back the hugepages it added. */
gboolean fp_hook_release(FpHookCtx *ctx, FpDomain *dom, GError **error);
/* migrate begin / restore begin: the XML libvirt should use. Tuned when that works and is
 * configured, else the input unchanged; never empty. */
char *fp_hook_rewrite_xml(FpHookCtx *ctx, const char *xml, gsize len, gsize *out_len);
/* Gives back the hugepages every record in $RUN_DIR/hugepages holds for a domain that does not
 * run (no process under proc_root has "-uuid UUID" on its command line), settling writes that a
 * killed hook left pending, and removes those records. NOTES gets one line per record. FALSE
 * when the process table cannot be read (nothing is given back then) or a record could not be
 * given back (it stays, named in NOTES). For `fastpass recover` and boot. */
gboolean fp_hook_recover_hugepages(const FpConfig *config, GPtrArray *notes, GError **error);
