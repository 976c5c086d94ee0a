#!/usr/bin/env python3
"""awsgen.py - writes gate/aws/model.inc: the parts of botocore's service
models that gate/aws/protocol.c needs, as C tables.

    python3 tools/awsgen.py [BOTOCORE_DATA_DIR] > gate/aws/model.inc

Only the operations listed in OPS below and the shapes their input and
output reach (transitively) are written, without documentation, so the
file stays small and the build never needs botocore.  The output is
deterministic (shapes in the order they are first reached), so a
regenerated file diffs cleanly.

Each reference to a shape (a structure member, a list member, a map key or
value, an operation's input or output) becomes one row of aws_refs[] with
its *effective* serialization: botocore merges the traits of the referring
member (locationName, queryName, flattened, location, xmlNamespace,
xmlAttribute, timestampFormat) over the shape's own (botocore/model.py,
resolve_shape_ref), and so does this generator.
"""
import json
import os
import sys

DATA = sys.argv[1] if len(sys.argv) > 1 else "/usr/lib/python3/dist-packages/botocore/data"

# signing name -> (model directory, operations)
SERVICES = [
    ("ec2", "ec2/2016-11-15",
     "DescribeInstances DescribeSecurityGroups DescribeVpcs DescribeSubnets DescribeVolumes "
     "DescribeSnapshots RunInstances TerminateInstances StopInstances StartInstances RebootInstances "
     "ModifyInstanceAttribute DescribeInstanceAttribute AuthorizeSecurityGroupIngress "
     "AuthorizeSecurityGroupEgress RevokeSecurityGroupIngress RevokeSecurityGroupEgress "
     "CreateSecurityGroup DeleteSecurityGroup CreateTags DeleteTags DeleteVolume CreateSnapshot "
     "DeleteSnapshot DeleteVpc DeleteSubnet ModifySubnetAttribute"),
    ("autoscaling", "autoscaling/2011-01-01",
     "DescribeAutoScalingGroups DescribeAutoScalingInstances SetDesiredCapacity UpdateAutoScalingGroup "
     "TerminateInstanceInAutoScalingGroup DeleteAutoScalingGroup CreateOrUpdateTags DeleteTags"),
    ("elasticloadbalancing", "elbv2/2015-12-01",
     "DescribeLoadBalancers DescribeTargetGroups DescribeTargetHealth RegisterTargets DeregisterTargets "
     "DeleteTargetGroup DeleteLoadBalancer AddTags RemoveTags DescribeTags"),
    ("iam", "iam/2010-05-08",
     "GetAccountAuthorizationDetails ListRoles ListUsers ListPolicies GetRole GetUser GetPolicy "
     "GetPolicyVersion ListAttachedRolePolicies ListAttachedUserPolicies ListRolePolicies GetRolePolicy "
     "AttachRolePolicy DetachRolePolicy AttachUserPolicy DetachUserPolicy PutRolePolicy DeleteRolePolicy "
     "PutUserPolicy DeleteUserPolicy CreateRole DeleteRole UpdateAssumeRolePolicy CreateUser DeleteUser "
     "CreateAccessKey DeleteAccessKey ListAccessKeys CreatePolicy DeletePolicy CreatePolicyVersion "
     "TagRole UntagRole"),
    ("rds", "rds/2014-10-31",
     "DescribeDBInstances DescribeDBSnapshots DeleteDBInstance ModifyDBInstance StopDBInstance "
     "StartDBInstance RebootDBInstance CreateDBSnapshot DeleteDBSnapshot AddTagsToResource "
     "RemoveTagsFromResource ListTagsForResource"),
    ("sts", "sts/2011-06-15", "GetCallerIdentity"),
    ("s3", "s3/2006-03-01",
     "ListBuckets HeadBucket CreateBucket DeleteBucket GetBucketLocation GetBucketPolicy PutBucketPolicy "
     "DeleteBucketPolicy GetBucketPolicyStatus GetBucketAcl PutBucketAcl GetPublicAccessBlock "
     "PutPublicAccessBlock DeletePublicAccessBlock GetBucketTagging PutBucketTagging DeleteBucketTagging "
     "ListObjectsV2 ListObjects GetObject HeadObject PutObject DeleteObject"),
]

# The root element S3 writes around an output structure that has no payload
# member (the model does not name it; these are S3's documented answers).
S3_ROOT = {
    "ListBuckets": "ListAllMyBucketsResult",
    "GetBucketLocation": "LocationConstraint",
    "GetBucketAcl": "AccessControlPolicy",
    "GetBucketTagging": "Tagging",
    "ListObjectsV2": "ListBucketResult",
    "ListObjects": "ListBucketResult",
}

TYPES = ["structure", "list", "map", "string", "integer", "long", "boolean", "double", "float",
         "timestamp", "blob"]
LOCATIONS = {None: 0, "uri": 1, "querystring": 2, "header": 3, "headers": 4, "statusCode": 5}
TRAITS = ("locationName", "queryName", "flattened", "location", "xmlNamespace", "xmlAttribute",
          "timestampFormat", "streaming")


def load(service_dir):
    with open(os.path.join(DATA, service_dir, "service-2.json")) as f:
        return json.load(f)


def c_str(s):
    if s is None:
        return "NULL"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Gen:
    def __init__(self):
        self.shapes = []      # rows: [type, first_ref, nrefs, payload_index, name]
        self.refs = []        # rows: dict
        self.shape_index = {}  # (service, shape name) -> index

    def ref(self, model, svc, name, ref):
        """Adds a row for a reference (a dict with 'shape' and traits) and
        returns its index; the referenced shape is emitted when first seen."""
        shape = model["shapes"][ref["shape"]]
        eff = {k: shape[k] for k in TRAITS if k in shape}
        eff.update({k: ref[k] for k in TRAITS if k in ref})
        row = {"name": name, "eff": eff, "shape": None}
        self.refs.append(row)
        idx = len(self.refs) - 1
        row["shape"] = self.shape(model, svc, ref["shape"])
        return idx

    def shape(self, model, svc, sname):
        key = (svc, sname)
        if key in self.shape_index:
            return self.shape_index[key]
        s = model["shapes"][sname]
        t = s["type"]
        if t not in TYPES:
            raise SystemExit(f"awsgen: {svc} shape {sname}: type {t} not supported")
        idx = len(self.shapes)
        self.shape_index[key] = idx
        row = [TYPES.index(t) + 1, 0, 0, -1, sname, s.get("required", [])]
        self.shapes.append(row)
        # children are emitted contiguously: reserve their rows first, then
        # fill them (which may append further shapes and refs after them)
        if t == "structure":
            members = list(s.get("members", {}).items())
        elif t == "list":
            members = [(None, s["member"])]
        elif t == "map":
            members = [(None, s["key"]), (None, s["value"])]
        else:
            members = []
        first = len(self.refs)
        slots = []
        for mname, mref in members:
            self.refs.append(None)
            slots.append((first + len(slots), mname, mref))
        row[1], row[2] = first, len(members)
        if t == "structure" and "payload" in s:
            row[3] = [m for m, _ in members].index(s["payload"])
        for slot, mname, mref in slots:
            mshape = model["shapes"][mref["shape"]]
            eff = {k: mshape[k] for k in TRAITS if k in mshape}
            eff.update({k: mref[k] for k in TRAITS if k in mref})
            if mname is not None and mname in row[5]:
                eff["required"] = True
            r = {"name": mname, "eff": eff, "shape": None}
            self.refs[slot] = r
            r["shape"] = self.shape(model, svc, mref["shape"])
        return idx


def main():
    g = Gen()
    services = []
    ops = []
    for svc, mdir, names in SERVICES:
        model = load(mdir)
        md = model["metadata"]
        xmlns = md.get("xmlNamespace")
        if xmlns and not xmlns.endswith("/"):
            xmlns += "/"
        first_op = len(ops)
        for op in sorted(names.split()):
            o = model["operations"][op]
            inp = g.ref(model, svc, None, o["input"]) if "input" in o else -1
            outp = g.ref(model, svc, None, o["output"]) if "output" in o else -1
            wrapper = o.get("output", {}).get("resultWrapper")
            http = o.get("http", {})
            ops.append({
                "name": op, "in": inp, "out": outp, "wrapper": wrapper,
                "method": http.get("method", "POST"), "uri": http.get("requestUri", "/"),
                "status": http.get("responseCode", 200),
                "root": S3_ROOT.get(op) if svc == "s3" else None,
            })
        services.append((svc, md["protocol"], md["apiVersion"], xmlns, first_op, len(ops) - first_op))

    w = sys.stdout.write
    w("/* gate/aws/model.inc - generated by tools/awsgen.py from botocore's service models\n"
      " * (botocore data: ec2 2016-11-15, autoscaling 2011-01-01, elbv2 2015-12-01, iam 2010-05-08,\n"
      " * rds 2014-10-31, sts 2011-06-15, s3 2006-03-01).  Do not edit: run\n"
      " *     python3 tools/awsgen.py > gate/aws/model.inc\n"
      " * Included by gate/aws/protocol.c only, which defines the row types. */\n\n")
    w(f"#define AWS_NSHAPES {len(g.shapes)}\n#define AWS_NREFS {len(g.refs)}\n#define AWS_NOPS {len(ops)}\n\n")
    w("static const aws_shape aws_shapes[AWS_NSHAPES] = {\n")
    for i, (t, first, n, payload, name, _req) in enumerate(g.shapes):
        w(f"    /* {i} {name} */ {{{t}, {first}, {n}, {payload}}},\n")
    w("};\n\n")
    w("static const aws_ref aws_refs[AWS_NREFS] = {\n")
    for i, r in enumerate(g.refs):
        e = r["eff"]
        flags = []
        if e.get("flattened"):
            flags.append("AWS_FLATTENED")
        if e.get("xmlAttribute"):
            flags.append("AWS_XMLATTR")
        if e.get("required"):
            flags.append("AWS_REQUIRED")
        if e.get("streaming"):
            flags.append("AWS_STREAMING")
        tf = e.get("timestampFormat")
        if tf == "rfc822":
            flags.append("AWS_TS_RFC822")
        elif tf == "unixTimestamp":
            flags.append("AWS_TS_UNIX")
        elif tf == "iso8601":
            flags.append("AWS_TS_ISO")
        ns = e.get("xmlNamespace") or {}
        loc = e.get("location")
        if loc not in LOCATIONS:
            raise SystemExit(f"awsgen: location {loc} not supported")
        w(f"    /* {i} */ {{{c_str(r['name'])}, {c_str(e.get('locationName'))}, {c_str(e.get('queryName'))}, "
          f"{c_str(ns.get('uri'))}, {c_str(ns.get('prefix'))}, {r['shape']}, {LOCATIONS[loc]}, "
          f"{'|'.join(flags) or '0'}}},\n")
    w("};\n\n")
    w("static const aws_op aws_ops[AWS_NOPS] = {\n")
    for o in ops:
        w(f"    {{{c_str(o['name'])}, {o['in']}, {o['out']}, {c_str(o['wrapper'])}, {c_str(o['method'])}, "
          f"{c_str(o['uri'])}, {o['status']}, {c_str(o['root'])}}},\n")
    w("};\n\n")
    w("static const aws_service aws_services[] = {\n")
    for svc, proto, ver, xmlns, first, n in services:
        pid = {"ec2": "AWS_PROTO_EC2", "query": "AWS_PROTO_QUERY", "rest-xml": "AWS_PROTO_RESTXML"}[proto]
        w(f"    {{{c_str(svc)}, {pid}, {c_str(ver)}, {c_str(xmlns)}, {first}, {n}}},\n")
    w("};\n")


if __name__ == "__main__":
    main()
