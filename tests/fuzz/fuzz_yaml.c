/*
 * fuzz_yaml.c - twin_yaml_parse on arbitrary bytes.
 *
 * Invariants (twin/yaml.h): the parser never crashes or leaks; it returns
 * either 0 and an array of objects, one per non-empty document, that jansson
 * can serialise (no NaN, no infinity, valid UTF-8 strings), or -1 with a
 * message and *out untouched.
 */
#include <string.h>

#include <jansson.h>

#include "tests/fuzz/fuzz.h"
#include "twin/yaml.h"

FUZZ_TARGET(yaml)
{
    json_t *out = NULL;
    char err[512];
    err[0] = '\0';
    int rc = twin_yaml_parse(&out, (const char *)data, size, "fuzz", err, sizeof err);
    if (rc < 0) {
        FUZZ_CHECK(rc == -1, "rc %d", rc);
        FUZZ_CHECK(out == NULL, "*out set on error");
        FUZZ_CHECK(err[0] != '\0', "an error without a message");
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL, "unterminated message");
        return 0;
    }
    FUZZ_CHECK(rc == 0, "rc %d", rc);
    FUZZ_CHECK(json_is_array(out), "not an array");
    size_t i;
    json_t *doc;
    json_array_foreach(out, i, doc) FUZZ_CHECK(json_is_object(doc), "document %zu is not an object", i);
    char *text = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
    FUZZ_CHECK(text != NULL, "the result cannot be serialised");
    /* what we print, jansson reads back as the same value */
    json_error_t je;
    json_t *back = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    FUZZ_CHECK(back && json_equal(back, out), "the result does not round-trip: %s", je.text);
    json_decref(back);
    free(text);
    json_decref(out);
    return 0;
}
