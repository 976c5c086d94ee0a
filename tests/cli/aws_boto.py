"""boto3 against the gate's AWS listener (tests/cli/aws.sh): what an agent
written in Python sees, and signatures a client would never send on its own
(a wrong secret, an unknown key, a request signed 20 minutes ago).

usage: aws_boto.py ENDPOINT CA CREDENTIALS_FILE
Prints one "ok ..." or "not ok ..." line per check (tests/lib.sh's form)."""
import configparser
import datetime
import sys

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
from botocore.config import Config

endpoint, ca, cred_file = sys.argv[1:4]
cp = configparser.ConfigParser()
cp.read(cred_file)
KEY = cp["airlock"]["aws_access_key_id"]
SECRET = cp["airlock"]["aws_secret_access_key"]
failures = 0


def check(name, cond, detail=""):
    global failures
    if cond:
        print("ok " + name)
    else:
        failures += 1
        print("not ok " + name + (": " + str(detail) if detail else ""))


def client(service, key=KEY, secret=SECRET):
    return boto3.client(service, endpoint_url=endpoint, verify=ca, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def error_of(fn):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"].get("Code"), e.response["Error"].get("Message", ""), \
            e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, "", 200


ec2 = client("ec2")
asg = client("autoscaling")
groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web-asg"])["AutoScalingGroups"]
check("boto3: describe_auto_scaling_groups finds web-asg", len(groups) == 1, groups)
before = ec2.describe_instances()["Reservations"]
n_before = sum(len(r["Instances"]) for r in before)
check("boto3: describe_instances lists the demo account's instances", n_before >= 4, n_before)

# a dry run of an allowed termination: DryRunOperation, nothing changes
member = groups[0]["Instances"][0]["InstanceId"]
code, msg, status = error_of(lambda: ec2.terminate_instances(InstanceIds=[member], DryRun=True))
check("boto3: an allowed dry run answers DryRunOperation (412)", code == "DryRunOperation" and status == 412,
      (code, msg, status))
state = ec2.describe_instances(InstanceIds=[member])["Reservations"][0]["Instances"][0]["State"]["Name"]
check("boto3: the dry run changed nothing", state == "running", state)

# the same call signed with a wrong secret, an unknown key: refused, nothing changed
code, msg, status = error_of(lambda: client("ec2", secret="x" * 40).terminate_instances(InstanceIds=[member]))
check("boto3: a wrong secret is SignatureDoesNotMatch (403)", code == "SignatureDoesNotMatch" and status == 403,
      (code, msg, status))
code, msg, status = error_of(lambda: client("ec2", key="AKIA" + "Z" * 16).terminate_instances(InstanceIds=[member]))
check("boto3: an unknown key is InvalidClientTokenId (403)", code == "InvalidClientTokenId" and status == 403,
      (code, msg, status))


# a request signed 20 minutes ago: the signature's time is botocore's clock
real = datetime.datetime
real_utcnow = datetime.datetime.utcnow


class Past(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return real_utcnow() - datetime.timedelta(minutes=20)


botocore.auth.datetime.datetime = Past
try:
    code, msg, status = error_of(lambda: ec2.terminate_instances(InstanceIds=[member]))
finally:
    botocore.auth.datetime.datetime = real
check("boto3: a request signed 20 minutes ago is refused (403)", status == 403 and code in (
    "RequestExpired", "SignatureDoesNotMatch"), (code, msg, status))
state = ec2.describe_instances(InstanceIds=[member])["Reservations"][0]["Instances"][0]["State"]["Name"]
check("boto3: none of the refused calls changed anything", state == "running", state)

# STS names the agent
ident = client("sts").get_caller_identity()
check("boto3: sts get_caller_identity names ops-bot", ident["Arn"].endswith("/ops-bot"), ident)

# S3 through boto3: the buckets, a restricted bucket's policy made public (denied)
s3 = client("s3")
names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
check("boto3: s3 list_buckets lists the demo buckets", "customer-exports" in names, names)
code, msg, status = error_of(lambda: s3.put_bucket_policy(Bucket="customer-exports", Policy=(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject",'
    '"Resource":"arn:aws:s3:::customer-exports/*"}]}')))
check("boto3: a public policy on a restricted bucket is AccessDenied", code == "AccessDenied" and status == 403,
      (code, msg, status))
sys.exit(1 if failures else 0)
