-- privilege: no action may hand out more power than it had.
--   deny    a RoleBinding or ClusterRoleBinding (created, or its subjects or
--           role changed) to an admin role (cluster-admin), or to a Role or
--           ClusterRole granting all verbs on all resources, the escalate,
--           bind or impersonate verbs, or read access to Secrets; a Role or
--           ClusterRole newly granting those (a ClusterRole's grants include
--           those of the ClusterRoles its aggregationRule selects); a pod
--           template created or changed (direct changes) that is privileged,
--           shares the host's network, PID or IPC namespace, mounts a
--           hostPath or adds a dangerous capability (SYS_ADMIN, NET_ADMIN,
--           SYS_MODULE, ALL; in any letter case, as the runtime upper-cases
--           them); removing or changing a Namespace's airlock.dev/tier or
--           airlock.dev/restricted label; minting a ServiceAccount's token
--           (serviceaccounts/token) unless config lists it in token_requests
-- On AWS (impact.iam_grants, the diff; absent is empty):
--   deny    a principal newly granted admin (* on *), a managed policy in
--           admin_policies (AdministratorAccess) attached or granting,
--           iam:PassRole on * (passrole_star), iam:CreateAccessKey or
--           iam:UpdateAssumeRolePolicy over other principals (over_others),
--           or a trust policy letting anyone (Principal *) assume a role
--           (trust_public); removing or changing the airlock.dev/tier or
--           airlock.dev/restricted tag of any AWS resource
local k8s, report, aws = lib.k8s, lib.report, lib.aws

-- The resources each dangerous verb acts on: "*" verbs on any of these
-- grant that verb. (Kubernetes RBAC semantics, not a threshold.)
local VERB_TARGETS = {
  escalate = { "roles", "clusterroles" },
  bind = { "roles", "clusterroles" },
  impersonate = { "users", "groups", "serviceaccounts", "uids", "userextras" },
}

local function grants_on(resources, targets)
  for _, res in ipairs(resources) do
    if res == "*" then return true end
    local base = res:match("^([^/]+)") or res
    for _, t in ipairs(targets) do
      if base == t then return true end
    end
  end
  return false
end

-- What a list of PolicyRules grants that is dangerous, as a set of phrases.
local function dangerous_grants(cfg, rules)
  local found = {}
  for _, rule in ipairs(rules or {}) do
    local verbs = k8s.set(rule.verbs)
    local resources = rule.resources or {}
    local all_resources = k8s.set(resources)["*"]
    if verbs["*"] and all_resources then
      found["all verbs on all resources"] = true
    end
    for _, v in ipairs(cfg.dangerous_verbs) do
      if verbs[v] or (verbs["*"] and grants_on(resources, VERB_TARGETS[v] or {})) then
        found["the " .. v .. " verb"] = true
      end
    end
    -- reading a Secret through RBAC is the read data-protection forbids
    if (verbs["*"] or verbs.get or verbs.list or verbs.watch)
        and grants_on(resources, cfg.secret_resources or {}) then
      found["read access to Secrets"] = true
    end
  end
  return found
end

-- The rules a Role or ClusterRole grants: its own, plus, for a ClusterRole
-- with an aggregationRule, those of every ClusterRole its selectors pick
-- (what Kubernetes' aggregation controller would copy into it; the twin
-- does not run that controller). role is the object; when "before"/"after".
local function effective_rules(ctx, kind, role, when)
  if role == nil then return nil end
  local selectors = kind == "ClusterRole" and k8s.dig(role, "aggregationRule", "clusterRoleSelectors")
  if not selectors or #selectors == 0 then return role.rules end
  local rules, name = {}, k8s.dig(role, "metadata", "name")
  for _, rule in ipairs(role.rules or {}) do rules[#rules + 1] = rule end
  for _, sel in ipairs(selectors) do
    local text = k8s.selector_text(sel)
    if text ~= nil then
      for _, other in ipairs(ctx.twin.list("ClusterRole", nil, text, when)) do
        if k8s.dig(other, "metadata", "name") ~= name then
          for _, rule in ipairs(other.rules or {}) do rules[#rules + 1] = rule end
        end
      end
    end
  end
  return rules
end

local function sorted_keys(set)
  local out = {}
  for k in pairs(set) do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- The rules of the role a binding refers to, after the action: from the diff
-- if the same action writes the role, else from the twin.
local function role_rules(ctx, role_kind, ns, name)
  local role_ns = role_kind == "Role" and ns or nil
  for _, c in ipairs(k8s.changes(ctx, { kind = role_kind })) do
    if c.name == name and (role_ns == nil or c.namespace == role_ns) then
      return effective_rules(ctx, role_kind, c.after, "after")
    end
  end
  return effective_rules(ctx, role_kind, ctx.twin.get(role_kind, role_ns, name, "after"), "after")
end

local function subjects_text(subjects)
  local out = {}
  for _, s in ipairs(subjects or {}) do
    out[#out + 1] = s.kind .. " " .. k8s.nsname(s.namespace, s.name)
  end
  if #out == 0 then return "no subjects" end
  return report.list(out, 3)
end

local function check_bindings(ctx, cfg, r)
  local admin = k8s.set(cfg.admin_roles)
  local binding_kinds = { RoleBinding = true, ClusterRoleBinding = true }
  for _, c in ipairs(k8s.changes(ctx, { kind = binding_kinds, op = { create = true, update = true } })) do
    local b = c.after
    local changed = b and (c.before == nil
      or not k8s.equal(c.before.subjects, b.subjects)
      or not k8s.equal(c.before.roleRef, b.roleRef))
    if changed then
      local ref = b.roleRef or {}
      local what = k8s.describe_change(c)
      local to = subjects_text(b.subjects)
      if ref.kind == "ClusterRole" and admin[ref.name] then
        r:deny("%s would grant %s to %s", what, ref.name, to)
      elseif ref.kind == "Role" or ref.kind == "ClusterRole" then
        local grants = sorted_keys(dangerous_grants(cfg, role_rules(ctx, ref.kind, c.namespace, ref.name)))
        if #grants > 0 then
          r:deny("%s would grant %s %s (%s) to %s", what, ref.kind, ref.name,
            table.concat(grants, ", "), to)
        end
      end
    end
  end
end

local function check_roles(ctx, cfg, r)
  local role_kinds = { Role = true, ClusterRole = true }
  for _, c in ipairs(k8s.changes(ctx, { kind = role_kinds, op = { create = true, update = true } })) do
    if c.after then
      local had = dangerous_grants(cfg, effective_rules(ctx, c.kind, c.before, "before"))
      local new = {}
      for g in pairs(dangerous_grants(cfg, effective_rules(ctx, c.kind, c.after, "after"))) do
        if not had[g] then new[g] = true end
      end
      new = sorted_keys(new)
      if #new > 0 then
        r:deny("%s would grant %s", k8s.describe_change(c), table.concat(new, ", "))
      end
    end
  end
end

-- Why a pod spec is privileged, as a list of phrases (empty if it is not).
local function privileged_reasons(cfg, spec)
  local out = {}
  for _, field in ipairs({ "hostNetwork", "hostPID", "hostIPC" }) do
    if spec[field] == true then out[#out + 1] = field end
  end
  for _, v in ipairs(spec.volumes or {}) do
    if v.hostPath then
      out[#out + 1] = string.format("hostPath volume %s (%s)", tostring(v.name),
        tostring(k8s.dig(v, "hostPath", "path")))
    end
  end
  local caps = k8s.set(cfg.dangerous_capabilities)
  for _, c in ipairs(k8s.containers(spec)) do
    local name = tostring(c.name)
    if k8s.dig(c, "securityContext", "privileged") == true then
      out[#out + 1] = "privileged container " .. name
    end
    for _, cap in ipairs(k8s.dig(c, "securityContext", "capabilities", "add") or {}) do
      -- the container runtime upper-cases names and adds CAP_ (containerd,
      -- CRI-O): sys_admin, CAP_SYS_ADMIN and SYS_ADMIN are one capability
      local bare = tostring(cap):upper():gsub("^CAP_", "")
      if caps[bare] then
        out[#out + 1] = string.format("container %s adds %s", name, bare)
      end
    end
  end
  return out
end

local function check_pod_templates(ctx, cfg, r)
  for _, c in ipairs(k8s.changes(ctx, { cause = "direct", op = { create = true, update = true } })) do
    local spec = k8s.pod_spec(c.kind, c.after)
    if spec and not (c.op == "update" and k8s.equal(spec, k8s.pod_spec(c.kind, c.before))) then
      local why = privileged_reasons(cfg, spec)
      if #why > 0 then
        r:deny("%s would run a privileged pod template: %s", k8s.describe_change(c),
          report.list(why))
      end
    end
  end
end

local function check_namespace_labels(ctx, r)
  local keys = { ctx.config.namespaces.tier_label, ctx.config.namespaces.restricted_label }
  for _, c in ipairs(k8s.changes(ctx, { kind = "Namespace", op = "update" })) do
    for _, key in ipairs(keys) do
      local was, now = k8s.label(c.before, key), k8s.label(c.after, key)
      if was ~= nil and now == nil then
        r:deny("would remove label %s=%s from Namespace %s", key, was, c.name)
      elseif was ~= nil and now ~= was then
        r:deny("would change label %s of Namespace %s from %s to %s", key, c.name, was, now)
      end
    end
  end
end

-- A token minted for a ServiceAccount (kubectl create token) carries the
-- account's power out of the cluster, to whoever holds it: refused unless
-- config lists the account ("NAMESPACE/NAME") in token_requests.
local function check_token_requests(ctx, cfg, r)
  local a = ctx.action
  if a.resource ~= "serviceaccounts" or a.subresource ~= "token" then return end
  local who = (a.namespace or "") .. "/" .. (a.name or "")
  for _, allowed in ipairs(cfg.token_requests or {}) do
    if allowed == who then return end
  end
  r:deny("would mint a token for ServiceAccount %s (its power, outside the cluster); list it in "
         .. "privilege.token_requests to allow it", who)
end

-- ---- AWS ----

-- The policy a policy ARN or a grant's via names: the last segment of
-- "arn:aws:iam::aws:policy/AdministratorAccess" or of "AttachRolePolicy
-- AdministratorAccess".
local function policy_name(arn)
  if type(arn) ~= "string" then return nil end
  return arn:match("([^/:%s]+)$")
end

-- Whether a grant's actions reach action on every resource. A NotAction
-- grant (its actions "*" but for not_actions, as PowerUserAccess) is not
-- everything, and does not reach an action its exceptions cover.
local function grants_on_star(g, action)
  for _, na in ipairs(aws.list(g.not_actions)) do
    if action == "*" or aws.wildcard_match(na, action) then return false end
  end
  local any = false
  for _, res in ipairs(aws.list(g.resources)) do
    if res == "*" then any = true end
  end
  if not any then return false end
  for _, a in ipairs(aws.list(g.actions)) do
    if aws.wildcard_match(a, action) then return true end
  end
  return false
end

local function check_iam_grants(ctx, cfg, r)
  local admin_policies = k8s.set(cfg.admin_policies)
  for _, g in ipairs(k8s.dig(ctx.impact, "iam_grants") or {}) do
    local who = tostring(g.principal)
    local via = g.via and (" (via " .. tostring(g.via) .. ")") or ""
    local found = {}
    if g.admin == true or grants_on_star(g, "*") then
      found[#found + 1] = "admin (* on *)"
    end
    local vname = policy_name(g.via)
    if admin_policies[vname] and g.admin ~= true then found[#found + 1] = vname end
    if #found == 0 and (g.passrole_star == true or grants_on_star(g, "iam:PassRole")) then
      found[#found + 1] = "iam:PassRole on *"
    end
    local over = aws.list(g.over_others)
    if #over > 0 then
      local names = {}
      for _, a in ipairs(over) do names[#names + 1] = tostring(a) end
      found[#found + 1] = report.list(names) .. " over other principals"
    end
    if #found > 0 then
      r:deny("would grant %s %s%s", who, table.concat(found, ", "), via)
    end
    if g.trust_public == true then
      r:deny("would let anyone (Principal *) assume %s through its trust policy", who)
    end
  end
  -- attaching an admin managed policy, whatever the twin made of it
  local a = ctx.action
  if aws.provider(a) == "aws" and a.service == "iam" and type(a.operation) == "string"
      and a.operation:match("^Attach%a*Policy$") then
    local input = a.input or {}
    local name = policy_name(input.PolicyArn)
    if admin_policies[name] then
      local to = input.RoleName and ("role/" .. tostring(input.RoleName))
        or input.UserName and ("user/" .. tostring(input.UserName))
        or input.GroupName and ("group/" .. tostring(input.GroupName)) or "a principal"
      r:deny("would attach %s to %s", name, to)
    end
  end
end

local function check_protection_tags(ctx, r)
  local keys = aws.protection_tags(ctx)
  for _, c in ipairs(k8s.changes(ctx, { op = "update" })) do
    if aws.is_kind(c.kind) then
      for _, k in ipairs(keys) do
        local was, now = aws.tag(c.before, k.key), aws.tag(c.after, k.key)
        if was ~= nil and now == nil then
          r:deny("would remove tag %s=%s from %s", k.key, tostring(was), aws.describe(c.kind, c.name))
        elseif was ~= nil and now ~= was then
          r:deny("would change tag %s of %s from %s to %s", k.key, aws.describe(c.kind, c.name),
            tostring(was), tostring(now))
        end
      end
    end
  end
end

return {
  name = "privilege",
  description = "stops grants of admin rights, privileged pods and removal of namespace and resource protections",
  reads = false,   -- judges what an action changes; a read changes nothing
  evaluate = function(ctx)
    local cfg = ctx.config.privilege
    local r = report.new()
    check_bindings(ctx, cfg, r)
    check_roles(ctx, cfg, r)
    check_pod_templates(ctx, cfg, r)
    check_namespace_labels(ctx, r)
    check_token_requests(ctx, cfg, r)
    check_iam_grants(ctx, cfg, r)
    check_protection_tags(ctx, r)
    return r:verdict()
  end,
}
