-- lib/report.lua: collecting a policy's findings and formatting numbers.
--
--   local r = lib.report.new()
--   r:deny("would disrupt %d pods at once (limit %d)", n, limit)
--   r:review("...")
--   return r:verdict()   -- deny with every denial, else review, else allow
local M = {}
local Report = {}
Report.__index = Report

function M.new()
  return setmetatable({ denials = {}, reviews = {}, seen = {} }, Report)
end

-- Adds a finding once (the same text from the instant and the settled
-- state, say, is reported once).
local function add(self, list, fmt, ...)
  local text = string.format(fmt, ...)
  if not self.seen[text] then
    self.seen[text] = true
    list[#list + 1] = text
  end
end

function Report:deny(fmt, ...) add(self, self.denials, fmt, ...) end
function Report:review(fmt, ...) add(self, self.reviews, fmt, ...) end

function Report:verdict()
  if #self.denials > 0 then return deny("%s", table.concat(self.denials, "; ")) end
  if #self.reviews > 0 then return review("%s", table.concat(self.reviews, "; ")) end
  return allow()
end

-- 0.333 -> "33%"
function M.pct(fraction)
  return string.format("%d%%", math.floor(fraction * 100 + 0.5))
end

-- Money per hour, two decimals: 1.6 -> "1.60"
function M.money(x)
  return string.format("%.2f", x)
end

-- A number for a message: integers without ".0", others as given.
function M.num(x)
  if math.type(x) == "float" and x == math.floor(x) and math.abs(x) < 2^53 then
    return string.format("%d", x)
  end
  return tostring(x)
end

-- {"a", "b", "c"} -> "a, b, c"; more than `max` items end with "and N more".
function M.list(items, max)
  max = max or 5
  if #items <= max then return table.concat(items, ", ") end
  local head = table.move(items, 1, max, 1, {})
  return string.format("%s and %d more", table.concat(head, ", "), #items - max)
end

-- A number from converted JSON, 0 when absent.
function M.n(x)
  return tonumber(x) or 0
end

return M
