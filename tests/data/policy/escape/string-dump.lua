return { name = "string-dump", evaluate = function(ctx)
  local code = string.dump(function() end)
  return allow()
end }
