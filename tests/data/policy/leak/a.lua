-- Tries to leave traces for b: a global, a changed library, a changed lib
-- module. (Writing into ctx is a policy error of its own: see readonly/.)
shared_secret = "from a"
string.upper = function() return "hijacked" end
table.insert = nil
math.pi = 3
local util = lib.util
return { name = "a", evaluate = function(ctx)
  leaked_at_eval = true
  local ok = pcall(function() util.answer = 1 end)
  if ok then return deny("lib.util is writable") end
  ok = pcall(function() lib.extra = 1 end)
  if ok then return deny("lib is writable") end
  rawset(lib, "util", { answer = 0 })   -- changes only a's own view of lib
  return allow()
end }
