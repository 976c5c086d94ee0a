/*
 * test_twin_aws.c - the twin's EC2, Auto Scaling and ELBv2 model
 * (twin/aws.c, aws_ec2.c, aws_asg.c, aws_elb.c) on the demo account
 * (fixtures/demo/60-aws.json): import and export, each controller rule,
 * the errors AWS answers, internet exposure and cost in the impact, and
 * the twin's invariants (twin_check) after every operation.
 *
 * The demo account: web-asg (desired 4, min 2, max 10, m5.large, two
 * members in each of us-east-1a and us-east-1b, private subnets) behind
 * web-tg (critical) and web-alb; web-sg (80, 443 from anywhere), db-sg
 * (restricted, 5432 from web-sg), admin-sg (22 from 10.0.0.0/8) on the
 * public bastion and the private batch-worker (DisableApiTermination);
 * vpc prod and staging, an unattached volume and a snapshot.
 */
#include "twin_testlib.h"

#include "twin/aws.h"

#define WEB0 "i-0a1b2c3d4e5f60201"   /* us-east-1a, launched 2024-01-02 (the oldest member) */
#define WEB1 "i-0a1b2c3d4e5f60202"   /* us-east-1b, 01-03 */
#define WEB2 "i-0a1b2c3d4e5f60203"   /* us-east-1a, 01-04 */
#define WEB3 "i-0a1b2c3d4e5f60204"   /* us-east-1b, 01-05 */
#define BASTION "i-0a1b2c3d4e5f60301"
#define BATCH "i-0a1b2c3d4e5f60302"
#define WEB_SG "sg-0a1b2c3d4e5f60011"
#define DB_SG "sg-0a1b2c3d4e5f60012"
#define ADMIN_SG "sg-0a1b2c3d4e5f60013"
#define VPC_STAGING "vpc-0a1b2c3d4e5f60002"
#define WEB_TG_ARN "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/6d0ecf831eec9f09"
#define M5_LARGE 0.096

static twin *demo(void)
{
    twin *t = tt_open();
    char err[1024] = "";
    if (twin_import_path(t, "fixtures/demo/60-aws.json", err, sizeof err) != 0)
        fail_msg("import: %s", err);
    return t;
}

static void check(twin *t)
{
    json_t *problems = NULL;
    int n = twin_check(t, &problems);
    if (n)
        tt_dump("twin_check", problems);
    json_decref(problems);
    assert_int_equal(n, 0);
}

/* Simulates a call (input in tj's syntax); the twin is then in an
 * operation. */
static twin_result aws(twin *t, const char *service, const char *op, const char *input_fmt, ...)
    __attribute__((format(printf, 4, 5)));
static twin_result aws(twin *t, const char *service, const char *op, const char *input_fmt, ...)
{
    va_list ap;
    va_start(ap, input_fmt);
    char text[4096];
    vsnprintf(text, sizeof text, input_fmt, ap);
    va_end(ap);
    json_t *input = tj("%s", text);
    twin_aws_call c = {service, op, input};
    twin_result res;
    char err[1024] = "";
    if (twin_aws_apply(t, &c, &res, err, sizeof err) != 0)
        fail_msg("twin_aws_apply %s: %s", op, err);
    json_decref(input);
    assert_true(twin_in_operation(t));
    return res;
}

/* The same, expecting code; committed, then checked. */
static void aws_do(twin *t, const char *service, const char *op, const char *input, int code)
{
    twin_result r = aws(t, service, op, "%s", input);
    if (r.code != code)
        tt_dump(op, r.object);
    assert_int_equal(r.code, code);
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    check(t);
}

static json_t *read_op(twin *t, const char *service, const char *op, const char *input)
{
    json_t *in = tj("%s", input), *out = NULL;
    twin_aws_call c = {service, op, in};
    int code = 0;
    char err[512] = "";
    if (twin_aws_read(t, &c, &out, &code, err, sizeof err) != 0)
        fail_msg("twin_aws_read %s: %s", op, err);
    json_decref(in);
    assert_int_equal(code, 200);
    return out;
}

static const char *state_of(twin *t, twin_when when, const char *id)
{
    static char buf[32];
    json_t *o = twin_get(t, when, "EC2Instance", NULL, id);
    snprintf(buf, sizeof buf, "%s", o ? tt_str(o, "aws.State.Name") : "(gone)");
    json_decref(o);
    return buf;
}

/* The target states of web-tg (new object id -> state). */
static json_t *targets(twin *t, twin_when when)
{
    json_t *tg = tt_get(t, when, "ELBv2TargetGroup", NULL, "web-tg"), *out = json_object();
    size_t i;
    json_t *x;
    json_array_foreach(tt_path(tg, "aws.Targets"), i, x) json_object_set(out, tt_str(x, "Id"), json_object_get(x, "State"));
    json_decref(tg);
    return out;
}

/* The ids of web-asg's members (new array). */
static json_t *members(twin *t, twin_when when)
{
    json_t *g = tt_get(t, when, "AutoScalingGroup", NULL, "web-asg"), *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(tt_path(g, "aws.Instances"), i, m) json_array_append(out, json_object_get(m, "InstanceId"));
    json_decref(g);
    return out;
}

static int has_id(const json_t *arr, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (!strcmp(json_string_value(v), id)) return 1;
    return 0;
}

/* ---- import and export ---- */

static void test_import_export_round_trip(void **state)
{
    (void)state;
    twin *t = demo();
    check(t);
    assert_string_equal(twin_aws_account(t), "123456789012");
    assert_string_equal(twin_aws_region(t), "us-east-1");
    json_t *a = twin_aws_export(t);
    assert_int_equal(json_array_size(json_object_get(a, "Reservations")), 6);
    assert_int_equal(json_array_size(json_object_get(a, "SecurityGroups")), 5);
    assert_int_equal(json_array_size(json_object_get(json_object_get(a, "TargetHealth"), WEB_TG_ARN)), 4);
    /* the AWS kinds are not Kubernetes objects: the List leaves them out */
    json_t *list = twin_export(t);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
    json_decref(list);

    twin *u = tt_open();
    tt_import(u, json_pack("[O]", a));
    check(u);
    json_t *b = twin_aws_export(u);
    if (!json_equal(a, b)) {
        tt_dump("first", a);
        tt_dump("second", b);
    }
    assert_true(json_equal(a, b));
    assert_true(fabs(twin_cost_total(t) - twin_cost_total(u)) < 1e-9);
    assert_true(twin_cost_total(t) > 6 * 0.0);
    json_decref(a);
    json_decref(b);
    twin_close(u);
    twin_close(t);
}

static void test_import_describe_outputs_and_errors(void **state)
{
    (void)state;
    twin *t = tt_open();
    /* what `aws ec2 describe-security-groups` prints, beside a Kubernetes object */
    tt_import(t, tj("[{'SecurityGroups':[{'GroupId':'sg-1','GroupName':'a','VpcId':'vpc-1','IpPermissions':[]}]},"
                    "{'apiVersion':'v1','kind':'Namespace','metadata':{'name':'x'}}]"));
    json_t *sg = tt_get(t, TWIN_AFTER, "EC2SecurityGroup", NULL, "sg-1");
    assert_string_equal(tt_str(sg, "aws.GroupName"), "a");
    json_decref(sg);
    assert_string_equal(twin_aws_account(t), "123456789012");

    /* malformed: the key and the item are named, nothing is kept */
    json_t *bad = tj("[{'apiVersion':'v1','kind':'Namespace','metadata':{'name':'y'}},"
                     "{'kind':'AWSState','account':'999999999999','Vpcs':[{'VpcId':'vpc-2'},{'CidrBlock':'10.0.0.0/8'}]}]");
    char err[512] = "";
    assert_int_equal(twin_import_docs(t, bad, "bad.json", err, sizeof err), -1);
    json_decref(bad);
    assert_non_null(strstr(err, "bad.json"));
    assert_non_null(strstr(err, "Vpcs[1]"));
    assert_null(twin_get(t, TWIN_AFTER, "EC2Vpc", NULL, "vpc-2"));
    assert_null(twin_get(t, TWIN_AFTER, "Namespace", NULL, "y"));
    assert_string_equal(twin_aws_account(t), "123456789012");
    check(t);
    twin_close(t);
}

/* ---- Auto Scaling ---- */

static void test_terminated_member_replaced(void **state)
{
    (void)state;
    twin *t = demo();
    twin_result r = aws(t, "ec2", "TerminateInstances", "{'InstanceIds':['%s']}", WEB0);
    assert_int_equal(r.code, 200);
    assert_string_equal(tt_str(r.object, "TerminatingInstances.0.CurrentState.Name"), "shutting-down");
    assert_int_equal(tt_int(r.object, "TerminatingInstances.0.CurrentState.Code"), 32);
    /* at the instant: one instance created, pending, in the group and registered */
    const char *new_id = NULL;
    size_t i;
    json_t *c;
    json_array_foreach(r.diff, i, c) {
        if (!strcmp(tt_str(c, "kind"), "EC2Instance") && !strcmp(tt_str(c, "op"), "create")) {
            assert_null(new_id);
            new_id = tt_str(c, "name");
            assert_string_equal(tt_str(c, "after.aws.State.Name"), "running");   /* the diff shows the settled state */
        }
    }
    assert_non_null(new_id);
    assert_int_equal(tt_int(r.impact, "instances_disrupted"), 1);
    assert_string_equal(tt_str(r.impact, "instant.instances_disrupted.0.id"), WEB0);
    assert_string_equal(tt_str(r.impact, "instant.instances_disrupted.0.group"), "web-asg");
    assert_int_equal(json_array_size(tt_path(r.impact, "instant.asgs_degraded")), 1);
    assert_int_equal(tt_int(r.impact, "instant.asgs_degraded.0.healthy_after"), 3);
    assert_int_equal(json_array_size(tt_path(r.impact, "settled.asgs_degraded")), 0);
    /* the instant cost counts the replacement (pending is billed) */
    assert_true(fabs(tt_num(r.impact, "cost_instant.delta")) < 1e-9);
    /* settled: running, InService, healthy in web-tg; the old one terminated and gone from web-tg */
    assert_string_equal(state_of(t, TWIN_AFTER, new_id), "running");
    assert_string_equal(state_of(t, TWIN_AFTER, WEB0), "terminated");
    json_t *tg = targets(t, TWIN_AFTER);
    assert_string_equal(json_string_value(json_object_get(tg, new_id)), "healthy");
    assert_null(json_object_get(tg, WEB0));
    assert_int_equal(json_object_size(tg), 4);
    json_decref(tg);
    json_t *m = members(t, TWIN_AFTER);
    assert_int_equal(json_array_size(m), 4);
    assert_true(has_id(m, new_id));
    assert_false(has_id(m, WEB0));
    json_decref(m);
    json_t *g = tt_get(t, TWIN_AFTER, "AutoScalingGroup", NULL, "web-asg");
    assert_string_equal(tt_str(g, "aws.Instances.3.LifecycleState"), "InService");
    /* zones stay balanced: the replacement goes where WEB0 was */
    assert_string_equal(tt_str(g, "aws.Instances.3.AvailabilityZone"), "us-east-1a");
    json_decref(g);
    json_t *inst = tt_get(t, TWIN_AFTER, "EC2Instance", NULL, new_id);
    assert_string_equal(tt_str(inst, "aws.InstanceType"), "m5.large");
    assert_string_equal(tt_str(inst, "aws.SecurityGroups.0.GroupId"), WEB_SG);
    json_decref(inst);
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    check(t);
    twin_close(t);
}

static void test_terminate_in_group_decrement(void **state)
{
    (void)state;
    twin *t = demo();
    twin_result r = aws(t, "autoscaling", "TerminateInstanceInAutoScalingGroup",
                        "{'InstanceId':'%s','ShouldDecrementDesiredCapacity':true}", WEB1);
    assert_int_equal(r.code, 200);
    assert_string_equal(tt_str(r.object, "Activity.StatusCode"), "InProgress");
    size_t i;
    json_t *c;
    json_array_foreach(r.diff, i, c) assert_false(!strcmp(tt_str(c, "kind"), "EC2Instance") &&
                                                  !strcmp(tt_str(c, "op"), "create"));
    json_t *m = members(t, TWIN_AFTER);
    assert_int_equal(json_array_size(m), 3);
    json_decref(m);
    assert_int_equal(tt_field(t, TWIN_AFTER, "AutoScalingGroup", NULL, "web-asg", "aws.DesiredCapacity"), 3);
    assert_string_equal(state_of(t, TWIN_AFTER, WEB1), "terminated");
    assert_true(fabs(tt_num(r.impact, "cost.delta") + M5_LARGE) < 1e-9);
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    check(t);

    /* without decrementing: replaced */
    r = aws(t, "autoscaling", "TerminateInstanceInAutoScalingGroup",
            "{'InstanceId':'%s','ShouldDecrementDesiredCapacity':false}", WEB2);
    assert_int_equal(r.code, 200);
    m = members(t, TWIN_AFTER);
    assert_int_equal(json_array_size(m), 3);
    assert_false(has_id(m, WEB2));
    json_decref(m);
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    check(t);

    /* at min with decrement: refused */
    aws_do(t, "autoscaling", "SetDesiredCapacity", "{'AutoScalingGroupName':'web-asg','DesiredCapacity':2}", 200);
    r = aws(t, "autoscaling", "TerminateInstanceInAutoScalingGroup",
            "{'InstanceId':'%s','ShouldDecrementDesiredCapacity':true}", WEB3);
    assert_int_equal(r.code, 400);
    assert_string_equal(tt_str(r.object, "Code"), "ValidationError");
    assert_int_equal(json_array_size(r.diff), 0);
    twin_result_free(&r);
    twin_rollback(t);
    twin_close(t);
}

static void test_set_desired_capacity(void **state)
{
    (void)state;
    twin *t = demo();
    double before = twin_cost_total(t);
    twin_result r = aws(t, "autoscaling", "SetDesiredCapacity", "{'AutoScalingGroupName':'web-asg','DesiredCapacity':6}");
    assert_int_equal(r.code, 200);
    assert_true(fabs(tt_num(r.impact, "cost.delta") - 2 * M5_LARGE) < 1e-9);
    assert_true(fabs(tt_num(r.impact, "cost_instant.delta") - 2 * M5_LARGE) < 1e-9);
    assert_true(fabs(tt_num(r.impact, "cost.before") - before) < 1e-9);
    json_t *m = members(t, TWIN_AFTER);
    assert_int_equal(json_array_size(m), 6);
    json_decref(m);
    json_t *tg = targets(t, TWIN_AFTER);
    assert_int_equal(json_object_size(tg), 6);
    json_decref(tg);
    assert_int_equal(json_array_size(tt_path(r.impact, "settled.asgs_degraded")), 0);
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    check(t);
    assert_true(fabs(twin_cost_total(t) - before - 2 * M5_LARGE) < 1e-9);

    /* above max, below min: ValidationError, nothing changes */
    r = aws(t, "autoscaling", "SetDesiredCapacity", "{'AutoScalingGroupName':'web-asg','DesiredCapacity':11}");
    assert_int_equal(r.code, 400);
    assert_string_equal(tt_str(r.object, "Code"), "ValidationError");
    assert_string_equal(tt_str(r.object, "Message"),
                        "New SetDesiredCapacity value 11 is above max value 10 for the AutoScalingGroup.");
    assert_int_equal(json_array_size(r.diff), 0);
    twin_result_free(&r);
    twin_rollback(t);
    r = aws(t, "autoscaling", "SetDesiredCapacity", "{'AutoScalingGroupName':'web-asg','DesiredCapacity':1}");
    assert_int_equal(r.code, 400);
    assert_string_equal(tt_str(r.object, "Message"),
                        "New SetDesiredCapacity value 1 is below min value 2 for the AutoScalingGroup.");
    twin_result_free(&r);
    twin_rollback(t);
    check(t);
    twin_close(t);
}

static void test_scale_in_termination_order(void **state)
{
    (void)state;
    twin *t = demo();
    /* 4 -> 2: one per zone goes (each zone holds two), the oldest first:
     * us-east-1a first (a tie, the first zone by name): WEB0 (01-02);
     * then us-east-1b: WEB1 (01-03) */
    twin_result r = aws(t, "autoscaling", "SetDesiredCapacity", "{'AutoScalingGroupName':'web-asg','DesiredCapacity':2}");
    assert_int_equal(r.code, 200);
    assert_string_equal(state_of(t, TWIN_AFTER, WEB0), "terminated");
    assert_string_equal(state_of(t, TWIN_AFTER, WEB1), "terminated");
    assert_string_equal(state_of(t, TWIN_AFTER, WEB2), "running");
    assert_string_equal(state_of(t, TWIN_AFTER, WEB3), "running");
    assert_int_equal(tt_int(r.impact, "instances_disrupted"), 2);
    assert_true(fabs(tt_num(r.impact, "cost.delta") + 2 * M5_LARGE) < 1e-9);
    /* at the instant the targets drain; once settled they are gone */
    twin_result_free(&r);
    json_t *tg = targets(t, TWIN_AFTER);
    assert_int_equal(json_object_size(tg), 2);
    json_decref(tg);
    assert_int_equal(twin_commit(t), 0);
    check(t);

    /* UpdateAutoScalingGroup: a higher min carries the desired capacity */
    aws_do(t, "autoscaling", "UpdateAutoScalingGroup", "{'AutoScalingGroupName':'web-asg','MinSize':3}", 200);
    json_t *m = members(t, TWIN_AFTER);
    assert_int_equal(json_array_size(m), 3);
    json_decref(m);
    r = aws(t, "autoscaling", "UpdateAutoScalingGroup", "{'AutoScalingGroupName':'web-asg','MinSize':5,'MaxSize':4}");
    assert_int_equal(r.code, 400);
    twin_result_free(&r);
    twin_rollback(t);
    twin_close(t);
}

static void test_delete_group(void **state)
{
    (void)state;
    twin *t = demo();
    twin_result r = aws(t, "autoscaling", "DeleteAutoScalingGroup", "{'AutoScalingGroupName':'web-asg'}");
    assert_int_equal(r.code, 400);
    assert_string_equal(tt_str(r.object, "Code"), "ResourceInUse");
    twin_result_free(&r);
    twin_rollback(t);
    r = aws(t, "autoscaling", "DeleteAutoScalingGroup", "{'AutoScalingGroupName':'web-asg','ForceDelete':true}");
    assert_int_equal(r.code, 200);
    assert_int_equal(tt_int(r.impact, "instances_disrupted"), 4);
    assert_int_equal(json_array_size(tt_path(r.impact, "instant.target_groups_emptied")), 1);
    assert_true(json_is_true(tt_path(r.impact, "instant.target_groups_emptied.0.critical")));
    assert_int_equal(json_array_size(tt_path(r.impact, "instant.asgs_degraded")), 1);
    assert_true(json_is_true(tt_path(r.impact, "instant.asgs_degraded.0.deleted")));
    assert_string_equal(state_of(t, TWIN_AFTER, WEB3), "terminated");
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    check(t);
    twin_close(t);
}

/* ---- ELB ---- */

static void test_stop_last_healthy_targets(void **state)
{
    (void)state;
    twin *t = demo();
    /* web-asg lets go of two members: web-tg keeps WEB2 and WEB3 */
    aws_do(t, "autoscaling", "SetDesiredCapacity", "{'AutoScalingGroupName':'web-asg','DesiredCapacity':2}", 200);
    aws_do(t, "autoscaling", "UpdateAutoScalingGroup", "{'AutoScalingGroupName':'web-asg','MinSize':0,'MaxSize':0}",
           200);
    json_t *tg = targets(t, TWIN_AFTER);
    assert_int_equal(json_object_size(tg), 0);   /* desired 0: the group terminated them */
    json_decref(tg);
    aws_do(t, "elasticloadbalancing", "RegisterTargets",
           "{'TargetGroupArn':'" WEB_TG_ARN "','Targets':[{'Id':'" BASTION "'},{'Id':'" BATCH "','Port':8080}]}", 200);
    tg = targets(t, TWIN_AFTER);
    assert_string_equal(json_string_value(json_object_get(tg, BASTION)), "healthy");
    assert_string_equal(json_string_value(json_object_get(tg, BATCH)), "healthy");
    json_decref(tg);

    twin_result r = aws(t, "ec2", "StopInstances", "{'InstanceIds':['%s','%s']}", BASTION, BATCH);
    assert_int_equal(r.code, 200);
    assert_string_equal(tt_str(r.object, "StoppingInstances.0.CurrentState.Name"), "stopping");
    const json_t *e = tt_path(r.impact, "instant.target_groups_emptied");
    assert_int_equal(json_array_size(e), 1);
    assert_string_equal(tt_str(e, "0.name"), "web-tg");
    assert_string_equal(tt_str(e, "0.arn"), WEB_TG_ARN);
    assert_int_equal(tt_int(e, "0.healthy_before"), 2);
    assert_int_equal(tt_int(e, "0.healthy_after"), 0);
    assert_true(json_is_true(tt_path(e, "0.critical")));
    assert_int_equal(tt_int(r.impact, "instances_disrupted"), 2);
    /* a stopped instance stays registered, unused */
    tg = targets(t, TWIN_AFTER);
    assert_string_equal(json_string_value(json_object_get(tg, BASTION)), "unused");
    json_decref(tg);
    assert_string_equal(state_of(t, TWIN_AFTER, BASTION), "stopped");
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    check(t);

    json_t *h = read_op(t, "elasticloadbalancing", "DescribeTargetHealth", "{'TargetGroupArn':'" WEB_TG_ARN "'}");
    assert_string_equal(tt_str(h, "TargetHealthDescriptions.0.TargetHealth.Reason"), "Target.InvalidState");
    json_decref(h);

    /* started again: healthy once settled */
    aws_do(t, "ec2", "StartInstances", "{'InstanceIds':['" BASTION "']}", 200);
    tg = targets(t, TWIN_AFTER);
    assert_string_equal(json_string_value(json_object_get(tg, BASTION)), "healthy");
    json_decref(tg);

    /* in use by the load balancer (its listener): ResourceInUse, until the ALB goes */
    r = aws(t, "elasticloadbalancing", "DeleteTargetGroup", "{'TargetGroupArn':'" WEB_TG_ARN "'}");
    assert_int_equal(r.code, 400);
    assert_string_equal(tt_str(r.object, "Code"), "ResourceInUse");
    twin_result_free(&r);
    twin_rollback(t);
    aws_do(t, "elasticloadbalancing", "DeleteLoadBalancer",
           "{'LoadBalancerArn':'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb/"
           "50dc6c495c0c9188'}",
           200);
    r = aws(t, "elasticloadbalancing", "DeleteTargetGroup", "{'TargetGroupArn':'" WEB_TG_ARN "'}");
    assert_int_equal(r.code, 200);
    assert_true(json_is_true(tt_path(r.impact, "instant.target_groups_emptied.0.deleted")));
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    check(t);
    twin_close(t);
}

/* ---- EC2 errors ---- */

static void test_terminate_unknown_id_terminates_none(void **state)
{
    (void)state;
    twin *t = demo();
    twin_result r = aws(t, "ec2", "TerminateInstances", "{'InstanceIds':['%s','i-0000000000000dead']}", BASTION);
    assert_int_equal(r.code, 400);
    assert_string_equal(tt_str(r.object, "Code"), "InvalidInstanceID.NotFound");
    assert_string_equal(tt_str(r.object, "Message"), "The instance ID 'i-0000000000000dead' does not exist");
    assert_int_equal(json_array_size(r.diff), 0);
    assert_string_equal(state_of(t, TWIN_AFTER, BASTION), "running");
    twin_result_free(&r);
    twin_rollback(t);

    r = aws(t, "ec2", "TerminateInstances", "{'InstanceIds':['%s','%s']}", BASTION, BATCH);
    assert_int_equal(r.code, 400);
    assert_string_equal(tt_str(r.object, "Code"), "OperationNotPermitted");
    assert_string_equal(tt_str(r.object, "Message"),
                        "The instance '" BATCH "' may not be terminated. Modify its 'disableApiTermination' instance "
                        "attribute and try again.");
    assert_int_equal(json_array_size(r.diff), 0);
    assert_string_equal(state_of(t, TWIN_AFTER, BASTION), "running");
    twin_result_free(&r);
    twin_rollback(t);

    /* lifted: then it goes, and its data volume is kept (DeleteOnTermination false) */
    aws_do(t, "ec2", "ModifyInstanceAttribute", "{'InstanceId':'" BATCH "','DisableApiTermination':{'Value':false}}",
           200);
    r = aws(t, "ec2", "TerminateInstances", "{'InstanceIds':['%s']}", BATCH);
    assert_int_equal(r.code, 200);
    assert_string_equal(state_of(t, TWIN_AFTER, BATCH), "terminated");
    json_t *v = tt_get(t, TWIN_AFTER, "EC2Volume", NULL, "vol-0a1b2c3d4e5f60403");
    assert_string_equal(tt_str(v, "aws.State"), "available");
    json_decref(v);
    assert_null(twin_get(t, TWIN_AFTER, "EC2Volume", NULL, "vol-0a1b2c3d4e5f60402"));
    assert_string_equal(tt_str(r.impact, "data_at_risk.0.id"), "vol-0a1b2c3d4e5f60402");
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    check(t);

    /* a type change needs a stopped instance */
    r = aws(t, "ec2", "ModifyInstanceAttribute", "{'InstanceId':'" BASTION "','InstanceType':{'Value':'t3.large'}}");
    assert_int_equal(r.code, 400);
    assert_string_equal(tt_str(r.object, "Code"), "IncorrectInstanceState");
    twin_result_free(&r);
    twin_rollback(t);
    twin_close(t);
}

static void test_dependency_violations(void **state)
{
    (void)state;
    twin *t = demo();
    /* attached to an instance */
    twin_result r = aws(t, "ec2", "DeleteSecurityGroup", "{'GroupId':'%s'}", ADMIN_SG);
    assert_int_equal(r.code, 400);
    assert_string_equal(tt_str(r.object, "Code"), "DependencyViolation");
    assert_string_equal(tt_str(r.object, "Message"), "resource " ADMIN_SG " has a dependent object");
    twin_result_free(&r);
    twin_rollback(t);

    /* referenced by another group's rule only */
    r = aws(t, "ec2", "CreateSecurityGroup", "{'GroupName':'etl-sg','Description':'etl','VpcId':'vpc-0a1b2c3d4e5f60001'}");
    assert_int_equal(r.code, 200);
    char *etl = strdup(tt_str(r.object, "GroupId"));
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    r = aws(t, "ec2", "AuthorizeSecurityGroupIngress",
            "{'GroupId':'" DB_SG "','IpPermissions':[{'IpProtocol':'tcp','FromPort':5432,'ToPort':5432,"
            "'UserIdGroupPairs':[{'GroupId':'%s'}]}]}",
            etl);
    assert_int_equal(r.code, 200);
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    check(t);
    r = aws(t, "ec2", "DeleteSecurityGroup", "{'GroupId':'%s'}", etl);
    assert_int_equal(r.code, 400);
    assert_string_equal(tt_str(r.object, "Code"), "DependencyViolation");
    twin_result_free(&r);
    twin_rollback(t);
    /* the rule revoked, the group goes */
    r = aws(t, "ec2", "RevokeSecurityGroupIngress",
            "{'GroupId':'" DB_SG "','IpPermissions':[{'IpProtocol':'tcp','FromPort':5432,'ToPort':5432,"
            "'UserIdGroupPairs':[{'GroupId':'%s'}]}]}",
            etl);
    assert_int_equal(r.code, 200);
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    r = aws(t, "ec2", "DeleteSecurityGroup", "{'GroupId':'%s'}", etl);
    assert_int_equal(r.code, 200);
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    check(t);
    free(etl);

    /* a VPC with subnets */
    r = aws(t, "ec2", "DeleteVpc", "{'VpcId':'" VPC_STAGING "'}");
    assert_int_equal(r.code, 400);
    assert_string_equal(tt_str(r.object, "Code"), "DependencyViolation");
    twin_result_free(&r);
    twin_rollback(t);
    /* a subnet with instances */
    r = aws(t, "ec2", "DeleteSubnet", "{'SubnetId':'subnet-0a1b2c3d4e5f60101'}");
    assert_int_equal(r.code, 400);
    assert_string_equal(tt_str(r.object, "Code"), "DependencyViolation");
    twin_result_free(&r);
    twin_rollback(t);
    /* empty subnets go, then the VPC (with its default group) */
    aws_do(t, "ec2", "DeleteSubnet", "{'SubnetId':'subnet-0a1b2c3d4e5f60105'}", 200);
    aws_do(t, "ec2", "DeleteSubnet", "{'SubnetId':'subnet-0a1b2c3d4e5f60106'}", 200);
    aws_do(t, "ec2", "DeleteVpc", "{'VpcId':'" VPC_STAGING "'}", 200);
    assert_null(twin_get(t, TWIN_AFTER, "EC2SecurityGroup", NULL, "sg-0a1b2c3d4e5f60015"));

    /* a volume in use; duplicate and missing rules */
    r = aws(t, "ec2", "DeleteVolume", "{'VolumeId':'vol-0a1b2c3d4e5f60403'}");
    assert_string_equal(tt_str(r.object, "Code"), "VolumeInUse");
    twin_result_free(&r);
    twin_rollback(t);
    r = aws(t, "ec2", "AuthorizeSecurityGroupIngress",
            "{'GroupId':'" WEB_SG "','IpProtocol':'tcp','FromPort':443,'ToPort':443,'CidrIp':'0.0.0.0/0'}");
    assert_string_equal(tt_str(r.object, "Code"), "InvalidPermission.Duplicate");
    twin_result_free(&r);
    twin_rollback(t);
    r = aws(t, "ec2", "RevokeSecurityGroupIngress",
            "{'GroupId':'" WEB_SG "','IpProtocol':'tcp','FromPort':8443,'ToPort':8443,'CidrIp':'0.0.0.0/0'}");
    assert_string_equal(tt_str(r.object, "Code"), "InvalidPermission.NotFound");
    twin_result_free(&r);
    twin_rollback(t);
    check(t);
    twin_close(t);
}

/* ---- exposure ---- */

static void test_exposure_added_and_removed(void **state)
{
    (void)state;
    twin *t = demo();
    const char *open22 = "{'GroupId':'" ADMIN_SG "','IpPermissions':[{'IpProtocol':'tcp','FromPort':22,'ToPort':22,"
                         "'IpRanges':[{'CidrIp':'0.0.0.0/0'}]}]}";
    twin_result r = aws(t, "ec2", "AuthorizeSecurityGroupIngress", "%s", open22);
    assert_int_equal(r.code, 200);
    assert_true(json_is_true(json_object_get(r.object, "Return")));
    const json_t *added = tt_path(r.impact, "exposure.added");
    /* the public bastion, not the private batch-worker that shares the group */
    assert_int_equal(json_array_size(added), 1);
    assert_string_equal(tt_str(added, "0.from"), "internet");
    assert_string_equal(tt_str(added, "0.to"), "bastion");
    assert_int_equal(tt_int(added, "0.port"), 22);
    assert_string_equal(tt_str(added, "0.proto"), "tcp");
    assert_string_equal(tt_str(added, "0.cidr"), "0.0.0.0/0");
    assert_string_equal(tt_str(added, "0.group_ids.0"), ADMIN_SG);
    assert_int_equal(json_array_size(tt_path(r.impact, "exposure.removed")), 0);
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    check(t);

    r = aws(t, "ec2", "RevokeSecurityGroupIngress", "%s", open22);
    assert_int_equal(r.code, 200);
    assert_int_equal(json_array_size(tt_path(r.impact, "exposure.added")), 0);
    assert_int_equal(json_array_size(tt_path(r.impact, "exposure.removed")), 1);
    assert_string_equal(tt_str(r.impact, "exposure.removed.0.to"), "bastion");
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);

    /* a private instance's group opened: no exposure */
    r = aws(t, "ec2", "CreateSecurityGroup", "{'GroupName':'batch-sg','Description':'b','VpcId':'vpc-0a1b2c3d4e5f60001'}");
    char *bsg = strdup(tt_str(r.object, "GroupId"));
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    char in[256];
    snprintf(in, sizeof in, "{'InstanceId':'" BATCH "','Groups':['%s']}", bsg);
    aws_do(t, "ec2", "ModifyInstanceAttribute", in, 200);
    r = aws(t, "ec2", "AuthorizeSecurityGroupIngress", "{'GroupId':'%s','IpProtocol':'-1','CidrIp':'0.0.0.0/0'}", bsg);
    assert_int_equal(r.code, 200);
    assert_int_equal(json_array_size(tt_path(r.impact, "exposure.added")), 0);
    twin_result_free(&r);
    twin_rollback(t);
    free(bsg);

    /* all ports over IPv6 on web-sg: the web members are private, the ALB is not an instance */
    r = aws(t, "ec2", "AuthorizeSecurityGroupIngress",
            "{'GroupId':'" WEB_SG "','IpPermissions':[{'IpProtocol':'-1','Ipv6Ranges':[{'CidrIpv6':'::/0'}]}]}");
    assert_int_equal(json_array_size(tt_path(r.impact, "exposure.added")), 0);
    twin_result_free(&r);
    twin_rollback(t);

    /* a public launch: RunInstances in a public subnet with web-sg exposes 80 and 443 */
    r = aws(t, "ec2", "RunInstances",
            "{'ImageId':'ami-1','InstanceType':'t3.micro','MinCount':1,'MaxCount':1,"
            "'SubnetId':'subnet-0a1b2c3d4e5f60101','SecurityGroupIds':['" WEB_SG "'],"
            "'TagSpecifications':[{'ResourceType':'instance','Tags':[{'Key':'Name','Value':'canary'}]}]}");
    assert_int_equal(r.code, 200);
    assert_string_equal(tt_str(r.object, "Instances.0.State.Name"), "pending");
    assert_non_null(tt_str(r.object, "Instances.0.PublicIpAddress"));
    added = tt_path(r.impact, "exposure.added");
    assert_int_equal(json_array_size(added), 2);
    assert_string_equal(tt_str(added, "0.to"), "canary");
    assert_true(fabs(tt_num(r.impact, "cost.delta") - 0.0104) < 1e-9);
    twin_result_free(&r);
    assert_int_equal(twin_commit(t), 0);
    check(t);
    twin_close(t);
}

/* ---- reads ---- */

static void test_describe_filters(void **state)
{
    (void)state;
    twin *t = demo();
    json_t *o = read_op(t, "ec2", "DescribeInstances",
                        "{'Filters':[{'Name':'tag:aws:autoscaling:groupName','Values':['web-asg']},"
                        "{'Name':'instance-state-name','Values':['running']}]}");
    assert_int_equal(json_array_size(json_object_get(o, "Reservations")), 4);
    json_decref(o);
    o = read_op(t, "ec2", "DescribeInstances", "{'Filters':[{'Name':'instance.group-id','Values':['" ADMIN_SG "']}]}");
    assert_int_equal(json_array_size(json_object_get(o, "Reservations")), 2);
    json_decref(o);
    o = read_op(t, "ec2", "DescribeSecurityGroups", "{'Filters':[{'Name':'group-name','Values':['web-*']}]}");
    assert_int_equal(json_array_size(json_object_get(o, "SecurityGroups")), 1);
    json_decref(o);
    o = read_op(t, "ec2", "DescribeSnapshots", "{'OwnerIds':['self']}");
    assert_int_equal(json_array_size(json_object_get(o, "Snapshots")), 1);
    json_decref(o);
    o = read_op(t, "autoscaling", "DescribeAutoScalingGroups", "{'AutoScalingGroupNames':['web-asg']}");
    assert_int_equal(tt_int(o, "AutoScalingGroups.0.DesiredCapacity"), 4);
    json_decref(o);
    o = read_op(t, "elasticloadbalancing", "DescribeTags", "{'ResourceArns':['" WEB_TG_ARN "']}");
    assert_string_equal(tt_str(o, "TagDescriptions.0.Tags.1.Value"), "critical");
    json_decref(o);
    assert_int_equal(twin_aws_op_kind("ec2", "DescribeInstances"), 1);
    assert_int_equal(twin_aws_op_kind("ec2", "TerminateInstances"), 2);
    assert_int_equal(twin_aws_op_kind("ec2", "CreateVpcPeeringConnection"), 0);
    twin_close(t);
}

/* ---- commit, mark, reset ---- */

/* Following production (twin_aws_sync): what it describes is written
 * without an operation; only real differences are reported; a resource
 * described as gone goes; replace removes what the whole account does not
 * name; the instance counts the impact reads follow. */
static void test_sync_follows_production(void **state)
{
    (void)state;
    twin *t = demo();
    char err[512] = "";
    json_t *full = twin_aws_export(t), *changes = NULL;
    /* the same account again: nothing changed */
    assert_int_equal(twin_aws_sync(t, full, NULL, 1, &changes, err, sizeof err), 0);
    assert_int_equal(json_array_size(changes), 0);
    json_decref(changes);
    assert_false(twin_in_operation(t));
    /* the bastion stopped behind the gate's back */
    json_t *res = json_object_get(full, "Reservations"), *r, *bastion = NULL;
    size_t i;
    json_array_foreach(res, i, r) {
        json_t *inst = json_array_get(json_object_get(r, "Instances"), 0);
        if (!strcmp(json_string_value(json_object_get(inst, "InstanceId")), "i-0a1b2c3d4e5f60301"))
            bastion = inst;
    }
    assert_non_null(bastion);
    json_object_set_new(bastion, "State", tj("{'Code':80,'Name':'stopped'}"));
    json_t *one = json_pack("{s:s, s:[{s:[O]}]}", "kind", "AWSState", "Reservations", "Instances", bastion);
    assert_int_equal(twin_aws_sync(t, one, NULL, 0, &changes, err, sizeof err), 0);
    assert_int_equal(json_array_size(changes), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(changes, 0), "name")), "i-0a1b2c3d4e5f60301");
    json_decref(changes);
    assert_string_equal(state_of(t, TWIN_AFTER, "i-0a1b2c3d4e5f60301"), "stopped");
    /* the batch worker is gone */
    json_t *gone = tj("[{'kind':'EC2Instance','id':'i-0a1b2c3d4e5f60302'}]");
    assert_int_equal(twin_aws_sync(t, NULL, gone, 0, &changes, err, sizeof err), 0);
    assert_int_equal(json_array_size(changes), 1);
    assert_true(json_is_null(json_object_get(json_array_get(changes, 0), "after")));
    json_decref(changes);
    json_decref(gone);
    assert_string_equal(state_of(t, TWIN_AFTER, "i-0a1b2c3d4e5f60302"), "(gone)");
    /* a terminate now counts 4 of the 5 running instances left (the impact's
     * counts followed both syncs) */
    twin_result rr = aws(t, "ec2", "TerminateInstances", "{'InstanceIds':['i-0a1b2c3d4e5f60201']}");
    json_t *a = json_object_get(rr.impact, "aws");
    assert_int_equal(json_integer_value(json_object_get(a, "running_instances_before")), 4);
    twin_result_free(&rr);
    twin_rollback(t);
    /* the whole account again, without the web group's members: they go */
    json_t *bare = twin_aws_export(t);
    json_object_set_new(bare, "Reservations", json_array());
    assert_int_equal(twin_aws_sync(t, bare, NULL, 1, &changes, err, sizeof err), 0);
    assert_true(json_array_size(changes) >= 5);
    json_decref(changes);
    json_t *left = twin_list(t, TWIN_AFTER, "EC2Instance", NULL, NULL, NULL, err, sizeof err);
    assert_int_equal(json_array_size(left), 0);
    json_decref(left);
    /* malformed: an error, nothing kept */
    json_t *badd = tj("{'kind':'AWSState','Reservations':[{'Instances':[{'State':'x'}]}]}");
    assert_int_equal(twin_aws_sync(t, badd, NULL, 0, NULL, err, sizeof err), -1);
    assert_false(twin_in_operation(t));
    json_decref(badd);
    json_decref(bare);
    json_decref(one);
    json_decref(full);
    check(t);
    twin_close(t);
}

static void test_mark_reset(void **state)
{
    (void)state;
    twin *t = demo();
    json_t *before = twin_aws_export(t);
    double cost = twin_cost_total(t);
    assert_int_equal(twin_mark(t), 0);
    aws_do(t, "autoscaling", "SetDesiredCapacity", "{'AutoScalingGroupName':'web-asg','DesiredCapacity':7}", 200);
    aws_do(t, "ec2", "CreateTags", "{'Resources':['" BASTION "','" WEB_SG "'],'Tags':[{'Key':'owner','Value':'ops'}]}", 200);
    aws_do(t, "ec2", "DeleteSnapshot", "{'SnapshotId':'snap-0a1b2c3d4e5f60501'}", 200);
    json_t *mid = twin_aws_export(t);
    assert_false(json_equal(before, mid));
    json_decref(mid);
    assert_int_equal(twin_reset(t), 0);
    check(t);
    json_t *after = twin_aws_export(t);
    assert_true(json_equal(before, after));
    assert_true(fabs(twin_cost_total(t) - cost) < 1e-9);
    json_decref(before);
    json_decref(after);
    twin_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_export_round_trip),
        cmocka_unit_test(test_import_describe_outputs_and_errors),
        cmocka_unit_test(test_terminated_member_replaced),
        cmocka_unit_test(test_terminate_in_group_decrement),
        cmocka_unit_test(test_set_desired_capacity),
        cmocka_unit_test(test_scale_in_termination_order),
        cmocka_unit_test(test_delete_group),
        cmocka_unit_test(test_stop_last_healthy_targets),
        cmocka_unit_test(test_terminate_unknown_id_terminates_none),
        cmocka_unit_test(test_dependency_violations),
        cmocka_unit_test(test_exposure_added_and_removed),
        cmocka_unit_test(test_describe_filters),
        cmocka_unit_test(test_mark_reset),
        cmocka_unit_test(test_sync_follows_production),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
