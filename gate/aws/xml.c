/*
 * gate/aws/xml.c - the strict XML reader of xml.h: one pass over the bytes
 * with an explicit stack of open elements.
 */
#include "gate/aws/xml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/util.h"

typedef struct xp {
    const char *s;
    size_t len, pos;
    char *err;
    size_t errlen;
} xp;

static int fail(xp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(xp *p, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "XML: %s at byte %zu", msg, p->pos);
    return -1;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int name_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' || c >= 0x80;
}

static int name_char(unsigned char c)
{
    return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static int starts(const xp *p, const char *lit)
{
    size_t n = strlen(lit);
    return p->len - p->pos >= n && !memcmp(p->s + p->pos, lit, n);
}

static void skip_space(xp *p)
{
    while (p->pos < p->len && is_space(p->s[p->pos]))
        p->pos++;
}

/* A name at p->pos: a new string, or NULL with the error set. */
static char *read_name(xp *p)
{
    size_t start = p->pos;
    if (p->pos >= p->len || !name_start((unsigned char)p->s[p->pos])) {
        fail(p, "a name expected");
        return NULL;
    }
    while (p->pos < p->len && name_char((unsigned char)p->s[p->pos]))
        p->pos++;
    char *name = twin_xmalloc(p->pos - start + 1);
    memcpy(name, p->s + start, p->pos - start);
    name[p->pos - start] = '\0';
    return name;
}

static void put_utf8(twin_buf *b, unsigned long c)
{
    char u[4];
    size_t n;
    if (c < 0x80) {
        u[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        u[0] = (char)(0xC0 | (c >> 6));
        u[1] = (char)(0x80 | (c & 0x3F));
        n = 2;
    } else if (c < 0x10000) {
        u[0] = (char)(0xE0 | (c >> 12));
        u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        u[2] = (char)(0x80 | (c & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (c >> 18));
        u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((c >> 6) & 0x3F));
        u[3] = (char)(0x80 | (c & 0x3F));
        n = 4;
    }
    twin_buf_add(b, u, n);
}

/* An entity reference at p->pos ('&'), decoded into b. */
static int read_entity(xp *p, twin_buf *b)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    size_t start = ++p->pos, end = start;
    while (end < p->len && end - start < 12 && p->s[end] != ';')
        end++;
    if (end >= p->len || p->s[end] != ';')
        return fail(p, "an unterminated entity reference");
    const char *e = p->s + start;
    size_t n = end - start;
    if (n >= 2 && e[0] == '#') {
        unsigned long c = 0;
        int hex = e[1] == 'x';
        size_t i = hex ? 2 : 1;
        if (i >= n)
            return fail(p, "an empty character reference");
        for (; i < n; i++) {
            char d = e[i];
            int v = d >= '0' && d <= '9' ? d - '0'
                    : hex && d >= 'a' && d <= 'f' ? d - 'a' + 10
                    : hex && d >= 'A' && d <= 'F' ? d - 'A' + 10 : -1;
            if (v < 0)
                return fail(p, "a malformed character reference");
            c = c * (hex ? 16 : 10) + (unsigned long)v;
            if (c > 0x10FFFF)
                return fail(p, "a character reference out of range");
        }
        if (!(c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD)
              || c >= 0x10000))
            return fail(p, "a character reference to U+%04lX, not an XML character", c);
        put_utf8(b, c);
        p->pos = end + 1;
        return 0;
    }
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strlen(named[i].name) == n && !memcmp(named[i].name, e, n)) {
            twin_buf_add(b, &named[i].c, 1);
            p->pos = end + 1;
            return 0;
        }
    return fail(p, "an unknown entity &%.*s;", (int)n, e);
}

static void node_free(gate_aws_xml_node *n)
{
    free(n->name);
    free(n->text);
    for (size_t i = 0; i < n->nattrs; i++) {
        free(n->attrs[i].name);
        free(n->attrs[i].value);
    }
    free(n->attrs);
    free(n->kids);
    free(n);
}

void gate_aws_xml_free(gate_aws_xml_node *n)
{
    /* iterative, so even a tree built by hand of any depth is freed */
    if (!n)
        return;
    gate_aws_xml_node **stack = twin_xmalloc(sizeof *stack);
    size_t depth = 1, cap = 1;
    stack[0] = n;
    while (depth) {
        gate_aws_xml_node *t = stack[--depth];
        if (depth + t->nkids > cap) {
            cap = depth + t->nkids;
            stack = twin_xrealloc(stack, cap * sizeof *stack);
        }
        for (size_t i = 0; i < t->nkids; i++)
            stack[depth++] = t->kids[i];
        node_free(t);
    }
    free(stack);
}

/* The attributes and the end of a start tag; p->pos just past the name.
 * Sets *empty for "/>". */
static int read_attrs(xp *p, gate_aws_xml_node *n, int *empty)
{
    twin_buf v = {0};
    for (;;) {
        size_t before = p->pos;
        skip_space(p);
        if (p->pos >= p->len)
            return fail(p, "an unterminated start tag <%s", n->name);
        if (p->s[p->pos] == '>') {
            p->pos++;
            *empty = 0;
            return 0;
        }
        if (starts(p, "/>")) {
            p->pos += 2;
            *empty = 1;
            return 0;
        }
        if (p->pos == before)
            return fail(p, "no space before an attribute of <%s", n->name);
        char *name = read_name(p);
        if (!name)
            return -1;
        for (size_t i = 0; i < n->nattrs; i++)
            if (!strcmp(n->attrs[i].name, name)) {
                fail(p, "attribute %s given twice in <%s", name, n->name);
                free(name);
                return -1;
            }
        skip_space(p);
        if (p->pos >= p->len || p->s[p->pos] != '=') {
            free(name);
            return fail(p, "'=' expected after attribute name");
        }
        p->pos++;
        skip_space(p);
        char q = p->pos < p->len ? p->s[p->pos] : 0;
        if (q != '"' && q != '\'') {
            free(name);
            return fail(p, "a quoted attribute value expected");
        }
        p->pos++;
        v.len = 0;
        twin_buf_add(&v, "", 0);
        while (p->pos < p->len && p->s[p->pos] != q) {
            char c = p->s[p->pos];
            if (c == '<') {
                free(name);
                twin_buf_free(&v);
                return fail(p, "'<' in an attribute value");
            }
            if (c == '&') {
                if (read_entity(p, &v) < 0) {
                    free(name);
                    twin_buf_free(&v);
                    return -1;
                }
                continue;
            }
            twin_buf_add(&v, &c, 1);
            p->pos++;
        }
        if (p->pos >= p->len) {
            free(name);
            twin_buf_free(&v);
            return fail(p, "an unterminated attribute value");
        }
        p->pos++;
        n->attrs = twin_xrealloc(n->attrs, (n->nattrs + 1) * sizeof *n->attrs);
        n->attrs[n->nattrs].name = name;
        n->attrs[n->nattrs].value = twin_xstrdup(v.s);
        n->nattrs++;
        twin_buf_free(&v);
    }
}

static void add_kid(gate_aws_xml_node *parent, gate_aws_xml_node *kid)
{
    parent->kids = twin_xrealloc(parent->kids, (parent->nkids + 1) * sizeof *parent->kids);
    parent->kids[parent->nkids++] = kid;
}

/* Skips a comment at p->pos ("<!--"). */
static int skip_comment(xp *p)
{
    const char *end = NULL;
    for (size_t i = p->pos + 4; i + 3 <= p->len; i++)
        if (p->s[i] == '-' && p->s[i + 1] == '-') {
            if (p->s[i + 2] != '>')
                return fail(p, "'--' inside a comment");
            end = p->s + i + 3;
            break;
        }
    if (!end)
        return fail(p, "an unterminated comment");
    p->pos = (size_t)(end - p->s);
    return 0;
}

int gate_aws_xml_parse(const char *s, size_t len, gate_aws_xml_node **root, char *err, size_t errlen)
{
    return gate_aws_xml_parse_max(s, len, GATE_AWS_XML_MAX_INPUT, root, err, errlen);
}

int gate_aws_xml_parse_max(const char *s, size_t len, size_t max, gate_aws_xml_node **root, char *err,
                           size_t errlen)
{
    xp p = {s, len, 0, err, errlen};
    gate_aws_xml_node *stack[GATE_AWS_XML_MAX_DEPTH];
    twin_buf text[GATE_AWS_XML_MAX_DEPTH];
    size_t depth = 0;
    gate_aws_xml_node *top = NULL;
    int rc = -1;
    memset(text, 0, sizeof text);

    if (len > max) {
        snprintf(err, errlen, "XML: the document is %zu bytes, more than the %zu allowed", len, max);
        return -1;
    }
    if (memchr(s, '\0', len)) {
        p.pos = (size_t)((const char *)memchr(s, '\0', len) - s);
        return fail(&p, "a NUL byte");
    }
    if (!twin_utf8_ok(s, len))
        return fail(&p, "invalid UTF-8");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
            p.pos = i;
            return fail(&p, "control character 0x%02X, not an XML character", (unsigned char)s[i]);
        }
    if (starts(&p, "\xEF\xBB\xBF"))
        p.pos += 3;
    if (starts(&p, "<?xml") && p.pos + 5 < len && is_space(s[p.pos + 5])) {
        const char *end = NULL;
        for (size_t i = p.pos; i + 1 < len; i++)
            if (s[i] == '?' && s[i + 1] == '>') {
                end = s + i + 2;
                break;
            }
        if (!end)
            return fail(&p, "an unterminated XML declaration");
        p.pos = (size_t)(end - s);
    }

    while (p.pos < len) {
        char c = s[p.pos];
        if (c != '<') {
            if (depth == 0) {
                if (!is_space(c))
                    { fail(&p, "text outside the root element"); goto cleanup; }
                p.pos++;
                continue;
            }
            if (c == '&') {
                if (read_entity(&p, &text[depth - 1]) < 0)
                    goto cleanup;
                continue;
            }
            size_t start = p.pos;
            while (p.pos < len && s[p.pos] != '<' && s[p.pos] != '&')
                p.pos++;
            for (size_t i = start; i + 3 <= p.pos; i++)
                if (!memcmp(s + i, "]]>", 3)) {
                    p.pos = i;
                    fail(&p, "']]>' in text");
                    goto cleanup;
                }
            twin_buf_add(&text[depth - 1], s + start, p.pos - start);
            continue;
        }
        if (starts(&p, "<!--")) {
            if (skip_comment(&p) < 0)
                goto cleanup;
            continue;
        }
        if (starts(&p, "<![CDATA[")) {
            if (depth == 0)
                { fail(&p, "CDATA outside the root element"); goto cleanup; }
            size_t start = p.pos + 9, i = start;
            while (i + 3 <= len && memcmp(s + i, "]]>", 3))
                i++;
            if (i + 3 > len)
                { fail(&p, "an unterminated CDATA section"); goto cleanup; }
            twin_buf_add(&text[depth - 1], s + start, i - start);
            p.pos = i + 3;
            continue;
        }
        if (starts(&p, "<!DOCTYPE") || starts(&p, "<!doctype"))
            { fail(&p, "a DOCTYPE (refused: entities and external references)"); goto cleanup; }
        if (starts(&p, "<!"))
            { fail(&p, "a markup declaration"); goto cleanup; }
        if (starts(&p, "<?"))
            { fail(&p, "a processing instruction"); goto cleanup; }
        if (starts(&p, "</")) {
            p.pos += 2;
            char *name = read_name(&p);
            if (!name)
                goto cleanup;
            skip_space(&p);
            if (depth == 0 || strcmp(name, stack[depth - 1]->name)) {
                fail(&p, "</%s> does not close %s%s%s", name, depth ? "<" : "any element", depth ? stack[depth - 1]->name : "",
                     depth ? ">" : "");
                free(name);
                goto cleanup;
            }
            free(name);
            if (p.pos >= len || s[p.pos] != '>')
                { fail(&p, "'>' expected in an end tag"); goto cleanup; }
            p.pos++;
            gate_aws_xml_node *n = stack[--depth];
            twin_buf_add(&text[depth], "", 0);
            n->text = text[depth].s;
            n->text_len = text[depth].len;
            text[depth] = (twin_buf){0};
            continue;
        }
        /* a start tag */
        if (depth == 0 && top)
            { fail(&p, "a second root element"); goto cleanup; }
        if (depth == GATE_AWS_XML_MAX_DEPTH)
            { fail(&p, "more than %d levels of nesting", GATE_AWS_XML_MAX_DEPTH); goto cleanup; }
        p.pos++;
        gate_aws_xml_node *n = twin_xcalloc(1, sizeof *n);
        n->name = read_name(&p);
        if (!n->name) {
            node_free(n);
            goto cleanup;
        }
        if (depth)
            add_kid(stack[depth - 1], n);
        else
            top = n;
        int empty = 0;
        if (read_attrs(&p, n, &empty) < 0)
            goto cleanup;
        if (empty)
            n->text = twin_xstrdup("");
        else
            stack[depth++] = n;
    }
    if (!top)
        { fail(&p, "no root element"); goto cleanup; }
    if (depth)
        { fail(&p, "<%s> is not closed", stack[depth - 1]->name); goto cleanup; }
    *root = top;
    top = NULL;
    rc = 0;
cleanup:
    /* the text gathered for elements left open (theirs is still NULL) */
    for (size_t i = 0; i < GATE_AWS_XML_MAX_DEPTH; i++)
        twin_buf_free(&text[i]);
    gate_aws_xml_free(top);
    return rc;
}

const char *gate_aws_xml_local(const char *name)
{
    const char *c = strrchr(name, ':');
    return c ? c + 1 : name;
}

const gate_aws_xml_node *gate_aws_xml_child(const gate_aws_xml_node *n, const char *local)
{
    for (size_t i = 0; n && i < n->nkids; i++)
        if (!strcmp(gate_aws_xml_local(n->kids[i]->name), local))
            return n->kids[i];
    return NULL;
}

const char *gate_aws_xml_attr_get(const gate_aws_xml_node *n, const char *name)
{
    for (size_t i = 0; i < n->nattrs; i++)
        if (!strcmp(n->attrs[i].name, name))
            return n->attrs[i].value;
    return NULL;
}

int gate_aws_xml_blank(const gate_aws_xml_node *n)
{
    for (size_t i = 0; i < n->text_len; i++)
        if (!is_space(n->text[i]))
            return 0;
    return 1;
}
