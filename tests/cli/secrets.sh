#!/bin/sh
# No Secret value leaks: what a user relies on when an agent is not given
# read_secrets.  A state holds Secrets whose every value is one marker
# (Secret.data is base64 on the wire, so both the marker and its base64 are
# looked for); agents without read_secrets call every verb on Secrets over
# the wire (get, list, Tables, watch, create, PUT, the three patches,
# dry-run and real deletes, collection deletes) and a list of other kinds,
# against the gate in twin mode and in enforce mode (production a second
# gate holding the Secrets).  Then the marker must be in none of their
# answers, nor in the gate's log, its audit repository (every object, read
# through git), or anything else in its data directory; and the audit
# repository must be private to the gate's user.  An agent with
# read_secrets does get the marker: the check can fail.
#
# The agents without read_secrets: reader-less, judged by the default
# policies (data-protection refuses its reads, not its deletes and
# creates), and unguarded, judged by privilege alone, so that nothing but
# the gate's own redaction stands between it and the values.
. tests/lib.sh
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed"; exit 1; }
command -v curl >/dev/null || { echo "not ok curl is not installed"; exit 1; }
command -v git >/dev/null || { echo "not ok git is not installed"; exit 1; }

M=AIRLOCK-MARKER-7f3e9c
B=$(printf %s "$M" | base64)   # QUlSTE9DSy1NQVJLRVItN2YzZTlj (21 bytes: no padding)
LEAK="$M|$B"
umask 022   # files open to all unless the gate itself makes them private
base=$((20000 + ($$ + 17) % 20000))
tport=$base pport=$((base + 1)) fport=$((base + 2))
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
RL=reader-less-$$-token UG=unguarded-$$-token SR=secret-reader-$$-token AIR=airlock-$$-token

# ---- the state: per agent two namespaces, NS-a and NS-b ----
# NS-a: creds (data and stringData), api-key (deleted), rotate (replaced;
# applied with kubectl, so its last-applied annotation holds its data), a
# ConfigMap and a Pod taking creds' value in its env.  NS-b: two Secrets,
# deleted as a collection.
mkdir -p "$tmp/state"
for p in rl ug; do
    cat >>"$tmp/state/secrets.yaml" <<EOF
---
apiVersion: v1
kind: Namespace
metadata: {name: $p-a, labels: {kubernetes.io/metadata.name: $p-a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: $p-b, labels: {kubernetes.io/metadata.name: $p-b}}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: $p-a}
type: Opaque
data: {password: $B}
stringData: {token: $M}
---
apiVersion: v1
kind: Secret
metadata: {name: api-key, namespace: $p-a}
type: Opaque
data: {key: $B}
---
apiVersion: v1
kind: Secret
metadata:
  name: rotate
  namespace: $p-a
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"apiVersion":"v1","data":{"key":"$B"},"kind":"Secret","metadata":{"name":"rotate","namespace":"$p-a"},"type":"Opaque"}'
type: Opaque
data: {key: $B}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: $p-a}
data: {mode: plain}
---
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: $p-a, labels: {app: app}}
spec:
  containers:
  - name: app
    image: nginx:1.27
    env:
    - name: TOKEN
      valueFrom: {secretKeyRef: {name: creds, key: token}}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: $p-b}
type: Opaque
data: {password: $B}
stringData: {token: $M}
---
apiVersion: v1
kind: Secret
metadata: {name: api-key, namespace: $p-b}
type: Opaque
data: {key: $B}
EOF
done
unlimited='rate_limit: {per_second: 0, per_minute: 0}'
cat >"$tmp/agents.yaml" <<EOF
agents:
  - name: reader-less
    token_sha256: $(sha $RL)
    $unlimited
  - name: unguarded
    token_sha256: $(sha $UG)
    policies: [privilege]
    $unlimited
  - name: secret-reader
    token_sha256: $(sha $SR)
    read_secrets: true
    $unlimited
EOF
# production (enforce mode) reads Secrets for the gate, as a cluster would
# for its service account, and judges nothing
cat >"$tmp/prod-agents.yaml" <<EOF
agents:
  - name: airlock
    token_sha256: $(sha $AIR)
    read_secrets: true
    $unlimited
EOF
printf '%s\n' "$AIR" >"$tmp/prod-token"
mkdir -p "$tmp/prodpol"
cat >"$tmp/prodpol/allow-all.lua" <<'EOF'
return {
  name = "allow-all",
  description = "production: the API server judges nothing",
  evaluate = function(ctx) return allow() end,
}
EOF

# start NAME PORT DATADIR ARGS...: a gate, its log in $tmp/NAME.log; waits
# (bounded) until it answers; sets pid and adds it to servers
start() {
    _n=$1 _port=$2 _data=$3
    shift 3
    "$GATE" serve --listen 127.0.0.1:$_port --data-dir "$_data" "$@" >"$tmp/$_n.log" 2>&1 &
    pid=$!
    servers="$servers $pid"
    _i=0
    until [ -s "$_data/tls.crt" ] && curl -s --cacert "$_data/tls.crt" -m 5 -o /dev/null "https://127.0.0.1:$_port/version"; do
        _i=$((_i + 1))
        if [ $_i -gt 150 ] || ! kill -0 $pid 2>/dev/null; then
            echo "not ok the $_n server did not come up"; cat "$tmp/$_n.log"; exit 1
        fi
        sleep 0.2
    done
}
# stop PID NAME: SIGTERM, gone within 10 s, no sanitizer report in its log
stop() {
    kill -TERM $1
    _i=0
    while kill -0 $1 2>/dev/null && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
    kill -0 $1 2>/dev/null && bad "SIGTERM stops the $2 gate" || ok "SIGTERM stops the $2 gate"
    wait $1 2>/dev/null
    sanitizer_clean "$tmp/$2.log"
}

# call ID WHAT CURL-ARGS...: a call with the token $tok, pinned to $ca; the
# answer's body in $ans/ID, its status in $ans/ID.code, "ID WHAT" in $ans/index
call() {
    _id=$1 _what=$2
    shift 2
    : >"$ans/$_id"
    curl -s --cacert "$ca" -m 10 -o "$ans/$_id" -w '%{http_code}' -H "Authorization: Bearer $tok" "$@" \
        >"$ans/$_id.code" 2>/dev/null
    printf '%s %s\n' "$_id" "$_what" >>"$ans/index"
}
# kx ID WHAT KUBECTL-ARGS...: the same with kubectl (stdout and stderr kept)
kx() {
    _id=$1 _what=$2
    shift 2
    kubectl --kubeconfig "$ans/kubeconfig" --cache-dir "$ans/cache" --request-timeout=10s "$@" >"$ans/$_id" 2>&1
    echo "kubectl exit $?" >"$ans/$_id.code"
    printf '%s %s\n' "$_id" "$_what" >>"$ans/index"
}

# exercise MODE AGENT TOKEN PREFIX: every verb on Secrets as AGENT against
# $url, the answers in $tmp/ans/MODE-AGENT
exercise() {
    tok=$3 a=$4-a b=$4-b
    ans="$tmp/ans/$1-$2"
    mkdir -p "$ans"
    printf 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "%s", certificate-authority: "%s"}}]\nusers: [{name: u, user: {token: "%s"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n' \
        "$url" "$ca" "$tok" >"$ans/kubeconfig"
    s="$url/api/v1/namespaces/$a/secrets"
    J='Content-Type: application/json'
    T='Accept: application/json;as=Table;v=v1;g=meta.k8s.io'
    call get "GET a Secret" "$s/creds"
    call list "list a namespace's Secrets (JSON)" "$s"
    call list-all "list all namespaces' Secrets (JSON)" "$url/api/v1/secrets"
    call table "list Secrets as a Table" -H "$T" "$s"
    call table-object "list Secrets as a Table with includeObject=Object" -H "$T" "$s?includeObject=Object"
    call table-get "GET a Secret as a Table with includeObject=Object" -H "$T" "$s/rotate?includeObject=Object"
    call watch "watch Secrets (timeoutSeconds=1)" "$s?watch=true&timeoutSeconds=1"
    call watch-table "watch Secrets as a Table with includeObject=Object (timeoutSeconds=1)" -H "$T" \
        "$s?watch=true&timeoutSeconds=1&includeObject=Object"
    # a watch that sees a Secret made meanwhile by secret-reader
    call watch-live "watch Secrets while secret-reader creates one (timeoutSeconds=3)" "$s?watch=true&timeoutSeconds=3" &
    _w=$!
    sleep 1
    curl -s --cacert "$ca" -m 10 -o "$tmp/late-$1-$2" -X POST -H "Authorization: Bearer $SR" -H "$J" \
        -d "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"late\",\"namespace\":\"$a\"},\"type\":\"Opaque\",\"data\":{\"late\":\"$B\"}}" \
        "$s" 2>/dev/null
    wait $_w
    call patch-strategic "strategic merge patch of a Secret" -X PATCH -H 'Content-Type: application/strategic-merge-patch+json' \
        -d '{"metadata":{"labels":{"touched":"strategic"}}}' "$s/creds"
    call patch-merge "merge patch of a Secret" -X PATCH -H 'Content-Type: application/merge-patch+json' \
        -d '{"metadata":{"labels":{"touched":"merge"}}}' "$s/creds"
    call patch-json "JSON patch of a Secret" -X PATCH -H 'Content-Type: application/json-patch+json' \
        -d '[{"op":"add","path":"/metadata/labels","value":{"touched":"json"}}]' "$s/creds"
    call put "PUT of a Secret (new data, marker-free)" -X PUT -H "$J" \
        -d "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"rotate\",\"namespace\":\"$a\"},\"type\":\"Opaque\",\"data\":{\"key\":\"cm90YXRlZA==\"}}" \
        "$s/rotate"
    call create "create of a Secret (its own marker-free data)" -X POST -H "$J" \
        -d "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"fresh\",\"namespace\":\"$a\"},\"type\":\"Opaque\",\"data\":{\"v\":\"ZnJlc2g=\"}}" \
        "$s"
    call delete-dry-query "dry-run delete of a Secret (?dryRun=All)" -X DELETE "$s/api-key?dryRun=All"
    call delete-dry-body "dry-run delete of a Secret (body {\"dryRun\":[\"All\"]})" -X DELETE -H "$J" \
        -d '{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"]}' "$s/api-key"
    call delete "delete of a Secret" -X DELETE "$s/api-key"
    call deletecollection-dry "dry-run delete of a namespace's Secrets (DELETE .../secrets?dryRun=All)" \
        -X DELETE "$url/api/v1/namespaces/$b/secrets?dryRun=All"
    call deletecollection "delete of a namespace's Secrets (DELETE .../secrets)" -X DELETE "$url/api/v1/namespaces/$b/secrets"
    call list-configmaps "list of ConfigMaps (not Secrets)" "$url/api/v1/namespaces/$a/configmaps"
    call list-pods "list of Pods (one takes a Secret's value in its env)" "$url/api/v1/namespaces/$a/pods"
    call list-events "list of Events" "$url/api/v1/namespaces/$a/events"
    kx kubectl-get "kubectl get secret -o yaml" get secret creds -n "$a" -o yaml
    kx kubectl-table "kubectl get secrets (a Table)" get secrets -n "$a"
    kx kubectl-describe "kubectl describe secret" describe secret creds -n "$a"
    kx kubectl-patch "kubectl patch secret -o yaml" patch secret creds -n "$a" -p '{"metadata":{"labels":{"by":"kubectl"}}}' -o yaml
    kx kubectl-label "kubectl label secret -o yaml" label secret late -n "$a" by=kubectl -o yaml
}

# answers MODE AGENT: one check per answer, and that each was answered
answers() {
    _d="$tmp/ans/$1-$2"
    _unanswered=$(grep -l '^000$' "$_d"/*.code 2>/dev/null | sed 's|.*/||; s|\.code$||' | tr '\n' ' ')
    [ -z "$_unanswered" ] && ok "$1, $2: every call had an answer" || bad "$1, $2: calls without an answer: $_unanswered"
    # a watch check that saw nothing would pass for nothing: unguarded may
    # watch, and must have seen the Secret secret-reader made meanwhile
    if [ "$2" = unguarded ]; then
        grep -q '"name":"late"' "$_d/watch-live" && ok "$1, $2: the watch saw the Secret made while it ran" \
            || { bad "$1, $2: the watch saw the Secret made while it ran"; head -c 300 "$_d/watch-live"; echo; }
    fi
    while read -r _id _what; do
        absent "$1, $2 (no read_secrets): no Secret value in the answer to $_what" "$LEAK" "$_d/$_id" \
            || echo "  ($_id: $(cat "$_d/$_id.code"); it begins: $(head -c 200 "$_d/$_id" | tr '\n' ' '))"
    done <"$_d/index"
}

# control MODE: secret-reader's get of a Secret holds the marker
control() {
    curl -s --cacert "$ca" -m 10 -o "$tmp/control-$1" -H "Authorization: Bearer $SR" "$url/api/v1/namespaces/rl-a/secrets/creds"
    grep -qE "$LEAK" "$tmp/control-$1" && ok "$1, secret-reader (read_secrets): GET of a Secret returns its value (the marker is findable)" \
        || { bad "$1, secret-reader (read_secrets): GET of a Secret returns its value"; head -c 400 "$tmp/control-$1"; echo; }
    # unguarded read creds (redacted for it) and patched its labels: what it
    # was shown must not have become the Secret (the twin's object is
    # shared by every reader; a redaction works on a copy)
    curl -s --cacert "$ca" -m 10 -o /dev/null -H "Authorization: Bearer $UG" "$url/api/v1/namespaces/ug-a/secrets/creds"
    curl -s --cacert "$ca" -m 10 -o "$tmp/control2-$1" -H "Authorization: Bearer $SR" "$url/api/v1/namespaces/ug-a/secrets/creds"
    grep -qE "$LEAK" "$tmp/control2-$1" \
        && ok "$1, secret-reader: a Secret an agent without read_secrets read (redacted) and patched still holds its value" \
        || { bad "$1, secret-reader: a Secret an agent without read_secrets read and patched still holds its value"; head -c 400 "$tmp/control2-$1"; echo; }
}

# at_rest NAME DATADIR AUDITREPO: the gate's log ($tmp/NAME.log), its audit
# repository, its data directory; and the repository's modes
at_rest() {
    absent "$1: no Secret value in the gate's log (stderr)" "$LEAK" "$tmp/$1.log"
    git -C "$3" log -p --all >"$tmp/$1-audit-log" 2>&1
    git -C "$3" cat-file --batch-all-objects --batch >"$tmp/$1-audit-objects" 2>&1
    _n=$(git -C "$3" rev-list --count --all 2>/dev/null)
    grep -q 'state.json' "$tmp/$1-audit-log" && [ "${_n:-0}" -gt 1 ] \
        && ok "$1: the audit repository reads back through git ($_n commits, the start record's state.json among them)" \
        || { bad "$1: the audit repository reads back through git"; head -5 "$tmp/$1-audit-log"; }
    absent "$1: no Secret value in the audit repository's history (git log -p --all)" "$LEAK" "$tmp/$1-audit-log"
    absent "$1: no Secret value in any object of the audit repository (git cat-file --batch-all-objects)" "$LEAK" \
        "$tmp/$1-audit-objects"
    absent "$1: no Secret value in the audit repository's files as they are (the journal, refs, config)" "$LEAK" "$3"
    absent "$1: no Secret value in the data directory's files (gate.db, shadow.jsonl, ...)" "$LEAK" "$2"
    if command -v sqlite3 >/dev/null && [ -f "$2/gate.db" ]; then
        sqlite3 "$2/gate.db" .dump >"$tmp/$1-db.sql" 2>&1
        absent "$1: no Secret value in gate.db (sqlite3 .dump)" "$LEAK" "$tmp/$1-db.sql"
    fi
    _loose=$(find "$3" -perm /077 2>/dev/null | head -5)
    [ -z "$_loose" ] && [ -n "$(find "$3" -type f 2>/dev/null | head -1)" ] \
        && ok "$1: nothing in the audit repository is open to group or others ($3)" \
        || { bad "$1: nothing in the audit repository is open to group or others ($3)"; for _f in $_loose; do ls -ld "$_f"; done; }
    _loose=$(find "$2/audit.key" -perm /077 2>/dev/null)
    [ -f "$2/audit.key" ] && [ -z "$_loose" ] && ok "$1: the audit key is open to no one else" \
        || { bad "$1: the audit key is open to no one else"; ls -l "$2/audit.key"; }
}

# ---- twin mode, the audit repository outside the data directory ----
mkdir "$tmp/shared"   # 0755: the repository's privacy is the gate's doing
start twin $tport "$tmp/twin" --state "$tmp/state" --agents "$tmp/agents.yaml" --audit-repo "$tmp/shared/audit"
url=https://127.0.0.1:$tport ca="$tmp/twin/tls.crt"
control twin
exercise twin reader-less $RL rl
exercise twin unguarded $UG ug
stop $pid twin
answers twin reader-less
answers twin unguarded
at_rest twin "$tmp/twin" "$tmp/shared/audit"

# ---- enforce mode: production a gate in twin mode holding the Secrets ----
# (production stands for the cluster, which holds the values: its own log
# and audit repository are not the gate's and are not looked at)
start prod $pport "$tmp/prod" --state "$tmp/state" --agents "$tmp/prod-agents.yaml" --policies "$tmp/prodpol"
prodpid=$pid
start enforce $fport "$tmp/front" --agents "$tmp/agents.yaml" --upstream https://127.0.0.1:$pport \
    --upstream-token-file "$tmp/prod-token" --upstream-ca "$tmp/prod/tls.crt"
url=https://127.0.0.1:$fport ca="$tmp/front/tls.crt"
grep -q "enforce mode" "$tmp/enforce.log" && ok "enforce: the gate is up in enforce mode" || bad "enforce: the gate is up in enforce mode"
control enforce
exercise enforce reader-less $RL rl
exercise enforce unguarded $UG ug
stop $pid enforce
stop $prodpid prod
answers enforce reader-less
answers enforce unguarded
at_rest enforce "$tmp/front" "$tmp/front/audit"
[ "$failures" -eq 0 ]
