"""The aggregate shape's leak screen: a cheap statistic over every container, hourly peaks for few.

Leak detection (``recommenders/strategies/kianax.py``, :func:`detect_leaks`) reads hourly
working-set peaks per pod and restart-free segment. Asking hourly peaks of every container is
O(containers x hours) points, what the aggregate shape exists to avoid. So the server first
computes, per pod container and day, the least-squares slope of its working set
(``memory_bytes_slope``, a daily part: one number per pod container and day); a pod container
that grew by at least half the smallest growth the detector calls a leak on a third of its days
or more is a candidate (:func:`leak_candidates`); hourly peaks are then asked for the
candidates only (:func:`leak_jobs`), at most :data:`MAX_CANDIDATES` of them in at most
:data:`MAX_QUERY_CHARS` characters per request, so the request count has a fixed bound
whatever the cluster's size (the manifest's ``leak_screen`` and a warning say when candidates
were left out).

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
    quote_string,
    render,
)

__all__ = [
    "HOUR_SECONDS",
    "MAX_CANDIDATES",
    "MAX_QUERY_CHARS",
    "SCREEN_DAILY_PARTS",
    "SCREEN_FRACTION_PER_DAY",
    "SCREEN_GROWING_SHARE",
    "SCREEN_MIN_BYTES_PER_DAY",
    "SCREEN_MIN_HOURS",
    "SCREEN_PARTS",
    "hourly_peaks",
    "leak_candidates",
    "leak_jobs",
]

HOUR_SECONDS = 3600
#: The detector's defaults (KianaxSettings.leak_min_growth_*; no profile changes them) halved,
#: as its own rough first pass halves them: the screen errs towards asking.
SCREEN_FRACTION_PER_DAY = 0.03 * 0.5
SCREEN_MIN_BYTES_PER_DAY = 8 * 2**20 * 0.5
#: A candidate grew by the threshold on at least this share of the days it was seen: a leak
#: grows between restarts, and with a restart every ~2 days half its days still grow.
SCREEN_GROWING_SHARE = 1 / 3
#: KianaxSettings.leak_min_segment_hours (no profile changes it): shorter pods are not judged.
SCREEN_MIN_HOURS = 24.0
#: At most this many pod containers get hourly peaks (the most persistent growth first).
MAX_CANDIDATES = 2000
#: VictoriaMetrics refuses queries longer than -search.maxQueryLen (16 KiB by default).
MAX_QUERY_CHARS = 12_000
#: The template and matchers around one namespace's pod regex, with room for the selector.
_PIECE_OVERHEAD = 1_000


#: The window's combined parts :func:`leak_candidates` reads (the mean working set, time seen),
#: and the daily part: the fetch hands it these columns only.
SCREEN_PARTS = ("memory_bytes_sum", "samples")
SCREEN_DAILY_PARTS = ("memory_bytes_slope",)


def leak_candidates(
    daily: list[pd.DataFrame], parts: pd.DataFrame, step_seconds: float
) -> tuple[pd.DataFrame, int]:
    """The pod containers the screen passes, most persistent growth first, and how many passed.

    A pod container passes when its working set grew by at least the screen's threshold on at
    least :data:`SCREEN_GROWING_SHARE` of the days it was seen (and on one day at least), and
    was seen for :data:`SCREEN_MIN_HOURS` at least: a leak grows day after day between restarts,
    a busy container's one steep day does not, and the detector judges no pod shorter than that
    (its ``leak_min_segment_hours``), so an HPA's pods of a few hours are never candidates.

    Args:
        daily: per aggregate chunk (day), the parts frame with ``memory_bytes_slope`` (bytes/s
            over that day) per ``namespace``, ``pod``, ``container``.
        parts: the whole window's combined parts (``memory_bytes_sum``, ``samples``: the mean
            working set the threshold is relative to, and how long the pod was seen).
        step_seconds: the step of ``samples``.

    Returns:
        ``(candidates, passed)``: at most :data:`MAX_CANDIDATES` rows of namespace, pod,
        container; ``passed`` > ``len(candidates)`` means some were left out.
    """
    columns = ["namespace", "pod", "container"]
    slopes = [
        frame[[*columns, "memory_bytes_slope"]].dropna(subset=["memory_bytes_slope"])
        for frame in daily
        if not frame.empty and "memory_bytes_slope" in frame.columns
    ]
    if not slopes or parts.empty:
        return pd.DataFrame(columns=columns), 0
    days = pd.concat(slopes, ignore_index=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = parts["memory_bytes_sum"].to_numpy(dtype=float) / parts["samples"].to_numpy(
            dtype=float
        )
    seen_hours = parts["samples"].to_numpy(dtype=float) * step_seconds / 3600.0
    means = parts.loc[seen_hours >= SCREEN_MIN_HOURS, columns].assign(
        _mean=mean[seen_hours >= SCREEN_MIN_HOURS]
    )
    days = days.merge(means, on=columns, how="inner")
    threshold = np.fmax(
        days["_mean"].to_numpy(dtype=float) * SCREEN_FRACTION_PER_DAY, SCREEN_MIN_BYTES_PER_DAY
    )
    per_day = days["memory_bytes_slope"].to_numpy(dtype=float) * 86_400.0
    days = days.assign(_growing=per_day >= threshold, _excess=per_day / threshold)
    grouped = days.groupby(columns, sort=False)
    judged = grouped.agg(
        growing=("_growing", "sum"), seen=("_growing", "size"), excess=("_excess", "median")
    )
    passed = judged[
        (judged["growing"] >= 1) & (judged["growing"] >= SCREEN_GROWING_SHARE * judged["seen"])
    ].reset_index()
    passed = passed.assign(_share=passed["growing"] / passed["seen"]).sort_values(
        ["_share", "excess", *columns], ascending=[False, False, True, True, True]
    )
    return passed[columns].head(MAX_CANDIDATES).reset_index(drop=True), len(passed)


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
        # Split one namespace's pods so that no single piece exceeds the request limit
        # (counted as sent: the regex escapes, then the string literal's).
        batch: list[str] = []
        size = 0
        for pod in pods:
            escaped = re.escape(pod)
            length = len(quote_string(escaped)) - 1  # the quotes, less one "|"
            if batch and size + length > MAX_QUERY_CHARS - _PIECE_OVERHEAD:
                pieces.append(_piece(str(namespace), batch, selector, window))
                batch, size = [], 0
            batch.append(escaped)
            size += length
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
