/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fastpass's QEMU, patch 0005 (x-keep-dma-maps): its piece bookkeeping, hw/vfio/dma-pieces.c
 * built from the patched QEMU tree, against a fake kernel and a fake memory core.
 *
 * The fake kernel keeps VFIO type1v2's rules: a map that overlaps a mapping is refused (EEXIST,
 * or EBUSY where a case asks for it) and an unmap that cuts a mapping is refused (EINVAL); an
 * unmap removes the mappings inside its range. The fake memory core changes a flat view of
 * 8 MiB (RAM regions at host addresses of their own, MMIO, IOMMU regions) as QEMU's does: every
 * section that changed is removed (region_del), then the new ones added (region_add), then
 * commit; an IOMMU section's notifier maps its translations when it is added (the replay) and
 * when the guest maps more. The listener calls the bookkeeping as hw/vfio/common.c does:
 * region_add takes a reference to the section's region and region_del drops it; RAM sections go
 * to vfio_dma_pieces_add_ram / _del_ram (the caller unmaps the range when del_ram says so), an
 * IOMMU section's add to vfio_dma_pieces_add_iommu first, its del to the plain unmap.
 *
 * Checked after every call: no mapping the kernel holds points into a region nobody holds a
 * reference to. After every commit: the kernel's RAM mappings are exactly the RAM sections of
 * the view (no leak, nothing mapped that is not RAM, right host address and access), its IOMMU
 * mappings exactly the translations of the IOMMU sections present (the bookkeeping never touches
 * them), no map or unmap was refused. At the end (all sections removed): nothing mapped, no
 * reference left. Directed cases name the defects of series 2; then random transactions.
 *
 * Built with -DDEL_IOMMU_TOO the listener also hands IOMMU sections' removals to the
 * bookkeeping, as series 2's region_del did (tests/qemu/dma-pieces-series2.c).
 *
 * usage: dma-pieces-test [-R] [RANDOM_RUNS]   exit 0 when every check passed, 1 otherwise
 *   -R  no reference checks (so that series 2's other defects show, not only that one)
 *   RANDOM_RUNS  runs of 300 random transactions, seeds 1..RANDOM_RUNS (default 200)
 */
#include "qemu/osdep.h"
#include "hw/vfio/vfio-dma-pieces.h"
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DEL_IOMMU_TOO
#define DEL_IOMMU_TOO 0
#endif

#define KiB 1024ULL
#define MiB (1024 * KiB)
#define GRAIN (64 * KiB)
#define CELLS 128 /* 8 MiB */
#define PAGE (4 * KiB)
#define NMR 4                     /* RAM regions */
#define NIOMMU 2                  /* IOMMU regions */
#define IOMMU_TARGET 0xa0000000UL /* host addresses the IOMMU translations point to */

typedef enum { MMIO, RAM, IOMMU } Kind;

typedef struct {
    Kind kind;
    int id;       /* RAM region or IOMMU region */
    uint64_t off; /* offset in the RAM region */
    bool ro;
} Cell;

typedef struct {
    uint64_t iova, size;
    Cell c; /* of its first cell */
} Sec;

typedef struct {
    Cell cell[CELLS];
    Sec sec[CELLS];
    int n;
} View;

typedef struct {
    uint64_t iova, size;
    uintptr_t vaddr;
    bool ro, iommu;
} KMap;

static GArray *kmaps;                    /* the fake kernel's mappings */
static int refs[NMR + NIOMMU];           /* references held on each region */
static char region[NMR + NIOMMU];        /* the regions: their addresses are the owners */
static GHashTable *translations[NIOMMU]; /* IOVA -> 1, per IOMMU region */
static View cur;
static VFIODMAPieces pieces;
static bool busy_on_overlap;
static int kept_count, maps_at_or_above_1m, maps_total;
static const char *test_name;
static int test_failures, total_failures;
static char step[160];
static bool check_references = true;
static bool quiet; /* no "ok" line: the random runs */

static void fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void
fail(const char *fmt, ...)
{
    va_list ap;

    if (++test_failures <= 3) {
        va_start(ap, fmt);
        printf("FAIL %s: ", test_name);
        vprintf(fmt, ap);
        printf(" (%s)\n", step);
        va_end(ap);
    }
}

static uintptr_t
ram_base(int id)
{
    return 0x10000000UL * (id + 1);
}

static int
owner_index(const void *owner)
{
    return (const char *)owner - region;
}

/* The fake kernel */

static int
kernel_map(uint64_t iova, uint64_t size, uintptr_t vaddr, bool ro, bool iommu)
{
    KMap k = {iova, size, vaddr, ro, iommu};

    for (guint i = 0; i < kmaps->len; i++) {
        KMap *m = &g_array_index(kmaps, KMap, i);
        if (m->iova < iova + size && iova < m->iova + m->size) {
            return busy_on_overlap ? -EBUSY : -EEXIST;
        }
    }
    g_array_append_val(kmaps, k);
    maps_total++;
    if (!iommu && iova >= MiB) {
        maps_at_or_above_1m++;
    }
    return 0;
}

static int
kernel_unmap(uint64_t iova, uint64_t size)
{
    for (guint i = 0; i < kmaps->len; i++) {
        KMap *m = &g_array_index(kmaps, KMap, i);
        bool overlaps = m->iova < iova + size && iova < m->iova + m->size;
        bool inside = m->iova >= iova && m->iova + m->size <= iova + size;
        if (overlaps && !inside) {
            return -EINVAL;
        }
    }
    for (guint i = kmaps->len; i-- > 0;) {
        KMap *m = &g_array_index(kmaps, KMap, i);
        if (m->iova >= iova && m->iova + m->size <= iova + size) {
            g_array_remove_index(kmaps, i);
        }
    }
    return 0;
}

/* The container's side, as hw/vfio/common.c gives it to the bookkeeping */

static int
op_map(void *opaque, uint64_t iova, uint64_t size, void *vaddr, bool ro)
{
    return kernel_map(iova, size, (uintptr_t)vaddr, ro, false);
}

static int
op_unmap(void *opaque, uint64_t iova, uint64_t size)
{
    int ret = kernel_unmap(iova, size);

    if (ret) {
        fail("unmap 0x%" PRIx64 "+0x%" PRIx64 " refused (%d): it cuts a mapping", iova, size, ret);
    }
    return ret;
}

static void
op_ref(void *owner)
{
    refs[owner_index(owner)]++;
}

static void
op_unref(void *owner)
{
    if (--refs[owner_index(owner)] < 0) {
        fail("region %d: more references dropped than taken", owner_index(owner));
    }
}

static void
op_kept(void *opaque, uint64_t iova, uint64_t size)
{
    kept_count++;
}

static const VFIODMAPiecesOps ops = {op_map, op_unmap, op_ref, op_unref, op_kept};

/* Checks */

/* Any time: every RAM mapping's region is held by someone */
static void
check_refs(void)
{
    if (!check_references) {
        return;
    }
    for (guint i = 0; i < kmaps->len; i++) {
        KMap *m = &g_array_index(kmaps, KMap, i);
        int id = m->vaddr / 0x10000000UL - 1;
        if (!m->iommu && refs[id] <= 0) {
            fail("0x%" PRIx64 "+0x%" PRIx64 " still maps region %d, which nobody holds a "
                 "reference to",
                 m->iova, m->size, id);
        }
    }
}

/* After a commit: the kernel maps exactly what the view says */
static void
check_view(uint64_t split)
{
    for (guint i = 0; i < kmaps->len; i++) {
        KMap *m = &g_array_index(kmaps, KMap, i);
        int c = m->iova / GRAIN;
        const Cell *cell = &cur.cell[c];
        if (m->iommu) {
            bool ok = cell->kind == IOMMU && m->size == PAGE &&
                      g_hash_table_contains(translations[cell->id], GUINT_TO_POINTER(m->iova));
            if (!ok) {
                fail("stale IOMMU mapping 0x%" PRIx64 " (no IOMMU section has that translation)",
                     m->iova);
            }
            continue;
        }
        for (uint64_t a = m->iova; a < m->iova + m->size; a += GRAIN) {
            const Cell *x = &cur.cell[a / GRAIN];
            if (x->kind != RAM) {
                fail("0x%" PRIx64 " mapped, and the view has no RAM there (%s)", a,
                     x->kind == MMIO ? "MMIO" : "IOMMU");
                break;
            }
            if (m->vaddr + (a - m->iova) != ram_base(x->id) + x->off || m->ro != x->ro) {
                fail("0x%" PRIx64 " maps the wrong host address or access", a);
                break;
            }
        }
        if (split && m->iova < split && m->iova + m->size > split) {
            fail("0x%" PRIx64 "+0x%" PRIx64 " crosses the split", m->iova, m->size);
        }
    }
    /* Coverage: every RAM cell mapped, every present translation mapped */
    for (int c = 0; c < CELLS; c++) {
        uint64_t a = (uint64_t)c * GRAIN;
        bool found = false;
        if (cur.cell[c].kind != RAM) {
            continue;
        }
        for (guint i = 0; i < kmaps->len && !found; i++) {
            KMap *m = &g_array_index(kmaps, KMap, i);
            found = !m->iommu && m->iova <= a && a < m->iova + m->size;
        }
        if (!found) {
            fail("RAM at 0x%" PRIx64 " is not mapped", a);
        }
    }
    for (int id = 0; id < NIOMMU; id++) {
        GHashTableIter it;
        gpointer key;
        g_hash_table_iter_init(&it, translations[id]);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
            uint64_t t = GPOINTER_TO_UINT(key);
            bool found = false;
            if (cur.cell[t / GRAIN].kind != IOMMU || cur.cell[t / GRAIN].id != id) {
                continue;
            }
            for (guint i = 0; i < kmaps->len && !found; i++) {
                KMap *m = &g_array_index(kmaps, KMap, i);
                found = m->iommu && m->iova == t;
            }
            if (!found) {
                fail("IOMMU translation 0x%" PRIx64 " lost", t);
            }
        }
    }
    check_refs();
}

/* The fake memory core */

static bool
cells_join(const Cell *a, const Cell *b)
{
    if (a->kind != b->kind) {
        return false;
    }
    switch (a->kind) {
    case RAM:
        return a->id == b->id && a->ro == b->ro && a->off + GRAIN == b->off;
    case IOMMU:
        return a->id == b->id;
    default:
        return true;
    }
}

static void
view_sections(View *v)
{
    v->n = 0;
    for (int c = 0; c < CELLS; c++) {
        if (c && cells_join(&v->cell[c - 1], &v->cell[c])) {
            v->sec[v->n - 1].size += GRAIN;
            continue;
        }
        v->sec[v->n].iova = (uint64_t)c * GRAIN;
        v->sec[v->n].size = GRAIN;
        v->sec[v->n].c = v->cell[c];
        v->n++;
    }
}

static bool
sec_equal(const Sec *a, const Sec *b)
{
    return a->iova == b->iova && a->size == b->size && a->c.kind == b->c.kind &&
           a->c.id == b->c.id && a->c.off == b->c.off && a->c.ro == b->c.ro;
}

static bool
in_view(const View *v, const Sec *s)
{
    for (int i = 0; i < v->n; i++) {
        if (sec_equal(&v->sec[i], s)) {
            return true;
        }
    }
    return false;
}

static void *
owner_of(const Sec *s)
{
    return &region[s->c.kind == RAM ? s->c.id : NMR + s->c.id];
}

static void
replay(const Sec *s)
{
    GHashTableIter it;
    gpointer key;

    g_hash_table_iter_init(&it, translations[s->c.id]);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        uint64_t t = GPOINTER_TO_UINT(key);
        if (t >= s->iova && t < s->iova + s->size) {
            int ret = kernel_map(t, PAGE, IOMMU_TARGET + t, false, true);
            if (ret) {
                fail("the IOMMU notifier's map of 0x%" PRIx64 " refused (%d): something else "
                     "is mapped there",
                     t, ret);
            }
        }
    }
}

static void
listener_add(const Sec *s)
{
    int ret;

    if (s->c.kind == MMIO) {
        return;
    }
    snprintf(step, sizeof(step), "region_add %s 0x%" PRIx64 "+0x%" PRIx64,
             s->c.kind == RAM ? "RAM" : "IOMMU", s->iova, s->size);
    op_ref(owner_of(s)); /* memory_region_ref() in region_add */
    if (s->c.kind == IOMMU) {
        vfio_dma_pieces_add_iommu(&pieces, s->iova, s->size);
        replay(s);
        check_refs();
        return;
    }
    ret = vfio_dma_pieces_add_ram(&pieces, s->iova, s->size, (void *)(ram_base(s->c.id) + s->c.off),
                                  s->c.ro, owner_of(s));
    if (ret) {
        fail("vfio_dma_pieces_add_ram = %d", ret);
    }
    check_refs();
}

static void
listener_del(const Sec *s)
{
    bool unmap = true;

    if (s->c.kind == MMIO) {
        return;
    }
    snprintf(step, sizeof(step), "region_del %s 0x%" PRIx64 "+0x%" PRIx64,
             s->c.kind == RAM ? "RAM" : "IOMMU", s->iova, s->size);
    if (s->c.kind == RAM || DEL_IOMMU_TOO) {
        unmap = !vfio_dma_pieces_del_ram(&pieces, s->iova, s->size);
    }
    if (unmap) {
        op_unmap(NULL, s->iova, s->size);
    }
    op_unref(owner_of(s)); /* memory_region_unref() in region_del */
    check_refs();
}

/* Moves the view to NEXT as QEMU's memory core does: dels, adds, commit */
static void
transaction(View *next, uint64_t split)
{
    view_sections(next);
    for (int i = 0; i < cur.n; i++) {
        if (!in_view(next, &cur.sec[i])) {
            listener_del(&cur.sec[i]);
        }
    }
    for (int i = 0; i < next->n; i++) {
        if (!in_view(&cur, &next->sec[i])) {
            listener_add(&next->sec[i]);
        }
    }
    snprintf(step, sizeof(step), "commit");
    vfio_dma_pieces_commit(&pieces);
    cur = *next;
    check_view(split);
}

static void
set_cells(View *v, uint64_t from, uint64_t to, Kind kind, int id, uint64_t off, bool ro)
{
    for (uint64_t a = from; a < to; a += GRAIN) {
        Cell *c = &v->cell[a / GRAIN];
        c->kind = kind;
        c->id = id;
        c->off = kind == RAM ? off + (a - from) : 0;
        c->ro = ro;
    }
}

static void
begin(const char *name, uint64_t split)
{
    test_name = name;
    test_failures = 0;
    kept_count = maps_at_or_above_1m = maps_total = 0;
    busy_on_overlap = false;
    kmaps = g_array_new(false, false, sizeof(KMap));
    memset(refs, 0, sizeof(refs));
    for (int i = 0; i < NIOMMU; i++) {
        translations[i] = g_hash_table_new(NULL, NULL);
    }
    memset(&cur, 0, sizeof(cur)); /* all MMIO */
    view_sections(&cur);
    vfio_dma_pieces_init(&pieces, &ops, NULL, split);
}

/* Everything removed, as memory_listener_unregister() does: nothing may be left */
static void
end(const char *detail)
{
    View empty;

    memset(&empty, 0, sizeof(empty));
    transaction(&empty, 0);
    snprintf(step, sizeof(step), "after removing every section");
    if (kmaps->len) {
        fail("%u mappings left in the kernel", kmaps->len);
    }
    for (int i = 0; i < NMR + NIOMMU && check_references; i++) {
        if (refs[i]) {
            fail("region %d: %d references left", i, refs[i]);
        }
    }
    vfio_dma_pieces_forget_all(&pieces);
    g_array_free(kmaps, true);
    for (int i = 0; i < NIOMMU; i++) {
        g_hash_table_destroy(translations[i]);
    }
    if (!test_failures && !quiet) {
        printf("ok %s%s%s\n", test_name, detail ? ": " : "", detail ? detail : "");
    } else if (test_failures > 3) {
        printf("FAIL %s: ... %d failures in all\n", test_name, test_failures);
    }
    total_failures += test_failures;
}

/* SeaBIOS's PAM changes on a PC: the RAM above 1 MiB must be mapped once */
static void
test_pam(void)
{
    View rom, ram;
    char detail[120];

    begin("pam-changes-keep-ram-above-1m", MiB);
    memset(&rom, 0, sizeof(rom));
    set_cells(&rom, 0, 0xc0000, RAM, 0, 0, false);
    set_cells(&rom, 0xc0000, MiB, RAM, 1, 0, true); /* the BIOS ROM */
    set_cells(&rom, MiB, 8 * MiB, RAM, 0, MiB, false);
    memset(&ram, 0, sizeof(ram));
    set_cells(&ram, 0, 8 * MiB, RAM, 0, 0, false); /* PAM: RAM all through */
    for (int i = 0; i < 4; i++) {
        transaction(&rom, MiB);
        transaction(&ram, MiB);
    }
    snprintf(step, sizeof(step), "after 8 PAM changes");
    if (maps_at_or_above_1m != 1) {
        fail("the RAM above 1 MiB was mapped %d times", maps_at_or_above_1m);
    }
    if (!kept_count) {
        fail("no mapping was kept");
    }
    snprintf(detail, sizeof(detail), "%d maps in all, %d at or above 1 MiB, %d pieces kept",
             maps_total, maps_at_or_above_1m, kept_count);
    end(detail);
}

/* Not a PC: no split; a section is one mapping */
static void
test_no_split(void)
{
    View v;

    begin("no-split-off-pc", 0);
    memset(&v, 0, sizeof(v));
    set_cells(&v, 0, 8 * MiB, RAM, 0, 0, false);
    transaction(&v, 0);
    snprintf(step, sizeof(step), "one RAM section");
    if (kmaps->len != 1) {
        fail("%u mappings for one section", kmaps->len);
    }
    end(NULL);
}

/* Defect 1: an IOMMU section's removal must unmap what its notifier mapped */
static void
test_iommu_del(void)
{
    View on, off;

    begin("iommu-section-removed-unmaps-its-translations", MiB);
    g_hash_table_add(translations[0], GUINT_TO_POINTER(2 * MiB));
    g_hash_table_add(translations[0], GUINT_TO_POINTER(5 * MiB + 4 * KiB));
    memset(&on, 0, sizeof(on));
    set_cells(&on, 0, MiB, RAM, 0, 0, false);
    set_cells(&on, MiB, 8 * MiB, IOMMU, 0, 0, false);
    memset(&off, 0, sizeof(off));
    set_cells(&off, 0, 8 * MiB, RAM, 0, 0, false); /* translation off again: RAM */
    transaction(&on, MiB);
    transaction(&off, MiB);
    transaction(&on, MiB);
    end(NULL);
}

/* An IOMMU section replacing RAM: its replay maps before the commit */
static void
test_iommu_over_pending(void)
{
    View ram, on;

    begin("iommu-section-replaces-ram-pending-pieces", MiB);
    g_hash_table_add(translations[0], GUINT_TO_POINTER(3 * MiB));
    memset(&ram, 0, sizeof(ram));
    set_cells(&ram, 0, 8 * MiB, RAM, 0, 0, false);
    memset(&on, 0, sizeof(on));
    set_cells(&on, 0, MiB, RAM, 0, 0, false);
    set_cells(&on, MiB, 8 * MiB, IOMMU, 0, 0, false);
    transaction(&ram, MiB);
    transaction(&on, MiB);
    end(NULL);
}

/* Defect 2: a piece pending until commit holds its region */
static void
test_reference(void)
{
    View a, b;

    begin("pending-piece-holds-its-region", MiB);
    memset(&a, 0, sizeof(a));
    set_cells(&a, 0, MiB, RAM, 0, 0, false);
    set_cells(&a, MiB, 8 * MiB, RAM, 1, 0, false);
    memset(&b, 0, sizeof(b));
    set_cells(&b, 0, MiB, RAM, 0, 0, false); /* region 1 goes away */
    transaction(&a, MiB);
    transaction(&b, MiB);
    end(NULL);
}

/*
 * Defect 3: the removal of a range that cuts pieces (only after an earlier inconsistency) must
 * unmap what it forgets. Called directly: no flat view produces it.
 */
static void
test_partial(void)
{
    View a;
    void *owner = &region[0];

    begin("partial-overlap-unmaps-what-it-forgets", MiB);
    memset(&a, 0, sizeof(a));
    snprintf(step, sizeof(step), "add 0+2 MiB, del 512 KiB+1 MiB");
    op_ref(owner);
    vfio_dma_pieces_add_ram(&pieces, 0, 2 * MiB, (void *)ram_base(0), false, owner);
    if (!vfio_dma_pieces_del_ram(&pieces, 512 * KiB, MiB)) {
        op_unmap(NULL, 512 * KiB, MiB);
    }
    for (guint i = 0; i < kmaps->len; i++) {
        KMap *m = &g_array_index(kmaps, KMap, i);
        if (m->iova < 1536 * KiB && 512 * KiB < m->iova + m->size) {
            fail("0x%" PRIx64 "+0x%" PRIx64 " still mapped inside the removed range", m->iova,
                 m->size);
        }
    }
    snprintf(step, sizeof(step), "del the rest, commit");
    if (!vfio_dma_pieces_del_ram(&pieces, 0, 512 * KiB)) {
        op_unmap(NULL, 0, 512 * KiB);
    }
    if (!vfio_dma_pieces_del_ram(&pieces, 1536 * KiB, 512 * KiB)) {
        op_unmap(NULL, 1536 * KiB, 512 * KiB);
    }
    op_unref(owner);
    vfio_dma_pieces_commit(&pieces);
    check_view(MiB);
    end(NULL);
}

/* Defect 4: a map the kernel answers with EBUSY (something untracked there): the retry */
static void
test_ebusy(void)
{
    View a;

    begin("ebusy-retry-keeps-the-pieces-right", MiB);
    kernel_map(3 * MiB, PAGE, ram_base(2), false, false); /* stale, untracked */
    refs[2]++;                                            /* held by whoever made it */
    busy_on_overlap = true;
    memset(&a, 0, sizeof(a));
    set_cells(&a, 0, 8 * MiB, RAM, 0, 0, false);
    transaction(&a, MiB);
    refs[2]--;
    busy_on_overlap = false;
    end(NULL);
}

/* Random transactions: mostly windows of the view changed to something else, as PAM, SMRAM,
 * BAR and IOMMU changes do */
static void
test_random(unsigned seed, int steps)
{
    char name[64];
    View v;
    GRand *r = g_rand_new_with_seed(seed);

    snprintf(name, sizeof(name), "random-seed-%u", seed);
    begin(name, MiB);
    test_name = name;
    memset(&v, 0, sizeof(v));
    set_cells(&v, 0, 8 * MiB, RAM, 0, 0, false);
    for (int i = 0; i < steps && test_failures == 0; i++) {
        int k = g_rand_int_range(r, 0, 8);
        int from = g_rand_int_range(r, 0, CELLS);
        int len = g_rand_int_range(r, 1, k < 4 ? 5 : 40);
        int to = MIN(CELLS, from + len);
        uint64_t a = (uint64_t)from * GRAIN, b = (uint64_t)to * GRAIN;

        switch (k) {
        case 0:
        case 1:
        case 2:
            set_cells(&v, a, b, RAM, 0, a, false); /* main RAM, identity */
            break;
        case 3:
            set_cells(&v, a, b, RAM, 0, a, true); /* read-only (ROM-like) */
            break;
        case 4:
            set_cells(&v, a, b, RAM, g_rand_int_range(r, 1, NMR),
                      (uint64_t)g_rand_int_range(r, 0, 64) * GRAIN, g_rand_boolean(r));
            break;
        case 5:
            set_cells(&v, a, b, MMIO, 0, 0, false);
            break;
        case 6:
            set_cells(&v, a, b, IOMMU, g_rand_int_range(r, 0, NIOMMU), 0, false);
            break;
        default:
            /* the guest maps (or unmaps) a page through an IOMMU, between transactions */
            {
                int id = g_rand_int_range(r, 0, NIOMMU);
                uint64_t t = (uint64_t)g_rand_int_range(r, 0, CELLS * (GRAIN / PAGE)) * PAGE;
                const Cell *c = &cur.cell[t / GRAIN];
                bool present = c->kind == IOMMU && c->id == id;
                snprintf(step, sizeof(step), "IOMMU notifier 0x%" PRIx64, t);
                if (g_hash_table_contains(translations[id], GUINT_TO_POINTER(t))) {
                    g_hash_table_remove(translations[id], GUINT_TO_POINTER(t));
                    if (present) {
                        op_unmap(NULL, t, PAGE);
                    }
                } else {
                    g_hash_table_add(translations[id], GUINT_TO_POINTER(t));
                    if (present && kernel_map(t, PAGE, IOMMU_TARGET + t, false, true)) {
                        fail("the IOMMU notifier's map of 0x%" PRIx64 " refused", t);
                    }
                }
            }
            continue;
        }
        transaction(&v, MiB);
    }
    end(NULL);
    g_rand_free(r);
}

int
main(int argc, char **argv)
{
    int runs = 200, kept = 0, maps = 0, random_failures;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-R")) {
            check_references = false;
        } else {
            runs = atoi(argv[i]);
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_pam();
    test_no_split();
    test_iommu_del();
    test_iommu_over_pending();
    test_reference();
    test_partial();
    test_ebusy();
    quiet = true;
    random_failures = total_failures;
    for (int s = 1; s <= runs; s++) {
        test_random(s, 300);
        kept += kept_count;
        maps += maps_total;
        if (total_failures > 20) {
            break;
        }
    }
    random_failures = total_failures - random_failures;
    if (!random_failures) {
        printf("ok random: %d runs of 300 transactions, %d pieces kept, %d maps\n", runs, kept,
               maps);
    }
    printf("%s: %d failures\n", total_failures ? "FAILED" : "PASSED", total_failures);
    return total_failures ? 1 : 0;
}
