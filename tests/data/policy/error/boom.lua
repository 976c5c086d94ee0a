return { name = "boom", evaluate = function(ctx)
  local x = ctx.action.verb
  error("boom: cannot judge " .. x)
end }
