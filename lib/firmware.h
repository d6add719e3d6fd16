/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The firmware a domain boots: SeaBIOS (QEMU's default), or a UEFI image (OVMF) as libvirt's
 * <os><loader>/<nvram> or <os firmware='efi'> name it. The profiler must boot exactly that and
 * say which; QEMU firmware descriptors (docs/interop/firmware.json in QEMU, installed by Debian's
 * ovmf in /usr/share/qemu/firmware) resolve firmware='efi' and tell what an image needs (SMM). */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <libxml/tree.h>

#define FP_FIRMWARE_DESCRIPTOR_DIR "/usr/share/qemu/firmware"

typedef enum {
    FP_FW_SEABIOS, /* no loader: QEMU's built-in default */
    FP_FW_UEFI,    /* an image a descriptor calls "uefi", or any pflash image (OVMF) */
    FP_FW_OTHER,   /* a -bios ROM fastpass cannot name */
    FP_FW_N_TYPES
} FpFirmwareType;

typedef struct {
    FpFirmwareType type;
    char *code;           /* the image (pflash unit 0, or -bios); NULL for SeaBIOS */
    gboolean pflash;      /* CODE is a read-only pflash drive (else a -bios ROM) */
    char *vars;           /* the variables store's source: the domain's nvram file when it
                           * exists, else its template; NULL: none */
    char *nvram;          /* the domain's own nvram path (libvirt writes it; --direct never) */
    gboolean secure_boot; /* <loader secure='yes'>, or the image's descriptor has secure-boot */
    gboolean smm;         /* the image needs SMM, or the domain turns it on */
    char *descriptor;     /* the descriptor that chose or describes CODE, or NULL */
} FpFirmware;

typedef enum {
    FP_FIRMWARE_DESCRIBE, /* XML libvirt started (its live XML): say what it is, check nothing */
    FP_FIRMWARE_RUN,      /* --direct: resolve firmware='efi', check every file and what QEMU
                           * can be given; anything it cannot honour fails with FP_ERROR_INPUT */
} FpFirmwareMode;

/* DESCRIPTOR_DIR NULL: FP_FIRMWARE_DESCRIPTOR_DIR. */
FpFirmware *fp_firmware_of_domain(xmlDoc *doc, const char *descriptor_dir, FpFirmwareMode mode,
                                  GError **error);
/* What a QEMU command line boots (-bios, -drive if=pflash); never fails. */
FpFirmware *fp_firmware_of_argv(char **argv);
FpFirmware *fp_firmware_copy(const FpFirmware *fw);
void fp_firmware_free(FpFirmware *fw);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpFirmware, fp_firmware_free)

const char *fp_firmware_type_name(FpFirmwareType type);
/* {"type": "seabios"|"uefi"|"other", "code", "vars", "nvram", "secure_boot", "smm"} */
json_object *fp_firmware_to_json(const FpFirmware *fw);
/* NULL when J is not such an object. */
FpFirmware *fp_firmware_from_json(json_object *j);
/* One line for people: "uefi: /usr/share/OVMF/OVMF_CODE_4M.fd (pflash), vars ..., secure boot off".
 */
char *fp_firmware_describe(const FpFirmware *fw);
