"""HPA profiles: what each recommendation profile asks of an autoscaler, and the search's limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kianax_capacity.errors import UserInputError

__all__ = [
    "HPA_PROFILES",
    "MAX_CANDIDATE_MAXES",
    "MAX_CANDIDATE_MINS",
    "MAX_TARGET",
    "MIN_TARGET",
    "HpaProfile",
    "profile",
]


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
MAX_TARGET = 100.0
MIN_TARGET = 10.0
MAX_CANDIDATE_MINS = 6
MAX_CANDIDATE_MAXES = 10


def profile(name: str) -> HpaProfile:
    try:
        return HPA_PROFILES[name]
    except KeyError:
        raise UserInputError(
            f"unknown profile {name!r} for HPA recommendations; "
            f"use one of {', '.join(HPA_PROFILES)}"
        ) from None
