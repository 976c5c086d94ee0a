/*
 * fuzz_protobuf.c - one request body through the protobuf decoder
 * (gate/kube/protobuf.h), as gate/kube/k8s.c hands it a body that starts
 * with "k8s\0".
 *
 * Input: the body.  The seeds are one body per accepted kind: the bytes
 * kubectl 1.32.4 sent where it sends that kind (create job, autoscale,
 * create rolebinding, drain's DELETE, ...), the others as gogo writes them.
 *
 * Invariants, fail closed (gate/kube/protobuf.h): the decoder answers 0 or
 * -1; on -1 there is a message ("protobuf: ..." or the missing envelope)
 * and the output is untouched; on 0 the output is a JSON object whose first
 * two members are apiVersion and kind, non-empty strings (a DeleteOptions
 * is meta.k8s.io/v1), which serialises (every string valid UTF-8) and reads
 * back equal; the same bytes decode the same way twice (no state kept).
 */
#include <string.h>

#include <jansson.h>

#include "gate/kube/protobuf.h"
#include "tests/fuzz/fuzz.h"

/* out's JSON text, for comparing two answers; NULL if it cannot be
 * written.  Caller frees. */
static char *text_of(const json_t *out)
{
    return json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
}

FUZZ_TARGET(protobuf)
{
    json_t *sentinel = json_string("sentinel"), *out = sentinel;
    char err[512];
    err[0] = '\0';
    int rc = gate_protobuf_decode(data, size, &out, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
    if (rc < 0) {
        FUZZ_CHECK(out == sentinel, "out written on error: %s", err);
        FUZZ_CHECK(err[0] != '\0', "refused without a message");
        FUZZ_CHECK(!strncmp(err, "protobuf: ", 10) || strstr(err, "no k8s envelope"), "message: %s", err);
    } else {
        FUZZ_CHECK(out != sentinel && json_is_object(out), "not an object");
        void *it = json_object_iter(out);
        FUZZ_CHECK(it && !strcmp(json_object_iter_key(it), "apiVersion"), "apiVersion is not first");
        const char *av = json_string_value(json_object_iter_value(it));
        it = json_object_iter_next(out, it);
        FUZZ_CHECK(it && !strcmp(json_object_iter_key(it), "kind"), "kind is not second");
        const char *kind = json_string_value(json_object_iter_value(it));
        FUZZ_CHECK(av && *av && kind && *kind, "apiVersion or kind empty");
        FUZZ_CHECK(strcmp(kind, "DeleteOptions") || !strcmp(av, "meta.k8s.io/v1"), "DeleteOptions under %s", av);
        char *text = text_of(out);
        FUZZ_CHECK(text != NULL, "the decoded object cannot be serialised");
        json_error_t je;
        json_t *back = json_loads(text, JSON_REJECT_DUPLICATES, &je);
        FUZZ_CHECK(back && json_equal(back, out), "the decoded object does not read back: %s", back ? "" : je.text);
        json_decref(back);

        json_t *again = NULL;
        char err2[512];
        FUZZ_CHECK(gate_protobuf_decode(data, size, &again, err2, sizeof err2) == 0, "second decode: %s", err2);
        char *text2 = text_of(again);
        FUZZ_CHECK(text2 && !strcmp(text, text2), "two decodes differ");
        free(text);
        free(text2);
        json_decref(again);
        json_decref(out);
    }
    json_decref(sentinel);
    return 0;
}
