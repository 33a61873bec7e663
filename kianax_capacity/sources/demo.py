"""The embedded demo: a deterministic, simulated Kianax cluster.

It reproduces the platform of the Kianax strategy document (EKS 1.31, node groups ``general-ng``
t3.medium 2-5, ``system-ng`` t3.small x2, ``jobs-ng`` spot 0-10; namespaces kianax, monitoring,
argocd, logging, kube-system) with behaviours a capacity tool must handle, each on purpose:

==========================  ==============================================================
behaviour                   where
==========================  ==============================================================
diurnal + weekend load      every kianax service (US-centred day, weekends at ~55%)
market-hours peaks          trading-service, market-data-service (14:30-21:00 UTC weekdays)
saturated at HPA max        market-data-service (demand beyond 10 x 250m during market hours)
never leaves HPA min        user-service (a few millicores of use on 250m requests)
slow memory leak + OOM      notification-service (about +4.5 MiB/h until its 512Mi limit)
JVM-like flat heap          portfolio-service (heap sized by -Xmx, flat whatever the load)
JVM with Micrometer         ledger-service (jvm_memory_used/max_bytes by area; -Xmx 768Mi)
CPU-heavy start             ledger-service (JIT and class loading: ~1 core for 10 minutes)
spiky, bursty               agent-service (Poisson bursts of LLM-agent work)
under-provisioned           risk-service (CPU throttled at its 500m limit, OOM kills)
over-provisioned            user-service, grafana, argocd-server, portfolio-rebalance job
rollouts                    kianax Deployments roll 1-2 times (new ReplicaSet hash, new pods)
node churn                  general-ng scales 2-5 with load; jobs-ng 0-N spot nodes for jobs
batch on spot               CronJobs market-eod-report and portfolio-rebalance on jobs-ng
stateful with PVC           prometheus-0 and alertmanager-0 StatefulSets
==========================  ==============================================================

Everything is a pure function of the parameters (seeded numpy), so the same ``end`` gives the
same cluster on every machine. ``scale`` multiplies the application workloads (extra namespaces
``kianax-2`` ... ``kianax-N`` and the nodes they need), for benchmarks.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from kianax_capacity.snapshot import Snapshot, SnapshotManifest
from kianax_capacity.units import MIB

__all__ = [
    "DEFAULT_END",
    "DEMO_CLUSTER",
    "JVM_POOLS",
    "DemoCluster",
    "SimulatedPod",
    "generate_demo_snapshot",
    "simulate_demo_cluster",
]

DEMO_CLUSTER = "kianax-production"
#: A fixed instant so the demo is reproducible: Monday 2026-11-23 00:00 UTC (end of ISO week 47).
DEFAULT_END = datetime(2026, 11, 23, tzinfo=UTC)
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")

_M = MIB

#: The memory pools Micrometer's JvmMemoryMetrics reports for a HotSpot JDK 17 with G1 (one
#: gauge per pool, tags ``id`` = pool and ``area``): (id, area, share of the area's used bytes
#: in the demo, the pool's max). A max of -1 is MemoryUsage.getMax()'s "undefined" (G1's young
#: pools, Metaspace); None is the heap ceiling, -Xmx (G1 Old Gen); the code heaps' maxima are
#: the default 240 MiB ReservedCodeCacheSize segmented, and Compressed Class Space defaults to
#: 1 GiB. The demo models each area's total; the split over pools is fixed shares.
JVM_POOLS: tuple[tuple[str, str, float, float | None], ...] = (
    ("G1 Eden Space", "heap", 0.30, -1.0),
    ("G1 Old Gen", "heap", 0.68, None),
    ("G1 Survivor Space", "heap", 0.02, -1.0),
    ("Metaspace", "nonheap", 0.62, -1.0),
    ("CodeHeap 'non-nmethods'", "nonheap", 0.03, 5_836_800.0),
    ("CodeHeap 'profiled nmethods'", "nonheap", 0.17, 122_908_672.0),
    ("CodeHeap 'non-profiled nmethods'", "nonheap", 0.10, 122_912_768.0),
    ("Compressed Class Space", "nonheap", 0.08, 1024.0 * _M),
)


def jvm_area_max(area: str, heap_max: float) -> float:
    """An area's max as the snapshot keeps it: the sum of its pools' defined maxima (NaN when
    no pool defines one)."""
    defined = [heap_max if most is None else most for _, a, _, most in JVM_POOLS if a == area]
    defined = [most for most in defined if most >= 0]
    return float(sum(defined)) if defined else math.nan


# EKS-style node shapes: capacity and allocatable as kubelet reports them on the EKS AMI.
@dataclass(frozen=True)
class NodeShape:
    """Capacity and allocatable of an instance type as the kubelet reports them on the EKS AMI."""

    cpu: float
    memory: float
    cpu_allocatable: float
    memory_allocatable: float
    pods: int
    architecture: str = "amd64"


NODE_SHAPES: dict[str, NodeShape] = {
    "t3.small": NodeShape(2.0, 1_970 * _M, 1.93, 1_450 * _M, 11),
    "t3.medium": NodeShape(2.0, 3_900 * _M, 1.93, 3_350 * _M, 17),
    "m5.large": NodeShape(2.0, 7_800 * _M, 1.93, 7_100 * _M, 29),
    "c5.large": NodeShape(2.0, 3_850 * _M, 1.93, 3_300 * _M, 29),
}


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    cpu_request: float
    memory_request: float
    cpu_limit: float = math.nan
    memory_limit: float = math.nan
    #: share of the workload's per-pod CPU demand this container uses
    cpu_share: float = 1.0
    #: memory model: (context, pod_index, cpu_per_pod) -> working set bytes per step
    memory: str = "flat"
    memory_base: float = 100 * _M
    memory_per_core: float = 0.0
    memory_leak_per_hour: float = 0.0
    memory_spike: float = 0.0
    #: chance per step of a memory spike (spiky model)
    spike_probability: float = 0.01
    #: a CPU-heavy start: extra cores for the first minutes of a pod started in the window
    startup_cpu: float = 0.0
    startup_minutes: float = 0.0
    #: a JVM exporting Micrometer metrics: -Xmx and the non-heap it settles at (NaN: no JVM)
    jvm_heap_max: float = math.nan
    jvm_nonheap: float = 0.0


@dataclass(frozen=True)
class HpaSpec:
    min_replicas: int = 2
    max_replicas: int = 10
    target_cpu: float | None = 70.0
    target_memory: float | None = None


@dataclass(frozen=True)
class WorkloadSpec:
    namespace: str
    kind: str  # Deployment | StatefulSet | DaemonSet | CronJob
    name: str
    node_group: str
    containers: tuple[ContainerSpec, ...]
    demand: str  # name of a demand profile (total cores across replicas)
    demand_scale: float = 1.0
    replicas: int = 1
    hpa: HpaSpec | None = None
    pdb_min_available: int | None = None
    has_pvc: bool = False
    has_emptydir: bool = False
    rollouts: int = 0
    #: CronJob: (minutes past midnight UTC of each run, run length in minutes, weekdays only)
    schedule: tuple[tuple[int, ...], int, bool] | None = None


def _seed_app(**memory: Any) -> ContainerSpec:
    """The seed's default container: requests 250m / 256Mi, limits 500m / 512Mi."""
    return ContainerSpec("app", 0.25, 256 * _M, 0.5, 512 * _M, **memory)


def _service(
    namespace: str,
    name: str,
    containers: tuple[ContainerSpec, ...],
    demand: str,
    demand_scale: float,
    hpa: HpaSpec | None,
    rollouts: int,
    replicas: int = 1,
) -> WorkloadSpec:
    """A kianax Deployment on general-ng with a PDB minAvailable 1, as the platform runs them."""
    return WorkloadSpec(
        namespace, "Deployment", name, "general-ng", containers,
        demand=demand, demand_scale=demand_scale, replicas=replicas, hpa=hpa,
        pdb_min_available=1, rollouts=rollouts,
    )  # fmt: skip


def _kianax_services(namespace: str) -> list[WorkloadSpec]:
    cpu_and_memory = HpaSpec(2, 10, 70, 80)
    cpu_only = HpaSpec(2, 10, 70, None)
    envoy = ContainerSpec("envoy", 0.1, 128 * _M, 0.2, 256 * _M, cpu_share=0.2, memory="flat", memory_base=48 * _M)  # fmt: skip
    return [
        _service(
            namespace,
            "api-gateway",
            (
                _seed_app(
                    cpu_share=0.8, memory="load", memory_base=120 * _M, memory_per_core=180 * _M
                ),
                envoy,
            ),
            "web",
            1.2,
            cpu_and_memory,
            2,
        ),
        _service(
            namespace,
            "trading-service",
            (_seed_app(memory="load", memory_base=150 * _M, memory_per_core=120 * _M),),
            "market",
            0.9,
            cpu_and_memory,
            2,
        ),
        _service(
            namespace,
            "agent-service",
            (_seed_app(memory="spiky", memory_base=180 * _M, memory_spike=140 * _M),),
            "bursty",
            1.0,
            cpu_only,
            1,
        ),
        _service(
            namespace,
            "market-data-service",
            (_seed_app(memory="load", memory_base=170 * _M, memory_per_core=60 * _M),),
            "market",
            4.2,
            cpu_only,
            1,
        ),
        _service(
            namespace,
            "portfolio-service",
            (
                ContainerSpec(
                    "app", 0.25, 768 * _M, 0.5, 1024 * _M, memory="jvm", memory_base=690 * _M
                ),
            ),
            "web",
            0.25,
            cpu_only,
            1,
        ),
        _service(
            namespace,
            "notification-service",
            (_seed_app(memory="leak", memory_base=150 * _M, memory_leak_per_hour=4.5 * _M),),
            "web",
            0.08,
            cpu_only,
            0,
        ),
        _service(
            namespace,
            "user-service",
            (_seed_app(memory="flat", memory_base=92 * _M),),
            "web",
            0.05,
            cpu_and_memory,
            1,
        ),
        _service(
            namespace,
            "risk-service",
            (
                _seed_app(
                    memory="spiky",
                    memory_base=330 * _M,
                    memory_spike=200 * _M,
                    spike_probability=0.002,
                ),
            ),
            "market",
            1.5,
            None,
            1,
            replicas=2,
        ),
        WorkloadSpec(
            namespace,
            "CronJob",
            "market-eod-report",
            "jobs-ng",
            (
                ContainerSpec(
                    "report",
                    0.5,
                    512 * _M,
                    math.nan,
                    1024 * _M,
                    memory="load",
                    memory_base=380 * _M,
                    memory_per_core=250 * _M,
                ),
            ),
            demand="flat",
            demand_scale=0.9,
            schedule=((21 * 60 + 30,), 25, True),
        ),
        WorkloadSpec(
            namespace,
            "CronJob",
            "portfolio-rebalance",
            "jobs-ng",
            (
                ContainerSpec(
                    "rebalance",
                    1.0,
                    1024 * _M,
                    math.nan,
                    1024 * _M,
                    memory="flat",
                    memory_base=260 * _M,
                ),
            ),
            demand="flat",
            demand_scale=0.35,
            schedule=(tuple(h * 60 + 5 for h in range(0, 24, 4)), 10, False),
        ),
    ]


def _platform_workloads() -> list[WorkloadSpec]:
    return [
        WorkloadSpec(
            "monitoring",
            "StatefulSet",
            "prometheus",
            "general-ng",
            (
                ContainerSpec(
                    "prometheus",
                    0.5,
                    1024 * _M,
                    math.nan,
                    2048 * _M,
                    cpu_share=0.97,
                    memory="sawtooth",
                    memory_base=820 * _M,
                    memory_spike=380 * _M,
                ),
                ContainerSpec(
                    "config-reloader",
                    0.01,
                    25 * _M,
                    0.1,
                    50 * _M,
                    cpu_share=0.03,
                    memory="flat",
                    memory_base=18 * _M,
                ),
            ),
            demand="flat",
            demand_scale=0.28,
            has_pvc=True,
        ),
        WorkloadSpec(
            "monitoring",
            "StatefulSet",
            "alertmanager",
            "system-ng",
            (
                ContainerSpec(
                    "alertmanager",
                    0.05,
                    64 * _M,
                    math.nan,
                    128 * _M,
                    memory="flat",
                    memory_base=34 * _M,
                ),
            ),
            demand="flat",
            demand_scale=0.004,
            has_pvc=True,
        ),
        WorkloadSpec(
            "monitoring",
            "Deployment",
            "grafana",
            "system-ng",
            (
                ContainerSpec(
                    "grafana", 0.1, 128 * _M, 0.2, 256 * _M, memory="flat", memory_base=108 * _M
                ),
            ),
            demand="web",
            demand_scale=0.02,
            has_emptydir=True,
        ),
        WorkloadSpec(
            "monitoring",
            "Deployment",
            "kube-state-metrics",
            "system-ng",
            (
                ContainerSpec(
                    "kube-state-metrics",
                    0.01,
                    64 * _M,
                    math.nan,
                    128 * _M,
                    memory="flat",
                    memory_base=52 * _M,
                ),
            ),
            demand="flat",
            demand_scale=0.012,
        ),
        WorkloadSpec(
            "argocd",
            "Deployment",
            "argocd-server",
            "system-ng",
            (
                ContainerSpec(
                    "server", 0.1, 128 * _M, 0.5, 256 * _M, memory="flat", memory_base=70 * _M
                ),
            ),
            demand="web",
            demand_scale=0.015,
        ),
        WorkloadSpec(
            "argocd",
            "Deployment",
            "argocd-repo-server",
            "system-ng",
            (
                ContainerSpec(
                    "repo-server",
                    0.25,
                    256 * _M,
                    0.5,
                    512 * _M,
                    memory="spiky",
                    memory_base=120 * _M,
                    memory_spike=90 * _M,
                ),
            ),
            demand="bursty",
            demand_scale=0.12,
            has_emptydir=True,
        ),
        WorkloadSpec(
            "argocd",
            "StatefulSet",
            "argocd-application-controller",
            "system-ng",
            (
                ContainerSpec(
                    "application-controller",
                    0.25,
                    512 * _M,
                    1.0,
                    1024 * _M,
                    memory="flat",
                    memory_base=340 * _M,
                ),
            ),
            demand="flat",
            demand_scale=0.14,
        ),
        WorkloadSpec(
            "kube-system",
            "Deployment",
            "coredns",
            "system-ng",
            (
                ContainerSpec(
                    "coredns", 0.1, 70 * _M, math.nan, 170 * _M, memory="flat", memory_base=24 * _M
                ),
            ),
            demand="web",
            demand_scale=0.03,
            replicas=2,
            pdb_min_available=1,
        ),
        WorkloadSpec(
            "logging",
            "DaemonSet",
            "fluent-bit",
            "*",
            (
                ContainerSpec(
                    "fluent-bit", 0.05, 64 * _M, 0.1, 128 * _M, memory="flat", memory_base=38 * _M
                ),
            ),
            demand="node",
            demand_scale=0.012,
        ),
        WorkloadSpec(
            "kube-system",
            "DaemonSet",
            "aws-node",
            "*",
            (ContainerSpec("aws-node", 0.025, 40 * _M, memory="flat", memory_base=45 * _M),),
            demand="node",
            demand_scale=0.004,
        ),
        WorkloadSpec(
            "kube-system",
            "DaemonSet",
            "kube-proxy",
            "*",
            (ContainerSpec("kube-proxy", 0.1, 40 * _M, memory="flat", memory_base=22 * _M),),
            demand="node",
            demand_scale=0.002,
        ),
    ]


def _jvm_services(namespace: str) -> list[WorkloadSpec]:
    """A Spring Boot service with Micrometer's JVM metrics and a CPU-heavy start.

    Added after the rest of the catalogue: these workloads get their own general-ng nodes
    (see :func:`simulate_demo_cluster`), so every other workload, node and pod of the demo is
    what it was before them.
    """
    ledger = ContainerSpec(
        "app", 0.25, 1024 * _M, 1.0, 1536 * _M,
        memory="jvm-micrometer", memory_base=60 * _M,  # native memory beside heap and non-heap
        startup_cpu=1.1, startup_minutes=10.0,
        jvm_heap_max=768 * _M, jvm_nonheap=135 * _M,
    )  # fmt: skip
    return [
        _service(namespace, "ledger-service", (ledger,), "web", 0.35, HpaSpec(2, 10, 70, None), 2)
    ]


def jvm_workloads(scale: int = 1) -> list[WorkloadSpec]:
    """The workloads scheduled on nodes of their own (one copy per kianax namespace)."""
    specs = _jvm_services("kianax")
    for copy in range(2, scale + 1):
        specs.extend(_jvm_services(f"kianax-{copy}"))
    return specs


def demo_workloads(scale: int = 1) -> list[WorkloadSpec]:
    """The demo's workload catalogue; ``scale`` adds copies of the kianax namespace."""
    specs = _kianax_services("kianax")
    for copy in range(2, scale + 1):
        specs.extend(_kianax_services(f"kianax-{copy}"))
    specs.extend(_platform_workloads())
    return specs


# ---------------------------------------------------------------------------------------------
# Simulation output


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


# ---------------------------------------------------------------------------------------------
# Demand profiles: total cores across the workload at each step


def _seed(*parts: object) -> int:
    digest = hashlib.blake2b("/".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _calendar(timestamps: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hours = (timestamps.hour + timestamps.minute / 60.0).to_numpy(dtype=float)
    weekend = np.asarray(timestamps.day_of_week >= 5)
    minutes = hours * 60
    market = ((minutes >= 14 * 60 + 30) & (minutes < 21 * 60) & ~weekend).astype(float)
    return hours, weekend, market


def _demand(
    profile: str, scale: float, timestamps: pd.DatetimeIndex, rng: np.random.Generator
) -> np.ndarray:
    hours, weekend, market = _calendar(timestamps)
    n = len(timestamps)
    # US-centred day: peak around 17:00 UTC, trough around 05:00 UTC.
    day = 0.5 + 0.5 * np.cos(2 * np.pi * (hours - 17.0) / 24.0)
    week = np.where(weekend, 0.55, 1.0)
    noise = rng.lognormal(0.0, 0.08, n)
    if profile == "web":
        base = (0.25 + 0.75 * day) * week
    elif profile == "market":
        # Market hours dominate; a smooth ramp into the open and out of the close.
        ramp = np.convolve(market, np.ones(5) / 5, mode="same")
        base = 0.22 + 0.12 * day * week + 0.95 * ramp
    elif profile == "bursty":
        base = (0.3 + 0.3 * day) * week
        bursts = np.zeros(n)
        starts = np.flatnonzero(rng.random(n) < 0.018)
        for s in starts:
            length = int(rng.integers(2, 7))
            bursts[s : s + length] += rng.exponential(1.0)
        base = base + bursts
        noise = rng.lognormal(0.0, 0.2, n)
    elif profile in ("flat", "node"):
        base = np.ones(n)
        noise = rng.lognormal(0.0, 0.1, n)
    else:  # pragma: no cover - catalogue is static
        raise ValueError(profile)
    return np.maximum(base * noise * scale, 0.0)


# ---------------------------------------------------------------------------------------------
# Replica and node dynamics


def _hpa_replicas(
    demand: np.ndarray, memory_per_pod: float, spec: WorkloadSpec
) -> tuple[np.ndarray, np.ndarray]:
    """A compact HPA: desired from CPU (and memory) utilisation, 5-minute scale-down window."""
    assert spec.hpa is not None
    hpa = spec.hpa
    request = sum(c.cpu_request for c in spec.containers)
    memory_request = sum(c.memory_request for c in spec.containers)
    desired = np.ceil(demand / (request * (hpa.target_cpu or 100) / 100.0) - 1e-9)
    if hpa.target_memory:
        desired = np.maximum(
            desired, np.ceil(memory_per_pod / (memory_request * hpa.target_memory / 100.0))
        )
    clamped = np.clip(desired, hpa.min_replicas, hpa.max_replicas)
    current = clamped.copy()
    current[1:] = np.maximum(clamped[1:], clamped[:-1])  # scale down only after 5 minutes
    return current.astype(int), clamped.astype(int)


def _pod_suffix(*parts: object, length: int = 5) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    value = _seed(*parts)
    out = []
    for _ in range(length):
        value, index = divmod(value, len(alphabet))
        out.append(alphabet[index])
    return "".join(out)


def _node_name(group: str, index: int) -> str:
    # A distinct subnet per node group and a distinct address per node: names never repeat.
    subnet = {"general-ng": 0, "system-ng": 64, "jobs-ng": 128}.get(group, 192)
    third = 16 + subnet + index // 250
    return f"ip-10-0-{third}-{index % 250 + 4}.ec2.internal"


# ---------------------------------------------------------------------------------------------
# The simulation


def simulate_demo_cluster(
    end: datetime | None = None,
    days: float = 21,
    step_seconds: int = 300,
    scale: int = 1,
    seed: int = 20261123,
    cluster: str = DEMO_CLUSTER,
) -> DemoCluster:
    """Simulate the demo cluster over ``days`` ending at ``end`` (default :data:`DEFAULT_END`)."""
    end = (end or DEFAULT_END).astimezone(UTC)
    steps = int(round(days * 86400 / step_seconds))
    if steps < 2:
        raise ValueError("the demo window must hold at least two steps")
    timestamps = pd.date_range(
        end=end, periods=steps, freq=pd.Timedelta(seconds=step_seconds), tz=UTC
    )
    specs = demo_workloads(scale)
    extras = jvm_workloads(scale)

    # 1. Demand and replicas per workload (independent of placement).
    demand: dict[tuple[str, str], np.ndarray] = {}
    replicas: dict[tuple[str, str], np.ndarray] = {}
    hpa_current: dict[tuple[str, str], np.ndarray] = {}
    hpa_desired: dict[tuple[str, str], np.ndarray] = {}
    for spec in [*specs, *extras]:
        key = (spec.namespace, spec.name)
        rng = np.random.default_rng([seed, _seed("demand", *key) % 2**32])
        demand[key] = _demand(spec.demand, spec.demand_scale, timestamps, rng)
        if spec.hpa is not None:
            memory_per_pod = sum(c.memory_base for c in spec.containers)
            current, desired = _hpa_replicas(demand[key], memory_per_pod, spec)
            hpa_current[key], hpa_desired[key] = current, desired
            replicas[key] = current
        elif spec.kind == "CronJob":
            replicas[key] = _cron_active(spec, timestamps, step_seconds)
        elif spec.kind != "DaemonSet":
            replicas[key] = np.full(steps, spec.replicas, dtype=int)

    # 2. Nodes: fixed system-ng, autoscaled general-ng (requests over allocatable,
    #    scale-down after 10 minutes), jobs-ng spot nodes only while jobs run.
    nodes: list[SimulatedNode] = []
    group_nodes_at: dict[str, list[list[SimulatedNode]]] = {}
    requested: dict[str, np.ndarray] = {
        g: np.zeros(steps) for g in ("general-ng", "system-ng", "jobs-ng")
    }
    for spec in specs:
        if spec.kind == "DaemonSet":
            continue
        per_pod = sum(c.cpu_request for c in spec.containers)
        requested[spec.node_group] += replicas[(spec.namespace, spec.name)] * per_pod
    shapes = {"general-ng": "t3.medium", "system-ng": "t3.small", "jobs-ng": "m5.large"}
    daemon_cpu = sum(
        sum(c.cpu_request for c in s.containers) for s in specs if s.kind == "DaemonSet"
    )
    for group, instance_type in shapes.items():
        alloc = NODE_SHAPES[instance_type].cpu_allocatable - daemon_cpu
        needed = np.ceil(requested[group] / alloc - 1e-9)
        if group == "general-ng":
            needed = np.clip(needed, 2, max(5, 5 * scale))
        elif group == "system-ng":
            needed = np.full(steps, 2 * max(1, math.ceil(scale / 10)))
        else:
            needed = np.clip(needed, 0, 10 * scale)
        # Cluster autoscaler: scale down only after 10 minutes below the need.
        window = max(1, int(600 // step_seconds))
        held = pd.Series(needed).rolling(window + 1, min_periods=1).max().to_numpy()
        count = held.astype(int)
        active: list[SimulatedNode] = []
        per_step: list[list[SimulatedNode]] = []
        created = 0
        for i in range(steps):
            while len(active) < count[i]:
                node = SimulatedNode(
                    node=_node_name(group, created),
                    node_group=group,
                    instance_type=instance_type,
                    zone=ZONES[created % 3],
                    capacity_type="SPOT" if group == "jobs-ng" else "ON_DEMAND",
                    start=i,
                    stop=steps,
                )
                created += 1
                active.append(node)
                nodes.append(node)
            while len(active) > count[i]:
                gone = active.pop()  # the newest node goes first
                gone.stop = i
            per_step.append(list(active))
        group_nodes_at[group] = per_step

    # 3. Pods, step by step as the scheduler sees them: a workload that wants more pods than
    #    run gets new ones on the node with the most free requests; a pod that fits nowhere
    #    stays Pending (it counts for the HPA, not for usage) until a node has room. A
    #    rollout, a finished job run or the removal of its node ends a pod; the replacement
    #    is a new pod with a new name.
    pods, running = _schedule_pods(
        specs, replicas, nodes, group_nodes_at, timestamps, step_seconds, seed
    )
    # 3b. The later additions on general-ng nodes of their own, sized for their peak requests:
    #     every workload above keeps its nodes, pods and names.
    extra_nodes = _extra_nodes(
        extras,
        replicas,
        daemon_cpu,
        steps,
        start_index=sum(1 for n in nodes if n.node_group == "general-ng"),
    )
    daemons = [s for s in specs if s.kind == "DaemonSet"]
    extra_pods, extra_running = _schedule_pods(
        [*extras, *daemons], replicas, extra_nodes, {"general-ng": [extra_nodes] * steps},
        timestamps, step_seconds, seed,
    )  # fmt: skip
    nodes.extend(extra_nodes)
    pods.extend(extra_pods)
    running.update(extra_running)
    specs = [*specs, *extras]
    # 4. Container series for every pod.
    by_key = {(spec.namespace, spec.name): spec for spec in specs}
    for pod in pods:
        _fill_series(pod, by_key, demand, running, timestamps, step_seconds, seed)
    return DemoCluster(
        cluster=cluster,
        timestamps=timestamps,
        step_seconds=step_seconds,
        workloads=specs,
        nodes=nodes,
        pods=pods,
        hpa_current=hpa_current,
        hpa_desired=hpa_desired,
    )


def _extra_nodes(
    extras: list[WorkloadSpec],
    replicas: Mapping[tuple[str, str], np.ndarray],
    daemon_cpu: float,
    steps: int,
    start_index: int,
) -> list[SimulatedNode]:
    """Enough t3.medium general-ng nodes, up the whole window, for the extras at their peak."""
    if not extras:
        return []
    peak = np.zeros(steps)
    for spec in extras:
        peak += replicas[(spec.namespace, spec.name)] * sum(c.cpu_request for c in spec.containers)
    alloc = NODE_SHAPES["t3.medium"].cpu_allocatable - daemon_cpu
    count = max(1, math.ceil(float(peak.max()) / alloc - 1e-9))
    return [
        SimulatedNode(
            node=_node_name("general-ng", start_index + k),
            node_group="general-ng",
            instance_type="t3.medium",
            zone=ZONES[(start_index + k) % 3],
            capacity_type="ON_DEMAND",
            start=0,
            stop=steps,
        )
        for k in range(count)
    ]


@dataclass
class _NodeRoom:
    """Unrequested CPU and memory on a node, as the scheduler tracks it."""

    node: SimulatedNode
    cpu: float
    memory: float


def _schedule_pods(
    specs: list[WorkloadSpec],
    replicas: dict[tuple[str, str], np.ndarray],
    nodes: list[SimulatedNode],
    group_nodes_at: dict[str, list[list[SimulatedNode]]],
    timestamps: pd.DatetimeIndex,
    step_seconds: int,
    seed: int,
) -> tuple[list[SimulatedPod], dict[tuple[str, str], np.ndarray]]:
    """Run a small request-aware scheduler over the window.

    Returns every pod and, per workload, how many of its pods were running at each step.
    """
    steps = len(timestamps)
    daemon_specs = [s for s in specs if s.kind == "DaemonSet"]
    daemon_cpu = sum(c.cpu_request for s in daemon_specs for c in s.containers)
    daemon_memory = sum(c.memory_request for s in daemon_specs for c in s.containers)
    pods: list[SimulatedPod] = []
    for spec in daemon_specs:
        for node in nodes:
            pods.append(
                SimulatedPod(
                    namespace=spec.namespace,
                    pod=f"{spec.name}-{_pod_suffix(spec.name, node.node)}",
                    kind="DaemonSet",
                    workload=spec.name,
                    owner_kind="DaemonSet",
                    owner_name=spec.name,
                    node=node.node,
                    start=node.start,
                    stop=node.stop,
                    containers=spec.containers,
                )
            )
    room: dict[str, _NodeRoom] = {}
    workloads = [s for s in specs if s.kind != "DaemonSet"]
    # Platform add-ons schedule first (they carry system priority classes in a real cluster).
    workloads.sort(
        key=lambda s: s.namespace not in ("kube-system", "monitoring", "argocd", "logging")
    )
    revision_at: dict[tuple[str, str], np.ndarray] = {}
    job_runs: dict[tuple[str, str], np.ndarray] = {}
    for spec in workloads:
        key = (spec.namespace, spec.name)
        rng = np.random.default_rng([seed, _seed("pods", *key) % 2**32])
        revisions = np.zeros(steps, dtype=int)
        if spec.rollouts and steps > 20:
            for r in rng.choice(
                np.arange(steps // 10, steps - steps // 10), size=spec.rollouts, replace=False
            ):
                revisions[int(r) :] += 1
        revision_at[key] = revisions
        if spec.kind == "CronJob":
            job_runs[key] = _cron_run_ids(spec, timestamps, step_seconds)
    active: dict[tuple[str, str], list[SimulatedPod]] = {
        (s.namespace, s.name): [] for s in workloads
    }
    running = {key: np.zeros(steps, dtype=int) for key in active}
    previous_nodes: dict[str, set[str]] = {group: set() for group in group_nodes_at}
    names: set[tuple[str, str]] = set()

    def end(pod: SimulatedPod, spec: WorkloadSpec, at: int) -> None:
        pod.stop = at
        slot = room.get(pod.node)
        if slot is not None:
            slot.cpu += sum(c.cpu_request for c in spec.containers)
            slot.memory += sum(c.memory_request for c in spec.containers)

    for i in range(steps):
        # Nodes that appear get their allocatable minus the DaemonSets; gone ones evict pods.
        gone: set[str] = set()
        for group, per_step in group_nodes_at.items():
            now = {n.node for n in per_step[i]}
            for n in per_step[i]:
                if n.node not in room:
                    shape = NODE_SHAPES[n.instance_type]
                    room[n.node] = _NodeRoom(
                        n,
                        shape.cpu_allocatable - daemon_cpu,
                        shape.memory_allocatable - daemon_memory,
                    )
            gone |= previous_nodes[group] - now
            previous_nodes[group] = now
        for name in gone:
            room.pop(name, None)
        # The nodes with room, per group, in node order: the same for every workload this step
        # (built once per step, not once per workload: at --scale 250 that is the hot spot).
        candidates_of: dict[str, list[_NodeRoom]] = {}
        position_of: dict[str, dict[int, int]] = {}
        for group, per_step in group_nodes_at.items():
            candidates_of[group] = [room[n.node] for n in per_step[i] if n.node in room]
            position_of[group] = {id(r): k for k, r in enumerate(candidates_of[group])}
        for spec in workloads:
            key = (spec.namespace, spec.name)
            pods_now = active[key]
            revision = int(revision_at[key][i])
            run_id = int(job_runs[key][i]) if key in job_runs else None
            keep = []
            for pod in pods_now:
                stale = (
                    pod.node in gone
                    or pod.revision != revision
                    or (run_id is not None and pod.run_id != run_id)
                )
                if stale:
                    end(pod, spec, i)
                else:
                    keep.append(pod)
            want = int(replicas[key][i])
            while len(keep) > want:
                end(keep.pop(), spec, i)  # the newest pod goes first, as a ReplicaSet scales down
            cpu = sum(c.cpu_request for c in spec.containers)
            memory = sum(c.memory_request for c in spec.containers)
            candidates = candidates_of[spec.node_group]
            position = position_of[spec.node_group]
            while len(keep) < want:
                fits = [r for r in candidates if r.cpu >= cpu - 1e-9 and r.memory >= memory]
                if not fits:
                    break  # Pending: no node has room until the autoscaler adds one
                if spec.kind == "StatefulSet":
                    target = fits[0]  # the oldest node: it outlives every scale-down
                else:
                    target = max(fits, key=lambda r: (r.cpu, -position[id(r)]))
                target.cpu -= cpu
                target.memory -= memory
                ordinal = _free_ordinal(keep) if spec.kind == "StatefulSet" else len(pods)
                pod = _make_pod(
                    spec, ordinal, revision, target.node.node, i, steps, run_id, timestamps
                )
                while spec.kind != "StatefulSet" and (pod.namespace, pod.pod) in names:
                    # Random suffixes can collide, as in Kubernetes; the API server retries.
                    ordinal += 100_003
                    pod = _make_pod(
                        spec, ordinal, revision, target.node.node, i, steps, run_id, timestamps
                    )
                names.add((pod.namespace, pod.pod))
                pods.append(pod)
                keep.append(pod)
            active[key] = keep
            running[key][i] = len(keep)
    return pods, running


def _free_ordinal(pods: list[SimulatedPod]) -> int:
    taken = {p.ordinal for p in pods}
    return next(k for k in range(len(pods) + 1) if k not in taken)


def _cron_run_ids(
    spec: WorkloadSpec, timestamps: pd.DatetimeIndex, step_seconds: int
) -> np.ndarray:
    """For each step, the scheduled run (minute of the epoch it started) or -1 when idle."""
    assert spec.schedule is not None
    starts_minutes, length, weekdays_only = spec.schedule
    ids = np.full(len(timestamps), -1, dtype=np.int64)
    epoch_minutes = np.asarray(
        (timestamps - pd.Timestamp(0, tz=UTC)) // pd.Timedelta(minutes=1), dtype=np.int64
    )
    day_start = epoch_minutes - epoch_minutes % 1440
    minute_of_day = epoch_minutes % 1440
    weekend = np.asarray(timestamps.day_of_week >= 5)
    for start in starts_minutes:
        # A step ending at t covers (t - step, t]; the job runs [start, start + length).
        running = (minute_of_day > start) & (
            minute_of_day <= start + length + step_seconds // 60 - 1
        )
        if weekdays_only:
            running &= ~weekend
        ids = np.where(running, day_start + start, ids)
    return ids


def _cron_active(spec: WorkloadSpec, timestamps: pd.DatetimeIndex, step_seconds: int) -> np.ndarray:
    return (_cron_run_ids(spec, timestamps, step_seconds) >= 0).astype(int)


def _make_pod(
    spec: WorkloadSpec,
    slot: int,
    revision: int,
    node: str,
    start: int,
    stop: int,
    run_id: int | None,
    timestamps: pd.DatetimeIndex,
) -> SimulatedPod:
    if spec.kind == "StatefulSet":
        owner_kind, owner_name, name = "StatefulSet", spec.name, f"{spec.name}-{slot}"
    elif spec.kind == "CronJob":
        job = f"{spec.name}-{run_id}"
        owner_kind, owner_name, name = "Job", job, f"{job}-{_pod_suffix(job, slot)}"
    else:
        replicaset = f"{spec.name}-{_pod_suffix(spec.name, 'rs', revision, length=10)}"
        owner_kind, owner_name = "ReplicaSet", replicaset
        name = f"{replicaset}-{_pod_suffix(replicaset, slot, start)}"
    return SimulatedPod(
        namespace=spec.namespace,
        pod=name,
        kind=spec.kind,
        workload=spec.name,
        owner_kind=owner_kind,
        owner_name=owner_name,
        node=node,
        start=start,
        stop=stop,
        containers=spec.containers,
        has_pvc=spec.has_pvc,
        revision=revision,
        run_id=run_id,
        ordinal=slot,
    )


def _fill_series(
    pod: SimulatedPod,
    specs: Mapping[tuple[str, str], WorkloadSpec],
    demand: dict[tuple[str, str], np.ndarray],
    replicas: dict[tuple[str, str], np.ndarray],
    timestamps: pd.DatetimeIndex,
    step_seconds: int,
    seed: int,
) -> None:
    key = (pod.namespace, pod.workload)
    spec = specs[key]
    span = slice(pod.start, pod.stop)
    n = pod.stop - pod.start
    rng = np.random.default_rng([seed, _seed("series", pod.namespace, pod.pod) % 2**32])
    if spec.kind == "DaemonSet":
        per_pod = demand[key][span]
    else:
        per_pod = demand[key][span] / np.maximum(replicas[key][span], 1)
    hours = np.arange(n) * step_seconds / 3600.0
    for container in pod.containers:
        want = per_pod * container.cpu_share * rng.lognormal(0.0, 0.06, n)
        if container.startup_cpu and pod.start > 0:
            # Started in the window (not already running at its start): JIT, class loading.
            warm = min(n, math.ceil(container.startup_minutes * 60 / step_seconds))
            want[:warm] += container.startup_cpu * rng.uniform(0.85, 1.0, warm)
        limit = container.cpu_limit
        if math.isfinite(limit):
            # CFS quota: a container never uses more than its limit; the excess waits (throttling).
            cpu = np.minimum(want, limit * rng.uniform(0.97, 1.0, n))
            excess = np.clip((want - 0.8 * limit) / np.maximum(want, 1e-9), 0.0, 1.0)
            throttled = np.clip(excess * 1.4 + rng.uniform(0, 0.01, n), 0.0, 1.0)
        else:
            cpu = want
            throttled = np.full(n, np.nan)
        if container.memory == "jvm-micrometer":
            memory, heap, nonheap = _jvm_series(container, cpu, rng, step_seconds, pod.start > 0)
            pod.jvm[container.name] = (heap, nonheap)
            ooms = np.array([], dtype=int)
        else:
            memory, ooms = _memory_series(container, cpu, hours, rng, step_seconds)
        pod.cpu[container.name] = cpu
        pod.memory[container.name] = memory
        pod.throttled[container.name] = throttled
        pod.oom_steps[container.name] = ooms + pod.start


def _jvm_series(
    container: ContainerSpec,
    cpu: np.ndarray,
    rng: np.random.Generator,
    step_seconds: int,
    started: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A JVM's working set, heap used and non-heap used, per step.

    The young generation fills with allocation (proportional to CPU) and is collected at 256
    MiB; the old generation creeps up and a full collection every ~2 days brings it back. The
    JVM commits heap as it needs it and keeps it, up to -Xmx: that committed heap, not the used
    heap, is what the working set holds, beside non-heap (class metadata, code cache: it grows
    in the first hour after a start) and native memory.
    """
    n = len(cpu)
    heap_max = container.jvm_heap_max
    young = (np.cumsum(cpu) * step_seconds * 1.5 * _M) % (256 * _M)
    phase = (np.arange(n) * step_seconds / 86400.0 + rng.uniform(0, 2)) % 2.0 / 2.0
    old = (180 + 60 * phase) * _M
    heap = np.minimum(old + young, heap_max * 0.98) * (1 + rng.normal(0.0, 0.005, n))
    committed = np.minimum(np.maximum.accumulate(heap) * 1.1, heap_max)
    warm = np.clip(np.arange(n) * step_seconds / 3600.0, 0.0, 1.0) if started else np.ones(n)
    nonheap = container.jvm_nonheap * (0.6 + 0.4 * warm) * (1 + rng.normal(0.0, 0.003, n))
    native = container.memory_base * (1 + rng.normal(0.0, 0.02, n))
    return committed + nonheap + native, heap, nonheap


def _memory_series(
    container: ContainerSpec,
    cpu: np.ndarray,
    hours: np.ndarray,
    rng: np.random.Generator,
    step_seconds: int,
) -> tuple[np.ndarray, np.ndarray]:
    n = len(cpu)
    base = container.memory_base
    limit = container.memory_limit
    jitter = rng.normal(0.0, 0.01, n)
    if container.memory == "flat":
        memory = base * (1 + jitter)
    elif container.memory == "jvm":
        # Heap sized by -Xmx: flat, with a small GC sawtooth.
        memory = base * (1 + 0.015 * np.sin(np.arange(n) / 3.0) + jitter * 0.3)
    elif container.memory == "load":
        memory = (base + container.memory_per_core * cpu) * (1 + jitter)
    elif container.memory == "sawtooth":
        # Prometheus head block: grows for two hours, compacts.
        phase = (hours % 2.0) / 2.0
        memory = (base + container.memory_spike * phase) * (1 + jitter)
    elif container.memory == "spiky":
        spikes = (
            (rng.random(n) < container.spike_probability)
            * rng.uniform(0.3, 1.0, n)
            * container.memory_spike
        )
        memory = (base + 0.35 * container.memory_spike * rng.random(n) + spikes) * (1 + jitter)
    elif container.memory == "leak":
        # Grows steadily from each (re)start until the limit kills it.
        start_offset = rng.uniform(0, 0.6) * (limit - base) / container.memory_leak_per_hour
        period = (limit - base) / container.memory_leak_per_hour
        age = (hours + start_offset) % period
        memory = (base + container.memory_leak_per_hour * age) * (1 + jitter * 0.3)
        wraps = np.flatnonzero(np.diff(np.floor((hours + start_offset) / period)) > 0) + 1
        memory = np.minimum(memory, limit * 0.999)
        return memory, wraps
    else:  # pragma: no cover
        raise ValueError(container.memory)
    memory = np.maximum(memory, 1 * _M)
    if math.isfinite(limit):
        ooms = np.flatnonzero(memory >= limit)
        memory = np.minimum(memory, limit * 0.999)
        return memory, ooms
    return memory, np.array([], dtype=int)


# ---------------------------------------------------------------------------------------------
# Snapshot tables


def _tables(demo: DemoCluster) -> dict[str, pd.DataFrame]:
    ts = demo.timestamps
    step = pd.Timedelta(seconds=demo.step_seconds)
    nodes = pd.DataFrame(
        [
            {
                "node": n.node,
                "node_group": n.node_group,
                "instance_type": n.instance_type,
                "zone": n.zone,
                "capacity_type": n.capacity_type,
                "architecture": NODE_SHAPES[n.instance_type].architecture,
                "cpu_capacity_cores": NODE_SHAPES[n.instance_type].cpu,
                "memory_capacity_bytes": NODE_SHAPES[n.instance_type].memory,
                "cpu_allocatable_cores": NODE_SHAPES[n.instance_type].cpu_allocatable,
                "memory_allocatable_bytes": NODE_SHAPES[n.instance_type].memory_allocatable,
                "pods_allocatable": float(NODE_SHAPES[n.instance_type].pods),
                "first_seen": ts[n.start],
                "last_seen": ts[n.stop - 1],
                # The demo's nodes carry the EKS managed node-group labels (openmetrics.py
                # exports them as kube_node_labels), so a fetch of the export says the same.
                "instance_type_source": "kube_node_labels",
                "node_group_source": "kube_node_labels",
                "zone_source": "kube_node_labels",
                "capacity_type_source": "kube_node_labels",
                "provisioner": "managed",
                "instance_id": n.instance_id,
            }
            for n in demo.nodes
        ]
    )
    workloads = []
    for spec in demo.workloads:
        disruptions = math.nan
        if spec.pdb_min_available is not None:
            typical = spec.hpa.min_replicas if spec.hpa else spec.replicas
            disruptions = float(max(typical - spec.pdb_min_available, 0))
        workloads.append(
            {
                "namespace": spec.namespace,
                "kind": spec.kind,
                "workload": spec.name,
                "pdb_min_available": float(spec.pdb_min_available)
                if spec.pdb_min_available is not None
                else math.nan,
                "pdb_max_unavailable": math.nan,
                "pdb_disruptions_allowed": disruptions,
                "has_pvc": spec.has_pvc,
                "has_emptydir": spec.has_emptydir,
            }
        )
    pods = pd.DataFrame(
        [
            {
                "namespace": p.namespace,
                "pod": p.pod,
                "kind": p.kind,
                "workload": p.workload,
                "node": p.node,
                "first_seen": ts[p.start],
                "last_seen": ts[p.stop - 1],
            }
            for p in demo.pods
        ]
    )
    containers = pd.DataFrame(
        [
            {
                "namespace": p.namespace,
                "pod": p.pod,
                "container": c.name,
                "cpu_request_cores": c.cpu_request,
                "cpu_limit_cores": c.cpu_limit,
                "memory_request_bytes": float(c.memory_request),
                "memory_limit_bytes": float(c.memory_limit),
                "restarts": len(p.oom_steps[c.name]),
                "oom_kills": len(p.oom_steps[c.name]),
            }
            for p in demo.pods
            for c in p.containers
        ]
    )
    usage = pd.concat(list(_usage_frames(demo)), ignore_index=True)
    for column in ("namespace", "pod", "container"):
        usage[column] = usage[column].astype("category")
    hpas = pd.DataFrame(
        [
            {
                "namespace": s.namespace,
                "hpa": s.name,
                "kind": s.kind,
                "workload": s.name,
                "min_replicas": s.hpa.min_replicas,
                "max_replicas": s.hpa.max_replicas,
                "target_cpu_utilization": s.hpa.target_cpu if s.hpa.target_cpu else math.nan,
                "target_memory_utilization": s.hpa.target_memory
                if s.hpa.target_memory
                else math.nan,
                "scale_down_stabilization_seconds": 300.0,
                "target_container": "",  # the demo's HPAs use pod-level Resource metrics
            }
            for s in demo.workloads
            if s.hpa is not None
        ]
    )
    replicas = pd.concat(
        [
            pd.DataFrame(
                {
                    "timestamp": ts,
                    "namespace": ns,
                    "hpa": name,
                    "current_replicas": demo.hpa_current[(ns, name)].astype(float),
                    "desired_replicas": demo.hpa_desired[(ns, name)].astype(float),
                }
            )
            for (ns, name) in demo.hpa_current
        ],
        ignore_index=True,
    )
    # One row per HPA and step: categorical labels, as the Prometheus source writes them.
    for column in ("namespace", "hpa"):
        replicas[column] = replicas[column].astype("category")
    terminations = pd.DataFrame(
        [
            {
                "timestamp": ts[i],
                "namespace": p.namespace,
                "pod": p.pod,
                "container": name,
                "reason": "OOMKilled",
            }
            for p in demo.pods
            for name, steps in p.oom_steps.items()
            for i in steps
        ],
        columns=["timestamp", "namespace", "pod", "container", "reason"],
    )
    terminations["timestamp"] = pd.to_datetime(terminations["timestamp"], utc=True)
    del step
    jvm = _jvm_table(demo)
    return {
        **({"jvm_memory": jvm} if not jvm.empty else {}),
        "nodes": nodes,
        "workloads": pd.DataFrame(workloads),
        "pods": pods,
        "containers": containers,
        "usage": usage,
        "hpas": hpas,
        "replicas": replicas,
        "terminations": terminations,
    }


def _jvm_table(demo: DemoCluster) -> pd.DataFrame:
    """Micrometer's jvm_memory_used_bytes / jvm_memory_max_bytes summed over pools by area.

    Max is the sum of the pools' defined maxima (:data:`JVM_POOLS`; -1, undefined, left out):
    -Xmx for the heap, the code heaps and compressed class space for non-heap.
    """
    ts = demo.timestamps
    frames = []
    for p in demo.pods:
        for name, (heap, nonheap) in p.jvm.items():
            spec = next(c for c in p.containers if c.name == name)
            for area, used, most in (
                ("heap", heap, jvm_area_max("heap", spec.jvm_heap_max)),
                ("nonheap", nonheap, jvm_area_max("nonheap", spec.jvm_heap_max)),
            ):
                frames.append(
                    pd.DataFrame(
                        {
                            "timestamp": ts[p.start : p.stop],
                            "namespace": p.namespace,
                            "pod": p.pod,
                            "container": name,
                            "area": area,
                            "used_bytes": used,
                            "max_bytes": most,
                        }
                    )
                )
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def _usage_frames(demo: DemoCluster) -> Iterator[pd.DataFrame]:
    ts = demo.timestamps
    for p in demo.pods:
        for c in p.containers:
            yield pd.DataFrame(
                {
                    "timestamp": ts[p.start : p.stop],
                    "namespace": p.namespace,
                    "pod": p.pod,
                    "container": c.name,
                    "cpu_cores": p.cpu[c.name],
                    "memory_bytes": p.memory[c.name],
                    "cpu_throttled_ratio": p.throttled[c.name],
                }
            )


def generate_demo_snapshot(
    end: datetime | None = None,
    days: float = 21,
    step_seconds: int = 300,
    scale: int = 1,
    created_at: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> Snapshot:
    """The demo cluster as an in-memory :class:`Snapshot` (write it with ``write_snapshot``).

    Example:
        >>> snap = generate_demo_snapshot(days=3)
        >>> sorted(snap.nodes.node_group.unique())
        ['general-ng', 'jobs-ng', 'system-ng']
    """
    demo = simulate_demo_cluster(end=end, days=days, step_seconds=step_seconds, scale=scale)
    tables = _tables(demo)
    manifest = SnapshotManifest(
        cluster=demo.cluster,
        window_start=demo.start,
        window_end=demo.end,
        step_seconds=step_seconds,
        source="demo",
        created_at=created_at or demo.end + timedelta(hours=1),
        tables={name: len(frame) for name, frame in tables.items()},
        extra={"demo": {"days": days, "scale": scale}},
    )
    return Snapshot(manifest=manifest, tables=tables)
