"""kianax_capacity.recommend."""
