"""The per-day cache's pure parts: UTC-aligned day chunks, the key, settling, and day folds
absorbed exactly as their answers would have been (the server-backed tests are in
tests/integration/test_prometheus_cache.py)."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kianax_capacity.sources.prometheus import cache as cache_module
from kianax_capacity.sources.prometheus.cache import (
    SETTLE_SECONDS,
    CacheStats,
    DayCache,
    cache_key,
    cacheable,
    default_cache_dir,
    jobs_digest,
    templates_digest,
)
from kianax_capacity.sources.prometheus.catalog import AGGREGATE_QUERIES
from kianax_capacity.sources.prometheus.fold import DayFrames, Results
from kianax_capacity.sources.prometheus.plan import QueryJob, TimeGrid, aggregate_day_chunks
from kianax_capacity.sources.prometheus.promql import Selector

MIDNIGHT = datetime(2026, 11, 23, tzinfo=UTC)
DAY = 86_400


@settings(deadline=None, max_examples=60)
@given(
    offset=st.integers(min_value=0, max_value=DAY - 1),
    points=st.integers(min_value=1, max_value=6_000),
    step=st.sampled_from([60, 300, 900, 3600]),
)
def test_day_chunks_cover_every_point_once_and_end_on_utc_midnights(
    offset: int, points: int, step: int
) -> None:
    end = MIDNIGHT + timedelta(seconds=offset - offset % step)
    grid = TimeGrid(end, step, points)
    chunks = aggregate_day_chunks(grid, DAY // step)
    assert sum(c.points for c in chunks) == points
    assert chunks[-1].end == end and chunks[0].first == grid.first
    for before, after in itertools.pairwise(chunks):
        assert after.first - before.end == timedelta(seconds=step)
        # Every chunk but the last ends at a UTC midnight; every full one spans exactly a day.
        assert before.end.timestamp() % DAY == 0
    for chunk in chunks:
        assert chunk.points <= DAY // step
        assert (chunk.window_start.timestamp() // DAY) == ((chunk.end.timestamp() - 1) // DAY)


def test_day_chunks_of_a_midnight_window_are_the_days_counted_back_from_its_end() -> None:
    grid = TimeGrid(MIDNIGHT, 300, 14 * 288)
    assert aggregate_day_chunks(grid, 288) == tuple(grid.chunks(288))
    # A window moved by one day shares 13 of its 14 day chunks with the previous one.
    moved = TimeGrid(MIDNIGHT - timedelta(days=1), 300, 14 * 288)
    shared = set(aggregate_day_chunks(grid, 288)) & set(aggregate_day_chunks(moved, 288))
    assert len(shared) == 13
    # An end 5 h past midnight: a partial first and last day around 13 whole ones.
    late = TimeGrid(MIDNIGHT + timedelta(hours=5), 300, 14 * 288)
    chunks = aggregate_day_chunks(late, 288)
    assert [c.points for c in chunks] == [288 - 60, *[288] * 13, 60]
    # A chunk that does not divide a day is counted back from the end, as before.
    assert aggregate_day_chunks(late, 100) == tuple(late.chunks(100))


def test_only_whole_days_settled_for_an_hour_are_cacheable() -> None:
    day = TimeGrid(MIDNIGHT, 300, 288)
    settle = timedelta(seconds=SETTLE_SECONDS)
    assert cacheable(day, 288, MIDNIGHT + settle)
    assert not cacheable(day, 288, MIDNIGHT + settle - timedelta(seconds=1))
    assert not cacheable(TimeGrid(MIDNIGHT, 300, 287), 288, MIDNIGHT + timedelta(days=5))
    shifted = TimeGrid(MIDNIGHT + timedelta(minutes=5), 300, 288)
    assert not cacheable(shifted, 288, MIDNIGHT + timedelta(days=5))


def _key(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "url": "http://127.0.0.1:9090",
        "headers": {},
        "selector": Selector.build(namespace_regex="kianax"),
        "step_seconds": 300,
        "shape": "aggregate",
        "dialect": "metricsql",
        "rate_window_seconds": 300.0,
        "sample_window_seconds": 299.0,
        "aggregate_chunk_seconds": 86_400.0,
    }
    return cache_key(**{**base, **changes})


def test_the_key_holds_no_credentials_and_changes_with_every_input() -> None:
    secret = _key(
        url="http://alice:s3cret@127.0.0.1:9090?token=t0ken#frag",
        headers={"Authorization": "Bearer abc123", "X-Scope-OrgID": "team-a"},
    )
    text = repr(secret)
    for leaked in ("alice", "s3cret", "t0ken", "abc123", "Bearer"):
        assert leaked not in text
    assert secret["url"] == "http://127.0.0.1:9090"
    assert secret["tenant"] == {"x-scope-orgid": "team-a"}
    digests = {
        DayCache(Path("/c"), key).digest
        for key in (
            _key(),
            _key(url="http://127.0.0.1:9091"),
            _key(headers={"X-Scope-OrgID": "team-b"}),
            _key(selector=Selector.build(namespace_regex="other")),
            _key(step_seconds=60),
            _key(dialect="promql"),
            _key(rate_window_seconds=600.0),
            _key(sample_window_seconds=59.0),
            _key(aggregate_chunk_seconds=43_200.0),
            _key(shape="series"),
        )
    }
    assert len(digests) == 10
    # A token alone is not part of the key: the same data under another credential.
    assert DayCache(Path("/c"), _key(headers={"Authorization": "x"})).digest == (
        DayCache(Path("/c"), _key()).digest
    )


def test_the_templates_digest_changes_with_a_template(monkeypatch: pytest.MonkeyPatch) -> None:
    before = templates_digest()
    real = cache_module.load_template

    def edited(name: str) -> str:
        text = real(name)
        return text.replace("max_over_time", "min_over_time") if name == "pod_last_seen" else text

    monkeypatch.setattr(cache_module, "load_template", edited)
    assert templates_digest() != before


def test_jobs_digest_is_order_free_and_sees_every_field() -> None:
    end = MIDNIGHT
    a = QueryJob("pod_info", "up", 0, time=end)
    b = QueryJob("cpu", "rate(x[5m])", 0, grid=TimeGrid(end, 300, 288))
    assert jobs_digest([a, b]) == jobs_digest([b, a])
    assert jobs_digest([a, b]) != jobs_digest([a, QueryJob("cpu", "rate(x[5m])", 0, time=end)])
    assert jobs_digest([a]) != jobs_digest(
        [QueryJob("pod_info", "up", 0, time=end + timedelta(seconds=1))]
    )


def test_default_cache_dir_follows_xdg() -> None:
    assert default_cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/kianax-capacity")
    assert default_cache_dir({"HOME": "/home/u"}) == Path("/home/u/.cache/kianax-capacity")


def _day_answers(day: int) -> list[tuple[QueryJob, list[dict[str, Any]]]]:
    """One day's answers in the servers' JSON layout: a fold, a statistic, a range answer."""
    owner = [
        {"metric": {"namespace": "a", "pod": f"p{i}", "owner_kind": "ReplicaSet",
                    "owner_name": f"rs-{day}"}, "value": [0, "1"]}
        for i in range(day, day + 3)
    ]  # fmt: skip
    (stat_name, stat) = next((name, q) for name, q in AGGREGATE_QUERIES.items() if q.label is None)
    part = stat.parts[0][1]
    stats = [
        {"metric": {"namespace": "a", "pod": f"p{i}", "container": "c"},
         "value": [0, repr(float(i + day) / 3)]}
        for i in range(day, day + 3)
    ]  # fmt: skip
    replicas = [
        {"metric": {"namespace": "a", "horizontalpodautoscaler": "h"},
         "values": [[float(DAY * day + 300 * k), str(k + day)] for k in range(4)]}
    ]  # fmt: skip
    grid = TimeGrid(MIDNIGHT + timedelta(days=day), 300, 4)
    assert part
    return [
        (QueryJob("pod_owner", "q", day, time=MIDNIGHT), owner),
        (QueryJob(stat_name, "q", day, time=MIDNIGHT), stats),
        (QueryJob("hpa_current_replicas", "q", day, grid=grid), replicas),
    ]


def _frames(results: Results) -> dict[str, pd.DataFrame]:
    labels = ["namespace", "pod", "owner_kind", "owner_name"]
    keys, lengths, points = results.series_points(
        "hpa_current_replicas", ["namespace", "horizontalpodautoscaler"]
    )
    return {
        "owner": results.vector("pod_owner", labels).sort_values("pod").reset_index(drop=True),
        "parts": results.parts.frame().sort_values("pod").reset_index(drop=True),
        "replicas": pd.DataFrame({"t": points[:, 0], "v": points[:, 1]}),
        "lengths": pd.DataFrame({"n": lengths, "key": [str(k) for k in keys]}),
    }


def _three_ways(
    tmp_path: Path, days: dict[int, list[tuple[QueryJob, list[dict[str, Any]]]]]
) -> tuple[Results, Results, Results, CacheStats]:
    """Each day's answers added to one Results directly, and fetched into a day's own Results
    that is stored in a cache, then absorbed live and as read back from disk."""
    direct, absorbed, from_disk = Results(), Results(), Results()
    cache = DayCache(tmp_path, _key())
    stats = CacheStats()
    for day, answers in days.items():
        live = Results()
        for job, answer in answers:
            direct.add(job, answer)
            live.add(job, answer)
        grid = TimeGrid(MIDNIGHT + timedelta(days=day), 300, 288)
        cache.store(grid, f"jobs-{day}", live.day_frames())
        absorbed.absorb(live.day_frames(), day)
        read = cache.load(grid, f"jobs-{day}", stats)
        assert read is not None
        from_disk.absorb(read, day)
    return direct, absorbed, from_disk, stats


def test_days_absorbed_live_or_from_disk_equal_the_answers_added_directly(tmp_path: Path) -> None:
    days = {day: _day_answers(day) for day in (2, 0, 1)}  # any arrival order
    direct, absorbed, from_disk, stats = _three_ways(tmp_path, days)
    expected = _frames(direct)
    for other in (absorbed, from_disk):
        for name, frame in _frames(other).items():
            pd.testing.assert_frame_equal(frame, expected[name], check_exact=True)
    assert stats.invalid == 0
    # The latest day's owner won, whatever the order the days came in.
    owner = expected["owner"].set_index("pod")["owner_name"]
    assert owner["p2"] == "rs-2" and owner["p0"] == "rs-0"
    assert np.isfinite(expected["parts"].select_dtypes("number").to_numpy()).any()


def test_an_entry_of_other_requests_or_a_torn_file_is_a_warned_miss(tmp_path: Path) -> None:
    cache = DayCache(tmp_path, _key())
    grid = TimeGrid(MIDNIGHT, 300, 288)
    live = Results()
    for job, answer in _day_answers(0):
        live.add(job, answer)
    cache.store(grid, "jobs", live.day_frames())
    stats = CacheStats()
    assert cache.load(grid, "other-jobs", stats) is None
    assert stats.invalid == 1 and "other requests" in stats.warnings[0]
    (entry,) = [p for p in cache.directory.iterdir() if p.is_dir()]
    fold = next(entry.glob("fold.*.parquet"))
    fold.write_bytes(fold.read_bytes()[:40])
    assert cache.load(grid, "jobs", stats) is None
    assert stats.invalid == 2 and str(entry) in stats.warnings[1]
    # Stored again over the torn entry: readable, and no temporary folder left behind.
    cache.store(grid, "jobs", live.day_frames())
    assert cache.load(grid, "jobs", stats) is not None
    assert sorted(p.name for p in cache.directory.iterdir()) == sorted([entry.name, "key.json"])


def test_every_field_of_results_is_cached_and_absorbed() -> None:
    """A new kind of per-day state in Results (another combiner, say) must be written and read
    by cache.py and combined by Results.absorb, or cached days would silently lack it."""
    assert {f.name for f in dataclasses.fields(Results)} == {
        "by_name",
        "folds",
        "parts",
        "daily_parts",
        "_lock",
        # Where absorbed HPA answers wait, and their file counter: how answers are held, not
        # what a day holds (a spilled answer is the same answer, test_prometheus_fold).
        "spill",
        "_spilled",
    }
    assert {f.name for f in dataclasses.fields(DayFrames)} == {
        "parts",
        "folds",
        "answers",
        "daily",
    }


def _slope_answers(day: int, time: datetime) -> tuple[QueryJob, list[dict[str, Any]]]:
    """One day's leak-screen slopes (a daily part) at query time ``time``."""
    slopes = [
        {"metric": {"namespace": "a", "pod": f"p{i}", "container": "c"},
         "value": [0, repr((i - day) / 7)]}
        for i in range(day, day + 3)
    ]  # fmt: skip
    return QueryJob("memory_bytes_slope", "q", day, time=time), slopes


def _daily(results: Results) -> dict[float, pd.DataFrame]:
    return {t: held.frame().copy() for t, held in sorted(results.daily_parts.items())}


def test_daily_parts_absorbed_live_or_from_disk_equal_the_answers_added_directly(
    tmp_path: Path,
) -> None:
    """A complete day's parts are held as its frame; a second chunk with parts at the same
    query time (not what the plan makes, but possible) combines with it as answers would."""
    times = {2: MIDNIGHT + timedelta(days=2), 0: MIDNIGHT, 1: MIDNIGHT, 3: MIDNIGHT}
    days = {day: [_slope_answers(day, time)] for day, time in times.items()}
    direct, absorbed, from_disk, stats = _three_ways(tmp_path, days)
    assert stats.invalid == 0
    expected = _daily(direct)
    assert sorted(expected) == sorted({t.timestamp() for t in times.values()})
    # Days 0, 1 and 3 share a time: the steepest slope of each pod container wins (p3 is in
    # days 1 and 3).
    shared = expected[MIDNIGHT.timestamp()].set_index("pod")["memory_bytes_slope"]
    assert shared["p3"] == max((3 - d) / 7 for d in (1, 3))
    for other in (absorbed, from_disk):
        got = _daily(other)
        assert sorted(got) == sorted(expected)
        for time, frame in expected.items():
            pd.testing.assert_frame_equal(got[time], frame, check_exact=True)
