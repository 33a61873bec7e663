"""The reason and evidence of a node-group row, built from the choice's own numbers."""

from __future__ import annotations

from typing import Any

import numpy as np

from kianax_capacity.prices.credits import credit_spec
from kianax_capacity.recommendations import NodeGroupSettings
from kianax_capacity.recommenders.autoscaler import (
    replay_autoscaler,
)
from kianax_capacity.recommenders.autoscaler import step_hours as _step_hours
from kianax_capacity.recommenders.grouploads import GroupLoad
from kianax_capacity.recommenders.nodegroup_choice import (
    Choice,
    Current,
    GroupContext,
    autoscaler_settings,
    replay_within_budget,
)
from kianax_capacity.recommenders.packing import (
    PackingResult,
    eks_allocatable,
)
from kianax_capacity.units import GIB

__all__ = [
    "autoscaler_evidence",
    "candidate_table",
    "credit_reason",
    "effective_evidence",
    "karpenter_limits",
    "packing_summary",
    "ready_share",
    "reason_for",
    "spot_evidence",
]


def autoscaler_evidence(ctx: GroupContext, current: Current, choice: Choice) -> dict[str, Any]:
    """Today's group replayed through the autoscaler beside what was observed, and the choice's."""
    if current.karpenter:
        return {"replayed": False, "note": "Karpenter provisions and consolidates: not replayed"}
    today = choice.current_type_candidate
    if choice.best.replay is None and today is not None and not replay_within_budget(ctx, [today]):
        return {
            "replayed": False,
            "note": f"{len(ctx.load.pod_table)} pods over {len(ctx.load.times)} instants on up to "
            f"{today.peak.nodes} nodes is past the replay's budget: node counts from packing",
        }
    spec = today.spec if today is not None else ctx.catalog.spec(current.types[0])
    settings = autoscaler_settings(
        ctx.config,
        current.settings.min_size or 0,
        current.settings.max_size or current.observed_max,
    )
    replay = replay_autoscaler(
        ctx.current_load.pod_table,
        ctx.current_load.times,
        eks_allocatable(spec),
        ctx.current_load.overhead,
        settings,
        pdb_budgets=ctx.pdb_budgets,
    )
    hours = _step_hours(ctx.current_load.times)
    observed = float((ctx.current_load.nodes * hours).sum())
    error = (replay.node_hours - observed) / observed * 100 if observed else None
    best = choice.best.replay
    return {
        "replayed": True,
        "settings": {
            "scale_down_utilization_threshold": settings.scale_down_utilization_threshold,
            "scale_down_unneeded_seconds": settings.scale_down_unneeded_seconds,
            "scale_down_delay_after_add_seconds": settings.scale_down_delay_after_add_seconds,
            "node_provision_seconds": settings.node_provision_seconds,
        },
        "current": {
            "instance_type": spec.instance_type,
            "min_size": settings.min_size,
            "max_size": settings.max_size,
            "node_hours_replayed": round(replay.node_hours, 1),
            "node_hours_observed": round(observed, 1),
            "error_percent": None if error is None else round(error, 1),
            "pending_pod_minutes": round(replay.pending_pod_minutes, 1),
            "scale_ups": replay.scale_ups,
            "scale_downs": replay.scale_downs,
            "scale_downs_blocked_by_pdb": replay.scale_downs_blocked_by_pdb,
        },
        "recommended": None
        if best is None
        else {
            "instance_type": best.instance_type,
            "node_hours": round(best.node_hours, 1),
            "nodes_avg": round(best.nodes_avg, 2),
            "pending_pod_minutes": round(best.pending_pod_minutes, 1),
            "scale_ups": best.scale_ups,
            "scale_downs": best.scale_downs,
            "scale_downs_blocked_by_pdb": best.scale_downs_blocked_by_pdb,
        },
    }


def karpenter_limits(choice: Choice) -> dict[str, Any]:
    spec = choice.best.spec
    nodes = choice.max_size
    return {
        "instance_types": [c.spec.instance_type for c in choice.chosen],
        "limits": {"cpu": nodes * spec.vcpu, "memory_bytes": nodes * spec.memory_bytes},
        "note": (
            "a Karpenter NodePool has no min/max size: Karpenter launches nodes for pending pods "
            "and consolidates under-used ones; set its instance-type requirement and spec.limits"
        ),
    }


def reason_for(ctx: GroupContext, current: Current, choice: Choice, list_cost: float) -> str:
    load, best = ctx.load, choice.best
    peak = choice.peak_index
    reason = (
        f"peak requests {float(load.cpu_cores[peak]):.2f} cores / "
        f"{float(load.memory_bytes[peak]) / GIB:.1f} GiB in {int(load.pods[peak])} pods "
        f"(+{load.overhead.pods} DaemonSet pods per node) pack onto {best.peak.nodes} x "
        f"{best.spec.instance_type} (binding: {best.peak.binding_resource or 'none'}); typical "
        f"load on {best.typical.nodes}; today {current.nodes_avg:.1f} x "
        f"{'/'.join(current.types)} on average"
    )
    reason += "; " + credit_reason(current, choice, list_cost)
    if best.replay is not None:
        reason += (
            f"; the cluster autoscaler replayed on {best.spec.instance_type} "
            f"(min {choice.min_size}, max {choice.max_size}, scale-down under "
            f"{ctx.config.scale_down_utilization_threshold:.0%} for "
            f"{ctx.config.scale_down_unneeded_seconds / 60:.0f} min) keeps "
            f"{best.replay.nodes_avg:.2f} nodes on average, "
            f"{best.replay.pending_pod_minutes:.0f} pending-pod minutes"
        )
    if current.pricing_capacity == "SPOT":
        pools = ", ".join(
            f"{c.spec.instance_type} ({c.interruption or 'unknown'})" for c in choice.chosen
        )
        reason += f"; spot diversified over {len(choice.chosen)} low-interruption type(s): {pools}"
        if len(current.types) == 1:
            reason += f"; today a single-type spot group ({current.types[0]}): one pool"
    if current.karpenter:
        limits = karpenter_limits(choice)["limits"]
        reason += (
            f"; Karpenter NodePool: no managed-group min/max applies (Karpenter provisions for "
            f"pending pods and consolidates), so none is recommended; set the NodePool's "
            f"instance types to {'/'.join(c.spec.instance_type for c in choice.chosen)} and "
            f"spec.limits to cpu {limits['cpu']}, memory {limits['memory_bytes'] / GIB:.0f}Gi"
        )
    return reason


def credit_reason(current: Current, choice: Choice, list_cost: float) -> str:
    """How CPU credits entered the choice, with the dollars (list prices)."""
    best, surplus = choice.best, current.surplus
    parts = []
    if surplus.mode is None:
        parts.append("no burstable nodes today")
    elif surplus.monthly_usd is None:
        parts.append(f"surplus credits unknown ({surplus.reason})")
    elif surplus.mode == "standard":
        parts.append(f"today: {surplus.reason}")
    else:
        parts.append(
            f"today's nodes run at {(surplus.mean_utilisation or 0):.0%} CPU against a "
            f"{(surplus.baseline_per_vcpu or 0):.0%} baseline: ${surplus.monthly_usd:,.2f}/month "
            f"of surplus credits on top of ${current.list_monthly:,.2f} list"
        )
    total = list_cost + best.surplus_monthly
    if best.surplus.monthly_usd is None:
        parts.append(
            f"{best.spec.instance_type}: ${list_cost:,.2f} list, surplus credits not included"
        )
    elif credit_spec(best.spec.instance_type) is None:
        parts.append(
            f"{best.spec.instance_type} is not burstable: ${total:,.2f}/month with no credits"
        )
    else:
        parts.append(
            f"{best.spec.instance_type}: ${list_cost:,.2f} list + "
            f"${best.surplus_monthly:,.2f} surplus = ${total:,.2f}/month"
        )
    today = choice.current_type_candidate
    if today is not None and today.spec.instance_type != best.spec.instance_type:
        parts.append(
            f"vs {today.spec.instance_type} resized: ${today.list_monthly:,.2f} list + "
            f"${today.surplus_monthly:,.2f} surplus = ${today.monthly:,.2f}"
        )
    return "; ".join(parts)


def packing_summary(result: PackingResult, load: GroupLoad, index: int) -> dict[str, Any]:
    return {
        "at": load.times[index].to_pydatetime(),
        "cpu_request_cores": round(float(load.cpu_cores[index]), 4),
        "memory_request_bytes": int(load.memory_bytes[index]),
        "pods": int(load.pods[index]),
        "nodes": result.nodes,
        "binding_resource": result.binding_resource,
        "cpu_utilisation": round(result.cpu_utilisation, 3),
        "memory_utilisation": round(result.memory_utilisation, 3),
    }


def ready_share(load: GroupLoad, index: int, ready: set[tuple[str, str, str]]) -> float:
    running = load.running_at(index)
    total = float(running["cpu"].sum())
    if total <= 0:
        return 0.0
    keys = list(zip(running["namespace"], running["kind"], running["workload"], strict=True))
    mask = np.array([(str(n), str(k), str(w)) in ready for n, k, w in keys])
    return round(float(running["cpu"].to_numpy()[mask].sum()) / total, 3)


def candidate_table(choice: Choice) -> list[dict[str, Any]]:
    """Every candidate packed, cheapest first, with the parts of its monthly cost."""
    return [
        {
            "instance_type": c.spec.instance_type,
            "nodes_avg": round(c.nodes_avg, 2),
            "nodes_typical": c.typical.nodes,
            "nodes_peak": c.peak.nodes,
            "list_monthly_cost_usd": round(c.list_monthly, 2),
            "burstable_surplus_usd": None
            if c.surplus.monthly_usd is None
            else round(c.surplus.monthly_usd, 2),
            "monthly_cost_usd": round(c.monthly, 2),
            "throttled_core_hours_monthly": round(c.surplus.throttled_core_hours_monthly, 1),
            "fits_all": c.peak.fits_all,
            "nodes_from": "autoscaler replay" if c.replay is not None else "packing",
            "pending_pod_minutes": None
            if c.replay is None
            else round(c.replay.pending_pod_minutes, 1),
        }
        for c in sorted(choice.candidates, key=lambda c: c.monthly)
    ]


def effective_evidence(
    ctx: GroupContext, current: NodeGroupSettings, recommended: NodeGroupSettings
) -> dict[str, Any]:
    """List and effective side by side, and where the effective rates came from."""
    if ctx.rate is None:
        return {
            "cost_basis": "list",
            "note": "no billed data for this group: every dollar is at list price (give "
            "[aws] cur_manifest with the eks:nodegroup-name tag activated for effective rates)",
        }
    saving = None
    if (
        current.effective_monthly_cost_usd is not None
        and recommended.effective_monthly_cost_usd is not None
    ):
        saving = round(
            current.effective_monthly_cost_usd - recommended.effective_monthly_cost_usd, 2
        )
    return {
        "cost_basis": "list and effective",
        "rates": ctx.rate.summary(),
        "current_effective_monthly_usd": current.effective_monthly_cost_usd,
        "recommended_effective_monthly_usd": recommended.effective_monthly_cost_usd,
        "monthly_savings_effective_usd": saving,
    }


def spot_evidence(ctx: GroupContext, current: Current, choice: Choice) -> dict[str, Any] | None:
    """A spot group's pools: interruption frequency and price of each type, today and advised.

    The interruption ranges are the Spot Instance Advisor's (embedded, dated); the prices are
    spot price history medians with ``--prices aws``, else on-demand less the Advisor's
    savings. One type is one pool: its interruptions or a capacity shortage stop the group.
    """
    if current.pricing_capacity != "SPOT":
        return None
    catalog = ctx.catalog
    live = getattr(catalog, "source", "embedded") == "aws"

    def pool(instance_type: str) -> dict[str, Any]:
        price = catalog.price(instance_type)
        return {
            "instance_type": instance_type,
            "interruption_range": price.interruption_range,
            "spot_hourly_usd": None
            if price.spot_hourly_usd is None
            else round(price.spot_hourly_usd, 5),
            "savings_percent": None
            if price.spot_savings_percent is None
            else round(price.spot_savings_percent, 1),
        }

    out: dict[str, Any] = {
        "price_source": "DescribeSpotPriceHistory (median over 7 days)"
        if live
        else "Spot Instance Advisor savings off on-demand (embedded, dated)",
        "interruption_source": "Spot Instance Advisor (embedded, dated)",
        "current_pools": [pool(t) for t in current.types],
        "recommended_pools": [pool(c.spec.instance_type) for c in choice.chosen],
    }
    if len(current.types) == 1:
        only = out["current_pools"][0]
        out["warning"] = (
            f"single-type spot group: {only['instance_type']} "
            f"(interruption {only['interruption_range'] or 'unknown'}) is one spot pool, whose "
            f"interruptions or capacity shortage stop the group; diversify over "
            f"{', '.join(c.spec.instance_type for c in choice.chosen)} of the same shape"
        )
    return out
