-- Each step copies a growing string inside one VM instruction: the
-- instruction budget alone would let this run for minutes.
return { name = "concat", evaluate = function(ctx)
  local t = ""
  while true do t = t .. "xxxxxxxxxx" end
end }
