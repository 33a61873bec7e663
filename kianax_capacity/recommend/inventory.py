"""Derived views of a snapshot that several recommenders share.

Pure functions of snapshot tables: who owns each container, which node group a workload runs on,
how many replicas it had over time. Vectorised pandas; no per-container Python loops.
"""

from __future__ import annotations

import pandas as pd

from kianax_capacity.snapshot import Snapshot

__all__ = [
    "CONTAINER_KEY",
    "WORKLOAD_KEY",
    "container_inventory",
    "pending_pods",
    "replica_counts",
    "usage_with_owners",
    "workload_node_groups",
]

#: A right-sizing row is identified across weeks by these columns.
CONTAINER_KEY = ["namespace", "kind", "workload", "container"]
WORKLOAD_KEY = ["namespace", "kind", "workload"]


def usage_with_owners(snapshot: Snapshot) -> pd.DataFrame:
    """The usage table with ``kind`` and ``workload`` of each pod's owner joined on.

    Pods replaced during the window (rollouts, restarts) carry the same workload, so grouping by
    CONTAINER_KEY pools every pod generation of a container.
    """
    owners = snapshot.table("pods")[["namespace", "pod", "kind", "workload"]]
    return snapshot.table("usage").merge(
        owners, on=["namespace", "pod"], how="inner", validate="many_to_one"
    )


def container_inventory(snapshot: Snapshot) -> pd.DataFrame:
    """One row per CONTAINER_KEY: the latest requests/limits and totals of restarts and OOM kills.

    "Latest" is the spec of the pod seen last, which is what a new pod would get today.
    """
    pods = snapshot.table("pods")[["namespace", "pod", "kind", "workload", "last_seen"]]
    containers = snapshot.table("containers").merge(pods, on=["namespace", "pod"], how="inner")
    if containers.empty:
        columns = [
            *CONTAINER_KEY,
            "cpu_request_cores",
            "cpu_limit_cores",
            "memory_request_bytes",
            "memory_limit_bytes",
            "restarts",
            "oom_kills",
            "pods",
        ]
        return pd.DataFrame(columns=columns)
    latest = (
        containers.sort_values("last_seen")
        .groupby(CONTAINER_KEY, sort=True, observed=True)
        .agg(
            cpu_request_cores=("cpu_request_cores", "last"),
            cpu_limit_cores=("cpu_limit_cores", "last"),
            memory_request_bytes=("memory_request_bytes", "last"),
            memory_limit_bytes=("memory_limit_bytes", "last"),
            restarts=("restarts", "sum"),
            oom_kills=("oom_kills", "sum"),
            pods=("pod", "nunique"),
        )
        .reset_index()
    )
    return latest


def workload_node_groups(snapshot: Snapshot) -> pd.DataFrame:
    """For each workload, the node group (and capacity type) where most of its pod-time ran.

    Columns: namespace, kind, workload, node_group, capacity_type, instance_type.
    """
    pods = snapshot.table("pods")
    nodes = snapshot.table("nodes")[["node", "node_group", "capacity_type", "instance_type"]]
    if pods.empty:
        return pd.DataFrame(columns=[*WORKLOAD_KEY, "node_group", "capacity_type", "instance_type"])
    placed = pods.merge(nodes, on="node", how="left")
    placed["seconds"] = (placed["last_seen"] - placed["first_seen"]).dt.total_seconds() + 1
    weight = (
        placed.groupby(
            [*WORKLOAD_KEY, "node_group", "capacity_type", "instance_type"],
            observed=True,
            dropna=False,
        )["seconds"]
        .sum()
        .reset_index()
        .sort_values("seconds", ascending=False, kind="stable")
    )
    return weight.drop_duplicates(WORKLOAD_KEY).drop(columns="seconds").reset_index(drop=True)


def replica_counts(snapshot: Snapshot) -> pd.DataFrame:
    """Running pods per workload per timestamp, from the usage table (any container counts).

    Columns: timestamp, namespace, kind, workload, replicas.
    """
    usage = usage_with_owners(snapshot)
    if usage.empty:
        return pd.DataFrame(columns=["timestamp", *WORKLOAD_KEY, "replicas"])
    return (
        usage.groupby(["timestamp", *WORKLOAD_KEY], observed=True)["pod"]
        .nunique()
        .rename("replicas")
        .reset_index()
    )


def pending_pods(snapshot: Snapshot) -> pd.DataFrame:
    """Pods an HPA asked for that were not running: what a node group at its max left Pending.

    Kubernetes counts Pending pods in an HPA's current replicas, but they have no usage and no
    node. Capacity questions must still see them: a node group that cannot place what the
    autoscaler asks for is already out of capacity. Each run of steps during which a
    workload had at least k pods pending becomes one row (slot k).

    Columns: namespace, kind, workload, slot, first_seen, last_seen.
    """
    columns = [*WORKLOAD_KEY, "slot", "first_seen", "last_seen"]
    replicas = snapshot.table("replicas")
    hpas = snapshot.table("hpas")
    if replicas.empty or hpas.empty:
        return pd.DataFrame(columns=columns)
    wanted = replicas.merge(
        hpas[["namespace", "hpa", "kind", "workload"]].drop_duplicates(["namespace", "hpa"]),
        on=["namespace", "hpa"],
        how="inner",
    )
    running = replica_counts(snapshot)
    merged = wanted.merge(running, on=["timestamp", *WORKLOAD_KEY], how="left")
    merged["pending"] = (
        (merged["current_replicas"] - merged["replicas"].fillna(0)).clip(lower=0).round()
    )
    merged = merged[merged["pending"] > 0]
    if merged.empty:
        return pd.DataFrame(columns=columns)
    step = pd.Timedelta(seconds=max(int(snapshot.step_seconds), 1))
    rows: list[dict[str, object]] = []
    for key, group in merged.groupby(WORKLOAD_KEY, observed=True, sort=True):
        group = group.sort_values("timestamp")
        stamps = group["timestamp"].reset_index(drop=True)
        counts = group["pending"].to_numpy()
        for slot in range(1, int(counts.max()) + 1):
            present = stamps[counts >= slot].reset_index(drop=True)
            # A new run starts wherever the previous pending step is more than one step back.
            starts = present.diff().ne(step).to_numpy()
            run_ids = starts.cumsum()
            for _, run in present.groupby(run_ids):
                rows.append(
                    dict(zip(WORKLOAD_KEY, key, strict=True))
                    | {"slot": slot, "first_seen": run.iloc[0], "last_seen": run.iloc[-1]}
                )
    return pd.DataFrame(rows, columns=columns)
