/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The memory pool: guest RAM files on hugetlbfs, faulted in and zeroed before a VM asks for them,
 * so QEMU's prealloc finds every page already there and zeroing leaves the VM's critical path.
 *
 * A slot is one file in the pool directory; its name is its whole record (hugetlbfs files take
 * no write(2), so there is nowhere else on that filesystem to keep state):
 *
 *     slot-0003.n0.s1073741824.g512.clean
 *     slot-0003.n0.s1073741824.g512.claimed.<domain uuid>
 *     slot-0003.n0.s1073741824.g512.dirty | .scrubbing | .filling
 *
 * id, NUMA node, size in bytes, hugepages the pool added to the host for it (given back when it
 * goes), state [, owner]. Every transition is one rename(2): two claimers racing on one clean
 * slot cannot both win, and a crash leaves a name that says what to redo. Anything that is not
 * clean or claimed-by-a-valid-owner is dirty: never handed out, scrubbed into a new inode before
 * it is clean again (a stale mapping of the old file sees none of the next tenant's memory). */
#pragma once

#include <glib.h>
#include <sys/types.h>

#define FP_POOL_DEFAULT_DIR "/dev/hugepages/fastpass"

typedef enum { FP_SLOT_CLEAN, FP_SLOT_CLAIMED, FP_SLOT_DIRTY, FP_SLOT_SCRUBBING } FpSlotState;

typedef struct {
    char *id;   /* "slot-0003" */
    char *path; /* the file, as it is named now */
    int node;   /* NUMA node of its pages; -1 unknown */
    guint64 page_kib;
    guint64 size; /* bytes, as recorded when it was made */
    FpSlotState state;
    char *owner;   /* CLAIMED: the domain UUID */
    char *problem; /* why an odd slot counts as dirty (truncated, claimed without owner...); NULL */
    int user;      /* after fp_pool_slot_users: a process mapping or holding it open; 0: none */
    char *user_unknown; /* after fp_pool_slot_users, USER 0: procfs could not tell (why), so the
                         * slot counts as in use; NULL: it could */
} FpSlot;

typedef struct {
    const char *dir;        /* a directory on hugetlbfs, e.g. FP_POOL_DEFAULT_DIR */
    const char *sysfs_root; /* NULL: $FASTPASS_SYSFS_ROOT or /sys */
    const char *proc_root;  /* NULL: /proc */
    guint64 reserve_pages;  /* never take the host's free hugepages below this */
    gboolean no_grow;       /* fill from free hugepages only; never raise nr_hugepages */
    guint alloc_threads;    /* threads faulting a slot in; 0: CPUs, up to 16; 1: one fallocate */
} FpPoolOptions;

/* Adds COUNT clean slots of SIZE bytes (a multiple of the page size) on NODE (-1: any), raising
 * nr_hugepages by what is missing above the reserve (unless no_grow). Stops at the first slot it
 * cannot make, gives back the hugepages it added for that slot, and says how many it made and
 * why it stopped. Creates DIR when its parent is on hugetlbfs. */
gboolean fp_pool_fill(const FpPoolOptions *o, int node, guint64 size, guint count, GError **error);
/* A clean slot of exactly SIZE on NODE (-1: any) -> claimed by OWNER (a domain UUID). A slot found
 * truncated or half-allocated on the way is turned dirty and skipped. NULL + FP_ERROR_HOST when
 * there is none. */
FpSlot *fp_pool_claim(const FpPoolOptions *o, int node, guint64 size, const char *owner,
                      GError **error);
/* Gives the claimed SLOT to QEMU's user (UID:GID, mode 0600) and leaves its name at
 * DIR/claim-UUID, so that user finds it without listing the pool (mode 0711). */
gboolean fp_pool_give(const FpPoolOptions *o, const FpSlot *slot, uid_t uid, gid_t gid,
                      GError **error);
/* The path of the slot OWNER holds with SIZE bytes (0: any size), intact; NULL when none. */
char *fp_pool_claimed_path(const FpPoolOptions *o, const char *owner, guint64 size);
/* The same, checked to open for this process (as QEMU will open it): NULL with an error when
 * there is a slot this process may not open (its confinement, its ownership). */
char *fp_pool_usable_claim(const FpPoolOptions *o, const char *owner, guint64 size, GError **error);
/* Every slot OWNER holds -> taken back from QEMU's user (root's, mode 0000), then dirty. Returns
 * at once, never scrubs; holding none is fine. A crash between the two steps leaves a claimed
 * name on a root file of mode 0000: listed as dirty, reclaimed at once, never handed out. */
gboolean fp_pool_release(const FpPoolOptions *o, const char *owner, GError **error);
/* Every dirty, scrubbing or unrecognised slot -> pages freed, re-allocated (the kernel zeroes
 * them) into a new file, a sample verified zero -> clean. A slot that cannot get its pages back
 * is removed (its added hugepages given back once no name counts them) and reported. A slot
 * some process still maps or holds open (a guest still running on it) is left dirty for a later
 * scrub: its pages are never pulled from under it. A slot claimed since the listing is left to
 * its claimer. *SCRUBBED: slots made clean; *BUSY: slots left as in use. When procfs cannot tell
 * whether a slot is in use it is left too, and the error (after the rest is done) says why. */
gboolean fp_pool_scrub(const FpPoolOptions *o, guint *scrubbed, guint *busy, GError **error);
/* Claims nobody uses: a claimed slot that no process maps or holds open, claimed more than
 * AFTER_S seconds ago (its domain never started, or its release never came) -> root's, mode
 * 0000, its claim-UUID name removed, then dirty, to be scrubbed. *RECLAIMED: how many. A claim
 * procfs cannot tell about is kept, and the error (after the rest is done) says why. */
gboolean fp_pool_reclaim_stale(const FpPoolOptions *o, guint after_s, guint *reclaimed,
                               GError **error);
/* Removes every slot not claimed and gives back the hugepages the pool added for them. */
gboolean fp_pool_drain(const FpPoolOptions *o, GError **error);
/* FpSlot*, sorted by id; an odd slot is reported with its problem. An absent DIR whose parent is
 * on hugetlbfs is an empty pool. */
GPtrArray *fp_pool_list(const FpPoolOptions *o, GError **error);
void fp_slot_free(FpSlot *s);
/* Sets each FpSlot's user and user_unknown (SLOTS from fp_pool_list): one pass over procfs. */
void fp_pool_slot_users(const FpPoolOptions *o, GPtrArray *slots);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpSlot, fp_slot_free)

/* Checks that DIR (or, when absent, its parent) is on hugetlbfs; its page size. The error names
 * the directory and the filesystem it is on. */
gboolean fp_pool_page_kib(const FpPoolOptions *o, guint64 *page_kib, GError **error);

typedef struct {
    guint64 nr, free, resv; /* resv: promised to mappings but not faulted yet (host-wide only) */
} FpPoolPages;
/* Hugepages of PAGE_KIB on NODE (-1: host-wide), for status. */
gboolean fp_pool_host_pages(const FpPoolOptions *o, int node, guint64 page_kib, FpPoolPages *out,
                            GError **error);

/* "4 MiB", "1 GiB", "3145728 bytes": exact, ASCII, for messages. */
char *fp_pool_size_text(guint64 size);
/* "clean", "claimed", "dirty", "scrubbing". */
const char *fp_slot_state_name(FpSlotState state);
/* A libvirt domain UUID: 8-4-4-4-12 hex digits, nothing else. */
gboolean fp_pool_owner_valid(const char *owner);

/* What `fastpass pool status` shows: the slots with their users, counts and the host's pages. */
typedef struct {
    char *dir;
    guint64 page_kib;
    GPtrArray *slots; /* FpSlot*, users set (fp_pool_slot_users) */
    guint counts[FP_SLOT_SCRUBBING + 1];
    guint problems;
    guint64 total; /* bytes in slots */
    gboolean have_pages;
    FpPoolPages pages; /* host-wide, when HAVE_PAGES */
    guint64 reserve_pages;
    char *refused; /* why no domain gets a slot (the caller sets it); NULL: slots are given */
} FpPoolStatus;
FpPoolStatus *fp_pool_status(const FpPoolOptions *o, GError **error);
void fp_pool_status_free(FpPoolStatus *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpPoolStatus, fp_pool_status_free)
/* The status as JSON, for `fastpass pool status --json`. */
char *fp_pool_status_json(const FpPoolStatus *st);
/* "in use by pid 1234", "in use: cannot read /proc/1234/maps: Permission denied"; NULL: not. */
char *fp_slot_use_text(const FpSlot *s);

/* What `fastpass pool serve` keeps: KEEP clean slots of SIZE on NODE (-1: any). */
typedef struct {
    int node;
    guint64 size;
    guint keep;
    guint stale_after;               /* seconds after which a claim nobody uses is taken back */
    gboolean reclaim;                /* this round also looks for stale claims */
    gboolean (*stop)(gpointer data); /* asked before each slot made; NULL: never */
    gpointer stop_data;
} FpPoolServe;
/* What one round did; each step's failure kept (fp_pool_round_clear frees them). */
typedef struct {
    guint reclaimed, scrubbed, busy, made;
    guint clean; /* clean slots after the round; G_MAXUINT when they could not be counted */
    GError *reclaim_error, *scrub_error, *fill_error;
} FpPoolRound;
/* One round of serve: reclaim (when asked), scrub, count the clean slots, fill up to KEEP. */
void fp_pool_serve_round(const FpPoolOptions *o, const FpPoolServe *s, FpPoolRound *r);
void fp_pool_round_clear(FpPoolRound *r);
