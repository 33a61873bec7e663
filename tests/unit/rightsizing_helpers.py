"""Small hand-made snapshots for the right-sizing and backtest tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from kianax_capacity.snapshot import Snapshot, SnapshotManifest, empty_table

MIB = 1024**2
START = pd.Timestamp("2026-11-02T00:00:00Z")  # a Monday


def container_series(
    cpu: Sequence[float] | np.ndarray,
    memory: Sequence[float] | np.ndarray,
    *,
    pod: str = "web-1",
    namespace: str = "kianax",
    container: str = "app",
    start: pd.Timestamp = START,
    step_seconds: int = 300,
    throttled: Sequence[float] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Usage rows for one pod's container, one sample per step from ``start``."""
    n = len(cpu)
    return pd.DataFrame(
        {
            "timestamp": start + pd.to_timedelta(np.arange(n) * step_seconds, unit="s"),
            "namespace": namespace,
            "pod": pod,
            "container": container,
            "cpu_cores": np.asarray(cpu, dtype="float64"),
            "memory_bytes": np.asarray(memory, dtype="float64"),
            "cpu_throttled_ratio": np.asarray(throttled, dtype="float64")
            if throttled is not None
            else np.nan,
        }
    )


def build_snapshot(
    usage: pd.DataFrame,
    *,
    workloads: dict[str, tuple[str, str]] | None = None,
    requests: dict[str, tuple[float, float, float, float]] | None = None,
    oom_kills: dict[str, Sequence[pd.Timestamp]] | None = None,
    hpas: pd.DataFrame | None = None,
    step_seconds: int = 300,
    node_group: str = "general-ng",
) -> Snapshot:
    """A snapshot around ``usage``.

    Args:
        usage: usage rows (see :func:`container_series`).
        workloads: pod -> (kind, workload); default: every pod of a Deployment ``web``.
        requests: pod -> (cpu request, cpu limit, memory request, memory limit); default 250m/500m/256Mi/512Mi.
        oom_kills: pod -> OOM kill times (the container is ``app``).
    """
    pods_seen = (
        usage.groupby(["namespace", "pod"])
        .agg(first_seen=("timestamp", "min"), last_seen=("timestamp", "max"))
        .reset_index()
    )
    workloads = workloads or {}
    pods_seen["kind"] = [workloads.get(p, ("Deployment", "web"))[0] for p in pods_seen["pod"]]
    pods_seen["workload"] = [workloads.get(p, ("Deployment", "web"))[1] for p in pods_seen["pod"]]
    pods_seen["node"] = "node-a"
    pods = pods_seen[["namespace", "pod", "kind", "workload", "node", "first_seen", "last_seen"]]
    containers = usage[["namespace", "pod", "container"]].drop_duplicates().reset_index(drop=True)
    default = (0.25, 0.5, 256.0 * MIB, 512.0 * MIB)
    specs = [((requests or {}).get(p, default)) for p in containers["pod"]]
    containers["cpu_request_cores"] = [s[0] for s in specs]
    containers["cpu_limit_cores"] = [s[1] for s in specs]
    containers["memory_request_bytes"] = [s[2] for s in specs]
    containers["memory_limit_bytes"] = [s[3] for s in specs]
    oom_kills = oom_kills or {}
    containers["oom_kills"] = [len(oom_kills.get(p, ())) for p in containers["pod"]]
    containers["restarts"] = containers["oom_kills"]
    terminations = pd.DataFrame(
        [
            {
                "timestamp": t,
                "namespace": "kianax",
                "pod": p,
                "container": "app",
                "reason": "OOMKilled",
            }
            for p, times in oom_kills.items()
            for t in times
        ],
        columns=["timestamp", "namespace", "pod", "container", "reason"],
    )
    if terminations.empty:
        terminations = empty_table("terminations")
    nodes = pd.DataFrame(
        {
            "node": ["node-a"],
            "node_group": [node_group],
            "instance_type": ["t3.medium"],
            "zone": ["us-east-1a"],
            "capacity_type": ["ON_DEMAND"],
            "architecture": ["amd64"],
            "cpu_capacity_cores": [2.0],
            "memory_capacity_bytes": [4.0 * 1024**3],
            "cpu_allocatable_cores": [1.93],
            "memory_allocatable_bytes": [3.3 * 1024**3],
            "pods_allocatable": [17.0],
            "first_seen": [usage["timestamp"].min()],
            "last_seen": [usage["timestamp"].max()],
        }
    )
    tables = {
        "usage": usage,
        "pods": pods,
        "containers": containers,
        "terminations": terminations,
        "nodes": nodes,
        "workloads": empty_table("workloads"),
        "hpas": hpas if hpas is not None else empty_table("hpas"),
    }
    end = usage["timestamp"].max().to_pydatetime()
    manifest = SnapshotManifest(
        cluster="test",
        window_start=usage["timestamp"].min().to_pydatetime(),
        window_end=end,
        step_seconds=step_seconds,
        source="test",
        created_at=datetime(2026, 11, 30, tzinfo=UTC),
        tables={k: len(v) for k, v in tables.items()},
    )
    return Snapshot(manifest=manifest, tables=tables)


def steps_per_day(step_seconds: int = 300) -> int:
    return 86400 // step_seconds
