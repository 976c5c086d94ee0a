return { limit = 10 }
