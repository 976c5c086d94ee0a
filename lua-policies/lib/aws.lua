-- lib/aws.lua: reading AWS actions, resources and the impact's AWS fields.
--
-- An AWS call's ctx.action has provider = "aws", service ("ec2", "s3" ...),
-- operation (botocore's name), input (botocore's input shape), verb ("get"
-- for reads, "call" for mutations) and region; a Kubernetes action has no
-- provider. AWS resources are cluster-scoped objects of AWS kinds
-- (EC2Instance, S3Bucket ...) whose "aws" member is the resource in
-- botocore's describe shape; metadata.name is the resource's id.
--
-- Protection tags (names and values from ctx.config.aws_tags):
-- airlock.dev/tier=critical and airlock.dev/restricted=true. As for
-- namespaces (lib.ns), a resource counts as critical or restricted if it is
-- tagged so BEFORE the action OR AFTER it: untagging a resource in the call
-- that destroys it does not evade the rules.
-- Every helper tolerates missing fields; tables from ctx are read-only, so
-- helpers build new tables and never edit theirs.
local M = {}

local function dig(t, ...)
  return lib.k8s.dig(t, ...)
end

-- "aws" or "kubernetes" (a Kubernetes action has no provider).
function M.provider(action)
  local p = dig(action, "provider")
  if p == nil then return "kubernetes" end
  return p
end

function M.is_aws(ctx)
  return M.provider(ctx.action) == "aws"
end

-- The action is service:operation (operation one name or a set of names).
function M.is_call(ctx, service, operation)
  local a = ctx.action
  if M.provider(a) ~= "aws" or a.service ~= service then return false end
  if type(operation) == "table" then return operation[a.operation] == true end
  return a.operation == operation
end

-- The resource document of an object ({apiVersion, kind, metadata, aws}),
-- or the object itself when it is already one.
function M.doc(obj)
  if type(obj) ~= "table" then return nil end
  if type(obj.aws) == "table" then return obj.aws end
  if obj.apiVersion == nil and obj.metadata == nil then return obj end
  return nil
end

-- A tag's value: Tags (EC2, ELBv2, ASG, IAM), TagList (RDS) or TagSet (S3's
-- GetBucketTagging), each [{Key, Value}]; nil when absent.
function M.tag(obj, key)
  local doc = M.doc(obj)
  if doc == nil then return nil end
  for _, field in ipairs({ "Tags", "TagList", "TagSet" }) do
    local tags = doc[field]
    if type(tags) == "table" then
      for _, t in ipairs(tags) do
        if type(t) == "table" and t.Key == key then return t.Value end
      end
    end
  end
  return nil
end

-- The protection tags as {{key, value, what}}, what = "critical"/"restricted".
function M.protection_tags(ctx)
  local c = ctx.config.aws_tags
  return {
    { key = c.tier_tag, value = c.critical_value, what = "critical" },
    { key = c.restricted_tag, value = c.restricted_value, what = "restricted" },
  }
end

-- Answers cached per ctx (each evaluation has its own ctx table).
local cache = setmetatable({}, { __mode = "k" })

-- Whether a resource of kind named name is tagged key=value before or
-- after the action. objs: further objects to look at (a change record's
-- before and after), which may be nil.
local function tagged(ctx, kind, name, key, value, objs)
  for _, o in ipairs(objs or {}) do
    if o and M.tag(o, key) == value then return true end
  end
  if type(kind) ~= "string" or type(name) ~= "string" or name == "" then return false end
  local per_ctx = cache[ctx]
  if per_ctx == nil then
    per_ctx = {}
    cache[ctx] = per_ctx
  end
  local id = key .. "=" .. value .. "@" .. kind .. "/" .. name
  if per_ctx[id] == nil then
    per_ctx[id] = false
    for _, when in ipairs({ "before", "after" }) do
      if M.tag(ctx.twin.get(kind, "", name, when), key) == value then
        per_ctx[id] = true
        break
      end
    end
  end
  return per_ctx[id]
end

function M.is_critical(ctx, kind, name, ...)
  local c = ctx.config.aws_tags
  return tagged(ctx, kind, name, c.tier_tag, c.critical_value, { ... })
end

function M.is_restricted(ctx, kind, name, ...)
  local c = ctx.config.aws_tags
  return tagged(ctx, kind, name, c.restricted_tag, c.restricted_value, { ... })
end

-- The resource before or after the action, as the twin has it (nil when
-- it does not exist then).
function M.get(ctx, kind, name, when)
  if type(name) ~= "string" or name == "" then return nil end
  return ctx.twin.get(kind, "", name, when)
end

-- The resource at either moment: after if it exists then, else before.
function M.either(ctx, kind, name)
  return M.get(ctx, kind, name, "after") or M.get(ctx, kind, name, "before")
end

-- "i-0abc (web-1)" when the resource has a Name tag other than its id.
function M.display(id, name)
  id = tostring(id)
  if type(name) == "string" and name ~= "" and name ~= id then
    return string.format("%s (%s)", id, name)
  end
  return id
end

-- The AWS kinds (the twin's, twin/aws.h).
M.KINDS = {
  EC2Instance = true, EC2SecurityGroup = true, EC2Vpc = true, EC2Subnet = true,
  EC2Volume = true, EC2Snapshot = true, AutoScalingGroup = true,
  ELBv2LoadBalancer = true, ELBv2TargetGroup = true, S3Bucket = true,
  IAMUser = true, IAMRole = true, IAMPolicy = true, RDSDBInstance = true,
  RDSDBSnapshot = true,
}

function M.is_kind(kind)
  return M.KINDS[kind] == true
end

-- "Kind name" as a reason names a resource: "EC2Instance i-0abc".
function M.describe(kind, name)
  return tostring(kind) .. " " .. tostring(name)
end

-- An AWS wildcard pattern (* and ?, compared without case, as IAM compares
-- actions) matches s.
function M.wildcard_match(pattern, s)
  if type(pattern) ~= "string" or type(s) ~= "string" then return false end
  local p = pattern:lower():gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0"):gsub("%*", ".*"):gsub("%?", ".")
  return s:lower():match("^" .. p .. "$") ~= nil
end

-- A list field that IAM also writes as a single string ("Action": "s3:*").
function M.list(v)
  if v == nil then return {} end
  if type(v) ~= "table" then return { v } end
  return v
end

return M
