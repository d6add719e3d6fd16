/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Hardened XML reading, libvirt-style writing, and edits that keep the document's layout. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

/* Domain XML is a few KiB; even a 1,000-device domain is under 1 MiB. */
#define FP_XML_MAX_INPUT (16 * 1024 * 1024)

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)

/* Reads at most FP_XML_MAX_INPUT bytes from PATH ("-" is stdin). */
char *fp_xml_read_file(const char *path, gsize *len, GError **error);

/* Parses without network, DTDs or entity substitution: a document with a DOCTYPE is refused
 * before any entity is declared, so external entities and expansion bombs never run. */
xmlDoc *fp_xml_parse(const char *buf, gsize len, GError **error);

/* Writes DOC as libvirt does (single-quoted attributes, <empty/> elements), keeping every
 * comment, text node and attribute order. DECL, when non-NULL, is written first verbatim. */
char *fp_xml_format(xmlDoc *doc, const char *decl, gsize *len);

/* The XML declaration at the start of BUF ("<?xml ... ?>"), or NULL. */
char *fp_xml_declaration(const char *buf, gsize len);

xmlNode *fp_xml_child(xmlNode *parent, const char *name);
xmlNode *fp_xml_next(xmlNode *node, const char *name);
#define fp_xml_foreach_child(child, parent, name)                                                  \
    for (xmlNode *child = fp_xml_child((parent), (name)); child; child = fp_xml_next(child, (name)))

/* Attribute value as a newly allocated string, or NULL. */
char *fp_xml_prop(xmlNode *node, const char *name);
gboolean fp_xml_prop_is(xmlNode *node, const char *name, const char *value);
/* Text content of an element, trimmed; NULL for a missing element. */
char *fp_xml_text(xmlNode *node);

/* Inserts a new empty element NAME into PARENT at the place ORDER (NULL-terminated element
 * names in libvirt's formatting order) gives it, indented like its siblings. */
xmlNode *fp_xml_insert(xmlNode *parent, const char *name, const char *const *order);
/* The first child NAME of PARENT, created with fp_xml_insert when missing. */
xmlNode *fp_xml_ensure(xmlNode *parent, const char *name, const char *const *order);
/* Unlinks and frees NODE together with the indentation before it. */
void fp_xml_remove(xmlNode *node);

/* "/domain/devices/hostdev[2]" */
char *fp_xml_path(xmlNode *node);
