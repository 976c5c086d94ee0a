-- Catches whatever stops the copying, then answers allow.
return { name = "concat-pcall", evaluate = function(ctx)
  local t = ""
  for i = 1, 1000 do
    pcall(function() while true do t = t .. "xxxxxxxxxx" end end)
  end
  return allow()
end }
