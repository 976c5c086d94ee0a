/*
 * k8s.c - REST request -> API action (see k8s.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gate/kube/convert.h"
#include "gate/kube/k8s.h"
#include "gate/kube/protobuf.h"
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

gate_sub_class gate_subresource_class(const char *sub)
{
    static const char *const SIMULATED[] = {"status", "scale", "eviction", "log", "token", NULL};
    static const char *const CONNECT[] = {"exec", "attach", "portforward", "proxy", NULL};
    static const char *const UNMODELLED[] = {"ephemeralcontainers", "binding", "resize", "finalize", "approval",
                                             NULL};
    for (int i = 0; SIMULATED[i]; i++)
        if (!strcmp(sub, SIMULATED[i]))
            return GATE_SUB_SIMULATED;
    for (int i = 0; CONNECT[i]; i++)
        if (!strcmp(sub, CONNECT[i]))
            return GATE_SUB_CONNECT;
    for (int i = 0; UNMODELLED[i]; i++)
        if (!strcmp(sub, UNMODELLED[i]))
            return GATE_SUB_UNMODELLED;
    return GATE_SUB_UNKNOWN;
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
    free(a->field_validation);
    free(a->propagation);
    free(a->pre_uid);
    free(a->pre_rv);
    json_decref(a->read_opts);
    json_decref(a->delete_opts);
    json_decref(a->body);
    json_decref(a->twin_body);
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
    if (!twin_utf8_ok(out, o)) {
        free(out);
        return NULL;
    }
    return out;
}

/* True when s holds a byte the gate never lets through a path segment or a
 * query value: a control character (logs, headers) or DEL. */
static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return 1;
    return 0;
}

/* Parses the query into params (name -> decoded value, in order).  A ';'
 * (Go's url.ParseQuery drops the pair holding it, the twin would not), a
 * bad escape or a control character is refused: the forwarded query is
 * rebuilt from what is read here, so anything that could be read another
 * way stops here.  A name given twice keeps its first value (the API
 * server's reading) and is named in *dup (caller frees): the caller
 * refuses it unless the verb is connect, whose options repeat (exec's
 * command) and which is never forwarded. */
static int parse_query(const char *q, json_t *params, char **dup, char *err, size_t errlen)
{
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n) {
            if (memchr(q, ';', n)) {
                snprintf(err, errlen, "a ';' in the query string is not accepted (the API server drops such a "
                                      "parameter): percent-encode it as %%3B");
                return -1;
            }
            const char *eq = memchr(q, '=', n);
            size_t kn = eq ? (size_t)(eq - q) : n;
            char *k = decode(q, kn, 1);
            char *v = eq ? decode(eq + 1, n - kn - 1, 1) : twin_xstrdup("");
            const char *why = !k || !v ? "invalid percent-encoding (or not UTF-8) in the query string"
                              : has_control(k) || has_control(v) ? "a control character in the query string"
                                                                 : NULL;
            if (why) {
                snprintf(err, errlen, "%s", why);
                free(k);
                free(v);
                return -1;
            }
            if (!json_object_get(params, k))   /* the first value, as the API server reads it */
                json_object_set_new(params, k, json_string(v));
            else if (!*dup)
                *dup = twin_xstrdup(k);
            free(k);
            free(v);
        }
        q = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* A write that names no fieldManager is its client's, as the API server
 * says (handlers' managerOrUserAgent): the User-Agent up to its first '/',
 * at most 128 bytes ("kubectl" for kubectl/v1.32.3 ...). Named on the wire
 * to production too, which would otherwise see the gate's agent. NULL when
 * there is none, or it holds a control character. New string. */
static char *manager_of_agent(const char *ua)
{
    if (!ua || !*ua)
        return NULL;
    size_t n = strcspn(ua, "/");
    if (n > 128)
        for (n = 128; n && ((unsigned char)ua[n] & 0xC0) == 0x80;)
            n--;   /* not inside a UTF-8 sequence */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)ua[i] < 0x20 || ua[i] == 0x7f)
            return NULL;
    return n ? twin_xasprintf("%.*s", (int)n, ua) : NULL;
}

static const char *param(const json_t *params, const char *name)
{
    return json_string_value(json_object_get(params, name));
}

/* Quotes at most 200 bytes of a raw path in a message, cut before a
 * character rather than inside one: the message must stay UTF-8 (found by
 * tests/fuzz/fuzz_action). */
static int quoted_len(const char *raw, size_t n)
{
    size_t shown = n > 200 ? 200 : n;
    while (shown > 0 && shown < n && ((unsigned char)raw[shown] & 0xC0) == 0x80)
        shown--;
    return (int)shown;
}

/* Splits the raw path into decoded segments; refuses empty, "." and ".."
 * segments, trailing slashes, and a segment whose decoded form holds '/',
 * '?', '#' or a control character (each could make the segment mean
 * something else once decoded) rather than guess what they mean. */
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
        const char *why = !seg                                         ? "bad percent-encoding or not UTF-8"
                          : !*seg                                      ? "empty segment or trailing slash"
                          : !strcmp(seg, ".") || !strcmp(seg, "..")     ? "dot segments are not accepted"
                          : strpbrk(seg, "/?#")                         ? "an encoded '/', '?' or '#' in a segment is not accepted"
                          : has_control(seg)                           ? "a control character in a segment is not accepted"
                                                                       : NULL;
        if (why) {
            snprintf(err, errlen, "invalid path %.*s: %s", quoted_len(raw, n), raw, why);
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

/* ---- query options ---- */

/* Which verbs an option belongs to. */
enum {
    V_GET = 1 << 0,
    V_LIST = 1 << 1,
    V_WATCH = 1 << 2,
    V_LOG = 1 << 3,
    V_CREATE = 1 << 4,
    V_UPDATE = 1 << 5,
    V_PATCH = 1 << 6,
    V_DELETE = 1 << 7,
    V_DELCOL = 1 << 8,
    V_READS = V_GET | V_LIST | V_WATCH,
    V_WRITES = V_CREATE | V_UPDATE | V_PATCH,
    V_DELETES = V_DELETE | V_DELCOL,
};

typedef enum { Q_STRING, Q_BOOL, Q_INT, Q_DURATION } qtype;

/* Every query parameter the gate understands (apimachinery's GetOptions,
 * ListOptions, CreateOptions, UpdateOptions, PatchOptions, DeleteOptions and
 * PodLogOptions); `fwd` marks the read options passed on to production as
 * they were read (a mutation's are rebuilt from the typed action). */
static const struct qparam {
    const char *name;
    unsigned verbs;
    qtype type;
    int fwd;
} QPARAMS[] = {
    {"pretty", ~0u, Q_BOOL, 0},
    {"timeout", ~0u, Q_DURATION, 1},   /* the request's deadline (kubectl --request-timeout) */
    {"labelSelector", V_LIST | V_WATCH | V_DELCOL, Q_STRING, 1},
    {"fieldSelector", V_LIST | V_WATCH | V_DELCOL, Q_STRING, 1},
    {"limit", V_LIST, Q_INT, 1},
    {"continue", V_LIST, Q_STRING, 1},
    {"resourceVersion", V_READS, Q_STRING, 1},
    {"resourceVersionMatch", V_LIST | V_WATCH, Q_STRING, 1},
    {"timeoutSeconds", V_LIST | V_WATCH, Q_INT, 1},
    {"watch", V_LIST | V_WATCH, Q_BOOL, 1},
    {"allowWatchBookmarks", V_LIST | V_WATCH, Q_BOOL, 1},
    {"sendInitialEvents", V_LIST | V_WATCH, Q_BOOL, 1},
    {"includeObject", V_READS, Q_STRING, 1},
    {"container", V_LOG, Q_STRING, 1},
    {"follow", V_LOG, Q_BOOL, 1},
    {"previous", V_LOG, Q_BOOL, 1},
    {"sinceSeconds", V_LOG, Q_INT, 1},
    {"sinceTime", V_LOG, Q_STRING, 1},
    {"timestamps", V_LOG, Q_BOOL, 1},
    {"tailLines", V_LOG, Q_INT, 1},
    {"limitBytes", V_LOG, Q_INT, 1},
    {"insecureSkipTLSVerifyBackend", V_LOG, Q_BOOL, 1},
    {"dryRun", V_WRITES | V_DELETES, Q_STRING, 0},
    {"fieldManager", V_WRITES, Q_STRING, 0},
    {"fieldValidation", V_WRITES, Q_STRING, 0},
    {"force", V_PATCH, Q_BOOL, 0},
    {"propagationPolicy", V_DELETES, Q_STRING, 0},
    {"gracePeriodSeconds", V_DELETES, Q_INT, 0},
    {"orphanDependents", V_DELETES, Q_BOOL, 0},
};

static unsigned verb_bit(const gate_action *a)
{
    const char *v = a->verb;
    if (a->subresource && !strcmp(a->subresource, "log"))
        return V_LOG;
    return !strcmp(v, "get") ? V_GET : !strcmp(v, "list") ? V_LIST : !strcmp(v, "watch") ? V_WATCH
         : !strcmp(v, "create") ? V_CREATE : !strcmp(v, "update") ? V_UPDATE : !strcmp(v, "patch") ? V_PATCH
         : !strcmp(v, "delete") ? V_DELETE : !strcmp(v, "deletecollection") ? V_DELCOL : 0;
}

/* A boolean option: only the spellings on which the twin and the API
 * server agree (apimachinery reads every value but "0" and "false" as
 * true, an empty one included). 1, 0, or -1 when refused. */
static int read_bool(const char *v)
{
    if (!strcmp(v, "1") || !strcasecmp(v, "true"))
        return 1;
    if (!strcmp(v, "0") || !strcasecmp(v, "false"))
        return 0;
    return -1;
}

/* A decimal integer as strconv.ParseInt reads it; 0, or -1 when refused. */
static int read_int(const char *v, long long *out)
{
    const char *p = v;
    if (*p == '-' || *p == '+')
        p++;
    if (!*p || strlen(p) > 18)
        return -1;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return -1;
    *out = strtoll(v, NULL, 10);
    return 0;
}

/* A duration as Go's time.ParseDuration reads it, in the forms clients send
 * (digits with a unit, repeated: "10s", "1m30s", "500ms"); 0 or -1. */
static int read_duration(const char *v)
{
    const char *p = v;
    if (!*p)
        return -1;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
        static const char *UNITS[] = {"ns", "us", "ms", "s", "m", "h"};
        size_t u = 0;
        for (; u < sizeof UNITS / sizeof UNITS[0]; u++)
            if (!strncmp(p, UNITS[u], strlen(UNITS[u])) && (strlen(UNITS[u]) == 2 || p[1] != 's'))
                break;
        if (u == sizeof UNITS / sizeof UNITS[0])
            return -1;
        p += strlen(UNITS[u]);
    }
    return 0;
}

/* Checks every query parameter against the action's verb and type; fills
 * a->read_opts with the forwarded read options.  0, or the status (400). */
static int check_params(gate_action *a, const json_t *params, char *err, size_t errlen)
{
    unsigned bit = verb_bit(a);
    const char *k;
    json_t *jv;
    a->read_opts = json_object();
    json_object_foreach((json_t *)params, k, jv) {
        const char *v = json_string_value(jv);
        const struct qparam *q = NULL;
        for (size_t i = 0; i < sizeof QPARAMS / sizeof QPARAMS[0]; i++)
            if (!strcmp(QPARAMS[i].name, k))
                q = &QPARAMS[i];
        if (!q || !(q->verbs & bit)) {
            snprintf(err, errlen, "the query parameter \"%.100s\" is not one the gate understands for %s: it is "
                                  "refused rather than passed on unjudged",
                     k, a->subresource && !strcmp(a->subresource, "log") ? "pods/log" : a->verb);
            return 400;
        }
        long long n;
        if ((q->type == Q_BOOL && read_bool(v) < 0) || (q->type == Q_INT && read_int(v, &n) < 0) ||
            (q->type == Q_DURATION && read_duration(v) < 0)) {
            snprintf(err, errlen, "the query parameter %s has the value \"%.100s\": %s", k, v,
                     q->type == Q_BOOL ? "send true or false" : q->type == Q_INT ? "send a decimal integer"
                                                                                 : "send a duration such as 10s");
            return 400;
        }
        if (q->fwd && (bit & (V_READS | V_LOG)))
            json_object_set_new(a->read_opts, k,
                                q->type == Q_BOOL ? json_string(read_bool(v) ? "true" : "false") : json_string(v));
    }
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

/* The kind's propagation when a delete names none (k8s-api-facts: apps/v1
 * kinds and everything else Background; batch/v1 Job and v1
 * ReplicationController Orphan, for backward compatibility). */
static const char *default_propagation(const twin_kind *k)
{
    return !strcmp(k->kind, "Job") || !strcmp(k->kind, "ReplicationController") ? "Orphan" : "Background";
}

/* True when a DeleteOptions query option says what the body's field says. */
static int same_option(const char *name, const char *qv, const json_t *bv)
{
    long long n;
    if (!strcmp(name, "dryRun"))
        return !strcmp(qv, "All") && json_array_size(bv) == 1 && json_is_string(json_array_get(bv, 0)) &&
               !strcmp(json_string_value(json_array_get(bv, 0)), "All");
    if (!strcmp(name, "gracePeriodSeconds"))
        return read_int(qv, &n) == 0 && json_is_integer(bv) && json_integer_value(bv) == n;
    if (!strcmp(name, "orphanDependents"))
        return read_bool(qv) >= 0 && json_is_boolean(bv) && read_bool(qv) == json_is_true(bv);
    return json_is_string(bv) && !strcmp(qv, json_string_value(bv));
}

/* DeleteOptions as the API server reads them (apiserver handlers/delete.go):
 * a non-empty body is the DeleteOptions and the query is not read; without
 * one, the query.  An option in the query that the body does not say the
 * same way is refused: the two readings differ.  The
 * action's body becomes the canonical DeleteOptions, with the propagation
 * made explicit, which is what the twin applies and production receives. */
static int delete_options(gate_action *a, const json_t *params, char *err, size_t errlen)
{
    static const char *OPTS[] = {"dryRun", "propagationPolicy", "gracePeriodSeconds", "orphanDependents"};
    const json_t *b = a->body;
    int orphan = -1;
    const char *prop = NULL;
    if (b) {
        if (!json_is_object(b)) {
            snprintf(err, errlen, "the body of a DELETE must be a DeleteOptions object");
            return 400;
        }
        /* the query is not read when a body is sent: an option there that
         * the body does not say the same way would be read two ways */
        for (size_t i = 0; i < sizeof OPTS / sizeof OPTS[0]; i++) {
            const char *qv = param(params, OPTS[i]);
            if (qv && !same_option(OPTS[i], qv, json_object_get(b, OPTS[i]))) {
                snprintf(err, errlen,
                         "DeleteOptions %s in the query differs from the body's: the API server reads only the "
                         "body; send the options once",
                         OPTS[i]);
                return 400;
            }
        }
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)b, k, v) {
            int ok = 1;
            if (!strcmp(k, "kind"))
                ok = json_is_string(v) && !strcmp(json_string_value(v), "DeleteOptions");
            else if (!strcmp(k, "apiVersion")) {
                /* DeleteOptions is registered in every group version: a
                 * typed client sends it under the one of what it deletes */
                char *gv = *a->group ? twin_xasprintf("%s/%s", a->group, a->version) : twin_xstrdup(a->version);
                ok = json_is_string(v) && (!strcmp(json_string_value(v), "v1") ||
                                           !strcmp(json_string_value(v), "meta.k8s.io/v1") ||
                                           !strcmp(json_string_value(v), gv));
                free(gv);
            }
            else if (!strcmp(k, "propagationPolicy"))
                ok = json_is_string(v) || json_is_null(v), prop = json_string_value(v);
            else if (!strcmp(k, "orphanDependents"))
                ok = json_is_boolean(v) || json_is_null(v), orphan = json_is_boolean(v) ? json_is_true(v) : -1;
            else if (!strcmp(k, "gracePeriodSeconds")) {
                ok = json_is_integer(v) || json_is_null(v);
                if (json_is_integer(v))
                    a->grace_period = json_integer_value(v);
            } else if (!strcmp(k, "dryRun")) {
                size_t i;
                json_t *x;
                ok = json_is_array(v) || json_is_null(v);
                json_array_foreach(v, i, x) {
                    if (!json_is_string(x) || strcmp(json_string_value(x), "All"))
                        ok = 0;
                    a->dry_run = 1;
                }
            } else if (!strcmp(k, "preconditions")) {
                const char *pk;
                json_t *pv;
                ok = json_is_object(v) || json_is_null(v);
                json_object_foreach(v, pk, pv) {
                    if ((strcmp(pk, "uid") && strcmp(pk, "resourceVersion")) || !(json_is_string(pv) || json_is_null(pv)))
                        ok = 0;
                    else if (json_is_string(pv))
                        *(!strcmp(pk, "uid") ? &a->pre_uid : &a->pre_rv) = twin_xstrdup(json_string_value(pv));
                }
            } else {
                snprintf(err, errlen, "DeleteOptions has no field \"%.100s\" the gate understands: it is refused "
                                      "rather than passed on unjudged",
                         k);
                return 400;
            }
            if (!ok) {
                snprintf(err, errlen, "DeleteOptions.%s has a value of the wrong type or an unsupported value", k);
                return 400;
            }
        }
    } else {
        const char *dry = param(params, "dryRun");
        if (dry && strcmp(dry, "All")) {
            snprintf(err, errlen, "dryRun: Unsupported value: \"%.100s\": supported values: \"All\"", dry);
            return 400;
        }
        a->dry_run = dry != NULL;
        prop = param(params, "propagationPolicy");
        const char *o = param(params, "orphanDependents");
        orphan = o ? read_bool(o) : -1;
        long long g;
        if (param(params, "gracePeriodSeconds") && read_int(param(params, "gracePeriodSeconds"), &g) == 0)
            a->grace_period = g;
    }
    if (orphan >= 0 && prop) {
        snprintf(err, errlen, "orphanDependents and propagationPolicy cannot be both set");
        return 422;
    }
    if (a->grace_period < -1) {
        snprintf(err, errlen, "gracePeriodSeconds: Invalid value: %lld: must be >= 0", a->grace_period);
        return 422;
    }
    if (prop && strcmp(prop, "Background") && strcmp(prop, "Foreground") && strcmp(prop, "Orphan")) {
        snprintf(err, errlen,
                 "propagationPolicy: Unsupported value: \"%.100s\": supported values: \"Orphan\", \"Foreground\", "
                 "\"Background\"",
                 prop);
        return 422;
    }
    free(a->propagation);
    a->propagation = twin_xstrdup(orphan == 1 ? "Orphan" : orphan == 0 ? "Background"
                                  : prop                    ? prop
                                                            : default_propagation(a->kind));
    json_t *opts = json_pack("{s:s, s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1", "propagationPolicy",
                             a->propagation);
    if (a->grace_period >= 0)
        json_object_set_new(opts, "gracePeriodSeconds", json_integer(a->grace_period));
    if (a->pre_uid || a->pre_rv) {
        json_t *pre = json_object();
        if (a->pre_uid)
            json_object_set_new(pre, "uid", json_string(a->pre_uid));
        if (a->pre_rv)
            json_object_set_new(pre, "resourceVersion", json_string(a->pre_rv));
        json_object_set_new(opts, "preconditions", pre);
    }
    if (a->dry_run)
        json_object_set_new(opts, "dryRun", json_pack("[s]", "All"));
    a->delete_opts = opts;
    return 0;
}

int gate_action_parse(gate_action *a, const twin *t, const char *method, const char *path_query,
                      const json_t *headers, const json_t *body, const char *raw, size_t rawlen, char *err,
                      size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->grace_period = -1;
    a->force = -1;
    if (!method || !path_query)
        return refuse(400, err, errlen, "%s", "an action needs a method and a path");
    if (strlen(path_query) > GATE_MAX_PATH)
        return refuse(414, err, errlen, "%s", "the request path is too long");
    /* every message below may quote them, and messages become JSON */
    if (!twin_utf8_ok(method, strlen(method)) || !twin_utf8_ok(path_query, strlen(path_query)))
        return refuse(400, err, errlen, "%s", "the method and the path must be valid UTF-8");
    /* a client never sends a fragment; libcurl would cut the forwarded URL
     * there while the twin read on */
    if (strchr(path_query, '#') || has_control(path_query))
        return refuse(400, err, errlen, "%s",
                      "the request target holds a '#' or a control character: a fragment is not part of a request");
    a->method = twin_xstrdup(method);
    for (char *p = a->method; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    const char *qm = strchr(path_query, '?');
    size_t plen = qm ? (size_t)(qm - path_query) : strlen(path_query);
    json_t *params = json_object();
    char **segs = NULL, *dup = NULL;
    size_t n = 0;
    int rc = 0;

    if (parse_query(qm ? qm + 1 : NULL, params, &dup, err, errlen) < 0) {
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
    if (a->kind->read_only && strcmp(a->method, "GET") && strcmp(a->method, "HEAD")) {
        /* fail closed: the twin does not mirror it, so it cannot simulate a write */
        snprintf(err, errlen,
                 "airlock: %s%s%s is served by an aggregated API the gate cannot watch: it passes reads, after "
                 "judging them, and refuses writes (it cannot simulate them)",
                 a->resource, *a->group ? "." : "", a->group);
        rc = 403;
        goto out;
    }
    if (!strcmp(a->kind->kind, "Namespace") && a->name)
        a->ns = NULL;

    /* the verb */
    const char *sub = a->subresource;
    gate_sub_class sc = sub ? gate_subresource_class(sub) : GATE_SUB_SIMULATED;
    int connect = sc == GATE_SUB_CONNECT;
    const char *m = a->method;
    const char *w = param(params, "watch");
    a->watch = w && read_bool(w) == 1;
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
    if (sc == GATE_SUB_UNMODELLED) {
        /* refused as such (kubectl prints a 403; a 404 here reads as "the
         * feature is off" to kubectl debug) */
        snprintf(err, errlen, "airlock: denied: %s/%s cannot be simulated by the twin and is refused%s", a->resource,
                 sub, !strcmp(sub, "ephemeralcontainers") ? " (kubectl debug adds ephemeral containers)" : "");
        rc = 403;
        goto out;
    }
    if (sc == GATE_SUB_UNKNOWN) {
        rc = refuse(404, err, errlen, "the server could not find the requested subresource %s", sub);
        goto out;
    }
    if (sub && !strcmp(sub, "scale") && !a->kind->has_scale) {
        rc = refuse(404, err, errlen, "%s have no scale subresource", a->resource);
        goto out;
    }
    if (sub && !strcmp(sub, "token") && (strcmp(a->kind->kind, "ServiceAccount") || strcmp(m, "POST"))) {
        rc = refuse(404, err, errlen, "%s", "a token request is a POST on serviceaccounts/NAME/token");
        goto out;
    }
    if (sub && !strcmp(sub, "eviction") && (strcmp(a->kind->kind, "Pod") || strcmp(m, "POST"))) {
        rc = refuse(404, err, errlen, "%s", "eviction is a POST on pods/NAME/eviction");
        goto out;
    }
    if (sub && !strcmp(sub, "log") && (strcmp(m, "GET") || strcmp(a->kind->kind, "Pod") || a->watch)) {
        rc = refuse(405, err, errlen, "%s", "pods/log is read-only (GET, no watch)");
        goto out;
    }
    if (!strcmp(a->verb, "watch") && a->name) {
        rc = refuse(400, err, errlen, "%s",
                    "a watch goes to the collection: watch one object with fieldSelector=metadata.name=NAME");
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

    /* options: every parameter known for the verb, once, in a form read one way */
    if (dup && !connect) {
        rc = refuse(400, err, errlen,
                    "the query parameter %.100s is given more than once: send it once (the API server would read "
                    "only the first)",
                    dup);
        goto out;
    }
    if (!connect && (rc = check_params(a, params, err, errlen)))
        goto out;
    const char *dry = param(params, "dryRun");
    if (dry && strcmp(m, "DELETE")) {
        if (strcmp(dry, "All")) {
            rc = refuse(400, err, errlen, "dryRun: Unsupported value: \"%.100s\": supported values: \"All\"", dry);
            goto out;
        }
        a->dry_run = 1;
    }
    a->label_selector = twin_xstrdup(param(params, "labelSelector"));
    a->field_selector = twin_xstrdup(param(params, "fieldSelector"));
    a->field_manager = twin_xstrdup(param(params, "fieldManager"));
    if (!a->field_manager && strcmp(m, "GET") && strcmp(m, "DELETE"))
        a->field_manager = manager_of_agent(gate_header(headers, "User-Agent"));
    const char *fv = param(params, "fieldValidation");
    if (fv && strcmp(fv, "Ignore") && strcmp(fv, "Warn") && strcmp(fv, "Strict")) {
        rc = refuse(400, err, errlen,
                    "fieldValidation: Unsupported value: \"%.100s\": supported values: \"Ignore\", \"Warn\", \"Strict\"",
                    fv);
        goto out;
    }
    a->field_validation = twin_xstrdup(fv);
    const char *force = param(params, "force");
    a->force = force ? read_bool(force) : -1;

    /* the body */
    const char *ct = gate_header(headers, "Content-Type");
    if (!strcmp(m, "PATCH")) {
        a->patch_type = patch_type_of(ct);
        if (!a->patch_type) {
            snprintf(err, errlen,
                     "the body of a PATCH must be application/strategic-merge-patch+json, "
                     "application/merge-patch+json, application/json-patch+json or application/apply-patch+yaml "
                     "(got %.200s)",
                     ct ? ct : "no Content-Type");
            rc = 415;
            goto out;
        }
        if (a->force >= 0 && a->patch_type != TWIN_PATCH_APPLY) {
            rc = refuse(400, err, errlen, "%s", "force is only allowed for apply patches");
            goto out;
        }
    } else if (ct && (!strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "DELETE")) &&
               strncasecmp(ct, "application/json", 16) && strncasecmp(ct, "application/yaml", 16) &&
               !ci_contains(ct, "protobuf")) {
        rc = refuse(415, err, errlen, "the content type %.200s is not supported: send application/json", ct);
        goto out;
    }
    if (ct && ci_contains(ct, "protobuf") && strcmp(m, "POST") && strcmp(m, "PUT") && strcmp(m, "DELETE"))
        rc = refuse(415, err, errlen, "%s",
                    "protobuf request bodies are decoded for POST, PUT and DELETE only (Kubernetes has no "
                    "protobuf patch): send JSON");
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
    if (!strcmp(m, "GET") && a->body) {
        rc = refuse(400, err, errlen, "%s", "a GET carries no body");
        goto out;
    }
    if (!strcmp(m, "DELETE") && (rc = delete_options(a, params, err, errlen)))
        goto out;
    if ((!strcmp(m, "POST") || !strcmp(m, "PUT")) && json_is_object(a->body)) {
        /* a built-in kind as the API server's decoder reads it: a value of
         * the wrong type is refused, an unknown member too under
         * fieldValidation=Strict (kubectl's default), else dropped */
        char *gv = *a->group ? twin_xasprintf("%s/%s", a->group, a->version) : twin_xstrdup(a->version);
        char cerr[512];
        int bad = gate_protobuf_check_json(a->body, sub ? NULL : gv, sub ? NULL : a->kind->kind,
                                           a->field_validation && !strcmp(a->field_validation, "Strict"), cerr,
                                           sizeof cerr) < 0;
        if (bad) {
            const char *bk = json_string_value(json_object_get(a->body, "kind"));
            const char *bv = json_string_value(json_object_get(a->body, "apiVersion"));
            bk = bk ? bk : a->kind->kind;
            snprintf(err, errlen, "%s in version \"%s\" cannot be handled as a %s: %s", bk,
                     bv && strchr(bv, '/') ? strchr(bv, '/') + 1 : bv ? bv : a->version, bk, cerr);
            rc = 400;
        }
        free(gv);
        if (rc)
            goto out;
    }
    if (sub && !strcmp(sub, "eviction") && json_is_object(a->body)) {
        /* kubectl drain --dry-run=server: the eviction's own DeleteOptions */
        const json_t *dr = json_object_get(json_object_get(a->body, "deleteOptions"), "dryRun");
        size_t di;
        json_t *x;
        json_array_foreach(dr, di, x) {
            if (!json_is_string(x) || strcmp(json_string_value(x), "All")) {
                rc = refuse(400, err, errlen, "%s",
                            "deleteOptions.dryRun: Unsupported value: supported values: \"All\"");
                goto out;
            }
            a->dry_run = 1;
        }
        if (dr && !json_is_array(dr) && !json_is_null(dr)) {
            rc = refuse(400, err, errlen, "%s", "deleteOptions.dryRun must be a list of strings");
            goto out;
        }
    }
    if (gate_convert_v1_hpa(a->group, a->version, a->kind->kind) && !a->subresource) {
        /* the twin keeps HPAs as v2: a v1 body is converted for it (a
         * patch would need the stored object converted back and forth) */
        if (!strcmp(m, "PATCH")) {
            rc = refuse(415, err, errlen, "%s",
                        "patch an autoscaling/v1 HorizontalPodAutoscaler through autoscaling/v2 (the twin keeps "
                        "HPAs as v2; kubectl patch does)");
            goto out;
        }
        if (a->body && (!strcmp(m, "POST") || !strcmp(m, "PUT")))
            a->twin_body = gate_hpa_to_v2(a->body);
    }
    a->path = twin_xasprintf("%.*s", (int)plen, path_query);

out:
    for (size_t k = 0; k < n; k++)
        free(segs[k]);
    free(segs);
    free(dup);
    json_decref(params);
    if (rc)
        gate_action_free(a);
    return rc;
}

json_t *gate_action_json(const gate_action *a)
{
    static const char *PT[] = {NULL, "merge", "json", "strategic", "apply"};
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s, s:s?, s:s?, s:s, s:s, s:b, s:s?, s:s?, s:s?}", "verb",
                     a->verb, "method", a->method, "path", a->path, "kind", a->kind->kind, "resource", a->resource,
                     "subresource", a->subresource, "group", a->group, "namespace", a->ns, "name", a->name,
                     "version", a->version, "api_group", a->group, "dry_run", a->dry_run, "patch_type",
                     PT[a->patch_type], "label_selector", a->label_selector, "field_selector", a->field_selector);
    if (a->propagation)   /* a delete's, made explicit */
        json_object_set_new(j, "propagation_policy", json_string(a->propagation));
    return j;
}

/* ---- the request production receives ---- */

void gate_url_encode(twin_buf *b, const char *s)
{
    static const char HEX[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            twin_buf_add(b, s, 1);
        } else {
            char e[3] = {'%', HEX[ch >> 4], HEX[ch & 15]};
            twin_buf_add(b, e, 3);
        }
    }
}

static void add_segment(twin_buf *b, const char *seg)
{
    twin_buf_add(b, "/", 1);
    gate_url_encode(b, seg);
}

static void add_option(twin_buf *b, const char *name, const char *value)
{
    twin_buf_add(b, b->len && memchr(b->s, '?', b->len) ? "&" : "?", 1);
    gate_url_encode(b, name);
    twin_buf_add(b, "=", 1);
    gate_url_encode(b, value);
}

void gate_action_wire(const gate_action *a, gate_wire *w)
{
    static const char *PATCH_CT[] = {NULL, "application/merge-patch+json", "application/json-patch+json",
                                     "application/strategic-merge-patch+json", "application/apply-patch+yaml"};
    memset(w, 0, sizeof *w);
    twin_buf b = {0};
    if (*a->group) {
        add_segment(&b, "apis");
        add_segment(&b, a->group);
    } else {
        add_segment(&b, "api");
    }
    add_segment(&b, a->version);
    if (a->ns && a->kind->namespaced) {
        add_segment(&b, "namespaces");
        add_segment(&b, a->ns);
    }
    add_segment(&b, a->resource);
    if (a->name)
        add_segment(&b, a->name);
    if (a->subresource)
        add_segment(&b, a->subresource);
    if (gate_action_is_read(a) || (a->subresource && !strcmp(a->subresource, "log"))) {
        /* the read options as they were read, in a fixed order */
        for (size_t i = 0; i < sizeof QPARAMS / sizeof QPARAMS[0]; i++) {
            const char *v = json_string_value(json_object_get(a->read_opts, QPARAMS[i].name));
            if (v)
                add_option(&b, QPARAMS[i].name, v);
        }
    } else {
        /* a mutation's options, from the typed action; a delete's are in
         * its DeleteOptions body */
        if (a->dry_run && strcmp(a->method, "DELETE"))
            add_option(&b, "dryRun", "All");
        if (a->field_manager)
            add_option(&b, "fieldManager", a->field_manager);
        if (a->field_validation)
            add_option(&b, "fieldValidation", a->field_validation);
        if (a->force >= 0)
            add_option(&b, "force", a->force ? "true" : "false");
        if (!strcmp(a->verb, "deletecollection")) {
            if (a->label_selector)
                add_option(&b, "labelSelector", a->label_selector);
            if (a->field_selector)
                add_option(&b, "fieldSelector", a->field_selector);
        }
    }
    w->method = twin_xstrdup(a->method);
    w->path_query = b.s;
    const json_t *body = a->delete_opts ? a->delete_opts : a->body;
    if (body && !gate_action_is_read(a)) {
        w->body = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        w->len = w->body ? strlen(w->body) : 0;
        w->content_type = a->patch_type ? PATCH_CT[a->patch_type] : "application/json";
    }
}

void gate_wire_free(gate_wire *w)
{
    if (!w)
        return;
    free(w->method);
    free(w->path_query);
    free(w->body);
    memset(w, 0, sizeof *w);
}

void gate_action_request(const gate_action *a, twin_request *req)
{
    memset(req, 0, sizeof *req);
    const char *v = a->verb;
    req->kind = a->kind->kind;
    req->ns = a->ns;
    req->name = a->name;
    req->body = a->delete_opts ? a->delete_opts : a->twin_body ? a->twin_body : a->body;
    req->patch_type = a->patch_type;
    req->label_selector = a->label_selector;
    req->field_selector = a->field_selector;
    req->propagation = a->propagation;
    req->field_manager = a->field_manager;
    req->force = a->force == 1;
    req->subresource = a->subresource;
    if (a->subresource && !strcmp(a->subresource, "eviction")) {
        req->verb = TWIN_EVICT;
        req->subresource = NULL;
    } else if (a->subresource && !strcmp(a->subresource, "token")) {
        req->verb = TWIN_TOKEN;
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
