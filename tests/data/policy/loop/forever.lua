return { name = "forever", evaluate = function(ctx)
  while true do end
end }
