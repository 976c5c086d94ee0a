#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "airlock: out of memory allocating %zu bytes\n", n);
    abort();
}

void *twin_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *twin_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *twin_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *twin_xdumps(const json_t *v, size_t flags)
{
    if (!v)
        return twin_xstrdup("null");
    char *text = json_dumps(v, flags | JSON_ENCODE_ANY);
    if (!text) {
        fprintf(stderr, "airlock: out of memory writing JSON\n");
        abort();
    }
    return text;
}

char *twin_xstrdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = twin_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

char *twin_xvasprintf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    char *s = twin_xmalloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *twin_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = twin_xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

/* Room for n more bytes and the terminating NUL. */
static char *buf_room(twin_buf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->s = twin_xrealloc(b->s, cap);
        b->cap = cap;
    }
    return b->s + b->len;
}

void twin_buf_add(twin_buf *b, const char *s, size_t n)
{
    memcpy(buf_room(b, n), s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void twin_buf_addf(twin_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = twin_xvasprintf(fmt, ap);
    va_end(ap);
    twin_buf_add(b, s, strlen(s));
    free(s);
}

/* jansson's own rules (utf8.c: utf8_check_first, utf8_check_full), without
 * making a string: it runs on every request's head. */
int twin_utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned u = p[i];
        size_t len = u < 0x80 ? 1 : u >= 0xC2 && u <= 0xDF ? 2 : u >= 0xE0 && u <= 0xEF ? 3
                                 : u >= 0xF0 && u <= 0xF4 ? 4 : 0;
        if (!len || len > n - i)
            return 0;
        if (len > 1) {
            unsigned long v = u & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
            for (size_t k = 1; k < len; k++) {
                if (p[i + k] < 0x80 || p[i + k] > 0xBF)
                    return 0;
                v = (v << 6) | (p[i + k] & 0x3F);
            }
            if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (len == 2 && v < 0x80) ||
                (len == 3 && v < 0x800) || (len == 4 && v < 0x10000))
                return 0;
        }
        i += len;
    }
    return 1;
}

void twin_buf_free(twin_buf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

/* ---- compact JSON ---- */

static void buf_put(twin_buf *b, char c)
{
    *buf_room(b, 1) = c;
    b->s[++b->len] = '\0';
}

/* A string as jansson's dump_string writes it without flags: '"', '\\' and
 * the control characters escaped (\b \f \n \r \t, else \u00XX in capitals),
 * everything else, UTF-8 included, as it is. */
static void json_str(twin_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o = buf_room(b, 6 * n + 2), *start = b->s;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    *o = '\0';
    b->len = (size_t)(o - start);
}

typedef struct json_key {
    const char *key;
    size_t len;
    json_t *value;
} json_key;

/* JSON_SORT_KEYS's order: bytes compared, then the shorter first. */
static int cmp_key(const void *a, const void *b)
{
    const json_key *x = a, *y = b;
    int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

void twin_buf_json(twin_buf *b, const json_t *v, int sort_keys)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        buf_put(b, '{');
        json_t *obj = (json_t *)v;
        if (sort_keys && json_object_size(obj) > 1) {
            size_t n = json_object_size(obj), k = 0;
            json_key *keys = twin_xmalloc(n * sizeof *keys);
            for (void *it = json_object_iter(obj); it && k < n; it = json_object_iter_next(obj, it), k++)
                keys[k] = (json_key){json_object_iter_key(it), json_object_iter_key_len(it), json_object_iter_value(it)};
            qsort(keys, k, sizeof *keys, cmp_key);
            for (size_t i = 0; i < k; i++) {
                if (i)
                    buf_put(b, ',');
                json_str(b, keys[i].key, keys[i].len);
                buf_put(b, ':');
                twin_buf_json(b, keys[i].value, sort_keys);
            }
            free(keys);
        } else {
            int first = 1;
            for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
                if (!first)
                    buf_put(b, ',');
                first = 0;
                json_str(b, json_object_iter_key(it), json_object_iter_key_len(it));
                buf_put(b, ':');
                twin_buf_json(b, json_object_iter_value(it), sort_keys);
            }
        }
        buf_put(b, '}');
        return;
    }
    case JSON_ARRAY: {
        buf_put(b, '[');
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++) {
            if (i)
                buf_put(b, ',');
            twin_buf_json(b, json_array_get(v, i), sort_keys);
        }
        buf_put(b, ']');
        return;
    }
    case JSON_STRING:
        json_str(b, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER: {
        /* "%" JSON_INTEGER_FORMAT, written by hand */
        char tmp[24], *p = tmp + sizeof tmp;
        json_int_t x = json_integer_value(v);
        unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
        do
            *--p = (char)('0' + u % 10);
        while (u /= 10);
        if (x < 0)
            *--p = '-';
        twin_buf_add(b, p, (size_t)(tmp + sizeof tmp - p));
        return;
    }
    case JSON_REAL: {
        /* rare in a document: jansson's own formatting (precision 17,
         * ".0" added, exponent trimmed) rather than a copy of it */
        char tmp[128];
        size_t n = json_dumpb(v, tmp, sizeof tmp, JSON_COMPACT | JSON_ENCODE_ANY);
        twin_buf_add(b, tmp, n <= sizeof tmp ? n : 0);
        return;
    }
    case JSON_TRUE:
        twin_buf_add(b, "true", 4);
        return;
    case JSON_FALSE:
        twin_buf_add(b, "false", 5);
        return;
    case JSON_NULL:
        twin_buf_add(b, "null", 4);
        return;
    }
}

/* ---- map ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static size_t find_slot(const twin_map *m, const char *key, int *found)
{
    size_t mask = m->nslots - 1;
    size_t i = (size_t)hash_str(key) & mask;
    for (;;) {
        size_t s = m->slots[i];
        if (s == 0) {
            *found = 0;
            return i;
        }
        twin_map_entry *e = &m->entries[s - 1];
        if (e->live && strcmp(e->key, key) == 0) {
            *found = 1;
            return i;
        }
        i = (i + 1) & mask;
    }
}

/* Rebuilds the slot table and compacts dead entries out of the array. */
static void rehash(twin_map *m, size_t nslots)
{
    size_t w = 0;
    for (size_t r = 0; r < m->nentries; r++) {
        if (m->entries[r].live)
            m->entries[w++] = m->entries[r];
        else
            free(m->entries[r].key);
    }
    m->nentries = w;
    free(m->slots);
    m->nslots = nslots;
    m->slots = twin_xcalloc(nslots, sizeof(size_t));
    for (size_t k = 0; k < m->nentries; k++) {
        int found;
        size_t i = find_slot(m, m->entries[k].key, &found);
        m->slots[i] = k + 1;
    }
}

void *twin_map_get(const twin_map *m, const char *key)
{
    if (!m->nslots)
        return NULL;
    int found;
    size_t i = find_slot(m, key, &found);
    return found ? m->entries[m->slots[i] - 1].value : NULL;
}

int twin_map_has(const twin_map *m, const char *key)
{
    if (!m->nslots)
        return 0;
    int found;
    find_slot(m, key, &found);
    return found;
}

void *twin_map_put(twin_map *m, const char *key, void *value)
{
    /* Slots count dead entries too (they still occupy probe chains until a
     * rehash), so size against nentries. */
    if ((m->nentries + 1) * 2 > m->nslots) {
        /* size for the live entries: a map used as a queue's set fills up
         * with dead ones, which the rehash drops, and must not keep growing */
        size_t want = 16;
        while ((m->count + 1) * 4 > want)
            want *= 2;
        rehash(m, want);
    }
    int found;
    size_t i = find_slot(m, key, &found);
    if (found) {
        twin_map_entry *e = &m->entries[m->slots[i] - 1];
        void *old = e->value;
        e->value = value;
        return old;
    }
    if (m->nentries == m->cap_entries) {
        m->cap_entries = m->cap_entries ? m->cap_entries * 2 : 16;
        m->entries = twin_xrealloc(m->entries, m->cap_entries * sizeof(*m->entries));
    }
    m->entries[m->nentries] = (twin_map_entry){twin_xstrdup(key), value, 1};
    m->slots[i] = ++m->nentries;
    m->count++;
    return NULL;
}

void *twin_map_del(twin_map *m, const char *key)
{
    if (!m->nslots)
        return NULL;
    int found;
    size_t i = find_slot(m, key, &found);
    if (!found)
        return NULL;
    twin_map_entry *e = &m->entries[m->slots[i] - 1];
    void *old = e->value;
    e->live = 0;
    m->count--;
    /* A dead entry keeps its slot so probe chains stay intact; the next
     * rehash drops it. */
    return old;
}

void twin_map_clear(twin_map *m, void (*free_value)(void *))
{
    for (size_t k = 0; k < m->nentries; k++) {
        if (m->entries[k].live && free_value)
            free_value(m->entries[k].value);
        free(m->entries[k].key);
    }
    free(m->entries);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}
