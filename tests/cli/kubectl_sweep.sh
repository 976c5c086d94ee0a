#!/bin/sh
# The kubectl reference, command after command, against the gate in twin
# mode on the demo cluster with the default policies: each command either
# does what it does against a real API server (checked by its effect, not
# only its exit code) or is refused with a message that names why.  After
# every command the gate must still answer /version (one check at the end
# names every command after which it did not), and its log must hold no
# sanitizer report.  With SWEEP_MODE=enforce (kubectl_sweep_enforce.sh) the
# same commands go through the gate in enforce mode, in front of a
# production that is a second gate in twin mode judging nothing: what the
# gate allows reaches production, and the effects are read back from it.
. tests/lib.sh
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed"; exit 1; }
command -v curl >/dev/null || { echo "not ok curl is not installed"; exit 1; }

port=$((20000 + ($$ + 11) % 20000))
# the demo, and a custom resource of a kind the twin does not model
printf 'apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: web, namespace: shop}\nspec: {replicas: 3}\n' \
    >"$tmp/cr.yaml"
if [ "${SWEEP_MODE:-twin}" = enforce ]; then
    serve_enforce $port --state fixtures/demo --state "$tmp/cr.yaml"
else
    serve_twin $port --state fixtures/demo --state "$tmp/cr.yaml"
fi
url=https://127.0.0.1:$port
dead=""
# kx NAME ARGS...: kubectl ARGS, its output (stdout and stderr) in $tmp/out,
# its exit status in $rc; then whether the gate still answers
kx() {
    _n=$1
    shift
    k "$@" >"$tmp/out" 2>&1
    rc=$?
    curl -s --cacert "$tmp/data/tls.crt" -m 5 -o /dev/null "$url/version" || dead="$dead [$_n]"
    return $rc
}
# has NAME TEXT: ok NAME when $tmp/out holds TEXT (a fixed string)
has() {
    grep -qF -- "$2" "$tmp/out" && ok "$1" || { bad "$1 (exit $rc)"; head -c 600 "$tmp/out"; echo; }
}
# refused NAME TEXT: ok NAME when the last command failed and said TEXT
refused() {
    if [ "$rc" != 0 ]; then has "$1" "$2"; else bad "$1 (it succeeded)"; head -c 600 "$tmp/out"; echo; fi
}
# jp NAME WANT ARGS...: ok NAME when kubectl get ARGS (a -o jsonpath) prints WANT
jp() {
    _n=$1 _want=$2
    shift 2
    _got=$(k get "$@" 2>&1)
    [ "$_got" = "$_want" ] && ok "$_n" \
        || { bad "$_n: got '$_got', want '$_want'"; echo "  the command said (exit $rc):"; head -c 600 "$tmp/out"; echo; }
}
# until_jp WANT ARGS...: waits (bounded, 10 s) until kubectl get ARGS prints WANT
until_jp() {
    _want=$1
    shift
    _i=0
    while [ "$(k get "$@" 2>/dev/null)" != "$_want" ] && [ $_i -lt 50 ]; do sleep 0.2; _i=$((_i + 1)); done
}
NS="-n shop"

# ---- discovery and raw reads ----
kx api-resources api-resources
has "api-resources lists the twin's kinds and what the gate serves itself" "selfsubjectaccessreviews"
grep -q "^deployments .*apps/v1 .*true .*Deployment" "$tmp/out" && ok "api-resources: deployments" || bad "api-resources: deployments"
kx api-versions api-versions
has "api-versions includes metrics.k8s.io/v1beta1" "metrics.k8s.io/v1beta1"
kx explain explain deployment.spec.strategy
has "explain lists a field's fields (OpenAPI v3 schemas from the protobuf tables)" "rollingUpdate"
has "explain prints a field's description (the generated.proto comments)" \
    "The deployment strategy to use to replace existing pods with new ones."
kx explain-type explain pods.spec.containers.ports.containerPort
has "explain names a field's type" "<integer>"
kx get-raw get --raw /api/v1/namespaces/shop
has "get --raw reads an object" '"name":"shop"'

# ---- custom resources: learnt from the state (twin mode) or from
# production's discovery (enforce mode), listed in discovery, judged ----
kx get-cr get rollouts $NS
has "get of a custom resource (discovery lists its learnt kind)" "web"
kx patch-cr patch rollout web $NS --type=merge -p '{"spec":{"replicas":5}}'
jp "patch of a custom resource" "5" rollout web $NS -o 'jsonpath={.spec.replicas}'
kx delete-cr delete rollout web $NS
jp "delete of a custom resource" "" rollouts $NS -o 'jsonpath={.items[*].metadata.name}'
if [ -n "$prodpid" ]; then
    curl -s --cacert "$tmp/prod/tls.crt" -m 10 -o "$tmp/out" -H "Authorization: Bearer $(cat "$tmp/prod-token")" \
        "https://127.0.0.1:$((port + 1))/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts"
    grep -q '"kind":"RolloutList"' "$tmp/out" && ! grep -q '"name":"web"' "$tmp/out" \
        && ok "production took the delete of the custom resource (forwarded after judging)" \
        || { bad "production still has the custom resource"; head -c 400 "$tmp/out"; echo; }
fi

# ---- a Deployment's life ----
kx create-deployment create deployment sweep --image=nginx:1.25 --replicas=2 $NS
has "create deployment" "deployment.apps/sweep created"
kx rollout-status rollout status deployment/sweep $NS --timeout=20s
has "rollout status waits for the rollout" "successfully rolled out"
kx wait wait --for=condition=Available deployment/sweep $NS --timeout=20s
has "wait --for=condition=Available" "condition met"
kx set-image set image deployment/sweep nginx=nginx:1.27 $NS
jp "set image changes the container's image" "nginx:1.27" deployment sweep $NS -o 'jsonpath={.spec.template.spec.containers[0].image}'
kx rollout-history rollout history deployment/sweep $NS
grep -q "^1 " "$tmp/out" && grep -q "^2 " "$tmp/out" && ok "rollout history lists both revisions" \
    || { bad "rollout history"; cat "$tmp/out"; }
kx rollout-undo rollout undo deployment/sweep $NS
until_jp "nginx:1.25" deployment sweep $NS -o 'jsonpath={.spec.template.spec.containers[0].image}'
jp "rollout undo goes back to the previous template" "nginx:1.25" deployment sweep $NS -o 'jsonpath={.spec.template.spec.containers[0].image}'
kx rollout-pause rollout pause deployment/sweep $NS
jp "rollout pause" "true" deployment sweep $NS -o 'jsonpath={.spec.paused}'
kx rollout-resume rollout resume deployment/sweep $NS
jp "rollout resume" "" deployment sweep $NS -o 'jsonpath={.spec.paused}'
kx rollout-restart rollout restart deployment/sweep $NS
k get deployment sweep $NS -o yaml | grep -q "kubectl.kubernetes.io/restartedAt" && ok "rollout restart stamps the template" \
    || bad "rollout restart"
kx set-resources set resources deployment/sweep --limits=cpu=200m,memory=128Mi $NS
jp "set resources" "200m" deployment sweep $NS -o 'jsonpath={.spec.template.spec.containers[0].resources.limits.cpu}'
kx set-env set env deployment/sweep SWEEP=yes $NS
jp "set env" "yes" deployment sweep $NS -o 'jsonpath={.spec.template.spec.containers[0].env[?(@.name=="SWEEP")].value}'
kx scale scale deployment/sweep --replicas=3 $NS
until_jp 3 deployment sweep $NS -o 'jsonpath={.status.readyReplicas}'
jp "scale: three replicas ready" "3" deployment sweep $NS -o 'jsonpath={.status.readyReplicas}'
kx events get events $NS --field-selector involvedObject.name=sweep
has "get events: the Deployment controller's ScalingReplicaSet" "Scaled up replica set sweep-"
kx describe describe deployment sweep $NS
has "describe shows the object's Events" "deployment-controller"
kx events-pods get events $NS --field-selector reason=Scheduled
has "get events: the scheduler's Scheduled" "Successfully assigned shop/sweep-"
kx expose expose deployment/sweep --port=80 --target-port=8080 $NS
jp "expose makes a Service selecting the pods" "sweep" service sweep $NS -o 'jsonpath={.spec.selector.app}'
kx label label deployment/sweep tier=web $NS
jp "label" "web" deployment sweep $NS -o 'jsonpath={.metadata.labels.tier}'
kx annotate annotate deployment/sweep note=sweep $NS
jp "annotate" "sweep" deployment sweep $NS -o 'jsonpath={.metadata.annotations.note}'
kx patch patch deployment/sweep $NS -p '{"spec":{"minReadySeconds":5}}'
jp "patch (strategic merge)" "5" deployment sweep $NS -o 'jsonpath={.spec.minReadySeconds}'
kx autoscale autoscale deployment/sweep --min=2 --max=5 --cpu-percent=80 $NS
jp "autoscale makes an HPA" "5" hpa sweep $NS -o 'jsonpath={.spec.maxReplicas}'

# ---- create of each kind kubectl makes ----
kx create-job create job sweep-job --image=busybox $NS
jp "create job" "busybox" job sweep-job $NS -o 'jsonpath={.spec.template.spec.containers[0].image}'
kx create-cronjob create cronjob sweep-cron --image=busybox --schedule='*/5 * * * *' $NS
jp "create cronjob" "*/5 * * * *" cronjob sweep-cron $NS -o 'jsonpath={.spec.schedule}'
kx run run sweep-pod --image=nginx $NS
jp "run makes a pod" "nginx" pod sweep-pod $NS -o 'jsonpath={.spec.containers[0].image}'
kx create-cm create configmap sweep-cm --from-literal=a=b $NS
jp "create configmap" "b" configmap sweep-cm $NS -o 'jsonpath={.data.a}'
kx create-sa create serviceaccount sweep-sa $NS
jp "create serviceaccount" "sweep-sa" serviceaccount sweep-sa $NS -o 'jsonpath={.metadata.name}'
kx create-role create role sweep-role --verb=get --resource=pods $NS
jp "create role" "get" role sweep-role $NS -o 'jsonpath={.rules[0].verbs[0]}'
kx create-rolebinding create rolebinding sweep-rb --role=sweep-role --serviceaccount=shop:sweep-sa $NS
jp "create rolebinding" "sweep-role" rolebinding sweep-rb $NS -o 'jsonpath={.roleRef.name}'
kx create-pdb create poddisruptionbudget sweep-pdb --selector=app=sweep --min-available=1 $NS
jp "create poddisruptionbudget" "1" pdb sweep-pdb $NS -o 'jsonpath={.spec.minAvailable}'
kx create-quota create quota sweep-quota --hard=pods=100 $NS
jp "create quota" "100" resourcequota sweep-quota $NS -o 'jsonpath={.spec.hard.pods}'
kx create-ingress create ingress sweep-ing --rule="sweep.example.com/=sweep:80" $NS
refused "create ingress: held for a person by segmentation (outside traffic to a Service)" \
    "needs approval (segmentation: Ingress shop/sweep-ing would route outside traffic"
kx create-priorityclass create priorityclass sweep-pc --value=1000
jp "create priorityclass" "1000" priorityclass sweep-pc -o 'jsonpath={.value}'

# ---- apply, diff, replace ----
cat >"$tmp/cm.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: sweep-apply, namespace: shop}
data: {mode: one}
EOF
kx apply apply -f "$tmp/cm.yaml"
jp "apply (client side) creates" "one" configmap sweep-apply $NS -o 'jsonpath={.data.mode}'
sed -i 's/mode: one/mode: two/' "$tmp/cm.yaml"
kx diff diff -f "$tmp/cm.yaml"
[ $rc = 1 ] && grep -q "^+.*mode: two" "$tmp/out" && ok "diff shows the change apply would make (exit 1)" \
    || { bad "diff (exit $rc)"; cat "$tmp/out"; }
kx apply-again apply -f "$tmp/cm.yaml"
jp "apply (client side) changes" "two" configmap sweep-apply $NS -o 'jsonpath={.data.mode}'
sed -i 's/mode: two/mode: three/' "$tmp/cm.yaml"
kx apply-server apply --server-side -f "$tmp/cm.yaml"
jp "apply --server-side (over its client-side apply: no conflict, as the API server's lastAppliedManager)" "three" \
    configmap sweep-apply $NS -o 'jsonpath={.data.mode}'
# (kubectl-last-applied: kubectl's own apply of the last-applied annotation, which it keeps up to date)
jp "server-side apply records its fields in managedFields (manager kubectl, Apply)" "kubectl kubectl-last-applied Apply" configmap \
    sweep-apply $NS --show-managed-fields -o 'jsonpath={.metadata.managedFields[?(@.operation=="Apply")].manager} {.metadata.managedFields[?(@.manager=="kubectl")].operation}'
# field ownership: a field another manager changed conflicts, --force-conflicts takes it
cat >"$tmp/ssa.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: sweep-ssa, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: sweep-ssa}}
  template:
    metadata: {labels: {app: sweep-ssa}}
    spec: {containers: [{name: web, image: nginx:1.26}]}
EOF
kx ssa-create apply --server-side --field-manager=deployer -f "$tmp/ssa.yaml"
kx ssa-scale scale deployment sweep-ssa $NS --replicas=4
kx ssa-conflict apply --server-side --field-manager=deployer -f "$tmp/ssa.yaml"
refused "an apply changing a field kubectl scale set conflicts, naming manager and field" \
    'Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas'
jp "the conflicting apply changed nothing" "4" deployment sweep-ssa $NS -o 'jsonpath={.spec.replicas}'
kx ssa-force apply --server-side --field-manager=deployer --force-conflicts -f "$tmp/ssa.yaml"
jp "--force-conflicts takes the field over" "2" deployment sweep-ssa $NS -o 'jsonpath={.spec.replicas}'
kx ssa-annotations get deployment sweep-ssa $NS -o yaml
absent "no annotation of the gate's own on what apply wrote" "airlock.dev" "$tmp/out"
sed -i 's/mode: three/mode: four/' "$tmp/cm.yaml"
kx replace replace -f "$tmp/cm.yaml"
jp "replace" "four" configmap sweep-apply $NS -o 'jsonpath={.data.mode}'

# ---- nodes ----
kx taint taint node node-b1 sweep=yes:NoSchedule
jp "taint" "sweep" node node-b1 -o 'jsonpath={.spec.taints[?(@.key=="sweep")].key}'
kx untaint taint node node-b1 sweep-
jp "taint KEY- removes it" "" node node-b1 -o 'jsonpath={.spec.taints[?(@.key=="sweep")].key}'
kx cordon cordon node-b1
jp "cordon" "true" node node-b1 -o 'jsonpath={.spec.unschedulable}'
kx uncordon uncordon node-b1
jp "uncordon" "" node node-b1 -o 'jsonpath={.spec.unschedulable}'

# ---- reads of what the gate serves itself ----
kx top-nodes top nodes
has "top nodes (synthetic usage from the pods' requests)" "node-a1"
kx top-pods top pods $NS
has "top pods" "sweep-"
kx can-i-secrets auth can-i get secrets $NS
has "auth can-i get secrets: no for an agent without read_secrets" "no - agent ops-bot has no read_secrets"
kx can-i-patch auth can-i patch deployments $NS
has "auth can-i patch deployments: yes (simulated and judged)" "yes"
kx whoami auth whoami
has "auth whoami names the agent" "ops-bot"

# ---- refused, clearly ----
pod=$(k get pods $NS -l app=sweep -o name | head -1 | cut -d/ -f2)
kx exec exec "$pod" $NS -- true
refused "exec is refused and says why" "cannot be simulated"
kx cp cp "$tmp/cm.yaml" "shop/$pod:/tmp/x"
refused "cp (an exec of tar) is refused" "cannot be simulated"
kx port-forward port-forward "pod/$pod" $NS 0:80 --request-timeout=5s
refused "port-forward is refused" "cannot be simulated"
kx attach attach "$pod" $NS
refused "attach is refused" "cannot be simulated"
kx debug debug "$pod" $NS --image=busybox --profile=general
refused "debug (ephemeral containers) is refused with a Status kubectl prints" "cannot be simulated"
kx create-token create token sweep-sa $NS
refused "create token is judged: privilege refuses minting a ServiceAccount's token" \
    "denied by privilege: would mint a token for ServiceAccount shop/sweep-sa"
kx delete-ns delete namespace payments
refused "deleting a critical namespace is denied by the policies" "airlock: denied"

# ---- drain ----
names_on() { k get pods -A --field-selector "spec.nodeName=$1" -o 'jsonpath={.items[*].metadata.name}'; }
before=$(names_on node-b1)
kx drain-dry drain node-b1 --dry-run=server --ignore-daemonsets --delete-emptydir-data --timeout=30s
[ -n "$before" ] && [ "$(names_on node-b1)" = "$before" ] \
    && ok "drain --dry-run=server evicts nothing (each eviction's deleteOptions.dryRun)" \
    || { bad "drain --dry-run=server changed node-b1's pods"; cat "$tmp/out"; }
jp "drain --dry-run=server cordons nothing" "" node node-b1 -o 'jsonpath={.spec.unschedulable}'
kx drain drain node-b1 --ignore-daemonsets --delete-emptydir-data --timeout=30s
jp "drain cordons the node" "true" node node-b1 -o 'jsonpath={.spec.unschedulable}'
left=$(k get pods -A --field-selector spec.nodeName=node-b1 -o json | grep -c '"kind": "ReplicaSet"')
[ "$left" = 0 ] && ok "drain evicts every pod a ReplicaSet owns from the node" \
    || { bad "drain left $left ReplicaSet pods on node-b1"; cat "$tmp/out"; }

# ---- deletes ----
kx delete-label delete configmap -l app!=nothing-has-this --field-selector metadata.name=sweep-cm $NS
jp "delete -l --field-selector" "" configmap $NS --field-selector metadata.name=sweep-cm -o 'jsonpath={.items[*].metadata.name}'
kx delete-grace delete pod sweep-pod --grace-period=0 --force $NS
jp "delete --grace-period=0 --force" "" pods $NS --field-selector metadata.name=sweep-pod -o 'jsonpath={.items[*].metadata.name}'
kx delete-deploy-held delete deployment sweep $NS
refused "deleting a Deployment its Service still selects is held for a person (blast-radius)" \
    "needs approval (blast-radius: would leave Service shop/sweep with no ready endpoints)"
id=$(sed -n 's/.*approval id \([0-9a-f]*\).*/\1/p' "$tmp/out" | head -1)
"$GATE" approvals approve "$id" --server "$url" --token "$(cat "$tmp/data/approver.token")" --ca "$tmp/data/tls.crt" \
    >"$tmp/approve.out" 2>&1 && ok "the approver approves it" || { bad "approve $id"; cat "$tmp/approve.out"; }
kx delete-deploy delete deployment sweep $NS
until_jp "" pods $NS -l app=sweep -o 'jsonpath={.items[*].metadata.name}'
jp "the approved delete passes and takes the pods" "" pods $NS -l app=sweep -o 'jsonpath={.items[*].metadata.name}'
kx delete-svc delete service sweep $NS
jp "delete service (no endpoints left)" "" services $NS --field-selector metadata.name=sweep -o 'jsonpath={.items[*].metadata.name}'

[ -z "$dead" ] && ok "the gate answered /version after every command" || bad "the gate did not answer after:$dead"
stop_twin "SIGTERM stops the gate"
stop_production
[ "$failures" -eq 0 ]
