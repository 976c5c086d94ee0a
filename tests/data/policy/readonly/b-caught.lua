-- Tries every way to change ctx, catching each error: every attempt must
-- fail, and having tried is still a policy error (deny), as with budgets.
return { name = "b-caught", evaluate = function(ctx)
  local ns = ctx.twin.get("Namespace", nil, "payments")
  local attempts = {
    function() ctx.impact = {} end,
    function() ctx.action.verb = "get" end,
    function() ctx.diff[1].after.metadata.labels.app = "other" end,
    function() ctx.diff[3] = {} end,
    function() rawset(ctx.impact, "pods_disrupted", 0) end,
    function() rawset(ctx.diff[1].after, "spec", {}) end,
    function() table.insert(ctx.diff, {}) end,
    function() table.remove(ctx.diff) end,
    function() table.sort(ctx.config.nested.list, function(a, b) return a > b end) end,
    function() table.move({ "z" }, 1, 1, 1, ctx.config.nested.list) end,
    function() setmetatable(ctx.impact, nil) end,
    function() ctx.config.limit = 1 end,
    function() ctx.twin.get = function() return nil end end,
    function() ns.metadata.labels["airlock.dev/tier"] = "standard" end,
    function() ctx.history.totals(3600).pods_disrupted = 1000 end,
  }
  for i, f in ipairs(attempts) do
    local ok, err = pcall(f)
    if ok then return deny("attempt %d succeeded", i) end
    if not tostring(err):find("read-only", 1, true) then
      return deny("attempt %d failed oddly: %s", i, tostring(err))
    end
  end
  return allow()
end }
