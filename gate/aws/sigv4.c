/*
 * gate/aws/sigv4.c - AWS Signature Version 4 (sigv4.h): parsing the
 * Authorization header and presigned queries, the canonical request, the
 * string to sign, the signing key, verifying and signing.
 *
 * The reference is botocore/auth.py (SigV4Auth, S3SigV4Auth) and AWS's
 * SigV4 test suite (tests/test_aws_sigv4.c carries its vectors).
 */
#include "gate/aws/sigv4.h"

#include <gnutls/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gate/base/log.h"
#include "twin/util.h"


const char *gate_sigv4_result_code(gate_sigv4_result r)
{
    switch (r) {
    case GATE_SIGV4_OK:
        return "OK";
    case GATE_SIGV4_INCOMPLETE:
        return "IncompleteSignature";
    case GATE_SIGV4_EXPIRED:
        return "RequestExpired";
    case GATE_SIGV4_MISMATCH:
        return "SignatureDoesNotMatch";
    case GATE_SIGV4_UNSUPPORTED:
        return "NotImplemented";
    }
    return "InternalError";
}

/* ---- small helpers ---- */

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

static int is_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The byte %XX at s[i] stands for, or -1 when s[i] does not start one. */
static int pct_at(const char *s, size_t n, size_t i)
{
    if (s[i] != '%' || i + 2 >= n || hexval((unsigned char)s[i + 1]) < 0 || hexval((unsigned char)s[i + 2]) < 0)
        return -1;
    return hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]);
}

/* The whitespace Python's str.split() splits on, within ASCII. */
static int is_ws(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static void add_pct(twin_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    char e[3] = {'%', hex[c >> 4], hex[c & 15]};
    twin_buf_add(b, e, 3);
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char d[32];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, len ? data : "", len, d) < 0)
        abort(); /* SHA-256 cannot fail but for lack of memory: the OOM policy */
    hex_encode(d, 32, out);
}

static void hmac(const void *key, size_t keylen, const char *msg, size_t msglen, unsigned char out[32])
{
    if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, keylen, msg, msglen, out) < 0)
        abort();
}

/* Copies at most cap-1 bytes of s, non-printable ones as '?', for messages
 * quoting what a client sent. */
static const char *printable(const char *s, size_t n, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < n && s[i] && j + 1 < cap; i++)
        out[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[j] = '\0';
    return out;
}

static int valid_scope_word(const char *s, size_t n, size_t cap)
{
    if (n == 0 || n >= cap)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || is_digit((unsigned char)s[i]) || s[i] == '-'))
            return 0;
    return 1;
}

static int valid_key_id(const char *s, size_t n)
{
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum((unsigned char)s[i]))
            return 0;
    return 1;
}

static int valid_method(const char *m)
{
    if (!m || !*m || strlen(m) > 32)
        return 0;
    for (; *m; m++)
        if (!(*m >= 'A' && *m <= 'Z'))
            return 0;
    return 1;
}

/* Days in a civil date: 0 when y/m/d is not one. */
static int valid_ymd(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int valid_date8(const char *s)
{
    int y, m, d;
    return strlen(s) == 8 && !digits(s, 4, &y) && !digits(s + 4, 2, &m) && !digits(s + 6, 2, &d) && valid_ymd(y, m, d);
}

/* YYYYMMDDTHHMMSSZ to seconds since the epoch: 0, or -1 when s is not one. */
static int parse_amz_date(const char *s, double *t)
{
    int y, mo, d, h, mi, se;
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z' || digits(s, 4, &y) || digits(s + 4, 2, &mo) ||
        digits(s + 6, 2, &d) || digits(s + 9, 2, &h) || digits(s + 11, 2, &mi) || digits(s + 13, 2, &se) ||
        !valid_ymd(y, mo, d) || h > 23 || mi > 59 || se > 60)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = se};
    *t = (double)timegm(&tm);
    return 0;
}

static void format_amz_date(double t, char out[17])
{
    time_t tt = (t >= 0 && t < 253402300800.0) ? (time_t)t : 0; /* years 1970 to 9999 */
    struct tm tm;
    if (!(t >= 0 && t < 253402300800.0) || !gmtime_r(&tt, &tm)) {
        snprintf(out, 17, "00000000T000000Z");
        return;
    }
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* An HTTP Date ("Sun, 30 Aug 2015 12:36:00 GMT", or botocore's "-0000")
 * to seconds: 0 or -1. */
static int parse_http_date(const char *s, double *t)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char wd[4], mon[4], zone[6];
    int d, y, h, mi, se, used = 0;
    if (strlen(s) > 40 ||
        sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %5s%n", wd, &d, mon, &y, &h, &mi, &se, zone, &used) !=
            8 ||
        s[used] != '\0')
        return -1;
    if (strcmp(zone, "GMT") && strcmp(zone, "UTC") && strcmp(zone, "+0000") && strcmp(zone, "-0000"))
        return -1;
    int m = 0;
    while (m < 12 && strcmp(mon, months[m]))
        m++;
    if (m == 12 || !valid_ymd(y, m + 1, d) || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = se};
    *t = (double)timegm(&tm);
    return 0;
}

/* ---- headers ---- */

/* Appends the trimmed value of every header named `name` (lower-case) to
 * b, joined with ','.  1 when there was one, 0 when none, -1 when a value
 * is neither a string nor an array of strings. */
static int header_values(const json_t *headers, const char *name, twin_buf *b)
{
    const char *k;
    json_t *v;
    int found = 0;
    json_object_foreach((json_t *)headers, k, v)
    {
        if (strcasecmp(k, name))
            continue;
        size_t n = json_is_array(v) ? json_array_size(v) : 1;
        for (size_t i = 0; i < n; i++) {
            const json_t *one = json_is_array(v) ? json_array_get(v, i) : v;
            if (!json_is_string(one))
                return -1;
            if (found++)
                twin_buf_add(b, ",", 1);
            const char *s = json_string_value(one);
            size_t len = json_string_length(one);
            size_t i0 = 0;
            int space = 0, any = 0;
            for (; i0 < len; i0++) {
                unsigned char c = (unsigned char)s[i0];
                if (is_ws(c)) {
                    space = any;
                    continue;
                }
                if (space)
                    twin_buf_add(b, " ", 1);
                twin_buf_add(b, s + i0, 1);
                space = 0;
                any = 1;
            }
        }
    }
    return found ? 1 : 0;
}

/* The trimmed value of header `name`, or NULL when absent or not text.
 * Caller frees. */
static char *header_get(const json_t *headers, const char *name)
{
    twin_buf b = {0};
    if (header_values(headers, name, &b) != 1) {
        twin_buf_free(&b);
        return NULL;
    }
    if (!b.s)
        return twin_xstrdup("");
    return b.s;
}

static void header_del(json_t *headers, const char *name)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(headers, tmp, k, v)
    {
        if (!strcasecmp(k, name))
            json_object_del(headers, k);
    }
}

static void header_set(json_t *headers, const char *name, const char *value)
{
    header_del(headers, name);
    json_object_set_new(headers, name, json_string(value));
}

/* ---- canonical URI and query ---- */

/* botocore's remove_dot_segments: '.' and empty segments dropped, '..'
 * pops; leading and trailing '/' kept; "" gives "/". */
static void normalize_path(const char *p, size_t n, twin_buf *out)
{
    if (n == 0) {
        twin_buf_add(out, "/", 1);
        return;
    }
    size_t nseg = 0, cap = 16;
    size_t *start = twin_xmalloc(cap * sizeof *start), *lens = twin_xmalloc(cap * sizeof *lens);
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t l = j - i;
        if (l == 0 || (l == 1 && p[i] == '.')) {
            /* dropped */
        } else if (l == 2 && p[i] == '.' && p[i + 1] == '.') {
            if (nseg)
                nseg--;
        } else {
            if (nseg == cap) {
                cap *= 2;
                start = twin_xrealloc(start, cap * sizeof *start);
                lens = twin_xrealloc(lens, cap * sizeof *lens);
            }
            start[nseg] = i;
            lens[nseg++] = l;
        }
        i = j + 1;
    }
    if (p[0] == '/')
        twin_buf_add(out, "/", 1);
    for (size_t s = 0; s < nseg; s++) {
        if (s)
            twin_buf_add(out, "/", 1);
        twin_buf_add(out, p + start[s], lens[s]);
    }
    if (p[n - 1] == '/' && nseg)
        twin_buf_add(out, "/", 1);
    free(start);
    free(lens);
}

static void canonical_uri(const char *path, size_t n, const char *service, twin_buf *out)
{
    if (!strcmp(service, "s3")) {
        /* decoded, then encoded once: the form botocore sends, unchanged */
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)path[i];
            int dc = pct_at(path, n, i);
            if (dc >= 0) {
                unsigned char d = (unsigned char)dc;
                if (is_unreserved(d))
                    twin_buf_add(out, (const char *)&d, 1);
                else
                    add_pct(out, d);
                i += 2;
            } else if (is_unreserved(c) || c == '/') {
                twin_buf_add(out, (const char *)&c, 1);
            } else {
                add_pct(out, c);
            }
        }
        if (n == 0)
            twin_buf_add(out, "/", 1);
        return;
    }
    twin_buf norm = {0};
    normalize_path(path, n, &norm);
    for (size_t i = 0; i < norm.len; i++) {
        unsigned char c = (unsigned char)norm.s[i];
        if (is_unreserved(c) || c == '/')
            twin_buf_add(out, (const char *)&c, 1);
        else
            add_pct(out, c);
    }
    twin_buf_free(&norm);
}

/* Decodes s[0..n) (%XX; anything else literal) and encodes it again, only
 * unreserved bytes left bare. */
static void reencode(const char *s, size_t n, twin_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int dc = pct_at(s, n, i);
        if (dc >= 0) {
            c = (unsigned char)dc;
            i += 2;
        }
        if (is_unreserved(c))
            twin_buf_add(out, (const char *)&c, 1);
        else
            add_pct(out, c);
    }
}

/* Decodes s[0..n) into a new string (%XX; anything else literal). */
static char *decode(const char *s, size_t n)
{
    char *out = twin_xmalloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        int dc = pct_at(s, n, i);
        if (dc >= 0) {
            out[j++] = (char)dc;
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

typedef struct {
    char *name, *value; /* encoded */
} qparam;

static int qparam_cmp(const void *a, const void *b)
{
    const qparam *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* Splits query q[0..n) into encoded parameters; presigned drops
 * X-Amz-Signature.  -1 past GATE_SIGV4_MAX_PARAMS. */
static int query_params(const char *q, size_t n, int presigned, qparam **out, size_t *count)
{
    qparam *v = NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && q[j] != '&')
            j++;
        if (j > i) {
            size_t eq = i;
            while (eq < j && q[eq] != '=')
                eq++;
            if (presigned) {
                char *name = decode(q + i, eq - i);
                int skip = !strcmp(name, "X-Amz-Signature");
                free(name);
                if (skip) {
                    i = j + 1;
                    continue;
                }
            }
            if (k == GATE_SIGV4_MAX_PARAMS) {
                for (size_t x = 0; x < k; x++) {
                    free(v[x].name);
                    free(v[x].value);
                }
                free(v);
                return -1;
            }
            v = twin_xrealloc(v, (k + 1) * sizeof *v);
            twin_buf bn = {0}, bv = {0};
            reencode(q + i, eq - i, &bn);
            if (eq < j)
                reencode(q + eq + 1, j - eq - 1, &bv);
            v[k].name = bn.s ? bn.s : twin_xstrdup("");
            v[k].value = bv.s ? bv.s : twin_xstrdup("");
            k++;
        }
        i = j + 1;
    }
    *out = v;
    *count = k;
    return 0;
}

static void qparams_free(qparam *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
}

char *gate_sigv4__canonical_request(const char *method, const char *target, const json_t *headers,
                                    const char *signed_headers, const char *payload_hash, const char *service,
                                    int presigned, char *err, size_t errlen)
{
    twin_buf b = {0};
    qparam *params = NULL;
    size_t nparams = 0;
    size_t tlen = strlen(target);
    const char *qmark = memchr(target, '?', tlen);
    size_t plen = qmark ? (size_t)(qmark - target) : tlen;

    twin_buf_addf(&b, "%s\n", method);
    canonical_uri(target, plen, service, &b);
    twin_buf_add(&b, "\n", 1);
    if (qmark && query_params(qmark + 1, tlen - plen - 1, presigned, &params, &nparams) < 0) {
        gate_errf(err, errlen, "the query has more than %d parameters", GATE_SIGV4_MAX_PARAMS);
        goto fail;
    }
    if (nparams)
        qsort(params, nparams, sizeof *params, qparam_cmp);
    for (size_t i = 0; i < nparams; i++)
        twin_buf_addf(&b, "%s%s=%s", i ? "&" : "", params[i].name, params[i].value);
    twin_buf_add(&b, "\n", 1);

    for (const char *p = signed_headers; *p;) {
        const char *e = strchr(p, ';');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char name[GATE_SIGV4_MAX_SIGNED_HEADERS + 1];
        if (l == 0 || l > GATE_SIGV4_MAX_SIGNED_HEADERS) {
            gate_errf(err, errlen, "SignedHeaders has an empty or over-long name");
            goto fail;
        }
        memcpy(name, p, l);
        name[l] = '\0';
        twin_buf_addf(&b, "%s:", name);
        int rc = header_values(headers, name, &b);
        if (rc <= 0) {
            char q[80];
            gate_errf(err, errlen, rc < 0 ? "header '%s' is neither text nor a list of text"
                                       : "signed header '%s' is not in the request",
                   printable(name, l, q, sizeof q));
            goto fail;
        }
        twin_buf_add(&b, "\n", 1);
        if (b.len > GATE_SIGV4_MAX_CANONICAL) {
            gate_errf(err, errlen, "the canonical request is longer than %d bytes", GATE_SIGV4_MAX_CANONICAL);
            goto fail;
        }
        p += l + (e != NULL);
    }
    twin_buf_addf(&b, "\n%s\n%s", signed_headers, payload_hash);
    if (b.len > GATE_SIGV4_MAX_CANONICAL) {
        gate_errf(err, errlen, "the canonical request is longer than %d bytes", GATE_SIGV4_MAX_CANONICAL);
        goto fail;
    }
    qparams_free(params, nparams);
    return b.s;
fail:
    qparams_free(params, nparams);
    twin_buf_free(&b);
    return NULL;
}

char *gate_sigv4__string_to_sign(const char *canonical_request, const char *timestamp, const char *scope)
{
    char h[65];
    sha256_hex(canonical_request, strlen(canonical_request), h);
    return twin_xasprintf(GATE_SIGV4_ALGORITHM "\n%s\n%s\n%s", timestamp, scope, h);
}

void gate_sigv4__signature(const char *secret, const char *date, const char *region, const char *service,
                           const char *string_to_sign, char out[65])
{
    size_t slen = strlen(secret);
    char *k0 = twin_xmalloc(slen + 5);
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, slen + 1);
    unsigned char k[32], sig[32];
    hmac(k0, slen + 4, date, strlen(date), k);
    explicit_bzero(k0, slen + 4);
    free(k0);
    hmac(k, 32, region, strlen(region), k);
    hmac(k, 32, service, strlen(service), k);
    hmac(k, 32, "aws4_request", 12, k);
    hmac(k, 32, string_to_sign, strlen(string_to_sign), sig);
    explicit_bzero(k, sizeof k);
    hex_encode(sig, 32, out);
}

/* ---- parsing ---- */

/* Checks the "AKID/date/region/service/aws4_request" of a credential (n
 * bytes) into a: 0 or -1 with err. */
static int parse_credential(const char *c, size_t n, gate_sigv4_auth *a, char *err, size_t errlen)
{
    const char *part[6];
    size_t len[6], k = 0;
    for (size_t i = 0, s = 0; i <= n; i++) {
        if (i == n || c[i] == '/') {
            if (k == 6)
                break;
            part[k] = c + s;
            len[k++] = i - s;
            s = i + 1;
        }
    }
    if (k != 5) {
        if (k == 6)
            gate_errf(err, errlen, "Credential must be <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request "
                                "(more than 5 parts)");
        else
            gate_errf(err, errlen,
                   "Credential must be <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request (%zu parts, not 5)",
                   k);
        return -1;
    }
    char q[80];
    if (!valid_key_id(part[0], len[0])) {
        gate_errf(err, errlen, "Credential: the access key id must be 1 to 128 letters and digits");
        return -1;
    }
    memcpy(a->key_id, part[0], len[0]);
    a->key_id[len[0]] = '\0';
    if (len[1] != 8) {
        gate_errf(err, errlen, "Credential: the date must be YYYYMMDD, not '%s'", printable(part[1], len[1], q, 20));
        return -1;
    }
    memcpy(a->date, part[1], 8);
    a->date[8] = '\0';
    if (!valid_date8(a->date)) {
        gate_errf(err, errlen, "Credential: the date must be YYYYMMDD, not '%s'", printable(part[1], len[1], q, 20));
        return -1;
    }
    if (!valid_scope_word(part[2], len[2], sizeof a->region)) {
        gate_errf(err, errlen, "Credential: the region must be 1 to 63 of a-z 0-9 -, not '%s'",
               printable(part[2], len[2], q, 70));
        return -1;
    }
    memcpy(a->region, part[2], len[2]);
    a->region[len[2]] = '\0';
    if (!valid_scope_word(part[3], len[3], sizeof a->service)) {
        gate_errf(err, errlen, "Credential: the service must be 1 to 63 of a-z 0-9 -, not '%s'",
               printable(part[3], len[3], q, 70));
        return -1;
    }
    memcpy(a->service, part[3], len[3]);
    a->service[len[3]] = '\0';
    if (len[4] != 12 || memcmp(part[4], "aws4_request", 12)) {
        gate_errf(err, errlen, "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'",
               printable(part[4], len[4], q, 40));
        return -1;
    }
    return 0;
}

static int parse_signature(const char *s, size_t n, gate_sigv4_auth *a, char *err, size_t errlen)
{
    int ok = n == 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = is_digit((unsigned char)s[i]) || (s[i] >= 'a' && s[i] <= 'f');
    if (!ok) {
        gate_errf(err, errlen, "Signature must be 64 lower-case hex digits (%zu bytes given)", n);
        return -1;
    }
    memcpy(a->signature, s, 64);
    a->signature[64] = '\0';
    return 0;
}

static int token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || is_digit(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Checks a SignedHeaders list (n bytes): a new copy in *out, or -1. */
static int parse_signed_headers(const char *s, size_t n, char **out, char *err, size_t errlen)
{
    if (n == 0) {
        gate_errf(err, errlen, "SignedHeaders is empty");
        return -1;
    }
    if (n > GATE_SIGV4_MAX_SIGNED_HEADERS) {
        gate_errf(err, errlen, "SignedHeaders is longer than %d bytes", GATE_SIGV4_MAX_SIGNED_HEADERS);
        return -1;
    }
    const char *prev = NULL;
    size_t prevlen = 0;
    int host = 0;
    char q[80], q2[80];
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && s[j] != ';')
            j++;
        size_t l = j - i;
        if (l == 0) {
            gate_errf(err, errlen, "SignedHeaders has an empty name");
            return -1;
        }
        for (size_t x = i; x < j; x++) {
            if (s[x] >= 'A' && s[x] <= 'Z') {
                gate_errf(err, errlen, "SignedHeaders must be lower-case: '%s'", printable(s + i, l, q, sizeof q));
                return -1;
            }
            if (!token_char((unsigned char)s[x])) {
                gate_errf(err, errlen, "SignedHeaders: '%s' is not a header name", printable(s + i, l, q, sizeof q));
                return -1;
            }
        }
        if (prev) {
            size_t m = l < prevlen ? l : prevlen;
            int c = memcmp(prev, s + i, m);
            if (c == 0 && l == prevlen) {
                gate_errf(err, errlen, "SignedHeaders names '%s' twice", printable(s + i, l, q, sizeof q));
                return -1;
            }
            if (c > 0 || (c == 0 && prevlen > l)) {
                gate_errf(err, errlen, "SignedHeaders must be sorted: '%s' comes before '%s'",
                       printable(s + i, l, q, sizeof q), printable(prev, prevlen, q2, sizeof q2));
                return -1;
            }
        }
        if (l == 4 && !memcmp(s + i, "host", 4))
            host = 1;
        prev = s + i;
        prevlen = l;
        i = j + 1;
    }
    if (!host) {
        gate_errf(err, errlen, "SignedHeaders must include host");
        return -1;
    }
    *out = twin_xmalloc(n + 1);
    memcpy(*out, s, n);
    (*out)[n] = '\0';
    return 0;
}

int gate_sigv4_parse(const char *authz, gate_sigv4_auth *out, char *err, size_t errlen)
{
    static const char *const names[] = {"Credential", "SignedHeaders", "Signature"};
    gate_sigv4_auth a = {0};
    const char *val[3] = {0};
    size_t vlen[3] = {0};
    char q[80];
    if (!authz || !*authz) {
        gate_errf(err, errlen, "no Authorization header");
        return -1;
    }
    size_t n = strlen(authz);
    if (n > GATE_SIGV4_MAX_AUTHORIZATION) {
        gate_errf(err, errlen, "Authorization is longer than %d bytes", GATE_SIGV4_MAX_AUTHORIZATION);
        return -1;
    }
    size_t alg = strlen(GATE_SIGV4_ALGORITHM);
    if (strncmp(authz, GATE_SIGV4_ALGORITHM, alg) || authz[alg] != ' ') {
        if (!strncmp(authz, "AWS ", 4))
            gate_errf(err, errlen, "Authorization: Signature Version 2 ('AWS key:signature') is not accepted; "
                                "sign with AWS4-HMAC-SHA256");
        else
            gate_errf(err, errlen, "Authorization must start with '" GATE_SIGV4_ALGORITHM " '");
        return -1;
    }
    const char *p = authz + alg;
    const char *end = authz + n;
    while (p < end && *p == ' ')
        p++;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        const char *ve = e;
        while (ve > p && ve[-1] == ' ')
            ve--;
        if (ve == p) {
            gate_errf(err, errlen, "Authorization has an empty part");
            return -1;
        }
        const char *eq = memchr(p, '=', (size_t)(ve - p));
        if (!eq) {
            gate_errf(err, errlen, "Authorization: '%s' is not name=value", printable(p, (size_t)(ve - p), q, 40));
            return -1;
        }
        int which = -1;
        for (int i = 0; i < 3; i++)
            if ((size_t)(eq - p) == strlen(names[i]) && !memcmp(p, names[i], (size_t)(eq - p)))
                which = i;
        if (which < 0) {
            gate_errf(err, errlen, "Authorization has an unknown part '%s'", printable(p, (size_t)(eq - p), q, 40));
            return -1;
        }
        if (val[which]) {
            gate_errf(err, errlen, "Authorization has '%s' twice", names[which]);
            return -1;
        }
        val[which] = eq + 1;
        vlen[which] = (size_t)(ve - eq - 1);
        if (memchr(val[which], ' ', vlen[which]) || memchr(val[which], '\t', vlen[which])) {
            gate_errf(err, errlen, "Authorization: '%s' holds a space (parts are separated by ',')", names[which]);
            return -1;
        }
        if (!comma)
            break;
        p = comma + 1;
        while (p < end && *p == ' ')
            p++;
        if (p == end) {
            gate_errf(err, errlen, "Authorization ends with ','");
            return -1;
        }
    }
    for (int i = 0; i < 3; i++)
        if (!val[i]) {
            gate_errf(err, errlen, "Authorization header requires '%s' parameter", names[i]);
            return -1;
        }
    if (parse_credential(val[0], vlen[0], &a, err, errlen) < 0 || parse_signature(val[2], vlen[2], &a, err, errlen) < 0 ||
        parse_signed_headers(val[1], vlen[1], &a.signed_headers, err, errlen) < 0)
        return -1;
    *out = a;
    return 0;
}

int gate_sigv4_parse_query(const char *target, gate_sigv4_auth *out, char *err, size_t errlen)
{
    static const char *const names[] = {"X-Amz-Algorithm", "X-Amz-Credential",    "X-Amz-Date",
                                        "X-Amz-Expires",   "X-Amz-SignedHeaders", "X-Amz-Signature"};
    enum { NNAMES = 6 };
    char *val[NNAMES] = {0};
    gate_sigv4_auth a = {0};
    int rc = -1, any = 0;
    const char *q = target ? strchr(target, '?') : NULL;
    if (!q)
        return 1;
    q++;
    size_t n = strlen(q);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && q[j] != '&')
            j++;
        size_t eq = i;
        while (eq < j && q[eq] != '=')
            eq++;
        char *name = decode(q + i, eq - i);
        for (int k = 0; k < NNAMES; k++) {
            if (strcmp(name, names[k]))
                continue;
            any = 1;
            if (val[k]) {
                gate_errf(err, errlen, "the query has '%s' twice", names[k]);
                free(name);
                goto cleanup;
            }
            val[k] = eq < j ? decode(q + eq + 1, j - eq - 1) : twin_xstrdup("");
        }
        free(name);
        i = j + 1;
    }
    if (!any)
        return 1;
    for (int k = 0; k < NNAMES; k++)
        if (!val[k]) {
            gate_errf(err, errlen, "a presigned request requires the '%s' query parameter", names[k]);
            goto cleanup;
        }
    if (strcmp(val[0], GATE_SIGV4_ALGORITHM)) {
        char qq[40];
        gate_errf(err, errlen, "X-Amz-Algorithm must be " GATE_SIGV4_ALGORITHM ", not '%s'",
               printable(val[0], strlen(val[0]), qq, sizeof qq));
        goto cleanup;
    }
    double t;
    if (parse_amz_date(val[2], &t) < 0) {
        gate_errf(err, errlen, "X-Amz-Date must be YYYYMMDDTHHMMSSZ");
        goto cleanup;
    }
    memcpy(a.amz_date, val[2], 17);
    int e = 0;
    size_t elen = strlen(val[3]);
    if (elen == 0 || elen > 6 || digits(val[3], elen, &e) < 0 || e < 1 || e > GATE_SIGV4_MAX_EXPIRES) {
        gate_errf(err, errlen, "X-Amz-Expires must be a number of seconds from 1 to %d", GATE_SIGV4_MAX_EXPIRES);
        goto cleanup;
    }
    a.expires = e;
    a.presigned = 1;
    if (parse_credential(val[1], strlen(val[1]), &a, err, errlen) < 0 ||
        parse_signature(val[5], strlen(val[5]), &a, err, errlen) < 0 ||
        parse_signed_headers(val[4], strlen(val[4]), &a.signed_headers, err, errlen) < 0)
        goto cleanup;
    *out = a;
    rc = 0;
cleanup:
    for (int k = 0; k < NNAMES; k++)
        free(val[k]);
    return rc;
}

void gate_sigv4_auth_free(gate_sigv4_auth *a)
{
    if (!a)
        return;
    free(a->signed_headers);
    a->signed_headers = NULL;
}

/* ---- verifying ---- */

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (hexval((unsigned char)*s) < 0)
            return 0;
    return 1;
}

/* Whether target's query carries a parameter named `name` (decoded). */
static int query_has(const char *target, const char *name)
{
    const char *q = strchr(target, '?');
    if (!q)
        return 0;
    q++;
    size_t n = strlen(q);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && q[j] != '&' && q[j] != '=')
            j++;
        char *k = decode(q + i, j - i);
        int hit = !strcmp(k, name);
        free(k);
        if (hit)
            return 1;
        while (j < n && q[j] != '&')
            j++;
        i = j + 1;
    }
    return 0;
}

/* The payload hash to sign: from X-Amz-Content-SHA256 when present (as
 * given), else the body's (or UNSIGNED-PAYLOAD for a presigned s3 URL). */
static gate_sigv4_result payload_hash(const json_t *headers, const char *body, size_t len, const gate_sigv4_auth *a,
                                      char **out, char *err, size_t errlen)
{
    int s3 = !strcmp(a->service, "s3");
    char *h = header_get(headers, "x-amz-content-sha256");
    char actual[65];
    if (!h) {
        if (s3 && a->presigned) {
            *out = twin_xstrdup("UNSIGNED-PAYLOAD");
            return GATE_SIGV4_OK;
        }
        if (s3) {
            gate_errf(err, errlen, "Missing required header for this request: x-amz-content-sha256");
            return GATE_SIGV4_INCOMPLETE;
        }
        sha256_hex(body, len, actual);
        *out = twin_xstrdup(actual);
        return GATE_SIGV4_OK;
    }
    if (!strncmp(h, "STREAMING-", 10)) {
        char q[48];
        gate_errf(err, errlen,
               "X-Amz-Content-SHA256 %s: aws-chunked uploads are not supported; send the body whole "
               "(boto3 1.36 and later: request_checksum_calculation = when_required)",
               printable(h, strlen(h), q, sizeof q));
        free(h);
        return GATE_SIGV4_UNSUPPORTED;
    }
    if (!strcmp(h, "UNSIGNED-PAYLOAD")) {
        if (!s3) {
            gate_errf(err, errlen, "X-Amz-Content-SHA256 UNSIGNED-PAYLOAD is accepted for s3 only, not %s", a->service);
            free(h);
            return GATE_SIGV4_UNSUPPORTED;
        }
        *out = h;
        return GATE_SIGV4_OK;
    }
    if (!is_hex64(h)) {
        gate_errf(err, errlen, "X-Amz-Content-SHA256 must be the body's SHA-256 in hex or UNSIGNED-PAYLOAD");
        free(h);
        return GATE_SIGV4_INCOMPLETE;
    }
    sha256_hex(body, len, actual);
    if (strcasecmp(h, actual)) {
        gate_errf(err, errlen, "The provided 'x-amz-content-sha256' header does not match what was computed: "
                            "the body's SHA-256 is %s", actual);
        free(h);
        return GATE_SIGV4_MISMATCH;
    }
    *out = h;
    return GATE_SIGV4_OK;
}

/* When the request was signed (its X-Amz-Date, or Date), as
 * YYYYMMDDTHHMMSSZ and seconds. */
static gate_sigv4_result request_time(const json_t *headers, const gate_sigv4_auth *a, char ts[17], double *t,
                                      char *err, size_t errlen)
{
    char q[48];
    if (a->presigned) {
        memcpy(ts, a->amz_date, 17);
        return parse_amz_date(ts, t) < 0 ? GATE_SIGV4_INCOMPLETE : GATE_SIGV4_OK;
    }
    char *d = header_get(headers, "x-amz-date");
    if (d) {
        int bad = parse_amz_date(d, t) < 0;
        if (bad)
            gate_errf(err, errlen, "X-Amz-Date must be YYYYMMDDTHHMMSSZ, not '%s'", printable(d, strlen(d), q, sizeof q));
        else
            memcpy(ts, d, 17);
        free(d);
        return bad ? GATE_SIGV4_INCOMPLETE : GATE_SIGV4_OK;
    }
    d = header_get(headers, "date");
    if (!d) {
        gate_errf(err, errlen, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
        return GATE_SIGV4_INCOMPLETE;
    }
    int bad = parse_http_date(d, t) < 0;
    if (bad)
        gate_errf(err, errlen, "Date must be an HTTP date ('Sun, 30 Aug 2015 12:36:00 GMT'), not '%s'",
               printable(d, strlen(d), q, sizeof q));
    else
        format_amz_date(*t, ts);
    free(d);
    return bad ? GATE_SIGV4_INCOMPLETE : GATE_SIGV4_OK;
}

static gate_sigv4_result check_time(const gate_sigv4_auth *a, const char *ts, double t, double now, char *err,
                                    size_t errlen)
{
    char snow[17], sedge[17];
    format_amz_date(now, snow);
    if (t > now + GATE_SIGV4_SKEW) {
        format_amz_date(now + GATE_SIGV4_SKEW, sedge);
        gate_errf(err, errlen, "Signature not yet current: %s is still later than %s (%s + 15 min.)", ts, sedge, snow);
        return GATE_SIGV4_EXPIRED;
    }
    if (a->presigned) {
        if (now > t + (double)a->expires) {
            gate_errf(err, errlen, "Request has expired: signed at %s for %ld seconds, it is now %s", ts, a->expires,
                   snow);
            return GATE_SIGV4_EXPIRED;
        }
    } else if (t < now - GATE_SIGV4_SKEW) {
        format_amz_date(now - GATE_SIGV4_SKEW, sedge);
        gate_errf(err, errlen, "Signature expired: %s is now earlier than %s (%s - 15 min.)", ts, sedge, snow);
        return GATE_SIGV4_EXPIRED;
    }
    return GATE_SIGV4_OK;
}

gate_sigv4_result gate_sigv4_verify(const char *method, const char *target, const json_t *headers, const char *body,
                                    size_t len, const gate_sigv4_auth *a, const char *secret, double now, char *err,
                                    size_t errlen)
{
    char ts[17], scope[200], expected[65];
    double t;
    char *hash = NULL, *creq = NULL, *sts = NULL;
    gate_sigv4_result r;
    if (!a || !a->signed_headers || !secret || !json_is_object(headers)) {
        gate_errf(err, errlen, "no signature to verify");
        return GATE_SIGV4_INCOMPLETE;
    }
    if (!valid_method(method)) {
        gate_errf(err, errlen, "the method must be 1 to 32 upper-case letters");
        return GATE_SIGV4_INCOMPLETE;
    }
    if (!target || target[0] != '/') {
        gate_errf(err, errlen, "the request target must start with '/'");
        return GATE_SIGV4_INCOMPLETE;
    }
    if (strlen(target) > GATE_SIGV4_MAX_TARGET) {
        gate_errf(err, errlen, "the request target is longer than %d bytes", GATE_SIGV4_MAX_TARGET);
        return GATE_SIGV4_INCOMPLETE;
    }
    if (!body && len) {
        gate_errf(err, errlen, "no body");
        return GATE_SIGV4_INCOMPLETE;
    }
    if (!(now >= 0 && now < 253402300800.0)) {
        gate_errf(err, errlen, "the clock is out of range");
        return GATE_SIGV4_INCOMPLETE;
    }
    if (!a->presigned && query_has(target, "X-Amz-Signature")) {
        gate_errf(err, errlen, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature "
                            "query string parameter or the Authorization header should be specified");
        return GATE_SIGV4_INCOMPLETE;
    }
    if ((r = request_time(headers, a, ts, &t, err, errlen)) != GATE_SIGV4_OK)
        return r;
    if (memcmp(ts, a->date, 8)) {
        gate_errf(err, errlen,
               "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
               "'%s' != '%.8s', from '%s'.",
               a->date, ts, ts);
        return GATE_SIGV4_MISMATCH;
    }
    if ((r = check_time(a, ts, t, now, err, errlen)) != GATE_SIGV4_OK)
        return r;
    if ((r = payload_hash(headers, body, len, a, &hash, err, errlen)) != GATE_SIGV4_OK)
        return r;
    creq = gate_sigv4__canonical_request(method, target, headers, a->signed_headers, hash, a->service, a->presigned,
                                         err, errlen);
    if (!creq) {
        r = GATE_SIGV4_INCOMPLETE;
        goto cleanup;
    }
    snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", a->date, a->region, a->service);
    sts = gate_sigv4__string_to_sign(creq, ts, scope);
    gate_sigv4__signature(secret, a->date, a->region, a->service, sts, expected);
    unsigned char diff = 0;
    for (size_t i = 0; i < 64; i++)
        diff |= (unsigned char)(expected[i] ^ a->signature[i]);
    explicit_bzero(expected, sizeof expected);
    if (diff) {
        gate_errf(err, errlen, "The request signature we calculated does not match the signature you provided. "
                            "Check your key and signing method.");
        r = GATE_SIGV4_MISMATCH;
        goto cleanup;
    }
    r = GATE_SIGV4_OK;
cleanup:
    free(hash);
    free(creq);
    free(sts);
    return r;
}

/* ---- signing ---- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int gate_sigv4_sign(const char *method, const char *url_path_query, json_t *headers, const char *body, size_t len,
                    const char *key_id, const char *secret, const char *session_token, const char *region,
                    const char *service, double now, char *err, size_t errlen)
{
    static const char *const unsigned_headers[] = {"expect", "user-agent", "x-amzn-trace-id", "authorization"};
    if (!valid_method(method)) {
        gate_errf(err, errlen, "sign: the method must be 1 to 32 upper-case letters");
        return -1;
    }
    if (!url_path_query || url_path_query[0] != '/' || strlen(url_path_query) > GATE_SIGV4_MAX_TARGET) {
        gate_errf(err, errlen, "sign: the target must start with '/' and be at most %d bytes", GATE_SIGV4_MAX_TARGET);
        return -1;
    }
    if (!key_id || !valid_key_id(key_id, strlen(key_id)) || !secret || !*secret) {
        gate_errf(err, errlen, "sign: the access key id must be 1 to 128 letters and digits, with a secret");
        return -1;
    }
    if (!region || !valid_scope_word(region, strlen(region), 64) || !service ||
        !valid_scope_word(service, strlen(service), 64)) {
        gate_errf(err, errlen, "sign: region and service must be 1 to 63 of a-z 0-9 -");
        return -1;
    }
    if (!json_is_object(headers)) {
        gate_errf(err, errlen, "sign: the headers are not an object");
        return -1;
    }
    if (!body && len) {
        gate_errf(err, errlen, "sign: no body");
        return -1;
    }
    if (!(now >= 0 && now < 253402300800.0)) {
        gate_errf(err, errlen, "sign: the time is out of range");
        return -1;
    }
    char *host = header_get(headers, "host");
    if (!host) {
        gate_errf(err, errlen, "sign: the headers have no Host");
        return -1;
    }
    free(host);
    /* every value must be text before anything is changed */
    const char *k;
    json_t *v;
    json_object_foreach(headers, k, v)
    {
        twin_buf tmp = {0};
        int rc = header_values(headers, k, &tmp);
        twin_buf_free(&tmp);
        if (rc < 0) {
            char q[80];
            gate_errf(err, errlen, "sign: header '%s' is neither text nor a list of text",
                   printable(k, strlen(k), q, sizeof q));
            return -1;
        }
    }

    char ts[17], date[9], hash[65], sig[65], scope[200];
    format_amz_date(now, ts);
    memcpy(date, ts, 8);
    date[8] = '\0';
    /* built on a copy: headers stay untouched on failure */
    json_t *h = json_deep_copy(headers);
    if (!h)
        abort();
    header_del(h, "authorization");
    char *has_date = header_get(h, "date");
    if (has_date) {
        /* botocore: the Date header, rewritten (email.utils.formatdate) */
        time_t tt = (time_t)now;
        struct tm tm;
        char d[40];
        gmtime_r(&tt, &tm);
        strftime(d, sizeof d, "%a, %d %b %Y %H:%M:%S -0000", &tm);
        header_del(h, "x-amz-date");
        header_set(h, "Date", d);
        free(has_date);
    } else {
        header_set(h, "X-Amz-Date", ts);
    }
    if (session_token)
        header_set(h, "X-Amz-Security-Token", session_token);
    char *payload = NULL;
    if (!strcmp(service, "s3")) {
        sha256_hex(body, len, hash);
        header_set(h, "X-Amz-Content-SHA256", hash);
        payload = twin_xstrdup(hash);
    } else if (!(payload = header_get(h, "x-amz-content-sha256"))) {
        sha256_hex(body, len, hash);
        payload = twin_xstrdup(hash);
    }

    /* the names to sign: lower-case, sorted, once each */
    size_t n = json_object_size(h), m = 0;
    char **names = twin_xcalloc(n ? n : 1, sizeof *names);
    json_object_foreach(h, k, v)
    {
        char *l = twin_xstrdup(k);
        for (char *c = l; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        int skip = 0;
        for (size_t i = 0; i < sizeof unsigned_headers / sizeof *unsigned_headers; i++)
            skip |= !strcmp(l, unsigned_headers[i]);
        if (skip || !*l)
            free(l);
        else
            names[m++] = l;
    }
    if (m)
        qsort(names, m, sizeof *names, name_cmp);
    twin_buf sh = {0};
    for (size_t i = 0; i < m; i++) {
        if (i && !strcmp(names[i], names[i - 1]))
            continue;
        twin_buf_addf(&sh, "%s%s", sh.len ? ";" : "", names[i]);
    }
    for (size_t i = 0; i < m; i++)
        free(names[i]);
    free(names);

    int rc = -1;
    char *creq = gate_sigv4__canonical_request(method, url_path_query, h, sh.s, payload, service, 0, err, errlen);
    if (creq) {
        snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, region, service);
        char *sts = gate_sigv4__string_to_sign(creq, ts, scope);
        gate_sigv4__signature(secret, date, region, service, sts, sig);
        char *authz = twin_xasprintf(GATE_SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s", key_id,
                                     scope, sh.s, sig);
        header_set(h, "Authorization", authz);
        json_object_clear(headers);
        json_object_update(headers, h);
        free(authz);
        free(sts);
        free(creq);
        rc = 0;
    }
    json_decref(h);
    free(payload);
    twin_buf_free(&sh);
    return rc;
}
