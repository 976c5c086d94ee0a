-- Catches the out-of-memory error and answers allow: still exhausted.
return { name = "pcall-memory", evaluate = function(ctx)
  local ok = pcall(string.rep, "x", 1e9)
  return allow()
end }
