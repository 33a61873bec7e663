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
