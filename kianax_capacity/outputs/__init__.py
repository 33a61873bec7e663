"""kianax_capacity.outputs."""
