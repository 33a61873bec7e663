"""A tiny hand-built cluster whose metrics hold every data fault, as OpenMetrics.

Namespace ``faults``, one node, one pod per workload (Deployment -> ReplicaSet -> Pod, container
``app``), scraped every 60 s over 12 hours ending at :data:`END`. Each workload carries one
fault and a known true value, so a test can check the statistics, not just the absence of a
crash:

=============  ==================================================================  ============
workload       fault                                                               truth
=============  ==================================================================  ============
steady         the CPU counter resets to 0 at hour 6 (container restart)           0.20 cores
gappy          no samples at all between hours 4 and 7 (scrape outage)             0.10 cores
dup            every cAdvisor series scraped twice (job kubelet and job cadvisor)  0.30 cores
nan            NaN CPU counter samples, NaN and +Inf working-set samples           0.15 cores
norequests     no kube_pod_container_resource_requests/limits series               0.05 cores
withpause      extra ``container="POD"`` and ``container=""`` (pod cgroup) series  0.25 cores
newcomer       appears only in the last hour                                       0.40 cores
skewed         its kubelet's clock is 17 s ahead, kube-state-metrics 23 s behind   0.35 cores
=============  ==================================================================  ============

Memory working sets are constant per workload (:data:`MEMORY`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

NAMESPACE = "faults"
NODE = "ip-10-0-1-10.ec2.internal"
END = datetime(2026, 11, 10, tzinfo=UTC)
HOURS = 12
SCRAPE = 60
START_TS = int(END.timestamp()) - HOURS * 3600
MIB = 1 << 20

CPU: dict[str, float] = {
    "steady": 0.20,
    "gappy": 0.10,
    "dup": 0.30,
    "nan": 0.15,
    "norequests": 0.05,
    "withpause": 0.25,
    "newcomer": 0.40,
    "skewed": 0.35,
}
MEMORY: dict[str, int] = {
    "steady": 100 * MIB,
    "gappy": 200 * MIB,
    "dup": 150 * MIB,
    "nan": 120 * MIB,
    "norequests": 50 * MIB,
    "withpause": 180 * MIB,
    "newcomer": 90 * MIB,
    "skewed": 110 * MIB,
}
CPU_REQUEST = 0.5
MEMORY_REQUEST = 256 * MIB
GAP_HOURS = (4, 7)
NAN_MINUTES = frozenset({100, 101, 300, 500})  # sample indexes holding NaN
INF_MINUTES = frozenset({200, 400})
KUBELET_SKEW = 17
KSM_SKEW = -23


@dataclass(frozen=True)
class Pod:
    workload: str

    @property
    def replicaset(self) -> str:
        return f"{self.workload}-5d8f7c9b4"

    @property
    def pod(self) -> str:
        return f"{self.replicaset}-x2x4q"


PODS = tuple(Pod(w) for w in CPU)


def _times(pod: Pod) -> list[int]:
    """Sample indexes (minutes from START) where the pod's kubelet is scraped."""
    steps = range(HOURS * 3600 // SCRAPE + 1)
    if pod.workload == "newcomer":
        return [i for i in steps if i * SCRAPE >= (HOURS - 1) * 3600]
    if pod.workload == "gappy":
        low, high = (h * 3600 // SCRAPE for h in GAP_HOURS)
        return [i for i in steps if not low <= i < high]
    return list(steps)


def _stamp(pod: Pod, index: int, skew: int) -> int:
    return START_TS + index * SCRAPE + (skew if pod.workload == "skewed" else 0)


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _scrapes(pod: Pod) -> list[dict[str, str]]:
    jobs = [{"job": "kubelet", "instance": "10.0.1.10:10250"}]
    if pod.workload == "dup":
        jobs.append({"job": "cadvisor", "instance": "10.0.1.10:4194"})
    return jobs


def _cadvisor(pod: Pod, container: str, scrape: dict[str, str]) -> str:
    return _labels(
        **scrape,
        namespace=NAMESPACE,
        pod=pod.pod,
        container=container,
        node=NODE,
    )


def _cpu_lines(pod: Pod) -> Iterator[str]:
    containers = {"app": CPU[pod.workload]}
    if pod.workload == "withpause":
        containers["POD"] = 0.001
        containers[""] = CPU[pod.workload] + 0.001  # the pod cgroup: everything in the pod
    for scrape in _scrapes(pod):
        for container, rate in containers.items():
            labels = _cadvisor(pod, container, scrape)
            counter = 1000.0  # a container that has run before the window
            previous = None
            for i in _times(pod):
                if previous is not None:
                    counter += rate * (i - previous) * SCRAPE
                previous = i
                value = counter
                if pod.workload == "steady" and i == HOURS * 3600 // SCRAPE // 2:
                    counter = value = 0.0  # restart: the new container's counter starts at 0
                if pod.workload == "nan" and i in NAN_MINUTES:
                    value = math.nan
                yield f"container_cpu_usage_seconds_total{labels} {_fmt(value)} {_stamp(pod, i, KUBELET_SKEW)}"


def _memory_lines(pod: Pod) -> Iterator[str]:
    containers = {"app": float(MEMORY[pod.workload])}
    if pod.workload == "withpause":
        containers["POD"] = float(MIB)
        containers[""] = float(MEMORY[pod.workload] + MIB)
    for scrape in _scrapes(pod):
        for container, level in containers.items():
            labels = _cadvisor(pod, container, scrape)
            for i in _times(pod):
                value = level
                if pod.workload == "nan" and i in NAN_MINUTES:
                    value = math.nan
                if pod.workload == "nan" and i in INF_MINUTES:
                    value = math.inf
                yield f"container_memory_working_set_bytes{labels} {_fmt(value)} {_stamp(pod, i, KUBELET_SKEW)}"


KSM = {"job": "kube-state-metrics", "instance": "10.0.1.20:8080"}


def _ksm_series(pod: Pod, metric: str, labels: dict[str, str], value: float) -> Iterator[str]:
    text = _labels(**KSM, **labels)
    for i in _times(pod):
        yield f"{metric}{text} {_fmt(value)} {_stamp(pod, i, KSM_SKEW)}"


def _node_series(metric: str, labels: dict[str, str], value: float) -> Iterator[str]:
    text = _labels(**KSM, node=NODE, **labels)
    for i in range(HOURS * 3600 // SCRAPE + 1):
        yield f"{metric}{text} {_fmt(value)} {START_TS + i * SCRAPE}"


def lines() -> Iterator[str]:
    """The whole OpenMetrics text, line by line, ending with ``# EOF``."""
    yield "# TYPE container_cpu_usage_seconds counter"
    for pod in PODS:
        yield from _cpu_lines(pod)
    yield "# TYPE container_memory_working_set_bytes gauge"
    for pod in PODS:
        yield from _memory_lines(pod)
    ns = {"namespace": NAMESPACE}
    yield "# TYPE kube_pod_owner gauge"
    for pod in PODS:
        owner = {"pod": pod.pod, "owner_kind": "ReplicaSet", "owner_name": pod.replicaset}
        yield from _ksm_series(
            pod, "kube_pod_owner", {**ns, **owner, "owner_is_controller": "true"}, 1
        )
    yield "# TYPE kube_replicaset_owner gauge"
    for pod in PODS:
        owner = {
            "replicaset": pod.replicaset,
            "owner_kind": "Deployment",
            "owner_name": pod.workload,
        }
        yield from _ksm_series(
            pod, "kube_replicaset_owner", {**ns, **owner, "owner_is_controller": "true"}, 1
        )
    yield "# TYPE kube_pod_info gauge"
    for pod in PODS:
        yield from _ksm_series(pod, "kube_pod_info", {**ns, "pod": pod.pod, "node": NODE}, 1)
    for kind, cpu, memory in (
        ("requests", CPU_REQUEST, MEMORY_REQUEST),
        ("limits", 2 * CPU_REQUEST, 2 * MEMORY_REQUEST),
    ):
        metric = f"kube_pod_container_resource_{kind}"
        yield f"# TYPE {metric} gauge"
        for pod in PODS:
            if pod.workload == "norequests":
                continue
            base = {**ns, "pod": pod.pod, "container": "app", "node": NODE}
            yield from _ksm_series(pod, metric, {**base, "resource": "cpu", "unit": "core"}, cpu)
            yield from _ksm_series(
                pod, metric, {**base, "resource": "memory", "unit": "byte"}, memory
            )
    yield "# TYPE kube_node_labels gauge"
    yield from _node_series(
        "kube_node_labels",
        {
            "label_eks_amazonaws_com_nodegroup": "general-ng",
            "label_node_kubernetes_io_instance_type": "t3.xlarge",
            "label_topology_kubernetes_io_zone": "us-east-1a",
            "label_eks_amazonaws_com_capacity_type": "ON_DEMAND",
            "label_kubernetes_io_arch": "amd64",
        },
        1,
    )
    for metric, cpu, memory in (
        ("kube_node_status_capacity", 4.0, 16e9),
        ("kube_node_status_allocatable", 3.92, 15.5e9),
    ):
        yield f"# TYPE {metric} gauge"
        yield from _node_series(metric, {"resource": "cpu", "unit": "core"}, cpu)
        yield from _node_series(metric, {"resource": "memory", "unit": "byte"}, memory)
        yield from _node_series(metric, {"resource": "pods", "unit": "integer"}, 58)
    yield "# EOF"


def write(path: Path) -> Path:
    """Write the OpenMetrics file for ``promtool tsdb create-blocks-from openmetrics``."""
    with path.open("w") as handle:
        for line in lines():
            handle.write(line + "\n")
    return path
