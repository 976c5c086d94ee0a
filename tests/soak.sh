#!/bin/sh
# make soak: the gate in enforce mode in front of a stand-in production (a
# second gate in twin mode), SOAK_AGENTS agents (default 32) of mixed load
# for SOAK_SECONDS (default 600): reads, mutations, and watches that come
# and go (tests/soak.py). Prints throughput, p50/p99, the gate's RSS, fds
# and threads at the start and the end, and the gate-side errors (which
# should be zero). Not part of make test.
GATE=${1:-bin/gate}
AGENTS=${SOAK_AGENTS:-32}
SECS=${SOAK_SECONDS:-600}
. tests/lib.sh
port=$((20000 + $$ % 20000))
serve_enforce $port
kill -TERM $pid
wait $pid 2>/dev/null
# the agents: one token each, no rate limit (the soak is the load)
i=1
: >"$tmp/tokens"
printf '[' >"$tmp/agents.json"
while [ $i -le "$AGENTS" ]; do
    tok=soak-$$-$i-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
    echo "agent$i $tok" >>"$tmp/tokens"
    [ $i -gt 1 ] && printf ',' >>"$tmp/agents.json"
    printf '{"name":"agent%d","token_sha256":"%s","rate_limit":{"per_second":0,"per_minute":0}}' $i \
        "$(printf %s "$tok" | sha256sum | cut -d' ' -f1)" >>"$tmp/agents.json"
    i=$((i + 1))
done
printf ']\n' >>"$tmp/agents.json"
"$GATE" serve --listen 127.0.0.1:$port --data-dir "$tmp/data" --agents "$tmp/agents.json" \
    --upstream "https://127.0.0.1:$((port + 1))" --upstream-token-file "$tmp/prod-token" \
    --upstream-ca "$tmp/prod/tls.crt" >"$tmp/serve.log" 2>&1 &
pid=$!
servers="$servers $pid"
_i=0
until curl -s --cacert "$tmp/data/tls.crt" -m 2 -o /dev/null -H "Authorization: Bearer $(head -1 "$tmp/tokens" | cut -d' ' -f2)" \
        "https://127.0.0.1:$port/version"; do
    _i=$((_i + 1))
    [ $_i -gt 150 ] && { echo "soak: the gate did not come up"; cat "$tmp/serve.log"; exit 1; }
    sleep 0.2
done
# each agent's own ConfigMap, made through the gate
while read -r name tok; do
    curl -s -o /dev/null --cacert "$tmp/data/tls.crt" -H "Authorization: Bearer $tok" -X POST \
        -H 'Content-Type: application/json' \
        -d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"soak-$name\"}}" \
        "https://127.0.0.1:$port/api/v1/namespaces/shop/configmaps"
done <"$tmp/tokens"
/usr/bin/python3 tests/soak.py $port "$tmp/data/tls.crt" "$tmp/tokens" $pid "$SECS"
rc=$?
n=$(grep -c "could not\|production could not be reached\|refused 50" "$tmp/serve.log")
echo "  gate log lines reporting a failure: $n"
stop_twin "SIGTERM stops the gate after the soak"
stop_production
[ $rc = 0 ] && [ "$n" = 0 ] && [ $failures = 0 ]
