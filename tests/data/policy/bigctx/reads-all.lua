-- Reads every string of a ctx larger than the 32 MiB evaluate budget:
-- converting ctx is not charged to the policy.
return { name = "reads-all", evaluate = function(ctx)
  local n = 0
  for _, c in ipairs(ctx.diff) do n = n + #c.after.data.blob end
  if n < 40 * 1024 * 1024 then return deny("read only %d bytes", n) end
  return allow()
end }
