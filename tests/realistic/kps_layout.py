"""A small EKS cluster as a default kube-prometheus-stack install stores it in Prometheus.

The generator knows its truth (:class:`Truth`: nodes with instance types, zones, groups and
capacity types, pods and owners, per-container requests and usage, HPAs, a PDB) and writes the
series that kube-state-metrics, the kubelet's cAdvisor, the kubelet's ``/metrics/resource`` and
node-exporter would have exposed, with the labels the chart's ServiceMonitors and the
Prometheus Operator add, as OpenMetrics for ``promtool tsdb create-blocks-from openmetrics``.
Every label set is copied from the real source; README.md beside this file names the
repository, path and commit of each fact.

Variants (:class:`Layout`): the chart defaults (``metricLabelsAllowlist: []``, so no
``kube_node_labels``), the node-label allowlist set, ``kubelet.serviceMonitor.resource: true``
(the same containers' CPU and memory a second time, under the same ``job``/``instance``),
node-exporter absent, and an HA pair of Prometheus replicas read through one store (every series
twice, told apart only by the ``prometheus_replica`` external label).

Usage is analytic so the truth is exact: container CPU is ``mean * (1 + a sin(...))`` cores and
its cAdvisor counter the integral of that, so the true average over any interval is known.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

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
    "write_layout",
    "write_layout_file",
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
    ksm_hpa_container_label: bool = True  # kube-state-metrics >= 2.19
    scrape_interval_seconds: float = 30.0
    seed: int = 16


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


def _hex(n: int, *parts: str) -> str:
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
        instance_id="i-0" + _hex(16, ip),
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
        _node("10.0.1.17", "m6i.xlarge", "us-east-1a", group="general", cpu=4, memory_gib=16, pods=58),
        _node("10.0.2.41", "m6i.xlarge", "us-east-1b", group="general", cpu=4, memory_gib=16, pods=58),
        _node("10.0.3.88", "m5.large", "us-east-1c", group="general-spot", spot=True, cpu=2, memory_gib=8, pods=29),
        _node("10.0.1.203", "c6i.xlarge", "us-east-1a", nodepool="default", spot=True, cpu=4, memory_gib=8, pods=58),
        _node("10.0.2.150", "t3.large", "us-east-1b", group="system", cpu=2, memory_gib=8, pods=35),
    )  # fmt: skip
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
                sandbox_id=_hex(64, "sandbox", namespace, name),
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
        pod("shop", f"{web_rs}-{suffix}", node, "Deployment", "web", "ReplicaSet", web_rs, (
            _container("web", f"{shop}/web:1.42.0", 0.5, 512, 0.24 + 0.02 * i, 300,
                       cpu_limit=1.0, mem_limit_mib=768, phase=0.4 * i),
            _container("envoy", "public.ecr.aws/envoyproxy/envoy:v1.31.2", 0.25, 128, 0.04, 70,
                       phase=0.9 + 0.4 * i),
        ))  # fmt: skip
    for i, (suffix, node) in enumerate((("h2j6w", n1), ("r8d3z", n2))):
        pod("shop", f"{api_rs}-{suffix}", node, "Deployment", "api", "ReplicaSet", api_rs, (
            _container("api", f"{shop}/api:3.8.1", 1.0, 1024, 0.35, 610,
                       mem_limit_mib=1024, phase=1.7 + 0.3 * i),
        ), restart_at=(start + timedelta(hours=hours / 2)) if i == 0 else None)  # fmt: skip
    for i, (suffix, node) in enumerate((("p5q9s", spot), ("t1w4e", n2))):
        pod("shop", f"{worker_rs}-{suffix}", node, "Deployment", "worker", "ReplicaSet", worker_rs, (
            _container("worker", f"{shop}/worker:2.0.3", 0.5, 256, 0.12, 180, phase=2.3 + i),
        ))  # fmt: skip
    pod("shop", "postgres-0", n1, "StatefulSet", "postgres", "StatefulSet", "postgres", (
        _container("postgres", "public.ecr.aws/docker/library/postgres:16.4", 0.5, 1024, 0.08, 420,
                   phase=3.1),
    ))  # fmt: skip
    job = "report-29380000"
    pod("shop", f"{job}-b8m2x", karp, "CronJob", "report", "Job", job, (
        _container("report", f"{shop}/report:0.9.0", 0.25, 256, 0.2, 150, phase=0.2),
    ), start=start + timedelta(minutes=61), end=start + timedelta(minutes=96))  # fmt: skip
    for node in nodes:
        pod("kube-system", f"kube-proxy-{_hex(5, 'kp', node.name)}", node.name, "DaemonSet",
            "kube-proxy", "DaemonSet", "kube-proxy", (
                _container("kube-proxy",
                           "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/kube-proxy:v1.31.2-minimal-eksbuild.3",
                           0.1, 0, 0.004, 24, phase=node.cpu_capacity_cores),
            ))  # fmt: skip
    pod("monitoring", KSM_POD, system, "Deployment", f"{RELEASE}-kube-state-metrics", "ReplicaSet",
        ksm_rs, (
            _container("kube-state-metrics",
                       "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0",
                       0.0, 0, 0.01, 48, phase=0.7),
        ))  # fmt: skip
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
        TruthHpa("shop", "web", "Deployment", "web", 2, 10, 3, (("cpu", "utilization", "web", 60.0),)),
        TruthHpa("shop", "api", "Deployment", "api", 2, 6, 2, (("cpu", "utilization", "", 70.0),)),
        # KEDA's ScaledObject HPA: an External metric, which no replay can model.
        TruthHpa("shop", "keda-hpa-worker", "Deployment", "worker", 1, 8, 2,
                 (("s0-rabbitmq-orders", "average", "", 20.0),)),
    )  # fmt: skip
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


# ---------------------------------------------------------------------------------------------
# Writing


@dataclass
class _Writer:
    out: TextIO
    layout: Layout
    truth: Truth
    rng: np.random.Generator
    series: int = 0
    samples: int = 0
    families: set[str] = field(default_factory=set)

    def replicas(self) -> list[dict[str, str]]:
        """External labels per Prometheus replica (none for a single server's own TSDB)."""
        if self.layout.replicas == 1:
            return [{}]
        return [
            {"prometheus": PROMETHEUS_EXTERNAL, "prometheus_replica": f"prometheus-{RELEASE}-prometheus-{i}"}
            for i in range(self.layout.replicas)
        ]  # fmt: skip

    def scrape_times(self, target: str, replica: int) -> np.ndarray:
        """When one replica scraped one target: a fixed per-target offset, millisecond jitter."""
        interval = self.layout.scrape_interval_seconds
        offset = int(_hex(8, target, str(replica)), 16) % int(interval * 1000) / 1000
        first = self.truth.start.timestamp() - 2 * interval + offset
        n = int((self.truth.end.timestamp() - first) // interval) + 1
        jitter = self.rng.normal(0, 0.004, n).clip(-0.02, 0.02)
        return np.round(first + interval * np.arange(n) + jitter, 3)

    def family(self, name: str, kind: str, help_text: str) -> None:
        family = name[: -len("_total")] if kind == "counter" else name
        assert family not in self.families, family  # OpenMetrics: one block per family
        self.families.add(family)
        self.out.write(f"# HELP {family} {help_text}\n# TYPE {family} {kind}\n")

    def write(self, name: str, labels: dict[str, str], times: np.ndarray, values: np.ndarray) -> None:
        if len(times) == 0:
            return
        clean = {k: v for k, v in sorted(labels.items()) if v != ""}  # Prometheus drops empties
        text = ",".join(f'{k}="{_escape(v)}"' for k, v in clean.items())
        prefix = f"{name}{{{text}}} "
        self.out.write(
            "".join(
                f"{prefix}{v:.12g} {t:.3f}\n" for v, t in zip(values.tolist(), times.tolist(), strict=True)
            )
        )  # fmt: skip
        self.series += 1
        self.samples += len(times)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _ksm_target() -> dict[str, str]:
    # honorLabels: true on the kube-state-metrics endpoint: these are added only where the
    # exposed series lacks the name (so node and HPA series gain namespace/pod/container).
    return {
        "job": "kube-state-metrics",
        "instance": f"{KSM_IP}:8080",
        "endpoint": "http",
        "namespace": "monitoring",
        "pod": KSM_POD,
        "container": "kube-state-metrics",
        "service": f"{RELEASE}-kube-state-metrics",
    }


def _with_target(exposed: dict[str, str], target: dict[str, str]) -> dict[str, str]:
    merged = dict(exposed)
    for name, value in target.items():
        merged.setdefault(name, value)  # present-but-empty stays empty (then dropped)
    return merged


def _kubelet_target(node: TruthNode, path: str) -> dict[str, str]:
    return {
        "job": "kubelet",
        "instance": f"{node.internal_ip}:10250",
        "endpoint": "https-metrics",
        "metrics_path": path,  # cAdvisorRelabelings / resourceRelabelings copy __metrics_path__
        "namespace": "kube-system",
        "node": node.name,
        "service": f"{RELEASE}-kubelet",
    }


def _cgroup_pod(pod: TruthPod) -> str:
    qos = "burstable"
    return (
        f"/kubepods.slice/kubepods-{qos}.slice/kubepods-{qos}-pod{pod.uid.replace('-', '_')}.slice"
    )


def _ksm_series(w: _Writer) -> None:
    truth, target = w.truth, _ksm_target()
    times = {r: w.scrape_times("ksm", r) for r in range(len(w.replicas()))}

    def each(name: str, kind: str, help_text: str, rows: list[tuple[dict[str, str], float, TruthPod | None]]) -> None:
        w.family(name, kind, help_text)
        for r, external in enumerate(w.replicas()):
            t = times[r]
            for exposed, value, pod in rows:
                keep = pod.alive(t) if pod is not None else np.ones(len(t), bool)
                labels = {**_with_target(exposed, target), **external}
                w.write(name, labels, t[keep], np.full(int(keep.sum()), value))

    # Nodes (internal/store/node.go): kube_node_info always; kube_node_labels only with an allowlist.
    each("kube_node_info", "gauge", "Information about a cluster node.", [
        ({"node": n.name, "container_runtime_version": "containerd://1.7.27", "kernel_version": "6.1.134-152.225.amzn2023.x86_64",
          "kubelet_version": "v1.31.7-eks-473151a", "kubeproxy_version": "deprecated", "os_image": "Amazon Linux 2023.7.20250527",
          "pod_cidr": "", "provider_id": n.provider_id, "internal_ip": n.internal_ip, "system_uuid": "ec2" + _hex(5, n.name) + "-0000-0000-0000-000000000000"}, 1.0, None)
        for n in truth.nodes
    ])  # fmt: skip
    if w.layout.node_labels_allowlist:
        rows = []
        for n in truth.nodes:
            labels = {"node": n.name, "label_node_kubernetes_io_instance_type": n.instance_type,
                      "label_topology_kubernetes_io_zone": n.zone, "label_kubernetes_io_arch": n.arch}
            if n.provisioner == "managed":
                labels |= {"label_eks_amazonaws_com_nodegroup": n.node_group,
                           "label_eks_amazonaws_com_capacity_type": n.capacity_type}
            else:
                labels |= {"label_karpenter_sh_nodepool": n.nodepool,
                           "label_karpenter_sh_capacity_type": n.capacity_type.lower().replace("_", "-")}
            rows.append((labels, 1.0, None))
        each("kube_node_labels", "gauge", "Kubernetes labels converted to Prometheus labels.", rows)  # type: ignore[arg-type]
    for which, fields in (("capacity", ("cpu_capacity_cores", "memory_capacity_bytes")),
                          ("allocatable", ("cpu_allocatable_cores", "memory_allocatable_bytes"))):
        rows = []
        for n in truth.nodes:
            cpu, memory = (getattr(n, f) for f in fields)
            rows += [({"node": n.name, "resource": "cpu", "unit": "core"}, cpu, None),
                     ({"node": n.name, "resource": "memory", "unit": "byte"}, memory, None),
                     ({"node": n.name, "resource": "pods", "unit": "integer"}, n.pods_allocatable, None)]
        each(f"kube_node_status_{which}", "gauge", f"The {which} of a node.", rows)  # type: ignore[arg-type]

    # Pods (internal/store/pod.go).
    each("kube_pod_info", "gauge", "Information about pod.", [
        ({"namespace": p.namespace, "pod": p.name, "uid": p.uid, "host_ip": truth.node(p.node).internal_ip,
          "pod_ip": "10.0.9." + str(i + 10), "node": p.node, "created_by_kind": p.owner_kind, "created_by_name": p.owner_name,
          "priority_class": "system-node-critical" if p.namespace == "kube-system" else "", "host_network": str(p.namespace == "kube-system").lower()}, 1.0, p)
        for i, p in enumerate(truth.pods)
    ])  # fmt: skip
    each("kube_pod_owner", "gauge", "Information about the Pod's owner.", [
        ({"namespace": p.namespace, "pod": p.name, "uid": p.uid, "owner_kind": p.owner_kind, "owner_name": p.owner_name,
          "owner_is_controller": "true"}, 1.0, p) for p in truth.pods
    ])  # fmt: skip
    each("kube_pod_created", "gauge", "Unix creation timestamp", [
        ({"namespace": p.namespace, "pod": p.name, "uid": p.uid}, p.start.timestamp() - 3, p) for p in truth.pods
    ])  # fmt: skip
    each("kube_pod_start_time", "gauge", "Start time in unix timestamp for a pod.", [
        ({"namespace": p.namespace, "pod": p.name, "uid": p.uid}, p.start.timestamp(), p) for p in truth.pods
    ])  # fmt: skip
    each("kube_pod_completion_time", "gauge", "Completion time in unix timestamp for a pod.", [
        ({"namespace": p.namespace, "pod": p.name, "uid": p.uid}, p.end.timestamp(), p)
        for p in truth.pods if p.end is not None
    ])  # fmt: skip
    for kind, attr_cpu, attr_mem in (("requests", "cpu_request_cores", "memory_request_bytes"),
                                     ("limits", "cpu_limit_cores", "memory_limit_bytes")):
        rows = []
        for p in truth.pods:
            for c in p.containers:
                base = {"namespace": p.namespace, "pod": p.name, "uid": p.uid, "container": c.name, "node": p.node}
                if not math.isnan(getattr(c, attr_cpu)):
                    rows.append(({**base, "resource": "cpu", "unit": "core"}, getattr(c, attr_cpu), p))
                if not math.isnan(getattr(c, attr_mem)):
                    rows.append(({**base, "resource": "memory", "unit": "byte"}, getattr(c, attr_mem), p))
        each(f"kube_pod_container_resource_{kind}", "gauge", f"The number of {kind} resource.", rows)  # type: ignore[arg-type]
    _restarts(w, times, target)
    each("kube_replicaset_owner", "gauge", "Information about the ReplicaSet's owner.", [
        ({"namespace": ns, "replicaset": rs, "owner_kind": "Deployment", "owner_name": dep, "owner_is_controller": "true"}, 1.0, None)
        for ns, rs, dep in truth.replicasets
    ])  # fmt: skip
    each("kube_job_owner", "gauge", "Information about the Job's owner.", [
        ({"namespace": ns, "job_name": job, "owner_kind": "CronJob", "owner_name": cron, "owner_is_controller": "true"}, 1.0, None)
        for ns, job, cron in truth.jobs
    ])  # fmt: skip
    _hpa_series(w, each)
    each("kube_poddisruptionbudget_status_desired_healthy", "gauge", "Minimum desired number of healthy pods", [
        ({"namespace": ns, "poddisruptionbudget": name}, healthy, None) for ns, name, healthy, _ in truth.pdbs
    ])  # fmt: skip
    each("kube_poddisruptionbudget_status_pod_disruptions_allowed", "gauge", "Number of pod disruptions that are currently allowed", [
        ({"namespace": ns, "poddisruptionbudget": name}, allowed, None) for ns, name, _, allowed in truth.pdbs
    ])  # fmt: skip


def _restarts(w: _Writer, times: dict[int, np.ndarray], target: dict[str, str]) -> None:
    w.family("kube_pod_container_status_restarts_total", "counter", "The number of container restarts per container.")
    rows = []
    for r, external in enumerate(w.replicas()):
        t = times[r]
        for p in w.truth.pods:
            keep = p.alive(t)
            for i, c in enumerate(p.containers):
                exposed = {"namespace": p.namespace, "pod": p.name, "uid": p.uid, "container": c.name}
                value = np.zeros(len(t))
                if i == 0 and p.restart_at is not None:
                    value[t >= p.restart_at.timestamp() + 5] = 1.0
                w.write("kube_pod_container_status_restarts_total", {**_with_target(exposed, target), **external}, t[keep], value[keep])
                if i == 0 and p.restart_at is not None:
                    rows.append((r, external, p, c, t, keep))
    w.family("kube_pod_container_status_last_terminated_reason", "gauge", "Describes the last reason the container was in terminated state.")
    for r, external, p, c, t, keep in rows:
        after = keep & (t >= p.restart_at.timestamp() + 5)  # type: ignore[union-attr]
        exposed = {"namespace": p.namespace, "pod": p.name, "uid": p.uid, "container": c.name, "reason": "OOMKilled"}
        w.write("kube_pod_container_status_last_terminated_reason", {**_with_target(exposed, target), **external}, t[after], np.ones(int(after.sum())))
    # fmt: skip


def _hpa_series(w: _Writer, each: object) -> None:
    emit = each  # the closure in _ksm_series
    hpas = w.truth.hpas
    emit("kube_horizontalpodautoscaler_info", "gauge", "Information about this autoscaler.", [  # type: ignore[operator]
        ({"namespace": h.namespace, "horizontalpodautoscaler": h.name, "scaletargetref_api_version": "apps/v1",
          "scaletargetref_kind": h.target_kind, "scaletargetref_name": h.target_name}, 1.0, None) for h in hpas
    ])  # fmt: skip
    for field_name, attr in (("spec_min_replicas", "min_replicas"), ("spec_max_replicas", "max_replicas"),
                             ("status_current_replicas", "replicas"), ("status_desired_replicas", "replicas")):
        emit(f"kube_horizontalpodautoscaler_{field_name}", "gauge", f"HPA {field_name}.", [  # type: ignore[operator]
            ({"namespace": h.namespace, "horizontalpodautoscaler": h.name}, float(getattr(h, attr)), None) for h in hpas
        ])  # fmt: skip
    rows = []
    for h in hpas:
        for metric, target_type, container, value in h.targets:
            exposed = {"namespace": h.namespace, "horizontalpodautoscaler": h.name, "metric_name": metric,
                       "metric_target_type": target_type}
            if w.layout.ksm_hpa_container_label:
                exposed["container"] = container  # >= 2.19 exposes it on every row, "" if none
            rows.append((exposed, value, None))
    emit("kube_horizontalpodautoscaler_spec_target_metric", "gauge", "The metric specifications used by this autoscaler.", rows)  # type: ignore[operator]
    # fmt: skip


def _cadvisor_and_resource(w: _Writer) -> None:
    truth = w.truth
    interval = w.layout.scrape_interval_seconds
    paths = ["/metrics/cadvisor"] + (["/metrics/resource"] if w.layout.kubelet_resource else [])
    # Per (path, replica, node): scrape times; samples carry the kubelet's own stats timestamps
    # (honorTimestamps: true), up to a housekeeping interval before the scrape.
    grid = {(path, r, n.name): w.scrape_times(f"{n.name}{path}", r)
            for path in paths for r in range(len(w.replicas())) for n in truth.nodes}  # fmt: skip

    def stamped(path: str, r: int, pod: TruthPod, key: str) -> np.ndarray:
        t = grid[(path, r, pod.node)]
        lag = np.random.default_rng(int(_hex(8, key, path, str(r)), 16)).uniform(0.3, 9.5, len(t))
        return np.round(t - lag, 3)

    def series_of(pod: TruthPod, c: TruthContainer | None, path: str, r: int, key: str):
        """(times, container id) segments: a restart is a new container, so a new series."""
        t = stamped(path, r, pod, key)
        t = t[pod.alive(t)]
        if c is None or pod.restart_at is None or c is not pod.containers[0]:
            yield t, _hex(64, "ctr", pod.name, key), pod.start.timestamp()
            return
        cut = pod.restart_at.timestamp()
        yield t[t < cut], _hex(64, "ctr", pod.name, key), pod.start.timestamp()
        yield t[t >= cut + 4], _hex(64, "ctr2", pod.name, key), cut + 4

    def cpu_family(path: str) -> None:
        for r, external in enumerate(w.replicas()):
            for pod in truth.pods:
                node = truth.node(pod.node)
                target = _kubelet_target(node, path)
                for c in pod.containers:
                    for t, cid, born in series_of(pod, c, path, r, c.name):
                        value = c.cpu_integral(t) - c.cpu_integral(np.array([born]))[0]
                        w.write("container_cpu_usage_seconds_total", {**target, **_container_labels(pod, c, cid, path), **external}, t, value)
                if path == "/metrics/cadvisor":
                    # The pod cgroup (container="", no image) and the containerd sandbox (pause).
                    t = stamped(path, r, pod, "pod")
                    t = t[pod.alive(t)]
                    total = sum((c.cpu_integral(t) - c.cpu_integral(np.array([pod.start.timestamp()]))[0] for c in pod.containers), np.zeros(len(t)))
                    w.write("container_cpu_usage_seconds_total", {**target, **_pod_cgroup_labels(pod), **external}, t, total + 0.00002 * (t - pod.start.timestamp()))
                    t = stamped(path, r, pod, "pause")
                    t = t[pod.alive(t)]
                    w.write("container_cpu_usage_seconds_total", {**target, **_sandbox_labels(pod), **external}, t, 0.00002 * (t - pod.start.timestamp()))
        # fmt: skip

    def memory_family(path: str) -> None:
        for r, external in enumerate(w.replicas()):
            for pod in truth.pods:
                target = _kubelet_target(truth.node(pod.node), path)
                for c in pod.containers:
                    for t, cid, _ in series_of(pod, c, path, r, c.name):
                        w.write("container_memory_working_set_bytes", {**target, **_container_labels(pod, c, cid, path), **external}, t, c.working_set(t))
                if path == "/metrics/cadvisor":
                    t = stamped(path, r, pod, "pod")
                    t = t[pod.alive(t)]
                    total = sum((c.working_set(t) for c in pod.containers), np.zeros(len(t))) + 348160
                    w.write("container_memory_working_set_bytes", {**target, **_pod_cgroup_labels(pod), **external}, t, total)
                    t = stamped(path, r, pod, "pause")
                    t = t[pod.alive(t)]
                    w.write("container_memory_working_set_bytes", {**target, **_sandbox_labels(pod), **external}, t, np.full(len(t), 348160.0))
        # fmt: skip

    def cfs_family(name: str, throttled: bool) -> None:
        path = "/metrics/cadvisor"  # CFS counters come from cAdvisor only, for containers with a CPU quota
        for r, external in enumerate(w.replicas()):
            for pod in truth.pods:
                target = _kubelet_target(truth.node(pod.node), path)
                for c in pod.containers:
                    if math.isnan(c.cpu_limit_cores):
                        continue
                    for t, cid, born in series_of(pod, c, path, r, c.name):
                        periods = CFS_PERIODS_PER_SECOND * (t - born)
                        value = periods * _throttled_share(c) if throttled else periods
                        w.write(name, {**target, **_container_labels(pod, c, cid, path), **external}, t, np.floor(value))
        # fmt: skip

    w.family("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.")
    for path in paths:
        cpu_family(path)
    w.family("container_memory_working_set_bytes", "gauge", "Current working set in bytes.")
    for path in paths:
        memory_family(path)
    w.family("container_cpu_cfs_periods_total", "counter", "Number of elapsed enforcement period intervals.")
    cfs_family("container_cpu_cfs_periods_total", throttled=False)
    w.family("container_cpu_cfs_throttled_periods_total", "counter", "Number of throttled period intervals.")
    cfs_family("container_cpu_cfs_throttled_periods_total", throttled=True)
    del interval


def _throttled_share(c: TruthContainer) -> float:
    """A fixed throttled share of periods: the truth the throttling ratio should come back as."""
    return round(min(0.5, c.cpu_mean_cores / c.cpu_limit_cores / 4), 4)


def _container_labels(pod: TruthPod, c: TruthContainer, container_id: str, path: str) -> dict[str, str]:
    labels = {"namespace": pod.namespace, "pod": pod.name, "container": c.name}
    if path == "/metrics/cadvisor":  # /metrics/resource has only container, pod, namespace
        labels |= {"id": f"{_cgroup_pod(pod)}/cri-containerd-{container_id}.scope", "image": c.image, "name": container_id}
    return labels  # fmt: skip


def _pod_cgroup_labels(pod: TruthPod) -> dict[str, str]:
    return {"namespace": pod.namespace, "pod": pod.name, "container": "", "id": _cgroup_pod(pod), "image": "", "name": ""}


def _sandbox_labels(pod: TruthPod) -> dict[str, str]:
    return {"namespace": pod.namespace, "pod": pod.name, "container": "", "image": PAUSE_IMAGE,
            "id": f"{_cgroup_pod(pod)}/cri-containerd-{pod.sandbox_id}.scope", "name": pod.sandbox_id}  # fmt: skip


def _node_exporter(w: _Writer) -> None:
    w.family("node_dmi_info", "gauge", "A metric with a constant '1' value labeled by DMI fields.")
    for r, external in enumerate(w.replicas()):
        for n in w.truth.nodes:
            t = w.scrape_times(f"{n.name}:9100", r)
            target = {"job": "node-exporter", "instance": f"{n.internal_ip}:9100", "endpoint": "http-metrics",
                      "namespace": "monitoring", "pod": f"{RELEASE}-prometheus-node-exporter-{_hex(5, 'ne', n.name)}",
                      "container": "node-exporter", "service": f"{RELEASE}-prometheus-node-exporter"}
            # The serial and uuid files are root-only; node-exporter runs as nobody and omits them.
            dmi = {"bios_date": "10/16/2017", "bios_release": "1.0", "bios_vendor": "Amazon EC2", "bios_version": "1.0",
                   "board_asset_tag": n.instance_id, "board_vendor": "Amazon EC2", "chassis_asset_tag": "Amazon EC2",
                   "chassis_vendor": "Amazon EC2", "product_name": n.instance_type, "system_vendor": "Amazon EC2"}
            w.write("node_dmi_info", {**target, **dmi, **external}, t, np.ones(len(t)))
    # fmt: skip


def write_layout(layout: Layout, truth: Truth, out: TextIO) -> tuple[int, int]:
    """Write every series of ``truth`` as ``layout`` stores it; returns (series, samples)."""
    w = _Writer(out=out, layout=layout, truth=truth, rng=np.random.default_rng(layout.seed))
    _ksm_series(w)
    _cadvisor_and_resource(w)
    if layout.node_exporter:
        _node_exporter(w)
    out.write("# EOF\n")
    return w.series, w.samples


def write_layout_file(layout: Layout, truth: Truth, path: Path) -> tuple[int, int]:
    with path.open("w", buffering=1 << 20) as handle:
        return write_layout(layout, truth, handle)


def iter_variants() -> Iterator[Layout]:
    yield from VARIANTS.values()
