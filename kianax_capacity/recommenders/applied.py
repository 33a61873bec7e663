"""What a right-sizing recommendation would put in place, per container, vectorised.

One rule set, used twice: by :mod:`kianax_capacity.recommenders.rightsizing` for the rows it
writes, and by :mod:`kianax_capacity.recommenders.replay` for the settings it replays at each
origin, so the backtest scores exactly what a row recommends. In order:

1. Nothing usable (too few samples, too short a history for a service, a NaN from the
   strategy) or excluded: the current settings stay.
2. An HPA scaling on CPU: a CPU *increase* is left to the HPA (the request stays).
3. Guardrails from ``[workloads."namespace/name"]`` clamp the result (see
   :mod:`kianax_capacity.recommenders.guardrails`).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from kianax_capacity.model import WorkloadKey
from kianax_capacity.recommenders.guardrails import GuardrailTable, clamp
from kianax_capacity.recommenders.strategies._base import (
    RAW_COLUMNS,
    RightsizingStrategy,
    UsageData,
    is_batch,
)

__all__ = ["CURRENT_COLUMNS", "applied_settings", "sample_counts", "sufficient"]

#: inventory columns holding today's settings, in RAW_COLUMNS order
CURRENT_COLUMNS = (
    "cpu_request_cores",
    "cpu_limit_cores",
    "memory_request_bytes",
    "memory_limit_bytes",
)


def sample_counts(data: UsageData) -> pd.DataFrame:
    """Per cid: non-empty CPU and memory samples, first and last sample (epoch seconds)."""
    usage = data.usage
    grouped = usage.groupby("cid")
    counts = grouped.agg(
        cpu_samples=("cpu_cores", "count"),
        memory_samples=("memory_bytes", "count"),
        first=("t", "min"),
        last=("t", "max"),
    )
    return counts.reindex(pd.RangeIndex(len(data.containers)))


def sufficient(counts: pd.DataFrame, data: UsageData, strategy: RightsizingStrategy) -> np.ndarray:
    """True where the history is long enough to recommend (the rule ``_insufficient`` words)."""
    settings = strategy.settings
    samples = np.fmin(
        counts["cpu_samples"].to_numpy(dtype="float64"),
        counts["memory_samples"].to_numpy(dtype="float64"),
    )
    hours = (counts["last"] - counts["first"]).to_numpy(dtype="float64") / 3600.0
    batch = is_batch(data.containers)
    enough = np.nan_to_num(samples) >= settings.min_samples
    long_enough = batch | (np.nan_to_num(hours) >= settings.min_history_hours)
    return np.asarray(enough & long_enough)


def applied_settings(
    strategy: RightsizingStrategy,
    data: UsageData,
    final: pd.DataFrame,
    *,
    counts: pd.DataFrame,
    hpa_cpu_workloads: Collection[WorkloadKey],
    excluded: np.ndarray,
    guardrails: GuardrailTable | None = None,
    choices: list[str] | None = None,
) -> pd.DataFrame:
    """cid-indexed settings after the rules above.

    ``counts`` is cid-indexed ``cpu_samples``, ``memory_samples``, ``first``, ``last`` (see
    :func:`sample_counts`; the aggregate shape pools them from server-side statistics).

    Columns: RAW_COLUMNS (NaN = unset), ``usable`` (a recommendation was made), ``deferred``
    (the CPU increase was left to the HPA), ``strategy_cpu_request``, ``leak``,
    ``leak_slope_bytes_per_day``, ``leak_baseline_bytes``, ``guardrail_note``.
    """
    n = len(data.containers)
    cid_index = pd.RangeIndex(n)
    rec = final.reindex(data.containers)
    rec.index = cid_index
    current = data.inventory_by_cid()[list(CURRENT_COLUMNS)]
    current.columns = list(RAW_COLUMNS)
    finite = np.isfinite(rec["cpu_request"].to_numpy(dtype="float64")) & np.isfinite(
        rec["memory_request"].to_numpy(dtype="float64")
    )
    usable = finite & sufficient(counts, data, strategy) & ~excluded
    out = current.copy()
    for column in RAW_COLUMNS:
        out[column] = np.where(usable, rec[column].to_numpy(dtype="float64"), current[column])
    out["usable"] = usable
    out["strategy_cpu_request"] = out["cpu_request"]
    workloads = pd.MultiIndex.from_arrays(
        [data.containers.get_level_values(level) for level in ("namespace", "kind", "workload")]
    )
    scaled_on_cpu = (
        np.asarray(workloads.isin(list(hpa_cpu_workloads)))
        if hpa_cpu_workloads
        else (np.zeros(n, dtype=bool))
    )
    now = current["cpu_request"].to_numpy(dtype="float64")
    deferred = usable & scaled_on_cpu & (out["cpu_request"].to_numpy() > now)
    out["cpu_request"] = np.where(deferred, now, out["cpu_request"])
    out["deferred"] = deferred
    leak = rec["leak"] if "leak" in rec else pd.Series(False, index=cid_index)
    out["leak"] = usable & leak.fillna(False).astype(bool).to_numpy()
    for column in ("leak_slope_bytes_per_day", "leak_baseline_bytes"):
        source = f"ev_{column}"
        out[column] = rec[source].to_numpy(dtype="float64") if source in rec else np.full(n, np.nan)
    if guardrails is None:
        out["guardrail_note"] = ""
        return out
    return clamp(out, current, guardrails, choices)
