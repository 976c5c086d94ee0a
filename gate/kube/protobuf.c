/*
 * protobuf.c - the protobuf request bodies of client-go's typed clients
 * (kubectl 1.32's create, drain, autoscale, create job, ...): objects of the
 * built-in kinds listed in ACCEPTED, created or replaced, an Eviction, a
 * Scale, a DELETE's DeleteOptions, decoded to the JSON the API server would
 * see (k8s-api-facts section 5: the "k8s\0" envelope and runtime.Unknown).
 * One table-driven message decoder; the tables are generated from the
 * Kubernetes protos (gate/kube/protobuf_tables.inc, by tools/protogen.py).
 * The gate forwards the JSON re-encoding of what this decodes, so nothing
 * is skipped: whatever cannot be mapped exactly is refused with an error
 * naming the message type and field number, and a kind not in ACCEPTED is
 * refused whole.
 *
 * The JSON mapping (what Go's encoding/json makes of the decoded object):
 * - a singular string "" is left out (gogo writes non-pointer strings even
 *   when empty, and Go reads "" and absent alike), except the pointer
 *   fields the generator marks PB_KEEP_EMPTY, where "" is a value;
 * - integers and bools are kept when present, 0 and false included (a
 *   present `replicas: 0` means zero replicas);
 * - bytes are base64 (standard, padded);
 * - repeated scalars are read packed or not; a repeated field given twice
 *   appends;
 * - a singular field given twice is REFUSED rather than merged (protobuf
 *   would merge messages and keep the last scalar; no client writes a field
 *   twice, and refusing leaves nothing to get wrong);
 * - a map is a JSON object; a key given twice is refused;
 * - a message present is an object even when empty (`emptyDir: {}` selects
 *   a volume source);
 * - members of a Go struct embedded json:",inline" (PB_INLINE) go into the
 *   parent object;
 * - special types (PB_K_*): Quantity -> its string; IntOrString -> integer
 *   or string; Time and MicroTime -> RFC 3339 (MicroTime with 6 fractional
 *   digits; the zero time, an empty message, is left out as Go's null);
 *   RawExtension and FieldsV1 -> the embedded JSON, parsed; Verbs -> an
 *   array; anything else with a JSON form of its own (PB_K_REFUSED) is
 *   refused;
 * - apiVersion and kind are the envelope's, but a DeleteOptions is
 *   meta.k8s.io/v1 whatever group version it came under (see
 *   DELETE_OPTIONS_VERSION).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate/kube/protobuf.h"
#include "twin/util.h"

enum { PB_MAX_DEPTH = 32 };

/* What gate/kube/protobuf_tables.inc is made of. */
typedef enum { PB_STRING, PB_BYTES, PB_BOOL, PB_INT32, PB_INT64, PB_MESSAGE } pb_type;
enum {
    PB_REPEATED = 1,     /* a JSON array */
    PB_MAP = 2,          /* map<string, type>: a JSON object */
    PB_INLINE = 4,       /* its message's members are the parent's */
    PB_KEEP_EMPTY = 8,   /* a Go *string: "" is kept */
};
typedef enum {
    PB_K_PLAIN,
    PB_K_QUANTITY,
    PB_K_INTORSTRING,
    PB_K_TIME,
    PB_K_MICROTIME,
    PB_K_RAWJSON,
    PB_K_VERBS,
    PB_K_REFUSED,
} pb_kind;

typedef struct pb_field {
    uint32_t num;
    const char *json;   /* the JSON name: the proto field name but for protogen.py's JSON_NAMES */
    uint8_t type;       /* pb_type (of the value, for a map) */
    uint8_t flags;      /* PB_REPEATED, PB_MAP, PB_INLINE, PB_KEEP_EMPTY */
    uint16_t msg;       /* PB_MESSAGE: its index in pb_msgs */
    const char *desc;   /* its OpenAPI description (the comment above it in the .proto), or NULL */
} pb_field;

typedef struct pb_msg {
    const char *name;          /* as OpenAPI names it: io.k8s.api.core.v1.PodSpec */
    uint8_t kind;              /* pb_kind */
    uint16_t nfields;
    const pb_field *fields;    /* by ascending number */
    const char *desc;          /* its OpenAPI description, or NULL */
} pb_msg;

typedef struct pb_root {
    const char *api_version, *kind;
    uint16_t msg;
} pb_root;

#include "gate/kube/protobuf_tables.inc"

/* The kinds decoded, by group version, of the roots the tables have: each
 * needs tests before it is added here (tests/test_protobuf.c).  A kind
 * listed here that the tables lack is refused like any other.
 * DeleteOptions is in every group version: a typed client sends a
 * DELETE's options under the group version of what it deletes. */
enum { PB_MAX_KINDS = 12 };
static const struct {
    const char *api_version;
    const char *kinds[PB_MAX_KINDS];   /* NULL-terminated */
} ACCEPTED[] = {
    {"v1",
     {"Pod", "Service", "ConfigMap", "Secret", "Namespace", "ServiceAccount", "ResourceQuota", "LimitRange",
      "PersistentVolumeClaim", "Node", "DeleteOptions"}},
    {"apps/v1", {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "DeleteOptions"}},
    {"batch/v1", {"Job", "CronJob", "DeleteOptions"}},
    {"autoscaling/v1", {"HorizontalPodAutoscaler", "Scale", "DeleteOptions"}},
    {"autoscaling/v2", {"HorizontalPodAutoscaler", "DeleteOptions"}},
    {"policy/v1", {"Eviction", "PodDisruptionBudget", "DeleteOptions"}},
    {"networking.k8s.io/v1", {"Ingress", "NetworkPolicy", "DeleteOptions"}},
    {"rbac.authorization.k8s.io/v1", {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "DeleteOptions"}},
    {"scheduling.k8s.io/v1", {"PriorityClass", "DeleteOptions"}},
    {"authentication.k8s.io/v1", {"TokenRequest", "SelfSubjectReview", "DeleteOptions"}},
    {"authorization.k8s.io/v1", {"SelfSubjectAccessReview", "SelfSubjectRulesReview"}},
};

/* The API server reads a DeleteOptions alike under every group version
 * (its DELETE handler decodes a body of any group into meta.k8s.io/v1
 * DeleteOptions, "for backwards compatibility ... per group
 * DeleteOptions"): it is one Go type, metav1.DeleteOptions, registered in
 * each.  The decoder names it by the group version it belongs to, so that
 * the gate reads an apps/v1 one as it reads the JSON kubectl delete sends
 * (gate/kube/k8s.c takes a DeleteOptions of v1 or meta.k8s.io/v1 only). */
static const char DELETE_OPTIONS_VERSION[] = "meta.k8s.io/v1";

/* runtime.Unknown and runtime.TypeMeta, the envelope (not in the tables:
 * they are not a kind's fields). */
static const pb_field UNKNOWN_FIELDS[] = {
    {1, "typeMeta", PB_MESSAGE, 0, 0, NULL},
    {2, "raw", PB_BYTES, 0, 0, NULL},
    {3, "contentEncoding", PB_STRING, 0, 0, NULL},
    {4, "contentType", PB_STRING, 0, 0, NULL},
};
static const pb_msg UNKNOWN = {"io.k8s.apimachinery.pkg.runtime.Unknown", PB_K_PLAIN, 4, UNKNOWN_FIELDS, NULL};
static const pb_field TYPEMETA_FIELDS[] = {
    {1, "apiVersion", PB_STRING, 0, 0, NULL},
    {2, "kind", PB_STRING, 0, 0, NULL},
};
static const pb_msg TYPEMETA = {"io.k8s.apimachinery.pkg.runtime.TypeMeta", PB_K_PLAIN, 2, TYPEMETA_FIELDS, NULL};

/* Where the decoder is, for errors: a JSON path kept on the stack. */
typedef struct pb_path {
    const struct pb_path *up;
    const char *name;   /* a member, or NULL for an array index */
    size_t index;
} pb_path;

typedef struct pb_dec {
    char *err;
    size_t errlen;
    const pb_path *path;
} pb_dec;

/* The bytes not read yet of one message. */
typedef struct pb_in {
    const unsigned char *p, *end;
} pb_in;

/* One field's value as read off the wire. */
typedef struct pb_val {
    int wt;
    uint64_t u;                /* wire type 0 */
    const unsigned char *s;    /* wire type 2 */
    size_t n;
} pb_val;

static void path_render(const pb_path *p, twin_buf *b)
{
    if (!p)
        return;
    path_render(p->up, b);
    if (p->name)
        twin_buf_addf(b, "%s%s", p->up ? "." : "", p->name);
    else
        twin_buf_addf(b, "[%zu]", p->index);
}

/* -1 after writing "protobuf: <what> (at <path>)" to the caller's buffer. */
__attribute__((format(printf, 2, 3))) static int fail(pb_dec *d, const char *fmt, ...)
{
    twin_buf b = {0};
    twin_buf_add(&b, "protobuf: ", 10);
    va_list ap;
    va_start(ap, fmt);
    char *what = twin_xvasprintf(fmt, ap);
    va_end(ap);
    twin_buf_add(&b, what, strlen(what));
    free(what);
    if (d->path) {
        twin_buf_add(&b, " (at ", 5);
        path_render(d->path, &b);
        twin_buf_add(&b, ")", 1);
    }
    snprintf(d->err, d->errlen, "%s", b.s);
    twin_buf_free(&b);
    return -1;
}

static int read_varint(pb_in *in, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (in->p >= in->end)
            return -1;
        unsigned c = *in->p++;
        if (i == 9 && c > 1)   /* more than 64 bits */
            return -1;
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* The next field's number and wire type. */
static int read_key(pb_dec *d, const pb_msg *m, pb_in *in, uint32_t *num, int *wt)
{
    uint64_t key;
    if (read_varint(in, &key) < 0)
        return fail(d, "%s: malformed or truncated field key", m->name);
    if (key >> 3 == 0 || key >> 3 > 536870911)
        return fail(d, "%s: field number %" PRIu64 " out of range", m->name, key >> 3);
    *num = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    return 0;
}

static const pb_field *find_field(const pb_msg *m, uint32_t num)
{
    for (size_t i = 0; i < m->nfields; i++)
        if (m->fields[i].num == num)
            return &m->fields[i];
    return NULL;
}

static int is_varint_type(int type) { return type == PB_BOOL || type == PB_INT32 || type == PB_INT64; }

/* Checks the wire type f allows and reads the value. */
static int read_value(pb_dec *d, const pb_msg *m, const pb_field *f, pb_in *in, int wt, pb_val *v)
{
    int want = is_varint_type(f->type) && !(f->flags & PB_MAP) ? 0 : 2;
    /* repeated scalars may come packed, in one length-delimited field */
    if (wt != want && !(wt == 2 && want == 0 && (f->flags & PB_REPEATED)))
        return fail(d, "%s field %" PRIu32 " (%s): wire type %d, want %d", m->name, f->num, f->json, wt, want);
    v->wt = wt;
    if (wt == 0) {
        if (read_varint(in, &v->u) < 0)
            return fail(d, "%s field %" PRIu32 " (%s): malformed or truncated varint", m->name, f->num, f->json);
        return 0;
    }
    uint64_t n;
    if (read_varint(in, &n) < 0 || n > (uint64_t)(in->end - in->p))
        return fail(d, "%s field %" PRIu32 " (%s): malformed length or truncated value", m->name, f->num, f->json);
    v->s = in->p;
    v->n = (size_t)n;
    in->p += n;
    return 0;
}

/* 0 if s[0..n) is UTF-8 as Go's utf8.Valid has it (no overlong forms, no
 * surrogates, nothing past U+10FFFF) and holds no NUL: a JSON body with
 * \u0000 is refused by the gate's JSON reader too, and a NUL would cut the
 * string short for C code reading it. -1 invalid, -2 NUL. */
static int check_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c == 0)
            return -2;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if (c >= 0xc2 && c <= 0xdf)
            len = 2, cp = c & 0x1f, min = 0x80;
        else if (c >= 0xe0 && c <= 0xef)
            len = 3, cp = c & 0x0f, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4, cp = c & 0x07, min = 0x10000;
        else
            return -1;
        if (n - i < len)
            return -1;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return -1;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        i += len;
    }
    return 0;
}

static json_t *base64(const unsigned char *s, size_t n)
{
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    twin_buf b = {0};
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
        char q[4] = {T[v >> 18 & 63], T[v >> 12 & 63], i + 1 < n ? T[v >> 6 & 63] : '=', i + 2 < n ? T[v & 63] : '='};
        twin_buf_add(&b, q, 4);
    }
    json_t *j = json_stringn(b.s ? b.s : "", b.len);
    twin_buf_free(&b);
    return j;
}

/* A checked string of field f of m, as a new JSON string. */
static int string_value(pb_dec *d, const pb_msg *m, const pb_field *f, const unsigned char *s, size_t n, json_t **out)
{
    int rc = check_utf8(s, n);
    if (rc == -1)
        return fail(d, "%s field %" PRIu32 " (%s): not valid UTF-8", m->name, f->num, f->json);
    if (rc == -2)
        return fail(d, "%s field %" PRIu32 " (%s): a NUL byte in a string", m->name, f->num, f->json);
    *out = json_stringn((const char *)s, n);
    return 0;
}

/* A scalar of field f: a new JSON value in *out, or NULL to leave out (an
 * empty string or bytes when !keep_empty). */
static int scalar_value(pb_dec *d, const pb_msg *m, const pb_field *f, const pb_val *v, int keep_empty, json_t **out)
{
    *out = NULL;
    switch (f->type) {
    case PB_STRING:
        if (v->n == 0 && !keep_empty)
            return 0;
        return string_value(d, m, f, v->s, v->n, out);
    case PB_BYTES:
        if (v->n == 0 && !keep_empty)
            return 0;
        *out = base64(v->s, v->n);
        return 0;
    case PB_BOOL:
        if (v->u > 1)
            return fail(d, "%s field %" PRIu32 " (%s): bool %" PRIu64 " is neither 0 nor 1", m->name, f->num, f->json,
                        v->u);
        *out = json_boolean(v->u);
        return 0;
    case PB_INT32: {
        int64_t x = (int64_t)v->u;   /* a negative int32 is sign-extended to 64 bits */
        if (x < INT32_MIN || x > INT32_MAX)
            return fail(d, "%s field %" PRIu32 " (%s): %" PRId64 " is out of int32 range", m->name, f->num, f->json, x);
        *out = json_integer((json_int_t)x);
        return 0;
    }
    case PB_INT64:
        *out = json_integer((json_int_t)(int64_t)v->u);
        return 0;
    }
    return fail(d, "%s field %" PRIu32 " (%s): type %d is not decoded", m->name, f->num, f->json, f->type);
}

/* Sets obj[name] to the new value j; a name already there (two fields with
 * one JSON name, through an inline struct) is refused. */
static int put(pb_dec *d, const pb_msg *m, const pb_field *f, json_t *obj, const char *name, json_t *j)
{
    if (json_object_get(obj, name)) {
        json_decref(j);
        return fail(d, "%s field %" PRIu32 " (%s): JSON member %s given twice", m->name, f->num, f->json, name);
    }
    json_object_set_new(obj, name, j);
    return 0;
}

static int decode_fields(pb_dec *d, const pb_msg *m, pb_in in, int depth, json_t *obj);

/* A message's JSON value: a new value in *out, or NULL to leave the field
 * out (Go's null: the zero Time, a RawExtension without raw). depth is the
 * message's own. */
static int message_value(pb_dec *d, const pb_msg *m, const unsigned char *s, size_t n, int depth, json_t **out);

/* Reads a message whose fields are all singular (a special type, a map
 * entry, the envelope) into vals, indexed like m->fields; present[i] says
 * which came.  Unknown numbers, wrong wire types and repeats are refused. */
static int special_fields(pb_dec *d, const pb_msg *m, pb_in in, pb_val *vals, int *present)
{
    for (size_t i = 0; i < m->nfields; i++)
        present[i] = 0;
    while (in.p < in.end) {
        uint32_t num;
        int wt;
        if (read_key(d, m, &in, &num, &wt) < 0)
            return -1;
        const pb_field *f = find_field(m, num);
        if (!f)
            return fail(d, "%s has no field %" PRIu32, m->name, num);
        size_t i = (size_t)(f - m->fields);
        if (read_value(d, m, f, &in, wt, &vals[i]) < 0)
            return -1;
        if (present[i]++)
            return fail(d, "%s field %" PRIu32 " (%s) given twice", m->name, f->num, f->json);
    }
    return 0;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * civil_from_days). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *mo, unsigned *dd)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *dd = doy - (153 * mp + 2) / 5 + 1;
    *mo = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*mo <= 2);
}

/* Time {1 seconds, 2 nanos} and MicroTime: RFC 3339 in UTC as metav1's
 * MarshalJSON writes it.  Time drops the nanos as metav1.Time's Unmarshal
 * does (seconds only); MicroTime keeps microseconds. */
static int time_value(pb_dec *d, const pb_msg *m, pb_in in, json_t **out)
{
    enum { ZERO = -62135596800LL, MAX = 253402300799LL };   /* 0001-01-01T00:00:00Z, 9999-12-31T23:59:59Z */
    pb_val v[2];
    int present[2];
    if (m->nfields != 2 || special_fields(d, m, in, v, present) < 0)
        return -1;
    int64_t secs = present[0] ? (int64_t)v[0].u : 0, nanos = present[1] ? (int64_t)v[1].u : 0;
    if (nanos < 0 || nanos > 999999999)
        return fail(d, "%s field 2 (nanos): %" PRId64 " is out of range", m->name, nanos);
    if (m->kind == PB_K_TIME)
        nanos = 0;
    if (secs == ZERO && nanos == 0)
        return 0;   /* the zero time: null in Go's JSON */
    if (secs < ZERO || secs > MAX)
        return fail(d, "%s field 1 (seconds): %" PRId64 " is outside years 1 to 9999", m->name, secs);
    int64_t days = (secs >= 0 ? secs : secs - 86399) / 86400, rem = secs - days * 86400, y;
    unsigned mo, dd;
    civil_from_days(days, &y, &mo, &dd);
    char buf[64];
    int hh = (int)(rem / 3600), mi = (int)(rem / 60 % 60), ss = (int)(rem % 60);
    if (m->kind == PB_K_MICROTIME)
        snprintf(buf, sizeof buf, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d.%06dZ", y, mo, dd, hh, mi, ss,
                 (int)(nanos / 1000));
    else
        snprintf(buf, sizeof buf, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02dZ", y, mo, dd, hh, mi, ss);
    *out = json_string(buf);
    return 0;
}

static int message_value(pb_dec *d, const pb_msg *m, const unsigned char *s, size_t n, int depth, json_t **out)
{
    *out = NULL;
    if (depth > PB_MAX_DEPTH)
        return fail(d, "%s: messages nested deeper than %d", m->name, PB_MAX_DEPTH);
    pb_in in = {s, s + n};
    pb_val v[3];
    int present[3];
    switch ((pb_kind)m->kind) {
    case PB_K_PLAIN: {
        json_t *obj = json_object();
        if (decode_fields(d, m, in, depth, obj) < 0) {
            json_decref(obj);
            return -1;
        }
        *out = obj;
        return 0;
    }
    case PB_K_QUANTITY:   /* {1 string}: Go's Unmarshal parses it, "" or none is an error there */
        if (m->nfields != 1 || special_fields(d, m, in, v, present) < 0)
            return -1;
        if (!present[0] || v[0].n == 0)
            return fail(d, "%s: no quantity string", m->name);
        return string_value(d, m, &m->fields[0], v[0].s, v[0].n, out);
    case PB_K_INTORSTRING: {   /* {1 type, 2 intVal, 3 strVal} */
        if (m->nfields != 3 || special_fields(d, m, in, v, present) < 0)
            return -1;
        uint64_t type = present[0] ? v[0].u : 0;
        if (type == 1 && !present[2]) {
            *out = json_string("");
            return 0;
        }
        if (type == 1)
            return string_value(d, m, &m->fields[2], v[2].s, v[2].n, out);
        if (type != 0)
            return fail(d, "%s field 1 (type): %" PRId64 " is neither 0 (int) nor 1 (string)", m->name,
                        (int64_t)type);
        pb_val iv = {0, present[1] ? v[1].u : 0, NULL, 0};
        return scalar_value(d, m, &m->fields[1], &iv, 1, out);
    }
    case PB_K_TIME:
    case PB_K_MICROTIME:
        if (n == 0)
            return 0;   /* metav1.Time's Unmarshal: no bytes, the zero time */
        return time_value(d, m, in, out);
    case PB_K_RAWJSON: {   /* {1 raw}: Go's MarshalJSON writes raw as it is, so it must be JSON */
        if (m->nfields != 1 || special_fields(d, m, in, v, present) < 0)
            return -1;
        if (!present[0])
            return 0;   /* Raw nil: null */
        json_error_t je;
        *out = json_loadb((const char *)v[0].s, v[0].n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
        if (!*out)
            return fail(d, "%s field 1 (%s): not JSON: %s", m->name, m->fields[0].json, je.text);
        return 0;
    }
    case PB_K_VERBS: {   /* {repeated items}: the array itself */
        json_t *obj = json_object();
        if (decode_fields(d, m, in, depth, obj) < 0) {
            json_decref(obj);
            return -1;
        }
        json_t *items = json_object_get(obj, "items");
        *out = items ? json_incref(items) : json_array();
        json_decref(obj);
        return 0;
    }
    case PB_K_REFUSED:
        break;
    }
    return fail(d, "%s has a JSON form of its own that this decoder does not reproduce", m->name);
}

/* A map entry {1 key, 2 value} of field f into the object map. */
static int map_entry(pb_dec *d, const pb_msg *m, const pb_field *f, const pb_val *ev, int depth, json_t *map)
{
    if (depth > PB_MAX_DEPTH)
        return fail(d, "%s field %" PRIu32 " (%s): messages nested deeper than %d", m->name, f->num, f->json,
                    PB_MAX_DEPTH);
    /* the entry as a message of its own, for the errors */
    char ename[256];
    snprintf(ename, sizeof ename, "%s.%s map entry", m->name, f->json);
    pb_field ef[2] = {{1, "key", PB_STRING, 0, 0, NULL}, {2, "value", f->type, 0, f->msg, NULL}};
    const pb_msg em = {ename, PB_K_PLAIN, 2, ef, NULL};
    pb_in in = {ev->s, ev->s + ev->n};
    pb_val v[2];
    int present[2];
    if (special_fields(d, &em, in, v, present) < 0)
        return -1;
    json_t *key = NULL, *val = NULL;
    if (present[0] && string_value(d, &em, &ef[0], v[0].s, v[0].n, &key) < 0)
        return -1;
    const char *k = key ? json_string_value(key) : "";
    if (json_object_get(map, k)) {
        fail(d, "%s field %" PRIu32 " (%s): map key \"%s\" given twice", m->name, f->num, f->json, k);
        json_decref(key);
        return -1;
    }
    pb_path here = {d->path, k, 0};
    const pb_path *saved = d->path;
    d->path = &here;
    int rc = 0;
    if (!present[1] && f->type == PB_MESSAGE)
        rc = fail(d, "%s: no value", ename);
    else if (!present[1])
        val = json_string("");   /* protobuf's default: "" or no bytes */
    else if (f->type == PB_MESSAGE) {
        rc = message_value(d, &pb_msgs[f->msg], v[1].s, v[1].n, depth + 1, &val);
        if (rc == 0 && !val)
            val = json_null();
    } else
        rc = scalar_value(d, &em, &ef[1], &v[1], 1, &val);
    d->path = saved;
    if (rc == 0)
        json_object_set_new(map, k, val);
    json_decref(key);
    return rc;
}

/* obj[f->json], made an array or object on first use. Borrowed. */
static json_t *container(json_t *obj, const pb_field *f)
{
    json_t *c = json_object_get(obj, f->json);
    if (!c) {
        c = (f->flags & PB_MAP) ? json_object() : json_array();
        json_object_set_new(obj, f->json, c);
    }
    return c;
}

/* One element of a repeated field onto arr. */
static int append(pb_dec *d, const pb_msg *m, const pb_field *f, const pb_val *v, int depth, json_t *arr)
{
    pb_path here = {d->path, NULL, json_array_size(arr)};
    const pb_path *saved = d->path;
    d->path = &here;
    json_t *j = NULL;
    int rc;
    if (f->type == PB_MESSAGE) {
        rc = message_value(d, &pb_msgs[f->msg], v->s, v->n, depth + 1, &j);
        if (rc == 0 && !j)
            j = json_null();
    } else {
        rc = scalar_value(d, m, f, v, 1, &j);
    }
    d->path = saved;
    if (rc == 0)
        json_array_append_new(arr, j);
    return rc;
}

/* One occurrence of a repeated field onto arr: one element, or all the
 * elements of a packed run of varints. */
static int repeated(pb_dec *d, const pb_msg *m, const pb_field *f, const pb_val *v, int depth, json_t *arr)
{
    if (f->type == PB_MESSAGE || !is_varint_type(f->type) || v->wt == 0)
        return append(d, m, f, v, depth, arr);
    pb_in packed = {v->s, v->s + v->n};
    while (packed.p < packed.end) {
        pb_val one = {0, 0, NULL, 0};
        if (read_varint(&packed, &one.u) < 0)
            return fail(d, "%s field %" PRIu32 " (%s): malformed packed varint", m->name, f->num, f->json);
        if (append(d, m, f, &one, depth, arr) < 0)
            return -1;
    }
    return 0;
}

/* One field's value into obj. */
static int field_value(pb_dec *d, const pb_msg *m, const pb_field *f, const pb_val *v, int depth, json_t *obj)
{
    if (f->flags & (PB_MAP | PB_REPEATED)) {
        pb_path here = {d->path, f->json, 0};
        const pb_path *saved = d->path;
        d->path = &here;
        int rc = (f->flags & PB_MAP) ? map_entry(d, m, f, v, depth + 1, container(obj, f))
                                     : repeated(d, m, f, v, depth, container(obj, f));
        d->path = saved;
        return rc;
    }
    json_t *j = NULL;
    if (f->type != PB_MESSAGE) {
        if (scalar_value(d, m, f, v, f->flags & PB_KEEP_EMPTY, &j) < 0)
            return -1;
        return j ? put(d, m, f, obj, f->json, j) : 0;
    }
    const pb_msg *sub = &pb_msgs[f->msg];
    if (f->flags & PB_INLINE) {   /* the members go into obj itself */
        if (depth + 1 > PB_MAX_DEPTH)
            return fail(d, "%s: messages nested deeper than %d", sub->name, PB_MAX_DEPTH);
        pb_in in = {v->s, v->s + v->n};
        return decode_fields(d, sub, in, depth + 1, obj);
    }
    pb_path here = {d->path, f->json, 0};
    const pb_path *saved = d->path;
    d->path = &here;
    int rc = message_value(d, sub, v->s, v->n, depth + 1, &j);
    d->path = saved;
    if (rc < 0)
        return -1;
    return j ? put(d, m, f, obj, f->json, j) : 0;
}

/* The fields of plain message m, from in, as members of obj. */
static int decode_fields(pb_dec *d, const pb_msg *m, pb_in in, int depth, json_t *obj)
{
    unsigned char seen[PB_MAX_FIELDS] = {0};
    while (in.p < in.end) {
        uint32_t num;
        int wt;
        pb_val v;
        if (read_key(d, m, &in, &num, &wt) < 0)
            return -1;
        const pb_field *f = find_field(m, num);
        if (!f)
            return fail(d, "%s has no field %" PRIu32, m->name, num);
        if (read_value(d, m, f, &in, wt, &v) < 0)
            return -1;
        if (!(f->flags & (PB_REPEATED | PB_MAP)) && seen[f - m->fields]++)
            return fail(d, "%s field %" PRIu32 " (%s) given twice", m->name, f->num, f->json);
        if (field_value(d, m, f, &v, depth, obj) < 0)
            return -1;
    }
    return 0;
}

/* The envelope's string field i ("" when absent), checked. Borrowed into
 * a new JSON string or NULL. */
static int envelope_string(pb_dec *d, const pb_msg *m, const pb_val *v, const int *present, size_t i, json_t **out)
{
    *out = NULL;
    if (!present[i])
        return 0;
    return string_value(d, m, &m->fields[i], v[i].s, v[i].n, out);
}

/* The table root of kind of api_version if it is accepted, else NULL. */
static const pb_root *accepted_root(const char *api_version, const char *kind)
{
    for (size_t i = 0; i < sizeof ACCEPTED / sizeof ACCEPTED[0]; i++) {
        if (strcmp(api_version, ACCEPTED[i].api_version))
            continue;
        for (size_t k = 0; k < PB_MAX_KINDS && ACCEPTED[i].kinds[k]; k++) {
            if (strcmp(kind, ACCEPTED[i].kinds[k]))
                continue;
            for (size_t r = 0; r < sizeof pb_roots / sizeof pb_roots[0]; r++)
                if (!strcmp(api_version, pb_roots[r].api_version) && !strcmp(kind, pb_roots[r].kind))
                    return &pb_roots[r];
        }
    }
    return NULL;
}

/* -1 after saying which bodies are decoded, in general terms (the group
 * versions of ACCEPTED), and which kind was sent. */
static int refuse_kind(pb_dec *d, const char *api_version, const char *kind)
{
    size_t n = sizeof ACCEPTED / sizeof ACCEPTED[0];
    twin_buf groups = {0};
    for (size_t i = 0; i < n; i++)
        twin_buf_addf(&groups, "%s%s", i == 0 ? "" : i + 1 == n ? " and " : ", ",
                      strcmp(ACCEPTED[i].api_version, "v1") ? ACCEPTED[i].api_version : "core/v1");
    fail(d,
         "bodies are decoded for the common built-in kinds of %s (objects, an Eviction, a Scale, a "
         "TokenRequest, the self reviews, a DELETE's DeleteOptions), not %.100s %.100s: send JSON",
         groups.s, *api_version ? api_version : "(no apiVersion)", *kind ? kind : "(no kind)");
    twin_buf_free(&groups);
    return -1;
}

int gate_protobuf_decode(const unsigned char *buf, size_t len, json_t **out, char *err, size_t errlen)
{
    pb_dec d = {err, errlen, NULL};
    if (len < 4 || memcmp(buf, "k8s\0", 4)) {
        snprintf(err, errlen, "not a Kubernetes protobuf body (no k8s envelope)");
        return -1;
    }
    pb_val env[4], tm[2];
    int envp[4], tmp[2];
    pb_in in = {buf + 4, buf + len};
    if (special_fields(&d, &UNKNOWN, in, env, envp) < 0)
        return -1;
    if ((envp[2] && env[2].n) || (envp[3] && env[3].n))
        return fail(&d, "%s field %d (%s) is not empty: only a plain object is decoded", UNKNOWN.name,
                    envp[2] && env[2].n ? 3 : 4, envp[2] && env[2].n ? "contentEncoding" : "contentType");
    json_t *av = NULL, *kind = NULL;
    if (envp[0]) {
        pb_in t = {env[0].s, env[0].s + env[0].n};
        if (special_fields(&d, &TYPEMETA, t, tm, tmp) < 0 || envelope_string(&d, &TYPEMETA, tm, tmp, 0, &av) < 0)
            return -1;
        if (envelope_string(&d, &TYPEMETA, tm, tmp, 1, &kind) < 0) {
            json_decref(av);
            return -1;
        }
    }
    const char *avs = av ? json_string_value(av) : "", *ks = kind ? json_string_value(kind) : "";
    const pb_root *root = accepted_root(avs, ks);
    if (!root) {
        refuse_kind(&d, avs, ks);
        json_decref(av);
        json_decref(kind);
        return -1;
    }
    if (!strcmp(ks, "DeleteOptions")) {
        json_decref(av);
        av = json_string(DELETE_OPTIONS_VERSION);
    }
    const pb_msg *m = &pb_msgs[root->msg];
    json_t *obj = json_object();
    json_object_set_new(obj, "apiVersion", av);
    json_object_set_new(obj, "kind", kind);
    pb_in raw = {envp[1] ? env[1].s : NULL, envp[1] ? env[1].s + env[1].n : NULL};
    if (!envp[1]) {
        json_decref(obj);
        return fail(&d, "%s has no field 2 (raw): no object", UNKNOWN.name);
    }
    if (decode_fields(&d, m, raw, 1, obj) < 0) {
        json_decref(obj);
        return -1;
    }
    *out = obj;
    return 0;
}

/* ---- the same tables check a JSON body ----
 *
 * What the API server's JSON decoder refuses for a built-in kind: a member
 * whose value has the wrong JSON type (400 whatever fieldValidation says),
 * and, with fieldValidation=Strict, a member it does not know.  Without
 * Strict an unknown member is dropped, as Go's decoder drops it, so that the
 * twin and production hold the same object.  Simplified: apiVersion and kind
 * are allowed in any object (TypeMeta is inlined into every object kind,
 * a claim template in a StatefulSet for one, and the tables do not carry
 * it); integers are checked for being integers, not for their range. */

typedef struct pb_chk {
    int strict;
    const char *kind;   /* the root kind: Go names a field KIND.path */
    twin_buf path;
    char *err;
    size_t errlen;
} pb_chk;

static const char *json_type_of(const json_t *v)
{
    return json_is_object(v) ? "object" : json_is_array(v) ? "array" : json_is_string(v) ? "string"
         : json_is_number(v) ? "number" : json_is_boolean(v) ? "bool" : "null";
}

/* The Go type a field holds, as the decoder's message names it. */
static void go_type(const pb_field *f, int element, char *out, size_t n)
{
    const char *t = f->type == PB_STRING ? "string" : f->type == PB_BYTES ? "[]uint8" : f->type == PB_BOOL ? "bool"
                  : f->type == PB_INT32  ? "int32"  : f->type == PB_INT64 ? "int64" : NULL;
    char msg[128] = "";
    if (!t) {   /* io.k8s.api.core.v1.PodSpec -> v1.PodSpec */
        const char *name = pb_msgs[f->msg].name, *dot = strrchr(name, '.');
        while (dot && dot > name && dot[-1] != '.')   /* back over the version: "v1.PodSpec" */
            dot--;
        snprintf(msg, sizeof msg, "%s", dot ? dot : name);
        t = msg;
    }
    snprintf(out, n, "%s%s", element ? "" : f->flags & PB_REPEATED ? "[]" : f->flags & PB_MAP ? "map[string]" : "", t);
}

/* The API server's decoder error for v in f ("json: cannot unmarshal ..."). */
static int chk_type(pb_chk *c, const pb_field *f, const json_t *v, int element)
{
    char t[160];
    go_type(f, element, t, sizeof t);
    snprintf(c->err, c->errlen, "json: cannot unmarshal %s into Go struct field %s.%s of type %s", json_type_of(v),
             c->kind, c->path.s ? c->path.s : "", t);
    return -1;
}

static int chk_message(pb_chk *c, const pb_msg *m, json_t *obj, int depth);

/* The field named key in m, or in a message m inlines. */
static const pb_field *field_named(const pb_msg *m, const char *key, int depth)
{
    for (size_t i = 0; i < m->nfields; i++) {
        const pb_field *f = &m->fields[i];
        if (f->flags & PB_INLINE) {
            if (depth < PB_MAX_DEPTH && f->type == PB_MESSAGE) {
                const pb_field *g = field_named(&pb_msgs[f->msg], key, depth + 1);
                if (g)
                    return g;
            }
        } else if (!strcmp(f->json, key)) {
            return f;
        }
    }
    return NULL;
}

/* One value of f's type (an element, for a list or a map). */
static int chk_value(pb_chk *c, const pb_field *f, json_t *v, int depth)
{
    if (json_is_null(v))
        return 0;   /* Go reads null as the zero value */
    switch (f->type) {
    case PB_STRING:
    case PB_BYTES:
        return json_is_string(v) ? 0 : chk_type(c, f, v, 1);
    case PB_BOOL:
        return json_is_boolean(v) ? 0 : chk_type(c, f, v, 1);
    case PB_INT32:
    case PB_INT64:
        return json_is_integer(v) ? 0 : chk_type(c, f, v, 1);
    default:
        break;
    }
    const pb_msg *m = &pb_msgs[f->msg];
    switch (m->kind) {
    case PB_K_PLAIN:
        if (!json_is_object(v))
            return chk_type(c, f, v, 1);
        return chk_message(c, m, v, depth + 1);
    case PB_K_QUANTITY:
        return json_is_string(v) || json_is_number(v) ? 0 : chk_type(c, f, v, 1);
    case PB_K_INTORSTRING:
        return json_is_string(v) || json_is_integer(v) ? 0 : chk_type(c, f, v, 1);
    case PB_K_TIME:
    case PB_K_MICROTIME:
        return json_is_string(v) ? 0 : chk_type(c, f, v, 1);
    case PB_K_VERBS: {
        if (!json_is_array(v))
            return chk_type(c, f, v, 1);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (!json_is_string(x)) return chk_type(c, f, x, 1);
        return 0;
    }
    default:
        return 0;   /* raw JSON (RawExtension, FieldsV1): any value */
    }
}

static void path_cut(pb_chk *c, size_t len)
{
    c->path.len = len;
    if (c->path.s)
        c->path.s[len] = '\0';
}

static int chk_field(pb_chk *c, const pb_field *f, json_t *v, int depth)
{
    if (json_is_null(v))
        return 0;
    if (!(f->flags & (PB_REPEATED | PB_MAP)))
        return chk_value(c, f, v, depth);
    int list = f->flags & PB_REPEATED;
    if (list ? !json_is_array(v) : !json_is_object(v))
        return chk_type(c, f, v, 0);
    /* each element, named by its index or its key */
    size_t len = c->path.len;
    void *it = list ? NULL : json_object_iter(v);
    for (size_t i = 0; list ? i < json_array_size(v) : it != NULL; i++) {
        json_t *x;
        if (list) {
            x = json_array_get(v, i);
            twin_buf_addf(&c->path, "[%zu]", i);
        } else {
            x = json_object_iter_value(it);
            twin_buf_addf(&c->path, "[%s]", json_object_iter_key(it));
            it = json_object_iter_next(v, it);
        }
        int rc = chk_value(c, f, x, depth);
        path_cut(c, len);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int chk_message(pb_chk *c, const pb_msg *m, json_t *obj, int depth)
{
    if (depth > PB_MAX_DEPTH) {
        snprintf(c->err, c->errlen, "%s: nested too deeply", c->path.s ? c->path.s : "");
        return -1;
    }
    size_t len = c->path.len;
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(obj, tmp, k, v) {
        if ((!strcmp(k, "apiVersion") || !strcmp(k, "kind")) && json_is_string(v))
            continue;
        twin_buf_addf(&c->path, "%s%s", len ? "." : "", k);
        const pb_field *f = field_named(m, k, 0);
        int rc = 0;
        if (!f && c->strict) {
            snprintf(c->err, c->errlen, "strict decoding error: unknown field \"%s\"", c->path.s);
            rc = -1;
        } else if (!f) {
            json_object_del(obj, k);   /* Go's decoder drops it */
        } else {
            rc = chk_field(c, f, v, depth);
        }
        path_cut(c, len);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int gate_protobuf_check_json(json_t *obj, const char *api_version, const char *kind_of, int strict, char *err,
                             size_t errlen)
{
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (!av && !kind) {   /* the API server takes them from the URL */
        av = api_version;
        kind = kind_of;
    }
    if (!json_is_object(obj) || !av || !kind)
        return 0;
    const pb_root *root = NULL;
    for (size_t r = 0; r < sizeof pb_roots / sizeof pb_roots[0]; r++)
        if (!strcmp(av, pb_roots[r].api_version) && !strcmp(kind, pb_roots[r].kind))
            root = &pb_roots[r];
    if (!root || !strcmp(kind, "DeleteOptions"))
        return 0;   /* a kind the tables do not have: the twin's own checks only */
    pb_chk c = {.strict = strict, .kind = kind, .err = err, .errlen = errlen};
    int rc = chk_message(&c, &pb_msgs[root->msg], obj, 0);
    twin_buf_free(&c.path);
    return rc;
}

/* ---- the same tables as OpenAPI v3 schemas (kubectl explain) ----
 *
 * Every message reachable from the group version's kinds, named as the
 * API server's OpenAPI names them (io.k8s.api.apps.v1.DeploymentSpec), with
 * each field's type, $ref or items and the descriptions of the messages and
 * fields (what kubectl explain prints: the generated.proto comments, which
 * protogen.py copies into the tables); the kinds carry apiVersion, kind and
 * x-kubernetes-group-version-kind.  Simplified: no required lists, and a
 * field of a special type (Quantity, Time, IntOrString, ...) is its JSON
 * form in place rather than a $ref. */

static json_t *schema_value(const pb_field *f, json_t *all, int depth);

static void schema_add(const pb_msg *m, json_t *all, int depth);

static json_t *schema_scalar(const pb_field *f, json_t *all, int depth)
{
    switch (f->type) {
    case PB_STRING:
        return json_pack("{s:s}", "type", "string");
    case PB_BYTES:
        return json_pack("{s:s, s:s}", "type", "string", "format", "byte");
    case PB_BOOL:
        return json_pack("{s:s}", "type", "boolean");
    case PB_INT32:
        return json_pack("{s:s, s:s}", "type", "integer", "format", "int32");
    case PB_INT64:
        return json_pack("{s:s, s:s}", "type", "integer", "format", "int64");
    default:
        break;
    }
    const pb_msg *m = &pb_msgs[f->msg];
    switch (m->kind) {
    case PB_K_QUANTITY:
        return json_pack("{s:s, s:b}", "type", "string", "x-kubernetes-int-or-string", 1);
    case PB_K_INTORSTRING:
        return json_pack("{s:b}", "x-kubernetes-int-or-string", 1);
    case PB_K_TIME:
    case PB_K_MICROTIME:
        return json_pack("{s:s, s:s}", "type", "string", "format", "date-time");
    case PB_K_VERBS:
        return json_pack("{s:s, s:{s:s}}", "type", "array", "items", "type", "string");
    case PB_K_PLAIN:
        schema_add(m, all, depth + 1);
        {
            char *ref = twin_xasprintf("#/components/schemas/%s", m->name);
            json_t *r = json_pack("{s:[{s:s}]}", "allOf", "$ref", ref);
            free(ref);
            return r;
        }
    default:
        return json_pack("{s:s, s:b}", "type", "object", "x-kubernetes-preserve-unknown-fields", 1);
    }
}

/* The description, when there is one, beside the type: for a $ref
 * {"allOf": [{"$ref": ...}], "description": ...}, as the API server writes
 * it (a $ref's siblings are ignored in OpenAPI 3.0). */
static json_t *schema_value(const pb_field *f, json_t *all, int depth)
{
    json_t *v = schema_scalar(f, all, depth);
    if (f->flags & PB_REPEATED)
        v = json_pack("{s:s, s:o}", "type", "array", "items", v);
    else if (f->flags & PB_MAP)
        v = json_pack("{s:s, s:o}", "type", "object", "additionalProperties", v);
    if (f->desc)
        json_object_set_new(v, "description", json_string(f->desc));
    return v;
}

/* m's fields into props (an inlined message's into its parent's). */
static void schema_props(const pb_msg *m, json_t *props, json_t *all, int depth)
{
    for (size_t i = 0; i < m->nfields; i++) {
        const pb_field *f = &m->fields[i];
        if ((f->flags & PB_INLINE) && f->type == PB_MESSAGE) {
            if (depth < PB_MAX_DEPTH)
                schema_props(&pb_msgs[f->msg], props, all, depth + 1);
            continue;
        }
        json_object_set_new(props, f->json, schema_value(f, all, depth));
    }
}

static void schema_add(const pb_msg *m, json_t *all, int depth)
{
    if (json_object_get(all, m->name) || depth > PB_MAX_DEPTH)
        return;
    json_t *s = json_pack("{s:s, s:{}}", "type", "object", "properties");
    if (m->desc)
        json_object_set_new(s, "description", json_string(m->desc));
    json_object_set_new(all, m->name, s);   /* before the fields: a message may reach itself */
    schema_props(m, json_object_get(s, "properties"), all, depth);
}

json_t *gate_protobuf_schemas(const char *group, const char *version)
{
    char *gv = *group ? twin_xasprintf("%s/%s", group, version) : twin_xstrdup(version);
    json_t *all = json_object();
    for (size_t r = 0; r < sizeof pb_roots / sizeof pb_roots[0]; r++) {
        if (strcmp(pb_roots[r].api_version, gv) || !strcmp(pb_roots[r].kind, "DeleteOptions"))
            continue;
        const pb_msg *m = &pb_msgs[pb_roots[r].msg];
        schema_add(m, all, 0);
        json_t *s = json_object_get(all, m->name);
        json_t *props = json_object_get(s, "properties");
        json_object_set_new(props, "apiVersion",
                            json_pack("{s:s, s:s}", "type", "string", "description", pb_desc_api_version));
        json_object_set_new(props, "kind", json_pack("{s:s, s:s}", "type", "string", "description", pb_desc_kind));
        json_object_set_new(s, "x-kubernetes-group-version-kind",
                            json_pack("[{s:s, s:s, s:s}]", "group", group, "version", version, "kind",
                                      pb_roots[r].kind));
    }
    free(gv);
    return all;
}
