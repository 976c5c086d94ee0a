-- table.move over a range of nils of 2^40 elements.
return { name = "move-huge", evaluate = function(ctx)
  table.move({}, 1, 1 << 40, 1, {})
  return allow()
end }
