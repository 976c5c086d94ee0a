return { name = "tampered", evaluate = function(ctx)
  local v = deny("no")
  v.verdict = "maybe"
  return v
end }
