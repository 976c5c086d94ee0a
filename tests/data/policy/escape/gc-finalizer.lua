-- A finalizer would run later, outside this policy's budgets.
return { name = "gc-finalizer", evaluate = function(ctx)
  setmetatable({}, { __gc = function() while true do end end })
  return allow()
end }
