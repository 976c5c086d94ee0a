-- Runs after the hogs: memory is back, a moderate allocation works.
return { name = "zz-after", evaluate = function(ctx)
  local s = string.rep("z", 8 * 1024 * 1024)
  if #s ~= 8 * 1024 * 1024 then return deny("short string") end
  return allow()
end }
