/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "lint.h"

char *
fp_lint_format_text(const char *file, const FpTuneResult *res)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < res->findings->len; i++) {
        const FpFinding *f = g_ptr_array_index(res->findings, i);

        g_string_append_printf(out, "%s: %s at %s: %s; fix: %s\n", file, f->rule, f->path,
                               f->message, f->fix);
    }
    return g_string_free(out, FALSE);
}

json_object *
fp_lint_to_json(const char *file, const FpTuneResult *res)
{
    json_object *obj = json_object_new_object();
    json_object *findings = json_object_new_array();
    json_object *warnings = json_object_new_array();

    for (guint i = 0; i < res->findings->len; i++) {
        const FpFinding *f = g_ptr_array_index(res->findings, i);
        json_object *jf = json_object_new_object();

        json_object_object_add(jf, "rule", json_object_new_string(f->rule));
        json_object_object_add(jf, "path", json_object_new_string(f->path));
        json_object_object_add(jf, "message", json_object_new_string(f->message));
        json_object_object_add(jf, "fix", json_object_new_string(f->fix));
        json_object_array_add(findings, jf);
    }
    for (guint i = 0; i < res->warnings->len; i++)
        json_object_array_add(warnings,
                              json_object_new_string(g_ptr_array_index(res->warnings, i)));
    json_object_object_add(obj, "file", json_object_new_string(file));
    json_object_object_add(obj, "findings", findings);
    json_object_object_add(obj, "warnings", warnings);
    return obj;
}
