/*
 * gate/aws/sigv4.h - AWS Signature Version 4: the gate verifies what agents
 * sign (the aws CLI, boto3) as AWS verifies it, and signs what it forwards
 * to production as botocore signs it (botocore/auth.py SigV4Auth and
 * S3SigV4Auth), so that production cannot tell the gate from the CLI.
 *
 * Transport-free: a request is a method, its target exactly as received
 * (percent-encoded path and query), its headers as a jansson object
 * {name: value} and its body.  Header names are compared without regard to
 * case; two names that differ only in case are one header whose values are
 * joined with ',' in the object's order, as repeated headers are.  A value
 * is a string, or an array of strings (a repeated header).
 *
 * Canonical form, both ways:
 *   - path: for every service but s3, dot segments and repeated slashes are
 *     removed and the path, as received, is percent-encoded once more (what
 *     the SigV4 documents call encoding twice; botocore quote(path, '/~'));
 *     for s3 the path is not normalised and not encoded twice: each %XX is
 *     decoded and every byte outside A-Z a-z 0-9 - . _ ~ and a literal '/'
 *     is written %XX (upper-case hex) - the form botocore sends, unchanged.
 *   - query: each name and value decoded and re-encoded (unreserved bytes
 *     kept, '+' is a literal plus), sorted by encoded name then value; a
 *     name without '=' gets an empty value; empty parts (a&&b) are dropped.
 *   - headers: names lower-cased, values trimmed and inner runs of
 *     whitespace made one space.
 *
 * Limits: target GATE_SIGV4_MAX_TARGET bytes, Authorization
 * GATE_SIGV4_MAX_AUTHORIZATION bytes, GATE_SIGV4_MAX_PARAMS query
 * parameters, canonical request GATE_SIGV4_MAX_CANONICAL bytes; past any of
 * them a request is GATE_SIGV4_INCOMPLETE with a message naming the limit.
 *
 * Messages written to err never hold a secret, a signing key or a computed
 * signature; they may quote header names, dates and the scope.
 */
#ifndef GATE_AWS_SIGV4_H
#define GATE_AWS_SIGV4_H

#include <jansson.h>
#include <stddef.h>

#define GATE_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define GATE_SIGV4_SKEW 900.0               /* seconds either way (AWS: 15 min.) */
#define GATE_SIGV4_MAX_EXPIRES 604800       /* presigned: one week, as AWS */
#define GATE_SIGV4_MAX_TARGET 16384
#define GATE_SIGV4_MAX_AUTHORIZATION 8192
#define GATE_SIGV4_MAX_SIGNED_HEADERS 2048  /* bytes of the SignedHeaders list */
#define GATE_SIGV4_MAX_PARAMS 512
#define GATE_SIGV4_MAX_CANONICAL (256 * 1024)
#define GATE_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A request's credentials, from its Authorization header (gate_sigv4_parse)
 * or from a presigned URL's query (gate_sigv4_parse_query).  key_id is
 * 1..128 letters and digits, date YYYYMMDD, region and service 1..63 of
 * [a-z0-9-], signed_headers the lower-case, sorted, ';'-separated list (it
 * names host), signature 64 lower-case hex digits.  signed_headers is owned
 * by the struct: gate_sigv4_auth_free releases it. */
typedef struct gate_sigv4_auth {
    char key_id[129];
    char date[9];
    char region[64];
    char service[64];
    char *signed_headers;
    char signature[65];
    /* presigned (query) auth only: its X-Amz-Date and X-Amz-Expires */
    int presigned;
    char amz_date[17];
    long expires;
} gate_sigv4_auth;

typedef enum {
    GATE_SIGV4_OK = 0,
    GATE_SIGV4_INCOMPLETE,  /* IncompleteSignature: malformed or missing parts (400) */
    GATE_SIGV4_EXPIRED,     /* RequestExpired: outside the 15 minutes, or past X-Amz-Expires (403) */
    GATE_SIGV4_MISMATCH,    /* SignatureDoesNotMatch, or a payload hash not the body's (403) */
    GATE_SIGV4_UNSUPPORTED, /* NotImplemented: aws-chunked streaming payloads and the like (501) */
} gate_sigv4_result;

/* AWS's error code for r: "IncompleteSignature", "RequestExpired",
 * "SignatureDoesNotMatch", "NotImplemented" ("OK" for GATE_SIGV4_OK).
 * Static storage. */
const char *gate_sigv4_result_code(gate_sigv4_result r);

/* Parses an Authorization header:
 *   AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request,
 *       SignedHeaders=host;x-amz-date, Signature=<64 hex>
 * Strict: the three parts once each, in any order, separated by ',' and
 * optional spaces; the scope ends in aws4_request; the signature is 64
 * lower-case hex digits; SignedHeaders lower-case, sorted, without
 * repeats, naming host.  0 and *a filled (release it with
 * gate_sigv4_auth_free), or -1 with err naming what is wrong and *a
 * untouched (the request is then GATE_SIGV4_INCOMPLETE). */
int gate_sigv4_parse(const char *authorization, gate_sigv4_auth *a, char *err, size_t errlen);

/* Parses presigned-URL auth from a request target's query: X-Amz-Algorithm,
 * X-Amz-Credential, X-Amz-Date, X-Amz-Expires (1..604800),
 * X-Amz-SignedHeaders and X-Amz-Signature, once each.  0 and *a filled
 * (a->presigned set), 1 when the query carries none of them (no presigned
 * auth: *a untouched), or -1 with err when it carries some but they are
 * malformed or incomplete (GATE_SIGV4_INCOMPLETE). */
int gate_sigv4_parse_query(const char *target, gate_sigv4_auth *a, char *err, size_t errlen);

/* Releases a->signed_headers; a may be NULL. */
void gate_sigv4_auth_free(gate_sigv4_auth *a);

/* Verifies a request against auth a (from either parser) and the secret of
 * a->key_id (the caller looked it up; it also checks a->region and
 * a->service against what it serves).  method, target, headers (an object,
 * borrowed) and a are required; body may be NULL when len is 0.  `now` is
 * seconds since the epoch.
 *
 * Header auth: X-Amz-Date (or, without it, Date) is required, within 15
 * minutes of now either way, and its day is the scope's.  Presigned auth:
 * X-Amz-Date no more than 15 minutes ahead and now no later than
 * X-Amz-Date + X-Amz-Expires; X-Amz-Signature is left out of the canonical
 * query; the payload is UNSIGNED-PAYLOAD for s3, the body's hash otherwise.
 * X-Amz-Content-SHA256, when present, is signed as given and must be the
 * body's SHA-256 (else MISMATCH) or UNSIGNED-PAYLOAD (s3 only, else
 * UNSUPPORTED); STREAMING-* (aws-chunked) is UNSUPPORTED; s3 requires it on
 * header auth, as S3 does.  Every signed header must be in the request.
 * The signature is compared in constant time.  A target carrying both an
 * Authorization header's auth and X-Amz-Signature is INCOMPLETE.
 * err gets AWS's wording of the failure where AWS has one. */
gate_sigv4_result gate_sigv4_verify(const char *method, const char *target, const json_t *headers, const char *body,
                                    size_t len, const gate_sigv4_auth *a, const char *secret, double now, char *err,
                                    size_t errlen);

/* Signs a request as botocore does, in place: headers (an object, borrowed,
 * modified) must hold Host; it gets X-Amz-Date (or, when it holds Date, a
 * new Date in botocore's form and no X-Amz-Date), X-Amz-Security-Token when
 * session_token is not NULL, X-Amz-Content-SHA256 (the body's SHA-256) for
 * s3 only, as botocore, and Authorization; any earlier value of those is
 * replaced.  Every header is signed but Expect, User-Agent and
 * X-Amzn-Trace-Id (botocore's list).  url_path_query is the target encoded
 * as it will be sent.  0, or -1 with err (invalid key id, region, service,
 * method, target or headers) and headers untouched. */
int gate_sigv4_sign(const char *method, const char *url_path_query, json_t *headers, const char *body, size_t len,
                    const char *key_id, const char *secret, const char *session_token, const char *region,
                    const char *service, double now, char *err, size_t errlen);

/* Semi-private, for tests and for debugging an agent's signatures. */

/* The canonical request of (method, target, headers) for signed_headers
 * (';'-separated) and payload_hash, as the service canonicalises; presigned
 * leaves X-Amz-Signature out of the query.  A new string the caller frees,
 * or NULL with err (a signed header missing, a limit passed). */
char *gate_sigv4__canonical_request(const char *method, const char *target, const json_t *headers,
                                    const char *signed_headers, const char *payload_hash, const char *service,
                                    int presigned, char *err, size_t errlen);
/* The string to sign for a canonical request, timestamp (YYYYMMDDTHHMMSSZ)
 * and scope "date/region/service/aws4_request".  Caller frees. */
char *gate_sigv4__string_to_sign(const char *canonical_request, const char *timestamp, const char *scope);
/* The hex signature (65 bytes with its NUL) of string_to_sign. */
void gate_sigv4__signature(const char *secret, const char *date, const char *region, const char *service,
                           const char *string_to_sign, char out[65]);

#endif
