"""Replaying HPA settings, and what the observed history says (findings)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from kianax_capacity.errors import UserInputError
from kianax_capacity.recommendations import HpaSettings
from kianax_capacity.recommenders.hpa.inputs import HpaWorkload
from kianax_capacity.recommenders.hpa_sim import (
    DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS,
    HpaReplay,
    ReplaySettings,
    simulate_hpa,
)

__all__ = [
    "Findings",
    "check_requests",
    "findings_of",
    "merge_settings",
    "missing_request_reason",
    "replay",
    "replay_settings",
    "to_hpa_settings",
]


def replay_settings(settings: HpaSettings) -> ReplaySettings | None:
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


def to_hpa_settings(settings: ReplaySettings) -> HpaSettings:
    return HpaSettings(
        min_replicas=settings.min_replicas,
        max_replicas=settings.max_replicas,
        target_cpu_utilization=settings.target_cpu_utilization,
        target_memory_utilization=settings.target_memory_utilization,
        scale_down_stabilization_seconds=int(settings.scale_down_stabilization_seconds),
    )


def merge_settings(current: HpaSettings, proposed: HpaSettings) -> HpaSettings:
    """``proposed``'s settings where it sets them, ``current``'s elsewhere."""
    merged = {}
    for setting in fields(HpaSettings):
        value = getattr(proposed, setting.name)
        merged[setting.name] = getattr(current, setting.name) if value is None else value
    return HpaSettings(**merged)


def check_requests(item: HpaWorkload, settings: ReplaySettings) -> None:
    reason = missing_request_reason(item, settings)
    if reason:
        raise UserInputError(f"{item.namespace}/{item.workload}: {reason}")


def missing_request_reason(item: HpaWorkload, settings: ReplaySettings) -> str | None:
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


def replay(
    item: HpaWorkload,
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


@dataclass(frozen=True)
class Findings:
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


def findings_of(item: HpaWorkload, replay: HpaReplay) -> Findings:
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
        return Findings(None, None, None, None, cpu_p50, cpu_p95, mem_p50, mem_p95)

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
    moved_at = np.flatnonzero(changes)
    moves = changes[moved_at]
    window_steps = max(
        1, int((current.scale_down_stabilization_seconds or 0) // item.step_seconds) or 1
    )
    # A flap: a scale-up undone by a scale-down (or the reverse) within the stabilisation
    # window, that is a move whose direction differs from the previous move's, at most
    # window_steps after it.
    sign = np.sign(moves)
    flaps = int(np.count_nonzero((sign[1:] != sign[:-1]) & (np.diff(moved_at) <= window_steps)))
    return Findings(
        saturated_minutes_per_week=float(saturated.sum()) * step_minutes * 168.0 / hours,
        pinned_share=float(pinned[valid].mean()) if valid.any() else None,
        scale_events_per_hour=moves.size / hours,
        flaps_per_day=flaps * 24.0 / hours,
        cpu_p50=cpu_p50,
        cpu_p95=cpu_p95,
        memory_p50=mem_p50,
        memory_p95=mem_p95,
    )
