"""Reference data shipped inside the package (prices, specs, schema), each file dated."""
