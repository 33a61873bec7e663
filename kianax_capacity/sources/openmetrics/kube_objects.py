"""kube-state-metrics' series of the objects beside pods: HorizontalPodAutoscalers,
PodDisruptionBudgets and nodes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

import numpy as np

from kianax_capacity.sources.demo import NODE_SHAPES, WorkloadSpec
from kianax_capacity.sources.openmetrics.series import Family, Scrape, Series, label_string

# ---------------------------------------------------------------------------------------------
# kube-state-metrics: HorizontalPodAutoscalers


def _hpa_specs(s: Scrape) -> list[WorkloadSpec]:
    return [w for w in s.demo.workloads if w.hpa is not None]


def _hpa_info(s: Scrape) -> Iterator[Series]:
    for w in _hpa_specs(s):
        yield (
            label_string(
                **s.ksm,
                namespace=w.namespace,
                horizontalpodautoscaler=w.name,
                scaletargetref_kind=w.kind,
                scaletargetref_name=w.name,
            ),
            0,
            np.ones(s.full),
        )


def _hpa_value(s: Scrape, pick: Callable[[WorkloadSpec], np.ndarray]) -> Iterator[Series]:
    for w in _hpa_specs(s):
        yield (
            label_string(**s.ksm, namespace=w.namespace, horizontalpodautoscaler=w.name),
            0,
            pick(w),
        )


def _hpa_targets(s: Scrape) -> Iterator[Series]:
    for w in _hpa_specs(s):
        assert w.hpa is not None
        for metric, target in (("cpu", w.hpa.target_cpu), ("memory", w.hpa.target_memory)):
            if target:
                yield (
                    label_string(
                        **s.ksm,
                        namespace=w.namespace,
                        horizontalpodautoscaler=w.name,
                        metric_name=metric,
                        metric_target_type="utilization",
                    ),
                    0,
                    np.full(s.full, float(target)),
                )


def _hpa_condition(s: Scrape) -> Iterator[Series]:
    for w in _hpa_specs(s):
        assert w.hpa is not None
        current = s.demo.hpa_current[(w.namespace, w.name)]
        limited = (current >= w.hpa.max_replicas).astype(float)
        for status, values in (("true", limited), ("false", 1 - limited)):
            yield (
                label_string(
                    **s.ksm,
                    namespace=w.namespace,
                    horizontalpodautoscaler=w.name,
                    condition="ScalingLimited",
                    status=status,
                ),
                0,
                values,
            )


def hpa_families(s: Scrape) -> list[Family]:
    def constant(field: str) -> Callable[[WorkloadSpec], np.ndarray]:
        return lambda w: np.full(s.full, float(getattr(w.hpa, field)))

    def history(table: dict[tuple[str, str], np.ndarray]) -> Callable[[WorkloadSpec], np.ndarray]:
        return lambda w: table[(w.namespace, w.name)].astype(float)

    return [
        Family(
            "kube_horizontalpodautoscaler_info",
            "gauge",
            "Information about this autoscaler.",
            partial(_hpa_info, s),
        ),
        Family(
            "kube_horizontalpodautoscaler_spec_min_replicas",
            "gauge",
            "Lower limit for the number of pods.",
            partial(_hpa_value, s, constant("min_replicas")),
        ),
        Family(
            "kube_horizontalpodautoscaler_spec_max_replicas",
            "gauge",
            "Upper limit for the number of pods.",
            partial(_hpa_value, s, constant("max_replicas")),
        ),
        Family(
            "kube_horizontalpodautoscaler_spec_target_metric",
            "gauge",
            "The metric specifications used by this autoscaler.",
            partial(_hpa_targets, s),
        ),
        Family(
            "kube_horizontalpodautoscaler_status_current_replicas",
            "gauge",
            "Current number of replicas of pods.",
            partial(_hpa_value, s, history(s.demo.hpa_current)),
        ),
        Family(
            "kube_horizontalpodautoscaler_status_desired_replicas",
            "gauge",
            "Desired number of replicas of pods.",
            partial(_hpa_value, s, history(s.demo.hpa_desired)),
        ),
        Family(
            "kube_horizontalpodautoscaler_status_condition",
            "gauge",
            "The condition of this autoscaler.",
            partial(_hpa_condition, s),
        ),
    ]


# ---------------------------------------------------------------------------------------------
# kube-state-metrics: PodDisruptionBudgets


def _pdb_value(s: Scrape, field: str) -> Iterator[Series]:
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
        yield label_string(**s.ksm, namespace=w.namespace, poddisruptionbudget=w.name), 0, values


def pdb_families(s: Scrape) -> list[Family]:
    return [
        Family(
            "kube_poddisruptionbudget_status_pod_disruptions_allowed",
            "gauge",
            "Number of pod disruptions that are currently allowed.",
            partial(_pdb_value, s, "pod_disruptions_allowed"),
        ),
        Family(
            "kube_poddisruptionbudget_status_desired_healthy",
            "gauge",
            "Minimum desired number of healthy pods.",
            partial(_pdb_value, s, "desired_healthy"),
        ),
        Family(
            "kube_poddisruptionbudget_status_expected_pods",
            "gauge",
            "Total number of pods counted by this disruption budget.",
            partial(_pdb_value, s, "expected_pods"),
        ),
    ]


# ---------------------------------------------------------------------------------------------
# kube-state-metrics: nodes


def _node_labels(s: Scrape) -> Iterator[Series]:
    for n in s.demo.nodes:
        yield (
            label_string(
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


def _node_info(s: Scrape) -> Iterator[Series]:
    # kube-state-metrics exports it whatever its labels allowlist (internal/store/node.go).
    for n in s.demo.nodes:
        yield (
            label_string(**s.ksm, node=n.node, provider_id=f"aws:///{n.zone}/{n.instance_id}"),
            n.start,
            np.ones(n.stop - n.start),
        )


def _node_resources(s: Scrape, which: str) -> Iterator[Series]:
    for n in s.demo.nodes:
        shape = NODE_SHAPES[n.instance_type]
        values = {
            ("cpu", "core"): shape.cpu if which == "capacity" else shape.cpu_allocatable,
            ("memory", "byte"): shape.memory if which == "capacity" else shape.memory_allocatable,
            ("pods", "integer"): float(shape.pods),
        }
        for (resource, unit), value in values.items():
            yield (
                label_string(**s.ksm, node=n.node, resource=resource, unit=unit),
                n.start,
                np.full(n.stop - n.start, float(value)),
            )


def node_families(s: Scrape) -> list[Family]:
    return [
        Family(
            "kube_node_info", "gauge", "Information about a cluster node.", partial(_node_info, s)
        ),
        Family(
            "kube_node_labels",
            "gauge",
            "Kubernetes labels converted to Prometheus labels.",
            partial(_node_labels, s),
        ),
        Family(
            "kube_node_status_capacity",
            "gauge",
            "The capacity for different resources of a node.",
            partial(_node_resources, s, "capacity"),
        ),
        Family(
            "kube_node_status_allocatable",
            "gauge",
            "The allocatable for different resources of a node.",
            partial(_node_resources, s, "allocatable"),
        ),
    ]
