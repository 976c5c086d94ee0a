#!/bin/sh
# make bench: cost follows the change, in enforce mode.  A gate in front of
# a production (a second gate in twin mode, no policies) holding ~1,000 and
# then ~10,000 objects (fixtures/gen_cluster); the same validated mutations
# through the gate against each: a Node cordon/uncordon and a Deployment
# scale.  Prints the p50 of each (curl's total time, 1 connection) at both
# sizes and the ratio (target <= 1.5: the refresh before judging reads what
# the change reaches, not the cluster).
# usage: sh tests/bench/bench_enforce.sh GATE [N]   (N requests each, default 40)
GATE=${1:-./bin/gate}
N=${2:-40}
. tests/bench/lib.sh
bench_scratch enforce
up() {   # up PORT DIR: waits (bounded) until the server answers
    _i=0
    until [ -s "$2/tls.crt" ] && curl -s -o /dev/null --cacert "$2/tls.crt" "https://127.0.0.1:$1/version"; do
        _i=$((_i + 1)); [ $_i -gt 600 ] && { echo "bench_enforce: a server did not come up"; exit 1; }
        sleep 0.1
    done
}
# p50 of N alternating PATCHes to PATH with bodies A and B, in microseconds
p50() {
    _i=0
    : >"$W/times"
    while [ $_i -lt $N ]; do
        [ $((_i % 2)) = 0 ] && _b=$3 || _b=$4
        curl -s -o "$W/ans" -w '%{time_total} %{http_code}\n' --cacert "$W/gw$5/tls.crt" -H "Authorization: Bearer $tok" \
            -X PATCH -H 'Content-Type: application/merge-patch+json' -d "$_b" "https://127.0.0.1:$1$2" >>"$W/times"
        _i=$((_i + 1))
    done
    awk '{ print $2 }' "$W/times" | sort | uniq -c | tr '\n' ' ' >"$W/codes"
    sort -n "$W/times" | awk -v n=$N 'NR == int((n + 1) / 2) { printf "%d", $1 * 1e6 }'
}
base=$((30000 + $$ % 10000))
for n in 1000 10000; do
    pp=$((base + n / 1000)); gp=$((pp + 20))
    "$GATE" serve --listen 127.0.0.1:$pp --data-dir "$W/prod$n" --state build/bench/cluster-$n.json --policies "$W/nopol" \
        --agents "$W/agents.yaml" >"$W/prod$n.log" 2>&1 &
    pids="$pids $!"
    up $pp "$W/prod$n"
    "$GATE" serve --listen 127.0.0.1:$gp --data-dir "$W/gw$n" --agents "$W/agents.yaml" --upstream https://127.0.0.1:$pp \
        --upstream-token-file "$W/token" --upstream-ca "$W/prod$n/tls.crt" >"$W/gw$n.log" 2>&1 &
    pids="$pids $!"
    up $gp "$W/gw$n"
    objs=$(sed -n 's/.*(enforce mode.*, \([0-9]*\) objects in the twin).*/\1/p' "$W/gw$n.log")
    cordon=$(p50 $gp /api/v1/nodes/node-00000 '{"spec":{"unschedulable":true}}' '{"spec":{"unschedulable":false}}' $n)
    ccodes=$(cat "$W/codes")
    scale=$(p50 $gp /apis/apps/v1/namespaces/team-0000/deployments/app-0000/scale '{"spec":{"replicas":4}}' \
        '{"spec":{"replicas":3}}' $n)
    scodes=$(cat "$W/codes")
    echo "enforce, production of $objs objects: node cordon p50 $cordon us (status: $ccodes), deployment scale p50 $scale us (status: $scodes)"
    eval "cordon_$n=$cordon scale_$n=$scale"
done
awk -v c1="$cordon_1000" -v c2="$cordon_10000" -v s1="$scale_1000" -v s2="$scale_10000" 'BEGIN {
    printf "cost follows the change, 10k/1k objects: node cordon %.2f, deployment scale %.2f (target <= 1.5)\n", c2 / c1, s2 / s1 }'
