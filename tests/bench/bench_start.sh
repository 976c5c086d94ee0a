#!/bin/sh
# make bench: an enforce gate's start against a large production.  A
# production (a gate in twin mode, no policies) holding ~N objects
# (fixtures/gen_cluster, cached in build/bench); a gate in enforce mode in
# front of it; prints, from the gate's log, how long listing production
# took (read and parsed) and loading it into the twin, the time to serving
# (every watch open), and the gate's peak RSS (VmHWM) once it serves.
# Targets (the production-path issue): list and import of ~100,000 objects
# <= 3 s, peak RSS <= 600 MiB.
# usage: sh tests/bench/bench_start.sh GATE [N...]   (default 100000)
GATE=${1:-./bin/gate}
shift
[ $# -gt 0 ] || set -- 100000
. tests/bench/lib.sh
bench_scratch start
base=$((40000 + $$ % 10000))
for n in "$@"; do
    f=build/bench/cluster-$n.json
    [ -s "$f" ] || { make -s bin/gen-cluster && ./bin/gen-cluster --objects "$n" >"$f.tmp" && mv "$f.tmp" "$f"; }
    pp=$((base + n % 1000 + n / 10000)); gp=$((pp + 1))
    "$GATE" serve --listen 127.0.0.1:$pp --data-dir "$W/prod$n" --state "$f" --policies "$W/nopol" \
        --agents "$W/agents.yaml" >"$W/prod$n.log" 2>&1 &
    pids="$pids $!"
    i=0
    until grep -q "serving the Kubernetes API" "$W/prod$n.log"; do
        i=$((i + 1)); [ $i -gt 1200 ] && { echo "bench_start: production did not come up"; cat "$W/prod$n.log"; exit 1; }
        sleep 0.1
    done
    t0=$(date +%s.%N)
    "$GATE" serve --listen 127.0.0.1:$gp --data-dir "$W/gw$n" --upstream https://127.0.0.1:$pp \
        --upstream-token-file "$W/token" --upstream-ca "$W/prod$n/tls.crt" >"$W/gw$n.log" 2>&1 &
    gpid=$!
    pids="$pids $gpid"
    i=0
    until grep -q "serving the Kubernetes API" "$W/gw$n.log"; do
        i=$((i + 1)); [ $i -gt 1200 ] || ! kill -0 $gpid 2>/dev/null && { echo "bench_start: the gate did not come up"; cat "$W/gw$n.log"; exit 1; }
        sleep 0.05
    done
    t1=$(date +%s.%N)
    rss=$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' /proc/$gpid/status)
    listed=$(sed -n 's/.*production listed: \([0-9]*\) objects in \([0-9.]*\) s.*/\1 \2/p' "$W/gw$n.log")
    set -- $listed
    echo "enforce start, production of $1 objects: listed and loaded in $2 s (target <= 3 s), serving after $(echo "$t1 - $t0" | bc) s, peak RSS $rss MiB (target <= 600)"
    kill $gpid
done
