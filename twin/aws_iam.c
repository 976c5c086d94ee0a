/*
 * aws_iam.c - IAM in the twin: users, roles, managed and inline policies,
 * attachments, access keys; and the evaluation of what a principal may do.
 *
 * Resources (the shapes of get-account-authorization-details, documents
 * kept as parsed JSON objects):
 *   IAMRole    a RoleDetailList item: Path, RoleName, RoleId, Arn,
 *              CreateDate, AssumeRolePolicyDocument, InstanceProfileList,
 *              RolePolicyList [{PolicyName, PolicyDocument}],
 *              AttachedManagedPolicies [{PolicyName, PolicyArn}], Tags,
 *              (Description, MaxSessionDuration)
 *   IAMUser    a UserDetailList item (UserPolicyList, GroupList, ...) plus
 *              AccessKeys [{AccessKeyId, Status, CreateDate}]: never a secret
 *   IAMPolicy  a Policies item: PolicyName, PolicyId, Arn, Path,
 *              DefaultVersionId, AttachmentCount, IsAttachable, CreateDate,
 *              UpdateDate, PolicyVersionList [{Document, VersionId,
 *              IsDefaultVersion, CreateDate}]
 * Documents are accepted on import and in calls as objects, JSON text or
 * URL-encoded JSON text; outputs give them URL-encoded, as IAM does.
 *
 * The AWS managed policies of BUILTIN exist without import (an imported
 * IAMPolicy of the same ARN takes precedence).
 *
 * Where the twin simplifies IAM:
 *   - groups are not modelled: GroupDetailList is ignored on import, a
 *     user's GroupList is kept as it came but its groups' policies are not
 *     part of the user's permissions;
 *   - permissions boundaries, SCPs, session policies and resource policies
 *     are not evaluated; Conditions are taken as met for an Allow and an
 *     Allow is counted (what a principal may do, at most), while a Deny
 *     with a Condition is not counted;
 *   - ReadOnlyAccess is approximated (Describe*, Get*, List* of the common
 *     services on *), and each AWS managed policy has one version, v1;
 *   - CreateAccessKey / ListAccessKeys / GetUser without UserName name the
 *     caller, whom the twin does not know: they cannot be simulated.
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twin/aws_int.h"

#define K_USER "IAMUser"
#define K_ROLE "IAMRole"
#define K_POLICY "IAMPolicy"
#define AWS_POLICY_PREFIX "arn:aws:iam::aws:policy/"
#define BUILTIN_DATE "2015-02-06T18:39:46Z"

/* ---- the AWS managed policies the twin knows without import ---- */

typedef struct builtin_policy {
    const char *name;
    const char *document;   /* JSON text */
} builtin_policy;

static const builtin_policy BUILTIN[] = {
    {"AdministratorAccess", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
                            "\"Resource\":\"*\"}]}"},
    {"PowerUserAccess",
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"NotAction\":[\"iam:*\","
     "\"organizations:*\",\"account:*\"],\"Resource\":\"*\"},{\"Effect\":\"Allow\",\"Action\":["
     "\"account:GetAccountInformation\",\"account:GetPrimaryEmail\",\"account:ListRegions\","
     "\"iam:CreateServiceLinkedRole\",\"iam:DeleteServiceLinkedRole\",\"iam:ListRoles\","
     "\"organizations:DescribeOrganization\"],\"Resource\":\"*\"}]}"},
    /* approximate (the real policy names each service's read actions) */
    {"ReadOnlyAccess",
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":["
     "\"autoscaling:Describe*\",\"cloudformation:Describe*\",\"cloudformation:Get*\",\"cloudformation:List*\","
     "\"cloudtrail:Describe*\",\"cloudtrail:Get*\",\"cloudtrail:List*\",\"cloudwatch:Describe*\","
     "\"cloudwatch:Get*\",\"cloudwatch:List*\",\"dynamodb:Describe*\",\"dynamodb:Get*\",\"dynamodb:List*\","
     "\"ec2:Describe*\",\"ec2:Get*\",\"ecr:Describe*\",\"ecr:Get*\",\"ecr:List*\",\"ecs:Describe*\",\"ecs:List*\","
     "\"eks:Describe*\",\"eks:List*\",\"elasticloadbalancing:Describe*\",\"iam:Get*\",\"iam:List*\","
     "\"kms:Describe*\",\"kms:Get*\",\"kms:List*\",\"lambda:Get*\",\"lambda:List*\",\"logs:Describe*\","
     "\"logs:Get*\",\"logs:List*\",\"rds:Describe*\",\"rds:List*\",\"route53:Get*\",\"route53:List*\","
     "\"s3:Get*\",\"s3:List*\",\"sns:Get*\",\"sns:List*\",\"sqs:Get*\",\"sqs:List*\",\"ssm:Describe*\","
     "\"ssm:Get*\",\"ssm:List*\",\"sts:Get*\"],\"Resource\":\"*\"}]}"},
    {"IAMFullAccess",
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"iam:*\","
     "\"organizations:DescribeAccount\",\"organizations:DescribeOrganization\","
     "\"organizations:DescribeOrganizationalUnit\",\"organizations:DescribePolicy\",\"organizations:ListChildren\","
     "\"organizations:ListParents\",\"organizations:ListPoliciesForTarget\",\"organizations:ListRoots\","
     "\"organizations:ListPolicies\",\"organizations:ListTargetsForPolicy\"],\"Resource\":\"*\"}]}"},
    {"AmazonS3FullAccess", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:*\","
                           "\"s3-object-lambda:*\"],\"Resource\":\"*\"}]}"},
    {"AmazonEC2FullAccess",
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Action\":\"ec2:*\",\"Effect\":\"Allow\",\"Resource\":\"*\"},"
     "{\"Effect\":\"Allow\",\"Action\":\"elasticloadbalancing:*\",\"Resource\":\"*\"},{\"Effect\":\"Allow\","
     "\"Action\":\"cloudwatch:*\",\"Resource\":\"*\"},{\"Effect\":\"Allow\",\"Action\":\"autoscaling:*\","
     "\"Resource\":\"*\"},{\"Effect\":\"Allow\",\"Action\":\"iam:CreateServiceLinkedRole\",\"Resource\":\"*\","
     "\"Condition\":{\"StringEquals\":{\"iam:AWSServiceName\":[\"autoscaling.amazonaws.com\","
     "\"ec2scheduled.amazonaws.com\",\"elasticloadbalancing.amazonaws.com\",\"spot.amazonaws.com\","
     "\"spotfleet.amazonaws.com\",\"transitgateway.amazonaws.com\"]}}}]}"},
    {"AmazonRDSFullAccess",
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"rds:*\","
     "\"application-autoscaling:*\",\"cloudwatch:*\",\"ec2:DescribeAccountAttributes\","
     "\"ec2:DescribeAvailabilityZones\",\"ec2:DescribeCoipPools\",\"ec2:DescribeInternetGateways\","
     "\"ec2:DescribeLocalGatewayRouteTablePermissions\",\"ec2:DescribeLocalGatewayRouteTables\","
     "\"ec2:DescribeLocalGatewayRouteTableVpcAssociations\",\"ec2:DescribeLocalGateways\","
     "\"ec2:DescribeSecurityGroups\",\"ec2:DescribeSubnets\",\"ec2:DescribeVpcAttribute\",\"ec2:DescribeVpcs\","
     "\"ec2:GetCoipPoolUsage\",\"sns:ListSubscriptions\",\"sns:ListTopics\",\"sns:Publish\",\"logs:DescribeLogStreams\","
     "\"logs:GetLogEvents\",\"outposts:GetOutpostInstanceTypes\",\"devops-guru:GetResourceCollection\"],"
     "\"Resource\":\"*\"},{\"Effect\":\"Allow\",\"Action\":\"pi:*\",\"Resource\":[\"arn:aws:pi:*:*:metrics/rds/*\","
     "\"arn:aws:pi:*:*:perf-reports/rds/*\"]},{\"Effect\":\"Allow\",\"Action\":\"iam:CreateServiceLinkedRole\","
     "\"Resource\":\"*\",\"Condition\":{\"StringLike\":{\"iam:AWSServiceName\":[\"rds.amazonaws.com\","
     "\"rds.application-autoscaling.amazonaws.com\"]}}}]}"},
};

static const builtin_policy *builtin_by_arn(const char *arn)
{
    if (!arn || strncmp(arn, AWS_POLICY_PREFIX, strlen(AWS_POLICY_PREFIX)))
        return NULL;
    for (size_t i = 0; i < sizeof BUILTIN / sizeof *BUILTIN; i++)
        if (!strcmp(arn + strlen(AWS_POLICY_PREFIX), BUILTIN[i].name))
            return &BUILTIN[i];
    return NULL;
}

/* A built-in policy as an IAMPolicy document (new reference). */
static json_t *builtin_doc(const builtin_policy *b)
{
    char hex[65];
    twin__digest_hex(b->name, hex);
    char id[22] = "ANPA";
    for (int i = 0; i < 17; i++)
        id[4 + i] = (char)toupper((unsigned char)hex[i]);
    id[21] = 0;
    char *arn = twin_xasprintf(AWS_POLICY_PREFIX "%s", b->name);
    json_t *doc = json_loads(b->document, 0, NULL);
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:b, s:s, s:s, s:[{s:o, s:s, s:b, s:s}]}",
                          "PolicyName", b->name, "PolicyId", id, "Arn", arn, "Path", "/", "DefaultVersionId", "v1",
                          "AttachmentCount", 0, "PermissionsBoundaryUsageCount", 0, "IsAttachable", 1, "CreateDate",
                          BUILTIN_DATE, "UpdateDate", BUILTIN_DATE, "PolicyVersionList", "Document", doc, "VersionId",
                          "v1", "IsDefaultVersion", 1, "CreateDate", BUILTIN_DATE);
    free(arn);
    return p;
}

/* ---- small helpers ---- */

/* A resource's document as it was before the open operation (new
 * reference, or NULL). */
static json_t *doc_before(twin *t, const char *kind, const char *id)
{
    json_t *obj = twin__aws_before(t, kind, id);
    if (!obj)
        return NULL;
    json_t *doc = json_incref((json_t *)twin__aws_doc(obj));
    json_decref(obj);
    return doc;
}

static int need(aws_ctx *c, const char *key, const char **out)
{
    *out = twin__aws_input_str(c, key);
    if (*out && **out)
        return 1;
    twin__aws_error(c, 400, "ValidationError", "1 validation error detected: Value at '%c%s' failed to satisfy "
                    "constraint: Member must not be null", tolower((unsigned char)key[0]), key + 1);
    return 0;
}

static const char *kind_word(const char *kind)
{
    return !strcmp(kind, K_ROLE) ? "role" : "user";
}

static const char *inline_key(const char *kind)
{
    return !strcmp(kind, K_ROLE) ? "RolePolicyList" : "UserPolicyList";
}

/* The principal the call names (a copy), or NULL with NoSuchEntity set. */
static json_t *need_principal(aws_ctx *c, const char *kind, const char **name)
{
    if (!need(c, !strcmp(kind, K_ROLE) ? "RoleName" : "UserName", name))
        return NULL;
    json_t *doc = twin__aws_doc_copy(c->t, kind, *name);
    if (!doc)
        twin__aws_error(c, 404, "NoSuchEntity", "The %s with name %s cannot be found.", kind_word(kind), *name);
    return doc;
}

/* A random id of IAM's form: prefix and 17 characters of [A-Z2-7]. */
static char *iam_id(twin *t, const char *prefix, int n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    char *s = twin_xmalloc(strlen(prefix) + (size_t)n + 1);
    strcpy(s, prefix);
    uint64_t r = twin__rand(t);
    for (int i = 0; i < n; i++) {
        if (i == 12)
            r = twin__rand(t);
        s[strlen(prefix) + (size_t)i] = alphabet[r & 31];
        r >>= 5;
    }
    s[strlen(prefix) + (size_t)n] = 0;
    return s;
}

/* ---- policy documents: decoding, encoding, checking ---- */

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static char *url_decode(const char *s)
{
    char *out = twin_xmalloc(strlen(s) + 1), *o = out;
    for (; *s; s++) {
        int h, l;
        if (*s == '%' && (h = hexval((unsigned char)s[1])) >= 0 && (l = hexval((unsigned char)s[2])) >= 0) {
            *o++ = (char)(h * 16 + l);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = 0;
    return out;
}

/* A policy document as IAM returns it: compact JSON, percent-encoded
 * (RFC 3986: all but the unreserved characters). New string. */
static char *url_encode_doc(const json_t *doc)
{
    char *text = twin_xdumps(doc, JSON_COMPACT);
    twin_buf b = {0};
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~')
            twin_buf_add(&b, (const char *)p, 1);
        else
            twin_buf_addf(&b, "%%%02X", *p);
    }
    free(text);
    if (!b.s)
        return twin_xstrdup("");
    return b.s;
}

static json_t *encoded(const json_t *doc)
{
    char *s = url_encode_doc(doc);
    json_t *v = json_string(s);
    free(s);
    return v;
}

/* A document from an object, JSON text or URL-encoded JSON text (new
 * object), or NULL. */
static json_t *parse_doc(const json_t *v)
{
    if (json_is_object(v))
        return json_deep_copy(v);
    const char *s = json_string_value(v);
    if (!s)
        return NULL;
    json_t *doc = json_loads(s, 0, NULL);
    if (!doc && strchr(s, '%')) {
        char *dec = url_decode(s);
        doc = json_loads(dec, 0, NULL);
        free(dec);
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* [v] for a string, v for an array of strings (new array); NULL otherwise. */
static json_t *str_list(const json_t *v)
{
    if (json_is_string(v))
        return json_pack("[O]", v);
    if (!json_is_array(v))
        return NULL;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) if (!json_is_string(e)) return NULL;
    return json_deep_copy(v);
}

static json_t *statements_of(const json_t *doc)
{
    json_t *sts = json_object_get(doc, "Statement");
    if (json_is_object(sts))
        return json_pack("[O]", sts);
    return json_is_array(sts) ? json_incref(sts) : json_array();
}

enum doc_use { DOC_IDENTITY, DOC_TRUST };

/* Checks a policy as IAM does before storing it: NULL when valid, else the
 * message of the MalformedPolicyDocument error. */
static const char *doc_problem(const json_t *doc, enum doc_use use)
{
    json_t *sts = json_object_get(doc, "Statement");
    if (!sts || (json_is_array(sts) && json_array_size(sts) == 0))
        return "Syntax errors in policy.";
    if (!json_is_object(sts) && !json_is_array(sts))
        return "Syntax errors in policy.";
    json_t *list = statements_of(doc);
    const char *problem = NULL;
    size_t i;
    json_t *st;
    json_array_foreach(list, i, st) {
        const char *effect = twin__aws_str(st, "Effect");
        json_t *act = json_object_get(st, "Action"), *nact = json_object_get(st, "NotAction");
        json_t *res = json_object_get(st, "Resource"), *nres = json_object_get(st, "NotResource");
        json_t *l;
        if (!json_is_object(st) || !effect || (strcmp(effect, "Allow") && strcmp(effect, "Deny")))
            problem = "Syntax errors in policy.";
        else if (!act == !nact)
            problem = act ? "Syntax errors in policy." : "Missing required field Action";
        else if (!(l = str_list(act ? act : nact)))
            problem = "Syntax errors in policy.";
        else {
            json_decref(l);
            if (use == DOC_IDENTITY) {
                if (json_object_get(st, "Principal") || json_object_get(st, "NotPrincipal"))
                    problem = "Policy document should not specify a principal.";
                else if (!res == !nres)
                    problem = res ? "Syntax errors in policy." : "Missing required field Resource";
                else if (!(l = str_list(res ? res : nres)))
                    problem = "Syntax errors in policy.";
                else
                    json_decref(l);
            } else if (!json_object_get(st, "Principal") && !json_object_get(st, "NotPrincipal")) {
                problem = "Missing required field Principal";
            }
        }
        if (problem)
            break;
    }
    json_decref(list);
    return problem;
}

/* The document of a call's member (new object), or NULL with the AWS error
 * set (MalformedPolicyDocument, or ValidationError when absent). */
static json_t *need_doc(aws_ctx *c, const char *key, enum doc_use use)
{
    const json_t *v = json_object_get(c->input, key);
    const char *dummy;
    if (!v)
        return need(c, key, &dummy), NULL;
    json_t *doc = parse_doc(v);
    const char *problem = doc ? doc_problem(doc, use) : "Syntax errors in policy.";
    if (problem) {
        json_decref(doc);
        twin__aws_error(c, 400, "MalformedPolicyDocument", "%s", problem);
        return NULL;
    }
    return doc;
}

/* ---- evaluation ---- */

/* Glob match with * and ?; nocase for actions. */
static int glob(const char *p, const char *s, int nocase)
{
    const char *star = NULL, *mark = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            mark = s;
        } else if (*p == '?' || (nocase ? tolower((unsigned char)*p) == tolower((unsigned char)*s) : *p == *s)) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++mark;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == 0;
}

static int any_glob(const json_t *patterns, const char *s, int nocase)
{
    size_t i;
    json_t *p;
    json_array_foreach(patterns, i, p) if (json_is_string(p) && glob(json_string_value(p), s, nocase)) return 1;
    return 0;
}

static int statement_matches(const json_t *st, const char *action, const char *resource)
{
    json_t *a = json_object_get(st, "Action"), *na = json_object_get(st, "NotAction");
    json_t *r = json_object_get(st, "Resource"), *nr = json_object_get(st, "NotResource");
    int act = a ? any_glob(a, action, 1) : na ? !any_glob(na, action, 1) : 0;
    int res = r ? any_glob(r, resource, 0) : nr ? !any_glob(nr, resource, 0) : 0;
    return act && res;
}

int twin__aws_iam_allows(const json_t *statements, const char *action, const char *resource)
{
    int allowed = 0;
    size_t i;
    json_t *st;
    json_array_foreach(statements, i, st) {
        const char *effect = twin__aws_str(st, "Effect");
        if (!effect || !statement_matches(st, action, resource))
            continue;
        if (!strcmp(effect, "Deny")) {
            if (!json_object_get(st, "Condition"))
                return 0;
        } else if (!strcmp(effect, "Allow")) {
            allowed = 1;
        }
    }
    return allowed;
}

/* One statement in the evaluator's form: Effect, Action or NotAction,
 * Resource or NotResource (lists), Condition when it has one.  NULL when
 * it is not a usable identity statement. */
static json_t *normal_statement(const json_t *st)
{
    const char *effect = twin__aws_str(st, "Effect");
    if (!effect || (strcmp(effect, "Allow") && strcmp(effect, "Deny")))
        return NULL;
    json_t *out = json_pack("{s:s}", "Effect", effect);
    static const char *const pairs[][2] = {{"Action", "NotAction"}, {"Resource", "NotResource"}};
    for (int k = 0; k < 2; k++) {
        const char *key = json_object_get(st, pairs[k][0]) ? pairs[k][0] : pairs[k][1];
        json_t *l = str_list(json_object_get(st, key));
        if (!l) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, key, l);
    }
    if (json_object_get(st, "Condition"))
        json_object_set(out, "Condition", json_object_get(st, "Condition"));
    return out;
}

/* The IAMPolicy document of a managed policy ARN (new reference), before
 * the open operation or now; a built-in when none is stored; NULL. */
static json_t *policy_by_arn(twin *t, const char *arn, int before)
{
    if (!arn)
        return NULL;
    const char *slash = strrchr(arn, '/');
    const char *name = slash ? slash + 1 : arn;
    json_t *doc = before ? doc_before(t, K_POLICY, name) : twin__aws_doc_copy(t, K_POLICY, name);
    if (doc && !strcmp(twin__aws_str(doc, "Arn") ? twin__aws_str(doc, "Arn") : "", arn))
        return doc;
    json_decref(doc);
    const builtin_policy *b = builtin_by_arn(arn);
    return b ? builtin_doc(b) : NULL;
}

static const json_t *default_version_doc(const json_t *policy)
{
    const char *def = twin__aws_str(policy, "DefaultVersionId");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(policy, "PolicyVersionList"), i, v) {
        const char *id = twin__aws_str(v, "VersionId");
        if ((def && id && !strcmp(def, id)) || (!def && json_is_true(json_object_get(v, "IsDefaultVersion"))))
            return json_object_get(v, "Document");
    }
    return NULL;
}

static void add_statements(json_t *out, json_t *sources, const json_t *doc, json_t *source)
{
    json_t *list = statements_of(doc);
    size_t i;
    json_t *st;
    json_array_foreach(list, i, st) {
        json_t *n = normal_statement(st);
        if (!n)
            continue;
        json_array_append_new(out, n);
        if (sources)
            json_array_append(sources, source);
    }
    json_decref(list);
    json_decref(source);
}

/* The statements of a principal's document (pdoc; its policies read before
 * the open operation or now); sources (may be NULL) receives, for each
 * statement, {kind: "managed"|"inline", name, arn}. New array. */
static json_t *principal_statements(twin *t, const json_t *pdoc, int before, json_t *sources)
{
    json_t *out = json_array();
    if (!pdoc)
        return out;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(pdoc, "AttachedManagedPolicies"), i, a) {
        const char *arn = twin__aws_str(a, "PolicyArn");
        json_t *pol = policy_by_arn(t, arn, before);
        if (!pol)
            continue;
        add_statements(
            out, sources, default_version_doc(pol),
            json_pack("{s:s, s:s, s:s}", "kind", "managed", "name", twin__aws_str(pol, "PolicyName"), "arn", arn));
        json_decref(pol);
    }
    const char *lists[] = {"RolePolicyList", "UserPolicyList"};
    for (int k = 0; k < 2; k++)
        json_array_foreach(json_object_get(pdoc, lists[k]), i, a) {
            const char *name = twin__aws_str(a, "PolicyName");
            add_statements(out, sources, json_object_get(a, "PolicyDocument"),
                           json_pack("{s:s, s:s}", "kind", "inline", "name", name ? name : ""));
        }
    return out;
}

json_t *twin__aws_iam_statements(twin *t, const char *kind, const char *name)
{
    json_t *doc = twin__aws_doc_copy(t, kind, name);
    json_t *out = principal_statements(t, doc, 0, NULL);
    json_decref(doc);
    return out;
}

/* ---- output shapes ---- */

static void copy_keys(json_t *dst, const json_t *src, const char *const *keys)
{
    for (; *keys; keys++) {
        json_t *v = json_object_get(src, *keys);
        if (v)
            json_object_set(dst, *keys, v);
    }
}

static json_t *inline_list_out(const json_t *list)
{
    json_t *out = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) json_array_append_new(
        out, json_pack("{s:O, s:o}", "PolicyName", json_object_get(p, "PolicyName"), "PolicyDocument",
                       encoded(json_object_get(p, "PolicyDocument"))));
    return out;
}

/* detail: the get-account-authorization-details item; else GetRole's Role. */
static json_t *role_out(const json_t *d, int detail)
{
    static const char *const keys[] = {"Path", "RoleName", "RoleId", "Arn", "CreateDate", NULL};
    static const char *const extra[] = {"Description", "MaxSessionDuration", "RoleLastUsed", NULL};
    json_t *o = json_object();
    copy_keys(o, d, keys);
    if (json_object_get(d, "AssumeRolePolicyDocument"))
        json_object_set_new(o, "AssumeRolePolicyDocument", encoded(json_object_get(d, "AssumeRolePolicyDocument")));
    copy_keys(o, d, extra);
    if (detail) {
        json_t *ipl = json_object_get(d, "InstanceProfileList");
        json_object_set_new(o, "InstanceProfileList", ipl ? json_deep_copy(ipl) : json_array());
        json_object_set_new(o, "RolePolicyList", inline_list_out(json_object_get(d, "RolePolicyList")));
        json_t *amp = json_object_get(d, "AttachedManagedPolicies");
        json_object_set_new(o, "AttachedManagedPolicies", amp ? json_deep_copy(amp) : json_array());
    }
    if (json_array_size(json_object_get(d, "Tags")))
        json_object_set(o, "Tags", json_object_get(d, "Tags"));
    return o;
}

static json_t *user_out(const json_t *d, int detail)
{
    static const char *const keys[] = {"Path", "UserName", "UserId", "Arn", "CreateDate", "PasswordLastUsed", NULL};
    json_t *o = json_object();
    copy_keys(o, d, keys);
    if (detail) {
        json_object_set_new(o, "UserPolicyList", inline_list_out(json_object_get(d, "UserPolicyList")));
        json_t *gl = json_object_get(d, "GroupList"), *amp = json_object_get(d, "AttachedManagedPolicies");
        json_object_set_new(o, "GroupList", gl ? json_deep_copy(gl) : json_array());
        json_object_set_new(o, "AttachedManagedPolicies", amp ? json_deep_copy(amp) : json_array());
    }
    if (json_array_size(json_object_get(d, "Tags")))
        json_object_set(o, "Tags", json_object_get(d, "Tags"));
    return o;
}

/* How many roles and users have the policy attached, now. */
static long attachments(twin *t, const char *arn)
{
    long n = 0;
    const char *kinds[] = {K_ROLE, K_USER};
    for (int k = 0; k < 2; k++) {
        json_t *all = twin__aws_list(t, kinds[k]);
        size_t i, j;
        json_t *obj, *a;
        json_array_foreach(all, i, obj) json_array_foreach(json_object_get(twin__aws_doc(obj), "AttachedManagedPolicies"),
                                                           j, a) n += twin__aws_is(twin__aws_str(a, "PolicyArn"), arn);
        json_decref(all);
    }
    return n;
}

static json_t *policy_out(twin *t, const json_t *d, int detail, int stored)
{
    static const char *const keys[] = {"PolicyName", "PolicyId", "Arn", "Path", "DefaultVersionId",
                                       "AttachmentCount", "PermissionsBoundaryUsageCount", "IsAttachable",
                                       "Description", "CreateDate", "UpdateDate", NULL};
    json_t *o = json_object();
    copy_keys(o, d, keys);
    if (!stored)
        json_object_set_new(o, "AttachmentCount", json_integer(attachments(t, twin__aws_str(d, "Arn"))));
    if (detail) {
        json_t *vl = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(d, "PolicyVersionList"), i, v) {
            json_t *e = json_deep_copy(v);
            json_object_set_new(e, "Document", encoded(json_object_get(v, "Document")));
            json_array_append_new(vl, e);
        }
        json_object_set_new(o, "PolicyVersionList", vl);
    } else if (json_array_size(json_object_get(d, "Tags"))) {
        json_object_set(o, "Tags", json_object_get(d, "Tags"));
    }
    return o;
}

/* Every managed policy the twin knows: stored ones, then the built-ins not
 * stored (new array of IAMPolicy documents; *nstored: how many are stored). */
static json_t *all_policies(twin *t, size_t *nstored)
{
    json_t *all = twin__aws_list(t, K_POLICY), *out = json_array();
    size_t i;
    json_t *obj;
    json_array_foreach(all, i, obj) json_array_append(out, (json_t *)twin__aws_doc(obj));
    json_decref(all);
    *nstored = json_array_size(out);
    for (size_t k = 0; k < sizeof BUILTIN / sizeof *BUILTIN; k++) {
        json_t *b = builtin_doc(&BUILTIN[k]);
        int dup = 0;
        for (size_t j = 0; j < *nstored; j++)
            dup |= !strcmp(twin__aws_str(json_array_get(out, j), "Arn") ? twin__aws_str(json_array_get(out, j), "Arn")
                                                                        : "",
                           twin__aws_str(b, "Arn"));
        if (dup)
            json_decref(b);
        else
            json_array_append_new(out, b);
    }
    return out;
}

static int aws_managed(const json_t *policy)
{
    const char *arn = twin__aws_str(policy, "Arn");
    return arn && !strncmp(arn, AWS_POLICY_PREFIX, strlen(AWS_POLICY_PREFIX));
}

/* ---- reads ---- */

static int has_filter(const json_t *filter, const char *name)
{
    if (!json_is_array(filter) || json_array_size(filter) == 0)
        return 1;
    size_t i;
    json_t *f;
    json_array_foreach(filter, i, f) if (json_is_string(f) && !strcmp(json_string_value(f), name)) return 1;
    return 0;
}

static int iam_get_account_authorization_details(aws_ctx *c)
{
    const json_t *filter = json_object_get(c->input, "Filter");
    json_t *users = json_array(), *roles = json_array(), *policies = json_array();
    const char *kinds[] = {K_USER, K_ROLE};
    json_t *lists[] = {users, roles};
    const char *fnames[] = {"User", "Role"};
    for (int k = 0; k < 2; k++) {
        if (!has_filter(filter, fnames[k]))
            continue;
        json_t *all = twin__aws_list(c->t, kinds[k]);
        size_t i;
        json_t *obj;
        json_array_foreach(all, i, obj) json_array_append_new(
            lists[k], k == 0 ? user_out(twin__aws_doc(obj), 1) : role_out(twin__aws_doc(obj), 1));
        json_decref(all);
    }
    size_t nstored, i;
    json_t *all = all_policies(c->t, &nstored), *p;
    json_array_foreach(all, i, p) {
        int managed = aws_managed(p);
        if (!has_filter(filter, managed ? "AWSManagedPolicy" : "LocalManagedPolicy"))
            continue;
        json_t *o = policy_out(c->t, p, 1, i < nstored);
        /* AWS lists the AWS managed policies in use, not all of them */
        if (managed && json_integer_value(json_object_get(o, "AttachmentCount")) == 0)
            json_decref(o);
        else
            json_array_append_new(policies, o);
    }
    json_decref(all);
    c->output = json_pack("{s:o, s:[], s:o, s:o, s:b}", "UserDetailList", users, "GroupDetailList", "RoleDetailList",
                          roles, "Policies", policies, "IsTruncated", 0);
    return 0;
}

static int path_ok(const json_t *doc, const char *prefix)
{
    const char *path = twin__aws_str(doc, "Path");
    return !prefix || !strncmp(path ? path : "/", prefix, strlen(prefix));
}

static int iam_list_principals(aws_ctx *c)
{
    int roles = !strcmp(c->operation, "ListRoles");
    json_t *all = twin__aws_list(c->t, roles ? K_ROLE : K_USER), *out = json_array();
    size_t i;
    json_t *obj;
    json_array_foreach(all, i, obj) {
        const json_t *d = twin__aws_doc(obj);
        if (!path_ok(d, twin__aws_input_str(c, "PathPrefix")))
            continue;
        json_t *o = roles ? role_out(d, 0) : user_out(d, 0);
        json_object_del(o, "Tags");   /* ListRoles/ListUsers do not return tags */
        json_array_append_new(out, o);
    }
    json_decref(all);
    c->output = json_pack("{s:o, s:b}", roles ? "Roles" : "Users", out, "IsTruncated", 0);
    return 0;
}

static int iam_list_policies(aws_ctx *c)
{
    const char *scope = twin__aws_input_str(c, "Scope");
    int only_attached = json_is_true(json_object_get(c->input, "OnlyAttached"));
    if (scope && strcmp(scope, "All") && strcmp(scope, "AWS") && strcmp(scope, "Local"))
        return twin__aws_error(c, 400, "ValidationError", "Value '%s' at 'scope' failed to satisfy constraint: "
                               "Member must satisfy enum value set: [All, AWS, Local]", scope);
    size_t nstored, i;
    json_t *all = all_policies(c->t, &nstored), *out = json_array(), *p;
    json_array_foreach(all, i, p) {
        int managed = aws_managed(p);
        if ((scope && !strcmp(scope, "AWS") && !managed) || (scope && !strcmp(scope, "Local") && managed))
            continue;
        if (!path_ok(p, twin__aws_input_str(c, "PathPrefix")))
            continue;
        json_t *o = policy_out(c->t, p, 0, i < nstored);
        json_object_del(o, "Tags");
        if (only_attached && json_integer_value(json_object_get(o, "AttachmentCount")) == 0)
            json_decref(o);
        else
            json_array_append_new(out, o);
    }
    json_decref(all);
    c->output = json_pack("{s:o, s:b}", "Policies", out, "IsTruncated", 0);
    return 0;
}

static int iam_get_role(aws_ctx *c)
{
    const char *name;
    json_t *d = need_principal(c, K_ROLE, &name);
    if (!d)
        return 0;
    c->output = json_pack("{s:o}", "Role", role_out(d, 0));
    json_decref(d);
    return 0;
}

static int iam_get_user(aws_ctx *c)
{
    if (!twin__aws_input_str(c, "UserName"))
        return snprintf(c->message, sizeof c->message, "GetUser without UserName names the caller, whom the twin "
                        "does not know"), -1;
    const char *name;
    json_t *d = need_principal(c, K_USER, &name);
    if (!d)
        return 0;
    c->output = json_pack("{s:o}", "User", user_out(d, 0));
    json_decref(d);
    return 0;
}

/* Whether a policy document is an IAMPolicy resource (not a built-in). */
static int policy_stored(twin *t, const json_t *p)
{
    json_t *obj = twin__aws_get(t, K_POLICY, twin__aws_str(p, "PolicyName"));
    const char *arn = obj ? twin__aws_str(twin__aws_doc(obj), "Arn") : NULL;
    int stored = arn && twin__aws_str(p, "Arn") && !strcmp(arn, twin__aws_str(p, "Arn"));
    json_decref(obj);
    return stored;
}

/* The policy the call's PolicyArn names (new reference; *stored: whether it
 * is an IAMPolicy resource), or NULL with NoSuchEntity set. */
static json_t *need_policy(aws_ctx *c, int *stored)
{
    const char *arn;
    if (!need(c, "PolicyArn", &arn))
        return NULL;
    json_t *p = policy_by_arn(c->t, arn, 0);
    if (!p) {
        twin__aws_error(c, 404, "NoSuchEntity", "Policy %s does not exist or is not attachable.", arn);
        return NULL;
    }
    *stored = policy_stored(c->t, p);
    return p;
}

static int iam_get_policy(aws_ctx *c)
{
    int stored;
    json_t *p = need_policy(c, &stored);
    if (!p)
        return 0;
    c->output = json_pack("{s:o}", "Policy", policy_out(c->t, p, 0, stored));
    json_decref(p);
    return 0;
}

static int iam_get_policy_version(aws_ctx *c)
{
    int stored;
    const char *vid;
    json_t *p = need_policy(c, &stored);
    if (!p)
        return 0;
    if (!need(c, "VersionId", &vid)) {
        json_decref(p);
        return 0;
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(p, "PolicyVersionList"), i, v) {
        if (twin__aws_str(v, "VersionId") && !strcmp(twin__aws_str(v, "VersionId"), vid)) {
            json_t *o = json_deep_copy(v);
            json_object_set_new(o, "Document", encoded(json_object_get(v, "Document")));
            c->output = json_pack("{s:o}", "PolicyVersion", o);
            json_decref(p);
            return 0;
        }
    }
    twin__aws_error(c, 404, "NoSuchEntity", "Policy %s version %s does not exist or is not attachable.",
                    twin__aws_str(p, "Arn"), vid);
    json_decref(p);
    return 0;
}

/* ListAttached{Role,User}Policies (attached 1) and List{Role,User}Policies:
 * the names of the principal's managed or inline policies (role_op: the
 * role's operation). */
static int list_policies(aws_ctx *c, const char *role_op, int attached)
{
    const char *kind = !strcmp(c->operation, role_op) ? K_ROLE : K_USER;
    const char *name;
    json_t *d = need_principal(c, kind, &name);
    if (!d)
        return 0;
    json_t *out = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(d, attached ? "AttachedManagedPolicies" : inline_key(kind)), i, p) {
        if (attached)
            json_array_append_new(out, json_pack("{s:O, s:O}", "PolicyName", json_object_get(p, "PolicyName"),
                                                 "PolicyArn", json_object_get(p, "PolicyArn")));
        else
            json_array_append(out, json_object_get(p, "PolicyName"));
    }
    c->output = json_pack("{s:o, s:b}", attached ? "AttachedPolicies" : "PolicyNames", out, "IsTruncated", 0);
    json_decref(d);
    return 0;
}

static int iam_list_attached(aws_ctx *c) { return list_policies(c, "ListAttachedRolePolicies", 1); }

static int iam_list_inline(aws_ctx *c) { return list_policies(c, "ListRolePolicies", 0); }

static int iam_get_inline(aws_ctx *c)
{
    const char *kind = !strcmp(c->operation, "GetRolePolicy") ? K_ROLE : K_USER;
    const char *name, *pname;
    json_t *d = need_principal(c, kind, &name);
    if (!d)
        return 0;
    if (!need(c, "PolicyName", &pname)) {
        json_decref(d);
        return 0;
    }
    json_t *p = twin__aws_find(json_object_get(d, inline_key(kind)), "PolicyName", pname, NULL);
    if (!p) {
        twin__aws_error(c, 404, "NoSuchEntity", "The %s policy with name %s cannot be found.", kind_word(kind), pname);
    } else {
        c->output = json_pack("{s:s, s:s, s:o}", !strcmp(kind, K_ROLE) ? "RoleName" : "UserName", name,
                              "PolicyName", pname, "PolicyDocument", encoded(json_object_get(p, "PolicyDocument")));
    }
    json_decref(d);
    return 0;
}

static int iam_list_access_keys(aws_ctx *c)
{
    if (!twin__aws_input_str(c, "UserName"))
        return snprintf(c->message, sizeof c->message, "ListAccessKeys without UserName names the caller, whom the "
                        "twin does not know"), -1;
    const char *name;
    json_t *d = need_principal(c, K_USER, &name);
    if (!d)
        return 0;
    json_t *out = json_array();
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(d, "AccessKeys"), i, k) {
        json_t *e = json_pack("{s:s}", "UserName", name);
        static const char *const keys[] = {"AccessKeyId", "Status", "CreateDate", NULL};
        copy_keys(e, k, keys);
        json_array_append_new(out, e);
    }
    c->output = json_pack("{s:o, s:b}", "AccessKeyMetadata", out, "IsTruncated", 0);
    json_decref(d);
    return 0;
}

/* ---- mutations ---- */

/* Keeps a stored policy's AttachmentCount in step with an attach (+1) or
 * detach (-1); built-ins count on demand. */
static void bump_attachments(twin *t, const char *arn, int delta)
{
    const char *slash = strrchr(arn, '/');
    const char *name = slash ? slash + 1 : arn;
    json_t *p = twin__aws_doc_copy(t, K_POLICY, name);
    if (p && twin__aws_str(p, "Arn") && !strcmp(twin__aws_str(p, "Arn"), arn)) {
        json_int_t n = json_integer_value(json_object_get(p, "AttachmentCount")) + delta;
        json_object_set_new(p, "AttachmentCount", json_integer(n < 0 ? 0 : n));
        twin__aws_put(t, K_POLICY, name, p);
    }
    json_decref(p);
}

static int iam_attach(aws_ctx *c)
{
    const char *kind = strstr(c->operation, "Role") ? K_ROLE : K_USER;
    int detach = !strncmp(c->operation, "Detach", 6);
    const char *name;
    json_t *d = need_principal(c, kind, &name);
    if (!d)
        return 0;
    const char *arn;
    if (!need(c, "PolicyArn", &arn)) {
        json_decref(d);
        return 0;
    }
    json_t *list = twin__aws_array_of(d, "AttachedManagedPolicies");
    size_t idx;
    json_t *have = twin__aws_find(list, "PolicyArn", arn, &idx);
    if (detach) {
        if (!have) {
            json_decref(d);
            return twin__aws_error(c, 404, "NoSuchEntity", "Policy %s was not found.", arn);
        }
        json_array_remove(list, idx);
        twin__aws_put(c->t, kind, name, d);
        bump_attachments(c->t, arn, -1);
    } else {
        json_t *p = policy_by_arn(c->t, arn, 0);
        if (!p) {
            json_decref(d);
            return twin__aws_error(c, 404, "NoSuchEntity", "Policy %s does not exist or is not attachable.", arn);
        }
        if (!have) {
            if (json_array_size(list) >= 10) {
                json_decref(p);
                json_decref(d);
                return twin__aws_error(c, 409, "LimitExceeded", "Cannot exceed quota for PoliciesPer%s: 10.",
                                       !strcmp(kind, K_ROLE) ? "Role" : "User");
            }
            json_array_append_new(list, json_pack("{s:O, s:s}", "PolicyName", json_object_get(p, "PolicyName"),
                                                  "PolicyArn", arn));
            twin__aws_put(c->t, kind, name, d);
            bump_attachments(c->t, arn, +1);
        }
        json_decref(p);
    }
    json_decref(d);
    c->output = json_object();
    return 0;
}

static int iam_put_inline(aws_ctx *c)
{
    const char *kind = strstr(c->operation, "Role") ? K_ROLE : K_USER;
    const char *name, *pname;
    json_t *d = need_principal(c, kind, &name);
    if (!d)
        return 0;
    json_t *doc = NULL;
    if (!need(c, "PolicyName", &pname) || !(doc = need_doc(c, "PolicyDocument", DOC_IDENTITY))) {
        json_decref(d);
        return 0;
    }
    json_t *list = json_object_get(d, inline_key(kind));
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(d, inline_key(kind), list);
    }
    json_t *have = twin__aws_find(list, "PolicyName", pname, NULL);
    if (have)
        json_object_set_new(have, "PolicyDocument", doc);
    else
        json_array_append_new(list, json_pack("{s:s, s:o}", "PolicyName", pname, "PolicyDocument", doc));
    return twin__aws_done(c, kind, name, d, 1);
}

static int iam_delete_inline(aws_ctx *c)
{
    const char *kind = strstr(c->operation, "Role") ? K_ROLE : K_USER;
    const char *name, *pname;
    json_t *d = need_principal(c, kind, &name);
    if (!d)
        return 0;
    if (!need(c, "PolicyName", &pname)) {
        json_decref(d);
        return 0;
    }
    size_t idx;
    if (!twin__aws_find(json_object_get(d, inline_key(kind)), "PolicyName", pname, &idx)) {
        json_decref(d);
        return twin__aws_error(c, 404, "NoSuchEntity", "The %s policy with name %s cannot be found.", kind_word(kind),
                               pname);
    }
    json_array_remove(json_object_get(d, inline_key(kind)), idx);
    return twin__aws_done(c, kind, name, d, 1);
}

static int valid_name(const char *n, size_t max)
{
    size_t len = strlen(n);
    if (len == 0 || len > max)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)n[i]) && !strchr("+=,.@_-", n[i]))
            return 0;
    return 1;
}

/* Tags of a create call, checked (new array), or NULL with the error set. */
static json_t *input_tags(aws_ctx *c, const json_t *have)
{
    json_t *out = have ? json_deep_copy(have) : json_array();
    size_t i;
    json_t *tag;
    json_array_foreach(json_object_get(c->input, "Tags"), i, tag) {
        const char *k = twin__aws_str(tag, "Key"), *v = twin__aws_str(tag, "Value");
        if (!k || !v) {
            json_decref(out);
            twin__aws_error(c, 400, "InvalidInput", "Tags must have a Key and a Value.");
            return NULL;
        }
        twin__aws_tag_set(out, k, v);
    }
    if (json_array_size(out) > 50) {
        json_decref(out);
        twin__aws_error(c, 409, "LimitExceeded", "Cannot exceed quota for TagsPerResource: 50.");
        return NULL;
    }
    return out;
}

/* The name a create call gives an entity of kind in its parameter key
 * (RoleName, UserName, PolicyName: at most max characters), or NULL with
 * the error set when it is missing, invalid or taken. */
static const char *new_name(aws_ctx *c, const char *kind, const char *key, size_t max)
{
    const char *name;
    if (!need(c, key, &name))
        return NULL;
    if (!valid_name(name, max)) {
        twin__aws_error(c, 400, "ValidationError", "The specified value for %c%s is invalid.",
                        tolower((unsigned char)key[0]), key + 1);
        return NULL;
    }
    json_t *old = twin__aws_get(c->t, kind, name);
    if (!old)
        return name;
    json_decref(old);
    if (!strcmp(kind, K_POLICY))
        twin__aws_error(c, 409, "EntityAlreadyExists",
                        "A policy called %s already exists. Duplicate names are not allowed.", name);
    else
        twin__aws_error(c, 409, "EntityAlreadyExists", "%s with name %s already exists.",
                        !strcmp(kind, K_ROLE) ? "Role" : "User", name);
    return NULL;
}

/* What IAM gives a new entity: its Path (the call's, else "/"), ARN
 * (arn:aws:iam::ACCOUNT:WHAT/PATH/NAME), id (prefix and 17 characters)
 * and creation time. */
typedef struct new_entity {
    const char *path;
    char *arn, *id, *now;
} new_entity;

static void new_entity_make(aws_ctx *c, new_entity *e, const char *what, const char *name, const char *prefix)
{
    e->path = twin__aws_input_str(c, "Path") ? twin__aws_input_str(c, "Path") : "/";
    char *res = twin_xasprintf("%s%s%s", what, e->path, name);
    e->arn = twin__aws_arn(c->t, "iam", 0, res);
    free(res);
    e->id = iam_id(c->t, prefix, 17);
    e->now = twin__timestamp(c->t);
}

/* The start of CreateRole, CreateUser and CreatePolicy: the name the call
 * gives (key: at most max characters, not taken), its document doc_key
 * (when not NULL: *doc, new) and its tags (*tags, new), checked, then what
 * IAM gives the entity (*e: what, prefix as new_entity_make).  NULL with
 * the error set and nothing held. */
static const char *create_begin(aws_ctx *c, const char *kind, const char *key, size_t max, const char *doc_key,
                                enum doc_use use, const char *what, const char *prefix, new_entity *e, json_t **doc,
                                json_t **tags)
{
    const char *name = new_name(c, kind, key, max);
    if (!name)
        return NULL;
    *doc = doc_key ? need_doc(c, doc_key, use) : NULL;
    if (doc_key && !*doc)
        return NULL;
    *tags = input_tags(c, NULL);
    if (!*tags) {
        json_decref(*doc);
        return NULL;
    }
    new_entity_make(c, e, what, name, prefix);
    return name;
}

static void new_entity_free(new_entity *e)
{
    free(e->arn);
    free(e->id);
    free(e->now);
}

/* DeleteRole, DeleteUser: refused while the principal holds what checks
 * names ({member, message} in the order IAM checks them, ended by NULL). */
static int delete_principal(aws_ctx *c, const char *kind, const char *const checks[][2])
{
    const char *name;
    json_t *d = need_principal(c, kind, &name);
    if (!d)
        return 0;
    const char *why = NULL;
    for (size_t i = 0; checks[i][0] && !why; i++)
        if (json_array_size(json_object_get(d, checks[i][0])))
            why = checks[i][1];
    json_decref(d);
    if (why)
        return twin__aws_error(c, 409, "DeleteConflict", "%s", why);
    twin__aws_del(c->t, kind, name);
    c->output = json_object();
    return 0;
}

static int iam_create_role(aws_ctx *c)
{
    new_entity e;
    json_t *trust, *tags;
    const char *name = create_begin(c, K_ROLE, "RoleName", 64, "AssumeRolePolicyDocument", DOC_TRUST, "role", "AROA",
                                    &e, &trust, &tags);
    if (!name)
        return 0;
    json_t *max = json_object_get(c->input, "MaxSessionDuration");
    json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:[], s:[], s:[], s:o, s:I}", "Path", e.path, "RoleName",
                          name, "RoleId", e.id, "Arn", e.arn, "CreateDate", e.now, "AssumeRolePolicyDocument", trust,
                          "InstanceProfileList", "RolePolicyList", "AttachedManagedPolicies", "Tags", tags,
                          "MaxSessionDuration", json_is_integer(max) ? json_integer_value(max) : (json_int_t)3600);
    if (twin__aws_input_str(c, "Description"))
        json_object_set_new(d, "Description", json_string(twin__aws_input_str(c, "Description")));
    twin__aws_put(c->t, K_ROLE, name, d);
    c->output = json_pack("{s:o}", "Role", role_out(d, 0));
    json_decref(d);
    new_entity_free(&e);
    return 0;
}

#define DETACH_FIRST "Cannot delete entity, must detach all policies first."
#define DELETE_POLICIES_FIRST "Cannot delete entity, must delete policies first."

static int iam_delete_role(aws_ctx *c)
{
    static const char *const checks[][2] = {
        {"AttachedManagedPolicies", DETACH_FIRST},
        {"RolePolicyList", DELETE_POLICIES_FIRST},
        {"InstanceProfileList", "Cannot delete entity, must remove roles from instance profile first."},
        {NULL, NULL},
    };
    return delete_principal(c, K_ROLE, checks);
}

static int iam_update_assume_role_policy(aws_ctx *c)
{
    const char *name;
    json_t *d = need_principal(c, K_ROLE, &name);
    if (!d)
        return 0;
    json_t *trust = need_doc(c, "PolicyDocument", DOC_TRUST);
    if (!trust) {
        json_decref(d);
        return 0;
    }
    json_object_set_new(d, "AssumeRolePolicyDocument", trust);
    return twin__aws_done(c, K_ROLE, name, d, 1);
}

static int iam_tag_role(aws_ctx *c)
{
    const char *name;
    json_t *d = need_principal(c, K_ROLE, &name);
    if (!d)
        return 0;
    if (!json_is_array(json_object_get(c->input, "Tags"))) {
        json_decref(d);
        const char *dummy;
        return need(c, "Tags", &dummy), 0;
    }
    json_t *tags = input_tags(c, json_object_get(d, "Tags"));
    if (!tags) {
        json_decref(d);
        return 0;
    }
    json_object_set_new(d, "Tags", tags);
    return twin__aws_done(c, K_ROLE, name, d, 1);
}

static int iam_untag_role(aws_ctx *c)
{
    const char *name;
    json_t *d = need_principal(c, K_ROLE, &name);
    if (!d)
        return 0;
    json_t *keys = json_object_get(c->input, "TagKeys"), *tags = json_object_get(d, "Tags");
    size_t i;
    json_t *k;
    int changed = 0;
    json_array_foreach(keys, i, k) changed |= twin__aws_tag_remove(tags, json_string_value(k));
    return twin__aws_done(c, K_ROLE, name, d, changed);
}

static int iam_create_user(aws_ctx *c)
{
    new_entity e;
    json_t *none, *tags;
    const char *name = create_begin(c, K_USER, "UserName", 64, NULL, DOC_IDENTITY, "user", "AIDA", &e, &none, &tags);
    if (!name)
        return 0;
    json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[], s:[], s:[], s:o, s:[]}", "Path", e.path, "UserName", name,
                          "UserId", e.id, "Arn", e.arn, "CreateDate", e.now, "UserPolicyList", "GroupList",
                          "AttachedManagedPolicies", "Tags", tags, "AccessKeys");
    twin__aws_put(c->t, K_USER, name, d);
    c->output = json_pack("{s:o}", "User", user_out(d, 0));
    json_decref(d);
    new_entity_free(&e);
    return 0;
}

static int iam_delete_user(aws_ctx *c)
{
    static const char *const checks[][2] = {
        {"AccessKeys", "Cannot delete entity, must delete access keys first."},
        {"UserPolicyList", DELETE_POLICIES_FIRST},
        {"AttachedManagedPolicies", DETACH_FIRST},
        {"GroupList", "Cannot delete entity, must remove users from group first."},
        {NULL, NULL},
    };
    return delete_principal(c, K_USER, checks);
}

/* 40 characters from the kernel's generator: the secret of a new access
 * key, shown once in the output and kept nowhere. */
static void fresh_secret(char out[41])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char raw[40];
    size_t got = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n;
        while (got < sizeof raw && (n = read(fd, raw + got, sizeof raw - got)) > 0)
            got += (size_t)n;
        close(fd);
    }
    if (got < sizeof raw) {
        fprintf(stderr, "airlock: /dev/urandom unreadable: cannot make a secret\n");
        abort();
    }
    for (int i = 0; i < 40; i++)
        out[i] = alphabet[raw[i] & 63];
    out[40] = 0;
}

static int iam_create_access_key(aws_ctx *c)
{
    if (!twin__aws_input_str(c, "UserName"))
        return snprintf(c->message, sizeof c->message, "CreateAccessKey without UserName names the caller, whom "
                        "the twin does not know"), -1;
    const char *name;
    json_t *d = need_principal(c, K_USER, &name);
    if (!d)
        return 0;
    json_t *keys = twin__aws_array_of(d, "AccessKeys");
    if (json_array_size(keys) >= 2) {
        json_decref(d);
        return twin__aws_error(c, 409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2");
    }
    char *id = iam_id(c->t, "AKIA", 16), *now = twin__timestamp(c->t);
    json_array_append_new(keys, json_pack("{s:s, s:s, s:s}", "AccessKeyId", id, "Status", "Active", "CreateDate", now));
    twin__aws_put(c->t, K_USER, name, d);
    char secret[41];
    fresh_secret(secret);
    c->output = json_pack("{s:{s:s, s:s, s:s, s:s, s:s}}", "AccessKey", "UserName", name, "AccessKeyId", id, "Status",
                          "Active", "SecretAccessKey", secret, "CreateDate", now);
    memset(secret, 0, sizeof secret);
    json_decref(d);
    free(id);
    free(now);
    return 0;
}

static int iam_delete_access_key(aws_ctx *c)
{
    const char *kid;
    if (!need(c, "AccessKeyId", &kid))
        return 0;
    const char *user = twin__aws_input_str(c, "UserName");
    json_t *d = NULL;
    char *name = NULL;
    if (user) {
        d = twin__aws_doc_copy(c->t, K_USER, user);
        if (!d)
            return twin__aws_error(c, 404, "NoSuchEntity", "The user with name %s cannot be found.", user);
        name = twin_xstrdup(user);
    } else {
        /* the caller's key, IAM says; the twin looks in every user's */
        json_t *all = twin__aws_list(c->t, K_USER);
        size_t i;
        json_t *obj;
        json_array_foreach(all, i, obj) if (!d && twin__aws_find(json_object_get(twin__aws_doc(obj), "AccessKeys"),
                                                             "AccessKeyId", kid, NULL))
        {
            d = json_deep_copy(twin__aws_doc(obj));
            name = twin_xstrdup(twin__name(obj));
        }
        json_decref(all);
    }
    size_t idx;
    if (!d || !twin__aws_find(json_object_get(d, "AccessKeys"), "AccessKeyId", kid, &idx)) {
        json_decref(d);
        free(name);
        return twin__aws_error(c, 404, "NoSuchEntity", "The Access Key with id %s cannot be found.", kid);
    }
    json_array_remove(json_object_get(d, "AccessKeys"), idx);
    twin__aws_put(c->t, K_USER, name, d);
    json_decref(d);
    free(name);
    c->output = json_object();
    return 0;
}

static int iam_create_policy(aws_ctx *c)
{
    new_entity e;
    json_t *doc, *tags;
    const char *name = create_begin(c, K_POLICY, "PolicyName", 128, "PolicyDocument", DOC_IDENTITY, "policy", "ANPA",
                                    &e, &doc, &tags);
    if (!name)
        return 0;
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:b, s:s, s:s, s:[{s:o, s:s, s:b, s:s}], s:o}",
                          "PolicyName", name, "PolicyId", e.id, "Arn", e.arn, "Path", e.path, "DefaultVersionId",
                          "v1", "AttachmentCount", 0, "PermissionsBoundaryUsageCount", 0, "IsAttachable", 1,
                          "CreateDate", e.now, "UpdateDate", e.now, "PolicyVersionList", "Document", doc, "VersionId",
                          "v1", "IsDefaultVersion", 1, "CreateDate", e.now, "Tags", tags);
    if (twin__aws_input_str(c, "Description"))
        json_object_set_new(p, "Description", json_string(twin__aws_input_str(c, "Description")));
    twin__aws_put(c->t, K_POLICY, name, p);
    c->output = json_pack("{s:o}", "Policy", policy_out(c->t, p, 0, 1));
    json_decref(p);
    new_entity_free(&e);
    return 0;
}

/* The customer managed policy the call names (a copy), or NULL with the
 * error set: NoSuchEntity, or an AWS managed policy, which no call changes. */
static json_t *need_local_policy(aws_ctx *c)
{
    const char *arn;
    if (!need(c, "PolicyArn", &arn))
        return NULL;
    json_t *p = policy_by_arn(c->t, arn, 0);
    if (p && aws_managed(p)) {
        json_decref(p);
        twin__aws_error(c, 403, "AccessDenied", "Cannot modify an AWS managed policy: %s", arn);
        return NULL;
    }
    if (!p)
        twin__aws_error(c, 404, "NoSuchEntity", "Policy %s was not found.", arn);
    return p;
}

static int iam_delete_policy(aws_ctx *c)
{
    json_t *p = need_local_policy(c);
    if (!p)
        return 0;
    long n = attachments(c->t, twin__aws_str(p, "Arn"));
    const char *why = n > 0 || json_integer_value(json_object_get(p, "AttachmentCount")) > 0
                          ? "Cannot delete a policy attached to entities."
                      : json_array_size(json_object_get(p, "PolicyVersionList")) > 1
                          ? "This policy has more than one version. Before you delete a policy, you must delete the "
                            "policy's versions. The default version is deleted with the policy."
                          : NULL;
    if (why) {
        json_decref(p);
        return twin__aws_error(c, 409, "DeleteConflict", "%s", why);
    }
    twin__aws_del(c->t, K_POLICY, twin__aws_str(p, "PolicyName"));
    json_decref(p);
    c->output = json_object();
    return 0;
}

static int iam_create_policy_version(aws_ctx *c)
{
    json_t *p = need_local_policy(c);
    if (!p)
        return 0;
    json_t *doc = need_doc(c, "PolicyDocument", DOC_IDENTITY);
    if (!doc) {
        json_decref(p);
        return 0;
    }
    json_t *versions = twin__aws_array_of(p, "PolicyVersionList");
    if (json_array_size(versions) >= 5) {
        json_decref(doc);
        json_decref(p);
        return twin__aws_error(c, 409, "LimitExceeded", "A managed policy can have up to 5 versions. Before you "
                               "create a new version, you must delete an existing version.");
    }
    long top = 0;
    size_t i;
    json_t *v;
    json_array_foreach(versions, i, v) {
        const char *id = twin__aws_str(v, "VersionId");
        if (id && id[0] == 'v' && atol(id + 1) > top)
            top = atol(id + 1);
    }
    char vid[24];
    snprintf(vid, sizeof vid, "v%ld", top + 1);
    int dflt = json_is_true(json_object_get(c->input, "SetAsDefault"));
    char *now = twin__timestamp(c->t);
    if (dflt) {
        json_array_foreach(versions, i, v) json_object_set_new(v, "IsDefaultVersion", json_false());
        json_object_set_new(p, "DefaultVersionId", json_string(vid));
    }
    json_t *entry = json_pack("{s:o, s:s, s:b, s:s}", "Document", doc, "VersionId", vid, "IsDefaultVersion", dflt,
                              "CreateDate", now);
    json_array_append(versions, entry);
    json_object_set_new(p, "UpdateDate", json_string(now));
    twin__aws_put(c->t, K_POLICY, twin__aws_str(p, "PolicyName"), p);   /* p is the store's now: not changed after */
    json_t *out = json_pack("{s:O, s:O, s:O}", "VersionId", json_object_get(entry, "VersionId"), "IsDefaultVersion",
                            json_object_get(entry, "IsDefaultVersion"), "CreateDate", json_object_get(entry, "CreateDate"));
    json_object_set_new(out, "Document", encoded(doc));
    json_decref(entry);
    c->output = json_pack("{s:o}", "PolicyVersion", out);
    json_decref(p);
    free(now);
    return 0;
}

const aws_op twin__aws_iam_ops[] = {
    {"iam", "GetAccountAuthorizationDetails", 1, iam_get_account_authorization_details},
    {"iam", "ListRoles", 1, iam_list_principals},
    {"iam", "ListUsers", 1, iam_list_principals},
    {"iam", "ListPolicies", 1, iam_list_policies},
    {"iam", "GetRole", 1, iam_get_role},
    {"iam", "GetUser", 1, iam_get_user},
    {"iam", "GetPolicy", 1, iam_get_policy},
    {"iam", "GetPolicyVersion", 1, iam_get_policy_version},
    {"iam", "ListAttachedRolePolicies", 1, iam_list_attached},
    {"iam", "ListAttachedUserPolicies", 1, iam_list_attached},
    {"iam", "ListRolePolicies", 1, iam_list_inline},
    {"iam", "ListUserPolicies", 1, iam_list_inline},
    {"iam", "GetRolePolicy", 1, iam_get_inline},
    {"iam", "GetUserPolicy", 1, iam_get_inline},
    {"iam", "ListAccessKeys", 1, iam_list_access_keys},
    {"iam", "AttachRolePolicy", 0, iam_attach},
    {"iam", "DetachRolePolicy", 0, iam_attach},
    {"iam", "AttachUserPolicy", 0, iam_attach},
    {"iam", "DetachUserPolicy", 0, iam_attach},
    {"iam", "PutRolePolicy", 0, iam_put_inline},
    {"iam", "DeleteRolePolicy", 0, iam_delete_inline},
    {"iam", "PutUserPolicy", 0, iam_put_inline},
    {"iam", "DeleteUserPolicy", 0, iam_delete_inline},
    {"iam", "CreateRole", 0, iam_create_role},
    {"iam", "DeleteRole", 0, iam_delete_role},
    {"iam", "UpdateAssumeRolePolicy", 0, iam_update_assume_role_policy},
    {"iam", "TagRole", 0, iam_tag_role},
    {"iam", "UntagRole", 0, iam_untag_role},
    {"iam", "CreateUser", 0, iam_create_user},
    {"iam", "DeleteUser", 0, iam_delete_user},
    {"iam", "CreateAccessKey", 0, iam_create_access_key},
    {"iam", "DeleteAccessKey", 0, iam_delete_access_key},
    {"iam", "CreatePolicy", 0, iam_create_policy},
    {"iam", "DeletePolicy", 0, iam_delete_policy},
    {"iam", "CreatePolicyVersion", 0, iam_create_policy_version},
    {NULL, NULL, 0, NULL},
};

/* ---- impact: iam_grants ---- */

/* A trust policy letting anyone assume the role: an Allow whose Principal
 * is "*" or {"AWS": "*"} (Conditions, sts:ExternalId for one, are not
 * weighed: such a role is reported). */
static int trust_public(const json_t *pdoc)
{
    json_t *list = statements_of(json_object_get(pdoc, "AssumeRolePolicyDocument"));
    int pub = 0;
    size_t i;
    json_t *st;
    json_array_foreach(list, i, st) {
        const char *effect = twin__aws_str(st, "Effect");
        pub |= effect && !strcmp(effect, "Allow") && twin__aws_principal_everyone(json_object_get(st, "Principal"));
    }
    json_decref(list);
    return pub;
}

static int has_pattern(const json_t *list, const char *a, const char *b)
{
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        const char *s = json_string_value(p);
        if (s && (!strcmp(s, a) || (b && !strcasecmp(s, b))))
            return 1;
    }
    return 0;
}

/* Whether resource patterns reach an IAM principal of type what ("user",
 * "role") other than self (its ARN). */
static int reaches_others(const json_t *st, const char *account, const char *what, const char *self)
{
    json_t *nr = json_object_get(st, "NotResource");
    if (nr)
        return 1;
    char *probe = twin_xasprintf("arn:aws:iam::%s:%s/airlock-probe-other", account, what);
    char *prefix = twin_xasprintf("arn:aws:iam::%s:%s/", account, what);
    int others = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(st, "Resource"), i, p) {
        const char *s = json_string_value(p);
        if (!s || (self && !strcmp(s, self)) || strstr(s, "${"))
            continue;
        others |= glob(s, probe, 0) || !strncmp(s, prefix, strlen(prefix));
    }
    free(probe);
    free(prefix);
    return others;
}

static void add_unique(json_t *arr, const json_t *values)
{
    size_t i, k;
    json_t *v, *w;
    json_array_foreach(values, i, v) {
        int dup = 0;
        json_array_foreach(arr, k, w) dup |= json_equal(v, w);
        if (!dup)
            json_array_append(arr, v);
    }
}

/* An Allow of every action ("*") on every resource ("*"). */
static int statement_admin(const json_t *st)
{
    const char *effect = twin__aws_str(st, "Effect");
    json_t *a = json_object_get(st, "Action"), *r = json_object_get(st, "Resource");
    return effect && !strcmp(effect, "Allow") && a && has_pattern(a, "*", "*:*") && r && has_pattern(r, "*", NULL);
}

static int any_admin(const json_t *sts)
{
    size_t i;
    json_t *st;
    json_array_foreach(sts, i, st) if (statement_admin(st)) return 1;
    return 0;
}

/* One iam_grants entry from the statements a source newly allows. */
static json_t *grant_entry(twin *t, const char *kind, const char *name, const json_t *pdoc, const json_t *source,
                           const json_t *sts, const char *via)
{
    const char *self = twin__aws_str(pdoc, "Arn");
    json_t *actions = json_array(), *not_actions = json_array(), *resources = json_array(),
           *not_resources = json_array(), *over = json_array();
    int admin = json_string_value(json_object_get(source, "arn")) &&
                !strcmp(json_string_value(json_object_get(source, "arn")), AWS_POLICY_PREFIX "AdministratorAccess");
    size_t i;
    json_t *st;
    const char *account = twin_aws_account(t);
    json_array_foreach(sts, i, st) {
        json_t *a = json_object_get(st, "Action"), *r = json_object_get(st, "Resource");
        if (a) {
            add_unique(actions, a);
        } else {
            /* NotAction: every action but those (not_actions) */
            json_t *every = json_pack("[s]", "*");
            add_unique(actions, every);
            json_decref(every);
            add_unique(not_actions, json_object_get(st, "NotAction"));
        }
        if (r) {
            add_unique(resources, r);
        } else {
            json_t *every = json_pack("[s]", "*");
            add_unique(resources, every);
            json_decref(every);
            add_unique(not_resources, json_object_get(st, "NotResource"));
        }
        admin |= statement_admin(st);
        static const char *const probes[][2] = {{"iam:CreateAccessKey", "user"}, {"iam:UpdateAssumeRolePolicy", "role"}};
        for (int k = 0; k < 2; k++) {
            json_t *l = json_pack("[s]", probes[k][0]);
            int acts = a ? any_glob(a, probes[k][0], 1) : !any_glob(json_object_get(st, "NotAction"), probes[k][0], 1);
            if (acts && reaches_others(st, account, probes[k][1], self))
                add_unique(over, l);
            json_decref(l);
        }
        int all_iam = a ? has_pattern(a, "*", "iam:*") : !any_glob(json_object_get(st, "NotAction"), "iam:x", 1);
        if (all_iam && (reaches_others(st, account, "user", self) || reaches_others(st, account, "role", self))) {
            json_t *l = json_pack("[s]", "iam:*");
            add_unique(over, l);
            json_decref(l);
        }
    }
    json_t *e = json_pack("{s:s++, s:s, s:o, s:o, s:b, s:s, s:b, s:b, s:o}", "principal", kind_word(kind), "/",
                          name, "type", kind_word(kind), "actions", actions, "resources", resources, "admin", admin, "via", via,
                          "trust_public", 0, "passrole_star", twin__aws_iam_allows(sts, "iam:PassRole", "*"),
                          "over_others", over);
    if (json_array_size(not_actions))
        json_object_set(e, "not_actions", not_actions);
    if (json_array_size(not_resources))
        json_object_set(e, "not_resources", not_resources);
    json_decref(not_actions);
    json_decref(not_resources);
    return e;
}

/* The grants one principal gained in the open operation (appended to out). */
static void principal_grants(twin *t, const char *kind, const char *name, json_t *out)
{
    json_t *before = doc_before(t, kind, name), *after = twin__aws_doc_copy(t, kind, name);
    if (!after) {
        json_decref(before);
        return;
    }
    json_t *bsts = principal_statements(t, before, 1, NULL);
    json_t *srcs = json_array(), *asts = principal_statements(t, after, 0, srcs);
    json_t *groups = json_array();   /* [[source, [statements]]] in order of first sight */
    size_t i, k;
    json_t *st, *b, *g;
    json_array_foreach(asts, i, st) {
        if (strcmp(twin__aws_str(st, "Effect"), "Allow"))
            continue;
        int old = 0;
        json_array_foreach(bsts, k, b) old |= json_equal(st, b);
        if (old)
            continue;
        json_t *src = json_array_get(srcs, i), *grp = NULL;
        json_array_foreach(groups, k, g) if (json_equal(json_array_get(g, 0), src)) grp = g;
        if (!grp) {
            grp = json_pack("[O, []]", src);
            json_array_append_new(groups, grp);
        }
        json_array_append(json_array_get(grp, 1), st);
    }
    int role = !strcmp(kind, K_ROLE);
    json_array_foreach(groups, i, g) {
        json_t *src = json_array_get(g, 0);
        const char *skind = twin__aws_str(src, "kind"), *sname = twin__aws_str(src, "name"),
                   *sarn = twin__aws_str(src, "arn");
        char *via;
        if (!strcmp(skind, "inline")) {
            via = twin_xasprintf("%s %s", role ? "PutRolePolicy" : "PutUserPolicy", sname);
        } else {
            int had =
                before && twin__aws_find(json_object_get(before, "AttachedManagedPolicies"), "PolicyArn", sarn, NULL);
            via = twin_xasprintf("%s %s", had ? "CreatePolicyVersion" : role ? "AttachRolePolicy" : "AttachUserPolicy",
                                 sname);
        }
        json_array_append_new(out, grant_entry(t, kind, name, after, src, json_array_get(g, 1), via));
        free(via);
    }
    if (role && trust_public(after) && !(before && trust_public(before))) {
        json_t *e = json_pack("{s:s+, s:s, s:[s], s:[O], s:b, s:s, s:b, s:b, s:[]}", "principal", "role/", name,
                              "type", "role", "actions", "sts:AssumeRole", "resources", json_object_get(after, "Arn"),
                              "admin", any_admin(asts), "via",
                              before ? "UpdateAssumeRolePolicy" : "CreateRole", "trust_public", 1, "passrole_star", 0,
                              "over_others");
        json_array_append_new(out, e);
    }
    json_decref(groups);
    json_decref(srcs);
    json_decref(asts);
    json_decref(bsts);
    json_decref(before);
    json_decref(after);
}

void twin__aws_iam_impact(twin *t, json_t *impact)
{
    json_t *grants = twin__aws_array_of(impact, "iam_grants");
    /* the principals to look at: those written, and those a written policy
     * is attached to */
    json_t *seen = json_object();
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *ch = e->value;
        if (!strcmp(ch->kind, K_ROLE) || !strcmp(ch->kind, K_USER)) {
            char *key = twin_xasprintf("%s/%s", ch->kind, ch->name);
            json_object_set_new(seen, key, json_true());
            free(key);
        } else if (!strcmp(ch->kind, K_POLICY) && ch->after) {
            const char *arn = twin__aws_str(twin__aws_doc(ch->after), "Arn");
            const char *kinds[] = {K_ROLE, K_USER};
            for (int k = 0; arn && k < 2; k++) {
                json_t *all = twin__aws_list(t, kinds[k]);
                size_t i;
                json_t *obj;
                json_array_foreach(all, i, obj) if (twin__aws_find(json_object_get(twin__aws_doc(obj),
                                                                               "AttachedManagedPolicies"),
                                                               "PolicyArn", arn, NULL))
                {
                    char *key = twin_xasprintf("%s/%s", kinds[k], twin__name(obj));
                    json_object_set_new(seen, key, json_true());
                    free(key);
                }
                json_decref(all);
            }
        }
    }
    const char *key;
    json_t *v;
    json_object_foreach(seen, key, v) {
        const char *slash = strchr(key, '/');
        char kind[16];
        snprintf(kind, sizeof kind, "%.*s", (int)(slash - key), key);
        principal_grants(t, kind, slash + 1, grants);
    }
    json_decref(seen);
}

/* ---- import and export ---- */

/* Normalises the documents of an item (PolicyDocument members of list, or
 * the member key) to objects: -1 when one does not parse. */
static int docs_to_objects(json_t *list, const char *member)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        json_t *v = json_object_get(e, member);
        if (!v)
            continue;
        json_t *d = parse_doc(v);
        if (!d)
            return -1;
        json_object_set_new(e, member, d);
    }
    return 0;
}

/* One item of an import (twin__aws_import_items). */
static int import_one(twin *t, const char *kind, const char *key, size_t i, const json_t *item, const char *name,
                      char *err, size_t errlen)
{
    json_t *d = json_deep_copy(item);
    const char *bad = NULL;
    if (!strcmp(kind, K_ROLE)) {
        json_t *trust = json_object_get(d, "AssumeRolePolicyDocument");
        if (trust) {
            json_t *p = parse_doc(trust);
            if (!p)
                bad = "AssumeRolePolicyDocument";
            else
                json_object_set_new(d, "AssumeRolePolicyDocument", p);
        }
        if (docs_to_objects(json_object_get(d, "RolePolicyList"), "PolicyDocument") != 0)
            bad = "RolePolicyList";
    } else if (!strcmp(kind, K_USER)) {
        if (docs_to_objects(json_object_get(d, "UserPolicyList"), "PolicyDocument") != 0)
            bad = "UserPolicyList";
        /* never a secret in the twin */
        size_t k;
        json_t *ak;
        json_array_foreach(json_object_get(d, "AccessKeys"), k, ak) json_object_del(ak, "SecretAccessKey");
    } else if (docs_to_objects(json_object_get(d, "PolicyVersionList"), "Document") != 0) {
        bad = "PolicyVersionList";
    }
    if (bad) {
        json_decref(d);
        snprintf(err, errlen, "%s[%zu] (%s): %s: a document is not a JSON object", key, i, name, bad);
        return -1;
    }
    const char *lists[] = {"AttachedManagedPolicies", "Tags", !strcmp(kind, K_ROLE) ? "RolePolicyList"
                                                              : !strcmp(kind, K_USER) ? "UserPolicyList"
                                                                                      : "PolicyVersionList"};
    for (int k = 0; k < 3; k++)
        if (!json_is_array(json_object_get(d, lists[k])) && strcmp(kind, K_POLICY))
            json_object_set_new(d, lists[k], json_array());
    twin__aws_put(t, kind, name, d);
    json_decref(d);
    return 0;
}

int twin__aws_iam_import(twin *t, const json_t *doc, char *err, size_t errlen)
{
    static const char *const lists[][3] = {
        {"Policies", K_POLICY, "PolicyName"},
        {"RoleDetailList", K_ROLE, "RoleName"},
        {"UserDetailList", K_USER, "UserName"},
    };
    int n = 0;
    for (size_t j = 0; j < sizeof lists / sizeof lists[0]; j++) {
        int k = twin__aws_import_items(t, doc, lists[j][0], lists[j][1], lists[j][2], NULL, import_one, err, errlen);
        if (k < 0)
            return -1;
        n += k;
    }
    return n;
}

void twin__aws_iam_export(twin *t, json_t *state)
{
    const char *keys[] = {"UserDetailList", "RoleDetailList", "Policies"};
    const char *kinds[] = {K_USER, K_ROLE, K_POLICY};
    for (int k = 0; k < 3; k++)
        json_object_set_new(state, keys[k], twin__aws_docs(t, kinds[k], 1));
}
