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

#endif
