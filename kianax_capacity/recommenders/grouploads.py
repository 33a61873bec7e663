"""A node group's requests over the window: the load the packing and the forecast read.

Every workload pod that ran on the group's nodes contributes its requests (the recommended
requests where ``new_requests`` gives them, else the current ones) while it ran; pods an HPA
asked for and no node took (pending) count too, at the requests of the workload's last placed
pod. DaemonSet pods are not part of the load: one pod of each DaemonSet seen on the group is
charged to *every* node as overhead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kianax_capacity.recommendations import Resources
from kianax_capacity.recommenders.inventory import WORKLOAD_KEY, pending_pods
from kianax_capacity.recommenders.packing import Overhead
from kianax_capacity.snapshot import Snapshot

__all__ = ["GroupLoad", "alive_sum", "evaluation_instants", "group_loads", "pod_requests"]

# At most this many instants are evaluated per group: enough for a peak and a median.
_MAX_INSTANTS = 4000


@dataclass(frozen=True)
class GroupLoad:
    """A node group's requests over the window, on an evenly spaced grid of instants."""

    name: str
    times: pd.DatetimeIndex
    cpu_cores: np.ndarray  # requested by workload pods at each instant
    memory_bytes: np.ndarray
    pods: np.ndarray
    nodes: np.ndarray  # nodes of the group alive at each instant
    pod_table: pd.DataFrame  # namespace, pod, kind, workload, first_seen, last_seen, cpu, memory
    overhead: Overhead
    zones: tuple[str, ...]

    def running_at(self, index: int) -> pd.DataFrame:
        moment = self.times[index]
        table = self.pod_table
        return table[(table["first_seen"] <= moment) & (table["last_seen"] >= moment)]


def pod_requests(
    snapshot: Snapshot,
    new_requests: Mapping[tuple[str, str, str, str], Resources] | None = None,
) -> pd.DataFrame:
    """One row per pod: its owner, node, lifetime and summed requests (cores, bytes).

    Args:
        snapshot: the snapshot.
        new_requests: (namespace, kind, workload, container) -> recommended resources; a field
            left None keeps the current request.

    Returns:
        Columns namespace, pod, kind, workload, node, first_seen, last_seen, cpu, memory.
    """
    pods = snapshot.table("pods")
    containers = snapshot.table("containers")
    columns = ["namespace", "pod", "kind", "workload", "node", "first_seen", "last_seen"]
    if pods.empty:
        return pd.DataFrame(columns=[*columns, "cpu", "memory"])
    # Each container carries its pod's row, so the sums go back to the pods by position: a
    # groupby and a merge on the (namespace, pod) strings of ~400k pods cost far more.
    merged = containers.merge(
        pods[["namespace", "pod", "kind", "workload"]].assign(_pod_row=np.arange(len(pods))),
        on=["namespace", "pod"],
        how="inner",
    )
    cpu = merged["cpu_request_cores"].astype(float).fillna(0.0)
    memory = merged["memory_request_bytes"].astype(float).fillna(0.0)
    if new_requests:
        # Looked up on the few distinct container keys, not once per pod container.
        key_columns = ["namespace", "kind", "workload", "container"]
        found = pd.MultiIndex.from_tuples(list(new_requests), names=key_columns).get_indexer(
            pd.MultiIndex.from_frame(merged[key_columns].astype(str))
        )
        values = list(new_requests.values())
        new_cpu = np.array([_field(v, "cpu_request") for v in values] + [math.nan])[found]
        new_memory = np.array([_field(v, "memory_request") for v in values] + [math.nan])[found]
        cpu = pd.Series(new_cpu, index=merged.index, dtype=float).fillna(cpu)
        memory = pd.Series(new_memory, index=merged.index, dtype=float).fillna(memory)
    # The same grouped sums as by (namespace, pod): one group per pod, rows in table order.
    summed = (
        merged.assign(cpu=cpu, memory=memory)
        .groupby("_pod_row")[["cpu", "memory"]]
        .sum()
        .reindex(np.arange(len(pods)))
    )
    out = pods[columns].reset_index(drop=True)
    out["cpu"] = summed["cpu"].fillna(0.0).to_numpy()
    out["memory"] = summed["memory"].fillna(0.0).to_numpy()
    return out


def _field(resources: Resources | None, name: str) -> float:
    if resources is None:
        return math.nan
    value = getattr(resources, name)
    return math.nan if value is None else float(value)


def evaluation_instants(snapshot: Snapshot) -> pd.DatetimeIndex:
    """The instants to evaluate: the usage samples' own timestamps (at most _MAX_INSTANTS)."""
    stamps = snapshot.table("usage")["timestamp"]
    if len(stamps):
        times = pd.DatetimeIndex(pd.unique(stamps)).sort_values()
    else:
        start, end = snapshot.window
        step = max(int(snapshot.step_seconds), 1)
        times = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq=f"{step}s")
    stride = max(1, math.ceil(len(times) / _MAX_INSTANTS))
    return times[::stride]


def alive_sum(
    times: pd.DatetimeIndex, first: pd.Series, last: pd.Series, weights: np.ndarray
) -> np.ndarray:
    """Sum of ``weights`` of the intervals [first, last] covering each instant (diff array)."""
    first_ns = pd.DatetimeIndex(first).as_unit("ns").asi8 if len(first) else np.array([], "int64")
    last_ns = pd.DatetimeIndex(last).as_unit("ns").asi8 if len(last) else np.array([], "int64")
    grid = pd.DatetimeIndex(times).as_unit("ns").asi8
    begin = np.searchsorted(grid, first_ns, side="left")
    stop = np.searchsorted(grid, last_ns, side="right")
    delta = np.zeros(len(grid) + 1)
    np.add.at(delta, begin, weights)
    np.add.at(delta, stop, -weights)
    return np.cumsum(delta)[:-1]


def group_loads(
    snapshot: Snapshot,
    new_requests: Mapping[tuple[str, str, str, str], Resources] | None = None,
    *,
    pending: pd.DataFrame | None = None,
    requests: pd.DataFrame | None = None,
) -> dict[str, GroupLoad]:
    """Per node group: requests, pods and nodes over the window, DaemonSet overhead, zones.

    ``pending`` is ``pending_pods(snapshot)`` when the caller already has it (it is the costly
    part on a large cluster, and the same for every caller of one snapshot); ``requests`` is
    ``pod_requests(snapshot, new_requests)`` when the caller already has it.
    """
    nodes = snapshot.table("nodes")
    if nodes.empty:
        return {}
    times = evaluation_instants(snapshot)
    if requests is None:
        requests = pod_requests(snapshot, new_requests)
    node_group = nodes[["node", "node_group"]].astype({"node_group": "object"})
    placed = requests.merge(node_group, on="node", how="inner")
    if pending is None:
        pending = pending_pods(snapshot)
    placed = pd.concat([placed, _pending_requests(pending, placed)], ignore_index=True)
    out: dict[str, GroupLoad] = {}
    for group, members in nodes.groupby("node_group", observed=True, sort=True):
        name = str(group)
        group_pods = placed[placed["node_group"] == name]
        daemon = group_pods[group_pods["kind"] == "DaemonSet"]
        workload_pods = group_pods[group_pods["kind"] != "DaemonSet"].reset_index(drop=True)
        # One pod of each DaemonSet per node, at the largest request it was seen with.
        per_ds = daemon.groupby(["namespace", "workload"], observed=True)[["cpu", "memory"]].max()
        overhead = Overhead(
            cpu_cores=float(per_ds["cpu"].sum()),
            memory_bytes=int(per_ds["memory"].sum()),
            pods=len(per_ds),
        )
        out[name] = GroupLoad(
            name=name,
            times=times,
            cpu_cores=alive_sum(
                times,
                workload_pods["first_seen"],
                workload_pods["last_seen"],
                workload_pods["cpu"].to_numpy(float),
            ),
            memory_bytes=alive_sum(
                times,
                workload_pods["first_seen"],
                workload_pods["last_seen"],
                workload_pods["memory"].to_numpy(float),
            ),
            pods=alive_sum(
                times,
                workload_pods["first_seen"],
                workload_pods["last_seen"],
                np.ones(len(workload_pods)),
            ),
            nodes=alive_sum(
                times, members["first_seen"], members["last_seen"], np.ones(len(members))
            ),
            pod_table=workload_pods,
            overhead=overhead,
            zones=tuple(sorted(str(z) for z in members["zone"].dropna().unique())) or ("zone-a",),
        )
    return out


def _pending_requests(pending: pd.DataFrame, placed: pd.DataFrame) -> pd.DataFrame:
    """Pending pods (asked for by an HPA, placed nowhere) as rows like ``placed``'s.

    Each asks for what the workload's last placed pod asked for, on the node group where the
    workload runs: capacity must hold them too, or the group is already out of room.
    """
    if pending.empty or placed.empty:
        return placed.iloc[0:0]
    latest = (
        placed[placed["kind"] != "DaemonSet"]
        .sort_values("last_seen")
        .drop_duplicates(WORKLOAD_KEY, keep="last")[[*WORKLOAD_KEY, "cpu", "memory", "node_group"]]
    )
    rows = pending.merge(latest, on=WORKLOAD_KEY, how="inner")
    rows["pod"] = "(pending) " + rows["workload"].astype(str) + "#" + rows["slot"].astype(str)
    rows["node"] = None
    return rows[[c for c in placed.columns if c in rows.columns]]
