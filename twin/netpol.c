/*
 * netpol.c - network reachability between workload groups, from
 * NetworkPolicies (k8s-api-facts §4), before and after an operation.
 *
 * A group is the pods of one workload ("namespace/name"), plus "outside" for
 * traffic from outside the cluster.  A pair `from -> to:port` exists when the
 * destination's ingress and the source's egress both allow it.  Policies are
 * additive and per direction; a pod no policy selects for a direction is open.
 *
 * Only pairs that can have changed are computed: those with an end in a
 * namespace whose policies or labels changed, or in a group whose pods
 * appeared, vanished, or changed labels or ports.  An operation that touches
 * none of these (a scale, an image update) costs nothing here.
 *
 * "outside" reaches a group only through a rule that admits it explicitly.
 * Approximations, stated: ipBlock peers are taken to mean "outside the
 * cluster" (pod IPs are not matched against CIDRs), the pod's own node is not
 * modelled, and egress to outside is not reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selector.h"
#include "twin_int.h"

typedef struct port_item {
    char proto[8];
    long lo, hi;
} port_item;

typedef struct portset {
    int all;
    port_item *v;
    size_t n;
} portset;

static void ps_add(portset *s, const char *proto, long lo, long hi)
{
    s->v = twin_xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
    snprintf(s->v[s->n].proto, sizeof s->v[s->n].proto, "%s", proto);
    s->v[s->n].lo = lo;
    s->v[s->n].hi = hi;
    s->n++;
}

static void ps_free(portset *s)
{
    free(s->v);
    s->v = NULL;
    s->n = 0;
    s->all = 0;
}

static int ps_empty(const portset *s) { return !s->all && s->n == 0; }

static int ps_covers(const portset *s, const port_item *x)
{
    if (s->all)
        return 1;
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].proto, x->proto) && s->v[i].lo <= x->lo && x->hi <= s->v[i].hi)
            return 1;
    return 0;
}

static void ps_intersect(portset *out, const portset *a, const portset *b)
{
    memset(out, 0, sizeof *out);
    if (a->all && b->all) {
        out->all = 1;
        return;
    }
    const portset *fin = a->all ? b : a, *other = a->all ? a : b;
    for (size_t i = 0; i < fin->n; i++) {
        if (other->all) {
            ps_add(out, fin->v[i].proto, fin->v[i].lo, fin->v[i].hi);
            continue;
        }
        for (size_t k = 0; k < other->n; k++) {
            if (strcmp(fin->v[i].proto, other->v[k].proto))
                continue;
            long lo = fin->v[i].lo > other->v[k].lo ? fin->v[i].lo : other->v[k].lo;
            long hi = fin->v[i].hi < other->v[k].hi ? fin->v[i].hi : other->v[k].hi;
            if (lo <= hi)
                ps_add(out, fin->v[i].proto, lo, hi);
        }
    }
}

static char *item_str(const port_item *x)
{
    if (x->lo == 0 && x->hi == 65535)
        return twin_xasprintf("%s/*", x->proto);
    if (x->lo == x->hi)
        return twin_xasprintf("%s/%ld", x->proto, x->lo);
    return twin_xasprintf("%s/%ld-%ld", x->proto, x->lo, x->hi);
}

/* ---- groups ---- */

typedef struct group {
    char *ns, *name;          /* name without the kind */
    json_t *pod;              /* a representative pod (labels, named ports) */
    int affected;
    json_t *labels;           /* group_labels(pod), made on first use (compute_pairs) */
} group;

typedef struct state {
    twin_when when;
    group *g;
    size_t n;
    twin_map ns_labels;       /* ns -> json_t* labels (owned) */
    twin_map policies;        /* ns -> json_t* array of NetworkPolicy (owned) */
    twin_map selectors;       /* address of a selector in `policies` -> compiled (selects) */
} state;

static void jfree(void *p) { json_decref(p); }

static const char BAD_SELECTOR[] = "";   /* a selector that does not compile: selects nothing */

static void selector_free(void *p)
{
    if (p != BAD_SELECTOR)
        twin_selector_free(p);
}

static void state_free(state *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->g[i].ns);
        free(s->g[i].name);
        json_decref(s->g[i].pod);
        json_decref(s->g[i].labels);
    }
    free(s->g);
    twin_map_clear(&s->ns_labels, jfree);
    twin_map_clear(&s->policies, jfree);
    twin_map_clear(&s->selectors, selector_free);
}

static json_t *ns_labels(twin *t, state *s, const char *ns)
{
    json_t *l = twin_map_get(&s->ns_labels, ns);
    if (!l) {
        json_t *obj = twin_get(t, s->when, "Namespace", NULL, ns);
        l = json_deep_copy(twin__path(obj, "metadata.labels"));
        if (!l)
            l = json_object();
        json_decref(obj);
        twin_map_put(&s->ns_labels, ns, l);
    }
    return l;
}

static json_t *policies(twin *t, state *s, const char *ns)
{
    json_t *p = twin_map_get(&s->policies, ns);
    if (!p) {
        char err[64];
        p = twin_list(t, s->when, "NetworkPolicy", ns, NULL, NULL, err, sizeof err);
        if (!p)
            p = json_array();
        twin_map_put(&s->policies, ns, p);
    }
    return p;
}

/* Label sets that identify a group for policy purposes: per-pod labels
 * (hashes, ordinals) are left out so a rollout does not count as a change. */
static json_t *group_labels(const json_t *pod)
{
    json_t *l = json_deep_copy(twin__path(pod, "metadata.labels"));
    if (!l)
        l = json_object();
    const char *drop[] = {"pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name",
                          "apps.kubernetes.io/pod-index", "pod-template-generation", NULL};
    for (int i = 0; drop[i]; i++)
        json_object_del(l, drop[i]);
    return l;
}

/* A group's labels for policies, made once per group rather than once per
 * pair it is part of.  Its pod is final by then (compute_pairs). */
static json_t *labels_of(group *g)
{
    if (!g->labels)
        g->labels = group_labels(g->pod);
    return g->labels;
}

static int pods_equivalent(const json_t *a, const json_t *b)
{
    json_t *la = group_labels(a), *lb = group_labels(b);
    int eq = json_equal(la, lb);
    json_decref(la);
    json_decref(lb);
    if (!eq)
        return 0;
    /* named ports resolve against container ports */
    json_t *ca = twin__path(a, "spec.containers"), *cb = twin__path(b, "spec.containers");
    size_t n = json_array_size(ca);
    if (n != json_array_size(cb))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!json_equal(json_object_get(json_array_get(ca, i), "ports") ?: json_null(),
                        json_object_get(json_array_get(cb, i), "ports") ?: json_null()))
            return 0;
    return 1;
}

/* One pod of the group (ns, "Kind/name") as it is `when`, or NULL. */
static json_t *group_representative(twin *t, const char *ns, const char *grp, twin_when when)
{
    json_t *found = NULL;
    sqlite3_stmt *st = twin__stmt(t, 25, "SELECT name FROM objects WHERE ns=? AND grp=?");
    sqlite3_bind_text(st, 1, ns, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, grp, -1, SQLITE_TRANSIENT);
    while (!found && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        /* before: only a pod the operation did not touch reads the same */
        if (when == TWIN_AFTER || !twin__change(t, "Pod", ns, name))
            found = twin__get(t, "Pod", ns, name);
    }
    sqlite3_reset(st);
    if (found || when == TWIN_AFTER)
        return found;
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (found || strcmp(c->kind, "Pod") || !c->before || strcmp(c->ns, ns))
            continue;
        char *g = twin__pod_group(c->before);
        if (!strcmp(g, grp))
            found = json_incref(c->before);
        free(g);
    }
    return found;
}

/* All groups now (one representative pod each). */
static void load_groups_now(twin *t, state *s)
{
    sqlite3_stmt *st = twin__stmt(t, 27, "SELECT kind, ns, name, grp, doc FROM objects WHERE grp IS NOT NULL "
                                         "GROUP BY ns, grp ORDER BY ns, grp");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *grp = (const char *)sqlite3_column_text(st, 3);
        const char *slash = strchr(grp, '/');
        s->g = twin_xrealloc(s->g, (s->n + 1) * sizeof(group));
        group *g = &s->g[s->n++];
        g->ns = twin_xstrdup((const char *)sqlite3_column_text(st, 1));
        g->name = twin_xstrdup(slash ? slash + 1 : grp);
        g->pod = twin__row_doc(t, st, 4);
        g->affected = 0;
        g->labels = NULL;
    }
    sqlite3_reset(st);
}

static group *find_group(state *s, const char *ns, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->g[i].ns, ns) && !strcmp(s->g[i].name, name))
            return &s->g[i];
    return NULL;
}

/* ---- policy evaluation ---- */

/* Whether a selector of one of s's policies selects labels.  Each selector
 * is compiled once per state: the policies it belongs to are held by the
 * state until state_free, so its address names it meanwhile. */
static int selects(state *s, const json_t *sel_json, const json_t *labels)
{
    if (!sel_json)
        sel_json = json_null();
    char key[2 * sizeof(uintptr_t) + 1];
    uintptr_t a = (uintptr_t)sel_json;
    for (int i = (int)(2 * sizeof a) - 1; i >= 0; i--, a >>= 4)
        key[i] = "0123456789abcdef"[a & 15];
    key[2 * sizeof a] = '\0';
    twin_selector *sel = twin_map_get(&s->selectors, key);
    if (!sel) {
        char err[128];
        if (twin_selector_from_json(&sel, sel_json, err, sizeof err) < 0)
            sel = (twin_selector *)BAD_SELECTOR;
        twin_map_put(&s->selectors, key, sel);
    }
    return sel != (twin_selector *)BAD_SELECTOR && twin_selector_matches(sel, labels);
}

static int has_type(const json_t *np, const char *type)
{
    size_t i;
    json_t *v;
    json_array_foreach(twin__path(np, "spec.policyTypes"), i, v) if (json_string_value(v) &&
                                                                    !strcmp(json_string_value(v), type)) return 1;
    return 0;
}

/* Does a rule's peer list admit `other` (NULL = outside)? */
static int peers_match(twin *t, state *s, const json_t *peers, const char *policy_ns, group *other)
{
    if (json_array_size(peers) == 0)
        return 1;
    json_t *olabels = other ? labels_of(other) : NULL;
    int ok = 0;
    size_t i;
    json_t *p;
    json_array_foreach(peers, i, p) {
        if (json_object_get(p, "ipBlock")) {
            if (!other)
                ok = 1;
            continue;
        }
        if (!other)
            continue;
        json_t *nsel = json_object_get(p, "namespaceSelector"), *psel = json_object_get(p, "podSelector");
        if (!nsel && !psel)
            continue;
        int m = 1;
        if (nsel)
            m = selects(s, nsel, ns_labels(t, s, other->ns));
        else
            m = !strcmp(other->ns, policy_ns);
        if (m && psel)
            m = selects(s, psel, olabels);
        if (m)
            ok = 1;
        if (ok)
            break;
    }
    return ok;
}

static void rule_ports(portset *out, const json_t *ports, const group *target)
{
    if (json_array_size(ports) == 0) {
        out->all = 1;
        return;
    }
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p) {
        const char *proto = json_string_value(json_object_get(p, "protocol"));
        if (!proto)
            proto = "TCP";
        json_t *port = json_object_get(p, "port");
        if (!port) {
            ps_add(out, proto, 0, 65535);
        } else if (json_is_integer(port)) {
            long lo = (long)json_integer_value(port);
            json_t *end = json_object_get(p, "endPort");
            ps_add(out, proto, lo, json_is_integer(end) ? (long)json_integer_value(end) : lo);
        } else if (json_is_string(port) && target) {
            /* a named port resolves against the target pod's container ports */
            size_t k, j;
            json_t *c, *cp;
            json_array_foreach(twin__path(target->pod, "spec.containers"), k, c) {
                json_array_foreach(json_object_get(c, "ports"), j, cp) {
                    const char *nm = json_string_value(json_object_get(cp, "name"));
                    if (nm && !strcmp(nm, json_string_value(port)) && json_is_integer(json_object_get(cp, "containerPort"))) {
                        long v = (long)json_integer_value(json_object_get(cp, "containerPort"));
                        ps_add(out, proto, v, v);
                    }
                }
            }
        }
    }
}

static void ps_union(portset *dst, const portset *src)
{
    if (src->all)
        dst->all = 1;
    for (size_t i = 0; i < src->n; i++)
        ps_add(dst, src->v[i].proto, src->v[i].lo, src->v[i].hi);
}

/* Ports on `self` that the policies of its namespace allow for traffic with
 * `other` (NULL = outside) in one direction. */
static void allowed(twin *t, state *s, group *self, group *other, int ingress, portset *out)
{
    memset(out, 0, sizeof *out);
    json_t *nps = policies(t, s, self->ns);
    json_t *labels = labels_of(self);
    int isolated = 0;
    size_t i;
    json_t *np;
    json_array_foreach(nps, i, np) {
        if (!has_type(np, ingress ? "Ingress" : "Egress"))
            continue;
        /* podSelector is no pointer in the API: absent (or null) decodes as
         * {}, every pod of the namespace.  (Not `x ?: json_object()`, which
         * leaked the new map.) */
        json_t *psel = twin__path(np, "spec.podSelector");
        if (json_is_object(psel) && !selects(s, psel, labels))
            continue;
        isolated = 1;
        size_t k;
        json_t *rule;
        json_array_foreach(twin__path(np, ingress ? "spec.ingress" : "spec.egress"), k, rule) {
            if (!peers_match(t, s, json_object_get(rule, ingress ? "from" : "to"), self->ns, other))
                continue;
            portset rp = {0};
            rule_ports(&rp, json_object_get(rule, "ports"), ingress ? self : other);
            ps_union(out, &rp);
            ps_free(&rp);
        }
    }
    /* Unisolated pods are open to every pod of the cluster; "outside" counts
     * only where a policy admits it explicitly (an ipBlock peer or an empty
     * from), since pod IPs are not normally reachable from outside and
     * exposure through Services is judged on the Services themselves. */
    if (!isolated)
        out->all = other != NULL || !ingress;
}

/* pairs: "from|to" -> portset* */
static void ps_free_ptr(void *p)
{
    ps_free(p);
    free(p);
}

static void ps_free_opt(void *p)
{
    if (p)
        ps_free_ptr(p);
}

static void compute_pairs(twin *t, state *s, twin_map *pairs)
{
    for (size_t d = 0; d < s->n; d++) {
        group *dst = &s->g[d];
        for (size_t k = 0; k <= s->n; k++) {
            group *src = k < s->n ? &s->g[k] : NULL;   /* the last round is "outside" */
            if (src == dst)
                continue;
            if (!dst->affected && !(src && src->affected))
                continue;
            portset in, eg, both;
            allowed(t, s, dst, src, 1, &in);
            if (src)
                allowed(t, s, src, dst, 0, &eg);
            else {
                memset(&eg, 0, sizeof eg);
                eg.all = 1;
            }
            ps_intersect(&both, &in, &eg);
            ps_free(&in);
            ps_free(&eg);
            if (ps_empty(&both)) {
                ps_free(&both);
                continue;
            }
            char *key = src ? twin_xasprintf("%s/%s|%s/%s", src->ns, src->name, dst->ns, dst->name)
                            : twin_xasprintf("outside|%s/%s", dst->ns, dst->name);
            portset *p = twin_xmalloc(sizeof *p);
            *p = both;
            ps_free_opt(twin_map_put(pairs, key, p));
            free(key);
        }
    }
}

static void report(const twin_map *from, const twin_map *against, json_t *out)
{
    TWIN_MAP_FOREACH(from, e) {
        portset *p = e->value;
        portset *q = twin_map_get(against, e->key);
        const char *bar = strchr(e->key, '|');
        char *src = twin_xasprintf("%.*s", (int)(bar - e->key), e->key);
        if (p->all) {
            if (!q || !q->all)
                json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "from", src, "to", bar + 1, "port", "*"));
        } else {
            for (size_t i = 0; i < p->n; i++) {
                if (q && ps_covers(q, &p->v[i]))
                    continue;
                char *ps = item_str(&p->v[i]);
                json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "from", src, "to", bar + 1, "port", ps));
                free(ps);
            }
        }
        free(src);
    }
}

json_t *twin__reachability(twin *t)
{
    twin_map aff_ns = {0}, cand = {0};
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (!strcmp(c->kind, "NetworkPolicy")) {
            twin_map_put(&aff_ns, c->ns, (void *)1);
        } else if (!strcmp(c->kind, "Namespace")) {
            if (!c->before || !c->after ||
                !json_equal(twin__path(c->before, "metadata.labels") ?: json_null(),
                            twin__path(c->after, "metadata.labels") ?: json_null()))
                twin_map_put(&aff_ns, c->name, (void *)1);
        } else if (!strcmp(c->kind, "Pod")) {
            if (c->before && c->after && pods_equivalent(c->before, c->after))
                continue;
            const json_t *p = c->after ? c->after : c->before;
            char *g = twin__pod_group(p);
            char *key = twin_xasprintf("%s\x1f%s", c->ns, g);
            twin_map_put(&cand, key, (void *)1);
            free(key);
            free(g);
        }
    }
    /* A created or deleted pod only matters if its group appeared,
     * vanished, or now looks different to a policy: a scale does not. */
    twin_map groups = {0};
    TWIN_MAP_FOREACH(&cand, e) {
        const char *sep = strchr(e->key, '\x1f');
        char *ns = twin_xasprintf("%.*s", (int)(sep - e->key), e->key);
        const char *grp = sep + 1;
        json_t *before = group_representative(t, ns, grp, TWIN_BEFORE);
        json_t *after = group_representative(t, ns, grp, TWIN_AFTER);
        if (!before || !after || !pods_equivalent(before, after)) {
            const char *slash = strchr(grp, '/');
            char *key = twin_xasprintf("%s/%s", ns, slash ? slash + 1 : grp);
            twin_map_put(&groups, key, (void *)1);
            free(key);
        }
        json_decref(before);
        json_decref(after);
        free(ns);
    }
    twin_map_clear(&cand, NULL);
    cand = groups;

    json_t *out = json_pack("{s:[], s:[]}", "added", "removed");
    state before = {.when = TWIN_BEFORE}, after = {.when = TWIN_AFTER};
    if (aff_ns.count == 0 && cand.count == 0)
        goto done;

    /* groups after = the tables now; groups before = the same, with the
     * changed pods' groups rebuilt from the overlay */
    load_groups_now(t, &after);
    for (size_t i = 0; i < after.n; i++) {
        group *g = &after.g[i];
        before.g = twin_xrealloc(before.g, (before.n + 1) * sizeof(group));
        before.g[before.n++] = (group){twin_xstrdup(g->ns), twin_xstrdup(g->name), json_incref(g->pod), 0, NULL};
    }
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (strcmp(c->kind, "Pod"))
            continue;
        /* a before-version of a pod represents its group in the before state */
        if (c->before) {
            char *gname = twin__pod_group(c->before);
            const char *nm = strchr(gname, '/') + 1;
            group *g = find_group(&before, c->ns, nm);
            if (!g) {
                before.g = twin_xrealloc(before.g, (before.n + 1) * sizeof(group));
                before.g[before.n++] = (group){twin_xstrdup(c->ns), twin_xstrdup(nm), json_incref(c->before), 0, NULL};
            } else {
                json_decref(g->pod);
                g->pod = json_incref(c->before);
            }
            free(gname);
        }
    }
    /* groups present after that only hold pods created now did not exist before */
    for (size_t i = 0; i < before.n; i++) {
        group *g = &before.g[i];
        twin_change *c = twin__change(t, "Pod", twin__ns(g->pod), twin__name(g->pod));
        if (c && !c->before) {
            json_decref(g->pod);
            g->pod = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "airlock.dev/absent", "true");
            g->affected = -1;   /* marks: not in the before state */
        }
    }
    state *states[2] = {&before, &after};
    for (int k = 0; k < 2; k++) {
        state *s = states[k];
        size_t w = 0;
        for (size_t i = 0; i < s->n; i++) {
            group *g = &s->g[i];
            if (g->affected == -1) {
                free(g->ns);
                free(g->name);
                json_decref(g->pod);
                json_decref(g->labels);
                continue;
            }
            char *key = twin_xasprintf("%s/%s", g->ns, g->name);
            g->affected = twin_map_has(&aff_ns, g->ns) || twin_map_has(&cand, key);
            free(key);
            s->g[w++] = *g;
        }
        s->n = w;
    }

    twin_map pb = {0}, pa = {0};
    compute_pairs(t, &before, &pb);
    compute_pairs(t, &after, &pa);
    report(&pa, &pb, json_object_get(out, "added"));
    report(&pb, &pa, json_object_get(out, "removed"));
    twin_map_clear(&pb, ps_free_opt);
    twin_map_clear(&pa, ps_free_opt);

done:
    state_free(&before);
    state_free(&after);
    twin_map_clear(&aff_ns, NULL);
    twin_map_clear(&cand, NULL);
    return out;
}
