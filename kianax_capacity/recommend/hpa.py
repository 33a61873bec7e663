"""HPA recommendations: min, max, target and stabilisation, simulated before they are proposed.

For every HorizontalPodAutoscaler in the snapshot:

1. Build the workload's demand series (total CPU cores and memory bytes over its pods at each
   step) and its per-pod requests (summed over containers, the pod spec seen last).
2. Read the findings off the observed history: minutes at max with utilisation above target
   (saturated: Kubernetes clamps desired to max, so saturation shows as current = max while
   utilisation stays above target), minutes pinned at min far below target, scale events and
   up-down flaps within the stabilisation window, utilisation p50/p95 against the target, and
   HPAs that target utilisation of a container with no request (they cannot scale at all).
3. Replay the current settings and a grid of candidates with :mod:`hpa_sim`, and pick the
   candidate that meets the profile's goals (:data:`HPA_PROFILES`) at the lowest cost; among
   candidates within the cost tolerance of the cheapest, the one closest to the current settings.
   ``no_change`` when that is the current settings.

The target is treated as a headroom choice made by the team, not a cost knob: the search keeps
it (moving it only into the profile's band) and varies min, max and stabilisation. Joint with
right-sizing, a new request changes the utilisation denominator, so the target moves to keep the
scale point (the absolute cores per replica at which the HPA scales) where it was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from kianax_capacity.errors import UserInputError
from kianax_capacity.model import ResourcePrices
from kianax_capacity.recommend.hpa_sim import (
    DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS,
    HpaReplay,
    ReplaySettings,
    simulate_hpa,
    simulate_hpa_batch,
)
from kianax_capacity.recommend.inventory import (
    container_inventory,
    usage_with_owners,
    workload_node_groups,
)
from kianax_capacity.recommendations import HpaRow, HpaSettings, Status
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.units import format_cpu, format_usd

__all__ = [
    "HPA_PROFILES",
    "HpaProfile",
    "recommend_hpa",
    "simulate_for_chart",
]

#: (namespace, kind, workload) -> (per-pod CPU request cores, per-pod memory request bytes)
NewRequests = Mapping[tuple[str, str, str], tuple[float | None, int | None]]


@dataclass(frozen=True)
class HpaProfile:
    """What a profile asks of an HPA.

    Attributes:
        name: profile name (see ``kianax_capacity.model.PROFILES``).
        saturated_minutes_per_week: allowed minutes at max with demand above what max serves.
        utilisation_floor_percent: utilisation (of request) below which a replica is idle.
        low_utilisation_share: allowed share of time below the floor while min is above the
            HA floor (at the HA floor nothing cheaper is allowed, so the goal is waived).
        min_replicas_floor: the profile's own HA floor for min (a PDB can raise it).
        max_scale_events_per_hour: more replica changes than this is flapping.
        target_band: the range of utilisation targets the profile accepts (percent).
        max_headroom: a raised max covers the peak need times this, because demand observed
            while saturated is capped by the pods that were there (users waited).
        cost_tolerance_usd: savings below this (per month) are not worth a change...
        cost_tolerance_share: ...nor below this share of the current monthly cost.
        min_coverage_hours: fewer hours of demand data than this is insufficient data.
    """

    name: str
    saturated_minutes_per_week: float
    utilisation_floor_percent: float
    low_utilisation_share: float
    min_replicas_floor: int
    max_scale_events_per_hour: float
    target_band: tuple[float, float]
    max_headroom: float
    cost_tolerance_usd: float = 1.0
    cost_tolerance_share: float = 0.03
    min_coverage_hours: float = 24.0


HPA_PROFILES: Mapping[str, HpaProfile] = {
    "production": HpaProfile(
        name="production",
        saturated_minutes_per_week=30.0,
        utilisation_floor_percent=30.0,
        low_utilisation_share=0.5,
        min_replicas_floor=2,
        max_scale_events_per_hour=4.0,
        target_band=(50.0, 80.0),
        max_headroom=1.2,
    ),
    "development": HpaProfile(
        name="development",
        saturated_minutes_per_week=120.0,
        utilisation_floor_percent=40.0,
        low_utilisation_share=0.5,
        min_replicas_floor=1,
        max_scale_events_per_hour=6.0,
        target_band=(50.0, 90.0),
        max_headroom=1.0,
    ),
    "high-availability": HpaProfile(
        name="high-availability",
        saturated_minutes_per_week=10.0,
        utilisation_floor_percent=25.0,
        low_utilisation_share=0.6,
        min_replicas_floor=3,
        max_scale_events_per_hour=4.0,
        target_band=(40.0, 75.0),
        max_headroom=1.3,
    ),
}

# A kept scale point may need a target above the profile band, but never above the request:
# above 100 % the HPA waits for CPU that nothing reserves for the pod.
_MAX_TARGET = 100.0
_MIN_TARGET = 10.0
_MAX_CANDIDATE_MINS = 6
_MAX_CANDIDATE_MAXES = 10


@dataclass(frozen=True)
class _Workload:
    """Everything the replay needs about one HPA's workload."""

    namespace: str
    hpa: str
    kind: str
    workload: str
    current: HpaSettings
    timestamps: pd.DatetimeIndex
    cpu_demand: npt.NDArray[np.float64]
    memory_demand: npt.NDArray[np.float64]
    observed_replicas: npt.NDArray[np.float64]  # NaN where the replicas table has no sample
    cpu_request: float | None  # None = some container has no CPU request
    memory_request: float | None
    missing_cpu: tuple[str, ...]
    missing_memory: tuple[str, ...]
    node_group: str | None
    pdb_min_available: float
    step_seconds: float


def recommend_hpa(
    snapshot: Snapshot,
    *,
    profile: str = "production",
    unit_prices: Mapping[str, ResourcePrices] | None = None,
    default_prices: ResourcePrices,
    new_requests: NewRequests | None = None,
) -> tuple[HpaRow, ...]:
    """One :class:`HpaRow` per HPA in the snapshot, sorted by (namespace, workload).

    Args:
        snapshot: the snapshot (tables hpas, replicas, usage, pods, containers, workloads, nodes).
        profile: a key of :data:`HPA_PROFILES`.
        unit_prices: per node group, the price of a core-hour and a GiB-hour.
        default_prices: prices for a workload whose node group is unknown or unpriced.
        new_requests: per (namespace, kind, workload), the right-sized per-pod CPU cores and
            memory bytes (summed over containers; None = unchanged). Replayed as the new
            utilisation denominator, with the target moved to keep the scale point.

    Returns:
        The rows; ``insufficient_data`` rows say why (no request, custom metrics, no data).

    Raises:
        UserInputError: unknown profile.

    Example:
        >>> rows = recommend_hpa(snap, default_prices=ResourcePrices(0.03, 0.004))  # doctest: +SKIP
    """
    goals = _profile(profile)
    rows = [
        _recommend_one(workload, goals, unit_prices or {}, default_prices, new_requests or {})
        for workload in _workloads(snapshot)
    ]
    return tuple(sorted(rows, key=lambda row: row.key))


def simulate_for_chart(
    snapshot: Snapshot,
    namespace: str,
    workload: str,
    settings: HpaSettings,
    *,
    new_cpu_request_cores: float | None = None,
    new_memory_request_bytes: int | None = None,
) -> pd.DataFrame:
    """Replicas over time, observed and replayed before and after, for the report's chart.

    Args:
        snapshot: the snapshot.
        namespace: the HPA's namespace.
        workload: the scale target's name.
        settings: the recommended settings (a row's ``recommended``); unset fields keep the
            current value.
        new_cpu_request_cores: per-pod CPU request to replay ``settings`` with (right-sizing).
        new_memory_request_bytes: per-pod memory request to replay ``settings`` with.

    Returns:
        Columns timestamp, demand (CPU cores), replicas_observed, replicas_current_sim,
        replicas_recommended_sim, saturated (current replay), saturated_recommended.

    Raises:
        UserInputError: no HPA targets that workload, or its data cannot be replayed.
    """
    matches = [
        w for w in _workloads(snapshot) if (w.namespace, w.workload) == (namespace, workload)
    ]
    if not matches:
        raise UserInputError(
            f"no HPA targets {namespace}/{workload} in the snapshot; check the name"
        )
    item = matches[0]
    current_settings = _replay_settings(item.current)
    if current_settings is None or item.cpu_demand.size == 0:
        raise UserInputError(
            f"{namespace}/{workload}: HPA has no CPU/memory target or no usage data"
        )
    _check_requests(item, current_settings)
    recommended = _replay_settings(_merge(item.current, settings))
    assert recommended is not None
    cpu_request = new_cpu_request_cores or item.cpu_request
    memory_request = new_memory_request_bytes or item.memory_request
    current = _replay(item, current_settings, item.cpu_request, item.memory_request)
    after = _replay(item, recommended, cpu_request, memory_request)
    return pd.DataFrame(
        {
            "timestamp": item.timestamps,
            "demand": item.cpu_demand,
            "replicas_observed": item.observed_replicas,
            "replicas_current_sim": current.replicas,
            "replicas_recommended_sim": after.replicas,
            "saturated": current.saturated,
            "saturated_recommended": after.saturated,
        }
    )


# --- preparation -----------------------------------------------------------------------------


def _profile(name: str) -> HpaProfile:
    try:
        return HPA_PROFILES[name]
    except KeyError:
        raise UserInputError(
            f"unknown profile {name!r} for HPA recommendations; "
            f"use one of {', '.join(HPA_PROFILES)}"
        ) from None


def _opt(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _workloads(snapshot: Snapshot) -> list[_Workload]:
    """Join hpas with demand, requests, placement and PDBs: one _Workload per HPA."""
    hpas = snapshot.table("hpas")
    if hpas.empty:
        return []
    step = float(snapshot.step_seconds)
    keys = hpas[["namespace", "kind", "workload"]].astype(str).drop_duplicates()

    usage = usage_with_owners(snapshot)
    usage = usage.astype({"namespace": str, "kind": str, "workload": str}).merge(keys)
    demand: dict[tuple[str, str, str], pd.DataFrame] = {
        (str(ns), str(kd), str(wl)): frame.groupby("timestamp")[["cpu_cores", "memory_bytes"]]
        .sum(min_count=1)
        .sort_index()
        for (ns, kd, wl), frame in usage.groupby(["namespace", "kind", "workload"], observed=True)
    }
    inventory = container_inventory(snapshot)
    if not inventory.empty:
        inventory = inventory.astype({"namespace": str, "kind": str, "workload": str})
    placement = workload_node_groups(snapshot)
    if not placement.empty:
        placement = placement.astype({"namespace": str, "kind": str, "workload": str})
    pdbs = snapshot.table("workloads")
    replicas = snapshot.table("replicas")
    # Row positions per key, found once: filtering millions of replicas samples (and the
    # inventory) once per HPA is quadratic on a large cluster. The replicas' are found when an
    # HPA first has demand to replay (an aggregate snapshot has none: no usage samples).
    replicas_rows: dict[tuple[str, ...], np.ndarray] | None = None
    inventory_rows = _rows_by_key(inventory, ["namespace", "kind", "workload"])
    placement_rows = _rows_by_key(placement, ["namespace", "kind", "workload"])
    pdb_rows = _rows_by_key(pdbs, ["namespace", "kind", "workload"])
    nothing = np.zeros(0, dtype=np.intp)
    # The columns read per HPA, as arrays: a DataFrame row selection per HPA costs more than
    # everything else the loop does.
    if not inventory.empty:
        inventory_container = inventory["container"].astype(str).to_numpy()
        inventory_cpu = inventory["cpu_request_cores"].to_numpy(dtype=float, na_value=np.nan)
        inventory_memory = inventory["memory_request_bytes"].to_numpy(dtype=float, na_value=np.nan)
    placement_group = placement["node_group"].to_numpy() if not placement.empty else None
    pdb_min_available = (
        pdbs["pdb_min_available"].to_numpy(dtype=float, na_value=np.nan) if not pdbs.empty else None
    )

    out = []
    for spec in hpas.to_dict("records"):
        namespace, kind, name = str(spec["namespace"]), str(spec["kind"]), str(spec["workload"])
        key = (namespace, kind, name)
        current = HpaSettings(
            min_replicas=int(spec["min_replicas"]),
            max_replicas=int(spec["max_replicas"]),
            target_cpu_utilization=_opt(spec["target_cpu_utilization"]),
            target_memory_utilization=_opt(spec["target_memory_utilization"]),
            scale_down_stabilization_seconds=int(
                _opt(spec["scale_down_stabilization_seconds"])
                or DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS
            ),
        )
        series = demand.get(key)
        if series is not None and len(series):
            start, end = series.index.min(), series.index.max()
            grid = pd.date_range(start, end, freq=pd.Timedelta(seconds=step))
            # Short scrape gaps are bridged; the HPA kept running through them.
            series = (
                series.reindex(series.index.union(grid))
                .interpolate(method="time", limit_area="inside")
                .reindex(grid)
            )
            cpu_demand = series["cpu_cores"].to_numpy(dtype=float)
            memory_demand = series["memory_bytes"].to_numpy(dtype=float)
        else:
            grid = pd.DatetimeIndex([], tz="UTC")
            cpu_demand, memory_demand = np.zeros(0), np.zeros(0)

        observed = np.full(len(grid), np.nan)
        if not replicas.empty and len(grid):
            if replicas_rows is None:
                replicas_rows = _rows_by_key(replicas, ["namespace", "hpa"])
            history = replicas.iloc[replicas_rows.get((namespace, str(spec["hpa"])), nothing)]
            if not history.empty:
                counts = history.groupby("timestamp")["current_replicas"].last().sort_index()
                aligned = counts.reindex(counts.index.union(grid)).ffill().reindex(grid)
                observed = aligned.to_numpy(dtype=float)

        missing_cpu: tuple[str, ...] = ()
        missing_memory: tuple[str, ...] = ()
        cpu_request = memory_request = None
        rows = inventory_rows.get(key, nothing)
        if len(rows):
            cpu, memory = inventory_cpu[rows], inventory_memory[rows]
            missing_cpu = tuple(sorted(inventory_container[rows][np.isnan(cpu)]))
            missing_memory = tuple(sorted(inventory_container[rows][np.isnan(memory)]))
            # As pandas sums: NaN counts as 0.
            cpu_request = float(np.where(np.isnan(cpu), 0.0, cpu).sum())
            memory_request = float(np.where(np.isnan(memory), 0.0, memory).sum())

        node_group = None
        if placement_group is not None:
            placed = placement_rows.get(key, nothing)
            if len(placed) and isinstance(placement_group[placed[0]], str):
                node_group = str(placement_group[placed[0]])
        pdb_min = np.nan
        if pdb_min_available is not None:
            match = pdb_rows.get(key, nothing)
            if len(match):
                pdb_min = float(pdb_min_available[match[0]])

        out.append(
            _Workload(
                namespace=namespace,
                hpa=str(spec["hpa"]),
                kind=kind,
                workload=name,
                current=current,
                timestamps=grid,
                # A step whose samples are all NaN counts as no use rather than poisoning sums.
                cpu_demand=np.nan_to_num(cpu_demand),
                memory_demand=np.nan_to_num(memory_demand),
                observed_replicas=observed,
                cpu_request=None if missing_cpu or not cpu_request else cpu_request,
                memory_request=None if missing_memory or not memory_request else memory_request,
                missing_cpu=missing_cpu,
                missing_memory=missing_memory,
                node_group=node_group,
                pdb_min_available=pdb_min,
                step_seconds=step,
            )
        )
    return out


def _rows_by_key(frame: pd.DataFrame, columns: list[str]) -> dict[tuple[str, ...], np.ndarray]:
    """Row positions (ascending) of ``frame`` per distinct value of ``columns`` as strings."""
    if frame.empty:
        return {}
    # Categorical columns (replicas: 7M rows) are grouped on their codes as they are: a string
    # copy of them would be the largest allocation of the whole recommend run.
    keys = pd.DataFrame(
        {
            column: frame[column]
            if isinstance(frame[column].dtype, pd.CategoricalDtype)
            else frame[column].astype(str)
            for column in columns
        }
    )
    groups = keys.groupby(columns, sort=False, observed=True).indices
    return {
        tuple(str(part) for part in cast(tuple[Any, ...], key)): np.asarray(rows)
        for key, rows in groups.items()
    }


# --- replay helpers --------------------------------------------------------------------------


def _replay_settings(settings: HpaSettings) -> ReplaySettings | None:
    if settings.target_cpu_utilization is None and settings.target_memory_utilization is None:
        return None
    assert settings.min_replicas is not None and settings.max_replicas is not None
    return ReplaySettings(
        min_replicas=max(1, settings.min_replicas),
        max_replicas=max(max(1, settings.min_replicas), settings.max_replicas),
        target_cpu_utilization=settings.target_cpu_utilization,
        target_memory_utilization=settings.target_memory_utilization,
        scale_down_stabilization_seconds=float(
            settings.scale_down_stabilization_seconds
            if settings.scale_down_stabilization_seconds is not None
            else DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS
        ),
    )


def _to_hpa_settings(settings: ReplaySettings) -> HpaSettings:
    return HpaSettings(
        min_replicas=settings.min_replicas,
        max_replicas=settings.max_replicas,
        target_cpu_utilization=settings.target_cpu_utilization,
        target_memory_utilization=settings.target_memory_utilization,
        scale_down_stabilization_seconds=int(settings.scale_down_stabilization_seconds),
    )


def _merge(current: HpaSettings, proposed: HpaSettings) -> HpaSettings:
    return HpaSettings(
        min_replicas=proposed.min_replicas
        if proposed.min_replicas is not None
        else current.min_replicas,
        max_replicas=proposed.max_replicas
        if proposed.max_replicas is not None
        else current.max_replicas,
        target_cpu_utilization=proposed.target_cpu_utilization
        if proposed.target_cpu_utilization is not None
        else current.target_cpu_utilization,
        target_memory_utilization=proposed.target_memory_utilization
        if proposed.target_memory_utilization is not None
        else current.target_memory_utilization,
        scale_down_stabilization_seconds=proposed.scale_down_stabilization_seconds
        if proposed.scale_down_stabilization_seconds is not None
        else current.scale_down_stabilization_seconds,
    )


def _check_requests(item: _Workload, settings: ReplaySettings) -> None:
    reason = _missing_request_reason(item, settings)
    if reason:
        raise UserInputError(f"{item.namespace}/{item.workload}: {reason}")


def _missing_request_reason(item: _Workload, settings: ReplaySettings) -> str | None:
    if settings.target_cpu_utilization is not None and item.cpu_request is None:
        who = ", ".join(item.missing_cpu) or "its containers"
        return (
            f"HPA {item.hpa} targets CPU at {settings.target_cpu_utilization:.0f}% of request but "
            f"container(s) {who} have no CPU request, so Kubernetes cannot compute utilisation and "
            "never scales; set a CPU request"
        )
    if settings.target_memory_utilization is not None and item.memory_request is None:
        who = ", ".join(item.missing_memory) or "its containers"
        return (
            f"HPA {item.hpa} targets memory at {settings.target_memory_utilization:.0f}% of "
            f"request but container(s) {who} have no memory request, so Kubernetes cannot compute "
            "utilisation and never scales; set a memory request"
        )
    return None


def _replay(
    item: _Workload,
    settings: ReplaySettings,
    cpu_request: float | None,
    memory_request: float | None,
    replica_hourly_usd: float = 0.0,
    floor: float = 0.0,
) -> HpaReplay:
    return simulate_hpa(
        item.cpu_demand,
        cpu_request_cores=cpu_request,
        memory_demand_bytes=item.memory_demand,
        memory_request_bytes=memory_request,
        settings=settings,
        step_seconds=item.step_seconds,
        replica_hourly_usd=replica_hourly_usd,
        utilisation_floor_percent=floor,
    )


# --- findings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Findings:
    saturated_minutes_per_week: float | None  # None = no replica history
    pinned_share: float | None  # share of time at min far below target
    scale_events_per_hour: float | None
    flaps_per_day: float | None
    cpu_p50: float | None  # percent of request, at observed (else replayed) replicas
    cpu_p95: float | None
    memory_p50: float | None
    memory_p95: float | None


def _percentiles(values: npt.NDArray[np.float64]) -> tuple[float | None, float | None]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None, None
    return float(np.percentile(finite, 50)), float(np.percentile(finite, 95))


def _findings(item: _Workload, replay: HpaReplay) -> _Findings:
    """What the observed history says; the current replay fills in where there is no history."""
    has_history = bool(np.isfinite(item.observed_replicas).any())
    replicas = item.observed_replicas if has_history else replay.replicas.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        cpu_util = (
            item.cpu_demand / (replicas * item.cpu_request) * 100.0
            if item.cpu_request
            else np.full(replicas.shape, np.nan)
        )
        mem_util = (
            item.memory_demand / (replicas * item.memory_request) * 100.0
            if item.memory_request
            else np.full(replicas.shape, np.nan)
        )
    cpu_p50, cpu_p95 = _percentiles(cpu_util)
    mem_p50, mem_p95 = _percentiles(mem_util)
    if not has_history:
        return _Findings(None, None, None, None, cpu_p50, cpu_p95, mem_p50, mem_p95)

    current = item.current
    hours = len(replicas) * item.step_seconds / 3600.0
    step_minutes = item.step_seconds / 60.0
    above = np.zeros(replicas.shape, dtype=bool)
    far_below = np.ones(replicas.shape, dtype=bool)
    for util, target in (
        (cpu_util, current.target_cpu_utilization),
        (mem_util, current.target_memory_utilization),
    ):
        if target is None:
            continue
        above |= util > target
        far_below &= util < target / 2
    saturated = (replicas >= (current.max_replicas or 0)) & above
    pinned = (replicas <= (current.min_replicas or 0)) & far_below
    valid = np.isfinite(replicas)
    changes = np.diff(replicas[valid])
    moves = changes[changes != 0]
    window_steps = max(
        1, int((current.scale_down_stabilization_seconds or 0) // item.step_seconds) or 1
    )
    # A flap: a scale-up undone by a scale-down (or the reverse) within the stabilisation window.
    direction = np.sign(changes)
    flaps = 0
    last_move = -(10**9)
    last_sign = 0.0
    for index, sign in enumerate(direction):
        if sign == 0:
            continue
        if last_sign and sign != last_sign and index - last_move <= window_steps:
            flaps += 1
        last_move, last_sign = index, sign
    return _Findings(
        saturated_minutes_per_week=float(saturated.sum()) * step_minutes * 168.0 / hours,
        pinned_share=float(pinned[valid].mean()) if valid.any() else None,
        scale_events_per_hour=moves.size / hours,
        flaps_per_day=flaps * 24.0 / hours,
        cpu_p50=cpu_p50,
        cpu_p95=cpu_p95,
        memory_p50=mem_p50,
        memory_p95=mem_p95,
    )


# --- search ----------------------------------------------------------------------------------


def _ha_floor(item: _Workload, goals: HpaProfile) -> tuple[int, str]:
    floor = goals.min_replicas_floor
    why = f"{goals.name} profile floor"
    if math.isfinite(item.pdb_min_available) and item.pdb_min_available >= 1:
        pdb_floor = int(item.pdb_min_available) + 1
        if pdb_floor >= floor:
            floor = pdb_floor
            why = f"HA floor: PDB minAvailable {int(item.pdb_min_available)}"
    return floor, why


def _kept_target(
    old_target: float | None,
    old_request: float | None,
    new_request: float | None,
    ceiling: float = _MAX_TARGET,
) -> float | None:
    """The target at which the HPA scales at the same absolute usage per replica.

    Capped at ``ceiling`` (the profile band's top): a pod must not run at its whole request
    before the HPA adds replicas, so a much smaller request scales a little earlier instead.
    """
    if old_target is None or old_request is None or new_request is None or new_request <= 0:
        return old_target
    kept = old_target * old_request / new_request
    return float(round(min(ceiling, _MAX_TARGET, max(_MIN_TARGET, kept))))


def _band(target: float | None, band: tuple[float, float]) -> float | None:
    return None if target is None else float(min(band[1], max(band[0], target)))


def _spread(values: Sequence[int], limit: int) -> list[int]:
    unique = sorted(set(values))
    if len(unique) <= limit:
        return unique
    picks = np.unique(np.round(np.linspace(0, len(unique) - 1, limit)).astype(int))
    return [unique[i] for i in picks]


def _candidates(
    item: _Workload,
    current: ReplaySettings,
    goals: HpaProfile,
    floor: int,
    cpu_target: float | None,
    memory_target: float | None,
    cpu_request: float | None,
    memory_request: float | None,
    flapping: bool,
) -> tuple[list[ReplaySettings], int]:
    """The grid of settings to replay, and the peak replicas needed at the chosen targets."""
    peak = 1.0
    if cpu_target is not None and cpu_request:
        peak = max(peak, float(np.nanmax(item.cpu_demand)) / (cpu_request * cpu_target / 100.0))
    if memory_target is not None and memory_request:
        peak = max(
            peak, float(np.nanmax(item.memory_demand)) / (memory_request * memory_target / 100.0)
        )
    peak_need = math.ceil(peak - 1e-9)
    with_headroom = math.ceil(peak * goals.max_headroom - 1e-9)
    mins = _spread(list(range(floor, max(current.min_replicas, floor) + 1)), _MAX_CANDIDATE_MINS)
    top = max(current.max_replicas, with_headroom, floor)
    maxes = _spread(
        [current.max_replicas, peak_need, with_headroom, *range(current.max_replicas, top + 1)],
        _MAX_CANDIDATE_MAXES,
    )
    if with_headroom not in maxes:
        maxes.append(with_headroom)
    windows = {
        current.scale_down_stabilization_seconds,
        float(DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS),
    }
    if flapping:
        windows |= {600.0, 900.0}
    grid = [
        replace(
            current,
            min_replicas=low,
            max_replicas=high,
            target_cpu_utilization=cpu_target,
            target_memory_utilization=memory_target,
            scale_down_stabilization_seconds=window,
        )
        for low in mins
        for high in maxes
        if high >= low
        for window in sorted(windows)
    ]
    return grid, peak_need


def _distance(candidate: ReplaySettings, current: ReplaySettings) -> tuple[int, float]:
    fields = (
        (candidate.min_replicas, current.min_replicas, 1.0),
        (candidate.max_replicas, current.max_replicas, 1.0),
        (
            candidate.scale_down_stabilization_seconds,
            current.scale_down_stabilization_seconds,
            300.0,
        ),
        (candidate.target_cpu_utilization or 0.0, current.target_cpu_utilization or 0.0, 10.0),
        (
            candidate.target_memory_utilization or 0.0,
            current.target_memory_utilization or 0.0,
            10.0,
        ),
    )
    changed = sum(1 for new, old, _ in fields if new != old)
    return changed, sum(abs(new - old) / scale for new, old, scale in fields)


@dataclass(frozen=True)
class _Verdict:
    hard: bool  # saturation goal and HA floor
    soft: bool  # utilisation floor and flapping


def _verdict(
    replay: HpaReplay, settings: ReplaySettings, goals: HpaProfile, floor: int
) -> _Verdict:
    saturated_ok = replay.per_week(replay.saturated_minutes) <= goals.saturated_minutes_per_week
    low_share = (
        replay.low_utilisation_minutes / 60.0 / replay.window_hours if replay.window_hours else 0.0
    )
    floor_ok = settings.min_replicas <= floor or low_share <= goals.low_utilisation_share
    events_per_hour = replay.scale_events / replay.window_hours if replay.window_hours else 0.0
    flap_ok = events_per_hour <= goals.max_scale_events_per_hour
    return _Verdict(hard=saturated_ok and settings.min_replicas >= floor, soft=floor_ok and flap_ok)


def _recommend_one(
    item: _Workload,
    goals: HpaProfile,
    unit_prices: Mapping[str, ResourcePrices],
    default_prices: ResourcePrices,
    new_requests: NewRequests,
) -> HpaRow:
    current_hpa = item.current

    def insufficient(reason: str, **extra: object) -> HpaRow:
        return HpaRow(
            namespace=item.namespace,
            workload=item.workload,
            current=current_hpa,
            recommended=current_hpa,
            status="insufficient_data",
            reason=reason,
            extra={"kind": item.kind, "hpa": item.hpa, **extra},
        )

    current = _replay_settings(current_hpa)
    if current is None:
        return insufficient(
            f"HPA {item.hpa} scales on custom or external metrics, which the replay does not model"
        )
    missing = _missing_request_reason(item, current)
    if missing:
        return insufficient(missing, missing_requests=list(item.missing_cpu or item.missing_memory))
    hours = item.cpu_demand.size * item.step_seconds / 3600.0
    if hours == 0:
        # An aggregate-shape snapshot has per-pod statistics only: nothing to replay.
        return insufficient(
            f"no per-step usage for {item.kind} {item.workload}: the HPA replay needs the "
            "usage time series, and an aggregate-shape snapshot has only per-pod statistics; "
            "fetch with --shape series for HPA recommendations"
        )
    if hours < goals.min_coverage_hours:
        return insufficient(
            f"only {hours:.1f} h of usage for {item.kind} {item.workload} (needs "
            f"{goals.min_coverage_hours:.0f} h); fetch a longer window"
        )

    prices = unit_prices.get(item.node_group or "", default_prices)
    new_cpu, new_memory = new_requests.get((item.namespace, item.kind, item.workload), (None, None))
    cpu_request = new_cpu if new_cpu else item.cpu_request
    memory_request = float(new_memory) if new_memory else item.memory_request
    joint = bool(new_cpu or new_memory)
    hourly_now = prices.hourly_usd(item.cpu_request or 0.0, item.memory_request or 0.0)
    hourly_new = prices.hourly_usd(cpu_request or 0.0, memory_request or 0.0)
    floor, floor_why = _ha_floor(item, goals)

    before = _replay(
        item,
        current,
        item.cpu_request,
        item.memory_request,
        hourly_now,
        goals.utilisation_floor_percent,
    )
    findings = _findings(item, before)
    flapping = (findings.scale_events_per_hour or before.scale_events / before.window_hours) > (
        goals.max_scale_events_per_hour
    )

    if joint:
        ceiling = max(goals.target_band[1], current.target_cpu_utilization or 0.0)
        cpu_target = _kept_target(
            current.target_cpu_utilization, item.cpu_request, cpu_request, ceiling
        )
        memory_target = _kept_target(
            current.target_memory_utilization,
            item.memory_request,
            memory_request,
            max(goals.target_band[1], current.target_memory_utilization or 0.0),
        )
    else:
        cpu_target = _band(current.target_cpu_utilization, goals.target_band)
        memory_target = _band(current.target_memory_utilization, goals.target_band)
    grid, _peak_need = _candidates(
        item,
        current,
        goals,
        floor,
        cpu_target,
        memory_target,
        cpu_request,
        memory_request,
        flapping,
    )
    replays = simulate_hpa_batch(
        item.cpu_demand,
        cpu_request_cores=cpu_request,
        candidates=grid,
        step_seconds=item.step_seconds,
        memory_demand_bytes=item.memory_demand,
        memory_request_bytes=memory_request,
        replica_hourly_usd=hourly_new,
        utilisation_floor_percent=goals.utilisation_floor_percent,
    )
    verdicts = [_verdict(r, s, goals, floor) for r, s in zip(replays, grid, strict=True)]
    indices = range(len(grid))
    pool = [i for i in indices if verdicts[i].hard and verdicts[i].soft]
    pool = pool or [i for i in indices if verdicts[i].hard]
    if not pool:
        least = min(replays[i].saturated_minutes for i in indices)
        pool = [i for i in indices if replays[i].saturated_minutes <= least]
    cheapest = min(replays[i].monthly_cost_usd for i in pool)
    tolerance = max(goals.cost_tolerance_usd, goals.cost_tolerance_share * before.monthly_cost_usd)
    near = [i for i in pool if replays[i].monthly_cost_usd <= cheapest + tolerance]
    best_index = min(near, key=lambda i: (_distance(grid[i], current), replays[i].monthly_cost_usd))
    best, after = grid[best_index], replays[best_index]

    # A raised max gets headroom over the smallest max that meets the goal: the demand seen
    # while saturated was capped by the pods that were there, so the real peak was higher.
    if best.max_replicas > current.max_replicas:
        wanted = math.ceil(best.max_replicas * goals.max_headroom - 1e-9)
        if wanted != best.max_replicas:
            best = replace(best, max_replicas=wanted)
            after = _replay(
                item, best, cpu_request, memory_request, hourly_new, goals.utilisation_floor_percent
            )

    current_verdict = _verdict(before, current, goals, floor)
    unchanged = best == current
    savings = before.monthly_cost_usd - after.monthly_cost_usd
    if unchanged and not joint:
        after = before
        savings = 0.0
    # Same settings are no change for the HPA even when the pods' requests change: the
    # savings then come from the right-sizing rows, counted once in the summary.
    status: Status = "no_change" if unchanged else "ok"
    reason = _reason(
        item,
        current,
        best,
        before,
        after,
        findings,
        savings,
        floor,
        floor_why,
        current_verdict,
        goals,
        cpu_request if joint else None,
    )

    extra = {
        "kind": item.kind,
        "hpa": item.hpa,
        "node_group": item.node_group,
        "replica_hours": {"current": before.replica_hours, "recommended": after.replica_hours},
        "monthly_cost_usd": {
            "current": before.monthly_cost_usd,
            "recommended": after.monthly_cost_usd,
        },
        "scale_events_per_day": {
            "current": before.scale_events_per_day,
            "recommended": after.scale_events_per_day,
        },
        "utilisation": {
            "cpu_p50": findings.cpu_p50,
            "cpu_p95": findings.cpu_p95,
            "memory_p50": findings.memory_p50,
            "memory_p95": findings.memory_p95,
        },
        "findings": {
            "observed_saturated_minutes_per_week": findings.saturated_minutes_per_week,
            "pinned_at_min_share": findings.pinned_share,
            "scale_events_per_hour": findings.scale_events_per_hour,
            "flaps_per_day": findings.flaps_per_day,
        },
        "min_replicas_floor": floor,
        "window_hours": before.window_hours,
        # True: the recommended cost is at the right-sized request, so this row's savings
        # include the request change that the right-sizing rows also count.
        "request_change_included": joint,
        "replayed_requests": {"cpu_request": cpu_request, "memory_request": memory_request},
    }
    return HpaRow(
        namespace=item.namespace,
        workload=item.workload,
        current=current_hpa,
        recommended=current_hpa if unchanged else _to_hpa_settings(best),
        status=status,
        reason=reason,
        monthly_savings_usd=round(savings, 2),
        saturated_minutes={
            "current": round(before.per_week(before.saturated_minutes), 1),
            "recommended": round(after.per_week(after.saturated_minutes), 1),
        },
        extra=extra,
    )


# --- reasons ---------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _reason(
    item: _Workload,
    current: ReplaySettings,
    best: ReplaySettings,
    before: HpaReplay,
    after: HpaReplay,
    findings: _Findings,
    savings: float,
    floor: int,
    floor_why: str,
    verdict: _Verdict,
    goals: HpaProfile,
    new_cpu_request: float | None,
) -> str:
    """One or more sentences a person reads: what is wrong, what changes, what it costs."""
    primary = "CPU" if current.target_cpu_utilization is not None else "memory"
    target = current.target_cpu_utilization or current.target_memory_utilization
    p50 = findings.cpu_p50 if primary == "CPU" else findings.memory_p50
    p95 = findings.cpu_p95 if primary == "CPU" else findings.memory_p95
    saturated_now = (
        findings.saturated_minutes_per_week
        if findings.saturated_minutes_per_week is not None
        else before.per_week(before.saturated_minutes)
    )
    parts: list[str] = []
    if best == current:
        summary = (
            f"{saturated_now:.0f} min/week saturated, {primary} p50 {_pct(p50)} / p95 {_pct(p95)} "
            f"of request vs target {_pct(target)}, "
            f"{before.scale_events_per_day:.0f} scale events/day"
        )
        pinned = findings.pinned_share or 0.0
        hint = ""
        if pinned > 0.5 and current.min_replicas <= floor:
            hint = (
                f"; pinned at min {current.min_replicas} ({floor_why}) {pinned:.0%} of the time: "
                "lower the request (right-sizing) to pay less"
            )
        if verdict.hard and verdict.soft:
            return f"current settings meet the {goals.name} goals in the replay: {summary}{hint}"
        return (
            f"no candidate within the {goals.name} limits does better than the current settings: "
            f"{summary}{hint}"
        )

    if best.max_replicas > current.max_replicas:
        parts.append(
            f"at max {current.max_replicas} for {saturated_now:.0f} min/week with {primary} at "
            f"{_pct(p95)} of request (p95, target {_pct(target)}); max {best.max_replicas} "
            f"leaves {after.per_week(after.saturated_minutes):.0f} min/week saturated in the replay"
        )
    elif best.max_replicas < current.max_replicas:
        parts.append(
            f"max {current.max_replicas} -> {best.max_replicas}: the replay never needs more "
            f"(peak need x{goals.max_headroom:g})"
        )
    if best.min_replicas < current.min_replicas:
        share = findings.pinned_share
        pinned_text = f" {share:.0%} of the time" if share is not None else ""
        parts.append(
            f"pinned at min {current.min_replicas}{pinned_text} with {primary} at {_pct(p50)} of "
            f"request (p50, target {_pct(target)}); min {best.min_replicas} ({floor_why})"
        )
    elif best.min_replicas > current.min_replicas:
        parts.append(f"min {current.min_replicas} -> {best.min_replicas} ({floor_why})")
    elif (findings.pinned_share or 0.0) > 0.5 and best.min_replicas <= floor:
        parts.append(
            f"pinned at min {best.min_replicas} ({floor_why}) {findings.pinned_share:.0%} of the "
            f"time with {primary} at {_pct(p50)} of request"
        )
    if best.scale_down_stabilization_seconds != current.scale_down_stabilization_seconds:
        parts.append(
            f"{before.scale_events_per_day:.0f} scale events/day; scale-down stabilisation "
            f"{current.scale_down_stabilization_seconds:.0f}s -> "
            f"{best.scale_down_stabilization_seconds:.0f}s "
            f"({after.scale_events_per_day:.0f}/day)"
        )
    if best.target_cpu_utilization != current.target_cpu_utilization:
        if new_cpu_request is not None and item.cpu_request is not None:
            old_point = (current.target_cpu_utilization or 0) / 100.0 * item.cpu_request
            new_point = (best.target_cpu_utilization or 0) / 100.0 * new_cpu_request
            change = (
                f"with the right-sized CPU request {format_cpu(item.cpu_request)} -> "
                f"{format_cpu(new_cpu_request)}, target {_pct(current.target_cpu_utilization)} -> "
                f"{_pct(best.target_cpu_utilization)}"
            )
            if abs(new_point - old_point) <= 0.01 * old_point + 0.001:
                change += f" keeps scaling at about {format_cpu(old_point)} per replica"
            else:
                change += (
                    f" (capped at the top of the {goals.name} band) scales at "
                    f"{format_cpu(new_point)} per replica instead of {format_cpu(old_point)}"
                )
            parts.append(change)
        else:
            parts.append(
                f"CPU target {_pct(current.target_cpu_utilization)} -> "
                f"{_pct(best.target_cpu_utilization)} (the {goals.name} band is "
                f"{goals.target_band[0]:.0f}-{goals.target_band[1]:.0f}%)"
            )
    if best.target_memory_utilization != current.target_memory_utilization:
        parts.append(
            f"memory target {_pct(current.target_memory_utilization)} -> "
            f"{_pct(best.target_memory_utilization)}"
        )
    if not parts:
        parts.append("the right-sized request changes the replayed cost")
    if savings > 0.005:
        money = f"saves {format_usd(savings)}/month"
    elif savings < -0.005:
        money = f"costs {format_usd(-savings)}/month more"
    else:
        money = "about the same cost"
    return "; ".join(parts) + f" ({money})"
