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
    daemon_specs = [s for s in specs if s.kind == "DaemonSet"]
    workloads = [s for s in specs if s.kind != "DaemonSet"]
    # Platform add-ons schedule first (they carry system priority classes in a real cluster).
    workloads.sort(
        key=lambda s: s.namespace not in ("kube-system", "monitoring", "argocd", "logging")
    )
    revision_at, job_runs = _timelines(workloads, timestamps, step_seconds, seed)
    scheduler = _Scheduler(
        workloads,
        replicas,
        group_nodes_at,
        timestamps,
        pods=_daemon_pods(daemon_specs, nodes),
        daemon_cpu=sum(c.cpu_request for s in daemon_specs for c in s.containers),
        daemon_memory=sum(c.memory_request for s in daemon_specs for c in s.containers),
        revision_at=revision_at,
        job_runs=job_runs,
    )
    for i in range(len(timestamps)):
        scheduler.step(i)
    return scheduler.pods, scheduler.running


def _daemon_pods(
    daemon_specs: list[WorkloadSpec], nodes: list[SimulatedNode]
) -> list[SimulatedPod]:
    """One pod of each DaemonSet on every node, for as long as the node lives."""
    return [
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
        for spec in daemon_specs
        for node in nodes
    ]


def _timelines(
    workloads: list[WorkloadSpec], timestamps: pd.DatetimeIndex, step_seconds: int, seed: int
) -> tuple[dict[tuple[str, str], np.ndarray], dict[tuple[str, str], np.ndarray]]:
    """Per workload, its ReplicaSet revision at each step (rollouts at seeded random steps) and,
    for a CronJob, the run each step belongs to."""
    steps = len(timestamps)
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
    return revision_at, job_runs


class _Scheduler:
    """The scheduler's state through the window: room on each node, each workload's running
    pods, the pod names taken; :meth:`step` advances it by one step."""

    def __init__(
        self,
        workloads: list[WorkloadSpec],
        replicas: dict[tuple[str, str], np.ndarray],
        group_nodes_at: dict[str, list[list[SimulatedNode]]],
        timestamps: pd.DatetimeIndex,
        *,
        pods: list[SimulatedPod],
        daemon_cpu: float,
        daemon_memory: float,
        revision_at: dict[tuple[str, str], np.ndarray],
        job_runs: dict[tuple[str, str], np.ndarray],
    ) -> None:
        self.workloads = workloads
        self.replicas = replicas
        self.group_nodes_at = group_nodes_at
        self.timestamps = timestamps
        self.steps = len(timestamps)
        self.pods = pods
        self.daemon_cpu = daemon_cpu
        self.daemon_memory = daemon_memory
        self.revision_at = revision_at
        self.job_runs = job_runs
        self.room: dict[str, _NodeRoom] = {}
        self.active: dict[tuple[str, str], list[SimulatedPod]] = {
            (s.namespace, s.name): [] for s in workloads
        }
        self.running = {key: np.zeros(self.steps, dtype=int) for key in self.active}
        self.previous_nodes: dict[str, set[str]] = {group: set() for group in group_nodes_at}
        self.names: set[tuple[str, str]] = set()

    def step(self, i: int) -> None:
        gone = self._refresh_nodes(i)
        # The nodes with room, per group, in node order: the same for every workload this step
        # (built once per step, not once per workload: with hundreds of workloads it is the hot spot).
        candidates_of: dict[str, list[_NodeRoom]] = {}
        position_of: dict[str, dict[int, int]] = {}
        for group, per_step in self.group_nodes_at.items():
            candidates_of[group] = [self.room[n.node] for n in per_step[i] if n.node in self.room]
            position_of[group] = {id(r): k for k, r in enumerate(candidates_of[group])}
        for spec in self.workloads:
            self._step_workload(
                spec, i, gone, candidates_of[spec.node_group], position_of[spec.node_group]
            )

    def _refresh_nodes(self, i: int) -> set[str]:
        """Nodes that appear get their allocatable minus the DaemonSets; returns the gone ones
        (their pods are evicted)."""
        gone: set[str] = set()
        for group, per_step in self.group_nodes_at.items():
            now = {n.node for n in per_step[i]}
            for n in per_step[i]:
                if n.node not in self.room:
                    shape = NODE_SHAPES[n.instance_type]
                    self.room[n.node] = _NodeRoom(
                        n,
                        shape.cpu_allocatable - self.daemon_cpu,
                        shape.memory_allocatable - self.daemon_memory,
                    )
            gone |= self.previous_nodes[group] - now
            self.previous_nodes[group] = now
        for name in gone:
            self.room.pop(name, None)
        return gone

    def _end(self, pod: SimulatedPod, spec: WorkloadSpec, at: int) -> None:
        pod.stop = at
        slot = self.room.get(pod.node)
        if slot is not None:
            slot.cpu += sum(c.cpu_request for c in spec.containers)
            slot.memory += sum(c.memory_request for c in spec.containers)

    def _step_workload(
        self,
        spec: WorkloadSpec,
        i: int,
        gone: set[str],
        candidates: list[_NodeRoom],
        position: dict[int, int],
    ) -> None:
        """End the workload's stale and surplus pods, then start pods up to its replicas."""
        key = (spec.namespace, spec.name)
        revision = int(self.revision_at[key][i])
        run_id = int(self.job_runs[key][i]) if key in self.job_runs else None
        keep = []
        for pod in self.active[key]:
            stale = (
                pod.node in gone
                or pod.revision != revision
                or (run_id is not None and pod.run_id != run_id)
            )
            if stale:
                self._end(pod, spec, i)
            else:
                keep.append(pod)
        want = int(self.replicas[key][i])
        while len(keep) > want:
            self._end(keep.pop(), spec, i)  # the newest pod goes first, as a ReplicaSet scales down
        while len(keep) < want:
            started = self._start(spec, i, keep, candidates, position, revision, run_id)
            if started is None:
                break  # Pending: no node has room until the autoscaler adds one
            keep.append(started)
        self.active[key] = keep
        self.running[key][i] = len(keep)

    def _start(
        self,
        spec: WorkloadSpec,
        i: int,
        keep: list[SimulatedPod],
        candidates: list[_NodeRoom],
        position: dict[int, int],
        revision: int,
        run_id: int | None,
    ) -> SimulatedPod | None:
        """A new pod on the node with the most room (a StatefulSet's on the oldest that fits),
        or None when none fits."""
        cpu = sum(c.cpu_request for c in spec.containers)
        memory = sum(c.memory_request for c in spec.containers)
        fits = [r for r in candidates if r.cpu >= cpu - 1e-9 and r.memory >= memory]
        if not fits:
            return None
        if spec.kind == "StatefulSet":
            target = fits[0]  # the oldest node: it outlives every scale-down
        else:
            target = max(fits, key=lambda r: (r.cpu, -position[id(r)]))
        target.cpu -= cpu
        target.memory -= memory
        ordinal = _free_ordinal(keep) if spec.kind == "StatefulSet" else len(self.pods)
        node, steps, timestamps = target.node.node, self.steps, self.timestamps
        pod = _make_pod(spec, ordinal, revision, node, i, steps, run_id, timestamps)
        while spec.kind != "StatefulSet" and (pod.namespace, pod.pod) in self.names:
            # Random suffixes can collide, as in Kubernetes; the API server retries.
            ordinal += 100_003
            pod = _make_pod(spec, ordinal, revision, node, i, steps, run_id, timestamps)
        self.names.add((pod.namespace, pod.pod))
        self.pods.append(pod)
        return pod


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
