#!/bin/sh
# Policy reloads during a burst of reads and mutations (issue: "a reload
# during a burst of reads: no crash under ASan"): every call is answered,
# each reload is atomic (the set in force is whole, old or new), and the
# server stays clean under the sanitizers.
. tests/lib.sh
port=$((20000 + $$ % 20000))
own_policies
serve_twin $port --state fixtures/demo --policies "$tmp/pol"
TOK=$(sed -n 's/^ *token: //p' "$tmp/data/kubeconfig")
url=https://127.0.0.1:$port
burst() {   # burst N: N reads and a mutation every tenth, one after another; prints the statuses
    _i=0
    while [ $_i -lt $1 ]; do
        if [ $((_i % 10)) = 0 ]; then
            curl -s -o /dev/null -w '%{http_code}\n' -m 20 --cacert "$tmp/data/tls.crt" -H "Authorization: Bearer $TOK" \
                -X PATCH -H 'Content-Type: application/merge-patch+json' -d "{\"metadata\":{\"labels\":{\"n\":\"$_i\"}}}" \
                "$url/api/v1/namespaces/shop/configmaps/frontend-config"
        else
            curl -s -o /dev/null -w '%{http_code}\n' -m 20 --cacert "$tmp/data/tls.crt" -H "Authorization: Bearer $TOK" \
                "$url/api/v1/namespaces/shop/pods"
        fi
        _i=$((_i + 1))
    done
}
bursts=""
for w in 1 2 3 4; do burst 60 >"$tmp/codes.$w" & bursts="$bursts $!"; done
# reloads meanwhile: a good set, a broken one (refused, the old stays), good again
for r in 1 2 3 4 5 6; do
    if [ $r = 3 ]; then echo "return {" >"$tmp/pol/zz-broken.lua"; else rm -f "$tmp/pol/zz-broken.lua"; fi
    kill -HUP $pid
    sleep 0.3
done
wait $bursts
cat "$tmp"/codes.* >"$tmp/codes"
n=$(wc -l <"$tmp/codes")
good=$(grep -c '^200$' "$tmp/codes")
[ "$n" = 240 ] && [ "$good" = 240 ] && ok "240 calls during six reloads: every one answered 200" \
    || { bad "calls during reloads ($good of $n answered 200)"; sort "$tmp/codes" | uniq -c; }
grep -q "reload refused, the policies in force stay: .*zz-broken.lua" "$tmp/serve.log" && grep -q "policies reloaded" "$tmp/serve.log" \
    && ok "the broken set was refused and the good ones loaded" || { bad "reload outcomes"; grep -i reload "$tmp/serve.log" | tail -5; }
stop_twin "SIGTERM stops the gate"
exit $((failures > 0))
