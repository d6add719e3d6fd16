/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Rewriting the QEMU command line libvirt builds, for the emulator wrapper. Pure: argv in,
 * argv out plus a list of what changed; anything it does not understand is left alone. */
#pragma once

#include <glib.h>

typedef struct {
    gboolean prealloc_threads; /* memory backends take prealloc-threads (QEMU >= 5.0) */
    gboolean prealloc_context; /* ... and prealloc-context, with thread-context objects (>= 7.2) */
    /* fastpass's QEMU (launcher/qemu/patches/7.2): vfio-pci's fast-boot properties */
    gboolean vfio_skip_first_reset; /* no second reset of a device the kernel reset at open */
    gboolean vfio_parallel_open;    /* all vfio-pci devices opened (and reset) at once */
    gboolean vfio_keep_dma_maps;    /* no unmap and re-pin of RAM mapped at the same address */
    gboolean vfio_parallel_close;   /* all vfio-pci devices closed (and reset) at once at exit */
} FpQemuCaps;

typedef struct {
    const FpQemuCaps *caps;
    guint prealloc_threads; /* threads to give a backend that preallocates; 0: leave */
    const char *slot_path;  /* a clean, pre-zeroed pool slot for guest RAM, or NULL */
    const char *ram_id;     /* the backend the slot replaces (FpQemuGuest.ram_id); NULL: pc.ram */
    guint64 slot_size;      /* its size in bytes: used only when it equals the backend's */
    GPtrArray *node_cpus;   /* [node] -> GArray of guint: CPUs a thread-context for a backend
                             * bound to that node may use (NULL or empty: none) */
} FpQemuRewrite;

typedef struct {
    char *name; /* from -name guest=NAME; NULL: not a guest start (a probe, -version...) */
    char *uuid; /* from -uuid */
    /* The backend holding all guest RAM: pc.ram, or ram-node0 for a guest with one NUMA cell
     * (what Nova writes for hw:numa_nodes=1); NULL with several cells or none. */
    char *ram_id;
    guint64 ram_size; /* its size, 0 when unknown */
    int ram_node;     /* its single host-nodes entry, else -1 */
} FpQemuGuest;

/* What kind of invocation ARGV is. */
void fp_qemu_guest_read(char **argv, FpQemuGuest *guest);
void fp_qemu_guest_clear(FpQemuGuest *guest);

/* A new argv (NULL-terminated, g_strfreev) with the rewrite applied, and in *CHANGES one line
 * per change. NULL with *WHY set when the command line is not one it can safely change.
 * - `-boot` without menu= gets menu=off (SeaBIOS's menu wait); an explicit menu=on stays.
 * - the guest's RAM backend (ram_id) goes to the pool slot when its size matches.
 * - a preallocating backend gets prealloc-threads, and, bound to one node (host-nodes) with
 *   CPUs for it in node_cpus, a thread-context on those CPUs as its prealloc-context.
 * - with vfio-pci devices, each fast-boot property the binary has is turned on with -global. */
char **fp_qemu_rewrite(char **argv, const FpQemuRewrite *rw, GPtrArray *changes, char **why);
