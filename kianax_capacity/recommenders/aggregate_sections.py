"""The kianax strategy's seasons and leak detection on an aggregate-shape snapshot.

The series shape computes both from samples. The aggregate shape has, instead:

* ``container_season_stats``: per pod container and season (market, weekday, weekend), CPU
  p90/p95/p99 and the number of steps, computed on the server by filtering the CPU subquery to
  the season's steps. The season's percentile of a container is its busiest pod's (as for the
  whole window, :func:`~.aggregate.pooled_container_stats`), a season counts when the pods'
  steps in it add up to ``min_season_samples``, and the highest season wins, as with samples.
* ``memory_peaks``: hourly working-set peaks of the pod containers the fetch's leak screen
  picked (a per-day slope over every container, then hourly peaks for the few that grow). The
  detector itself is the series shape's :func:`detect_leaks`, run on those peaks.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kianax_capacity.recommenders.inventory import CONTAINER_KEY
from kianax_capacity.recommenders.strategies._base import UsageData
from kianax_capacity.recommenders.strategies.kianax import SEASONS, KianaxSettings, detect_leaks
from kianax_capacity.recommenders.strategies.vpa import VpaSettings, histogram_percentile
from kianax_capacity.snapshot import Snapshot

__all__ = ["aggregate_leaks", "pooled_quantile", "season_cpu", "vpa_targets"]

_POD = ["namespace", "pod"]


def _with_cid(frame: pd.DataFrame, snapshot: Snapshot, data: UsageData) -> pd.DataFrame:
    """``frame`` (namespace, pod, container, ...) with its container's ``cid`` in ``data``;
    rows of pods or containers not in the inventory are dropped."""
    pods = snapshot.table("pods")[["namespace", "pod", "kind", "workload"]]
    out = frame.merge(pods, on=_POD, how="inner")
    for column in CONTAINER_KEY:
        out[column] = out[column].astype(str)
    lookup = pd.Series(np.arange(len(data.containers)), index=data.containers)
    cid = lookup.reindex(pd.MultiIndex.from_frame(out[CONTAINER_KEY])).to_numpy(dtype="float64")
    keep = ~np.isnan(cid)
    out = out.loc[keep].reset_index(drop=True)
    out["cid"] = cid[keep].astype("int64")
    return out


#: The levels the server computes per pod (and day), as (level, column suffix): the knots of
#: :func:`pooled_quantile`.
KNOT_LEVELS = ((0.5, "p50"), (0.9, "p90"), (0.95, "p95"), (0.99, "p99"), (1.0, "max"))


def knots_of(frame: pd.DataFrame, prefix: str) -> list[tuple[float, np.ndarray]]:
    """The ``prefix`` (``cpu_cores``, ``memory_bytes``) statistics of each row as quantile knots."""
    return [
        (level, frame[f"{prefix}_{suffix}"].to_numpy(dtype=float)) for level, suffix in KNOT_LEVELS
    ]


def pooled_quantile(
    groups: np.ndarray,
    knots: list[tuple[float, np.ndarray]],
    weights: np.ndarray,
    level: float,
    iterations: int = 40,
) -> pd.Series:
    """The ``level`` quantile of the samples of every pod of a group pooled, from per-pod ones.

    Each pod's distribution is known at a few levels (``knots``: (level, values per pod), e.g.
    p50, p90, p95, p99 and the max); between them its CDF is taken as linear, and from 0 at
    zero to the first knot. The pooled CDF is the pods' CDFs weighted by their sample counts,
    and its ``level`` quantile is found by bisection, for every group at once. This is what the
    series shape computes on the pooled samples (the busiest pod alone overstates it: a pod
    that lived an hour through a start-up burst is not the container's size).

    Args:
        groups: the group (integer id) of each pod row.
        knots: ascending levels, each with one value per pod row; the last level should be 1.
        weights: each pod's number of samples.
        level: in (0, 1).

    Returns:
        The pooled quantile per group id.
    """
    levels = np.array([0.0, *(k for k, _ in knots)])
    values = np.column_stack([np.zeros(len(groups)), *(np.asarray(v, float) for _, v in knots)])
    values = np.fmax.accumulate(np.nan_to_num(values, nan=0.0), axis=1)  # monotone per pod
    weights = np.nan_to_num(np.asarray(weights, dtype=float), nan=0.0)
    codes, group_index = pd.factorize(groups, sort=True)
    if not len(codes):
        return pd.Series(dtype="float64")
    totals = np.bincount(codes, weights=weights, minlength=len(group_index))
    low = np.zeros(len(group_index))
    high = np.zeros(len(group_index))
    np.maximum.at(high, codes, values[:, -1])
    for _ in range(iterations):
        middle = (low + high) / 2.0
        x = middle[codes]
        cdf = np.ones(len(codes))
        for k in range(len(levels) - 1, 0, -1):
            lo, hi = values[:, k - 1], values[:, k]
            span = np.where(hi > lo, hi - lo, 1.0)
            inside = x < hi
            share = np.clip((x - lo) / span, 0.0, 1.0)
            cdf = np.where(inside, levels[k - 1] + (levels[k] - levels[k - 1]) * share, cdf)
        mass = np.bincount(codes, weights=weights * cdf, minlength=len(group_index))
        reached = mass >= level * totals
        high = np.where(reached, middle, high)
        low = np.where(reached, low, middle)
    return pd.Series(high, index=group_index)


def season_cpu(
    snapshot: Snapshot, data: UsageData, settings: KianaxSettings
) -> tuple[pd.Series, pd.Series]:
    """The busiest season's pooled CPU percentile per cid and the season's name.

    The server computed each pod's seasonal percentiles on throttle-adjusted CPU; they are
    pooled over the pods (:func:`pooled_quantile`), a season counts when its pooled steps reach
    ``min_season_samples``, and the highest season wins, as with samples. Empty when the
    snapshot has no ``container_season_stats`` (older snapshots) or the profile is not seasonal.
    """
    nothing = (pd.Series(dtype="float64"), pd.Series(dtype="object"))
    stats = snapshot.table("container_season_stats")
    # The server applied the strategy's default throttle threshold and startup exclusion
    # (queries/aggregate_cpu_<season>.promql); other settings fall back to the whole window.
    defaults = KianaxSettings()
    if (
        stats.empty
        or not settings.seasonal
        or settings.throttle_threshold != defaults.throttle_threshold
        or settings.startup_exclusion_minutes != defaults.startup_exclusion_minutes
    ):
        return nothing
    frame = _with_cid(stats.astype({"season": str}), snapshot, data)
    code = frame["season"].map({name: i for i, name in enumerate(SEASONS)})
    frame = frame[code.notna()]
    if frame.empty:
        return nothing
    key = frame["cid"].to_numpy(dtype="int64") * 3 + code[frame.index].to_numpy(dtype="int64")
    knots = [
        (level, frame[f"cpu_cores_{suffix}"].to_numpy(dtype=float))
        for level, suffix in ((0.9, "p90"), (0.95, "p95"), (0.99, "p99"), (1.0, "max"))
    ]
    samples = frame["samples"].to_numpy(dtype=float)
    pooled = pooled_quantile(key, knots, samples, settings.cpu_percentile / 100.0)
    counts = pd.Series(samples).groupby(key).sum()
    pooled = pooled[counts.reindex(pooled.index).to_numpy() >= settings.min_season_samples]
    if pooled.empty:
        return nothing
    owner = pooled.index.to_numpy() // 3
    best = pooled.groupby(owner).max()
    names = (pooled.groupby(owner).idxmax() % 3).map(dict(enumerate(SEASONS)))
    return best, names


def aggregate_leaks(snapshot: Snapshot, data: UsageData, settings: KianaxSettings) -> pd.DataFrame:
    """:func:`detect_leaks` on the leak screen's hourly peaks (``memory_peaks``), by cid."""
    peaks = snapshot.table("memory_peaks")
    if peaks.empty:
        return detect_leaks(data, settings)  # (empty usage: the empty result)
    frame = _with_cid(peaks, snapshot, data)
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


def _bucket_end(values: pd.Series, first: float, growth: float) -> pd.Series:
    """The end of VPA's exponential histogram bucket holding each value (as the series shape's
    :func:`histogram_percentile` returns it)."""
    ratio = 1.0 + growth
    array = values.clip(lower=0.0).to_numpy(dtype="float64")
    bucket = np.floor(np.log(array * growth / first + 1.0) / np.log(ratio) + 1e-9)
    return pd.Series(first * (np.power(ratio, bucket + 1.0) - 1.0) / growth, index=values.index)


def vpa_targets(
    snapshot: Snapshot, data: UsageData, settings: VpaSettings
) -> tuple[pd.Series, pd.Series, pd.Series] | None:
    """VPA's CPU and memory targets per cid from ``container_daily_stats`` (None without it),
    and the number of CPU samples (VPA's confidence counts them).

    CPU: the p90 of every pod's samples, each day's weighing ``2 ** (age / half-life)`` at the
    day's middle (VPA decays per sample), pooled from the per-day quantiles, then the end of its
    histogram bucket. Memory: VPA's histogram of one peak per pod and day (the aggregate chunks
    are VPA's 24 h intervals, counted back from the window's end) over the last
    ``memory_aggregation_days``, decayed at each peak's day, plus its OOM samples; the same
    :func:`histogram_percentile` as on samples.
    """
    daily = snapshot.table("container_daily_stats")
    if daily.empty:
        return None
    frame = _with_cid(daily, snapshot, data)
    if frame.empty:
        return None
    end = float(data.window_end)
    day_end = (
        pd.to_datetime(frame["day_end"], utc=True) - pd.Timestamp(0, tz="UTC")
    ) // pd.Timedelta(seconds=1)
    half_life = settings.half_life_hours * 3600.0
    middle = day_end.to_numpy(dtype="float64") - 43_200.0
    decay = np.exp2((middle - end) / half_life)
    knots = knots_of(frame, "cpu_cores")
    weights = frame["cpu_cores_count"].to_numpy(dtype="float64") * decay
    cpu = pooled_quantile(
        frame["cid"].to_numpy(dtype="int64"), knots, weights, settings.cpu_percentile / 100.0
    )
    cpu = _bucket_end(cpu, settings.cpu_first_bucket_cores, settings.bucket_growth)

    horizon = end - settings.memory_aggregation_days * 86_400.0
    recent = frame[day_end.to_numpy(dtype="float64") > horizon]
    last_seen = snapshot.table("pods")[["namespace", "pod", "last_seen"]]
    recent = recent.merge(last_seen, on=_POD, how="left")
    seen = (pd.to_datetime(recent["last_seen"], utc=True) - pd.Timestamp(0, tz="UTC")) // (
        pd.Timedelta(seconds=1)
    )
    recent_end = (
        pd.to_datetime(recent["day_end"], utc=True) - pd.Timestamp(0, tz="UTC")
    ) // pd.Timedelta(seconds=1)
    peak_time = np.fmin(recent_end.to_numpy(dtype="float64"), seen.to_numpy(dtype="float64"))
    peaks = pd.DataFrame(
        {"cid": recent["cid"], "memory_bytes": recent["memory_bytes_max"], "t": peak_time}
    )
    ooms = _oom_samples(snapshot, data, settings, frame, horizon)
    samples = pd.concat([peaks, ooms], ignore_index=True)
    samples = samples.assign(_w=np.exp2((samples["t"].to_numpy(dtype="float64") - end) / half_life))
    memory = histogram_percentile(
        samples,
        ["cid"],
        "memory_bytes",
        "_w",
        first_bucket=settings.memory_first_bucket_bytes,
        growth=settings.bucket_growth,
        percentile=settings.memory_percentile / 100.0,
    )
    # The server's rate() still answers one step after a pod stopped (its window reaches back);
    # the series shape's usage rows, gated on a working-set sample, do not: one step less per
    # pod that stopped inside the window.
    per_pod = frame.groupby(["cid", *_POD], sort=False)["cpu_cores_count"].sum().reset_index()
    per_pod = per_pod.merge(last_seen, on=_POD, how="left")
    stopped = (
        pd.to_datetime(per_pod["last_seen"], utc=True) - pd.Timestamp(0, tz="UTC")
    ) // pd.Timedelta(seconds=1) < end - data.step_seconds
    counts = per_pod["cpu_cores_count"].to_numpy(dtype="float64") - stopped.to_numpy(dtype=float)
    cpu_samples = pd.Series(np.maximum(counts, 0.0)).groupby(per_pod["cid"].to_numpy()).sum()
    return cpu, memory, cpu_samples


def _oom_samples(
    snapshot: Snapshot,
    data: UsageData,
    settings: VpaSettings,
    frame: pd.DataFrame,
    horizon: float,
) -> pd.DataFrame:
    """VPA's extra memory sample per OOM kill in the horizon (as :class:`VpaStrategy` adds)."""
    columns = ["cid", "memory_bytes", "t"]
    terminations = snapshot.table("terminations")
    kills = terminations[terminations["reason"].astype(str) == "OOMKilled"]
    if kills.empty:
        return pd.DataFrame(columns=columns, dtype="float64")
    keys = ["namespace", "pod", "container"]
    kills = kills.astype({column: str for column in keys})
    kills = kills.assign(
        t=(pd.to_datetime(kills["timestamp"], utc=True) - pd.Timestamp(0, tz="UTC"))
        // pd.Timedelta(seconds=1)
    )
    kills = kills[kills["t"].to_numpy(dtype="float64") > horizon]
    pod_peak = frame.groupby(keys)["memory_bytes_max"].max().rename("peak").reset_index()
    pod_peak = pod_peak.astype({column: str for column in keys})
    cids = frame.drop_duplicates(keys)[[*keys, "cid"]].astype({column: str for column in keys})
    joined = kills.merge(cids, on=keys, how="inner").merge(pod_peak, on=keys, how="left")
    limits = data.inventory_by_cid()["memory_limit_bytes"]
    at_kill = pd.Series(limits.reindex(joined["cid"]).to_numpy(), index=joined.index).fillna(
        joined["peak"]
    )
    bumped = np.maximum(at_kill * settings.oom_bump_ratio, at_kill + settings.oom_min_bump_bytes)
    out = pd.DataFrame(
        {"cid": joined["cid"], "memory_bytes": bumped, "t": joined["t"].astype("float64")}
    )
    return out.dropna(subset=["memory_bytes"])
