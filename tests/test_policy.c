/*
 * tests/test_policy.c - unit tests for gate/policy: every default policy in
 * lua-policies/ (its deny side, allow side and review side), how verdicts
 * combine, config overrides, and the engine's sandbox and budgets, using the
 * small policy sets under tests/data/policy/. Run from the repository root.
 *
 * The twin is faked: a gate_policy_view serving tests/data/policy/twin.json
 * (a few namespaces with airlock.dev labels, workloads, roles), plus agent
 * history a test sets for itself. Each case writes its ctx by hand, in JSON
 * with ' for " so it reads cleanly.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gate/base/clock.h"
#include "gate/engine/policy.h"

#define DEFAULT_POLICIES "lua-policies"
#define DATA "tests/data/policy"

/* ---- the fake twin ---------------------------------------------------- */

typedef struct fake_twin {
    json_t *state[2];   /* [when]: objects before / after the action */
    json_t *history;    /* {"3600": totals, ...}; a missing window is zeros */
    int calls;
} fake_twin;

static fake_twin twin;
static gate_policy_set *defaults;   /* lua-policies/, loaded once */

static const char *meta(const json_t *o, const char *field)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), field));
}

static int same(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* kubectl-style selector, the subset tests need: "k=v,k2=v2,k3". */
static int selector_matches(const json_t *o, const char *selector)
{
    const json_t *labels = json_object_get(json_object_get(o, "metadata"), "labels");
    char buf[256], *save = NULL, *term;

    if (selector == NULL || selector[0] == '\0')
        return 1;
    snprintf(buf, sizeof buf, "%s", selector);
    for (term = strtok_r(buf, ",", &save); term; term = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(term, '=');
        if (eq) {
            *eq = '\0';
            if (!same(json_string_value(json_object_get(labels, term)), eq + 1))
                return 0;
        } else if (json_object_get(labels, term) == NULL) {
            return 0;
        }
    }
    return 1;
}

static json_t *fake_get(void *ud, int when, const char *kind, const char *ns, const char *name)
{
    fake_twin *t = ud;
    size_t i;
    json_t *o;

    t->calls++;
    json_array_foreach(t->state[when], i, o) {
        if (same(json_string_value(json_object_get(o, "kind")), kind) &&
            same(meta(o, "namespace"), ns) && same(meta(o, "name"), name))
            return json_incref(o);
    }
    return NULL;
}

static json_t *fake_list(void *ud, int when, const char *kind, const char *ns,
                         const char *selector)
{
    fake_twin *t = ud;
    json_t *out = json_array(), *o;
    size_t i;

    t->calls++;
    json_array_foreach(t->state[when], i, o) {
        if (same(json_string_value(json_object_get(o, "kind")), kind) &&
            (ns == NULL || same(meta(o, "namespace"), ns)) && selector_matches(o, selector))
            json_array_append(out, o);
    }
    return out;
}

static json_t *fake_history(void *ud, const char *agent, double window)
{
    fake_twin *t = ud;
    char key[32];
    json_t *h;

    t->calls++;
    assert_string_equal(agent, "ops-bot");
    snprintf(key, sizeof key, "%.0f", window);
    h = json_object_get(t->history, key);
    if (h != NULL)
        return json_deep_copy(h);
    return json_pack("{s:i, s:f, s:i}", "pods_disrupted", 0, "cost_added", 0.0, "actions", 0);
}

static const gate_policy_view view = { fake_get, fake_list, fake_history, &twin };

/* ---- building ctx ----------------------------------------------------- */

/* Parses printf-formatted JSON written with ' for ". */
static json_t *jq(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *jq(const char *fmt, ...)
{
    char buf[8192];
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

#define UPDATE_WEB                                                                          \
    "{'verb':'update','method':'PUT','path':'/apis/apps/v1/namespaces/shop/deployments/web'," \
    "'kind':'Deployment','resource':'deployments','subresource':null,'namespace':'shop',"   \
    "'name':'web','group':'apps','version':'v1','dry_run':false}"

#define GET_PODS                                                                  \
    "{'verb':'list','method':'GET','path':'/api/v1/namespaces/shop/pods','kind':'Pod'," \
    "'resource':'pods','subresource':null,'namespace':'shop','name':null,'group':'',"   \
    "'version':'v1','dry_run':false}"

#define QUIET_PHASE "{'pods_disrupted':0,'pods':[],'services_emptied':[],'workloads_degraded':[]}"

/* An impact with nothing disrupted, in a cluster of 400 running pods. */
#define QUIET_IMPACT                                                                \
    "{'pods_disrupted':0,'instant':" QUIET_PHASE ",'settled':" QUIET_PHASE ","        \
    "'namespaces_touched':['shop'],'cost':{'before':10.0,'after':10.0,'delta':0.0}," \
    "'reachability':{'added':[],'removed':[]},"                                      \
    "'counts':{'by_kind':{},'by_op':{'delete':0,'create':0,'update':1}},"           \
    "'cluster':{'running_pods_before':400,'pods_before':420}}"

/* ctx from an action (NULL: update Deployment shop/web), a diff (NULL: []),
 * a patch merged over QUIET_IMPACT (NULL: none) and extra members of ctx
 * (NULL: none), all in jq's quoting. */
static json_t *ctx_make(const char *action, const char *diff, const char *impact_patch,
                        const char *extra)
{
    json_t *impact = jq("%s", QUIET_IMPACT);
    json_t *ctx;

    if (impact_patch != NULL) {
        json_t *patch = jq("%s", impact_patch);
        json_object_update_recursive(impact, patch);
        json_decref(patch);
    }
    ctx = jq("{'action':%s,'diff':%s,'agent':{'name':'ops-bot'}%s%s}",
             action ? action : UPDATE_WEB, diff ? diff : "[]", extra ? "," : "",
             extra ? extra : "");
    json_object_set_new(ctx, "impact", impact);
    return ctx;
}

/* ---- judging and checking --------------------------------------------- */

/* Evaluates ctx (taken) with set; the verdict is the caller's. */
static json_t *judge_with(gate_policy_set *set, json_t *ctx, const gate_policy_view *v)
{
    json_t *verdict = NULL;
    char err[512] = "";

    if (gate_policy_eval(set, ctx, v, &verdict, err, sizeof err) != 0)
        fail_msg("gate_policy_eval failed: %s", err);
    json_decref(ctx);
    assert_non_null(verdict);
    return verdict;
}

static json_t *judge(json_t *ctx)
{
    return judge_with(defaults, ctx, &view);
}

static gate_policy_set *load(const char *dir)
{
    gate_policy_set *set = NULL;
    char err[512] = "";

    if (gate_policy_load(&set, dir, err, sizeof err) != 0)
        fail_msg("loading %s: %s", dir, err);
    /* the budgets' tests must not depend on how busy the machine is: a
     * generous time limit, except where the time limit is the test */
    gate_policy_set_time_limit(set, 60);
    return set;
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

static void check_starts(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("expected \"%s\" to start with \"%s\"", s, prefix);
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
        fail_msg("%s: expected %s, got %s (%s); message: %s", policy, want,
                 field(r, "verdict"), field(r, "reason"), field(verdict, "message"));
    va_start(ap, want);
    while ((needle = va_arg(ap, const char *)) != NULL)
        check_contains(field(r, "reason"), needle);
    va_end(ap);
}

/* The combined verdict is want and the message starts with prefix. */
static void expect_overall(const json_t *verdict, const char *want, const char *prefix)
{
    if (strcmp(field(verdict, "verdict"), want) != 0)
        fail_msg("expected overall %s, got %s: %s", want, field(verdict, "verdict"),
                 field(verdict, "message"));
    if (prefix != NULL)
        check_starts(field(verdict, "message"), prefix);
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
    defaults = load(DEFAULT_POLICIES);
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
    twin.calls = 0;
    return 0;
}

/* ---- blast-radius ----------------------------------------------------- */

static void blast_denies_many_pods_at_once(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(NULL, NULL,
                               "{'pods_disrupted':51,'instant':{'pods_disrupted':51}}", NULL));
    expect(v, "blast-radius", "deny", "51", "limit 50", NULL);
    expect_overall(v, "deny", "airlock: denied by blast-radius: ");
    check_contains(field(v, "message"), "would disrupt 51 pods at once (limit 50)");
    json_decref(v);
}

static void blast_denies_large_share_of_cluster(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(NULL, NULL,
                               "{'pods_disrupted':12,'instant':{'pods_disrupted':12},"
                               "'cluster':{'running_pods_before':40}}",
                               NULL));
    expect(v, "blast-radius", "deny", "12 of the cluster's 40", "30%", "limit 25%", NULL);
    json_decref(v);
}

static void blast_reviews_more_than_ten_pods(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(NULL, NULL,
                               "{'pods_disrupted':11,'instant':{'pods_disrupted':11}}", NULL));
    expect(v, "blast-radius", "review", "11 pods", "review above 10", NULL);
    expect_overall(v, "review", "airlock: needs approval (blast-radius: ");
    json_decref(v);
}

static void blast_allows_a_few_pods(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(NULL, NULL,
                               "{'pods_disrupted':3,'instant':{'pods_disrupted':3}}", NULL));
    expect(v, "blast-radius", "allow", NULL);
    expect_overall(v, "allow", "allowed");
    json_decref(v);
}

static void blast_denies_namespace_deletion_seen_in_diff(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(
        "{'verb':'delete','resource':'namespaces','kind':'Namespace','name':'scratch'}",
        "[{'op':'delete','kind':'Namespace','namespace':null,'name':'scratch',"
        "  'before':{'kind':'Namespace','metadata':{'name':'scratch'}},'after':null,"
        "  'cause':'direct','parent':null},"
        " {'op':'delete','kind':'Pod','namespace':'scratch','name':'tmp-1','before':{},"
        "  'after':null,'cause':'cascade','parent':'Namespace//scratch'},"
        " {'op':'delete','kind':'Pod','namespace':'scratch','name':'tmp-2','before':{},"
        "  'after':null,'cause':'cascade','parent':'Namespace//scratch'}]",
        NULL, NULL));
    expect(v, "blast-radius", "deny", "Namespace scratch", "2 Pod", NULL);
    json_decref(v);
}

static void blast_denies_namespace_deletion_seen_in_twin(void **state)
{
    (void)state;
    /* only the Namespace record: the twin's before-state shows what it holds */
    json_t *v = judge(ctx_make(
        "{'verb':'delete','resource':'namespaces','kind':'Namespace','name':'shop'}",
        "[{'op':'delete','kind':'Namespace','namespace':null,'name':'shop','before':{},"
        "  'after':null,'cause':'direct','parent':null}]",
        NULL, NULL));
    expect(v, "blast-radius", "deny", "Namespace shop", "1 Pod", "1 Deployment",
           "1 PersistentVolumeClaim", NULL);
    json_decref(v);
}

static void blast_allows_deleting_an_empty_namespace(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(
        "{'verb':'delete','resource':'namespaces','kind':'Namespace','name':'scratch'}",
        "[{'op':'delete','kind':'Namespace','namespace':null,'name':'scratch','before':{},"
        "  'after':null,'cause':'direct','parent':null}]",
        NULL, NULL));
    expect(v, "blast-radius", "allow", NULL);
    expect_overall(v, "allow", "allowed");
    json_decref(v);
}

static void blast_denies_emptied_service_in_critical_namespace(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(NULL, NULL,
                               "{'settled':{'services_emptied':[{'namespace':'payments',"
                               "'name':'api','ready_before':3,'ready_after':0,'deleted':false}]}}",
                               NULL));
    expect(v, "blast-radius", "deny",
           "would leave Service payments/api with no ready endpoints (critical namespace payments)",
           NULL);
    json_decref(v);
}

static void blast_reviews_emptied_service_elsewhere(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(NULL, NULL,
                               "{'instant':{'services_emptied':[{'namespace':'shop','name':'web',"
                               "'ready_before':2,'ready_after':0,'deleted':false}]}}",
                               NULL));
    expect(v, "blast-radius", "review", "Service shop/web", NULL);
    json_decref(v);
}

static void blast_denies_degraded_critical_workload(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(NULL, NULL,
                               "{'instant':{'workloads_degraded':[{'kind':'Deployment',"
                               "'namespace':'payments','name':'api','ready_before':3,"
                               "'ready_after':1,'desired':3}]}}",
                               NULL));
    expect(v, "blast-radius", "deny", "Deployment payments/api", "1 of 3", "33%", "50%", NULL);
    json_decref(v);
}

static void blast_allows_half_ready_critical_workload(void **state)
{
    (void)state;
    /* 2 of 4 is not under 50%; the same drop outside a critical namespace neither */
    json_t *v = judge(ctx_make(NULL, NULL,
                               "{'settled':{'workloads_degraded':["
                               "{'kind':'Deployment','namespace':'payments','name':'api',"
                               "'ready_before':4,'ready_after':2,'desired':4},"
                               "{'kind':'Deployment','namespace':'shop','name':'web',"
                               "'ready_before':4,'ready_after':0,'desired':4}]}}",
                               NULL));
    expect(v, "blast-radius", "allow", NULL);
    json_decref(v);
}

/* A PodDisruptionBudget's update in payments (critical; three app=api pods
 * in the twin), as the diff records it. */
static json_t *pdb_ctx(const char *ns, const char *before_spec, const char *after_spec)
{
    char diff[1024];
    char after[384] = "null";
    if (after_spec != NULL)
        snprintf(after, sizeof after, "{'spec':%s}", after_spec);
    snprintf(diff, sizeof diff,
             "[{'op':'%s','kind':'PodDisruptionBudget','namespace':'%s','name':'api',"
             "'before':{'spec':%s},'after':%s,'cause':'direct','parent':null}]",
             after_spec ? "update" : "delete", ns, before_spec, after);
    return ctx_make(NULL, diff, NULL, NULL);
}

/* Deleting or loosening the PDB of a critical workload removes the guard a
 * later drain would meet: a human approves it. Tightening it, or the same
 * change elsewhere, passes. */
static void blast_reviews_weakened_pdb_in_critical_namespace(void **state)
{
    (void)state;
#define MIN2 "{'minAvailable':2,'selector':{'matchLabels':{'app':'api'}}}"
    json_t *v = judge(pdb_ctx("payments", MIN2,
                              "{'maxUnavailable':'100%','selector':{'matchLabels':{'app':'api'}}}"));
    expect(v, "blast-radius", "review", "would weaken PodDisruptionBudget payments/api",
           "3 of its 3 pods allowed down instead of 1", NULL);
    json_decref(v);

    v = judge(pdb_ctx("payments", MIN2, NULL));
    expect(v, "blast-radius", "review", "would delete PodDisruptionBudget payments/api", NULL);
    json_decref(v);

    v = judge(pdb_ctx("payments", MIN2, "{'minAvailable':2,'selector':{'matchLabels':{'app':'x'}}}"));
    expect(v, "blast-radius", "review", "would change the selector", NULL);
    json_decref(v);

    v = judge(pdb_ctx("payments", MIN2,
                      "{'minAvailable':'100%','selector':{'matchLabels':{'app':'api'}}}"));
    expect(v, "blast-radius", "allow", NULL);
    json_decref(v);

    v = judge(pdb_ctx("shop", MIN2, NULL));
    expect(v, "blast-radius", "allow", NULL);
    json_decref(v);
#undef MIN2
}

/* vault is critical before the action and not after (the action relabels
 * it): it still counts as critical. */
static void critical_label_cannot_be_evaded(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(
        "{'verb':'patch','resource':'namespaces','kind':'Namespace','name':'vault'}",
        "[{'op':'update','kind':'Namespace','namespace':null,'name':'vault',"
        "  'before':{'kind':'Namespace','metadata':{'name':'vault','labels':"
        "    {'airlock.dev/tier':'critical'}}},"
        "  'after':{'kind':'Namespace','metadata':{'name':'vault','labels':"
        "    {'airlock.dev/tier':'standard'}}},'cause':'direct','parent':null}]",
        "{'instant':{'services_emptied':[{'namespace':'vault','name':'kms','ready_before':2,"
        "'ready_after':0,'deleted':false}]}}",
        NULL));
    expect(v, "blast-radius", "deny", "Service vault/kms", "critical namespace vault", NULL);
    expect(v, "privilege", "deny", "airlock.dev/tier", "vault", NULL);
    json_decref(v);
}

/* ---- cost ------------------------------------------------------------- */

static json_t *cost_ctx(double before, double after)
{
    char patch[128];
    snprintf(patch, sizeof patch, "{'cost':{'before':%.2f,'after':%.2f,'delta':%.2f}}", before,
             after, after - before);
    return ctx_make(NULL, NULL, patch, NULL);
}

static void cost_denies_above_50(void **state)
{
    (void)state;
    json_t *v = judge(cost_ctx(10, 70.5));
    expect(v, "cost", "deny", "60.50", "limit 50.00", NULL);
    expect_overall(v, "deny", "airlock: denied by cost: ");
    json_decref(v);
}

static void cost_reviews_above_5(void **state)
{
    (void)state;
    json_t *v = judge(cost_ctx(12.5, 18.6));
    expect(v, "cost", "review", "6.10", "review above 5.00", NULL);
    json_decref(v);
}

static void cost_allows_small_delta(void **state)
{
    (void)state;
    json_t *v = judge(cost_ctx(12.5, 14.1));
    expect(v, "cost", "allow", NULL);
    json_decref(v);
}

/* ---- segmentation ----------------------------------------------------- */

static json_t *pair_ctx(const char *from, const char *to, const char *port)
{
    char patch[256];
    snprintf(patch, sizeof patch,
             "{'reachability':{'added':[{'from':'%s','to':'%s','port':'%s'}]}}", from, to, port);
    return ctx_make(NULL, NULL, patch, NULL);
}

static void segmentation_denies_outside_into_restricted(void **state)
{
    (void)state;
    json_t *v = judge(pair_ctx("outside", "secure/api", "TCP/8080"));
    expect(v, "segmentation", "deny", "outside -> secure/api on TCP/8080",
           "restricted namespace secure", NULL);
    json_decref(v);
}

static void segmentation_denies_other_namespace_into_restricted(void **state)
{
    (void)state;
    json_t *v = judge(pair_ctx("shop/web", "secure/db", "*"));
    expect(v, "segmentation", "deny", "shop/web -> secure/db on any port", NULL);
    json_decref(v);
}

static void segmentation_denies_into_namespace_restricted_after(void **state)
{
    (void)state;
    json_t *v = judge(pair_ctx("outside", "dmz/gw", "TCP/443"));
    expect(v, "segmentation", "deny", "restricted namespace dmz", NULL);
    json_decref(v);
}

static void segmentation_allows_pairs_within_restricted(void **state)
{
    (void)state;
    json_t *v = judge(pair_ctx("secure/api", "secure/db", "TCP/5432"));
    expect(v, "segmentation", "allow", NULL);
    json_decref(v);
}

static void segmentation_reviews_outside_into_other(void **state)
{
    (void)state;
    json_t *v = judge(pair_ctx("outside", "shop/web", "TCP/80"));
    expect(v, "segmentation", "review", "outside -> shop/web on TCP/80", NULL);
    json_decref(v);
}

static void segmentation_denies_exposed_restricted_service(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(
        "{'verb':'patch','resource':'services','kind':'Service','namespace':'secure','name':'api'}",
        "[{'op':'update','kind':'Service','namespace':'secure','name':'api',"
        "  'before':{'spec':{'type':'ClusterIP'}},"
        "  'after':{'spec':{'type':'LoadBalancer','externalIPs':['203.0.113.7']}},"
        "  'cause':'direct','parent':null}]",
        NULL, NULL));
    expect(v, "segmentation", "deny", "Service secure/api as LoadBalancer",
           "externalIPs 203.0.113.7", NULL);
    json_decref(v);
}

static void segmentation_denies_ingress_into_restricted(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(
        "{'verb':'create','resource':'ingresses','kind':'Ingress','namespace':'secure','name':'web'}",
        "[{'op':'create','kind':'Ingress','namespace':'secure','name':'web','before':null,"
        "  'after':{'spec':{'rules':[{'host':'x.example','http':{'paths':[{'path':'/',"
        "    'pathType':'Prefix','backend':{'service':{'name':'api','port':{'number':80}}}}]}}]}},"
        "  'cause':'direct','parent':null}]",
        NULL, NULL));
    expect(v, "segmentation", "deny", "Ingress secure/web", "Service secure/api", NULL);
    json_decref(v);
}

static json_t *netpol_delete_ctx(const char *ns, const char *impact_patch)
{
    char diff[512];
    snprintf(diff, sizeof diff,
             "[{'op':'delete','kind':'NetworkPolicy','namespace':'%s','name':'deny-all',"
             "'before':{},'after':null,'cause':'direct','parent':null}]",
             ns);
    return ctx_make("{'verb':'delete','resource':'networkpolicies','kind':'NetworkPolicy'}", diff,
                    impact_patch, NULL);
}

static void segmentation_reviews_networkpolicy_deletion(void **state)
{
    (void)state;
    json_t *v = judge(netpol_delete_ctx("shop", NULL));
    expect(v, "segmentation", "review", "NetworkPolicy shop/deny-all", NULL);
    json_decref(v);
}

static void segmentation_denies_networkpolicy_deletion_opening_restricted(void **state)
{
    (void)state;
    json_t *v = judge(netpol_delete_ctx(
        "secure", "{'reachability':{'added':[{'from':'secure/a','to':'secure/b','port':'*'}]}}"));
    expect(v, "segmentation", "deny", "NetworkPolicy secure/deny-all", "1 new path",
           "secure/a -> secure/b", NULL);
    json_decref(v);
}

static void segmentation_reviews_harmless_networkpolicy_deletion_in_restricted(void **state)
{
    (void)state;
    json_t *v = judge(netpol_delete_ctx("secure", NULL));
    expect(v, "segmentation", "review", "restricted namespace secure", NULL);
    json_decref(v);
}

/* Outside restricted namespaces, exposure still needs a human: the twin's
 * reachability counts "outside" only through ipBlock rules, so a new
 * LoadBalancer, NodePort, externalIP or Ingress route is judged from the
 * objects. An Ingress keeping the Services it already routed to is fine. */
static void segmentation_reviews_exposure_elsewhere(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(
        "{'verb':'patch','resource':'services','kind':'Service','namespace':'shop','name':'web'}",
        "[{'op':'update','kind':'Service','namespace':'shop','name':'web',"
        "  'before':{'spec':{'type':'ClusterIP'}},"
        "  'after':{'spec':{'type':'NodePort','externalIPs':['203.0.113.9']}},"
        "  'cause':'direct','parent':null}]",
        NULL, NULL));
    expect(v, "segmentation", "review", "would expose Service shop/web as NodePort",
           "externalIPs 203.0.113.9", NULL);
    expect_overall(v, "review", "airlock: needs approval (segmentation: ");
    json_decref(v);

    v = judge(ctx_make(
        "{'verb':'create','resource':'ingresses','kind':'Ingress','namespace':'shop','name':'web'}",
        "[{'op':'create','kind':'Ingress','namespace':'shop','name':'web','before':null,"
        "  'after':{'spec':{'defaultBackend':{'service':{'name':'web','port':{'number':80}}}}},"
        "  'cause':'direct','parent':null}]",
        NULL, NULL));
    expect(v, "segmentation", "review", "Ingress shop/web", "Service shop/web", NULL);
    json_decref(v);

    /* same backend, new annotation; a Service already of type LoadBalancer */
    v = judge(ctx_make(
        "{'verb':'patch','resource':'ingresses','kind':'Ingress','namespace':'shop','name':'web'}",
        "[{'op':'update','kind':'Ingress','namespace':'shop','name':'web',"
        "  'before':{'spec':{'defaultBackend':{'service':{'name':'web'}}}},"
        "  'after':{'metadata':{'annotations':{'a':'b'}},"
        "    'spec':{'defaultBackend':{'service':{'name':'web'}}}},"
        "  'cause':'direct','parent':null},"
        " {'op':'update','kind':'Service','namespace':'shop','name':'lb',"
        "  'before':{'spec':{'type':'LoadBalancer'}},"
        "  'after':{'spec':{'type':'LoadBalancer','ports':[{'port':443}]}},"
        "  'cause':'direct','parent':null}]",
        NULL, NULL));
    expect(v, "segmentation", "allow", NULL);
    json_decref(v);
}

/* ---- privilege -------------------------------------------------------- */

static json_t *binding_ctx(const char *kind, const char *ns, const char *role_kind,
                           const char *role)
{
    char diff[1024];
    snprintf(diff, sizeof diff,
             "[{'op':'create','kind':'%s','namespace':%s%s%s,'name':'grant','before':null,"
             "'after':{'kind':'%s','metadata':{'name':'grant'},"
             "'roleRef':{'apiGroup':'rbac.authorization.k8s.io','kind':'%s','name':'%s'},"
             "'subjects':[{'kind':'ServiceAccount','namespace':'shop','name':'bot'}]},"
             "'cause':'direct','parent':null}]",
             kind, ns ? "'" : "", ns ? ns : "null", ns ? "'" : "", kind, role_kind, role);
    return ctx_make("{'verb':'create','resource':'rolebindings'}", diff, NULL, NULL);
}

static void privilege_denies_cluster_admin_binding(void **state)
{
    (void)state;
    json_t *v = judge(binding_ctx("ClusterRoleBinding", NULL, "ClusterRole", "cluster-admin"));
    expect(v, "privilege", "deny", "ClusterRoleBinding grant would grant cluster-admin",
           "ServiceAccount shop/bot", NULL);
    expect_overall(v, "deny", "airlock: denied by privilege: ");
    json_decref(v);
}

static void privilege_denies_binding_to_wildcard_role(void **state)
{
    (void)state;
    /* ops-admin (* on *) is found in the twin, not in the diff */
    json_t *v = judge(binding_ctx("RoleBinding", "shop", "ClusterRole", "ops-admin"));
    expect(v, "privilege", "deny", "RoleBinding shop/grant", "ClusterRole ops-admin",
           "all verbs on all resources", NULL);
    json_decref(v);
}

static void privilege_denies_binding_to_impersonating_role(void **state)
{
    (void)state;
    json_t *v = judge(binding_ctx("RoleBinding", "shop", "Role", "impersonator"));
    expect(v, "privilege", "deny", "the impersonate verb", NULL);
    json_decref(v);
}

static void privilege_allows_binding_to_view(void **state)
{
    (void)state;
    json_t *v = judge(binding_ctx("RoleBinding", "shop", "ClusterRole", "view"));
    expect(v, "privilege", "allow", NULL);
    json_decref(v);
}

static void privilege_denies_role_granting_escalate(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(
        "{'verb':'create','resource':'clusterroles','kind':'ClusterRole','name':'sneaky'}",
        "[{'op':'create','kind':'ClusterRole','namespace':null,'name':'sneaky','before':null,"
        "  'after':{'rules':[{'apiGroups':['rbac.authorization.k8s.io'],"
        "    'resources':['clusterroles'],'verbs':['escalate','get']}]},"
        "  'cause':'direct','parent':null}]",
        NULL, NULL));
    expect(v, "privilege", "deny", "ClusterRole sneaky would grant the escalate verb", NULL);
    json_decref(v);
}

/* A ClusterRole's aggregationRule pulls in the rules of the roles it
 * selects (the twin runs no aggregation controller): creating one that
 * selects ops-super (* on *) grants what ops-super grants, and so does a
 * binding to ops-aggregate, already in the twin. */
static void privilege_follows_aggregated_roles(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(
        "{'verb':'create','resource':'clusterroles','kind':'ClusterRole','name':'extras'}",
        "[{'op':'create','kind':'ClusterRole','namespace':null,'name':'extras','before':null,"
        "  'after':{'metadata':{'name':'extras'},'aggregationRule':{'clusterRoleSelectors':"
        "    [{'matchLabels':{'aggregate-to-ops':'true'}}]},'rules':[]},"
        "  'cause':'direct','parent':null}]",
        NULL, NULL));
    expect(v, "privilege", "deny", "ClusterRole extras would grant all verbs on all resources",
           NULL);
    json_decref(v);

    v = judge(binding_ctx("ClusterRoleBinding", NULL, "ClusterRole", "ops-aggregate"));
    expect(v, "privilege", "deny", "ClusterRole ops-aggregate", "all verbs on all resources",
           NULL);
    json_decref(v);

    /* selecting roles that grant nothing dangerous (here: none) is fine */
    v = judge(ctx_make(
        "{'verb':'create','resource':'clusterroles','kind':'ClusterRole','name':'readers'}",
        "[{'op':'create','kind':'ClusterRole','namespace':null,'name':'readers','before':null,"
        "  'after':{'metadata':{'name':'readers'},'aggregationRule':{'clusterRoleSelectors':"
        "    [{'matchLabels':{'aggregate-to-readers':'true'}}]},'rules':[]},"
        "  'cause':'direct','parent':null}]",
        NULL, NULL));
    expect(v, "privilege", "allow", NULL);
    json_decref(v);
}

/* A role that reads Secrets is the read data-protection forbids, handed
 * out through RBAC. */
static void privilege_denies_role_reading_secrets(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(
        "{'verb':'patch','resource':'clusterroles','kind':'ClusterRole','name':'view'}",
        "[{'op':'update','kind':'ClusterRole','namespace':null,'name':'view',"
        "  'before':{'rules':[{'apiGroups':[''],'resources':['pods'],'verbs':['get']}]},"
        "  'after':{'rules':[{'apiGroups':[''],'resources':['pods'],'verbs':['get']},"
        "    {'apiGroups':[''],'resources':['secrets'],'verbs':['list']}]},"
        "  'cause':'direct','parent':null}]",
        NULL, NULL));
    expect(v, "privilege", "deny", "ClusterRole view would grant read access to Secrets", NULL);
    json_decref(v);

    /* creating Secrets is not reading them */
    v = judge(ctx_make(
        "{'verb':'create','resource':'roles','kind':'Role','namespace':'shop','name':'writer'}",
        "[{'op':'create','kind':'Role','namespace':'shop','name':'writer','before':null,"
        "  'after':{'rules':[{'apiGroups':[''],'resources':['secrets'],'verbs':['create']}]},"
        "  'cause':'direct','parent':null}]",
        NULL, NULL));
    expect(v, "privilege", "allow", NULL);
    json_decref(v);
}

static json_t *template_ctx(const char *kind, const char *op, const char *before_spec,
                            const char *after_spec)
{
    char diff[2048];
    const char *wrap = strcmp(kind, "Pod") == 0 ? "%s"
                       : strcmp(kind, "CronJob") == 0
                           ? "{'jobTemplate':{'spec':{'template':{'spec':%s}}}}"
                           : "{'replicas':3,'template':{'spec':%s}}";
    char before[768] = "null", after[768];

    if (before_spec != NULL) {
        char spec[640];
        snprintf(spec, sizeof spec, wrap, before_spec);
        snprintf(before, sizeof before, "{'kind':'%s','spec':%s}", kind, spec);
    }
    {
        char spec[640];
        snprintf(spec, sizeof spec, wrap, after_spec);
        snprintf(after, sizeof after, "{'kind':'%s','spec':%s}", kind, spec);
    }
    snprintf(diff, sizeof diff,
             "[{'op':'%s','kind':'%s','namespace':'shop','name':'web','before':%s,'after':%s,"
             "'cause':'direct','parent':null}]",
             op, kind, before, after);
    return ctx_make(NULL, diff, NULL, NULL);
}

#define PLAIN_SPEC "{'containers':[{'name':'app','image':'web:1'}]}"

static void privilege_denies_privileged_deployment(void **state)
{
    (void)state;
    json_t *v = judge(template_ctx(
        "Deployment", "update", PLAIN_SPEC,
        "{'containers':[{'name':'app','image':'web:2','securityContext':{'privileged':true}}]}"));
    expect(v, "privilege", "deny", "Deployment shop/web", "privileged container app", NULL);
    json_decref(v);
}

static void privilege_denies_host_access_pod(void **state)
{
    (void)state;
    json_t *v = judge(template_ctx(
        "Pod", "create", NULL,
        "{'hostNetwork':true,'containers':[{'name':'app'}],"
        "'volumes':[{'name':'root','hostPath':{'path':'/'}}]}"));
    expect(v, "privilege", "deny", "Pod shop/web", "hostNetwork", "hostPath volume root (/)",
           NULL);
    json_decref(v);
}

static void privilege_denies_capabilities_in_cronjob(void **state)
{
    (void)state;
    json_t *v = judge(template_ctx(
        "CronJob", "create", NULL,
        "{'initContainers':[{'name':'setup','securityContext':{'capabilities':"
        "{'add':['NET_ADMIN']}}}],'containers':[{'name':'job'}]}"));
    expect(v, "privilege", "deny", "CronJob shop/web", "container setup adds NET_ADMIN", NULL);
    json_decref(v);
}

/* The runtime upper-cases capability names and strips CAP_, so sys_admin
 * is SYS_ADMIN; SYS_MODULE (loading kernel modules) is as dangerous. */
static void privilege_denies_capabilities_in_any_case(void **state)
{
    (void)state;
    json_t *v = judge(template_ctx(
        "Deployment", "update", "{'containers':[{'name':'web'}]}",
        "{'containers':[{'name':'web','securityContext':{'capabilities':"
        "{'add':['sys_admin','Cap_Sys_Module','all']}}}]}"));
    expect(v, "privilege", "deny", "container web adds SYS_ADMIN",
           "container web adds SYS_MODULE", "container web adds ALL", NULL);
    json_decref(v);

    v = judge(template_ctx(
        "Deployment", "update", "{'containers':[{'name':'web'}]}",
        "{'containers':[{'name':'web','securityContext':{'capabilities':"
        "{'drop':['ALL'],'add':['net_bind_service']}}}]}"));
    expect(v, "privilege", "allow", NULL);
    json_decref(v);
}

static void privilege_allows_unchanged_template_and_plain_pods(void **state)
{
    (void)state;
    /* scaling an already-privileged DaemonSet does not change its template */
    const char *priv = "{'hostPID':true,'containers':[{'name':'agent'}]}";
    json_t *v = judge(template_ctx("DaemonSet", "update", priv, priv));
    expect(v, "privilege", "allow", NULL);
    json_decref(v);
    v = judge(template_ctx("Deployment", "update", PLAIN_SPEC,
                           "{'containers':[{'name':'app','image':'web:2'}]}"));
    expect(v, "privilege", "allow", NULL);
    json_decref(v);
}

static void privilege_denies_namespace_label_removal(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(
        "{'verb':'patch','resource':'namespaces','kind':'Namespace','name':'payments'}",
        "[{'op':'update','kind':'Namespace','namespace':null,'name':'payments',"
        "  'before':{'metadata':{'name':'payments','labels':{'airlock.dev/tier':'critical'}}},"
        "  'after':{'metadata':{'name':'payments','labels':{}}},"
        "  'cause':'direct','parent':null}]",
        NULL, NULL));
    expect(v, "privilege", "deny",
           "would remove label airlock.dev/tier=critical from Namespace payments", NULL);
    json_decref(v);
}

/* ---- data-protection -------------------------------------------------- */

static void data_denies_reading_a_secret(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(
        "{'verb':'get','method':'GET','resource':'secrets','kind':'Secret','namespace':'shop',"
        "'name':'db-password'}",
        NULL, NULL, NULL));
    expect(v, "data-protection", "deny", "Secret shop/db-password", NULL);
    expect_overall(v, "deny", "airlock: denied by data-protection: reading Secrets");
    json_decref(v);
}

static void data_denies_listing_secrets(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(
        "{'verb':'list','method':'GET','resource':'secrets','kind':'Secret','namespace':null,"
        "'name':null}",
        NULL, NULL, NULL));
    expect(v, "data-protection", "deny", "all namespaces", NULL);
    json_decref(v);
}

static void data_allows_reading_configmaps(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(
        "{'verb':'get','method':'GET','resource':'configmaps','kind':'ConfigMap',"
        "'namespace':'shop','name':'settings'}",
        NULL, NULL, NULL));
    expect(v, "data-protection", "allow", NULL);
    expect_overall(v, "allow", "allowed");
    json_decref(v);
}

/* A patch is answered with the whole object: patching an existing Secret
 * reads it, and a PUT is the same change (the verdict follows the effect).
 * Creating one, or patching one into existence, reveals nothing. */
static void data_denies_patching_an_existing_secret(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(
        "{'verb':'patch','method':'PATCH','resource':'secrets','kind':'Secret','namespace':'shop',"
        "'name':'db-password','subresource':null,'patch_type':'merge'}",
        NULL, NULL, NULL));
    expect(v, "data-protection", "deny", "patch Secret shop/db-password", NULL);
    expect_overall(v, "deny", "airlock: denied by data-protection: reading Secrets");
    json_decref(v);

    v = judge(ctx_make(
        "{'verb':'update','method':'PUT','resource':'secrets','kind':'Secret','namespace':'shop',"
        "'name':'db-password','subresource':null}",
        NULL, NULL, NULL));
    expect(v, "data-protection", "deny", "update Secret shop/db-password", NULL);
    json_decref(v);

    v = judge(ctx_make(
        "{'verb':'patch','method':'PATCH','resource':'secrets','kind':'Secret','namespace':'shop',"
        "'name':'new-token','subresource':null,'patch_type':'apply'}",
        NULL, NULL, NULL));
    expect(v, "data-protection", "allow", NULL);
    json_decref(v);

    v = judge(ctx_make(
        "{'verb':'create','method':'POST','resource':'secrets','kind':'Secret','namespace':'shop',"
        "'name':null,'subresource':null}",
        NULL, NULL, NULL));
    expect(v, "data-protection", "allow", NULL);
    json_decref(v);
}

static json_t *volume_delete_ctx(const char *kind, const char *ns, const char *before,
                                 const char *cause)
{
    char diff[1024];
    snprintf(diff, sizeof diff,
             "[{'op':'delete','kind':'%s','namespace':%s%s%s,'name':'data','before':%s,"
             "'after':null,'cause':'%s','parent':null}]",
             kind, ns ? "'" : "", ns ? ns : "null", ns ? "'" : "", before, cause);
    return ctx_make("{'verb':'delete','resource':'persistentvolumeclaims'}", diff, NULL, NULL);
}

static void data_denies_pvc_deletion_in_critical_namespace(void **state)
{
    (void)state;
    json_t *v = judge(volume_delete_ctx("PersistentVolumeClaim", "payments", "{}", "cascade"));
    expect(v, "data-protection", "deny", "PersistentVolumeClaim payments/data",
           "critical namespace payments", NULL);
    json_decref(v);
}

static void data_denies_pv_bound_to_critical_claim(void **state)
{
    (void)state;
    json_t *v = judge(volume_delete_ctx(
        "PersistentVolume", NULL,
        "{'spec':{'claimRef':{'namespace':'payments','name':'ledger'}}}", "direct"));
    expect(v, "data-protection", "deny", "PersistentVolume data", "payments/ledger", NULL);
    json_decref(v);
}

static void data_reviews_pvc_deletion_elsewhere(void **state)
{
    (void)state;
    json_t *v = judge(volume_delete_ctx("PersistentVolumeClaim", "shop", "{}", "direct"));
    expect(v, "data-protection", "review", "PersistentVolumeClaim shop/data", NULL);
    json_decref(v);
}

/* ---- budget ----------------------------------------------------------- */

static void budget_denies_too_many_pods_in_an_hour(void **state)
{
    (void)state;
    set_history("{'3600':{'pods_disrupted':18,'cost_added':0,'actions':4}}");
    json_t *v = judge(ctx_make(NULL, NULL, "{'pods_disrupted':5,'instant':{'pods_disrupted':5}}",
                               NULL));
    expect(v, "budget", "deny", "ops-bot", "23 pods", "60 minutes", "18 already + 5 now",
           "limit 20", NULL);
    json_decref(v);
}

static void budget_allows_within_the_hour(void **state)
{
    (void)state;
    set_history("{'3600':{'pods_disrupted':10,'cost_added':0,'actions':2}}");
    json_t *v = judge(ctx_make(NULL, NULL, "{'pods_disrupted':5,'instant':{'pods_disrupted':5}}",
                               NULL));
    expect(v, "budget", "allow", NULL);
    json_decref(v);
}

static void budget_denies_too_much_cost_in_a_day(void **state)
{
    (void)state;
    set_history("{'86400':{'pods_disrupted':0,'cost_added':95.0,'actions':9}}");
    json_t *v = judge(cost_ctx(10, 14));   /* 95 + 4 stays within 100 */
    expect(v, "budget", "allow", NULL);
    json_decref(v);
    v = judge(cost_ctx(10, 20));           /* +10 */
    expect(v, "budget", "deny", "105.00", "24 hours", "95.00 already + 10.00 now",
           "limit 100.00", NULL);
    json_decref(v);
}

static void budget_never_denies_a_read(void **state)
{
    (void)state;
    set_history("{'3600':{'pods_disrupted':80,'cost_added':0,'actions':20},"
                "'86400':{'pods_disrupted':80,'cost_added':500,'actions':20}}");
    json_t *v = judge(ctx_make(GET_PODS, NULL, NULL, NULL));
    expect(v, "budget", "allow", NULL);
    expect_overall(v, "allow", "allowed");
    json_decref(v);
}

/* ---- combining -------------------------------------------------------- */

static void reads_pass_every_default_policy(void **state)
{
    (void)state;
    static const char *const order[] = { "blast-radius", "budget", "cost", "data-protection",
                                         "privilege", "segmentation" };
    json_t *v = judge(ctx_make(GET_PODS, NULL, NULL, NULL));
    const json_t *results = json_object_get(v, "results");

    assert_int_equal(gate_policy_count(defaults), 6);
    assert_int_equal(json_array_size(results), 6);
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(field(json_array_get(results, i), "policy"), order[i]);
        assert_string_equal(field(json_array_get(results, i), "verdict"), "allow");
    }
    assert_string_equal(field(v, "message"), "allowed");
    json_decref(v);
}

static void deny_beats_review(void **state)
{
    (void)state;
    /* blast-radius denies (51 pods), cost only asks for review */
    json_t *v = judge(ctx_make(NULL, NULL,
                               "{'pods_disrupted':51,'instant':{'pods_disrupted':51},"
                               "'cost':{'before':10,'after':16,'delta':6}}",
                               NULL));
    expect(v, "cost", "review", NULL);
    expect_overall(v, "deny", "airlock: denied by blast-radius: would disrupt 51 pods");
    if (strstr(field(v, "message"), "cost") != NULL)
        fail_msg("a review has no place in a denial: %s", field(v, "message"));
    json_decref(v);
}

static void several_denials_are_all_named(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(NULL, NULL,
                               "{'pods_disrupted':60,'instant':{'pods_disrupted':60},"
                               "'cost':{'before':10,'after':80,'delta':70}}",
                               NULL));
    /* blast-radius, then budget (60 pods in the hour), then cost, in load order */
    expect_overall(v, "deny", "airlock: denied by blast-radius: would disrupt 60 pods at once "
                              "(limit 50); also denied by budget: agent ops-bot would disrupt "
                              "60 pods");
    check_contains(field(v, "message"), "; also denied by cost: would raise the hourly cost by "
                                        "70.00");
    json_decref(v);
}

static void several_reviews_share_the_parentheses(void **state)
{
    (void)state;
    json_t *v = judge(ctx_make(NULL, NULL,
                               "{'pods_disrupted':11,'instant':{'pods_disrupted':11},"
                               "'cost':{'before':10,'after':16,'delta':6}}",
                               NULL));
    const char *m = field(v, "message");
    expect_overall(v, "review", "airlock: needs approval (blast-radius: would disrupt 11 pods");
    check_contains(m, "; cost: would raise the hourly cost by 6.00");
    assert_int_equal(m[strlen(m) - 1], ')');
    json_decref(v);
}

/* ---- config overrides ------------------------------------------------- */

static void config_override_flips_cost_to_review(void **state)
{
    (void)state;
    json_t *v = judge(cost_ctx(10, 13));
    expect(v, "cost", "allow", NULL);
    json_decref(v);
    v = judge(ctx_make(NULL, NULL, "{'cost':{'before':10,'after':13,'delta':3}}",
                       "'config_overrides':{'cost':{'review_delta_above':2}}"));
    expect(v, "cost", "review", "review above 2.00", NULL);
    json_decref(v);
    /* the override was for that evaluation only */
    v = judge(cost_ctx(10, 13));
    expect(v, "cost", "allow", NULL);
    json_decref(v);
}

static void config_override_flips_blast_radius_to_deny(void **state)
{
    (void)state;
    const char *impact = "{'pods_disrupted':30,'instant':{'pods_disrupted':30}}";
    json_t *v = judge(ctx_make(NULL, NULL, impact, NULL));
    expect(v, "blast-radius", "review", NULL);
    json_decref(v);
    v = judge(ctx_make(NULL, NULL, impact,
                       "'config_overrides':{'blast-radius':{'deny_pods_above':20}}"));
    expect(v, "blast-radius", "deny", "30 pods", "limit 20", NULL);
    json_decref(v);
}

/* ---- the sandbox and budgets ------------------------------------------ */

static json_t *judge_dir_set(gate_policy_set *set)
{
    return judge_with(set, ctx_make(NULL, NULL, NULL, NULL), &view);
}

static void sandbox_blocks_escapes(void **state)
{
    (void)state;
    static const char *const escapes[] = { "os-execute", "io-open", "require", "load-binary",
                                           "debug-sethook", "string-dump", "string-metatable",
                                           "gc-finalizer" };
    gate_policy_set *set = load(DATA "/escape");
    json_t *v = judge_dir_set(set);

    for (size_t i = 0; i < sizeof escapes / sizeof *escapes; i++) {
        char needle[64];
        expect(v, escapes[i], "deny", "policy error: ", NULL);
        snprintf(needle, sizeof needle, "denied by %s: policy error", escapes[i]);
        check_contains(field(v, "message"), needle);
    }
    expect(v, "os-execute", "deny", "'os'", NULL);
    expect(v, "gc-finalizer", "deny", "__gc", NULL);
    expect(v, "zz-check", "allow", NULL);
    expect_overall(v, "deny", "airlock: denied by debug-sethook: policy error: ");
    json_decref(v);
    gate_policy_free(set);
}

static void instruction_budget_stops_loops(void **state)
{
    (void)state;
    gate_policy_set *set = load(DATA "/loop");
    for (int round = 0; round < 2; round++) {   /* the set stays usable */
        json_t *v = judge_dir_set(set);
        expect(v, "forever", "deny", "instruction budget exhausted", NULL);
        expect(v, "pcall-loop", "deny", "instruction budget exhausted", NULL);
        expect(v, "pcall-then-allow", "deny", "instruction budget exhausted", NULL);
        expect(v, "zz-after", "allow", NULL);
        json_decref(v);
    }
    gate_policy_free(set);
}

static void memory_budget_stops_hogs(void **state)
{
    (void)state;
    gate_policy_set *set = load(DATA "/memory");
    for (int round = 0; round < 2; round++) {
        json_t *v = judge_dir_set(set);
        expect(v, "string-rep", "deny", "memory budget exhausted", NULL);
        expect(v, "table-grow", "deny", "memory budget exhausted", NULL);
        expect(v, "pcall-memory", "deny", "memory budget exhausted", NULL);
        expect(v, "y-churn", "allow", NULL);   /* garbage is not a budget overrun */
        expect(v, "zz-after", "allow", NULL);
        json_decref(v);
    }
    gate_policy_free(set);
}

/* Every run ends within the time limit, whatever it does inside one
 * instruction or one C call; the others are judged as usual after it. */
static void time_limit_stops_long_calls(void **state)
{
    (void)state;
    gate_policy_set *set = load(DATA "/slow");
    gate_policy_set_time_limit(set, 0);   /* the default, 250 ms */
    assert_true(gate_policy_time_limit(set) == 0.25);
    for (int round = 0; round < 2; round++) {
        double t0 = gate_mono();
        json_t *v = judge_dir_set(set);
        double took = gate_mono() - t0;
        expect(v, "concat", "deny", "time limit exceeded", "(limit 250 ms)", NULL);
        expect(v, "concat-pcall", "deny", "time limit exceeded", NULL);
        expect(v, "pattern", "deny", "string.find: pattern", "100000 bytes",
               "could outlast the policy's time limit", NULL);
        expect(v, "plain-find", "deny", "string.find: a plain search for 100001 bytes in 4000000",
               NULL);
        expect(v, "rep-empty", "allow", NULL);
        expect(v, "sort-huge", "deny", "table.sort: 1099511627776 elements", NULL);
        expect(v, "move-huge", "deny", "table.move: a range of more than 16777216", NULL);
        expect(v, "zz-after", "allow", NULL);
        /* two policies run out their 250 ms each; the rest are quick. A
         * generous bound: what matters is that nothing runs for minutes. */
        if (took > 5.0)
            fail_msg("the set took %.2f s", took);
        json_decref(v);
    }
    gate_policy_free(set);
}

/* The guards let ordinary patterns on large text through, with Lua's own
 * answers (under a generous time limit: this is about the guards, not the
 * machine's speed). */
static void guards_pass_ordinary_patterns(void **state)
{
    (void)state;
    gate_policy_set *set = load(DATA "/patterns");
    json_t *v = judge_dir_set(set);
    expect(v, "ordinary", "allow", NULL);
    json_decref(v);
    gate_policy_free(set);
}

static void failing_policies_deny(void **state)
{
    (void)state;
    gate_policy_set *set = load(DATA "/error");
    json_t *v = judge_dir_set(set);

    expect(v, "boom", "deny", "policy error: ", "boom.lua:3:", "boom: cannot judge update",
           NULL);
    check_contains(field(result_of(v, "boom"), "traceback"), "stack traceback");
    expect(v, "garbage", "deny", "it returned number", NULL);
    expect(v, "forged", "deny", "a table not made by allow(), review() or deny()", NULL);
    expect(v, "nothing", "deny", "it returned nil", NULL);
    expect(v, "nil-index", "deny", "policy error: ", "nil-index.lua:2:", NULL);
    expect(v, "tampered", "deny", "verdict field was changed", NULL);
    expect_overall(v, "deny", "airlock: denied by boom: policy error: ");
    json_decref(v);
    gate_policy_free(set);
}

static void broken_files_fail_to_load(void **state)
{
    (void)state;
    static const struct {
        const char *dir;
        const char *needles[2];
    } cases[] = {
        { DATA "/broken", { "broken/syntax.lua:3:", "near 'end'" } },
        { DATA "/broken-load", { "broken-load/runtime.lua:3:", "cfg" } },
        { DATA "/broken-name", { "wrong.lua", "\"wrong\"" } },
        { DATA "/binary", { "bytecode.lua", "binary chunk" } },
        { DATA "/no-such-dir", { "no-such-dir", "cannot open" } },
    };
    static char sentinel;   /* *out must stay untouched on failure */
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gate_policy_set *set = (gate_policy_set *)&sentinel;
        char err[512] = "";
        assert_int_equal(gate_policy_load(&set, cases[i].dir, err, sizeof err), -1);
        assert_ptr_equal(set, (gate_policy_set *)&sentinel);
        check_contains(err, cases[i].needles[0]);
        check_contains(err, cases[i].needles[1]);
    }
}

static void empty_set_allows(void **state)
{
    (void)state;
    gate_policy_set *set = load(DATA "/empty");
    json_t *v = judge_with(set, ctx_make(NULL, NULL,
                                         "{'pods_disrupted':500,'instant':{'pods_disrupted':500}}",
                                         NULL),
                           &view);
    assert_int_equal(gate_policy_count(set), 0);
    expect_overall(v, "allow", "allowed");
    assert_string_equal(field(v, "message"), "allowed");
    assert_int_equal(json_array_size(json_object_get(v, "results")), 0);
    json_decref(v);
    gate_policy_free(set);
}

static void policies_cannot_leak_into_each_other(void **state)
{
    (void)state;
    gate_policy_set *set = load(DATA "/leak");
    for (int round = 0; round < 2; round++) {
        json_t *v = judge_with(set,
                               ctx_make("{'verb':'delete','resource':'pods'}", NULL,
                                        "{'pods_disrupted':7}", NULL),
                               &view);
        expect(v, "a", "allow", NULL);
        expect(v, "b", "allow", NULL);
        json_decref(v);
    }
    gate_policy_free(set);
}

/* ctx is one set of read-only tables shared by every policy of an
 * evaluation: writes are refused and fail the policy (even when caught),
 * later policies see ctx as sent, and reading works as on plain tables. */
#define READONLY_DIFF                                                                         \
    "[{'op':'update','kind':'Deployment','namespace':'shop','name':'web',"                    \
    "  'before':{'metadata':{'name':'web'}},"                                                  \
    "  'after':{'metadata':{'name':'web','namespace':'shop','labels':{'app':'web'}},"          \
    "    'spec':{'ports':[{'port':80},{'port':443},null]}},'cause':'direct','parent':null},"  \
    " {'op':'delete','kind':'Pod','namespace':'shop','name':'web-1',"                         \
    "  'before':{'metadata':{'name':'web-1'}},'after':null,'cause':'cascade',"                \
    "  'parent':'Deployment/shop/web'}]"

static void ctx_is_read_only_and_shared(void **state)
{
    (void)state;
    gate_policy_set *set = load(DATA "/readonly");
    for (int round = 0; round < 2; round++) {
        json_t *v = judge_with(set,
                               ctx_make("{'verb':'patch','resource':'deployments','kind':"
                                        "'Deployment','namespace':'shop','name':'web'}",
                                        READONLY_DIFF, "{'pods_disrupted':7}", NULL),
                               &view);
        expect(v, "a-write-diff", "deny",
               "policy error: ", "a-write-diff.lua:3: attempt to modify read-only ctx (key 'name')",
               NULL);
        expect(v, "a-write-impact", "deny", "read-only ctx (key 'pods_disrupted')", NULL);
        /* b-caught caught every refusal: its first attempt still denies it */
        expect(v, "b-caught", "deny", "policy error: attempt to modify read-only ctx (key 'impact')",
               NULL);
        expect(v, "c-reads", "allow", NULL);
        expect(v, "d-check", "allow", NULL);
        if (round == 0)
            expect(v, "e-keep", "allow", NULL);
        else   /* the ctx it kept belongs to the first evaluation (freed JSON) */
            expect(v, "e-keep", "deny", "ctx from an earlier evaluation", NULL);
        expect_overall(v, "deny", "airlock: denied by a-write-diff: policy error: ");
        json_decref(v);
    }
    gate_policy_free(set);
}

/* ctx.twin and ctx.history answers are asked of the view once per
 * evaluation, whichever policy asks and however often. */
static void twin_answers_are_kept_per_evaluation(void **state)
{
    (void)state;
    gate_policy_set *set = load(DATA "/cache");
    for (int round = 1; round <= 2; round++) {
        json_t *v = judge_dir_set(set);
        expect(v, "p1", "allow", NULL);
        expect(v, "p2", "allow", NULL);
        /* get payments, get nope, list, count, totals; p2 adds get ... "before" */
        assert_int_equal(twin.calls, 6 * round);
        json_decref(v);
    }
    gate_policy_free(set);
}

/* Converting ctx is not charged to the policy reading it: 40 MiB of
 * strings read by one policy, then 28 MiB allocated by the next. */
static void ctx_conversion_is_outside_the_budget(void **state)
{
    (void)state;
    gate_policy_set *set = load(DATA "/bigctx");
    json_t *diff = json_array();
    char *blob = malloc((size_t)1 << 20);

    memset(blob, 'b', (size_t)1 << 20);
    for (int i = 0; i < 40; i++)
        json_array_append_new(diff, json_pack("{s:s, s:s, s:{s:{s:s%}}}", "op", "update", "kind",
                                              "ConfigMap", "after", "data", "blob", blob,
                                              (size_t)1 << 20));
    free(blob);
    for (int round = 0; round < 2; round++) {
        json_t *ctx = ctx_make(NULL, NULL, NULL, NULL);
        json_object_set(ctx, "diff", diff);
        json_t *v = judge_with(set, ctx, &view);
        expect(v, "reads-all", "allow", NULL);
        expect(v, "then-hog", "allow", NULL);
        json_decref(v);
    }
    json_decref(diff);
    gate_policy_free(set);
}

static void engine_errors_are_reported(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        { "[1, 2]", "ctx must be a JSON object" },
        { "{'diff': []}", "ctx.action is missing" },
        { "{'action': {}, 'diff': {}}", "ctx.diff must be an array" },
        { "{'action': {}, 'config_overrides': 3}", "ctx.config_overrides must be an object" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *ctx = jq("%s", bad[i][0]);
        json_t *verdict = NULL;
        char err[256] = "";
        assert_int_equal(gate_policy_eval(defaults, ctx, &view, &verdict, err, sizeof err), -1);
        assert_null(verdict);
        check_contains(err, bad[i][1]);
        json_decref(ctx);
    }
    gate_policy_free(NULL);
    assert_int_equal(gate_policy_count(NULL), 0);
}

static void missing_view_fails_closed(void **state)
{
    (void)state;
    /* deleting a namespace needs the twin; without a view blast-radius cannot judge */
    json_t *v = judge_with(
        defaults,
        ctx_make("{'verb':'delete','resource':'namespaces','kind':'Namespace','name':'scratch'}",
                 "[{'op':'delete','kind':'Namespace','namespace':null,'name':'scratch',"
                 "'before':{},'after':null,'cause':'direct','parent':null}]",
                 NULL, NULL),
        NULL);
    expect(v, "blast-radius", "deny", "policy error: ", "no twin", NULL);
    json_decref(v);
}

/* One set judged on two threads at once: each evaluation's view waits
 * (bounded) until the other evaluation has asked the twin too, so both
 * allow only if they ran at the same time, each on a Lua state of its
 * own; the second state is a copy built from the set's sources (its
 * config too), kept for the next evaluation. */
typedef struct meeting {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived;
} meeting;

static meeting meet = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };

static json_t *meet_get(void *ud, int when, const char *kind, const char *ns, const char *name)
{
    (void)ud, (void)when, (void)ns;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&meet.mu);
    meet.arrived++;
    pthread_cond_broadcast(&meet.cv);
    while (meet.arrived < 2 && pthread_cond_timedwait(&meet.cv, &meet.mu, &until) == 0) {
    }
    int met = meet.arrived >= 2;
    pthread_mutex_unlock(&meet.mu);
    return met ? json_pack("{s:s, s:{s:s}}", "kind", kind, "metadata", "name", name) : NULL;
}

static json_t *meet_list(void *ud, int when, const char *kind, const char *ns, const char *sel)
{
    (void)ud, (void)when, (void)kind, (void)ns, (void)sel;
    return json_array();
}

static json_t *meet_history(void *ud, const char *agent, double window)
{
    (void)ud, (void)agent, (void)window;
    return json_pack("{s:i, s:f, s:i}", "pods_disrupted", 0, "cost_added", 0.0, "actions", 0);
}

typedef struct judging {
    gate_policy_set *set;
    const char *name;
    json_t *verdict;
} judging;

static void *judge_thread(void *arg)
{
    judging *j = arg;
    static const gate_policy_view v = { meet_get, meet_list, meet_history, NULL };
    json_t *ctx = json_pack("{s:{s:s, s:s, s:s}, s:[], s:{s:s}}", "action", "verb", "get", "resource",
                            "namespaces", "name", j->name, "diff", "agent", "name", "ops-bot");
    char err[256];
    if (gate_policy_eval(j->set, ctx, &v, &j->verdict, err, sizeof err) != 0)
        j->verdict = NULL;
    json_decref(ctx);
    return NULL;
}

static void evaluations_run_in_parallel(void **state)
{
    (void)state;
    gate_policy_set *set = load(DATA "/parallel");
    assert_int_equal(gate_policy_states(set), 1);
    for (int round = 0; round < 2; round++) {
        meet.arrived = 0;
        judging a = { set, "alpha", NULL }, b = { set, "beta", NULL };
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, judge_thread, &a), 0);
        assert_int_equal(pthread_create(&tb, NULL, judge_thread, &b), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        assert_non_null(a.verdict);
        assert_non_null(b.verdict);
        expect(a.verdict, "meet", "allow", NULL);
        expect(b.verdict, "meet", "allow", NULL);
        json_decref(a.verdict);
        json_decref(b.verdict);
        /* the copy made in the first round serves the second */
        assert_int_equal(gate_policy_states(set), 2);
    }
    gate_policy_free(set);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, test_setup)
    const struct CMUnitTest tests[] = {
        T(blast_denies_many_pods_at_once),
        T(blast_denies_large_share_of_cluster),
        T(blast_reviews_more_than_ten_pods),
        T(blast_allows_a_few_pods),
        T(blast_denies_namespace_deletion_seen_in_diff),
        T(blast_denies_namespace_deletion_seen_in_twin),
        T(blast_allows_deleting_an_empty_namespace),
        T(blast_denies_emptied_service_in_critical_namespace),
        T(blast_reviews_emptied_service_elsewhere),
        T(blast_denies_degraded_critical_workload),
        T(blast_allows_half_ready_critical_workload),
        T(blast_reviews_weakened_pdb_in_critical_namespace),
        T(critical_label_cannot_be_evaded),
        T(cost_denies_above_50),
        T(cost_reviews_above_5),
        T(cost_allows_small_delta),
        T(segmentation_denies_outside_into_restricted),
        T(segmentation_denies_other_namespace_into_restricted),
        T(segmentation_denies_into_namespace_restricted_after),
        T(segmentation_allows_pairs_within_restricted),
        T(segmentation_reviews_outside_into_other),
        T(segmentation_denies_exposed_restricted_service),
        T(segmentation_denies_ingress_into_restricted),
        T(segmentation_reviews_networkpolicy_deletion),
        T(segmentation_denies_networkpolicy_deletion_opening_restricted),
        T(segmentation_reviews_harmless_networkpolicy_deletion_in_restricted),
        T(segmentation_reviews_exposure_elsewhere),
        T(privilege_denies_cluster_admin_binding),
        T(privilege_denies_binding_to_wildcard_role),
        T(privilege_denies_binding_to_impersonating_role),
        T(privilege_allows_binding_to_view),
        T(privilege_denies_role_granting_escalate),
        T(privilege_follows_aggregated_roles),
        T(privilege_denies_role_reading_secrets),
        T(privilege_denies_privileged_deployment),
        T(privilege_denies_host_access_pod),
        T(privilege_denies_capabilities_in_cronjob),
        T(privilege_denies_capabilities_in_any_case),
        T(privilege_allows_unchanged_template_and_plain_pods),
        T(privilege_denies_namespace_label_removal),
        T(data_denies_reading_a_secret),
        T(data_denies_listing_secrets),
        T(data_allows_reading_configmaps),
        T(data_denies_patching_an_existing_secret),
        T(data_denies_pvc_deletion_in_critical_namespace),
        T(data_denies_pv_bound_to_critical_claim),
        T(data_reviews_pvc_deletion_elsewhere),
        T(budget_denies_too_many_pods_in_an_hour),
        T(budget_allows_within_the_hour),
        T(budget_denies_too_much_cost_in_a_day),
        T(budget_never_denies_a_read),
        T(reads_pass_every_default_policy),
        T(deny_beats_review),
        T(several_denials_are_all_named),
        T(several_reviews_share_the_parentheses),
        T(config_override_flips_cost_to_review),
        T(config_override_flips_blast_radius_to_deny),
        T(sandbox_blocks_escapes),
        T(instruction_budget_stops_loops),
        T(memory_budget_stops_hogs),
        T(time_limit_stops_long_calls),
        T(guards_pass_ordinary_patterns),
        T(failing_policies_deny),
        T(broken_files_fail_to_load),
        T(empty_set_allows),
        T(policies_cannot_leak_into_each_other),
        T(ctx_is_read_only_and_shared),
        T(twin_answers_are_kept_per_evaluation),
        T(ctx_conversion_is_outside_the_budget),
        T(engine_errors_are_reported),
        T(missing_view_fails_closed),
        T(evaluations_run_in_parallel),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
