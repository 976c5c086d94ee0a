/*
 * managed.c - field ownership, as the API server keeps it in
 * metadata.managedFields (apimachinery's structured-merge-diff, k8s 1.32):
 * who set each field, by server-side apply or by another write, and the
 * conflicts an apply meets on fields another manager owns.
 *
 * A field set is kept as the API server writes it (fieldsType FieldsV1):
 * nested JSON objects whose keys name a step, "f:<field>" for a member of
 * a map, "k:<json of the key fields>" for an element of a keyed list,
 * "v:<json value>" for a value of a set-like list, and "." for the element
 * itself.  A path ending in an empty object, or in ".", is a member of the
 * set; a step with children only leads to members.
 *
 * The rules (fieldmanager, structured-merge-diff merge.Updater):
 *   - an apply owns exactly the fields its configuration names; it
 *     conflicts with every other manager owning a field whose configured
 *     value differs from the live one (409 naming each; with force the
 *     apply takes those fields over); a field it applied before and no
 *     longer names is removed from the object unless another manager owns
 *     it too;
 *   - any other write (create, update, patch, /scale) makes the fields it
 *     set or changed its manager's (operation Update), and no one else's;
 *   - every set is pruned to the fields the object holds; an entry with
 *     no field left goes.
 * The fields the API server never tracks are left out: apiVersion, kind,
 * status (kept by the status subresource), and metadata's name,
 * namespace, uid, resourceVersion, generation, creationTimestamp,
 * deletionTimestamp, deletionGracePeriodSeconds, selfLink and
 * managedFields.
 *
 * Simplifications, said where they are: list keys are the strategic-merge
 * keys (twin_patch_merge_key), with protocol added for container and
 * Service ports as the API server's list-map keys have it; writes through
 * /status and the twin's own controllers record no ownership.  A write
 * whose body carries managedFields other than the live ones starts from
 * them (base_entries), as the API server lets a client rewrite or reset
 * ownership.  Managers are named by the caller (ops.c: fieldManager, or
 * "unknown").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/patch.h"
#include "twin_int.h"

#define WALK_DEPTH 64   /* deeper than any object the API server accepts for a kind */

typedef struct walk {
    const char *kind;
    twin_fpath fp;   /* where the walk is, as twin_patch_merge_key reads it */
    int depth;
} walk;

typedef twin_fmark mark;

static mark push(walk *w, const char *field)
{
    w->depth++;
    return twin__fpath_push(&w->fp, field);
}

static void pop(walk *w, mark m)
{
    w->depth--;
    twin__fpath_pop(&w->fp, m);
}

static void walk_reset(walk *w)
{
    w->fp.len = 0;
    w->fp.s[0] = '\0';
    w->fp.truncated = w->depth = 0;
}

/* The list key at the current path (NULL: not a merging list). */
static const char *list_key(const walk *w)
{
    return w->fp.truncated ? NULL : twin_patch_merge_key(w->kind, w->fp.s);
}

static int untracked(const walk *w)
{
    static const char *const PATHS[] = {
        "apiVersion", "kind", "status", "metadata.name", "metadata.namespace", "metadata.uid",
        "metadata.resourceVersion", "metadata.generation", "metadata.creationTimestamp",
        "metadata.deletionTimestamp", "metadata.deletionGracePeriodSeconds", "metadata.selfLink",
        "metadata.managedFields",
    };
    for (size_t i = 0; i < sizeof PATHS / sizeof *PATHS; i++)
        if (!strcmp(w->fp.s, PATHS[i]))
            return 1;
    return 0;
}

/* The key step of list element e: "k:{...}" (key fields, sorted), or
 * "v:<value>" in a set-like list (key ""). New string, NULL when e lacks
 * its key. */
static char *elem_step(const walk *w, const json_t *e, const char *key)
{
    if (!*key) {
        char *v = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
        char *s = v ? twin_xasprintf("v:%s", v) : NULL;
        free(v);
        return s;
    }
    const json_t *id = json_object_get(e, key);
    if (!id)
        return NULL;
    json_t *k = json_pack("{s:O}", key, (json_t *)id);
    /* the API server's list-map keys of the two port lists add protocol
     * (defaulted TCP) to the strategic-merge key */
    size_t n = w->fp.len;
    if (n >= 5 && !strcmp(w->fp.s + n - 5, "ports") &&
        (!strcmp(key, "containerPort") || (!strcmp(key, "port") && !strcmp(w->kind, "Service")))) {
        const json_t *proto = json_object_get(e, "protocol");
        json_object_set_new(k, "protocol", json_string(json_is_string(proto) ? json_string_value(proto) : "TCP"));
    }
    char *text = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(k);
    char *s = text ? twin_xasprintf("k:%s", text) : NULL;
    free(text);
    return s;
}

/* list's elements by their step ({step: element}, the first of each), so
 * that a long list is matched in one pass. New object. */
static json_t *list_index(const walk *w, const json_t *list, const char *key)
{
    json_t *idx = json_object();
    size_t i;
    json_t *e;
    json_array_foreach((json_t *)list, i, e) {
        char *s = elem_step(w, e, key);
        if (s && !json_object_get(idx, s))
            json_object_set(idx, s, e);
        free(s);
    }
    return idx;
}

static json_t *child(json_t *set, const char *step)
{
    json_t *c = json_object_get(set, step);
    if (!c) {
        c = json_object();
        json_object_set_new(set, step, c);
    }
    return c;
}

/* ---- the set of an object, and of what a write changed ---- */

static void set_of_map(walk *w, const json_t *v, const json_t *old, json_t *all, json_t *changed);

/* One member `name` = x (old: its value before, may be NULL). */
static void set_of_value(walk *w, const char *step, const json_t *x, const json_t *old, json_t *all, json_t *changed)
{
    const char *key = json_is_array(x) ? list_key(w) : NULL;
    if (w->depth > WALK_DEPTH) {
        json_object_set_new(all, step, json_object());
        return;
    }
    if (json_is_object(x) && json_object_size(x) &&
        !(w->fp.truncated ? 0 : twin_patch_atomic_map(w->kind, w->fp.s))) {
        json_t *a = json_object(), *c = json_object();
        set_of_map(w, x, json_is_object(old) ? old : NULL, a, c);
        json_object_set(all, step, a);   /* no tracked member inside: the map itself, {} */
        if (changed && json_object_size(c))
            json_object_set(changed, step, c);
        json_decref(a);
        json_decref(c);
        return;
    }
    if (key && json_array_size(x)) {
        json_t *a = json_object(), *c = json_object();
        json_t *before = json_is_array(old) ? list_index(w, old, key) : json_object();
        size_t i;
        json_t *e;
        json_array_foreach((json_t *)x, i, e) {
            char *s = elem_step(w, e, key);
            if (!s)
                continue;   /* an element without its key: the list is refused elsewhere */
            const json_t *was = json_object_get(before, s);
            json_t *ea = child(a, s);
            if (*key) {
                json_object_set_new(ea, ".", json_object());
                mark at = push(w, NULL);
                json_t *ec = json_object();
                if (json_is_object(e))
                    set_of_map(w, e, json_is_object(was) ? was : NULL, ea, ec);
                pop(w, at);
                if (!was)
                    json_object_set(c, s, ea);
                else if (json_object_size(ec))
                    json_object_set(c, s, ec);
                json_decref(ec);
            } else if (!was) {
                json_object_set_new(c, s, json_object());
            }
            free(s);
        }
        json_object_set(all, step, a);
        if (changed && json_object_size(c))
            json_object_set(changed, step, c);
        json_decref(before);
        json_decref(a);
        json_decref(c);
        return;
    }
    json_object_set_new(all, step, json_object());   /* a leaf: a scalar, an atomic list or map */
    if (changed && (!old || !json_equal((json_t *)x, (json_t *)old)))
        json_object_set_new(changed, step, json_object());
}

static void set_of_map(walk *w, const json_t *v, const json_t *old, json_t *all, json_t *changed)
{
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        if (json_is_null(x))
            continue;
        mark at = push(w, k);
        if (!untracked(w)) {
            char *step = twin_xasprintf("f:%s", k);
            set_of_value(w, step, x, old ? json_object_get(old, k) : NULL, all, changed);
            free(step);
        }
        pop(w, at);
    }
}

/* ---- operations on sets ---- */

static int is_member(const char *step, const json_t *node)
{
    return !strcmp(step, ".") || json_object_size(node) == 0;
}

/* The members of a also in b: new set. */
static json_t *set_and(const json_t *a, const json_t *b)
{
    json_t *out = json_object();
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)a, k, x) {
        json_t *y = json_object_get(b, k);
        if (!y)
            continue;
        if (is_member(k, x)) {
            if (is_member(k, y))
                json_object_set_new(out, k, json_object());
            continue;
        }
        json_t *sub = set_and(x, y);
        if (json_object_size(sub))
            json_object_set(out, k, sub);
        json_decref(sub);
    }
    return out;
}

/* a -= b (in place). */
static void set_minus(json_t *a, const json_t *b)
{
    const char *k;
    json_t *x;
    void *tmp;
    json_object_foreach_safe(a, tmp, k, x) {
        json_t *y = json_object_get(b, k);
        if (!y)
            continue;
        if (is_member(k, x)) {
            if (is_member(k, y))
                json_object_del(a, k);
            continue;
        }
        set_minus(x, y);
        if (!json_object_size(x))
            json_object_del(a, k);
    }
}

/* a |= b (in place). */
static void set_or(json_t *a, const json_t *b)
{
    const char *k;
    json_t *y;
    json_object_foreach((json_t *)b, k, y) {
        json_t *x = json_object_get(a, k);
        if (!x)
            json_object_set_new(a, k, json_deep_copy(y));
        else if (json_object_size(y))   /* a member already there stays one when it gains children */
            set_or(x, y);
    }
}

/* Members of set that obj (a map) does not hold go (in place). */
static void set_prune(walk *w, json_t *set, const json_t *obj)
{
    const char *k;
    json_t *x;
    void *tmp;
    json_object_foreach_safe(set, tmp, k, x) {
        if (!strcmp(k, "."))
            continue;
        if (strncmp(k, "f:", 2) || !json_object_get(obj, k + 2) || json_is_null(json_object_get(obj, k + 2))) {
            json_object_del(set, k);
            continue;
        }
        const json_t *v = json_object_get(obj, k + 2);
        if (!json_object_size(x))
            continue;
        mark at = push(w, k + 2);
        const char *key = json_is_array(v) ? list_key(w) : NULL;
        if (w->depth > WALK_DEPTH) {
            /* too deep to follow: kept as it is */
        } else if (json_is_object(v)) {
            set_prune(w, x, v);
        } else if (key) {
            json_t *e, *idx = list_index(w, v, key);
            const char *s;
            void *tmp2;
            json_object_foreach_safe(x, tmp2, s, e) {
                const json_t *el = !strcmp(s, ".") ? v : json_object_get(idx, s);
                if (!el) {
                    json_object_del(x, s);
                } else if (json_object_size(e) && json_is_object(el)) {
                    mark at2 = push(w, NULL);
                    set_prune(w, e, el);
                    pop(w, at2);
                    if (!json_object_size(e))
                        json_object_del(x, s);
                }
            }
            json_decref(idx);
        } else {
            json_object_clear(x);   /* no longer a map or a list: the field itself */
        }
        pop(w, at);
        if (json_object_get(set, k) && !json_object_size(json_object_get(set, k)) && (json_is_object(v) || key) &&
            json_object_size(v))
            json_object_del(set, k);   /* its members went, the step with them */
    }
}

/* Removes from obj (a map) the members of set, and a map or list left
 * empty by that (in place). */
static void set_remove(walk *w, json_t *obj, const json_t *set)
{
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)set, k, x) {
        if (strncmp(k, "f:", 2))
            continue;
        json_t *v = json_object_get(obj, k + 2);
        if (!v)
            continue;
        if (!json_object_size(x)) {
            json_object_del(obj, k + 2);
            continue;
        }
        mark at = push(w, k + 2);
        const char *key = json_is_array(v) ? list_key(w) : NULL;
        if (w->depth <= WALK_DEPTH && json_is_object(v)) {
            set_remove(w, v, x);
            if (!json_object_size(v))
                json_object_del(obj, k + 2);
        } else if (w->depth <= WALK_DEPTH && key) {
            const char *s;
            json_t *e, *idx = list_index(w, v, key);
            json_object_foreach(x, s, e) {
                json_t *el = json_object_get(idx, s);
                if (!el)
                    continue;
                if (json_object_get(e, ".") || !json_object_size(e)) {
                    for (size_t i = 0; i < json_array_size(v); i++)
                        if (json_array_get(v, i) == el) {
                            json_array_remove(v, i);
                            break;
                        }
                } else if (json_is_object(el)) {
                    mark at2 = push(w, NULL);
                    set_remove(w, el, e);
                    pop(w, at2);
                }
            }
            json_decref(idx);
            if (!json_array_size(v))
                json_object_del(obj, k + 2);
        }
        pop(w, at);
    }
}

/* The members of set as the API server names them in a conflict:
 * ".spec.replicas", ".spec.template.spec.containers[name=\"web\"].image".
 * Appended to out (an array of strings). */
static void set_paths(const json_t *set, const char *prefix, json_t *out)
{
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)set, k, x) {
        char *p;
        if (!strcmp(k, "."))
            p = twin_xstrdup(prefix);
        else if (!strncmp(k, "f:", 2))
            p = twin_xasprintf("%s.%s", prefix, k + 2);
        else if (!strncmp(k, "k:", 2)) {
            json_t *key = json_loads(k + 2, 0, NULL);
            twin_buf b = {0};
            const char *kk;
            json_t *kv;
            json_object_foreach(key, kk, kv) {
                char *val = json_dumps(kv, JSON_COMPACT | JSON_ENCODE_ANY);
                twin_buf_addf(&b, "%s%s=%s", b.len ? "," : "", kk, val ? val : "?");
                free(val);
            }
            p = twin_xasprintf("%s[%s]", prefix, b.s ? b.s : "");
            twin_buf_free(&b);
            json_decref(key);
        } else {
            p = twin_xasprintf("%s[=%s]", prefix, k + 2);
        }
        if (is_member(k, x))
            json_array_append_new(out, json_string(*p ? p : "."));
        if (strcmp(k, ".") && json_object_size(x))
            set_paths(x, p, out);
        free(p);
    }
}

/* ---- managedFields entries ---- */

static const char *entry_str(const json_t *e, const char *k)
{
    return json_string_value(json_object_get(e, k)) ?: "";
}

/* The entries of obj's managedFields: a new array of copies (the set in
 * each as fieldsV1), those of another type left out. */
static json_t *entries_of(const json_t *obj)
{
    json_t *out = json_array(), *e;
    size_t i;
    json_array_foreach(twin__path(obj, "metadata.managedFields"), i, e) {
        if (json_is_object(e) && json_is_object(json_object_get(e, "fieldsV1")) &&
            !strcmp(entry_str(e, "fieldsType"), "FieldsV1"))
            json_array_append_new(out, json_deep_copy(e));
    }
    return out;
}

/* A manager as a conflict names it (apiserver's printManager, of the
 * entry without its time): "name", its subresource, and for an Update the
 * version it wrote with. New string. */
static char *manager_text(const json_t *e)
{
    twin_buf b = {0};
    twin_buf_addf(&b, "\"%s\"", entry_str(e, "manager"));
    if (*entry_str(e, "subresource"))
        twin_buf_addf(&b, " with subresource \"%s\"", entry_str(e, "subresource"));
    if (!strcmp(entry_str(e, "operation"), "Update"))
        twin_buf_addf(&b, " using %s", entry_str(e, "apiVersion"));
    char *s = twin_xstrdup(b.s);
    twin_buf_free(&b);
    return s;
}

/* What a write starts from (fieldmanager's Update): the managedFields its
 * object carries when they are set and differ from the live ones (a
 * client may rewrite ownership, as kubectl does when it moves a
 * client-side apply's fields to server-side apply), none for [{}] (the
 * documented reset), else the live object's. New array. */
static json_t *base_entries(const json_t *next, const json_t *cur)
{
    json_t *given = twin__path(next, "metadata.managedFields");
    if (json_array_size(given) == 1 && json_is_object(json_array_get(given, 0)) &&
        !json_object_size(json_array_get(given, 0)))
        return json_array();
    json_t *mine = entries_of(next);
    if (json_array_size(mine) && (!cur || !json_equal(given, twin__path(cur, "metadata.managedFields"))))
        return mine;
    json_decref(mine);
    return cur ? entries_of(cur) : json_array();
}

/* The entry of (manager, operation, subresource) in entries, made when
 * absent (time set by the caller). */
static json_t *entry_for(json_t *entries, const char *manager, const char *operation, const char *sub,
                         const char *api_version)
{
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e) {
        if (!strcmp(entry_str(e, "manager"), manager) && !strcmp(entry_str(e, "operation"), operation) &&
            !strcmp(entry_str(e, "subresource"), sub ? sub : ""))
            return e;
    }
    e = json_pack("{s:s, s:s, s:s, s:s, s:{}}", "manager", manager, "operation", operation, "apiVersion",
                  api_version ? api_version : "v1", "fieldsType", "FieldsV1", "fieldsV1");
    if (sub)
        json_object_set_new(e, "subresource", json_string(sub));
    json_array_append_new(entries, e);
    return e;
}

/* Prunes every entry to what obj holds, drops the empty ones, and stores
 * them in obj (or no managedFields at all when none is left).  An entry
 * whose set is what it was in `before` keeps its time. */
static void settle(walk *w, json_t *obj, json_t *entries, const json_t *before)
{
    json_t *kept = json_array(), *e, *b;
    size_t i, j;
    json_array_foreach(entries, i, e) {
        json_t *set = json_object_get(e, "fieldsV1");
        walk_reset(w);
        set_prune(w, set, obj);
        if (!json_object_size(set))
            continue;
        json_array_foreach(twin__path(before, "metadata.managedFields"), j, b) {
            if (!strcmp(entry_str(b, "manager"), entry_str(e, "manager")) &&
                !strcmp(entry_str(b, "operation"), entry_str(e, "operation")) &&
                !strcmp(entry_str(b, "subresource"), entry_str(e, "subresource")) &&
                json_equal(json_object_get(b, "fieldsV1"), set)) {
                json_object_set(e, "time", json_object_get(b, "time"));
                json_object_set(e, "apiVersion", json_object_get(b, "apiVersion"));
            }
        }
        json_array_append(kept, e);
    }
    json_t *meta = twin__path_make(obj, "metadata");
    if (json_array_size(kept))
        json_object_set(meta, "managedFields", kept);
    else
        json_object_del(meta, "managedFields");
    json_decref(kept);
}

/* Whether every conflicted field is one the object's last-applied
 * annotation (kubectl's client-side apply) holds with the live value. */
static int csa_allows(walk *w, const json_t *live, const json_t *conflicted)
{
    const char *text = json_string_value(
        json_object_get(twin__path(live, "metadata.annotations"), "kubectl.kubernetes.io/last-applied-configuration"));
    json_t *last = text ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(last)) {
        json_decref(last);
        return 0;
    }
    json_t *all = json_object(), *differ = json_object();
    walk_reset(w);
    set_of_map(w, last, live, all, differ);
    set_minus(all, differ);   /* the fields at their live value */
    json_t *left = json_deep_copy(conflicted);
    set_minus(left, all);
    int ok = json_object_size(left) == 0;
    json_decref(left);
    json_decref(all);
    json_decref(differ);
    json_decref(last);
    return ok;
}

void twin_managed_update(json_t *next, const json_t *cur, const char *kind, const char *manager,
                         const char *subresource, const char *now)
{
    walk w = {.kind = kind ? kind : ""};
    json_t *entries = base_entries(next, cur);
    json_t *all = json_object(), *changed = json_object();
    set_of_map(&w, next, cur, all, changed);
    json_decref(all);
    if (json_object_size(changed)) {
        size_t i;
        json_t *e;
        json_array_foreach(entries, i, e) set_minus(json_object_get(e, "fieldsV1"), changed);
        json_t *mine = entry_for(entries, manager, "Update", subresource,
                                 json_string_value(json_object_get(next, "apiVersion")));
        set_or(json_object_get(mine, "fieldsV1"), changed);
        json_object_set_new(mine, "time", json_string(now));
    }
    json_decref(changed);
    settle(&w, next, entries, cur);
    json_decref(entries);
}

int twin_managed_apply(json_t **doc, const json_t *config, const char *kind, const char *manager, int force,
                       const char *now, json_t **causes, char *err, size_t errlen)
{
    walk w = {.kind = kind ? kind : ""};
    const json_t *cur = *doc;
    json_t *entries = entries_of(cur);
    json_t *all = json_object(), *changed = json_object();
    set_of_map(&w, config, cur, all, changed);
    /* conflicts: fields another manager owns whose configured value differs */
    json_t *found = json_array();   /* causes: {type, message, field} */
    json_t *conflicted = json_object();   /* their fields, as one set */
    twin_buf msg = {0};
    size_t i, nmanagers = 0;
    json_t *e;
    json_array_foreach(entries, i, e) {
        if (!strcmp(entry_str(e, "manager"), manager) && !strcmp(entry_str(e, "operation"), "Apply") &&
            !*entry_str(e, "subresource"))
            continue;
        json_t *both = set_and(changed, json_object_get(e, "fieldsV1"));
        json_t *paths = json_array();
        set_paths(both, "", paths);
        set_or(conflicted, both);
        json_decref(both);
        if (!json_array_size(paths)) {
            json_decref(paths);
            continue;
        }
        char *who = manager_text(e);
        twin_buf_addf(&msg, "%sconflicts with %s:", nmanagers++ ? "\n" : "", who);
        size_t j;
        json_t *p;
        json_array_foreach(paths, j, p) {
            char *m = twin_xasprintf("conflict with %s", who);
            json_array_append_new(found, json_pack("{s:s, s:s, s:O}", "type", "FieldManagerConflict", "message", m,
                                                   "field", p));
            free(m);
            twin_buf_addf(&msg, "\n- %s", json_string_value(p));
        }
        free(who);
        json_decref(paths);
    }
    if (json_array_size(found) && !force && !strcmp(manager, "kubectl") && csa_allows(&w, cur, conflicted)) {
        /* kubectl's server-side apply after its client-side apply: the
         * fields the last-applied annotation holds, at their live value,
         * are taken over (apiserver's lastAppliedManager) */
        force = 1;
    }
    json_decref(conflicted);
    if (json_array_size(found) && !force) {
        /* the API server's wording (apiserver internal/conflict.go) */
        json_t *one = json_array_get(found, 0);
        if (json_array_size(found) == 1)
            snprintf(err, errlen, "Apply failed with 1 conflict: %s: %s", json_string_value(json_object_get(one, "message")),
                     json_string_value(json_object_get(one, "field")));
        else
            snprintf(err, errlen, "Apply failed with %zu conflicts: %s", json_array_size(found), msg.s);
        twin_buf_free(&msg);
        *causes = found;
        json_decref(all);
        json_decref(changed);
        json_decref(entries);
        return 409;
    }
    twin_buf_free(&msg);
    json_decref(found);
    /* merged, without removals: they follow from ownership below */
    json_t *merged = json_deep_copy(cur);
    json_t *cfg = json_deep_copy(config);
    if (json_is_object(json_object_get(cfg, "metadata")))
        json_object_del(json_object_get(cfg, "metadata"), "managedFields");
    int rc = twin_patch_apply(&merged, cfg, NULL, kind, err, errlen);
    json_decref(cfg);
    /* what the twin kept per manager before it kept managedFields goes */
    json_t *ann = twin__path(merged, "metadata.annotations");
    if (json_object_get(ann, "airlock.dev/last-applied")) {
        json_object_del(ann, "airlock.dev/last-applied");
        if (!json_object_size(ann))
            json_object_del(json_object_get(merged, "metadata"), "annotations");
    }
    if (rc < 0) {
        json_decref(merged);
        json_decref(all);
        json_decref(changed);
        json_decref(entries);
        return -1;
    }
    /* the others give up what this apply changed (a forced take-over) */
    json_t *mine = entry_for(entries, manager, "Apply", NULL, json_string_value(json_object_get(merged, "apiVersion")));
    json_t *others = json_object();
    json_array_foreach(entries, i, e) {
        if (e == mine)
            continue;
        set_minus(json_object_get(e, "fieldsV1"), changed);
        set_or(others, json_object_get(e, "fieldsV1"));
    }
    /* what this manager applied before and no longer does, unless another
     * owns it, leaves the object */
    json_t *gone = json_deep_copy(json_object_get(mine, "fieldsV1"));
    set_minus(gone, all);
    set_minus(gone, others);
    walk_reset(&w);
    set_remove(&w, merged, gone);
    json_decref(gone);
    json_decref(others);
    json_object_set(mine, "fieldsV1", all);
    json_object_set_new(mine, "time", json_string(now));
    settle(&w, merged, entries, cur);
    json_decref(all);
    json_decref(changed);
    json_decref(entries);
    json_decref(*doc);
    *doc = merged;
    return 0;
}

void twin_managed_applied(json_t *obj, const json_t *config, const char *kind, const char *manager, const char *now)
{
    walk w = {.kind = kind ? kind : ""};
    json_t *entries = json_array(), *all = json_object();
    set_of_map(&w, config, NULL, all, NULL);
    json_t *mine = entry_for(entries, manager, "Apply", NULL, json_string_value(json_object_get(obj, "apiVersion")));
    json_object_set_new(mine, "fieldsV1", all);
    json_object_set_new(mine, "time", json_string(now));
    settle(&w, obj, entries, NULL);
    json_decref(entries);
}
