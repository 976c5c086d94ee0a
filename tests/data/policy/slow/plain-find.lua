-- A plain search whose needle almost matches at every position.
return { name = "plain-find", evaluate = function(ctx)
  local s = string.rep("a", 4000000)
  local needle = string.rep("a", 100000) .. "b"
  return s:find(needle, 1, true) and deny("found") or allow()
end }
