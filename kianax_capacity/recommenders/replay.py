"""A backtest per right-sizing row: replay a strategy with rolling origins over the snapshot.

For every week the snapshot can test (the last week, the week before, ... as long as at least
one week of history lies before it), the strategy is trained on everything before that week's
start (the *origin*) and the settings it would have applied at the origin are scored on the
week after. Per container, over all replayed weeks:

* ``cpu_over_request_share``: the share of the (pod, 5-minute) test points whose CPU usage was
  above the CPU request (no request counts as zero);
* ``starved_weeks``: test weeks whose pooled p95 CPU exceeded the request;
* ``oom_events``: OOM kills the settings would have met: pods whose test-week peak working set
  exceeded the memory limit (the request where no limit is set), plus OOM kills observed in the
  test week at a limit the new one does not exceed (the observed working set is cut off at the
  limit that killed it, so a peak cannot show them); for a container flagged as leaking whose
  new limit is higher than today's, the kills its growth rate projects at the new limit instead
  (applying a change restarts the pods, so each starts the week fresh);
* ``oom_kills_observed``: the OOM kills the test weeks saw with today's settings;
* ``monthly_cost_usd`` / ``current_monthly_cost_usd``: the applied / current requests priced
  per core and byte x the week's average replicas, averaged over the weeks.

Everything is grouped numpy/pandas over the integer container ids of :class:`UsageData`: one
strategy run and one pass over the test samples per origin.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from kianax_capacity.recommenders.strategies._base import UsageData

__all__ = [
    "WEEK_SECONDS",
    "Origin",
    "replay_rows",
    "rolling_origins",
    "slice_usage",
]

WEEK_SECONDS = 7 * 86_400
DAY_SECONDS = 86_400.0

#: (strategy's finalized frame keyed by CONTAINER_KEY, the train data) -> cid-indexed settings
#: that would be applied: cpu_request, cpu_limit, memory_request, memory_limit (NaN = unset),
#: and ``leak`` (bool), ``leak_slope_bytes_per_day``, ``leak_baseline_bytes``.
Settle = Callable[[pd.DataFrame, UsageData], pd.DataFrame]


@dataclass(frozen=True)
class Origin:
    """One replayed week: train on ``[train_start, origin)``, test on ``[origin, test_end)``."""

    train_start: int
    origin: int
    test_end: int


def rolling_origins(
    first: int, end: int, step_seconds: int, *, test_seconds: int = WEEK_SECONDS
) -> tuple[Origin, ...]:
    """Weekly origins counted back from ``end``, each with at least one test period before it.

    ``first`` and ``end`` are epoch seconds of the first sample and the window end. Samples are
    stamped at the end of their step, so the history starts one step before the first sample.
    """
    start = first - step_seconds
    out = []
    test_end = end
    while test_end - 2 * test_seconds >= start:
        out.append(Origin(train_start=start, origin=test_end - test_seconds, test_end=test_end))
        test_end -= test_seconds
    return tuple(reversed(out))


def slice_usage(data: UsageData, start: int, stop: int) -> UsageData:
    """``data`` as it was over ``(start, stop]`` (samples are stamped at their step's end).

    OOM-kill counts are recounted from the window's kill events when the snapshot has events;
    without them the containers' counters are kept (they cannot be placed in time).
    """
    t = data.usage["t"].to_numpy()
    usage = data.usage[(t > start) & (t <= stop)]
    events = data.oom_events
    window_events = events[(events["t"] > start) & (events["t"] <= stop)]
    inventory = data.inventory
    if not events.empty:
        counts = window_events.groupby("cid").size()
        by_cid = counts.reindex(pd.RangeIndex(len(data.containers))).fillna(0).to_numpy()
        position = pd.Series(np.arange(len(data.containers)), index=data.containers)
        cids = position.reindex(inventory.index).to_numpy(dtype="float64")
        kills = np.where(np.isnan(cids), 0.0, by_cid[np.nan_to_num(cids).astype("int64")])
        inventory = inventory.assign(oom_kills=kills)
    jvm = data.jvm
    if jvm is not None:
        jvm = jvm[(jvm["t"] > start) & (jvm["t"] <= stop)]
    restarts = data.restart_events
    if restarts is not None:
        restarts = restarts[(restarts["t"] > start) & (restarts["t"] <= stop)]
    return replace(
        data,
        usage=usage,
        jvm=jvm,
        restart_events=restarts,
        oom_events=window_events,
        inventory=inventory,
        window_start=start,
        window_end=stop,
    )


def replay_rows(
    compute: Callable[[UsageData], pd.DataFrame],
    data: UsageData,
    settle: Settle,
    prices: pd.DataFrame,
) -> pd.DataFrame:
    """The rolling-origin backtest of a strategy per container, cid-indexed.

    Args:
        compute: the strategy's finalized numbers from a window's data (keyed by
            CONTAINER_KEY), per-workload profile choices included.
        data: the whole snapshot's usage.
        settle: turns the strategy's finalized numbers into the settings that would be applied
            (minimums, HPA deferral, guardrails, current settings where nothing is recommended).
        prices: cid-indexed ``cpu_usd`` (a core for a month) and ``byte_usd`` (a byte for a month).

    Returns:
        One row per cid that had test points: ``weeks``, ``points``, ``points_over``,
        ``cpu_over_request_share``, ``starved_weeks``, ``oom_events``, ``oom_kills_observed``,
        ``monthly_cost_usd``, ``current_monthly_cost_usd``, ``first_origin``, ``last_origin``.
        Empty when the history holds fewer than two weeks.
    """
    if data.usage.empty:
        return pd.DataFrame()
    first = int(data.usage["t"].min())
    origins = rolling_origins(first, data.window_end, data.step_seconds)
    weeks = []
    for origin in origins:
        train = slice_usage(data, origin.train_start, origin.origin)
        final = compute(train)
        applied = settle(final, train)
        test = slice_usage(data, origin.origin, origin.test_end)
        weeks.append(_score_week(test, applied, prices, origin))
    if not weeks:
        return pd.DataFrame()
    frame = pd.concat(weeks)
    grouped = frame.groupby(level=0)
    out = grouped.agg(
        weeks=("points", "size"),
        points=("points", "sum"),
        points_over=("points_over", "sum"),
        starved_weeks=("starved", "sum"),
        oom_events=("oom_events", "sum"),
        oom_kills_observed=("oom_kills_observed", "sum"),
        monthly_cost_usd=("monthly_cost_usd", "mean"),
        current_monthly_cost_usd=("current_monthly_cost_usd", "mean"),
        first_origin=("origin", "min"),
        last_origin=("origin", "max"),
    )
    out["cpu_over_request_share"] = out["points_over"] / out["points"].where(out["points"] > 0)
    out.index.name = "cid"
    return out


def _score_week(
    test: UsageData, applied: pd.DataFrame, prices: pd.DataFrame, origin: Origin
) -> pd.DataFrame:
    """One test week's scores per cid (see the module docstring)."""
    usage = test.usage
    if usage.empty:
        return pd.DataFrame()
    n = len(test.containers)
    current = test.inventory_by_cid()
    cid = usage["cid"].to_numpy(dtype="int64")
    applied = applied.reindex(pd.RangeIndex(n))
    cpu = usage["cpu_cores"].to_numpy(dtype="float64")
    request = np.nan_to_num(applied["cpu_request"].to_numpy(dtype="float64"), nan=0.0)[cid]
    measured = ~np.isnan(cpu)
    points = np.bincount(cid, weights=measured, minlength=n)
    over = np.bincount(cid, weights=measured & (cpu > request), minlength=n)
    p95 = usage.groupby("cid")["cpu_cores"].quantile(0.95).reindex(pd.RangeIndex(n))
    starved = p95.to_numpy() > np.nan_to_num(applied["cpu_request"].to_numpy(), nan=0.0)

    # Memory: per pod, the week's peak against the cap the new settings set.
    pid = usage["pid"].to_numpy(dtype="int64")
    per_pod = pd.DataFrame({"cid": cid, "pid": pid, "m": usage["memory_bytes"].to_numpy()})
    pods = per_pod.groupby("pid").agg(cid=("cid", "first"), peak=("m", "max"))
    life = usage.groupby("pid")["t"].agg(["min", "max"])
    pods["days"] = (life["max"] - life["min"] + test.step_seconds) / DAY_SECONDS
    new_limit = applied["memory_limit"].to_numpy(dtype="float64")
    cap = np.where(np.isnan(new_limit), applied["memory_request"].to_numpy(), new_limit)
    pod_cid = pods["cid"].to_numpy(dtype="int64")
    over_cap = pods["peak"].to_numpy() > np.nan_to_num(cap[pod_cid], nan=np.inf)
    peak_events = np.bincount(pod_cid, weights=over_cap, minlength=n)

    old_limit = current["memory_limit_bytes"].to_numpy(dtype="float64")
    kills = np.bincount(test.oom_events["cid"].to_numpy(dtype="int64"), minlength=n).astype(
        "float64"
    )
    # A kill at the old limit is met again by a limit that is not higher.
    censored_kill = ~(new_limit > old_limit)  # NaN compares False: an unset limit counts
    leak = applied["leak"].fillna(False).to_numpy(dtype=bool)
    raised_leak = leak & (new_limit > old_limit)
    projected = _projected_leak_kills(pods, applied, n)
    oom = peak_events + np.where(raised_leak, projected, np.where(censored_kill, kills, 0.0))

    replicas = np.bincount(cid, minlength=n) / max(_week_samples(test, origin), 1)
    unit = prices.reindex(pd.RangeIndex(n))
    cpu_usd = unit["cpu_usd"].to_numpy(dtype="float64")
    byte_usd = unit["byte_usd"].to_numpy(dtype="float64")

    def cost(cpu_request: np.ndarray, memory_request: np.ndarray) -> np.ndarray:
        return (
            np.nan_to_num(cpu_request) * cpu_usd + np.nan_to_num(memory_request) * byte_usd
        ) * replicas

    frame = pd.DataFrame(
        {
            "points": points,
            "points_over": over,
            "starved": starved.astype("int64"),
            "oom_events": oom,
            "oom_kills_observed": kills,
            "monthly_cost_usd": cost(
                applied["cpu_request"].to_numpy(), applied["memory_request"].to_numpy()
            ),
            "current_monthly_cost_usd": cost(
                current["cpu_request_cores"].to_numpy(), current["memory_request_bytes"].to_numpy()
            ),
            "origin": origin.origin,
        }
    )
    return frame[np.bincount(cid, minlength=n) > 0]


def _projected_leak_kills(pods: pd.DataFrame, applied: pd.DataFrame, n: int) -> np.ndarray:
    """Per cid, OOM kills a linear leak meets in the week at the applied limit, from fresh pods.

    A pod living ``d`` days from a restart, growing ``g`` bytes a day from ``b``, is killed
    ``floor(d * g / (L - b))`` times at limit ``L``.
    """
    slope = applied["leak_slope_bytes_per_day"].to_numpy(dtype="float64")
    baseline = applied["leak_baseline_bytes"].to_numpy(dtype="float64")
    limit = applied["memory_limit"].to_numpy(dtype="float64")
    pod_cid = pods["cid"].to_numpy(dtype="int64")
    room = (limit - baseline)[pod_cid]
    growth = slope[pod_cid] * pods["days"].to_numpy()
    # A limit at or below the restart baseline kills it as it starts: once an hour, say.
    with np.errstate(divide="ignore", invalid="ignore"):
        per_pod = np.where(room > 0, np.floor(growth / room), np.ceil(pods["days"] * 24.0))
    per_pod = np.where(np.isfinite(slope[pod_cid]) & (slope[pod_cid] > 0), per_pod, 0.0)
    return np.bincount(pod_cid, weights=per_pod, minlength=n)


def _week_samples(test: UsageData, origin: Origin) -> int:
    return int((origin.test_end - origin.origin) // max(test.step_seconds, 1))


def backtest_evidence(record: Any, history_days: float) -> dict[str, Any]:
    """The ``evidence.backtest`` mapping of one row from its :func:`replay_rows` record."""
    share = float(record["cpu_over_request_share"])
    return {
        "weeks_replayed": int(record["weeks"]),
        "first_origin": _iso(int(record["first_origin"])),
        "last_origin": _iso(int(record["last_origin"])),
        "points": int(record["points"]),
        "cpu_over_request_share": round(share, 5) if np.isfinite(share) else None,
        "starved_weeks": int(record["starved_weeks"]),
        "oom_events": int(record["oom_events"]),
        "oom_kills_observed": int(record["oom_kills_observed"]),
        "test_monthly_cost_usd": round(float(record["monthly_cost_usd"]), 2),
        "current_test_monthly_cost_usd": round(float(record["current_monthly_cost_usd"]), 2),
        "history_days": round(history_days, 2),
    }


def _iso(epoch: int) -> str:
    return pd.Timestamp(epoch, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
