/* --direct's QEMU command line from a domain XML: what each domain setting becomes. */
#include "profile.h"

#include "error.h"

#include <libxml/parser.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *inside; /* XML inside <domain> after <name> */
    const char *type;   /* <domain type=...> */
    const char *expect[6]; /* consecutive argument pairs ("-opt", "value") or single arguments */
    const char *absent;    /* a substring no argument may hold, or NULL */
    gboolean refused;
    const char *present;   /* an argument that must be there, or NULL */
} Case;

#define OS_KERNEL "<os><type arch='x86_64' machine='q35'>hvm</type><kernel>/boot/vmlinuz</kernel>" \
                  "<cmdline>console=ttyS0</cmdline></os>"

static const Case cases[] = {
    {"plain-tcg",
     "<memory unit='MiB'>256</memory><vcpu>2</vcpu>" OS_KERNEL,
     "qemu",
     {"-machine", "q35,accel=tcg,memory-backend=pc.ram", "-m", "262144k", "-smp", "2"},
     "prealloc",
     FALSE, NULL},
    {"kvm-domain-uses-kvm", "<memory unit='MiB'>256</memory>" OS_KERNEL, "kvm",
     {"-machine", "q35,accel=kvm,memory-backend=pc.ram"}, NULL, FALSE, NULL},
    {"kernel-initrd-cmdline",
     "<memory unit='MiB'>256</memory><os><type machine='pc'>hvm</type><kernel>/k</kernel><initrd>/i</initrd>"
     "<cmdline>console=ttyS0 quiet</cmdline></os>",
     "qemu",
     {"-kernel", "/k", "-initrd", "/i", "-append", "console=ttyS0 quiet"},
     NULL,
     FALSE, NULL},
    {"hugepages-file-backend-preallocated",
     "<memory unit='GiB'>1</memory><memoryBacking><hugepages/></memoryBacking>" OS_KERNEL, "qemu",
     {"-object", "memory-backend-file,id=pc.ram,size=1048576k,mem-path=/dev/hugepages,prealloc=on"}, NULL, FALSE, NULL},
    {"immediate-allocation-preallocates",
     "<memory unit='MiB'>512</memory><memoryBacking><allocation mode='immediate'/></memoryBacking>" OS_KERNEL, "qemu",
     {"-object", "memory-backend-ram,id=pc.ram,size=524288k,prealloc=on"}, NULL, FALSE, NULL},
    /* The menu is what makes SeaBIOS wait: it must be passed on, with its timeout. */
    {"boot-menu-with-timeout",
     "<memory unit='MiB'>256</memory><os><type>hvm</type><kernel>/k</kernel><bootmenu enable='yes' timeout='3000'/>"
     "</os>",
     "qemu", {"-machine", "pc,accel=tcg,memory-backend=pc.ram"}, NULL, FALSE, "menu=on,splash-time=3000"},
    {"boot-menu-off", "<memory unit='MiB'>256</memory><os><type>hvm</type><kernel>/k</kernel><bootmenu enable='no'/>"
     "</os>", "qemu", {"-kernel", "/k"}, "menu", FALSE, NULL},
    {"hostdev-vfio-rom-off-preallocates",
     "<memory unit='MiB'>256</memory>" OS_KERNEL
     "<devices><hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x41' "
     "slot='0x00' function='0x0'/></source><rom bar='off'/></hostdev></devices>",
     "qemu",
     {"-device", "vfio-pci,host=0000:41:00.0,rombar=0", "-serial", "file:/tmp/con,,sole.log"},
     NULL,
     FALSE,
     "memory-backend-ram,id=pc.ram,size=262144k,prealloc=on"},
    {"no-kernel-refused", "<memory unit='MiB'>256</memory><os><type>hvm</type><boot dev='hd'/></os>", "qemu", {NULL},
     NULL, TRUE, NULL},
    {"no-memory-refused", OS_KERNEL, "qemu", {NULL}, NULL, TRUE, NULL},
};

static void
test_case(gconstpointer data)
{
    const Case *c = data;
    g_autofree char *xml =
        g_strdup_printf("<domain type='%s'><name>vm,1</name>%s</domain>", c->type, c->inside);
    xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "d.xml", NULL, XML_PARSE_NONET);
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) argv = NULL;

    g_assert_nonnull(doc);
    argv = fp_profile_direct_argv(doc, "/usr/bin/qemu-x", "/tmp/con,sole.log", &error);
    xmlFreeDoc(doc);
    if (c->refused) {
        g_assert_null(argv);
        g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
        return;
    }
    g_assert_no_error(error);
    g_assert_cmpstr(argv[0], ==, "/usr/bin/qemu-x");
    /* The guest name's comma doubled, as QEMU's option syntax wants. */
    g_assert_true(g_strv_contains((const char *const *)argv, "guest=vm,,1"));
    g_assert_true(g_strv_contains((const char *const *)argv, "-nodefaults"));
    for (guint e = 0; e < G_N_ELEMENTS(c->expect) && c->expect[e]; e += 2) {
        gboolean found = FALSE;

        for (guint i = 0; argv[i] && argv[i + 1] && !found; i++)
            found = !strcmp(argv[i], c->expect[e]) && (!c->expect[e + 1] || !strcmp(argv[i + 1], c->expect[e + 1]));
        if (!found)
            g_error("no \"%s %s\"", c->expect[e], c->expect[e + 1]);
    }
    if (c->present)
        g_assert_true(g_strv_contains((const char *const *)argv, c->present));
    for (guint i = 0; c->absent && argv[i]; i++)
        g_assert_null(strstr(argv[i], c->absent));
    /* The profiler adds its own -S and QMP; the domain's line has none. */
    g_assert_false(g_strv_contains((const char *const *)argv, "-S"));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/profile/direct/argv/%s", cases[i].name);

        g_test_add_data_func(path, &cases[i], test_case);
    }
    return g_test_run();
}
