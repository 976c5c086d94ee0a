/*
 * gate/upstream/aws_upstream.h - the production AWS account behind the gate
 * (libcurl): calls rebuilt from the judged action and signed with
 * production's own key (the agent's never leaves the gate; production's is
 * never returned or logged), and the account read whole, as the state the
 * twin starts from.
 */
#ifndef GATE_AWS_UPSTREAM_H
#define GATE_AWS_UPSTREAM_H

#include <jansson.h>
#include <stddef.h>

#include "gate/upstream/forward.h"

typedef struct gate_aws_upstream gate_aws_upstream;

/* url: "https://host:port" (every service at that endpoint, as the CLI's
 * --endpoint-url), or "aws" (each service at its public endpoint in
 * region).  Production's key is [profile] (NULL: "default") of the shared
 * credentials file cred_file.  ca_file (may be NULL: the system's) is the
 * only certificate authority trusted.  -1 with err on bad settings. */
int gate_aws_upstream_open(gate_aws_upstream **out, const char *url, const char *cred_file, const char *profile,
                           const char *ca_file, const char *region, char *err, size_t errlen);
void gate_aws_upstream_close(gate_aws_upstream *u);   /* NULL is a no-op */
/* Seconds one call may take (0: the default, 10). */
void gate_aws_upstream_set_timeout(gate_aws_upstream *u, double seconds);

/* One operation: the request built from input (gate/aws/protocol.h),
 * signed with production's key, sent.  0 with production's answer (status,
 * content type, body: free it), or -1 with err when production could not
 * be reached (ans->maybe_sent says whether the request may have gone out)
 * or the call cannot be built (an S3 object's body, which the gate does
 * not keep, is refused so). */
int gate_aws_upstream_call(gate_aws_upstream *u, const char *service, const char *operation, const json_t *input,
                           gate_upstream_answer *ans, char *err, size_t errlen);

/* A read whose output is wanted as JSON: 0 and *out (new reference), or -1
 * with err (unreachable, an AWS error: its code and message, an answer that
 * does not parse).  Pages (NextToken, Marker) are followed and their lists
 * joined, up to 1000 pages. */
int gate_aws_upstream_read(gate_aws_upstream *u, const char *service, const char *operation, const json_t *input,
                           json_t **out, char *err, size_t errlen);

/* The account as one {"kind": "AWSState"} document (twin/aws.h): every
 * describe the twin imports, and the target health and buckets' policies,
 * ACLs, public access blocks and tags.  NULL with err when a call fails. */
json_t *gate_aws_upstream_snapshot(gate_aws_upstream *u, char *err, size_t errlen);
/* A target group's targets as the AWSState document keeps them ([{Id,
 * Port, State}], new array), or NULL with err. */
json_t *gate_aws_upstream_target_health(gate_aws_upstream *u, const char *arn, char *err, size_t errlen);
/* The same targets from a DescribeTargetHealth output (new array). */
json_t *gate_aws_targets_of(const json_t *health);
/* A bucket as the AWSState document keeps it (ACL, policy, public access
 * block, tags, objects of the first page), or NULL when production does
 * not have it (or lets it not be read). */
json_t *gate_aws_upstream_bucket(gate_aws_upstream *u, const char *name);

#endif
