return { name = "io-open", evaluate = function(ctx)
  local f = io.open("/etc/passwd")
  return allow()
end }
