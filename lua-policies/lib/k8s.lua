-- lib/k8s.lua: reading Kubernetes objects and change records.
-- Every helper tolerates missing fields (nil in, nil or empty out), because
-- objects arrive as converted JSON where null members are simply absent.
-- Tables from ctx (and from ctx.twin) are read-only and shared by every
-- policy: helpers that build something return new tables, never edit theirs.
local M = {}

-- dig(t, "a", "b") is t.a.b, or nil as soon as a step is missing or not a table.
function M.dig(t, ...)
  for i = 1, select("#", ...) do
    if type(t) ~= "table" then return nil end
    t = t[select(i, ...)]
  end
  return t
end

-- "Kind/ns/name" for namespaced objects, "Kind/name" for cluster-scoped ones.
function M.ref(kind, ns, name)
  if ns ~= nil and ns ~= "" then
    return string.format("%s/%s/%s", kind, ns, name)
  end
  return string.format("%s/%s", kind, name)
end

-- "ns/name", or "name" for cluster-scoped objects.
function M.nsname(ns, name)
  if ns ~= nil and ns ~= "" then return ns .. "/" .. name end
  return name
end

-- "Kind ns/name" as a reason names an object, e.g. "Service payments/api".
function M.describe(kind, ns, name)
  return kind .. " " .. M.nsname(ns, name)
end

-- The same for a change record.
function M.describe_change(c)
  return M.describe(c.kind, c.namespace, c.name)
end

function M.label(obj, key)
  return M.dig(obj, "metadata", "labels", key)
end

-- {"a", "b"} -> {a = true, b = true}
function M.set(list)
  local s = {}
  for _, v in ipairs(list or {}) do s[v] = true end
  return s
end

-- Deep equality of two converted JSON values.
function M.equal(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not M.equal(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local READ_VERBS = { get = true, list = true, watch = true }

function M.is_read(action)
  return READ_VERBS[action and action.verb] == true
end

-- The diff records of ctx, filtered: changes(ctx, {kind=, op=, cause=, namespace=})
-- where each given field must match (op and kind may also be sets).
function M.changes(ctx, filter)
  local out = {}
  filter = filter or {}
  local function match(want, got)
    if want == nil then return true end
    if type(want) == "table" then return want[got] == true end
    return want == got
  end
  for _, c in ipairs(ctx.diff or {}) do
    if match(filter.kind, c.kind) and match(filter.op, c.op)
        and match(filter.cause, c.cause) and match(filter.namespace, c.namespace) then
      out[#out + 1] = c
    end
  end
  return out
end

-- Where each kind keeps its pod template's spec.
local POD_SPEC_PATH = {
  Pod = { "spec" },
  Deployment = { "spec", "template", "spec" },
  ReplicaSet = { "spec", "template", "spec" },
  StatefulSet = { "spec", "template", "spec" },
  DaemonSet = { "spec", "template", "spec" },
  Job = { "spec", "template", "spec" },
  CronJob = { "spec", "jobTemplate", "spec", "template", "spec" },
}

-- The pod spec an object of this kind runs, or nil (not a pod-running kind,
-- or no object).
function M.pod_spec(kind, obj)
  local path = POD_SPEC_PATH[kind]
  if path == nil or obj == nil then return nil end
  return M.dig(obj, table.unpack(path))
end

-- A LabelSelector ({matchLabels, matchExpressions}) as the kubectl-syntax
-- string ctx.twin.list takes ("" selects everything), or nil when an
-- expression uses an operator this does not know (the caller decides).
function M.selector_text(sel)
  local terms = {}
  local keys = {}
  for k in pairs(M.dig(sel, "matchLabels") or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do terms[#terms + 1] = k .. "=" .. tostring(sel.matchLabels[k]) end
  for _, e in ipairs(M.dig(sel, "matchExpressions") or {}) do
    local values = table.concat(e.values or {}, ",")
    if e.operator == "In" then
      terms[#terms + 1] = string.format("%s in (%s)", e.key, values)
    elseif e.operator == "NotIn" then
      terms[#terms + 1] = string.format("%s notin (%s)", e.key, values)
    elseif e.operator == "Exists" then
      terms[#terms + 1] = e.key
    elseif e.operator == "DoesNotExist" then
      terms[#terms + 1] = "!" .. e.key
    else
      return nil
    end
  end
  return table.concat(terms, ",")
end

-- Every container of a pod spec: containers, initContainers and
-- ephemeralContainers, as a list.
function M.containers(spec)
  local out = {}
  for _, field in ipairs({ "initContainers", "containers", "ephemeralContainers" }) do
    for _, c in ipairs(M.dig(spec, field) or {}) do out[#out + 1] = c end
  end
  return out
end

return M
