"""Spot readiness per workload: which ones can move to spot capacity, what stops the others.

A workload is spot-ready when losing a node with two minutes' notice costs it nothing a user
would see. Each rule that fails becomes a named blocker (the row's ``blockers`` are sentences
starting with the blocker's tag; ``extra["blocker_codes"]`` holds the machine-readable codes):

============== ==========================================================================
code           rule
============== ==========================================================================
``kind``       Deployments (and their ReplicaSets), CronJobs and Jobs may move; StatefulSets
               not by default (identity and storage); bare Pods have no controller to
               recreate them. DaemonSets are *not applicable*: they run on every node.
``replicas``   long-running workloads need >= 2 running replicas (median over the window)
               (from :func:`~kianax_capacity.recommenders.inventory.median_replicas`).
``pdb``        long-running workloads need a PodDisruptionBudget that allows a disruption,
               so a drained node never takes the last replica.
``pvc``        no PersistentVolumeClaim (EBS volumes are zonal and re-attach slowly).
``emptydir``   no emptyDir state (lost with the node).
``system``     not a system add-on namespace (kube-system, monitoring, argocd, logging).
``override``   ``spot_overrides`` in the config said false.
============== ==========================================================================

Batch work (CronJobs, Jobs) is retried by its controller, so the replica and PDB rules do not
apply to it. A workload whose pods already run on spot nodes is reported ready with the note
"already on spot" and zero savings; any rule it breaks is kept in ``extra["warnings"]``.
A config override (``"namespace/workload" = true``) makes a workload ready and keeps the
blockers it overrode in ``extra["overridden_blockers"]``.

Savings: the workload's requests (latest requests x average replicas) priced at the on-demand
unit prices of its node group minus the same requests at spot unit prices of the instance type
it runs on (the on-demand unit prices scaled by that type's spot / on-demand price ratio).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kianax_capacity.model import ResourcePrices
from kianax_capacity.recommendations import SpotRow
from kianax_capacity.recommenders.inventory import (
    WORKLOAD_KEY,
    container_inventory,
    median_replicas,
    workload_node_groups,
)
from kianax_capacity.recommenders.packing import PricedCatalog
from kianax_capacity.snapshot import Snapshot

__all__ = [
    "DEFAULT_SYSTEM_NAMESPACES",
    "SpotAssessment",
    "assess_spot",
    "recommend_spot",
    "spot_frame",
]

DEFAULT_SYSTEM_NAMESPACES = ("kube-system", "monitoring", "argocd", "logging")

_SERVICE_KINDS = ("Deployment", "ReplicaSet")
_BATCH_KINDS = ("CronJob", "Job")


@dataclass(frozen=True)
class SpotAssessment:
    """The price-free half of a spot row: blockers and placement of one workload."""

    namespace: str
    kind: str
    workload: str
    blockers: tuple[str, ...]
    blocker_codes: tuple[str, ...]
    replicas_avg: float | None
    node_group: str | None
    instance_type: str | None
    capacity_type: str | None
    applicable: bool = True
    override: bool | None = None
    #: Share of the workload's pod-time already on spot nodes (0 = none, 1 = all).
    spot_share: float = 0.0

    @property
    def already_on_spot(self) -> bool:
        # All of it: a workload partly on spot is offered savings on the rest only.
        return self.spot_share >= 1.0 - 1e-9

    @property
    def ready(self) -> bool:
        if not self.applicable:
            return False
        if self.override is not None:
            return self.override
        return self.already_on_spot or not self.blockers


def assess_spot(
    snapshot: Snapshot,
    *,
    overrides: Mapping[str, bool] | None = None,
    system_namespaces: Sequence[str] = DEFAULT_SYSTEM_NAMESPACES,
) -> tuple[SpotAssessment, ...]:
    """Name every spot blocker of every workload; no prices needed.

    Args:
        snapshot: the cluster snapshot (workloads, pods, nodes, usage tables).
        overrides: "namespace/workload" -> ready, from ``spot_overrides`` in the config.
        system_namespaces: namespaces of cluster add-ons that stay on on-demand nodes.

    Returns:
        One assessment per workload in the workloads table, sorted by (namespace, kind, workload).
    """
    overrides = overrides or {}
    workloads = snapshot.table("workloads").drop_duplicates(WORKLOAD_KEY)
    avg_replicas = median_replicas(snapshot)
    placement = {
        (str(r.namespace), str(r.kind), str(r.workload)): r
        for r in workload_node_groups(snapshot).itertuples(index=False)
    }
    shares = spot_shares(snapshot)
    out: list[SpotAssessment] = []
    for row in workloads.sort_values(WORKLOAD_KEY).itertuples(index=False):
        key = (str(row.namespace), str(row.kind), str(row.workload))
        namespace, kind, name = key
        replicas_avg = avg_replicas.get(key)
        placed = placement.get(key)
        blockers: list[tuple[str, str]] = []
        applicable = kind != "DaemonSet"
        if not applicable:
            blockers.append(
                (
                    "kind",
                    "DaemonSet: not applicable (runs one pod on every node, whatever its capacity)",
                )
            )
        elif kind == "StatefulSet":
            blockers.append(
                ("kind", "StatefulSet: stable identity and storage; not moved to spot by default")
            )
        elif kind not in _SERVICE_KINDS + _BATCH_KINDS:
            blockers.append(
                ("kind", f"{kind}: no controller that recreates its pods on another node")
            )
        long_running = kind not in _BATCH_KINDS
        if applicable and long_running:
            if replicas_avg is None:
                blockers.append(("replicas", "replicas: no running pods seen in the window"))
            elif replicas_avg < 2 - 1e-9:
                blockers.append(
                    (
                        "replicas",
                        f"replicas: typically {replicas_avg:.1f} running (needs >= 2 so one survives)",
                    )
                )
            pdb_reason = _pdb_blocker(row, replicas_avg)
            if pdb_reason:
                blockers.append(("pdb", pdb_reason))
        if bool(row.has_pvc):
            blockers.append(
                ("pvc", "PVC: mounts a PersistentVolumeClaim (zonal volume, slow re-attach)")
            )
        if bool(row.has_emptydir):
            blockers.append(
                ("emptydir", "emptyDir: keeps state on the node's disk, lost on interruption")
            )
        if namespace in system_namespaces:
            blockers.append(
                ("system", f"system namespace: {namespace} add-ons stay on on-demand nodes")
            )
        override = overrides.get(f"{namespace}/{name}")
        if override is False:
            blockers.append(("override", "override: marked not spot-ready in spot_overrides"))
        out.append(
            SpotAssessment(
                namespace=namespace,
                kind=kind,
                workload=name,
                blockers=tuple(text for _, text in blockers),
                blocker_codes=tuple(code for code, _ in blockers),
                replicas_avg=replicas_avg,
                node_group=_opt_str(getattr(placed, "node_group", None)),
                instance_type=_opt_str(getattr(placed, "instance_type", None)),
                capacity_type=_opt_str(getattr(placed, "capacity_type", None)),
                applicable=applicable,
                override=override,
                spot_share=shares.get(key, 0.0),
            )
        )
    return tuple(out)


def spot_shares(snapshot: Snapshot) -> dict[tuple[str, str, str], float]:
    """(namespace, kind, workload) -> share of its pod-time on nodes whose capacity type is SPOT."""
    pods = snapshot.table("pods")
    nodes = snapshot.table("nodes")
    if pods.empty or nodes.empty:
        return {}
    placed = pods.merge(nodes[["node", "capacity_type"]], on="node", how="left")
    seconds = (placed["last_seen"] - placed["first_seen"]).dt.total_seconds() + 1
    on_spot = placed["capacity_type"].astype(str).str.upper().eq("SPOT")
    frame = pd.DataFrame(
        {
            "namespace": placed["namespace"].astype(str),
            "kind": placed["kind"].astype(str),
            "workload": placed["workload"].astype(str),
            "total": seconds,
            "spot": seconds.where(on_spot, 0.0),
        }
    )
    sums = frame.groupby(["namespace", "kind", "workload"])[["total", "spot"]].sum()
    return {_key(k): float(v.spot / v.total) if v.total > 0 else 0.0 for k, v in sums.iterrows()}


def _pdb_blocker(row: object, replicas_avg: float | None) -> str | None:
    allowed = _opt_float(getattr(row, "pdb_disruptions_allowed", None))
    min_available = _opt_float(getattr(row, "pdb_min_available", None))
    max_unavailable = _opt_float(getattr(row, "pdb_max_unavailable", None))
    if allowed is None:
        # The status may be missing while the spec is known: derive what it would allow.
        if max_unavailable is not None:
            allowed = max_unavailable
        elif min_available is not None and replicas_avg is not None:
            allowed = math.floor(replicas_avg) - min_available
    if allowed is None:
        return "PDB: none covers the workload (add one with minAvailable 1 or maxUnavailable 1)"
    if allowed < 1:
        return "PDB: allows no disruption (minAvailable equals the replicas)"
    return None


def recommend_spot(
    snapshot: Snapshot,
    catalog: PricedCatalog,
    *,
    unit_prices: Mapping[str, ResourcePrices] | None = None,
    overrides: Mapping[str, bool] | None = None,
    system_namespaces: Sequence[str] = DEFAULT_SYSTEM_NAMESPACES,
    assessments: Sequence[SpotAssessment] | None = None,
) -> tuple[SpotRow, ...]:
    """Spot readiness rows, with the monthly saving of moving each ready workload.

    Args:
        snapshot: the cluster snapshot.
        catalog: instance prices and spot interruption ranges.
        unit_prices: node group -> on-demand price of one core-hour and one GiB-hour there (the
            cost allocator's unit prices). A group missing here is priced from the catalog's
            unit prices for its instance type.
        overrides: "namespace/workload" -> ready (config ``spot_overrides``).
        system_namespaces: namespaces of add-ons that stay on on-demand nodes.
        assessments: ``assess_spot(snapshot, overrides=..., system_namespaces=...)`` when the
            caller already has it (node groups use it too); computed here otherwise.

    Returns:
        One :class:`SpotRow` per workload. ``extra`` holds ``blocker_codes``, ``replicas_avg``,
        ``node_group``, ``instance_type``, ``capacity_type`` and ``note``.
    """
    unit_prices = unit_prices or {}
    if assessments is None:
        assessments = assess_spot(
            snapshot, overrides=overrides, system_namespaces=system_namespaces
        )
    requests = _workload_requests(snapshot)
    rows: list[SpotRow] = []
    for item in assessments:
        extra: dict[str, object] = {
            "blocker_codes": list(item.blocker_codes),
            "replicas_avg": item.replicas_avg,
            "node_group": item.node_group,
            "instance_type": item.instance_type,
            "capacity_type": item.capacity_type,
            "applicable": item.applicable,
            "spot_share": round(item.spot_share, 4),
        }
        interruption = (
            catalog.interruption_range(item.instance_type) if item.instance_type else None
        )
        blockers = item.blockers
        savings: float | None = None
        if item.already_on_spot:
            extra["note"] = "already on spot"
            if blockers:
                extra["warnings"] = list(blockers)
            blockers = ()
            savings = 0.0
        elif item.ready:
            if item.override:
                extra["note"] = "spot-ready by override in spot_overrides"
                if blockers:
                    extra["overridden_blockers"] = list(blockers)
                blockers = ()
            else:
                extra["note"] = "ready to move to spot"
            savings = _spot_savings(item, requests, catalog, unit_prices)
            if savings is not None and item.spot_share > 0:
                # Only the pod-time still on on-demand can move.
                savings *= 1.0 - item.spot_share
                extra["note"] = (
                    f"{item.spot_share:.0%} of its pod-time already on spot: savings on the "
                    f"remaining {1 - item.spot_share:.0%}"
                )
        else:
            extra["note"] = "not applicable" if not item.applicable else "blocked"
        rows.append(
            SpotRow(
                namespace=item.namespace,
                kind=item.kind,
                workload=item.workload,
                ready=item.ready,
                blockers=blockers,
                monthly_savings_usd=None if savings is None else round(savings, 2),
                interruption_range=interruption,
                extra=extra,
            )
        )
    return tuple(rows)


def _workload_requests(snapshot: Snapshot) -> dict[tuple[str, str, str], tuple[float, float]]:
    """(namespace, kind, workload) -> (CPU cores, memory bytes) of one pod, latest requests."""
    inventory = container_inventory(snapshot)
    if inventory.empty:
        return {}
    per_pod = (
        inventory.assign(
            cpu=inventory["cpu_request_cores"].astype(float).fillna(0.0),
            memory=inventory["memory_request_bytes"].astype(float).fillna(0.0),
        )
        .groupby(WORKLOAD_KEY, observed=True)[["cpu", "memory"]]
        .sum()
    )
    return {_key(k): (float(v.cpu), float(v.memory)) for k, v in per_pod.iterrows()}


def _spot_savings(
    item: SpotAssessment,
    requests: Mapping[tuple[str, str, str], tuple[float, float]],
    catalog: PricedCatalog,
    unit_prices: Mapping[str, ResourcePrices],
) -> float | None:
    if item.instance_type is None:
        return None
    cpu, memory = requests.get((item.namespace, item.kind, item.workload), (0.0, 0.0))
    replicas = item.replicas_avg if item.replicas_avg is not None else 1.0
    on_demand = unit_prices.get(item.node_group or "")
    if on_demand is None:
        on_demand = catalog.unit_prices(item.instance_type, "ON_DEMAND")
    price = catalog.price(item.instance_type)
    if price.spot_hourly_usd is None or price.on_demand_hourly_usd <= 0:
        return None
    ratio = price.spot_hourly_usd / price.on_demand_hourly_usd
    monthly_on_demand = on_demand.monthly_usd(cpu * replicas, memory * replicas)
    return monthly_on_demand * (1.0 - ratio)


def spot_frame(rows: Sequence[SpotRow]) -> pd.DataFrame:
    """Spot rows as a flat table for notebooks (blockers joined by "; ")."""
    return pd.DataFrame.from_records(
        [
            {
                "namespace": r.namespace,
                "kind": r.kind,
                "workload": r.workload,
                "ready": r.ready,
                "blockers": "; ".join(r.blockers),
                "monthly_savings_usd": r.monthly_savings_usd,
                "interruption_range": r.interruption_range,
                "note": r.extra.get("note"),
            }
            for r in rows
        ]
    )


def _key(index: Any) -> tuple[str, str, str]:
    parts = tuple(index)
    return (str(parts[0]), str(parts[1]), str(parts[2]))


def _opt_float(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _opt_str(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return str(value)
