return { name = "table-grow", evaluate = function(ctx)
  local t, i = {}, 0
  while true do
    i = i + 1
    t[i] = string.rep("y", 200) .. i
  end
end }
