/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Firmware milestones from QEMU's timestamped fw_cfg trace, and a run's firmware in the
 * profile JSON and report. The trace lines are QEMU 7.2's, as an OVMF boot wrote them. */
#include "profile.h"

#include <string.h>

#define T0 1796312723000000 /* the vCPUs start */

/* An OVMF start: machine build (file names), vCPU start, PEI's probe, DXE, BDS. */
static const char ovmf_trace[] =
    "6294@1796312722.900000:fw_cfg_add_file 0x5561791ffbc0 #0: etc/boot-fail-wait (4 bytes)\n"
    "6294@1796312722.900100:fw_cfg_add_file 0x5561791ffbc0 #6: etc/table-loader (4096 bytes)\n"
    /* before the vCPUs run: QEMU's own reads count for nothing */
    "6294@1796312722.950000:fw_cfg_select 0x5561791ffbc0 key 0x0000 'signature', ret: 1\n"
    "6294@1796312723.000000:vm_state_notify running 1 reason 9 (running)\n"
    "6294@1796312723.540000:fw_cfg_select 0x5561791ffbc0 key 0x0000 'signature', ret: 1\n"
    "6294@1796312723.540100:fw_cfg_select 0x5561791ffbc0 key 0x0001 'id', ret: 1\n"
    "6294@1796312723.550000:fw_cfg_select 0x5561791ffbc0 key 0x0000 'signature', ret: 1\n"
    "fw_cfg_select 0x5561791ffbc0 key 0x000e 'boot_menu', ret: 1\n" /* no timestamp: skipped */
    "6294@1796312726.560000:fw_cfg_select 0x5561791ffbc0 key 0x0026 'unknown', ret: 1\n"
    "6294@1796312726.580000:fw_cfg_select 0x5561791ffbc0 key 0x0008 'kernel_size', ret: 1\n"
    "6294@1796312728.150000:fw_cfg_select 0x5561791ffbc0 key 0x000e 'boot_menu', ret: 1\n"
    "6294@1796312728.200000:fw_cfg_select 0x5561791ffbc0 key 0x000e 'boot_menu', ret: 1";

static void
test_marks_in_order(void)
{
    g_autoptr(FpProfileRun) run = fp_profile_run_new();
    static const struct {
        const char *id;
        gint64 after_us;
    } want[] = {
        {"fw-cfg-first", 540000},
        {"acpi-tables", 3560000},
        {"kernel-fetched", 3580000},
        {"boot-manager", 5150000},
    };

    fp_profile_firmware_marks(run, ovmf_trace, strlen(ovmf_trace));
    g_assert_nonnull(run->firmware_marks);
    g_assert_cmpuint(run->firmware_marks->len, ==, G_N_ELEMENTS(want));
    for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
        const FpFirmwareMark *m = &g_array_index(run->firmware_marks, FpFirmwareMark, i);

        g_assert_cmpstr(m->id, ==, want[i].id);
        g_assert_cmpint(m->at_us - T0, ==, want[i].after_us);
    }
}

/* No vCPU start in the trace, or no trace at all: no marks, and nothing made up. */
static void
test_no_vcpu_start_no_marks(void)
{
    g_autoptr(FpProfileRun) run = fp_profile_run_new();
    const char *text = "6294@1796312723.540000:fw_cfg_select 0x1 key 0x0000 'signature', ret: 1\n";

    fp_profile_firmware_marks(run, text, strlen(text));
    g_assert_cmpuint(run->firmware_marks->len, ==, 0);
    fp_profile_firmware_marks(run, "", 0);
    g_assert_cmpuint(run->firmware_marks->len, ==, 0);
}

/* The run's firmware and marks go into the JSON, come back from it, and show in the report. */
static void
test_json_and_text(void)
{
    g_autoptr(FpProfile) p = fp_profile_new("uefi", "vm", "direct");
    g_autoptr(FpProfile) back = NULL;
    g_autoptr(GError) error = NULL;
    FpProfileRun *run = fp_profile_run_new(), *r2;
    FpFirmware *fw = g_new0(FpFirmware, 1);
    g_autofree char *text = NULL;
    json_object *j;

    fw->type = FP_FW_UEFI;
    fw->pflash = TRUE;
    fw->code = g_strdup("/usr/share/OVMF/OVMF_CODE_4M.fd");
    fw->vars = g_strdup("/usr/share/OVMF/OVMF_VARS_4M.fd");
    run->firmware = fw;
    fp_profile_run_set(run, FP_PT_START_CALL, T0 - 100000, "spawn");
    fp_profile_run_set(run, FP_PT_QEMU_EXEC, T0 - 100000, "spawn");
    fp_profile_run_set(run, FP_PT_VCPU_START, T0, "qmp-resume");
    fp_profile_run_set(run, FP_PT_KERNEL_LINE, T0 + 9000000, "console-file");
    fp_profile_firmware_marks(run, ovmf_trace, strlen(ovmf_trace));
    g_ptr_array_add(p->runs, run);

    j = fp_profile_to_json(p);
    g_assert_cmpstr(
        json_object_get_string(json_object_object_get(
            json_object_object_get(json_object_array_get_idx(json_object_object_get(j, "runs"), 0),
                                   "firmware"),
            "type")),
        ==, "uefi");
    back = fp_profile_from_json(j, "test", &error);
    json_object_put(j);
    g_assert_no_error(error);
    r2 = g_ptr_array_index(back->runs, 0);
    g_assert_nonnull(r2->firmware);
    g_assert_cmpint(r2->firmware->type, ==, FP_FW_UEFI);
    g_assert_cmpstr(r2->firmware->code, ==, "/usr/share/OVMF/OVMF_CODE_4M.fd");
    g_assert_cmpuint(r2->firmware_marks->len, ==, 4);
    g_assert_cmpint(g_array_index(r2->firmware_marks, FpFirmwareMark, 3).at_us, ==, T0 + 5150000);

    text = fp_profile_format_text(back);
    g_assert_nonnull(strstr(text, "  firmware: uefi: /usr/share/OVMF/OVMF_CODE_4M.fd, vars from "
                                  "/usr/share/OVMF/OVMF_VARS_4M.fd, secure boot off\n"));
    g_assert_nonnull(strstr(text, "boot_menu read (OVMF: BDS)"));
    g_assert_nonnull(strstr(text, "5.150 s"));
}

/* A profile written before firmware was recorded: read, and said to be not known. */
static void
test_old_json_firmware_not_known(void)
{
    const char *old =
        "{\"fastpass_profile\": 1, \"label\": \"x\", \"domain\": \"x\", \"mode\": \"direct\", "
        "\"runs\": [{\"points_us\": {\"start_call\": 1}}]}";
    json_object *j = json_tokener_parse(old);
    g_autoptr(GError) error = NULL;
    g_autoptr(FpProfile) p = fp_profile_from_json(j, "old", &error);
    g_autofree char *text = NULL;

    json_object_put(j);
    g_assert_no_error(error);
    g_assert_null(((FpProfileRun *)g_ptr_array_index(p->runs, 0))->firmware);
    text = fp_profile_format_text(p);
    g_assert_nonnull(strstr(text, "  firmware: not known\n"));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/profile/firmware/marks-in-order", test_marks_in_order);
    g_test_add_func("/profile/firmware/no-vcpu-start-no-marks", test_no_vcpu_start_no_marks);
    g_test_add_func("/profile/firmware/json-and-text", test_json_and_text);
    g_test_add_func("/profile/firmware/old-json-firmware-not-known",
                    test_old_json_firmware_not_known);
    return g_test_run();
}
