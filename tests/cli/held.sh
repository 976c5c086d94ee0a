#!/bin/sh
# Requests held for a person (--review-wait) hold no server thread: more of
# them than the server has threads (8) wait at once, the approver's calls
# are still served meanwhile, and each held request gets its person's answer.
. tests/lib.sh
port=$((20000 + $$ % 20000))
serve_twin $port --state fixtures/demo --review-wait 60
TOK=$(sed -n 's/^ *token: //p' "$tmp/data/kubeconfig")
APPROVER=$(cat "$tmp/data/approver.token")
url=https://127.0.0.1:$port
# ten different changes that need review (cost): ten approvals, ten held requests
i=0
while [ $i -lt 10 ]; do
    curl -s -o "$tmp/held.$i" -m 90 --cacert "$tmp/data/tls.crt" -H "Authorization: Bearer $TOK" -X PATCH \
        -H 'Content-Type: application/merge-patch+json' -d "{\"spec\":{\"replicas\":$((200 + i))}}" \
        "$url/apis/apps/v1/namespaces/shop/deployments/checkout/scale" &
    held="$held $!"
    i=$((i + 1))
done
pending() { curl -s -m 10 --cacert "$tmp/data/tls.crt" -H "Authorization: Bearer $APPROVER" "$url/airlock/v1/approvals?state=pending" |
    python3 -c 'import json,sys; print(" ".join(a["id"] for a in json.load(sys.stdin)["items"]))'; }
i=0
until [ "$(pending | wc -w)" -ge 10 ] || [ $i -gt 100 ]; do sleep 0.2; i=$((i + 1)); done
ids=$(pending)
[ "$(echo $ids | wc -w)" = 10 ] && ok "ten requests held at once (more than the server's threads)" || bad "held at once ($(echo $ids | wc -w))"
kubectl --kubeconfig "$tmp/data/kubeconfig" --cache-dir "$tmp/cache" --request-timeout=5s get pods -n shop >/dev/null 2>&1 \
    && ok "reads are served while they wait" || bad "reads while held"
n=0
for id in $ids; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 --cacert "$tmp/data/tls.crt" -H "Authorization: Bearer $APPROVER" \
        -X POST -d '{"comment": "not today"}' "$url/airlock/v1/approvals/$id/deny")
    [ "$code" = 200 ] && n=$((n + 1))
done
[ $n = 10 ] && ok "the approver denies all ten while they are held (each answered within 5 s)" || bad "denials ($n of 10)"
wait $held
n=$(grep -l "denied by approver approver: not today" "$tmp"/held.* | wc -l)
[ "$n" = 10 ] && ok "each held request got its person's answer" || { bad "held answers ($n of 10)"; head -c 300 "$tmp/held.0"; }
# a request still held when the gate stops is answered, and the gate stops
curl -s -o "$tmp/held.stop" -m 30 --cacert "$tmp/data/tls.crt" -H "Authorization: Bearer $TOK" -X PATCH \
    -H 'Content-Type: application/merge-patch+json' -d '{"spec":{"replicas":300}}' \
    "$url/apis/apps/v1/namespaces/shop/deployments/checkout/scale" &
last=$!
i=0
until [ "$(pending | wc -w)" -ge 1 ] || [ $i -gt 100 ]; do sleep 0.2; i=$((i + 1)); done
stop_twin "SIGTERM stops the gate with a request held"
wait $last
grep -q "the gate is stopping; it stays pending" "$tmp/held.stop" && ok "the held request is answered at shutdown" \
    || { bad "held at shutdown"; cat "$tmp/held.stop"; }
exit $((failures > 0))
