"""The simulated cluster as snapshot tables, and the in-memory demo snapshot."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pandas as pd

from kianax_capacity.snapshot import Snapshot, SnapshotManifest
from kianax_capacity.sources.demo.catalog import DEMO_CLUSTER, NODE_SHAPES, jvm_area_max
from kianax_capacity.sources.demo.cluster import DemoCluster
from kianax_capacity.sources.demo.simulate import simulate_demo_cluster


def snapshot_tables(demo: DemoCluster) -> dict[str, pd.DataFrame]:
    """The snapshot's tables of a simulated window (``jvm_memory`` only when a JVM ran)."""
    jvm = _jvm_table(demo)
    return {
        **({"jvm_memory": jvm} if not jvm.empty else {}),
        "nodes": _nodes_table(demo),
        "workloads": _workloads_table(demo),
        "pods": _pods_table(demo),
        "containers": _containers_table(demo),
        "usage": _usage_table(demo),
        "hpas": _hpas_table(demo),
        "replicas": _replicas_table(demo),
        "terminations": _terminations_table(demo),
    }


def _nodes_table(demo: DemoCluster) -> pd.DataFrame:
    ts = demo.timestamps
    return pd.DataFrame(
        [
            {
                "node": n.node,
                "node_group": n.node_group,
                "instance_type": n.instance_type,
                "zone": n.zone,
                "capacity_type": n.capacity_type,
                "architecture": NODE_SHAPES[n.instance_type].architecture,
                "cpu_capacity_cores": NODE_SHAPES[n.instance_type].cpu,
                "memory_capacity_bytes": NODE_SHAPES[n.instance_type].memory,
                "cpu_allocatable_cores": NODE_SHAPES[n.instance_type].cpu_allocatable,
                "memory_allocatable_bytes": NODE_SHAPES[n.instance_type].memory_allocatable,
                "pods_allocatable": float(NODE_SHAPES[n.instance_type].pods),
                "first_seen": ts[n.start],
                "last_seen": ts[n.stop - 1],
                # The demo's nodes carry the EKS managed node-group labels (the OpenMetrics
                # export writes them as kube_node_labels), so a fetch of the export says the same.
                "instance_type_source": "kube_node_labels",
                "node_group_source": "kube_node_labels",
                "zone_source": "kube_node_labels",
                "capacity_type_source": "kube_node_labels",
                "provisioner": "managed",
                "instance_id": n.instance_id,
            }
            for n in demo.nodes
        ]
    )


def _workloads_table(demo: DemoCluster) -> pd.DataFrame:
    workloads = []
    for spec in demo.workloads:
        disruptions = math.nan
        if spec.pdb_min_available is not None:
            typical = spec.hpa.min_replicas if spec.hpa else spec.replicas
            disruptions = float(max(typical - spec.pdb_min_available, 0))
        workloads.append(
            {
                "namespace": spec.namespace,
                "kind": spec.kind,
                "workload": spec.name,
                "pdb_min_available": float(spec.pdb_min_available)
                if spec.pdb_min_available is not None
                else math.nan,
                "pdb_max_unavailable": math.nan,
                "pdb_disruptions_allowed": disruptions,
                "has_pvc": spec.has_pvc,
                "has_emptydir": spec.has_emptydir,
            }
        )
    return pd.DataFrame(workloads)


def _pods_table(demo: DemoCluster) -> pd.DataFrame:
    ts = demo.timestamps
    return pd.DataFrame(
        [
            {
                "namespace": p.namespace,
                "pod": p.pod,
                "kind": p.kind,
                "workload": p.workload,
                "node": p.node,
                "first_seen": ts[p.start],
                "last_seen": ts[p.stop - 1],
            }
            for p in demo.pods
        ]
    )


def _containers_table(demo: DemoCluster) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "namespace": p.namespace,
                "pod": p.pod,
                "container": c.name,
                "cpu_request_cores": c.cpu_request,
                "cpu_limit_cores": c.cpu_limit,
                "memory_request_bytes": float(c.memory_request),
                "memory_limit_bytes": float(c.memory_limit),
                "restarts": len(p.oom_steps[c.name]),
                "oom_kills": len(p.oom_steps[c.name]),
            }
            for p in demo.pods
            for c in p.containers
        ]
    )


def _usage_table(demo: DemoCluster) -> pd.DataFrame:
    usage = pd.concat(list(_usage_frames(demo)), ignore_index=True)
    for column in ("namespace", "pod", "container"):
        usage[column] = usage[column].astype("category")
    return usage


def _hpas_table(demo: DemoCluster) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "namespace": s.namespace,
                "hpa": s.name,
                "kind": s.kind,
                "workload": s.name,
                "min_replicas": s.hpa.min_replicas,
                "max_replicas": s.hpa.max_replicas,
                "target_cpu_utilization": s.hpa.target_cpu if s.hpa.target_cpu else math.nan,
                "target_memory_utilization": s.hpa.target_memory
                if s.hpa.target_memory
                else math.nan,
                "scale_down_stabilization_seconds": 300.0,
                "target_container": "",  # the demo's HPAs use pod-level Resource metrics
            }
            for s in demo.workloads
            if s.hpa is not None
        ]
    )


def _replicas_table(demo: DemoCluster) -> pd.DataFrame:
    replicas = pd.concat(
        [
            pd.DataFrame(
                {
                    "timestamp": demo.timestamps,
                    "namespace": ns,
                    "hpa": name,
                    "current_replicas": demo.hpa_current[(ns, name)].astype(float),
                    "desired_replicas": demo.hpa_desired[(ns, name)].astype(float),
                }
            )
            for (ns, name) in demo.hpa_current
        ],
        ignore_index=True,
    )
    # One row per HPA and step: categorical labels, as the Prometheus source writes them.
    for column in ("namespace", "hpa"):
        replicas[column] = replicas[column].astype("category")
    return replicas


def _terminations_table(demo: DemoCluster) -> pd.DataFrame:
    ts = demo.timestamps
    terminations = pd.DataFrame(
        [
            {
                "timestamp": ts[i],
                "namespace": p.namespace,
                "pod": p.pod,
                "container": name,
                "reason": "OOMKilled",
            }
            for p in demo.pods
            for name, steps in p.oom_steps.items()
            for i in steps
        ],
        columns=["timestamp", "namespace", "pod", "container", "reason"],
    )
    terminations["timestamp"] = pd.to_datetime(terminations["timestamp"], utc=True)
    return terminations


def _jvm_table(demo: DemoCluster) -> pd.DataFrame:
    """Micrometer's jvm_memory_used_bytes / jvm_memory_max_bytes summed over pools by area.

    Max is the sum of the pools' defined maxima (:data:`JVM_POOLS`; -1, undefined, left out):
    -Xmx for the heap, the code heaps and compressed class space for non-heap.
    """
    ts = demo.timestamps
    frames = []
    for p in demo.pods:
        for name, (heap, nonheap) in p.jvm.items():
            spec = next(c for c in p.containers if c.name == name)
            for area, used, most in (
                ("heap", heap, jvm_area_max("heap", spec.jvm_heap_max)),
                ("nonheap", nonheap, jvm_area_max("nonheap", spec.jvm_heap_max)),
            ):
                frames.append(
                    pd.DataFrame(
                        {
                            "timestamp": ts[p.start : p.stop],
                            "namespace": p.namespace,
                            "pod": p.pod,
                            "container": name,
                            "area": area,
                            "used_bytes": used,
                            "max_bytes": most,
                        }
                    )
                )
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def _usage_frames(demo: DemoCluster) -> Iterator[pd.DataFrame]:
    ts = demo.timestamps
    for p in demo.pods:
        for c in p.containers:
            yield pd.DataFrame(
                {
                    "timestamp": ts[p.start : p.stop],
                    "namespace": p.namespace,
                    "pod": p.pod,
                    "container": c.name,
                    "cpu_cores": p.cpu[c.name],
                    "memory_bytes": p.memory[c.name],
                    "cpu_throttled_ratio": p.throttled[c.name],
                }
            )


def generate_demo_snapshot(
    end: datetime | None = None,
    days: float = 21,
    step_seconds: int = 300,
    scale: int = 1,
    created_at: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    cluster: str | None = None,
) -> Snapshot:
    """A demo cluster as an in-memory :class:`Snapshot` (write it with ``write_snapshot``).

    ``cluster``: ``kianax-production`` (default) or ``kianax-dev`` (see :mod:`.clusters`).

    Example:
        >>> snap = generate_demo_snapshot(days=3)
        >>> sorted(snap.nodes.node_group.unique())
        ['general-ng', 'jobs-ng', 'system-ng']
    """
    demo = simulate_demo_cluster(
        end=end,
        days=days,
        step_seconds=step_seconds,
        scale=scale,
        cluster=cluster or DEMO_CLUSTER,
    )
    tables = snapshot_tables(demo)
    manifest = SnapshotManifest(
        cluster=demo.cluster,
        window_start=demo.start,
        window_end=demo.end,
        step_seconds=step_seconds,
        source="demo",
        created_at=created_at or demo.end + timedelta(hours=1),
        tables={name: len(frame) for name, frame in tables.items()},
        extra={"demo": {"days": days, "scale": scale}},
    )
    return Snapshot(manifest=manifest, tables=tables)
