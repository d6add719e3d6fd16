/* SPDX-License-Identifier: GPL-2.0-or-later */
/* --direct's QEMU command line from a domain XML: what each domain setting becomes, and the
 * firmware: the UEFI image and variables store the domain names, or a refusal naming what
 * cannot be honoured; never QEMU's default SeaBIOS in place of the domain's firmware. Firmware
 * files and descriptors are made in a temporary directory (@D@ in the cases). */
#include "profile.h"

#include "error.h"

#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *inside;    /* XML inside <domain> after <name> */
    const char *type;      /* <domain type=...> */
    const char *expect[6]; /* consecutive argument pairs ("-opt", "value") or single arguments */
    const char *absent[3]; /* substrings no argument may hold */
    gboolean refused;
    const char *present;  /* an argument that must be there, or NULL; refused: in the message */
    const char *firmware; /* the firmware type it boots ("seabios", "uefi"), or NULL: seabios */
    const char *vars;     /* the variables store's source, or NULL: none */
} Case;

/* What --direct passes for the per-start copy of the variables store. */
#define VARS_COPY "/tmp/run/vars,copy.fd"
#define PFLASH_CODE(path) "if=pflash,format=raw,unit=0,file=" path ",readonly=on"
#define PFLASH_VARS "if=pflash,format=raw,unit=1,file=/tmp/run/vars,,copy.fd"
#define OS_UEFI(machine, attrs, inside)                                                            \
    "<memory unit='MiB'>256</memory><features><acpi/></features><os" attrs                         \
    "><type arch='x86_64' machine='" machine "'>hvm</type>" inside                                 \
    "<kernel>/boot/vmlinuz</kernel><cmdline>console=ttyS0</cmdline></os>"
#define LOADER(path) "<loader readonly='yes' type='pflash'>" path "</loader>"
#define NVRAM_TEMPLATE "<nvram template='@D@/VARS.fd'>@D@/nvram/vm_VARS.fd</nvram>"

#define OS_KERNEL                                                                                  \
    "<os><type arch='x86_64' machine='q35'>hvm</type><kernel>/boot/vmlinuz</kernel>"               \
    "<cmdline>console=ttyS0</cmdline></os>"

static const Case cases[] = {
    {"plain-tcg",
     "<memory unit='MiB'>256</memory><vcpu>2</vcpu>" OS_KERNEL,
     "qemu",
     {"-machine", "q35,accel=tcg,memory-backend=pc.ram", "-m", "262144k", "-smp", "2"},
     {"prealloc", "pflash", "-bios"},
     FALSE,
     NULL,
     NULL,
     NULL},
    {"kvm-domain-uses-kvm",
     "<memory unit='MiB'>256</memory>" OS_KERNEL,
     "kvm",
     {"-machine", "q35,accel=kvm,memory-backend=pc.ram"},
     {NULL},
     FALSE,
     NULL,
     NULL,
     NULL},
    {"kernel-initrd-cmdline",
     "<memory unit='MiB'>256</memory><os><type "
     "machine='pc'>hvm</type><kernel>/k</kernel><initrd>/i</initrd>"
     "<cmdline>console=ttyS0 quiet</cmdline></os>",
     "qemu",
     {"-kernel", "/k", "-initrd", "/i", "-append", "console=ttyS0 quiet"},
     {NULL},
     FALSE,
     NULL,
     NULL,
     NULL},
    {"hugepages-file-backend-preallocated",
     "<memory unit='GiB'>1</memory><memoryBacking><hugepages/></memoryBacking>" OS_KERNEL,
     "qemu",
     {"-object", "memory-backend-file,id=pc.ram,size=1048576k,mem-path=/dev/hugepages,prealloc=on"},
     {NULL},
     FALSE,
     NULL,
     NULL,
     NULL},
    {"immediate-allocation-preallocates",
     "<memory unit='MiB'>512</memory><memoryBacking><allocation "
     "mode='immediate'/></memoryBacking>" OS_KERNEL,
     "qemu",
     {"-object", "memory-backend-ram,id=pc.ram,size=524288k,prealloc=on"},
     {NULL},
     FALSE,
     NULL,
     NULL,
     NULL},
    /* The menu is what makes SeaBIOS wait: it must be passed on, with its timeout. */
    {"boot-menu-with-timeout",
     "<memory unit='MiB'>256</memory><os><type>hvm</type><kernel>/k</kernel><bootmenu enable='yes' "
     "timeout='3000'/>"
     "</os>",
     "qemu",
     {"-machine", "pc,accel=tcg,memory-backend=pc.ram"},
     {NULL},
     FALSE,
     "menu=on,splash-time=3000",
     NULL,
     NULL},
    {"boot-menu-off",
     "<memory unit='MiB'>256</memory><os><type>hvm</type><kernel>/k</kernel><bootmenu enable='no'/>"
     "</os>",
     "qemu",
     {"-kernel", "/k"},
     {"menu"},
     FALSE,
     NULL,
     NULL,
     NULL},
    {"hostdev-vfio-rom-off-preallocates",
     "<memory unit='MiB'>256</memory>" OS_KERNEL
     "<devices><hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' "
     "bus='0x41' "
     "slot='0x00' function='0x0'/></source><rom bar='off'/></hostdev></devices>",
     "qemu",
     {"-device", "vfio-pci,host=0000:41:00.0,rombar=0", "-serial", "file:/tmp/con,,sole.log"},
     {NULL},
     FALSE,
     "memory-backend-ram,id=pc.ram,size=262144k,prealloc=on",
     NULL,
     NULL},
    {"no-kernel-refused",
     "<memory unit='MiB'>256</memory><os><type>hvm</type><boot dev='hd'/></os>",
     "qemu",
     {NULL},
     {NULL},
     TRUE,
     "no <os><kernel>",
     NULL,
     NULL},
    {"no-memory-refused", OS_KERNEL, "qemu", {NULL}, {NULL}, TRUE, "memory", NULL, NULL},

    /* UEFI: the image read-only as pflash unit 0, a copy of the variables store as unit 1. */
    {"uefi-loader-pflash-code-and-vars-copy",
     OS_UEFI("q35", "", LOADER("@D@/CODE.fd") NVRAM_TEMPLATE),
     "qemu",
     {"-drive", PFLASH_CODE("@D@/CODE.fd"), "-drive", PFLASH_VARS, "-machine",
      "q35,accel=tcg,memory-backend=pc.ram"},
     {"smm", "-bios", "@D@/VARS.fd"},
     FALSE,
     NULL,
     "uefi",
     "@D@/VARS.fd"},
    /* An nvram file that exists is what libvirt boots: its copy, not the template's. */
    {"uefi-existing-nvram-file-copied",
     OS_UEFI("q35", "",
             LOADER("@D@/CODE.fd") "<nvram template='@D@/VARS.fd'>@D@/own_VARS.fd</nvram>"),
     "qemu",
     {"-drive", PFLASH_CODE("@D@/CODE.fd"), "-drive", PFLASH_VARS},
     {"@D@/own_VARS.fd"},
     FALSE,
     NULL,
     "uefi",
     "@D@/own_VARS.fd"},
    /* No <nvram>: the template the image's descriptor names. */
    {"uefi-vars-template-from-descriptor",
     OS_UEFI("q35", "", LOADER("@D@/CODE.fd")),
     "qemu",
     {"-drive", PFLASH_CODE("@D@/CODE.fd"), "-drive", PFLASH_VARS},
     {NULL},
     FALSE,
     NULL,
     "uefi",
     "@D@/VARS.fd"},
    /* firmware='efi' as libvirt resolves it: the first descriptor that fits (secure boot, SMM). */
    {"efi-auto-first-descriptor-secure-boot-smm",
     OS_UEFI("q35", " firmware='efi'", ""),
     "qemu",
     {"-drive", PFLASH_CODE("@D@/CODE.secboot.fd"), "-machine",
      "q35,accel=tcg,memory-backend=pc.ram,smm=on", "-global",
      "driver=cfi.pflash01,property=secure,value=on"},
     {NULL},
     FALSE,
     PFLASH_VARS,
     "uefi",
     "@D@/VARS.fd"},
    {"efi-auto-secure-boot-off",
     OS_UEFI("pc-q35-7.2", " firmware='efi'",
             "<firmware><feature enabled='no' name='secure-boot'/></firmware>"),
     "qemu",
     {"-drive", PFLASH_CODE("@D@/CODE.fd"), "-drive", PFLASH_VARS},
     {"smm", "secure"},
     FALSE,
     NULL,
     "uefi",
     "@D@/VARS.fd"},
    {"rom-loader-as-bios",
     OS_UEFI("pc", "", "<loader type='rom'>@D@/CODE.fd</loader>"),
     "qemu",
     {"-bios", "@D@/CODE.fd"},
     {"pflash"},
     FALSE,
     NULL,
     "uefi",
     NULL},

    /* What --direct cannot honour: refused, naming it. */
    {"loader-missing-refused",
     OS_UEFI("q35", "", LOADER("@D@/missing.fd") NVRAM_TEMPLATE),
     "qemu",
     {NULL},
     {NULL},
     TRUE,
     "<loader> @D@/missing.fd: no such file",
     NULL,
     NULL},
    {"vars-template-missing-refused",
     OS_UEFI("q35", "",
             LOADER("@D@/CODE.fd") "<nvram template='@D@/gone.fd'>@D@/nvram/x.fd</nvram>"),
     "qemu",
     {NULL},
     {NULL},
     TRUE,
     "<nvram> template @D@/gone.fd: no such file",
     NULL,
     NULL},
    {"efi-auto-no-descriptor-refused",
     OS_UEFI("pc", " firmware='efi'",
             "<firmware><feature enabled='yes' name='secure-boot'/></firmware>"),
     "qemu",
     {NULL},
     {NULL},
     TRUE,
     "no firmware descriptor in",
     NULL,
     NULL},
    {"secure-boot-on-i440fx-refused",
     OS_UEFI("pc", "",
             "<loader readonly='yes' secure='yes' "
             "type='pflash'>@D@/CODE.secboot.fd</loader>" NVRAM_TEMPLATE),
     "qemu",
     {NULL},
     {NULL},
     TRUE,
     "needs SMM (secure boot), which a machine other than q35 cannot give",
     NULL,
     NULL},
    {"secure-boot-with-smm-off-refused",
     "<features><acpi/><smm state='off'/></features><memory unit='MiB'>256</memory><os><type "
     "machine='q35'>hvm</type>" LOADER("@D@/CODE.secboot.fd") NVRAM_TEMPLATE
     "<kernel>/k</kernel></os>",
     "qemu",
     {NULL},
     {NULL},
     TRUE,
     "which <smm state='off'/> cannot give",
     NULL,
     NULL},
    {"pflash-not-readonly-refused",
     OS_UEFI("q35", "", "<loader type='pflash'>@D@/CODE.fd</loader>" NVRAM_TEMPLATE),
     "qemu",
     {NULL},
     {NULL},
     TRUE,
     "is not readonly='yes'",
     NULL,
     NULL},
    {"uefi-without-acpi-refused",
     "<memory unit='MiB'>256</memory><os><type machine='q35'>hvm</type>" LOADER("@D@/CODE.fd")
         NVRAM_TEMPLATE "<kernel>/k</kernel></os>",
     "qemu",
     {NULL},
     {NULL},
     TRUE,
     "UEFI firmware needs <features><acpi/></features>",
     NULL,
     NULL},
    {"pflash-without-vars-refused",
     OS_UEFI("q35", "", LOADER("@D@/OTHER_CODE.fd")),
     "qemu",
     {NULL},
     {NULL},
     TRUE,
     "no variables store",
     NULL,
     NULL},
};

static char *tmp_dir; /* firmware images and descriptors; @D@ in the cases */

static char *
subst(const char *text)
{
    g_auto(GStrv) parts = text ? g_strsplit(text, "@D@", -1) : NULL;

    return text ? g_strjoinv(tmp_dir, parts) : NULL;
}

static void
put(const char *name, const char *text)
{
    g_autofree char *path = g_build_filename(tmp_dir, name, NULL);
    g_autofree char *body = subst(text);

    g_assert_true(g_file_set_contents(path, body, -1, NULL));
}

/* Two images as Debian's ovmf describes them: a secure-boot one needing SMM (q35 only), first
 * by priority, and a plain one. */
static void
make_firmware(void)
{
    g_autofree char *descs = NULL;

    tmp_dir = g_dir_make_tmp("fp-test-firmware-XXXXXX", NULL);
    g_assert_nonnull(tmp_dir);
    descs = g_build_filename(tmp_dir, "descriptors", NULL);
    g_assert_cmpint(g_mkdir(descs, 0755), ==, 0);
    put("CODE.fd", "code");
    put("CODE.secboot.fd", "code");
    put("OTHER_CODE.fd", "code");
    put("VARS.fd", "vars");
    put("own_VARS.fd", "vars");
    put("descriptors/50-secure.json", "{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": "
                                      "\"flash\", \"executable\": {\"filename\": "
                                      "\"@D@/CODE.secboot.fd\"}, \"nvram-template\": "
                                      "{\"filename\": \"@D@/VARS.fd\"}}, \"targets\": "
                                      "[{\"architecture\": \"x86_64\", \"machines\": "
                                      "[\"pc-q35-*\"]}], \"features\": [\"requires-smm\", "
                                      "\"secure-boot\"]}");
    put("descriptors/60-plain.json", "{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": "
                                     "\"flash\", \"executable\": {\"filename\": "
                                     "\"@D@/CODE.fd\"}, \"nvram-template\": {\"filename\": "
                                     "\"@D@/VARS.fd\"}}, \"targets\": [{\"architecture\": "
                                     "\"x86_64\", \"machines\": [\"pc-i440fx-*\", \"pc-q35-*\"]}], "
                                     "\"features\": [\"acpi-s3\"]}");
}

static void
remove_firmware(void)
{
    const char *files[] = {"CODE.fd",
                           "CODE.secboot.fd",
                           "OTHER_CODE.fd",
                           "VARS.fd",
                           "own_VARS.fd",
                           "descriptors/50-secure.json",
                           "descriptors/60-plain.json",
                           "descriptors"};

    for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = g_build_filename(tmp_dir, files[i], NULL);

        g_remove(path);
    }
    g_rmdir(tmp_dir);
}

static void
test_case(gconstpointer data)
{
    const Case *c = data;
    g_autofree char *inside = subst(c->inside);
    g_autofree char *xml =
        g_strdup_printf("<domain type='%s'><name>vm,1</name>%s</domain>", c->type, inside);
    g_autofree char *descs = g_build_filename(tmp_dir, "descriptors", NULL);
    xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "d.xml", NULL, XML_PARSE_NONET);
    g_autoptr(GError) error = NULL;
    g_autoptr(FpFirmware) fw = NULL;
    g_auto(GStrv) argv = NULL;
    g_autofree char *present = subst(c->present), *vars = subst(c->vars);

    g_assert_nonnull(doc);
    fw = fp_firmware_of_domain(doc, descs, FP_FIRMWARE_RUN, &error);
    if (fw)
        argv = fp_profile_direct_argv(doc, fw, "/usr/bin/qemu-x", "/tmp/con,sole.log",
                                      fw->vars ? VARS_COPY : NULL, &error);
    xmlFreeDoc(doc);
    if (c->refused) {
        g_assert_null(argv);
        g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
        if (!strstr(error->message, present))
            g_error("refused with \"%s\", not \"%s\"", error->message, present);
        /* One line: the CLI prints it as it is. */
        g_assert_null(strchr(error->message, '\n'));
        return;
    }
    g_assert_no_error(error);
    g_assert_cmpstr(fp_firmware_type_name(fw->type), ==, c->firmware ? c->firmware : "seabios");
    g_assert_cmpstr(fw->vars, ==, vars);
    g_assert_cmpstr(argv[0], ==, "/usr/bin/qemu-x");
    /* The guest name's comma doubled, as QEMU's option syntax wants. */
    g_assert_true(g_strv_contains((const char *const *)argv, "guest=vm,,1"));
    g_assert_true(g_strv_contains((const char *const *)argv, "-nodefaults"));
    for (guint e = 0; e < G_N_ELEMENTS(c->expect) && c->expect[e]; e += 2) {
        g_autofree char *opt = subst(c->expect[e]), *val = subst(c->expect[e + 1]);
        gboolean found = FALSE;

        for (guint i = 0; argv[i] && argv[i + 1] && !found; i++)
            found = !strcmp(argv[i], opt) && (!val || !strcmp(argv[i + 1], val));
        if (!found)
            g_error("no \"%s %s\"", opt, val);
    }
    if (present)
        g_assert_true(g_strv_contains((const char *const *)argv, present));
    for (guint a = 0; a < G_N_ELEMENTS(c->absent) && c->absent[a]; a++) {
        g_autofree char *absent = subst(c->absent[a]);

        for (guint i = 0; argv[i]; i++) {
            if (strstr(argv[i], absent))
                g_error("argument \"%s\" holds \"%s\"", argv[i], absent);
        }
    }
    /* The profiler adds its own -S and QMP; the domain's line has none. */
    g_assert_false(g_strv_contains((const char *const *)argv, "-S"));
}

/* The firmware a QEMU command line given after -- boots, for the report. */
static void
test_argv_firmware(void)
{
    char *uefi[] = {"qemu",
                    "-drive",
                    "if=pflash,format=raw,unit=0,file=/o/CO,,DE.fd,readonly=on",
                    "-drive",
                    "if=pflash,format=raw,unit=1,file=/o/vars.fd",
                    "-kernel",
                    "/k",
                    NULL};
    char *plain[] = {"qemu", "-kernel", "/k", "-m", "256", NULL};
    g_autoptr(FpFirmware) a = fp_firmware_of_argv(uefi), b = fp_firmware_of_argv(plain);

    g_assert_cmpint(a->type, ==, FP_FW_UEFI);
    g_assert_cmpstr(a->code, ==, "/o/CO,DE.fd");
    g_assert_cmpstr(a->vars, ==, "/o/vars.fd");
    g_assert_cmpint(b->type, ==, FP_FW_SEABIOS);
    g_assert_null(b->code);
}

int
main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/profile/direct/argv/%s", cases[i].name);

        g_test_add_data_func(path, &cases[i], test_case);
    }
    g_test_add_func("/profile/direct/firmware/of-argv", test_argv_firmware);
    make_firmware();
    rc = g_test_run();
    remove_firmware();
    return rc;
}
