"""Per-workload guardrails: validated at load, named in reasons, never violated by any strategy."""

from __future__ import annotations

import tomllib

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kianax_capacity.config import (
    ResourceBounds,
    WorkloadGuardrails,
    merge_guardrails,
    parse_config,
)
from kianax_capacity.errors import ConfigError
from kianax_capacity.model import ResourcePrices
from kianax_capacity.recommenders.rightsizing import available_strategies, recommend_rightsizing
from tests.unit.rightsizing_helpers import MIB, build_snapshot, container_series

PRICES = ResourcePrices(0.0316, 0.0042)
N = 300  # 25 hours of 5-minute samples


def _load(text: str):
    return parse_config(tomllib.loads(text), where="k.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[workloads."kianax/api"]\ncpu_percentil = 95', "unknown key(s) cpu_percentil"),
        ('[workloads."kianax/api"]\ncpu_percentile = 0', "cpu_percentile: expected a percentile"),
        ('[workloads."kianax/api"]\nmemory_percentile = 101', "memory_percentile"),
        ('[workloads."kianax/api"]\nprofile = "prod"', "profile: must be one of"),
        ('[workloads."kianax/api"]\nexclude = "yes"', "exclude: expected true or false"),
        ('[workloads."kianax"]\nexclude = true', 'expected "namespace/name" or "namespace/*"'),
        ('[workloads."kianax/api".cpu]\nallow_decrease = false', "unknown key(s) allow_decrease"),
        (
            '[workloads."kianax/api".memory]\nmin_request = "lots"',
            "min_request: expected a quantity",
        ),
        ('[workloads."kianax/api".memory]\nmax_limit = 0', "max_limit: must be above zero"),
        (
            '[workloads."kianax/api".cpu]\nmin_request = "2"\nmax_limit = "1"',
            "min_request: '2' is above max_limit '1'",
        ),
    ],
)
def test_bad_guardrails_are_one_line_errors_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert 'workloads."kianax' in str(caught.value)


def test_guardrails_load_with_quantities_and_the_exact_name_wins_over_the_namespace() -> None:
    config = _load(
        '[workloads."kianax/*"]\ncpu_percentile = 99\n'
        '[workloads."kianax/*".memory]\nmin_request = "128Mi"\nmax_limit = "2Gi"\n'
        '[workloads."kianax/api".memory]\nmin_request = "256Mi"\nallow_decrease = false\n'
    )
    merged = merge_guardrails(config.workloads, "kianax", "api")
    assert merged is not None
    assert merged.cpu_percentile == 99
    assert merged.memory.min_request == 256 * MIB
    assert merged.memory.max_limit == 2 * 1024 * MIB
    assert merged.memory.allow_decrease is False
    assert merged.sources == ('workloads."kianax/*"', 'workloads."kianax/api"')
    assert merge_guardrails(config.workloads, "other", "api") is None


def _snapshot(cpu: np.ndarray, memory: np.ndarray):
    usage = pd.concat(
        [
            container_series(cpu, memory, pod="web-1"),
            container_series(cpu[::-1].copy(), memory[::-1].copy(), pod="web-2"),
        ]
    )
    return build_snapshot(usage)


def test_exclude_and_reasons_name_the_section() -> None:
    snapshot = _snapshot(np.full(N, 0.05), np.full(N, 90 * MIB))
    rails = _load('[workloads."kianax/*"]\nexclude = true').workloads
    (row,) = recommend_rightsizing(snapshot, default_prices=PRICES, guardrails=rails)
    assert row.status == "excluded"
    assert 'workloads."kianax/*"' in row.reason
    rails = _load('[workloads."kianax/web".cpu]\nmin_request = "300m"').workloads
    (row,) = recommend_rightsizing(snapshot, default_prices=PRICES, guardrails=rails)
    assert row.recommended.cpu_request == 0.3
    assert 'Guardrails [workloads."kianax/web"]: CPU request raised to its minimum 300m.' in (
        row.reason
    )


def test_a_workload_profile_changes_its_strategy_settings_only() -> None:
    snapshot = _snapshot(np.linspace(0.01, 1.0, N), np.full(N, 90 * MIB))
    (base,) = recommend_rightsizing(snapshot, default_prices=PRICES)
    rails = _load('[workloads."kianax/web"]\ncpu_percentile = 50').workloads
    (low,) = recommend_rightsizing(snapshot, default_prices=PRICES, guardrails=rails)
    assert low.recommended.cpu_request < base.recommended.cpu_request
    assert "cpu percentile p50" in low.reason


optional = st.one_of(st.none(), st.floats(0.01, 3.0))
optional_memory = st.one_of(st.none(), st.floats(32.0, 3000.0))


@st.composite
def bounds(draw, scale: float, memory: bool) -> ResourceBounds:
    draws = [
        draw(optional_memory if memory else optional) for _ in range(4)
    ]  # min_request, max_request, min_limit, max_limit
    values = [None if v is None else v * scale for v in draws]
    low_r, high_r, low_l, high_l = values
    # What the config loader accepts: min <= max, min request <= max limit.
    if low_r is not None and high_r is not None and low_r > high_r:
        low_r, high_r = high_r, low_r
    if low_l is not None and high_l is not None and low_l > high_l:
        low_l, high_l = high_l, low_l
    if low_r is not None and high_l is not None and low_r > high_l:
        low_r = high_l
    if low_r is not None and high_r is not None and low_r > high_r:
        low_r = high_r
    return ResourceBounds(
        min_request=low_r,
        max_request=high_r,
        min_limit=low_l,
        max_limit=high_l,
        allow_decrease=draw(st.booleans()) if memory else True,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    strategy=st.sampled_from(available_strategies()),
    cpu=arrays("float64", N, elements=st.floats(0.0, 3.0, allow_nan=False)),
    memory=arrays("float64", N, elements=st.floats(1e6, 3e9, allow_nan=False)),
    cpu_bounds=bounds(1.0, False),
    memory_bounds=bounds(float(MIB), True),
    profile=st.sampled_from([None, "production", "development", "high-availability"]),
)
def test_no_strategy_ever_violates_a_guardrail(
    strategy, cpu, memory, cpu_bounds, memory_bounds, profile
) -> None:
    rails = {
        "kianax/web": WorkloadGuardrails(
            profile=profile, cpu=cpu_bounds, memory=memory_bounds, sources=("t",)
        )
    }
    snapshot = _snapshot(cpu, memory)
    (row,) = recommend_rightsizing(
        snapshot, strategy=strategy, default_prices=PRICES, guardrails=rails
    )
    if row.status == "insufficient_data":
        return
    rec, now = row.recommended, row.current
    for resource, got_request, got_limit, bound in (
        ("cpu", rec.cpu_request, rec.cpu_limit, cpu_bounds),
        ("memory", rec.memory_request, rec.memory_limit, memory_bounds),
    ):
        slack = 1.0 if resource == "memory" else 1e-9  # memory is whole bytes
        assert got_request is not None
        if bound.min_request is not None:
            assert got_request >= bound.min_request - slack
        if bound.max_request is not None:
            assert got_request <= bound.max_request + slack
        if bound.max_limit is not None:
            assert got_limit is not None and got_limit <= bound.max_limit + slack
        if bound.min_limit is not None and got_limit is not None:
            assert got_limit >= bound.min_limit - slack
        if got_limit is not None:
            assert got_request <= got_limit + slack
    if not memory_bounds.allow_decrease:
        # Today's memory stays unless an explicit maximum is below it (the bounds win).
        assert now.memory_request is not None and now.memory_limit is not None
        room_request = memory_bounds.max_request is None or (
            memory_bounds.max_request >= now.memory_request
        )
        room_limit = memory_bounds.max_limit is None or (
            memory_bounds.max_limit >= now.memory_request
        )
        if room_request and room_limit:
            assert rec.memory_request >= now.memory_request
        if memory_bounds.max_limit is None or memory_bounds.max_limit >= now.memory_limit:
            assert rec.memory_limit is not None and rec.memory_limit >= now.memory_limit
    assert "Guardrails [t]" in row.reason
