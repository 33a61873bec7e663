"""The compiled bisection of ``pooled_quantile`` against the numpy one it replaced.

The reference is ``pooling.pooled_quantile`` as it was at commit 0cecf1b (array expressions
over every pod row per round): the pooled quantiles must be the same doubles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from kianax_capacity.recommenders.strategies.pooling import pooled_quantile


def _numpy_reference(groups, knots, weights, level, iterations=40):
    levels = np.array([0.0, *(k for k, _ in knots)])
    values = np.column_stack([np.zeros(len(groups)), *(np.asarray(v, float) for _, v in knots)])
    values = np.fmax.accumulate(np.nan_to_num(values, nan=0.0), axis=1)
    weights = np.nan_to_num(np.asarray(weights, dtype=float), nan=0.0)
    codes, group_index = pd.factorize(groups, sort=True)
    totals = np.bincount(codes, weights=weights, minlength=len(group_index))
    low = np.zeros(len(group_index))
    high = np.zeros(len(group_index))
    np.maximum.at(high, codes, values[:, -1])
    for _ in range(iterations):
        middle = (low + high) / 2.0
        x = middle[codes]
        cdf = np.ones(len(codes))
        for k in range(len(levels) - 1, 0, -1):
            lo, hi = values[:, k - 1], values[:, k]
            span = np.where(hi > lo, hi - lo, 1.0)
            inside = x < hi
            share = np.clip((x - lo) / span, 0.0, 1.0)
            cdf = np.where(inside, levels[k - 1] + (levels[k] - levels[k - 1]) * share, cdf)
        mass = np.bincount(codes, weights=weights * cdf, minlength=len(group_index))
        reached = mass >= level * totals
        high = np.where(reached, middle, high)
        low = np.where(reached, low, middle)
    return pd.Series(high, index=group_index)


_LEVELS = (0.5, 0.9, 0.95, 0.99, 1.0)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 6),  # group
            st.lists(  # per knot: a value, NaN now and then; monotone after fmax.accumulate
                st.one_of(st.floats(0, 50), st.just(float("nan"))), min_size=5, max_size=5
            ),
            st.one_of(st.floats(0, 4000), st.just(float("nan"))),  # samples
        ),
        min_size=1,
        max_size=60,
    ),
    level=st.sampled_from([0.5, 0.9, 0.95, 0.99]),
)
def test_compiled_bisection_matches_the_numpy_one(rows, level):
    groups = np.array([r[0] for r in rows])
    matrix = np.array([r[1] for r in rows], dtype=float)
    knots = [(lv, matrix[:, i]) for i, lv in enumerate(_LEVELS)]
    weights = np.array([r[2] for r in rows])
    got = pooled_quantile(groups, knots, weights, level)
    with np.errstate(over="ignore", invalid="ignore"):  # a denormal span overflows to inf, clipped
        expected = _numpy_reference(groups, knots, weights, level)
    pd.testing.assert_series_equal(got, expected, check_exact=True)
