"""Commitments: effective rates of what is already committed, and what to commit after a change.

**Effective rates** (:func:`effective_rates`): from the billed node-hours of a CUR 2.0 export
(:func:`kianax_capacity.sources.aws_costs.cur_node_rates`), per node group the amortized cost
of its on-demand-priced hours over their public on-demand cost, and the part a Savings Plan or
Reserved Instance covers. :func:`effective_monthly` prices a shape at those rates: the
commitment is paid whether or not the hours are there, a Compute Savings Plan follows the
hours to any family, a Reserved Instance only within its family, and surplus CPU credits are
never covered.

**New commitments** (:func:`commitment_split`):

The recommended always-on baseline (nodes at the minimum load, at least ``min_size``) is
priced under a Compute Savings Plan at ``commitment_discount`` (default 28%, an assumption:
AWS's published Compute Savings Plans range for 1-year no-upfront on general-purpose
families, see https://aws.amazon.com/savingsplans/compute-pricing/); the rest stays on-demand
(or spot for spot groups). A Savings Plan does not cover spot, so a spot group's baseline is
not committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kianax_capacity.recommenders.packing import PricedCatalog
from kianax_capacity.units import HOURS_PER_MONTH

__all__ = [
    "COMMITMENT_ASSUMPTION",
    "DEFAULT_COMMITMENT_DISCOUNT",
    "EffectiveRate",
    "commitment_split",
    "effective_monthly",
    "effective_rates",
]

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
    *,
    existing: EffectiveRate | None = None,
    node_counts: np.ndarray | None = None,
) -> dict[str, Any]:
    """What to commit for the recommended shape: its always-on baseline, less what is committed.

    The baseline is the recommended group's (after the change), so nothing is committed for
    capacity the change removes. ``existing`` is the group's billed commitment (CUR), whose
    list-price coverage is subtracted; ``node_counts`` (the autoscaler replay of the
    recommended shape) gives the expected utilisation of the whole commitment.
    """
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
    already = 0.0 if existing is None else existing.covered_list_monthly_usd(instance_type)
    extra = _existing_commitment(existing, already, baseline_cost, on_demand_hourly, node_counts)
    baseline_cost = max(baseline_cost - already, 0.0)
    committed = baseline_cost * (1.0 - discount)
    return {
        **extra,
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


def _existing_commitment(
    existing: EffectiveRate | None,
    already: float,
    baseline_cost: float,
    hourly: float,
    node_counts: np.ndarray | None,
) -> dict[str, Any]:
    """The existing commitment beside the new baseline, and how much of the two would be used."""
    total = max(baseline_cost, already)
    out: dict[str, Any] = {"existing_commitment_list_monthly_usd": round(already, 2)}
    if node_counts is not None and len(node_counts) and total > 0:
        committed_hourly = total / HOURS_PER_MONTH
        used = np.minimum(np.asarray(node_counts, dtype=float) * hourly, committed_hourly)
        out["expected_utilisation"] = round(float(used.mean() / committed_hourly), 3)
    if existing is not None and already > baseline_cost + 0.005:
        out["note"] = (
            f"the commitment billed today covers ${already:,.2f}/month at list, more than the "
            f"recommended baseline of ${baseline_cost:,.2f}: add nothing, and expect it "
            f"{out.get('expected_utilisation', 0):.0%} used by this group after the change"
        )
    return out


@dataclass(frozen=True)
class EffectiveRate:
    """What a node group's node-hours cost as billed, per month (730 h) of the billed period.

    ``*_list_monthly_usd`` are at public on-demand prices, ``*_amortized_monthly_usd`` as
    amortized (Savings Plan effective cost, Reserved Instance effective cost, unblended
    otherwise). Spot hours and CPU credits are kept apart: no commitment covers them.
    """

    node_group: str
    list_monthly_usd: float
    amortized_monthly_usd: float
    savings_plan_list_monthly_usd: float
    savings_plan_amortized_monthly_usd: float
    reserved_list_monthly_usd: float
    reserved_amortized_monthly_usd: float
    reserved_families: tuple[str, ...]
    spot_amortized_monthly_usd: float
    cpu_credits_billed_monthly_usd: float
    unused_commitment_monthly_usd: float  # account-wide, Savings Plan recurring fee unused
    period_hours: float
    source: str = "cur"

    @property
    def ratio(self) -> float:
        """Amortized over list for the on-demand-priced hours (1.0 with nothing covered)."""
        return self.amortized_monthly_usd / self.list_monthly_usd if self.list_monthly_usd else 1.0

    def covered_list_monthly_usd(self, instance_type: str) -> float:
        """List-price hours the commitments would still cover on ``instance_type``."""
        family = instance_type.split(".", 1)[0]
        reserved = self.reserved_list_monthly_usd if family in self.reserved_families else 0.0
        return self.savings_plan_list_monthly_usd + reserved

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ratio": round(self.ratio, 4),
            "list_monthly_usd": round(self.list_monthly_usd, 2),
            "amortized_monthly_usd": round(self.amortized_monthly_usd, 2),
            "savings_plan_covered_list_monthly_usd": round(self.savings_plan_list_monthly_usd, 2),
            "savings_plan_amortized_monthly_usd": round(self.savings_plan_amortized_monthly_usd, 2),
            "reserved_covered_list_monthly_usd": round(self.reserved_list_monthly_usd, 2),
            "reserved_families": list(self.reserved_families),
            "cpu_credits_billed_monthly_usd": round(self.cpu_credits_billed_monthly_usd, 2),
            "account_unused_commitment_monthly_usd": round(self.unused_commitment_monthly_usd, 2),
            "billed_period_hours": round(self.period_hours, 1),
        }


def effective_rates(rates: pd.DataFrame) -> dict[str, EffectiveRate]:
    """Per node group, the effective rate of its node-hours (from ``cur_node_rates``)."""
    if rates.empty:
        return {}
    start = pd.to_datetime(rates["period_start"], utc=True).min()
    end = pd.to_datetime(rates["period_end"], utc=True).max()
    hours = max((end - start).total_seconds() / 3600.0, 1.0)
    scale = HOURS_PER_MONTH / hours
    fees = rates[rates["purchase_option"] == "Commitment"]
    unused = float(fees["amortized_usd"].sum()) * scale
    out: dict[str, EffectiveRate] = {}
    for group, lines in rates[rates["purchase_option"] != "Commitment"].groupby("node_group"):
        priced = lines[lines["purchase_option"].isin(["OnDemand", "SavingsPlan", "Reserved"])]
        priced = priced[priced["line_item_type"] != "CPUCredits"]
        plan = priced[priced["purchase_option"] == "SavingsPlan"]
        reserved = priced[priced["purchase_option"] == "Reserved"]
        out[str(group)] = EffectiveRate(
            node_group=str(group),
            list_monthly_usd=float(priced["public_on_demand_usd"].sum()) * scale,
            amortized_monthly_usd=float(priced["amortized_usd"].sum()) * scale,
            savings_plan_list_monthly_usd=float(plan["public_on_demand_usd"].sum()) * scale,
            savings_plan_amortized_monthly_usd=float(plan["amortized_usd"].sum()) * scale,
            reserved_list_monthly_usd=float(reserved["public_on_demand_usd"].sum()) * scale,
            reserved_amortized_monthly_usd=float(reserved["amortized_usd"].sum()) * scale,
            reserved_families=tuple(
                sorted({str(t).split(".", 1)[0] for t in reserved["instance_type"].dropna()})
            ),
            spot_amortized_monthly_usd=float(
                lines.loc[lines["purchase_option"] == "Spot", "amortized_usd"].sum()
            )
            * scale,
            cpu_credits_billed_monthly_usd=float(
                lines.loc[lines["line_item_type"] == "CPUCredits", "amortized_usd"].sum()
            )
            * scale,
            unused_commitment_monthly_usd=unused,
            period_hours=hours,
        )
    return out


def effective_monthly(
    rate: EffectiveRate,
    instance_type: str,
    list_monthly: float,
    surplus_monthly: float,
    *,
    current: bool,
) -> float:
    """A shape's monthly cost at the billed rates.

    Today's shape: its list node-hours at the group's amortized/list ratio, plus surplus
    credits. Another shape: the commitments are still paid (in full, at their amortized cost)
    and cover list hours up to what they covered, where they still apply (a Savings Plan on any
    type, a Reserved Instance in its family); the rest is at list; plus surplus credits.
    """
    if current:
        return list_monthly * rate.ratio + surplus_monthly
    covered = rate.covered_list_monthly_usd(instance_type)
    family = instance_type.split(".", 1)[0]
    paid = rate.savings_plan_amortized_monthly_usd + rate.reserved_amortized_monthly_usd
    if family not in rate.reserved_families:
        covered = rate.savings_plan_list_monthly_usd
    return paid + max(list_monthly - covered, 0.0) + surplus_monthly
