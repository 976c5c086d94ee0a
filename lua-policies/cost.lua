-- cost: what an action adds to the cluster's hourly bill once settled.
--   deny    settled hourly cost delta above deny_delta_above
--   review  settled hourly cost delta above review_delta_above
-- Kubernetes and AWS resources are one bill (impact.cost); for an AWS call
-- the message also names the AWS resources the call creates or changes.
local report, aws = lib.report, lib.aws

-- "creates EC2Instance i-1, i-2; changes AutoScalingGroup web" for an AWS
-- call's direct changes (nil when there are none).
local function aws_changes(ctx)
  local created, changed = {}, {}
  for _, c in ipairs(lib.k8s.changes(ctx, { cause = "direct" })) do
    if aws.is_kind(c.kind) then
      if c.op == "create" then
        created[#created + 1] = aws.describe(c.kind, c.name)
      elseif c.op == "update" then
        changed[#changed + 1] = aws.describe(c.kind, c.name)
      end
    end
  end
  local parts = {}
  if #created > 0 then parts[#parts + 1] = "creates " .. report.list(created, 3) end
  if #changed > 0 then parts[#parts + 1] = "changes " .. report.list(changed, 3) end
  if #parts == 0 then return nil end
  return table.concat(parts, "; ")
end

return {
  name = "cost",
  description = "limits how much one action raises the hourly cost of the cluster and the AWS account",
  reads = false,   -- judges what an action changes; a read changes nothing
  evaluate = function(ctx)
    local cfg = ctx.config.cost
    local cost = ctx.impact.cost or {}
    local delta = report.n(cost.delta)
    local what = aws.is_aws(ctx) and aws_changes(ctx)
    local how = string.format("would raise the hourly cost by %s (from %s to %s%s)",
      report.money(delta), report.money(report.n(cost.before)), report.money(report.n(cost.after)),
      what and ("; " .. what) or "")
    if delta > cfg.deny_delta_above then
      return deny("%s, limit %s", how, report.money(cfg.deny_delta_above))
    end
    if delta > cfg.review_delta_above then
      return review("%s, review above %s", how, report.money(cfg.review_delta_above))
    end
    return allow()
  end,
}
