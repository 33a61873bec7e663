"""The optional ``jvm_memory`` table from the JVM's own memory gauges.

``jvm_memory_used`` and ``jvm_memory_max`` (see their templates) answer one series per
(namespace, pod, container, area) and step, already summed over the JVM's memory pools on the
server; here they become one row per step with ``used_bytes`` beside ``max_bytes`` (NaN where
no pool of the area defines a max, or the max was not scraped at that step).
"""

from __future__ import annotations

import pandas as pd

from kianax_capacity.snapshot import TABLE_COLUMNS
from kianax_capacity.sources.prometheus.fold import Results

__all__ = ["JVM_QUERIES", "jvm_memory"]

#: The queries this table is built from (released once it is).
JVM_QUERIES = ("jvm_memory_used", "jvm_memory_max")

_KEYS = ["namespace", "pod", "container", "area"]


def jvm_memory(results: Results) -> pd.DataFrame:
    """The ``jvm_memory`` rows (empty where no JVM exports its memory gauges)."""
    columns = list(TABLE_COLUMNS["jvm_memory"])
    used = results.matrix("jvm_memory_used", _KEYS)
    if used.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    maxima = results.matrix("jvm_memory_max", _KEYS).rename(columns={"value": "max_bytes"})
    # A pool's max is a constant of the JVM's flags; an exporter restart can still leave a step
    # with a used sample and no max: that step's max is unknown, not the neighbour's.
    out = used.rename(columns={"value": "used_bytes"}).merge(
        maxima, on=[*_KEYS, "timestamp"], how="left"
    )
    out = out.sort_values([*_KEYS[:3], "area", "timestamp"], kind="stable")
    return out.reset_index(drop=True)[columns]
