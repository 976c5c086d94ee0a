-- Writes into a diff record's object: refused, and a policy error.
return { name = "a-write-diff", evaluate = function(ctx)
  ctx.diff[1].after.metadata.name = "changed"
  return allow()
end }
