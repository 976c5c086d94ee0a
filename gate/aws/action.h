/*
 * gate/aws/action.h - one AWS call, parsed: what the engine judges and what
 * production receives (rebuilt from it, never from the raw request).
 *
 * The AWS adapter (gate/aws/front.c) makes one from a signed request: the
 * service from the signature's credential scope, the operation and its
 * botocore-shaped input from the protocol's body (gate/aws/protocol.h).
 * `gate check --actions` makes one from a recorded call, in the wire form
 * or in the CLI's form ({"aws": "ec2 terminate-instances", "input": {...}}).
 */
#ifndef GATE_AWS_ACTION_H
#define GATE_AWS_ACTION_H

#include <jansson.h>
#include <stddef.h>

typedef struct gate_aws_action {
    char *service;      /* SigV4 signing name: ec2, autoscaling, elasticloadbalancing, s3, iam, rds, sts */
    char *operation;    /* botocore's name: TerminateInstances */
    json_t *input;      /* botocore's input shape (owned, never NULL) */
    char *region;       /* the signature's region (owned; NULL: the twin's) */
    int dry_run;        /* EC2's DryRun=true: simulated and judged, never forwarded */
    int read;           /* Describe/List/Get/Head: changes nothing */
} gate_aws_action;

void gate_aws_action_free(gate_aws_action *a);

/* The members of an input that hold secrets (a password, a private key):
 * what policies, the audit and the logs see has them replaced by
 * "<redacted>" (a new object; input is borrowed). */
json_t *gate_aws_redacted_input(const json_t *input);

/* "ec2 terminate-instances" (the CLI's words) -> service "ec2" and
 * operation "TerminateInstances": 0, or -1 with err.  The CLI's service
 * names map to signing names (elbv2 -> elasticloadbalancing, s3api -> s3). */
int gate_aws_cli_name(const char *words, char **service, char **operation, char *err, size_t errlen);

/* A request (its signature verified by the caller) as an action: the
 * operation and input from the body (ec2 and query protocols: a POSTed
 * form, nothing in the query) or from the REST call (s3: the target as
 * sent, args its decoded query, the body).  0 and *a filled, or the HTTP
 * status of the refusal (400) with err naming what was wrong. */
int gate_aws_action_parse(gate_aws_action *a, const char *service, const char *method, const char *target,
                          const json_t *args, const json_t *headers, const char *body, size_t len, char *err,
                          size_t errlen);

/* A recorded call in the CLI's form, {"aws": "ec2 terminate-instances",
 * "input": {...}, "region"?}: 0 and *a filled; 1 when j is not in that form
 * (no "aws" key); -1 with err (an unknown operation, an input that does not
 * fit its shape). */
int gate_aws_action_from_json(const json_t *j, gate_aws_action *a, char *err, size_t errlen);

#endif
