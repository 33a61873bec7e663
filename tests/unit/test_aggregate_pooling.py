"""The aggregate shape's pure pieces: pooled percentiles from per-pod knots, the leak screen."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.recommenders.strategies.pooling import pooled_quantile
from kianax_capacity.sources.prometheus.leaks import (
    MAX_CANDIDATES,
    MAX_QUERY_CHARS,
    leak_candidates,
    leak_jobs,
)
from kianax_capacity.sources.prometheus.plan import TimeGrid, plan_queries
from kianax_capacity.sources.prometheus.promql import Selector, quote_string

MIB = 2**20
LEVELS = (0.5, 0.9, 0.95, 0.99, 1.0)


def _knots(samples: list[np.ndarray]) -> list[tuple[float, np.ndarray]]:
    return [(level, np.array([np.quantile(s, level) for s in samples])) for level in LEVELS]


def test_pooled_quantile_is_close_to_the_quantile_of_the_pooled_samples() -> None:
    rng = np.random.default_rng(7)
    for trial in range(20):
        # Pods of one container: long-lived ones around one load, a few short bursty ones.
        pods = [rng.gamma(4.0, 0.05, size=int(rng.integers(200, 2000))) for _ in range(4)]
        pods += [rng.gamma(4.0, 0.2, size=int(rng.integers(2, 12))) for _ in range(6)]
        weights = np.array([len(s) for s in pods], dtype=float)
        pooled = np.concatenate(pods)
        # Linear between the knots: closest where knots are dense (p90, p95), looser at p99,
        # whose segment up to the max holds the sparse tail.
        for level, tolerance in ((0.9, 0.05), (0.95, 0.05), (0.99, 0.10)):
            got = pooled_quantile(np.zeros(len(pods), dtype=int), _knots(pods), weights, level)
            expected = float(np.quantile(pooled, level))
            assert abs(float(got.iloc[0]) / expected - 1.0) < tolerance, (trial, level)
            # The busiest pod's quantile, which the aggregate shape used before, is far above.
            busiest = max(float(np.quantile(s, level)) for s in pods)
            assert busiest > expected * 1.3


def test_pooled_quantile_groups_independently() -> None:
    a = [np.linspace(0, 1, 101)]
    b = [np.linspace(10, 20, 101), np.linspace(10, 20, 101)]
    groups = np.array([0, 1, 1])
    got = pooled_quantile(groups, _knots(a + b), np.array([101.0, 101.0, 101.0]), 0.5)
    assert got.loc[0] == pytest.approx(0.5, rel=1e-3)
    assert got.loc[1] == pytest.approx(15.0, rel=1e-3)


def _daily(slopes_per_day: dict[str, list[float]]) -> list[pd.DataFrame]:
    days = max(len(v) for v in slopes_per_day.values())
    frames = []
    for day in range(days):
        rows = [
            {"namespace": "ns", "pod": pod, "container": "app", "memory_bytes_slope": s[day]}
            for pod, s in slopes_per_day.items()
            if day < len(s)
        ]
        frames.append(pd.DataFrame(rows))
    return frames


def test_the_leak_screen_passes_persistent_growth_only() -> None:
    per_day = 20 * MIB / 86_400.0  # bytes per second
    slopes = {
        "leaking": [per_day] * 7,
        "leaking-with-restarts": [per_day, per_day, -3 * per_day] * 2 + [per_day],
        "flat": [0.0] * 7,
        "one-steep-day": [0.0, 0.0, per_day * 5, 0.0, 0.0, 0.0, 0.0],
        "short-lived": [per_day],
    }
    step = 300
    samples = {pod: len(s) * 288 for pod, s in slopes.items()}
    samples["short-lived"] = 100  # 8 h: the detector judges no segment that short
    parts = pd.DataFrame(
        [
            {
                "namespace": "ns",
                "pod": pod,
                "container": "app",
                "memory_bytes_sum": 200 * MIB * n,
                "samples": n,
            }
            for pod, n in samples.items()
        ]
    )
    candidates, passed = leak_candidates(_daily(slopes), parts, step)
    assert set(candidates["pod"]) == {"leaking", "leaking-with-restarts"}
    assert passed == 2
    assert candidates["pod"].iloc[0] == "leaking"  # the most persistent first


def test_the_leak_screen_is_bounded_whatever_the_cluster() -> None:
    per_day = 50 * MIB / 86_400.0
    many = {f"pod-{i:05d}": [per_day] * 3 for i in range(MAX_CANDIDATES + 500)}
    parts = pd.DataFrame(
        [
            {
                "namespace": "ns",
                "pod": p,
                "container": "app",
                "memory_bytes_sum": 1e8 * 864,
                "samples": 864,
            }
            for p in many
        ]
    )
    candidates, passed = leak_candidates(_daily(many), parts, 300)
    assert passed == MAX_CANDIDATES + 500
    assert len(candidates) == MAX_CANDIDATES


def test_leak_jobs_stay_under_the_query_limit_and_escape_pod_names() -> None:
    end = datetime(2026, 11, 23, tzinfo=UTC)
    grid = TimeGrid(end, 300, 14 * 288)
    plan = plan_queries(
        grid=grid, shape="aggregate", selector=Selector(), scrape_interval_seconds=30
    )
    pods = [f"a-rather-long-deployment-name-{i:04d}-7d9f8c6b5-x2k9q" for i in range(MAX_CANDIDATES)]
    pods[0] = 'weird.pod"name'
    candidates = pd.DataFrame(
        {
            "namespace": [f"team-{i % 3}" for i in range(len(pods))],
            "pod": pods,
            "container": "app",
        }
    )
    jobs = leak_jobs(candidates, plan, Selector())
    assert 1 < len(jobs) <= 14  # ~120,000 characters of matchers
    for job in jobs:
        assert len(job.promql) <= MAX_QUERY_CHARS
        assert job.grid is not None and job.grid.step_seconds == 3600
        assert job.grid.points == 14 * 24
    text = " ".join(job.promql for job in jobs)
    assert all(quote_string(re.escape(p))[1:-1] in text for p in pods[1:])
    # The regex escapes the dot, the string literal the quote: nothing leaks out of the matcher.
    assert 'weird\\\\.pod\\"name' in text
