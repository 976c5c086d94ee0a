#!/bin/sh
# Enforce mode: a gate in front of a "production" cluster (a second gate in
# twin mode stands in for the API server), driven by real kubectl. Allowed
# calls reach production with the gate's own credentials, denied ones and
# dry runs never do.
. tests/lib.sh
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed"; exit 1; }
pport=$((20000 + $$ % 20000))
gport=$((pport + 1))
mkdir -p "$tmp/empty"   # production itself judges nothing
"$GATE" serve --listen 127.0.0.1:$pport --data-dir "$tmp/prod" --policies "$tmp/empty" >"$tmp/prod.log" 2>&1 &
ppid_=$!
servers="$ppid_"
wait_up() {  # kubeconfig pid log
    i=0
    until [ -s "$1" ] && kubectl --kubeconfig "$1" --cache-dir "$tmp/c-$2" --request-timeout=5s version >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$2" 2>/dev/null; then echo "not ok a server did not come up"; cat "$3"; exit 1; fi
        sleep 0.2
    done
}
wait_up "$tmp/prod/kubeconfig" $ppid_ "$tmp/prod.log"
sed -n 's/^ *token: //p' "$tmp/prod/kubeconfig" >"$tmp/prod-token"
"$GATE" serve --listen 127.0.0.1:$gport --data-dir "$tmp/gw" --upstream https://127.0.0.1:$pport \
    --upstream-token-file "$tmp/prod-token" --upstream-ca "$tmp/prod/tls.crt" >"$tmp/gw.log" 2>&1 &
gpid=$!
servers="$servers $gpid"
wait_up "$tmp/gw/kubeconfig" $gpid "$tmp/gw.log"
grep -q "enforce mode" "$tmp/gw.log" && ok "gate up in enforce mode, twin listed from production" || bad "enforce mode"
ka() { kubectl --kubeconfig "$tmp/gw/kubeconfig" --cache-dir "$tmp/ca" --request-timeout=10s "$@"; }
kp() { kubectl --kubeconfig "$tmp/prod/kubeconfig" --cache-dir "$tmp/cp" --request-timeout=10s "$@"; }

ka get deployments -n shop -o name | grep -q "deployment.apps/cart" && ok "reads answered" || bad "reads"
ka scale deployment cart -n shop --replicas=3 >/dev/null 2>&1
[ "$(kp get deployment cart -n shop -o jsonpath='{.spec.replicas}')" = "3" ] && ok "allowed scale reached production" || bad "scale reached production"
ka delete namespace payments >"$tmp/out" 2>&1
grep -q "denied by blast-radius" "$tmp/out" && kp get namespace payments -o name >/dev/null 2>&1 \
    && ok "denied deletion never reached production" || { bad "denied deletion"; cat "$tmp/out"; }
ka scale deployment cart -n shop --replicas=4 --dry-run=server >/dev/null 2>&1
[ "$(kp get deployment cart -n shop -o jsonpath='{.spec.replicas}')" = "3" ] && ok "dry run not forwarded" || bad "dry run forwarded"
ka get deployment cart -n shop -o jsonpath='{.spec.replicas}' | grep -q 3 && ok "production's answer returned" || bad "answer"
# the twin is refreshed from production before judging: scale payments/api
# down to 1 behind the gate's back; deleting its last pod through the gate
# must then be denied (a stale twin would still count 3 ready and allow it)
kp scale deployment api -n payments --replicas=1 >/dev/null 2>&1
pod=$(kp get pods -n payments -l app=api -o name | head -1)
ka delete "$pod" -n payments >"$tmp/out" 2>&1
grep -q "denied by blast-radius" "$tmp/out" && ok "judged on production's live state (refresh before judging)" \
    || { bad "refresh before judging"; cat "$tmp/out"; }
# shadow mode: everything reaches production, the verdict is recorded
sport=$((pport + 2))
"$GATE" serve --listen 127.0.0.1:$sport --data-dir "$tmp/sh" --mode shadow --upstream https://127.0.0.1:$pport \
    --upstream-token-file "$tmp/prod-token" --upstream-ca "$tmp/prod/tls.crt" >"$tmp/sh.log" 2>&1 &
spid=$!
servers="$servers $spid"
wait_up "$tmp/sh/kubeconfig" $spid "$tmp/sh.log"
kubectl --kubeconfig "$tmp/sh/kubeconfig" --cache-dir "$tmp/cs" --request-timeout=10s delete namespace analytics >/dev/null 2>&1
if ! kp get namespace analytics -o name >/dev/null 2>&1 && grep -q '"verdict":"deny"' "$tmp/sh/shadow.jsonl" \
    && grep -q 'namespaces/analytics' "$tmp/sh/shadow.jsonl"; then
    ok "shadow: forwarded, and the deny it would have been is recorded"
else
    bad "shadow"; cat "$tmp/sh.log" "$tmp/sh/shadow.jsonl"
fi
kill -TERM $spid; wait $spid 2>/dev/null
sanitizer_clean "$tmp/sh.log"
gtoken=$(sed -n 's/^ *token: //p' "$tmp/gw/kubeconfig")
grep -q "$gtoken" "$tmp/prod.log" "$tmp/gw.log" && bad "a token appears in a log" || ok "no token in the logs"
kill -TERM $gpid $ppid_
wait $gpid $ppid_ 2>/dev/null
kill -0 $gpid $ppid_ 2>/dev/null && bad "SIGTERM stops the gate and production" || ok "SIGTERM stops the gate and production"
sanitizer_clean "$tmp/gw.log" "$tmp/prod.log"
[ "$failures" -eq 0 ]
