/*
 * k8s.c - REST request -> API action (see k8s.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gate/k8s.h"
#include "gate/protobuf.h"
#include "twin/util.h"
#include "twin/yaml.h"

const char *gate_header(const json_t *headers, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)headers, k, v) {
        if (!strcasecmp(k, name))
            return json_string_value(v);
    }
    return NULL;
}

void gate_action_free(gate_action *a)
{
    if (!a)
        return;
    free(a->method);
    free(a->path);
    free(a->verb);
    free(a->group);
    free(a->version);
    free(a->resource);
    free(a->subresource);
    free(a->ns);
    free(a->name);
    free(a->label_selector);
    free(a->field_selector);
    free(a->field_manager);
    free(a->propagation);
    json_decref(a->body);
    memset(a, 0, sizeof *a);
}

int gate_verb_is_read(const char *verb)
{
    return verb && (!strcmp(verb, "get") || !strcmp(verb, "list") || !strcmp(verb, "watch"));
}

int gate_action_is_read(const gate_action *a) { return gate_verb_is_read(a->verb); }

/* Case-insensitive substring test (strcasestr is a GNU extension). */
static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; hay && *hay; hay++)
        if (!strncasecmp(hay, needle, n))
            return 1;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* True when s[0..n) is valid UTF-8 (jansson's check: no overlong forms, no
 * surrogates). */
static int utf8_ok(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    int ok = j != NULL;
    json_decref(j);
    return ok;
}

/* Percent-decodes s[0..n) ('+' is a space in queries only). NULL on a bad
 * escape, an encoded NUL or a result that is not UTF-8 (a name, namespace
 * or query value that is not UTF-8 cannot become JSON for the policies, and
 * a query parameter would silently vanish: found by tests/fuzz/fuzz_action). */
static char *decode(const char *s, size_t n, int query)
{
    char *out = twin_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (query && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    if (!utf8_ok(out, o)) {
        free(out);
        return NULL;
    }
    return out;
}

typedef struct query {
    json_t *params;   /* name -> decoded value (last one wins) */
} query;

static int parse_query(const char *q, json_t *params, char *err, size_t errlen)
{
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n) {
            const char *eq = memchr(q, '=', n);
            size_t kn = eq ? (size_t)(eq - q) : n;
            char *k = decode(q, kn, 1);
            char *v = eq ? decode(eq + 1, n - kn - 1, 1) : twin_xstrdup("");
            if (!k || !v) {
                free(k);
                free(v);
                snprintf(err, errlen, "invalid percent-encoding (or not UTF-8) in the query string");
                return -1;
            }
            json_object_set_new(params, k, json_string(v));
            free(k);
            free(v);
        }
        q = amp ? amp + 1 : NULL;
    }
    return 0;
}

static const char *param(const json_t *params, const char *name)
{
    return json_string_value(json_object_get(params, name));
}

/* Splits the decoded path into segments; refuses empty, "." and ".."
 * segments and trailing slashes rather than guess what they mean. */
static int split_path(const char *raw, size_t n, char ***segs_out, size_t *nsegs, char err[], size_t errlen)
{
    if (n == 0 || raw[0] != '/') {
        snprintf(err, errlen, "the path must start with /");
        return -1;
    }
    char **segs = NULL;
    size_t k = 0;
    size_t i = 1;
    while (i <= n) {
        size_t j = i;
        while (j < n && raw[j] != '/')
            j++;
        char *seg = decode(raw + i, j - i, 0);
        int badseg = !seg || !*seg || !strcmp(seg, ".") || !strcmp(seg, "..") || strchr(seg, '/');
        if (badseg) {
            /* quote at most 200 bytes, cut before a character rather than
             * inside one: the message must stay UTF-8 (found by
             * tests/fuzz/fuzz_action) */
            size_t shown = n > 200 ? 200 : n;
            while (shown > 0 && shown < n && ((unsigned char)raw[shown] & 0xC0) == 0x80)
                shown--;
            snprintf(err, errlen, "invalid path %.*s: %s", (int)shown, raw,
                     !seg ? "bad percent-encoding or not UTF-8" : !*seg ? "empty segment or trailing slash"
                                                           : "dot segments and encoded slashes are not accepted");
            free(seg);
            for (size_t x = 0; x < k; x++)
                free(segs[x]);
            free(segs);
            return -1;
        }
        segs = twin_xrealloc(segs, (k + 1) * sizeof(char *));
        segs[k++] = seg;
        i = j + 1;
    }
    *segs_out = segs;
    *nsegs = k;
    return 0;
}

static int refuse(int code, char *err, size_t errlen, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    return code;
}

static twin_patch_type patch_type_of(const char *ct)
{
    if (!ct)
        return 0;
    if (!strncasecmp(ct, "application/strategic-merge-patch+json", 38))
        return TWIN_PATCH_STRATEGIC;
    if (!strncasecmp(ct, "application/merge-patch+json", 28))
        return TWIN_PATCH_MERGE;
    if (!strncasecmp(ct, "application/json-patch+json", 27))
        return TWIN_PATCH_JSON;
    if (!strncasecmp(ct, "application/apply-patch+yaml", 28) || !strncasecmp(ct, "application/apply-patch+json", 28))
        return TWIN_PATCH_APPLY;
    return 0;
}

static int json_depth_ok(const json_t *v, int depth)
{
    if (depth > GATE_MAX_DEPTH)
        return 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) if (!json_depth_ok(x, depth + 1)) return 0;
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (!json_depth_ok(x, depth + 1)) return 0;
    }
    return 1;
}

/* Reads the body by its content type: JSON, or YAML for apply patches. */
static int read_body(gate_action *a, const char *ct, const json_t *body, const char *raw, size_t rawlen, char *err,
                     size_t errlen)
{
    if (body && !json_is_string(body)) {
        a->body = json_deep_copy(body);
    } else {
        const char *text = body ? json_string_value(body) : raw;
        size_t len = body ? json_string_length(body) : rawlen;
        if (!text || len == 0)
            return 0;
        if (len > GATE_MAX_BODY)
            return refuse(413, err, errlen, "the request body is larger than the %s limit", "3 MiB");
        if (len >= 4 && !memcmp(text, "k8s\0", 4)) {
            /* the protobuf kubectl create sends (k8s-api-facts section 5) */
            char perr[512];
            if (!ct || !ci_contains(ct, "protobuf"))
                return refuse(415, err, errlen, "%s", "a protobuf body needs Content-Type application/vnd.kubernetes.protobuf");
            if (gate_protobuf_decode((const unsigned char *)text, len, &a->body, perr, sizeof perr) < 0)
                return refuse(415, err, errlen, "%s", perr);
            return json_depth_ok(a->body, 0) ? 0 : refuse(400, err, errlen, "%s", "the request body is nested too deep");
        }
        if (ct && ci_contains(ct, "yaml")) {
            json_t *docs = NULL;
            char yerr[512];
            if (twin_yaml_parse(&docs, text, len, "request body", yerr, sizeof yerr) < 0)
                return refuse(400, err, errlen, "the request body is not valid YAML: %s", yerr);
            if (json_array_size(docs) != 1) {
                json_decref(docs);
                return refuse(400, err, errlen, "%s", "the request body must hold exactly one YAML document");
            }
            a->body = json_incref(json_array_get(docs, 0));
            json_decref(docs);
        } else {
            json_error_t je;
            a->body = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
            if (!a->body) {
                snprintf(err, errlen, "the request body is not valid JSON: line %d column %d: %s", je.line,
                         je.column, je.text);
                return 400;
            }
        }
    }
    if (!json_depth_ok(a->body, 0))
        return refuse(400, err, errlen, "the request body is nested deeper than %s levels", "100");
    return 0;
}

int gate_action_parse(gate_action *a, const twin *t, const char *method, const char *path_query,
                      const json_t *headers, const json_t *body, const char *raw, size_t rawlen, char *err,
                      size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (!method || !path_query)
        return refuse(400, err, errlen, "%s", "an action needs a method and a path");
    if (strlen(path_query) > GATE_MAX_PATH)
        return refuse(414, err, errlen, "%s", "the request path is too long");
    /* every message below may quote them, and messages become JSON */
    if (!utf8_ok(method, strlen(method)) || !utf8_ok(path_query, strlen(path_query)))
        return refuse(400, err, errlen, "%s", "the method and the path must be valid UTF-8");
    a->method = twin_xstrdup(method);
    for (char *p = a->method; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    const char *qm = strchr(path_query, '?');
    size_t plen = qm ? (size_t)(qm - path_query) : strlen(path_query);
    json_t *params = json_object();
    char **segs = NULL;
    size_t n = 0;
    int rc = 0;

    if (parse_query(qm ? qm + 1 : NULL, params, err, errlen) < 0) {
        rc = 400;
        goto out;
    }
    if (split_path(path_query, plen, &segs, &n, err, errlen) < 0) {
        rc = 400;
        goto out;
    }
    size_t i = 0;
    if (n >= 2 && !strcmp(segs[0], "api")) {
        a->group = twin_xstrdup("");
        a->version = twin_xstrdup(segs[1]);
        i = 2;
    } else if (n >= 3 && !strcmp(segs[0], "apis")) {
        a->group = twin_xstrdup(segs[1]);
        a->version = twin_xstrdup(segs[2]);
        i = 3;
    } else {
        rc = refuse(404, err, errlen, "the server could not find the requested resource (path %s)", path_query);
        goto out;
    }
    size_t rest = n - i;
    int ns_sub = rest == 3 && (!strcmp(segs[n - 1], "status") || !strcmp(segs[n - 1], "finalize"));
    if (rest >= 3 && !strcmp(segs[i], "namespaces") && !ns_sub) {
        a->ns = twin_xstrdup(segs[i + 1]);
        i += 2;
        rest -= 2;
    }
    if (rest < 1 || rest > 3) {
        rc = refuse(404, err, errlen, "the server could not find the requested resource (path %s)", path_query);
        goto out;
    }
    a->resource = twin_xstrdup(segs[i]);
    if (rest >= 2)
        a->name = twin_xstrdup(segs[i + 1]);
    if (rest == 3)
        a->subresource = twin_xstrdup(segs[i + 2]);
    a->kind = twin_kind_by_resource(t, a->group, a->resource);
    int version_ok = a->kind && (!strcmp(a->kind->version, a->version) ||
                                 (!strcmp(a->kind->kind, "HorizontalPodAutoscaler") && !strcmp(a->version, "v1")));
    if (!version_ok) {
        snprintf(err, errlen, "the server could not find the requested resource: %s%s%s/%s", a->group,
                 *a->group ? "/" : "", a->version, a->resource);
        rc = 404;
        goto out;
    }
    if (a->ns && !a->kind->namespaced) {
        rc = refuse(404, err, errlen, "%s is cluster-scoped: it has no namespaced path", a->resource);
        goto out;
    }
    if (!strcmp(a->kind->kind, "Namespace") && a->name)
        a->ns = NULL;

    /* the verb */
    const char *sub = a->subresource;
    int connect = sub && (!strcmp(sub, "exec") || !strcmp(sub, "attach") || !strcmp(sub, "portforward") ||
                          !strcmp(sub, "proxy"));
    const char *m = a->method;
    const char *w = param(params, "watch");
    a->watch = w && (!strcmp(w, "true") || !strcmp(w, "1"));
    if (connect)
        a->verb = twin_xstrdup("connect");
    else if (!strcmp(m, "GET"))
        a->verb = twin_xstrdup(a->watch ? "watch" : a->name ? "get" : "list");
    else if (!strcmp(m, "POST"))
        a->verb = twin_xstrdup("create");
    else if (!strcmp(m, "PUT"))
        a->verb = twin_xstrdup("update");
    else if (!strcmp(m, "PATCH"))
        a->verb = twin_xstrdup("patch");
    else if (!strcmp(m, "DELETE"))
        a->verb = twin_xstrdup(a->name ? "delete" : "deletecollection");
    else {
        rc = refuse(405, err, errlen, "the method %s is not allowed", m);
        goto out;
    }
    if (sub && !connect && strcmp(sub, "scale") && strcmp(sub, "status") && strcmp(sub, "eviction") &&
        strcmp(sub, "log")) {
        rc = refuse(404, err, errlen, "the server could not find the requested subresource %s", sub);
        goto out;
    }
    if (sub && !strcmp(sub, "scale") && !a->kind->has_scale) {
        rc = refuse(404, err, errlen, "%s have no scale subresource", a->resource);
        goto out;
    }
    if (sub && !strcmp(sub, "eviction") && (strcmp(a->kind->kind, "Pod") || strcmp(m, "POST"))) {
        rc = refuse(404, err, errlen, "%s", "eviction is a POST on pods/NAME/eviction");
        goto out;
    }
    if (sub && !strcmp(sub, "log") && strcmp(m, "GET")) {
        rc = refuse(405, err, errlen, "%s", "pods/log is read-only");
        goto out;
    }
    if (!strcmp(a->verb, "create") && a->name && !sub) {
        rc = refuse(405, err, errlen, "%s", "POST goes to the collection, not to an item");
        goto out;
    }
    if ((!strcmp(a->verb, "update") || !strcmp(a->verb, "patch")) && !a->name) {
        rc = refuse(405, err, errlen, "%s %s needs an object name in the path", m);
        goto out;
    }
    if (a->kind->namespaced && !a->ns && strcmp(a->verb, "list") && strcmp(a->verb, "watch")) {
        rc = refuse(404, err, errlen, "%s are namespaced: the path needs /namespaces/NAMESPACE/", a->resource);
        goto out;
    }

    /* options */
    const char *dry = param(params, "dryRun");
    if (dry) {
        if (strcmp(dry, "All")) {
            rc = refuse(400, err, errlen, "dryRun: Unsupported value: \"%s\": supported values: \"All\"", dry);
            goto out;
        }
        a->dry_run = 1;
    }
    a->label_selector = twin_xstrdup(param(params, "labelSelector"));
    a->field_selector = twin_xstrdup(param(params, "fieldSelector"));
    a->field_manager = twin_xstrdup(param(params, "fieldManager"));
    a->propagation = twin_xstrdup(param(params, "propagationPolicy"));
    const char *force = param(params, "force");
    a->force = force && !strcmp(force, "true");

    /* the body */
    const char *ct = gate_header(headers, "Content-Type");
    if (!strcmp(m, "PATCH")) {
        a->patch_type = patch_type_of(ct);
        if (!a->patch_type) {
            snprintf(err, errlen,
                     "the body of a PATCH must be application/strategic-merge-patch+json, "
                     "application/merge-patch+json, application/json-patch+json or application/apply-patch+yaml "
                     "(got %s)",
                     ct ? ct : "no Content-Type");
            rc = 415;
            goto out;
        }
    } else if (ct && (!strcmp(m, "POST") || !strcmp(m, "PUT")) && strncasecmp(ct, "application/json", 16) &&
               strncasecmp(ct, "application/yaml", 16) && !ci_contains(ct, "protobuf")) {
        rc = refuse(415, err, errlen, "the content type %s is not supported: send application/json", ct);
        goto out;
    }
    if (ct && ci_contains(ct, "protobuf") && strcmp(m, "POST"))
        rc = refuse(415, err, errlen, "%s",
                    "protobuf request bodies are decoded only for create (POST): send JSON");
    if (rc)
        goto out;
    rc = read_body(a, ct, body, raw, rawlen, err, errlen);
    if (rc)
        goto out;
    int needs_body = !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH");
    if (needs_body && !connect && !a->body) {
        rc = refuse(400, err, errlen, "%s needs a request body", m);
        goto out;
    }
    if (needs_body && !connect && a->patch_type != TWIN_PATCH_JSON && !json_is_object(a->body)) {
        rc = refuse(400, err, errlen, "%s", "the request body must be a JSON object");
        goto out;
    }
    if (a->patch_type == TWIN_PATCH_JSON && !json_is_array(a->body)) {
        rc = refuse(400, err, errlen, "%s", "a JSON patch body must be an array of operations");
        goto out;
    }
    if (a->body && json_is_object(a->body) && (!strcmp(m, "DELETE"))) {
        json_t *dr = json_object_get(a->body, "dryRun");
        size_t k;
        json_t *v;
        json_array_foreach(dr, k, v) if (json_string_value(v) && !strcmp(json_string_value(v), "All")) a->dry_run = 1;
        const char *pp = json_string_value(json_object_get(a->body, "propagationPolicy"));
        if (pp) {
            free(a->propagation);
            a->propagation = twin_xstrdup(pp);
        }
    }
    a->path = twin_xasprintf("%.*s", (int)plen, path_query);

out:
    for (size_t k = 0; k < n; k++)
        free(segs[k]);
    free(segs);
    json_decref(params);
    if (rc)
        gate_action_free(a);
    return rc;
}

json_t *gate_action_json(const gate_action *a)
{
    static const char *PT[] = {NULL, "merge", "json", "strategic", "apply"};
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s, s:s?, s:s?, s:s, s:s, s:b, s:s?, s:s?, s:s?}", "verb",
                     a->verb, "method", a->method, "path", a->path, "kind", a->kind->kind, "resource", a->resource,
                     "subresource", a->subresource, "group", a->group, "namespace", a->ns, "name", a->name,
                     "version", a->version, "api_group", a->group, "dry_run", a->dry_run, "patch_type",
                     PT[a->patch_type], "label_selector", a->label_selector, "field_selector", a->field_selector);
}

void gate_action_request(const gate_action *a, twin_request *req)
{
    memset(req, 0, sizeof *req);
    const char *v = a->verb;
    req->kind = a->kind->kind;
    req->ns = a->ns;
    req->name = a->name;
    req->body = a->body;
    req->patch_type = a->patch_type;
    req->label_selector = a->label_selector;
    req->field_selector = a->field_selector;
    req->propagation = a->propagation;
    req->field_manager = a->field_manager;
    req->force = a->force;
    req->subresource = a->subresource;
    if (a->subresource && !strcmp(a->subresource, "eviction")) {
        req->verb = TWIN_EVICT;
        req->subresource = NULL;
    } else if (!strcmp(v, "create"))
        req->verb = TWIN_CREATE;
    else if (!strcmp(v, "update"))
        req->verb = TWIN_UPDATE;
    else if (!strcmp(v, "patch"))
        req->verb = TWIN_PATCH;
    else if (!strcmp(v, "delete"))
        req->verb = TWIN_DELETE;
    else if (!strcmp(v, "deletecollection"))
        req->verb = TWIN_DELETE_COLLECTION;
}
