"""Right-sizing from an aggregate-shape snapshot: per-pod statistics instead of samples.

The Prometheus source's ``aggregate`` shape (see ``docs/prometheus.md``) leaves ``usage`` empty
and writes ``container_stats``: per (namespace, pod, container) the number of steps seen, CPU
and working-set p50/p90/p95/p99/max/mean and the mean throttled ratio, computed by the server
over the whole window. That is O(containers) numbers whatever the window, which is what lets
one machine size 10,000 containers over 14 days. This module pools those per-pod numbers into
one row per (namespace, kind, workload, container), vectorised, and turns them into each
strategy's raw recommendation:

* ``krr-simple``: exact. KRR's CPU is the busiest pod's p95 and its memory the peak x 1.15;
  both are per-pod statistics, so the aggregate shape gives the same answer as the samples.
* ``kianax``: CPU is the busiest season's percentile of the pods pooled (``container_season_stats``:
  the server's per-day, per-season percentiles on throttle-adjusted CPU without each pod's first
  minutes, pooled over pods and days by :func:`~.aggregate_sections.pooled_quantile`), else the
  whole window's pooled percentile (scaled up by the pod's mean throttled ratio when
  throttled), over the profile's target utilisation; memory request the pooled high percentile
  plus the margin, limit the peak plus the margin, OOM kills and batch rules as with samples;
  leaks from the leak screen's hourly peaks (``memory_peaks``) with the series shape's detector.
  A snapshot without those tables says in every row what was not computed.
* ``vpa``: approximate: the pooled p90 CPU and the busiest pod's p99 working set (for VPA's
  p90 of daily peaks), each x 1.15 and VPA's confidence factor ``1 + 1/days``; limits kept
  proportional.
* any other strategy: no numbers; the rows are ``insufficient_data`` with the reason.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from kianax_capacity.recommenders.aggregate_sections import (
    aggregate_leaks,
    knots_of,
    pooled_quantile,
    season_cpu,
    vpa_targets,
)
from kianax_capacity.recommenders.inventory import CONTAINER_KEY
from kianax_capacity.recommenders.strategies import RightsizingStrategy, UsageData
from kianax_capacity.recommenders.strategies._base import RAW_COLUMNS, is_batch
from kianax_capacity.recommenders.strategies.kianax import (
    KianaxSettings,
    kianax_cpu,
    kianax_memory,
    leak_notes,
)
from kianax_capacity.recommenders.strategies.krr_simple import KrrSimpleSettings
from kianax_capacity.recommenders.strategies.vpa import VpaSettings
from kianax_capacity.snapshot import Snapshot

__all__ = [
    "AGGREGATE_NOTE",
    "UNSUPPORTED_REASON",
    "aggregate_inputs",
    "is_aggregate",
    "pooled_container_stats",
]

#: Percentiles the aggregate fetch computes (container_stats columns ``*_p50`` ...).
PERCENTILES = (50, 90, 95, 99)

AGGREGATE_NOTE = (
    "Sized from server-side per-pod statistics (aggregate shape), pooled over the pods and "
    "days as the series shape pools samples."
)
SEASONS_NOTE = " The busiest season's percentile was computed on the server."
NO_SEASONS_NOTE = (
    " The seasons were not computed (this snapshot has no container_season_stats): the whole "
    "window's percentile stands in for the busiest season's; re-fetch with this version."
)
LEAK_SCREEN_NOTE = (
    " Leaks were looked for in the hourly peaks of the containers the server-side leak screen "
    "picked."
)
NO_LEAK_SCREEN_NOTE = (
    " Memory-leak detection was not run (this snapshot has no leak screen); re-fetch with this "
    "version, or with --shape series."
)
VPA_NOTE = (
    "Approximated from server-side per-pod statistics (aggregate shape): the pods' pooled CPU "
    "p90 and the busiest pod's p99 working set, without decay; VPA's decaying histograms need "
    "the samples (--shape series)."
)
VPA_DAILY_NOTE = (
    "VPA's histograms rebuilt from server-side per-pod, per-day statistics (aggregate shape): "
    "CPU p90 pooled from each day's percentiles with VPA's decay at the day's middle, memory "
    "p90 of the per-pod daily peaks; VPA's exact decaying histograms need the samples "
    "(--shape series)."
)
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
    stats = snapshot.table("container_stats")
    pods = snapshot.table("pods")[
        ["namespace", "pod", "kind", "workload", "first_seen", "last_seen"]
    ]
    frame = stats.merge(pods, on=["namespace", "pod"], how="inner")
    for column in CONTAINER_KEY:
        frame[column] = frame[column].astype(str)
    lookup = pd.Series(np.arange(len(data.containers)), index=data.containers)
    cid = lookup.reindex(pd.MultiIndex.from_frame(frame[CONTAINER_KEY])).to_numpy()
    keep = ~np.isnan(cid.astype("float64"))
    frame = frame.loc[keep].reset_index(drop=True)
    frame["cid"] = cid[keep].astype("int64")
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
        components = _daily_components(daily, pods, data)
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


def _daily_components(daily: pd.DataFrame, pods: pd.DataFrame, data: UsageData) -> pd.DataFrame:
    """``container_daily_stats`` rows with their container's cid (rows of unknown pods dropped)."""
    frame = daily.merge(pods[["namespace", "pod", "kind", "workload"]], on=["namespace", "pod"])
    for column in CONTAINER_KEY:
        frame[column] = frame[column].astype(str)
    lookup = pd.Series(np.arange(len(data.containers)), index=data.containers)
    cid = lookup.reindex(pd.MultiIndex.from_frame(frame[CONTAINER_KEY])).to_numpy()
    keep = ~np.isnan(cid.astype("float64"))
    frame = frame.loc[keep].reset_index(drop=True)
    frame["cid"] = cid[keep].astype("int64")
    return frame


def _epoch(times: pd.Series) -> np.ndarray:
    values = pd.to_datetime(times, utc=True)
    return np.asarray(values.astype("int64"), dtype="float64") / _per_second(values)


def _per_second(values: pd.Series) -> float:
    unit = getattr(values.dtype, "unit", "ns")
    return {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[unit]


def _column_for(prefix: str, percentile: float) -> str:
    """The statistic column at or above ``percentile`` (``max`` above p99)."""
    for p in PERCENTILES:
        if percentile <= p:
            return f"{prefix}_p{p}"
    return f"{prefix}_max"


def _pooled(column: str) -> str:
    """The pooled-over-pods column of a percentile column (the max stays the max)."""
    prefix, _, label = column.rpartition("_")
    return f"{prefix}_pooled_{label}" if label.startswith("p") else column


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
    settings = chosen.settings
    pooled, busiest = pooled_container_stats(snapshot, data, settings.min_samples)
    index = busiest.index
    inventory = data.inventory_by_cid().reindex(index)
    raw = pd.DataFrame(index=index, columns=list(RAW_COLUMNS), dtype="float64")
    unsupported: str | None = None
    if isinstance(settings, KrrSimpleSettings):
        _krr_simple(raw, busiest, settings)
    elif isinstance(settings, KianaxSettings):
        batch = np.asarray(is_batch(data.containers))[index.to_numpy()]
        seasonal = season_cpu(snapshot, data, settings)
        leaks = aggregate_leaks(snapshot, data, settings).reindex(index)
        screened = "leak_screen" in (snapshot.manifest.extra.get("prometheus") or {}) or not (
            snapshot.table("memory_peaks").empty
        )
        _kianax(raw, busiest, inventory, batch, settings, seasonal, leaks, screened)
    elif isinstance(settings, VpaSettings):
        _vpa(raw, busiest, pooled, inventory, vpa_targets(snapshot, data, settings), snapshot)
    else:
        unsupported = UNSUPPORTED_REASON.format(strategy=chosen.name)
    stats = data.keyed(pooled)
    # Containers without statistics have no stats row at all: "no usage samples were found".
    return data, stats[stats["rows"].notna()], data.keyed(raw), unsupported


def _krr_simple(raw: pd.DataFrame, busiest: pd.DataFrame, settings: KrrSimpleSettings) -> None:
    if settings.cpu_percentile != 95.0:
        raw["cpu_request"] = busiest[_column_for("cpu_cores", settings.cpu_percentile)]
    else:
        raw["cpu_request"] = busiest["cpu_cores_p95_all_pods"]
    peak = busiest["memory_bytes_max_all_pods"]
    raw["memory_request"] = peak * (1.0 + settings.memory_buffer_percentage / 100.0)
    raw["cpu_limit"] = np.nan
    raw["memory_limit"] = raw["memory_request"]
    raw["ev_cpu_busiest_pod_percentile_cores"] = raw["cpu_request"]
    raw["ev_memory_peak_bytes"] = peak


def _kianax(
    raw: pd.DataFrame,
    busiest: pd.DataFrame,
    inventory: pd.DataFrame,
    batch: np.ndarray,
    settings: KianaxSettings,
    seasonal: tuple[pd.Series, pd.Series],
    leaks: pd.DataFrame,
    screened: bool,
) -> None:
    throttled = busiest["throttled_ratio_max"].fillna(0.0) > settings.throttle_threshold
    service_column = _column_for("cpu_cores", settings.cpu_percentile)
    batch_column = _column_for("cpu_cores", settings.batch_cpu_percentile)
    window_cpu = busiest[f"cpu_adj_{service_column}"].where(
        throttled, busiest[_pooled(service_column)]
    )
    batch_cpu = busiest[f"cpu_adj_{batch_column}"].where(throttled, busiest[_pooled(batch_column)])
    # The busiest season's percentile where the server computed the seasons (as on samples:
    # too few steps in every season falls back to the whole window's).
    season_value, season_name = seasonal
    service_cpu = season_value.reindex(raw.index).fillna(window_cpu)
    cpu_request, cpu_limit = kianax_cpu(
        settings, service=service_cpu, batch=batch_cpu, is_batch=batch, index=raw.index
    )
    memory_percentile = busiest[_pooled(_column_for("memory_bytes", settings.memory_percentile))]
    peak = busiest["memory_bytes_max"]
    leaking = leaks["leak"].astype("boolean").fillna(False).astype(bool)
    oom = (inventory["oom_kills"].fillna(0) > 0) & ~leaking
    slope = leaks["slope_bytes_per_day"].astype("float64")
    baseline = leaks["baseline_bytes"].astype("float64")
    memory_request, memory_limit = kianax_memory(
        settings,
        percentile=memory_percentile,
        peak=peak,
        inventory=inventory,
        oom=oom,
        leaking=leaking,
        batch=pd.Series(batch, index=raw.index),
        leak_growth=(slope, baseline),
    )
    raw["cpu_request"] = cpu_request
    raw["cpu_limit"] = cpu_limit
    raw["memory_request"] = memory_request
    raw["memory_limit"] = memory_limit
    raw["leak"] = leaking
    raw["ev_cpu_busiest_pod_percentile_cores"] = busiest[service_column]
    raw["ev_cpu_busiest_season_percentile_cores"] = season_value.reindex(raw.index)
    raw["ev_cpu_busiest_season"] = season_name.reindex(raw.index)
    raw["ev_memory_percentile_bytes"] = memory_percentile
    raw["ev_memory_peak_bytes"] = peak
    raw["ev_leak_slope_bytes_per_day"] = slope
    raw["ev_leak_segments"] = leaks["segments"]
    raw["ev_leak_baseline_bytes"] = baseline.where(leaking)
    current_limit = inventory["memory_limit_bytes"]
    with np.errstate(divide="ignore", invalid="ignore"):
        raw["ev_leak_restart_days_today"] = ((current_limit - baseline) / slope).where(leaking)
        raw["ev_leak_restart_days_recommended"] = ((memory_limit - baseline) / slope).where(leaking)
    raw["ev_shape"] = "aggregate"
    seasons_known = bool(season_value.reindex(raw.index).notna().any())
    note = (
        AGGREGATE_NOTE
        + (SEASONS_NOTE if seasons_known else NO_SEASONS_NOTE)
        + (LEAK_SCREEN_NOTE if screened else NO_LEAK_SCREEN_NOTE)
    )
    notes = pd.Series(note, index=raw.index, dtype="object")
    throttle_note = (
        " CPU was throttled (mean throttled-period ratio above "
        f"{settings.throttle_threshold:.0%} in a pod), so the request is sized on usage scaled "
        "up by that ratio."
    )
    oom_note = (
        " It was OOM-killed in the window, so the memory limit is raised above the old limit "
        "and peak."
    )
    notes[throttled] = notes[throttled] + throttle_note
    notes[oom] = notes[oom] + oom_note
    if leaking.any():
        notes[leaking] = notes[leaking] + " " + leak_notes(raw[leaking])
    raw["note"] = notes


def _vpa(
    raw: pd.DataFrame,
    busiest: pd.DataFrame,
    pooled: pd.DataFrame,
    inventory: pd.DataFrame,
    targets: tuple[pd.Series, pd.Series, pd.Series] | None,
    snapshot: Snapshot,
) -> None:
    # VPA's confidence: min(lifespan, samples x step) in days, as on samples.
    step_days = max(snapshot.step_seconds, 1) / 86_400.0
    lifespan = pooled["history_hours"].reindex(raw.index) / 24.0
    samples = pooled["rows"].reindex(raw.index)
    if targets is not None:  # VPA's histograms rebuilt from the per-day statistics
        cpu_target, memory_target, samples = (t.reindex(raw.index) for t in targets)
        note = VPA_DAILY_NOTE
    else:  # an older aggregate snapshot: the pooled p90 CPU, the busiest pod's p99 memory
        cpu_target, memory_target = busiest["cpu_cores_pooled_p90"], busiest["memory_bytes_p99"]
        note = VPA_NOTE
    days = np.maximum(np.fmin(lifespan, samples * step_days), step_days)
    confidence = 1.0 + 1.0 / days
    cpu = cpu_target * 1.15 * confidence
    memory = memory_target * 1.15 * confidence
    raw["ev_cpu_histogram_p90_cores"] = cpu_target
    raw["ev_memory_daily_peak_p90_bytes"] = memory_target
    raw["ev_confidence_days"] = days
    raw["cpu_request"] = cpu
    raw["memory_request"] = memory
    # VPA keeps limits proportional to requests; an unset limit stays unset.
    cpu_scale = cpu / inventory["cpu_request_cores"].where(inventory["cpu_request_cores"] > 0)
    memory_scale = memory / inventory["memory_request_bytes"].where(
        inventory["memory_request_bytes"] > 0
    )
    raw["cpu_limit"] = inventory["cpu_limit_cores"] * cpu_scale
    raw["memory_limit"] = inventory["memory_limit_bytes"] * memory_scale
    raw["ev_shape"] = "aggregate"
    raw["note"] = note
