-- lua-policies/config.lua: every threshold the default policies use, in one
-- place. Policies read it as ctx.config; a caller may override any key per
-- evaluation with config_overrides (objects merge key by key), e.g.
--   {"config_overrides": {"cost": {"review_delta_above": 1}}}
-- Plain data only: tables, strings, numbers, booleans.
return {
  -- How a namespace is classified (lib.ns). A namespace counts as critical
  -- or restricted if it carries the label before the action OR after it.
  namespaces = {
    tier_label = "airlock.dev/tier",
    critical_value = "critical",
    restricted_label = "airlock.dev/restricted",
    restricted_value = "true",
  },

  -- How an AWS resource is classified (lib.aws): by its tags (Tags, or
  -- TagList for RDS), on an instance, Auto Scaling group, target group,
  -- security group, VPC, bucket, volume, snapshot or DB instance. Critical
  -- or restricted if tagged so before the action OR after it.
  aws_tags = {
    tier_tag = "airlock.dev/tier",
    critical_value = "critical",
    restricted_tag = "airlock.dev/restricted",
    restricted_value = "true",
  },

  ["blast-radius"] = {
    deny_pods_above = 50,              -- pods disrupted at the instant
    review_pods_above = 10,
    deny_cluster_fraction_above = 0.25, -- of impact.cluster.running_pods_before
    critical_min_ready_fraction = 0.5,  -- a critical workload keeps at least this
    -- AWS: EC2 instances taken out of running at the instant
    deny_instances_above = 50,
    review_instances_above = 10,
    deny_account_fraction_above = 0.25, -- of impact.aws.running_instances_before
    -- a critical target group / Auto Scaling group keeps at least this
    -- fraction of its healthy members
    critical_min_healthy_fraction = 0.5,
    -- a Namespace holding any of these may not be deleted
    namespace_content_kinds = {
      "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job",
      "CronJob", "PersistentVolumeClaim",
    },
  },

  cost = {                             -- settled hourly cost delta (Kubernetes and AWS: one bill)
    deny_delta_above = 50,
    review_delta_above = 5,
  },

  segmentation = {
    -- Service types that expose pods beyond the cluster network
    exposing_service_types = { "LoadBalancer", "NodePort" },
    -- AWS: a new internet path to an instance on one of these ports (a port
    -- range or protocol -1 covering one counts) is denied; SSH, RDP, MySQL,
    -- PostgreSQL, Redis, MongoDB, Elasticsearch
    admin_ports = { 22, 3389, 3306, 5432, 6379, 27017, 9200 },
  },

  privilege = {
    admin_roles = { "cluster-admin" },
    dangerous_verbs = { "escalate", "bind", "impersonate" },
    -- compared upper-case, without CAP_; SYS_MODULE loads host kernel code
    dangerous_capabilities = { "SYS_ADMIN", "NET_ADMIN", "SYS_MODULE", "ALL" },
    -- a role granting get/list/watch on these is a role that reads Secrets
    secret_resources = { "secrets" },
    -- "NAMESPACE/NAME" of the ServiceAccounts a token may be minted for
    token_requests = {},
    -- AWS: managed policies whose attachment grants admin (matched against
    -- the last segment of the policy ARN, or a grant's via)
    admin_policies = { "AdministratorAccess" },
  },

  ["data-protection"] = {
    secret_resources = { "secrets" },
    -- AWS: S3 operations that read an object's data (or, for HeadObject,
    -- its metadata) from the bucket named by input.Bucket; reading from a
    -- restricted bucket needs the agent's read_secrets
    s3_object_reads = {
      "GetObject", "HeadObject", "GetObjectAttributes", "GetObjectTorrent",
      "SelectObjectContent", "GetObjectAcl", "GetObjectTagging",
    },
  },

  budget = {
    pods_window_seconds = 3600,        -- pods disrupted by one agent ...
    max_pods_disrupted = 20,           -- ... in that window, this action included
    cost_window_seconds = 86400,       -- hourly cost added by one agent ...
    max_cost_added = 100,              -- ... in that window, this action included
    instances_window_seconds = 3600,   -- EC2 instances disrupted by one agent ...
    max_instances_disrupted = 20,      -- ... in that window, this action included
  },
}
