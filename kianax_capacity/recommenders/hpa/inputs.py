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
    cpu = series["cpu_cores"].to_numpy(dtype=float)
    memory = series["memory_bytes"].to_numpy(dtype=float)
    if (
        len(series) == len(grid)
        and series.index.equals(grid)
        and not (np.isnan(cpu).any() or np.isnan(memory).any())
    ):
        return grid, cpu, memory  # every step there, nothing to bridge (the usual case)
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


def _counts_on_grid(history: pd.DataFrame, grid: pd.DatetimeIndex) -> np.ndarray:
    """The replica count in force at each grid step: the last ``current_replicas`` recorded at
    or before it (the last non-missing one of a step recorded twice), NaN before the first."""
    stamps = pd.DatetimeIndex(history["timestamp"]).as_unit("ns").asi8
    values = history["current_replicas"].to_numpy(dtype=float)
    if (np.diff(stamps) > 0).all() and not np.isnan(values).any():
        # One count per step, in order, none missing (the usual case, ~1,800 HPAs x 4,000
        # steps at 10,000 containers): found by a search instead of a grouping and a fill.
        at = np.searchsorted(stamps, grid.as_unit("ns").asi8, side="right")
        return np.where(at > 0, values[np.maximum(at - 1, 0)], np.nan)
    counts = history.groupby("timestamp")["current_replicas"].last().sort_index()
    return counts.reindex(counts.index.union(grid)).ffill().reindex(grid).to_numpy(dtype=float)


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
        return _counts_on_grid(history, grid)

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
    # One grouping for every HPA at once (8 million rows at 10,000 containers: a grouping per
    # HPA was most of the HPA section), on categorical codes. Each (HPA, step) sums its rows
    # in their table order, as a grouping of the HPA's own rows would.
    table = table.astype(
        {
            column: "category"
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
    keep = _named_container_rows(table, by_hpa, targeted)
    frame = table if keep is None else table[keep]
    sums = frame.groupby(["namespace", "hpa", "timestamp"], observed=True, sort=True)[
        ["cpu_cores", "memory_bytes"]
    ].sum(min_count=1)
    out: dict[tuple[str, str, str], pd.DataFrame] = {}
    if sums.empty:
        return out
    index = cast(pd.MultiIndex, sums.index)
    namespace_codes, hpa_codes = (np.asarray(index.codes[level], np.int64) for level in (0, 1))
    pair = namespace_codes * (len(index.levels[1]) + 1) + hpa_codes
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    ends = np.r_[starts[1:], len(pair)]
    timestamps = index.get_level_values(2)
    for start, end in zip(starts, ends, strict=True):
        namespace = str(index.levels[0][namespace_codes[start]])
        key = by_hpa.get((namespace, str(index.levels[1][hpa_codes[start]])))
        if key is None:
            continue
        out[key] = pd.DataFrame(
            {
                "cpu_cores": sums["cpu_cores"].to_numpy()[start:end],
                "memory_bytes": sums["memory_bytes"].to_numpy()[start:end],
            },
            index=pd.DatetimeIndex(timestamps[start:end], name="timestamp"),
        )
    return out


def _named_container_rows(
    table: pd.DataFrame,
    by_hpa: Mapping[tuple[str, str], tuple[str, str, str]],
    targeted: Mapping[tuple[str, str, str], str],
) -> np.ndarray | None:
    """Rows of ``table`` (categorical namespace, hpa, container) to keep: every row, except
    that a ContainerResource HPA keeps only its named container's (None: no such HPA)."""
    wanted = {
        (namespace, hpa): targeted[key]
        for (namespace, hpa), key in by_hpa.items()
        if key in targeted
    }
    if not wanted:
        return None
    namespace, hpa, container = table["namespace"], table["hpa"], table["container"]
    hpa_width = len(hpa.cat.categories) + 1
    pair = namespace.cat.codes.to_numpy(np.int64) * hpa_width + hpa.cat.codes.to_numpy(np.int64)
    # The named container's code per (namespace, hpa) pair; -2 where the HPA names none (a
    # code no row has: -1 is a missing container). A missing namespace or hpa (code -1) lands
    # on an entry no real pair owns (a namespace's spare last slot, or the spare block at the
    # end, reached from the end), which stays -2: such rows are kept here and left out by the
    # grouping, which groups no missing key.
    named = np.full((len(namespace.cat.categories) + 1) * hpa_width, -2, dtype=np.int64)
    namespace_code = {value: code for code, value in enumerate(namespace.cat.categories)}
    hpa_code = {value: code for code, value in enumerate(hpa.cat.categories)}
    container_code = {value: code for code, value in enumerate(container.cat.categories)}
    for (ns, name), target in wanted.items():
        if ns in namespace_code and name in hpa_code:
            # a name no row has: code -3, so the HPA keeps no row (its demand is then missing)
            named[namespace_code[ns] * hpa_width + hpa_code[name]] = container_code.get(target, -3)
    row_named = named[pair]
    return (row_named == -2) | (container.cat.codes.to_numpy(np.int64) == row_named)


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
