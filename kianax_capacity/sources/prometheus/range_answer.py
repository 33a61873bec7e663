"""A range answer held compactly until assembly reads it: :class:`RangeAnswer`.

The aggregate shape keeps the HPA series (replicas, and the demand each HPA scales on) for every
day of the window until the tables are built: at 10,000 containers over 14 days that is ~7
million points a query. As (seconds, value) float pairs they took 16 bytes a point, ~490 MB for
the four HPA queries (docs/scaling.md). Almost every series steps regularly over the day, and
replica counts are small integers, so a point usually costs 4 bytes here (a float32 value, its
time implied by the series' first time and step) and at most 12. Decoding gives back exactly the
floats the server's JSON parsed to: every encoding is checked lossless when the answer is made,
and an answer where it would not be keeps the plain arrays.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["RangeAnswer"]

#: Offsets of irregular points from the answer's earliest millisecond fit 32 bits if the answer
#: spans under ~49 days (a chunk is a day).
_UINT32_SPAN = 2**32


class RangeAnswer:
    """The series of one range answer: labels, point counts, and the points, compactly.

    ``metrics[i]`` is series i's labels (interned strings), ``lengths[i]`` its number of points;
    :meth:`seconds`, :meth:`millis` and :meth:`values` give every point of every series in order
    (series 0's points first). ``len()`` is the number of series.
    """

    __slots__ = (
        "_base",
        "_first",
        "_irregular",
        "_offsets",
        "_seconds",
        "_step",
        "_values",
        "lengths",
        "metrics",
    )

    def __init__(
        self,
        metrics: list[dict[str, str]],
        lengths: np.ndarray,
        seconds: np.ndarray,
        values: np.ndarray,
    ) -> None:
        """``seconds`` and ``values``: every point's time and value (float64), series by series."""
        self.metrics = metrics
        self.lengths = np.asarray(lengths, dtype=np.intp)
        seconds = np.asarray(seconds, dtype=float)
        values = np.asarray(values, dtype=float)
        if len(seconds) != len(values) or int(self.lengths.sum()) != len(values):
            raise ValueError("a range answer's times, values and series lengths disagree")
        with np.errstate(over="ignore", invalid="ignore"):  # too big for float32: kept wide
            narrow = values.astype(np.float32)
        lossless = np.array_equal(narrow.astype(float), values, equal_nan=True)
        self._values = narrow if lossless else values
        self._seconds: np.ndarray | None = None
        self._first = self._step = self._offsets = np.zeros(0, dtype=np.int64)
        self._irregular = np.zeros(len(self.lengths), dtype=bool)
        self._base = 0
        millis = np.round(seconds * 1000).astype(np.int64)
        if not np.array_equal(millis / 1000, seconds):  # times finer than a millisecond
            self._seconds = seconds
            return
        self._encode_times(millis)

    @classmethod
    def from_json(cls, result: Sequence[dict[str, Any]]) -> RangeAnswer:
        """A Prometheus range ``result`` (``metric`` and ``values`` per series)."""
        return cls.from_series(
            (
                {name: sys.intern(value) for name, value in series.get("metric", {}).items()},
                np.asarray(series.get("values", []), dtype=float),
            )
            for series in result
        )

    @classmethod
    def from_series(cls, series: Iterable[tuple[dict[str, str], np.ndarray]]) -> RangeAnswer:
        """(labels, (seconds, value) rows) per series."""
        metrics: list[dict[str, str]] = []
        arrays: list[np.ndarray] = []
        for metric, points in series:
            metrics.append(metric)
            arrays.append(np.asarray(points, dtype=float).reshape(-1, 2))
        lengths = np.fromiter((len(a) for a in arrays), dtype=np.intp, count=len(arrays))
        points = np.concatenate(arrays) if arrays else np.zeros((0, 2))
        return cls(metrics, lengths, points[:, 0], points[:, 1])

    def __len__(self) -> int:
        return len(self.metrics)

    def keys(self, labels: Sequence[str]) -> list[tuple[str, ...]]:
        """The ``labels`` values (absent: "") of each series that has points, in order."""
        return [
            tuple([metric.get(label, "") for label in labels])
            for metric, length in zip(self.metrics, self.lengths.tolist(), strict=True)
            if length
        ]

    def values(self) -> np.ndarray:
        """Every point's value (float64)."""
        return self._values.astype(float)

    def millis(self) -> np.ndarray:
        """Every point's time as int64 milliseconds (:func:`~.fold.whole_millis` of seconds)."""
        if self._seconds is not None:
            return np.round(self._seconds * 1000).astype(np.int64)
        series, position = self._positions()
        out = self._first[series] + self._step[series] * position
        irregular = self._irregular[series]
        out[irregular] = self._base + self._offsets.astype(np.int64)
        return out

    def seconds(self) -> np.ndarray:
        """Every point's time in float seconds, as the server's JSON gave it."""
        if self._seconds is not None:
            return self._seconds.copy()
        return self.millis() / 1000

    def _positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Each point's series number and its position within that series."""
        series = np.repeat(np.arange(len(self.lengths)), self.lengths)
        starts = np.cumsum(self.lengths) - self.lengths
        return series, np.arange(len(series)) - starts[series]

    def _encode_times(self, millis: np.ndarray) -> None:
        """A series whose points step evenly keeps its first time and step only; the other
        series' points keep their offsets from the answer's earliest time."""
        lengths = self.lengths
        starts = np.cumsum(lengths) - lengths
        present = lengths > 0
        first = np.zeros(len(lengths), dtype=np.int64)
        first[present] = millis[starts[present]]
        step = np.zeros(len(lengths), dtype=np.int64)
        several = lengths > 1
        step[several] = millis[starts[several] + 1] - millis[starts[several]]
        self._first, self._step = first, step
        series, position = self._positions()
        off_grid = millis != first[series] + step[series] * position
        self._irregular = np.bincount(series[off_grid], minlength=len(lengths)) > 0
        kept = millis[self._irregular[series]]
        if not len(kept):
            return
        self._base = int(kept.min())
        span = int(kept.max()) - self._base
        offsets = kept - self._base
        self._offsets = offsets.astype(np.uint32) if span < _UINT32_SPAN else offsets

    def nbytes(self) -> int:
        """Bytes held by the point arrays (not the labels)."""
        arrays = (self._values, self._first, self._step, self._offsets, self._irregular)
        held = sum(a.nbytes for a in arrays) + self.lengths.nbytes
        return held + (self._seconds.nbytes if self._seconds is not None else 0)
