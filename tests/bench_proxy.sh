#!/bin/sh
# tests/bench_proxy.sh GATE: the proxy benchmark of the issue, on loopback.
# Three ways to reach the same "production" (a gate in twin mode with no
# policies, standing in for the API server), each driven by wrk with
# kubectl-shaped requests at 1 and 32 connections:
#   direct  straight to production
#   nginx   nginx (Debian) as a plain TLS reverse proxy in front of it
#   gate    the gate in enforce mode in front of it (default policies)
# Workloads: a read (GET of one ConfigMap) and a validated mutation (a merge
# patch setting a label on that ConfigMap), and the gate's reads with a
# steady mutation load beside them. Prints one table and the derived
# figures against the issue's targets, and appends them to
# build/bench/results-proxy.txt. Run from the repository root (fixtures/ and
# lua-policies/ are relative paths). BENCH_PROXY_SECONDS (default 5) is the
# duration of each wrk run; BENCH_PROXY_KEEP=1 keeps the scratch directory
# (server logs) instead of removing it.
set -e
GATE=${1:-bin/gate}
SECS=${BENCH_PROXY_SECONDS:-5}
[ -x "$GATE" ] || { echo "bench_proxy: $GATE is not an executable" >&2; exit 3; }

# --- wrk and nginx -------------------------------------------------------
PATH=$PATH:/usr/sbin:/sbin
missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
command -v nginx >/dev/null 2>&1 || missing="$missing nginx"
if [ -n "$missing" ] && [ "$(id -u 2>/dev/null)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench_proxy: installing$missing ..."
    had_pid=no
    [ -e /run/nginx.pid ] && had_pid=yes
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null 2>&1 \
        || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 \
             && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null 2>&1; } || true
    # where no policy-rc.d stops it, the package starts a system nginx on
    # port 80: that one was started by this install, stop it again
    if [ $had_pid = no ] && [ -s /run/nginx.pid ] && command -v nginx >/dev/null 2>&1; then
        nginx -s quit 2>/dev/null || true
    fi
fi
for t in wrk nginx; do
    if ! command -v $t >/dev/null 2>&1; then
        echo "bench_proxy: skipped: $t is not installed (apt-get install wrk nginx, as root)"
        exit 0
    fi
done

# --- scratch directory, servers, cleanup ---------------------------------
mkdir -p build/bench
S=$(mktemp -d "${TMPDIR:-/tmp}/airlock-bench-proxy.XXXXXX")
servers=""
# stops the servers in reverse order (nginx and the gate before production,
# so that nothing still in flight through them meets a production gone)
cleanup() {
    rev=""
    for p in $servers; do rev="$p $rev"; done
    for p in $rev; do
        kill -TERM "$p" 2>/dev/null || true
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$p" 2>/dev/null || true
    done
    servers=""
    if [ -n "$BENCH_PROXY_KEEP" ]; then echo "bench_proxy: logs kept in $S"; else rm -rf "$S"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail() {
    echo "bench_proxy: $1" >&2
    shift
    for l in "$@"; do [ -f "$l" ] && { echo "--- $l (last lines)" >&2; tail -n 20 "$l" >&2; }; done
    exit 1
}

base=$((30000 + $$ % 20000))
P1=$base        # production
P2=$((base + 1)) # gate, enforce mode
P3=$((base + 2)) # nginx
# One agent each for production and the gate, without rate limits: the
# benchmark is the very loop the default limits (20 mutations a second)
# are there to stop.
PTOKEN=bench-prod-$$-token
GTOKEN=bench-gate-$$-token
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
for a in "prod:$PTOKEN" "gate:$GTOKEN"; do
    printf 'agents:\n  - {name: ops-bot, token_sha256: "%s", rate_limit: {per_second: 0, per_minute: 0}}\n' \
        "$(sha "${a#*:}")" >"$S/${a%%:*}-agents.yaml"
done
# wait_up PORT TOKEN PID LOG: until /version answers 200 (20 s at most)
wait_up() {
    i=0
    while :; do
        code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 \
            -H "Authorization: Bearer $2" "https://127.0.0.1:$1/version" || true)
        [ "$code" = 200 ] && return 0
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$3" 2>/dev/null; then fail "a server did not come up on port $1" "$4"; fi
        sleep 0.2
    done
}

mkdir -p "$S/empty"   # production itself judges nothing
"$GATE" serve --listen 127.0.0.1:$P1 --data-dir "$S/prod" --policies "$S/empty" --state fixtures/demo \
    --agents "$S/prod-agents.yaml" >"$S/prod.log" 2>&1 &
servers="$servers $!"
wait_up $P1 "$PTOKEN" $! "$S/prod.log"
printf '%s\n' "$PTOKEN" >"$S/prod-token"

# enforce mode: no --state (the twin is listed from production)
"$GATE" serve --listen 127.0.0.1:$P2 --data-dir "$S/gate" --upstream https://127.0.0.1:$P1 \
    --upstream-token-file "$S/prod-token" --upstream-ca "$S/prod/tls.crt" --agents "$S/gate-agents.yaml" \
    >"$S/gate.log" 2>&1 &
servers="$servers $!"
wait_up $P2 "$GTOKEN" $! "$S/gate.log"

# nginx, configured as Debian's package would be used for a TLS reverse
# proxy (worker_processes auto), with keepalive connections to production
mkdir -p "$S/nginx/tmp"
user=""
[ "$(id -u 2>/dev/null)" = 0 ] && user="user root;"
cat >"$S/nginx/nginx.conf" <<EOF
$user
daemon off;
worker_processes auto;
pid $S/nginx/nginx.pid;
error_log $S/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $S/nginx/tmp/body;
    proxy_temp_path $S/nginx/tmp/proxy;
    fastcgi_temp_path $S/nginx/tmp/fastcgi;
    uwsgi_temp_path $S/nginx/tmp/uwsgi;
    scgi_temp_path $S/nginx/tmp/scgi;
    upstream production {
        server 127.0.0.1:$P1;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$P3 ssl;
        ssl_certificate $S/prod/tls.crt;
        ssl_certificate_key $S/prod/tls.key;
        location / {
            proxy_pass https://production;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_ssl_verify off;
            proxy_ssl_session_reuse on;
        }
    }
}
EOF
nginx -p "$S/nginx" -c "$S/nginx/nginx.conf" -e "$S/nginx/error.log" >"$S/nginx/stdout.log" 2>&1 &
npid=$!
servers="$servers $npid"
i=0
until curl -sk -o /dev/null --max-time 2 "https://127.0.0.1:$P3/version"; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 $npid 2>/dev/null; then
        fail "nginx did not come up on port $P3" "$S/nginx/stdout.log" "$S/nginx/error.log"
    fi
    sleep 0.2
done

# --- workloads -----------------------------------------------------------
# shop/frontend-config: a ConfigMap of fixtures/demo (not a Secret, which
# data-protection guards) in a namespace that is neither critical nor
# restricted; a label on it disrupts nothing, so every default policy
# allows both the read and the patch.
OBJ=/api/v1/namespaces/shop/configmaps/frontend-config
# write_lua NAME TOKEN: NAME-read.lua and NAME-patch.lua for one target
write_lua() {
    cat >"$S/$1-read.lua" <<EOF
wrk.method = "GET"
wrk.path = "$OBJ"
wrk.headers["Authorization"] = "Bearer $2"
wrk.headers["Accept"] = "application/json"
wrk.headers["User-Agent"] = "kubectl/v1.30.0 (linux/amd64) kubernetes/bench"
EOF
    cat >"$S/$1-patch.lua" <<EOF
local headers = {
    ["Authorization"] = "Bearer $2",
    ["Accept"] = "application/json",
    ["Content-Type"] = "application/merge-patch+json",
    ["User-Agent"] = "kubectl/v1.30.0 (linux/amd64) kubernetes/bench",
}
local n = 0
request = function()
    n = n + 1
    return wrk.format("PATCH", "$OBJ", headers, '{"metadata":{"labels":{"bench":"' .. n .. '"}}}')
end
EOF
}
write_lua direct "$PTOKEN"
write_lua nginx "$PTOKEN"
write_lua gate "$GTOKEN"
port_of() { case $1 in direct) echo $P1 ;; gate) echo $P2 ;; nginx) echo $P3 ;; esac; }
token_for() { if [ "$1" = gate ]; then echo "$GTOKEN"; else echo "$PTOKEN"; fi; }

# one request per target and workload first: a benchmark of 401s or 403s
# is worthless
for t in direct nginx gate; do
    code=$(curl -sk -o "$S/check.out" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $(token_for $t)" \
        -H 'Accept: application/json' "https://127.0.0.1:$(port_of $t)$OBJ" || true)
    [ "$code" = 200 ] || fail "read via $t answered $code, not 200: $(head -c 300 "$S/check.out")" "$S/gate.log"
    code=$(curl -sk -o "$S/check.out" -w '%{http_code}' --max-time 10 -X PATCH -H "Authorization: Bearer $(token_for $t)" \
        -H 'Accept: application/json' -H 'Content-Type: application/merge-patch+json' \
        -d '{"metadata":{"labels":{"bench":"check"}}}' "https://127.0.0.1:$(port_of $t)$OBJ" || true)
    [ "$code" = 200 ] || fail "patch via $t answered $code, not 200: $(head -c 300 "$S/check.out")" "$S/gate.log"
done

# run WORKLOAD CONNS TARGET: one wrk run, one result line in $S/rows:
# workload conns target req/s p50_us p99_us errors
# (errors: non-2xx/3xx answers plus socket errors and timeouts)
: >"$S/rows"
run() {
    if [ "$2" = 1 ]; then th=1; else th=2; fi
    out="$S/wrk-$1-$2-$3.txt"
    wrk --latency -t$th -c"$2" -d"${SECS}s" --timeout 10s -s "$S/$3-$1.lua" \
        "https://127.0.0.1:$(port_of "$3")" >"$out" 2>&1 || fail "wrk failed ($1, $2, $3)" "$out"
    awk -v w="$1" -v c="$2" -v t="$3" '
        function us(v) {
            if (v ~ /us$/) return v + 0
            if (v ~ /ms$/) return v * 1000
            if (v ~ /m$/)  return v * 60000000
            if (v ~ /h$/)  return v * 3600000000
            if (v ~ /s$/)  return v * 1000000
            return v + 0
        }
        $1 == "50%" { p50 = us($2) }
        $1 == "99%" { p99 = us($2) }
        $1 == "Requests/sec:" { rps = $2 }
        /Non-2xx or 3xx responses:/ { err += $NF }
        /Socket errors:/ { for (i = 3; i <= NF; i++) { v = $i; gsub(/[^0-9]/, "", v); err += v } }
        END {
            if (rps == "" || p50 == "") { print "unparsable wrk output" > "/dev/stderr"; exit 1 }
            printf "%s %s %s %.1f %.0f %.0f %d\n", w, c, t, rps, p50, p99, err
        }' "$out" >>"$S/rows" || fail "could not read wrk output ($1, $2, $3)" "$out"
}
for w in read patch; do
    for c in 1 32; do
        # a second's pause lets a server drain what the previous run left
        # in flight before the next one is measured
        for t in direct nginx gate; do run $w $c $t; sleep 1; done
    done
done

# reads while mutations are in flight: reads at 32 connections beside a
# steady mutation load (one connection of patches, its own wrk), through the
# gate and, as the control, direct: on a machine whose cores production and
# wrk share, the control shows what the mutations cost the machine itself
mixed() {
    wrk --latency -t1 -c1 -d"$((SECS + 2))s" --timeout 10s -s "$S/$1-patch.lua" "https://127.0.0.1:$(port_of "$1")" \
        >"$S/wrk-mixed-patch-$1.txt" 2>&1 &
    _m=$!
    sleep 1
    run read 32 "$1"
    sed -i "\$ s/^read 32 $1 /mixed 32 $1 /" "$S/rows"
    wait $_m || fail "wrk failed (the mutation load beside the reads, $1)" "$S/wrk-mixed-patch-$1.txt"
    sleep 1
}
mixed direct
mixed gate

# --- the table -----------------------------------------------------------
awk -v secs="$SECS" '
    { rps[$1, $2, $3] = $4; p50[$1, $2, $3] = $5; p99[$1, $2, $3] = $6; err[$1, $2, $3] = $7; n++; row[n] = $0 }
    function verdict(ok) { return ok ? "met" : "MISSED" }
    END {
        printf "proxy bench (loopback, %s s each; wrk -t1 -c1 and -t2 -c32)\n", secs
        printf "%-18s %5s  %-6s %10s %9s %9s %7s\n", "workload", "conns", "target", "req/s", "p50 us", "p99 us", "errors"
        for (i = 1; i <= n; i++) {
            split(row[i], f, " ")
            name = f[1] == "read" ? "read (GET)" : f[1] == "mixed" ? "read, 1 patching" : "mutation (PATCH)"
            printf "%-18s %5s  %-6s %10.0f %9.0f %9.0f %7d\n", name, f[2], f[3], f[4], f[5], f[6], f[7]
            errs += f[7]
        }
        a50 = p50["patch", 1, "gate"] - p50["patch", 1, "direct"]
        a99 = p99["patch", 1, "gate"] - p99["patch", 1, "direct"]
        n50 = p50["patch", 1, "nginx"] - p50["patch", 1, "direct"]
        n99 = p99["patch", 1, "nginx"] - p99["patch", 1, "direct"]
        rr = rps["read", 32, "nginx"] > 0 ? 100 * rps["read", 32, "gate"] / rps["read", 32, "nginx"] : 0
        mr = rps["patch", 32, "nginx"] > 0 ? 100 * rps["patch", 32, "gate"] / rps["patch", 32, "nginx"] : 0
        printf "added latency, validated mutation via gate vs direct, 1 conn: p50 %+.0f us (target <= 500) %s; p99 %+.0f us (target <= 2000) %s\n",
            a50, verdict(a50 <= 500), a99, verdict(a99 <= 2000)
        printf "  (for reference, nginx adds p50 %+.0f us, p99 %+.0f us)\n", n50, n99
        printf "read throughput gate/nginx, 32 conns: %.0f%% (target >= 80%%) %s\n", rr, verdict(rr >= 80)
        printf "validated-mutation throughput gate/nginx, 32 conns: %.0f%% (target >= 60%%) %s\n", mr, verdict(mr >= 60)
        xr = p99["read", 32, "gate"] > 0 ? p99["mixed", 32, "gate"] / p99["read", 32, "gate"] : 0
        dr = p99["read", 32, "direct"] > 0 ? p99["mixed", 32, "direct"] / p99["read", 32, "direct"] : 0
        printf "read p99 via gate at 32 conns with mutations in flight / without: %.0f / %.0f us = %.2fx (target <= 2) %s\n",
            p99["mixed", 32, "gate"], p99["read", 32, "gate"], xr, verdict(xr > 0 && xr <= 2)
        printf "  (the control, direct to production: %.0f / %.0f us = %.2fx)\n", p99["mixed", 32, "direct"],
            p99["read", 32, "direct"], dr
        if (errs > 0) printf "WARNING: %d requests failed (non-2xx or socket errors): the figures above are suspect\n", errs
    }' "$S/rows" >"$S/table"
cat "$S/table"
{ echo "# $(date -u '+%Y-%m-%dT%H:%M:%SZ') $GATE"; cat "$S/table"; echo; } >>build/bench/results-proxy.txt
