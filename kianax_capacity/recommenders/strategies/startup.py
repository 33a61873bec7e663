"""Startup CPU: the first minutes after a pod starts, kept apart from its steady state.

A JVM compiling its hot paths, or a service loading an index, uses far more CPU in its first
minutes than after. Sizing the request on those minutes pays for a burst all day; sizing on
the rest and ignoring them starves every start. So the kianax strategy leaves them out of the
steady-state percentile, reports the startup peak, and names a container whose start needs
more than its steady request: that is what Kubernetes' in-place pod resize and the VPA's CPU
startup boost are for.

A pod counts as started in the window when its first sample comes later than one step after
the window's start (a pod already running when the window opened did not start then). A
container restarted inside its pod (an OOM kill, a failed probe: the snapshot's
``terminations``, where its restart counter rose) starts again too: its first minutes after the
restart are a start like the pod's.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kianax_capacity.recommenders.strategies._base import UsageData

__all__ = ["startup_mask", "startups_by_cid"]


def _opened(data: UsageData, t: np.ndarray) -> int:
    return data.window_start if data.window_start is not None else int(t.min()) - data.step_seconds


def _pod_started(data: UsageData, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's pod-copy first sample, and whether that copy started in the window."""
    first = pd.Series(t).groupby(data.usage["pid"].to_numpy()).transform("min").to_numpy()
    return first, first > _opened(data, t) + data.step_seconds


def _since_restart(data: UsageData, t: np.ndarray) -> np.ndarray:
    """Seconds since the latest in-pod restart of each sample's container (inf: none yet)."""
    restarts = data.restart_events
    since = np.full(len(t), np.inf)
    if restarts is None or restarts.empty:
        return since
    samples = pd.DataFrame(
        {"t": t, "pid": data.usage["pid"].to_numpy(dtype="int64"), "row": np.arange(len(t))}
    ).sort_values("t", kind="stable")
    events = (
        restarts[["t", "pid"]]
        .astype("int64")
        .rename(columns={"t": "restart_t"})
        .sort_values("restart_t", kind="stable")
    )
    joined = pd.merge_asof(
        samples, events, left_on="t", right_on="restart_t", by="pid", direction="backward"
    )
    since[joined["row"].to_numpy()] = (joined["t"] - joined["restart_t"]).to_numpy(
        dtype="float64", na_value=np.inf
    )
    return since


def startup_mask(data: UsageData, minutes: float) -> np.ndarray:
    """True for each sample of ``data.usage`` within ``minutes`` of its pod's start, or of its
    container's latest restart inside the pod."""
    usage = data.usage
    if minutes <= 0 or usage.empty:
        return np.zeros(len(usage), dtype=bool)
    t = usage["t"].to_numpy(dtype="int64")
    first, started = _pod_started(data, t)
    window = minutes * 60.0
    return np.asarray((started & (t - first < window)) | (_since_restart(data, t) < window))


def startups_by_cid(data: UsageData) -> pd.Series:
    """Starts seen per cid: its pod copies started in the window, and its in-pod restarts."""
    usage = data.usage
    if usage.empty:
        return pd.Series(dtype="int64")
    t = usage["t"].to_numpy(dtype="int64")
    _, started = _pod_started(data, t)
    pods = usage.loc[started, ["cid", "pid"]].drop_duplicates().groupby("cid").size()
    restarts = data.restart_events
    if restarts is None or restarts.empty:
        return pods
    seen = restarts[restarts["pid"].isin(usage["pid"].unique())]
    return pods.add(seen.groupby("cid").size(), fill_value=0).astype("int64")
