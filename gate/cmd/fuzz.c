/*
 * fuzz.c - `gate scenario fuzz`: an adversarial generator built on one
 * property: the verdict depends on the effect of a request, not on its form.
 *
 * It takes origin actions (the API-call first steps of scenario files, or an
 * actions file) and, for each, generates variants an agent could send for
 * the same change:
 *   - URL forms: percent-encoding, trailing slashes, "." and ".." segments,
 *     doubled slashes, case changes in resources;
 *   - JSON forms: key order, unicode escapes, numbers as 3.0 or 3e0,
 *     duplicate keys, very deep nesting, very large values (as raw bodies,
 *     through the same parser the proxy uses);
 *   - request forms: the same change as PUT, JSON merge patch, JSON patch,
 *     strategic merge, server-side apply, the scale subresource; an item
 *     DELETE as a delete-collection by field selector;
 *   - splitting: a delete-collection replayed as one delete per object,
 *     which must not pass where the whole was refused (budget);
 *   - forms the API server and a naive parser read two ways: an encoded '#'
 *     or '?' in a segment, a duplicate or unknown query parameter, a ';' in
 *     the query, DeleteOptions in both body and query (each must be
 *     refused), and DeleteOptions moved from the query to the body (same
 *     effect).
 * A second property holds for every request judged, origin or variant:
 * production receives exactly what was judged.  The request the gate would
 * forward (gate_decision.wire) is read back by a reference reader written
 * apart from the gate's parser, following the API server's rules (the path
 * decoded whole, then split; the first of duplicate parameters; pairs with
 * ';' dropped; a DELETE body's DeleteOptions over the query; no fragment),
 * and must describe the action the twin judged.
 * Each origin and each variant runs on its own copy of the state.  A variant
 * the gate cannot parse must be refused (verdict error), never allowed; a
 * variant with the same effect (the same direct changes) must get the same
 * verdict as its origin.  Violations are reported with a reproducer in the
 * scenario format, so they can be committed as scenarios.  Deterministic for
 * a seed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate/cmd/cli.h"
#include "gate/cmd/commands.h"
#include "gate/engine/engine.h"
#include "twin/util.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_BAD = 3 };

typedef struct fuzzer {
    twin *base;
    gate_policy_set *ps;
    uint64_t rng;
    const char *state;
    const char *agent;
    /* outcome counters */
    size_t origins, variants, same_effect, refused, other_effect, violations, splits;
    size_t forward_checked, forward_violations;   /* decisions whose forwarded request was read back */
    long split_above;          /* the budget: pods an agent may disrupt per hour */
    json_t *report;            /* violations, each with its reproducer */
} fuzzer;

static uint64_t rnd(fuzzer *f) { return twin_xorshift(&f->rng); }

/* ---- running one request on a fresh copy ---- */

typedef struct outcome {
    gate_verdict verdict;
    long pods_disrupted;       /* at the instant */
    char *message;
    json_t *effect;            /* normalised direct changes */
    char *forward_mismatch;    /* how the forwarded request reads otherwise than judged, or NULL */
    int forwardable;           /* parsed into a request production could receive */
} outcome;

static void outcome_free(outcome *o)
{
    free(o->message);
    free(o->forward_mismatch);
    json_decref(o->effect);
    memset(o, 0, sizeof *o);
}

/* What a request changed directly, without what differs between two runs of
 * the same change (resource versions, uids, times, apply bookkeeping). */
static json_t *normalise(const json_t *diff)
{
    json_t *out = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(diff, i, c) {
        if (strcmp(json_string_value(json_object_get(c, "cause")), "direct"))
            continue;
        json_t *after = json_deep_copy(json_object_get(c, "after"));
        json_t *meta = json_object_get(after, "metadata");
        const char *drop[] = {"resourceVersion", "generation", "managedFields", "uid", "creationTimestamp", NULL};
        for (int k = 0; drop[k]; k++)
            json_object_del(meta, drop[k]);
        json_t *ann = json_object_get(meta, "annotations");
        json_object_del(ann, "airlock.dev/last-applied");
        json_object_del(ann, "kubectl.kubernetes.io/last-applied-configuration");
        if (ann && json_object_size(ann) == 0)
            json_object_del(meta, "annotations");
        json_object_del(after, "status");
        json_array_append_new(out, json_pack("{s:O, s:O, s:O*, s:O, s:o*}", "op", json_object_get(c, "op"), "kind",
                                             json_object_get(c, "kind"), "namespace", json_object_get(c, "namespace"),
                                             "name", json_object_get(c, "name"), "after", after));
    }
    return out;
}

/* ---- the reference reader: what the API server reads in a forwarded request ---- */

static int ref_hex(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Go's url unescaping: %XX to a byte ('+' to a space in a query); NULL on a
 * bad escape. */
static char *ref_unescape(const char *s, size_t n, int query)
{
    char *out = twin_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? ref_hex((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? ref_hex((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = query && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* The first value of each query parameter, as url.ParseQuery and
 * url.Values.Get read it. New object. */
static json_t *ref_query(const char *q)
{
    json_t *params = json_object();
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n && !memchr(q, ';', n)) {
            const char *eq = memchr(q, '=', n);
            size_t kn = eq ? (size_t)(eq - q) : n;
            char *k = ref_unescape(q, kn, 1);
            char *v = eq ? ref_unescape(eq + 1, n - kn - 1, 1) : twin_xstrdup("");
            if (k && v && !json_object_get(params, k))
                json_object_set_new(params, k, json_string(v));
            free(k);
            free(v);
        }
        q = amp ? amp + 1 : NULL;
    }
    return params;
}

static int ref_bool(const char *v)
{
    return v && strcmp(v, "0") && strcasecmp(v, "false");   /* apimachinery: true unless "0" or "false" */
}

/* The action the API server reads in w (RequestInfoFactory and the
 * handlers of apiserver 1.32), or NULL with why. New object. */
static json_t *ref_read(const gate_wire *w, char *why, size_t whylen)
{
    const char *t = w->path_query;
    if (strchr(t, '#')) {
        snprintf(why, whylen, "a fragment in the forwarded target %s", t);
        return NULL;
    }
    const char *qm = strchr(t, '?');
    char *path = ref_unescape(t, qm ? (size_t)(qm - t) : strlen(t), 0);
    if (!path) {
        snprintf(why, whylen, "a bad escape in the forwarded path %s", t);
        return NULL;
    }
    json_t *query = ref_query(qm ? qm + 1 : NULL);
    /* the decoded path, trimmed of '/', split on '/' */
    char *parts[16];
    size_t np = 0;
    char *save = NULL;
    for (char *p = strtok_r(path, "/", &save); p && np < 16; p = strtok_r(NULL, "/", &save))
        parts[np++] = p;
    json_t *a = json_object();
    size_t i = 0;
    if (np >= 2 && !strcmp(parts[0], "api")) {
        json_object_set_new(a, "group", json_string(""));
        json_object_set_new(a, "version", json_string(parts[1]));
        i = 2;
    } else if (np >= 3 && !strcmp(parts[0], "apis")) {
        json_object_set_new(a, "group", json_string(parts[1]));
        json_object_set_new(a, "version", json_string(parts[2]));
        i = 3;
    }
    if (i < np && !strcmp(parts[i], "namespaces") && i + 1 < np) {
        json_object_set_new(a, "namespace", json_string(parts[i + 1]));
        if (i + 2 < np && strcmp(parts[i + 2], "status") && strcmp(parts[i + 2], "finalize"))
            i += 2;
    }
    if (i < np)
        json_object_set_new(a, "resource", json_string(parts[i]));
    if (i + 1 < np)
        json_object_set_new(a, "name", json_string(parts[i + 1]));
    if (i + 2 < np)
        json_object_set_new(a, "subresource", json_string(parts[i + 2]));
    if (i + 3 < np)
        json_object_set_new(a, "extra_segments", json_true());
    int named = i + 1 < np;
    const char *m = w->method;
    const char *verb = !strcmp(m, "POST") ? "create" : !strcmp(m, "PUT") ? "update" : !strcmp(m, "PATCH") ? "patch"
                     : !strcmp(m, "DELETE") ? (named ? "delete" : "deletecollection")
                     : ref_bool(json_string_value(json_object_get(query, "watch"))) ? "watch"
                     : named ? "get" : "list";
    json_object_set_new(a, "verb", json_string(verb));
    json_t *body = w->body ? json_loadb(w->body, w->len, 0, NULL) : NULL;
    if (w->body && !body) {
        snprintf(why, whylen, "the forwarded body is not JSON");
        json_decref(a);
        json_decref(query);
        free(path);
        return NULL;
    }
    int dry;
    if (!strcmp(m, "DELETE")) {
        /* handlers/delete.go: a non-empty body is the DeleteOptions, the query is not read */
        const json_t *o = body;
        const char *prop;
        json_t *orphan;
        if (w->len) {
            prop = json_string_value(json_object_get(o, "propagationPolicy"));
            orphan = json_incref(json_object_get(o, "orphanDependents"));
            dry = json_array_size(json_object_get(o, "dryRun")) > 0;
        } else {
            prop = json_string_value(json_object_get(query, "propagationPolicy"));
            const char *ov = json_string_value(json_object_get(query, "orphanDependents"));
            orphan = ov ? json_boolean(ref_bool(ov)) : NULL;
            dry = json_object_get(query, "dryRun") != NULL;
        }
        if (json_is_boolean(orphan))
            prop = json_is_true(orphan) ? "Orphan" : "Background";
        json_decref(orphan);
        if (prop)
            json_object_set_new(a, "propagation_policy", json_string(prop));
    } else {
        dry = json_object_get(query, "dryRun") != NULL;
        if (body)
            json_object_set(a, "body", body);
    }
    json_object_set_new(a, "dry_run", json_boolean(dry));
    if (json_object_get(query, "labelSelector"))
        json_object_set(a, "label_selector", json_object_get(query, "labelSelector"));
    if (json_object_get(query, "fieldSelector"))
        json_object_set(a, "field_selector", json_object_get(query, "fieldSelector"));
    json_decref(body);
    json_decref(query);
    free(path);
    return a;
}

/* o[k], a JSON null read as absent. Borrowed. */
static const json_t *field_of(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_null(v) ? NULL : v;
}

/* Both absent, or equal. */
static int same_field(const json_t *a, const json_t *b, const char *k)
{
    const json_t *x = field_of(a, k), *y = field_of(b, k);
    return (!x && !y) || (x && y && json_equal((json_t *)x, (json_t *)y));
}

/* NULL when production reads d's forwarded request as the action judged;
 * else what differs (caller frees). */
static char *check_forward(const gate_decision *d)
{
    char why[512];
    json_t *got = ref_read(&d->wire, why, sizeof why);
    if (!got)
        return twin_xstrdup(why);
    const json_t *j = d->action;
    const char *verb = json_string_value(json_object_get(j, "verb"));
    static const char *SAME[] = {"verb", "group", "version", "resource", "name", "subresource", "dry_run", NULL};
    twin_buf b = {0};
    for (int k = 0; SAME[k]; k++)
        if (!same_field(j, got, SAME[k]))
            twin_buf_addf(&b, "%s%s", b.len ? ", " : "", SAME[k]);
    const char *res = json_string_value(json_object_get(j, "resource"));
    if (res && strcmp(res, "namespaces") && !same_field(j, got, "namespace"))
        twin_buf_addf(&b, "%snamespace", b.len ? ", " : "");
    if (json_object_get(got, "extra_segments"))
        twin_buf_addf(&b, "%sextra path segments", b.len ? ", " : "");
    int sel = verb && (!strcmp(verb, "list") || !strcmp(verb, "watch") || !strcmp(verb, "deletecollection"));
    static const char *SEL[] = {"label_selector", "field_selector"};
    for (int k = 0; sel && k < 2; k++)
        if (!same_field(j, got, SEL[k]))
            twin_buf_addf(&b, "%s%s", b.len ? ", " : "", SEL[k]);
    if (verb && !strncmp(verb, "delete", 6) && !same_field(j, got, "propagation_policy"))
        twin_buf_addf(&b, "%spropagation", b.len ? ", " : "");
    if (verb && (!strcmp(verb, "create") || !strcmp(verb, "update") || !strcmp(verb, "patch")) &&
        !json_equal(d->body, json_object_get(got, "body")))
        twin_buf_addf(&b, "%sbody", b.len ? ", " : "");
    char *out = NULL;
    if (b.len) {
        char *as = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        out = twin_xasprintf("production reads %s %s differently (%s): %.300s", d->wire.method, d->wire.path_query,
                             b.s, as ? as : "");
        free(as);
    }
    twin_buf_free(&b);
    json_decref(got);
    return out;
}

static int run_on(fuzzer *f, twin *t, gate_history *h, const json_t *a, double *now, outcome *o)
{
    gate_engine e = {.twin = t, .policies = f->ps, .history = h, .now = *now, .forwards = 1};
    gate_decision d;
    const json_t *body = json_object_get(a, "body");
    const char *raw = json_string_value(json_object_get(a, "raw"));
    gate_decide(&e, f->agent, json_string_value(json_object_get(a, "method")),
                json_string_value(json_object_get(a, "path")), json_object_get(a, "headers"), raw ? NULL : body,
                raw, raw ? json_string_length(json_object_get(a, "raw")) : 0, &d);
    *now += 60;
    o->verdict = d.verdict;
    o->pods_disrupted = (long)json_integer_value(json_object_get(d.impact, "pods_disrupted"));
    o->message = twin_xstrdup(d.message ? d.message : "");
    o->effect = normalise(d.diff);
    o->forwardable = d.wire.method != NULL;
    if (d.verdict != GATE_ERROR && d.wire.method) {
        o->forward_mismatch = check_forward(&d);
        f->forward_checked++;
    }
    gate_decision_free(&d);
    return 0;
}

static int run_one(fuzzer *f, const json_t *a, outcome *o)
{
    twin *t;
    char err[512];
    if (twin_copy(&t, f->base, err, sizeof err) < 0)
        return -1;
    gate_history *h;
    gate_history_open(&h, NULL, err, sizeof err);
    double now = 1.7e9;
    run_on(f, t, h, a, &now, o);
    gate_history_close(h);
    twin_close(t);
    return 0;
}

/* ---- variants ---- */

static char *pct_encode_some(fuzzer *f, const char *seg)
{
    twin_buf b = {0};
    for (const char *p = seg; *p; p++) {
        if ((rnd(f) & 1) && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            twin_buf_addf(&b, "%%%02X", (unsigned char)*p);
        else
            twin_buf_add(&b, p, 1);
    }
    return b.s ? b.s : twin_xstrdup("");
}

/* Rewrites the path part of path?query. kind: 0 percent-encode, 1 trailing
 * slash, 2 doubled slash, 3 "." segment, 4 ".." segment, 5 upper-case
 * resource. */
static char *path_variant(fuzzer *f, const char *pq, int kind)
{
    const char *q = strchr(pq, '?');
    size_t plen = q ? (size_t)(q - pq) : strlen(pq);
    char *path = twin_xasprintf("%.*s", (int)plen, pq);
    const char *query = q ? q : "";
    char *out = NULL;
    switch (kind) {
    case 0: {
        twin_buf b = {0};
        char *save = NULL;
        for (char *seg = strtok_r(path, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
            char *e = pct_encode_some(f, seg);
            twin_buf_addf(&b, "/%s", e);
            free(e);
        }
        out = twin_xasprintf("%s%s", b.s ? b.s : "/", query);
        twin_buf_free(&b);
        break;
    }
    case 1:
        out = twin_xasprintf("%s/%s", path, query);
        break;
    case 2: {
        char *slash = strrchr(path, '/');
        out = twin_xasprintf("%.*s//%s%s", (int)(slash - path), path, slash + 1, query);
        break;
    }
    case 3: {
        char *slash = strrchr(path, '/');
        out = twin_xasprintf("%.*s/.%s%s", (int)(slash - path), path, slash, query);
        break;
    }
    case 4: {
        char *slash = strrchr(path, '/');
        out = twin_xasprintf("%.*s/x/..%s%s", (int)(slash - path), path, slash, query);
        break;
    }
    default: {
        /* the resource segment (after the namespace, or after the version) upper-cased */
        char *copy = twin_xstrdup(path);
        char *r = strstr(copy, "/namespaces/");
        char *seg = r ? strchr(r + 12, '/') : NULL;
        if (!seg) {
            seg = strrchr(copy, '/');
            char *prev = seg;
            for (char *p = copy; p < seg; p++)
                if (*p == '/')
                    prev = p;
            seg = prev;
        }
        for (char *p = seg + 1; *p && *p != '/'; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 32);
        out = twin_xasprintf("%s%s", copy, query);
        free(copy);
    }
    }
    free(path);
    return out;
}

/* Serialises v with keys shuffled, strings \u-escaped at random, integers
 * written as N.0 or Ne0 at random. */
static void write_json(fuzzer *f, const json_t *v, twin_buf *b, int mode)
{
    if (json_is_object(v)) {
        size_t n = json_object_size(v), i = 0;
        const char **keys = twin_xmalloc((n + 1) * sizeof(char *));
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) keys[i++] = k;
        if (mode == 0)
            for (size_t a = n; a > 1; a--) {
                size_t c = rnd(f) % a;
                const char *tmp = keys[a - 1];
                keys[a - 1] = keys[c];
                keys[c] = tmp;
            }
        twin_buf_add(b, "{", 1);
        for (i = 0; i < n; i++) {
            if (i)
                twin_buf_add(b, ",", 1);
            json_t *key = json_string(keys[i]);
            write_json(f, key, b, mode);
            json_decref(key);
            twin_buf_add(b, ":", 1);
            write_json(f, json_object_get(v, keys[i]), b, mode);
        }
        twin_buf_add(b, "}", 1);
        free(keys);
    } else if (json_is_array(v)) {
        twin_buf_add(b, "[", 1);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (i)
                twin_buf_add(b, ",", 1);
            write_json(f, x, b, mode);
        }
        twin_buf_add(b, "]", 1);
    } else if (json_is_string(v) && mode == 1) {
        twin_buf_add(b, "\"", 1);
        for (const char *p = json_string_value(v); *p; p++) {
            unsigned char c = (unsigned char)*p;
            if (c < 0x80 && c >= 0x20 && c != '"' && c != '\\' && (rnd(f) & 1))
                twin_buf_addf(b, "\\u%04x", c);
            else if (c == '"' || c == '\\')
                twin_buf_addf(b, "\\%c", c);
            else if (c < 0x20)
                twin_buf_addf(b, "\\u%04x", c);
            else
                twin_buf_add(b, (const char *)p, 1);
        }
        twin_buf_add(b, "\"", 1);
    } else if (json_is_integer(v) && mode == 2) {
        if (rnd(f) & 1)
            twin_buf_addf(b, "%lld.0", (long long)json_integer_value(v));
        else
            twin_buf_addf(b, "%llde0", (long long)json_integer_value(v));
    } else {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        twin_buf_add(b, s, strlen(s));
        free(s);
    }
}

/* JSON merge patch turning a into b (RFC 7386). */
static json_t *merge_diff(const json_t *a, const json_t *b)
{
    json_t *p = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)b, k, v) {
        json_t *old = json_object_get(a, k);
        if (old && json_equal(old, v))
            continue;
        if (json_is_object(old) && json_is_object(v))
            json_object_set_new(p, k, merge_diff(old, v));
        else
            json_object_set(p, k, v);
    }
    json_object_foreach((json_t *)a, k, v) if (!json_object_get(b, k)) json_object_set_new(p, k, json_null());
    return p;
}

static void pointer_escape(twin_buf *b, const char *k)
{
    for (; *k; k++) {
        if (*k == '~')
            twin_buf_add(b, "~0", 2);
        else if (*k == '/')
            twin_buf_add(b, "~1", 2);
        else
            twin_buf_add(b, k, 1);
    }
}

/* RFC 6902 operations turning a into b (objects recursed, arrays replaced). */
static void patch_diff(const json_t *a, const json_t *b, const char *prefix, json_t *ops)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)b, k, v) {
        twin_buf p = {0};
        twin_buf_add(&p, prefix, strlen(prefix));
        twin_buf_add(&p, "/", 1);
        pointer_escape(&p, k);
        json_t *old = json_object_get(a, k);
        if (!old)
            json_array_append_new(ops, json_pack("{s:s, s:s, s:O}", "op", "add", "path", p.s, "value", v));
        else if (json_is_object(old) && json_is_object(v))
            patch_diff(old, v, p.s, ops);
        else if (!json_equal(old, v))
            json_array_append_new(ops, json_pack("{s:s, s:s, s:O}", "op", "replace", "path", p.s, "value", v));
        twin_buf_free(&p);
    }
    json_object_foreach((json_t *)a, k, v) {
        if (json_object_get(b, k))
            continue;
        twin_buf p = {0};
        twin_buf_add(&p, prefix, strlen(prefix));
        twin_buf_add(&p, "/", 1);
        pointer_escape(&p, k);
        json_array_append_new(ops, json_pack("{s:s, s:s}", "op", "remove", "path", p.s));
        twin_buf_free(&p);
    }
}

static const char *ct_json = "application/json";

static json_t *request(const char *method, const char *path, const char *ct, json_t *body)
{
    json_t *r = json_pack("{s:s, s:s}", "method", method, "path", path);
    if (ct)
        json_object_set_new(r, "headers", json_pack("{s:s}", "Content-Type", ct));
    if (body)
        json_object_set_new(r, "body", body);
    return r;
}

static char *strip_query(const char *pq)
{
    const char *q = strchr(pq, '?');
    return q ? twin_xasprintf("%.*s", (int)(q - pq), pq) : twin_xstrdup(pq);
}

/* The object the origin changed directly, before and after, read from a run
 * of the origin on a fresh copy. */
static int origin_object(fuzzer *f, const json_t *origin, json_t **before, json_t **after)
{
    twin *t;
    char err[512];
    *before = *after = NULL;
    if (twin_copy(&t, f->base, err, sizeof err) < 0)
        return -1;
    gate_engine e = {.twin = t, .now = 1.7e9};   /* no policies: allowed, committed */
    gate_decision d;
    gate_decide(&e, f->agent, json_string_value(json_object_get(origin, "method")),
                json_string_value(json_object_get(origin, "path")), json_object_get(origin, "headers"),
                json_object_get(origin, "body"), NULL, 0, &d);
    size_t i;
    json_t *c;
    json_array_foreach(d.diff, i, c) {
        if (!strcmp(json_string_value(json_object_get(c, "cause")), "direct") &&
            !strcmp(json_string_value(json_object_get(c, "op")), "update")) {
            *before = json_deep_copy(json_object_get(c, "before"));
            /* the object as the client wrote it is the API's answer: the
             * change record's `after` also holds what controllers did to it
             * later (a Deployment restoring the replicas of its ReplicaSet) */
            const char *ak = json_string_value(json_object_get(d.object, "kind"));
            if (ak && !strcmp(ak, "Scale")) {
                *after = json_deep_copy(*before);
                json_object_set(json_object_get(*after, "spec"), "replicas",
                                json_object_get(json_object_get(d.object, "spec"), "replicas"));
            } else if (ak && !strcmp(ak, json_string_value(json_object_get(c, "kind")))) {
                *after = json_deep_copy(d.object);
            }
            break;
        }
    }
    gate_decision_free(&d);
    twin_close(t);
    return *after ? 0 : -1;
}

/* Request-form variants of an update: the same after-object through every
 * verb and patch type. Appends {"kind": ..., "request": ...}. */
static void form_variants(fuzzer *f, const json_t *origin, json_t *out)
{
    const char *method = json_string_value(json_object_get(origin, "method"));
    const char *pq = json_string_value(json_object_get(origin, "path"));
    char *path = strip_query(pq);
    if (!strcmp(method, "DELETE")) {
        /* item -> collection by field selector */
        char *slash = strrchr(path, '/');
        if (slash) {
            const char *q = strchr(pq, '?');
            char *coll = twin_xasprintf("%.*s?fieldSelector=metadata.name%%3D%s%s%s", (int)(slash - path), path,
                                        slash + 1, q ? "&" : "", q ? q + 1 : "");
            json_t *r = request("DELETE", coll, NULL, NULL);
            if (json_object_get(origin, "body"))
                json_object_set(r, "body", json_object_get(origin, "body"));
            json_array_append_new(out, json_pack("{s:s, s:o}", "kind", "delete as collection", "request", r));
            free(coll);
        }
        free(path);
        return;
    }
    json_t *before, *after;
    if (strcmp(method, "PATCH") && strcmp(method, "PUT")) {
        free(path);
        return;
    }
    if (origin_object(f, origin, &before, &after) < 0) {
        free(path);
        return;
    }
    /* the item path, without a subresource */
    char *item = twin_xstrdup(path);
    int is_scale = 0;
    size_t n = strlen(item);
    if (n > 6 && !strcmp(item + n - 6, "/scale")) {
        item[n - 6] = '\0';
        is_scale = 1;
    }
    json_t *spec_b = json_deep_copy(before), *spec_a = json_deep_copy(after);
    /* the client's view: no status, no server bookkeeping */
    json_t *objs[2] = {spec_b, spec_a};
    for (int k = 0; k < 2; k++) {
        json_object_del(objs[k], "status");
        json_t *meta = json_object_get(objs[k], "metadata");
        json_object_del(meta, "resourceVersion");
        json_object_del(meta, "generation");
        json_object_del(meta, "managedFields");
        json_t *ann = json_object_get(meta, "annotations");
        json_object_del(ann, "airlock.dev/last-applied");
        json_object_del(ann, "deployment.kubernetes.io/revision");
    }
    json_t *mp = merge_diff(spec_b, spec_a);
    if (json_object_size(mp) == 0)   /* nothing the client changed: no form to vary */
        goto cleanup;
    json_array_append_new(out, json_pack("{s:s, s:o}", "kind", "as merge patch", "request",
                                         request("PATCH", item, "application/merge-patch+json", json_incref(mp))));
    json_t *ops = json_array();
    patch_diff(spec_b, spec_a, "", ops);
    json_array_append_new(out, json_pack("{s:s, s:o}", "kind", "as JSON patch", "request",
                                         request("PATCH", item, "application/json-patch+json", ops)));
    json_array_append_new(out, json_pack("{s:s, s:o}", "kind", "as PUT", "request",
                                         request("PUT", item, ct_json, json_incref(spec_a))));
    /* strategic merge = merge patch where no list changed */
    json_array_append_new(out, json_pack("{s:s, s:o}", "kind", "as strategic merge", "request",
                                         request("PATCH", item, "application/strategic-merge-patch+json",
                                                 json_incref(mp))));
    char *apply_path = twin_xasprintf("%s?fieldManager=fuzz&force=true", item);
    json_array_append_new(out, json_pack("{s:s, s:o}", "kind", "as server-side apply", "request",
                                         request("PATCH", apply_path, "application/apply-patch+yaml",
                                                 json_incref(spec_a))));
    free(apply_path);
    json_t *rb = json_object_get(json_object_get(before, "spec"), "replicas");
    json_t *ra = json_object_get(json_object_get(after, "spec"), "replicas");
    if (!is_scale && rb && ra && !json_equal(rb, ra)) {
        char *sp = twin_xasprintf("%s/scale", item);
        json_array_append_new(out, json_pack("{s:s, s:o}", "kind", "as scale subresource", "request",
                                             request("PATCH", sp, "application/merge-patch+json",
                                                     json_pack("{s:{s:O}}", "spec", "replicas", ra))));
        free(sp);
    }
cleanup:
    json_decref(mp);
    json_decref(spec_a);
    json_decref(spec_b);
    json_decref(before);
    json_decref(after);
    free(item);
    free(path);
}

/* Syntactic variants: the same request written differently. */
static json_t *syntax_variant(fuzzer *f, const json_t *origin, int which, const char **kind)
{
    json_t *v = json_deep_copy(origin);
    const char *pq = json_string_value(json_object_get(origin, "path"));
    json_t *body = json_object_get(origin, "body");
    const char *ct = json_string_value(json_object_get(json_object_get(origin, "headers"), "Content-Type"));
    if (which < 6) {
        static const char *names[] = {"percent-encoded path", "trailing slash", "doubled slash", "dot segment",
                                      "dot-dot segment", "upper-case resource"};
        *kind = names[which];
        char *p = path_variant(f, pq, which);
        json_object_set_new(v, "path", json_string(p));
        free(p);
        return v;
    }
    if (which >= 12) {
        /* forms the API server reads otherwise than a naive parser: each
         * must be refused (must_refuse), but the last, which moves a
         * delete's options from the query to the body (same effect) */
        const char *q = strchr(pq, '?');
        const char *m = json_string_value(json_object_get(origin, "method"));
        int del = m && !strcmp(m, "DELETE");
        char *p = NULL;
        switch (which) {
        case 12:
            *kind = "encoded '#' in a segment";
            p = twin_xasprintf("%.*s%%3Fx%%3D%%23%%26fieldSelector%%3Dmetadata.name%%253Dnone%s",
                               (int)(q ? q - pq : (long)strlen(pq)), pq, q ? q : "");
            break;
        case 13:
            *kind = "duplicate query parameter";
            p = twin_xasprintf("%s%s%s", pq, q ? "&" : "?",
                               del ? "propagationPolicy=Orphan&propagationPolicy=Background"
                                   : "fieldManager=a&fieldManager=b");
            break;
        case 14:
            *kind = "unknown query parameter";
            p = twin_xasprintf("%s%sx-airlock-fuzz=1", pq, q ? "&" : "?");
            break;
        case 15:
            *kind = "';' in the query";
            p = twin_xasprintf("%s%s%s", pq, q ? "&" : "?", del ? "dryRun=All;x" : "fieldManager=a;b");
            break;
        case 16:
            if (!del)
                break;
            *kind = "DeleteOptions in body and query";
            p = twin_xasprintf("%s%spropagationPolicy=Orphan", pq, q ? "&" : "?");
            json_object_set_new(v, "body", json_pack("{s:s}", "kind", "DeleteOptions"));
            break;
        default: {
            const char *pp = q ? strstr(q, "propagationPolicy=") : NULL;
            if (!del || !pp || json_object_get(origin, "body"))
                break;
            *kind = "DeleteOptions moved to the body";
            char *val = twin_xstrdup(pp + 18);
            val[strcspn(val, "&")] = '\0';
            char *bare = strip_query(pq);
            p = twin_xstrdup(bare);
            free(bare);
            json_object_set_new(v, "body", json_pack("{s:s}", "propagationPolicy", val));
            free(val);
            json_object_set_new(v, "headers", json_pack("{s:s}", "Content-Type", "application/json"));
            json_object_set_new(v, "path", json_string(p));
            free(p);
            return v;
        }
        }
        if (!p) {
            json_decref(v);
            return NULL;
        }
        json_object_set_new(v, "path", json_string(p));
        json_object_set_new(v, "must_refuse", json_true());
        free(p);
        return v;
    }
    if (!body || json_is_string(body) || (ct && strstr(ct, "yaml"))) {
        json_decref(v);
        return NULL;
    }
    twin_buf b = {0};
    switch (which) {
    case 6:
        *kind = "shuffled keys";
        write_json(f, body, &b, 0);
        break;
    case 7:
        *kind = "unicode escapes";
        write_json(f, body, &b, 1);
        break;
    case 8:
        *kind = "numbers as reals";
        write_json(f, body, &b, 2);
        break;
    case 9: {
        *kind = "duplicate key";
        write_json(f, body, &b, 3);
        if (b.len > 1 && b.s[0] == '{') {
            twin_buf d = {0};
            twin_buf_add(&d, "{\"metadata\":{},", 15);
            twin_buf_add(&d, b.s + 1, b.len - 1);
            twin_buf_free(&b);
            b = d;
        }
        break;
    }
    case 10:
        *kind = "deep nesting";
        for (int i = 0; i < 300; i++)
            twin_buf_add(&b, "[", 1);
        for (int i = 0; i < 300; i++)
            twin_buf_add(&b, "]", 1);
        {
            char *inner = b.s ? twin_xstrdup(b.s) : twin_xstrdup("[]");
            twin_buf_free(&b);
            write_json(f, body, &b, 3);
            if (b.len > 1 && b.s[0] == '{') {
                twin_buf d = {0};
                twin_buf_addf(&d, "{\"x-airlock-fuzz\":%s,", inner);
                twin_buf_add(&d, b.s + 1, b.len - 1);
                twin_buf_free(&b);
                b = d;
            }
            free(inner);
        }
        break;
    default: {
        *kind = "very large value";
        write_json(f, body, &b, 3);
        if (b.len > 1 && b.s[0] == '{') {
            twin_buf d = {0};
            twin_buf_add(&d, "{\"x-airlock-fuzz\":\"", 19);
            for (int i = 0; i < 4 * 1024 * 1024 / 64; i++)
                twin_buf_add(&d, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 64);
            twin_buf_add(&d, "\",", 2);
            twin_buf_add(&d, b.s + 1, b.len - 1);
            twin_buf_free(&b);
            b = d;
        }
    }
    }
    json_object_del(v, "body");
    json_object_set_new(v, "raw", json_stringn(b.s ? b.s : "", b.len));
    twin_buf_free(&b);
    return v;
}

/* ---- judging variants ---- */

static json_t *reproducer(fuzzer *f, const json_t *origin_label, const json_t *req, gate_verdict expect,
                          const char *why)
{
    json_t *step = json_pack("{s:O, s:s}", "label", origin_label, "expect", gate_verdict_name(expect));
    json_object_set(step, "method", json_object_get(req, "method"));
    json_object_set(step, "path", json_object_get(req, "path"));
    if (json_object_get(req, "headers"))
        json_object_set(step, "headers", json_object_get(req, "headers"));
    if (json_object_get(req, "body"))
        json_object_set(step, "body", json_object_get(req, "body"));
    if (json_object_get(req, "raw")) {
        /* raw bodies are kept as text: the scenario runner parses a string body by content type */
        json_object_set(step, "body", json_object_get(req, "raw"));
    }
    return json_pack("{s:s, s:s, s:[o]}", "why", why, "state", f->state, "steps", step);
}

static void violation(fuzzer *f, const json_t *origin, const json_t *label, const char *kind, const json_t *req,
                      const outcome *o, const outcome *v)
{
    f->violations++;
    char *why = twin_xasprintf("fuzz: %s variant of %s %s got %s where the origin got %s", kind,
                               json_string_value(json_object_get(origin, "method")),
                               json_string_value(json_object_get(origin, "path")), gate_verdict_name(v->verdict),
                               gate_verdict_name(o->verdict));
    json_array_append_new(f->report, json_pack("{s:s, s:s, s:s, s:s, s:o}", "why", why, "kind", kind, "origin_verdict",
                                                gate_verdict_name(o->verdict), "variant_verdict",
                                                gate_verdict_name(v->verdict), "reproducer",
                                                reproducer(f, label, req, o->verdict, why)));
    free(why);
}

/* Production would receive something other than what was judged. */
static void forward_violation(fuzzer *f, const json_t *label, const char *kind, const json_t *req, const outcome *v)
{
    f->violations++;
    f->forward_violations++;
    char *why = twin_xasprintf("fuzz: %s: %s", kind, v->forward_mismatch);
    json_array_append_new(f->report, json_pack("{s:s, s:s, s:s, s:s, s:o}", "why", why, "kind", "forward",
                                                "origin_verdict", "", "variant_verdict", gate_verdict_name(v->verdict),
                                                "reproducer", reproducer(f, label, req, v->verdict, why)));
    free(why);
}

static void judge_variant(fuzzer *f, const json_t *origin, const json_t *label, const outcome *o, const char *kind,
                          const json_t *req)
{
    outcome v = {0};
    if (run_one(f, req, &v) < 0)
        return;
    f->variants++;
    if (v.forward_mismatch)
        forward_violation(f, label, kind, req, &v);
    if (json_is_true(json_object_get(req, "must_refuse")) && v.verdict != GATE_ERROR && v.forwardable) {
        /* a form read two ways: judged at all, it could be forwarded */
        free(v.message);
        v.message = twin_xasprintf("%s (a form the API server reads otherwise must be refused)", kind);
        violation(f, origin, label, kind, req, o, &v);
    } else if (v.verdict == GATE_ERROR) {
        f->refused++;   /* refused: never forwarded, whatever the origin got */
    } else if (json_equal(v.effect, o->effect)) {
        f->same_effect++;
        if (v.verdict != o->verdict)
            violation(f, origin, label, kind, req, o, &v);
    } else {
        f->other_effect++;
        /* a different effect may get a different verdict, but never an
         * allow for a variant whose origin was refused with the same
         * direct targets: that is the form evading the policy */
        if (o->verdict != GATE_ALLOW && v.verdict == GATE_ALLOW && json_array_size(o->effect) &&
            json_array_size(v.effect) == json_array_size(o->effect)) {
            int same_targets = 1;
            for (size_t i = 0; i < json_array_size(o->effect); i++) {
                json_t *a = json_array_get(o->effect, i), *b = json_array_get(v.effect, i);
                same_targets &= json_equal(json_object_get(a, "kind"), json_object_get(b, "kind")) &&
                                json_equal(json_object_get(a, "name"), json_object_get(b, "name")) &&
                                json_equal(json_object_get(a, "op"), json_object_get(b, "op"));
            }
            if (same_targets && !strcmp(json_string_value(json_object_get(json_array_get(o->effect, 0), "op")),
                                        "delete"))
                violation(f, origin, label, kind, req, o, &v);
        }
    }
    outcome_free(&v);
}

/* A delete-collection replayed one object at a time on one twin, with one
 * history: where the whole was refused and disrupted more pods than the
 * agent's budget allows, the pieces must not all pass (budget must trip).
 * Smaller splits are not judged: the twin lets the cluster settle between
 * two steps, so each small piece is judged on a recovered cluster. */
static void judge_split(fuzzer *f, const json_t *origin, const json_t *label, const outcome *o)
{
    const char *pq = json_string_value(json_object_get(origin, "path"));
    if (strcmp(json_string_value(json_object_get(origin, "method")), "DELETE") || o->verdict == GATE_ALLOW ||
        o->verdict == GATE_ERROR || o->pods_disrupted <= f->split_above)
        return;
    size_t n = json_array_size(o->effect);
    if (n < 2)
        return;
    twin *t;
    char err[512];
    if (twin_copy(&t, f->base, err, sizeof err) < 0)
        return;
    gate_history *h;
    gate_history_open(&h, NULL, err, sizeof err);
    double now = 1.7e9;
    char *path = strip_query(pq);
    int all_allowed = 1;
    json_t *steps = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(o->effect, i);
        if (strcmp(json_string_value(json_object_get(c, "op")), "delete"))
            continue;
        const twin_kind *k = twin_kind_by_name(t, json_string_value(json_object_get(c, "kind")));
        if (!k)
            continue;
        char *item = gate_cli_object_path(k, json_string_value(json_object_get(c, "namespace")),
                                          json_string_value(json_object_get(c, "name")));
        json_t *req = request("DELETE", item, NULL, NULL);
        outcome v = {0};
        run_on(f, t, h, req, &now, &v);
        json_array_append_new(steps, json_pack("{s:O, s:s, s:s}", "label", label, "method", "DELETE", "path", item));
        if (v.verdict != GATE_ALLOW)
            all_allowed = 0;
        outcome_free(&v);
        json_decref(req);
        free(item);
        if (!all_allowed)
            break;
    }
    f->splits++;
    if (all_allowed) {
        f->violations++;
        char *why = twin_xasprintf("fuzz: %s split into %zu single deletes all allowed where the whole got %s", pq,
                                   json_array_size(steps), gate_verdict_name(o->verdict));
        json_array_append_new(f->report,
                              json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:o}}", "why", why, "kind", "split",
                                        "origin_verdict", gate_verdict_name(o->verdict), "variant_verdict", "allow",
                                        "reproducer", "why", why, "state", f->state, "agent", f->agent, "steps",
                                        json_incref(steps)));
        free(why);
    }
    json_decref(steps);
    free(path);
    gate_history_close(h);
    twin_close(t);
}

/* ---- origins ---- */

static void add_origins_from(json_t *origins, const char *path, char *err, size_t errlen)
{
    json_t *docs = twin_load_docs(path, err, errlen);
    if (!docs)
        return;
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d) {
        if (json_is_object(d) && json_is_array(json_object_get(d, "steps"))) {
            json_t *s = json_array_get(json_object_get(d, "steps"), 0);
            if (json_is_string(json_object_get(s, "method")) && json_is_string(json_object_get(s, "path"))) {
                json_t *o = gate_cli_request_of(s);
                const char *label = json_string_value(json_object_get(s, "label"));
                json_object_set_new(o, "label", json_string(label ? label : "harmful"));
                json_array_append_new(origins, o);
            }
        } else if (json_is_object(d) && json_is_string(json_object_get(d, "method"))) {   /* an actions file */
            json_t *o = json_deep_copy(d);
            json_object_set_new(o, "label", json_string("harmful"));
            json_array_append_new(origins, o);
        } else if (json_is_object(d) && json_is_array(json_object_get(d, "actions")) &&
                   json_array_size(json_object_get(d, "actions"))) {   /* an e2e case: its first action */
            json_t *o = json_deep_copy(json_array_get(json_object_get(d, "actions"), 0));
            const char *want = json_string_value(
                json_object_get(json_array_get(json_object_get(d, "expect"), 0), "verdict"));
            json_object_set_new(o, "label", json_string(want && !strcmp(want, "allow") ? "benign" : "harmful"));
            json_array_append_new(origins, o);
        }
    }
    json_decref(docs);
}

static void usage(FILE *out)
{
    fputs("usage: gate scenario fuzz --state FILE|DIR [--seed N] [--count K] [--policies DIR] [--format text|json]\n"
          "                          [ORIGINS...]\n"
          "\n"
          "Generates variants of origin actions (the first API-call step of each scenario under ORIGINS,\n"
          "default scenarios/, or the actions of a JSON actions file) that should have the same effect,\n"
          "and checks that each gets the same verdict as its origin, or is refused when it cannot be\n"
          "parsed. Violations are printed with a reproducer in the scenario format. Exit 1 on a violation.\n",
          out);
}

int gate_cmd_fuzz(int argc, char **argv)
{
    gate_cli_opts o;
    char err[2048];
    int rc = EXIT_BAD;
    fuzzer f = {0};
    json_t *origins = json_array();
    int start = gate_cli_start(&o, argc, argv, "scenario fuzz", usage);
    if (start) {
        rc = start > 0 ? 0 : rc;
        goto out;
    }
    if (o.nstate != 1) {
        fprintf(stderr, "gate scenario fuzz: give exactly one --state\n");
        usage(stderr);
        goto out;
    }
    if (o.npositional == 0) {
        char *dflt = gate_cli_find("scenarios");
        if (dflt)
            add_origins_from(origins, dflt, err, sizeof err);
        free(dflt);
    }
    for (size_t i = 0; i < o.npositional; i++) {
        err[0] = '\0';
        add_origins_from(origins, o.positional[i], err, sizeof err);
        if (err[0]) {
            fprintf(stderr, "gate scenario fuzz: %s\n", err);
            goto out;
        }
    }
    if (json_array_size(origins) == 0) {
        fprintf(stderr, "gate scenario fuzz: no origin actions (give scenario files or an actions file)\n");
        goto out;
    }
    if (gate_cli_open_twin(&o, &f.base, err, sizeof err) < 0 || gate_cli_load_policies(&o, &f.ps, err, sizeof err) < 0) {
        fprintf(stderr, "gate scenario fuzz: %s\n", err);
        goto out;
    }
    f.rng = 0x2545F4914F6CDD1DULL ^ ((uint64_t)o.seed * 0x9E3779B97F4A7C15ULL);
    if (!f.rng)
        f.rng = 1;
    f.state = o.state[0];
    f.split_above = 20;   /* the default budget (lua-policies/config.lua budget.max_pods_disrupted) */
    f.agent = o.agent;
    f.report = json_array();
    long count = o.count > 0 ? o.count : 200;

    /* origins, in a seed-dependent order, each with its outcome */
    size_t no = json_array_size(origins);
    outcome *oc = twin_xcalloc(no, sizeof(outcome));
    json_t **forms = twin_xcalloc(no, sizeof(json_t *));
    for (size_t i = 0; i < no; i++) {
        json_t *a = json_array_get(origins, i);
        run_one(&f, a, &oc[i]);
        if (oc[i].forward_mismatch)
            forward_violation(&f, json_object_get(a, "label"), "origin", a, &oc[i]);
        forms[i] = json_array();
        if (oc[i].verdict != GATE_ERROR)
            form_variants(&f, a, forms[i]);
        judge_split(&f, a, json_object_get(a, "label"), &oc[i]);
        f.origins++;
    }
    /* variants round-robin over origins: first every request form, then
     * syntactic variants at random */
    long made = 0;
    for (size_t round = 0; made < count && round < 64; round++) {
        for (size_t i = 0; i < no && made < count; i++) {
            json_t *a = json_array_get(origins, i);
            if (oc[i].verdict == GATE_ERROR)
                continue;
            json_t *label = json_object_get(a, "label");
            if (round < json_array_size(forms[i])) {
                json_t *fv = json_array_get(forms[i], round);
                judge_variant(&f, a, label, &oc[i], json_string_value(json_object_get(fv, "kind")),
                              json_object_get(fv, "request"));
                made++;
                continue;
            }
            const char *kind = NULL;
            json_t *v = syntax_variant(&f, a, (int)(rnd(&f) % 18), &kind);
            if (!v)
                continue;
            judge_variant(&f, a, label, &oc[i], kind, v);
            json_decref(v);
            made++;
        }
    }
    for (size_t i = 0; i < no; i++) {
        outcome_free(&oc[i]);
        json_decref(forms[i]);
    }
    free(oc);
    free(forms);

    if (!strcmp(o.format, "json")) {
        json_t *doc = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:O}", "seed", (json_int_t)o.seed,
                                "forward_checked", (json_int_t)f.forward_checked, "forward_violations",
                                (json_int_t)f.forward_violations, "origins",
                                (json_int_t)f.origins, "variants", (json_int_t)f.variants, "same_effect",
                                (json_int_t)f.same_effect, "refused", (json_int_t)f.refused, "other_effect",
                                (json_int_t)f.other_effect, "splits", (json_int_t)f.splits, "violations",
                                (json_int_t)f.violations, "report", f.report);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(doc);
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(f.report, i, v) {
            printf("VIOLATION %s\n  reproducer (scenario format, JSON is YAML):\n", json_string_value(json_object_get(v, "why")));
            char *s = twin_xdumps(json_object_get(v, "reproducer"), JSON_INDENT(2));
            printf("%s\n\n", s);
            free(s);
        }
        printf("seed %ld: %zu origins, %zu variants: %zu same effect (same verdict required), %zu refused "
               "(unparseable or invalid: never forwarded), %zu with another effect; %zu splits; %zu forwarded "
               "requests read back as judged (%zu not); %zu violations\n",
               o.seed, f.origins, f.variants, f.same_effect, f.refused, f.other_effect, f.splits,
               f.forward_checked, f.forward_violations, f.violations);
    }
    rc = f.violations ? EXIT_FAIL : EXIT_OK;

out:
    json_decref(origins);
    json_decref(f.report);
    gate_policy_free(f.ps);
    twin_close(f.base);
    gate_cli_free(&o);
    return rc;
}
