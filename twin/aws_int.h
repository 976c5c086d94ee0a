/*
 * aws_int.h - what the twin's AWS modules share (not public).
 *
 *   aws.c        the AWS kinds, the operation table and its dispatch
 *                (twin_aws_apply / twin_aws_read), import of describe
 *                outputs and the AWSState document, export, the hooks the
 *                twin's core calls (notify, reconcile, settle, cost,
 *                impact), tag helpers
 *   aws_ec2.c    EC2: instances, security groups, VPCs, subnets, volumes,
 *                snapshots; internet exposure
 *   aws_asg.c    Auto Scaling groups and their controller (desired
 *                capacity kept, members replaced, registered in target
 *                groups)
 *   aws_elb.c    ELBv2 load balancers, target groups, target health
 *   aws_s3.c     S3 buckets (policy, ACL, public access block, tags)
 *   aws_iam.c    IAM users, roles, policies, access keys; the evaluation of
 *                a principal's effective permissions
 *   aws_rds.c    RDS DB instances and snapshots
 *
 * A resource object is written with twin__aws_put (a new version of its
 * "aws" document) and removed with twin__aws_del; both go through
 * twin__put / twin__del, so the change map, the diff, rollback and the
 * controllers see AWS resources exactly as they see Kubernetes objects.
 */
#ifndef TWIN_AWS_INT_H
#define TWIN_AWS_INT_H

#include <jansson.h>

#include "twin/aws.h"
#include "twin/twin_int.h"

/* One call being simulated or answered. */
typedef struct aws_ctx {
    twin *t;
    const char *service, *operation;
    const json_t *input;     /* never NULL: {} when the call had none */
    json_t *output;          /* the handler's output shape (new reference), on success */
    int code;                /* 0 on success; else the HTTP status of the AWS error */
    char error_code[96];     /* "InvalidInstanceID.NotFound" */
    char message[1024];
} aws_ctx;

/* A handler answers 0 (success with c->output set, or an AWS error set
 * with twin__aws_error) or -1 when it cannot simulate the call (c->message
 * says why: the gate fails closed).  A mutation's handler writes through
 * twin__aws_put/twin__aws_del only; an AWS error after a write is undone
 * by the dispatcher (nothing of a refused call stays). */
typedef int (*aws_handler)(aws_ctx *c);

typedef struct aws_op {
    const char *service;     /* SigV4 signing name */
    const char *operation;   /* botocore's name */
    int read;                /* 1: a read (twin_aws_read), 0: a mutation (twin_aws_apply) */
    aws_handler fn;
} aws_op;

/* Each module's operations, ended by an entry whose operation is NULL. */
extern const aws_op twin__aws_ec2_ops[], twin__aws_asg_ops[], twin__aws_elb_ops[], twin__aws_s3_ops[],
    twin__aws_iam_ops[], twin__aws_rds_ops[];

/* Sets an AWS error on c (returns 0, for `return twin__aws_error(...)`). */
int twin__aws_error(aws_ctx *c, int http_status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- the store ---- */
/* The resource's whole object (shared: read only), or NULL. */
json_t *twin__aws_get(twin *t, const char *kind, const char *id);
/* Its "aws" document (borrowed from the shared object: read only; NULL). */
const json_t *twin__aws_doc(const json_t *obj);
/* Every resource of a kind, sorted by id (new array of shared objects). */
json_t *twin__aws_list(twin *t, const char *kind);
/* Writes a resource: doc (borrowed) becomes its "aws" document. */
void twin__aws_put(twin *t, const char *kind, const char *id, const json_t *doc);
/* Removes a resource: 0, or -1 when it was not there. */
int twin__aws_del(twin *t, const char *kind, const char *id);

/* ---- small helpers every module uses ---- */
/* o[key] as a string (borrowed from o), or NULL; the call's input's. */
const char *twin__aws_str(const json_t *o, const char *key);
const char *twin__aws_input_str(const aws_ctx *c, const char *key);
/* Both strings there and equal. */
int twin__aws_is(const char *s, const char *v);
/* A modifiable copy of a resource's "aws" document (new reference; {} when
 * the resource has none), or NULL when there is no such resource. */
json_t *twin__aws_doc_copy(twin *t, const char *kind, const char *id);
/* Ends a mutation: writes doc (a resource's "aws" document) when write,
 * releases doc (taken), answers {} (returns 0). */
int twin__aws_done(aws_ctx *c, const char *kind, const char *id, json_t *doc, int write);
/* The first element of list whose string member key is value (borrowed;
 * its index in *idx when idx is not NULL), or NULL. */
json_t *twin__aws_find(const json_t *list, const char *key, const char *value, size_t *idx);
/* A list parameter: 1 for an array of strings, 0 when absent (NULL), -1
 * when it is something else. */
int twin__aws_string_list(const json_t *v);
/* Whether the array of strings list holds s. */
int twin__aws_in_list(const json_t *list, const char *s);
/* The "aws" documents of every resource of a kind, sorted by id (new
 * array): deep copies when copy, else the store's shared documents (read
 * only). */
json_t *twin__aws_docs(twin *t, const char *kind, int copy);
/* Imports the items of the array doc[key] (absent: none) with fn, one call
 * an item (item borrowed, id its id_key; fn answers 0, or -1 with err
 * set): the count, or -1 with err set.  expect NULL: "KEY: not an array",
 * "KEY[i]: no ID_KEY"; else "KEY: must be an array", "KEY[i]: an object
 * with EXPECT is expected". */
typedef int (*twin__aws_import_fn)(twin *t, const char *kind, const char *key, size_t i, const json_t *item,
                                   const char *id, char *err, size_t errlen);
int twin__aws_import_items(twin *t, const json_t *doc, const char *key, const char *kind, const char *id_key,
                           const char *expect, twin__aws_import_fn fn, char *err, size_t errlen);

/* A policy's Principal naming everyone: "*", {"AWS": "*"} or an AWS list
 * holding "*". */
int twin__aws_principal_everyone(const json_t *principal);

/* ---- tags: [{"Key": ..., "Value": ...}] under "Tags" (or TagList / TagSet) ---- */
const char *twin__aws_tag(const json_t *doc, const char *key);   /* NULL when absent */
/* doc[key] (Tags, TagList, AccessKeys...), made an empty array when it is
 * not one (borrowed from doc). */
json_t *twin__aws_array_of(json_t *doc, const char *key);
/* Sets the value of the first tag of that key, else appends {Key, Value}. */
void twin__aws_tag_set(json_t *tags, const char *key, const char *value);
/* The index of the last tag of that key, or -1. */
long twin__aws_tag_last(const json_t *tags, const char *key);
/* Removes the first tag of that key: 1, or 0 when there was none (key NULL: 0). */
int twin__aws_tag_remove(json_t *tags, const char *key);
/* The protection tags: airlock.dev/tier=critical, airlock.dev/restricted=true. */
int twin__aws_critical(const json_t *doc);
int twin__aws_restricted(const json_t *doc);
/* A resource's display name: its Name tag, else id (borrowed). */
const char *twin__aws_display(const json_t *doc, const char *id);
/* A new id of the form prefix-<17 hex> ("i-0123456789abcdef0"), from the
 * twin's deterministic random stream. */
char *twin__aws_new_id(twin *t, const char *prefix);
/* An ARN in the twin's account and region ("arn:aws:SERVICE:REGION:ACCOUNT:RES");
 * region NULL for global services (IAM, S3: "arn:aws:s3:::bucket"). */
char *twin__aws_arn(const twin *t, const char *service, int regional, const char *resource);

/* ---- hooks the twin's core calls ---- */
/* twin__notify, for a write of an AWS kind: what to reconcile. */
void twin__aws_notify(twin *t, const char *kind, const json_t *before, const json_t *after);
/* reconcile_key, for a key "Kind//name" of an AWS kind. */
void twin__aws_reconcile(twin *t, const char *kind, const char *name);
/* One settle tick (twin__run_controllers): instances pending -> running,
 * shutting-down -> terminated, stopping -> stopped; targets initial ->
 * healthy.  Returns how many resources changed (0: settled). */
int twin__aws_settle_tick(twin *t);
/* twin__object_cost of an AWS resource: its hourly price under the
 * pricing table's "aws" section (0 without one). */
double twin__aws_cost(const twin *t, const json_t *obj);
/* Adds the AWS fields of one moment (instant or settled) to m:
 *   instances_disrupted  [{id, name, group, from, to}]: running -> stopping,
 *                        stopped, shutting-down, terminated (or gone)
 *   target_groups_emptied [{name, arn, healthy_before, healthy_after,
 *                        deleted, critical}]
 *   asgs_degraded        [{name, healthy_before, healthy_after, desired, min,
 *                        critical}]: fewer InService running members than before */
void twin__aws_moment(twin *t, json_t *m);
/* Adds the AWS fields of the whole operation to impact (top level):
 *   instances_disrupted  the instant's count (as pods_disrupted)
 *   exposure             {added: [{from: "internet", to: GROUP, port, proto,
 *                        instance, group_ids, cidr}], removed: [...]}, where
 *                        GROUP is the ASG's name or the Name tag (or the id)
 *   buckets_public       {made_public: [{bucket, how, critical, restricted}],
 *                        made_private: [...]}; how = "policy" | "acl" |
 *                        "public-access-block"
 *   iam_grants           [{principal, type, actions, resources, admin, via,
 *                        trust_public, passrole_star, over_others
 *                        (not_actions, not_resources: from NotAction /
 *                        NotResource, then actions or resources hold "*")}]:
 *                        what a principal may newly do
 *   data_at_risk         [{type: volume|snapshot|bucket|db_instance|
 *                        db_snapshot, id, critical, final_snapshot (db:
 *                        true/false), objects (bucket)}]
 *   aws                  {running_instances_before, instances_before,
 *                        account, region}
 * Every module adds its part: twin__aws_<module>_impact below. */
void twin__aws_impact(twin *t, json_t *impact);
/* A commit: the committed instance counts follow the operation's changes. */
void twin__aws_commit(twin *t);
/* A sync's write (twin_aws_sync): the counts follow it. */
void twin__aws_count(twin *t, const char *kind, const json_t *before, const json_t *after);
/* twin__aws_impact has set "data_at_risk" to an array before the modules'
 * parts run: each appends its entries to it. */
void twin__aws_ec2_impact(twin *t, json_t *impact);
void twin__aws_s3_impact(twin *t, json_t *impact);
void twin__aws_iam_impact(twin *t, json_t *impact);
void twin__aws_rds_impact(twin *t, json_t *impact);

/* ---- import and export, per module ----
 * _import reads the keys of doc it knows (a describe output or the
 * AWSState document) and writes its resources (inside the import: no
 * change records): the count imported, or -1 with err naming the key and
 * the item.  _export adds the same keys to an AWSState document. */
int twin__aws_ec2_import(twin *t, const json_t *doc, char *err, size_t errlen);
int twin__aws_asg_import(twin *t, const json_t *doc, char *err, size_t errlen);
int twin__aws_elb_import(twin *t, const json_t *doc, char *err, size_t errlen);
int twin__aws_s3_import(twin *t, const json_t *doc, char *err, size_t errlen);
int twin__aws_iam_import(twin *t, const json_t *doc, char *err, size_t errlen);
int twin__aws_rds_import(twin *t, const json_t *doc, char *err, size_t errlen);
void twin__aws_ec2_export(twin *t, json_t *state);
void twin__aws_asg_export(twin *t, json_t *state);
void twin__aws_elb_export(twin *t, json_t *state);
void twin__aws_s3_export(twin *t, json_t *state);
void twin__aws_iam_export(twin *t, json_t *state);
void twin__aws_rds_export(twin *t, json_t *state);

/* ---- aws.c: the kinds, the core's hooks, the shared lookups ---- */
/* The AWS kind of that name (group aws.airlock.dev, cluster-scoped), or
 * NULL: what twin_kind_by_name answers for them (borrowed, static). */
const twin_kind *twin__aws_kind_by_name(const char *kind);
/* The AWS kinds as an SQL list, for queries that leave them out. */
#define TWIN_AWS_KINDS_SQL                                                                                         \
    "('EC2Instance','EC2SecurityGroup','EC2Vpc','EC2Subnet','EC2Volume','EC2Snapshot','AutoScalingGroup',"      \
    "'ELBv2LoadBalancer','ELBv2TargetGroup','S3Bucket','IAMUser','IAMRole','IAMPolicy','RDSDBInstance',"         \
    "'RDSDBSnapshot')"
/* Imports one AWS state document (twin_aws_is_state) inside the open
 * import: the account and region of an AWSState, then every module's keys.
 * -1 with err ("name: Key[i]: what is wrong") when anything is malformed. */
int twin__aws_import(twin *t, const json_t *doc, const char *name, char *err, size_t errlen);
/* The store's "ready" column of an EC2Instance: 1 while it is running. */
int twin__aws_ready(const json_t *obj);
/* The resource as it was when the open operation began (its change's
 * before, else the current object): new reference or NULL. */
json_t *twin__aws_before(twin *t, const char *kind, const char *id);
/* Resources of kind carrying the index label key=value (new array of shared
 * objects, sorted by id).  twin__aws_put derives these labels from the
 * "aws" document, so lookups by reference cost what they find:
 *   EC2Instance       sg.aws.airlock.dev/<GroupId>, aws.airlock.dev/subnet,
 *                     aws.airlock.dev/vpc, aws.airlock.dev/asg (the
 *                     aws:autoscaling:groupName tag), aws.airlock.dev/name
 *   EC2SecurityGroup  ref.aws.airlock.dev/<GroupId> (groups its rules
 *                     name), aws.airlock.dev/vpc
 *   EC2Subnet         aws.airlock.dev/vpc
 *   EC2Volume         attached.aws.airlock.dev/<InstanceId>
 *   ELBv2TargetGroup  target.aws.airlock.dev/<target Id> */
json_t *twin__aws_list_label(twin *t, const char *kind, const char *key, const char *value);
#define TWIN_AWS_LABEL_TRUE "true"

/* ---- each module's part of the core's hooks (aws.c dispatches) ---- */
void twin__aws_ec2_reconcile(twin *t, const char *instance_id);   /* its targets, its Auto Scaling group */
void twin__aws_asg_reconcile(twin *t, const char *asg_name);     /* desired capacity kept */
int twin__aws_ec2_settle_tick(twin *t);   /* instances' next state */
int twin__aws_elb_settle_tick(twin *t);   /* targets' next state */
void twin__aws_ec2_moment(twin *t, json_t *m);   /* instances_disrupted */
void twin__aws_asg_moment(twin *t, json_t *m);   /* asgs_degraded */
void twin__aws_elb_moment(twin *t, json_t *m);   /* target_groups_emptied */
/* EC2 instance states: the name of an instance document's State. */
const char *twin__aws_ec2_state(const json_t *instance_doc);
/* Sets an instance's state (Code and Name) in doc; "running" also keeps
 * the ASG member's lifecycle in step through the notify hook. */
void twin__aws_ec2_set_state(json_t *instance_doc, const char *state);
/* Terminates an instance (shutting-down at the instant, terminated once
 * settled): 0, or -1 when it is not there or terminated already. */
int twin__aws_ec2_terminate(twin *t, const char *instance_id);

/* ---- what modules ask of each other ---- */
/* aws_iam.c: the effective permissions of a principal ("IAMRole"/"IAMUser",
 * name) when: [{Effect, Action: [...], Resource: [...]}] (NotAction,
 * NotResource in their place when a statement has them; Condition kept:
 * a Deny with one does not count) from its attached
 * and inline policies (new array); and whether it may do action on resource
 * (IAM's evaluation: an explicit Deny wins, then any Allow; wildcards *
 * and ? in Action and Resource, actions compared without case). */
json_t *twin__aws_iam_statements(twin *t, const char *kind, const char *name);
int twin__aws_iam_allows(const json_t *statements, const char *action, const char *resource);
/* aws_elb.c: registers or deregisters an instance in a target group (state
 * "initial" at the instant, "healthy" once settled); the groups holding an
 * instance. */
void twin__aws_elb_register(twin *t, const char *tg_name, const char *instance_id, int port);
void twin__aws_elb_deregister(twin *t, const char *tg_name, const char *instance_id);
/* aws_elb.c: an instance's state changed (the instance controller): its
 * targets follow: "draining" when it is shutting down or gone (removed
 * once settled), "unused" while stopping or stopped, "initial" again when
 * it runs after that. */
void twin__aws_elb_instance_state(twin *t, const char *instance_id, const char *state);
/* aws_ec2.c: a running instance launched for an Auto Scaling group
 * (pending at the instant); returns its id (new string). */
char *twin__aws_ec2_launch(twin *t, const json_t *asg, const char *subnet_id);

#endif
