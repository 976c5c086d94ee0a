/*
 * test_twin_aws_data.c - the data services of the AWS twin: S3 buckets
 * (twin/aws_s3.c), IAM (twin/aws_iam.c) and RDS (twin/aws_rds.c), held to
 * how AWS documents them, through twin_aws_apply / twin_aws_read with
 * botocore-shaped input, on the demo account of
 * fixtures/demo/61-aws-data.json.  The IAM evaluator is reached through
 * its internal header (twin/aws_int.h).
 */
#include "twin_testlib.h"

#include "twin/aws.h"
#include "twin/aws_int.h"

#define FIXTURE "fixtures/demo/61-aws-data.json"

static twin *data_twin(void)
{
    twin *t = tt_open();
    char err[1024] = "";
    if (twin_import_path(t, FIXTURE, err, sizeof err) != 0)
        fail_msg("import %s: %s", FIXTURE, err);
    return t;
}

/* Applies one call (input stolen); the twin is then in an operation. */
static twin_result call(twin *t, const char *service, const char *op, json_t *input)
{
    twin_aws_call c = {.service = service, .operation = op, .input = input};
    twin_result res;
    char err[1024] = "";
    if (twin_aws_apply(t, &c, &res, err, sizeof err) != 0)
        fail_msg("%s:%s: %s", service, op, err);
    json_decref(input);
    assert_true(twin_in_operation(t));
    return res;
}

/* Applies, checks the status (and the error code when not 200), commits. */
static void call_ok(twin *t, const char *service, const char *op, json_t *input, int code, const char *error)
{
    twin_result res = call(t, service, op, input);
    if (res.code != code)
        tt_dump("answer", res.object);
    assert_int_equal(res.code, code);
    if (error)
        assert_string_equal(tt_str(res.object, "Code"), error);
    twin_result_free(&res);
    assert_int_equal(twin_commit(t), 0);
}

/* A read (input stolen): the output, with *code. */
static json_t *readc(twin *t, const char *service, const char *op, json_t *input, int *code)
{
    twin_aws_call c = {.service = service, .operation = op, .input = input};
    json_t *out = NULL;
    char err[1024] = "";
    if (twin_aws_read(t, &c, &out, code, err, sizeof err) != 0)
        fail_msg("%s:%s: %s", service, op, err);
    json_decref(input);
    return out;
}

static const char *PUBLIC_POLICY = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                                   "\"Principal\":\"*\",\"Action\":\"s3:GetObject\",\"Resource\":"
                                   "\"arn:aws:s3:::%s/*\"}]}";

static json_t *put_policy_input(const char *bucket, const char *fmt)
{
    char policy[512];
    snprintf(policy, sizeof policy, fmt, bucket);
    return json_pack("{s:s, s:s}", "Bucket", bucket, "Policy", policy);
}

static const json_t *made(const twin_result *res, const char *which)
{
    return json_object_get(tt_path(res->impact, "buckets_public"), which);
}

/* ---- S3 ---- */

static void test_s3_delete_bucket_rules(void **state)
{
    (void)state;
    twin *t = data_twin();
    /* a bucket holding objects is not deleted */
    twin_result res = call(t, "s3", "DeleteBucket", tj("{'Bucket':'shop-assets'}"));
    assert_int_equal(res.code, 409);
    assert_string_equal(tt_str(res.object, "Code"), "BucketNotEmpty");
    assert_string_equal(tt_str(res.object, "Message"), "The bucket you tried to delete is not empty");
    assert_int_equal(json_array_size(res.diff), 0);
    twin_result_free(&res);
    twin_rollback(t);
    call_ok(t, "s3", "DeleteBucket", tj("{'Bucket':'no-such-bucket'}"), 404, "NoSuchBucket");
    /* an empty one is, and its loss is data at risk */
    res = call(t, "s3", "DeleteBucket", tj("{'Bucket':'scratch-tmp'}"));
    assert_int_equal(res.code, 200);
    assert_true(tt_has(tt_path(res.impact, "data_at_risk"), "type", "bucket", "id", "scratch-tmp", NULL));
    assert_int_equal(tt_int(res.impact, "data_at_risk.0.objects"), 0);
    twin_result_free(&res);
    assert_int_equal(twin_commit(t), 0);
    int code;
    json_t *out = readc(t, "s3", "HeadBucket", tj("{'Bucket':'scratch-tmp'}"), &code);
    assert_int_equal(code, 404);
    json_decref(out);
    twin_close(t);
}

static void test_s3_missing_configuration_errors(void **state)
{
    (void)state;
    twin *t = data_twin();
    int code;
    json_t *out = readc(t, "s3", "GetBucketPolicy", tj("{'Bucket':'scratch-tmp'}"), &code);
    assert_int_equal(code, 404);
    assert_string_equal(tt_str(out, "Code"), "NoSuchBucketPolicy");
    json_decref(out);
    out = readc(t, "s3", "GetPublicAccessBlock", tj("{'Bucket':'scratch-tmp'}"), &code);
    assert_int_equal(code, 404);
    assert_string_equal(tt_str(out, "Code"), "NoSuchPublicAccessBlockConfiguration");
    json_decref(out);
    /* the policy comes back as JSON text */
    out = readc(t, "s3", "GetBucketPolicy", tj("{'Bucket':'shop-assets'}"), &code);
    assert_int_equal(code, 200);
    json_t *policy = json_loads(tt_str(out, "Policy"), 0, NULL);
    assert_non_null(policy);
    assert_string_equal(tt_str(policy, "Statement.0.Principal"), "*");
    json_decref(policy);
    json_decref(out);
    out = readc(t, "s3", "GetBucketPolicyStatus", tj("{'Bucket':'shop-assets'}"), &code);
    assert_true(json_is_true(tt_path(out, "PolicyStatus.IsPublic")));
    json_decref(out);
    out = readc(t, "s3", "ListBuckets", NULL, &code);
    assert_int_equal(json_array_size(tt_path(out, "Buckets")), 4);
    json_decref(out);
    twin_close(t);
}

static void test_s3_public_policy_made_public(void **state)
{
    (void)state;
    twin *t = data_twin();
    twin_result res = call(t, "s3", "PutBucketPolicy", put_policy_input("scratch-tmp", PUBLIC_POLICY));
    assert_int_equal(res.code, 200);
    assert_true(tt_has(made(&res, "made_public"), "bucket", "scratch-tmp", "how", "policy", NULL));
    twin_result_free(&res);
    twin_rollback(t);
    /* a policy confined to one account by aws:SourceAccount is not public */
    const char *confined = "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},\"Action\":"
                           "\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::%s/*\",\"Condition\":{\"StringEquals\":"
                           "{\"aws:SourceAccount\":\"111122223333\"}}}]}";
    res = call(t, "s3", "PutBucketPolicy", put_policy_input("scratch-tmp", confined));
    assert_int_equal(res.code, 200);
    assert_int_equal(json_array_size(made(&res, "made_public")), 0);
    twin_result_free(&res);
    twin_rollback(t);
    /* malformed text, and a resource of another bucket */
    call_ok(t, "s3", "PutBucketPolicy", tj("{'Bucket':'scratch-tmp','Policy':'not json'}"), 400, "MalformedPolicy");
    call_ok(t, "s3", "PutBucketPolicy", put_policy_input("scratch-tmp", "{\"Statement\":[{\"Effect\":\"Allow\","
                                                         "\"Principal\":\"*\",\"Action\":\"s3:GetObject\","
                                                         "\"Resource\":\"arn:aws:s3:::other/*\"}]}%.0s"),
            400, "MalformedPolicy");
    twin_close(t);
}

static void test_s3_block_public_policy_refuses(void **state)
{
    (void)state;
    twin *t = data_twin();
    twin_result res = call(t, "s3", "PutBucketPolicy", put_policy_input("customer-exports", PUBLIC_POLICY));
    assert_int_equal(res.code, 403);
    assert_string_equal(tt_str(res.object, "Code"), "AccessDenied");
    assert_int_equal(json_array_size(res.diff), 0);
    twin_result_free(&res);
    twin_rollback(t);
    /* and BlockPublicAcls refuses a public ACL */
    call_ok(t, "s3", "PutBucketAcl", tj("{'Bucket':'customer-exports','ACL':'public-read'}"), 403, "AccessDenied");
    twin_close(t);
}

static void test_s3_public_acl_made_public(void **state)
{
    (void)state;
    twin *t = data_twin();
    twin_result res = call(t, "s3", "PutBucketAcl", tj("{'Bucket':'scratch-tmp','ACL':'public-read'}"));
    assert_int_equal(res.code, 200);
    assert_true(tt_has(made(&res, "made_public"), "bucket", "scratch-tmp", "how", "acl", NULL));
    twin_result_free(&res);
    twin_rollback(t);
    /* the header form of the same grant */
    res = call(t, "s3", "PutBucketAcl",
               tj("{'Bucket':'scratch-tmp','GrantRead':'uri=\\'http://acs.amazonaws.com/groups/global/AllUsers\\''}"));
    assert_int_equal(res.code, 200);
    assert_true(tt_has(made(&res, "made_public"), "bucket", "scratch-tmp", "how", "acl", NULL));
    twin_result_free(&res);
    assert_int_equal(twin_commit(t), 0);
    int code;
    json_t *acl = readc(t, "s3", "GetBucketAcl", tj("{'Bucket':'scratch-tmp'}"), &code);
    assert_string_equal(tt_str(acl, "Grants.0.Grantee.URI"), "http://acs.amazonaws.com/groups/global/AllUsers");
    assert_string_equal(tt_str(acl, "Grants.0.Permission"), "READ");
    json_decref(acl);
    /* private again */
    res = call(t, "s3", "PutBucketAcl", tj("{'Bucket':'scratch-tmp','ACL':'private'}"));
    assert_true(tt_has(made(&res, "made_private"), "bucket", "scratch-tmp", "how", "acl", NULL));
    twin_result_free(&res);
    twin_rollback(t);
    twin_close(t);
}

static void test_s3_public_access_block_removed(void **state)
{
    (void)state;
    twin *t = data_twin();
    call_ok(t, "s3", "PutBucketPolicy", put_policy_input("scratch-tmp", PUBLIC_POLICY), 200, NULL);
    twin_result res = call(t, "s3", "PutPublicAccessBlock",
                           tj("{'Bucket':'scratch-tmp','PublicAccessBlockConfiguration':{'BlockPublicAcls':true,"
                              "'IgnorePublicAcls':true,'BlockPublicPolicy':true,'RestrictPublicBuckets':true}}"));
    assert_int_equal(res.code, 200);
    assert_true(tt_has(made(&res, "made_private"), "bucket", "scratch-tmp", "how", "public-access-block", NULL));
    twin_result_free(&res);
    assert_int_equal(twin_commit(t), 0);
    res = call(t, "s3", "DeletePublicAccessBlock", tj("{'Bucket':'scratch-tmp'}"));
    assert_int_equal(res.code, 200);
    assert_true(tt_has(made(&res, "made_public"), "bucket", "scratch-tmp", "how", "public-access-block", NULL));
    twin_result_free(&res);
    twin_rollback(t);
    /* the block of a restricted bucket with a public ACL weakened: critical/restricted flags carried */
    twin_close(t);
}

static void test_s3_objects_counted(void **state)
{
    (void)state;
    twin *t = data_twin();
    call_ok(t, "s3", "PutObject", tj("{'Bucket':'scratch-tmp','Key':'a.txt'}"), 200, NULL);
    call_ok(t, "s3", "DeleteBucket", tj("{'Bucket':'scratch-tmp'}"), 409, "BucketNotEmpty");
    int code;
    json_t *out = readc(t, "s3", "ListObjectsV2", tj("{'Bucket':'scratch-tmp'}"), &code);
    assert_int_equal(code, 200);
    assert_int_equal(tt_int(out, "KeyCount"), 0);
    json_decref(out);
    out = readc(t, "s3", "GetObject", tj("{'Bucket':'scratch-tmp','Key':'a.txt'}"), &code);
    assert_int_equal(code, 404);
    assert_string_equal(tt_str(out, "Code"), "NoSuchKey");
    json_decref(out);
    call_ok(t, "s3", "DeleteObject", tj("{'Bucket':'scratch-tmp','Key':'a.txt'}"), 200, NULL);
    call_ok(t, "s3", "DeleteBucket", tj("{'Bucket':'scratch-tmp'}"), 200, NULL);
    /* tags */
    call_ok(t, "s3", "PutBucketTagging",
            tj("{'Bucket':'shop-assets','Tagging':{'TagSet':[{'Key':'airlock.dev/tier','Value':'critical'}]}}"), 200,
            NULL);
    out = readc(t, "s3", "GetBucketTagging", tj("{'Bucket':'shop-assets'}"), &code);
    assert_string_equal(tt_str(out, "TagSet.0.Value"), "critical");
    json_decref(out);
    twin_result res = call(t, "s3", "DeleteBucket", tj("{'Bucket':'payments-ledger-archive'}"));
    assert_int_equal(res.code, 409);
    twin_result_free(&res);
    twin_rollback(t);
    twin_close(t);
}

/* ---- RDS ---- */

static void test_rds_delete_rules(void **state)
{
    (void)state;
    twin *t = data_twin();
    twin_result res = call(t, "rds", "DeleteDBInstance", tj("{'DBInstanceIdentifier':'orders-db','SkipFinalSnapshot':true}"));
    assert_int_equal(res.code, 400);
    assert_string_equal(tt_str(res.object, "Code"), "InvalidParameterCombination");
    assert_string_equal(tt_str(res.object, "Message"),
                        "Cannot delete protected DB Instance, please disable deletion protection and try again.");
    assert_int_equal(json_array_size(res.diff), 0);
    twin_result_free(&res);
    twin_rollback(t);

    res = call(t, "rds", "DeleteDBInstance", tj("{'DBInstanceIdentifier':'analytics-db'}"));
    assert_int_equal(res.code, 400);
    assert_string_equal(tt_str(res.object, "Message"),
                        "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.");
    twin_result_free(&res);
    twin_rollback(t);
    call_ok(t, "rds", "DeleteDBInstance", tj("{'DBInstanceIdentifier':'nope','SkipFinalSnapshot':true}"), 404,
            "DBInstanceNotFound");

    /* with a final snapshot: the instance goes, the snapshot stays */
    res = call(t, "rds", "DeleteDBInstance",
               tj("{'DBInstanceIdentifier':'analytics-db','FinalDBSnapshotIdentifier':'analytics-final'}"));
    assert_int_equal(res.code, 200);
    assert_string_equal(tt_str(res.object, "DBInstance.DBInstanceStatus"), "deleting");
    json_t *risk = tt_path(res.impact, "data_at_risk");
    assert_true(tt_has(risk, "type", "db_instance", "id", "analytics-db", NULL));
    assert_true(json_is_true(tt_path(risk, "0.final_snapshot")));
    twin_result_free(&res);
    assert_int_equal(twin_commit(t), 0);
    int code;
    json_t *out = readc(t, "rds", "DescribeDBSnapshots", tj("{'DBSnapshotIdentifier':'analytics-final'}"), &code);
    assert_int_equal(code, 200);
    assert_string_equal(tt_str(out, "DBSnapshots.0.Status"), "available");
    assert_string_equal(tt_str(out, "DBSnapshots.0.DBInstanceIdentifier"), "analytics-db");
    json_decref(out);
    out = readc(t, "rds", "DescribeDBInstances", tj("{'DBInstanceIdentifier':'analytics-db'}"), &code);
    assert_int_equal(code, 404);
    assert_string_equal(tt_str(out, "Code"), "DBInstanceNotFound");
    json_decref(out);
    /* deleting the snapshot is data at risk too */
    res = call(t, "rds", "DeleteDBSnapshot", tj("{'DBSnapshotIdentifier':'analytics-final'}"));
    assert_int_equal(res.code, 200);
    assert_true(tt_has(tt_path(res.impact, "data_at_risk"), "type", "db_snapshot", "id", "analytics-final", NULL));
    twin_result_free(&res);
    twin_rollback(t);
    twin_close(t);
}

static void test_rds_modify_then_delete(void **state)
{
    (void)state;
    twin *t = data_twin();
    twin_result res = call(t, "rds", "ModifyDBInstance",
                           tj("{'DBInstanceIdentifier':'orders-db','DeletionProtection':false,"
                              "'MasterUserPassword':'hunter2-secret','DBInstanceClass':'db.r5.xlarge',"
                              "'ApplyImmediately':true}"));
    assert_int_equal(res.code, 200);
    assert_string_equal(tt_str(res.object, "DBInstance.DBInstanceClass"), "db.r5.xlarge");
    assert_string_equal(tt_str(res.object, "DBInstance.PendingModifiedValues.MasterUserPassword"), "****");
    char *dump = json_dumps(res.diff, 0);
    assert_null(strstr(dump, "hunter2"));
    free(dump);
    twin_result_free(&res);
    assert_int_equal(twin_commit(t), 0);
    json_t *state_doc = twin_aws_export(t);
    dump = json_dumps(state_doc, 0);
    assert_null(strstr(dump, "hunter2"));
    free(dump);
    json_decref(state_doc);
    res = call(t, "rds", "DeleteDBInstance", tj("{'DBInstanceIdentifier':'orders-db','SkipFinalSnapshot':true}"));
    assert_int_equal(res.code, 200);
    json_t *risk = tt_path(res.impact, "data_at_risk");
    assert_true(tt_has(risk, "type", "db_instance", "id", "orders-db", NULL));
    assert_true(json_is_true(tt_path(risk, "0.critical")));
    assert_true(json_is_false(tt_path(risk, "0.final_snapshot")));
    twin_result_free(&res);
    twin_rollback(t);
    /* stop, start */
    call_ok(t, "rds", "StartDBInstance", tj("{'DBInstanceIdentifier':'analytics-db'}"), 400, "InvalidDBInstanceState");
    call_ok(t, "rds", "StopDBInstance", tj("{'DBInstanceIdentifier':'analytics-db'}"), 200, NULL);
    call_ok(t, "rds", "StartDBInstance", tj("{'DBInstanceIdentifier':'analytics-db'}"), 200, NULL);
    call_ok(t, "rds", "AddTagsToResource",
            tj("{'ResourceName':'arn:aws:rds:us-east-1:123456789012:db:analytics-db','Tags':[{'Key':'k','Value':'v'}]}"),
            200, NULL);
    int code;
    json_t *out = readc(t, "rds", "ListTagsForResource",
                        tj("{'ResourceName':'arn:aws:rds:us-east-1:123456789012:db:analytics-db'}"), &code);
    assert_true(tt_has(tt_path(out, "TagList"), "Key", "k", "Value", "v", NULL));
    json_decref(out);
    twin_close(t);
}

/* ---- IAM ---- */

static void test_iam_evaluation(void **state)
{
    (void)state;
    json_t *sts = tj("[{'Effect':'Allow','Action':['s3:Get*','ec2:Describe?nstances'],'Resource':['*']},"
                     "{'Effect':'Deny','Action':['s3:GetObject'],'Resource':['arn:aws:s3:::secret/*']},"
                     "{'Effect':'Allow','NotAction':['iam:*'],'Resource':['arn:aws:rds:*']}]");
    assert_true(twin__aws_iam_allows(sts, "s3:GetObject", "arn:aws:s3:::shop-assets/a"));
    assert_true(twin__aws_iam_allows(sts, "S3:getobject", "arn:aws:s3:::shop-assets/a"));   /* actions: no case */
    assert_false(twin__aws_iam_allows(sts, "s3:GetObject", "arn:aws:s3:::secret/a"));       /* Deny wins */
    assert_true(twin__aws_iam_allows(sts, "ec2:DescribeInstances", "*"));
    assert_false(twin__aws_iam_allows(sts, "ec2:DescribeXInstances", "*"));                /* ? is one char */
    assert_false(twin__aws_iam_allows(sts, "s3:PutObject", "arn:aws:s3:::shop-assets/a"));
    assert_true(twin__aws_iam_allows(sts, "rds:DeleteDBInstance", "arn:aws:rds:us-east-1:1:db:x"));
    assert_false(twin__aws_iam_allows(sts, "iam:CreateUser", "arn:aws:rds:us-east-1:1:db:x"));   /* NotAction */
    json_decref(sts);

    twin *t = data_twin();
    /* ReadOnlyAccess (approximate), by ARN without import */
    sts = twin__aws_iam_statements(t, "IAMRole", "ops-bot-role");
    assert_true(twin__aws_iam_allows(sts, "ec2:DescribeInstances", "*"));
    assert_false(twin__aws_iam_allows(sts, "ec2:TerminateInstances", "*"));
    json_decref(sts);
    /* the customer managed policy and the inline one */
    sts = twin__aws_iam_statements(t, "IAMRole", "ci-deployer");
    assert_true(twin__aws_iam_allows(sts, "s3:PutObject", "arn:aws:s3:::shop-assets/x.png"));
    assert_false(twin__aws_iam_allows(sts, "s3:PutObject", "arn:aws:s3:::customer-exports/x"));
    json_decref(sts);
    sts = twin__aws_iam_statements(t, "IAMRole", "web-instance-role");
    assert_true(twin__aws_iam_allows(sts, "s3:GetObject", "arn:aws:s3:::shop-assets/x.png"));
    json_decref(sts);
    /* PowerUserAccess: everything but IAM */
    call_ok(t, "iam", "AttachUserPolicy",
            tj("{'UserName':'alice','PolicyArn':'arn:aws:iam::aws:policy/PowerUserAccess'}"), 200, NULL);
    sts = twin__aws_iam_statements(t, "IAMUser", "alice");
    assert_true(twin__aws_iam_allows(sts, "ec2:TerminateInstances", "*"));
    assert_false(twin__aws_iam_allows(sts, "iam:CreateAccessKey", "*"));
    assert_true(twin__aws_iam_allows(sts, "iam:ListRoles", "*"));
    json_decref(sts);
    twin_close(t);
}

static void test_iam_admin_attach_grant(void **state)
{
    (void)state;
    twin *t = data_twin();
    twin_result res = call(t, "iam", "AttachRolePolicy",
                           tj("{'RoleName':'ops-bot-role','PolicyArn':'arn:aws:iam::aws:policy/AdministratorAccess'}"));
    assert_int_equal(res.code, 200);
    json_t *g = tt_path(res.impact, "iam_grants");
    assert_true(tt_has(g, "principal", "role/ops-bot-role", "via", "AttachRolePolicy AdministratorAccess", NULL));
    assert_true(json_is_true(tt_path(g, "0.admin")));
    assert_true(json_is_true(tt_path(g, "0.passrole_star")));
    twin_result_free(&res);
    twin_rollback(t);
    /* PowerUserAccess: everything but IAM, not admin */
    res = call(t, "iam", "AttachRolePolicy",
               tj("{'RoleName':'ops-bot-role','PolicyArn':'arn:aws:iam::aws:policy/PowerUserAccess'}"));
    g = tt_path(res.impact, "iam_grants");
    assert_true(tt_has(g, "principal", "role/ops-bot-role", "via", "AttachRolePolicy PowerUserAccess", NULL));
    assert_false(json_is_true(tt_path(g, "0.admin")));
    assert_string_equal(tt_str(g, "0.not_actions.0"), "iam:*");
    assert_int_equal(json_array_size(tt_path(g, "0.over_others")), 0);
    twin_result_free(&res);
    twin_rollback(t);
    /* a restricted bucket made public by lifting its block: flagged */
    call_ok(t, "s3", "PutPublicAccessBlock",
            tj("{'Bucket':'customer-exports','PublicAccessBlockConfiguration':{'IgnorePublicAcls':true}}"), 200, NULL);
    call_ok(t, "s3", "PutBucketAcl", tj("{'Bucket':'customer-exports','ACL':'public-read'}"), 200, NULL);
    res = call(t, "s3", "DeletePublicAccessBlock", tj("{'Bucket':'customer-exports'}"));
    assert_true(tt_has(tt_path(res.impact, "buckets_public.made_public"), "bucket", "customer-exports", "how",
                       "public-access-block", NULL));
    assert_true(json_is_true(tt_path(res.impact, "buckets_public.made_public.0.restricted")));
    twin_result_free(&res);
    twin_rollback(t);
    call_ok(t, "iam", "AttachRolePolicy", tj("{'RoleName':'nobody','PolicyArn':'arn:aws:iam::aws:policy/ReadOnlyAccess'}"),
            404, "NoSuchEntity");
    call_ok(t, "iam", "AttachRolePolicy", tj("{'RoleName':'ops-bot-role','PolicyArn':'arn:aws:iam::aws:policy/Nope'}"),
            404, "NoSuchEntity");
    twin_close(t);
}

static void test_iam_trust_public(void **state)
{
    (void)state;
    twin *t = data_twin();
    twin_result res = call(t, "iam", "UpdateAssumeRolePolicy",
                           tj("{'RoleName':'ci-deployer','PolicyDocument':'{\\'Version\\':\\'2012-10-17\\',"
                              "\\'Statement\\':[{\\'Effect\\':\\'Allow\\',\\'Principal\\':{\\'AWS\\':\\'*\\'},"
                              "\\'Action\\':\\'sts:AssumeRole\\'}]}'}"));
    assert_int_equal(res.code, 200);
    json_t *g = tt_path(res.impact, "iam_grants");
    assert_true(tt_has(g, "principal", "role/ci-deployer", "via", "UpdateAssumeRolePolicy", NULL));
    assert_true(json_is_true(tt_path(g, "0.trust_public")));
    twin_result_free(&res);
    twin_rollback(t);
    twin_close(t);
}

static void test_iam_inline_passrole_and_others(void **state)
{
    (void)state;
    twin *t = data_twin();
    /* URL-encoded, as IAM's own outputs carry documents */
    const char *doc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C"
                      "%22Action%22%3A%5B%22iam%3APassRole%22%2C%22iam%3ACreateAccessKey%22%5D%2C%22Resource%22%3A"
                      "%22*%22%7D%5D%7D";
    twin_result res = call(t, "iam", "PutRolePolicy",
                           json_pack("{s:s, s:s, s:s}", "RoleName", "web-instance-role", "PolicyName", "escalate",
                                     "PolicyDocument", doc));
    assert_int_equal(res.code, 200);
    json_t *g = tt_path(res.impact, "iam_grants");
    assert_true(tt_has(g, "principal", "role/web-instance-role", "via", "PutRolePolicy escalate", NULL));
    assert_true(json_is_true(tt_path(g, "0.passrole_star")));
    assert_false(json_is_true(tt_path(g, "0.admin")));
    assert_string_equal(tt_str(g, "0.over_others.0"), "iam:CreateAccessKey");
    twin_result_free(&res);
    assert_int_equal(twin_commit(t), 0);
    int code;
    json_t *out = readc(t, "iam", "GetRolePolicy", tj("{'RoleName':'web-instance-role','PolicyName':'escalate'}"),
                        &code);
    assert_int_equal(code, 200);
    assert_non_null(strstr(tt_str(out, "PolicyDocument"), "%22iam%3APassRole%22"));
    json_decref(out);
    /* a principal in an identity policy is refused */
    call_ok(t, "iam", "PutRolePolicy",
            tj("{'RoleName':'web-instance-role','PolicyName':'bad','PolicyDocument':{'Statement':[{'Effect':'Allow',"
               "'Principal':'*','Action':'s3:*','Resource':'*'}]}}"),
            400, "MalformedPolicyDocument");
    twin_close(t);
}

static void test_iam_entity_errors(void **state)
{
    (void)state;
    twin *t = data_twin();
    int code;
    json_t *out = readc(t, "iam", "GetRole", tj("{'RoleName':'nobody'}"), &code);
    assert_int_equal(code, 404);
    assert_string_equal(tt_str(out, "Code"), "NoSuchEntity");
    json_decref(out);
    call_ok(t, "iam", "CreateRole",
            tj("{'RoleName':'ops-bot-role','AssumeRolePolicyDocument':{'Statement':[{'Effect':'Allow',"
               "'Principal':{'Service':'ec2.amazonaws.com'},'Action':'sts:AssumeRole'}]}}"),
            409, "EntityAlreadyExists");
    twin_result res = call(t, "iam", "DeleteRole", tj("{'RoleName':'ops-bot-role'}"));
    assert_int_equal(res.code, 409);
    assert_string_equal(tt_str(res.object, "Code"), "DeleteConflict");
    assert_string_equal(tt_str(res.object, "Message"), "Cannot delete entity, must detach all policies first.");
    twin_result_free(&res);
    twin_rollback(t);
    call_ok(t, "iam", "DetachRolePolicy",
            tj("{'RoleName':'ops-bot-role','PolicyArn':'arn:aws:iam::aws:policy/ReadOnlyAccess'}"), 200, NULL);
    call_ok(t, "iam", "DeleteRole", tj("{'RoleName':'ops-bot-role'}"), 200, NULL);
    call_ok(t, "iam", "DeletePolicy", tj("{'PolicyArn':'arn:aws:iam::123456789012:policy/ci-deployer-policy'}"), 409,
            "DeleteConflict");
    /* a new key's secret is shown once and kept nowhere */
    res = call(t, "iam", "CreateAccessKey", tj("{'UserName':'alice'}"));
    assert_int_equal(res.code, 200);
    const char *secret = tt_str(res.object, "AccessKey.SecretAccessKey");
    assert_non_null(secret);
    assert_int_equal(strlen(secret), 40);
    char *kept = twin_xstrdup(secret);
    twin_result_free(&res);
    assert_int_equal(twin_commit(t), 0);
    json_t *st = twin_aws_export(t);
    char *dump = json_dumps(st, 0);
    assert_null(strstr(dump, kept));
    assert_null(strstr(dump, "SecretAccessKey"));
    free(dump);
    free(kept);
    json_decref(st);
    out = readc(t, "iam", "ListAccessKeys", tj("{'UserName':'alice'}"), &code);
    assert_int_equal(json_array_size(tt_path(out, "AccessKeyMetadata")), 2);
    json_decref(out);
    call_ok(t, "iam", "CreateAccessKey", tj("{'UserName':'alice'}"), 409, "LimitExceeded");
    call_ok(t, "iam", "DeleteUser", tj("{'UserName':'alice'}"), 409, "DeleteConflict");
    /* a new version of a managed policy reaches the roles it is attached to */
    res = call(t, "iam", "CreatePolicyVersion",
               tj("{'PolicyArn':'arn:aws:iam::123456789012:policy/ci-deployer-policy','SetAsDefault':true,"
                  "'PolicyDocument':{'Statement':[{'Effect':'Allow','Action':'*','Resource':'*'}]}}"));
    assert_int_equal(res.code, 200);
    assert_string_equal(tt_str(res.object, "PolicyVersion.VersionId"), "v2");
    json_t *g = tt_path(res.impact, "iam_grants");
    assert_true(tt_has(g, "principal", "role/ci-deployer", "via", "CreatePolicyVersion ci-deployer-policy", NULL));
    assert_true(json_is_true(tt_path(g, "0.admin")));
    twin_result_free(&res);
    twin_rollback(t);
    out = readc(t, "iam", "ListPolicies", tj("{'Scope':'Local'}"), &code);
    assert_int_equal(json_array_size(tt_path(out, "Policies")), 1);
    json_decref(out);
    out = readc(t, "iam", "GetAccountAuthorizationDetails", NULL, &code);
    assert_int_equal(code, 200);
    assert_int_equal(json_array_size(tt_path(out, "RoleDetailList")), 2);
    assert_true(json_is_string(tt_path(out, "RoleDetailList.0.AssumeRolePolicyDocument")));
    json_decref(out);
    twin_close(t);
}

/* ---- import and export ---- */

static void test_import_export_round_trip(void **state)
{
    (void)state;
    static const char *const keys[] = {"Buckets", "UserDetailList", "RoleDetailList", "Policies", "DBInstances",
                                       "DBSnapshots"};
    twin *t = data_twin();
    json_t *first = twin_aws_export(t);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        assert_non_null(json_object_get(first, keys[i]));
    assert_int_equal(json_array_size(json_object_get(first, "Buckets")), 4);
    assert_int_equal(json_array_size(json_object_get(first, "RoleDetailList")), 3);
    assert_int_equal(json_array_size(json_object_get(first, "DBInstances")), 2);

    twin *u = tt_open();
    char err[1024] = "";
    json_t *docs = json_pack("[O]", first);
    assert_int_equal(twin_import_docs(u, docs, "round-trip", err, sizeof err), 0);
    json_decref(docs);
    json_t *second = twin_aws_export(u);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (!json_equal(json_object_get(first, keys[i]), json_object_get(second, keys[i]))) {
            tt_dump("first", json_object_get(first, keys[i]));
            tt_dump("second", json_object_get(second, keys[i]));
            fail_msg("%s differs after a round trip", keys[i]);
        }
    }
    /* documents given as JSON text are kept as objects */
    twin *v = tt_open();
    docs = tj("[{'RoleDetailList':[{'RoleName':'r','Arn':'arn:aws:iam::123456789012:role/r',"
              "'AssumeRolePolicyDocument':'%%7B%%22Statement%%22%%3A%%5B%%5D%%7D','RolePolicyList':"
              "[{'PolicyName':'p','PolicyDocument':'{\\'Statement\\':[]}'}]}]}]");
    assert_int_equal(twin_import_docs(v, docs, "text-docs", err, sizeof err), 0);
    json_decref(docs);
    json_t *third = twin_aws_export(v);
    assert_true(json_is_object(tt_path(third, "RoleDetailList.0.AssumeRolePolicyDocument")));
    assert_true(json_is_object(tt_path(third, "RoleDetailList.0.RolePolicyList.0.PolicyDocument")));
    json_decref(third);
    json_decref(first);
    json_decref(second);
    twin_close(t);
    twin_close(u);
    twin_close(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_delete_bucket_rules),
        cmocka_unit_test(test_s3_missing_configuration_errors),
        cmocka_unit_test(test_s3_public_policy_made_public),
        cmocka_unit_test(test_s3_block_public_policy_refuses),
        cmocka_unit_test(test_s3_public_acl_made_public),
        cmocka_unit_test(test_s3_public_access_block_removed),
        cmocka_unit_test(test_s3_objects_counted),
        cmocka_unit_test(test_rds_delete_rules),
        cmocka_unit_test(test_rds_modify_then_delete),
        cmocka_unit_test(test_iam_evaluation),
        cmocka_unit_test(test_iam_admin_attach_grant),
        cmocka_unit_test(test_iam_trust_public),
        cmocka_unit_test(test_iam_inline_passrole_and_others),
        cmocka_unit_test(test_iam_entity_errors),
        cmocka_unit_test(test_import_export_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
