"""Startup CPU: the first minutes after a pod starts, kept apart from its steady state.

A JVM compiling its hot paths, or a service loading an index, uses far more CPU in its first
minutes than after. Sizing the request on those minutes pays for a burst all day; sizing on
the rest and ignoring them starves every start. So the kianax strategy leaves them out of the
steady-state percentile, reports the startup peak, and names a container whose start needs
more than its steady request: that is what Kubernetes' in-place pod resize and the VPA's CPU
startup boost are for.

A pod counts as started in the window when its first sample comes later than one step after
the window's start (a pod already running when the window opened did not start then).
Restarts of a container inside a pod are not seen here (only the pod's first samples).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kianax_capacity.recommenders.strategies._base import UsageData

__all__ = ["startup_mask"]


def startup_mask(data: UsageData, minutes: float) -> np.ndarray:
    """True for each sample of ``data.usage`` within ``minutes`` of its pod's start."""
    usage = data.usage
    if minutes <= 0 or usage.empty:
        return np.zeros(len(usage), dtype=bool)
    t = usage["t"].to_numpy(dtype="int64")
    first = pd.Series(t).groupby(usage["pid"].to_numpy()).transform("min").to_numpy()
    opened = (
        data.window_start if data.window_start is not None else int(t.min()) - data.step_seconds
    )
    started = first > opened + data.step_seconds
    return np.asarray(started & (t - first < minutes * 60.0))
