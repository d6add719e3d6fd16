/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "xml.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>

char *
fp_xml_read_file(const char *path, gsize *len, GError **error)
{
    g_autoptr(GByteArray) data = g_byte_array_new();
    gboolean is_stdin = g_strcmp0(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st = {0};
    guint8 chunk[65536];

    if (fd < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot open %s: %s", path, g_strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot stat %s: %s", path, g_strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        g_set_error(error, FP_ERROR, FP_ERROR_IO, "%s is a directory, not a domain XML file", path);
        goto fail;
    }
    /* Refuse big regular files before reading a byte of them. */
    if (S_ISREG(st.st_mode) && st.st_size > FP_XML_MAX_INPUT) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "%s is %lld bytes, over the %d MiB limit for domain XML", path,
                    (long long)st.st_size, FP_XML_MAX_INPUT >> 20);
        goto fail;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_set_error(error, FP_ERROR, FP_ERROR_IO, "cannot read %s: %s", path,
                        g_strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        if (data->len + n > FP_XML_MAX_INPUT) {
            g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                        "%s is over the %d MiB limit for domain XML", path, FP_XML_MAX_INPUT >> 20);
            goto fail;
        }
        g_byte_array_append(data, chunk, n);
    }
    if (!is_stdin)
        close(fd);
    *len = data->len;
    g_byte_array_append(data, (const guint8 *)"", 1);
    return (char *)g_byte_array_free(g_steal_pointer(&data), FALSE);

fail:
    if (!is_stdin)
        close(fd);
    return NULL;
}

typedef struct {
    gboolean doctype;
    char *first_error; /* libxml2 keeps only the last; the first names the real cause */
    int first_line;
} ParseGuard;

static void
refuse_doctype(void *user, const xmlChar *name, const xmlChar *external_id,
               const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = user;
    ParseGuard *guard = ctxt->_private;

    guard->doctype = TRUE;
    xmlStopParser(ctxt);
}

static void
record_error(void *user, xmlErrorPtr err)
{
    xmlParserCtxtPtr ctxt = user;
    ParseGuard *guard = ctxt ? ctxt->_private : NULL;

    /* Library code never prints: keep the first error for the caller instead. */
    if (guard && !guard->first_error && err && err->level >= XML_ERR_ERROR) {
        guard->first_error = g_strstrip(g_strdup(err->message ? err->message : "unknown error"));
        guard->first_line = err->line;
    }
}

xmlDoc *
fp_xml_parse(const char *buf, gsize len, GError **error)
{
    ParseGuard guard = {FALSE, NULL, 0};
    xmlParserCtxtPtr ctxt;
    xmlDoc *doc = NULL;

    if (len > FP_XML_MAX_INPUT) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT,
                    "input is over the %d MiB limit for domain XML", FP_XML_MAX_INPUT >> 20);
        return NULL;
    }
    if (len == 0) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "input is empty");
        return NULL;
    }
    ctxt = xmlCreateMemoryParserCtxt(buf, (int)len);
    if (!ctxt) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "cannot create an XML parser");
        return NULL;
    }
    ctxt->_private = &guard;
    ctxt->sax->internalSubset = refuse_doctype;
    ctxt->sax->serror = record_error;
    ctxt->sax->error = NULL;
    ctxt->sax->warning = NULL;
    ctxt->vctxt.error = NULL;
    ctxt->vctxt.warning = NULL;
    /* No NOENT (no entity substitution), no DTDLOAD/DTDATTR, no network, keep blanks. */
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_NOERROR);
    xmlParseDocument(ctxt);

    if (guard.doctype) {
        g_set_error(
            error, FP_ERROR, FP_ERROR_INPUT,
            "input has a DOCTYPE; domain XML never needs one, and its entities are not resolved");
    } else if (!ctxt->wellFormed || !ctxt->myDoc) {
        const xmlError *e = &ctxt->lastError;
        g_autofree char *last = g_strstrip(g_strdup(e->message ? e->message : "unknown error"));

        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "malformed XML at line %d: %s",
                    guard.first_error ? guard.first_line : e->line,
                    guard.first_error ? guard.first_error : last);
    } else if (!xmlDocGetRootElement(ctxt->myDoc)) {
        g_set_error(error, FP_ERROR, FP_ERROR_INPUT, "input has no root element");
    } else {
        doc = g_steal_pointer(&ctxt->myDoc);
    }
    if (ctxt->myDoc)
        xmlFreeDoc(ctxt->myDoc);
    ctxt->myDoc = NULL;
    xmlFreeParserCtxt(ctxt);
    g_free(guard.first_error);
    return doc;
}

char *
fp_xml_declaration(const char *buf, gsize len)
{
    const char *end;

    if (len < 6 || strncmp(buf, "<?xml", 5) != 0 || !g_ascii_isspace(buf[5]))
        return NULL;
    end = g_strstr_len(buf, len, "?>");
    if (!end)
        return NULL;
    /* The declaration is copied verbatim only when it says UTF-8 (or nothing), which is what the
     * writer produces. */
    {
        g_autofree char *decl = g_strndup(buf, end + 2 - buf);
        g_autofree char *lower = g_ascii_strdown(decl, -1);

        if (strstr(lower, "encoding") && !strstr(lower, "utf-8"))
            return g_strdup("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        return g_steal_pointer(&decl);
    }
}

static void
escape(GString *out, const char *s, gboolean attr)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            g_string_append(out, "&amp;");
            break;
        case '<':
            g_string_append(out, "&lt;");
            break;
        case '>':
            g_string_append(out, "&gt;");
            break;
        case '\r':
            g_string_append(out, "&#13;");
            break;
        case '\'':
            g_string_append(out, attr ? "&apos;" : "'");
            break;
        case '\n':
        case '\t':
            /* Attribute-value normalisation would turn these into spaces. */
            if (attr)
                g_string_append_printf(out, "&#%d;", *s);
            else
                g_string_append_c(out, *s);
            break;
        default:
            g_string_append_c(out, *s);
        }
    }
}

static void
append_qname(GString *out, xmlNs *ns, const xmlChar *name)
{
    if (ns && ns->prefix)
        g_string_append_printf(out, "%s:", (const char *)ns->prefix);
    g_string_append(out, (const char *)name);
}

static void format_node(GString *out, xmlNode *node);

static void
format_element(GString *out, xmlNode *node)
{
    g_string_append_c(out, '<');
    append_qname(out, node->ns, node->name);
    /* libxml2 keeps namespace declarations apart from attributes; libvirt writes them last. */
    for (xmlAttr *a = node->properties; a; a = a->next) {
        g_autofree xmlChar *v = xmlNodeListGetString(node->doc, a->children, 1);

        g_string_append_c(out, ' ');
        append_qname(out, a->ns, a->name);
        g_string_append(out, "='");
        escape(out, v ? (const char *)v : "", TRUE);
        g_string_append_c(out, '\'');
    }
    for (xmlNs *ns = node->nsDef; ns; ns = ns->next) {
        g_string_append(out, " xmlns");
        if (ns->prefix)
            g_string_append_printf(out, ":%s", (const char *)ns->prefix);
        g_string_append(out, "='");
        escape(out, (const char *)ns->href, TRUE);
        g_string_append_c(out, '\'');
    }
    if (!node->children) {
        g_string_append(out, "/>");
        return;
    }
    g_string_append_c(out, '>');
    for (xmlNode *c = node->children; c; c = c->next)
        format_node(out, c);
    g_string_append(out, "</");
    append_qname(out, node->ns, node->name);
    g_string_append_c(out, '>');
}

static void
format_node(GString *out, xmlNode *node)
{
    switch (node->type) {
    case XML_ELEMENT_NODE:
        format_element(out, node);
        break;
    case XML_TEXT_NODE:
        escape(out, (const char *)node->content, FALSE);
        break;
    case XML_CDATA_SECTION_NODE:
        g_string_append_printf(out, "<![CDATA[%s]]>", (const char *)node->content);
        break;
    case XML_COMMENT_NODE:
        g_string_append_printf(out, "<!--%s-->", (const char *)node->content);
        break;
    case XML_PI_NODE:
        g_string_append_printf(out, "<?%s%s%s?>", (const char *)node->name,
                               node->content ? " " : "",
                               node->content ? (const char *)node->content : "");
        break;
    case XML_ENTITY_REF_NODE:
        g_string_append_printf(out, "&%s;", (const char *)node->name);
        break;
    default:
        break;
    }
}

char *
fp_xml_format(xmlDoc *doc, const char *decl, gsize *len)
{
    GString *out = g_string_sized_new(4096);

    if (decl)
        g_string_append_printf(out, "%s\n", decl);
    for (xmlNode *n = doc->children; n; n = n->next) {
        if (n->type == XML_DTD_NODE)
            continue;
        format_node(out, n);
        g_string_append_c(out, '\n');
    }
    if (len)
        *len = out->len;
    return g_string_free(out, FALSE);
}

xmlNode *
fp_xml_next(xmlNode *node, const char *name)
{
    for (xmlNode *n = node ? node->next : NULL; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && (!name || xmlStrEqual(n->name, BAD_CAST name)))
            return n;
    }
    return NULL;
}

xmlNode *
fp_xml_child(xmlNode *parent, const char *name)
{
    if (!parent || !parent->children)
        return NULL;
    if (parent->children->type == XML_ELEMENT_NODE &&
        (!name || xmlStrEqual(parent->children->name, BAD_CAST name)))
        return parent->children;
    return fp_xml_next(parent->children, name);
}

char *
fp_xml_prop(xmlNode *node, const char *name)
{
    g_autofree xmlChar *v = node ? xmlGetNoNsProp(node, BAD_CAST name) : NULL;

    return v ? g_strdup((const char *)v) : NULL;
}

gboolean
fp_xml_prop_is(xmlNode *node, const char *name, const char *value)
{
    g_autofree char *v = fp_xml_prop(node, name);

    return g_strcmp0(v, value) == 0;
}

char *
fp_xml_text(xmlNode *node)
{
    g_autofree xmlChar *v = node ? xmlNodeGetContent(node) : NULL;

    return v ? g_strstrip(g_strdup((const char *)v)) : NULL;
}

static gboolean
is_blank_text(xmlNode *n)
{
    return n && n->type == XML_TEXT_NODE && xmlIsBlankNode(n);
}

/* The indentation of NODE: what follows the last newline of the blank text before it. */
static char *
indent_of(xmlNode *node)
{
    const char *s, *nl;

    if (!node || !is_blank_text(node->prev))
        return NULL;
    s = (const char *)node->prev->content;
    nl = strrchr(s, '\n');
    return nl ? g_strdup(nl + 1) : NULL;
}

/* A document is laid out with newlines when its root's first child is blank text with one. */
static gboolean
is_pretty(xmlDoc *doc)
{
    xmlNode *root = xmlDocGetRootElement(doc);

    return root && is_blank_text(root->children) &&
           strchr((const char *)root->children->content, '\n');
}

static char *
indent_unit(xmlDoc *doc)
{
    g_autofree char *ind = indent_of(fp_xml_child(xmlDocGetRootElement(doc), NULL));

    return g_strdup(ind && *ind ? ind : "  ");
}

static char *
parent_indent(xmlNode *parent)
{
    char *ind;

    if (parent->parent && parent->parent->type == XML_DOCUMENT_NODE)
        return g_strdup("");
    ind = indent_of(parent);
    return ind ? ind : g_strdup("");
}

static char *
child_indent(xmlNode *parent)
{
    for (xmlNode *c = fp_xml_child(parent, NULL); c; c = fp_xml_next(c, NULL)) {
        char *ind = indent_of(c);

        if (ind)
            return ind;
    }
    {
        g_autofree char *pi = parent_indent(parent);
        g_autofree char *unit = indent_unit(parent->doc);

        return g_strconcat(pi, unit, NULL);
    }
}

static void
add_text_before(xmlNode *anchor, const char *prefix, const char *indent)
{
    g_autofree char *s = g_strconcat(prefix, indent, NULL);

    xmlAddPrevSibling(anchor, xmlNewDocText(anchor->doc, BAD_CAST s));
}

static gssize
order_index(const char *const *order, const xmlChar *name)
{
    for (gssize i = 0; order && order[i]; i++) {
        if (xmlStrEqual(BAD_CAST order[i], name))
            return i;
    }
    return -1;
}

xmlNode *
fp_xml_insert(xmlNode *parent, const char *name, const char *const *order)
{
    xmlNode *node = xmlNewDocNode(parent->doc, NULL, BAD_CAST name, NULL);
    gboolean pretty = is_pretty(parent->doc);
    gssize idx = order_index(order, BAD_CAST name);
    xmlNode *before = NULL;
    g_autofree char *ci = child_indent(parent);

    if (idx >= 0) {
        for (xmlNode *c = fp_xml_child(parent, NULL); c && !before; c = fp_xml_next(c, NULL)) {
            if (order_index(order, c->name) > idx)
                before = c;
        }
    }

    if (before) {
        /* A sibling on its own line gets the new element on a line of its own too. */
        g_autofree char *before_indent = indent_of(before);
        gboolean own_line = pretty && before_indent != NULL;

        xmlAddPrevSibling(before, node);
        if (own_line)
            add_text_before(before, "\n", ci);
    } else if (!parent->children || (!fp_xml_child(parent, NULL) &&
                                     is_blank_text(parent->children) && !parent->children->next)) {
        g_autofree char *pi = parent_indent(parent);

        if (parent->children) {
            xmlNode *old = parent->children;
            xmlUnlinkNode(old);
            xmlFreeNode(old);
        }
        xmlAddChild(parent, node);
        if (pretty) {
            add_text_before(node, "\n", ci);
            g_autofree char *tail = g_strconcat("\n", pi, NULL);
            xmlAddChild(parent, xmlNewDocText(parent->doc, BAD_CAST tail));
        }
    } else if (pretty && is_blank_text(parent->last)) {
        /* Element first, then its indentation: libxml2 merges adjacent text nodes. */
        xmlAddPrevSibling(parent->last, node);
        add_text_before(node, "\n", ci);
    } else {
        xmlAddChild(parent, node);
    }
    return node;
}

xmlNode *
fp_xml_ensure(xmlNode *parent, const char *name, const char *const *order)
{
    xmlNode *n = fp_xml_child(parent, name);

    return n ? n : fp_xml_insert(parent, name, order);
}

void
fp_xml_remove(xmlNode *node)
{
    xmlNode *parent = node->parent;

    if (is_blank_text(node->prev)) {
        xmlNode *ws = node->prev;
        xmlUnlinkNode(ws);
        xmlFreeNode(ws);
    }
    xmlUnlinkNode(node);
    xmlFreeNode(node);
    /* A parent left with only blank text becomes <empty/>. */
    if (parent && parent->children && !parent->children->next && is_blank_text(parent->children)) {
        xmlNode *ws = parent->children;
        xmlUnlinkNode(ws);
        xmlFreeNode(ws);
    }
}

char *
fp_xml_path(xmlNode *node)
{
    g_autofree xmlChar *p = xmlGetNodePath(node);

    return g_strdup(p ? (const char *)p : "?");
}
