#!/usr/bin/env python3
"""The reference reader: reads each request production received (the
recorder's log) by the Kubernetes API server's rules, and checks it is the
action the gate judged (the audit log's decision records, whose "forwarded"
names the request sent).

The API server's rules followed here (apiserver 1.32):
  - the request target has no fragment; the path is percent-decoded (Go's
    URL.Path) and split on '/';
  - a query parameter given twice is read by its first value (Go's
    url.Values.Get and apimachinery's Convert_Slice_string_To_*); a pair
    holding ';' is dropped (url.ParseQuery);
  - a DELETE with a non-empty body takes its DeleteOptions from the body
    and ignores the query (handlers/delete.go);
  - a boolean option is true unless it is "0" or "false" (any case).

usage: reference_reader.py RECORD.jsonl AUDIT.json
Exits 1 with each violation printed as a reproducible case.
"""
import base64
import json
import sys
from urllib.parse import unquote


def parse_query(q):
    out = {}
    for pair in q.split("&"):
        if not pair or ";" in pair:
            continue
        k, _, v = pair.partition("=")
        k, v = unquote(k.replace("+", " ")), unquote(v.replace("+", " "))
        out.setdefault(k, v)   # the first value wins
    return out


def go_bool(v):
    return v is not None and not (v == "0" or v.lower() == "false")


def read(entry):
    """The action the API server sees in one recorded request."""
    target = entry["target"]
    if "#" in target:
        raise ValueError("a fragment in the request target")
    path, _, q = target.partition("?")
    query = parse_query(q)
    segs = [unquote(s) for s in path.split("/")[1:]]
    a = {"method": entry["method"]}
    if segs[0] == "api":
        a["group"], a["version"], rest = "", segs[1], segs[2:]
    else:
        a["group"], a["version"], rest = segs[1], segs[2], segs[3:]
    if len(rest) >= 3 and rest[0] == "namespaces" and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
        a["namespace"], rest = rest[1], rest[2:]
    a["resource"] = rest[0]
    a["name"] = rest[1] if len(rest) > 1 else None
    a["subresource"] = rest[2] if len(rest) > 2 else None
    if a["resource"] == "namespaces" and a["name"]:
        a["namespace"] = None
    m = entry["method"]
    a["verb"] = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(m) or (
        ("delete" if a["name"] else "deletecollection") if m == "DELETE" else "get")
    body = base64.b64decode(entry["body"])
    a["body"] = json.loads(body) if body else None
    if m == "DELETE":
        opts = a["body"] if body else {
            "propagationPolicy": query.get("propagationPolicy"),
            "orphanDependents": go_bool(query["orphanDependents"]) if "orphanDependents" in query else None,
            "dryRun": [query["dryRun"]] if "dryRun" in query else None,
        }
        if opts.get("orphanDependents") is not None:
            a["propagation"] = "Orphan" if opts["orphanDependents"] else "Background"
        else:
            a["propagation"] = opts.get("propagationPolicy")
        a["dry_run"] = bool(opts.get("dryRun"))
    else:
        a["dry_run"] = "dryRun" in query
    a["label_selector"] = query.get("labelSelector")
    a["field_selector"] = query.get("fieldSelector")
    return a


def main():
    records = [json.loads(l) for l in open(sys.argv[1])]
    audit = json.load(open(sys.argv[2]))
    decisions = [r for r in audit if r.get("type") == "decision" and r.get("forwarded")]
    bad = 0
    checked = 0
    for e in records:
        if e["method"] == "GET":
            continue
        match = [d for d in decisions if d["forwarded"]["method"] == e["method"] and d["forwarded"]["path"] == e["target"]]
        if not match:
            print("VIOLATION: production received a mutation no decision forwarded:", json.dumps(e))
            bad += 1
            continue
        d = match[0]
        decisions.remove(d)
        j = d["action"]
        try:
            got = read(e)
        except Exception as x:  # unreadable: a violation too
            print("VIOLATION: cannot read", json.dumps(e), x)
            bad += 1
            continue
        want = {
            "verb": j.get("verb"), "group": j.get("group"), "version": j.get("version"),
            "resource": j.get("resource"), "namespace": j.get("namespace"), "name": j.get("name"),
            "subresource": j.get("subresource"), "dry_run": bool(j.get("dry_run")),
        }
        if j.get("verb") == "deletecollection":
            want["label_selector"] = j.get("label_selector")
            want["field_selector"] = j.get("field_selector")
        if j.get("verb") in ("delete", "deletecollection"):
            want["propagation"] = j.get("propagation_policy")
        diffs = {k: (v, got.get(k)) for k, v in want.items() if got.get(k) != v}
        if d["verdict"] != "allow" and not d.get("approval_id"):
            diffs["verdict"] = (d["verdict"], "forwarded")
        judged_body = d.get("request", {}).get("body")
        if j.get("verb") in ("create", "update", "patch") and j.get("kind") != "Secret" and judged_body != got["body"]:
            diffs["body"] = (judged_body, got["body"])
        if diffs:
            print("VIOLATION: %s %s judged as %s, production reads it differently: %s"
                  % (e["method"], e["target"], json.dumps(want), json.dumps(diffs)))
            bad += 1
        checked += 1
    print("%d forwarded mutations checked, %d violations" % (checked, bad))
    return 1 if bad or not checked else 0


sys.exit(main())
