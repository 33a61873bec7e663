"""Commitment (Savings Plan) coverage of a recommended node group: what to commit, at what price.

The recommended always-on baseline (nodes at the minimum load, at least ``min_size``) is
priced under a Compute Savings Plan at ``commitment_discount`` (default 28%, an assumption:
AWS's published Compute Savings Plans range for 1-year no-upfront on general-purpose
families, see https://aws.amazon.com/savingsplans/compute-pricing/); the rest stays on-demand
(or spot for spot groups). A Savings Plan does not cover spot, so a spot group's baseline is
not committed.
"""

from __future__ import annotations

from typing import Any

from kianax_capacity.recommend.packing import PricedCatalog
from kianax_capacity.units import HOURS_PER_MONTH

__all__ = ["COMMITMENT_ASSUMPTION", "DEFAULT_COMMITMENT_DISCOUNT", "commitment_split"]

#: Compute Savings Plan, 1 year, no upfront: an assumption, not a quote (see module docstring).
DEFAULT_COMMITMENT_DISCOUNT = 0.28
COMMITMENT_ASSUMPTION = (
    "Compute Savings Plan, 1-year no-upfront, {discount:.0%} off on-demand: an assumption from "
    "AWS's published Compute Savings Plans rates for general-purpose families "
    "(https://aws.amazon.com/savingsplans/compute-pricing/); set [aws] commitment_discount "
    "to your negotiated rate"
)


def commitment_split(
    instance_type: str,
    minimum_nodes: int,
    min_size: int,
    recommended_cost: float,
    capacity: str,
    catalog: PricedCatalog,
    discount: float,
) -> dict[str, Any]:
    assumption = COMMITMENT_ASSUMPTION.format(discount=discount)
    if capacity == "SPOT":
        return {
            "baseline_nodes": 0,
            "instance_type": instance_type,
            "discount": discount,
            "assumption": assumption,
            "on_demand_monthly_usd": 0.0,
            "committed_monthly_usd": 0.0,
            "monthly_savings_usd": 0.0,
            "rest_monthly_usd": round(recommended_cost, 2),
            "rest_capacity_type": "SPOT",
            "note": "a Savings Plan does not cover spot capacity; nothing to commit",
        }
    baseline = max(min_size, minimum_nodes)
    on_demand_hourly = catalog.node_hourly_usd(instance_type, "ON_DEMAND")
    baseline_cost = baseline * on_demand_hourly * HOURS_PER_MONTH
    committed = baseline_cost * (1.0 - discount)
    return {
        "baseline_nodes": baseline,
        "instance_type": instance_type,
        "discount": discount,
        "assumption": assumption,
        "on_demand_monthly_usd": round(baseline_cost, 2),
        "committed_monthly_usd": round(committed, 2),
        "monthly_savings_usd": round(baseline_cost - committed, 2),
        "rest_monthly_usd": round(max(recommended_cost - baseline_cost, 0.0), 2),
        "rest_capacity_type": "ON_DEMAND",
    }
