"""Right-sizing from an aggregate-shape snapshot: per-pod statistics instead of samples.

The Prometheus source's ``aggregate`` shape (see ``docs/prometheus.md``) leaves ``usage`` empty
and writes ``container_stats``: per (namespace, pod, container) the number of steps seen, CPU
and working-set p50/p90/p95/p99/max/mean and the mean throttled ratio, computed by the server
over the whole window. That is O(containers) numbers whatever the window, which is what lets
one machine size 10,000 containers over 14 days. This module pools those per-pod numbers into
one row per (namespace, kind, workload, container), vectorised, as a
:class:`~.strategies.ContainerStatistics`, and hands it to the chosen strategy's
``compute_from_statistics``, as the series shape hands :class:`~.strategies.UsageData` to its
``compute``. What each strategy makes of them is in the strategy's module:

* ``krr-simple``: exact (its rule is per-pod statistics).
* ``kianax``: the busiest season's pooled percentile (``container_season_stats``), the pooled
  memory percentile and peak, leaks from the leak screen's hourly peaks (``memory_peaks``).
* ``vpa``: its histograms rebuilt from ``container_daily_stats``, else an approximation.
* a strategy whose ``compute_from_statistics`` returns None: no numbers; the rows are
  ``insufficient_data`` with :data:`UNSUPPORTED_REASON`.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from kianax_capacity.recommenders.strategies import (
    ContainerStatistics,
    RightsizingStrategy,
    UsageData,
)
from kianax_capacity.recommenders.strategies._base import PERCENTILES
from kianax_capacity.recommenders.strategies.pooling import knots_of, pooled_quantile, with_cid
from kianax_capacity.snapshot import Snapshot

__all__ = [
    "UNSUPPORTED_REASON",
    "aggregate_inputs",
    "is_aggregate",
    "pooled_container_stats",
]

UNSUPPORTED_REASON = (
    "The {strategy} strategy needs usage samples, and this snapshot has only server-side "
    "statistics (aggregate shape); fetch with --shape series, or use --strategy kianax or "
    "krr-simple."
)


def is_aggregate(snapshot: Snapshot) -> bool:
    """True for a snapshot whose usage is per-pod statistics (``container_stats``), not samples."""
    return snapshot.manifest.shape == "aggregate" or (
        snapshot.table("usage").empty and not snapshot.table("container_stats").empty
    )


def pooled_container_stats(
    snapshot: Snapshot, data: UsageData, min_samples: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per container (cid-indexed, cid = position in ``data.containers``), pooled over its pods.

    Returns:
        ``(stats, busiest)``. ``stats`` has the columns right-sizing rows read as evidence
        (``cpu_samples``, ``memory_samples``, ``rows``, ``first``, ``last``, ``cpu_max``,
        ``memory_max``, ``throttled_ratio_mean``, ``throttled_sample_share`` (NaN: not
        measured), ``cpu_p50/p95/p99``, ``memory_p50/p95/p99``, ``replicas``,
        ``history_hours``); ``busiest`` the highest per-pod value of every ``container_stats``
        statistic, counting only pods with at least ``min_samples`` steps where there is one,
        and ``throttled_ratio`` the throttled-ratio-adjusted CPU columns ``cpu_adj_*``.
    """
    frame = with_cid(
        snapshot.table("container_stats"), snapshot, data, pod_columns=("first_seen", "last_seen")
    )
    samples = frame["samples"].to_numpy(dtype="float64")
    frame["first"] = _epoch(frame["first_seen"])
    frame["last"] = _epoch(frame["last_seen"])
    throttled = frame["cpu_throttled_ratio_mean"].to_numpy(dtype="float64")
    frame["_throttled_weighted"] = np.where(np.isfinite(throttled), throttled * samples, 0.0)
    frame["_throttled_samples"] = np.where(np.isfinite(throttled), samples, 0.0)

    grouped = frame.groupby("cid", sort=True)
    pooled = grouped.agg(
        rows=("samples", "sum"),
        first=("first", "min"),
        last=("last", "max"),
        cpu_max=("cpu_cores_max", "max"),
        memory_max=("memory_bytes_max", "max"),
        _tw=("_throttled_weighted", "sum"),
        _ts=("_throttled_samples", "sum"),
    )
    pooled["cpu_samples"] = pooled["rows"]
    pooled["memory_samples"] = pooled["rows"]
    pooled["throttled_ratio_mean"] = pooled["_tw"] / pooled["_ts"].where(pooled["_ts"] > 0)
    pooled["throttled_sample_share"] = np.nan  # needs samples
    pooled = pooled.drop(columns=["_tw", "_ts"])

    statistic_columns = [
        f"{name}_{label}"
        for name in ("cpu_cores", "memory_bytes")
        for label in (*(f"p{p}" for p in PERCENTILES), "max", "mean")
    ]
    values = frame[statistic_columns]
    busiest_all = values.groupby(frame["cid"]).max()
    long_lived = samples >= min_samples
    busiest = values[long_lived].groupby(frame["cid"][long_lived]).max()
    busiest = busiest.reindex(busiest_all.index)
    busiest = busiest.fillna(busiest_all)
    # Per-pod CPU scaled up by the pod's throttled ratio (throttled usage is capped at the limit).
    ratio = np.nan_to_num(throttled, nan=0.0)
    for p in (*PERCENTILES, "max"):
        column = f"cpu_cores_p{p}" if p != "max" else "cpu_cores_max"
        adjusted = frame[column] * (1.0 + ratio)
        busiest[f"cpu_adj_{column}"] = (
            adjusted.where(samples >= min_samples).groupby(frame["cid"]).max()
        ).fillna(adjusted.groupby(frame["cid"]).max())
    busiest["throttled_ratio_max"] = pd.Series(ratio, index=frame.index).groupby(frame["cid"]).max()
    # The pods pooled, as the series shape pools their samples (see pooled_quantile): over the
    # pods and days of container_daily_stats where the snapshot has it (exact day pooling),
    # else over the pods' whole-window quantiles (each the max of its daily ones).
    daily = snapshot.table("container_daily_stats")
    components = frame
    weights = {"cpu_cores": samples, "memory_bytes": samples}
    if not daily.empty:
        components = with_cid(daily, snapshot, data)
        weights = {
            "cpu_cores": components["cpu_cores_count"].to_numpy(dtype="float64"),
            "memory_bytes": components["samples"].to_numpy(dtype="float64"),
        }
    groups = components["cid"].to_numpy(dtype="int64")
    for prefix in ("cpu_cores", "memory_bytes"):
        knots = knots_of(components, prefix)
        for p in PERCENTILES:
            busiest[f"{prefix}_pooled_p{p}"] = pooled_quantile(
                groups, knots, weights[prefix], p / 100.0
            ).reindex(busiest.index)
    # KRR takes every pod, however short-lived: its exact rule.
    busiest["cpu_cores_p95_all_pods"] = busiest_all["cpu_cores_p95"]
    busiest["memory_bytes_max_all_pods"] = busiest_all["memory_bytes_max"]

    for name, prefix in (("cpu", "cpu_cores"), ("memory", "memory_bytes")):
        for label in ("p50", "p95", "p99"):
            pooled[f"{name}_{label}"] = busiest[f"{prefix}_{label}"]
    start, end = snapshot.window
    window_samples = int((end - start).total_seconds() // max(snapshot.step_seconds, 1)) + 1
    pooled["replicas"] = pooled["rows"] / max(window_samples, 1)
    pooled["history_hours"] = (pooled["last"] - pooled["first"]) / 3600.0
    return pooled, busiest


def _epoch(times: pd.Series) -> np.ndarray:
    values = pd.to_datetime(times, utc=True)
    return np.asarray(values.astype("int64"), dtype="float64") / _per_second(values)


def _per_second(values: pd.Series) -> float:
    unit = getattr(values.dtype, "unit", "ns")
    return {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[unit]


def aggregate_inputs(
    snapshot: Snapshot, data: UsageData, chosen: RightsizingStrategy
) -> tuple[UsageData, pd.DataFrame, pd.DataFrame, str | None]:
    """What :func:`recommend_rightsizing` needs on an aggregate snapshot.

    Args:
        snapshot: an aggregate-shape snapshot.
        data: ``prepare_usage(snapshot)`` (its usage is empty; its inventory is complete).
        chosen: the strategy, with its profile's settings.

    Returns:
        ``(data, stats, raw, unsupported)``: ``data`` with every inventory container as a cid,
        ``stats`` keyed by CONTAINER_KEY (evidence, as from samples), ``raw`` the strategy's raw
        recommendation keyed by CONTAINER_KEY, and a reason when the strategy cannot work from
        statistics (then ``raw`` is all NaN).
    """
    data = replace(data, containers=pd.MultiIndex.from_frame(data.inventory.index.to_frame()))
    pooled, busiest = pooled_container_stats(snapshot, data, chosen.settings.min_samples)
    inventory = data.inventory_by_cid().reindex(busiest.index)
    statistics = ContainerStatistics(snapshot, data, pooled, busiest, inventory)
    raw = chosen.compute_from_statistics(statistics)
    unsupported: str | None = None
    if raw is None:
        raw = statistics.raw_frame()
        unsupported = UNSUPPORTED_REASON.format(strategy=chosen.name)
    stats = data.keyed(pooled)
    # Containers without statistics have no stats row at all: "no usage samples were found".
    return data, stats[stats["rows"].notna()], data.keyed(raw), unsupported
