/*
 * fuzz_sigv4.c - AWS Signature Version 4 (gate/aws/sigv4.h): the
 * Authorization header and the request target are what an agent controls.
 *
 * Input: the bytes up to the first '\n' are the Authorization header, the
 * rest the request target (each copied into a buffer of its exact size plus
 * its NUL, so the sanitizers see any read past it).  A target that does not
 * start with '/' is given one.  The first byte of the target picks the
 * service for signing: s3 when it is odd, "service" otherwise.
 *
 * Invariants:
 *   - gate_sigv4_parse returns 0 or -1; on 0 the auth is well formed
 *     (signed headers name host, signature is 64 lower-case hex), on -1
 *     err says why.  The same for gate_sigv4_parse_query (0, 1 or -1).
 *   - gate_sigv4_verify returns one of the five results, with a message
 *     unless OK, and never OK for a fuzzed signature under a secret the
 *     input cannot know.
 *   - Round trip: whatever target gate_sigv4_sign accepts, the request it
 *     signs verifies (parse + verify give OK) unless its query names
 *     X-Amz-Signature (refused: two auth mechanisms), and another target
 *     with a different canonical form does not.
 */
#include <string.h>

#include <jansson.h>

#include "gate/aws/sigv4.h"
#include "tests/fuzz/fuzz.h"

#ifndef FUZZ_LIBFUZZER
int fuzz_sigv4_one(const uint8_t *data, size_t size);
#endif

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define T0 1440938160.0 /* 20150830T123600Z */

static int well_formed(const gate_sigv4_auth *a)
{
    if (!a->signed_headers || strlen(a->signature) != 64 || strspn(a->signature, "0123456789abcdef") != 64)
        return 0;
    const char *h = a->signed_headers;
    size_t n = strlen(h);
    int host = !strcmp(h, "host") || !strncmp(h, "host;", 5) || strstr(h, ";host;") ||
               (n >= 5 && !strcmp(h + n - 5, ";host"));
    return host && a->key_id[0] && strlen(a->date) == 8 && a->region[0] && a->service[0];
}

static void check_result(gate_sigv4_result r, const char *err)
{
    FUZZ_CHECK(r >= GATE_SIGV4_OK && r <= GATE_SIGV4_UNSUPPORTED, "result %d", (int)r);
    FUZZ_CHECK(r == GATE_SIGV4_OK || err[0], "result %s without a message", gate_sigv4_result_code(r));
}

FUZZ_TARGET(sigv4)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t alen = nl ? (size_t)(nl - data) : size;
    size_t tlen = nl ? size - alen - 1 : 0;
    char *authz = malloc(alen + 1);
    char *target = malloc(tlen + 2);
    FUZZ_CHECK(authz && target, "out of memory");
    memcpy(authz, data, alen);
    authz[alen] = '\0';
    size_t off = (tlen == 0 || nl[1] != '/');
    target[0] = '/';
    if (tlen)
        memcpy(target + off, nl + 1, tlen);
    target[tlen + off] = '\0';
    /* the exact size: any read past the NUL is a report */
    char *t = malloc(strlen(target) + 1);
    FUZZ_CHECK(t, "out of memory");
    strcpy(t, target);
    free(target);
    target = t;

    json_t *h = json_pack("{s:s, s:s, s:s}", "Host", "example.amazonaws.com", "X-Amz-Date", "20150830T123600Z",
                          "x-amz-content-sha256", GATE_SIGV4_EMPTY_SHA256);
    FUZZ_CHECK(h, "json_pack");
    char err[512] = "";
    gate_sigv4_auth a;
    int rc = gate_sigv4_parse(authz, &a, err, sizeof err);
    FUZZ_CHECK(rc == 0 || (rc == -1 && err[0]), "parse rc %d err '%s'", rc, err);
    if (rc == 0) {
        FUZZ_CHECK(well_formed(&a), "parse accepted a malformed header: '%s'", authz);
        err[0] = '\0';
        gate_sigv4_result r = gate_sigv4_verify("GET", target, h, "", 0, &a, SECRET, T0, err, sizeof err);
        check_result(r, err);
        FUZZ_CHECK(r != GATE_SIGV4_OK || strstr(authz, "Signature=") != NULL, "verified without a signature");
        gate_sigv4_auth_free(&a);
    }
    err[0] = '\0';
    rc = gate_sigv4_parse_query(target, &a, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == 1 || (rc == -1 && err[0]), "parse_query rc %d err '%s'", rc, err);
    if (rc == 0) {
        FUZZ_CHECK(well_formed(&a) && a.presigned && a.expires >= 1 && a.expires <= GATE_SIGV4_MAX_EXPIRES,
                   "parse_query accepted a malformed query");
        err[0] = '\0';
        check_result(gate_sigv4_verify("GET", target, h, "", 0, &a, SECRET, T0, err, sizeof err), err);
        gate_sigv4_auth_free(&a);
    }

    /* round trip */
    const char *service = (tlen && (nl[1] & 1)) ? "s3" : "service";
    json_t *s = json_pack("{s:s}", "Host", "example.amazonaws.com");
    err[0] = '\0';
    if (gate_sigv4_sign("GET", target, s, "", 0, "AKIDEXAMPLE", SECRET, NULL, "us-east-1", service, T0, err,
                        sizeof err) == 0) {
        const char *signed_authz = json_string_value(json_object_get(s, "Authorization"));
        FUZZ_CHECK(signed_authz, "signed without Authorization");
        rc = gate_sigv4_parse(signed_authz, &a, err, sizeof err);
        FUZZ_CHECK(rc == 0, "cannot parse what was signed: %s: %s", signed_authz, err);
        err[0] = '\0';
        gate_sigv4_result r = gate_sigv4_verify("GET", target, s, "", 0, &a, SECRET, T0, err, sizeof err);
        check_result(r, err);
        /* the one refusal: a query naming X-Amz-Signature beside the header */
        FUZZ_CHECK(r == GATE_SIGV4_OK || (r == GATE_SIGV4_INCOMPLETE && strstr(err, "Only one auth mechanism")),
                   "signed target '%s' does not verify: %s", target, err);
        static const char other[] = "/a-different-path?x=1";
        char *c1 = gate_sigv4__canonical_request("GET", target, s, a.signed_headers, "-", service, 0, err, sizeof err);
        char *c2 = gate_sigv4__canonical_request("GET", other, s, a.signed_headers, "-", service, 0, err, sizeof err);
        FUZZ_CHECK(c1 && c2, "no canonical request for a signed target");
        r = gate_sigv4_verify("GET", other, s, "", 0, &a, SECRET, T0, err, sizeof err);
        FUZZ_CHECK(r != GATE_SIGV4_OK || !strcmp(c1, c2), "another target verifies: '%s'", target);
        free(c1);
        free(c2);
        gate_sigv4_auth_free(&a);
    } else {
        FUZZ_CHECK(err[0], "sign failed without a message");
    }
    json_decref(s);
    json_decref(h);
    free(authz);
    free(target);
    return 0;
}
