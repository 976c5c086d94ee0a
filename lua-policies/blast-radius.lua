-- blast-radius: how much one action takes down at once.
--   deny    deleting a Namespace that still holds workloads, pods or PVCs;
--           a Service in a critical namespace left with no ready endpoints;
--           more than deny_pods_above pods disrupted at the instant, or more
--           than deny_cluster_fraction_above of the cluster's running pods;
--           a workload in a critical namespace left under
--           critical_min_ready_fraction of its ready replicas
--   review  a Service in any other namespace left with no ready endpoints;
--           more than review_pods_above pods disrupted at the instant;
--           deleting or weakening a PodDisruptionBudget in a critical
--           namespace (its selector changed, or more of the pods it covers
--           allowed to be down), the guard a later drain would meet
-- On AWS (impact.instant/settled, impact.aws; absent fields are empty):
--   deny    a critical target group or Auto Scaling group (tagged
--           airlock.dev/tier=critical before or after) left with no healthy
--           members or under critical_min_healthy_fraction of them (a
--           target group thinned but not emptied is read from the diff), or
--           a critical target group deleted; more than deny_instances_above
--           EC2 instances disrupted at the instant, or more than
--           deny_account_fraction_above of the account's running instances
--   review  more than review_instances_above instances disrupted; any other
--           target group left with no healthy targets (or deleted with some)
local k8s, ns, report, aws = lib.k8s, lib.ns, lib.report, lib.aws

-- Namespace deletions: what would go with the namespace, counted per kind
-- from the diff and from the twin's state before the action (whichever
-- sees more).
local function check_namespace_deletions(ctx, cfg, r)
  local kinds = k8s.set(cfg.namespace_content_kinds)
  for _, c in ipairs(k8s.changes(ctx, { kind = "Namespace", op = "delete" })) do
    local counts = {}
    for _, d in ipairs(k8s.changes(ctx, { op = "delete", namespace = c.name })) do
      if kinds[d.kind] then counts[d.kind] = (counts[d.kind] or 0) + 1 end
    end
    for _, kind in ipairs(cfg.namespace_content_kinds) do
      local n = ctx.twin.count(kind, c.name, nil, "before")
      if n > (counts[kind] or 0) then counts[kind] = n end
    end
    local held = {}
    for _, kind in ipairs(cfg.namespace_content_kinds) do
      if (counts[kind] or 0) > 0 then
        held[#held + 1] = string.format("%d %s", counts[kind], kind)
      end
    end
    if #held > 0 then
      r:deny("would delete Namespace %s, which still holds %s", c.name, report.list(held))
    end
  end
end

local function check_services(ctx, r)
  for _, phase in ipairs({ "instant", "settled" }) do
    for _, s in ipairs(k8s.dig(ctx.impact, phase, "services_emptied") or {}) do
      local what
      if s.deleted then
        what = string.format("would delete Service %s, which had %d ready endpoints",
          k8s.nsname(s.namespace, s.name), report.n(s.ready_before))
      else
        what = string.format("would leave Service %s with no ready endpoints",
          k8s.nsname(s.namespace, s.name))
      end
      if ns.is_critical(ctx, s.namespace) then
        r:deny("%s (critical namespace %s)", what, s.namespace)
      else
        r:review("%s", what)
      end
    end
  end
end

local function check_pods(ctx, cfg, r)
  local impact = ctx.impact
  local n = report.n(k8s.dig(impact, "instant", "pods_disrupted") or impact.pods_disrupted)
  local running = report.n(k8s.dig(impact, "cluster", "running_pods_before"))
  if n > cfg.deny_pods_above then
    r:deny("would disrupt %d pods at once (limit %s)", n, report.num(cfg.deny_pods_above))
  elseif running > 0 and n / running > cfg.deny_cluster_fraction_above then
    r:deny("would disrupt %d of the cluster's %d running pods at once (%s, limit %s)",
      n, running, report.pct(n / running), report.pct(cfg.deny_cluster_fraction_above))
  elseif n > cfg.review_pods_above then
    r:review("would disrupt %d pods at once (review above %s)", n,
      report.num(cfg.review_pods_above))
  end
end

local function check_critical_workloads(ctx, cfg, r)
  local min = cfg.critical_min_ready_fraction
  for _, phase in ipairs({ "instant", "settled" }) do
    for _, w in ipairs(k8s.dig(ctx.impact, phase, "workloads_degraded") or {}) do
      local before, after = report.n(w.ready_before), report.n(w.ready_after)
      if before > 0 and after / before < min and ns.is_critical(ctx, w.namespace) then
        r:deny("would leave %s with %d of %d ready replicas (%s; critical namespace %s needs at least %s)",
          k8s.describe(w.kind, w.namespace, w.name), after, before,
          report.pct(after / before), w.namespace, report.pct(min))
      end
    end
  end
end

-- How many of n pods a PodDisruptionBudget spec lets be unavailable
-- (percentages scaled and rounded up, as the disruption controller does),
-- or nil when it cannot be told.
local function pdb_allowed(spec, n)
  local function scaled(v)
    if math.type(v) == "integer" then return v end
    local pct = type(v) == "string" and tonumber(v:match("^(%d+)%%$"))
    if pct and n then return math.ceil(pct * n / 100) end
    return nil
  end
  if k8s.dig(spec, "minAvailable") ~= nil then
    local min = scaled(spec.minAvailable)
    return min and n and math.max(n - min, 0)
  end
  if k8s.dig(spec, "maxUnavailable") ~= nil then return scaled(spec.maxUnavailable) end
  return nil
end

local function check_disruption_budgets(ctx, r)
  for _, c in ipairs(k8s.changes(ctx, { kind = "PodDisruptionBudget", cause = "direct" })) do
    if c.before and ns.is_critical(ctx, c.namespace) then
      local where = k8s.nsname(c.namespace, c.name)
      local spec, was = k8s.dig(c.after, "spec"), k8s.dig(c.before, "spec")
      if c.after == nil then
        r:review("would delete PodDisruptionBudget %s (critical namespace %s)", where, c.namespace)
      elseif not k8s.equal(k8s.dig(spec, "selector"), k8s.dig(was, "selector")) then
        r:review("would change the selector of PodDisruptionBudget %s (critical namespace %s)",
          where, c.namespace)
      elseif not k8s.equal(spec, was) then
        local text = k8s.selector_text(k8s.dig(was, "selector"))
        local n = text and ctx.twin.count("Pod", c.namespace, text, "before")
        local before, after = pdb_allowed(was, n), pdb_allowed(spec, n)
        if before == nil or after == nil then
          if not (k8s.equal(spec.minAvailable, was.minAvailable)
              and k8s.equal(spec.maxUnavailable, was.maxUnavailable)) then
            r:review("would change the disruption limits of PodDisruptionBudget %s (critical namespace %s)",
              where, c.namespace)
          end
        elseif after > before then
          r:review("would weaken PodDisruptionBudget %s: %d of its %d pods allowed down instead of %d (critical namespace %s)",
            where, after, n, before, c.namespace)
        end
      end
    end
  end
end

-- ---- AWS ----

-- The instances an entry list names, "i-1 (web-1)", for a message.
local function instance_names(list)
  local out = {}
  for _, i in ipairs(list or {}) do out[#out + 1] = aws.display(i.id, i.name) end
  return out
end

local function check_instances(ctx, cfg, r)
  local impact = ctx.impact
  local listed = k8s.dig(impact, "instant", "instances_disrupted")
  if type(listed) ~= "table" then listed = {} end
  local n = math.max(report.n(impact.instances_disrupted), #listed)
  if n == 0 then return end
  local running = report.n(k8s.dig(impact, "aws", "running_instances_before"))
  local names = #listed > 0 and (": " .. report.list(instance_names(listed), 3)) or ""
  if n > cfg.deny_instances_above then
    r:deny("would disrupt %d EC2 instances at once (limit %s)%s", n,
      report.num(cfg.deny_instances_above), names)
  elseif running > 0 and n / running > cfg.deny_account_fraction_above then
    r:deny("would disrupt %d of the account's %d running EC2 instances at once (%s, limit %s)%s",
      n, running, report.pct(n / running), report.pct(cfg.deny_account_fraction_above), names)
  elseif n > cfg.review_instances_above then
    r:review("would disrupt %d EC2 instances at once (review above %s)%s", n,
      report.num(cfg.review_instances_above), names)
  end
end

local PHASE_TEXT = { instant = "at once", settled = "once settled" }

local function check_target_groups(ctx, cfg, r)
  local min = cfg.critical_min_healthy_fraction
  for _, phase in ipairs({ "instant", "settled" }) do
    for _, g in ipairs(k8s.dig(ctx.impact, phase, "target_groups_emptied") or {}) do
      local before, after = report.n(g.healthy_before), report.n(g.healthy_after)
      local name = tostring(g.name)
      local critical = g.critical == true or aws.is_critical(ctx, "ELBv2TargetGroup", g.name)
      local what, note
      if g.deleted then
        what = string.format("would delete target group %s, which had %d healthy targets", name, before)
      elseif after == 0 and before > 0 then
        what = string.format("would leave target group %s with no healthy targets %s", name,
          PHASE_TEXT[phase])
        note = string.format("had %d", before)
      elseif before > 0 and after / before < min then
        what = string.format("would leave target group %s with %d of %d healthy targets %s", name,
          after, before, PHASE_TEXT[phase])
        note = report.pct(after / before)
      end
      if what and critical and g.deleted then
        r:deny("%s (critical)", what)
      elseif what and critical then
        r:deny("%s (%scritical, needs at least %s)", what, note and (note .. "; ") or "",
          report.pct(min))
      elseif what and after == 0 and before > 0 then
        r:review("%s%s", what, note and (" (" .. note .. ")") or "")
      end
    end
  end
end

-- The twin reports a target group only once it has no healthy target left
-- (target_groups_emptied); a critical one merely thinned is read from the
-- diff's records (Targets: [{Id, Port, State}], the target health).
local function healthy_targets(obj)
  local n = 0
  for _, t in ipairs(k8s.dig(obj, "aws", "Targets") or {}) do
    if t.State == "healthy" or k8s.dig(t, "State", "State") == "healthy" then n = n + 1 end
  end
  return n
end

local function check_thinned_target_groups(ctx, cfg, r)
  local min = cfg.critical_min_healthy_fraction
  for _, c in ipairs(k8s.changes(ctx, { kind = "ELBv2TargetGroup", op = "update" })) do
    local before, after = healthy_targets(c.before), healthy_targets(c.after)
    if before > 0 and after > 0 and after / before < min
        and aws.is_critical(ctx, "ELBv2TargetGroup", c.name, c.before, c.after) then
      r:deny("would leave target group %s with %d of %d healthy targets (%s; critical, needs at least %s)",
        tostring(c.name), after, before, report.pct(after / before), report.pct(min))
    end
  end
end

local function check_asgs(ctx, cfg, r)
  local min = cfg.critical_min_healthy_fraction
  for _, phase in ipairs({ "instant", "settled" }) do
    for _, g in ipairs(k8s.dig(ctx.impact, phase, "asgs_degraded") or {}) do
      local before, after = report.n(g.healthy_before), report.n(g.healthy_after)
      if before > 0 and after / before < min
          and (g.critical == true or aws.is_critical(ctx, "AutoScalingGroup", g.name)) then
        r:deny("would leave Auto Scaling group %s with %d of %d healthy instances %s (%s; critical, needs at least %s)",
          tostring(g.name), after, before, PHASE_TEXT[phase], report.pct(after / before),
          report.pct(min))
      end
    end
  end
end

return {
  name = "blast-radius",
  description = "limits how many pods, services, workloads and instances one action takes down",
  reads = false,   -- judges what an action changes; a read changes nothing
  evaluate = function(ctx)
    local cfg = ctx.config["blast-radius"]
    local r = report.new()
    check_namespace_deletions(ctx, cfg, r)
    check_services(ctx, r)
    check_pods(ctx, cfg, r)
    check_critical_workloads(ctx, cfg, r)
    check_disruption_budgets(ctx, r)
    check_instances(ctx, cfg, r)
    check_target_groups(ctx, cfg, r)
    check_thinned_target_groups(ctx, cfg, r)
    check_asgs(ctx, cfg, r)
    return r:verdict()
  end,
}
