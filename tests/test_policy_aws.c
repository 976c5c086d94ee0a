/*
 * tests/test_policy_aws.c - the default policies (lua-policies/) on AWS calls:
 * for each AWS rule, a ctx it must refuse (deny or review, the reason naming
 * the resource and the numbers) and a near miss it must allow; and
 * Kubernetes ctxs still judged as before. Run from the repository root.
 *
 * ctx is written by hand to the contract the gate builds for an AWS call
 * (ctx.action.provider = "aws", service, operation, input, verb; the
 * impact's AWS fields as twin/aws_int.h documents them). The twin is faked:
 * a gate_policy_view serving tests/data/policy/aws/twin.json (resources
 * tagged airlock.dev/tier=critical or airlock.dev/restricted=true, a few
 * that differ before and after), plus agent history a test sets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gate/engine/policy.h"

#define DEFAULT_POLICIES "lua-policies"
#define DATA "tests/data/policy/aws"

/* ---- the fake twin ---------------------------------------------------- */

typedef struct fake_twin {
    json_t *state[2];   /* [when]: resources before / after the action */
    json_t *history;    /* {"3600": totals, ...}; a missing window is zeros */
} fake_twin;

static fake_twin twin;
static gate_policy_set *defaults;   /* lua-policies/, loaded once */

static const char *meta(const json_t *o, const char *field)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), field));
}

/* Equal strings, NULL and "" being the same (no namespace). */
static int same_ns(const char *a, const char *b)
{
    if (a == NULL || a[0] == '\0' || b == NULL || b[0] == '\0')
        return (a == NULL || a[0] == '\0') && (b == NULL || b[0] == '\0');
    return strcmp(a, b) == 0;
}

static int same(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static json_t *fake_get(void *ud, int when, const char *kind, const char *ns, const char *name)
{
    fake_twin *t = ud;
    size_t i;
    json_t *o;

    json_array_foreach(t->state[when], i, o) {
        if (same(json_string_value(json_object_get(o, "kind")), kind) && same_ns(meta(o, "namespace"), ns) &&
            same(meta(o, "name"), name))
            return json_incref(o);
    }
    return NULL;
}

/* Lists a kind (the AWS policies never pass a selector). */
static json_t *fake_list(void *ud, int when, const char *kind, const char *ns, const char *selector)
{
    fake_twin *t = ud;
    json_t *out = json_array(), *o;
    size_t i;

    (void)selector;
    json_array_foreach(t->state[when], i, o) {
        if (same(json_string_value(json_object_get(o, "kind")), kind) &&
            (ns == NULL || same_ns(meta(o, "namespace"), ns)))
            json_array_append(out, o);
    }
    return out;
}

static json_t *fake_history(void *ud, const char *agent, double window)
{
    fake_twin *t = ud;
    char key[32];
    json_t *h;

    assert_string_equal(agent, "ops-bot");
    snprintf(key, sizeof key, "%.0f", window);
    h = json_object_get(t->history, key);
    if (h != NULL)
        return json_deep_copy(h);
    return json_pack("{s:i, s:i, s:f, s:i}", "pods_disrupted", 0, "instances_disrupted", 0, "cost_added", 0.0,
                     "actions", 0);
}

static const gate_policy_view view = { fake_get, fake_list, fake_history, &twin };

/* ---- building ctx ----------------------------------------------------- */

/* Parses printf-formatted JSON written with ' for ". */
static json_t *jq(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *jq(const char *fmt, ...)
{
    char buf[16384];
    json_error_t jerr;
    va_list ap;
    json_t *j;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if (*p == '\'')
            *p = '"';
    j = json_loads(buf, 0, &jerr);
    if (j == NULL)
        fail_msg("bad test JSON (%s, column %d): %s", jerr.text, jerr.column, buf);
    return j;
}

/* An AWS mutation: service, operation, input (jq quoting). */
#define AWS_CALL(service, operation, input)                                           \
    "{'provider':'aws','service':'" service "','operation':'" operation "','input':" \
    input ",'verb':'call','dry_run':false,'region':'us-east-1'}"

/* An AWS read. */
#define AWS_READ(service, operation, input)                                           \
    "{'provider':'aws','service':'" service "','operation':'" operation "','input':" \
    input ",'verb':'get','dry_run':false,'region':'us-east-1'}"

#define UPDATE_WEB                                                                          \
    "{'verb':'update','method':'PUT','path':'/apis/apps/v1/namespaces/shop/deployments/web'," \
    "'kind':'Deployment','resource':'deployments','subresource':null,'namespace':'shop',"   \
    "'name':'web','group':'apps','version':'v1','dry_run':false}"

#define QUIET_PHASE                                                                      \
    "{'pods_disrupted':0,'pods':[],'services_emptied':[],'workloads_degraded':[],"      \
    "'instances_disrupted':[],'target_groups_emptied':[],'asgs_degraded':[]}"

/* An impact with nothing disrupted: a cluster of 400 running pods and an
 * account of 40 running instances, every AWS field present and empty (as
 * the twin writes them for an AWS call). */
#define QUIET_IMPACT                                                                       \
    "{'pods_disrupted':0,'instances_disrupted':0,'instant':" QUIET_PHASE ","                \
    "'settled':" QUIET_PHASE ",'namespaces_touched':[],"                                    \
    "'cost':{'before':10.0,'after':10.0,'delta':0.0},"                                      \
    "'reachability':{'added':[],'removed':[]},"                                             \
    "'counts':{'by_kind':{},'by_op':{'delete':0,'create':0,'update':1}},"                  \
    "'cluster':{'running_pods_before':400,'pods_before':420},"                              \
    "'exposure':{'added':[],'removed':[]},"                                                 \
    "'buckets_public':{'made_public':[],'made_private':[]},"                                \
    "'iam_grants':[],'data_at_risk':[],"                                                    \
    "'aws':{'running_instances_before':40,'instances_before':44,'account':'123456789012'," \
    "'region':'us-east-1'}}"

/* ctx from an action, a diff (NULL: []), a patch merged over QUIET_IMPACT
 * (NULL: none) and extra members of ctx (NULL: none), all in jq's quoting. */
static json_t *ctx_make(const char *action, const char *diff, const char *impact_patch, const char *extra)
{
    json_t *impact = jq("%s", QUIET_IMPACT);
    json_t *ctx;

    if (impact_patch != NULL) {
        json_t *patch = jq("%s", impact_patch);
        json_object_update_recursive(impact, patch);
        json_decref(patch);
    }
    ctx = jq("{'action':%s,'diff':%s,'agent':{'name':'ops-bot'}%s%s}", action, diff ? diff : "[]",
             extra ? "," : "", extra ? extra : "");
    json_object_set_new(ctx, "impact", impact);
    return ctx;
}

/* ---- judging and checking --------------------------------------------- */

/* Evaluates ctx (taken); the verdict is the caller's. */
static json_t *judge(json_t *ctx)
{
    json_t *verdict = NULL;
    char err[512] = "";

    if (gate_policy_eval(defaults, ctx, &view, &verdict, err, sizeof err) != 0)
        fail_msg("gate_policy_eval failed: %s", err);
    json_decref(ctx);
    assert_non_null(verdict);
    return verdict;
}

static const char *field(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL)
        fail_msg("no string field %s", key);
    return s;
}

static void check_contains(const char *hay, const char *needle)
{
    if (needle != NULL && strstr(hay, needle) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", needle, hay);
}

static const json_t *result_of(const json_t *verdict, const char *policy)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(verdict, "results"), i, r) {
        if (strcmp(field(r, "policy"), policy) == 0)
            return r;
    }
    fail_msg("no result for policy %s", policy);
    return NULL;
}

/* policy's verdict is `want` and its reason contains each of the needles
 * (a NULL-terminated list). */
static void expect(const json_t *verdict, const char *policy, const char *want, ...)
{
    const json_t *r = result_of(verdict, policy);
    const char *needle;
    va_list ap;

    if (strcmp(field(r, "verdict"), want) != 0)
        fail_msg("%s: expected %s, got %s (%s); message: %s", policy, want, field(r, "verdict"),
                 field(r, "reason"), field(verdict, "message"));
    va_start(ap, want);
    while ((needle = va_arg(ap, const char *)) != NULL)
        check_contains(field(r, "reason"), needle);
    va_end(ap);
}

/* The combined verdict is want. */
static void expect_overall(const json_t *verdict, const char *want)
{
    if (strcmp(field(verdict, "verdict"), want) != 0)
        fail_msg("expected overall %s, got %s: %s", want, field(verdict, "verdict"), field(verdict, "message"));
}

/* Judges ctx, checks policy's verdict and reason (needles, NULL-ended). */
#define JUDGE_EXPECT(ctx, policy, want, ...)     \
    do {                                         \
        json_t *v_ = judge(ctx);                 \
        expect(v_, policy, want, __VA_ARGS__);   \
        json_decref(v_);                         \
    } while (0)

/* Judges ctx and checks that every policy allows it. */
static void expect_all_allow(json_t *ctx)
{
    json_t *v = judge(ctx);
    expect_overall(v, "allow");
    json_decref(v);
}

static void set_history(const char *json)
{
    json_decref(twin.history);
    twin.history = json ? jq("%s", json) : NULL;
}

/* ---- fixtures --------------------------------------------------------- */

static int group_setup(void **state)
{
    json_error_t jerr;
    json_t *fx = json_load_file(DATA "/twin.json", 0, &jerr);
    const char *only[2] = { "before_only", "after_only" };
    char err[512] = "";

    (void)state;
    if (fx == NULL) {
        fprintf(stderr, "%s/twin.json:%d: %s\n", DATA, jerr.line, jerr.text);
        return -1;
    }
    for (int when = 0; when < 2; when++) {
        twin.state[when] = json_deep_copy(json_object_get(fx, "objects"));
        json_array_extend(twin.state[when], json_object_get(fx, only[when]));
    }
    json_decref(fx);
    if (gate_policy_load(&defaults, DEFAULT_POLICIES, err, sizeof err) != 0) {
        fprintf(stderr, "loading %s: %s\n", DEFAULT_POLICIES, err);
        return -1;
    }
    /* verdicts must not depend on how busy the machine is */
    gate_policy_set_time_limit(defaults, 60);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    gate_policy_free(defaults);
    json_decref(twin.state[0]);
    json_decref(twin.state[1]);
    json_decref(twin.history);
    return 0;
}

static int test_setup(void **state)
{
    (void)state;
    set_history(NULL);
    return 0;
}

#define TERMINATE(ids) AWS_CALL("ec2", "TerminateInstances", "{'InstanceIds':" ids "}")
#define STOP_WEB1 AWS_CALL("ec2", "StopInstances", "{'InstanceIds':['i-web1']}")

/* Three of the disrupted instances, named in messages. */
#define SOME_DISRUPTED                                                             \
    "[{'id':'i-web1','name':'web-1','group':'web-asg','from':'running','to':'shutting-down'}," \
    " {'id':'i-web2','name':'web-2','group':'web-asg','from':'running','to':'shutting-down'}," \
    " {'id':'i-web3','name':'web-3','group':'web-asg','from':'running','to':'shutting-down'}]"

/* ---- blast-radius ----------------------------------------------------- */

static void blast_denies_critical_target_group_emptied(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(TERMINATE("['i-pay1']"), NULL,
                          "{'instant':{'target_groups_emptied':[{'name':'pay-tg','arn':'arn:tg/pay-tg',"
                          "'healthy_before':3,'healthy_after':0,'deleted':false,'critical':true}]}}",
                          NULL),
                 "blast-radius", "deny", "target group pay-tg", "no healthy targets at once", "had 3",
                 "critical", NULL);
}

static void blast_denies_critical_target_group_under_half(void **state)
{
    (void)state;
    /* the entry says not critical; the twin's tags say it is */
    JUDGE_EXPECT(ctx_make(TERMINATE("['i-pay1']"), NULL,
                          "{'settled':{'target_groups_emptied':[{'name':'pay-tg','arn':'arn:tg/pay-tg',"
                          "'healthy_before':4,'healthy_after':1,'deleted':false,'critical':false}]}}",
                          NULL),
                 "blast-radius", "deny", "pay-tg with 1 of 4 healthy targets once settled", "25%",
                 "at least 50%", NULL);
}

#define PAY_TG(targets)                                                                            \
    "{'apiVersion':'aws.airlock.dev/v1','kind':'ELBv2TargetGroup','metadata':{'name':'pay-tg'},"   \
    "'aws':{'TargetGroupName':'pay-tg','Tags':[{'Key':'airlock.dev/tier','Value':'critical'}],"  \
    "'Targets':" targets "}}"
#define DEREGISTER_PAY AWS_CALL("elasticloadbalancing", "DeregisterTargets", "{'TargetGroupArn':'arn:tg/pay-tg'}")
#define HEALTHY(id) "{'Id':'" id "','Port':443,'State':'healthy'}"
#define DRAINING(id) "{'Id':'" id "','Port':443,'State':'draining'}"

static void blast_denies_critical_target_group_thinned_in_diff(void **state)
{
    (void)state;
    /* the twin does not list a group that keeps a healthy target: the diff says */
    JUDGE_EXPECT(ctx_make(DEREGISTER_PAY,
                          "[{'op':'update','kind':'ELBv2TargetGroup','name':'pay-tg','before':"
                          PAY_TG("[" HEALTHY("i-1") "," HEALTHY("i-2") "," HEALTHY("i-3") "]") ",'after':"
                          PAY_TG("[" HEALTHY("i-1") "," DRAINING("i-2") "," DRAINING("i-3") "]")
                          ",'cause':'direct','parent':null}]",
                          NULL, NULL),
                 "blast-radius", "deny", "would leave target group pay-tg with 1 of 3 healthy targets (33%", NULL);
    expect_all_allow(ctx_make(DEREGISTER_PAY,
                              "[{'op':'update','kind':'ELBv2TargetGroup','name':'pay-tg','before':"
                              PAY_TG("[" HEALTHY("i-1") "," HEALTHY("i-2") "]") ",'after':"
                              PAY_TG("[" HEALTHY("i-1") "," DRAINING("i-2") "]")
                              ",'cause':'direct','parent':null}]",
                              NULL, NULL));
}

static void blast_allows_critical_target_group_at_half(void **state)
{
    (void)state;
    expect_all_allow(ctx_make(TERMINATE("['i-pay1']"), NULL,
                              "{'instant':{'target_groups_emptied':[{'name':'pay-tg','arn':'arn:tg/pay-tg',"
                              "'healthy_before':4,'healthy_after':2,'deleted':false,'critical':true}]}}",
                              NULL));
}

static void blast_denies_deleting_target_group_critical_before(void **state)
{
    (void)state;
    /* legacy-tg is tagged critical before the action only (it is deleted) */
    JUDGE_EXPECT(ctx_make(AWS_CALL("elasticloadbalancing", "DeleteTargetGroup",
                                   "{'TargetGroupArn':'arn:tg/legacy-tg'}"),
                          NULL,
                          "{'instant':{'target_groups_emptied':[{'name':'legacy-tg','arn':'arn:tg/legacy-tg',"
                          "'healthy_before':2,'healthy_after':0,'deleted':true}]}}",
                          NULL),
                 "blast-radius", "deny", "would delete target group legacy-tg, which had 2 healthy targets (critical)",
                 NULL);
}

static void blast_reviews_other_target_group_emptied(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(STOP_WEB1, NULL,
                          "{'instant':{'target_groups_emptied':[{'name':'web-tg','arn':'arn:tg/web-tg',"
                          "'healthy_before':1,'healthy_after':0,'deleted':false,'critical':false}]}}",
                          NULL),
                 "blast-radius", "review", "would leave target group web-tg with no healthy targets", NULL);
}

static void blast_allows_other_target_group_degraded(void **state)
{
    (void)state;
    expect_all_allow(ctx_make(STOP_WEB1, NULL,
                              "{'instant':{'target_groups_emptied':[{'name':'web-tg','arn':'arn:tg/web-tg',"
                              "'healthy_before':4,'healthy_after':1,'deleted':false,'critical':false}]}}",
                              NULL));
}

static void blast_denies_critical_asg_degraded(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(AWS_CALL("autoscaling", "UpdateAutoScalingGroup",
                                   "{'AutoScalingGroupName':'pay-asg','DesiredCapacity':1,'MinSize':1}"),
                          NULL,
                          "{'settled':{'asgs_degraded':[{'name':'pay-asg','healthy_before':4,'healthy_after':1,"
                          "'desired':1,'min':1,'critical':true}]}}",
                          NULL),
                 "blast-radius", "deny", "Auto Scaling group pay-asg", "1 of 4 healthy instances once settled",
                 "25%", NULL);
}

static void blast_allows_asg_near_miss(void **state)
{
    (void)state;
    /* a critical group keeping half, and another group losing more */
    expect_all_allow(ctx_make(AWS_CALL("autoscaling", "UpdateAutoScalingGroup",
                                       "{'AutoScalingGroupName':'pay-asg','DesiredCapacity':2}"),
                              NULL,
                              "{'settled':{'asgs_degraded':[{'name':'pay-asg','healthy_before':4,'healthy_after':2,"
                              "'desired':2,'min':2,'critical':true},"
                              "{'name':'web-asg','healthy_before':4,'healthy_after':0,'desired':0,'min':0,"
                              "'critical':false}]}}",
                              NULL));
}

static void blast_denies_many_instances_at_once(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(TERMINATE("['i-web1','i-web2','i-web3']"), NULL,
                               "{'instances_disrupted':51,'instant':{'instances_disrupted':" SOME_DISRUPTED "},"
                               "'aws':{'running_instances_before':1000}}",
                               NULL));
    expect(v, "blast-radius", "deny", "would disrupt 51 EC2 instances at once (limit 50)", "i-web1 (web-1)", NULL);
    expect_overall(v, "deny");
    check_contains(field(v, "message"), "airlock: denied by blast-radius: ");
    json_decref(v);
}

static void blast_denies_large_share_of_account(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(TERMINATE("['i-web1','i-web2','i-web3']"), NULL,
                          "{'instances_disrupted':3,'instant':{'instances_disrupted':" SOME_DISRUPTED "},"
                          "'aws':{'running_instances_before':10}}",
                          NULL),
                 "blast-radius", "deny", "3 of the account's 10 running EC2 instances", "30%", "limit 25%",
                 "i-web2 (web-2)", NULL);
}

static void blast_allows_a_quarter_of_account(void **state)
{
    (void)state;
    expect_all_allow(ctx_make(TERMINATE("['i-web1','i-web2','i-web3']"), NULL,
                              "{'instances_disrupted':3,'instant':{'instances_disrupted':" SOME_DISRUPTED "},"
                              "'aws':{'running_instances_before':12}}",
                              NULL));
}

static void blast_reviews_more_than_ten_instances(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(TERMINATE("['i-web1']"), NULL,
                          "{'instances_disrupted':11,'instant':{'instances_disrupted':" SOME_DISRUPTED "},"
                          "'aws':{'running_instances_before':400}}",
                          NULL),
                 "blast-radius", "review", "would disrupt 11 EC2 instances at once (review above 10)", "i-web1",
                 NULL);
}

static void blast_allows_ten_instances(void **state)
{
    (void)state;
    expect_all_allow(ctx_make(TERMINATE("['i-web1']"), NULL,
                              "{'instances_disrupted':10,'instant':{'instances_disrupted':" SOME_DISRUPTED "},"
                              "'aws':{'running_instances_before':400}}",
                              NULL));
}

/* ---- cost ------------------------------------------------------------- */

#define RUN_BIG AWS_CALL("ec2", "RunInstances", "{'InstanceType':'p4d.24xlarge','MinCount':2,'MaxCount':2}")
#define CREATE_GPU(id)                                                                          \
    "{'op':'create','kind':'EC2Instance','name':'" id "','before':null,'after':{'apiVersion':" \
    "'aws.airlock.dev/v1','kind':'EC2Instance','metadata':{'name':'" id "'},'aws':{'InstanceId':'" id \
    "','InstanceType':'p4d.24xlarge','State':{'Name':'pending'}}},'cause':'direct','parent':null}"

static void cost_denies_expensive_instances(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(RUN_BIG, "[" CREATE_GPU("i-gpu1") "," CREATE_GPU("i-gpu2") "]",
                          "{'cost':{'before':10.0,'after':75.54,'delta':65.54}}", NULL),
                 "cost", "deny", "would raise the hourly cost by 65.54 (from 10.00 to 75.54",
                 "creates EC2Instance i-gpu1, EC2Instance i-gpu2", "limit 50.00", NULL);
}

static void cost_reviews_and_allows_smaller_instances(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(RUN_BIG, "[" CREATE_GPU("i-gpu1") "]", "{'cost':{'before':10.0,'after':16.0,'delta':6.0}}",
                          NULL),
                 "cost", "review", "by 6.00", "creates EC2Instance i-gpu1", "review above 5.00", NULL);
    expect_all_allow(ctx_make(RUN_BIG, "[" CREATE_GPU("i-gpu1") "]",
                              "{'cost':{'before':10.0,'after':15.0,'delta':5.0}}", NULL));
}

/* ---- segmentation ----------------------------------------------------- */

#define AUTHORIZE_SG(group) \
    AWS_CALL("ec2", "AuthorizeSecurityGroupIngress", "{'GroupId':'" group "'}")

static void segmentation_denies_internet_to_restricted_group(void **state)
{
    (void)state;
    /* i-hr1 sits in sg-secure (restricted): HTTPS is no excuse */
    JUDGE_EXPECT(ctx_make(AUTHORIZE_SG("sg-web"), NULL,
                          "{'exposure':{'added':[{'from':'internet','to':'hr-1','port':443,'proto':'tcp',"
                          "'instance':'i-hr1','group_ids':['sg-web'],'cidr':'0.0.0.0/0'}]}}",
                          NULL),
                 "segmentation", "deny",
                 "tcp/443 from the internet (0.0.0.0/0) to hr-1 (instance i-hr1; restricted security group sg-secure)",
                 NULL);
}

static void segmentation_denies_internet_to_restricted_vpc(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(AUTHORIZE_SG("sg-web"), NULL,
                          "{'exposure':{'added':[{'from':'internet','to':'vault-1','port':443,'proto':'tcp',"
                          "'instance':'i-vault1','group_ids':['sg-web'],'cidr':'0.0.0.0/0'}]}}",
                          NULL),
                 "segmentation", "deny", "vault-1 (instance i-vault1; restricted VPC vpc-vault)", NULL);
}

static void segmentation_denies_admin_ports(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(AUTHORIZE_SG("sg-web"), NULL,
                          "{'exposure':{'added':[{'from':'internet','to':'web-asg','port':22,'proto':'tcp',"
                          "'instance':'i-web1','group_ids':['sg-web'],'cidr':'0.0.0.0/0'}]}}",
                          NULL),
                 "segmentation", "deny", "tcp/22 from the internet (0.0.0.0/0) to web-asg (instance i-web1)",
                 "administrative/database port 22", NULL);
    /* a range covering PostgreSQL */
    JUDGE_EXPECT(ctx_make(AUTHORIZE_SG("sg-web"), NULL,
                          "{'exposure':{'added':[{'from':'internet','to':'web-asg','port':5000,'to_port':6000,"
                          "'proto':'tcp','instance':'i-web1','group_ids':['sg-web'],'cidr':'::/0'}]}}",
                          NULL),
                 "segmentation", "deny", "tcp/5000-6000", "port 5432", NULL);
    JUDGE_EXPECT(ctx_make(AUTHORIZE_SG("sg-web"), NULL,
                          "{'exposure':{'added':[{'from':'internet','to':'web-asg','port':'3300-3400',"
                          "'proto':'tcp','instance':'i-web1','group_ids':['sg-web'],'cidr':'0.0.0.0/0'}]}}",
                          NULL),
                 "segmentation", "deny", "tcp/3300-3400", "ports 3389, 3306", NULL);
    /* protocol -1 (the twin writes "all", ports -1): every port */
    JUDGE_EXPECT(ctx_make(AUTHORIZE_SG("sg-web"), NULL,
                          "{'exposure':{'added':[{'from':'internet','to':'web-asg','port':-1,'to_port':-1,"
                          "'proto':'all',"
                          "'instance':'i-web1','group_ids':['sg-web'],'cidr':'0.0.0.0/0'}]}}",
                          NULL),
                 "segmentation", "deny", "all traffic from the internet",
                 "ports 22, 3389, 3306, 5432, 6379, 27017, 9200",
                 NULL);
}

static void segmentation_reviews_other_internet_paths(void **state)
{
    (void)state;
    /* near miss of the admin ports: 8000-9000 stops short of 9200 */
    JUDGE_EXPECT(ctx_make(AUTHORIZE_SG("sg-web"), NULL,
                          "{'exposure':{'added':[{'from':'internet','to':'web-asg','port':8000,'to_port':9000,"
                          "'proto':'tcp','instance':'i-web1','group_ids':['sg-web'],'cidr':'0.0.0.0/0'}]}}",
                          NULL),
                 "segmentation", "review",
                 "would open tcp/8000-9000 from the internet (0.0.0.0/0) to web-asg (instance i-web1)",
                 NULL);
}

static void segmentation_allows_closing_paths(void **state)
{
    (void)state;
    expect_all_allow(ctx_make(AWS_CALL("ec2", "RevokeSecurityGroupIngress", "{'GroupId':'sg-secure'}"), NULL,
                              "{'exposure':{'removed':[{'from':'internet','to':'hr-1','port':22,'proto':'tcp',"
                              "'instance':'i-hr1','group_ids':['sg-secure'],'cidr':'0.0.0.0/0'}]},"
                              "'buckets_public':{'made_private':[{'bucket':'hr-records','how':'acl',"
                              "'critical':false,'restricted':true}]}}",
                              NULL));
}

static void segmentation_denies_restricted_bucket_made_public(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(AWS_CALL("s3", "PutBucketPolicy", "{'Bucket':'hr-records','Policy':'{}'}"), NULL,
                          "{'buckets_public':{'made_public':[{'bucket':'hr-records','how':'policy',"
                          "'critical':false,'restricted':true}]}}",
                          NULL),
                 "segmentation", "deny", "restricted S3 bucket hr-records public through its bucket policy", NULL);
    /* the entry says not restricted; the twin's tags (after the call) say it is */
    JUDGE_EXPECT(ctx_make(AWS_CALL("s3", "DeletePublicAccessBlock", "{'Bucket':'new-exports'}"), NULL,
                          "{'buckets_public':{'made_public':[{'bucket':'new-exports',"
                          "'how':'public-access-block','critical':false,'restricted':false}]}}",
                          NULL),
                 "segmentation", "deny", "restricted S3 bucket new-exports public by lifting its public access block",
                 NULL);
}

static void segmentation_reviews_other_bucket_made_public(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(AWS_CALL("s3", "PutBucketAcl", "{'Bucket':'app-logs','ACL':'public-read'}"), NULL,
                          "{'buckets_public':{'made_public':[{'bucket':'app-logs','how':'acl',"
                          "'critical':false,'restricted':false}]}}",
                          NULL),
                 "segmentation", "review", "would make S3 bucket app-logs public through its ACL", NULL);
}

/* ---- privilege -------------------------------------------------------- */

#define PUT_ROLE_POLICY AWS_CALL("iam", "PutRolePolicy", "{'RoleName':'ci','PolicyName':'p'}")

static void privilege_denies_admin_grant(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(PUT_ROLE_POLICY, NULL,
                          "{'iam_grants':[{'principal':'role/ci','type':'inline','actions':['*'],"
                          "'resources':['*'],'admin':true,'via':'inline policy p','trust_public':false,"
                          "'passrole_star':false,'over_others':[]}]}",
                          NULL),
                 "privilege", "deny", "would grant role/ci admin (* on *)", "via inline policy p", NULL);
}

static void privilege_denies_administrator_access(void **state)
{
    (void)state;
    /* the attachment itself, even when the twin's grant is not flagged */
    JUDGE_EXPECT(ctx_make(AWS_CALL("iam", "AttachUserPolicy",
                                   "{'UserName':'deploy','PolicyArn':'arn:aws:iam::aws:policy/AdministratorAccess'}"),
                          NULL, NULL, NULL),
                 "privilege", "deny", "would attach AdministratorAccess to user/deploy", NULL);
    JUDGE_EXPECT(ctx_make(PUT_ROLE_POLICY, NULL,
                          "{'iam_grants':[{'principal':'role/ci','type':'managed','actions':['ec2:*'],"
                          "'resources':['*'],'admin':false,"
                          "'via':'AttachRolePolicy AdministratorAccess','over_others':[]}]}",
                          NULL),
                 "privilege", "deny", "would grant role/ci AdministratorAccess (via AttachRolePolicy", NULL);
}

static void privilege_denies_passrole_star(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(PUT_ROLE_POLICY, NULL,
                          "{'iam_grants':[{'principal':'role/ci','type':'inline','actions':['iam:PassRole'],"
                          "'resources':['*'],'admin':false,'passrole_star':true,'via':'inline policy p'}]}",
                          NULL),
                 "privilege", "deny", "role/ci", "iam:PassRole on *", NULL);
    /* iam:Pass* on * is the same grant, whatever the twin flagged */
    JUDGE_EXPECT(ctx_make(PUT_ROLE_POLICY, NULL,
                          "{'iam_grants':[{'principal':'role/ci','type':'inline','actions':['iam:Pass*'],"
                          "'resources':['*'],'admin':false,'passrole_star':false}]}",
                          NULL),
                 "privilege", "deny", "iam:PassRole on *", NULL);
}

static void privilege_denies_power_over_others(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(PUT_ROLE_POLICY, NULL,
                          "{'iam_grants':[{'principal':'role/ci','type':'inline',"
                          "'actions':['iam:CreateAccessKey'],'resources':['arn:aws:iam::123456789012:user/*'],"
                          "'admin':false,'over_others':['iam:CreateAccessKey']}]}",
                          NULL),
                 "privilege", "deny", "role/ci", "iam:CreateAccessKey over other principals", NULL);
}

static void privilege_denies_public_trust(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(AWS_CALL("iam", "UpdateAssumeRolePolicy", "{'RoleName':'ci','PolicyDocument':'{}'}"),
                          NULL,
                          "{'iam_grants':[{'principal':'role/ci','type':'trust','actions':['sts:AssumeRole'],"
                          "'resources':['*'],'admin':false,'trust_public':true,'via':'trust policy'}]}",
                          NULL),
                 "privilege", "deny", "would let anyone (Principal *) assume role/ci", NULL);
}

static void privilege_allows_narrow_grants(void **state)
{
    (void)state;
    expect_all_allow(ctx_make(PUT_ROLE_POLICY, NULL,
                              "{'iam_grants':[{'principal':'role/ci','type':'inline',"
                              "'actions':['s3:GetObject','s3:PutObject'],'resources':['arn:aws:s3:::app-logs/*'],"
                              "'admin':false,'trust_public':false,'passrole_star':false,'over_others':[]},"
                              "{'principal':'role/ci','type':'inline','actions':['iam:PassRole'],"
                              "'resources':['arn:aws:iam::123456789012:role/app'],'admin':false,"
                              "'passrole_star':false,'over_others':[]}]}",
                              NULL));
    expect_all_allow(ctx_make(AWS_CALL("iam", "AttachRolePolicy",
                                       "{'RoleName':'ci','PolicyArn':'arn:aws:iam::aws:policy/ReadOnlyAccess'}"),
                              NULL, NULL, NULL));
}

/* PowerUserAccess: "*" but for its NotAction exceptions is not admin, and
 * does not reach iam:PassRole. */
static void privilege_allows_not_action_grant(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(AWS_CALL("iam", "AttachRolePolicy",
                                   "{'RoleName':'ci','PolicyArn':'arn:aws:iam::aws:policy/PowerUserAccess'}"),
                          NULL,
                          "{'iam_grants':[{'principal':'role/ci','type':'managed','actions':['*'],"
                          "'not_actions':['iam:*','organizations:*','account:*'],'resources':['*'],"
                          "'admin':false,'trust_public':false,'passrole_star':false,'over_others':[],"
                          "'via':'AttachRolePolicy PowerUserAccess'}]}",
                          NULL),
                 "privilege", "allow", NULL);
}

/* A restricted security group opened to the internet is denied even when
 * no instance is reachable through it yet; a rule from a private range is not. */
#define SECURE_SG(perms)                                                                               \
    "{'apiVersion':'aws.airlock.dev/v1','kind':'EC2SecurityGroup','metadata':{'name':'sg-secure'},"   \
    "'aws':{'GroupId':'sg-secure','GroupName':'secure','Tags':[{'Key':'airlock.dev/restricted','Value':'true'}]," \
    "'IpPermissions':" perms "}}"

static void segmentation_denies_opening_restricted_group(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(AWS_CALL("ec2", "AuthorizeSecurityGroupIngress", "{'GroupId':'sg-secure'}"),
                          "[{'op':'update','kind':'EC2SecurityGroup','name':'sg-secure','cause':'direct','before':"
                          SECURE_SG("[]") ",'after':"
                          SECURE_SG("[{'IpProtocol':'tcp','FromPort':5432,'ToPort':5432,'IpRanges':[{'CidrIp':'0.0.0.0/0'}]}]")
                          "}]",
                          NULL, NULL),
                 "segmentation", "deny", "restricted security group sg-secure", "tcp/5432", NULL);
    JUDGE_EXPECT(ctx_make(AWS_CALL("ec2", "AuthorizeSecurityGroupIngress", "{'GroupId':'sg-secure'}"),
                          "[{'op':'update','kind':'EC2SecurityGroup','name':'sg-secure','cause':'direct','before':"
                          SECURE_SG("[]") ",'after':"
                          SECURE_SG("[{'IpProtocol':'tcp','FromPort':5432,'ToPort':5432,'IpRanges':[{'CidrIp':'10.0.0.0/8'}]}]")
                          "}]",
                          NULL, NULL),
                 "segmentation", "allow", NULL);
}

/* Lifting a restricted bucket's public access block is denied though
 * nothing in it is public yet. */
static void segmentation_denies_lifting_restricted_block(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(AWS_CALL("s3", "DeletePublicAccessBlock", "{'Bucket':'hr-records'}"),
                          "[{'op':'update','kind':'S3Bucket','name':'hr-records','cause':'direct',"
                          "'before':{'kind':'S3Bucket','metadata':{'name':'hr-records'},'aws':{'Name':'hr-records',"
                          "'PublicAccessBlock':{'BlockPublicAcls':true,'IgnorePublicAcls':true,'BlockPublicPolicy':true,"
                          "'RestrictPublicBuckets':true}}},"
                          "'after':{'kind':'S3Bucket','metadata':{'name':'hr-records'},'aws':{'Name':'hr-records'}}}]",
                          NULL, NULL),
                 "segmentation", "deny", "public access block of restricted S3 bucket hr-records", "BlockPublicPolicy",
                 NULL);
}

/* A volume deleted with its instance (attached with DeleteOnTermination:
 * a cascade) is not a deletion to review; one deleted by the call is. */
#define TMP_VOLUME(dot)                                                                               \
    "{'kind':'EC2Volume','metadata':{'name':'vol-tmp'},'aws':{'VolumeId':'vol-tmp','Size':8,"          \
    "'Attachments':[{'InstanceId':'i-web1','DeleteOnTermination':" dot "}]}}"

static void data_protection_spares_volumes_dying_with_instances(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(TERMINATE("['i-web1']"),
                          "[{'op':'delete','kind':'EC2Volume','name':'vol-tmp','cause':'cascade',"
                          "'parent':'EC2Instance//i-web1','before':" TMP_VOLUME("true") "}]",
                          "{'data_at_risk':[{'type':'volume','id':'vol-tmp','critical':false}]}", NULL),
                 "data-protection", "allow", NULL);
    JUDGE_EXPECT(ctx_make(AWS_CALL("ec2", "DeleteVolume", "{'VolumeId':'vol-tmp'}"),
                          "[{'op':'delete','kind':'EC2Volume','name':'vol-tmp','cause':'direct','before':"
                          TMP_VOLUME("false") "}]",
                          "{'data_at_risk':[{'type':'volume','id':'vol-tmp','critical':false}]}", NULL),
                 "data-protection", "review", "EBS volume vol-tmp", NULL);
}

/* A new access key's secret is in the answer: read_secrets or nothing. */
static void data_protection_denies_access_keys_without_read_secrets(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(AWS_CALL("iam", "CreateAccessKey", "{'UserName':'deploy'}"), NULL, NULL, NULL),
                 "data-protection", "deny", "creating an access key", "user deploy", NULL);
    json_t *ctx = ctx_make(AWS_CALL("iam", "CreateAccessKey", "{'UserName':'deploy'}"), NULL, NULL, NULL);
    json_object_set_new(json_object_get(ctx, "agent"), "read_secrets", json_true());
    JUDGE_EXPECT(ctx, "data-protection", "allow", NULL);
}

#define TAGGED_INSTANCE(id, tags)                                                             \
    "{'apiVersion':'aws.airlock.dev/v1','kind':'EC2Instance','metadata':{'name':'" id "'},'aws':{" \
    "'InstanceId':'" id "','State':{'Name':'running'},'Tags':" tags "}}"

#define PAY1_TAGS "[{'Key':'Name','Value':'pay-1'},{'Key':'airlock.dev/tier','Value':'critical'}]"
#define PAY1_RENAMED_TAGS "[{'Key':'airlock.dev/tier','Value':'critical'},{'Key':'Name','Value':'p'}]"

static void privilege_denies_protection_tag_removal(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(AWS_CALL("ec2", "DeleteTags", "{'Resources':['i-pay1'],'Tags':[{'Key':'airlock.dev/tier'}]}"),
                          "[{'op':'update','kind':'EC2Instance','name':'i-pay1','before':"
                          TAGGED_INSTANCE("i-pay1", PAY1_TAGS)
                          ",'after':" TAGGED_INSTANCE("i-pay1", "[{'Key':'Name','Value':'pay-1'}]")
                          ",'cause':'direct','parent':null}]",
                          NULL, NULL),
                 "privilege", "deny", "would remove tag airlock.dev/tier=critical from EC2Instance i-pay1", NULL);
    /* RDS keeps its tags under TagList */
    JUDGE_EXPECT(ctx_make(AWS_CALL("rds", "AddTagsToResource", "{'ResourceName':'arn:db:orders-db'}"),
                          "[{'op':'update','kind':'RDSDBInstance','name':'orders-db','before':{'kind':'RDSDBInstance',"
                          "'metadata':{'name':'orders-db'},'aws':{'TagList':[{'Key':'airlock.dev/restricted',"
                          "'Value':'true'}]}},'after':{'kind':'RDSDBInstance','metadata':{'name':'orders-db'},"
                          "'aws':{'TagList':[{'Key':'airlock.dev/restricted','Value':'false'}]}},"
                          "'cause':'direct','parent':null}]",
                          NULL, NULL),
                 "privilege", "deny",
                 "would change tag airlock.dev/restricted of RDSDBInstance orders-db from true to false",
                 NULL);
}

static void privilege_allows_other_tag_changes(void **state)
{
    (void)state;
    expect_all_allow(ctx_make(AWS_CALL("ec2", "CreateTags",
                                       "{'Resources':['i-pay1'],'Tags':[{'Key':'Name','Value':'p'}]}"),
                              "[{'op':'update','kind':'EC2Instance','name':'i-pay1','before':"
                              TAGGED_INSTANCE("i-pay1", PAY1_TAGS)
                              ",'after':" TAGGED_INSTANCE("i-pay1", PAY1_RENAMED_TAGS)
                              ",'cause':'direct','parent':null}]",
                              NULL, NULL));
}

/* ---- data-protection -------------------------------------------------- */

static void data_denies_deleting_critical_data(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(AWS_CALL("ec2", "DeleteVolume", "{'VolumeId':'vol-pay'}"), NULL,
                          "{'data_at_risk':[{'type':'volume','id':'vol-pay','critical':true}]}", NULL),
                 "data-protection", "deny", "would delete EBS volume vol-pay (critical)", NULL);
    /* tagged critical before only, the entry not flagged: still critical */
    JUDGE_EXPECT(ctx_make(AWS_CALL("ec2", "DeleteSnapshot", "{'SnapshotId':'snap-gold'}"), NULL,
                          "{'data_at_risk':[{'type':'snapshot','id':'snap-gold','critical':false}]}", NULL),
                 "data-protection", "deny", "would delete EBS snapshot snap-gold (critical)", NULL);
    JUDGE_EXPECT(ctx_make(AWS_CALL("s3", "DeleteBucket", "{'Bucket':'backups'}"), NULL,
                          "{'data_at_risk':[{'type':'bucket','id':'backups','critical':true,'objects':300}]}", NULL),
                 "data-protection", "deny", "would delete S3 bucket backups and its 300 objects (critical)", NULL);
    JUDGE_EXPECT(ctx_make(AWS_CALL("rds", "DeleteDBInstance", "{'DBInstanceIdentifier':'orders-db'}"), NULL,
                          "{'data_at_risk':[{'type':'db_instance','id':'orders-db','critical':false,"
                          "'final_snapshot':true}]}",
                          NULL),
                 "data-protection", "deny", "would delete DB instance orders-db (critical)", NULL);
}

static void data_denies_db_without_final_snapshot(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(AWS_CALL("rds", "DeleteDBInstance",
                                   "{'DBInstanceIdentifier':'scratch-db','SkipFinalSnapshot':true}"),
                          NULL,
                          "{'data_at_risk':[{'type':'db_instance','id':'scratch-db','critical':false,"
                          "'final_snapshot':false}]}",
                          NULL),
                 "data-protection", "deny", "would delete DB instance scratch-db without a final snapshot", NULL);
}

static void data_reviews_other_deletions(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(AWS_CALL("rds", "DeleteDBInstance",
                                   "{'DBInstanceIdentifier':'scratch-db','FinalDBSnapshotIdentifier':'last'}"),
                          NULL,
                          "{'data_at_risk':[{'type':'db_instance','id':'scratch-db','critical':false,"
                          "'final_snapshot':true}]}",
                          NULL),
                 "data-protection", "review", "would delete DB instance scratch-db", NULL);
    JUDGE_EXPECT(ctx_make(AWS_CALL("ec2", "DeleteVolume", "{'VolumeId':'vol-tmp'}"), NULL,
                          "{'data_at_risk':[{'type':'volume','id':'vol-tmp','critical':false}]}", NULL),
                 "data-protection", "review", "would delete EBS volume vol-tmp", NULL);
}

static void data_allows_deleting_nothing_of_value(void **state)
{
    (void)state;
    /* a DB snapshot created, nothing at risk */
    expect_all_allow(ctx_make(AWS_CALL("rds", "CreateDBSnapshot",
                                       "{'DBInstanceIdentifier':'orders-db','DBSnapshotIdentifier':'s1'}"),
                              NULL, NULL, NULL));
}

#define GET_OBJECT(bucket) AWS_READ("s3", "GetObject", "{'Bucket':'" bucket "','Key':'2024/payroll.csv'}")

static void data_denies_reading_restricted_objects(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(GET_OBJECT("hr-records"), NULL, NULL, NULL));
    expect(v, "data-protection", "deny", "restricted S3 bucket hr-records",
           "GetObject hr-records/2024/payroll.csv", NULL);
    expect_overall(v, "deny");
    json_decref(v);
    JUDGE_EXPECT(ctx_make(AWS_READ("s3", "HeadObject", "{'Bucket':'hr-records','Key':'a'}"), NULL, NULL, NULL),
                 "data-protection", "deny", "restricted S3 bucket hr-records", "HeadObject", NULL);
    /* a copy reads its source */
    JUDGE_EXPECT(ctx_make(AWS_CALL("s3", "CopyObject",
                                   "{'Bucket':'app-logs','Key':'x','CopySource':'hr-records/2024/payroll.csv'}"),
                          NULL, NULL, NULL),
                 "data-protection", "deny", "restricted S3 bucket hr-records", "CopyObject from it", NULL);
}

static void data_allows_reading_with_read_secrets_or_elsewhere(void **state)
{
    (void)state;
    json_t *ctx = ctx_make(GET_OBJECT("hr-records"), NULL, NULL, NULL);
    json_object_set_new(json_object_get(ctx, "agent"), "read_secrets", json_true());
    expect_all_allow(ctx);
    expect_all_allow(ctx_make(GET_OBJECT("app-logs"), NULL, NULL, NULL));
    expect_all_allow(ctx_make(AWS_READ("s3", "ListObjectsV2", "{'Bucket':'hr-records'}"), NULL, NULL, NULL));
}

#define MODIFY_DB(input) AWS_CALL("rds", "ModifyDBInstance", input)

static void data_denies_master_password_change(void **state)
{
    (void)state;
    JUDGE_EXPECT(ctx_make(MODIFY_DB("{'DBInstanceIdentifier':'scratch-db','MasterUserPassword':'hunter22'}"),
                          NULL, NULL, NULL),
                 "data-protection", "deny", "master password of DB instance scratch-db", NULL);
}

static void data_allows_other_db_changes_and_read_secrets(void **state)
{
    (void)state;
    json_t *ctx = ctx_make(MODIFY_DB("{'DBInstanceIdentifier':'scratch-db','MasterUserPassword':'hunter22'}"),
                           NULL, NULL, NULL);
    json_object_set_new(json_object_get(ctx, "agent"), "read_secrets", json_true());
    expect_all_allow(ctx);
    expect_all_allow(ctx_make(MODIFY_DB("{'DBInstanceIdentifier':'scratch-db','DBInstanceClass':'db.t3.large'}"),
                              NULL, NULL, NULL));
}

/* ---- budget ----------------------------------------------------------- */

static void budget_denies_too_many_instances_in_an_hour(void **state)
{
    (void)state;
    set_history("{'3600':{'pods_disrupted':0,'instances_disrupted':15,'cost_added':0.0,'actions':4}}");
    JUDGE_EXPECT(ctx_make(STOP_WEB1, NULL,
                          "{'instances_disrupted':6,'instant':{'instances_disrupted':" SOME_DISRUPTED "},"
                          "'aws':{'running_instances_before':400}}",
                          NULL),
                 "budget", "deny", "agent ops-bot would disrupt 21 EC2 instances within 60 minutes",
                 "15 already + 6 now, limit 20", NULL);
}

static void budget_allows_within_the_hour(void **state)
{
    (void)state;
    set_history("{'3600':{'pods_disrupted':0,'instances_disrupted':15,'cost_added':0.0,'actions':4}}");
    expect_all_allow(ctx_make(STOP_WEB1, NULL,
                              "{'instances_disrupted':5,'instant':{'instances_disrupted':" SOME_DISRUPTED "},"
                              "'aws':{'running_instances_before':400}}",
                              NULL));
}

static void budget_shares_cost_with_kubernetes(void **state)
{
    (void)state;
    set_history("{'86400':{'pods_disrupted':0,'instances_disrupted':0,'cost_added':98.0,'actions':4}}");
    JUDGE_EXPECT(ctx_make(RUN_BIG, "[" CREATE_GPU("i-gpu1") "]", "{'cost':{'before':10.0,'after':13.0,'delta':3.0}}",
                          NULL),
                 "budget", "deny", "would add 101.00/hour of cost within 24 hours", NULL);
}

/* ---- reads, absent fields, Kubernetes ---------------------------------- */

static void aws_reads_pass(void **state)
{
    (void)state;
    expect_all_allow(ctx_make(AWS_READ("ec2", "DescribeInstances", "{}"), NULL, NULL, NULL));
}

static void absent_fields_are_empty(void **state)
{
    (void)state;
    json_t *ctx = jq("{'action':" STOP_WEB1 ",'diff':[],'agent':{'name':'ops-bot'},'impact':{}}");
    expect_all_allow(ctx);
    /* a Kubernetes impact without any AWS field */
    ctx = jq("{'action':" UPDATE_WEB ",'diff':[],'agent':{'name':'ops-bot'},"
             "'impact':{'pods_disrupted':0,'instant':{'pods_disrupted':0},'settled':{},"
             "'cost':{'before':1.0,'after':1.0,'delta':0.0},'cluster':{'running_pods_before':40}}}");
    expect_all_allow(ctx);
}

static void kubernetes_still_judged_as_before(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(UPDATE_WEB, NULL, "{'pods_disrupted':51,'instant':{'pods_disrupted':51}}", NULL));
    expect(v, "blast-radius", "deny", "would disrupt 51 pods at once (limit 50)", NULL);
    expect(v, "segmentation", "allow", NULL);
    json_decref(v);
    JUDGE_EXPECT(ctx_make(UPDATE_WEB, NULL,
                          "{'settled':{'services_emptied':[{'namespace':'payments','name':'api','ready_before':3,"
                          "'ready_after':0,'deleted':false}]}}",
                          NULL),
                 "blast-radius", "deny", "would leave Service payments/api with no ready endpoints",
                 "critical namespace payments", NULL);
    JUDGE_EXPECT(ctx_make("{'verb':'get','resource':'secrets','kind':'Secret','namespace':'shop',"
                          "'name':'db-password'}",
                          NULL, NULL, NULL),
                 "data-protection", "deny", "reading Secrets is not allowed (get Secret shop/db-password)", NULL);
    JUDGE_EXPECT(ctx_make(UPDATE_WEB, NULL, "{'cost':{'before':10.0,'after':16.0,'delta':6.0}}", NULL), "cost",
                 "review", "would raise the hourly cost by 6.00 (from 10.00 to 16.00), review above 5.00", NULL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, test_setup)
    const struct CMUnitTest tests[] = {
        T(blast_denies_critical_target_group_emptied),
        T(blast_denies_critical_target_group_under_half),
        T(blast_allows_critical_target_group_at_half),
        T(blast_denies_critical_target_group_thinned_in_diff),
        T(blast_denies_deleting_target_group_critical_before),
        T(blast_reviews_other_target_group_emptied),
        T(blast_allows_other_target_group_degraded),
        T(blast_denies_critical_asg_degraded),
        T(blast_allows_asg_near_miss),
        T(blast_denies_many_instances_at_once),
        T(blast_denies_large_share_of_account),
        T(blast_allows_a_quarter_of_account),
        T(blast_reviews_more_than_ten_instances),
        T(blast_allows_ten_instances),
        T(cost_denies_expensive_instances),
        T(cost_reviews_and_allows_smaller_instances),
        T(segmentation_denies_internet_to_restricted_group),
        T(segmentation_denies_internet_to_restricted_vpc),
        T(segmentation_denies_admin_ports),
        T(segmentation_reviews_other_internet_paths),
        T(segmentation_allows_closing_paths),
        T(segmentation_denies_restricted_bucket_made_public),
        T(segmentation_reviews_other_bucket_made_public),
        T(privilege_denies_admin_grant),
        T(privilege_denies_administrator_access),
        T(privilege_denies_passrole_star),
        T(privilege_denies_power_over_others),
        T(privilege_denies_public_trust),
        T(privilege_allows_narrow_grants),
        T(privilege_allows_not_action_grant),
        T(segmentation_denies_opening_restricted_group),
        T(segmentation_denies_lifting_restricted_block),
        T(data_protection_spares_volumes_dying_with_instances),
        T(data_protection_denies_access_keys_without_read_secrets),
        T(privilege_denies_protection_tag_removal),
        T(privilege_allows_other_tag_changes),
        T(data_denies_deleting_critical_data),
        T(data_denies_db_without_final_snapshot),
        T(data_reviews_other_deletions),
        T(data_allows_deleting_nothing_of_value),
        T(data_denies_reading_restricted_objects),
        T(data_allows_reading_with_read_secrets_or_elsewhere),
        T(data_denies_master_password_change),
        T(data_allows_other_db_changes_and_read_secrets),
        T(budget_denies_too_many_instances_in_an_hour),
        T(budget_allows_within_the_hour),
        T(budget_shares_cost_with_kubernetes),
        T(aws_reads_pass),
        T(absent_fields_are_empty),
        T(kubernetes_still_judged_as_before),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
