return { name = "nothing", evaluate = function(ctx) end }
