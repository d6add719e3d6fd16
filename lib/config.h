/* SPDX-License-Identifier: GPL-2.0-or-later */
/* /etc/fastpass/fastpass.json: every key optional, every value checked; see README's
 * "Configuration" for the keys and their defaults. */
#pragma once

#include "prep.h"

#include <glib.h>
#include <sys/types.h>

#define FP_CONFIG_DEFAULT_PATH "/etc/fastpass/fastpass.json"

typedef struct {
    char *sysfs_root;
    char *proc_root;
    char *dev_root;              /* where /dev/vfio is: the in-use check scans who holds it open */
    char *libvirt_status_dir;    /* libvirt's status XML of running domains (<domstatus>) */
    char **host_devices_allowed; /* PCI addresses fastpass may take from the host despite its
                                  * use there (a mounted filesystem, an address, a console) */
    char *run_dir;
    guint device_timeout_ms;
    guint hook_deadline_ms;
    guint max_workers;
    FpReleaseMode release_mode;
    gboolean reserve_hugepages;
    gboolean compact_memory;
    gboolean tune_on_restore;
    char *log_level;     /* "debug", "info", "warning" */
    char *log_file;      /* also append log lines here; NULL: journal or stderr only */
    char *qemu_binary;   /* the real QEMU the emulator wrapper runs, once loaded: as set, else
                          * fastpass_qemu when that is installed, else Debian's; QEMU.distrib
                          * where fastpass-wrap-qemu diverted QEMU */
    char *fastpass_qemu; /* where fastpass's QEMU (launcher/qemu/build-qemu) is installed */
    char *pool_dir;      /* pre-zeroed guest-memory slots, on hugetlbfs */
    gboolean use_pool;   /* claim a slot at prepare begin and give QEMU its path */
    char *qemu_user;     /* the user QEMU runs as (qemu.conf's user): claimed slots become its */
    char *
        apparmor_helper; /* libvirt's virt-aa-helper: adds a claimed slot to its domain's profile */
    char *libvirt_qemu_conf; /* libvirt's qemu.conf: its security_driver says whether libvirt
                              * confines each domain (pool slots go only to confined ones) */
} FpConfig;

/* The built-in defaults. */
FpConfig *fp_config_new(void);
/* Reads PATH over the defaults and decides which QEMU runs (qemu_binary). A missing file is
 * not an error (*EXISTS = FALSE); a bad key or value is, named in the message, and leaves
 * CONFIG as it was but for qemu_binary following a diversion. */
gboolean fp_config_load(FpConfig *config, const char *path, gboolean *exists, GError **error);
/* The value of key NAME as text (a path, a number, true/false, a choice; "" for an unset
 * path), or NULL when there is no such key; fp_config_key_names() lists them in file order. */
char *fp_config_get(const FpConfig *config, const char *name);
const char *const *fp_config_key_names(void);
void fp_config_free(FpConfig *config);
/* The uid and gid of qemu_user, from /etc/passwd (a system user; read directly, so the hook
 * opens no socket to a name service on libvirt's start path), else the name service. */
gboolean fp_config_qemu_ids(const FpConfig *config, uid_t *uid, gid_t *gid);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpConfig, fp_config_free)
