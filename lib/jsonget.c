/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "jsonget.h"

const char *
fp_json_str(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}
