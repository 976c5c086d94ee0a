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
local k8s, ns = lib.k8s, lib.ns

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

return {
  name = "data-protection",
  description = "keeps Secrets unread and volumes in critical namespaces undeleted",
  evaluate = function(ctx)
    local cfg = ctx.config["data-protection"]
    local r = lib.report.new()
    check_secret_reads(ctx, cfg, r)
    check_volume_deletions(ctx, r)
    return r:verdict()
  end,
}
