return { name = "debug-sethook", evaluate = function(ctx)
  debug.sethook()
  return allow()
end }
