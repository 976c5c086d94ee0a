/*
 * fuzz_selector.c - the small parsers of a request's query and of objects:
 * label selectors (twin_selector_parse), field selectors
 * (twin_fieldsel_parse), quantities (twin_quantity_parse_str) and
 * int-or-percent values (twin_intstr_scaled).
 *
 * Input: the first line is a label selector, the second a field selector,
 * the third a quantity (and an int-or-percent); a missing line is empty.
 *
 * Invariants: a parser either succeeds or fails with a message, never
 * half-way; a label selector that parses prints a canonical form that
 * parses again to the same form and selects the same label sets (kubectl's
 * Selector column and the twin's indexes rely on it); a field selector that
 * parses can be matched against objects; a quantity that parses is a
 * number, never NaN.
 */
#include <math.h>
#include <string.h>

#include <jansson.h>

#include "tests/fuzz/fuzz.h"
#include "twin/quantity.h"
#include "twin/selector.h"

static char *line_at(const uint8_t *data, size_t size, size_t *pos)
{
    const uint8_t *start = data + *pos;
    size_t left = *pos < size ? size - *pos : 0;
    const uint8_t *nl = left ? memchr(start, '\n', left) : NULL;
    size_t n = nl ? (size_t)(nl - start) : left;
    char *s = malloc(n + 1);
    FUZZ_CHECK(s != NULL, "out of memory");
    memcpy(s, start, n);
    s[n] = '\0';   /* a NUL inside ends the string early, as a C caller sees it */
    *pos += n + (nl != NULL);
    return s;
}

static const char *const LABELS[] = {
    "{}", "{\"app\":\"web\"}", "{\"app\":\"web\",\"tier\":\"front\"}", "{\"a\":\"b\",\"c\":\"\"}",
    "{\"example.com/x\":\"1\",\"app\":\"db\"}",
};

FUZZ_TARGET(selector)
{
    size_t pos = 0;
    char *ls = line_at(data, size, &pos), *fsel = line_at(data, size, &pos), *q = line_at(data, size, &pos);
    char err[512];

    twin_selector *sel = NULL;
    err[0] = '\0';
    int rc = twin_selector_parse(&sel, ls, err, sizeof err);
    FUZZ_CHECK(rc == 0 || (rc == -1 && err[0] && !sel), "label selector %s: rc %d, err '%s'", ls, rc, err);
    if (rc == 0) {
        char *canon = twin_selector_string(sel);
        FUZZ_CHECK(canon != NULL, "no canonical form");
        if (strcmp(canon, "<nothing>")) {
            twin_selector *again = NULL;
            err[0] = '\0';
            FUZZ_CHECK(twin_selector_parse(&again, canon, err, sizeof err) == 0,
                       "the canonical form '%s' of '%s' does not parse: %s", canon, ls, err);
            char *canon2 = twin_selector_string(again);
            FUZZ_CHECK(!strcmp(canon, canon2), "canonical '%s' prints again as '%s'", canon, canon2);
            for (size_t i = 0; i < sizeof LABELS / sizeof *LABELS; i++) {
                json_t *l = json_loads(LABELS[i], 0, NULL);
                FUZZ_CHECK(twin_selector_matches(sel, l) == twin_selector_matches(again, l),
                           "'%s' and its canonical form '%s' disagree on %s", ls, canon, LABELS[i]);
                json_decref(l);
            }
            free(canon2);
            twin_selector_free(again);
        }
        free(canon);
        twin_selector_free(sel);
    }

    twin_fieldsel *fs = NULL;
    err[0] = '\0';
    rc = twin_fieldsel_parse(&fs, fsel, err, sizeof err);
    FUZZ_CHECK(rc == 0 || (rc == -1 && err[0]), "field selector %s: rc %d, err '%s'", fsel, rc, err);
    if (rc == 0) {
        json_t *obj = json_loads("{\"metadata\":{\"name\":\"a\",\"namespace\":\"shop\"},\"spec\":{\"nodeName\":"
                                 "\"n1\"},\"status\":{\"phase\":\"Running\"}}", 0, NULL);
        int m = twin_fieldsel_matches(fs, obj);
        FUZZ_CHECK(m == 0 || m == 1, "field selector match gave %d", m);
        json_decref(obj);
        twin_fieldsel_free(fs);
    }

    double v = 0;
    if (twin_quantity_parse_str(q, &v) == 0)
        FUZZ_CHECK(!isnan(v), "quantity '%s' parsed as NaN", q);
    json_t *js = json_string(q);   /* NULL when not UTF-8: a caller's JSON never holds that */
    if (js) {
        int out = 0;
        (void)twin_intstr_scaled(js, 10, 1, &out);
        (void)twin_quantity_parse(js, &v);
        json_decref(js);
    }
    free(ls);
    free(fsel);
    free(q);
    return 0;
}
