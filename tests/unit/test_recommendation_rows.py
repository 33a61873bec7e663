"""One serialisation for every row: round trips, files from before a field was promoted, extras."""

from __future__ import annotations

import json

import pytest

from kianax_capacity.recommendations import (
    ForecastRow,
    HpaRow,
    NodeGroupRow,
    RecommendationSet,
    RightsizingRow,
    SpotRow,
)
from kianax_capacity.snapshot import Snapshot


@pytest.fixture(scope="module")
def recs(demo_snapshot: Snapshot) -> RecommendationSet:
    from kianax_capacity.recommenders.engine import recommend

    return recommend(demo_snapshot)


def test_every_section_reads_back_equal(recs: RecommendationSet) -> None:
    text = recs.dumps()
    again = RecommendationSet.from_json(json.loads(text))
    for section in ("rightsizing", "hpa", "spot", "nodegroups", "forecast"):
        rows, back = getattr(recs, section), getattr(again, section)
        assert rows, section
        assert [r.to_dict() for r in back] == [r.to_dict() for r in rows], section
    assert again.dumps() == text


def test_a_file_from_before_the_promotion_fills_the_typed_fields(
    recs: RecommendationSet,
) -> None:
    # Files written before these keys became fields held them as free-form keys of the row;
    # they must read into the typed fields the summary and the charts now use.
    row = next(r for r in recs.hpa if r.status == "ok")
    data = row.to_dict()
    assert data["request_change_included"] is row.request_change_included
    old = {k: v for k, v in data.items() if k not in ("monthly_cost_usd", "replayed_requests")}
    old = {"kind": "Deployment", **old, "replayed_requests": {"cpu_request": 0.25}}
    back = HpaRow.from_dict(old)
    assert back.replayed_requests == {"cpu_request": 0.25}
    assert back.monthly_cost_usd == {}
    assert "monthly_cost_usd" not in back.to_dict()  # unknown stays unwritten
    assert back.extra["kind"] == "Deployment"


def test_unknown_keys_survive_and_named_keys_win() -> None:
    data = {
        "scope": "general-ng",
        "resource": "cpu",
        "status": "ok",
        "exhausted_on": None,
        "method": "theil-sen",
        "horizon_days": None,
    }
    row = ForecastRow.from_dict(data)
    assert row.horizon_days == 90  # absent or null: the schema's default horizon
    assert row.extra == {"method": "theil-sen"}
    assert row.to_dict()["method"] == "theil-sen"
    forced = ForecastRow(scope="a", resource="cpu", status="ok", extra={"status": "stale"})
    assert forced.to_dict()["status"] == "ok"


def test_a_missing_required_key_names_it() -> None:
    with pytest.raises(KeyError, match="ready"):
        SpotRow.from_dict({"namespace": "a", "kind": "Deployment", "workload": "w"})
    with pytest.raises(KeyError, match="reason"):
        NodeGroupRow.from_dict({"name": "general-ng", "monthly_savings_usd": 1.0})


def test_memory_is_written_as_whole_bytes_and_confidence_only_when_rated(
    recs: RecommendationSet,
) -> None:
    row = recs.rightsizing[0]
    data = row.to_dict()
    for side in ("current", "recommended"):
        value = data[side]["memory_request"]
        assert value is None or isinstance(value, int)
    unrated = RightsizingRow.from_dict({**data, "confidence": None})
    assert "confidence" not in unrated.to_dict()
