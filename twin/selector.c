/*
 * selector.c - label selectors (apimachinery labels.Parse, metav1
 * LabelSelectorAsSelector, labels.SelectorFromSet) and field selectors
 * (fields.ParseSelector).
 *
 * A label selector is an array of requirements sorted by key (stable, so two
 * requirements on one key keep their written order). Set values are sorted
 * and deduplicated, which gives both the canonical string and a bsearch for
 * matching.
 */
#include "selector.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum sel_op { OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_EXISTS, OP_NOTEXISTS };

typedef struct sel_req {
    enum sel_op op;
    char *key;
    char **values;   /* sorted, unique; empty for OP_EXISTS / OP_NOTEXISTS */
    size_t nvalues;
} sel_req;

struct twin_selector {
    int nothing;     /* matches no object, whatever the requirements */
    sel_req *reqs;
    size_t nreqs, cap;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- building ---- */

static twin_selector *sel_new(int nothing)
{
    twin_selector *sel = twin_xcalloc(1, sizeof *sel);
    sel->nothing = nothing;
    return sel;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends a requirement; copies key and values, sorts and dedupes values. */
static void sel_add(twin_selector *sel, enum sel_op op, const char *key, const char *const *values,
                    size_t nvalues)
{
    if (sel->nreqs == sel->cap) {
        sel->cap = sel->cap ? sel->cap * 2 : 4;
        sel->reqs = twin_xrealloc(sel->reqs, sel->cap * sizeof *sel->reqs);
    }
    sel_req *r = &sel->reqs[sel->nreqs++];
    r->op = op;
    r->key = twin_xstrdup(key);
    r->values = twin_xcalloc(nvalues ? nvalues : 1, sizeof *r->values);
    for (size_t i = 0; i < nvalues; i++)
        r->values[i] = twin_xstrdup(values[i]);
    qsort(r->values, nvalues, sizeof *r->values, cmp_str);
    size_t w = 0;
    for (size_t i = 0; i < nvalues; i++) {
        if (w && !strcmp(r->values[w - 1], r->values[i]))
            free(r->values[i]);
        else
            r->values[w++] = r->values[i];
    }
    r->nvalues = w;
}

/* Stable insertion sort by key: selectors have a handful of requirements. */
static void sel_sort(twin_selector *sel)
{
    for (size_t i = 1; i < sel->nreqs; i++) {
        sel_req r = sel->reqs[i];
        size_t j = i;
        while (j > 0 && strcmp(sel->reqs[j - 1].key, r.key) > 0) {
            sel->reqs[j] = sel->reqs[j - 1];
            j--;
        }
        sel->reqs[j] = r;
    }
}

void twin_selector_free(twin_selector *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->nreqs; i++) {
        for (size_t k = 0; k < sel->reqs[i].nvalues; k++)
            free(sel->reqs[i].values[k]);
        free(sel->reqs[i].values);
        free(sel->reqs[i].key);
    }
    free(sel->reqs);
    free(sel);
}

/* ---- validation (apimachinery validation.IsQualifiedName, IsValidLabelValue) ---- */

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], the shape of names and values. */
static int is_name_shape(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return 0;
    return 1;
}

/* A lowercase RFC 1123 subdomain: dot-separated labels of [a-z0-9-], alnum at both ends. */
static int is_dns1123_subdomain(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            char c = s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
                return 0;
            continue;
        }
        if (i == start || s[start] == '-' || s[i - 1] == '-')
            return 0;
        start = i + 1;
    }
    return 1;
}

/* Returns NULL if key is a valid label key, else what is wrong with it. */
static const char *label_key_problem(const char *key)
{
    const char *slash = strchr(key, '/');
    const char *name = key;
    if (slash) {
        if (strchr(slash + 1, '/'))
            return "a qualified name may contain at most one '/'";
        size_t np = (size_t)(slash - key);
        if (np == 0)
            return "prefix part must be non-empty";
        if (np > 253)
            return "prefix part must be no more than 253 characters";
        if (!is_dns1123_subdomain(key, np))
            return "prefix part must be a lowercase RFC 1123 subdomain (e.g. 'example.com')";
        name = slash + 1;
    }
    size_t n = strlen(name);
    if (n == 0)
        return "name part must be non-empty";
    if (n > 63)
        return "name part must be no more than 63 characters";
    if (!is_name_shape(name, n))
        return "name part must consist of alphanumeric characters, '-', '_' or '.', "
               "and must start and end with an alphanumeric character";
    return NULL;
}

static const char *label_value_problem(const char *v)
{
    size_t n = strlen(v);
    if (n > 63)
        return "must be no more than 63 characters";
    if (n && !is_name_shape(v, n))
        return "must be empty or consist of alphanumeric characters, '-', '_' or '.', "
               "and must start and end with an alphanumeric character";
    return NULL;
}

/* ---- the string syntax (apimachinery labels/selector.go lexer and parser) ---- */

enum tok { T_ID, T_EOS, T_COMMA, T_OPEN, T_CLOSE, T_NOT, T_EQ, T_DEQ, T_NE, T_GT, T_LT };

typedef struct token {
    enum tok t;
    const char *s;   /* literal, into the source */
    size_t n;
    size_t col;      /* 1-based */
} token;

typedef struct lexer {
    const char *src;
    size_t i;
    char *err;
    size_t errlen;
} lexer;

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_special(char c)
{
    return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

static token lex_next(lexer *lx)
{
    const char *s = lx->src;
    while (is_space(s[lx->i]))
        lx->i++;
    token tk = {T_EOS, s + lx->i, 0, lx->i + 1};
    char c = s[lx->i];
    if (!c)
        return tk;
    if (is_special(c)) {
        char d = s[lx->i + 1];
        tk.n = 1;
        if (c == '=' && d == '=') {
            tk.t = T_DEQ;
            tk.n = 2;
        } else if (c == '!' && d == '=') {
            tk.t = T_NE;
            tk.n = 2;
        } else {
            tk.t = c == '=' ? T_EQ : c == '!' ? T_NOT : c == '(' ? T_OPEN : c == ')' ? T_CLOSE
                 : c == ',' ? T_COMMA : c == '>' ? T_GT : T_LT;
        }
        lx->i += tk.n;
        return tk;
    }
    size_t j = lx->i;
    while (s[j] && !is_space(s[j]) && !is_special(s[j]))
        j++;
    tk.t = T_ID;
    tk.n = j - lx->i;
    lx->i = j;
    return tk;
}

static token lex_peek(lexer *lx)
{
    size_t save = lx->i;
    token tk = lex_next(lx);
    lx->i = save;
    return tk;
}

static int tok_is(const token *tk, const char *word)
{
    return tk->t == T_ID && tk->n == strlen(word) && !memcmp(tk->s, word, tk->n);
}

static int lex_fail(lexer *lx, const token *tk, const char *expected)
{
    if (tk->t == T_EOS)
        set_err(lx->err, lx->errlen, "label selector \"%s\": found end of string, expected %s",
                lx->src, expected);
    else
        set_err(lx->err, lx->errlen, "label selector \"%s\": found '%.*s' at column %zu, expected %s",
                lx->src, (int)tk->n, tk->s, tk->col, expected);
    return -1;
}

/* Copies an identifier token into a new string. */
static char *tok_dup(const token *tk)
{
    char *s = twin_xmalloc(tk->n + 1);
    memcpy(s, tk->s, tk->n);
    s[tk->n] = '\0';
    return s;
}

static int check_key(lexer *lx, const token *tk, const char *key)
{
    const char *why = label_key_problem(key);
    if (!why)
        return 0;
    set_err(lx->err, lx->errlen, "label selector \"%s\": invalid label key \"%s\" at column %zu: %s",
            lx->src, key, tk->col, why);
    return -1;
}

static int check_value(lexer *lx, const token *tk, const char *v)
{
    const char *why = label_value_problem(v);
    if (!why)
        return 0;
    set_err(lx->err, lx->errlen, "label selector \"%s\": invalid label value \"%s\" at column %zu: %s",
            lx->src, v, tk->col, why);
    return -1;
}

/* Values of `in (...)` / `notin (...)`; empty elements are "" as in apimachinery. */
static int parse_set(lexer *lx, char ***vals, size_t *nvals)
{
    token tk = lex_next(lx);
    if (tk.t != T_OPEN)
        return lex_fail(lx, &tk, "'('");
    size_t cap = 0;
    int after_comma = 1;   /* an element may start here */
    for (;;) {
        tk = lex_next(lx);
        char *v;
        if (tk.t == T_ID) {
            if (!after_comma)
                return lex_fail(lx, &tk, "',' or ')'");
            v = tok_dup(&tk);
            if (check_value(lx, &tk, v) < 0) {
                free(v);
                return -1;
            }
            after_comma = 0;
        } else if (tk.t == T_COMMA || tk.t == T_CLOSE) {
            if (!after_comma) {
                if (tk.t == T_CLOSE)
                    return 0;
                after_comma = 1;
                continue;
            }
            v = twin_xstrdup("");   /* "(", ",," or ",)" leave an empty element */
            if (tk.t == T_COMMA)
                after_comma = 1;
        } else {
            return lex_fail(lx, &tk, "',', ')' or a value");
        }
        if (*nvals == cap) {
            cap = cap ? cap * 2 : 4;
            *vals = twin_xrealloc(*vals, cap * sizeof **vals);
        }
        (*vals)[(*nvals)++] = v;
        if (tk.t == T_CLOSE)
            return 0;
    }
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int parse_requirement(lexer *lx, twin_selector *sel)
{
    int rc = -1;
    char *key = NULL;
    char **vals = NULL;
    size_t nvals = 0;

    token tk = lex_next(lx);
    int negated = tk.t == T_NOT;
    if (negated)
        tk = lex_next(lx);
    if (tk.t != T_ID)
        return lex_fail(lx, &tk, "a label key");
    token keytk = tk;
    key = tok_dup(&tk);
    if (check_key(lx, &keytk, key) < 0)
        goto cleanup;

    token next = lex_peek(lx);
    if (negated || next.t == T_EOS || next.t == T_COMMA) {
        /* "!a=b" stops here; the caller then reports the '='. */
        sel_add(sel, negated ? OP_NOTEXISTS : OP_EXISTS, key, NULL, 0);
        rc = 0;
        goto cleanup;
    }

    tk = lex_next(lx);
    enum sel_op op;
    if (tok_is(&tk, "in")) {
        op = OP_IN;
    } else if (tok_is(&tk, "notin")) {
        op = OP_NOTIN;
    } else if (tk.t == T_EQ || tk.t == T_DEQ || tk.t == T_NE) {
        op = tk.t == T_NE ? OP_NE : OP_EQ;
    } else if (tk.t == T_GT || tk.t == T_LT) {
        set_err(lx->err, lx->errlen,
                "label selector \"%s\": operator '%.*s' at column %zu is not supported by the twin",
                lx->src, (int)tk.n, tk.s, tk.col);
        goto cleanup;
    } else {
        lex_fail(lx, &tk, "one of 'in', 'notin', '=', '==', '!=', ',' or end of string");
        goto cleanup;
    }

    if (op == OP_IN || op == OP_NOTIN) {
        if (parse_set(lx, &vals, &nvals) < 0)
            goto cleanup;
    } else {
        next = lex_peek(lx);
        vals = twin_xcalloc(1, sizeof *vals);
        nvals = 1;
        if (next.t == T_EOS || next.t == T_COMMA) {
            vals[0] = twin_xstrdup("");   /* "a=" selects a="" */
        } else {
            tk = lex_next(lx);
            if (tk.t != T_ID) {
                lex_fail(lx, &tk, "a value");
                goto cleanup;
            }
            vals[0] = tok_dup(&tk);
            if (check_value(lx, &tk, vals[0]) < 0)
                goto cleanup;
        }
    }
    sel_add(sel, op, key, (const char *const *)vals, nvals);
    rc = 0;

cleanup:
    free_strv(vals, nvals);
    free(key);
    return rc;
}

int twin_selector_parse(twin_selector **out, const char *s, char *err, size_t errlen)
{
    if (!s)
        s = "";
    lexer lx = {s, 0, err, errlen};
    twin_selector *sel = sel_new(0);

    token tk = lex_peek(&lx);
    if (tk.t != T_EOS) {
        for (;;) {
            if (parse_requirement(&lx, sel) < 0)
                goto fail;
            tk = lex_next(&lx);
            if (tk.t == T_EOS)
                break;
            if (tk.t != T_COMMA) {
                lex_fail(&lx, &tk, "',' or end of string");
                goto fail;
            }
            tk = lex_peek(&lx);
            if (tk.t != T_ID && tk.t != T_NOT) {
                lex_fail(&lx, &tk, "a label key after ','");
                goto fail;
            }
        }
    }
    sel_sort(sel);
    *out = sel;
    return 0;

fail:
    twin_selector_free(sel);
    return -1;
}

/* ---- metav1.LabelSelector and plain maps ---- */

static int expr_op(const char *s, enum sel_op *op)
{
    if (!strcmp(s, "In"))
        *op = OP_IN;
    else if (!strcmp(s, "NotIn"))
        *op = OP_NOTIN;
    else if (!strcmp(s, "Exists"))
        *op = OP_EXISTS;
    else if (!strcmp(s, "DoesNotExist"))
        *op = OP_NOTEXISTS;
    else
        return -1;
    return 0;
}

static int from_json_labels(twin_selector *sel, const json_t *ml, char *err, size_t errlen)
{
    if (!ml || json_is_null(ml))
        return 0;
    if (!json_is_object(ml)) {
        set_err(err, errlen, "matchLabels: must be an object");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)ml, k, v) {
        if (!json_is_string(v)) {
            set_err(err, errlen, "matchLabels.%s: value must be a string", k);
            return -1;
        }
        const char *why = label_key_problem(k);
        if (why) {
            set_err(err, errlen, "matchLabels: invalid label key \"%s\": %s", k, why);
            return -1;
        }
        const char *val = json_string_value(v);
        if ((why = label_value_problem(val))) {
            set_err(err, errlen, "matchLabels.%s: invalid label value \"%s\": %s", k, val, why);
            return -1;
        }
        sel_add(sel, OP_EQ, k, &val, 1);
    }
    return 0;
}

static int from_json_expr(twin_selector *sel, size_t i, const json_t *e, char *err, size_t errlen)
{
    if (!json_is_object(e)) {
        set_err(err, errlen, "matchExpressions[%zu]: must be an object", i);
        return -1;
    }
    const json_t *jk = json_object_get(e, "key");
    const json_t *jop = json_object_get(e, "operator");
    const json_t *jv = json_object_get(e, "values");
    if (!json_is_string(jk)) {
        set_err(err, errlen, "matchExpressions[%zu].key: %s", i,
                jk ? "must be a string" : "required value");
        return -1;
    }
    const char *key = json_string_value(jk);
    const char *why = label_key_problem(key);
    if (why) {
        set_err(err, errlen, "matchExpressions[%zu].key: invalid label key \"%s\": %s", i, key, why);
        return -1;
    }
    if (!json_is_string(jop)) {
        set_err(err, errlen, "matchExpressions[%zu].operator: %s", i,
                jop ? "must be a string" : "required value");
        return -1;
    }
    enum sel_op op;
    if (expr_op(json_string_value(jop), &op) < 0) {
        set_err(err, errlen, "matchExpressions[%zu].operator: \"%s\" is not a valid label selector "
                "operator (In, NotIn, Exists, DoesNotExist)", i, json_string_value(jop));
        return -1;
    }
    if (jv && !json_is_null(jv) && !json_is_array(jv)) {
        set_err(err, errlen, "matchExpressions[%zu].values: must be an array of strings", i);
        return -1;
    }
    size_t n = json_is_array(jv) ? json_array_size(jv) : 0;
    if ((op == OP_IN || op == OP_NOTIN) && n == 0) {
        set_err(err, errlen, "matchExpressions[%zu].values: must be non-empty for operator %s", i,
                json_string_value(jop));
        return -1;
    }
    if ((op == OP_EXISTS || op == OP_NOTEXISTS) && n != 0) {
        set_err(err, errlen, "matchExpressions[%zu].values: must be empty for operator %s", i,
                json_string_value(jop));
        return -1;
    }
    const char **vals = twin_xcalloc(n ? n : 1, sizeof *vals);
    for (size_t k = 0; k < n; k++) {
        const json_t *v = json_array_get(jv, k);
        if (!json_is_string(v)) {
            set_err(err, errlen, "matchExpressions[%zu].values[%zu]: must be a string", i, k);
            free(vals);
            return -1;
        }
        vals[k] = json_string_value(v);
        if ((why = label_value_problem(vals[k]))) {
            set_err(err, errlen, "matchExpressions[%zu].values[%zu]: invalid label value \"%s\": %s",
                    i, k, vals[k], why);
            free(vals);
            return -1;
        }
    }
    sel_add(sel, op, key, vals, n);
    free(vals);
    return 0;
}

int twin_selector_from_json(twin_selector **out, const json_t *ls, char *err, size_t errlen)
{
    if (!ls || json_is_null(ls)) {
        *out = sel_new(1);
        return 0;
    }
    if (!json_is_object(ls)) {
        set_err(err, errlen, "label selector: must be an object");
        return -1;
    }
    twin_selector *sel = sel_new(0);
    if (from_json_labels(sel, json_object_get(ls, "matchLabels"), err, errlen) < 0)
        goto fail;
    const json_t *me = json_object_get(ls, "matchExpressions");
    if (me && !json_is_null(me)) {
        if (!json_is_array(me)) {
            set_err(err, errlen, "matchExpressions: must be an array");
            goto fail;
        }
        for (size_t i = 0; i < json_array_size(me); i++)
            if (from_json_expr(sel, i, json_array_get(me, i), err, errlen) < 0)
                goto fail;
    }
    sel_sort(sel);
    *out = sel;
    return 0;

fail:
    twin_selector_free(sel);
    return -1;
}

int twin_selector_from_map(twin_selector **out, const json_t *map)
{
    if (!map || json_is_null(map) || (json_is_object(map) && json_object_size(map) == 0)) {
        *out = sel_new(1);
        return 0;
    }
    if (!json_is_object(map))
        return -1;
    twin_selector *sel = sel_new(0);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)map, k, v) {
        if (!json_is_string(v)) {
            twin_selector_free(sel);
            return -1;
        }
        const char *val = json_string_value(v);
        sel_add(sel, OP_EQ, k, &val, 1);
    }
    sel_sort(sel);
    *out = sel;
    return 0;
}

/* ---- queries ---- */

static int in_set(const sel_req *r, const char *v)
{
    return bsearch(&v, r->values, r->nvalues, sizeof *r->values, cmp_str) != NULL;
}

int twin_selector_matches(const twin_selector *sel, const json_t *labels)
{
    if (!sel || sel->nothing)
        return 0;
    for (size_t i = 0; i < sel->nreqs; i++) {
        const sel_req *r = &sel->reqs[i];
        const json_t *lv = json_is_object(labels) ? json_object_get(labels, r->key) : NULL;
        const char *sv = json_is_string(lv) ? json_string_value(lv) : NULL;
        switch (r->op) {
        case OP_EQ:
        case OP_IN:
            if (!sv || !in_set(r, sv))
                return 0;
            break;
        case OP_NE:
        case OP_NOTIN:
            if (sv && in_set(r, sv))
                return 0;
            break;
        case OP_EXISTS:
            if (!lv)
                return 0;
            break;
        case OP_NOTEXISTS:
            if (lv)
                return 0;
            break;
        }
    }
    return 1;
}

int twin_selector_matches_nothing(const twin_selector *sel)
{
    return !sel || sel->nothing;
}

int twin_selector_matches_everything(const twin_selector *sel)
{
    return sel && !sel->nothing && sel->nreqs == 0;
}

int twin_selector_equality(const twin_selector *sel, const char **key, const char **value)
{
    if (!sel || sel->nothing)
        return 0;
    for (size_t i = 0; i < sel->nreqs; i++) {
        const sel_req *r = &sel->reqs[i];
        if ((r->op == OP_EQ || r->op == OP_IN) && r->nvalues == 1) {
            *key = r->key;
            *value = r->values[0];
            return 1;
        }
    }
    return 0;
}

char *twin_selector_string(const twin_selector *sel)
{
    if (!sel || sel->nothing)
        return twin_xstrdup("<nothing>");
    twin_buf b = {0};
    twin_buf_add(&b, "", 0);
    for (size_t i = 0; i < sel->nreqs; i++) {
        const sel_req *r = &sel->reqs[i];
        if (i)
            twin_buf_add(&b, ",", 1);
        if (r->op == OP_NOTEXISTS)
            twin_buf_add(&b, "!", 1);
        twin_buf_add(&b, r->key, strlen(r->key));
        static const char *const opstr[] = {"=", "!=", " in (", " notin (", "", ""};
        twin_buf_add(&b, opstr[r->op], strlen(opstr[r->op]));
        for (size_t k = 0; k < r->nvalues; k++) {
            if (k)
                twin_buf_add(&b, ",", 1);
            twin_buf_add(&b, r->values[k], strlen(r->values[k]));
        }
        if (r->op == OP_IN || r->op == OP_NOTIN)
            twin_buf_add(&b, ")", 1);
    }
    return b.s;
}

/* ---- field selectors ---- */

typedef struct fs_term {
    char *path;    /* dotted, no empty segments */
    char *value;   /* unescaped */
    int negated;   /* != */
} fs_term;

struct twin_fieldsel {
    fs_term *terms;
    size_t n;
};

void twin_fieldsel_free(twin_fieldsel *fs)
{
    if (!fs)
        return;
    for (size_t i = 0; i < fs->n; i++) {
        free(fs->terms[i].path);
        free(fs->terms[i].value);
    }
    free(fs->terms);
    free(fs);
}

static void trim(const char **s, size_t *n)
{
    while (*n && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_space((*s)[*n - 1]))
        (*n)--;
}

/* fields.UnescapeValue: "\\", "\," and "\=" are escapes; a bare ',' or '=' is an error. */
static char *fs_unescape(const char *s, size_t n, const char **problem)
{
    char *v = twin_xmalloc(n + 1);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            if (i + 1 == n || (s[i + 1] != '\\' && s[i + 1] != ',' && s[i + 1] != '=')) {
                *problem = "invalid escape sequence (only \\\\, \\, and \\= are allowed)";
                free(v);
                return NULL;
            }
            v[w++] = s[++i];
        } else if (s[i] == '=' || s[i] == ',') {
            *problem = "unescaped '=' or ',' in the value (escape it with '\\')";
            free(v);
            return NULL;
        } else {
            v[w++] = s[i];
        }
    }
    v[w] = '\0';
    return v;
}

/* One "field op value" term; s/n exclude the separating commas. */
static int fs_add_term(twin_fieldsel *fs, size_t *cap, const char *src, const char *s, size_t n,
                       char *err, size_t errlen)
{
    trim(&s, &n);
    if (n == 0)
        return 0;   /* "a=b,,c=d" and "" are fine, as in Kubernetes */
    /* splitTerm: the first "!=", "==" or "=" from the left; the field has no escapes. */
    size_t i, oplen = 0;
    int negated = 0;
    for (i = 0; i < n; i++) {
        if (s[i] == '!' && i + 1 < n && s[i + 1] == '=') {
            oplen = 2;
            negated = 1;
            break;
        }
        if (s[i] == '=') {
            oplen = i + 1 < n && s[i + 1] == '=' ? 2 : 1;
            break;
        }
    }
    if (!oplen) {
        set_err(err, errlen, "field selector \"%s\": can't understand \"%.*s\" (expected field=value, "
                "field==value or field!=value)", src, (int)n, s);
        return -1;
    }
    const char *f = s, *v = s + i + oplen;
    size_t nf = i, nv = n - i - oplen;
    trim(&f, &nf);
    trim(&v, &nv);
    int bad_path = nf == 0 || f[0] == '.' || f[nf - 1] == '.';
    for (size_t k = 0; k + 1 < nf && !bad_path; k++)
        bad_path = f[k] == '.' && f[k + 1] == '.';
    if (bad_path) {
        set_err(err, errlen, "field selector \"%s\": bad field path \"%.*s\" in \"%.*s\"", src, (int)nf,
                f, (int)n, s);
        return -1;
    }
    const char *problem = NULL;
    char *value = fs_unescape(v, nv, &problem);
    if (!value) {
        set_err(err, errlen, "field selector \"%s\": value of %.*s: %s", src, (int)nf, f, problem);
        return -1;
    }
    if (fs->n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        fs->terms = twin_xrealloc(fs->terms, *cap * sizeof *fs->terms);
    }
    fs_term *t = &fs->terms[fs->n++];
    t->path = twin_xmalloc(nf + 1);
    memcpy(t->path, f, nf);
    t->path[nf] = '\0';
    t->value = value;
    t->negated = negated;
    return 0;
}

int twin_fieldsel_parse(twin_fieldsel **out, const char *s, char *err, size_t errlen)
{
    if (!s)
        s = "";
    twin_fieldsel *fs = twin_xcalloc(1, sizeof *fs);
    size_t cap = 0, start = 0;
    for (size_t i = 0;; i++) {
        if (s[i] == '\\' && s[i + 1]) {   /* splitTerms: an escaped ',' does not split */
            i++;
            continue;
        }
        if (s[i] == ',' || !s[i]) {
            if (fs_add_term(fs, &cap, s, s + start, i - start, err, errlen) < 0) {
                twin_fieldsel_free(fs);
                return -1;
            }
            if (!s[i])
                break;
            start = i + 1;
        }
    }
    *out = fs;
    return 0;
}

/* The field's value as text: string as is, scalar by its JSON text, missing/null "". */
static int fs_compare(const json_t *obj, const fs_term *t)
{
    const json_t *v = obj;
    const char *p = t->path;
    char seg[256];
    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof seg || !json_is_object(v)) {
            v = NULL;
            break;
        }
        memcpy(seg, p, n);
        seg[n] = '\0';
        v = json_object_get(v, seg);
        p += n + (dot ? 1 : 0);
    }
    int eq;
    if (!v || json_is_null(v)) {
        eq = t->value[0] == '\0';
    } else if (json_is_string(v)) {
        eq = !strcmp(json_string_value(v), t->value);
    } else if (json_is_object(v) || json_is_array(v)) {
        eq = 0;
    } else {
        char *text = json_dumps(v, JSON_ENCODE_ANY);
        if (!text)
            abort();   /* out of memory: the application-wide policy */
        eq = !strcmp(text, t->value);
        free(text);
    }
    return eq;
}

int twin_fieldsel_matches(const twin_fieldsel *fs, const json_t *obj)
{
    if (!fs)
        return 0;
    for (size_t i = 0; i < fs->n; i++)
        if (fs_compare(obj, &fs->terms[i]) == fs->terms[i].negated)
            return 0;
    return 1;
}

int twin_selectors_parse(twin_selector **sel, twin_fieldsel **fs, const char *label_selector,
                         const char *field_selector, char *err, size_t errlen)
{
    *sel = NULL;
    *fs = NULL;
    if (twin_selector_parse(sel, label_selector ? label_selector : "", err, errlen) < 0)
        return -1;
    if (field_selector && *field_selector && twin_fieldsel_parse(fs, field_selector, err, errlen) < 0) {
        twin_selector_free(*sel);
        *sel = NULL;
        return -1;
    }
    return 0;
}
