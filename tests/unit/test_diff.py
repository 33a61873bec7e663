"""Diffing recommendation sets: keys, thresholds, ordering, against-current mode."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kianax_capacity.outputs.diff import (
    DiffThresholds,
    diff_against_current,
    diff_recommendations,
)
from kianax_capacity.recommendations import RecommendationSet, load_recommendations

RECS = Path(__file__).resolve().parents[1] / "fixtures" / "recs"


@pytest.fixture(scope="module")
def week1() -> RecommendationSet:
    return load_recommendations(RECS / "week1.json")


@pytest.fixture(scope="module")
def week2() -> RecommendationSet:
    return load_recommendations(RECS / "week2.json")


def _by_workload(changes: object) -> dict[str, object]:
    return {c.key[2] if c.section == "rightsizing" else c.key[-1]: c for c in changes}  # type: ignore[attr-defined]


def test_a_file_diffed_with_itself_is_empty(week2: RecommendationSet) -> None:
    diff = diff_recommendations(week2, week2, DiffThresholds(0, 0))
    assert diff.is_empty and diff.suppressed == 0


def test_keys_on_one_side_are_added_or_removed(
    week1: RecommendationSet, week2: RecommendationSet
) -> None:
    diff = diff_recommendations(week1, week2)
    kinds = {(c.section, c.key): c.kind for c in diff.changes if c.kind != "changed"}
    assert kinds == {
        ("rightsizing", ("kianax", "Deployment", "portfolio-service", "app")): "added",
        ("rightsizing", ("kianax", "Deployment", "notification-service", "app")): "removed",
    }
    reverse = diff_recommendations(week2, week1)
    assert {c.key: c.kind for c in reverse.changes if c.kind != "changed"} == {
        ("kianax", "Deployment", "portfolio-service", "app"): "removed",
        ("kianax", "Deployment", "notification-service", "app"): "added",
    }


def test_changed_values_and_status(week1: RecommendationSet, week2: RecommendationSet) -> None:
    rightsizing = _by_workload(diff_recommendations(week1, week2).section("rightsizing"))
    api = rightsizing["api-gateway"]
    assert [(f.name, f.old, f.new) for f in api.fields] == [("cpu_request", 0.12, 0.1)]  # type: ignore[attr-defined]
    assert api.delta_usd == pytest.approx(0.5)  # type: ignore[attr-defined]
    prometheus = rightsizing["prometheus-kube-prometheus-stack"]
    assert prometheus.fields[0].name == "status"  # type: ignore[attr-defined]
    assert (prometheus.fields[0].old, prometheus.fields[0].new) == ("insufficient_data", "ok")  # type: ignore[attr-defined]
    # fluent-bit is identical and market-data-service moved 3% (300m -> 310m): neither is listed.
    assert "fluent-bit" not in rightsizing and "market-data-service" not in rightsizing


def test_percent_threshold_suppresses_small_moves(
    week1: RecommendationSet, week2: RecommendationSet
) -> None:
    default = diff_recommendations(week1, week2)
    assert default.suppressed == 1  # market-data-service, 3.3%
    everything = diff_recommendations(week1, week2, DiffThresholds(0, 0))
    assert "market-data-service" in _by_workload(everything.section("rightsizing"))
    assert everything.suppressed == 0
    # api-gateway moved 120m -> 100m: 16.7%, so a 20% threshold hides it.
    strict = diff_recommendations(week1, week2, DiffThresholds(20, 1))
    assert "api-gateway" not in _by_workload(strict.section("rightsizing"))


def test_usd_threshold_hides_cheap_rows_but_never_status_or_structure(
    week1: RecommendationSet, week2: RecommendationSet
) -> None:
    diff = diff_recommendations(week1, week2, DiffThresholds(10, 100))
    rightsizing = _by_workload(diff.section("rightsizing"))
    # Numeric moves on rows worth < $100/month are hidden...
    assert "api-gateway" not in rightsizing and "trading-service" not in rightsizing
    # ...a status change, added/removed rows and spot readiness are always shown.
    assert {"prometheus-kube-prometheus-stack", "portfolio-service", "notification-service"} <= set(
        rightsizing
    )
    assert [c.key for c in diff.section("spot")] == [("kianax", "Deployment", "agent-service")]
    assert [c.key for c in diff.section("hpa")] == [
        ("kianax", "trading-service")
    ]  # status no_change -> ok


def test_ordering_is_by_dollars_then_key(
    week1: RecommendationSet, week2: RecommendationSet
) -> None:
    changes = diff_recommendations(week1, week2).section("rightsizing")
    dollars = [abs(c.monthly_usd or 0) for c in changes]
    assert dollars == sorted(dollars, reverse=True)
    # Equal dollars fall back to the key: two copies of one row under different names.
    row = week2.rightsizing[0]
    twins = week2.with_rows(
        rightsizing=[replace(row, workload="b-svc"), replace(row, workload="a-svc")]
    )
    ordered = diff_recommendations(week2.with_rows(rightsizing=[]), twins).changes
    assert [c.key[2] for c in ordered if c.section == "rightsizing"] == ["a-svc", "b-svc"]


def test_against_current_lists_what_applying_changes(week2: RecommendationSet) -> None:
    diff = diff_against_current(week2)
    rightsizing = _by_workload(diff.section("rightsizing"))
    assert "fluent-bit" not in rightsizing  # status no_change
    api = rightsizing["api-gateway"]
    assert {f.name: (f.old, f.new) for f in api.fields} == {  # type: ignore[attr-defined]
        "cpu_request": (0.25, 0.1),
        "cpu_limit": (0.5, None),
        "memory_request": (268435456, 201326592),
        "memory_limit": (536870912, 268435456),
    }
    assert {c.key[2] for c in diff.section("spot")} == {"agent-service", "nightly-report"}
    assert diff.section("forecast") == ()
    assert diff.mode == "against_current"


def test_json_form_is_serialisable(week1: RecommendationSet, week2: RecommendationSet) -> None:
    data = json.loads(json.dumps(diff_recommendations(week1, week2).to_json()))
    assert data["mode"] == "between"
    assert {c["change"] for c in data["changes"]} == {"added", "removed", "changed"}


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_diff_properties(data: st.DataObject) -> None:
    base = load_recommendations(RECS / "week2.json")
    old_rows = data.draw(st.lists(st.sampled_from(base.rightsizing), unique_by=lambda r: r.key))
    new_rows = data.draw(st.lists(st.sampled_from(base.rightsizing), unique_by=lambda r: r.key))
    old, new = base.with_rows(rightsizing=old_rows), base.with_rows(rightsizing=new_rows)
    assert diff_recommendations(old, old).is_empty
    forward = diff_recommendations(old, new, DiffThresholds(0, 0))
    backward = diff_recommendations(new, old, DiffThresholds(0, 0))
    added = {c.key for c in forward.changes if c.kind == "added"}
    assert added == {c.key for c in backward.changes if c.kind == "removed"}
    assert added == {r.key for r in new_rows} - {r.key for r in old_rows}
    # The same rows in both sets (same values) are never "changed".
    assert not [c for c in forward.changes if c.kind == "changed"]
