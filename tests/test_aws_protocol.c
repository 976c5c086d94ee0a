/* Tests for gate/aws/protocol.c and gate/aws/xml.c: AWS requests as the aws
 * CLI (botocore 1.43) sent them to a recording server, parsed into
 * botocore's JSON, rebuilt and parsed again; refusals of what could be read
 * two ways; answers rendered and read back by botocore's own parsers
 * (tests/aws/botocore_parse.py, skipped when botocore is not installed)
 * and by gate_aws_parse_output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate/aws/protocol.h"
#include "gate/aws/xml.h"

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("bad JSON in the test: %s: %s", text, je.text);
    return v;
}

static void expect_json(const json_t *got, const char *want, const char *what)
{
    json_t *w = load(want);
    if (!json_equal(got, w)) {
        char *g = twin_xdumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        char msg[8192];
        snprintf(msg, sizeof msg, "%s:\ngot:  %s\nwant: %s", what, g, want);
        free(g);
        json_decref(w);
        fail_msg("%s", msg);
    }
    json_decref(w);
}

/* ---- query and EC2 requests ---- */

static const struct qcase {
    const char *service, *body, *op, *json;
} cli_bodies[] = {
    {"ec2", "Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-1&InstanceId.2=i-2", "TerminateInstances",
     "{\"InstanceIds\": [\"i-1\", \"i-2\"]}"},
    {"ec2",
     "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=instance-state-name&Filter.1.Value.1=running&Filter.1."
     "Value.2=stopped&MaxResults=10",
     "DescribeInstances",
     "{\"Filters\": [{\"Name\": \"instance-state-name\", \"Values\": [\"running\", \"stopped\"]}], \"MaxResults\": 10}"},
    {"ec2",
     "Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-1&IpPermissions.1.IpProtocol=tcp&"
     "IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0%2F0&"
     "IpPermissions.1.IpRanges.1.Description=ssh",
     "AuthorizeSecurityGroupIngress",
     "{\"GroupId\": \"sg-1\", \"IpPermissions\": [{\"IpProtocol\": \"tcp\", \"FromPort\": 22, \"ToPort\": 22, "
     "\"IpRanges\": [{\"CidrIp\": \"0.0.0.0/0\", \"Description\": \"ssh\"}]}]}"},
    {"ec2",
     "Action=RunInstances&Version=2016-11-15&ImageId=ami-1&InstanceType=t3.micro&TagSpecification.1.ResourceType="
     "instance&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=web&MinCount=2&MaxCount=2&"
     "ClientToken=a533fd19-f351-4e79-a732-49e97003bf34",
     "RunInstances",
     "{\"ImageId\": \"ami-1\", \"InstanceType\": \"t3.micro\", \"TagSpecifications\": [{\"ResourceType\": "
     "\"instance\", \"Tags\": [{\"Key\": \"Name\", \"Value\": \"web\"}]}], \"MinCount\": 2, \"MaxCount\": 2, "
     "\"ClientToken\": \"a533fd19-f351-4e79-a732-49e97003bf34\"}"},
    {"ec2", "Action=CreateTags&Version=2016-11-15&ResourceId.1=i-1&Tag.1.Key=env&Tag.1.Value=prod", "CreateTags",
     "{\"Resources\": [\"i-1\"], \"Tags\": [{\"Key\": \"env\", \"Value\": \"prod\"}]}"},
    {"ec2", "Action=ModifyInstanceAttribute&Version=2016-11-15&InstanceId=i-1&InstanceType.Value=t3.large",
     "ModifyInstanceAttribute", "{\"InstanceId\": \"i-1\", \"InstanceType\": {\"Value\": \"t3.large\"}}"},
    {"autoscaling",
     "Action=SetDesiredCapacity&Version=2011-01-01&AutoScalingGroupName=asg1&DesiredCapacity=3&HonorCooldown=true",
     "SetDesiredCapacity", "{\"AutoScalingGroupName\": \"asg1\", \"DesiredCapacity\": 3, \"HonorCooldown\": true}"},
    {"autoscaling",
     "Action=DescribeAutoScalingGroups&Version=2011-01-01&AutoScalingGroupNames.member.1=a&AutoScalingGroupNames."
     "member.2=b",
     "DescribeAutoScalingGroups", "{\"AutoScalingGroupNames\": [\"a\", \"b\"]}"},
    {"autoscaling",
     "Action=CreateOrUpdateTags&Version=2011-01-01&Tags.member.1.ResourceId=asg1&Tags.member.1.ResourceType=auto-"
     "scaling-group&Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.1.PropagateAtLaunch=true",
     "CreateOrUpdateTags",
     "{\"Tags\": [{\"ResourceId\": \"asg1\", \"ResourceType\": \"auto-scaling-group\", \"Key\": \"k\", \"Value\": "
     "\"v\", \"PropagateAtLaunch\": true}]}"},
    {"elasticloadbalancing",
     "Action=RegisterTargets&Version=2015-12-01&TargetGroupArn=arn%3Aaws%3Aelasticloadbalancing%3Aus-east-1%3A1%"
     "3Atargetgroup%2Ft%2F1&Targets.member.1.Id=i-1&Targets.member.1.Port=80&Targets.member.2.Id=i-2",
     "RegisterTargets",
     "{\"TargetGroupArn\": \"arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1\", \"Targets\": [{\"Id\": "
     "\"i-1\", \"Port\": 80}, {\"Id\": \"i-2\"}]}"},
    {"elasticloadbalancing", "Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=a", "DescribeLoadBalancers",
     "{\"Names\": [\"a\"]}"},
    {"iam",
     "Action=PutRolePolicy&Version=2010-05-08&RoleName=r&PolicyName=p&PolicyDocument=%7B%22Version%22%3A%222012-10-"
     "17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A%2A%22%2C%22Resource%22%"
     "3A%22%2A%22%7D%5D%7D",
     "PutRolePolicy",
     "{\"RoleName\": \"r\", \"PolicyName\": \"p\", \"PolicyDocument\": "
     "\"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[{\\\"Effect\\\":\\\"Allow\\\",\\\"Action\\\":\\\"s3:*"
     "\\\",\\\"Resource\\\":\\\"*\\\"}]}\"}"},
    {"iam",
     "Action=CreateRole&Version=2010-05-08&RoleName=r&AssumeRolePolicyDocument=%7B%22Version%22%3A%222012-10-17%22%"
     "7D&Tags.member.1.Key=a&Tags.member.1.Value=b",
     "CreateRole",
     "{\"RoleName\": \"r\", \"AssumeRolePolicyDocument\": \"{\\\"Version\\\":\\\"2012-10-17\\\"}\", \"Tags\": "
     "[{\"Key\": \"a\", \"Value\": \"b\"}]}"},
    {"iam", "Action=ListRoles&Version=2010-05-08", "ListRoles", "{}"},
    {"rds", "Action=DeleteDBInstance&Version=2014-10-31&DBInstanceIdentifier=db1&SkipFinalSnapshot=true",
     "DeleteDBInstance", "{\"DBInstanceIdentifier\": \"db1\", \"SkipFinalSnapshot\": true}"},
    {"rds",
     "Action=ModifyDBInstance&Version=2014-10-31&DBInstanceIdentifier=db1&AllocatedStorage=100&ApplyImmediately=true",
     "ModifyDBInstance", "{\"DBInstanceIdentifier\": \"db1\", \"AllocatedStorage\": 100, \"ApplyImmediately\": true}"},
    {"rds",
     "Action=AddTagsToResource&Version=2014-10-31&ResourceName=arn%3Aaws%3Ards%3Aus-east-1%3A1%3Adb%3Adb1&Tags.Tag.1."
     "Key=a&Tags.Tag.1.Value=b",
     "AddTagsToResource",
     "{\"ResourceName\": \"arn:aws:rds:us-east-1:1:db:db1\", \"Tags\": [{\"Key\": \"a\", \"Value\": \"b\"}]}"},
    {"sts", "Action=GetCallerIdentity&Version=2011-06-15", "GetCallerIdentity", "{}"},
    /* the query protocol's empty list */
    {"iam", "Action=UntagRole&Version=2010-05-08&RoleName=r&TagKeys=", "UntagRole",
     "{\"RoleName\": \"r\", \"TagKeys\": []}"},
    /* a space as '+', a '+' escaped */
    {"iam", "Action=GetRole&Version=2010-05-08&RoleName=a+b%2Bc", "GetRole", "{\"RoleName\": \"a b+c\"}"},
};

static void parse_ok(const char *service, const char *body, const char *op, const char *want)
{
    char err[512] = "", *got_op = NULL;
    json_t *in = NULL;
    int rc = gate_aws_parse_query(service, body, strlen(body), &got_op, &in, err, sizeof err);
    if (rc)
        fail_msg("%s %s: refused (%d): %s", service, body, rc, err);
    assert_string_equal(got_op, op);
    expect_json(in, want, body);
    /* rebuilt and parsed again: the same */
    twin_buf b = {0};
    if (gate_aws_build_query(service, op, in, &b, err, sizeof err))
        fail_msg("build %s: %s", body, err);
    char *op2 = NULL;
    json_t *in2 = NULL;
    if (gate_aws_parse_query(service, b.s, b.len, &op2, &in2, err, sizeof err))
        fail_msg("rebuilt body %s refused: %s", b.s, err);
    assert_string_equal(op2, op);
    if (!json_equal(in, in2))
        fail_msg("%s: the rebuilt body %s reads differently", body, b.s);
    free(op2);
    json_decref(in2);
    twin_buf_free(&b);
    free(got_op);
    json_decref(in);
}

static int have_botocore(void)
{
    static int have = -1;
    if (have < 0)
        have = system("python3 -c 'import botocore' >/dev/null 2>&1") == 0;
    return have;
}

/* Runs tests/aws/botocore_parse.py with args (single-quoted by the caller
 * as needed); its stdout, or NULL when it failed. Caller frees. */
static char *botocore(const char *args)
{
    char *cmd = twin_xasprintf("python3 tests/aws/botocore_parse.py %s", args);
    FILE *f = popen(cmd, "r");
    free(cmd);
    if (!f)
        return NULL;
    twin_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        twin_buf_add(&b, chunk, n);
    int st = pclose(f);
    if (st != 0) {
        twin_buf_free(&b);
        return NULL;
    }
    return b.s ? b.s : twin_xstrdup("");
}

static char *shell_quote(const char *s)
{
    twin_buf b = {0};
    twin_buf_add(&b, "'", 1);
    for (; *s; s++)
        if (*s == '\'')
            twin_buf_add(&b, "'\\''", 4);
        else
            twin_buf_add(&b, s, 1);
    twin_buf_add(&b, "'", 1);
    return b.s;
}

static void test_cli_bodies(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cli_bodies / sizeof cli_bodies[0]; i++)
        parse_ok(cli_bodies[i].service, cli_bodies[i].body, cli_bodies[i].op, cli_bodies[i].json);
}

/* botocore's serializer, given the JSON, writes a body we read as that JSON. */
static void test_botocore_serializer(void **state)
{
    (void)state;
    if (!have_botocore())
        skip();
    for (size_t i = 0; i < sizeof cli_bodies / sizeof cli_bodies[0]; i++) {
        const struct qcase *c = &cli_bodies[i];
        char *q = shell_quote(c->json);
        char *args = twin_xasprintf("serialize %s %s %s", c->service, c->op, q);
        char *body = botocore(args);
        if (!body)
            fail_msg("botocore could not serialize %s", args);
        body[strcspn(body, "\n")] = '\0';
        parse_ok(c->service, body, c->op, c->json);
        free(body);
        free(args);
        free(q);
    }
}

static void refused(const char *service, const char *body, const char *want)
{
    char err[512] = "", *op = (char *)"untouched";
    json_t *in = (json_t *)(uintptr_t)1;
    int rc = gate_aws_parse_query(service, body, strlen(body), &op, &in, err, sizeof err);
    if (rc != 400)
        fail_msg("%s: not refused (rc %d)", body, rc);
    assert_string_equal(op, "untouched");
    assert_ptr_equal(in, (json_t *)(uintptr_t)1);
    if (!strstr(err, want))
        fail_msg("%s: error '%s' does not say '%s'", body, err, want);
}

static void test_query_refusals(void **state)
{
    (void)state;
    const char *t = "Action=TerminateInstances&Version=2016-11-15&";
    char b[512];
#define R(suffix, want)                                 \
    do {                                                \
        snprintf(b, sizeof b, "%s%s", t, suffix);        \
        refused("ec2", b, want);                         \
    } while (0)
    R("InstanceId.1=i-1&InstanceId.1=i-2", "InstanceId.1 given twice");
    R("InstanceId.1=i-1&Force=true", "parameter Force");
    R("InstanceId.1=i-1&InstanceId.3=i-3", "InstanceId.3: index 3 out of sequence");
    R("InstanceId.2=i-2", "InstanceId.2: index 2 out of sequence");
    R("InstanceId.01=i-1", "not a list index");
    R("InstanceId.0=i-1", "not a list index");
    R("InstanceId.1=i-1&DryRun=yes", "DryRun: 'yes' is not a boolean");
    R("InstanceId.1=i%2", "bad percent-escape");
    R("InstanceId.1=i%zz", "bad percent-escape");
    R("InstanceId.1=i%00", "bad percent-escape or not UTF-8");
    R("InstanceId.1=i%FF", "not UTF-8");
    R("InstanceId.1=i-1&&DryRun=true", "an empty parameter");
    R("InstanceId.1=i-1&", "an empty parameter");
    R("InstanceId.1", "has no '='");
    R("InstanceId.1=i-1&InstanceId=i-1", "parameter InstanceId:");
    R("InstanceId.1.x=i-1", "InstanceId.1.x");
    R("", "an empty parameter");
#undef R
    refused("ec2", "Action=TerminateInstances&Version=2015-10-01&InstanceId.1=i-1", "Version 2015-10-01");
    refused("ec2", "Action=TerminateInstances&InstanceId.1=i-1", "Version missing");
    refused("ec2", "Version=2016-11-15&InstanceId.1=i-1", "no Action");
    refused("ec2", "Action=DeleteKeyPair&Version=2016-11-15", "Action DeleteKeyPair");
    refused("ec2", "Action=DescribeInstances&Version=2016-11-15&MaxResults=1x", "MaxResults: '1x' is not a 32-bit");
    refused("ec2", "Action=DescribeInstances&Version=2016-11-15&MaxResults=007", "is not a 32-bit");
    refused("ec2", "Action=DescribeInstances&Version=2016-11-15&MaxResults=%2B7", "is not a 32-bit");
    refused("ec2", "Action=DescribeInstances&Version=2016-11-15&MaxResults=4294967296", "is not a 32-bit");
    refused("ec2", "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=a&Filter.1.Value.2=b",
            "Filter.1.Value.2: index 2 out of sequence");
    refused("ec2", "Action=TerminateInstances&Version=2016-11-15", "InstanceId is required");
    refused("autoscaling", "Action=SetDesiredCapacity&Version=2011-01-01&AutoScalingGroupName=a&DesiredCapacity=1.5",
            "DesiredCapacity");
    refused("autoscaling",
            "Action=DescribeAutoScalingGroups&Version=2011-01-01&AutoScalingGroupNames.1=a",
            "AutoScalingGroupNames.1");
    refused("autoscaling",
            "Action=DescribeAutoScalingGroups&Version=2011-01-01&AutoScalingGroupNames.member.1=a&"
            "AutoScalingGroupNames.member.3=c",
            "index 3 out of sequence");
    refused("iam", "Action=UntagRole&Version=2010-05-08&RoleName=r&TagKeys=x", "a list is given as TagKeys.member.N");
    refused("iam", "Action=UntagRole&Version=2010-05-08&RoleName=r&TagKeys=&TagKeys.member.1=a",
            "a list is given as");
    refused("iam", "Action=GetRole&Version=2010-05-08&RoleName=r&Version=2010-05-08", "Version given twice");
    refused("s3", "Action=ListBuckets", "does not speak the query protocol");
    refused("nosuch", "Action=X", "does not speak");
}

static void test_build_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *service, *op, *json, *want;
    } cases[] = {
        {"ec2", "TerminateInstances", "{\"InstanceIds\": \"i-1\"}", "a list expected"},
        {"ec2", "TerminateInstances", "{\"InstanceIds\": [\"i-1\"], \"Force\": true}", "Force: no such member"},
        {"ec2", "DescribeInstances", "{\"MaxResults\": \"5\"}", "an integer expected"},
        {"ec2", "DescribeInstances", "{\"MaxResults\": 4294967296}", "32-bit"},
        {"ec2", "DescribeInstances", "{\"DryRun\": 1}", "a boolean expected"},
        {"sts", "GetCallerIdentity", "{\"X\": 1}", "no such member"},
        {"ec2", "Nope", "{}", "not a query operation"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        twin_buf b = {0};
        json_t *in = load(cases[i].json);
        assert_int_equal(gate_aws_build_query(cases[i].service, cases[i].op, in, &b, err, sizeof err), 400);
        assert_null(b.s);
        if (!strstr(err, cases[i].want))
            fail_msg("%s: error '%s' does not say '%s'", cases[i].json, err, cases[i].want);
        json_decref(in);
    }
    /* booleans, longs, doubles and the map of a query input come back */
    twin_buf b = {0};
    char err[256];
    json_t *in = load("{\"DBInstanceIdentifier\": \"d\", \"AllocatedStorage\": 5, \"MultiAZ\": false}");
    assert_int_equal(gate_aws_build_query("rds", "ModifyDBInstance", in, &b, err, sizeof err), 0);
    assert_string_equal(b.s, "Action=ModifyDBInstance&Version=2014-10-31&DBInstanceIdentifier=d&AllocatedStorage=5&"
                             "MultiAZ=false");
    twin_buf_free(&b);
    json_decref(in);
}

static void test_known(void **state)
{
    (void)state;
    assert_true(gate_aws_known("ec2", "TerminateInstances"));
    assert_true(gate_aws_known("elasticloadbalancing", "DescribeTargetHealth"));
    assert_true(gate_aws_known("s3", "PutBucketPolicy"));
    assert_false(gate_aws_known("ec2", "DeleteKeyPair"));
    assert_false(gate_aws_known("elbv2", "DescribeTargetHealth"));
    assert_false(gate_aws_known(NULL, NULL));
    assert_string_equal(gate_aws_protocol("iam"), "query");
    assert_string_equal(gate_aws_protocol("s3"), "rest-xml");
    assert_int_equal(gate_aws_success_status("s3", "DeleteBucket"), 204);
    assert_int_equal(gate_aws_success_status("ec2", "DeleteVpc"), 200);
}

/* ---- S3 requests ---- */

static const struct s3case {
    const char *method, *path, *query, *headers, *host, *body, *op, *json;
} s3_requests[] = {
    {"PUT", "/b1", "{\"policy\": \"\"}",
     "{\"Host\": \"127.0.0.1:18765\", \"x-amz-checksum-crc32\": \"R/qaEw==\", \"x-amz-sdk-checksum-algorithm\": "
     "\"CRC32\", \"X-Amz-Content-SHA256\": \"8f90\", \"Content-Length\": \"39\"}",
     "127.0.0.1:18765", "{\"Version\":\"2012-10-17\",\"Statement\":[]}", "PutBucketPolicy",
     "{\"Bucket\": \"b1\", \"ChecksumAlgorithm\": \"CRC32\", \"Policy\": "
     "\"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[]}\"}"},
    {"PUT", "/b1", "{\"acl\": \"\"}",
     "{\"x-amz-acl\": \"public-read\", \"x-amz-checksum-crc32\": \"AAAAAA==\", \"x-amz-sdk-checksum-algorithm\": "
     "\"CRC32\", \"Content-Length\": \"0\"}",
     "127.0.0.1:18765", "", "PutBucketAcl",
     "{\"Bucket\": \"b1\", \"ACL\": \"public-read\", \"ChecksumAlgorithm\": \"CRC32\"}"},
    {"PUT", "/b1", "{\"publicAccessBlock\": \"\"}", "{\"x-amz-sdk-checksum-algorithm\": \"CRC32\"}", "127.0.0.1",
     "<PublicAccessBlockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><BlockPublicAcls>true</"
     "BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy><"
     "RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>",
     "PutPublicAccessBlock",
     "{\"Bucket\": \"b1\", \"ChecksumAlgorithm\": \"CRC32\", \"PublicAccessBlockConfiguration\": "
     "{\"BlockPublicAcls\": true, \"IgnorePublicAcls\": true, \"BlockPublicPolicy\": false, "
     "\"RestrictPublicBuckets\": false}}"},
    {"PUT", "/b1", "{\"tagging\": \"\"}", "{}", "127.0.0.1",
     "<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></"
     "TagSet></Tagging>",
     "PutBucketTagging", "{\"Bucket\": \"b1\", \"Tagging\": {\"TagSet\": [{\"Key\": \"a\", \"Value\": \"b\"}]}}"},
    {"PUT", "/b2", "{}", "{}", "127.0.0.1",
     "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>eu-west-1</"
     "LocationConstraint></CreateBucketConfiguration>",
     "CreateBucket", "{\"Bucket\": \"b2\", \"CreateBucketConfiguration\": {\"LocationConstraint\": \"eu-west-1\"}}"},
    {"GET", "/b1", "{\"list-type\": \"2\", \"max-keys\": \"5\", \"prefix\": \"a/\", \"encoding-type\": \"url\"}", "{}",
     "127.0.0.1", "", "ListObjectsV2",
     "{\"Bucket\": \"b1\", \"MaxKeys\": 5, \"Prefix\": \"a/\", \"EncodingType\": \"url\"}"},
    {"PUT", "/b1/dir/a.txt", "{}",
     "{\"Expect\": \"100-continue\", \"x-amz-checksum-crc32\": \"n7sxBA==\", \"x-amz-sdk-checksum-algorithm\": "
     "\"CRC32\", \"Content-Length\": \"3\"}",
     "127.0.0.1", "vm\n", "PutObject",
     "{\"Bucket\": \"b1\", \"Key\": \"dir/a.txt\", \"Body\": {\"length\": 3}, \"ChecksumAlgorithm\": \"CRC32\", "
     "\"ChecksumCRC32\": \"n7sxBA==\", \"ContentLength\": 3}"},
    {"PUT", "/b1", "{\"acl\": \"\"}", "{\"x-amz-sdk-checksum-algorithm\": \"CRC32\"}", "127.0.0.1",
     "<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><AccessControlList><Grant><Grantee "
     "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>abc</ID></Grantee><"
     "Permission>READ</Permission></Grant></AccessControlList><Owner><ID>abc</ID></Owner></AccessControlPolicy>",
     "PutBucketAcl",
     "{\"Bucket\": \"b1\", \"ChecksumAlgorithm\": \"CRC32\", \"AccessControlPolicy\": {\"Grants\": [{\"Grantee\": "
     "{\"Type\": \"CanonicalUser\", \"ID\": \"abc\"}, \"Permission\": \"READ\"}], \"Owner\": {\"ID\": \"abc\"}}}"},
    {"GET", "/b1", "{\"policy\": \"\"}", "{}", "127.0.0.1", "", "GetBucketPolicy", "{\"Bucket\": \"b1\"}"},
    {"HEAD", "/b1", "{}", "{}", "127.0.0.1", "", "HeadBucket", "{\"Bucket\": \"b1\"}"},
    {"DELETE", "/b1/a%20b/c%2Bd.txt", "{}", "{}", "127.0.0.1", "", "DeleteObject",
     "{\"Bucket\": \"b1\", \"Key\": \"a b/c+d.txt\"}"},
    {"GET", "/", "{}", "{}", "s3.amazonaws.com", "", "ListBuckets", "{}"},
    /* virtual-hosted */
    {"GET", "/", "{\"policy\": \"\"}", "{}", "my.bucket.s3.us-east-1.amazonaws.com", "", "GetBucketPolicy",
     "{\"Bucket\": \"my.bucket\"}"},
    {"GET", "/k/x", "{}", "{}", "b9.s3.amazonaws.com", "", "GetObject", "{\"Bucket\": \"b9\", \"Key\": \"k/x\"}"},
    {"GET", "/", "{}", "{}", "b9.gate.example:8443", "", "ListObjects", "{\"Bucket\": \"b9\"}"},
    {"GET", "/b1", "{\"delimiter\": \"/\"}", "{\"x-amz-request-payer\": \"requester\"}", "localhost:1", "",
     "ListObjects", "{\"Bucket\": \"b1\", \"Delimiter\": \"/\", \"RequestPayer\": \"requester\"}"},
    {"PUT", "/b1/k", "{}", "{\"x-amz-meta-Owner\": \"me\", \"Content-Type\": \"text/plain\"}", "127.0.0.1", "",
     "PutObject", "{\"Bucket\": \"b1\", \"Key\": \"k\", \"Metadata\": {\"owner\": \"me\"}, \"ContentType\": "
     "\"text/plain\"}"},
};

static void s3_parse(const char *method, const char *path, const char *query, const char *headers, const char *host,
                     const char *body, size_t len, int want_rc, char **op, json_t **in, char *err, size_t errlen)
{
    json_t *q = load(query), *h = load(headers);
    int rc = gate_aws_parse_s3(method, path, q, h, host, "gate.example", body, len, op, in, err, errlen);
    json_decref(q);
    json_decref(h);
    if (rc != want_rc)
        fail_msg("%s %s %s: rc %d, want %d: %s", method, path, query, rc, want_rc, err);
}

/* A target "/b/k?x=1&y" as a path and decoded query arguments. */
static void split_target(const char *target, char **path, json_t **query)
{
    const char *qm = strchr(target, '?');
    *path = qm ? twin_xasprintf("%.*s", (int)(qm - target), target) : twin_xstrdup(target);
    *query = json_object();
    for (const char *p = qm ? qm + 1 : NULL; p && *p;) {
        size_t n = strcspn(p, "&");
        char *pair = twin_xasprintf("%.*s", (int)n, p);
        char *eq = strchr(pair, '=');
        if (eq)
            *eq = '\0';
        /* decode %XX */
        char *v = twin_xstrdup(eq ? eq + 1 : "");
        char *w = v;
        for (char *r = v; *r; r++) {
            if (*r == '%' && r[1] && r[2]) {
                char hex[3] = {r[1], r[2], 0};
                *w++ = (char)strtol(hex, NULL, 16);
                r += 2;
            } else
                *w++ = *r;
        }
        *w = '\0';
        json_object_set_new(*query, pair, json_string(v));
        free(v);
        free(pair);
        p += n;
        if (*p)
            p++;
    }
}

static void test_s3_requests(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s3_requests / sizeof s3_requests[0]; i++) {
        const struct s3case *c = &s3_requests[i];
        char err[512] = "", *op = NULL;
        json_t *in = NULL;
        s3_parse(c->method, c->path, c->query, c->headers, c->host, c->body, strlen(c->body), 0, &op, &in, err,
                 sizeof err);
        assert_string_equal(op, c->op);
        expect_json(in, c->json, c->path);
        /* rebuilt (path-style) and parsed again */
        const char *method = NULL;
        twin_buf target = {0}, body = {0};
        json_t *hdrs = NULL;
        if (gate_aws_build_s3(op, in, &method, &target, &hdrs, &body, err, sizeof err))
            fail_msg("build %s: %s", op, err);
        assert_string_equal(method, c->method);
        char *path;
        json_t *q;
        split_target(target.s, &path, &q);
        char *op2 = NULL;
        json_t *in2 = NULL;
        const char *b2 = body.s ? body.s : c->body;   /* a streaming Body is the caller's */
        size_t l2 = body.s ? body.len : strlen(c->body);
        if (gate_aws_parse_s3(method, path, q, hdrs, "127.0.0.1", NULL, b2, l2, &op2, &in2, err, sizeof err))
            fail_msg("rebuilt %s %s (%s) refused: %s", method, target.s, body.s ? body.s : "", err);
        assert_string_equal(op2, op);
        if (!json_equal(in, in2))
            fail_msg("%s: rebuilt as %s %s, reads differently", c->path, method, target.s);
        free(op2);
        json_decref(in2);
        free(path);
        json_decref(q);
        json_decref(hdrs);
        twin_buf_free(&target);
        twin_buf_free(&body);
        free(op);
        json_decref(in);
    }
    /* botocore's encoding of a key */
    const char *method;
    twin_buf target = {0}, body = {0};
    json_t *hdrs, *in = load("{\"Bucket\": \"b\", \"Key\": \"a b/c+d~e\"}");
    char err[256];
    assert_int_equal(gate_aws_build_s3("DeleteObject", in, &method, &target, &hdrs, &body, err, sizeof err), 0);
    assert_string_equal(method, "DELETE");
    assert_string_equal(target.s, "/b/a%20b/c%2Bd~e");
    json_decref(hdrs);
    json_decref(in);
    twin_buf_free(&target);
}

static void test_s3_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path, *query, *headers, *body, *want;
    } cases[] = {
        {"GET", "/b1", "{\"policy\": \"\", \"acl\": \"\"}", "{}", "", "matches more than one"},
        {"GET", "/b1", "{\"versioning\": \"\"}", "{}", "", "query parameter versioning"},
        {"PUT", "/b1/k", "{\"acl\": \"\"}", "{}", "", "query parameter acl"},
        {"GET", "/b1", "{\"list-type\": \"3\"}", "{}", "", "query parameter list-type"},
        {"POST", "/b1", "{\"delete\": \"\"}", "{}", "", "no S3 operation"},
        {"GET", "/b1", "{\"max-keys\": \"ten\"}", "{}", "", "max-keys: 'ten' is not"},
        {"GET", "/b%1", "{}", "{}", "", "bad percent-escape"},
        {"GET", "//k", "{}", "{}", "", "an empty bucket"},
        {"DELETE", "/b1", "{}", "{}", "x", "takes no body"},
        {"PUT", "/b1", "{\"acl\": \"\"}", "{\"x-amz-grant-everything\": \"yes\"}", "", "header x-amz-grant-everything"},
        {"PUT", "/b1", "{\"policy\": \"\"}", "{}", "", "Policy is required"},
        {"PUT", "/b1", "{\"tagging\": \"\"}", "{}", "<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value><Extra/></Tag></TagSet></Tagging>",
         "<Extra> is not a member of <Tag>"},
        {"PUT", "/b1", "{\"tagging\": \"\"}", "{}", "<Tagging><TagSet><Tag><Key>a</Key><Key>b</Key><Value>b</Value></Tag></TagSet></Tagging>",
         "<Key> given twice"},
        {"PUT", "/b1", "{\"tagging\": \"\"}", "{}", "<Other/>", "not <Tagging>"},
        {"PUT", "/b1", "{\"tagging\": \"\"}", "{}", "<!DOCTYPE x [<!ENTITY a \"b\">]><Tagging/>", "DOCTYPE"},
        {"PUT", "/b1", "{\"tagging\": \"\"}", "{}", "<Tagging><TagSet><Tag><Key>&xxe;</Key></Tag></TagSet></Tagging>",
         "unknown entity"},
        {"PUT", "/b1", "{\"publicAccessBlock\": \"\"}", "{}",
         "<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>",
         "'yes' is not a boolean"},
        {"PUT", "/b1", "{\"acl\": \"\"}", "{}",
         "<AccessControlPolicy><AccessControlList><Grant><Grantee evil=\"1\"><ID>a</ID></Grantee></Grant>"
         "</AccessControlList></AccessControlPolicy>",
         "attribute evil"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "", *op = (char *)"untouched";
        json_t *in = NULL;
        s3_parse(cases[i].method, cases[i].path, cases[i].query, cases[i].headers, "127.0.0.1", cases[i].body,
                 strlen(cases[i].body), 400, &op, &in, err, sizeof err);
        assert_string_equal(op, "untouched");
        if (!strstr(err, cases[i].want))
            fail_msg("%s %s %s: error '%s' does not say '%s'", cases[i].method, cases[i].path, cases[i].query, err,
                     cases[i].want);
    }
}

/* ---- answers ---- */

static const struct ocase {
    const char *service, *op, *json;
} outputs[] = {
    {"ec2", "DescribeInstances",
     "{\"Reservations\": [{\"ReservationId\": \"r-1\", \"OwnerId\": \"123456789012\", \"Instances\": [{\"InstanceId\": "
     "\"i-1\", \"InstanceType\": \"t3.micro\", \"LaunchTime\": \"2024-01-02T03:04:05.000Z\", \"State\": {\"Code\": "
     "16, \"Name\": \"running\"}, \"Tags\": [{\"Key\": \"Name\", \"Value\": \"a<b & \\\"c\\\"\"}], "
     "\"SecurityGroups\": [{\"GroupId\": \"sg-1\", \"GroupName\": \"web\"}], \"EbsOptimized\": false, "
     "\"CpuOptions\": {\"CoreCount\": 1, \"ThreadsPerCore\": 2}}]}]}"},
    {"ec2", "TerminateInstances",
     "{\"TerminatingInstances\": [{\"InstanceId\": \"i-1\", \"CurrentState\": {\"Code\": 32, \"Name\": "
     "\"shutting-down\"}, \"PreviousState\": {\"Code\": 16, \"Name\": \"running\"}}]}"},
    {"ec2", "DescribeSecurityGroups",
     "{\"SecurityGroups\": [{\"GroupId\": \"sg-1\", \"GroupName\": \"web\", \"VpcId\": \"vpc-1\", \"Description\": "
     "\"d\", \"IpPermissions\": [{\"IpProtocol\": \"tcp\", \"FromPort\": 22, \"ToPort\": 22, \"IpRanges\": "
     "[{\"CidrIp\": \"0.0.0.0/0\"}], \"UserIdGroupPairs\": []}]}]}"},
    {"ec2", "DescribeVpcs",
     "{\"Vpcs\": [{\"VpcId\": \"vpc-1\", \"CidrBlock\": \"10.0.0.0/16\", \"IsDefault\": true, \"State\": "
     "\"available\", \"CidrBlockAssociationSet\": [{\"AssociationId\": \"a\", \"CidrBlock\": \"10.0.0.0/16\"}]}]}"},
    {"ec2", "StopInstances",
     "{\"StoppingInstances\": [{\"InstanceId\": \"i-1\", \"CurrentState\": {\"Code\": 64, \"Name\": "
     "\"stopping\"}}]}"},
    {"autoscaling", "DescribeAutoScalingGroups",
     "{\"AutoScalingGroups\": [{\"AutoScalingGroupName\": \"a\", \"MinSize\": 1, \"MaxSize\": 3, \"DesiredCapacity\": "
     "2, \"DefaultCooldown\": 300, \"AvailabilityZones\": [\"us-east-1a\"], \"HealthCheckType\": \"EC2\", "
     "\"CreatedTime\": \"2024-01-02T03:04:05.000Z\", \"Instances\": [{\"InstanceId\": \"i-1\", \"AvailabilityZone\": "
     "\"us-east-1a\", \"LifecycleState\": \"InService\", \"HealthStatus\": \"Healthy\", "
     "\"ProtectedFromScaleIn\": false}]}], \"NextToken\": \"t\"}"},
    {"elasticloadbalancing", "DescribeTargetHealth",
     "{\"TargetHealthDescriptions\": [{\"Target\": {\"Id\": \"i-1\", \"Port\": 80}, \"TargetHealth\": {\"State\": "
     "\"healthy\"}}]}"},
    {"iam", "GetRole",
     "{\"Role\": {\"Path\": \"/\", \"RoleName\": \"r\", \"RoleId\": \"AROA\", \"Arn\": \"arn:aws:iam::1:role/r\", "
     "\"CreateDate\": \"2024-01-02T03:04:05.000Z\", \"AssumeRolePolicyDocument\": \"%7B%7D\", \"Tags\": [{\"Key\": "
     "\"a\", \"Value\": \"b\"}], \"MaxSessionDuration\": 3600}}"},
    {"iam", "ListAttachedRolePolicies",
     "{\"AttachedPolicies\": [{\"PolicyName\": \"p\", \"PolicyArn\": \"arn:aws:iam::aws:policy/p\"}], "
     "\"IsTruncated\": false}"},
    {"rds", "DescribeDBInstances",
     "{\"DBInstances\": [{\"DBInstanceIdentifier\": \"db1\", \"DBInstanceClass\": \"db.t3.micro\", \"Engine\": "
     "\"postgres\", \"AllocatedStorage\": 20, \"MultiAZ\": false, \"VpcSecurityGroups\": [{\"VpcSecurityGroupId\": "
     "\"sg-1\", \"Status\": \"active\"}], \"TagList\": [{\"Key\": \"a\", \"Value\": \"b\"}]}]}"},
    {"rds", "ListTagsForResource", "{\"TagList\": [{\"Key\": \"a\", \"Value\": \"b\"}]}"},
    {"sts", "GetCallerIdentity", "{\"UserId\": \"AIDA\", \"Account\": \"123456789012\", \"Arn\": \"arn:aws:iam::1:user/u\"}"},
    {"s3", "ListBuckets",
     "{\"Buckets\": [{\"Name\": \"b1\", \"CreationDate\": \"2024-01-02T03:04:05.000Z\"}], \"Owner\": {\"ID\": \"o\", "
     "\"DisplayName\": \"me\"}}"},
    {"s3", "GetBucketAcl",
     "{\"Owner\": {\"ID\": \"o\"}, \"Grants\": [{\"Grantee\": {\"Type\": \"Group\", \"URI\": "
     "\"http://acs.amazonaws.com/groups/global/AllUsers\"}, \"Permission\": \"READ\"}, {\"Grantee\": {\"Type\": "
     "\"CanonicalUser\", \"ID\": \"o\"}, \"Permission\": \"FULL_CONTROL\"}]}"},
    {"s3", "GetPublicAccessBlock",
     "{\"PublicAccessBlockConfiguration\": {\"BlockPublicAcls\": true, \"IgnorePublicAcls\": false, "
     "\"BlockPublicPolicy\": true, \"RestrictPublicBuckets\": false}}"},
    {"s3", "GetBucketTagging", "{\"TagSet\": [{\"Key\": \"a\", \"Value\": \"b\"}]}"},
    {"s3", "GetBucketPolicyStatus", "{\"PolicyStatus\": {\"IsPublic\": true}}"},
    {"s3", "GetBucketPolicy", "{\"Policy\": \"{\\\"Version\\\": \\\"2012-10-17\\\"}\"}"},
    {"s3", "ListObjectsV2",
     "{\"IsTruncated\": false, \"Contents\": [{\"Key\": \"a/1\", \"LastModified\": \"2024-01-02T03:04:05.000Z\", "
     "\"ETag\": \"\\\"e\\\"\", \"Size\": 3, \"StorageClass\": \"STANDARD\"}, {\"Key\": \"a/2\", \"Size\": 0}], "
     "\"Name\": \"b1\", \"Prefix\": \"a/\", \"MaxKeys\": 1000, \"CommonPrefixes\": [{\"Prefix\": \"a/b/\"}], "
     "\"KeyCount\": 2}"},
};

static void test_outputs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++) {
        const struct ocase *c = &outputs[i];
        json_t *want = load(c->json), *hdrs = NULL;
        twin_buf out = {0};
        assert_int_equal(gate_aws_render_output(c->service, c->op, want, "req-1", &out, &hdrs), 0);
        assert_non_null(out.s);
        /* ours reads it back */
        char err[512] = "";
        json_t *got = NULL;
        if (gate_aws_parse_output(c->service, c->op, out.s, out.len, &got, err, sizeof err))
            fail_msg("%s %s: %s\n%s", c->service, c->op, err, out.s);
        if (!json_equal(got, want)) {
            char *g = twin_xdumps(got, JSON_COMPACT | JSON_SORT_KEYS);
            fail_msg("%s: read back as %s\nfrom %s", c->op, g, out.s);
        }
        json_decref(got);
        /* and botocore does */
        if (have_botocore()) {
            char path[] = "/tmp/aws_out_XXXXXX";
            int fd = mkstemp(path);
            assert_true(fd >= 0);
            assert_int_equal(write(fd, out.s, out.len), (ssize_t)out.len);
            close(fd);
            char *args = twin_xasprintf("output %s %s %s", c->service, c->op, path);
            char *text = botocore(args);
            unlink(path);
            if (!text)
                fail_msg("botocore could not parse %s %s:\n%s", c->service, c->op, out.s);
            json_t *bot = load(text);
            if (!json_equal(bot, want))
                fail_msg("%s: botocore reads %s\nfrom %s", c->op, text, out.s);
            json_decref(bot);
            free(text);
            free(args);
        }
        twin_buf_free(&out);
        json_decref(hdrs);
        json_decref(want);
    }
}

static void test_s3_output_headers(void **state)
{
    (void)state;
    /* this model's HeadBucket has no output shape: the region is the gate's */
    json_t *o = load("{\"BucketRegion\": \"eu-west-1\"}"), *h = NULL;
    twin_buf out = {0};
    assert_int_equal(gate_aws_render_output("s3", "HeadBucket", o, "r", &out, &h), 0);
    assert_null(out.s);
    expect_json(h, "{\"x-amz-bucket-region\": \"eu-west-1\"}", "HeadBucket");
    json_decref(h);
    json_decref(o);
    /* GetBucketPolicy: the policy is the body, raw */
    o = load("{\"Policy\": \"{\\\"a\\\": \\\"<&>\\\"}\"}");
    assert_int_equal(gate_aws_render_output("s3", "GetBucketPolicy", o, "r", &out, NULL), 0);
    assert_string_equal(out.s, "{\"a\": \"<&>\"}");
    twin_buf_free(&out);
    json_decref(o);
    /* GetBucketLocation: the root element is the value */
    o = load("{\"LocationConstraint\": \"eu-west-1\"}");
    assert_int_equal(gate_aws_render_output("s3", "GetBucketLocation", o, "r", &out, NULL), 0);
    assert_non_null(strstr(out.s, "<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">eu-west-1<"
                                  "/LocationConstraint>"));
    json_t *back = NULL;
    char err[256];
    assert_int_equal(gate_aws_parse_output("s3", "GetBucketLocation", out.s, out.len, &back, err, sizeof err), 0);
    assert_true(json_equal(back, o));
    json_decref(back);
    twin_buf_free(&out);
    json_decref(o);
    assert_int_equal(gate_aws_render_output("s3", "Nope", NULL, "r", &out, NULL), -1);
}

static void test_errors(void **state)
{
    (void)state;
    const char *services[] = {"ec2", "iam", "s3", "rds"};
    for (size_t i = 0; i < 4; i++) {
        twin_buf out = {0};
        gate_aws_render_error(services[i], 400, "InvalidParameterValue", "bad <value> & \"more\"", "rid-1", &out);
        char err[256], *code = NULL, *msg = NULL;
        assert_int_equal(gate_aws_parse_error(services[i], out.s, out.len, &code, &msg, err, sizeof err), 0);
        assert_string_equal(code, "InvalidParameterValue");
        assert_string_equal(msg, "bad <value> & \"more\"");
        free(code);
        free(msg);
        if (have_botocore()) {
            char path[] = "/tmp/aws_err_XXXXXX";
            int fd = mkstemp(path);
            assert_true(fd >= 0);
            assert_int_equal(write(fd, out.s, out.len), (ssize_t)out.len);
            close(fd);
            char *args = twin_xasprintf("error %s %s 400", services[i], path);
            char *text = botocore(args);
            unlink(path);
            if (!text)
                fail_msg("botocore could not read the %s error:\n%s", services[i], out.s);
            json_t *got = load(text);
            expect_json(got, "{\"Code\": \"InvalidParameterValue\", \"Message\": \"bad <value> & \\\"more\\\"\"}",
                        services[i]);
            json_decref(got);
            free(text);
            free(args);
        }
        twin_buf_free(&out);
    }
}

/* ---- XML ---- */

static void xml_refused(const char *doc, const char *want)
{
    gate_aws_xml_node *root = (gate_aws_xml_node *)(uintptr_t)1;
    char err[256] = "";
    assert_int_equal(gate_aws_xml_parse(doc, strlen(doc), &root, err, sizeof err), -1);
    assert_ptr_equal(root, (gate_aws_xml_node *)(uintptr_t)1);
    if (!strstr(err, want))
        fail_msg("%s: error '%s' does not say '%s'", doc, err, want);
}

static void test_xml(void **state)
{
    (void)state;
    const char *doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c --><a x='1' y=\"&lt;&#65;&#x42;\">"
                      "t&amp;<![CDATA[<raw>]]><b/><c>&quot;&apos;&gt;</c></a>\n";
    gate_aws_xml_node *root = NULL;
    char err[256];
    if (gate_aws_xml_parse(doc, strlen(doc), &root, err, sizeof err))
        fail_msg("%s", err);
    assert_string_equal(root->name, "a");
    assert_string_equal(root->text, "t&<raw>");
    assert_string_equal(gate_aws_xml_attr_get(root, "y"), "<AB");
    assert_int_equal(root->nkids, 2);
    assert_string_equal(gate_aws_xml_child(root, "c")->text, "\"'>");
    gate_aws_xml_free(root);
    gate_aws_xml_free(NULL);

    xml_refused("<!DOCTYPE a><a/>", "DOCTYPE");
    xml_refused("<a><?php x?></a>", "processing instruction");
    xml_refused("<a/><?xml version=\"1.0\"?>", "processing instruction");
    xml_refused("<a>&nbsp;</a>", "unknown entity");
    xml_refused("<a>&#0;</a>", "not an XML character");
    xml_refused("<a>&#xD800;</a>", "not an XML character");
    xml_refused("<a></b>", "</b> does not close <a>");
    xml_refused("<a>", "<a> is not closed");
    xml_refused("<a/><b/>", "a second root");
    xml_refused("x<a/>", "text outside");
    xml_refused("<a x='1' x='2'/>", "given twice");
    xml_refused("<a x='<'/>", "'<' in an attribute");
    xml_refused("<a>]]></a>", "']]>' in text");
    xml_refused("", "no root element");
    xml_refused("<a>\xff</a>", "invalid UTF-8");
    {
        char nul[] = "<a>x\0</a>";
        gate_aws_xml_node *r = NULL;
        assert_int_equal(gate_aws_xml_parse(nul, sizeof nul - 1, &r, err, sizeof err), -1);
        assert_non_null(strstr(err, "NUL"));
    }
    /* 64 levels nest, 65 do not */
    twin_buf deep = {0};
    for (int i = 0; i < 64; i++)
        twin_buf_add(&deep, "<d>", 3);
    for (int i = 0; i < 64; i++)
        twin_buf_add(&deep, "</d>", 4);
    assert_int_equal(gate_aws_xml_parse(deep.s, deep.len, &root, err, sizeof err), 0);
    gate_aws_xml_free(root);
    twin_buf_free(&deep);
    for (int i = 0; i < 65; i++)
        twin_buf_add(&deep, "<d>", 3);
    for (int i = 0; i < 65; i++)
        twin_buf_add(&deep, "</d>", 4);
    xml_refused(deep.s, "more than 64 levels");
    twin_buf_free(&deep);
    /* the size cap */
    size_t big = GATE_AWS_XML_MAX_INPUT + 1;
    char *s = twin_xmalloc(big + 1);
    memset(s, ' ', big);
    memcpy(s, "<a>", 3);
    memcpy(s + big - 4, "</a>", 4);
    s[big] = '\0';
    assert_int_equal(gate_aws_xml_parse(s, big, &root, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than"));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known),
        cmocka_unit_test(test_cli_bodies),
        cmocka_unit_test(test_botocore_serializer),
        cmocka_unit_test(test_query_refusals),
        cmocka_unit_test(test_build_refusals),
        cmocka_unit_test(test_s3_requests),
        cmocka_unit_test(test_s3_refusals),
        cmocka_unit_test(test_outputs),
        cmocka_unit_test(test_s3_output_headers),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_xml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
