-- cost: what an action adds to the cluster's hourly bill once settled.
--   deny    settled hourly cost delta above deny_delta_above
--   review  settled hourly cost delta above review_delta_above
local report = lib.report

return {
  name = "cost",
  description = "limits how much one action raises the cluster's hourly cost",
  reads = false,   -- judges what an action changes; a read changes nothing
  evaluate = function(ctx)
    local cfg = ctx.config.cost
    local cost = ctx.impact.cost or {}
    local delta = report.n(cost.delta)
    local how = string.format("would raise the hourly cost by %s (from %s to %s)",
      report.money(delta), report.money(report.n(cost.before)), report.money(report.n(cost.after)))
    if delta > cfg.deny_delta_above then
      return deny("%s, limit %s", how, report.money(cfg.deny_delta_above))
    end
    if delta > cfg.review_delta_above then
      return review("%s, review above %s", how, report.money(cfg.review_delta_above))
    end
    return allow()
  end,
}
