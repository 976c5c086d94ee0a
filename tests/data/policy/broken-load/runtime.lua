-- fails while loading, at line 3
local cfg = nil
local x = cfg.threshold
return { name = "runtime", evaluate = function(ctx) return allow() end }
