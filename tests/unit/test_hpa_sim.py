"""The HPA replay against hand-worked sequences, and its invariants."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kianax_capacity.errors import UserInputError
from kianax_capacity.recommenders.hpa_sim import ReplaySettings, simulate_hpa, simulate_hpa_batch


def replay(demand, *, step=300, request=1.0, **kwargs):
    defaults = {
        "min_replicas": 1,
        "max_replicas": 100,
        "target_cpu_utilization": 100.0,
        "scale_down_stabilization_seconds": 0,
    }
    defaults.update(kwargs)
    return simulate_hpa(
        np.asarray(demand, dtype=float),
        cpu_request_cores=request,
        settings=ReplaySettings(**defaults),
        step_seconds=step,
    )


def test_tolerance_band_holds_inside_and_scales_outside():
    # request 1 core at 100 %: need = demand. 10.9/10 = 1.09 stays;
    # 11.5/10 = 1.15 -> ceil 11.5 = 12; 9.2/12 = 0.77 -> ceil 9.2 = 10; 9.5/10 = 0.95 stays.
    assert replay([10, 10.9, 11.5, 9.2, 9.5]).replicas.tolist() == [10, 10, 12, 10, 10]


def test_ratio_is_utilisation_over_target():
    # request 0.5 core, target 50 %: 2 cores = 400 % of one pod's request at 1 pod -> 8 pods.
    result = replay([0.25, 2.0], request=0.5, target_cpu_utilization=50.0)
    assert result.replicas.tolist() == [1, 8]


def test_scale_down_stabilisation_keeps_the_window_max():
    # 60 s steps, 180 s window: the proposal of 8 made at 0 s is still seen at 60, 120 and 180 s,
    # and dropped at 240 s.
    demand = [8, 2, 2, 2, 2, 2]
    held = replay(demand, step=60, scale_down_stabilization_seconds=180)
    assert held.replicas.tolist() == [8, 8, 8, 8, 2, 2]
    immediate = replay(demand, step=60, scale_down_stabilization_seconds=0)
    assert immediate.replicas.tolist() == [8, 2, 2, 2, 2, 2]


def test_stabilisation_does_not_delay_scale_up():
    assert replay([2, 2, 9], step=60, scale_down_stabilization_seconds=600).replicas.tolist() == [
        2,
        2,
        9,
    ]


def test_clamps_to_min_and_max_and_flags_saturation():
    result = replay([1, 4, 9, 5], min_replicas=3, max_replicas=5)
    assert result.replicas.tolist() == [3, 4, 5, 5]
    # Only the step whose need (9) exceeds max (5) is saturated; need 5 at max 5 is served.
    assert result.saturated.tolist() == [False, False, True, False]
    assert result.saturated_minutes == 5.0


def test_scale_up_policy_limits_growth_per_period():
    # One 15 s period per step: from 2, max(2 + 4, 2 x 2) = 6, then max(10, 12) = 12, then 20.
    assert replay([2, 20, 20, 20], step=15).replicas.tolist() == [2, 6, 12, 20]
    # Two periods per 30 s step: 2 -> 6 -> 12 within one step.
    assert replay([2, 20, 20], step=30).replicas.tolist() == [2, 12, 20]
    # The pods policy wins for small counts: from 1, max(1 + 4, 2) = 5.
    assert replay([1, 40], step=15).replicas.tolist() == [1, 5]


def test_memory_metric_takes_the_max_proposal():
    result = simulate_hpa(
        np.array([1.0, 1.0]),
        cpu_request_cores=1.0,
        memory_demand_bytes=np.array([1e9, 6e9]),
        memory_request_bytes=1e9,
        settings=ReplaySettings(
            min_replicas=1,
            max_replicas=10,
            target_cpu_utilization=100,
            target_memory_utilization=100,
            scale_down_stabilization_seconds=0,
        ),
        step_seconds=300,
    )
    assert result.replicas.tolist() == [1, 6]


def test_replica_hours_cost_events_and_low_utilisation():
    # 30-minute steps, needs 2, 2, 4, 4 at 100 %: 12 replica-steps = 6 replica-hours in 2 hours.
    result = simulate_hpa(
        np.array([2.0, 2.0, 4.0, 4.0]) * 0.1,
        cpu_request_cores=0.1,
        settings=ReplaySettings(
            min_replicas=2,
            max_replicas=10,
            target_cpu_utilization=100,
            scale_down_stabilization_seconds=0,
        ),
        step_seconds=1800,
        replica_hourly_usd=0.01,
        utilisation_floor_percent=101,
    )
    assert result.replicas.tolist() == [2, 2, 4, 4]
    assert result.replica_hours == pytest.approx(6.0)
    assert result.window_hours == pytest.approx(2.0)
    # 3 replicas on average -> 3 x 730 h x $0.01.
    assert result.monthly_cost_usd == pytest.approx(21.9)
    assert result.scale_events == 1
    assert result.low_utilisation_minutes == pytest.approx(120.0)


def test_low_utilisation_floor_counts_idle_minutes():
    result = replay([1, 1, 0.2], min_replicas=2, max_replicas=5, target_cpu_utilization=50.0)
    # replicas stay at 2; utilisation 50 %, 50 %, 10 %: one 5-minute step below a 30 % floor.
    assert result.replicas.tolist() == [2, 2, 2]
    low = simulate_hpa(
        np.array([1, 1, 0.2]),
        cpu_request_cores=1.0,
        step_seconds=300,
        settings=ReplaySettings(min_replicas=2, max_replicas=5, target_cpu_utilization=50.0),
        utilisation_floor_percent=30,
    )
    assert low.low_utilisation_minutes == 5.0


def test_batch_equals_single_replays():
    rng = np.random.default_rng(7)
    demand = np.abs(rng.normal(2.0, 1.0, 300))
    grid = [
        ReplaySettings(
            min_replicas=m,
            max_replicas=x,
            target_cpu_utilization=t,
            scale_down_stabilization_seconds=w,
        )
        for m, x, t, w in [(1, 4, 70, 300), (2, 10, 50, 600), (3, 3, 90, 0)]
    ]
    batch = simulate_hpa_batch(demand, cpu_request_cores=0.5, candidates=grid, step_seconds=300)
    for one, settings_ in zip(batch, grid, strict=True):
        alone = simulate_hpa(demand, cpu_request_cores=0.5, settings=settings_, step_seconds=300)
        assert one.replicas.tolist() == alone.replicas.tolist()


def test_rejects_cpu_target_without_request():
    with pytest.raises(UserInputError, match="CPU request"):
        replay([1.0], request=float("nan"))


def test_fifty_candidates_over_4000_steps_is_fast():
    rng = np.random.default_rng(1)
    steps = np.arange(4000)
    demand = 1.0 + 0.8 * np.sin(steps / 288 * 2 * np.pi) + rng.normal(0, 0.1, steps.size)
    grid = [
        ReplaySettings(
            min_replicas=m,
            max_replicas=x,
            target_cpu_utilization=70,
            target_memory_utilization=80,
            scale_down_stabilization_seconds=w,
        )
        for m in (2, 3)
        for x in range(5, 17)
        for w in (300, 600)
    ][:50]
    started = time.perf_counter()
    simulate_hpa_batch(
        np.clip(demand, 0, None),
        cpu_request_cores=0.25,
        candidates=grid,
        step_seconds=300,
        memory_demand_bytes=np.full(steps.size, 4e8),
        memory_request_bytes=2**28,
    )
    assert time.perf_counter() - started < 1.0


@settings(max_examples=150, deadline=None)
@given(
    demand=st.lists(st.floats(0.0, 60.0, allow_nan=False), min_size=1, max_size=60),
    low=st.integers(1, 5),
    high=st.integers(1, 40),
    extra=st.integers(1, 20),
    target=st.sampled_from([40.0, 70.0, 100.0]),
    window=st.sampled_from([0, 300, 900]),
    step=st.sampled_from([15, 60, 300]),
)
def test_raising_max_never_increases_saturated_minutes(
    demand, low, high, extra, target, window, step
):
    high = max(high, low)
    results = simulate_hpa_batch(
        np.array(demand),
        cpu_request_cores=1.0,
        candidates=[
            ReplaySettings(
                min_replicas=low,
                max_replicas=m,
                target_cpu_utilization=target,
                scale_down_stabilization_seconds=window,
            )
            for m in (high, high + extra)
        ],
        step_seconds=step,
    )
    assert results[1].saturated_minutes <= results[0].saturated_minutes


@settings(max_examples=100, deadline=None)
@given(
    demand=st.lists(st.floats(0.0, 30.0, allow_nan=False), min_size=1, max_size=60),
    low=st.integers(1, 5),
    high=st.integers(1, 30),
)
def test_replicas_stay_within_bounds(demand, low, high):
    high = max(high, low)
    result = replay(
        demand, min_replicas=low, max_replicas=high, scale_down_stabilization_seconds=300
    )
    assert result.replicas.min() >= low
    assert result.replicas.max() <= high


@settings(max_examples=150, deadline=None)
@given(
    demand=st.lists(st.floats(0.0, 60.0, allow_nan=False), min_size=1, max_size=60),
    memory=st.floats(0.0, 8.0, allow_nan=False),
    low=st.integers(1, 5),
    high=st.integers(1, 40),
    window=st.sampled_from([0, 60, 300, 900]),
    step=st.sampled_from([15, 60, 300]),
    memory_target=st.sampled_from([None, 80.0]),
)
def test_one_candidate_path_matches_the_vectorised_path(
    demand, memory, low, high, window, step, memory_target
):
    # A batch of one takes the scalar loop; in a batch of two the same settings take the
    # vectorised loop. Both must give the same replicas step for step.
    one = ReplaySettings(
        min_replicas=low,
        max_replicas=max(high, low),
        target_cpu_utilization=70.0,
        target_memory_utilization=memory_target,
        scale_down_stabilization_seconds=window,
    )
    other = ReplaySettings(min_replicas=1, max_replicas=3, target_cpu_utilization=50.0)
    arguments = {
        "cpu_request_cores": 0.5,
        "step_seconds": step,
        "memory_demand_bytes": np.linspace(0, memory, len(demand)) * 1e9,
        "memory_request_bytes": 1e9,
    }
    alone = simulate_hpa_batch(np.array(demand), candidates=[one], **arguments)[0]
    paired = simulate_hpa_batch(np.array(demand), candidates=[one, other], **arguments)[0]
    assert alone.replicas.tolist() == paired.replicas.tolist()
