/*
 * agents.c - the agents file: identities, roles, profiles and rate limits.
 */
#include <errno.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gate/ops/agents.h"
#include "gate/ops/audit.h"
#include "twin/twin.h"
#include "twin/util.h"

char *gate_sha256_hex(const void *s, size_t n)
{
    unsigned char d[32];
    gnutls_hash_fast(GNUTLS_DIG_SHA256, s, n, d);
    char *h = twin_xmalloc(65);
    for (int i = 0; i < 32; i++)
        snprintf(h + 2 * i, 3, "%02x", d[i]);
    return h;
}

static void identity_free(gate_identity *id)
{
    free(id->name);
    free(id->aws_key_id);
    if (id->aws_secret) {
        explicit_bzero(id->aws_secret, strlen(id->aws_secret));
        free(id->aws_secret);
    }
    json_decref(id->policies);
    json_decref(id->config);
    free(id->recent);
}

void gate_agents_free(gate_agents *a)
{
    for (size_t i = 0; i < a->n; i++)
        identity_free(&a->v[i]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

static gate_identity *append(gate_agents *a)
{
    a->v = twin_xrealloc(a->v, (a->n + 1) * sizeof *a->v);
    gate_identity *id = &a->v[a->n++];
    memset(id, 0, sizeof *id);
    return id;
}

void gate_agents_add(gate_agents *a, const char *name, const char *token_sha256, gate_role role)
{
    gate_identity *id = append(a);
    id->name = twin_xstrdup(name);
    snprintf(id->token_sha256, sizeof id->token_sha256, "%s", token_sha256);
    id->role = role;
    id->connections = GATE_AGENTS_CONNECTIONS;
    if (role == GATE_ROLE_AGENT) {
        id->per_second = GATE_AGENTS_PER_SECOND;
        id->per_minute = GATE_AGENTS_PER_MINUTE;
        id->watches = GATE_AGENTS_WATCHES;
    }
}

static int is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!strchr("0123456789abcdefABCDEF", s[n]))
            return 0;
    return n == 64;
}

/* A limit: a non-negative integer (0 = no limit), or -1 after filling
 * err (key: its name, as the file spells it). */
static long count_of(const json_t *v, const char *file, const char *who, const char *key, char *err, size_t errlen)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000000) {
        snprintf(err, errlen, "%s: agent %s: %s must be a non-negative integer (0 = no limit)", file, who, key);
        return -1;
    }
    return (long)json_integer_value(v);
}

/* An access key id as AWS shapes them: 16 to 128 upper-case letters and digits. */
static int aws_key_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 16 || n > 128)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

/* The agent's AWS key pair: {access_key_id, secret_access_key_file}, the
 * file relative to the agents file's directory, holding the secret alone
 * (surrounding white space ignored). The secret never appears in a message. */
static int load_aws(gate_identity *id, const json_t *v, const char *file, const char *who, char *err, size_t errlen)
{
    const char *kid = json_string_value(json_object_get(v, "access_key_id"));
    const char *sf = json_string_value(json_object_get(v, "secret_access_key_file"));
    if (!json_is_object(v) || json_object_size(v) != 2 || !kid || !sf || !*sf) {
        snprintf(err, errlen, "%s: agent %s: aws is {access_key_id: ..., secret_access_key_file: FILE}", file, who);
        return -1;
    }
    if (!aws_key_id_ok(kid)) {
        snprintf(err, errlen, "%s: agent %s: aws.access_key_id is 16 to 128 upper-case letters and digits", file, who);
        return -1;
    }
    char *path;
    const char *slash = strrchr(file, '/');
    if (sf[0] == '/' || !slash)
        path = twin_xstrdup(sf);
    else
        path = twin_xasprintf("%.*s/%s", (int)(slash - file), file, sf);
    twin_buf b = {0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: agent %s: aws.secret_access_key_file: cannot read %s: %s", file, who, path,
                 strerror(errno));
        free(path);
        return -1;
    }
    char chunk[512];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= 4096)
        twin_buf_add(&b, chunk, got);
    explicit_bzero(chunk, sizeof chunk);
    fclose(f);
    free(path);
    size_t lo = 0, hi = b.len;
    while (lo < hi && (b.s[lo] == ' ' || b.s[lo] == '\t' || b.s[lo] == '\n' || b.s[lo] == '\r'))
        lo++;
    while (hi > lo && (b.s[hi - 1] == ' ' || b.s[hi - 1] == '\t' || b.s[hi - 1] == '\n' || b.s[hi - 1] == '\r'))
        hi--;
    int ok = hi - lo >= 16 && hi - lo <= 128;
    for (size_t i = lo; ok && i < hi; i++)
        ok = b.s[i] > ' ' && b.s[i] < 0x7f;
    if (!ok) {
        snprintf(err, errlen, "%s: agent %s: aws.secret_access_key_file holds 16 to 128 printable characters and "
                              "nothing else",
                 file, who);
        if (b.s)
            explicit_bzero(b.s, b.len);
        twin_buf_free(&b);
        return -1;
    }
    id->aws_key_id = twin_xstrdup(kid);
    id->aws_secret = twin_xasprintf("%.*s", (int)(hi - lo), b.s + lo);
    if (b.s)
        explicit_bzero(b.s, b.len);
    twin_buf_free(&b);
    return 0;
}

static int load_entry(gate_agents *a, const json_t *e, size_t idx, const char *file, char *err, size_t errlen)
{
    char who[160];
    const char *name = json_string_value(json_object_get(e, "name"));
    if (!json_is_object(e) || !name || !*name) {
        snprintf(err, errlen, "%s: entry %zu: each entry is a mapping with a non-empty \"name\"", file, idx + 1);
        return -1;
    }
    snprintf(who, sizeof who, "%s", name);
    const char *tok = json_string_value(json_object_get(e, "token_sha256"));
    if (!tok || !is_hex64(tok)) {
        snprintf(err, errlen, "%s: agent %s: token_sha256 must be the 64 hex digits of the token's SHA-256", file,
                 who);
        return -1;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (!strcmp(a->v[i].name, name)) {
            snprintf(err, errlen, "%s: agent %s: the name is used twice", file, who);
            return -1;
        }
        if (!strcasecmp(a->v[i].token_sha256, tok)) {
            snprintf(err, errlen, "%s: agent %s: the same token as %s", file, who, a->v[i].name);
            return -1;
        }
    }
    gate_identity id = {0};
    id.per_second = id.per_minute = id.connections = id.watches = -1;   /* not given: the defaults */
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)e, key, v) {
        if (!strcmp(key, "name") || !strcmp(key, "token_sha256"))
            continue;
        if (!strcmp(key, "role")) {
            const char *r = json_string_value(v);
            if (!r || (strcmp(r, "agent") && strcmp(r, "approver"))) {
                snprintf(err, errlen, "%s: agent %s: role is agent or approver", file, who);
                goto bad;
            }
            id.role = strcmp(r, "approver") ? GATE_ROLE_AGENT : GATE_ROLE_APPROVER;
        } else if (!strcmp(key, "expires")) {
            const char *s = json_string_value(v);
            if (json_is_number(v))
                id.expires = json_number_value(v);
            else if (!s || gate_audit_parse_time(s, 0, &id.expires) < 0 || !strchr(s, 'T')) {
                snprintf(err, errlen, "%s: agent %s: expires is a time like 2026-12-31T00:00:00Z", file, who);
                goto bad;
            }
        } else if (!strcmp(key, "policies")) {
            size_t i;
            json_t *p;
            if (!json_is_array(v) && !json_is_null(v))
                goto bad_policies;
            json_array_foreach(v, i, p) if (!json_is_string(p)) goto bad_policies;
            id.policies = json_is_null(v) ? NULL : json_incref(v);
        } else if (!strcmp(key, "config")) {
            if (!json_is_object(v)) {
                snprintf(err, errlen, "%s: agent %s: config is a mapping of config.lua overrides", file, who);
                goto bad;
            }
            id.config = json_incref(v);
        } else if (!strcmp(key, "rate_limit")) {
            const char *k2;
            json_t *v2;
            if (!json_is_object(v)) {
                snprintf(err, errlen,
                         "%s: agent %s: rate_limit is {per_second: N, per_minute: N} (0 = no limit; a key left out "
                         "keeps its default, %d per second, %d per minute)",
                         file, who, GATE_AGENTS_PER_SECOND, GATE_AGENTS_PER_MINUTE);
                goto bad;
            }
            json_object_foreach(v, k2, v2) {
                long *slot = !strcmp(k2, "per_second") ? &id.per_second : !strcmp(k2, "per_minute") ? &id.per_minute
                                                                                                  : NULL;
                if (!slot) {
                    snprintf(err, errlen, "%s: agent %s: rate_limit has per_second and per_minute, not %s", file, who,
                             k2);
                    goto bad;
                }
                char what[48];
                snprintf(what, sizeof what, "rate_limit.%s", k2);
                if ((*slot = count_of(v2, file, who, what, err, errlen)) < 0)
                    goto bad;
            }
        } else if (!strcmp(key, "connections") || !strcmp(key, "watches")) {
            long *slot = key[0] == 'c' ? &id.connections : &id.watches;
            if ((*slot = count_of(v, file, who, key, err, errlen)) < 0)
                goto bad;
        } else if (!strcmp(key, "aws")) {
            if (id.aws_key_id || load_aws(&id, v, file, who, err, errlen) < 0)
                goto bad;
            for (size_t i = 0; i < a->n; i++)
                if (a->v[i].aws_key_id && !strcmp(a->v[i].aws_key_id, id.aws_key_id)) {
                    snprintf(err, errlen, "%s: agent %s: the same aws.access_key_id as %s", file, who, a->v[i].name);
                    goto bad;
                }
        } else if (!strcmp(key, "read_secrets")) {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "%s: agent %s: read_secrets is true or false", file, who);
                goto bad;
            }
            id.read_secrets = json_is_true(v);
        } else {
            snprintf(err, errlen,
                     "%s: agent %s: unknown key \"%s\" (known: name, token_sha256, role, expires, policies, config, "
                     "rate_limit, connections, watches, read_secrets, aws)",
                     file, who, key);
            goto bad;
        }
    }
    if (id.role == GATE_ROLE_APPROVER &&
        (id.policies || id.config || id.per_second > 0 || id.per_minute > 0 || id.watches >= 0 || id.read_secrets ||
         id.aws_key_id)) {
        snprintf(err, errlen, "%s: agent %s: an approver is not an agent: policies, config, rate_limit, watches, "
                              "read_secrets and aws are agent settings",
                 file, who);
        goto bad;
    }
    if (id.per_second < 0)
        id.per_second = id.role == GATE_ROLE_AGENT ? GATE_AGENTS_PER_SECOND : 0;
    if (id.per_minute < 0)
        id.per_minute = id.role == GATE_ROLE_AGENT ? GATE_AGENTS_PER_MINUTE : 0;
    if (id.watches < 0)
        id.watches = id.role == GATE_ROLE_AGENT ? GATE_AGENTS_WATCHES : 0;
    if (id.connections < 0)
        id.connections = GATE_AGENTS_CONNECTIONS;
    id.name = twin_xstrdup(name);
    snprintf(id.token_sha256, sizeof id.token_sha256, "%s", tok);
    for (char *c = id.token_sha256; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
    *append(a) = id;
    return 0;
bad_policies:
    snprintf(err, errlen, "%s: agent %s: policies is a list of policy names", file, who);
bad:
    identity_free(&id);
    return -1;
}

int gate_agents_load(gate_agents *out, const char *path, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *list = NULL, *docs = NULL;
    FILE *f = fopen(path, "rb");
    int c = ' ';
    if (f) {
        while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\r' || c == '\t')
            ;
        fclose(f);
    }
    if (c == '[') {   /* the JSON array of earlier versions */
        json_error_t je;
        list = json_load_file(path, 0, &je);
        if (!list) {
            snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
            return -1;
        }
    } else {
        docs = twin_load_docs(path, err, errlen);
        if (!docs)
            return -1;
        json_t *doc = json_array_get(docs, 0);
        list = json_incref(json_object_get(doc, "agents"));
        json_decref(docs);
    }
    if (!json_is_array(list)) {
        snprintf(err, errlen, "%s: want a list of agents: a JSON array, or a mapping with the key \"agents\"", path);
        json_decref(list);
        return -1;
    }
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        if (load_entry(out, e, i, path, err, errlen) < 0) {
            json_decref(list);
            gate_agents_free(out);
            return -1;
        }
    }
    json_decref(list);
    return 0;
}

gate_identity *gate_agents_find(gate_agents *a, const char *token)
{
    char *h = gate_sha256_hex(token, strlen(token));
    gate_identity *who = NULL;
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->v[i].token_sha256, h))
            who = &a->v[i];
    free(h);
    return who;
}

gate_identity *gate_agents_find_aws(gate_agents *a, const char *key_id)
{
    for (size_t i = 0; key_id && i < a->n; i++)
        if (a->v[i].aws_key_id && !strcmp(a->v[i].aws_key_id, key_id))
            return &a->v[i];
    return NULL;
}

void gate_agents_set_aws(gate_identity *id, const char *key_id, const char *secret)
{
    free(id->aws_key_id);
    free(id->aws_secret);
    id->aws_key_id = twin_xstrdup(key_id);
    id->aws_secret = twin_xstrdup(secret);
}

int gate_agents_check_policies(const gate_agents *a, const gate_policy_set *set, char *err, size_t errlen)
{
    for (size_t i = 0; i < a->n; i++) {
        size_t j;
        json_t *p;
        json_array_foreach(a->v[i].policies, j, p) {
            if (!gate_policy_has(set, json_string_value(p))) {
                snprintf(err, errlen, "agent %s: no policy named \"%s\" is loaded", a->v[i].name,
                         json_string_value(p));
                return -1;
            }
        }
    }
    return 0;
}

long gate_agents_rate(gate_identity *id, double now, const char **which)
{
    size_t cap = (size_t)(id->per_minute > id->per_second ? id->per_minute : id->per_second);
    if (!cap)
        return 0;
    if (!id->recent) {
        id->recent = twin_xcalloc(cap, sizeof *id->recent);
        id->nrecent = 0;
        id->head = 0;
    }
    /* recent[] holds the last min(n, cap) times, oldest at head */
    long wait = 0;
    struct {
        long limit;
        double window;
        const char *name;
    } w[2] = {{id->per_second, 1.0, "per second"}, {id->per_minute, 60.0, "per minute"}};
    for (int k = 0; k < 2; k++) {
        if (!w[k].limit || id->nrecent < (size_t)w[k].limit)
            continue;
        /* the limit-th most recent mutation: the next one may come a window after it */
        size_t at = (id->head + id->nrecent - (size_t)w[k].limit) % cap;
        double until = id->recent[at] + w[k].window;
        if (until > now) {
            long s = (long)(until - now + 0.999);
            if (s < 1)
                s = 1;
            if (s > wait) {
                wait = s;
                *which = w[k].name;
            }
        }
    }
    if (wait)
        return wait;
    if (id->nrecent < cap) {
        id->recent[(id->head + id->nrecent) % cap] = now;
        id->nrecent++;
    } else {
        id->recent[id->head] = now;
        id->head = (id->head + 1) % cap;
    }
    return 0;
}
