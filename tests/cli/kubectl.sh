#!/bin/sh
# The kubectl commands an agent uses, against the gate in twin mode: watch,
# apply (dry runs), replace, patch of every type, label, annotate, rollout
# restart, deletes; the refusals of every default policy through kubectl;
# and bad input of every kind over the wire, each with a clear Status while
# the gate keeps serving.
. tests/lib.sh
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed"; exit 1; }
command -v curl >/dev/null || { echo "not ok curl is not installed"; exit 1; }

port=$((20000 + ($$ + 7) % 20000))
serve_twin $port
token=$(sed -n 's/^ *token: //p' "$KUBECONFIG")
url=https://127.0.0.1:$port
# curl with the agent's token, pinned to the gate's certificate: prints the status code
c() { curl -s --cacert "$tmp/data/tls.crt" -m 10 -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $token" "$@"; }

# ---- request forms typed clients send (before the budget is spent below) ----
# a typed client's DELETE options under the deleted resource's group version
k create deployment delopts --image=nginx --replicas=0 -n shop >/dev/null 2>&1
code=$(c -X DELETE -H "Content-Type: application/json" "$url/apis/apps/v1/namespaces/shop/deployments/delopts" \
    --data '{"apiVersion":"apps/v1","kind":"DeleteOptions","propagationPolicy":"Foreground"}')
[ "$code" = 200 ] || [ "$code" = 202 ] && ! k get deployment delopts -n shop >/dev/null 2>&1 \
    && ok "DeleteOptions under apps/v1 (as typed clients send them)" || { bad "DeleteOptions apps/v1 ($code)"; cat "$tmp/body"; }
# a Scale without spec.replicas is a scale to zero (int32, omitempty)
k create deployment zeroes --image=nginx --replicas=1 -n shop >/dev/null 2>&1
code=$(c -X PUT -H "Content-Type: application/json" "$url/apis/apps/v1/namespaces/shop/deployments/zeroes/scale" \
    --data '{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"zeroes","namespace":"shop"},"spec":{}}')
[ "$code" = 200 ] && [ "$(k get deployment zeroes -n shop -o 'jsonpath={.spec.replicas}')" = 0 ] \
    && ok "a Scale without spec.replicas scales to zero" || { bad "scale to zero ($code)"; cat "$tmp/body"; }

# ---- watch ----
timeout 8 kubectl --cache-dir "$tmp/cache" get deployments -n shop -w >"$tmp/w1" 2>&1 &
w1=$!
timeout 8 kubectl --cache-dir "$tmp/cache" get pods -n shop -l app=cart -w -o json >"$tmp/w2" 2>&1 &
w2=$!
sleep 2
k scale deployment cart -n shop --replicas=3 >/dev/null 2>&1
victim=$(k get pods -n shop -l app=cart -o name | head -1 | cut -d/ -f2)
k delete pod "$victim" -n shop >/dev/null 2>&1
wait $w1 $w2
grep -q "^cart *2/2" "$tmp/w1" && grep -q "^cart *3/3" "$tmp/w1" \
    && ok "get -w: the list, then the scale as it happens (Table rows)" || { bad "get -w"; cat "$tmp/w1"; }
[ "$(grep -c "\"name\": \"$victim\"" "$tmp/w2")" -ge 2 ] && [ "$(grep -c '"kind": "Pod"' "$tmp/w2")" -ge 5 ] \
    && ok "get -w -o json: the pods, the new one, the deleted one, its replacement" || { bad "watch pods"; cat "$tmp/w2"; }
code=$(c "$url/api/v1/namespaces/shop/pods?watch=true&resourceVersion=1")
[ "$code" = 200 ] && grep -q '"type":"ERROR".*"code":410' "$tmp/body" && grep -q "too old resource version" "$tmp/body" \
    && ok "watch from a version too old: ERROR event with 410 Expired" || { bad "watch 410 ($code)"; cat "$tmp/body"; }
code=$(c -H "Accept: application/json;as=Table;v=v1;g=meta.k8s.io" "$url/api/v1/namespaces/shop/pods?watch=true&resourceVersion=1")
[ "$code" = 200 ] && grep -q '"type":"ERROR","object":{"kind":"Status"' "$tmp/body" \
    && ok "a Table watch's ERROR event carries the Status itself" || { bad "Table watch 410 ($code)"; cat "$tmp/body"; }
c "$url/api/v1/namespaces/shop/configmaps" >/dev/null
rv=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["resourceVersion"])' "$tmp/body")
( c "$url/api/v1/namespaces/shop/configmaps?watch=true&resourceVersion=$rv&timeoutSeconds=3" >/dev/null; cp "$tmp/body" "$tmp/w3" ) &
w3=$!
sleep 1
k create configmap watched -n shop --from-literal=a=1 >/dev/null 2>&1
k delete configmap watched -n shop >/dev/null 2>&1
wait $w3
[ "$(grep -c '"name":"watched"' "$tmp/w3")" = 2 ] && grep -q '"type":"ADDED"' "$tmp/w3" && grep -q '"type":"DELETED"' "$tmp/w3" \
    && ! grep -q '"name":"frontend-config"' "$tmp/w3" \
    && ok "watch from a list's resourceVersion: only what came after (ADDED, DELETED); timeoutSeconds ends it" \
    || { bad "watch from rv"; cat "$tmp/w3"; }
# allowWatchBookmarks: a change of another kind advances the stream by a
# BOOKMARK at the new version (what an informer waits for), as a bare
# object even in a Table watch; a stream that did not ask gets none
! grep -q '"BOOKMARK"' "$tmp/w3" && ok "no BOOKMARK for a watch that did not ask" || { bad "unasked bookmark"; cat "$tmp/w3"; }
c "$url/api/v1/namespaces/shop/configmaps" >/dev/null
rv=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["resourceVersion"])' "$tmp/body")
( c -H "Accept: application/json;as=Table;v=v1;g=meta.k8s.io" \
    "$url/api/v1/namespaces/shop/configmaps?watch=true&resourceVersion=$rv&allowWatchBookmarks=true&timeoutSeconds=3" \
    >/dev/null; cp "$tmp/body" "$tmp/w4" ) &
w4=$!
sleep 1
k scale deployment cart -n shop --replicas=2 >/dev/null 2>&1
wait $w4
python3 - "$tmp/w4" "$rv" <<'PY' && ok "allowWatchBookmarks: a BOOKMARK past the list's version after another kind's change" \
    || { bad "watch bookmarks"; cat "$tmp/w4"; }
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
marks = [e["object"] for e in events if e["type"] == "BOOKMARK"]
assert marks and all(m == {"kind": "ConfigMap", "metadata": {"resourceVersion": m["metadata"]["resourceVersion"]}}
                     for m in marks), events
assert int(marks[-1]["metadata"]["resourceVersion"]) > int(sys.argv[2]), marks
assert all(e["type"] == "BOOKMARK" for e in events), events
PY

# ---- the commands an agent uses ----
k apply -f tests/data/manifests/banner.yaml --dry-run=server >"$tmp/out" 2>&1 && grep -q "server dry run" "$tmp/out" \
    && ! k get deployment banner -n shop >/dev/null 2>&1 && ok "apply --dry-run=server: judged, nothing kept" || { bad "dry-run=server"; cat "$tmp/out"; }
k apply -f tests/data/manifests/banner.yaml --dry-run=client >/dev/null 2>&1 && ! k get deployment banner -n shop >/dev/null 2>&1 \
    && ok "apply --dry-run=client" || bad "dry-run=client"
k apply -f tests/data/manifests/banner.yaml >/dev/null 2>&1
k get deployment banner -n shop -o json | sed 's/"replicas": 2/"replicas": 1/' >"$tmp/banner.json"
k replace -f "$tmp/banner.json" >"$tmp/out" 2>&1 && [ "$(k get deployment banner -n shop -o jsonpath='{.spec.replicas}')" = 1 ] \
    && ok "replace (PUT)" || { bad "replace"; cat "$tmp/out"; }
k replace -f "$tmp/banner.json" >"$tmp/out" 2>&1
grep -q "the object has been modified" "$tmp/out" && ok "replace with a stale resourceVersion: 409 Conflict" || { bad "stale replace"; cat "$tmp/out"; }
k patch deployment banner -n shop --type=merge -p '{"metadata":{"labels":{"p1":"merge"}}}' >/dev/null 2>&1
k patch deployment banner -n shop --type=json -p '[{"op":"add","path":"/metadata/labels/p2","value":"json"}]' >/dev/null 2>&1
k patch deployment banner -n shop --type=strategic -p '{"metadata":{"labels":{"p3":"strategic"}}}' >/dev/null 2>&1
# kubectl patch has no apply type: server-side apply's own content type, over the wire
printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: banner\n  labels: {p4: apply}\n' >"$tmp/ssa.yaml"
c -X PATCH -H "Content-Type: application/apply-patch+yaml" --data-binary @"$tmp/ssa.yaml" \
    "$url/apis/apps/v1/namespaces/shop/deployments/banner?fieldManager=bot" >/dev/null
[ "$(k get deployment banner -n shop -o jsonpath='{.metadata.labels.p1}{.metadata.labels.p2}{.metadata.labels.p3}{.metadata.labels.p4}')" = "mergejsonstrategicapply" ] \
    && ok "patch: merge, json, strategic, apply" || { bad "patch types"; k get deployment banner -n shop -o jsonpath='{.metadata.labels}'; }
k label deployment banner -n shop tier=edge >/dev/null 2>&1 && k annotate deployment banner -n shop note=hello >/dev/null 2>&1 \
    && [ "$(k get deployment banner -n shop -o jsonpath='{.metadata.labels.tier}/{.metadata.annotations.note}')" = "edge/hello" ] \
    && ok "label and annotate" || bad "label/annotate"
before=$(k get rs -n shop -l app=banner -o name | wc -l)
k rollout restart deployment banner -n shop >"$tmp/out" 2>&1 && [ "$(k get rs -n shop -l app=banner -o name | wc -l)" -gt "$before" ] \
    && k get deployment banner -n shop -o jsonpath='{.spec.template.metadata.annotations}' | grep -q restartedAt \
    && ok "rollout restart: a new ReplicaSet" || { bad "rollout restart"; cat "$tmp/out"; }
k delete deployment banner -n shop >/dev/null 2>&1 && ! k get deployment banner -n shop >/dev/null 2>&1 \
    && [ "$(k get rs -n shop -l app=banner -o name | wc -l)" = 0 ] && ok "delete an item; its ReplicaSets go with it" || bad "delete item"
k create configmap l1 -n shop --from-literal=a=1 >/dev/null 2>&1 && k create configmap l2 -n shop --from-literal=a=1 >/dev/null 2>&1
k label configmap l1 l2 -n shop batch=old >/dev/null 2>&1
k delete configmap -n shop -l batch=old >"$tmp/out" 2>&1 && [ "$(k get configmap -n shop -l batch=old -o name | wc -l)" = 0 ] \
    && k get configmap frontend-config -n shop >/dev/null 2>&1 && ok "delete by label" || { bad "delete by label"; cat "$tmp/out"; }
k create namespace scratch >/dev/null 2>&1 && k delete namespace scratch >"$tmp/out" 2>&1 && ! k get namespace scratch >/dev/null 2>&1 \
    && ok "delete an empty namespace" || { bad "delete namespace"; cat "$tmp/out"; }

# ---- every default policy refuses through kubectl ----
k expose deployment api -n payments --type=LoadBalancer --port=80 --name=api-lb >"$tmp/out" 2>&1
grep -q "denied by segmentation" "$tmp/out" && ok "segmentation: exposing a restricted namespace" || { bad "segmentation"; cat "$tmp/out"; }
cat >"$tmp/crb.yaml" <<'EOF'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bot-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default, namespace: shop}]
EOF
k apply -f "$tmp/crb.yaml" >"$tmp/out" 2>&1
grep -q "denied by privilege" "$tmp/out" && ok "privilege: cluster-admin for a ServiceAccount" || { bad "privilege"; cat "$tmp/out"; }
k run dbg -n shop --image=busybox --privileged >"$tmp/out" 2>&1
grep -q "denied by privilege" "$tmp/out" && ok "privilege: a privileged pod" || { bad "privileged pod"; cat "$tmp/out"; }
k delete pvc data-postgres-0 -n payments >"$tmp/out" 2>&1
grep -q "denied by data-protection" "$tmp/out" && k get pvc data-postgres-0 -n payments >/dev/null 2>&1 \
    && ok "data-protection: a critical namespace's volume" || { bad "data-protection"; cat "$tmp/out"; }
k scale deployment checkout -n shop --replicas=400 >"$tmp/out" 2>&1
grep -q "denied by cost\|needs approval (cost" "$tmp/out" && ok "cost: 400 replicas" || { bad "cost"; cat "$tmp/out"; }
k delete namespace payments >"$tmp/out" 2>&1
grep -q "denied by blast-radius" "$tmp/out" && ok "blast-radius: a critical namespace" || { bad "blast-radius"; cat "$tmp/out"; }
i=0
: >"$tmp/out"
while [ $i -lt 30 ] && ! grep -q "denied by budget" "$tmp/out"; do
    p=$(k get pods -n shop -l app=catalog -o name | head -1)
    k delete "$p" -n shop --wait=false >"$tmp/out" 2>&1
    i=$((i + 1))
done
grep -q "denied by budget: agent ops-bot would disrupt 21 pods" "$tmp/out" \
    && ok "budget: one pod at a time, refused past 20 in the window" || { bad "budget"; cat "$tmp/out"; }

# ---- bad input: a clear Status each, and the gate keeps serving ----
ns=$url/api/v1/namespaces/shop/configmaps
code=$(c -X POST -H "Content-Type: application/json" --data '{"kind": "ConfigMap", "metadata": {' "$ns")
[ "$code" = 400 ] && grep -q '"kind":"Status"' "$tmp/body" && ok "malformed JSON: 400 Status" || { bad "malformed JSON ($code)"; cat "$tmp/body"; }
code=$(c -X POST -H "Content-Type: text/plain" --data 'hello' "$ns")
[ "$code" = 415 ] && ok "wrong content type: 415" || { bad "content type ($code)"; cat "$tmp/body"; }
code=$(c -X POST -H "Content-Type: application/json" --data '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":"nope"}' "$ns")
[ "$code" = 400 ] && grep -q "cannot unmarshal string into Go struct field ConfigMap.data" "$tmp/body" \
    && ok "wrong type in a field: 400 naming the field" || { bad "wrong type ($code)"; cat "$tmp/body"; }
code=$(c -X POST -H "Content-Type: application/json" "$ns?fieldValidation=Strict" \
    --data '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"strict"},"bogus":1}')
[ "$code" = 400 ] && grep -q 'strict decoding error: unknown field \\"bogus\\"' "$tmp/body" \
    && ok "an unknown field under fieldValidation=Strict: 400 naming it" || { bad "strict ($code)"; cat "$tmp/body"; }
code=$(c -X POST -H "Content-Type: application/json" "$ns" \
    --data '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"lax"},"data":{"a":"b"},"bogus":1}')
[ "$code" = 201 ] && ! grep -q bogus "$tmp/body" && k get configmap lax -n shop -o json | grep -q '"a": "b"' \
    && ! k get configmap lax -n shop -o json | grep -q bogus \
    && ok "an unknown field without Strict is dropped, as the API server drops it" || { bad "lax ($code)"; cat "$tmp/body"; }
head -c 4000000 /dev/zero | tr '\0' 'a' >"$tmp/huge"
code=$(c -X POST -H "Content-Type: application/json" --data-binary @"$tmp/huge" "$ns")
[ "$code" = 413 ] && grep -q "3 MiB" "$tmp/body" && ok "huge body: 413 naming the limit" || { bad "huge body ($code)"; head -c 300 "$tmp/body"; }
code=$(c "$url/apis/nothing.example.com/v1/widgets")
[ "$code" = 404 ] && grep -q '"kind":"Status"' "$tmp/body" && ok "unknown path: 404 Status" || { bad "unknown path ($code)"; cat "$tmp/body"; }
code=$(curl -s --cacert "$tmp/data/tls.crt" -m 10 -o "$tmp/body" -w '%{http_code}' "$url/api/v1/namespaces")
[ "$code" = 401 ] && ok "missing token: 401" || bad "missing token ($code)"
code=$(curl -s --cacert "$tmp/data/tls.crt" -m 10 -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer wrong" "$url/api/v1/namespaces")
[ "$code" = 401 ] && grep -q "Unauthorized" "$tmp/body" && ok "wrong token: 401" || bad "wrong token ($code)"
# slow clients: more idle TLS connections than the server has threads, and a
# body trickling in; others are served meanwhile
slow=""
for i in 1 2 3 4 5 6; do
    (sleep 6 | openssl s_client -quiet -connect 127.0.0.1:$port >/dev/null 2>&1) &
    slow="$slow $!"
done
head -c 6000 /dev/zero | tr '\0' ' ' >"$tmp/slowbody"
printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"slow"}}' >>"$tmp/slowbody"
( curl -s --cacert "$tmp/data/tls.crt" -m 20 -o /dev/null -w '%{http_code}' --limit-rate 2k -H "Authorization: Bearer $token" \
    -H "Content-Type: application/json" --data-binary @"$tmp/slowbody" "$ns" >"$tmp/slowcode" ) &
slowpost=$!
sleep 1
k get namespaces -o name >"$tmp/out" 2>&1 && grep -q "namespace/shop" "$tmp/out" \
    && ok "served while idle and trickling clients hold connections" || { bad "slow clients"; cat "$tmp/out"; }
wait $slowpost
[ "$(cat "$tmp/slowcode")" = 201 ] && k get configmap slow -n shop >/dev/null 2>&1 && ok "the trickled body arrives whole" \
    || bad "slow body ($(cat "$tmp/slowcode"))"
kill $slow 2>/dev/null
wait $slow 2>/dev/null

# a watch open at shutdown does not hold the server
timeout 20 kubectl --cache-dir "$tmp/cache" get pods -A -w >/dev/null 2>&1 &
sleep 1
stop_twin "SIGTERM stops the server with a watch open"
[ "$failures" -eq 0 ]
