/*
 * aws.h - the twin of an AWS account (one account, one region): the public
 * surface, beside the Kubernetes model of twin.h.
 *
 * AWS resources live in the same store as Kubernetes objects, so the diff,
 * the impact record, commit and rollback, mark and reset serve both.  Each
 * resource is one cluster-scoped object of an AWS kind (never served to
 * Kubernetes clients: discovery, twin_kind_at, twin_kind_by_resource and
 * twin_export do not see them):
 *
 *     { "apiVersion": "aws.airlock.dev/v1", "kind": "EC2Instance",
 *       "metadata": { "name": "i-0abc...", "uid": ..., "resourceVersion": ...,
 *                     "creationTimestamp": ... },
 *       "aws": { ...the resource as the service's Describe/Get call prints it
 *                (botocore's output shape, member names as in the model)... } }
 *
 * Kinds and their metadata.name:
 *   EC2Instance (InstanceId), EC2SecurityGroup (GroupId), EC2Vpc (VpcId),
 *   EC2Subnet (SubnetId), EC2Volume (VolumeId), EC2Snapshot (SnapshotId),
 *   AutoScalingGroup (AutoScalingGroupName), ELBv2LoadBalancer
 *   (LoadBalancerName), ELBv2TargetGroup (TargetGroupName; its "aws" also
 *   holds "Targets": [{Id, Port, State}], the target health), S3Bucket
 *   (Name; "aws" holds Policy (parsed JSON), Grants, PublicAccessBlock, Tags,
 *   ObjectCount), IAMUser (UserName), IAMRole (RoleName), IAMPolicy
 *   (PolicyName), RDSDBInstance (DBInstanceIdentifier), RDSDBSnapshot
 *   (DBSnapshotIdentifier).
 *
 * Operations are named as botocore names them (service = the SigV4 signing
 * name: ec2, autoscaling, elasticloadbalancing, s3, iam, rds (STS's
 * GetCallerIdentity is the gate's: it names the agent);
 * operation = "TerminateInstances"); their input and output are botocore's
 * JSON shapes (what `aws ... --cli-input-json` takes and the CLI prints).
 */
#ifndef TWIN_AWS_H
#define TWIN_AWS_H

#include <jansson.h>
#include <stddef.h>

#include "twin/twin.h"

#define TWIN_AWS_API_VERSION "aws.airlock.dev/v1"

typedef struct twin_aws_call {
    const char *service;     /* "ec2" */
    const char *operation;   /* "TerminateInstances" */
    const json_t *input;     /* botocore's input shape; NULL is {} */
} twin_aws_call;

/* What the twin knows of an operation: 0 unknown (the gate refuses it:
 * what the twin cannot simulate is never forwarded), 1 a read (Describe*,
 * List*, Get*: changes nothing), 2 a mutation. */
int twin_aws_op_kind(const char *service, const char *operation);

/*
 * Simulates one mutation, as twin_apply does for Kubernetes: on return 0
 * the twin is in an operation (commit or roll back) and res is filled:
 *   res->code    200 when AWS would succeed, else the HTTP status AWS
 *                answers (400, 403, 404, 409, 412)
 *   res->object  the output shape (success) or {"Code": "DependencyViolation",
 *                "Message": "..."} (an AWS error: then the diff is empty)
 *   res->diff, res->impact, res->events as twin_apply's (the impact's AWS
 *                fields: see twin_aws_impact_fields below)
 * -1 (no operation open) when the call is unusable: an unknown operation,
 * an input that is not an object (err says why).
 */
int twin_aws_apply(twin *t, const twin_aws_call *c, twin_result *res, char *err, size_t errlen);

/* Answers a read from the current (committed) state: 0 with *code 200 and
 * *out the output shape, or *code the error status and *out {"Code",
 * "Message"}; -1 with err when the call is unusable. */
int twin_aws_read(twin *t, const twin_aws_call *c, json_t **out, int *code, char *err, size_t errlen);

/* The account and region the twin models ("123456789012", "us-east-1"
 * unless a state says otherwise). Borrowed. */
const char *twin_aws_account(const twin *t);
const char *twin_aws_region(const twin *t);

/* Whether a document is AWS state: a describe output (recognised by its
 * top-level keys: Reservations, SecurityGroups, Vpcs, Subnets, Volumes,
 * Snapshots, AutoScalingGroups, LoadBalancers, TargetGroups, DBInstances,
 * DBSnapshots, UserDetailList/RoleDetailList/Policies, Buckets) or the
 * {"kind": "AWSState", ...} document. */
int twin_aws_is_state(const json_t *doc);

/* The twin's AWS state as one {"kind": "AWSState", ...} document (new
 * reference): every describe key, TargetHealth and Buckets; importing it
 * gives the same state back. */
json_t *twin_aws_export(twin *t);

/* Whether kind is one of the AWS kinds above; the kinds by index. */
int twin_aws_kind(const char *kind);
size_t twin_aws_kind_count(void);
const char *twin_aws_kind_at(size_t i);

/*
 * Follows production: doc (describe outputs or an AWSState document, as
 * twin_aws_export writes) is written over what the twin holds of the
 * resources it names, and the resources of `gone` ([{"kind", "id"}]:
 * described and not found) are removed; with replace (doc is the whole
 * account), every AWS resource doc does not name is removed too.  No
 * controller runs and nothing is recorded as an operation's change (as
 * twin_sync).  *changes (may be NULL) gets the resources whose "aws"
 * document changed: [{kind, name, before, after}] (before or after null
 * for one added or removed).  0, or -1 with err (malformed: nothing of it
 * is kept).  Costs what doc and gone hold, or the account with replace.
 */
int twin_aws_sync(twin *t, const json_t *doc, const json_t *gone, int replace, json_t **changes, char *err,
                  size_t errlen);

#endif
