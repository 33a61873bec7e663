"""cAdvisor's series, scraped through the kubelet: CPU and memory usage, CFS periods."""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import partial

import numpy as np

from kianax_capacity.sources.openmetrics.series import (
    Family,
    Scrape,
    Series,
    counter_with_resets,
    label_string,
    pod_len,
)

CFS_PERIODS_PER_SECOND = 10  # the default 100 ms CFS period


def _cpu_counters(s: Scrape) -> Iterator[Series]:
    for p in s.pods:
        total = np.zeros(pod_len(p))
        for c in p.containers:
            inc = p.cpu[c.name] * s.step
            resets = p.oom_steps[c.name] - p.start
            counter = counter_with_resets(inc, resets)
            total += np.cumsum(inc)
            yield (
                label_string(
                    **s.kubelet, namespace=p.namespace, pod=p.pod, container=c.name, node=p.node
                ),
                p.start,
                counter,
            )
        # Pod-level cgroup (container="") and the pause container (container="POD"): real
        # cAdvisor exports both; a reader must drop them or totals double.
        yield (
            label_string(**s.kubelet, namespace=p.namespace, pod=p.pod, container="", node=p.node),
            p.start,
            total,
        )
        yield (
            label_string(
                **s.kubelet, namespace=p.namespace, pod=p.pod, container="POD", node=p.node
            ),
            p.start,
            np.cumsum(np.full(pod_len(p), 0.0001 * s.step)),
        )


def _memory_series(s: Scrape) -> Iterator[Series]:
    for p in s.pods:
        total = np.zeros(pod_len(p))
        for c in p.containers:
            total += p.memory[c.name]
            yield (
                label_string(
                    **s.kubelet, namespace=p.namespace, pod=p.pod, container=c.name, node=p.node
                ),
                p.start,
                np.round(p.memory[c.name]),
            )
        yield (
            label_string(**s.kubelet, namespace=p.namespace, pod=p.pod, container="", node=p.node),
            p.start,
            np.round(total),
        )
        yield (
            label_string(
                **s.kubelet, namespace=p.namespace, pod=p.pod, container="POD", node=p.node
            ),
            p.start,
            np.full(pod_len(p), 450_000.0),
        )


def _cfs_series(s: Scrape, *, throttled: bool) -> Iterator[Series]:
    for p in s.pods:
        for c in p.containers:
            if not math.isfinite(c.cpu_limit):
                continue
            periods = np.full(pod_len(p), float(s.step * CFS_PERIODS_PER_SECOND))
            inc = np.round(periods * p.throttled[c.name]) if throttled else periods
            counter = counter_with_resets(inc, p.oom_steps[c.name] - p.start)
            yield (
                label_string(
                    **s.kubelet, namespace=p.namespace, pod=p.pod, container=c.name, node=p.node
                ),
                p.start,
                counter,
            )


def cadvisor_families(s: Scrape) -> list[Family]:
    return [
        Family(
            "container_cpu_usage_seconds_total",
            "counter",
            "Cumulative cpu time consumed in seconds.",
            partial(_cpu_counters, s),
        ),
        Family(
            "container_memory_working_set_bytes",
            "gauge",
            "Current working set in bytes.",
            partial(_memory_series, s),
        ),
        Family(
            "container_cpu_cfs_periods_total",
            "counter",
            "Number of elapsed enforcement period intervals.",
            partial(_cfs_series, s, throttled=False),
        ),
        Family(
            "container_cpu_cfs_throttled_periods_total",
            "counter",
            "Number of throttled period intervals.",
            partial(_cfs_series, s, throttled=True),
        ),
    ]
