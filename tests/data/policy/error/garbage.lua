return { name = "garbage", evaluate = function(ctx)
  return 42
end }
