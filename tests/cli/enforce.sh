#!/bin/sh
# Enforce mode: a gate in front of a "production" cluster (a second gate in
# twin mode stands in for the API server), driven by real kubectl. Allowed
# calls reach production with the gate's own credentials, denied ones and
# dry runs never do.
. tests/lib.sh
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed"; exit 1; }
pport=$((20000 + $$ % 20000))
gport=$((pport + 1))
# production itself judges nothing but this: it refuses ConfigMaps created in
# namespace default, which the gate allows (a refusal only production makes)
mkdir -p "$tmp/prodpol"
cat >"$tmp/prodpol/prod-only.lua" <<'EOF'
return {
  name = "prod-only",
  description = "production refuses ConfigMaps created in default",
  evaluate = function(ctx)
    local a = ctx.action
    if a.verb == "create" and a.kind == "ConfigMap" and a.namespace == "default" then
      return deny("production refuses ConfigMaps in default")
    end
    -- BIG-CHECKOUT (removed by the test, then reloaded)
    if a.kind == "Deployment" and a.name == "checkout" and a.subresource == "scale" then
      local d = ctx.twin.get("Deployment", "shop", "checkout", "after")
      if d and d.spec.replicas >= 100 then return deny("production refuses big checkouts") end
    end
    return allow()
  end,
}
EOF
# production knows two callers: "airlock" (the gate's token) and "leaked" (the
# agent's token, should the gate ever forward it); its log names who called
airlock_token=airlock-$$-token
agent_token=agent-$$-token
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
printf '[{"name": "airlock", "token_sha256": "%s"}, {"name": "leaked", "token_sha256": "%s"}]\n' \
    "$(sha "$airlock_token")" "$(sha "$agent_token")" >"$tmp/prod-agents.json"
approver_token=alice-$$-token
printf '[{"name": "ops-bot", "token_sha256": "%s"}, {"name": "alice", "token_sha256": "%s", "role": "approver"}]\n' \
    "$(sha "$agent_token")" "$(sha "$approver_token")" >"$tmp/gw-agents.json"
"$GATE" serve --listen 127.0.0.1:$pport --data-dir "$tmp/prod" --policies "$tmp/prodpol" --agents "$tmp/prod-agents.json" \
    >"$tmp/prod.log" 2>&1 &
ppid_=$!
servers="$ppid_"
# connect KUBECONFIG PORT TOKEN DATADIR PID LOG: once the server has made
# its certificate, a kubeconfig for TOKEN pinned to it; waits (bounded)
# until kubectl gets an answer through it
connect() {
    i=0
    until [ -s "$4/tls.crt" ] && printf 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:%s", certificate-authority: "%s"}}]\nusers: [{name: u, user: {token: "%s"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n' \
            "$2" "$4/tls.crt" "$3" >"$1" && kubectl --kubeconfig "$1" --cache-dir "$tmp/c-$5" --request-timeout=5s version >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$5" 2>/dev/null; then echo "not ok a server did not come up"; cat "$6"; exit 1; fi
        sleep 0.2
    done
}
connect "$tmp/prod.kc" $pport "$airlock_token" "$tmp/prod" $ppid_ "$tmp/prod.log"
printf '%s\n' "$airlock_token" >"$tmp/prod-token"
"$GATE" serve --listen 127.0.0.1:$gport --data-dir "$tmp/gw" --agents "$tmp/gw-agents.json" --upstream https://127.0.0.1:$pport \
    --upstream-token-file "$tmp/prod-token" --upstream-ca "$tmp/prod/tls.crt" >"$tmp/gw.log" 2>&1 &
gpid=$!
servers="$servers $gpid"
connect "$tmp/gw.kc" $gport "$agent_token" "$tmp/gw" $gpid "$tmp/gw.log"
grep -q "enforce mode" "$tmp/gw.log" && ok "gate up in enforce mode, twin listed from production" || bad "enforce mode"
ka() { kubectl --kubeconfig "$tmp/gw.kc" --cache-dir "$tmp/ca" --request-timeout=10s "$@"; }
kp() { kubectl --kubeconfig "$tmp/prod.kc" --cache-dir "$tmp/cp" --request-timeout=10s "$@"; }

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
# production refuses what the gate allowed: its answer goes back, and the
# twin rolls back (a dry run of the same create is not "already exists")
ka create configmap refused -n default --from-literal=a=b >"$tmp/out" 2>&1
grep -q "production refuses ConfigMaps in default" "$tmp/out" \
    && ka create configmap refused -n default --from-literal=a=b --dry-run=server >"$tmp/out2" 2>&1 \
    && ok "refused by production: its Status returned, the twin rolled back" || { bad "production refusal"; cat "$tmp/out" "$tmp/out2"; }
# what a cascade reaches is refreshed too: a Deployment made in production
# behind the gate's back, in a namespace the twin saw empty, keeps the
# namespace from being deleted through the gate
ka create namespace scratch >/dev/null 2>&1
kp create deployment web -n scratch --image=nginx:1.27 --replicas=2 >/dev/null 2>&1
ka delete namespace scratch >"$tmp/out" 2>&1
grep -q "denied by blast-radius" "$tmp/out" && kp get deployment web -n scratch >/dev/null 2>&1 \
    && ok "judged on what the cascade reaches (the namespace's contents, listed from production)" \
    || { bad "cascade refresh"; cat "$tmp/out"; }
# freshness follows the change, not the cluster: a node's cordon costs one
# constant-size probe of production (a limit=1 list of namespaces) and no
# list of pods at all (the twin is fed by production's watches)
before=$(grep -c "airlock GET /api/v1/pods[ ?]" "$tmp/prod.log")
probes=$(grep -c "airlock GET /api/v1/namespaces?limit=1 -> " "$tmp/prod.log")
node=$(kp get nodes -o name | head -1 | cut -d/ -f2)
ka cordon "$node" >"$tmp/out" 2>&1
[ "$(grep -c "airlock GET /api/v1/namespaces?limit=1 -> " "$tmp/prod.log")" = $((probes + 1)) ] \
    && [ "$(grep -c "airlock GET /api/v1/pods[ ?]" "$tmp/prod.log")" = "$before" ] \
    && [ "$(kp get node "$node" -o jsonpath='{.spec.unschedulable}')" = true ] \
    && ok "a node's cordon costs one limit=1 probe, no list of pods, then reaches production" \
    || { bad "node freshness by probe"; cat "$tmp/out"; grep "GET /api/v1/\(pods\|namespaces\)" "$tmp/prod.log" | tail -3; }
ka uncordon "$node" >/dev/null 2>&1
# watches are passed through to production
timeout 6 kubectl --kubeconfig "$tmp/gw.kc" --cache-dir "$tmp/cw" get deployments -n shop -w >"$tmp/w1" 2>&1 &
w1=$!
sleep 2
kp scale deployment catalog -n shop --replicas=3 >/dev/null 2>&1
wait $w1
grep -q "^catalog *2/2" "$tmp/w1" && grep -q "^catalog *3/3" "$tmp/w1" && grep -q "watch=true.*production 200" "$tmp/gw.log" \
    && ok "get -w through the gate streams production's events" || { bad "watch pass-through"; cat "$tmp/w1"; }
ka get secrets -n shop -w >"$tmp/out" 2>&1
grep -q "denied by data-protection" "$tmp/out" && ok "a watch is judged first (Secrets refused)" || { bad "watch judged"; cat "$tmp/out"; }
# production saw the gate's identity, never the agent's token
grep -q "^airlock: airlock PATCH /apis/apps/v1/namespaces/shop/deployments/cart/scale" "$tmp/prod.log" \
    && ! grep -q "^airlock: leaked " "$tmp/prod.log" && ok "production saw Airlock's token, not the agent's" \
    || { bad "identity at production"; grep "^airlock: [a-z]* [A-Z]" "$tmp/prod.log" | head; }
# an approval is used up only once production took the change: production
# refuses the approved scale once (its own policy), the retry after it
# relents still passes on the same approval
ka scale deployment checkout -n shop --replicas=200 >"$tmp/out" 2>&1
aid=$(sed -n 's/.*approval id \([0-9a-f]*\).*/\1/p' "$tmp/out" | head -1)
curl -s --cacert "$tmp/gw/tls.crt" -H "Authorization: Bearer $approver_token" -X POST -d '{}' \
    "https://127.0.0.1:$gport/airlock/v1/approvals/$aid/approve" >"$tmp/approve" 2>&1
ka scale deployment checkout -n shop --replicas=200 >"$tmp/out2" 2>&1
sed -i '/BIG-CHECKOUT/,/^    end$/d' "$tmp/prodpol/prod-only.lua"
kill -HUP $ppid_
i=0; until grep -q "policies reloaded" "$tmp/prod.log" || [ $i -gt 50 ]; do sleep 0.1; i=$((i + 1)); done
ka scale deployment checkout -n shop --replicas=200 >"$tmp/out3" 2>&1
[ -n "$aid" ] && grep -q "production refuses big checkouts" "$tmp/out2" && grep -q "scaled" "$tmp/out3" \
    && [ "$(kp get deployment checkout -n shop -o jsonpath='{.spec.replicas}')" = 200 ] \
    && ok "a change production refused does not use up its approval (the retry passes on it)" \
    || { bad "approval used before production took it"; cat "$tmp/out" "$tmp/approve" "$tmp/out2" "$tmp/out3"; }
# what the gate answers itself, and production's own reads, in enforce mode
ka auth whoami >"$tmp/out" 2>&1
grep -q "^Username *ops-bot$" "$tmp/out" \
    && ok "auth whoami names the agent (the gate answers; production would name the gate's credential)" \
    || { bad "auth whoami"; cat "$tmp/out"; }
ka auth can-i get secrets -n shop >"$tmp/out" 2>&1
grep -q "^no - agent ops-bot has no read_secrets" "$tmp/out" && ok "auth can-i, answered for the agent" \
    || { bad "auth can-i"; cat "$tmp/out"; }
ka top nodes >"$tmp/out" 2>&1
grep -q "^node-" "$tmp/out" && ok "top nodes: production's metrics, read through the gate" || { bad "top nodes"; cat "$tmp/out"; }
ka scale deployment cart -n shop --replicas=3 >/dev/null 2>&1
ka get events -n shop --field-selector involvedObject.name=cart >"$tmp/out" 2>&1
grep -q "ScalingReplicaSet" "$tmp/out" && ok "get events: production's Events (its controllers' for the forwarded scale)" \
    || { bad "events from production"; cat "$tmp/out"; }

# shadow mode: everything reaches production, the verdict is recorded
sport=$((pport + 2))
"$GATE" serve --listen 127.0.0.1:$sport --data-dir "$tmp/sh" --agents "$tmp/gw-agents.json" --mode shadow --upstream https://127.0.0.1:$pport \
    --upstream-token-file "$tmp/prod-token" --upstream-ca "$tmp/prod/tls.crt" >"$tmp/sh.log" 2>&1 &
spid=$!
servers="$servers $spid"
connect "$tmp/sh.kc" $sport "$agent_token" "$tmp/sh" $spid "$tmp/sh.log"
kubectl --kubeconfig "$tmp/sh.kc" --cache-dir "$tmp/cs" --request-timeout=10s delete namespace analytics >/dev/null 2>&1
if ! kp get namespace analytics -o name >/dev/null 2>&1 && grep -q '"verdict":"deny"' "$tmp/sh/shadow.jsonl" \
    && grep -q 'namespaces/analytics' "$tmp/sh/shadow.jsonl"; then
    ok "shadow: forwarded, and the deny it would have been is recorded"
else
    bad "shadow"; cat "$tmp/sh.log" "$tmp/sh/shadow.jsonl"
fi
# the shadow twin follows production, denied-but-forwarded changes too: a
# ConfigMap for the namespace production just deleted is judged on a twin
# without it (an error, where a twin that rolled the deletion back allows)
kubectl --kubeconfig "$tmp/sh.kc" --cache-dir "$tmp/cs" --request-timeout=10s create configmap after -n analytics \
    --from-literal=a=b >/dev/null 2>&1
tail -1 "$tmp/sh/shadow.jsonl" | grep -q '"path":"/api/v1/namespaces/analytics/configmaps.*"verdict":"error"' \
    && ok "shadow: the twin follows production (the denied deletion that production took is in it)" \
    || { bad "shadow twin follows production"; tail -2 "$tmp/sh/shadow.jsonl"; }
kill -TERM $spid; wait $spid 2>/dev/null
sanitizer_clean "$tmp/sh.log"
grep -q "$agent_token\|$airlock_token" "$tmp/prod.log" "$tmp/gw.log" "$tmp/sh.log" && bad "a token appears in a log" || ok "no token in the logs"
kill -TERM $gpid $ppid_
wait $gpid $ppid_ 2>/dev/null
kill -0 $gpid $ppid_ 2>/dev/null && bad "SIGTERM stops the gate and production" || ok "SIGTERM stops the gate and production"
sanitizer_clean "$tmp/gw.log" "$tmp/prod.log"
[ "$failures" -eq 0 ]
