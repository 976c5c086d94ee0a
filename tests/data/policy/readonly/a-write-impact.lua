return { name = "a-write-impact", evaluate = function(ctx)
  ctx.impact.pods_disrupted = 0
  return allow()
end }
