/*
 * aws_asg.c - EC2 Auto Scaling groups in the twin and their controller:
 * the group keeps its desired capacity (a member that is terminated,
 * stopped or gone is replaced; capacity above desired is terminated),
 * new members start Pending and become InService once their instance
 * runs, and every member is registered in the group's target groups.
 *
 * Where the twin simplifies Auto Scaling:
 *   - launch templates are not modelled: a new member is launched like the
 *     group's newest member (image, type, security groups), else with the
 *     group's "InstanceType" (a member of the twin's own) or m5.large;
 *   - a member whose instance is stopping or stopped fails its EC2 health
 *     check at once and is terminated and replaced (Auto Scaling waits for
 *     the health check; no grace period, no cooldown, no suspended
 *     processes, no lifecycle hooks, no warm pools);
 *   - a terminated member leaves Instances at once (Auto Scaling shows it
 *     Terminating first);
 *   - scale-in follows the default termination policy, made deterministic:
 *     the Availability Zone with the most members (ties: the first zone by
 *     name), then members whose launch template version differs from the
 *     group's, then the oldest LaunchTime (standing in for "closest to the
 *     next billing hour", which per-second billing made moot), then the
 *     smallest InstanceId; members ProtectedFromScaleIn are kept;
 *   - scale-out balances zones: each new member goes to the subnet of
 *     VPCZoneIdentifier whose zone has the fewest members (ties: the order
 *     of VPCZoneIdentifier).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"
#include "twin_int.h"

static long num(const json_t *d, const char *k) { return (long)json_integer_value(json_object_get(d, k)); }

/* The target group name of a target group ARN (…:targetgroup/NAME/id):
 * new string, or NULL. */
static char *tg_name_of(const char *arn)
{
    const char *p = arn ? strstr(arn, ":targetgroup/") : NULL;
    if (!p)
        return NULL;
    p += strlen(":targetgroup/");
    const char *slash = strchr(p, '/');
    return twin_xasprintf("%.*s", (int)(slash ? slash - p : (long)strlen(p)), p);
}

static void register_member(twin *t, const json_t *d, const char *id)
{
    size_t i;
    json_t *arn;
    json_array_foreach(json_object_get(d, "TargetGroupARNs"), i, arn) {
        char *tg = tg_name_of(json_string_value(arn));
        if (tg)
            twin__aws_elb_register(t, tg, id, 0);
        free(tg);
    }
}

/* ---- the controller ---- */

static const char *zone_of_subnet(twin *t, const char *subnet, char *buf, size_t n)
{
    json_t *s = twin__aws_get(t, "EC2Subnet", subnet);
    snprintf(buf, n, "%s", twin__aws_str(twin__aws_doc(s), "AvailabilityZone") ?: "");
    json_decref(s);
    return buf;
}

static long zone_count(const json_t *members, const char *zone)
{
    long n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) n += twin__aws_is(twin__aws_str(m, "AvailabilityZone"), zone);
    return n;
}

/* The subnet for the next member (new string), or NULL when the group
 * names none that exists. */
static char *next_subnet(twin *t, const json_t *d, const json_t *members)
{
    char *list = twin_xstrdup(twin__aws_str(d, "VPCZoneIdentifier") ?: "");
    char *best = NULL, *save = NULL;
    long best_n = 0;
    char zone[64];
    for (char *s = strtok_r(list, ", ", &save); s; s = strtok_r(NULL, ", ", &save)) {
        json_t *sub = twin__aws_get(t, "EC2Subnet", s);
        json_decref(sub);
        if (!sub)
            continue;
        long n = zone_count(members, zone_of_subnet(t, s, zone, sizeof zone));
        if (!best || n < best_n) {
            free(best);
            best = twin_xstrdup(s);
            best_n = n;
        }
    }
    free(list);
    return best;
}

/* The index in members of the next member to terminate on scale-in (the
 * order in the header), or -1 when every member is protected. */
static long next_victim(twin *t, const json_t *d, const json_t *members)
{
    const char *zone = NULL;
    long zone_n = -1;
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        if (json_is_true(json_object_get(m, "ProtectedFromScaleIn")))
            continue;
        const char *z = twin__aws_str(m, "AvailabilityZone") ?: "";
        long n = zone_count(members, z);
        if (n > zone_n || (n == zone_n && strcmp(z, zone) < 0)) {
            zone = z;
            zone_n = n;
        }
    }
    if (!zone)
        return -1;
    const char *version = twin__aws_str(json_object_get(d, "LaunchTemplate"), "Version");
    long best = -1;
    int best_old = 0;
    char *best_time = NULL;
    json_array_foreach(members, i, m) {
        if (json_is_true(json_object_get(m, "ProtectedFromScaleIn")) ||
            !twin__aws_is(twin__aws_str(m, "AvailabilityZone") ?: "", zone))
            continue;
        const char *v = twin__aws_str(json_object_get(m, "LaunchTemplate"), "Version");
        int old = version && v && strcmp(v, version);
        json_t *inst = twin__aws_get(t, "EC2Instance", twin__aws_str(m, "InstanceId"));
        const char *lt = twin__aws_str(twin__aws_doc(inst), "LaunchTime") ?: "";
        int better = best < 0 || old > best_old ||
                     (old == best_old &&
                      (strcmp(lt, best_time) < 0 ||
                       (!strcmp(lt, best_time) &&
                        strcmp(twin__aws_str(m, "InstanceId") ?: "",
                               twin__aws_str(json_array_get(members, (size_t)best), "InstanceId") ?: "") < 0)));
        if (better) {
            best = (long)i;
            best_old = old;
            free(best_time);
            best_time = twin_xstrdup(lt);
        }
        json_decref(inst);
    }
    free(best_time);
    return best;
}

void twin__aws_asg_reconcile(twin *t, const char *name)
{
    json_t *d = twin__aws_doc_copy(t, "AutoScalingGroup", name);
    if (!d)
        return;
    json_t *old = json_deep_copy(d);
    json_t *members = json_array();
    size_t i;
    json_t *m;
    /* members as their instances say */
    json_array_foreach(json_object_get(d, "Instances"), i, m) {
        const char *id = twin__aws_str(m, "InstanceId");
        json_t *inst = twin__aws_get(t, "EC2Instance", id);
        const char *s = inst ? twin__aws_ec2_state(twin__aws_doc(inst)) : NULL;
        if (twin__aws_is(s, "stopping") || twin__aws_is(s, "stopped")) {
            twin__aws_ec2_terminate(t, id);   /* unhealthy: replaced */
        } else if (s && !twin__aws_is(s, "shutting-down") && !twin__aws_is(s, "terminated")) {
            json_t *copy = json_deep_copy(m);
            json_object_set_new(copy, "LifecycleState",
                                json_string(twin__aws_is(s, "running") ? "InService" : "Pending"));
            json_object_set_new(copy, "HealthStatus", json_string("Healthy"));
            json_array_append_new(members, copy);
        }
        json_decref(inst);
    }
    long desired = num(d, "DesiredCapacity");
    while ((long)json_array_size(members) > desired) {
        long v = next_victim(t, d, members);
        if (v < 0)
            break;
        twin__aws_ec2_terminate(t, twin__aws_str(json_array_get(members, (size_t)v), "InstanceId"));
        json_array_remove(members, (size_t)v);
    }
    while ((long)json_array_size(members) < desired) {
        char *subnet = next_subnet(t, d, members);
        if (!subnet)
            break;   /* nowhere to launch: the group stays short, as Auto Scaling's failed activities leave it */
        json_t *group_obj = json_pack("{s:O}", "aws", d);
        char *id = twin__aws_ec2_launch(t, group_obj, subnet);
        json_decref(group_obj);
        json_t *inst = twin__aws_get(t, "EC2Instance", id);
        const json_t *idoc = twin__aws_doc(inst);
        json_t *member = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "InstanceId", id, "InstanceType",
                                   twin__aws_str(idoc, "InstanceType") ?: "", "AvailabilityZone",
                                   twin__aws_str(json_object_get(idoc, "Placement"), "AvailabilityZone") ?: "",
                                   "LifecycleState", "Pending", "HealthStatus", "Healthy", "ProtectedFromScaleIn",
                                   json_is_true(json_object_get(d, "NewInstancesProtectedFromScaleIn")));
        if (json_object_get(d, "LaunchTemplate"))
            json_object_set(member, "LaunchTemplate", json_object_get(d, "LaunchTemplate"));
        json_array_append_new(members, member);
        register_member(t, d, id);
        json_decref(inst);
        free(id);
        free(subnet);
    }
    json_object_set_new(d, "Instances", members);
    if (!json_equal(d, old))
        twin__aws_put(t, "AutoScalingGroup", name, d);
    json_decref(old);
    json_decref(d);
}

/* ---- operations ---- */

static int not_found(aws_ctx *c, const char *name)
{
    return twin__aws_error(c, 400, "ValidationError", "AutoScalingGroup name not found - AutoScalingGroup %s not found",
                           name ? name : "");
}

static json_t *group_or_error(aws_ctx *c)
{
    const char *name = twin__aws_str(c->input, "AutoScalingGroupName");
    json_t *d = name ? twin__aws_doc_copy(c->t, "AutoScalingGroup", name) : NULL;
    if (!d)
        not_found(c, name);
    return d;
}

static int tag_match(aws_ctx *c, const json_t *d)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(c->input, "Filters"), i, f) {
        const char *name = twin__aws_str(f, "Name");
        json_t *values = json_object_get(f, "Values");
        int hit = 0;
        size_t j, k;
        json_t *v, *tag;
        json_array_foreach(values, j, v) json_array_foreach(json_object_get(d, "Tags"), k, tag) {
            const char *want = json_string_value(v);
            if (!name || !want)
                continue;
            if (!strncmp(name, "tag:", 4))
                hit |= twin__aws_is(twin__aws_str(tag, "Key"), name + 4) &&
                       twin__aws_is(twin__aws_str(tag, "Value"), want);
            else if (!strcmp(name, "tag-key"))
                hit |= twin__aws_is(twin__aws_str(tag, "Key"), want);
            else if (!strcmp(name, "tag-value"))
                hit |= twin__aws_is(twin__aws_str(tag, "Value"), want);
        }
        if (twin__aws_is(name, "auto-scaling-group")) {
            const char *gname = twin__aws_str(d, "AutoScalingGroupName");
            json_array_foreach(values, j, v) hit |= twin__aws_is(gname, json_string_value(v));
        }
        if (!hit)
            return 0;
    }
    return 1;
}

static int describe_groups(aws_ctx *c)
{
    const json_t *names = json_object_get(c->input, "AutoScalingGroupNames");
    json_t *all = twin__aws_list(c->t, "AutoScalingGroup"), *out = json_array();
    size_t i, j;
    json_t *o, *n;
    json_array_foreach(all, i, o) {
        const json_t *d = twin__aws_doc(o);
        int named = !json_array_size(names);
        const char *gname = twin__aws_str(d, "AutoScalingGroupName");
        json_array_foreach(names, j, n) named |= twin__aws_is(gname, json_string_value(n));
        if (named && tag_match(c, d))
            json_array_append(out, (json_t *)d);
    }
    json_decref(all);
    c->output = json_pack("{s:o}", "AutoScalingGroups", out);
    return 0;
}

static int describe_instances(aws_ctx *c)
{
    const json_t *ids = json_object_get(c->input, "InstanceIds");
    json_t *all = twin__aws_list(c->t, "AutoScalingGroup"), *out = json_array();
    size_t i, j, k;
    json_t *o, *m, *id;
    json_array_foreach(all, i, o) {
        const json_t *d = twin__aws_doc(o);
        json_array_foreach(json_object_get(d, "Instances"), j, m) {
            int named = !json_array_size(ids);
            json_array_foreach(ids, k, id) named |= twin__aws_is(twin__aws_str(m, "InstanceId"), json_string_value(id));
            if (!named)
                continue;
            json_t *e = json_deep_copy(m);
            json_object_set_new(e, "AutoScalingGroupName", json_string(twin__aws_str(d, "AutoScalingGroupName")));
            json_array_append_new(out, e);
        }
    }
    json_decref(all);
    c->output = json_pack("{s:o}", "AutoScalingInstances", out);
    return 0;
}

static int set_desired(aws_ctx *c)
{
    json_t *d = group_or_error(c);
    if (!d)
        return 0;
    json_t *v = json_object_get(c->input, "DesiredCapacity");
    if (!json_is_integer(v)) {
        json_decref(d);
        return twin__aws_error(c, 400, "ValidationError", "DesiredCapacity is required");
    }
    long n = (long)json_integer_value(v), min = num(d, "MinSize"), max = num(d, "MaxSize");
    if (n > max || n < min) {
        json_decref(d);
        return twin__aws_error(c, 400, "ValidationError",
                               "New SetDesiredCapacity value %ld is %s %s value %ld for the AutoScalingGroup.", n,
                               n > max ? "above" : "below", n > max ? "max" : "min", n > max ? max : min);
    }
    json_object_set_new(d, "DesiredCapacity", json_integer(n));
    return twin__aws_done(c, "AutoScalingGroup", twin__aws_str(d, "AutoScalingGroupName"), d, 1);
}

static int update_group(aws_ctx *c)
{
    json_t *d = group_or_error(c);
    if (!d)
        return 0;
    const char *ints[] = {"MinSize", "MaxSize", "DesiredCapacity", "DefaultCooldown", "HealthCheckGracePeriod"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        json_t *v = json_object_get(c->input, ints[i]);
        if (v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
            json_decref(d);
            return twin__aws_error(c, 400, "ValidationError", "%s must be a non-negative integer", ints[i]);
        }
        if (v)
            json_object_set(d, ints[i], v);
    }
    long min = num(d, "MinSize"), max = num(d, "MaxSize"), desired = num(d, "DesiredCapacity");
    if (min > max) {
        json_decref(d);
        return twin__aws_error(c, 400, "ValidationError", "Max bound, %ld, must be greater than or equal to min bound, %ld",
                               max, min);
    }
    if (json_object_get(c->input, "DesiredCapacity")) {
        if (desired < min || desired > max) {
            json_decref(d);
            return twin__aws_error(c, 400, "ValidationError",
                                   "Desired capacity:%ld must be between the specified min size:%ld and max size:%ld",
                                   desired, min, max);
        }
    } else {
        /* new bounds carry the desired capacity with them */
        json_object_set_new(d, "DesiredCapacity", json_integer(desired < min ? min : desired > max ? max : desired));
    }
    const char *members[] = {"VPCZoneIdentifier", "LaunchTemplate", "HealthCheckType", "TerminationPolicies",
                             "NewInstancesProtectedFromScaleIn"};
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
        if (json_object_get(c->input, members[i]))
            json_object_set(d, members[i], json_object_get(c->input, members[i]));
    return twin__aws_done(c, "AutoScalingGroup", twin__aws_str(d, "AutoScalingGroupName"), d, 1);
}

static int terminate_in_group(aws_ctx *c)
{
    const char *id = twin__aws_str(c->input, "InstanceId");
    json_t *dec = json_object_get(c->input, "ShouldDecrementDesiredCapacity");
    if (!id || !json_is_boolean(dec))
        return twin__aws_error(c, 400, "ValidationError",
                               "InstanceId and ShouldDecrementDesiredCapacity are required");
    json_t *inst = twin__aws_get(c->t, "EC2Instance", id);
    const char *gname = twin__aws_tag(twin__aws_doc(inst), "aws:autoscaling:groupName");
    json_t *d = gname ? twin__aws_doc_copy(c->t, "AutoScalingGroup", gname) : NULL;
    json_decref(inst);
    long at = -1;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(d, "Instances"), i, m) if (twin__aws_is(twin__aws_str(m, "InstanceId"), id))
        at = (long)i;
    if (at < 0) {
        json_decref(d);
        return twin__aws_error(c, 400, "ValidationError", "Instance Id not found - No managed instance found for instance ID: %s", id);
    }
    long desired = num(d, "DesiredCapacity"), min = num(d, "MinSize");
    if (json_is_true(dec)) {
        if (desired - 1 < min) {
            json_decref(d);
            return twin__aws_error(c, 400, "ValidationError",
                                   "Currently, desiredSize equals minSize (%ld). Terminating instance without "
                                   "replacement will violate group's min size constraint. Either set "
                                   "shouldDecrementDesiredCapacity flag to false or lower group's min size.",
                                   min);
        }
        json_object_set_new(d, "DesiredCapacity", json_integer(desired - 1));
    }
    json_array_remove(json_object_get(d, "Instances"), (size_t)at);
    twin__aws_ec2_terminate(c->t, id);
    twin__aws_put(c->t, "AutoScalingGroup", gname, d);
    char *aid = twin__uuid(c->t);
    char *now = twin__timestamp(c->t);
    char *desc = twin_xasprintf("Terminating EC2 instance: %s", id);
    char *cause = twin_xasprintf("At %s instance %s was taken out of service in response to a user request%s.", now,
                                 id, json_is_true(dec) ? ", shrinking the capacity from " : "");
    if (json_is_true(dec)) {
        free(cause);
        cause = twin_xasprintf("At %s instance %s was taken out of service in response to a user request, shrinking "
                               "the capacity from %ld to %ld.", now, id, desired, desired - 1);
    }
    c->output = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s, s:i}}", "Activity", "ActivityId", aid,
                          "AutoScalingGroupName", gname, "Description", desc, "Cause", cause, "StartTime", now,
                          "StatusCode", "InProgress", "Progress", 0);
    free(aid);
    free(now);
    free(desc);
    free(cause);
    json_decref(d);
    return 0;
}

static int delete_group(aws_ctx *c)
{
    json_t *d = group_or_error(c);
    if (!d)
        return 0;
    const char *name = twin__aws_str(c->input, "AutoScalingGroupName");
    json_t *members = json_object_get(d, "Instances");
    if (json_array_size(members) && !json_is_true(json_object_get(c->input, "ForceDelete"))) {
        json_decref(d);
        return twin__aws_error(c, 400, "ResourceInUse",
                               "You cannot delete an AutoScalingGroup while there are instances or pending Spot "
                               "instance request(s) still in the group.");
    }
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) twin__aws_ec2_terminate(c->t, twin__aws_str(m, "InstanceId"));
    twin__aws_del(c->t, "AutoScalingGroup", name);
    json_decref(d);
    c->output = json_object();
    return 0;
}

/* CreateOrUpdateTags (add 1) and DeleteTags (add 0). */
static int tags_call(aws_ctx *c, int add)
{
    const json_t *tags = json_object_get(c->input, "Tags");
    if (!json_is_array(tags) || !json_array_size(tags))
        return twin__aws_error(c, 400, "ValidationError", "Tags are required");
    size_t i;
    json_t *tag;
    json_array_foreach(tags, i, tag) {
        const char *rid = twin__aws_str(tag, "ResourceId");
        if (!rid || !twin__aws_str(tag, "Key"))
            return twin__aws_error(c, 400, "ValidationError", "Each tag needs a ResourceId and a Key");
        json_t *g = twin__aws_get(c->t, "AutoScalingGroup", rid);
        json_decref(g);
        if (!g)
            return not_found(c, rid);
    }
    json_array_foreach(tags, i, tag) {
        const char *rid = twin__aws_str(tag, "ResourceId"), *key = twin__aws_str(tag, "Key");
        json_t *d = twin__aws_doc_copy(c->t, "AutoScalingGroup", rid);
        json_t *have = twin__aws_array_of(d, "Tags");
        long at = twin__aws_tag_last(have, key);
        if (!add) {
            if (at >= 0)
                json_array_remove(have, (size_t)at);
        } else {
            json_t *n = json_pack("{s:s, s:s, s:s, s:s, s:b}", "ResourceId", rid, "ResourceType", "auto-scaling-group",
                                  "Key", key, "Value", twin__aws_str(tag, "Value") ?: "", "PropagateAtLaunch",
                                  json_is_true(json_object_get(tag, "PropagateAtLaunch")));
            if (at >= 0)
                json_array_set_new(have, (size_t)at, n);
            else
                json_array_append_new(have, n);
        }
        twin__aws_put(c->t, "AutoScalingGroup", rid, d);
        json_decref(d);
    }
    c->output = json_object();
    return 0;
}

static int create_or_update_tags(aws_ctx *c) { return tags_call(c, 1); }
static int delete_tags(aws_ctx *c) { return tags_call(c, 0); }

const aws_op twin__aws_asg_ops[] = {
    {"autoscaling", "DescribeAutoScalingGroups", 1, describe_groups},
    {"autoscaling", "DescribeAutoScalingInstances", 1, describe_instances},
    {"autoscaling", "SetDesiredCapacity", 0, set_desired},
    {"autoscaling", "UpdateAutoScalingGroup", 0, update_group},
    {"autoscaling", "TerminateInstanceInAutoScalingGroup", 0, terminate_in_group},
    {"autoscaling", "DeleteAutoScalingGroup", 0, delete_group},
    {"autoscaling", "CreateOrUpdateTags", 0, create_or_update_tags},
    {"autoscaling", "DeleteTags", 0, delete_tags},
    {NULL, NULL, 0, NULL},
};

/* ---- impact: groups with fewer InService running members ---- */

static long healthy(twin *t, const json_t *d, int before)
{
    long n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(d, "Instances"), i, m) {
        if (!twin__aws_is(twin__aws_str(m, "LifecycleState"), "InService"))
            continue;
        const char *id = twin__aws_str(m, "InstanceId");
        json_t *inst = before ? twin__aws_before(t, "EC2Instance", id) : twin__aws_get(t, "EC2Instance", id);
        n += inst && twin__aws_ready(inst);
        json_decref(inst);
    }
    return n;
}

void twin__aws_asg_moment(twin *t, json_t *m)
{
    twin_map names = {0};
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (!strcmp(c->kind, "AutoScalingGroup")) {
            twin_map_put(&names, c->name, (void *)1);
        } else if (!strcmp(c->kind, "EC2Instance")) {
            for (int k = 0; k < 2; k++) {
                const char *g = twin__aws_tag(twin__aws_doc(k ? c->after : c->before), "aws:autoscaling:groupName");
                if (g)
                    twin_map_put(&names, g, (void *)1);
            }
        }
    }
    json_t *out = json_array();
    TWIN_MAP_FOREACH(&names, e) {
        json_t *was = twin__aws_before(t, "AutoScalingGroup", e->key);
        json_t *now = twin__aws_get(t, "AutoScalingGroup", e->key);
        long hb = was ? healthy(t, twin__aws_doc(was), 1) : 0;
        long ha = now ? healthy(t, twin__aws_doc(now), 0) : 0;
        if (ha < hb) {
            const json_t *d = twin__aws_doc(now ? now : was);
            json_array_append_new(out, json_pack("{s:s, s:I, s:I, s:I, s:I, s:b, s:b}", "name", e->key,
                                                 "healthy_before", (json_int_t)hb, "healthy_after", (json_int_t)ha,
                                                 "desired", (json_int_t)num(d, "DesiredCapacity"), "min",
                                                 (json_int_t)num(d, "MinSize"), "critical", twin__aws_critical(d),
                                                 "deleted", now == NULL));
        }
        json_decref(was);
        json_decref(now);
    }
    twin_map_clear(&names, NULL);
    json_object_set_new(m, "asgs_degraded", out);
}

/* ---- import and export ---- */

/* One item of an import (twin__aws_import_items). */
static int import_one(twin *t, const char *kind, const char *key, size_t i, const json_t *d, const char *name,
                      char *err, size_t errlen)
{
    const char *ints[] = {"MinSize", "MaxSize", "DesiredCapacity"};
    for (size_t k = 0; k < 3; k++) {
        json_t *v = json_object_get(d, ints[k]);
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            snprintf(err, errlen, "AutoScalingGroups[%zu] (%s): %s must be a non-negative integer", i, name,
                     ints[k]);
            return -1;
        }
    }
    const char *arrays[] = {"Instances", "TargetGroupARNs", "Tags"};
    for (size_t k = 0; k < 3; k++) {
        json_t *v = json_object_get(d, arrays[k]);
        if (v && !json_is_array(v)) {
            snprintf(err, errlen, "AutoScalingGroups[%zu] (%s): %s must be an array", i, name, arrays[k]);
            return -1;
        }
    }
    twin__aws_put(t, kind, name, d);
    return 0;
}

int twin__aws_asg_import(twin *t, const json_t *doc, char *err, size_t errlen)
{
    return twin__aws_import_items(t, doc, "AutoScalingGroups", "AutoScalingGroup", "AutoScalingGroupName",
                                  "AutoScalingGroupName", import_one, err, errlen);
}

void twin__aws_asg_export(twin *t, json_t *state)
{
    json_object_set_new(state, "AutoScalingGroups", twin__aws_docs(t, "AutoScalingGroup", 0));
}
