/*
 * fuzz_import.c - twin_import_docs of arbitrary YAML or JSON into a fresh
 * in-memory twin.
 *
 * The input is read as twin_import_path reads a file: JSON when it starts
 * like JSON ('{' or '[' after white space), multi-document YAML otherwise.
 * Inputs that do not parse are not interesting here (fuzz_yaml covers the
 * parser); whatever parses is imported.
 *
 * Invariants (twin/twin.h): an import is all or nothing, so on failure the
 * twin holds no object; either way no operation is left open; on success
 * every stored object reads back (the export lists as many objects as the
 * store counts).
 */
#include <string.h>

#include <jansson.h>

#include "tests/fuzz/fuzz.h"
#include "twin/twin.h"
#include "twin/yaml.h"

/* The documents in data, as a new array, or NULL when they do not parse. */
static json_t *parse_docs(const char *text, size_t len)
{
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r'))
        i++;
    char err[512];
    if (i < len && (text[i] == '{' || text[i] == '[')) {
        json_error_t je;
        json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!v || json_is_array(v))
            return v;
        json_t *docs = json_array();
        json_array_append_new(docs, v);
        return docs;
    }
    json_t *docs = NULL;
    if (twin_yaml_parse(&docs, text, len, "fuzz", err, sizeof err) < 0)
        return NULL;
    return docs;
}

FUZZ_TARGET(import)
{
    json_t *docs = parse_docs((const char *)data, size);
    if (!docs)
        return 0;
    twin *t;
    char err[1024];
    FUZZ_CHECK(twin_open(&t, NULL, err, sizeof err) == 0, "twin_open: %s", err);
    twin_set_clock(t, 1.7e9);
    err[0] = '\0';
    int rc = twin_import_docs(t, docs, "fuzz", err, sizeof err);
    FUZZ_CHECK(!twin_in_operation(t), "import left an operation open (rc %d)", rc);
    long n = twin_object_count(t);
    if (rc < 0) {
        FUZZ_CHECK(rc == -1, "rc %d", rc);
        FUZZ_CHECK(n == 0, "a failed import kept %ld objects: %s", n, err);
        FUZZ_CHECK(err[0] != '\0', "a failed import without a message");
    } else {
        FUZZ_CHECK(rc == 0, "rc %d", rc);
        json_t *list = twin_export(t);
        size_t items = json_array_size(json_object_get(list, "items"));
        FUZZ_CHECK(items == (size_t)n, "the store counts %ld objects, the export lists %zu", n, items);
        json_decref(list);
    }
    twin_close(t);
    json_decref(docs);
    return 0;
}
