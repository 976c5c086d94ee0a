#!/bin/sh
# Pass-through watches in enforce mode (issue "fail closed on every fault"):
# no thread per watch, production's stream released soon after its client
# vanishes, a stalled production holds no worker (tests/cli/watch_pass.py).
. tests/lib.sh
port=$((20000 + $$ % 20000))
serve_enforce $port --state fixtures/demo
TOK=$(sed -n 's/^ *token: //p' "$tmp/data/kubeconfig")
/usr/bin/python3 tests/cli/watch_pass.py $port "$tmp/data/tls.crt" "$TOK" $pid $prodpid || failures=$((failures + 1))
stop_twin "SIGTERM stops the gate after its watches"
stop_production

# --- an identity's connections and watches are capped by its profile ---
cport=$((port + 2))
ctok=capped-$$-token
printf '[{"name": "capped", "token_sha256": "%s", "connections": 6, "watches": 3}]\n' \
    "$(printf %s "$ctok" | sha256sum | cut -d' ' -f1)" >"$tmp/capped.json"
"$GATE" serve --listen 127.0.0.1:$cport --data-dir "$tmp/capped" --agents "$tmp/capped.json" \
    --state fixtures/demo >"$tmp/capped.log" 2>&1 &
cpid=$!
servers="$servers $cpid"
wait_gate $cpid "$tmp/capped/tls.crt" "https://127.0.0.1:$cport" "$ctok" "$tmp/capped.log"
sleep 0.5   # the probe's connection is closed and counted out
/usr/bin/python3 tests/cli/conn_cap.py $cport "$tmp/capped/tls.crt" "$ctok" 6 3 || failures=$((failures + 1))
grep -q "capped GET /api/v1/namespaces/shop/configmaps -> 429 (connections)" "$tmp/capped.log" \
    && ok "the refused connection is logged" || bad "the refused connection is not logged"
kill -TERM $cpid; wait $cpid 2>/dev/null
sanitizer_clean "$tmp/capped.log"
exit $((failures > 0))
