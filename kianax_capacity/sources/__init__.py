"""kianax_capacity.sources."""
