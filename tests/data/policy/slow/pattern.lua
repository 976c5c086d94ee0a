-- A pattern that backtracks polynomially on a long subject of one letter.
return { name = "pattern", evaluate = function(ctx)
  local s = string.rep("a", 100000)
  if s:find(".-.-.-.-b") then return deny("found") end
  return allow()
end }
