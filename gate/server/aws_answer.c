/*
 * aws_answer.c - the answers of AWS calls, in each service's own protocol:
 * the output of an allowed call, AWS's own error the twin answered, or the
 * gate's refusal (UnauthorizedOperation for EC2, AccessDenied elsewhere;
 * throttling as each service says it).  Used by the AWS listener
 * (aws_front.c) and the pipeline (pipeline.c), which the listener calls.
 */
#include <string.h>

#include "gate/aws/protocol.h"
#include "gate/server/serve_int.h"
#include "twin/util.h"

/* The AWS error code for a refusal of the gate's own, by status. */
static const char *code_for(const char *service, unsigned status)
{
    int ec2 = !strcmp(service, "ec2"), s3 = !strcmp(service, "s3");
    switch (status) {
    case 400:
        return ec2 ? "InvalidParameterValue" : s3 ? "InvalidRequest" : "ValidationError";
    case 401:
    case 403:
        return ec2 ? "UnauthorizedOperation" : "AccessDenied";
    case 404:
        return s3 ? "NoSuchKey" : "NotFound";
    case 409:
        return "Conflict";
    case 412:
        return "DryRunOperation";
    case 413:
        return s3 ? "EntityTooLarge" : "RequestEntityTooLarge";
    case 429:
        return ec2 ? "RequestLimitExceeded" : s3 ? "SlowDown" : "Throttling";
    case 501:
        return "NotImplemented";
    case 503:
    case 504:
    case 507:
        return "ServiceUnavailable";
    default:
        return status >= 500 ? (s3 ? "InternalError" : "InternalFailure") : "InvalidRequest";
    }
}

static const char *content_type_of(const char *service)
{
    return !strcmp(service, "s3") ? "application/xml" : "text/xml;charset=UTF-8";
}

void gate_aws_refuse(gate_resp *resp, const char *service, unsigned status, const char *code, const char *msg,
                     const char *request_id)
{
    /* throttling is 400 on the query APIs and EC2 (botocore retries it by
     * its code), 503 SlowDown on S3 */
    unsigned wire = status;
    if (status == 429)
        wire = !strcmp(service, "s3") ? 503 : 400;
    else if (status == 422)
        wire = 400;
    twin_buf b = {0};
    gate_aws_render_error(service, wire, code ? code : code_for(service, status), msg ? msg : "refused",
                          request_id, &b);
    gate_resp_text(resp, wire, content_type_of(service), b.s ? b.s : "", b.len);
    gate_resp_header(resp, !strcmp(service, "s3") ? "x-amz-request-id" : "x-amzn-RequestId", request_id);
    twin_buf_free(&b);
}

void gate_aws_output(gate_resp *resp, const char *service, const char *operation, const json_t *output,
                     const char *request_id)
{
    twin_buf b = {0};
    json_t *headers = NULL;
    if (gate_aws_render_output(service, operation, output, request_id, &b, &headers) < 0) {
        gate_aws_refuse(resp, service, 500, NULL, "airlock: the answer could not be rendered", request_id);
    } else {
        gate_resp_text(resp, 200, content_type_of(service), b.s ? b.s : "", b.len);
        const char *k;
        json_t *v;
        json_object_foreach(headers, k, v) if (json_is_string(v)) gate_resp_header(resp, k, json_string_value(v));
        gate_resp_header(resp, !strcmp(service, "s3") ? "x-amz-request-id" : "x-amzn-RequestId", request_id);
    }
    json_decref(headers);
    twin_buf_free(&b);
}

void gate_aws_answer(gate_resp *resp, const gate_aws_action *a, const gate_decision *d, const char *request_id)
{
    if (d->verdict == GATE_ALLOW && d->code < 300) {
        if (a->dry_run) {
            gate_aws_refuse(resp, a->service, 412, "DryRunOperation",
                            "Request would have succeeded, but DryRun flag is set.", request_id);
            return;
        }
        gate_aws_output(resp, a->service, a->operation, d->object, request_id);
        return;
    }
    /* an error AWS itself would answer (the twin's), or the gate's refusal */
    const char *code = json_string_value(json_object_get(d->object, "Code"));
    if (d->verdict == GATE_ERROR && code)
        gate_aws_refuse(resp, a->service, d->code ? (unsigned)d->code : 400, code, d->message, request_id);
    else
        gate_aws_refuse(resp, a->service, d->code ? (unsigned)d->code : 403, NULL, d->message, request_id);
}
