/*
 * redact.c - Secret values kept from agents that may not read them (see
 * redact.h).
 */
#include <string.h>

#include "gate/kube/redact.h"

static void redact_values(json_t *map, const char *with)
{
    for (void *it = json_object_iter(map); it; it = json_object_iter_next(map, it))
        json_object_iter_set_new(map, it, json_string(with));
}

void gate_redact_secret(json_t *secret)
{
    if (!json_is_object(secret))
        return;
    redact_values(json_object_get(secret, "data"), GATE_REDACTED_B64);
    redact_values(json_object_get(secret, "stringData"), GATE_REDACTED);
    json_t *ann = json_object_get(json_object_get(secret, "metadata"), "annotations");
    if (json_object_get(ann, "kubectl.kubernetes.io/last-applied-configuration"))
        json_object_set_new(ann, "kubectl.kubernetes.io/last-applied-configuration", json_string(GATE_REDACTED));
}

void gate_redact_secret_answer(json_t *doc)
{
    if (json_is_array(doc)) {   /* the twin's list of objects */
        size_t i;
        json_t *x;
        json_array_foreach(doc, i, x) gate_redact_secret_answer(x);
        return;
    }
    if (!json_is_object(doc))
        return;
    gate_redact_secret(doc);
    gate_redact_secret_answer(json_object_get(doc, "items"));    /* a List */
    gate_redact_secret_answer(json_object_get(doc, "object"));   /* a watch event */
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(doc, "rows"), i, row)    /* a Table (includeObject) */
        gate_redact_secret_answer(json_object_get(row, "object"));
}

static int is_secret(const json_t *obj)
{
    const char *k = json_string_value(json_object_get(obj, "kind"));
    return k && !strcmp(k, "Secret");
}

json_t *gate_redact(const json_t *body, const char *kind)
{
    if (!body)
        return NULL;
    json_t *c = json_deep_copy(body);
    int secret = kind && !strcmp(kind, "Secret");
    if (json_is_array(c)) {   /* a JSON patch: the values it writes where values live */
        size_t i;
        json_t *op;
        json_array_foreach(c, i, op) {
            const char *path = json_string_value(json_object_get(op, "path"));
            if (secret && path && json_object_get(op, "value") &&
                (!strncmp(path, "/data", 5) || !strncmp(path, "/stringData", 11) ||
                 !strncmp(path, "/metadata", 9)))
                json_object_set_new(op, "value", json_string(GATE_REDACTED));
        }
        return c;
    }
    if (secret || is_secret(c))
        gate_redact_secret(c);
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(c, "items"), i, item) if (secret || is_secret(item)) gate_redact_secret(item);
    return c;
}

json_t *gate_redact_diff(const json_t *diff)
{
    if (!diff)
        return NULL;
    json_t *c = json_deep_copy(diff);
    size_t i;
    json_t *ch;
    json_array_foreach(c, i, ch) {
        if (!is_secret(ch))
            continue;
        gate_redact_secret(json_object_get(ch, "before"));
        gate_redact_secret(json_object_get(ch, "after"));
    }
    return c;
}
