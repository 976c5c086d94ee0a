#!/bin/sh
# gate serve with real kubectl: TLS with the self-signed certificate pinned
# in the written kubeconfig, bearer-token authentication, reads and
# mutations judged, denials as Kubernetes Status messages, graceful stop.
. tests/lib.sh
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed (tests/deps.sh installs kubernetes-client)"; exit 1; }

port=$((20000 + $$ % 20000))
serve_twin $port
ok "server up with TLS; kubectl version answers"

k get pods -n shop >"$tmp/out" 2>&1
head -1 "$tmp/out" | grep -q "NAME *READY *STATUS *RESTARTS *AGE" && grep -q "1/1 *Running" "$tmp/out" && ok "get pods prints the server's Table" || { bad "get pods table"; cat "$tmp/out"; }
[ "$(k get pods -A --chunk-size=5 -o name | wc -l)" = "$(k get pods -A -o name | wc -l)" ] \
    && [ "$(k get pods -A -o name | wc -l)" -gt 5 ] && ok "limit/continue pages a list" || bad "limit/continue"
# pages are read by the twin's index: each holds `limit` objects, the
# pages together are the list, in order, for a selector too; the Table
# kubectl prints is paged the same way; a token not given out is 410
k get --raw '/api/v1/pods' >"$tmp/all.json"
for q in "limit=4" "limit=3&labelSelector=app%3Dapi" "limit=1&fieldSelector=metadata.namespace%3Dshop"; do
    python3 - "$q" "$tmp/all.json" "$KUBECONFIG" "$tmp/cache" <<'PY' && ok "pages of $q: the whole list, in order" || bad "pages of $q"
import json, subprocess, sys, urllib.parse
q, allf, kc, cache = sys.argv[1:5]
params = dict(urllib.parse.parse_qsl(q))
everything = json.load(open(allf))["items"]
def want(p):
    labels = p["metadata"].get("labels", {})
    if "labelSelector" in params:
        k, v = params["labelSelector"].split("=")
        if labels.get(k) != v:
            return False
    if "fieldSelector" in params:
        if p["metadata"]["namespace"] != params["fieldSelector"].split("=")[1]:
            return False
    return True
expect = [p["metadata"]["namespace"] + "/" + p["metadata"]["name"] for p in everything if want(p)]
got, cont, pages = [], "", 0
while True:
    path = "/api/v1/pods?" + q + ("&continue=" + urllib.parse.quote(cont) if cont else "")
    page = json.loads(subprocess.check_output(["kubectl", "--kubeconfig", kc, "--cache-dir", cache, "get", "--raw", path]))
    items = page["items"]
    assert len(items) <= int(params["limit"]), (path, len(items))
    got += [p["metadata"]["namespace"] + "/" + p["metadata"]["name"] for p in items]
    pages += 1
    cont = page["metadata"].get("continue", "")
    if not cont:
        break
    assert len(items) == int(params["limit"]), (path, len(items))
    assert pages < 1000
assert got == expect and len(expect) > 1, (got, expect)
PY
done
[ "$(k get pods -A --chunk-size=3 | wc -l)" = "$(k get pods -A | wc -l)" ] && ok "the Table kubectl prints, paged by 3, has every row" \
    || bad "paged Table"
k get --raw '/api/v1/pods?limit=2&continue=bogus' >"$tmp/out" 2>&1
grep -q "continue token is not one this server gave out" "$tmp/out" && ok "a continue token not given out: 410, list again" \
    || { bad "bad continue token"; cat "$tmp/out"; }
k get deployments -n shop -o name >"$tmp/out" 2>&1
grep -q "deployment.apps/frontend" "$tmp/out" && ok "get deployments" || { bad "get deployments"; cat "$tmp/out"; }
k scale deployment cart -n shop --replicas=3 >"$tmp/out" 2>&1 && grep -q "scaled" "$tmp/out" && ok "benign scale allowed" || { bad "scale"; cat "$tmp/out"; }
[ "$(k get deployment cart -n shop -o jsonpath='{.spec.replicas}/{.status.readyReplicas}')" = "3/3" ] \
    && ok "the twin settled the scale (3/3 ready)" || bad "scale settled"
k delete namespace payments >"$tmp/out" 2>&1
grep -q "Error from server (Forbidden): airlock: denied by blast-radius" "$tmp/out" && ok "namespace deletion denied with the reason" || { bad "namespace deletion"; cat "$tmp/out"; }
k get namespace payments -o name >/dev/null 2>&1 && ok "payments still there" || bad "payments still there"
k get secrets -n payments >"$tmp/out" 2>&1
grep -q "denied by data-protection" "$tmp/out" && ok "secret read denied" || { bad "secret read"; cat "$tmp/out"; }
k --token not-the-token get pods >"$tmp/out" 2>&1
grep -q "You must be logged in" "$tmp/out" && ok "unknown token: 401" || { bad "unknown token"; cat "$tmp/out"; }
k exec -n shop deploy/cart -- true >"$tmp/out" 2>&1
grep -q "cannot be simulated" "$tmp/out" && ok "exec refused" || { bad "exec"; cat "$tmp/out"; }
k apply -f tests/data/manifests/banner.yaml >"$tmp/out" 2>&1 && grep -q "created" "$tmp/out" && ok "apply -f creates (OpenAPI v3 leaves validation to the server)" || { bad "apply -f"; cat "$tmp/out"; }
k apply -f tests/data/manifests/banner.yaml >"$tmp/out" 2>&1 && grep -q "unchanged" "$tmp/out" && ok "apply -f again: unchanged" || { bad "apply again"; cat "$tmp/out"; }
sed 's/replicas: 2/replicas: 3/' tests/data/manifests/banner.yaml >"$tmp/banner3.yaml"
k apply --server-side -f "$tmp/banner3.yaml" >"$tmp/out" 2>&1
grep -q "serverside-applied" "$tmp/out" && ! grep -q "failed to migrate" "$tmp/out" && ok "apply --server-side (with the last-applied migration)" || { bad "server-side apply"; cat "$tmp/out"; }
[ "$(k get deployment banner -n shop -o jsonpath='{.spec.replicas}')" = "3" ] && ok "server-side apply took effect" || bad "server-side apply took effect"
# kubectl create sends protobuf bodies: decoded for the kinds it creates
k create namespace extra >"$tmp/out" 2>&1 && k create configmap c1 -n shop --from-literal=a=b >>"$tmp/out" 2>&1 \
    && k create deployment web2 -n shop --image=nginx:1.27 --replicas=2 --port=8080 >>"$tmp/out" 2>&1 \
    && k create service clusterip web2 -n shop --tcp=80:8080 >>"$tmp/out" 2>&1 \
    && [ "$(k get configmap c1 -n shop -o jsonpath='{.data.a}')" = "b" ] \
    && [ "$(k get deployment web2 -n shop -o jsonpath='{.status.readyReplicas}')" = "2" ] \
    && [ "$(k get endpoints web2 -n shop -o jsonpath='{.subsets[0].ports[0].port}')" = "8080" ] \
    && ok "kubectl create (protobuf bodies) for namespace, configmap, deployment, service" || { bad "protobuf create"; cat "$tmp/out"; }
k scale deployment checkout -n shop --replicas=200 >"$tmp/out" 2>&1
id=$(sed -n 's/.*approval id \([0-9a-f]*\).*/\1/p' "$tmp/out")
grep -q "needs approval (cost:" "$tmp/out" && [ -n "$id" ] \
    && "$GATE" approvals show "$id" --server https://127.0.0.1:$port --token-file "$tmp/data/approver.token" \
       --ca "$tmp/data/tls.crt" >"$tmp/show" 2>&1 && grep -q '"state": "pending"' "$tmp/show" \
    && ok "review: 403 with an approval id, the approval pending for the made approver" || { bad "review"; cat "$tmp/out" "$tmp/show"; }
# many agents at once: reads and mutations in parallel, none lost
pids=""
for i in 1 2 3 4 5 6 7 8; do
    ( k get pods -A -o name >"$tmp/par$i" 2>&1 && k scale deployment catalog -n shop --replicas=$((2 + i % 2)) >>"$tmp/par$i" 2>&1 \
        && echo done >>"$tmp/par$i" ) &
    pids="$pids $!"
done
wait $pids   # not the server
n=$(grep -l "^done" "$tmp"/par* | wc -l)
[ "$n" = 8 ] && ok "8 clients in parallel all served" || { bad "parallel clients ($n of 8)"; cat "$tmp"/par*; }
k get widgets >"$tmp/out" 2>&1
grep -qi "doesn't have a resource type\|not find" "$tmp/out" && ok "unknown resource type" || { bad "unknown resource"; cat "$tmp/out"; }

stop_twin "SIGTERM stops the server"
[ "$failures" -eq 0 ]
