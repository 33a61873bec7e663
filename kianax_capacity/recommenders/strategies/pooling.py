"""Per-pod server-side statistics pooled per container: the aggregate shape's shared math.

The aggregate shape (``docs/prometheus.md``) has, per pod container (and per day or season
where the snapshot has ``container_daily_stats`` / ``container_season_stats``), a few quantiles
computed on the server. A container's size is a quantile of all its pods' samples pooled, as
the series shape computes it; :func:`pooled_quantile` recovers that from the per-pod ones. The
strategies' own statistics paths (``compute_from_statistics``) and
:func:`~kianax_capacity.recommenders.aggregate.pooled_container_stats` use it.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from kianax_capacity.recommenders.inventory import CONTAINER_KEY
from kianax_capacity.recommenders.strategies._base import UsageData
from kianax_capacity.snapshot import Snapshot

__all__ = ["KNOT_LEVELS", "POD_KEY", "knots_of", "pooled_quantile", "with_cid"]

POD_KEY = ["namespace", "pod"]


def with_cid(
    frame: pd.DataFrame, snapshot: Snapshot, data: UsageData, pod_columns: tuple[str, ...] = ()
) -> pd.DataFrame:
    """``frame`` (namespace, pod, container, ...) with its pod's kind and workload (and
    ``pod_columns`` of the pods table) and its container's ``cid`` in ``data``; rows of pods or
    containers not in the inventory are dropped."""
    pods = snapshot.table("pods")[["namespace", "pod", "kind", "workload", *pod_columns]]
    out = frame.merge(pods, on=POD_KEY, how="inner")
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
    high = np.zeros(len(group_index))
    np.maximum.at(high, codes, values[:, -1])
    _bisect(
        np.ascontiguousarray(codes, dtype=np.int64),
        np.ascontiguousarray(values),
        levels,
        weights,
        level * totals,
        high,
        iterations,
    )
    return pd.Series(high, index=group_index)


# The bisection runs every group at once for `iterations` rounds, each a pass over all pod rows
# (500,000 day rows at 10,000 containers): as numpy array expressions it was a fifth of
# `recommend` there, so it runs compiled. The arithmetic is that of the array version, row by
# row in row order (the mass of a group is summed in the order np.bincount sums it).
@numba.njit(cache=True, nogil=True)
def _bisect(
    codes: np.ndarray,
    values: np.ndarray,  # [pod row, knot], knot 0 is the zero below the first level
    levels: np.ndarray,
    weights: np.ndarray,
    wanted: np.ndarray,  # per group: level x its total weight
    high: np.ndarray,  # per group: the upper bound in (the max), the quantile out
    iterations: int,
) -> None:
    groups = len(high)
    rows, knots = values.shape
    low = np.zeros(groups)
    middle = np.empty(groups)
    mass = np.empty(groups)
    for _ in range(iterations):
        for g in range(groups):
            middle[g] = (low[g] + high[g]) / 2.0
            mass[g] = 0.0
        for i in range(rows):
            x = middle[codes[i]]
            # The pod's CDF at x: linear between the first knot above x and the one before it,
            # 1 at or above its max.
            cdf = 1.0
            for k in range(1, knots):
                hi = values[i, k]
                if x < hi:
                    lo = values[i, k - 1]
                    span = hi - lo if hi > lo else 1.0
                    share = min(max((x - lo) / span, 0.0), 1.0)
                    cdf = levels[k - 1] + (levels[k] - levels[k - 1]) * share
                    break
            mass[codes[i]] += weights[i] * cdf
        for g in range(groups):
            if mass[g] >= wanted[g]:
                high[g] = middle[g]
            else:
                low[g] = middle[g]
