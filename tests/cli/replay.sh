#!/bin/sh
# gate replay through its command line: usage errors and unreadable logs
# exit 3 naming the option or the path; then a log written by a real
# server (twin mode, kubectl) replayed under the default policies (nothing
# changes, exit 0) and under policies that allow everything (the denial
# becomes an allow: listed, exit 1).
. tests/lib.sh
expect_rc() {  # name want-rc cmd...
    name=$1; want=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" = "$want" ]; then ok "$name"; else bad "$name: exit $rc, wanted $want"; cat "$tmp/out" "$tmp/err"; fi
}
expect_err() {  # name text: the last command's stderr holds text
    grep -q -- "$2" "$tmp/err" && ok "$1" || { bad "$1"; cat "$tmp/err"; }
}

expect_rc "--help exits 0" 0 "$GATE" replay --help
grep -q "deny -> allow" "$tmp/out" && grep -q "Fidelity" "$tmp/out" && ok "--help states the exit codes and the fidelity" || bad "--help text"
expect_rc "no log named exits 3" 3 "$GATE" replay
expect_err "no log named: says which options" "give --audit-repo DIR or --data-dir DIR"
expect_rc "--audit-repo without a value exits 3" 3 "$GATE" replay --audit-repo
expect_err "--audit-repo without a value named" "--audit-repo needs a value"
expect_rc "both --audit-repo and --data-dir exit 3" 3 "$GATE" replay --audit-repo "$tmp" --data-dir "$tmp"
expect_err "both named" "not both"
expect_rc "--format junit exits 3" 3 "$GATE" replay --audit-repo "$tmp" --format junit
expect_err "--format named" "--format must be text or json"
expect_rc "an option of another command exits 3" 3 "$GATE" replay --audit-repo "$tmp" --state fixtures/demo
expect_err "the unknown option named" "unknown option --state for replay"
expect_rc "a bad --since exits 3" 3 "$GATE" replay --audit-repo "$tmp" --since yesterday
expect_err "the bad --since named" "--since yesterday: not a time"
expect_rc "a missing repository exits 3" 3 "$GATE" replay --audit-repo "$tmp/nope"
expect_err "the missing repository named" "$tmp/nope: No such file"
expect_rc "a missing --data-dir log exits 3" 3 "$GATE" replay --data-dir "$tmp/nodata"
expect_err "the missing log named as DIR/audit" "$tmp/nodata/audit: No such file"
mkdir "$tmp/empty"
expect_rc "a directory that is no audit log exits 3" 3 "$GATE" replay --audit-repo "$tmp/empty"
expect_err "the directory named" "$tmp/empty"
expect_rc "a missing policy directory exits 3" 3 "$GATE" replay --audit-repo "$tmp/empty" --policies "$tmp/nopol"
expect_err "the policy directory named" "$tmp/nopol"

# end to end: a log written by the server
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed (tests/deps.sh installs kubernetes-client)"; exit 1; }
port=$((20000 + ($$ + 7) % 20000))
serve_twin $port
k scale deployment catalog -n shop --replicas=3 >"$tmp/k.out" 2>&1 && ok "scale allowed" || { bad "scale allowed"; cat "$tmp/k.out"; }
k delete namespace payments >"$tmp/k.out" 2>&1
grep -q "denied by blast-radius" "$tmp/k.out" && ok "namespace deletion denied" || { bad "namespace deletion denied"; cat "$tmp/k.out"; }
stop_twin "the server stops"

expect_rc "replay under the same policies exits 0" 0 "$GATE" replay --data-dir "$tmp/data"
grep -q "^replay: [1-9][0-9]* decisions re-judged, 0 changed" "$tmp/out" && ok "nothing changed" || { bad "nothing changed"; cat "$tmp/out"; }

mkdir "$tmp/yes"
cat >"$tmp/yes/yes.lua" <<'L'
return { name = "yes", description = "allows everything",
  evaluate = function(ctx) return allow() end }
L
expect_rc "replay under permissive policies exits 1" 1 "$GATE" replay --audit-repo "$tmp/data/audit" --policies "$tmp/yes"
grep -q "delete Namespace payments: deny -> allow" "$tmp/out" && ok "the denial listed as now allowed" || { bad "denial listed"; cat "$tmp/out"; }
grep -q "1 denied -> allowed" "$tmp/out" && ok "summary counts it" || { bad "summary"; cat "$tmp/out"; }
"$GATE" replay --data-dir "$tmp/data" --policies "$tmp/yes" --format json >"$tmp/rep.json"
python3 - "$tmp/rep.json" <<'PY' && ok "JSON report" || bad "JSON report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["exit_code"] == 1 and r["denied_to_allowed"] == 1 and r["loosened"] >= 1 and r["unreplayable"] == 0, r
c = [c for c in r["changed"] if c["kind"] == "Namespace"]
assert len(c) == 1 and c[0]["old"] == "deny" and c[0]["new"] == "allow" and c[0]["name"] == "payments", c
PY
expect_rc "--since after the last decision: nothing to judge" 0 "$GATE" replay --data-dir "$tmp/data" --policies "$tmp/yes" --since 4000000000
grep -q "^replay: 0 decisions re-judged" "$tmp/out" && ok "an empty window" || { bad "an empty window"; cat "$tmp/out"; }
expect_rc "--since 1h judges them all" 1 "$GATE" replay --data-dir "$tmp/data" --policies "$tmp/yes" --since 1h
[ "$failures" -eq 0 ]
