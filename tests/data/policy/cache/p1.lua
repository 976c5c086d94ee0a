-- Asks the twin the same things twice; p2 asks them again.
return { name = "p1", evaluate = function(ctx)
  for _ = 1, 2 do
    ctx.twin.get("Namespace", nil, "payments")
    ctx.twin.get("Namespace", nil, "nope")
    ctx.twin.list("Pod", "shop", nil)
    ctx.twin.count("Pod", "shop", nil)
    ctx.history.totals(3600)
  end
  return allow()
end }
