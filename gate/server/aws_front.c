/*
 * aws_front.c - the AWS listener: one request's signature, identity and
 * parse, before the pipeline (pipeline.c) judges it; and the answers in
 * the service's own protocol (EC2's <Response><Errors>, the query
 * protocol's <ErrorResponse>, S3's <Error>).
 *
 *   authenticate  SigV4 (gate/aws/sigv4.h): the key id names the agent
 *                 (its profile's aws key pair); a wrong signature, an
 *                 unknown key or a stale date is refused before anything
 *                 is parsed or simulated
 *   parse         the service from the signature's credential scope; the
 *                 operation and its botocore-shaped input from the body
 *                 (query and EC2 protocols) or the REST call (S3); what
 *                 cannot be read one way only is refused
 *   judge         gate_aws_call: the same phases as a Kubernetes call
 *
 * STS's GetCallerIdentity is answered here: it names the agent, not a
 * resource of the account.  The answers' shapes are aws_answer.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "gate/aws/action.h"
#include "gate/aws/protocol.h"
#include "gate/aws/sigv4.h"
#include "gate/base/clock.h"
#include "gate/base/log.h"
#include "gate/server/serve_int.h"
#include "twin/aws.h"
#include "twin/util.h"

/* A request id as AWS shapes them (a uuid). */
static void new_request_id(char out[40])
{
    unsigned char r[16];
    gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof r);
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3],
             r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

/* Global services are signed for us-east-1 whatever the twin's region. */
static int global(const char *service)
{
    return !strcmp(service, "iam") || !strcmp(service, "sts") || !strcmp(service, "s3");
}

/* The signature, before anything else: the agent whose key signed it, or
 * NULL after refusing. */
static gate_identity *authenticate(server *sv, gate_req *rq, gate_resp *resp, gate_sigv4_auth *a, char *service,
                                   size_t service_len, const char *rid)
{
    char err[1024];
    const char *auth = gate_req_header(rq, "Authorization");
    int parsed;
    if (auth) {
        parsed = gate_sigv4_parse(auth, a, err, sizeof err);
    } else {
        parsed = gate_sigv4_parse_query(rq->target, a, err, sizeof err);
        if (parsed == 1) {
            /* which protocol to answer in is unknown before a signature names
             * the service: the query protocol's shape is the common one */
            gate_aws_refuse(resp, "sts", 403, "MissingAuthenticationToken",
                            "Request is missing Authentication Token", rid);
            return NULL;
        }
    }
    if (parsed < 0) {
        gate_aws_refuse(resp, "sts", 400, "IncompleteSignature", err, rid);
        return NULL;
    }
    snprintf(service, service_len, "%s", a->service);
    if (!gate_aws_protocol(a->service)) {   /* the models the gate was built with name the services */
        char *msg = twin_xasprintf("airlock: the gate does not serve the AWS service \"%s\" (it serves ec2, "
                                   "autoscaling, elasticloadbalancing, iam, rds, sts and s3)",
                                   a->service);
        gate_aws_refuse(resp, "sts", 400, "InvalidAction", msg, rid);
        free(msg);
        return NULL;
    }
    int s3 = !strcmp(a->service, "s3");
    if (rq->too_big) {   /* its body is not kept: no signature over it can be checked */
        gate_aws_refuse(resp, a->service, 413, NULL, "airlock: the request body is larger than the 3 MiB limit", rid);
        return NULL;
    }
    gate_identity *who = gate_agents_find_aws(&sv->agents, a->key_id);
    if (!who || who->role != GATE_ROLE_AGENT) {
        gate_log("aws: a request signed with an unknown access key id was refused (%s)", a->service);
        gate_aws_refuse(resp, a->service, 403, s3 ? "InvalidAccessKeyId" : "InvalidClientTokenId",
                        s3 ? "The AWS Access Key Id you provided does not exist in our records."
                           : "The security token included in the request is invalid.",
                        rid);
        return NULL;
    }
    if (who->expires && gate_now() >= who->expires) {
        char *msg = twin_xasprintf("airlock: the key of %s expired", who->name);
        gate_aws_refuse(resp, a->service, 403, s3 ? "InvalidAccessKeyId" : "InvalidClientTokenId", msg, rid);
        free(msg);
        return NULL;
    }
    gate_sigv4_result r = gate_sigv4_verify(rq->method, rq->target, rq->headers, rq->body, rq->len, a,
                                            who->aws_secret, gate_now(), err, sizeof err);
    if (r != GATE_SIGV4_OK) {
        unsigned status = r == GATE_SIGV4_INCOMPLETE ? 400 : r == GATE_SIGV4_UNSUPPORTED ? 501 : 403;
        const char *code = r == GATE_SIGV4_EXPIRED && s3 ? "RequestTimeTooSkewed" : gate_sigv4_result_code(r);
        gate_log("aws: %s's request refused: %s (%s)", who->name, code, err);
        gate_aws_refuse(resp, a->service, status, code, err, rid);
        return NULL;
    }
    const char *region = twin_aws_region(sv->engine.twin);
    if (!global(a->service) && strcmp(a->region, region)) {
        char *msg = twin_xasprintf("airlock: the gate models the region %s; this request is signed for %s", region,
                                   a->region);
        gate_aws_refuse(resp, a->service, 400, NULL, msg, rid);
        free(msg);
        return NULL;
    }
    return who;
}

/* STS GetCallerIdentity: the agent, as the account knows it. */
static void caller_identity(server *sv, gate_resp *resp, const gate_identity *who, const char *rid)
{
    const char *account = twin_aws_account(sv->engine.twin);
    char *arn = twin_xasprintf("arn:aws:iam::%s:user/airlock/%s", account, who->name);
    json_t *out = json_pack("{s:s, s:s, s:s}", "UserId", who->aws_key_id, "Account", account, "Arn", arn);
    gate_aws_output(resp, "sts", "GetCallerIdentity", out, rid);
    json_decref(out);
    free(arn);
}

void gate_aws_serve(server *sv, gate_req *rq, gate_resp *resp)
{
    char rid[40], service[64] = "sts", err[1024];
    new_request_id(rid);
    request *st = rq->state;
    if (st && st->aws) {
        /* a call held for a person, resumed: judged again as it was parsed
         * (its signature was verified when it came; it may be older than
         * the 15 minutes a signature is good for by now) */
        gate_aws_call(sv, rq, resp, st->aws_who, st->aws, st->aws_request_id);
        return;
    }
    gate_sigv4_auth a = {0};
    gate_identity *who = authenticate(sv, rq, resp, &a, service, sizeof service, rid);
    gate_sigv4_auth_free(&a);
    if (!who)
        return;
    if (gate_conn_claim(rq->conn, who->name, who->connections) < 0) {
        char *msg = twin_xasprintf("airlock: %s has %ld connections open, the most it may (its profile's "
                                   "\"connections\"): close one first",
                                   who->name, who->connections);
        gate_aws_refuse(resp, service, 429, NULL, msg, rid);
        gate_resp_header(resp, "Connection", "close");
        free(msg);
        return;
    }
    gate_aws_action act;
    int code = gate_aws_action_parse(&act, service, rq->method, rq->target, rq->args, rq->headers, rq->body, rq->len,
                                     err, sizeof err);
    if (code) {
        gate_log("%s aws %s -> refused %d: %s", who->name, service, code, err);
        gate_aws_refuse(resp, service, (unsigned)code, NULL, err, rid);
        return;
    }
    if (!strcmp(service, "sts") && !strcmp(act.operation, "GetCallerIdentity")) {
        caller_identity(sv, resp, who, rid);
        gate_aws_action_free(&act);
        return;
    }
    gate_aws_action *held = twin_xmalloc(sizeof *held);
    *held = act;
    gate_aws_call(sv, rq, resp, who, held, rid);
}
