# tests/bench/lib.sh: what the enforce benches share (sourced, with GATE
# set). bench_scratch NAME makes the scratch directory $W under build/bench
# (copied to $KEEP_TMP at exit if set, then removed), kills the servers
# listed in $pids at exit, and writes a bearer token ($W/token) for an agent
# ops-bot without rate limits ($W/agents.yaml) and an empty policy
# directory ($W/nopol): production judges nothing.
bench_scratch() {
    mkdir -p build/bench
    W=$(mktemp -d "build/bench/$1.XXXXXX")
    pids=""
    trap 'kill $pids 2>/dev/null; [ -n "$KEEP_TMP" ] && cp -r "$W" "$KEEP_TMP"; rm -rf "$W"' EXIT INT TERM
    tok=bench-$$-token
    printf 'agents:\n  - name: ops-bot\n    token_sha256: %s\n    rate_limit: {per_second: 0, per_minute: 0}\n' \
        "$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)" >"$W/agents.yaml"
    printf '%s\n' "$tok" >"$W/token"
    mkdir -p "$W/nopol"
}
