return { name = "require", evaluate = function(ctx)
  local os = require("os")
  return allow()
end }
