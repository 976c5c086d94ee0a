/*
 * aws_elb.c - Elastic Load Balancing (v2) in the twin: load balancers,
 * target groups and the health of their targets.
 *
 * A target group's "aws" document holds, beside botocore's TargetGroup
 * shape, "Targets": [{Id, Port, State}] (its target health) and "Tags";
 * a load balancer's holds "Tags" too.  The describe answers leave both out,
 * as ELB does (tags are DescribeTags', health DescribeTargetHealth's).
 *
 * Target states follow ELB's: "initial" while registering (healthy once
 * settled, when the instance runs), "draining" while deregistering (gone
 * once settled), "unused" for an instance that is stopped (it stays
 * registered, as ELB keeps it; "initial" again when it starts).
 *
 * Where the twin simplifies ELB: no listeners or rules are modelled; a
 * target group is "in use" (DeleteTargetGroup's ResourceInUse) while its
 * LoadBalancerArns names a load balancer, which is what a listener
 * forwarding to it makes it; health checks always pass for a running
 * instance; no deregistration delay (draining targets leave once settled);
 * no deletion protection; targets are instances (TargetType "instance").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"
#include "twin_int.h"

/* The name in an ARN after marker ("…:targetgroup/NAME/id",
 * "…:loadbalancer/app/NAME/id"): new string or NULL. */
static char *name_in_arn(const char *arn, const char *marker, int skip_type)
{
    const char *p = arn ? strstr(arn, marker) : NULL;
    if (!p)
        return NULL;
    p += strlen(marker);
    if (skip_type) {
        p = strchr(p, '/');
        if (!p)
            return NULL;
        p++;
    }
    const char *slash = strchr(p, '/');
    return twin_xasprintf("%.*s", (int)(slash ? slash - p : (long)strlen(p)), p);
}

/* The resource an ARN names, if its stored ARN is that one (new reference). */
static json_t *by_arn(twin *t, const char *arn, int tg)
{
    char *name = tg ? name_in_arn(arn, ":targetgroup/", 0) : name_in_arn(arn, ":loadbalancer/", 1);
    json_t *obj = name ? twin__aws_get(t, tg ? "ELBv2TargetGroup" : "ELBv2LoadBalancer", name) : NULL;
    free(name);
    if (obj && !twin__aws_is(twin__aws_str(twin__aws_doc(obj), tg ? "TargetGroupArn" : "LoadBalancerArn"), arn)) {
        json_decref(obj);
        obj = NULL;
    }
    return obj;
}

/* The state a newly registered instance's target takes. */
static const char *fresh_state(twin *t, const char *instance_id)
{
    json_t *inst = twin__aws_get(t, "EC2Instance", instance_id);
    const char *s = twin__aws_ec2_state(twin__aws_doc(inst));
    const char *out = twin__aws_is(s, "stopped") || twin__aws_is(s, "stopping") ? "unused" : "initial";
    json_decref(inst);
    return out;
}

void twin__aws_elb_register(twin *t, const char *tg_name, const char *instance_id, int port)
{
    json_t *d = twin__aws_doc_copy(t, "ELBv2TargetGroup", tg_name);
    if (!d)
        return;
    json_int_t p = port > 0 ? port : json_integer_value(json_object_get(d, "Port"));
    json_t *l = twin__aws_array_of(d, "Targets");
    size_t i;
    json_t *tg;
    json_array_foreach(l, i, tg) {
        if (twin__aws_is(twin__aws_str(tg, "Id"), instance_id) &&
            json_integer_value(json_object_get(tg, "Port")) == p) {
            if (twin__aws_is(twin__aws_str(tg, "State"), "draining")) {   /* registered again while draining */
                json_object_set_new(tg, "State", json_string(fresh_state(t, instance_id)));
                twin__aws_put(t, "ELBv2TargetGroup", tg_name, d);
            }
            json_decref(d);
            return;
        }
    }
    json_array_append_new(l, json_pack("{s:s, s:I, s:s}", "Id", instance_id, "Port", p, "State",
                                       fresh_state(t, instance_id)));
    twin__aws_put(t, "ELBv2TargetGroup", tg_name, d);
    json_decref(d);
}

void twin__aws_elb_deregister(twin *t, const char *tg_name, const char *instance_id)
{
    json_t *d = twin__aws_doc_copy(t, "ELBv2TargetGroup", tg_name);
    if (!d)
        return;
    int changed = 0;
    size_t i;
    json_t *tg;
    json_array_foreach(twin__aws_array_of(d, "Targets"), i, tg) {
        if (twin__aws_is(twin__aws_str(tg, "Id"), instance_id) &&
            !twin__aws_is(twin__aws_str(tg, "State"), "draining")) {
            json_object_set_new(tg, "State", json_string("draining"));
            changed = 1;
        }
    }
    if (changed)
        twin__aws_put(t, "ELBv2TargetGroup", tg_name, d);
    json_decref(d);
}

void twin__aws_elb_instance_state(twin *t, const char *instance_id, const char *state)
{
    char *key = twin_xasprintf("target.aws.airlock.dev/%s", instance_id);
    json_t *tgs = twin__aws_list_label(t, "ELBv2TargetGroup", key, TWIN_AWS_LABEL_TRUE);
    free(key);
    size_t i, j;
    json_t *o, *tg;
    json_array_foreach(tgs, i, o) {
        json_t *d = json_deep_copy(twin__aws_doc(o));
        int changed = 0;
        json_array_foreach(twin__aws_array_of(d, "Targets"), j, tg) {
            if (!twin__aws_is(twin__aws_str(tg, "Id"), instance_id))
                continue;
            const char *cur = twin__aws_str(tg, "State"), *next = cur;
            if (twin__aws_is(state, "shutting-down") || twin__aws_is(state, "terminated"))
                next = "draining";
            else if (twin__aws_is(state, "stopping") || twin__aws_is(state, "stopped"))
                next = twin__aws_is(cur, "draining") ? cur : "unused";
            else if (twin__aws_is(cur, "unused"))
                next = "initial";
            if (!twin__aws_is(cur, next)) {
                json_object_set_new(tg, "State", json_string(next));
                changed = 1;
            }
        }
        if (changed)
            twin__aws_put(t, "ELBv2TargetGroup", twin__name(o), d);
        json_decref(d);
    }
    json_decref(tgs);
}

int twin__aws_elb_settle_tick(twin *t)
{
    json_t *names = json_array();
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (strcmp(c->kind, "ELBv2TargetGroup") || !c->after)
            continue;
        size_t i;
        json_t *tg;
        json_array_foreach(json_object_get(twin__aws_doc(c->after), "Targets"), i, tg) {
            if (twin__aws_is(twin__aws_str(tg, "State"), "initial") ||
                twin__aws_is(twin__aws_str(tg, "State"), "draining")) {
                json_array_append_new(names, json_string(c->name));
                break;
            }
        }
    }
    int moved = 0;
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n) {
        json_t *d = twin__aws_doc_copy(t, "ELBv2TargetGroup", json_string_value(n));
        json_t *l = twin__aws_array_of(d, "Targets"), *keep = json_array();
        size_t j;
        json_t *tg;
        json_array_foreach(l, j, tg) {
            const char *s = twin__aws_str(tg, "State");
            if (twin__aws_is(s, "draining")) {
                moved++;
                continue;
            }
            if (twin__aws_is(s, "initial")) {
                json_t *inst = twin__aws_get(t, "EC2Instance", twin__aws_str(tg, "Id"));
                if (inst && twin__aws_ready(inst)) {
                    json_object_set_new(tg, "State", json_string("healthy"));
                    moved++;
                }
                json_decref(inst);
            }
            json_array_append(keep, tg);
        }
        json_object_set_new(d, "Targets", keep);
        twin__aws_put(t, "ELBv2TargetGroup", json_string_value(n), d);
        json_decref(d);
    }
    json_decref(names);
    return moved;
}

/* ---- operations ---- */

static json_t *tg_or_error(aws_ctx *c, const char *arn)
{
    json_t *obj = arn ? by_arn(c->t, arn, 1) : NULL;
    if (!obj)
        twin__aws_error(c, 400, "TargetGroupNotFound", "Target groups '%s' not found", arn ? arn : "");
    return obj;
}

/* A describe answer's copy: without the twin's members. */
static json_t *shown(const json_t *d)
{
    json_t *o = json_deep_copy(d);
    json_object_del(o, "Targets");
    json_object_del(o, "Tags");
    return o;
}

static int describe_load_balancers(aws_ctx *c)
{
    const json_t *arns = json_object_get(c->input, "LoadBalancerArns"), *names = json_object_get(c->input, "Names");
    json_t *out = json_array();
    size_t i;
    json_t *v;
    if (json_array_size(arns) || json_array_size(names)) {
        json_array_foreach(arns, i, v) {
            json_t *o = by_arn(c->t, json_string_value(v), 0);
            if (!o) {
                json_decref(out);
                return twin__aws_error(c, 400, "LoadBalancerNotFound", "One or more load balancers not found");
            }
            json_array_append_new(out, shown(twin__aws_doc(o)));
            json_decref(o);
        }
        json_array_foreach(names, i, v) {
            json_t *o = json_string_value(v) ? twin__aws_get(c->t, "ELBv2LoadBalancer", json_string_value(v)) : NULL;
            if (!o) {
                json_decref(out);
                return twin__aws_error(c, 400, "LoadBalancerNotFound", "Load balancers '[%s]' not found",
                                       json_string_value(v) ?: "");
            }
            json_array_append_new(out, shown(twin__aws_doc(o)));
            json_decref(o);
        }
    } else {
        json_t *all = twin__aws_list(c->t, "ELBv2LoadBalancer");
        json_array_foreach(all, i, v) json_array_append_new(out, shown(twin__aws_doc(v)));
        json_decref(all);
    }
    c->output = json_pack("{s:o}", "LoadBalancers", out);
    return 0;
}

static int describe_target_groups(aws_ctx *c)
{
    const json_t *arns = json_object_get(c->input, "TargetGroupArns"), *names = json_object_get(c->input, "Names");
    const char *lb = json_string_value(json_object_get(c->input, "LoadBalancerArn"));
    if (lb) {
        json_t *o = by_arn(c->t, lb, 0);
        json_decref(o);
        if (!o)
            return twin__aws_error(c, 400, "LoadBalancerNotFound", "One or more load balancers not found");
    }
    json_t *out = json_array();
    size_t i, j;
    json_t *v, *a;
    if (json_array_size(arns) || json_array_size(names)) {
        json_array_foreach(arns, i, v) {
            json_t *o = tg_or_error(c, json_string_value(v));
            if (!o) {
                json_decref(out);
                return 0;
            }
            json_array_append_new(out, shown(twin__aws_doc(o)));
            json_decref(o);
        }
        json_array_foreach(names, i, v) {
            json_t *o = json_string_value(v) ? twin__aws_get(c->t, "ELBv2TargetGroup", json_string_value(v)) : NULL;
            if (!o) {
                json_decref(out);
                return twin__aws_error(c, 400, "TargetGroupNotFound", "One or more target groups not found");
            }
            json_array_append_new(out, shown(twin__aws_doc(o)));
            json_decref(o);
        }
    } else {
        json_t *all = twin__aws_list(c->t, "ELBv2TargetGroup");
        json_array_foreach(all, i, v) {
            int keep = !lb;
            json_array_foreach(json_object_get(twin__aws_doc(v), "LoadBalancerArns"), j, a) keep |=
                twin__aws_is(json_string_value(a), lb);
            if (keep)
                json_array_append_new(out, shown(twin__aws_doc(v)));
        }
        json_decref(all);
    }
    c->output = json_pack("{s:o}", "TargetGroups", out);
    return 0;
}

static json_t *health_of(const json_t *target, const json_t *tg)
{
    const char *s = twin__aws_str(target, "State") ?: "unavailable";
    json_t *h = json_pack("{s:s}", "State", s);
    const char *reason = twin__aws_is(s, "initial")    ? "Elb.RegistrationInProgress"
                         : twin__aws_is(s, "draining") ? "Target.DeregistrationInProgress"
                         : twin__aws_is(s, "unused")   ? "Target.InvalidState"
                                             : NULL;
    const char *desc = twin__aws_is(s, "initial")    ? "Target registration is in progress"
                       : twin__aws_is(s, "draining") ? "Target deregistration is in progress"
                       : twin__aws_is(s, "unused")   ? "Target is in the stopped state"
                                           : NULL;
    if (reason) {
        json_object_set_new(h, "Reason", json_string(reason));
        json_object_set_new(h, "Description", json_string(desc));
    }
    char port[16];
    json_int_t p = json_integer_value(json_object_get(target, "Port"));
    snprintf(port, sizeof port, "%lld", (long long)(p ? p : json_integer_value(json_object_get(tg, "Port"))));
    return json_pack(
        "{s:{s:s, s:I}, s:s, s:o}", "Target", "Id", twin__aws_str(target, "Id") ?: "", "Port", p, "HealthCheckPort",
        twin__aws_str(tg, "HealthCheckPort") && strcmp(twin__aws_str(tg, "HealthCheckPort"), "traffic-port")
            ? twin__aws_str(tg, "HealthCheckPort")
            : port,
        "TargetHealth", h);
}

static int describe_target_health(aws_ctx *c)
{
    json_t *o = tg_or_error(c, json_string_value(json_object_get(c->input, "TargetGroupArn")));
    if (!o)
        return 0;
    const json_t *d = twin__aws_doc(o), *want = json_object_get(c->input, "Targets");
    json_t *out = json_array();
    size_t i, j;
    json_t *tg, *w;
    json_array_foreach(json_object_get(d, "Targets"), i, tg) {
        int keep = !json_array_size(want);
        json_array_foreach(want, j, w) keep |= twin__aws_is(twin__aws_str(w, "Id"), twin__aws_str(tg, "Id"));
        if (keep)
            json_array_append_new(out, health_of(tg, d));
    }
    /* a target asked for and not registered is "unused" (Target.NotRegistered) */
    json_array_foreach(want, j, w) {
        int found = 0;
        json_array_foreach(json_object_get(d, "Targets"), i, tg) found |=
            twin__aws_is(twin__aws_str(w, "Id"), twin__aws_str(tg, "Id"));
        if (!found && twin__aws_str(w, "Id"))
            json_array_append_new(out, json_pack("{s:{s:s}, s:{s:s, s:s, s:s}}", "Target", "Id", twin__aws_str(w, "Id"),
                                                 "TargetHealth", "State", "unused", "Reason", "Target.NotRegistered",
                                                 "Description", "Target is not registered to the target group"));
    }
    json_decref(o);
    c->output = json_pack("{s:o}", "TargetHealthDescriptions", out);
    return 0;
}

/* RegisterTargets (add 1) and DeregisterTargets (add 0). */
static int targets_call(aws_ctx *c, int add)
{
    json_t *o = tg_or_error(c, json_string_value(json_object_get(c->input, "TargetGroupArn")));
    if (!o)
        return 0;
    const json_t *want = json_object_get(c->input, "Targets");
    char *name = twin_xstrdup(twin__name(o));
    json_decref(o);
    if (!json_is_array(want) || !json_array_size(want)) {
        free(name);
        return twin__aws_error(c, 400, "ValidationError", "Targets is required");
    }
    size_t i, j;
    json_t *w, *tg;
    json_array_foreach(want, i, w) {
        const char *id = twin__aws_str(w, "Id");
        json_t *inst = id ? twin__aws_get(c->t, "EC2Instance", id) : NULL;
        const char *s = twin__aws_ec2_state(twin__aws_doc(inst));
        int bad = !inst || (add && (twin__aws_is(s, "shutting-down") || twin__aws_is(s, "terminated")));
        json_decref(inst);
        if (add && bad) {
            free(name);
            return twin__aws_error(c, 400, "InvalidTarget",
                                   "The following targets are not in a running state and cannot be registered: '%s'",
                                   id ? id : "");
        }
        if (!add) {
            int found = 0;
            json_t *cur = twin__aws_get(c->t, "ELBv2TargetGroup", name);
            json_array_foreach(json_object_get(twin__aws_doc(cur), "Targets"), j, tg) found |=
                twin__aws_is(twin__aws_str(tg, "Id"), id);
            json_decref(cur);
            if (!found) {
                free(name);
                return twin__aws_error(c, 400, "InvalidTarget",
                                       "The following targets are not registered in target group: '%s'", id ? id : "");
            }
        }
    }
    json_array_foreach(want, i, w) {
        if (add)
            twin__aws_elb_register(c->t, name, twin__aws_str(w, "Id"),
                                   (int)json_integer_value(json_object_get(w, "Port")));
        else
            twin__aws_elb_deregister(c->t, name, twin__aws_str(w, "Id"));
    }
    free(name);
    c->output = json_object();
    return 0;
}

static int register_targets(aws_ctx *c) { return targets_call(c, 1); }
static int deregister_targets(aws_ctx *c) { return targets_call(c, 0); }

static int delete_target_group(aws_ctx *c)
{
    const char *arn = json_string_value(json_object_get(c->input, "TargetGroupArn"));
    json_t *o = tg_or_error(c, arn);
    if (!o)
        return 0;
    if (json_array_size(json_object_get(twin__aws_doc(o), "LoadBalancerArns"))) {
        json_decref(o);
        return twin__aws_error(c, 400, "ResourceInUse", "Target group '%s' is currently in use by a listener or a rule",
                               arn);
    }
    twin__aws_del(c->t, "ELBv2TargetGroup", twin__name(o));
    json_decref(o);
    c->output = json_object();
    return 0;
}

static int delete_load_balancer(aws_ctx *c)
{
    const char *arn = json_string_value(json_object_get(c->input, "LoadBalancerArn"));
    json_t *o = arn ? by_arn(c->t, arn, 0) : NULL;
    if (!o)
        return twin__aws_error(c, 400, "LoadBalancerNotFound", "One or more load balancers not found");
    /* its listeners go with it: the target groups they forwarded to are free */
    json_t *all = twin__aws_list(c->t, "ELBv2TargetGroup");
    size_t i, j;
    json_t *tg, *a;
    json_array_foreach(all, i, tg) {
        json_t *d = json_deep_copy(twin__aws_doc(tg));
        json_t *l = json_object_get(d, "LoadBalancerArns");
        json_array_foreach(l, j, a) {
            if (twin__aws_is(json_string_value(a), arn)) {
                json_array_remove(l, j);
                twin__aws_put(c->t, "ELBv2TargetGroup", twin__name(tg), d);
                break;
            }
        }
        json_decref(d);
    }
    json_decref(all);
    twin__aws_del(c->t, "ELBv2LoadBalancer", twin__name(o));
    json_decref(o);
    c->output = json_object();
    return 0;
}

/* The resource an ARN of AddTags/RemoveTags/DescribeTags names (new
 * reference) or NULL with the error set. */
static json_t *tagged(aws_ctx *c, const char *arn)
{
    int tg = arn && strstr(arn, ":targetgroup/");
    json_t *o = arn ? by_arn(c->t, arn, tg) : NULL;
    if (!o)
        twin__aws_error(c, 400, tg ? "TargetGroupNotFound" : "LoadBalancerNotFound", "%s '%s' not found",
                        tg ? "Target group" : "Load balancer", arn ? arn : "");
    return o;
}

/* AddTags (add 1) and RemoveTags (add 0). */
static int tags_call(aws_ctx *c, int add)
{
    const json_t *arns = json_object_get(c->input, "ResourceArns");
    const json_t *tags = json_object_get(c->input, add ? "Tags" : "TagKeys");
    if (!json_is_array(arns) || !json_is_array(tags))
        return twin__aws_error(c, 400, "ValidationError", "ResourceArns and %s are required", add ? "Tags" : "TagKeys");
    size_t i, j;
    json_t *arn, *tag;
    json_array_foreach(arns, i, arn) {
        json_t *o = tagged(c, json_string_value(arn));
        if (!o)
            return 0;
        json_decref(o);
    }
    json_array_foreach(arns, i, arn) {
        json_t *o = tagged(c, json_string_value(arn));
        json_t *d = json_deep_copy(twin__aws_doc(o));
        json_t *have = twin__aws_array_of(d, "Tags");
        json_array_foreach(tags, j, tag) {
            const char *key = add ? twin__aws_str(tag, "Key") : json_string_value(tag);
            long at = twin__aws_tag_last(have, key);
            if (!key)
                continue;
            if (!add) {
                if (at >= 0)
                    json_array_remove(have, (size_t)at);
            } else if (at >= 0) {
                json_object_set_new(json_array_get(have, (size_t)at), "Value",
                                    json_string(twin__aws_str(tag, "Value") ?: ""));
            } else {
                json_array_append_new(have,
                                      json_pack("{s:s, s:s}", "Key", key, "Value", twin__aws_str(tag, "Value") ?: ""));
            }
        }
        twin__aws_put(c->t, twin__kind(o), twin__name(o), d);
        json_decref(d);
        json_decref(o);
    }
    c->output = json_object();
    return 0;
}

static int add_tags(aws_ctx *c) { return tags_call(c, 1); }
static int remove_tags(aws_ctx *c) { return tags_call(c, 0); }

static int describe_tags(aws_ctx *c)
{
    json_t *out = json_array();
    size_t i;
    json_t *arn;
    json_array_foreach(json_object_get(c->input, "ResourceArns"), i, arn) {
        json_t *o = tagged(c, json_string_value(arn));
        if (!o) {
            json_decref(out);
            return 0;
        }
        json_t *tags = json_object_get(twin__aws_doc(o), "Tags");
        json_array_append_new(out, json_pack("{s:O, s:o}", "ResourceArn", arn, "Tags",
                                             tags ? json_deep_copy(tags) : json_array()));
        json_decref(o);
    }
    c->output = json_pack("{s:o}", "TagDescriptions", out);
    return 0;
}

const aws_op twin__aws_elb_ops[] = {
    {"elasticloadbalancing", "DescribeLoadBalancers", 1, describe_load_balancers},
    {"elasticloadbalancing", "DescribeTargetGroups", 1, describe_target_groups},
    {"elasticloadbalancing", "DescribeTargetHealth", 1, describe_target_health},
    {"elasticloadbalancing", "DescribeTags", 1, describe_tags},
    {"elasticloadbalancing", "RegisterTargets", 0, register_targets},
    {"elasticloadbalancing", "DeregisterTargets", 0, deregister_targets},
    {"elasticloadbalancing", "DeleteTargetGroup", 0, delete_target_group},
    {"elasticloadbalancing", "DeleteLoadBalancer", 0, delete_load_balancer},
    {"elasticloadbalancing", "AddTags", 0, add_tags},
    {"elasticloadbalancing", "RemoveTags", 0, remove_tags},
    {NULL, NULL, 0, NULL},
};

/* ---- impact: target groups left with no healthy target ---- */

static long healthy(const json_t *obj)
{
    long n = 0;
    size_t i;
    json_t *tg;
    json_array_foreach(json_object_get(twin__aws_doc(obj), "Targets"), i, tg) n +=
        twin__aws_is(twin__aws_str(tg, "State"), "healthy");
    return n;
}

void twin__aws_elb_moment(twin *t, json_t *m)
{
    json_t *out = json_array();
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (strcmp(c->kind, "ELBv2TargetGroup") || !c->before)
            continue;
        long hb = healthy(c->before), ha = c->after ? healthy(c->after) : 0;
        if (hb > 0 && ha == 0) {
            const json_t *d = twin__aws_doc(c->after ? c->after : c->before);
            json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:I, s:b, s:b}", "name", c->name, "arn",
                                                 twin__aws_str(d, "TargetGroupArn") ?: "", "healthy_before",
                                                 (json_int_t)hb, "healthy_after", (json_int_t)ha, "deleted",
                                                 c->after == NULL, "critical", twin__aws_critical(d)));
        }
    }
    json_object_set_new(m, "target_groups_emptied", out);
}

/* ---- import and export ---- */

/* One item of an import (twin__aws_import_items). */
static int import_one(twin *t, const char *kind, const char *key, size_t i, const json_t *d, const char *name,
                      char *err, size_t errlen)
{
    int tg = !strcmp(kind, "ELBv2TargetGroup");
    const char *name_key = tg ? "TargetGroupName" : "LoadBalancerName";
    const char *arn_key = tg ? "TargetGroupArn" : "LoadBalancerArn";
    if (!twin__aws_str(d, arn_key)) {
        snprintf(err, errlen, "%s[%zu]: an object with %s and %s is expected", key, i, name_key, arn_key);
        return -1;
    }
    json_t *tags = json_object_get(d, "Tags");
    if (tags && !json_is_array(tags)) {
        snprintf(err, errlen, "%s[%zu] (%s): Tags must be an array", key, i, name);
        return -1;
    }
    /* the target health comes from TargetHealth, not from here; a
     * group imported again keeps what it had */
    json_t *copy = json_deep_copy(d);
    json_object_del(copy, "Targets");
    if (!strcmp(kind, "ELBv2TargetGroup")) {
        json_t *cur = twin__aws_get(t, kind, name);
        json_t *had = json_object_get(twin__aws_doc(cur), "Targets");
        json_object_set_new(copy, "Targets", had ? json_deep_copy(had) : json_array());
        json_decref(cur);
    }
    twin__aws_put(t, kind, name, copy);
    json_decref(copy);
    return 0;
}

int twin__aws_elb_import(twin *t, const json_t *doc, char *err, size_t errlen)
{
    int a = twin__aws_import_items(t, doc, "LoadBalancers", "ELBv2LoadBalancer", "LoadBalancerName",
                                   "LoadBalancerName and LoadBalancerArn", import_one, err, errlen);
    if (a < 0)
        return -1;
    int b = twin__aws_import_items(t, doc, "TargetGroups", "ELBv2TargetGroup", "TargetGroupName",
                                   "TargetGroupName and TargetGroupArn", import_one, err, errlen);
    if (b < 0)
        return -1;
    json_t *health = json_object_get(doc, "TargetHealth");
    if (health && !json_is_object(health)) {
        snprintf(err, errlen, "TargetHealth: must be an object of target group ARNs");
        return -1;
    }
    const char *arn;
    json_t *list;
    json_object_foreach(health, arn, list) {
        json_t *o = by_arn(t, arn, 1);
        if (!o) {
            snprintf(err, errlen, "TargetHealth[%s]: no target group has that ARN", arn);
            return -1;
        }
        if (!json_is_array(list)) {
            json_decref(o);
            snprintf(err, errlen, "TargetHealth[%s]: must be an array of {Id, Port, State}", arn);
            return -1;
        }
        json_t *targets = json_array();
        size_t i;
        json_t *tg;
        json_array_foreach(list, i, tg) {
            if (!twin__aws_str(tg, "Id") ||
                (json_object_get(tg, "Port") && !json_is_integer(json_object_get(tg, "Port")))) {
                json_decref(targets);
                json_decref(o);
                snprintf(err, errlen, "TargetHealth[%s][%zu]: Id (a string) and Port (an integer) are expected", arn, i);
                return -1;
            }
            json_array_append_new(targets, json_pack("{s:s, s:I, s:s}", "Id", twin__aws_str(tg, "Id"), "Port",
                                                     json_integer_value(json_object_get(tg, "Port")), "State",
                                                     twin__aws_str(tg, "State") ?: "healthy"));
        }
        json_t *d = json_deep_copy(twin__aws_doc(o));
        json_object_set_new(d, "Targets", targets);
        twin__aws_put(t, "ELBv2TargetGroup", twin__name(o), d);
        json_decref(d);
        json_decref(o);
    }
    return a + b;
}

void twin__aws_elb_export(twin *t, json_t *state)
{
    json_t *lbs = twin__aws_list(t, "ELBv2LoadBalancer"), *tgs = twin__aws_list(t, "ELBv2TargetGroup");
    json_t *lo = json_array(), *to = json_array(), *health = json_object();
    size_t i;
    json_t *o;
    json_array_foreach(lbs, i, o) json_array_append(lo, (json_t *)twin__aws_doc(o));
    json_array_foreach(tgs, i, o) {
        json_t *d = json_deep_copy(twin__aws_doc(o));
        json_t *targets = json_incref(json_object_get(d, "Targets"));
        json_object_del(d, "Targets");
        if (json_array_size(targets) && twin__aws_str(d, "TargetGroupArn"))
            json_object_set(health, twin__aws_str(d, "TargetGroupArn"), targets);
        json_decref(targets);
        json_array_append_new(to, d);
    }
    json_decref(lbs);
    json_decref(tgs);
    json_object_set_new(state, "LoadBalancers", lo);
    json_object_set_new(state, "TargetGroups", to);
    json_object_set_new(state, "TargetHealth", health);
}
