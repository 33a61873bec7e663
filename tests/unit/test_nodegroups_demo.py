"""Node-group right-sizing on the embedded demo cluster."""

from __future__ import annotations

import pytest

from kianax_capacity.config import NodeGroupConfig
from kianax_capacity.prices import embedded_catalog
from kianax_capacity.recommendations import (
    NodeGroupRow,
    RecommendationSet,
    validate_recommendations_json,
)
from kianax_capacity.recommenders.nodegroups import recommend_nodegroups
from kianax_capacity.snapshot import Snapshot

CATALOG = embedded_catalog("us-east-1")
# The platform's declared node groups (DESIGN.md): general 2-5, system x2, jobs spot 0-10.
CONFIG = {
    "general-ng": NodeGroupConfig(("t3.medium",), "ON_DEMAND", 2, 5),
    "system-ng": NodeGroupConfig(("t3.small",), "ON_DEMAND", 2, 2),
    "jobs-ng": NodeGroupConfig((), "SPOT", 0, 10),
}


@pytest.fixture(scope="module")
def rows(demo_snapshot: Snapshot) -> dict[str, NodeGroupRow]:
    return {
        r.name: r for r in recommend_nodegroups(demo_snapshot, CATALOG, nodegroup_config=CONFIG)
    }


def test_every_demo_group_gets_a_priced_row(rows: dict[str, NodeGroupRow]) -> None:
    assert set(rows) == {"general-ng", "system-ng", "jobs-ng"}
    for row in rows.values():
        assert row.current.monthly_cost_usd and row.current.monthly_cost_usd > 0
        assert row.recommended.monthly_cost_usd is not None
        assert row.recommended.instance_types
        assert row.extra["findings"] == []
        assert row.reason


def test_config_sizes_are_the_current_shape(rows: dict[str, NodeGroupRow]) -> None:
    general = rows["general-ng"].current
    assert (general.min_size, general.max_size) == (2, 5)
    assert general.instance_types == ("t3.medium",)


def test_jobs_group_stays_spot_scales_to_zero_and_is_diversified(
    rows: dict[str, NodeGroupRow],
) -> None:
    jobs = rows["jobs-ng"]
    assert jobs.current.capacity_type == "SPOT"
    assert jobs.recommended.capacity_type == "SPOT"
    assert jobs.recommended.min_size == 0
    assert len(jobs.recommended.instance_types) >= 2
    for instance_type in jobs.recommended.instance_types:
        assert CATALOG.interruption_range(instance_type) in ("<5%", "5-10%")
    assert jobs.extra["commitment"]["baseline_nodes"] == 0  # type: ignore[index]


def test_on_demand_groups_get_a_commitment_split(rows: dict[str, NodeGroupRow]) -> None:
    for name in ("general-ng", "system-ng"):
        row = rows[name]
        commitment = row.extra["commitment"]
        assert isinstance(commitment, dict)
        assert row.recommended.min_size is not None and row.recommended.min_size >= 2
        assert commitment["baseline_nodes"] >= row.recommended.min_size
        assert commitment["monthly_savings_usd"] == pytest.approx(
            0.28 * commitment["on_demand_monthly_usd"], abs=0.01
        )
        assert commitment["rest_monthly_usd"] >= 0


def test_no_graviton_unless_allowed(demo_snapshot: Snapshot, rows: dict[str, NodeGroupRow]) -> None:
    for row in rows.values():
        for instance_type in row.recommended.instance_types:
            assert CATALOG.spec(instance_type).architecture == "amd64"
    arm = recommend_nodegroups(demo_snapshot, CATALOG, allow_graviton=True)
    candidates = {c["instance_type"] for r in arm for c in r.extra["candidates"]}  # type: ignore[attr-defined]
    assert any(CATALOG.spec(t).architecture == "arm64" for t in candidates)


def test_demo_rows_fit_the_schema(demo_snapshot: Snapshot, rows: dict[str, NodeGroupRow]) -> None:
    start, end = demo_snapshot.window
    recs = RecommendationSet(
        cluster=demo_snapshot.cluster,
        generated_at=end,
        window_start=start,
        window_end=end,
        step_seconds=demo_snapshot.step_seconds,
        nodegroups=tuple(rows.values()),
    )
    validate_recommendations_json(recs.to_json())
