/*
 * protobuf.c - the protobuf request bodies kubectl 1.32 sends for `kubectl
 * create namespace|configmap|secret|deployment|service`, decoded to JSON
 * (k8s-api-facts section 5: the "k8s\0" envelope, runtime.Unknown, and the
 * fields those commands set).  Unknown fields are skipped; any other kind
 * is refused so the caller can answer 415.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gate/protobuf.h"
#include "twin/util.h"

typedef struct pb {
    const unsigned char *p, *end;
    int depth;
} pb;

enum { PB_MAX_DEPTH = 32 };

static int varint(pb *b, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->p >= b->end)
            return -1;
        unsigned char c = *b->p++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return 0;
    }
    return -1;
}

/* Next field: number, wire type, and for length-delimited its bytes. */
static int field(pb *b, uint32_t *num, int *wt, pb *sub, uint64_t *val)
{
    uint64_t key;
    if (varint(b, &key) < 0)
        return -1;
    *num = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    switch (*wt) {
    case 0:
        return varint(b, val);
    case 1:
        if (b->end - b->p < 8)
            return -1;
        b->p += 8;
        return 0;
    case 2: {
        uint64_t n;
        if (varint(b, &n) < 0 || n > (uint64_t)(b->end - b->p))
            return -1;
        sub->p = b->p;
        sub->end = b->p + n;
        sub->depth = b->depth + 1;
        b->p += n;
        return sub->depth > PB_MAX_DEPTH ? -1 : 0;
    }
    case 5:
        if (b->end - b->p < 4)
            return -1;
        b->p += 4;
        return 0;
    default:
        return -1;
    }
}

static json_t *str(const pb *s) { return json_stringn((const char *)s->p, (size_t)(s->end - s->p)); }

static json_t *b64(const pb *s)
{
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = (size_t)(s->end - s->p);
    twin_buf b = {0};
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s->p[i] << 16 | (i + 1 < n ? (uint32_t)s->p[i + 1] << 8 : 0) |
                     (i + 2 < n ? s->p[i + 2] : 0);
        char q[4] = {T[v >> 18 & 63], T[v >> 12 & 63], i + 1 < n ? T[v >> 6 & 63] : '=', i + 2 < n ? T[v & 63] : '='};
        twin_buf_add(&b, q, 4);
    }
    json_t *j = json_string(b.s ? b.s : "");
    twin_buf_free(&b);
    return j;
}

/* The length-delimited fields 1 and 2 of a small message (a map entry,
 * TypeMeta, Quantity): 1 as a string, 2 as a string or base64 bytes. The
 * last occurrence wins; -1 on a malformed message. */
static int two_fields(pb *m, json_t **one, json_t **two, int two_bytes)
{
    *one = NULL;
    if (two)
        *two = NULL;
    while (m->p < m->end) {
        uint32_t num;
        int wt;
        pb s;
        uint64_t x;
        if (field(m, &num, &wt, &s, &x) < 0)
            return -1;
        if (wt == 2 && num == 1) {
            json_decref(*one);
            *one = str(&s);
        } else if (wt == 2 && num == 2 && two) {
            json_decref(*two);
            *two = two_bytes ? b64(&s) : str(&s);
        }
    }
    return 0;
}

/* A map<string,string|bytes> entry {1 key, 2 value} into obj. */
static int map_entry(pb *e, json_t *obj, int bytes)
{
    json_t *k, *v;
    int rc = two_fields(e, &k, &v, bytes);
    if (rc == 0 && json_is_string(k))
        json_object_set_new(obj, json_string_value(k), v ? v : json_string(""));
    else {
        json_decref(v);
        rc = -1;
    }
    json_decref(k);
    return rc;
}

/* Decodes a message into a JSON object with a field table: number -> name
 * and how to read it. */
typedef enum { F_STR, F_INT, F_BOOL, F_MAP, F_BYTESMAP, F_MSG, F_REPMSG, F_REPSTR, F_INTSTR, F_QTYMAP } ftype;
typedef struct fdef {
    uint32_t num;
    const char *name;
    ftype type;
    const struct fdef *sub;   /* F_MSG, F_REPMSG */
} fdef;

static int message(pb *b, const fdef *defs, json_t *out);

static int intorstring(pb *s, json_t **out)
{
    uint64_t type = 0, iv = 0;
    json_t *sv = NULL;
    while (s->p < s->end) {
        uint32_t num;
        int wt;
        pb sub;
        uint64_t x;
        if (field(s, &num, &wt, &sub, &x) < 0) {
            json_decref(sv);
            return -1;
        }
        if (num == 1 && wt == 0)
            type = x;
        else if (num == 2 && wt == 0)
            iv = x;
        else if (num == 3 && wt == 2) {
            json_decref(sv);
            sv = str(&sub);
        }
    }
    if (type == 1) {
        *out = sv ? sv : json_string("");
    } else {
        json_decref(sv);
        *out = json_integer((json_int_t)(int32_t)iv);
    }
    return 0;
}

/* A map<string, Quantity> entry, Quantity being {1 string}. */
static int quantity_map_entry(pb *e, json_t *obj)
{
    json_t *k = NULL, *v = NULL;
    while (e->p < e->end) {
        uint32_t num;
        int wt;
        pb s;
        uint64_t x;
        if (field(e, &num, &wt, &s, &x) < 0)
            break;
        if (wt == 2 && num == 1) {
            json_decref(k);
            k = str(&s);
        } else if (wt == 2 && num == 2) {
            json_decref(v);
            two_fields(&s, &v, NULL, 0);
        }
    }
    int ok = json_is_string(k) && json_is_string(v);
    if (ok)
        json_object_set_new(obj, json_string_value(k), v);
    else
        json_decref(v);
    json_decref(k);
    return ok ? 0 : -1;
}

/* out[name], made an empty object or array on first use. Borrowed. */
static json_t *member(json_t *out, const char *name, int array)
{
    json_t *m = json_object_get(out, name);
    if (!m) {
        m = array ? json_array() : json_object();
        json_object_set_new(out, name, m);
    }
    return m;
}

static int message(pb *b, const fdef *defs, json_t *out)
{
    while (b->p < b->end) {
        uint32_t num;
        int wt;
        pb s;
        uint64_t x;
        if (field(b, &num, &wt, &s, &x) < 0)
            return -1;
        const fdef *d = NULL;
        for (const fdef *f = defs; f->name; f++)
            if (f->num == num)
                d = f;
        if (!d)
            continue;   /* a field these commands do not set: skipped */
        switch (d->type) {
        case F_STR:
            if (wt != 2)
                return -1;
            if (s.end > s.p)   /* proto2 writes empty strings: leave them out */
                json_object_set_new(out, d->name, str(&s));
            break;
        case F_INT:
            if (wt != 0)
                return -1;
            json_object_set_new(out, d->name, json_integer((json_int_t)(int64_t)x));
            break;
        case F_BOOL:
            if (wt != 0)
                return -1;
            json_object_set_new(out, d->name, json_boolean(x != 0));
            break;
        case F_MAP:
        case F_BYTESMAP:
        case F_QTYMAP: {
            if (wt != 2)
                return -1;
            json_t *m = member(out, d->name, 0);
            if ((d->type == F_QTYMAP ? quantity_map_entry(&s, m) : map_entry(&s, m, d->type == F_BYTESMAP)) < 0)
                return -1;
            break;
        }
        case F_MSG: {
            if (wt != 2)
                return -1;
            json_t *m = json_object();
            if (message(&s, d->sub, m) < 0) {
                json_decref(m);
                return -1;
            }
            if (json_object_size(m))
                json_object_set_new(out, d->name, m);
            else
                json_decref(m);
            break;
        }
        case F_REPMSG: {
            if (wt != 2)
                return -1;
            json_t *arr = member(out, d->name, 1);
            json_t *m = json_object();
            if (message(&s, d->sub, m) < 0) {
                json_decref(m);
                return -1;
            }
            json_array_append_new(arr, m);
            break;
        }
        case F_REPSTR: {
            if (wt != 2)
                return -1;
            json_t *arr = member(out, d->name, 1);
            json_array_append_new(arr, str(&s));
            break;
        }
        case F_INTSTR: {
            if (wt != 2)
                return -1;
            json_t *v;
            if (intorstring(&s, &v) < 0)
                return -1;
            json_object_set_new(out, d->name, v);
            break;
        }
        }
    }
    return 0;
}

/* The field tables (api@v0.32 generated.proto numbers). */
static const fdef META[] = {{1, "name", F_STR, NULL}, {2, "generateName", F_STR, NULL}, {3, "namespace", F_STR, NULL},
                            {11, "labels", F_MAP, NULL}, {12, "annotations", F_MAP, NULL}, {0, NULL, 0, NULL}};
static const fdef SELECTOR[] = {{1, "matchLabels", F_MAP, NULL}, {0, NULL, 0, NULL}};
static const fdef CPORT[] = {{1, "name", F_STR, NULL}, {2, "hostPort", F_INT, NULL}, {3, "containerPort", F_INT, NULL},
                             {4, "protocol", F_STR, NULL}, {0, NULL, 0, NULL}};
static const fdef RESOURCES[] = {{1, "limits", F_QTYMAP, NULL}, {2, "requests", F_QTYMAP, NULL}, {0, NULL, 0, NULL}};
static const fdef CONTAINER[] = {{1, "name", F_STR, NULL},          {2, "image", F_STR, NULL},
                                 {3, "command", F_REPSTR, NULL},    {4, "args", F_REPSTR, NULL},
                                 {6, "ports", F_REPMSG, CPORT},     {8, "resources", F_MSG, RESOURCES},
                                 {14, "imagePullPolicy", F_STR, NULL}, {0, NULL, 0, NULL}};
static const fdef PODSPEC[] = {{2, "containers", F_REPMSG, CONTAINER}, {3, "restartPolicy", F_STR, NULL},
                               {0, NULL, 0, NULL}};
static const fdef TEMPLATE[] = {{1, "metadata", F_MSG, META}, {2, "spec", F_MSG, PODSPEC}, {0, NULL, 0, NULL}};
static const fdef STRATEGY[] = {{1, "type", F_STR, NULL}, {0, NULL, 0, NULL}};
static const fdef DEPSPEC[] = {{1, "replicas", F_INT, NULL}, {2, "selector", F_MSG, SELECTOR},
                               {3, "template", F_MSG, TEMPLATE}, {4, "strategy", F_MSG, STRATEGY},
                               {0, NULL, 0, NULL}};
static const fdef SPORT[] = {{1, "name", F_STR, NULL}, {2, "protocol", F_STR, NULL}, {3, "port", F_INT, NULL},
                             {4, "targetPort", F_INTSTR, NULL}, {0, NULL, 0, NULL}};
static const fdef SVCSPEC[] = {{1, "ports", F_REPMSG, SPORT}, {2, "selector", F_MAP, NULL},
                               {3, "clusterIP", F_STR, NULL}, {4, "type", F_STR, NULL},
                               {10, "externalName", F_STR, NULL}, {0, NULL, 0, NULL}};
static const fdef NAMESPACE[] = {{1, "metadata", F_MSG, META}, {0, NULL, 0, NULL}};
static const fdef CONFIGMAP[] = {{1, "metadata", F_MSG, META}, {2, "data", F_MAP, NULL},
                                 {3, "binaryData", F_BYTESMAP, NULL}, {4, "immutable", F_BOOL, NULL},
                                 {0, NULL, 0, NULL}};
static const fdef SECRET[] = {{1, "metadata", F_MSG, META}, {2, "data", F_BYTESMAP, NULL}, {3, "type", F_STR, NULL},
                              {4, "stringData", F_MAP, NULL}, {5, "immutable", F_BOOL, NULL}, {0, NULL, 0, NULL}};
static const fdef DEPLOYMENT[] = {{1, "metadata", F_MSG, META}, {2, "spec", F_MSG, DEPSPEC}, {0, NULL, 0, NULL}};
static const fdef SERVICE[] = {{1, "metadata", F_MSG, META}, {2, "spec", F_MSG, SVCSPEC}, {0, NULL, 0, NULL}};

static const struct {
    const char *api_version, *kind;
    const fdef *defs;
} KNOWN[] = {
    {"v1", "Namespace", NAMESPACE}, {"v1", "ConfigMap", CONFIGMAP},         {"v1", "Secret", SECRET},
    {"v1", "Service", SERVICE},     {"apps/v1", "Deployment", DEPLOYMENT},
};

int gate_protobuf_decode(const unsigned char *buf, size_t len, json_t **out, char *err, size_t errlen)
{
    if (len < 4 || memcmp(buf, "k8s\0", 4)) {
        snprintf(err, errlen, "not a Kubernetes protobuf body (no k8s envelope)");
        return -1;
    }
    pb b = {buf + 4, buf + len, 0};
    json_t *av = NULL, *kind = NULL;
    pb raw = {NULL, NULL, 0};
    while (b.p < b.end) {
        uint32_t num;
        int wt;
        pb s;
        uint64_t x;
        if (field(&b, &num, &wt, &s, &x) < 0) {
            snprintf(err, errlen, "malformed protobuf envelope");
            json_decref(av);
            json_decref(kind);
            return -1;
        }
        if (num == 1 && wt == 2) {   /* runtime.TypeMeta {1 apiVersion, 2 kind} */
            json_decref(av);
            json_decref(kind);
            two_fields(&s, &av, &kind, 0);
        } else if (num == 2 && wt == 2) {
            raw = s;
        }
    }
    const fdef *defs = NULL;
    for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++)
        if (av && kind && !strcmp(json_string_value(av), KNOWN[i].api_version) &&
            !strcmp(json_string_value(kind), KNOWN[i].kind))
            defs = KNOWN[i].defs;
    if (!defs || !raw.p) {
        snprintf(err, errlen, "protobuf bodies are decoded for the kinds kubectl create sends (Namespace, ConfigMap, "
                              "Secret, Service, Deployment), not %s %s: send JSON",
                 av ? json_string_value(av) : "?", kind ? json_string_value(kind) : "?");
        json_decref(av);
        json_decref(kind);
        return -1;
    }
    json_t *obj = json_pack("{s:o, s:o}", "apiVersion", av, "kind", kind);
    if (message(&raw, defs, obj) < 0) {
        snprintf(err, errlen, "malformed protobuf %s body", json_string_value(json_object_get(obj, "kind")));
        json_decref(obj);
        return -1;
    }
    *out = obj;
    return 0;
}
