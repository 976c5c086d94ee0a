/*
 * gate/aws/protocol.h - the AWS wire protocols, both ways, driven by
 * botocore's own service models (tools/awsgen.py writes the tables of
 * gate/aws/model.inc from them):
 *
 *   ec2      form-encoded requests, Name.N lists, EC2's XML answers
 *            (autoscaling, elasticloadbalancing, iam, rds, sts speak the
 *   query    protocol: Name.member.N lists, Name.entry.N.key maps,
 *            <OpResult> answers)
 *   rest-xml S3: method + path + query + headers + XML or raw body
 *
 * A request becomes an operation name and botocore's JSON input for it
 * (member names as in the model: {"InstanceIds": ["i-1"], "DryRun": true}),
 * which is all the gate judges and all it forwards: production gets a
 * request rebuilt from that JSON (gate_aws_build_query, gate_aws_build_s3),
 * never the bytes the agent sent.  So the parsers refuse whatever they could
 * read two ways or do not understand, naming it: a parameter given twice, a
 * parameter the operation does not have, a value of the wrong type (an
 * integer must be decimal without a sign '+' or leading zeros, a boolean
 * "true" or "false", a timestamp ISO 8601, a blob base64), list indexes
 * that do not run 1, 2, 3..., a bad percent-escape, a Version that is not
 * the model's, an S3 body the operation does not take, XML xml.h refuses.
 * Every refusal is HTTP status 400 with the reason in err.
 *
 * The services are named by their SigV4 signing name: ec2, autoscaling,
 * elasticloadbalancing (the elbv2 model), iam, rds, sts, s3; only the
 * operations listed in tools/awsgen.py are known.
 *
 * Values: integers and longs are JSON integers, booleans JSON booleans,
 * doubles JSON reals, timestamps and blobs strings as they were on the wire
 * (ISO 8601; base64), an S3 streaming body {"length": N}.
 *
 * Ownership (jansson): every json_t argument is borrowed; every json_t
 * returned through an out-parameter is a new reference the caller owns.
 * Strings returned through char ** are the caller's to free.  Out-parameters
 * are set only on success.  twin_buf outputs are appended to.
 *
 * Limits: a query body at most GATE_AWS_MAX_BODY bytes and
 * GATE_AWS_MAX_PARAMS parameters; shapes nest at most GATE_AWS_MAX_DEPTH
 * deep; XML as xml.h says.
 */
#ifndef GATE_AWS_PROTOCOL_H
#define GATE_AWS_PROTOCOL_H

#include <jansson.h>
#include <stddef.h>

#include "twin/util.h"

#define GATE_AWS_MAX_BODY (1024u * 1024)
#define GATE_AWS_MAX_PARAMS 4096
#define GATE_AWS_MAX_DEPTH 32

/* 1 when the model of `service` has `operation` (and it is one the gate
 * knows), else 0. */
int gate_aws_known(const char *service, const char *operation);

/* The operation of `service` whose name, compared without case, is
 * folded ("describedbinstances" -> "DescribeDBInstances": the CLI's
 * words without their dashes), or NULL. Static. */
const char *gate_aws_operation_folded(const char *service, const char *folded);

/* The protocol of a service: "ec2", "query", "rest-xml", or NULL when the
 * service is unknown. Static. */
const char *gate_aws_protocol(const char *service);

/* The HTTP status AWS answers a success of the operation with (200, or 204
 * for S3's deletes); 0 when unknown. */
unsigned gate_aws_success_status(const char *service, const char *operation);

/*
 * A form-encoded body (Action=...&Version=...&params) of an ec2- or
 * query-protocol service.  0 and *operation (caller frees), *input (a new
 * JSON object, {} for an operation without input); or 400 with err naming
 * the parameter at fault.
 */
int gate_aws_parse_query(const char *service, const char *body, size_t len, char **operation, json_t **input,
                         char *err, size_t errlen);

/*
 * The inverse: input (borrowed; an object of the operation's input shape,
 * NULL is {}) as the body botocore would send (Action, Version, then the
 * parameters, form-encoded as Python's urlencode does).  0, or 400 with err
 * when input does not fit the shape (an unknown member, a wrong type).
 */
int gate_aws_build_query(const char *service, const char *operation, const json_t *input, twin_buf *body,
                         char *err, size_t errlen);

/*
 * An S3 request.  method "GET"...; path as sent (percent-encoded, without
 * the query); query_args the decoded query ({name: value}, a bare `?policy`
 * is "policy": ""); headers {name: value} (names in any case); host the Host
 * header (port allowed); endpoint_host the host name the gate serves S3 at,
 * for virtual-hosted requests to <bucket>.<endpoint_host> (NULL: only AWS's
 * own bucket.s3[.region].amazonaws.com names are virtual-hosted; an IP
 * address or localhost is always path-style); body[0..len) the body.
 *
 * The operation is the one whose model method, path and required query
 * markers (requestUri "/{Bucket}?policy") match, the most specific when
 * several do; two equally specific matches, or none, is an error.  Its
 * uri, querystring and header members are filled; an XML payload is
 * parsed into the payload member's shape (strictly: an element or
 * attribute the shape does not have is refused); a string payload
 * (PutBucketPolicy's Policy) must be UTF-8; a streaming blob (PutObject's
 * Body) is kept as {"length": len} (the forwarder sends the agent's
 * bytes, of that length).  Headers other than members and the transport's
 * own (Host, Authorization, Content-Length, X-Amz-Date, the checksums...)
 * are ignored, except an x-amz-* header, which is refused: it could carry a
 * meaning the gate does not judge.  0, or 400 with err.
 */
int gate_aws_parse_s3(const char *method, const char *path, const json_t *query_args, const json_t *headers,
                      const char *host, const char *endpoint_host, const char *body, size_t len,
                      char **operation, json_t **input, char *err, size_t errlen);

/*
 * The inverse, path-style: *method (static), target (path and query,
 * percent-encoded as botocore does), *headers (new object of the header
 * members), body (an XML or string payload; a streaming Body is left to
 * the caller).  0, or 400 with err.
 */
int gate_aws_build_s3(const char *operation, const json_t *input, const char **method, twin_buf *target,
                      json_t **headers, twin_buf *body, char *err, size_t errlen);

/*
 * The answer AWS gives: output (borrowed, the operation's output shape;
 * NULL is {}) rendered as XML botocore parses back into the same JSON.
 * ec2: <OpResponse xmlns=...><requestId>; query: <OpResponse><OpResult>
 * ... <ResponseMetadata><RequestId>; s3: the output's XML body, or the
 * string payload raw (GetBucketPolicy), with header members (HeadBucket's
 * x-amz-bucket-region) in *headers_out (a new object, may be {}; pass NULL
 * when not wanted).  Members of output the shape does not have are left
 * out.  0, or -1 with nothing appended when the operation is unknown.
 * The answer's Content-Type is text/xml (application/json for a
 * GetBucketPolicy body would be wrong too: AWS sends none).
 */
int gate_aws_render_output(const char *service, const char *operation, const json_t *output,
                           const char *request_id, twin_buf *out, json_t **headers_out);

/* An error answer in the service's protocol, code and message escaped. */
void gate_aws_render_error(const char *service, unsigned http_status, const char *code, const char *message,
                           const char *request_id, twin_buf *out);

/*
 * Production's answer xml[0..len) read back into the output shape (the
 * inverse of gate_aws_render_output; elements the shape does not have are
 * skipped, as botocore skips them).  For s3, header members are not read
 * (the body only).  0 and *output (new object), or 400 with err.
 */
int gate_aws_parse_output(const char *service, const char *operation, const char *xml, size_t len,
                          json_t **output, char *err, size_t errlen);

/* The code and message of an error answer in any of the three shapes.
 * 0 and *code, *message (caller frees; message "" when absent), or 400. */
int gate_aws_parse_error(const char *service, const char *xml, size_t len, char **code, char **message,
                         char *err, size_t errlen);

/*
 * An S3 XML payload alone: body as the payload member of operation's input
 * (PutBucketAcl's AccessControlPolicy...), strictly.  0 and *value (new
 * reference), or 400.  What gate_aws_parse_s3 uses; exposed for the fuzz
 * target.
 */
int gate_aws_parse_s3_payload(const char *operation, const char *body, size_t len, json_t **value, char *err,
                              size_t errlen);

#endif
