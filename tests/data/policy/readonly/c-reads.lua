-- Everything a policy may do to read ctx works on the read-only views.
return { name = "c-reads", evaluate = function(ctx)
  local problems = {}
  local function check(cond, what) if not cond then problems[#problems + 1] = what end end
  local d = ctx.diff
  check(type(d) == "table", "type")
  check(#d == 2, "# of diff: " .. #d)
  local n = 0
  for i, c in ipairs(d) do n = n + 1; check(c == d[i], "ipairs value") end
  check(n == 2, "ipairs count")
  check(d[1] == d[1] and d[1].after == d[1].after, "the same view each time")
  local keys = {}
  for k, v in pairs(d[1].after.metadata) do keys[#keys + 1] = k .. "=" .. type(v) end
  table.sort(keys)
  check(table.concat(keys, ",") == "labels=table,name=string,namespace=string", "pairs: " .. table.concat(keys, ","))
  n = 0
  for k, v in pairs(d) do n = n + k end
  check(n == 3, "pairs over an array")
  check(next(ctx.impact) ~= nil and next(ctx.agent) == "name", "next")
  check(next({}) == nil, "next on a plain table")
  check(rawget(ctx.impact, "pods_disrupted") == 7, "rawget")
  check(rawlen(d) == 2 and rawlen("abc") == 3, "rawlen")
  check(getmetatable(ctx) == false and getmetatable(d[1].after) == false, "getmetatable")
  check(d[2].after == nil and d[2].op == "delete", "null is nil")
  check(#d[1].after.spec.ports == 2, "# with a trailing null")
  check(table.concat(ctx.config.nested.list, "+") == "x+y", "table.concat")
  check(select("#", table.unpack(ctx.config.nested.list)) == 2, "table.unpack")
  check(#ctx.impact == 0 and #ctx.action == 0, "# of an object")
  check(ctx.twin.get("Namespace", nil, "payments") == ctx.twin.get("Namespace", nil, "payments"),
    "twin.get answers once per evaluation")
  check(ctx.twin.get("Namespace", nil, "payments").metadata.labels["airlock.dev/tier"] == "critical",
    "twin.get")
  check(#ctx.twin.list("Pod", "shop", nil, "before") == 1, "twin.list")
  check(ctx.twin.count("Pod", "shop", nil, "before") == 1, "twin.count")
  check(ctx.twin.count("Pod", "shop", "app=none") == 0, "twin.count with a selector")
  check(ctx.history.totals(3600).pods_disrupted == 0, "history")
  check(math.type(ctx.impact.pods_disrupted) == "integer", "integers stay integers")
  local copy = {}
  for k, v in pairs(ctx.action) do copy[k] = v end
  copy.verb = "get"   -- a copy is the policy's own
  check(copy.verb == "get" and ctx.action.verb == "patch", "copies are writable")
  if #problems > 0 then return deny("%s", table.concat(problems, "; ")) end
  return allow()
end }
