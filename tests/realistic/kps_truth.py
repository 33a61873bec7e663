"""The truth of the kube-prometheus-stack test cluster: nodes, pods, usage, HPAs; and the layouts.

``kps_layout`` writes this cluster as a default kube-prometheus-stack install stores it; tests
compare what the tool fetched with what is written here. Usage is analytic so the truth is
exact: container CPU is ``mean * (1 + a sin(...))`` cores and its cAdvisor counter the integral
of that, so the true average over any interval is known.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np

__all__ = [
    "END",
    "GIB",
    "MIB",
    "NODE_LABELS_ALLOWLIST",
    "VARIANTS",
    "Layout",
    "Truth",
    "TruthContainer",
    "TruthHpa",
    "TruthNode",
    "TruthPod",
    "build_truth",
    "stable_hex",
]

MIB = 1024**2
GIB = 1024**3
#: A fixed end so every run writes the same bytes (a Monday 00:00 UTC).
END = datetime(2026, 11, 23, tzinfo=UTC)

#: The node labels the tool reads, as the real Kubernetes keys an allowlist must name. EKS managed
#: node groups spell the capacity type ``eks.amazonaws.com/capacityType`` (camelCase);
#: kube-state-metrics turns it into ``label_eks_amazonaws_com_capacity_type`` (toSnakeCase).
NODE_LABELS_ALLOWLIST = (
    "eks.amazonaws.com/nodegroup",
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/zone",
    "eks.amazonaws.com/capacityType",
    "karpenter.sh/nodepool",
    "karpenter.sh/capacity-type",
    "kubernetes.io/arch",
)

# Scrape targets' labels as the Prometheus Operator builds them for the chart's ServiceMonitors
# (README.md: promcfg.go relabelings; charts' jobLabel settings).
RELEASE = "kube-prometheus-stack"
KSM_POD = f"{RELEASE}-kube-state-metrics-6f9c8d7b5-q2x7k"
KSM_IP = "10.0.2.77"
PROMETHEUS_EXTERNAL = "monitoring/kube-prometheus-stack-prometheus"
PAUSE_IMAGE = "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/pause:3.8"
CFS_PERIODS_PER_SECOND = 10.0  # the kernel's default 100 ms CFS period


@dataclass(frozen=True)
class TruthNode:
    name: str
    internal_ip: str
    instance_id: str
    instance_type: str
    zone: str
    node_group: str  # EKS managed node group; "" for a Karpenter node
    nodepool: str  # Karpenter NodePool; "" for a managed node
    capacity_type: str  # ON_DEMAND | SPOT
    provisioner: str  # managed | karpenter
    cpu_capacity_cores: float
    memory_capacity_bytes: float
    cpu_allocatable_cores: float
    memory_allocatable_bytes: float
    pods_allocatable: float
    arch: str = "amd64"

    @property
    def provider_id(self) -> str:
        return f"aws:///{self.zone}/{self.instance_id}"


@dataclass(frozen=True)
class TruthContainer:
    name: str
    image: str
    cpu_request_cores: float
    memory_request_bytes: float
    cpu_limit_cores: float  # NaN = none
    memory_limit_bytes: float
    cpu_mean_cores: float
    memory_bytes: float  # mean working set
    phase: float = 0.0

    def cpu_rate(self, seconds: np.ndarray) -> np.ndarray:
        """Cores at epoch ``seconds``."""
        return self.cpu_mean_cores * (1 + CPU_SWING * np.sin(OMEGA * seconds + self.phase))

    def cpu_integral(self, seconds: np.ndarray) -> np.ndarray:
        """Core-seconds from epoch 0 to ``seconds`` (differences are exact CPU time)."""
        return self.cpu_mean_cores * (
            seconds - CPU_SWING / OMEGA * np.cos(OMEGA * seconds + self.phase)
        )

    def working_set(self, seconds: np.ndarray) -> np.ndarray:
        return np.round(self.memory_bytes * (1 + 0.08 * np.sin(OMEGA * seconds / 3 + self.phase)))


CPU_SWING = 0.35
OMEGA = 2 * math.pi / (3 * 3600)  # a three-hour cycle: several within the shortest window


@dataclass(frozen=True)
class TruthPod:
    namespace: str
    name: str
    uid: str
    node: str
    kind: str  # the workload kind the tool should find
    workload: str
    owner_kind: str  # kube_pod_owner's owner
    owner_name: str
    containers: tuple[TruthContainer, ...]
    start: datetime
    end: datetime | None = None  # None = still running at the window's end
    restart_at: datetime | None = None  # one container restart (OOMKilled) of containers[0]
    sandbox_id: str = ""

    def alive(self, seconds: np.ndarray) -> np.ndarray:
        end = math.inf if self.end is None else self.end.timestamp()
        return (seconds >= self.start.timestamp()) & (seconds <= end)


@dataclass(frozen=True)
class TruthHpa:
    namespace: str
    name: str
    target_kind: str
    target_name: str
    min_replicas: int
    max_replicas: int
    replicas: int
    # (metric_name, metric_target_type, container, value): the kube-state-metrics rows
    targets: tuple[tuple[str, str, str, float], ...]


@dataclass(frozen=True)
class Truth:
    start: datetime
    end: datetime
    nodes: tuple[TruthNode, ...]
    pods: tuple[TruthPod, ...]
    hpas: tuple[TruthHpa, ...]
    pdbs: tuple[tuple[str, str, float, float], ...]  # namespace, name, desired_healthy, allowed
    replicasets: tuple[tuple[str, str, str], ...]  # namespace, replicaset, deployment
    jobs: tuple[tuple[str, str, str], ...]  # namespace, job, cronjob

    def node(self, name: str) -> TruthNode:
        return next(n for n in self.nodes if n.name == name)

    def cluster_cpu(self, step_ends: np.ndarray, step_seconds: float) -> np.ndarray:
        """True average cluster CPU (cores, app containers) over each ``(t - step, t]``."""
        total = np.zeros(len(step_ends))
        for pod in self.pods:
            lo = max(pod.start.timestamp(), -math.inf)
            hi = math.inf if pod.end is None else pod.end.timestamp()
            a = np.clip(step_ends - step_seconds, lo, hi)
            b = np.clip(step_ends, lo, hi)
            for c in pod.containers:
                total += (c.cpu_integral(b) - c.cpu_integral(a)) / step_seconds
        return total


@dataclass(frozen=True)
class Layout:
    """What the install scrapes, and how."""

    name: str
    node_labels_allowlist: bool = False  # kube-state-metrics.metricLabelsAllowlist set
    kubelet_resource: bool = False  # kubelet.serviceMonitor.resource: true
    node_exporter: bool = True  # nodeExporter.enabled (chart default true)
    replicas: int = 1  # Prometheus replicas read through one store (external labels kept)
    ksm_version: str = "v2.20.0"  # the chart's appVersion; < v2.19.0 has no HPA container label
    scrape_interval_seconds: float = 30.0
    seed: int = 16

    @property
    def ksm_hpa_container_label(self) -> bool:
        major, minor = (int(x) for x in self.ksm_version.lstrip("v").split(".")[:2])
        return (major, minor) >= (2, 19)


VARIANTS: dict[str, Layout] = {
    "default": Layout("default"),
    "allowlist": Layout("allowlist", node_labels_allowlist=True),
    "resource": Layout("resource", kubelet_resource=True),
    "no-node-exporter": Layout("no-node-exporter", node_exporter=False),
    "ha-pair": Layout("ha-pair", replicas=2),
}


def _uid(*parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def stable_hex(n: int, *parts: str) -> str:
    """``n`` hex digits derived from ``parts``: the same ids (instance, sandbox, pod suffix)
    in every run and in every layout built from the truth."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def _node(
    ip: str,
    instance_type: str,
    zone: str,
    *,
    group: str = "",
    nodepool: str = "",
    spot: bool = False,
    cpu: float,
    memory_gib: float,
    pods: int,
) -> TruthNode:
    # Allocatable as the EKS AMI's kubelet reserves it: CPU 60m + 10m/core above the first,
    # memory 255 MiB + 11 MiB per pod, and the 100 MiB hard eviction threshold.
    reserved_cpu = 0.06 + 0.01 * (cpu - 1) + (0.01 if cpu > 2 else 0)
    capacity = memory_gib * GIB * 0.962  # the kernel keeps a few percent of what EC2 sells
    allocatable = capacity - (255 + 11 * pods + 100) * MIB
    return TruthNode(
        name=f"ip-{ip.replace('.', '-')}.ec2.internal",
        internal_ip=ip,
        instance_id="i-0" + stable_hex(16, ip),
        instance_type=instance_type,
        zone=zone,
        node_group=group,
        nodepool=nodepool,
        capacity_type="SPOT" if spot else "ON_DEMAND",
        provisioner="karpenter" if nodepool else "managed",
        cpu_capacity_cores=cpu,
        memory_capacity_bytes=float(round(capacity / 1024) * 1024),
        cpu_allocatable_cores=round(cpu - reserved_cpu, 3),
        memory_allocatable_bytes=float(round(allocatable / 1024) * 1024),
        pods_allocatable=float(pods),
    )


def _container(
    name: str,
    image: str,
    cpu_req: float,
    mem_req_mib: float,
    cpu_mean: float,
    mem_mib: float,
    *,
    cpu_limit: float = math.nan,
    mem_limit_mib: float = math.nan,
    phase: float = 0.0,
) -> TruthContainer:
    return TruthContainer(
        name=name,
        image=image,
        cpu_request_cores=cpu_req,
        memory_request_bytes=mem_req_mib * MIB,
        cpu_limit_cores=cpu_limit,
        memory_limit_bytes=mem_limit_mib * MIB,
        cpu_mean_cores=cpu_mean,
        memory_bytes=mem_mib * MIB,
        phase=phase,
    )


def build_truth(*, end: datetime = END, hours: float = 6.0) -> Truth:
    """The cluster: five nodes (two on spot, one from a Karpenter NodePool), 15 pods."""
    start = end - timedelta(hours=hours)
    before = start - timedelta(hours=2)  # long-running pods started before the window
    nodes = (
        _node(
            "10.0.1.17", "m6i.xlarge", "us-east-1a", group="general", cpu=4, memory_gib=16, pods=58
        ),
        _node(
            "10.0.2.41", "m6i.xlarge", "us-east-1b", group="general", cpu=4, memory_gib=16, pods=58
        ),
        _node(
            "10.0.3.88",
            "m5.large",
            "us-east-1c",
            group="general-spot",
            spot=True,
            cpu=2,
            memory_gib=8,
            pods=29,
        ),
        _node(
            "10.0.1.203",
            "c6i.xlarge",
            "us-east-1a",
            nodepool="default",
            spot=True,
            cpu=4,
            memory_gib=8,
            pods=58,
        ),
        _node("10.0.2.150", "t3.large", "us-east-1b", group="system", cpu=2, memory_gib=8, pods=35),
    )
    n1, n2, spot, karp, system = (n.name for n in nodes)
    pods: list[TruthPod] = []

    def pod(
        namespace: str,
        name: str,
        node: str,
        kind: str,
        workload: str,
        owner_kind: str,
        owner_name: str,
        containers: tuple[TruthContainer, ...],
        **extra: object,
    ) -> None:
        pods.append(
            TruthPod(
                namespace=namespace,
                name=name,
                uid=_uid(namespace, name),
                node=node,
                kind=kind,
                workload=workload,
                owner_kind=owner_kind,
                owner_name=owner_name,
                containers=containers,
                start=extra.pop("start", before),  # type: ignore[arg-type]
                sandbox_id=stable_hex(64, "sandbox", namespace, name),
                **extra,  # type: ignore[arg-type]
            )
        )

    web_rs, api_rs, worker_rs, ksm_rs = (
        "web-7d9f8c6b5d",
        "api-5c7b9f8d6",
        "worker-6b8f7c9d4",
        f"{RELEASE}-kube-state-metrics-6f9c8d7b5",
    )
    shop = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop"
    for i, (suffix, node) in enumerate((("x7k2p", n1), ("m4n8q", n2), ("c9v5t", spot))):
        pod(
            "shop",
            f"{web_rs}-{suffix}",
            node,
            "Deployment",
            "web",
            "ReplicaSet",
            web_rs,
            (
                _container(
                    "web",
                    f"{shop}/web:1.42.0",
                    0.5,
                    512,
                    0.24 + 0.02 * i,
                    300,
                    cpu_limit=1.0,
                    mem_limit_mib=768,
                    phase=0.4 * i,
                ),
                _container(
                    "envoy",
                    "public.ecr.aws/envoyproxy/envoy:v1.31.2",
                    0.25,
                    128,
                    0.04,
                    70,
                    phase=0.9 + 0.4 * i,
                ),
            ),
        )
    for i, (suffix, node) in enumerate((("h2j6w", n1), ("r8d3z", n2))):
        pod(
            "shop",
            f"{api_rs}-{suffix}",
            node,
            "Deployment",
            "api",
            "ReplicaSet",
            api_rs,
            (
                _container(
                    "api",
                    f"{shop}/api:3.8.1",
                    1.0,
                    1024,
                    0.35,
                    610,
                    mem_limit_mib=1024,
                    phase=1.7 + 0.3 * i,
                ),
            ),
            restart_at=(start + timedelta(hours=hours / 2)) if i == 0 else None,
        )
    for i, (suffix, node) in enumerate((("p5q9s", spot), ("t1w4e", n2))):
        pod(
            "shop",
            f"{worker_rs}-{suffix}",
            node,
            "Deployment",
            "worker",
            "ReplicaSet",
            worker_rs,
            (_container("worker", f"{shop}/worker:2.0.3", 0.5, 256, 0.12, 180, phase=2.3 + i),),
        )
    pod(
        "shop",
        "postgres-0",
        n1,
        "StatefulSet",
        "postgres",
        "StatefulSet",
        "postgres",
        (
            _container(
                "postgres",
                "public.ecr.aws/docker/library/postgres:16.4",
                0.5,
                1024,
                0.08,
                420,
                phase=3.1,
            ),
        ),
    )
    job = "report-29380000"
    pod(
        "shop",
        f"{job}-b8m2x",
        karp,
        "CronJob",
        "report",
        "Job",
        job,
        (_container("report", f"{shop}/report:0.9.0", 0.25, 256, 0.2, 150, phase=0.2),),
        start=start + timedelta(minutes=61),
        end=start + timedelta(minutes=96),
    )
    for node in nodes:
        pod(
            "kube-system",
            f"kube-proxy-{stable_hex(5, 'kp', node.name)}",
            node.name,
            "DaemonSet",
            "kube-proxy",
            "DaemonSet",
            "kube-proxy",
            (
                _container(
                    "kube-proxy",
                    "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/kube-proxy:v1.31.2-minimal-eksbuild.3",
                    0.1,
                    0,
                    0.004,
                    24,
                    phase=node.cpu_capacity_cores,
                ),
            ),
        )
    pod(
        "monitoring",
        KSM_POD,
        system,
        "Deployment",
        f"{RELEASE}-kube-state-metrics",
        "ReplicaSet",
        ksm_rs,
        (
            _container(
                "kube-state-metrics",
                "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0",
                0.0,
                0,
                0.01,
                48,
                phase=0.7,
            ),
        ),
    )
    # Requests of 0 are "not set" in kube-state-metrics (it exports only what the spec has).
    pods = [
        replace(
            p,
            containers=tuple(
                replace(
                    c,
                    cpu_request_cores=c.cpu_request_cores or math.nan,
                    memory_request_bytes=c.memory_request_bytes or math.nan,
                )
                for c in p.containers
            ),
        )
        for p in pods
    ]
    hpas = (
        # ContainerResource on the web container only: the envoy sidecar's request must not count.
        TruthHpa(
            "shop", "web", "Deployment", "web", 2, 10, 3, (("cpu", "utilization", "web", 60.0),)
        ),
        TruthHpa("shop", "api", "Deployment", "api", 2, 6, 2, (("cpu", "utilization", "", 70.0),)),
        # KEDA's ScaledObject HPA: an External metric, which no replay can model.
        TruthHpa(
            "shop",
            "keda-hpa-worker",
            "Deployment",
            "worker",
            1,
            8,
            2,
            (("s0-rabbitmq-orders", "average", "", 20.0),),
        ),
    )
    return Truth(
        start=start,
        end=end,
        nodes=nodes,
        pods=tuple(pods),
        hpas=hpas,
        pdbs=(("shop", "web", 2.0, 1.0),),
        replicasets=(
            ("shop", web_rs, "web"),
            ("shop", api_rs, "api"),
            ("shop", worker_rs, "worker"),
            ("monitoring", ksm_rs, f"{RELEASE}-kube-state-metrics"),
        ),
        jobs=(("shop", job, "report"),),
    )
