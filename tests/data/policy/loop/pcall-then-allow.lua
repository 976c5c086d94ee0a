-- Catches the budget error once and answers allow.
return { name = "pcall-then-allow", evaluate = function(ctx)
  pcall(function() while true do end end)
  return allow()
end }
