/*
 * patch.c - RFC 7386 merge patch, RFC 6902 JSON patch, Kubernetes strategic
 * merge patch and a simplified server-side apply.  See patch.h for the
 * contract; this file is laid out in that order, after the shared helpers.
 *
 * Every entry point works on a deep copy of the document (or, for the merge
 * patch, on an operation that cannot fail half way) and swaps it in only on
 * success, so a failing patch never leaves a half-applied object behind.
 */
#include "patch.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Shared helpers                                                            */
/* ------------------------------------------------------------------------ */

/* jansson's iteration API takes non-const pointers although iterating does not
 * modify anything; MUT casts const away for reading only. */
#define MUT(v) ((json_t *)(v))
#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Directive keys of strategic merge patch. */
#define DIR_PATCH "$patch"
#define DIR_RETAIN "$retainKeys"
#define DIR_ORDER "$setElementOrder/"
#define DIR_DELETE_PRIM "$deleteFromPrimitiveList/"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* jansson reports allocation failure as NULL or -1.  The project's one OOM
 * policy is to abort (see twin_xmalloc in util.h), so the code below carries
 * no dead out-of-memory paths; these wrappers are the only place it is
 * checked.  The other failures of these calls (a bad index, an invalid key)
 * cannot happen for the arguments this file passes. */
static void oom(void)
{
    fputs("airlock: out of memory in twin/patch\n", stderr);
    abort();
}

static json_t *must(json_t *v)
{
    if (!v)
        oom();
    return v;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        oom();
    return p;
}

static json_t *copy(const json_t *v)
{
    return must(json_deep_copy(v));
}

static void obj_set(json_t *obj, const char *key, json_t *value /* taken */)
{
    if (json_object_set_new(obj, key, value))
        oom();
}

static void arr_add(json_t *arr, json_t *value /* taken */)
{
    if (json_array_append_new(arr, value))
        oom();
}

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Deep equality in which numbers compare by value, so 1 equals 1.0 (RFC 6902
 * section 4.6; json_equal would call them different). */
static int values_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_object(a)) {
        const char *k;
        json_t *v;
        if (json_object_size(a) != json_object_size(b))
            return 0;
        json_object_foreach(MUT(a), k, v) {
            const json_t *w = json_object_get(b, k);
            if (!w || !values_equal(v, w))
                return 0;
        }
        return 1;
    }
    if (json_is_array(a)) {
        size_t i;
        json_t *v;
        if (json_array_size(a) != json_array_size(b))
            return 0;
        json_array_foreach(MUT(a), i, v)
            if (!values_equal(v, json_array_get(b, i)))
                return 0;
        return 1;
    }
    return json_equal(a, b); /* strings; true/false/null are equal by type */
}

/* Nonzero when `v` nests more than `limit` containers deep.  Checked once on
 * every patch input so that the recursive code below is bounded. */
static int too_deep(const json_t *v, int limit)
{
    const char *k;
    size_t i;
    json_t *c;
    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    if (limit <= 0)
        return 1;
    if (json_is_object(v)) {
        json_object_foreach(MUT(v), k, c)
            if (too_deep(c, limit - 1))
                return 1;
    } else {
        json_array_foreach(MUT(v), i, c)
            if (too_deep(c, limit - 1))
                return 1;
    }
    return 0;
}

/* A copy of `v` without null object members, at any depth: what a null means
 * in a value that has nothing under it to delete. */
static json_t *copy_without_nulls(const json_t *v)
{
    const char *k;
    size_t i;
    json_t *c, *out;
    if (json_is_object(v)) {
        out = must(json_object());
        json_object_foreach(MUT(v), k, c)
            if (!json_is_null(c))
                obj_set(out, k, copy_without_nulls(c));
        return out;
    }
    if (json_is_array(v)) {
        out = must(json_array());
        json_array_foreach(MUT(v), i, c)
            arr_add(out, copy_without_nulls(c));
        return out;
    }
    return copy(v);
}

/* ------------------------------------------------------------------------ */
/* RFC 7386 JSON merge patch                                                 */
/* ------------------------------------------------------------------------ */

/* The RFC's MergePatch(Target, Patch), section 2.  `target` is taken (may be
 * NULL for "absent"); returns the new target.  It cannot fail, so it works in
 * place. */
static json_t *merge7386(json_t *target, const json_t *patch)
{
    const char *k;
    json_t *v;
    if (!json_is_object(patch)) {
        json_decref(target);
        return copy(patch);
    }
    if (!json_is_object(target)) {
        json_decref(target);
        target = must(json_object());
    }
    json_object_foreach(MUT(patch), k, v) {
        if (json_is_null(v)) {
            json_object_del(target, k);
            continue;
        }
        /* Take our own reference: obj_set below drops the member's. */
        json_t *cur = json_incref(json_object_get(target, k));
        obj_set(target, k, merge7386(cur, v));
    }
    return target;
}

int twin_patch_merge(json_t **doc, const json_t *patch, char *err, size_t errlen)
{
    if (!doc || !patch)
        return fail(err, errlen, "merge patch: no document or no patch");
    if (too_deep(patch, TWIN_PATCH_MAX_DEPTH))
        return fail(err, errlen, "merge patch nests deeper than %d levels",
                    TWIN_PATCH_MAX_DEPTH);
    *doc = merge7386(*doc, patch);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* RFC 6901 JSON pointers                                                    */
/* ------------------------------------------------------------------------ */

/* Unescapes the reference token starting at `s` (just after a '/') into `tok`
 * (which has room for the whole pointer).  Returns where the token ends (the
 * next '/' or the NUL), or NULL on a '~' not followed by '0' or '1'. */
static const char *ptr_token(const char *s, char *tok)
{
    while (*s && *s != '/') {
        if (*s == '~') {
            if (s[1] != '0' && s[1] != '1')
                return NULL;
            *tok++ = s[1] == '0' ? '~' : '/';
            s += 2;
        } else {
            *tok++ = *s++;
        }
    }
    *tok = '\0';
    return s;
}

/* Parses an array index token for an array of `size` elements.  `insert`
 * allows "-" and `size` itself (a position to add at, RFC 6902 section 4.1).
 * Returns 0, or an error message. */
static const char *ptr_index(const char *tok, size_t size, int insert, size_t *out)
{
    size_t v = 0;
    if (strcmp(tok, "-") == 0) {
        if (!insert)
            return "\"-\" names no existing array element";
        *out = size;
        return NULL;
    }
    if (!*tok || (tok[0] == '0' && tok[1]))
        return "invalid array index";
    for (const char *p = tok; *p; p++) {
        if (*p < '0' || *p > '9')
            return "invalid array index";
        if (v > (SIZE_MAX - 9) / 10)
            return "array index out of range";
        v = v * 10 + (size_t)(*p - '0');
    }
    if (v > size || (!insert && v == size))
        return "array index out of range";
    *out = v;
    return NULL;
}

/* The member or element of `v` that `tok` names, or NULL with *why set. */
static json_t *ptr_child(json_t *v, const char *tok, const char **why)
{
    size_t i;
    if (json_is_object(v)) {
        json_t *c = json_object_get(v, tok);
        if (!c)
            *why = "path not found";
        return c;
    }
    if (json_is_array(v)) {
        *why = ptr_index(tok, json_array_size(v), 0, &i);
        return *why ? NULL : json_array_get(v, i);
    }
    *why = "path not found";
    return NULL;
}

/* Walks a non-empty pointer to the container of its last token: *parent is
 * that container (borrowed), `tok` receives the last token. */
static int ptr_parent(json_t *doc, const char *ptr, json_t **parent, char *tok, const char **why)
{
    json_t *cur = doc;
    if (*ptr != '/') {
        *why = "a JSON pointer must be empty or start with '/'";
        return -1;
    }
    for (;;) {
        const char *next = ptr_token(ptr + 1, tok);
        if (!next) {
            *why = "bad '~' escape in JSON pointer";
            return -1;
        }
        if (!*next) {
            *parent = cur;
            return 0;
        }
        if (!(cur = ptr_child(cur, tok, why)))
            return -1;
        ptr = next;
    }
}

/* The value at `ptr` (borrowed), or NULL with *why set. */
static json_t *ptr_get(json_t *doc, const char *ptr, char *tok, const char **why)
{
    json_t *parent;
    if (!*ptr)
        return doc;
    if (ptr_parent(doc, ptr, &parent, tok, why))
        return NULL;
    return ptr_child(parent, tok, why);
}

/* ------------------------------------------------------------------------ */
/* RFC 6902 JSON patch                                                       */
/* ------------------------------------------------------------------------ */

/* Adds `val` (taken) at `path` (RFC 6902 section 4.1). */
static int jp_add(json_t **root, const char *path, json_t *val, char *tok, const char **why)
{
    json_t *parent;
    size_t i;
    if (!*path) {
        json_decref(*root);
        *root = val;
        return 0;
    }
    if (ptr_parent(*root, path, &parent, tok, why))
        goto fail;
    if (json_is_object(parent)) {
        obj_set(parent, tok, val);
        return 0;
    }
    if (!json_is_array(parent)) {
        *why = "parent of path is not an object or array";
        goto fail;
    }
    if ((*why = ptr_index(tok, json_array_size(parent), 1, &i)))
        goto fail;
    if (json_array_insert_new(parent, i, val))
        oom();
    return 0;
fail:
    json_decref(val);
    return -1;
}

/* Removes the value at `path`; if `out` is not NULL it receives that value
 * (a new reference) for move. */
static int jp_remove(json_t *root, const char *path, json_t **out, char *tok, const char **why)
{
    json_t *parent, *v;
    size_t i = 0;
    if (!*path) {
        *why = "cannot remove the whole document";
        return -1;
    }
    if (ptr_parent(root, path, &parent, tok, why) || !(v = ptr_child(parent, tok, why)))
        return -1;
    if (out)
        *out = json_incref(v);
    if (json_is_object(parent))
        json_object_del(parent, tok);
    else if (!ptr_index(tok, json_array_size(parent), 0, &i))
        json_array_remove(parent, i);
    return 0;
}

static int jp_replace(json_t **root, const char *path, const json_t *value, char *tok,
                      const char **why)
{
    json_t *parent;
    size_t i = 0;
    if (!*path) {
        json_decref(*root);
        *root = copy(value);
        return 0;
    }
    if (ptr_parent(*root, path, &parent, tok, why) || !ptr_child(parent, tok, why))
        return -1;
    if (json_is_object(parent))
        obj_set(parent, tok, copy(value));
    else if (!ptr_index(tok, json_array_size(parent), 0, &i) &&
             json_array_set_new(parent, i, copy(value)))
        oom();
    return 0;
}

static int jp_move(json_t **root, const char *from, const char *path, char *tok,
                   const char **why)
{
    size_t n = strlen(from);
    json_t *v;
    if (strcmp(from, path) == 0) {
        if (!ptr_get(*root, from, tok, why)) {
            *why = "\"from\" path not found";
            return -1;
        }
        return 0;
    }
    if (strncmp(path, from, n) == 0 && path[n] == '/') {
        *why = "cannot move a value into one of its own children";
        return -1;
    }
    if (jp_remove(*root, from, &v, tok, why)) {
        *why = "\"from\" path not found";
        return -1;
    }
    return jp_add(root, path, v, tok, why);
}

static int jp_copy(json_t **root, const char *from, const char *path, char *tok,
                   const char **why)
{
    json_t *v = ptr_get(*root, from, tok, why);
    if (!v) {
        *why = "\"from\" path not found";
        return -1;
    }
    return jp_add(root, path, copy(v), tok, why);
}

static int jp_test(json_t *root, const char *path, const json_t *value, char *tok,
                   const char **why)
{
    json_t *v = ptr_get(root, path, tok, why);
    if (!v)
        return -1;
    if (!values_equal(v, value)) {
        *why = "test failed: the value differs";
        return -1;
    }
    return 0;
}

/* Runs one operation object against *root.  `i` is its index, for messages. */
static int jp_apply_op(json_t **root, const json_t *op, size_t i, char *err, size_t errlen)
{
    const char *name, *path, *from, *why = "unknown error";
    const json_t *value;
    int rc, needs_value, needs_from;
    if (!json_is_object(op))
        return fail(err, errlen, "op %zu: not a JSON object", i);
    if (!(name = json_string_value(json_object_get(op, "op"))))
        return fail(err, errlen, "op %zu: missing \"op\" string", i);
    if (!(path = json_string_value(json_object_get(op, "path"))))
        return fail(err, errlen, "op %zu (%s): missing \"path\" string", i, name);
    value = json_object_get(op, "value");
    from = json_string_value(json_object_get(op, "from"));
    needs_value = !strcmp(name, "add") || !strcmp(name, "replace") || !strcmp(name, "test");
    needs_from = !strcmp(name, "move") || !strcmp(name, "copy");
    if (!needs_value && !needs_from && strcmp(name, "remove"))
        return fail(err, errlen, "op %zu (%s %s): unknown op", i, name, path);
    if (needs_value && !value)
        return fail(err, errlen, "op %zu (%s %s): missing \"value\"", i, name, path);
    if (needs_from && !from)
        return fail(err, errlen, "op %zu (%s %s): missing \"from\" string", i, name, path);

    /* Token scratch space with room for any token of either pointer. */
    char *tok = xcalloc(strlen(path) + (from ? strlen(from) : 0) + 1, 1);
    if (!strcmp(name, "add"))
        rc = jp_add(root, path, copy(value), tok, &why);
    else if (!strcmp(name, "remove"))
        rc = jp_remove(*root, path, NULL, tok, &why);
    else if (!strcmp(name, "replace"))
        rc = jp_replace(root, path, value, tok, &why);
    else if (!strcmp(name, "move"))
        rc = jp_move(root, from, path, tok, &why);
    else if (!strcmp(name, "copy"))
        rc = jp_copy(root, from, path, tok, &why);
    else
        rc = jp_test(*root, path, value, tok, &why);
    free(tok);
    if (rc && needs_from)
        return fail(err, errlen, "op %zu (%s %s -> %s): %s", i, name, from, path, why);
    if (rc)
        return fail(err, errlen, "op %zu (%s %s): %s", i, name, path, why);
    return 0;
}

int twin_patch_json(json_t **doc, const json_t *ops, char *err, size_t errlen)
{
    size_t i;
    json_t *op, *work;
    if (!doc || !*doc)
        return fail(err, errlen, "JSON patch: no document");
    if (!json_is_array(ops))
        return fail(err, errlen, "JSON patch must be a JSON array of operations");
    if (too_deep(ops, TWIN_PATCH_MAX_DEPTH))
        return fail(err, errlen, "JSON patch nests deeper than %d levels", TWIN_PATCH_MAX_DEPTH);
    /* Atomicity: every op runs on a copy that replaces *doc only at the end. */
    work = copy(*doc);
    json_array_foreach(MUT(ops), i, op) {
        if (jp_apply_op(&work, op, i, err, errlen)) {
            json_decref(work);
            return -1;
        }
    }
    json_decref(*doc);
    *doc = work;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Strategic merge metadata                                                  */
/* ------------------------------------------------------------------------ */

enum {
    F_RETAIN_KEYS = 1, /* patchStrategy retainKeys: kubectl sends $retainKeys
                          (recorded for diff tools; the directive is honoured
                          wherever it appears, as apimachinery does) */
    F_REPLACE_MAP = 2, /* patchStrategy replace on a map: replaced whole */
};

/* Scopes of a field row besides kind names. */
#define ANY_KIND "*"            /* path from the root of every object */
#define POD_SPEC "@podspec"     /* path inside every pod spec (see pod_spec_roots) */
#define CONTAINER "@container"  /* path inside every container of a pod spec */

/* Kinds whose status.conditions merge by type. */
#define CONDITION_KINDS                                                              \
    "Pod,Node,Namespace,PersistentVolumeClaim,Service,ReplicationController,"         \
    "Deployment,ReplicaSet,StatefulSet,DaemonSet,Job,HorizontalPodAutoscaler,"         \
    "PodDisruptionBudget"

typedef struct smp_field {
    const char *scope; /* ANY_KIND, POD_SPEC, CONTAINER or comma-separated kinds */
    const char *path;  /* dotted, list elements as "[]" */
    const char *key;   /* merge key; "" = scalars merged as a set; NULL = not a list */
    unsigned flags;
} smp_field;

/* api@v0.32.13 patchStrategy/patchMergeKey tags (fact sheet section 2).  Every
 * list not named here is atomic: a patch replaces it. */
static const smp_field smp_table[] = {
    {ANY_KIND, "metadata.ownerReferences", "uid", 0},
    {ANY_KIND, "metadata.finalizers", "", 0},

    {POD_SPEC, "containers", "name", 0},
    {POD_SPEC, "initContainers", "name", 0},
    {POD_SPEC, "ephemeralContainers", "name", 0},
    {POD_SPEC, "volumes", "name", F_RETAIN_KEYS},
    {POD_SPEC, "imagePullSecrets", "name", 0},
    {POD_SPEC, "hostAliases", "ip", 0},
    {POD_SPEC, "topologySpreadConstraints", "topologyKey", 0},
    {POD_SPEC, "schedulingGates", "name", 0},
    {POD_SPEC, "resourceClaims", "name", F_RETAIN_KEYS},

    /* Upstream the key is containerPort alone although the list-map key is
     * containerPort+protocol, so 53/TCP and 53/UDP collide; so do we. */
    {CONTAINER, "ports", "containerPort", 0},
    {CONTAINER, "env", "name", 0},
    {CONTAINER, "volumeMounts", "mountPath", 0},
    {CONTAINER, "volumeDevices", "devicePath", 0},

    {"Pod", "status.podIPs", "ip", 0},
    {"Pod", "status.hostIPs", "ip", 0},
    {"Pod", "status.resourceClaimStatuses", "name", F_RETAIN_KEYS},
    {"Pod", "status.containerStatuses[].volumeMounts", "mountPath", 0},
    {"Pod", "status.initContainerStatuses[].volumeMounts", "mountPath", 0},
    {"Pod", "status.ephemeralContainerStatuses[].volumeMounts", "mountPath", 0},
    {"Pod", "status.containerStatuses[].allocatedResourcesStatus", "name", 0},
    {"Pod", "status.initContainerStatuses[].allocatedResourcesStatus", "name", 0},
    {"Pod", "status.ephemeralContainerStatuses[].allocatedResourcesStatus", "name", 0},

    {CONDITION_KINDS, "status.conditions", "type", 0},
    {"ComponentStatus", "conditions", "type", 0},
    {"Node", "status.addresses", "type", 0},
    {"Node", "spec.podCIDRs", "", 0},
    {"Service", "spec.ports", "port", 0},
    {"ServiceAccount", "secrets", "name", 0},
    {"Deployment", "spec.strategy", NULL, F_RETAIN_KEYS},
    {"PodDisruptionBudget", "spec.selector", NULL, F_REPLACE_MAP},
};

/* Where each kind keeps its pod spec; POD_SPEC rows apply under each. */
static const struct {
    const char *kind, *root;
} pod_spec_roots[] = {
    {"Pod", "spec"},
    {"Deployment", "spec.template.spec"},
    {"ReplicaSet", "spec.template.spec"},
    {"StatefulSet", "spec.template.spec"},
    {"DaemonSet", "spec.template.spec"},
    {"Job", "spec.template.spec"},
    {"ReplicationController", "spec.template.spec"},
    {"CronJob", "spec.jobTemplate.spec.template.spec"},
    {"PodTemplate", "template.spec"},
};

/* The three lists of a pod spec whose elements are containers. */
static const char *const container_lists[] = {
    "containers[]", "initContainers[]", "ephemeralContainers[]",
};

/* Nonzero when `kind` is one of the comma-separated names in `list`. */
static int kind_in(const char *list, const char *kind)
{
    size_t n = strlen(kind);
    if (!n)
        return 0;
    for (;;) {
        const char *comma = strchr(list, ',');
        size_t len = comma ? (size_t)(comma - list) : strlen(list);
        if (len == n && strncmp(list, kind, n) == 0)
            return 1;
        if (!comma)
            return 0;
        list = comma + 1;
    }
}

/* If `path` is `prefix` + "." + rest, returns rest; otherwise NULL. */
static const char *under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    if (!path || strncmp(path, prefix, n) != 0 || path[n] != '.')
        return NULL;
    return path + n + 1;
}

/* `path` relative to the pod spec of `kind`, or NULL when not inside one. */
static const char *in_pod_spec(const char *kind, const char *path)
{
    for (size_t i = 0; i < N_ELEMS(pod_spec_roots); i++)
        if (strcmp(kind, pod_spec_roots[i].kind) == 0)
            return under(path, pod_spec_roots[i].root);
    return NULL;
}

/* `path` relative to a container of a pod spec of `kind`, or NULL. */
static const char *in_container(const char *kind, const char *path)
{
    const char *rest = in_pod_spec(kind, path), *r;
    for (size_t i = 0; rest && i < N_ELEMS(container_lists); i++)
        if ((r = under(rest, container_lists[i])))
            return r;
    return NULL;
}

static const smp_field *smp_lookup(const char *kind, const char *path)
{
    const char *pod = in_pod_spec(kind, path), *ctr = in_container(kind, path);
    for (size_t i = 0; i < N_ELEMS(smp_table); i++) {
        const smp_field *f = &smp_table[i];
        const char *rel = path;
        if (strcmp(f->scope, POD_SPEC) == 0)
            rel = pod;
        else if (strcmp(f->scope, CONTAINER) == 0)
            rel = ctr;
        else if (strcmp(f->scope, ANY_KIND) != 0 && !kind_in(f->scope, kind))
            continue;
        if (rel && strcmp(rel, f->path) == 0)
            return f;
    }
    return NULL;
}

int twin_patch_atomic_map(const char *kind, const char *path)
{
    const smp_field *f = path ? smp_lookup(kind ? kind : "", path) : NULL;
    return f && (f->flags & F_REPLACE_MAP);
}

const char *twin_patch_merge_key(const char *kind, const char *path)
{
    const smp_field *f;
    if (!path)
        return NULL;
    f = smp_lookup(kind ? kind : "", path);
    return f ? f->key : NULL;
}

/* ------------------------------------------------------------------------ */
/* Walk context: kind, current field path, error buffer                      */
/* ------------------------------------------------------------------------ */

typedef struct smp_ctx {
    const char *kind;
    twin_fpath fp;   /* where the walk is: "spec.template.spec.containers[].env" */
    char *err;
    size_t errlen;
} smp_ctx;

typedef twin_fmark path_mark;

twin_fmark twin__fpath_push(twin_fpath *p, const char *field)
{
    twin_fmark m = {p->len, p->truncated};
    const char *sep = field && p->len ? "." : "";
    const char *seg = field ? field : "[]";
    size_t ns = strlen(sep), ng = strlen(seg);
    if (p->truncated || p->len + ns + ng >= sizeof p->s) {
        p->truncated = 1;
        return m;
    }
    memcpy(p->s + p->len, sep, ns);
    memcpy(p->s + p->len + ns, seg, ng + 1);
    p->len += ns + ng;
    return m;
}

void twin__fpath_pop(twin_fpath *p, twin_fmark m)
{
    p->len = m.len;
    p->truncated = m.truncated;
    p->s[p->len] = '\0';
}

/* Descends into member `field`, or into a list element when `field` is NULL.
 * Returns the mark path_pop restores. */
static path_mark path_push(smp_ctx *c, const char *field)
{
    return twin__fpath_push(&c->fp, field);
}

static void path_pop(smp_ctx *c, path_mark m)
{
    twin__fpath_pop(&c->fp, m);
}

/* The metadata row for the field at the current path, if any. */
static const smp_field *ctx_field(const smp_ctx *c)
{
    return c->fp.truncated ? NULL : smp_lookup(c->kind, c->fp.s);
}

/* Writes "<path>: <message>" into the caller's buffer; returns -1. */
static int smp_fail(smp_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int smp_fail(smp_ctx *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail(c->err, c->errlen, "%s%s: %s", c->fp.len ? c->fp.s : "(root)",
                c->fp.truncated ? "..." : "", msg);
}

/* ------------------------------------------------------------------------ */
/* List identity and ordering                                                */
/* ------------------------------------------------------------------------ */

/* What identifies a list element: its merge-key value, or the element itself
 * in a list of scalars (key ""). NULL when a map lacks the key. */
static const json_t *elem_id(const json_t *e, const char *key)
{
    if (!*key)
        return e;
    return json_is_object(e) ? json_object_get(e, key) : NULL;
}

/* Position in `list` of the first element identified by `id`, or -1. */
static long index_by_id(const json_t *list, const json_t *id, const char *key)
{
    size_t i;
    json_t *e;
    if (!id)
        return -1;
    json_array_foreach(MUT(list), i, e) {
        const json_t *eid = elem_id(e, key);
        if (eid && values_equal(eid, id))
            return (long)i;
    }
    return -1;
}

/* Position of `e` in the server's list: the very element if it came from
 * there (this also places elements lacking their key), else by identity. */
static long server_index(const json_t *server, const json_t *e, const char *key)
{
    size_t i;
    json_t *s;
    json_array_foreach(MUT(server), i, s)
        if (s == e)
            return (long)i;
    return index_by_id(server, elem_id(e, key), key);
}

typedef struct ranked {
    json_t *v;
    long pat; /* position in the patch's order, -1 if absent */
    long srv; /* position in the server's list, -1 if absent */
} ranked;

static long rank_of(const ranked *r, int by_patch)
{
    long k = by_patch ? r->pat : r->srv;
    return k < 0 ? LONG_MAX : k;
}

/* Stable insertion sort; lists are capped at TWIN_PATCH_MAX_LIST. */
static void sort_ranked(ranked *r, size_t n, int by_patch)
{
    for (size_t i = 1; i < n; i++) {
        ranked x = r[i];
        size_t j = i;
        while (j > 0 && rank_of(&r[j - 1], by_patch) > rank_of(&x, by_patch)) {
            r[j] = r[j - 1];
            j--;
        }
        r[j] = x;
    }
}

/*
 * The order apimachinery gives a merged list (normalizeElementOrder and
 * mergeSortedSlice in strategicpatch/patch.go): the elements the patch names
 * take the patch's order (`order`: the patch list or $setElementOrder), the
 * others keep the server's order (`server`), and the two runs are interleaved
 * by server position where both elements have one.  Where they cannot be
 * compared -- an element new to the list -- the patch's element goes first:
 * adding a container to [a, b] without $setElementOrder gives [new, a, b],
 * exactly what `kubectl patch` produces on a real cluster.
 * Returns a new array holding new references to `merged`'s elements.
 */
static json_t *smp_interleave(const json_t *merged, const json_t *order, const json_t *server,
                              const char *key)
{
    size_t n = json_array_size(merged), np = 0, ns = 0, i = 0, j = 0, k;
    ranked *pat = xcalloc(n, sizeof *pat), *srv = xcalloc(n, sizeof *srv);
    json_t *e, *out = must(json_array());

    json_array_foreach(MUT(merged), k, e) {
        ranked r = {e, index_by_id(order, elem_id(e, key), key), server_index(server, e, key)};
        if (r.pat >= 0)
            pat[np++] = r;
        else
            srv[ns++] = r;
    }
    sort_ranked(pat, np, 1);
    sort_ranked(srv, ns, 0);
    while (i < ns || j < np) {
        int take_server = i < ns && (j >= np || (srv[i].srv >= 0 && pat[j].srv >= 0 &&
                                                 srv[i].srv < pat[j].srv));
        arr_add(out, json_incref(take_server ? srv[i++].v : pat[j++].v));
    }
    free(pat);
    free(srv);
    return out;
}

/* ------------------------------------------------------------------------ */
/* Strategic merge patch                                                     */
/* ------------------------------------------------------------------------ */

static int smp_map(smp_ctx *c, json_t **obj, const json_t *p);
static int smp_list(smp_ctx *c, const json_t *orig, const json_t *p, json_t **out);

static int is_directive_key(const char *k)
{
    return !strcmp(k, DIR_PATCH) || !strcmp(k, DIR_RETAIN) || has_prefix(k, DIR_ORDER) ||
           has_prefix(k, DIR_DELETE_PRIM);
}

static int list_too_long(smp_ctx *c, const json_t *list)
{
    if (json_array_size(list) <= TWIN_PATCH_MAX_LIST)
        return 0;
    return smp_fail(c, "merged list has %zu elements (limit %d)", json_array_size(list),
                    TWIN_PATCH_MAX_LIST);
}

/* A list without a patch strategy: the patch's list replaces it.  Elements are
 * normalised (nulls dropped, directives applied against nothing), and
 * directive-only markers such as {"$patch":"replace"} are dropped since a
 * replaced list needs none. */
static int smp_list_atomic(smp_ctx *c, const json_t *p, json_t **out)
{
    size_t i;
    json_t *e, *res = must(json_array());
    json_array_foreach(MUT(p), i, e) {
        json_t *n = NULL;
        int rc = 0;
        path_mark m;
        if (json_is_object(e) && json_object_get(e, DIR_PATCH))
            continue;
        m = path_push(c, NULL);
        if (json_is_object(e)) {
            n = must(json_object());
            rc = smp_map(c, &n, e);
        } else if (json_is_array(e)) {
            rc = smp_list_atomic(c, e, &n);
        } else {
            n = copy(e);
        }
        path_pop(c, m);
        if (rc) {
            json_decref(n);
            json_decref(res);
            return -1;
        }
        arr_add(res, n);
    }
    *out = res;
    return 0;
}

/* Adds `e` to `list` unless an equal value is already there. */
static void add_unique(json_t *list, json_t *e /* taken */)
{
    if (index_by_id(list, e, "") >= 0)
        json_decref(e);
    else
        arr_add(list, e);
}

/* A list of scalars with strategy merge (finalizers): the union, without
 * duplicates, in apimachinery's order. */
static int smp_list_set(smp_ctx *c, const json_t *orig, const json_t *p, json_t **out)
{
    size_t i;
    json_t *e, *merged = must(json_array());
    json_array_foreach(MUT(p), i, e) {
        if (json_is_object(e) || json_is_array(e)) {
            json_decref(merged);
            return smp_fail(c, "element %zu is not a scalar (this list merges as a set)", i);
        }
    }
    if (orig)
        json_array_foreach(MUT(orig), i, e)
            add_unique(merged, json_incref(e));
    json_array_foreach(MUT(p), i, e)
        add_unique(merged, copy(e));
    if (list_too_long(c, merged)) {
        json_decref(merged);
        return -1;
    }
    *out = smp_interleave(merged, p, orig, "");
    json_decref(merged);
    return 0;
}

/* Removes from `work` every element whose merge key equals `id`. */
static void remove_by_id(json_t *work, const json_t *id, const char *key)
{
    long at;
    while ((at = index_by_id(work, id, key)) >= 0)
        json_array_remove(work, (size_t)at);
}

/* First pass over a keyed patch list: the $patch elements.  Deletes what
 * they delete from `work` and reports whether the list is to be replaced. */
static int smp_list_directives(smp_ctx *c, json_t *work, const json_t *p, const char *key,
                               int *replace)
{
    size_t i;
    json_t *e;
    json_array_foreach(MUT(p), i, e) {
        const json_t *d;
        const char *s;
        if (!json_is_object(e))
            return smp_fail(c, "element %zu is not an object (this list merges by \"%s\")", i,
                            key);
        if (!(d = json_object_get(e, DIR_PATCH)))
            continue;
        s = json_string_value(d);
        if (s && !strcmp(s, "delete")) {
            const json_t *id = json_object_get(e, key);
            if (!id)
                return smp_fail(c, "element %zu: $patch: delete needs the merge key \"%s\"", i,
                                key);
            remove_by_id(work, id, key);
        } else if (s && !strcmp(s, "replace")) {
            *replace = 1;
        } else if (!s || strcmp(s, "merge")) {
            return smp_fail(c, "element %zu: unknown $patch directive", i);
        }
    }
    return 0;
}

/* Merges patch element `e` into the element of `work` with the same key, or
 * appends it when there is none (final placement is smp_interleave's). */
static int smp_merge_element(smp_ctx *c, json_t *work, const json_t *e, const json_t *id,
                             const char *key)
{
    long at = index_by_id(work, id, key);
    json_t *el = at >= 0 ? json_incref(json_array_get(work, (size_t)at)) : must(json_object());
    path_mark m = path_push(c, NULL);
    int rc = smp_map(c, &el, e);
    path_pop(c, m);
    if (rc) {
        json_decref(el);
        return -1;
    }
    if (at < 0)
        arr_add(work, el);
    else if (json_array_set_new(work, (size_t)at, el))
        oom();
    return 0;
}

/* A list of maps with a merge key: element by element. */
static int smp_list_keyed(smp_ctx *c, const json_t *orig, const json_t *p, const char *key,
                          json_t **out)
{
    size_t i;
    json_t *e, *server = NULL, *work = must(json_array());
    int replace = 0, rc = -1;

    if (orig && json_array_extend(work, MUT(orig)))
        oom();
    if (smp_list_directives(c, work, p, key, &replace))
        goto cleanup;
    if (replace)
        json_array_clear(work);
    /* The server's order is the list after deletions, before merging. */
    server = must(json_array());
    if (json_array_extend(server, work))
        oom();
    json_array_foreach(MUT(p), i, e) {
        const json_t *id;
        if (json_object_get(e, DIR_PATCH))
            continue;
        if (!(id = json_object_get(e, key))) {
            smp_fail(c, "element %zu has no merge key \"%s\"", i, key);
            goto cleanup;
        }
        if (smp_merge_element(c, work, e, id, key))
            goto cleanup;
    }
    if (list_too_long(c, work))
        goto cleanup;
    *out = smp_interleave(work, p, server, key);
    rc = 0;
cleanup:
    json_decref(server);
    json_decref(work);
    return rc;
}

/* Merges patch list `p` into `orig` (borrowed, may be NULL when the field is
 * absent or not a list) for the field at the current path. */
static int smp_list(smp_ctx *c, const json_t *orig, const json_t *p, json_t **out)
{
    const smp_field *f = ctx_field(c);
    if (!f || !f->key)
        return smp_list_atomic(c, p, out);
    if (!*f->key)
        return smp_list_set(c, orig, p, out);
    return smp_list_keyed(c, orig, p, f->key, out);
}

/* Nonzero when `list` holds the string `s`. */
static int str_listed(const json_t *list, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(MUT(list), i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return 1;
    return 0;
}

/* $retainKeys: every field the patch sets must be listed, and the original
 * keeps only the listed fields (how a Deployment's strategy drops
 * rollingUpdate when its type becomes Recreate). */
static int smp_retain_keys(smp_ctx *c, json_t *o, const json_t *p)
{
    const json_t *keep = json_object_get(p, DIR_RETAIN);
    const char *k;
    json_t *v;
    void *tmp;
    size_t i;
    if (!keep)
        return 0;
    if (!json_is_array(keep))
        return smp_fail(c, "$retainKeys must be a list of field names");
    json_array_foreach(MUT(keep), i, v)
        if (!json_is_string(v))
            return smp_fail(c, "$retainKeys element %zu is not a string", i);
    json_object_foreach(MUT(p), k, v)
        if (!json_is_null(v) && !is_directive_key(k) && !str_listed(keep, k))
            return smp_fail(c, "field \"%s\" is set but not listed in $retainKeys", k);
    json_object_foreach_safe(o, tmp, k, v)
        if (!str_listed(keep, k))
            json_object_del(o, k);
    return 0;
}

/* Nonzero for a patch list element that is a directive ({"$patch": ...}). */
static int is_directive_elem(const json_t *e)
{
    return json_is_object(e) && json_object_get(e, DIR_PATCH);
}

/* apimachinery's validatePatchWithSetOrderList: the $setElementOrder list
 * names elements by their key (or value, for scalars), and the patch list's
 * own elements appear in it in the same relative order. */
static int smp_check_order(smp_ctx *c, const json_t *order, const json_t *plist, const char *key)
{
    size_t i = 0, j = 0, np = json_array_size(plist), no = json_array_size(order);
    json_t *e;
    json_array_foreach(MUT(order), i, e) {
        if (*key && !elem_id(e, key))
            return smp_fail(c, "$setElementOrder element %zu has no merge key \"%s\"", i, key);
        if (!*key && (json_is_object(e) || json_is_array(e)))
            return smp_fail(c, "$setElementOrder element %zu is not a scalar", i);
    }
    for (i = 0; i < np && j < no;) {
        const json_t *pe = json_array_get(plist, i), *pid;
        if (is_directive_elem(pe)) {
            i++;
            continue;
        }
        if (!(pid = elem_id(pe, key)))
            return smp_fail(c, "element %zu has no merge key \"%s\"", i, key);
        if (values_equal(pid, elem_id(json_array_get(order, j), key)))
            i++;
        j++;
    }
    while (i < np && is_directive_elem(json_array_get(plist, i)))
        i++;
    if (i < np)
        return smp_fail(c, "element %zu is missing from, or out of order with, $setElementOrder", i);
    return 0;
}

/* $setElementOrder/<field> for the field at the current path: merges the
 * field's patch list (if any) and orders the result as the directive says,
 * elements it does not name interleaved by their old positions.  A field that
 * is not a merging list ignores the directive (its list is simply replaced by
 * the main loop).  Returns 1 when the field was handled, 0 when not, -1 on
 * error. */
static int smp_order_field(smp_ctx *c, json_t *o, const char *field, const json_t *order,
                           const json_t *plist)
{
    const smp_field *f = ctx_field(c);
    json_t *orig = json_object_get(o, field), *merged;
    if (!json_is_array(order))
        return smp_fail(c, "$setElementOrder/%s must be a list", field);
    if (!f || !f->key)
        return 0;
    if (plist && !json_is_array(plist))
        return smp_fail(c, "$setElementOrder/%s is given but the patch's %s is not a list",
                        field, field);
    if (!json_is_array(orig))
        orig = NULL;
    if (smp_check_order(c, order, plist, f->key))
        return -1;
    if (plist) {
        if (smp_list(c, orig, plist, &merged))
            return -1;
    } else if (orig) {
        merged = json_incref(orig);
    } else {
        return 1;
    }
    if (list_too_long(c, merged)) {
        json_decref(merged);
        return -1;
    }
    obj_set(o, field, smp_interleave(merged, order, orig, f->key));
    json_decref(merged);
    return 1;
}

/* Runs every $setElementOrder directive of `p` against `o`.  They come before
 * the ordinary fields, as in apimachinery (mergePatchIntoOriginal). */
static int smp_set_orders(smp_ctx *c, json_t *o, const json_t *p)
{
    const char *k;
    json_t *v;
    json_object_foreach(MUT(p), k, v) {
        const char *field = k + strlen(DIR_ORDER);
        path_mark m;
        int rc;
        if (!has_prefix(k, DIR_ORDER))
            continue;
        m = path_push(c, field);
        rc = smp_order_field(c, o, field, v, json_object_get(p, field));
        path_pop(c, m);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Nonzero when `p` carries $setElementOrder/<field>. */
static int has_order_directive(const json_t *p, const char *field)
{
    const char *k;
    json_t *v;
    json_object_foreach(MUT(p), k, v)
        if (has_prefix(k, DIR_ORDER) && strcmp(k + strlen(DIR_ORDER), field) == 0)
            return 1;
    return 0;
}

/* $deleteFromPrimitiveList/<field>: removes the listed values from a list of
 * scalars (how kubectl drops one finalizer without resending the rest). */
static int smp_delete_values(smp_ctx *c, json_t *o, const char *field, const json_t *drop)
{
    json_t *cur = json_object_get(o, field), *kept, *e;
    size_t i;
    if (!json_is_array(drop))
        return smp_fail(c, "%s%s must be a list", DIR_DELETE_PRIM, field);
    if (!json_is_array(cur))
        return 0;
    kept = must(json_array());
    json_array_foreach(cur, i, e)
        if (index_by_id(drop, e, "") < 0)
            arr_add(kept, json_incref(e));
    obj_set(o, field, kept);
    return 0;
}

/* Sets o[k] from patch value `v` for the field described by `f`. */
static int smp_set_value(smp_ctx *c, json_t *o, const char *k, const json_t *v,
                         const smp_field *f)
{
    json_t *cur = json_object_get(o, k), *res;
    if (json_is_object(v)) {
        int merge = json_is_object(cur) && !(f && (f->flags & F_REPLACE_MAP));
        res = merge ? json_incref(cur) : must(json_object());
        if (smp_map(c, &res, v)) {
            json_decref(res);
            return -1;
        }
    } else if (json_is_array(v)) {
        if (smp_list(c, json_is_array(cur) ? cur : NULL, v, &res))
            return -1;
    } else {
        res = copy(v);
    }
    obj_set(o, k, res);
    return 0;
}

/* One ordinary member of the patch map: null deletes, anything else merges. */
static int smp_member(smp_ctx *c, json_t *o, const json_t *p, const char *k, const json_t *v)
{
    path_mark m = path_push(c, k);
    const smp_field *f = ctx_field(c);
    int rc = 0;
    if (json_is_null(v))
        json_object_del(o, k);
    else if (!(f && f->key && has_order_directive(p, k))) /* else smp_set_orders did it */
        rc = smp_set_value(c, o, k, v, f);
    path_pop(c, m);
    return rc;
}

static int smp_fields(smp_ctx *c, json_t *o, const json_t *p)
{
    const char *k;
    json_t *v;
    json_object_foreach(MUT(p), k, v) {
        int rc = 0;
        if (has_prefix(k, DIR_DELETE_PRIM))
            rc = smp_delete_values(c, o, k + strlen(DIR_DELETE_PRIM), v);
        else if (!is_directive_key(k))
            rc = smp_member(c, o, p, k, v);
        if (rc)
            return -1;
    }
    return 0;
}

/* Merges patch map `p` into *obj, an object reference the caller owns.  *obj
 * may be replaced: "$patch: replace" starts from an empty map and "$patch:
 * delete" leaves one (apimachinery returns an empty map, not an absent
 * field).  "$patch: merge" is the default made explicit. */
static int smp_map(smp_ctx *c, json_t **obj, const json_t *p)
{
    const json_t *d = json_object_get(p, DIR_PATCH);
    if (d) {
        const char *s = json_string_value(d);
        if (s && (!strcmp(s, "delete") || !strcmp(s, "replace"))) {
            json_decref(*obj);
            *obj = must(json_object());
            if (!strcmp(s, "delete"))
                return 0;
        } else if (!s || strcmp(s, "merge")) {
            return smp_fail(c, "unknown $patch directive \"%s\"", s ? s : "(not a string)");
        }
    }
    if (smp_retain_keys(c, *obj, p) || smp_set_orders(c, *obj, p))
        return -1;
    return smp_fields(c, *obj, p);
}

int twin_patch_strategic(json_t **doc, const json_t *patch, const char *kind, char *err,
                         size_t errlen)
{
    smp_ctx c = {0};
    json_t *work;
    if (!json_is_object(patch))
        return fail(err, errlen, "strategic merge patch must be a JSON object");
    if (!doc || !json_is_object(*doc))
        return fail(err, errlen, "strategic merge patch: the document is not a JSON object");
    if (too_deep(patch, TWIN_PATCH_MAX_DEPTH))
        return fail(err, errlen, "strategic merge patch nests deeper than %d levels",
                    TWIN_PATCH_MAX_DEPTH);
    c.kind = kind ? kind : "";
    c.err = err;
    c.errlen = errlen;
    work = copy(*doc);
    if (smp_map(&c, &work, patch)) {
        json_decref(work);
        return -1;
    }
    json_decref(*doc);
    *doc = work;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Server-side apply, simplified                                             */
/* ------------------------------------------------------------------------ */

/*
 * Real server-side apply tracks, in managedFields, which manager owns each
 * field, refuses changes to fields another manager owns (a conflict) unless
 * forced, and removes a field when its last owner stops applying it.  The
 * twin keeps no managedFields: a field is "owned" by the manager when its
 * previous applied configuration held it, and nothing conflicts.  Lists merge
 * by the strategic-merge keys (structured-merge-diff uses the list-map keys,
 * which agree except for the two-key lists: container ports and Service
 * ports are keyed here by port number alone); merged lists keep the live
 * order with new elements appended, as structured-merge-diff does.
 */

static int ssa_map(smp_ctx *c, json_t *live, const json_t *cfg, const json_t *prev);

static int merges_as_map(const smp_field *f)
{
    return !(f && (f->flags & F_REPLACE_MAP));
}

/* A merging list (keyed, or a set of scalars when key is ""): configured
 * elements merge into the live ones with the same key or are appended;
 * elements applied before and no longer configured are removed. */
static int ssa_list(smp_ctx *c, json_t *live, const json_t *cfg, const json_t *prev,
                    const char *key)
{
    size_t i;
    json_t *e;
    json_array_foreach(MUT(cfg), i, e)
        if (!elem_id(e, key))
            return smp_fail(c, "element %zu has no merge key \"%s\"", i, key);
    json_array_foreach(MUT(cfg), i, e) {
        const json_t *id = elem_id(e, key);
        long at = index_by_id(live, id, key), was = index_by_id(prev, id, key);
        json_t *cur = at >= 0 ? json_array_get(live, (size_t)at) : NULL;
        path_mark m = path_push(c, NULL);
        int rc = 0;
        if (json_is_object(cur) && json_is_object(e))
            rc = ssa_map(c, cur, e, was >= 0 ? json_array_get(prev, (size_t)was) : NULL);
        else if (cur && json_array_set_new(live, (size_t)at, copy_without_nulls(e)))
            oom();
        else if (!cur)
            arr_add(live, copy_without_nulls(e));
        path_pop(c, m);
        if (rc)
            return -1;
    }
    json_array_foreach(MUT(prev), i, e) {
        const json_t *id = elem_id(e, key);
        if (id && index_by_id(cfg, id, key) < 0)
            remove_by_id(live, id, key);
    }
    return list_too_long(c, live);
}

/* Removes from live[k] what the previous applied configuration set there:
 * the whole value, or for maps and merging lists only the parts `prev` named,
 * so that what other writers added survives.  A map or list left empty by
 * that goes too. */
static void ssa_forget(smp_ctx *c, json_t *live, const char *k, const json_t *prev)
{
    json_t *cur = json_object_get(live, k), *e;
    const smp_field *f = ctx_field(c);
    const char *sk;
    size_t i;
    if (!cur)
        return;
    if (json_is_object(prev) && json_is_object(cur) && merges_as_map(f)) {
        json_object_foreach(MUT(prev), sk, e) {
            path_mark m = path_push(c, sk);
            ssa_forget(c, cur, sk, e);
            path_pop(c, m);
        }
        if (json_object_size(cur) == 0)
            json_object_del(live, k);
        return;
    }
    if (json_is_array(prev) && json_is_array(cur) && f && f->key) {
        json_array_foreach(MUT(prev), i, e) {
            const json_t *id = elem_id(e, f->key);
            if (id)
                remove_by_id(cur, id, f->key);
        }
        if (json_array_size(cur) == 0)
            json_object_del(live, k);
        return;
    }
    json_object_del(live, k);
}

/* One configured member: null deletes, maps and merging lists merge, anything
 * else is set. */
static int ssa_field(smp_ctx *c, json_t *live, const char *k, const json_t *v,
                     const json_t *prev)
{
    json_t *cur = json_object_get(live, k);
    const smp_field *f = ctx_field(c);
    if (is_directive_key(k))
        return smp_fail(c, "patch directives are not allowed in an apply configuration");
    if (json_is_null(v)) {
        json_object_del(live, k);
        return 0;
    }
    if (json_is_object(v) && json_is_object(cur) && merges_as_map(f))
        return ssa_map(c, cur, v, json_is_object(prev) ? prev : NULL);
    if (json_is_array(v) && json_is_array(cur) && f && f->key)
        return ssa_list(c, cur, v, json_is_array(prev) ? prev : NULL, f->key);
    obj_set(live, k, copy_without_nulls(v));
    return 0;
}

/* Applies configuration map `cfg` to `live` in place; `prev` (may be NULL) is
 * what the same manager applied at this point last time. */
static int ssa_map(smp_ctx *c, json_t *live, const json_t *cfg, const json_t *prev)
{
    const char *k;
    json_t *v;
    json_object_foreach(MUT(cfg), k, v) {
        path_mark m = path_push(c, k);
        int rc = ssa_field(c, live, k, v, prev ? json_object_get(prev, k) : NULL);
        path_pop(c, m);
        if (rc)
            return -1;
    }
    json_object_foreach(MUT(prev), k, v) {
        path_mark m;
        if (json_object_get(cfg, k))
            continue;
        m = path_push(c, k);
        ssa_forget(c, live, k, v);
        path_pop(c, m);
    }
    return 0;
}

int twin_patch_apply(json_t **doc, const json_t *applied, const json_t *prev_applied,
                     const char *kind, char *err, size_t errlen)
{
    smp_ctx c = {0};
    json_t *work;
    if (!json_is_object(applied))
        return fail(err, errlen, "apply configuration must be a JSON object");
    if (prev_applied && !json_is_object(prev_applied))
        return fail(err, errlen, "previous applied configuration must be a JSON object");
    if (!doc || !json_is_object(*doc))
        return fail(err, errlen, "apply: the document is not a JSON object");
    if (too_deep(applied, TWIN_PATCH_MAX_DEPTH) ||
        (prev_applied && too_deep(prev_applied, TWIN_PATCH_MAX_DEPTH)))
        return fail(err, errlen, "apply configuration nests deeper than %d levels",
                    TWIN_PATCH_MAX_DEPTH);
    c.kind = kind ? kind : "";
    c.err = err;
    c.errlen = errlen;
    work = copy(*doc);
    if (ssa_map(&c, work, applied, prev_applied)) {
        json_decref(work);
        return -1;
    }
    json_decref(*doc);
    *doc = work;
    return 0;
}
