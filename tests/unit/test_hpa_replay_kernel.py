"""The compiled HPA step loop (``hpa_sim._replay_steps``) against the numpy loop it replaced.

The reference below is the vectorised-over-candidates recurrence that ``simulate_hpa_batch``
ran until the loop was compiled (commit 0cecf1b, ``hpa_sim._recurrence``), kept here verbatim
in behaviour as the oracle: every candidate, every step, the same replica count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from kianax_capacity.recommenders import hpa_sim
from kianax_capacity.recommenders.hpa_sim import ReplaySettings

_EPS = 1e-9


def _numpy_reference(
    needs: list[npt.NDArray[np.float64]],
    ceil_needs: list[npt.NDArray[np.float64]],
    candidates: Sequence[ReplaySettings],
    step_seconds: float,
) -> npt.NDArray[np.int64]:
    steps, count = needs[0].shape
    low = np.array([c.min_replicas for c in candidates], dtype=float)
    high = np.array([c.max_replicas for c in candidates], dtype=float)
    tolerance = np.array([c.tolerance for c in candidates])
    up_pods = np.array([c.scale_up_pods for c in candidates], dtype=float)
    up_factor = np.array([1.0 + c.scale_up_percent / 100.0 for c in candidates])
    periods_each = np.array(
        [min(64, max(1, int(step_seconds // c.scale_up_period_seconds))) for c in candidates]
    )
    window_steps = np.array(
        [int(c.scale_down_stabilization_seconds // step_seconds) + 1 for c in candidates]
    )
    depth = int(window_steps.max())
    history = np.full((depth, count), -np.inf)
    rows = np.arange(depth)
    visible = [((slot - rows) % depth)[:, None] < window_steps[None, :] for slot in range(depth)]
    replicas = np.empty((steps, count), dtype=np.int64)
    first = ceil_needs[0][0]
    for ceil_need in ceil_needs[1:]:
        first = np.maximum(first, ceil_need[0])
    current = np.minimum(np.maximum(first, low), high)
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(steps):
            raw = np.full(count, -np.inf)
            for need, ceil_need in zip(needs, ceil_needs, strict=True):
                within = np.abs(need[t] / current - 1.0) <= tolerance
                raw = np.maximum(raw, np.where(within, current, ceil_need[t]))
            raw = np.where(np.isfinite(raw), raw, current)
            slot = t % depth
            history[slot] = raw
            stabilised = np.where(visible[slot], history, -np.inf).max(axis=0)
            target = np.where(raw > current, raw, np.minimum(current, stabilised))
            limit = current
            for period in range(int(periods_each.max())):
                grown = np.maximum(limit + up_pods, np.ceil(limit * up_factor - _EPS))
                limit = np.where(period < periods_each, grown, limit)
            target = np.minimum(target, limit)
            current = np.minimum(np.maximum(target, low), high)
            replicas[t] = current
    return replicas


def _needs(demand, request, targets):
    # As simulate_hpa_batch builds them: replicas needed at each candidate's target, -inf where
    # the candidate has no target on this metric.
    need = demand[:, None] / (request * np.asarray(targets, dtype=float)[None, :] / 100.0)
    need = np.where(np.isnan(need), -np.inf, need)
    return need, np.ceil(need - _EPS)


_candidate = st.builds(
    lambda low, span, targets, window, tolerance, pods, percent, period: ReplaySettings(
        min_replicas=low,
        max_replicas=low + span,
        target_cpu_utilization=targets[0],
        target_memory_utilization=targets[1],
        scale_down_stabilization_seconds=window,
        tolerance=tolerance,
        scale_up_pods=pods,
        scale_up_percent=percent,
        scale_up_period_seconds=period,
    ),
    st.integers(1, 5),
    st.integers(0, 40),
    st.tuples(
        st.one_of(st.none(), st.floats(20, 120)), st.one_of(st.none(), st.floats(20, 120))
    ).filter(lambda targets: targets != (None, None)),
    st.sampled_from([0, 60, 300, 600, 900, 1800]),
    st.sampled_from([0.0, 0.05, 0.1, 0.3]),
    st.integers(0, 6),
    st.floats(0, 300),
    st.sampled_from([15.0, 60.0, 300.0, 900.0]),
)


@settings(max_examples=150, deadline=None)
@given(
    cpu=st.lists(st.floats(0, 60), min_size=1, max_size=80),
    memory_scale=st.floats(0.1, 10),
    candidates=st.lists(_candidate, min_size=1, max_size=6),
    step=st.sampled_from([60, 300]),
)
def test_compiled_loop_matches_the_numpy_loop(cpu, memory_scale, candidates, step):
    demand = np.array(cpu)
    memory = demand[::-1] * memory_scale  # a second metric that moves differently
    needs, ceils = [], []
    for series, targets in (
        (demand, [c.target_cpu_utilization or np.nan for c in candidates]),
        (memory, [c.target_memory_utilization or np.nan for c in candidates]),
    ):
        need, ceil = _needs(series, 0.5, targets)
        needs.append(need)
        ceils.append(ceil)
    expected = _numpy_reference(needs, ceils, candidates, step)
    got = hpa_sim._recurrence(needs, ceils, candidates, step)
    np.testing.assert_array_equal(got, expected)
