-- budget: what one agent may do over time, this action included.
--   deny    the agent's pods disrupted in the last pods_window_seconds plus
--           this action's, above max_pods_disrupted; the hourly cost it
--           added in the last cost_window_seconds plus this action's settled
--           delta (if positive), above max_cost_added (Kubernetes and AWS
--           share this budget: impact.cost is one bill); the EC2 instances
--           it disrupted in the last instances_window_seconds plus this
--           action's (impact.instances_disrupted), above
--           max_instances_disrupted
-- An action that adds nothing (a read, a no-op) is never over budget, even
-- when earlier approved actions already are.
local k8s, report = lib.k8s, lib.report

-- 3600 -> "60 minutes", 86400 -> "24 hours"
local function window_text(seconds)
  if seconds % 3600 == 0 and seconds > 3600 then
    return string.format("%d hours", seconds // 3600)
  end
  if seconds % 60 == 0 then return string.format("%d minutes", seconds // 60) end
  return string.format("%s seconds", report.num(seconds))
end

return {
  name = "budget",
  description = "limits the pods and instances an agent disrupts and the cost it adds over time",
  reads = false,   -- judges what an action changes; a read changes nothing
  evaluate = function(ctx)
    local cfg = ctx.config.budget
    local r = report.new()
    local agent = tostring(k8s.dig(ctx.agent, "name"))

    local pods = report.n(ctx.impact.pods_disrupted)
    if pods > 0 then
      local past = report.n(ctx.history.totals(cfg.pods_window_seconds).pods_disrupted)
      if past + pods > cfg.max_pods_disrupted then
        r:deny("agent %s would disrupt %d pods within %s (%d already + %d now, limit %s)",
          agent, past + pods, window_text(cfg.pods_window_seconds), past, pods,
          report.num(cfg.max_pods_disrupted))
      end
    end

    local listed = k8s.dig(ctx.impact, "instant", "instances_disrupted")
    local instances = math.max(report.n(ctx.impact.instances_disrupted),
      type(listed) == "table" and #listed or 0)
    if instances > 0 then
      local past = report.n(ctx.history.totals(cfg.instances_window_seconds).instances_disrupted)
      if past + instances > cfg.max_instances_disrupted then
        r:deny("agent %s would disrupt %d EC2 instances within %s (%d already + %d now, limit %s)",
          agent, past + instances, window_text(cfg.instances_window_seconds), past, instances,
          report.num(cfg.max_instances_disrupted))
      end
    end

    local cost = report.n(k8s.dig(ctx.impact, "cost", "delta"))
    if cost > 0 then
      local past = report.n(ctx.history.totals(cfg.cost_window_seconds).cost_added)
      if past + cost > cfg.max_cost_added then
        r:deny("agent %s would add %s/hour of cost within %s (%s already + %s now, limit %s)",
          agent, report.money(past + cost), window_text(cfg.cost_window_seconds),
          report.money(past), report.money(cost), report.money(cfg.max_cost_added))
      end
    end
    return r:verdict()
  end,
}
