/*
 * aws_ec2.c - EC2 in the twin: instances, security groups, VPCs, subnets,
 * EBS volumes and snapshots; the instance lifecycle as EC2 documents it
 * (pending -> running, stopping -> stopped, shutting-down -> terminated);
 * internet exposure of instances for the impact.
 *
 * Where the twin simplifies EC2 (said once here, and at the code):
 *   - capacity is unlimited: RunInstances launches MaxCount instances;
 *   - a stopped instance keeps its PublicIpAddress in the document (EC2
 *     releases an auto-assigned one); exposure counts pending and running
 *     instances only, so a stopped instance is never exposed;
 *   - DisableApiTermination is kept in the instance document (EC2 shows it
 *     through DescribeInstanceAttribute only): the AWSState carries it;
 *   - no network ACLs, route tables or internet gateways: a subnet is public
 *     when it maps public addresses on launch or is tagged
 *     airlock.dev/public=true, and an instance with a public address is
 *     reachable wherever its groups allow;
 *   - security group rules get no SecurityGroupRuleIds of their own beyond
 *     the ones Authorize answers; prefix lists are opaque (never internet);
 *   - DryRun is the gate's business (it simulates, then rolls back).
 */
#include <fnmatch.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"
#include "twin_int.h"

/* ---- small helpers ---- */

static const struct {
    const char *name;
    int code;
} STATES[] = {{"pending", 0},   {"running", 16}, {"shutting-down", 32},
              {"terminated", 48}, {"stopping", 64}, {"stopped", 80}};

const char *twin__aws_ec2_state(const json_t *doc)
{
    return json_string_value(json_object_get(json_object_get(doc, "State"), "Name"));
}

static json_t *state_obj(const char *state)
{
    int code = 0;
    for (size_t i = 0; i < sizeof STATES / sizeof STATES[0]; i++)
        if (!strcmp(STATES[i].name, state))
            code = STATES[i].code;
    return json_pack("{s:i, s:s}", "Code", code, "Name", state);
}

void twin__aws_ec2_set_state(json_t *doc, const char *state) { json_object_set_new(doc, "State", state_obj(state)); }

/* Gone or going: what no longer counts as a member, a target, a dependent. */
static int ending(const char *state)
{
    return twin__aws_is(state, "shutting-down") || twin__aws_is(state, "terminated");
}

static int bad_param(aws_ctx *c, const char *name)
{
    return twin__aws_error(c, 400, "InvalidParameterValue", "Invalid value for parameter %s", name);
}

/* A boolean that botocore writes as {"Value": true} (AttributeBooleanValue)
 * or plainly: 1, 0, or -1 when absent. */
static int bool_value(const json_t *v)
{
    if (json_is_object(v))
        v = json_object_get(v, "Value");
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_string(v))
        return !strcmp(json_string_value(v), "true");
    return -1;
}

/* Tags of TagSpecifications for one resource type (new array). */
static json_t *spec_tags(const json_t *input, const char *type)
{
    json_t *tags = json_array();
    size_t i, j;
    json_t *s, *tag;
    json_array_foreach(json_object_get(input, "TagSpecifications"), i, s) {
        if (!twin__aws_is(twin__aws_str(s, "ResourceType"), type))
            continue;
        json_array_foreach(json_object_get(s, "Tags"), j, tag)
            if (json_is_string(json_object_get(tag, "Key")))
                json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", twin__aws_str(tag, "Key"), "Value",
                                                      twin__aws_str(tag, "Value") ? twin__aws_str(tag, "Value") : ""));
    }
    return tags;
}

static void set_tag(json_t *doc, const char *key, const char *value)
{
    twin__aws_tag_set(twin__aws_array_of(doc, "Tags"), key, value);
}

/* ---- filters (Filters: [{Name, Values}]) ---- */

typedef struct filter_map {
    const char *name;   /* the filter's name */
    const char *path;   /* dotted path into the document; "A[].B": B of any element of A */
} filter_map;

static void values_at(const json_t *v, const char *path, json_t *out)
{
    if (!v)
        return;
    if (!*path) {
        if (json_is_string(v))
            json_array_append(out, (json_t *)v);
        else if (json_is_boolean(v))
            json_array_append_new(out, json_string(json_is_true(v) ? "true" : "false"));
        else if (json_is_integer(v)) {
            char b[32];
            snprintf(b, sizeof b, "%lld", (long long)json_integer_value(v));
            json_array_append_new(out, json_string(b));
        }
        return;
    }
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    const char *rest = dot ? dot + 1 : "";
    int each = n > 2 && path[n - 2] == '[' && path[n - 1] == ']';
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)(each ? n - 2 : n), path);
    json_t *m = json_object_get(v, key);
    if (each) {
        size_t i;
        json_t *e;
        json_array_foreach(m, i, e) values_at(e, rest, out);
    } else {
        values_at(m, rest, out);
    }
}

/* 1 when doc passes every filter, 0 when not, -1 (an error set on c) when a
 * filter is unknown or malformed.  Values match with EC2's wildcards (*, ?). */
static int filters_match(aws_ctx *c, const json_t *doc, const filter_map *map)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(c->input, "Filters"), i, f) {
        const char *name = twin__aws_str(f, "Name");
        json_t *want = json_object_get(f, "Values");
        if (!name || twin__aws_string_list(want) < 0) {
            twin__aws_error(c, 400, "InvalidParameterValue", "Filters: each needs a Name and Values");
            return -1;
        }
        json_t *have = json_array();
        if (!strncmp(name, "tag:", 4)) {
            const char *v = twin__aws_tag(doc, name + 4);
            if (v)
                json_array_append_new(have, json_string(v));
        } else if (!strcmp(name, "tag-key")) {
            values_at(doc, "Tags[].Key", have);
        } else {
            const filter_map *m = map;
            while (m->name && strcmp(m->name, name))
                m++;
            if (!m->name) {
                json_decref(have);
                twin__aws_error(c, 400, "InvalidParameterValue", "The filter '%s' is invalid", name);
                return -1;
            }
            values_at(doc, m->path, have);
        }
        int hit = 0;
        size_t j, k;
        json_t *w, *h;
        json_array_foreach(want, j, w) json_array_foreach(have, k, h) if (!fnmatch(json_string_value(w),
                                                                                  json_string_value(h), 0)) hit = 1;
        json_decref(have);
        if (!hit)
            return 0;
    }
    return 1;
}

/* The kinds of EC2 ids: their prefix, and the error naming one not there. */
static const struct {
    const char *prefix, *kind, *code, *fmt;
} ID_KINDS[] = {
    {"i-", "EC2Instance", "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist"},
    {"sg-", "EC2SecurityGroup", "InvalidGroup.NotFound", "The security group '%s' does not exist"},
    {"vpc-", "EC2Vpc", "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist"},
    {"subnet-", "EC2Subnet", "InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist"},
    {"vol-", "EC2Volume", "InvalidVolume.NotFound", "The volume '%s' does not exist."},
    {"snap-", "EC2Snapshot", "InvalidSnapshot.NotFound", "The snapshot '%s' does not exist."},
};
#define N_ID_KINDS (sizeof ID_KINDS / sizeof ID_KINDS[0])

/* ID_KINDS' entry of a kind (one of its kinds) or of an id's prefix (N_ID_KINDS: none). */
static size_t id_kind_of(const char *kind)
{
    size_t k = 0;
    while (k < N_ID_KINDS && strcmp(ID_KINDS[k].kind, kind))
        k++;
    return k;
}

static size_t id_kind_of_id(const char *id)
{
    size_t k = 0;
    while (k < N_ID_KINDS && strncmp(id, ID_KINDS[k].prefix, strlen(ID_KINDS[k].prefix)))
        k++;
    return k;
}

/* An id of kind that is not there: its kind's NotFound error (returns 0). */
static int not_found(aws_ctx *c, const char *kind, const char *id)
{
    size_t k = id_kind_of(kind);
    return twin__aws_error(c, 400, ID_KINDS[k].code, ID_KINDS[k].fmt, id ? id : "");
}

/* The resource of kind that the call's parameter param names (a copy, its
 * id in *id), or NULL with its NotFound error set. */
static json_t *need_doc(aws_ctx *c, const char *kind, const char *param, const char **id)
{
    *id = twin__aws_str(c->input, param);
    json_t *d = *id ? twin__aws_doc_copy(c->t, kind, *id) : NULL;
    if (!d)
        not_found(c, kind, *id);
    return d;
}

/* Describes every resource of kind whose id is in ids_param (when given)
 * and that passes the filters (map): the array of documents (new) or NULL
 * with an error set on c (an unknown id: its kind's NotFound). */
static json_t *describe(aws_ctx *c, const char *kind, const char *ids_param, const filter_map *map)
{
    size_t k = id_kind_of(kind);
    const json_t *ids = json_object_get(c->input, ids_param);
    if (twin__aws_string_list(ids) < 0) {
        bad_param(c, ids_param);
        return NULL;
    }
    json_t *out = json_array();
    if (json_array_size(ids)) {
        size_t i;
        json_t *id;
        json_array_foreach(ids, i, id) {
            json_t *obj = twin__aws_get(c->t, kind, json_string_value(id));
            if (!obj) {
                json_decref(out);
                twin__aws_error(c, 400, ID_KINDS[k].code, ID_KINDS[k].fmt, json_string_value(id));
                return NULL;
            }
            int m = filters_match(c, twin__aws_doc(obj), map);
            if (m > 0)
                json_array_append(out, (json_t *)twin__aws_doc(obj));
            json_decref(obj);
            if (m < 0) {
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    /* a filter on the id itself (map's first: "instance-id") names the
     * candidates: read by id, not by scanning the kind (what the gate's
     * reach asks, whatever the account's size); an id not there is no error */
    json_t *all = NULL;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(c->input, "Filters"), i, f) {
        const char *fn = json_string_value(json_object_get(f, "Name"));
        const json_t *vals = json_object_get(f, "Values");
        if (!fn || strcmp(fn, map[0].name) || twin__aws_string_list(vals) < 0 || all)
            continue;
        all = json_array();
        size_t j;
        json_t *v;
        json_array_foreach(vals, j, v) {
            json_t *o = twin__aws_get(c->t, kind, json_string_value(v));
            if (o)
                json_array_append_new(all, o);
        }
    }
    if (!all)
        all = twin__aws_list(c->t, kind);
    json_t *obj;
    json_array_foreach(all, i, obj) {
        int m = filters_match(c, twin__aws_doc(obj), map);
        if (m < 0) {
            json_decref(all);
            json_decref(out);
            return NULL;
        }
        if (m)
            json_array_append(out, (json_t *)twin__aws_doc(obj));
    }
    json_decref(all);
    return out;
}

/* ---- instances ---- */

static const filter_map INSTANCE_FILTERS[] = {
    {"instance-id", "InstanceId"},
    {"instance-state-name", "State.Name"},
    {"instance-state-code", "State.Code"},
    {"instance-type", "InstanceType"},
    {"image-id", "ImageId"},
    {"vpc-id", "VpcId"},
    {"subnet-id", "SubnetId"},
    {"availability-zone", "Placement.AvailabilityZone"},
    {"private-ip-address", "PrivateIpAddress"},
    {"ip-address", "PublicIpAddress"},
    {"instance.group-id", "SecurityGroups[].GroupId"},
    {"instance.group-name", "SecurityGroups[].GroupName"},
    {"group-id", "SecurityGroups[].GroupId"},
    {"group-name", "SecurityGroups[].GroupName"},
    {NULL, NULL},
};

/* One reservation per instance (EC2 groups the instances of one
 * RunInstances call; the twin does not keep that grouping). */
static json_t *reservation_of(const twin *t, const json_t *instances)
{
    const char *id = twin__aws_str(json_array_get(instances, 0), "InstanceId");
    char *rid = twin_xasprintf("r-%s", id && strlen(id) > 2 ? id + 2 : "0");
    json_t *r = json_pack("{s:s, s:s, s:[], s:O}", "ReservationId", rid, "OwnerId", twin_aws_account(t), "Groups",
                          "Instances", instances);
    free(rid);
    return r;
}

static int describe_instances(aws_ctx *c)
{
    json_t *l = describe(c, "EC2Instance", "InstanceIds", INSTANCE_FILTERS);
    if (!l)
        return 0;
    json_t *res = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(l, i, d) {
        json_t *one = json_pack("[O]", d);
        json_array_append_new(res, reservation_of(c->t, one));
        json_decref(one);
    }
    json_decref(l);
    c->output = json_pack("{s:o}", "Reservations", res);
    return 0;
}

/* Checks that every id of InstanceIds exists: the array (borrowed), or NULL
 * with InvalidInstanceID.NotFound naming those that do not (none of the
 * call's work is done then). */
static const json_t *instance_ids(aws_ctx *c)
{
    const json_t *ids = json_object_get(c->input, "InstanceIds");
    if (twin__aws_string_list(ids) <= 0 || !json_array_size(ids)) {
        twin__aws_error(c, 400, "MissingParameter", "The request must contain the parameter InstanceIds");
        return NULL;
    }
    twin_buf missing = {0};
    int n = 0;
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        json_t *obj = twin__aws_get(c->t, "EC2Instance", json_string_value(id));
        if (!obj) {
            twin_buf_addf(&missing, "%s%s", n++ ? ", " : "", json_string_value(id));
        }
        json_decref(obj);
    }
    if (n) {
        if (n == 1)
            twin__aws_error(c, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", missing.s);
        else
            twin__aws_error(c, 400, "InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", missing.s);
        twin_buf_free(&missing);
        return NULL;
    }
    return ids;
}

static json_t *state_change(const char *id, const char *from, const char *to)
{
    return json_pack("{s:s, s:o, s:o}", "InstanceId", id, "CurrentState", state_obj(to), "PreviousState",
                     state_obj(from));
}

int twin__aws_ec2_terminate(twin *t, const char *id)
{
    json_t *d = twin__aws_doc_copy(t, "EC2Instance", id);
    if (!d)
        return -1;
    int rc = -1;
    if (!ending(twin__aws_ec2_state(d))) {
        twin__aws_ec2_set_state(d, "shutting-down");
        json_object_set_new(d, "StateTransitionReason", json_string("User initiated"));
        twin__aws_put(t, "EC2Instance", id, d);
        rc = 0;
    }
    json_decref(d);
    return rc;
}

static int terminate_instances(aws_ctx *c)
{
    const json_t *ids = instance_ids(c);
    if (!ids)
        return 0;
    size_t i;
    json_t *id;
    /* EC2 checks every instance before it terminates any */
    json_array_foreach(ids, i, id) {
        json_t *obj = twin__aws_get(c->t, "EC2Instance", json_string_value(id));
        int protected = json_is_true(json_object_get(twin__aws_doc(obj), "DisableApiTermination"));
        int gone = ending(twin__aws_ec2_state(twin__aws_doc(obj)));
        json_decref(obj);
        if (protected && !gone)
            return twin__aws_error(c, 400, "OperationNotPermitted",
                                   "The instance '%s' may not be terminated. Modify its 'disableApiTermination' "
                                   "instance attribute and try again.",
                                   json_string_value(id));
    }
    json_t *out = json_array();
    json_array_foreach(ids, i, id) {
        json_t *obj = twin__aws_get(c->t, "EC2Instance", json_string_value(id));
        char *from = twin_xstrdup(twin__aws_ec2_state(twin__aws_doc(obj)));
        json_decref(obj);
        twin__aws_ec2_terminate(c->t, json_string_value(id));
        json_array_append_new(out, state_change(json_string_value(id), from ? from : "pending",
                                                ending(from) ? from : "shutting-down"));
        free(from);
    }
    c->output = json_pack("{s:o}", "TerminatingInstances", out);
    return 0;
}

static int incorrect_state(aws_ctx *c, const char *id, const char *what)
{
    return twin__aws_error(c, 400, "IncorrectInstanceState",
                           "The instance '%s' is not in a state from which it can be %s.", id, what);
}

/* StopInstances (stop 1) and StartInstances (stop 0). */
static int stop_start(aws_ctx *c, int stop)
{
    const json_t *ids = instance_ids(c);
    if (!ids)
        return 0;
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        json_t *obj = twin__aws_get(c->t, "EC2Instance", json_string_value(id));
        const char *s = twin__aws_ec2_state(twin__aws_doc(obj));
        int bad = ending(s) || (!stop && twin__aws_is(s, "stopping"));
        json_decref(obj);
        if (bad)
            return incorrect_state(c, json_string_value(id), stop ? "stopped" : "started");
    }
    json_t *out = json_array();
    json_array_foreach(ids, i, id) {
        const char *iid = json_string_value(id);
        json_t *d = twin__aws_doc_copy(c->t, "EC2Instance", iid);
        char *from = twin_xstrdup(twin__aws_ec2_state(d));
        const char *to = from;
        if (stop && (twin__aws_is(from, "running") || twin__aws_is(from, "pending")))
            to = "stopping";
        else if (!stop && twin__aws_is(from, "stopped"))
            to = "pending";
        if (strcmp(to, from)) {
            twin__aws_ec2_set_state(d, to);
            if (stop)
                json_object_set_new(d, "StateTransitionReason", json_string("User initiated"));
            twin__aws_put(c->t, "EC2Instance", iid, d);
        }
        json_array_append_new(out, state_change(iid, from, to));
        free(from);
        json_decref(d);
    }
    c->output = json_pack("{s:o}", stop ? "StoppingInstances" : "StartingInstances", out);
    return 0;
}

static int stop_instances(aws_ctx *c) { return stop_start(c, 1); }
static int start_instances(aws_ctx *c) { return stop_start(c, 0); }

/* A reboot changes no state EC2 shows: an empty diff. */
static int reboot_instances(aws_ctx *c)
{
    if (!instance_ids(c))
        return 0;
    c->output = json_object();
    return 0;
}

/* The SecurityGroups member of an instance for group ids (new array), or
 * NULL with InvalidGroup.NotFound set. */
static json_t *groups_of(aws_ctx *c, const json_t *ids)
{
    json_t *out = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        json_t *sg = twin__aws_get(c->t, "EC2SecurityGroup", json_string_value(id));
        if (!sg) {
            json_decref(out);
            twin__aws_error(c, 400, "InvalidGroup.NotFound", "The security group '%s' does not exist",
                            json_string_value(id));
            return NULL;
        }
        json_array_append_new(out, json_pack("{s:s, s:s}", "GroupId", json_string_value(id), "GroupName",
                                             twin__aws_str(twin__aws_doc(sg), "GroupName") ?: ""));
        json_decref(sg);
    }
    return out;
}

static json_t *instance_or_error(aws_ctx *c)
{
    const char *id = twin__aws_str(c->input, "InstanceId");
    if (!id) {
        twin__aws_error(c, 400, "MissingParameter", "The request must contain the parameter InstanceId");
        return NULL;
    }
    json_t *d = twin__aws_doc_copy(c->t, "EC2Instance", id);
    if (!d)
        twin__aws_error(c, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id);
    return d;
}

static int modify_instance_attribute(aws_ctx *c)
{
    json_t *d = instance_or_error(c);
    if (!d)
        return 0;
    const char *id = twin__aws_str(c->input, "InstanceId");
    /* the Attribute/Value form says the same as the named members */
    const char *attr = twin__aws_str(c->input, "Attribute");
    json_t *value = json_object_get(c->input, "Value");
    int dat = bool_value(json_object_get(c->input, "DisableApiTermination"));
    const char *type = twin__aws_str(json_object_get(c->input, "InstanceType"), "Value");
    if (attr && !strcmp(attr, "disableApiTermination"))
        dat = bool_value(value);
    if (attr && !strcmp(attr, "instanceType"))
        type = json_string_value(value);
    json_t *groups = json_object_get(c->input, "Groups");
    if (twin__aws_string_list(groups) < 0) {
        json_decref(d);
        return bad_param(c, "Groups");
    }
    if (type) {
        if (!twin__aws_is(twin__aws_ec2_state(d), "stopped")) {
            json_decref(d);
            return twin__aws_error(c, 400, "IncorrectInstanceState",
                                   "The instance '%s' is not in the 'stopped' state.", id);
        }
        json_object_set_new(d, "InstanceType", json_string(type));
    }
    if (dat >= 0)
        json_object_set_new(d, "DisableApiTermination", json_boolean(dat));
    if (json_array_size(groups)) {
        json_t *sgs = groups_of(c, groups);
        if (!sgs) {
            json_decref(d);
            return 0;
        }
        json_object_set_new(d, "SecurityGroups", sgs);
    }
    return twin__aws_done(c, "EC2Instance", id, d, 1);
}

static int describe_instance_attribute(aws_ctx *c)
{
    json_t *d = instance_or_error(c);
    if (!d)
        return 0;
    const char *attr = twin__aws_str(c->input, "Attribute");
    c->output = json_pack("{s:s}", "InstanceId", twin__aws_str(c->input, "InstanceId"));
    if (twin__aws_is(attr, "disableApiTermination"))
        json_object_set_new(c->output, "DisableApiTermination",
                            json_pack("{s:b}", "Value", json_is_true(json_object_get(d, "DisableApiTermination"))));
    else if (twin__aws_is(attr, "instanceType"))
        json_object_set_new(c->output, "InstanceType",
                            json_pack("{s:s}", "Value", twin__aws_str(d, "InstanceType") ?: ""));
    else if (twin__aws_is(attr, "groupSet"))
        json_object_set(c->output, "Groups", json_object_get(d, "SecurityGroups") ?: json_array());
    else {
        json_decref(d);
        return twin__aws_error(c, 400, "InvalidParameterValue", "Value (%s) for parameter attribute is invalid.",
                               attr ? attr : "");
    }
    json_decref(d);
    return 0;
}

/* Whether a subnet gives its instances a public address. */
static int subnet_public(const json_t *subnet)
{
    const char *tag = twin__aws_tag(subnet, "airlock.dev/public");
    return json_is_true(json_object_get(subnet, "MapPublicIpOnLaunch")) || twin__aws_is(tag, "true");
}

/* An address in the subnet's CIDR (its /16 or larger prefix kept, the last
 * two bytes from the twin's random stream); "10.0.0.1"-style. */
static char *address_in(twin *t, const char *cidr, int public)
{
    uint64_t r = twin__rand(t);
    if (public)
        return twin_xasprintf("54.%u.%u.%u", (unsigned)(r % 200) + 20, (unsigned)(r >> 8) % 256,
                              (unsigned)(r >> 16) % 254 + 1);
    unsigned a = 10, b = 0;
    if (cidr)
        sscanf(cidr, "%u.%u", &a, &b);
    return twin_xasprintf("%u.%u.%u.%u", a, b, (unsigned)(r >> 8) % 256, (unsigned)(r >> 16) % 254 + 1);
}

/* A new instance document, pending (new reference): what RunInstances and
 * an Auto Scaling group launch. */
static json_t *new_instance(twin *t, const char *image, const char *type, const json_t *subnet, const json_t *sgs,
                            int public, const json_t *tags)
{
    char *id = twin__aws_new_id(t, "i");
    char *now = twin__timestamp(t);
    char *priv = address_in(t, twin__aws_str(subnet, "CidrBlock"), 0);
    json_t *d = json_pack(
        "{s:s, s:s, s:s, s:o, s:s, s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:O, s:O, s:s, s:s, s:i}", "InstanceId", id,
        "ImageId", image ? image : "ami-00000000000000000", "InstanceType", type ? type : "m1.small", "State",
        state_obj("pending"), "LaunchTime", now, "PrivateIpAddress", priv, "Placement", "AvailabilityZone",
        twin__aws_str(subnet, "AvailabilityZone") ?: "", "GroupName", "", "Tenancy", "default", "SubnetId",
        twin__aws_str(subnet, "SubnetId") ?: "", "VpcId", twin__aws_str(subnet, "VpcId") ?: "", "SecurityGroups", sgs,
        "Tags", tags, "Architecture", "x86_64", "RootDeviceType", "ebs", "AmiLaunchIndex", 0);
    if (public) {
        char *pub = address_in(t, NULL, 1);
        json_object_set_new(d, "PublicIpAddress", json_string(pub));
        free(pub);
    }
    free(id);
    free(now);
    free(priv);
    return d;
}

/* The subnet RunInstances uses without a SubnetId: the default one of the
 * default VPC (DefaultForAz), else the first subnet (new reference). */
static json_t *default_subnet(twin *t)
{
    json_t *all = twin__aws_list(t, "EC2Subnet");
    json_t *pick = NULL;
    size_t i;
    json_t *s;
    json_array_foreach(all, i, s) if (!pick && json_is_true(json_object_get(twin__aws_doc(s), "DefaultForAz"))) pick =
        s;
    if (!pick)
        pick = json_array_get(all, 0);
    json_t *out = pick ? json_incref(pick) : NULL;
    json_decref(all);
    return out;
}

static int run_instances(aws_ctx *c)
{
    json_t *min = json_object_get(c->input, "MinCount"), *max = json_object_get(c->input, "MaxCount");
    if (!json_is_integer(min) || !json_is_integer(max) || json_integer_value(min) < 1 ||
        json_integer_value(max) < json_integer_value(min))
        return twin__aws_error(c, 400, "InvalidParameterValue",
                               "MinCount and MaxCount must be integers with 1 <= MinCount <= MaxCount");
    if (json_integer_value(max) > 1000)
        return twin__aws_error(c, 400, "InstanceLimitExceeded",
                               "You have requested more instances (%lld) than your current instance limit allows",
                               (long long)json_integer_value(max));
    const json_t *nic = json_array_get(json_object_get(c->input, "NetworkInterfaces"), 0);
    const char *subnet_id = twin__aws_str(c->input, "SubnetId") ?: twin__aws_str(nic, "SubnetId");
    json_t *subnet = subnet_id ? twin__aws_get(c->t, "EC2Subnet", subnet_id) : default_subnet(c->t);
    if (!subnet) {
        if (subnet_id)
            return twin__aws_error(c, 400, "InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist",
                                   subnet_id);
        return twin__aws_error(c, 400, "VPCIdNotSpecified", "No default VPC for this user");
    }
    const json_t *sg_ids = json_object_get(c->input, "SecurityGroupIds");
    if (!sg_ids)
        sg_ids = json_object_get(nic, "Groups");
    if (twin__aws_string_list(sg_ids) < 0) {
        json_decref(subnet);
        return bad_param(c, "SecurityGroupIds");
    }
    json_t *sgs = groups_of(c, sg_ids);
    if (!sgs) {
        json_decref(subnet);
        return 0;
    }
    const json_t *sd = twin__aws_doc(subnet);
    int assoc = bool_value(json_object_get(nic, "AssociatePublicIpAddress"));
    int public = assoc >= 0 ? assoc : subnet_public(sd);
    json_t *tags = spec_tags(c->input, "instance");
    int dat = bool_value(json_object_get(c->input, "DisableApiTermination"));
    json_t *instances = json_array();
    for (json_int_t i = 0; i < json_integer_value(max); i++) {
        json_t *d = new_instance(c->t, twin__aws_str(c->input, "ImageId"), twin__aws_str(c->input, "InstanceType"), sd,
                                 sgs, public, tags);
        json_object_set_new(d, "AmiLaunchIndex", json_integer(i));
        if (dat > 0)
            json_object_set_new(d, "DisableApiTermination", json_true());
        twin__aws_put(c->t, "EC2Instance", twin__aws_str(d, "InstanceId"), d);
        json_array_append_new(instances, d);
    }
    json_t *r = reservation_of(c->t, instances);
    json_object_set(r, "Groups", sgs);
    c->output = r;
    json_decref(instances);
    json_decref(tags);
    json_decref(sgs);
    json_decref(subnet);
    return 0;
}

char *twin__aws_ec2_launch(twin *t, const json_t *asg, const char *subnet_id)
{
    const json_t *a = twin__aws_doc(asg) ?: asg;
    json_t *subnet = twin__aws_get(t, "EC2Subnet", subnet_id);
    /* The twin does not model launch templates: a new member is launched
     * like the group's newest member (image, type, security groups), else
     * with the group's InstanceType (the twin's member) or m5.large. */
    const char *image = NULL, *type = twin__aws_str(a, "InstanceType");
    json_t *sgs = NULL;
    json_t *newest = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(a, "Instances"), i, m) {
        json_t *inst = twin__aws_get(t, "EC2Instance", twin__aws_str(m, "InstanceId"));
        if (!inst)
            continue;
        const char *lt = twin__aws_str(twin__aws_doc(inst), "LaunchTime");
        if (!newest || (lt && strcmp(lt, twin__aws_str(twin__aws_doc(newest), "LaunchTime") ?: "") >= 0)) {
            json_decref(newest);
            newest = inst;
        } else {
            json_decref(inst);
        }
    }
    if (newest) {
        const json_t *nd = twin__aws_doc(newest);
        image = twin__aws_str(nd, "ImageId");
        if (!type)
            type = twin__aws_str(nd, "InstanceType");
        sgs = json_deep_copy(json_object_get(nd, "SecurityGroups"));
    }
    if (!sgs)
        sgs = json_array();
    json_t *tags = json_array();
    json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", "aws:autoscaling:groupName", "Value",
                                          twin__aws_str(a, "AutoScalingGroupName") ?: ""));
    json_array_foreach(json_object_get(a, "Tags"), i, m) {
        if (json_is_true(json_object_get(m, "PropagateAtLaunch")) && twin__aws_str(m, "Key"))
            json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", twin__aws_str(m, "Key"), "Value",
                                                  twin__aws_str(m, "Value") ?: ""));
    }
    const json_t *sd = twin__aws_doc(subnet);
    json_t *d = new_instance(t, image, type ? type : "m5.large", sd, sgs, sd && subnet_public(sd), tags);
    char *id = twin_xstrdup(twin__aws_str(d, "InstanceId"));
    twin__aws_put(t, "EC2Instance", id, d);
    json_decref(d);
    json_decref(tags);
    json_decref(sgs);
    json_decref(newest);
    json_decref(subnet);
    return id;
}

/* ---- the instance controller: its targets and its group follow its state ---- */

void twin__aws_ec2_reconcile(twin *t, const char *id)
{
    json_t *obj = twin__aws_get(t, "EC2Instance", id);
    json_t *was = obj ? NULL : twin__aws_before(t, "EC2Instance", id);
    const json_t *d = twin__aws_doc(obj ? obj : was);
    const char *state = obj ? twin__aws_ec2_state(d) : "terminated";
    twin__aws_elb_instance_state(t, id, state);
    const char *asg = twin__aws_tag(d, "aws:autoscaling:groupName");
    if (asg)
        twin__enqueue(t, "AutoScalingGroup", "", asg);
    json_decref(obj);
    json_decref(was);
}

/* Volumes of a terminated instance: deleted when DeleteOnTermination,
 * else detached (available). */
static void release_volumes(twin *t, const char *id)
{
    /* the instance's doing: a cascade in the diff, with the instance as
     * its parent (as Kubernetes' garbage collection of dependents) */
    const char *saved = t->parent;
    char *parent = twin_xasprintf("EC2Instance//%s", id);
    t->parent = parent;
    char *key = twin_xasprintf("attached.aws.airlock.dev/%s", id);
    json_t *vols = twin__aws_list_label(t, "EC2Volume", key, TWIN_AWS_LABEL_TRUE);
    free(key);
    size_t i;
    json_t *v;
    json_array_foreach(vols, i, v) {
        json_t *d = json_deep_copy(twin__aws_doc(v));
        const char *vid = twin__name(v);
        int del = 0;
        json_t *keep = json_array();
        size_t j;
        json_t *a;
        json_array_foreach(json_object_get(d, "Attachments"), j, a) {
            if (twin__aws_is(twin__aws_str(a, "InstanceId"), id))
                del |= json_is_true(json_object_get(a, "DeleteOnTermination"));
            else
                json_array_append(keep, a);
        }
        if (del) {
            twin__aws_del(t, "EC2Volume", vid);
        } else {
            json_object_set_new(d, "Attachments", json_incref(keep));
            if (!json_array_size(keep))
                json_object_set_new(d, "State", json_string("available"));
            twin__aws_put(t, "EC2Volume", vid, d);
        }
        json_decref(keep);
        json_decref(d);
    }
    json_decref(vols);
    t->parent = saved;
    free(parent);
}

int twin__aws_ec2_settle_tick(twin *t)
{
    json_t *todo = json_array();
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (!c->after)
            continue;
        if (!strcmp(c->kind, "EC2Instance")) {
            const char *s = twin__aws_ec2_state(twin__aws_doc(c->after));
            if (twin__aws_is(s, "pending") || twin__aws_is(s, "stopping") || twin__aws_is(s, "shutting-down"))
                json_array_append_new(todo, json_pack("[ss]", c->kind, c->name));
        } else if (!strcmp(c->kind, "EC2Snapshot") &&
                   twin__aws_is(twin__aws_str(twin__aws_doc(c->after), "State"), "pending")) {
            json_array_append_new(todo, json_pack("[ss]", c->kind, c->name));
        }
    }
    size_t i;
    json_t *k;
    json_array_foreach(todo, i, k) {
        const char *kind = json_string_value(json_array_get(k, 0)), *id = json_string_value(json_array_get(k, 1));
        json_t *d = twin__aws_doc_copy(t, kind, id);
        if (!strcmp(kind, "EC2Snapshot")) {
            json_object_set_new(d, "State", json_string("completed"));
            json_object_set_new(d, "Progress", json_string("100%"));
        } else {
            const char *s = twin__aws_ec2_state(d);
            const char *next = twin__aws_is(s, "pending")    ? "running"
                               : twin__aws_is(s, "stopping") ? "stopped"
                                                             : "terminated";
            twin__aws_ec2_set_state(d, next);
            if (!strcmp(next, "terminated"))
                release_volumes(t, id);
        }
        twin__aws_put(t, kind, id, d);
        json_decref(d);
    }
    int n = (int)json_array_size(todo);
    json_decref(todo);
    return n;
}

/* ---- security groups ---- */

static const filter_map SG_FILTERS[] = {
    {"group-id", "GroupId"},
    {"group-name", "GroupName"},
    {"vpc-id", "VpcId"},
    {"description", "Description"},
    {"owner-id", "OwnerId"},
    {"ip-permission.cidr", "IpPermissions[].IpRanges[].CidrIp"},
    {"ip-permission.from-port", "IpPermissions[].FromPort"},
    {"ip-permission.to-port", "IpPermissions[].ToPort"},
    {"ip-permission.protocol", "IpPermissions[].IpProtocol"},
    {"ip-permission.group-id", "IpPermissions[].UserIdGroupPairs[].GroupId"},
    {NULL, NULL},
};

static int describe_security_groups(aws_ctx *c)
{
    json_t *l = describe(c, "EC2SecurityGroup", "GroupIds", SG_FILTERS);
    if (!l)
        return 0;
    const json_t *names = json_object_get(c->input, "GroupNames");
    if (twin__aws_string_list(names) < 0) {
        json_decref(l);
        return bad_param(c, "GroupNames");
    }
    if (json_array_size(names)) {
        json_t *keep = json_array();
        size_t i;
        json_t *n, *d;
        json_array_foreach(names, i, n) {
            int found = 0;
            size_t j;
            json_array_foreach(l, j, d) if (twin__aws_is(twin__aws_str(d, "GroupName"), json_string_value(n))) {
                json_array_append(keep, d);
                found = 1;
            }
            if (!found) {
                json_decref(keep);
                json_decref(l);
                return twin__aws_error(c, 400, "InvalidGroup.NotFound",
                                       "The security group '%s' does not exist in default VPC",
                                       json_string_value(n));
            }
        }
        json_decref(l);
        l = keep;
    }
    c->output = json_pack("{s:o}", "SecurityGroups", l);
    return 0;
}

/* The group a call names by GroupId or GroupName (its id: new string), or
 * NULL with InvalidGroup.NotFound set. */
static char *group_named(aws_ctx *c, const char *id, const char *name)
{
    if (id) {
        json_t *sg = twin__aws_get(c->t, "EC2SecurityGroup", id);
        json_decref(sg);
        if (sg)
            return twin_xstrdup(id);
        twin__aws_error(c, 400, "InvalidGroup.NotFound", "The security group '%s' does not exist", id);
        return NULL;
    }
    if (!name) {
        twin__aws_error(c, 400, "MissingParameter", "The request must contain the parameter GroupId or GroupName");
        return NULL;
    }
    json_t *all = twin__aws_list(c->t, "EC2SecurityGroup");
    char *out = NULL;
    size_t i;
    json_t *sg;
    json_array_foreach(all, i, sg) if (!out && twin__aws_is(twin__aws_str(twin__aws_doc(sg), "GroupName"), name)) out =
        twin_xstrdup(twin__name(sg));
    json_decref(all);
    if (!out)
        twin__aws_error(c, 400, "InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC",
                        name);
    return out;
}

/* One rule, as EC2 keeps it: a protocol, a port range, one peer.  The
 * grouped form of IpPermissions is a list of these. */
typedef struct rule {
    char proto[16];
    long from, to;          /* -1 for all (protocol -1) */
    const char *peer_type;  /* "IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs" */
    const char *peer_key;   /* "CidrIp", "CidrIpv6", "PrefixListId", "GroupId" */
    const char *peer;
    const char *description;
} rule;

static const struct {
    const char *type, *key;
} PEERS[] = {{"IpRanges", "CidrIp"}, {"Ipv6Ranges", "CidrIpv6"}, {"PrefixListIds", "PrefixListId"},
             {"UserIdGroupPairs", "GroupId"}};

/* EC2's protocol names: tcp, udp, icmp, icmpv6, -1 (all); numbers 6, 17, 1
 * and 58 are those, "all" is -1; any other number stays a number. */
static int norm_proto(const char *p, char out[16])
{
    if (!p)
        return -1;
    if (!strcasecmp(p, "tcp") || !strcmp(p, "6"))
        p = "tcp";
    else if (!strcasecmp(p, "udp") || !strcmp(p, "17"))
        p = "udp";
    else if (!strcasecmp(p, "icmp") || !strcmp(p, "1"))
        p = "icmp";
    else if (!strcasecmp(p, "icmpv6") || !strcmp(p, "58"))
        p = "icmpv6";
    else if (!strcasecmp(p, "all") || !strcmp(p, "-1"))
        p = "-1";
    else if (strspn(p, "0123456789") != strlen(p) || strlen(p) > 3)
        return -1;
    snprintf(out, 16, "%s", p);
    return 0;
}

/* Reads the rules of a call (IpPermissions, or the shorthand CidrIp,
 * IpProtocol, FromPort, ToPort, SourceSecurityGroupName) into *out (n
 * rules, caller frees the array; strings borrowed from input or the store):
 * 0, or -1 with an error set on c. */
static int rules_of_call(aws_ctx *c, rule **out, size_t *n, json_t **hold)
{
    *out = NULL;
    *n = 0;
    *hold = NULL;
    json_t *perms = json_object_get(c->input, "IpPermissions");
    json_t *shorthand = NULL;
    if (!perms) {
        const char *cidr = twin__aws_str(c->input, "CidrIp"), *src = twin__aws_str(c->input, "SourceSecurityGroupName");
        if (!cidr && !src)
            return twin__aws_error(c, 400, "MissingParameter", "No IpPermissions given"), -1;
        shorthand =
            json_pack("[{s:s, s:O?, s:O?}]", "IpProtocol", twin__aws_str(c->input, "IpProtocol") ?: "-1", "FromPort",
                      json_object_get(c->input, "FromPort"), "ToPort", json_object_get(c->input, "ToPort"));
        json_t *p0 = json_array_get(shorthand, 0);
        if (cidr)
            json_object_set_new(p0, "IpRanges", json_pack("[{s:s}]", "CidrIp", cidr));
        if (src) {
            /* a source group by name (EC2 lets the shorthand name one) */
            char *sid = group_named(c, NULL, src);
            if (!sid) {
                json_decref(shorthand);
                *hold = NULL;
                return -1;
            }
            json_object_set_new(p0, "UserIdGroupPairs", json_pack("[{s:s}]", "GroupId", sid));
            free(sid);
        }
        *hold = shorthand;   /* the rules point into it: the caller frees it after them */
        perms = shorthand;
    }
    if (!json_is_array(perms))
        return bad_param(c, "IpPermissions"), -1;
    size_t i;
    json_t *p;
    json_array_foreach(perms, i, p) {
        char proto[16];
        if (norm_proto(twin__aws_str(p, "IpProtocol"), proto) < 0) {
            free(*out);
            return twin__aws_error(c, 400, "InvalidPermission.Malformed", "Invalid IP protocol: %s",
                                   twin__aws_str(p, "IpProtocol") ?: "(none)"), -1;
        }
        int ported = !strcmp(proto, "tcp") || !strcmp(proto, "udp");
        json_t *fp = json_object_get(p, "FromPort"), *tp = json_object_get(p, "ToPort");
        long from = json_is_integer(fp) ? (long)json_integer_value(fp) : -1;
        long to = json_is_integer(tp) ? (long)json_integer_value(tp) : -1;
        if (!strcmp(proto, "-1"))
            from = to = -1;
        else if (ported && (from < 0 || to > 65535 || from > to)) {
            free(*out);
            return twin__aws_error(c, 400, "InvalidParameterValue", "Invalid port range: %ld-%ld", from, to), -1;
        }
        for (size_t k = 0; k < sizeof PEERS / sizeof PEERS[0]; k++) {
            size_t j;
            json_t *peer;
            json_array_foreach(json_object_get(p, PEERS[k].type), j, peer) {
                const char *v = twin__aws_str(peer, PEERS[k].key);
                if (!v) {
                    free(*out);
                    return twin__aws_error(c, 400, "InvalidParameterValue", "%s: each needs %s", PEERS[k].type,
                                           PEERS[k].key), -1;
                }
                *out = twin_xrealloc(*out, (*n + 1) * sizeof **out);
                rule *r = &(*out)[(*n)++];
                snprintf(r->proto, sizeof r->proto, "%s", proto);
                r->from = from;
                r->to = to;
                r->peer_type = PEERS[k].type;
                r->peer_key = PEERS[k].key;
                r->peer = v;
                r->description = twin__aws_str(peer, "Description");
            }
        }
    }
    if (!*n)
        return twin__aws_error(c, 400, "MissingParameter", "No peers given in IpPermissions"), -1;
    return 0;
}

/* The permission of list matching a rule's protocol and ports (borrowed),
 * or NULL. */
static json_t *permission_for(json_t *list, const rule *r)
{
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        char proto[16];
        if (norm_proto(twin__aws_str(p, "IpProtocol"), proto) < 0 || strcmp(proto, r->proto))
            continue;
        long from = json_is_integer(json_object_get(p, "FromPort")) ? (long)json_integer_value(json_object_get(p, "FromPort")) : -1;
        long to = json_is_integer(json_object_get(p, "ToPort")) ? (long)json_integer_value(json_object_get(p, "ToPort")) : -1;
        if (!strcmp(proto, "-1") || (from == r->from && to == r->to))
            return p;
    }
    return NULL;
}

static long peer_index(const json_t *perm, const rule *r)
{
    size_t i;
    json_t *peer;
    json_array_foreach(json_object_get(perm, r->peer_type), i, peer) {
        if (twin__aws_is(twin__aws_str(peer, r->peer_key), r->peer))
            return (long)i;
    }
    return -1;
}

static const char *proto_text(const char *p)
{
    return !strcmp(p, "-1") ? "ALL" : !strcmp(p, "tcp") ? "TCP" : !strcmp(p, "udp") ? "UDP" : p;
}

/* Authorize (add 1) or revoke (add 0) rules, ingress or egress. */
static int change_rules(aws_ctx *c, int egress, int add)
{
    char *gid = group_named(c, twin__aws_str(c->input, "GroupId"), twin__aws_str(c->input, "GroupName"));
    if (!gid)
        return 0;
    rule *rules;
    size_t n;
    json_t *hold;
    if (rules_of_call(c, &rules, &n, &hold) < 0) {
        json_decref(hold);
        free(gid);
        return 0;
    }
    json_t *d = twin__aws_doc_copy(c->t, "EC2SecurityGroup", gid);
    const char *member = egress ? "IpPermissionsEgress" : "IpPermissions";
    json_t *list = json_object_get(d, member);
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(d, member, list);
    }
    json_t *created = json_array();
    for (size_t i = 0; i < n; i++) {
        const rule *r = &rules[i];
        if (!strcmp(r->peer_type, "UserIdGroupPairs")) {
            json_t *ref = twin__aws_get(c->t, "EC2SecurityGroup", r->peer);
            json_decref(ref);
            if (!ref && add) {
                twin__aws_error(c, 400, "InvalidGroup.NotFound", "The security group '%s' does not exist", r->peer);
                goto cleanup;
            }
        }
        json_t *perm = permission_for(list, r);
        long at = perm ? peer_index(perm, r) : -1;
        if (add && at >= 0) {
            twin__aws_error(c, 400, "InvalidPermission.Duplicate",
                            "the specified rule \"peer: %s, %s, from port: %ld, to port: %ld, ALLOW\" already exists",
                            r->peer, proto_text(r->proto), r->from, r->to);
            goto cleanup;
        }
        if (!add && at < 0) {
            twin__aws_error(c, 400, "InvalidPermission.NotFound",
                            "The specified rule does not exist in this security group.");
            goto cleanup;
        }
        if (add) {
            if (!perm) {
                perm = json_pack("{s:s}", "IpProtocol", r->proto);
                if (strcmp(r->proto, "-1")) {
                    json_object_set_new(perm, "FromPort", json_integer(r->from));
                    json_object_set_new(perm, "ToPort", json_integer(r->to));
                }
                for (size_t k = 0; k < sizeof PEERS / sizeof PEERS[0]; k++)
                    json_object_set_new(perm, PEERS[k].type, json_array());
                json_array_append_new(list, perm);
            }
            json_t *peer = json_pack("{s:s}", r->peer_key, r->peer);
            if (r->description)
                json_object_set_new(peer, "Description", json_string(r->description));
            if (!strcmp(r->peer_type, "UserIdGroupPairs"))
                json_object_set_new(peer, "UserId", json_string(twin_aws_account(c->t)));
            json_array_append_new(json_object_get(perm, r->peer_type), peer);
            char *rid = twin__aws_new_id(c->t, "sgr");
            json_t *sr = json_pack("{s:s, s:s, s:s, s:b, s:s, s:i, s:i}", "SecurityGroupRuleId", rid, "GroupId", gid,
                                   "GroupOwnerId", twin_aws_account(c->t), "IsEgress", egress, "IpProtocol",
                                   r->proto, "FromPort", (int)r->from, "ToPort", (int)r->to);
            const char *key = !strcmp(r->peer_type, "IpRanges")     ? "CidrIpv4"
                              : !strcmp(r->peer_type, "Ipv6Ranges") ? "CidrIpv6"
                              : !strcmp(r->peer_type, "PrefixListIds") ? "PrefixListId"
                                                                       : NULL;
            if (key)
                json_object_set_new(sr, key, json_string(r->peer));
            else
                json_object_set_new(sr, "ReferencedGroupInfo", json_pack("{s:s, s:s}", "GroupId", r->peer,
                                                                          "UserId", twin_aws_account(c->t)));
            json_array_append_new(created, sr);
            free(rid);
        } else {
            json_array_remove(json_object_get(perm, r->peer_type), (size_t)at);
            int left = 0;
            for (size_t k = 0; k < sizeof PEERS / sizeof PEERS[0]; k++)
                left += (int)json_array_size(json_object_get(perm, PEERS[k].type));
            if (!left) {
                size_t j;
                json_t *p;
                json_array_foreach(list, j, p) if (p == perm) {
                    json_array_remove(list, j);
                    break;
                }
            }
        }
    }
    twin__aws_put(c->t, "EC2SecurityGroup", gid, d);
    c->output = add ? json_pack("{s:b, s:O}", "Return", 1, "SecurityGroupRules", created) : json_pack("{s:b}", "Return", 1);
cleanup:
    json_decref(created);
    json_decref(d);
    free(rules);
    json_decref(hold);
    free(gid);
    return 0;
}

static int authorize_ingress(aws_ctx *c) { return change_rules(c, 0, 1); }
static int authorize_egress(aws_ctx *c) { return change_rules(c, 1, 1); }
static int revoke_ingress(aws_ctx *c) { return change_rules(c, 0, 0); }
static int revoke_egress(aws_ctx *c) { return change_rules(c, 1, 0); }

static int create_security_group(aws_ctx *c)
{
    const char *name = twin__aws_str(c->input, "GroupName"), *desc = twin__aws_str(c->input, "Description");
    if (!name || !desc)
        return twin__aws_error(c, 400, "MissingParameter", "The request must contain the parameters GroupName and Description");
    const char *vpc = twin__aws_str(c->input, "VpcId");
    json_t *v = NULL;
    if (vpc) {
        v = twin__aws_get(c->t, "EC2Vpc", vpc);
        if (!v)
            return twin__aws_error(c, 400, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", vpc);
    } else {
        json_t *all = twin__aws_list(c->t, "EC2Vpc");
        size_t i;
        json_t *o;
        json_array_foreach(all, i, o) if (!v && json_is_true(json_object_get(twin__aws_doc(o), "IsDefault"))) v =
            json_incref(o);
        json_decref(all);
        if (!v)
            return twin__aws_error(c, 400, "VPCIdNotSpecified", "No default VPC for this user");
        vpc = twin__name(v);
    }
    json_t *all = twin__aws_list_label(c->t, "EC2SecurityGroup", "aws.airlock.dev/vpc", vpc);
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o) {
        if (twin__aws_is(twin__aws_str(twin__aws_doc(o), "GroupName"), name)) {
            json_decref(all);
            twin__aws_error(c, 400, "InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'",
                            name, vpc);
            json_decref(v);
            return 0;
        }
    }
    json_decref(all);
    char *id = twin__aws_new_id(c->t, "sg");
    json_t *tags = spec_tags(c->input, "security-group");
    json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[], s:[{s:s, s:[{s:s}], s:[], s:[], s:[]}], s:O}", "GroupId",
                          id, "GroupName", name, "Description", desc, "OwnerId", twin_aws_account(c->t), "VpcId",
                          vpc, "IpPermissions", "IpPermissionsEgress", "IpProtocol", "-1", "IpRanges", "CidrIp",
                          "0.0.0.0/0", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs", "Tags", tags);
    twin__aws_put(c->t, "EC2SecurityGroup", id, d);
    c->output = json_pack("{s:s, s:O}", "GroupId", id, "Tags", tags);
    json_decref(d);
    json_decref(tags);
    json_decref(v);
    free(id);
    return 0;
}

/* Whether any instance that is not terminated uses the group. */
static int group_in_use(twin *t, const char *gid)
{
    char *key = twin_xasprintf("sg.aws.airlock.dev/%s", gid);
    json_t *l = twin__aws_list_label(t, "EC2Instance", key, TWIN_AWS_LABEL_TRUE);
    free(key);
    int used = 0;
    size_t i;
    json_t *o;
    json_array_foreach(l, i, o) used |= !twin__aws_is(twin__aws_ec2_state(twin__aws_doc(o)), "terminated");
    json_decref(l);
    return used;
}

static int delete_security_group(aws_ctx *c)
{
    char *gid = group_named(c, twin__aws_str(c->input, "GroupId"), twin__aws_str(c->input, "GroupName"));
    if (!gid)
        return 0;
    json_t *sg = twin__aws_get(c->t, "EC2SecurityGroup", gid);
    int dflt = twin__aws_is(twin__aws_str(twin__aws_doc(sg), "GroupName"), "default");
    json_decref(sg);
    if (dflt) {
        twin__aws_error(c, 400, "CannotDelete", "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", gid);
        free(gid);
        return 0;
    }
    char *key = twin_xasprintf("ref.aws.airlock.dev/%s", gid);
    json_t *refs = twin__aws_list_label(c->t, "EC2SecurityGroup", key, TWIN_AWS_LABEL_TRUE);
    free(key);
    size_t others = 0, i;
    json_t *o;
    json_array_foreach(refs, i, o) others += strcmp(twin__name(o), gid) != 0;   /* a self-reference goes with it */
    json_decref(refs);
    if (others || group_in_use(c->t, gid)) {
        twin__aws_error(c, 400, "DependencyViolation", "resource %s has a dependent object", gid);
        free(gid);
        return 0;
    }
    twin__aws_del(c->t, "EC2SecurityGroup", gid);
    c->output = json_pack("{s:b, s:s}", "Return", 1, "GroupId", gid);
    free(gid);
    return 0;
}

/* ---- tags on any EC2 resource ---- */

static int tags_call(aws_ctx *c, int add)
{
    const json_t *ids = json_object_get(c->input, "Resources");
    const json_t *tags = json_object_get(c->input, "Tags");
    if (twin__aws_string_list(ids) <= 0 || (add && !json_is_array(tags)) || (tags && !json_is_array(tags)))
        return twin__aws_error(c, 400, "MissingParameter", "The request must contain the parameters Resources%s",
                               add ? " and Tags" : "");
    size_t i, j;
    json_t *id, *tag;
    json_array_foreach(tags, j, tag) if (!twin__aws_str(tag, "Key")) return bad_param(c, "Tags");
    /* all the resources are checked before any is tagged */
    json_array_foreach(ids, i, id) {
        const char *rid = json_string_value(id);
        size_t k = id_kind_of_id(rid);
        if (k == N_ID_KINDS)
            return twin__aws_error(c, 400, "InvalidID", "The ID '%s' is not valid", rid);
        json_t *obj = twin__aws_get(c->t, ID_KINDS[k].kind, rid);
        json_decref(obj);
        if (!obj)
            return twin__aws_error(c, 400, ID_KINDS[k].code, ID_KINDS[k].fmt, rid);
    }
    json_array_foreach(ids, i, id) {
        const char *rid = json_string_value(id);
        size_t k = id_kind_of_id(rid);
        json_t *d = twin__aws_doc_copy(c->t, ID_KINDS[k].kind, rid);
        if (add) {
            json_array_foreach(tags, j, tag) set_tag(d, twin__aws_str(tag, "Key"), twin__aws_str(tag, "Value") ?: "");
        } else {
            json_t *have = json_object_get(d, "Tags"), *keep = json_array();
            size_t h;
            json_t *ht;
            json_array_foreach(have, h, ht) {
                int drop = !tags;   /* DeleteTags without Tags deletes them all */
                json_array_foreach(tags, j, tag) {
                    if (twin__aws_is(twin__aws_str(ht, "Key"), twin__aws_str(tag, "Key")) &&
                        (!json_object_get(tag, "Value") ||
                         twin__aws_is(twin__aws_str(ht, "Value"), twin__aws_str(tag, "Value"))))
                        drop = 1;
                }
                if (!drop)
                    json_array_append(keep, ht);
            }
            json_object_set_new(d, "Tags", keep);
        }
        twin__aws_put(c->t, ID_KINDS[k].kind, rid, d);
        json_decref(d);
    }
    c->output = json_object();
    return 0;
}

static int create_tags(aws_ctx *c) { return tags_call(c, 1); }
static int delete_tags(aws_ctx *c) { return tags_call(c, 0); }

/* ---- VPCs, subnets, volumes, snapshots ---- */

static const filter_map VPC_FILTERS[] = {
    {"vpc-id", "VpcId"}, {"cidr", "CidrBlock"}, {"cidr-block", "CidrBlock"}, {"state", "State"},
    {"is-default", "IsDefault"}, {"owner-id", "OwnerId"}, {NULL, NULL},
};
static const filter_map SUBNET_FILTERS[] = {
    {"subnet-id", "SubnetId"}, {"vpc-id", "VpcId"}, {"cidr-block", "CidrBlock"}, {"state", "State"},
    {"availability-zone", "AvailabilityZone"}, {"map-public-ip-on-launch", "MapPublicIpOnLaunch"},
    {"default-for-az", "DefaultForAz"}, {NULL, NULL},
};
static const filter_map VOLUME_FILTERS[] = {
    {"volume-id", "VolumeId"}, {"status", "State"}, {"volume-type", "VolumeType"}, {"size", "Size"},
    {"availability-zone", "AvailabilityZone"}, {"attachment.instance-id", "Attachments[].InstanceId"},
    {"snapshot-id", "SnapshotId"}, {NULL, NULL},
};
static const filter_map SNAPSHOT_FILTERS[] = {
    {"snapshot-id", "SnapshotId"}, {"volume-id", "VolumeId"}, {"status", "State"}, {"owner-id", "OwnerId"},
    {"volume-size", "VolumeSize"}, {NULL, NULL},
};

/* DescribeVpcs, DescribeSubnets, DescribeVolumes: the list under out_key. */
static int describe_simple(aws_ctx *c, const char *kind, const char *ids_param, const filter_map *map,
                           const char *out_key)
{
    json_t *l = describe(c, kind, ids_param, map);
    if (l)
        c->output = json_pack("{s:o}", out_key, l);
    return 0;
}

static int describe_vpcs(aws_ctx *c) { return describe_simple(c, "EC2Vpc", "VpcIds", VPC_FILTERS, "Vpcs"); }

static int describe_subnets(aws_ctx *c)
{
    return describe_simple(c, "EC2Subnet", "SubnetIds", SUBNET_FILTERS, "Subnets");
}

static int describe_volumes(aws_ctx *c)
{
    return describe_simple(c, "EC2Volume", "VolumeIds", VOLUME_FILTERS, "Volumes");
}

/* OwnerIds: "self" and the account are this account's snapshots, which are
 * all the twin has; any other owner has none here. */
static int describe_snapshots(aws_ctx *c)
{
    const json_t *owners = json_object_get(c->input, "OwnerIds");
    if (twin__aws_string_list(owners) < 0)
        return bad_param(c, "OwnerIds");
    int mine = !json_array_size(owners) || twin__aws_in_list(owners, "self") ||
               twin__aws_in_list(owners, twin_aws_account(c->t));
    json_t *l = describe(c, "EC2Snapshot", "SnapshotIds", SNAPSHOT_FILTERS);
    if (!l)
        return 0;
    if (!mine)
        json_array_clear(l);
    c->output = json_pack("{s:o}", "Snapshots", l);
    return 0;
}

static int delete_volume(aws_ctx *c)
{
    const char *id;
    json_t *d = need_doc(c, "EC2Volume", "VolumeId", &id);
    if (!d)
        return 0;
    if (twin__aws_is(twin__aws_str(d, "State"), "in-use") || json_array_size(json_object_get(d, "Attachments"))) {
        const char *inst = twin__aws_str(json_array_get(json_object_get(d, "Attachments"), 0), "InstanceId");
        twin__aws_error(c, 400, "VolumeInUse", "Volume %s is currently attached to %s", id, inst ? inst : "an instance");
        json_decref(d);
        return 0;
    }
    json_decref(d);
    twin__aws_del(c->t, "EC2Volume", id);
    c->output = json_object();
    return 0;
}

static int create_snapshot(aws_ctx *c)
{
    const char *vid;
    json_t *v = need_doc(c, "EC2Volume", "VolumeId", &vid);
    if (!v)
        return 0;
    char *id = twin__aws_new_id(c->t, "snap");
    char *now = twin__timestamp(c->t);
    json_t *tags = spec_tags(c->input, "snapshot");
    json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O?, s:b, s:s, s:o}", "SnapshotId", id, "VolumeId", vid,
                          "State", "pending", "StartTime", now, "Progress", "0%", "OwnerId", twin_aws_account(c->t),
                          "VolumeSize", json_object_get(v, "Size"), "Encrypted",
                          json_is_true(json_object_get(v, "Encrypted")), "Description",
                          twin__aws_str(c->input, "Description") ?: "", "Tags", tags);
    twin__aws_put(c->t, "EC2Snapshot", id, d);
    c->output = d;
    json_decref(v);
    free(id);
    free(now);
    return 0;
}

static int delete_snapshot(aws_ctx *c)
{
    const char *id = twin__aws_str(c->input, "SnapshotId");
    if (!id || twin__aws_del(c->t, "EC2Snapshot", id) < 0)
        return not_found(c, "EC2Snapshot", id);
    c->output = json_object();
    return 0;
}

static int delete_vpc(aws_ctx *c)
{
    const char *id = twin__aws_str(c->input, "VpcId");
    json_t *v = id ? twin__aws_get(c->t, "EC2Vpc", id) : NULL;
    if (!v)
        return not_found(c, "EC2Vpc", id);
    json_decref(v);
    json_t *subnets = twin__aws_list_label(c->t, "EC2Subnet", "aws.airlock.dev/vpc", id);
    json_t *sgs = twin__aws_list_label(c->t, "EC2SecurityGroup", "aws.airlock.dev/vpc", id);
    size_t others = 0, i;
    json_t *o;
    json_array_foreach(sgs, i, o) others += !twin__aws_is(twin__aws_str(twin__aws_doc(o), "GroupName"), "default");
    int deps = json_array_size(subnets) || others;
    if (!deps) {
        /* its default security group goes with it */
        json_array_foreach(sgs, i, o) twin__aws_del(c->t, "EC2SecurityGroup", twin__name(o));
        twin__aws_del(c->t, "EC2Vpc", id);
        c->output = json_object();
    }
    json_decref(subnets);
    json_decref(sgs);
    if (deps)
        return twin__aws_error(c, 400, "DependencyViolation", "The vpc '%s' has dependencies and cannot be deleted.", id);
    return 0;
}

static int delete_subnet(aws_ctx *c)
{
    const char *id = twin__aws_str(c->input, "SubnetId");
    json_t *s = id ? twin__aws_get(c->t, "EC2Subnet", id) : NULL;
    if (!s)
        return not_found(c, "EC2Subnet", id);
    json_decref(s);
    json_t *inst = twin__aws_list_label(c->t, "EC2Instance", "aws.airlock.dev/subnet", id);
    int used = 0;
    size_t i;
    json_t *o;
    json_array_foreach(inst, i, o) used |= !twin__aws_is(twin__aws_ec2_state(twin__aws_doc(o)), "terminated");
    json_decref(inst);
    if (used)
        return twin__aws_error(c, 400, "DependencyViolation", "The subnet '%s' has dependencies and cannot be deleted.",
                               id);
    twin__aws_del(c->t, "EC2Subnet", id);
    c->output = json_object();
    return 0;
}

static int modify_subnet_attribute(aws_ctx *c)
{
    const char *id;
    json_t *d = need_doc(c, "EC2Subnet", "SubnetId", &id);
    if (!d)
        return 0;
    int map = bool_value(json_object_get(c->input, "MapPublicIpOnLaunch"));
    if (map >= 0)
        json_object_set_new(d, "MapPublicIpOnLaunch", json_boolean(map));
    return twin__aws_done(c, "EC2Subnet", id, d, 1);
}

const aws_op twin__aws_ec2_ops[] = {
    {"ec2", "DescribeInstances", 1, describe_instances},
    {"ec2", "DescribeInstanceAttribute", 1, describe_instance_attribute},
    {"ec2", "DescribeSecurityGroups", 1, describe_security_groups},
    {"ec2", "DescribeVpcs", 1, describe_vpcs},
    {"ec2", "DescribeSubnets", 1, describe_subnets},
    {"ec2", "DescribeVolumes", 1, describe_volumes},
    {"ec2", "DescribeSnapshots", 1, describe_snapshots},
    {"ec2", "RunInstances", 0, run_instances},
    {"ec2", "TerminateInstances", 0, terminate_instances},
    {"ec2", "StopInstances", 0, stop_instances},
    {"ec2", "StartInstances", 0, start_instances},
    {"ec2", "RebootInstances", 0, reboot_instances},
    {"ec2", "ModifyInstanceAttribute", 0, modify_instance_attribute},
    {"ec2", "AuthorizeSecurityGroupIngress", 0, authorize_ingress},
    {"ec2", "AuthorizeSecurityGroupEgress", 0, authorize_egress},
    {"ec2", "RevokeSecurityGroupIngress", 0, revoke_ingress},
    {"ec2", "RevokeSecurityGroupEgress", 0, revoke_egress},
    {"ec2", "CreateSecurityGroup", 0, create_security_group},
    {"ec2", "DeleteSecurityGroup", 0, delete_security_group},
    {"ec2", "CreateTags", 0, create_tags},
    {"ec2", "DeleteTags", 0, delete_tags},
    {"ec2", "DeleteVolume", 0, delete_volume},
    {"ec2", "CreateSnapshot", 0, create_snapshot},
    {"ec2", "DeleteSnapshot", 0, delete_snapshot},
    {"ec2", "DeleteVpc", 0, delete_vpc},
    {"ec2", "DeleteSubnet", 0, delete_subnet},
    {"ec2", "ModifySubnetAttribute", 0, modify_subnet_attribute},
    {NULL, NULL, 0, NULL},
};

/* ---- the impact: instances disrupted, internet exposure, data at risk ---- */

void twin__aws_ec2_moment(twin *t, json_t *m)
{
    json_t *out = json_array();
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (strcmp(c->kind, "EC2Instance") || !c->before)
            continue;
        const json_t *b = twin__aws_doc(c->before), *a = c->after ? twin__aws_doc(c->after) : NULL;
        const char *from = twin__aws_ec2_state(b), *to = a ? twin__aws_ec2_state(a) : "gone";
        if (!twin__aws_is(from, "running") || twin__aws_is(to, "running") || twin__aws_is(to, "pending"))
            continue;
        json_array_append_new(out, json_pack("{s:s, s:s, s:s?, s:s, s:s}", "id", c->name, "name",
                                             twin__aws_display(b, c->name), "group",
                                             twin__aws_tag(b, "aws:autoscaling:groupName"), "from", from, "to", to));
    }
    json_object_set_new(m, "instances_disrupted", out);
}

/* What "internet -> GROUP:port" pairs an instance makes: its group name
 * (Auto Scaling group, else Name tag, else id). */
static const char *exposure_group(const json_t *d, const char *id)
{
    const char *asg = twin__aws_tag(d, "aws:autoscaling:groupName");
    return asg ? asg : twin__aws_display(d, id);
}

/* Adds to pairs (key -> json pair) what one instance version exposes;
 * before selects the security groups' versions. */
static void exposed_pairs(twin *t, const json_t *d, const char *id, int before, twin_map *pairs)
{
    const char *s = twin__aws_ec2_state(d);
    if (!d || !(twin__aws_is(s, "running") || twin__aws_is(s, "pending")) || !twin__aws_str(d, "PublicIpAddress"))
        return;
    const char *group = exposure_group(d, id);
    size_t i, j, k;
    json_t *g, *p, *r;
    json_array_foreach(json_object_get(d, "SecurityGroups"), i, g) {
        const char *gid = twin__aws_str(g, "GroupId");
        if (!gid)
            continue;
        json_t *sg = before ? twin__aws_before(t, "EC2SecurityGroup", gid) : twin__aws_get(t, "EC2SecurityGroup", gid);
        json_array_foreach(json_object_get(twin__aws_doc(sg), "IpPermissions"), j, p) {
            char proto[16];
            if (norm_proto(twin__aws_str(p, "IpProtocol"), proto) < 0)
                continue;
            long from = -1, to = -1;
            if (strcmp(proto, "-1")) {
                from = (long)json_integer_value(json_object_get(p, "FromPort"));
                to = (long)json_integer_value(json_object_get(p, "ToPort"));
            }
            const char *ranges[][2] = {{"IpRanges", "CidrIp"}, {"Ipv6Ranges", "CidrIpv6"}};
            for (int q = 0; q < 2; q++) {
                json_array_foreach(json_object_get(p, ranges[q][0]), k, r) {
                    const char *cidr = twin__aws_str(r, ranges[q][1]);
                    if (!twin__aws_is(cidr, "0.0.0.0/0") && !twin__aws_is(cidr, "::/0"))
                        continue;
                    char *key = twin_xasprintf("%s\x1f%s\x1f%ld\x1f%ld\x1f%s", group, proto, from, to, cidr);
                    json_t *pair = twin_map_get(pairs, key);
                    if (!pair) {
                        pair = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:[], s:s}", "from", "internet", "to",
                                         group, "port", (json_int_t)from, "to_port", (json_int_t)to, "proto",
                                         !strcmp(proto, "-1") ? "all" : proto, "instance", id, "group_ids", "cidr",
                                         cidr);
                        twin_map_put(pairs, key, pair);
                    }
                    if (!twin__aws_in_list(json_object_get(pair, "group_ids"), gid))
                        json_array_append_new(json_object_get(pair, "group_ids"), json_string(gid));
                    free(key);
                }
            }
        }
        json_decref(sg);
    }
}

static void pair_free(void *p) { json_decref(p); }

static void add_instance(twin_map *set, const char *id)
{
    if (!twin_map_has(set, id))
        twin_map_put(set, id, (void *)1);
}

/* The instances whose exposure may have changed: those changed, those of
 * a changed security group, and every member of their exposure groups (so
 * that a pair another member still makes is not reported removed). */
static void affected_instances(twin *t, twin_map *set)
{
    json_t *groups = json_array();
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (!strcmp(c->kind, "EC2Instance")) {
            add_instance(set, c->name);
        } else if (!strcmp(c->kind, "EC2SecurityGroup")) {
            char *key = twin_xasprintf("sg.aws.airlock.dev/%s", c->name);
            json_t *l = twin__aws_list_label(t, "EC2Instance", key, TWIN_AWS_LABEL_TRUE);
            size_t i;
            json_t *o;
            json_array_foreach(l, i, o) add_instance(set, twin__name(o));
            json_decref(l);
            free(key);
        }
    }
    TWIN_MAP_FOREACH(set, e) {
        json_t *now = twin__aws_get(t, "EC2Instance", e->key);
        json_t *was = twin__aws_before(t, "EC2Instance", e->key);
        for (int k = 0; k < 2; k++) {
            const json_t *d = twin__aws_doc(k ? was : now);
            if (!d)
                continue;
            const char *asg = twin__aws_tag(d, "aws:autoscaling:groupName");
            const char *name = twin__aws_tag(d, "Name");
            if (asg)
                json_array_append_new(groups, json_pack("[ss]", "aws.airlock.dev/asg", asg));
            else if (name)
                json_array_append_new(groups, json_pack("[ss]", "aws.airlock.dev/name", name));
        }
        json_decref(now);
        json_decref(was);
    }
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g) {
        json_t *l = twin__aws_list_label(t, "EC2Instance", json_string_value(json_array_get(g, 0)),
                                         json_string_value(json_array_get(g, 1)));
        size_t j;
        json_t *o;
        json_array_foreach(l, j, o) add_instance(set, twin__name(o));
        json_decref(l);
    }
    json_decref(groups);
}

static int cmp_pair(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The pairs of `in` not in `out`, sorted by key (new array). */
static json_t *pairs_minus(twin_map *in, twin_map *out)
{
    const char **keys = twin_xmalloc((in->count + 1) * sizeof *keys);
    size_t n = 0;
    TWIN_MAP_FOREACH(in, e) if (!twin_map_has(out, e->key)) keys[n++] = e->key;
    qsort(keys, n, sizeof *keys, cmp_pair);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(arr, twin_map_get(in, keys[i]));
    free(keys);
    return arr;
}

static void exposure(twin *t, json_t *impact)
{
    twin_map set = {0}, before = {0}, after = {0};
    affected_instances(t, &set);
    TWIN_MAP_FOREACH(&set, e) {
        json_t *now = twin__aws_get(t, "EC2Instance", e->key);
        json_t *was = twin__aws_before(t, "EC2Instance", e->key);
        exposed_pairs(t, twin__aws_doc(was), e->key, 1, &before);
        exposed_pairs(t, twin__aws_doc(now), e->key, 0, &after);
        json_decref(now);
        json_decref(was);
    }
    json_object_set_new(impact, "exposure", json_pack("{s:o, s:o}", "added", pairs_minus(&after, &before), "removed",
                                                      pairs_minus(&before, &after)));
    twin_map_clear(&set, NULL);
    twin_map_clear(&before, pair_free);
    twin_map_clear(&after, pair_free);
}

void twin__aws_ec2_impact(twin *t, json_t *impact)
{
    exposure(t, impact);
    json_t *risk = json_object_get(impact, "data_at_risk");
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (c->after || !c->before)
            continue;
        const char *type = !strcmp(c->kind, "EC2Volume") ? "volume" : !strcmp(c->kind, "EC2Snapshot") ? "snapshot" : NULL;
        if (type)
            json_array_append_new(risk, json_pack("{s:s, s:s, s:b}", "type", type, "id", c->name, "critical",
                                                  twin__aws_critical(twin__aws_doc(c->before))));
    }
}

/* ---- import and export ---- */

/* One item of an import (twin__aws_import_items). */
static int import_one(twin *t, const char *kind, const char *key, size_t i, const json_t *d, const char *id,
                      char *err, size_t errlen)
{
    const char *arrays[] = {"Tags", "SecurityGroups", "IpPermissions", "IpPermissionsEgress", "Attachments"};
    for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) {
        json_t *a = json_object_get(d, arrays[k]);
        if (a && !json_is_array(a)) {
            snprintf(err, errlen, "%s[%zu] (%s): %s must be an array", key, i, id, arrays[k]);
            return -1;
        }
    }
    if (!strcmp(kind, "EC2Instance") && !twin__aws_ec2_state(d)) {
        snprintf(err, errlen, "%s[%zu] (%s): State.Name is required", key, i, id);
        return -1;
    }
    twin__aws_put(t, kind, id, d);
    return 0;
}

static int import_list(twin *t, const json_t *doc, const char *key, const char *kind, const char *id_key,
                       char *err, size_t errlen)
{
    return twin__aws_import_items(t, doc, key, kind, id_key, id_key, import_one, err, errlen);
}

int twin__aws_ec2_import(twin *t, const json_t *doc, char *err, size_t errlen)
{
    int n = 0, k;
    json_t *res = json_object_get(doc, "Reservations");
    if (res && !json_is_array(res)) {
        snprintf(err, errlen, "Reservations: must be an array");
        return -1;
    }
    size_t i;
    json_t *r;
    json_array_foreach(res, i, r) {
        if (!json_is_array(json_object_get(r, "Instances"))) {
            snprintf(err, errlen, "Reservations[%zu]: Instances must be an array", i);
            return -1;
        }
        char key[64];
        snprintf(key, sizeof key, "Reservations[%zu].Instances", i);
        json_t *wrap = json_pack("{s:O}", key, json_object_get(r, "Instances"));
        k = import_list(t, wrap, key, "EC2Instance", "InstanceId", err, errlen);
        json_decref(wrap);
        if (k < 0)
            return -1;
        n += k;
    }
    static const struct {
        const char *key, *kind, *id;
    } LISTS[] = {{"SecurityGroups", "EC2SecurityGroup", "GroupId"}, {"Vpcs", "EC2Vpc", "VpcId"},
                 {"Subnets", "EC2Subnet", "SubnetId"},              {"Volumes", "EC2Volume", "VolumeId"},
                 {"Snapshots", "EC2Snapshot", "SnapshotId"}};
    for (size_t j = 0; j < sizeof LISTS / sizeof LISTS[0]; j++) {
        if ((k = import_list(t, doc, LISTS[j].key, LISTS[j].kind, LISTS[j].id, err, errlen)) < 0)
            return -1;
        n += k;
    }
    return n;
}

void twin__aws_ec2_export(twin *t, json_t *state)
{
    json_t *inst = twin__aws_docs(t, "EC2Instance", 0), *res = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(inst, i, d) {
        json_t *one = json_pack("[O]", d);
        json_array_append_new(res, reservation_of(t, one));
        json_decref(one);
    }
    json_decref(inst);
    json_object_set_new(state, "Reservations", res);
    json_object_set_new(state, "SecurityGroups", twin__aws_docs(t, "EC2SecurityGroup", 0));
    json_object_set_new(state, "Vpcs", twin__aws_docs(t, "EC2Vpc", 0));
    json_object_set_new(state, "Subnets", twin__aws_docs(t, "EC2Subnet", 0));
    json_object_set_new(state, "Volumes", twin__aws_docs(t, "EC2Volume", 0));
    json_object_set_new(state, "Snapshots", twin__aws_docs(t, "EC2Snapshot", 0));
}
