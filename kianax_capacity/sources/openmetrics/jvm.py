"""Micrometer's JVM memory gauges (Spring Boot's /actuator/prometheus), one series per pool,
as a prometheus-operator ServiceMonitor scrapes them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import partial

import numpy as np

from kianax_capacity.sources.demo import JVM_POOLS, SimulatedPod
from kianax_capacity.sources.openmetrics.series import Family, Scrape, Series, label_string, pod_len


def _pod_ip(p: SimulatedPod) -> str:
    """A stable pod IP for the scrape's ``instance`` (the demo models no network)."""
    digest = hashlib.blake2b(f"{p.namespace}/{p.pod}".encode(), digest_size=2).digest()
    return f"10.0.{digest[0]}.{digest[1]}"


def _jvm_pools(s: Scrape, which: str) -> Iterator[Series]:
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
                    values = np.full(pod_len(p), float(ceiling))
                yield label_string(**target, area=area, id=pool), p.start, values


def jvm_families(s: Scrape) -> list[Family]:
    return [
        Family(
            "jvm_memory_used_bytes",
            "gauge",
            "The amount of used memory",
            partial(_jvm_pools, s, "used"),
        ),
        Family(
            "jvm_memory_max_bytes",
            "gauge",
            "The maximum amount of memory in bytes that can be used for memory management",
            partial(_jvm_pools, s, "max"),
        ),
    ]
