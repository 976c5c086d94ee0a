-- Keeps ctx in a global and reads it in the next evaluation, where the JSON
-- under it is gone: a part nobody read is refused, not read from freed memory.
return { name = "e-keep", evaluate = function(ctx)
  if kept ~= nil then
    local name = kept.diff[2].before.metadata.name
    return deny("read a kept ctx: %s", tostring(name))
  end
  kept = ctx
  return allow()
end }
