"""JVM-aware memory for the kianax strategy: size from the heap where JVM metrics are scraped.

A JVM's working set is mostly heap it has *committed*, and a JVM commits heap up to its
ceiling (``-Xmx``, or ``MaxRAMPercentage`` of the container's limit) and rarely gives it back.
So a container limit below heap max + non-heap + native overhead is not a saving: the JVM
grows back into its heap and is OOM-killed.

* With JVM metrics (Micrometer's ``jvm_memory_used_bytes`` / ``jvm_memory_max_bytes`` by
  ``area``, the snapshot's ``jvm_memory`` table): limit = heap max + non-heap peak + overhead
  (``jvm_overhead_fraction`` of those, at least ``jvm_overhead_min_bytes``: thread stacks, GC
  structures, direct buffers, malloc arenas), never below the observed peak; the row says the
  heap ceiling must change with the limit, and where the heap used stayed.
* Without them: a working set flat within ``reserved_flat_fraction`` of its median, at
  ``reserved_min_limit_share`` of its limit or more (JVM images commonly set MaxRAMPercentage to
  50-75%), is taken for a reserved heap: the limit is not cut, and the row says why.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kianax_capacity.recommenders.strategies._base import UsageData
from kianax_capacity.units import format_memory

__all__ = ["jvm_memory_stats", "jvm_notes", "reserved_heap"]


def jvm_memory_stats(data: UsageData, index: pd.Index) -> pd.DataFrame:
    """Per cid of ``index``: heap max, heap used p99 and peak, non-heap peak (NaN: no metrics)."""
    columns = ["heap_max_bytes", "heap_used_p99_bytes", "heap_used_max_bytes", "nonheap_max_bytes"]
    jvm = data.jvm
    if jvm is None or jvm.empty:
        return pd.DataFrame(np.nan, index=index, columns=columns)
    heap = jvm[jvm["heap"]]
    nonheap = jvm[~jvm["heap"]]
    by_heap = heap.groupby("cid")
    out = pd.DataFrame(
        {
            "heap_max_bytes": by_heap["max_bytes"].max(),
            "heap_used_p99_bytes": by_heap["used_bytes"].quantile(0.99),
            "heap_used_max_bytes": by_heap["used_bytes"].max(),
        }
    )
    out["nonheap_max_bytes"] = nonheap.groupby("cid")["used_bytes"].max()
    return out.reindex(index)[columns]


def reserved_heap(
    memory: Any,
    current_limit: pd.Series,
    *,
    flat_fraction: float,
    min_limit_share: float,
) -> pd.Series:
    """True where the working set is flat near the limit: a heap reserved up front."""
    low = memory.quantile(0.01)
    high = memory.quantile(0.99)
    median = memory.median()
    index = current_limit.index
    low, high, median = low.reindex(index), high.reindex(index), median.reindex(index)
    flat = (high - low) <= flat_fraction * median
    near = median >= min_limit_share * current_limit
    return (flat & near & current_limit.notna()).fillna(False).astype(bool)


def jvm_notes(raw: pd.DataFrame, jvm: pd.Series, reserved: pd.Series) -> pd.Series:
    """The sentence for each JVM-sized or reserved-heap container ("" elsewhere)."""
    notes = []
    for cid, record in raw.to_dict("index").items():
        notes.append(_note(record, bool(jvm.get(cid, False)), bool(reserved.get(cid, False))))
    return pd.Series(notes, index=raw.index, dtype="object")


def _note(record: dict[Any, Any], jvm: bool, reserved: bool) -> str:
    if jvm:
        limit = float(record["memory_limit"])
        heap_max = float(record["ev_jvm_heap_max_bytes"])
        share = heap_max / limit * 100 if limit > 0 else float("nan")
        return (
            "Sized from its JVM metrics (Micrometer jvm_memory_*): heap max "
            f"{format_memory(heap_max)} (its -Xmx) + non-heap peak "
            f"{format_memory(record['ev_jvm_nonheap_max_bytes'])} + overhead "
            f"{format_memory(record['ev_jvm_overhead_bytes'])} (thread stacks, GC, direct "
            f"buffers) = a memory limit of {format_memory(limit)}. The heap ceiling is the JVM's "
            f"-Xmx (or MaxRAMPercentage, {share:.0f}% of this limit): change it together with "
            "the limit, or the JVM grows back into the old heap; the heap used peaked at "
            f"{format_memory(record['ev_jvm_heap_used_max_bytes'])}, so lowering -Xmx toward "
            "that is how to go lower."
        )
    if reserved:
        return (
            "Its working set is flat at about "
            f"{format_memory(record['ev_memory_percentile_bytes'])} whatever the load, at "
            f"{record['ev_reserved_limit_share'] * 100:.0f}% of its limit: that looks like a heap "
            "reserved up front (a JVM's -Xmx or MaxRAMPercentage), which a JVM does not give "
            "back, so the memory limit is not cut. Scrape its JVM metrics (Micrometer "
            "jvm_memory_max_bytes) to size it from the heap, or lower -Xmx first."
        )
    return ""
