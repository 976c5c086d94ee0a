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

void twin_buf_add(twin_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->s = twin_xrealloc(b->s, cap);
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
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

void twin_buf_free(twin_buf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
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
