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
from kianax_capacity.snapshot import Snapshot

__all__ = ["aggregate_leaks", "season_cpu"]

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


def season_cpu(
    snapshot: Snapshot,
    data: UsageData,
    settings: KianaxSettings,
    column: str,
    throttle_ratio: pd.Series,
) -> tuple[pd.Series, pd.Series]:
    """The busiest season's CPU percentile per cid and the season's name (empty without stats).

    Args:
        column: the percentile column (``cpu_cores_p90`` / ``_p95`` / ``_p99``).
        throttle_ratio: per cid, the ratio to scale CPU up by where the container was throttled
            (0 elsewhere), as the whole-window statistics are.
    """
    stats = snapshot.table("container_season_stats")
    if stats.empty or not settings.seasonal or column not in stats.columns:
        return pd.Series(dtype="float64"), pd.Series(dtype="object")
    frame = _with_cid(stats.astype({"season": str}), snapshot, data)
    if frame.empty:
        return pd.Series(dtype="float64"), pd.Series(dtype="object")
    code = frame["season"].map({name: i for i, name in enumerate(SEASONS)})
    frame = frame[code.notna()].assign(_key=lambda f: f["cid"] * 3 + code[f.index].astype("int64"))
    samples = frame["samples"].to_numpy(dtype="float64")
    # The busiest pod among those with enough of the season's steps, else among all of them.
    long_lived = samples >= settings.min_samples
    values = frame[column]
    busiest = values[long_lived].groupby(frame["_key"][long_lived]).max()
    busiest = busiest.reindex(values.groupby(frame["_key"]).max().index).fillna(
        values.groupby(frame["_key"]).max()
    )
    counts = frame.groupby("_key")["samples"].sum()
    busiest = busiest[counts.reindex(busiest.index) >= settings.min_season_samples]
    if busiest.empty:
        return pd.Series(dtype="float64"), pd.Series(dtype="object")
    owner = busiest.index.to_numpy() // 3
    scale = 1.0 + throttle_ratio.reindex(owner).fillna(0.0).to_numpy()
    scaled = pd.Series(busiest.to_numpy() * scale, index=busiest.index)
    best = scaled.groupby(owner).max()
    names = (scaled.groupby(owner).idxmax() % 3).map(dict(enumerate(SEASONS)))
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
