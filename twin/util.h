/*
 * util.h - the twin's small shared helpers: allocation that aborts on
 * out-of-memory (one OOM policy for the application heap, as Redis and h2o
 * do, so no caller carries dead NULL checks), printf-style string building,
 * and a string-keyed hash map.
 *
 * Internal to twin/ and gate/ (gate may include it; it is not part of the
 * twin's public surface in twin.h).
 */
#ifndef TWIN_UTIL_H
#define TWIN_UTIL_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void *twin_xmalloc(size_t n);
void *twin_xcalloc(size_t n, size_t size);
void *twin_xrealloc(void *p, size_t n);
char *twin_xstrdup(const char *s);                 /* NULL in, NULL out */
char *twin_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* json_dumps under the same out-of-memory policy: any value is written
 * (JSON_ENCODE_ANY is added; NULL is written "null"), never NULL back
 * (jansson fails only for lack of memory then: abort). Caller frees. */
char *twin_xdumps(const json_t *v, size_t flags);
char *twin_xvasprintf(const char *fmt, va_list ap);

/* xorshift64*: a small deterministic generator (names, uids, fuzz seeds).
 * The state must not be 0. */
static inline uint64_t twin_xorshift(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ULL;
}

/* A growable string buffer. `cap_limit` of 0 means unbounded. */
typedef struct twin_buf {
    char *s;
    size_t len, cap;
} twin_buf;
void twin_buf_addf(twin_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void twin_buf_add(twin_buf *b, const char *s, size_t n);
void twin_buf_free(twin_buf *b);
/* Appends v (borrowed, not NULL) as compact JSON: byte for byte what
 * json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) writes, with keys in their
 * order (sort_keys 0) or sorted as JSON_SORT_KEYS sorts them, at a fraction
 * of the cost (no allocation per value, no cycle bookkeeping: the twin's
 * documents are trees).  Strings are taken as jansson holds them, valid
 * UTF-8. */
void twin_buf_json(twin_buf *b, const json_t *v, int sort_keys);

/* True when s[0..n) is valid UTF-8 as jansson takes it (no overlong forms,
 * no surrogates; NUL bytes allowed): what can become a JSON string. */
int twin_utf8_ok(const char *s, size_t n);

/*
 * String map: open addressing, keys copied and owned by the map, values
 * borrowed (the map never frees them; use twin_map_clear's callback).
 * Iteration order is insertion order (entries are kept in an array), which
 * makes every report the map feeds deterministic.
 */
typedef struct twin_map_entry {
    char *key;
    void *value;
    int live;
} twin_map_entry;

typedef struct twin_map {
    twin_map_entry *entries;   /* insertion order; dead ones have live == 0 */
    size_t nentries, cap_entries;
    size_t *slots;             /* index+1 into entries, 0 = empty */
    size_t nslots;
    size_t count;              /* live entries */
} twin_map;

void *twin_map_get(const twin_map *m, const char *key);
int twin_map_has(const twin_map *m, const char *key);
/* Sets key -> value; returns the previous value or NULL. */
void *twin_map_put(twin_map *m, const char *key, void *value);
/* Removes key; returns its value or NULL. */
void *twin_map_del(twin_map *m, const char *key);
void twin_map_clear(twin_map *m, void (*free_value)(void *));

/* `e &&`: an empty map has no entries array, and NULL + 0 is undefined in C
 * (clang's UBSan reports it; found by tests/fuzz). */
#define TWIN_MAP_FOREACH(m, e) \
    for (twin_map_entry *e = (m)->entries; e && e < (m)->entries + (m)->nentries; e++) \
        if (e->live)

#endif
