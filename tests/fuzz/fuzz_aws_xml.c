/*
 * fuzz_aws_xml.c - gate/aws/xml.c and the S3 payload reader on arbitrary
 * bytes: the first byte picks an S3 operation with an XML body
 * (PutBucketAcl, PutBucketTagging, PutPublicAccessBlock, CreateBucket) and
 * an answer to read leniently, the rest is the document.
 *
 * Invariants (gate/aws/xml.h, protocol.h): no crash or leak; a refusal
 * leaves the out-parameters untouched and says why; a tree is no deeper
 * than GATE_AWS_XML_MAX_DEPTH; a payload that parses is written back by
 * gate_aws_build_s3 into a body that parses to the same JSON.
 */
#include <string.h>

#include <jansson.h>

#include "gate/aws/protocol.h"
#include "gate/aws/xml.h"
#include "tests/fuzz/fuzz.h"

#ifndef FUZZ_LIBFUZZER
int fuzz_aws_xml_one(const uint8_t *data, size_t size);
#endif

static size_t depth_of(const gate_aws_xml_node *n, size_t d)
{
    size_t max = d;
    FUZZ_CHECK(d <= GATE_AWS_XML_MAX_DEPTH, "a tree %zu deep", d);
    FUZZ_CHECK(n->text && strlen(n->text) == n->text_len, "text and its length disagree");
    for (size_t i = 0; i < n->nkids; i++) {
        size_t k = depth_of(n->kids[i], d + 1);
        if (k > max)
            max = k;
    }
    return max;
}

FUZZ_TARGET(aws_xml)
{
    static const struct {
        const char *op, *payload, *answer_service, *answer_op;
    } ops[] = {
        {"PutBucketAcl", "AccessControlPolicy", "s3", "GetBucketAcl"},
        {"PutBucketTagging", "Tagging", "ec2", "DescribeInstances"},
        {"PutPublicAccessBlock", "PublicAccessBlockConfiguration", "iam", "GetAccountAuthorizationDetails"},
        {"CreateBucket", "CreateBucketConfiguration", "s3", "ListObjectsV2"},
    };
    if (size < 1)
        return 0;
    const char *doc = (const char *)data + 1;
    size_t len = size - 1;
    char err[512] = "";
    gate_aws_xml_node *root = NULL;
    if (gate_aws_xml_parse(doc, len, &root, err, sizeof err) == 0) {
        depth_of(root, 1);
        gate_aws_xml_free(root);
    } else {
        FUZZ_CHECK(root == NULL && err[0], "a refusal that set *root or said nothing");
    }

    unsigned pick = data[0] % 4;
    json_t *v = NULL;
    int rc = gate_aws_parse_s3_payload(ops[pick].op, doc, len, &v, err, sizeof err);
    if (rc == 0) {
        json_t *in = json_pack("{s:s, s:O}", "Bucket", "b", ops[pick].payload, v);
        const char *method;
        twin_buf target = {0}, body = {0};
        json_t *hdrs = NULL;
        rc = gate_aws_build_s3(ops[pick].op, in, &method, &target, &hdrs, &body, err, sizeof err);
        FUZZ_CHECK(rc == 0, "a parsed payload does not build: %s", err);
        json_t *v2 = NULL;
        rc = gate_aws_parse_s3_payload(ops[pick].op, body.s ? body.s : "", body.len, &v2, err, sizeof err);
        FUZZ_CHECK(rc == 0, "the rebuilt body %s is refused: %s", body.s, err);
        FUZZ_CHECK(json_equal(v, v2), "the rebuilt body %s reads differently", body.s);
        json_decref(v2);
        json_decref(hdrs);
        twin_buf_free(&target);
        twin_buf_free(&body);
        json_decref(in);
        json_decref(v);
    } else {
        FUZZ_CHECK(rc == 400 && v == NULL && err[0], "rc %d", rc);
    }

    json_t *out = NULL;
    rc = gate_aws_parse_output(ops[pick].answer_service, ops[pick].answer_op, doc, len, &out, err, sizeof err);
    FUZZ_CHECK(rc == 0 ? json_is_object(out) : rc == 400 && out == NULL, "rc %d", rc);
    json_decref(out);
    char *code = NULL, *msg = NULL;
    if (gate_aws_parse_error("ec2", doc, len, &code, &msg, err, sizeof err) == 0)
        FUZZ_CHECK(code && msg, "no code or message");
    free(code);
    free(msg);
    return 0;
}
