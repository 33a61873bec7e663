"""The aggregate shape's leak screen: a cheap statistic over every container, hourly peaks for few.

Leak detection (``recommenders/strategies/kianax.py``, :func:`detect_leaks`) reads hourly
working-set peaks per pod and restart-free segment. Asking hourly peaks of every container is
O(containers x hours) points, what the aggregate shape exists to avoid. So the server first
computes, per pod container and day, the least-squares slope of its working set
(``memory_bytes_slope_max``: the steepest day, one number per pod container, part of the
aggregate statistics); a pod container whose steepest day grows by at least half the smallest
growth the detector calls a leak is a candidate; hourly peaks are then asked for the candidates
only (:func:`leak_jobs`), at most :data:`MAX_CANDIDATES` of them (the steepest first) in at
most :data:`MAX_QUERY_CHARS` characters per request, so the request count has a fixed bound
whatever the cluster's size. A leak grows on most of its days, so its steepest day passes the
screen unless a restart falls inside every day.

Pure planning (no I/O): :mod:`.fetch` sends the jobs.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from kianax_capacity.sources.prometheus.plan import QueryJob, QueryPlan, TimeGrid
from kianax_capacity.sources.prometheus.promql import (
    Selector,
    format_duration,
    label_matcher,
    render,
)

__all__ = [
    "HOUR_SECONDS",
    "MAX_CANDIDATES",
    "MAX_QUERY_CHARS",
    "SCREEN_FRACTION_PER_DAY",
    "SCREEN_MIN_BYTES_PER_DAY",
    "hourly_peaks",
    "leak_candidates",
    "leak_jobs",
]

HOUR_SECONDS = 3600
#: The detector's defaults (KianaxSettings.leak_min_growth_*; no profile changes them) halved,
#: as its own rough first pass halves them: the screen errs towards asking.
SCREEN_FRACTION_PER_DAY = 0.03 * 0.5
SCREEN_MIN_BYTES_PER_DAY = 8 * 2**20 * 0.5
#: At most this many pod containers get hourly peaks (the steepest first).
MAX_CANDIDATES = 2000
#: VictoriaMetrics refuses queries longer than -search.maxQueryLen (16 KiB by default).
MAX_QUERY_CHARS = 12_000


def leak_candidates(parts: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The pod containers the screen passes, steepest first, and how many passed in all.

    Args:
        parts: the combined aggregate parts (one row per pod container: ``namespace``, ``pod``,
            ``container``, ``memory_bytes_slope_max`` in bytes/s, ``memory_bytes_sum``,
            ``samples``).

    Returns:
        ``(candidates, passed)``: at most :data:`MAX_CANDIDATES` rows of namespace, pod,
        container; ``passed`` > ``len(candidates)`` means some were left out.
    """
    columns = ["namespace", "pod", "container"]
    if parts.empty or "memory_bytes_slope_max" not in parts.columns:
        return pd.DataFrame(columns=columns), 0
    slope = parts["memory_bytes_slope_max"].to_numpy(dtype=float) * 86_400.0
    samples = parts["samples"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = parts["memory_bytes_sum"].to_numpy(dtype=float) / samples
    threshold = np.fmax(mean * SCREEN_FRACTION_PER_DAY, SCREEN_MIN_BYTES_PER_DAY)
    with np.errstate(invalid="ignore"):
        passed = np.isfinite(slope) & (slope >= threshold)
    frame = parts.loc[passed, columns].assign(_excess=(slope / threshold)[passed])
    frame = frame.sort_values(["_excess", *columns], ascending=[False, True, True, True])
    return frame[columns].head(MAX_CANDIDATES).reset_index(drop=True), int(passed.sum())


def leak_jobs(
    candidates: pd.DataFrame, plan: QueryPlan, selector: Selector
) -> tuple[QueryJob, ...]:
    """Range queries of the candidates' hourly working-set peaks over the whole window.

    The pods of one namespace share one ``pod=~`` matcher; namespaces are joined with ``or``
    up to :data:`MAX_QUERY_CHARS` per request.
    """
    if candidates.empty:
        return ()
    grid = plan.grid
    hours = int(grid.points * grid.step_seconds // HOUR_SECONDS)
    if hours < 1:
        return ()
    hourly = TimeGrid(grid.end, HOUR_SECONDS, hours)
    # One second short of the hour: (t - 1 h, t] on closed and left-open ranges alike.
    window = format_duration(HOUR_SECONDS - 1)
    pieces: list[str] = []
    for namespace, group in candidates.groupby("namespace", sort=True):
        pods = sorted(set(group["pod"].astype(str)))
        # Split one namespace's pods so that no single piece exceeds the request limit.
        batch: list[str] = []
        for pod in pods:
            batch.append(re.escape(pod))
            if sum(len(p) + 1 for p in batch) > MAX_QUERY_CHARS // 2:
                pieces.append(_piece(str(namespace), batch, selector, window))
                batch = []
        if batch:
            pieces.append(_piece(str(namespace), batch, selector, window))
    jobs: list[QueryJob] = []
    current: list[str] = []
    for piece in pieces:
        if current and sum(len(p) + 4 for p in current) + len(piece) > MAX_QUERY_CHARS:
            jobs.append(_job(current, len(jobs), hourly))
            current = []
        current.append(piece)
    if current:
        jobs.append(_job(current, len(jobs), hourly))
    return tuple(jobs)


def _piece(namespace: str, pods: list[str], selector: Selector, window: str) -> str:
    matchers = (
        label_matcher("namespace", "=", namespace)
        + ", "
        + label_matcher("pod", "=~", "|".join(pods))
        + ", "
    )
    return render(
        "memory_hourly_peaks", selector=selector.namespaced, pods=matchers, hour_window=window
    )


def _job(pieces: list[str], index: int, grid: TimeGrid) -> QueryJob:
    promql = " or ".join(f"({piece})" for piece in pieces)
    return QueryJob("memory_hourly_peaks", promql, index, grid=grid)


def hourly_peaks(matrix: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """The ``memory_peaks`` rows: the candidates' hourly peaks (other containers of their pods,
    answered because the matchers select pods, are dropped)."""
    key = ["namespace", "pod", "container"]
    if matrix.empty or candidates.empty:
        return pd.DataFrame(columns=["timestamp", *key, "memory_bytes"])
    wanted = candidates[key].astype(str).drop_duplicates()
    out = matrix.astype({column: str for column in key}).merge(wanted, on=key, how="inner")
    out = out.rename(columns={"value": "memory_bytes"}).drop_duplicates(["timestamp", *key])
    return out[["timestamp", *key, "memory_bytes"]].sort_values([*key, "timestamp"])
