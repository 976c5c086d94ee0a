local M = {}
M.answer = 42
function M.double(x) return 2 * x end
return M
