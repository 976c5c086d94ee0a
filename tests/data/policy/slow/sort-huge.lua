-- table.sort without a comparison function on a table claiming 2^40 elements.
return { name = "sort-huge", evaluate = function(ctx)
  local t = setmetatable({}, { __len = function() return 1 << 40 end })
  table.sort(t)
  return allow()
end }
