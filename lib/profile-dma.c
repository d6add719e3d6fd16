/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VFIO DMA map/unmap calls, counted from QEMU's trace output (the "log" trace backend writes
 * "NAME args" or, with -msg timestamp=on as libvirt sets it, "PID@SECS.USECS:NAME args").
 * fastpass's QEMU traces each VFIO_IOMMU_MAP_DMA / _UNMAP_DMA ioctl; its listener keeps
 * mappings across memory map changes (x-keep-dma-maps), so there the listener's events say how
 * often QEMU was asked to map, not what the kernel pinned: the ioctl events win when present. */
#include "profile.h"

#include <string.h>

#define SENTINEL "vm_state_notify"

const char *const fp_profile_dma_trace_events[] = {
    "vfio_dma_map_ioctl",           /* fastpass's QEMU: a VFIO_IOMMU_MAP_DMA ioctl */
    "vfio_dma_unmap_ioctl",         /* fastpass's QEMU: a VFIO_IOMMU_UNMAP_DMA ioctl */
    "vfio_listener_region_add_ram", /* a RAM section mapped for DMA */
    "vfio_listener_region_del",     /* a section unmapped */
    "vfio_iommu_map_notify",        /* "iommu MAP|UNMAP @ ...": through a vIOMMU */
    SENTINEL,                       /* fires at every start: the trace is visible */
    NULL,
};

/* The trace event a log line holds, or NULL; *ARGS set to what follows its name. */
static const char *
line_event(const char *line, gsize len, const char **args)
{
    const char *colon = memchr(line, ':', len), *name = line;

    /* A timestamped line: digits '@' digits '.' digits ':' before the name. */
    if (colon && memchr(line, '@', (gsize)(colon - line)) &&
        strspn(line, "0123456789@.") == (gsize)(colon - line))
        name = colon + 1;
    for (guint i = 0; fp_profile_dma_trace_events[i]; i++) {
        gsize n = strlen(fp_profile_dma_trace_events[i]);

        if ((gsize)(line + len - name) > n && !strncmp(name, fp_profile_dma_trace_events[i], n) &&
            name[n] == ' ') {
            *args = name + n + 1;
            return fp_profile_dma_trace_events[i];
        }
    }
    return NULL;
}

/* "START-END" of the first "0x... - 0x..." in ARGS (the IOVA range of every event counted). */
static char *
iova_range(const char *args)
{
    const char *hex = strstr(args, "0x");
    guint64 start, end;

    if (!hex ||
        sscanf(hex, "0x%" G_GINT64_MODIFIER "x - 0x%" G_GINT64_MODIFIER "x", &start, &end) != 2)
        return NULL;
    return g_strdup_printf("%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x", start, end);
}

/* Maps, unmaps and redundant maps from one family of events. */
typedef struct {
    gint64 map, unmap, remap;
    GHashTable *mapped; /* "start-end" of every range mapped so far */
} DmaCount;

/* A map of RANGE: counted, and counted as redundant when this start had mapped it before. */
static void
count_map(DmaCount *c, const char *args)
{
    char *range = iova_range(args);

    c->map++;
    /* The set takes RANGE either way; FALSE: it was there already. */
    if (range && !g_hash_table_add(c->mapped, range))
        c->remap++;
}

void
fp_profile_count_dma(FpProfileRun *run, const char *text, gsize len)
{
    const char *p = text, *end = text + len;
    DmaCount ioctls = {0}, listener = {0};
    const DmaCount *use;

    ioctls.mapped = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    listener.mapped = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    while (p < end) {
        const char *nl = memchr(p, '\n', (gsize)(end - p));
        gsize n = nl ? (gsize)(nl - p) : (gsize)(end - p);
        g_autofree char *line = g_strndup(p, n);
        const char *args = NULL, *ev = line_event(line, strlen(line), &args);

        p += n + 1;
        if (!ev)
            continue;
        run->dma_visible = TRUE;
        if (!strcmp(ev, "vfio_dma_map_ioctl"))
            count_map(&ioctls, args);
        else if (!strcmp(ev, "vfio_dma_unmap_ioctl"))
            ioctls.unmap++;
        else if (!strcmp(ev, "vfio_listener_region_add_ram"))
            count_map(&listener, args);
        else if (!strcmp(ev, "vfio_listener_region_del"))
            listener.unmap++;
        else if (!strcmp(ev, "vfio_iommu_map_notify") && g_str_has_prefix(args, "iommu MAP"))
            count_map(&listener, args);
        else if (!strcmp(ev, "vfio_iommu_map_notify") && g_str_has_prefix(args, "iommu UNMAP"))
            listener.unmap++;
    }
    run->dma_ioctl = ioctls.map + ioctls.unmap > 0;
    use = run->dma_ioctl ? &ioctls : &listener;
    run->dma_map = use->map;
    run->dma_unmap = use->unmap;
    run->dma_remap = use->remap;
    g_hash_table_unref(ioctls.mapped);
    g_hash_table_unref(listener.mapped);
}
