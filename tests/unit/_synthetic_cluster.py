"""Synthetic clusters for the spot, node-group and forecast tests, on the package's builder.

Every pod lives on one node for an interval and has one container, ``app``; its usage is
sampled each step while the pod runs, at a fixed share of its request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from kianax_capacity.snapshot import Snapshot
from kianax_capacity.testing import SnapshotBuilder
from kianax_capacity.units import GIB, MIB

__all__ = ["GIB", "MIB", "SyntheticCluster"]


@dataclass
class SyntheticCluster:
    start: datetime = datetime(2026, 11, 1, tzinfo=UTC)
    days: float = 14
    step_seconds: int = 3600
    builder: SnapshotBuilder = field(init=False)

    def __post_init__(self) -> None:
        self.builder = SnapshotBuilder(
            start=self.start,
            days=self.days,
            step_seconds=self.step_seconds,
            cluster="synthetic",
            source="synthetic",
        )

    @property
    def end(self) -> datetime:
        return self.builder.end

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
        # Every synthetic node holds 17 pods whatever its type: the packing tests count on it.
        return self.builder.node(
            name,
            group,
            instance_type,
            zone=zone,
            capacity_type=capacity_type,
            first=first,
            last=last,
            pods_allocatable=17.0,
        )

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
        self.builder.workload(
            namespace,
            kind,
            name,
            pdb_min_available=pdb_min_available,
            pdb_disruptions_allowed=pdb_allowed,
            has_pvc=has_pvc,
            has_emptydir=has_emptydir,
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
        first, last = first or self.start, last or self.end
        self.builder.pod(
            namespace, pod, workload=workload, kind=kind, node=node, first=first, last=last
        )
        self.builder.container(
            namespace, pod, cpu_request_cores=cpu, memory_request_bytes=float(memory)
        )
        times = self.builder.times
        running = times[(times >= first) & (times <= last)]
        if len(running):
            self.builder.usage(
                namespace,
                pod,
                cpu_cores=cpu * usage_share,
                memory_bytes=float(memory) * usage_share,
                times=running,
            )

    def build(self) -> Snapshot:
        return self.builder.snapshot()
