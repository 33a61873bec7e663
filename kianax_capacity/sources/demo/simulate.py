"""The simulation: demand and replicas per workload, autoscaled nodes, pods, container series."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from kianax_capacity.sources.demo.catalog import (
    DEFAULT_END,
    DEMO_CLUSTER,
    NODE_SHAPES,
    ZONES,
    WorkloadSpec,
)
from kianax_capacity.sources.demo.cluster import DemoCluster, SimulatedNode, seed_of
from kianax_capacity.sources.demo.clusters import (
    ClusterSpec,
    NodeGroupSpec,
    cluster_spec,
    cluster_workloads,
)
from kianax_capacity.sources.demo.demand import cron_active, demand_series, hpa_replicas
from kianax_capacity.sources.demo.scheduler import schedule_pods
from kianax_capacity.sources.demo.series import fill_series


def node_name(group: str, index: int, vpc: int = 0) -> str:
    # A distinct subnet per node group and a distinct address per node: names never repeat
    # (and a cluster in another VPC, ``vpc``, has names of its own).
    subnet = {"general-ng": 0, "system-ng": 64, "jobs-ng": 128}.get(group, 192)
    third = 16 + subnet + index // 250
    return f"ip-10-{vpc}-{third}-{index % 250 + 4}.ec2.internal"


def simulate_demo_cluster(
    end: datetime | None = None,
    days: float = 21,
    step_seconds: int = 300,
    scale: int = 1,
    seed: int | None = None,
    cluster: str = DEMO_CLUSTER,
) -> DemoCluster:
    """Simulate a demo cluster over ``days`` ending at ``end`` (default :data:`DEFAULT_END`).

    ``cluster`` picks the cluster of :data:`~.clusters.DEMO_CLUSTERS` (production, or
    ``kianax-dev``); ``seed`` defaults to that cluster's own.
    """
    spec_of_cluster = cluster_spec(cluster)
    seed = spec_of_cluster.seed if seed is None else seed
    end = (end or DEFAULT_END).astimezone(UTC)
    steps = int(round(days * 86400 / step_seconds))
    if steps < 2:
        raise ValueError("the demo window must hold at least two steps")
    timestamps = pd.date_range(
        end=end, periods=steps, freq=pd.Timedelta(seconds=step_seconds), tz=UTC
    )
    specs, extras = cluster_workloads(spec_of_cluster, scale)

    # 1. Demand and replicas per workload (independent of placement).
    demand: dict[tuple[str, str], np.ndarray] = {}
    replicas: dict[tuple[str, str], np.ndarray] = {}
    hpa_current: dict[tuple[str, str], np.ndarray] = {}
    hpa_desired: dict[tuple[str, str], np.ndarray] = {}
    for spec in [*specs, *extras]:
        key = (spec.namespace, spec.name)
        rng = np.random.default_rng([seed, seed_of("demand", *key) % 2**32])
        demand[key] = demand_series(spec.demand, spec.demand_scale, timestamps, rng)
        if spec.hpa is not None:
            memory_per_pod = sum(c.memory_base for c in spec.containers)
            current, desired = hpa_replicas(demand[key], memory_per_pod, spec)
            hpa_current[key], hpa_desired[key] = current, desired
            replicas[key] = current
        elif spec.kind == "CronJob":
            replicas[key] = cron_active(spec, timestamps, step_seconds)
        elif spec.kind != "DaemonSet":
            replicas[key] = np.full(steps, spec.replicas, dtype=int)

    # 2. Nodes: fixed system-ng, autoscaled general-ng (requests over allocatable,
    #    scale-down after 10 minutes), jobs-ng spot nodes only while jobs run.
    nodes: list[SimulatedNode] = []
    group_nodes_at: dict[str, list[list[SimulatedNode]]] = {}
    groups = spec_of_cluster.node_groups
    requested = {g.name: np.zeros(steps) for g in groups}
    requested_memory = {g.name: np.zeros(steps) for g in groups}
    for spec in specs:
        if spec.kind == "DaemonSet":
            continue
        count = replicas[(spec.namespace, spec.name)]
        requested[spec.node_group] += count * sum(c.cpu_request for c in spec.containers)
        requested_memory[spec.node_group] += count * sum(c.memory_request for c in spec.containers)
    daemons = [s for s in specs if s.kind == "DaemonSet"]
    daemon_cpu = sum(sum(c.cpu_request for c in s.containers) for s in daemons)
    daemon_memory = sum(sum(c.memory_request for c in s.containers) for s in daemons)
    for group in groups:
        shape = NODE_SHAPES[group.instance_type]
        needed = np.maximum(
            np.ceil(requested[group.name] / (shape.cpu_allocatable - daemon_cpu) - 1e-9),
            # Memory too: on small nodes (the dev cluster's) memory fills a node first.
            np.ceil(
                requested_memory[group.name] / (shape.memory_allocatable - daemon_memory) - 1e-9
            ),
        )
        if group.fixed:
            needed = np.full(steps, group.min_size * max(1, math.ceil(scale / 10)))
        else:
            needed = np.clip(needed, group.min_size, max(group.max_size, group.max_size * scale))
        created, per_step = _autoscaled_nodes(group, needed, step_seconds, spec_of_cluster.subnet)
        nodes.extend(created)
        group_nodes_at[group.name] = per_step

    # 3. Pods, step by step as the scheduler sees them: a workload that wants more pods than
    #    run gets new ones on the node with the most free requests; a pod that fits nowhere
    #    stays Pending (it counts for the HPA, not for usage) until a node has room. A
    #    rollout, a finished job run or the removal of its node ends a pod; the replacement
    #    is a new pod with a new name.
    pods, running = schedule_pods(
        specs, replicas, nodes, group_nodes_at, timestamps, step_seconds, seed
    )
    # 3b. The later additions on general-ng nodes of their own, sized for their peak requests:
    #     every workload above keeps its nodes, pods and names.
    extra_nodes = _extra_nodes(
        extras,
        replicas,
        (daemon_cpu, daemon_memory),
        steps,
        start_index=sum(1 for n in nodes if n.node_group == "general-ng"),
        cluster=spec_of_cluster,
    )
    extra_pods, extra_running = schedule_pods(
        [*extras, *daemons], replicas, extra_nodes, {"general-ng": [extra_nodes] * steps},
        timestamps, step_seconds, seed,
    )  # fmt: skip
    nodes.extend(extra_nodes)
    pods.extend(extra_pods)
    running.update(extra_running)
    specs = [*specs, *extras]
    # 4. Container series for every pod.
    by_key = {(spec.namespace, spec.name): spec for spec in specs}
    for pod in pods:
        fill_series(pod, by_key, demand, running, timestamps, step_seconds, seed)
    return DemoCluster(
        cluster=spec_of_cluster.name,
        timestamps=timestamps,
        step_seconds=step_seconds,
        workloads=specs,
        nodes=nodes,
        pods=pods,
        hpa_current=hpa_current,
        hpa_desired=hpa_desired,
    )


def _autoscaled_nodes(
    group: NodeGroupSpec, needed: np.ndarray, step_seconds: int, vpc: int
) -> tuple[list[SimulatedNode], list[list[SimulatedNode]]]:
    """The group's nodes in the order they joined, and the nodes up at each step.

    The cluster autoscaler scales down only after 10 minutes below the need; the newest node
    goes first.
    """
    steps = len(needed)
    window = max(1, int(600 // step_seconds))
    held = pd.Series(needed).rolling(window + 1, min_periods=1).max().to_numpy()
    count = held.astype(int)
    active: list[SimulatedNode] = []
    per_step: list[list[SimulatedNode]] = []
    joined: list[SimulatedNode] = []
    for i in range(steps):
        while len(active) < count[i]:
            created = len(joined)
            joined.append(
                SimulatedNode(
                    node=node_name(group.name, created, vpc),
                    node_group=group.name,
                    instance_type=group.instance_type,
                    zone=ZONES[created % 3],
                    capacity_type=group.capacity_type,
                    start=i,
                    stop=steps,
                )
            )
            active.append(joined[-1])
        while len(active) > count[i]:
            gone = active.pop()  # the newest node goes first
            gone.stop = i
        per_step.append(list(active))
    return joined, per_step


def _extra_nodes(
    extras: list[WorkloadSpec],
    replicas: Mapping[tuple[str, str], np.ndarray],
    daemon_requests: tuple[float, float],
    steps: int,
    start_index: int,
    cluster: ClusterSpec,
) -> list[SimulatedNode]:
    """Enough general-ng nodes, up the whole window, for the extras at their peak requests."""
    if not extras:
        return []
    cpu = np.zeros(steps)
    memory = np.zeros(steps)
    for spec in extras:
        pods = replicas[(spec.namespace, spec.name)]
        cpu += pods * sum(c.cpu_request for c in spec.containers)
        memory += pods * sum(c.memory_request for c in spec.containers)
    group = cluster.node_group("general-ng")
    shape = NODE_SHAPES[group.instance_type]
    # Whole pods per node: a pod's memory does not split across two nodes.
    per_pod_memory = max(sum(c.memory_request for c in s.containers) for s in extras)
    pods_by_memory = max(1, int((shape.memory_allocatable - daemon_requests[1]) // per_pod_memory))
    by_cpu = math.ceil(float(cpu.max()) / (shape.cpu_allocatable - daemon_requests[0]) - 1e-9)
    by_memory = math.ceil(float(memory.max()) / per_pod_memory / pods_by_memory - 1e-9)
    nodes = max(1, by_cpu, by_memory)
    return [
        SimulatedNode(
            node=node_name("general-ng", start_index + k, cluster.subnet),
            node_group="general-ng",
            instance_type=group.instance_type,
            zone=ZONES[(start_index + k) % 3],
            capacity_type="ON_DEMAND",
            start=0,
            stop=steps,
        )
        for k in range(nodes)
    ]
