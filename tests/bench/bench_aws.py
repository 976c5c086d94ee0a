"""make bench: AWS calls through the gate (enforce mode) and to its
production directly, side by side in one run, with the same client
(botocore, one kept-alive connection each): the p50 of each call, and the
difference (what the gate adds: signature, parse, the reach described
again, simulate, judge, record, re-sign, forward).

usage: bench_aws.py LABEL N GATE_URL GATE_CA GATE_CREDS PROD_URL PROD_CA PROD_CREDS [describe]
Terminates a member of bench-asg per call, alternating gate and direct
(the group replaces each one); with `describe`, DescribeInstances of the
whole account too."""
import configparser
import statistics
import sys
import time

import boto3
from botocore.config import Config

label, n = sys.argv[1], int(sys.argv[2])
gate_url, gate_ca, gate_creds, prod_url, prod_ca, prod_creds = sys.argv[3:9]
describe = len(sys.argv) > 9 and sys.argv[9] == "describe"


def client(service, url, ca, creds, profile):
    cp = configparser.ConfigParser()
    cp.read(creds)
    return boto3.client(service, endpoint_url=url, verify=ca, region_name="us-east-1",
                        aws_access_key_id=cp[profile]["aws_access_key_id"],
                        aws_secret_access_key=cp[profile]["aws_secret_access_key"],
                        config=Config(retries={"max_attempts": 1}, max_pool_connections=1))


g_ec2 = client("ec2", gate_url, gate_ca, gate_creds, "airlock")
p_ec2 = client("ec2", prod_url, prod_ca, prod_creds, "default")
p_asg = client("autoscaling", prod_url, prod_ca, prod_creds, "default")


def member():
    g = p_asg.describe_auto_scaling_groups(AutoScalingGroupNames=["bench-asg"])["AutoScalingGroups"][0]
    return sorted(i["InstanceId"] for i in g["Instances"] if i["LifecycleState"] in ("InService", "Pending"))[0]


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


# warm both connections
g_ec2.describe_vpcs()
p_ec2.describe_vpcs()
through, direct = [], []
for i in range(n):
    m = member()
    through.append(timed(lambda: g_ec2.terminate_instances(InstanceIds=[m])))
    m = member()
    direct.append(timed(lambda: p_ec2.terminate_instances(InstanceIds=[m])))
gt, dt = statistics.median(through), statistics.median(direct)
print("aws %s: TerminateInstances of an ASG member p50: through the gate %.2f ms, production directly %.2f ms, "
      "added %.2f ms (target <= 1 ms)" % (label, gt, dt, gt - dt))
print("aws-terminate-through %s %.3f" % (label, gt))
if describe:
    through, direct = [], []
    for i in range(max(5, n // 4)):
        through.append(timed(lambda: g_ec2.describe_instances()))
        direct.append(timed(lambda: p_ec2.describe_instances()))
    gd, dd = statistics.median(through), statistics.median(direct)
    print("aws %s: DescribeInstances of the whole account p50: through the gate %.2f ms, production directly %.2f ms, "
          "added %.2f ms" % (label, gd, dd, gd - dd))
