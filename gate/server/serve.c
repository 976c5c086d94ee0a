/*
 * serve.c - `gate serve`: start-up, the main loop, and the dispatch of one
 * request.
 *
 * The front (http.c, the only code that knows libmicrohttpd) receives a
 * request over TLS and hands it here as a gate_req: the approvals page,
 * then the bearer token (SHA-256 against the agents file), then the
 * operators' API (api.c), discovery, the version and OpenAPI (served
 * here), or a Kubernetes call, which goes through the pipeline's phases
 * (pipeline.c: admit, decide, review, record, forward or answer, publish).
 *
 * Without --upstream the twin answers as the cluster (twin mode).  With it
 * the twin mirrors production, fed by its watches (informer.c), and what
 * production changes behind the gate's back is drift (drift.c).  Watches
 * of agents are streams (watch.c) fed by the twin's committed changes, or
 * passed through from production.
 */
#include <errno.h>
#include <malloc.h>
#include <sqlite3.h>
#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gate/cmd/cli.h"
#include "gate/server/serve_int.h"
#include "gate/server/ui.h"
#include "gate/cmd/commands.h"
#include "gate/engine/engine.h"
#include "gate/upstream/forward.h"
#include "gate/kube/k8s.h"
#include "gate/base/log.h"
#include "gate/kube/redact.h"
#include "gate/kube/table.h"
#include "gate/kube/discovery.h"
#include "gate/kube/metrics.h"
#include "gate/kube/selfreview.h"
#include "gate/kube/watch.h"
#include "gate/aws/credentials.h"
#include "twin/aws.h"
#include "twin/util.h"


/* ---- the request path ---- */

static gate_identity *authenticate(server *sv, const gate_req *rq, int *expired)
{
    const char *auth = gate_req_header(rq, "Authorization");
    *expired = 0;
    if (!auth || strncmp(auth, "Bearer ", 7))
        return NULL;
    gate_identity *id = gate_agents_find(&sv->agents, auth + 7);
    if (id && id->expires && gate_now() > id->expires)
        *expired = 1;
    return id;
}
/* The metrics API (kubectl top): the twin's synthetic usage in twin mode;
 * in enforce mode production's, read with a request rebuilt from the
 * parsed path (metrics hold no Secret value and change nothing).  1 when
 * answered. */
static int serve_metrics(server *sv, const gate_req *rq, gate_resp *resp, const gate_identity *who)
{
    if (!sv->up) {
        pthread_rwlock_rdlock(&sv->lock);
        pthread_mutex_lock(&sv->reads);   /* the twin serves one reader at a time */
        int done = gate_metrics(rq, resp, sv->engine.twin);
        pthread_mutex_unlock(&sv->reads);
        pthread_rwlock_unlock(&sv->lock);
        if (done)
            gate_log("%s %s %s -> %u (metrics)", who->name, rq->method, rq->target, resp->status);
        return done;
    }
    char *wire = strcmp(rq->method, "GET") ? NULL : gate_metrics_wire(rq);
    if (!wire)
        return 0;   /* the pipeline refuses what it cannot parse */
    gate_upstream_answer ans;
    char err[512];
    if (gate_upstream_call(sv->up, "GET", wire, NULL, "application/json", NULL, 0, &ans, err, sizeof err) < 0) {
        char *msg = twin_xasprintf("airlock: production could not be reached: %s", err);
        gate_resp_status(resp, 502, NULL, msg);
        free(msg);
    } else {
        gate_resp_text(resp, (unsigned)ans.status, ans.content_type[0] ? ans.content_type : "application/json",
                       ans.body.s ? ans.body.s : "", ans.body.len);
        gate_upstream_answer_free(&ans);
    }
    gate_log("%s GET %s -> production %u (metrics)", who->name, wire, resp->status);
    free(wire);
    return 1;
}

/* /healthz (the process answers) and /readyz (it can do its work: the
 * audit log takes records; in enforce and shadow mode production answers
 * and every watch that feeds the twin is open; not stopping), without a
 * token, as the API server's: one line a check, "[+]name ok" or
 * "[-]name failed: why", then "ok" or "readyz check failed" (503). */
/* One line of /readyz; returns 1 when the check passed. */
static int ready_line(twin_buf *out, const char *name, int failed, const char *why)
{
    if (failed)
        twin_buf_addf(out, "[-]%s failed: %s\n", name, why);
    else
        twin_buf_addf(out, "[+]%s ok\n", name);
    return !failed;
}

static int serve_health(server *sv, const gate_req *rq, gate_resp *resp)
{
    if (strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD"))
        return 0;
    if (!strcmp(rq->path, "/healthz") || !strcmp(rq->path, "/livez")) {
        gate_resp_text(resp, 200, "text/plain; charset=utf-8", "ok", 2);
        return 1;
    }
    if (strcmp(rq->path, "/readyz"))
        return 0;
    twin_buf out = {0};
    int ready = 1;
    char why[512] = "";
    if (sv->audit)
        ready &= ready_line(&out, "audit", gate_audit_health(sv->audit, why, sizeof why) < 0, why);
    if (sv->up)
        ready &= ready_line(&out, "production", gate_upstream_down(sv->up, why, sizeof why), why);
    if (sv->informer)
        ready &= ready_line(&out, "informer", gate_informer_ready(sv->informer, 0, why, sizeof why) < 0, why);
    if (sv->stopping)
        ready &= ready_line(&out, "stopping", 1, "the gate is stopping");
    const char *last = ready ? "ok" : "readyz check failed";
    twin_buf_add(&out, last, strlen(last));
    gate_resp_text(resp, ready ? 200 : 503, "text/plain; charset=utf-8", out.s, out.len);
    twin_buf_free(&out);
    return 1;
}

/* One request, as the front hands it over: the approvals page, then the
 * bearer token, then the operators' API, discovery, or a Kubernetes call
 * (pipeline.c).  Called again for a call resumed after a hold. */
static void serve_request(void *app, gate_req *rq, gate_resp *resp)
{
    server *sv = app;
    const char *url = rq->path, *method = rq->method;

    if (serve_health(sv, rq, resp))
        return;
    /* the approvals page holds no data (it asks for a token): no token needed */
    if (!strcmp(method, "GET") && (!strcmp(url, "/airlock/ui") || !strcmp(url, "/airlock/ui/") ||
                                   !strcmp(url, "/airlock/ui/index.html"))) {
        size_t n;
        const char *page = gate_ui_page(&n);
        gate_resp_text(resp, 200, "text/html; charset=utf-8", page, n);
        gate_resp_header(resp, "Content-Security-Policy",
                         "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                         "img-src 'self' data:; frame-ancestors 'none'");
        gate_resp_header(resp, "X-Content-Type-Options", "nosniff");
        gate_resp_header(resp, "Cache-Control", "no-store");
        return;
    }

    /* authenticate */
    int expired;
    gate_identity *who = authenticate(sv, rq, &expired);
    if (!who) {
        gate_resp_status(resp, 401, NULL, "Unauthorized: a known bearer token is required");
        return;
    }
    if (expired) {
        char when[32];
        gate_audit_format_time(who->expires, when);
        char *msg = twin_xasprintf("Unauthorized: the token of %s expired at %s", who->name, when);
        gate_resp_status(resp, 401, NULL, msg);
        free(msg);
        return;
    }
    if (gate_conn_claim(rq->conn, who->name, who->connections) < 0) {
        /* one identity cannot take every socket: the connection closes */
        char *msg = twin_xasprintf("airlock: %s has %ld connections open, the most it may (its profile's "
                                   "\"connections\"): close one first",
                                   who->name, who->connections);
        gate_log("%s %s %s -> 429 (connections)", who->name, method, rq->target);
        gate_resp_status(resp, 429, "TooManyRequests", msg);
        gate_resp_header(resp, "Retry-After", "1");
        gate_resp_header(resp, "Connection", "close");
        free(msg);
        return;
    }
    if (rq->too_big) {
        gate_resp_status(resp, 413, NULL, "the request body is larger than the 3 MiB limit");
        return;
    }
    if (!strncmp(url, "/airlock/", 9) || !strcmp(url, "/airlock")) {
        gate_api(sv, rq, resp, who);
        return;
    }
    if (who->role == GATE_ROLE_APPROVER) {
        char *msg = twin_xasprintf("airlock: %s is an approver, not an agent: an approver's token serves the "
                                   "approvals (/airlock/v1, /airlock/ui), never the Kubernetes API",
                                   who->name);
        gate_resp_status(resp, 403, NULL, msg);
        free(msg);
        return;
    }
    if (!strcmp(method, "GET") && gate_discovery_path(url)) {
        pthread_rwlock_rdlock(&sv->lock);   /* the twin's kinds, learnt ones too */
        int done = gate_discovery(rq, resp, sv->engine.twin);
        pthread_rwlock_unlock(&sv->lock);
        if (done)
            return;
    }
    if (!strncmp(url, "/apis/authorization.k8s.io/", 27) || !strncmp(url, "/apis/authentication.k8s.io/", 28)) {
        /* what the agent may do, answered for it (never production's
         * answer for the gate's own credential) */
        gate_subject s = {who->name, who->read_secrets, who->policies};
        pthread_rwlock_rdlock(&sv->lock);   /* the twin's kinds */
        int done = gate_selfreview(rq, resp, &s, sv->engine.twin);
        pthread_rwlock_unlock(&sv->lock);
        if (done) {
            gate_log("%s %s %s -> %u (self review)", who->name, method, rq->target, resp->status);
            return;
        }
    }
    if (!strncmp(url, "/apis/metrics.k8s.io/", 21) && serve_metrics(sv, rq, resp, who))
        return;
    gate_kube_call(sv, rq, resp, who);
}

/* The front is done with a request: its call's state goes. */
static void serve_done(void *app, gate_req *rq)
{
    gate_call_done(app, rq->state);
    rq->state = NULL;
}

/* A Secret's values redacted (the start state recorded in the audit). */
static void redact_one(json_t *obj, void *ud)
{
    (void)ud;
    gate_redact_secret_answer(obj);
}

/* One page of production's list into the twin, as it is: no controller
 * runs (production's are real), its versions kept. */
static int load_page(void *ud, json_t *items, char *err, size_t errlen)
{
    twin *t = ud;
    if (twin_sync_begin(t, err, errlen) < 0)
        return -1;
    size_t i;
    json_t *obj;
    int rc = 0;
    json_array_foreach(items, i, obj) {
        if (twin_sync_event(t, 0, obj, NULL, err, errlen) < 0) {
            rc = -1;
            break;
        }
    }
    twin_sync_end(t);
    return rc;
}

/* The kinds production serves that the twin does not model (its CRDs),
 * from its discovery: each listable and watchable resource of each group's
 * preferred version is learnt under the plural production serves it by,
 * so the twin lists, watches and serves it, and the policies judge it by
 * the generic rules.  What can be listed but not watched (an aggregated
 * API) is learnt read-only: not mirrored, its reads judged and passed
 * through, its writes refused (the twin could not simulate them).  A failed discovery only logs: the
 * unknown kinds are then refused, never forwarded unjudged. */
static void learn_production_kinds(gate_upstream *up, twin *t)
{
    json_t *groups = gate_upstream_get_json(up, "/apis");
    size_t i, j;
    json_t *g, *r;
    if (!groups)
        gate_log("production's discovery (/apis) could not be read: only the built-in kinds are mirrored");
    else   /* the core group too (its kinds the twin does not model) */
        json_array_insert_new(json_object_get(groups, "groups"), 0,
                              json_pack("{s:s, s:{s:s}}", "name", "", "preferredVersion", "groupVersion", "v1"));
    json_array_foreach(json_object_get(groups, "groups"), i, g) {
        const char *gv = json_string_value(json_object_get(json_object_get(g, "preferredVersion"), "groupVersion"));
        if (!gv)
            continue;
        char *path = strchr(gv, '/') ? twin_xasprintf("/apis/%s", gv) : twin_xasprintf("/api/%s", gv);
        json_t *list = gate_upstream_get_json(up, path);
        free(path);
        json_array_foreach(json_object_get(list, "resources"), j, r) {
            const char *name = json_string_value(json_object_get(r, "name"));
            const char *kind = json_string_value(json_object_get(r, "kind"));
            if (!name || !kind || strchr(name, '/'))
                continue;   /* a subresource */
            int listable = 0, watchable = 0;
            size_t v;
            json_t *verb;
            json_array_foreach(json_object_get(r, "verbs"), v, verb) {
                listable |= json_is_string(verb) && !strcmp(json_string_value(verb), "list");
                watchable |= json_is_string(verb) && !strcmp(json_string_value(verb), "watch");
            }
            char group[256];
            snprintf(group, sizeof group, "%.*s", strchr(gv, '/') ? (int)(strchr(gv, '/') - gv) : 0, gv);
            if (!listable || twin_kind_by_resource(t, group, name) || !strcmp(group, "metrics.k8s.io"))
                continue;   /* (metrics.k8s.io: served by serve_metrics) */
            const twin_kind *k = twin_learn_kind_as(t, gv, kind, name, json_is_true(json_object_get(r, "namespaced")));
            if (k && !watchable) {
                twin_kind_mark_read_only(t, k);
                gate_log("production serves %s (%s.%s), which cannot be watched (an aggregated API): not mirrored; "
                         "reads judged and passed through, writes refused",
                         kind, name, group);
            } else if (k)
                gate_log("production serves %s (%s.%s): mirrored and judged by the generic rules", kind, name,
                         group);
            else
                gate_log("production serves %s (%s.%s), a kind name the twin has already: not mirrored, refused",
                         kind, name, group);
        }
        json_decref(list);
    }
    json_decref(groups);
}

/* Production into the twin, kind by kind (the ones it serves that the
 * twin does not model learnt first), page by page (a page of 500 parsed at
 * a time, never the cluster); served records each served kind's version,
 * where its watch starts.  The objects loaded in *count. */
static int load_production(gate_upstream *up, twin *t, json_t *served, long *count, char *err, size_t errlen)
{
    learn_production_kinds(up, t);
    size_t n = twin_kind_count(t);
    for (size_t i = 0; i < n; i++) {
        const twin_kind *k = twin_kind_at(t, i);
        int absent;
        char *rv = NULL;
        if (k->read_only)
            continue;   /* not mirrored: not listed, not watched */
        if (gate_upstream_list_paged(up, k, 500, load_page, t, &rv, &absent, err, errlen) < 0) {
            if (absent)
                continue;   /* not served: not watched */
            return -1;
        }
        json_object_set_new(served, k->kind, json_string(rv));
        free(rv);
    }
    *count = twin_object_count(t);
    return 0;
}

static int write_file(const char *path, const void *data, size_t n, mode_t mode)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, n, f) == n;
    ok &= fclose(f) == 0;
    chmod(path, mode);
    return ok ? 0 : -1;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    twin_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        twin_buf_add(&b, chunk, n);
    fclose(f);
    return b.s ? b.s : twin_xstrdup("");
}

/* A self-signed certificate for 127.0.0.1 and localhost, made once and kept
 * in the data directory. */
static int make_cert(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    int rc = -1;
    unsigned char buf[16384];
    size_t len;
    if (gnutls_x509_privkey_init(&key) < 0 || gnutls_x509_privkey_generate(key, GNUTLS_PK_EC, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
        gnutls_x509_crt_init(&crt) < 0) {
        snprintf(err, errlen, "cannot generate a TLS key");
        goto out;
    }
    time_t now = time(NULL);
    unsigned char serial[8];
    gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial);
    serial[0] &= 0x7f;
    unsigned char ip[4] = {127, 0, 0, 1};
    gnutls_x509_crt_set_version(crt, 3);
    gnutls_x509_crt_set_serial(crt, serial, sizeof serial);
    gnutls_x509_crt_set_activation_time(crt, now - 3600);
    gnutls_x509_crt_set_expiration_time(crt, now + 365L * 24 * 3600);
    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "airlock", 7);
    gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9, GNUTLS_FSAN_APPEND);
    gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4, GNUTLS_FSAN_APPEND);
    gnutls_x509_crt_set_basic_constraints(crt, 1, -1);   /* its own CA, so clients can pin it */
    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_CERT_SIGN);
    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
    gnutls_x509_crt_set_key(crt, key);
    if (gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0) {
        snprintf(err, errlen, "cannot sign the TLS certificate");
        goto out;
    }
    len = sizeof buf;
    if (gnutls_x509_crt_export(crt, GNUTLS_X509_FMT_PEM, buf, &len) < 0 || write_file(cert_path, buf, len, 0644) < 0) {
        snprintf(err, errlen, "cannot write %s", cert_path);
        goto out;
    }
    len = sizeof buf;
    if (gnutls_x509_privkey_export_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, buf, &len) < 0 ||
        write_file(key_path, buf, len, 0600) < 0) {
        snprintf(err, errlen, "cannot write %s", key_path);
        goto out;
    }
    rc = 0;
out:
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    return rc;
}

static char *base64(const char *s)
{
    gnutls_datum_t in = {(unsigned char *)s, (unsigned)strlen(s)}, out = {NULL, 0};
    if (gnutls_base64_encode2(&in, &out) < 0)
        return twin_xstrdup("");
    char *r = twin_xasprintf("%.*s", (int)out.size, out.data);
    gnutls_free(out.data);
    return r;
}

static volatile sig_atomic_t stopping, reload_asked;
static sem_t stop_sem;   /* posted by the first SIGTERM or SIGINT */

/* A second SIGTERM or SIGINT while stopping ends the process at once. */
static void on_signal(int sig)
{
    (void)sig;
    if (stopping)
        _exit(1);
    stopping = 1;
    sem_post(&stop_sem);
}

/* The stop is bounded: whatever the main thread or a request in flight is
 * waiting for (a stalled production, a held review, the engine's lock held
 * by a long evaluation), the process is gone within STOP_LIMIT seconds of
 * the signal. Nothing is lost by ending it there: an answer goes out only
 * after its record is durable, and what was in flight is an open decision
 * that the next start reconciles. Waits on a semaphore the signal handler
 * posts, so it counts from the signal, not from when the main loop sees it. */
#define STOP_LIMIT 4.5
static void *stop_watchdog(void *arg)
{
    (void)arg;
    while (sem_wait(&stop_sem) < 0 && errno == EINTR)
        ;
    struct timespec left = {.tv_sec = (time_t)STOP_LIMIT,
                            .tv_nsec = (long)((STOP_LIMIT - (time_t)STOP_LIMIT) * 1e9)};
    while (nanosleep(&left, &left) < 0 && errno == EINTR)
        ;
    gate_log("stopping took more than %.1f s: exiting now", STOP_LIMIT);
    _exit(1);
    return NULL;
}

static void on_hup(int sig)
{
    (void)sig;
    reload_asked = 1;
}

/* Without --agents, ops-bot's AWS key pair: made anew at each start and
 * written as a shared credentials file (profile airlock) in DATA-DIR/aws;
 * the lines to paste are logged. */
static int default_aws_key(server *sv, const twin *t, const char *dir, const char *cert_path, const char *aws_listen,
                           char *err, size_t errlen)
{
    char kid[21], secret[41];
    gate_aws_key_generate(kid, secret);
    char *cred = twin_xasprintf("%s/aws/credentials", dir);
    int rc = gate_aws_credentials_write(cred, "airlock", kid, secret, err, errlen);
    if (rc == 0) {
        gate_identity *bot = NULL;
        for (size_t i = 0; i < sv->agents.n; i++)
            if (!strcmp(sv->agents.v[i].name, "ops-bot"))
                bot = &sv->agents.v[i];
        if (bot)
            gate_agents_set_aws(bot, kid, secret);
        char *abs_cred = realpath(cred, NULL), *abs_ca = realpath(cert_path, NULL);
        gate_log("agent ops-bot on AWS, paste: export AWS_SHARED_CREDENTIALS_FILE=%s AWS_PROFILE=airlock "
                 "AWS_CA_BUNDLE=%s AWS_DEFAULT_REGION=%s; aws --endpoint-url https://%s ec2 describe-instances",
                 abs_cred ? abs_cred : cred, abs_ca ? abs_ca : cert_path, twin_aws_region(t),
                 aws_listen);
        free(abs_cred);
        free(abs_ca);
    }
    explicit_bzero(secret, sizeof secret);
    free(cred);
    return rc;
}

/* Production's AWS account (--aws-upstream): opened with production's key,
 * read whole into the twin (its describes, as `gate export --aws` writes
 * them). */
static int load_aws_production(server *sv, twin *t, const gate_cli_opts *o, double timeout, char *err, size_t errlen)
{
    if (gate_aws_upstream_open(&sv->aws_up, o->aws_upstream, o->aws_upstream_credentials, o->aws_upstream_profile,
                               o->aws_upstream_ca, twin_aws_region(t), err, errlen) < 0)
        return -1;
    gate_aws_upstream_set_timeout(sv->aws_up, timeout);
    double t0 = gate_mono();
    json_t *doc = gate_aws_upstream_snapshot(sv->aws_up, err, errlen);
    if (!doc)
        return -1;
    json_t *docs = json_pack("[o]", doc);
    int rc = twin_import_docs(t, docs, "production's AWS account", err, errlen);
    json_decref(docs);
    if (rc == 0)
        gate_log("production's AWS account read in %.2f s (enforce mode: allowed AWS calls go to %s)",
                 gate_mono() - t0, o->aws_upstream);
    return rc;
}

/* A request on the AWS listener (gate/server/aws_front.c). */
static void serve_aws_request(void *app, gate_req *rq, gate_resp *resp)
{
    gate_aws_serve(app, rq, resp);
}

enum { POOL = 8 };   /* server threads */

static void usage(FILE *out)
{
    fputs("usage: gate serve [--listen HOST:PORT] [--state FILE|DIR ...] [--policies DIR|git:REPO[@REF][:DIR]]\n"
          "                  [--agents FILE]\n"
          "                  [--tls-cert FILE --tls-key FILE] [--data-dir DIR]\n"
          "                  [--upstream URL --upstream-token-file FILE (--upstream-ca FILE | --upstream-insecure)]\n"
          "                  [--mode enforce|shadow] [--fresh-wait SECONDS] [--upstream-timeout SECONDS]\n"
          "                  [--pricing FILE]\n"
          "                  [--aws-listen HOST:PORT [--aws-upstream URL|aws --aws-upstream-credentials FILE\n"
          "                   [--aws-upstream-profile NAME] [--aws-upstream-ca FILE]]]\n"
          "                  [--review-wait SECONDS] [--approval-ttl SECONDS] [--approved-ttl SECONDS]\n"
          "                  [--audit-repo DIR] [--webhook URL] [--policy-timeout SECONDS]\n"
          "                  [--config FILE]   (these options as a YAML/JSON file; flags given here win)\n"
          "\n"
          "Serves the Kubernetes API. Every call is authenticated, simulated in the twin and\n"
          "judged by the policies. Without --upstream the twin answers as the cluster (twin\n"
          "mode); with it, allowed calls are forwarded to production and the twin follows\n"
          "(enforce mode), or every call is forwarded and the verdict only recorded (shadow).\n"
          "With --upstream the twin is fed by production's watches; a mutation waits up to\n"
          "--fresh-wait seconds (default 2) for them to reach production's state as of its\n"
          "arrival, else it is refused 503. What production changes behind the gate's back is\n"
          "drift: logged, recorded, and listed by `gate drift`. Each call to production may take\n"
          "--upstream-timeout seconds (default 10); once production is found down, mutations are\n"
          "refused 503 at once until it answers again (probed every second).\n"
          "Each policy's evaluation ends within --policy-timeout seconds (default 0.25), or\n"
          "the policy denies (\"time limit exceeded\").\n"
          "Without --agents, an agent 'ops-bot' and its token are made in the data directory,\n"
          "with a kubeconfig for it, and an approver with its token in approver.token.\n"
          "\n"
          "--aws-listen serves the AWS APIs (EC2, Auto Scaling, ELBv2, IAM, RDS, STS, S3) on a second\n"
          "listener with the same certificate: every call is SigV4-verified against the agents'\n"
          "key pairs (agents file: aws: {access_key_id, secret_access_key_file}; without --agents,\n"
          "ops-bot's pair is written to DATA-DIR/aws/credentials, profile airlock), simulated on the\n"
          "twin's account (the AWSState of --state) and judged by the same policies. With\n"
          "--aws-upstream the account is read from production at start and allowed calls are\n"
          "forwarded to it, re-signed with production's key (its shared credentials file).\n"
          "\n"
          "A review verdict makes a pending approval (its id is in the refusal). The request is\n"
          "held up to --review-wait seconds (default 0) for a person; after an approval the same\n"
          "action from the same agent passes once within --approved-ttl (default 900 s); a\n"
          "pending approval expires after --approval-ttl (default 3600 s). Approvers use\n"
          "https://HOST/airlock/ui/, the API under /airlock/v1/ or `gate approvals`. Every\n"
          "decision is committed to the audit repository (default DATA-DIR/audit) before it is\n"
          "answered. SIGHUP reloads the policies (a broken set is refused, the old one stays).\n",
          out);
}

int gate_cmd_serve(int argc, char **argv)
{
    gate_cli_opts o;
    int rc = 3;
    server sv = {0};
    twin *t = NULL;
    gate_policy_set *ps = NULL;
    gate_history *h = NULL;
    char *cert = NULL, *key = NULL, *cert_path = NULL, *key_path = NULL;
    gate_http *front = NULL, *aws_front = NULL;
    char *demo = NULL, *policy_default = NULL;
    char err[2048];
    gate_locks_init(&sv);
    pthread_mutex_init(&sv.aws_lock, NULL);
    sv.aws_scaled = json_object();

    int start = gate_cli_start(&o, argc, argv, "serve", usage);
    if (start) {
        rc = start > 0 ? 0 : rc;
        goto out;
    }
    const char *listen = o.listen ? o.listen : "127.0.0.1:8443";
    const char *colon = strrchr(listen, ':');
    long port = colon ? atol(colon + 1) : 0;
    if (!colon || port <= 0 || port > 65535 || strncmp(listen, "127.0.0.1:", 10)) {
        fprintf(stderr, "gate serve: --listen must be 127.0.0.1:PORT in this version (got %s)\n", listen);
        goto out;
    }
    long aws_port = 0;
    if (o.aws_listen) {
        const char *ac = strrchr(o.aws_listen, ':');
        aws_port = ac ? atol(ac + 1) : 0;
        if (!ac || aws_port <= 0 || aws_port > 65535 || strncmp(o.aws_listen, "127.0.0.1:", 10) ||
            aws_port == port) {
            fprintf(stderr, "gate serve: --aws-listen must be 127.0.0.1:PORT, another port than --listen's (got %s)\n",
                    o.aws_listen);
            goto out;
        }
    }
    if (o.aws_upstream && !o.aws_listen) {
        fprintf(stderr, "gate serve: --aws-upstream needs --aws-listen (where agents reach the AWS APIs)\n");
        goto out;
    }
    const char *dir = o.data_dir ? o.data_dir : ".airlock";
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "gate serve: cannot create %s: %s\n", dir, strerror(errno));
        goto out;
    }
    if (o.mode && strcmp(o.mode, "enforce") && strcmp(o.mode, "shadow")) {
        fprintf(stderr, "gate serve: --mode is enforce or shadow (got %s)\n", o.mode);
        goto out;
    }
    sv.shadow = o.mode && !strcmp(o.mode, "shadow");
    if (sv.shadow && !o.upstream) {
        fprintf(stderr, "gate serve: --mode shadow needs --upstream (it forwards everything to production)\n");
        goto out;
    }
    if (o.upstream && o.nstate) {
        fprintf(stderr, "gate serve: --state and --upstream exclude each other: with --upstream the twin "
                        "starts from production\n");
        goto out;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (o.upstream && gate_upstream_open(&sv.up, o.upstream, o.upstream_token_file, o.upstream_ca,
                                         o.upstream_insecure, err, sizeof err) < 0) {
        fprintf(stderr, "gate serve: %s\n", err);
        goto out;
    }
    double upstream_timeout;
    if (gate_cli_seconds("upstream-timeout", o.upstream_timeout, 600, &upstream_timeout, err, sizeof err) < 0) {
        fprintf(stderr, "gate serve: %s\n", err);
        goto out;
    }
    gate_upstream_set_timeout(sv.up, upstream_timeout);   /* 0: the default */
    demo = o.nstate || o.upstream || o.aws_upstream ? NULL : gate_cli_find("fixtures/demo");
    if (demo)
        o.state[o.nstate++] = demo;   /* without --state: the bundled demo cluster */
    if (gate_cli_open_twin(&o, &t, err, sizeof err) < 0 || gate_cli_load_policies(&o, &ps, err, sizeof err) < 0) {
        fprintf(stderr, "gate serve: %s\n", err);
        goto out;
    }
    /* twin mode: the twin is the cluster, and kubectl reads its
     * controllers' Events (enforce mode's come from production) */
    twin_set_events(t, !sv.up);
    if (sv.up) {
        /* the twin mirrors production: each kind as listed, with its
         * versions (its watch starts from the list's), no controller run */
        twin_keep_versions(t, 1);
        sv.served = json_object();
        double l0 = gate_mono();
        long listed = 0;
        if (load_production(sv.up, t, sv.served, &listed, err, sizeof err) < 0) {
            fprintf(stderr, "gate serve: %s\n", err);
            goto out;
        }
        struct mallinfo2 mi = mallinfo2();
        gate_log("production listed: %ld objects in %.2f s (read, parsed and loaded into the twin, 500 a page); "
                 "heap in use %.0f MiB, of which SQLite %.0f MiB",
                 listed, gate_mono() - l0, (double)mi.uordblks / 1048576, (double)sqlite3_memory_used() / 1048576);
        sv.fresh_wait = o.fresh_wait ? atof(o.fresh_wait) : 2;
        if (sv.fresh_wait <= 0 || sv.fresh_wait > 60) {
            fprintf(stderr, "gate serve: --fresh-wait is 0 to 60 seconds (got %s)\n", o.fresh_wait);
            goto out;
        }
    }
    if (o.aws_upstream && load_aws_production(&sv, t, &o, upstream_timeout, err, sizeof err) < 0) {
        fprintf(stderr, "gate serve: %s\n", err);
        goto out;
    }
    /* TLS */
    if (o.tls_cert && o.tls_key) {
        cert_path = twin_xstrdup(o.tls_cert);
        key_path = twin_xstrdup(o.tls_key);
    } else {
        cert_path = twin_xasprintf("%s/tls.crt", dir);
        key_path = twin_xasprintf("%s/tls.key", dir);
        if (access(cert_path, R_OK) != 0 || access(key_path, R_OK) != 0) {
            if (make_cert(cert_path, key_path, err, sizeof err) < 0) {
                fprintf(stderr, "gate serve: %s\n", err);
                goto out;
            }
            gate_log("made a self-signed TLS certificate: %s", cert_path);
        }
    }
    cert = read_all(cert_path);
    key = read_all(key_path);
    if (!cert || !key) {
        fprintf(stderr, "gate serve: cannot read %s or %s\n", cert_path, key_path);
        goto out;
    }
    /* agents */
    if (o.agents) {
        if (gate_agents_load(&sv.agents, o.agents, err, sizeof err) < 0 ||
            gate_agents_check_policies(&sv.agents, ps, err, sizeof err) < 0) {
            fprintf(stderr, "gate serve: %s\n", err);
            goto out;
        }
    } else {
        unsigned char rnd[24];
        gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof rnd);
        char token[49];
        for (int i = 0; i < 24; i++)
            snprintf(token + 2 * i, 3, "%02x", rnd[i]);
        char *h256 = gate_sha256_hex(token, strlen(token));
        gate_agents_add(&sv.agents, "ops-bot", h256, GATE_ROLE_AGENT);
        free(h256);
        char *ca = base64(cert);
        char *kc = twin_xasprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: airlock\n  cluster:\n"
                                  "    server: https://%s\n    certificate-authority-data: %s\n"
                                  "users:\n- name: ops-bot\n  user:\n    token: %s\n"
                                  "contexts:\n- name: airlock\n  context: {cluster: airlock, user: ops-bot}\n"
                                  "current-context: airlock\n",
                                  listen, ca, token);
        char *kc_path = twin_xasprintf("%s/kubeconfig", dir);
        write_file(kc_path, kc, strlen(kc), 0600);
        /* the line to paste: absolute, so it works from any directory */
        char *abs = realpath(kc_path, NULL);
        gate_log("agent ops-bot, paste: export KUBECONFIG=%s; kubectl get pods -A",
                abs ? abs : kc_path);
        free(abs);
        free(ca);
        free(kc);
        free(kc_path);
        /* and an approver, for the approvals page and `gate approvals` */
        gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof rnd);
        for (int i = 0; i < 24; i++)
            snprintf(token + 2 * i, 3, "%02x", rnd[i]);
        h256 = gate_sha256_hex(token, strlen(token));
        gate_agents_add(&sv.agents, "approver", h256, GATE_ROLE_APPROVER);
        free(h256);
        char *tok_path = twin_xasprintf("%s/approver.token", dir);
        write_file(tok_path, token, strlen(token), 0600);
        gate_log("approver token in %s: open https://%s/airlock/ui/ or run "
                        "gate approvals list --server https://%s --token-file %s --ca %s",
                tok_path, listen, listen, tok_path, cert_path);
        free(tok_path);
        if (o.aws_listen && default_aws_key(&sv, t, dir, cert_path, o.aws_listen, err, sizeof err) < 0) {
            fprintf(stderr, "gate serve: %s\n", err);
            goto out;
        }
    }
    /* approvals, the freeze and the budgets' history: one SQLite file */
    char *db = twin_xasprintf("%s/gate.db", dir);
    double pending_ttl = o.approval_ttl ? atof(o.approval_ttl) : 3600, approved_ttl = o.approved_ttl ? atof(o.approved_ttl) : 900;
    sv.review_wait = o.review_wait ? atof(o.review_wait) : 0;
    if (pending_ttl <= 0 || approved_ttl <= 0 || sv.review_wait < 0 || sv.review_wait > 3600) {
        fprintf(stderr, "gate serve: --approval-ttl and --approved-ttl are positive seconds, --review-wait 0..3600 "
                        "seconds\n");
        free(db);
        goto out;
    }
    if (gate_approvals_open(&sv.approvals, db, pending_ttl, approved_ttl, err, sizeof err) < 0 ||
        gate_history_open(&h, db, err, sizeof err) < 0) {
        fprintf(stderr, "gate serve: %s\n", err);
        free(db);
        goto out;
    }
    free(db);
    /* the audit log */
    char *repo = o.audit_repo ? twin_xstrdup(o.audit_repo) : twin_xasprintf("%s/audit", dir);
    char *keyfile = twin_xasprintf("%s/audit.key", dir);
    int arc = gate_audit_open(&sv.audit, repo, keyfile, err, sizeof err);
    free(keyfile);
    if (arc < 0) {
        fprintf(stderr, "gate serve: %s\n", err);
        free(repo);
        goto out;
    }
    gate_log("decisions are recorded in the git repository %s (gate audit log --audit-repo %s)",
            repo, repo);
    sv.audit_dir = repo;
    sv.engine = (gate_engine){.twin = t, .policies = ps, .history = h, .hold = 1, .reads_elsewhere = sv.up != NULL,
                             .forwards = sv.up != NULL, .mirror = sv.up != NULL, .follow = sv.shadow,
                             .reads = &sv.reads};
    sv.watch = gate_watch_hub_new(10000, twin_resource_version(t));
    sv.data_dir = dir;
    sv.listen = listen;
    if (o.webhook && gate_webhook_start(&sv.hook, o.webhook, err, sizeof err) < 0) {
        fprintf(stderr, "gate serve: %s\n", err);
        goto out;
    }
    if (!o.policies)
        policy_default = gate_cli_find("lua-policies");
    sv.policy_spec = o.policies ? o.policies : policy_default;
    gate_cli_policy_timeout(&o, &sv.policy_timeout, err, sizeof err);   /* checked when loaded */
    sv.recent = json_array();
    sv.max_waiting = 64;   /* held reviews are suspended connections: bounded all the same */
    /* the first record of this run: the state the twin starts from, so
     * that `gate replay` can rebuild what each decision was made on */
    {
        double s0 = gate_mono();
        /* written as it is read, one object at a time (a large twin is
         * never held twice); Secret values never enter the audit */
        twin_buf text = {0};
        twin_export_text(t, redact_one, NULL, &text);
        json_t *state = json_stringn_nocheck(text.s, text.len);
        twin_buf_free(&text);
        json_t *first = json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "start", "agent", "airlock", "mode",
                                  !sv.up ? "twin" : sv.shadow ? "shadow" : "enforce", "policy_version",
                                  gate_policy_version(ps), "objects", (json_int_t)twin_object_count(t));
        json_t *att = json_pack("{s:o}", "state.json", state);
        int src = gate_audit_event(&sv, first, att, err, sizeof err);
        json_decref(first);
        json_decref(att);
        if (src < 0) {
            fprintf(stderr, "gate serve: %s\n", err);
            goto out;
        }
        gate_log("the start state is in the audit log (%ld objects, %.2f s)", twin_object_count(t), gate_mono() - s0);
    }
    if (sv.shadow) {
        char *log = twin_xasprintf("%s/shadow.jsonl", dir);
        sv.shadow_log = fopen(log, "a");
        if (!sv.shadow_log) {
            fprintf(stderr, "gate serve: cannot open %s: %s\n", log, strerror(errno));
            free(log);
            goto out;
        }
        gate_log("shadow mode: every call goes to production; verdicts are recorded in %s", log);
        free(log);
    }

    if (sv.up || sv.aws_up)
        sv.drift = gate_drift_new(10000, 60);
    if (sv.up) {
        gate_informer_opts io = {.up = sv.up, .twin = t, .lock = &sv.lock, .versions = sv.served,
                                 .observe = gate_mirror_observe, .ud = &sv};
        if (gate_informer_start(&sv.informer, &io, err, sizeof err) < 0) {
            fprintf(stderr, "gate serve: %s\n", err);
            goto out;
        }
        double began = gate_now();
        if (gate_informer_ready(sv.informer, 30, err, sizeof err) < 0)
            gate_log("%s", err);
        else
            gate_log("watching production: %zu kinds, open in %.2f s", json_object_size(sv.served),
                     gate_now() - began);
        /* what a stopped gate forwarded without recording production's
         * answer: read from production's state now */
        if (gate_reconcile_open(&sv, 1, err, sizeof err) < 0)
            gate_log("open decisions could not be reconciled: %s", err);
    }

    gate_http_opts ho = {.listen_host = "127.0.0.1", .port = (unsigned)port, .cert_pem = cert, .key_pem = key,
                         .threads = POOL, .handle = serve_request, .done = serve_done, .app = &sv};
    front = gate_http_start(&ho);
    if (!front) {
        fprintf(stderr, "gate serve: cannot listen on %s (in use?)\n", listen);
        goto out;
    }
    gate_log("serving the Kubernetes API on https://%s (%s, %ld objects in the twin)", listen,
            sv.up ? "enforce mode: allowed calls go to production" : "twin mode", twin_object_count(t));
    if (o.aws_listen) {
        gate_http_opts ao = ho;
        ao.port = (unsigned)aws_port;
        ao.handle = serve_aws_request;
        aws_front = gate_http_start(&ao);
        if (!aws_front) {
            fprintf(stderr, "gate serve: cannot listen on %s (in use?)\n", o.aws_listen);
            rc = 3;
            goto out;
        }
        gate_log("serving the AWS APIs on https://%s (%s: account %s, region %s)", o.aws_listen,
                 sv.aws_up ? "enforce mode" : "twin mode", twin_aws_account(t), twin_aws_region(t));
        if (sv.aws_up && gate_aws_refresh_start(&sv) < 0) {
            fprintf(stderr, "gate serve: cannot start the AWS account's refresh\n");
            rc = 3;
            goto out;
        }
    }
    pthread_t dog;
    sem_init(&stop_sem, 0, 0);
    if (pthread_create(&dog, NULL, stop_watchdog, NULL) == 0)
        pthread_detach(dog);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_hup);
    size_t watch_peak = 0;
    for (int tick = 0; !stopping; tick++) {
        usleep(100 * 1000);
        gate_resume_held(&sv);           /* held requests whose person decided, or whose wait is over */
        if (tick % 10 == 9) {
            gate_watch_tick(sv.watch);   /* ends watches whose timeout passed */
            /* many streams ended: what they held goes back to the system
             * (freed blocks otherwise stay in the allocator's arenas) */
            size_t n = gate_watch_count(sv.watch);
            watch_peak = n > watch_peak ? n : watch_peak;
            if (watch_peak >= n + 16 && n <= watch_peak / 2) {
                malloc_trim(0);
                watch_peak = n;
            }
        }
        if (sv.up && tick % 10 == 5 && gate_upstream_probe(sv.up))
            gate_log("production answers again: calls go through");
        if (sv.up && tick % 50 == 49 && gate_reconcile_open(&sv, 0, err, sizeof err) < 0)
            gate_log("open decisions could not be reconciled yet: %s", err);   /* the next round tries again */
        if (reload_asked) {
            reload_asked = 0;
            if (gate_reload_policies(&sv, "SIGHUP", err, sizeof err) < 0)
                gate_log("reload refused, the policies in force stay: %s", err);
        }
    }
    gate_log("stopping");
    pthread_rwlock_wrlock(&sv.lock);
    sv.stopping = 1;   /* held reviews are answered now */
    pthread_rwlock_unlock(&sv.lock);
    gate_resume_held(&sv);
    for (int i = 0; i < 30; i++) {   /* up to 3 s for their handlers to answer them */
        pthread_rwlock_wrlock(&sv.lock);
        int left = sv.resuming;
        pthread_rwlock_unlock(&sv.lock);
        if (!left)
            break;
        usleep(100 * 1000);
    }
    rc = 0;
out:
    if (sv.watch)
        gate_watch_stop(sv.watch);   /* streams end; their connections resume */
    sv.stopping = 1;
    gate_aws_refresh_stop(&sv);   /* ends within 0.1 s, or after the describe in flight */
    gate_http_stop(aws_front);
    gate_http_stop(front);           /* finishes the request in flight */
    gate_upstream_abort(sv.up);        /* a relist in flight ends now */
    gate_informer_stop(sv.informer);   /* after the front: no request waits on it any more */
    gate_watch_hub_free(sv.watch);
    gate_webhook_stop(sv.hook);   /* after the front: nothing queues any more */
    free(cert);
    free(key);
    free(cert_path);
    free(key_path);
    gate_agents_free(&sv.agents);
    gate_approvals_close(sv.approvals);
    gate_audit_close(sv.audit);
    free(sv.audit_dir);
    json_decref(sv.unsettled);
    json_decref(sv.recent);
    gate_drift_free(sv.drift);
    json_decref(sv.served);
    gate_upstream_close(sv.up);
    gate_aws_upstream_close(sv.aws_up);
    if (sv.shadow_log)
        fclose(sv.shadow_log);
    curl_global_cleanup();
    gate_history_close(h);
    gate_policy_free(sv.engine.policies ? sv.engine.policies : ps);   /* a reload may have replaced it */
    twin_close(t);
    gate_locks_destroy(&sv);
    pthread_mutex_destroy(&sv.aws_lock);
    json_decref(sv.aws_scaled);
    free(demo);
    free(policy_default);
    gate_cli_free(&o);
    return rc;
}
