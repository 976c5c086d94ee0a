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
-- On AWS (impact.exposure, impact.buckets_public; absent is empty):
--   deny    a new internet path to anything restricted: the instance, one of
--           its security groups, its Auto Scaling group or its VPC tagged
--           airlock.dev/restricted=true (before or after); a new internet
--           path to any instance on an administrative or database port
--           (admin_ports; a port range, or protocol -1, covering one
--           counts); making a restricted bucket public (through its policy,
--           its ACL or its public access block), or lifting any part of a
--           restricted bucket's public access block; opening a restricted
--           security group to the internet, reachable instance or not
--   review  any other new internet path; making any other bucket public
local k8s, ns, report, aws = lib.k8s, lib.ns, lib.report, lib.aws

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

-- ---- AWS ----

-- The port range an exposure entry opens, lo..hi (all ports for protocol
-- -1/"all", a port of -1, a missing port or "*"). The twin writes port (the
-- rule's FromPort) and to_port (its ToPort); "N", "N-M" and
-- from_port/FromPort are read too.
local ALL_PROTOCOLS = { ["-1"] = true, all = true }
local PORTLESS = { icmp = true, icmpv6 = true, ["1"] = true, ["58"] = true }

local function port_range(e)
  if ALL_PROTOCOLS[tostring(e.proto)] then return 0, 65535 end
  local hi = tonumber(e.to_port or e.ToPort)
  local lo = tonumber(e.from_port or e.FromPort or (hi and e.port))
  if lo and hi then
    if lo < 0 then return 0, 65535 end   -- -1: every port of the protocol
    return lo, hi
  end
  local p = e.port
  if type(p) == "number" then
    if p < 0 then return 0, 65535 end
    return p, p
  end
  if type(p) == "string" then
    local a, b = p:match("^%s*(%d+)%s*%-%s*(%d+)%s*$")
    if a then return tonumber(a), tonumber(b) end
    if tonumber(p) then return tonumber(p), tonumber(p) end
  end
  return 0, 65535
end

local function proto_text(e)
  local p = e.proto
  if p ~= nil and ALL_PROTOCOLS[tostring(p)] then return "all traffic" end
  if p ~= nil and PORTLESS[tostring(p)] then return tostring(p) end
  local lo, hi = port_range(e)
  if p == nil then
    if lo == 0 and hi == 65535 then return "all ports" end
    if lo == hi then return string.format("port %d", lo) end
    return string.format("ports %d-%d", lo, hi)
  end
  if lo == 0 and hi == 65535 then return "all " .. tostring(p) .. " ports" end
  if lo == hi then return string.format("%s/%d", tostring(p), lo) end
  return string.format("%s/%d-%d", tostring(p), lo, hi)
end

-- The admin ports an entry opens, as a list.
local function admin_ports_opened(cfg, e)
  if e.proto ~= nil and PORTLESS[tostring(e.proto)] then return {} end
  local lo, hi = port_range(e)
  local out = {}
  for _, port in ipairs(cfg.admin_ports or {}) do
    if port >= lo and port <= hi then out[#out + 1] = report.num(port) end
  end
  return out
end

-- Why an exposure entry's target is restricted ("restricted security group
-- sg-1"), or nil.
local function restricted_target(ctx, e)
  local id = e.instance
  local inst = id and aws.either(ctx, "EC2Instance", id)
  if id and aws.is_restricted(ctx, "EC2Instance", id) then
    return "restricted instance " .. tostring(id)
  end
  local groups, seen = {}, {}
  local function add(g)
    if type(g) == "string" and not seen[g] then
      seen[g] = true
      groups[#groups + 1] = g
    end
  end
  for _, g in ipairs(aws.list(e.group_ids)) do add(g) end
  for _, g in ipairs(k8s.dig(inst, "aws", "SecurityGroups") or {}) do add(g.GroupId) end
  for _, g in ipairs(groups) do
    if aws.is_restricted(ctx, "EC2SecurityGroup", g) then
      return "restricted security group " .. g
    end
  end
  -- the ASG the instance belongs to (its aws:autoscaling:groupName tag, or
  -- the entry's group when that is an ASG's name)
  for _, asg in ipairs({ aws.tag(inst, "aws:autoscaling:groupName"), e.to }) do
    if type(asg) == "string" and aws.is_restricted(ctx, "AutoScalingGroup", asg) then
      return "restricted Auto Scaling group " .. asg
    end
  end
  local vpc = k8s.dig(inst, "aws", "VpcId")
  if vpc and aws.is_restricted(ctx, "EC2Vpc", vpc) then
    return "restricted VPC " .. tostring(vpc)
  end
  return nil
end

-- "tcp/22 from the internet (0.0.0.0/0) to web-asg (instance i-1; NOTE)"
local function exposure_text(e, note)
  local to = tostring(e.to or e.instance or "?")
  local paren = {}
  if e.instance and e.instance ~= e.to then paren[#paren + 1] = "instance " .. tostring(e.instance) end
  if note then paren[#paren + 1] = note end
  if #paren > 0 then to = to .. " (" .. table.concat(paren, "; ") .. ")" end
  local via = ""
  if e.cidr then via = " (" .. tostring(e.cidr) .. ")" end
  return string.format("%s from the internet%s to %s", proto_text(e), via, to)
end

-- The rules of a security group open to the internet (0.0.0.0/0, ::/0):
-- "tcp/5432" keys.
local function open_rules(doc)
  local out = {}
  for _, p in ipairs(type(doc) == "table" and doc.IpPermissions or {}) do
    local world = false
    for _, rg in ipairs(p.IpRanges or {}) do if rg.CidrIp == "0.0.0.0/0" then world = true end end
    for _, rg in ipairs(p.Ipv6Ranges or {}) do if rg.CidrIpv6 == "::/0" then world = true end end
    if world then
      local proto = tostring(p.IpProtocol)
      local key
      if proto == "-1" then key = "all traffic"
      elseif p.FromPort == p.ToPort then key = proto .. "/" .. tostring(p.FromPort)
      else key = proto .. "/" .. tostring(p.FromPort) .. "-" .. tostring(p.ToPort) end
      out[key] = true
    end
  end
  return out
end

-- A restricted security group opened to the internet: denied whether or
-- not an instance is reachable through it now (the next instance, or a
-- database using it, would be).
local function check_restricted_groups(ctx, r)
  for _, c in ipairs(ctx.diff or {}) do
    if c.kind == "EC2SecurityGroup" and c.after and aws.is_restricted(ctx, "EC2SecurityGroup", c.name) then
      local before, after = open_rules(c.before and c.before.aws), open_rules(c.after.aws)
      local new = {}
      for k in pairs(after) do if not before[k] then new[#new + 1] = k end end
      table.sort(new)
      if #new > 0 then
        r:deny("would open restricted security group %s (%s) to the internet: %s", tostring(c.name),
          tostring(c.after.aws.GroupName or c.name), table.concat(new, ", "))
      end
    end
  end
end

local function check_exposure(ctx, cfg, r)
  local others = {}
  for _, e in ipairs(k8s.dig(ctx.impact, "exposure", "added") or {}) do
    local why = restricted_target(ctx, e)
    local admin = admin_ports_opened(cfg, e)
    if why then
      r:deny("would open %s", exposure_text(e, why))
    elseif #admin > 0 then
      r:deny("would open %s, reaching administrative/database port%s %s", exposure_text(e),
        #admin > 1 and "s" or "", report.list(admin, 7))
    else
      others[#others + 1] = exposure_text(e)
    end
  end
  if #others == 1 then
    r:review("would open %s", others[1])
  elseif #others > 1 then
    r:review("would open %d new internet paths: %s", #others, report.list(others, 3))
  end
end

local HOW_TEXT = {
  policy = "through its bucket policy",
  acl = "through its ACL",
  ["public-access-block"] = "by lifting its public access block",
}

-- The public access block settings a bucket document holds that are on.
local BLOCK_FLAGS = { "BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets" }

local function blocks_lifted(before, after)
  local b = type(before) == "table" and before.PublicAccessBlock or nil
  if type(b) ~= "table" then return {} end
  local a = type(after) == "table" and after.PublicAccessBlock or nil
  local lifted = {}
  for _, f in ipairs(BLOCK_FLAGS) do
    if b[f] == true and (type(a) ~= "table" or a[f] ~= true) then lifted[#lifted + 1] = f end
  end
  return lifted
end

local function check_buckets(ctx, r)
  -- a restricted bucket's public access block is its last protection:
  -- lifting any of it is denied even when nothing is public yet (the next
  -- call could make it so unblocked)
  local made = {}
  for _, b in ipairs(k8s.dig(ctx.impact, "buckets_public", "made_public") or {}) do made[tostring(b.bucket)] = true end
  for _, c in ipairs(ctx.diff or {}) do
    if c.kind == "S3Bucket" and c.before and not made[tostring(c.name)] and
       aws.is_restricted(ctx, "S3Bucket", c.name) then
      local lifted = blocks_lifted(c.before.aws, c.after and c.after.aws)
      if #lifted > 0 then
        r:deny("would lift the public access block of restricted S3 bucket %s (%s)", tostring(c.name),
          table.concat(lifted, ", "))
      end
    end
  end
  for _, b in ipairs(k8s.dig(ctx.impact, "buckets_public", "made_public") or {}) do
    local how = HOW_TEXT[b.how] or ("(" .. tostring(b.how) .. ")")
    if b.restricted == true or aws.is_restricted(ctx, "S3Bucket", b.bucket) then
      r:deny("would make restricted S3 bucket %s public %s", tostring(b.bucket), how)
    else
      r:review("would make S3 bucket %s public %s", tostring(b.bucket), how)
    end
  end
end

return {
  name = "segmentation",
  description = "keeps restricted namespaces and AWS resources unreachable from outside and from other namespaces",
  reads = false,   -- judges what an action changes; a read changes nothing
  evaluate = function(ctx)
    local cfg = ctx.config.segmentation
    local r = report.new()
    check_pairs(ctx, r)
    check_services(ctx, cfg, r)
    check_ingresses(ctx, r)
    check_network_policies(ctx, r)
    check_exposure(ctx, cfg, r)
    check_restricted_groups(ctx, r)
    check_buckets(ctx, r)
    return r:verdict()
  end,
}
