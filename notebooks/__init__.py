"""Parameterised notebooks shipped with the package (top-level notebooks/ folder in the checkout)."""
