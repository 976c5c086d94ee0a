-- Ordinary patterns on a large text pass the guards and give Lua's answers.
return { name = "ordinary", evaluate = function(ctx)
  local words = {}
  for i = 1, 20000 do words[#words + 1] = "key" .. i .. "=value" .. i end
  local text = table.concat(words, "  ") .. " password = hunter2"
  local secret = text:match("password%s*=%s*(%S+)")
  local spaces = select(2, text:gsub("%s+", " "))
  local pairs_seen = 0
  for k, v in text:gmatch("(%w+)=(%w+)") do pairs_seen = pairs_seen + 1 end
  local at = text:find("key19999=", 1, true)
  local pct = tonumber(("75%"):match("^(%d+)%%$"))
  if secret ~= "hunter2" or spaces ~= 20002 or pairs_seen ~= 20000 or not at or pct ~= 75 then
    return deny("secret %s spaces %d pairs %d at %s pct %s", tostring(secret), spaces,
                pairs_seen, tostring(at), tostring(pct))
  end
  return allow()
end }
