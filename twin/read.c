/*
 * read.c - public reads, before and after an operation.
 *
 * The state before the open operation is not copied: it is the current
 * tables with every object the operation touched replaced by its `before`
 * version from the change map (the overlay).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selector.h"
#include "aws_int.h"
#include "twin_int.h"

json_t *twin_get(twin *t, twin_when when, const char *kind, const char *ns, const char *name)
{
    if (!kind || !name)
        return NULL;
    if (when == TWIN_BEFORE && t->in_op) {
        twin_change *c = twin__change(t, kind, ns ? ns : "", name);
        if (c)
            return c->before ? json_deep_copy(c->before) : NULL;
    }
    return twin__get(t, kind, ns ? ns : "", name);
}

static int cmp_obj(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(twin__ns(x), twin__ns(y));
    return c ? c : strcmp(twin__name(x) ? twin__name(x) : "", twin__name(y) ? twin__name(y) : "");
}

json_t *twin_list(twin *t, twin_when when, const char *kind, const char *ns, const char *label_selector,
                  const char *field_selector, char *err, size_t errlen)
{
    twin_selector *sel;
    twin_fieldsel *fs;
    if (twin_selectors_parse(&sel, &fs, label_selector, field_selector, err, errlen) < 0)
        return NULL;
    if (ns && !*ns)
        ns = NULL;
    json_t *cur = twin__list_selector(t, kind, ns, sel);
    json_t *out = json_array();
    int overlay = when == TWIN_BEFORE && t->in_op;
    size_t i;
    json_t *o;
    json_array_foreach(cur, i, o) {
        if (overlay && twin__change(t, kind, twin__ns(o), twin__name(o)))
            continue;   /* replaced by its before version below */
        if (!fs || twin_fieldsel_matches(fs, o))
            json_array_append(out, o);
    }
    json_decref(cur);
    if (overlay) {
        TWIN_MAP_FOREACH(&t->changes, e) {
            twin_change *c = e->value;
            if (!c->before || strcmp(c->kind, kind) || (ns && strcmp(c->ns, ns)))
                continue;
            if (!twin_selector_matches(sel, twin__path(c->before, "metadata.labels")))
                continue;
            if (fs && !twin_fieldsel_matches(fs, c->before))
                continue;
            json_array_append_new(out, json_deep_copy(c->before));
        }
        size_t n = json_array_size(out);
        json_t **v = twin_xmalloc((n + 1) * sizeof(json_t *));
        for (size_t k = 0; k < n; k++)
            v[k] = json_incref(json_array_get(out, k));
        qsort(v, n, sizeof(json_t *), cmp_obj);
        json_array_clear(out);
        for (size_t k = 0; k < n; k++)
            json_array_append_new(out, v[k]);
        free(v);
    }
    twin_selector_free(sel);
    twin_fieldsel_free(fs);
    return out;
}

void twin_export_text(twin *t, void (*each)(json_t *obj, void *ud), void *ud, twin_buf *out)
{
    sqlite3_stmt *st;
    twin__docs_flush(t);   /* the stored text is read below */
    static const char head[] = "{\"apiVersion\":\"v1\",\"items\":[", tail[] = "],\"kind\":\"List\",\"metadata\":{}}";
    twin_buf_add(out, head, sizeof head - 1);
    size_t n = 0;
    /* AWS resources are not Kubernetes objects: twin_aws_export writes them */
    if (sqlite3_prepare_v2(t->db, "SELECT doc FROM objects WHERE kind NOT IN " TWIN_AWS_KINDS_SQL " ORDER BY kind, ns, name",
                           -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            json_t *d = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
            if (!d)
                continue;
            if (each)
                each(d, ud);
            if (n++)
                twin_buf_add(out, ",", 1);
            twin_buf_json(out, d, 1);
            json_decref(d);
        }
        sqlite3_finalize(st);
    }
    twin_buf_add(out, tail, sizeof tail - 1);
}

json_t *twin_export(twin *t)
{
    sqlite3_stmt *st;
    json_t *items = json_array();
    twin__docs_flush(t);   /* the stored text is read below */
    if (sqlite3_prepare_v2(t->db, "SELECT doc FROM objects WHERE kind NOT IN " TWIN_AWS_KINDS_SQL " ORDER BY kind, ns, name",
                           -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            json_t *d = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
            if (d)
                json_array_append_new(items, d);
        }
        sqlite3_finalize(st);
    }
    return json_pack("{s:s, s:s, s:{}, s:o}", "apiVersion", "v1", "kind", "List", "metadata", "items", items);
}
