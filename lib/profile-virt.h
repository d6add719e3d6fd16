/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Profiling starts through libvirt (the libvirt C API). In the fastpass-virt library, which only
 * the CLI links: the hook must never link libvirt. */
#pragma once

#include "profile.h"

typedef struct {
    const char *uri;         /* NULL: qemu:///system */
    const char *target;      /* a defined domain's name, or a domain XML file */
    gboolean is_xml;         /* TARGET is a file: started transient with virDomainCreateXML */
    guint repeat;            /* starts, each destroyed before the next */
    guint timeout_s;         /* for each start's first kernel line */
    const char *run_dir;     /* where the hook and the wrapper write timelines (config run_dir) */
    const char *proc_root;   /* NULL: /proc */
    const char *pid_dir;     /* NULL: /run/libvirt/qemu (NAME.pid) */
    const char *log_dir;     /* NULL: /var/log/libvirt/qemu (NAME.log: QEMU's stderr) */
    gboolean trace_dma;      /* add QEMU -trace arguments (<qemu:commandline>) to count VFIO DMA */
    gboolean trace_firmware; /* and the fw_cfg ones, for the firmware's milestones */
    volatile sig_atomic_t *cancel; /* set (by a signal handler): destroy and stop */
    void (*progress)(const char *message, void *user);
    /* Called between two starts (after one is destroyed, before the next), e.g. to scrub pool
     * slots; FALSE stops the profile with its error. */
    gboolean (*between)(void *user, GError **error);
    void *user;
} FpVirtProfileOptions;

/* Starts the domain REPEAT times, measuring each start, and destroys it after each (also when
 * cancelled or failing). A start without a first kernel line is kept with a note. */
FpProfile *fp_virt_profile(const FpVirtProfileOptions *o, const char *label, GError **error);
