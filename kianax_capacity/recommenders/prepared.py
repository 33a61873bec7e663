"""One prepared view per snapshot: the derived tables several recommenders read, built once.

A ``recommend`` call hands one snapshot to right-sizing, HPA, spot, node groups, the forecast
and the costs, and each of them needs the same derived tables (who owns each container, the
latest spec per container, the node group of each workload, the median replicas, the pods an
HPA left Pending). :func:`derived` builds each of them the first time any recommender asks for
it and hands the same table to every later caller of the same snapshot, so one call no longer
rebuilds ``container_inventory`` three times and the usage join three times.

The memo lives beside the snapshot, not inside it: it is keyed by the snapshot object and
dropped when the snapshot is collected (a snapshot is immutable once built, so a derived table
never goes stale). DataFrames come back as shallow copies: with pandas' copy-on-write a caller
that adds a column to its copy changes nobody else's.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

from kianax_capacity.snapshot import Snapshot

__all__ = ["derived", "derived_table_names", "prepared_snapshots"]

T = TypeVar("T")

#: id(snapshot) -> {derived table name: value}; an entry leaves with its snapshot.
_PREPARED: dict[int, dict[str, Any]] = {}


def derived(snapshot: Snapshot, name: str, build: Callable[[Snapshot], T]) -> T:
    """``build(snapshot)``, computed once per snapshot object and name."""
    key = id(snapshot)
    tables = _PREPARED.get(key)
    if tables is None:
        tables = _PREPARED[key] = {}
        weakref.finalize(snapshot, _PREPARED.pop, key, None)
    if name not in tables:
        tables[name] = build(snapshot)
    value = tables[name]
    if isinstance(value, pd.DataFrame):
        return value.copy(deep=False)  # type: ignore[return-value]
    if isinstance(value, dict):
        return dict(value)  # type: ignore[return-value]
    return value


def derived_table_names(snapshot: Snapshot) -> tuple[str, ...]:
    """The derived tables built so far for ``snapshot`` (for tests and ``--debug``)."""
    return tuple(_PREPARED.get(id(snapshot), {}))


def prepared_snapshots() -> int:
    """How many live snapshots hold a prepared view (a collected snapshot's view is gone)."""
    return len(_PREPARED)
