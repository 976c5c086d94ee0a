return { name = "other", evaluate = function(ctx) return allow() end }
