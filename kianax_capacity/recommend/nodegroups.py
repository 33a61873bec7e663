"""Node-group right-sizing by packing simulation, with commitment (Savings Plan) coverage.

For each node group seen in the snapshot's nodes table:

1. **Load over the window.** Every workload pod that ran on the group's nodes contributes its
   requests (the recommended requests where ``new_requests`` gives them, else the current
   ones) while it ran. DaemonSet pods are not packed: one pod of each DaemonSet seen on the
   group is charged to *every* node as overhead. From the request timeline three instants are
   taken: the **peak** (largest dominant share), the **typical** load (the instant closest to
   the median, p50) and the **minimum** (the always-on baseline).
2. **Candidates.** t3, t3a, m6i, m7i, c6i, c7i and r6i sizes up to 16 vCPU (Graviton t4g, m7g,
   c7g too with ``allow_graviton``), plus the types the group runs today. A lower bound on each
   candidate's node count prunes the list to the cheapest few before they are packed with
   :func:`~kianax_capacity.recommend.packing.pack` (zone spread over the zones seen, HA minimum).
3. **Choice.** The candidate that holds every pod at peak and costs least on average (below);
   for spot groups the choice is limited to low interruption ranges ("<5%", "5-10%" when
   available) and is diversified with up to three more low-interruption types of the same vCPU
   count and similar memory (0.5-2x) that also hold the peak, as a Spot allocation strategy
   wants. The group is priced at the chosen type's spot price (price-capacity-optimized
   allocation favours the cheapest pool with capacity); the others' prices are in ``extra``.
4. **Shape.** ``nodes_avg`` = the mean node count over ten instants at the mid-deciles of load
   (what an autoscaler following the load would keep on average, never below the HA minimum);
   ``min_size`` = the HA minimum (0 for groups that scale to zero) or the nodes at the window's
   minimum load, whichever is larger; ``max_size`` = 1.5 x nodes at peak (at least one more
   than peak) so rollouts and growth fit.
5. **Cost.** Current = node-hours x hourly price over the window, scaled to 730 h. Recommended =
   ``nodes_avg`` x hourly price x 730. Burstable (t3/t3a/t4g) types are priced at list price;
   CPU-credit surcharges of unlimited mode are not modelled.
6. **Commitments.** The recommended always-on baseline (nodes at the minimum load, at least
   ``min_size``) priced under a Compute Savings Plan at ``commitment_discount`` (default 28%,
   an assumption: AWS's published Compute Savings Plans range for 1-year no-upfront on
   general-purpose families, see https://aws.amazon.com/savingsplans/compute-pricing/); the
   rest stays on-demand (or spot for spot groups). A Savings Plan does not cover spot, so a
   spot group's baseline is not committed. The split is in ``extra["commitment"]``.

All money is USD per month (730 h); CPU in cores, memory in bytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kianax_capacity.config import NodeGroupConfig
from kianax_capacity.model import InstanceSpec
from kianax_capacity.recommend.inventory import WORKLOAD_KEY, pending_pods
from kianax_capacity.recommend.packing import (
    Overhead,
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
#: Compute Savings Plan, 1 year, no upfront: an assumption, not a quote (see module docstring).
DEFAULT_COMMITMENT_DISCOUNT = 0.28
COMMITMENT_ASSUMPTION = (
    "Compute Savings Plan, 1-year no-upfront, {discount:.0%} off on-demand: an assumption from "
    "AWS's published Compute Savings Plans rates for general-purpose families "
    "(https://aws.amazon.com/savingsplans/compute-pricing/); set [aws] commitment_discount "
    "to your negotiated rate"
)
_MAX_CANDIDATE_VCPU = 16
_MIN_CANDIDATE_VCPU = 2
_MIN_CANDIDATE_MEMORY = 2 * GIB
_PACKED_CANDIDATES = 8
_LOW_INTERRUPTION = ("<5%", "5-10%")
_INTERRUPTION_ORDER = ("<5%", "5-10%", "10-15%", "15-20%", ">20%")
# At most this many instants are evaluated per group: enough for a peak and a median.
_MAX_INSTANTS = 4000
_DECILES = tuple((k + 0.5) / 10 for k in range(10))


@dataclass(frozen=True)
class GroupLoad:
    """A node group's requests over the window, on an evenly spaced grid of instants."""

    name: str
    times: pd.DatetimeIndex
    cpu_cores: np.ndarray  # requested by workload pods at each instant
    memory_bytes: np.ndarray
    pods: np.ndarray
    nodes: np.ndarray  # nodes of the group alive at each instant
    pod_table: pd.DataFrame  # namespace, pod, kind, workload, first_seen, last_seen, cpu, memory
    overhead: Overhead
    zones: tuple[str, ...]

    def running_at(self, index: int) -> pd.DataFrame:
        moment = self.times[index]
        table = self.pod_table
        return table[(table["first_seen"] <= moment) & (table["last_seen"] >= moment)]


def pod_requests(
    snapshot: Snapshot,
    new_requests: Mapping[tuple[str, str, str, str], Resources] | None = None,
) -> pd.DataFrame:
    """One row per pod: its owner, node, lifetime and summed requests (cores, bytes).

    Args:
        snapshot: the snapshot.
        new_requests: (namespace, kind, workload, container) -> recommended resources; a field
            left None keeps the current request.

    Returns:
        Columns namespace, pod, kind, workload, node, first_seen, last_seen, cpu, memory.
    """
    pods = snapshot.table("pods")
    containers = snapshot.table("containers")
    columns = ["namespace", "pod", "kind", "workload", "node", "first_seen", "last_seen"]
    if pods.empty:
        return pd.DataFrame(columns=[*columns, "cpu", "memory"])
    # Each container carries its pod's row, so the sums go back to the pods by position: a
    # groupby and a merge on the (namespace, pod) strings of ~400k pods cost far more.
    merged = containers.merge(
        pods[["namespace", "pod", "kind", "workload"]].assign(_pod_row=np.arange(len(pods))),
        on=["namespace", "pod"],
        how="inner",
    )
    cpu = merged["cpu_request_cores"].astype(float).fillna(0.0)
    memory = merged["memory_request_bytes"].astype(float).fillna(0.0)
    if new_requests:
        # Looked up on the few distinct container keys, not once per pod container.
        key_columns = ["namespace", "kind", "workload", "container"]
        found = pd.MultiIndex.from_tuples(list(new_requests), names=key_columns).get_indexer(
            pd.MultiIndex.from_frame(merged[key_columns].astype(str))
        )
        values = list(new_requests.values())
        new_cpu = np.array([_field(v, "cpu_request") for v in values] + [math.nan])[found]
        new_memory = np.array([_field(v, "memory_request") for v in values] + [math.nan])[found]
        cpu = pd.Series(new_cpu, index=merged.index, dtype=float).fillna(cpu)
        memory = pd.Series(new_memory, index=merged.index, dtype=float).fillna(memory)
    # The same grouped sums as by (namespace, pod): one group per pod, rows in table order.
    summed = (
        merged.assign(cpu=cpu, memory=memory)
        .groupby("_pod_row")[["cpu", "memory"]]
        .sum()
        .reindex(np.arange(len(pods)))
    )
    out = pods[columns].reset_index(drop=True)
    out["cpu"] = summed["cpu"].fillna(0.0).to_numpy()
    out["memory"] = summed["memory"].fillna(0.0).to_numpy()
    return out


def _field(resources: Resources | None, name: str) -> float:
    if resources is None:
        return math.nan
    value = getattr(resources, name)
    return math.nan if value is None else float(value)


def evaluation_instants(snapshot: Snapshot) -> pd.DatetimeIndex:
    """The instants to evaluate: the usage samples' own timestamps (at most _MAX_INSTANTS)."""
    stamps = snapshot.table("usage")["timestamp"]
    if len(stamps):
        times = pd.DatetimeIndex(pd.unique(stamps)).sort_values()
    else:
        start, end = snapshot.window
        step = max(int(snapshot.step_seconds), 1)
        times = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq=f"{step}s")
    stride = max(1, math.ceil(len(times) / _MAX_INSTANTS))
    return times[::stride]


def alive_sum(
    times: pd.DatetimeIndex, first: pd.Series, last: pd.Series, weights: np.ndarray
) -> np.ndarray:
    """Sum of ``weights`` of the intervals [first, last] covering each instant (diff array)."""
    first_ns = pd.DatetimeIndex(first).as_unit("ns").asi8 if len(first) else np.array([], "int64")
    last_ns = pd.DatetimeIndex(last).as_unit("ns").asi8 if len(last) else np.array([], "int64")
    grid = pd.DatetimeIndex(times).as_unit("ns").asi8
    begin = np.searchsorted(grid, first_ns, side="left")
    stop = np.searchsorted(grid, last_ns, side="right")
    delta = np.zeros(len(grid) + 1)
    np.add.at(delta, begin, weights)
    np.add.at(delta, stop, -weights)
    return np.cumsum(delta)[:-1]


def group_loads(
    snapshot: Snapshot,
    new_requests: Mapping[tuple[str, str, str, str], Resources] | None = None,
    *,
    pending: pd.DataFrame | None = None,
    requests: pd.DataFrame | None = None,
) -> dict[str, GroupLoad]:
    """Per node group: requests, pods and nodes over the window, DaemonSet overhead, zones.

    ``pending`` is ``pending_pods(snapshot)`` when the caller already has it (it is the costly
    part on a large cluster, and the same for every caller of one snapshot); ``requests`` is
    ``pod_requests(snapshot, new_requests)`` when the caller already has it.
    """
    nodes = snapshot.table("nodes")
    if nodes.empty:
        return {}
    times = evaluation_instants(snapshot)
    if requests is None:
        requests = pod_requests(snapshot, new_requests)
    node_group = nodes[["node", "node_group"]].astype({"node_group": "object"})
    placed = requests.merge(node_group, on="node", how="inner")
    if pending is None:
        pending = pending_pods(snapshot)
    placed = pd.concat([placed, _pending_requests(pending, placed)], ignore_index=True)
    out: dict[str, GroupLoad] = {}
    for group, members in nodes.groupby("node_group", observed=True, sort=True):
        name = str(group)
        group_pods = placed[placed["node_group"] == name]
        daemon = group_pods[group_pods["kind"] == "DaemonSet"]
        workload_pods = group_pods[group_pods["kind"] != "DaemonSet"].reset_index(drop=True)
        # One pod of each DaemonSet per node, at the largest request it was seen with.
        per_ds = daemon.groupby(["namespace", "workload"], observed=True)[["cpu", "memory"]].max()
        overhead = Overhead(
            cpu_cores=float(per_ds["cpu"].sum()),
            memory_bytes=int(per_ds["memory"].sum()),
            pods=len(per_ds),
        )
        out[name] = GroupLoad(
            name=name,
            times=times,
            cpu_cores=alive_sum(
                times,
                workload_pods["first_seen"],
                workload_pods["last_seen"],
                workload_pods["cpu"].to_numpy(float),
            ),
            memory_bytes=alive_sum(
                times,
                workload_pods["first_seen"],
                workload_pods["last_seen"],
                workload_pods["memory"].to_numpy(float),
            ),
            pods=alive_sum(
                times,
                workload_pods["first_seen"],
                workload_pods["last_seen"],
                np.ones(len(workload_pods)),
            ),
            nodes=alive_sum(
                times, members["first_seen"], members["last_seen"], np.ones(len(members))
            ),
            pod_table=workload_pods,
            overhead=overhead,
            zones=tuple(sorted(str(z) for z in members["zone"].dropna().unique())) or ("zone-a",),
        )
    return out


def _pending_requests(pending: pd.DataFrame, placed: pd.DataFrame) -> pd.DataFrame:
    """Pending pods (asked for by an HPA, placed nowhere) as rows like ``placed``'s.

    Each asks for what the workload's last placed pod asked for, on the node group where the
    workload runs: capacity must hold them too, or the group is already out of room.
    """
    if pending.empty or placed.empty:
        return placed.iloc[0:0]
    latest = (
        placed[placed["kind"] != "DaemonSet"]
        .sort_values("last_seen")
        .drop_duplicates(WORKLOAD_KEY, keep="last")[[*WORKLOAD_KEY, "cpu", "memory", "node_group"]]
    )
    rows = pending.merge(latest, on=WORKLOAD_KEY, how="inner")
    rows["pod"] = "(pending) " + rows["workload"].astype(str) + "#" + rows["slot"].astype(str)
    rows["node"] = None
    return rows[[c for c in placed.columns if c in rows.columns]]


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
        snapshot: the snapshot (nodes, pods, containers).
        catalog: instance specs and prices.
        new_requests: container key -> recommended resources (from right-sizing rows:
            ``{row.key: row.recommended for row in rightsizing}``); current requests otherwise.
        allow_graviton: also consider arm64 types (t4g, m7g, c7g); only if images are multi-arch.
        nodegroup_config: ``[nodegroups.<name>]`` from the config: current min/max sizes.
        commitment_discount: Savings Plan discount off on-demand (an assumption, 0..1).
        ha_min_nodes: fewest nodes a group that never scales to zero should keep.
        spot_overrides: config ``spot_overrides``, for ``spot_ready_request_share``.
        pending: ``pending_pods(snapshot)`` if already computed (else computed here).
        spot_assessments: ``assess_spot(snapshot, overrides=spot_overrides)`` if already
            computed (else computed here).

    Returns:
        One :class:`NodeGroupRow` per node group. ``extra`` carries ``commitment`` (the split),
        ``commitment_monthly_savings_usd``, ``spot_share``, ``spot_ready_request_share``,
        ``peak``/``typical`` packing summaries and ``findings``.
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
    rows = []
    for name, load in loads.items():
        members = nodes[nodes["node_group"].astype(str) == name]
        config = nodegroup_config.get(name, NodeGroupConfig())
        rows.append(
            _recommend_group(
                load,
                members,
                catalog,
                config,
                window_hours,
                allow_graviton,
                commitment_discount,
                ha_min_nodes,
                ready,
                snapshot.step_seconds,
            )
        )
    return tuple(rows)


def _recommend_group(
    load: GroupLoad,
    members: pd.DataFrame,
    catalog: PricedCatalog,
    config: NodeGroupConfig,
    window_hours: float,
    allow_graviton: bool,
    discount: float,
    ha_min_nodes: int,
    spot_ready: set[tuple[str, str, str]],
    step_seconds: int,
) -> NodeGroupRow:
    capacity_types = sorted({str(c).upper() for c in members["capacity_type"].dropna()})
    capacity = capacity_types[0] if len(capacity_types) == 1 else "MIXED"
    pricing_capacity = "SPOT" if capacity == "SPOT" else "ON_DEMAND"
    current_types = tuple(sorted({str(t) for t in members["instance_type"].dropna()}))
    hours = (
        (members["last_seen"] - members["first_seen"]).dt.total_seconds() + float(step_seconds)
    ).clip(lower=0) / 3600.0
    hourly = [
        catalog.node_hourly_usd(str(t), str(c).upper() if str(c).upper() == "SPOT" else "ON_DEMAND")
        for t, c in zip(members["instance_type"], members["capacity_type"], strict=True)
    ]
    current_cost = (
        float((hours.to_numpy() * np.array(hourly)).sum()) * HOURS_PER_MONTH / window_hours
    )
    current_nodes_avg = float(hours.sum()) / window_hours
    observed_min = int(load.nodes.min()) if len(load.nodes) else 0
    observed_max = int(load.nodes.max()) if len(load.nodes) else 0
    current = NodeGroupSettings(
        instance_types=tuple(config.instance_types) or current_types,
        capacity_type=capacity,
        nodes_avg=round(current_nodes_avg, 2),
        min_size=config.min_size if config.min_size is not None else observed_min,
        max_size=config.max_size if config.max_size is not None else observed_max,
        monthly_cost_usd=round(current_cost, 2),
    )
    scales_to_zero = (current.min_size or 0) == 0
    ha_min = 0 if scales_to_zero else ha_min_nodes

    if load.pod_table.empty:
        return NodeGroupRow(
            name=load.name,
            current=current,
            recommended=NodeGroupSettings(
                instance_types=current.instance_types,
                capacity_type=capacity,
                nodes_avg=float(ha_min),
                min_size=ha_min,
                max_size=max(current.max_size or 1, 1),
                monthly_cost_usd=round(
                    ha_min * _hourly(catalog, current_types, pricing_capacity) * HOURS_PER_MONTH, 2
                ),
            ),
            monthly_savings_usd=None,
            reason="no workload pods ran on this group in the window; keep it at its minimum",
            extra={"findings": []},
        )

    reference = eks_allocatable(catalog.spec(current_types[0]))
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

    def pack_at(index: int, spec: InstanceSpec, min_nodes: int = ha_min) -> PackingResult:
        return pack(
            pods_at[index],
            spec,
            overhead=load.overhead,
            zones=load.zones,
            min_nodes=min_nodes,
            memo=memos[index],
        )

    specs = candidate_specs(catalog, allow_graviton=allow_graviton, include=current_types)

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
        return mean_nodes * hourly, hourly

    # Cheapest by lower bound first, so only a few candidates are packed on a large cluster.
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
        )

    candidates = [evaluate(spec) for spec in ranked[:_PACKED_CANDIDATES]]
    fitting = [c for c in candidates if c.peak.fits_all]
    findings: list[str] = []
    if not fitting:
        # Every shortlisted type leaves a pod out: widen to all candidates, else name the pods.
        wider = [s for s in ranked[_PACKED_CANDIDATES:] if pack_at(peak_index, s, 0).fits_all]
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

    def monthly(c: _Candidate) -> float:
        return c.nodes_avg * c.hourly_usd * HOURS_PER_MONTH

    best = min(
        fitting,
        key=lambda c: (
            round(monthly(c), 6),
            c.hourly_usd,
            c.peak.nodes,
            c.spec.instance_type not in current_types,
            c.spec.instance_type,
        ),
    )
    chosen: list[_Candidate] = [best]
    if pricing_capacity == "SPOT":
        # Several types of the same vCPU count and similar memory, all low-interruption, so
        # one spot pool running dry does not stop the group from scaling.
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
        for spec in similar:
            if len(chosen) >= 4:
                break
            if pack_at(peak_index, spec, 0).fits_all:
                chosen.append(evaluate(spec))
    # Priced at the chosen type: a price-capacity-optimized allocation favours the cheapest
    # pool with capacity; the others are there for availability (their prices are in extra).
    mean_hourly = best.hourly_usd
    nodes_avg = round(max(best.nodes_avg, float(ha_min)), 2)
    minimum = best.minimum or pack_at(minimum_index, best.spec)
    min_size = max(ha_min, minimum.nodes) if not scales_to_zero else 0
    max_size = max(best.peak.nodes + 1, math.ceil(best.peak.nodes * 1.5), min_size + 1)
    recommended_cost = nodes_avg * mean_hourly * HOURS_PER_MONTH
    recommended = NodeGroupSettings(
        instance_types=tuple(c.spec.instance_type for c in chosen),
        capacity_type=capacity if capacity != "MIXED" else "ON_DEMAND",
        nodes_avg=nodes_avg,
        min_size=min_size,
        max_size=max_size,
        monthly_cost_usd=round(recommended_cost, 2),
    )

    commitment = _commitment(
        best, minimum.nodes, min_size, recommended_cost, pricing_capacity, catalog, discount
    )
    spot_share_ready = _ready_share(load, peak_index, spot_ready)
    peak_cpu = float(load.cpu_cores[peak_index])
    peak_memory = float(load.memory_bytes[peak_index])
    reason = (
        f"peak requests {peak_cpu:.2f} cores / {peak_memory / GIB:.1f} GiB in "
        f"{int(load.pods[peak_index])} pods (+{load.overhead.pods} DaemonSet pods per node) pack "
        f"onto {best.peak.nodes} x {best.spec.instance_type} "
        f"(binding: {best.peak.binding_resource or 'none'}); typical load on {best.typical.nodes}; "
        f"today {current_nodes_avg:.1f} x {'/'.join(current_types)} on average"
    )
    if pricing_capacity == "SPOT":
        reason += f"; spot diversified over {len(chosen)} low-interruption type(s)"
    extra: dict[str, Any] = {
        "commitment": commitment,
        "commitment_monthly_savings_usd": commitment["monthly_savings_usd"],
        "spot_share": 1.0 if pricing_capacity == "SPOT" else 0.0,
        "spot_ready_request_share": spot_share_ready,
        "zones": list(load.zones),
        "daemonset_overhead": {
            "cpu_cores": load.overhead.cpu_cores,
            "memory_bytes": load.overhead.memory_bytes,
            "pods": load.overhead.pods,
        },
        "peak": _summary(best.peak, load, peak_index),
        "typical": _summary(best.typical, load, typical_index),
        "interruption_ranges": {c.spec.instance_type: c.interruption for c in chosen},
        "hourly_usd": {c.spec.instance_type: round(c.hourly_usd, 5) for c in chosen},
        "current_observed_nodes": {"min": observed_min, "max": observed_max},
        "findings": findings,
        "candidates": [
            {
                "instance_type": c.spec.instance_type,
                "nodes_avg": round(c.nodes_avg, 2),
                "nodes_typical": c.typical.nodes,
                "nodes_peak": c.peak.nodes,
                "monthly_cost_usd": round(monthly(c), 2),
                "fits_all": c.peak.fits_all,
            }
            for c in sorted(candidates, key=monthly)
        ],
    }
    return NodeGroupRow(
        name=load.name,
        current=current,
        recommended=recommended,
        monthly_savings_usd=round(current_cost - recommended_cost, 2),
        reason=reason,
        extra=extra,
    )


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


def _commitment(
    best: _Candidate,
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
            "instance_type": best.spec.instance_type,
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
    on_demand_hourly = catalog.node_hourly_usd(best.spec.instance_type, "ON_DEMAND")
    baseline_cost = baseline * on_demand_hourly * HOURS_PER_MONTH
    committed = baseline_cost * (1.0 - discount)
    return {
        "baseline_nodes": baseline,
        "instance_type": best.spec.instance_type,
        "discount": discount,
        "assumption": assumption,
        "on_demand_monthly_usd": round(baseline_cost, 2),
        "committed_monthly_usd": round(committed, 2),
        "monthly_savings_usd": round(baseline_cost - committed, 2),
        "rest_monthly_usd": round(max(recommended_cost - baseline_cost, 0.0), 2),
        "rest_capacity_type": "ON_DEMAND",
    }
