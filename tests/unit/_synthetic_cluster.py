"""A tiny builder of synthetic snapshots for the spot, node-group and forecast tests.

Every pod lives on one node for an interval; usage rows are written each step while the pod
runs, at a fixed fraction of its request (or a callable of the timestamp).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from kianax_capacity.snapshot import Snapshot, SnapshotManifest, validate_tables

MIB = 1024**2
GIB = 1024**3

# (vcpu, memory GiB) and allocatable as the snapshot would report it.
_TYPES = {
    "t3.small": (2, 2),
    "t3.medium": (2, 4),
    "t3.large": (2, 8),
    "m6i.large": (2, 8),
    "m6i.xlarge": (4, 16),
    "c6i.large": (2, 4),
}


@dataclass
class SyntheticCluster:
    start: datetime = datetime(2026, 11, 1, tzinfo=UTC)
    days: float = 14
    step_seconds: int = 3600
    nodes: list[dict[str, object]] = field(default_factory=list)
    workloads: list[dict[str, object]] = field(default_factory=list)
    pods: list[dict[str, object]] = field(default_factory=list)
    containers: list[dict[str, object]] = field(default_factory=list)
    usage_fns: dict[str, Callable[[pd.DatetimeIndex], tuple[np.ndarray, np.ndarray]]] = field(
        default_factory=dict
    )

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    def node(
        self,
        name: str,
        group: str,
        instance_type: str = "t3.medium",
        zone: str = "us-east-1a",
        capacity_type: str = "ON_DEMAND",
        first: datetime | None = None,
        last: datetime | None = None,
    ) -> str:
        vcpu, mem_gib = _TYPES[instance_type]
        self.nodes.append(
            {
                "node": name,
                "node_group": group,
                "instance_type": instance_type,
                "zone": zone,
                "capacity_type": capacity_type,
                "architecture": "amd64",
                "cpu_capacity_cores": float(vcpu),
                "memory_capacity_bytes": float(mem_gib * GIB),
                "cpu_allocatable_cores": vcpu - 0.07,
                "memory_allocatable_bytes": float(mem_gib * GIB - 542 * MIB),
                "pods_allocatable": 17.0,
                "first_seen": first or self.start,
                "last_seen": last or self.end,
            }
        )
        return name

    def workload(
        self,
        namespace: str,
        kind: str,
        name: str,
        *,
        nodes: list[str],
        cpu: float = 0.25,
        memory: int = 256 * MIB,
        pdb_allowed: float = float("nan"),
        pdb_min_available: float = float("nan"),
        has_pvc: bool = False,
        has_emptydir: bool = False,
        usage_share: float = 0.5,
        first: datetime | None = None,
        last: datetime | None = None,
    ) -> None:
        """One pod per entry of ``nodes`` (a node may repeat), running over [first, last]."""
        self.workloads.append(
            {
                "namespace": namespace,
                "kind": kind,
                "workload": name,
                "pdb_min_available": pdb_min_available,
                "pdb_max_unavailable": float("nan"),
                "pdb_disruptions_allowed": pdb_allowed,
                "has_pvc": has_pvc,
                "has_emptydir": has_emptydir,
            }
        )
        for index, node in enumerate(nodes):
            pod = f"{name}-{index}"
            self.pod(namespace, kind, name, pod, node, cpu, memory, usage_share, first, last)

    def pod(
        self,
        namespace: str,
        kind: str,
        workload: str,
        pod: str,
        node: str,
        cpu: float,
        memory: int,
        usage_share: float = 0.5,
        first: datetime | None = None,
        last: datetime | None = None,
    ) -> None:
        self.pods.append(
            {
                "namespace": namespace,
                "pod": pod,
                "kind": kind,
                "workload": workload,
                "node": node,
                "first_seen": first or self.start,
                "last_seen": last or self.end,
                "_share": usage_share,
                "_cpu": cpu,
                "_memory": memory,
            }
        )
        self.containers.append(
            {
                "namespace": namespace,
                "pod": pod,
                "container": "app",
                "cpu_request_cores": cpu,
                "cpu_limit_cores": float("nan"),
                "memory_request_bytes": float(memory),
                "memory_limit_bytes": float("nan"),
                "restarts": 0,
                "oom_kills": 0,
            }
        )

    def build(self) -> Snapshot:
        times = pd.date_range(self.start, self.end, freq=f"{self.step_seconds}s", tz=UTC)
        usage_parts = []
        for pod in self.pods:
            mask = (times >= pod["first_seen"]) & (times <= pod["last_seen"])
            stamps = times[mask]
            if len(stamps) == 0:
                continue
            share = float(pod["_share"])  # type: ignore[arg-type]
            usage_parts.append(
                pd.DataFrame(
                    {
                        "timestamp": stamps,
                        "namespace": pod["namespace"],
                        "pod": pod["pod"],
                        "container": "app",
                        "cpu_cores": float(pod["_cpu"]) * share,  # type: ignore[arg-type]
                        "memory_bytes": float(pod["_memory"]) * share,  # type: ignore[arg-type]
                        "cpu_throttled_ratio": float("nan"),
                    }
                )
            )
        pods = pd.DataFrame(self.pods).drop(columns=["_share", "_cpu", "_memory"])
        for column in ("first_seen", "last_seen"):
            pods[column] = pd.to_datetime(pods[column], utc=True)
        nodes = pd.DataFrame(self.nodes)
        for column in ("first_seen", "last_seen"):
            nodes[column] = pd.to_datetime(nodes[column], utc=True)
        usage = pd.concat(usage_parts, ignore_index=True)
        tables = {
            "nodes": nodes,
            "workloads": pd.DataFrame(self.workloads),
            "pods": pods,
            "containers": pd.DataFrame(self.containers),
            "usage": usage,
        }
        validate_tables(tables, where="synthetic")
        manifest = SnapshotManifest(
            cluster="synthetic",
            window_start=self.start,
            window_end=self.end,
            step_seconds=self.step_seconds,
            source="synthetic",
            created_at=self.end,
            tables={name: len(frame) for name, frame in tables.items()},
        )
        return Snapshot(manifest=manifest, tables=tables)
