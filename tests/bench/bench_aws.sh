#!/bin/sh
# make bench: the AWS front in enforce mode.  Production is a second gate in
# twin mode (no policies) holding a generated account (tests/bench/
# gen_aws.py); the gate in front of it judges with the default policies.
# Accounts: 1,000 instances (DescribeInstances of the whole account), then
# ~1,000 and ~20,000 resources: a validated TerminateInstances of an Auto
# Scaling group member through the gate and directly, side by side (p50
# and what the gate adds), and the ratio of the gate's per-call cost at
# 20,000 and 1,000 resources (target <= 1.5: the reach described again is
# the change's, not the account's).
# usage: sh tests/bench/bench_aws.sh GATE [N]   (N calls each, default 40)
GATE=${1:-./bin/gate}
N=${2:-40}
. tests/bench/lib.sh
bench_scratch aws
up() {   # up PORT DIR: waits (bounded) until the server's TLS port answers
    _i=0
    until [ -s "$2/tls.crt" ] && curl -s -o /dev/null --cacert "$2/tls.crt" "https://127.0.0.1:$1/version"; do
        _i=$((_i + 1)); [ $_i -gt 1200 ] && { echo "bench_aws: a server did not come up"; exit 1; }
        sleep 0.1
    done
}
PKEY=AKIABENCHPRODUCTION1
printf 'bench-production-secret-0123456789abcdef\n' >"$W/prod.aws"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$PKEY" "$(cat "$W/prod.aws")" >"$W/prod-creds"
printf 'agents:\n  - name: airlock\n    token_sha256: %s\n    rate_limit: {per_second: 0, per_minute: 0}\n    aws: {access_key_id: %s, secret_access_key_file: prod.aws}\n' \
    "$(printf x | sha256sum | cut -d' ' -f1)" "$PKEY" >"$W/prod-agents.yaml"
# the agent: default policies, its budget of instances lifted for the loop
AKEY=AKIABENCHAGENTOPSBOT
printf 'bench-agent-secret-0123456789abcdefghij\n' >"$W/agent.aws"
printf '[airlock]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$AKEY" "$(cat "$W/agent.aws")" >"$W/agent-creds"
printf 'agents:\n  - name: ops-bot\n    token_sha256: %s\n    rate_limit: {per_second: 0, per_minute: 0}\n    config: {budget: {max_instances_disrupted: 1000000}}\n    aws: {access_key_id: %s, secret_access_key_file: agent.aws}\n' \
    "$(printf y | sha256sum | cut -d' ' -f1)" "$AKEY" >"$W/agents-gw.yaml"
base=$((31000 + $$ % 9000))
k=0
for acct in "instances 1000" "resources 1000" "resources 20000"; do
    set -- $acct
    f=build/bench/aws-$1-$2.json
    [ -s "$f" ] || { [ $1 = instances ] && python3 tests/bench/gen_aws.py --instances $2 >"$f" || python3 tests/bench/gen_aws.py $2 >"$f"; }
    k=$((k + 1)); pp=$((base + 10 * k)); gp=$((pp + 2))
    "$GATE" serve --listen 127.0.0.1:$pp --aws-listen 127.0.0.1:$((pp + 1)) --data-dir "$W/prod$k" --state "$f" \
        --policies "$W/nopol" --agents "$W/prod-agents.yaml" >"$W/prod$k.log" 2>&1 &
    pids="$pids $!"
    up $pp "$W/prod$k"
    "$GATE" serve --listen 127.0.0.1:$gp --aws-listen 127.0.0.1:$((gp + 1)) --data-dir "$W/gw$k" --state tests/bench/empty.json \
        --agents "$W/agents-gw.yaml" \
        --aws-upstream https://127.0.0.1:$((pp + 1)) --aws-upstream-credentials "$W/prod-creds" \
        --aws-upstream-ca "$W/prod$k/tls.crt" >"$W/gw$k.log" 2>&1 &
    pids="$pids $!"
    up $gp "$W/gw$k"
    extra=""; [ $1 = instances ] && extra=describe
    /usr/bin/python3 tests/bench/bench_aws.py "$2 $1" "$N" https://127.0.0.1:$((gp + 1)) "$W/gw$k/tls.crt" "$W/agent-creds" \
        https://127.0.0.1:$((pp + 1)) "$W/prod$k/tls.crt" "$W/prod-creds" $extra >"$W/out$k" 2>&1 ||
        { echo "bench_aws: $acct failed"; tail -5 "$W/out$k"; tail -5 "$W/gw$k.log"; }
    grep -v '^aws-terminate-through' "$W/out$k"
    eval "t_$k=$(sed -n 's/^aws-terminate-through .* //p' "$W/out$k")"
done
awk -v a="$t_2" -v b="$t_3" 'BEGIN { if (a > 0) printf "aws: cost follows the change, TerminateInstances p50 at 20,000/1,000 resources: %.2f (target <= 1.5)\n", b / a }'
