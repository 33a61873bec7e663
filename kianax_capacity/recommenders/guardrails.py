"""Per-workload guardrails (``[workloads."namespace/name"]``) applied to right-sizing, vectorised.

Two halves:

* :func:`strategy_groups`: a workload may ask for another profile or percentile; the
  containers that share one such choice are computed together by a strategy built for it
  (settings a strategy does not have are named in the row's reason, never silently dropped).
* :func:`clamp`: after a strategy (and the HPA rule) has spoken, the bounds hold: memory never
  below today's request and limit where ``allow_decrease = false``, then every request and
  limit within its min/max (the explicit bounds win over ``allow_decrease``), and a request
  never above its limit. No strategy can get past it: it runs on what every strategy returns.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from kianax_capacity.config import WorkloadGuardrails, merge_guardrails
from kianax_capacity.recommenders.strategies._base import RightsizingStrategy, UsageData
from kianax_capacity.units import format_cpu, format_memory

__all__ = ["GuardrailTable", "clamp", "group_notes", "guardrail_table", "strategy_groups"]

_BOUNDS = ("min_request", "max_request", "min_limit", "max_limit")


@dataclass(frozen=True)
class GuardrailTable:
    """Per cid: the merged guardrails (None where no section matches) and their bound arrays."""

    rails: tuple[WorkloadGuardrails | None, ...]
    #: cid-indexed, columns cpu_min_request ... memory_max_limit (NaN = no bound)
    bounds: pd.DataFrame
    keep_memory: np.ndarray  # allow_decrease = false
    exclude: np.ndarray

    @property
    def any(self) -> bool:
        return any(rail is not None for rail in self.rails)


def guardrail_table(
    data: UsageData, guardrails: Mapping[str, WorkloadGuardrails] | None
) -> GuardrailTable:
    """The guardrails of every container of ``data`` (cid order)."""
    n = len(data.containers)
    columns = [f"{r}_{b}" for r in ("cpu", "memory") for b in _BOUNDS]
    if not guardrails:
        return GuardrailTable(
            rails=(None,) * n,
            bounds=pd.DataFrame(np.nan, index=pd.RangeIndex(n), columns=columns),
            keep_memory=np.zeros(n, dtype=bool),
            exclude=np.zeros(n, dtype=bool),
        )
    cache: dict[tuple[str, str], WorkloadGuardrails | None] = {}
    rails = []
    for namespace, _, workload, _ in data.containers:
        key = (str(namespace), str(workload))
        if key not in cache:
            cache[key] = merge_guardrails(guardrails, *key)
        rails.append(cache[key])
    values = np.full((n, len(columns)), np.nan)
    for i, rail in enumerate(rails):
        if rail is None:
            continue
        for j, column in enumerate(columns):
            resource, bound = column.split("_", 1)
            value = getattr(getattr(rail, resource), bound)
            if value is not None:
                values[i, j] = value
    return GuardrailTable(
        rails=tuple(rails),
        bounds=pd.DataFrame(values, index=pd.RangeIndex(n), columns=columns),
        keep_memory=np.array([r is not None and not r.memory.allow_decrease for r in rails]),
        exclude=np.array([r is not None and r.exclude for r in rails], dtype=bool),
    )


def group_notes(groups: list[tuple[RightsizingStrategy, np.ndarray, str]], n: int) -> list[str]:
    """Per cid, the note of the last group that covers it."""
    out = [""] * n
    for _, mask, note in groups[1:]:
        for cid in np.flatnonzero(mask):
            out[cid] = note
    return out


def strategy_groups(
    chosen: RightsizingStrategy, profile: str, table: GuardrailTable
) -> list[tuple[RightsizingStrategy, np.ndarray, str]]:
    """(strategy, cid mask, note) for each distinct per-workload choice of profile/percentiles.

    The first entry is ``chosen`` for every container; later ones override it on their mask.
    """
    groups: dict[tuple[str, float | None, float | None], list[int]] = {}
    for cid, rail in enumerate(table.rails):
        if rail is None or (
            rail.profile is None and rail.cpu_percentile is None and rail.memory_percentile is None
        ):
            continue
        key = (rail.profile or profile, rail.cpu_percentile, rail.memory_percentile)
        groups.setdefault(key, []).append(cid)
    out: list[tuple[RightsizingStrategy, np.ndarray, str]] = [
        (chosen, np.ones(len(table.rails), dtype=bool), "")
    ]
    names = {f.name for f in fields(chosen.settings)}
    for (group_profile, cpu_percentile, memory_percentile), cids in groups.items():
        strategy = type(chosen).for_profile(group_profile)
        changes: dict[str, Any] = {}
        unused = []
        parts = [f"profile {group_profile}"] if group_profile != profile else []
        for name, value in (
            ("cpu_percentile", cpu_percentile),
            ("memory_percentile", memory_percentile),
        ):
            if value is None:
                continue
            if name in names:
                changes[name] = value
                parts.append(f"{name.replace('_', ' ')} p{value:g}")
            else:
                unused.append(name)
        if changes:
            strategy = type(chosen)(replace(strategy.settings, **changes))
        note = "; ".join(parts)
        if unused:
            note += ("; " if note else "") + (
                f"{', '.join(unused)} not used: the {chosen.name} strategy has no such setting"
            )
        mask = np.zeros(len(table.rails), dtype=bool)
        mask[cids] = True
        out.append((strategy, mask, note))
    return out


def clamp(
    applied: pd.DataFrame,
    current: pd.DataFrame,
    table: GuardrailTable,
    choices: list[str] | None = None,
) -> pd.DataFrame:
    """``applied`` (cid-indexed RAW_COLUMNS) within the guardrails where a recommendation is made.

    Adds ``guardrail_note``: the sections that apply, the per-workload choices (``choices``,
    per cid, from :func:`strategy_groups`) and what each bound changed ("" without a section).
    ``current`` is the cid-indexed RAW_COLUMNS in force today.
    """
    out = applied.copy()
    usable = out["usable"].to_numpy(dtype=bool)
    bounds = table.bounds
    notes: list[list[str]] = [[] for _ in range(len(out))]
    if not table.any:
        out["guardrail_note"] = ""
        return out

    def note(mask: np.ndarray, text: str) -> None:
        for i in np.flatnonzero(mask & usable):
            notes[i].append(text)

    keep = table.keep_memory & usable
    for column in ("memory_request", "memory_limit"):
        now = current[column].to_numpy(dtype="float64")
        value = out[column].to_numpy(dtype="float64")
        # An unset limit today is unlimited: keeping it means adding none.
        if column == "memory_limit":
            lower = keep & (np.isnan(now) | (np.nan_to_num(value, nan=np.inf) < now))
        else:
            lower = keep & ~np.isnan(now) & (value < now)
        note(lower, f"memory may not decrease, so the {column.replace('_', ' ')} stays at today's")
        out[column] = np.where(lower, now, value)
    for resource, fmt in (("cpu", format_cpu), ("memory", format_memory)):
        for kind in ("request", "limit"):
            column = f"{resource}_{kind}"
            value = out[column].to_numpy(dtype="float64")
            low = bounds[f"{resource}_min_{kind}"].to_numpy()
            high = bounds[f"{resource}_max_{kind}"].to_numpy()
            unset = np.isnan(value)
            if kind == "request":
                raise_to = usable & (unset | (value < low)) & ~np.isnan(low)
            else:  # an unset limit is unlimited: above every minimum
                raise_to = usable & ~unset & (value < low)
            cut_to = usable & ~np.isnan(high) & (unset | (value > high))
            for i in np.flatnonzero(raise_to):
                notes[i].append(
                    f"{resource.upper() if resource == 'cpu' else resource} {kind} "
                    f"raised to its minimum {fmt(low[i])}"
                )
            for i in np.flatnonzero(cut_to):
                notes[i].append(
                    f"{resource.upper() if resource == 'cpu' else resource} {kind} "
                    f"capped at its maximum {fmt(high[i])}"
                )
            value = np.where(raise_to, low, value)
            value = np.where(cut_to, high, value)
            out[column] = value
        # A request above its limit: the limit rises to it (within its maximum), then the
        # request comes down to the limit (never below its minimum: checked at config load).
        request = out[f"{resource}_request"].to_numpy(dtype="float64")
        limit = out[f"{resource}_limit"].to_numpy(dtype="float64")
        high = bounds[f"{resource}_max_limit"].to_numpy()
        over = usable & ~np.isnan(limit) & (request > limit)
        limit = np.where(over, np.fmin(request, np.where(np.isnan(high), np.inf, high)), limit)
        request = np.where(usable & ~np.isnan(limit), np.fmin(request, limit), request)
        out[f"{resource}_request"] = request
        out[f"{resource}_limit"] = limit
    texts = []
    for cid, rail in enumerate(table.rails):
        if rail is None or not usable[cid]:
            texts.append("")
            continue
        parts = [choices[cid]] if choices and choices[cid] else []
        parts += notes[cid] if notes[cid] else ["the result is within its bounds"]
        texts.append(f"Guardrails [{', '.join(rail.sources)}]: {'; '.join(parts)}.")
    out["guardrail_note"] = texts
    return out
