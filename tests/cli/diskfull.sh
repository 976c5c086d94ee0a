#!/bin/sh
# The audit log's disk fills up (issue "fail closed on every fault"): in
# enforce mode, on a small tmpfs holding the audit repository. Mutations are
# refused 507, logged, nothing forwarded; reads go on; when space returns
# the gate recovers by itself; under concurrent load no mutation is
# answered 2xx without its outcome in the log. Needs root for the tmpfs.
. tests/lib.sh
port=$((20000 + $$ % 20000))
mkdir -p "$tmp/disk"
if ! mount -t tmpfs -o size=24m tmpfs "$tmp/disk" 2>/dev/null; then
    echo "# skipped: cannot mount a tmpfs here (needs root)"
    exit 0
fi
trap 'kill $servers 2>/dev/null; sleep 0.5; umount "$tmp/disk" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
serve_enforce $port
kill -TERM $pid
wait $pid 2>/dev/null
rm -rf "$tmp/data"   # a fresh data directory: the audit key goes with the new log
serve_twin $port --upstream "https://127.0.0.1:$((port + 1))" --upstream-token-file "$tmp/prod-token" \
    --upstream-ca "$tmp/prod/tls.crt" --audit-repo "$tmp/disk/audit"
TOK=$(sed -n 's/^ *token: //p' "$tmp/data/kubeconfig")
url=https://127.0.0.1:$port
create() {   # NAME: prints the status; the body in $tmp/out.NAME
    curl -s -o "$tmp/out.$1" -w '%{http_code}\n' -m 20 --cacert "$tmp/data/tls.crt" -H "Authorization: Bearer $TOK" \
        -X POST -H 'Content-Type: application/json' \
        -d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"$1\"}}" \
        "$url/api/v1/namespaces/shop/configmaps"
}
fill() { dd if=/dev/zero of="$tmp/disk/fill" bs=64k count=1000 2>/dev/null; }
unfill() { rm -f "$tmp/disk/fill"; }
in_production() {
    curl -s -o /dev/null -w '%{http_code}' -m 10 --cacert "$tmp/prod/tls.crt" -H "Authorization: Bearer $(cat "$tmp/prod-token")" \
        "https://127.0.0.1:$((port + 1))/api/v1/namespaces/shop/configmaps/$1" | grep -q '^200$'
}

[ "$(create before)" = 201 ] && ok "a mutation passes with room on the disk" || bad "before the fill"
fill
s=$(create full-1)
if [ "$s" = 507 ] && grep -q "No space left on device" "$tmp/out.full-1" && ! in_production full-1; then
    ok "with the disk full a mutation is refused 507 naming the cause, and not forwarded"
else
    bad "with the disk full: $s"; cat "$tmp/out.full-1"
fi
grep -q "POST /api/v1/namespaces/shop/configmaps -> refused 507: the decision could not be recorded" "$tmp/serve.log" \
    && ok "the refusal is logged" || bad "the refusal is not logged"
r=$(curl -s -o /dev/null -w '%{http_code}' -m 10 --cacert "$tmp/data/tls.crt" -H "Authorization: Bearer $TOK" \
    "$url/api/v1/namespaces/shop/pods")
[ "$r" = 200 ] && ok "reads go on with the disk full" || bad "a read with the disk full: $r"
ready() { curl -s -o "$tmp/readyz" -w '%{http_code}' -m 10 --cacert "$tmp/data/tls.crt" "$url/readyz"; }
r=$(ready)
if [ "$r" = 503 ] && grep -q '^\[-\]audit failed: .*No space left on device' "$tmp/readyz" \
        && grep -q '^\[+\]production ok' "$tmp/readyz"; then
    ok "/readyz says the audit log is full (503), without a token"
else
    bad "/readyz with the disk full: $r"; cat "$tmp/readyz"
fi
unfill
r=$(ready)
[ "$r" = 200 ] && grep -q '^\[+\]audit ok' "$tmp/readyz" && ok "/readyz is ready again once there is room, before any mutation" \
    || { bad "/readyz after the space returned: $r"; cat "$tmp/readyz"; }
back=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    [ "$(create back-$i)" = 201 ] && { back=1; break; }
    sleep 0.5
done
[ $back = 1 ] && ok "mutations pass again by themselves once there is room" || { bad "no recovery"; cat "$tmp/out.back-20"; }

# concurrent load while the disk fills and empties, three times
client() {
    _i=0
    while [ $_i -lt 60 ]; do
        echo "c-$1-$_i $(create c-$1-$_i)"
        _i=$((_i + 1))
    done
}
clients=""
for w in 1 2 3 4; do client $w >"$tmp/calls.$w" & clients="$clients $!"; done
for k in 1 2 3; do sleep 0.7; fill; sleep 0.7; unfill; done
wait $clients
cat "$tmp"/calls.* >"$tmp/calls"
n2=$(grep -c ' 201$' "$tmp/calls")
n507=$(grep -c ' 507$' "$tmp/calls")
other=$(grep -vc ' 201$\| 507$\| 500$\| 429$' "$tmp/calls")
echo "# under load: $n2 created, $n507 refused 507, $(grep -c ' 500$' "$tmp/calls") outcome unknown (500)"
[ "$other" = 0 ] && [ "$n2" -gt 0 ] && [ "$n507" -gt 0 ] \
    && ok "under load every create was 201, 507, 500 (outcome unknown) or 429 (the agent's rate limit)" \
    || { bad "$other creates answered otherwise ($n2 created, $n507 refused 507)"; grep -v ' 201$\| 507$\| 500$\| 429$' "$tmp/calls" | head -5; }
"$GATE" audit log --audit-repo "$tmp/disk/audit" --key "$tmp/data/audit.key" --format json >"$tmp/log.json"
/usr/bin/python3 tests/cli/audit_outcomes.py "$tmp/log.json" "$tmp/calls" \
    && ok "no create answered 2xx lacks its outcome in the log" || bad "creates answered 2xx without their outcome"
leaked=0
for name in $(grep ' 507$' "$tmp/calls" | cut -d' ' -f1); do in_production "$name" && leaked=$((leaked + 1)); done
[ $leaked = 0 ] && ok "no create refused 507 reached production" || bad "$leaked creates refused 507 reached production"
[ "$(create after-load)" = 201 ] && ok "mutations pass after the load" || { bad "after the load"; cat "$tmp/out.after-load"; }
stop_twin "SIGTERM stops the gate after the full disk"
stop_production
exit $((failures > 0))
