"""kianax_capacity.recommenders."""
