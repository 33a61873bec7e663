"""The demo's catalogue: node shapes and the workloads of the Kianax platform, as data.

Every behaviour the simulation shows is declared here (see the package docstring for the table);
:mod:`.simulate` turns the specs into a timeline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from kianax_capacity.units import MIB

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
    name: str,
    containers: tuple[ContainerSpec, ...],
    *,
    demand: str,
    demand_scale: float,
    hpa: HpaSpec | None,
    rollouts: int,
    replicas: int = 1,
) -> WorkloadSpec:
    """A kianax Deployment on general-ng with a PDB minAvailable 1, as the platform runs them."""
    return WorkloadSpec(
        "kianax", "Deployment", name, "general-ng", containers,
        demand=demand, demand_scale=demand_scale, replicas=replicas, hpa=hpa,
        pdb_min_available=1, rollouts=rollouts,
    )  # fmt: skip


_CPU_AND_MEMORY = HpaSpec(2, 10, 70, 80)
_CPU_ONLY = HpaSpec(2, 10, 70, None)
_ENVOY = ContainerSpec(
    "envoy", 0.1, 128 * _M, 0.2, 256 * _M, cpu_share=0.2, memory="flat", memory_base=48 * _M
)

# The catalogue below is data: one typed, frozen spec per workload, written as a table (one row
# per field group) rather than formatted one argument a line, so a workload reads at a glance.
# fmt: off

#: The kianax namespace: the platform's services and CronJobs (namespace ``kianax``; the copies
#: of ``scale`` move them to ``kianax-2`` ... with :func:`dataclasses.replace`).
KIANAX_WORKLOADS: tuple[WorkloadSpec, ...] = (
    _service(
        "api-gateway",
        (_seed_app(cpu_share=0.8, memory="load", memory_base=120 * _M, memory_per_core=180 * _M),
         _ENVOY),
        demand="web", demand_scale=1.2, hpa=_CPU_AND_MEMORY, rollouts=2,
    ),
    _service(
        "trading-service",
        (_seed_app(memory="load", memory_base=150 * _M, memory_per_core=120 * _M),),
        demand="market", demand_scale=0.9, hpa=_CPU_AND_MEMORY, rollouts=2,
    ),
    _service(
        "agent-service",
        (_seed_app(memory="spiky", memory_base=180 * _M, memory_spike=140 * _M),),
        demand="bursty", demand_scale=1.0, hpa=_CPU_ONLY, rollouts=1,
    ),
    _service(
        "market-data-service",
        (_seed_app(memory="load", memory_base=170 * _M, memory_per_core=60 * _M),),
        demand="market", demand_scale=4.2, hpa=_CPU_ONLY, rollouts=1,
    ),
    _service(
        "portfolio-service",
        (ContainerSpec("app", 0.25, 768 * _M, 0.5, 1024 * _M, memory="jvm", memory_base=690 * _M),),
        demand="web", demand_scale=0.25, hpa=_CPU_ONLY, rollouts=1,
    ),
    _service(
        "notification-service",
        (_seed_app(memory="leak", memory_base=150 * _M, memory_leak_per_hour=4.5 * _M),),
        demand="web", demand_scale=0.08, hpa=_CPU_ONLY, rollouts=0,
    ),
    _service(
        "user-service",
        (_seed_app(memory="flat", memory_base=92 * _M),),
        demand="web", demand_scale=0.05, hpa=_CPU_AND_MEMORY, rollouts=1,
    ),
    _service(
        "risk-service",
        (_seed_app(memory="spiky", memory_base=330 * _M, memory_spike=200 * _M,
                   spike_probability=0.002),),
        demand="market", demand_scale=1.5, hpa=None, rollouts=1, replicas=2,
    ),
    WorkloadSpec(
        "kianax", "CronJob", "market-eod-report", "jobs-ng",
        (ContainerSpec("report", 0.5, 512 * _M, math.nan, 1024 * _M,
                       memory="load", memory_base=380 * _M, memory_per_core=250 * _M),),
        demand="flat", demand_scale=0.9,
        schedule=((21 * 60 + 30,), 25, True),
    ),
    WorkloadSpec(
        "kianax", "CronJob", "portfolio-rebalance", "jobs-ng",
        (ContainerSpec("rebalance", 1.0, 1024 * _M, math.nan, 1024 * _M,
                       memory="flat", memory_base=260 * _M),),
        demand="flat", demand_scale=0.35,
        schedule=(tuple(h * 60 + 5 for h in range(0, 24, 4)), 10, False),
    ),
)

#: The add-ons every EKS cluster of the platform runs: monitoring (kube-prometheus-stack),
#: argocd, kube-system and logging, with the requests and limits of their charts.
PLATFORM_WORKLOADS: tuple[WorkloadSpec, ...] = (
    WorkloadSpec(
        "monitoring", "StatefulSet", "prometheus", "general-ng",
        (ContainerSpec("prometheus", 0.5, 1024 * _M, math.nan, 2048 * _M, cpu_share=0.97,
                       memory="sawtooth", memory_base=820 * _M, memory_spike=380 * _M),
         ContainerSpec("config-reloader", 0.01, 25 * _M, 0.1, 50 * _M, cpu_share=0.03,
                       memory="flat", memory_base=18 * _M)),
        demand="flat", demand_scale=0.28, has_pvc=True,
    ),
    WorkloadSpec(
        "monitoring", "StatefulSet", "alertmanager", "system-ng",
        (ContainerSpec("alertmanager", 0.05, 64 * _M, math.nan, 128 * _M,
                       memory="flat", memory_base=34 * _M),),
        demand="flat", demand_scale=0.004, has_pvc=True,
    ),
    WorkloadSpec(
        "monitoring", "Deployment", "grafana", "system-ng",
        (ContainerSpec("grafana", 0.1, 128 * _M, 0.2, 256 * _M,
                       memory="flat", memory_base=108 * _M),),
        demand="web", demand_scale=0.02, has_emptydir=True,
    ),
    WorkloadSpec(
        "monitoring", "Deployment", "kube-state-metrics", "system-ng",
        (ContainerSpec("kube-state-metrics", 0.01, 64 * _M, math.nan, 128 * _M,
                       memory="flat", memory_base=52 * _M),),
        demand="flat", demand_scale=0.012,
    ),
    WorkloadSpec(
        "argocd", "Deployment", "argocd-server", "system-ng",
        (ContainerSpec("server", 0.1, 128 * _M, 0.5, 256 * _M,
                       memory="flat", memory_base=70 * _M),),
        demand="web", demand_scale=0.015,
    ),
    WorkloadSpec(
        "argocd", "Deployment", "argocd-repo-server", "system-ng",
        (ContainerSpec("repo-server", 0.25, 256 * _M, 0.5, 512 * _M,
                       memory="spiky", memory_base=120 * _M, memory_spike=90 * _M),),
        demand="bursty", demand_scale=0.12, has_emptydir=True,
    ),
    WorkloadSpec(
        "argocd", "StatefulSet", "argocd-application-controller", "system-ng",
        (ContainerSpec("application-controller", 0.25, 512 * _M, 1.0, 1024 * _M,
                       memory="flat", memory_base=340 * _M),),
        demand="flat", demand_scale=0.14,
    ),
    WorkloadSpec(
        "kube-system", "Deployment", "coredns", "system-ng",
        (ContainerSpec("coredns", 0.1, 70 * _M, math.nan, 170 * _M,
                       memory="flat", memory_base=24 * _M),),
        demand="web", demand_scale=0.03, replicas=2, pdb_min_available=1,
    ),
    WorkloadSpec(
        "logging", "DaemonSet", "fluent-bit", "*",
        (ContainerSpec("fluent-bit", 0.05, 64 * _M, 0.1, 128 * _M,
                       memory="flat", memory_base=38 * _M),),
        demand="node", demand_scale=0.012,
    ),
    WorkloadSpec(
        "kube-system", "DaemonSet", "aws-node", "*",
        (ContainerSpec("aws-node", 0.025, 40 * _M, memory="flat", memory_base=45 * _M),),
        demand="node", demand_scale=0.004,
    ),
    WorkloadSpec(
        "kube-system", "DaemonSet", "kube-proxy", "*",
        (ContainerSpec("kube-proxy", 0.1, 40 * _M, memory="flat", memory_base=22 * _M),),
        demand="node", demand_scale=0.002,
    ),
)

#: A Spring Boot service with Micrometer's JVM metrics and a CPU-heavy start. Added after the
#: rest of the catalogue: these workloads get their own general-ng nodes (see
#: :func:`simulate_demo_cluster`), so every other workload, node and pod of the demo is what it
#: was before them.
JVM_WORKLOADS: tuple[WorkloadSpec, ...] = (
    _service(
        "ledger-service",
        (ContainerSpec("app", 0.25, 1024 * _M, 1.0, 1536 * _M,
                       memory="jvm-micrometer", memory_base=60 * _M,  # native memory beside heap and non-heap
                       startup_cpu=1.1, startup_minutes=10.0,
                       jvm_heap_max=768 * _M, jvm_nonheap=135 * _M),),
        demand="web", demand_scale=0.35, hpa=HpaSpec(2, 10, 70, None), rollouts=2,
    ),
)

# fmt: on


def _in_namespace(specs: tuple[WorkloadSpec, ...], namespace: str) -> list[WorkloadSpec]:
    return [replace(spec, namespace=namespace) for spec in specs]


def jvm_workloads(scale: int = 1) -> list[WorkloadSpec]:
    """The workloads scheduled on nodes of their own (one copy per kianax namespace)."""
    specs = list(JVM_WORKLOADS)
    for copy in range(2, scale + 1):
        specs.extend(_in_namespace(JVM_WORKLOADS, f"kianax-{copy}"))
    return specs


def demo_workloads(scale: int = 1) -> list[WorkloadSpec]:
    """The demo's workload catalogue; ``scale`` adds copies of the kianax namespace."""
    specs = list(KIANAX_WORKLOADS)
    for copy in range(2, scale + 1):
        specs.extend(_in_namespace(KIANAX_WORKLOADS, f"kianax-{copy}"))
    specs.extend(PLATFORM_WORKLOADS)
    return specs
