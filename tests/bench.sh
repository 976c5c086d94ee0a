#!/bin/sh
# make bench: generate clusters of 1k, 10k and 100k objects (cached in
# build/bench), then per size: import time, simulate+judge latency of small
# actions (p50/p99), peak memory; and the 100k/1k latency ratio; the audit
# log's append latency (p50/p99).
set -e
BUILD=${1:-build/release}
mkdir -p build/bench
make -s bin/gen-cluster bin/gate
for n in 1000 10000 100000; do
    f=build/bench/cluster-$n.json
    if [ ! -s "$f" ]; then
        echo "generating $f ..."
        ./bin/gen-cluster --objects $n >"$f.tmp" && mv "$f.tmp" "$f"
    fi
done
out=build/bench/results.txt
: >"$out"
for n in 1000 10000 100000; do
    "$BUILD/tests/bench_twin" build/bench/cluster-$n.json "${BENCH_ACTIONS:-2000}" | tee -a "$out"
done
echo
awk '/^snapshot/ { n++ } /scale a Deployment 3->4/ { scale[n] = $(NF-8) } /label a ConfigMap/ { label[n] = $(NF-8) }
     END { if (n >= 3 && scale[1] > 0 && label[1] > 0)
             printf "ratio p50 100k/1k: label a ConfigMap %.2f, scale a Deployment %.2f (target < 2)\n",
                    label[3] / label[1], scale[3] / scale[1] }' "$out"

# the audit log: the latency of an append (on the request path of every
# mutation), on the disk of build/ (not a tmpfs: the figure is an fdatasync)
"$BUILD/tests/bench_audit" build/bench "${BENCH_AUDIT_APPENDS:-500}" | tee -a "$out"

# the scenario runner on the corpus (issue: >= 2,000 steps/s on one core)
for j in 1 2; do
    ./bin/gate scenario run scenarios -j $j --format json >build/bench/corpus-j$j.json || true
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('scenario run -j %s: %d steps in %.2f s, %.0f steps/s, step p50 %.0f us p99 %.0f us' % (sys.argv[2], d['steps'], d['seconds'], d['steps_per_second'], d['latency_us']['p50'], d['latency_us']['p99']))" build/bench/corpus-j$j.json $j
done

# the proxy: the gate in front of production vs direct and vs nginx (wrk)
sh tests/bench_proxy.sh ./bin/gate

# cost follows the change in enforce mode: a Node cordon and a Deployment
# scale through the gate against productions of ~1k and ~10k objects
sh tests/bench/bench_enforce.sh ./bin/gate "${BENCH_ENFORCE_REQUESTS:-40}" | tee -a "$out"

# an enforce gate's start against a production of ~100,000 objects: list
# and load (target <= 3 s), peak RSS (target <= 600 MiB)
sh tests/bench/bench_start.sh ./bin/gate 100000 | tee -a "$out"
