-- Runs last: the escapes above changed nothing it can see.
return { name = "zz-check", evaluate = function(ctx)
  if string.format("%d", 1) ~= "1" or ("%d"):format(2) ~= "2" then
    return deny("string.format was tampered with")
  end
  if os ~= nil or io ~= nil or debug ~= nil or require ~= nil or load ~= nil
      or collectgarbage ~= nil or dofile ~= nil or loadfile ~= nil or package ~= nil
      or coroutine ~= nil or string.dump ~= nil then
    return deny("a forbidden library is reachable")
  end
  return allow()
end }
