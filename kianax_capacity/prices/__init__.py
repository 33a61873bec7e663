"""Prices of EC2 capacity: the embedded offline catalog and live prices through boto3.

Import the live catalog from :mod:`kianax_capacity.sources.aws_prices` (it needs boto3); everything
re-exported here works offline.
"""

from kianax_capacity.prices.catalog import (
    CAPACITY_TYPES,
    CPU_CORE_HOUR_TO_GIB_HOUR_RATIO,
    EKS_CONTROL_PLANE_HOURLY_USD,
    EMBEDDED_AS_OF,
    EMBEDDED_REGION,
    SPOT_INTERRUPTION_RANGES,
    CapacityType,
    PriceCatalog,
    embedded_catalog,
    node_group_unit_prices,
    normalize_capacity_type,
    price_nodes,
)

__all__ = [
    "CAPACITY_TYPES",
    "CPU_CORE_HOUR_TO_GIB_HOUR_RATIO",
    "EKS_CONTROL_PLANE_HOURLY_USD",
    "EMBEDDED_AS_OF",
    "EMBEDDED_REGION",
    "SPOT_INTERRUPTION_RANGES",
    "CapacityType",
    "PriceCatalog",
    "embedded_catalog",
    "node_group_unit_prices",
    "normalize_capacity_type",
    "price_nodes",
]
