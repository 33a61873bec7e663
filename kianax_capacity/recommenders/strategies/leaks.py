"""Memory leaks: a working set that keeps growing between restarts (the kianax strategy's).

From samples, :func:`detect_leaks` cuts each pod's memory series into restart-free segments and
measures the Theil-Sen slope of the hourly peaks in each. From server-side statistics
(aggregate shape), :func:`aggregate_leaks` runs the same detector on the hourly peaks
(``memory_peaks``) of the pod containers the fetch's leak screen picked (a per-day slope over
every container, then hourly peaks for the few that grow). :func:`leak_notes` says what a leak
costs and how the recommendation mitigates it until it is fixed.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kianax_capacity.recommenders.strategies._base import UsageData
from kianax_capacity.recommenders.strategies.pooling import with_cid
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.units import MIB

if TYPE_CHECKING:  # the settings' module (kianax) imports this one
    from kianax_capacity.recommenders.strategies.kianax import KianaxSettings

__all__ = ["aggregate_leaks", "detect_leaks", "leak_notes", "theil_sen_slope"]


def theil_sen_slope(x: np.ndarray, y: np.ndarray) -> float:
    """The Theil-Sen slope: the median of the slopes between every pair of points.

    For one regressor this is the exact estimator (scikit-learn's ``TheilSenRegressor`` samples
    subsets at random and solves a spatial median, which is slower and not deterministic here).
    """
    i, j = np.triu_indices(len(x), k=1)
    dx = x[j] - x[i]
    keep = dx != 0
    if not keep.any():
        return float("nan")
    return float(np.median((y[j] - y[i])[keep] / dx[keep]))


def detect_leaks(data: UsageData, settings: KianaxSettings) -> pd.DataFrame:
    """Containers whose working set keeps growing between restarts.

    Each pod's memory series is cut into restart-free segments (a new pod, an OOM kill, or a drop
    below ``restart_drop_fraction`` of the previous sample starts a new one). In every segment of
    at least ``leak_min_segment_hours`` the Theil-Sen slope of the hourly peaks is measured; a
    container leaks when the median slope is above both growth thresholds and most segments grow.
    A cheap first/last-quarter comparison picks the candidate segments so the pairwise-slope
    estimator runs only where growth is plausible.

    Returns:
        Indexed by cid: ``leak`` (bool), ``slope_bytes_per_day``, ``segments``,
        ``baseline_bytes`` (the lowest working set a segment starts at: where a restart puts it).
    """
    columns = ["leak", "slope_bytes_per_day", "segments", "baseline_bytes"]
    empty = pd.DataFrame(columns=columns, index=pd.Index([], name="cid"))
    usage = data.usage[["cid", "pid", "t", "memory_bytes"]].dropna(subset=["memory_bytes"])
    if usage.empty:
        return empty
    usage = usage.sort_values(["pid", "t"], kind="stable")
    previous = usage.groupby("pid")["memory_bytes"].shift()
    restart = (usage["memory_bytes"] < previous * settings.restart_drop_fraction).fillna(False)
    restart = restart | _after_oom_kill(usage, data.oom_events)
    segment = restart.astype("int64").groupby(usage["pid"]).cumsum()
    # One integer per (pod, segment, hour); pods never have a million restarts.
    hour = usage["t"] // 3600
    hourly = (
        usage.assign(segment=segment, hour=hour)
        .groupby(["cid", "pid", "segment", "hour"])["memory_bytes"]
        .max()
        .reset_index()
    )
    seg_keys = ["cid", "pid", "segment"]
    by_segment = hourly.groupby(seg_keys)["hour"]
    hourly["days"] = (hourly["hour"] - by_segment.transform("min")) / 24.0
    starts = hourly[hourly["days"] == 0].groupby("cid")["memory_bytes"].min()
    spans = hourly.groupby(seg_keys)["days"].transform("max")
    judged = hourly[spans * 24.0 >= settings.leak_min_segment_hours]
    if judged.empty:
        return empty
    judged = judged.assign(
        position=judged["days"] / judged.groupby(seg_keys)["days"].transform("max")
    )
    segments = judged.groupby(seg_keys)
    early = judged[judged["position"] <= 0.25].groupby(seg_keys)["memory_bytes"].mean()
    late = judged[judged["position"] >= 0.75].groupby(seg_keys)["memory_bytes"].mean()
    span_days = segments["days"].max()
    median = segments["memory_bytes"].median()
    rough_slope = (late - early) / (span_days * 0.75)
    threshold = np.maximum(
        median * settings.leak_min_growth_fraction_per_day, settings.leak_min_growth_bytes_per_day
    )
    slopes = rough_slope.where(rough_slope < threshold * 0.5)  # clearly flat: keep the rough slope
    candidates = rough_slope.index[rough_slope >= threshold * 0.5]
    if len(candidates):
        indexed = judged.set_index(seg_keys).sort_index()
        for key in candidates:
            part = indexed.loc[key]
            slopes.loc[key] = theil_sen_slope(
                part["days"].to_numpy(), part["memory_bytes"].to_numpy()
            )
    per_segment = pd.DataFrame({"slope": slopes, "threshold": threshold})
    by_container = per_segment.groupby(level="cid")
    result = pd.DataFrame(
        {
            "slope_bytes_per_day": by_container["slope"].median(),
            "threshold": by_container["threshold"].median(),
            "positive": (per_segment["slope"] > 0).groupby(level="cid").mean(),
            "segments": by_container.size(),
        }
    )
    result["leak"] = (result["slope_bytes_per_day"] >= result["threshold"]) & (
        result["positive"] >= settings.leak_positive_share
    )
    result["baseline_bytes"] = starts.reindex(result.index)
    return result[columns]


def _after_oom_kill(usage: pd.DataFrame, events: pd.DataFrame) -> pd.Series:
    """True on the first sample of each pod's container after one of its OOM kills."""
    marks = pd.Series(False, index=usage.index)
    if events.empty:
        return marks
    samples = usage[["pid", "t"]].reset_index().sort_values("t", kind="stable")
    kills = events[["pid", "t"]].sort_values("t", kind="stable")
    first_after = pd.merge_asof(kills, samples, on="t", by="pid", direction="forward")[
        "index"
    ].dropna()
    marks.loc[list(first_after.astype("int64"))] = True
    return marks


def aggregate_leaks(snapshot: Snapshot, data: UsageData, settings: KianaxSettings) -> pd.DataFrame:
    """:func:`detect_leaks` on the leak screen's hourly peaks (``memory_peaks``), by cid."""
    peaks = snapshot.table("memory_peaks")
    if peaks.empty:
        return detect_leaks(data, settings)  # (empty usage: the empty result)
    frame = with_cid(peaks, snapshot, data)
    pid_keys = ["namespace", "pod", "container"]
    frame["pid"] = frame.groupby(pid_keys, sort=True).ngroup().astype("int64")
    times = pd.to_datetime(frame["timestamp"], utc=True)
    frame["t"] = (times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    usage = frame[["t", "cid", "pid", "memory_bytes"]].astype({"t": "int64"})
    terminations = snapshot.table("terminations")
    oom = terminations[terminations["reason"].astype(str) == "OOMKilled"]
    events = pd.DataFrame(columns=["t", "cid", "pid"], dtype="int64")
    if not oom.empty:
        pids = frame.drop_duplicates(pid_keys)[[*pid_keys, "cid", "pid"]]
        joined = oom.astype({c: str for c in pid_keys}).merge(pids, on=pid_keys, how="inner")
        kill_times = pd.to_datetime(joined["timestamp"], utc=True)
        events = pd.DataFrame(
            {
                "t": ((kill_times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).astype(
                    "int64"
                ),
                "cid": joined["cid"].astype("int64"),
                "pid": joined["pid"].astype("int64"),
            }
        )
    hourly = UsageData(
        usage=usage,
        containers=data.containers,
        inventory=data.inventory,
        oom_events=events,
        window_end=data.window_end,
        step_seconds=3600,
        window_start=data.window_start,
    )
    return detect_leaks(hourly, settings)


def leak_notes(leaks: pd.DataFrame) -> pd.Series:
    """Per leaking container: its growth, and how long it lasts between restarts now and after."""
    sentences = []
    for record in leaks.to_dict("records"):
        slope = float(record["ev_leak_slope_bytes_per_day"]) / MIB
        sentence = (
            f"Its working set grows by about {slope:.1f} MiB a day between restarts: this looks "
            "like a memory leak, a bug to fix."
        )
        today = float(record.get("ev_leak_restart_days_today", np.nan))
        after = float(record.get("ev_leak_restart_days_recommended", np.nan))
        if np.isfinite(after):
            sentence += (
                f" Until it is fixed, the memory limit lets it run about {after:.1f} days between "
                "OOM restarts"
                + (f" (today about {today:.1f} days)" if np.isfinite(today) else "")
                + f", growing from {float(record['ev_leak_baseline_bytes']) / MIB:.0f} MiB after "
                "each restart; the request covers its average over that cycle."
            )
        else:
            sentence += " It has no memory limit today, so none is added."
        sentences.append(sentence)
    return pd.Series(sentences, index=leaks.index, dtype="object")
