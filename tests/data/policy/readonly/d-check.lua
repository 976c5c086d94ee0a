-- Runs after the writers: it sees ctx exactly as the caller sent it.
return { name = "d-check", evaluate = function(ctx)
  local problems = {}
  local function check(cond, what) if not cond then problems[#problems + 1] = what end end
  check(ctx.diff[1].after.metadata.name == "web", "diff[1].after.metadata.name")
  check(ctx.diff[1].after.metadata.labels.app == "web", "diff[1].after.metadata.labels")
  check(ctx.diff[1].after.spec ~= nil, "diff[1].after.spec")
  check(#ctx.diff == 2 and ctx.diff[3] == nil, "diff length")
  check(ctx.impact.pods_disrupted == 7, "impact")
  check(ctx.action.verb == "patch", "action")
  check(ctx.config.limit == 10, "config")
  check(table.concat(ctx.config.nested.list, "+") == "x+y", "config list")
  check(type(ctx.twin.get) == "function", "twin.get")
  check(ctx.twin.get("Namespace", nil, "payments").metadata.labels["airlock.dev/tier"] == "critical",
    "twin answer")
  check(ctx.history.totals(3600).pods_disrupted == 0, "history answer")
  check(getmetatable(ctx.impact) == false, "metatable")
  if #problems > 0 then return deny("changed: %s", table.concat(problems, ", ")) end
  return allow()
end }
