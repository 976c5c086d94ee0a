-- data-protection: secrets stay unread, data in critical namespaces stays.
--   deny    reading Secrets (unless the agent's profile has read_secrets):
--           every verb whose answer carries Secret data is a read -- get,
--           list and watch; patching or replacing an existing Secret (the
--           API answers a patch with the whole object, data included; a PUT
--           is the same change, and one that keeps the other keys needs
--           their values); and deleting a collection of Secrets (the API
--           answers with the deleted objects).  A single delete answers with
--           a Status; whatever answer an agent without read_secrets gets
--           about Secrets, the gate itself redacts their values too;
--           deleting, directly or by
--           cascade, a PersistentVolumeClaim in a critical namespace or a
--           PersistentVolume bound to a claim in one (spec.claimRef)
--   review  deleting a PersistentVolumeClaim anywhere else
-- On AWS (impact.data_at_risk, the action; absent is empty):
--   deny    deleting a critical (airlock.dev/tier=critical, before or after)
--           EBS volume, EBS or RDS snapshot, S3 bucket or DB instance, or a
--           DB instance without a final snapshot; unless the agent's profile
--           has read_secrets: reading an object of a restricted bucket
--           (s3_object_reads, e.g. GetObject, HeadObject), copying one out
--           of it (CopyObject, UploadPartCopy: the source is read), and
--           creating an IAM access key (its answer holds the secret),
--           changing an RDS master password (ModifyDBInstance or
--           ModifyDBCluster with MasterUserPassword: the agent would hold
--           the secret)
--   review  deleting any other volume, snapshot, bucket or DB instance (not
--           a volume deleted with its instance because it was attached with
--           DeleteOnTermination)
local k8s, ns, aws = lib.k8s, lib.ns, lib.aws

local function check_secret_reads(ctx, cfg, r)
  local a = ctx.action
  if not k8s.set(cfg.secret_resources)[a.resource] then return end
  -- an agent whose profile says read_secrets (the agents file) may
  if ctx.agent.read_secrets then return end
  if (a.verb == "patch" or a.verb == "update") and a.name and a.subresource == nil
      and ctx.twin.get(a.kind, a.namespace, a.name, "before") ~= nil then
    r:deny("reading Secrets is not allowed (%s Secret %s: a write answers with, or needs, its data)",
      a.verb, k8s.nsname(a.namespace, a.name))
    return
  end
  if not k8s.is_read(a) and a.verb ~= "deletecollection" then return end
  if a.name then
    r:deny("reading Secrets is not allowed (%s Secret %s)", a.verb, k8s.nsname(a.namespace, a.name))
  elseif a.namespace then
    r:deny("reading Secrets is not allowed (%s Secrets in namespace %s)", a.verb, a.namespace)
  else
    r:deny("reading Secrets is not allowed (%s Secrets in all namespaces)", a.verb)
  end
end

local function check_volume_deletions(ctx, r)
  for _, c in ipairs(k8s.changes(ctx, { kind = "PersistentVolumeClaim", op = "delete" })) do
    local what = "would delete PersistentVolumeClaim " .. k8s.nsname(c.namespace, c.name)
    if ns.is_critical(ctx, c.namespace) then
      r:deny("%s (critical namespace %s)", what, c.namespace)
    else
      r:review("%s", what)
    end
  end
  for _, c in ipairs(k8s.changes(ctx, { kind = "PersistentVolume", op = "delete" })) do
    local claim = k8s.dig(c.before, "spec", "claimRef") or {}
    if claim.namespace and ns.is_critical(ctx, claim.namespace) then
      r:deny("would delete PersistentVolume %s, bound to claim %s (critical namespace %s)",
        c.name, k8s.nsname(claim.namespace, tostring(claim.name)), claim.namespace)
    end
  end
end

-- ---- AWS ----

-- The twin's kind of each data_at_risk type, and how a message names it.
local RISK_KINDS = {
  volume = { "EC2Volume", "EBS volume" },
  snapshot = { "EC2Snapshot", "EBS snapshot" },
  bucket = { "S3Bucket", "S3 bucket" },
  db_instance = { "RDSDBInstance", "DB instance" },
  db_snapshot = { "RDSDBSnapshot", "DB snapshot" },
}

-- A volume its instance's termination deletes because it was attached with
-- DeleteOnTermination (a cascade in the diff): the instance's scratch or
-- root disk, which its owner chose to lose with it; not a deletion to
-- review (a critical one is still denied).
local function dies_with_instance(ctx, d)
  if d.type ~= "volume" then return false end
  for _, c in ipairs(ctx.diff or {}) do
    if c.kind == "EC2Volume" and c.name == d.id and c.op == "delete" then
      if c.cause ~= "cascade" then return false end
      for _, a in ipairs(c.before and c.before.aws and c.before.aws.Attachments or {}) do
        if a.DeleteOnTermination == true then return true end
      end
      return false
    end
  end
  return false
end

local function check_data_at_risk(ctx, r)
  for _, d in ipairs(k8s.dig(ctx.impact, "data_at_risk") or {}) do
    local kind = RISK_KINDS[d.type] or { nil, tostring(d.type) }
    local what = string.format("would delete %s %s", kind[2], tostring(d.id))
    if d.type == "bucket" and tonumber(d.objects) and tonumber(d.objects) > 0 then
      what = string.format("%s and its %s objects", what, lib.report.num(d.objects))
    end
    local critical = d.critical == true or (kind[1] and aws.is_critical(ctx, kind[1], d.id))
    if critical then
      r:deny("%s (critical)", what)
    elseif d.type == "db_instance" and d.final_snapshot == false then
      r:deny("%s without a final snapshot", what)
    elseif dies_with_instance(ctx, d) then
      -- deleted with its instance, as it was attached to be
    else
      r:review("%s", what)
    end
  end
end

-- An S3 CopySource, "bucket/key", "/bucket/key" or an access point ARN,
-- URL-encoded and possibly with ?versionId=: the bucket, or nil.
local function copy_source_bucket(src)
  if type(src) == "table" then return src.Bucket end
  if type(src) ~= "string" then return nil end
  return src:match("^/?([^/?]+)/")
end

local PASSWORD_CHANGES = { ModifyDBInstance = "DBInstanceIdentifier", ModifyDBCluster = "DBClusterIdentifier" }

local function check_aws_secret_reads(ctx, cfg, r)
  local a = ctx.action
  if aws.provider(a) ~= "aws" or ctx.agent.read_secrets then return end
  local input = a.input or {}
  if a.service == "s3" then
    local bucket, how
    if k8s.set(cfg.s3_object_reads)[a.operation] then
      bucket, how = input.Bucket, a.operation
    elseif a.operation == "CopyObject" or a.operation == "UploadPartCopy" then
      bucket, how = copy_source_bucket(input.CopySource), a.operation .. " from it"
    end
    if type(bucket) == "string" and aws.is_restricted(ctx, "S3Bucket", bucket) then
      local key = ""
      if how == a.operation and input.Key ~= nil then key = " " .. bucket .. "/" .. tostring(input.Key) end
      r:deny("reading objects of restricted S3 bucket %s is not allowed (%s%s)", bucket, how, key)
    end
  elseif a.service == "iam" and a.operation == "CreateAccessKey" then
    -- the answer carries the new key's secret: a credential in the agent's hands
    r:deny("creating an access key is not allowed (its secret would be in the answer: user %s)",
      tostring(input.UserName or "(the caller)"))
  elseif a.service == "rds" and PASSWORD_CHANGES[a.operation] and input.MasterUserPassword ~= nil then
    r:deny("changing the master password of %s %s is not allowed (the agent would hold a secret)",
      a.operation == "ModifyDBCluster" and "DB cluster" or "DB instance",
      tostring(input[PASSWORD_CHANGES[a.operation]]))
  end
end

return {
  name = "data-protection",
  description = "keeps Secrets and restricted data unread and volumes, buckets and databases that matter undeleted",
  evaluate = function(ctx)
    local cfg = ctx.config["data-protection"]
    local r = lib.report.new()
    check_secret_reads(ctx, cfg, r)
    check_volume_deletions(ctx, r)
    check_data_at_risk(ctx, r)
    check_aws_secret_reads(ctx, cfg, r)
    return r:verdict()
  end,
}
