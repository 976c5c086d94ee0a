/*
 * aws_mirror.c - the twin's AWS account as a mirror of production's
 * (enforce mode, --aws-upstream).
 *
 * AWS has no watch: the twin follows production by describing it.
 *   - At start, the whole account (gate_aws_upstream_snapshot).
 *   - Before each mutation is judged, its reach: the resources the call
 *     names, and what their change reaches - an instance's Auto Scaling
 *     group and that group's members, its security groups and target
 *     groups with their health; a group's instances; a bucket's policy,
 *     ACL, block and tags; a DB instance; the IAM principals' details.  A
 *     constant number of calls whatever the account's size: the change's
 *     reach, never the account.
 *   - Every AWS_REFRESH_SECONDS, the whole account again, in the
 *     background (what no mutation reached: drift elsewhere).
 * What production changed behind the gate's back shows as a difference
 * between what the twin held and what production describes: drift,
 * logged and recorded as the cluster's is (mirror.c), unless a mutation
 * this gate forwarded explains it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate/base/clock.h"
#include "gate/base/log.h"
#include "gate/server/serve_int.h"
#include "twin/aws.h"
#include "twin/util.h"

/* ---- what a call reaches ---- */

typedef struct reach {
    json_t *instances, *groups, *asgs, *tgs, *buckets, *dbs, *vpcs, *subnets, *volumes, *snapshots;
    json_t *named_groups;   /* the groups the call itself names (their rules change: every member counts) */
    int iam;
} reach;

static void add(json_t *set, const char *id)
{
    if (!id || !*id)
        return;
    size_t i;
    json_t *v;
    json_array_foreach(set, i, v) if (!strcmp(json_string_value(v), id)) return;
    json_array_append_new(set, json_string(id));
}

static void add_all(json_t *set, const json_t *v)
{
    if (json_is_string(v)) {
        add(set, json_string_value(v));
        return;
    }
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) if (json_is_string(x)) add(set, json_string_value(x));
}

/* An id by its prefix (CreateTags' Resources). */
static void add_by_prefix(reach *r, const char *id)
{
    if (!id)
        return;
    if (!strncmp(id, "i-", 2))
        add(r->instances, id);
    else if (!strncmp(id, "sg-", 3))
        add(r->groups, id);
    else if (!strncmp(id, "vpc-", 4))
        add(r->vpcs, id);
    else if (!strncmp(id, "subnet-", 7))
        add(r->subnets, id);
    else if (!strncmp(id, "vol-", 4))
        add(r->volumes, id);
    else if (!strncmp(id, "snap-", 5))
        add(r->snapshots, id);
}

/* The names an input holds, by member (botocore's names). */
static void from_input(reach *r, const json_t *in)
{
    add_all(r->instances, json_object_get(in, "InstanceIds"));
    add_all(r->instances, json_object_get(in, "InstanceId"));
    add_all(r->groups, json_object_get(in, "GroupId"));
    add_all(r->groups, json_object_get(in, "GroupIds"));
    add_all(r->groups, json_object_get(in, "SecurityGroupIds"));
    add_all(r->groups, json_object_get(in, "Groups"));
    add_all(r->asgs, json_object_get(in, "AutoScalingGroupName"));
    add_all(r->asgs, json_object_get(in, "AutoScalingGroupNames"));
    add_all(r->tgs, json_object_get(in, "TargetGroupArn"));
    add_all(r->tgs, json_object_get(in, "TargetGroupArns"));
    add_all(r->buckets, json_object_get(in, "Bucket"));
    add_all(r->dbs, json_object_get(in, "DBInstanceIdentifier"));
    add_all(r->vpcs, json_object_get(in, "VpcId"));
    add_all(r->subnets, json_object_get(in, "SubnetId"));
    add_all(r->volumes, json_object_get(in, "VolumeId"));
    add_all(r->snapshots, json_object_get(in, "SnapshotId"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(in, "Resources"), i, v) add_by_prefix(r, json_string_value(v));
    json_array_foreach(json_object_get(in, "Targets"), i, v) add_all(r->instances, json_object_get(v, "Id"));
    json_array_foreach(json_object_get(in, "IpPermissions"), i, v) {
        size_t j;
        json_t *p;
        json_array_foreach(json_object_get(v, "UserIdGroupPairs"), j, p) add_all(r->groups, json_object_get(p, "GroupId"));
    }
    r->iam = json_object_get(in, "RoleName") || json_object_get(in, "UserName") || json_object_get(in, "PolicyArn");
    r->named_groups = json_deep_copy(r->groups);
}

/* What the twin knows the named resources reach (under the engine lock):
 * an instance's group, Auto Scaling group and target groups; a group's
 * members and target groups. */
static void from_twin(reach *r, twin *t)
{
    size_t i;
    json_t *v;
    json_t *ids = json_deep_copy(r->instances);
    json_array_foreach(ids, i, v) {
        json_t *o = twin_get(t, TWIN_AFTER, "EC2Instance", NULL, json_string_value(v));
        const json_t *doc = json_object_get(o, "aws");
        size_t j;
        json_t *x;
        json_array_foreach(json_object_get(doc, "SecurityGroups"), j, x) add_all(r->groups, json_object_get(x, "GroupId"));
        json_array_foreach(json_object_get(doc, "Tags"), j, x) {
            const char *k = json_string_value(json_object_get(x, "Key"));
            if (k && !strcmp(k, "aws:autoscaling:groupName"))
                add_all(r->asgs, json_object_get(x, "Value"));
        }
        json_decref(o);
    }
    json_decref(ids);
    json_array_foreach(r->asgs, i, v) {
        json_t *o = twin_get(t, TWIN_AFTER, "AutoScalingGroup", NULL, json_string_value(v));
        const json_t *doc = json_object_get(o, "aws");
        add_all(r->tgs, json_object_get(doc, "TargetGroupARNs"));
        size_t j;
        json_t *x;
        json_array_foreach(json_object_get(doc, "Instances"), j, x) add_all(r->instances, json_object_get(x, "InstanceId"));
        json_decref(o);
    }
    /* target groups holding an instance: the twin's index of targets (one
     * lookup per instance, not a scan of every group) */
    json_array_foreach(r->instances, i, v) {
        const char *id = json_string_value(v);
        if (!id || !*id || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != strlen(id))
            continue;   /* no instance id: nothing the index could hold (and no selector syntax) */
        char *sel = twin_xasprintf("target.aws.airlock.dev/%s=true", id);
        json_t *tgs = twin_list(t, TWIN_AFTER, "ELBv2TargetGroup", NULL, sel, NULL, NULL, 0);
        size_t j;
        json_t *tg;
        json_array_foreach(tgs, j, tg) add_all(r->tgs, json_object_get(json_object_get(tg, "aws"), "TargetGroupArn"));
        json_decref(tgs);
        free(sel);
    }
}

static void reach_free(reach *r)
{
    json_decref(r->instances);
    json_decref(r->groups);
    json_decref(r->asgs);
    json_decref(r->tgs);
    json_decref(r->buckets);
    json_decref(r->dbs);
    json_decref(r->vpcs);
    json_decref(r->subnets);
    json_decref(r->volumes);
    json_decref(r->snapshots);
    json_decref(r->named_groups);
}

/* ---- describing it ---- */

static json_t *filter(const char *name, const json_t *values)
{
    return json_pack("{s:[{s:s, s:O}]}", "Filters", "Name", name, "Values", values);
}

/* One describe of the reach: run on a thread of its own, beside the
 * others (each a round trip to production), then merged in order. */
typedef struct job {
    const char *service, *op, *listkey, *idkey, *kind;
    json_t *in;              /* owned */
    const json_t *asked;     /* the ids asked for (borrowed), or NULL */
    int health;              /* DescribeTargetHealth: in names one target group */
    json_t *out;             /* the answer (owned) */
    int rc;
    char err[512];
    gate_aws_upstream *up_;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    j->rc = gate_aws_upstream_read(j->up_, j->service, j->op, j->in, &j->out, j->err, sizeof j->err);
    return NULL;
}

/* Runs the jobs at once (a thread each; the upstream's pool keeps a
 * connection per handle), and waits for them all. */
static void run_jobs(job *jobs, size_t n)
{
    pthread_t th[32];
    int started[32] = {0};
    for (size_t i = 0; i < n && i < 32; i++)
        started[i] = n > 1 && pthread_create(&th[i], NULL, run_job, &jobs[i]) == 0;
    for (size_t i = 0; i < n && i < 32; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            run_job(&jobs[i]);   /* one job, or no thread to be had: here */
    }
}

/* A job's answer into doc; ids asked for and not answered go to gone as
 * kind (idkey names the id member of each answered item, inside listkey's
 * items, or inside Reservations[].Instances[] for instances). */
static void merge(job *j, json_t *doc, json_t *gone)
{
    if (j->health) {
        json_t *health = json_object_get(doc, "TargetHealth");
        if (!health)
            json_object_set_new(doc, "TargetHealth", health = json_object());
        json_object_set_new(health, json_string_value(json_object_get(j->in, "TargetGroupArn")),
                            gate_aws_targets_of(j->out));
        return;
    }
    if (!j->listkey) {   /* the whole answer (IAM's details) */
        json_object_update_missing(doc, j->out);
        return;
    }
    json_t *items = json_object_get(j->out, j->listkey);
    json_t *have = json_object_get(doc, j->listkey);
    if (json_is_array(have))
        json_array_extend(have, items);
    else if (items)
        json_object_set(doc, j->listkey, items);
    size_t i, k;
    json_t *a, *it;
    json_array_foreach(j->asked, i, a) {
        int found = 0;
        json_array_foreach(items, k, it) {
            if (!strcmp(j->listkey, "Reservations")) {
                size_t m;
                json_t *inst;
                json_array_foreach(json_object_get(it, "Instances"), m, inst) found |=
                    json_equal(json_object_get(inst, j->idkey), a);
            } else {
                found |= json_equal(json_object_get(it, j->idkey), a);
            }
        }
        if (!found && j->kind)
            json_array_append_new(gone, json_pack("{s:s, s:O}", "kind", j->kind, "id", a));
    }
}

/* Runs jobs [0, n), merges them in order; 0, or -1 with the first error. */
static int run_merge(job *jobs, size_t n, json_t *doc, json_t *gone, char *err, size_t errlen)
{
    run_jobs(jobs, n);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!rc && jobs[i].rc < 0) {
            snprintf(err, errlen, "%s", jobs[i].err);
            rc = -1;
        }
        if (!rc)
            merge(&jobs[i], doc, gone);
        json_decref(jobs[i].in);
        json_decref(jobs[i].out);
    }
    return rc;
}

enum { MAX_JOBS = 32 };

static void add_job(job *jobs, size_t *n, gate_aws_upstream *up, const char *service, const char *op, json_t *in,
                    const char *listkey, const char *idkey, const char *kind, const json_t *asked)
{
    if (*n >= MAX_JOBS) {   /* never with the reaches above; bounded all the same */
        json_decref(in);
        return;
    }
    jobs[(*n)++] = (job){.service = service, .op = op, .in = in, .listkey = listkey, .idkey = idkey,
                         .kind = kind, .asked = asked, .up_ = up};
}

int gate_aws_reach(server *sv, const gate_aws_action *a, json_t **doc_out, json_t **gone_out, char *err,
                   size_t errlen)
{
    reach r = {json_array(), json_array(), json_array(), json_array(), json_array(), json_array(),
               json_array(), json_array(), json_array(), json_array(), NULL, 0};
    from_input(&r, a->input);
    pthread_rwlock_rdlock(&sv->lock);
    pthread_mutex_lock(&sv->reads);
    from_twin(&r, sv->engine.twin);
    pthread_mutex_unlock(&sv->reads);
    pthread_rwlock_unlock(&sv->lock);
    gate_aws_upstream *up = sv->aws_up;
    json_t *doc = json_pack("{s:s}", "kind", "AWSState"), *gone = json_array();
    job jobs[MAX_JOBS];
    size_t n = 0;
    int rc = 0;
    /* first the instances the call names and the groups the twin knows of
     * (at once), then any group production names that the twin did not:
     * their members and target groups now, as production says */
    json_t *named = json_deep_copy(r.instances), *asked_asgs = json_deep_copy(r.asgs);
    if (json_array_size(named))
        add_job(jobs, &n, up, "ec2", "DescribeInstances", filter("instance-id", named), "Reservations", "InstanceId",
                "EC2Instance", named);
    if (json_array_size(asked_asgs))
        add_job(jobs, &n, up, "autoscaling", "DescribeAutoScalingGroups",
                json_pack("{s:O}", "AutoScalingGroupNames", asked_asgs), "AutoScalingGroups", "AutoScalingGroupName",
                "AutoScalingGroup", asked_asgs);
    if (n)
        rc = run_merge(jobs, n, doc, gone, err, errlen);
    n = 0;
    size_t i, j;
    json_t *g, *m, *x;
    json_t *more = json_array();
    json_array_foreach(json_object_get(doc, "Reservations"), i, g) json_array_foreach(json_object_get(g, "Instances"), j, m) {
        size_t k;
        json_array_foreach(json_object_get(m, "SecurityGroups"), k, x) add_all(r.groups, json_object_get(x, "GroupId"));
        json_array_foreach(json_object_get(m, "Tags"), k, x) {
            const char *key = json_string_value(json_object_get(x, "Key"));
            const char *v = json_string_value(json_object_get(x, "Value"));
            int known = 0;
            size_t q;
            json_t *have;
            json_array_foreach(asked_asgs, q, have) known |= v && !strcmp(json_string_value(have), v);
            if (key && !strcmp(key, "aws:autoscaling:groupName") && v && !known)
                add(more, v);
        }
    }
    if (!rc && json_array_size(more)) {
        add_job(jobs, &n, up, "autoscaling", "DescribeAutoScalingGroups",
                json_pack("{s:O}", "AutoScalingGroupNames", more), "AutoScalingGroups", "AutoScalingGroupName",
                "AutoScalingGroup", more);
        rc = run_merge(jobs, n, doc, gone, err, errlen);
        n = 0;
    }
    json_array_foreach(json_object_get(doc, "AutoScalingGroups"), i, g) {
        json_array_foreach(json_object_get(g, "Instances"), j, m) add_all(r.instances, json_object_get(m, "InstanceId"));
        add_all(r.tgs, json_object_get(g, "TargetGroupARNs"));
    }
    /* the members not described yet */
    json_t *rest = json_array();
    json_array_foreach(r.instances, i, x) {
        int done = 0;
        json_t *y;
        json_array_foreach(named, j, y) done |= json_equal(x, y);
        if (!done)
            json_array_append(rest, x);
    }
    /* then everything else at once */
    if (json_array_size(r.groups))
        add_job(jobs, &n, up, "ec2", "DescribeSecurityGroups", filter("group-id", r.groups), "SecurityGroups",
                "GroupId", "EC2SecurityGroup", r.groups);
    if (json_array_size(r.named_groups))   /* the instances a changed group's rules reach */
        add_job(jobs, &n, up, "ec2", "DescribeInstances", filter("instance.group-id", r.named_groups),
                "Reservations", "InstanceId", NULL, NULL);
    if (json_array_size(rest))
        add_job(jobs, &n, up, "ec2", "DescribeInstances", filter("instance-id", rest), "Reservations", "InstanceId",
                "EC2Instance", rest);
    if (json_array_size(r.vpcs))
        add_job(jobs, &n, up, "ec2", "DescribeVpcs", filter("vpc-id", r.vpcs), "Vpcs", "VpcId", "EC2Vpc", r.vpcs);
    if (json_array_size(r.subnets) || json_array_size(r.vpcs))
        add_job(jobs, &n, up, "ec2", "DescribeSubnets",
                json_array_size(r.subnets) ? filter("subnet-id", r.subnets) : filter("vpc-id", r.vpcs), "Subnets",
                "SubnetId", json_array_size(r.subnets) ? "EC2Subnet" : NULL, r.subnets);
    if (json_array_size(r.volumes))
        add_job(jobs, &n, up, "ec2", "DescribeVolumes", filter("volume-id", r.volumes), "Volumes", "VolumeId",
                "EC2Volume", r.volumes);
    if (json_array_size(r.snapshots))
        add_job(jobs, &n, up, "ec2", "DescribeSnapshots", filter("snapshot-id", r.snapshots), "Snapshots",
                "SnapshotId", "EC2Snapshot", r.snapshots);
    if (json_array_size(r.tgs)) {
        add_job(jobs, &n, up, "elasticloadbalancing", "DescribeTargetGroups",
                json_pack("{s:O}", "TargetGroupArns", r.tgs), "TargetGroups", "TargetGroupArn", NULL, NULL);
        json_t *arn;
        json_array_foreach(r.tgs, i, arn) {
            add_job(jobs, &n, up, "elasticloadbalancing", "DescribeTargetHealth",
                    json_pack("{s:O}", "TargetGroupArn", arn), NULL, NULL, NULL, NULL);
            if (n)
                jobs[n - 1].health = 1;
        }
    }
    if (json_array_size(r.dbs))
        add_job(jobs, &n, up, "rds", "DescribeDBInstances",
                json_pack("{s:[{s:s, s:O}]}", "Filters", "Name", "db-instance-id", "Values", r.dbs), "DBInstances",
                "DBInstanceIdentifier", "RDSDBInstance", r.dbs);
    if (r.iam)   /* IAM: the principals' details in one call (IAM is small) */
        add_job(jobs, &n, up, "iam", "GetAccountAuthorizationDetails", json_object(), NULL, NULL, NULL, NULL);
    if (!rc && n)
        rc = run_merge(jobs, n, doc, gone, err, errlen);
    else
        for (i = 0; i < n; i++)
            json_decref(jobs[i].in);
    if (!rc && json_array_size(r.buckets)) {
        json_t *bs = json_array(), *name;
        json_array_foreach(r.buckets, i, name) {
            json_t *b = gate_aws_upstream_bucket(up, json_string_value(name));
            if (b)
                json_array_append_new(bs, b);
            else
                json_array_append_new(gone, json_pack("{s:s, s:O}", "kind", "S3Bucket", "id", name));
        }
        json_object_set_new(doc, "Buckets", bs);
    }
    reach_free(&r);
    json_decref(named);
    json_decref(asked_asgs);
    json_decref(more);
    json_decref(rest);
    if (rc) {
        json_decref(doc);
        json_decref(gone);
        return -1;
    }
    *doc_out = doc;
    *gone_out = gone;
    return 0;
}

/* ---- following it ---- */

/* What a forwarded mutation changed is production's own doing: the
 * resources of its diff (and the members an Auto Scaling group launched
 * for it, which the simulation named otherwise) are expected. */
void gate_aws_expect(server *sv, const gate_decision *d)
{
    size_t i;
    json_t *c;
    json_array_foreach(d->diff, i, c) {
        const char *kind = json_string_value(json_object_get(c, "kind"));
        const char *name = json_string_value(json_object_get(c, "name"));
        gate_drift_expect(sv->drift, kind, NULL, name, gate_now());
        if (kind && !strcmp(kind, "AutoScalingGroup") && name) {
            pthread_mutex_lock(&sv->aws_lock);
            json_object_set_new(sv->aws_scaled, name, json_real(gate_now()));
            pthread_mutex_unlock(&sv->aws_lock);
        }
    }
}

/* An instance an Auto Scaling group this gate changed launched or ended
 * in the drift window: explained. */
static int scaled_member(server *sv, const json_t *obj)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(json_object_get(obj, "aws"), "Tags"), i, t) {
        const char *k = json_string_value(json_object_get(t, "Key"));
        const char *v = json_string_value(json_object_get(t, "Value"));
        if (!k || strcmp(k, "aws:autoscaling:groupName") || !v)
            continue;
        pthread_mutex_lock(&sv->aws_lock);
        double at = json_number_value(json_object_get(sv->aws_scaled, v));
        pthread_mutex_unlock(&sv->aws_lock);
        return at > 0 && gate_now() - at < 60;
    }
    return 0;
}

int gate_aws_follow(server *sv, const json_t *doc, const json_t *gone, int replace, char *err, size_t errlen)
{
    json_t *changes = NULL;
    if (twin_aws_sync(sv->engine.twin, doc, gone, replace, &changes, err, errlen) < 0)
        return -1;
    size_t i;
    json_t *c;
    json_array_foreach(changes, i, c) {
        const json_t *before = json_object_get(c, "before"), *after = json_object_get(c, "after");
        if (json_is_null(before))
            before = NULL;
        if (json_is_null(after))
            after = NULL;
        if (!strcmp(json_string_value(json_object_get(c, "kind")), "EC2Instance") &&
            scaled_member(sv, after ? after : before))
            continue;
        gate_mirror_observe(sv, !before ? "ADDED" : !after ? "DELETED" : "MODIFIED", before, after);
    }
    json_decref(changes);
    return 0;
}

/* The background refresh: the whole account every AWS_REFRESH_SECONDS
 * (described without the engine lock; applied under it). */
static void *refresher(void *arg)
{
    server *sv = arg;
    for (;;) {
        for (int i = 0; i < AWS_REFRESH_SECONDS * 10; i++) {
            if (sv->stopping)
                return NULL;
            usleep(100 * 1000);
        }
        char err[512];
        double t0 = gate_mono();
        json_t *doc = gate_aws_upstream_snapshot(sv->aws_up, err, sizeof err);
        if (!doc) {
            gate_log("aws: production's account could not be described (%s): the next refresh tries again", err);
            continue;
        }
        pthread_mutex_lock(&sv->write);   /* not while a mutation is between judged and forwarded */
        pthread_rwlock_wrlock(&sv->lock);
        int rc = gate_aws_follow(sv, doc, NULL, 1, err, sizeof err);
        pthread_rwlock_unlock(&sv->lock);
        pthread_mutex_unlock(&sv->write);
        json_decref(doc);
        if (rc < 0)
            gate_log("aws: production's account could not be followed: %s", err);
        else if (gate_mono() - t0 > AWS_REFRESH_SECONDS / 2.0)
            gate_log("aws: describing production's account took %.1f s", gate_mono() - t0);
    }
    return NULL;
}

int gate_aws_refresh_start(server *sv)
{
    pthread_t th;
    if (pthread_create(&th, NULL, refresher, sv) != 0)
        return -1;
    sv->aws_refresher = th;
    sv->has_aws_refresher = 1;
    return 0;
}

void gate_aws_refresh_stop(server *sv)
{
    if (sv->has_aws_refresher) {
        pthread_join(sv->aws_refresher, NULL);
        sv->has_aws_refresher = 0;
    }
}
