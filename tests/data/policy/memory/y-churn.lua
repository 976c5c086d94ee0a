-- Holds 20 MiB and churns through 150 MiB of short-lived 1 MiB strings,
-- after the hogs above have left the collector wherever they left it:
-- garbage is not a budget overrun, whatever the collector's state.
return { name = "y-churn", evaluate = function(ctx)
  local keep = {}
  for i = 1, 20 do keep[i] = string.rep(string.char(64 + i), 1024 * 1024) end
  local n = 0
  for i = 1, 150 do
    local s = ("c"):rep(1024 * 1024) .. i
    n = n + #s
  end
  return allow()
end }
