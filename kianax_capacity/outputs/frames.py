"""Chart-ready frames from a snapshot and a recommendation set.

The notebooks call these, then hand the frames to :mod:`kianax_capacity.outputs.charts`; no
computation lives in a notebook. Every function returns a frame (possibly empty, with its columns)
or ``None`` when the data it needs is missing (no prices, no previous set); it never raises on
missing data: a report with an honest "no data yet" note beats a report that fails.

Series are downsampled to hourly points for plotting, which keeps each HTML report small; the
statistics (percentiles, maxima) are computed on the full-resolution samples first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from kianax_capacity.outputs.diff import diff_recommendations
from kianax_capacity.outputs.tables import action_rows
from kianax_capacity.prices.catalog import embedded_catalog
from kianax_capacity.recommendations import HpaSettings, RecommendationSet
from kianax_capacity.recommenders.costs import allocate_costs
from kianax_capacity.recommenders.forecast import forecast_series
from kianax_capacity.recommenders.hpa import simulate_for_chart
from kianax_capacity.recommenders.inventory import (
    CONTAINER_KEY,
    container_inventory,
    usage_with_owners,
)
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.units import GIB

log = logging.getLogger(__name__)

__all__ = [
    "Headline",
    "capacity_history",
    "change_table",
    "container_choices",
    "container_usage",
    "cost_allocation",
    "forecast_frame",
    "forecast_scope",
    "headline",
    "hpa_choices",
    "hpa_replay_frame",
    "packing_frame",
    "requests_vs_usage",
]

Resource = Literal["cpu", "memory"]

#: Plotting resolution: one point an hour keeps three weeks at ~500 points per series.
PLOT_FREQ = "1h"

_USAGE_COLUMN = {"cpu": "cpu_cores", "memory": "memory_bytes"}
_REQUEST_COLUMN = {"cpu": "cpu_request_cores", "memory": "memory_request_bytes"}
_RECOMMENDED_FIELD = {"cpu": "cpu_request", "memory": "memory_request"}
#: Display unit per resource: CPU stays in cores, memory is shown in GiB.
_DISPLAY_DIVISOR = {"cpu": 1.0, "memory": float(GIB)}


# --- costs -------------------------------------------------------------------------------------


def cost_allocation(snapshot: Snapshot, region: str | None = None) -> Any | None:
    """The snapshot's cost allocation on the embedded price catalog, or ``None`` when unavailable.

    Returns:
        a ``kianax_capacity.recommenders.costs.CostAllocation`` (frames ``daily``, ``by_namespace``,
        ``by_workload``, ``by_node_group``, ``nodes`` ...), or ``None`` when the snapshot's
        instance types are not priced.
    """
    try:
        catalog = embedded_catalog(region) if region else embedded_catalog()
        return allocate_costs(snapshot, catalog)
    except Exception as exc:  # a report shows "no data" rather than failing on prices
        log.warning("cost allocation unavailable: %s", exc)
        return None


@dataclass(frozen=True)
class Headline:
    """The numbers at the top of the weekly report (USD per 730-hour month)."""

    monthly_cost_usd: float | None
    savings_available_usd: float
    net_change_usd: float
    idle_monthly_usd: float | None
    actions: int
    window_days: float


def headline(recommendations: RecommendationSet, allocation: Any | None = None) -> Headline:
    """Total cost, savings available and the number of proposed actions."""
    summary = dict(recommendations.summary)
    cost = summary.get("monthly_cost_usd")
    idle = summary.get("idle_monthly_usd")
    if allocation is not None:
        numbers = allocation.summary()
        cost = numbers.get("monthly_cost_usd", cost) if cost is None else cost
        idle = numbers.get("idle_monthly_usd", idle) if idle is None else idle
    # Savings available: what the actions that save would save, each workload counted once
    # (its right-sizing and HPA are one action). Node-group changes are listed as actions but
    # not added: they are largely the same dollars as the smaller requests that allow them.
    # Net: after the actions that cost (an HPA that needs more replicas) = the summary's total.
    actions = action_rows(recommendations)
    dollars = actions["monthly_savings_usd"].astype(float).fillna(0.0)
    additive = dollars[actions["area"] != "node group"]
    savings = float(additive.clip(lower=0.0).sum())
    net = summary.get("monthly_savings_usd")
    if not isinstance(net, int | float):
        net = float(additive.sum())
    count = int((dollars != 0).sum())
    days = (recommendations.window_end - recommendations.window_start).total_seconds() / 86400
    return Headline(
        monthly_cost_usd=None if cost is None else float(cost),
        savings_available_usd=float(savings),
        net_change_usd=float(net),
        idle_monthly_usd=None if idle is None else float(idle),
        actions=count,
        window_days=round(days, 1),
    )


# --- right-sizing ------------------------------------------------------------------------------


def _label(frame: pd.DataFrame) -> pd.Series:
    return (
        frame["namespace"].astype(str)
        + "/"
        + frame["workload"].astype(str)
        + " · "
        + frame["container"].astype(str)
    )


def requests_vs_usage(
    snapshot: Snapshot,
    recommendations: RecommendationSet | None = None,
    resource: Resource = "cpu",
    top: int = 15,
) -> pd.DataFrame:
    """Per container: its request, its usage (p50, p95, max per pod) and the recommended request.

    Values are in display units (cores for CPU, GiB for memory); the ``top`` containers by request
    are kept (the ones where a change matters most).

    Returns:
        Columns label, namespace, kind, workload, container, request, used_p50, used_p95,
        used_max, recommended (NaN when there is no recommendation), sorted by request.
    """
    columns = [
        "label",
        *CONTAINER_KEY,
        "request",
        "used_p50",
        "used_p95",
        "used_max",
        "recommended",
    ]
    usage = usage_with_owners(snapshot)
    inventory = container_inventory(snapshot)
    if usage.empty or inventory.empty:
        return pd.DataFrame(columns=columns)
    value = _USAGE_COLUMN[resource]
    stats = (
        usage.groupby(CONTAINER_KEY, observed=True)[value]
        .quantile(cast(Any, [0.5, 0.95, 1.0]))
        .unstack()
        .rename(columns={0.5: "used_p50", 0.95: "used_p95", 1.0: "used_max"})
        .reset_index()
    )
    frame = inventory[[*CONTAINER_KEY, _REQUEST_COLUMN[resource]]].merge(
        stats, on=CONTAINER_KEY, how="inner"
    )
    frame = frame.rename(columns={_REQUEST_COLUMN[resource]: "request"})
    recommended = {
        row.key: getattr(row.recommended, _RECOMMENDED_FIELD[resource])
        for row in (recommendations.rightsizing if recommendations else ())
    }
    keys = list(zip(*(frame[c].astype(str) for c in CONTAINER_KEY), strict=True))
    frame["recommended"] = [
        np.nan if recommended.get(k) is None else float(recommended[k]) for k in keys
    ]
    divisor = _DISPLAY_DIVISOR[resource]
    for column in ("request", "used_p50", "used_p95", "used_max", "recommended"):
        frame[column] = frame[column].astype(float) / divisor
    frame["label"] = _label(frame)
    frame = frame.sort_values(["request", "used_max"], ascending=False, na_position="last")
    return frame.head(top)[columns].reset_index(drop=True)


def container_choices(
    snapshot: Snapshot, recommendations: RecommendationSet | None = None
) -> pd.DataFrame:
    """Containers worth a close look, best first: biggest savings, else biggest CPU request.

    Returns:
        Columns namespace, kind, workload, container, monthly_savings_usd.
    """
    if recommendations is not None and recommendations.rightsizing:
        frame = recommendations.rightsizing_frame()
        frame = frame.sort_values("monthly_savings_usd", ascending=False, na_position="last")
        return frame[[*CONTAINER_KEY, "monthly_savings_usd"]].reset_index(drop=True)
    inventory = container_inventory(snapshot)
    if inventory.empty:
        return pd.DataFrame(columns=[*CONTAINER_KEY, "monthly_savings_usd"])
    inventory = inventory.sort_values("cpu_request_cores", ascending=False, na_position="last")
    inventory = inventory.assign(monthly_savings_usd=np.nan)
    return inventory[[*CONTAINER_KEY, "monthly_savings_usd"]].reset_index(drop=True)


def container_usage(
    snapshot: Snapshot,
    namespace: str,
    workload: str,
    container: str,
    resource: Resource = "cpu",
    recommendations: RecommendationSet | None = None,
) -> tuple[pd.Series, dict[str, float]]:
    """One container's usage samples (every pod, display units) and the lines to draw on them.

    Returns:
        (samples, marks): marks maps a label (``p50``, ``p95``, ``p99``, ``max``, ``request``,
        ``limit``, ``recommended``) to a value in display units; unset ones are left out.
    """
    usage = usage_with_owners(snapshot)
    mask = (
        (usage["namespace"] == namespace)
        & (usage["workload"] == workload)
        & (usage["container"] == container)
    )
    divisor = _DISPLAY_DIVISOR[resource]
    samples = usage.loc[mask, _USAGE_COLUMN[resource]].dropna().astype(float) / divisor
    marks: dict[str, float] = {}
    if not samples.empty:
        for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99"), (1.0, "max")):
            marks[name] = float(samples.quantile(q))
    inventory = container_inventory(snapshot)
    match = inventory[
        (inventory["namespace"] == namespace)
        & (inventory["workload"] == workload)
        & (inventory["container"] == container)
    ]
    if not match.empty:
        prefix = "cpu" if resource == "cpu" else "memory"
        unit = "cores" if resource == "cpu" else "bytes"
        for name, column in (
            ("request", f"{prefix}_request_{unit}"),
            ("limit", f"{prefix}_limit_{unit}"),
        ):
            value = float(match.iloc[-1][column])
            if np.isfinite(value):
                marks[name] = value / divisor
    for row in recommendations.rightsizing if recommendations else ():
        if (row.namespace, row.workload, row.container) == (namespace, workload, container):
            value = getattr(row.recommended, _RECOMMENDED_FIELD[resource])
            if value is not None:
                marks["recommended"] = float(value) / divisor
    return samples.reset_index(drop=True), marks


# --- HPA ---------------------------------------------------------------------------------------


def hpa_choices(
    snapshot: Snapshot, recommendations: RecommendationSet | None = None
) -> pd.DataFrame:
    """HPAs worth a chart, most saturated first.

    Returns:
        Columns namespace, hpa, workload, min_replicas, max_replicas, saturated_share (share
        of samples at max replicas).
    """
    hpas = snapshot.table("hpas")
    columns = ["namespace", "hpa", "workload", "min_replicas", "max_replicas", "saturated_share"]
    if hpas.empty:
        return pd.DataFrame(columns=columns)
    replicas = snapshot.table("replicas").merge(
        hpas[["namespace", "hpa", "max_replicas"]], on=["namespace", "hpa"], how="inner"
    )
    replicas["at_max"] = replicas["current_replicas"] >= replicas["max_replicas"]
    share = (
        replicas.groupby(["namespace", "hpa"], observed=True)["at_max"]
        .mean()
        .rename("saturated_share")
    )
    frame = hpas.merge(share.reset_index(), on=["namespace", "hpa"], how="left")
    frame["saturated_share"] = frame["saturated_share"].fillna(0.0)
    if recommendations is not None:
        minutes = {
            row.key: float(row.saturated_minutes.get("current") or 0.0)
            for row in recommendations.hpa
        }
        frame["saturated_minutes"] = [
            minutes.get((str(ns), str(wl)), 0.0)
            for ns, wl in zip(frame["namespace"], frame["workload"], strict=True)
        ]
        frame = frame.sort_values(["saturated_minutes", "saturated_share"], ascending=False)
    else:
        frame = frame.sort_values("saturated_share", ascending=False)
    return frame[columns].reset_index(drop=True)


def hpa_replay_frame(
    snapshot: Snapshot,
    namespace: str,
    workload: str,
    recommendations: RecommendationSet | None = None,
) -> tuple[pd.DataFrame, HpaSettings, HpaSettings | None]:
    """Replicas over time for one HPA, observed and replayed before/after, hourly.

    Uses the HPA recommender's replay (``simulate_for_chart``) with the requests the row itself
    replayed, when the set has a row for this HPA; otherwise the observed replicas only.

    Returns:
        (frame, current, recommended): frame has timestamp, replicas_observed and, when replayed,
        replicas_current_sim, replicas_recommended_sim, saturated, saturated_recommended
        (booleans, true when any sample in the hour was saturated).
    """
    hpas = snapshot.table("hpas")
    spec = hpas[(hpas["namespace"] == namespace) & (hpas["workload"] == workload)]
    empty = pd.DataFrame(columns=["timestamp", "replicas_observed"])
    if spec.empty:
        return empty, HpaSettings(), None
    first = spec.iloc[0]
    current = HpaSettings(
        min_replicas=int(first["min_replicas"]),
        max_replicas=int(first["max_replicas"]),
        target_cpu_utilization=_finite(first["target_cpu_utilization"]),
        target_memory_utilization=_finite(first["target_memory_utilization"]),
    )
    row = next(
        (
            r
            for r in (recommendations.hpa if recommendations else ())
            if r.key == (namespace, workload)
        ),
        None,
    )
    recommended = row.recommended if row is not None else None
    frame: pd.DataFrame | None = None
    if row is not None and recommended is not None:
        # The requests the recommendation itself replayed (per pod, summed over its
        # containers), so the chart can never disagree with the row it illustrates.
        replayed = dict(row.replayed_requests)
        memory_request = replayed.get("memory_request")
        try:
            frame = simulate_for_chart(
                snapshot,
                namespace,
                workload,
                recommended,
                new_cpu_request_cores=replayed.get("cpu_request"),
                new_memory_request_bytes=None if memory_request is None else int(memory_request),
            )
        except Exception as exc:  # the chart falls back to observed replicas
            log.warning("HPA replay of %s/%s unavailable: %s", namespace, workload, exc)
            frame = None
    if frame is None:
        observed = snapshot.table("replicas")
        observed = observed[
            (observed["namespace"] == namespace) & (observed["hpa"] == first["hpa"])
        ]
        frame = observed[["timestamp", "current_replicas"]].rename(
            columns={"current_replicas": "replicas_observed"}
        )
        frame = frame.assign(saturated=frame["replicas_observed"] >= current.max_replicas)
    return _hourly(frame), current, recommended


def _hourly(frame: pd.DataFrame) -> pd.DataFrame:
    """Hourly points: the max of replica counts (peaks matter), any() of saturation flags."""
    if frame.empty:
        return frame.reset_index(drop=True)
    indexed = frame.set_index(pd.DatetimeIndex(frame["timestamp"])).drop(columns="timestamp")
    how = {
        column: ("max" if not pd.api.types.is_bool_dtype(indexed[column]) else "any")
        for column in indexed.columns
        if pd.api.types.is_numeric_dtype(indexed[column])
        or pd.api.types.is_bool_dtype(indexed[column])
    }
    hourly = indexed[list(how)].resample(PLOT_FREQ).agg(how)
    return hourly.dropna(how="all").reset_index()


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None


# --- node groups and capacity ------------------------------------------------------------------


def _requests_per_sample(snapshot: Snapshot) -> pd.DataFrame:
    """Usage samples with each container's requests and the node group its pod ran on."""
    usage = snapshot.table("usage")[["timestamp", "namespace", "pod", "container"]]
    containers = snapshot.table("containers")[
        ["namespace", "pod", "container", "cpu_request_cores", "memory_request_bytes"]
    ]
    pods = snapshot.table("pods")[["namespace", "pod", "node"]]
    nodes = snapshot.table("nodes")[["node", "node_group"]]
    merged = usage.merge(containers, on=["namespace", "pod", "container"], how="inner")
    merged = merged.merge(pods, on=["namespace", "pod"], how="inner")
    return merged.merge(nodes, on="node", how="inner")


def packing_frame(snapshot: Snapshot, at: pd.Timestamp | None = None) -> pd.DataFrame:
    """Requests stacked per node at one moment (default: the moment with most pods running).

    Returns:
        Columns node, node_group, namespace, cpu_request_cores, memory_request_gib,
        cpu_allocatable_cores, memory_allocatable_gib, timestamp; one row per (node, namespace).
    """
    columns = [
        "node",
        "node_group",
        "namespace",
        "cpu_request_cores",
        "memory_request_gib",
        "cpu_allocatable_cores",
        "memory_allocatable_gib",
        "timestamp",
    ]
    merged = _requests_per_sample(snapshot)
    if merged.empty:
        return pd.DataFrame(columns=columns)
    if at is None:
        at = pd.Timestamp(cast(Any, merged.groupby("timestamp")["pod"].nunique().idxmax()))
    moment = merged[merged["timestamp"] == at]
    frame = (
        moment.groupby(["node", "node_group", "namespace"], observed=True)[
            ["cpu_request_cores", "memory_request_bytes"]
        ]
        .sum()
        .reset_index()
    )
    nodes = snapshot.table("nodes")[["node", "cpu_allocatable_cores", "memory_allocatable_bytes"]]
    frame = frame.merge(nodes, on="node", how="left")
    frame["memory_request_gib"] = frame["memory_request_bytes"] / GIB
    frame["memory_allocatable_gib"] = frame["memory_allocatable_bytes"] / GIB
    frame["timestamp"] = at
    frame = frame.sort_values(["node_group", "node", "namespace"])
    return frame[columns].reset_index(drop=True)


def capacity_history(snapshot: Snapshot, resource: Resource = "cpu") -> pd.DataFrame:
    """Hourly peak of requested vs allocatable per node group (display units).

    Returns:
        Columns timestamp, node_group, requested, allocatable.
    """
    columns = ["timestamp", "node_group", "requested", "allocatable"]
    merged = _requests_per_sample(snapshot)
    if merged.empty:
        return pd.DataFrame(columns=columns)
    request = _REQUEST_COLUMN[resource]
    divisor = _DISPLAY_DIVISOR[resource]
    requested = (
        merged.groupby(["timestamp", "node_group"], observed=True)[request]
        .sum()
        .rename("requested")
        .reset_index()
    )
    nodes = snapshot.table("nodes")
    allocatable_column = (
        "cpu_allocatable_cores" if resource == "cpu" else "memory_allocatable_bytes"
    )
    stamps = pd.DatetimeIndex(requested["timestamp"].unique())
    rows = []
    for group, group_nodes in nodes.groupby("node_group", observed=True):
        first = group_nodes["first_seen"].to_numpy()
        last = group_nodes["last_seen"].to_numpy()
        alive = (first[None, :] <= stamps.to_numpy()[:, None]) & (
            stamps.to_numpy()[:, None] <= last[None, :]
        )
        total = alive.astype(float) @ group_nodes[allocatable_column].to_numpy(dtype=float)
        rows.append(pd.DataFrame({"timestamp": stamps, "node_group": group, "allocatable": total}))
    allocatable = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns[:2])
    frame = requested.merge(allocatable, on=["timestamp", "node_group"], how="outer").fillna(0.0)
    frame[["requested", "allocatable"]] = frame[["requested", "allocatable"]] / divisor
    frame = (
        frame.set_index("timestamp")
        .groupby("node_group", observed=True)[["requested", "allocatable"]]
        .resample(PLOT_FREQ)
        .max()
        .reset_index()
    )
    return frame[columns].dropna().sort_values(["node_group", "timestamp"]).reset_index(drop=True)


FORECAST_COLUMNS = ["date", "actual", "usage", "fitted", "lower", "upper", "capacity"]


def forecast_scope(
    snapshot: Snapshot, recommendations: RecommendationSet | None = None, resource: Resource = "cpu"
) -> str | None:
    """The scope worth charting: the one that runs out first, else the busiest node group."""
    rows = [
        row
        for row in (recommendations.forecast if recommendations else ())
        if row.resource == resource and row.exhausted_on
    ]
    if rows:
        return min(rows, key=lambda r: str(r.exhausted_on)).scope
    history = capacity_history(snapshot, resource)
    if history.empty:
        return None
    return str(history.groupby("node_group")["requested"].max().idxmax())


def forecast_frame(
    snapshot: Snapshot,
    scope: str | None = None,
    resource: Resource = "cpu",
    horizon_days: int = 90,
) -> pd.DataFrame:
    """Daily peak requests of a scope, the fitted trend with its interval, and the capacity.

    Uses the forecast recommender (``forecast_series``, embedded instance catalog); where it
    cannot forecast, the observed daily peaks of :func:`capacity_history` only. Display units (cores, GiB).

    Returns:
        Columns date, actual, usage, fitted, lower, upper, capacity (NaN where unknown).
    """
    scope = scope or forecast_scope(snapshot, None, resource)
    if scope is None:
        return pd.DataFrame(columns=FORECAST_COLUMNS)
    divisor = _DISPLAY_DIVISOR[resource]
    try:
        frame = forecast_series(
            snapshot, embedded_catalog(), scope=scope, resource=resource, horizon_days=horizon_days
        )
    except Exception as exc:  # the observed history below is still worth showing
        log.warning("forecast for %s unavailable: %s", scope, exc)
    else:
        frame = frame.reindex(columns=FORECAST_COLUMNS)
        for column in FORECAST_COLUMNS[1:]:
            frame[column] = frame[column].astype(float) / divisor
        return frame.reset_index(drop=True)
    history = capacity_history(snapshot, resource)
    history = history[history["node_group"] == scope]
    if history.empty:
        return pd.DataFrame(columns=FORECAST_COLUMNS)
    daily = (
        history.set_index("timestamp")[["requested", "allocatable"]]
        .resample("1D")
        .max()
        .reset_index()
    )
    return pd.DataFrame(
        {
            "date": daily["timestamp"],
            "actual": daily["requested"],
            "usage": np.nan,
            "fitted": np.nan,
            "lower": np.nan,
            "upper": np.nan,
            "capacity": daily["allocatable"],
        }
    )


# --- what changed ------------------------------------------------------------------------------


def change_table(
    previous: RecommendationSet | None, current: RecommendationSet
) -> pd.DataFrame | None:
    """What changed since the previous recommendation set, biggest dollars first.

    The changes of :func:`kianax_capacity.outputs.diff.diff_recommendations`. ``None`` when
    there is no previous set.

    Returns:
        Columns section, what, change, monthly_usd_delta.
    """
    if previous is None:
        return None
    rows: list[dict[str, Any]] = []
    for change in diff_recommendations(previous, current).changes:
        details = ", ".join(f"{f.name}: {_short(f.old)} → {_short(f.new)}" for f in change.fields)
        rows.append(
            {
                "section": str(change.section),
                "what": "/".join(str(k) for k in change.key),
                "change": f"{change.kind}" + (f" ({details})" if details else ""),
                "monthly_usd_delta": change.delta_usd,
            }
        )
    frame = pd.DataFrame(rows, columns=["section", "what", "change", "monthly_usd_delta"])
    order = frame["monthly_usd_delta"].astype(float).abs().fillna(0.0)
    return frame.loc[order.sort_values(ascending=False).index].reset_index(drop=True)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


# --- burstable node groups: CPU credits ------------------------------------------------------


def credit_balance_frame(snapshot: Snapshot, recs: RecommendationSet | None = None) -> pd.DataFrame:
    """Per burstable node group, its nodes' CPU-credit balance and surplus over the window.

    The same simulation as the node-group recommendation (:mod:`kianax_capacity.recommenders.
    burstable`), in each group's credit mode as its row says (else the type's default), with
    the default kubelet/system allowance.

    Returns:
        Columns timestamp, node_group, balance_credits (accrued, summed over the group's
        nodes), surplus_credits (spent beyond the balance, not yet paid down), mode.
    """
    from kianax_capacity.prices.credits import credit_spec
    from kianax_capacity.recommenders.burstable import (
        default_system_allowance_cores,
        group_surplus,
        node_cpu,
    )

    columns = ["timestamp", "node_group", "balance_credits", "surplus_credits", "mode"]
    nodes = snapshot.table("nodes")
    types = {str(t) for t in nodes["instance_type"].dropna()}
    specs = {t: credit_spec(t) for t in types}
    if nodes.empty or not any(specs.values()):
        return pd.DataFrame(columns=columns)
    modes = {}
    for row in recs.nodegroups if recs is not None else ():
        burstable = row.extra.get("burstable")
        current = burstable.get("current") if isinstance(burstable, dict) else None
        if isinstance(current, dict) and current.get("mode") in ("standard", "unlimited"):
            modes[row.name] = current["mode"]

    def allowance(group: str, instance_type: str) -> float:
        spec = specs.get(instance_type)
        return default_system_allowance_cores(spec.vcpu if spec is not None else 2)

    cpu = node_cpu(snapshot, allowance)
    start, end = snapshot.window
    hours = max((end - start).total_seconds() / 3600.0, 1e-9)
    frames = []
    for group, members in nodes.groupby("node_group", observed=True, sort=True):
        estimate = group_surplus(
            cpu,
            members,
            specs,
            mode=modes.get(str(group)),
            step_hours=snapshot.step_seconds / 3600.0,
            window_hours=hours,
        )
        if estimate.balance is None or estimate.times is None:
            continue
        surplus = _surplus_series(cpu, members, specs, modes.get(str(group)), snapshot)
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": estimate.times,
                    "node_group": str(group),
                    "balance_credits": estimate.balance,
                    "surplus_credits": surplus,
                    "mode": estimate.mode,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def _surplus_series(
    cpu: Any, members: pd.DataFrame, specs: dict[str, Any], mode: Any, snapshot: Snapshot
) -> np.ndarray:
    """The group's outstanding surplus credits per step (summed over its burstable types)."""
    from kianax_capacity.recommenders.burstable import simulate_credits

    total = np.zeros(len(cpu.times))
    for instance_type, spec in specs.items():
        if spec is None:
            continue
        names = [
            str(n)
            for n, t in zip(members["node"], members["instance_type"], strict=True)
            if str(t) == instance_type and str(n) in set(cpu.nodes)
        ]
        if names:
            result = simulate_credits(
                cpu.columns(names), snapshot.step_seconds / 3600.0, spec, mode=mode
            )
            total += result.surplus_balance
    return total
