/*
 * aws.c - the twin of an AWS account: the AWS kinds, the operation tables
 * and their dispatch (twin_aws_apply, twin_aws_read), import of describe
 * outputs and of the AWSState document, export, the hooks the twin's core
 * calls (notify, reconcile, settle, cost, impact), and the helpers every
 * AWS module shares (the store, tags, ids, ARNs).
 *
 * A resource is one cluster-scoped object {apiVersion, kind, metadata,
 * aws}; metadata.labels is an index the twin derives from "aws" on every
 * write (twin__aws_list_label), never read as the resource's own.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"
#include "twin_int.h"

#define GROUP "aws.airlock.dev"
#define DEFAULT_ACCOUNT "123456789012"
#define DEFAULT_REGION "us-east-1"

/* ---- kinds ---- */

#define AWS_KIND(k, plural, single) {k, GROUP, "v1", plural, single, "", 0, 0, 0, 0}
static const twin_kind AWS_KINDS[] = {
    AWS_KIND("EC2Instance", "ec2instances", "ec2instance"),
    AWS_KIND("EC2SecurityGroup", "ec2securitygroups", "ec2securitygroup"),
    AWS_KIND("EC2Vpc", "ec2vpcs", "ec2vpc"),
    AWS_KIND("EC2Subnet", "ec2subnets", "ec2subnet"),
    AWS_KIND("EC2Volume", "ec2volumes", "ec2volume"),
    AWS_KIND("EC2Snapshot", "ec2snapshots", "ec2snapshot"),
    AWS_KIND("AutoScalingGroup", "autoscalinggroups", "autoscalinggroup"),
    AWS_KIND("ELBv2LoadBalancer", "elbv2loadbalancers", "elbv2loadbalancer"),
    AWS_KIND("ELBv2TargetGroup", "elbv2targetgroups", "elbv2targetgroup"),
    AWS_KIND("S3Bucket", "s3buckets", "s3bucket"),
    AWS_KIND("IAMUser", "iamusers", "iamuser"),
    AWS_KIND("IAMRole", "iamroles", "iamrole"),
    AWS_KIND("IAMPolicy", "iampolicies", "iampolicy"),
    AWS_KIND("RDSDBInstance", "rdsdbinstances", "rdsdbinstance"),
    AWS_KIND("RDSDBSnapshot", "rdsdbsnapshots", "rdsdbsnapshot"),
};

const twin_kind *twin__aws_kind_by_name(const char *kind)
{
    if (!kind)
        return NULL;
    for (size_t i = 0; i < sizeof AWS_KINDS / sizeof AWS_KINDS[0]; i++)
        if (!strcmp(AWS_KINDS[i].kind, kind))
            return &AWS_KINDS[i];
    return NULL;
}

int twin_aws_kind(const char *kind) { return twin__aws_kind_by_name(kind) != NULL; }

size_t twin_aws_kind_count(void) { return sizeof AWS_KINDS / sizeof AWS_KINDS[0]; }

const char *twin_aws_kind_at(size_t i) { return i < twin_aws_kind_count() ? AWS_KINDS[i].kind : NULL; }

const char *twin_aws_account(const twin *t) { return t->aws.account[0] ? t->aws.account : DEFAULT_ACCOUNT; }

const char *twin_aws_region(const twin *t) { return t->aws.region[0] ? t->aws.region : DEFAULT_REGION; }

/* ---- the operation tables ---- */

static const aws_op *const TABLES[] = {twin__aws_ec2_ops, twin__aws_asg_ops, twin__aws_elb_ops,
                                       twin__aws_s3_ops,  twin__aws_iam_ops, twin__aws_rds_ops};

static const aws_op *find_op(const char *service, const char *operation)
{
    if (!service || !operation)
        return NULL;
    for (size_t i = 0; i < sizeof TABLES / sizeof TABLES[0]; i++)
        for (const aws_op *o = TABLES[i]; o->operation; o++)
            if (!strcmp(o->service, service) && !strcmp(o->operation, operation))
                return o;
    return NULL;
}

int twin_aws_op_kind(const char *service, const char *operation)
{
    const aws_op *o = find_op(service, operation);
    return !o ? 0 : o->read ? 1 : 2;
}

int twin__aws_error(aws_ctx *c, int http_status, const char *code, const char *fmt, ...)
{
    c->code = http_status;
    snprintf(c->error_code, sizeof c->error_code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof c->message, fmt, ap);
    va_end(ap);
    json_decref(c->output);
    c->output = NULL;
    return 0;
}

/* Checks the call and finds its handler: the op, or NULL with err. */
static const aws_op *usable(const twin_aws_call *call, int read, char *err, size_t errlen)
{
    const aws_op *o = find_op(call->service, call->operation);
    if (!o) {
        snprintf(err, errlen, "the twin cannot simulate %s:%s", call->service ? call->service : "(none)",
                 call->operation ? call->operation : "(none)");
        return NULL;
    }
    if (o->read != read) {
        snprintf(err, errlen, "%s:%s is a %s, not a %s", call->service, call->operation,
                 o->read ? "read" : "mutation", read ? "read" : "mutation");
        return NULL;
    }
    if (call->input && !json_is_object(call->input)) {
        snprintf(err, errlen, "%s:%s: the input must be a JSON object", call->service, call->operation);
        return NULL;
    }
    return o;
}

static json_t *error_doc(const aws_ctx *c)
{
    return json_pack("{s:s, s:s}", "Code", c->error_code, "Message", c->message);
}

/* The impact's AWS fields, present (empty) for every AWS call, so that a
 * policy reads them without asking whether they are there. */
static void impact_defaults(json_t *impact, const twin *t)
{
    static const char *const arrays[] = {"instances_disrupted", "target_groups_emptied", "asgs_degraded"};
    const char *moments[] = {"instant", "settled"};
    for (int m = 0; m < 2; m++) {
        json_t *mo = json_object_get(impact, moments[m]);
        for (size_t i = 0; mo && i < sizeof arrays / sizeof arrays[0]; i++)
            if (!json_object_get(mo, arrays[i]))
                json_object_set_new(mo, arrays[i], json_array());
    }
    if (!json_is_integer(json_object_get(impact, "instances_disrupted")))
        json_object_set_new(impact, "instances_disrupted", json_integer(0));
    if (!json_object_get(impact, "exposure"))
        json_object_set_new(impact, "exposure", json_pack("{s:[], s:[]}", "added", "removed"));
    if (!json_object_get(impact, "buckets_public"))
        json_object_set_new(impact, "buckets_public", json_pack("{s:[], s:[]}", "made_public", "made_private"));
    if (!json_object_get(impact, "iam_grants"))
        json_object_set_new(impact, "iam_grants", json_array());
    if (!json_object_get(impact, "data_at_risk"))
        json_object_set_new(impact, "data_at_risk", json_array());
    if (!json_object_get(impact, "aws"))
        json_object_set_new(impact, "aws", json_pack("{s:i, s:i, s:s, s:s}", "running_instances_before", 0,
                                                     "instances_before", 0, "account", twin_aws_account(t),
                                                     "region", twin_aws_region(t)));
}

int twin_aws_apply(twin *t, const twin_aws_call *call, twin_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (t->in_op) {
        snprintf(err, errlen, "the twin is already in an operation: commit or roll back first");
        return -1;
    }
    const aws_op *o = usable(call, 0, err, errlen);
    if (!o)
        return -1;
    json_t *empty = json_object();
    aws_ctx c = {.t = t, .service = call->service, .operation = call->operation,
                 .input = call->input ? call->input : empty};
    twin__op_begin(t);
    t->aws.call = 1;
    int rc = o->fn(&c);
    if (rc < 0) {
        snprintf(err, errlen, "%s:%s: %s", call->service, call->operation,
                 c.message[0] ? c.message : "cannot be simulated");
        json_decref(c.output);
    } else if (c.code) {
        res->code = c.code;
        res->object = error_doc(&c);
    } else {
        res->code = 200;
        res->object = c.output ? c.output : json_object();
    }
    rc = twin__op_finish(t, rc, res, err, errlen);
    t->aws.call = 0;
    if (rc == 0)
        impact_defaults(res->impact, t);
    json_decref(empty);
    return rc;
}

int twin_aws_read(twin *t, const twin_aws_call *call, json_t **out, int *code, char *err, size_t errlen)
{
    const aws_op *o = usable(call, 1, err, errlen);
    if (!o)
        return -1;
    json_t *empty = json_object();
    aws_ctx c = {.t = t, .service = call->service, .operation = call->operation,
                 .input = call->input ? call->input : empty};
    int rc = o->fn(&c);
    json_decref(empty);
    if (rc < 0) {
        snprintf(err, errlen, "%s:%s: %s", call->service, call->operation,
                 c.message[0] ? c.message : "cannot be answered");
        json_decref(c.output);
        return -1;
    }
    if (c.code) {
        *code = c.code;
        *out = error_doc(&c);
    } else {
        *code = 200;
        *out = c.output ? c.output : json_object();
    }
    return 0;
}

/* ---- the store ---- */

json_t *twin__aws_get(twin *t, const char *kind, const char *id)
{
    return id && *id ? twin__get(t, kind, "", id) : NULL;
}

const json_t *twin__aws_doc(const json_t *obj) { return json_object_get(obj, "aws"); }

json_t *twin__aws_list(twin *t, const char *kind) { return twin__list(t, kind, ""); }

json_t *twin__aws_list_label(twin *t, const char *kind, const char *key, const char *value)
{
    return twin__list_label(t, kind, "", key, value);
}

json_t *twin__aws_before(twin *t, const char *kind, const char *id)
{
    twin_change *c = t->in_op ? twin__change(t, kind, "", id) : NULL;
    if (c)
        return c->before ? json_incref(c->before) : NULL;
    return twin__aws_get(t, kind, id);
}

static void label(json_t *labels, const char *prefix, const char *key, const char *value)
{
    if (!key || !*key || !value)
        return;
    char *k = twin_xasprintf("%s%s", prefix, key);
    json_object_set_new(labels, k, json_string(value));
    free(k);
}

/* The index labels of a resource (aws_int.h, twin__aws_list_label). */
static json_t *labels_of(const char *kind, const json_t *doc)
{
    json_t *l = json_object();
    size_t i, j;
    json_t *v, *w;
    if (!strcmp(kind, "EC2Instance")) {
        json_array_foreach(json_object_get(doc, "SecurityGroups"), i, v)
            label(l, "sg.aws.airlock.dev/", json_string_value(json_object_get(v, "GroupId")), TWIN_AWS_LABEL_TRUE);
        label(l, "aws.airlock.dev/", "subnet", json_string_value(json_object_get(doc, "SubnetId")));
        label(l, "aws.airlock.dev/", "vpc", json_string_value(json_object_get(doc, "VpcId")));
        label(l, "aws.airlock.dev/", "asg", twin__aws_tag(doc, "aws:autoscaling:groupName"));
        label(l, "aws.airlock.dev/", "name", twin__aws_tag(doc, "Name"));
    } else if (!strcmp(kind, "EC2SecurityGroup")) {
        const char *lists[] = {"IpPermissions", "IpPermissionsEgress"};
        for (int k = 0; k < 2; k++)
            json_array_foreach(json_object_get(doc, lists[k]), i, v)
                json_array_foreach(json_object_get(v, "UserIdGroupPairs"), j, w)
                    label(l, "ref.aws.airlock.dev/", json_string_value(json_object_get(w, "GroupId")),
                          TWIN_AWS_LABEL_TRUE);
        label(l, "aws.airlock.dev/", "vpc", json_string_value(json_object_get(doc, "VpcId")));
    } else if (!strcmp(kind, "EC2Subnet")) {
        label(l, "aws.airlock.dev/", "vpc", json_string_value(json_object_get(doc, "VpcId")));
    } else if (!strcmp(kind, "EC2Volume")) {
        json_array_foreach(json_object_get(doc, "Attachments"), i, v)
            label(l, "attached.aws.airlock.dev/", json_string_value(json_object_get(v, "InstanceId")),
                  TWIN_AWS_LABEL_TRUE);
    } else if (!strcmp(kind, "ELBv2TargetGroup")) {
        json_array_foreach(json_object_get(doc, "Targets"), i, v)
            label(l, "target.aws.airlock.dev/", json_string_value(json_object_get(v, "Id")), TWIN_AWS_LABEL_TRUE);
    }
    return l;
}

static json_t absent_marker;
json_t *const twin_aws_absent = &absent_marker;

/* A sync's log (twin_aws_sync): what the resource was before the sync's
 * first write of it.  cur borrowed. */
static void sync_log(twin *t, const char *kind, const char *id, json_t *cur)
{
    if (!t->aws_sync_log)
        return;
    char *key = twin__key(kind, "", id);
    if (!twin_map_has(t->aws_sync_log, key))
        twin_map_put(t->aws_sync_log, key, cur ? json_incref(cur) : twin_aws_absent);
    free(key);
}

void twin__aws_put(twin *t, const char *kind, const char *id, const json_t *doc)
{
    json_t *cur = twin__aws_get(t, kind, id);
    sync_log(t, kind, id, cur);
    json_t *meta;
    if (cur) {
        meta = json_deep_copy(json_object_get(cur, "metadata"));
        json_decref(cur);
    } else {
        /* an imported resource's uid is made from its name, not from the
         * twin's random stream: the names an import generates for the
         * cluster's pods stay what they were with or without an account */
        char *seed = twin_xasprintf("aws/%s/%s", kind, id);
        char *uid = t->importing ? twin__uuid_of(seed) : twin__uuid(t);
        free(seed);
        char *ts = twin__timestamp(t);
        meta = json_pack("{s:s, s:s, s:s}", "name", id, "uid", uid, "creationTimestamp", ts);
        free(uid);
        free(ts);
    }
    json_t *labels = labels_of(kind, doc);
    if (json_object_size(labels))
        json_object_set_new(meta, "labels", labels);
    else {
        json_object_del(meta, "labels");
        json_decref(labels);
    }
    json_t *obj = json_pack("{s:s, s:s, s:o, s:O}", "apiVersion", TWIN_AWS_API_VERSION, "kind", kind, "metadata",
                            meta, "aws", doc);
    twin__put_shared(t, obj);
    json_decref(obj);
    /* an import's write leaves the document cache as it was: what an
     * importer read of the resource before would be read again */
    if (t->importing)
        twin__docs_forget(t, kind, "", id);
}

int twin__aws_del(twin *t, const char *kind, const char *id)
{
    if (t->aws_sync_log) {
        json_t *cur = twin__aws_get(t, kind, id);
        sync_log(t, kind, id, cur);
        json_decref(cur);
    }
    return twin__del(t, kind, "", id);
}

int twin__aws_ready(const json_t *obj)
{
    const char *s = twin__aws_ec2_state(twin__aws_doc(obj));
    return s && !strcmp(s, "running");
}

/* ---- small helpers the modules share ---- */

const char *twin__aws_str(const json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

const char *twin__aws_input_str(const aws_ctx *c, const char *key) { return twin__aws_str(c->input, key); }

int twin__aws_is(const char *s, const char *v) { return s && v && !strcmp(s, v); }

json_t *twin__aws_doc_copy(twin *t, const char *kind, const char *id)
{
    json_t *obj = twin__aws_get(t, kind, id);
    if (!obj)
        return NULL;
    json_t *doc = json_deep_copy(twin__aws_doc(obj));
    json_decref(obj);
    return doc ? doc : json_object();
}

int twin__aws_done(aws_ctx *c, const char *kind, const char *id, json_t *doc, int write)
{
    if (write)
        twin__aws_put(c->t, kind, id, doc);
    json_decref(doc);
    c->output = json_object();
    return 0;
}

json_t *twin__aws_find(const json_t *list, const char *key, const char *value, size_t *idx)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        if (twin__aws_is(twin__aws_str(e, key), value)) {
            if (idx)
                *idx = i;
            return e;
        }
    }
    return NULL;
}

int twin__aws_string_list(const json_t *v)
{
    if (!v)
        return 0;
    if (!json_is_array(v))
        return -1;
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) if (!json_is_string(s)) return -1;
    return 1;
}

int twin__aws_in_list(const json_t *list, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (twin__aws_is(json_string_value(v), s)) return 1;
    return 0;
}

json_t *twin__aws_docs(twin *t, const char *kind, int copy)
{
    json_t *all = twin__aws_list(t, kind), *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o) {
        if (copy)
            json_array_append_new(out, json_deep_copy(twin__aws_doc(o)));
        else
            json_array_append(out, (json_t *)twin__aws_doc(o));
    }
    json_decref(all);
    return out;
}

int twin__aws_import_items(twin *t, const json_t *doc, const char *key, const char *kind, const char *id_key,
                           const char *expect, twin__aws_import_fn fn, char *err, size_t errlen)
{
    json_t *items = json_object_get(doc, key);
    if (!items)
        return 0;
    if (!json_is_array(items)) {
        snprintf(err, errlen, expect ? "%s: must be an array" : "%s: not an array", key);
        return -1;
    }
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        const char *id = twin__aws_str(item, id_key);
        if (!json_is_object(item) || !id || !*id) {
            if (expect)
                snprintf(err, errlen, "%s[%zu]: an object with %s is expected", key, i, expect);
            else
                snprintf(err, errlen, "%s[%zu]: no %s", key, i, id_key);
            return -1;
        }
        if (fn(t, kind, key, i, item, id, err, errlen) < 0)
            return -1;
    }
    return (int)json_array_size(items);
}

/* ---- tags, names, ids, ARNs ---- */

const char *twin__aws_tag(const json_t *doc, const char *key)
{
    const char *lists[] = {"Tags", "TagList", "TagSet"};
    for (int k = 0; k < 3; k++) {
        size_t i;
        json_t *tag;
        json_array_foreach(json_object_get(doc, lists[k]), i, tag) {
            const char *tk = json_string_value(json_object_get(tag, "Key"));
            if (tk && !strcmp(tk, key))
                return json_string_value(json_object_get(tag, "Value"));
        }
    }
    return NULL;
}

int twin__aws_principal_everyone(const json_t *p)
{
    if (json_is_string(p))
        return !strcmp(json_string_value(p), "*");
    json_t *aws = json_object_get(p, "AWS");
    if (json_is_string(aws))
        return !strcmp(json_string_value(aws), "*");
    size_t i;
    json_t *v;
    json_array_foreach(aws, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), "*")) return 1;
    return 0;
}

json_t *twin__aws_array_of(json_t *doc, const char *list)
{
    json_t *tags = json_object_get(doc, list);
    if (!json_is_array(tags)) {
        tags = json_array();
        json_object_set_new(doc, list, tags);
    }
    return tags;
}

void twin__aws_tag_set(json_t *tags, const char *key, const char *value)
{
    json_t *old = twin__aws_find(tags, "Key", key, NULL);
    if (old)
        json_object_set_new(old, "Value", json_string(value));
    else
        json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", key, "Value", value));
}

long twin__aws_tag_last(const json_t *tags, const char *key)
{
    long at = -1;
    size_t i;
    json_t *tag;
    json_array_foreach(tags, i, tag) if (twin__aws_is(twin__aws_str(tag, "Key"), key)) at = (long)i;
    return at;
}

int twin__aws_tag_remove(json_t *tags, const char *key)
{
    size_t idx;
    if (!key || !twin__aws_find(tags, "Key", key, &idx))
        return 0;
    json_array_remove(tags, idx);
    return 1;
}

int twin__aws_critical(const json_t *doc)
{
    const char *v = twin__aws_tag(doc, "airlock.dev/tier");
    return v && !strcmp(v, "critical");
}

int twin__aws_restricted(const json_t *doc)
{
    const char *v = twin__aws_tag(doc, "airlock.dev/restricted");
    return v && !strcmp(v, "true");
}

const char *twin__aws_display(const json_t *doc, const char *id)
{
    const char *n = twin__aws_tag(doc, "Name");
    return n && *n ? n : id;
}

char *twin__aws_new_id(twin *t, const char *prefix)
{
    /* 17 hex digits, as EC2's long ids: the first nibble 0 */
    uint64_t v = twin__rand(t);
    return twin_xasprintf("%s-0%016llx", prefix, (unsigned long long)v);
}

/* regional: arn:aws:SERVICE:REGION:ACCOUNT:RES; else IAM's form
 * arn:aws:SERVICE::ACCOUNT:RES, or S3's arn:aws:s3:::RES (no account). */
char *twin__aws_arn(const twin *t, const char *service, int regional, const char *resource)
{
    if (regional)
        return twin_xasprintf("arn:aws:%s:%s:%s:%s", service, twin_aws_region(t), twin_aws_account(t), resource);
    if (!strcmp(service, "s3"))
        return twin_xasprintf("arn:aws:s3:::%s", resource);
    return twin_xasprintf("arn:aws:%s::%s:%s", service, twin_aws_account(t), resource);
}

/* ---- the core's hooks ---- */

void twin__aws_notify(twin *t, const char *kind, const json_t *before, const json_t *after)
{
    const json_t *obj = after ? after : before;
    const char *name = twin__name(obj);
    if (!name)
        return;
    if (!strcmp(kind, "EC2Instance")) {
        const char *was = before ? twin__aws_ec2_state(twin__aws_doc(before)) : NULL;
        const char *is = after ? twin__aws_ec2_state(twin__aws_doc(after)) : NULL;
        if (!was || !is || strcmp(was, is))
            twin__enqueue(t, kind, "", name);   /* its targets and its group follow its state */
    } else if (!strcmp(kind, "AutoScalingGroup")) {
        if (after)
            twin__enqueue(t, kind, "", name);
    }
}

void twin__aws_reconcile(twin *t, const char *kind, const char *name)
{
    /* a controller's writes are the reconciled resource's doing: a cascade
     * in the diff, with it as the parent (a replacement member, its target
     * registration), as Kubernetes' controllers' are */
    const char *saved = t->parent;
    char *parent = twin__key(kind, "", name);
    t->parent = parent;
    if (!strcmp(kind, "EC2Instance"))
        twin__aws_ec2_reconcile(t, name);
    else if (!strcmp(kind, "AutoScalingGroup"))
        twin__aws_asg_reconcile(t, name);
    t->parent = saved;
    free(parent);
}

int twin__aws_settle_tick(twin *t)
{
    /* instances first: a target whose instance became running this tick
     * passes its health check in the same tick */
    int n = twin__aws_ec2_settle_tick(t);
    return n + twin__aws_elb_settle_tick(t);
}

static double price_of(const twin *t, const char *section, const char *key)
{
    json_t *s = json_object_get(json_object_get(t->pricing, "aws"), section);
    json_t *v = key ? json_object_get(s, key) : s;
    return json_is_number(v) ? json_number_value(v) : 0;
}

/* Hours in a month, as AWS's monthly prices assume. */
#define HOURS_PER_MONTH 730.0

/* Simplified: NAT gateways, Elastic IPs, data transfer and S3 storage are
 * not priced (the twin does not model NAT gateways); a stopped RDS
 * instance pays its storage only. */
double twin__aws_cost(const twin *t, const json_t *obj)
{
    const char *kind = twin__kind(obj);
    const json_t *d = twin__aws_doc(obj);
    if (!kind || !d || !json_object_get(t->pricing, "aws"))
        return 0;
    if (!strcmp(kind, "EC2Instance")) {
        const char *s = twin__aws_ec2_state(d);
        if (!s || (strcmp(s, "running") && strcmp(s, "pending")))
            return 0;
        return price_of(t, "ec2_instance_hourly", json_string_value(json_object_get(d, "InstanceType")));
    }
    if (!strcmp(kind, "EC2Volume")) {
        double gb = (double)json_integer_value(json_object_get(d, "Size"));
        const char *type = json_string_value(json_object_get(d, "VolumeType"));
        return gb * price_of(t, "ebs_gb_month", type ? type : "gp2") / HOURS_PER_MONTH;
    }
    if (!strcmp(kind, "EC2Snapshot")) {
        double gb = (double)json_integer_value(json_object_get(d, "VolumeSize"));
        return gb * price_of(t, "ebs_snapshot_gb_month", NULL) / HOURS_PER_MONTH;
    }
    if (!strcmp(kind, "ELBv2LoadBalancer")) {
        const char *type = json_string_value(json_object_get(d, "Type"));
        return price_of(t, "elb_hourly", type ? type : "application");
    }
    if (!strcmp(kind, "RDSDBInstance")) {
        const char *status = json_string_value(json_object_get(d, "DBInstanceStatus"));
        const char *cls = json_string_value(json_object_get(d, "DBInstanceClass"));
        const char *st = json_string_value(json_object_get(d, "StorageType"));
        double gb = (double)json_integer_value(json_object_get(d, "AllocatedStorage"));
        double storage = gb * price_of(t, "rds_storage_gb_month", st ? st : "gp2") / HOURS_PER_MONTH;
        int idle = status && (!strcmp(status, "stopped") || !strcmp(status, "stopping") ||
                              !strcmp(status, "deleting"));
        return (idle ? 0 : price_of(t, "rds_instance_hourly", cls)) + storage;
    }
    return 0;
}

/* Whether the open operation is an AWS call or touched an AWS resource:
 * only then does the impact carry AWS fields (a Kubernetes operation's
 * impact stays as it was). */
static int aws_touched(twin *t)
{
    if (t->aws.call)
        return 1;
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (twin_aws_kind(c->kind))
            return 1;
    }
    return 0;
}

void twin__aws_moment(twin *t, json_t *m)
{
    if (!aws_touched(t))
        return;
    twin__aws_ec2_moment(t, m);
    twin__aws_elb_moment(t, m);
    twin__aws_asg_moment(t, m);
}

/* How many EC2 instances there were before the operation, and how many
 * were running: the store's counts now, less the changes (the "ready"
 * column holds running). */
/* The committed counts (counted once: a commit keeps them, twin__aws_commit). */
static void committed_counts(twin *t)
{
    if (t->aws_counted)
        return;
    sqlite3_stmt *st = twin__stmt(t, 33, "SELECT count(*), coalesce(sum(ready), 0) FROM objects WHERE kind='EC2Instance'");
    t->aws_instances = t->aws_running = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        t->aws_instances = (long)sqlite3_column_int64(st, 0);
        t->aws_running = (long)sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    /* inside an operation the table holds its writes: take them back out */
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (strcmp(c->kind, "EC2Instance"))
            continue;
        t->aws_instances += (c->before != NULL) - (c->after != NULL);
        t->aws_running += (c->before && twin__aws_ready(c->before)) - (c->after && twin__aws_ready(c->after));
    }
    t->aws_counted = 1;
}

void twin__aws_count(twin *t, const char *kind, const json_t *before, const json_t *after)
{
    if (!t->aws_counted || strcmp(kind, "EC2Instance"))
        return;
    t->aws_instances += (after != NULL) - (before != NULL);
    t->aws_running += (after && twin__aws_ready(after)) - (before && twin__aws_ready(before));
}

void twin__aws_commit(twin *t)
{
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        twin__aws_count(t, c->kind, c->before, c->after);
    }
}

/* The counts before the open operation (the committed ones). */
static void instance_counts(twin *t, long *total, long *running)
{
    committed_counts(t);
    *total = t->aws_instances;
    *running = t->aws_running;
}

void twin__aws_impact(twin *t, json_t *impact)
{
    if (!aws_touched(t))
        return;
    json_object_set_new(impact, "instances_disrupted",
                        json_integer((json_int_t)json_array_size(
                            json_object_get(json_object_get(impact, "instant"), "instances_disrupted"))));
    json_object_set_new(impact, "data_at_risk", json_array());
    long total, running;
    instance_counts(t, &total, &running);
    json_object_set_new(impact, "aws", json_pack("{s:I, s:I, s:s, s:s}", "running_instances_before",
                                                 (json_int_t)running, "instances_before", (json_int_t)total,
                                                 "account", twin_aws_account(t), "region", twin_aws_region(t)));
    twin__aws_ec2_impact(t, impact);
    twin__aws_s3_impact(t, impact);
    twin__aws_iam_impact(t, impact);
    twin__aws_rds_impact(t, impact);
}

/* ---- import and export ---- */

static const char *const STATE_KEYS[] = {
    "Reservations", "SecurityGroups",  "Vpcs",           "Subnets",  "Volumes",  "Snapshots",
    "AutoScalingGroups", "LoadBalancers", "TargetGroups", "DBInstances", "DBSnapshots", "UserDetailList",
    "RoleDetailList", "Policies", "Buckets"};

int twin_aws_is_state(const json_t *doc)
{
    if (!json_is_object(doc))
        return 0;
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (kind)
        return !strcmp(kind, "AWSState");
    if (json_object_get(doc, "apiVersion"))
        return 0;
    for (size_t i = 0; i < sizeof STATE_KEYS / sizeof STATE_KEYS[0]; i++)
        if (json_is_array(json_object_get(doc, STATE_KEYS[i])))
            return 1;
    return 0;
}

static int copy_field(char *dst, size_t n, const json_t *doc, const char *key, const char *name, char *err,
                      size_t errlen)
{
    json_t *v = json_object_get(doc, key);
    if (!v)
        return 0;
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) >= n) {
        snprintf(err, errlen, "%s: AWSState: %s must be a string of 1 to %zu characters", name, key, n - 1);
        return -1;
    }
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

int twin__aws_import(twin *t, const json_t *doc, const char *name, char *err, size_t errlen)
{
    if (copy_field(t->aws.account, sizeof t->aws.account, doc, "account", name, err, errlen) < 0 ||
        copy_field(t->aws.region, sizeof t->aws.region, doc, "region", name, err, errlen) < 0)
        return -1;
    int (*const importers[])(twin *, const json_t *, char *, size_t) = {
        twin__aws_ec2_import, twin__aws_asg_import, twin__aws_elb_import,
        twin__aws_s3_import,  twin__aws_iam_import, twin__aws_rds_import};
    char why[768];
    for (size_t i = 0; i < sizeof importers / sizeof importers[0]; i++) {
        why[0] = '\0';
        if (importers[i](t, doc, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s: %s", name, why[0] ? why : "malformed AWS state");
            return -1;
        }
    }
    return 0;
}

json_t *twin_aws_export(twin *t)
{
    json_t *state = json_pack("{s:s, s:s, s:s}", "kind", "AWSState", "account", twin_aws_account(t), "region",
                              twin_aws_region(t));
    twin__aws_ec2_export(t, state);
    twin__aws_asg_export(t, state);
    twin__aws_elb_export(t, state);
    twin__aws_s3_export(t, state);
    twin__aws_iam_export(t, state);
    twin__aws_rds_export(t, state);
    return state;
}
