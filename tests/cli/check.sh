#!/bin/sh
# gate check through its command line, as a CI job would run it: exit codes,
# the three output formats, and bad input of each kind.
. tests/lib.sh
expect_rc() {  # name want-rc cmd...
    name=$1; want=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" = "$want" ]; then ok "$name"; else bad "$name: exit $rc, wanted $want"; cat "$tmp/err"; fi
}

# the demo plan: denies present -> 1
expect_rc "demo plan exits 1 on deny" 1 "$GATE" check --state fixtures/demo --actions fixtures/demo-plan.json
# verdict per step matches fixtures/demo-plan.expected
"$GATE" check --state fixtures/demo --actions fixtures/demo-plan.json --format json >"$tmp/plan.json"
python3 - "$tmp/plan.json" fixtures/demo-plan.expected <<'PY' && ok "demo plan verdicts" || bad "demo plan verdicts"
import json, sys
doc = json.load(open(sys.argv[1]))
want = [l.split() for l in open(sys.argv[2]) if l.strip()]
got = doc["decisions"]
assert len(got) == len(want), (len(got), len(want))
for d, w in zip(got, want):
    assert d["verdict"] == w[1], (d["index"], d["verdict"], w)
    if w[2] != "-":
        assert any(r["policy"] == w[2] and r["verdict"] == w[1] for r in d["results"]), (d["index"], w)
assert doc["exit_code"] == 1 and doc["summary"]["deny"] == 5
PY

# allow only -> 0; review only -> 2
cat >"$tmp/allow.json" <<'J'
[{"method": "PATCH", "path": "/apis/apps/v1/namespaces/shop/deployments/cart",
  "headers": {"Content-Type": "application/merge-patch+json"}, "body": {"spec": {"replicas": 3}}}]
J
expect_rc "allowed plan exits 0" 0 "$GATE" check --state fixtures/demo --actions "$tmp/allow.json"
cat >"$tmp/review.json" <<'J'
[{"method": "PATCH", "path": "/apis/apps/v1/namespaces/shop/deployments/checkout/scale",
  "headers": {"Content-Type": "application/merge-patch+json"}, "body": {"spec": {"replicas": 200}}}]
J
expect_rc "review plan exits 2" 2 "$GATE" check --state fixtures/demo --actions "$tmp/review.json"
grep -q "airlock: needs approval (cost:" "$tmp/out" && ok "review message" || bad "review message"

# manifests with -f: a new small deployment is allowed
expect_rc "-f new deployment allowed" 0 "$GATE" check --state fixtures/demo -f tests/data/manifests/banner.yaml
grep -q "create Deployment shop/banner" "$tmp/out" && ok "-f diff shows the create" || bad "-f diff shows the create"

# JUnit parses as XML, one testcase per action, failures for deny/review
"$GATE" check --state fixtures/demo --actions fixtures/demo-plan.json --format junit >"$tmp/junit.xml"
python3 tests/cli/junit_check.py "$tmp/junit.xml" 8 6 && ok "junit as consumers read it" || bad "junit as consumers read it"

# export: the demo as the twin reconciled it, one List that imports back unchanged
"$GATE" export --state fixtures/demo >"$tmp/export.json" && "$GATE" export --state "$tmp/export.json" >"$tmp/export2.json"
python3 - "$tmp/export.json" "$tmp/export2.json" <<'PY' && ok "export: reconciled List, taken as it is on re-import" || bad "export"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a["kind"] == "List" and any(i["kind"] == "Pod" for i in a["items"])
key = lambda i: (i["kind"], i["metadata"].get("namespace"), i["metadata"]["name"])
strip = lambda i: {k: v for k, v in i.items() if k != "metadata"}
assert sorted(map(key, a["items"])) == sorted(map(key, b["items"]))
bm = {key(i): strip(i) for i in b["items"]}
assert all(bm[key(i)] == strip(i) for i in a["items"])
PY

# bad input: exit 3 with the file and line named, nothing simulated
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: {a: 1}\n' >"$tmp/broken.yaml"
expect_rc "malformed YAML exits 3" 3 "$GATE" check --state fixtures/demo -f "$tmp/broken.yaml"
grep -q "broken.yaml:[0-9]*:[0-9]*" "$tmp/err" && ok "YAML error names file:line:col" || { bad "YAML error names file:line:col"; cat "$tmp/err"; }
printf '[{"method": "GET", "path": "/api/v1/pods"},\n {"method": "GET" "path": "x"}]\n' >"$tmp/broken.json"
expect_rc "malformed actions JSON exits 3" 3 "$GATE" check --state fixtures/demo --actions "$tmp/broken.json"
grep -q "broken.json:2:" "$tmp/err" && ok "JSON error names file:line" || { bad "JSON error names file:line"; cat "$tmp/err"; }
printf '[{"method": "DELETE"}]' >"$tmp/nopath.json"
expect_rc "action without path exits 3" 3 "$GATE" check --state fixtures/demo --actions "$tmp/nopath.json"
grep -q 'action 1 needs a string "method" and a string "path"' "$tmp/err" && ok "missing path named" || bad "missing path named"
cat >"$tmp/unknown.json" <<'J'
[{"method": "DELETE", "path": "/apis/apps/v1/namespaces/shop/widgets/x"}]
J
expect_rc "unknown resource exits 3" 3 "$GATE" check --state fixtures/demo --actions "$tmp/unknown.json"
grep -q "ERROR" "$tmp/out" && grep -q "could not find the requested resource" "$tmp/out" && ok "unknown resource reported" || bad "unknown resource reported"
expect_rc "missing state exits 3" 3 "$GATE" check --state "$tmp/nope" --actions "$tmp/allow.json"
grep -q "nope: No such file" "$tmp/err" && ok "missing state named" || bad "missing state named"
expect_rc "no state is a usage error" 3 "$GATE" check --actions "$tmp/allow.json"
expect_rc "unknown option is a usage error" 3 "$GATE" check --state fixtures/demo --frobnicate
printf 'return {\n  name = "broken",\n  evaluate = function(ctx) return allow( end,\n}\n' >"$tmp/broken.lua"
mkdir -p "$tmp/pol" && cp "$tmp/broken.lua" "$tmp/pol/broken.lua"
expect_rc "broken policy exits 3" 3 "$GATE" check --state fixtures/demo --policies "$tmp/pol" --actions "$tmp/allow.json"
grep -q "broken.lua:3" "$tmp/err" && ok "broken policy names file:line" || { bad "broken policy names file:line"; cat "$tmp/err"; }
mkdir -p "$tmp/empty"
expect_rc "empty policy dir allows everything" 0 "$GATE" check --state fixtures/demo --policies "$tmp/empty" --actions "$tmp/review.json"

[ "$failures" -eq 0 ]
