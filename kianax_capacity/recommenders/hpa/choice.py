"""The HPA choice: replay the current settings and a grid of candidates, pick one -> typed outcome.

:func:`choose` returns an :class:`HpaChoice` (everything the row and its reason are built from:
current and chosen settings, both replays, the findings, the savings, the floor) or an
:class:`HpaRefusal` (why no replay is possible). Reasons and rows are made from these in
:mod:`.rows`, so a reason can never disagree with the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from kianax_capacity.model import ResourcePrices
from kianax_capacity.recommendations import Status
from kianax_capacity.recommenders.hpa.inputs import HpaWorkload, NewRequests
from kianax_capacity.recommenders.hpa.profiles import (
    MAX_CANDIDATE_MAXES,
    MAX_CANDIDATE_MINS,
    MAX_TARGET,
    MIN_TARGET,
    HpaProfile,
)
from kianax_capacity.recommenders.hpa.replay import (
    Findings,
    findings_of,
    missing_request_reason,
    replay,
    replay_settings,
)
from kianax_capacity.recommenders.hpa_sim import (
    DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS,
    HpaReplay,
    ReplaySettings,
    simulate_hpa_batch,
)

__all__ = ["HpaChoice", "HpaRefusal", "Verdict", "choose"]


@dataclass(frozen=True)
class HpaRefusal:
    """No replay: the reason, and what the row's ``extra`` adds."""

    item: HpaWorkload
    reason: str
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class HpaChoice:
    """The outcome of the search for one HPA."""

    item: HpaWorkload
    goals: HpaProfile
    current: ReplaySettings
    best: ReplaySettings
    before: HpaReplay  # the current settings at the current requests
    after: HpaReplay  # the chosen settings at the replayed requests
    findings: Findings
    savings: float  # USD per month, before - after
    floor: int
    floor_why: str
    verdict: Verdict  # of the current settings
    joint: bool  # replayed with right-sized requests
    cpu_request: float | None  # the per-pod requests replayed
    memory_request: float | None

    @property
    def unchanged(self) -> bool:
        return self.best == self.current

    @property
    def status(self) -> Status:
        # Same settings are no change for the HPA even when the pods' requests change: the
        # savings then come from the right-sizing rows, counted once in the summary.
        return "no_change" if self.unchanged else "ok"


def _ha_floor(item: HpaWorkload, goals: HpaProfile) -> tuple[int, str]:
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
    ceiling: float = MAX_TARGET,
) -> float | None:
    """The target at which the HPA scales at the same absolute usage per replica.

    Capped at ``ceiling`` (the profile band's top): a pod must not run at its whole request
    before the HPA adds replicas, so a much smaller request scales a little earlier instead.
    """
    if old_target is None or old_request is None or new_request is None or new_request <= 0:
        return old_target
    kept = old_target * old_request / new_request
    return float(round(min(ceiling, MAX_TARGET, max(MIN_TARGET, kept))))


def _band(target: float | None, band: tuple[float, float]) -> float | None:
    return None if target is None else float(min(band[1], max(band[0], target)))


def _spread(values: Sequence[int], limit: int) -> list[int]:
    unique = sorted(set(values))
    if len(unique) <= limit:
        return unique
    picks = np.unique(np.round(np.linspace(0, len(unique) - 1, limit)).astype(int))
    return [unique[i] for i in picks]


def _candidates(
    item: HpaWorkload,
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
    mins = _spread(list(range(floor, max(current.min_replicas, floor) + 1)), MAX_CANDIDATE_MINS)
    top = max(current.max_replicas, with_headroom, floor)
    maxes = _spread(
        [current.max_replicas, peak_need, with_headroom, *range(current.max_replicas, top + 1)],
        MAX_CANDIDATE_MAXES,
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
class Verdict:
    hard: bool  # saturation goal and HA floor
    soft: bool  # utilisation floor and flapping


def _verdict(replay: HpaReplay, settings: ReplaySettings, goals: HpaProfile, floor: int) -> Verdict:
    saturated_ok = replay.per_week(replay.saturated_minutes) <= goals.saturated_minutes_per_week
    low_share = (
        replay.low_utilisation_minutes / 60.0 / replay.window_hours if replay.window_hours else 0.0
    )
    floor_ok = settings.min_replicas <= floor or low_share <= goals.low_utilisation_share
    events_per_hour = replay.scale_events / replay.window_hours if replay.window_hours else 0.0
    flap_ok = events_per_hour <= goals.max_scale_events_per_hour
    return Verdict(hard=saturated_ok and settings.min_replicas >= floor, soft=floor_ok and flap_ok)


def _refusal(
    item: HpaWorkload, goals: HpaProfile, current: ReplaySettings | None
) -> HpaRefusal | None:
    if current is None:
        return HpaRefusal(
            item,
            f"HPA {item.hpa} scales on custom or external metrics, which the replay does not model",
        )
    missing = missing_request_reason(item, current)
    if missing:
        return HpaRefusal(
            item, missing, {"missing_requests": list(item.missing_cpu or item.missing_memory)}
        )
    hours = item.cpu_demand.size * item.step_seconds / 3600.0
    if hours == 0:
        # No usage samples and no server-side demand (hpa_demand): nothing to replay.
        return HpaRefusal(
            item,
            f"no per-step demand for {item.kind} {item.workload}: the HPA replay needs the "
            "usage time series or the server-side hpa_demand table (aggregate shape), and this "
            "snapshot has neither for it; re-fetch with this version, or with --shape series",
        )
    if hours < goals.min_coverage_hours:
        return HpaRefusal(
            item,
            f"only {hours:.1f} h of usage for {item.kind} {item.workload} (needs "
            f"{goals.min_coverage_hours:.0f} h); fetch a longer window",
        )
    return None


def _targets(
    current: ReplaySettings,
    item: HpaWorkload,
    goals: HpaProfile,
    joint: bool,
    cpu_request: float | None,
    memory_request: float | None,
) -> tuple[float | None, float | None]:
    """The targets the candidates use: kept scale points (joint) or moved into the band."""
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
        return cpu_target, memory_target
    return (
        _band(current.target_cpu_utilization, goals.target_band),
        _band(current.target_memory_utilization, goals.target_band),
    )


def _pick(
    grid: Sequence[ReplaySettings],
    replays: Sequence[HpaReplay],
    current: ReplaySettings,
    goals: HpaProfile,
    floor: int,
    before: HpaReplay,
) -> int:
    """The candidate meeting the goals at the lowest cost; within the cost tolerance of the
    cheapest, the one closest to the current settings."""
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
    return min(near, key=lambda i: (_distance(grid[i], current), replays[i].monthly_cost_usd))


def choose(
    item: HpaWorkload,
    goals: HpaProfile,
    unit_prices: Mapping[str, ResourcePrices],
    default_prices: ResourcePrices,
    new_requests: NewRequests,
) -> HpaChoice | HpaRefusal:
    """Replay the current settings and the candidates; the outcome for one HPA."""
    current = replay_settings(item.current)
    refusal = _refusal(item, goals, current)
    if refusal is not None:
        return refusal
    assert current is not None
    prices = unit_prices.get(item.node_group or "", default_prices)
    new_cpu, new_memory = new_requests.get((item.namespace, item.kind, item.workload), (None, None))
    cpu_request = new_cpu if new_cpu else item.cpu_request
    memory_request = float(new_memory) if new_memory else item.memory_request
    joint = bool(new_cpu or new_memory)
    hourly_now = prices.hourly_usd(item.cpu_request or 0.0, item.memory_request or 0.0)
    hourly_new = prices.hourly_usd(cpu_request or 0.0, memory_request or 0.0)
    floor, floor_why = _ha_floor(item, goals)
    before = replay(
        item,
        current,
        item.cpu_request,
        item.memory_request,
        hourly_now,
        goals.utilisation_floor_percent,
    )
    findings = findings_of(item, before)
    flapping = (findings.scale_events_per_hour or before.scale_events / before.window_hours) > (
        goals.max_scale_events_per_hour
    )
    cpu_target, memory_target = _targets(current, item, goals, joint, cpu_request, memory_request)
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
    best_index = _pick(grid, replays, current, goals, floor, before)
    best, after = grid[best_index], replays[best_index]
    # A raised max gets headroom over the smallest max that meets the goal: the demand seen
    # while saturated was capped by the pods that were there, so the real peak was higher.
    if best.max_replicas > current.max_replicas:
        wanted = math.ceil(best.max_replicas * goals.max_headroom - 1e-9)
        if wanted != best.max_replicas:
            best = replace(best, max_replicas=wanted)
            after = replay(
                item, best, cpu_request, memory_request, hourly_new, goals.utilisation_floor_percent
            )
    savings = before.monthly_cost_usd - after.monthly_cost_usd
    if best == current and not joint:
        after, savings = before, 0.0
    return HpaChoice(
        item=item,
        goals=goals,
        current=current,
        best=best,
        before=before,
        after=after,
        findings=findings,
        savings=savings,
        floor=floor,
        floor_why=floor_why,
        verdict=_verdict(before, current, goals, floor),
        joint=joint,
        cpu_request=cpu_request,
        memory_request=memory_request,
    )
