"""A node group that is already at capacity stays so: its moving date is not a weekly change."""

from datetime import UTC, datetime

from kianax_capacity.outputs.diff import diff_recommendations
from kianax_capacity.recommendations import ForecastRow, RecommendationSet


def _set(rows: tuple[ForecastRow, ...]) -> RecommendationSet:
    moment = datetime(2026, 11, 23, tzinfo=UTC)
    return RecommendationSet(
        cluster="c", generated_at=moment, window_start=moment, window_end=moment,
        step_seconds=300, forecast=rows,
    )  # fmt: skip


def test_already_at_capacity_on_both_sides_is_no_change():
    old = _set(
        (ForecastRow("general-ng", "cpu", "ok", "2026-11-15", extra={"already_at_capacity": True}),)
    )
    new = _set(
        (ForecastRow("general-ng", "cpu", "ok", "2026-11-22", extra={"already_at_capacity": True}),)
    )
    assert not diff_recommendations(old, new).changes


def test_reaching_capacity_is_a_change():
    old = _set((ForecastRow("general-ng", "cpu", "ok", None),))
    new = _set(
        (ForecastRow("general-ng", "cpu", "ok", "2026-11-22", extra={"already_at_capacity": True}),)
    )
    changes = diff_recommendations(old, new).changes
    assert len(changes) == 1
