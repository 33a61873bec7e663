"""HPA recommendations: min, max, target and stabilisation, simulated before they are proposed.

For every HorizontalPodAutoscaler in the snapshot:

1. :mod:`.inputs` builds the workload's demand series (total CPU cores and memory bytes over its
   pods at each step) and its per-pod requests (summed over containers, the pod spec seen last).
2. :mod:`.replay` reads the findings off the observed history: minutes at max with utilisation
   above target (saturated: Kubernetes clamps desired to max, so saturation shows as current =
   max while utilisation stays above target), minutes pinned at min far below target, scale
   events and up-down flaps within the stabilisation window, utilisation p50/p95 against the
   target, and HPAs that target utilisation of a container with no request (they cannot scale).
3. :mod:`.choice` replays the current settings and a grid of candidates with :mod:`hpa_sim`, and
   picks the candidate that meets the profile's goals (:data:`HPA_PROFILES`, :mod:`.profiles`)
   at the lowest cost; among candidates within the cost tolerance of the cheapest, the one
   closest to the current settings (``no_change`` when that is the current settings). The
   outcome is typed (:class:`~.choice.HpaChoice` or :class:`~.choice.HpaRefusal`).
4. :mod:`.rows` turns the outcome into the row and its reason.

The target is treated as a headroom choice made by the team, not a cost knob: the search keeps
it (moving it only into the profile's band) and varies min, max and stabilisation. Joint with
right-sizing, a new request changes the utilisation denominator, so the target moves to keep the
scale point (the absolute cores per replica at which the HPA scales) where it was.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from kianax_capacity.errors import UserInputError
from kianax_capacity.model import ResourcePrices
from kianax_capacity.recommendations import HpaRow, HpaSettings
from kianax_capacity.recommenders.hpa.choice import choose
from kianax_capacity.recommenders.hpa.inputs import NewRequests, hpa_workloads
from kianax_capacity.recommenders.hpa.profiles import HPA_PROFILES, HpaProfile
from kianax_capacity.recommenders.hpa.profiles import profile as hpa_profile
from kianax_capacity.recommenders.hpa.replay import (
    check_requests,
    merge_settings,
    replay,
    replay_settings,
)
from kianax_capacity.recommenders.hpa.rows import hpa_row
from kianax_capacity.snapshot import Snapshot

__all__ = [
    "HPA_PROFILES",
    "HpaProfile",
    "NewRequests",
    "recommend_hpa",
    "simulate_for_chart",
]


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
    goals = hpa_profile(profile)
    rows = [
        hpa_row(choose(workload, goals, unit_prices or {}, default_prices, new_requests or {}))
        for workload in hpa_workloads(snapshot)
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
        w for w in hpa_workloads(snapshot) if (w.namespace, w.workload) == (namespace, workload)
    ]
    if not matches:
        raise UserInputError(
            f"no HPA targets {namespace}/{workload} in the snapshot; check the name"
        )
    item = matches[0]
    current_settings = replay_settings(item.current)
    if current_settings is None or item.cpu_demand.size == 0:
        raise UserInputError(
            f"{namespace}/{workload}: HPA has no CPU/memory target or no usage data"
        )
    check_requests(item, current_settings)
    recommended = replay_settings(merge_settings(item.current, settings))
    assert recommended is not None
    cpu_request = new_cpu_request_cores or item.cpu_request
    memory_request = new_memory_request_bytes or item.memory_request
    current = replay(item, current_settings, item.cpu_request, item.memory_request)
    after = replay(item, recommended, cpu_request, memory_request)
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
