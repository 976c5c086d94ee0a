return { name = "nil-index", evaluate = function(ctx)
  return ctx.impact.nothing.here > 1 and deny("x") or allow()
end }
