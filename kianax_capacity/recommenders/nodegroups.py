"""Node-group right-sizing by packing simulation, priced as AWS bills it, with commitments.

For each node group seen in the snapshot's nodes table:

1. **Load over the window** (:mod:`~kianax_capacity.recommenders.grouploads`): the requests of
   the group's workload pods (recommended requests where given) at the sample instants, with
   DaemonSets as per-node overhead. Three instants are taken: the **peak** (largest dominant
   share), the **typical** load (p50) and the **minimum** (the always-on baseline).
2. **Candidates.** t3, t3a, m6i, m7i, c6i, c7i and r6i sizes up to 16 vCPU (Graviton t4g, m7g,
   c7g too with ``allow_graviton``), plus the types the group runs today. A lower bound on each
   candidate's monthly cost prunes the list to the cheapest few before they are packed with
   :func:`~kianax_capacity.recommenders.packing.pack` (zone spread over the zones seen, HA minimum).
3. **Cost as billed.** List node-hours (on-demand, or spot for spot groups) **plus surplus CPU
   credits** for burstable types in unlimited mode (:mod:`~kianax_capacity.recommenders.burstable`):
   today's nodes are simulated one by one on their own CPU; a candidate on the group's CPU
   shared evenly over the nodes its requests need. ``monthly_cost_usd`` = list + surplus, and
   ``cost_basis`` says the prices are list prices. Standard-mode groups
   (``cpu_credits = "standard"``) pay no surplus; their throttling is reported as a risk and
   candidates that would be held at baseline are passed over when another fits.
4. **Choice.** The candidate that holds every pod at peak and costs least in total (list +
   surplus), so a group under sustained load moves off burstable types when that is cheaper;
   the reason gives both totals. Spot groups keep to low interruption ranges ("<5%",
   "5-10%") and are diversified with up to three more low-interruption types of the same vCPU
   count and similar memory (0.5-2x) that also hold the peak.
5. **Shape.** ``nodes_avg`` = the mean node count over ten instants at the mid-deciles of load
   (never below the HA minimum); ``min_size`` = the HA minimum (0 for groups that scale to
   zero) or the nodes at the window's minimum load, whichever is larger; ``max_size`` = 1.5 x
   nodes at peak (at least one more than peak). A **Karpenter NodePool** (nodes table
   ``provisioner == "karpenter"``) gets no min/max (Karpenter has none): its row names the
   instance types and ``spec.limits`` to set instead.
6. **Commitments** (:mod:`~kianax_capacity.recommenders.commitments`): the recommended baseline
   under a Compute Savings Plan at ``commitment_discount``; the split is in
   ``extra["commitment"]``.

All money is USD per month (730 h); CPU in cores, memory in bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from kianax_capacity.config import NodeGroupConfig
from kianax_capacity.errors import KianaxCapacityError
from kianax_capacity.prices.credits import credit_spec
from kianax_capacity.recommendations import NodeGroupRow, NodeGroupSettings, Resources
from kianax_capacity.recommenders.autoscaler import (
    pdb_budgets,
)
from kianax_capacity.recommenders.burstable import (
    NodeCpu,
    SurplusEstimate,
    default_system_allowance_cores,
    group_surplus,
    node_cpu,
)
from kianax_capacity.recommenders.commitments import (
    COMMITMENT_ASSUMPTION,
    DEFAULT_COMMITMENT_DISCOUNT,
    EffectiveRate,
    commitment_split,
    effective_monthly,
)
from kianax_capacity.recommenders.grouploads import (
    GroupLoad,
    alive_sum,
    evaluation_instants,
    group_loads,
    pod_requests,
)
from kianax_capacity.recommenders.inventory import pending_pods
from kianax_capacity.recommenders.nodegroup_choice import (
    CANDIDATE_FAMILIES,
    GRAVITON_FAMILIES,
    Choice,
    Current,
    GroupContext,
    GroupUsage,
    candidate_specs,
    choose,
    credit_mode,
    ha_minimum,
)
from kianax_capacity.recommenders.nodegroup_reasons import (
    autoscaler_evidence,
    candidate_table,
    effective_evidence,
    karpenter_limits,
    packing_summary,
    ready_share,
    reason_for,
    spot_evidence,
)
from kianax_capacity.recommenders.packing import (
    PricedCatalog,
)
from kianax_capacity.recommenders.spot import SpotAssessment, assess_spot
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.units import HOURS_PER_MONTH

__all__ = [
    "CANDIDATE_FAMILIES",
    "COMMITMENT_ASSUMPTION",
    "DEFAULT_COMMITMENT_DISCOUNT",
    "GRAVITON_FAMILIES",
    "GroupLoad",
    "alive_sum",
    "candidate_specs",
    "evaluation_instants",
    "group_loads",
    "pod_requests",
    "recommend_nodegroups",
]


def recommend_nodegroups(
    snapshot: Snapshot,
    catalog: PricedCatalog,
    *,
    new_requests: Mapping[tuple[str, str, str, str], Resources] | None = None,
    allow_graviton: bool = False,
    nodegroup_config: Mapping[str, NodeGroupConfig] | None = None,
    commitment_discount: float = DEFAULT_COMMITMENT_DISCOUNT,
    ha_min_nodes: int = 2,
    spot_overrides: Mapping[str, bool] | None = None,
    pending: pd.DataFrame | None = None,
    spot_assessments: Sequence[SpotAssessment] | None = None,
    effective_rates: Mapping[str, EffectiveRate] | None = None,
) -> tuple[NodeGroupRow, ...]:
    """Recommend instance types, autoscaler bounds and commitments for every node group.

    Args:
        snapshot: the snapshot (nodes, pods, containers, usage; node_usage when scraped).
        catalog: instance specs and prices.
        new_requests: container key -> recommended resources (from right-sizing rows:
            ``{row.key: row.recommended for row in rightsizing}``); current requests otherwise.
        allow_graviton: also consider arm64 types (t4g, m7g, c7g); only if images are multi-arch.
        nodegroup_config: ``[nodegroups.<name>]`` from the config: current min/max sizes,
            credit mode, system CPU allowance, autoscaler settings.
        commitment_discount: Savings Plan discount off on-demand (an assumption, 0..1).
        ha_min_nodes: fewest nodes a group that never scales to zero should keep.
        spot_overrides: config ``spot_overrides``, for ``spot_ready_request_share``.
        pending: ``pending_pods(snapshot)`` if already computed (else computed here).
        spot_assessments: ``assess_spot(snapshot, overrides=spot_overrides)`` if already
            computed (else computed here).
        effective_rates: node group -> billed rates
            (``effective_rates(cur_node_rates(...))``); with them every row also carries
            ``effective_monthly_cost_usd`` beside the list figure.

    Returns:
        One :class:`NodeGroupRow` per node group. ``current``/``recommended`` carry
        ``burstable_surplus_usd`` and ``list_monthly_cost_usd`` (``monthly_cost_usd`` is their
        sum, ``cost_basis`` says the prices are list prices); ``extra`` carries ``burstable``
        (the credit simulation), ``commitment`` (the split), ``commitment_monthly_savings_usd``,
        ``spot_share``, ``spot_ready_request_share``, ``peak``/``typical`` packing summaries,
        ``candidates`` and ``findings``.
    """
    nodegroup_config = nodegroup_config or {}
    if pending is None:
        pending = pending_pods(snapshot)
    loads = group_loads(snapshot, new_requests, pending=pending)
    # Today's group is replayed on today's requests, to compare with the nodes it ran.
    today = group_loads(snapshot, None, pending=pending) if new_requests else loads
    nodes = snapshot.table("nodes")
    start, end = snapshot.window
    window_hours = max((end - start).total_seconds() / 3600.0, 1e-9)
    if spot_assessments is None:
        spot_assessments = assess_spot(snapshot, overrides=spot_overrides)
    ready = {
        (a.namespace, a.kind, a.workload)
        for a in spot_assessments
        if a.ready and not a.already_on_spot
    }
    cpu = node_cpu(snapshot, _allowance(catalog, nodegroup_config))
    budgets = pdb_budgets(snapshot.table("workloads"))
    rows = []
    for name, load in loads.items():
        members = nodes[nodes["node_group"].astype(str) == name]
        config = nodegroup_config.get(name, NodeGroupConfig())
        context = GroupContext(
            load=load,
            current_load=today.get(name, load),
            members=members,
            catalog=catalog,
            config=config,
            window_hours=window_hours,
            allow_graviton=allow_graviton,
            discount=commitment_discount,
            ha_min_nodes=ha_min_nodes,
            spot_ready=ready,
            step_seconds=snapshot.step_seconds,
            cpu=cpu,
            usage=_group_usage(cpu, members, load, snapshot.step_seconds),
            pdb_budgets=budgets,
            rate=(effective_rates or {}).get(name),
        )
        rows.append(_recommend_group(context))
    return tuple(rows)


def _allowance(
    catalog: PricedCatalog, config: Mapping[str, NodeGroupConfig]
) -> Callable[[str, str], float]:
    def allowance(group: str, instance_type: str) -> float:
        configured = config.get(group, NodeGroupConfig()).system_cpu_allowance_cores
        if configured is not None:
            return float(configured)
        try:
            return default_system_allowance_cores(catalog.spec(instance_type).vcpu)
        except KianaxCapacityError:
            return default_system_allowance_cores(2)

    return allowance


def _group_usage(cpu: NodeCpu, members: pd.DataFrame, load: GroupLoad, step: int) -> GroupUsage:
    names = [str(n) for n in members["node"] if str(n) in set(cpu.nodes)]
    times = load.times
    if not names or not len(cpu.times) or not len(times):
        empty = np.zeros(len(times))
        return GroupUsage(empty, empty, False, step / 3600.0)
    rows = np.clip(
        np.searchsorted(cpu.times.as_unit("ns").asi8, times.as_unit("ns").asi8),
        0,
        len(cpu.times) - 1,
    )
    total = cpu.columns(names)[rows]
    index = {n: i for i, n in enumerate(cpu.nodes)}
    workload = cpu.workload_cores[:, [index[n] for n in names]][rows]
    running = ~np.isnan(total)
    allowance = np.array([cpu.allowance_cores[n] for n in names])[None, :] * running
    count = np.maximum(running.sum(axis=1), 1)
    fixed = (np.nansum(total, axis=1) - workload.sum(axis=1) - allowance.sum(axis=1)) / count
    stride = float(np.median(np.diff(times.as_unit("s").asi8))) if len(times) > 1 else step
    exporter = sum(cpu.source[n] == "node_usage" for n in names) > len(names) / 2
    return GroupUsage(workload.sum(axis=1), np.maximum(fixed, 0.0), exporter, stride / 3600.0)


def _current(ctx: GroupContext) -> Current:
    """Today's shape and what it cost: list node-hours plus the surplus credits they ran up."""
    members, load, config, catalog = ctx.members, ctx.load, ctx.config, ctx.catalog
    capacity_types = sorted({str(c).upper() for c in members["capacity_type"].dropna()})
    capacity = capacity_types[0] if len(capacity_types) == 1 else "MIXED"
    current_types = tuple(sorted({str(t) for t in members["instance_type"].dropna()}))
    hours = (
        (members["last_seen"] - members["first_seen"]).dt.total_seconds() + float(ctx.step_seconds)
    ).clip(lower=0) / 3600.0
    hourly = [
        catalog.node_hourly_usd(str(t), str(c).upper() if str(c).upper() == "SPOT" else "ON_DEMAND")
        for t, c in zip(members["instance_type"], members["capacity_type"], strict=True)
    ]
    list_monthly = (
        float((hours.to_numpy() * np.array(hourly)).sum()) * HOURS_PER_MONTH / ctx.window_hours
    )
    surplus = group_surplus(
        ctx.cpu,
        members,
        {t: credit_spec(t) for t in current_types},
        mode=credit_mode(config),
        step_hours=ctx.step_seconds / 3600.0,
        window_hours=ctx.window_hours,
    )
    nodes_avg = float(hours.sum()) / ctx.window_hours
    observed_min = int(load.nodes.min()) if len(load.nodes) else 0
    observed_max = int(load.nodes.max()) if len(load.nodes) else 0
    provisioners = (
        {str(p) for p in members["provisioner"].dropna()}
        if "provisioner" in members.columns
        else set()
    )
    karpenter = provisioners == {"karpenter"}
    settings = NodeGroupSettings(
        instance_types=tuple(config.instance_types) or current_types,
        capacity_type=capacity,
        nodes_avg=round(nodes_avg, 2),
        min_size=None
        if karpenter
        else (config.min_size if config.min_size is not None else observed_min),
        max_size=None
        if karpenter
        else (config.max_size if config.max_size is not None else observed_max),
        monthly_cost_usd=round(list_monthly + (surplus.monthly_usd or 0.0), 2),
        list_monthly_cost_usd=round(list_monthly, 2),
        burstable_surplus_usd=None
        if surplus.monthly_usd is None
        else round(surplus.monthly_usd, 2),
        cost_basis="list",
        effective_monthly_cost_usd=_effective(
            ctx, current_types[0] if current_types else "", capacity, list_monthly, surplus, True
        ),
    )
    return Current(
        settings=settings,
        types=current_types,
        capacity=capacity,
        pricing_capacity="SPOT" if capacity == "SPOT" else "ON_DEMAND",
        list_monthly=list_monthly,
        surplus=surplus,
        nodes_avg=nodes_avg,
        observed_min=observed_min,
        observed_max=observed_max,
        karpenter=karpenter,
    )


def _recommend_group(ctx: GroupContext) -> NodeGroupRow:
    current = _current(ctx)
    if ctx.load.pod_table.empty:
        return _idle_row(ctx, current)
    choice = choose(ctx, current)
    return _row(ctx, current, choice)


def _idle_row(ctx: GroupContext, current: Current) -> NodeGroupRow:
    ha_min = ha_minimum(ctx, current)
    cost = ha_min * _hourly(ctx.catalog, current.types, current.pricing_capacity) * HOURS_PER_MONTH
    return NodeGroupRow(
        name=ctx.load.name,
        current=current.settings,
        recommended=NodeGroupSettings(
            instance_types=current.settings.instance_types,
            capacity_type=current.capacity,
            nodes_avg=float(ha_min),
            min_size=None if current.karpenter else ha_min,
            max_size=None if current.karpenter else max(current.settings.max_size or 1, 1),
            monthly_cost_usd=round(cost, 2),
            list_monthly_cost_usd=round(cost, 2),
            burstable_surplus_usd=0.0,
            cost_basis="list",
        ),
        monthly_savings_usd=None,
        reason="no workload pods ran on this group in the window; keep it at its minimum",
        extra={"findings": [], "burstable": current.surplus.summary()},
    )


def _row(ctx: GroupContext, current: Current, choice: Choice) -> NodeGroupRow:
    """The row: settings and dollars from the choice, the reason and evidence from the same."""
    load, best = ctx.load, choice.best
    pricing_capacity = current.pricing_capacity
    list_cost = choice.nodes_avg * best.hourly_usd * HOURS_PER_MONTH
    surplus_cost = best.surplus.monthly_usd
    recommended_cost = list_cost + (surplus_cost or 0.0)
    recommended = NodeGroupSettings(
        instance_types=tuple(c.spec.instance_type for c in choice.chosen),
        capacity_type=current.capacity if current.capacity != "MIXED" else "ON_DEMAND",
        nodes_avg=round(choice.nodes_avg, 2),
        min_size=None if current.karpenter else choice.min_size,
        max_size=None if current.karpenter else choice.max_size,
        monthly_cost_usd=round(recommended_cost, 2),
        list_monthly_cost_usd=round(list_cost, 2),
        burstable_surplus_usd=None if surplus_cost is None else round(surplus_cost, 2),
        cost_basis="list",
        effective_monthly_cost_usd=_effective(
            ctx, best.spec.instance_type, current.capacity, list_cost, best.surplus, False
        ),
    )
    commitment = commitment_split(
        best.spec.instance_type,
        choice.minimum.nodes,
        choice.min_size,
        list_cost,
        pricing_capacity,
        ctx.catalog,
        ctx.discount,
        existing=ctx.rate,
        node_counts=None if best.replay is None else best.replay.nodes,
    )
    extra: dict[str, Any] = {
        "commitment": commitment,
        "spot_share": 1.0 if pricing_capacity == "SPOT" else 0.0,
        "spot_ready_request_share": ready_share(load, choice.peak_index, ctx.spot_ready),
        "zones": list(load.zones),
        "daemonset_overhead": {
            "cpu_cores": load.overhead.cpu_cores,
            "memory_bytes": load.overhead.memory_bytes,
            "pods": load.overhead.pods,
        },
        "peak": packing_summary(best.peak, load, choice.peak_index),
        "typical": packing_summary(best.typical, load, choice.typical_index),
        "interruption_ranges": {c.spec.instance_type: c.interruption for c in choice.chosen},
        "hourly_usd": {c.spec.instance_type: round(c.hourly_usd, 5) for c in choice.chosen},
        "current_observed_nodes": {"min": current.observed_min, "max": current.observed_max},
        "findings": list(choice.findings),
        "burstable": {
            "current": current.surplus.summary(),
            "recommended": best.surplus.summary(),
        },
        "provisioner": "karpenter" if current.karpenter else "managed",
        "candidates": candidate_table(choice),
        "autoscaler": autoscaler_evidence(ctx, current, choice),
        "effective": effective_evidence(ctx, current.settings, recommended),
    }
    spot = spot_evidence(ctx, current, choice)
    if spot is not None:
        extra["spot"] = spot  # its "warning" names a single-type group (also in the reason)
    if current.karpenter:
        extra["karpenter"] = karpenter_limits(choice)
    return NodeGroupRow(
        name=load.name,
        current=current.settings,
        recommended=recommended,
        monthly_savings_usd=round((current.settings.monthly_cost_usd or 0.0) - recommended_cost, 2),
        reason=reason_for(ctx, current, choice, list_cost),
        extra=extra,
        commitment_monthly_savings_usd=commitment["monthly_savings_usd"],
    )


def _effective(
    ctx: GroupContext,
    instance_type: str,
    capacity: str,
    list_monthly: float,
    surplus: SurplusEstimate,
    current: bool,
) -> float | None:
    """The shape's monthly cost at the group's billed rates; None without them, or for spot."""
    if ctx.rate is None or capacity != "ON_DEMAND":
        return None
    value = effective_monthly(
        ctx.rate, instance_type, list_monthly, surplus.monthly_usd or 0.0, current=current
    )
    return round(value, 2)


def _hourly(catalog: PricedCatalog, types: Sequence[str], capacity: str) -> float:
    return float(np.mean([catalog.node_hourly_usd(t, capacity) for t in types])) if types else 0.0
