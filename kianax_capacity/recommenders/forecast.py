"""Capacity forecasts: when does each node group run out at the current trend?

For every node group and every namespace, and for CPU, memory (and pods, for node groups):

1. **Daily peaks.** The requests of the workload pods running at each sampled instant (the same
   timeline the node-group recommender packs), and the measured usage, reduced to one peak per
   UTC day. Days with fewer than half the samples of a typical day (a window that starts or
   ends mid-day) are dropped: their peak would be biased low.
2. **Trend.** A robust linear fit of daily peak requests against the day number, with
   scikit-learn's :class:`~sklearn.linear_model.TheilSenRegressor` (the median of the slopes
   between pairs of days: up to ~29% of the days can be incidents without tilting the trend,
   and an exact line is recovered exactly). Chosen over HuberRegressor, whose L-BFGS fit was
   slower and fragile on the flat or perfectly linear series capacity data often is.
3. **Prediction interval.** ``fitted ± q``, where ``q`` is the ``ceil((n + 1) * coverage) / n``
   empirical quantile of the absolute residuals (the split-conformal rank rule applied to the
   in-sample residuals). With two weeks of daily points a held-out calibration split would
   leave too few points to fit, so this is the in-sample variant: slightly optimistic because
   the line saw the points it is judged on, and the band does not widen with the horizon (slope
   uncertainty is not included). ``coverage`` defaults to 90%.
4. **Exhaustion.** A node group's capacity is ``max nodes x (allocatable - DaemonSet
   requests)`` per node, where max nodes comes from ``max_nodes`` (the config's ``max_size``)
   or else the most nodes seen at once, and allocatable is the median the nodes table reports
   (the EKS formula when the table has none). ``exhausted_on`` is the first day within
   ``horizon_days`` after the last observed day when the fitted trend reaches it, else null
   with the reason "not within 90 days"; ``exhausted_on_earliest`` is the same for the upper
   band. Namespaces have no capacity of their own: their rows carry the trend only.
5. **Honesty.** Fewer than ``min_history_days`` usable days (default 7) gives
   ``insufficient_data`` with the reason.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import TheilSenRegressor

from kianax_capacity.recommendations import ForecastRow
from kianax_capacity.recommenders.nodegroups import (
    GroupLoad,
    alive_sum,
    evaluation_instants,
    group_loads,
)
from kianax_capacity.recommenders.nodegroups import pod_requests as _pod_requests
from kianax_capacity.recommenders.packing import InstanceCatalog, eks_allocatable
from kianax_capacity.snapshot import Snapshot

__all__ = [
    "DEFAULT_COVERAGE",
    "MIN_HISTORY_DAYS",
    "DayGrid",
    "Trend",
    "daily_peaks",
    "fit_trend",
    "forecast_series",
    "peaks_per_day",
    "recommend_forecast",
]

MIN_HISTORY_DAYS = 7
DEFAULT_COVERAGE = 0.9
Resource = Literal["cpu", "memory", "pods"]
_RESOURCES: tuple[Resource, ...] = ("cpu", "memory", "pods")


@dataclass(frozen=True)
class Trend:
    """A robust line through daily peaks, with a symmetric prediction band."""

    intercept: float  # value at day 0
    slope_per_day: float
    half_width: float  # the band is fitted ± half_width
    days: int
    coverage: float

    def at(self, day: np.ndarray | float) -> np.ndarray:
        return self.intercept + self.slope_per_day * np.asarray(day, dtype=float)


def fit_trend(day: np.ndarray, value: np.ndarray, *, coverage: float = DEFAULT_COVERAGE) -> Trend:
    """Fit a Theil-Sen line to (day, value) and size its prediction band (see module docstring).

    Example:
        >>> t = fit_trend(np.arange(10.0), 5 + 2 * np.arange(10.0))
        >>> round(t.slope_per_day, 3), round(t.intercept, 3)
        (2.0, 5.0)
    """
    x = np.asarray(day, dtype=float)
    y = np.asarray(value, dtype=float)
    if len(x) < 2:
        raise ValueError("a trend needs at least two points")
    scale = float(np.max(np.abs(y))) or 1.0
    # Up to ~140 days every pair of points is used (C(n, 2) <= max_subpopulation), so the fit
    # is exhaustive and deterministic; random_state only matters beyond that.
    model = TheilSenRegressor(random_state=0, max_subpopulation=10_000)
    with warnings.catch_warnings():
        # The spatial median may stop a hair short of its tolerance; the slope is still sound.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x.reshape(-1, 1), y / scale)
    slope = float(model.coef_[0]) * scale
    intercept = float(model.intercept_) * scale
    if abs(slope) * max(float(np.ptp(x)), 1.0) < 1e-7 * scale:
        # Numerical dust of the optimiser on a flat series: call it flat.
        slope, intercept = 0.0, float(np.median(y))
    residuals = np.abs(y - (intercept + slope * x))
    n = len(residuals)
    rank = min(math.ceil((n + 1) * coverage), n)
    half_width = float(np.sort(residuals)[rank - 1])
    return Trend(intercept, slope, half_width, n, coverage)


#: With at least two weeks of days, trends are fitted on the trailing 7-day maximum of the daily
#: peaks: weekends and market holidays are weekly seasonality, not a trend, and a window that
#: ends on a quiet Sunday must not read as decline.
WEEKLY_ENVELOPE_MIN_DAYS = 14


def trend_points(day: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """The (day, value) points a trend is fitted on, and how they were made."""
    if len(values) >= WEEKLY_ENVELOPE_MIN_DAYS:
        envelope = pd.Series(values).rolling(7, min_periods=7).max().to_numpy()
        keep = np.isfinite(envelope)
        return day[keep], envelope[keep], "trailing 7-day max of daily peaks"
    keep = np.isfinite(values)
    return day[keep], values[keep], "daily peaks"


def peaks_per_day(times: pd.DatetimeIndex, values: np.ndarray) -> pd.Series:
    """Peak per UTC day, dropping days with under half the samples of the median day.

    The plain groupby: what :class:`DayGrid` gives faster on a shared grid, and what a series
    on other instants gets.
    """
    frame = pd.DataFrame({"date": times.tz_convert("UTC").normalize(), "value": values})
    grouped = frame.groupby("date")["value"]
    counts = grouped.size()
    keep = counts >= 0.5 * counts.median()
    return grouped.max()[keep]


class DayGrid:
    """:func:`peaks_per_day` for many value arrays over one sorted grid of instants.

    The days, their sample counts and which are kept depend on the instants only, so they
    are found once; each array then costs one ``np.fmax.reduceat`` (a max that skips NaN, as
    the groupby does) instead of a DataFrame and a groupby.
    """

    def __init__(self, times: pd.DatetimeIndex) -> None:
        self.times = times
        dates = times.tz_convert("UTC").normalize()
        # Sorted instants: each day's samples are one run.
        self.starts: np.ndarray | None = None
        self.keep = np.zeros(0, dtype=bool)
        self.index = pd.DatetimeIndex([], name="date")
        if len(dates):
            self.starts = np.flatnonzero(np.r_[True, dates[1:] != dates[:-1]])
            counts = np.diff(np.r_[self.starts, len(dates)])
            self.keep = counts >= 0.5 * np.median(counts)
            self.index = pd.DatetimeIndex(dates[self.starts][self.keep], name="date")

    def peaks(self, times: pd.DatetimeIndex, values: np.ndarray) -> pd.Series:
        """Peak per UTC day of ``values`` at ``times`` (days with too few samples dropped)."""
        if self.starts is None or not (times is self.times or times.equals(self.times)):
            return peaks_per_day(times, values)
        peaks = np.fmax.reduceat(np.asarray(values, dtype=float), self.starts)[self.keep]
        return pd.Series(peaks, index=self.index, name="value")


def daily_peaks(
    snapshot: Snapshot,
    loads: Mapping[str, GroupLoad] | None = None,
    *,
    requests: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Daily peak requests and usage per node group and per namespace.

    ``requests`` is ``pod_requests(snapshot)`` when the caller already has it.

    Returns:
        Columns scope_type ("nodegroup" | "namespace"), scope, resource ("cpu" | "memory" |
        "pods"), date (UTC midnight), requests, usage (NaN where not measured).
    """
    times = evaluation_instants(snapshot)
    days = DayGrid(times)
    # One frame built at the end: a small DataFrame per scope and resource costs more than
    # the peaks themselves on a cluster with hundreds of namespaces.
    parts: list[tuple[str, str, str, pd.Series, pd.Series | None]] = []

    def add(
        scope_type: str, scope: str, resource: str, requests: pd.Series, usage: pd.Series | None
    ) -> None:
        parts.append((scope_type, scope, resource, requests, usage))

    usage = _usage_by_scope(snapshot)
    loads = group_loads(snapshot) if loads is None else loads
    for name, load in loads.items():
        for resource, values in (
            ("cpu", load.cpu_cores),
            ("memory", load.memory_bytes),
            ("pods", load.pods),
        ):
            measured = usage.get(("nodegroup", name, resource))
            add("nodegroup", name, resource, days.peaks(load.times, values), measured)

    pods = _pod_requests(snapshot) if requests is None else requests
    pods = pods[pods["kind"] != "DaemonSet"]
    for namespace, members in pods.groupby("namespace", observed=True, sort=True):
        for resource, weights in (
            ("cpu", members["cpu"].to_numpy(float)),
            ("memory", members["memory"].to_numpy(float)),
        ):
            values = alive_sum(times, members["first_seen"], members["last_seen"], weights)
            measured = usage.get(("namespace", str(namespace), resource))
            add("namespace", str(namespace), resource, days.peaks(times, values), measured)
    if not parts:
        return pd.DataFrame(
            columns=["scope_type", "scope", "resource", "date", "requests", "usage"]
        )
    frame = (
        pd.concat([requests for _, _, _, requests, _ in parts])
        .rename("requests")
        .rename_axis("date")
        .reset_index()
    )
    frame["usage"] = np.concatenate(
        [
            usage.reindex(requests.index).to_numpy(dtype=float)
            if usage is not None
            else np.full(len(requests), np.nan)
            for _, _, _, requests, usage in parts
        ]
    )
    for position, column in enumerate(("scope_type", "scope", "resource")):
        frame.insert(
            position, column, [part[position] for part in parts for _ in range(len(part[3]))]
        )
    return frame


def _usage_by_scope(snapshot: Snapshot) -> dict[tuple[str, str, str], pd.Series]:
    """Daily peak of summed usage per node group and namespace (DaemonSets excluded)."""
    usage = snapshot.table("usage")
    if usage.empty:
        return {}
    pods = snapshot.table("pods")[["namespace", "pod", "kind", "node"]]
    nodes = snapshot.table("nodes")[["node", "node_group"]]
    joined = usage.merge(pods, on=["namespace", "pod"], how="inner").merge(
        nodes, on="node", how="left"
    )
    joined = joined[joined["kind"] != "DaemonSet"]
    out: dict[tuple[str, str, str], pd.Series] = {}
    for scope_type, column in (("nodegroup", "node_group"), ("namespace", "namespace")):
        summed = joined.groupby([column, "timestamp"], observed=True)[
            ["cpu_cores", "memory_bytes"]
        ].sum()
        for scope, frame in summed.groupby(level=0, observed=True):
            stamps = pd.DatetimeIndex(frame.index.get_level_values("timestamp"))
            for resource, name in (("cpu", "cpu_cores"), ("memory", "memory_bytes")):
                out[(scope_type, str(scope), resource)] = peaks_per_day(
                    stamps, frame[name].to_numpy(float)
                )
    return out


@dataclass(frozen=True)
class _Capacity:
    value: float
    max_nodes: int
    source: str


def _capacities(
    snapshot: Snapshot,
    catalog: InstanceCatalog,
    max_nodes: Mapping[str, int] | None,
    loads: Mapping[str, GroupLoad],
) -> dict[tuple[str, str], _Capacity]:
    nodes = snapshot.table("nodes")
    out: dict[tuple[str, str], _Capacity] = {}
    for name, load in loads.items():
        members = nodes[nodes["node_group"].astype(str) == name]
        if max_nodes and name in max_nodes:
            count, source = int(max_nodes[name]), "config max_size"
        else:
            count, source = (
                int(load.nodes.max()) if len(load.nodes) else 0,
                "most nodes seen at once",
            )
        instance_type = str(members["instance_type"].mode().iloc[0])
        formula = eks_allocatable(catalog.spec(instance_type))
        per_node = {
            "cpu": _median(members["cpu_allocatable_cores"], formula.cpu_cores)
            - load.overhead.cpu_cores,
            "memory": _median(members["memory_allocatable_bytes"], formula.memory_bytes)
            - load.overhead.memory_bytes,
            "pods": _median(members["pods_allocatable"], formula.pods) - load.overhead.pods,
        }
        for resource, room in per_node.items():
            out[(name, resource)] = _Capacity(max(room, 0.0) * count, count, source)
    return out


def _median(series: pd.Series, fallback: float) -> float:
    values = pd.to_numeric(series, errors="coerce").dropna()
    return float(values.median()) if len(values) else float(fallback)


def recommend_forecast(
    snapshot: Snapshot,
    catalog: InstanceCatalog,
    *,
    horizon_days: int = 90,
    max_nodes: Mapping[str, int] | None = None,
    min_history_days: int = MIN_HISTORY_DAYS,
    coverage: float = DEFAULT_COVERAGE,
    pending: pd.DataFrame | None = None,
) -> tuple[ForecastRow, ...]:
    """Forecast rows for every node group (cpu, memory, pods) and namespace (cpu, memory).

    Args:
        snapshot: the snapshot.
        catalog: instance specs (allocatable when the nodes table lacks it).
        horizon_days: how far ahead to look for exhaustion.
        max_nodes: node group -> max nodes (config ``max_size``); else the most seen at once.
        min_history_days: fewer usable days gives ``insufficient_data``.
        coverage: prediction-interval coverage (0..1).
        pending: ``pending_pods(snapshot)`` if already computed (else computed here).

    Returns:
        Rows keyed (scope, resource). ``extra`` holds ``scope_type``, ``reason``,
        ``days_of_history``, ``current_peak``, ``slope_per_day``, ``capacity``,
        ``capacity_source``, ``exhausted_on_earliest``, ``interval`` and the usage trend.
    """
    # Current requests: the node groups' loads and the namespaces' peaks read the same table.
    requests = _pod_requests(snapshot)
    loads = group_loads(snapshot, pending=pending, requests=requests)
    peaks = daily_peaks(snapshot, loads, requests=requests)
    capacities = _capacities(snapshot, catalog, max_nodes, loads)
    rows: list[ForecastRow] = []
    for (scope_type, scope, resource), frame in peaks.groupby(
        ["scope_type", "scope", "resource"], sort=True
    ):
        rows.append(
            _row(
                str(scope_type),
                str(scope),
                resource,
                frame,
                capacities.get((str(scope), str(resource))),
                horizon_days,
                min_history_days,
                coverage,
            )
        )
    order = {"nodegroup": 0, "namespace": 1}
    rows.sort(key=lambda r: (order.get(str(r.extra.get("scope_type")), 2), r.scope, r.resource))
    return tuple(rows)


def _row(
    scope_type: str,
    scope: str,
    resource: Any,
    frame: pd.DataFrame,
    capacity: _Capacity | None,
    horizon_days: int,
    min_history_days: int,
    coverage: float,
) -> ForecastRow:
    frame = frame.sort_values("date")
    dates = pd.DatetimeIndex(frame["date"])
    extra: dict[str, Any] = {"scope_type": scope_type, "days_of_history": len(frame)}
    if capacity is not None:
        extra.update(
            capacity=capacity.value,
            capacity_max_nodes=capacity.max_nodes,
            capacity_source=capacity.source,
        )
    if len(frame) < min_history_days:
        extra["reason"] = (
            f"only {len(frame)} day(s) of history; a trend needs at least {min_history_days}"
        )
        return ForecastRow(scope, resource, "insufficient_data", None, horizon_days, extra)
    first = dates[0]
    day = _days_since(dates, first)
    values = frame["requests"].to_numpy(float)
    fit_day, fit_values, points = trend_points(day, values)
    trend = fit_trend(fit_day, fit_values, coverage=coverage)
    last_day = float(day[-1])
    horizon = last_day + np.arange(1, horizon_days + 1)
    fitted = trend.at(horizon)
    extra.update(
        method=f"TheilSenRegressor on the {points} of requests",
        coverage=coverage,
        current_peak=float(values[-1]),
        slope_per_day=trend.slope_per_day,
        growth_percent_per_30_days=(
            100.0 * 30 * trend.slope_per_day / float(trend.at(last_day))
            if trend.at(last_day) > 0
            else None
        ),
        interval={
            "on": (dates[-1] + timedelta(days=horizon_days)).date().isoformat(),
            "fitted": float(fitted[-1]),
            "lower": float(fitted[-1] - trend.half_width),
            "upper": float(fitted[-1] + trend.half_width),
        },
    )
    usage = frame["usage"].to_numpy(float)
    if np.isfinite(usage).sum() >= min_history_days:
        mask = np.isfinite(usage)
        usage_day, usage_values, _ = trend_points(day[mask], usage[mask])
        usage_trend = fit_trend(usage_day, usage_values, coverage=coverage)
        extra.update(
            usage_peak=float(usage[mask][-1]), usage_slope_per_day=usage_trend.slope_per_day
        )
    if capacity is None:
        extra["reason"] = "a namespace has no capacity of its own; trend only"
        return ForecastRow(scope, resource, "ok", None, horizon_days, extra)
    if capacity.value <= 0:
        extra["reason"] = "no capacity known for this node group (no nodes or max_size 0)"
        return ForecastRow(scope, resource, "insufficient_data", None, horizon_days, extra)
    last_date = dates[-1].date()
    if float(trend.at(last_day)) >= capacity.value or values[-1] >= capacity.value:
        extra["exhausted_on_earliest"] = last_date.isoformat()
        extra["already_at_capacity"] = True
        window_peak = float(np.nanmax(values))
        extra["reason"] = (
            f"already at capacity: daily peaks up to {_amount(resource, window_peak)} "
            f"(trend {_amount(resource, float(trend.at(last_day)))} today) against "
            f"{_amount(resource, capacity.value)} ({capacity.max_nodes} nodes, {capacity.source}); "
            "pods an autoscaler asked for but no node could hold count as requests"
        )
        return ForecastRow(scope, resource, "ok", last_date.isoformat(), horizon_days, extra)
    exhausted = _first_crossing(fitted, capacity.value, last_date)
    earliest = _first_crossing(fitted + trend.half_width, capacity.value, last_date)
    extra["exhausted_on_earliest"] = earliest
    if exhausted is None:
        extra["reason"] = (
            f"not within {horizon_days} days at {_amount(resource, trend.slope_per_day, signed=True)}/day "
            f"(capacity {_amount(resource, capacity.value)} = {capacity.max_nodes} nodes, {capacity.source})"
        )
    else:
        extra["reason"] = (
            f"reaches capacity {_amount(resource, capacity.value)} ({capacity.max_nodes} nodes, "
            f"{capacity.source}) on {exhausted} at {_amount(resource, trend.slope_per_day, signed=True)}/day"
        )
    return ForecastRow(scope, resource, "ok", exhausted, horizon_days, extra)


def _amount(resource: str, value: float, signed: bool = False) -> str:
    """A quantity for a reason string: cores, GiB or pods, as people read them."""
    sign = ("+" if value >= 0 else "-") if signed else ("-" if value < 0 else "")
    magnitude = abs(float(value))
    if resource == "memory":
        return f"{sign}{magnitude / 2**30:.2f} GiB"
    if resource == "cpu":
        return f"{sign}{magnitude:.2f} cores"
    return f"{sign}{magnitude:.1f} {resource}"


def _days_since(dates: pd.DatetimeIndex, origin: pd.Timestamp) -> np.ndarray:
    nanoseconds = dates.as_unit("ns").asi8 - origin.as_unit("ns").value
    return np.round(nanoseconds / 86_400e9)


def _first_crossing(values: np.ndarray, capacity: float, last_date: date) -> str | None:
    hits = np.nonzero(values >= capacity)[0]
    if len(hits) == 0:
        return None
    return (last_date + timedelta(days=int(hits[0]) + 1)).isoformat()


def forecast_series(
    snapshot: Snapshot,
    catalog: InstanceCatalog,
    *,
    scope: str,
    resource: Resource = "cpu",
    horizon_days: int = 90,
    max_nodes: Mapping[str, int] | None = None,
    coverage: float = DEFAULT_COVERAGE,
) -> pd.DataFrame:
    """The data behind a forecast chart for one scope (node group or namespace).

    Returns:
        Columns date, actual (daily peak requests; NaN in the future), usage, fitted, lower,
        upper, capacity (NaN for namespaces); the observed days then ``horizon_days`` ahead.
        Empty when the scope has under two usable days.
    """
    loads = group_loads(snapshot)
    peaks = daily_peaks(snapshot, loads)
    frame = peaks[(peaks["scope"] == scope) & (peaks["resource"] == resource)].sort_values("date")
    columns = ["date", "actual", "usage", "fitted", "lower", "upper", "capacity"]
    if len(frame) < 2:
        return pd.DataFrame(columns=columns)
    dates = pd.DatetimeIndex(frame["date"])
    day = _days_since(dates, dates[0])
    trend = fit_trend(*trend_points(day, frame["requests"].to_numpy(float))[:2], coverage=coverage)
    future = pd.date_range(dates[-1] + timedelta(days=1), periods=horizon_days, freq="D")
    all_dates = dates.append(future)
    all_days = _days_since(pd.DatetimeIndex(all_dates), dates[0])
    fitted = trend.at(all_days)
    capacity = _capacities(snapshot, catalog, max_nodes, loads).get((scope, resource))
    actual = np.concatenate([frame["requests"].to_numpy(float), np.full(horizon_days, np.nan)])
    usage = np.concatenate([frame["usage"].to_numpy(float), np.full(horizon_days, np.nan)])
    return pd.DataFrame(
        {
            "date": all_dates,
            "actual": actual,
            "usage": usage,
            "fitted": fitted,
            "lower": fitted - trend.half_width,
            "upper": fitted + trend.half_width,
            "capacity": capacity.value if capacity is not None else np.nan,
        }
    )
