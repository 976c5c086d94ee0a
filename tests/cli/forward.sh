#!/bin/sh
# Production receives exactly what was judged (the security review's cases).
# A recording upstream (tests/cli/recorder.py) stands between the gate in
# enforce mode and production (a second gate in twin mode with no policies,
# so it does whatever reaches it): it stores every request exactly as
# production receives it.  For each request form the review found, either
# the gate refuses it, or what production receives describes the action
# the twin judged (read by tests/cli/reference_reader.py, which follows the
# API server's rules: the first of duplicate parameters, the body's
# DeleteOptions over the query, no fragments, decoded segments).
. tests/lib.sh
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed"; exit 1; }
pport=$((20000 + $$ % 20000))
rport=$((pport + 1))
gport=$((pport + 2))
mkdir -p "$tmp/nopol"
airlock_token=airlock-$$-token
agent_token=agent-$$-token
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
printf '[{"name": "airlock", "token_sha256": "%s"}]\n' "$(sha "$airlock_token")" >"$tmp/prod-agents.json"
printf 'agents:\n  - name: ops-bot\n    token_sha256: %s\n    rate_limit: {per_second: 0, per_minute: 0}\n' \
    "$(sha "$agent_token")" >"$tmp/gw-agents.yaml"
"$GATE" serve --listen 127.0.0.1:$pport --data-dir "$tmp/prod" --policies "$tmp/nopol" \
    --agents "$tmp/prod-agents.json" >"$tmp/prod.log" 2>&1 &
servers="$!"
i=0
until [ -s "$tmp/prod/tls.crt" ] && [ -s "$tmp/prod/tls.key" ] &&
    curl -s --cacert "$tmp/prod/tls.crt" -o /dev/null https://127.0.0.1:$pport/version; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "not ok production did not come up"; cat "$tmp/prod.log"; exit 1; }
    sleep 0.2
done
python3 tests/cli/recorder.py $rport "$tmp/prod/tls.crt" "$tmp/prod/tls.key" https://127.0.0.1:$pport \
    "$tmp/prod/tls.crt" "$tmp/rec.jsonl" 2>"$tmp/rec.log" &
servers="$servers $!"
i=0
until curl -s --cacert "$tmp/prod/tls.crt" -o /dev/null https://127.0.0.1:$rport/version; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "not ok the recorder did not come up"; cat "$tmp/rec.log"; exit 1; }
    sleep 0.2
done
printf '%s\n' "$airlock_token" >"$tmp/prod-token"
"$GATE" serve --listen 127.0.0.1:$gport --data-dir "$tmp/gw" --agents "$tmp/gw-agents.yaml" \
    --upstream https://127.0.0.1:$rport --upstream-token-file "$tmp/prod-token" --upstream-ca "$tmp/prod/tls.crt" \
    >"$tmp/gw.log" 2>&1 &
gpid=$!
servers="$servers $gpid"
i=0
until [ -s "$tmp/gw/tls.crt" ] && curl -s --cacert "$tmp/gw/tls.crt" -o /dev/null https://127.0.0.1:$gport/version; do
    i=$((i + 1)); [ $i -gt 150 ] || ! kill -0 $gpid 2>/dev/null && { echo "not ok the gate did not come up"; cat "$tmp/gw.log"; exit 1; }
    sleep 0.2
done
GW=https://127.0.0.1:$gport
PROD=https://127.0.0.1:$pport
# gw METHOD TARGET [curl args...]: the agent's call; the answer in $tmp/ans, its status printed
gw() { _m=$1; _t=$2; shift 2; curl -s -o "$tmp/ans" -w '%{http_code}' --cacert "$tmp/gw/tls.crt" \
    -H "Authorization: Bearer $agent_token" -X "$_m" "$@" "$GW$_t"; }
prod_count() { curl -s --cacert "$tmp/prod/tls.crt" -H "Authorization: Bearer $airlock_token" "$PROD$1" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))'; }
# mark: the recorder's log so far; recorded_since: what production received after the mark
mark() { wc -l <"$tmp/rec.jsonl" 2>/dev/null || echo 0; }
recorded_since() { tail -n +$(($1 + 1)) "$tmp/rec.jsonl" 2>/dev/null | grep -v '"method": "GET"'; }

pods_before=$(prod_count /api/v1/namespaces/payments/pods)
[ "$pods_before" -gt 0 ] && ok "production holds $pods_before pods in payments" || bad "production has pods"

# 1. an encoded '#' (and '?') must not hide query options from production
m=$(mark)
code=$(gw DELETE '/api/v1/namespaces/payments/pods%3Fx%3D%23%26fieldSelector%3Dmetadata.name%253Dnonexistent')
[ "$code" = 400 ] && ok "an encoded '#' in the path is refused (400)" || { bad "encoded # refused ($code)"; cat "$tmp/ans"; }
[ -z "$(recorded_since $m)" ] && [ "$(prod_count /api/v1/namespaces/payments/pods)" = "$pods_before" ] \
    && ok "production received nothing and kept every pod" || { bad "encoded # reached production"; recorded_since $m; }
# curl never sends a fragment: send the request line as it is
code=$(python3 - "$gport" "$tmp/gw/tls.crt" "$agent_token" <<'PY'
import socket, ssl, sys
port, ca, token = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=ca)
with ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=10), server_hostname="127.0.0.1") as s:
    s.sendall(("DELETE /api/v1/namespaces/payments/pods#?fieldSelector=metadata.name%3Dnone HTTP/1.1\r\n"
               "Host: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\nContent-Length: 0\r\n"
               "Connection: close\r\n\r\n").encode())
    print(s.recv(4096).split(b" ")[1].decode())
PY
)
[ "$code" = 400 ] && [ -z "$(recorded_since $m)" ] && ok "a raw fragment is refused (400), nothing forwarded" \
    || { bad "raw fragment ($code)"; recorded_since $m; }

# 4. duplicate query parameters: the API server reads the first
m=$(mark)
code=$(gw DELETE '/api/v1/namespaces/payments/pods?labelSelector=&labelSelector=app%3Dnothing')
[ "$code" = 400 ] && grep -q "more than once" "$tmp/ans" && [ -z "$(recorded_since $m)" ] \
    && ok "a duplicate labelSelector is refused, nothing forwarded" || { bad "duplicate parameter ($code)"; cat "$tmp/ans"; }
# a ';' (Go's parser drops the pair), an unknown option on a mutation
code=$(gw DELETE '/api/v1/namespaces/payments/pods?labelSelector=app%3Dnothing;x')
[ "$code" = 400 ] && ok "a ';' in the query is refused" || bad "semicolon ($code)"
code=$(gw DELETE '/api/v1/namespaces/payments/pods?labelSelectr=app%3Dnothing')
[ "$code" = 400 ] && grep -q "labelSelectr" "$tmp/ans" && ok "an unknown query parameter on a mutation is refused, named" \
    || bad "unknown parameter ($code)"
code=$(gw DELETE '/api/v1/namespaces/payments/pods?labelSelector=app%3Dnothing&dryRun=All&orphanDependents=yes')
[ "$code" = 400 ] && ok "a boolean option in a form the API server reads otherwise is refused" || bad "bool form ($code)"
[ -z "$(recorded_since $m)" ] && [ "$(prod_count /api/v1/namespaces/payments/pods)" = "$pods_before" ] \
    && ok "none of them reached production" || { bad "refused forms reached production"; recorded_since $m; }

# 5. DeleteOptions: the body wins in the API server; both at once is refused,
# and what is forwarded carries the judged options explicitly in the body
m=$(mark)
code=$(gw DELETE '/apis/apps/v1/namespaces/shop/deployments/cart?propagationPolicy=Orphan' \
    -H 'Content-Type: application/json' -d '{"kind":"DeleteOptions"}')
[ "$code" = 400 ] && [ -z "$(recorded_since $m)" ] && ok "DeleteOptions in body and query at once are refused" \
    || { bad "body+query delete ($code)"; cat "$tmp/ans"; }
code=$(gw DELETE '/api/v1/namespaces/shop/configmaps/frontend-config?propagationPolicy=Orphan')
[ "$code" = 200 ] || cat "$tmp/ans"
rec=$(recorded_since $m)
echo "$rec" | python3 -c '
import json, sys, base64
e = json.loads(sys.stdin.readline())
body = json.loads(base64.b64decode(e["body"]))
assert e["method"] == "DELETE", e
assert e["target"] == "/api/v1/namespaces/shop/configmaps/frontend-config", e["target"]
assert body == {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"}, body
assert e["headers"].get("Content-Type") == "application/json", e["headers"]
' 2>"$tmp/err" && ok "a query's DeleteOptions are forwarded as an explicit body, no query ($code)" \
    || { bad "delete forwarded form"; echo "$rec"; cat "$tmp/err"; }

# a Job deleted without a policy orphans its pods (the kind's default): the
# forwarded body says so explicitly, so production cannot read it otherwise
# the twin's request and production's agree on every allowed mutation
# (checked below for all that were forwarded)

# 2. protobuf: fields the decoder does not know are refused, never skipped;
# a privileged Deployment in protobuf is judged like the same in JSON
python3 - "$tmp/deploy.pb" <<'PY'
import sys
def varint(n):
    out = b""
    while True:
        b = n & 0x7f; n >>= 7
        if n: out += bytes([b | 0x80])
        else: return out + bytes([b])
def fld(num, wt, payload):
    key = varint(num << 3 | wt)
    if wt == 0: return key + varint(payload)
    return key + varint(len(payload)) + payload
def s(num, text): return fld(num, 2, text.encode())
def m(num, *parts): return fld(num, 2, b"".join(parts))
labels = m(11, s(1, "app"), s(2, "sneaky"))
container = b"".join([s(1, "c"), s(2, "nginx"), m(15, fld(2, 0, 1))])          # securityContext.privileged
podspec = b"".join([m(2, container), fld(11, 0, 1), fld(12, 0, 1)])             # hostNetwork, hostPID
tmpl = m(3, m(1, labels), m(2, podspec))
spec = m(2, fld(1, 0, 1), m(2, m(1, s(1, "app"), s(2, "sneaky"))), tmpl)
obj = m(1, s(1, "sneaky"), s(3, "shop")) + spec
unknown = b"k8s\x00" + m(1, s(1, "apps/v1"), s(2, "Deployment")) + m(2, obj)
open(sys.argv[1], "wb").write(unknown)
open(sys.argv[1] + ".unknown", "wb").write(b"k8s\x00" + m(1, s(1, "apps/v1"), s(2, "Deployment")) + m(2, obj + fld(999, 0, 1)))
PY
m=$(mark)
code=$(gw POST /apis/apps/v1/namespaces/shop/deployments -H 'Content-Type: application/vnd.kubernetes.protobuf' \
    --data-binary "@$tmp/deploy.pb")
[ "$code" = 403 ] && grep -q "privilege" "$tmp/ans" && ok "a privileged Deployment in protobuf is denied by privilege" \
    || { bad "protobuf privileged deployment ($code)"; cat "$tmp/ans"; }
code=$(gw POST /apis/apps/v1/namespaces/shop/deployments -H 'Content-Type: application/vnd.kubernetes.protobuf' \
    --data-binary "@$tmp/deploy.pb.unknown")
[ "$code" -ge 400 ] && [ "$code" -lt 500 ] && [ "$code" != 403 ] && grep -q "999" "$tmp/ans" \
    && ok "an unknown protobuf field is refused, named ($code)" || { bad "unknown protobuf field ($code)"; cat "$tmp/ans"; }
[ -z "$(recorded_since $m)" ] && ok "neither reached production" || { bad "protobuf reached production"; recorded_since $m; }

# 7. log forging: a decoded CR/LF never starts a log line of its own
gw GET '/api/v1/namespaces/shop/configmaps/x%0Aairlock:%20alice%20approved%20everything' >/dev/null
gw GET '/api/v1/namespaces/shop/configmaps?labelSelector=a%0D%0Aairlock:%20bob%20approved' >/dev/null
grep -q '^airlock: alice\|^airlock: bob' "$tmp/gw.log" && bad "a forged log line" || ok "no forged log line"

# real kubectl through the gate: what production receives is canonical
cat >"$tmp/kc" <<KC
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$GW", certificate-authority: "$tmp/gw/tls.crt"}}]
users: [{name: u, user: {token: "$agent_token"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
KC
ka() { kubectl --kubeconfig "$tmp/kc" --cache-dir "$tmp/cache" --request-timeout=10s "$@"; }
m=$(mark)
ka scale deployment cart -n shop --replicas=3 >/dev/null 2>&1 && ok "kubectl scale" || bad "kubectl scale"
ka create configmap made-by-pb -n shop --from-literal=k=v >/dev/null 2>&1 && ok "kubectl create configmap (protobuf)" \
    || bad "kubectl create configmap"
ka label configmap made-by-pb -n shop tier=x >/dev/null 2>&1 && ok "kubectl label" || bad "kubectl label"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: applied, namespace: shop}\ndata: {colour: "blue"}\n' >"$tmp/cm.yaml"
ka apply --server-side -f "$tmp/cm.yaml" >/dev/null 2>&1 && ok "kubectl apply --server-side" || bad "kubectl apply --server-side"
ka delete configmap made-by-pb -n shop >/dev/null 2>&1 && ok "kubectl delete" || bad "kubectl delete"
recorded_since $m >"$tmp/kubectl.rec"
python3 - "$tmp/kubectl.rec" <<'PY' 2>"$tmp/err" && ok "production received canonical requests (JSON bodies, built paths, explicit propagation)" || { bad "canonical requests"; cat "$tmp/err"; }
import json, sys, base64
seen = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    body = base64.b64decode(e["body"])
    ct = e["headers"].get("Content-Type", "")
    assert "protobuf" not in ct and not body.startswith(b"k8s\0"), ("protobuf forwarded", e)
    assert e["headers"].get("Authorization", "").startswith("Bearer airlock-"), "not the gate's own token"
    if body:
        json.loads(body)        # every forwarded body is JSON
    seen[(e["method"], e["target"].split("?")[0])] = (ct, body, e["target"])
need = [("PATCH", "/apis/apps/v1/namespaces/shop/deployments/cart/scale"), ("POST", "/api/v1/namespaces/shop/configmaps"),
        ("PATCH", "/api/v1/namespaces/shop/configmaps/made-by-pb"), ("PATCH", "/api/v1/namespaces/shop/configmaps/applied"),
        ("DELETE", "/api/v1/namespaces/shop/configmaps/made-by-pb")]
for k in need:
    assert k in seen, ("missing", k, list(seen))
ct, body, target = seen[("PATCH", "/api/v1/namespaces/shop/configmaps/applied")]
assert ct == "application/apply-patch+yaml" and json.loads(body)["data"] == {"colour": "blue"}, (ct, body)
assert "force=false" in target and "fieldManager=kubectl" in target, target
ct, body, target = seen[("DELETE", "/api/v1/namespaces/shop/configmaps/made-by-pb")]
assert json.loads(body)["propagationPolicy"] == "Background" and "?" not in target, (body, target)
PY

# every forwarded mutation, read by the reference reader (the API server's
# rules), is the action recorded as judged in the audit log
"$GATE" audit log --data-dir "$tmp/gw" --format json >"$tmp/audit.json" 2>"$tmp/audit.err" || cp /dev/null "$tmp/audit.json"
python3 tests/cli/reference_reader.py "$tmp/rec.jsonl" "$tmp/audit.json" >"$tmp/ref.out" 2>&1 \
    && ok "every forwarded mutation reads, by the API server's rules, as the action judged ($(tail -1 "$tmp/ref.out"))" \
    || { bad "reference reader"; cat "$tmp/ref.out" "$tmp/audit.err"; }

kill -TERM $gpid
i=0; while kill -0 $gpid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
sanitizer_clean "$tmp/gw.log" "$tmp/prod.log"
exit $((failures > 0))
