"""Choosing a node group's shape: candidates packed, costed as billed, replayed, picked.

The typed intermediate results of :mod:`~kianax_capacity.recommenders.nodegroups` live here
(:class:`Current` today's shape and cost, :class:`Candidate` one instance type's, and
:class:`Choice` the outcome), so the row, its reason and its evidence are all built from the
same numbers (:mod:`~kianax_capacity.recommenders.nodegroup_reasons`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from kianax_capacity.config import NodeGroupConfig
from kianax_capacity.model import InstanceSpec
from kianax_capacity.prices.credits import CreditMode, credit_spec
from kianax_capacity.recommendations import NodeGroupSettings
from kianax_capacity.recommenders.autoscaler import (
    AutoscalerSettings,
    ReplayResult,
    replay_autoscaler,
)
from kianax_capacity.recommenders.burstable import (
    NOT_BURSTABLE,
    NodeCpu,
    SurplusEstimate,
    default_system_allowance_cores,
    pooled_surplus,
)
from kianax_capacity.recommenders.commitments import EffectiveRate
from kianax_capacity.recommenders.grouploads import GroupLoad
from kianax_capacity.recommenders.packing import (
    PackingResult,
    PackMemo,
    PodRequest,
    PricedCatalog,
    eks_allocatable,
    nodes_lower_bound,
    pack,
)
from kianax_capacity.units import GIB, HOURS_PER_MONTH

__all__ = [
    "CANDIDATE_FAMILIES",
    "GRAVITON_FAMILIES",
    "Candidate",
    "Choice",
    "Current",
    "GroupContext",
    "GroupUsage",
    "autoscaler_settings",
    "candidate_specs",
    "choose",
    "credit_mode",
    "ha_minimum",
    "replay_within_budget",
]

CANDIDATE_FAMILIES = ("t3", "t3a", "m6i", "m7i", "c6i", "c7i", "r6i")
GRAVITON_FAMILIES = ("t4g", "m7g", "c7g")
_MAX_CANDIDATE_VCPU = 16
_MIN_CANDIDATE_VCPU = 2
_MIN_CANDIDATE_MEMORY = 2 * GIB
_PACKED_CANDIDATES = 8
#: The cheapest fitting candidates (by packing) replayed through the autoscaler, plus today's.
_REPLAYED_CANDIDATES = 3
#: Most pods-and-instants x nodes x candidates the replays may walk through (a few seconds).
_REPLAY_BUDGET = 20_000_000
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
class Candidate:
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
class GroupContext:
    """Everything one group's recommendation reads: its load, nodes, prices and settings."""

    load: GroupLoad  # with the recommended requests
    current_load: GroupLoad  # with today's requests (for the replay of today's group)
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
    usage: GroupUsage
    pdb_budgets: Mapping[tuple[str, str], tuple[float, float]]
    rate: EffectiveRate | None = None  # billed (CUR) rates of the group's node-hours


@dataclass(frozen=True)
class GroupUsage:
    """The group's CPU use on the load's instants, split so another node type can take it."""

    workload_cores: np.ndarray  # used by workload pods, all nodes together
    per_node_fixed_cores: np.ndarray  # DaemonSets (+ measured system CPU) per node
    from_node_exporter: bool
    step_hours: float


@dataclass(frozen=True)
class Current:
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
class Choice:
    """The outcome of choosing a shape: what was packed, chosen, and why it won."""

    best: Candidate
    chosen: tuple[Candidate, ...]  # best first, then spot diversification
    candidates: tuple[Candidate, ...]
    findings: tuple[str, ...]
    peak_index: int
    typical_index: int
    minimum: PackingResult
    nodes_avg: float
    min_size: int
    max_size: int
    current_type_candidate: Candidate | None


def credit_mode(config: NodeGroupConfig) -> CreditMode | None:
    return (
        "standard"
        if config.cpu_credits == "standard"
        else ("unlimited" if config.cpu_credits == "unlimited" else None)
    )


def ha_minimum(ctx: GroupContext, current: Current) -> int:
    scales_to_zero = (current.settings.min_size or 0) == 0 and not current.karpenter
    if current.karpenter:
        scales_to_zero = current.observed_min == 0
    return 0 if scales_to_zero else ctx.ha_min_nodes


class _Packer:
    """The load's key instants, and each candidate type packed at them (first fit shared)."""

    def __init__(self, ctx: GroupContext, current: Current) -> None:
        load, catalog = ctx.load, ctx.catalog
        self.ctx, self.current = ctx, current
        self.ha_min = ha_minimum(ctx, current)
        self.mode = credit_mode(ctx.config)
        reference = eks_allocatable(catalog.spec(current.types[0]))
        share = np.maximum(
            load.cpu_cores / max(reference.cpu_cores, 1e-9),
            load.memory_bytes / max(reference.memory_bytes, 1),
        )
        order = np.argsort(share, kind="stable")
        self.peak = int(order[-1])
        self.typical = int(order[round(0.5 * (len(order) - 1))])
        self.minimum = int(order[0])
        # Ten instants at the mid-deciles of load: their mean node count approximates the time
        # average an autoscaler following the load would keep.
        self.deciles = [int(order[round(q * (len(order) - 1))]) for q in _DECILES]
        instants = sorted({self.peak, self.typical, self.minimum, *self.deciles})
        self.pods_at = {index: pod_list(load.running_at(index)) for index in instants}
        # Types with the same allocatable (t3.medium, t3a.medium) share a first-fit run.
        self.memos = {index: PackMemo() for index in instants}
        # The minimum load matters for the chosen type only (its min_size and commitment).
        self.packed_instants = sorted({self.peak, self.typical, *self.deciles})
        self._surplus: dict[str, SurplusEstimate] = {}

    def surplus(self, spec: InstanceSpec) -> SurplusEstimate:
        """The candidate's surplus credits on the nodes its requests need (once per type)."""
        if spec.instance_type not in self._surplus:
            self._surplus[spec.instance_type] = candidate_surplus(
                self.ctx, spec, self.ha_min, self.mode
            )
        return self._surplus[spec.instance_type]

    def pack_at(
        self, index: int, spec: InstanceSpec, min_nodes: int | None = None
    ) -> PackingResult:
        load = self.ctx.load
        return pack(
            self.pods_at[index],
            spec,
            overhead=load.overhead,
            zones=load.zones,
            min_nodes=self.ha_min if min_nodes is None else min_nodes,
            memo=self.memos[index],
        )

    def bound(self, spec: InstanceSpec) -> tuple[float, float]:
        """A lower bound on the monthly cost (surplus credits included), then the hourly price."""
        allocatable = eks_allocatable(spec)
        hourly = self.ctx.catalog.node_hourly_usd(spec.instance_type, self.current.pricing_capacity)
        overhead = self.ctx.load.overhead
        mean_nodes = float(
            np.mean(
                [
                    max(self.ha_min, nodes_lower_bound(self.pods_at[i], allocatable, overhead))
                    for i in self.deciles
                ]
            )
        )
        surplus = self.surplus(spec).monthly_usd or 0.0
        return mean_nodes * hourly * HOURS_PER_MONTH + surplus, hourly

    def evaluate(self, spec: InstanceSpec) -> Candidate:
        catalog = self.ctx.catalog
        packed = {index: self.pack_at(index, spec) for index in self.packed_instants}
        return Candidate(
            spec=spec,
            hourly_usd=catalog.node_hourly_usd(spec.instance_type, self.current.pricing_capacity),
            typical=packed[self.typical],
            peak=packed[self.peak],
            minimum=packed.get(self.minimum),
            interruption=catalog.interruption_range(spec.instance_type),
            nodes_avg=float(np.mean([packed[i].nodes for i in self.deciles])),
            surplus=self.surplus(spec),
        )


def choose(ctx: GroupContext, current: Current) -> Choice:
    """Pack the candidates at the load's key instants and pick the cheapest in total cost."""
    packer = _Packer(ctx, current)
    specs = candidate_specs(ctx.catalog, allow_graviton=ctx.allow_graviton, include=current.types)
    candidates, fitting, findings = _packed_candidates(packer, specs)
    # The cheapest few that fit are replayed through the cluster autoscaler: their node-hours
    # (and so their list cost and surplus) are what the autoscaler would keep, not ideal packing.
    replay_for = sorted(fitting, key=lambda c: c.monthly)[:_REPLAYED_CANDIDATES]
    replay_for += [
        c for c in fitting if c.spec.instance_type in current.types and c not in replay_for
    ]
    if not current.karpenter and replay_within_budget(ctx, replay_for):
        replayed = {
            id(c): with_replay(
                ctx, c, packer.ha_min, packer.pack_at(packer.minimum, c.spec).nodes, packer.mode
            )
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
    if current.pricing_capacity == "SPOT":
        alternatives = spot_alternatives(ctx, best, specs, packer.pack_at, packer.peak)
        chosen += [packer.evaluate(spec) for spec in alternatives]
    minimum = best.minimum or packer.pack_at(packer.minimum, best.spec)
    min_size, max_size = size_bounds(best, packer.ha_min, minimum.nodes)
    today = [c for c in candidates if c.spec.instance_type in current.types]
    return Choice(
        best=best,
        chosen=tuple(chosen),
        candidates=tuple(candidates),
        findings=tuple(findings),
        peak_index=packer.peak,
        typical_index=packer.typical,
        minimum=minimum,
        nodes_avg=max(best.nodes_avg, float(packer.ha_min)),
        min_size=min_size,
        max_size=max_size,
        current_type_candidate=today[0] if today else None,
    )


def _packed_candidates(
    packer: _Packer, specs: Sequence[InstanceSpec]
) -> tuple[list[Candidate], list[Candidate], list[str]]:
    """The shortlist packed (cheapest lower bounds, today's types), and those that may win."""
    catalog, current = packer.ctx.catalog, packer.current
    # Cheapest by lower bound (with surplus credits) first, so only a few are packed.
    ranked = sorted(specs, key=packer.bound)
    if current.pricing_capacity == "SPOT":
        calm_specs = [
            s for s in ranked if catalog.interruption_range(s.instance_type) in _LOW_INTERRUPTION
        ]
        ranked = calm_specs + [s for s in ranked if s not in calm_specs]
    shortlist = ranked[:_PACKED_CANDIDATES]
    # Today's type is always packed, so the reason can compare against it.
    shortlist += [s for s in ranked if s.instance_type in current.types and s not in shortlist]
    candidates = [packer.evaluate(spec) for spec in shortlist]
    fitting = [c for c in candidates if c.peak.fits_all]
    findings: list[str] = []
    if not fitting:
        # Every shortlisted type leaves a pod out: widen to all candidates, else name the pods.
        wider = [
            s for s in ranked if s not in shortlist and packer.pack_at(packer.peak, s, 0).fits_all
        ]
        fitting = [packer.evaluate(spec) for spec in wider[:_PACKED_CANDIDATES]]
        candidates.extend(fitting)
        if not fitting:
            largest = max(candidates, key=lambda c: (c.spec.vcpu, c.spec.memory_bytes))
            findings.extend(largest.peak.findings)
            findings.append("no candidate instance type holds every pod at peak")
            fitting = [min(candidates, key=lambda c: len(c.peak.unplaced))]
    if current.pricing_capacity == "SPOT":
        calm = [c for c in fitting if c.interruption in _LOW_INTERRUPTION]
        fitting = calm or fitting
    if packer.mode == "standard":
        # Standard-mode credits cap CPU at the baseline: prefer types that serve the CPU.
        served = [c for c in fitting if c.surplus.throttled_core_hours_monthly <= 0.0]
        fitting = served or fitting
    return candidates, fitting, findings


def replay_within_budget(ctx: GroupContext, candidates: Sequence[Candidate]) -> bool:
    """Whether the replays fit the budget: pods x nodes x candidates, a Python loop each.

    The replay places every pod by looking at every node; a group of 15,000 pods on 1,000
    nodes would take minutes per candidate. Past the budget the node counts stay those of
    packing, and the row's ``extra.autoscaler`` says so.
    """
    nodes = max((c.peak.nodes for c in candidates), default=1)
    work = (len(ctx.load.pod_table) + len(ctx.load.times)) * max(nodes, 1) * max(len(candidates), 1)
    return work <= _REPLAY_BUDGET


def size_bounds(candidate: Candidate, ha_min: int, minimum_nodes: int) -> tuple[int, int]:
    """min_size: the HA minimum or the nodes at minimum load; max_size: 1.5 x the peak's nodes."""
    min_size = max(ha_min, minimum_nodes) if ha_min else 0
    peak = candidate.peak.nodes
    return min_size, max(peak + 1, math.ceil(peak * 1.5), min_size + 1)


def with_replay(
    ctx: GroupContext,
    candidate: Candidate,
    ha_min: int,
    minimum_nodes: int,
    mode: CreditMode | None,
) -> Candidate:
    """The candidate as the cluster autoscaler would run it with the recommended bounds."""
    min_size, max_size = size_bounds(candidate, ha_min, minimum_nodes)
    replay = replay_autoscaler(
        ctx.load.pod_table,
        ctx.load.times,
        eks_allocatable(candidate.spec),
        ctx.load.overhead,
        autoscaler_settings(ctx.config, min_size, max_size),
        pdb_budgets=ctx.pdb_budgets,
    )
    surplus = candidate_surplus(ctx, candidate.spec, ha_min, mode, node_counts=replay.nodes)
    return replace(
        candidate,
        nodes_avg=replay.nodes_avg,
        surplus=surplus,
        replay=replay,
        min_size=min_size,
        max_size=max_size,
    )


def autoscaler_settings(
    config: NodeGroupConfig, min_size: int, max_size: int
) -> AutoscalerSettings:
    return AutoscalerSettings(
        min_size=min_size,
        max_size=max(max_size, min_size),
        scale_down_utilization_threshold=config.scale_down_utilization_threshold,
        scale_down_unneeded_seconds=config.scale_down_unneeded_seconds,
        scale_down_delay_after_add_seconds=config.scale_down_delay_after_add_seconds,
        node_provision_seconds=config.node_provision_seconds,
    )


def spot_alternatives(
    ctx: GroupContext,
    best: Candidate,
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


def candidate_surplus(
    ctx: GroupContext,
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


def pod_list(table: pd.DataFrame) -> list[PodRequest]:
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
