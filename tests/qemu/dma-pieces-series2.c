/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Series 2's x-keep-dma-maps bookkeeping (launcher/qemu/patches/7.2/0005 as of series 2, in
 * hw/vfio/common.c: vfio_dma_map_piece, vfio_dma_map_ram, vfio_dma_unmap_ram,
 * vfio_listener_commit), transcribed line for line onto the interface of series 3's
 * hw/vfio/dma-pieces.c, so that tests/qemu/dma-pieces-test.c can show what it catches in it.
 * Built with -DDEL_IOMMU_TOO: series 2's region_del called vfio_dma_unmap_ram() for every
 * section not 2^64 long, IOMMU sections included (common.c:1350 of the series-2 tree).
 * Nothing here is built into QEMU.
 */
#include "qemu/osdep.h"
#include "hw/vfio/vfio-dma-pieces.h"

struct VFIODMAPiece {
    uint64_t iova;
    uint64_t size;
    void *vaddr;
    bool readonly;
    bool unmap_pending;
    VFIODMAPiece *next;
};

void
vfio_dma_pieces_init(VFIODMAPieces *p, const VFIODMAPiecesOps *ops, void *opaque, uint64_t split)
{
    p->ops = ops;
    p->opaque = opaque;
    p->split = split;
    p->head = NULL;
}

/* vfio_dma_map(): the ioctl, and on EBUSY an unmap of the range and the ioctl again */
static int
s2_dma_map(VFIODMAPieces *p, uint64_t iova, uint64_t size, void *vaddr, bool ro)
{
    int ret = p->ops->map(p->opaque, iova, size, vaddr, ro);

    if (ret == -EBUSY && p->ops->unmap(p->opaque, iova, size) == 0) {
        ret = p->ops->map(p->opaque, iova, size, vaddr, ro);
    }
    return ret;
}

static void
unlink_piece(VFIODMAPieces *p, VFIODMAPiece *m)
{
    VFIODMAPiece **link = &p->head;

    while (*link != m) {
        link = &(*link)->next;
    }
    *link = m->next;
}

/* vfio_dma_mapping_drop(): no reference was ever held */
static void
s2_drop(VFIODMAPieces *p, VFIODMAPiece *m)
{
    p->ops->unmap(p->opaque, m->iova, m->size);
    unlink_piece(p, m);
    g_free(m);
}

static void
s2_flush_overlaps(VFIODMAPieces *p, uint64_t iova, uint64_t size)
{
    VFIODMAPiece *m, *tmp;

    for (m = p->head; m; m = tmp) {
        tmp = m->next;
        if (m->unmap_pending && m->iova < iova + size && iova < m->iova + m->size) {
            s2_drop(p, m);
        }
    }
}

static void
s2_add(VFIODMAPieces *p, uint64_t iova, uint64_t size, void *vaddr, bool ro)
{
    VFIODMAPiece *m = g_new0(VFIODMAPiece, 1);

    m->iova = iova;
    m->size = size;
    m->vaddr = vaddr;
    m->readonly = ro;
    m->next = p->head;
    p->head = m;
}

static int
s2_map_piece(VFIODMAPieces *p, uint64_t iova, uint64_t size, void *vaddr, bool ro)
{
    uint64_t end = iova + size, pos = iova;
    VFIODMAPiece *m;
    int ret;

    for (m = p->head; m; m = m->next) {
        if (m->iova >= iova && m->iova + m->size <= end &&
            m->vaddr == (char *)vaddr + (m->iova - iova) && m->readonly == ro) {
            if (m->unmap_pending && p->ops->kept) {
                p->ops->kept(p->opaque, m->iova, m->size);
            }
            m->unmap_pending = false;
        }
    }
    s2_flush_overlaps(p, iova, size);
    while (pos < end) {
        uint64_t next = end;
        bool covered = false;

        for (m = p->head; m; m = m->next) {
            if (m->iova <= pos && pos < m->iova + m->size) {
                pos = m->iova + m->size;
                covered = true;
                break;
            }
            if (m->iova > pos && m->iova < next) {
                next = m->iova;
            }
        }
        if (covered) {
            continue;
        }
        ret = s2_dma_map(p, pos, next - pos, (char *)vaddr + (pos - iova), ro);
        if (ret) {
            return ret;
        }
        s2_add(p, pos, next - pos, (char *)vaddr + (pos - iova), ro);
        pos = next;
    }
    return 0;
}

int
vfio_dma_pieces_add_ram(VFIODMAPieces *p, uint64_t iova, uint64_t size, void *vaddr, bool readonly,
                        void *owner)
{
    uint64_t low;
    int ret;

    if (p->split && iova < p->split && iova + size > p->split) {
        low = p->split - iova;
        ret = s2_map_piece(p, iova, low, vaddr, readonly);
        if (ret) {
            return ret;
        }
        return s2_map_piece(p, p->split, size - low, (char *)vaddr + low, readonly);
    }
    return s2_map_piece(p, iova, size, vaddr, readonly);
}

/* Series 2 did nothing for an IOMMU section's add */
void
vfio_dma_pieces_add_iommu(VFIODMAPieces *p, uint64_t iova, uint64_t size)
{
}

/* vfio_dma_unmap_ram() */
bool
vfio_dma_pieces_del_ram(VFIODMAPieces *p, uint64_t iova, uint64_t size)
{
    VFIODMAPiece *m, *tmp;

    for (m = p->head; m; m = m->next) {
        bool inside = m->iova >= iova && m->iova + m->size <= iova + size;
        bool overlaps = m->iova < iova + size && iova < m->iova + m->size;

        if (overlaps && !inside) {
            for (m = p->head; m; m = tmp) {
                tmp = m->next;
                if (m->iova < iova + size && iova < m->iova + m->size) {
                    unlink_piece(p, m);
                    g_free(m);
                }
            }
            return false;
        }
    }
    for (m = p->head; m; m = m->next) {
        if (m->iova >= iova && m->iova + m->size <= iova + size) {
            m->unmap_pending = true;
        }
    }
    return true;
}

void
vfio_dma_pieces_commit(VFIODMAPieces *p)
{
    VFIODMAPiece *m, *tmp;

    for (m = p->head; m; m = tmp) {
        tmp = m->next;
        if (m->unmap_pending) {
            s2_drop(p, m);
        }
    }
}

void
vfio_dma_pieces_forget_all(VFIODMAPieces *p)
{
    while (p->head) {
        VFIODMAPiece *m = p->head;

        p->head = m->next;
        g_free(m);
    }
}
