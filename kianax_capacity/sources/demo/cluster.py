"""The simulation's output: the nodes, pods and HPA history of one simulated window."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from kianax_capacity.sources.demo.catalog import ContainerSpec, WorkloadSpec


@dataclass
class SimulatedPod:
    """One pod's life: where it ran and its per-step container series (index into the timeline)."""

    namespace: str
    pod: str
    kind: str
    workload: str
    owner_kind: str  # direct owner: ReplicaSet | StatefulSet | DaemonSet | Job
    owner_name: str
    node: str
    start: int  # first step index (inclusive)
    stop: int  # last step index (exclusive)
    containers: tuple[ContainerSpec, ...]
    cpu: dict[str, np.ndarray] = field(default_factory=dict)  # cores per step
    memory: dict[str, np.ndarray] = field(default_factory=dict)  # bytes per step
    throttled: dict[str, np.ndarray] = field(default_factory=dict)  # ratio per step
    oom_steps: dict[str, np.ndarray] = field(default_factory=dict)  # step indices of OOM kills
    has_pvc: bool = False
    revision: int = 0  # ReplicaSet generation (rollouts)
    run_id: int | None = None  # CronJob run (epoch minute it was scheduled)
    ordinal: int = 0  # StatefulSet ordinal
    #: JVM containers: (heap used, non-heap used) bytes per step, as Micrometer reports them
    jvm: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


@dataclass
class SimulatedNode:
    node: str
    node_group: str
    instance_type: str
    zone: str
    capacity_type: str
    start: int
    stop: int

    @property
    def instance_id(self) -> str:
        """A stable EC2-style instance id (kube_node_info's provider_id carries it)."""
        return "i-0" + hashlib.sha256(self.node.encode()).hexdigest()[:16]


@dataclass
class DemoCluster:
    """The whole simulated window: timeline, nodes, pods and HPA history."""

    cluster: str
    timestamps: pd.DatetimeIndex  # step ends, UTC
    step_seconds: int
    workloads: list[WorkloadSpec]
    nodes: list[SimulatedNode]
    pods: list[SimulatedPod]
    hpa_current: dict[tuple[str, str], np.ndarray]
    hpa_desired: dict[tuple[str, str], np.ndarray]

    @property
    def start(self) -> datetime:
        return (self.timestamps[0] - pd.Timedelta(seconds=self.step_seconds)).to_pydatetime()

    @property
    def end(self) -> datetime:
        return self.timestamps[-1].to_pydatetime()


def seed_of(*parts: object) -> int:
    digest = hashlib.blake2b("/".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")
