-- string.rep of "" loops n times in C; the answer is "" at once.
return { name = "rep-empty", evaluate = function(ctx)
  local s = string.rep("", 1 << 60)
  if s ~= "" then return deny("rep gave %q", s) end
  return allow()
end }
