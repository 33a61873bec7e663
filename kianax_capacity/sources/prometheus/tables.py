"""Assembly: folded answers -> the snapshot tables of :data:`~kianax_capacity.snapshot.TABLE_COLUMNS`.

Each table is built, typed and its inputs released before the next (:func:`assemble`), so the
fetch's peak memory is one table's inputs, not all of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from kianax_capacity.snapshot import empty_table
from kianax_capacity.sources.prometheus._memory import release_free_memory
from kianax_capacity.sources.prometheus.catalog import (
    DAILY_STATISTICS,
    MEANS,
    QUERIES,
    SEASON_NAMES,
    SEASON_QUANTILES,
)
from kianax_capacity.sources.prometheus.fold import (
    CONTAINER,
    Results,
    objects,
    utc_times,
    whole_millis,
)
from kianax_capacity.sources.prometheus.plan import INSTANT_NUDGE_SECONDS, QueryPlan

__all__ = [
    "TableSink",
    "assemble",
    "build_hpa_demand",
    "build_replicas",
    "build_terminations",
    "container_stats_from_parts",
    "daily_stats",
    "season_stats",
    "season_stats_from_parts",
    "typed",
]

_EPOCH = pd.Timestamp(0, tz="UTC")
#: Two range-answer timestamps closer than this are the same instant (they are whole seconds
#: or milliseconds, read as floats).
_SAME_INSTANT_SECONDS = 0.5


def typed(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """``frame`` with exactly the table's columns, in order, with the contract's dtypes."""
    template = empty_table(table)
    if frame.empty:
        return template
    # Column by column into a frame that shares them (copy=False): a deep copy here would double
    # the biggest tables (replicas has a row per HPA and step).
    columns: dict[str, pd.Series] = {}
    for column in template.columns:
        values = frame[column]
        dtype = template[column].dtype
        if isinstance(values.dtype, pd.CategoricalDtype):
            pass  # a "str" column may be categorical: kept so (no copy into strings)
        elif str(dtype) == "object":
            values = values.astype(object)
        elif str(dtype) != str(values.dtype):
            values = values.astype(dtype)
        columns[column] = values
    return pd.DataFrame(columns, copy=False).reset_index(drop=True)


def _last(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """The row of the latest chunk for each key (answers are sorted by chunk)."""
    return frame.drop_duplicates(key, keep="last")


def _seconds_to_time(values: pd.Series) -> pd.Series:
    return pd.Series(utc_times(values.to_numpy(dtype=float)), index=values.index)


#: Where :func:`assemble` hands each table as soon as it is built:
#: :meth:`~kianax_capacity.snapshot.SnapshotWriter.add`, or a dict's ``__setitem__``.
TableSink = Callable[[str, pd.DataFrame], object]


def assemble(
    results: Results,
    plan: QueryPlan,
    shape: str,
    warnings: list[str],
    nodes: pd.DataFrame,
    write: TableSink,
) -> pd.DataFrame:
    """Every snapshot table from the folded answers, each given to ``write`` as soon as it is
    built and then dropped; ``nodes`` is built by the caller (:mod:`.nodes`: it may ask EC2).
    Warnings for what is missing are appended to ``warnings``. Gives back the pods' (namespace,
    pod) keys: what the caller's own tables keep their rows to."""
    missing = [
        spec.required for spec in QUERIES if spec.required is not None and results.empty(spec.name)
    ]
    if missing:
        warnings.append(
            "kube-state-metrics series missing: "
            + ", ".join(missing)
            + "; without them requests/limits, workload owners or nodes are unknown (is "
            "kube-state-metrics scraped, and does --namespace/--cluster-label match it?)"
        )
    if results.empty("pod_first_seen"):
        warnings.append(
            "no container_memory_working_set_bytes series matched: the snapshot has no "
            "containers (is the kubelet/cAdvisor scraped, and does --namespace match?)"
        )
    warnings.append(
        "workloads.has_emptydir is not exported by kube-state-metrics; it is False for every "
        "workload"
    )

    # Each table is built, typed, written and dropped, and its inputs released, before the
    # next: the folded inventory, the statistics, the replica points and the finished tables
    # each grow with the cluster, and holding them all at once would set the fetch's peak
    # memory (docs/scaling.md).
    write("nodes", typed(nodes, "nodes"))
    del nodes
    pods = _pods(results)
    results.release(
        "pod_first_seen", "pod_last_seen", "pod_info", "pod_owner", "replicaset_owner", "job_owner"
    )
    release_free_memory()
    pod_keys = pods[["namespace", "pod"]]
    # The season and daily statistics first: the daily parts they come from (~140 MB at 10,000
    # containers) are then not held while the terminations and container statistics are built.
    if shape == "aggregate":
        _write_kept(write, "container_season_stats", season_stats(results), pod_keys)
        _write_kept(write, "container_daily_stats", daily_stats(results), pod_keys)
    results.release_daily_parts()
    release_free_memory()
    usage = _usage(results) if shape == "series" else empty_table("usage")
    if shape == "series" and not usage.empty:
        usage = usage.merge(pod_keys, on=["namespace", "pod"], how="inner")
    results.release("memory_usage", "cpu_usage", "cpu_throttling")
    terminations, restarts = build_terminations(results, plan.grid.step_seconds)
    results.release("termination_reasons")  # restart_counters: consumed by _terminations
    write("terminations", typed(terminations, "terminations"))
    parts = results.take_parts() if shape == "aggregate" else None
    stats = container_stats_from_parts(parts) if parts is not None else None
    del parts
    results.release_parts()
    release_free_memory()
    containers = typed(
        _containers(results, pods, usage, stats, restarts, terminations), "containers"
    )
    del terminations, restarts
    results.release("container_requests", "container_limits")
    write("usage", typed(usage, "usage"))
    del usage
    if stats is not None:
        _write_kept(write, "container_stats", stats, pod_keys)
        del stats
    release_free_memory()
    write("workloads", typed(_workloads(results, pods), "workloads"))
    write("hpas", typed(_hpas(results, _containers_of(pods, containers)), "hpas"))
    write("containers", containers)
    del containers
    write("pods", typed(pods, "pods"))
    del pods
    release_free_memory()
    write("replicas", typed(build_replicas(results), "replicas"))
    if shape == "aggregate":
        write("hpa_demand", typed(build_hpa_demand(results), "hpa_demand"))
    return pod_keys


def _write_kept(write: TableSink, table: str, frame: pd.DataFrame, pod_keys: pd.DataFrame) -> None:
    """``frame``'s rows of the pods the snapshot keeps, typed, to ``write``."""
    write(table, typed(frame.merge(pod_keys, on=["namespace", "pod"], how="inner"), table))


def build_hpa_demand(results: Results) -> pd.DataFrame:
    """The hpa_demand table from the two demand range queries, outer-joined on (HPA, container,
    step); one row per HPA, container name and step (8 million at 10,000 containers)."""
    labels = ("namespace", "horizontalpodautoscaler", "container")
    sides = (("hpa_demand_cpu", "cpu_cores"), ("hpa_demand_memory", "memory_bytes"))
    results.restore(*(name for name, _column in sides))
    joined = _outer_join_on_steps(results, sides, labels, ("namespace", "hpa", "container"))
    if joined is not None:
        return joined
    # Repeated (HPA, container, step) rows: pandas' merge, the last answer winning.
    cpu = results.matrix("hpa_demand_cpu", labels).rename(columns={"value": "cpu_cores"})
    memory = results.matrix("hpa_demand_memory", labels).rename(columns={"value": "memory_bytes"})
    results.release("hpa_demand_cpu", "hpa_demand_memory")
    key = ["timestamp", *labels]
    cpu = cpu.drop_duplicates(key, keep="last")
    memory = memory.drop_duplicates(key, keep="last")
    demand = cpu.merge(memory, on=key, how="outer").rename(
        columns={"horizontalpodautoscaler": "hpa"}
    )
    return demand.sort_values(["namespace", "hpa", "container", "timestamp"], kind="stable")


def _pods(results: Results) -> pd.DataFrame:
    key = ["namespace", "pod"]
    # The pod folds share one key -> id dict: their values side by side, per pod first seen.
    pods = results.fold_columns(
        "pod_first_seen",
        {
            "first_seen": ("pod_first_seen", "value"),
            "node": ("pod_first_seen", "node"),
            "last_seen": ("pod_last_seen", "value"),
            "ksm_node": ("pod_info", "node"),
            "kind": ("pod_owner", "owner_kind"),
            "workload": ("pod_owner", "owner_name"),
        },
    )
    if pods.empty:
        return empty_table("pods")
    pods = pods.sort_values(key, ignore_index=True)
    pods["last_seen"] = pods["last_seen"].fillna(pods["first_seen"])
    pods["node"] = pods["ksm_node"].where(pods["ksm_node"].fillna("") != "", pods["node"])
    pods = _through_controllers(results, pods)
    no_owner = pods["kind"].isna()
    pods.loc[no_owner, "kind"] = "Pod"
    pods.loc[no_owner, "workload"] = pods.loc[no_owner, "pod"]
    pods["first_seen"] = _seconds_to_time(pods["first_seen"])
    pods["last_seen"] = _seconds_to_time(pods["last_seen"])
    return pods[["namespace", "pod", "kind", "workload", "node", "first_seen", "last_seen"]]


def _through_controllers(results: Results, pods: pd.DataFrame) -> pd.DataFrame:
    """Pods' owners followed up through ReplicaSet->Deployment and Job->CronJob: ``kind`` and
    ``workload`` are the pod's own owner on the way in, its top controller on the way out."""
    for parent, child_label in (("replicaset_owner", "replicaset"), ("job_owner", "job_name")):
        child_kind = "ReplicaSet" if parent == "replicaset_owner" else "Job"
        lookup = _last(
            results.vector(parent, ["namespace", child_label, "owner_kind", "owner_name"]),
            ["namespace", child_label],
        ).rename(columns={child_label: "workload"})
        lookup = lookup[lookup["owner_name"] != ""]
        if lookup.empty:
            continue
        pods = pods.merge(
            lookup[["namespace", "workload", "owner_kind", "owner_name"]],
            on=["namespace", "workload"],
            how="left",
        )
        hit = (pods["kind"] == child_kind) & pods["owner_name"].notna()
        pods.loc[hit, "kind"] = pods.loc[hit, "owner_kind"]
        pods.loc[hit, "workload"] = pods.loc[hit, "owner_name"]
        pods = pods.drop(columns=["owner_kind", "owner_name"])
    return pods


def _usage(results: Results) -> pd.DataFrame:
    memory = results.matrix("memory_usage", CONTAINER).rename(columns={"value": "memory_bytes"})
    cpu = results.matrix("cpu_usage", CONTAINER).rename(columns={"value": "cpu_cores"})
    throttled = results.matrix("cpu_throttling", CONTAINER).rename(
        columns={"value": "cpu_throttled_ratio"}
    )
    key = ["timestamp", *CONTAINER]
    # A container exists at a step when it has a working-set sample in that step; a rate value
    # without one is the lookback echo of a container that already stopped.
    usage = memory.merge(cpu, on=key, how="left").merge(throttled, on=key, how="left")
    return usage.sort_values(["namespace", "pod", "container", "timestamp"], kind="stable")


def _restart_events(results: Results, step_seconds: int) -> pd.DataFrame:
    """Restart events from the restart counters: container labels, ``timestamp`` and ``value``
    (restarts counted at that step).

    An event is a rise of the counter between two consecutive steps of one series, as
    ``counter - counter offset step > 0`` evaluated at each step: a step whose previous step
    has no sample (the container's first step, or a gap) is no event, and neither is a fall
    (a pod recreated under the same name starts again from zero).
    """
    # Chunks whose restart_counters the server refused came as server-side differences.
    differenced = results.matrix("restart_events", CONTAINER)
    results.release("restart_events")
    keys, lengths, points = results.series_points("restart_counters", CONTAINER, consume=True)
    series = np.repeat(np.arange(len(keys)), lengths)
    seconds, counts = points[:, 0], points[:, 1]
    consecutive = (series[1:] == series[:-1]) & (
        np.abs(np.diff(seconds) - step_seconds) < _SAME_INSTANT_SECONDS
    )
    rises = np.diff(counts)
    at = np.flatnonzero(consecutive & (rises > 0)) + 1
    key_index = series[at]
    events = pd.DataFrame(
        {
            **{
                label: objects(np.array([keys[k][i] for k in key_index], dtype=object))
                for i, label in enumerate(CONTAINER)
            },
            "timestamp": utc_times(seconds[at]),
            "value": rises[at - 1],
        }
    )
    if differenced.empty:
        return events
    differenced = differenced[differenced["value"] > 0]
    return pd.concat([events, differenced], ignore_index=True) if len(events) else differenced


def _reasons_at(results: Results, events: pd.DataFrame) -> pd.DataFrame:
    """The termination reason each container showed at the steps of its restart events.

    The reason series hold every step of every container that ever terminated (3.4 M points at
    10,000 containers over 14 days, against ~3,500 restarts): only the points at an event's
    step are made into rows, series of containers without an event are skipped whole, and the
    answers are dropped as they are read.
    """
    labels = [*CONTAINER, "reason"]
    keys, lengths, points = results.series_points("termination_reasons", labels, consume=True)
    millis = (events["timestamp"] - _EPOCH) // pd.Timedelta(milliseconds=1)
    wanted: dict[tuple[str, ...], list[int]] = {}
    columns = [events[label].tolist() for label in CONTAINER]
    for container, at in zip(zip(*columns, strict=True), millis.tolist(), strict=True):
        wanted.setdefault(container, []).append(at)
    ends = np.cumsum(lengths)
    rows_labels: list[tuple[str, ...]] = []
    rows_millis: list[np.ndarray] = []
    for key, end, length in zip(keys, ends.tolist(), lengths.tolist(), strict=True):
        times = wanted.get(key[:3])
        if times is None:
            continue
        series_millis = whole_millis(points[end - length : end, 0])
        hit = series_millis[np.isin(series_millis, times)]
        rows_labels.extend([key] * len(hit))
        rows_millis.append(hit)
    out = pd.DataFrame(
        {
            label: objects(np.array([row[i] for row in rows_labels], dtype=object))
            for i, label in enumerate(labels)
        }
    )
    picked = np.concatenate(rows_millis) if rows_millis else np.zeros(0, dtype="int64")
    out["timestamp"] = pd.to_datetime(picked, unit="ms", utc=True)
    return out


def build_terminations(results: Results, step_seconds: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Terminations (one row per restart event) and restarts/OOM kills per container."""
    events = _restart_events(results, step_seconds)
    key = ["timestamp", *CONTAINER]
    counts_columns = [*CONTAINER, "restarts", "oom_kills"]
    if events.empty:
        return empty_table("terminations"), pd.DataFrame(columns=counts_columns)
    reasons = _reasons_at(results, events)
    reasons = reasons.drop_duplicates(key, keep="last")[[*key, "reason"]]
    events = events.merge(reasons, on=key, how="left")
    events["reason"] = events["reason"].fillna("Unknown")
    events["count"] = events["value"].round().astype("int64")
    events["oom"] = np.where(events["reason"] == "OOMKilled", events["count"], 0)
    counts = events.groupby(CONTAINER, as_index=False).agg(
        restarts=("count", "sum"), oom_kills=("oom", "sum")
    )
    terminations = events[[*key, "reason"]].sort_values(key, kind="stable")
    return terminations, counts


def _resources(results: Results, name: str, prefix: str) -> pd.DataFrame:
    frame = _last(results.vector(name, [*CONTAINER, "resource"]), [*CONTAINER, "resource"])
    columns = [*CONTAINER, f"cpu_{prefix}_cores", f"memory_{prefix}_bytes"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    wide = frame.pivot_table(index=CONTAINER, columns="resource", values="value", aggfunc="last")
    wide = wide.reindex(columns=["cpu", "memory"])
    wide.columns = [f"cpu_{prefix}_cores", f"memory_{prefix}_bytes"]
    return wide.reset_index()


def _containers(
    results: Results,
    pods: pd.DataFrame,
    usage: pd.DataFrame,
    stats: pd.DataFrame | None,
    restarts: pd.DataFrame,
    terminations: pd.DataFrame,
) -> pd.DataFrame:
    requests_ = _resources(results, "container_requests", "request")
    limits = _resources(results, "container_limits", "limit")
    seen = [requests_[CONTAINER], limits[CONTAINER], usage[CONTAINER]]
    if stats is not None:
        seen.append(stats[CONTAINER])
    keys = pd.concat(seen, ignore_index=True).astype(object).drop_duplicates()
    keys = keys.merge(pods[["namespace", "pod"]], on=["namespace", "pod"], how="inner")
    out = keys.merge(requests_, on=CONTAINER, how="left").merge(limits, on=CONTAINER, how="left")
    out = out.merge(restarts, on=CONTAINER, how="left")
    for column in ("restarts", "oom_kills"):
        out[column] = out[column].fillna(0).astype("int64")
    for column in (
        "cpu_request_cores",
        "cpu_limit_cores",
        "memory_request_bytes",
        "memory_limit_bytes",
    ):
        out[column] = out[column].astype(float)
    return out.sort_values(CONTAINER, kind="stable")


def _workloads(results: Results, pods: pd.DataFrame) -> pd.DataFrame:
    key = ["namespace", "kind", "workload"]
    workloads = pods[key].drop_duplicates().reset_index(drop=True)
    pvcs = results.vector("pod_pvcs", ["namespace", "pod"])
    with_pvc = pods.merge(pvcs[["namespace", "pod"]].drop_duplicates(), on=["namespace", "pod"])
    pvc_keys = set(map(tuple, with_pvc[key].to_numpy().tolist()))
    workloads["has_pvc"] = [tuple(row) in pvc_keys for row in workloads[key].to_numpy().tolist()]
    workloads["has_emptydir"] = False
    # kube-state-metrics does not say which pods a PDB selects; a PDB named after its workload
    # (the Helm chart convention, and the demo's) is matched to it by name.
    healthy = _last(
        results.vector("pdb_desired_healthy", ["namespace", "poddisruptionbudget"]),
        ["namespace", "poddisruptionbudget"],
    )
    allowed_raw = results.vector("pdb_disruptions_allowed", ["namespace", "poddisruptionbudget"])
    allowed = allowed_raw.groupby(["namespace", "poddisruptionbudget"], as_index=False).agg(
        value=("value", "min")
    )
    pdb = healthy[["namespace", "poddisruptionbudget", "value"]].rename(
        columns={"poddisruptionbudget": "workload", "value": "pdb_min_available"}
    )
    pdb = pdb.merge(
        allowed.rename(
            columns={"poddisruptionbudget": "workload", "value": "pdb_disruptions_allowed"}
        ),
        on=["namespace", "workload"],
        how="outer",
    )
    workloads = workloads.merge(pdb, on=["namespace", "workload"], how="left")
    workloads["pdb_max_unavailable"] = math.nan
    for column in ("pdb_min_available", "pdb_disruptions_allowed"):
        workloads[column] = workloads[column].astype(float)
    return workloads


def _containers_of(
    pods: pd.DataFrame, containers: pd.DataFrame
) -> dict[tuple[str, str, str], frozenset[str]]:
    """(namespace, kind, workload) -> the names of its pods' containers."""
    both = containers[["namespace", "pod", "container"]].merge(
        pods[["namespace", "pod", "kind", "workload"]], on=["namespace", "pod"]
    )
    out: dict[tuple[str, str, str], set[str]] = {}
    for ns, kind, workload, container in zip(
        both["namespace"], both["kind"], both["workload"], both["container"], strict=True
    ):
        out.setdefault((ns, kind, workload), set()).add(container)
    return {key: frozenset(names) for key, names in out.items()}


def _target_containers(targets: pd.DataFrame) -> pd.DataFrame:
    """(namespace, hpa) -> the container label of its CPU (else memory) target ("" if none)."""
    rows = []
    for metric in ("memory", "cpu"):  # cpu last: it wins
        chosen = targets[targets["metric_name"] == metric]
        for namespace, hpa, container in zip(
            chosen["namespace"], chosen["horizontalpodautoscaler"], chosen["container"], strict=True
        ):
            rows.append((namespace, hpa, str(container or "")))
    frame = pd.DataFrame(rows, columns=["namespace", "hpa", "target_container"])
    return frame.drop_duplicates(["namespace", "hpa"], keep="last")


def _hpas(
    results: Results, containers_of: Mapping[tuple[str, str, str], frozenset[str]]
) -> pd.DataFrame:
    key = ["namespace", "horizontalpodautoscaler"]
    info = _last(
        results.vector("hpa_info", [*key, "scaletargetref_kind", "scaletargetref_name"]), key
    )
    if info.empty:
        return empty_table("hpas")
    out = info.rename(
        columns={
            "horizontalpodautoscaler": "hpa",
            "scaletargetref_kind": "kind",
            "scaletargetref_name": "workload",
        }
    )[["namespace", "hpa", "kind", "workload"]]
    for name, column in (
        ("hpa_min_replicas", "min_replicas"),
        ("hpa_max_replicas", "max_replicas"),
    ):
        values = _last(results.vector(name, key), key).rename(
            columns={"horizontalpodautoscaler": "hpa", "value": column}
        )
        out = out.merge(values[["namespace", "hpa", column]], on=["namespace", "hpa"], how="inner")
    targets = _last(
        results.vector("hpa_target_metric", [*key, "metric_name", "container"]),
        [*key, "metric_name"],
    )
    out = out.merge(_target_containers(targets), on=["namespace", "hpa"], how="left")
    # A label naming no container of the HPA's workload is the scraper's own (honorLabels on
    # kube-state-metrics < 2.19 adds the target's container="kube-state-metrics" to rows that
    # lack one), not a ContainerResource metric.
    out["target_container"] = [
        container if container and container in containers_of.get((ns, kind, name), ()) else ""
        for ns, kind, name, container in zip(
            out["namespace"],
            out["kind"],
            out["workload"],
            out["target_container"].fillna(""),
            strict=True,
        )
    ]
    for metric in ("cpu", "memory"):
        values = targets[targets["metric_name"] == metric].rename(
            columns={"horizontalpodautoscaler": "hpa", "value": f"target_{metric}_utilization"}
        )
        out = out.merge(
            values[["namespace", "hpa", f"target_{metric}_utilization"]],
            on=["namespace", "hpa"],
            how="left",
        )
    out["min_replicas"] = out["min_replicas"].round().astype("int64")
    out["max_replicas"] = out["max_replicas"].round().astype("int64")
    out["scale_down_stabilization_seconds"] = math.nan  # not exported by kube-state-metrics
    return out.sort_values(["namespace", "hpa"], kind="stable")


def build_replicas(results: Results) -> pd.DataFrame:
    """Current and desired replicas per HPA and step, outer-joined on (HPA, timestamp)."""
    labels = ("namespace", "horizontalpodautoscaler")
    sides = (
        ("hpa_current_replicas", "current_replicas"),
        ("hpa_desired_replicas", "desired_replicas"),
    )
    results.restore(*(name for name, _column in sides))
    joined = _outer_join_on_steps(results, sides, labels, ("namespace", "hpa"))
    if joined is not None:
        return joined
    return _replicas_merged(results)  # repeated (HPA, step) rows: pandas' merge semantics


def _outer_join_on_steps(
    results: Results,
    sides: tuple[tuple[str, str], ...],
    labels: tuple[str, ...],
    names: tuple[str, ...],
) -> pd.DataFrame | None:
    """The range answers of each ``(query, column)`` of ``sides`` outer-joined on their
    ``labels`` (the columns ``names``) and timestamp, rows sorted by labels then timestamp;
    None (nothing consumed) when an answer repeats a series or the series outnumber the join
    key's series bits (2 million), for pandas' merge to decide.

    One row per series and step, millions on a big cluster: the join runs on one int64 per row
    (series number, then milliseconds) instead of pandas' merge on string columns, which needs
    many times the memory (docs/scaling.md).
    """
    queries = [query for query, _column in sides]
    series = _distinct_series(results, queries, labels)
    if series is None or len(series) >= 1 << (63 - _MILLIS_BITS):
        return None
    points = [_range_points(results, query, labels) for query in queries]
    if not series:
        return pd.DataFrame(
            {
                **{name: pd.Series(dtype=object) for name in names},
                "timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
                **{column: pd.Series(dtype=float) for _query, column in sides},
            }
        )
    number = {key: index for index, key in enumerate(series)}
    for keys, lengths, millis, _values in points:
        # millis in place into (series number, milliseconds) join keys
        codes = np.fromiter((number[key] for key in keys), dtype=np.int64, count=len(keys))
        millis += np.repeat(codes, lengths) << _MILLIS_BITS
    # Each side's keys are distinct (one series per key and chunk, checked above, and chunks do
    # not overlap). Union sorted and deduplicated by hand: on int64 keys that is much faster
    # than numpy 2's hash-based unique/union1d.
    joined = np.concatenate([side[2] for side in points])
    joined.sort()
    joined = joined[np.concatenate([[True], joined[1:] != joined[:-1]])]
    columns: dict[str, Any] = {}
    points.reverse()
    for _query, column in sides:  # each side's arrays are freed once placed
        _keys, _lengths, side_keys, side_values = points.pop()
        values = np.full(len(joined), np.nan)
        values[np.searchsorted(joined, side_keys)] = side_values
        columns[column] = values
        del side_keys, side_values
    codes = joined >> _MILLIS_BITS
    # Categorical labels (the contract allows it for "str" columns): a small code array per
    # label instead of millions of strings, in memory and in Parquet.
    labelled: dict[str, Any] = {}
    for position, name in enumerate(names):
        values_of = [key[position] for key in series]
        categories = sorted(set(values_of))
        code_of = {value: index for index, value in enumerate(categories)}
        series_codes = np.array([code_of[value] for value in values_of], dtype=np.int32)
        labelled[name] = pd.Categorical.from_codes(
            series_codes[codes], categories=pd.Index(categories, dtype=object)
        )
    del codes
    joined &= (1 << _MILLIS_BITS) - 1  # the keys' milliseconds, in place
    labelled["timestamp"] = pd.to_datetime(joined, unit="ms", utc=True)
    del joined
    # copy=False: the float columns stay the arrays built here, not a consolidated copy.
    return pd.DataFrame({**labelled, **columns}, copy=False)


def _range_points(
    results: Results, name: str, labels: tuple[str, ...]
) -> tuple[list[tuple[str, ...]], np.ndarray, np.ndarray, np.ndarray]:
    """The range answers of ``name`` in chunk order, consumed: each non-empty series' ``labels``
    values, its number of points, and every point's milliseconds (int64) and value.

    Each answer is dropped as soon as its points are copied, so a side's ~7 million points at
    10,000 containers over 14 days are held once, not as answers plus a concatenated copy.
    """
    answers = sorted(results.by_name.pop(name, []), key=lambda item: item[0])
    total = sum(int(answer.lengths.sum()) for _chunk, answer in answers)
    millis = np.empty(total, dtype=np.int64)
    values_out = np.empty(total, dtype=float)
    keys: list[tuple[str, ...]] = []
    lengths: list[int] = []
    at = 0
    answers.reverse()  # popped from the end, in chunk order
    while answers:
        _chunk, answer = answers.pop()
        size = int(answer.lengths.sum())
        millis[at : at + size] = answer.millis()
        values_out[at : at + size] = answer.values()
        at += size
        keys.extend(answer.keys(labels))
        lengths.extend(answer.lengths[answer.lengths > 0].tolist())
        del answer
    # The answers were many small arrays: their pages go back now, before the join's big ones.
    release_free_memory()
    return keys, np.array(lengths, dtype=np.intp), millis, values_out


def _distinct_series(
    results: Results, names: list[str], labels: tuple[str, ...]
) -> list[tuple[str, ...]] | None:
    """The non-empty series' ``labels`` values over the answers of ``names``, sorted; None when
    one answer has two non-empty series with the same ``labels``."""
    every: set[tuple[str, ...]] = set()
    for name in names:
        for _chunk, answer in results.by_name.get(name, []):
            keys = answer.keys(labels)
            distinct = set(keys)
            if len(distinct) < len(keys):
                return None
            every |= distinct
    return sorted(every)


#: Bits of the milliseconds part of an (HPA, timestamp) join key: 2^42 ms after 1970 is 2109.
_MILLIS_BITS = 42


def _replicas_merged(results: Results) -> pd.DataFrame:
    labels = ["namespace", "horizontalpodautoscaler"]
    current = results.matrix("hpa_current_replicas", labels).rename(
        columns={"value": "current_replicas"}
    )
    desired = results.matrix("hpa_desired_replicas", labels).rename(
        columns={"value": "desired_replicas"}
    )
    out = current.merge(desired, on=["timestamp", *labels], how="outer")
    out = out.rename(columns={"horizontalpodautoscaler": "hpa"})
    return out.sort_values(["namespace", "hpa", "timestamp"], kind="stable")


def season_stats(results: Results) -> pd.DataFrame:
    """``container_season_stats``: one row per chunk (day), pod container and season."""
    frames = []
    for moment, combiner in sorted(results.daily_parts.items()):
        frame = season_stats_from_parts(combiner.frame())
        frame["day_end"] = utc_times(np.full(len(frame), moment - INSTANT_NUDGE_SECONDS))
        frames.append(frame)
    if not frames:
        return empty_table("container_season_stats")
    return pd.concat(frames, ignore_index=True)


def daily_stats(results: Results) -> pd.DataFrame:
    """``container_daily_stats``: container_stats' quantiles, max and counts per chunk (day)."""
    frames = []
    columns = [*CONTAINER, *DAILY_STATISTICS]
    for moment, combiner in sorted(results.daily_parts.items()):
        frame = combiner.frame()
        if "samples" not in frame.columns:
            continue
        frame = frame.loc[frame["samples"].notna() & (frame["samples"] > 0), columns].copy()
        frame["samples"] = frame["samples"].round().astype("int64")
        frame["cpu_cores_count"] = frame["cpu_cores_count"].fillna(0).round().astype("int64")
        frame["day_end"] = utc_times(np.full(len(frame), moment - INSTANT_NUDGE_SECONDS))
        frames.append(frame)
    if not frames:
        return empty_table("container_daily_stats")
    return pd.concat(frames, ignore_index=True)


def season_stats_from_parts(parts: pd.DataFrame) -> pd.DataFrame:
    """Season rows (one per pod container and season with steps in it) from one chunk's
    season parts."""
    frames = []
    for season in SEASON_NAMES:
        prefix = f"cpu_cores_{season}"
        count = parts.get(f"{prefix}_count")
        if count is None:
            continue
        seen = count.notna() & (count > 0)
        frame = parts.loc[seen, CONTAINER].copy()
        frame["season"] = season
        frame["samples"] = count[seen].round().astype("int64")
        for _, suffix in SEASON_QUANTILES:
            frame[f"cpu_cores_{suffix}"] = parts.loc[seen, f"{prefix}_{suffix}"]
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*CONTAINER, "season", "samples"])
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values([*CONTAINER, "season"], kind="stable").reset_index(drop=True)


def container_stats_from_parts(parts: pd.DataFrame) -> pd.DataFrame:
    """``container_stats`` rows from the combined aggregate parts (see :class:`ChunkCombiner`).

    Means are the combined sums over the combined counts; rows without a memory sample count
    (a key seen only by the CPU queries) are dropped, as the table requires ``samples``.
    """
    out = parts[parts["samples"].notna()].copy()
    for mean, (total, count) in MEANS.items():
        counts = out[count].to_numpy(dtype=float)
        totals = out[total].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[mean] = np.where(counts > 0, totals / counts, np.nan)
    out["samples"] = out["samples"].round().astype("int64")
    return out.sort_values(CONTAINER, kind="stable").reset_index(drop=True)
