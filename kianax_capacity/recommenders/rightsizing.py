"""Container right-sizing: recommended requests/limits per container, with dollars, risk and why.

Entry point: :func:`recommend_rightsizing`. Strategies (``krr-simple``, ``vpa``, ``kianax``) are
registered by name in :mod:`kianax_capacity.recommenders.strategies`; this module prepares their
input from a snapshot, calls one, and turns its numbers into :class:`RightsizingRow` values with
a status, a risk, monthly savings and a reason a person can read.

Pure: no I/O, no clock; everything it needs is in the snapshot and the arguments.

Example:
    >>> rows = recommend_rightsizing(snapshot, default_prices=ResourcePrices(0.0316, 0.0042))  # doctest: +SKIP
    >>> requests_by_workload(rows)[("kianax", "Deployment", "api-gateway")]  # doctest: +SKIP
    (0.12, 201326592)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from kianax_capacity.config import ExclusionsConfig, WorkloadGuardrails
from kianax_capacity.model import ResourcePrices, WorkloadKey
from kianax_capacity.recommendations import RightsizingRow
from kianax_capacity.recommenders.aggregate import aggregate_inputs, is_aggregate
from kianax_capacity.recommenders.applied import applied_settings, sample_counts
from kianax_capacity.recommenders.guardrails import (
    group_notes,
    guardrail_table,
    strategy_groups,
)
from kianax_capacity.recommenders.inventory import (
    CONTAINER_KEY,
    WORKLOAD_KEY,
    container_inventory,
    workload_node_groups,
)
from kianax_capacity.recommenders.replay import replay_rows
from kianax_capacity.recommenders.rightsizing_rows import (
    Exclusions,
    RowInputs,
    build_rows,
    excluded_reason,
    finite,
)
from kianax_capacity.recommenders.strategies import (
    RightsizingStrategy,
    UsageData,
    available_strategies,
    get_strategy,
    register_strategy,
)
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.units import GIB, HOURS_PER_MONTH

__all__ = [
    "available_strategies",
    "get_strategy",
    "prepare_usage",
    "recommend_rightsizing",
    "register_strategy",
    "requests_by_workload",
]

#: A sample throttled more than this wanted more CPU than its limit allowed.
THROTTLED_SAMPLE_RATIO = 0.1
_UNIT_DIVISOR = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def epoch_seconds(timestamps: pd.Series) -> pd.Series:
    """UTC epoch seconds (int64) of a tz-aware timestamp column, whatever its resolution."""
    if timestamps.empty:
        return pd.Series(np.zeros(0, dtype="int64"), index=timestamps.index)
    values = pd.to_datetime(timestamps, utc=True)
    unit = getattr(values.dtype, "unit", "ns")
    raw: Any = values.array
    return pd.Series(np.asarray(raw.asi8) // _UNIT_DIVISOR[unit], index=timestamps.index)


def prepare_usage(snapshot: Snapshot) -> UsageData:
    """The strategy input: usage keyed by container/pod ids, current spec, OOM kills, window.

    Usage rows of pods missing from the pods table (no owner known) are dropped, as
    :func:`usage_with_owners` does.
    """
    raw_usage = snapshot.table("usage")
    pods = snapshot.table("pods")[["namespace", "pod", "kind", "workload"]]
    # pid: one id per (namespace, pod, container) in the usage table, found in one pass; the
    # owners are joined on the small table of distinct pods, not on every sample.
    pod_keys = ["namespace", "pod", "container"]
    pid = raw_usage.groupby(pod_keys, observed=True, sort=False).ngroup().to_numpy(dtype="int64")
    first = ~pd.Series(pid).duplicated().to_numpy()
    pod_table = raw_usage.loc[first, pod_keys].assign(pid=pid[first]).astype({"pid": "int64"})
    for column in pod_keys:
        pod_table[column] = pod_table[column].astype(str)
    owned = pod_table.merge(
        pods.astype({"namespace": str, "pod": str}), on=["namespace", "pod"], how="inner"
    )
    owned = owned.sort_values([*CONTAINER_KEY, "pod"], kind="stable")
    owned["cid"] = owned.groupby(CONTAINER_KEY, sort=True).ngroup().astype("int64")
    container_index = pd.MultiIndex.from_frame(
        owned.drop_duplicates("cid").sort_values("cid")[CONTAINER_KEY]
    )
    cid_of_pid = np.full(int(pid.max()) + 1 if len(pid) else 0, -1, dtype="int64")
    cid_of_pid[owned["pid"].to_numpy()] = owned["cid"].to_numpy()
    cid = cid_of_pid[pid] if len(pid) else np.zeros(0, dtype="int64")
    keep = cid >= 0
    usage = pd.DataFrame(
        {
            "t": epoch_seconds(raw_usage["timestamp"]).to_numpy()[keep],
            "cid": cid[keep],
            "pid": pid[keep],
            "cpu_cores": raw_usage["cpu_cores"].to_numpy(dtype="float64")[keep],
            "memory_bytes": raw_usage["memory_bytes"].to_numpy(dtype="float64")[keep],
            "cpu_throttled_ratio": raw_usage["cpu_throttled_ratio"].to_numpy(dtype="float64")[keep],
        }
    )

    inventory = container_inventory(snapshot).set_index(CONTAINER_KEY)
    containers = snapshot.table("containers")
    per_pod = (
        containers.groupby(["namespace", "pod"], observed=True)
        .size()
        .rename("containers_in_pod")
        .reset_index()
    )
    per_pod = per_pod.merge(pods, on=["namespace", "pod"], how="inner")
    containers_in_pod = (
        containers[["namespace", "pod", "container"]]
        .merge(per_pod, on=["namespace", "pod"], how="inner")
        .groupby(CONTAINER_KEY, observed=True)["containers_in_pod"]
        .max()
    )
    inventory["containers_in_pod"] = containers_in_pod.reindex(inventory.index)

    terminations = snapshot.table("terminations")
    oom = terminations[terminations["reason"] == "OOMKilled"][["timestamp", *pod_keys]]
    oom = oom.astype({column: str for column in pod_keys})
    events = oom.merge(
        owned[[*pod_keys, "pid", "cid", "kind", "workload"]], on=pod_keys, how="inner"
    )
    oom_events = pd.DataFrame(
        {
            "t": epoch_seconds(events["timestamp"]).to_numpy(dtype="int64"),
            "cid": events["cid"].to_numpy(dtype="int64"),
            "pid": events["pid"].to_numpy(dtype="int64"),
        }
    )
    counted = (
        events.groupby(CONTAINER_KEY).size().reindex(inventory.index).fillna(0)
        if not events.empty
        else pd.Series(0.0, index=inventory.index)
    )
    # Terminations are optional; the containers table's counter is the fallback.
    inventory["oom_kills"] = np.fmax(inventory["oom_kills"].astype("float64").fillna(0), counted)
    return UsageData(
        jvm=_jvm_samples(snapshot, pod_table, cid_of_pid),
        usage=usage,
        containers=container_index,
        inventory=inventory,
        oom_events=oom_events,
        window_end=int(pd.Timestamp(snapshot.manifest.window_end).timestamp()),
        window_start=int(pd.Timestamp(snapshot.manifest.window_start).timestamp()),
        step_seconds=int(snapshot.step_seconds),
    )


def _jvm_samples(
    snapshot: Snapshot, pod_table: pd.DataFrame, cid_of_pid: np.ndarray
) -> pd.DataFrame | None:
    """The ``jvm_memory`` table keyed by cid (None when the snapshot has none).

    A row without a container label belongs to its pod's only container; in a pod with several
    containers it cannot be placed and is left out.
    """
    jvm = snapshot.table("jvm_memory")
    if jvm.empty or pod_table.empty:
        return None
    jvm = jvm.astype({"namespace": str, "pod": str, "container": str})
    keys = ["namespace", "pod", "container"]
    labelled = jvm[jvm["container"] != ""].merge(pod_table, on=keys, how="inner")
    only = pod_table[~pod_table.duplicated(["namespace", "pod"], keep=False)]
    unlabelled = (
        jvm[jvm["container"] == ""]
        .drop(columns="container")
        .merge(only, on=["namespace", "pod"], how="inner")
    )
    joined = pd.concat([labelled, unlabelled], ignore_index=True)
    if joined.empty:
        return None
    cid = cid_of_pid[joined["pid"].to_numpy(dtype="int64")]
    frame = pd.DataFrame(
        {
            "t": epoch_seconds(joined["timestamp"]).to_numpy(),
            "cid": cid,
            "heap": (joined["area"] == "heap").to_numpy(),
            "used_bytes": joined["used_bytes"].to_numpy(dtype="float64"),
            "max_bytes": joined["max_bytes"].to_numpy(dtype="float64"),
        }
    )
    return frame[frame["cid"] >= 0].reset_index(drop=True)


def _usage_stats(data: UsageData, window_samples: int) -> pd.DataFrame:
    """Per container: samples, history span, replicas and the usual percentiles (evidence)."""
    usage = data.usage.assign(
        throttled=data.usage["cpu_throttled_ratio"].fillna(0.0) > THROTTLED_SAMPLE_RATIO
    )
    grouped = usage.groupby("cid")
    stats = grouped.agg(
        cpu_samples=("cpu_cores", "count"),
        memory_samples=("memory_bytes", "count"),
        rows=("t", "size"),
        first=("t", "min"),
        last=("t", "max"),
        cpu_max=("cpu_cores", "max"),
        memory_max=("memory_bytes", "max"),
        throttled_ratio_mean=("cpu_throttled_ratio", "mean"),
        throttled_sample_share=("throttled", "mean"),
    )
    quantiles = (
        grouped[["cpu_cores", "memory_bytes"]].quantile(np.array([0.5, 0.95, 0.99])).unstack()
    )
    for column, name in (("cpu_cores", "cpu"), ("memory_bytes", "memory")):
        for q, label in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
            stats[f"{name}_{label}"] = quantiles[(column, q)]
    timestamps = max(int(usage["t"].nunique()), window_samples, 1)
    # Average running copies over the window: pod-samples over window samples (0.3 for a
    # CronJob that runs 30% of the time).
    stats["replicas"] = stats["rows"] / timestamps
    stats["history_hours"] = (stats["last"] - stats["first"]) / 3600.0
    return data.keyed(stats)


def recommend_rightsizing(
    snapshot: Snapshot,
    *,
    strategy: str = "kianax",
    profile: str = "production",
    unit_prices: Mapping[str, ResourcePrices] | None = None,
    default_prices: ResourcePrices,
    exclusions: ExclusionsConfig | None = None,
    row_backtest: bool = True,
    guardrails: Mapping[str, WorkloadGuardrails] | None = None,
) -> tuple[RightsizingRow, ...]:
    """One right-sizing row per (namespace, kind, workload, container) of the snapshot.

    Args:
        snapshot: the cluster's tables over the window.
        strategy: a registered strategy name (see :func:`available_strategies`).
        profile: production, development or high-availability.
        unit_prices: per node group, the price of a core-hour and a GiB-hour.
        default_prices: the price for workloads on a node group not in ``unit_prices``.
        exclusions: namespaces and ``namespace/workload`` names to leave alone.
        row_backtest: replay the strategy with rolling weekly origins and put the result in
            each row's ``evidence.backtest`` (off inside the cluster backtest, which scores
            its own split).
        guardrails: ``[workloads."namespace/name"]`` sections (see :mod:`.guardrails`).

    Raises:
        UserInputError: unknown strategy or profile.
    """
    chosen = get_strategy(strategy).for_profile(profile)
    data = prepare_usage(snapshot)
    unsupported: str | None = None
    aggregate = is_aggregate(snapshot)
    if aggregate:
        # Server-side per-pod statistics instead of samples: same rows, pooled from them.
        series_data = data
        data, stats, raw, unsupported = aggregate_inputs(snapshot, data, chosen)
    else:
        start, end = snapshot.window
        window_samples = int((end - start).total_seconds() // max(snapshot.step_seconds, 1)) + 1
        stats = _usage_stats(data, window_samples) if not data.usage.empty else pd.DataFrame()
    table = guardrail_table(data, guardrails)
    groups = strategy_groups(chosen, profile, table)
    choices = group_notes(groups, len(data.containers))
    if aggregate:
        final = chosen.finalize(raw, data)
        for group_strategy, mask, _ in groups[1:]:
            _, _, group_raw, _ = aggregate_inputs(snapshot, series_data, group_strategy)
            final = _overlay(final, group_strategy.finalize(group_raw, data), data, mask)
    else:
        final = _compute_final(groups, data)
    exclusions = exclusions or ExclusionsConfig()
    prices = _prices_by_workload(snapshot, unit_prices or {}, default_prices)
    hpas = _hpas_by_workload(snapshot)
    hpa_cpu = {key for key, hpa in hpas.items() if finite(hpa.get("target_cpu_utilization"))}
    excluded = table.exclude | np.array(
        [excluded_reason(key, exclusions) is not None for key in data.containers], dtype=bool
    )

    def settle(frame: pd.DataFrame, part: UsageData, counts: pd.DataFrame) -> pd.DataFrame:
        return applied_settings(
            chosen,
            part,
            frame,
            counts=counts,
            hpa_cpu_workloads=hpa_cpu,
            excluded=excluded,
            guardrails=table,
            choices=choices,
        )

    counts = _counts_by_cid(stats, data)
    applied = data.keyed(settle(final, data, counts))
    replay: pd.DataFrame | None = None
    if row_backtest and not aggregate:
        replay = data.keyed(
            replay_rows(
                lambda part: _compute_final(groups, part),
                data,
                lambda frame, part: settle(frame, part, sample_counts(part)),
                _prices_by_cid(data, prices, default_prices),
            )
        )
    rows = build_rows(
        RowInputs(
            chosen=chosen,
            data=data,
            final=final,
            stats=stats,
            prices=prices,
            default_prices=default_prices,
            hpas=hpas,
            exclusions=Exclusions(exclusions, guardrails or {}),
            applied=applied,
            backtest_note=_backtest_note(aggregate, row_backtest, replay),
            replay=replay,
        )
    )
    if unsupported:
        rows = tuple(
            replace(row, reason=unsupported) if row.status == "insufficient_data" else row
            for row in rows
        )
    return rows


def _compute_final(
    groups: list[tuple[RightsizingStrategy, np.ndarray, str]], data: UsageData
) -> pd.DataFrame:
    """The strategy's finalized numbers, with per-workload profile/percentile choices overlaid."""
    chosen = groups[0][0]
    final = chosen.finalize(chosen.compute(data), data)
    for strategy, mask, _ in groups[1:]:
        keep = mask[data.usage["cid"].to_numpy(dtype="int64")]
        events = data.oom_events
        part = replace(
            data,
            usage=data.usage[keep],
            oom_events=events[mask[events["cid"].to_numpy(dtype="int64")]],
        )
        final = _overlay(final, strategy.finalize(strategy.compute(part), part), data, mask)
    return final


def _overlay(
    final: pd.DataFrame, group: pd.DataFrame, data: UsageData, mask: np.ndarray
) -> pd.DataFrame:
    """``final`` with the rows of the containers in ``mask`` (cid) taken from ``group``."""
    keys = data.containers[mask]
    out = final.copy()
    for column in group.columns:
        if column not in out:
            out[column] = pd.Series(np.nan, index=out.index, dtype=group[column].dtype)
    columns = list(group.columns)
    if out[columns].dtypes.ne(group[columns].dtypes).any():
        out = out.astype({c: object for c in columns if out[c].dtype != group[c].dtype})
    out.loc[keys, columns] = group.loc[keys, columns].to_numpy()
    return out


def _counts_by_cid(stats: pd.DataFrame, data: UsageData) -> pd.DataFrame:
    """``stats``' sample counts and first/last sample, cid-indexed (for :func:`applied_settings`)."""
    columns = ["cpu_samples", "memory_samples", "first", "last"]
    if stats.empty:
        return pd.DataFrame(np.nan, index=pd.RangeIndex(len(data.containers)), columns=columns)
    counts = stats[columns].reindex(data.containers)
    counts.index = pd.RangeIndex(len(data.containers))
    return counts


def _prices_by_cid(
    data: UsageData, prices: Mapping[WorkloadKey, ResourcePrices], default: ResourcePrices
) -> pd.DataFrame:
    """Per cid, the USD a month of one core (``cpu_usd``) and of one byte (``byte_usd``)."""
    chosen = [
        prices.get((ns, kind, workload), default) for ns, kind, workload, _ in data.containers
    ]
    return pd.DataFrame(
        {
            "cpu_usd": [p.cpu_core_hour_usd * HOURS_PER_MONTH for p in chosen],
            "byte_usd": [p.memory_gib_hour_usd * HOURS_PER_MONTH / GIB for p in chosen],
        },
        index=pd.RangeIndex(len(data.containers)),
    )


def _backtest_note(aggregate: bool, row_backtest: bool, replay: pd.DataFrame | None) -> str:
    """Why a row has no ``evidence.backtest`` ("" when rows can have one)."""
    if aggregate:
        return (
            "No backtest: this snapshot holds server-side statistics (aggregate shape), not the "
            "usage series a replay needs; fetch with --shape series to replay the weeks."
        )
    if not row_backtest:
        return "No backtest: the per-row replay was not asked for."
    if replay is None or replay.dropna(how="all").empty:
        return (
            "No backtest: the history holds less than two weeks, and a replay needs one week "
            "to train on and one to test."
        )
    return ""


def requests_by_workload(
    rows: Iterable[RightsizingRow],
) -> dict[WorkloadKey, tuple[float, float]]:
    """Per workload, the pod's summed (CPU cores, memory bytes) requests after right-sizing.

    For the HPA recommender: it simulates scaling with these new per-pod requests. Containers
    without a recommendation (insufficient data, excluded) count with their current request;
    an unset request counts as zero.
    """
    totals: dict[WorkloadKey, list[float]] = {}
    for row in rows:
        use = row.recommended if row.status in ("ok", "no_change") else row.current
        cpu = use.cpu_request if use.cpu_request is not None else row.current.cpu_request
        memory = (
            use.memory_request if use.memory_request is not None else row.current.memory_request
        )
        entry = totals.setdefault((row.namespace, row.kind, row.workload), [0.0, 0.0])
        entry[0] += cpu or 0.0
        entry[1] += memory or 0
    return {key: (cpu, float(memory)) for key, (cpu, memory) in totals.items()}


def _prices_by_workload(
    snapshot: Snapshot, unit_prices: Mapping[str, ResourcePrices], default: ResourcePrices
) -> dict[WorkloadKey, ResourcePrices]:
    groups = workload_node_groups(snapshot)
    out: dict[WorkloadKey, ResourcePrices] = {}
    for namespace, kind, workload, group in groups[[*WORKLOAD_KEY, "node_group"]].itertuples(
        index=False
    ):
        out[(namespace, kind, workload)] = (
            unit_prices.get(group, default) if isinstance(group, str) else default
        )
    return out


def _hpas_by_workload(snapshot: Snapshot) -> dict[WorkloadKey, dict[str, Any]]:
    hpas = snapshot.table("hpas")
    out: dict[WorkloadKey, dict[str, Any]] = {}
    for record in hpas.to_dict("records"):
        out[(str(record["namespace"]), str(record["kind"]), str(record["workload"]))] = {
            str(k): v for k, v in record.items()
        }
    return out
