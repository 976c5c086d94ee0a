return { name = "p2", evaluate = function(ctx)
  local a = ctx.twin.get("Namespace", nil, "payments")
  if a ~= ctx.twin.get("Namespace", nil, "payments") then return deny("get not kept") end
  if ctx.twin.get("Namespace", nil, "nope") ~= nil then return deny("nope found") end
  if ctx.twin.get("Namespace", "", "payments") ~= a then return deny("ns \"\" is nil") end
  if #ctx.twin.list("Pod", "shop", nil) ~= ctx.twin.count("Pod", "shop", nil) then
    return deny("list and count disagree")
  end
  if ctx.twin.get("Namespace", nil, "payments", "before") == a then
    return deny("before and after share an answer")
  end
  ctx.history.totals(3600.0)
  return allow()
end }
