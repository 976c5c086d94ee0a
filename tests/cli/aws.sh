#!/bin/sh
# The AWS APIs through the gate, as an agent uses them: Debian's aws CLI
# (/usr/bin/aws: another aws may come first on PATH) and boto3 against
# `gate serve --aws-listen` in twin mode on the demo account.  Every call
# is signed with the key pair the gate wrote for ops-bot; every default
# policy refuses what it should; what AWS itself refuses, the twin refuses
# with AWS's error; refused calls change nothing.
. tests/lib.sh
AWS=/usr/bin/aws
[ -x $AWS ] || { echo "not ok Debian's awscli is not installed (/usr/bin/aws)"; exit 1; }
/usr/bin/python3 -c 'import boto3' 2>/dev/null || { echo "not ok python3-boto3 is not installed"; exit 1; }
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed"; exit 1; }

base=$((20000 + ($$ + 41) % 20000))
port=$base aport=$((base + 1))

# beside the demo: restricted buckets a careless agent could open up, one
# with nothing blocking a public policy or ACL, one whose public ACL only
# its public access block keeps private
cat >"$tmp/buckets.json" <<'EOF'
{"kind": "AWSState",
 "Buckets": [
  {"Name": "restricted-open", "Tags": [{"Key": "airlock.dev/restricted", "Value": "true"}], "ObjectCount": 12},
  {"Name": "restricted-blocked", "Tags": [{"Key": "airlock.dev/restricted", "Value": "true"}], "ObjectCount": 3,
   "Grants": [{"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"}],
   "PublicAccessBlock": {"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true}}
 ]}
EOF
# ---- offline: export, and gate check on AWS calls ----
"$GATE" export --state fixtures/demo --aws >"$tmp/export1.json" 2>"$tmp/export.err" &&
    "$GATE" export --state "$tmp/export1.json" --aws >"$tmp/export2.json" 2>>"$tmp/export.err" &&
    cmp -s "$tmp/export1.json" "$tmp/export2.json" && grep -q '"kind": "AWSState"' "$tmp/export1.json" &&
    ok "gate export --aws re-imports unchanged" || { bad "gate export --aws re-imports unchanged"; cat "$tmp/export.err"; }
"$GATE" check --state fixtures/demo --actions fixtures/demo-aws-plan.json --format json >"$tmp/plan.json"
rc=$?
/usr/bin/python3 - "$tmp/plan.json" <<'PYEOF2' && [ $rc = 1 ] && ok "gate check judges the demo AWS plan (exit 1)" || { bad "gate check judges the demo AWS plan (exit $rc)"; cat "$tmp/plan.json" | head -50; }
import json, sys
d = json.load(open(sys.argv[1]))
got = [(x["action"].get("operation"), x["verdict"]) for x in d["decisions"]]
want = [("TerminateInstances", "allow"), ("TerminateInstances", "deny"), ("AuthorizeSecurityGroupIngress", "deny"),
        ("AuthorizeSecurityGroupIngress", "allow"), ("PutPublicAccessBlock", "deny"), ("AttachRolePolicy", "deny"),
        ("DeleteDBInstance", "deny"), ("SetDesiredCapacity", "allow"), ("StopInstances", "allow")]
print(got) if got != want else None
sys.exit(0 if got == want else 1)
PYEOF2
printf '[{"aws": "ec2 terminate-instances", "input": {"InstanceIds": ["i-1"], "Bogus": 1}}]' >"$tmp/bad.json"
"$GATE" check --state fixtures/demo --actions "$tmp/bad.json" >"$tmp/out" 2>&1
[ $? = 3 ] && grep -q "Bogus" "$tmp/out" && ok "an AWS call with a member its operation lacks is an error naming it" ||
    { bad "an AWS call with a member its operation lacks is an error naming it"; cat "$tmp/out"; }

serve_twin $port --aws-listen 127.0.0.1:$aport --state fixtures/demo --state "$tmp/buckets.json"

export AWS_SHARED_CREDENTIALS_FILE="$tmp/data/aws/credentials" AWS_PROFILE=airlock AWS_CA_BUNDLE="$tmp/data/tls.crt"
export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
export AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=1
a() { $AWS --endpoint-url "https://127.0.0.1:$aport" --cli-read-timeout 20 --output json "$@"; }
# refused NAME CODE WORDS ARGS...: the call fails, its error names CODE and
# the words (an extended regular expression) in the message
refused() {
    _name=$1 _code=$2 _re=$3
    shift 3
    if a "$@" >"$tmp/out" 2>&1; then bad "$_name (it passed)"; cat "$tmp/out"; return; fi
    if grep -q "($_code)" "$tmp/out" && grep -Eq "$_re" "$tmp/out"; then ok "$_name"
    else bad "$_name"; cat "$tmp/out"; fi
}
passes() {
    _name=$1
    shift
    if a "$@" >"$tmp/out" 2>&1; then ok "$_name"; else bad "$_name"; cat "$tmp/out"; fi
}
grep -q "AWS_SHARED_CREDENTIALS_FILE=.* AWS_PROFILE=airlock AWS_CA_BUNDLE=.* AWS_DEFAULT_REGION=us-east-1" "$tmp/serve.log" &&
    grep -q "aws --endpoint-url https://127.0.0.1:$aport ec2 describe-instances" "$tmp/serve.log" &&
    ok "the gate prints the lines to paste" || { bad "the gate prints the lines to paste"; cat "$tmp/serve.log"; }

# ---- reads: everything the demo account holds ----
for c in "ec2 describe-instances" "ec2 describe-security-groups" "ec2 describe-vpcs" "ec2 describe-subnets" \
         "ec2 describe-volumes" "ec2 describe-snapshots --owner-ids self" "autoscaling describe-auto-scaling-groups" \
         "elbv2 describe-load-balancers" "elbv2 describe-target-groups" "s3api list-buckets" \
         "iam get-account-authorization-details" "rds describe-db-instances" "sts get-caller-identity"; do
    # shellcheck disable=SC2086
    passes "aws $c" $c
done
a autoscaling describe-auto-scaling-groups --auto-scaling-group-names web-asg >"$tmp/asg.json"
members=$(/usr/bin/python3 -c 'import json,sys; print(" ".join(i["InstanceId"] for i in json.load(open(sys.argv[1]))["AutoScalingGroups"][0]["Instances"]))' "$tmp/asg.json")
n=$(echo $members | wc -w)
[ "$n" -ge 2 ] && ok "web-asg has its members ($n)" || { bad "web-asg has its members"; cat "$tmp/asg.json"; }
first=$(echo $members | cut -d' ' -f1)
tg=$(a elbv2 describe-target-groups --names web-tg --query 'TargetGroups[0].TargetGroupArn' --output text)
case $tg in arn:aws:elasticloadbalancing:*) ok "web-tg has an ARN";; *) bad "web-tg has an ARN ($tg)";; esac

# ---- a member of a healthy group terminated: allowed, replaced ----
passes "terminate one member of web-asg: allowed" ec2 terminate-instances --instance-ids "$first"
a autoscaling describe-auto-scaling-groups --auto-scaling-group-names web-asg >"$tmp/asg2.json"
/usr/bin/python3 - "$tmp/asg2.json" "$first" "$n" <<'PYEOF' && ok "the group replaced it" || bad "the group replaced it"
import json, sys
g = json.load(open(sys.argv[1]))["AutoScalingGroups"][0]
ids = [i["InstanceId"] for i in g["Instances"]]
ok = sys.argv[2] not in ids and len(ids) == int(sys.argv[3])
print(ids) if not ok else None
sys.exit(0 if ok else 1)
PYEOF

# ---- the last healthy targets of a critical target group: denied ----
a elbv2 describe-target-health --target-group-arn "$tg" >"$tmp/th.json"
healthy=$(/usr/bin/python3 -c 'import json,sys; print(" ".join(t["Target"]["Id"] for t in json.load(open(sys.argv[1]))["TargetHealthDescriptions"] if t["TargetHealth"]["State"] == "healthy"))' "$tmp/th.json")
# shellcheck disable=SC2086
refused "terminate every healthy target of web-tg: denied, naming it" UnauthorizedOperation \
    "denied by blast-radius.*web-tg" ec2 terminate-instances --instance-ids $healthy
# shellcheck disable=SC2086
refused "the same as a dry run: refused the same way" UnauthorizedOperation "denied by blast-radius" \
    ec2 terminate-instances --dry-run --instance-ids $healthy
refused "an allowed dry run: DryRunOperation" DryRunOperation "DryRun flag is set" \
    ec2 terminate-instances --dry-run --instance-ids "$(echo $healthy | cut -d' ' -f1)"
refused "an unknown instance among known ones: InvalidInstanceID.NotFound, none terminated" \
    InvalidInstanceID.NotFound "i-0000000000000dead" ec2 terminate-instances --instance-ids "$(echo $healthy | cut -d' ' -f1)" i-0000000000000dead
left=$(a ec2 describe-instances --filters Name=instance-state-name,Values=running --query 'length(Reservations[].Instances[])' --output text)
[ "$left" -ge "$n" ] && ok "refused calls terminated nothing ($left running)" || bad "refused calls terminated nothing ($left running)"

# ---- security groups ----
sg() { a ec2 describe-security-groups --filters Name=group-name,Values="$1" --query 'SecurityGroups[0].GroupId' --output text; }
admin=$(sg admin-sg) web=$(sg web-sg) db=$(sg db-sg)
refused "open 22 to the world: denied" UnauthorizedOperation "denied by segmentation.*22" \
    ec2 authorize-security-group-ingress --group-id "$admin" --protocol tcp --port 22 --cidr 0.0.0.0/0
refused "open 5432 of a restricted group to the world: denied" UnauthorizedOperation "denied by segmentation" \
    ec2 authorize-security-group-ingress --group-id "$db" --protocol tcp --port 5432 --cidr 0.0.0.0/0
if a ec2 authorize-security-group-ingress --group-id "$web" --protocol tcp --port 8443 --cidr 0.0.0.0/0 >"$tmp/out" 2>&1 ||
    grep -q "needs approval (segmentation" "$tmp/out"; then
    ok "open 8443 on the public web group: allowed or reviewed"
else bad "open 8443 on the public web group: allowed or reviewed"; cat "$tmp/out"; fi
refused "delete a security group in use: DependencyViolation from the twin" DependencyViolation "." \
    ec2 delete-security-group --group-id "$web"

# ---- buckets: a restricted one made public three ways ----
refused "a public policy on a restricted bucket: denied" AccessDenied "segmentation.*restricted-open" \
    s3api put-bucket-policy --bucket restricted-open --policy '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::restricted-open/*"}]}'
refused "a public-read ACL on a restricted bucket: denied" AccessDenied "segmentation.*restricted-open" \
    s3api put-bucket-acl --bucket restricted-open --acl public-read
refused "removing a restricted bucket's public access block: denied" AccessDenied "segmentation.*restricted-blocked" \
    s3api delete-public-access-block --bucket restricted-blocked
a s3api get-public-access-block --bucket restricted-blocked >/dev/null 2>&1 && ok "its public access block is still there" ||
    bad "its public access block is still there"
refused "delete a non-empty bucket: BucketNotEmpty from the twin" BucketNotEmpty "not empty" \
    s3api delete-bucket --bucket shop-assets

# ---- IAM, RDS, Auto Scaling ----
refused "attach AdministratorAccess: denied" AccessDenied "denied by privilege" \
    iam attach-role-policy --role-name ops-bot-role --policy-arn arn:aws:iam::aws:policy/AdministratorAccess
refused "delete a DB instance without a final snapshot: denied" AccessDenied "denied by data-protection.*analytics-db" \
    rds delete-db-instance --db-instance-identifier analytics-db --skip-final-snapshot
refused "delete a protected DB instance: refused by the twin as RDS does" InvalidParameterCombination "deletion protection" \
    rds delete-db-instance --db-instance-identifier orders-db --final-db-snapshot-identifier orders-final
refused "scale web-asg to 500: refused by cost" AccessDenied "cost: would raise the hourly cost" \
    autoscaling update-auto-scaling-group --auto-scaling-group-name web-asg --max-size 600 --desired-capacity 500

# ---- data reads: refused on a restricted bucket, recorded either way ----
refused "reading a restricted bucket's object: denied" AccessDenied "data-protection: reading objects of restricted S3 bucket" \
    s3api get-object --bucket restricted-open --key a.csv "$tmp/obj"
refused "reading an object the twin does not hold: NoSuchKey" NoSuchKey "." s3api get-object --bucket shop-assets --key index.html "$tmp/obj"
[ "$("$GATE" audit log --audit-repo "$tmp/data/audit" 2>/dev/null | grep -c "aws s3 GetObject")" = 2 ] &&
    ok "both object reads are in the audit log" || bad "both object reads are in the audit log"

# ---- approvals and the freeze work the same ----
ap() { "$GATE" "$@" --server "https://127.0.0.1:$port" --token-file "$tmp/data/approver.token" --ca "$tmp/data/tls.crt"; }
a autoscaling update-auto-scaling-group --auto-scaling-group-name web-asg --max-size 60 --desired-capacity 60 >"$tmp/out" 2>&1
id=$(sed -n 's/.*approval id \([0-9a-f]*\).*/\1/p' "$tmp/out")
if [ -n "$id" ] && ap approvals approve "$id" >"$tmp/ap" 2>&1; then
    passes "a reviewed AWS call passes once approved" autoscaling update-auto-scaling-group \
        --auto-scaling-group-name web-asg --max-size 60 --desired-capacity 60
    [ "$(a autoscaling describe-auto-scaling-groups --auto-scaling-group-names web-asg --query 'AutoScalingGroups[0].DesiredCapacity' --output text)" = 60 ] &&
        ok "and it took effect" || bad "and it took effect"
else
    bad "a reviewed AWS call passes once approved"; cat "$tmp/out" "$tmp/ap"
fi
ap freeze --reason "aws drill" >/dev/null 2>&1
refused "a freeze stops AWS mutations" UnauthorizedOperation "denied by freeze: aws drill" \
    ec2 stop-instances --instance-ids i-0a1b2c3d4e5f60302
passes "reads still work while frozen" ec2 describe-vpcs
ap thaw >/dev/null 2>&1
passes "after the thaw they pass again" ec2 stop-instances --instance-ids i-0a1b2c3d4e5f60302

# ---- boto3 and hand-made signatures ----
/usr/bin/python3 tests/cli/aws_boto.py "https://127.0.0.1:$aport" "$tmp/data/tls.crt" "$AWS_SHARED_CREDENTIALS_FILE" ||
    failures=$((failures + 1))

# ---- hostile requests: the protocol's error, the gate still up ----
head -c 4000000 /dev/zero >"$tmp/big"
sig=$(printf '%064d' 0)
curl -s --cacert "$tmp/data/tls.crt" -m 20 -o "$tmp/big.out" -w '%{http_code}' -X POST --data-binary @"$tmp/big" \
    -H "Authorization: AWS4-HMAC-SHA256 Credential=AKIAAAAAAAAAAAAAAAAA/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=$sig" \
    "https://127.0.0.1:$aport/" >"$tmp/code"
[ "$(cat "$tmp/code")" = 413 ] && grep -q "RequestEntityTooLarge" "$tmp/big.out" && ok "a body over 3 MiB is 413 RequestEntityTooLarge" ||
    { bad "a body over 3 MiB is 413 RequestEntityTooLarge ($(cat "$tmp/code"))"; cat "$tmp/big.out"; }
for h in "" "Authorization: garbage" "Authorization: AWS4-HMAC-SHA256 Credential=x" "Authorization: AWS4-HMAC-SHA256 Credential=AKIAAAAAAAAAAAAAAAAA/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=$sig"; do
    curl -s --cacert "$tmp/data/tls.crt" -m 5 -o "$tmp/h.out" -w '%{http_code}\n' -X POST ${h:+-H "$h"} -d 'Action=DescribeVpcs' \
        "https://127.0.0.1:$aport/" >>"$tmp/codes"
done
[ "$(tr '\n' ' ' <"$tmp/codes")" = "403 400 400 400 " ] && ok "no auth, garbage, a partial and another service's signature: each refused" ||
    bad "no auth, garbage, a partial and another service's signature: each refused ($(tr '\n' ' ' <"$tmp/codes"))"
passes "the gate answers after them" ec2 describe-vpcs

# ---- the agent's secret is nowhere but its credentials file ----
secret=$(sed -n 's/^aws_secret_access_key *= *//p' "$AWS_SHARED_CREDENTIALS_FILE")
[ ${#secret} -ge 40 ] && ok "the credentials file holds a secret" || bad "the credentials file holds a secret"
absent "the secret is in no log or audit record" "$secret" "$tmp/serve.log" "$tmp/data/audit"
[ "$(stat -c %a "$AWS_SHARED_CREDENTIALS_FILE")" = 600 ] && ok "the credentials file is private" ||
    bad "the credentials file is private"
# kubectl still works beside it
k get deployments -A >/dev/null && ok "kubectl works beside the AWS listener" || bad "kubectl works beside the AWS listener"
stop_twin "the gate stops on SIGTERM"
exit $((failures > 0))
