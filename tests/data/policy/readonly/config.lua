return { limit = 10, nested = { list = { "x", "y" } } }
