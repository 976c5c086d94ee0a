-- A plain table is not a verdict, even with the right fields.
return { name = "forged", evaluate = function(ctx)
  return { verdict = "allow", reason = "trust me" }
end }
