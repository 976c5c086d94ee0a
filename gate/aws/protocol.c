/*
 * gate/aws/protocol.c - the AWS wire protocols of protocol.h, over the
 * tables tools/awsgen.py generates from botocore's models (model.inc).
 *
 * The rules mirror botocore/serialize.py (QuerySerializer, EC2Serializer,
 * RestXMLSerializer) and botocore/parsers.py (QueryParser, EC2QueryParser,
 * RestXMLParser); where this file names a botocore function, that function
 * is the reference.
 *
 * Sections: the tables; values (scalar text <-> JSON); the query and EC2
 * request parser and builder; XML writing and reading by shape; answers
 * (render and parse, ec2/query/s3); S3 requests.
 */
#include "gate/aws/protocol.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gate/aws/xml.h"

/* ---- the tables ---- */

enum { T_STRUCT = 1, T_LIST, T_MAP, T_STRING, T_INTEGER, T_LONG, T_BOOLEAN, T_DOUBLE, T_FLOAT, T_TIMESTAMP, T_BLOB };
enum { L_BODY, L_URI, L_QUERY, L_HEADER, L_HEADERS, L_STATUS };
enum {
    AWS_FLATTENED = 1,
    AWS_XMLATTR = 2,
    AWS_REQUIRED = 4,
    AWS_STREAMING = 8,
    AWS_TS_RFC822 = 16,
    AWS_TS_UNIX = 32,
    AWS_TS_ISO = 64,
};
enum { AWS_PROTO_EC2, AWS_PROTO_QUERY, AWS_PROTO_RESTXML };

typedef struct aws_shape {
    unsigned char type;
    unsigned short first, n;   /* its rows in aws_refs: members; list: 1; map: key, value */
    short payload;             /* structure: index of the payload member among its own, or -1 */
} aws_shape;

typedef struct aws_ref {
    const char *name;          /* member name (structures), NULL otherwise */
    const char *loc;           /* locationName, effective */
    const char *qname;         /* queryName (EC2) */
    const char *ns_uri, *ns_prefix;   /* xmlNamespace */
    unsigned short shape;
    unsigned char location, flags;
} aws_ref;

typedef struct aws_op {
    const char *name;
    int in, out;               /* rows of aws_refs, -1 for none */
    const char *wrapper;       /* query: the <OpResult> element */
    const char *method, *uri;
    int status;
    const char *root;          /* s3: the root element of a body without payload member */
} aws_op;

typedef struct aws_service {
    const char *name;
    int proto;
    const char *version, *xmlns;
    int first, n;
} aws_service;

#include "gate/aws/model.inc"

#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

static const aws_service *svc_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof aws_services / sizeof aws_services[0]; i++)
        if (!strcmp(aws_services[i].name, name))
            return &aws_services[i];
    return NULL;
}

static const aws_op *op_find(const aws_service *s, const char *name)
{
    for (int i = 0; s && name && i < s->n; i++)
        if (!strcmp(aws_ops[s->first + i].name, name))
            return &aws_ops[s->first + i];
    return NULL;
}

static const aws_shape *shape_of(const aws_ref *r)
{
    return &aws_shapes[r->shape];
}

static const aws_ref *member(const aws_shape *sh, size_t i)
{
    return &aws_refs[sh->first + i];
}

int gate_aws_known(const char *service, const char *operation)
{
    return op_find(svc_find(service), operation) != NULL;
}

const char *gate_aws_operation_folded(const char *service, const char *folded)
{
    const aws_service *s = svc_find(service);
    for (int i = 0; s && folded && i < s->n; i++)
        if (!strcasecmp(aws_ops[s->first + i].name, folded))
            return aws_ops[s->first + i].name;
    return NULL;
}

const char *gate_aws_protocol(const char *service)
{
    const aws_service *s = svc_find(service);
    static const char *const names[] = {"ec2", "query", "rest-xml"};
    return s ? names[s->proto] : NULL;
}

unsigned gate_aws_success_status(const char *service, const char *operation)
{
    const aws_op *op = op_find(svc_find(service), operation);
    return op ? (unsigned)op->status : 0;
}

static int bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return 400;
}

/* ---- values ---- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Decimal, '-' allowed, no '+', no leading zeros, no "-0". */
static int parse_int(const char *s, size_t n, long long lo, long long hi, long long *out)
{
    size_t i = 0;
    int neg = 0;
    if (n && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n || (s[i] == '0' && (n - i > 1 || neg)))
        return -1;
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        if (v > (9223372036854775808ULL - (unsigned)(s[i] - '0')) / 10)
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if ((!neg && v > 9223372036854775807ULL))
        return -1;
    long long r = neg ? (v == 9223372036854775808ULL ? (-9223372036854775807LL - 1) : -(long long)v) : (long long)v;
    if (r < lo || r > hi)
        return -1;
    *out = r;
    return 0;
}

static int parse_double(const char *s, size_t n, double *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]) && !strchr("+-.eE", s[i]))
            return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    double d = strtod(tmp, &end);
    if (*end || errno || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

static int two(const char *s)
{
    return is_digit(s[0]) && is_digit(s[1]) ? (s[0] - '0') * 10 + (s[1] - '0') : -1;
}

/* YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM) */
static int iso8601_ok(const char *s, size_t n)
{
    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return 0;
    for (int i = 0; i < 4; i++)
        if (!is_digit(s[i]))
            return 0;
    int mo = two(s + 5), d = two(s + 8), h = two(s + 11), mi = two(s + 14), se = two(s + 17);
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
        return 0;
    size_t i = 19;
    if (i < n && s[i] == '.') {
        size_t f = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == f || i - f > 9)
            return 0;
    }
    if (i + 1 == n && s[i] == 'Z')
        return 1;
    if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = two(s + i + 1), om = two(s + i + 4);
        return oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
    }
    return 0;
}

/* "Wed, 21 Oct 2015 07:28:00 GMT" */
static int rfc822_ok(const char *s, size_t n)
{
    static const char *const days = "Mon Tue Wed Thu Fri Sat Sun ";
    static const char *const months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec ";
    if (n != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':'
        || s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3))
        return 0;
    char w[5] = {s[0], s[1], s[2], ' ', 0}, m[5] = {s[8], s[9], s[10], ' ', 0};
    if (!strstr(days, w) || !strstr(months, m))
        return 0;
    int d = two(s + 5), h = two(s + 17), mi = two(s + 20), se = two(s + 23);
    for (int i = 12; i < 16; i++)
        if (!is_digit(s[i]))
            return 0;
    return d >= 1 && d <= 31 && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && se >= 0 && se <= 60;
}

static int b64_ok(const char *s, size_t n)
{
    if (n % 4)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '=') {
            /* padding only at the end: one or two */
            if (i < n - 2 || (i == n - 2 && s[n - 1] != '='))
                return 0;
            continue;
        }
        if (!isalnum((unsigned char)c) && c != '+' && c != '/')
            return 0;
    }
    return 1;
}

/* text[0..n) as a value of scalar shape sh: a new reference, or NULL with
 * err naming `what`.  ts_header: a timestamp in a header (RFC 822 unless the
 * member says ISO 8601). */
static json_t *scalar_from_text(const aws_ref *r, const char *what, const char *text, size_t n, int strict,
                                char *err, size_t errlen)
{
    const aws_shape *sh = shape_of(r);
    long long v;
    double d;
    if (memchr(text, '\0', n) || !twin_utf8_ok(text, n)) {
        bad(err, errlen, "%s: not valid UTF-8 text", what);
        return NULL;
    }
    switch (sh->type) {
    case T_STRING:
        return json_stringn(text, n);
    case T_INTEGER:
    case T_LONG:
        if (parse_int(text, n, sh->type == T_INTEGER ? -2147483648LL : (-9223372036854775807LL - 1),
                      sh->type == T_INTEGER ? 2147483647LL : 9223372036854775807LL, &v) < 0) {
            bad(err, errlen, "%s: '%.*s' is not %s", what, (int)(n > 64 ? 64 : n), text,
                sh->type == T_INTEGER ? "a 32-bit integer" : "a 64-bit integer");
            return NULL;
        }
        return json_integer(v);
    case T_BOOLEAN:
        if (n == 4 && !memcmp(text, "true", 4))
            return json_true();
        if (n == 5 && !memcmp(text, "false", 5))
            return json_false();
        bad(err, errlen, "%s: '%.*s' is not a boolean (true or false)", what, (int)(n > 64 ? 64 : n), text);
        return NULL;
    case T_DOUBLE:
    case T_FLOAT:
        if (parse_double(text, n, &d) < 0) {
            bad(err, errlen, "%s: '%.*s' is not a number", what, (int)(n > 64 ? 64 : n), text);
            return NULL;
        }
        return json_real(d);
    case T_TIMESTAMP: {
        int ok = (r->flags & AWS_TS_RFC822) || (r->location == L_HEADER && !(r->flags & AWS_TS_ISO))
                     ? rfc822_ok(text, n) || (!strict && iso8601_ok(text, n))
                     : iso8601_ok(text, n) || (!strict && rfc822_ok(text, n));
        if (!ok) {
            bad(err, errlen, "%s: '%.*s' is not a timestamp", what, (int)(n > 64 ? 64 : n), text);
            return NULL;
        }
        return json_stringn(text, n);
    }
    case T_BLOB:
        if (!b64_ok(text, n)) {
            bad(err, errlen, "%s: not base64", what);
            return NULL;
        }
        return json_stringn(text, n);
    default:
        bad(err, errlen, "%s: a value given where a %s is expected", what,
            sh->type == T_STRUCT ? "structure" : sh->type == T_LIST ? "list" : "map");
        return NULL;
    }
}

static void iso_from_epoch(double t, twin_buf *b)
{
    time_t s = (time_t)floor(t);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) {
        twin_buf_add(b, "1970-01-01T00:00:00Z", 20);
        return;
    }
    char tmp[40];
    strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
    twin_buf_addf(b, "%s.%03dZ", tmp, (int)((t - floor(t)) * 1000) % 1000);
}

/* The text of a scalar value v, appended to b: 0, or 400 with err when v
 * does not fit the shape. */
static int scalar_to_text(const aws_ref *r, const json_t *v, const char *what, twin_buf *b, char *err,
                          size_t errlen)
{
    const aws_shape *sh = shape_of(r);
    char tmp[64];
    switch (sh->type) {
    case T_STRING:
    case T_BLOB:
        if (!json_is_string(v))
            return bad(err, errlen, "%s: a string expected", what);
        if (sh->type == T_BLOB && !b64_ok(json_string_value(v), json_string_length(v)))
            return bad(err, errlen, "%s: not base64", what);
        if (memchr(json_string_value(v), '\0', json_string_length(v)))
            return bad(err, errlen, "%s: a NUL character", what);
        twin_buf_add(b, json_string_value(v), json_string_length(v));
        return 0;
    case T_INTEGER:
    case T_LONG:
        if (!json_is_integer(v))
            return bad(err, errlen, "%s: an integer expected", what);
        if (sh->type == T_INTEGER && (json_integer_value(v) < -2147483648LL || json_integer_value(v) > 2147483647LL))
            return bad(err, errlen, "%s: out of the 32-bit range", what);
        twin_buf_addf(b, "%lld", (long long)json_integer_value(v));
        return 0;
    case T_BOOLEAN:
        if (!json_is_boolean(v))
            return bad(err, errlen, "%s: a boolean expected", what);
        twin_buf_addf(b, "%s", json_is_true(v) ? "true" : "false");
        return 0;
    case T_DOUBLE:
    case T_FLOAT:
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return bad(err, errlen, "%s: a number expected", what);
        if (json_is_integer(v))
            snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
        else
            snprintf(tmp, sizeof tmp, "%.17g", json_real_value(v));
        twin_buf_addf(b, "%s", tmp);
        return 0;
    case T_TIMESTAMP:
        if (json_is_number(v)) {
            iso_from_epoch(json_number_value(v), b);
            return 0;
        }
        if (!json_is_string(v))
            return bad(err, errlen, "%s: a timestamp expected", what);
        if (!iso8601_ok(json_string_value(v), json_string_length(v))
            && !rfc822_ok(json_string_value(v), json_string_length(v)))
            return bad(err, errlen, "%s: '%s' is not a timestamp", what, json_string_value(v));
        twin_buf_add(b, json_string_value(v), json_string_length(v));
        return 0;
    default:
        return bad(err, errlen, "%s: not a scalar", what);
    }
}

static int is_scalar(const aws_shape *sh)
{
    return sh->type >= T_STRING;
}

/* ---- query and EC2 requests ---- */

typedef struct qparam {
    char *key, *val;
    size_t vlen;
    int used;
} qparam;

typedef struct qctx {
    qparam *p;
    size_t n;
    int ec2;
    char *err;
    size_t errlen;
} qctx;

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes s[0..n) ('+' is a space when plus) into a new string:
 * NULL when an escape is malformed or the result is not UTF-8 without NUL. */
static char *pct_decode(const char *s, size_t n, int plus, size_t *outlen)
{
    char *d = twin_xmalloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1, lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(d);
                return NULL;
            }
            d[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (s[i] == '+' && plus) {
            d[j++] = ' ';
        } else {
            d[j++] = s[i];
        }
    }
    d[j] = '\0';
    if (memchr(d, '\0', j) || !twin_utf8_ok(d, j)) {
        free(d);
        return NULL;
    }
    *outlen = j;
    return d;
}

static int qparam_cmp(const void *a, const void *b)
{
    return strcmp(((const qparam *)a)->key, ((const qparam *)b)->key);
}

static void q_free(qctx *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->p[i].key);
        free(q->p[i].val);
    }
    free(q->p);
}

/* The first index whose key is >= s. */
static size_t q_lower(const qctx *q, const char *s)
{
    size_t lo = 0, hi = q->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(q->p[mid].key, s) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static qparam *q_get(qctx *q, const char *key)
{
    size_t i = q_lower(q, key);
    return i < q->n && !strcmp(q->p[i].key, key) ? &q->p[i] : NULL;
}

static int q_has_prefix(const qctx *q, const char *prefix)
{
    size_t i = q_lower(q, prefix);
    return i < q->n && !strncmp(q->p[i].key, prefix, strlen(prefix));
}

/* The name a member has on the wire (QuerySerializer/EC2Serializer
 * _get_serialized_name); dflt when the model gives none. */
static const char *q_name(const aws_ref *r, int ec2, const char *dflt, char *tmp, size_t tmplen)
{
    if (ec2) {
        if (r->qname)
            return r->qname;
        if (r->loc) {
            snprintf(tmp, tmplen, "%s", r->loc);
            tmp[0] = (char)toupper((unsigned char)tmp[0]);
            return tmp;
        }
        return dflt;
    }
    return r->loc ? r->loc : dflt;
}

static char *join(const char *prefix, const char *name)
{
    return *prefix ? twin_xasprintf("%s.%s", prefix, name) : twin_xstrdup(name);
}

static int q_value(qctx *q, const aws_ref *r, const char *key, int depth, json_t **out);

/* After reading a list or map at prefix (its items are prefix.1, prefix.2,
 * ...), every parameter under prefix must name an index 1..count. */
static int q_check_indexes(qctx *q, const char *prefix, size_t count)
{
    char *pre = twin_xasprintf("%s.", prefix);
    size_t plen = strlen(pre);
    int rc = 0;
    for (size_t i = q_lower(q, pre); i < q->n && !strncmp(q->p[i].key, pre, plen); i++) {
        const char *c = q->p[i].key + plen;
        size_t n = strcspn(c, ".");
        long long idx;
        if (parse_int(c, n, 1, 1000000, &idx) < 0) {
            rc = bad(q->err, q->errlen, "parameter %s: '%.*s' is not a list index (1, 2, ...)", q->p[i].key, (int)n, c);
            break;
        }
        if ((size_t)idx > count) {
            rc = bad(q->err, q->errlen, "parameter %s: index %lld out of sequence (%s has %zu items from 1)",
                     q->p[i].key, idx, prefix, count);
            break;
        }
    }
    free(pre);
    return rc;
}

/* Whether anything is given for a value at key: the key itself or keys under it. */
static int q_present(qctx *q, const char *key)
{
    if (q_get(q, key))
        return 1;
    char *pre = twin_xasprintf("%s.", key);
    int has = q_has_prefix(q, pre);
    free(pre);
    return has;
}

static int q_struct(qctx *q, const aws_shape *sh, const char *prefix, int depth, json_t **out)
{
    json_t *obj = json_object();
    char tmp[256];
    for (size_t i = 0; i < sh->n; i++) {
        const aws_ref *m = member(sh, i);
        char *key = join(prefix, q_name(m, q->ec2, m->name, tmp, sizeof tmp));
        json_t *v = NULL;
        int rc = q_value(q, m, key, depth + 1, &v);
        free(key);
        if (rc) {
            json_decref(obj);
            return rc;
        }
        if (v)
            json_object_set_new(obj, m->name, v);
    }
    for (size_t i = 0; i < sh->n; i++) {
        const aws_ref *m = member(sh, i);
        if ((m->flags & AWS_REQUIRED) && !json_object_get(obj, m->name)) {
            char *key = join(prefix, q_name(m, q->ec2, m->name, tmp, sizeof tmp));
            int rc = bad(q->err, q->errlen, "parameter %s is required", key);
            free(key);
            json_decref(obj);
            return rc;
        }
    }
    *out = obj;
    return 0;
}

static int q_list(qctx *q, const aws_ref *r, const char *key, int depth, json_t **out)
{
    const aws_shape *sh = shape_of(r);
    const aws_ref *m = member(sh, 0);
    qparam *exact = q_get(q, key);
    char *lp;
    if (q->ec2) {
        lp = twin_xstrdup(key);
    } else if (r->flags & AWS_FLATTENED) {
        if (m->loc) {
            const char *dot = strrchr(key, '.');
            lp = dot ? twin_xasprintf("%.*s.%s", (int)(dot - key), key, m->loc) : twin_xstrdup(m->loc);
        } else {
            lp = twin_xstrdup(key);
        }
    } else {
        lp = twin_xasprintf("%s.%s", key, m->loc ? m->loc : "member");
    }
    json_t *arr = json_array();
    int rc = 0;
    for (size_t i = 1;; i++) {
        char *ek = twin_xasprintf("%s.%zu", lp, i);
        json_t *v = NULL;
        rc = q_present(q, ek) ? q_value(q, m, ek, depth + 1, &v) : 0;
        free(ek);
        if (rc || !v)
            break;
        json_array_append_new(arr, v);
    }
    if (!rc)
        rc = q_check_indexes(q, lp, json_array_size(arr));
    if (!rc && exact && !q->ec2 && strcmp(exact->key, lp)) {
        /* the query protocol's empty list: Name= */
        if (exact->vlen || json_array_size(arr))
            rc = bad(q->err, q->errlen, "parameter %s: a list is given as %s.N", key, lp);
        else
            exact->used = 1;
    }
    free(lp);
    if (rc || (!json_array_size(arr) && !(exact && exact->used))) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

static int q_map(qctx *q, const aws_ref *r, const char *key, int depth, json_t **out)
{
    const aws_shape *sh = shape_of(r);
    const aws_ref *kr = member(sh, 0), *vr = member(sh, 1);
    char t1[256], t2[256];
    const char *ks = q_name(kr, q->ec2, "key", t1, sizeof t1), *vs = q_name(vr, q->ec2, "value", t2, sizeof t2);
    char *fp = r->flags & AWS_FLATTENED ? twin_xstrdup(key) : twin_xasprintf("%s.entry", key);
    json_t *obj = json_object();
    int rc = 0;
    size_t count = 0;
    for (size_t i = 1;; i++) {
        char *ek = twin_xasprintf("%s.%zu", fp, i);
        if (!q_present(q, ek)) {
            free(ek);
            break;
        }
        char *kk = twin_xasprintf("%s.%s", ek, ks), *vk = twin_xasprintf("%s.%s", ek, vs);
        qparam *kp = q_get(q, kk);
        json_t *v = NULL;
        if (!kp)
            rc = bad(q->err, q->errlen, "parameter %s is missing", kk);
        else if (json_object_get(obj, kp->val))
            rc = bad(q->err, q->errlen, "parameter %s: key '%s' given twice", kk, kp->val);
        else if (!(rc = q_value(q, vr, vk, depth + 1, &v)) && !v)
            rc = bad(q->err, q->errlen, "parameter %s is missing", vk);
        if (!rc) {
            kp->used = 1;
            json_object_set_new(obj, kp->val, v);
            count++;
        }
        free(kk);
        free(vk);
        free(ek);
        if (rc)
            break;
    }
    if (!rc)
        rc = q_check_indexes(q, fp, count);
    free(fp);
    if (rc || !count) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

/* The value of member r at key: 0 with *out set, or left NULL when nothing
 * is given; or 400. */
static int q_value(qctx *q, const aws_ref *r, const char *key, int depth, json_t **out)
{
    const aws_shape *sh = shape_of(r);
    if (depth > GATE_AWS_MAX_DEPTH)
        return bad(q->err, q->errlen, "parameter %s: nested more than %d deep", key, GATE_AWS_MAX_DEPTH);
    if (sh->type == T_STRUCT) {
        char *pre = twin_xasprintf("%s.", key);
        int has = q_has_prefix(q, pre);
        free(pre);
        return has ? q_struct(q, sh, key, depth, out) : 0;
    }
    if (sh->type == T_LIST)
        return q_list(q, r, key, depth, out);
    if (sh->type == T_MAP)
        return q_map(q, r, key, depth, out);
    qparam *p = q_get(q, key);
    if (!p)
        return 0;
    json_t *v = scalar_from_text(r, key, p->val, p->vlen, 1, q->err, q->errlen);
    if (!v)
        return 400;
    p->used = 1;
    *out = v;
    return 0;
}

/* Splits a form body into q->p, sorted, refusing malformed pairs and
 * duplicates. */
static int q_split(qctx *q, const char *body, size_t len)
{
    if (len > GATE_AWS_MAX_BODY)
        return bad(q->err, q->errlen, "the body is %zu bytes, more than the %u allowed", len, GATE_AWS_MAX_BODY);
    size_t cap = 0;
    for (size_t i = 0; i < len;) {
        const char *seg = body + i;
        const char *amp = memchr(seg, '&', len - i);
        size_t n = amp ? (size_t)(amp - seg) : len - i;
        i += n + (amp ? 1 : 0);
        if (n == 0)
            return bad(q->err, q->errlen, "an empty parameter (\"&&\", or '&' at an end)");
        const char *eq = memchr(seg, '=', n);
        if (!eq)
            return bad(q->err, q->errlen, "parameter '%.*s' has no '='", (int)(n > 64 ? 64 : n), seg);
        if (q->n == GATE_AWS_MAX_PARAMS)
            return bad(q->err, q->errlen, "more than %d parameters", GATE_AWS_MAX_PARAMS);
        size_t klen, vlen;
        char *k = pct_decode(seg, (size_t)(eq - seg), 1, &klen);
        char *v = k ? pct_decode(eq + 1, n - (size_t)(eq - seg) - 1, 1, &vlen) : NULL;
        if (!k || !v) {
            free(k);
            return bad(q->err, q->errlen, "parameter '%.*s': a bad percent-escape or not UTF-8",
                       (int)(n > 64 ? 64 : n), seg);
        }
        if (!klen) {
            free(k);
            free(v);
            return bad(q->err, q->errlen, "a parameter without a name");
        }
        if (q->n == cap) {
            cap = cap ? cap * 2 : 16;
            q->p = twin_xrealloc(q->p, cap * sizeof *q->p);
        }
        q->p[q->n++] = (qparam){k, v, vlen, 0};
    }
    if (len && body[len - 1] == '&')
        return bad(q->err, q->errlen, "an empty parameter (\"&&\", or '&' at an end)");
    if (q->n)
        qsort(q->p, q->n, sizeof *q->p, qparam_cmp);
    for (size_t i = 1; i < q->n; i++)
        if (!strcmp(q->p[i - 1].key, q->p[i].key))
            return bad(q->err, q->errlen, "parameter %s given twice", q->p[i].key);
    return 0;
}

int gate_aws_parse_query(const char *service, const char *body, size_t len, char **operation, json_t **input,
                         char *err, size_t errlen)
{
    const aws_service *s = svc_find(service);
    if (!s || s->proto == AWS_PROTO_RESTXML)
        return bad(err, errlen, "service %s does not speak the query protocol", service ? service : "(none)");
    qctx q = {NULL, 0, s->proto == AWS_PROTO_EC2, err, errlen};
    json_t *in = NULL;
    int rc = q_split(&q, body, len);
    if (rc)
        goto cleanup;
    qparam *action = q_get(&q, "Action"), *version = q_get(&q, "Version");
    if (!action) {
        rc = bad(err, errlen, "no Action parameter");
        goto cleanup;
    }
    const aws_op *op = op_find(s, action->val);
    if (!op) {
        rc = bad(err, errlen, "Action %s is not an operation of %s the gate knows", action->val, s->name);
        goto cleanup;
    }
    if (!version || strcmp(version->val, s->version)) {
        rc = bad(err, errlen, "Version %s: %s speaks %s", version ? version->val : "missing", s->name, s->version);
        goto cleanup;
    }
    action->used = version->used = 1;
    if (op->in >= 0)
        rc = q_struct(&q, shape_of(&aws_refs[op->in]), "", 0, &in);
    else
        in = json_object();
    if (rc)
        goto cleanup;
    for (size_t i = 0; i < q.n; i++)
        if (!q.p[i].used) {
            rc = bad(err, errlen, "parameter %s: %s has no such parameter", q.p[i].key, op->name);
            goto cleanup;
        }
    *operation = twin_xstrdup(op->name);
    *input = in;
    in = NULL;
cleanup:
    json_decref(in);
    q_free(&q);
    return rc;
}

/* Appends s[0..n) percent-encoded: unreserved (A-Z a-z 0-9 - _ . ~) and the
 * bytes of `safe` kept, a space '+' when plus (Python's quote_plus and
 * quote, as botocore calls them). */
static void pct_encode(twin_buf *b, const char *s, size_t n, const char *safe, int plus)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (c && strchr(safe, c)))
            twin_buf_add(b, (const char *)&c, 1);
        else if (c == ' ' && plus)
            twin_buf_add(b, "+", 1);
        else
            twin_buf_addf(b, "%%%02X", c);
    }
}

typedef struct qbuild {
    twin_buf *body;
    int ec2;
    char *err;
    size_t errlen;
} qbuild;

static void qb_param(qbuild *b, const char *key, const char *val, size_t vlen)
{
    twin_buf_add(b->body, "&", 1);
    pct_encode(b->body, key, strlen(key), "", 1);
    twin_buf_add(b->body, "=", 1);
    pct_encode(b->body, val, vlen, "", 1);
}

static int qb_value(qbuild *b, const aws_ref *r, const json_t *v, const char *key, int depth);

static int qb_struct(qbuild *b, const aws_shape *sh, const json_t *v, const char *prefix, int depth)
{
    char tmp[256];
    if (!json_is_object(v))
        return bad(b->err, b->errlen, "%s: an object expected", *prefix ? prefix : "input");
    size_t seen = 0;
    for (size_t i = 0; i < sh->n; i++) {
        const aws_ref *m = member(sh, i);
        const json_t *mv = json_object_get(v, m->name);
        if (!mv)
            continue;
        seen++;
        char *key = join(prefix, q_name(m, b->ec2, m->name, tmp, sizeof tmp));
        int rc = qb_value(b, m, mv, key, depth + 1);
        free(key);
        if (rc)
            return rc;
    }
    if (seen != json_object_size(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            size_t i;
            for (i = 0; i < sh->n && strcmp(member(sh, i)->name, k); i++)
                ;
            if (i == sh->n)
                return bad(b->err, b->errlen, "%s%s%s: no such member", prefix, *prefix ? "." : "", k);
        }
    }
    return 0;
}

static int qb_value(qbuild *b, const aws_ref *r, const json_t *v, const char *key, int depth)
{
    const aws_shape *sh = shape_of(r);
    char tmp[256];
    if (depth > GATE_AWS_MAX_DEPTH)
        return bad(b->err, b->errlen, "%s: nested more than %d deep", key, GATE_AWS_MAX_DEPTH);
    if (sh->type == T_STRUCT)
        return qb_struct(b, sh, v, key, depth);
    if (sh->type == T_LIST) {
        const aws_ref *m = member(sh, 0);
        if (!json_is_array(v))
            return bad(b->err, b->errlen, "%s: a list expected", key);
        if (!json_array_size(v)) {
            if (!b->ec2)
                qb_param(b, key, "", 0);
            return 0;
        }
        char *lp;
        if (b->ec2)
            lp = twin_xstrdup(key);
        else if (r->flags & AWS_FLATTENED) {
            const char *dot = strrchr(key, '.');
            lp = !m->loc ? twin_xstrdup(key)
                 : dot   ? twin_xasprintf("%.*s.%s", (int)(dot - key), key, m->loc)
                         : twin_xstrdup(m->loc);
        } else
            lp = twin_xasprintf("%s.%s", key, m->loc ? m->loc : "member");
        int rc = 0;
        for (size_t i = 0; !rc && i < json_array_size(v); i++) {
            char *ek = twin_xasprintf("%s.%zu", lp, i + 1);
            rc = qb_value(b, m, json_array_get(v, i), ek, depth + 1);
            free(ek);
        }
        free(lp);
        return rc;
    }
    if (sh->type == T_MAP) {
        const aws_ref *kr = member(sh, 0), *vr = member(sh, 1);
        char t2[256];
        if (!json_is_object(v))
            return bad(b->err, b->errlen, "%s: a map expected", key);
        const char *ks = q_name(kr, b->ec2, "key", tmp, sizeof tmp), *vs = q_name(vr, b->ec2, "value", t2, sizeof t2);
        size_t i = 0;
        const char *k;
        json_t *x;
        int rc = 0;
        json_object_foreach((json_t *)v, k, x) {
            i++;
            char *kk = twin_xasprintf("%s%s.%zu.%s", key, r->flags & AWS_FLATTENED ? "" : ".entry", i, ks);
            char *vk = twin_xasprintf("%s%s.%zu.%s", key, r->flags & AWS_FLATTENED ? "" : ".entry", i, vs);
            qb_param(b, kk, k, strlen(k));
            rc = qb_value(b, vr, x, vk, depth + 1);
            free(kk);
            free(vk);
            if (rc)
                break;
        }
        return rc;
    }
    twin_buf t = {0};
    int rc = scalar_to_text(r, v, key, &t, b->err, b->errlen);
    if (!rc)
        qb_param(b, key, t.s ? t.s : "", t.len);
    twin_buf_free(&t);
    return rc;
}

int gate_aws_build_query(const char *service, const char *operation, const json_t *input, twin_buf *body,
                         char *err, size_t errlen)
{
    const aws_service *s = svc_find(service);
    const aws_op *op = op_find(s, operation);
    if (!op || s->proto == AWS_PROTO_RESTXML)
        return bad(err, errlen, "%s %s is not a query operation the gate knows", service ? service : "(none)",
                   operation ? operation : "(none)");
    twin_buf b = {0};
    twin_buf_addf(&b, "Action=%s&Version=%s", op->name, s->version);
    qbuild qb = {&b, s->proto == AWS_PROTO_EC2, err, errlen};
    int rc = 0;
    if (input && op->in >= 0)
        rc = qb_struct(&qb, shape_of(&aws_refs[op->in]), input, "", 0);
    else if (input && (!json_is_object(input) || json_object_size(input)))
        rc = bad(err, errlen, "%s takes no input", op->name);
    if (!rc)
        twin_buf_add(body, b.s, b.len);
    twin_buf_free(&b);
    return rc;
}

/* ---- XML by shape ---- */

static void xml_escape(twin_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&': twin_buf_add(b, "&amp;", 5); break;
        case '<': twin_buf_add(b, "&lt;", 4); break;
        case '>': twin_buf_add(b, "&gt;", 4); break;
        case '"': twin_buf_add(b, "&quot;", 6); break;
        case '\'': twin_buf_add(b, "&apos;", 6); break;
        case '\r': twin_buf_add(b, "&#13;", 5); break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n')
                twin_buf_add(b, "\xEF\xBF\xBD", 3);   /* not an XML character: U+FFFD */
            else
                twin_buf_add(b, (const char *)&c, 1);
        }
    }
}

static void xml_text(twin_buf *b, const char *s)
{
    xml_escape(b, s, strlen(s));
}

/* The element name of a structure member (BaseXMLResponseParser
 * _member_key_name): a flattened list takes its member's locationName. */
static const char *x_member_name(const aws_ref *m)
{
    const aws_shape *sh = shape_of(m);
    if ((sh->type == T_LIST || sh->type == T_MAP) && (m->flags & AWS_FLATTENED) && sh->type == T_LIST
        && member(sh, 0)->loc)
        return member(sh, 0)->loc;
    return m->loc ? m->loc : m->name;
}

static int x_write(twin_buf *b, const aws_ref *r, const json_t *v, const char *name, int depth, char *err,
                   size_t errlen);

/* The members of a structure in the body (attributes aside), in model order. */
static int x_write_members(twin_buf *b, const aws_shape *sh, const json_t *v, int depth, char *err, size_t errlen)
{
    for (size_t i = 0; i < sh->n; i++) {
        const aws_ref *m = member(sh, i);
        const json_t *mv = json_object_get(v, m->name);
        if (!mv || json_is_null(mv) || m->location != L_BODY || (m->flags & AWS_XMLATTR))
            continue;
        int rc = x_write(b, m, mv, x_member_name(m), depth + 1, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

static void x_open(twin_buf *b, const aws_ref *r, const aws_shape *sh, const json_t *v, const char *name,
                   const char *xmlns)
{
    twin_buf_addf(b, "<%s", name);
    if (r && r->ns_uri) {
        twin_buf_addf(b, " xmlns%s%s=\"", r->ns_prefix ? ":" : "", r->ns_prefix ? r->ns_prefix : "");
        xml_text(b, r->ns_uri);
        twin_buf_add(b, "\"", 1);
    } else if (xmlns) {
        twin_buf_add(b, " xmlns=\"", 8);
        xml_text(b, xmlns);
        twin_buf_add(b, "\"", 1);
    }
    for (size_t i = 0; sh && json_is_object(v) && i < sh->n; i++) {
        const aws_ref *m = member(sh, i);
        const json_t *mv = json_object_get(v, m->name);
        twin_buf t = {0};
        char e[8];
        if (!(m->flags & AWS_XMLATTR) || !mv || scalar_to_text(m, mv, m->name, &t, e, sizeof e)) {
            twin_buf_free(&t);
            continue;
        }
        twin_buf_addf(b, " %s=\"", m->loc ? m->loc : m->name);
        xml_escape(b, t.s ? t.s : "", t.len);
        twin_buf_add(b, "\"", 1);
        twin_buf_free(&t);
    }
    twin_buf_add(b, ">", 1);
}

/* v as element(s) named name.  A value of the wrong type is an error. */
static int x_write(twin_buf *b, const aws_ref *r, const json_t *v, const char *name, int depth, char *err,
                   size_t errlen)
{
    const aws_shape *sh = shape_of(r);
    if (depth > GATE_AWS_MAX_DEPTH)
        return bad(err, errlen, "%s: nested more than %d deep", name, GATE_AWS_MAX_DEPTH);
    switch (sh->type) {
    case T_STRUCT: {
        if (!json_is_object(v))
            return bad(err, errlen, "%s: an object expected", name);
        x_open(b, r, sh, v, name, NULL);
        int rc = x_write_members(b, sh, v, depth, err, errlen);
        twin_buf_addf(b, "</%s>", name);
        return rc;
    }
    case T_LIST: {
        const aws_ref *m = member(sh, 0);
        if (!json_is_array(v))
            return bad(err, errlen, "%s: a list expected", name);
        int flat = r->flags & AWS_FLATTENED;
        if (!flat)
            twin_buf_addf(b, "<%s>", name);
        for (size_t i = 0; i < json_array_size(v); i++) {
            int rc = x_write(b, m, json_array_get(v, i), flat ? (m->loc ? m->loc : name) : (m->loc ? m->loc : "member"),
                             depth + 1, err, errlen);
            if (rc)
                return rc;
        }
        if (!flat)
            twin_buf_addf(b, "</%s>", name);
        return 0;
    }
    case T_MAP: {
        const aws_ref *kr = member(sh, 0), *vr = member(sh, 1);
        if (!json_is_object(v))
            return bad(err, errlen, "%s: a map expected", name);
        int flat = r->flags & AWS_FLATTENED;
        const char *k;
        json_t *x;
        if (!flat)
            twin_buf_addf(b, "<%s>", name);
        json_object_foreach((json_t *)v, k, x) {
            const char *kn = kr->loc ? kr->loc : "key";
            twin_buf_addf(b, "<%s><%s>", flat ? name : "entry", kn);
            xml_text(b, k);
            twin_buf_addf(b, "</%s>", kn);
            int rc = x_write(b, vr, x, vr->loc ? vr->loc : "value", depth + 1, err, errlen);
            if (rc)
                return rc;
            twin_buf_addf(b, "</%s>", flat ? name : "entry");
        }
        if (!flat)
            twin_buf_addf(b, "</%s>", name);
        return 0;
    }
    default: {
        twin_buf t = {0};
        int rc = scalar_to_text(r, v, name, &t, err, errlen);
        if (!rc) {
            twin_buf_addf(b, "<%s>", name);
            xml_escape(b, t.s ? t.s : "", t.len);
            twin_buf_addf(b, "</%s>", name);
        }
        twin_buf_free(&t);
        return rc;
    }
    }
}

typedef struct xread {
    int strict;   /* a request body: anything the shape does not have is refused */
    char *err;
    size_t errlen;
} xread;

static int x_read(xread *x, const aws_ref *r, const gate_aws_xml_node *n, int depth, json_t **out);

static int x_read_list_items(xread *x, const aws_ref *m, const gate_aws_xml_node *const *items, size_t nitems,
                             int depth, json_t *arr)
{
    for (size_t i = 0; i < nitems; i++) {
        json_t *v = NULL;
        int rc = x_read(x, m, items[i], depth + 1, &v);
        if (rc)
            return rc;
        json_array_append_new(arr, v);
    }
    return 0;
}

static int x_read_entry(xread *x, const aws_ref *kr, const aws_ref *vr, const gate_aws_xml_node *e, int depth,
                        json_t *obj)
{
    const char *kn = kr->loc ? kr->loc : "key", *vn = vr->loc ? vr->loc : "value";
    const gate_aws_xml_node *kn_node = NULL, *vn_node = NULL;
    for (size_t i = 0; i < e->nkids; i++) {
        const char *l = gate_aws_xml_local(e->kids[i]->name);
        const gate_aws_xml_node **slot = !strcmp(l, kn) ? &kn_node : !strcmp(l, vn) ? &vn_node : NULL;
        if (!slot || *slot)
            return bad(x->err, x->errlen, "<%s> in a map entry <%s>", e->kids[i]->name, e->name);
        *slot = e->kids[i];
    }
    if (!kn_node || !vn_node)
        return bad(x->err, x->errlen, "a map entry <%s> without <%s> and <%s>", e->name, kn, vn);
    if (json_object_get(obj, kn_node->text) && x->strict)
        return bad(x->err, x->errlen, "map key '%s' given twice", kn_node->text);
    json_t *v = NULL;
    int rc = x_read(x, vr, vn_node, depth + 1, &v);
    if (!rc)
        json_object_set_new(obj, kn_node->text, v);
    return rc;
}

static int x_read_struct(xread *x, const aws_shape *sh, const gate_aws_xml_node *n, int depth, json_t **out)
{
    json_t *obj = json_object();
    int rc = 0;
    const gate_aws_xml_node **items = twin_xmalloc((n->nkids + 1) * sizeof *items);
    unsigned char *claimed = twin_xcalloc(n->nkids + 1, 1);
    for (size_t i = 0; !rc && i < sh->n; i++) {
        const aws_ref *m = member(sh, i);
        const aws_shape *ms = shape_of(m);
        if (m->location != L_BODY)
            continue;
        if (m->flags & AWS_XMLATTR) {
            const char *want = gate_aws_xml_local(m->loc ? m->loc : m->name);
            for (size_t a = 0; !rc && a < n->nattrs; a++) {
                if (strncmp(n->attrs[a].name, "xmlns", 5) && !strcmp(gate_aws_xml_local(n->attrs[a].name), want)) {
                    json_t *v = scalar_from_text(m, m->name, n->attrs[a].value, strlen(n->attrs[a].value), x->strict,
                                                 x->err, x->errlen);
                    if (!v)
                        rc = 400;
                    else
                        json_object_set_new(obj, m->name, v);
                }
            }
            continue;
        }
        const char *xn = x_member_name(m);
        size_t nitems = 0;
        for (size_t k = 0; k < n->nkids; k++)
            if (!strcmp(gate_aws_xml_local(n->kids[k]->name), xn)) {
                items[nitems++] = n->kids[k];
                claimed[k] = 1;
            }
        if (!nitems)
            continue;
        int flat = (m->flags & AWS_FLATTENED) && (ms->type == T_LIST || ms->type == T_MAP);
        if (flat && ms->type == T_LIST) {
            json_t *arr = json_array();
            rc = x_read_list_items(x, member(ms, 0), items, nitems, depth, arr);
            if (!rc)
                json_object_set_new(obj, m->name, arr);
            else
                json_decref(arr);
            continue;
        }
        if (flat) {
            json_t *map = json_object();
            for (size_t k = 0; !rc && k < nitems; k++)
                rc = x_read_entry(x, member(ms, 0), member(ms, 1), items[k], depth, map);
            if (!rc)
                json_object_set_new(obj, m->name, map);
            else
                json_decref(map);
            continue;
        }
        if (nitems > 1 && x->strict) {
            rc = bad(x->err, x->errlen, "<%s> given twice in <%s>", xn, n->name);
            break;
        }
        json_t *v = NULL;
        rc = x_read(x, m, items[nitems - 1], depth + 1, &v);
        if (!rc)
            json_object_set_new(obj, m->name, v);
    }
    if (!rc && x->strict) {
        for (size_t k = 0; !rc && k < n->nkids; k++)
            if (!claimed[k])
                rc = bad(x->err, x->errlen, "<%s> is not a member of <%s>", n->kids[k]->name, n->name);
        for (size_t a = 0; !rc && a < n->nattrs; a++) {
            const char *an = n->attrs[a].name;
            if (!strncmp(an, "xmlns", 5) && (an[5] == '\0' || an[5] == ':'))
                continue;
            size_t i;
            for (i = 0; i < sh->n; i++)
                if ((member(sh, i)->flags & AWS_XMLATTR)
                    && !strcmp(gate_aws_xml_local(member(sh, i)->loc ? member(sh, i)->loc : ""), gate_aws_xml_local(an)))
                    break;
            if (i == sh->n)
                rc = bad(x->err, x->errlen, "attribute %s of <%s> is not a member", an, n->name);
        }
        if (!rc && !gate_aws_xml_blank(n))
            rc = bad(x->err, x->errlen, "text in <%s>, a structure", n->name);
        for (size_t i = 0; !rc && i < sh->n; i++)
            if ((member(sh, i)->flags & AWS_REQUIRED) && member(sh, i)->location == L_BODY
                && !json_object_get(obj, member(sh, i)->name))
                rc = bad(x->err, x->errlen, "<%s> is required in <%s>", x_member_name(member(sh, i)), n->name);
    }
    free(items);
    free(claimed);
    if (rc) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

/* Node n as a value of r: 0 and *out, or 400. */
static int x_read(xread *x, const aws_ref *r, const gate_aws_xml_node *n, int depth, json_t **out)
{
    const aws_shape *sh = shape_of(r);
    if (depth > GATE_AWS_MAX_DEPTH)
        return bad(x->err, x->errlen, "<%s>: nested more than %d deep", n->name, GATE_AWS_MAX_DEPTH);
    if (sh->type == T_STRUCT)
        return x_read_struct(x, sh, n, depth, out);
    if (x->strict && (!is_scalar(sh) ? !gate_aws_xml_blank(n) : n->nkids > 0))
        return bad(x->err, x->errlen, "<%s>: %s", n->name, is_scalar(sh) ? "elements in a value" : "text in a list");
    if (x->strict && n->nattrs && is_scalar(sh))
        return bad(x->err, x->errlen, "<%s>: attributes on a value", n->name);
    if (sh->type == T_LIST) {
        const aws_ref *m = member(sh, 0);
        const char *want = m->loc ? m->loc : "member";
        if (x->strict)
            for (size_t i = 0; i < n->nkids; i++)
                if (strcmp(gate_aws_xml_local(n->kids[i]->name), want))
                    return bad(x->err, x->errlen, "<%s> in the list <%s> (items are <%s>)", n->kids[i]->name,
                               n->name, want);
        json_t *arr = json_array();
        int rc = x_read_list_items(x, m, (const gate_aws_xml_node *const *)n->kids, n->nkids, depth, arr);
        if (rc) {
            json_decref(arr);
            return rc;
        }
        *out = arr;
        return 0;
    }
    if (sh->type == T_MAP) {
        json_t *obj = json_object();
        int rc = 0;
        for (size_t i = 0; !rc && i < n->nkids; i++) {
            if (x->strict && strcmp(gate_aws_xml_local(n->kids[i]->name), "entry"))
                rc = bad(x->err, x->errlen, "<%s> in the map <%s> (entries are <entry>)", n->kids[i]->name, n->name);
            else
                rc = x_read_entry(x, member(sh, 0), member(sh, 1), n->kids[i], depth, obj);
        }
        if (rc) {
            json_decref(obj);
            return rc;
        }
        *out = obj;
        return 0;
    }
    json_t *v = scalar_from_text(r, gate_aws_xml_local(n->name), n->text, n->text_len, x->strict, x->err, x->errlen);
    if (!v)
        return 400;
    *out = v;
    return 0;
}

/* ---- answers ---- */

static const char *const XML_DECL = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

int gate_aws_render_output(const char *service, const char *operation, const json_t *output,
                           const char *request_id, twin_buf *out, json_t **headers_out)
{
    const aws_service *s = svc_find(service);
    const aws_op *op = op_find(s, operation);
    if (!op)
        return -1;
    const aws_ref *r = op->out >= 0 ? &aws_refs[op->out] : NULL;
    const aws_shape *sh = r ? shape_of(r) : NULL;
    json_t *empty = json_object();
    if (!json_is_object(output))
        output = empty;
    char err[256];
    twin_buf b = {0};
    json_t *hdrs = json_object();
    const char *rid = request_id ? request_id : "";
    if (s->proto != AWS_PROTO_RESTXML) {
        twin_buf_addf(&b, "%s<%sResponse xmlns=\"%s\">", XML_DECL, op->name, s->xmlns);
        if (s->proto == AWS_PROTO_EC2) {
            twin_buf_add(&b, "<requestId>", 11);
            xml_text(&b, rid);
            twin_buf_add(&b, "</requestId>", 12);
        } else if (op->wrapper)
            twin_buf_addf(&b, "<%s>", op->wrapper);
        /* a value of the wrong type is left out rather than failing the answer */
        for (size_t i = 0; sh && i < sh->n; i++) {
            const aws_ref *m = member(sh, i);
            const json_t *mv = json_object_get(output, m->name);
            if (!mv || json_is_null(mv))
                continue;
            size_t mark = b.len;
            if (x_write(&b, m, mv, x_member_name(m), 1, err, sizeof err)) {
                b.len = mark;
                b.s[mark] = '\0';
            }
        }
        if (s->proto == AWS_PROTO_QUERY) {
            if (op->wrapper)
                twin_buf_addf(&b, "</%s>", op->wrapper);
            twin_buf_add(&b, "<ResponseMetadata><RequestId>", 29);
            xml_text(&b, rid);
            twin_buf_add(&b, "</RequestId></ResponseMetadata>", 31);
        }
        twin_buf_addf(&b, "</%sResponse>", op->name);
    } else if (sh) {
        const aws_ref *payload = sh->payload >= 0 ? member(sh, (size_t)sh->payload) : NULL;
        int body_members = 0;
        for (size_t i = 0; i < sh->n; i++) {
            const aws_ref *m = member(sh, i);
            const json_t *mv = json_object_get(output, m->name);
            if (!mv || json_is_null(mv))
                continue;
            if (m->location == L_HEADER) {
                twin_buf t = {0};
                if (!scalar_to_text(m, mv, m->name, &t, err, sizeof err))
                    json_object_set_new(hdrs, m->loc, json_string(t.s ? t.s : ""));
                twin_buf_free(&t);
            } else if (m->location == L_HEADERS && json_is_object(mv)) {
                const char *k;
                json_t *x;
                json_object_foreach((json_t *)mv, k, x) if (json_is_string(x)) {
                    char *name = twin_xasprintf("%s%s", m->loc, k);
                    json_object_set_new(hdrs, name, json_string(json_string_value(x)));
                    free(name);
                }
            } else if (m->location == L_BODY && m != payload)
                body_members++;
        }
        if (payload) {
            const json_t *pv = json_object_get(output, payload->name);
            const aws_shape *ps = shape_of(payload);
            if (pv && (ps->type == T_STRING || ps->type == T_BLOB) && json_is_string(pv))
                twin_buf_add(&b, json_string_value(pv), json_string_length(pv));
            else if (pv && ps->type == T_STRUCT && json_is_object(pv)) {
                const char *name = payload->loc ? payload->loc : payload->name;
                twin_buf_addf(&b, "%s", XML_DECL);
                x_open(&b, payload->ns_uri ? payload : NULL, ps, pv, name, S3_XMLNS);
                if (x_write_members(&b, ps, pv, 1, err, sizeof err)) {
                    b.len = 0;
                    b.s[0] = '\0';
                    twin_buf_addf(&b, "%s<%s xmlns=\"%s\">", XML_DECL, name, S3_XMLNS);
                }
                twin_buf_addf(&b, "</%s>", name);
            }
        } else if (op->root && body_members) {
            const json_t *single = NULL;
            for (size_t i = 0; i < sh->n; i++)
                if (!strcmp(member(sh, i)->name, op->root) && is_scalar(shape_of(member(sh, i))))
                    single = json_object_get(output, op->root);
            twin_buf_addf(&b, "%s<%s xmlns=\"%s\">", XML_DECL, op->root, S3_XMLNS);
            if (single) {
                /* GetBucketLocation: the root is the value (botocore's
                 * handlers.parse_get_bucket_location reads root.text) */
                twin_buf t = {0};
                if (!scalar_to_text(member(sh, 0), single, op->root, &t, err, sizeof err))
                    xml_escape(&b, t.s ? t.s : "", t.len);
                twin_buf_free(&t);
            } else {
                for (size_t i = 0; i < sh->n; i++) {
                    const aws_ref *m = member(sh, i);
                    const json_t *mv = json_object_get(output, m->name);
                    if (!mv || json_is_null(mv) || m->location != L_BODY || (m->flags & AWS_XMLATTR))
                        continue;
                    size_t mark = b.len;
                    if (x_write(&b, m, mv, x_member_name(m), 1, err, sizeof err)) {
                        b.len = mark;
                        b.s[mark] = '\0';
                    }
                }
            }
            twin_buf_addf(&b, "</%s>", op->root);
        }
    }
    /* botocore's model of HeadBucket has no output, but S3 answers the
     * bucket's region in this header, and the SDKs' region redirection
     * reads it */
    const json_t *region = json_object_get(output, "BucketRegion");
    if (s->proto == AWS_PROTO_RESTXML && !strcmp(op->name, "HeadBucket") && json_is_string(region)
        && !json_object_get(hdrs, "x-amz-bucket-region"))
        json_object_set_new(hdrs, "x-amz-bucket-region", json_string(json_string_value(region)));
    if (b.len)
        twin_buf_add(out, b.s, b.len);
    twin_buf_free(&b);
    json_decref(empty);
    if (headers_out)
        *headers_out = hdrs;
    else
        json_decref(hdrs);
    return 0;
}

void gate_aws_render_error(const char *service, unsigned http_status, const char *code, const char *message,
                           const char *request_id, twin_buf *out)
{
    const aws_service *s = svc_find(service);
    const char *rid = request_id ? request_id : "";
    code = code ? code : "InternalError";
    message = message ? message : "";
    twin_buf_addf(out, "%s", XML_DECL);
    if (s && s->proto == AWS_PROTO_RESTXML) {
        twin_buf_addf(out, "<Error><Code>");
        xml_text(out, code);
        twin_buf_addf(out, "</Code><Message>");
        xml_text(out, message);
        twin_buf_addf(out, "</Message><RequestId>");
        xml_text(out, rid);
        twin_buf_addf(out, "</RequestId></Error>");
    } else if (s && s->proto == AWS_PROTO_EC2) {
        twin_buf_addf(out, "<Response><Errors><Error><Code>");
        xml_text(out, code);
        twin_buf_addf(out, "</Code><Message>");
        xml_text(out, message);
        twin_buf_addf(out, "</Message></Error></Errors><RequestID>");
        xml_text(out, rid);
        twin_buf_addf(out, "</RequestID></Response>");
    } else {
        twin_buf_addf(out, "<ErrorResponse xmlns=\"%s\"><Error><Type>%s</Type><Code>", s ? s->xmlns : "",
                      http_status >= 500 ? "Receiver" : "Sender");
        xml_text(out, code);
        twin_buf_addf(out, "</Code><Message>");
        xml_text(out, message);
        twin_buf_addf(out, "</Message></Error><RequestId>");
        xml_text(out, rid);
        twin_buf_addf(out, "</RequestId></ErrorResponse>");
    }
}

int gate_aws_parse_output(const char *service, const char *operation, const char *xml, size_t len,
                          json_t **output, char *err, size_t errlen)
{
    const aws_service *s = svc_find(service);
    const aws_op *op = op_find(s, operation);
    if (!op)
        return bad(err, errlen, "%s %s is not an operation the gate knows", service ? service : "(none)",
                   operation ? operation : "(none)");
    const aws_ref *r = op->out >= 0 ? &aws_refs[op->out] : NULL;
    const aws_shape *sh = r ? shape_of(r) : NULL;
    if (!sh) {
        *output = json_object();
        return 0;
    }
    const aws_ref *payload = sh->payload >= 0 ? member(sh, (size_t)sh->payload) : NULL;
    if (s->proto == AWS_PROTO_RESTXML && payload && shape_of(payload)->type != T_STRUCT) {
        if (memchr(xml, '\0', len) || !twin_utf8_ok(xml, len))
            return bad(err, errlen, "the %s body is not UTF-8 text", payload->name);
        json_t *o = json_object();
        json_object_set_new(o, payload->name, json_stringn(xml, len));
        *output = o;
        return 0;
    }
    if (s->proto == AWS_PROTO_RESTXML && len == 0) {
        *output = json_object();
        return 0;
    }
    gate_aws_xml_node *root = NULL;
    if (gate_aws_xml_parse_max(xml, len, GATE_AWS_XML_MAX_ANSWER, &root, err, errlen) < 0)
        return 400;
    xread x = {0, err, errlen};
    json_t *o = NULL;
    int rc = 0;
    const gate_aws_xml_node *start = root;
    if (s->proto == AWS_PROTO_QUERY && op->wrapper)
        start = gate_aws_xml_child(root, op->wrapper);
    if (!start) {
        o = json_object();
    } else if (payload) {
        json_t *pv = NULL;
        rc = x_read(&x, payload, start, 1, &pv);
        if (!rc) {
            o = json_object();
            json_object_set_new(o, payload->name, pv);
        }
    } else if (s->proto == AWS_PROTO_RESTXML && op->root && !strcmp(op->root, "LocationConstraint")) {
        o = json_object();
        if (!gate_aws_xml_blank(start) || start->text_len)
            json_object_set_new(o, "LocationConstraint", json_stringn(start->text, start->text_len));
    } else {
        rc = x_read_struct(&x, sh, start, 1, &o);
    }
    gate_aws_xml_free(root);
    if (rc)
        return rc;
    *output = o;
    return 0;
}

int gate_aws_parse_error(const char *service, const char *xml, size_t len, char **code, char **message,
                         char *err, size_t errlen)
{
    gate_aws_xml_node *root = NULL;
    if (gate_aws_xml_parse(xml, len, &root, err, errlen) < 0)
        return 400;
    const gate_aws_xml_node *e = root;
    if (strcmp(gate_aws_xml_local(root->name), "Error")) {
        e = gate_aws_xml_child(root, "Error");
        if (!e)
            e = gate_aws_xml_child(gate_aws_xml_child(root, "Errors"), "Error");
    }
    const gate_aws_xml_node *c = e ? gate_aws_xml_child(e, "Code") : NULL;
    const gate_aws_xml_node *m = e ? gate_aws_xml_child(e, "Message") : NULL;
    int rc = 0;
    if (!c)
        rc = bad(err, errlen, "no <Error><Code> in the error answer (root <%s>)", root->name);
    else {
        *code = twin_xstrdup(c->text);
        *message = twin_xstrdup(m ? m->text : "");
    }
    gate_aws_xml_free(root);
    return rc;
}

/* ---- S3 requests ---- */

/* The parts of a requestUri: whether it has {Bucket} and {Key+}, and its
 * query markers ("policy", "list-type=2"). */
typedef struct s3_uri {
    int bucket, key;
    char markers[4][32];
    char values[4][16];
    int has_value[4];
    int nmarkers;
} s3_uri;

static void s3_uri_split(const char *uri, s3_uri *u)
{
    memset(u, 0, sizeof *u);
    u->bucket = strstr(uri, "{Bucket}") != NULL;
    u->key = strstr(uri, "{Key+}") != NULL;
    const char *q = strchr(uri, '?');
    while (q && *q && u->nmarkers < 4) {
        q++;
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        int i = u->nmarkers++;
        if (eq) {
            snprintf(u->markers[i], sizeof u->markers[i], "%.*s", (int)(eq - q), q);
            snprintf(u->values[i], sizeof u->values[i], "%.*s", (int)(n - (size_t)(eq - q) - 1), eq + 1);
            u->has_value[i] = 1;
        } else
            snprintf(u->markers[i], sizeof u->markers[i], "%.*s", (int)n, q);
        q += n;
        if (!*q)
            break;
    }
}

static const json_t *hdr_get(const json_t *headers, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)headers, k, v) if (!strcasecmp(k, name)) return v;
    return NULL;
}

/* The headers that are the transport's, not parameters: signing,
 * integrity, framing. */
static int s3_transport_header(const char *name)
{
    static const char *const names[] = {
        "x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "x-amz-user-agent",
        "x-amz-sdk-checksum-algorithm", "x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme",
        "x-amz-checksum-sha1", "x-amz-checksum-sha256", "x-amz-decoded-content-length", "x-amz-trailer",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(name, names[i]))
            return 1;
    return 0;
}

static int is_ip_or_localhost(const char *h, size_t n)
{
    if (n == 9 && !strncasecmp(h, "localhost", 9))
        return 1;
    if (n && (h[0] == '[' || memchr(h, ':', n)))
        return 1;   /* an IPv6 literal */
    for (size_t i = 0; i < n; i++)
        if (!is_digit(h[i]) && h[i] != '.')
            return 0;
    return 1;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && !strncasecmp(s + n - m, suffix, m);
}

/* The bucket a virtual-hosted Host names, or NULL (path-style). */
static char *s3_host_bucket(const char *host, const char *endpoint_host)
{
    if (!host)
        return NULL;
    size_t n = strlen(host);
    if (n && host[0] != '[') {
        const char *colon = strchr(host, ':');
        if (colon)
            n = (size_t)(colon - host);
    }
    if (is_ip_or_localhost(host, n))
        return NULL;
    if (endpoint_host && *endpoint_host) {
        size_t e = strlen(endpoint_host);
        if (n > e + 1 && host[n - e - 1] == '.' && !strncasecmp(host + n - e, endpoint_host, e))
            return twin_xasprintf("%.*s", (int)(n - e - 1), host);
        if (n == e && !strncasecmp(host, endpoint_host, e))
            return NULL;
    }
    if (!ends_with(host, n, ".amazonaws.com"))
        return NULL;
    /* bucket.s3.amazonaws.com, bucket.s3.region.amazonaws.com, bucket.s3-region.amazonaws.com */
    for (size_t i = 0; i + 4 <= n; i++)
        if (host[i] == '.' && !strncasecmp(host + i + 1, "s3", 2) && (host[i + 3] == '.' || host[i + 3] == '-'))
            return i ? twin_xasprintf("%.*s", (int)i, host) : NULL;
    return NULL;
}

static int s3_fill_member(const aws_ref *m, const char *text, size_t n, json_t *in, const char *what, char *err,
                          size_t errlen)
{
    const aws_shape *ms = shape_of(m);
    if (!is_scalar(ms))
        return bad(err, errlen, "%s: lists in a %s are not supported", what,
                   m->location == L_QUERY ? "query string" : "header");
    json_t *v = scalar_from_text(m, what, text, n, 1, err, errlen);
    if (!v)
        return 400;
    json_object_set_new(in, m->name, v);
    return 0;
}

int gate_aws_parse_s3_payload(const char *operation, const char *body, size_t len, json_t **value, char *err,
                              size_t errlen)
{
    const aws_op *op = op_find(svc_find("s3"), operation);
    const aws_shape *sh = op && op->in >= 0 ? shape_of(&aws_refs[op->in]) : NULL;
    const aws_ref *p = sh && sh->payload >= 0 ? member(sh, (size_t)sh->payload) : NULL;
    if (!p || shape_of(p)->type != T_STRUCT)
        return bad(err, errlen, "%s takes no XML body", operation ? operation : "(none)");
    gate_aws_xml_node *root = NULL;
    if (gate_aws_xml_parse(body, len, &root, err, errlen) < 0)
        return 400;
    const char *want = p->loc ? p->loc : p->name;
    int rc;
    json_t *v = NULL;
    if (strcmp(gate_aws_xml_local(root->name), want))
        rc = bad(err, errlen, "the body of %s is <%s>, not <%s>", op->name, root->name, want);
    else {
        xread x = {1, err, errlen};
        rc = x_read(&x, p, root, 1, &v);
    }
    gate_aws_xml_free(root);
    if (!rc)
        *value = v;
    return rc;
}

int gate_aws_parse_s3(const char *method, const char *path, const json_t *query_args, const json_t *headers,
                      const char *host, const char *endpoint_host, const char *body, size_t len,
                      char **operation, json_t **input, char *err, size_t errlen)
{
    const aws_service *s = svc_find("s3");
    char *vbucket = s3_host_bucket(host, endpoint_host);
    char *bucket = NULL, *key = NULL;
    json_t *in = NULL;
    int rc = 0;
    json_t *no_args = json_object();
    if (!query_args)
        query_args = no_args;
    if (!headers)
        headers = no_args;
    if (!json_is_object(query_args) || !json_is_object(headers)) {
        rc = bad(err, errlen, "query arguments and headers must be objects");
        goto cleanup;
    }
    if (!path || path[0] != '/' || strpbrk(path, "?#")) {
        rc = bad(err, errlen, "path '%s' is not an absolute path without a query", path ? path : "(none)");
        goto cleanup;
    }
    {
        const char *rest = path + 1;
        size_t n;
        if (vbucket) {
            bucket = vbucket;
            vbucket = NULL;
        } else if (*rest) {
            n = strcspn(rest, "/");
            bucket = pct_decode(rest, n, 0, &n);
            if (!bucket) {
                rc = bad(err, errlen, "path '%s': a bad percent-escape or not UTF-8", path);
                goto cleanup;
            }
            rest += strcspn(rest, "/");
            if (*rest == '/')
                rest++;
        }
        if (bucket && !*bucket) {
            rc = bad(err, errlen, "path '%s': an empty bucket name", path);
            goto cleanup;
        }
        if (*rest) {
            key = pct_decode(rest, strlen(rest), 0, &n);
            if (!key) {
                rc = bad(err, errlen, "path '%s': a bad percent-escape or not UTF-8", path);
                goto cleanup;
            }
        }
    }
    /* the operation: method, path shape, the most query markers matched */
    const aws_op *best = NULL;
    int best_score = -1, tie = 0;
    for (int i = 0; i < s->n; i++) {
        const aws_op *op = &aws_ops[s->first + i];
        s3_uri u;
        if (!method || strcmp(op->method, method))
            continue;
        s3_uri_split(op->uri, &u);
        if (u.bucket != (bucket != NULL) || u.key != (key != NULL))
            continue;
        int ok = 1;
        for (int k = 0; ok && k < u.nmarkers; k++) {
            const json_t *v = json_object_get(query_args, u.markers[k]);
            ok = json_is_string(v) && !strcmp(json_string_value(v), u.has_value[k] ? u.values[k] : "");
        }
        if (!ok)
            continue;
        if (u.nmarkers > best_score) {
            best = op;
            best_score = u.nmarkers;
            tie = 0;
        } else if (u.nmarkers == best_score)
            tie = 1;
    }
    if (!best || tie) {
        rc = bad(err, errlen, "%s %s%s: %s", method ? method : "(none)", path,
                 json_object_size(query_args) ? "?..." : "",
                 best ? "matches more than one S3 operation" : "no S3 operation the gate knows");
        goto cleanup;
    }
    const aws_shape *sh = best->in >= 0 ? shape_of(&aws_refs[best->in]) : NULL;
    in = json_object();
    s3_uri u;
    s3_uri_split(best->uri, &u);
    json_t *seen_q = json_object();
    for (int k = 0; k < u.nmarkers; k++)
        json_object_set_new(seen_q, u.markers[k], json_true());
    for (size_t i = 0; !rc && sh && i < sh->n; i++) {
        const aws_ref *m = member(sh, i);
        if (m->location == L_URI) {
            const char *label = m->loc ? m->loc : m->name;
            const char *v = !strcmp(label, "Bucket") ? bucket : !strcmp(label, "Key") ? key : NULL;
            if (v)
                json_object_set_new(in, m->name, json_string(v));
        } else if (m->location == L_QUERY) {
            const json_t *v = json_object_get(query_args, m->loc);
            if (!v)
                continue;
            json_object_set_new(seen_q, m->loc, json_true());
            if (!json_is_string(v))
                rc = bad(err, errlen, "query parameter %s: not a string", m->loc);
            else
                rc = s3_fill_member(m, json_string_value(v), json_string_length(v), in, m->loc, err, errlen);
        } else if (m->location == L_HEADER) {
            const json_t *v = hdr_get(headers, m->loc);
            if (!v)
                continue;
            if (!json_is_string(v))
                rc = bad(err, errlen, "header %s: not a string", m->loc);
            else
                rc = s3_fill_member(m, json_string_value(v), json_string_length(v), in, m->loc, err, errlen);
        } else if (m->location == L_HEADERS) {
            json_t *map = json_object();
            const char *k;
            json_t *v;
            size_t pl = strlen(m->loc);
            json_object_foreach((json_t *)headers, k, v) {
                if (strncasecmp(k, m->loc, pl) || !k[pl])
                    continue;
                if (!json_is_string(v)) {
                    rc = bad(err, errlen, "header %s: not a string", k);
                    break;
                }
                char *lk = twin_xstrdup(k + pl);
                for (char *c = lk; *c; c++)
                    *c = (char)tolower((unsigned char)*c);
                if (json_object_get(map, lk))
                    rc = bad(err, errlen, "header %s given twice", k);
                json_object_set_new(map, lk, json_string(json_string_value(v)));
                free(lk);
            }
            if (!rc && json_object_size(map))
                json_object_set_new(in, m->name, map);
            else
                json_decref(map);
        }
    }
    if (!rc) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)query_args, k, v) if (!json_object_get(seen_q, k)) {
            rc = bad(err, errlen, "query parameter %s: %s has no such parameter", k, best->name);
            break;
        }
    }
    json_decref(seen_q);
    if (!rc) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)headers, k, v) {
            if (strncasecmp(k, "x-amz-", 6) || s3_transport_header(k))
                continue;
            size_t i;
            for (i = 0; sh && i < sh->n; i++) {
                const aws_ref *m = member(sh, i);
                if ((m->location == L_HEADER && !strcasecmp(m->loc, k))
                    || (m->location == L_HEADERS && !strncasecmp(m->loc, k, strlen(m->loc))))
                    break;
            }
            if (!sh || i == sh->n) {
                rc = bad(err, errlen, "header %s: %s has no such parameter", k, best->name);
                break;
            }
        }
    }
    /* the body */
    const aws_ref *p = sh && sh->payload >= 0 ? member(sh, (size_t)sh->payload) : NULL;
    if (!rc && len) {
        if (!p)
            rc = bad(err, errlen, "%s takes no body (%zu bytes given)", best->name, len);
        else if (shape_of(p)->type == T_STRUCT) {
            json_t *pv = NULL;
            rc = gate_aws_parse_s3_payload(best->name, body, len, &pv, err, errlen);
            if (!rc)
                json_object_set_new(in, p->name, pv);
        } else if (shape_of(p)->type == T_STRING) {
            if (memchr(body, '\0', len) || !twin_utf8_ok(body, len))
                rc = bad(err, errlen, "the %s body is not UTF-8 text", p->name);
            else
                json_object_set_new(in, p->name, json_stringn(body, len));
        } else {
            json_object_set_new(in, p->name, json_pack("{sI}", "length", (json_int_t)len));
        }
    }
    /* a Content-Length member is the body's length, nothing else */
    for (size_t i = 0; !rc && sh && i < sh->n; i++) {
        const aws_ref *m = member(sh, i);
        const json_t *cl = json_object_get(in, m->name);
        if (m->location == L_HEADER && !strcasecmp(m->loc, "Content-Length") && cl
            && json_integer_value(cl) != (json_int_t)len)
            rc = bad(err, errlen, "Content-Length %lld but a body of %zu bytes", (long long)json_integer_value(cl), len);
    }
    for (size_t i = 0; !rc && sh && i < sh->n; i++)
        if ((member(sh, i)->flags & AWS_REQUIRED) && !json_object_get(in, member(sh, i)->name))
            rc = bad(err, errlen, "%s: %s is required", best->name, member(sh, i)->name);
    if (!rc) {
        *operation = twin_xstrdup(best->name);
        *input = in;
        in = NULL;
    }
cleanup:
    json_decref(in);
    json_decref(no_args);
    free(vbucket);
    free(bucket);
    free(key);
    return rc;
}

int gate_aws_build_s3(const char *operation, const json_t *input, const char **method, twin_buf *target,
                      json_t **headers, twin_buf *body, char *err, size_t errlen)
{
    const aws_op *op = op_find(svc_find("s3"), operation);
    if (!op)
        return bad(err, errlen, "%s is not an S3 operation the gate knows", operation ? operation : "(none)");
    const aws_shape *sh = op->in >= 0 ? shape_of(&aws_refs[op->in]) : NULL;
    json_t *empty = json_object();
    if (!input)
        input = empty;
    twin_buf t = {0}, q = {0}, bd = {0};
    json_t *h = json_object();
    int rc = 0;
    if (!json_is_object(input))
        rc = bad(err, errlen, "input: an object expected");
    size_t seen = 0;
    s3_uri u;
    s3_uri_split(op->uri, &u);
    const json_t *bucket = NULL, *key = NULL;
    for (size_t i = 0; !rc && sh && i < sh->n; i++) {
        const aws_ref *m = member(sh, i);
        const json_t *v = json_object_get(input, m->name);
        if (!v)
            continue;
        seen++;
        twin_buf x = {0};
        if (m->location == L_URI) {
            if (!json_is_string(v) || !json_string_length(v) || memchr(json_string_value(v), '\0', json_string_length(v)))
                rc = bad(err, errlen, "%s: a non-empty string expected", m->name);
            else if (!strcmp(m->loc, "Bucket"))
                bucket = v;
            else
                key = v;
        } else if (m->location == L_QUERY) {
            if (!(rc = scalar_to_text(m, v, m->name, &x, err, errlen))) {
                twin_buf_add(&q, "&", 1);
                pct_encode(&q, m->loc, strlen(m->loc), "", 0);
                twin_buf_add(&q, "=", 1);
                pct_encode(&q, x.s ? x.s : "", x.len, "", 0);
            }
        } else if (m->location == L_HEADER) {
            if (!(rc = scalar_to_text(m, v, m->name, &x, err, errlen)))
                json_object_set_new(h, m->loc, json_string(x.s ? x.s : ""));
        } else if (m->location == L_HEADERS) {
            const char *k;
            json_t *hv;
            if (!json_is_object(v))
                rc = bad(err, errlen, "%s: a map expected", m->name);
            else
                json_object_foreach((json_t *)v, k, hv) {
                    if (!json_is_string(hv)) {
                        rc = bad(err, errlen, "%s.%s: a string expected", m->name, k);
                        break;
                    }
                    char *name = twin_xasprintf("%s%s", m->loc, k);
                    json_object_set_new(h, name, json_string(json_string_value(hv)));
                    free(name);
                }
        } else if ((int)i == sh->payload) {
            const aws_shape *ps = shape_of(m);
            if (ps->type == T_STRUCT) {
                const char *name = m->loc ? m->loc : m->name;
                if (!json_is_object(v))
                    rc = bad(err, errlen, "%s: an object expected", m->name);
                else {
                    x_open(&bd, m, ps, v, name, NULL);
                    rc = x_write_members(&bd, ps, v, 1, err, errlen);
                    twin_buf_addf(&bd, "</%s>", name);
                }
            } else if (ps->type == T_STRING) {
                if (!json_is_string(v))
                    rc = bad(err, errlen, "%s: a string expected", m->name);
                else
                    twin_buf_add(&bd, json_string_value(v), json_string_length(v));
            } else if (!json_is_object(v) || !json_is_integer(json_object_get(v, "length")))
                rc = bad(err, errlen, "%s: {\"length\": N} expected", m->name);
        } else
            rc = bad(err, errlen, "%s: not a member S3 sends", m->name);
        twin_buf_free(&x);
    }
    if (!rc && json_object_size(input) != seen)
        rc = bad(err, errlen, "input has members %s does not have", op->name);
    if (!rc && u.bucket && !bucket)
        rc = bad(err, errlen, "%s: Bucket is required", op->name);
    if (!rc && u.key && !key)
        rc = bad(err, errlen, "%s: Key is required", op->name);
    if (!rc) {
        twin_buf_add(&t, "/", 1);
        if (bucket)
            pct_encode(&t, json_string_value(bucket), json_string_length(bucket), "", 0);
        if (key) {
            twin_buf_add(&t, "/", 1);
            pct_encode(&t, json_string_value(key), json_string_length(key), "/", 0);
        }
        for (int k = 0; k < u.nmarkers; k++) {
            twin_buf_add(&t, k ? "&" : "?", 1);
            twin_buf_addf(&t, "%s%s%s", u.markers[k], u.has_value[k] ? "=" : "", u.has_value[k] ? u.values[k] : "");
        }
        if (q.len) {
            if (!u.nmarkers)
                q.s[0] = '?';
            twin_buf_add(&t, q.s, q.len);
        }
        *method = op->method;
        twin_buf_add(target, t.s, t.len);
        if (bd.len)
            twin_buf_add(body, bd.s, bd.len);
        *headers = h;
        h = NULL;
    }
    json_decref(h);
    json_decref(empty);
    twin_buf_free(&t);
    twin_buf_free(&q);
    twin_buf_free(&bd);
    return rc;
}
