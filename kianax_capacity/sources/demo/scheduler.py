"""A small request-aware scheduler: which pod runs where, step by step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kianax_capacity.sources.demo.catalog import NODE_SHAPES, WorkloadSpec
from kianax_capacity.sources.demo.cluster import SimulatedNode, SimulatedPod, seed_of
from kianax_capacity.sources.demo.demand import cron_run_ids


def _pod_suffix(*parts: object, length: int = 5) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    value = seed_of(*parts)
    out = []
    for _ in range(length):
        value, index = divmod(value, len(alphabet))
        out.append(alphabet[index])
    return "".join(out)


@dataclass
class _NodeRoom:
    """Unrequested CPU and memory on a node, as the scheduler tracks it."""

    node: SimulatedNode
    cpu: float
    memory: float


def schedule_pods(
    specs: list[WorkloadSpec],
    replicas: dict[tuple[str, str], np.ndarray],
    nodes: list[SimulatedNode],
    group_nodes_at: dict[str, list[list[SimulatedNode]]],
    timestamps: pd.DatetimeIndex,
    step_seconds: int,
    seed: int,
) -> tuple[list[SimulatedPod], dict[tuple[str, str], np.ndarray]]:
    """Run a small request-aware scheduler over the window.

    Returns every pod and, per workload, how many of its pods were running at each step.
    """
    steps = len(timestamps)
    daemon_specs = [s for s in specs if s.kind == "DaemonSet"]
    daemon_cpu = sum(c.cpu_request for s in daemon_specs for c in s.containers)
    daemon_memory = sum(c.memory_request for s in daemon_specs for c in s.containers)
    pods: list[SimulatedPod] = []
    for spec in daemon_specs:
        for node in nodes:
            pods.append(
                SimulatedPod(
                    namespace=spec.namespace,
                    pod=f"{spec.name}-{_pod_suffix(spec.name, node.node)}",
                    kind="DaemonSet",
                    workload=spec.name,
                    owner_kind="DaemonSet",
                    owner_name=spec.name,
                    node=node.node,
                    start=node.start,
                    stop=node.stop,
                    containers=spec.containers,
                )
            )
    room: dict[str, _NodeRoom] = {}
    workloads = [s for s in specs if s.kind != "DaemonSet"]
    # Platform add-ons schedule first (they carry system priority classes in a real cluster).
    workloads.sort(
        key=lambda s: s.namespace not in ("kube-system", "monitoring", "argocd", "logging")
    )
    revision_at: dict[tuple[str, str], np.ndarray] = {}
    job_runs: dict[tuple[str, str], np.ndarray] = {}
    for spec in workloads:
        key = (spec.namespace, spec.name)
        rng = np.random.default_rng([seed, seed_of("pods", *key) % 2**32])
        revisions = np.zeros(steps, dtype=int)
        if spec.rollouts and steps > 20:
            for r in rng.choice(
                np.arange(steps // 10, steps - steps // 10), size=spec.rollouts, replace=False
            ):
                revisions[int(r) :] += 1
        revision_at[key] = revisions
        if spec.kind == "CronJob":
            job_runs[key] = cron_run_ids(spec, timestamps, step_seconds)
    active: dict[tuple[str, str], list[SimulatedPod]] = {
        (s.namespace, s.name): [] for s in workloads
    }
    running = {key: np.zeros(steps, dtype=int) for key in active}
    previous_nodes: dict[str, set[str]] = {group: set() for group in group_nodes_at}
    names: set[tuple[str, str]] = set()

    def end(pod: SimulatedPod, spec: WorkloadSpec, at: int) -> None:
        pod.stop = at
        slot = room.get(pod.node)
        if slot is not None:
            slot.cpu += sum(c.cpu_request for c in spec.containers)
            slot.memory += sum(c.memory_request for c in spec.containers)

    for i in range(steps):
        # Nodes that appear get their allocatable minus the DaemonSets; gone ones evict pods.
        gone: set[str] = set()
        for group, per_step in group_nodes_at.items():
            now = {n.node for n in per_step[i]}
            for n in per_step[i]:
                if n.node not in room:
                    shape = NODE_SHAPES[n.instance_type]
                    room[n.node] = _NodeRoom(
                        n,
                        shape.cpu_allocatable - daemon_cpu,
                        shape.memory_allocatable - daemon_memory,
                    )
            gone |= previous_nodes[group] - now
            previous_nodes[group] = now
        for name in gone:
            room.pop(name, None)
        # The nodes with room, per group, in node order: the same for every workload this step
        # (built once per step, not once per workload: at --scale 250 that is the hot spot).
        candidates_of: dict[str, list[_NodeRoom]] = {}
        position_of: dict[str, dict[int, int]] = {}
        for group, per_step in group_nodes_at.items():
            candidates_of[group] = [room[n.node] for n in per_step[i] if n.node in room]
            position_of[group] = {id(r): k for k, r in enumerate(candidates_of[group])}
        for spec in workloads:
            key = (spec.namespace, spec.name)
            pods_now = active[key]
            revision = int(revision_at[key][i])
            run_id = int(job_runs[key][i]) if key in job_runs else None
            keep = []
            for pod in pods_now:
                stale = (
                    pod.node in gone
                    or pod.revision != revision
                    or (run_id is not None and pod.run_id != run_id)
                )
                if stale:
                    end(pod, spec, i)
                else:
                    keep.append(pod)
            want = int(replicas[key][i])
            while len(keep) > want:
                end(keep.pop(), spec, i)  # the newest pod goes first, as a ReplicaSet scales down
            cpu = sum(c.cpu_request for c in spec.containers)
            memory = sum(c.memory_request for c in spec.containers)
            candidates = candidates_of[spec.node_group]
            position = position_of[spec.node_group]
            while len(keep) < want:
                fits = [r for r in candidates if r.cpu >= cpu - 1e-9 and r.memory >= memory]
                if not fits:
                    break  # Pending: no node has room until the autoscaler adds one
                if spec.kind == "StatefulSet":
                    target = fits[0]  # the oldest node: it outlives every scale-down
                else:
                    target = max(fits, key=lambda r: (r.cpu, -position[id(r)]))
                target.cpu -= cpu
                target.memory -= memory
                ordinal = _free_ordinal(keep) if spec.kind == "StatefulSet" else len(pods)
                pod = _make_pod(
                    spec, ordinal, revision, target.node.node, i, steps, run_id, timestamps
                )
                while spec.kind != "StatefulSet" and (pod.namespace, pod.pod) in names:
                    # Random suffixes can collide, as in Kubernetes; the API server retries.
                    ordinal += 100_003
                    pod = _make_pod(
                        spec, ordinal, revision, target.node.node, i, steps, run_id, timestamps
                    )
                names.add((pod.namespace, pod.pod))
                pods.append(pod)
                keep.append(pod)
            active[key] = keep
            running[key][i] = len(keep)
    return pods, running


def _free_ordinal(pods: list[SimulatedPod]) -> int:
    taken = {p.ordinal for p in pods}
    return next(k for k in range(len(pods) + 1) if k not in taken)


def _make_pod(
    spec: WorkloadSpec,
    slot: int,
    revision: int,
    node: str,
    start: int,
    stop: int,
    run_id: int | None,
    timestamps: pd.DatetimeIndex,
) -> SimulatedPod:
    if spec.kind == "StatefulSet":
        owner_kind, owner_name, name = "StatefulSet", spec.name, f"{spec.name}-{slot}"
    elif spec.kind == "CronJob":
        job = f"{spec.name}-{run_id}"
        owner_kind, owner_name, name = "Job", job, f"{job}-{_pod_suffix(job, slot)}"
    else:
        replicaset = f"{spec.name}-{_pod_suffix(spec.name, 'rs', revision, length=10)}"
        owner_kind, owner_name = "ReplicaSet", replicaset
        name = f"{replicaset}-{_pod_suffix(replicaset, slot, start)}"
    return SimulatedPod(
        namespace=spec.namespace,
        pod=name,
        kind=spec.kind,
        workload=spec.name,
        owner_kind=owner_kind,
        owner_name=owner_name,
        node=node,
        start=start,
        stop=stop,
        containers=spec.containers,
        has_pvc=spec.has_pvc,
        revision=revision,
        run_id=run_id,
        ordinal=slot,
    )
