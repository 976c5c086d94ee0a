-- lib/ns.lua: namespace classification from the airlock.dev labels.
-- A namespace counts as critical (or restricted) if it was labelled so
-- BEFORE the action OR is AFTER it: removing the label in the same action
-- that empties the namespace does not evade the rules, and neither does
-- adding workloads to a namespace being labelled. Label names and values
-- come from ctx.config.namespaces.
local M = {}

-- Answers are cached per ctx (each evaluation has its own ctx table).
local cache = setmetatable({}, { __mode = "k" })

local function labelled(ctx, ns, key, value)
  if type(ns) ~= "string" or ns == "" then return false end
  local per_ctx = cache[ctx]
  if per_ctx == nil then
    per_ctx = {}
    cache[ctx] = per_ctx
  end
  local id = key .. "=" .. value .. "@" .. ns
  if per_ctx[id] == nil then
    per_ctx[id] = false
    for _, when in ipairs({ "before", "after" }) do
      local obj = ctx.twin.get("Namespace", nil, ns, when)
      if lib.k8s.label(obj, key) == value then
        per_ctx[id] = true
        break
      end
    end
  end
  return per_ctx[id]
end

function M.is_critical(ctx, ns)
  local c = ctx.config.namespaces
  return labelled(ctx, ns, c.tier_label, c.critical_value)
end

function M.is_restricted(ctx, ns)
  local c = ctx.config.namespaces
  return labelled(ctx, ns, c.restricted_label, c.restricted_value)
end

-- The namespace of a reachability group: "payments/api" -> "payments";
-- "outside" -> nil.
function M.of_group(group)
  if group == nil or group == "outside" then return nil end
  return group:match("^([^/]+)/") or group
end

return M
