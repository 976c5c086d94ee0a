#!/usr/bin/env python3
"""tests/aws/botocore_parse.py - what botocore itself makes of the bytes
gate/aws/protocol.c writes (tests/test_aws_protocol.c runs it when botocore
is installed).

    botocore_parse.py output SERVICE OPERATION FILE [STATUS]
        FILE is an answer body; prints the output botocore parses from it,
        as JSON (ResponseMetadata dropped; timestamps as
        YYYY-MM-DDTHH:MM:SS.mmmZ, blobs base64).
    botocore_parse.py error SERVICE FILE STATUS
        prints {"Code": ..., "Message": ...} as botocore reads an error.
    botocore_parse.py serialize SERVICE OPERATION JSON
        prints the form body botocore sends for that input (ec2/query).

SERVICE is the signing name (elasticloadbalancing is the elbv2 model).
"""
import base64
import datetime
import json
import sys
import urllib.parse

import botocore.parsers
import botocore.serialize
import botocore.session

MODELS = {"elasticloadbalancing": "elbv2"}


def model(service):
    return botocore.session.get_session().get_service_model(MODELS.get(service, service))


def plain(v):
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items() if k != "ResponseMetadata"}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, datetime.datetime):
        v = v.astimezone(datetime.timezone.utc)
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (v.microsecond // 1000)
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    return v


def main():
    mode = sys.argv[1]
    m = model(sys.argv[2])
    if mode == "output":
        op = m.operation_model(sys.argv[3])
        body = open(sys.argv[4], "rb").read()
        status = int(sys.argv[5]) if len(sys.argv) > 5 else 200
        parser = botocore.parsers.create_parser(m.metadata["protocol"])
        parsed = parser.parse({"status_code": status, "headers": {}, "body": body}, op.output_shape)
        print(json.dumps(plain(parsed), sort_keys=True))
    elif mode == "error":
        body = open(sys.argv[3], "rb").read()
        parser = botocore.parsers.create_parser(m.metadata["protocol"])
        op = m.operation_model(m.operation_names[0])
        parsed = parser.parse({"status_code": int(sys.argv[4]), "headers": {}, "body": body}, op.output_shape)
        print(json.dumps({"Code": parsed["Error"].get("Code"), "Message": parsed["Error"].get("Message")}))
    elif mode == "serialize":
        op = m.operation_model(sys.argv[3])
        ser = botocore.serialize.create_serializer(m.metadata["protocol"], include_validation=False)
        req = ser.serialize_to_request(json.loads(sys.argv[4]), op)
        print(urllib.parse.urlencode(req["body"]))
    else:
        raise SystemExit("usage: botocore_parse.py output|error|serialize ...")


if __name__ == "__main__":
    main()
