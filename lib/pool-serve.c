/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What `fastpass pool status` shows and one round of `fastpass pool serve` (reclaim, scrub,
 * count, refill), here where tests reach them; the CLI parses options and prints. */
#include "pool-private.h"

#include "error.h"

#include <json-c/json.h>

void
fp_pool_status_free(FpPoolStatus *st)
{
    if (!st)
        return;
    g_free(st->dir);
    g_free(st->refused);
    if (st->slots)
        g_ptr_array_unref(st->slots);
    g_free(st);
}

FpPoolStatus *
fp_pool_status(const FpPoolOptions *o, GError **error)
{
    g_autoptr(FpPoolStatus) st = g_new0(FpPoolStatus, 1);

    st->dir = g_strdup(pool_dir_name(o));
    st->reserve_pages = o->reserve_pages;
    if (!fp_pool_page_kib(o, &st->page_kib, error) || !(st->slots = fp_pool_list(o, error)))
        return NULL;
    st->have_pages = fp_pool_host_pages(o, -1, st->page_kib, &st->pages, NULL);
    fp_pool_slot_users(o, st->slots);
    for (guint i = 0; i < st->slots->len; i++) {
        const FpSlot *s = g_ptr_array_index(st->slots, i);

        st->counts[s->state]++;
        st->total += s->size;
        st->problems += s->problem != NULL;
    }
    return g_steal_pointer(&st);
}

char *
fp_slot_use_text(const FpSlot *s)
{
    if (s->user)
        return g_strdup_printf("in use by pid %d", s->user);
    if (s->user_unknown)
        return g_strdup_printf("in use: %s", s->user_unknown);
    return NULL;
}

static json_object *
slot_json(const FpSlot *s)
{
    json_object *j = json_object_new_object();

    json_object_object_add(j, "id", json_object_new_string(s->id));
    json_object_object_add(j, "path", json_object_new_string(s->path));
    json_object_object_add(j, "node", json_object_new_int(s->node));
    json_object_object_add(j, "size", json_object_new_int64((gint64)s->size));
    json_object_object_add(j, "page_kib", json_object_new_int64((gint64)s->page_kib));
    json_object_object_add(j, "state", json_object_new_string(fp_slot_state_name(s->state)));
    json_object_object_add(j, "owner", s->owner ? json_object_new_string(s->owner) : NULL);
    json_object_object_add(j, "problem", s->problem ? json_object_new_string(s->problem) : NULL);
    json_object_object_add(j, "user_pid", s->user ? json_object_new_int(s->user) : NULL);
    json_object_object_add(j, "in_use", json_object_new_boolean(s->user || s->user_unknown));
    json_object_object_add(j, "in_use_why",
                           s->user_unknown ? json_object_new_string(s->user_unknown) : NULL);
    return j;
}

char *
fp_pool_status_json(const FpPoolStatus *st)
{
    json_object *j = json_object_new_object(), *arr = json_object_new_array(),
                *c = json_object_new_object();
    char *out;

    json_object_object_add(j, "dir", json_object_new_string(st->dir));
    json_object_object_add(j, "page_kib", json_object_new_int64((gint64)st->page_kib));
    for (int s = FP_SLOT_CLEAN; s <= FP_SLOT_SCRUBBING; s++)
        json_object_object_add(c, fp_slot_state_name(s), json_object_new_int((int)st->counts[s]));
    json_object_object_add(c, "problems", json_object_new_int((int)st->problems));
    json_object_object_add(j, "counts", c);
    for (guint i = 0; i < st->slots->len; i++)
        json_object_array_add(arr, slot_json(g_ptr_array_index(st->slots, i)));
    json_object_object_add(j, "slots", arr);
    json_object_object_add(j, "slots_given", json_object_new_boolean(!st->refused));
    json_object_object_add(j, "slots_given_why_not",
                           st->refused ? json_object_new_string(st->refused) : NULL);
    if (st->have_pages) {
        json_object *h = json_object_new_object();

        json_object_object_add(h, "nr", json_object_new_int64((gint64)st->pages.nr));
        json_object_object_add(h, "free", json_object_new_int64((gint64)st->pages.free));
        json_object_object_add(h, "resv", json_object_new_int64((gint64)st->pages.resv));
        json_object_object_add(h, "reserve", json_object_new_int64((gint64)st->reserve_pages));
        json_object_object_add(j, "hugepages", h);
    }
    out = g_strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(j);
    return out;
}

void
fp_pool_round_clear(FpPoolRound *r)
{
    g_clear_error(&r->reclaim_error);
    g_clear_error(&r->scrub_error);
    g_clear_error(&r->fill_error);
}

/* Clean slots of SIZE on NODE (-1: any), as serve keeps them. */
static gboolean
count_clean(const FpPoolOptions *o, const FpPoolServe *s, guint *clean, GError **error)
{
    g_autoptr(GPtrArray) slots = fp_pool_list(o, error);

    *clean = 0;
    if (!slots)
        return FALSE;
    for (guint i = 0; i < slots->len; i++) {
        const FpSlot *x = g_ptr_array_index(slots, i);

        *clean +=
            x->state == FP_SLOT_CLEAN && x->size == s->size && (s->node < 0 || x->node == s->node);
    }
    return TRUE;
}

void
fp_pool_serve_round(const FpPoolOptions *o, const FpPoolServe *s, FpPoolRound *r)
{
    *r = (FpPoolRound){0};
    /* Claims nobody uses, older than stale_after: dirty (a pass over every process's maps). */
    if (s->reclaim)
        fp_pool_reclaim_stale(o, s->stale_after, &r->reclaimed, &r->reclaim_error);
    /* Every dirty slot no process uses: clean again (and leftovers of a fill or scrub that was
     * killed: rebuilt, or removed with their pages given back). */
    fp_pool_scrub(o, &r->scrubbed, &r->busy, &r->scrub_error);
    if (!count_clean(o, s, &r->clean, &r->fill_error)) {
        r->clean = G_MAXUINT;
        return;
    }
    while (r->clean < s->keep && !(s->stop && s->stop(s->stop_data))) {
        if (!fp_pool_fill(o, s->node, s->size, 1, &r->fill_error))
            break;
        r->clean++;
        r->made++;
    }
}
