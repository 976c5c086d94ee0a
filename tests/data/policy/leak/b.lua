return { name = "b", evaluate = function(ctx)
  local problems = {}
  local function check(cond, what) if not cond then problems[#problems + 1] = what end end
  check(shared_secret == nil, "global from a")
  check(leaked_at_eval == nil, "global set during a's evaluate")
  check(string.upper("x") == "X", "string.upper")
  check(table.insert ~= nil, "table.insert")
  check(math.pi > 3.14, "math.pi")
  check(ctx.impact.pods_disrupted == 7, "ctx.impact")
  check(ctx.config.limit == 10, "ctx.config")
  check(ctx.action.verb == "delete", "ctx.action")
  check(lib.util.answer == 42 and lib.util.double(2) == 4, "lib.util")
  if #problems > 0 then return deny("leaked: %s", table.concat(problems, ", ")) end
  return allow()
end }
