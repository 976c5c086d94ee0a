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
local k8s, ns, report = lib.k8s, lib.ns, lib.report

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

return {
  name = "blast-radius",
  description = "limits how many pods, services and workloads one action takes down",
  reads = false,   -- judges what an action changes; a read changes nothing
  evaluate = function(ctx)
    local cfg = ctx.config["blast-radius"]
    local r = report.new()
    check_namespace_deletions(ctx, cfg, r)
    check_services(ctx, r)
    check_pods(ctx, cfg, r)
    check_critical_workloads(ctx, cfg, r)
    check_disruption_budgets(ctx, r)
    return r:verdict()
  end,
}
