#!/bin/sh
# The AWS listener in enforce mode: production is a second gate in twin mode
# on the demo account, judging nothing, that knows only the gate's own key
# pair.  Allowed calls arrive there, re-signed with that key; refused ones
# and dry runs never do; reads are answered by it; a change made in
# production behind the gate's back is seen before the next mutation that
# reaches it is judged, and reported as drift.
. tests/lib.sh
AWS=/usr/bin/aws
[ -x $AWS ] || { echo "not ok Debian's awscli is not installed (/usr/bin/aws)"; exit 1; }
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed"; exit 1; }

base=$((20000 + ($$ + 53) % 20000))
port=$base pport=$((base + 2)) paport=$((base + 3)) aport=$((base + 4))

# ---- production: the demo account, no policies, one identity: the gate ----
mkdir -p "$tmp/nopol" "$tmp/prodcfg"
PKEY=AKIAAIRLOCKPRODUCTN
printf 'prod-secret-%s-abcdefghijklmnopqrstuvwxyz\n' "$$" >"$tmp/prodcfg/airlock.aws"
ptok=airlock-$$-token
cat >"$tmp/prodcfg/agents.json" <<EOF
[{"name": "airlock", "token_sha256": "$(printf %s "$ptok" | sha256sum | cut -d' ' -f1)",
  "rate_limit": {"per_second": 0, "per_minute": 0},
  "aws": {"access_key_id": "$PKEY", "secret_access_key_file": "airlock.aws"}}]
EOF
"$GATE" serve --listen 127.0.0.1:$pport --aws-listen 127.0.0.1:$paport --data-dir "$tmp/prod" --policies "$tmp/nopol" \
    --agents "$tmp/prodcfg/agents.json" --state fixtures/demo >"$tmp/prod.log" 2>&1 &
prodpid=$!
servers="$servers $prodpid"
wait_gate $prodpid "$tmp/prod/tls.crt" "https://127.0.0.1:$pport" "$ptok" "$tmp/prod.log"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$PKEY" "$(cat "$tmp/prodcfg/airlock.aws")" \
    >"$tmp/prod-credentials"

# ---- the gate in front of it ----
serve_twin $port --aws-listen 127.0.0.1:$aport --aws-upstream "https://127.0.0.1:$paport" \
    --aws-upstream-credentials "$tmp/prod-credentials" --aws-upstream-ca "$tmp/prod/tls.crt"
grep -q "production's AWS account read" "$tmp/serve.log" && ok "the gate read production's account at start" ||
    { bad "the gate read production's account at start"; cat "$tmp/serve.log"; }

export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
export AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=1
# a: the agent through the gate; p: production directly, with the gate's key (the test's own look)
a() {
    AWS_SHARED_CREDENTIALS_FILE="$tmp/data/aws/credentials" AWS_PROFILE=airlock AWS_CA_BUNDLE="$tmp/data/tls.crt" \
        $AWS --endpoint-url "https://127.0.0.1:$aport" --output json "$@"
}
p() {
    AWS_SHARED_CREDENTIALS_FILE="$tmp/prod-credentials" AWS_PROFILE=default AWS_CA_BUNDLE="$tmp/prod/tls.crt" \
        $AWS --endpoint-url "https://127.0.0.1:$paport" --output json "$@"
}
state_in_prod() {
    p ec2 describe-instances --instance-ids "$1" --query 'Reservations[0].Instances[0].State.Name' --output text
}
w1=i-0a1b2c3d4e5f60201 w2=i-0a1b2c3d4e5f60202 w3=i-0a1b2c3d4e5f60203 w4=i-0a1b2c3d4e5f60204
bastion=i-0a1b2c3d4e5f60301

# reads: answered by production
a ec2 describe-instances --instance-ids $w1 >/dev/null && grep -q "airlock POST aws ec2 DescribeInstances" "$tmp/prod.log" &&
    ok "a read is answered by production" || bad "a read is answered by production"

# an allowed call arrives, signed with the gate's key
if a ec2 terminate-instances --instance-ids $w1 >"$tmp/out" 2>&1 && [ "$(state_in_prod $w1)" != running ]; then
    ok "an allowed termination reaches production"
else bad "an allowed termination reaches production"; cat "$tmp/out"; fi

# a refused call never does
n_before=$(grep -c "TerminateInstances" "$tmp/prod.log")
if a ec2 terminate-instances --instance-ids $w2 $w3 $w4 >"$tmp/out" 2>&1; then
    bad "terminating the rest of web-tg is refused"
else
    grep -q "UnauthorizedOperation" "$tmp/out" && ok "terminating the rest of web-tg is refused" ||
        { bad "terminating the rest of web-tg is refused"; cat "$tmp/out"; }
fi
[ "$(grep -c "TerminateInstances" "$tmp/prod.log")" = "$n_before" ] && [ "$(state_in_prod $w2)" = running ] &&
    ok "the refused call never reached production" || bad "the refused call never reached production"

# a dry run is judged, never forwarded
a ec2 stop-instances --dry-run --instance-ids $bastion >"$tmp/out" 2>&1
grep -q DryRunOperation "$tmp/out" && ! grep -q "StopInstances" "$tmp/prod.log" &&
    ok "a dry run is answered by the gate and not forwarded" || { bad "a dry run is answered by the gate and not forwarded"; cat "$tmp/out"; }

# a change behind the gate's back: production stops the bastion itself; the
# gate's next call reaching it is judged on the stopped instance (resizing
# is refused by EC2 while an instance runs)
p ec2 stop-instances --instance-ids $bastion >/dev/null
if a ec2 modify-instance-attribute --instance-id $bastion --instance-type Value=t3.large >"$tmp/out" 2>&1; then
    ok "a change made behind the gate's back is seen before the next mutation"
else bad "a change made behind the gate's back is seen before the next mutation"; cat "$tmp/out"; fi
grep -q "drift: production MODIFIED EC2Instance.*$bastion" "$tmp/serve.log" && ok "it is reported as drift" ||
    { bad "it is reported as drift"; grep drift "$tmp/serve.log"; }
[ "$(p ec2 describe-instances --instance-ids $bastion --query 'Reservations[0].Instances[0].InstanceType' --output text)" = t3.large ] &&
    ok "the resize reached production" || bad "the resize reached production"

# production only ever saw the gate's key; the agent's key and secret stay in the gate
agent_key=$(sed -n 's/^aws_access_key_id *= *//p' "$tmp/data/aws/credentials")
agent_secret=$(sed -n 's/^aws_secret_access_key *= *//p' "$tmp/data/aws/credentials")
grep "POST aws" "$tmp/prod.log" | grep -vq "^airlock: airlock POST" && bad "production saw calls from the gate only" ||
    ok "production saw calls from the gate only"
absent "production never saw the agent's key" "$agent_key|$agent_secret|ops-bot" "$tmp/prod.log" "$tmp/prod/audit"
absent "the gate never shows production's secret" "$(cat "$tmp/prodcfg/airlock.aws")" "$tmp/serve.log" "$tmp/data"
stop_twin "the gate stops on SIGTERM"
stop_production
exit $((failures > 0))
