"""A test double for the one input every recommender reads: small snapshots built by hand.

As httpx ships ``MockTransport``, the package ships the builder its own tests use, so a test (or a
user checking a recommender on a case of their own) writes only the facts that matter to it and
gets a snapshot that passes the same contract checks as a fetched one::

    from kianax_capacity.testing import SnapshotBuilder

    build = SnapshotBuilder(start=datetime(2026, 11, 2, tzinfo=UTC), days=7, step_seconds=300)
    build.node("node-a", group="general-ng", instance_type="t3.medium")
    build.workload("kianax", "Deployment", "web", pdb_min_available=1)
    build.pod("kianax", "web-0", workload="web", node="node-a")
    build.container("kianax", "web-0", "app", cpu_request_cores=0.25, memory_request_bytes=256 * MIB)
    build.usage("kianax", "web-0", "app", cpu_cores=0.1, memory_bytes=200 * MIB)
    snapshot = build.snapshot()

Columns a test does not give take the contract's "unset" value (NaN, "", 0, False, NaT), so a
column added to the contract later needs no change in existing tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from kianax_capacity.snapshot import (
    TABLE_COLUMNS,
    Snapshot,
    SnapshotManifest,
    empty_table,
    validate_tables,
)
from kianax_capacity.units import GIB, MIB

__all__ = ["NODE_TYPES", "SnapshotBuilder"]

#: Instance types a test node may name without giving its size: (vCPU, memory GiB, max pods).
NODE_TYPES: dict[str, tuple[int, int, int]] = {
    "t3.small": (2, 2, 11),
    "t3.medium": (2, 4, 17),
    "t3.large": (2, 8, 35),
    "m6i.large": (2, 8, 29),
    "m6i.xlarge": (4, 16, 58),
    "c6i.large": (2, 4, 29),
}

_UNSET: dict[str, Any] = {
    "str": "",
    "float": math.nan,
    "int": 0,
    "bool": False,
    "time": pd.NaT,
}

Numbers = float | Sequence[float] | npt.NDArray[np.float64]


@dataclass
class SnapshotBuilder:
    """Rows added one fact at a time; :meth:`snapshot` checks them against the contract.

    Args:
        start: the window's start (UTC).
        days: the window's length; the window ends ``days`` after ``start``.
        step_seconds: the usage step.
        cluster: the cluster's name in the manifest.
        source: the manifest's source.
        created_at: the manifest's creation time (default: the window's end).
    """

    start: datetime = datetime(2026, 11, 2, tzinfo=UTC)
    days: float = 7
    step_seconds: int = 300
    cluster: str = "test"
    source: str = "test"
    created_at: datetime | None = None
    shape: str = "series"
    _rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    _frames: dict[str, list[pd.DataFrame]] = field(default_factory=dict, repr=False)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    @property
    def times(self) -> pd.DatetimeIndex:
        """Every step of the window, start and end included."""
        return pd.date_range(self.start, self.end, freq=f"{self.step_seconds}s", tz=UTC)

    def row(self, table: str, **values: Any) -> None:
        """One row of any table; unknown columns are an error (a typo would pass silently)."""
        unknown = set(values) - set(TABLE_COLUMNS[table])
        if unknown:
            raise KeyError(f"{table} has no column(s) {sorted(unknown)}")
        self._rows.setdefault(table, []).append(values)

    def frame(self, table: str, frame: pd.DataFrame) -> None:
        """Many rows of a table at once (usage series, replicas)."""
        unknown = set(frame.columns) - set(TABLE_COLUMNS[table])
        if unknown:
            raise KeyError(f"{table} has no column(s) {sorted(unknown)}")
        self._frames.setdefault(table, []).append(frame)

    def node(
        self,
        name: str,
        group: str = "general-ng",
        instance_type: str = "t3.medium",
        *,
        zone: str = "us-east-1a",
        capacity_type: str = "ON_DEMAND",
        first: datetime | None = None,
        last: datetime | None = None,
        **columns: Any,
    ) -> str:
        """A node of a known type, sized as EKS reports it (allocatable below capacity)."""
        vcpu, memory_gib, max_pods = NODE_TYPES[instance_type]
        values: dict[str, Any] = {
            "node": name,
            "node_group": group,
            "instance_type": instance_type,
            "zone": zone,
            "capacity_type": capacity_type,
            "architecture": "amd64",
            "cpu_capacity_cores": float(vcpu),
            "memory_capacity_bytes": float(memory_gib * GIB),
            "cpu_allocatable_cores": vcpu - 0.07,
            "memory_allocatable_bytes": float(memory_gib * GIB - 542 * MIB),
            "pods_allocatable": float(max_pods),
            "first_seen": first or self.start,
            "last_seen": last or self.end,
        }
        values.update(columns)
        self.row("nodes", **values)
        return name

    def workload(
        self,
        namespace: str,
        kind: str,
        name: str,
        *,
        pdb_min_available: float = math.nan,
        pdb_max_unavailable: float = math.nan,
        pdb_disruptions_allowed: float = math.nan,
        has_pvc: bool = False,
        has_emptydir: bool = False,
    ) -> None:
        self.row(
            "workloads",
            namespace=namespace,
            kind=kind,
            workload=name,
            pdb_min_available=pdb_min_available,
            pdb_max_unavailable=pdb_max_unavailable,
            pdb_disruptions_allowed=pdb_disruptions_allowed,
            has_pvc=has_pvc,
            has_emptydir=has_emptydir,
        )

    def pod(
        self,
        namespace: str,
        pod: str,
        *,
        workload: str,
        kind: str = "Deployment",
        node: str = "node-a",
        first: datetime | None = None,
        last: datetime | None = None,
    ) -> None:
        self.row(
            "pods",
            namespace=namespace,
            pod=pod,
            kind=kind,
            workload=workload,
            node=node,
            first_seen=first or self.start,
            last_seen=last or self.end,
        )

    def container(
        self,
        namespace: str,
        pod: str,
        container: str = "app",
        *,
        cpu_request_cores: float = math.nan,
        cpu_limit_cores: float = math.nan,
        memory_request_bytes: float = math.nan,
        memory_limit_bytes: float = math.nan,
        restarts: int = 0,
        oom_kills: int = 0,
    ) -> None:
        self.row(
            "containers",
            namespace=namespace,
            pod=pod,
            container=container,
            cpu_request_cores=float(cpu_request_cores),
            cpu_limit_cores=float(cpu_limit_cores),
            memory_request_bytes=float(memory_request_bytes),
            memory_limit_bytes=float(memory_limit_bytes),
            restarts=restarts,
            oom_kills=oom_kills,
        )

    def usage(
        self,
        namespace: str,
        pod: str,
        container: str = "app",
        *,
        cpu_cores: Numbers,
        memory_bytes: Numbers,
        throttled: Numbers | None = None,
        times: Iterable[datetime] | pd.DatetimeIndex | None = None,
    ) -> None:
        """Usage samples of one container: numbers per step (or one number for every step).

        Args:
            times: the samples' timestamps; default every step of the window (scalars) or the
                first ``len(cpu_cores)`` steps from the start (sequences).
        """
        cpu = np.atleast_1d(np.asarray(cpu_cores, dtype="float64"))
        if times is None:
            stamps = self.times if cpu.size == 1 else self.times[: cpu.size]
            if cpu.size > 1 and len(stamps) < cpu.size:
                stamps = pd.date_range(
                    self.start, periods=cpu.size, freq=f"{self.step_seconds}s", tz=UTC
                )
        else:
            stamps = pd.DatetimeIndex(list(times) if not isinstance(times, pd.Index) else times)
        count = len(stamps)
        self.frame(
            "usage",
            pd.DataFrame(
                {
                    "timestamp": stamps,
                    "namespace": namespace,
                    "pod": pod,
                    "container": container,
                    "cpu_cores": np.broadcast_to(cpu, count) if cpu.size == 1 else cpu,
                    "memory_bytes": _per_step(memory_bytes, count),
                    "cpu_throttled_ratio": math.nan
                    if throttled is None
                    else _per_step(throttled, count),
                }
            ),
        )

    def termination(
        self, namespace: str, pod: str, container: str, when: datetime, reason: str = "OOMKilled"
    ) -> None:
        self.row(
            "terminations",
            timestamp=when,
            namespace=namespace,
            pod=pod,
            container=container,
            reason=reason,
        )

    def hpa(
        self,
        namespace: str,
        name: str,
        *,
        workload: str,
        min_replicas: int,
        max_replicas: int,
        kind: str = "Deployment",
        target_cpu_utilization: float = math.nan,
        target_memory_utilization: float = math.nan,
        scale_down_stabilization_seconds: float = 300.0,
        **columns: Any,
    ) -> None:
        self.row(
            "hpas",
            namespace=namespace,
            hpa=name,
            kind=kind,
            workload=workload,
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            target_cpu_utilization=target_cpu_utilization,
            target_memory_utilization=target_memory_utilization,
            scale_down_stabilization_seconds=scale_down_stabilization_seconds,
            **columns,
        )

    def snapshot(self, tables: Mapping[str, pd.DataFrame] | None = None) -> Snapshot:
        """The snapshot of every row given so far (``tables`` replace whole tables).

        Raises:
            SnapshotError: the rows break the contract (a wrong type, a missing column).
        """
        built: dict[str, pd.DataFrame] = {}
        for name in TABLE_COLUMNS:
            rows = self._rows.get(name, [])
            frames = self._frames.get(name, [])
            if not rows and not frames:
                continue
            parts = [pd.DataFrame.from_records(rows)] if rows else []
            parts.extend(frames)
            built[name] = _with_contract_columns(name, pd.concat(parts, ignore_index=True))
        built.update(tables or {})
        for name in ("nodes", "workloads", "pods", "containers", "usage"):
            built.setdefault(name, empty_table(name))
        validate_tables(built, where="test snapshot")
        manifest = SnapshotManifest(
            cluster=self.cluster,
            window_start=self.start,
            window_end=self.end,
            step_seconds=self.step_seconds,
            source=self.source,
            created_at=self.created_at or self.end,
            tables={name: len(frame) for name, frame in built.items()},
            shape=self.shape,
        )
        return Snapshot(manifest=manifest, tables=built)


def _per_step(values: Numbers, count: int) -> npt.NDArray[np.float64]:
    array = np.atleast_1d(np.asarray(values, dtype="float64"))
    return np.broadcast_to(array, count).copy() if array.size == 1 else array


def _with_contract_columns(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The contract's columns in its order, unset ones filled, times as UTC timestamps."""
    columns = TABLE_COLUMNS[table]
    for name, kind in columns.items():
        if name not in frame.columns:
            frame[name] = _UNSET[kind]
        if kind == "time":
            frame[name] = pd.to_datetime(frame[name], utc=True)
        elif kind == "int":
            frame[name] = frame[name].astype("int64")
        elif kind == "bool":
            frame[name] = frame[name].astype(bool)
        elif kind == "float":
            frame[name] = frame[name].astype("float64")
    return frame[list(columns)]
