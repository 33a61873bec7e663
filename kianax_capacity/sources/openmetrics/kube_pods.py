"""kube-state-metrics' pod series: owners and info, and the containers' resources, restarts,
terminations and volumes."""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import partial

import numpy as np

from kianax_capacity.sources.openmetrics.series import (
    Family,
    Scrape,
    Series,
    label_string,
    ones,
    pod_len,
)

# ---------------------------------------------------------------------------------------------
# kube-state-metrics: pods and their owners


def _pod_owner(s: Scrape) -> Iterator[Series]:
    for p in s.pods:
        yield (
            label_string(
                **s.ksm,
                namespace=p.namespace,
                pod=p.pod,
                owner_kind=p.owner_kind,
                owner_name=p.owner_name,
                owner_is_controller="true",
            ),
            p.start,
            ones(p),
        )


def _owner_of_owner(s: Scrape, owner_kind: str, name_label: str, top_kind: str) -> Iterator[Series]:
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
            label_string(**s.ksm, **labels, owner_name=top, owner_is_controller="true"),
            start,
            np.ones(stop - start),
        )


def _pod_info(s: Scrape) -> Iterator[Series]:
    for p in s.pods:
        yield (
            label_string(
                **s.ksm,
                namespace=p.namespace,
                pod=p.pod,
                node=p.node,
                created_by_kind=p.owner_kind,
                created_by_name=p.owner_name,
            ),
            p.start,
            ones(p),
        )


def pod_families(s: Scrape) -> list[Family]:
    return [
        Family(
            "kube_pod_owner", "gauge", "Information about the Pod's owner.", partial(_pod_owner, s)
        ),
        Family(
            "kube_replicaset_owner",
            "gauge",
            "Information about the ReplicaSet's owner.",
            partial(_owner_of_owner, s, "ReplicaSet", "replicaset", "Deployment"),
        ),
        Family(
            "kube_job_owner",
            "gauge",
            "Information about the Job's owner.",
            partial(_owner_of_owner, s, "Job", "job_name", "CronJob"),
        ),
        Family("kube_pod_info", "gauge", "Information about pod.", partial(_pod_info, s)),
    ]


# ---------------------------------------------------------------------------------------------
# kube-state-metrics: containers' resources, restarts, terminations, volumes


def _resources(s: Scrape, kind: str) -> Iterator[Series]:
    for p in s.pods:
        for c in p.containers:
            cpu = c.cpu_request if kind == "requests" else c.cpu_limit
            memory = c.memory_request if kind == "requests" else c.memory_limit
            for resource, unit, value in (("cpu", "core", cpu), ("memory", "byte", memory)):
                if math.isfinite(value):
                    labels = label_string(
                        **s.ksm, namespace=p.namespace, pod=p.pod, container=c.name,
                        node=p.node, resource=resource, unit=unit,
                    )  # fmt: skip
                    yield labels, p.start, np.full(pod_len(p), float(value))


def _restarts(s: Scrape) -> Iterator[Series]:
    for p in s.pods:
        for c in p.containers:
            inc = np.zeros(pod_len(p))
            inc[p.oom_steps[c.name] - p.start] = 1
            yield (
                label_string(**s.ksm, namespace=p.namespace, pod=p.pod, container=c.name),
                p.start,
                np.cumsum(inc),
            )


def _last_terminated(s: Scrape) -> Iterator[Series]:
    for p in s.pods:
        for c in p.containers:
            ooms = p.oom_steps[c.name]
            if len(ooms):
                first = int(ooms[0])
                yield (
                    label_string(
                        **s.ksm,
                        namespace=p.namespace,
                        pod=p.pod,
                        container=c.name,
                        reason="OOMKilled",
                    ),
                    first,
                    np.ones(p.stop - first),
                )


def _pvc_info(s: Scrape) -> Iterator[Series]:
    for p in s.pods:
        if p.has_pvc:
            yield (
                label_string(
                    **s.ksm,
                    namespace=p.namespace,
                    pod=p.pod,
                    volume="data",
                    persistentvolumeclaim=f"data-{p.pod}",
                ),
                p.start,
                ones(p),
            )


def container_state_families(s: Scrape) -> list[Family]:
    return [
        Family(
            "kube_pod_container_resource_requests",
            "gauge",
            "The number of requested resource by a container.",
            partial(_resources, s, "requests"),
        ),
        Family(
            "kube_pod_container_resource_limits",
            "gauge",
            "The number of requested limit resource by a container.",
            partial(_resources, s, "limits"),
        ),
        Family(
            "kube_pod_container_status_restarts_total",
            "counter",
            "The number of container restarts per container.",
            partial(_restarts, s),
        ),
        Family(
            "kube_pod_container_status_last_terminated_reason",
            "gauge",
            "Describes the last reason the container was in terminated state.",
            partial(_last_terminated, s),
        ),
        Family(
            "kube_pod_spec_volumes_persistentvolumeclaims_info",
            "gauge",
            "Information about persistentvolumeclaim volumes in a pod.",
            partial(_pvc_info, s),
        ),
    ]
