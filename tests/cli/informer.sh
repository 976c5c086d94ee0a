#!/bin/sh
# Enforce mode on a twin fed by production's watches, driven by real kubectl:
# production is a second gate in twin mode (no policies), reached through a
# TCP relay the test can cut (tests/cli/cutter.py). What production changes
# behind the gate's back is seen by the very next judged mutation, is drift
# when no forwarded mutation explains it, and a dropped or unreachable
# production is survived: requests wait for the twin to catch up, or are
# refused 503, never judged on a stale twin.
. tests/lib.sh
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed"; exit 1; }
pport=$((20000 + ($$ + 7) % 20000))
cport=$((pport + 1))
gport=$((pport + 2))
mkdir -p "$tmp/nopolicies"
"$GATE" serve --listen 127.0.0.1:$pport --data-dir "$tmp/prod" --policies "$tmp/nopolicies" >"$tmp/prod.log" 2>&1 &
ppid_=$!
servers="$ppid_"
i=0
until [ -s "$tmp/prod/kubeconfig" ] && kubectl --kubeconfig "$tmp/prod/kubeconfig" --cache-dir "$tmp/cp" \
        --request-timeout=5s version >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -gt 100 ] && { echo "not ok production did not come up"; cat "$tmp/prod.log"; exit 1; }
    sleep 0.2
done
kp() { kubectl --kubeconfig "$tmp/prod/kubeconfig" --cache-dir "$tmp/cp" --request-timeout=10s "$@"; }
sed -n 's/^ *token: //p' "$tmp/prod/kubeconfig" >"$tmp/prod-token"
python3 tests/cli/cutter.py $cport $pport >"$tmp/cutter.log" 2>&1 &
cpid=$!
servers="$servers $cpid"
i=0
until grep -q ready "$tmp/cutter.log"; do
    i=$((i + 1)); [ $i -gt 50 ] && { echo "not ok the relay did not come up"; exit 1; }; sleep 0.1
done
# relay SIGNAL WORD: signal the relay and wait (bounded) for its acknowledgement
relay() {
    _n=$(grep -c . "$tmp/cutter.log")
    kill -$1 $cpid
    _i=0
    until [ "$(grep -c . "$tmp/cutter.log")" -gt "$_n" ]; do
        _i=$((_i + 1)); [ $_i -gt 50 ] && { bad "the relay did not act on $1"; return 1; }; sleep 0.1
    done
    tail -1 "$tmp/cutter.log" | grep -q "$2"
}

# the gate (enforce mode, production behind the relay): data in $tmp/data
serve_twin $gport --upstream https://127.0.0.1:$cport --upstream-token-file "$tmp/prod-token" \
    --upstream-ca "$tmp/prod/tls.crt" --fresh-wait 10
grep -q "watching production: [0-9]* kinds, open in" "$tmp/serve.log" && ok "the gate serves once every kind's watch is open" \
    || { bad "watches open at start"; cat "$tmp/serve.log"; }
drift() { "$GATE" drift --server https://127.0.0.1:$gport --token-file "$tmp/data/approver.token" --ca "$tmp/data/tls.crt" "$@"; }

# a Deployment created in production behind the gate's back is seen by the
# very next judged mutation (no sleep: the freshness rule waits for it)
kp create deployment sneaky -n shop --image=nginx:1.27 --replicas=1 >/dev/null
if k scale deployment sneaky -n shop --replicas=2 >"$tmp/out" 2>&1 \
    && [ "$(kp get deployment sneaky -n shop -o jsonpath='{.spec.replicas}')" = 2 ]; then
    ok "a Deployment made behind the gate's back is judged and scaled at once"
else
    bad "made behind the back, then scaled"; cat "$tmp/out"
fi
# ... and a scale-down behind its back is what the next judgement sees:
# deleting the last ready pod of payments/api is then denied (a twin still
# counting three ready pods would allow it)
kp scale deployment api -n payments --replicas=1 >/dev/null
last=$(kp get pods -n payments -l app=api -o name | head -1 | cut -d/ -f2)
k delete pod "$last" -n payments --wait=false >"$tmp/out" 2>&1
grep -q "denied" "$tmp/out" && kp get pod "$last" -n payments -o name >/dev/null 2>&1 \
    && ok "judged on production's state as of the request (its last ready pod is kept)" \
    || { bad "judged on a stale twin"; cat "$tmp/out"; }

# drift: a pod deleted in production is recorded; the gate's own change is not
victim=$(kp get pods -n shop -l app=cart -o name | head -1 | cut -d/ -f2)
kp delete pod "$victim" -n shop --wait=false >/dev/null
k scale deployment cart -n shop --replicas=3 >/dev/null 2>&1   # judged after the twin saw the deletion
k annotate namespace shop airlock.test/seen=1 --overwrite >/dev/null 2>&1
drift >"$tmp/drift.txt" 2>&1
grep -q "DELETED .*Pod .*shop/$victim" "$tmp/drift.txt" && ok "a pod deleted in production is drift (gate drift)" \
    || { bad "drift of a deleted pod"; cat "$tmp/drift.txt"; }
grep -q "MODIFIED .*Deployment .*shop/cart \|Namespace .* shop " "$tmp/drift.txt" \
    && { bad "the gate's own changes are not drift"; cat "$tmp/drift.txt"; } \
    || ok "the gate's own changes (the scale, the annotation) are not drift"
"$GATE" audit log --data-dir "$tmp/data" --type drift >"$tmp/audit.txt" 2>&1
grep -q "drift" "$tmp/audit.txt" && ok "drift is recorded in the audit log" || { bad "drift in the audit"; cat "$tmp/audit.txt"; }
drift --since 1h --format json >"$tmp/drift.json" 2>&1
python3 - "$tmp/drift.json" <<'EOF' && ok "every kind production serves is watched, and has seen events or bookmarks" || bad "watch status"
import json, sys
d = json.load(open(sys.argv[1]))
w = d["watches"]
assert len(w) > 20 and all(x["watching"] and x["events"] + x["bookmarks"] > 0 for x in w), w
EOF

# production's watches drop mid-stream: the gate watches again from where
# it was; a change made meanwhile is seen by the next judged mutation (a
# ConfigMap deleted in production during the drop is created again through
# the gate: a twin that missed the deletion would answer AlreadyExists).
# A create is a POST with nothing read first, so only the judgement is at
# stake here, not the reads production answers while its watches reconnect
kp create configmap dropped -n shop --from-literal=a=b >/dev/null
k annotate namespace shop airlock.test/before-drop=1 --overwrite >/dev/null 2>&1   # judged after the twin has it
relay USR1 cut && ok "production's connections cut" || bad "cut"
kp scale deployment api -n payments --replicas=3 >/dev/null
kp delete configmap dropped -n shop >/dev/null
k create configmap dropped -n shop --from-literal=a=c >"$tmp/out" 2>&1 \
    && [ "$(kp get configmap dropped -n shop -o jsonpath='{.data.a}')" = c ] \
    && ok "after the streams dropped, the next mutation waited for the twin and was judged on the current state" \
    || { bad "after the drop"; cat "$tmp/out"; }

# production unreachable: a mutation is refused 503 within --fresh-wait,
# never judged on the stale twin, and nothing is forwarded
relay USR2 refusing && relay USR1 cut || bad "refusing"
kp annotate namespace shop airlock.test/outage=1 >/dev/null   # production moves on meanwhile
before=$(grep -c "POST" "$tmp/prod.log")
t0=$(date +%s)
k create configmap outage -n shop --from-literal=a=b >"$tmp/out" 2>&1   # a POST, nothing read first
t1=$(date +%s)
grep -q "airlock: refused: " "$tmp/out" && [ $((t1 - t0)) -le 20 ] \
    && [ "$(grep -c "POST" "$tmp/prod.log")" = "$before" ] \
    && ok "production unreachable: refused 503 in $((t1 - t0)) s, nothing forwarded" \
    || { bad "unreachable production"; cat "$tmp/out"; }
relay USR2 accepting || bad "accepting"
# the watches come back (bounded wait for the condition), then mutations pass
i=0
until drift --format json 2>/dev/null | python3 -c 'import json,sys; sys.exit(0 if all(w["watching"] for w in json.load(sys.stdin)["watches"]) else 1)'; do
    i=$((i + 1)); [ $i -gt 90 ] && break; sleep 0.5
done
k scale deployment sneaky -n shop --replicas=2 >"$tmp/out" 2>&1 \
    && [ "$(kp get deployment sneaky -n shop -o jsonpath='{.spec.replicas}')" = 2 ] \
    && ok "production back: the watches reopen and mutations pass" || { bad "recovery"; cat "$tmp/out"; }
grep -q "watch of .*:" "$tmp/serve.log" && ok "the dropped watches are logged" || bad "drop logged"

kill -TERM $cpid
stop_twin "the gate stops on SIGTERM"
kill -TERM $ppid_
wait $ppid_ 2>/dev/null
sanitizer_clean "$tmp/prod.log"
exit $failures
