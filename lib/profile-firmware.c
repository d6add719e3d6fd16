/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Firmware milestones from QEMU's fw_cfg trace. OVMF's release builds print nothing on their
 * debug port, but each phase reads fw_cfg keys of its own: PlatformPei probes the interface
 * first (SEC is over), DXE's ACPI driver reads etc/table-loader and QemuKernelLoaderFsDxe the
 * kernel, the boot manager (BDS) reads boot_menu. SeaBIOS reads the same keys within tens of
 * milliseconds, which is itself the comparison. The labels say which module reads a key; that
 * it marks the phase is an inference, not a marker the firmware prints. */
#include "profile.h"

#include <stdlib.h>
#include <string.h>

/* fw_cfg's fixed keys (QEMU's include/standard-headers/linux/qemu_fw_cfg.h) and the first
 * file key: file N of fw_cfg_add_file is key FW_CFG_FILE_FIRST + N. */
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_KERNEL_SIZE 0x08
#define FW_CFG_BOOT_MENU 0x0e
#define FW_CFG_FILE_FIRST 0x20

const char *const fp_profile_firmware_trace_events[] = {
    "fw_cfg_select",
    "fw_cfg_add_file",
    "vm_state_notify", /* the vCPU start, which the marks are counted from */
    NULL,
};

typedef enum { MARK_PLATFORM, MARK_ACPI, MARK_KERNEL, MARK_BOOT_MANAGER, MARK_N } MarkId;

static const FpFirmwareMark catalogue[] = {
    [MARK_PLATFORM] = {"fw-cfg-first", "first fw_cfg access (OVMF: PEI)", 0},
    [MARK_ACPI] = {"acpi-tables", "etc/table-loader read (OVMF: DXE's ACPI)", 0},
    [MARK_KERNEL] = {"kernel-fetched", "kernel fetched from fw_cfg (OVMF: DXE)", 0},
    [MARK_BOOT_MANAGER] = {"boot-manager", "boot_menu read (OVMF: BDS)", 0},
};
G_STATIC_ASSERT(G_N_ELEMENTS(catalogue) == MARK_N);

const FpFirmwareMark *
fp_profile_firmware_mark_catalogue(guint *n)
{
    *n = MARK_N;
    return catalogue;
}

/* "PID@SECS.USECS:NAME ARGS": *US and *ARGS for event NAME, else FALSE. */
static gboolean
parse_line(const char *line, const char *name, gint64 *us, const char **args)
{
    const char *at = strchr(line, '@'), *dot, *colon;
    gsize n = strlen(name);
    char *end;
    gint64 secs, usecs;

    if (!at || !(dot = strchr(at, '.')) || !(colon = strchr(dot, ':')))
        return FALSE;
    secs = g_ascii_strtoll(at + 1, &end, 10);
    if (end != dot)
        return FALSE;
    usecs = g_ascii_strtoll(dot + 1, &end, 10);
    if (end != colon || colon - dot != 7 || strncmp(colon + 1, name, n) || colon[1 + n] != ' ')
        return FALSE;
    *us = secs * G_USEC_PER_SEC + usecs;
    *args = colon + 2 + n;
    return TRUE;
}

void
fp_profile_firmware_marks(FpProfileRun *run, const char *text, gsize len)
{
    g_autoptr(GHashTable) files =
        g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    g_auto(GStrv) lines = NULL;
    g_autofree char *copy = g_strndup(text, len);
    gboolean seen[MARK_N] = {FALSE};
    gint64 vcpu = 0;

    if (!run->firmware_marks)
        run->firmware_marks = g_array_new(FALSE, TRUE, sizeof(FpFirmwareMark));
    lines = g_strsplit(copy, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        const char *args, *name;
        unsigned key;
        gint64 us;
        int mark = -1;

        if (parse_line(lines[i], "fw_cfg_add_file", &us, &args)) {
            /* "0x55e6c07573c0 #3: etc/table-loader (4096 bytes)" */
            const char *hash = strchr(args, '#'), *sp;

            if (hash && (sp = strchr(hash, ' ')) && (name = sp + 1) && strchr(name, ' '))
                g_hash_table_insert(files, GUINT_TO_POINTER(FW_CFG_FILE_FIRST + atoi(hash + 1)),
                                    g_strndup(name, strchr(name, ' ') - name));
        } else if (!vcpu && parse_line(lines[i], "vm_state_notify", &us, &args)) {
            if (g_str_has_prefix(args, "running 1"))
                vcpu = us;
        } else if (vcpu && parse_line(lines[i], "fw_cfg_select", &us, &args)) {
            /* "0x55e6c07573c0 key 0x0019 'file_dir', ret: 1" */
            const char *k = strstr(args, "key 0x");

            if (!k || sscanf(k, "key 0x%x", &key) != 1)
                continue;
            name = g_hash_table_lookup(files, GUINT_TO_POINTER(key));
            if (key == FW_CFG_SIGNATURE)
                mark = MARK_PLATFORM;
            else if (key == FW_CFG_KERNEL_SIZE)
                mark = MARK_KERNEL;
            else if (key == FW_CFG_BOOT_MENU)
                mark = MARK_BOOT_MANAGER;
            else if (name && !strcmp(name, "etc/table-loader"))
                mark = MARK_ACPI;
            if (mark >= 0 && !seen[mark]) {
                FpFirmwareMark m = catalogue[mark];

                seen[mark] = TRUE;
                m.at_us = us;
                g_array_append_val(run->firmware_marks, m);
            }
        }
    }
}
