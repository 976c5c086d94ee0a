-- Asks the twin once; the test's view holds the answer until the other
-- evaluation has asked too, so two evaluations can only both finish if
-- they run at the same time (see test_policy: evaluations_run_in_parallel).
-- The config value proves each state was built from the same sources.
return { name = "meet", evaluate = function(ctx)
  local o = ctx.twin.get("Namespace", nil, ctx.action.name)
  if o == nil then return deny("%s not found", ctx.action.name) end
  if ctx.config.marker ~= "same sources" then return deny("config differs") end
  return allow()
end }
