"""An AWS account of about N resources for the benchmarks (make bench), as
one AWSState document: a VPC with four subnets, twenty security groups, an
Auto Scaling group of ten members behind a target group, and standalone
instances, each with its root volume, up to N resources in all.  The
group stays the same size whatever N: a mutation of one of its members
reaches the same few resources in every account.

usage: python3 gen_aws.py N > account.json           (about N resources)
       python3 gen_aws.py --instances N > account.json  (N instances, N volumes)"""
import json
import sys

by_instances = sys.argv[1] == "--instances"
n = int(sys.argv[-1])
region, account = "us-east-1", "123456789012"
vpc = "vpc-0b000000000000001"
subnets = ["subnet-0b00000000000000%d" % i for i in range(1, 5)]
groups = ["sg-0b0000000000%05d" % i for i in range(20)]
tg_arn = "arn:aws:elasticloadbalancing:%s:%s:targetgroup/bench-tg/0123456789abcdef" % (region, account)
state = {
    "kind": "AWSState", "account": account, "region": region,
    "Vpcs": [{"VpcId": vpc, "CidrBlock": "10.0.0.0/16", "State": "available", "Tags": [{"Key": "Name", "Value": "bench"}]}],
    "Subnets": [{"SubnetId": s, "VpcId": vpc, "CidrBlock": "10.0.%d.0/24" % i, "AvailabilityZone": "us-east-1" + "abcd"[i],
                 "MapPublicIpOnLaunch": False, "State": "available"} for i, s in enumerate(subnets)],
    "SecurityGroups": [{"GroupId": g, "GroupName": "bench-%d" % i, "VpcId": vpc, "Description": "bench",
                        "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                           "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
                        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}
                       for i, g in enumerate(groups)],
    "Reservations": [], "Volumes": [], "TargetHealth": {tg_arn: []},
}


def instance(i, asg=None):
    iid = "i-0c%015x" % i
    tags = [{"Key": "Name", "Value": asg or "worker-%d" % i}]
    if asg:
        tags.append({"Key": "aws:autoscaling:groupName", "Value": asg})
    vol = "vol-0c%015x" % i
    sn = subnets[i % 4]
    state["Reservations"].append({"ReservationId": "r-0c%015x" % i, "OwnerId": account, "Instances": [{
        "InstanceId": iid, "InstanceType": "m5.large", "State": {"Code": 16, "Name": "running"},
        "SubnetId": sn, "VpcId": vpc, "PrivateIpAddress": "10.0.%d.%d" % (i % 4, i % 250 + 2),
        "Placement": {"AvailabilityZone": "us-east-1" + "abcd"[i % 4]},
        "LaunchTime": "2026-01-01T00:00:00+00:00",
        "SecurityGroups": [{"GroupId": groups[i % 20], "GroupName": "bench-%d" % (i % 20)}],
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeId": vol, "Status": "attached",
                                                                     "DeleteOnTermination": True}}],
        "Tags": tags}]})
    state["Volumes"].append({"VolumeId": vol, "Size": 20, "VolumeType": "gp3", "State": "in-use",
                             "AvailabilityZone": "us-east-1" + "abcd"[i % 4],
                             "Attachments": [{"InstanceId": iid, "Device": "/dev/xvda", "State": "attached",
                                              "DeleteOnTermination": True}]})
    return iid


members = [instance(i, "bench-asg") for i in range(10)]
state["TargetHealth"][tg_arn] = [{"Id": m, "Port": 80, "State": "healthy"} for m in members]
state["AutoScalingGroups"] = [{
    "AutoScalingGroupName": "bench-asg", "MinSize": 2, "MaxSize": 20, "DesiredCapacity": 10,
    "VPCZoneIdentifier": ",".join(subnets), "TargetGroupARNs": [tg_arn], "InstanceType": "m5.large",
    "AvailabilityZones": ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"],
    "Instances": [{"InstanceId": m, "LifecycleState": "InService", "HealthStatus": "Healthy",
                   "AvailabilityZone": "us-east-1" + "abcd"[i % 4], "InstanceType": "m5.large"}
                  for i, m in enumerate(members)]}]
state["TargetGroups"] = [{"TargetGroupArn": tg_arn, "TargetGroupName": "bench-tg", "Protocol": "HTTP", "Port": 80,
                          "VpcId": vpc, "TargetType": "instance", "LoadBalancerArns": []}]
fixed = 1 + 4 + 20 + 1 + 1 + 2 * len(members)
i = len(members)
while (i < n) if by_instances else (fixed + 2 * (i - len(members)) + 2 <= n):
    instance(i)
    i += 1
json.dump(state, sys.stdout)
