"""RangeAnswer gives back exactly the floats a range answer's JSON parsed to, however it packs
them (regular steps, gaps, sub-millisecond times, values float32 cannot hold)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kianax_capacity.sources.prometheus.range_answer import RangeAnswer

DAY = 1_762_646_400  # 2025-11-09T00:00:00Z


def _json(series: list[tuple[dict[str, str], list[tuple[float, str]]]]) -> list[dict]:
    # Through real JSON text, as the client parses an answer.
    text = json.dumps(
        [{"metric": metric, "values": [[t, v] for t, v in points]} for metric, points in series]
    )
    return json.loads(text)


def _expected(result: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    points = [np.asarray(s["values"], dtype=float).reshape(-1, 2) for s in result]
    both = np.concatenate(points) if points else np.zeros((0, 2))
    return both[:, 0], both[:, 1]


CASES = {
    "regular integer replicas": [
        ({"hpa": "a"}, [(DAY + 300 * i, str(3 + i % 2)) for i in range(288)]),
        ({"hpa": "b"}, [(DAY + 300 * i, "12") for i in range(288)]),
    ],
    "a gap, a lone point, an empty series and fractional cores": [
        ({"hpa": "a"}, [(DAY + 300 * i, f"{0.1 * i:.17g}") for i in range(10) if i != 4]),
        ({"hpa": "b"}, [(DAY + 600, "0.3333333333333333")]),
        ({"hpa": "c"}, []),
        ({"hpa": "d"}, [(DAY + 300 * i, "NaN" if i == 2 else "1e300") for i in range(5)]),
    ],
    "times finer than a millisecond": [
        ({"hpa": "a"}, [(DAY + 0.0001 + 300 * i, "1") for i in range(5)]),
    ],
    "millisecond times off the step": [
        ({"hpa": "a"}, [(DAY + 0.125, "1"), (DAY + 300.5, "2"), (DAY + 601.25, "-0")]),
    ],
    "no series": [],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_decoded_points_are_the_parsed_json_floats(case: str) -> None:
    result = _json(CASES[case])
    answer = RangeAnswer.from_json(result)
    seconds, values = _expected(result)
    assert len(answer) == len(result)
    assert answer.lengths.tolist() == [len(s["values"]) for s in result]
    assert [m for m in answer.metrics] == [s["metric"] for s in result]
    np.testing.assert_array_equal(answer.seconds(), seconds)
    np.testing.assert_array_equal(answer.values(), values)
    assert np.array_equal(np.signbit(answer.values()), np.signbit(values))
    np.testing.assert_array_equal(answer.millis(), np.round(seconds * 1000).astype(np.int64))


def test_a_regular_integer_answer_costs_four_bytes_a_point() -> None:
    answer = RangeAnswer.from_json(_json(CASES["regular integer replicas"]))
    points = int(answer.lengths.sum())
    # float32 values and no per-point times (as (seconds, value) float pairs: 16 bytes a point)
    assert answer.nbytes() < 4 * points + 200


def test_lengths_that_disagree_with_the_points_are_refused() -> None:
    with pytest.raises(ValueError, match="disagree"):
        RangeAnswer([{}], np.array([3]), np.zeros(2), np.zeros(2))
