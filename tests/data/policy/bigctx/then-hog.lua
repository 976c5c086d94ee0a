-- The ctx read above does not shrink this policy's own 32 MiB either
-- (string.rep of 14 MiB needs 28: its buffer, then the string).
return { name = "then-hog", evaluate = function(ctx)
  local s = string.rep("h", 14 * 1024 * 1024)
  return allow()
end }
