"""The prepared view: one recommend call builds each derived table of its snapshot once."""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any

import pytest

from kianax_capacity.recommenders import inventory, prepared
from kianax_capacity.recommenders.engine import recommend
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.sources.demo import generate_demo_snapshot

BUILDERS = (
    "usage_with_owners",
    "container_inventory",
    "workload_node_groups",
    "replica_counts",
    "median_replicas",
    "pending_pods",
)


def test_one_recommend_call_builds_each_derived_table_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built: Counter[str] = Counter()
    for name in BUILDERS:
        original = getattr(inventory, f"_{name}")

        def counting(snapshot: Snapshot, _original: Any = original, _name: str = name) -> Any:
            built[_name] += 1
            return _original(snapshot)

        monkeypatch.setattr(inventory, f"_{name}", counting)
    recs = recommend(generate_demo_snapshot(days=3))
    assert recs.rightsizing and recs.hpa and recs.nodegroups  # every recommender ran
    # Before the prepared view, usage_with_owners, container_inventory and
    # workload_node_groups were each built three times in one call.
    assert set(built) == set(BUILDERS)
    assert max(built.values()) == 1, built


def test_a_caller_changing_its_table_changes_nobody_elses(demo_snapshot: Snapshot) -> None:
    first = inventory.container_inventory(demo_snapshot)
    columns = list(first.columns)
    first["scratch"] = 1.0
    first.loc[first.index[0], "restarts"] = -99
    again = inventory.container_inventory(demo_snapshot)
    assert list(again.columns) == columns
    assert (again["restarts"] >= 0).all()
    replicas = inventory.median_replicas(demo_snapshot)
    replicas.clear()
    assert inventory.median_replicas(demo_snapshot)


def test_the_memo_leaves_with_its_snapshot() -> None:
    snapshot = generate_demo_snapshot(days=1)
    inventory.container_inventory(snapshot)
    assert "container_inventory" in prepared.derived_table_names(snapshot)
    before = prepared.prepared_snapshots()
    del snapshot
    gc.collect()
    assert prepared.prepared_snapshots() == before - 1
