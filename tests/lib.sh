# Shared by the command-line tests in tests/cli/: a scratch directory,
# ok/bad reporting (one line each, counted by tests/run.sh), and the
# server stopper. Sourced with `. tests/lib.sh` from the repository root.
GATE=${1:-bin/gate}
tmp=$(mktemp -d)
failures=0
ok() { echo "ok $1"; }
bad() { echo "not ok $1"; failures=$((failures + 1)); }
# servers started by a test; killed when it ends, however it ends
servers=""
trap 'kill $servers 2>/dev/null; [ -n "$KEEP_TMP" ] && cp -r "$tmp" "$KEEP_TMP"; rm -rf "$tmp"' EXIT INT TERM
# sanitizer_clean LOG...: a bad line for each log holding a sanitizer report
sanitizer_clean() {
    for l in "$@"; do
        if grep -q "Sanitizer\|runtime error" "$l"; then bad "sanitizer report in $(basename "$l")"; cat "$l"
        else ok "no sanitizer report in $(basename "$l")"; fi
    done
}
# serve_twin PORT [ARGS...]: `gate serve` in twin mode on PORT with its data
# in $tmp/data and its log in $tmp/serve.log; exports KUBECONFIG, defines k
# (kubectl with a scratch cache) and waits (bounded) until kubectl gets an
# answer. Sets pid and adds it to servers.
serve_twin() {
    _port=$1
    shift
    "$GATE" serve --listen 127.0.0.1:$_port --data-dir "$tmp/data" "$@" >"$tmp/serve.log" 2>&1 &
    pid=$!
    servers="$servers $pid"
    export KUBECONFIG="$tmp/data/kubeconfig"
    _i=0
    until [ -s "$KUBECONFIG" ] && k version >/dev/null 2>&1; do
        _i=$((_i + 1))
        if [ $_i -gt 100 ] || ! kill -0 $pid 2>/dev/null; then
            echo "not ok the server did not come up"; cat "$tmp/serve.log"; exit 1
        fi
        sleep 0.2
    done
}
k() { kubectl --cache-dir "$tmp/cache" --request-timeout=10s "$@"; }
# own_policies: the default policies copied into $tmp/pol, for a test that
# adds one of its own or changes them while the gate runs
own_policies() {
    mkdir -p "$tmp/pol"
    cp lua-policies/*.lua "$tmp/pol/"
    cp -r lua-policies/lib "$tmp/pol/"
}
# serve_enforce PORT [ARGS...]: a production on PORT+1 (a second gate in
# twin mode, on the demo unless ARGS say otherwise, judging nothing, its data
# in $tmp/prod and its log in $tmp/prod.log), then serve_twin PORT in enforce
# mode in front of it (the agent's kubeconfig, k, pid as serve_twin sets
# them). stop_production stops it and checks its log.
serve_enforce() {
    _port=$1
    shift
    _pport=$((_port + 1))
    mkdir -p "$tmp/nopol"
    _ptok=airlock-$$-token
    printf '[{"name": "airlock", "token_sha256": "%s", "rate_limit": {"per_second": 0, "per_minute": 0}, "watches": 0, "connections": 0}]\n' \
        "$(printf %s "$_ptok" | sha256sum | cut -d' ' -f1)" >"$tmp/prod-agents.json"
    "$GATE" serve --listen 127.0.0.1:$_pport --data-dir "$tmp/prod" --policies "$tmp/nopol" \
        --agents "$tmp/prod-agents.json" "$@" >"$tmp/prod.log" 2>&1 &
    prodpid=$!
    servers="$servers $prodpid"
    wait_gate $prodpid "$tmp/prod/tls.crt" "https://127.0.0.1:$_pport" "$_ptok" "$tmp/prod.log"
    printf '%s\n' "$_ptok" >"$tmp/prod-token"
    serve_twin $_port --upstream "https://127.0.0.1:$_pport" --upstream-token-file "$tmp/prod-token" \
        --upstream-ca "$tmp/prod/tls.crt"
}
# wait_gate PID CA_FILE URL TOKEN LOG: waits (bounded, 30 s) until the gate
# (process PID, log LOG) at URL answers /version to TOKEN; ends the test
# with "not ok" and the log when it does not come up
wait_gate() {
    _i=0
    until [ -s "$2" ] && curl -s --cacert "$2" -m 5 -o /dev/null -H "Authorization: Bearer $4" "$3/version"; do
        _i=$((_i + 1))
        if [ $_i -gt 150 ] || ! kill -0 "$1" 2>/dev/null; then
            echo "not ok the gate at $3 did not come up"; cat "$5"; exit 1
        fi
        sleep 0.2
    done
}
stop_production() {
    [ -n "$prodpid" ] || return 0
    kill -TERM $prodpid
    wait $prodpid 2>/dev/null
    sanitizer_clean "$tmp/prod.log"
}
# stop_twin WHAT: SIGTERM to the serve_twin server; ok WHAT if it is gone
# within 5 s, then its log must hold no sanitizer report
stop_twin() {
    kill -TERM $pid
    _i=0
    while kill -0 $pid 2>/dev/null && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
    kill -0 $pid 2>/dev/null && bad "$1" || ok "$1"
    wait $pid 2>/dev/null
    sanitizer_clean "$tmp/serve.log"
}
# absent NAME ERE PATH...: ok NAME when no PATH (a file, or a directory
# searched whole) holds a match of the extended regular expression ERE;
# otherwise not ok NAME and up to five matches, each as PATH:LINE: with at
# most 80 bytes either side of it (a missing PATH is a failure too, so that
# a check of nothing does not pass). Returns 1 when not ok.
absent() {
    _name=$1 _re=$2
    shift 2
    for _p in "$@"; do
        [ -e "$_p" ] || { bad "$_name"; echo "  $_p: missing"; return 1; }
    done
    if LC_ALL=C grep -arqE "$_re" "$@"; then
        bad "$_name"
        LC_ALL=C grep -arHnoE ".{0,80}($_re).{0,80}" "$@" | head -5 | sed 's/^/  /'
        return 1
    fi
    ok "$_name"
}
