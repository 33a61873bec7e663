"""Folding of Prometheus answers as they arrive (inventory per key, replicas join, GC pause)."""

from __future__ import annotations

import gc
import math
import platform
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kianax_capacity.sources.prometheus._memory import GC_PAUSED, bound_malloc_arenas
from kianax_capacity.sources.prometheus.catalog import FoldSpec
from kianax_capacity.sources.prometheus.fold import Fold, Results, SpilledAnswer
from kianax_capacity.sources.prometheus.plan import QueryJob, TimeGrid
from kianax_capacity.sources.prometheus.tables import build_replicas


def instant(rows: list[tuple[dict[str, str], float]]) -> list[dict[str, Any]]:
    return [{"metric": metric, "value": [0, repr(value)]} for metric, value in rows]


def test_last_keeps_the_latest_chunks_row_whatever_the_arrival_order() -> None:
    fold = Fold(FoldSpec(("namespace", "pod"), ("owner_name",)))
    fold.add(2, instant([({"namespace": "a", "pod": "p", "owner_name": "rs-2"}, 2.0)]))
    fold.add(0, instant([({"namespace": "a", "pod": "p", "owner_name": "rs-0"}, 0.0)]))
    # Chunk 1 repeats a key: its last row is the one kept for that chunk.
    fold.add(
        1,
        instant(
            [
                ({"namespace": "a", "pod": "q", "owner_name": "x"}, 5.0),
                ({"namespace": "a", "pod": "q", "owner_name": "y"}, 6.0),
            ]
        ),
    )
    frame = fold.frame(["namespace", "pod", "owner_name"]).sort_values("pod")
    assert frame.to_dict("records") == [
        {"namespace": "a", "pod": "p", "owner_name": "rs-2", "value": 2.0},
        {"namespace": "a", "pod": "q", "owner_name": "y", "value": 6.0},
    ]
    assert frame["pod"].dtype == object


def test_min_keeps_the_smallest_value_and_the_latest_extra_label() -> None:
    fold = Fold(FoldSpec(("pod",), ("node",), "min"))
    fold.add(1, instant([({"pod": "p", "node": "n-late"}, 50.0)]))
    fold.add(0, instant([({"pod": "p", "node": "n-early"}, 10.0)]))
    fold.add(2, instant([({"pod": "p"}, math.nan)]))  # no node label: "" as before
    (row,) = fold.frame(["pod", "node"]).to_dict("records")
    assert row == {"pod": "p", "node": "", "value": 10.0}


def _reference(answers: list[tuple[int, list[tuple[str, str, float]]]], rule: str) -> dict:
    """The pre-folding semantics: concatenate by chunk, then last row / min / max per key."""
    rows = [
        {"pod": pod, "node": node, "value": value, "chunk": chunk}
        for chunk, answer in sorted(answers, key=lambda item: item[0])
        for pod, node, value in answer
    ]
    frame = pd.DataFrame(rows, columns=["pod", "node", "value", "chunk"])
    last = frame.drop_duplicates(["pod"], keep="last").set_index("pod")
    if rule == "last":
        values = last["value"]
    else:
        values = frame.groupby("pod")["value"].agg(rule)
    return {pod: (last.loc[pod, "node"], None if math.isnan(v) else v) for pod, v in values.items()}


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(["p1", "p2", "p3"]),
                st.sampled_from(["n1", "n2"]),
                st.one_of(st.floats(-5, 5, allow_nan=False), st.just(math.nan)),
            ),
            max_size=5,
        ),
        min_size=1,
        max_size=4,
    ),
    order=st.randoms(use_true_random=False),
    rule=st.sampled_from(["last", "min", "max"]),
)
def test_folding_in_any_order_matches_concatenating_by_chunk(
    chunks: list[list[tuple[str, str, float]]], order: Any, rule: str
) -> None:
    answers = list(enumerate(chunks))
    arrival = answers[:]
    order.shuffle(arrival)
    fold = Fold(FoldSpec(("pod",), ("node",), rule))
    for chunk, answer in arrival:
        fold.add(chunk, instant([({"pod": p, "node": n}, v) for p, n, v in answer]))
    got = {
        row["pod"]: (row["node"], None if math.isnan(row["value"]) else row["value"])
        for row in fold.frame(["pod", "node"]).to_dict("records")
    }
    assert got == _reference(answers, rule)


def _range(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> list[dict[str, Any]]:
    return [
        {"metric": metric, "values": [[t, repr(v)] for t, v in points]} for metric, points in series
    ]


def _replica_results(
    current: list[tuple[dict[str, str], list[tuple[int, float]]]],
    desired: list[tuple[dict[str, str], list[tuple[int, float]]]],
) -> Results:
    grid = TimeGrid(datetime(2026, 1, 1, tzinfo=UTC), 60, 10)
    results = Results()
    results.add(QueryJob("hpa_current_replicas", "q", 0, grid=grid), _range(current))
    results.add(QueryJob("hpa_desired_replicas", "q", 0, grid=grid), _range(desired))
    return results


def test_replicas_outer_join_on_hpa_and_time() -> None:
    a = {"namespace": "ns", "horizontalpodautoscaler": "a"}
    b = {"namespace": "ns", "horizontalpodautoscaler": "b"}
    results = _replica_results(
        current=[(b, [(60, 1.0), (120, 2.0)]), (a, [(60, 3.0)])],
        desired=[(b, [(120, 4.0), (180, 5.0)])],
    )
    out = build_replicas(results)
    rows = [
        (r["hpa"], r["timestamp"].timestamp(), r["current_replicas"], r["desired_replicas"])
        for r in out.to_dict("records")
    ]
    nan = math.nan
    expected = [
        ("a", 60, 3.0, nan),
        ("b", 60, 1.0, nan),
        ("b", 120, 2.0, 4.0),
        ("b", 180, nan, 5.0),
    ]
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected, strict=True):
        assert got[:2] == want[:2]
        np.testing.assert_equal(got[2:], want[2:])
    # Categorical labels: a code per row, the names once.
    assert isinstance(out["namespace"].dtype, pd.CategoricalDtype)
    assert list(out["hpa"].cat.categories) == ["a", "b"]


def test_replicas_with_repeated_rows_fall_back_to_pandas_merge() -> None:
    a = {"namespace": "ns", "horizontalpodautoscaler": "a"}
    a_again = {**a, "extra": "x"}  # another series with the same HPA labels
    results = _replica_results(
        current=[(a, [(60, 1.0)]), (a_again, [(60, 2.0)])],
        desired=[(a, [(60, 7.0)])],
    )
    out = build_replicas(results)
    assert sorted(out["current_replicas"]) == [1.0, 2.0]
    assert list(out["desired_replicas"]) == [7.0, 7.0]


def test_gc_pause_is_counted_and_restores_the_callers_setting() -> None:
    assert gc.isenabled()
    with GC_PAUSED:
        with GC_PAUSED:
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with GC_PAUSED:
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_folds_sharing_key_ids_only_list_their_own_rows() -> None:
    ids: dict[tuple[str, ...], int] = {}
    owners = Fold(FoldSpec(("pod",), ("owner_name",)), ids)
    pvcs = Fold(FoldSpec(("pod",)), ids)
    owners.add(0, instant([({"pod": "a", "owner_name": "rs"}, 1.0)]))
    pvcs.add(0, instant([({"pod": "b"}, 1.0), ({"pod": "a"}, 2.0)]))
    assert owners.frame(["pod", "owner_name"]).to_dict("records") == [
        {"pod": "a", "owner_name": "rs", "value": 1.0}
    ]
    assert sorted(pvcs.frame(["pod"])["pod"]) == ["a", "b"]
    assert len(ids) == 2


def test_replicas_join_chunks_arriving_out_of_order_and_consume_the_answers() -> None:
    a = {"namespace": "ns", "horizontalpodautoscaler": "a"}
    grid = TimeGrid(datetime(2026, 1, 1, tzinfo=UTC), 60, 10)
    results = Results()
    # Chunk 1 arrives before chunk 0; the rows still come out in time order.
    results.add(QueryJob("hpa_current_replicas", "q", 1, grid=grid), _range([(a, [(180, 3.0)])]))
    results.add(QueryJob("hpa_current_replicas", "q", 0, grid=grid), _range([(a, [(60, 1.0)])]))
    results.add(QueryJob("hpa_desired_replicas", "q", 1, grid=grid), _range([(a, [(240, 9.0)])]))
    out = build_replicas(results)
    assert [t.timestamp() for t in out["timestamp"]] == [60, 180, 240]
    np.testing.assert_equal(out["current_replicas"].to_numpy(), [1.0, 3.0, math.nan])
    np.testing.assert_equal(out["desired_replicas"].to_numpy(), [math.nan, math.nan, 9.0])
    # Nothing reads the replica answers twice: they are gone once joined.
    assert "hpa_current_replicas" not in results.by_name
    assert "hpa_desired_replicas" not in results.by_name


def test_released_folds_leave_the_folds_sharing_their_key_ids_intact() -> None:
    results = Results()
    job = QueryJob("pod_owner", "q", 0)
    results.add(job, instant([({"namespace": "a", "pod": "p", "owner_name": "rs"}, 1.0)]))
    results.add(QueryJob("pod_pvcs", "q", 0), instant([({"namespace": "a", "pod": "q"}, 1.0)]))
    results.release("pod_owner")
    assert results.empty("pod_owner")
    assert results.vector("pod_pvcs", ["namespace", "pod"]).to_dict("records") == [
        {"namespace": "a", "pod": "q", "value": 1.0}
    ]


_POINTS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),  # the HPA
        st.integers(0, 40),  # the step
        st.integers(0, 7),  # the replicas
    ),
    max_size=40,
    unique_by=lambda point: point[:2],
)


@settings(max_examples=60, deadline=None)
@given(current=_POINTS, desired=_POINTS, step=st.sampled_from([1, 60, 300]))
def test_replicas_join_equals_pandas_outer_merge(
    current: list[tuple[str, int, int]],
    desired: list[tuple[str, int, int]],
    step: int,
) -> None:
    """The join on int64 keys gives pandas' outer merge of the two sides on HPA and time,
    rows by HPA then time."""

    def answer(points: list[tuple[str, int, int]]) -> list[tuple[dict[str, str], list]]:
        by_hpa: dict[str, list[tuple[int, float]]] = {}
        for hpa, at, value in sorted(points, key=lambda p: (p[0], p[1])):
            by_hpa.setdefault(hpa, []).append((1_767_225_600 + at * step, float(value)))
        return [({"namespace": "ns", "horizontalpodautoscaler": h}, p) for h, p in by_hpa.items()]

    out = build_replicas(_replica_results(answer(current), answer(desired)))

    def side(points: list[tuple[str, int, int]], column: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "hpa": [p[0] for p in points],
                "t": [float(1_767_225_600 + p[1] * step) for p in points],
                column: [float(p[2]) for p in points],
            }
        )

    want = side(current, "current_replicas").merge(
        side(desired, "desired_replicas"), on=["hpa", "t"], how="outer"
    )
    want = want.sort_values(["hpa", "t"]).reset_index(drop=True)
    got = pd.DataFrame(
        {
            "hpa": out["hpa"].astype(str).to_numpy(),
            "t": [t.timestamp() for t in out["timestamp"]],
            "current_replicas": out["current_replicas"].to_numpy(),
            "desired_replicas": out["desired_replicas"].to_numpy(),
        }
    )
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=True)


_POD_ROWS = st.lists(
    st.tuples(
        st.integers(0, 2),  # the chunk
        st.sampled_from(["p", "q", "r", "s"]),  # the pod
        st.sampled_from(["", "n1", "n2"]),  # the node or owner label
        st.floats(0, 100),
    ),
    max_size=12,
)


@settings(max_examples=80, deadline=None)
@given(first=_POD_ROWS, last=_POD_ROWS, owner=_POD_ROWS)
def test_fold_columns_equal_the_left_merge_of_the_folds_frames(first, last, owner) -> None:
    results = Results()
    for name, rows, label in (
        ("pod_first_seen", first, "node"),
        ("pod_last_seen", last, None),
        ("pod_owner", owner, "owner_name"),
    ):
        for chunk, pod, text, value in rows:
            metric = {"namespace": "ns", "pod": pod, **({label: text} if label else {})}
            results.add(QueryJob(name, "q", chunk), instant([(metric, value)]))
    key = ["namespace", "pod"]
    got = results.fold_columns(
        "pod_first_seen",
        {
            "first_seen": ("pod_first_seen", "value"),
            "node": ("pod_first_seen", "node"),
            "last_seen": ("pod_last_seen", "value"),
            "owner": ("pod_owner", "owner_name"),
        },
    )
    expected = (
        results.vector("pod_first_seen", [*key, "node"])
        .rename(columns={"value": "first_seen"})
        .merge(
            results.vector("pod_last_seen", key).rename(columns={"value": "last_seen"}),
            on=key,
            how="left",
        )
        .merge(
            results.vector("pod_owner", [*key, "owner_name"])
            .drop(columns="value")
            .rename(columns={"owner_name": "owner"}),
            on=key,
            how="left",
        )
    )
    # The merge marks a missing label NaN, fold_columns None: both are missing.
    expected["owner"] = expected["owner"].astype(object).where(expected["owner"].notna(), None)
    pd.testing.assert_frame_equal(
        got.sort_values("pod", ignore_index=True),
        expected[list(got.columns)].sort_values("pod", ignore_index=True),
        check_dtype=False,
    )
    # A missing owner is None (so "no owner" is told from an empty owner label), not "".
    assert all(
        (value is None) == (pod not in {row[1] for row in owner})
        for pod, value in zip(got["pod"], got["owner"], strict=True)
    )


def test_fold_columns_refuses_folds_with_other_keys() -> None:
    results = Results()
    results.add(QueryJob("pod_first_seen", "q", 0), instant([({"namespace": "a", "pod": "p"}, 1)]))
    with pytest.raises(ValueError, match="does not share"):
        results.fold_columns("pod_first_seen", {"cpu": ("container_requests", "value")})


def test_malloc_bounds_are_taken_where_the_c_library_is_glibc() -> None:
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt's arena and mmap settings are glibc's")
    assert bound_malloc_arenas()  # glibc took both parameters (a wrong id gives 0)


def test_spilled_hpa_answers_wait_on_disk_and_join_as_if_held(tmp_path) -> None:
    a = {"namespace": "ns", "horizontalpodautoscaler": "a"}
    b = {"namespace": "ns", "horizontalpodautoscaler": "b"}
    grid = TimeGrid(datetime(2026, 1, 1, tzinfo=UTC), 60, 10)

    def day(chunk: int, offset: int) -> Results:
        one = Results()
        for name, value in (("hpa_current_replicas", 2.0), ("hpa_desired_replicas", 3.0)):
            answer = _range(
                [(a, [(offset, value), (offset + 60, value + 1)]), (b, [(offset, 1.5)])]
            )
            one.add(QueryJob(name, "q", chunk, grid=grid), answer)
        one.add(QueryJob("restart_counters", "q", chunk, grid=grid), _range([(a, [(offset, 1)])]))
        return one

    held, spilled = Results(), Results(spill=tmp_path)
    for chunk, offset in ((1, 600), (0, 0)):  # days absorbed out of order
        held.absorb(day(chunk, offset).day_frames(), chunk)
        spilled.absorb(day(chunk, offset).day_frames(), chunk)
    # Only the HPA answers wait on disk, one file each; the rest stays in memory.
    assert len(list(tmp_path.iterdir())) == 4
    assert all(
        isinstance(answer, SpilledAnswer) == name.startswith("hpa_")
        for name, items in spilled.by_name.items()
        for _chunk, answer in items
    )
    assert not spilled.empty("hpa_current_replicas")
    pd.testing.assert_frame_equal(build_replicas(spilled), build_replicas(held))
    assert list(tmp_path.iterdir()) == []  # each file removed once read back
