"""Combining the aggregate shape's per-day answers: hand-worked days and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kianax_capacity.sources.prometheus import (
    AGGREGATE_PARTS,
    ChunkCombiner,
    container_stats_from_parts,
)

RULES = dict(AGGREGATE_PARTS)
WEB = ("shop", "web-1", "app")
JOB = ("shop", "job-7", "worker")


def answer(rows: dict[tuple[str, str, str], float]) -> list[dict[str, object]]:
    """A Prometheus instant-query ``result`` as the server sends it (values as strings)."""
    return [
        {
            "metric": {"namespace": ns, "pod": pod, "container": container},
            "value": [1_700_000_000.0, repr(value)],
        }
        for (ns, pod, container), value in rows.items()
    ]


def test_two_days_combine_max_mean_count_and_quantile_by_hand() -> None:
    # Day 1: web's memory samples 100, 300 (2 samples); CPU 0.5, 1.5; job runs only on day 1.
    # Day 2: web's memory 200, 200, 500 (3 samples); CPU 1.0, 1.0, 4.0.
    day1 = {
        "memory_bytes_max": {WEB: 300.0, JOB: 50.0},
        "memory_bytes_sum": {WEB: 400.0, JOB: 50.0},
        "samples": {WEB: 2.0, JOB: 1.0},
        "memory_bytes_p95": {WEB: 290.0, JOB: 50.0},
        "cpu_cores_max": {WEB: 1.5},
        "cpu_cores_sum": {WEB: 2.0},
        "cpu_cores_count": {WEB: 2.0},
        "cpu_cores_p50": {WEB: 1.0},
    }
    day2 = {
        "memory_bytes_max": {WEB: 500.0},
        "memory_bytes_sum": {WEB: 900.0},
        "samples": {WEB: 3.0},
        "memory_bytes_p95": {WEB: 470.0},
        "cpu_cores_max": {WEB: 4.0},
        "cpu_cores_sum": {WEB: 6.0},
        "cpu_cores_count": {WEB: 3.0},
        "cpu_cores_p50": {WEB: 1.0},
    }
    combiner = ChunkCombiner(RULES)
    # Day 2 arrives first: the worker threads finish in any order.
    for day in (day2, day1):
        for part, rows in day.items():
            combiner.add_answer(part, answer(rows))
    stats = container_stats_from_parts(combiner.frame()).set_index(["namespace", "pod"])

    web = stats.loc[("shop", "web-1")]
    assert web["container"] == "app"
    assert web["samples"] == 5
    assert web["memory_bytes_max"] == 500.0
    assert web["memory_bytes_mean"] == pytest.approx(1300.0 / 5)  # not (200 + 300) / 2
    assert web["memory_bytes_p95"] == 470.0  # max of the daily p95s
    assert web["cpu_cores_max"] == 4.0
    assert web["cpu_cores_mean"] == pytest.approx(8.0 / 5)
    assert web["cpu_cores_p50"] == 1.0
    assert np.isnan(web["cpu_throttled_ratio_mean"])  # never answered: no CPU limit

    job = stats.loc[("shop", "job-7")]
    assert job["samples"] == 1
    assert job["memory_bytes_mean"] == 50.0
    assert np.isnan(job["cpu_cores_mean"]) and np.isnan(job["cpu_cores_max"])


def test_first_and_last_seen_combine_as_min_and_max() -> None:
    combiner = ChunkCombiner({"first": "min", "last": "max"})
    combiner.add_answer("first", answer({WEB: 200.0}))
    combiner.add_answer("last", answer({WEB: 300.0}))
    combiner.add_answer("first", answer({WEB: 100.0}))
    combiner.add_answer("last", answer({WEB: 250.0}))
    frame = combiner.frame()
    assert frame[["first", "last"]].to_numpy().tolist() == [[100.0, 300.0]]


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="median"):
        ChunkCombiner({"x": "median"})


samples_by_day = st.lists(
    st.dictionaries(
        st.sampled_from(["a", "b", "c", "d"]),
        st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=8),
        max_size=4,
    ),
    min_size=1,
    max_size=5,
)


@settings(deadline=None)
@given(days=samples_by_day, order=st.randoms(use_true_random=False))
def test_chunked_max_sum_count_equal_the_whole_window(
    days: list[dict[str, list[float]]], order: object
) -> None:
    combiner = ChunkCombiner({"max": "max", "sum": "sum", "count": "sum", "min": "min"})
    answers = []
    for day in days:
        keys = [("ns", pod, "c") for pod in day]
        answers += [
            ("max", keys, np.array([max(v) for v in day.values()])),
            ("min", keys, np.array([min(v) for v in day.values()])),
            ("sum", keys, np.array([sum(v) for v in day.values()])),
            ("count", keys, np.array([float(len(v)) for v in day.values()])),
        ]
    order.shuffle(answers)  # type: ignore[attr-defined]
    for part, keys, values in answers:
        combiner.add(part, keys, values)
    frame = combiner.frame().set_index("pod")

    whole: dict[str, list[float]] = {}
    for day in days:
        for pod, values in day.items():
            whole.setdefault(pod, []).extend(values)
    assert sorted(frame.index) == sorted(whole)
    for pod, values in whole.items():
        assert frame.loc[pod, "max"] == max(values)
        assert frame.loc[pod, "min"] == min(values)
        assert frame.loc[pod, "count"] == len(values)
        assert frame.loc[pod, "sum"] == pytest.approx(sum(values), rel=1e-12)


def test_a_labelled_answer_folds_each_series_into_the_part_its_label_names() -> None:
    # One MetricsQL quantiles_over_time answer: phi spelled as the server likes ("0.50"), a
    # quantile nobody asked for (ignored), and a key listed twice in one part (max of both).
    result = [
        {"metric": {"namespace": "shop", "pod": "web-1", "container": "app", "phi": "0.50"},
         "value": [0, "1.5"]},
        {"metric": {"namespace": "shop", "pod": "web-1", "container": "app", "phi": "0.95"},
         "value": [0, "4"]},
        {"metric": {"namespace": "shop", "pod": "web-1", "container": "app", "phi": "0.75"},
         "value": [0, "99"]},
        {"metric": {"namespace": "shop", "pod": "job-7", "container": "worker", "phi": "0.5"},
         "value": [0, "0.25"]},
        {"metric": {"namespace": "shop", "pod": "web-1", "container": "app", "phi": "0.95"},
         "value": [0, "6"]},
        {"metric": {"namespace": "shop", "pod": "job-7", "container": "worker"},  # no phi
         "value": [0, "77"]},
    ]  # fmt: skip
    combiner = ChunkCombiner(RULES)
    combiner.add_labelled({"0.5": "cpu_cores_p50", "0.95": "cpu_cores_p95"}, "phi", result)
    # A later chunk adds to the same running maxima.
    combiner.add_labelled(
        {"0.5": "cpu_cores_p50", "0.95": "cpu_cores_p95"},
        "phi",
        [{"metric": {**dict(zip(("namespace", "pod", "container"), JOB, strict=True)),
                     "phi": "0.95"}, "value": [0, "0.5"]}],
    )  # fmt: skip
    frame = combiner.frame().set_index("pod")
    assert frame.loc["web-1", "cpu_cores_p50"] == 1.5
    assert frame.loc["web-1", "cpu_cores_p95"] == 6.0
    assert frame.loc["job-7", "cpu_cores_p50"] == 0.25
    assert frame.loc["job-7", "cpu_cores_p95"] == 0.5
    assert 99.0 not in frame.to_numpy() and 77.0 not in frame.to_numpy()


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([WEB, JOB]),
            st.sampled_from(["max_over_time", "sum_over_time", "count_over_time", "rate"]),
            st.floats(0, 1e6, allow_nan=False),
        ),
        max_size=20,
    )
)
def test_a_labelled_answer_equals_its_parts_added_one_at_a_time(
    rows: list[tuple[tuple[str, str, str], str, float]],
) -> None:
    parts = {"max_over_time": "cpu_cores_max", "sum_over_time": "cpu_cores_sum"}
    parts["count_over_time"] = "cpu_cores_count"
    result = [
        {
            "metric": {"namespace": ns, "pod": pod, "container": c, "rollup": rollup},
            "value": [0, repr(value)],
        }
        for (ns, pod, c), rollup, value in rows
    ]
    together = ChunkCombiner(RULES)
    together.add_labelled(parts, "rollup", result)
    one_by_one = ChunkCombiner(RULES)
    for (ns, pod, c), rollup, value in rows:
        if rollup in parts:
            one_by_one.add(parts[rollup], [(ns, pod, c)], np.array([value]))
    left = together.frame().set_index(["namespace", "pod", "container"]).sort_index()
    right = one_by_one.frame().set_index(["namespace", "pod", "container"]).sort_index()
    np.testing.assert_array_equal(left.to_numpy(), right.to_numpy())
