"""Property tests: invariants every strategy keeps, on generated usage."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kianax_capacity.model import ResourcePrices
from kianax_capacity.recommenders.rightsizing import (
    get_strategy,
    prepare_usage,
    recommend_rightsizing,
)
from tests.unit.rightsizing_helpers import MIB, build_snapshot, container_series

PRICES = ResourcePrices(0.0316, 0.0042)
N = 300  # 25 hours of 5-minute samples: enough history for every strategy
FAST = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cpu_values = arrays("float64", N, elements=st.floats(0.0, 4.0, allow_nan=False))
memory_values = arrays("float64", N, elements=st.floats(1e6, 4e9, allow_nan=False))
positive_cpu = arrays("float64", N, elements=st.floats(0.1, 4.0, allow_nan=False))


def data_for(cpu: np.ndarray, memory: np.ndarray, throttled: np.ndarray | None = None):
    usage = pd.concat(
        [
            container_series(cpu, memory, pod="web-1", throttled=throttled),
            container_series(
                cpu[::-1].copy(), memory[::-1].copy(), pod="web-2", throttled=throttled
            ),
        ]
    )
    return prepare_usage(build_snapshot(usage))


def raw(strategy: str, data, **overrides):
    cls = get_strategy(strategy)
    return cls(replace(cls.settings_type(), **overrides)).compute(data).iloc[0]


MONOTONE = {
    "krr-simple": [
        ("cpu_percentile", "cpu_request"),
        ("memory_buffer_percentage", "memory_request"),
    ],
    "vpa": [
        ("cpu_percentile", "cpu_request"),
        ("memory_percentile", "memory_request"),
        ("safety_margin_fraction", "cpu_request"),
        ("safety_margin_fraction", "memory_request"),
    ],
    "kianax": [
        ("cpu_percentile", "cpu_request"),
        ("memory_percentile", "memory_request"),
        ("memory_request_margin", "memory_request"),
        ("memory_limit_margin", "memory_limit"),
    ],
}
MARGINS = {
    "memory_buffer_percentage",
    "safety_margin_fraction",
    "memory_request_margin",
    "memory_limit_margin",
}


@FAST
@given(cpu=cpu_values, memory=memory_values, low=st.floats(0.0, 1.0), high=st.floats(0.0, 1.0))
def test_recommendations_are_monotone_in_percentile_and_margin(cpu, memory, low, high) -> None:
    low, high = sorted((low, high))
    data = data_for(cpu, memory)
    for strategy, pairs in MONOTONE.items():
        for setting, column in pairs:
            scale = 1.0 if setting in MARGINS else 100.0
            small = raw(strategy, data, **{setting: low * scale})[column]
            large = raw(strategy, data, **{setting: high * scale})[column]
            assert small <= large * (1 + 1e-12), (strategy, setting, low, high)


@FAST
@given(cpu=cpu_values, memory=memory_values, low=st.floats(0.3, 1.0), high=st.floats(0.3, 1.0))
def test_kianax_cpu_request_falls_as_target_utilisation_rises(cpu, memory, low, high) -> None:
    low, high = sorted((low, high))
    data = data_for(cpu, memory)
    assert raw("kianax", data, cpu_target_utilization=high)["cpu_request"] <= raw(
        "kianax", data, cpu_target_utilization=low
    )["cpu_request"] * (1 + 1e-12)


@FAST
@given(cpu=positive_cpu, memory=memory_values, k=st.floats(0.25, 8.0))
def test_scaling_cpu_usage_by_k_scales_cpu_recommendations_by_k(cpu, memory, k) -> None:
    base = data_for(cpu, memory)
    scaled = data_for(cpu * k, memory)
    for strategy in ("krr-simple", "kianax"):
        before = raw(strategy, base)["cpu_request"]
        after = raw(strategy, scaled)["cpu_request"]
        assert np.isclose(after, before * k, rtol=1e-9), strategy
    # VPA reads percentiles off 5%-growth buckets: exact up to one bucket's width.
    before = raw("vpa", base)["cpu_request"]
    after = raw("vpa", scaled)["cpu_request"]
    assert before * k / 1.16 <= after <= before * k * 1.16


@FAST
@given(
    cpu=cpu_values,
    memory=memory_values,
    throttled=arrays("float64", N, elements=st.floats(0.0, 1.0)),
)
def test_recommendations_are_never_negative(cpu, memory, throttled) -> None:
    snapshot = build_snapshot(container_series(cpu, memory, throttled=throttled))
    for strategy in ("krr-simple", "vpa", "kianax"):
        for row in recommend_rightsizing(snapshot, strategy=strategy, default_prices=PRICES):
            values = [
                row.recommended.cpu_request,
                row.recommended.cpu_limit,
                row.recommended.memory_request,
                row.recommended.memory_limit,
            ]
            assert all(v is None or v > 0 for v in values), (strategy, row.recommended)
            assert (
                row.recommended.memory_limit is None
                or row.recommended.memory_request is None
                or (row.recommended.memory_limit >= row.recommended.memory_request)
            )


@FAST
@given(
    samples=st.integers(1, 287),
    nan_cpu=st.booleans(),
    strategy=st.sampled_from(["krr-simple", "vpa", "kianax"]),
)
def test_nan_only_or_short_history_gives_insufficient_data_never_a_number(
    samples, nan_cpu, strategy
) -> None:
    cpu = np.full(samples, np.nan) if nan_cpu else np.full(samples, 0.1)
    snapshot = build_snapshot(container_series(cpu, np.full(samples, 100.0 * MIB)))
    (row,) = recommend_rightsizing(snapshot, strategy=strategy, default_prices=PRICES)
    assert row.status == "insufficient_data"
    assert row.reason.startswith("Only ")
    assert row.recommended.cpu_request is None and row.recommended.memory_request is None
    assert row.monthly_savings_usd is None
