/*
 * yaml.c - YAML manifests to JSON over libyaml's event API.
 *
 * One recursive descent over the events: yp_node dispatches on the event
 * that starts a node and returns the finished json_t together with its size
 * (nodes, string bytes, height), which the alias limits and the depth check
 * need. Scalars are typed by yp_resolve, a transcription of go-yaml v2's
 * resolve() (resolve.go) for the cases a decoder into interface{} can meet.
 *
 * Anchors live per document: an array of definitions in order, and a map from
 * name to the latest definition. A definition is registered when its node
 * starts, still without a value, so an alias to a node that is not finished
 * is reported ("contains itself") instead of recursing forever.
 */
#define TWIN_YAML__WANT_LIBYAML 1
#include <yaml.h>   /* libyaml, perhaps through twin/yaml.h: see the end of that header */
#undef TWIN_YAML__WANT_LIBYAML

#include "yaml.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum {
    YP_MAX_DEPTH = 200,          /* containers nested in one document */
    YP_MAX_ALIAS_NODES = 10000,  /* nodes copied by aliases, per document */
    YP_MAX_SHOWN = 40,           /* characters of a scalar quoted in an error */
};
#define YP_MAX_ALIAS_BYTES ((size_t)4 << 20)   /* string bytes copied by aliases, per document */

#define YP_TAG "tag:yaml.org,2002:"

typedef struct yp_size {
    size_t nodes;   /* scalars, containers and keys */
    size_t bytes;   /* string data, keys included */
    int height;     /* 0 for a scalar, 1 + the tallest child for a container */
} yp_size;

typedef struct yp_anchor {
    json_t *value;  /* NULL while the anchored node is being built */
    yp_size size;
} yp_anchor;

typedef struct yp {
    yaml_parser_t parser;
    const char *name;
    const char *buf;
    size_t len;
    char *err;
    size_t errlen;
    int docno;                  /* 1-based, empty documents included */
    yp_anchor *anchors;
    size_t nanchors, capanchors;
    twin_map anchor_ix;         /* name -> (index + 1) of its latest definition */
    size_t alias_nodes, alias_bytes;
} yp;

static int yp_fail(yp *p, yaml_mark_t m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int yp_fail(yp *p, yaml_mark_t m, const char *fmt, ...)
{
    if (p->err && p->errlen) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(p->err, p->errlen, "%s:%zu:%zu: %s", p->name, m.line + 1, m.column + 1, msg);
    }
    return -1;
}

static void yp_oom(void)
{
    fprintf(stderr, "airlock: out of memory\n");
    abort();
}

/* jansson constructors fail only for lack of memory here. */
static json_t *yp_j(json_t *v)
{
    if (!v)
        yp_oom();
    return v;
}

static void yp_jrc(int rc)
{
    if (rc < 0)
        yp_oom();
}

/* The input byte at a mark (line and column in characters), or 0 past the end. */
static char yp_byte_at(const yp *p, yaml_mark_t m)
{
    size_t i = 0, line = 0, col = 0;
    while (i < p->len && line < m.line)
        if (p->buf[i++] == '\n')
            line++;
    while (i < p->len && p->buf[i] != '\n' && col < m.column) {
        i++;
        while (i < p->len && ((unsigned char)p->buf[i] & 0xC0) == 0x80)
            i++;   /* skip UTF-8 continuation bytes: a column is a character */
        col++;
    }
    return i < p->len ? p->buf[i] : 0;
}

/* libyaml's own errors: reader (bad bytes), scanner and parser (syntax). */
static int yp_parser_error(yp *p)
{
    const yaml_parser_t *ps = &p->parser;
    if (ps->error == YAML_MEMORY_ERROR)
        yp_oom();
    const char *problem = ps->problem ? ps->problem : "invalid YAML";
    if (ps->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset only; count lines ourselves. */
        yaml_mark_t m = {ps->problem_offset, 0, 0};
        for (size_t i = 0; i < ps->problem_offset && i < p->len; i++) {
            if (p->buf[i] == '\n') {
                m.line++;
                m.column = 0;
            } else {
                m.column++;
            }
        }
        if (ps->problem_value != -1)
            return yp_fail(p, m, "%s (0x%02X)", problem, (unsigned)ps->problem_value);
        return yp_fail(p, m, "%s", problem);
    }
    const char *hint = yp_byte_at(p, ps->problem_mark) == '\t' && !strstr(problem, "tab")
                     ? "; YAML indentation must use spaces, not tabs" : "";
    yaml_mark_t cm = ps->context_mark;
    if (ps->context && (cm.line != ps->problem_mark.line || cm.column != ps->problem_mark.column))
        return yp_fail(p, ps->problem_mark, "%s (%s at %zu:%zu)%s", problem, ps->context,
                       cm.line + 1, cm.column + 1, hint);
    if (ps->context)
        return yp_fail(p, ps->problem_mark, "%s (%s)%s", problem, ps->context, hint);
    return yp_fail(p, ps->problem_mark, "%s%s", problem, hint);
}

static int yp_event(yp *p, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&p->parser, ev))
        return yp_parser_error(p);
    return 0;
}

/* ---- anchors ---- */

/* Starts a definition; returns its index + 1, or 0 when the node has no anchor. */
static size_t yp_anchor_begin(yp *p, const yaml_char_t *name)
{
    if (!name)
        return 0;
    if (p->nanchors == p->capanchors) {
        p->capanchors = p->capanchors ? p->capanchors * 2 : 16;
        p->anchors = twin_xrealloc(p->anchors, p->capanchors * sizeof *p->anchors);
    }
    p->anchors[p->nanchors++] = (yp_anchor){NULL, {0, 0, 0}};
    twin_map_put(&p->anchor_ix, (const char *)name, (void *)(uintptr_t)p->nanchors);
    return p->nanchors;
}

static void yp_anchor_end(yp *p, size_t ix, json_t *v, yp_size size)
{
    if (!ix)
        return;
    p->anchors[ix - 1].value = json_incref(v);
    p->anchors[ix - 1].size = size;
}

static void yp_anchors_reset(yp *p)
{
    for (size_t i = 0; i < p->nanchors; i++)
        json_decref(p->anchors[i].value);
    p->nanchors = 0;
    twin_map_clear(&p->anchor_ix, NULL);
    p->alias_nodes = p->alias_bytes = 0;
}

/* Finds the anchor an alias names and charges its size to the document's alias budget. */
static int yp_anchor_use(yp *p, const yaml_event_t *ev, const yp_anchor **out)
{
    const char *name = (const char *)ev->data.alias.anchor;
    uintptr_t ix = (uintptr_t)twin_map_get(&p->anchor_ix, name);
    if (!ix)
        return yp_fail(p, ev->start_mark, "unknown anchor '%s' referenced", name);
    const yp_anchor *a = &p->anchors[ix - 1];
    if (!a->value)
        return yp_fail(p, ev->start_mark, "anchor '%s' value contains itself", name);
    p->alias_nodes += a->size.nodes;
    p->alias_bytes += a->size.bytes;
    if (p->alias_nodes > YP_MAX_ALIAS_NODES)
        return yp_fail(p, ev->start_mark, "alias '*%s' exceeds the limit of %d nodes copied by "
                       "aliases in document %d", name, YP_MAX_ALIAS_NODES, p->docno);
    if (p->alias_bytes > YP_MAX_ALIAS_BYTES)
        return yp_fail(p, ev->start_mark, "alias '*%s' exceeds the limit of %zu bytes copied by "
                       "aliases in document %d", name, YP_MAX_ALIAS_BYTES, p->docno);
    *out = a;
    return 0;
}

/* ---- scalars ---- */

enum yp_kind { K_NULL, K_BOOL, K_INT, K_BIGINT, K_FLOAT, K_NONFINITE, K_STR };

typedef struct yp_val {
    enum yp_kind kind;
    int b;          /* K_BOOL; for K_NONFINITE: +1 inf, -1 -inf, 0 nan */
    long long i;    /* K_INT */
    double d;       /* K_FLOAT, and K_BIGINT (an integer beyond int64, as a real) */
} yp_val;

/*
 * go-yaml v2's resolve table. The YAML 1.1 booleans (y, yes, on, n, no, off)
 * are here because go-yaml v2, which kubectl's sigs.k8s.io/yaml is built on,
 * has them: `enabled: yes` reaches the API server as true.
 */
static const struct {
    const char *word;
    enum yp_kind kind;
    int b;
} yp_words[] = {
    {"y", K_BOOL, 1},         {"Y", K_BOOL, 1},         {"yes", K_BOOL, 1},
    {"Yes", K_BOOL, 1},       {"YES", K_BOOL, 1},       {"true", K_BOOL, 1},
    {"True", K_BOOL, 1},      {"TRUE", K_BOOL, 1},      {"on", K_BOOL, 1},
    {"On", K_BOOL, 1},        {"ON", K_BOOL, 1},        {"n", K_BOOL, 0},
    {"N", K_BOOL, 0},         {"no", K_BOOL, 0},        {"No", K_BOOL, 0},
    {"NO", K_BOOL, 0},        {"false", K_BOOL, 0},     {"False", K_BOOL, 0},
    {"FALSE", K_BOOL, 0},     {"off", K_BOOL, 0},       {"Off", K_BOOL, 0},
    {"OFF", K_BOOL, 0},       {"~", K_NULL, 0},         {"null", K_NULL, 0},
    {"Null", K_NULL, 0},      {"NULL", K_NULL, 0},      {".nan", K_NONFINITE, 0},
    {".NaN", K_NONFINITE, 0}, {".NAN", K_NONFINITE, 0}, {".inf", K_NONFINITE, 1},
    {".Inf", K_NONFINITE, 1}, {".INF", K_NONFINITE, 1}, {"+.inf", K_NONFINITE, 1},
    {"+.Inf", K_NONFINITE, 1}, {"+.INF", K_NONFINITE, 1}, {"-.inf", K_NONFINITE, -1},
    {"-.Inf", K_NONFINITE, -1}, {"-.INF", K_NONFINITE, -1},
};

static int yp_isdigit(char c)
{
    return c >= '0' && c <= '9';
}

/* go-yaml's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static int yp_float_syntax(const char *t, size_t n)
{
    size_t i = 0, d;
    if (i < n && (t[i] == '+' || t[i] == '-'))
        i++;
    if (i < n && t[i] == '.') {
        for (d = ++i; i < n && yp_isdigit(t[i]); i++)
            ;
        if (i == d)
            return 0;
    } else {
        for (d = i; i < n && yp_isdigit(t[i]); i++)
            ;
        if (i == d)
            return 0;
        if (i < n && t[i] == '.')
            for (i++; i < n && yp_isdigit(t[i]); i++)
                ;
    }
    if (i < n && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        if (i < n && (t[i] == '+' || t[i] == '-'))
            i++;
        for (d = i; i < n && yp_isdigit(t[i]); i++)
            ;
        if (i == d)
            return 0;
    }
    return i == n;
}

/* A real from text that passed yp_float_syntax (NUL-terminated right after); Go's ParseFloat
 * fails on overflow, which makes go-yaml keep the scalar as a string. */
static void yp_float(const char *t, yp_val *v)
{
    double d = strtod(t, NULL);
    if (isinf(d))
        return;
    v->kind = K_FLOAT;
    v->d = d;
}

/*
 * Go's strconv.ParseInt(t, 0, 64), then ParseUint(t, 0, 64): optional sign,
 * then 0x / 0o / 0b / a leading 0 (octal) or decimal digits. Returns -1 if t
 * is not such an integer or does not fit.
 */
static int yp_int(const char *t, size_t n, yp_val *v)
{
    size_t i = 0;
    int neg = 0, sign = 0;
    if (t[i] == '+' || t[i] == '-') {
        neg = t[i] == '-';
        sign = 1;
        i++;
    }
    unsigned base = 10;
    if (n - i >= 2 && t[i] == '0') {
        char x = t[i + 1];
        if (x == 'x' || x == 'X')
            base = 16, i += 2;
        else if (x == 'o' || x == 'O')
            base = 8, i += 2;
        else if (x == 'b' || x == 'B')
            base = 2, i += 2;
        else
            base = 8, i += 1;
    }
    if (i == n)
        return -1;
    unsigned long long u = 0;
    for (; i < n; i++) {
        char c = t[i];
        unsigned dv = yp_isdigit(c) ? (unsigned)(c - '0')
                    : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                    : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 99;
        if (dv >= base || u > (ULLONG_MAX - dv) / base)
            return -1;
        u = u * base + dv;
    }
    if (!neg && u <= (unsigned long long)LLONG_MAX) {
        v->kind = K_INT;
        v->i = (long long)u;
    } else if (neg && u <= (unsigned long long)LLONG_MAX + 1) {
        v->kind = K_INT;
        v->i = u == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)u;
    } else if (!sign) {
        v->kind = K_BIGINT;   /* ParseUint takes no sign */
        v->d = (double)u;
    } else {
        return -1;
    }
    return 0;
}

/* The type of an untagged plain scalar, as go-yaml v2's resolve("", s). */
static void yp_resolve_plain(const char *s, size_t n, yp_val *v)
{
    v->kind = K_STR;
    if (n == 0) {
        v->kind = K_NULL;
        return;
    }
    for (size_t i = 0; n <= 6 && i < sizeof yp_words / sizeof yp_words[0]; i++) {
        if (strlen(yp_words[i].word) == n && !memcmp(yp_words[i].word, s, n)) {
            v->kind = yp_words[i].kind;
            v->b = yp_words[i].b;
            return;
        }
    }
    if (s[0] == '.') {
        if (yp_float_syntax(s, n))
            yp_float(s, v);   /* libyaml NUL-terminates every scalar */
        return;
    }
    if (!(yp_isdigit(s[0]) || s[0] == '+' || s[0] == '-'))
        return;
    /* Numbers may carry '_' separators anywhere: go-yaml drops them all. */
    char *t = twin_xmalloc(n + 1);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_')
            t[m++] = s[i];
    t[m] = '\0';
    if (m && yp_int(t, m, v) < 0 && yp_float_syntax(t, m))
        yp_float(t, v);
    free(t);
}

static const char *yp_kind_tag(enum yp_kind k)
{
    switch (k) {
    case K_NULL:
        return "!!null";
    case K_BOOL:
        return "!!bool";
    case K_INT:
    case K_BIGINT:
        return "!!int";
    case K_FLOAT:
    case K_NONFINITE:
        return "!!float";
    case K_STR:
        break;
    }
    return "!!str";
}

/* Types a scalar event: untagged plain scalars by their text, quoted and block ones are
 * strings, explicit core-schema tags are checked against the text. */
static int yp_resolve(yp *p, const yaml_event_t *ev, yp_val *v)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    v->kind = K_STR;
    if (!tag) {
        if (ev->data.scalar.plain_implicit)
            yp_resolve_plain(s, n, v);
        return 0;
    }
    if (strncmp(tag, YP_TAG, strlen(YP_TAG)) != 0)
        return 0;   /* local and non-specific ('!') tags leave a string, as in go-yaml */
    const char *t = tag + strlen(YP_TAG);
    enum yp_kind want;
    if (!strcmp(t, "int"))
        want = K_INT;
    else if (!strcmp(t, "float"))
        want = K_FLOAT;
    else if (!strcmp(t, "bool"))
        want = K_BOOL;
    else if (!strcmp(t, "null"))
        want = K_NULL;
    else if (!strcmp(t, "binary"))
        return yp_fail(p, ev->start_mark, "!!binary scalars are not supported");
    else
        return 0;   /* !!str, !!timestamp and the rest: the text as is */

    yp_resolve_plain(s, n, v);
    if (want == K_INT && v->kind == K_BIGINT)
        return 0;
    if (want == K_FLOAT && (v->kind == K_INT || v->kind == K_BIGINT)) {
        v->d = v->kind == K_INT ? (double)v->i : v->d;
        v->kind = K_FLOAT;
        return 0;
    }
    if (v->kind == want || (want == K_FLOAT && v->kind == K_NONFINITE))
        return 0;
    return yp_fail(p, ev->start_mark, "cannot decode %s `%.*s%s` as a !!%s", yp_kind_tag(v->kind),
                   (int)(n > YP_MAX_SHOWN ? YP_MAX_SHOWN : n), s, n > YP_MAX_SHOWN ? "..." : "", t);
}

/* The JSON value of a typed scalar: a new reference. */
static int yp_value(yp *p, const yaml_event_t *ev, const yp_val *v, json_t **out)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    switch (v->kind) {
    case K_NULL:
        *out = json_null();
        return 0;
    case K_BOOL:
        *out = json_boolean(v->b);
        return 0;
    case K_INT:
        *out = yp_j(json_integer(v->i));
        return 0;
    case K_BIGINT:
    case K_FLOAT:
        *out = yp_j(json_real(v->d));
        return 0;
    case K_NONFINITE:
        return yp_fail(p, ev->start_mark, "%.*s: infinity and NaN cannot be represented in JSON",
                       (int)n, s);
    case K_STR:
        break;
    }
    *out = json_stringn(s, n);
    if (!*out)   /* libyaml hands out UTF-8 only, so this is memory */
        yp_oom();
    return 0;
}

static int yp_scalar(yp *p, const yaml_event_t *ev, json_t **out, yp_size *size)
{
    yp_val v;
    if (yp_resolve(p, ev, &v) < 0 || yp_value(p, ev, &v, out) < 0)
        return -1;
    *size = (yp_size){1, ev->data.scalar.length, 0};
    yp_anchor_end(p, yp_anchor_begin(p, ev->data.scalar.anchor), *out, *size);
    return 0;
}

/* ---- mapping keys ---- */

/*
 * A real as sigs.k8s.io/yaml prints a float key: strconv.FormatFloat(f, 'g',
 * -1, 32), i.e. the shortest digits that give back the same float32, in
 * exponent form when the exponent is below -4 or at least 6 ("1e+06").
 */
static void yp_float_key(double d, char *buf, size_t len)
{
    float f = (float)d;
    if (isnan(f) || isinf(f)) {
        snprintf(buf, len, "%s", isnan(f) ? ".nan" : f > 0 ? ".inf" : "-.inf");
        return;
    }
    if (f == 0) {
        snprintf(buf, len, "%s", signbit(f) ? "-0" : "0");
        return;
    }
    char e[40];
    for (int prec = 0; prec < 9; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, (double)f);
        if ((float)strtod(e, NULL) == f)
            break;
    }
    /* e is "[-]d[.ddd]e(+|-)xx" */
    char digits[16];
    size_t nd = 0;
    const char *q = e;
    int neg = *q == '-';
    if (neg)
        q++;
    for (; *q && *q != 'e'; q++)
        if (yp_isdigit(*q) && nd < sizeof digits - 1)
            digits[nd++] = *q;
    digits[nd] = '\0';
    int exp = atoi(q + 1);
    if (exp < -4 || exp >= 6) {
        snprintf(buf, len, "%s%c%s%se%c%02d", neg ? "-" : "", digits[0], nd > 1 ? "." : "",
                 digits + 1, exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        snprintf(buf, len, "%s0.%.*s%s", neg ? "-" : "", -exp - 1, "0000", digits);
    } else if ((size_t)exp + 1 >= nd) {
        snprintf(buf, len, "%s%s%.*s", neg ? "-" : "", digits, (int)((size_t)exp + 1 - nd), "000000");
    } else {
        snprintf(buf, len, "%s%.*s.%s", neg ? "-" : "", exp + 1, digits, digits + exp + 1);
    }
}

/* The text of a typed key, as a new string. */
static char *yp_key_text(yp *p, yaml_mark_t m, const yp_val *v, const char *s, size_t n)
{
    char buf[64];
    switch (v->kind) {
    case K_NULL:
        yp_fail(p, m, "mapping key is null");
        return NULL;
    case K_BOOL:
        return twin_xstrdup(v->b ? "true" : "false");
    case K_INT:
        snprintf(buf, sizeof buf, "%lld", v->i);
        return twin_xstrdup(buf);
    case K_BIGINT:
        yp_fail(p, m, "mapping key %.*s is an integer beyond int64", (int)n, s);
        return NULL;
    case K_FLOAT:
        yp_float_key(v->d, buf, sizeof buf);
        return twin_xstrdup(buf);
    case K_NONFINITE:
        yp_float_key(v->b > 0 ? INFINITY : v->b < 0 ? -INFINITY : NAN, buf, sizeof buf);
        return twin_xstrdup(buf);
    case K_STR:
        break;
    }
    if (memchr(s, '\0', n)) {
        yp_fail(p, m, "mapping key contains a NUL character");
        return NULL;
    }
    return twin_xstrdup(s);
}

/* The key text of an aliased value. */
static char *yp_alias_key_text(yp *p, yaml_mark_t m, const json_t *j)
{
    char buf[64];
    switch (json_typeof(j)) {
    case JSON_STRING:
        if (strlen(json_string_value(j)) != json_string_length(j)) {
            yp_fail(p, m, "mapping key contains a NUL character");
            return NULL;
        }
        return twin_xstrdup(json_string_value(j));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return twin_xstrdup(buf);
    case JSON_REAL:
        yp_float_key(json_real_value(j), buf, sizeof buf);
        return twin_xstrdup(buf);
    case JSON_TRUE:
    case JSON_FALSE:
        return twin_xstrdup(json_is_true(j) ? "true" : "false");
    case JSON_NULL:
        yp_fail(p, m, "mapping key is null");
        return NULL;
    case JSON_OBJECT:
    case JSON_ARRAY:
        break;
    }
    yp_fail(p, m, "mapping key must be a scalar, not a %s",
            json_is_object(j) ? "mapping" : "sequence");
    return NULL;
}

/*
 * Reads a mapping key from its event: *key becomes a new string, or *merge is
 * set for a merge key (a plain `<<`, or `!!merge <<`).
 */
static int yp_key(yp *p, const yaml_event_t *ev, char **key, int *merge, size_t *bytes)
{
    *merge = 0;
    if (ev->type == YAML_SCALAR_EVENT) {
        const char *tag = (const char *)ev->data.scalar.tag;
        const char *s = (const char *)ev->data.scalar.value;
        size_t n = ev->data.scalar.length;
        if (n == 2 && !memcmp(s, "<<", 2) &&
            (tag ? !strcmp(tag, YP_TAG "merge") : ev->data.scalar.plain_implicit)) {
            *merge = 1;
            return 0;
        }
        yp_val v;
        if (yp_resolve(p, ev, &v) < 0)
            return -1;
        if (ev->data.scalar.anchor) {   /* `&k key: ...` may be aliased later, as a value too */
            json_t *j;
            if (yp_value(p, ev, &v, &j) < 0)
                return -1;
            yp_anchor_end(p, yp_anchor_begin(p, ev->data.scalar.anchor), j, (yp_size){1, n, 0});
            json_decref(j);
        }
        *key = yp_key_text(p, ev->start_mark, &v, s, n);
    } else if (ev->type == YAML_ALIAS_EVENT) {
        const yp_anchor *a;
        if (yp_anchor_use(p, ev, &a) < 0)
            return -1;
        *key = yp_alias_key_text(p, ev->start_mark, a->value);
    } else {
        return yp_fail(p, ev->start_mark, "mapping key must be a scalar, not a %s",
                       ev->type == YAML_SEQUENCE_START_EVENT ? "sequence" : "mapping");
    }
    if (!*key)
        return -1;
    *bytes = strlen(*key);
    return 0;
}

/* ---- nodes ---- */

static int yp_node(yp *p, yaml_event_t *ev, int depth, json_t **out, yp_size *size);

static void yp_size_add(yp_size *total, int *tallest, yp_size child)
{
    total->nodes += child.nodes;
    total->bytes += child.bytes;
    if (child.height > *tallest)
        *tallest = child.height;
}

static int yp_sequence(yp *p, const yaml_event_t *ev, int depth, json_t **out, yp_size *size)
{
    if (depth > YP_MAX_DEPTH)
        return yp_fail(p, ev->start_mark, "nesting deeper than %d levels", YP_MAX_DEPTH);
    size_t ix = yp_anchor_begin(p, ev->data.sequence_start.anchor);
    json_t *arr = yp_j(json_array());
    yp_size total = {1, 0, 0};
    int tallest = 0;
    for (;;) {
        yaml_event_t cev;
        if (yp_event(p, &cev) < 0)
            goto fail;
        if (cev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&cev);
            break;
        }
        json_t *item;
        yp_size isz;
        if (yp_node(p, &cev, depth + 1, &item, &isz) < 0)
            goto fail;
        yp_size_add(&total, &tallest, isz);
        yp_jrc(json_array_append_new(arr, item));
    }
    total.height = tallest + 1;
    yp_anchor_end(p, ix, arr, total);
    *out = arr;
    *size = total;
    return 0;

fail:
    json_decref(arr);
    return -1;
}

/* Collects the mappings a `<<` value names, in precedence order. */
static int yp_merge_collect(yp *p, yaml_mark_t m, json_t *val, json_t *sources)
{
    size_t i;
    json_t *e;
    if (json_is_object(val)) {
        yp_jrc(json_array_append(sources, val));
        return 0;
    }
    if (json_is_array(val)) {
        json_array_foreach(val, i, e) {
            if (!json_is_object(e))
                return yp_fail(p, m, "merge key '<<' needs a mapping or a sequence of mappings "
                               "(item %zu is not a mapping)", i);
        }
        json_array_foreach(val, i, e)
            yp_jrc(json_array_append(sources, e));
        return 0;
    }
    return yp_fail(p, m, "merge key '<<' needs a mapping or a sequence of mappings");
}

static int yp_mapping(yp *p, const yaml_event_t *ev, int depth, json_t **out, yp_size *size)
{
    if (depth > YP_MAX_DEPTH)
        return yp_fail(p, ev->start_mark, "nesting deeper than %d levels", YP_MAX_DEPTH);
    size_t ix = yp_anchor_begin(p, ev->data.mapping_start.anchor);
    int rc = -1;
    json_t *obj = yp_j(json_object());
    json_t *sources = NULL;   /* mappings named by `<<`, earlier ones first */
    char *key = NULL;
    yp_size total = {1, 0, 0};
    int tallest = 0;
    for (;;) {
        yaml_event_t kev, vev;
        if (yp_event(p, &kev) < 0)
            goto cleanup;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            break;
        }
        yaml_mark_t kmark = kev.start_mark;
        int merge;
        size_t kbytes = 0;
        int krc = yp_key(p, &kev, &key, &merge, &kbytes);
        yaml_event_delete(&kev);
        if (krc < 0 || yp_event(p, &vev) < 0)
            goto cleanup;
        yaml_mark_t vmark = vev.start_mark;
        json_t *val;
        yp_size vsz;
        if (yp_node(p, &vev, depth + 1, &val, &vsz) < 0)
            goto cleanup;
        yp_size_add(&total, &tallest, vsz);
        total.nodes++;
        total.bytes += kbytes;
        if (merge) {
            if (!sources)
                sources = yp_j(json_array());
            int mrc = yp_merge_collect(p, vmark, val, sources);
            json_decref(val);
            if (mrc < 0)
                goto cleanup;
            continue;
        }
        if (json_object_get(obj, key)) {
            yp_fail(p, kmark, "duplicate key \"%s\"", key);
            json_decref(val);
            goto cleanup;
        }
        yp_jrc(json_object_set_new(obj, key, val));
        free(key);
        key = NULL;
    }

    /* Keys written in the mapping win over merged ones, whatever their order. */
    size_t i;
    json_t *src;
    json_array_foreach(sources, i, src) {
        const char *k;
        json_t *v;
        json_object_foreach(src, k, v) {
            if (!json_object_get(obj, k))
                yp_jrc(json_object_set(obj, k, v));
        }
    }
    total.height = tallest + 1;
    yp_anchor_end(p, ix, obj, total);
    *out = obj;
    *size = total;
    obj = NULL;
    rc = 0;

cleanup:
    free(key);
    json_decref(sources);
    json_decref(obj);
    return rc;
}

static int yp_alias(yp *p, const yaml_event_t *ev, int depth, json_t **out, yp_size *size)
{
    const yp_anchor *a;
    if (yp_anchor_use(p, ev, &a) < 0)
        return -1;
    if (a->size.height > 0 && depth + a->size.height - 1 > YP_MAX_DEPTH)
        return yp_fail(p, ev->start_mark, "nesting deeper than %d levels (through alias '*%s')",
                       YP_MAX_DEPTH, (const char *)ev->data.alias.anchor);
    /* A copy, so that no two places in the result share a value a caller might edit. */
    *out = yp_j(json_deep_copy(a->value));
    *size = a->size;
    return 0;
}

/* Builds the node that ev starts; takes ev (deletes it) in every case. */
static int yp_node(yp *p, yaml_event_t *ev, int depth, json_t **out, yp_size *size)
{
    int rc;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        rc = yp_scalar(p, ev, out, size);
        break;
    case YAML_SEQUENCE_START_EVENT:
        rc = yp_sequence(p, ev, depth, out, size);
        break;
    case YAML_MAPPING_START_EVENT:
        rc = yp_mapping(p, ev, depth, out, size);
        break;
    case YAML_ALIAS_EVENT:
        rc = yp_alias(p, ev, depth, out, size);
        break;
    default:
        rc = yp_fail(p, ev->start_mark, "unexpected YAML event %d", (int)ev->type);
        break;
    }
    yaml_event_delete(ev);
    return rc;
}

/* ---- documents ---- */

/* One document, after its DOCUMENT-START: appends its root to docs unless it is null. */
static int yp_document(yp *p, json_t *docs)
{
    yaml_event_t ev;
    if (yp_event(p, &ev) < 0)
        return -1;
    yaml_mark_t m = ev.start_mark;
    if (ev.type == YAML_SEQUENCE_START_EVENT) {
        yaml_event_delete(&ev);
        return yp_fail(p, m, "document %d is not a mapping (it is a sequence)", p->docno);
    }
    json_t *root;
    yp_size size;
    if (yp_node(p, &ev, 1, &root, &size) < 0)
        return -1;
    if (!json_is_object(root) && !json_is_null(root)) {
        json_decref(root);
        return yp_fail(p, m, "document %d is not a mapping", p->docno);
    }
    if (yp_event(p, &ev) < 0) {   /* DOCUMENT-END */
        json_decref(root);
        return -1;
    }
    yaml_event_delete(&ev);
    if (json_is_null(root))
        json_decref(root);
    else
        yp_jrc(json_array_append_new(docs, root));
    return 0;
}

int twin_yaml_parse(json_t **out, const char *buf, size_t len, const char *name, char *err,
                    size_t errlen)
{
    yp p = {0};
    p.name = name ? name : "<input>";
    p.buf = buf ? buf : "";
    p.len = buf ? len : 0;
    p.err = err;
    p.errlen = errlen;
    if (!yaml_parser_initialize(&p.parser))
        yp_oom();
    yaml_parser_set_input_string(&p.parser, (const unsigned char *)p.buf, p.len);

    int rc = -1;
    json_t *docs = yp_j(json_array());
    for (;;) {
        yaml_event_t ev;
        if (yp_event(&p, &ev) < 0)
            goto cleanup;
        yaml_event_type_t type = ev.type;
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT)
            break;
        if (type != YAML_DOCUMENT_START_EVENT)
            continue;   /* STREAM-START */
        p.docno++;
        yp_anchors_reset(&p);
        if (yp_document(&p, docs) < 0)
            goto cleanup;
    }
    *out = docs;
    docs = NULL;
    rc = 0;

cleanup:
    json_decref(docs);
    yp_anchors_reset(&p);
    free(p.anchors);
    yaml_parser_delete(&p.parser);
    return rc;
}
