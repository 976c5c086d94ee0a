return {
  name = "syntax",
  evaluate = function(ctx) return allow( end,
}
