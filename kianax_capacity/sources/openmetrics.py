"""OpenMetrics export of the demo cluster, with the standard cAdvisor and kube-state-metrics names.

The file backfills a real Prometheus (``promtool tsdb create-blocks-from openmetrics``) or loads
into VictoriaMetrics unchanged, so the Prometheus source, tests and benchmarks read the demo
cluster exactly as they would read a real one. Counters are real cumulative counters that reset
to zero when a container restarts. The exact series are listed in ``docs/demo-cluster.md``.

Families are written one after another (OpenMetrics wants each family's samples together), each
series' samples in time order, then ``# EOF``. The file is streamed: memory stays flat whatever
the window.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from kianax_capacity.sources.demo import (
    DEMO_CLUSTER,
    JVM_POOLS,
    NODE_SHAPES,
    DemoCluster,
    SimulatedPod,
    WorkloadSpec,
    simulate_demo_cluster,
)

__all__ = [
    "ExportStats",
    "escape_label_value",
    "write_demo_openmetrics",
    "write_openmetrics",
    "write_victoriametrics_jsonl",
]

CFS_PERIODS_PER_SECOND = 10  # the default 100 ms CFS period


@dataclass(frozen=True)
class ExportStats:
    """What an export wrote."""

    series: int
    samples: int
    bytes: int
    start: datetime
    end: datetime


def escape_label_value(value: str) -> str:
    """Escape a label value for the text formats: backslash, double quote and newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{escape_label_value(str(v))}"' for k, v in labels.items()) + "}"


# A series: (label string, first step, values over [first, first + len(values)))
Series = tuple[str, int, np.ndarray]


@dataclass(frozen=True)
class _Family:
    name: str  # sample name
    kind: str  # counter | gauge
    help: str
    series: Callable[[], Iterable[Series]]

    @property
    def family_name(self) -> str:
        return (
            self.name[: -len("_total")]
            if self.kind == "counter" and self.name.endswith("_total")
            else self.name
        )


def _counter_with_resets(increments: np.ndarray, reset_steps: np.ndarray) -> np.ndarray:
    """Cumulative sum that restarts from the increment at each reset step (relative indices)."""
    total = np.cumsum(increments)
    if len(reset_steps):
        base = np.zeros_like(total)
        for r in reset_steps:
            if 0 < r < len(total):
                base[r:] = total[r - 1]
        total = total - base
    return total


@dataclass(frozen=True)
class _Scrape:
    """What every family of one export shares: the cluster and the jobs' label sets."""

    demo: DemoCluster
    kubelet: dict[str, str]  # cAdvisor's series, scraped through the kubelet
    ksm: dict[str, str]  # kube-state-metrics

    @property
    def step(self) -> int:
        return self.demo.step_seconds

    @property
    def pods(self) -> list[SimulatedPod]:
        return self.demo.pods

    @property
    def full(self) -> int:
        """Steps in the whole window (the series that live as long as the cluster)."""
        return len(self.demo.timestamps)


def _pod_len(p: SimulatedPod) -> int:
    return p.stop - p.start


def _ones(p: SimulatedPod) -> np.ndarray:
    return np.ones(_pod_len(p))


def _families(demo: DemoCluster, cluster: str) -> list[_Family]:
    """Every family of the export, in the order they are written."""
    common = {"cluster": cluster}
    scrape = _Scrape(
        demo, kubelet={**common, "job": "kubelet"}, ksm={**common, "job": "kube-state-metrics"}
    )
    return [
        *_cadvisor_families(scrape),
        *_pod_families(scrape),
        *_container_state_families(scrape),
        *_hpa_families(scrape),
        *_pdb_families(scrape),
        *_node_families(scrape),
        *_jvm_families(scrape),
    ]


# ---------------------------------------------------------------------------------------------
# cAdvisor (through the kubelet): usage and CFS counters


def _cpu_counters(s: _Scrape) -> Iterator[Series]:
    for p in s.pods:
        total = np.zeros(_pod_len(p))
        for c in p.containers:
            inc = p.cpu[c.name] * s.step
            resets = p.oom_steps[c.name] - p.start
            counter = _counter_with_resets(inc, resets)
            total += np.cumsum(inc)
            yield (
                _labels(
                    **s.kubelet, namespace=p.namespace, pod=p.pod, container=c.name, node=p.node
                ),
                p.start,
                counter,
            )
        # Pod-level cgroup (container="") and the pause container (container="POD"): real
        # cAdvisor exports both; a reader must drop them or totals double.
        yield (
            _labels(**s.kubelet, namespace=p.namespace, pod=p.pod, container="", node=p.node),
            p.start,
            total,
        )
        yield (
            _labels(**s.kubelet, namespace=p.namespace, pod=p.pod, container="POD", node=p.node),
            p.start,
            np.cumsum(np.full(_pod_len(p), 0.0001 * s.step)),
        )


def _memory_series(s: _Scrape) -> Iterator[Series]:
    for p in s.pods:
        total = np.zeros(_pod_len(p))
        for c in p.containers:
            total += p.memory[c.name]
            yield (
                _labels(
                    **s.kubelet, namespace=p.namespace, pod=p.pod, container=c.name, node=p.node
                ),
                p.start,
                np.round(p.memory[c.name]),
            )
        yield (
            _labels(**s.kubelet, namespace=p.namespace, pod=p.pod, container="", node=p.node),
            p.start,
            np.round(total),
        )
        yield (
            _labels(**s.kubelet, namespace=p.namespace, pod=p.pod, container="POD", node=p.node),
            p.start,
            np.full(_pod_len(p), 450_000.0),
        )


def _cfs_series(s: _Scrape, *, throttled: bool) -> Iterator[Series]:
    for p in s.pods:
        for c in p.containers:
            if not math.isfinite(c.cpu_limit):
                continue
            periods = np.full(_pod_len(p), float(s.step * CFS_PERIODS_PER_SECOND))
            inc = np.round(periods * p.throttled[c.name]) if throttled else periods
            counter = _counter_with_resets(inc, p.oom_steps[c.name] - p.start)
            yield (
                _labels(
                    **s.kubelet, namespace=p.namespace, pod=p.pod, container=c.name, node=p.node
                ),
                p.start,
                counter,
            )


def _cadvisor_families(s: _Scrape) -> list[_Family]:
    return [
        _Family(
            "container_cpu_usage_seconds_total",
            "counter",
            "Cumulative cpu time consumed in seconds.",
            partial(_cpu_counters, s),
        ),
        _Family(
            "container_memory_working_set_bytes",
            "gauge",
            "Current working set in bytes.",
            partial(_memory_series, s),
        ),
        _Family(
            "container_cpu_cfs_periods_total",
            "counter",
            "Number of elapsed enforcement period intervals.",
            partial(_cfs_series, s, throttled=False),
        ),
        _Family(
            "container_cpu_cfs_throttled_periods_total",
            "counter",
            "Number of throttled period intervals.",
            partial(_cfs_series, s, throttled=True),
        ),
    ]


# ---------------------------------------------------------------------------------------------
# kube-state-metrics: pods and their owners


def _pod_owner(s: _Scrape) -> Iterator[Series]:
    for p in s.pods:
        yield (
            _labels(
                **s.ksm,
                namespace=p.namespace,
                pod=p.pod,
                owner_kind=p.owner_kind,
                owner_name=p.owner_name,
                owner_is_controller="true",
            ),
            p.start,
            _ones(p),
        )


def _owner_of_owner(
    s: _Scrape, owner_kind: str, name_label: str, top_kind: str
) -> Iterator[Series]:
    """kube_replicaset_owner / kube_job_owner: each intermediate owner, while its pods live."""
    spans: dict[tuple[str, str, str], list[int]] = {}
    for p in s.pods:
        if p.owner_kind == owner_kind:
            key = (p.namespace, p.owner_name, p.workload)
            span = spans.setdefault(key, [p.start, p.stop])
            span[0], span[1] = min(span[0], p.start), max(span[1], p.stop)
    for (ns, name, top), (start, stop) in spans.items():
        labels = {"namespace": ns, name_label: name, "owner_kind": top_kind}
        yield (
            _labels(**s.ksm, **labels, owner_name=top, owner_is_controller="true"),
            start,
            np.ones(stop - start),
        )


def _pod_info(s: _Scrape) -> Iterator[Series]:
    for p in s.pods:
        yield (
            _labels(
                **s.ksm,
                namespace=p.namespace,
                pod=p.pod,
                node=p.node,
                created_by_kind=p.owner_kind,
                created_by_name=p.owner_name,
            ),
            p.start,
            _ones(p),
        )


def _pod_families(s: _Scrape) -> list[_Family]:
    return [
        _Family(
            "kube_pod_owner", "gauge", "Information about the Pod's owner.", partial(_pod_owner, s)
        ),
        _Family(
            "kube_replicaset_owner",
            "gauge",
            "Information about the ReplicaSet's owner.",
            partial(_owner_of_owner, s, "ReplicaSet", "replicaset", "Deployment"),
        ),
        _Family(
            "kube_job_owner",
            "gauge",
            "Information about the Job's owner.",
            partial(_owner_of_owner, s, "Job", "job_name", "CronJob"),
        ),
        _Family("kube_pod_info", "gauge", "Information about pod.", partial(_pod_info, s)),
    ]


# ---------------------------------------------------------------------------------------------
# kube-state-metrics: containers' resources, restarts, terminations, volumes


def _resources(s: _Scrape, kind: str) -> Iterator[Series]:
    for p in s.pods:
        for c in p.containers:
            cpu = c.cpu_request if kind == "requests" else c.cpu_limit
            memory = c.memory_request if kind == "requests" else c.memory_limit
            for resource, unit, value in (("cpu", "core", cpu), ("memory", "byte", memory)):
                if math.isfinite(value):
                    labels = _labels(
                        **s.ksm, namespace=p.namespace, pod=p.pod, container=c.name,
                        node=p.node, resource=resource, unit=unit,
                    )  # fmt: skip
                    yield labels, p.start, np.full(_pod_len(p), float(value))


def _restarts(s: _Scrape) -> Iterator[Series]:
    for p in s.pods:
        for c in p.containers:
            inc = np.zeros(_pod_len(p))
            inc[p.oom_steps[c.name] - p.start] = 1
            yield (
                _labels(**s.ksm, namespace=p.namespace, pod=p.pod, container=c.name),
                p.start,
                np.cumsum(inc),
            )


def _last_terminated(s: _Scrape) -> Iterator[Series]:
    for p in s.pods:
        for c in p.containers:
            ooms = p.oom_steps[c.name]
            if len(ooms):
                first = int(ooms[0])
                yield (
                    _labels(
                        **s.ksm,
                        namespace=p.namespace,
                        pod=p.pod,
                        container=c.name,
                        reason="OOMKilled",
                    ),
                    first,
                    np.ones(p.stop - first),
                )


def _pvc_info(s: _Scrape) -> Iterator[Series]:
    for p in s.pods:
        if p.has_pvc:
            yield (
                _labels(
                    **s.ksm,
                    namespace=p.namespace,
                    pod=p.pod,
                    volume="data",
                    persistentvolumeclaim=f"data-{p.pod}",
                ),
                p.start,
                _ones(p),
            )


def _container_state_families(s: _Scrape) -> list[_Family]:
    return [
        _Family(
            "kube_pod_container_resource_requests",
            "gauge",
            "The number of requested resource by a container.",
            partial(_resources, s, "requests"),
        ),
        _Family(
            "kube_pod_container_resource_limits",
            "gauge",
            "The number of requested limit resource by a container.",
            partial(_resources, s, "limits"),
        ),
        _Family(
            "kube_pod_container_status_restarts_total",
            "counter",
            "The number of container restarts per container.",
            partial(_restarts, s),
        ),
        _Family(
            "kube_pod_container_status_last_terminated_reason",
            "gauge",
            "Describes the last reason the container was in terminated state.",
            partial(_last_terminated, s),
        ),
        _Family(
            "kube_pod_spec_volumes_persistentvolumeclaims_info",
            "gauge",
            "Information about persistentvolumeclaim volumes in a pod.",
            partial(_pvc_info, s),
        ),
    ]


# ---------------------------------------------------------------------------------------------
# kube-state-metrics: HorizontalPodAutoscalers


def _hpa_specs(s: _Scrape) -> list[WorkloadSpec]:
    return [w for w in s.demo.workloads if w.hpa is not None]


def _hpa_info(s: _Scrape) -> Iterator[Series]:
    for w in _hpa_specs(s):
        yield (
            _labels(
                **s.ksm,
                namespace=w.namespace,
                horizontalpodautoscaler=w.name,
                scaletargetref_kind=w.kind,
                scaletargetref_name=w.name,
            ),
            0,
            np.ones(s.full),
        )


def _hpa_value(s: _Scrape, pick: Callable[[WorkloadSpec], np.ndarray]) -> Iterator[Series]:
    for w in _hpa_specs(s):
        yield (
            _labels(**s.ksm, namespace=w.namespace, horizontalpodautoscaler=w.name),
            0,
            pick(w),
        )


def _hpa_targets(s: _Scrape) -> Iterator[Series]:
    for w in _hpa_specs(s):
        assert w.hpa is not None
        for metric, target in (("cpu", w.hpa.target_cpu), ("memory", w.hpa.target_memory)):
            if target:
                yield (
                    _labels(
                        **s.ksm,
                        namespace=w.namespace,
                        horizontalpodautoscaler=w.name,
                        metric_name=metric,
                        metric_target_type="utilization",
                    ),
                    0,
                    np.full(s.full, float(target)),
                )


def _hpa_condition(s: _Scrape) -> Iterator[Series]:
    for w in _hpa_specs(s):
        assert w.hpa is not None
        current = s.demo.hpa_current[(w.namespace, w.name)]
        limited = (current >= w.hpa.max_replicas).astype(float)
        for status, values in (("true", limited), ("false", 1 - limited)):
            yield (
                _labels(
                    **s.ksm,
                    namespace=w.namespace,
                    horizontalpodautoscaler=w.name,
                    condition="ScalingLimited",
                    status=status,
                ),
                0,
                values,
            )


def _hpa_families(s: _Scrape) -> list[_Family]:
    def constant(field: str) -> Callable[[WorkloadSpec], np.ndarray]:
        return lambda w: np.full(s.full, float(getattr(w.hpa, field)))

    def history(table: dict[tuple[str, str], np.ndarray]) -> Callable[[WorkloadSpec], np.ndarray]:
        return lambda w: table[(w.namespace, w.name)].astype(float)

    return [
        _Family(
            "kube_horizontalpodautoscaler_info",
            "gauge",
            "Information about this autoscaler.",
            partial(_hpa_info, s),
        ),
        _Family(
            "kube_horizontalpodautoscaler_spec_min_replicas",
            "gauge",
            "Lower limit for the number of pods.",
            partial(_hpa_value, s, constant("min_replicas")),
        ),
        _Family(
            "kube_horizontalpodautoscaler_spec_max_replicas",
            "gauge",
            "Upper limit for the number of pods.",
            partial(_hpa_value, s, constant("max_replicas")),
        ),
        _Family(
            "kube_horizontalpodautoscaler_spec_target_metric",
            "gauge",
            "The metric specifications used by this autoscaler.",
            partial(_hpa_targets, s),
        ),
        _Family(
            "kube_horizontalpodautoscaler_status_current_replicas",
            "gauge",
            "Current number of replicas of pods.",
            partial(_hpa_value, s, history(s.demo.hpa_current)),
        ),
        _Family(
            "kube_horizontalpodautoscaler_status_desired_replicas",
            "gauge",
            "Desired number of replicas of pods.",
            partial(_hpa_value, s, history(s.demo.hpa_desired)),
        ),
        _Family(
            "kube_horizontalpodautoscaler_status_condition",
            "gauge",
            "The condition of this autoscaler.",
            partial(_hpa_condition, s),
        ),
    ]


# ---------------------------------------------------------------------------------------------
# kube-state-metrics: PodDisruptionBudgets


def _pdb_value(s: _Scrape, field: str) -> Iterator[Series]:
    for w in s.demo.workloads:
        if w.pdb_min_available is None:
            continue
        replicas = s.demo.hpa_current.get(
            (w.namespace, w.name), np.full(s.full, w.replicas)
        ).astype(float)
        values = {
            "pod_disruptions_allowed": np.maximum(replicas - w.pdb_min_available, 0),
            "desired_healthy": np.full(s.full, float(w.pdb_min_available)),
            "expected_pods": replicas,
        }[field]
        yield _labels(**s.ksm, namespace=w.namespace, poddisruptionbudget=w.name), 0, values


def _pdb_families(s: _Scrape) -> list[_Family]:
    return [
        _Family(
            "kube_poddisruptionbudget_status_pod_disruptions_allowed",
            "gauge",
            "Number of pod disruptions that are currently allowed.",
            partial(_pdb_value, s, "pod_disruptions_allowed"),
        ),
        _Family(
            "kube_poddisruptionbudget_status_desired_healthy",
            "gauge",
            "Minimum desired number of healthy pods.",
            partial(_pdb_value, s, "desired_healthy"),
        ),
        _Family(
            "kube_poddisruptionbudget_status_expected_pods",
            "gauge",
            "Total number of pods counted by this disruption budget.",
            partial(_pdb_value, s, "expected_pods"),
        ),
    ]


# ---------------------------------------------------------------------------------------------
# kube-state-metrics: nodes


def _node_labels(s: _Scrape) -> Iterator[Series]:
    for n in s.demo.nodes:
        yield (
            _labels(
                **s.ksm,
                node=n.node,
                label_eks_amazonaws_com_nodegroup=n.node_group,
                label_node_kubernetes_io_instance_type=n.instance_type,
                label_topology_kubernetes_io_zone=n.zone,
                label_eks_amazonaws_com_capacity_type=n.capacity_type,
                label_kubernetes_io_arch=NODE_SHAPES[n.instance_type].architecture,
            ),
            n.start,
            np.ones(n.stop - n.start),
        )


def _node_info(s: _Scrape) -> Iterator[Series]:
    # kube-state-metrics exports it whatever its labels allowlist (internal/store/node.go).
    for n in s.demo.nodes:
        yield (
            _labels(**s.ksm, node=n.node, provider_id=f"aws:///{n.zone}/{n.instance_id}"),
            n.start,
            np.ones(n.stop - n.start),
        )


def _node_resources(s: _Scrape, which: str) -> Iterator[Series]:
    for n in s.demo.nodes:
        shape = NODE_SHAPES[n.instance_type]
        values = {
            ("cpu", "core"): shape.cpu if which == "capacity" else shape.cpu_allocatable,
            ("memory", "byte"): shape.memory if which == "capacity" else shape.memory_allocatable,
            ("pods", "integer"): float(shape.pods),
        }
        for (resource, unit), value in values.items():
            yield (
                _labels(**s.ksm, node=n.node, resource=resource, unit=unit),
                n.start,
                np.full(n.stop - n.start, float(value)),
            )


def _node_families(s: _Scrape) -> list[_Family]:
    return [
        _Family(
            "kube_node_info", "gauge", "Information about a cluster node.", partial(_node_info, s)
        ),
        _Family(
            "kube_node_labels",
            "gauge",
            "Kubernetes labels converted to Prometheus labels.",
            partial(_node_labels, s),
        ),
        _Family(
            "kube_node_status_capacity",
            "gauge",
            "The capacity for different resources of a node.",
            partial(_node_resources, s, "capacity"),
        ),
        _Family(
            "kube_node_status_allocatable",
            "gauge",
            "The allocatable for different resources of a node.",
            partial(_node_resources, s, "allocatable"),
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Micrometer's JVM memory gauges (Spring Boot's /actuator/prometheus), one series per pool


def _pod_ip(p: SimulatedPod) -> str:
    """A stable pod IP for the scrape's ``instance`` (the demo models no network)."""
    digest = hashlib.blake2b(f"{p.namespace}/{p.pod}".encode(), digest_size=2).digest()
    return f"10.0.{digest[0]}.{digest[1]}"


def _jvm_pools(s: _Scrape, which: str) -> Iterator[Series]:
    """``jvm_memory_used_bytes`` / ``jvm_memory_max_bytes`` as a prometheus-operator
    ServiceMonitor scrapes them: the target's job, namespace, pod, container, service, endpoint
    and instance, and Micrometer's tags ``area``, ``id`` and the common ``application``."""
    for p in s.pods:
        for name, (heap, nonheap) in p.jvm.items():
            spec = next(c for c in p.containers if c.name == name)
            target = {
                "cluster": s.ksm["cluster"], "job": p.workload, "namespace": p.namespace,
                "pod": p.pod, "container": name, "service": p.workload, "endpoint": "http",
                "instance": f"{_pod_ip(p)}:8080", "application": p.workload,
            }  # fmt: skip
            for pool, area, share, most in JVM_POOLS:
                if which == "used":
                    values = np.round((heap if area == "heap" else nonheap) * share)
                else:
                    ceiling = spec.jvm_heap_max if most is None else most
                    values = np.full(_pod_len(p), float(ceiling))
                yield _labels(**target, area=area, id=pool), p.start, values


def _jvm_families(s: _Scrape) -> list[_Family]:
    return [
        _Family(
            "jvm_memory_used_bytes",
            "gauge",
            "The amount of used memory",
            partial(_jvm_pools, s, "used"),
        ),
        _Family(
            "jvm_memory_max_bytes",
            "gauge",
            "The maximum amount of memory in bytes that can be used for memory management",
            partial(_jvm_pools, s, "max"),
        ),
    ]


def _epoch_seconds(timestamps: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(
        (timestamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1), dtype=np.int64
    )


def write_openmetrics(
    demo: DemoCluster, out: TextIO, *, cluster: str | None = None, millis: bool = False
) -> tuple[int, int]:
    """Write the cluster's series to ``out``; returns (series, samples).

    ``millis=True`` writes the Prometheus text format with millisecond timestamps and no
    ``# EOF`` (what VictoriaMetrics' ``/api/v1/import/prometheus`` expects); the default is
    OpenMetrics with second timestamps, as promtool wants.
    """
    seconds = _epoch_seconds(demo.timestamps)
    stamps = [str(s * 1000) if millis else str(s) for s in seconds.tolist()]
    series_count = samples = 0
    for family in _families(demo, cluster or demo.cluster):
        if not millis:
            out.write(
                f"# HELP {family.family_name} {family.help}\n# TYPE {family.family_name} {family.kind}\n"
            )
        else:
            out.write(f"# TYPE {family.name} {family.kind}\n")
        for labels, first, values in family.series():
            prefix = family.name + labels + " "
            chunk = stamps[first : first + len(values)]
            out.write(
                "".join(
                    f"{prefix}{v:.10g} {t}\n" for v, t in zip(values.tolist(), chunk, strict=True)
                )
            )
            series_count += 1
            samples += len(values)
    if not millis:
        out.write("# EOF\n")
    return series_count, samples


# name="value" pairs of a label string; an escaped quote (\\") never ends a name.
_LABEL_PAIR = re.compile(r'(^|,)([a-zA-Z_][a-zA-Z0-9_]*)="')


def write_victoriametrics_jsonl(
    demo: DemoCluster, out: TextIO, *, cluster: str | None = None
) -> tuple[int, int]:
    """Write the cluster as VictoriaMetrics JSON lines (``/api/v1/import``); returns (series, samples).

    The same series and samples as :func:`write_openmetrics`, one line per series
    (``{"metric": {...}, "values": [...], "timestamps": [...]}``, millisecond timestamps). About
    ten times smaller and faster to write and to import than the text format, which repeats the
    labels on every sample: the scale benchmark loads hundreds of millions of samples this way.
    """
    millis = [str(s * 1000) for s in _epoch_seconds(demo.timestamps).tolist()]
    series_count = samples = 0
    for family in _families(demo, cluster or demo.cluster):
        head = '{"metric":{"__name__":' + json.dumps(family.name) + ","
        for labels, first, values in family.series():
            # The text format's escapes (\\, \", \n) are JSON escapes too.
            metric = _LABEL_PAIR.sub(r'\1"\2":"', labels[1:-1])
            stamps = millis[first : first + len(values)]
            finite = np.isfinite(values)
            if not finite.all():
                stamps = [t for t, ok in zip(stamps, finite.tolist(), strict=True) if ok]
                values = values[finite]
            out.write(
                f'{head}{metric}}},"values":[{",".join(map(repr, values.tolist()))}],'
                f'"timestamps":[{",".join(stamps)}]}}\n'
            )
            series_count += 1
            samples += len(values)
    return series_count, samples


def write_demo_openmetrics(
    path: Path | str,
    *,
    end: datetime | None = None,
    days: float = 21,
    step_seconds: int = 300,
    scale: int = 1,
    millis: bool = False,
    cluster: str | None = None,
) -> ExportStats:
    """Simulate a demo cluster and write it as OpenMetrics to ``path`` (atomically).

    ``cluster``: ``kianax-production`` (default) or ``kianax-dev``, also the ``cluster`` label.
    """
    target = Path(path)
    demo = simulate_demo_cluster(
        end=end,
        days=days,
        step_seconds=step_seconds,
        scale=scale,
        cluster=cluster or DEMO_CLUSTER,
    )
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with tmp.open("w", buffering=1 << 20) as handle:
            series, samples = write_openmetrics(demo, handle, millis=millis)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportStats(
        series=series, samples=samples, bytes=target.stat().st_size, start=demo.start, end=demo.end
    )
