/*
 * aws_s3.c - S3 buckets in the twin: policy, ACL, public access block,
 * tags, and a count of objects.
 *
 * A bucket is one S3Bucket resource (metadata.name = the bucket's name)
 * whose "aws" document holds:
 *     Name, CreationDate, LocationConstraint (absent: us-east-1),
 *     Policy             the bucket policy as a parsed JSON object (absent: none)
 *     Grants, Owner      GetBucketAcl's shape
 *     PublicAccessBlock  {BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy,
 *                        RestrictPublicBuckets} (absent: none)
 *     Tags               [{Key, Value}]
 *     ObjectCount        how many objects the bucket holds
 *
 * Where the twin simplifies S3:
 *   - it holds a count of objects, not the objects: listings answer an
 *     empty page (KeyCount 0), GetObject/HeadObject answer NoSuchKey,
 *     PutObject adds one to the count whatever the key (an overwrite counts
 *     as a new object), DeleteObject takes one off while the count is > 0;
 *   - the account-level public access block, access points, Object
 *     Ownership (BucketOwnerEnforced) and object ACLs are not modelled;
 *   - CreateBucket of a bucket the account owns answers
 *     BucketAlreadyOwnedByYou in every region (us-east-1 answers 200);
 *   - "public" is AWS's documented definition, with the restricting
 *     conditions listed at policy_statement_public.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/aws_int.h"

#define S3_KIND "S3Bucket"
#define ALL_USERS_URI "http://acs.amazonaws.com/groups/global/AllUsers"
#define AUTH_USERS_URI "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

/* ---- small helpers ---- */

static int in_true(const json_t *obj, const char *key)
{
    return json_is_true(json_object_get(obj, key));
}

/* The bucket the call names (a copy, new reference), or NULL with the AWS
 * error set on c. */
static json_t *need_bucket(aws_ctx *c, const char **name_out)
{
    const char *name = twin__aws_input_str(c, "Bucket");
    if (!name || !*name) {
        twin__aws_error(c, 400, "InvalidRequest", "Missing required parameter: Bucket");
        return NULL;
    }
    json_t *doc = twin__aws_doc_copy(c->t, S3_KIND, name);
    if (!doc) {
        twin__aws_error(c, 404, "NoSuchBucket", "The specified bucket does not exist");
        return NULL;
    }
    *name_out = name;
    return doc;
}

/* Ends a call on a bucket with an AWS error: releases doc. */
static int bucket_error(aws_ctx *c, json_t *doc, int status, const char *code, const char *message)
{
    json_decref(doc);
    return twin__aws_error(c, status, code, "%s", message);
}

/* The object member key of the bucket the call names (borrowed from *doc,
 * a copy the caller releases), or NULL with the error set: code and
 * message (404) when the bucket has no such member. */
static json_t *need_member(aws_ctx *c, const char *key, const char *code, const char *message, json_t **doc)
{
    const char *name;
    *doc = need_bucket(c, &name);
    if (!*doc)
        return NULL;
    json_t *m = json_object_get(*doc, key);
    if (!json_is_object(m)) {
        bucket_error(c, *doc, 404, code, message);
        *doc = NULL;
        return NULL;
    }
    return m;
}

/* DeleteBucketPolicy, DeletePublicAccessBlock: the member key removed. */
static int remove_member(aws_ctx *c, const char *key)
{
    const char *name;
    json_t *doc = need_bucket(c, &name);
    if (!doc)
        return 0;
    int had = json_object_get(doc, key) != NULL;
    json_object_del(doc, key);
    return twin__aws_done(c, S3_KIND, name, doc, had);
}

/* The account's canonical owner: what a new bucket gets. */
static json_t *default_owner(twin *t)
{
    char id[65];
    twin__digest_hex(twin_aws_account(t), id);
    return json_pack("{s:s, s:s}", "DisplayName", "airlock-twin", "ID", id);
}

/* ---- what makes a bucket public ---- */

static int cidr_broad(const char *cidr)
{
    /* aws:SourceIp restricts unless its range is wider than a /8 (AWS
     * treats a very wide range, 0.0.0.0/1 for instance, as public) */
    const char *slash = strchr(cidr, '/');
    if (!slash)
        return 0;
    return atoi(slash + 1) < 8;
}

/* Whether a Condition block confines a statement to fixed principals or
 * networks, so that AWS does not call it public.  The restricting keys are
 * those AWS documents ("The meaning of public"): aws:PrincipalAccount,
 * aws:PrincipalArn, aws:PrincipalOrgID, aws:SourceAccount, aws:SourceArn,
 * aws:SourceOwner, aws:SourceVpc, aws:SourceVpce, aws:userid,
 * s3:DataAccessPointAccount, s3:DataAccessPointArn and aws:SourceIp (a range
 * no wider than a /8), under a positive operator (not ...Not..., not
 * ...IfExists) with values free of wildcards. */
static int condition_restricts(const json_t *cond)
{
    static const char *const keys[] = {"aws:principalaccount", "aws:principalarn", "aws:principalorgid",
                                       "aws:sourceaccount", "aws:sourcearn", "aws:sourceowner",
                                       "aws:sourcevpc", "aws:sourcevpce", "aws:userid",
                                       "s3:dataaccesspointaccount", "s3:dataaccesspointarn", "aws:sourceip"};
    const char *op;
    json_t *kv;
    if (!json_is_object(cond))
        return 0;
    json_object_foreach((json_t *)cond, op, kv) {
        if (strstr(op, "Not") || strstr(op, "IfExists") || !json_is_object(kv))
            continue;
        const char *key;
        json_t *vals;
        json_object_foreach(kv, key, vals) {
            char lower[64];
            size_t n = strlen(key);
            if (n >= sizeof lower)
                continue;
            for (size_t i = 0; i <= n; i++)
                lower[i] = (char)tolower((unsigned char)key[i]);
            int known = 0;
            for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
                known |= !strcmp(lower, keys[i]);
            if (!known)
                continue;
            json_t *list = json_is_array(vals) ? json_incref(vals) : json_pack("[O]", vals);
            int fixed = json_array_size(list) > 0;
            size_t i;
            json_t *v;
            json_array_foreach(list, i, v) {
                const char *s = json_string_value(v);
                if (!s || strchr(s, '*') || strchr(s, '?') || (!strcmp(lower, "aws:sourceip") && cidr_broad(s)))
                    fixed = 0;
            }
            json_decref(list);
            if (fixed)
                return 1;
        }
    }
    return 0;
}

/* An Allow statement for everyone ("*", {"AWS": "*"}, or any NotPrincipal)
 * without a restricting Condition. */
static int policy_statement_public(const json_t *st)
{
    const char *effect = json_string_value(json_object_get(st, "Effect"));
    if (!effect || strcmp(effect, "Allow"))
        return 0;
    int everyone =
        twin__aws_principal_everyone(json_object_get(st, "Principal")) || json_object_get(st, "NotPrincipal");
    return everyone && !condition_restricts(json_object_get(st, "Condition"));
}

static int policy_public(const json_t *policy)
{
    json_t *sts = json_object_get(policy, "Statement");
    if (json_is_object(sts))
        return policy_statement_public(sts);
    size_t i;
    json_t *st;
    json_array_foreach(sts, i, st) if (policy_statement_public(st)) return 1;
    return 0;
}

static int grants_public(const json_t *grants)
{
    size_t i;
    json_t *g;
    json_array_foreach(grants, i, g) {
        const char *uri = json_string_value(json_object_get(json_object_get(g, "Grantee"), "URI"));
        if (uri && (!strcmp(uri, ALL_USERS_URI) || !strcmp(uri, AUTH_USERS_URI)))
            return 1;
    }
    return 0;
}

static int pab_flag(const json_t *doc, const char *flag)
{
    return in_true(json_object_get(doc, "PublicAccessBlock"), flag);
}

/* Public through its policy, its ACL, either (AWS's effective view: the
 * bucket's public access block applied). */
static int public_by_policy(const json_t *doc)
{
    return doc && policy_public(json_object_get(doc, "Policy")) && !pab_flag(doc, "RestrictPublicBuckets");
}

static int public_by_acl(const json_t *doc)
{
    return doc && grants_public(json_object_get(doc, "Grants")) && !pab_flag(doc, "IgnorePublicAcls");
}

static int bucket_public(const json_t *doc)
{
    return public_by_policy(doc) || public_by_acl(doc);
}

/* ---- ACLs ---- */

static json_t *owner_grant(const json_t *owner)
{
    json_t *grantee = json_pack("{s:s}", "Type", "CanonicalUser");
    if (json_object_get(owner, "DisplayName"))
        json_object_set(grantee, "DisplayName", json_object_get(owner, "DisplayName"));
    if (json_object_get(owner, "ID"))
        json_object_set(grantee, "ID", json_object_get(owner, "ID"));
    return json_pack("{s:o, s:s}", "Grantee", grantee, "Permission", "FULL_CONTROL");
}

static json_t *group_grant(const char *uri, const char *perm)
{
    return json_pack("{s:{s:s, s:s}, s:s}", "Grantee", "Type", "Group", "URI", uri, "Permission", perm);
}

/* A canned ACL's grants (new array), or NULL when the name is unknown. */
static json_t *canned_grants(const char *acl, const json_t *owner)
{
    json_t *g = json_array();
    json_array_append_new(g, owner_grant(owner));
    if (!strcmp(acl, "private") || !strcmp(acl, "bucket-owner-full-control") || !strcmp(acl, "bucket-owner-read"))
        return g;
    if (!strcmp(acl, "public-read")) {
        json_array_append_new(g, group_grant(ALL_USERS_URI, "READ"));
    } else if (!strcmp(acl, "public-read-write")) {
        json_array_append_new(g, group_grant(ALL_USERS_URI, "READ"));
        json_array_append_new(g, group_grant(ALL_USERS_URI, "WRITE"));
    } else if (!strcmp(acl, "authenticated-read")) {
        json_array_append_new(g, group_grant(AUTH_USERS_URI, "READ"));
    } else if (!strcmp(acl, "log-delivery-write")) {
        json_array_append_new(g, group_grant("http://acs.amazonaws.com/groups/s3/LogDelivery", "WRITE"));
        json_array_append_new(g, group_grant("http://acs.amazonaws.com/groups/s3/LogDelivery", "READ_ACP"));
    } else {
        json_decref(g);
        return NULL;
    }
    return g;
}

/* Adds the grants of one x-amz-grant-* header value ('uri="...", id="..."',
 * emailAddress too) to out; -1 when it does not parse. */
static int header_grants(const char *value, const char *perm, json_t *out)
{
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *eq = strchr(p, '=');
        if (!eq)
            return -1;
        char key[32];
        size_t kn = (size_t)(eq - p);
        while (kn && p[kn - 1] == ' ')
            kn--;
        if (kn == 0 || kn >= sizeof key)
            return -1;
        memcpy(key, p, kn);
        key[kn] = 0;
        p = eq + 1;
        while (*p == ' ')
            p++;
        const char *vstart, *vend;
        if (*p == '"') {
            vstart = ++p;
            vend = strchr(p, '"');
            if (!vend)
                return -1;
            p = vend + 1;
        } else {
            vstart = p;
            vend = p + strcspn(p, ",");
            p = vend;
        }
        char *v = twin_xasprintf("%.*s", (int)(vend - vstart), vstart);
        json_t *grantee;
        if (!strcasecmp(key, "uri"))
            grantee = json_pack("{s:s, s:s}", "Type", "Group", "URI", v);
        else if (!strcasecmp(key, "id"))
            grantee = json_pack("{s:s, s:s}", "Type", "CanonicalUser", "ID", v);
        else if (!strcasecmp(key, "emailAddress"))
            grantee = json_pack("{s:s, s:s}", "Type", "AmazonCustomerByEmail", "EmailAddress", v);
        else
            grantee = NULL;
        free(v);
        if (!grantee)
            return -1;
        json_array_append_new(out, json_pack("{s:o, s:s}", "Grantee", grantee, "Permission", perm));
    }
    return 0;
}

/* The grants a call asks for: a canned ACL ("ACL"), an AccessControlPolicy
 * (allow_policy), or the Grant* headers.  0 with *out (new array; NULL when
 * the call asks for none), or an AWS error set on c (returns -1). */
static int requested_grants(aws_ctx *c, const json_t *owner, int allow_policy, json_t **out)
{
    static const char *const hdr[][2] = {{"GrantRead", "READ"},
                                         {"GrantWrite", "WRITE"},
                                         {"GrantReadACP", "READ_ACP"},
                                         {"GrantWriteACP", "WRITE_ACP"},
                                         {"GrantFullControl", "FULL_CONTROL"}};
    const char *acl = twin__aws_input_str(c, "ACL");
    const json_t *acp = allow_policy ? json_object_get(c->input, "AccessControlPolicy") : NULL;
    int headers = 0;
    for (size_t i = 0; i < sizeof hdr / sizeof *hdr; i++)
        headers |= twin__aws_input_str(c, hdr[i][0]) != NULL;
    if ((acl != NULL) + (acp != NULL) + (headers != 0) > 1) {
        twin__aws_error(c, 400, "InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed");
        return -1;
    }
    *out = NULL;
    if (acl) {
        *out = canned_grants(acl, owner);
        if (!*out) {
            twin__aws_error(c, 400, "InvalidArgument", "Invalid canned ACL: %s", acl);
            return -1;
        }
    } else if (acp) {
        json_t *grants = json_object_get(acp, "Grants");
        if (!json_is_object(acp) || (grants && !json_is_array(grants))) {
            twin__aws_error(c, 400, "MalformedACLError",
                            "The XML you provided was not well-formed or did not validate against our published schema");
            return -1;
        }
        *out = grants ? json_deep_copy(grants) : json_array();
    } else if (headers) {
        *out = json_array();
        for (size_t i = 0; i < sizeof hdr / sizeof *hdr; i++) {
            const char *v = twin__aws_input_str(c, hdr[i][0]);
            if (v && header_grants(v, hdr[i][1], *out) != 0) {
                json_decref(*out);
                *out = NULL;
                twin__aws_error(c, 400, "InvalidArgument", "Invalid %s header: %s", hdr[i][0], v);
                return -1;
            }
        }
    }
    return 0;
}

/* ---- handlers ---- */

static json_t *bucket_entry(const json_t *doc)
{
    json_t *e = json_object();
    json_object_set(e, "Name", json_object_get(doc, "Name"));
    if (json_object_get(doc, "CreationDate"))
        json_object_set(e, "CreationDate", json_object_get(doc, "CreationDate"));
    return e;
}

static int s3_list_buckets(aws_ctx *c)
{
    json_t *all = twin__aws_list(c->t, S3_KIND), *buckets = json_array(), *owner = NULL;
    size_t i;
    json_t *obj;
    json_array_foreach(all, i, obj) {
        const json_t *doc = twin__aws_doc(obj);
        json_array_append_new(buckets, bucket_entry(doc));
        if (!owner && json_is_object(json_object_get(doc, "Owner")))
            owner = json_deep_copy(json_object_get(doc, "Owner"));
    }
    json_decref(all);
    c->output = json_pack("{s:o, s:o}", "Buckets", buckets, "Owner", owner ? owner : default_owner(c->t));
    return 0;
}

static int s3_head_bucket(aws_ctx *c)
{
    const char *name;
    json_t *doc = need_bucket(c, &name);
    if (!doc)
        return 0;
    return twin__aws_done(c, S3_KIND, name, doc, 0);
}

static int valid_bucket_name(const char *n)
{
    size_t len = strlen(n);
    if (len < 3 || len > 63 || !isalnum((unsigned char)n[0]) || !isalnum((unsigned char)n[len - 1]))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!(islower((unsigned char)n[i]) || isdigit((unsigned char)n[i]) || n[i] == '-' || n[i] == '.'))
            return 0;
    return strstr(n, "..") == NULL;
}

/* A bucket made now gets, as AWS gives every new bucket since April 2023,
 * a public access block with all four settings on. */
static int s3_create_bucket(aws_ctx *c)
{
    const char *name = twin__aws_input_str(c, "Bucket");
    if (!name || !*name)
        return twin__aws_error(c, 400, "InvalidRequest", "Missing required parameter: Bucket");
    if (!valid_bucket_name(name))
        return twin__aws_error(c, 400, "InvalidBucketName", "The specified bucket is not valid.");
    json_t *old = twin__aws_get(c->t, S3_KIND, name);
    if (old) {
        json_decref(old);
        return twin__aws_error(c, 409, "BucketAlreadyOwnedByYou",
                               "Your previous request to create the named bucket succeeded and you already own it.");
    }
    json_t *owner = default_owner(c->t), *grants = NULL;
    if (requested_grants(c, owner, 0, &grants) != 0) {
        json_decref(owner);
        return 0;
    }
    if (!grants)
        grants = canned_grants("private", owner);
    if (grants_public(grants)) {
        json_decref(owner);
        json_decref(grants);
        return twin__aws_error(c, 403, "AccessDenied", "Access Denied");
    }
    char *now = twin__timestamp(c->t);
    json_t *doc = json_pack("{s:s, s:s, s:o, s:o, s:{s:b, s:b, s:b, s:b}, s:[], s:i}", "Name", name, "CreationDate",
                            now, "Grants", grants, "Owner", owner, "PublicAccessBlock", "BlockPublicAcls", 1,
                            "IgnorePublicAcls", 1, "BlockPublicPolicy", 1, "RestrictPublicBuckets", 1, "Tags",
                            "ObjectCount", 0);
    free(now);
    const char *loc = json_string_value(json_object_get(json_object_get(c->input, "CreateBucketConfiguration"),
                                                        "LocationConstraint"));
    if (loc && *loc)
        json_object_set_new(doc, "LocationConstraint", json_string(loc));
    twin__aws_put(c->t, S3_KIND, name, doc);
    json_decref(doc);
    char *where = twin_xasprintf("/%s", name);
    c->output = json_pack("{s:s}", "Location", where);
    free(where);
    return 0;
}

static int s3_delete_bucket(aws_ctx *c)
{
    const char *name;
    json_t *doc = need_bucket(c, &name);
    if (!doc)
        return 0;
    long objects = (long)json_integer_value(json_object_get(doc, "ObjectCount"));
    json_decref(doc);
    if (objects > 0)
        return twin__aws_error(c, 409, "BucketNotEmpty", "The bucket you tried to delete is not empty");
    twin__aws_del(c->t, S3_KIND, name);
    c->output = json_object();
    return 0;
}

static int s3_get_bucket_location(aws_ctx *c)
{
    const char *name;
    json_t *doc = need_bucket(c, &name);
    if (!doc)
        return 0;
    json_t *loc = json_object_get(doc, "LocationConstraint");
    c->output = json_pack("{s:O}", "LocationConstraint", loc ? loc : json_null());
    json_decref(doc);
    return 0;
}

#define NO_POLICY "NoSuchBucketPolicy", "The bucket policy does not exist"

static int s3_get_bucket_policy(aws_ctx *c)
{
    json_t *doc, *policy = need_member(c, "Policy", NO_POLICY, &doc);
    if (!policy)
        return 0;
    char *text = twin_xdumps(policy, JSON_COMPACT);
    c->output = json_pack("{s:s}", "Policy", text);
    free(text);
    json_decref(doc);
    return 0;
}

/* An S3 ARN whose bucket part holds a wildcard (it may name this bucket). */
static int bucket_wildcard(const char *s)
{
    if (strncmp(s, "arn:aws:s3:::", 13))
        return 0;
    size_t n = strcspn(s + 13, "/");
    for (size_t i = 0; i < n; i++)
        if (s[13 + i] == '*' || s[13 + i] == '?')
            return 1;
    return 0;
}

/* Checks a bucket policy as S3 does before storing it: a Statement, each
 * with Effect, a Principal and resources within this bucket.  NULL when
 * valid, else the message of the MalformedPolicy error. */
static const char *policy_problem(const json_t *policy, const char *bucket)
{
    json_t *sts = json_object_get(policy, "Statement");
    if (!sts)
        return "Missing required field Statement";
    json_t *list = json_is_array(sts) ? json_incref(sts) : json_pack("[O]", sts);
    const char *problem = json_array_size(list) ? NULL : "Missing required field Statement";
    size_t i;
    json_t *st;
    char *arn = twin_xasprintf("arn:aws:s3:::%s", bucket);
    size_t alen = strlen(arn);
    json_array_foreach(list, i, st) {
        const char *effect = json_string_value(json_object_get(st, "Effect"));
        if (!json_is_object(st))
            problem = "Statement is not an object";
        else if (!effect || (strcmp(effect, "Allow") && strcmp(effect, "Deny")))
            problem = "Invalid effect";
        else if (!json_object_get(st, "Principal") && !json_object_get(st, "NotPrincipal"))
            problem = "Missing required field Principal";
        else if (!json_object_get(st, "Action") && !json_object_get(st, "NotAction"))
            problem = "Missing required field Action";
        else if (!json_object_get(st, "Resource") && !json_object_get(st, "NotResource"))
            problem = "Missing required field Resource";
        if (problem)
            break;
        json_t *res = json_object_get(st, "Resource");
        if (!res)
            res = json_object_get(st, "NotResource");
        json_t *rl = json_is_array(res) ? json_incref(res) : json_pack("[O]", res);
        size_t k;
        json_t *r;
        json_array_foreach(rl, k, r) {
            const char *s = json_string_value(r);
            /* a resource must lie within this bucket: its ARN, or a key
             * below it (a wildcard in the bucket part is let through) */
            if (!s)
                problem = "Policy has invalid resource";
            else if ((strncmp(s, arn, alen) || (s[alen] && s[alen] != '/')) && !bucket_wildcard(s))
                problem = "Policy has invalid resource";
        }
        json_decref(rl);
        if (problem)
            break;
    }
    free(arn);
    json_decref(list);
    return problem;
}

static int s3_put_bucket_policy(aws_ctx *c)
{
    const char *name;
    json_t *doc = need_bucket(c, &name);
    if (!doc)
        return 0;
    const json_t *in = json_object_get(c->input, "Policy");
    json_t *policy = NULL;
    if (json_is_string(in)) {
        const char *text = json_string_value(in);
        while (isspace((unsigned char)*text))
            text++;
        if (*text == '{')
            policy = json_loads(text, 0, NULL);
    } else if (json_is_object(in)) {
        policy = json_deep_copy(in);   /* the CLI's file:// already parsed */
    }
    if (!json_is_object(policy)) {
        json_decref(policy);
        return bucket_error(c, doc, 400, "MalformedPolicy",
                            "Policies must be valid JSON and the first byte must be '{'");
    }
    const char *problem = policy_problem(policy, name);
    if (problem) {
        twin__aws_error(c, 400, "MalformedPolicy", "%s", problem);
        json_decref(policy);
        json_decref(doc);
        return 0;
    }
    if (policy_public(policy) && pab_flag(doc, "BlockPublicPolicy")) {
        json_decref(policy);
        return bucket_error(c, doc, 403, "AccessDenied", "Access Denied");
    }
    json_object_set_new(doc, "Policy", policy);
    return twin__aws_done(c, S3_KIND, name, doc, 1);
}

static int s3_delete_bucket_policy(aws_ctx *c) { return remove_member(c, "Policy"); }

/* IsPublic is the policy's own status, as S3 reports it: what the policy
 * grants, before the bucket's public access block and whatever the ACL
 * grants. */
static int s3_get_bucket_policy_status(aws_ctx *c)
{
    json_t *doc, *policy = need_member(c, "Policy", NO_POLICY, &doc);
    if (!policy)
        return 0;
    c->output = json_pack("{s:{s:b}}", "PolicyStatus", "IsPublic", policy_public(policy));
    json_decref(doc);
    return 0;
}

static int s3_get_bucket_acl(aws_ctx *c)
{
    const char *name;
    json_t *doc = need_bucket(c, &name);
    if (!doc)
        return 0;
    json_t *owner = json_object_get(doc, "Owner"), *grants = json_object_get(doc, "Grants");
    c->output = json_pack("{s:o, s:o}", "Owner", owner ? json_incref(owner) : default_owner(c->t), "Grants",
                          grants ? json_incref(grants) : json_array());
    json_decref(doc);
    return 0;
}

static int s3_put_bucket_acl(aws_ctx *c)
{
    const char *name;
    json_t *doc = need_bucket(c, &name);
    if (!doc)
        return 0;
    json_t *owner = json_object_get(doc, "Owner");
    json_t *def = owner ? NULL : default_owner(c->t), *grants = NULL;
    int rc = requested_grants(c, owner ? owner : def, 1, &grants);
    json_decref(def);
    if (rc != 0) {
        json_decref(doc);
        return 0;
    }
    if (!grants)
        return bucket_error(c, doc, 400, "MissingSecurityHeader", "Your request was missing a required header");
    if (grants_public(grants) && pab_flag(doc, "BlockPublicAcls")) {
        json_decref(grants);
        return bucket_error(c, doc, 403, "AccessDenied", "Access Denied");
    }
    json_object_set_new(doc, "Grants", grants);
    const json_t *acp_owner = json_object_get(json_object_get(c->input, "AccessControlPolicy"), "Owner");
    if (json_is_object(acp_owner) && !owner)
        json_object_set(doc, "Owner", (json_t *)acp_owner);
    return twin__aws_done(c, S3_KIND, name, doc, 1);
}

static int s3_get_public_access_block(aws_ctx *c)
{
    json_t *doc, *pab = need_member(c, "PublicAccessBlock", "NoSuchPublicAccessBlockConfiguration",
                                    "The public access block configuration was not found", &doc);
    if (!pab)
        return 0;
    c->output = json_pack("{s:O}", "PublicAccessBlockConfiguration", pab);
    json_decref(doc);
    return 0;
}

static json_t *pab_of(const json_t *in)
{
    return json_pack("{s:b, s:b, s:b, s:b}", "BlockPublicAcls", in_true(in, "BlockPublicAcls"), "IgnorePublicAcls",
                     in_true(in, "IgnorePublicAcls"), "BlockPublicPolicy", in_true(in, "BlockPublicPolicy"),
                     "RestrictPublicBuckets", in_true(in, "RestrictPublicBuckets"));
}

static int s3_put_public_access_block(aws_ctx *c)
{
    const char *name;
    json_t *doc = need_bucket(c, &name);
    if (!doc)
        return 0;
    const json_t *in = json_object_get(c->input, "PublicAccessBlockConfiguration");
    if (!json_is_object(in))
        return bucket_error(c, doc, 400, "InvalidRequest",
                            "Missing required parameter: PublicAccessBlockConfiguration");
    json_object_set_new(doc, "PublicAccessBlock", pab_of(in));
    return twin__aws_done(c, S3_KIND, name, doc, 1);
}

static int s3_delete_public_access_block(aws_ctx *c) { return remove_member(c, "PublicAccessBlock"); }

static int s3_get_bucket_tagging(aws_ctx *c)
{
    const char *name;
    json_t *doc = need_bucket(c, &name);
    if (!doc)
        return 0;
    json_t *tags = json_object_get(doc, "Tags");
    if (!json_array_size(tags))
        return bucket_error(c, doc, 404, "NoSuchTagSet", "The TagSet does not exist");
    c->output = json_pack("{s:O}", "TagSet", tags);
    json_decref(doc);
    return 0;
}

static int s3_put_bucket_tagging(aws_ctx *c)
{
    const char *name;
    json_t *doc = need_bucket(c, &name);
    if (!doc)
        return 0;
    json_t *set = json_object_get(json_object_get(c->input, "Tagging"), "TagSet");
    if (!json_is_array(set))
        return bucket_error(c, doc, 400, "MalformedXML", "The XML you provided was not well-formed");
    json_t *tags = json_array();
    size_t i, k;
    json_t *tag, *prev;
    json_array_foreach(set, i, tag) {
        const char *key = json_string_value(json_object_get(tag, "Key"));
        const char *val = json_string_value(json_object_get(tag, "Value"));
        int dup = 0;
        json_array_foreach(tags, k, prev) dup |= key && !strcmp(key, json_string_value(json_object_get(prev, "Key")));
        if (!key || !val || dup || strlen(key) > 128 || strlen(val) > 256) {
            json_decref(tags);
            json_decref(doc);
            return twin__aws_error(c, 400, "InvalidTag", dup ? "Cannot provide multiple Tags with the same key"
                                                             : "The TagKey or TagValue you have provided is invalid");
        }
        json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", key, "Value", val));
    }
    json_object_set_new(doc, "Tags", tags);
    return twin__aws_done(c, S3_KIND, name, doc, 1);
}

static int s3_delete_bucket_tagging(aws_ctx *c)
{
    const char *name;
    json_t *doc = need_bucket(c, &name);
    if (!doc)
        return 0;
    int had = json_array_size(json_object_get(doc, "Tags")) > 0;
    if (had)
        json_object_set_new(doc, "Tags", json_array());
    return twin__aws_done(c, S3_KIND, name, doc, had);
}

/* The twin holds a count, not the objects: a listing is an empty page. */
static int s3_list_objects(aws_ctx *c)
{
    const char *name;
    json_t *doc = need_bucket(c, &name);
    if (!doc)
        return 0;
    json_decref(doc);
    json_t *max = json_object_get(c->input, "MaxKeys");
    c->output = json_pack("{s:s, s:s, s:I, s:b}", "Name", name, "Prefix",
                          twin__aws_input_str(c, "Prefix") ? twin__aws_input_str(c, "Prefix") : "", "MaxKeys",
                          json_is_integer(max) ? json_integer_value(max) : (json_int_t)1000, "IsTruncated", 0);
    if (!strcmp(c->operation, "ListObjectsV2"))
        json_object_set_new(c->output, "KeyCount", json_integer(0));
    else
        json_object_set_new(c->output, "Marker",
                            json_string(twin__aws_input_str(c, "Marker") ? twin__aws_input_str(c, "Marker") : ""));
    return 0;
}

static int s3_get_object(aws_ctx *c)
{
    const char *name;
    json_t *doc = need_bucket(c, &name);
    if (!doc)
        return 0;
    json_decref(doc);
    return twin__aws_error(c, 404, "NoSuchKey", "The specified key does not exist.");
}

static int s3_put_object(aws_ctx *c)
{
    const char *name;
    json_t *doc = need_bucket(c, &name);
    if (!doc)
        return 0;
    if (!twin__aws_input_str(c, "Key") || !*twin__aws_input_str(c, "Key"))
        return bucket_error(c, doc, 400, "InvalidRequest", "Missing required parameter: Key");
    json_t *grants = NULL;
    if (requested_grants(c, json_object_get(doc, "Owner"), 0, &grants) != 0) {
        json_decref(doc);
        return 0;
    }
    int refused = grants && grants_public(grants) && pab_flag(doc, "BlockPublicAcls");
    json_decref(grants);
    if (refused)
        return bucket_error(c, doc, 403, "AccessDenied", "Access Denied");
    json_int_t n = json_integer_value(json_object_get(doc, "ObjectCount"));
    json_object_set_new(doc, "ObjectCount", json_integer(n + 1));
    twin__aws_put(c->t, S3_KIND, name, doc);
    json_decref(doc);
    uint64_t a = twin__rand(c->t), b = twin__rand(c->t);
    char etag[40];
    snprintf(etag, sizeof etag, "\"%016llx%016llx\"", (unsigned long long)a, (unsigned long long)b);
    c->output = json_pack("{s:s}", "ETag", etag);
    return 0;
}

static int s3_delete_object(aws_ctx *c)
{
    const char *name;
    json_t *doc = need_bucket(c, &name);
    if (!doc)
        return 0;
    if (!twin__aws_input_str(c, "Key") || !*twin__aws_input_str(c, "Key"))
        return bucket_error(c, doc, 400, "InvalidRequest", "Missing required parameter: Key");
    json_int_t n = json_integer_value(json_object_get(doc, "ObjectCount"));
    if (n > 0)
        json_object_set_new(doc, "ObjectCount", json_integer(n - 1));
    return twin__aws_done(c, S3_KIND, name, doc, n > 0);
}

const aws_op twin__aws_s3_ops[] = {
    {"s3", "ListBuckets", 1, s3_list_buckets},
    {"s3", "HeadBucket", 1, s3_head_bucket},
    {"s3", "CreateBucket", 0, s3_create_bucket},
    {"s3", "DeleteBucket", 0, s3_delete_bucket},
    {"s3", "GetBucketLocation", 1, s3_get_bucket_location},
    {"s3", "GetBucketPolicy", 1, s3_get_bucket_policy},
    {"s3", "PutBucketPolicy", 0, s3_put_bucket_policy},
    {"s3", "DeleteBucketPolicy", 0, s3_delete_bucket_policy},
    {"s3", "GetBucketPolicyStatus", 1, s3_get_bucket_policy_status},
    {"s3", "GetBucketAcl", 1, s3_get_bucket_acl},
    {"s3", "PutBucketAcl", 0, s3_put_bucket_acl},
    {"s3", "GetPublicAccessBlock", 1, s3_get_public_access_block},
    {"s3", "PutPublicAccessBlock", 0, s3_put_public_access_block},
    {"s3", "DeletePublicAccessBlock", 0, s3_delete_public_access_block},
    {"s3", "GetBucketTagging", 1, s3_get_bucket_tagging},
    {"s3", "PutBucketTagging", 0, s3_put_bucket_tagging},
    {"s3", "DeleteBucketTagging", 0, s3_delete_bucket_tagging},
    {"s3", "ListObjectsV2", 1, s3_list_objects},
    {"s3", "ListObjects", 1, s3_list_objects},
    {"s3", "GetObject", 1, s3_get_object},
    {"s3", "HeadObject", 1, s3_get_object},
    {"s3", "PutObject", 0, s3_put_object},
    {"s3", "DeleteObject", 0, s3_delete_object},
    {NULL, NULL, 0, NULL},
};

/* ---- impact ---- */

static json_t *impact_key(json_t *impact, const char *key, json_t *(*make)(void))
{
    json_t *v = json_object_get(impact, key);
    if (!v) {
        v = make();
        json_object_set_new(impact, key, v);
    }
    return v;
}

static json_t *make_public_record(void)
{
    return json_pack("{s:[], s:[]}", "made_public", "made_private");
}

/* What turned a bucket public (from, to: the documents on either side). */
static const char *public_how(const json_t *from, const json_t *to)
{
    if (public_by_policy(to))
        return from && policy_public(json_object_get(from, "Policy")) ? "public-access-block" : "policy";
    return from && grants_public(json_object_get(from, "Grants")) ? "public-access-block" : "acl";
}

static json_t *public_entry(const char *name, const char *how, const json_t *doc)
{
    return json_pack("{s:s, s:s, s:b, s:b}", "bucket", name, "how", how, "critical", twin__aws_critical(doc),
                     "restricted", twin__aws_restricted(doc));
}

/* buckets_public: a bucket public after and not before (made_public), or the
 * reverse (made_private; a deleted bucket is in data_at_risk, not here);
 * data_at_risk: every bucket deleted, with its count of objects. */
void twin__aws_s3_impact(twin *t, json_t *impact)
{
    json_t *rec = impact_key(impact, "buckets_public", make_public_record);
    json_t *risk = impact_key(impact, "data_at_risk", json_array);
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *ch = e->value;
        if (strcmp(ch->kind, S3_KIND))
            continue;
        const json_t *before = ch->before ? twin__aws_doc(ch->before) : NULL;
        const json_t *after = ch->after ? twin__aws_doc(ch->after) : NULL;
        if (before && !after) {
            json_array_append_new(risk, json_pack("{s:s, s:s, s:b, s:I}", "type", "bucket", "id", ch->name,
                                                  "critical", twin__aws_critical(before), "objects",
                                                  json_integer_value(json_object_get(before, "ObjectCount"))));
            continue;
        }
        int was = bucket_public(before), is = bucket_public(after);
        if (!was && is)
            json_array_append_new(json_object_get(rec, "made_public"),
                                  public_entry(ch->name, public_how(before, after), after));
        else if (was && !is)
            json_array_append_new(json_object_get(rec, "made_private"),
                                  public_entry(ch->name, public_how(after, before), after));
    }
}

/* ---- import and export ---- */

/* A bucket of an import: the AWSState shape, or list-buckets' (Name and
 * CreationDate; Owner from the document).  Policy may be text (as
 * get-bucket-policy prints it) or an object. */
static int import_bucket(twin *t, const json_t *item, const json_t *owner, size_t idx, char *err, size_t errlen)
{
    const char *name = json_string_value(json_object_get(item, "Name"));
    if (!json_is_object(item) || !name || !*name) {
        snprintf(err, errlen, "Buckets[%zu]: no Name", idx);
        return -1;
    }
    json_t *doc = json_deep_copy(item);
    json_t *policy = json_object_get(doc, "Policy");
    if (json_is_string(policy)) {
        json_t *parsed = json_loads(json_string_value(policy), 0, NULL);
        if (!json_is_object(parsed)) {
            json_decref(parsed);
            json_decref(doc);
            snprintf(err, errlen, "Buckets[%zu] (%s): Policy is not a JSON object", idx, name);
            return -1;
        }
        json_object_set_new(doc, "Policy", parsed);
    } else if (json_is_null(policy)) {
        json_object_del(doc, "Policy");
    } else if (policy && !json_is_object(policy)) {
        json_decref(doc);
        snprintf(err, errlen, "Buckets[%zu] (%s): Policy is not a JSON object", idx, name);
        return -1;
    }
    json_t *pab = json_object_get(doc, "PublicAccessBlock");
    if (json_is_object(pab) && json_object_get(pab, "PublicAccessBlockConfiguration"))
        pab = json_object_get(pab, "PublicAccessBlockConfiguration");   /* get-public-access-block's output */
    if (json_is_object(pab))
        json_object_set_new(doc, "PublicAccessBlock", pab_of(pab));
    else
        json_object_del(doc, "PublicAccessBlock");
    if (!json_is_object(json_object_get(doc, "Owner")))
        json_object_set_new(doc, "Owner", json_is_object(owner) ? json_deep_copy(owner) : default_owner(t));
    if (!json_is_array(json_object_get(doc, "Grants")))
        json_object_set_new(doc, "Grants", canned_grants("private", json_object_get(doc, "Owner")));
    json_t *tags = json_object_get(doc, "Tags");
    if (!json_is_array(tags)) {
        json_t *set = json_object_get(doc, "TagSet");
        json_object_set_new(doc, "Tags", json_is_array(set) ? json_deep_copy(set) : json_array());
        json_object_del(doc, "TagSet");
    }
    if (!json_is_integer(json_object_get(doc, "ObjectCount")))
        json_object_set_new(doc, "ObjectCount", json_integer(0));
    twin__aws_put(t, S3_KIND, name, doc);
    json_decref(doc);
    return 0;
}

int twin__aws_s3_import(twin *t, const json_t *doc, char *err, size_t errlen)
{
    json_t *buckets = json_object_get(doc, "Buckets");
    if (!buckets)
        return 0;
    if (!json_is_array(buckets)) {
        snprintf(err, errlen, "Buckets: not an array");
        return -1;
    }
    const json_t *owner = json_object_get(doc, "Owner");
    size_t i;
    json_t *item;
    json_array_foreach(buckets, i, item) {
        if (import_bucket(t, item, owner, i, err, errlen) != 0)
            return -1;
    }
    return (int)json_array_size(buckets);
}

void twin__aws_s3_export(twin *t, json_t *state)
{
    json_t *all = twin__aws_list(t, S3_KIND), *out = json_array();
    size_t i;
    json_t *obj;
    json_array_foreach(all, i, obj) json_array_append_new(out, json_deep_copy(twin__aws_doc(obj)));
    json_decref(all);
    json_object_set_new(state, "Buckets", out);
}
