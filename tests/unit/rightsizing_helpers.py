"""Small hand-made snapshots for the right-sizing and backtest tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from kianax_capacity.snapshot import Snapshot, empty_table
from kianax_capacity.testing import SnapshotBuilder

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
    """A snapshot around ``usage``, on one t3.medium node, its window the usage's own span.

    Args:
        usage: usage rows (see :func:`container_series`).
        workloads: pod -> (kind, workload); default: every pod of a Deployment ``web``.
        requests: pod -> (cpu request, cpu limit, memory request, memory limit); default 250m/500m/256Mi/512Mi.
        oom_kills: pod -> OOM kill times (the container is ``app``).
    """
    first, last = usage["timestamp"].min(), usage["timestamp"].max()
    build = SnapshotBuilder(
        start=first.to_pydatetime(),
        days=(last - first) / pd.Timedelta(days=1),
        step_seconds=step_seconds,
        created_at=datetime(2026, 11, 30, tzinfo=UTC),
    )
    build.node(
        "node-a",
        node_group,
        "t3.medium",
        cpu_allocatable_cores=1.93,
        memory_allocatable_bytes=3.3 * 1024**3,
        pods_allocatable=17.0,
    )
    seen = usage.groupby(["namespace", "pod"])["timestamp"].agg(["min", "max"]).reset_index()
    for namespace, pod, pod_first, pod_last in seen.itertuples(index=False):
        kind, workload = (workloads or {}).get(pod, ("Deployment", "web"))
        build.pod(namespace, pod, workload=workload, kind=kind, first=pod_first, last=pod_last)
    default = (0.25, 0.5, 256.0 * MIB, 512.0 * MIB)
    kills = oom_kills or {}
    for namespace, pod, container in (
        usage[["namespace", "pod", "container"]].drop_duplicates().itertuples(index=False)
    ):
        cpu_request, cpu_limit, memory_request, memory_limit = (requests or {}).get(pod, default)
        build.container(
            namespace,
            pod,
            container,
            cpu_request_cores=cpu_request,
            cpu_limit_cores=cpu_limit,
            memory_request_bytes=memory_request,
            memory_limit_bytes=memory_limit,
            restarts=len(kills.get(pod, ())),
            oom_kills=len(kills.get(pod, ())),
        )
    for pod, times in kills.items():
        for when in times:
            build.termination("kianax", pod, "app", when)
    build.frame("usage", usage)
    tables = {"hpas": hpas if hpas is not None else empty_table("hpas")}
    if not kills:
        tables["terminations"] = empty_table("terminations")
    return build.snapshot(tables)


def steps_per_day(step_seconds: int = 300) -> int:
    return 86400 // step_seconds
