#!/bin/sh
# The approvals page in a real headless browser (Debian's chromium, driven
# by playwright-core from tests/ui): an agent's action that opens network
# paths waits for approval; the page shows it (headline, policy reason,
# impact, diff, the reachability graph); a person approves it there; the
# agent's retry passes.
. tests/lib.sh
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed"; exit 1; }
command -v node >/dev/null || { echo "not ok node is not installed (tests/deps.sh installs it)"; exit 1; }
[ -x /usr/bin/chromium ] || { echo "not ok chromium is not installed (tests/deps.sh installs it)"; exit 1; }
[ -d tests/ui/node_modules/playwright-core ] || { echo "not ok playwright-core is missing (tests/deps.sh runs npm ci in tests/ui)"; exit 1; }

port=$((20000 + ($$ + 13) % 20000))
serve_twin $port
url=https://127.0.0.1:$port
token=$(cat "$tmp/data/approver.token")

# the page itself is served without a token (it holds no data and asks for one)
code=$(curl -s --cacert "$tmp/data/tls.crt" -m 10 -o "$tmp/page" -w '%{http_code}' "$url/airlock/ui/")
[ "$code" = 200 ] && grep -qi "<html" "$tmp/page" && ok "GET /airlock/ui/ serves the page" || { bad "page ($code)"; head -c 300 "$tmp/page"; }

k delete networkpolicy cart-ingress -n shop >"$tmp/out" 2>&1
id=$(sed -n 's/.*approval id \([0-9a-f]*\).*/\1/p' "$tmp/out" | head -1)
[ -n "$id" ] && grep -q "needs approval (segmentation: would delete NetworkPolicy shop/cart-ingress" "$tmp/out" \
    && ok "deleting a NetworkPolicy waits for approval" || { bad "review"; cat "$tmp/out"; }

UI_SHOT="$tmp/approval.png" timeout 120 node tests/ui/approve.mjs "$url" "$token" "$id" >"$tmp/ui.log" 2>&1 \
    && ok "the page shows the approval (reasons, impact, diff, reachability graph) and approves it in chromium" \
    || { bad "browser approval"; cat "$tmp/ui.log"; }
[ -s "$tmp/approval.png" ] && ok "a screenshot of the page was taken" || bad "screenshot"

"$GATE" approvals show "$id" --server "$url" --token "$token" --ca "$tmp/data/tls.crt" >"$tmp/show" 2>&1
grep -q '"state": "approved"' "$tmp/show" && grep -q '"decided_by": "approver"' "$tmp/show" \
    && ok "the API agrees: approved by the approver" || { bad "state after the page"; cat "$tmp/show"; }
k delete networkpolicy cart-ingress -n shop >"$tmp/out" 2>&1 && ! k get networkpolicy cart-ingress -n shop >/dev/null 2>&1 \
    && ok "the agent's retry passes" || { bad "retry"; cat "$tmp/out"; }
"$GATE" audit log --data-dir "$tmp/data" >"$tmp/audit" 2>&1
grep -q "approv" "$tmp/audit" && ok "the approval is in the audit log" || { bad "audit"; cat "$tmp/audit"; }

stop_twin "SIGTERM stops the gate"
[ $failures = 0 ]
