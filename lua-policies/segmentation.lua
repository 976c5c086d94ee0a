-- segmentation: who can reach what over the network.
--   deny    a new reachability pair into a restricted namespace from another
--           namespace or from outside the cluster; a Service in a restricted
--           namespace made LoadBalancer or NodePort (created as or changed
--           to), or given new externalIPs; an Ingress created or updated in a
--           restricted namespace with a backend Service; deleting a
--           NetworkPolicy in a restricted namespace when that opens new paths
--           into it
--   review  any other new pair from outside the cluster; a Service in any
--           other namespace made LoadBalancer or NodePort or given new
--           externalIPs, or an Ingress there newly routing to a Service
--           (the twin's reachability only counts "outside" through explicit
--           ipBlock rules, so exposure is judged from the objects); deleting
--           a NetworkPolicy anywhere else, or in a restricted namespace
--           without new paths
local k8s, ns, report = lib.k8s, lib.ns, lib.report

local function pair_text(p)
  local port = p.port == "*" and "any port" or p.port
  return string.format("%s -> %s on %s", p.from, p.to, port)
end

-- Up to `shown` pairs as text, then how many more.
local function some_pairs(list, shown)
  local parts = {}
  for i = 1, math.min(#list, shown) do parts[#parts + 1] = pair_text(list[i]) end
  local text = table.concat(parts, ", ")
  if #list > shown then text = text .. string.format(" and %d more", #list - shown) end
  return text
end

local function check_pairs(ctx, r)
  local into, order, outside = {}, {}, {}
  for _, p in ipairs(k8s.dig(ctx.impact, "reachability", "added") or {}) do
    local to_ns, from_ns = ns.of_group(p.to), ns.of_group(p.from)
    if ns.is_restricted(ctx, to_ns) and (from_ns == nil or from_ns ~= to_ns) then
      if not into[to_ns] then
        into[to_ns] = {}
        order[#order + 1] = to_ns
      end
      local l = into[to_ns]
      l[#l + 1] = p
    elseif p.from == "outside" then
      outside[#outside + 1] = p
    end
  end
  -- one reason per namespace, the first pairs named: a wide-open policy
  -- adds dozens, and the agent needs the gist, not the list
  for _, n in ipairs(order) do
    local l = into[n]
    if #l == 1 then
      r:deny("would open %s (restricted namespace %s)", pair_text(l[1]), n)
    else
      r:deny("would open %d new paths into restricted namespace %s: %s", #l, n, some_pairs(l, 3))
    end
  end
  if #outside == 1 then
    r:review("would open %s from outside the cluster", pair_text(outside[1]))
  elseif #outside > 1 then
    r:review("would open %d new paths from outside the cluster: %s", #outside, some_pairs(outside, 3))
  end
end

-- New values of after[field] (a list) that before did not have.
local function added(before, after, ...)
  local had = k8s.set(k8s.dig(before, ...))
  local out = {}
  for _, v in ipairs(k8s.dig(after, ...) or {}) do
    if not had[v] then out[#out + 1] = tostring(v) end
  end
  return out
end

local function check_services(ctx, cfg, r)
  local exposing = k8s.set(cfg.exposing_service_types)
  for _, c in ipairs(k8s.changes(ctx, { kind = "Service", op = { create = true, update = true } })) do
    if c.after then
      local restricted = ns.is_restricted(ctx, c.namespace)
      local where = k8s.nsname(c.namespace, c.name)
      local t = k8s.dig(c.after, "spec", "type")
      if exposing[t] and t ~= k8s.dig(c.before, "spec", "type") then
        if restricted then
          r:deny("would expose Service %s as %s (restricted namespace %s)", where, t, c.namespace)
        else
          r:review("would expose Service %s as %s, reachable from outside the cluster", where, t)
        end
      end
      local ips = added(c.before, c.after, "spec", "externalIPs")
      if #ips > 0 then
        if restricted then
          r:deny("would give Service %s externalIPs %s (restricted namespace %s)",
            where, report.list(ips), c.namespace)
        else
          r:review("would give Service %s externalIPs %s, reachable from outside the cluster",
            where, report.list(ips))
        end
      end
    end
  end
end

-- The Services an Ingress spec routes to (networking.k8s.io/v1 and the
-- older serviceName form).
local function ingress_backends(spec)
  local names, seen = {}, {}
  local function add(name)
    if type(name) == "string" and not seen[name] then
      seen[name] = true
      names[#names + 1] = name
    end
  end
  for _, b in ipairs({ k8s.dig(spec, "defaultBackend"), k8s.dig(spec, "backend") }) do
    add(k8s.dig(b, "service", "name"))
    add(k8s.dig(b, "serviceName"))
  end
  for _, rule in ipairs(k8s.dig(spec, "rules") or {}) do
    for _, path in ipairs(k8s.dig(rule, "http", "paths") or {}) do
      add(k8s.dig(path, "backend", "service", "name"))
      add(k8s.dig(path, "backend", "serviceName"))
    end
  end
  return names
end

local function check_ingresses(ctx, r)
  for _, c in ipairs(k8s.changes(ctx, { kind = "Ingress", op = { create = true, update = true } })) do
    if c.after and ns.is_restricted(ctx, c.namespace) then
      local backends = ingress_backends(c.after.spec)
      if #backends > 0 then
        for i, name in ipairs(backends) do backends[i] = k8s.nsname(c.namespace, name) end
        r:deny("Ingress %s would route outside traffic to Service %s (restricted namespace %s)",
          k8s.nsname(c.namespace, c.name), report.list(backends), c.namespace)
      end
    elseif c.after then
      -- elsewhere only Services the Ingress did not already route to
      local had = k8s.set(ingress_backends(k8s.dig(c.before, "spec")))
      local new = {}
      for _, name in ipairs(ingress_backends(c.after.spec)) do
        if not had[name] then new[#new + 1] = k8s.nsname(c.namespace, name) end
      end
      if #new > 0 then
        r:review("Ingress %s would route outside traffic to Service %s",
          k8s.nsname(c.namespace, c.name), report.list(new))
      end
    end
  end
end

local function check_network_policies(ctx, r)
  for _, c in ipairs(k8s.changes(ctx, { kind = "NetworkPolicy", op = "delete", cause = "direct" })) do
    local where = k8s.nsname(c.namespace, c.name)
    if ns.is_restricted(ctx, c.namespace) then
      local into = {}
      for _, p in ipairs(k8s.dig(ctx.impact, "reachability", "added") or {}) do
        if ns.of_group(p.to) == c.namespace then into[#into + 1] = pair_text(p) end
      end
      if #into > 0 then
        r:deny("deleting NetworkPolicy %s would open %d new path(s) into restricted namespace %s: %s",
          where, #into, c.namespace, report.list(into, 3))
      else
        r:review("would delete NetworkPolicy %s in restricted namespace %s", where, c.namespace)
      end
    else
      r:review("would delete NetworkPolicy %s", where)
    end
  end
end

return {
  name = "segmentation",
  description = "keeps restricted namespaces unreachable from outside and from other namespaces",
  reads = false,   -- judges what an action changes; a read changes nothing
  evaluate = function(ctx)
    local cfg = ctx.config.segmentation
    local r = report.new()
    check_pairs(ctx, r)
    check_services(ctx, cfg, r)
    check_ingresses(ctx, r)
    check_network_policies(ctx, r)
    return r:verdict()
  end,
}
