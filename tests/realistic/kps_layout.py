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
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from tests.realistic.kps_truth import (
    CFS_PERIODS_PER_SECOND,
    END,
    GIB,
    KSM_IP,
    KSM_POD,
    MIB,
    NODE_LABELS_ALLOWLIST,
    PAUSE_IMAGE,
    PROMETHEUS_EXTERNAL,
    RELEASE,
    VARIANTS,
    Layout,
    Truth,
    TruthContainer,
    TruthHpa,
    TruthNode,
    TruthPod,
    build_truth,
    stable_hex,
)

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


@dataclass
class _Writer:
    out: TextIO
    layout: Layout
    truth: Truth
    rng: np.random.Generator
    series: int = 0
    samples: int = 0
    families: set[str] = field(default_factory=set)
    _ksm_times: dict[int, np.ndarray] = field(default_factory=dict)

    def replicas(self) -> list[dict[str, str]]:
        """External labels per Prometheus replica (none for a single server's own TSDB)."""
        if self.layout.replicas == 1:
            return [{}]
        return [
            {
                "prometheus": PROMETHEUS_EXTERNAL,
                "prometheus_replica": f"prometheus-{RELEASE}-prometheus-{i}",
            }
            for i in range(self.layout.replicas)
        ]

    def scrape_times(self, target: str, replica: int) -> np.ndarray:
        """When one replica scraped one target: a fixed per-target offset, millisecond jitter."""
        interval = self.layout.scrape_interval_seconds
        offset = int(stable_hex(8, target, str(replica)), 16) % int(interval * 1000) / 1000
        first = self.truth.start.timestamp() - 2 * interval + offset
        n = int((self.truth.end.timestamp() - first) // interval) + 1
        jitter = self.rng.normal(0, 0.004, n).clip(-0.02, 0.02)
        return np.round(first + interval * np.arange(n) + jitter, 3)

    def family(self, name: str, kind: str, help_text: str) -> None:
        family = name[: -len("_total")] if kind == "counter" else name
        assert family not in self.families, family  # OpenMetrics: one block per family
        self.families.add(family)
        self.out.write(f"# HELP {family} {help_text}\n# TYPE {family} {kind}\n")

    def ksm_times(self) -> dict[int, np.ndarray]:
        """kube-state-metrics' scrape times per replica (one target: every family shares them)."""
        if not self._ksm_times:
            self._ksm_times = {r: self.scrape_times("ksm", r) for r in range(len(self.replicas()))}
        return self._ksm_times

    def ksm(
        self,
        name: str,
        kind: str,
        help_text: str,
        rows: list[tuple[dict[str, str], float, TruthPod | None]],
    ) -> None:
        """One kube-state-metrics family: constant rows, a pod's rows only while it lives."""
        self.family(name, kind, help_text)
        target = _ksm_target()
        for r, external in enumerate(self.replicas()):
            t = self.ksm_times()[r]
            for exposed, value, pod in rows:
                keep = pod.alive(t) if pod is not None else np.ones(len(t), bool)
                labels = {**_with_target(exposed, target), **external}
                self.write(name, labels, t[keep], np.full(int(keep.sum()), value))

    def write(
        self, name: str, labels: dict[str, str], times: np.ndarray, values: np.ndarray
    ) -> None:
        if len(times) == 0:
            return
        clean = {k: v for k, v in sorted(labels.items()) if v != ""}  # Prometheus drops empties
        text = ",".join(f'{k}="{_escape(v)}"' for k, v in clean.items())
        prefix = f"{name}{{{text}}} "
        self.out.write(
            "".join(
                f"{prefix}{v:.12g} {t:.3f}\n"
                for v, t in zip(values.tolist(), times.tolist(), strict=True)
            )
        )
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


def _ksm_nodes(w: _Writer) -> None:
    truth, each = w.truth, w.ksm
    # Nodes (internal/store/node.go): kube_node_info always; kube_node_labels only with an allowlist.
    each(
        "kube_node_info",
        "gauge",
        "Information about a cluster node.",
        [
            (
                {
                    "node": n.name,
                    "container_runtime_version": "containerd://1.7.27",
                    "kernel_version": "6.1.134-152.225.amzn2023.x86_64",
                    "kubelet_version": "v1.31.7-eks-473151a",
                    "kubeproxy_version": "deprecated",
                    "os_image": "Amazon Linux 2023.7.20250527",
                    "pod_cidr": "",
                    "provider_id": n.provider_id,
                    "internal_ip": n.internal_ip,
                    "system_uuid": "ec2" + stable_hex(5, n.name) + "-0000-0000-0000-000000000000",
                },
                1.0,
                None,
            )
            for n in truth.nodes
        ],
    )
    if w.layout.node_labels_allowlist:
        rows = []
        for n in truth.nodes:
            labels = {
                "node": n.name,
                "label_node_kubernetes_io_instance_type": n.instance_type,
                "label_topology_kubernetes_io_zone": n.zone,
                "label_kubernetes_io_arch": n.arch,
            }
            if n.provisioner == "managed":
                labels |= {
                    "label_eks_amazonaws_com_nodegroup": n.node_group,
                    "label_eks_amazonaws_com_capacity_type": n.capacity_type,
                }
            else:
                labels |= {
                    "label_karpenter_sh_nodepool": n.nodepool,
                    "label_karpenter_sh_capacity_type": n.capacity_type.lower().replace("_", "-"),
                }
            rows.append((labels, 1.0, None))
        each("kube_node_labels", "gauge", "Kubernetes labels converted to Prometheus labels.", rows)  # type: ignore[arg-type]
    for which, fields in (
        ("capacity", ("cpu_capacity_cores", "memory_capacity_bytes")),
        ("allocatable", ("cpu_allocatable_cores", "memory_allocatable_bytes")),
    ):
        rows = []
        for n in truth.nodes:
            cpu, memory = (getattr(n, f) for f in fields)
            rows += [
                ({"node": n.name, "resource": "cpu", "unit": "core"}, cpu, None),
                ({"node": n.name, "resource": "memory", "unit": "byte"}, memory, None),
                ({"node": n.name, "resource": "pods", "unit": "integer"}, n.pods_allocatable, None),
            ]
        each(f"kube_node_status_{which}", "gauge", f"The {which} of a node.", rows)  # type: ignore[arg-type]


def _ksm_pods(w: _Writer) -> None:
    """Pods (internal/store/pod.go)."""
    truth, each = w.truth, w.ksm
    each(
        "kube_pod_info",
        "gauge",
        "Information about pod.",
        [
            (
                {
                    "namespace": p.namespace,
                    "pod": p.name,
                    "uid": p.uid,
                    "host_ip": truth.node(p.node).internal_ip,
                    "pod_ip": "10.0.9." + str(i + 10),
                    "node": p.node,
                    "created_by_kind": p.owner_kind,
                    "created_by_name": p.owner_name,
                    "priority_class": "system-node-critical"
                    if p.namespace == "kube-system"
                    else "",
                    "host_network": str(p.namespace == "kube-system").lower(),
                },
                1.0,
                p,
            )
            for i, p in enumerate(truth.pods)
        ],
    )
    rows = []
    for p in truth.pods:
        for c in p.containers:
            image = c.image
            if c.name == "kube-state-metrics":
                image = f"{image.rsplit(':', 1)[0]}:{w.layout.ksm_version}"
            runtime_id = "containerd://" + stable_hex(64, "ctr", p.name, c.name)
            exposed = {"namespace": p.namespace, "pod": p.name, "uid": p.uid, "container": c.name,
                       "image_spec": image, "image": image, "image_id": f"{image.split(':')[0]}@sha256:{stable_hex(64, image)}",
                       "container_id": runtime_id}  # fmt: skip
            rows.append((exposed, 1.0, p))
    each("kube_pod_container_info", "gauge", "Information about a container in a pod.", rows)
    each(
        "kube_pod_owner",
        "gauge",
        "Information about the Pod's owner.",
        [
            (
                {
                    "namespace": p.namespace,
                    "pod": p.name,
                    "uid": p.uid,
                    "owner_kind": p.owner_kind,
                    "owner_name": p.owner_name,
                    "owner_is_controller": "true",
                },
                1.0,
                p,
            )
            for p in truth.pods
        ],
    )
    each(
        "kube_pod_created",
        "gauge",
        "Unix creation timestamp",
        [
            ({"namespace": p.namespace, "pod": p.name, "uid": p.uid}, p.start.timestamp() - 3, p)
            for p in truth.pods
        ],
    )
    each(
        "kube_pod_start_time",
        "gauge",
        "Start time in unix timestamp for a pod.",
        [
            ({"namespace": p.namespace, "pod": p.name, "uid": p.uid}, p.start.timestamp(), p)
            for p in truth.pods
        ],
    )
    each(
        "kube_pod_completion_time",
        "gauge",
        "Completion time in unix timestamp for a pod.",
        [
            ({"namespace": p.namespace, "pod": p.name, "uid": p.uid}, p.end.timestamp(), p)
            for p in truth.pods
            if p.end is not None
        ],
    )
    for kind, attr_cpu, attr_mem in (
        ("requests", "cpu_request_cores", "memory_request_bytes"),
        ("limits", "cpu_limit_cores", "memory_limit_bytes"),
    ):
        rows = []
        for p in truth.pods:
            for c in p.containers:
                base = {
                    "namespace": p.namespace,
                    "pod": p.name,
                    "uid": p.uid,
                    "container": c.name,
                    "node": p.node,
                }
                if not math.isnan(getattr(c, attr_cpu)):
                    rows.append(
                        ({**base, "resource": "cpu", "unit": "core"}, getattr(c, attr_cpu), p)
                    )
                if not math.isnan(getattr(c, attr_mem)):
                    rows.append(
                        ({**base, "resource": "memory", "unit": "byte"}, getattr(c, attr_mem), p)
                    )
        each(
            f"kube_pod_container_resource_{kind}", "gauge", f"The number of {kind} resource.", rows
        )  # type: ignore[arg-type]
    _restarts(w)


def _ksm_owners(w: _Writer) -> None:
    truth, each = w.truth, w.ksm
    each(
        "kube_replicaset_owner",
        "gauge",
        "Information about the ReplicaSet's owner.",
        [
            (
                {
                    "namespace": ns,
                    "replicaset": rs,
                    "owner_kind": "Deployment",
                    "owner_name": dep,
                    "owner_is_controller": "true",
                },
                1.0,
                None,
            )
            for ns, rs, dep in truth.replicasets
        ],
    )
    each(
        "kube_job_owner",
        "gauge",
        "Information about the Job's owner.",
        [
            (
                {
                    "namespace": ns,
                    "job_name": job,
                    "owner_kind": "CronJob",
                    "owner_name": cron,
                    "owner_is_controller": "true",
                },
                1.0,
                None,
            )
            for ns, job, cron in truth.jobs
        ],
    )
    _hpa_series(w)
    each(
        "kube_poddisruptionbudget_status_desired_healthy",
        "gauge",
        "Minimum desired number of healthy pods",
        [
            ({"namespace": ns, "poddisruptionbudget": name}, healthy, None)
            for ns, name, healthy, _ in truth.pdbs
        ],
    )
    each(
        "kube_poddisruptionbudget_status_pod_disruptions_allowed",
        "gauge",
        "Number of pod disruptions that are currently allowed",
        [
            ({"namespace": ns, "poddisruptionbudget": name}, allowed, None)
            for ns, name, _, allowed in truth.pdbs
        ],
    )


def _restarts(w: _Writer) -> None:
    times, target = w.ksm_times(), _ksm_target()
    w.family(
        "kube_pod_container_status_restarts_total",
        "counter",
        "The number of container restarts per container.",
    )
    rows = []
    for r, external in enumerate(w.replicas()):
        t = times[r]
        for p in w.truth.pods:
            keep = p.alive(t)
            for i, c in enumerate(p.containers):
                exposed = {
                    "namespace": p.namespace,
                    "pod": p.name,
                    "uid": p.uid,
                    "container": c.name,
                }
                value = np.zeros(len(t))
                if i == 0 and p.restart_at is not None:
                    value[t >= p.restart_at.timestamp() + 5] = 1.0
                w.write(
                    "kube_pod_container_status_restarts_total",
                    {**_with_target(exposed, target), **external},
                    t[keep],
                    value[keep],
                )
                if i == 0 and p.restart_at is not None:
                    rows.append((r, external, p, c, t, keep))
    w.family(
        "kube_pod_container_status_last_terminated_reason",
        "gauge",
        "Describes the last reason the container was in terminated state.",
    )
    for _r, external, p, c, t, keep in rows:
        after = keep & (t >= p.restart_at.timestamp() + 5)  # type: ignore[union-attr]
        exposed = {
            "namespace": p.namespace,
            "pod": p.name,
            "uid": p.uid,
            "container": c.name,
            "reason": "OOMKilled",
        }
        w.write(
            "kube_pod_container_status_last_terminated_reason",
            {**_with_target(exposed, target), **external},
            t[after],
            np.ones(int(after.sum())),
        )


def _hpa_series(w: _Writer) -> None:
    emit = w.ksm
    hpas = w.truth.hpas
    emit(
        "kube_horizontalpodautoscaler_info",
        "gauge",
        "Information about this autoscaler.",
        [
            (
                {
                    "namespace": h.namespace,
                    "horizontalpodautoscaler": h.name,
                    "scaletargetref_api_version": "apps/v1",
                    "scaletargetref_kind": h.target_kind,
                    "scaletargetref_name": h.target_name,
                },
                1.0,
                None,
            )
            for h in hpas
        ],
    )
    for field_name, attr in (
        ("spec_min_replicas", "min_replicas"),
        ("spec_max_replicas", "max_replicas"),
        ("status_current_replicas", "replicas"),
        ("status_desired_replicas", "replicas"),
    ):
        emit(
            f"kube_horizontalpodautoscaler_{field_name}",
            "gauge",
            f"HPA {field_name}.",
            [
                (
                    {"namespace": h.namespace, "horizontalpodautoscaler": h.name},
                    float(getattr(h, attr)),
                    None,
                )
                for h in hpas
            ],
        )
    rows = []
    for h in hpas:
        for metric, target_type, container, value in h.targets:
            exposed = {
                "namespace": h.namespace,
                "horizontalpodautoscaler": h.name,
                "metric_name": metric,
                "metric_target_type": target_type,
            }
            if w.layout.ksm_hpa_container_label:
                exposed["container"] = container  # >= 2.19 exposes it on every row, "" if none
            rows.append((exposed, value, None))
    emit(
        "kube_horizontalpodautoscaler_spec_target_metric",
        "gauge",
        "The metric specifications used by this autoscaler.",
        rows,
    )


def _cadvisor_and_resource(w: _Writer) -> None:
    truth = w.truth
    interval = w.layout.scrape_interval_seconds
    paths = ["/metrics/cadvisor"] + (["/metrics/resource"] if w.layout.kubelet_resource else [])
    # Per (path, replica, node): scrape times; samples carry the kubelet's own stats timestamps
    # (honorTimestamps: true), up to a housekeeping interval before the scrape.
    grid = {
        (path, r, n.name): w.scrape_times(f"{n.name}{path}", r)
        for path in paths
        for r in range(len(w.replicas()))
        for n in truth.nodes
    }

    def stamped(path: str, r: int, pod: TruthPod, key: str) -> np.ndarray:
        t = grid[(path, r, pod.node)]
        lag = np.random.default_rng(int(stable_hex(8, key, path, str(r)), 16)).uniform(
            0.3, 9.5, len(t)
        )
        return np.round(t - lag, 3)

    def series_of(pod: TruthPod, c: TruthContainer | None, path: str, r: int, key: str):
        """(times, container id) segments: a restart is a new container, so a new series."""
        t = stamped(path, r, pod, key)
        t = t[pod.alive(t)]
        if c is None or pod.restart_at is None or c is not pod.containers[0]:
            yield t, stable_hex(64, "ctr", pod.name, key), pod.start.timestamp()
            return
        cut = pod.restart_at.timestamp()
        yield t[t < cut], stable_hex(64, "ctr", pod.name, key), pod.start.timestamp()
        yield t[t >= cut + 4], stable_hex(64, "ctr2", pod.name, key), cut + 4

    def cpu_family(path: str) -> None:
        for r, external in enumerate(w.replicas()):
            for pod in truth.pods:
                node = truth.node(pod.node)
                target = _kubelet_target(node, path)
                for c in pod.containers:
                    for t, cid, born in series_of(pod, c, path, r, c.name):
                        value = c.cpu_integral(t) - c.cpu_integral(np.array([born]))[0]
                        labels = _container_labels(pod, c, cid, path)
                        if path == "/metrics/cadvisor":
                            labels["cpu"] = "total"  # per-CPU stats are off in the kubelet
                        w.write(
                            "container_cpu_usage_seconds_total",
                            {**target, **labels, **external},
                            t,
                            value,
                        )
                if path == "/metrics/cadvisor":
                    # The pod cgroup (container="", no image) and the containerd sandbox (pause).
                    t = stamped(path, r, pod, "pod")
                    t = t[pod.alive(t)]
                    total = sum(
                        (
                            c.cpu_integral(t) - c.cpu_integral(np.array([pod.start.timestamp()]))[0]
                            for c in pod.containers
                        ),
                        np.zeros(len(t)),
                    )
                    w.write(
                        "container_cpu_usage_seconds_total",
                        {**target, **_pod_cgroup_labels(pod), "cpu": "total", **external},
                        t,
                        total + 0.00002 * (t - pod.start.timestamp()),
                    )
                    t = stamped(path, r, pod, "pause")
                    t = t[pod.alive(t)]
                    w.write(
                        "container_cpu_usage_seconds_total",
                        {**target, **_sandbox_labels(pod), "cpu": "total", **external},
                        t,
                        0.00002 * (t - pod.start.timestamp()),
                    )

    def memory_family(path: str) -> None:
        for r, external in enumerate(w.replicas()):
            for pod in truth.pods:
                target = _kubelet_target(truth.node(pod.node), path)
                for c in pod.containers:
                    for t, cid, _ in series_of(pod, c, path, r, c.name):
                        w.write(
                            "container_memory_working_set_bytes",
                            {**target, **_container_labels(pod, c, cid, path), **external},
                            t,
                            c.working_set(t),
                        )
                if path == "/metrics/cadvisor":
                    t = stamped(path, r, pod, "pod")
                    t = t[pod.alive(t)]
                    total = (
                        sum((c.working_set(t) for c in pod.containers), np.zeros(len(t))) + 348160
                    )
                    w.write(
                        "container_memory_working_set_bytes",
                        {**target, **_pod_cgroup_labels(pod), **external},
                        t,
                        total,
                    )
                    t = stamped(path, r, pod, "pause")
                    t = t[pod.alive(t)]
                    w.write(
                        "container_memory_working_set_bytes",
                        {**target, **_sandbox_labels(pod), **external},
                        t,
                        np.full(len(t), 348160.0),
                    )

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
                        w.write(
                            name,
                            {**target, **_container_labels(pod, c, cid, path), **external},
                            t,
                            np.floor(value),
                        )

    w.family(
        "container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds."
    )
    for path in paths:
        cpu_family(path)
    w.family("container_memory_working_set_bytes", "gauge", "Current working set in bytes.")
    for path in paths:
        memory_family(path)
    w.family(
        "container_cpu_cfs_periods_total",
        "counter",
        "Number of elapsed enforcement period intervals.",
    )
    cfs_family("container_cpu_cfs_periods_total", throttled=False)
    w.family(
        "container_cpu_cfs_throttled_periods_total",
        "counter",
        "Number of throttled period intervals.",
    )
    cfs_family("container_cpu_cfs_throttled_periods_total", throttled=True)
    del interval


def _throttled_share(c: TruthContainer) -> float:
    """A fixed throttled share of periods: the truth the throttling ratio should come back as."""
    return round(min(0.5, c.cpu_mean_cores / c.cpu_limit_cores / 4), 4)


def _container_labels(
    pod: TruthPod, c: TruthContainer, container_id: str, path: str
) -> dict[str, str]:
    labels = {"namespace": pod.namespace, "pod": pod.name, "container": c.name}
    if path == "/metrics/cadvisor":  # /metrics/resource has only container, pod, namespace
        labels |= {
            "id": f"{_cgroup_pod(pod)}/cri-containerd-{container_id}.scope",
            "image": c.image,
            "name": container_id,
        }
    return labels


def _pod_cgroup_labels(pod: TruthPod) -> dict[str, str]:
    return {
        "namespace": pod.namespace,
        "pod": pod.name,
        "container": "",
        "id": _cgroup_pod(pod),
        "image": "",
        "name": "",
    }


def _sandbox_labels(pod: TruthPod) -> dict[str, str]:
    return {
        "namespace": pod.namespace,
        "pod": pod.name,
        "container": "",
        "image": PAUSE_IMAGE,
        "id": f"{_cgroup_pod(pod)}/cri-containerd-{pod.sandbox_id}.scope",
        "name": pod.sandbox_id,
    }


def _node_exporter(w: _Writer) -> None:
    w.family("node_dmi_info", "gauge", "A metric with a constant '1' value labeled by DMI fields.")
    for r, external in enumerate(w.replicas()):
        for n in w.truth.nodes:
            t = w.scrape_times(f"{n.name}:9100", r)
            target = {
                "job": "node-exporter",
                "instance": f"{n.internal_ip}:9100",
                "endpoint": "http-metrics",
                "namespace": "monitoring",
                "pod": f"{RELEASE}-prometheus-node-exporter-{stable_hex(5, 'ne', n.name)}",
                "container": "node-exporter",
                "service": f"{RELEASE}-prometheus-node-exporter",
            }
            # The serial and uuid files are root-only; node-exporter runs as nobody and omits them.
            dmi = {
                "bios_date": "10/16/2017",
                "bios_release": "1.0",
                "bios_vendor": "Amazon EC2",
                "bios_version": "1.0",
                "board_asset_tag": n.instance_id,
                "board_vendor": "Amazon EC2",
                "chassis_asset_tag": "Amazon EC2",
                "chassis_vendor": "Amazon EC2",
                "product_name": n.instance_type,
                "system_vendor": "Amazon EC2",
            }
            w.write("node_dmi_info", {**target, **dmi, **external}, t, np.ones(len(t)))


def write_layout(layout: Layout, truth: Truth, out: TextIO) -> tuple[int, int]:
    """Write every series of ``truth`` as ``layout`` stores it; returns (series, samples)."""
    w = _Writer(out=out, layout=layout, truth=truth, rng=np.random.default_rng(layout.seed))
    _ksm_nodes(w)
    _ksm_pods(w)
    _ksm_owners(w)
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
