return { name = "os-execute", evaluate = function(ctx)
  os.execute("touch /tmp/airlock-policy-escaped")
  return allow()
end }
