"""Container series of a pod: CPU (with CFS throttling), memory models, JVM heap areas."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from kianax_capacity.sources.demo.catalog import _M, ContainerSpec, WorkloadSpec
from kianax_capacity.sources.demo.cluster import SimulatedPod, seed_of


def fill_series(
    pod: SimulatedPod,
    specs: Mapping[tuple[str, str], WorkloadSpec],
    demand: dict[tuple[str, str], np.ndarray],
    replicas: dict[tuple[str, str], np.ndarray],
    timestamps: pd.DatetimeIndex,
    step_seconds: int,
    seed: int,
) -> None:
    key = (pod.namespace, pod.workload)
    spec = specs[key]
    span = slice(pod.start, pod.stop)
    n = pod.stop - pod.start
    rng = np.random.default_rng([seed, seed_of("series", pod.namespace, pod.pod) % 2**32])
    if spec.kind == "DaemonSet":
        per_pod = demand[key][span]
    else:
        per_pod = demand[key][span] / np.maximum(replicas[key][span], 1)
    hours = np.arange(n) * step_seconds / 3600.0
    for container in pod.containers:
        want = per_pod * container.cpu_share * rng.lognormal(0.0, 0.06, n)
        if container.startup_cpu and pod.start > 0:
            # Started in the window (not already running at its start): JIT, class loading.
            warm = min(n, math.ceil(container.startup_minutes * 60 / step_seconds))
            want[:warm] += container.startup_cpu * rng.uniform(0.85, 1.0, warm)
        limit = container.cpu_limit
        if math.isfinite(limit):
            # CFS quota: a container never uses more than its limit; the excess waits (throttling).
            cpu = np.minimum(want, limit * rng.uniform(0.97, 1.0, n))
            excess = np.clip((want - 0.8 * limit) / np.maximum(want, 1e-9), 0.0, 1.0)
            throttled = np.clip(excess * 1.4 + rng.uniform(0, 0.01, n), 0.0, 1.0)
        else:
            cpu = want
            throttled = np.full(n, np.nan)
        if container.memory == "jvm-micrometer":
            memory, heap, nonheap = _jvm_series(container, cpu, rng, step_seconds, pod.start > 0)
            pod.jvm[container.name] = (heap, nonheap)
            ooms = np.array([], dtype=int)
        else:
            memory, ooms = _memory_series(container, cpu, hours, rng, step_seconds)
        pod.cpu[container.name] = cpu
        pod.memory[container.name] = memory
        pod.throttled[container.name] = throttled
        pod.oom_steps[container.name] = ooms + pod.start


def _jvm_series(
    container: ContainerSpec,
    cpu: np.ndarray,
    rng: np.random.Generator,
    step_seconds: int,
    started: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A JVM's working set, heap used and non-heap used, per step.

    The young generation fills with allocation (proportional to CPU) and is collected at 256
    MiB; the old generation creeps up and a full collection every ~2 days brings it back. The
    JVM commits heap as it needs it and keeps it, up to -Xmx: that committed heap, not the used
    heap, is what the working set holds, beside non-heap (class metadata, code cache: it grows
    in the first hour after a start) and native memory.
    """
    n = len(cpu)
    heap_max = container.jvm_heap_max
    young = (np.cumsum(cpu) * step_seconds * 1.5 * _M) % (256 * _M)
    phase = (np.arange(n) * step_seconds / 86400.0 + rng.uniform(0, 2)) % 2.0 / 2.0
    old = (180 + 60 * phase) * _M
    heap = np.minimum(old + young, heap_max * 0.98) * (1 + rng.normal(0.0, 0.005, n))
    committed = np.minimum(np.maximum.accumulate(heap) * 1.1, heap_max)
    warm = np.clip(np.arange(n) * step_seconds / 3600.0, 0.0, 1.0) if started else np.ones(n)
    nonheap = container.jvm_nonheap * (0.6 + 0.4 * warm) * (1 + rng.normal(0.0, 0.003, n))
    native = container.memory_base * (1 + rng.normal(0.0, 0.02, n))
    return committed + nonheap + native, heap, nonheap


def _memory_series(
    container: ContainerSpec,
    cpu: np.ndarray,
    hours: np.ndarray,
    rng: np.random.Generator,
    step_seconds: int,
) -> tuple[np.ndarray, np.ndarray]:
    n = len(cpu)
    base = container.memory_base
    limit = container.memory_limit
    jitter = rng.normal(0.0, 0.01, n)
    if container.memory == "flat":
        memory = base * (1 + jitter)
    elif container.memory == "jvm":
        # Heap sized by -Xmx: flat, with a small GC sawtooth.
        memory = base * (1 + 0.015 * np.sin(np.arange(n) / 3.0) + jitter * 0.3)
    elif container.memory == "load":
        memory = (base + container.memory_per_core * cpu) * (1 + jitter)
    elif container.memory == "sawtooth":
        # Prometheus head block: grows for two hours, compacts.
        phase = (hours % 2.0) / 2.0
        memory = (base + container.memory_spike * phase) * (1 + jitter)
    elif container.memory == "spiky":
        spikes = (
            (rng.random(n) < container.spike_probability)
            * rng.uniform(0.3, 1.0, n)
            * container.memory_spike
        )
        memory = (base + 0.35 * container.memory_spike * rng.random(n) + spikes) * (1 + jitter)
    elif container.memory == "leak":
        # Grows steadily from each (re)start until the limit kills it.
        start_offset = rng.uniform(0, 0.6) * (limit - base) / container.memory_leak_per_hour
        period = (limit - base) / container.memory_leak_per_hour
        age = (hours + start_offset) % period
        memory = (base + container.memory_leak_per_hour * age) * (1 + jitter * 0.3)
        wraps = np.flatnonzero(np.diff(np.floor((hours + start_offset) / period)) > 0) + 1
        memory = np.minimum(memory, limit * 0.999)
        return memory, wraps
    else:  # pragma: no cover
        raise ValueError(container.memory)
    memory = np.maximum(memory, 1 * _M)
    if math.isfinite(limit):
        ooms = np.flatnonzero(memory >= limit)
        memory = np.minimum(memory, limit * 0.999)
        return memory, ooms
    return memory, np.array([], dtype=int)
