"""The demo's fleet: the production cluster and the dev cluster, declared as data.

``kianax-dev`` runs the same services as ``kianax-production`` (the same charts, synced by the
same ArgoCD from ``values-dev.yaml``): HPAs between 1 and 3 replicas, fixed-size workloads at
one replica, a fraction of production's traffic (developers and CI), on fewer and smaller
nodes, in its own VPC (node names ``ip-10-1-...``), simulated with its own seed. Its
recommendations use the ``development`` profile.

Production's definition reproduces the demo as it always was: its workloads are the catalogue's
unchanged, its node groups those of the strategy document.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kianax_capacity.sources.demo.catalog import (
    DEMO_CLUSTER,
    WorkloadSpec,
    demo_workloads,
    jvm_workloads,
)

__all__ = [
    "DEMO_CLUSTERS",
    "DEV_CLUSTER",
    "ClusterSpec",
    "NodeGroupSpec",
    "cluster_spec",
    "cluster_workloads",
]

DEV_CLUSTER = "kianax-dev"
#: Namespaces of the platform add-ons: the dev overrides leave them as production runs them.
PLATFORM_NAMESPACES = ("kube-system", "monitoring", "argocd", "logging")


@dataclass(frozen=True)
class NodeGroupSpec:
    """One node group: its instance type and the autoscaler's bounds (min == max: fixed size)."""

    name: str
    instance_type: str
    min_size: int
    max_size: int
    capacity_type: str = "ON_DEMAND"

    @property
    def fixed(self) -> bool:
        return self.min_size == self.max_size


@dataclass(frozen=True)
class ClusterSpec:
    """A simulated cluster: its node groups, the overrides its values files apply, its seed.

    ``hpa_replicas`` (min, max) replaces every application HPA's bounds and ``max_replicas``
    caps fixed-size application workloads (None: as the catalogue says); ``demand_scale``
    multiplies the application workloads' load. ``subnet`` is the second octet of the VPC's
    addresses, so node names differ between clusters.
    """

    name: str
    profile: str
    seed: int
    node_groups: tuple[NodeGroupSpec, ...]
    demand_scale: float = 1.0
    hpa_replicas: tuple[int, int] | None = None
    max_replicas: int | None = None
    subnet: int = 0

    def node_group(self, name: str) -> NodeGroupSpec:
        return next(group for group in self.node_groups if group.name == name)


PRODUCTION = ClusterSpec(
    name=DEMO_CLUSTER,
    profile="production",
    seed=20261123,
    node_groups=(
        NodeGroupSpec("general-ng", "t3.medium", 2, 5),
        NodeGroupSpec("system-ng", "t3.small", 2, 2),
        NodeGroupSpec("jobs-ng", "m5.large", 0, 10, "SPOT"),
    ),
)

DEV = ClusterSpec(
    name=DEV_CLUSTER,
    profile="development",
    seed=20261124,
    node_groups=(
        NodeGroupSpec("general-ng", "t3.small", 2, 4),
        NodeGroupSpec("system-ng", "t3.small", 1, 1),
        NodeGroupSpec("jobs-ng", "c5.large", 0, 2, "SPOT"),
    ),
    demand_scale=0.15,
    hpa_replicas=(1, 3),
    max_replicas=1,
    subnet=1,
)

#: The demo's clusters by name, production first.
DEMO_CLUSTERS: dict[str, ClusterSpec] = {spec.name: spec for spec in (PRODUCTION, DEV)}


def cluster_spec(name: str | None = None) -> ClusterSpec:
    """The demo cluster of that name; another name is production's cluster under that name.

    (``fetch --source demo --cluster my-name`` has always written the production demo under
    the name given; only ``kianax-dev`` is a cluster of its own.)
    """
    if name is None:
        return PRODUCTION
    return DEMO_CLUSTERS.get(name) or replace(PRODUCTION, name=name)


def _override(spec: WorkloadSpec, cluster: ClusterSpec) -> WorkloadSpec:
    if spec.namespace in PLATFORM_NAMESPACES:
        return spec
    changes: dict[str, Any] = {}
    if cluster.demand_scale != 1.0:
        changes["demand_scale"] = spec.demand_scale * cluster.demand_scale
    if spec.hpa is not None and cluster.hpa_replicas is not None:
        low, high = cluster.hpa_replicas
        changes["hpa"] = replace(spec.hpa, min_replicas=low, max_replicas=high)
    if cluster.max_replicas is not None and spec.replicas > cluster.max_replicas:
        changes["replicas"] = cluster.max_replicas
    return replace(spec, **changes) if changes else spec


def cluster_workloads(
    cluster: ClusterSpec, scale: int = 1
) -> tuple[list[WorkloadSpec], list[WorkloadSpec]]:
    """The cluster's workloads: (scheduled with the rest, on general-ng nodes of their own)."""
    return (
        [_override(spec, cluster) for spec in demo_workloads(scale)],
        [_override(spec, cluster) for spec in jvm_workloads(scale)],
    )
