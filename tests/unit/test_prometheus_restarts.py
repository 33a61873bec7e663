"""Restart events and termination reasons from the restart counters (client-side difference)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kianax_capacity.sources.prometheus.fold import Results
from kianax_capacity.sources.prometheus.plan import QueryJob, TimeGrid
from kianax_capacity.sources.prometheus.tables import build_terminations

STEP = 300
T0 = 1_800_000_000  # a step boundary (unix seconds)
CONTAINER = {"namespace": "shop", "pod": "cart-0", "container": "app"}

#: One range answer: (labels, [(unix seconds, counter value), ...]) per series.
Series = list[tuple[dict[str, str], list[tuple[int, int]]]]


def range_answer(series: Series) -> list[Any]:
    """A range answer as the API sends it: values are [seconds, "string"] pairs."""
    return [
        {"metric": metric, "values": [[t, repr(v)] for t, v in points]} for metric, points in series
    ]


def results_with(
    counters: dict[int, Series],
    reasons: dict[int, Series] | None = None,
) -> Results:
    results = Results()
    grid = TimeGrid(end=datetime.fromtimestamp(T0, tz=UTC), step_seconds=STEP, points=1)
    for chunk, series in counters.items():
        results.add(QueryJob("restart_counters", "", chunk, grid=grid), range_answer(series))
    for chunk, series in (reasons or {}).items():
        results.add(QueryJob("termination_reasons", "", chunk, grid=grid), range_answer(series))
    return results


def at(step: int) -> int:
    return T0 + step * STEP


def test_a_rise_between_consecutive_steps_is_one_event_with_its_count() -> None:
    counters = {0: [(CONTAINER, [(at(0), 0), (at(1), 0), (at(2), 2), (at(3), 2), (at(4), 3)])]}
    terminations, counts = build_terminations(results_with(counters), STEP)
    assert [int(t.timestamp()) for t in terminations["timestamp"]] == [at(2), at(4)]
    assert list(terminations["reason"]) == ["Unknown", "Unknown"]  # no reason series
    assert counts.to_dict("records") == [{**CONTAINER, "restarts": 3, "oom_kills": 0}]


def test_a_gap_a_first_sample_and_a_fall_are_not_events() -> None:
    # Born with 1 restart (no previous step), a missing step before 3, then the pod recreated
    # under the same name counts from 0 again, and rises once more.
    counters = {0: [(CONTAINER, [(at(0), 1), (at(1), 1), (at(3), 2), (at(4), 0), (at(5), 1)])]}
    terminations, counts = build_terminations(results_with(counters), STEP)
    assert [int(t.timestamp()) for t in terminations["timestamp"]] == [at(5)]
    assert counts["restarts"].tolist() == [1]


def test_the_step_shared_by_two_chunks_is_counted_once() -> None:
    # Chunk 1 starts one step before its first step: at(2) is chunk 0's last step, and chunk 1
    # sees it only as the previous value of at(3).
    counters = {
        0: [(CONTAINER, [(at(0), 0), (at(1), 0), (at(2), 1)])],
        1: [(CONTAINER, [(at(2), 1), (at(3), 2), (at(4), 2)])],
    }
    terminations, counts = build_terminations(results_with(counters), STEP)
    assert [int(t.timestamp()) for t in terminations["timestamp"]] == [at(2), at(3)]
    assert counts["restarts"].tolist() == [2]


def test_the_reason_is_the_one_shown_at_the_restart_step() -> None:
    other = {**CONTAINER, "container": "sidecar"}
    counters = {
        0: [
            (CONTAINER, [(at(0), 0), (at(1), 1), (at(2), 1), (at(3), 2)]),
            (other, [(at(0), 4), (at(1), 4)]),  # restarted before the window: no event
        ]
    }
    reasons = {
        0: [
            ({**CONTAINER, "reason": "Error"}, [(at(1), 1), (at(2), 1)]),
            ({**CONTAINER, "reason": "OOMKilled"}, [(at(3), 1)]),
            ({**other, "reason": "OOMKilled"}, [(at(0), 1), (at(1), 1)]),
        ]
    }
    terminations, counts = build_terminations(results_with(counters, reasons), STEP)
    assert list(zip(terminations["container"], terminations["reason"], strict=True)) == [
        ("app", "Error"),
        ("app", "OOMKilled"),
    ]
    assert counts.to_dict("records") == [{**CONTAINER, "restarts": 2, "oom_kills": 1}]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(0, 4)), min_size=2, max_size=40),
    chunk_points=st.integers(1, 12),
)
def test_events_equal_the_counter_minus_its_previous_step(
    values: list[int | None], chunk_points: int
) -> None:
    """Whatever the chunking, the events are the steps where x(t) - x(t - step) > 0 (both
    present), which is what the server's `x - x offset step > 0` gave."""
    counters: dict[int, Series] = {}
    for chunk, first in enumerate(range(0, len(values), chunk_points)):
        # Each chunk's range starts one step before its first step (as the plan asks).
        steps = range(max(first - 1, 0), min(first + chunk_points, len(values)))
        points = [(at(i), value) for i in steps if (value := values[i]) is not None]
        counters[chunk] = [(CONTAINER, points)] if points else []
    expected = [
        (at(i), now - before)
        for i, (before, now) in enumerate(pairwise(values), start=1)
        if before is not None and now is not None and now > before
    ]
    terminations, counts = build_terminations(results_with(counters), STEP)
    assert [int(t.timestamp()) for t in terminations["timestamp"]] == [t for t, _ in expected]
    total = int(np.sum([n for _, n in expected])) if expected else 0
    assert (counts["restarts"].sum() if len(counts) else 0) == total


def test_chunks_answered_by_the_fallback_keep_the_servers_differences() -> None:
    # Chunk 0 from restart_counters (differenced here), chunk 1 from restart_events: the server
    # already sent the rises (only steps with one, `> 0`).
    results = results_with({0: [(CONTAINER, [(at(0), 0), (at(1), 1)])]})
    grid = TimeGrid(end=datetime.fromtimestamp(T0, tz=UTC), step_seconds=STEP, points=1)
    fallback = range_answer([(CONTAINER, [(at(4), 2)])])
    results.add(QueryJob("restart_events", "", 1, grid=grid), fallback)
    terminations, counts = build_terminations(results, STEP)
    assert [int(t.timestamp()) for t in terminations["timestamp"]] == [at(1), at(4)]
    assert counts["restarts"].tolist() == [3]
