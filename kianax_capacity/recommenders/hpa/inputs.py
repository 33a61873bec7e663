"""HPA inputs: one :class:`HpaWorkload` per HorizontalPodAutoscaler, joined from the snapshot.

The workload's demand series (total CPU cores and memory bytes over its pods at each step), its
per-pod requests (summed over the containers the HPA's metric covers: all of them for a Resource
metric, the named one for a ContainerResource metric, ``hpas.target_container``), observed replicas,
node group and PDB.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from kianax_capacity.recommendations import HpaSettings
from kianax_capacity.recommenders.hpa_sim import DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS
from kianax_capacity.recommenders.inventory import (
    container_inventory,
    usage_with_owners,
    workload_node_groups,
)
from kianax_capacity.snapshot import Snapshot

__all__ = ["HpaWorkload", "NewRequests", "hpa_workloads"]

#: (namespace, kind, workload) -> (per-pod CPU request cores, per-pod memory request bytes)
NewRequests = Mapping[tuple[str, str, str], tuple[float | None, int | None]]


@dataclass(frozen=True)
class HpaWorkload:
    """Everything the replay needs about one HPA's workload."""

    namespace: str
    hpa: str
    kind: str
    workload: str
    current: HpaSettings
    timestamps: pd.DatetimeIndex
    cpu_demand: npt.NDArray[np.float64]
    memory_demand: npt.NDArray[np.float64]
    observed_replicas: npt.NDArray[np.float64]  # NaN where the replicas table has no sample
    cpu_request: float | None  # None = some container has no CPU request
    memory_request: float | None
    missing_cpu: tuple[str, ...]
    missing_memory: tuple[str, ...]
    node_group: str | None
    pdb_min_available: float
    step_seconds: float


def _opt(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def hpa_workloads(snapshot: Snapshot) -> list[HpaWorkload]:
    """Join hpas with demand, requests, placement and PDBs: one HpaWorkload per HPA."""
    hpas = snapshot.table("hpas")
    if hpas.empty:
        return []
    step = float(snapshot.step_seconds)
    keys = hpas[["namespace", "kind", "workload"]].astype(str).drop_duplicates()

    # ContainerResource HPAs (target_container set) scale on one container's usage and request:
    # their demand is that container's, not the pod's (a sidecar's share would dilute it).
    targeted = {
        (str(r["namespace"]), str(r["kind"]), str(r["workload"])): str(r["target_container"])
        for r in hpas.to_dict("records")
        if str(r.get("target_container", "") or "") not in ("", "nan")
    }
    demand = _demand_from_usage(snapshot, keys, targeted)
    if not demand:
        # No usage samples (aggregate shape): the server summed each HPA's demand.
        demand = _demand_from_hpa_demand(snapshot, hpas, targeted)
    lookups = _Lookups(snapshot, targeted)
    out = []
    for spec in hpas.to_dict("records"):
        namespace, kind, name = str(spec["namespace"]), str(spec["kind"]), str(spec["workload"])
        key = (namespace, kind, name)
        grid, cpu_demand, memory_demand = _demand_on_grid(demand.get(key), step)
        cpu_request, memory_request, missing_cpu, missing_memory = lookups.requests(key)
        out.append(
            HpaWorkload(
                namespace=namespace,
                hpa=str(spec["hpa"]),
                kind=kind,
                workload=name,
                current=_current_settings(spec),
                timestamps=grid,
                # A step whose samples are all NaN counts as no use rather than poisoning sums.
                cpu_demand=np.nan_to_num(cpu_demand),
                memory_demand=np.nan_to_num(memory_demand),
                observed_replicas=lookups.observed(namespace, str(spec["hpa"]), grid),
                cpu_request=None if missing_cpu or not cpu_request else cpu_request,
                memory_request=None if missing_memory or not memory_request else memory_request,
                missing_cpu=missing_cpu,
                missing_memory=missing_memory,
                node_group=lookups.node_group(key),
                pdb_min_available=lookups.pdb_min_available(key),
                step_seconds=step,
            )
        )
    return out


def _current_settings(spec: Mapping[Any, Any]) -> HpaSettings:
    """An hpas row as the settings it runs with today."""
    return HpaSettings(
        min_replicas=int(spec["min_replicas"]),
        max_replicas=int(spec["max_replicas"]),
        target_cpu_utilization=_opt(spec["target_cpu_utilization"]),
        target_memory_utilization=_opt(spec["target_memory_utilization"]),
        scale_down_stabilization_seconds=int(
            _opt(spec["scale_down_stabilization_seconds"])
            or DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS
        ),
    )


def _demand_on_grid(
    series: pd.DataFrame | None, step: float
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """The demand on every step from its first to its last sample (CPU cores, memory bytes)."""
    if series is None or not len(series):
        return pd.DatetimeIndex([], tz="UTC"), np.zeros(0), np.zeros(0)
    start, end = series.index.min(), series.index.max()
    grid = pd.date_range(start, end, freq=pd.Timedelta(seconds=step))
    # Short scrape gaps are bridged; the HPA kept running through them.
    series = (
        series.reindex(series.index.union(grid))
        .interpolate(method="time", limit_area="inside")
        .reindex(grid)
    )
    return (
        grid,
        series["cpu_cores"].to_numpy(dtype=float),
        series["memory_bytes"].to_numpy(dtype=float),
    )


class _Lookups:
    """Per-workload facts read once per HPA: requests, replicas, node group, PDB.

    Row positions per key are found once: filtering millions of replicas samples (and the
    inventory) once per HPA is quadratic on a large cluster, and a DataFrame row selection per
    HPA costs more than everything else the loop does, so the columns read are numpy arrays.
    The replicas' rows are found when an HPA first has demand to replay.
    """

    _NOTHING = np.zeros(0, dtype=np.intp)

    def __init__(self, snapshot: Snapshot, targeted: Mapping[tuple[str, str, str], str]) -> None:
        self.targeted = targeted
        workload_key = ["namespace", "kind", "workload"]
        inventory = container_inventory(snapshot)
        if not inventory.empty:
            inventory = inventory.astype({"namespace": str, "kind": str, "workload": str})
            self.inventory_container = inventory["container"].astype(str).to_numpy()
            self.inventory_cpu = inventory["cpu_request_cores"].to_numpy(
                dtype=float, na_value=np.nan
            )
            self.inventory_memory = inventory["memory_request_bytes"].to_numpy(
                dtype=float, na_value=np.nan
            )
        placement = workload_node_groups(snapshot)
        if not placement.empty:
            placement = placement.astype({"namespace": str, "kind": str, "workload": str})
        pdbs = snapshot.table("workloads")
        self.replicas = snapshot.table("replicas")
        self.replicas_rows: dict[tuple[str, ...], np.ndarray] | None = None
        self.inventory_rows = _rows_by_key(inventory, workload_key)
        self.placement_rows = _rows_by_key(placement, workload_key)
        self.pdb_rows = _rows_by_key(pdbs, workload_key)
        self.placement_group = placement["node_group"].to_numpy() if not placement.empty else None
        self.pdb_min = (
            pdbs["pdb_min_available"].to_numpy(dtype=float, na_value=np.nan)
            if not pdbs.empty
            else None
        )

    def observed(self, namespace: str, hpa: str, grid: pd.DatetimeIndex) -> np.ndarray:
        """The HPA's current replicas on ``grid`` (NaN where none were recorded)."""
        observed = np.full(len(grid), np.nan)
        if self.replicas.empty or not len(grid):
            return observed
        if self.replicas_rows is None:
            self.replicas_rows = _rows_by_key(self.replicas, ["namespace", "hpa"])
        history = self.replicas.iloc[self.replicas_rows.get((namespace, hpa), self._NOTHING)]
        if history.empty:
            return observed
        counts = history.groupby("timestamp")["current_replicas"].last().sort_index()
        return counts.reindex(counts.index.union(grid)).ffill().reindex(grid).to_numpy(dtype=float)

    def requests(
        self, key: tuple[str, str, str]
    ) -> tuple[float | None, float | None, tuple[str, ...], tuple[str, ...]]:
        """The pod's summed CPU and memory requests over the containers the metric covers, and
        the containers without one."""
        rows = self.inventory_rows.get(key, self._NOTHING)
        if key in self.targeted and len(rows):
            rows = rows[self.inventory_container[rows] == self.targeted[key]]
        if not len(rows):
            return None, None, (), ()
        cpu, memory = self.inventory_cpu[rows], self.inventory_memory[rows]
        missing_cpu = tuple(sorted(self.inventory_container[rows][np.isnan(cpu)]))
        missing_memory = tuple(sorted(self.inventory_container[rows][np.isnan(memory)]))
        # As pandas sums: NaN counts as 0.
        cpu_request = float(np.where(np.isnan(cpu), 0.0, cpu).sum())
        memory_request = float(np.where(np.isnan(memory), 0.0, memory).sum())
        return cpu_request, memory_request, missing_cpu, missing_memory

    def node_group(self, key: tuple[str, str, str]) -> str | None:
        if self.placement_group is None:
            return None
        placed = self.placement_rows.get(key, self._NOTHING)
        if len(placed) and isinstance(self.placement_group[placed[0]], str):
            return str(self.placement_group[placed[0]])
        return None

    def pdb_min_available(self, key: tuple[str, str, str]) -> float:
        if self.pdb_min is None:
            return np.nan
        match = self.pdb_rows.get(key, self._NOTHING)
        return float(self.pdb_min[match[0]]) if len(match) else np.nan


def _demand_from_usage(
    snapshot: Snapshot, keys: pd.DataFrame, targeted: Mapping[tuple[str, str, str], str]
) -> dict[tuple[str, str, str], pd.DataFrame]:
    """(namespace, kind, workload) -> cpu_cores and memory_bytes summed over its pods per step."""
    usage = usage_with_owners(snapshot)
    usage = usage.astype({"namespace": str, "kind": str, "workload": str}).merge(keys)
    if targeted:
        named = pd.Series(
            [
                targeted.get(k, "")
                for k in zip(usage["namespace"], usage["kind"], usage["workload"], strict=True)
            ],
            index=usage.index,
        )
        usage = usage[(named == "") | (named == usage["container"].astype(str))]
    return {
        (str(ns), str(kd), str(wl)): frame.groupby("timestamp")[["cpu_cores", "memory_bytes"]]
        .sum(min_count=1)
        .sort_index()
        for (ns, kd, wl), frame in usage.groupby(["namespace", "kind", "workload"], observed=True)
    }


def _demand_from_hpa_demand(
    snapshot: Snapshot, hpas: pd.DataFrame, targeted: Mapping[tuple[str, str, str], str]
) -> dict[tuple[str, str, str], pd.DataFrame]:
    """The same demand from the ``hpa_demand`` table (summed over the pods on the server, one
    series per HPA and container name): the named container of a ContainerResource HPA, else
    the sum over the container names."""
    table = snapshot.table("hpa_demand")
    if table.empty:
        return {}
    # Categorical labels (a fetch's 8 million rows at 10,000 containers) are grouped on their
    # codes; only other columns are turned into strings.
    table = table.astype(
        {
            column: str
            for column in ("namespace", "hpa", "container")
            if not isinstance(table[column].dtype, pd.CategoricalDtype)
        }
    )
    by_hpa = {
        (str(r["namespace"]), str(r["hpa"])): (
            str(r["namespace"]),
            str(r["kind"]),
            str(r["workload"]),
        )
        for r in hpas.to_dict("records")
    }
    out: dict[tuple[str, str, str], pd.DataFrame] = {}
    for (namespace, hpa), frame in table.groupby(["namespace", "hpa"], observed=True, sort=False):
        key = by_hpa.get((str(namespace), str(hpa)))
        if key is None:
            continue
        if key in targeted:
            frame = frame[frame["container"] == targeted[key]]
        if frame.empty:
            continue
        out[key] = (
            frame.groupby("timestamp")[["cpu_cores", "memory_bytes"]].sum(min_count=1).sort_index()
        )
    return out


def _rows_by_key(frame: pd.DataFrame, columns: list[str]) -> dict[tuple[str, ...], np.ndarray]:
    """Row positions (ascending) of ``frame`` per distinct value of ``columns`` as strings."""
    if frame.empty:
        return {}
    # Categorical columns (replicas: 7M rows) are grouped on their codes as they are: a string
    # copy of them would be the largest allocation of the whole recommend run.
    keys = pd.DataFrame(
        {
            column: frame[column]
            if isinstance(frame[column].dtype, pd.CategoricalDtype)
            else frame[column].astype(str)
            for column in columns
        }
    )
    groups = keys.groupby(columns, sort=False, observed=True).indices
    return {
        tuple(str(part) for part in cast(tuple[Any, ...], key)): np.asarray(rows)
        for key, rows in groups.items()
    }
