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
    demo_workloads,
    jvm_workloads,
)
from kianax_capacity.sources.demo.cluster import DemoCluster, SimulatedNode, seed_of
from kianax_capacity.sources.demo.demand import cron_active, demand_series, hpa_replicas
from kianax_capacity.sources.demo.scheduler import schedule_pods
from kianax_capacity.sources.demo.series import fill_series


def node_name(group: str, index: int) -> str:
    # A distinct subnet per node group and a distinct address per node: names never repeat.
    subnet = {"general-ng": 0, "system-ng": 64, "jobs-ng": 128}.get(group, 192)
    third = 16 + subnet + index // 250
    return f"ip-10-0-{third}-{index % 250 + 4}.ec2.internal"


def simulate_demo_cluster(
    end: datetime | None = None,
    days: float = 21,
    step_seconds: int = 300,
    scale: int = 1,
    seed: int = 20261123,
    cluster: str = DEMO_CLUSTER,
) -> DemoCluster:
    """Simulate the demo cluster over ``days`` ending at ``end`` (default :data:`DEFAULT_END`)."""
    end = (end or DEFAULT_END).astimezone(UTC)
    steps = int(round(days * 86400 / step_seconds))
    if steps < 2:
        raise ValueError("the demo window must hold at least two steps")
    timestamps = pd.date_range(
        end=end, periods=steps, freq=pd.Timedelta(seconds=step_seconds), tz=UTC
    )
    specs = demo_workloads(scale)
    extras = jvm_workloads(scale)

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
    requested: dict[str, np.ndarray] = {
        g: np.zeros(steps) for g in ("general-ng", "system-ng", "jobs-ng")
    }
    for spec in specs:
        if spec.kind == "DaemonSet":
            continue
        per_pod = sum(c.cpu_request for c in spec.containers)
        requested[spec.node_group] += replicas[(spec.namespace, spec.name)] * per_pod
    shapes = {"general-ng": "t3.medium", "system-ng": "t3.small", "jobs-ng": "m5.large"}
    daemon_cpu = sum(
        sum(c.cpu_request for c in s.containers) for s in specs if s.kind == "DaemonSet"
    )
    for group, instance_type in shapes.items():
        alloc = NODE_SHAPES[instance_type].cpu_allocatable - daemon_cpu
        needed = np.ceil(requested[group] / alloc - 1e-9)
        if group == "general-ng":
            needed = np.clip(needed, 2, max(5, 5 * scale))
        elif group == "system-ng":
            needed = np.full(steps, 2 * max(1, math.ceil(scale / 10)))
        else:
            needed = np.clip(needed, 0, 10 * scale)
        # Cluster autoscaler: scale down only after 10 minutes below the need.
        window = max(1, int(600 // step_seconds))
        held = pd.Series(needed).rolling(window + 1, min_periods=1).max().to_numpy()
        count = held.astype(int)
        active: list[SimulatedNode] = []
        per_step: list[list[SimulatedNode]] = []
        created = 0
        for i in range(steps):
            while len(active) < count[i]:
                node = SimulatedNode(
                    node=node_name(group, created),
                    node_group=group,
                    instance_type=instance_type,
                    zone=ZONES[created % 3],
                    capacity_type="SPOT" if group == "jobs-ng" else "ON_DEMAND",
                    start=i,
                    stop=steps,
                )
                created += 1
                active.append(node)
                nodes.append(node)
            while len(active) > count[i]:
                gone = active.pop()  # the newest node goes first
                gone.stop = i
            per_step.append(list(active))
        group_nodes_at[group] = per_step

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
        daemon_cpu,
        steps,
        start_index=sum(1 for n in nodes if n.node_group == "general-ng"),
    )
    daemons = [s for s in specs if s.kind == "DaemonSet"]
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
        cluster=cluster,
        timestamps=timestamps,
        step_seconds=step_seconds,
        workloads=specs,
        nodes=nodes,
        pods=pods,
        hpa_current=hpa_current,
        hpa_desired=hpa_desired,
    )


def _extra_nodes(
    extras: list[WorkloadSpec],
    replicas: Mapping[tuple[str, str], np.ndarray],
    daemon_cpu: float,
    steps: int,
    start_index: int,
) -> list[SimulatedNode]:
    """Enough t3.medium general-ng nodes, up the whole window, for the extras at their peak."""
    if not extras:
        return []
    peak = np.zeros(steps)
    for spec in extras:
        peak += replicas[(spec.namespace, spec.name)] * sum(c.cpu_request for c in spec.containers)
    alloc = NODE_SHAPES["t3.medium"].cpu_allocatable - daemon_cpu
    count = max(1, math.ceil(float(peak.max()) / alloc - 1e-9))
    return [
        SimulatedNode(
            node=node_name("general-ng", start_index + k),
            node_group="general-ng",
            instance_type="t3.medium",
            zone=ZONES[(start_index + k) % 3],
            capacity_type="ON_DEMAND",
            start=0,
            stop=steps,
        )
        for k in range(count)
    ]
