#!/bin/sh
# The approval gateway end to end, with real kubectl as the agent: agent
# profiles (config overrides, policy subsets, rate limits, Secrets), approver
# tokens, review -> approve -> retry, deny, expiry, re-simulation at
# approval, the held request (--review-wait), the kill switch, restarts
# that keep approvals, the freeze and the budgets, the webhook, and policy
# reloads (SIGHUP and `gate reload`) that refuse a broken set.
. tests/lib.sh
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed"; exit 1; }
command -v curl >/dev/null || { echo "not ok curl is not installed"; exit 1; }

port=$((20000 + ($$ + 11) % 20000))
url=https://127.0.0.1:$port
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
OPS=ops-token-0001 LIM=limited-token-0002 READER=reader-token-0003 BUDGET=budget-token-0004
OPS2=ops2-token-0005 OLD=old-token-0006 ALICE=alice-token-0007
cp -r lua-policies "$tmp/policies"
cat >"$tmp/agents.yaml" <<EOF
agents:
  - name: ops-bot
    token_sha256: $(sha $OPS)
    config: {cost: {review_delta_above: 0.1}}   # reviews every scale-up
  - name: ops2
    token_sha256: $(sha $OPS2)
  - name: limited
    token_sha256: $(sha $LIM)
    rate_limit: {per_minute: 2}
  - name: reader
    token_sha256: $(sha $READER)
    read_secrets: true
    policies: [data-protection, privilege]
  - name: budgeted
    token_sha256: $(sha $BUDGET)
    config: {budget: {max_pods_disrupted: 3}}
  - name: old
    token_sha256: $(sha $OLD)
    expires: 2020-01-01T00:00:00Z
  - name: alice
    token_sha256: $(sha $ALICE)
    role: approver
EOF
# a webhook receiver: appends each POST body to $tmp/hook.log
hookport=$((port + 1))
python3 - "$hookport" "$tmp/hook.log" <<'EOF' >/dev/null 2>&1 &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "ab") as f: f.write(body + b"\n")
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
servers="$servers $!"

start() {   # start [ARGS...]: the gate on $port with the agents file; waits (bounded) until it answers
    "$GATE" serve --listen 127.0.0.1:$port --data-dir "$tmp/data" --agents "$tmp/agents.yaml" \
        --policies "$tmp/policies" --webhook "http://127.0.0.1:$hookport/hook" "$@" >>"$tmp/serve.log" 2>&1 &
    pid=$!
    servers="$servers $pid"
    _i=0
    until [ "$(c $OPS "$url/version")" = 200 ]; do
        _i=$((_i + 1))
        if [ $_i -gt 100 ] || ! kill -0 $pid 2>/dev/null; then
            echo "not ok the server did not come up"; cat "$tmp/serve.log"; exit 1
        fi
        sleep 0.2
    done
}
stop() {
    kill -TERM $pid
    _i=0
    while kill -0 $pid 2>/dev/null && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
    wait $pid 2>/dev/null
}
# c TOKEN ARGS...: curl pinned to the gate's certificate; prints the status, the body goes to $tmp/body
c() { _t=$1; shift; curl -s --cacert "$tmp/data/tls.crt" -m 20 -D "$tmp/headers" -o "$tmp/body" -w '%{http_code}' \
      -H "Authorization: Bearer $_t" "$@" 2>/dev/null || echo 000; }
# ka AGENT ARGS...: kubectl as that agent
ka() { _a=$1; shift; kubectl --kubeconfig "$tmp/kc-$_a" --cache-dir "$tmp/cache" --request-timeout=30s "$@"; }
kubeconfig() {   # kubeconfig NAME TOKEN
    cat >"$tmp/kc-$1" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: airlock, cluster: {server: "$url", certificate-authority: "$tmp/data/tls.crt"}}]
users: [{name: $1, user: {token: $2}}]
contexts: [{name: airlock, context: {cluster: airlock, user: $1}}]
current-context: airlock
EOF
}
# ap ARGS...: the approver's CLI as alice
ap() { "$GATE" "$@" --server "$url" --token "$ALICE" --ca "$tmp/data/tls.crt"; }
approval_id() { sed -n 's/.*approval id \([0-9a-f]*\).*/\1/p' "$1" | head -1; }

start --approval-ttl 600
for a in ops-bot:$OPS ops2:$OPS2 limited:$LIM reader:$READER budgeted:$BUDGET old:$OLD alice:$ALICE; do
    kubeconfig "${a%%:*}" "${a#*:}"
done

# ---- identities ----
code=$(c $OLD "$url/api/v1/namespaces")
[ "$code" = 401 ] && grep -q "the token of old expired at 2020-01-01T00:00:00Z" "$tmp/body" \
    && ok "an expired token: 401 naming the agent and when it expired" || { bad "expired token ($code)"; cat "$tmp/body"; }
code=$(c $ALICE "$url/api/v1/namespaces/shop/pods")
[ "$code" = 403 ] && grep -q "alice is an approver, not an agent" "$tmp/body" \
    && ok "an approver's token cannot call the Kubernetes API" || { bad "approver as agent ($code)"; cat "$tmp/body"; }
code=$(c $OPS "$url/airlock/v1/approvals")
[ "$code" = 403 ] && grep -q "ops-bot is an agent: only an approver's token" "$tmp/body" \
    && ok "an agent's token cannot use the approvals API" || { bad "agent on the API ($code)"; cat "$tmp/body"; }
ka reader get secrets -n payments >/dev/null 2>&1 && ! ka ops-bot get secrets -n payments >/dev/null 2>&1 \
    && ok "read_secrets: the reader's profile may read Secrets, ops-bot may not" || bad "read_secrets profile"
# scaling checkout to 200 needs approval from cost (serve.sh); the reader is judged by
# data-protection and privilege only, so its dry run of it passes
ka reader scale deployment checkout -n shop --replicas=200 --dry-run=server >"$tmp/out" 2>&1 \
    && ok "policies: an agent is judged only by its profile's policies" || { bad "policy subset"; cat "$tmp/out"; }

# ---- review -> approve -> the agent's retry passes once ----
ka ops-bot scale deployment checkout -n shop --replicas=5 >"$tmp/out" 2>&1
id=$(approval_id "$tmp/out")
[ -n "$id" ] && grep -q "needs approval (cost: would raise the hourly cost" "$tmp/out" \
    && ok "a review (the agent's config override) is refused with an approval id" || { bad "review"; cat "$tmp/out"; }
ka ops-bot scale deployment checkout -n shop --replicas=5 --dry-run=server >"$tmp/out" 2>&1
grep -q "approval id $id" "$tmp/out" && ok "a dry run of the same change quotes the same approval id" || { bad "dry-run review"; cat "$tmp/out"; }
ap approvals list >"$tmp/out" 2>&1 && grep -q "^$id *pending *ops-bot .*patch Deployment shop/checkout" "$tmp/out" \
    && ok "gate approvals list shows it pending" || { bad "approvals list"; cat "$tmp/out"; }
ap approvals show "$id" >"$tmp/out" 2>&1 && grep -q '"fingerprint"' "$tmp/out" && grep -q '"diff"' "$tmp/out" \
    && grep -q '"content_type": "application/merge-patch+json"' "$tmp/out" \
    && ok "gate approvals show: the whole decision, request and fingerprint" || { bad "approvals show"; cat "$tmp/out"; }
"$GATE" approvals approve "$id" --server "$url" --token $OPS --ca "$tmp/data/tls.crt" >"$tmp/out" 2>&1
[ $? = 1 ] && grep -q "ops-bot is an agent" "$tmp/out" && ok "an agent trying to approve is refused" || { bad "agent approves"; cat "$tmp/out"; }
# the hook is posted by the webhook's worker, off the request path: wait (bounded) for it
_i=0
until grep -q "\"id\":\"$id\"" "$tmp/hook.log" 2>/dev/null || [ $_i -gt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
grep -q "\"id\":\"$id\".*\"event\":\"approval.pending\"\|\"event\":\"approval.pending\".*\"id\":\"$id\"" "$tmp/hook.log" 2>/dev/null \
    && ok "the webhook got the pending approval" || { bad "webhook"; cat "$tmp/hook.log"; }
ap approvals approve "$id" --comment "ok for the sale" >"$tmp/out" 2>&1 && grep -q "approval $id approved by alice" "$tmp/out" \
    && ok "alice approves" || { bad "approve"; cat "$tmp/out"; }
ap approvals approve "$id" >"$tmp/out" 2>&1
[ $? = 1 ] && grep -q "approval $id is already approved by alice" "$tmp/out" \
    && ok "a double approval: a clear error" || { bad "double approval"; cat "$tmp/out"; }
ka ops-bot scale deployment checkout -n shop --replicas=5 --dry-run=server >"$tmp/out" 2>&1 \
    && [ "$(ka ops-bot get deployment checkout -n shop -o jsonpath='{.spec.replicas}')" = 2 ] \
    && ok "approved: a dry run passes and does not use the approval up" || { bad "dry run after approval"; cat "$tmp/out"; }
ka ops-bot scale deployment checkout -n shop --replicas=5 >"$tmp/out" 2>&1 \
    && [ "$(ka ops-bot get deployment checkout -n shop -o jsonpath='{.spec.replicas}')" = 5 ] \
    && ok "the agent's retry passes (approved)" || { bad "retry after approval"; cat "$tmp/out"; }
ka ops-bot scale deployment checkout -n shop --replicas=2 >/dev/null 2>&1
ka ops-bot scale deployment checkout -n shop --replicas=5 >"$tmp/out" 2>&1
id2=$(approval_id "$tmp/out")
[ -n "$id2" ] && [ "$id2" != "$id" ] && ok "an approval passes once: the same action again needs a new one" \
    || { bad "passes once"; cat "$tmp/out"; }
ap approvals deny "$id2" --comment "not now" >"$tmp/out" 2>&1 && grep -q "approval $id2 denied by alice" "$tmp/out" \
    && ok "alice denies" || { bad "deny"; cat "$tmp/out"; }
code=$(c $ALICE -X POST "$url/airlock/v1/approvals/0123456789ab/approve")
[ "$code" = 404 ] && grep -q "approval 0123456789ab not found" "$tmp/body" && ok "an unknown id: 404" || { bad "unknown id ($code)"; cat "$tmp/body"; }
code=$(c $ALICE -X POST -d '{"comment": ' "$url/airlock/v1/approvals/$id2/approve")
[ "$code" = 400 ] && grep -q "malformed JSON body" "$tmp/body" && ok "a malformed approval request: 400" || { bad "malformed body ($code)"; cat "$tmp/body"; }
code=$(c $ALICE -X POST -d '{"comment": 7}' "$url/airlock/v1/approvals/$id2/deny")
[ "$code" = 400 ] && grep -q '\\"comment\\" must be a string' "$tmp/body" && ok "a comment of the wrong type: 400" || { bad "comment type ($code)"; cat "$tmp/body"; }
code=$(c $ALICE "$url/airlock/v1/approvals?state=maybe")
[ "$code" = 400 ] && ok "an unknown state filter: 400" || bad "state filter ($code)"

# ---- re-simulation: the impact changed since the request ----
ka ops-bot scale deployment checkout -n shop --replicas=8 >"$tmp/out" 2>&1
id3=$(approval_id "$tmp/out")
ka ops2 scale deployment checkout -n shop --replicas=4 >"$tmp/ops2" 2>&1
ap approvals approve "$id3" >"$tmp/out" 2>&1
[ $? = 1 ] && grep -q "impact changed since it was requested (hourly cost delta" "$tmp/out" \
    && ap approvals show "$id3" --format json >"$tmp/show" 2>&1 && grep -q '"previous"' "$tmp/show" && grep -q '"state": "pending"' "$tmp/show" \
    && ok "approval re-simulates: a changed impact goes back to pending with both impacts" \
    || { bad "resimulate"; cat "$tmp/ops2" "$tmp/out" "$tmp/show"; grep checkout "$tmp/serve.log"; }

# ---- rate limits ----
c $LIM -X PATCH -H "Content-Type: application/merge-patch+json" -d '{"metadata":{"labels":{"n":"1"}}}' "$url/api/v1/namespaces/shop/configmaps/frontend-config" >/dev/null
c $LIM -X PATCH -H "Content-Type: application/merge-patch+json" -d '{"metadata":{"labels":{"n":"2"}}}' "$url/api/v1/namespaces/shop/configmaps/frontend-config" >/dev/null
code=$(c $LIM -X PATCH -H "Content-Type: application/merge-patch+json" -d '{"metadata":{"labels":{"n":"3"}}}' "$url/api/v1/namespaces/shop/configmaps/frontend-config")
[ "$code" = 429 ] && grep -qi "^retry-after: [0-9]" "$tmp/headers" && grep -q "rate limit: agent limited may make 2 mutations per minute" "$tmp/body" \
    && ok "beyond the rate limit: 429 with Retry-After" || { bad "rate limit ($code)"; cat "$tmp/headers" "$tmp/body"; }
[ "$(c $LIM "$url/api/v1/namespaces/shop/configmaps/frontend-config")" = 200 ] && ok "reads are not rate limited" || bad "reads limited"

# ---- budgets and pending approvals survive a restart ----
for n in 1 2; do
    p=$(ka budgeted get pods -n shop -l app=catalog -o name | head -1)
    ka budgeted delete -n shop "$p" >/dev/null 2>&1
done
ka ops-bot scale deployment checkout -n shop --replicas=10 >"$tmp/out" 2>&1
id4=$(approval_id "$tmp/out")
ap freeze --reason "incident 42" >"$tmp/out" 2>&1 && grep -q "frozen by alice" "$tmp/out" && ok "gate freeze" || { bad "freeze"; cat "$tmp/out"; }
ka ops2 label configmap frontend-config -n shop x=1 >"$tmp/out" 2>&1
grep -q "airlock: denied by freeze: incident 42 (frozen by alice" "$tmp/out" && ok "frozen: a mutation is denied by freeze" || { bad "frozen mutation"; cat "$tmp/out"; }
ka ops2 get pods -n shop >/dev/null 2>&1 && ok "frozen: reads keep working" || bad "frozen reads"
stop
start --approval-ttl 600
ap approvals list >"$tmp/out" 2>&1 && grep -q "^$id4 *pending" "$tmp/out" && grep -q "^$id3 *pending" "$tmp/out" \
    && ok "a restart keeps the pending approvals" || { bad "pending after restart"; cat "$tmp/out"; }
ka ops2 label configmap frontend-config -n shop x=1 >"$tmp/out" 2>&1
grep -q "denied by freeze" "$tmp/out" && ok "a restart keeps the freeze" || { bad "freeze after restart"; cat "$tmp/out"; }
ap thaw >"$tmp/out" 2>&1 && grep -q "not frozen" "$tmp/out" && ka ops2 label configmap frontend-config -n shop x=1 >/dev/null 2>&1 \
    && ok "gate thaw: mutations pass again" || { bad "thaw"; cat "$tmp/out"; }
p=$(ka budgeted get pods -n shop -l app=catalog -o name | head -1)
ka budgeted delete -n shop "$p" >/dev/null 2>&1 && ok "budget: the third pod is within 3" || bad "third pod"
p=$(ka budgeted get pods -n shop -l app=catalog -o name | head -1)
ka budgeted delete -n shop "$p" >"$tmp/out" 2>&1
grep -q "denied by budget" "$tmp/out" && ok "a restart keeps the budgets: the fourth pod is over it" || { bad "budget after restart"; cat "$tmp/out"; }

# ---- a request held for a person (--review-wait) and expiry ----
ap approvals deny "$id3" >/dev/null 2>&1
ap approvals deny "$id4" >/dev/null 2>&1
stop
start --review-wait 20 --approval-ttl 60
# new_pending: waits (bounded) for an ops-bot approval of checkout that was
# not pending before ($tmp/before) and prints its id (other approvals of
# checkout, the reader's dry run among them, are still pending: picking one
# of those was a flaky test)
new_pending() {
    _i=0
    while [ $_i -lt 100 ]; do
        ap approvals list >"$tmp/out" 2>&1
        _id=$(sed -n 's/^\([0-9a-f]*\) *pending *ops-bot .*checkout.*/\1/p' "$tmp/out" | grep -vxF -f "$tmp/before" | head -1)
        [ -n "$_id" ] && { echo "$_id"; return 0; }
        _i=$((_i + 1)); sleep 0.2
    done
    return 1
}
ap approvals list | awk '{print $1}' >"$tmp/before"
ka ops-bot scale deployment checkout -n shop --replicas=9 >"$tmp/held" 2>&1 &
held=$!
id5=$(new_pending)
ap approvals approve "$id5" >"$tmp/approve5" 2>&1
wait $held && [ "$(ka ops2 get deployment checkout -n shop -o jsonpath='{.spec.replicas}')" = 9 ] \
    && ok "--review-wait: the held request goes through once approved" \
    || { bad "held request"; cat "$tmp/held" "$tmp/out" "$tmp/approve5"; grep -n "checkout\|approv\|serving" "$tmp/serve.log" | tail -8; }
# the kill switch stops a held request that a person approves after the freeze
ap approvals list | awk '{print $1}' >"$tmp/before"
ka ops-bot scale deployment checkout -n shop --replicas=200 >"$tmp/held" 2>&1 &
held=$!
id7=$(new_pending)
ap freeze --reason "held and frozen" >/dev/null 2>&1
ap approvals approve "$id7" >"$tmp/approve7" 2>&1
wait $held
grep -q "denied by freeze: held and frozen" "$tmp/held" && [ "$(ka ops2 get deployment checkout -n shop -o jsonpath='{.spec.replicas}')" = 9 ] \
    && ok "freeze while a request is held, then approve: denied by freeze" || { bad "freeze while held"; cat "$tmp/held" "$tmp/approve7"; }
ap thaw >/dev/null 2>&1
stop
start --review-wait 20 --approval-ttl 3
ka ops-bot scale deployment checkout -n shop --replicas=12 >"$tmp/held" 2>&1 &
held=$!
wait $held
grep -q "no approver answered: it expired" "$tmp/held" && ok "unanswered: 403 once the approval expired" || { bad "expiry while held"; cat "$tmp/held"; }
id6=$(approval_id "$tmp/held")
ap approvals approve "$id6" >"$tmp/out" 2>&1
[ $? = 1 ] && grep -q "expired" "$tmp/out" && ok "approving an expired approval: a clear error" || { bad "expired approve"; cat "$tmp/out"; }

# ---- policy reloads ----
echo "return {" >>"$tmp/policies/cost.lua"   # broken
kill -HUP $pid
sleep 1
grep -q "reload refused, the policies in force stay: .*cost.lua" "$tmp/serve.log" && ka ops2 get pods -n shop >/dev/null 2>&1 \
    && ok "SIGHUP with a broken policy: refused, the old set stays" || { bad "SIGHUP broken"; tail -5 "$tmp/serve.log"; }
ap reload >"$tmp/out" 2>&1
[ $? = 1 ] && grep -q "reload refused" "$tmp/out" && ok "gate reload with a broken policy: refused" || { bad "gate reload broken"; cat "$tmp/out"; }
cp lua-policies/cost.lua "$tmp/policies/cost.lua"
sed -i 's/review_delta_above = 5,/review_delta_above = 6,/' "$tmp/policies/config.lua"
ap reload >"$tmp/out" 2>&1 && grep -q "policies reloaded: sha256:" "$tmp/out" && ok "gate reload: the new set is in force" || { bad "reload"; cat "$tmp/out"; }

# ---- the story in the audit log ----
"$GATE" audit log --data-dir "$tmp/data" >"$tmp/out" 2>&1
grep -q "approval.*alice" "$tmp/out" && grep -q "freeze" "$tmp/out" && grep -q "review.*ops-bot" "$tmp/out" \
    && ok "gate audit log tells the story: reviews, approvals, the freeze" || { bad "audit log"; cat "$tmp/out"; }
"$GATE" audit verify --data-dir "$tmp/data" >"$tmp/out" 2>&1 && ok "gate audit verify: the chain is intact" || { bad "audit verify"; cat "$tmp/out"; }

stop

# ---- policies from a git commit: every decision names it ----
mkdir "$tmp/polrepo" && cp -r lua-policies/. "$tmp/polrepo/" && git -C "$tmp/polrepo" init -q \
    && git -C "$tmp/polrepo" add -A && git -C "$tmp/polrepo" -c user.email=ci@localhost -c user.name=ci commit -qm policies
commit=$(git -C "$tmp/polrepo" rev-parse HEAD)
"$GATE" serve --listen 127.0.0.1:$port --data-dir "$tmp/gitdata" --policies "git:$tmp/polrepo@HEAD" >>"$tmp/serve.log" 2>&1 &
pid=$!
servers="$servers $pid"
gtoken=$(cat "$tmp/gitdata/approver.token" 2>/dev/null)
_i=0
until [ -s "$tmp/gitdata/kubeconfig" ] && kubectl --kubeconfig "$tmp/gitdata/kubeconfig" --cache-dir "$tmp/cache" delete namespace payments >"$tmp/out" 2>&1 \
      || grep -q "denied by blast-radius" "$tmp/out"; do
    _i=$((_i + 1)); [ $_i -gt 100 ] && break; sleep 0.2
done
"$GATE" audit log --data-dir "$tmp/gitdata" --format json >"$tmp/out" 2>&1
grep -q "\"policy_version\": *\"git:$commit\"" "$tmp/out" \
    && ok "policies from git:REPO@HEAD: the decisions record the policy commit" || { bad "git policies"; head -c 600 "$tmp/out"; }
stop
sanitizer_clean "$tmp/serve.log"
[ $failures = 0 ]
