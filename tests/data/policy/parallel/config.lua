return { marker = "same sources" }
