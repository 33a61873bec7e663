"""Right-sizing rows: the strategy's numbers and the applied settings turned into rows.

:func:`build_rows` makes one :class:`RightsizingRow` per container of the inventory, in one of
three shapes: excluded (by ``[exclusions]`` or a guardrail's ``exclude``), insufficient data
(too few samples or hours, or nothing usable), or sized, whose status, risk, dollars, evidence
and reason are all built from the same :class:`Sized` numbers, so the sentence a person reads
cites what the row carries.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kianax_capacity.config import ExclusionsConfig, WorkloadGuardrails, merge_guardrails
from kianax_capacity.model import ResourcePrices, WorkloadKey
from kianax_capacity.recommendations import Resources, RightsizingRow, Status
from kianax_capacity.recommenders.confidence import row_confidence
from kianax_capacity.recommenders.replay import backtest_evidence
from kianax_capacity.recommenders.strategies import RightsizingStrategy, UsageData
from kianax_capacity.recommenders.strategies._base import BATCH_KINDS
from kianax_capacity.units import format_cpu, format_memory, format_usd

__all__ = ["Exclusions", "RowInputs", "build_rows", "excluded_reason", "finite"]

#: A change smaller than this share of the current request, and worth less than
#: NO_CHANGE_USD a month, is not worth a rollout.
NO_CHANGE_FRACTION = 0.10
NO_CHANGE_USD = 1.0

ContainerKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class Exclusions:
    """What leaves a container alone: ``[exclusions]`` and ``exclude = true`` guardrails."""

    config: ExclusionsConfig
    guardrails: Mapping[str, WorkloadGuardrails]


@dataclass(frozen=True)
class RowInputs:
    """Everything the rows are built from (one right-sizing run)."""

    chosen: RightsizingStrategy
    data: UsageData
    #: the strategy's finalized numbers per container (CONTAINER_KEY index)
    final: pd.DataFrame
    #: sample statistics per container (evidence); empty when there are no samples
    stats: pd.DataFrame
    prices: Mapping[WorkloadKey, ResourcePrices]
    default_prices: ResourcePrices
    hpas: Mapping[WorkloadKey, Mapping[str, Any]]
    exclusions: Exclusions
    #: the settings put in place (HPA deferral, guardrails), per container
    applied: pd.DataFrame
    #: why a row has no backtest ("" when rows can have one)
    backtest_note: str
    replay: pd.DataFrame | None


@dataclass(frozen=True)
class Sized:
    """One container's recommendation as numbers, before any sentence is written."""

    current: Resources
    recommended: Resources
    replicas: float
    savings: float
    evidence: dict[str, Any]
    leak: bool
    #: the CPU request the strategy wanted where the HPA keeps the current one (else None)
    deferred_cpu: float | None
    risk: str
    risk_reason: str
    confidence: str | None
    confidence_reason: str
    status: Status


def build_rows(inputs: RowInputs) -> tuple[RightsizingRow, ...]:
    """One row per container of ``inputs.data.inventory``, in the inventory's order."""
    final_records = inputs.final.to_dict("index")
    stats_records = inputs.stats.to_dict("index") if not inputs.stats.empty else {}
    applied_records = inputs.applied.to_dict("index")
    replay = inputs.replay
    replay_records = (
        replay.dropna(subset=["weeks"]).to_dict("index")
        if replay is not None and "weeks" in replay
        else {}
    )
    rows: list[RightsizingRow] = []
    for index_key, spec in inputs.data.inventory.to_dict("index").items():
        key: ContainerKey = index_key  # type: ignore[assignment]
        current = _resources(
            spec["cpu_request_cores"],
            spec["cpu_limit_cores"],
            spec["memory_request_bytes"],
            spec["memory_limit_bytes"],
        )
        stat = stats_records.get(key)
        # No samples: nobody ran it on average (the schema wants a number, never null).
        replicas = float(stat["replicas"]) if stat is not None else 0.0
        excluded = _exclusion(key, inputs.exclusions)
        if excluded:
            rows.append(_row(key, current, current, "excluded", excluded, replicas=replicas))
            continue
        rec_record = final_records.get(key)
        stat_series = _record_values(stat) if stat is not None else None
        rec = _record_values(rec_record) if rec_record is not None else None
        missing = _insufficient(stat_series, rec, key[1], inputs.chosen)
        settled = applied_records.get(key)
        if not missing and (settled is None or not settled["usable"]):
            missing = "The strategy could not compute a request from the samples, so nothing is recommended."
        if missing or stat_series is None or rec is None or settled is None:
            evidence = {"samples": int(stat["cpu_samples"])} if stat is not None else {}
            reason = missing or "No usage samples were found."
            rows.append(
                _row(key, current, Resources(), "insufficient_data", reason, replicas, evidence)
            )
            continue
        sized = _size(inputs, key, current, spec, stat_series, rec, settled, replicas)
        sized = _with_backtest(sized, replay_records.get(key), inputs.backtest_note)
        rows.append(
            _row(
                key,
                current,
                sized.recommended,
                sized.status,
                _sized_reason(inputs, key, sized, rec, settled),
                round(replicas, 3),
                sized.evidence,
                monthly_savings_usd=round(sized.savings, 2),
                risk=sized.risk,
                confidence=sized.confidence,
            )
        )
    return tuple(rows)


def _row(
    key: ContainerKey,
    current: Resources,
    recommended: Resources,
    status: Status,
    reason: str,
    replicas: float,
    evidence: Mapping[str, Any] | None = None,
    **sized: Any,
) -> RightsizingRow:
    namespace, kind, workload, container = key
    return RightsizingRow(
        namespace=namespace,
        kind=kind,
        workload=workload,
        container=container,
        current=current,
        recommended=recommended,
        status=status,
        reason=reason,
        replicas=replicas,
        evidence=dict(evidence or {}),
        **sized,
    )


def _exclusion(key: ContainerKey, exclusions: Exclusions) -> str | None:
    namespace, _, workload, _ = key
    excluded = excluded_reason(key, exclusions.config)
    rail = merge_guardrails(exclusions.guardrails, namespace, workload)
    if not excluded and rail is not None and rail.exclude:
        excluded = (
            f"Workload {namespace}/{workload} is excluded by [{', '.join(rail.sources)}] "
            "exclude = true in the configuration, so nothing is recommended."
        )
    return excluded


def _size(
    inputs: RowInputs,
    key: ContainerKey,
    current: Resources,
    spec: Mapping[Any, Any],
    stats: Mapping[Any, Any],
    rec: Mapping[Any, Any],
    settled: Mapping[Any, Any],
    replicas: float,
) -> Sized:
    """The sized numbers of one container (the backtest is added by :func:`_with_backtest`)."""
    namespace, kind, workload, _ = key
    recommended = _resources(
        settled["cpu_request"],
        settled["cpu_limit"],
        settled["memory_request"],
        settled["memory_limit"],
    )
    price = inputs.prices.get((namespace, kind, workload), inputs.default_prices)
    savings = _monthly_cost(current, price, replicas) - _monthly_cost(recommended, price, replicas)
    evidence = _evidence(stats, rec, spec.get("oom_kills") or 0)
    deferred_cpu = finite(settled["strategy_cpu_request"]) if settled["deferred"] else None
    deferred = bool(settled["deferred"])
    if deferred:
        evidence["cpu_request_before_hpa"] = deferred_cpu
    leak = bool(rec.get("leak", False))
    if leak:
        evidence["leak"] = True
    risk, risk_reason = _risk(current, recommended, evidence, leak)
    status: Status = "ok"
    if (
        not leak
        and _small(current.cpu_request, recommended.cpu_request)
        and _small(current.memory_request, recommended.memory_request)
        and abs(savings) < NO_CHANGE_USD
    ):
        status = "hpa_managed" if deferred else "no_change"
    return Sized(
        current=current,
        recommended=recommended,
        replicas=replicas,
        savings=savings,
        evidence=evidence,
        leak=leak,
        deferred_cpu=deferred_cpu,
        risk=risk,
        risk_reason=risk_reason,
        confidence=None,
        confidence_reason="",
        status=status,
    )


def _with_backtest(sized: Sized, replayed: Mapping[Any, Any] | None, note: str) -> Sized:
    """``sized`` with its backtest evidence and the confidence rated from it."""
    evidence = dict(sized.evidence)
    days = float(evidence.get("days") or 0.0)
    evidence["backtest"] = backtest_evidence(replayed, days) if replayed else None
    if replayed is None:
        evidence["backtest_note"] = note or (
            "No backtest: this container had no samples in any replayed test week."
        )
    confidence, confidence_reason = row_confidence(evidence["backtest"], days, sized.leak)
    return dataclasses.replace(
        sized, evidence=evidence, confidence=confidence, confidence_reason=confidence_reason
    )


def _sized_reason(
    inputs: RowInputs,
    key: ContainerKey,
    sized: Sized,
    rec: Mapping[Any, Any],
    settled: Mapping[Any, Any],
) -> str:
    """The row's reason, every number in it taken from ``sized``."""
    current, recommended, savings = sized.current, sized.recommended, sized.savings
    summary = (
        f"{_change_text('CPU request', current.cpu_request, recommended.cpu_request, format_cpu)}, "
        f"{_change_text('memory request', current.memory_request, recommended.memory_request, format_memory)}, "
        f"{_change_text('memory limit', current.memory_limit, recommended.memory_limit, format_memory)} "
        f"by the {inputs.chosen.name} strategy; "
        + (f"saves {format_usd(savings)}" if savings >= 0 else f"adds {format_usd(-savings)}")
        + f" a month over {sized.replicas:.2g} replica(s) on average."
    )
    if sized.status == "no_change":
        summary = (
            "The current values are within 10% of the recommendation and worth less than $1 a month: "
            + summary
        )
    deferred = _deferred_sentence(current, sized.deferred_cpu) if settled["deferred"] else ""
    hpa = inputs.hpas.get(key[:3])
    sentences = [
        summary,
        str(rec.get("note") or ""),
        deferred,
        str(settled.get("guardrail_note") or ""),
        _hpa_sentence(hpa, current, recommended),
        sized.risk_reason,
        sized.confidence_reason,
    ]
    return " ".join(s for s in sentences if s)


def finite(value: Any) -> float | None:
    """A finite float, or None for NaN/None."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _resources(
    cpu_request: Any, cpu_limit: Any, memory_request: Any, memory_limit: Any
) -> Resources:
    def to_int(value: Any) -> int | None:
        number = finite(value)
        return None if number is None else int(math.ceil(number))

    return Resources(
        cpu_request=finite(cpu_request),
        cpu_limit=finite(cpu_limit),
        memory_request=to_int(memory_request),
        memory_limit=to_int(memory_limit),
    )


def _monthly_cost(resources: Resources, prices: ResourcePrices, replicas: float) -> float:
    return (
        prices.monthly_usd(resources.cpu_request or 0.0, float(resources.memory_request or 0))
        * replicas
    )


def excluded_reason(key: tuple[str, ...], exclusions: ExclusionsConfig) -> str | None:
    """Why ``[exclusions]`` leaves a container alone, or None."""
    namespace, _, workload, _ = key
    if namespace in exclusions.namespaces:
        return f"Namespace {namespace} is excluded in the configuration, so nothing is recommended."
    if f"{namespace}/{workload}" in exclusions.workloads:
        return f"Workload {namespace}/{workload} is excluded in the configuration, so nothing is recommended."
    return None


def _record_values(record: Mapping[Any, Any]) -> Any:
    """``pd.Series(record)``'s values without building a Series (thousands of rows).

    A record with a string keeps every value as it is (an object Series); one of plain numbers
    becomes float64, as pandas would make it; anything else goes through pandas itself.
    """
    values = record.values()
    if any(isinstance(value, str) for value in values):
        return record
    if all(
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool | np.bool_)
        for value in values
    ):
        return {key: np.float64(value) for key, value in record.items()}
    return pd.Series(record)


def _insufficient(
    stats: Mapping[Any, Any] | None,
    rec: Mapping[Any, Any] | None,
    kind: str,
    chosen: RightsizingStrategy,
) -> str | None:
    settings = chosen.settings
    if stats is None:
        return "No usage samples were found for this container in the window, so nothing can be recommended."
    cpu_samples, memory_samples = int(stats["cpu_samples"]), int(stats["memory_samples"])
    if min(cpu_samples, memory_samples) < settings.min_samples:
        return (
            f"Only {cpu_samples} CPU and {memory_samples} memory samples were found (at least "
            f"{settings.min_samples} of each are needed), so nothing is recommended yet."
        )
    hours = float(stats["history_hours"])
    if kind not in BATCH_KINDS and hours < settings.min_history_hours:
        return (
            f"Only {hours:.1f} hours of history were found (at least {settings.min_history_hours:g} are "
            "needed to see a daily cycle), so nothing is recommended yet."
        )
    if rec is None or not (np.isfinite(rec["cpu_request"]) and np.isfinite(rec["memory_request"])):
        return (
            "The strategy could not compute a request from the samples, so nothing is recommended."
        )
    return None


def _risk(
    current: Resources, recommended: Resources, evidence: Mapping[str, Any], leak: bool
) -> tuple[str, str]:
    if leak:
        return (
            "high",
            "Risk is high: a leaking container will be OOM-killed again until the leak is fixed.",
        )
    oom_kills = int(evidence.get("oom_kills") or 0)
    if oom_kills:
        return "high", (
            f"Risk is high: it was OOM-killed {oom_kills} time(s), so its true memory need was cut off "
            "at the old limit; watch it after the change."
        )
    reasons = []
    throttled = evidence.get("throttled_sample_share") or 0.0
    if throttled > 0.05:
        reasons.append(
            f"it was CPU-throttled in {throttled:.0%} of samples, so its real CPU demand is "
            "estimated, not measured"
        )
    for name, now, then in (
        ("CPU", current.cpu_request, recommended.cpu_request),
        ("memory", current.memory_request, recommended.memory_request),
    ):
        if now and then is not None and then < 0.5 * now:
            reasons.append(f"the {name} request is cut by more than half")
    if (evidence.get("days") or 0.0) < 7:
        reasons.append("less than a week of history was seen")
    if reasons:
        return "medium", "Risk is medium: " + "; ".join(reasons) + "."
    return "low", "Risk is low: the new values cover the observed usage with headroom."


def _hpa_sentence(hpa: Mapping[str, Any] | None, current: Resources, recommended: Resources) -> str:
    if not hpa:
        return ""
    parts = []
    cpu_target = finite(hpa.get("target_cpu_utilization"))
    memory_target = finite(hpa.get("target_memory_utilization"))
    if cpu_target is not None and current.cpu_request != recommended.cpu_request:
        parts.append(f"CPU at {cpu_target:g}%")
    if memory_target is not None and current.memory_request != recommended.memory_request:
        parts.append(f"memory at {memory_target:g}%")
    if not parts:
        return ""
    return (
        f"HPA {hpa.get('hpa')} scales this workload on {' and '.join(parts)} of the request; a new "
        "request would move its scale point, so the target is adjusted in the `hpa` section to "
        "keep scaling where it was."
    )


def _evidence(stats: Mapping[Any, Any], rec: Mapping[Any, Any], oom_kills: float) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "samples": int(stats["cpu_samples"]),
        "days": round(float(stats["history_hours"]) / 24.0, 2),
        "replicas_avg": round(float(stats["replicas"]), 3),
        "cpu_p50_cores": stats["cpu_p50"],
        "cpu_p95_cores": stats["cpu_p95"],
        "cpu_p99_cores": stats["cpu_p99"],
        "cpu_max_cores": stats["cpu_max"],
        "memory_p50_bytes": stats["memory_p50"],
        "memory_p99_bytes": stats["memory_p99"],
        "memory_max_bytes": stats["memory_max"],
        "throttled_ratio_mean": stats["throttled_ratio_mean"],
        "throttled_sample_share": stats["throttled_sample_share"],
        "oom_kills": int(oom_kills),
    }
    for column, value in rec.items():
        if isinstance(column, str) and column.startswith("ev_"):
            evidence[column[3:]] = value
    return {k: _tidy(v) for k, v in evidence.items() if _tidy(v) is not None}


def _tidy(value: Any) -> Any:
    if isinstance(value, str | bool | np.bool_):
        return bool(value) if isinstance(value, np.bool_) else value
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else round(number, 6)


def _change_text(name: str, before: Any, after: Any, fmt: Any) -> str:
    return f"{name} {fmt(before)} → {fmt(after)}"


def _deferred_sentence(current: Resources, strategy_cpu: float | None) -> str:
    """Why a CPU increase is left to the HPA (see :mod:`kianax_capacity.recommenders.applied`).

    An HPA on CPU utilisation sets each pod's CPU use itself (demand / replicas): pods that run
    hot are a sign of too few replicas (a max too low, or pods Pending), not of too small a
    request. Raising the request there only moves the scale point and multiplies the cost, so
    the request stays and the ``hpa`` section raises the replicas instead.
    """
    return (
        f"The HPA scales this workload on CPU, so its pods' CPU use ({format_cpu(strategy_cpu)} "
        "at the strategy's percentile) is what too few replicas leave each pod: the CPU request "
        f"stays {format_cpu(current.cpu_request)} and the `hpa` section adds replicas instead."
    )


def _small(before: float | int | None, after: float | int | None) -> bool:
    """True when ``after`` is within NO_CHANGE_FRACTION of ``before``."""
    if before is None or after is None:
        return before is None and after is None
    if before == 0:
        return after == 0
    return abs(after - before) / before < NO_CHANGE_FRACTION
