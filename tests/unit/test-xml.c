/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Hardened XML reading, the libvirt-style writer, and layout-keeping edits. */
#include "domain.h"
#include "error.h"
#include "xml.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

/* ---- a per-test temp dir ---- */

typedef struct {
    char *dir;
} TmpDir;

static void
tmpdir_setup(TmpDir *t, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    t->dir = g_dir_make_tmp("fp-test-xml-XXXXXX", &error);
    g_assert_no_error(error);
}

static void
tmpdir_teardown(TmpDir *t, gconstpointer data)
{
    g_autoptr(GDir) d = g_dir_open(t->dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(t->dir, name, NULL);

        if (g_file_test(p, G_FILE_TEST_IS_DIR))
            g_assert_cmpint(g_rmdir(p), ==, 0);
        else
            g_assert_cmpint(g_unlink(p), ==, 0);
    }
    g_assert_cmpint(g_rmdir(t->dir), ==, 0);
    g_free(t->dir);
}

/* Assertions do not abort (g_test_set_nonfatal_assertions in main), so one failing case
 * does not hide the results of the others; this check follows suit. */
static void
assert_contains(const char *haystack, const char *needle)
{
    if (!haystack || !strstr(haystack, needle)) {
        g_test_message("'%s' does not contain '%s'", haystack ? haystack : "(null)", needle);
        g_test_fail();
    }
}

static void
assert_lacks(const char *haystack, const char *needle)
{
    if (haystack && strstr(haystack, needle)) {
        g_test_message("'%s' contains '%s'", haystack, needle);
        g_test_fail();
    }
}

#define MSG(e) ((e) ? (e)->message : NULL)

static xmlDoc *
parse_ok(const char *text)
{
    g_autoptr(GError) error = NULL;
    xmlDoc *doc = fp_xml_parse(text, strlen(text), &error);

    g_assert_no_error(error);
    if (!doc)
        g_error("test input does not parse: %s", text);
    return doc;
}

/* The element at "devices/hostdev" under the root ("" is the root itself). */
static xmlNode *
find(xmlDoc *doc, const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    xmlNode *n = xmlDocGetRootElement(doc);

    for (char **p = parts; *p && **p; p++) {
        n = fp_xml_child(n, *p);
        if (!n)
            g_error("no element '%s' in path '%s'", *p, path);
    }
    return n;
}

static char *
format(xmlDoc *doc)
{
    return fp_xml_format(doc, NULL, NULL);
}

/* ---- refused input ---- */

typedef struct {
    const char *name;
    const char *text;
    const char *message; /* substring of the error */
    gsize len;           /* 0: strlen(text) */
} RefuseCase;

#define LOLS                                                                                       \
    "<!DOCTYPE lolz [\n"                                                                           \
    " <!ENTITY lol \"lol\">\n"                                                                     \
    " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"                     \
    " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"           \
    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"           \
    " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"           \
    " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"           \
    " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"           \
    " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"           \
    " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"           \
    " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"           \
    "]>\n"                                                                                         \
    "<domain><name>&lol9;</name></domain>\n"

static const RefuseCase refuse_cases[] = {
    {"xxe-etc-passwd",
     "<!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><domain>&x;</domain>", "DOCTYPE", 0},
    {"xxe-after-declaration",
     "<?xml version=\"1.0\"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
     "<domain><name>&x;</name></domain>\n",
     "DOCTYPE", 0},
    {"xxe-parameter-entity",
     "<!DOCTYPE d [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><domain/>", "DOCTYPE", 0},
    {"external-dtd", "<!DOCTYPE domain SYSTEM \"file:///etc/passwd\"><domain/>", "DOCTYPE", 0},
    {"billion-laughs", LOLS, "DOCTYPE", 0},
    {"mismatched-tag", "<domain>\n  <name>x</domain>\n", "line 2", 0},
    {"unclosed-root", "<domain>\n  <name>x</name>\n", "line", 0},
    {"undeclared-entity", "<domain><name>&x;</name></domain>", "line 1", 0},
    {"two-roots", "<domain/>\n<domain/>\n", "line 2", 0},
    {"text-before-root", "hello<domain/>", "line 1", 0},
    {"bad-attribute-quoting", "<domain type=kvm/>", "line 1", 0},
    {"blank-only", " \n\t\n", "malformed", 0},
    {"comment-only", "<!-- nothing -->\n", "malformed", 0},
    {"nul-inside", "<domain>\0</domain>", "malformed", 18},
};

static void
test_refuse(gconstpointer data)
{
    const RefuseCase *c = data;
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    g_autoptr(xmlDoc) doc = fp_xml_parse(c->text, c->len ? c->len : strlen(c->text), &error);
    gint64 took = g_get_monotonic_time() - start;

    g_assert_null(doc);
    g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
    assert_contains(MSG(error), c->message);
    /* Expansion bombs and external fetches must not run: refusals are immediate. */
    g_assert_cmpint(took, <, G_USEC_PER_SEC / 2);
}

/* An external entity pointing at a file we wrote: its content must reach neither the
 * error nor any document. */
static void
test_refuse_xxe_marker(TmpDir *t, gconstpointer data)
{
    g_autofree char *secret = g_build_filename(t->dir, "secret", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    g_autofree char *passwd = NULL;

    g_assert_true(g_file_set_contents(secret, "FP-SECRET-MARKER\n", -1, NULL));
    text = g_strdup_printf(
        "<!DOCTYPE d [<!ENTITY x SYSTEM \"file://%s\">]>\n"
        "<domain><name>&x;</name><description attr='&x;'>&x;</description></domain>\n",
        secret);
    doc = fp_xml_parse(text, strlen(text), &error);
    g_assert_null(doc);
    g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
    assert_contains(MSG(error), "DOCTYPE");
    assert_lacks(MSG(error), "FP-SECRET-MARKER");
    assert_lacks(MSG(error), secret);

    /* And for the real /etc/passwd: not a byte of its first line in the message. */
    g_clear_error(&error);
    g_clear_pointer(&doc, xmlFreeDoc);
    g_free(text);
    text = g_strdup("<!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><domain>&x;</domain>");
    doc = fp_xml_parse(text, strlen(text), &error);
    g_assert_null(doc);
    g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
    assert_lacks(MSG(error), "root:");
    if (g_file_get_contents("/etc/passwd", &passwd, NULL, NULL) && strchr(passwd, '\n')) {
        *strchr(passwd, '\n') = '\0';
        if (*passwd)
            assert_lacks(MSG(error), passwd);
    }
}

static void
test_refuse_empty(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(xmlDoc) doc = fp_xml_parse("", 0, &error);

    g_assert_null(doc);
    g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
    g_assert_cmpstr(MSG(error), ==, "input is empty");
}

static void
test_refuse_oversized_buffer(void)
{
    g_autoptr(GError) error = NULL;
    gsize len = FP_XML_MAX_INPUT + 1;
    g_autofree char *buf = g_malloc(len + 1);
    g_autoptr(xmlDoc) doc = NULL;

    memset(buf, ' ', len);
    memcpy(buf, "<domain/>", 9);
    buf[len] = '\0';
    doc = fp_xml_parse(buf, len, &error);
    g_assert_null(doc);
    g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
    assert_contains(MSG(error), "16 MiB limit");
}

/* ---- fp_xml_read_file ---- */

static void
make_sparse(const char *path, off_t size)
{
    g_assert_true(g_file_set_contents(path, "<domain/>", -1, NULL));
    g_assert_cmpint(truncate(path, size), ==, 0);
}

static void
test_read_sparse_over_limit(TmpDir *t, gconstpointer data)
{
    g_autofree char *path = g_build_filename(t->dir, "huge.xml", NULL);
    g_autoptr(GError) error = NULL;
    g_autofree char *buf = NULL;
    gsize len = 777;

    make_sparse(path, 100 * 1024 * 1024);
    buf = fp_xml_read_file(path, &len, &error);
    g_assert_null(buf);
    g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
    assert_contains(MSG(error), path);
    assert_contains(MSG(error), "16 MiB limit");
    assert_contains(MSG(error), "104857600");
    g_assert_cmpuint(len, ==, 777);
}

static void
test_read_limit_boundary(TmpDir *t, gconstpointer data)
{
    g_autofree char *at = g_build_filename(t->dir, "at-limit.xml", NULL);
    g_autofree char *over = g_build_filename(t->dir, "over-limit.xml", NULL);
    g_autoptr(GError) error = NULL;
    g_autofree char *buf = NULL;
    gsize len = 0;

    make_sparse(at, FP_XML_MAX_INPUT);
    buf = fp_xml_read_file(at, &len, &error);
    g_assert_no_error(error);
    g_assert_nonnull(buf);
    g_assert_cmpuint(len, ==, FP_XML_MAX_INPUT);
    g_assert_cmpmem(buf, 9, "<domain/>", 9);
    g_assert_cmpint(buf[len], ==, '\0');
    g_clear_pointer(&buf, g_free);

    make_sparse(over, FP_XML_MAX_INPUT + 1);
    buf = fp_xml_read_file(over, &len, &error);
    g_assert_null(buf);
    g_assert_error(error, FP_ERROR, FP_ERROR_INPUT);
    assert_contains(MSG(error), over);
}

static void
test_read_ok(TmpDir *t, gconstpointer data)
{
    g_autofree char *path = g_build_filename(t->dir, "d.xml", NULL);
    static const char text[] = "<domain type='kvm'>\n  <name>x</name>\n</domain>\n";
    g_autoptr(GError) error = NULL;
    g_autofree char *buf = NULL;
    gsize len = 0;

    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    buf = fp_xml_read_file(path, &len, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(len, ==, strlen(text));
    g_assert_cmpstr(buf, ==, text);
}

static void
test_read_missing(TmpDir *t, gconstpointer data)
{
    g_autofree char *path = g_build_filename(t->dir, "no-such.xml", NULL);
    g_autoptr(GError) error = NULL;
    gsize len = 777;
    g_autofree char *buf = fp_xml_read_file(path, &len, &error);

    g_assert_null(buf);
    g_assert_error(error, FP_ERROR, FP_ERROR_IO);
    assert_contains(MSG(error), path);
    assert_contains(MSG(error), g_strerror(ENOENT));
    g_assert_cmpuint(len, ==, 777);
}

static void
test_read_directory(TmpDir *t, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    gsize len = 777;
    g_autofree char *buf = fp_xml_read_file(t->dir, &len, &error);

    g_assert_null(buf);
    g_assert_error(error, FP_ERROR, FP_ERROR_IO);
    assert_contains(MSG(error), t->dir);
    assert_contains(MSG(error), "directory");
}

/* ---- round trips ---- */

typedef struct {
    const char *name;
    const char *text;
    const char *decl; /* what fp_xml_declaration finds, or NULL */
} RoundTripCase;

static const RoundTripCase roundtrip_cases[] = {
    {"libvirt-with-declaration",
     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
     "<!-- written by hand, before the root -->\n"
     "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
     "  <name>gpu&lt;1&gt;</name>\n"
     "  <title>it's \"quoted\" &amp; fine</title>\n"
     "  <description><![CDATA[<b>raw</b> & unescaped]]></description>\n"
     "  <metadata>\n"
     "    <app1:foo xmlns:app1='http://app1.org/app1/'>fooish</app1:foo>\n"
     "    <app2:bar xmlns:app2='http://app1.org/app2/'><app2:baz app2:attr='1'/></app2:bar>\n"
     "  </metadata>\n"
     "  <memory unit='KiB'>1048576</memory>\n"
     "  <!-- a comment inside -->\n"
     "  <devices>\n"
     "    <disk type='file' device='disk'>\n"
     "      <source file='/var/lib/it&apos;s &amp; mine &lt;1&gt;.qcow2'/>\n"
     "    </disk>\n"
     "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
     "      <source>\n"
     "        <address domain='0x0000' bus='0x41' slot='0x00' function='0x0'/>\n"
     "      </source>\n"
     "    </hostdev>\n"
     "  </devices>\n"
     "  <qemu:commandline>\n"
     "    <qemu:arg value='-S'/>\n"
     "  </qemu:commandline>\n"
     "</domain>\n",
     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"},
    /* How libvirt itself writes a domain with QEMU pass-through options: the namespace
     * declaration after type='...'. */
    {"namespace-declared-after-attribute",
     "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
     "  <name>ns</name>\n"
     "  <qemu:commandline>\n"
     "    <qemu:arg value='-S'/>\n"
     "  </qemu:commandline>\n"
     "</domain>\n",
     NULL},
    {"libvirt-without-declaration",
     "<domain type='qemu'>\n"
     "  <name>plain</name>\n"
     "  <memory unit='GiB'>48</memory>\n"
     "  <os>\n"
     "    <type arch='x86_64' machine='q35'>hvm</type>\n"
     "    <bootmenu enable='no'/>\n"
     "  </os>\n"
     "</domain>\n",
     NULL},
    {"comments-before-and-after-root",
     "<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE.\n-->\n"
     "<domain type='kvm'>\n"
     "  <!-- first -->\n"
     "  <name>c</name>\n"
     "  <!-- last -->\n"
     "</domain>\n"
     "<!-- trailer -->\n",
     NULL},
    {"single-quoted-declaration",
     "<?xml version='1.0'?>\n<domain><name>compact</name><devices/></domain>\n",
     "<?xml version='1.0'?>"},
    {"attribute-escapes",
     "<domain><description a='tab&#9;nl&#10;cr&#13;' b='&lt;&gt;&amp;&apos;\"'/></domain>\n", NULL},
    {"text-with-cr-and-apostrophe", "<domain><name>a&#13;b 'c'</name></domain>\n", NULL},
    {"default-namespace-and-pi",
     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
     "<?xml-stylesheet href='x.xsl'?>\n"
     "<domain xmlns='urn:example'>\n\t<name>tabs</name>\n</domain>\n",
     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"},
    {"unicode-text", "<domain><title>GPU-Knoten \xc3\xa4\xc3\xb6 \xe2\x82\xac</title></domain>\n",
     NULL},
};

static void
test_roundtrip(gconstpointer data)
{
    const RoundTripCase *c = data;
    gsize inlen = strlen(c->text), outlen = 0;
    g_autofree char *decl = fp_xml_declaration(c->text, inlen);
    g_autoptr(xmlDoc) doc = parse_ok(c->text);
    g_autofree char *out = NULL;

    g_assert_cmpstr(decl, ==, c->decl);
    out = fp_xml_format(doc, decl, &outlen);
    g_assert_cmpstr(out, ==, c->text);
    g_assert_cmpuint(outlen, ==, inlen);
}

/* Documents that are not byte-identical after a round trip, and what the writer makes of them. */
typedef struct {
    const char *name;
    const char *text;
    const char *expect;
} NormaliseCase;

static const NormaliseCase normalise_cases[] = {
    {"double-quotes-become-single", "<domain type=\"kvm\"><name>x</name></domain>",
     "<domain type='kvm'><name>x</name></domain>\n"},
    {"empty-pair-becomes-empty-element", "<domain><devices></devices></domain>",
     "<domain><devices/></domain>\n"},
    {"apostrophe-in-double-quoted-attribute", "<domain a=\"it's\"/>", "<domain a='it&apos;s'/>\n"},
    {"quot-entity-in-attribute-written-raw", "<domain b='&quot;'/>", "<domain b='\"'/>\n"},
    {"raw-greater-than-escaped", "<domain>a>b</domain>", "<domain>a&gt;b</domain>\n"},
    {"literal-tab-in-attribute-normalised", "<domain a='x\ty'/>", "<domain a='x y'/>\n"},
};

static void
test_normalise(gconstpointer data)
{
    const NormaliseCase *c = data;
    g_autoptr(xmlDoc) doc = parse_ok(c->text);
    g_autofree char *out = format(doc);

    g_assert_cmpstr(out, ==, c->expect);
}

typedef struct {
    const char *name;
    const char *text;
    const char *expect;
} DeclCase;

static const DeclCase decl_cases[] = {
    {"none", "<domain/>", NULL},
    {"utf8-verbatim", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<domain/>",
     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"},
    {"no-encoding-verbatim", "<?xml version='1.0' standalone='yes'?><domain/>",
     "<?xml version='1.0' standalone='yes'?>"},
    {"other-encoding-becomes-utf8", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<domain/>",
     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"},
    {"not-at-start", "\n<?xml version=\"1.0\"?><domain/>", NULL},
    {"pi-named-xml-something", "<?xml-stylesheet href='a'?><domain/>", NULL},
    {"unterminated", "<?xml version=\"1.0\"", NULL},
};

static void
test_declaration(gconstpointer data)
{
    const DeclCase *c = data;
    g_autofree char *decl = fp_xml_declaration(c->text, strlen(c->text));

    g_assert_cmpstr(decl, ==, c->expect);
}

/* ---- fp_xml_insert ---- */

static const char *const os_order[] = {"type", "firmware", "loader", "nvram",
                                       "boot", "bootmenu", NULL};
static const char *const domain_order[] = {"name",          "uuid", "memory", "currentMemory",
                                           "memoryBacking", "vcpu", "os",     "features",
                                           "devices",       NULL};
static const char *const devices_order[] = {"emulator", "disk",       "controller", "interface",
                                            "hostdev",  "memballoon", NULL};

typedef struct {
    const char *name;
    const char *text;
    const char *parent; /* path below the root, "" for the root */
    const char *element;
    const char *const *order;
    const char *expect;
} InsertCase;

static const InsertCase insert_cases[] = {
    {"into-empty-element", "<domain>\n  <os/>\n</domain>\n", "os", "bootmenu", os_order,
     "<domain>\n  <os>\n    <bootmenu/>\n  </os>\n</domain>\n"},
    {"into-blank-only-element", "<domain>\n  <os>\n  </os>\n</domain>\n", "os", "bootmenu",
     os_order, "<domain>\n  <os>\n    <bootmenu/>\n  </os>\n</domain>\n"},
    {"append-after-last-child",
     "<domain>\n  <os>\n    <type>hvm</type>\n    <boot dev='hd'/>\n  </os>\n</domain>\n", "os",
     "bootmenu", os_order,
     "<domain>\n  <os>\n    <type>hvm</type>\n    <boot dev='hd'/>\n    <bootmenu/>\n  "
     "</os>\n</domain>\n"},
    {"append-when-not-in-order", "<domain>\n  <os>\n    <type>hvm</type>\n  </os>\n</domain>\n",
     "os", "smbios", os_order,
     "<domain>\n  <os>\n    <type>hvm</type>\n    <smbios/>\n  </os>\n</domain>\n"},
    {"append-without-order", "<domain>\n  <os>\n    <bootmenu/>\n  </os>\n</domain>\n", "os",
     "type", NULL, "<domain>\n  <os>\n    <bootmenu/>\n    <type/>\n  </os>\n</domain>\n"},
    {"before-later-sibling",
     "<domain>\n  <os>\n    <type>hvm</type>\n    <bootmenu enable='no'/>\n  </os>\n</domain>\n",
     "os", "boot", os_order,
     "<domain>\n  <os>\n    <type>hvm</type>\n    <boot/>\n    <bootmenu enable='no'/>\n  "
     "</os>\n</domain>\n"},
    {"before-first-child", "<domain>\n  <os>\n    <bootmenu/>\n  </os>\n</domain>\n", "os", "type",
     os_order, "<domain>\n  <os>\n    <type/>\n    <bootmenu/>\n  </os>\n</domain>\n"},
    {"before-sibling-at-root",
     "<domain>\n  <name>x</name>\n  <memory unit='KiB'>1024</memory>\n  "
     "<vcpu>2</vcpu>\n</domain>\n",
     "", "memoryBacking", domain_order,
     "<domain>\n  <name>x</name>\n  <memory unit='KiB'>1024</memory>\n  <memoryBacking/>\n  "
     "<vcpu>2</vcpu>\n"
     "</domain>\n"},
    {"before-memballoon",
     "<domain>\n  <devices>\n    <disk/>\n    <memballoon model='none'/>\n  "
     "</devices>\n</domain>\n",
     "devices", "hostdev", devices_order,
     "<domain>\n  <devices>\n    <disk/>\n    <hostdev/>\n    <memballoon model='none'/>\n  "
     "</devices>\n"
     "</domain>\n"},
    {"skips-comments-and-unknown-elements",
     "<domain>\n  <devices>\n    <!-- disks -->\n    <disk/>\n    <video/>\n  "
     "</devices>\n</domain>\n",
     "devices", "hostdev", devices_order,
     "<domain>\n  <devices>\n    <!-- disks -->\n    <disk/>\n    <video/>\n    <hostdev/>\n  "
     "</devices>\n"
     "</domain>\n"},
    {"compact-document-append", "<domain><os><type>hvm</type></os></domain>", "os", "bootmenu",
     os_order, "<domain><os><type>hvm</type><bootmenu/></os></domain>\n"},
    {"compact-document-before-sibling", "<domain><os><type>hvm</type><bootmenu/></os></domain>",
     "os", "boot", os_order, "<domain><os><type>hvm</type><boot/><bootmenu/></os></domain>\n"},
    {"compact-document-empty-element", "<domain><os/></domain>", "os", "boot", os_order,
     "<domain><os><boot/></os></domain>\n"},
    {"four-space-siblings-append",
     "<domain>\n    <devices>\n        <disk/>\n    </devices>\n</domain>\n", "devices", "hostdev",
     devices_order,
     "<domain>\n    <devices>\n        <disk/>\n        <hostdev/>\n    </devices>\n</domain>\n"},
    {"four-space-siblings-before",
     "<domain>\n    <devices>\n        <disk/>\n        <memballoon/>\n    </devices>\n</domain>\n",
     "devices", "hostdev", devices_order,
     "<domain>\n    <devices>\n        <disk/>\n        <hostdev/>\n        <memballoon/>\n    "
     "</devices>\n"
     "</domain>\n"},
    {"four-space-document-empty-element", "<domain>\n    <name>x</name>\n    <os/>\n</domain>\n",
     "os", "boot", os_order,
     "<domain>\n    <name>x</name>\n    <os>\n        <boot/>\n    </os>\n</domain>\n"},
    {"tab-indented-siblings", "<domain>\n\t<os>\n\t\t<type/>\n\t</os>\n</domain>\n", "os",
     "bootmenu", os_order, "<domain>\n\t<os>\n\t\t<type/>\n\t\t<bootmenu/>\n\t</os>\n</domain>\n"},
    /* A one-line element inside an indented document stays on one line, whichever side of its
     * siblings the new element goes. */
    {"one-line-element-in-pretty-document-append",
     "<domain>\n  <os><type>hvm</type></os>\n</domain>\n", "os", "bootmenu", os_order,
     "<domain>\n  <os><type>hvm</type><bootmenu/></os>\n</domain>\n"},
    {"one-line-element-in-pretty-document-before",
     "<domain>\n  <os><type>hvm</type><bootmenu/></os>\n</domain>\n", "os", "boot", os_order,
     "<domain>\n  <os><type>hvm</type><boot/><bootmenu/></os>\n</domain>\n"},
};

static void
test_insert(gconstpointer data)
{
    const InsertCase *c = data;
    g_autoptr(xmlDoc) doc = parse_ok(c->text);
    xmlNode *parent = find(doc, c->parent);
    xmlNode *node = fp_xml_insert(parent, c->element, c->order);
    g_autofree char *out = format(doc);

    g_assert_nonnull(node);
    g_assert_cmpstr((const char *)node->name, ==, c->element);
    g_assert_true(node->parent == parent);
    g_assert_null(node->children);
    g_assert_cmpstr(out, ==, c->expect);
}

static void
test_ensure(void)
{
    static const char text[] = "<domain>\n  <os>\n    <type>hvm</type>\n  </os>\n</domain>\n";
    g_autoptr(xmlDoc) doc = parse_ok(text);
    xmlNode *os = find(doc, "os");
    xmlNode *type = fp_xml_child(os, "type");
    g_autofree char *same = NULL, *grown = NULL;
    xmlNode *bm;

    /* Present: returned as is, document unchanged. */
    g_assert_true(fp_xml_ensure(os, "type", os_order) == type);
    same = format(doc);
    g_assert_cmpstr(same, ==, text);
    /* Missing: inserted once, then found. */
    bm = fp_xml_ensure(os, "bootmenu", os_order);
    g_assert_true(fp_xml_ensure(os, "bootmenu", os_order) == bm);
    grown = format(doc);
    g_assert_cmpstr(
        grown, ==, "<domain>\n  <os>\n    <type>hvm</type>\n    <bootmenu/>\n  </os>\n</domain>\n");
}

/* ---- fp_xml_remove ---- */

typedef struct {
    const char *name;
    const char *text;
    const char *target; /* path below the root of the element to remove */
    const char *expect;
} RemoveCase;

#define DEVS(body) "<domain>\n  <name>x</name>\n  <devices>\n" body "  </devices>\n</domain>\n"

static const RemoveCase remove_cases[] = {
    {"middle-child", DEVS("    <disk/>\n    <hostdev/>\n    <memballoon/>\n"), "devices/hostdev",
     DEVS("    <disk/>\n    <memballoon/>\n")},
    {"first-child", DEVS("    <disk/>\n    <hostdev/>\n"), "devices/disk",
     DEVS("    <hostdev/>\n")},
    {"last-of-several", DEVS("    <disk/>\n    <hostdev/>\n"), "devices/hostdev",
     DEVS("    <disk/>\n")},
    {"only-child-leaves-empty-element", DEVS("    <hostdev/>\n"), "devices/hostdev",
     "<domain>\n  <name>x</name>\n  <devices/>\n</domain>\n"},
    {"subtree",
     DEVS("    <hostdev mode='subsystem'>\n      <source>\n        <address bus='0x41'/>\n      "
          "</source>\n"
          "    </hostdev>\n    <memballoon/>\n"),
     "devices/hostdev", DEVS("    <memballoon/>\n")},
    {"comment-before-kept", DEVS("    <disk/>\n    <!-- gpu -->\n    <hostdev/>\n"),
     "devices/hostdev", DEVS("    <disk/>\n    <!-- gpu -->\n")},
    {"child-of-root", "<domain>\n  <name>x</name>\n  <vcpu>2</vcpu>\n  <os/>\n</domain>\n", "vcpu",
     "<domain>\n  <name>x</name>\n  <os/>\n</domain>\n"},
    {"compact-document", "<domain><devices><disk/><hostdev/></devices></domain>", "devices/hostdev",
     "<domain><devices><disk/></devices></domain>\n"},
    {"compact-only-child", "<domain><devices><hostdev/></devices></domain>", "devices/hostdev",
     "<domain><devices/></domain>\n"},
    {"four-space-indent",
     "<domain>\n    <devices>\n        <disk/>\n        <hostdev/>\n    </devices>\n</domain>\n",
     "devices/disk", "<domain>\n    <devices>\n        <hostdev/>\n    </devices>\n</domain>\n"},
};

static void
test_remove(gconstpointer data)
{
    const RemoveCase *c = data;
    g_autoptr(xmlDoc) doc = parse_ok(c->text);
    g_autofree char *out = NULL;

    fp_xml_remove(find(doc, c->target));
    out = format(doc);
    g_assert_cmpstr(out, ==, c->expect);
}

/* Insert then remove gives the original document back. */
static void
test_insert_remove_inverse(void)
{
    static const char text[] = DEVS("    <disk/>\n    <memballoon/>\n");
    g_autoptr(xmlDoc) doc = parse_ok(text);
    xmlNode *n = fp_xml_insert(find(doc, "devices"), "hostdev", devices_order);
    g_autofree char *out = NULL;

    fp_xml_remove(n);
    out = format(doc);
    g_assert_cmpstr(out, ==, text);
}

/* ---- fp_xml_path ---- */

typedef struct {
    const char *name;
    const char *target; /* path below the root */
    guint nth;          /* which same-named sibling, from 1 */
    const char *expect;
} PathCase;

static const char path_doc[] = "<domain xmlns:app1='http://app1.org/app1/'>\n"
                               "  <metadata>\n    <app1:foo/>\n  </metadata>\n"
                               "  <devices>\n"
                               "    <disk/>\n"
                               "    <hostdev><source><address/></source></hostdev>\n"
                               "    <hostdev><source><address/></source></hostdev>\n"
                               "    <hostdev/>\n"
                               "  </devices>\n"
                               "</domain>\n";

static const PathCase path_cases[] = {
    {"root", "", 1, "/domain"},
    {"only-child-has-no-index", "devices/disk", 1, "/domain/devices/disk"},
    {"first-of-siblings", "devices/hostdev", 1, "/domain/devices/hostdev[1]"},
    {"second-of-siblings", "devices/hostdev", 2, "/domain/devices/hostdev[2]"},
    {"third-of-siblings", "devices/hostdev", 3, "/domain/devices/hostdev[3]"},
    {"namespaced", "metadata/foo", 1, "/domain/metadata/app1:foo"},
};

static void
test_path(gconstpointer data)
{
    const PathCase *c = data;
    g_autoptr(xmlDoc) doc = parse_ok(path_doc);
    xmlNode *n = find(doc, c->target);
    g_autofree char *path = NULL;

    for (guint i = 1; i < c->nth; i++)
        n = fp_xml_next(n, (const char *)n->name);
    g_assert_nonnull(n);
    path = fp_xml_path(n);
    g_assert_cmpstr(path, ==, c->expect);
}

static void
test_path_nested(void)
{
    g_autoptr(xmlDoc) doc = parse_ok(path_doc);
    xmlNode *second = fp_xml_next(find(doc, "devices/hostdev"), "hostdev");
    g_autofree char *path = fp_xml_path(fp_xml_child(fp_xml_child(second, "source"), "address"));

    g_assert_cmpstr(path, ==, "/domain/devices/hostdev[2]/source/address");
}

/* ---- small queries the rules are built on ---- */

static void
test_queries(void)
{
    g_autoptr(xmlDoc) doc =
        parse_ok("<domain type='kvm'>\n  <name>\n   gpu-1 \n  </name>\n  <!-- c -->\n"
                 "  <vcpu placement='static'>4</vcpu>\n  <vcpu/>\n</domain>\n");
    xmlNode *root = xmlDocGetRootElement(doc);
    xmlNode *vcpu = fp_xml_child(root, "vcpu");
    g_autofree char *name = fp_xml_text(fp_xml_child(root, "name"));
    g_autofree char *type = fp_xml_prop(root, "type");
    g_autofree char *missing = fp_xml_prop(root, "nope");
    g_autofree char *nothing = fp_xml_text(fp_xml_child(root, "nope"));
    guint n = 0;

    g_assert_cmpstr(name, ==, "gpu-1");
    g_assert_cmpstr(type, ==, "kvm");
    g_assert_null(missing);
    g_assert_null(nothing);
    g_assert_true(fp_xml_prop_is(vcpu, "placement", "static"));
    g_assert_false(fp_xml_prop_is(vcpu, "placement", "auto"));
    g_assert_cmpstr((const char *)fp_xml_child(root, NULL)->name, ==, "name");
    fp_xml_foreach_child (v, root, "vcpu")
        n++;
    g_assert_cmpuint(n, ==, 2);
    n = 0;
    fp_xml_foreach_child (any, root, NULL)
        n++;
    g_assert_cmpuint(n, ==, 3);
}

/* Guest NUMA cells: the hook claims a pool slot only for a guest with at most one. */
static void
test_numa_cells(void)
{
    const struct {
        const char *cpu;
        guint want;
    } cases[] = {
        {"", 0},
        {"<cpu><numa><cell id='0' cpus='0' memory='1048576'/></numa></cpu>", 1},
        {"<cpu><numa><cell id='0' cpus='0' memory='524288'/><cell id='1' cpus='1' "
         "memory='524288'/></numa></cpu>",
         2},
        {"<cpu mode='host-model'/>", 0},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *xml = g_strdup_printf(
            "<domain type='qemu'><name>n</name><memory>1048576</memory>%s</domain>", cases[i].cpu);
        g_autoptr(FpDomain) dom = fp_domain_load_memory(xml, strlen(xml), "test", &error);

        g_assert_no_error(error);
        g_assert_cmpuint(fp_domain_numa_cells(dom), ==, cases[i].want);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_set_nonfatal_assertions();

#define ADD_TABLE(prefix, table, fn)                                                               \
    for (gsize i = 0; i < G_N_ELEMENTS(table); i++) {                                              \
        g_autofree char *path = g_strdup_printf(prefix "/%s", table[i].name);                      \
        g_test_add_data_func(path, &table[i], fn);                                                 \
    }
    ADD_TABLE("/xml/parse/refuses", refuse_cases, test_refuse);
    g_test_add("/xml/parse/refuses/xxe-leaks-nothing", TmpDir, NULL, tmpdir_setup,
               test_refuse_xxe_marker, tmpdir_teardown);
    g_test_add_func("/xml/parse/refuses/empty", test_refuse_empty);
    g_test_add_func("/xml/parse/refuses/over-limit-buffer", test_refuse_oversized_buffer);

    g_test_add("/xml/read-file/sparse-100mb-over-limit", TmpDir, NULL, tmpdir_setup,
               test_read_sparse_over_limit, tmpdir_teardown);
    g_test_add("/xml/read-file/limit-boundary", TmpDir, NULL, tmpdir_setup,
               test_read_limit_boundary, tmpdir_teardown);
    g_test_add("/xml/read-file/reads-whole-file", TmpDir, NULL, tmpdir_setup, test_read_ok,
               tmpdir_teardown);
    g_test_add("/xml/read-file/missing-file", TmpDir, NULL, tmpdir_setup, test_read_missing,
               tmpdir_teardown);
    g_test_add("/xml/read-file/directory", TmpDir, NULL, tmpdir_setup, test_read_directory,
               tmpdir_teardown);

    ADD_TABLE("/xml/roundtrip", roundtrip_cases, test_roundtrip);
    ADD_TABLE("/xml/format/normalises", normalise_cases, test_normalise);
    ADD_TABLE("/xml/declaration", decl_cases, test_declaration);
    ADD_TABLE("/xml/insert", insert_cases, test_insert);
    g_test_add_func("/xml/ensure/finds-or-inserts-once", test_ensure);
    ADD_TABLE("/xml/remove", remove_cases, test_remove);
    g_test_add_func("/xml/remove/undoes-insert", test_insert_remove_inverse);
    ADD_TABLE("/xml/path", path_cases, test_path);
    g_test_add_func("/xml/path/nested-under-indexed", test_path_nested);
    g_test_add_func("/xml/queries/child-next-prop-text", test_queries);
    g_test_add_func("/xml/domain/numa-cells", test_numa_cells);
#undef ADD_TABLE
    return g_test_run();
}
