return { name = "string-rep", evaluate = function(ctx)
  local s = string.rep("x", 1e9)
  return allow()
end }
