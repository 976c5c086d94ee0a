#!/bin/sh
# gate serve --config FILE: the file form of serve's flags. A YAML file with
# listen, data-dir, state and policies starts a server kubectl can use; its
# relative paths resolve against the file's directory (the test runs from the
# repository root, the file lives in the scratch dir); command-line flags win
# (--listen), and a command-line --state replaces the file's list; a bad file
# (unknown key, wrong type, malformed YAML, missing) is a usage error (exit 3)
# naming the file and the key or line.
. tests/lib.sh
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed (tests/deps.sh installs kubernetes-client)"; exit 1; }

port1=$((20000 + ($$ + 5000) % 20000))
port2=$((port1 + 1))
conf="$tmp/conf"
mkdir -p "$conf/cluster"
mkdir -p "$conf/policies"   # empty: nothing is denied, where the default policies would deny secret reads
ns() { printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    kubernetes.io/metadata.name: %s\n' "$1" "$1"; }
ns from-the-file >"$conf/cluster/ns.yaml"
ns from-the-command-line >"$tmp/cli-state.yaml"
cat >"$conf/airlock.yaml" <<EOF
# every path relative: to this file's directory, not to the working directory
listen: 127.0.0.1:$port1
data-dir: data
state:
  - cluster
policies: policies
upstream-insecure: false
EOF

k() { kubectl --kubeconfig "$conf/data/kubeconfig" --cache-dir "$tmp/cache" --request-timeout=5s "$@"; }
# start NAME ARGS...: starts a server, waits (bounded) until kubectl answers
start() {
    log="$tmp/$1.log"; shift
    rm -f "$conf/data/kubeconfig"
    "$GATE" serve "$@" >"$log" 2>&1 &
    pid=$!
    servers="$servers $pid"
    i=0
    until [ -s "$conf/data/kubeconfig" ] && k version >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 $pid 2>/dev/null; then return 1; fi
        sleep 0.2
    done
}
stop() {
    kill -TERM $pid
    i=0
    while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    wait $pid 2>/dev/null
}

if start file --config "$conf/airlock.yaml"; then
    ok "a YAML config file starts a server kubectl reaches"
    grep -q "https://127.0.0.1:$port1 " "$tmp/file.log" && ok "listen from the file" || { bad "listen from the file"; cat "$tmp/file.log"; }
    [ -s "$conf/data/tls.crt" ] && [ ! -e data ] && ok "data-dir relative to the file's directory" || bad "data-dir relative to the file"
    k get namespaces -o name >"$tmp/out" 2>&1
    grep -qx "namespace/from-the-file" "$tmp/out" && ok "kubectl get namespaces: the state the file names, relative to it" \
        || { bad "get namespaces from the file's state"; cat "$tmp/out" "$tmp/file.log"; }
    k get secrets -n from-the-file >"$tmp/out" 2>&1 && ! grep -q "denied" "$tmp/out" \
        && ok "the (empty) policy directory the file names, relative to it, judges" || { bad "policies from the file"; cat "$tmp/out"; }
    stop
else
    bad "a YAML config file starts a server"; cat "$tmp/file.log"
fi

if start cli --config "$conf/airlock.yaml" --listen 127.0.0.1:$port2 --state "$tmp/cli-state.yaml"; then
    grep -q "https://127.0.0.1:$port2 " "$tmp/cli.log" && grep -q "server: https://127.0.0.1:$port2$" "$conf/data/kubeconfig" \
        && ok "a command-line --listen wins over the file's" || { bad "--listen over the file"; cat "$tmp/cli.log"; }
    k get namespaces -o name >"$tmp/out" 2>&1
    grep -qx "namespace/from-the-command-line" "$tmp/out" && ! grep -q "from-the-file" "$tmp/out" \
        && ok "a command-line --state replaces the file's list" || { bad "--state over the file"; cat "$tmp/out"; }
    stop
else
    bad "config file with command-line flags starts a server"; cat "$tmp/cli.log"
fi

# fails NAME FILE-CONTENT PATTERN: serve exits 3 with a message matching PATTERN
fails() {
    printf '%s\n' "$2" >"$conf/bad.${4:-yaml}"
    "$GATE" serve --config "$conf/bad.${4:-yaml}" >"$tmp/out" 2>&1
    rc=$?
    [ $rc = 3 ] && grep -q "$3" "$tmp/out" && ok "$1" || { bad "$1 (exit $rc)"; cat "$tmp/out"; }
}
fails "unknown key: exit 3 naming the file and the key" "listne: 127.0.0.1:1" "$conf/bad.yaml: unknown key \"listne\""
fails "wrong type: exit 3 naming the file and the key" "upstream-insecure: \"yes\"" \
    "$conf/bad.yaml: \"upstream-insecure\" must be true or false"
fails "state not a list of paths: exit 3" "state: {a: 1}" "$conf/bad.yaml: \"state\" must be"
fails "malformed YAML: exit 3 with file:line:col" "listen: 127.0.0.1:1
state: [a, b" "$conf/bad.yaml:[23]:[0-9]*: "
fails "not a mapping: exit 3" "- listen" "$conf/bad.yaml:1:1: .*not a mapping"
fails "policy-timeout out of range: exit 3 naming it" "policy-timeout: 0" "policy-timeout is more than 0 and at most 60 seconds (got 0)"
fails "upstream-timeout not a number: exit 3 naming it" "upstream-timeout: soon" "upstream-timeout is more than 0 and at most 600 seconds (got soon)"
fails "JSON: unknown key named too" '{"listen": "127.0.0.1:1", "stat": []}' "$conf/bad.json: unknown key \"stat\"" json
"$GATE" serve --config "$conf/missing.yaml" >"$tmp/out" 2>&1
rc=$?
[ $rc = 3 ] && grep -q "$conf/missing.yaml: No such file" "$tmp/out" && ok "missing file: exit 3 naming it" || { bad "missing file (exit $rc)"; cat "$tmp/out"; }
"$GATE" check --config "$conf/airlock.yaml" >"$tmp/out" 2>&1
[ $? = 3 ] && grep -q "unknown option --config" "$tmp/out" && ok "--config is serve's only" || { bad "--config outside serve"; cat "$tmp/out"; }

sanitizer_clean "$tmp/file.log" "$tmp/cli.log"
[ "$failures" -eq 0 ]
