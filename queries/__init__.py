"""PromQL templates shipped with the package (top-level queries/ folder in the checkout)."""
