/*
 * fuzz_aws_query.c - gate_aws_parse_query on arbitrary bytes: the first byte
 * picks the service (ec2, autoscaling, elasticloadbalancing, iam, rds, sts),
 * the rest is the form body.
 *
 * Invariants (gate/aws/protocol.h): no crash or leak; a refusal is 400 with
 * a message and the out-parameters untouched; what parses is rebuilt by
 * gate_aws_build_query into a body that parses to the same operation and
 * the same JSON (what the gate forwards means what it judged).
 */
#include <string.h>

#include <jansson.h>

#include "gate/aws/protocol.h"
#include "tests/fuzz/fuzz.h"

#ifndef FUZZ_LIBFUZZER
int fuzz_aws_query_one(const uint8_t *data, size_t size);
#endif

FUZZ_TARGET(aws_query)
{
    static const char *const services[] = {"ec2", "autoscaling", "elasticloadbalancing", "iam", "rds", "sts"};
    if (size < 1)
        return 0;
    const char *service = services[data[0] % 6];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char err[512] = "", *op = NULL;
    json_t *in = NULL;
    int rc = gate_aws_parse_query(service, body, len, &op, &in, err, sizeof err);
    if (rc) {
        FUZZ_CHECK(rc == 400, "rc %d", rc);
        FUZZ_CHECK(!op && !in, "out-parameters set on a refusal");
        FUZZ_CHECK(err[0] != '\0', "a refusal without a message");
        return 0;
    }
    FUZZ_CHECK(op && json_is_object(in), "no operation or input");
    FUZZ_CHECK(gate_aws_known(service, op), "an unknown operation %s", op);
    twin_buf b = {0};
    rc = gate_aws_build_query(service, op, in, &b, err, sizeof err);
    FUZZ_CHECK(rc == 0, "what parsed does not build: %s", err);
    char *op2 = NULL;
    json_t *in2 = NULL;
    rc = gate_aws_parse_query(service, b.s, b.len, &op2, &in2, err, sizeof err);
    FUZZ_CHECK(rc == 0, "the rebuilt body %s is refused: %s", b.s, err);
    FUZZ_CHECK(!strcmp(op, op2), "operation %s became %s", op, op2);
    FUZZ_CHECK(json_equal(in, in2), "the rebuilt body %s reads differently", b.s);
    /* and the answer of the operation renders */
    twin_buf out = {0};
    json_t *hdrs = NULL;
    FUZZ_CHECK(gate_aws_render_output(service, op, NULL, "r", &out, &hdrs) == 0, "no answer for %s", op);
    twin_buf_free(&out);
    json_decref(hdrs);
    free(op2);
    json_decref(in2);
    twin_buf_free(&b);
    free(op);
    json_decref(in);
    return 0;
}
