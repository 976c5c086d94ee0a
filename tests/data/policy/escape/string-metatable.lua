-- Reaching the shared string table through the string metatable would let
-- one policy change string functions for all.
return { name = "string-metatable", evaluate = function(ctx)
  getmetatable("").__index.format = function() return "forged" end
  return allow()
end }
