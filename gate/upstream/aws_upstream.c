/*
 * aws_upstream.c - production's AWS account: one libcurl call per request
 * (rebuilt from the judged input, signed with production's key), and the
 * account read whole for the twin.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gate/aws/credentials.h"
#include "gate/aws/protocol.h"
#include "gate/aws/sigv4.h"
#include "gate/base/clock.h"
#include "gate/upstream/aws_upstream.h"
#include "twin/aws.h"
#include "twin/util.h"

enum { MAX_ANSWER = 64 * 1024 * 1024, MAX_PAGES = 1000, POOL = 8 };

struct gate_aws_upstream {
    char *url;        /* every service here, or NULL: AWS's public endpoints */
    char *region;
    char *ca;         /* NULL: the system's authorities */
    gate_aws_key key;
    double timeout;
    /* handles between calls: each keeps its connection (and TLS session)
     * to production open for the next call */
    pthread_mutex_t lock;
    CURL *idle[POOL];
    int nidle;
};

int gate_aws_upstream_open(gate_aws_upstream **out, const char *url, const char *cred_file, const char *profile,
                           const char *ca_file, const char *region, char *err, size_t errlen)
{
    *out = NULL;
    if (!url || (strcmp(url, "aws") && strncmp(url, "https://", 8))) {
        snprintf(err, errlen, "--aws-upstream is https://HOST[:PORT] or aws (got %s)", url ? url : "nothing");
        return -1;
    }
    if (!cred_file) {
        snprintf(err, errlen, "--aws-upstream needs --aws-upstream-credentials FILE (production's key)");
        return -1;
    }
    gate_aws_upstream *u = twin_xcalloc(1, sizeof *u);
    if (gate_aws_credentials_read(cred_file, profile ? profile : "default", &u->key, err, errlen) < 0) {
        free(u);
        return -1;
    }
    u->url = strcmp(url, "aws") ? twin_xstrdup(url) : NULL;
    size_t n = u->url ? strlen(u->url) : 0;
    while (n && u->url[n - 1] == '/')
        u->url[--n] = '\0';
    u->region = twin_xstrdup(region);
    u->ca = ca_file ? twin_xstrdup(ca_file) : NULL;
    pthread_mutex_init(&u->lock, NULL);
    *out = u;
    return 0;
}

void gate_aws_upstream_close(gate_aws_upstream *u)
{
    if (!u)
        return;
    gate_aws_key_clear(&u->key);
    for (int i = 0; i < u->nidle; i++)
        curl_easy_cleanup(u->idle[i]);
    pthread_mutex_destroy(&u->lock);
    free(u->url);
    free(u->region);
    free(u->ca);
    free(u);
}

void gate_aws_upstream_set_timeout(gate_aws_upstream *u, double seconds)
{
    u->timeout = seconds;
}

/* The endpoint of a service: the one given, or AWS's own. */
static char *endpoint_of(const gate_aws_upstream *u, const char *service)
{
    if (u->url)
        return twin_xstrdup(u->url);
    if (!strcmp(service, "iam"))
        return twin_xstrdup("https://iam.amazonaws.com");
    return twin_xasprintf("https://%s.%s.amazonaws.com", service, u->region);
}

int gate_aws_upstream_call(gate_aws_upstream *u, const char *service, const char *operation, const json_t *input,
                           gate_upstream_answer *ans, char *err, size_t errlen)
{
    memset(ans, 0, sizeof *ans);
    twin_buf body = {0}, target = {0};
    json_t *headers = NULL;
    const char *method = "POST";
    int s3 = !strcmp(service, "s3");
    if (s3 && json_is_object(json_object_get(input, "Body"))) {
        snprintf(err, errlen, "airlock: an S3 object's body is not kept by the gate: %s cannot be forwarded",
                 operation);
        return -1;
    }
    int code = s3 ? gate_aws_build_s3(operation, input, &method, &target, &headers, &body, err, errlen)
                  : gate_aws_build_query(service, operation, input, &body, err, errlen);
    if (code) {
        json_decref(headers);
        twin_buf_free(&body);
        twin_buf_free(&target);
        return -1;
    }
    if (!s3) {
        twin_buf_add(&target, "/", 1);
        headers = json_pack("{s:s}", "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    }
    char *ep = endpoint_of(u, service);
    const char *host = ep + 8;   /* after https:// */
    json_object_set_new(headers, "Host", json_stringn(host, strcspn(host, "/")));
    int rc = -1;
    char *url = NULL;
    struct curl_slist *h = NULL;
    CURL *c = NULL;
    if (gate_sigv4_sign(method, target.s, headers, body.s, body.len, u->key.key_id, u->key.secret,
                        u->key.session_token, !strcmp(service, "iam") ? "us-east-1" : u->region, service, gate_now(),
                        err, errlen) < 0)
        goto out;
    url = twin_xasprintf("%s%s", ep, target.s);
    const char *k;
    json_t *v;
    json_object_foreach(headers, k, v) {
        if (!strcasecmp(k, "Host"))
            continue;   /* libcurl sends the URL's, the one signed */
        char *line = twin_xasprintf("%s: %s", k, json_string_value(v));
        h = curl_slist_append(h, line);
        free(line);
    }
    h = curl_slist_append(h, "Expect:");
    h = curl_slist_append(h, "Accept:");
    pthread_mutex_lock(&u->lock);
    c = u->nidle ? u->idle[--u->nidle] : NULL;
    pthread_mutex_unlock(&u->lock);
    if (c)
        curl_easy_reset(c);   /* options go, the connection stays */
    else
        c = curl_easy_init();
    gate_upstream_sinkbuf snk;
    gate_upstream_collect(c, ans, &snk, MAX_ANSWER);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(1000 * (u->timeout > 0 ? u->timeout : 10)));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    if (u->ca) {
        curl_easy_setopt(c, CURLOPT_CAINFO, u->ca);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    }
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (body.len || !strcmp(method, "POST") || !strcmp(method, "PUT")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.s ? body.s : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    }
    CURLcode cr = curl_easy_perform(c);
    if (cr == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ans->status);
        rc = 0;
    } else {
        long sent = 0;
        curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
        ans->maybe_sent = sent > 0;
        snprintf(err, errlen, "%s", snk.too_big ? "production's answer is larger than the gate accepts"
                                                : curl_easy_strerror(cr));
        twin_buf_free(&ans->body);
    }
out:
    if (c && rc == 0) {
        pthread_mutex_lock(&u->lock);
        if (u->nidle < POOL) {
            u->idle[u->nidle++] = c;
            c = NULL;
        }
        pthread_mutex_unlock(&u->lock);
    }
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(h);
    free(url);
    free(ep);
    json_decref(headers);
    twin_buf_free(&body);
    twin_buf_free(&target);
    return rc;
}

/* The list members of an output (to join pages): every array at its top. */
static void join_pages(json_t *acc, const json_t *page)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)page, k, v) {
        json_t *have = json_object_get(acc, k);
        if (json_is_array(v) && json_is_array(have))
            json_array_extend(have, v);
        else if (!have)
            json_object_set(acc, k, v);
    }
}

/* The token of the next page and the input member it goes in, or NULL. */
static const char *next_page(const json_t *out, const char **member)
{
    const char *t;
    if ((t = json_string_value(json_object_get(out, "NextToken"))) && *t) {
        *member = "NextToken";
        return t;
    }
    if ((t = json_string_value(json_object_get(out, "NextMarker"))) && *t) {
        *member = "Marker";
        return t;
    }
    /* IAM: IsTruncated with Marker; RDS: Marker alone */
    if ((t = json_string_value(json_object_get(out, "Marker"))) && *t &&
        (!json_object_get(out, "IsTruncated") || json_is_true(json_object_get(out, "IsTruncated")))) {
        *member = "Marker";
        return t;
    }
    return NULL;
}

int gate_aws_upstream_read(gate_aws_upstream *u, const char *service, const char *operation, const json_t *input,
                           json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    json_t *in = input ? json_deep_copy(input) : json_object();
    json_t *acc = NULL;
    int rc = -1;
    for (int page = 0; page < MAX_PAGES; page++) {
        gate_upstream_answer ans;
        if (gate_aws_upstream_call(u, service, operation, in, &ans, err, errlen) < 0)
            break;
        if (ans.status < 200 || ans.status >= 300) {
            char *code = NULL, *msg = NULL, e2[128];
            if (gate_aws_parse_error(service, ans.body.s ? ans.body.s : "", ans.body.len, &code, &msg, e2,
                                     sizeof e2) == 0)
                snprintf(err, errlen, "production answered %s %s with %ld %s: %s", service, operation, ans.status,
                         code, msg);
            else
                snprintf(err, errlen, "production answered %s %s with %ld", service, operation, ans.status);
            free(code);
            free(msg);
            gate_upstream_answer_free(&ans);
            break;
        }
        json_t *o = NULL;
        int pc = gate_aws_parse_output(service, operation, ans.body.s ? ans.body.s : "", ans.body.len, &o, err,
                                       errlen);
        gate_upstream_answer_free(&ans);
        if (pc)
            break;
        if (!acc)
            acc = json_object();
        join_pages(acc, o);
        const char *member = NULL;
        const char *tok = next_page(o, &member);
        if (!tok) {
            json_decref(o);
            json_object_del(acc, "NextToken");
            json_object_del(acc, "NextMarker");
            json_object_del(acc, "Marker");
            json_object_del(acc, "IsTruncated");
            *out = acc;
            acc = NULL;
            rc = 0;
            break;
        }
        json_object_set_new(in, member, json_string(tok));
        json_decref(o);
    }
    if (rc < 0 && !*err)
        snprintf(err, errlen, "production's %s %s did not end after %d pages", service, operation, MAX_PAGES);
    json_decref(acc);
    json_decref(in);
    return rc;
}

/* One describe into the state document: its top-level keys. */
static int describe_into(gate_aws_upstream *u, json_t *state, const char *service, const char *operation,
                         const json_t *input, char *err, size_t errlen)
{
    json_t *o;
    if (gate_aws_upstream_read(u, service, operation, input, &o, err, errlen) < 0)
        return -1;
    json_object_update_missing(state, o);
    json_decref(o);
    return 0;
}

/* S3's per-bucket facts; an absent policy, block or tag set is no error. */
static void bucket_fact(gate_aws_upstream *u, json_t *b, const char *operation, const char *member, const char *key)
{
    const char *name = json_string_value(json_object_get(b, "Name"));
    json_t *in = json_pack("{s:s}", "Bucket", name ? name : "");
    json_t *o = NULL;
    char err[256];
    if (gate_aws_upstream_read(u, "s3", operation, in, &o, err, sizeof err) == 0) {
        json_t *v = member ? json_object_get(o, member) : o;
        if (v && !strcmp(key, "Policy") && json_is_string(v)) {
            json_t *p = json_loads(json_string_value(v), 0, NULL);
            if (p)
                json_object_set_new(b, key, p);
        } else if (v) {
            json_object_set(b, key, v);
        }
    }
    json_decref(o);
    json_decref(in);
}

json_t *gate_aws_upstream_target_health(gate_aws_upstream *u, const char *arn, char *err, size_t errlen)
{
    json_t *in = json_pack("{s:s}", "TargetGroupArn", arn);
    json_t *o = NULL;
    int rc = gate_aws_upstream_read(u, "elasticloadbalancing", "DescribeTargetHealth", in, &o, err, errlen);
    json_decref(in);
    if (rc < 0)
        return NULL;
    json_t *targets = gate_aws_targets_of(o);
    json_decref(o);
    return targets;
}

json_t *gate_aws_targets_of(const json_t *health)
{
    json_t *targets = json_array();
    size_t j;
    json_t *d;
    json_array_foreach(json_object_get(health, "TargetHealthDescriptions"), j, d) {
        json_t *t = json_object_get(d, "Target");
        json_array_append_new(targets, json_pack("{s:O*, s:O*, s:O*}", "Id", json_object_get(t, "Id"), "Port",
                                                 json_object_get(t, "Port"), "State",
                                                 json_object_get(json_object_get(d, "TargetHealth"), "State")));
    }
    return targets;
}

json_t *gate_aws_upstream_bucket(gate_aws_upstream *u, const char *name)
{
    if (!name)
        return NULL;
    json_t *in = json_pack("{s:s}", "Bucket", name), *o = NULL;
    char err[256];
    int rc = gate_aws_upstream_read(u, "s3", "GetBucketAcl", in, &o, err, sizeof err);
    json_decref(in);
    if (rc < 0)   /* gone (NoSuchBucket), or not readable: not described */
        return NULL;
    json_t *nb = json_pack("{s:s, s:O*, s:O*}", "Name", name, "Grants", json_object_get(o, "Grants"), "Owner",
                           json_object_get(o, "Owner"));
    json_decref(o);
    bucket_fact(u, nb, "GetBucketPolicy", "Policy", "Policy");
    bucket_fact(u, nb, "GetPublicAccessBlock", "PublicAccessBlockConfiguration", "PublicAccessBlock");
    bucket_fact(u, nb, "GetBucketTagging", "TagSet", "Tags");
    /* the objects of the first page (at most 1000): whether it holds
     * data, and at least how much (the twin keeps a count, not keys) */
    bucket_fact(u, nb, "ListObjectsV2", "KeyCount", "ObjectCount");
    return nb;
}

json_t *gate_aws_upstream_snapshot(gate_aws_upstream *u, char *err, size_t errlen)
{
    json_t *state = json_pack("{s:s, s:s}", "kind", "AWSState", "region", u->region);
    static const struct {
        const char *service, *operation, *input;
    } calls[] = {
        {"ec2", "DescribeVpcs", "{}"},
        {"ec2", "DescribeSubnets", "{}"},
        {"ec2", "DescribeSecurityGroups", "{}"},
        {"ec2", "DescribeInstances", "{}"},
        {"ec2", "DescribeVolumes", "{}"},
        {"ec2", "DescribeSnapshots", "{\"OwnerIds\": [\"self\"]}"},
        {"autoscaling", "DescribeAutoScalingGroups", "{}"},
        {"elasticloadbalancing", "DescribeLoadBalancers", "{}"},
        {"elasticloadbalancing", "DescribeTargetGroups", "{}"},
        {"iam", "GetAccountAuthorizationDetails", "{}"},
        {"rds", "DescribeDBInstances", "{}"},
        {"rds", "DescribeDBSnapshots", "{}"},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        json_t *in = json_loads(calls[i].input, 0, NULL);
        int rc = describe_into(u, state, calls[i].service, calls[i].operation, in, err, errlen);
        json_decref(in);
        if (rc < 0) {
            json_decref(state);
            return NULL;
        }
    }
    /* the account: STS names it */
    json_t *who = NULL;
    if (gate_aws_upstream_read(u, "sts", "GetCallerIdentity", NULL, &who, err, errlen) == 0 &&
        json_is_string(json_object_get(who, "Account")))
        json_object_set(state, "account", json_object_get(who, "Account"));
    json_decref(who);
    /* target health, per target group */
    json_t *health = json_object();
    size_t i;
    json_t *tg;
    json_array_foreach(json_object_get(state, "TargetGroups"), i, tg) {
        const char *arn = json_string_value(json_object_get(tg, "TargetGroupArn"));
        json_t *targets = gate_aws_upstream_target_health(u, arn ? arn : "", err, errlen);
        if (!targets) {
            json_decref(health);
            json_decref(state);
            return NULL;
        }
        json_object_set_new(health, arn ? arn : "", targets);
    }
    json_object_set_new(state, "TargetHealth", health);
    /* buckets, with what ListBuckets does not say */
    json_t *lb = NULL;
    if (gate_aws_upstream_read(u, "s3", "ListBuckets", NULL, &lb, err, errlen) < 0) {
        json_decref(state);
        return NULL;
    }
    json_t *buckets = json_array();
    json_t *b;
    json_array_foreach(json_object_get(lb, "Buckets"), i, b) {
        json_t *nb = gate_aws_upstream_bucket(u, json_string_value(json_object_get(b, "Name")));
        if (nb)
            json_array_append_new(buckets, nb);
    }
    json_decref(lb);
    json_object_set_new(state, "Buckets", buckets);
    return state;
}
