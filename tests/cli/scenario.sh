#!/bin/sh
# gate scenario run / fuzz through the command line: reports, exit codes,
# JUnit parsed as XML, bad input named with file and line.
. tests/lib.sh

mkdir -p "$tmp/suite"
cat >"$tmp/suite/a.yaml" <<'Y'
why: deleting the critical namespace, then a harmless scale
state: fixtures/demo
agent: ops-bot
steps:
  - label: harmful
    expect: deny
    policy: blast-radius
    method: DELETE
    path: /api/v1/namespaces/payments
  - label: benign
    expect: allow
    method: PATCH
    path: /apis/apps/v1/namespaces/shop/deployments/cart/scale
    headers: {Content-Type: application/merge-patch+json}
    body: {spec: {replicas: 3}}
Y
cat >"$tmp/suite/b.yaml" <<'Y'
why: apply and delete forms
state: fixtures/demo
steps:
  - label: benign
    apply:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: banner, namespace: shop}
      data: {text: hello}
  - label: harmful
    expect: deny
    delete: Deployment/payments/api
Y
"$GATE" scenario run "$tmp/suite" -j 2 >"$tmp/out" 2>&1; rc=$?
[ $rc = 0 ] && ok "suite passes (exit 0)" || { bad "suite passes: exit $rc"; cat "$tmp/out"; }
grep -q "false allows: 0" "$tmp/out" && grep -q "2 scenarios, 4 steps (2 harmful, 2 benign)" "$tmp/out" && ok "text summary" || { bad "text summary"; cat "$tmp/out"; }
"$GATE" scenario run "$tmp/suite" --format json >"$tmp/out.json"
python3 - "$tmp/out.json" <<'PY' && ok "json report" || bad "json report"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("scenarios", "steps", "false_allows", "false_denies", "harmful_steps", "benign_steps"):
    assert k in d, k
assert d["scenarios"] == 2 and d["steps"] == 4 and d["false_allows"] == 0 and d["harmful_steps"] == 2
PY
"$GATE" scenario run "$tmp/suite" --format junit >"$tmp/junit.xml"
python3 tests/cli/junit_check.py "$tmp/junit.xml" 4 0 && ok "junit as consumers read it" || bad "junit as consumers read it"
# a false allow fails the run
cat >"$tmp/fa.yaml" <<'Y'
why: a harmless read labelled harmful counts as a false allow
state: fixtures/demo
steps:
  - label: harmful
    method: GET
    path: /api/v1/namespaces/shop/pods
Y
"$GATE" scenario run "$tmp/fa.yaml" >"$tmp/out" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "FALSE ALLOW" "$tmp/out" && ok "false allow exits 1" || { bad "false allow exits 1 (got $rc)"; cat "$tmp/out"; }
"$GATE" scenario run "$tmp/fa.yaml" --format junit >"$tmp/junit-fa.xml" 2>/dev/null
python3 tests/cli/junit_check.py "$tmp/junit-fa.xml" 1 1 && ok "junit marks a false allow as a failure" || bad "junit false allow"
# an unmet expectation fails the run
sed 's/expect: deny/expect: allow/' "$tmp/suite/b.yaml" >"$tmp/exp.yaml"
"$GATE" scenario run "$tmp/exp.yaml" >"$tmp/out" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "expected allow, got deny" "$tmp/out" && ok "unmet expectation exits 1" || { bad "unmet expectation"; cat "$tmp/out"; }

# bad input: file and line named, exit 3
printf 'why: x\nstate: fixtures/demo\nsteps:\n  - label: benign\n    method: GET\n    path: /api/v1/pods\n  - label: harmfull\n    method: GET\n    path: /api/v1/pods\n' >"$tmp/badlabel.yaml"
"$GATE" scenario run "$tmp/badlabel.yaml" >"$tmp/out" 2>&1; rc=$?
[ $rc = 3 ] && grep -q "badlabel.yaml:7: step 2: \"label\" must be harmful or benign" "$tmp/out" && ok "bad label named with line" || { bad "bad label"; cat "$tmp/out"; }
printf 'why: x\nstate: fixtures/demo\nsteps:\n  - label: benign\n    method: GET\n   path: /api/v1/pods\n' >"$tmp/badyaml.yaml"
"$GATE" scenario run "$tmp/badyaml.yaml" >"$tmp/out" 2>&1; rc=$?
[ $rc = 3 ] && grep -q "badyaml.yaml:6:" "$tmp/out" && ok "broken YAML named with line" || { bad "broken YAML"; cat "$tmp/out"; }
printf 'why: x\nstate: fixtures/nope\nsteps:\n  - label: benign\n    delete: Deployment/shop\n' >"$tmp/baddel.yaml"
"$GATE" scenario run "$tmp/baddel.yaml" >"$tmp/out" 2>&1; rc=$?
[ $rc = 3 ] && ok "bad state / delete ref exits 3" || { bad "bad state"; cat "$tmp/out"; }

# fuzz: fixed seeds over the e2e origins, no violation; the same seed gives the same report
for seed in 1 2; do
    "$GATE" scenario fuzz --state fixtures/demo --seed $seed --count 150 tests/e2e/cases >"$tmp/f$seed" 2>&1; rc=$?
    [ $rc = 0 ] && grep -q " 0 violations" "$tmp/f$seed" && ok "fuzz seed $seed: no violation" || { bad "fuzz seed $seed"; tail -20 "$tmp/f$seed"; }
done
"$GATE" scenario fuzz --state fixtures/demo --seed 1 --count 150 tests/e2e/cases >"$tmp/f1b" 2>&1
cmp -s "$tmp/f1" "$tmp/f1b" && ok "fuzz is deterministic for a seed" || bad "fuzz is deterministic for a seed"

[ "$failures" -eq 0 ]
