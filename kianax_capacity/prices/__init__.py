"""kianax_capacity.prices."""
