-- Runs after the loops: the budget is fresh for every policy.
return { name = "zz-after", evaluate = function(ctx)
  local n = 0
  for i = 1, 100000 do n = n + i end
  return allow()
end }
