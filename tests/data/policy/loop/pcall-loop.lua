-- Tries to swallow the budget error with pcall, over and over.
return { name = "pcall-loop", evaluate = function(ctx)
  while true do
    pcall(function() while true do end end)
  end
end }
