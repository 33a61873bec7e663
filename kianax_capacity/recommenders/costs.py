"""Cost allocation: node dollars over the window, shared out to workloads, the rest is idle.

OpenCost's model, on a snapshot:

* A node costs ``node-hours x hourly price`` (node-hours = ``last_seen - first_seen + one step``,
  since a node seen at one sample ran for that sample's step).
* Each container is charged, for every usage sample, ``max(request, usage)`` cores and bytes
  for one step, at the CPU core-hour and memory GiB-hour prices of the node its pod ran on
  (:meth:`PriceCatalog.unit_prices`: node price split with a fixed CPU:RAM ratio). A container
  that asked for more than it used pays for its reservation; one that used more pays its usage.
* What the nodes cost beyond what was allocated on them is idle, reported per node group.
* The EKS control plane is one more line (USD 0.10 per cluster-hour).

Pure: a function of the snapshot and a catalog; no I/O, no clock. Vectorised: the usage table
is merged once with a small per-container price table, then aggregated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kianax_capacity.prices.catalog import EKS_CONTROL_PLANE_HOURLY_USD, PriceCatalog, price_nodes
from kianax_capacity.recommenders.inventory import WORKLOAD_KEY
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.units import GIB, HOURS_PER_MONTH

__all__ = ["IDLE", "RECONCILE_COLUMNS", "CostAllocation", "allocate_costs", "reconcile"]

#: The namespace label under which idle node cost appears in the daily frame.
IDLE = "(idle)"

_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class CostAllocation:
    """Where a cluster's node dollars went over a snapshot window (USD over the window).

    Attributes:
        window_hours: length of the window the costs cover.
        nodes: one row per node: node, node_group, instance_type, capacity_type, hours,
            hourly_usd, cost_usd, allocated_usd, idle_usd, overallocated_usd (allocation
            beyond the node's cost: containers bursting past requests; allocated + idle -
            overallocated = cost).
        workloads: one row per (namespace, kind, workload, node_group, capacity_type):
            cpu_cost_usd, memory_cost_usd, cost_usd.
        by_namespace: namespace, cost_usd.
        by_workload: namespace, kind, workload, cost_usd.
        by_node_group: node_group, capacity_type-independent totals: cost_usd (nodes),
            allocated_usd, idle_usd, overallocated_usd, node_hours.
        by_capacity_type: capacity_type, cost_usd, allocated_usd, idle_usd, overallocated_usd.
        daily: day (UTC midnight), node_group, namespace (``"(idle)"`` for idle), cost_usd;
            the node cost of each day split between namespaces and idle, for a stacked chart.
        node_daily: day, node_group, cost_usd: node cost per day (what the bill should show).
        control_plane_usd: EKS control plane cost over the window.
        prices_source, prices_as_of, prices_region: which catalog priced it.
        unplaced_samples: usage rows whose pod had no known node (not allocated).
    """

    window_hours: float
    nodes: pd.DataFrame = field(repr=False)
    workloads: pd.DataFrame = field(repr=False)
    by_namespace: pd.DataFrame = field(repr=False)
    by_workload: pd.DataFrame = field(repr=False)
    by_node_group: pd.DataFrame = field(repr=False)
    by_capacity_type: pd.DataFrame = field(repr=False)
    daily: pd.DataFrame = field(repr=False)
    node_daily: pd.DataFrame = field(repr=False)
    control_plane_usd: float
    prices_source: str
    prices_as_of: str
    prices_region: str
    unplaced_samples: int = 0

    @property
    def node_cost_usd(self) -> float:
        return float(self.nodes["cost_usd"].sum())

    @property
    def allocated_usd(self) -> float:
        return float(self.nodes["allocated_usd"].sum())

    @property
    def idle_usd(self) -> float:
        return float(self.nodes["idle_usd"].sum())

    @property
    def overallocated_usd(self) -> float:
        return float(self.nodes["overallocated_usd"].sum())

    @property
    def total_usd(self) -> float:
        return self.node_cost_usd + self.control_plane_usd

    def monthly(self, window_usd: float) -> float:
        """Scale a cost over the window to a 730-hour month."""
        if self.window_hours <= 0:
            return 0.0
        return window_usd * HOURS_PER_MONTH / self.window_hours

    def _monthly_by(self, table: pd.DataFrame, key: str) -> dict[str, float]:
        costs = table["cost_usd"].astype(float).tolist()
        return {
            str(k): round(self.monthly(c), 2)
            for k, c in zip(table[key].tolist(), costs, strict=True)
        }

    def summary(self) -> dict[str, Any]:
        """Headline figures for recommendations.json ``summary`` and reports (USD per month)."""
        node_groups = self._monthly_by(self.by_node_group, "node_group")
        namespaces = self._monthly_by(self.by_namespace, "namespace")
        node = self.node_cost_usd
        return {
            "monthly_cost_usd": round(self.monthly(self.total_usd), 2),
            "node_monthly_usd": round(self.monthly(node), 2),
            "control_plane_monthly_usd": round(self.monthly(self.control_plane_usd), 2),
            "allocated_monthly_usd": round(self.monthly(self.allocated_usd), 2),
            "idle_monthly_usd": round(self.monthly(self.idle_usd), 2),
            "idle_fraction": round(self.idle_usd / node, 4) if node > 0 else 0.0,
            "overallocated_monthly_usd": round(self.monthly(self.overallocated_usd), 2),
            "window_cost_usd": round(self.total_usd, 4),
            "window_hours": round(self.window_hours, 4),
            "node_group_monthly_usd": node_groups,
            "namespace_monthly_usd": namespaces,
            # "namespace/kind/workload": what the fleet page compares across clusters.
            "workload_monthly_usd": {
                f"{ns}/{kind}/{name}": round(self.monthly(float(cost)), 2)
                for ns, kind, name, cost in self.by_workload[
                    ["namespace", "kind", "workload", "cost_usd"]
                ].itertuples(index=False)
            },
            "prices": {
                "source": self.prices_source,
                "as_of": self.prices_as_of,
                "region": self.prices_region,
            },
        }


def allocate_costs(snapshot: Snapshot, catalog: PriceCatalog) -> CostAllocation:
    """Allocate the snapshot's node cost to workloads (max(request, usage)) and idle.

    Args:
        snapshot: the cluster inventory and usage over a window.
        catalog: the prices (embedded or live).

    Returns:
        A :class:`CostAllocation` with node, workload, namespace, node-group, capacity-type and
        daily frames.

    Raises:
        UserInputError: a node's instance type is not in the catalog.

    Example:
        >>> # allocation = allocate_costs(load_snapshot("snap/"), embedded_catalog())
        >>> # allocation.summary()["idle_monthly_usd"]
    """
    step = float(snapshot.step_seconds)
    start, end = snapshot.window
    window_hours = max((pd.Timestamp(end) - pd.Timestamp(start)).total_seconds() / 3600.0, 0.0)

    nodes = price_nodes(snapshot.table("nodes"), catalog, step_seconds=step)
    nodes = nodes.assign(
        start=nodes["first_seen"], end=nodes["last_seen"] + pd.Timedelta(seconds=step)
    )

    charged, unplaced = _charged_samples(snapshot, nodes, step)

    # Per (day, node): what the workloads on that node were charged that day.
    allocated_day_node = charged.groupby(["day", "node"], observed=True)["cost_usd"].sum()
    node_day = _node_day_costs(nodes)
    node_day = node_day.join(allocated_day_node.rename("allocated_usd"), on=["day", "node"])
    node_day["allocated_usd"] = node_day["allocated_usd"].fillna(0.0)
    # max(request, usage) can add up to more than a node has (one container bursts past its
    # request into capacity another reserved but left unused). That excess is reported as
    # overallocated rather than as negative idle, so allocated + idle - overallocated = cost.
    gap = node_day["cost_usd"] - node_day["allocated_usd"]
    node_day["idle_usd"] = gap.clip(lower=0.0)
    node_day["overallocated_usd"] = (-gap).clip(lower=0.0)

    shares = ["allocated_usd", "idle_usd", "overallocated_usd"]
    per_node = node_day.groupby("node")[shares].sum()
    nodes = nodes.drop(columns=["start", "end", "first_seen", "last_seen"]).join(
        per_node, on="node"
    )
    nodes[shares] = nodes[shares].fillna(0.0)

    workloads = (
        charged.groupby([*WORKLOAD_KEY, "node_group", "capacity_type"], observed=True)[
            ["cpu_cost_usd", "memory_cost_usd", "cost_usd"]
        ]
        .sum()
        .reset_index()
        .sort_values("cost_usd", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    by_workload = (
        workloads.groupby(WORKLOAD_KEY, observed=True)["cost_usd"]
        .sum()
        .reset_index()
        .sort_values("cost_usd", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    by_namespace = (
        workloads.groupby("namespace", observed=True)["cost_usd"]
        .sum()
        .reset_index()
        .sort_values("cost_usd", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    by_node_group = (
        nodes.groupby("node_group")
        .agg(
            cost_usd=("cost_usd", "sum"),
            allocated_usd=("allocated_usd", "sum"),
            idle_usd=("idle_usd", "sum"),
            overallocated_usd=("overallocated_usd", "sum"),
            node_hours=("hours", "sum"),
        )
        .reset_index()
    )
    by_capacity_type = nodes.groupby("capacity_type")[["cost_usd", *shares]].sum().reset_index()

    daily_alloc = (
        charged.groupby(["day", "node_group", "namespace"], observed=True)["cost_usd"]
        .sum()
        .reset_index()
    )
    daily_idle = node_day.groupby(["day", "node_group"])["idle_usd"].sum().reset_index()
    daily_idle = daily_idle.rename(columns={"idle_usd": "cost_usd"}).assign(namespace=IDLE)
    daily = (
        pd.concat([daily_alloc, daily_idle[["day", "node_group", "namespace", "cost_usd"]]])
        .sort_values(["day", "node_group", "namespace"], kind="stable")
        .reset_index(drop=True)
    )
    node_daily = node_day.groupby(["day", "node_group"])["cost_usd"].sum().reset_index()

    return CostAllocation(
        window_hours=window_hours,
        nodes=nodes.reset_index(drop=True),
        workloads=workloads,
        by_namespace=by_namespace,
        by_workload=by_workload,
        by_node_group=by_node_group,
        by_capacity_type=by_capacity_type,
        daily=daily,
        node_daily=node_daily,
        control_plane_usd=EKS_CONTROL_PLANE_HOURLY_USD * window_hours,
        prices_source=catalog.source,
        prices_as_of=catalog.as_of,
        prices_region=catalog.region,
        unplaced_samples=unplaced,
    )


def _charged_samples(
    snapshot: Snapshot, nodes: pd.DataFrame, step: float
) -> tuple[pd.DataFrame, int]:
    """Every usage sample priced: max(request, usage) x the unit prices of its node, one step.

    Returns the charged rows (day, node, namespace, kind, workload, node_group, capacity_type,
    cpu_cost_usd, memory_cost_usd, cost_usd) and the count of samples on no known node.
    """
    columns = [
        "day",
        "node",
        *WORKLOAD_KEY,
        "node_group",
        "capacity_type",
        "cpu_cost_usd",
        "memory_cost_usd",
        "cost_usd",
    ]
    usage = snapshot.table("usage")
    if usage.empty:
        # Aggregate shape: each pod's mean usage over its life stands in for its samples.
        usage = _usage_from_stats(snapshot, step)
    if usage.empty or nodes.empty:
        return pd.DataFrame(columns=columns), len(usage)
    # A small table first: one row per container with its requests and its node's prices ...
    pods = snapshot.table("pods")[["namespace", "pod", "kind", "workload", "node"]]
    pods = pods.drop_duplicates(["namespace", "pod"], keep="last")
    containers = snapshot.table("containers")[
        ["namespace", "pod", "container", "cpu_request_cores", "memory_request_bytes"]
    ].drop_duplicates(["namespace", "pod", "container"], keep="last")
    node_prices = nodes[
        ["node", "node_group", "capacity_type", "cpu_core_hour_usd", "memory_gib_hour_usd"]
    ]
    placed = pods.merge(node_prices, on="node", how="inner", validate="many_to_one")
    # ... then one merge of the (possibly huge) usage table onto it.
    keys = ["namespace", "pod", "container"]
    if "steps" not in usage.columns:
        usage = usage.assign(steps=1.0)
    samples = usage[[*keys, "timestamp", "cpu_cores", "memory_bytes", "steps"]].merge(
        containers, on=keys, how="left", validate="many_to_one"
    )
    samples = samples.merge(placed, on=["namespace", "pod"], how="inner", validate="many_to_one")
    unplaced = len(usage) - len(samples)
    # A sample row stands for one step; an aggregate-shape row for its "steps" (see below).
    step_hours = step / 3600.0 * samples["steps"].to_numpy(dtype=float)
    cpu = np.fmax(
        samples["cpu_cores"].to_numpy(dtype=float),
        samples["cpu_request_cores"].to_numpy(dtype=float),
    )
    memory = np.fmax(
        samples["memory_bytes"].to_numpy(dtype=float),
        samples["memory_request_bytes"].to_numpy(dtype=float),
    )
    # fmax ignores a NaN side (unset request or missing sample); both NaN means nothing to charge.
    cpu = np.nan_to_num(cpu, nan=0.0)
    memory = np.nan_to_num(memory, nan=0.0)
    cpu_cost = cpu * samples["cpu_core_hour_usd"].to_numpy(dtype=float) * step_hours
    memory_cost = memory / GIB * samples["memory_gib_hour_usd"].to_numpy(dtype=float) * step_hours
    charged = pd.DataFrame(
        {
            "day": samples["timestamp"].dt.floor("D"),
            # The string columns stay as they are (Arrow-backed): object copies would hold one
            # Python str per row and column; the group-by results are strings either way.
            "node": samples["node"],
            "namespace": samples["namespace"],
            "kind": samples["kind"].fillna("Pod"),
            "workload": samples["workload"].fillna(samples["pod"]),
            "node_group": samples["node_group"],
            "capacity_type": samples["capacity_type"],
            "cpu_cost_usd": cpu_cost,
            "memory_cost_usd": memory_cost,
            "cost_usd": cpu_cost + memory_cost,
        }
    )
    return charged[columns], unplaced


def _usage_from_stats(snapshot: Snapshot, step: float) -> pd.DataFrame:
    """Usage rows from ``container_stats`` (aggregate shape): one per pod container and UTC day.

    Each row carries the container's mean CPU and working set over its pod's life and, in
    ``steps``, that life's steps falling on the day, so max(request, usage) is charged per day
    on the pod's node. Charging the mean, not each sample, undercounts a container that bursts
    above its request part of the time; the series shape charges every sample.
    """
    stats = snapshot.table("container_stats")
    pods = snapshot.table("pods")[["namespace", "pod", "first_seen", "last_seen"]]
    if stats.empty or pods.empty:
        return pd.DataFrame(
            columns=["namespace", "pod", "container", "timestamp", "cpu_cores", "memory_bytes"]
        )
    frame = stats[
        ["namespace", "pod", "container", "samples", "cpu_cores_mean", "memory_bytes_mean"]
    ].merge(pods, on=["namespace", "pod"], how="inner")
    start = frame["first_seen"] - pd.Timedelta(seconds=step)  # a step ends at its timestamp
    end = frame["last_seen"]
    first_day = start.dt.floor("D")
    days = ((end - pd.Timedelta(nanoseconds=1)).dt.floor("D") - first_day) // pd.Timedelta(days=1)
    repeat = days.clip(lower=0).astype("int64").to_numpy() + 1
    rows = frame.index.repeat(repeat)
    offset = pd.Series(np.ones(len(rows), dtype="int64")).groupby(rows).cumsum().to_numpy() - 1

    def naive(times: pd.Series) -> np.ndarray:  # UTC wall times as datetime64[ns]
        return times.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")[rows]

    day = naive(first_day) + offset * np.timedelta64(1, "D")
    day_start = np.maximum(day, naive(start))
    day_end = np.minimum(day + np.timedelta64(1, "D"), naive(end))
    overlap = np.clip((day_end - day_start) / np.timedelta64(1, "s"), 0.0, None)
    life = ((end - start) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)[rows]
    samples = frame["samples"].to_numpy(dtype=float)[rows]
    # take() keeps the string columns Arrow-backed: to_numpy() would make one Python str object
    # per row and column (hundreds of MiB at 10k containers).
    return pd.DataFrame(
        {
            "namespace": frame["namespace"].array.take(rows),
            "pod": frame["pod"].array.take(rows),
            "container": frame["container"].array.take(rows),
            "timestamp": pd.to_datetime(np.asarray(day, dtype="datetime64[ns]"), utc=True),
            "cpu_cores": frame["cpu_cores_mean"].to_numpy(dtype=float)[rows],
            "memory_bytes": frame["memory_bytes_mean"].to_numpy(dtype=float)[rows],
            "steps": samples * overlap / np.where(life > 0, life, 1.0),
        }
    )


def _node_day_costs(nodes: pd.DataFrame) -> pd.DataFrame:
    """Split each node's running interval [start, end) over UTC days: node, day, hours, cost_usd."""
    columns = ["node", "node_group", "day", "hours", "cost_usd"]
    if nodes.empty:
        return pd.DataFrame(columns=columns)
    first_day = nodes["start"].dt.floor("D")
    last_day = (nodes["end"] - pd.Timedelta(nanoseconds=1)).dt.floor("D")
    days = ((last_day - first_day) // _DAY).clip(lower=0).astype(int) + 1
    expanded = nodes.loc[
        nodes.index.repeat(days), ["node", "node_group", "hourly_usd", "start", "end"]
    ]
    offset = expanded.groupby(level=0).cumcount().to_numpy()
    # Index + Index keeps the UTC dtype and assigns by position (the repeated index has duplicates).
    expanded["day"] = pd.DatetimeIndex(first_day.loc[expanded.index]) + pd.to_timedelta(
        offset, unit="D"
    )
    day_end = expanded["day"] + _DAY
    overlap = expanded["end"].where(expanded["end"] < day_end, day_end) - expanded["start"].where(
        expanded["start"] > expanded["day"], expanded["day"]
    )
    expanded["hours"] = overlap.dt.total_seconds().clip(lower=0.0) / 3600.0
    expanded["cost_usd"] = expanded["hours"] * expanded["hourly_usd"]
    return expanded[columns].reset_index(drop=True)


#: Columns of the reconciliation table.
RECONCILE_COLUMNS = [
    "level",
    "day",
    "name",
    "estimated_usd",
    "billed_usd",
    "gap_usd",
    "gap_percent",
]


def reconcile(estimated: CostAllocation, billed: pd.DataFrame) -> pd.DataFrame:
    """Estimated (node-hours x catalog price) against billed cost, per day.

    Args:
        estimated: the allocation of a snapshot.
        billed: a billed frame (``kianax_capacity.sources.aws_costs.BILLED_COLUMNS``): rows with
            a namespace are pod-level (CUR split cost allocation), the others node-level.

    Returns:
        Columns level (``total`` | ``node_group`` | ``namespace``), day, name, estimated_usd,
        billed_usd, gap_usd (billed - estimated: negative = discounts such as Savings Plans,
        positive = resources the estimate does not see such as EBS or untagged nodes) and
        gap_percent (of the estimate; NaN where nothing was estimated). Only days the snapshot
        covers are compared; its first and last day are usually partial on both sides alike.
    """
    days = set(estimated.node_daily["day"])
    if not days or billed.empty:
        return pd.DataFrame(columns=RECONCILE_COLUMNS)
    billed = billed[billed["day"].isin(days)]
    has_namespace = billed["namespace"].notna()

    node_estimate = estimated.node_daily.rename(columns={"node_group": "name"})
    node_billed = billed[~has_namespace].rename(columns={"node_group": "name"})
    levels = [_compare("node_group", node_estimate, node_billed)]
    totals = levels[0].groupby("day")[["estimated_usd", "billed_usd"]].sum().reset_index()
    levels.insert(0, totals.assign(level="total", name="(cluster)"))
    if has_namespace.any():
        allocated = estimated.daily[estimated.daily["namespace"] != IDLE]
        namespace_estimate = allocated.groupby(["day", "namespace"])["cost_usd"].sum().reset_index()
        levels.append(
            _compare(
                "namespace",
                namespace_estimate.rename(columns={"namespace": "name"}),
                billed[has_namespace].rename(columns={"namespace": "name"}),
            )
        )
    table = pd.concat([level for level in levels if not level.empty], ignore_index=True)
    table["gap_usd"] = table["billed_usd"] - table["estimated_usd"]
    estimate = table["estimated_usd"].where(table["estimated_usd"] > 0)
    table["gap_percent"] = 100.0 * table["gap_usd"] / estimate
    order = {"total": 0, "node_group": 1, "namespace": 2}
    table = table.sort_values(
        ["day", "level", "name"],
        key=lambda s: s.map(order) if s.name == "level" else s,
        kind="stable",
    )
    return table[RECONCILE_COLUMNS].reset_index(drop=True)


def _compare(level: str, estimate: pd.DataFrame, billed: pd.DataFrame) -> pd.DataFrame:
    left = estimate.groupby(["day", "name"])["cost_usd"].sum().rename("estimated_usd")
    right = billed.groupby(["day", "name"])["cost_usd"].sum().rename("billed_usd")
    both = pd.concat([left, right], axis=1).fillna(0.0).reset_index()
    return both.assign(level=level)
