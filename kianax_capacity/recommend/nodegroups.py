"""Node-group right-sizing by packing simulation, priced as AWS bills it, with commitments.

For each node group seen in the snapshot's nodes table:

1. **Load over the window** (:mod:`~kianax_capacity.recommend.grouploads`): the requests of
   the group's workload pods (recommended requests where given) at the sample instants, with
   DaemonSets as per-node overhead. Three instants are taken: the **peak** (largest dominant
   share), the **typical** load (p50) and the **minimum** (the always-on baseline).
2. **Candidates.** t3, t3a, m6i, m7i, c6i, c7i and r6i sizes up to 16 vCPU (Graviton t4g, m7g,
   c7g too with ``allow_graviton``), plus the types the group runs today. A lower bound on each
   candidate's monthly cost prunes the list to the cheapest few before they are packed with
   :func:`~kianax_capacity.recommend.packing.pack` (zone spread over the zones seen, HA minimum).
3. **Cost as billed.** List node-hours (on-demand, or spot for spot groups) **plus surplus CPU
   credits** for burstable types in unlimited mode (:mod:`~kianax_capacity.recommend.burstable`):
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
6. **Commitments** (:mod:`~kianax_capacity.recommend.commitments`): the recommended baseline
   under a Compute Savings Plan at ``commitment_discount``; the split is in
   ``extra["commitment"]``.

All money is USD per month (730 h); CPU in cores, memory in bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from kianax_capacity.config import NodeGroupConfig
from kianax_capacity.errors import KianaxCapacityError
from kianax_capacity.model import InstanceSpec
from kianax_capacity.prices.credits import CreditMode, credit_spec
from kianax_capacity.recommend.autoscaler import (
    AutoscalerSettings,
    ReplayResult,
    pdb_budgets,
    replay_autoscaler,
)
from kianax_capacity.recommend.autoscaler import step_hours as _step_hours
from kianax_capacity.recommend.burstable import (
    NOT_BURSTABLE,
    NodeCpu,
    SurplusEstimate,
    default_system_allowance_cores,
    group_surplus,
    node_cpu,
    pooled_surplus,
)
from kianax_capacity.recommend.commitments import (
    COMMITMENT_ASSUMPTION,
    DEFAULT_COMMITMENT_DISCOUNT,
    commitment_split,
)
from kianax_capacity.recommend.grouploads import (
    GroupLoad,
    alive_sum,
    evaluation_instants,
    group_loads,
    pod_requests,
)
from kianax_capacity.recommend.packing import (
    PackingResult,
    PackMemo,
    PodRequest,
    PricedCatalog,
    eks_allocatable,
    nodes_lower_bound,
    pack,
)
from kianax_capacity.recommend.spot import SpotAssessment, assess_spot
from kianax_capacity.recommendations import NodeGroupRow, NodeGroupSettings, Resources
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.units import GIB, HOURS_PER_MONTH

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

CANDIDATE_FAMILIES = ("t3", "t3a", "m6i", "m7i", "c6i", "c7i", "r6i")
GRAVITON_FAMILIES = ("t4g", "m7g", "c7g")
_MAX_CANDIDATE_VCPU = 16
_MIN_CANDIDATE_VCPU = 2
_MIN_CANDIDATE_MEMORY = 2 * GIB
_PACKED_CANDIDATES = 8
#: The cheapest fitting candidates (by packing) replayed through the autoscaler, plus today's.
_REPLAYED_CANDIDATES = 3
_LOW_INTERRUPTION = ("<5%", "5-10%")
_INTERRUPTION_ORDER = ("<5%", "5-10%", "10-15%", "15-20%", ">20%")
_DECILES = tuple((k + 0.5) / 10 for k in range(10))


def candidate_specs(
    catalog: PricedCatalog, *, allow_graviton: bool = False, include: Sequence[str] = ()
) -> tuple[InstanceSpec, ...]:
    """Candidate instance types: the families above, 2-16 vCPU and >= 2 GiB, plus ``include``."""
    families = CANDIDATE_FAMILIES + (GRAVITON_FAMILIES if allow_graviton else ())
    names = set(include)
    for instance_type in catalog.instance_types():
        family, _, size = instance_type.partition(".")
        if family in families and "metal" not in size:
            names.add(instance_type)
    specs = []
    for name in sorted(names):
        spec = catalog.spec(name)
        # Nodes under 2 vCPU / 2 GiB give most of themselves to kube-reserved and DaemonSets.
        sized = _MIN_CANDIDATE_VCPU <= spec.vcpu <= _MAX_CANDIDATE_VCPU
        if name in include or (sized and spec.memory_bytes >= _MIN_CANDIDATE_MEMORY):
            specs.append(spec)
    return tuple(specs)


@dataclass(frozen=True)
class _Candidate:
    spec: InstanceSpec
    hourly_usd: float
    typical: PackingResult
    peak: PackingResult
    minimum: PackingResult | None  # packed for the chosen type only (unless also a decile)
    interruption: str | None
    nodes_avg: float
    surplus: SurplusEstimate = NOT_BURSTABLE
    replay: ReplayResult | None = None  # the autoscaler replayed on this type, if it was
    min_size: int | None = None
    max_size: int | None = None

    @property
    def list_monthly(self) -> float:
        return self.nodes_avg * self.hourly_usd * HOURS_PER_MONTH

    @property
    def surplus_monthly(self) -> float:
        return self.surplus.monthly_usd or 0.0

    @property
    def monthly(self) -> float:
        """What the candidate would cost a month: list node-hours plus surplus credits."""
        return self.list_monthly + self.surplus_monthly


@dataclass(frozen=True)
class _GroupContext:
    """Everything one group's recommendation reads: its load, nodes, prices and settings."""

    load: GroupLoad
    members: pd.DataFrame
    catalog: PricedCatalog
    config: NodeGroupConfig
    window_hours: float
    allow_graviton: bool
    discount: float
    ha_min_nodes: int
    spot_ready: set[tuple[str, str, str]]
    step_seconds: int
    cpu: NodeCpu
    usage: _GroupUsage
    pdb_budgets: Mapping[tuple[str, str], tuple[float, float]]


@dataclass(frozen=True)
class _GroupUsage:
    """The group's CPU use on the load's instants, split so another node type can take it."""

    workload_cores: np.ndarray  # used by workload pods, all nodes together
    per_node_fixed_cores: np.ndarray  # DaemonSets (+ measured system CPU) per node
    from_node_exporter: bool
    step_hours: float


@dataclass(frozen=True)
class _Current:
    settings: NodeGroupSettings
    types: tuple[str, ...]
    capacity: str  # ON_DEMAND | SPOT | MIXED
    pricing_capacity: str  # ON_DEMAND | SPOT
    list_monthly: float
    surplus: SurplusEstimate
    nodes_avg: float
    observed_min: int
    observed_max: int
    karpenter: bool


@dataclass(frozen=True)
class _Choice:
    """The outcome of choosing a shape: what was packed, chosen, and why it won."""

    best: _Candidate
    chosen: tuple[_Candidate, ...]  # best first, then spot diversification
    candidates: tuple[_Candidate, ...]
    findings: tuple[str, ...]
    peak_index: int
    typical_index: int
    minimum: PackingResult
    nodes_avg: float
    min_size: int
    max_size: int
    current_type_candidate: _Candidate | None


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

    Returns:
        One :class:`NodeGroupRow` per node group. ``current``/``recommended`` carry
        ``burstable_surplus_usd`` and ``list_monthly_cost_usd`` (``monthly_cost_usd`` is their
        sum, ``cost_basis`` says the prices are list prices); ``extra`` carries ``burstable``
        (the credit simulation), ``commitment`` (the split), ``commitment_monthly_savings_usd``,
        ``spot_share``, ``spot_ready_request_share``, ``peak``/``typical`` packing summaries,
        ``candidates`` and ``findings``.
    """
    nodegroup_config = nodegroup_config or {}
    loads = group_loads(snapshot, new_requests, pending=pending)
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
        context = _GroupContext(
            load=load,
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


def _group_usage(cpu: NodeCpu, members: pd.DataFrame, load: GroupLoad, step: int) -> _GroupUsage:
    names = [str(n) for n in members["node"] if str(n) in set(cpu.nodes)]
    times = load.times
    if not names or not len(cpu.times) or not len(times):
        empty = np.zeros(len(times))
        return _GroupUsage(empty, empty, False, step / 3600.0)
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
    return _GroupUsage(workload.sum(axis=1), np.maximum(fixed, 0.0), exporter, stride / 3600.0)


def _credit_mode(config: NodeGroupConfig) -> CreditMode | None:
    return (
        "standard"
        if config.cpu_credits == "standard"
        else ("unlimited" if config.cpu_credits == "unlimited" else None)
    )


def _current(ctx: _GroupContext) -> _Current:
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
        mode=_credit_mode(config),
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
    )
    return _Current(
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


def _recommend_group(ctx: _GroupContext) -> NodeGroupRow:
    current = _current(ctx)
    if ctx.load.pod_table.empty:
        return _idle_row(ctx, current)
    choice = _choose(ctx, current)
    return _row(ctx, current, choice)


def _ha_min(ctx: _GroupContext, current: _Current) -> int:
    scales_to_zero = (current.settings.min_size or 0) == 0 and not current.karpenter
    if current.karpenter:
        scales_to_zero = current.observed_min == 0
    return 0 if scales_to_zero else ctx.ha_min_nodes


def _idle_row(ctx: _GroupContext, current: _Current) -> NodeGroupRow:
    ha_min = _ha_min(ctx, current)
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


def _choose(ctx: _GroupContext, current: _Current) -> _Choice:
    """Pack the candidates at the load's key instants and pick the cheapest in total cost."""
    load, catalog = ctx.load, ctx.catalog
    pricing_capacity = current.pricing_capacity
    ha_min = _ha_min(ctx, current)
    reference = eks_allocatable(catalog.spec(current.types[0]))
    share = np.maximum(
        load.cpu_cores / max(reference.cpu_cores, 1e-9),
        load.memory_bytes / max(reference.memory_bytes, 1),
    )
    order = np.argsort(share, kind="stable")
    peak_index = int(order[-1])
    typical_index = int(order[round(0.5 * (len(order) - 1))])
    minimum_index = int(order[0])
    # Ten instants at the mid-deciles of load: their mean node count approximates the time
    # average an autoscaler following the load would keep.
    decile_indices = [int(order[round(q * (len(order) - 1))]) for q in _DECILES]
    instants = sorted({peak_index, typical_index, minimum_index, *decile_indices})
    pods_at = {index: _pods(load.running_at(index)) for index in instants}
    # Types with the same allocatable (t3.medium, t3a.medium) share a first-fit run per instant.
    memos = {index: PackMemo() for index in instants}
    # The minimum load matters for the chosen type only (its min_size and commitment).
    packed_instants = sorted({peak_index, typical_index, *decile_indices})
    mode = _credit_mode(ctx.config)

    def pack_at(index: int, spec: InstanceSpec, min_nodes: int = ha_min) -> PackingResult:
        return pack(
            pods_at[index],
            spec,
            overhead=load.overhead,
            zones=load.zones,
            min_nodes=min_nodes,
            memo=memos[index],
        )

    specs = candidate_specs(catalog, allow_graviton=ctx.allow_graviton, include=current.types)

    def bound(spec: InstanceSpec) -> tuple[float, float]:
        allocatable = eks_allocatable(spec)
        hourly = catalog.node_hourly_usd(spec.instance_type, pricing_capacity)
        mean_nodes = float(
            np.mean(
                [
                    max(ha_min, nodes_lower_bound(pods_at[i], allocatable, load.overhead))
                    for i in decile_indices
                ]
            )
        )
        surplus = _candidate_surplus(ctx, spec, ha_min, mode).monthly_usd or 0.0
        return mean_nodes * hourly * HOURS_PER_MONTH + surplus, hourly

    # Cheapest by lower bound (with surplus credits) first, so only a few are packed.
    ranked = sorted(specs, key=bound)
    if pricing_capacity == "SPOT":
        calm_specs = [
            s for s in ranked if catalog.interruption_range(s.instance_type) in _LOW_INTERRUPTION
        ]
        ranked = calm_specs + [s for s in ranked if s not in calm_specs]

    def evaluate(spec: InstanceSpec) -> _Candidate:
        packed = {index: pack_at(index, spec) for index in packed_instants}
        return _Candidate(
            spec=spec,
            hourly_usd=catalog.node_hourly_usd(spec.instance_type, pricing_capacity),
            typical=packed[typical_index],
            peak=packed[peak_index],
            minimum=packed.get(minimum_index),
            interruption=catalog.interruption_range(spec.instance_type),
            nodes_avg=float(np.mean([packed[i].nodes for i in decile_indices])),
            surplus=_candidate_surplus(ctx, spec, ha_min, mode),
        )

    shortlist = ranked[:_PACKED_CANDIDATES]
    # Today's type is always packed, so the reason can compare against it.
    shortlist += [s for s in ranked if s.instance_type in current.types and s not in shortlist]
    candidates = [evaluate(spec) for spec in shortlist]
    fitting = [c for c in candidates if c.peak.fits_all]
    findings: list[str] = []
    if not fitting:
        # Every shortlisted type leaves a pod out: widen to all candidates, else name the pods.
        wider = [s for s in ranked if s not in shortlist and pack_at(peak_index, s, 0).fits_all]
        fitting = [evaluate(spec) for spec in wider[:_PACKED_CANDIDATES]]
        candidates.extend(fitting)
        if not fitting:
            largest = max(candidates, key=lambda c: (c.spec.vcpu, c.spec.memory_bytes))
            findings.extend(largest.peak.findings)
            findings.append("no candidate instance type holds every pod at peak")
            fitting = [min(candidates, key=lambda c: len(c.peak.unplaced))]
    if pricing_capacity == "SPOT":
        calm = [c for c in fitting if c.interruption in _LOW_INTERRUPTION]
        fitting = calm or fitting
    if mode == "standard":
        # Standard-mode credits cap CPU at the baseline: prefer types that serve the CPU.
        served = [c for c in fitting if c.surplus.throttled_core_hours_monthly <= 0.0]
        fitting = served or fitting

    # The cheapest few that fit are replayed through the cluster autoscaler: their node-hours
    # (and so their list cost and surplus) are what the autoscaler would keep, not ideal packing.
    replay_for = sorted(fitting, key=lambda c: c.monthly)[:_REPLAYED_CANDIDATES]
    replay_for += [
        c for c in fitting if c.spec.instance_type in current.types and c not in replay_for
    ]
    if not current.karpenter:
        replayed = {
            id(c): _with_replay(ctx, c, ha_min, pack_at(minimum_index, c.spec).nodes, mode)
            for c in replay_for
        }
        candidates = [replayed.get(id(c), c) for c in candidates]
        # Like with like: the choice is among the replayed (the cheapest by packing).
        fitting = [replayed[id(c)] for c in fitting if id(c) in replayed]
    best = min(
        fitting,
        key=lambda c: (
            round(c.monthly, 6),
            c.hourly_usd,
            c.peak.nodes,
            c.spec.instance_type not in current.types,
            c.spec.instance_type,
        ),
    )
    chosen = [best]
    if pricing_capacity == "SPOT":
        chosen += [
            evaluate(spec) for spec in _spot_alternatives(ctx, best, specs, pack_at, peak_index)
        ]
    nodes_avg = max(best.nodes_avg, float(ha_min))
    minimum = best.minimum or pack_at(minimum_index, best.spec)
    min_size, max_size = _bounds(best, ha_min, minimum.nodes)
    today = [c for c in candidates if c.spec.instance_type in current.types]
    return _Choice(
        best=best,
        chosen=tuple(chosen),
        candidates=tuple(candidates),
        findings=tuple(findings),
        peak_index=peak_index,
        typical_index=typical_index,
        minimum=minimum,
        nodes_avg=nodes_avg,
        min_size=min_size,
        max_size=max_size,
        current_type_candidate=today[0] if today else None,
    )


def _bounds(candidate: _Candidate, ha_min: int, minimum_nodes: int) -> tuple[int, int]:
    """min_size: the HA minimum or the nodes at minimum load; max_size: 1.5 x the peak's nodes."""
    min_size = max(ha_min, minimum_nodes) if ha_min else 0
    peak = candidate.peak.nodes
    return min_size, max(peak + 1, math.ceil(peak * 1.5), min_size + 1)


def _with_replay(
    ctx: _GroupContext,
    candidate: _Candidate,
    ha_min: int,
    minimum_nodes: int,
    mode: CreditMode | None,
) -> _Candidate:
    """The candidate as the cluster autoscaler would run it with the recommended bounds."""
    min_size, max_size = _bounds(candidate, ha_min, minimum_nodes)
    replay = replay_autoscaler(
        ctx.load.pod_table,
        ctx.load.times,
        eks_allocatable(candidate.spec),
        ctx.load.overhead,
        _settings(ctx.config, min_size, max_size),
        pdb_budgets=ctx.pdb_budgets,
    )
    surplus = _candidate_surplus(ctx, candidate.spec, ha_min, mode, node_counts=replay.nodes)
    return replace(
        candidate,
        nodes_avg=replay.nodes_avg,
        surplus=surplus,
        replay=replay,
        min_size=min_size,
        max_size=max_size,
    )


def _settings(config: NodeGroupConfig, min_size: int, max_size: int) -> AutoscalerSettings:
    return AutoscalerSettings(
        min_size=min_size,
        max_size=max(max_size, min_size),
        scale_down_utilization_threshold=config.scale_down_utilization_threshold,
        scale_down_unneeded_seconds=config.scale_down_unneeded_seconds,
        scale_down_delay_after_add_seconds=config.scale_down_delay_after_add_seconds,
        node_provision_seconds=config.node_provision_seconds,
    )


def _spot_alternatives(
    ctx: _GroupContext,
    best: _Candidate,
    specs: Sequence[InstanceSpec],
    pack_at: Callable[[int, InstanceSpec, int], PackingResult],
    peak_index: int,
) -> list[InstanceSpec]:
    """Up to three more low-interruption types of the best one's vCPUs and similar memory.

    So one spot pool running dry does not stop the group from scaling.
    """
    catalog = ctx.catalog
    similar = [
        spec
        for spec in specs
        if spec.instance_type != best.spec.instance_type
        and spec.vcpu == best.spec.vcpu
        and 0.5 <= spec.memory_bytes / best.spec.memory_bytes <= 2.0
        and spec.architecture == best.spec.architecture
        and catalog.interruption_range(spec.instance_type) in _LOW_INTERRUPTION
    ]
    similar.sort(
        key=lambda spec: (
            _INTERRUPTION_ORDER.index(catalog.interruption_range(spec.instance_type) or ">20%"),
            catalog.node_hourly_usd(spec.instance_type, "SPOT"),
            spec.instance_type,
        )
    )
    out: list[InstanceSpec] = []
    for spec in similar:
        if len(out) >= 3:
            break
        if pack_at(peak_index, spec, 0).fits_all:
            out.append(spec)
    return out


def _candidate_surplus(
    ctx: _GroupContext,
    spec: InstanceSpec,
    ha_min: int,
    mode: CreditMode | None,
    node_counts: np.ndarray | None = None,
) -> SurplusEstimate:
    """Surplus credits of ``spec`` carrying the group's CPU, on the nodes its requests need."""
    credits = credit_spec(spec.instance_type)
    if credits is None:
        return NOT_BURSTABLE
    if not len(ctx.cpu.times):
        return SurplusEstimate(None, mode, "no usage series to simulate CPU credits on")
    usage, load = ctx.usage, ctx.load
    allocatable = eks_allocatable(spec)
    free_cpu = max(allocatable.cpu_cores - load.overhead.cpu_cores, 1e-9)
    free_memory = max(allocatable.memory_bytes - load.overhead.memory_bytes, 1)
    free_pods = max(allocatable.pods - load.overhead.pods, 1)
    needed = np.ceil(
        np.maximum.reduce(
            [load.cpu_cores / free_cpu, load.memory_bytes / free_memory, load.pods / free_pods]
        )
        - 1e-9
    )
    nodes = (
        np.maximum(needed, max(ha_min, 1)) if node_counts is None else np.maximum(node_counts, 1)
    )
    allowance = (
        0.0
        if usage.from_node_exporter
        else (
            ctx.config.system_cpu_allowance_cores
            if ctx.config.system_cpu_allowance_cores is not None
            else default_system_allowance_cores(spec.vcpu)
        )
    )
    per_node = usage.workload_cores / nodes + usage.per_node_fixed_cores + allowance
    return pooled_surplus(
        np.minimum(per_node, float(spec.vcpu)),
        nodes,
        credits,
        mode=mode,
        step_hours=usage.step_hours,
        window_hours=ctx.window_hours,
    )


def _row(ctx: _GroupContext, current: _Current, choice: _Choice) -> NodeGroupRow:
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
    )
    commitment = commitment_split(
        best.spec.instance_type,
        choice.minimum.nodes,
        choice.min_size,
        list_cost,
        pricing_capacity,
        ctx.catalog,
        ctx.discount,
    )
    extra: dict[str, Any] = {
        "commitment": commitment,
        "commitment_monthly_savings_usd": commitment["monthly_savings_usd"],
        "spot_share": 1.0 if pricing_capacity == "SPOT" else 0.0,
        "spot_ready_request_share": _ready_share(load, choice.peak_index, ctx.spot_ready),
        "zones": list(load.zones),
        "daemonset_overhead": {
            "cpu_cores": load.overhead.cpu_cores,
            "memory_bytes": load.overhead.memory_bytes,
            "pods": load.overhead.pods,
        },
        "peak": _summary(best.peak, load, choice.peak_index),
        "typical": _summary(best.typical, load, choice.typical_index),
        "interruption_ranges": {c.spec.instance_type: c.interruption for c in choice.chosen},
        "hourly_usd": {c.spec.instance_type: round(c.hourly_usd, 5) for c in choice.chosen},
        "current_observed_nodes": {"min": current.observed_min, "max": current.observed_max},
        "findings": list(choice.findings),
        "burstable": {
            "current": current.surplus.summary(),
            "recommended": best.surplus.summary(),
        },
        "provisioner": "karpenter" if current.karpenter else "managed",
        "candidates": [
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
        ],
    }
    extra["autoscaler"] = _autoscaler_evidence(ctx, current, choice)
    if current.karpenter:
        extra["karpenter"] = _karpenter_limits(choice)
    return NodeGroupRow(
        name=load.name,
        current=current.settings,
        recommended=recommended,
        monthly_savings_usd=round((current.settings.monthly_cost_usd or 0.0) - recommended_cost, 2),
        reason=_reason(ctx, current, choice, list_cost),
        extra=extra,
    )


def _autoscaler_evidence(ctx: _GroupContext, current: _Current, choice: _Choice) -> dict[str, Any]:
    """Today's group replayed through the autoscaler beside what was observed, and the choice's."""
    if current.karpenter:
        return {"replayed": False, "note": "Karpenter provisions and consolidates: not replayed"}
    today = choice.current_type_candidate
    spec = today.spec if today is not None else ctx.catalog.spec(current.types[0])
    settings = _settings(
        ctx.config,
        current.settings.min_size or 0,
        current.settings.max_size or current.observed_max,
    )
    replay = replay_autoscaler(
        ctx.load.pod_table,
        ctx.load.times,
        eks_allocatable(spec),
        ctx.load.overhead,
        settings,
        pdb_budgets=ctx.pdb_budgets,
    )
    hours = _step_hours(ctx.load.times)
    observed = float((ctx.load.nodes * hours).sum())
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


def _karpenter_limits(choice: _Choice) -> dict[str, Any]:
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


def _reason(ctx: _GroupContext, current: _Current, choice: _Choice, list_cost: float) -> str:
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
    reason += "; " + _credit_reason(current, choice, list_cost)
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
        reason += f"; spot diversified over {len(choice.chosen)} low-interruption type(s)"
    if current.karpenter:
        limits = _karpenter_limits(choice)["limits"]
        reason += (
            f"; Karpenter NodePool: no managed-group min/max applies (Karpenter provisions for "
            f"pending pods and consolidates), so none is recommended; set the NodePool's "
            f"instance types to {'/'.join(c.spec.instance_type for c in choice.chosen)} and "
            f"spec.limits to cpu {limits['cpu']}, memory {limits['memory_bytes'] / GIB:.0f}Gi"
        )
    return reason


def _credit_reason(current: _Current, choice: _Choice, list_cost: float) -> str:
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


def _pods(table: pd.DataFrame) -> list[PodRequest]:
    return [
        PodRequest(f"{ns}/{wl}", float(cpu), int(mem), name=f"{ns}/{pod}")
        for ns, wl, pod, cpu, mem in zip(
            table["namespace"],
            table["workload"],
            table["pod"],
            table["cpu"],
            table["memory"],
            strict=True,
        )
    ]


def _hourly(catalog: PricedCatalog, types: Sequence[str], capacity: str) -> float:
    return float(np.mean([catalog.node_hourly_usd(t, capacity) for t in types])) if types else 0.0


def _summary(result: PackingResult, load: GroupLoad, index: int) -> dict[str, Any]:
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


def _ready_share(load: GroupLoad, index: int, ready: set[tuple[str, str, str]]) -> float:
    running = load.running_at(index)
    total = float(running["cpu"].sum())
    if total <= 0:
        return 0.0
    keys = list(zip(running["namespace"], running["kind"], running["workload"], strict=True))
    mask = np.array([(str(n), str(k), str(w)) in ready for n, k, w in keys])
    return round(float(running["cpu"].to_numpy()[mask].sum()) / total, 3)
