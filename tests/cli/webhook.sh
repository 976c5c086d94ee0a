#!/bin/sh
# The approvals webhook is off the request path: an agent's answer never
# waits for the hook (a hook that holds its connection open does not hold
# the agent), and a delivery the hook refuses is tried again.
. tests/lib.sh
port=$((20000 + $$ % 20000))
hookport=$((port + 1))
# the hook: the first POST is held until $tmp/release exists (bounded),
# then answered 500; every later one 204.  Each arrival and answer is
# appended to $tmp/hook.log.
python3 - "$hookport" "$tmp" <<'PY' >/dev/null 2>&1 &
import http.server, os, sys, time
port, tmp = int(sys.argv[1]), sys.argv[2]
n = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global n
        n += 1
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(tmp + "/hook.log", "ab") as f: f.write(b"received " + body + b"\n")
        if n == 1:
            for _ in range(200):
                if os.path.exists(tmp + "/release"): break
                time.sleep(0.1)
        self.send_response(500 if n == 1 else 204); self.end_headers()
        with open(tmp + "/hook.log", "ab") as f: f.write(b"answered %d\n" % n)
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", port), H)
srv.timeout = 1
end = time.time() + 120
while time.time() < end: srv.handle_request()
PY
servers="$!"
serve_twin $port --state fixtures/demo --webhook "http://127.0.0.1:$hookport/hook"
TOK=$(sed -n 's/^ *token: //p' "$tmp/data/kubeconfig")
code=$(curl -s -o "$tmp/ans" -w '%{http_code}' -m 20 --cacert "$tmp/data/tls.crt" -H "Authorization: Bearer $TOK" \
    -X PATCH -H 'Content-Type: application/merge-patch+json' -d '{"spec":{"replicas":200}}' \
    "https://127.0.0.1:$port/apis/apps/v1/namespaces/shop/deployments/checkout/scale")
i=0; until grep -q "^received" "$tmp/hook.log" 2>/dev/null || [ $i -gt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ "$code" = 403 ] && grep -q "approval id" "$tmp/ans" && grep -q "^received.*approval.pending" "$tmp/hook.log" \
    && ! grep -q "^answered" "$tmp/hook.log" \
    && ok "the agent had its answer while the hook still held the event's POST" \
    || { bad "webhook on the request path ($code)"; cat "$tmp/ans" "$tmp/hook.log"; }
touch "$tmp/release"
i=0; until [ "$(grep -c '^received.*approval.pending' "$tmp/hook.log")" -ge 2 ] || [ $i -gt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(grep -c '^received.*approval.pending' "$tmp/hook.log")" = 2 ] && grep -q "^answered 2" "$tmp/hook.log" \
    && ok "an event the hook refused (500) is delivered on the next try" || { bad "webhook retry"; cat "$tmp/hook.log"; }
stop_twin "SIGTERM stops the gate with a webhook queue"
exit $((failures > 0))
