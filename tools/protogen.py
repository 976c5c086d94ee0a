#!/usr/bin/env python3
"""protogen.py - the field tables of gate/kube/protobuf.c, generated from the
Kubernetes generated.proto files.

    python3 tools/protogen.py -I DIR --tag TEXT -o gate/kube/protobuf_tables.inc \
        [--check-go PKG=GOFILE]... PROTO...

reads every PROTO (a path under DIR, as the proto imports name it:
k8s.io/api/core/v1/generated.proto) (the generated.proto files of k8s.io/api and
k8s.io/apimachinery that go-to-protobuf writes), walks the messages
reachable from ROOTS below, and writes one C table per message: its full
name and description, and for each field its number, JSON name, label
(singular, repeated, map<string,V>), value type (a scalar or a message) and
description; and the descriptions of apiVersion and kind (metav1.TypeMeta's
fields).  gate/kube/protobuf.c #includes the output and defines the types
it uses (pb_field, pb_msg, pb_root and the PB_* constants).

Descriptions.  They are what the API server's OpenAPI gives (kubectl
explain prints them): the comment block right above the message or field
in the .proto (go-to-protobuf copies the Go doc comment there), made into
one text as kube-openapi's openapi-gen makes it (generateDescription):
the marker lines starting with "+" and the TODO lines left out, nothing
from a "---" line on, the lines of a paragraph joined by a space,
paragraphs by a blank line, an indented line kept on a line of its own.
A message or field with no comment has NULL.

Messages are named as the OpenAPI document names them (io.k8s.api.core.v1.
PodSpec: the proto package with k8s.io turned into io.k8s), which is how
the decoder's errors name them.

JSON names.  go-to-protobuf names a proto field after the Go field's json
tag, so the proto field name is the JSON name (checked on metadata,
generateName, hostNetwork, securityContext, targetPort and every other
field by --check-go).  The exceptions are the embedded Go structs marked
json:",inline": their proto field has a name of its own but in JSON their
members sit in the parent object.  They are listed in INLINE.  A field
whose proto name was given by hand in its protobuf tag and differs from
its json tag (BoundObjectReference's uID, JSON uid) is listed in
JSON_NAMES.

Empty strings.  gogo writes a non-pointer string even when it is "", and Go
reads "" and absent alike, so the decoder leaves an empty singular string
out.  A *string (or pointer to a string type) is written only when set, and
there "" is a value (PersistentVolumeClaimSpec.storageClassName: "" means no
class, absent means the default class): those fields are listed in
KEEP_EMPTY and keep their "".

The lists are checked against the Go types with
    --check-go io.k8s.api.core.v1=k8s.io/api/core/v1/types.go ...
(GOFILE under DIR, as the protos are, so the command written into the
output's header names no path of the machine that ran it), which reads
the json and protobuf struct tags of the Go files given for each package
and fails when a reachable message has an inline, pointer-string or
renamed field the lists do not name (or the lists name one it does not
have).  A pointer string is a pointer field whose proto type is string,
whatever package declares its Go type (*v1.Protocol in networking/v1).
Run it when ROOTS grow, with a Go file for every package whose messages
are reachable: it names the messages it could not check.

The parser is strict: anything in a .proto file it does not know (oneof,
enum, nested messages, field options, other scalar types) stops the
generator rather than being skipped, so a new construct upstream cannot
drop fields silently.
"""
import argparse
import os
import re
import shlex
import sys

# The request bodies the tables are for: apiVersion, kind, root message.
# Adding a kind is one line here; gate/kube/protobuf.c decides which of these it
# accepts (gate_protobuf_decode's accepted-kinds list).
ROOTS = [
    ("v1", "Pod", "io.k8s.api.core.v1.Pod"),
    ("v1", "Service", "io.k8s.api.core.v1.Service"),
    ("v1", "ConfigMap", "io.k8s.api.core.v1.ConfigMap"),
    ("v1", "Secret", "io.k8s.api.core.v1.Secret"),
    ("v1", "Namespace", "io.k8s.api.core.v1.Namespace"),
    ("v1", "ServiceAccount", "io.k8s.api.core.v1.ServiceAccount"),
    ("v1", "ResourceQuota", "io.k8s.api.core.v1.ResourceQuota"),
    ("v1", "LimitRange", "io.k8s.api.core.v1.LimitRange"),
    ("v1", "PersistentVolumeClaim", "io.k8s.api.core.v1.PersistentVolumeClaim"),
    ("v1", "Node", "io.k8s.api.core.v1.Node"),
    ("apps/v1", "Deployment", "io.k8s.api.apps.v1.Deployment"),
    ("apps/v1", "ReplicaSet", "io.k8s.api.apps.v1.ReplicaSet"),
    ("apps/v1", "StatefulSet", "io.k8s.api.apps.v1.StatefulSet"),
    ("apps/v1", "DaemonSet", "io.k8s.api.apps.v1.DaemonSet"),
    ("batch/v1", "Job", "io.k8s.api.batch.v1.Job"),
    ("batch/v1", "CronJob", "io.k8s.api.batch.v1.CronJob"),
    ("autoscaling/v1", "HorizontalPodAutoscaler", "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler"),
    # the body of PUT .../scale, whichever the kind scaled
    ("autoscaling/v1", "Scale", "io.k8s.api.autoscaling.v1.Scale"),
    ("autoscaling/v2", "HorizontalPodAutoscaler", "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"),
    # the body of POST pods/NAME/eviction (kubectl drain)
    ("policy/v1", "Eviction", "io.k8s.api.policy.v1.Eviction"),
    ("policy/v1", "PodDisruptionBudget", "io.k8s.api.policy.v1.PodDisruptionBudget"),
    ("networking.k8s.io/v1", "Ingress", "io.k8s.api.networking.v1.Ingress"),
    ("networking.k8s.io/v1", "NetworkPolicy", "io.k8s.api.networking.v1.NetworkPolicy"),
    ("rbac.authorization.k8s.io/v1", "Role", "io.k8s.api.rbac.v1.Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", "io.k8s.api.rbac.v1.RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", "io.k8s.api.rbac.v1.ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "io.k8s.api.rbac.v1.ClusterRoleBinding"),
    ("scheduling.k8s.io/v1", "PriorityClass", "io.k8s.api.scheduling.v1.PriorityClass"),
    # the body of POST serviceaccounts/NAME/token
    ("authentication.k8s.io/v1", "TokenRequest", "io.k8s.api.authentication.v1.TokenRequest"),
    # what an agent asks about itself (kubectl auth whoami, can-i), answered
    # by the gate (gate/kube/selfreview.c)
    ("authentication.k8s.io/v1", "SelfSubjectReview", "io.k8s.api.authentication.v1.SelfSubjectReview"),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview", "io.k8s.api.authorization.v1.SelfSubjectAccessReview"),
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview", "io.k8s.api.authorization.v1.SelfSubjectRulesReview"),
] + [
    # DeleteOptions is registered in every group version (metav1.
    # AddToGroupVersion); a typed client sends it under its own one
    # (client-go's WithVersionEncoder), so a DELETE body names the group
    # version of the resource deleted.
    (gv, "DeleteOptions", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")
    for gv in ("v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "policy/v1",
               "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "scheduling.k8s.io/v1",
               "authentication.k8s.io/v1")
]

MV1 = "io.k8s.apimachinery.pkg.apis.meta.v1."

# Messages whose JSON is not their fields (a MarshalJSON in Go), with the
# fields the decoder expects them to have: number -> (name, type, label).
SPECIAL = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity": ("PB_K_QUANTITY", {1: ("string", "string", "optional")}),
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": (
        "PB_K_INTORSTRING",
        {1: ("type", "int64", "optional"), 2: ("intVal", "int32", "optional"), 3: ("strVal", "string", "optional")},
    ),
    MV1 + "Time": ("PB_K_TIME", {1: ("seconds", "int64", "optional"), 2: ("nanos", "int32", "optional")}),
    MV1 + "MicroTime": ("PB_K_MICROTIME", {1: ("seconds", "int64", "optional"), 2: ("nanos", "int32", "optional")}),
    "io.k8s.apimachinery.pkg.runtime.RawExtension": ("PB_K_RAWJSON", {1: ("raw", "bytes", "optional")}),
    MV1 + "FieldsV1": ("PB_K_RAWJSON", {1: ("Raw", "bytes", "optional")}),
    MV1 + "Verbs": ("PB_K_VERBS", {1: ("items", "string", "repeated")}),
    # type ExtraValue []string: a JSON array of strings, as Verbs
    "io.k8s.api.authentication.v1.ExtraValue": ("PB_K_VERBS", {1: ("items", "string", "repeated")}),
}

# Messages with a MarshalJSON the decoder does not reproduce: refused when
# met (none is reachable from ROOTS today).
REFUSED = {
    MV1 + "GroupVersion",                                   # "group/version" string
    MV1 + "Duration",                                       # a Go duration string ("1h0m0s"): no root reaches it
    "io.k8s.apimachinery.pkg.runtime.Unknown",              # raw bytes spliced in
    "io.k8s.apimachinery.pkg.api.resource.QuantityValue",   # a flag wrapper of Quantity
}

# Embedded Go structs with json:",inline" (core/v1 types.go): their members
# are JSON members of the parent.
INLINE = {
    ("io.k8s.api.core.v1.Volume", "volumeSource"),
    ("io.k8s.api.core.v1.PersistentVolumeSpec", "persistentVolumeSource"),
    ("io.k8s.api.core.v1.Probe", "handler"),
    ("io.k8s.api.core.v1.EphemeralContainer", "ephemeralContainerCommon"),
    ("io.k8s.api.core.v1.ConfigMapEnvSource", "localObjectReference"),
    ("io.k8s.api.core.v1.ConfigMapKeySelector", "localObjectReference"),
    ("io.k8s.api.core.v1.ConfigMapProjection", "localObjectReference"),
    ("io.k8s.api.core.v1.ConfigMapVolumeSource", "localObjectReference"),
    ("io.k8s.api.core.v1.SecretEnvSource", "localObjectReference"),
    ("io.k8s.api.core.v1.SecretKeySelector", "localObjectReference"),
    ("io.k8s.api.core.v1.SecretProjection", "localObjectReference"),
    ("io.k8s.api.networking.v1.IngressRule", "ingressRuleValue"),
}

# Fields whose JSON name is not their proto name (the protobuf tag names
# them by hand): (message, proto name) -> JSON name.
JSON_NAMES = {
    ("io.k8s.api.authentication.v1.BoundObjectReference", "uID"): "uid",
}

# Pointer-to-string Go fields (*string, *PreemptionPolicy, ...) of the
# reachable messages: present-and-"" is a value there, kept as "".
KEEP_EMPTY = {
    (MV1 + "DeleteOptions", "propagationPolicy"),
    (MV1 + "Preconditions", "uid"),
    (MV1 + "Preconditions", "resourceVersion"),
    ("io.k8s.api.batch.v1.CronJobSpec", "timeZone"),
    ("io.k8s.api.batch.v1.JobSpec", "completionMode"),
    ("io.k8s.api.batch.v1.JobSpec", "podReplacementPolicy"),
    ("io.k8s.api.batch.v1.JobSpec", "managedBy"),
    ("io.k8s.api.batch.v1.JobStatus", "failedIndexes"),
    ("io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement", "containerName"),
    ("io.k8s.api.batch.v1.SuccessPolicyRule", "succeededIndexes"),
    ("io.k8s.api.autoscaling.v2.HPAScalingRules", "selectPolicy"),
    ("io.k8s.api.core.v1.AppArmorProfile", "localhostProfile"),
    ("io.k8s.api.core.v1.AzureDiskVolumeSource", "cachingMode"),
    ("io.k8s.api.core.v1.AzureDiskVolumeSource", "fsType"),
    ("io.k8s.api.core.v1.AzureDiskVolumeSource", "kind"),
    ("io.k8s.api.core.v1.ClusterTrustBundleProjection", "name"),
    ("io.k8s.api.core.v1.ClusterTrustBundleProjection", "signerName"),
    ("io.k8s.api.core.v1.GRPCAction", "service"),
    ("io.k8s.api.core.v1.HostPathVolumeSource", "type"),
    ("io.k8s.api.core.v1.ISCSIVolumeSource", "initiatorName"),
    ("io.k8s.api.core.v1.PodDNSConfigOption", "value"),
    ("io.k8s.api.core.v1.PortStatus", "error"),
    ("io.k8s.api.core.v1.CSIVolumeSource", "fsType"),
    ("io.k8s.api.core.v1.Container", "restartPolicy"),
    ("io.k8s.api.core.v1.EphemeralContainerCommon", "restartPolicy"),
    ("io.k8s.api.core.v1.PersistentVolumeClaimSpec", "storageClassName"),
    ("io.k8s.api.core.v1.PersistentVolumeClaimSpec", "volumeMode"),
    ("io.k8s.api.core.v1.PersistentVolumeClaimSpec", "volumeAttributesClassName"),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "currentVolumeAttributesClassName"),
    ("io.k8s.api.core.v1.PodResourceClaim", "resourceClaimName"),
    ("io.k8s.api.core.v1.PodResourceClaim", "resourceClaimTemplateName"),
    ("io.k8s.api.core.v1.PodResourceClaimStatus", "resourceClaimName"),
    ("io.k8s.api.core.v1.PodSecurityContext", "supplementalGroupsPolicy"),
    ("io.k8s.api.core.v1.PodSecurityContext", "fsGroupChangePolicy"),
    ("io.k8s.api.core.v1.PodSecurityContext", "seLinuxChangePolicy"),
    ("io.k8s.api.core.v1.PodSpec", "runtimeClassName"),
    ("io.k8s.api.core.v1.PodSpec", "preemptionPolicy"),
    ("io.k8s.api.core.v1.SeccompProfile", "localhostProfile"),
    ("io.k8s.api.core.v1.SecurityContext", "procMount"),
    ("io.k8s.api.core.v1.ServicePort", "appProtocol"),
    ("io.k8s.api.core.v1.ServiceSpec", "ipFamilyPolicy"),
    ("io.k8s.api.core.v1.ServiceSpec", "loadBalancerClass"),
    ("io.k8s.api.core.v1.ServiceSpec", "internalTrafficPolicy"),
    ("io.k8s.api.core.v1.ServiceSpec", "trafficDistribution"),
    ("io.k8s.api.core.v1.TopologySpreadConstraint", "nodeAffinityPolicy"),
    ("io.k8s.api.core.v1.TopologySpreadConstraint", "nodeTaintsPolicy"),
    ("io.k8s.api.core.v1.TypedLocalObjectReference", "apiGroup"),
    ("io.k8s.api.core.v1.TypedObjectReference", "apiGroup"),
    ("io.k8s.api.core.v1.TypedObjectReference", "namespace"),
    ("io.k8s.api.core.v1.VolumeMount", "mountPropagation"),
    ("io.k8s.api.core.v1.VolumeMount", "recursiveReadOnly"),
    ("io.k8s.api.core.v1.VolumeMountStatus", "recursiveReadOnly"),
    ("io.k8s.api.core.v1.WindowsSecurityContextOptions", "gmsaCredentialSpecName"),
    ("io.k8s.api.core.v1.WindowsSecurityContextOptions", "gmsaCredentialSpec"),
    ("io.k8s.api.core.v1.WindowsSecurityContextOptions", "runAsUserName"),
    ("io.k8s.api.core.v1.LoadBalancerIngress", "ipMode"),
    ("io.k8s.api.networking.v1.HTTPIngressPath", "pathType"),
    ("io.k8s.api.networking.v1.IngressPortStatus", "error"),
    ("io.k8s.api.networking.v1.IngressSpec", "ingressClassName"),
    ("io.k8s.api.networking.v1.NetworkPolicyPort", "protocol"),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", "unhealthyPodEvictionPolicy"),
    ("io.k8s.api.scheduling.v1.PriorityClass", "preemptionPolicy"),
}

# The scalar types of the Kubernetes protos (enums are strings there).  No
# uint*, sint*, fixed*, float or double field exists in them; one appearing
# stops the generator, and gate/kube/protobuf.c would need its decoding.
SCALARS = {"string": "PB_STRING", "bytes": "PB_BYTES", "bool": "PB_BOOL", "int32": "PB_INT32", "int64": "PB_INT64"}


class ProtoError(Exception):
    pass


def openapi_name(package):
    """k8s.io.api.core.v1 -> io.k8s.api.core.v1"""
    if not package.startswith("k8s.io."):
        raise ProtoError("package %s is not under k8s.io" % package)
    return "io.k8s." + package[len("k8s.io."):]


FIELD_RE = re.compile(r"^(optional|repeated|required) ([.\w]+) (\w+) = (\d+);$")
MAP_RE = re.compile(r"^map<(\w+), ([.\w]+)> (\w+) = (\d+);$")


def parse_proto(path, messages):
    """Adds path's messages to messages: full name -> {"fields": [...]}, each
    field a dict(num, name, label, type) with type a scalar name or a full
    message name (resolved later), label optional/repeated/map.  A message
    and each field also get "doc": the lines of the // comment block right
    above it, "//" and one space taken off each."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    package = None
    cur = None
    doc = []   # the comment block read since the last line of anything else
    for lineno, raw in enumerate(text.split("\n"), 1):
        stripped = raw.strip()
        if stripped.startswith("//"):
            body = stripped[2:]
            doc.append(body[1:] if body.startswith(" ") else body)
            continue
        above, doc = doc, []
        line = raw.split("//", 1)[0].strip()
        where = "%s:%d" % (path, lineno)
        if not line:
            continue
        if cur is None:
            if line == 'syntax = "proto2";' or line.startswith("import ") or line.startswith("option "):
                continue
            m = re.match(r"^package ([\w.]+);$", line)
            if m:
                package = openapi_name(m.group(1))
                continue
            m = re.match(r"^message (\w+) \{$", line)
            if m:
                if package is None:
                    raise ProtoError("%s: message before package" % where)
                cur = package + "." + m.group(1)
                if cur in messages:
                    raise ProtoError("%s: %s defined twice" % (where, cur))
                messages[cur] = {"fields": [], "package": package, "where": where, "doc": above}
                continue
            raise ProtoError("%s: not understood: %s" % (where, line))
        if line == "}":
            cur = None
            continue
        m = FIELD_RE.match(line)
        if m:
            label, typ, name, num = m.groups()
            if label == "required":
                label = "optional"   # proto2 required: one occurrence, as optional here
            messages[cur]["fields"].append(
                {"num": int(num), "name": name, "label": label, "type": typ, "where": where, "doc": above})
            continue
        m = MAP_RE.match(line)
        if m:
            ktyp, vtyp, name, num = m.groups()
            if ktyp != "string":
                raise ProtoError("%s: map key type %s (only string keys are handled)" % (where, ktyp))
            messages[cur]["fields"].append(
                {"num": int(num), "name": name, "label": "map", "type": vtyp, "where": where, "doc": above})
            continue
        raise ProtoError("%s: not understood inside message %s: %s" % (where, cur, line))
    if cur is not None:
        raise ProtoError("%s: message %s not closed" % (path, cur))


def description(doc):
    """A comment block as the API server's OpenAPI gives it (kube-openapi's
    openapi-gen, generateDescription): nothing from a "---" line on, no
    "+" marker lines nor TODO lines, the lines of a paragraph joined by a
    space, paragraphs by a blank line, an indented line on a line of its
    own.  "" when nothing is left."""
    buf = ""
    for line in doc:
        if line == "---":
            break
        line = line.rstrip(" ")
        leading = line.lstrip(" ")
        if not line:
            buf = buf[:-1] + "\n\n"
        elif leading.startswith("TODO") or leading.startswith("+"):
            continue
        elif line.startswith((" ", "\t")):
            buf = buf[:-1] + "\n" + line + "\n"
        else:
            buf += line + " "
    return buf.strip()


def c_string(text, indent):
    """text as a C string literal, split after each newline and at a space
    past 90 columns into pieces on lines of their own, each after indent
    (the first too).  Escaped: backslash, quote, newline, tab, a "?" after
    a "?" (a trigraph under -std=c11) and every byte outside printable
    ASCII (in octal, three digits, so that no digit after it is taken in)."""
    pieces, cur, prev = [], "", ""
    for ch in text:
        if ch == "\\" or ch == '"':
            cur += "\\" + ch
        elif ch == "\n":
            cur += "\\n"
        elif ch == "\t":
            cur += "\\t"
        elif ch == "?" and prev == "?":
            cur += "\\?"
        elif " " <= ch <= "~":
            cur += ch
        else:
            cur += "".join("\\%03o" % b for b in ch.encode("utf-8"))
        prev = ch
        if ch == "\n" or (ch == " " and len(cur) > 90):
            pieces.append(cur)
            cur = ""
    if cur or not pieces:
        pieces.append(cur)
    return "\n".join('%s"%s"' % (indent, p) for p in pieces)


def resolve(messages):
    """Types to full message names; checks numbers and names are unique."""
    for full, msg in messages.items():
        nums, names = set(), set()
        for f in msg["fields"]:
            if f["num"] in nums or f["name"] in names or not 1 <= f["num"] <= 536870911:
                raise ProtoError("%s: field %s = %d repeated or out of range" % (f["where"], f["name"], f["num"]))
            nums.add(f["num"])
            names.add(f["name"])
            t = f["type"]
            if t in SCALARS:
                continue
            if t[0].islower() and "." not in t:
                raise ProtoError("%s: scalar type %s is not handled (SCALARS)" % (f["where"], t))
            ref = openapi_name(t[1:]) if t.startswith(".") else msg["package"] + "." + t
            if ref not in messages:
                raise ProtoError("%s: unknown message %s (add its generated.proto)" % (f["where"], t))
            f["type"] = ref
        msg["fields"].sort(key=lambda f: f["num"])


def reachable(messages, roots):
    seen, todo = [], list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in messages:
            raise ProtoError("root %s is in none of the proto files" % name)
        seen.append(name)
        if name in SPECIAL:
            continue   # decoded by its own rules, its fields are not walked
        for f in messages[name]["fields"]:
            if f["type"] not in SCALARS:
                todo.append(f["type"])
    return sorted(seen)


def check_lists(messages, names):
    """SPECIAL shapes match, INLINE, KEEP_EMPTY and JSON_NAMES name real
    fields, an inline message's JSON names do not collide with its
    parent's, and no reachable message has one JSON name twice."""
    for name, (kind, want) in SPECIAL.items():
        if name not in names:
            continue
        got = {f["num"]: (f["name"], f["type"], f["label"]) for f in messages[name]["fields"]}
        if got != want:
            raise ProtoError("%s changed shape: %r, the decoder expects %r" % (name, got, want))
    for msg, field in sorted(INLINE | KEEP_EMPTY | set(JSON_NAMES)):
        if msg not in messages:
            continue   # a package not given on this run
        f = [f for f in messages[msg]["fields"] if f["name"] == field]
        if not f:
            raise ProtoError("%s has no field %s (INLINE, KEEP_EMPTY or JSON_NAMES)" % (msg, field))
        if (msg, field) in KEEP_EMPTY and (f[0]["type"] != "string" or f[0]["label"] != "optional"):
            raise ProtoError("KEEP_EMPTY %s.%s is not a singular string" % (msg, field))
        if (msg, field) in INLINE:
            sub = f[0]["type"]
            if f[0]["label"] != "optional" or sub not in messages or sub in SPECIAL:
                raise ProtoError("INLINE %s.%s is not a singular plain message" % (msg, field))
            parent = json_names(messages, msg, exclude=field)
            clash = parent & json_names(messages, sub)
            if clash:
                raise ProtoError("INLINE %s.%s: JSON names %s collide" % (msg, field, sorted(clash)))
    for name in names:
        if name not in SPECIAL:
            json_names(messages, name)


def json_name(msg, field):
    return JSON_NAMES.get((msg, field), field)


def json_names(messages, msg, exclude=None):
    """The JSON member names of msg's object, inline members included; one
    name twice stops the generator."""
    out = set()
    for f in messages[msg]["fields"]:
        if f["name"] == exclude:
            continue
        if (msg, f["name"]) in INLINE:
            sub = json_names(messages, f["type"])
        else:
            sub = {json_name(msg, f["name"])}
        if out & sub:
            raise ProtoError("%s: JSON names %s given twice" % (msg, sorted(out & sub)))
        out |= sub
    return out


def typemeta_doc(messages, field):
    """The comment of metav1.TypeMeta's field (apiVersion or kind)."""
    f = [f for f in messages.get(MV1 + "TypeMeta", {"fields": []})["fields"] if f["name"] == field]
    if not f or not description(f[0]["doc"]):
        raise ProtoError("%sTypeMeta has no field %s with a comment (give meta/v1's generated.proto)" % (MV1, field))
    return f[0]["doc"]


def c_ident(name):
    return re.sub(r"\W", "_", name)


def emit(messages, names, tag, command, checked):
    """The .inc's text and its number of fields; command is the command
    line to rerun it, a list of lines, and checked what --check-go said."""
    index = {n: i for i, n in enumerate(names)}
    nfields = sum(len(messages[n]["fields"]) for n in names)
    out = []
    w = out.append
    w("/*")
    w(" * gate/kube/protobuf_tables.inc - GENERATED, DO NOT EDIT.")
    w(" *")
    w(" * The protobuf field tables of the Kubernetes objects gate/kube/protobuf.c")
    w(" * decodes, generated by tools/protogen.py from the generated.proto files of")
    w(" *   %s" % tag)
    w(" *")
    w(" * To rerun it, put each file the command below names at that path under a")
    w(" * directory DIR (DIR/k8s.io/api/FILE is FILE of kubernetes/api, DIR/k8s.io/")
    w(" * apimachinery/FILE is FILE of kubernetes/apimachinery, at the commits named")
    w(" * above: `git show COMMIT:FILE` in a clone) and run, from the top of the tree,")
    w(" *")
    for i, line in enumerate(command):
        w(" *   %s%s%s" % ("    " if i else "", line, " \\" if i + 1 < len(command) else ""))
    w(" *")
    for line in checked:
        w(" * %s" % line)
    w(" *")
    w(" * %d messages reachable from %d roots, %d fields." % (len(names), len(ROOTS), nfields))
    w(" * Each message and field carries its description, made of the comment")
    w(" * above it in its generated.proto as the API server's OpenAPI makes it.")
    w(" * To change anything here, change tools/protogen.py or the tag and rerun it.")
    w(" */")
    w("")
    maxf = max(len(messages[n]["fields"]) for n in names)
    w("enum { PB_NMSGS = %d, PB_MAX_FIELDS = %d };" % (len(names), maxf))
    w("")
    for n in names:
        fields = messages[n]["fields"]
        if not fields:
            continue
        w("static const pb_field pb_f_%s[] = {" % c_ident(n))
        for f in fields:
            flags = []
            if f["label"] == "repeated":
                flags.append("PB_REPEATED")
            if f["label"] == "map":
                flags.append("PB_MAP")
            if (n, f["name"]) in INLINE:
                flags.append("PB_INLINE")
            if (n, f["name"]) in KEEP_EMPTY:
                flags.append("PB_KEEP_EMPTY")
            if f["type"] in SCALARS:
                typ, ref, note = SCALARS[f["type"]], 0, ""
            else:
                typ, ref, note = "PB_MESSAGE", index[f["type"]], " /* %s */" % f["type"].rsplit(".", 1)[1]
            row = '    {%d, "%s", %s, %s, %d,' % (f["num"], json_name(n, f["name"]), typ, "|".join(flags) or "0", ref)
            desc = description(f["doc"])
            if desc:
                w(row + note)
                w(c_string(desc, "     ") + "},")
            else:
                w(row + " NULL}," + note)
        w("};")
    w("")
    w("static const pb_msg pb_msgs[PB_NMSGS] = {")
    for i, n in enumerate(names):
        kind = SPECIAL[n][0] if n in SPECIAL else ("PB_K_REFUSED" if n in REFUSED else "PB_K_PLAIN")
        fields = messages[n]["fields"]
        arr = "pb_f_%s" % c_ident(n) if fields else "NULL"
        row = '    /* %3d */ {"%s", %s, %d, %s,' % (i, n, kind, len(fields), arr)
        desc = description(messages[n]["doc"])
        if desc:
            w(row)
            w(c_string(desc, "              ") + "},")
        else:
            w(row + " NULL},")
    w("};")
    w("")
    w("/* The descriptions of apiVersion and kind, the members every kind has")
    w(" * (metav1.TypeMeta's fields in the OpenAPI, inlined in each kind). */")
    for cname, field in (("pb_desc_api_version", "apiVersion"), ("pb_desc_kind", "kind")):
        desc = description(typemeta_doc(messages, field))
        w("static const char %s[] =" % cname)
        w(c_string(desc, "    ") + ";")
    w("")
    w("static const pb_root pb_roots[] = {")
    for av, kind, msg in ROOTS:
        w('    {"%s", "%s", %d}, /* %s */' % (av, kind, index[msg], msg))
    w("};")
    return "\n".join(out) + "\n", nfields


# ---- --check-go: the lists against the Go struct tags ----

def go_fields(path):
    """struct name -> [(go type, json tag, protobuf tag, embedded)] and the
    names of the string types declared in path."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    structs = {}
    # string types of this file, and types.UID (k8s.io/apimachinery/pkg/types)
    strtypes = set(re.findall(r"^type (\w+) string\b", text, flags=re.M)) | {"types.UID"}
    for m in re.finditer(r"^type (\w+) struct \{\n(.*?)^\}", text, flags=re.M | re.S):
        rows = []
        for line in m.group(2).split("\n"):
            line = line.split("//", 1)[0].strip() if "`" not in line else line.strip()
            t = re.match(r"^(?:(\w+)\s+)?([*\[\]\w.]+)\s+`(.*)`", line)
            if not t:
                continue
            pb = re.search(r'protobuf:"([^"]*)"', t.group(3))
            js = re.search(r'json:"([^"]*)"', t.group(3))
            if pb:
                rows.append((t.group(2), js.group(1) if js else None, pb.group(1), t.group(1) is None))
        structs[m.group(1)] = rows
    return structs, strtypes


def check_go(messages, names, root, specs):
    bad = []
    found_inline, found_keep, found_renamed = set(), set(), {}
    checked = set()
    for spec in specs:
        pkg, _, path = spec.partition("=")
        structs, strtypes = go_fields(os.path.join(root, path))
        for sname, rows in structs.items():
            full = pkg + "." + sname
            if full not in names or full in SPECIAL:
                continue
            checked.add(full)
            for gotype, js, pb, embedded in rows:
                pbname = re.search(r"name=([^,]*)", pb)
                num = int(pb.split(",")[1])
                pf = [f for f in messages[full]["fields"] if f["num"] == num]
                if not pf:
                    bad.append("%s: Go field %s has number %d, not in the proto" % (full, pb, num))
                    continue
                pname = pf[0]["name"]
                if pbname and pbname.group(1) != pname:
                    bad.append("%s: proto name %s, Go protobuf tag %s" % (full, pname, pb))
                jname = js.split(",")[0] if js is not None else None
                if js is not None and ",inline" in js and jname == "":
                    found_inline.add((full, pname))
                elif jname != pname:
                    found_renamed[(full, pname)] = jname
                # a pointer to a string type of any package: its proto type
                # is string (a pointer to a struct is a message, to an int
                # or a bool a varint)
                if gotype.startswith("*") and (gotype[1:] == "string" or gotype[1:] in strtypes or
                                               (pf[0]["type"] == "string" and pf[0]["label"] == "optional")):
                    found_keep.add((full, pname))
    for pair in sorted(found_inline - INLINE):
        bad.append("inline in Go, missing from INLINE: %s.%s" % pair)
    for pair in sorted(found_keep - KEEP_EMPTY):
        bad.append("pointer string in Go, missing from KEEP_EMPTY: %s.%s" % pair)
    for pair, jname in sorted(found_renamed.items()):
        if JSON_NAMES.get(pair) != jname:
            bad.append("%s.%s: JSON name %r differs from the proto name, missing from JSON_NAMES" % (pair + (jname,)))
    for msg, field in sorted((INLINE - found_inline) | (KEEP_EMPTY - found_keep) |
                             (set(JSON_NAMES) - set(found_renamed))):
        if msg in checked:
            bad.append("listed but not so in Go: %s.%s" % (msg, field))
    unchecked = [n for n in names if n not in checked and n not in SPECIAL and n not in REFUSED]
    return bad, unchecked


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("protos", nargs="+", help="generated.proto files, relative to -I")
    ap.add_argument("-I", dest="root", default=".", help="the directory the proto paths are under")
    ap.add_argument("-o", "--output", help="the .inc to write (default: stdout)")
    ap.add_argument("--tag", required=True, help="where the protos come from, for the header")
    ap.add_argument("--check-go", action="append", default=[], metavar="PKG=GOFILE",
                    help="check INLINE, KEEP_EMPTY and JSON_NAMES against a Go file of package PKG, "
                         "relative to -I")
    args = ap.parse_args()
    # the paths go into the output's header as they are given: none may be
    # the machine's own
    for p in args.protos + [c.partition("=")[2] for c in args.check_go] + [args.output or ""]:
        if os.path.isabs(p) or ".." in p.split(os.sep):
            sys.exit("protogen: %s: give paths relative to -I (the protos, --check-go) or to the top of the "
                     "tree (-o)" % p)
    messages = {}
    try:
        for p in args.protos:
            parse_proto(os.path.join(args.root, p), messages)
        resolve(messages)
        names = reachable(messages, [r[2] for r in ROOTS])
        check_lists(messages, names)
        typemeta_doc(messages, "apiVersion")
        typemeta_doc(messages, "kind")
    except ProtoError as e:
        sys.exit("protogen: %s" % e)
    checked = ["The INLINE, KEEP_EMPTY and JSON_NAMES lists of tools/protogen.py were",
               "not checked against the Go types (no --check-go)."]
    if args.check_go:
        bad, unchecked = check_go(messages, names, args.root, args.check_go)
        checked = ["--check-go checked the INLINE, KEEP_EMPTY and JSON_NAMES lists of",
                   "tools/protogen.py against the Go types of %s." % (
                       "every reachable message" if not unchecked else
                       "%d of the %d reachable messages" % (len(names) - len(unchecked), len(names)))]
        for b in bad:
            print("protogen: check-go: %s" % b, file=sys.stderr)
        print("protogen: check-go: %d messages checked, %d not found in the Go files given%s" % (
            len(names) - len(unchecked), len(unchecked), (": " + " ".join(unchecked)) if unchecked else ""),
            file=sys.stderr)
        if bad:
            sys.exit(1)
    # the command line for the header, DIR standing for -I
    command = ["python3 tools/protogen.py -I DIR", "--tag " + shlex.quote(args.tag)]
    if args.output:
        command.append("-o " + args.output)
    command += ["--check-go " + c for c in args.check_go]
    for i in range(0, len(args.protos), 2):
        command.append(" ".join(args.protos[i:i + 2]))
    text, nfields = emit(messages, names, args.tag, command, checked)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    print("protogen: %d messages, %d fields" % (len(names), nfields), file=sys.stderr)


if __name__ == "__main__":
    main()
